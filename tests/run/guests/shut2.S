/*
 * shut2.S - two vCPUs (shutdown.yaml, guest `two`): vCPU 0 triple-faults (ud2 with no IDT,
 * like triple.S), vCPU 1 spins until the VMM stops it. Only vCPU 0 shut down; vCPU 1 was
 * stopped with its guest.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	test	%rdi, %rdi
	jnz	1f
	PUTS	"shut2: vCPU 0 ud2\n"
	ud2
1:	pause
	jmp	1b

	GUEST_ROUTINES
