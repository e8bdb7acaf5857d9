/* qemu-bios-idt-mmio.S - a 64 KiB firmware image for `qemu-system-x86_64 -bios`: from the
 * reset vector it enters flat 32-bit protected mode (paging off, CPL 0), loads an IDT whose
 * base is IDT_BASE, then runs EVENT. It made the pvm-qemu-* samples in ../samples (see
 * ../samples/README.md); the test suite does not build or run it (the captured text is the
 * sample). Build:
 *   gcc -c -m32 -DIDT_BASE=0xe0000000 '-DEVENT=int $0x20' -o g.o qemu-bios-idt-mmio.S
 *   ld -m elf_i386 -Ttext=0 --oformat=binary -e _start -o g.rom g.o
 * The GDT descriptors have their accessed bits set: the CPU never writes to the ROM. */
#define LIN(x) ((x) + 0xf0000)
	.code16
	.globl _start
_start:
	cli
	movw $0xf000, %ax
	movw %ax, %ds
	lgdtl gdtr
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $LIN(pm)
	.code32
pm:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $0x7000, %esp
	lidt LIN(idtr)
	EVENT
1:	hlt
	jmp 1b
	.p2align 3
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x08: flat 32-bit code */
	.quad 0x00cf93000000ffff	/* 0x10: flat data */
gdtr:
	.word gdtr - gdt - 1
	.long LIN(gdt)
idtr:
	.word 0x7ff			/* 256 8-byte gates */
	.long IDT_BASE
	.org 0xfff0			/* the reset vector, 0xfffffff0 */
	.code16
	ljmp $0xf000, $_start
	.org 0x10000
