/*
 * retry.S - a guest that retries a faulting IN forever: its #GP handler returns to the `in`
 * (fault.lua answers port 0x90 with #GP). Nothing moves on, so vm.storm must stop it
 * (retry in fault.yaml), as it stops a guest whose emulation failure keeps faulting.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	SET_GATE 13, gp_retry
	LOAD_IDT
	PUTS	"retry: start\n"
	mov	$0x90, %edx
1:	in	(%dx), %al
	DONE	0	/* never: the in always faults */

/* drop the error code, return to the faulting instruction */
gp_retry:
	add	$8, %rsp
	iretq

	GUEST_ROUTINES
