// inject.S - synchronous exceptions a policy chooses, taken by the guest's vector table.
// Three loads and stores without syndrome to the ram device exit KVM_EXIT_ARM_NISV; the
// lane's inject.lua answers each by the fault address:
//   ldp  x2, x3, [x1]          inject("data_abort", {fsc = 0x07, far = 0xfeedf00d000})
//   stp  x2, x3, [x1, #16]!    inject("data_abort")       (DFSC 0x10, FAR = the VA, WnR 1)
//   ldr  x4, [x8], #8 (+0x240) inject "undefined"          (EC 0, unknown reason)
// and a plain load from 0xd0020000, where no device is: ISV = 1, so KVM exits
// KVM_EXIT_MMIO; no device takes it and the policy's mmio handler answers
//   ldr  x9, [x11]             inject("data_abort", {})   (DFSC 0x10, FAR = the address)
// KVM would complete that load at the next KVM_RUN (X9 = the exit's data, PC += 4): the
// backend cancels the completion first, so X9 keeps its value and ELR is the load.
// The handler records ESR_EL1, FAR_EL1 and ELR_EL1 and steps past the instruction
// (ARM ARM D1.10.2; ESR per D17.2.37). The guest checks each and ends through the done
// device with a bitmask of the checks that failed (0: all passed), printing what it saw:
//   1 three exceptions     2/4/8 ESR of the 1st/2nd/3rd     16/32 FAR of the 1st/2nd
//   64 ELRs (each the instruction)   128 x1, x8 not written back (nothing of them done)
//   256 ESR of the 4th (0x96000010)  512 FAR of the 4th  1024 X9 not written by the load
#include "arm64.inc"

	// record: ESR into x21+n*8, FAR into x22+n*8, ELR into x23+n*8 (n = x24)
	.text
	.global	_start
_start:
	adr	x9, vectors
	msr	vbar_el1, x9
	isb
	adr	x25, seen		// ESR, FAR, ELR per exception
	mov	x24, #0			// exceptions taken
	mov	w28, #0
	puts_lit "inject: ldp, stp pre-index, ldr post-index to the ram device\n"
	ldr	x1, =(RAMDEV + 0x200)
	mov	x5, x1
	add	x8, x1, #0x40
	ldr	x11, =0xd0020000
	ldr	x9, =0x5a5a5a5a5a5a5a5a
i1:	ldp	x2, x3, [x1]
i2:	stp	x2, x3, [x1, #16]!
i3:	ldr	x4, [x8], #8
i4:	ldr	x9, [x11]

	cmp	x24, #4
	b.eq	1f
	orr	w28, w28, #1
1:	ldr	x6, [x25]		// 1st: EC 0x25 IL, WnR 0, DFSC 0x07
	ldr	x7, =0x96000007
	and	x6, x6, #0xffffffff
	cmp	x6, x7
	b.eq	1f
	orr	w28, w28, #2
1:	ldr	x6, [x25, #24]		// 2nd: EC 0x25 IL, WnR 1, DFSC 0x10
	ldr	x7, =0x96000050
	and	x6, x6, #0xffffffff
	cmp	x6, x7
	b.eq	1f
	orr	w28, w28, #4
1:	ldr	x6, [x25, #48]		// 3rd: EC 0 (unknown), IL
	ldr	x7, =0x02000000
	and	x6, x6, #0xffffffff
	cmp	x6, x7
	b.eq	1f
	orr	w28, w28, #8
1:	ldr	x6, [x25, #8]
	ldr	x7, =0xfeedf00d000
	cmp	x6, x7
	b.eq	1f
	orr	w28, w28, #16
1:	ldr	x6, [x25, #32]
	add	x7, x5, #16
	cmp	x6, x7
	b.eq	1f
	orr	w28, w28, #32
1:	ldr	x6, [x25, #16]
	adr	x7, i1
	cmp	x6, x7
	b.ne	2f
	ldr	x6, [x25, #40]
	adr	x7, i2
	cmp	x6, x7
	b.ne	2f
	ldr	x6, [x25, #64]
	adr	x7, i3
	cmp	x6, x7
	b.ne	2f
	ldr	x6, [x25, #88]
	adr	x7, i4
	cmp	x6, x7
	b.eq	1f
2:	orr	w28, w28, #64
1:	add	x7, x5, #0x40
	cmp	x8, x7
	b.ne	2f
	cmp	x1, x5
	b.eq	1f
2:	orr	w28, w28, #128
1:	ldr	x6, [x25, #72]		// 4th: EC 0x25 IL, WnR 0, DFSC 0x10
	ldr	x7, =0x96000010
	and	x6, x6, #0xffffffff
	cmp	x6, x7
	b.eq	1f
	orr	w28, w28, #256
1:	ldr	x6, [x25, #80]
	cmp	x6, x11
	b.eq	1f
	orr	w28, w28, #512
1:	ldr	x7, =0x5a5a5a5a5a5a5a5a
	cmp	x9, x7
	b.eq	1f
	orr	w28, w28, #1024
1:	mov	x26, #0
2:	puts_lit "inject: esr "
	ldr	x0, [x25, x26]
	bl	puthex
	puts_lit " far "
	add	x27, x26, #8
	ldr	x0, [x25, x27]
	bl	puthex
	puts_lit " elr "
	add	x27, x26, #16
	ldr	x0, [x25, x27]
	bl	puthex
	bl	putnl
	add	x26, x26, #24
	cmp	x26, #96
	b.lt	2b
	puts_lit "inject: failed "
	mov	x0, x28
	bl	puthex
	bl	putnl
	mov	w0, w28
	done

	shared_routines

	.balign	8
seen:	.skip	4 * 24

// Current EL with SP_ELx, synchronous (VBAR_EL1 + 0x200): record (at most four), step past
// the instruction, return.
	.balign	2048
vectors:
	.skip	0x200
	cmp	x24, #4
	b.hs	1f
	mov	x26, #24
	mul	x26, x24, x26
	add	x26, x25, x26
	mrs	x27, esr_el1
	str	x27, [x26]
	mrs	x27, far_el1
	str	x27, [x26, #8]
	mrs	x27, elr_el1
	str	x27, [x26, #16]
1:	add	x24, x24, #1
	mrs	x27, elr_el1
	add	x27, x27, #4
	msr	elr_el1, x27
	eret
