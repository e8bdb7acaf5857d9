/*
 * xg_emu_arm64_walk.c - stage-1 translation of EL1&0 addresses (VMSAv8-64, ARM ARM D8).
 *
 * One walk of the guest's own tables, as the MMU does it: the half of the address space by
 * VA bit 55 (TTBR0_EL1 or TTBR1_EL1), its size (T0SZ/T1SZ) and granule (TG0/TG1), the start
 * level that size and granule give (D8.2.6), then table, block and page descriptors down to
 * the output address, checked against TCR_EL1.IPS, with the access flag and the permissions
 * of the last descriptor narrowed by the hierarchical APTable/XNTable bits on the way
 * (D8.4). Every descriptor is read through ops->read with XG_EMU_ARM64_WALK: a table that is
 * not in guest RAM is the caller's to refuse (it returns an errno).
 */
#include <errno.h>

#include "xg_emu_arm64.h"

#define SCTLR_M	   (1ull << 0)
#define SCTLR_WXN  (1ull << 19)
#define SCTLR_EE   (1ull << 25)
#define PSTATE_PAN (1ull << 22)

#define DESC_OA_MASK 0x0000fffffffff000ull /* output address bits 47:12 */

static int fault(uint8_t *fsc, unsigned type, unsigned level)
{
	*fsc = (uint8_t)(type + level);
	return 1;
}

int xg_emu_arm64_translate(const struct xg_emu_arm64_ops *ops, void *opaque,
			   const struct xg_emu_arm64_regs *regs, uint64_t va,
			   enum xg_emu_arm64_access kind, unsigned el, uint64_t *ipa, uint8_t *fsc)
{
	/* TCR_EL1.IPS -> physical (here: intermediate physical) address size, D17.2.131 */
	static const uint8_t ips_bits[8] = {32, 36, 40, 42, 44, 48, 48, 48};
	uint64_t tcr = regs->tcr_el1, ttbr, base, desc, oa = 0, pamask;
	unsigned upper = (va >> 55) & 1, txsz, tg, g, stride, inputsize, level, start, shift;
	unsigned bits, noel0 = 0, nowrite = 0, uxn_t = 0, pxn_t = 0, ap, af;
	int tbi;

	if (!(regs->sctlr_el1 & SCTLR_M)) {
		/* MMU off: flat, the VA is the output address (D8.1.2); bits above the PA size
		 * are an address size fault at level 0 */
		if (va >> 48)
			return fault(fsc, XG_EMU_ARM64_FSC_ADDR_SIZE, 0);
		*ipa = va;
		return 0;
	}
	if (regs->sctlr_el1 & SCTLR_EE)
		return -ENOTSUP; /* big-endian descriptors: refused by the caller first */

	if (upper) {
		txsz = (tcr >> 16) & 63;
		/* TG1: 01 16K, 10 4K, 11 64K; reserved 00 is taken as 4K */
		tg = (tcr >> 30) & 3;
		g = tg == 1 ? 14 : tg == 3 ? 16 : 12;
		tbi = (tcr >> 38) & 1;
		if ((tcr >> 23) & 1) /* EPD1 */
			return fault(fsc, XG_EMU_ARM64_FSC_TRANSLATION, 0);
		ttbr = regs->ttbr1_el1;
	} else {
		txsz = tcr & 63;
		/* TG0: 00 4K, 01 64K, 10 16K; reserved 11 is taken as 4K */
		tg = (tcr >> 14) & 3;
		g = tg == 1 ? 16 : tg == 2 ? 14 : 12;
		tbi = (tcr >> 37) & 1;
		if ((tcr >> 7) & 1) /* EPD0 */
			return fault(fsc, XG_EMU_ARM64_FSC_TRANSLATION, 0);
		ttbr = regs->ttbr0_el1;
	}
	/* A TxSZ out of range is CONSTRAINED UNPREDICTABLE (D8.2.4): it is clamped, to 16
	 * (48-bit VAs, no FEAT_LVA) and to the largest the granule allows. */
	if (txsz < 16)
		txsz = 16;
	if (txsz > 39)
		txsz = 39;
	inputsize = 64 - txsz;
	stride = g - 3;

	/* The VA must be all zeros (TTBR0) or all ones (TTBR1) above the input size; with TBI
	 * the top byte does not count (D8.8). */
	{
		uint64_t v = va, top;

		if (tbi)
			v = upper ? va | 0xff00000000000000ull : va & 0x00ffffffffffffffull;
		top = v >> inputsize;
		if (top != (upper ? ~0ull >> inputsize : 0))
			return fault(fsc, XG_EMU_ARM64_FSC_TRANSLATION, 0);
	}

	pamask = (1ull << ips_bits[(tcr >> 32) & 7]) - 1;
	/* levels = ceil((inputsize - g) / stride), the walk starts at 4 - levels (D8.2.6) */
	start = 4 - (inputsize - g + stride - 1) / stride;
	bits = inputsize - (g + stride * (3 - start));
	base = ttbr & 0x0000fffffffffffeull & ~((8ull << bits) - 1);

	for (level = start;; level++) {
		uint64_t idx;
		int rc;

		shift = g + stride * (3 - level);
		bits = level == start ? inputsize - shift : stride;
		idx = (va >> shift) & ((1ull << bits) - 1);
		rc = ops->read(opaque, base + idx * 8, &desc, 8, XG_EMU_ARM64_WALK);
		if (rc)
			return rc < 0 ? rc : -EIO;
		if (!(desc & 1))
			return fault(fsc, XG_EMU_ARM64_FSC_TRANSLATION, level);
		if (level < 3 && (desc & 2)) {
			/* table descriptor: hierarchical controls in bits 63:59 (D8.4.2) */
			pxn_t |= (desc >> 59) & 1;
			uxn_t |= (desc >> 60) & 1;
			noel0 |= (desc >> 61) & 1;
			nowrite |= (desc >> 62) & 1;
			base = desc & DESC_OA_MASK & ~((1ull << g) - 1);
			if (base & ~pamask)
				return fault(fsc, XG_EMU_ARM64_FSC_ADDR_SIZE, level);
			continue;
		}
		if (level == 3) {
			if (!(desc & 2)) /* reserved at level 3 */
				return fault(fsc, XG_EMU_ARM64_FSC_TRANSLATION, level);
		} else {
			/* a block: 4K at levels 1 and 2, 16K and 64K at level 2 (no FEAT_LPA) */
			if (level == 0 || (g != 12 && level == 1))
				return fault(fsc, XG_EMU_ARM64_FSC_TRANSLATION, level);
		}
		oa = (desc & DESC_OA_MASK & ~((1ull << shift) - 1)) | (va & ((1ull << shift) - 1));
		if (oa & ~pamask)
			return fault(fsc, XG_EMU_ARM64_FSC_ADDR_SIZE, level);
		break;
	}

	af = (desc >> 10) & 1;
	if (!af) /* hardware AF management (TCR_EL1.HA) is not modelled */
		return fault(fsc, XG_EMU_ARM64_FSC_ACCESS_FLAG, level);

	/* AP[2:1] (D8.4.1.2.1): AP[1] = EL0 may access, AP[2] = read only */
	ap = (desc >> 6) & 3;
	if (noel0)
		ap &= ~1u;
	if (nowrite)
		ap |= 2;
	if (kind == XG_EMU_ARM64_FETCH) {
		int el0_writable = (ap & 1) && !(ap & 2);
		/* EL1 never executes what EL0 may write (D8.4.1.3) */
		int xn = el ? ((desc >> 53) & 1) || pxn_t || el0_writable
			    : ((desc >> 54) & 1) || uxn_t; /* AP[1] = 0: execute-only at EL0 */
		/* SCTLR_EL1.WXN: writable memory is never executable (D8.4.1.3) */
		if ((regs->sctlr_el1 & SCTLR_WXN) && !(ap & 2))
			xn = 1;
		if (xn)
			return fault(fsc, XG_EMU_ARM64_FSC_PERMISSION, level);
	} else {
		if (el == 0 && !(ap & 1))
			return fault(fsc, XG_EMU_ARM64_FSC_PERMISSION, level);
		if ((kind & XG_EMU_ARM64_WRITE) && (ap & 2))
			return fault(fsc, XG_EMU_ARM64_FSC_PERMISSION, level);
		/* PSTATE.PAN: EL1 may not touch what EL0 may (D8.4.1.2.3); LDTR/STTR are
		 * checked as EL0 by the caller and so are not subject to it */
		if (el == 1 && (regs->pstate & PSTATE_PAN) && (ap & 1))
			return fault(fsc, XG_EMU_ARM64_FSC_PERMISSION, level);
	}
	*ipa = oa;
	return 0;
}
