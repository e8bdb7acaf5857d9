// nisv.S - loads and stores to devices that the CPU reports without a valid syndrome
// (ISV = 0: writeback addressing, pairs, SIMD&FP and structure loads, sign-extending
// writeback loads, atomics). KVM cannot finish them: each is a KVM_EXIT_ARM_NISV, which
// exitgate's A64 emulator completes under a policy that answers xg.emulate() (the default
// policy does). The guest checks every value and base register and ends through the done
// device with 0, or the number of the first check that failed (its line says which).
#include "arm64.inc"

	// check Xa == Xb, else remember check n (the first failure wins)
	.macro	check a, b, n
	cmp	\a, \b
	b.eq	7777f
	cbnz	w28, 7777f
	mov	w28, #\n
7777:	add	x27, x27, #1
	.endm

	.text
	.global	_start
_start:
	adr	x9, vectors
	msr	vbar_el1, x9
	mov	x9, #(3 << 20)		// CPACR_EL1.FPEN = 0b11: SIMD&FP do not trap (D17.2.30)
	msr	cpacr_el1, x9
	isb
	mov	w28, #0			// first failed check
	mov	x27, #0			// checks run
	puts_lit "nisv: post/pre-index, pairs, sign extension, SIMD, pattern, atomics\n"
	ldr	x19, =RAMDEV
	ldr	x10, =0x1122334455667788
	ldr	x13, =0xa5a5a5a5c3c3c3c3

	// 1-2: STR post-index, then LDR post-index
	mov	x1, x19
	str	x10, [x1], #8
	add	x5, x19, #8
	check	x1, x5, 1
	mov	x2, x19
	ldr	x11, [x2], #8
	check	x11, x10, 2
	check	x2, x5, 2

	// 3: LDR pre-index (the word at +8 stored with a plain STR: ISV = 1, KVM's own MMIO)
	str	x13, [x19, #8]
	mov	x3, x19
	ldr	x12, [x3, #8]!
	check	x12, x13, 3
	check	x3, x5, 3

	// 4: STP / LDP (signed offset; pairs never have a syndrome)
	stp	x10, x13, [x19, #16]
	ldp	x14, x15, [x19, #16]
	check	x14, x10, 4
	check	x15, x13, 4

	// 5: LDP post-index, both registers and the base
	add	x4, x19, #16
	ldp	x6, x7, [x4], #16
	check	x6, x10, 5
	check	x7, x13, 5
	add	x5, x19, #32
	check	x4, x5, 5

	// 6: LDRSW post-index (0x80000001 -> 0xffffffff80000001), LDRSH to W pre-index
	ldr	w5, =0x80000001
	str	w5, [x19, #32]
	add	x6, x19, #32
	ldrsw	x7, [x6], #4
	ldr	x8, =0xffffffff80000001
	check	x7, x8, 6
	add	x8, x19, #36
	check	x6, x8, 6
	mov	w5, #0x8001
	strh	w5, [x19, #40]
	add	x6, x19, #38
	ldrsh	w7, [x6, #2]!
	ldr	x8, =0xffff8001
	check	x7, x8, 7
	add	x8, x19, #40
	check	x6, x8, 7

	// 8: LDR Q post-index (the pair at +16), ST1 {v.2d}, read back with LDP
	add	x6, x19, #16
	ldr	q0, [x6], #16
	mov	x7, v0.d[0]
	mov	x8, v0.d[1]
	check	x7, x10, 8
	check	x8, x13, 8
	add	x7, x19, #64
	st1	{v0.2d}, [x7]
	ldp	x8, x9, [x19, #64]
	check	x8, x10, 9
	check	x9, x13, 9

	// 10: LDP from the pattern device: word k = 0x0123456789abcdef ^ ((k+1) * 0x9e3779b97f4a7c15)
	ldr	x5, =PATTERN
	ldp	x6, x7, [x5]
	ldr	x8, =0x0123456789abcdef
	ldr	x9, =0x9e3779b97f4a7c15
	eor	x11, x8, x9
	check	x6, x11, 10
	eor	x11, x8, x9, lsl #1
	check	x7, x11, 10

	// 11: LDADD (LSE): the old value comes back, the sum is stored
	mov	x5, #5
	str	x5, [x19, #80]
	add	x6, x19, #80
	mov	x7, #37
	ldadd	x7, x8, [x6]
	check	x8, x5, 11
	ldr	x9, [x19, #80]
	mov	x5, #42
	check	x9, x5, 11

	puts_lit "nisv: checks "
	mov	x0, x27
	bl	puthex
	puts_lit " first failed "
	mov	x0, x28
	bl	puthex
	bl	putnl
	mov	w0, w28
	done

	shared_routines

	unexpected_vectors nisv
