/*
 * xg_emu_x86_emulate.c - the emulation pipeline and the general-purpose instructions.
 *
 * xg_emu_x86_emulate() runs the stages of xg_emu_x86.h in order. Each operation has a plan
 * step (operand-specific legality, the list of memory accesses it will make) and an exec
 * step (the computation, on a working copy of the registers and on ctx->mem); the pipeline
 * owns everything in between: alignment, segment/canonical checks, translation of every
 * page, the reads, and at the end the writes, the vector state and the registers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xg_emu_x86_int.h"

#define RFL_CF	 0x1ull
#define RFL_PF	 0x4ull
#define RFL_ZF	 0x40ull
#define RFL_SF	 0x80ull
#define RFL_DF	 0x400ull
#define RFL_OF	 0x800ull
#define RFL_AC	 (1ull << 18)
#define RFL_VM	 (1ull << 17)
#define CR0_PE	 0x1ull
#define CR0_AM	 (1ull << 18)
#define EFER_LMA (1ull << 10)

/* The string-instruction iterations done in one call; the rest re-executes (SDM Vol. 2 REP:
 * a repeated string instruction may be interrupted between iterations). */
#define MAX_REP 4096

extern const struct xg_emu_x86_impl xg_emu_x86_x87_impl;

static const char *const stage_names[XG_EMU_X86_NSTAGES] = {
    "decode",	 "legality",  "device", "privilege", "alignment",
    "canonical", "translate", "read",	"writeback", "exception",
};

const char *xg_emu_x86_stage_name(enum xg_emu_x86_stage stage)
{
	return (unsigned)stage < XG_EMU_X86_NSTAGES ? stage_names[stage] : "?";
}

static const char *const status_names[] = {
    "ok", "exception", "not handled", "vetoed", "error", "truncated",
};

const char *xg_emu_x86_status_name(enum xg_emu_x86_status st)
{
	return (unsigned)st < sizeof(status_names) / sizeof(status_names[0]) ? status_names[st]
									     : "?";
}

static uint64_t size_mask(unsigned size)
{
	return xg_emu_x86_size_mask(size);
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, p, size > 8 ? 8 : size);
	return v;
}

static void store_le(uint8_t *p, unsigned size, uint64_t v)
{
	memcpy(p, &v, size > 8 ? 8 : size);
}

__attribute__((cold)) int xg_emu_x86_exc(struct xg_emu_x86_ctx *c, unsigned vector, int has_error,
					 uint32_t error)
{
	c->res->exc.vector = (uint8_t)vector;
	c->res->exc.has_error = (uint8_t)has_error;
	c->res->exc.error = error;
	return XG_EMU_X86_EXCEPTION;
}

__attribute__((cold)) static int not_handled(struct xg_emu_x86_ctx *c, const char *why)
{
	snprintf(c->res->reason, sizeof(c->res->reason), "not handled: %.82s", why);
	return XG_EMU_X86_NOT_HANDLED;
}

/* An op of the VMM failed: what it was asked, in words (with the op's name for the VMM's
 * author), and its errno in words. */
__attribute__((cold)) static int host_error(struct xg_emu_x86_ctx *c, const char *what, int rc)
{
	snprintf(c->res->reason, sizeof(c->res->reason), "the VMM could not %s: %s", what,
		 strerror(rc < 0 ? -rc : rc));
	return XG_EMU_X86_ERROR;
}

__attribute__((noinline)) static int stage_hook(struct xg_emu_x86_ctx *c, enum xg_emu_x86_stage s)
{
	if (c->ops->hook(c->opaque, s, c->in, NULL)) {
		snprintf(c->res->reason, sizeof(c->res->reason), "vetoed at stage %s",
			 stage_names[s]);
		return XG_EMU_X86_VETOED;
	}
	return 0;
}

/* A stage has passed: nine an instruction, so the common case (no hook there) is inline. */
static inline int stage(struct xg_emu_x86_ctx *c, enum xg_emu_x86_stage s)
{
	c->res->stage = s;
	return (c->hook_mask >> s) & 1 ? stage_hook(c, s) : 0;
}

uint64_t xg_emu_x86_gpr_get(struct xg_emu_x86_ctx *c, unsigned reg, unsigned size)
{
	unsigned shift, i = xg_emu_x86_gpr_slot(reg, size, c->in->rex, &shift);

	return (c->r.gpr[i] >> shift) & size_mask(size);
}

void xg_emu_x86_gpr_set(struct xg_emu_x86_ctx *c, unsigned reg, unsigned size, uint64_t v)
{
	unsigned shift, i = xg_emu_x86_gpr_slot(reg, size, c->in->rex, &shift);

	c->r.gpr[i] = xg_emu_x86_gpr_merge(c->r.gpr[i], size, shift, v);
	c->regs_dirty = 1;
}

uint64_t xg_emu_x86_ea(struct xg_emu_x86_ctx *c)
{
	return xg_emu_x86_ea_of(c->in, c->r.gpr, 0, c->next_rip);
}

static uint64_t seg_base(struct xg_emu_x86_ctx *c, unsigned seg)
{
	/* 64-bit mode: only FS and GS have a base (SDM Vol. 1 3.3.7.1) */
	if (c->mode == 64 && seg != XG_EMU_X86_FS && seg != XG_EMU_X86_GS)
		return 0;
	return c->r.seg[seg].base;
}

void xg_emu_x86_add_acc(struct xg_emu_x86_ctx *c, uint64_t ea, unsigned seg, unsigned size,
			unsigned kind, unsigned off)
{
	struct xg_emu_x86_acc *a;

	if (c->nacc >= XG_EMU_X86_MAXACC || size == 0 || off + size > XG_EMU_X86_MEMBUF)
		return;
	a = &c->acc[c->nacc++];
	a->ea = ea;
	a->la = seg_base(c, seg) + ea;
	if (c->mode != 64)
		a->la &= 0xffffffffull;
	a->off = (uint16_t)off;
	a->size = (uint16_t)size;
	a->kind = (uint8_t)kind;
	a->seg = (uint8_t)seg;
	a->align = 0;
	a->probe = 0;
}

/* ---- vector state ---- */

int xg_emu_x86_load_xsave(struct xg_emu_x86_ctx *c)
{
	void *img = NULL;
	uint64_t bv, in_use;
	int rc, explicit_init = 0;

	if (c->xs_loaded)
		return 0;
	/* the VMM's own image when it lends it: no copy in, none out (set_xsave of the same
	 * image); what is changed in it and not written is discarded at the end (emulate) */
	rc = c->ops->lend_xsave && c->ops->discard_xsave ? c->ops->lend_xsave(c->opaque, &img)
							 : -EOPNOTSUPP;
	if (rc >= 0 && img) {
		c->xs = img;
		c->xs_lent = 1;
		explicit_init = rc == XG_EMU_X86_LENT_EXPLICIT;
	} else if (rc < 0 && rc != -EOPNOTSUPP) {
		return host_error(c, "read the vector state (lend_xsave)", rc);
	} else {
		c->xs = c->xs_own;
		if (!c->ops->get_xsave)
			return not_handled(c, "no get_xsave in ops");
		rc = c->ops->get_xsave(c->opaque, c->xs);
		if (rc < 0)
			return host_error(c, "read the vector state (get_xsave)", rc);
	}
	/* components in their initial state (XSTATE_BV bit clear) made explicit: SDM Vol. 1
	 * 13.6; an image lent as explicit already holds the initial values there (the KVM
	 * backend's: KVM_GET_XSAVE writes them), and zeroing ~1.8 KiB of it on every exit was
	 * most of this function's cost */
	if (!explicit_init)
		xg_emu_x86_xs_explicit(c->xs);
	memcpy(&bv, c->xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	/* SSE is marked whatever XCR0 says, and x87 when the mark has it (the pipeline's does;
	 * the memo's moves write no x87 state): XCR0 = 1 is a guest without CR4.OSXSAVE (its
	 * reset value, SDM Vol. 3A 9.1.1), whose legacy SSE runs all the same (CR4.OSFXSR,
	 * Vol. 1 13.3: XCR0[1] governs XSAVE, not the instructions); the image's components are
	 * the host's, and a result written to XMM under a clear bit 1 would be loaded as the
	 * initial zeros by the entry's XRSTOR (Vol. 1 13.8.1), as FXRSTOR's already are not */
	in_use = bv | 2 | (c->xs_mark & 1) | (c->r.xcr0 & c->xs_mark);
	c->xs_added = in_use & ~bv;
	if (in_use != bv)
		memcpy(c->xs + XG_EMU_X86_XS_XSTATE_BV, &in_use, 8);
	else if (explicit_init)
		c->xs_synced = 1; /* not a byte changed: the image is still the vCPU's */
	c->xs_loaded = 1;
	return 0;
}

/* Are n bytes at p all zero (n a multiple of 8)? */
static int all_zero(const uint8_t *p, unsigned n)
{
	uint64_t acc = 0, x;

	for (unsigned i = 0; i < n; i += 8) {
		memcpy(&x, p + i, 8);
		acc |= x;
	}
	return !acc;
}

/* Is component `bit` (2 AVX, 5 opmask, 6 ZMM_Hi256, 7 Hi16_ZMM), all zeros when
 * load_xsave made it explicit, all zeros still? Only what was written can have changed:
 * the registers vec_set wrote, their slices of the component; everything, when another
 * writer was at work (xs_wide). */
static int still_initial(const struct xg_emu_x86_ctx *c, unsigned bit)
{
	unsigned off = bit == 2	  ? XG_EMU_X86_XS_YMMH
		       : bit == 5 ? XG_EMU_X86_XS_OPMASK
		       : bit == 6 ? XG_EMU_X86_XS_ZMMH
				  : XG_EMU_X86_XS_HI16ZMM;
	unsigned slice = bit == 2 ? 16 : bit == 5 ? 8 : bit == 6 ? 32 : 64;
	uint32_t regs = bit == 7 ? c->xs_vregs >> 16 : bit == 5 ? 0 : c->xs_vregs & 0xffff;

	if (c->xs_wide)
		return all_zero(c->xs + off, bit == 5 ? 64 : 16 * slice);
	for (; regs; regs &= regs - 1)
		if (!all_zero(c->xs + off + slice * (unsigned)__builtin_ctz(regs), slice))
			return 0;
	return 1;
}

/* The x87 component in its initial configuration (SDM Vol. 1 13.6), as
 * xg_emu_x86_xs_explicit writes it: FCW 037FH; FSW, FTW (abridged: all empty), FOP, FIP, FDP
 * and ST0-7 zero. MXCSR, in the same 512 bytes, is SSE's. */
static int x87_initial(const uint8_t *xs)
{
	uint64_t w;

	memcpy(&w, xs + XG_EMU_X86_XS_FCW, 8); /* FCW, FSW, FTW, reserved, FOP */
	return w == 0x037f && all_zero(xs + 8, 16) && all_zero(xs + XG_EMU_X86_XS_ST0, 128);
}

/*
 * XSTATE_BV for the image set_xsave is given: a component load_xsave marked in use that is
 * still in its initial configuration (all zeros for AVX, opmask, ZMM_Hi256 and Hi16_ZMM:
 * SDM Vol. 1 13.6) goes back to its initial state, as the vCPU had it; one the instruction
 * left otherwise keeps its bit. The values are the same either way (XRSTOR of a clear bit
 * loads the initial configuration), but a component marked in use is carried by KVM from
 * then on (KVM_SET_XSAVE copies it, the next entry restores it: 1.6 KiB for AVX-512), and
 * on Intel the upper halves of the YMM registers count as dirty for the guest's SSE code.
 * Measured with bench_run: the AVX-512 components marked in use cost ~250 ns per exit in
 * KVM_GET/SET_XSAVE on an AMD EPYC. x87 (bit 0) goes back initial the same way when its
 * registers are still initial (x87_initial): an SSE or AVX instruction writes none of them,
 * and x87 marked in use cost ~40 ns per exit in bench_run on that host. SSE (bit 1) keeps
 * the bit load_xsave gave it: with SSE marked, the kernel takes MXCSR from the image (older
 * kernels copy it only when FP, SSE or AVX is marked).
 */
static void settle_xstate_bv(struct xg_emu_x86_ctx *c)
{
	uint64_t bv, add = c->xs_added & 0xe5, looked;

	if (!add)
		return;
	memcpy(&bv, c->xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	if ((add & 1) && x87_initial(c->xs))
		bv &= ~1ull;
	add &= ~1ull;
	/* what nothing wrote is initial still, without a look: without xs_wide only vec_set
	 * wrote, AVX and ZMM_Hi256 for XMM/YMM/ZMM0-15, Hi16_ZMM for 16-31, never an opmask */
	looked = c->xs_wide ? add
			    : add & (((c->xs_vregs & 0xffff) ? 0x44u : 0u) |
				     ((c->xs_vregs >> 16) ? 0x80u : 0u));
	bv &= ~(add & ~looked);
	for (add &= looked; add; add &= add - 1) {
		unsigned bit = (unsigned)__builtin_ctzll(add);
		if (still_initial(c, bit))
			bv &= ~(1ull << bit);
		else
			bv |= 1ull << bit;
	}
	memcpy(c->xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
}

int xg_emu_x86_store_xsave(struct xg_emu_x86_ctx *c)
{
	int rc;

	settle_xstate_bv(c);
	rc = c->ops->set_xsave ? c->ops->set_xsave(c->opaque, c->xs) : -ENOSYS;

	if (rc < 0)
		return rc;
	c->xs_synced = 1;
	c->xs_dirty = 0; /* a later change sets it again */
	return 0;
}

void xg_emu_x86_vec_get(struct xg_emu_x86_ctx *c, unsigned i, uint8_t out[64])
{
	i &= 31;
	if (i >= 16) {
		memcpy(out, c->xs + XG_EMU_X86_XS_HI16ZMM + 64 * (i - 16), 64);
		return;
	}
	memcpy(out, c->xs + XG_EMU_X86_XS_XMM0 + 16 * i, 16);
	memcpy(out + 16, c->xs + XG_EMU_X86_XS_YMMH + 16 * i, 16);
	memcpy(out + 32, c->xs + XG_EMU_X86_XS_ZMMH + 32 * i, 32);
}

void xg_emu_x86_vec_set(struct xg_emu_x86_ctx *c, unsigned i, const uint8_t in[64])
{
	i &= 31;
	c->xs_dirty = 1;
	c->xs_vregs |= 1u << i;
	if (i >= 16) {
		memcpy(c->xs + XG_EMU_X86_XS_HI16ZMM + 64 * (i - 16), in, 64);
		return;
	}
	memcpy(c->xs + XG_EMU_X86_XS_XMM0 + 16 * i, in, 16);
	memcpy(c->xs + XG_EMU_X86_XS_YMMH + 16 * i, in + 16, 16);
	memcpy(c->xs + XG_EMU_X86_XS_ZMMH + 32 * i, in + 32, 32);
}

/* ---- conditions (SDM Vol. 1 Appendix B, Table B-1) ---- */

static int cond(uint64_t f, unsigned cc)
{
	int cf = !!(f & RFL_CF), zf = !!(f & RFL_ZF), sf = !!(f & RFL_SF), of = !!(f & RFL_OF),
	    pf = !!(f & RFL_PF);
	int v;

	switch ((cc >> 1) & 7) {
	case 0:
		v = of;
		break;
	case 1:
		v = cf;
		break;
	case 2:
		v = zf;
		break;
	case 3:
		v = cf || zf;
		break;
	case 4:
		v = sf;
		break;
	case 5:
		v = pf;
		break;
	case 6:
		v = sf != of;
		break;
	default:
		v = zf || sf != of;
		break;
	}
	return (cc & 1) ? !v : v;
}

/* ---- general-purpose instructions ---- */

/*
 * Operand size of the r/m operand as read (movzx/movsx/movsxd read less than they write).
 * MOVSXD with a 16-bit operand size (66h, no REX.W, 64-bit mode) is vendor-specific: Intel
 * reads r/m16 (SDM Vol. 2 MOVSXD r16, r/m16); AMD reads r/m32 whatever the operand size (APM
 * Vol. 3 MOVSXD: the source is reg/mem32) and writes the low 16 bits of it, so a read that
 * crosses into a missing page two bytes on faults, and #AC takes the 4-byte alignment (seen
 * on an AMD EPYC (Zen 5)).
 */
static unsigned rm_size(const struct xg_emu_x86_ctx *c)
{
	const struct xg_emu_x86_insn *in = c->in;

	if (in->flags & F_SRC8)
		return 1;
	if (in->flags & F_SRC16)
		return 2;
	if (in->op == OP_MOVSXD)
		return in->opsize > 4 || c->vendor == XG_EMU_X86_VENDOR_AMD ? 4 : in->opsize;
	if (in->op == OP_CMPXCHG8B)
		return in->opsize == 8 ? 16 : 8;
	return in->opsize;
}

static unsigned mem_kind(const struct xg_emu_x86_insn *in, int is_dst)
{
	if (!is_dst)
		return XG_EMU_X86_READ;
	switch (in->op) {
	case OP_CMP:
	case OP_TEST:
	case OP_BT:
		return XG_EMU_X86_READ;
	}
	return (in->flags & F_MOV) ? XG_EMU_X86_WRITE : XG_EMU_X86_RMW;
}

static int is_mem_opnd(const struct xg_emu_x86_insn *in, unsigned kind)
{
	return kind == O_MEM || kind == O_MOFFS || (kind == O_RM && in->mod != 3);
}

static unsigned stack_asize(struct xg_emu_x86_ctx *c)
{
	if (c->mode == 64)
		return 8;
	return c->r.seg[XG_EMU_X86_SS].db ? 4 : 2;
}

static int plan_gp(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned dk = OPND_DST(in->flags), sk = OPND_SRC(in->flags);
	uint64_t ea;

	if (in->op == OP_MOVSREG && ((in->modrm >> 3) & 7) > 5)
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if (in->op == OP_MOVSREG && in->mod != 3)
		in->opsize = 2; /* a memory destination is always 16 bits */
	if (in->op == OP_CMPXCHG8B && in->opsize == 8) {
		c->align = 16; /* cmpxchg16b: #GP(0) unless 16-byte aligned (SDM Vol. 2) */
		c->align_ea = xg_emu_x86_ea(c);
	}
	if (in->op == OP_PUSH) {
		unsigned sa = stack_asize(c);
		uint64_t sp = (c->r.gpr[XG_EMU_X86_RSP] - in->opsize) & size_mask(sa);
		if (in->mod != 3) /* FF /6 with mod = 3 pushes the register */
			xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, in->opsize,
					   XG_EMU_X86_READ, 0);
		xg_emu_x86_add_acc(c, sp, XG_EMU_X86_SS, in->opsize, XG_EMU_X86_WRITE, 64);
		return 0;
	}
	if (in->op == OP_POP) {
		/* the destination address is computed with the incremented rSP (SDM Vol. 2 POP) */
		unsigned sa = stack_asize(c);
		uint64_t sp = c->r.gpr[XG_EMU_X86_RSP] & size_mask(sa), save = c->r.gpr[4];
		xg_emu_x86_add_acc(c, sp, XG_EMU_X86_SS, in->opsize, XG_EMU_X86_READ, 0);
		if (in->mod == 3) /* 8F /0 with mod = 3 pops into the register */
			return 0;
		c->r.gpr[4] = (c->r.gpr[4] & ~size_mask(sa)) | ((sp + in->opsize) & size_mask(sa));
		ea = xg_emu_x86_ea(c);
		c->r.gpr[4] = save;
		xg_emu_x86_add_acc(c, ea, in->seg, in->opsize, XG_EMU_X86_WRITE, 64);
		return 0;
	}
	if (is_mem_opnd(in, dk) || is_mem_opnd(in, sk)) {
		int dst = is_mem_opnd(in, dk);
		unsigned size = (dst && in->op != OP_CMPXCHG8B) ? in->opsize : rm_size(c);
		ea = xg_emu_x86_ea(c);
		if (dk == O_MOFFS || sk == O_MOFFS)
			ea = (uint64_t)in->disp & xg_emu_x86_addr_mask(in);
		if ((in->op >= OP_BT && in->op <= OP_BTC) && sk == O_REG) {
			/* bit string: the register offset is signed and may leave the operand
			 * (SDM Vol. 2 BT, "bit offset operand") */
			unsigned bits = in->opsize * 8;
			int64_t off = (int64_t)(c->r.gpr[in->reg] << (64 - bits)) >> (64 - bits);
			/* floor(off / bits) by an arithmetic shift: -off overflowed for the
			 * most negative offset (seen with bts and 1 << 63) */
			int64_t shift = off >> (bits == 16 ? 4 : bits == 32 ? 5 : 6);
			ea = (ea + (uint64_t)(shift * (int64_t)in->opsize)) &
			     xg_emu_x86_addr_mask(in);
		}
		xg_emu_x86_add_acc(c, ea, in->seg, size, mem_kind(in, dst), 0);
	}
	return 0;
}

static uint64_t read_opnd(struct xg_emu_x86_ctx *c, unsigned kind, unsigned size)
{
	struct xg_emu_x86_insn *in = c->in;

	switch (kind) {
	case O_REG:
		return xg_emu_x86_gpr_get(c, in->reg, size);
	case O_RM:
		if (in->mod == 3)
			return xg_emu_x86_gpr_get(c, in->rm, size);
		return load_le(c->mem, size);
	case O_MEM:
	case O_MOFFS:
		return load_le(c->mem, size);
	case O_ACC:
		return xg_emu_x86_gpr_get(c, 0, size);
	case O_IMM:
		return in->imm & size_mask(size);
	case O_SREG:
		return c->r.seg[(in->modrm >> 3) & 7].selector;
	}
	return 0;
}

static void write_opnd(struct xg_emu_x86_ctx *c, unsigned kind, unsigned size, uint64_t v)
{
	struct xg_emu_x86_insn *in = c->in;

	switch (kind) {
	case O_REG:
		xg_emu_x86_gpr_set(c, in->reg, size, v);
		break;
	case O_RM:
		if (in->mod == 3)
			xg_emu_x86_gpr_set(c, in->rm, size, v);
		else
			store_le(c->mem, size, v);
		break;
	case O_MEM:
	case O_MOFFS:
		store_le(c->mem, size, v);
		break;
	case O_ACC:
		xg_emu_x86_gpr_set(c, 0, size, v);
		break;
	}
}

static int exec_alu(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned dk = OPND_DST(in->flags), sk = OPND_SRC(in->flags), sz = in->opsize;
	uint64_t d = read_opnd(c, dk, sz), s = sk ? read_opnd(c, sk, sz) : 0, r;

	r = xg_emu_x86_alu(in->op, sz, d, s, &c->r.rflags);
	c->regs_dirty = 1;
	if (in->op != OP_CMP && in->op != OP_TEST)
		write_opnd(c, dk, sz, r);
	return 0;
}

static int exec_bt(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->opsize, dk = OPND_DST(in->flags);
	uint64_t d = read_opnd(c, dk, sz);
	uint64_t bit = (OPND_SRC(in->flags) == O_IMM ? in->imm : c->r.gpr[in->reg]) & (sz * 8 - 1);
	uint64_t r = xg_emu_x86_alu(in->op, sz, d, bit, &c->r.rflags);

	c->regs_dirty = 1;
	if (in->op != OP_BT)
		write_opnd(c, dk, sz, r);
	return 0;
}

static int exec_mov(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->opsize;
	write_opnd(c, OPND_DST(in->flags), sz, read_opnd(c, OPND_SRC(in->flags), sz));
	return 0;
}

static int exec_movx(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned ss = rm_size(c);
	uint64_t v = read_opnd(c, O_RM, ss);

	if (in->op != OP_MOVZX && ss < 8)
		v = (uint64_t)((int64_t)(v << (64 - 8 * ss)) >> (64 - 8 * ss));
	xg_emu_x86_gpr_set(c, in->reg, in->opsize, v);
	return 0;
}

static int exec_xchg(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->opsize;
	uint64_t a = read_opnd(c, O_RM, sz), b = xg_emu_x86_gpr_get(c, in->reg, sz);

	write_opnd(c, O_RM, sz, b);
	xg_emu_x86_gpr_set(c, in->reg, sz, a);
	return 0;
}

static int exec_xadd(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->opsize;
	uint64_t d = read_opnd(c, O_RM, sz), s = xg_emu_x86_gpr_get(c, in->reg, sz);
	uint64_t r = xg_emu_x86_alu(OP_ADD, sz, d, s, &c->r.rflags);

	xg_emu_x86_gpr_set(c, in->reg, sz, d);
	write_opnd(c, O_RM, sz, r);
	return 0;
}

static int exec_cmpxchg(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->opsize;
	uint64_t d = read_opnd(c, O_RM, sz), acc = xg_emu_x86_gpr_get(c, 0, sz);

	xg_emu_x86_alu(OP_CMP, sz, acc, d, &c->r.rflags);
	c->regs_dirty = 1;
	if (acc == d) {
		write_opnd(c, O_RM, sz, xg_emu_x86_gpr_get(c, in->reg, sz));
	} else {
		/* the destination is written back unchanged when it is memory (SDM Vol. 2
		 * CMPXCHG); a register destination is not written at all (its upper half stays,
		 * as the CPU shows for 0f b1 with mod = 3); the accumulator is loaded */
		if (in->mod != 3)
			write_opnd(c, O_RM, sz, d);
		xg_emu_x86_gpr_set(c, 0, sz, d);
	}
	return 0;
}

static int exec_cmpxchg8b(struct xg_emu_x86_ctx *c)
{
	unsigned half = c->in->opsize == 8 ? 8 : 4;
	uint64_t lo = load_le(c->mem, half), hi = load_le(c->mem + half, half);
	uint64_t ax = xg_emu_x86_gpr_get(c, 0, half), dx = xg_emu_x86_gpr_get(c, 2, half);

	c->regs_dirty = 1;
	if (lo == ax && hi == dx) {
		c->r.rflags |= RFL_ZF;
		store_le(c->mem, half, xg_emu_x86_gpr_get(c, 3, half));
		store_le(c->mem + half, half, xg_emu_x86_gpr_get(c, 1, half));
	} else {
		c->r.rflags &= ~RFL_ZF;
		xg_emu_x86_gpr_set(c, 0, half, lo);
		xg_emu_x86_gpr_set(c, 2, half, hi);
	}
	return 0;
}

static int exec_setcc(struct xg_emu_x86_ctx *c)
{
	write_opnd(c, O_RM, 1, (uint64_t)cond(c->r.rflags, c->in->opcode & 15));
	return 0;
}

static int exec_cmovcc(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	uint64_t v = read_opnd(c, O_RM, in->opsize);

	if (cond(c->r.rflags, in->opcode & 15))
		xg_emu_x86_gpr_set(c, in->reg, in->opsize, v);
	else if (in->opsize == 4)
		xg_emu_x86_gpr_set(c, in->reg, 4, c->r.gpr[in->reg & 15]); /* still zero-extends */
	return 0;
}

static int exec_push(struct xg_emu_x86_ctx *c)
{
	unsigned sa = stack_asize(c), sz = c->in->opsize;
	uint64_t sp = c->r.gpr[XG_EMU_X86_RSP];

	if (c->in->mod == 3) /* the register's value before rSP changes (push rsp) */
		store_le(c->mem + 64, sz, xg_emu_x86_gpr_get(c, c->in->rm, sz));
	else
		memcpy(c->mem + 64, c->mem, sz);
	c->r.gpr[XG_EMU_X86_RSP] = (sp & ~size_mask(sa)) | ((sp - sz) & size_mask(sa));
	c->regs_dirty = 1;
	return 0;
}

static int exec_pop(struct xg_emu_x86_ctx *c)
{
	unsigned sa = stack_asize(c), sz = c->in->opsize;
	uint64_t sp = c->r.gpr[XG_EMU_X86_RSP];

	memcpy(c->mem + 64, c->mem, sz);
	c->r.gpr[XG_EMU_X86_RSP] = (sp & ~size_mask(sa)) | ((sp + sz) & size_mask(sa));
	c->regs_dirty = 1;
	/* into a register: after rSP is incremented, so pop rsp loads the value (SDM Vol. 2
	 * POP) */
	if (c->in->mod == 3)
		xg_emu_x86_gpr_set(c, c->in->rm, sz, load_le(c->mem, sz));
	return 0;
}

static int exec_movsreg(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	uint64_t v = c->r.seg[(in->modrm >> 3) & 7].selector;
	/* to a register: zero-extended to the operand size (SDM Vol. 2 MOV, 64-bit notes) */
	write_opnd(c, O_RM, in->mod == 3 ? in->opsize : 2, v);
	return 0;
}

static int plan_none(struct xg_emu_x86_ctx *c)
{
	return 0;
}

static const struct xg_emu_x86_impl gp_impl[OP_COUNT] = {
    [OP_ADD... OP_NEG] = {plan_gp, exec_alu},
    [OP_BT... OP_BTC] = {plan_gp, exec_bt},
    [OP_MOV] = {plan_gp, exec_mov},
    [OP_MOVNTI] = {plan_gp, exec_mov},
    [OP_MOVZX... OP_MOVSXD] = {plan_gp, exec_movx},
    [OP_XCHG] = {plan_gp, exec_xchg},
    [OP_CMPXCHG] = {plan_gp, exec_cmpxchg},
    [OP_CMPXCHG8B] = {plan_gp, exec_cmpxchg8b},
    [OP_XADD] = {plan_gp, exec_xadd},
    [OP_SETCC] = {plan_gp, exec_setcc},
    [OP_CMOVCC] = {plan_gp, exec_cmovcc},
    [OP_PUSH] = {plan_gp, exec_push},
    [OP_POP] = {plan_gp, exec_pop},
    [OP_MOVSREG] = {plan_gp, exec_movsreg},
    [OP_MOVS... OP_SCAS] = {plan_none, NULL}, /* run_string() */
};

/* ---- the memory stages ---- */

/* SDM Vol. 3A 3.4.5.1 (limits, expand-down), 5.3 and 5.4 (#GP/#SS), Vol. 1 3.3.7.1 */
static int check_segment(struct xg_emu_x86_ctx *c, unsigned i)
{
	const struct xg_emu_x86_acc *a = &c->acc[i];
	const struct xg_emu_x86_segment *s = &c->r.seg[a->seg];
	unsigned vec = a->seg == XG_EMU_X86_SS ? XG_EMU_X86_SS_FAULT : XG_EMU_X86_GP;
	uint64_t last = a->ea + a->size - 1;

	if (c->mode == 64) {
		if (!xg_emu_x86_canonical(c, a->la) ||
		    !xg_emu_x86_canonical(c, a->la + a->size - 1))
			return xg_emu_x86_exc(c, vec, 1, 0);
		return 0;
	}
	if (!c->real) {
		int code = s->type & 8;
		if (s->unusable || !s->present)
			return xg_emu_x86_exc(c, vec, 1, 0);
		if ((a->kind & XG_EMU_X86_WRITE) && (code || !(s->type & 2)))
			return xg_emu_x86_exc(c, XG_EMU_X86_GP, 1, 0);
		if ((a->kind & XG_EMU_X86_READ) && code && !(s->type & 2))
			return xg_emu_x86_exc(c, XG_EMU_X86_GP, 1, 0);
		if (!code && (s->type & 4)) {
			uint64_t top = s->db ? 0xffffffffull : 0xffffull;
			if (a->ea <= s->limit || last > top)
				return xg_emu_x86_exc(c, vec, 1, 0);
			return 0;
		}
	}
	if (xg_emu_x86_limit_wraps(c, s, a)) /* Intel's 4 GiB segment: no limit to pass */
		return 0;
	if (last > s->limit || last < a->ea)
		return xg_emu_x86_exc(c, vec, 1, 0);
	return 0;
}

/* Call fn on each per-page piece of access a. */
typedef int (*piece_fn)(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a, uint64_t la,
			unsigned done, unsigned len);

static int for_pieces(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a, piece_fn fn)
{
	uint64_t amask = c->mode == 64 ? ~0ull : 0xffffffffull;
	unsigned done = 0;

	while (done < a->size) {
		uint64_t la = (a->la + done) & amask;
		unsigned len = 4096 - (unsigned)(la & 4095);
		int rc;
		if (len > a->size - done)
			len = a->size - done;
		/* at most XG_EMU_X86_MAX_ACCESS bytes per call, as the ops promise a device
		 * (FXSAVE/FXRSTOR move 512 bytes) */
		if (len > XG_EMU_X86_MAX_ACCESS)
			len = XG_EMU_X86_MAX_ACCESS;
		rc = fn(c, a, la, done, len);
		if (rc)
			return rc;
		done += len;
	}
	return 0;
}

static int piece_translate(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a, uint64_t la,
			   unsigned done, unsigned len)
{
	uint32_t err = 0;
	int rc = c->ops->translate(c->opaque, la, a->kind, c->cpl, &err);

	if (rc < 0)
		return host_error(c, "translate a guest address (translate)", rc);
	if (rc > 0) {
		c->res->exc.cr2 = la;
		return xg_emu_x86_exc(c, XG_EMU_X86_PF, 1, err);
	}
	return 0;
}

static int piece_read(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a, uint64_t la,
		      unsigned done, unsigned len)
{
	int rc = c->ops->read(c->opaque, la, c->mem + a->off + done, len, a->kind);
	return rc < 0 ? host_error(c, "read guest memory (read)", rc) : 0;
}

static int piece_write(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a, uint64_t la,
		       unsigned done, unsigned len)
{
	int rc = c->ops->write(c->opaque, la, c->mem + a->off + done, len);
	return rc < 0 ? host_error(c, "write guest memory (write)", rc) : 0;
}

static int run_pieces(struct xg_emu_x86_ctx *c, unsigned kinds, piece_fn fn)
{
	for (unsigned i = 0; i < c->nacc; i++) {
		int rc;
		if (!(c->acc[i].kind & kinds) || c->acc[i].probe)
			continue;
		rc = for_pieces(c, &c->acc[i], fn);
		if (rc)
			return rc;
	}
	return 0;
}

/* The stores before access `upto` (which faulted) are done, as separate stores on the CPU
 * are; the WRITEBACK hook may still veto them. Returns the fault. */
__attribute__((cold)) static int partial_write(struct xg_emu_x86_ctx *c, unsigned upto, int hooks)
{
	struct xg_emu_x86_exception exc = c->res->exc;
	enum xg_emu_x86_stage at = c->res->stage;
	int rc;

	if (hooks && (rc = stage(c, XG_EMU_X86_STAGE_WRITEBACK)))
		return rc;
	for (unsigned i = 0; i < upto; i++)
		if (!c->acc[i].probe && (rc = for_pieces(c, &c->acc[i], piece_write)))
			return rc;
	c->res->exc = exc;
	c->res->stage = at;
	return XG_EMU_X86_EXCEPTION;
}

static int commit(struct xg_emu_x86_ctx *c, int advance);

/* Elements [0, done) of a gather or scatter are complete when access `done` faults: they are
 * read (or written), the instruction's handler records their completion, the WRITEBACK hook
 * may still veto, and the state goes back before the fault (SDM Vol. 2 VPGATHERDD). */
__attribute__((cold)) static int partial_elements(struct xg_emu_x86_ctx *c, unsigned done,
						  int hooks)
{
	struct xg_emu_x86_exception exc = c->res->exc;
	enum xg_emu_x86_stage at = c->res->stage;
	int rc;

	c->nacc = done;
	if ((rc = run_pieces(c, XG_EMU_X86_READ, piece_read)))
		return rc;
	if ((rc = c->on_fault(c, done)))
		return rc;
	if (hooks && (rc = stage(c, XG_EMU_X86_STAGE_WRITEBACK)))
		return rc;
	if ((rc = commit(c, 0)))
		return rc;
	c->res->exc = exc;
	c->res->stage = at;
	return XG_EMU_X86_EXCEPTION;
}

/* alignment, segments, translation, reads: everything up to the first write */
static int memory_stages(struct xg_emu_x86_ctx *c, int hooks)
{
	int rc, whole;

	c->res->stage = XG_EMU_X86_STAGE_ALIGNMENT;
	/* the CPU checks the linear address, not the offset: they differ where a segment
	 * base is not a multiple of the alignment (seen in 16-bit protected mode) */
	if (c->align && ((c->align_ea + seg_base(c, c->in->seg)) & (c->align - 1)))
		return xg_emu_x86_exc(c, XG_EMU_X86_GP, 1, 0);
	/* #AC: SDM Vol. 3A 6.15 "Alignment Check Exception" (general-purpose data only) */
	if (!(c->in->flags & (F_SSE | F_X87)) && (c->r.cr0 & CR0_AM) && (c->r.rflags & RFL_AC) &&
	    c->cpl == 3) {
		for (unsigned i = 0; i < c->nacc; i++) {
			unsigned sz = c->acc[i].size > 8 ? 8 : c->acc[i].size;
			if (c->acc[i].la & (sz - 1))
				return xg_emu_x86_exc(c, XG_EMU_X86_AC, 1, 0);
		}
	}
	if (hooks && (rc = stage(c, XG_EMU_X86_STAGE_ALIGNMENT)))
		return rc;
	/*
	 * Segment (or canonical) check and translation access by access, in the order the
	 * instruction makes them: a later access's #GP/#SS does not come before an earlier
	 * access's #PF (seen on the CPU with CMPS and MOVS faulting on both operands). The
	 * CANONICAL and TRANSLATE hooks run once every access has passed both.
	 */
	/* A VEX/EVEX operand split into the runs of its enabled elements (masking) is one
	 * access to the CPU: the limit (or canonical) check of every enabled element comes
	 * before the page walk of any (seen in 16-bit protected mode: #GP/#SS for an element
	 * past the limit, not #PF for an earlier one; seen on the Xeon). AMD goes element by
	 * element (xg_emu_x86_per_element), as with any other instruction's accesses. Gathers
	 * and scatters go element by element. */
	whole = c->in->enc != XG_EMU_X86_ENC_LEGACY && !c->in->vsib &&
		c->vendor == XG_EMU_X86_VENDOR_INTEL;
	for (unsigned i = 0; whole && i < c->nacc; i++) {
		c->res->stage = XG_EMU_X86_STAGE_CANONICAL;
		if ((rc = check_segment(c, i)))
			return rc;
	}
	for (unsigned i = 0; i < c->nacc; i++) {
		c->res->stage = XG_EMU_X86_STAGE_CANONICAL;
		rc = whole ? 0 : check_segment(c, i);
		/* an access's own alignment #GP (MOVDIR64B's destination, FXSAVE) comes after its
		 * segment and canonical checks (FXSAVE: a non-canonical SS access is #SS, not #GP,
		 * on the CPU), on the linear address as the CPU checks it */
		if (!rc && c->acc[i].align && (c->acc[i].la & (c->acc[i].align - 1u)))
			rc = xg_emu_x86_exc(c, XG_EMU_X86_GP, 1, 0);
		if (!rc && c->acc[i].probe != XG_EMU_X86_PROBE_CHECK) {
			c->res->stage = XG_EMU_X86_STAGE_TRANSLATE;
			rc = for_pieces(c, &c->acc[i], piece_translate);
		}
		if (rc == XG_EMU_X86_EXCEPTION && i > 0 && c->partial_stores)
			return partial_write(c, i, hooks);
		if (rc == XG_EMU_X86_EXCEPTION && c->on_fault)
			return partial_elements(c, i, hooks);
		if (rc)
			return rc;
	}
	c->res->stage = XG_EMU_X86_STAGE_CANONICAL;
	if (hooks && (rc = stage(c, XG_EMU_X86_STAGE_CANONICAL)))
		return rc;
	c->res->stage = XG_EMU_X86_STAGE_TRANSLATE;
	if (hooks && (rc = stage(c, XG_EMU_X86_STAGE_TRANSLATE)))
		return rc;
	c->res->stage = XG_EMU_X86_STAGE_READ;
	if ((rc = run_pieces(c, XG_EMU_X86_READ, piece_read)))
		return rc;
	if (hooks && (rc = stage(c, XG_EMU_X86_STAGE_READ)))
		return rc;
	return 0;
}

static int commit(struct xg_emu_x86_ctx *c, int advance)
{
	int rc;

	if ((rc = run_pieces(c, XG_EMU_X86_WRITE, piece_write)))
		return rc;
	if (c->xs_dirty && (rc = xg_emu_x86_store_xsave(c)) < 0)
		return host_error(c, "write the vector state (set_xsave)", rc);
	if (advance) {
		c->r.rip = c->next_rip;
		c->r.rflags &= ~(1ull << 16); /* RF clears when an instruction completes */
	}
	if (advance || c->regs_dirty) {
		/* every GPR write sets regs_dirty (xg_emu_x86_gpr_set, set_areg, push/pop,
		 * gp2_exec, the stubs): without it only RIP and RFLAGS can have changed */
		c->r.gprs_unchanged = !c->regs_dirty;
		rc = c->ops->set_regs(c->opaque, &c->r);
		if (rc < 0)
			return host_error(c, "write the registers (set_regs)", rc);
	}
	return 0;
}

/* ---- the CPU's vendor ---- */

enum xg_emu_x86_vendor xg_emu_x86_vendor_of(uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	char id[13];

	memcpy(id, &ebx, 4); /* CPUID.0: the vendor string in EBX, EDX, ECX (SDM Vol. 2 CPUID) */
	memcpy(id + 4, &edx, 4);
	memcpy(id + 8, &ecx, 4);
	id[12] = 0;
	return !strcmp(id, "AuthenticAMD") || !strcmp(id, "HygonGenuine") ? XG_EMU_X86_VENDOR_AMD
									  : XG_EMU_X86_VENDOR_INTEL;
}

enum xg_emu_x86_vendor xg_emu_x86_host_vendor(void)
{
	static int cached; /* 0 until known; a racing first call computes it twice */
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	uint32_t r[4];

	if (v)
		return (enum xg_emu_x86_vendor)v;
	xg_emu_x86_host_cpuid(0, 0, r);
	v = xg_emu_x86_vendor_of(r[1], r[2], r[3]);
	__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	return (enum xg_emu_x86_vendor)v;
}

const char *xg_emu_x86_vendor_name(enum xg_emu_x86_vendor v)
{
	return v == XG_EMU_X86_VENDOR_INTEL ? "Intel" : v == XG_EMU_X86_VENDOR_AMD ? "AMD" : "host";
}

/* ---- string instructions (SDM Vol. 2 MOVS/CMPS/STOS/LODS/SCAS, REP/REPE/REPNE) ---- */

/* rSI/rDI/rCX updates: a 32-bit address size writes ESI/EDI/ECX, zero-extending like any
 * 32-bit register write (SDM Vol. 1 3.4.1.1); a 16-bit one keeps the upper bits */
static void set_areg(struct xg_emu_x86_ctx *c, unsigned reg, uint64_t v)
{
	unsigned as = c->in->addrsize;
	if (as == 2)
		c->r.gpr[reg] = (c->r.gpr[reg] & ~0xffffull) | (v & 0xffff);
	else
		c->r.gpr[reg] = v & size_mask(as);
	c->regs_dirty = 1;
}

/* Intel, a REP form with a 32-bit address size in 64-bit mode that does no iteration (ECX = 0,
 * or a fault in the first one): ECX is written, and ESI/EDI for MOVS, EDI for STOS, zeroing
 * their upper halves (the vendor list in xg_emu_x86.h). AMD writes nothing. */
static void intel_rep67_regs(struct xg_emu_x86_ctx *c)
{
	unsigned op = c->in->op;

	if (c->vendor != XG_EMU_X86_VENDOR_INTEL || c->mode != 64 || c->in->addrsize != 4 ||
	    !c->in->rep)
		return;
	set_areg(c, XG_EMU_X86_RCX, c->r.gpr[1]);
	if (op == OP_MOVS)
		set_areg(c, XG_EMU_X86_RSI, c->r.gpr[6]);
	if (op == OP_MOVS || op == OP_STOS)
		set_areg(c, XG_EMU_X86_RDI, c->r.gpr[7]);
}

static int run_string(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->opsize, as = in->addrsize, op = in->op;
	uint64_t am = size_mask(as), rflags0 = c->r.rflags;
	int rep = in->rep != 0, rc;
	int64_t step = (c->r.rflags & RFL_DF) ? -(int64_t)sz : (int64_t)sz;
	unsigned iter;

	if (rep && !(c->r.gpr[1] & am)) {
		intel_rep67_regs(c); /* no iteration */
		return commit(c, 1);
	}
	for (iter = 0; iter < MAX_REP; iter++) {
		uint64_t si = c->r.gpr[6] & am, di = c->r.gpr[7] & am;
		int hooks = iter == 0, done = 0;

		c->nacc = 0;
		memset(c->mem, 0, 128);
		/* in the order the CPU checks them: Intel's CMPS faults on ES:rDI before DS:rSI
		 * (seen on the Xeon with both faulting), AMD's on DS:rSI first like every other
		 * string instruction on its source (the vendor list) */
		if (op == OP_SCAS || (op == OP_CMPS && c->vendor == XG_EMU_X86_VENDOR_INTEL))
			xg_emu_x86_add_acc(c, di, XG_EMU_X86_ES, sz, XG_EMU_X86_READ, 64);
		if (op == OP_MOVS || op == OP_LODS || op == OP_CMPS)
			xg_emu_x86_add_acc(c, si, in->seg, sz, XG_EMU_X86_READ, 0);
		if (op == OP_CMPS && c->vendor != XG_EMU_X86_VENDOR_INTEL)
			xg_emu_x86_add_acc(c, di, XG_EMU_X86_ES, sz, XG_EMU_X86_READ, 64);
		if (op == OP_MOVS || op == OP_STOS)
			xg_emu_x86_add_acc(c, di, XG_EMU_X86_ES, sz, XG_EMU_X86_WRITE, 64);
		rc = memory_stages(c, hooks);
		if (rc) {
			/* iterations already done stay done; RIP stays on the instruction */
			if (rc == XG_EMU_X86_EXCEPTION && iter == 0 && rep)
				intel_rep67_regs(c);
			/* Intel reports a REP CMPS/SCAS that faults after some iterations with
			 * RFLAGS as they were before the instruction (the vendor list) */
			if (rc == XG_EMU_X86_EXCEPTION && iter > 0 &&
			    (op == OP_CMPS || op == OP_SCAS) &&
			    c->vendor == XG_EMU_X86_VENDOR_INTEL)
				c->r.rflags = rflags0;
			if (rc == XG_EMU_X86_EXCEPTION && c->regs_dirty) {
				int rc2;
				c->nacc = 0; /* the faulting iteration writes nothing */
				rc2 = commit(c, 0);
				if (rc2)
					return rc2;
			}
			return rc;
		}
		if (op == OP_MOVS)
			memcpy(c->mem + 64, c->mem, sz);
		else if (op == OP_STOS)
			store_le(c->mem + 64, sz, xg_emu_x86_gpr_get(c, 0, sz));
		else if (op == OP_LODS)
			xg_emu_x86_gpr_set(c, 0, sz, load_le(c->mem, sz));
		else if (op == OP_CMPS)
			xg_emu_x86_alu(OP_CMP, sz, load_le(c->mem, sz), load_le(c->mem + 64, sz),
				       &c->r.rflags);
		else
			xg_emu_x86_alu(OP_CMP, sz, xg_emu_x86_gpr_get(c, 0, sz),
				       load_le(c->mem + 64, sz), &c->r.rflags);
		if (hooks && (rc = stage(c, XG_EMU_X86_STAGE_WRITEBACK)))
			return rc;
		if ((rc = run_pieces(c, XG_EMU_X86_WRITE, piece_write)))
			return rc;
		c->regs_dirty = 1;
		if (op == OP_MOVS || op == OP_LODS || op == OP_CMPS)
			set_areg(c, XG_EMU_X86_RSI, si + (uint64_t)step);
		if (op != OP_LODS)
			set_areg(c, XG_EMU_X86_RDI, di + (uint64_t)step);
		if (!rep)
			break;
		set_areg(c, XG_EMU_X86_RCX, (c->r.gpr[1] & am) - 1);
		if (!(c->r.gpr[1] & am))
			done = 1;
		if ((op == OP_CMPS || op == OP_SCAS) &&
		    (in->rep == 0xf3 ? !(c->r.rflags & RFL_ZF) : !!(c->r.rflags & RFL_ZF)))
			done = 1;
		if (done)
			break;
	}
	c->nacc = 0;
	/* stopped between iterations (the rest re-executes): as on a fault, Intel leaves
	 * RFLAGS of CMPS/SCAS as they were before the instruction */
	if (rep && iter == MAX_REP && (op == OP_CMPS || op == OP_SCAS) &&
	    c->vendor == XG_EMU_X86_VENDOR_INTEL)
		c->r.rflags = rflags0;
	return commit(c, !rep || iter < MAX_REP);
}

/* ---- the pipeline ---- */

__attribute__((cold)) static int deliver(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_result *res = c->res;
	int rc;

	res->status = XG_EMU_X86_EXCEPTION;
	/* real-address mode delivers through the IVT with FLAGS, CS and IP only: no error
	 * code (SDM Vol. 3A 21.1.4); virtual-8086 mode's go to protected-mode handlers, with */
	if (!(c->r.cr0 & CR0_PE))
		res->exc.has_error = 0, res->exc.error = 0;
	if (((c->hook_mask >> XG_EMU_X86_STAGE_EXCEPTION) & 1) &&
	    c->ops->hook(c->opaque, XG_EMU_X86_STAGE_EXCEPTION, c->in, &res->exc)) {
		snprintf(res->reason, sizeof(res->reason), "exception %u vetoed", res->exc.vector);
		return XG_EMU_X86_VETOED;
	}
	rc = c->ops->inject ? c->ops->inject(c->opaque, &res->exc) : -1;
	if (rc < 0)
		return host_error(c, "inject the exception (inject)", rc);
	return XG_EMU_X86_EXCEPTION;
}

/* Decode, fetching what the caller did not give from CS:RIP. */
static int fetch_decode(struct xg_emu_x86_ctx *c, const uint8_t *bytes, size_t n)
{
	uint8_t buf[15];
	size_t have = n > 15 ? 15 : n;
	int rc;

	/* the bytes the VMM gave are mostly the whole instruction: decoded where they are,
	 * copied only when more must be fetched (with none, the decoder still zeroes insn) */
	rc = xg_emu_x86_decode_vendor(bytes, have, c->mode, c->real, c->vendor, c->in, &c->res->exc,
				      c->res->reason);
	if (rc == XG_EMU_X86_TRUNCATED && have)
		memcpy(buf, bytes, have);
	while (rc == XG_EMU_X86_TRUNCATED) {
		/* fetch up to the end of the page or 15 bytes */
		uint64_t la = c->r.seg[XG_EMU_X86_CS].base * (c->mode != 64) + c->r.rip + have;
		uint32_t err = 0;
		unsigned len;
		if (c->mode != 64)
			la &= 0xffffffffull;
		len = 4096 - (unsigned)(la & 4095);
		if (len > 15 - have)
			len = (unsigned)(15 - have);
		rc = c->ops->translate(c->opaque, la, XG_EMU_X86_FETCH, c->cpl, &err);
		if (rc < 0)
			return host_error(c, "translate a guest address (translate)", rc);
		if (rc > 0) {
			c->res->exc.cr2 = la;
			return xg_emu_x86_exc(c, XG_EMU_X86_PF, 1, err);
		}
		rc = c->ops->read(c->opaque, la, buf + have, len, XG_EMU_X86_FETCH);
		if (rc < 0)
			return host_error(c, "read the instruction (fetch)", rc);
		have += len;
		rc = xg_emu_x86_decode_vendor(buf, have, c->mode, c->real, c->vendor, c->in,
					      &c->res->exc, c->res->reason);
	}
	if (rc == XG_EMU_X86_NOT_HANDLED) {
		char tmp[96];
		snprintf(tmp, sizeof(tmp), "%s", c->res->reason);
		return not_handled(c, tmp);
	}
	return rc;
}

static int legality(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	uint64_t f = in->flags;
	unsigned dk = OPND_DST(f);

	/* LOCK: only lockable instructions with a memory destination (SDM Vol. 2 LOCK) */
	if (in->lock && (!(f & F_LOCK) || !is_mem_opnd(in, dk)))
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if ((f & F_MEM) && !in->has_mem)
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if ((f & F_REG) && in->has_mem)
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if (in->enc == XG_EMU_X86_ENC_VEX) {
		/* SDM Vol. 2 2.3.6 and the instruction pages: W/L/vvvv constraints are #UD */
		if (((f & F_VEXW0) && in->w) || ((f & F_L0) && in->vl) || ((f & F_L1) && !in->vl) ||
		    ((f & F_NOVVVV) && in->vvvv_enc))
			return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	} else if (in->enc == XG_EMU_X86_ENC_EVEX) {
		/* SDM Vol. 2 2.7.x, Table 2-40 ff. */
		/* EVEX.z = 1 needs a mask: with aaa = 000 it is #UD (seen on the CPU for every
		 * form the emulator covers, loads, stores and register moves alike) */
		if (((f & F_W0) && in->w) || ((f & F_W1) && !in->w) || ((f & F_L0) && in->vl) ||
		    ((f & F_L1) && !in->vl) ||
		    /* L'L = 3 is reserved, but a stubbed register form with b = 1 holds a
		     * rounding control there (SDM Vol. 2 2.7.8) */
		    (in->vl == 3 && !(in->op == OP_STUB && in->bcast && in->mod == 3)) ||
		    ((f & F_NOVVVV) && in->vvvv_enc) || ((f & F_NOMASK) && (in->aaa || in->z)) ||
		    (in->bcast && in->op != OP_STUB) || (in->z && !in->aaa) ||
		    (in->z && (f & F_STORE) && in->has_mem))
			return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	}
	return 0;
}

/* SDM Vol. 3A 2.5 (CR0.EM/TS, CR4.OSFXSR/OSXSAVE), Vol. 1 13.3 (XCR0), Vol. 2 2.8 tables */
static int device(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	uint64_t cr0 = c->r.cr0, cr4 = c->r.cr4, xcr0 = c->r.xcr0;

	if (in->op == OP_X87) {
		if (cr0 & 0xc) /* EM or TS */
			return xg_emu_x86_exc(c, XG_EMU_X86_NM, 0, 0);
		return 0;
	}
	if (!(in->flags & F_SSE))
		return 0;
	if (in->enc == XG_EMU_X86_ENC_LEGACY) {
		if ((cr0 & 4) || !(cr4 & (1u << 9)))
			return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	} else {
		uint64_t need = in->enc == XG_EMU_X86_ENC_EVEX ? 0xe6 : 0x6, now;
		if (!(cr4 & (1u << 18))) /* CR4.OSXSAVE */
			return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
		/* a copy of XCR0 the VMM kept may predate the guest's XSETBV: asked again
		 * before a #UD it would decide (ops->get_xcr0) */
		if ((xcr0 & need) != need && c->ops->get_xcr0 && !c->ops->get_xcr0(c->opaque, &now))
			c->r.xcr0 = xcr0 = now;
		if ((xcr0 & need) != need)
			return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	}
	if (cr0 & 8)
		return xg_emu_x86_exc(c, XG_EMU_X86_NM, 0, 0);
	return 0;
}

static int emulate(struct xg_emu_x86_ctx *c, const uint8_t *bytes, size_t n)
{
	struct xg_emu_x86_insn *in = c->in;
	const struct xg_emu_x86_impl *impl;
	int rc;

	if ((rc = fetch_decode(c, bytes, n)))
		return rc;
	c->next_rip = c->r.rip + in->len;
	if (c->mode != 64)
		c->next_rip &= c->mode == 32 ? 0xffffffffull : 0xffffull;
	if ((rc = stage(c, XG_EMU_X86_STAGE_DECODE)))
		return rc;
	if (in->op == OP_NONE) {
		char tmp[96];
		snprintf(tmp, sizeof(tmp), "%s", c->res->reason);
		return not_handled(c, tmp);
	}
	c->res->reason[0] = 0;
	c->res->stage = XG_EMU_X86_STAGE_LEGALITY;
	if ((rc = legality(c)) || (rc = stage(c, XG_EMU_X86_STAGE_LEGALITY)))
		return rc;
	c->res->stage = XG_EMU_X86_STAGE_DEVICE;
	if ((rc = device(c)) || (rc = stage(c, XG_EMU_X86_STAGE_DEVICE)))
		return rc;
	if ((rc = stage(c, XG_EMU_X86_STAGE_PRIVILEGE)))
		return rc;
	if (in->op >= OP_MOVS && in->op <= OP_SCAS)
		return run_string(c);
	impl = in->op == OP_STUB     ? &xg_emu_x86_stub_impl
	       : in->op == OP_GP2    ? &xg_emu_x86_gp2_impl
	       : in->op == OP_X87    ? &xg_emu_x86_x87_impl
	       : (in->flags & F_SSE) ? &xg_emu_x86_simd_impl[in->op]
				     : &gp_impl[in->op];
	if (!impl->plan || !impl->exec)
		return not_handled(c, "no implementation");
	/* what plan() raises is operand legality (#UD) or a pending x87 #MF */
	c->res->stage = XG_EMU_X86_STAGE_LEGALITY;
	if ((rc = impl->plan(c)))
		return rc;
	if ((rc = memory_stages(c, 1))) {
		if (rc == XG_EMU_X86_EXCEPTION && c->xs_on_fault && c->xs_dirty) {
			struct xg_emu_x86_exception exc = c->res->exc;
			enum xg_emu_x86_stage at = c->res->stage;
			int rc2;
			c->nacc = 0;
			if ((rc2 = commit(c, 0)))
				return rc2;
			c->res->exc = exc;
			c->res->stage = at;
		}
		return rc;
	}
	if ((rc = impl->exec(c)))
		return rc;
	if ((rc = stage(c, XG_EMU_X86_STAGE_WRITEBACK)))
		return rc;
	return commit(c, 1);
}

/* The exception found (rc) delivered, the status recorded: how every emulation ends. */
int xg_emu_x86_finish(struct xg_emu_x86_ctx *c, int rc)
{
	if (rc == XG_EMU_X86_EXCEPTION) {
		enum xg_emu_x86_stage at = c->res->stage;
		rc = deliver(c);
		c->res->stage = at;
	}
	/* A lent image the vCPU did not get as it is now (a veto, an exception before the
	 * commit, a host failure, a read-only use whose initial-state components load_xsave
	 * made explicit): the VMM's copy is dropped, its next read is the vCPU's. */
	if (c->xs_lent && (c->xs_dirty || !c->xs_synced))
		c->ops->discard_xsave(c->opaque);
	c->res->status = (enum xg_emu_x86_status)rc;
	return rc;
}

/* A working copy set up and the registers read: 0, or the ERROR status in res. */
int xg_emu_x86_begin(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_ops *ops, void *opaque,
		     struct xg_emu_x86_result *res)
{
	int rc;

	/* res->insn is written by the decoder, whole; the rest of res here */
	res->status = XG_EMU_X86_OK;
	res->stage = XG_EMU_X86_STAGE_DECODE;
	memset(&res->exc, 0, sizeof(res->exc));
	res->reason[0] = 0;
	c->ops = ops;
	c->opaque = opaque;
	c->res = res;
	c->in = &res->insn;
	c->xs_loaded = c->xs_dirty = c->regs_dirty = 0;
	c->xs_lent = c->xs_synced = 0;
	c->xs_added = 0;
	c->xs_vregs = 0;
	c->xs_wide = 0;
	c->xs_mark = 0xe7;
	c->xs = c->xs_own;
	c->hook_mask = !ops->hook ? 0 : ops->hook_stages ? ops->hook_stages : ~0u;
	c->align = 0;
	c->x87_ran = c->partial_stores = c->xs_on_fault = 0;
	c->on_fault = NULL;
	c->nacc = 0;
	rc = ops->get_regs(opaque, &c->r);
	if (rc < 0) {
		memset(&res->insn, 0, sizeof(res->insn));
		res->status = XG_EMU_X86_ERROR;
		snprintf(res->reason, sizeof(res->reason),
			 "the VMM could not read the registers (get_regs): %s",
			 strerror(rc < 0 ? -rc : rc));
		return res->status;
	}
	/* operating mode: SDM Vol. 3A 2.2 and 5.2.1 (IA-32e sub-modes) */
	c->real = !(c->r.cr0 & CR0_PE) || (c->r.rflags & RFL_VM);
	c->mode = xg_emu_x86_code_bits(&c->r);
	c->cpl = !(c->r.cr0 & CR0_PE)	  ? 0
		 : (c->r.rflags & RFL_VM) ? 3
					  : c->r.seg[XG_EMU_X86_SS].dpl;
	c->vendor = c->r.vendor == XG_EMU_X86_VENDOR_AMD     ? XG_EMU_X86_VENDOR_AMD
		    : c->r.vendor == XG_EMU_X86_VENDOR_INTEL ? XG_EMU_X86_VENDOR_INTEL
							     : xg_emu_x86_host_vendor();
	return 0;
}

/* The whole pipeline on a ctx that xg_emu_x86_begin set up (the memo hands over here). */
int xg_emu_x86_run(struct xg_emu_x86_ctx *c, const uint8_t *bytes, size_t n)
{
	/* an operand's bytes that are not read (masked elements) are zero (the memo's short
	 * path reads and writes whole operands: it needs no zeroing) */
	memset(c->mem, 0, XG_EMU_X86_MEMZERO);
	return xg_emu_x86_finish(c, emulate(c, bytes, n));
}

/* For the memo (xg_emu_x86_fast.c): the pipeline's own write-back and host-error words. */
int xg_emu_x86_commit(struct xg_emu_x86_ctx *c, int advance)
{
	return commit(c, advance);
}

int xg_emu_x86_translate_access(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a)
{
	return for_pieces(c, a, piece_translate);
}

int xg_emu_x86_read_access(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a)
{
	return for_pieces(c, a, piece_read);
}

int xg_emu_x86_stage_hook(struct xg_emu_x86_ctx *c, enum xg_emu_x86_stage s)
{
	return stage_hook(c, s);
}

enum xg_emu_x86_status xg_emu_x86_emulate(const struct xg_emu_x86_ops *ops, void *opaque,
					  const uint8_t *bytes, size_t n,
					  struct xg_emu_x86_result *res)
{
	struct xg_emu_x86_ctx c;
	int rc = xg_emu_x86_begin(&c, ops, opaque, res);

	if (rc)
		return (enum xg_emu_x86_status)rc;
	return (enum xg_emu_x86_status)xg_emu_x86_run(&c, bytes, n);
}
