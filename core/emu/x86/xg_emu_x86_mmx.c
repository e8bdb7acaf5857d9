/*
 * xg_emu_x86_mmx.c - the MMX moves MOVD/MOVQ (0F 6E, 7E, 6F, 7F) and MOVNTQ (0F E7).
 *
 * An MMX register is the significand of an x87 physical register (SDM Vol. 1 9.2). Every
 * MMX instruction but EMMS sets TOP to 0 and tags all eight registers valid; writing one also
 * sets its exponent and sign (bits 79:64) to all ones (SDM Vol. 1 9.5.1, Table 9-1). Before
 * that: CR0.EM is #UD, CR0.TS is #NM, and a pending unmasked x87 exception is #MF (SDM Vol. 2
 * MOVD/MOVQ, "Protected Mode Exceptions"). The FXSAVE image keeps ST(i) in slot i, relative to
 * TOP; once TOP is 0, slot i is MM(i), so the slots are rotated to the physical order.
 * Where the CPUs differ (a store that faults; FOP/FIP/FDP after one): the vendor list in
 * xg_emu_x86.h.
 */
#include <stdio.h>
#include <string.h>

#include "xg_emu_x86_int.h"

/* opcode 6E: movd/q mm, r/m; 7E: movd/q r/m, mm; 6F: movq mm, mm/m64; 7F and E7: movq
 * mm/m64, mm */
static unsigned mmx_size(const struct xg_emu_x86_insn *in)
{
	if (in->opcode == 0x6e || in->opcode == 0x7e)
		return in->w && in->mode == 64 ? 8 : 4;
	return 8;
}

/* TOP = 0: the ST(i) slots rotated to the physical order */
static void set_top0(struct xg_emu_x86_ctx *c)
{
	uint8_t st[128];
	uint16_t fsw;
	unsigned top;

	memcpy(&fsw, c->xs + XG_EMU_X86_XS_FSW, 2);
	top = (fsw >> 11) & 7;
	memcpy(st, c->xs + XG_EMU_X86_XS_ST0, 128);
	for (unsigned p = 0; p < 8; p++)
		memcpy(c->xs + XG_EMU_X86_XS_ST0 + 16 * p, st + 16 * ((p - top) & 7), 16);
	fsw &= (uint16_t)~0x3800;
	memcpy(c->xs + XG_EMU_X86_XS_FSW, &fsw, 2);
	c->xs_dirty = 1;
}

int xg_emu_x86_mmx_plan(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	uint16_t fcw, fsw;
	int store = in->opcode == 0x7e || in->opcode == 0x7f || in->opcode == 0xe7, rc;

	if (c->r.cr0 & 4) /* EM */
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if (c->r.cr0 & 8) /* TS */
		return xg_emu_x86_exc(c, XG_EMU_X86_NM, 0, 0);
	if ((rc = xg_emu_x86_load_xsave(c)))
		return rc;
	memcpy(&fcw, c->xs + XG_EMU_X86_XS_FCW, 2);
	memcpy(&fsw, c->xs + XG_EMU_X86_XS_FSW, 2);
	if ((fsw & 0x80) || (fsw & ~fcw & 0x3f)) {
		if (!(c->r.cr0 & (1u << 5))) {
			snprintf(c->res->reason, sizeof(c->res->reason),
				 "not handled: pending x87 exception with CR0.NE=0 (FERR#)");
			return XG_EMU_X86_NOT_HANDLED;
		}
		return xg_emu_x86_exc(c, XG_EMU_X86_MF, 0, 0);
	}
	if (in->has_mem)
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, mmx_size(in),
				   store ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 0);
	if (store && in->has_mem && c->vendor == XG_EMU_X86_VENDOR_INTEL) {
		/* a store that faults has already set TOP to 0 (the tags are left): seen on
		 * the Xeon; on AMD it changes nothing (the vendor list in xg_emu_x86.h) */
		set_top0(c);
		c->xs_on_fault = 1;
	}
	return 0;
}

static uint64_t mm_get(const uint8_t *xs, unsigned i)
{
	uint64_t v;
	memcpy(&v, xs + XG_EMU_X86_XS_ST0 + 16 * (i & 7), 8);
	return v;
}

static void mm_set(uint8_t *xs, unsigned i, uint64_t v)
{
	uint16_t ones = 0xffff;
	memcpy(xs + XG_EMU_X86_XS_ST0 + 16 * (i & 7), &v, 8);
	memcpy(xs + XG_EMU_X86_XS_ST0 + 16 * (i & 7) + 8, &ones, 2);
}

int xg_emu_x86_mmx_exec(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned size = mmx_size(in);
	uint64_t v = 0;

	/* TOP = 0 (done in plan for a store), every tag valid */
	if (!c->xs_on_fault)
		set_top0(c);
	c->xs[XG_EMU_X86_XS_FTW] = 0xff;

	switch (in->opcode) {
	case 0x6e: /* mm <- r/m32/64, zero-extended */
		if (in->mod == 3)
			v = xg_emu_x86_gpr_get(c, in->rm, size);
		else
			memcpy(&v, c->mem, size);
		mm_set(c->xs, in->reg, v);
		break;
	case 0x6f: /* mm <- mm/m64 */
		if (in->mod == 3)
			v = mm_get(c->xs, in->rm);
		else
			memcpy(&v, c->mem, 8);
		mm_set(c->xs, in->reg, v);
		break;
	case 0x7e: /* r/m32/64 <- mm */
		v = mm_get(c->xs, in->reg);
		if (in->mod == 3)
			xg_emu_x86_gpr_set(c, in->rm, size, v);
		else
			memcpy(c->mem, &v, size);
		break;
	default: /* 7F, E7: mm/m64 <- mm */
		v = mm_get(c->xs, in->reg);
		if (in->mod == 3)
			mm_set(c->xs, in->rm, v);
		else
			memcpy(c->mem, &v, 8);
		break;
	}
	/* FSW.ES is clear here (it would have been #MF): on AMD the image's FOP, FIP and FDP
	 * are then zero, as this CPU's XSAVE stores them */
	xg_emu_x86_x87_ptrs(c);
	return 0;
}
