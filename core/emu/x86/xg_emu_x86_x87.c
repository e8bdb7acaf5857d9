/*
 * xg_emu_x86_x87.c - x87 memory loads and stores, executed by the host FPU.
 *
 * The emulator runs on x86 hosts, and the only exact model of what an x87 load or store does
 * to the stack, the tag word, C1, the exception flags and the stored bits (rounding, SNaN
 * quieting, integer indefinite, denormals: SDM Vol. 1 8.5 and 4.8) is an x87 unit. So the
 * guest's FXSAVE image is loaded into the host FPU with FXRSTOR, the instruction runs on a
 * host buffer, and FXSAVE takes the result back; the host's own x87/SSE state is saved and
 * restored around it in the same asm statement, so no compiler code sees the guest state.
 * FXSAVE and FXRSTOR do not wait for pending x87 exceptions (SDM Vol. 2 FXSAVE), so an
 * exception that the guest's FCW unmasks only sets FSW.ES; the emulator raises #MF before
 * the next waiting instruction, as the CPU would. MXCSR in the image is the host's own.
 */
#include <stdio.h>
#include <string.h>

#include "xg_emu_x86_int.h"

/* Run one x87 instruction on the guest's FXSAVE image fx with its memory operand at mem,
 * the host's own x87/SSE state saved around it (sv/rs: the FXSAVE form of the image). */
#define X87_RUN_IMG(nm, sv, rs, insn)                                                              \
	static void nm(void *fx, void *mem)                                                        \
	{                                                                                          \
		uint8_t host[512] __attribute__((aligned(16)));                                    \
		__asm__ volatile(sv " %[h]\n\t" rs " (%[g])\n\t" insn " (%[m])\n\t" sv             \
				    " (%[g])\n\t" rs " %[h]"                                       \
				 : [h] "+m"(host)                                                  \
				 : [g] "r"(fx), [m] "r"(mem)                                       \
				 : "memory");                                                      \
	}
#define X87_RUN(nm, insn) X87_RUN_IMG(nm, "fxsave", "fxrstor", insn)

X87_RUN(run_fld32, "flds")
X87_RUN(run_fld64, "fldl")
X87_RUN(run_fld80, "fldt")
X87_RUN(run_fild16, "filds")
X87_RUN(run_fild32, "fildl")
X87_RUN(run_fild64, "fildll")
X87_RUN(run_fst32, "fsts")
X87_RUN(run_fst64, "fstl")
X87_RUN(run_fstp32, "fstps")
X87_RUN(run_fstp64, "fstpl")
X87_RUN(run_fstp80, "fstpt")
X87_RUN(run_fist16, "fists")
X87_RUN(run_fist32, "fistl")
X87_RUN(run_fistp16, "fistps")
X87_RUN(run_fistp32, "fistpl")
X87_RUN(run_fistp64, "fistpll")
X87_RUN(run_fisttp16, "fisttps")
X87_RUN(run_fisttp32, "fisttpl")
X87_RUN(run_fisttp64, "fisttpll")
X87_RUN(run_fldcw, "fldcw")
X87_RUN(run_fnstcw, "fnstcw")
X87_RUN(run_fnstsw, "fnstsw")

/* FLDENV/FNSTENV load and store FIP/FDP themselves: the image is moved in the 64-bit
 * format (FXRSTOR64/FXSAVE64), the one XSAVE gives the emulator */
#define X87_RUN64(nm, insn) X87_RUN_IMG(nm, "fxsave64", "fxrstor64", insn)
X87_RUN64(run_fldenv, "fldenv")
X87_RUN64(run_fldenv16, "data16 fldenv")
X87_RUN64(run_fnstenv, "fnstenv")
X87_RUN64(run_fnstenv16, "data16 fnstenv")

/* FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR and their FI forms on each memory type */
#define X87_ARITH(t, sfx)                                                                          \
	X87_RUN(run_fadd##t, "fadd" sfx)                                                           \
	X87_RUN(run_fmul##t, "fmul" sfx)                                                           \
	X87_RUN(run_fcom##t, "fcom" sfx)                                                           \
	X87_RUN(run_fcomp##t, "fcomp" sfx)                                                         \
	X87_RUN(run_fsub##t, "fsub" sfx)                                                           \
	X87_RUN(run_fsubr##t, "fsubr" sfx)                                                         \
	X87_RUN(run_fdiv##t, "fdiv" sfx)                                                           \
	X87_RUN(run_fdivr##t, "fdivr" sfx)
#define X87_IARITH(t, sfx)                                                                         \
	X87_RUN(run_fiadd##t, "fiadd" sfx)                                                         \
	X87_RUN(run_fimul##t, "fimul" sfx)                                                         \
	X87_RUN(run_ficom##t, "ficom" sfx)                                                         \
	X87_RUN(run_ficomp##t, "ficomp" sfx)                                                       \
	X87_RUN(run_fisub##t, "fisub" sfx)                                                         \
	X87_RUN(run_fisubr##t, "fisubr" sfx)                                                       \
	X87_RUN(run_fidiv##t, "fidiv" sfx)                                                         \
	X87_RUN(run_fidivr##t, "fidivr" sfx)
X87_ARITH(32, "s")
X87_ARITH(64, "l")
X87_IARITH(32, "l")
X87_IARITH(16, "s")
#define X87_ROW(f, sz, t, i)                                                                       \
	[f + 0] = {sz, 0, 1, run_f##i##add##t}, [f + 1] = {sz, 0, 1, run_f##i##mul##t},            \
	     [f + 2] = {sz, 0, 1, run_f##i##com##t}, [f + 3] = {sz, 0, 1, run_f##i##comp##t},      \
	     [f + 4] = {sz, 0, 1, run_f##i##sub##t}, [f + 5] = {sz, 0, 1, run_f##i##subr##t},      \
	     [f + 6] = {sz, 0, 1, run_f##i##div##t}, [f + 7] = {sz, 0, 1, run_f##i##divr##t}

/* size, store, waiting (SDM Vol. 1 8.3.12: FNSTCW/FNSTSW are the non-waiting forms) */
const struct xg_emu_x86_x87_form xg_emu_x86_x87_forms[X87_NFORMS] = {
    [X87_FLD32] = {4, 0, 1, run_fld32},	      [X87_FLD64] = {8, 0, 1, run_fld64},
    [X87_FLD80] = {10, 0, 1, run_fld80},      [X87_FILD16] = {2, 0, 1, run_fild16},
    [X87_FILD32] = {4, 0, 1, run_fild32},     [X87_FILD64] = {8, 0, 1, run_fild64},
    [X87_FST32] = {4, 1, 1, run_fst32},	      [X87_FST64] = {8, 1, 1, run_fst64},
    [X87_FSTP32] = {4, 1, 1, run_fstp32},     [X87_FSTP64] = {8, 1, 1, run_fstp64},
    [X87_FSTP80] = {10, 1, 1, run_fstp80},    [X87_FIST16] = {2, 1, 1, run_fist16},
    [X87_FIST32] = {4, 1, 1, run_fist32},     [X87_FISTP16] = {2, 1, 1, run_fistp16},
    [X87_FISTP32] = {4, 1, 1, run_fistp32},   [X87_FISTP64] = {8, 1, 1, run_fistp64},
    [X87_FISTTP16] = {2, 1, 1, run_fisttp16}, [X87_FISTTP32] = {4, 1, 1, run_fisttp32},
    [X87_FISTTP64] = {8, 1, 1, run_fisttp64}, [X87_FLDCW] = {2, 0, 1, run_fldcw},
    [X87_FNSTCW] = {2, 1, 0, run_fnstcw},     [X87_FNSTSW] = {2, 1, 0, run_fnstsw},
    X87_ROW(X87_ARITH_M32FP, 4, 32, ),	      X87_ROW(X87_ARITH_M64FP, 8, 64, ),
    X87_ROW(X87_ARITH_M32INT, 4, 32, i),      X87_ROW(X87_ARITH_M16INT, 2, 16, i),
    [X87_FLDENV] = {28, 0, 1, run_fldenv},    [X87_FLDENV16] = {14, 0, 1, run_fldenv16},
    [X87_FNSTENV] = {28, 1, 0, run_fnstenv},  [X87_FNSTENV16] = {14, 1, 0, run_fnstenv16},
};

void xg_emu_x86_x87_exec(unsigned form, void *fxsave_img, void *mem)
{
	uint32_t mxcsr;

	if (form >= X87_NFORMS)
		return;
	/* the host's MXCSR, so FXRSTOR cannot #GP on reserved bits the guest set */
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	memcpy((uint8_t *)fxsave_img + XG_EMU_X86_XS_MXCSR, &mxcsr, 4);
	xg_emu_x86_x87_forms[form].run(fxsave_img, mem);
}

/*
 * AMD's FXSAVE and XSAVE store FOP, FIP and FDP only while FSW.ES is set, zero otherwise
 * (AMD APM Vol. 5 FXSAVE, Vol. 2 11.4.4), though the x87 unit still holds them: FNSTENV
 * stores them, and XRSTOR loads them (all seen on an AMD EPYC (Zen 5)). The emulator's image
 * is what the guest's CPU's XSAVE would store - as KVM_GET_XSAVE on that CPU gives it at the
 * next exit anyway - so on AMD they are zeroed whenever ES is clear after the instruction.
 * Intel's XSAVE stores what the instruction left (the vendor list in xg_emu_x86.h).
 */
void xg_emu_x86_x87_ptrs(struct xg_emu_x86_ctx *c)
{
	uint16_t fsw;

	if (c->vendor != XG_EMU_X86_VENDOR_AMD)
		return;
	memcpy(&fsw, c->xs + XG_EMU_X86_XS_FSW, 2);
	if (!(fsw & 0x80)) {
		memset(c->xs + XG_EMU_X86_XS_FOP, 0, 2);
		memset(c->xs + XG_EMU_X86_XS_FIP, 0, 16);
	}
}

/* ---- the emulator's plan/exec for the x87 forms ---- */

/*
 * Run a store form on a copy of the state: 1 if it stores (the bytes in `out`, if not NULL),
 * 0 if an unmasked exception suppresses the store (SDM Vol. 1 8.5): run against two different
 * fills, and see whether the bytes were written. `img` receives the state after it.
 */
static int x87_store_run(struct xg_emu_x86_ctx *c, uint8_t *img, uint8_t *out)
{
	unsigned form = c->in->aux;
	uint8_t img2[512] __attribute__((aligned(16)));
	uint8_t m1[32] __attribute__((aligned(16))), m2[32] __attribute__((aligned(16)));

	memcpy(img, c->xs, 512);
	memcpy(img2, c->xs, 512);
	memset(m1, 0, sizeof(m1));
	memset(m2, 0xff, sizeof(m2));
	xg_emu_x86_x87_exec(form, img, m1);
	xg_emu_x86_x87_exec(form, img2, m2);
	if (memcmp(m1, m2, xg_emu_x86_x87_forms[form].size))
		return 0;
	if (out)
		memcpy(out, m1, xg_emu_x86_x87_forms[form].size);
	return 1;
}

/* The memory operand's accesses (`size` bytes, of `kind`): one, but an 80-bit real is two,
 * significand then sign and exponent, as the CPU moves it (FLD m80, FSTP m80: at a
 * segment's limit the first part's #PF comes first; seen in 16-bit protected mode) */
static void add_operand(struct xg_emu_x86_ctx *c, unsigned size, unsigned kind)
{
	uint64_t ea = xg_emu_x86_ea(c);
	unsigned n = c->in->aux == X87_FSTP80 || c->in->aux == X87_FLD80 ? 8 : size;

	xg_emu_x86_add_acc(c, ea, c->in->seg, n, kind, 0);
	if (n < size)
		xg_emu_x86_add_acc(c, ea + n, c->in->seg, size - n, kind, n);
}

static int x87_plan(struct xg_emu_x86_ctx *c)
{
	const struct xg_emu_x86_x87_form *f;
	uint16_t fcw, fsw;
	int rc = xg_emu_x86_load_xsave(c);

	if (rc)
		return rc;
	/* the 14-byte environment with a 16-bit operand size (SDM Vol. 1 8.1.10) */
	if ((c->in->aux == X87_FLDENV || c->in->aux == X87_FNSTENV) && c->in->opsize == 2)
		c->in->aux++;
	f = &xg_emu_x86_x87_forms[c->in->aux];
	memcpy(&fcw, c->xs + XG_EMU_X86_XS_FCW, 2);
	memcpy(&fsw, c->xs + XG_EMU_X86_XS_FSW, 2);
	/* a waiting x87 instruction first takes a pending unmasked exception: #MF with
	 * CR0.NE (SDM Vol. 1 8.7, Vol. 3A 6.15 "Interrupt 16") */
	if (f->wait && ((fsw & 0x80) || (fsw & ~fcw & 0x3f))) {
		if (!(c->r.cr0 & (1u << 5))) {
			snprintf(c->res->reason, sizeof(c->res->reason),
				 "not handled: pending x87 exception with CR0.NE=0 (FERR#)");
			return XG_EMU_X86_NOT_HANDLED;
		}
		return xg_emu_x86_exc(c, XG_EMU_X86_MF, 0, 0);
	}
	/* a store that an unmasked exception suppresses makes no access, so it cannot fault
	 * either: the numeric exception comes before the page fault (seen on the Xeon). AMD
	 * checks the access first (segment, paging), and its fault comes with the state
	 * unchanged (seen on an AMD EPYC (Zen 5)); the store is still not made (the vendor
	 * list in xg_emu_x86.h) */
	c->x87_ran = 0;
	if (f->store) {
		c->x87_stores = x87_store_run(c, c->x87_img, c->x87_out);
		c->x87_ran = 1;
		if (!c->x87_stores) {
			if (c->vendor == XG_EMU_X86_VENDOR_AMD) {
				add_operand(c, f->size, XG_EMU_X86_WRITE);
				for (unsigned i = 0; i < c->nacc; i++)
					c->acc[i].probe = XG_EMU_X86_PROBE;
			}
			return 0;
		}
	}
	if (c->in->aux == X87_FSTP80) {
		/* two stores, significand then sign and exponent: when the second faults the
		 * first is already in memory (seen on the Xeon across a page boundary). AMD
		 * checks the two parts in the same order (at a segment's limit the first one's
		 * #PF comes first: seen in 16-bit protected mode) but writes nothing when the
		 * second faults (seen on an AMD EPYC (Zen 5)) */
		add_operand(c, f->size, XG_EMU_X86_WRITE);
		memcpy(c->mem, c->x87_out, 10);
		c->partial_stores = c->vendor == XG_EMU_X86_VENDOR_INTEL;
		return 0;
	}
	if (c->in->aux >= X87_FLDENV && c->in->aux <= X87_FNSTENV16) {
		/* the environment's first field (FCW and its pad, 4 bytes; 2 in the 14-byte
		 * format) and then its last byte are translated first: past a page boundary
		 * after the first field, CR2 is the last byte, not the page's first (seen on
		 * the CPU) */
		for (unsigned k = 0; k < 2; k++) {
			xg_emu_x86_add_acc(c, xg_emu_x86_ea(c) + (k ? f->size - 1u : 0), c->in->seg,
					   k ? 1 : f->size / 7,
					   f->store ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 0);
			if (c->nacc)
				c->acc[c->nacc - 1].probe = XG_EMU_X86_PROBE;
		}
	}
	add_operand(c, f->size, f->store ? XG_EMU_X86_WRITE : XG_EMU_X86_READ); /* FLD m80 too */
	return 0;
}

static int x87_exec(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned form = in->aux;
	const struct xg_emu_x86_x87_form *f = &xg_emu_x86_x87_forms[form];
	uint8_t img[512] __attribute__((aligned(16)));
	uint8_t m1[32] __attribute__((aligned(16)));
	uint64_t fip, fdp;
	uint16_t fop;

	memcpy(img, c->xs, 512);
	if (!f->store) {
		memcpy(m1, c->mem, 32);
		xg_emu_x86_x87_exec(form, img, m1);
	} else if (c->x87_ran) {
		/* run in plan; a masked exception still stores, an unmasked one did not */
		memcpy(img, c->x87_img, 512);
		if (!c->x87_stores)
			c->nacc = 0;
		else
			memcpy(c->mem, c->x87_out, f->size);
	} else if (!x87_store_run(c, img, c->mem)) {
		c->nacc = 0;
	}
	/* x87 state back: FCW..FOP and ST0-7; FIP/FDP/FOP as the SDM defines them (Vol. 1
	 * 8.1.8, 8.1.9): the control instructions FLDCW/FNSTCW/FNSTSW leave them alone */
	memcpy(c->xs, img, 8);
	memcpy(c->xs + XG_EMU_X86_XS_ST0, img + XG_EMU_X86_XS_ST0, 128);
	if (form >= X87_FLDENV && form <= X87_FNSTENV16) {
		/* control instructions: FLDENV loads FOP, FIP and FDP, FNSTENV keeps them */
		memcpy(c->xs + XG_EMU_X86_XS_FIP, img + XG_EMU_X86_XS_FIP, 16);
	} else if (form != X87_FLDCW && form != X87_FNSTCW && form != X87_FNSTSW) {
		/* FIP always; FOP and FDP on Intel only when the instruction leaves an unmasked
		 * exception pending (FSW.ES), AMD on every instruction (the vendor list in
		 * xg_emu_x86.h) */
		uint16_t fsw;
		int upd;
		memcpy(&fsw, img + XG_EMU_X86_XS_FSW, 2);
		upd = c->vendor != XG_EMU_X86_VENDOR_INTEL || (fsw & 0x80);
		fop = (uint16_t)(((in->opcode & 7) << 8) | in->modrm);
		fip = c->r.rip;
		fdp = xg_emu_x86_ea(c);
		if (upd)
			memcpy(c->xs + XG_EMU_X86_XS_FOP, &fop, 2);
		memcpy(c->xs + XG_EMU_X86_XS_FIP, &fip, 8);
		if (upd)
			memcpy(c->xs + XG_EMU_X86_XS_FDP, &fdp, 8);
	}
	xg_emu_x86_x87_ptrs(c);
	c->xs_dirty = 1;
	return 0;
}

const struct xg_emu_x86_impl xg_emu_x86_x87_impl = {x87_plan, x87_exec};
