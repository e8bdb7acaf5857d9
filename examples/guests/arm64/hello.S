// hello.S - the smallest arm64 guest: prints through the console device (MMIO stores that
// KVM completes itself: KVM_EXIT_MMIO), says where it started (X0, X1, SP, PC, CurrentEL),
// and powers the machine off through PSCI SYSTEM_OFF (KVM_EXIT_SYSTEM_EVENT).
#include "arm64.inc"
	.text
	.global	_start
_start:
	mov	x19, x0
	mov	x20, x1
	mov	x21, sp
	puts_lit "hello from arm64 under exitgate\n"
	puts_lit "vcpu "
	mov	x0, x19
	bl	puthex
	puts_lit " of "
	mov	x0, x20
	bl	puthex
	puts_lit " sp "
	mov	x0, x21
	bl	puthex
	puts_lit " pc "
	adr	x0, _start
	bl	puthex
	puts_lit " el "
	mrs	x0, CurrentEL
	lsr	x0, x0, #2
	bl	puthex
	bl	putnl
	poweroff

	shared_routines
