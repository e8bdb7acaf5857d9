/*
 * evex.S - EVEX moves that need AVX-512 register state, next to one that does not.
 *
 * An unmasked EVEX.256 move to ymm0-15 needs nothing a VMM without AVX-512 state support
 * lacks; exitgate always emulates it. The three cases after it need the opmask registers,
 * ZMM bits 511:256 or ZMM16-31. exitgate emulates them only when KVM_GET/SET_XSAVE carry that
 * state on this vCPU (probed at vCPU creation); otherwise xg.emulator.supports() says no and
 * evex.lua injects #UD (so does any instruction the emulator does not do, like kmovw).
 * The guest accepts either outcome per case, but checks it:
 *   - emulated: the values must be right. Load and store are separate exits, so the value
 *     crosses KVM_SET_XSAVE/KVM_GET_XSAVE between them: a VMM that emulated without the state
 *     travelling would store zeros or stale bits, and the check fails.
 *   - refused: the #UD must come at the instruction (ud_handler, guest.h), and the store of
 *     a refused load must be refused too.
 * Four such cases: zmm1; a merge-masked load with k1 = 0; kmovw to set k1 and a
 * zero-masked load with it; ymm17. Prints "evex: emulated E refused R" (E + R = 4) and ends
 * with done 0, or:
 *   91 the unmasked EVEX.256 move stored a wrong value
 *   93 zmm1 wrong   94 {k1} merge with k1 = 0 wrote something   95 ymm17 wrong
 *   96 the first instruction of a case was emulated but the second refused
 *   97 {k1}{z} with k1 = 0b0101 wrong
 */
#include "guest.h"

#define EMULATED (SLOTS + 0x30)
#define REFUSED	 (SLOTS + 0x38)

	.code64
	.text
	.globl	_start
_start:
	SET_GATE 6, ud_handler
	LOAD_IDT
	movq	$0, SLOT_UD
	movq	$0, EMULATED
	movq	$0, REFUSED
	PUTS	"evex: start\n"
	movabs	$PATTERN, %rax
	mov	$SCRATCH, %ecx

	/* always taken (a refusal fails the guest: no handler address set): EVEX.256, no mask, ymm2 */
	{evex} vmovdqu64 0x180(%rax), %ymm2
	{evex} vmovdqu64 %ymm2, (%rcx)
	CHECKQN	0, %rcx, 0x180, 4, 91

	/* EVEX.512: ZMM bits 511:256 */
	EXPECT_FAULT 1f, refused_zmm
1:	vmovdqu64 0x200(%rax), %zmm1
	EXPECT_FAULT 2f, mixed
2:	vmovdqu64 %zmm1, 0x40(%rcx)
	CHECKQN	0x40, %rcx, 0x200, 8, 93
	incq	EMULATED
	jmp	case_mask
refused_zmm:
	incq	REFUSED

case_mask:
	/* merge-masking with k1 as the vCPU starts (0, SDM Vol. 3A 9.1.1 table 9-1: reset
	 * state): no element is written, ymm3 keeps the values loaded before it */
	{evex} vmovdqu64 0x240(%rax), %ymm3
	EXPECT_FAULT 1f, refused_mask
1:	vmovdqu64 0x260(%rax), %ymm3{%k1}
	movq	$0, SLOT_EXPECT
	{evex} vmovdqu64 %ymm3, 0x80(%rcx)
	CHECKQN	0x80, %rcx, 0x240, 4, 94
	incq	EMULATED
	jmp	case_kmov
refused_mask:
	incq	REFUSED

case_kmov:
	/* k1 = 0b0101 from RAM, then a zero-masking load: qwords 0 and 2 loaded, 1 and 3
	 * zeroed (SDM Vol. 2B VMOVDQU64, EVEX.z); stored unmasked over a buffer of all-ones */
	movq	$-1, %rdx
	mov	%rdx, 0xa0(%rcx)
	mov	%rdx, 0xa8(%rcx)
	mov	%rdx, 0xb0(%rcx)
	mov	%rdx, 0xb8(%rcx)
	movw	$0x5, 0x100(%rcx)
	EXPECT_FAULT 1f, refused_kmov
1:	kmovw	0x100(%rcx), %k1
	EXPECT_FAULT 2f, mixed
2:	vmovdqu64 0x240(%rax), %ymm4{%k1}{z}
	movq	$0, SLOT_EXPECT
	{evex} vmovdqu64 %ymm4, 0xa0(%rcx)
	CHECKQN	0xa0, %rcx, 0x240, 1, 97
	cmpq	$0, 0xa8(%rcx)
	jne	f97
	CHECKQN	0xb0, %rcx, 0x250, 1, 97
	cmpq	$0, 0xb8(%rcx)
	jne	f97
	incq	EMULATED
	jmp	case_hi16
refused_kmov:
	incq	REFUSED

case_hi16:
	/* ymm17: a register only EVEX reaches */
	EXPECT_FAULT 1f, refused_hi16
1:	vmovdqu64 0x280(%rax), %ymm17
	EXPECT_FAULT 2f, mixed
2:	vmovdqu64 %ymm17, 0xc0(%rcx)
	CHECKQN	0xc0, %rcx, 0x280, 4, 95
	incq	EMULATED
	jmp	report
refused_hi16:
	incq	REFUSED

report:
	movq	$0, SLOT_EXPECT
	PUTS	"evex: emulated "
	mov	EMULATED, %rax
	call	puthex
	PUTS	" refused "
	mov	REFUSED, %rax
	call	puthex
	PUTS	"\n"
	DONE	0

f97:	FAIL	97
mixed:	FAIL	96

	GUEST_ROUTINES
