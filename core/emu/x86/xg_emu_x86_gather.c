/*
 * xg_emu_x86_gather.c - gathers and scatters: VEX VPGATHERDD/DQ/QD/QQ and VGATHERDPS/DPD/
 * QPS/QPD (0F38 90-93), their EVEX forms, and EVEX VPSCATTER/VSCATTER (0F38 A0-A3).
 *
 * One memory access per active element, in element order (SDM Vol. 2 VPGATHERDD: "the
 * elements are gathered in order, from LSB to MSB"; VPSCATTERDD: "writes to overlapping
 * destination locations are ordered"). An element is active if the MSB of its mask element
 * is set (VEX: the vvvv vector register) or its opmask bit (EVEX, k0 is #UD); inactive
 * elements make no access and cannot fault. When an element's access faults, the elements
 * before it are complete - loaded into the destination, or stored - and their mask bits
 * cleared, and that state is what the fault is delivered with (the pipeline's partial
 * handler: ctx->on_fault); a complete instruction leaves the whole mask zero. Destination
 * and mask bits above the vector length (above half of it for the QD/QPS forms, whose
 * destination is half the index's width) are zeroed, as every VEX/EVEX write does, but for
 * a VEX gather stopped by a fault, where Intel and AMD differ (finish(); the vendor list in
 * xg_emu_x86.h).
 */
#include <string.h>

#include "xg_emu_x86_int.h"

struct shape {
	unsigned n, ds, is, vl; /* elements, data and index element bytes, vector bytes */
	int scatter;
};

static void shape_of(const struct xg_emu_x86_insn *in, struct shape *s)
{
	unsigned big;

	s->ds = in->w ? 8 : 4;
	s->is = (in->opcode & 1) ? 8 : 4;
	s->vl = 16u << in->vl;
	big = s->ds > s->is ? s->ds : s->is;
	s->n = s->vl / big;
	s->scatter = in->opcode >= 0xa0;
}

static int active(struct xg_emu_x86_ctx *c, const struct shape *s, unsigned i)
{
	const struct xg_emu_x86_insn *in = c->in;
	uint8_t m[64];
	uint64_t k;

	if (in->enc == XG_EMU_X86_ENC_EVEX) {
		memcpy(&k, c->xs + XG_EMU_X86_XS_OPMASK + 8 * in->aaa, 8);
		return (k >> i) & 1;
	}
	xg_emu_x86_vec_get(c, in->vvvv, m);
	return m[s->ds * i + s->ds - 1] >> 7;
}

/*
 * Write the loaded elements [0, upto) of a gather and clear their mask. Complete (upto == n):
 * the whole mask is zero and the bits above the destination's width are zeroed. Stopped by a
 * fault: the destination's bits above the vector length are zeroed if an element was loaded,
 * else it is left whole; a VEX mask's remaining elements read all
 * ones if active, zero if not (those past the destination's width too), and its bits above
 * the vector length are zeroed (seen on the CPU: it keeps the mask as whole elements, written
 * as a VEX register).
 */
/* The active elements before `upto`, read into c->mem in order, put into d: their count. */
static unsigned loaded(const struct xg_emu_x86_ctx *c, const struct shape *s, unsigned upto,
		       uint8_t *d)
{
	unsigned a = 0;

	for (unsigned i = 0; i < upto; i++) {
		if (!c->acc_elem_active[i])
			continue;
		memcpy(d + s->ds * i, c->mem + 8 * a, s->ds);
		a++;
	}
	return a;
}

static void finish(struct xg_emu_x86_ctx *c, const struct shape *s, unsigned upto)
{
	const struct xg_emu_x86_insn *in = c->in;
	uint8_t d[64], m[64];
	unsigned width = s->n * s->ds, all = upto >= s->n, any = 0;

	/* AMD: a VEX gather stopped by a fault has loaded its active elements before it and
	 * zeroed the mask elements before it (active or not), and left everything else as it
	 * was: the other elements, and the bits above the vector length of both registers (the
	 * SDM's element-by-element model, with no register write of the VEX kind; seen on an
	 * AMD EPYC (Zen 5), AMD APM Vol. 4 VPGATHERDD leaves it unspecified) */
	if (!all && in->enc != XG_EMU_X86_ENC_EVEX && !s->scatter &&
	    c->vendor != XG_EMU_X86_VENDOR_INTEL) {
		if (!upto)
			return;
		xg_emu_x86_vec_get(c, in->reg, d);
		loaded(c, s, upto, d);
		xg_emu_x86_vec_set(c, in->reg, d);
		xg_emu_x86_vec_get(c, in->vvvv, m);
		memset(m, 0, s->ds * upto);
		xg_emu_x86_vec_set(c, in->vvvv, m);
		return;
	}

	if (!s->scatter) {
		xg_emu_x86_vec_get(c, in->reg, d);
		any = loaded(c, s, upto, d) > 0;
		/* the destination is written (its upper bits zeroed) once an element is
		 * loaded, or at the end; a fault on the first active element leaves it whole */
		if (all)
			memset(d + width, 0, 64 - width);
		else if (any)
			memset(d + s->vl, 0, 64 - s->vl);
		if (all || any)
			xg_emu_x86_vec_set(c, in->reg, d);
	}
	if (in->enc == XG_EMU_X86_ENC_EVEX) {
		uint64_t k;
		memcpy(&k, c->xs + XG_EMU_X86_XS_OPMASK + 8 * in->aaa, 8);
		k = upto >= s->n ? 0 : k & ~((1ull << upto) - 1);
		memcpy(c->xs + XG_EMU_X86_XS_OPMASK + 8 * in->aaa, &k, 8);
		c->xs_dirty = 1;
		c->xs_wide = 1; /* the opmask component written (settle_xstate_bv) */
	} else {
		xg_emu_x86_vec_get(c, in->vvvv, m);
		if (all) {
			memset(m, 0, 64);
		} else {
			/* the elements past n (QD/QPS forms) are normalized the same way */
			for (unsigned i = 0; i < s->vl / s->ds; i++) {
				int on = i < s->n ? c->acc_elem_active[i]
						  : m[s->ds * i + s->ds - 1] >> 7;
				memset(m + s->ds * i, i >= upto && on ? 0xff : 0, s->ds);
			}
			memset(m + s->vl, 0, 64 - s->vl);
		}
		xg_emu_x86_vec_set(c, in->vvvv, m);
	}
}

/* the pipeline's partial handler: accesses [0, done) completed before a fault */
static int gather_on_fault(struct xg_emu_x86_ctx *c, unsigned done)
{
	struct shape s;
	unsigned upto = 0, a = 0;

	shape_of(c->in, &s);
	/* the element whose access faulted: the first active one past `done` accesses */
	while (upto < s.n && (a < done || !c->acc_elem_active[upto])) {
		a += c->acc_elem_active[upto];
		upto++;
	}
	finish(c, &s, upto);
	return 0;
}

int xg_emu_x86_gather_plan(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	struct shape s;
	uint8_t idx[64], src[64];
	uint64_t base, am = xg_emu_x86_addr_mask(in);
	int rc;

	shape_of(in, &s);
	/* EVEX: k0 (no mask), zeroing and a vvvv other than 1111b (in every mode) are #UD
	 * (SDM Vol. 2 VPGATHERDD/VPSCATTERDD, "EVEX-encoded"); 16-bit addressing cannot encode a
	 * VSIB (the decoder refuses it) */
	if (in->enc == XG_EMU_X86_ENC_EVEX && (!in->aaa || in->z || (in->vvvv_enc & 15)))
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if ((rc = xg_emu_x86_load_xsave(c)))
		return rc;
	base = xg_emu_x86_ea(c);
	xg_emu_x86_vec_get(c, in->index, idx);
	if (s.scatter)
		xg_emu_x86_vec_get(c, in->reg, src);
	for (unsigned i = 0, a = 0; i < s.n; i++) {
		int64_t ix;
		c->acc_elem_active[i] = (uint8_t)active(c, &s, i);
		if (!c->acc_elem_active[i])
			continue;
		if (s.is == 4) {
			int32_t v;
			memcpy(&v, idx + 4 * i, 4);
			ix = v;
		} else {
			memcpy(&ix, idx + 8 * i, 8);
		}
		xg_emu_x86_add_acc(c, (base + (uint64_t)ix * in->scale) & am, in->seg, s.ds,
				   s.scatter ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 8 * a);
		if (s.scatter)
			memcpy(c->mem + 8 * a, src + s.ds * i, s.ds);
		a++;
	}
	c->on_fault = gather_on_fault;
	return 0;
}

int xg_emu_x86_gather_exec(struct xg_emu_x86_ctx *c)
{
	struct shape s;

	shape_of(c->in, &s);
	finish(c, &s, s.n);
	return 0;
}
