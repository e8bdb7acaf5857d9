/*
 * inject.S - the instructions of emulate.S answered with #UD instead (policy inject.lua:
 * `return xg.inject "UD"`), caught by the guest's own IDT.
 *
 * Before each one the guest says where the #UD must come from and where to go on
 * (EXPECT_FAULT); ud_handler (guest.h) checks the frame's RIP against it - an injected
 * fault reports the instruction that failed, nothing of it executed - counts, and returns
 * with iretq. Five instructions, five #UD: then "inject: 5" and done 0.
 *   41 the count is not 5 after all of them.
 *   100 (guest.h) a #UD at an address the guest did not expect.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	SET_GATE 6, ud_handler
	LOAD_IDT
	movq	$0, SLOT_UD
	PUTS	"inject: start\n"
	movabs	$PATTERN, %rax
	mov	$SCRATCH, %ecx

	EXPECT_FAULT 1f, 2f
1:	flds	0x100(%rax)		/* x87 m32 from the pattern device */
2:	EXPECT_FAULT 1f, 2f
1:	vmovdqu	0x120(%rax), %ymm1	/* VEX ymm */
2:	EXPECT_FAULT 1f, 2f
1:	{evex} vmovdqu64 0x140(%rax), %ymm2	/* EVEX ymm */
2:	EXPECT_FAULT 1f, 2f
1:	fld1				/* register-only x87 fails too at CPL 0 here */
2:	EXPECT_FAULT 1f, 2f
1:	vmovdqu	%ymm1, (%rcx)		/* a store to RAM */
2:
	cmpq	$5, SLOT_UD
	je	3f
	mov	$41, %edi
	jmp	fail
3:	PUTS	"inject: "
	mov	SLOT_UD, %rax
	call	puthex
	PUTS	"\n"
	DONE	0

	GUEST_ROUTINES
