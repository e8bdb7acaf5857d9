/*
 * replay.c - `exitgate replay`: the exits of a record fed to a policy offline, on a fake
 * vCPU per recorded vCPU that answers from the record, and the verdicts compared with the
 * recorded ones.
 *
 * The fake vCPU answers a read with the recorded answer to the same question: the next
 * unused one made while the recorded policy ran, else the baseline (trace.h), else the last
 * one used (a second read of the same register). Guest memory is also answered from any
 * recorded reads that cover the bytes asked, and a translation from one of the same page. A
 * read nobody recorded fails (-ENODATA, the policy sees an error) and is named in the
 * output. Writes, injections and pauses succeed and are kept: they are the verdict carried
 * out, compared with the recorded ones together with the verdict, the next step, the
 * failure kind and the reason. Dumps are not written (logged only).
 *
 * XSAVE images are the recording host's (trace.h HEAD): each one handed to the emulator is
 * first moved into this host's layout (xg_emu_x86_xs_move), so that a record of an AMD host
 * replays on an Intel one and the reverse.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "exit/json.h"
#include "trace/trace.h"
#include "xg_emu_arm64.h"
#include "xg_emu_x86.h"

struct eff {
	uint8_t kind;
	uint64_t a, b, c;
	uint32_t blen;
	uint8_t *blob;
};

struct effs {
	struct eff *e;
	size_t n, cap;
};

struct fake {
	const struct xg_trc_exit *x;
	/* the layout of the record's XSAVE images */
	const struct xg_emu_x86_xs_layout *xs;
	uint8_t *used; /* per op of x */
	size_t used_cap;
	struct effs out;
	unsigned missing;
	char miss[160];
};

struct rvcpu {
	char guest[256];
	uint32_t index;
	xg_vcpu *v;
	struct fake f;
};

static void add_eff(struct effs *s, unsigned kind, uint64_t a, uint64_t b, uint64_t c,
		    const void *blob, size_t blen)
{
	struct eff *e;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		void *p = realloc(s->e, cap * sizeof(*s->e));
		if (!p)
			return;
		s->e = p;
		s->cap = cap;
	}
	e = &s->e[s->n];
	*e = (struct eff){.kind = (uint8_t)kind, .a = a, .b = b, .c = c};
	/* set_x86_regs carries GPRs, RIP and RFLAGS (exitgate.h): only those compare, the
	 * rest of the struct (and its padding) is whatever the caller had */
	if (kind == XG_TRC_SET_X86_REGS && blen == sizeof(struct xg_emu_x86_regs)) {
		struct xg_emu_x86_regs r;
		memcpy(&r, blob, sizeof(r));
		blen = sizeof(r.gpr) + 16;
		e->blob = malloc(blen);
		if (e->blob) {
			memcpy(e->blob, r.gpr, sizeof(r.gpr));
			memcpy(e->blob + sizeof(r.gpr), &r.rip, 8);
			memcpy(e->blob + sizeof(r.gpr) + 8, &r.rflags, 8);
		}
	} else if (blen) {
		e->blob = malloc(blen);
		if (e->blob)
			memcpy(e->blob, blob, blen);
	}
	e->blen = e->blob ? (uint32_t)blen : 0;
	s->n++;
}

static void clear_effs(struct effs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->e[i].blob);
	s->n = 0;
}

static void missing(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void missing(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->missing++)
		return;
	va_start(ap, fmt);
	vsnprintf(f->miss, sizeof(f->miss), fmt, ap);
	va_end(ap);
}

/* Does op i answer (kind, key)? name for get_reg, a/b for addressed reads. */
static int same_key(const struct xg_trc_op *o, unsigned kind, const char *name, uint64_t a,
		    uint64_t b)
{
	if (o->kind != kind)
		return 0;
	switch (kind) {
	case XG_TRC_GET_REG:
		return name && o->blen == strlen(name) && !memcmp(o->blob, name, o->blen);
	case XG_TRC_READ_GPA:
	case XG_TRC_MMIO_READ:
		return o->a == a && o->b == b;
	case XG_TRC_TRANSLATE:
		return o->a == a;
	default:
		return 1;
	}
}

static const struct xg_trc_op *answer(struct fake *f, unsigned kind, const char *name, uint64_t a,
				      uint64_t b)
{
	const struct xg_trc_exit *x = f->x;
	const struct xg_trc_op *base = NULL, *last = NULL;

	for (uint32_t i = 0; i < x->nops; i++) {
		const struct xg_trc_op *o = &x->ops[i];
		if (!same_key(o, kind, name, a, b))
			continue;
		if (o->flags & XG_TRC_OP_BASE) {
			base = o;
		} else if (f->used[i]) {
			last = o;
		} else {
			f->used[i] = 1;
			return o;
		}
	}
	return base ? base : last;
}

static int f_get_reg(void *p, const char *name, uint64_t *val)
{
	struct fake *f = p;
	const struct xg_trc_op *o = answer(f, XG_TRC_GET_REG, name, 0, 0);

	if (!o) {
		missing(f, "register %s", name);
		return -ENODATA;
	}
	*val = o->a;
	return o->rc;
}

static int f_read_gpa(void *p, uint64_t gpa, void *buf, size_t len)
{
	struct fake *f = p;
	const struct xg_trc_op *o = answer(f, XG_TRC_READ_GPA, NULL, gpa, len);
	uint8_t *d = buf;

	if (o) {
		if (o->rc)
			return o->rc;
		memcpy(buf, o->blob, len);
		return 0;
	}
	/* every byte from some recorded read that holds it */
	for (size_t k = 0; k < len; k++) {
		uint64_t at = gpa + k;
		int found = 0;
		for (uint32_t i = 0; i < f->x->nops && !found; i++) {
			const struct xg_trc_op *r = &f->x->ops[i];
			if (r->kind == XG_TRC_READ_GPA && !r->rc && at >= r->a &&
			    at - r->a < r->blen) {
				d[k] = r->blob[at - r->a];
				found = 1;
			}
		}
		if (!found) {
			missing(f, "guest memory at 0x%llx (%zu bytes)", (unsigned long long)gpa,
				len);
			return -ENODATA;
		}
	}
	return 0;
}

static int f_translate(void *p, uint64_t gva, uint64_t *gpa)
{
	struct fake *f = p;
	const struct xg_trc_op *o = answer(f, XG_TRC_TRANSLATE, NULL, gva, 0);

	if (o) {
		*gpa = o->b;
		return o->rc;
	}
	for (uint32_t i = 0; i < f->x->nops; i++) {
		const struct xg_trc_op *r = &f->x->ops[i];
		if (r->kind == XG_TRC_TRANSLATE && !r->rc && (r->a >> 12) == (gva >> 12)) {
			*gpa = (r->b & ~0xfffull) | (gva & 0xfff);
			return 0;
		}
	}
	missing(f, "the translation of 0x%llx", (unsigned long long)gva);
	return -ENODATA;
}

/* The recorded answer to a read of a blob of size bytes: its rc, *op the op when 0. */
static int blob_answer(struct fake *f, unsigned kind, size_t size, const struct xg_trc_op **op)
{
	const struct xg_trc_op *o = answer(f, kind, NULL, 0, 0);

	if (!o || (!o->rc && o->blen != size)) {
		missing(f, "%s", xg_trc_kind_name(kind));
		return -ENODATA;
	}
	*op = o;
	return o->rc;
}

static int blob_get(struct fake *f, unsigned kind, void *out, size_t size)
{
	const struct xg_trc_op *o;
	int rc = blob_answer(f, kind, size, &o);

	if (!rc)
		memcpy(out, o->blob, size);
	return rc;
}

static int f_get_x86_regs(void *p, struct xg_emu_x86_regs *r)
{
	return blob_get(p, XG_TRC_GET_X86_REGS, r, sizeof(*r));
}

/* the recorded image in this host's layout, where the emulator looks (a plain copy when the
 * layouts are the same) */
static int f_get_xsave(void *p, void *buf)
{
	struct fake *f = p;
	const struct xg_trc_op *o;
	int rc = blob_answer(f, XG_TRC_GET_XSAVE, XG_EMU_X86_XSAVE_SIZE, &o);

	if (!rc)
		xg_emu_x86_xs_move(buf, o->blob, f->xs, &xg_emu_x86_xs_layout);
	return rc;
}

static int f_get_arm64_regs(void *p, struct xg_emu_arm64_regs *r)
{
	return blob_get(p, XG_TRC_GET_ARM64_REGS, r, sizeof(*r));
}

static int f_get_arm64_vregs(void *p, struct xg_emu_arm64_vregs *v)
{
	return blob_get(p, XG_TRC_GET_ARM64_VREGS, v, sizeof(*v));
}

static int f_mmio_read(void *p, uint64_t gpa, void *buf, size_t len)
{
	struct fake *f = p;
	const struct xg_trc_op *o = answer(f, XG_TRC_MMIO_READ, NULL, gpa, len);

	if (!o) {
		missing(f, "a device read at 0x%llx (%zu bytes)", (unsigned long long)gpa, len);
		return -ENODATA;
	}
	if (o->rc)
		return o->rc;
	memcpy(buf, o->blob, len);
	return 0;
}

/* The effects: kept, and answered as the VMM answered the same one in the record (a
 * write_gpa to a device's address failed there, and the emulator went on to mmio_write),
 * or successful when the recorded policy did not do it. */
static int eff_rc(struct fake *f, unsigned kind, uint64_t a, uint64_t b)
{
	for (uint32_t i = 0; i < f->x->nops; i++) {
		const struct xg_trc_op *o = &f->x->ops[i];
		if (o->kind == kind && !f->used[i] && !(o->flags & XG_TRC_OP_BASE) && o->a == a &&
		    o->b == b) {
			f->used[i] = 1;
			return o->rc;
		}
	}
	return 0;
}

static int f_set_reg(void *p, const char *name, uint64_t val)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_SET_REG, val, 0, 0, name, strlen(name));
	return eff_rc(p, XG_TRC_SET_REG, val, 0);
}
static int f_write_gpa(void *p, uint64_t gpa, const void *buf, size_t len)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_WRITE_GPA, gpa, len, 0, buf, len);
	return eff_rc(p, XG_TRC_WRITE_GPA, gpa, len);
}
static int f_inject(void *p, unsigned vector, int has, uint32_t code)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_INJECT, vector, has != 0, code, NULL, 0);
	return eff_rc(p, XG_TRC_INJECT, vector, has != 0);
}
static int f_abort(void *p)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_EXT_ABORT, 0, 0, 0, NULL, 0);
	return eff_rc(p, XG_TRC_EXT_ABORT, 0, 0);
}
static int f_attrs(void *p, uint64_t gpa, uint64_t size, int priv)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_SET_ATTRS, gpa, size, priv != 0, NULL, 0);
	return eff_rc(p, XG_TRC_SET_ATTRS, gpa, size);
}
static int f_pause(void *p, const char *reason)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_PAUSE, 0, 0, 0, reason,
		reason ? strnlen(reason, 1024) : 0);
	return eff_rc(p, XG_TRC_PAUSE, 0, 0);
}
static int f_resume(void *p)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_RESUME, 0, 0, 0, NULL, 0);
	return eff_rc(p, XG_TRC_RESUME, 0, 0);
}
static int f_set_x86_regs(void *p, const struct xg_emu_x86_regs *r)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_SET_X86_REGS, 0, 0, 0, r, sizeof(*r));
	return eff_rc(p, XG_TRC_SET_X86_REGS, 0, 0);
}
static int f_set_xsave(void *p, const void *buf)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_SET_XSAVE, 0, 0, 0, buf, XG_EMU_X86_XSAVE_SIZE);
	return eff_rc(p, XG_TRC_SET_XSAVE, 0, 0);
}
static int f_mmio_write(void *p, uint64_t gpa, const void *buf, size_t len)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_MMIO_WRITE, gpa, len, 0, buf, len);
	return eff_rc(p, XG_TRC_MMIO_WRITE, gpa, len);
}
static int f_set_arm64_regs(void *p, const struct xg_emu_arm64_regs *r)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_SET_ARM64_REGS, 0, 0, 0, r, sizeof(*r));
	return eff_rc(p, XG_TRC_SET_ARM64_REGS, 0, 0);
}
static int f_set_arm64_vregs(void *p, const struct xg_emu_arm64_vregs *v)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_SET_ARM64_VREGS, 0, 0, 0, v, sizeof(*v));
	return eff_rc(p, XG_TRC_SET_ARM64_VREGS, 0, 0);
}
static int f_arm64_sync(void *p, uint32_t esr, uint64_t far)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_ARM64_SYNC, esr, far, 0, NULL, 0);
	return eff_rc(p, XG_TRC_ARM64_SYNC, esr, far);
}
static int f_msr_reply(void *p, int error, uint64_t value)
{
	add_eff(&((struct fake *)p)->out, XG_TRC_MSR_REPLY, error != 0, value, 0, NULL, 0);
	return eff_rc(p, XG_TRC_MSR_REPLY, error != 0, value);
}

static void fake_ops(struct xg_vcpu_ops *o, enum xg_arch arch)
{
	*o = (struct xg_vcpu_ops){
	    .get_reg = f_get_reg,
	    .set_reg = f_set_reg,
	    .read_gpa = f_read_gpa,
	    .write_gpa = f_write_gpa,
	    .translate_gva = f_translate,
	    .set_memory_attributes = f_attrs,
	    .pause = f_pause,
	    .resume = f_resume,
	    .mmio_read = f_mmio_read,
	    .mmio_write = f_mmio_write,
	};
	if (arch == XG_ARCH_ARM64) {
		o->inject_external_abort = f_abort;
		o->get_arm64_regs = f_get_arm64_regs;
		o->set_arm64_regs = f_set_arm64_regs;
		o->get_arm64_vregs = f_get_arm64_vregs;
		o->set_arm64_vregs = f_set_arm64_vregs;
		o->inject_arm64_sync = f_arm64_sync;
	} else {
		o->inject_exception = f_inject;
		o->get_x86_regs = f_get_x86_regs;
		o->set_x86_regs = f_set_x86_regs;
		o->get_xsave = f_get_xsave;
		o->set_xsave = f_set_xsave;
		o->msr_reply = f_msr_reply;
	}
}

/* ---- comparing and printing ---- */

struct side {
	unsigned next, verdict, fail, dumped;
	const char *reason;
	struct effs *effs;
};

/* An XSAVE image effect: the register state it loads (xg_emu_x86_xs_state) */
static int is_image(const struct eff *e)
{
	return e->kind == XG_TRC_SET_XSAVE && e->blen == XG_EMU_X86_XSAVE_SIZE;
}

/* Two effects are the same when they change the guest alike: XSAVE images by the register
 * state they load, not by which components they mark in use (an emulator before 66a2344
 * marked every XCR0 component: a record of it replays as the same), the rest byte for
 * byte. */
static int eff_eq(const struct eff *a, const struct eff *b)
{
	static uint8_t sa[XG_EMU_X86_XSAVE_SIZE], sb[XG_EMU_X86_XSAVE_SIZE];

	if (a->kind != b->kind || a->a != b->a || a->b != b->b || a->c != b->c ||
	    a->blen != b->blen)
		return 0;
	if (is_image(a)) {
		xg_emu_x86_xs_state(sa, a->blob);
		xg_emu_x86_xs_state(sb, b->blob);
		return !memcmp(sa, sb, sizeof(sa));
	}
	return !a->blen || !memcmp(a->blob, b->blob, a->blen);
}

static int side_eq(const struct side *a, const struct side *b)
{
	if (a->next != b->next || a->verdict != b->verdict || a->fail != b->fail ||
	    a->dumped != b->dumped || strcmp(a->reason, b->reason) || a->effs->n != b->effs->n)
		return 0;
	for (size_t i = 0; i < a->effs->n; i++)
		if (!eff_eq(&a->effs->e[i], &b->effs->e[i]))
			return 0;
	return 1;
}

static const char *const next_names[] = {"run", "pause", "stop", "error"};

static void eff_text(const struct eff *e, char *s, size_t n)
{
	const char *k = xg_trc_kind_name(e->kind);

	switch (e->kind) {
	case XG_TRC_SET_REG:
		snprintf(s, n, "%s %.*s=0x%llx", k, (int)e->blen, e->blob ? (char *)e->blob : "",
			 (unsigned long long)e->a);
		break;
	case XG_TRC_INJECT:
		if (e->b)
			snprintf(s, n, "%s %llu (error code 0x%llx)", k, (unsigned long long)e->a,
				 (unsigned long long)e->c);
		else
			snprintf(s, n, "%s %llu", k, (unsigned long long)e->a);
		break;
	case XG_TRC_WRITE_GPA:
	case XG_TRC_MMIO_WRITE: {
		/* the bytes written (the first 16), so that a DIFF in them shows */
		char hex[2 * 16 + 4] = "";
		for (uint32_t i = 0; i < e->blen && i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", e->blob[i]);
		if (e->blen > 16)
			strcat(hex, "..");
		snprintf(s, n, "%s 0x%llx+%llu=%s", k, (unsigned long long)e->a,
			 (unsigned long long)e->b, hex);
		break;
	}
	case XG_TRC_SET_ATTRS:
		snprintf(s, n, "%s 0x%llx+%llu%s", k, (unsigned long long)e->a,
			 (unsigned long long)e->b, e->c ? " private" : " shared");
		break;
	case XG_TRC_SET_XSAVE:
		/* the state loaded, as a checksum: lines that differ say the states do */
		if (is_image(e)) {
			static uint8_t st[XG_EMU_X86_XSAVE_SIZE];
			xg_emu_x86_xs_state(st, e->blob);
			snprintf(s, n, "%s state %08x", k, xg_trc_crc32(0, st, sizeof(st)));
			break;
		}
		snprintf(s, n, "%s", k);
		break;
	case XG_TRC_SET_X86_REGS:
		if (e->blen >= 17 * 8) {
			uint64_t rip;
			memcpy(&rip, e->blob + 16 * 8, 8);
			snprintf(s, n, "%s rip=0x%llx", k, (unsigned long long)rip);
			break;
		}
		/* fall through */
	case XG_TRC_ARM64_SYNC:
	case XG_TRC_MSR_REPLY:
		snprintf(s, n, "%s 0x%llx 0x%llx", k, (unsigned long long)e->a,
			 (unsigned long long)e->b);
		break;
	default:
		snprintf(s, n, "%s", k);
	}
}

static void side_print(FILE *out, const struct side *s, int json)
{
	char t[200];

	if (json) {
		fprintf(out,
			"{\"verdict\":\"%s\",\"next\":\"%s\",\"fail\":\"%s\",\"dumped\":%s,"
			"\"reason\":",
			xg_verdict_name(s->verdict), next_names[s->next], xg_fail_name(s->fail),
			s->dumped ? "true" : "false");
		xg_json_str(out, s->reason);
		fprintf(out, ",\"effects\":[");
		for (size_t i = 0; i < s->effs->n; i++) {
			eff_text(&s->effs->e[i], t, sizeof(t));
			if (i)
				fputc(',', out);
			xg_json_str(out, t);
		}
		fprintf(out, "]}");
		return;
	}
	fprintf(out, "%s%s", s->dumped ? "dump " : "", xg_verdict_name(s->verdict));
	if (s->fail)
		fprintf(out, " (policy failed: %s)", xg_fail_name(s->fail));
	if (s->reason[0])
		fprintf(out, " \"%s\"", s->reason);
	fprintf(out, " -> %s", next_names[s->next]);
	for (size_t i = 0; i < s->effs->n; i++) {
		eff_text(&s->effs->e[i], t, sizeof(t));
		fprintf(out, "%s%s", i ? ", " : " [", t);
	}
	if (s->effs->n)
		fputc(']', out);
}

static void on_log(void *ud, const char *line)
{
	(void)ud;
	fprintf(stderr, "exitgate replay: policy: %s\n", line);
}

/* Does an XSAVE image of the record have AVX-512 state in use: XSTATE_BV bit 5 (opmask),
 * 6 (ZMM_Hi256) or 7 (Hi16_ZMM) set (SDM Vol. 1 13.4.2), and that component not all zero,
 * its initial state (13.6), where either vendor keeps it? Until version 3 the emulator set
 * the bits of all the components XCR0 enables when it wrote an image back (0xe7 after an SSE
 * move; now it leaves untouched initial components initial), so in a version 2 record the
 * bit alone would say so of every record of a guest with AVX-512 enabled. */
static int uses_avx512(const struct xg_trc *t)
{
	const struct xg_emu_x86_xs_layout *both[2] = {&xg_emu_x86_xs_amd, &xg_emu_x86_xs_intel};

	for (size_t i = 0; i < t->nexits; i++)
		for (uint32_t k = 0; k < t->exits[i].nops; k++) {
			const struct xg_trc_op *o = &t->exits[i].ops[k];
			if ((o->kind != XG_TRC_GET_XSAVE && o->kind != XG_TRC_SET_XSAVE) ||
			    o->blen != XG_EMU_X86_XSAVE_SIZE)
				continue;
			for (unsigned c = 0; c < 3; c++) {
				if (!(o->blob[XG_EMU_X86_XS_XSTATE_BV] & (0x20 << c)))
					continue;
				for (unsigned v = 0; v < 2; v++) {
					unsigned size, at = xg_emu_x86_xs_comp(both[v], c, &size);
					for (unsigned b = 0; b < size; b++)
						if (o->blob[at + b])
							return 1;
				}
			}
		}
	return 0;
}

/* The layout the record's images are in (*xs): the HEAD's, or for a version 2 record, which
 * does not say, this host's - said once when it matters (AVX-512 state in use). -1 when
 * this host's own layout cannot take them (said). */
static int record_layout(const char *path, const struct xg_trc *t, struct xg_emu_x86_xs_layout *xs)
{
	const struct xg_emu_x86_xs_layout *h = &xg_emu_x86_xs_layout, *amd = &xg_emu_x86_xs_amd,
					  *intel = &xg_emu_x86_xs_intel;
	char why[160];

	*xs = *h;
	if (t->version < 3) {
		if (uses_avx512(t))
			fprintf(
			    stderr,
			    "exitgate replay: %s: a version %u record does not say where its "
			    "host kept the AVX-512 registers (opmask, ZMM) in the XSAVE image, "
			    "and its exits use them: they are read as this host's (opmask at "
			    "%u, ZMM_Hi256 at %u, Hi16_ZMM at %u). If the record was made on a "
			    "host of the other CPU vendor (AMD: %u, %u, %u; Intel: %u, %u, %u), "
			    "those exits see the wrong vector registers and may differ: replay "
			    "it on a host of the recording vendor, or record it again with this "
			    "exitgate (version %u records carry the layout)\n",
			    path, t->version, h->opmask, h->zmmh, h->hi16zmm, amd->opmask,
			    amd->zmmh, amd->hi16zmm, intel->opmask, intel->zmmh, intel->hi16zmm,
			    XG_TRACE_VERSION);
		return 0;
	}
	*xs = (struct xg_emu_x86_xs_layout){t->xs_opmask, t->xs_zmmh, t->xs_hi16zmm};
	if (memcmp(xs, h, sizeof(*xs)) &&
	    xg_emu_x86_xs_layout_check(h, XG_EMU_X86_XSAVE_SIZE, why, sizeof(why))) {
		fprintf(stderr,
			"exitgate replay: %s: the record's XSAVE images cannot be moved into this "
			"host's layout: %s\n",
			path, why);
		return -1;
	}
	return 0;
}

int xg_replay(const struct xg_replay_opts *o, FILE *out)
{
	struct xg_trc t;
	struct xg_error err;
	xg_config *cfg = NULL;
	xg_engine *e = NULL;
	struct rvcpu *vs = NULL;
	size_t nv = 0, differ = 0, nmissing = 0;
	struct effs rec = {0};
	struct xg_emu_x86_xs_layout xs;
	uint8_t img[XG_EMU_X86_XSAVE_SIZE];
	int status = 2;

	if (xg_trc_load(o->path, &t, &err)) {
		fprintf(stderr, "exitgate replay: %s\n", err.msg);
		return 2;
	}
	if (record_layout(o->path, &t, &xs)) {
		xg_trc_free(&t);
		return 2;
	}
	if (o->policy) {
		cfg = xg_config_for_policy(o->policy, &err);
	} else if (!t.config[0]) {
		snprintf(err.msg, sizeof(err.msg),
			 "the record names no configuration: give the policy with --policy");
	} else {
		cfg = xg_config_load(t.config, &err);
		if (!cfg) {
			char m[sizeof(err.msg)];
			memcpy(m, err.msg, sizeof(m));
			snprintf(err.msg, sizeof(err.msg),
				 "the recorded configuration cannot be loaded (give the policy "
				 "with --policy): %.400s",
				 m);
		}
	}
	if (!cfg || !(e = xg_engine_new(cfg, &err))) {
		fprintf(stderr, "exitgate replay: %s\n", err.msg);
		goto out;
	}
	xg_engine_set_log(e, on_log, NULL);
	vs = calloc(t.nexits ? t.nexits : 1, sizeof(*vs));
	if (!vs) {
		fprintf(stderr, "exitgate replay: out of memory\n");
		goto out;
	}
	if (o->json)
		fprintf(out, "[");
	for (size_t i = 0; i < t.nexits; i++) {
		const struct xg_trc_exit *x = &t.exits[i];
		const char *guest = o->policy ? "default" : x->guest;
		struct rvcpu *rv = NULL;
		struct xg_result res;
		struct side a, b;
		uint32_t reason;
		const char *rname;
		int same;

		for (size_t k = 0; k < nv && !rv; k++)
			if (vs[k].index == x->vcpu && !strcmp(vs[k].guest, x->guest))
				rv = &vs[k];
		if (!rv) {
			struct xg_vcpu_ops ops;
			rv = &vs[nv++];
			snprintf(rv->guest, sizeof(rv->guest), "%s", x->guest);
			rv->index = x->vcpu;
			rv->f.xs = &xs;
			fake_ops(&ops, (enum xg_arch)t.arch);
			/* the recording VMM's limit, or the emulator takes what it refused */
			if (x->flags & XG_TRC_NO_AVX512)
				ops.flags |= XG_OPS_NO_AVX512_STATE;
			rv->v = xg_vcpu_attach(e, guest, (int)x->vcpu, &ops, &rv->f, &err);
			if (!rv->v) {
				fprintf(stderr, "exitgate replay: %s: exit %zu (byte %llu): %s\n",
					o->path, i, (unsigned long long)x->offset, err.msg);
				goto out;
			}
			/* replay writes no dumps: a `dump` verdict is logged only */
			free(rv->v->ls->dump_dir);
			rv->v->ls->dump_dir = NULL;
		}
		free(rv->f.used);
		rv->f.used = calloc(x->nops ? x->nops : 1, 1);
		if (!rv->f.used) {
			fprintf(stderr, "exitgate replay: out of memory\n");
			goto out;
		}
		rv->f.x = x;
		rv->f.missing = 0;
		clear_effs(&rv->f.out);
		res = xg_handle_exit(rv->v, x->run, x->run_len, x->kvm_errno);

		clear_effs(&rec);
		for (uint32_t k = 0; k < x->nops; k++) {
			const struct xg_trc_op *op = &x->ops[k];
			const uint8_t *blob = op->blob;
			if (op->flags & XG_TRC_OP_BASE || !xg_trc_kind_is_effect(op->kind))
				continue;
			/* The images compare in this host's layout: the recorded one is moved
			 * as the replayed one's source was (f_get_xsave). Not the other way:
			 * the replayed image lost, in its move, what only the record's layout
			 * kept outside the components (AMD's PKRU at 2432 is in Intel's
			 * Hi16_ZMM), and moved back it would differ there. */
			if (op->kind == XG_TRC_SET_XSAVE && op->blen == sizeof(img)) {
				xg_emu_x86_xs_move(img, op->blob, &xs, &xg_emu_x86_xs_layout);
				blob = img;
			}
			add_eff(&rec, op->kind, op->a, op->b, op->c, blob, op->blen);
		}
		a = (struct side){x->next, x->verdict, x->fail, x->dumped, x->reason, &rec};
		b = (struct side){
		    res.next,  res.verdict, res.fail, res.dumped != 0, res.reason ? res.reason : "",
		    &rv->f.out};
		same = side_eq(&a, &b);
		differ += !same;
		nmissing += rv->f.missing != 0;
		memcpy(&reason, x->run + 8, 4); /* kvm_run.exit_reason (api.rst 5) */
		rname = xg_exit_reason_name(reason) ? xg_exit_reason_name(reason) : "unknown";
		if (o->json) {
			fprintf(out, "%s\n{\"seq\":%llu,\"offset\":%llu,\"t\":%.6f,\"guest\":",
				i ? "," : "", (unsigned long long)x->seq,
				(unsigned long long)x->offset, (double)x->t_ns / 1e9);
			xg_json_str(out, x->guest);
			fprintf(out,
				",\"vcpu\":%u,\"exit\":\"%s\",\"same\":%s,\"recorded\":", x->vcpu,
				rname, same ? "true" : "false");
			side_print(out, &a, 1);
			fprintf(out, ",\"replayed\":");
			side_print(out, &b, 1);
			if (rv->f.missing) {
				fprintf(out, ",\"not_recorded\":");
				xg_json_str(out, rv->f.miss);
			}
			fputc('}', out);
		} else if (!same || !o->policy || o->all) {
			fprintf(out, "%s#%llu %s/%u %s t=%.6f: ", same ? "" : "DIFF ",
				(unsigned long long)x->seq, x->guest, x->vcpu, rname,
				(double)x->t_ns / 1e9);
			if (same) {
				side_print(out, &b, 0);
			} else {
				fprintf(out, "\n    recorded: ");
				side_print(out, &a, 0);
				fprintf(out, "\n    replayed: ");
				side_print(out, &b, 0);
			}
			if (rv->f.missing)
				fprintf(out,
					"\n    (the policy read %s, which the record does not "
					"hold%s)",
					rv->f.miss, rv->f.missing > 1 ? ", and more" : "");
			fputc('\n', out);
		}
	}
	if (o->json)
		fprintf(out, "\n]\n");
	else
		fprintf(out, "%zu exits replayed under %s: %zu differ from the record%s\n",
			t.nexits, o->policy ? o->policy : "the recorded configuration", differ,
			nmissing ? " (some read state the record does not hold: see above)" : "");
	if (t.end_dropped)
		fprintf(stderr,
			"exitgate replay: %s: %llu exits of the run were not recorded (%s)\n",
			o->path, (unsigned long long)t.end_dropped,
			t.end_why == XG_TRC_END_CAP ? "the size cap" : "a write failure");
	status = differ ? 1 : 0;
out:
	for (size_t k = 0; k < nv; k++) {
		if (vs[k].v)
			xg_vcpu_detach(vs[k].v);
		free(vs[k].f.used);
		clear_effs(&vs[k].f.out);
		free(vs[k].f.out.e);
	}
	clear_effs(&rec);
	free(rec.e);
	free(vs);
	xg_engine_free(e);
	xg_config_free(cfg);
	xg_trc_free(&t);
	return status;
}
