/*
 * dump.c - the triage dump (see dump.h). The dump is gathered and printed into memory
 * first, then published with write-temp/fsync/rename: a failure while gathering can never
 * leave half a file, and a reader of the directory sees either no dump or a whole one.
 *
 * The JSON is RFC 8259. Strings come from guests and policies and may hold any bytes, so
 * '"', '\\' and control characters are escaped (RFC 8259 section 7) and a byte that does not
 * start a well-formed UTF-8 sequence (Unicode Standard, Table 3-7; RFC 3629 section 4) becomes
 * U+FFFD: the file must parse in strict readers, which reject invalid UTF-8 (section 8.1).
 * Every 64-bit value is a "0x..." string, because most readers hold a JSON number in a
 * double (section 6) and would lose the bits above 2^53.
 *
 * Guest memory is read from RAM only (read_gpa), never from a device: a device read can
 * have side effects (a FIFO pops, a status bit clears) that would change what we dump.
 */
#define _GNU_SOURCE /* renameat2 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "action/emulate_arm64.h"
#include "action/x86_walk.h"
#include "disasm/disasm.h"
#include "dump/dump.h"
#include "exit/json.h"
#include "xg_emu_arm64.h"

#define CODE_BEFORE    32 /* bytes shown before RIP, as hex only: decoding backwards is guesswork */
#define CODE_AFTER     64 /* bytes read from RIP on */
#define CODE_INSNS     8  /* instructions disassembled from RIP */
#define STACK_BYTES    128 /* bytes shown from RSP up */
#define PAGE_SIZE_4K   4096ull
#define GUEST_NAME_MAX                                                                             \
	128 /* keeps "<guest>-<run>-vcpu<N>-<seq>.json" and its temp under NAME_MAX */
#define RUN_ID_MAX 48

/* ---- JSON writing ---------------------------------------------------------------------- */

/* Members go one per line up to the depth where an object is opened `inline` (segment
 * registers), which stays on one line: the file is read by people as much as by tools. */
#define JSON_DEPTH 8

struct json {
	FILE *f;
	int depth;
	unsigned char first[JSON_DEPTH];   /* no comma before the next member at this depth */
	unsigned char inline_[JSON_DEPTH]; /* the object at this depth stays on one line */
};

static void put_u64(FILE *f, uint64_t v)
{
	fprintf(f, "\"0x%" PRIx64 "\"", v);
}

static void put_hex(FILE *f, const uint8_t *b, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
	fputc('"', f);
}

static void j_key(struct json *j, const char *k)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	if (j->inline_[j->depth])
		fputs(j->first[j->depth] ? "" : " ", j->f);
	else
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	j->first[j->depth] = 0;
	xg_json_str(j->f, k);
	fputs(": ", j->f);
}

/* Open an object, as the value of key k (or at the top when k is NULL). */
static void j_open(struct json *j, const char *k, int on_one_line)
{
	if (k)
		j_key(j, k);
	fputc('{', j->f);
	j->depth++;
	j->first[j->depth] = 1;
	j->inline_[j->depth] = (unsigned char)(on_one_line || j->inline_[j->depth - 1]);
}

static void j_close(struct json *j)
{
	int was_inline = j->inline_[j->depth];

	j->depth--;
	if (!was_inline)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	fputc('}', j->f);
}

static void j_str(struct json *j, const char *k, const char *v)
{
	j_key(j, k);
	xg_json_str(j->f, v);
}

static void j_u64(struct json *j, const char *k, uint64_t v)
{
	j_key(j, k);
	put_u64(j->f, v);
}

static void j_int(struct json *j, const char *k, long long v)
{
	j_key(j, k);
	fprintf(j->f, "%lld", v);
}

static void j_hex(struct json *j, const char *k, const uint8_t *b, size_t n)
{
	j_key(j, k);
	put_hex(j->f, b, n);
}

static void j_null(struct json *j, const char *k)
{
	j_key(j, k);
	fputs("null", j->f);
}

/* A member that is the single {"error": why} object of a section that could not be read. */
static void j_error_obj(struct json *j, const char *k, const char *why)
{
	j_open(j, k, 1);
	j_str(j, "error", why);
	j_close(j);
}

static const char *errno_text(int rc)
{
	return strerror(rc < 0 ? -rc : rc ? rc : EIO);
}

/* ---- what the VMM lets us see --------------------------------------------------------- */

struct view {
	const struct xg_dump_req *r;
	enum xg_arch arch;
	int have_x86; /* x86 holds the VMM's full scalar state (get_x86_regs) */
	struct xg_emu_x86_regs x86;
	char x86_err[128]; /* why get_x86_regs failed, "" when it did not */
	int have_a64;	   /* a64 holds the VMM's arm64 state (get_arm64_regs) */
	struct xg_emu_arm64_regs a64;
	char a64_err[128]; /* why get_arm64_regs failed, "" when it did not */
	int have_pc, have_sp;
	uint64_t pc, sp;       /* RIP/RSP (PC/SP) as the guest sees them */
	uint64_t pc_la, sp_la; /* their linear addresses */
	unsigned mode;	       /* x86 code size 16/32/64 when known from the segments, else 0 */
	char pc_err[128], sp_err[128];
};

#define CR0_PE	  1ull
#define RFLAGS_VM (1ull << 17)

/* Code size and linear addresses from the segment state. In 64-bit mode the CS, DS, ES and
 * SS bases are treated as 0 (SDM Vol. 3A 3.4.4); IA-32e mode is EFER.LMA with CS.L, and
 * otherwise CS.D picks 32- or 16-bit code (SDM Vol. 3A 3.4.5, 5.2.1); real and virtual-8086
 * mode run 16-bit code. Outside 64-bit mode linear addresses are 32 bits wide, and SS.B says
 * whether the stack pointer is ESP or SP (SDM Vol. 3A 3.4.5). */
static void x86_addresses(struct view *v)
{
	const struct xg_emu_x86_regs *x = &v->x86;
	const struct xg_emu_x86_segment *cs = &x->seg[XG_EMU_X86_CS], *ss = &x->seg[XG_EMU_X86_SS];

	v->mode = (int)xg_emu_x86_code_bits(x);
	v->pc = x->rip;
	v->sp = x->gpr[XG_EMU_X86_RSP];
	if (v->mode == 64) {
		v->pc_la = v->pc;
		v->sp_la = v->sp;
	} else {
		uint64_t ip = v->mode == 32 ? (uint32_t)v->pc : (uint16_t)v->pc;
		uint64_t sp = ss->db ? (uint32_t)v->sp : (uint16_t)v->sp;
		v->pc_la = (uint32_t)(cs->base + ip);
		v->sp_la = (uint32_t)(ss->base + sp);
	}
	v->have_pc = v->have_sp = 1;
}

static void gather(struct view *v, const struct xg_dump_req *r)
{
	const struct xg_vcpu_ops *ops = r->ops;
	int arm = 0, rc;

	memset(v, 0, sizeof(*v));
	v->r = r;
	v->arch = r->x ? r->x->arch : xg_arch_host();
	arm = v->arch == XG_ARCH_ARM64;
	snprintf(v->pc_err, sizeof(v->pc_err), "the VMM gives no register access");
	snprintf(v->sp_err, sizeof(v->sp_err), "the VMM gives no register access");
	if (!ops)
		return;
	if (v->arch == XG_ARCH_X86_64 && ops->get_x86_regs) {
		rc = ops->get_x86_regs(r->opaque, &v->x86);
		if (rc == 0) {
			v->have_x86 = 1;
			x86_addresses(v);
			return;
		}
		snprintf(v->x86_err, sizeof(v->x86_err), "get_x86_regs failed: %s", errno_text(rc));
		snprintf(v->pc_err, sizeof(v->pc_err), "%s", v->x86_err);
		snprintf(v->sp_err, sizeof(v->sp_err), "%s", v->x86_err);
	}
	if (arm && ops->get_arm64_regs) {
		rc = ops->get_arm64_regs(r->opaque, &v->a64);
		if (rc == 0) {
			/* PC and SP are virtual addresses, read through the guest's stage-1
			 * tables (ARM ARM D8) */
			v->have_a64 = v->have_pc = v->have_sp = 1;
			v->pc = v->pc_la = v->a64.pc;
			v->sp = v->sp_la = v->a64.sp;
			return;
		}
		snprintf(v->a64_err, sizeof(v->a64_err), "get_arm64_regs failed: %s",
			 errno_text(rc));
		snprintf(v->pc_err, sizeof(v->pc_err), "%s", v->a64_err);
		snprintf(v->sp_err, sizeof(v->sp_err), "%s", v->a64_err);
	}
	if (!ops->get_reg)
		return;
	/* Without the segment state the address is taken as linear (flat segments), which is
	 * what 64-bit code and arm64 have anyway. */
	rc = ops->get_reg(r->opaque, arm ? "pc" : "rip", &v->pc);
	if (rc == 0)
		v->have_pc = 1, v->pc_la = v->pc;
	else
		snprintf(v->pc_err, sizeof(v->pc_err), "get_reg(\"%s\") failed: %s",
			 arm ? "pc" : "rip", errno_text(rc));
	rc = ops->get_reg(r->opaque, arm ? "sp" : "rsp", &v->sp);
	if (rc == 0)
		v->have_sp = 1, v->sp_la = v->sp;
	else
		snprintf(v->sp_err, sizeof(v->sp_err), "get_reg(\"%s\") failed: %s",
			 arm ? "sp" : "rsp", errno_text(rc));
}

/* Why linear address la could not be read through the guest's page tables. */
static void x86_why(const struct view *v, uint64_t la, char *why, size_t n)
{
	uint64_t gpa = 0;
	uint32_t pfe = 0;
	int rc = xg_x86_walk(v->r->ops, v->r->opaque, &v->x86, la, XG_EMU_X86_READ, 0, &gpa, &pfe);

	if (rc == 1)
		snprintf(why, n,
			 "linear 0x%" PRIx64 " is not mapped by the guest's page tables "
			 "(#PF error code 0x%" PRIx32 ")",
			 la, pfe);
	else if (rc == 0)
		snprintf(why, n,
			 "linear 0x%" PRIx64 " maps to GPA 0x%" PRIx64 ", which is not guest RAM",
			 la, gpa);
	else
		snprintf(why, n,
			 "the guest's page tables cannot be read for linear 0x%" PRIx64 ": %s", la,
			 errno_text(rc));
}

/* Read len bytes of guest memory at linear address la: through the guest's own page tables
 * when the full x86 state is known, else through the VMM's translate_gva, page by page (4 KiB
 * pieces are correct for every larger page or granule too). Returns how many bytes were read
 * before the first unreadable one; why says what stopped it when that is fewer than len. */
static size_t read_virt(const struct view *v, uint64_t la, uint8_t *buf, size_t len, char *why,
			size_t n)
{
	const struct xg_vcpu_ops *ops = v->r->ops;
	void *opaque = v->r->opaque;
	size_t got = 0;

	why[0] = 0;
	if (!ops || !ops->read_gpa) {
		snprintf(why, n, "the VMM gives no read_gpa: guest memory cannot be read");
		return 0;
	}
	if (la + len < la)
		len = (size_t)(0 - la); /* stop at the top of the address space, do not wrap */
	if (v->have_x86) {
		got = xg_x86_read_virt(ops, opaque, &v->x86, la, buf, len);
		if (got < len)
			x86_why(v, la + got, why, n);
		return got;
	}
	if (v->have_a64)
		return xg_arm64_read_virt(ops, opaque, &v->a64, la, buf, len, why, n);
	if (!ops->translate_gva) {
		snprintf(why, n,
			 "the VMM gives neither get_x86_regs nor translate_gva: guest-virtual "
			 "addresses cannot be translated");
		return 0;
	}
	while (got < len) {
		uint64_t a = la + got, gpa;
		size_t chunk = (size_t)(PAGE_SIZE_4K - (a & (PAGE_SIZE_4K - 1)));
		int rc;

		if (chunk > len - got)
			chunk = len - got;
		rc = ops->translate_gva(opaque, a, &gpa);
		if (rc) {
			snprintf(why, n, "translate_gva(0x%" PRIx64 ") failed: %s", a,
				 errno_text(rc));
			break;
		}
		rc = ops->read_gpa(opaque, gpa, buf + got, chunk);
		if (rc) {
			snprintf(why, n,
				 "GPA 0x%" PRIx64 " (virtual 0x%" PRIx64 ") is not guest RAM: %s",
				 gpa, a, errno_text(rc));
			break;
		}
		got += chunk;
	}
	return got;
}

/* Disassemble as the vCPU runs: 16- and 32-bit x86 code is not 64-bit code (REX bytes are
 * INC/DEC there, operand sizes differ: SDM Vol. 1 3.6), so it goes to capstone in its mode. */
static size_t disasm_at(const struct view *v, const uint8_t *b, size_t n, uint64_t addr, char *out,
			size_t on)
{
	if (v->arch == XG_ARCH_X86_64 && (v->mode == 16 || v->mode == 32))
		return xg_disasm_x86(v->mode, b, n, addr, out, on);
	return xg_disasm_one(v->arch, b, n, addr, out, on);
}

/* ---- sections --------------------------------------------------------------------------- */

static void put_exit(struct json *j, const struct xg_exit *x)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	int rc;

	if (!x) {
		j_null(j, "exit");
		return;
	}
	/* xg_exit_print_json ends its object with a newline; printed apart so that the object
	 * can sit in this one without it. */
	m = open_memstream(&text, &len);
	if (!m) {
		j_error_obj(j, "exit", "out of memory printing the exit");
		return;
	}
	rc = xg_exit_print_json(x, m);
	if (fclose(m) != 0 || rc != 0) {
		free(text);
		j_error_obj(j, "exit", "out of memory printing the exit");
		return;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	j_key(j, "exit");
	fwrite(text, 1, len, j->f);
	free(text);
}

/* An arm64 data abort (arm_nisv, mmio, arm_sea) carries no instruction: the one that made it
 * is the word at PC, read through the guest's stage-1 tables (from RAM only). */
static void put_a64_insn(struct json *j, const struct view *v)
{
	uint8_t w[4];
	char text[160], why[256];

	j_open(j, "insn", 0);
	if (!v->have_pc) {
		j_str(j, "error", v->pc_err);
	} else if (xg_arm64_read_virt(v->r->ops, v->r->opaque, &v->a64, v->pc, w, 4, why,
				      sizeof(why)) < 4) {
		j_u64(j, "pc", v->pc);
		j_str(j, "error", why);
	} else {
		j_u64(j, "pc", v->pc);
		j_hex(j, "bytes", w, 4);
		xg_disasm_one(XG_ARCH_ARM64, w, 4, v->pc, text, sizeof(text));
		j_str(j, "disasm", text);
	}
	j_close(j);
}

static void put_insn(struct json *j, const struct view *v)
{
	const struct xg_exit *x = v->r->x;
	const struct xg_exit_internal *in = x ? &x->u.internal : NULL;
	char text[160];

	if (x && x->arch == XG_ARCH_ARM64 && v->have_a64 &&
	    (x->reason == KVM_EXIT_ARM_NISV || x->reason == KVM_EXIT_MMIO || x->reason == 41)) {
		put_a64_insn(j, v);
		return;
	}
	/* Only an emulation failure carries instruction bytes (api.rst 5,
	 * KVM_INTERNAL_ERROR_EMULATION with KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES).
	 */
	if (!x || x->reason != KVM_EXIT_INTERNAL_ERROR ||
	    in->suberror != KVM_INTERNAL_ERROR_EMULATION || !in->has_insn || !in->insn_size) {
		j_null(j, "insn");
		return;
	}
	j_open(j, "insn", 0);
	j_hex(j, "bytes", in->insn, in->insn_size);
	disasm_at(v, in->insn, in->insn_size, v->have_pc ? v->pc : 0, text, sizeof(text));
	j_str(j, "disasm", text);
	if (v->mode)
		j_int(j, "mode", v->mode);
	j_close(j);
}

static void put_seg(struct json *j, const char *name, const struct xg_emu_x86_segment *s)
{
	j_open(j, name, 1);
	j_u64(j, "selector", s->selector);
	j_u64(j, "base", s->base);
	j_u64(j, "limit", s->limit);
	j_int(j, "type", s->type);
	j_int(j, "s", s->s);
	j_int(j, "dpl", s->dpl);
	j_int(j, "present", s->present);
	j_int(j, "db", s->db);
	j_int(j, "l", s->l);
	j_int(j, "g", s->g);
	j_int(j, "unusable", s->unusable);
	j_close(j);
}

static void put_x86_regs(struct json *j, const struct xg_emu_x86_regs *x)
{
	static const char *const gpr[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
	static const char *const seg[XG_EMU_X86_NSEG] = {"es", "cs", "ss", "ds", "fs", "gs"};

	j_u64(j, "rip", x->rip);
	for (int i = 0; i < 16; i++)
		j_u64(j, gpr[i], x->gpr[i]);
	j_u64(j, "rflags", x->rflags);
	j_u64(j, "cr0", x->cr0);
	j_u64(j, "cr2", x->cr2);
	j_u64(j, "cr3", x->cr3);
	j_u64(j, "cr4", x->cr4);
	j_u64(j, "efer", x->efer);
	j_u64(j, "xcr0", x->xcr0);
	for (int i = 0; i < XG_EMU_X86_NSEG; i++)
		put_seg(j, seg[i], &x->seg[i]);
	/* CPL is SS.DPL (SDM Vol. 3A 5.5), as the emulator takes it. */
	j_int(j, "cpl", x->seg[XG_EMU_X86_SS].dpl);
	if (!x->has_tables)
		return;
	/* GDTR and IDTR hold a base and a limit, TR and LDTR a selector and the descriptor
	 * loaded with it (SDM Vol. 3A 2.4.1-2.4.4) */
	j_open(j, "gdtr", 1);
	j_u64(j, "base", x->gdtr_base);
	j_u64(j, "limit", x->gdtr_limit);
	j_close(j);
	j_open(j, "idtr", 1);
	j_u64(j, "base", x->idtr_base);
	j_u64(j, "limit", x->idtr_limit);
	j_close(j);
	put_seg(j, "tr", &x->tr);
	put_seg(j, "ldtr", &x->ldtr);
}

/* The registers get_reg knows by name (exitgate.h names them as the architecture does), for
 * a VMM without get_x86_regs. */
static const char *const x86_names[] = {"rip", "rsp",	 "rax", "rbx", "rcx", "rdx", "rsi", "rdi",
					"rbp", "r8",	 "r9",	"r10", "r11", "r12", "r13", "r14",
					"r15", "rflags", "cr0", "cr2", "cr3", "cr4", "efer"};
static const char *const arm64_names[] = {
    "pc",  "sp",  "x0",	 "x1",	"x2",  "x3",  "x4",  "x5",  "x6",  "x7",    "x8",  "x9",
    "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19",   "x20", "x21",
    "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30", "pstate"};
static const char *const other_names[] = {"pc", "sp"};

#define NAMED_MAX 40

static void put_named_regs(struct json *j, const struct view *v)
{
	const char *const *names = other_names;
	size_t count = sizeof(other_names) / sizeof(other_names[0]), got = 0, mlen = 0;
	char first_err[128] = "", missing[512] = "";
	uint64_t val[NAMED_MAX];
	unsigned char ok[NAMED_MAX] = {0};

	_Static_assert(sizeof(arm64_names) / sizeof(arm64_names[0]) <= NAMED_MAX, "NAMED_MAX");
	_Static_assert(sizeof(x86_names) / sizeof(x86_names[0]) <= NAMED_MAX, "NAMED_MAX");
	if (v->arch == XG_ARCH_X86_64) {
		names = x86_names;
		count = sizeof(x86_names) / sizeof(x86_names[0]);
	} else if (v->arch == XG_ARCH_ARM64) {
		names = arm64_names;
		count = sizeof(arm64_names) / sizeof(arm64_names[0]);
	}
	for (size_t i = 0; i < count; i++) {
		int rc = v->r->ops->get_reg(v->r->opaque, names[i], &val[i]);

		if (rc == 0) {
			ok[i] = 1;
			got++;
			continue;
		}
		if (!first_err[0])
			snprintf(first_err, sizeof(first_err), "get_reg(\"%s\") failed: %s",
				 names[i], errno_text(rc));
		if (mlen < sizeof(missing)) {
			int w = snprintf(missing + mlen, sizeof(missing) - mlen, "%s%s",
					 mlen ? ", " : "", names[i]);
			mlen += w > 0 ? (size_t)w : 0;
		}
	}
	if (!got) {
		j_error_obj(j, "registers", first_err);
		return;
	}
	j_open(j, "registers", 0);
	for (size_t i = 0; i < count; i++)
		if (ok[i])
			j_u64(j, names[i], val[i]);
	if (v->x86_err[0])
		j_str(j, "note", v->x86_err);
	if (missing[0])
		j_str(j, "unavailable", missing);
	j_close(j);
}

/* The arm64 state the emulator's ops give, then the EL1 registers an exception entry
 * writes, by name, from the VMM's get_reg where it has them (listed as unavailable if not). */
static const char *const a64_modes[16] = {
    [0x0] = "el0t", [0x4] = "el1t", [0x5] = "el1h", [0x8] = "el2t",
    [0x9] = "el2h", [0xc] = "el3t", [0xd] = "el3h",
};

static void put_arm64_regs(struct json *j, const struct view *v)
{
	static const char *const el1[] = {"elr_el1",  "spsr_el1", "esr_el1", "far_el1",
					  "vbar_el1", "sp_el0",	  "sp_el1",  "mair_el1"};
	const struct xg_emu_arm64_regs *a = &v->a64;
	char name[8], missing[160] = "";
	size_t mlen = 0;
	uint64_t val;

	j_open(j, "registers", 0);
	j_u64(j, "pc", a->pc);
	j_u64(j, "sp", a->sp);
	for (int i = 0; i < 31; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		j_u64(j, name, a->x[i]);
	}
	j_u64(j, "pstate", a->pstate);
	/* PSTATE.M[3:0] (SPSR layout, ARM ARM C5.2.18): EL in 3:2, SP_ELx in 0; M[4] AArch32 */
	j_str(j, "mode",
	      (a->pstate & 0x10)	   ? "aarch32"
	      : a64_modes[a->pstate & 0xf] ? a64_modes[a->pstate & 0xf]
					   : "reserved");
	j_u64(j, "sctlr_el1", a->sctlr_el1);
	j_u64(j, "tcr_el1", a->tcr_el1);
	j_u64(j, "ttbr0_el1", a->ttbr0_el1);
	j_u64(j, "ttbr1_el1", a->ttbr1_el1);
	for (size_t i = 0; i < sizeof(el1) / sizeof(el1[0]); i++) {
		if (v->r->ops->get_reg && !v->r->ops->get_reg(v->r->opaque, el1[i], &val)) {
			j_u64(j, el1[i], val);
		} else if (mlen < sizeof(missing)) {
			int w = snprintf(missing + mlen, sizeof(missing) - mlen, "%s%s",
					 mlen ? ", " : "", el1[i]);
			mlen += w > 0 ? (size_t)w : 0;
		}
	}
	if (missing[0])
		j_str(j, "unavailable", missing);
	j_close(j);
}

static void put_registers(struct json *j, const struct view *v)
{
	const struct xg_vcpu_ops *ops = v->r->ops;

	if (v->have_x86) {
		j_open(j, "registers", 0);
		put_x86_regs(j, &v->x86);
		j_close(j);
	} else if (v->have_a64) {
		put_arm64_regs(j, v);
	} else if (ops && ops->get_reg) {
		put_named_regs(j, v);
	} else if (v->x86_err[0]) {
		j_error_obj(j, "registers", v->x86_err);
	} else {
		j_error_obj(j, "registers", "the VMM gives no register access");
	}
}

static void put_code(struct json *j, const struct view *v)
{
	uint8_t code[CODE_BEFORE + CODE_AFTER];
	uint8_t *after = code + CODE_BEFORE;
	char why[256], unused[256], text[160];
	const char *pcname = v->arch == XG_ARCH_ARM64 ? "pc" : "rip";
	uint64_t la = v->pc_la;
	size_t back, nbefore, nafter, off = 0;

	if (!v->have_pc) {
		j_error_obj(j, "code", v->pc_err);
		return;
	}
	nafter = read_virt(v, la, after, CODE_AFTER, why, sizeof(why));
	if (nafter == 0) {
		j_open(j, "code", 0);
		j_u64(j, pcname, v->pc);
		j_str(j, "error", why);
		j_close(j);
		return;
	}
	/* The bytes before RIP may sit on a page that is not mapped while RIP's own page is:
	 * then only those of RIP's page are shown. */
	back = la < CODE_BEFORE ? (size_t)la : CODE_BEFORE;
	/* outside 64-bit mode the code before IP 0 is not this code segment's */
	if (v->mode && v->mode != 64 && back > (v->mode == 32 ? (uint32_t)v->pc : (uint16_t)v->pc))
		back = v->mode == 32 ? (uint32_t)v->pc : (uint16_t)v->pc;
	nbefore = read_virt(v, la - back, code + CODE_BEFORE - back, back, unused, sizeof(unused));
	if (nbefore != back) {
		uint64_t page = la & ~(PAGE_SIZE_4K - 1);

		back = la - page < back ? (size_t)(la - page) : back;
		nbefore = read_virt(v, la - back, code + CODE_BEFORE - back, back, unused,
				    sizeof(unused));
		if (nbefore != back)
			nbefore = 0;
	}
	j_open(j, "code", 0);
	j_u64(j, pcname, v->pc);
	j_u64(j, "start", v->pc - nbefore);
	if (v->mode)
		j_int(j, "mode", v->mode);
	j_hex(j, "bytes", after - nbefore, nbefore + nafter);
	if (nafter < CODE_AFTER)
		j_str(j, "truncated", why);
	/* A64 instructions are 4 bytes, aligned: those before PC decode as surely as the rest,
	 * listed apart so that disasm[0] stays the instruction at PC */
	if (v->arch == XG_ARCH_ARM64 && !(v->pc & 3) && nbefore >= 4) {
		j_key(j, "disasm_before");
		fputc('[', j->f);
		for (size_t b = 0; b + 4 <= nbefore; b += 4) {
			uint64_t at = v->pc - nbefore + b;
			char line[200];

			xg_disasm_one(v->arch, after - nbefore + b, 4, at, text, sizeof(text));
			snprintf(line, sizeof(line), "0x%" PRIx64 ": %s", at, text);
			fprintf(j->f, "%s\n%*s", b ? "," : "", 2 * (j->depth + 1), "");
			xg_json_str(j->f, line);
		}
		fprintf(j->f, "\n%*s]", 2 * j->depth, "");
	}
	j_key(j, "disasm");
	fputc('[', j->f);
	for (int i = 0; i < CODE_INSNS && off < nafter; i++) {
		size_t len =
		    disasm_at(v, after + off, nafter - off, v->pc + off, text, sizeof(text));
		char line[200];

		/* An instruction cut by the end of the window is not shown rather than shown as
		 * garbage: x86 instructions are at most 15 bytes (SDM Vol. 2 2.3.11). */
		if (!len && nafter == CODE_AFTER && nafter - off < 15)
			break;
		snprintf(line, sizeof(line), "0x%" PRIx64 ": %s", v->pc + off, text);
		fprintf(j->f, "%s\n%*s", i ? "," : "", 2 * (j->depth + 1), "");
		xg_json_str(j->f, line);
		if (!len)
			break;
		off += len;
	}
	fprintf(j->f, "\n%*s]", 2 * j->depth, "");
	j_close(j);
}

static void put_stack(struct json *j, const struct view *v)
{
	uint8_t buf[STACK_BYTES];
	char why[256];
	const char *spname = v->arch == XG_ARCH_ARM64 ? "sp" : "rsp";
	size_t got, want;

	if (!v->have_sp) {
		j_error_obj(j, "stack", v->sp_err);
		return;
	}
	want = sizeof(buf);
	if (v->have_x86 && v->mode != 64) {
		/* the stack is what the stack segment holds: an expand-up segment (type bit 2
		 * clear) ends at its limit (SDM Vol. 3A 3.4.5.1); bytes past it are not pushed */
		const struct xg_emu_x86_segment *ss = &v->x86.seg[XG_EMU_X86_SS];
		uint64_t off = ss->db ? (uint32_t)v->sp : (uint16_t)v->sp;

		if (!(ss->type & 4))
			want = off > ss->limit		    ? 0
			       : ss->limit - off + 1 < want ? (size_t)(ss->limit - off + 1)
							    : want;
	}
	got = want ? read_virt(v, v->sp_la, buf, want, why, sizeof(why)) : 0;
	if (!want)
		snprintf(why, sizeof(why), "SP is past the stack segment's limit");
	j_open(j, "stack", 0);
	j_u64(j, spname, v->sp);
	if (got == 0) {
		j_str(j, "error", why);
	} else {
		j_hex(j, "bytes", buf, got);
		if (got < want)
			j_str(j, "truncated", why);
		else if (want < sizeof(buf))
			j_str(j, "end", "the stack segment's limit");
	}
	j_close(j);
}

/* Pending and injected events (api.rst 4.31 KVM_GET_VCPU_EVENTS): what the vCPU takes at
 * its next entry, which QEMU's `info registers` does not show and a stuck guest often has. */
static void put_events(struct json *j, const struct view *v)
{
	const struct xg_vcpu_ops *ops = v->r->ops;
	struct xg_x86_events e;
	int rc;

	if (v->arch != XG_ARCH_X86_64)
		return;
	if (!ops || !ops->get_x86_events) {
		j_error_obj(j, "events", "the VMM gives no get_x86_events");
		return;
	}
	memset(&e, 0, sizeof(e));
	rc = ops->get_x86_events(v->r->opaque, &e);
	if (rc) {
		char why[128];

		snprintf(why, sizeof(why), "get_x86_events failed: %s", errno_text(rc));
		j_error_obj(j, "events", why);
		return;
	}
	j_open(j, "events", 0);
	j_open(j, "exception", 1);
	j_int(j, "injected", e.exception_injected);
	j_int(j, "pending", e.exception_pending);
	j_int(j, "vector", e.exception_nr);
	j_int(j, "has_error_code", e.exception_has_error_code);
	j_u64(j, "error_code", e.exception_error_code);
	if (e.exception_has_payload)
		j_u64(j, "payload", e.exception_payload);
	j_close(j);
	j_open(j, "interrupt", 1);
	j_int(j, "injected", e.interrupt_injected);
	j_int(j, "vector", e.interrupt_nr);
	j_int(j, "soft", e.interrupt_soft);
	j_int(j, "shadow", e.interrupt_shadow);
	j_close(j);
	j_open(j, "nmi", 1);
	j_int(j, "injected", e.nmi_injected);
	j_int(j, "pending", e.nmi_pending);
	j_int(j, "masked", e.nmi_masked);
	j_close(j);
	j_open(j, "smi", 1);
	j_int(j, "pending", e.smi_pending);
	j_int(j, "smm", e.smm);
	j_close(j);
	j_int(j, "triple_fault_pending", e.triple_fault_pending);
	j_close(j);
}

static const char *const seg_names[XG_EMU_X86_NSEG] = {"es", "cs", "ss", "ds", "fs", "gs"};

/* What the VMM has at gpa, as "region". */
static void put_region(struct json *j, const struct view *v, const char *key, uint64_t gpa)
{
	const struct xg_vcpu_ops *ops = v->r->ops;
	char what[200];

	if (ops->describe_gpa) {
		what[0] = 0;
		ops->describe_gpa(v->r->opaque, gpa, what, sizeof(what));
		j_str(j, key, what[0] ? what : "unknown");
	} else if (ops->read_gpa) {
		uint8_t b;

		int rc = ops->read_gpa(v->r->opaque, gpa, &b, 1);

		j_str(j, key, rc ? "not guest RAM" : "guest RAM");
	}
}

/* The memory operand of the instruction at RIP (the exit's own bytes when it has them):
 * its effective address (SDM Vol. 1 3.7.5: base + index * scale + displacement, in the
 * address size), the linear address (segment base added; in 64-bit mode only FS and GS
 * have one, SDM Vol. 1 3.3.7.1; 32 bits wide outside it), the GPA through the guest's page
 * tables, and what is there; and the exit's own GPA with what is there. String
 * instructions' implicit operands are not computed. */
static void put_access(struct json *j, const struct view *v)
{
	const struct xg_exit *x = v->r->x;
	const struct xg_exit_internal *in = x ? &x->u.internal : NULL;
	struct xg_emu_x86_insn insn;
	struct xg_emu_x86_exception exc;
	uint8_t b[15];
	size_t n;
	char why[256], reason[128] = "";
	int real, decoded = 0, has_exit_gpa = 0;
	uint64_t exit_gpa = 0;

	if (!v->have_x86 || !v->r->ops)
		return;
	if (x && x->reason == KVM_EXIT_MMIO)
		has_exit_gpa = 1, exit_gpa = x->u.mmio.phys_addr;
	j_open(j, "access", 0);
	if (has_exit_gpa) {
		j_u64(j, "exit_gpa", exit_gpa);
		put_region(j, v, "exit_region", exit_gpa);
	}
	if (x && x->reason == KVM_EXIT_INTERNAL_ERROR && in->has_insn && in->insn_size) {
		n = in->insn_size < sizeof(b) ? in->insn_size : sizeof(b);
		memcpy(b, in->insn, n);
	} else {
		n = read_virt(v, v->pc_la, b, sizeof(b), why, sizeof(why));
		if (!n) {
			j_str(j, "error", why);
			j_close(j);
			return;
		}
	}
	real = !(v->x86.cr0 & CR0_PE) || (v->x86.rflags & RFLAGS_VM);
	memset(&insn, 0, sizeof(insn));
#if defined(__x86_64__)
	/* the x86 decoder is built with the emulator, on x86 hosts only (core/CMakeLists.txt) */
	decoded = xg_emu_x86_decode(b, n, v->mode, real, &insn, &exc, reason) == XG_EMU_X86_OK;
#else
	(void)exc, (void)real;
	snprintf(reason, sizeof(reason), "no x86 decoder in this build (not an x86 host)");
#endif
	if (!decoded) {
		j_str(j, "error", reason[0] ? reason : "the instruction at RIP does not decode");
	} else if (!insn.has_mem || insn.vsib) {
		j_str(j, "operand",
		      insn.vsib ? "vector-indexed (VSIB): one address per element"
				: "none in ModRM or moffs (registers, or implicit)");
	} else {
		const uint64_t *gpr = v->x86.gpr;
		uint64_t ea = (uint64_t)insn.disp, la, gpa = 0, mask;
		unsigned seg = insn.seg < XG_EMU_X86_NSEG ? insn.seg : XG_EMU_X86_DS;
		uint32_t pfe = 0;
		int rc;

		mask = insn.addrsize == 8 ? ~0ull : insn.addrsize == 4 ? 0xffffffffull : 0xffffull;
		if (insn.base != XG_EMU_X86_NOREG)
			ea += gpr[insn.base & 15];
		if (insn.index != XG_EMU_X86_NOREG)
			ea += gpr[insn.index & 15] * insn.scale;
		if (insn.rip_rel)
			ea += v->pc + insn.len;
		ea &= mask;
		la = ea;
		if (v->mode != 64 || seg == XG_EMU_X86_FS || seg == XG_EMU_X86_GS)
			la += v->x86.seg[seg].base;
		if (v->mode != 64)
			la &= 0xffffffffull;
		j_str(j, "segment", seg_names[seg]);
		j_u64(j, "effective_address", ea);
		j_u64(j, "linear", la);
		rc = xg_x86_walk(v->r->ops, v->r->opaque, &v->x86, la, XG_EMU_X86_READ, 0, &gpa,
				 &pfe);
		if (rc == 1) {
			snprintf(why, sizeof(why),
				 "not mapped by the guest's page tables (#PF error code 0x%" PRIx32
				 ")",
				 pfe);
			j_str(j, "gpa_error", why);
		} else if (rc < 0) {
			snprintf(why, sizeof(why), "the guest's page tables cannot be read: %s",
				 errno_text(rc));
			j_str(j, "gpa_error", why);
		} else {
			j_u64(j, "gpa", gpa);
			put_region(j, v, "region", gpa);
		}
	}
	j_close(j);
}

/* ---- vector state (x86) ---- */

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/*
 * Register `kind` ('x' 128, 'y' 256, 'z' 512 bits, 'k' 64) number n from a standard-format
 * XSAVE image, little-endian into out (its width in bytes returned; 0 for no such register).
 * A component whose XSTATE_BV bit is clear is in its initial state, all zeros (SDM Vol. 1
 * 13.6): bit 1 SSE (XMM0-15), 2 AVX (bits 255:128), 5 opmask, 6 ZMM_Hi256 (bits 511:256 of
 * ZMM0-15), 7 Hi16_ZMM (ZMM16-31 whole; their low 256 bits are the XMM/YMM16-31 of EVEX).
 */
static unsigned vreg(const uint8_t *xs, char kind, unsigned n, uint8_t *out)
{
	uint64_t bv = le(xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	unsigned w = kind == 'x' ? 16 : kind == 'y' ? 32 : kind == 'z' ? 64 : kind == 'k' ? 8 : 0;

	if (!w || n >= (kind == 'k' ? 8u : 32u))
		return 0;
	memset(out, 0, w);
	if (kind == 'k') {
		if (bv & (1u << 5))
			memcpy(out, xs + XG_EMU_X86_XS_OPMASK + 8 * n, 8);
		return w;
	}
	if (n >= 16) {
		if (bv & (1u << 7))
			memcpy(out, xs + XG_EMU_X86_XS_HI16ZMM + 64 * (n - 16), w);
		return w;
	}
	if (bv & (1u << 1))
		memcpy(out, xs + XG_EMU_X86_XS_XMM0 + 16 * n, 16);
	if (w >= 32 && (bv & (1u << 2)))
		memcpy(out + 16, xs + XG_EMU_X86_XS_YMMH + 16 * n, 16);
	if (w == 64 && (bv & (1u << 6)))
		memcpy(out + 32, xs + XG_EMU_X86_XS_ZMMH + 32 * n, 32);
	return w;
}

/* A register's value as one hex number, most significant digit first. */
static void j_vreg(struct json *j, const char *k, const uint8_t *b, unsigned w)
{
	char hex[2 + 128 + 1] = "0x";

	for (unsigned i = 0; i < w; i++)
		snprintf(hex + 2 + 2 * i, 3, "%02x", b[w - 1 - i]);
	j_str(j, k, hex);
}

/* The vector registers the instruction at RIP names ("xmm3", "ymm0", "zmm17", "k1" in its
 * disassembly), each once, into names (at most max). */
static int used_vregs(const char *text, char names[][16], int max)
{
	int n = 0;

	for (const char *p = text; *p && n < max; p++) {
		unsigned long r;
		char *end, kind;

		if (p != text && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		if ((p[0] == 'x' || p[0] == 'y' || p[0] == 'z') && !strncmp(p + 1, "mm", 2) &&
		    isdigit((unsigned char)p[3]))
			kind = p[0], r = strtoul(p + 3, &end, 10);
		else if (p[0] == 'k' && isdigit((unsigned char)p[1]))
			kind = 'k', r = strtoul(p + 1, &end, 10);
		else
			continue;
		if (isalnum((unsigned char)*end) || *end == '_' || r >= 32)
			continue;
		if (kind == 'k')
			snprintf(names[n], 16, "k%lu", r);
		else
			snprintf(names[n], 16, "%cmm%lu", kind, r);
		int seen = 0;
		for (int i = 0; i < n; i++)
			seen |= !strcmp(names[i], names[n]);
		n += !seen;
	}
	return n;
}

/*
 * "vector": the x87/SSE/AVX state KVM holds (KVM_GET_XSAVE through get_xsave): XCR0 is in
 * "registers"; here XSTATE_BV (which components are not in their initial state), MXCSR,
 * the x87 control and status words, the registers the instruction at RIP names with their
 * values ("used"), and every other vector register that is not zero ("nonzero"), as wide
 * as the state in use (ZMM when an AVX-512 component is, else YMM when AVX is, else XMM).
 */
static void put_vector(struct json *j, const struct view *v)
{
	const struct xg_vcpu_ops *ops = v->r->ops;
	const struct xg_exit *x = v->r->x;
	uint8_t *xs, reg[64], b[15];
	char text[160] = "", names[16][16], nm[16];
	size_t n = 0;
	int rc, nused;
	uint64_t bv;
	char kind;

	if (!v->have_x86 || !ops || !ops->get_xsave)
		return;
	xs = calloc(1, XG_EMU_X86_XSAVE_SIZE);
	if (!xs) {
		j_error_obj(j, "vector", "out of memory");
		return;
	}
	rc = ops->get_xsave(v->r->opaque, xs);
	if (rc) {
		char why[128];
		snprintf(why, sizeof(why), "get_xsave failed: %s", errno_text(rc));
		j_error_obj(j, "vector", why);
		free(xs);
		return;
	}
	bv = le(xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	j_open(j, "vector", 0);
	j_u64(j, "xstate_bv", bv);
	j_u64(j, "mxcsr", le(xs + XG_EMU_X86_XS_MXCSR, 4));
	j_u64(j, "fcw", le(xs + XG_EMU_X86_XS_FCW, 2));
	j_u64(j, "fsw", le(xs + XG_EMU_X86_XS_FSW, 2));
	/* the instruction: the exit's bytes, else the guest's at RIP */
	if (x && x->reason == KVM_EXIT_INTERNAL_ERROR && x->u.internal.has_insn &&
	    x->u.internal.insn_size) {
		n = x->u.internal.insn_size < sizeof(b) ? x->u.internal.insn_size : sizeof(b);
		memcpy(b, x->u.internal.insn, n);
	} else if (v->have_pc) {
		char why[128];
		n = read_virt(v, v->pc_la, b, sizeof(b), why, sizeof(why));
	}
	if (n)
		disasm_at(v, b, n, v->have_pc ? v->pc : 0, text, sizeof(text));
	nused = used_vregs(text, names, 16);
	j_open(j, "used", 1);
	for (int i = 0; i < nused; i++) {
		unsigned w = vreg(xs, names[i][0] == 'k' ? 'k' : names[i][0],
				  (unsigned)strtoul(names[i] + (names[i][0] == 'k' ? 1 : 3), NULL, 10),
				  reg);
		if (w)
			j_vreg(j, names[i], reg, w);
	}
	j_close(j);
	kind = bv & 0xc0 ? 'z' : bv & 4 ? 'y' : 'x';
	j_open(j, "nonzero", 0);
	for (unsigned r = 0; r < (kind == 'z' ? 32u : 16u); r++) {
		unsigned w = vreg(xs, kind, r, reg), nz = 0;
		for (unsigned i = 0; i < w; i++)
			nz |= reg[i];
		snprintf(nm, sizeof(nm), "%cmm%u", kind, r);
		if (nz)
			j_vreg(j, nm, reg, w);
	}
	for (unsigned r = 0; r < 8 && (bv & (1u << 5)); r++) {
		unsigned w = vreg(xs, 'k', r, reg);
		snprintf(nm, sizeof(nm), "k%u", r);
		if (w && le(reg, 8))
			j_vreg(j, nm, reg, w);
	}
	j_close(j);
	j_close(j);
	free(xs);
}

/* The whole document into memory; NULL only when memory runs out. */
static char *render(const struct xg_dump_req *r, size_t *len)
{
	struct json j = {0};
	struct view v;
	char *text = NULL, stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	j.f = open_memstream(&text, len);
	if (!j.f)
		return NULL;
	gather(&v, r);
	if (!gmtime_r(&now, &tm) || !strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(stamp, sizeof(stamp), "unknown");
	j_open(&j, NULL, 0);
	j_int(&j, "exitgate_dump", 1);
	j_str(&j, "time", stamp);
	j_str(&j, "guest", r->guest);
	j_str(&j, "run", r->run);
	j_int(&j, "vcpu", r->vcpu);
	j_key(&j, "seq");
	fprintf(j.f, "%" PRIu64, r->seq);
	j_str(&j, "previous", r->previous);
	j_str(&j, "trigger", r->trigger);
	j_str(&j, "policy", r->policy);
	j_str(&j, "handler", r->handler);
	j_str(&j, "verdict", r->verdict);
	j_str(&j, "note", r->note);
	j_str(&j, "error", r->error);
	put_exit(&j, r->x);
	put_insn(&j, &v);
	put_registers(&j, &v);
	put_events(&j, &v);
	put_access(&j, &v);
	put_vector(&j, &v);
	put_code(&j, &v);
	put_stack(&j, &v);
	j_close(&j);
	fputc('\n', j.f);
	if (ferror(j.f)) {
		fclose(j.f);
		free(text);
		return NULL;
	}
	if (fclose(j.f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- publishing ------------------------------------------------------------------------- */

/* Messages name paths, which may be long: they are cut at the message's size, never
 * overflow it. */
static void set_err(struct xg_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct xg_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Only [A-Za-z0-9._-] reach the file name: a guest name is configuration, not a path, and
 * '/' or a control character must not make one. A leading '.' becomes '_' as well, so a dump
 * is never hidden and never looks like a temp file. */
static void sanitize(const char *guest, char *out, size_t n)
{
	size_t i = 0;

	if (!guest || !*guest)
		guest = "guest";
	for (; guest[i] && i + 1 < n; i++) {
		char c = guest[i];
		int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && i > 0);
		out[i] = keep ? c : '_';
	}
	out[i] = 0;
}

/* Create the default dump directory and whichever of its parents are missing, each 0700
 * (XDG Base Directory Specification 0.8: "If, when attempting to write a file, the destination
 * directory is non-existent an attempt should be made to create it with permission 0700"). */
static int make_dirs(const char *dir, struct xg_error *err)
{
	char p[PATH_MAX];
	struct stat st;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
		set_err(err, "dump directory %.400s...: path too long", dir);
		return -1;
	}
	for (char *s = p + 1;; s++) {
		char c = *s;

		if (c != '/' && c != 0)
			continue;
		*s = 0;
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			set_err(err,
				"cannot create the default dump directory %s (making %s: %s); "
				"set dump_dir",
				dir, p, strerror(errno));
			return -1;
		}
		*s = c;
		if (!c)
			break;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		set_err(err,
			"default dump directory %s exists and is not a directory; set dump_dir",
			dir);
		return -1;
	}
	return 0;
}

/* Create the dump directory when missing (one level: a missing parent is a configuration
 * mistake worth saying plainly). */
static int make_dir(const char *dir, struct xg_error *err)
{
	struct stat st;
	char parent[PATH_MAX];
	char *slash;

	if (mkdir(dir, 0750) == 0)
		return 0;
	if (errno == EEXIST) {
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		set_err(err, "dump directory %s exists and is not a directory", dir);
		return -1;
	}
	if (errno == ENOENT) {
		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		while (slash && slash > parent && slash[1] == 0) { /* "a/b/" names a/b */
			*slash = 0;
			slash = strrchr(parent, '/');
		}
		if (slash && slash > parent)
			*slash = 0;
		else
			snprintf(parent, sizeof(parent), slash ? "/" : ".");
		set_err(err,
			"cannot create dump directory %s: its parent %s does not exist (only the "
			"last level is created; create the parent or fix dump_dir)",
			dir, parent);
		return -1;
	}
	set_err(err, "cannot create dump directory %s: %s", dir, strerror(errno));
	return -1;
}

/* rename(2) that never replaces: RENAME_NOREPLACE (renameat2(2)), or on a file system without
 * it, link(2) (which fails on an existing name too) and unlink. Where neither works a plain
 * rename is the last resort: the run identity in the name already keeps runs apart. */
static int rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
	if (link(from, to) == 0) {
		unlink(from);
		return 0;
	}
	if (errno == EEXIST)
		return -1;
	return rename(from, to);
}

/* Temp file in the same directory, fsync, rename: rename(2) replaces the name atomically, so
 * a reader sees the whole dump or none, and the fsync first makes sure a crash cannot leave
 * the name pointing at empty blocks. The file mode is 0640: dumps hold guest memory. */
static int publish(const char *tmp, const char *final, const char *data, size_t len,
		   struct xg_error *err)
{
	const char *step;
	FILE *f = NULL;
	int fd, e;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		set_err(err, "cannot create dump file %s: %s", tmp, strerror(errno));
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		step = "open";
		goto fail;
	}
	step = "write";
	if (fwrite(data, 1, len, f) != len || fflush(f) != 0)
		goto fail;
	step = "fsync";
	if (fsync(fileno(f)) != 0)
		goto fail;
	step = "close";
	e = fclose(f);
	f = NULL;
	fd = -1;
	if (e != 0)
		goto fail;
	if (rename_new(tmp, final) != 0) {
		e = errno;
		unlink(tmp);
		if (e == EEXIST)
			set_err(err, "dump %s is there already: not overwritten (no dump written)",
				final);
		else
			set_err(err, "cannot rename dump %s to %s: %s", tmp, final, strerror(e));
		return -1;
	}
	return 0;
fail:
	e = errno;
	if (f)
		fclose(f);
	else if (fd >= 0)
		close(fd);
	unlink(tmp);
	set_err(err, "cannot %s dump file %s: %s (no dump written)", step, tmp, strerror(e));
	return -1;
}

/* The rename is durable only once the directory is on disk too; a failure here loses
 * nothing but that guarantee, so it is not an error. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* ---- run identity and stale temp files ------------------------------------------------ */

void xg_dump_run_id(char *buf, size_t n)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct timespec last;
	static unsigned same;
	struct timespec ts;
	struct tm tm;
	char stamp[32] = "00000000T000000";
	unsigned k;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec -= ts.tv_nsec % 1000;
	pthread_mutex_lock(&lock);
	same = ts.tv_sec == last.tv_sec && ts.tv_nsec == last.tv_nsec ? same + 1 : 0;
	last = ts;
	k = same;
	pthread_mutex_unlock(&lock);
	if (gmtime_r(&ts.tv_sec, &tm))
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if (k)
		snprintf(buf, n, "%s.%06ldZ-%ld.%u", stamp, ts.tv_nsec / 1000, (long)getpid(), k);
	else
		snprintf(buf, n, "%s.%06ldZ-%ld", stamp, ts.tv_nsec / 1000, (long)getpid());
}

/* The identity of dumps written without one: one per process, made at its first dump. */
static char process_run[RUN_ID_MAX];
static void make_process_run(void)
{
	xg_dump_run_id(process_run, sizeof(process_run));
}

static void process_run_id(char *buf, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, make_process_run);
	snprintf(buf, n, "%s", process_run);
}

/* The writer's pid from ".<name>.json.<pid>.tmp"; 0 for the old ".<name>.json.tmp"; -1 for a
 * name that is not a dump's temp file. */
static long temp_writer(const char *name)
{
	size_t len = strlen(name);
	const char *end, *p;
	long pid = 0;

	if (name[0] != '.' || len < 11 || strcmp(name + len - 4, ".tmp"))
		return -1;
	end = name + len - 4; /* at ".tmp" */
	if (end - name >= 6 && !strncmp(end - 5, ".json", 5))
		return 0;
	for (p = end; p > name && p[-1] >= '0' && p[-1] <= '9'; p--)
		;
	if (p == end || end - p > 9 || p - name < 6 || p[-1] != '.' || strncmp(p - 6, ".json", 5))
		return -1;
	for (; p < end; p++)
		pid = pid * 10 + (*p - '0');
	return pid > 0 ? pid : -1;
}

int xg_dump_clean(const char *dir, struct xg_error *err)
{
	struct dirent *de;
	int removed = 0, dfd;
	DIR *d;

	err->msg[0] = 0;
	d = dir ? opendir(dir) : NULL;
	if (!d)
		return 0;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		long pid = temp_writer(de->d_name);
		struct stat st;
		int stale;

		if (pid < 0 || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (pid > 0)
			/* kill(pid, 0): ESRCH when no such process; EPERM means it lives */
			stale = pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
		else
			stale = time(NULL) - st.st_mtime > XG_DUMP_STALE_SECONDS;
		if (!stale)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			set_err(err, "cannot remove the stale dump temp file %s/%s: %s", dir,
				de->d_name, strerror(errno));
	}
	closedir(d);
	return removed;
}

/* ---- default directory and retention ----------------------------------------------- */

int xg_dump_default_dir(char *buf, size_t n)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int w;

	/* the specification: "If an implementation encounters a relative path in any of these
	 * variables it should consider the path invalid and ignore it" */
	if (state && state[0] == '/')
		w = snprintf(buf, n, "%s/exitgate/dumps", state);
	else if (geteuid() == 0)
		w = snprintf(buf, n, "/var/lib/exitgate/dumps");
	else if (home && home[0] == '/')
		w = snprintf(buf, n, "%s/.local/state/exitgate/dumps", home);
	else
		return -1;
	return w > 0 && (size_t)w < n ? 0 : -1;
}

/* n digits at *p, min..max of them; moves *p past them */
static int digits(const char **p, int min, int max)
{
	int k = 0;

	while (**p >= '0' && **p <= '9' && k < max)
		(*p)++, k++;
	return k >= min && !(**p >= '0' && **p <= '9');
}

/* name is "<g>-<run>-vcpu<N>-<seq>.json" with run as xg_dump_run_id makes it: a guest named
 * "web" does not claim the dumps of "web-2" (their run would start "2-"). */
static int guest_dump_name(const char *name, const char *g)
{
	size_t gl = strlen(g);
	const char *p = name + gl + 1;

	if (strncmp(name, g, gl) || name[gl] != '-')
		return 0;
	if (!digits(&p, 8, 8) || *p++ != 'T' || !digits(&p, 6, 6) || *p++ != '.' ||
	    !digits(&p, 6, 6) || *p++ != 'Z' || *p++ != '-' || !digits(&p, 1, 10))
		return 0;
	if (*p == '.' && (p++, !digits(&p, 1, 10)))
		return 0;
	if (strncmp(p, "-vcpu", 5))
		return 0;
	p += 5;
	if (!digits(&p, 1, 10) || *p++ != '-' || !digits(&p, 6, 20))
		return 0;
	return !strcmp(p, ".json");
}

struct kept {
	char *name;
	struct timespec mtime;
	uint64_t size;
};

static int older(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

int xg_dump_retain(const char *dir, const char *guest, uint64_t count, uint64_t bytes, uint64_t age,
		   const char *spare, struct xg_error *err)
{
	/* the vCPUs of one process take turns: two scans deciding at once would both count the
	 * file the other is removing */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	char g[GUEST_NAME_MAX + 1];
	struct kept *k = NULL;
	size_t nk = 0, cap = 0, left;
	uint64_t total = 0;
	time_t now = time(NULL);
	struct dirent *de;
	int removed = 0, dfd;
	DIR *d;

	err->msg[0] = 0;
	if (!dir || (!count && !bytes && !age))
		return 0;
	sanitize(guest, g, sizeof(g));
	pthread_mutex_lock(&lock);
	d = opendir(dir);
	if (!d) {
		set_err(err, "dump_keep: cannot read %s: %s", dir, strerror(errno));
		goto out;
	}
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (!guest_dump_name(de->d_name, g) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (nk == cap) {
			size_t nc = cap ? 2 * cap : 64;
			struct kept *nk2 = realloc(k, nc * sizeof(*k));

			if (!nk2) {
				set_err(err, "dump_keep: out of memory listing %s", dir);
				break;
			}
			k = nk2, cap = nc;
		}
		k[nk].name = strdup(de->d_name);
		if (!k[nk].name) {
			set_err(err, "dump_keep: out of memory listing %s", dir);
			break;
		}
		k[nk].mtime = st.st_mtim;
		k[nk].size = (uint64_t)st.st_size;
		total += k[nk].size;
		nk++;
	}
	if (err->msg[0]) /* a partial list would remove by the wrong order */
		goto close;
	qsort(k, nk, sizeof(*k), older);
	left = nk;
	for (size_t i = 0; i < nk; i++) {
		int old = age && now - k[i].mtime.tv_sec > (time_t)age;

		if (!old && (!count || left <= count) && (!bytes || total <= bytes))
			break; /* the rest are newer and within the limits */
		if (spare && !strcmp(k[i].name, spare))
			continue;
		if (unlinkat(dfd, k[i].name, 0) == 0 || errno == ENOENT) {
			removed++;
			left--;
			total -= k[i].size;
		} else {
			set_err(err, "dump_keep: cannot remove %s/%s: %s", dir, k[i].name,
				strerror(errno));
		}
	}
close:
	closedir(d);
out:
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < nk; i++)
		free(k[i].name);
	free(k);
	return removed;
}

int xg_dump_write(const struct xg_dump_req *r, char *path, size_t path_size, struct xg_error *err)
{
	struct xg_error local;
	char name[GUEST_NAME_MAX + RUN_ID_MAX + 64], guest[GUEST_NAME_MAX + 1], run[RUN_ID_MAX];
	char tmp[PATH_MAX], final[PATH_MAX];
	char *text;
	size_t len = 0;
	int w1, w2;

	if (!err)
		err = &local;
	if (!r || !r->dir || !r->dir[0]) {
		set_err(err, "no dump directory given (set dump_dir)");
		return -1;
	}
	sanitize(r->guest, guest, sizeof(guest));
	if (r->run)
		sanitize(r->run, run, sizeof(run));
	else
		process_run_id(run, sizeof(run));
	snprintf(name, sizeof(name), "%s-%s-vcpu%d-%06" PRIu64 ".json", guest, run, r->vcpu,
		 r->seq);
	w1 = snprintf(final, sizeof(final), "%s/%s", r->dir, name);
	w2 = snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", r->dir, name, (long)getpid());
	if (w1 < 0 || w2 < 0 || (size_t)w2 >= sizeof(tmp)) {
		set_err(err, "dump directory %.400s...: path too long", r->dir);
		return -1;
	}
	if (path && path_size && (size_t)w1 >= path_size) {
		set_err(err, "dump path %s needs %d bytes and the caller's buffer has %zu", final,
			w1 + 1, path_size);
		return -1;
	}
	if (r->dir_is_default ? make_dirs(r->dir, err) : make_dir(r->dir, err))
		return -1;
	text = render(r, &len);
	if (!text) {
		set_err(err, "out of memory building the dump for %s", final);
		return -1;
	}
	w1 = publish(tmp, final, text, len, err);
	free(text);
	if (w1)
		return -1;
	sync_dir(r->dir);
	if (path && path_size)
		snprintf(path, path_size, "%s", final);
	return 0;
}
