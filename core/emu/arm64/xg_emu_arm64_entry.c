/*
 * xg_emu_arm64_entry.c - a synchronous exception taken to EL1, as the CPU would take it.
 *
 * ARM ARM (DDI 0487) D1.10.2 "Exception entry": the PE saves PSTATE in SPSR_EL1 and the
 * preferred return address (the instruction that faulted) in ELR_EL1, writes ESR_EL1 and,
 * for aborts, FAR_EL1, then enters EL1 using SP_EL1 with D, A, I, F masked at the vector
 * VBAR_EL1 + offset (D1.10.1, "Exception vectors"): 0x000 from the current EL with SP_EL0,
 * 0x200 from the current EL with SP_ELx, 0x400 from a lower EL in AArch64; a synchronous
 * exception adds 0.
 */
#include "xg_emu_arm64.h"

#define PSTATE_SP   (1ull << 0)
#define PSTATE_EL   (3ull << 2)
#define PSTATE_NRW  (1ull << 4)
#define PSTATE_F    (1ull << 6)
#define PSTATE_I    (1ull << 7)
#define PSTATE_A    (1ull << 8)
#define PSTATE_D    (1ull << 9)
#define PSTATE_IL   (1ull << 20)
#define PSTATE_SS   (1ull << 21)
#define PSTATE_PAN  (1ull << 22)
#define PSTATE_UAO  (1ull << 23)
#define PSTATE_BTYPE (3ull << 10)
#define SCTLR_SPAN  (1ull << 23)

int xg_emu_arm64_exception_entry(struct xg_emu_arm64_regs *regs, struct xg_emu_arm64_el1 *el1,
				 const struct xg_emu_arm64_exception *exc)
{
	uint64_t old = regs->pstate;
	unsigned el = (unsigned)((old & PSTATE_EL) >> 2);
	uint64_t off, ps;

	if (old & PSTATE_NRW || el > 1)
		return -1; /* AArch32, or EL2/EL3: not a state a KVM guest's EL1 takes from */
	if (el == 0)
		off = 0x400;
	else
		off = old & PSTATE_SP ? 0x200 : 0x000;

	/* bank the stack pointer in use, then run on SP_EL1 */
	if (el == 1 && (old & PSTATE_SP))
		el1->sp_el1 = regs->sp;
	else
		el1->sp_el0 = regs->sp;
	regs->sp = el1->sp_el1;

	el1->elr = regs->pc;
	el1->spsr = old;
	el1->esr = exc->esr;
	el1->far = exc->far;

	/* D1.10.2: EL1h, DAIF set, SS and IL cleared; PAN set when SCTLR_EL1.SPAN is 0
	 * (FEAT_PAN); UAO and BTYPE cleared. Other PSTATE bits are kept. */
	ps = old & ~(PSTATE_EL | PSTATE_SP | PSTATE_SS | PSTATE_IL | PSTATE_UAO | PSTATE_BTYPE);
	ps |= (1ull << 2) | PSTATE_SP | PSTATE_D | PSTATE_A | PSTATE_I | PSTATE_F;
	if (!(regs->sctlr_el1 & SCTLR_SPAN))
		ps |= PSTATE_PAN;
	regs->pstate = ps;
	regs->pc = el1->vbar + off;
	return 0;
}
