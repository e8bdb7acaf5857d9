/*
 * render.c - the derived facts of every block, as text for a person or as a JSON array (one
 * object per vCPU block; unknown facts are null, numbers are hex strings).
 */
#include <string.h>

#include "exit/json.h"
#include "exit/names.h"
#include "triage/triage.h"

static void jhex(FILE *o, int have, uint64_t v)
{
	if (have)
		fprintf(o, "\"0x%llx\"", (unsigned long long)v);
	else
		fputs("null", o);
}

static void jint(FILE *o, int v)
{
	if (v < 0)
		fputs("null", o);
	else
		fprintf(o, "%d", v);
}

static void jbool(FILE *o, int v)
{
	fputs(v < 0 ? "null" : v ? "true" : "false", o);
}

static void jkey(FILE *o, const char *k)
{
	fprintf(o, ",\n    \"%s\": ", k);
}

static void jlist(FILE *o, char (*items)[200], int n)
{
	fputc('[', o);
	for (int i = 0; i < n; i++) {
		if (i)
			fputs(", ", o);
		xg_json_str(o, items[i]);
	}
	fputc(']', o);
}

static void block_json(const struct xg_triage *t, int i, FILE *o)
{
	const struct xg_tri_block *b = &t->b[i];
	struct xg_tri_facts f;
	int svm, vmx;

	xg_triage_derive(t, i, &f);
	svm = f.hw_kind && !strcmp(f.hw_kind, "svm");
	vmx = f.hw_kind && !strcmp(f.hw_kind, "vmx");
	fprintf(o, "  {\n    \"block\": %d", i + 1);
	jkey(o, "lines");
	fprintf(o, "[%d, %d]", b->first_line, b->last_line);
	jkey(o, "message");
	xg_json_str(o, b->message);
	jkey(o, "vmm");
	xg_json_str(o, b->vmm);
	jkey(o, "arch");
	xg_json_str(o, f.arch);
	jkey(o, "vendor");
	xg_json_str(o, f.vendor);
	jkey(o, "vendor_evidence");
	xg_json_str(o, f.vendor_why);
	jkey(o, "exit");
	xg_json_str(o, f.exit);
	jkey(o, "suberror");
	if (b->suberror >= 0) {
		fprintf(o, "{\"number\": %d, \"name\": ", b->suberror);
		xg_json_str(o, f.suberror_name);
		fputc('}', o);
	} else {
		fputs("null", o);
	}
	jkey(o, "ndata");
	/* QEMU prints every data word KVM gave; other VMMs print none, so theirs is unknown */
	jint(o, b->exit == XG_TX_INTERNAL && (b->ndata || (b->vmm && !strncmp(b->vmm, "qemu", 4)))
		    ? b->ndata
		    : -1);
	jkey(o, "data");
	fputc('[', o);
	for (int k = 0; k < b->ndata; k++)
		fprintf(o, "%s\"0x%llx\"", k ? ", " : "", (unsigned long long)b->data[k]);
	fputc(']', o);
	jkey(o, "hw_exit_reason");
	if (f.have_hw_exit) {
		fprintf(o, "{\"number\": \"0x%llx\", \"name\": ", (unsigned long long)f.hw_exit);
		xg_json_str(o, f.hw_exit_name);
		fputs(", \"kind\": ", o);
		xg_json_str(o, f.hw_kind);
		fputc('}', o);
	} else {
		fputs("null", o);
	}
	jkey(o, vmx || !svm ? "exit_qualification" : "exitinfo1");
	if (f.have_qual) {
		fprintf(o, "{\"value\": \"0x%llx\", \"bits\": ", (unsigned long long)f.qual);
		xg_json_str(o, f.qual_text[0] ? f.qual_text : NULL);
		fputc('}', o);
	} else {
		fputs("null", o);
	}
	if (svm) {
		jkey(o, "exitinfo2");
		jhex(o, f.have_info2, f.info2);
	}
	jkey(o, "idt_vectoring_info");
	if (f.have_vect) {
		fprintf(o, "{\"value\": \"0x%llx\", \"decoded\": ", (unsigned long long)f.vect);
		xg_json_str(o, f.vect_text);
		fputc('}', o);
	} else {
		fputs("null", o);
	}
	jkey(o, "intr_info");
	if (f.have_intr) {
		fprintf(o, "{\"value\": \"0x%llx\", \"decoded\": ", (unsigned long long)f.intr);
		xg_json_str(o, f.intr_text[0] ? f.intr_text : NULL);
		fputc('}', o);
	} else {
		fputs("null", o);
	}
	jkey(o, "hw_error");
	jhex(o, b->have_hw_error, b->hw_error);
	jkey(o, "exit_number");
	jhex(o, b->exit == XG_TX_EXIT_REASON || b->exit_number, b->exit_number);
	jkey(o, "errno");
	xg_json_str(o, b->err[0] ? b->err : NULL);
	jkey(o, "vcpu");
	jint(o, b->vcpu);
	jkey(o, "host_cpu");
	jint(o, b->have_cpu ? b->cpu : -1);
	jkey(o, "gpa");
	jhex(o, f.have_gpa, f.gpa);
	jkey(o, "gpa_source");
	xg_json_str(o, f.gpa_source);
	jkey(o, "gpa_region");
	xg_json_str(o, f.gpa_region);
	jkey(o, "cpu_mode");
	xg_json_str(o, f.cpu_mode);
	jkey(o, "cpu_mode_text");
	xg_json_str(o, f.cpu_mode_text[0] ? f.cpu_mode_text : NULL);
	jkey(o, "code_bits");
	jint(o, f.code_bits ? f.code_bits : -1);
	jkey(o, "paging");
	jbool(o, f.paging);
	jkey(o, "smm");
	jbool(o, f.smm);
	jkey(o, "rip");
	jhex(o, f.have_rip, f.rip);
	jkey(o, "linear_rip");
	jhex(o, f.have_linear, f.linear);
	jkey(o, "cpl");
	jint(o, f.cpl);
	jkey(o, "instruction");
	if (f.insn_bytes[0]) {
		fputs("{\"bytes\": ", o);
		xg_json_str(o, f.insn_bytes);
		fputs(", \"text\": ", o);
		xg_json_str(o, f.insn_text[0] ? f.insn_text : NULL);
		fprintf(o, ", \"length\": %d, \"bits\": %d, \"source\": ", f.insn_len, f.code_bits);
		xg_json_str(o, f.insn_source);
		fputc('}', o);
	} else {
		fputs("null", o);
	}
	jkey(o, "code_context");
	if (b->ncode) {
		fputs("{\"before\": [", o);
		for (int k = 0; k < f.nbefore; k++) {
			if (k)
				fputs(", ", o);
			xg_json_str(o, f.ctx_before[k]);
		}
		fputs("], \"after\": [", o);
		for (int k = 0; k < f.nafter; k++) {
			if (k)
				fputs(", ", o);
			xg_json_str(o, f.ctx_after[k]);
		}
		fputs("], \"looks_like\": ", o);
		xg_json_str(o, f.code_looks[0] ? f.code_looks : NULL);
		fprintf(o, ", \"bytes\": %d, \"marker\": ", b->ncode);
		jint(o, b->marker);
		fputc('}', o);
	} else {
		fputs("null", o);
	}
	jkey(o, "emulator");
	xg_json_str(o, f.emu[0] ? f.emu : NULL);
	if (b->nitems) {
		jkey(o, b->exit == XG_TX_MSR ? "msrs" : "exits");
		fputc('[', o);
		for (int k = 0; k < b->nitems; k++) {
			if (k)
				fputs(", ", o);
			if (b->exit == XG_TX_MSR) {
				fprintf(o, "{\"msr\": \"0x%llx\", \"name\": ",
					(unsigned long long)b->items[k].a);
				xg_json_str(o, xg_names_msr((uint32_t)b->items[k].a));
				fprintf(o, ", \"access\": \"%s\"}",
					b->items[k].write ? "write" : "read");
			} else {
				fputs("{\"reason\": ", o);
				xg_json_str(o, b->items[k].name);
				fprintf(o, ", \"rip\": \"0x%llx\"}",
					(unsigned long long)b->items[k].rip);
			}
		}
		fputc(']', o);
	}
	jkey(o, "anomalies");
	jlist(o, f.anomalies, f.nanomalies);
	jkey(o, "notes");
	jlist(o, f.notes, f.nnotes);
	jkey(o, "verdict");
	xg_json_str(o, f.verdict);
	jkey(o, "default_policy");
	xg_json_str(o, f.policy[0] ? f.policy : NULL);
	fputs("\n  }", o);
}

void xg_triage_print_json(const struct xg_triage *t, FILE *o)
{
	fputs("[\n", o);
	for (int i = 0; i < t->nblocks; i++) {
		if (i)
			fputs(",\n", o);
		block_json(t, i, o);
	}
	fputs("\n]\n", o);
}

static void line(FILE *o, const char *k, const char *v)
{
	if (v && v[0])
		fprintf(o, "  %-20s %s\n", k, v);
}

void xg_triage_print_text(const struct xg_triage *t, const char *name, FILE *o)
{
	char buf[768];

	for (int i = 0; i < t->nblocks; i++) {
		const struct xg_tri_block *b = &t->b[i];
		struct xg_tri_facts f;

		xg_triage_derive(t, i, &f);
		if (b->vmm && !strcmp(b->vmm, "exitgate")) /* one of exitgate's dumps: no lines */
			fprintf(o, "%s%s: %s%s%s\n", i ? "\n" : "", name,
				f.exit ? f.exit : "no exit", f.suberror_name ? " / " : "",
				f.suberror_name ? f.suberror_name : "");
		else
			fprintf(o, "%s%s, lines %d-%d: %s%s%s\n", i ? "\n" : "", name,
				b->first_line, b->last_line, f.exit ? f.exit : "register dump",
				f.suberror_name ? " / " : "",
				f.suberror_name ? f.suberror_name : "");
		fprintf(o, "  %-20s %s\n", "verdict", f.verdict);
		if (f.policy[0])
			fprintf(o, "  %-20s %s\n", "exitgate default", f.policy);
		line(o, "vmm", b->vmm);
		if (f.arch) {
			snprintf(buf, sizeof(buf), "%s%s%s%s%s", f.arch, f.vendor ? ", " : "",
				 f.vendor ? f.vendor : "", f.vendor_why ? " — " : "",
				 f.vendor_why ? f.vendor_why : "");
			line(o, "arch", buf);
		}
		if (b->exit == XG_TX_INTERNAL &&
		    (b->ndata || (b->vmm && !strncmp(b->vmm, "qemu", 4)))) {
			snprintf(buf, sizeof(buf), "%d", b->ndata);
			for (int k = 0; k < b->ndata; k++)
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s0x%llx",
					 k ? " " : ": ", (unsigned long long)b->data[k]);
			line(o, "extra data", buf);
		}
		if (f.have_hw_exit) {
			snprintf(buf, sizeof(buf), "0x%llx %s%s%s%s", (unsigned long long)f.hw_exit,
				 f.hw_exit_name ? f.hw_exit_name : "(no name known)",
				 f.hw_kind ? " (" : "", f.hw_kind ? f.hw_kind : "",
				 f.hw_kind ? ")" : "");
			line(o, "hardware exit", buf);
		}
		if (f.have_qual) {
			snprintf(buf, sizeof(buf), "0x%llx%s%s", (unsigned long long)f.qual,
				 f.qual_text[0] ? ": " : "", f.qual_text);
			line(o,
			     f.hw_kind && !strcmp(f.hw_kind, "svm") ? "exitinfo1" : "qualification",
			     buf);
		}
		if (f.have_vect) {
			snprintf(buf, sizeof(buf), "0x%llx: %s", (unsigned long long)f.vect,
				 f.vect_text);
			line(o, "idt vectoring", buf);
		}
		if (f.have_intr && f.intr_text[0]) {
			snprintf(buf, sizeof(buf), "0x%llx: %s", (unsigned long long)f.intr,
				 f.intr_text);
			line(o, "interruption info", buf);
		}
		if (f.have_gpa) {
			snprintf(buf, sizeof(buf), "0x%llx, %s (from %s)",
				 (unsigned long long)f.gpa, f.gpa_region ? f.gpa_region : "?",
				 f.gpa_source ? f.gpa_source : "?");
			line(o, "guest physical", buf);
		}
		line(o, "cpu mode", f.cpu_mode_text);
		if (f.have_rip) {
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)f.rip);
			if (f.have_linear && f.linear != f.rip)
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
					 " (linear 0x%llx)", (unsigned long long)f.linear);
			if (f.cpl >= 0)
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ", CPL %d",
					 f.cpl);
			line(o, b->arch == 1 ? "pc" : "rip", buf);
		}
		if (f.insn_bytes[0]) {
			snprintf(buf, sizeof(buf), "%s    %s", f.insn_bytes, f.insn_text);
			line(o, "instruction", buf);
		}
		for (int k = 0; k < f.nbefore; k++)
			line(o, k ? "" : "before it", f.ctx_before[k]);
		for (int k = 0; k < f.nafter; k++)
			line(o, k ? "" : "after it", f.ctx_after[k]);
		if (f.code_looks[0] && strcmp(f.code_looks, "code"))
			line(o, "the bytes", f.code_looks);
		line(o, "emulator", f.emu);
		for (int k = 0; k < b->nitems; k++) {
			if (b->exit == XG_TX_MSR) {
				const char *n = xg_names_msr((uint32_t)b->items[k].a);
				snprintf(buf, sizeof(buf), "%s 0x%llx%s%s",
					 b->items[k].write ? "wrmsr" : "rdmsr",
					 (unsigned long long)b->items[k].a, n ? " " : "",
					 n ? n : "");
			} else {
				snprintf(buf, sizeof(buf), "%s at 0x%llx", b->items[k].name,
					 (unsigned long long)b->items[k].rip);
			}
			line(o, k ? "" : b->exit == XG_TX_MSR ? "msrs" : "exits", buf);
		}
		for (int k = 0; k < f.nanomalies; k++)
			line(o, k ? "" : "ANOMALY", f.anomalies[k]);
		for (int k = 0; k < f.nnotes; k++)
			line(o, k ? "" : "note", f.notes[k]);
	}
	if (t->truncated)
		fprintf(o, "\n(more than %d blocks: the rest of the input was not read)\n",
			XG_TRIAGE_MAX_BLOCKS);
}
