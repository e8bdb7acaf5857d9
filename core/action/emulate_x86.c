/*
 * emulate_x86.c - the `emulate` verdict carried out by exitgate's x86 emulator
 * (core/emu/x86) through the VMM's vCPU ops.
 *
 * The emulator sees only struct xg_emu_x86_ops; this file is the adapter: registers and
 * vector state from the VMM, linear addresses translated by walking the guest's page
 * tables (x86_walk.c), each access sent to guest RAM (ram_ptr or read_gpa, write_gpa) or,
 * where there is no RAM, to the VMM's devices (mmio_read/mmio_write). An access that reaches
 * neither reads as all-ones and drops its write, as on a floating bus; it is not a host failure.
 *
 * On a VMM that cannot carry the AVX-512 register state (XG_OPS_NO_AVX512_STATE: opmask,
 * ZMM bits 511:256, ZMM16-31; kvm_pvm is one), an EVEX instruction that needs that state
 * is refused before anything changes, rather than emulated against stale registers. EVEX
 * moves of 128 or 256 bits between memory and XMM/YMM0-15 without a mask are taken: their
 * only AVX-512 effect is zeroing bits 511:256 of the destination, which such a VMM keeps
 * zero anyway when the guest never loaded them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xg_hot.h"
#include "action/emulate_x86.h"
#include "action/x86_walk.h"
#include "exitgate.h"
#include "xg_emu_x86.h"

/* Translations the emulator's translate stage made, reused by its reads and writes (a walk
 * is four reads of guest RAM in long mode): what a CPU's TLB does within one instruction. */
#define BRIDGE_TLB 4

struct bridge {
	const struct xg_vcpu_ops *ops;
	void *opaque;
	/* the direct path's: the memo's translation kept from one exit to the next (d_translate,
	 * xg_x86_walk_tlb). Beside ops and opaque, the only other field that path reads: at the
	 * bridge's end, 144 bytes on, it was one more line of stack on every repeated exit. */
	struct xg_emu_x86_tlb *kept;
	/* paging registers for the walks: the emulator's own copy, read by get_regs once per
	 * instruction and alive until it returns (it writes no control register); pointed to,
	 * not copied: the copy was ~0.5 KiB per exit */
	const struct xg_emu_x86_regs *regs;
	char *why;
	size_t n;
	struct {
		uint64_t la_page, gpa_page;
		unsigned kind;
	} tlb[BRIDGE_TLB];
	unsigned ntlb; /* entries filled, the next one replaced round robin after BRIDGE_TLB */
};

static int b_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct bridge *b = o;
	int rc = b->ops->get_x86_regs(b->opaque, r);

	if (!rc)
		b->regs = r;
	return rc;
}

static int b_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	struct bridge *b = o;
	return b->ops->set_x86_regs(b->opaque, r);
}

static int b_get_xsave(void *o, void *xs)
{
	struct bridge *b = o;
	return b->ops->get_xsave ? b->ops->get_xsave(b->opaque, xs) : -ENOSYS;
}

XG_HOT static int b_set_xsave(void *o, const void *xs)
{
	struct bridge *b = o;
	return b->ops->set_xsave ? b->ops->set_xsave(b->opaque, xs) : -ENOSYS;
}

/* The VMM's image lent as it is (exitgate.h lend_xsave): b_set_xsave passes it back. */
XG_HOT static int b_lend_xsave(void *o, void **xs)
{
	struct bridge *b = o;
	return b->ops->lend_xsave && b->ops->discard_xsave ? b->ops->lend_xsave(b->opaque, xs)
							   : -EOPNOTSUPP;
}

static int b_discard_xsave(void *o)
{
	struct bridge *b = o;
	return b->ops->discard_xsave ? b->ops->discard_xsave(b->opaque) : 0;
}

static int b_translate(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		       uint32_t *pf_error)
{
	struct bridge *b = o;
	uint64_t gpa;
	int rc = xg_x86_walk(b->ops, b->opaque, b->regs, la, kind, cpl, &gpa, pf_error);

	if (!rc) {
		unsigned i = b->ntlb++ % BRIDGE_TLB;
		b->tlb[i].la_page = la >> 12;
		b->tlb[i].gpa_page = gpa >> 12;
		b->tlb[i].kind = kind;
	}
	return rc;
}

/* to_gpa's way when the translate stage left no translation of la for this kind: a walk */
__attribute__((noinline, cold)) static int walk_again(struct bridge *b, uint64_t la, unsigned kind,
						      uint64_t *gpa)
{
	uint32_t pf;
	int rc = xg_x86_walk(b->ops, b->opaque, b->regs, la, kind, 0, gpa, &pf);

	return rc > 0 ? -EFAULT : rc; /* translated before: a fault now is a host-side change */
}

/* The GPA of la for an access the translate stage allowed: from its translation for the
 * same kind of access when there is one (the rights were checked there, at the access's
 * CPL), else by a walk. */
static inline int to_gpa(struct bridge *b, uint64_t la, unsigned kind, uint64_t *gpa)
{
	unsigned n = b->ntlb < BRIDGE_TLB ? b->ntlb : BRIDGE_TLB;

	for (unsigned i = 0; i < n; i++)
		if (b->tlb[i].la_page == la >> 12 && (b->tlb[i].kind & kind) == kind) {
			*gpa = b->tlb[i].gpa_page << 12 | (la & 0xfff);
			return 0;
		}
	return walk_again(b, la, kind, gpa);
}

/* A read at a GPA: guest RAM, else the VMM's device, else a floating bus. */
XG_HOT static int read_at(struct bridge *b, uint64_t gpa, void *buf, unsigned size)
{
	int rc;

	if (b->ops->ram_ptr) {
		/* one lookup decides RAM or device (exitgate.h ram_ptr: it agrees with read_gpa) */
		const void *p = b->ops->ram_ptr(b->opaque, gpa, size);
		if (p) {
			memcpy(buf, p, size);
			return 0;
		}
	} else {
		rc = b->ops->read_gpa ? b->ops->read_gpa(b->opaque, gpa, buf, size) : -EFAULT;
		if (rc != -EFAULT)
			return rc;
	}
	rc = b->ops->mmio_read ? b->ops->mmio_read(b->opaque, gpa, buf, size) : -ENODEV;
	if (rc == -ENODEV) {
		memset(buf, 0xff, size); /* nothing there: a floating bus reads all-ones */
		return 0;
	}
	return rc;
}

static int b_read(void *o, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	struct bridge *b = o;
	uint64_t gpa;
	int rc = to_gpa(b, la, kind == XG_EMU_X86_FETCH ? XG_EMU_X86_FETCH : XG_EMU_X86_READ, &gpa);

	return rc ? rc : read_at(b, gpa, buf, size);
}

/* A write at a GPA: guest RAM, else the VMM's device; nothing there drops it. */
static int write_at(struct bridge *b, uint64_t gpa, const void *buf, unsigned size)
{
	int rc;

	/* RAM by write_gpa (where a VMM may track dirty pages); a device straight to it when
	 * ram_ptr says there is no RAM, without write_gpa failing first */
	if (!b->ops->ram_ptr || b->ops->ram_ptr(b->opaque, gpa, size)) {
		rc = b->ops->write_gpa ? b->ops->write_gpa(b->opaque, gpa, buf, size) : -EFAULT;
		if (rc != -EFAULT)
			return rc;
	}
	rc = b->ops->mmio_write ? b->ops->mmio_write(b->opaque, gpa, buf, size) : -ENODEV;
	return rc == -ENODEV ? 0 : rc;
}

static int b_write(void *o, uint64_t la, const void *buf, unsigned size)
{
	struct bridge *b = o;
	uint64_t gpa;
	int rc = to_gpa(b, la, XG_EMU_X86_WRITE, &gpa);

	return rc ? rc : write_at(b, gpa, buf, size);
}

static int b_inject(void *o, const struct xg_emu_x86_exception *exc)
{
	struct bridge *b = o;
	int rc;

	if (!b->ops->inject_exception)
		return -ENOSYS;
	if (exc->vector == XG_EMU_X86_PF && b->ops->set_reg &&
	    (rc = b->ops->set_reg(b->opaque, "cr2", exc->cr2)))
		return rc;
	return b->ops->inject_exception(b->opaque, exc->vector, exc->has_error, exc->error);
}

/* XCR0 read again through the VMM's get_reg ("xcr0"), where it knows the name */
static int b_get_xcr0(void *o, uint64_t *xcr0)
{
	struct bridge *b = o;
	return b->ops->get_reg ? b->ops->get_reg(b->opaque, "xcr0", xcr0) : -ENOSYS;
}

/* Does this instruction need AVX-512 register state beyond XMM/YMM0-15 (SDM Vol. 1 15.2)? */
static int needs_avx512_state(const struct xg_emu_x86_insn *in)
{
	if (in->enc != XG_EMU_X86_ENC_EVEX)
		return 0;
	if (in->vl >= 2 || in->aaa || xg_emu_x86_writes_opmask(in))
		return 1;
	if ((in->has_modrm && in->reg >= 16) || (in->has_modrm && in->mod == 3 && in->rm >= 16))
		return 1;
	return in->vvvv >= 16;
}

static const char no_avx512[] = "this VMM cannot carry the AVX-512 register state (opmask, "
				"ZMM bits 511:256, ZMM16-31) that the instruction needs";

/* At DECODE only, and its answer depends on the decoded instruction and the VMM's flags
 * alone: what a memo of compiled instructions needs (xg_emu_x86.h), which calls it on each
 * hit too. */
static int b_hook(void *o, enum xg_emu_x86_stage stage, const struct xg_emu_x86_insn *in,
		  const struct xg_emu_x86_exception *exc)
{
	struct bridge *b = o;

	(void)exc;
	if (stage == XG_EMU_X86_STAGE_DECODE && (b->ops->flags & XG_OPS_NO_AVX512_STATE) &&
	    needs_avx512_state(in)) {
		snprintf(b->why, b->n, "%s", no_avx512);
		return 1;
	}
	return 0;
}

static const struct xg_emu_x86_ops bridge_ops = {
    .get_regs = b_get_regs,
    .set_regs = b_set_regs,
    .get_xsave = b_get_xsave,
    .set_xsave = b_set_xsave,
    .translate = b_translate,
    .read = b_read,
    .write = b_write,
    .inject = b_inject,
    .hook = b_hook,
    .hook_stages = 1u << XG_EMU_X86_STAGE_DECODE, /* b_hook looks at nothing else */
    .lend_xsave = b_lend_xsave,
    .discard_xsave = b_discard_xsave,
    .get_xcr0 = b_get_xcr0,
};

/* ---- the memo's direct path (xg_emu_x86_memo_direct): the same accesses, by GPA ---- */

XG_HOT static int d_translate(void *o, const struct xg_emu_x86_regs *paging, uint64_t la,
			      unsigned kind, unsigned cpl, uint64_t *gpa)
{
	struct bridge *b = o;
	uint32_t pf;

	return xg_x86_walk_tlb(b->ops, b->opaque, paging, la, kind, cpl, gpa, &pf, b->kept);
}

XG_HOT static int d_read(void *o, uint64_t gpa, void *buf, unsigned size)
{
	return read_at(o, gpa, buf, size);
}

XG_HOT static int d_write(void *o, uint64_t gpa, const void *buf, unsigned size)
{
	return write_at(o, gpa, buf, size);
}

XG_HOT static void d_regs_put(void *o, int gprs)
{
	struct bridge *b = o;
	b->ops->x86_kvm_regs_put(b->opaque, gprs);
}

/* xg_emulate_x86_exit_ok's answer for an exit it refuses, out of the emulate path's way */
__attribute__((noinline, cold)) static int not_emulation_failure(const struct xg_exit *x, char *why,
								 size_t wn)
{
	if (x->arch != XG_ARCH_X86_64)
		snprintf(why, wn, "exitgate's emulator is for x86 guests; this exit is %s",
			 x->arch_name);
	else
		snprintf(why, wn,
			 "only emulation failures (internal_error, suberror emulation) carry an "
			 "instruction to emulate; this exit is %s",
			 x->kind);
	return 0;
}

/* The exit's instruction bytes, or a reason there are none. */
int xg_emulate_x86_exit_ok(const struct xg_exit *x, char *why, size_t wn)
{
	if (XG_UNLIKELY(x->arch != XG_ARCH_X86_64 || x->reason != 17 ||
			x->u.internal.suberror != 1))
		return not_emulation_failure(x, why, wn);
	return 1;
}

static int exit_bytes(const struct xg_exit *x, const uint8_t **bytes, size_t *n, char *why,
		      size_t wn)
{
	if (!xg_emulate_x86_exit_ok(x, why, wn))
		return -1;
	*bytes = x->u.internal.has_insn ? x->u.internal.insn : NULL;
	*n = x->u.internal.has_insn ? x->u.internal.insn_size : 0;
	return 0;
}

__attribute__((noinline, cold)) static int ops_missing(char *why, size_t n)
{
	snprintf(why, n,
		 "the VMM's vCPU ops lack get_x86_regs/set_x86_regs/read_gpa, which exitgate's "
		 "emulator needs");
	return 0;
}

static int have_ops(const struct xg_vcpu_ops *ops, char *why, size_t n)
{
	if (XG_UNLIKELY(!ops || !ops->get_x86_regs || !ops->set_x86_regs || !ops->read_gpa))
		return ops_missing(why, n);
	return 1;
}

/* outcome() of a status that is neither OK nor an exception: -1 with why */
__attribute__((noinline, cold)) static int outcome_failed(enum xg_emu_x86_status st,
							  const struct xg_emu_x86_result *res,
							  char *why, size_t n)
{
	if (st == XG_EMU_X86_VETOED) {
		if (!why[0])
			snprintf(why, n, "vetoed at stage %s", xg_emu_x86_stage_name(res->stage));
		return -1;
	}
	/* the reason already starts with what happened ("not handled: ...") */
	snprintf(why, n, "%s", res->reason[0] ? res->reason : xg_emu_x86_status_name(st));
	return -1;
}

/* The emulator's status as xg_emulate_x86 returns it: 0, or -1 with why. Inline: out of line,
 * its jump past the messages to "return 0" was two more lines of code on every exit. */
static inline int outcome(enum xg_emu_x86_status st, const struct xg_emu_x86_result *res,
			  char *why, size_t n)
{
	if (XG_LIKELY(st == XG_EMU_X86_OK || st == XG_EMU_X86_EXCEPTION))
		return 0;
	return outcome_failed(st, res, why, n);
}

/* The usual way: the memo, else the pipeline, through the bridge. */
__attribute__((noinline)) static int emulate(const struct xg_vcpu_ops *ops, void *opaque,
					     const struct xg_exit *x, struct xg_emu_x86_memo *memo,
					     struct xg_emu_x86_result *res, char *why, size_t n)
{
	/* no initialiser: it would zero the TLB, whose entries are read only below ntlb */
	struct bridge b;
	const uint8_t *bytes;
	size_t len;

	b.ops = ops, b.opaque = opaque, b.regs = NULL, b.why = why, b.n = n, b.ntlb = 0;
	if (n)
		why[0] = 0;
	if (exit_bytes(x, &bytes, &len, why, n) || !have_ops(ops, why, n))
		return -1;
	return outcome(xg_emu_x86_emulate_memo(&bridge_ops, &b, bytes, len, memo, res), res, why,
		       n);
}

/* A repeated instruction the memo compiled, on the VMM's registers in place
 * (xg_emu_x86_memo_direct): 1 when taken, its outcome in *rc; 0 when not (nothing done).
 * Its only hook would be b_hook's veto, which concerns EVEX alone, and it takes no EVEX. */
static int direct(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		  struct xg_emu_x86_memo *memo, struct xg_emu_x86_result *res, char *why, size_t n,
		  int no_insn, int *rc)
{
	struct bridge b; /* the direct ops use its ops, opaque and kept alone */
	/* a table in .data.rel.ro: one line of data on every repeated exit, where the stores
	 * that built it on the stack were four lines of code (it was there for a page of data
	 * saved, but the lane's other constants have since left .rodata) */
	static const struct xg_emu_x86_direct_ops ops_here = {
	    .translate = d_translate,
	    .read = d_read,
	    .write = d_write,
	    .lend_xsave = b_lend_xsave,
	    .set_xsave = b_set_xsave,
	    .discard_xsave = b_discard_xsave,
	    .regs_put = d_regs_put,
	};
	struct xg_emu_x86_direct d = {.ops = &ops_here, .opaque = &b, .no_insn = no_insn};

	b.ops = ops, b.opaque = opaque, b.kept = &memo->tlb;
	if (ops->x86_kvm_regs(opaque, (void **)&d.regs, (const void **)&d.sregs, &d.xcr0) ||
	    !xg_emu_x86_memo_direct(memo, x->u.internal.insn, x->u.internal.insn_size, &d, res))
		return 0;
	if (n && !no_insn)
		why[0] = 0;
	*rc = outcome(res->status, res, why, n);
	return 1;
}

static inline int emulate_x86(const struct xg_vcpu_ops *ops, void *opaque,
			      const struct xg_exit *x, struct xg_emu_x86_memo *memo,
			      struct xg_emu_x86_result *res, char *why, size_t n, int no_insn)
{
	int rc;

	/* the direct path where it can be taken: an emulation failure with its bytes, a VMM
	 * with the ops the usual way needs and the direct path's (where a check says no, the
	 * usual way says it again, its words in why) */
	if (XG_LIKELY(memo && ops && ops->x86_kvm_regs && ops->x86_kvm_regs_put &&
		      xg_emulate_x86_exit_ok(x, why, n) && x->u.internal.has_insn &&
		      have_ops(ops, why, n) &&
		      direct(ops, opaque, x, memo, res, why, n, no_insn, &rc)))
		return rc;
	return emulate(ops, opaque, x, memo, res, why, n);
}

int xg_emulate_x86(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		   struct xg_emu_x86_memo *memo, struct xg_emu_x86_result *res, char *why, size_t n)
{
	return emulate_x86(ops, opaque, x, memo, res, why, n, 0);
}

XG_HOT int xg_emulate_x86_status(const struct xg_vcpu_ops *ops, void *opaque,
				 const struct xg_exit *x, struct xg_emu_x86_memo *memo,
				 struct xg_emu_x86_result *res, char *why, size_t n)
{
	return emulate_x86(ops, opaque, x, memo, res, why, n, 1);
}

/* Decode the exit's instruction in the vCPU's current mode. */
static int decode(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		  struct xg_emu_x86_insn *in, char *why, size_t n)
{
	struct xg_emu_x86_regs r;
	struct xg_emu_x86_exception exc;
	const uint8_t *bytes;
	size_t len;
	unsigned mode = 64;
	int real = 0;
	enum xg_emu_x86_vendor vendor = XG_EMU_X86_VENDOR_HOST;
	char reason[96] = "not handled";
	enum xg_emu_x86_status st;

	if (exit_bytes(x, &bytes, &len, why, n))
		return -1;
	if (!len) {
		snprintf(why, n, "the exit carries no instruction bytes");
		return -1;
	}
	if (ops && ops->get_x86_regs && !ops->get_x86_regs(opaque, &r)) {
		const struct xg_emu_x86_segment *cs = &r.seg[XG_EMU_X86_CS];
		real = !(r.cr0 & 1) || (r.rflags & (1u << 17));
		mode = (cs->l && (r.efer & (1u << 10))) ? 64 : cs->db ? 32 : 16;
		vendor = (enum xg_emu_x86_vendor)r.vendor; /* what the emulator will decode for */
	}
	st = xg_emu_x86_decode_vendor(bytes, len, mode, real, vendor, in, &exc, reason);
	if (st != XG_EMU_X86_OK) {
		snprintf(why, n, "%s", reason);
		if (st == XG_EMU_X86_EXCEPTION)
			snprintf(why, n, "the bytes are not a valid instruction (#%s)",
				 exc.vector == XG_EMU_X86_UD ? "UD" : "GP");
		else if (st == XG_EMU_X86_TRUNCATED)
			snprintf(why, n,
				 "the instruction is longer than the bytes the exit carries");
		return -1;
	}
	return 0;
}

int xg_emulate_x86_supports(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			    char *why, size_t n)
{
	struct xg_emu_x86_insn in;
	char reason[128] = "";

	if (decode(ops, opaque, x, &in, reason, sizeof(reason))) {
		snprintf(why, n, "%s", reason);
		return 0;
	}
	if (!xg_emu_x86_supported(&in)) {
		snprintf(why, n, "exitgate's emulator does not do %s",
			 in.name ? in.name : "this instruction");
		return 0;
	}
	if (ops && (ops->flags & XG_OPS_NO_AVX512_STATE) && needs_avx512_state(&in)) {
		snprintf(why, n, "%s", no_avx512);
		return 0;
	}
	if (ops && !have_ops(ops, why, n))
		return 0;
	return 1;
}

unsigned xg_x86_insn_length(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			    char *why, size_t n)
{
	struct xg_emu_x86_insn in;

	if (decode(ops, opaque, x, &in, why, n))
		return 0;
	return in.len;
}

/* 0F-map opcodes whose unprefixed form is SSE (packed single), not MMX (SDM Vol. 2 Table
 * 10-17, 28-2F, 50-5F, C2, C6. */
static int sse_unprefixed(unsigned op)
{
	return (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) ||
	       (op >= 0x50 && op <= 0x5f) || op == 0xc2 || op == 0xc6;
}

const char *xg_x86_insn_class(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x)
{
	struct xg_emu_x86_insn in;
	char why[128];
	unsigned op;

	if (decode(ops, opaque, x, &in, why, sizeof(why)))
		return NULL;
	op = in.opcode;
	if (in.enc == XG_EMU_X86_ENC_EVEX)
		return "avx512";
	if (in.enc == XG_EMU_X86_ENC_VEX)
		return "avx";
	if (in.map == XG_EMU_X86_MAP_1B) {
		if (op >= 0xd8 && op <= 0xdf)
			return "x87";
		if ((op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) ||
		    (op >= 0x6c && op <= 0x6f))
			return "string";
		return "gp";
	}
	if (in.map == XG_EMU_X86_MAP_0F) {
		/* the vector rows of the two-byte map (SDM Vol. 2 Table A-3) */
		int vec = (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) ||
			  (op >= 0x50 && op <= 0x7f) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6) ||
			  (op >= 0xd0 && op <= 0xfe);
		if (op == 0xae) /* LDMXCSR/STMXCSR are SSE; fences, FXSAVE, XSAVE, CLFLUSH not */
			return in.mod != 3 && (in.reg == 2 || in.reg == 3) ? "sse" : "gp";
		if (op == 0x77 || op == 0x0e || op == 0x0f)
			return "mmx"; /* EMMS, FEMMS, 3DNow! */
		if (!vec)
			return "gp"; /* POPCNT, TZCNT, BSWAP, CMPXCHG8B, MOVNTI ... */
		if (in.pfx || sse_unprefixed(op))
			return "sse";
		return "mmx";
	}
	/* 0F38 and 0F3A: the SSSE3/SSE4 maps; their F0-FF rows are GP (movbe, crc32, adcx...) */
	if (op >= 0xf0)
		return "gp";
	return in.pfx ? "sse" : "mmx";
}
