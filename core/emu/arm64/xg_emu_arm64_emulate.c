/*
 * xg_emu_arm64_emulate.c - the emulation pipeline of one A64 load or store.
 *
 * xg_emu_arm64_emulate() runs the stages of xg_emu_arm64.h in order on a copy of the
 * registers: address generation, SP and data alignment, translation of every page of every
 * access, the reads, and only then the writes, the registers and PC. The accesses of one
 * instruction are at most two elements of up to 16 bytes (LDP Q), each split where it
 * crosses a 4 KiB page: at most four parts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xg_emu_arm64.h"

#define SCTLR_A	   (1ull << 1)
#define SCTLR_SA   (1ull << 3)
#define SCTLR_SA0  (1ull << 4)
#define SCTLR_E0E  (1ull << 24)
#define SCTLR_EE   (1ull << 25)
#define PSTATE_NRW (1ull << 4)
#define PSTATE_UAO (1ull << 23)

#define PAGE 4096u

/* The most one instruction moves: LD4/ST4 or LD1 of four Q registers, 64 bytes. */
#define XG_STRUCT_MAX 64

static const char *const stage_names[XG_EMU_ARM64_NSTAGES] = {
    "decode", "alignment", "translate", "read", "writeback", "exception",
};

const char *xg_emu_arm64_stage_name(enum xg_emu_arm64_stage stage)
{
	return (unsigned)stage < XG_EMU_ARM64_NSTAGES ? stage_names[stage] : "?";
}

static const char *const status_names[] = {
    "ok", "exception", "not handled", "vetoed", "error",
};

const char *xg_emu_arm64_status_name(enum xg_emu_arm64_status st)
{
	return (unsigned)st < sizeof(status_names) / sizeof(status_names[0]) ? status_names[st]
									     : "?";
}

struct part {
	uint64_t va, ipa;
	unsigned off, size; /* bytes [off, off + size) of the data buffer */
};

struct ctx {
	const struct xg_emu_arm64_ops *ops;
	void *opaque;
	struct xg_emu_arm64_result *res;
	struct xg_emu_arm64_regs regs;
	unsigned el;
};

static enum xg_emu_arm64_status error(struct ctx *c, const char *what, int rc)
{
	c->res->status = XG_EMU_ARM64_ERROR;
	snprintf(c->res->reason, sizeof(c->res->reason), "error: %s failed: %s", what,
		 strerror(rc < 0 ? -rc : EIO));
	return XG_EMU_ARM64_ERROR;
}

static enum xg_emu_arm64_status not_handled(struct ctx *c, const char *why)
{
	c->res->status = XG_EMU_ARM64_NOT_HANDLED;
	snprintf(c->res->reason, sizeof(c->res->reason), "not handled: %s", why);
	return XG_EMU_ARM64_NOT_HANDLED;
}

static enum xg_emu_arm64_status hook(struct ctx *c, enum xg_emu_arm64_stage s)
{
	c->res->stage = s;
	if (c->ops->hook && c->ops->hook(c->opaque, s, &c->res->insn, NULL)) {
		c->res->status = XG_EMU_ARM64_VETOED;
		snprintf(c->res->reason, sizeof(c->res->reason), "vetoed at stage %s",
			 stage_names[s]);
		return XG_EMU_ARM64_VETOED;
	}
	return XG_EMU_ARM64_OK;
}

/* Deliver the exception in res->exc, found at `stage`. */
static enum xg_emu_arm64_status deliver(struct ctx *c, enum xg_emu_arm64_stage stage)
{
	int rc;

	c->res->stage = stage;
	if (c->ops->hook &&
	    c->ops->hook(c->opaque, XG_EMU_ARM64_STAGE_EXCEPTION, &c->res->insn, &c->res->exc)) {
		c->res->status = XG_EMU_ARM64_VETOED;
		snprintf(c->res->reason, sizeof(c->res->reason), "vetoed at stage exception");
		return XG_EMU_ARM64_VETOED;
	}
	rc = c->ops->inject(c->opaque, &c->res->exc);
	if (rc)
		return error(c, "ops->inject", rc);
	c->res->status = XG_EMU_ARM64_EXCEPTION;
	return XG_EMU_ARM64_EXCEPTION;
}

/* A data abort (ESR_ELx ISS for EC 0x24/0x25, ARM ARM D17.2.37): ISV = 0, WnR, DFSC. */
static enum xg_emu_arm64_status data_abort(struct ctx *c, uint64_t far, int write, uint8_t fsc,
					   enum xg_emu_arm64_stage stage)
{
	unsigned ec = c->el ? XG_EMU_ARM64_EC_DABT_CUR : XG_EMU_ARM64_EC_DABT_LOW;

	c->res->exc.esr = ec << 26 | 1u << 25 | (write ? 1u << 6 : 0) | fsc;
	c->res->exc.far = far;
	return deliver(c, stage);
}

static int do_translate(struct ctx *c, uint64_t va, enum xg_emu_arm64_access kind, unsigned el,
			uint64_t *ipa, uint8_t *fsc)
{
	if (c->ops->translate)
		return c->ops->translate(c->opaque, va, kind, el, ipa, fsc);
	return xg_emu_arm64_translate(c->ops, c->opaque, &c->regs, va, kind, el, ipa, fsc);
}

/* Fetch the word at PC through the same translation (an instruction abort if it faults). */
static enum xg_emu_arm64_status fetch(struct ctx *c, uint32_t *word)
{
	uint64_t ipa;
	uint8_t fsc;
	int rc;

	if (c->regs.pc & 3) {
		/* PC alignment fault, EC 0x22 (ARM ARM D1.8.1) */
		c->res->exc.esr = 0x22u << 26 | 1u << 25;
		c->res->exc.far = c->regs.pc;
		return deliver(c, XG_EMU_ARM64_STAGE_DECODE);
	}
	rc = do_translate(c, c->regs.pc, XG_EMU_ARM64_FETCH, c->el, &ipa, &fsc);
	if (rc < 0)
		return error(c, "translating PC", rc);
	if (rc) {
		unsigned ec = c->el ? XG_EMU_ARM64_EC_IABT_CUR : XG_EMU_ARM64_EC_IABT_LOW;

		c->res->exc.esr = ec << 26 | 1u << 25 | fsc;
		c->res->exc.far = c->regs.pc;
		return deliver(c, XG_EMU_ARM64_STAGE_DECODE);
	}
	rc = c->ops->read(c->opaque, ipa, word, 4, XG_EMU_ARM64_FETCH);
	if (rc)
		return error(c, "ops->read of the instruction", rc);
	return XG_EMU_ARM64_OK;
}

/* The offset register of a register-offset form, extended and shifted (C6.2, ExtendReg). */
static uint64_t extend_reg(const struct ctx *c, const struct xg_emu_arm64_insn *in)
{
	uint64_t v = in->rm == 31 ? 0 : c->regs.x[in->rm];

	switch (in->extend) {
	case XG_EMU_ARM64_UXTW:
		v = (uint32_t)v;
		break;
	case XG_EMU_ARM64_SXTW:
		v = (uint64_t)(int64_t)(int32_t)v;
		break;
	default: /* UXTX (LSL) and SXTX: the whole register */
		break;
	}
	return v << in->shift;
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < size && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void store_le(uint8_t *p, uint64_t v, unsigned size)
{
	unsigned i;

	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A loaded general-register value as Rt receives it: sign- or zero-extended, W zeroes 63:32. */
static uint64_t load_value(const struct xg_emu_arm64_insn *in, const uint8_t *p)
{
	uint64_t v = load_le(p, in->size);

	if (in->sign && in->size < 8) {
		uint64_t m = 1ull << (8 * in->size - 1);
		v = (v ^ m) - m;
	}
	return in->regsize == 4 ? (uint32_t)v : v;
}

/*
 * Between the V registers and the bytes of a structure instruction, in memory order (C7.2
 * LD1 multiple/single structure, LD1R pseudocode): multiple structures walk the elements e
 * of the registers, and for each the selem registers of a structure; single structures one
 * lane of selem registers; LDnR one element per register, replicated. A load writes a whole
 * 64-bit arrangement's register with its upper half zero; a single-lane load keeps the other
 * lanes.
 */
static void struct_move(const struct xg_emu_arm64_insn *in, struct xg_emu_arm64_vregs *v,
			uint8_t *data, int load)
{
	unsigned es = in->size, r, e, s, off = 0, t;

	if (in->single || in->replicate) {
		for (s = 0; s < in->selem; s++, off += es) {
			uint8_t *reg = v->v[(in->rt + s) % 32];

			if (!load) {
				memcpy(data + off, reg + in->lane * es, es);
			} else if (in->single) {
				memcpy(reg + in->lane * es, data + off, es);
			} else {
				memset(reg, 0, 16);
				for (e = 0; e < in->datasize; e += es)
					memcpy(reg + e, data + off, es);
			}
		}
		return;
	}
	for (r = 0; r < in->rpt; r++) {
		for (e = 0; e < in->datasize / es; e++) {
			for (s = 0; s < in->selem; s++, off += es) {
				t = (in->rt + r + s) % 32;
				if (load)
					memcpy(v->v[t] + e * es, data + off, es);
				else
					memcpy(data + off, v->v[t] + e * es, es);
			}
		}
	}
	if (load && in->datasize == 8)
		for (s = 0; s < in->rpt * in->selem; s++)
			memset(v->v[(in->rt + s) % 32] + 8, 0, 8);
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static int64_t sext_size(uint64_t v, unsigned size)
{
	uint64_t m = 1ull << (8 * size - 1);

	v &= size_mask(size);
	return (int64_t)((v ^ m) - m);
}

/* The value an LSE atomic writes, from the old one in `data` (C6.2 LDADD ... SWP, CAS,
 * CASP). Returns 1 if it writes (a CAS/CASP whose compare fails does not). */
static int atomic_op(const struct ctx *c, const struct xg_emu_arm64_insn *in, const uint8_t *data,
		     uint8_t *wdata)
{
	unsigned sz = in->size;
	uint64_t old = load_le(data, sz), s = in->rs == 31 ? 0 : c->regs.x[in->rs], n;

	s &= size_mask(sz);
	switch (in->aop) {
	case XG_EMU_ARM64_AOP_ADD:
		n = old + s;
		break;
	case XG_EMU_ARM64_AOP_CLR:
		n = old & ~s;
		break;
	case XG_EMU_ARM64_AOP_EOR:
		n = old ^ s;
		break;
	case XG_EMU_ARM64_AOP_SET:
		n = old | s;
		break;
	case XG_EMU_ARM64_AOP_SMAX:
		n = sext_size(old, sz) > sext_size(s, sz) ? old : s;
		break;
	case XG_EMU_ARM64_AOP_SMIN:
		n = sext_size(old, sz) < sext_size(s, sz) ? old : s;
		break;
	case XG_EMU_ARM64_AOP_UMAX:
		n = old > s ? old : s;
		break;
	case XG_EMU_ARM64_AOP_UMIN:
		n = old < s ? old : s;
		break;
	case XG_EMU_ARM64_AOP_SWP:
		n = s;
		break;
	case XG_EMU_ARM64_AOP_CAS:
		if (old != s)
			return 0;
		n = in->rt == 31 ? 0 : c->regs.x[in->rt];
		break;
	default: { /* CASP: Rs:Rs+1 against the pair, Rt:Rt+1 written */
		uint64_t old2 = load_le(data + sz, sz);
		uint64_t s2 = in->rs + 1 == 31 ? 0 : c->regs.x[in->rs + 1];
		uint64_t t1 = in->rt == 31 ? 0 : c->regs.x[in->rt];
		uint64_t t2 = in->rt + 1 == 31 ? 0 : c->regs.x[in->rt + 1];

		if (old != s || old2 != (s2 & size_mask(sz)))
			return 0;
		store_le(wdata, t1, sz);
		store_le(wdata + sz, t2, sz);
		return 1;
	}
	}
	store_le(wdata, n, sz);
	return 1;
}

/* An atomic's register results: the old value to Rt (LD<op>, SWP) or to Rs (CAS, CASP),
 * zero-extended. */
static void atomic_regs(struct ctx *c, const struct xg_emu_arm64_insn *in, const uint8_t *data)
{
	unsigned sz = in->size;

	switch (in->aop) {
	case XG_EMU_ARM64_AOP_CASP:
		if (in->rs + 1 < 31)
			c->regs.x[in->rs + 1] = load_le(data + sz, sz);
		/* fall through */
	case XG_EMU_ARM64_AOP_CAS:
		if (in->rs != 31)
			c->regs.x[in->rs] = load_le(data, sz);
		break;
	default:
		if (in->rt != 31)
			c->regs.x[in->rt] = load_le(data, sz);
	}
}

#define SCTLR_DZE  (1ull << 14)
#define DCZID_DZP  (1u << 4)
#define DCZ_MAX_BS 9 /* 2 KiB, the largest block DCZID_EL0.BS may give (D17.2.34) */

/*
 * DC ZVA (C5.3.x): the EL0 trap (SCTLR_EL1.DZE), the block from DCZID_EL0, one translation of
 * the block for a write (a fault is a data abort with WnR = 1, FAR within the block), then
 * the zeros and PC += 4. The decoder has already run, and the DECODE hook.
 */
static enum xg_emu_arm64_status dc_zva(struct ctx *c, struct xg_emu_arm64_insn *in)
{
	static const uint8_t zeros[4u << DCZ_MAX_BS];
	uint64_t dczid = 4, addr, ipa;
	enum xg_emu_arm64_status st;
	uint8_t fsc = 0;
	unsigned block;
	int rc;

	if (c->el == 0 && !(c->regs.sctlr_el1 & SCTLR_DZE)) {
		/* trapped to EL1: EC 0x18, ISS = Op0 Op2 Op1 CRn Rt CRm Direction (D17.2.37) */
		c->res->exc.esr = 0x18u << 26 | 1u << 25 | 1u << 20 | 1u << 17 | 3u << 14 |
				  7u << 10 | (uint32_t)in->rt << 5 | 4u << 1;
		c->res->exc.far = 0;
		return deliver(c, XG_EMU_ARM64_STAGE_DECODE);
	}
	if (c->ops->get_dczid) {
		rc = c->ops->get_dczid(c->opaque, &dczid);
		if (rc)
			return error(c, "ops->get_dczid", rc);
	}
	if (dczid & DCZID_DZP)
		return not_handled(c, "DC ZVA prohibited (DCZID_EL0.DZP = 1: trapped to EL2, not "
				      "modelled)");
	if ((dczid & 15) > DCZ_MAX_BS)
		return not_handled(c, "DCZID_EL0.BS is larger than 2 KiB (reserved)");
	block = 4u << (dczid & 15);
	in->imm = block;
	addr = (in->rt == 31 ? 0 : c->regs.x[in->rt]) & ~(uint64_t)(block - 1);
	st = hook(c, XG_EMU_ARM64_STAGE_ALIGNMENT);
	if (st)
		return st;
	rc = do_translate(c, addr, XG_EMU_ARM64_WRITE, c->el, &ipa, &fsc);
	if (rc < 0)
		return error(c, "translation", rc);
	if (rc)
		return data_abort(c, addr, 1, fsc, XG_EMU_ARM64_STAGE_TRANSLATE);
	st = hook(c, XG_EMU_ARM64_STAGE_TRANSLATE);
	if (st)
		return st;
	st = hook(c, XG_EMU_ARM64_STAGE_WRITEBACK);
	if (st)
		return st;
	rc = c->ops->write(c->opaque, ipa, zeros, block);
	if (rc)
		return error(c, "ops->write", rc);
	c->regs.pc += 4;
	rc = c->ops->set_regs(c->opaque, &c->regs);
	if (rc)
		return error(c, "ops->set_regs", rc);
	c->res->status = XG_EMU_ARM64_OK;
	return XG_EMU_ARM64_OK;
}

enum xg_emu_arm64_status xg_emu_arm64_emulate(const struct xg_emu_arm64_ops *ops, void *opaque,
					      const uint32_t *word, struct xg_emu_arm64_result *res)
{
	struct ctx c = {.ops = ops, .opaque = opaque, .res = res};
	struct xg_emu_arm64_insn *in = &res->insn;
	struct xg_emu_arm64_vregs v;
	struct part parts[XG_STRUCT_MAX + 1];
	uint8_t data[XG_STRUCT_MAX];
	uint64_t base, addr, wb = 0;
	unsigned nparts = 0, nelem, i, acc_el;
	enum xg_emu_arm64_status st;
	enum xg_emu_arm64_access kind;
	uint8_t wdata[16];
	int rmw_write = 0;
	uint32_t w;
	int rc;

	memset(res, 0, sizeof(*res));
	/* named before decode: a hook may see an exception of the fetch, before there is one */
	in->name = "?";
	memset(data, 0, sizeof(data));
	rc = ops->get_regs(opaque, &c.regs);
	if (rc)
		return error(&c, "ops->get_regs", rc);
	if (c.regs.pstate & PSTATE_NRW)
		return not_handled(&c, "the vCPU is in AArch32 state");
	c.el = (c.regs.pstate >> 2) & 3;
	if (c.el > 1)
		return not_handled(&c, "the vCPU is at EL2 or EL3 (only EL0 and EL1 are modelled)");
	/* Data endianness (ARM ARM D8.1.3): EE for EL1 and the table walks, E0E for EL0. */

	if ((c.regs.sctlr_el1 & SCTLR_EE) || (c.el == 0 && (c.regs.sctlr_el1 & SCTLR_E0E)))
		return not_handled(&c, "big-endian data (SCTLR_EL1.EE/E0E set)");

	if (word) {
		w = *word;
	} else {
		st = fetch(&c, &w);
		if (st != XG_EMU_ARM64_OK)
			return st;
	}

	/* DECODE */
	st = xg_emu_arm64_decode(w, in, &res->exc, res->reason);
	res->stage = XG_EMU_ARM64_STAGE_DECODE;
	if (st == XG_EMU_ARM64_EXCEPTION)
		return deliver(&c, XG_EMU_ARM64_STAGE_DECODE);
	if (st != XG_EMU_ARM64_OK) {
		res->status = st;
		return st;
	}
	st = hook(&c, XG_EMU_ARM64_STAGE_DECODE);
	if (st)
		return st;

	if (in->cls == XG_EMU_ARM64_C_DCZVA)
		return dc_zva(&c, in);
	if (in->cls == XG_EMU_ARM64_C_PREFETCH) {
		/* PRFM is a hint that never faults (C6.2 PRFM): it is done once PC moves on */
		st = hook(&c, XG_EMU_ARM64_STAGE_WRITEBACK);
		if (st)
			return st;
		c.regs.pc += 4;
		rc = ops->set_regs(opaque, &c.regs);
		if (rc)
			return error(&c, "ops->set_regs", rc);
		return XG_EMU_ARM64_OK;
	}

	/* Address generation (C6.2 per form; Rn = 31 is SP as a base) */
	base = in->index == XG_EMU_ARM64_LITERAL ? c.regs.pc
	       : in->rn == 31			 ? c.regs.sp
						 : c.regs.x[in->rn];
	switch (in->index) {
	case XG_EMU_ARM64_POST:
		addr = base;
		/* LD1-4/ST1-4 post-index by a register, unless Rm = 31 (the immediate) */
		wb = base + (in->cls == XG_EMU_ARM64_C_STRUCT && in->rm != 31 ? c.regs.x[in->rm]
									      : (uint64_t)in->imm);
		break;
	case XG_EMU_ARM64_PRE:
		addr = wb = base + (uint64_t)in->imm;
		break;
	case XG_EMU_ARM64_REGOFF:
		addr = base + extend_reg(&c, in);
		break;
	default:
		/* a structure instruction's imm is its post-index, not an offset */
		addr = base + (in->cls == XG_EMU_ARM64_C_STRUCT ? 0 : (uint64_t)in->imm);
	}
	/* the accesses: one element per register, or every element of a structure
	 * instruction (in->imm is then the bytes it moves) */
	nelem = in->cls == XG_EMU_ARM64_C_PAIR || in->aop == XG_EMU_ARM64_AOP_CASP ? 2
		: in->cls == XG_EMU_ARM64_C_STRUCT ? (unsigned)in->imm / in->size
						   : 1;

	/* ALIGNMENT: SP alignment (D1.8.2) checks the base itself, before the data check */
	if (in->rn == 31 && in->index != XG_EMU_ARM64_LITERAL &&
	    (c.regs.sctlr_el1 & (c.el ? SCTLR_SA : SCTLR_SA0)) && (base & 15)) {
		res->exc.esr = (uint32_t)XG_EMU_ARM64_EC_SP_ALIGN << 26 | 1u << 25;
		res->exc.far = base;
		return deliver(&c, XG_EMU_ARM64_STAGE_ALIGNMENT);
	}
	/* SCTLR_EL1.A checks every access against its element size; load-acquire/store-release
	 * are always checked (B2.5.2, no FEAT_LSE2). Unaligned accesses to Device memory also
	 * fault on hardware; the emulator does not know memory types (no MAIR) and lets them
	 * through. */
	if (((c.regs.sctlr_el1 & SCTLR_A) || in->acqrel) &&
	    (addr & ((in->aop == XG_EMU_ARM64_AOP_CASP ? 2u * in->size : in->size) - 1)))
		return data_abort(&c, addr, !in->load, XG_EMU_ARM64_FSC_ALIGNMENT,
				  XG_EMU_ARM64_STAGE_ALIGNMENT);
	st = hook(&c, XG_EMU_ARM64_STAGE_ALIGNMENT);
	if (st)
		return st;

	/* TRANSLATE every page of every element before any access. LDTR/STTR at EL1 are
	 * checked as EL0 unless PSTATE.UAO (C6.2 LDTR, D8.4.1.2.4). */
	acc_el = in->unpriv && c.el == 1 && !(c.regs.pstate & PSTATE_UAO) ? 0 : c.el;
	kind = in->cls == XG_EMU_ARM64_C_ATOMIC ? XG_EMU_ARM64_RMW
	       : in->load			? XG_EMU_ARM64_READ
						: XG_EMU_ARM64_WRITE;
	for (i = 0; i < nelem; i++) {
		uint64_t va = addr + (uint64_t)i * in->size;
		unsigned off = i * in->size, left = in->size;

		while (left) {
			unsigned n = PAGE - (unsigned)(va & (PAGE - 1));
			uint8_t fsc = 0;

			if (n > left)
				n = left;
			rc = do_translate(&c, va, kind, acc_el, &parts[nparts].ipa, &fsc);
			if (rc < 0)
				return error(&c, "translation", rc);
			/* an atomic is translated for its write, and reports WnR = 1 */
			if (rc)
				return data_abort(&c, va, kind != XG_EMU_ARM64_READ, fsc,
						  XG_EMU_ARM64_STAGE_TRANSLATE);
			parts[nparts].va = va;
			parts[nparts].off = off;
			parts[nparts].size = n;
			nparts++;
			va += n;
			off += n;
			left -= n;
		}
	}
	st = hook(&c, XG_EMU_ARM64_STAGE_TRANSLATE);
	if (st)
		return st;

	if (in->fp) {
		rc = ops->get_vregs(opaque, &v);
		if (rc)
			return error(&c, "ops->get_vregs", rc);
	}

	/* READ (loads), or the data of a store, taken from the registers as they were: a
	 * store with writeback and Rt = Rn stores the original Rn, one of the CONSTRAINED
	 * UNPREDICTABLE choices (ARM ARM K1.2.7), the one the pseudocode gives without the
	 * check. */
	if (in->load) {
		for (i = 0; i < nparts; i++) {
			rc = ops->read(opaque, parts[i].ipa, data + parts[i].off, parts[i].size,
				       XG_EMU_ARM64_READ);
			if (rc)
				return error(&c, "ops->read", rc);
		}
		st = hook(&c, XG_EMU_ARM64_STAGE_READ);
		if (st)
			return st;
		if (in->cls == XG_EMU_ARM64_C_ATOMIC)
			rmw_write = atomic_op(&c, in, data, wdata);
	} else if (in->cls == XG_EMU_ARM64_C_STRUCT) {
		struct_move(in, &v, data, 0);
	} else {
		for (i = 0; i < nelem; i++) {
			unsigned r = i ? in->rt2 : in->rt;

			if (in->fp)
				memcpy(data + i * in->size, v.v[r], in->size);
			else
				store_le(data + i * in->size, r == 31 ? 0 : c.regs.x[r], in->size);
		}
	}

	/* WRITEBACK: the last chance to veto, then the writes, then the registers */
	st = hook(&c, XG_EMU_ARM64_STAGE_WRITEBACK);
	if (st)
		return st;
	if (!in->load || rmw_write) {
		for (i = 0; i < nparts; i++) {
			rc = ops->write(opaque, parts[i].ipa,
					(rmw_write ? wdata : data) + parts[i].off, parts[i].size);
			if (rc)
				return error(&c, "ops->write", rc);
		}
	}
	/* The base first, then Rt and Rt2: a load with writeback and Rn = Rt or Rt2 (Rn not
	 * SP) is CONSTRAINED UNPREDICTABLE (K1.2.7); the emulator takes "the base register
	 * becomes UNKNOWN" and makes the unknown value the loaded one, so the load wins. A
	 * load pair with Rt = Rt2 likewise leaves Rt2's value. */
	if (in->index == XG_EMU_ARM64_PRE || in->index == XG_EMU_ARM64_POST) {
		if (in->rn == 31)
			c.regs.sp = wb;
		else
			c.regs.x[in->rn] = wb;
	}
	if (in->cls == XG_EMU_ARM64_C_ATOMIC) {
		atomic_regs(&c, in, data);
	} else if (in->load && in->cls == XG_EMU_ARM64_C_STRUCT) {
		struct_move(in, &v, data, 1);
	} else if (in->load) {
		for (i = 0; i < nelem; i++) {
			unsigned r = i ? in->rt2 : in->rt;

			if (in->fp) {
				memset(v.v[r], 0, sizeof(v.v[r]));
				memcpy(v.v[r], data + i * in->size, in->size);
			} else if (r != 31) {
				c.regs.x[r] = load_value(in, data + i * in->size);
			}
		}
	}
	c.regs.pc += 4;
	if (in->fp && in->load) {
		rc = ops->set_vregs(opaque, &v);
		if (rc)
			return error(&c, "ops->set_vregs", rc);
	}
	rc = ops->set_regs(opaque, &c.regs);
	if (rc)
		return error(&c, "ops->set_regs", rc);
	res->status = XG_EMU_ARM64_OK;
	return XG_EMU_ARM64_OK;
}
