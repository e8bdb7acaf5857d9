// mmu.S - loads and stores without syndrome with the guest's own stage-1 translation on:
// 4K granule, T0SZ 25 (39-bit VAs, the walk starts at level 1), tables in RAM at
// 0x40100000. The map (ARM ARM D8.3, VMSAv8-64 descriptors):
//   VA 0x40000000 (1G block)     -> IPA 0x40000000, Normal write-back: code, data, stack
//   VA 0xc0000000 (2M block)     -> IPA 0xd0000000, Device-nGnRnE: the devices, VA != IPA
//   VA 0xd0000000 (2M block)     -> IPA 0xd0000000, Device: the devices where they are
//   VA 0xc0200000, 0xc0201000 (4K pages) -> IPA 0xd0011000, 0xd0010000: two pages of the
//                                  ram device in reverse order, so that an access across
//                                  the VA page boundary splits into two IPAs
// Then the same tables again with the 64K granule (TG0 = 0b01; T0SZ 25: the walk starts at
// level 2, 512M blocks, 64K pages; tables at 0x40200000, 64K aligned):
//   VA 0x40000000 (512M block)   -> IPA 0x40000000, Normal
//   VA 0xc0000000 .. (64K pages)  -> 0xd0000000 (console, done), 0xd0010000 (ram device);
//   VA 0xc0020000 -> IPA 0xd0010000 again (so 0xc001fff8 + 16 crosses into it); VA
//   0xd0000000, 0xd0010000 -> themselves
// Each NISV access must be emulated (the emulator walks these tables to fetch the
// instruction and translate the access); the guest checks values and base registers and
// ends through the done device with 0 or the number of the first failed check.
#include "arm64.inc"
	.equ	L1, 0x40100000
	.equ	L2, 0x40101000
	.equ	L3, 0x40102000
	.equ	L2K64, 0x40200000		// 64K-granule tables (8192 entries each)
	.equ	L3K64, 0x40210000
	.equ	AF, (1 << 10)
	.equ	SH_INNER, (3 << 8)
	.equ	ATTR_DEV, (0 << 2)		// MAIR attr0: Device-nGnRnE
	.equ	ATTR_NORMAL, (1 << 2)		// MAIR attr1: Normal, write-back
	// TCR_EL1: T0SZ 25, IRGN0/ORGN0 write-back, SH0 inner, TG0 4K, EPD1 (no TTBR1 walks),
	// IPS 40 bits (D17.2.131)
	.equ	TCR, (25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))
	.equ	TCR64K, (TCR | (1 << 14))	// TG0 = 0b01: 64K

	.macro	check a, b, n
	cmp	\a, \b
	b.eq	7777f
	cbnz	w28, 7777f
	mov	w28, #\n
7777:	add	x27, x27, #1
	.endm

	.macro	put_desc table, index, value
	ldr	x0, =(\table + \index * 8)
	ldr	x1, =\value
	str	x1, [x0]
	.endm

	.text
	.global	_start
_start:
	adr	x9, vectors
	msr	vbar_el1, x9
	mov	x9, #(3 << 20)		// CPACR_EL1.FPEN: SIMD&FP do not trap
	msr	cpacr_el1, x9
	mov	w28, #0
	mov	x27, #0
	put_desc L1, 1, (0x40000000 | AF | SH_INNER | ATTR_NORMAL | 1)
	put_desc L1, 3, (L2 | 3)
	put_desc L2, 0, (0xd0000000 | AF | ATTR_DEV | 1)
	put_desc L2, 1, (L3 | 3)
	put_desc L2, 128, (0xd0000000 | AF | ATTR_DEV | 1)
	put_desc L3, 0, (0xd0011000 | AF | ATTR_DEV | 3)
	put_desc L3, 1, (0xd0010000 | AF | ATTR_DEV | 3)
	dsb	sy
	mov	x0, #0xff00		// attr0 Device-nGnRnE, attr1 Normal WB
	msr	mair_el1, x0
	ldr	x0, =TCR
	msr	tcr_el1, x0
	ldr	x0, =L1
	msr	ttbr0_el1, x0
	isb
	tlbi	vmalle1
	dsb	ish
	isb
	mrs	x0, sctlr_el1
	orr	x0, x0, #1		// M
	orr	x0, x0, #(1 << 2)	// C
	orr	x0, x0, #(1 << 12)	// I
	msr	sctlr_el1, x0
	isb
	puts_lit "mmu: stage 1 on; devices at VA 0xc0000000 = IPA 0xd0000000\n"

	ldr	x19, =RAMDEV			// the ram device where it is (VA = IPA)
	ldr	x20, =(RAMDEV - 0x10000000)	// ... and its alias (VA 0xc0010000)
	ldr	x10, =0x1122334455667788
	ldr	x13, =0xa5a5a5a5c3c3c3c3

	// 1: STR post-index through the alias; read back where it is (ISV = 1: KVM's MMIO)
	mov	x1, x20
	str	x10, [x1], #8
	ldr	x5, [x19]
	check	x5, x10, 1
	add	x5, x20, #8
	check	x1, x5, 1

	// 2: LDR pre-index through the alias
	str	x13, [x19, #8]
	mov	x3, x20
	ldr	x6, [x3, #8]!
	check	x6, x13, 2
	check	x3, x5, 2

	// 3: STP across the VA page boundary 0xc0201000: IPA 0xd0011ff8 and 0xd0010000
	ldr	x2, =0xc0200ff8
	stp	x10, x13, [x2]
	ldr	x5, [x19, #0x1ff8]
	check	x5, x10, 3
	ldr	x5, [x19]
	check	x5, x13, 3

	// 4: LDP post-index across it
	ldp	x7, x8, [x2], #16
	check	x7, x10, 4
	check	x8, x13, 4
	ldr	x5, =0xc0201008
	check	x2, x5, 4

	// 5: LD1 {v0.2d} post-index across it
	ldr	x4, =0xc0200ff8
	ld1	{v0.2d}, [x4], #16
	mov	x7, v0.d[0]
	mov	x8, v0.d[1]
	check	x7, x10, 5
	check	x8, x13, 5
	check	x4, x5, 5

	// ---- the 64K granule: MMU off (the code runs at VA = IPA), new tables, MMU on ----
	put_desc L2K64, 2, (0x40000000 | AF | SH_INNER | ATTR_NORMAL | 1)
	put_desc L2K64, 6, (L3K64 | 3)
	put_desc L3K64, 0, (0xd0000000 | AF | ATTR_DEV | 3)
	put_desc L3K64, 1, (0xd0010000 | AF | ATTR_DEV | 3)
	put_desc L3K64, 2, (0xd0010000 | AF | ATTR_DEV | 3)
	put_desc L3K64, 4096, (0xd0000000 | AF | ATTR_DEV | 3)
	put_desc L3K64, 4097, (0xd0010000 | AF | ATTR_DEV | 3)
	dsb	sy
	mrs	x0, sctlr_el1
	bic	x0, x0, #1
	msr	sctlr_el1, x0
	isb
	ldr	x0, =TCR64K
	msr	tcr_el1, x0
	ldr	x0, =L2K64
	msr	ttbr0_el1, x0
	isb
	tlbi	vmalle1
	dsb	ish
	isb
	mrs	x0, sctlr_el1
	orr	x0, x0, #1
	msr	sctlr_el1, x0
	isb
	puts_lit "mmu: 64K granule on\n"

	// 6: STR post-index through the alias (64K page VA 0xc0010000 -> IPA 0xd0010000)
	mov	x1, x20
	str	x13, [x1], #16
	ldr	x5, [x19]
	check	x5, x13, 6
	add	x5, x20, #16
	check	x1, x5, 6

	// 7: STP across the 64K page boundary VA 0xc0020000: IPA 0xd001fff8 and 0xd0010000
	ldr	x2, =0xc001fff8
	stp	x10, x13, [x2]
	add	x6, x19, #0xf, lsl #12
	ldr	x5, [x6, #0xff8]		// IPA 0xd001fff8
	check	x5, x10, 7
	ldr	x5, [x19]
	check	x5, x13, 7

	// 8: LDP post-index across it
	ldp	x7, x8, [x2], #16
	check	x7, x10, 8
	check	x8, x13, 8
	ldr	x5, =0xc0020008
	check	x2, x5, 8

	puts_lit "mmu: checks "
	mov	x0, x27
	bl	puthex
	puts_lit " first failed "
	mov	x0, x28
	bl	puthex
	bl	putnl
	mov	w0, w28
	done

	shared_routines

	unexpected_vectors mmu
