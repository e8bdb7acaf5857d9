/*
 * modes.S - real mode, then 32-bit protected mode (modes.yaml: mode: real, load 0x10000), an
 * access to the unclaimed port in each, so that modes.lua dumps a vCPU running 16-bit code
 * and then one running 32-bit code (t_run_dumpmodes.sh reads the dumps). The instructions
 * right after each OUT decode differently in the other sizes: `xor ax, ax` is `xor eax, eax`
 * in 32-bit code, and `mov ebx, 0x12345678` is `mov bx, 0x5678` plus two more bytes in 16-bit
 * code. In protected mode it reads an address no device has through GS (an MMIO exit the
 * policy dumps), and after the second OUT (RIP is past an OUT at its exit) comes a read of
 * the pattern device through FS: both memory operands have a segment base that is not 0.
 *
 * Linked at 0x100000 like every guest, loaded at 0x10000 (CS base 0x10000, IP 0): no
 * absolute addresses but LOAD + (label - _start). The GDT is built at GDT in RAM:
 * 0x08 flat 32-bit code, 0x10 flat 32-bit data, 0x18 data with base 0xd00ff000 (the pattern
 * device 0x1000 above it), 0x20 data with base 0xd01ff000 (0xd0200000, nothing, above it).
 */
#define CONSOLE	  0x3f8
#define DONE_PORT 0x501
#define UNCLAIMED 0x99
#define PATTERN	  0xd0100000
#define LOAD	  0x10000
#define GDT	  0x800
#define GDTR	  0x840

	.code16
	.text
	.globl	_start
_start:
	cli
	mov	$0x16, %al
	out	%al, $UNCLAIMED		/* dump: 16-bit code */
	xor	%ax, %ax
	mov	%ax, %ds
	movl	$0, GDT
	movl	$0, GDT + 4
	movl	$0x0000ffff, GDT + 0x08	/* code: base 0, limit 4G, 32-bit, execute/read */
	movl	$0x00cf9a00, GDT + 0x0c
	movl	$0x0000ffff, GDT + 0x10	/* data: base 0, limit 4G, read/write */
	movl	$0x00cf9200, GDT + 0x14
	movl	$0xf000ffff, GDT + 0x18	/* data: base 0xd00ff000 (PATTERN - 0x1000) */
	movl	$0xd0cf920f, GDT + 0x1c
	movl	$0xf000ffff, GDT + 0x20	/* data: base 0xd01ff000 (UNCLAIMED_MMIO - 0x1000) */
	movl	$0xd0cf921f, GDT + 0x24
	movw	$0x27, GDTR
	movl	$GDT, GDTR + 2
	lgdtl	GDTR
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x08, $(LOAD + pm32 - _start)

	.code32
pm32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x90000, %esp
	mov	$0x18, %ax
	mov	%ax, %fs
	mov	$0x20, %ax
	mov	%ax, %gs
	mov	$0x1000, %ebx
	mov	%gs:0x10(%ebx), %eax	/* 0xd0200010, no device there: an MMIO exit, dumped */
	mov	$0x32, %al
	out	%al, $UNCLAIMED		/* dump: 32-bit code, RIP at the next instruction */
	mov	%fs:0x10(%ebx), %eax	/* the pattern device's word at 0xd0100010 */
	mov	$0x12345678, %ebx
	mov	$DONE_PORT, %dx
	mov	$0, %al
	out	%al, %dx
	hlt
