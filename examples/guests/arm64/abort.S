// abort.S - a data abort the guest's own vector table catches. A post-index load from the
// ram device has no valid syndrome (ISV = 0): KVM exits KVM_EXIT_ARM_NISV, and a policy that
// answers xg.external_abort() makes KVM inject a synchronous external abort
// (KVM_SET_VCPU_EVENTS ext_dabt_pending). The handler records ESR_EL1, FAR_EL1 and ELR_EL1
// and returns past the load; the guest then checks what a precise abort must look like
// (ARM ARM D1.10.1, D17.2.37 ESR_ELx) and ends through the done device with a bitmask of the
// checks that failed (0: all passed):
//   1 the handler ran once         2 ESR.EC = 0x25 (data abort, same EL)
//   4 ESR.DFSC = 0x10 (external)   8 FAR = the address loaded from
//   16 ELR = the load              32 the base register was not written back
#include "arm64.inc"
	.text
	.global	_start
_start:
	adr	x9, vectors
	msr	vbar_el1, x9
	isb
	mov	x22, #0			// aborts taken
	puts_lit "abort: a post-index load from the ram device (no syndrome)\n"
	ldr	x1, =(RAMDEV + 0x100)
	mov	x2, x1
nisv_ldr:
	ldr	x3, [x1], #8
	mov	w28, #0
	cmp	x22, #1
	b.eq	1f
	orr	w28, w28, #1
1:	ubfx	x0, x23, #26, #6
	cmp	x0, #0x25
	b.eq	1f
	orr	w28, w28, #2
1:	and	x0, x23, #0x3f
	cmp	x0, #0x10
	b.eq	1f
	orr	w28, w28, #4
1:	cmp	x24, x2
	b.eq	1f
	orr	w28, w28, #8
1:	adr	x0, nisv_ldr
	cmp	x25, x0
	b.eq	1f
	orr	w28, w28, #16
1:	cmp	x1, x2
	b.eq	1f
	orr	w28, w28, #32
1:	puts_lit "abort: esr "
	mov	x0, x23
	bl	puthex
	puts_lit " far "
	mov	x0, x24
	bl	puthex
	puts_lit " elr "
	mov	x0, x25
	bl	puthex
	puts_lit " failed "
	mov	x0, x28
	bl	puthex
	bl	putnl
	mov	w0, w28
	done

	shared_routines

// Current EL with SP_ELx, synchronous (VBAR_EL1 + 0x200, ARM ARM D1.10.2): record, step past
// the faulting instruction, return.
	.balign	2048
vectors:
	.skip	0x200
	mrs	x23, esr_el1
	mrs	x24, far_el1
	mrs	x25, elr_el1
	add	x22, x22, #1
	add	x26, x25, #4
	msr	elr_el1, x26
	eret
	.skip	0x800 - 0x200 - 7 * 4
