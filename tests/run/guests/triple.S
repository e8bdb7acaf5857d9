/*
 * triple.S - ud2 with no IDT: the #UD cannot be delivered, nor the #DF after it, so the CPU
 * shuts down (SDM Vol. 3A 6.15, "Interrupt 8 - Double Fault Exception", triple fault) and KVM
 * reports KVM_EXIT_SHUTDOWN. The default policy dumps and stops. Prints where the ud2 is.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"triple: ud2 at "
	lea	1f(%rip), %rax
	call	puthex
	PUTS	"\n"
1:	ud2
	PUTS	"triple: still running\n"	/* never: there is no IDT */
	DONE	0

	GUEST_ROUTINES
