/*
 * xg_emu_x86_simd.c - SSE, AVX/AVX2 and AVX-512 moves.
 *
 * What is written to the destination register depends on the encoding (SDM Vol. 1 14.1.3 and
 * Vol. 2 2.3.10, 2.7): legacy SSE writes bits 127:0 (or less) and keeps the rest of the ZMM
 * register; VEX writes the vector length and zeroes up to the maximum vector length; EVEX
 * does the same with per-element merge or zero masking under k1-k7 (2.7.4), and an access
 * touches memory only for the elements the mask enables, which is also where faults are
 * suppressed (2.8, "memory fault suppression").
 */
#include <stdio.h>
#include <string.h>

#include "xg_emu_x86_int.h"

#define XS_MASK(c, k) ((c)->xs + XG_EMU_X86_XS_OPMASK + 8 * (k))

static unsigned vlen(const struct xg_emu_x86_ctx *c)
{
	return c->in->enc == XG_EMU_X86_ENC_LEGACY ? 16 : 16u << c->in->vl;
}

static unsigned esz_of(const struct xg_emu_x86_insn *in)
{
	switch (in->aux >> 8) {
	case ESZ_1:
		return 1;
	case ESZ_2:
		return 2;
	case ESZ_4:
		return 4;
	case ESZ_8:
		return 8;
	case ESZ_W48:
		return in->w ? 8 : 4;
	case ESZ_W12:
		return in->w ? 2 : 1;
	}
	return 4;
}

/* an EVEX operand under an opmask (k0 in aaa means no masking) */
static int evex_masked(const struct xg_emu_x86_ctx *c)
{
	return c->in->enc == XG_EMU_X86_ENC_EVEX && c->in->aaa;
}

/* EVEX opmask as element-enable bits (k0 in aaa means no masking) */
static uint64_t kmask(const struct xg_emu_x86_ctx *c)
{
	uint64_t k;

	if (c->in->enc != XG_EMU_X86_ENC_EVEX || !c->in->aaa)
		return ~0ull;
	memcpy(&k, XS_MASK(c, c->in->aaa), 8);
	return k;
}

static uint64_t elem_bits(unsigned n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* Accesses for the enabled elements only, one per contiguous run (per element for a masked
 * operand on AMD: xg_emu_x86_per_element). */
static void add_runs(struct xg_emu_x86_ctx *c, uint64_t ea, unsigned esz, unsigned n, uint64_t en,
		     unsigned kind, int masked)
{
	unsigned i = 0;

	while (i < n) {
		unsigned j;
		if (!((en >> i) & 1)) {
			i++;
			continue;
		}
		for (j = i + 1; j < n && ((en >> j) & 1) && !xg_emu_x86_per_element(c, masked); j++)
			;
		/* the effective address wraps at the address size, the elements after it do not
		 * (an operand is contiguous in its segment: seen with 16-bit addressing) */
		xg_emu_x86_add_acc(c, ea + (uint64_t)i * esz, c->in->seg, (j - i) * esz, kind,
				   i * esz);
		i = j;
	}
}

/*
 * Write `val` (vector-length bytes) to vector register `reg` with the encoding's rules:
 * legacy keeps bits above `len`, VEX zeroes them, EVEX merges/zeroes per element under the
 * mask and zeroes above the vector length.
 */
static void vwrite(struct xg_emu_x86_ctx *c, unsigned reg, const uint8_t *val, unsigned len,
		   unsigned esz, uint64_t en)
{
	uint8_t old[64], out[64];

	xg_emu_x86_vec_get(c, reg, old);
	if (c->in->enc == XG_EMU_X86_ENC_LEGACY) {
		memcpy(old, val, len);
		xg_emu_x86_vec_set(c, reg, old);
		return;
	}
	memset(out, 0, sizeof(out));
	if (c->in->enc == XG_EMU_X86_ENC_VEX) {
		memcpy(out, val, len);
	} else {
		for (unsigned i = 0; i < len / esz; i++) {
			if ((en >> i) & 1)
				memcpy(out + i * esz, val + i * esz, esz);
			else if (!c->in->z)
				memcpy(out + i * esz, old + i * esz, esz);
		}
	}
	xg_emu_x86_vec_set(c, reg, out);
}

static int ud(struct xg_emu_x86_ctx *c)
{
	return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
}

/* ---- full-width moves: mov[au]p[sd], movdq[au], vmovdqu8..64, movnt*, lddqu ---- */

static int plan_vmov(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned len = vlen(c), esz = esz_of(in);
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	if (!in->has_mem)
		return 0;
	/*
	 * Aligned to the full operand even when partly masked (SDM Vol. 2 VMOVAPS, VMOVDQA32);
	 * with every element masked off there is no access at all and, as the differential
	 * harness measured on an AMD Zen 4, no alignment #GP either.
	 */
	if ((in->flags & F_ALIGN) && (kmask(c) & elem_bits(len / esz))) {
		c->align = len;
		c->align_ea = xg_emu_x86_ea(c);
	}
	/* legacy SSE movs of m128 other than the unaligned ones need 16-byte alignment too
	 * (SDM Vol. 2 2.4, exception type 4): movsldup/movshdup go through here as well */
	add_runs(c, xg_emu_x86_ea(c), esz, len / esz, kmask(c) & elem_bits(len / esz),
		 (in->flags & F_STORE) ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, evex_masked(c));
	return 0;
}

static int exec_vmov(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned len = vlen(c), esz = esz_of(in);
	uint64_t en = kmask(c);
	uint8_t src[64];

	if (in->flags & F_STORE) {
		xg_emu_x86_vec_get(c, in->reg, src);
		if (in->has_mem)
			memcpy(c->mem, src, len); /* only the enabled runs are written */
		else
			vwrite(c, in->rm, src, len, esz, en);
		return 0;
	}
	if (in->has_mem)
		memcpy(src, c->mem, 64);
	else
		xg_emu_x86_vec_get(c, in->rm, src);
	vwrite(c, in->reg, src, len, esz, en);
	return 0;
}

/* ---- movss / movsd (and SSE4A's movntss / movntsd) ---- */

/* SSE4A in the guest's CPUID (ops->cpuid; the host's when the VMM gives none), CPUID
 * 80000001H:ECX[6] (AMD APM Vol. 3 CPUID): 0 if it has it, else #UD (AMD APM Vol. 4
 * MOVNTSS, MOVNTSD), or the ERROR status. */
static int need_sse4a(struct xg_emu_x86_ctx *c)
{
	static int host; /* bit 1: known; bit 0: SSE4A */
	uint32_t r[4] = {0}, e[4] = {0};
	int h;

	if (c->ops->cpuid) {
		if (c->ops->cpuid(c->opaque, 0x80000000u, 0, r) < 0 ||
		    (r[0] >= 0x80000001u && c->ops->cpuid(c->opaque, 0x80000001u, 0, e) < 0)) {
			snprintf(c->res->reason, sizeof(c->res->reason),
				 "the VMM could not give the guest's CPUID (cpuid)");
			return XG_EMU_X86_ERROR;
		}
		h = r[0] >= 0x80000001u && ((e[2] >> 6) & 1);
	} else {
		h = __atomic_load_n(&host, __ATOMIC_RELAXED);
		if (!h) {
			xg_emu_x86_host_cpuid(0x80000000u, 0, r);
			h = 2;
			if (r[0] >= 0x80000001u) {
				xg_emu_x86_host_cpuid(0x80000001u, 0, r);
				h |= (r[2] >> 6) & 1;
			}
			__atomic_store_n(&host, h, __ATOMIC_RELAXED);
		}
	}
	return h & 1 ? 0 : ud(c);
}

static int plan_vmovs(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	/* MOVNTSS/MOVNTSD (F3/F2 0F 2B): #UD without SSE4A (AMD APM Vol. 4) */
	if (in->opcode == 0x2b && (rc = need_sse4a(c)))
		return rc;
	if (!in->has_mem)
		return 0;
	if (in->enc != XG_EMU_X86_ENC_LEGACY && in->vvvv_enc)
		return ud(c); /* memory forms need vvvv = 1111b (and EVEX.V' = 1) */
	if (kmask(c) & 1)
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, in->aux & 0xff,
				   (in->flags & F_STORE) ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 0);
	return 0;
}

static int exec_vmovs(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->aux & 0xff;
	uint64_t en = kmask(c) & 1;
	uint8_t a[64], b[64], out[64];

	if (in->has_mem && (in->flags & F_STORE)) {
		xg_emu_x86_vec_get(c, in->reg, a);
		memcpy(c->mem, a, sz);
		return 0;
	}
	memset(out, 0, sizeof(out));
	if (in->has_mem) {
		/* load: the element, zeroes up to bit 127 in every encoding (SDM Vol. 2 MOVSS) */
		if (in->enc == XG_EMU_X86_ENC_LEGACY) {
			xg_emu_x86_vec_get(c, in->reg, out);
			memset(out, 0, 16);
		}
		if (en) {
			memcpy(out, c->mem, sz);
		} else if (!in->z) {
			xg_emu_x86_vec_get(c, in->reg, a);
			memcpy(out, a, sz);
		}
		/* legacy: out holds the old bits above 127; VEX/EVEX: zero there */
		xg_emu_x86_vec_set(c, in->reg, out);
		return 0;
	}
	/* register form: 10 /r dst = reg, 11 /r dst = rm; VEX/EVEX take 127:sz from vvvv */
	unsigned dst = (in->flags & F_STORE) ? in->rm : in->reg;
	unsigned srcr = (in->flags & F_STORE) ? in->reg : in->rm;
	xg_emu_x86_vec_get(c, srcr, a);
	if (in->enc == XG_EMU_X86_ENC_LEGACY) {
		xg_emu_x86_vec_get(c, dst, out);
		memcpy(out, a, sz);
		xg_emu_x86_vec_set(c, dst, out);
		return 0;
	}
	xg_emu_x86_vec_get(c, in->vvvv, b);
	memcpy(out, b, 16);
	if (en) {
		memcpy(out, a, sz);
	} else if (!in->z) {
		xg_emu_x86_vec_get(c, dst, b);
		memcpy(out, b, sz);
	} else {
		memset(out, 0, sz);
	}
	memset(out + 16, 0, 48);
	xg_emu_x86_vec_set(c, dst, out);
	return 0;
}

/* ---- movlps/movlpd/movhlps, movhps/movhpd/movlhps ---- */

static int plan_lohi(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	if (in->enc == XG_EMU_X86_ENC_EVEX && (in->aaa || in->z))
		return ud(c);
	if (in->has_mem)
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, 8,
				   (in->flags & F_STORE) ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 0);
	return 0;
}

static int exec_lohi(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	int hi = in->op == OP_VMOVHP;
	uint8_t d[64], s1[64], s2[64];

	if (in->flags & F_STORE) {
		xg_emu_x86_vec_get(c, in->reg, s1);
		memcpy(c->mem, s1 + (hi ? 8 : 0), 8);
		return 0;
	}
	/* first source: the destination itself (legacy) or vvvv (VEX/EVEX) */
	xg_emu_x86_vec_get(c, in->enc == XG_EMU_X86_ENC_LEGACY ? in->reg : in->vvvv, s1);
	if (in->has_mem)
		memcpy(s2, c->mem, 8);
	else
		xg_emu_x86_vec_get(c, in->rm, s2);
	memcpy(d, s1, 16);
	if (hi) /* movhps: high half from m64; movlhps: high half = low half of source 2 */
		memcpy(d + 8, s2, 8);
	else /* movlps: low half from m64; movhlps: low half = high half of source 2 */
		memcpy(d, s2 + (in->has_mem ? 0 : 8), 8);
	vwrite(c, in->reg, d, 16, 8, ~0ull);
	return 0;
}

/* ---- movddup, movsldup, movshdup ---- */

static int plan_dup(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned len = vlen(c);
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	/* EVEX masking acts on the destination only: the source is read whole, whatever the
	 * mask (exception types E4NF/E5NF, no memory fault suppression: SDM Vol. 2 2.8,
	 * VMOVSLDUP, VMOVSHDUP, VMOVDDUP) */
	if (!in->has_mem)
		return 0;
	if (in->op == OP_MOVDDUP && len == 16) {
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, 8, XG_EMU_X86_READ, 0);
		return 0;
	}
	if (in->enc == XG_EMU_X86_ENC_LEGACY && in->op != OP_MOVDDUP) {
		c->align = 16;
		c->align_ea = xg_emu_x86_ea(c);
	}
	xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, len, XG_EMU_X86_READ, 0);
	return 0;
}

static int exec_dup(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned len = vlen(c);
	uint8_t s[64], d[64];

	if (in->has_mem)
		memcpy(s, c->mem, 64);
	else
		xg_emu_x86_vec_get(c, in->rm, s);
	for (unsigned i = 0; i < len / 4; i++) {
		unsigned from;
		if (in->op == OP_MOVDDUP)
			from = (i & ~3u) + (i & 1); /* qword 2j of each lane pair */
		else if (in->op == OP_MOVSLDUP)
			from = i & ~1u;
		else
			from = i | 1u;
		memcpy(d + 4 * i, s + 4 * from, 4);
	}
	/* EVEX: the mask picks qwords for movddup (W1), dwords for movsldup/movshdup (W0) */
	vwrite(c, in->reg, d, len, in->op == OP_MOVDDUP ? 8 : 4, kmask(c));
	return 0;
}

/* ---- movd/movq between GPR/memory and XMM ---- */

/* REX.W / VEX.W / EVEX.W select the 64-bit forms of movd/movq, pinsr/pextr: in 64-bit mode
 * only; elsewhere W1 is the 32-bit form (SDM Vol. 2 MOVD/MOVQ, PINSRD/Q, PEXTRD/Q) */
static int w64(const struct xg_emu_x86_insn *in)
{
	return in->w && in->mode == 64;
}

static unsigned dq_size(const struct xg_emu_x86_insn *in)
{
	return w64(in) ? 8 : 4;
}

static int plan_movd(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = (in->op == OP_MOVD_TO_X || in->op == OP_MOVD_FROM_X) ? dq_size(in) : 8;
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	if (in->has_mem)
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, sz,
				   (in->op == OP_MOVD_FROM_X || in->op == OP_MOVQ_FROM_X)
				       ? XG_EMU_X86_WRITE
				       : XG_EMU_X86_READ,
				   0);
	return 0;
}

static int exec_movd(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	uint8_t v[64], d[64];
	uint64_t g;

	memset(d, 0, sizeof(d));
	switch (in->op) {
	case OP_MOVD_TO_X: {
		unsigned sz = dq_size(in);
		g = in->has_mem ? 0 : xg_emu_x86_gpr_get(c, in->rm, sz);
		if (in->has_mem)
			memcpy(d, c->mem, sz);
		else
			memcpy(d, &g, sz);
		vwrite(c, in->reg, d, 16, 16, ~0ull);
		break;
	}
	case OP_MOVD_FROM_X: {
		unsigned sz = dq_size(in);
		xg_emu_x86_vec_get(c, in->reg, v);
		if (in->has_mem) {
			memcpy(c->mem, v, sz);
		} else {
			g = 0;
			memcpy(&g, v, sz);
			xg_emu_x86_gpr_set(c, in->rm, sz, g);
		}
		break;
	}
	case OP_MOVQ_TO_X:
		if (in->has_mem) {
			memcpy(d, c->mem, 8);
		} else {
			xg_emu_x86_vec_get(c, in->rm, v);
			memcpy(d, v, 8);
		}
		vwrite(c, in->reg, d, 16, 16, ~0ull);
		break;
	case OP_MOVQ_FROM_X:
		xg_emu_x86_vec_get(c, in->reg, v);
		if (in->has_mem) {
			memcpy(c->mem, v, 8);
		} else {
			memcpy(d, v, 8);
			vwrite(c, in->rm, d, 16, 16, ~0ull);
		}
		break;
	}
	return 0;
}

/* ---- pinsr*, pextr*, insertps, extractps ---- */

static unsigned ins_size(const struct xg_emu_x86_insn *in)
{
	unsigned sz = in->aux & 0xff;
	return (sz == 4 && w64(in) && (in->op == OP_PINSR || in->op == OP_PEXTR) &&
		in->map == XG_EMU_X86_MAP_0F3A)
		   ? 8
		   : sz;
}

/* VPINSRQ/VPEXTRQ (VEX.W1 0F3A 22/16) outside 64-bit mode, where the decoder made W1 W0
 * (Intel runs them as VPINSRD/VPEXTRD: SDM Vol. 2 PINSRD/PINSRQ, PEXTRD/PEXTRQ, "VEX.W1 in
 * non-64 bit is ignored"): the W encoded tells them apart */
static int vex_w1_qword(const struct xg_emu_x86_insn *in)
{
	return in->mode != 64 && in->enc == XG_EMU_X86_ENC_VEX && in->map == XG_EMU_X86_MAP_0F3A &&
	       (in->opcode == 0x16 || in->opcode == 0x22) && in->w_enc;
}

static int plan_ins(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	/* EVEX pextrw r32 (0F C5): ModRM.reg is a GPR, and EVEX.R' = 0 would name a 17th */
	if (in->enc == XG_EMU_X86_ENC_EVEX && in->map == XG_EMU_X86_MAP_0F && in->opcode == 0xc5 &&
	    (in->reg & 16))
		return ud(c);
	if (c->vendor != XG_EMU_X86_VENDOR_INTEL && vex_w1_qword(in))
		return ud(c);
	if (in->has_mem)
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, ins_size(in),
				   (in->flags & F_STORE) ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 0);
	return 0;
}

static int exec_ins(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = ins_size(in), imm = (unsigned)in->imm & 0xff;
	uint8_t v[64], d[64];
	uint64_t g = 0;

	switch (in->op) {
	case OP_PINSR:
	case OP_INSERTPS: {
		unsigned slot;
		xg_emu_x86_vec_get(c, in->enc == XG_EMU_X86_ENC_LEGACY ? in->reg : in->vvvv, d);
		if (in->has_mem) {
			memcpy(&g, c->mem, sz);
		} else if (in->op == OP_INSERTPS) {
			xg_emu_x86_vec_get(c, in->rm, v);
			memcpy(&g, v + 4 * (imm >> 6), 4); /* count_s (SDM Vol. 2 INSERTPS) */
		} else {
			g = xg_emu_x86_gpr_get(c, in->rm, sz > 4 ? 8 : 4);
		}
		slot = in->op == OP_INSERTPS ? (imm >> 4) & 3 : imm & (16 / sz - 1);
		memcpy(d + slot * sz, &g, sz);
		if (in->op == OP_INSERTPS)
			for (unsigned i = 0; i < 4; i++)
				if ((imm >> i) & 1)
					memset(d + 4 * i, 0, 4);
		vwrite(c, in->reg, d, 16, 16, ~0ull);
		break;
	}
	case OP_PEXTR:
	case OP_EXTRACTPS: {
		/* 0F C5 extracts into ModRM.reg from ModRM.rm; the 0F3A forms the other way */
		int c5 = in->map == XG_EMU_X86_MAP_0F;
		unsigned slot = in->op == OP_EXTRACTPS ? imm & 3 : imm & (16 / sz - 1);
		xg_emu_x86_vec_get(c, c5 ? in->rm : in->reg, v);
		memcpy(&g, v + slot * sz, sz);
		if (in->has_mem)
			memcpy(c->mem, &g, sz);
		else
			xg_emu_x86_gpr_set(c, c5 ? in->reg : in->rm,
					   (sz == 8 || (c->mode == 64 && in->w)) ? 8 : 4, g);
		break;
	}
	}
	return 0;
}

/* ---- broadcasts ---- */

static int plan_bcast(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->aux & 0xff;
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	if (sz == 32 && in->vl != 2)
		return ud(c); /* the x8/x4 forms of 256 bits exist only in 512-bit form */
	if (sz == 16 && in->enc == XG_EMU_X86_ENC_VEX && !in->has_mem)
		return ud(c);
	/* vbroadcastf32x2 has no 128-bit form (SDM Vol. 2 VBROADCAST) */
	if (in->enc == XG_EMU_X86_ENC_EVEX && !in->w && in->opcode == 0x19 && !in->vl)
		return ud(c);
	if (in->has_mem) {
		/* Source element j is read only if a destination element it lands in is
		 * enabled (i % (sz / esz) == j): with every element masked off the CPU makes
		 * no access at all, and a fault comes from the first element it does read. */
		unsigned esz = sz < esz_of(in) ? sz : esz_of(in), ns = sz / esz;
		uint64_t k = kmask(c) & elem_bits(vlen(c) / esz), en = 0;
		for (unsigned i = 0; i < vlen(c) / esz; i++)
			if ((k >> i) & 1)
				en |= 1ull << (i % ns);
		add_runs(c, xg_emu_x86_ea(c), esz, ns, en, XG_EMU_X86_READ, evex_masked(c));
	}
	return 0;
}

static int exec_bcast(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->aux & 0xff, len = vlen(c);
	uint8_t s[64], d[64];

	if (in->has_mem)
		memcpy(s, c->mem, sz);
	else
		xg_emu_x86_vec_get(c, in->rm, s);
	for (unsigned i = 0; i < len; i += sz)
		memcpy(d + i, s, sz);
	vwrite(c, in->reg, d, len, esz_of(in), kmask(c));
	return 0;
}

/* ---- vmaskmovps/pd, vpmaskmovd/q (SDM Vol. 2 VMASKMOV, VPMASKMOV) ---- */

static unsigned mask_esz(const struct xg_emu_x86_insn *in)
{
	unsigned sz = in->aux & 0xff;
	return (in->opcode == 0x8c || in->opcode == 0x8e) && in->w ? 8 : sz;
}

static uint64_t sign_mask(struct xg_emu_x86_ctx *c, unsigned esz, unsigned n)
{
	uint8_t m[64];
	uint64_t en = 0;

	xg_emu_x86_vec_get(c, c->in->vvvv, m);
	for (unsigned i = 0; i < n; i++)
		if (m[i * esz + esz - 1] & 0x80)
			en |= 1ull << i;
	return en;
}

static int plan_mask(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned esz = mask_esz(in), len = vlen(c);
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	add_runs(c, xg_emu_x86_ea(c), esz, len / esz, sign_mask(c, esz, len / esz),
		 in->op == OP_VMASKSTORE ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 1);
	return 0;
}

static int exec_mask(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned esz = mask_esz(in), len = vlen(c);
	uint8_t v[64];

	if (in->op == OP_VMASKSTORE) {
		xg_emu_x86_vec_get(c, in->reg, v);
		memcpy(c->mem, v, len); /* only the enabled runs are written */
		return 0;
	}
	/* disabled elements were not read and are zero in ctx->mem */
	vwrite(c, in->reg, c->mem, len, esz, ~0ull);
	return 0;
}

/* ---- vinsertf128/vinserti128, vextractf128/vextracti128 ---- */

static int plan_lane(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	if (in->has_mem)
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, 16,
				   in->op == OP_VEXTRACT ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 0);
	return 0;
}

static int exec_lane(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned lane = (unsigned)in->imm & 1;
	uint8_t s[64], d[64];

	if (in->op == OP_VEXTRACT) {
		xg_emu_x86_vec_get(c, in->reg, s);
		if (in->has_mem) {
			memcpy(c->mem, s + 16 * lane, 16);
		} else {
			memset(d, 0, sizeof(d));
			memcpy(d, s + 16 * lane, 16);
			vwrite(c, in->rm, d, 16, 16, ~0ull);
		}
		return 0;
	}
	xg_emu_x86_vec_get(c, in->vvvv, d);
	if (in->has_mem)
		memcpy(s, c->mem, 16);
	else
		xg_emu_x86_vec_get(c, in->rm, s);
	memcpy(d + 16 * lane, s, 16);
	vwrite(c, in->reg, d, 32, 16, ~0ull);
	return 0;
}

const struct xg_emu_x86_impl xg_emu_x86_simd_impl[OP_COUNT] = {
    [OP_VMOV] = {plan_vmov, exec_vmov},	       [OP_VMOVS] = {plan_vmovs, exec_vmovs},
    [OP_VMOVLP] = {plan_lohi, exec_lohi},      [OP_VMOVHP] = {plan_lohi, exec_lohi},
    [OP_MOVDDUP] = {plan_dup, exec_dup},       [OP_MOVSLDUP] = {plan_dup, exec_dup},
    [OP_MOVSHDUP] = {plan_dup, exec_dup},      [OP_MOVD_TO_X] = {plan_movd, exec_movd},
    [OP_MOVD_FROM_X] = {plan_movd, exec_movd}, [OP_MOVQ_TO_X] = {plan_movd, exec_movd},
    [OP_MOVQ_FROM_X] = {plan_movd, exec_movd}, [OP_PINSR] = {plan_ins, exec_ins},
    [OP_PEXTR] = {plan_ins, exec_ins},	       [OP_INSERTPS] = {plan_ins, exec_ins},
    [OP_EXTRACTPS] = {plan_ins, exec_ins},     [OP_VBCAST] = {plan_bcast, exec_bcast},
    [OP_VMASKLOAD] = {plan_mask, exec_mask},   [OP_VMASKSTORE] = {plan_mask, exec_mask},
    [OP_VINSERT] = {plan_lane, exec_lane},     [OP_VEXTRACT] = {plan_lane, exec_lane},
};
