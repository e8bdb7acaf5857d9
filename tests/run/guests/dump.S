/*
 * dump.S - one instruction the policy dumps and skips (dump.lua: xg.dump { xg.skip() }).
 * The guest prints the instruction's address first, so the test can check that the dump's
 * registers.rip is that instruction, and uses a 5-byte one (vmovdqu 0x10(%rax),%ymm0,
 * c5 fe 6f 40 10) so that a skip by the wrong length lands inside it and fails visibly.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"dump: insn at "
	lea	1f(%rip), %rax
	call	puthex
	PUTS	"\n"
	movabs	$PATTERN, %rax
1:	vmovdqu	0x10(%rax), %ymm0
	PUTS	"dump: after\n"
	DONE	0

	GUEST_ROUTINES
