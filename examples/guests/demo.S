/*
 * demo.S - the guest of the README's first command (examples/configs/demo.yaml): the
 * accesses KVM cannot finish by itself, then a checksum.
 *
 * Devices (demo.yaml): console at port 0x3f8, done port 0x501, a `pattern` device at
 * 0xd0100000 whose 64-bit word k reads 0x0123456789abcdef ^ ((k + 1) * 0x9e3779b97f4a7c15),
 * and a `ram` window at 0xd0000000. Neither device has a memslot behind it, so every access
 * to them exits to user space; the x87 and AVX ones come as emulation failures (KVM's
 * emulator has no x87 memory operands and no 256-bit moves), which the default policy
 * answers with exitgate's emulator. On this machine's KVM (kvm_pvm) CPL-0 code runs in
 * KVM's own emulator, so the stores of the loaded registers to RAM fail the same way and
 * are emulated too. The unknown MSR exits to the policy, which answers 0.
 *
 * The guest recomputes the pattern with integer code, compares every value it loaded, adds
 * them into a checksum, prints it, and writes 0 to the done port when all is right (or the
 * number of the check that failed).
 */
#define CONSOLE	0x3f8
#define DONE	0x501
#define PATTERN	0xd0100000
#define WINDOW	0xd0000000
#define BUF	0x200000	/* RAM scratch (the payload is at 0x100000) */

	.code64
	.text
	.globl	_start
_start:
	lea	hello(%rip), %rsi
	call	puts
	xor	%r15, %r15			/* the checksum */

	/* 1: x87 integer load from MMIO, stored to RAM: fild m64 / fistp m64 round-trip
	 * every 64-bit integer exactly (SDM Vol. 1 8.2). */
	movabs	$PATTERN, %rax
	fildq	(%rax)				/* DF 28: emulation failure */
	mov	$BUF, %rdi
	fistpq	(%rdi)				/* DF 38 */
	mov	$0, %rcx
	call	pattern_word
	cmp	(%rdi), %rax
	mov	$1, %bl
	jne	fail
	add	%rax, %r15

	/* 2: x87 float from the RAM-like window: 1.5f written by plain MOV (KVM does that
	 * one itself), loaded with flds, stored with fstps. */
	movabs	$WINDOW, %rax
	movl	$0x3fc00000, (%rax)
	flds	(%rax)				/* D9 00 */
	fstps	8(%rdi)				/* D9 5F 08 */
	cmpl	$0x3fc00000, 8(%rdi)
	mov	$2, %bl
	jne	fail
	add	$0x3fc00000, %r15

	/* 3: AVX 256-bit load from the pattern, store to the window, read back by MOV. */
	movabs	$PATTERN + 64, %rax
	vmovdqu	(%rax), %ymm1			/* C5 FE 6F 08 */
	movabs	$WINDOW + 0x100, %rdx
	vmovdqu	%ymm1, (%rdx)			/* C5 FE 7F 0A */
	mov	$8, %rcx			/* pattern words 8..11 */
1:	call	pattern_word
	mov	-64(%rdx,%rcx,8), %r8		/* window word (rcx - 8) */
	cmp	%rax, %r8
	mov	$3, %bl
	jne	fail
	add	%rax, %r15
	inc	%rcx
	cmp	$12, %rcx
	jne	1b

	/* 4: an MSR KVM does not know: the policy answers (default: 0). */
	mov	$0x12345, %ecx
	rdmsr
	or	%edx, %eax
	mov	$4, %bl
	jnz	fail

	/* the checksum, printed */
	lea	sum_is(%rip), %rsi
	call	puts
	mov	%r15, %rax
	call	puthex
	lea	ok_text(%rip), %rsi
	call	puts
	xor	%eax, %eax
	mov	$DONE, %dx
	outl	%eax, %dx
	hlt

fail:	lea	fail_text(%rip), %rsi
	call	puts
	movzbl	%bl, %eax
	add	$'0', %al
	mov	$CONSOLE, %dx
	outb	%al, %dx
	mov	$'\n', %al
	outb	%al, %dx
	movzbl	%bl, %eax
	mov	$DONE, %dx
	outl	%eax, %dx
	hlt

/* rax = pattern word rcx: 0x0123456789abcdef ^ ((rcx + 1) * 0x9e3779b97f4a7c15) */
pattern_word:
	push	%rdx
	lea	1(%rcx), %rax
	movabs	$0x9e3779b97f4a7c15, %rdx
	imul	%rdx, %rax
	movabs	$0x0123456789abcdef, %rdx
	xor	%rdx, %rax
	pop	%rdx
	ret

/* print the NUL-terminated string at rsi */
puts:	push	%rax
	push	%rdx
	mov	$CONSOLE, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	pop	%rdx
	pop	%rax
	ret

/* print rax as 0x and 16 hex digits */
puthex:	push	%rcx
	push	%rdx
	push	%rbx
	mov	%rax, %rbx
	mov	$CONSOLE, %dx
	mov	$'0', %al
	outb	%al, %dx
	mov	$'x', %al
	outb	%al, %dx
	mov	$16, %ecx
1:	rol	$4, %rbx
	mov	%bl, %al
	and	$0xf, %al
	add	$'0', %al
	cmp	$'9', %al
	jbe	2f
	add	$('a' - '9' - 1), %al
2:	outb	%al, %dx
	loop	1b
	pop	%rbx
	pop	%rdx
	pop	%rcx
	ret

hello:		.asciz	"exitgate demo: x87 and AVX loads from MMIO, an unknown MSR\n"
sum_is:		.asciz	"checksum "
ok_text:	.asciz	" - every value right\n"
fail_text:	.asciz	"FAILED check "
