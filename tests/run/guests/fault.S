/*
 * fault.S - exceptions injected after IO, MMIO and MSR exits must be faults (policy
 * fault.lua): the frame's RIP is the instruction that exited, and nothing of it is done -
 * a load's or IN's destination keeps its value, a string instruction's RCX/RSI/RDI and
 * buffer are as before it (SDM Vol. 3A 6.5 "Faults").
 *
 * The policy picks the exception from the port, the MMIO offset or the MSR (fault.lua):
 *   port 0x90 #GP(0), port 0x91 #UD; MMIO 0xd0200000 + 0x000 #GP(0), + 0x100 #UD,
 *   + 0x200 #PF(error code 2), + 0x300 #DE, + 0x400 #PF(error code 2) with CR2 = the
 *   address (xg.inject("PF", {error_code = 2, cr2 = ...})); MSR 0x4b564d90 #GP,
 *   0x4b564d91 #UD.
 *
 * Every case loads its registers with marks, says where the fault must come from and where
 * to go on (EXPECT_FAULT), runs the instruction, and then checks the registers it could
 * have changed. The handlers record the vector, the error code and the frame's RIP, and
 * return to the resume address. Each case prints "case NAME: ok" or "case NAME: FAIL ..."
 * and goes on; the guest ends with done 0 when every case passed, else FAIL 10.
 */
#include "guest.h"

#define SLOT_VEC   (SLOTS + 0x80) /* the vector the last handler saw */
#define SLOT_CODE  (SLOTS + 0x88) /* its error code, or -1 */
#define SLOT_RIP   (SLOTS + 0x90) /* its frame's RIP */
#define SLOT_FAILS (SLOTS + 0x98) /* cases that failed */
#define SLOT_CR2   (SLOTS + 0xa0) /* CR2 in the #PF handler */

#define MMIO	  0xd0200000
#define PORT_GP	  0x90
#define PORT_UD	  0x91
#define MSR_GP	  0x4b564d90
#define MSR_UD	  0x4b564d91
#define MARK_A	  0x1111111111111111
#define MARK_B	  0x2222222222222222
#define MARK_C	  0x3333333333333333
#define MARK_D	  0x4444444444444444
#define BUF_BYTES 0x5a5a5a5a5a5a5a5a

/* A handler for `vec`: record, then return to SLOT_RESUME (error code dropped). */
.macro HANDLER name, vec, has_code
\name:
	push	%rax
	movq	$\vec, SLOT_VEC
.if \has_code
	mov	8(%rsp), %rax
	mov	%rax, SLOT_CODE
	mov	16(%rsp), %rax
	mov	%rax, SLOT_RIP
.else
	movq	$-1, SLOT_CODE
	mov	8(%rsp), %rax
	mov	%rax, SLOT_RIP
.endif
.if \vec == 14
	mov	%cr2, %rax
	mov	%rax, SLOT_CR2
.endif
	mov	SLOT_RESUME, %rax
	test	%rax, %rax
	jz	no_slot
.if \has_code
	mov	%rax, 16(%rsp)
	pop	%rax
	add	$8, %rsp
.else
	mov	%rax, 8(%rsp)
	pop	%rax
.endif
	iretq
.endm

/* r14 |= 1 unless `reg` holds `mark`. Clobbers r13 and flags. */
.macro KEPT reg, mark
	movabs	$\mark, %r13
	cmp	%r13, \reg
	je	.Lkept\@
	or	$1, %r14
.Lkept\@:
.endm

/* Print the case's outcome: vector `vec`, error code `code` (-1: none), r14 = 0. */
.macro REPORT name, vec, code
	push	%rsi
	lea	.Lname\@(%rip), %rsi
	mov	$\vec, %edi
	mov	$\code, %rdx
	call	report
	pop	%rsi
	jmp	.Lend\@
.Lname\@:
	.asciz	"\name"
.Lend\@:
.endm

/* Before a case: no exception seen yet, registers not yet checked. */
.macro BEGIN
	movq	$-2, SLOT_VEC
	movq	$-2, SLOT_RIP
	xor	%r14d, %r14d
.endm

	.code64
	.text
	.globl	_start
_start:
	SET_GATE 0, de_h
	SET_GATE 6, ud_h
	SET_GATE 13, gp_h
	SET_GATE 14, pf_h
	LOAD_IDT
	movq	$0, SLOT_FAILS
	PUTS	"fault: start\n"

	/* ---- IO ---- */
	BEGIN
	mov	$PORT_GP, %edx
	movabs	$MARK_A, %rax
	EXPECT_FAULT 1f, 2f
1:	in	(%dx), %al
2:	KEPT	%rax, MARK_A
	REPORT	"in al (GP)", 13, 0

	BEGIN
	mov	$PORT_UD, %edx
	movabs	$MARK_B, %rax
	EXPECT_FAULT 1f, 2f
1:	in	(%dx), %eax
2:	KEPT	%rax, MARK_B
	REPORT	"in eax (UD)", 6, -1

	BEGIN
	mov	$PORT_GP, %edx
	movabs	$MARK_C, %rax
	EXPECT_FAULT 1f, 2f
1:	out	%al, (%dx)
2:	KEPT	%rax, MARK_C
	REPORT	"out dx (GP)", 13, 0

	BEGIN
	movabs	$MARK_D, %rax
	EXPECT_FAULT 1f, 2f
1:	out	%eax, $PORT_UD
2:	KEPT	%rax, MARK_D
	REPORT	"out imm8 (UD)", 6, -1

	/* rep insb: nothing of the 4 items is written, RCX/RDI as before */
	BEGIN
	call	fill_buf
	mov	$PORT_GP, %edx
	mov	$SCRATCH, %edi
	mov	$4, %ecx
	EXPECT_FAULT 1f, 2f
1:	rep insb (%dx), (%rdi)
2:	KEPT	%rcx, 4
	KEPT	%rdi, SCRATCH
	call	buf_kept
	REPORT	"rep insb (GP)", 13, 0

	/* rep insb of 2000 items: KVM takes up to 1024 in one exit; none is written */
	BEGIN
	call	fill_buf
	mov	$PORT_UD, %edx
	mov	$SCRATCH, %edi
	mov	$2000, %ecx
	EXPECT_FAULT 1f, 2f
1:	rep insb (%dx), (%rdi)
2:	KEPT	%rcx, 2000
	KEPT	%rdi, SCRATCH
	call	buf_kept
	REPORT	"rep insb x2000 (UD)", 6, -1

	/* rep outsb: the first item faults: RCX/RSI as before */
	BEGIN
	mov	$PORT_UD, %edx
	mov	$SCRATCH, %esi
	mov	$4, %ecx
	EXPECT_FAULT 1f, 2f
1:	rep outsb (%rsi), (%dx)
2:	KEPT	%rcx, 4
	KEPT	%rsi, SCRATCH
	REPORT	"rep outsb (UD)", 6, -1

	/* ---- MMIO ---- */
	BEGIN
	mov	$MMIO, %eax
	movabs	$MARK_A, %rbx
	EXPECT_FAULT 1f, 2f
1:	mov	(%rax), %ebx
2:	KEPT	%rbx, MARK_A
	REPORT	"mmio load32 (GP)", 13, 0

	BEGIN
	mov	$MMIO, %eax
	movabs	$MARK_B, %rbx
	EXPECT_FAULT 1f, 2f
1:	mov	0x100(%rax), %rbx
2:	KEPT	%rbx, MARK_B
	REPORT	"mmio load64 (UD)", 6, -1

	BEGIN
	mov	$MMIO, %eax
	movabs	$MARK_C, %rcx
	EXPECT_FAULT 1f, 2f
1:	mov	0x300(%rax), %ecx
2:	KEPT	%rcx, MARK_C
	REPORT	"mmio load (DE)", 0, -1

	BEGIN
	mov	$MMIO, %eax
	movabs	$MARK_C, %rbx
	EXPECT_FAULT 1f, 2f
1:	mov	%ebx, (%rax)
2:	KEPT	%rbx, MARK_C
	REPORT	"mmio store32 (GP)", 13, 0

	BEGIN
	mov	$MMIO, %eax
	EXPECT_FAULT 1f, 2f
1:	movb	$0x5a, 0x100(%rax)
2:	REPORT	"mmio store imm8 (UD)", 6, -1

	BEGIN
	mov	$MMIO, %eax
	movabs	$MARK_D, %rbx
	EXPECT_FAULT 1f, 2f
1:	mov	%rbx, 0x200(%rax)
2:	KEPT	%rbx, MARK_D
	REPORT	"mmio store64 (PF)", 14, 2

	/* the policy gives the #PF its address: the handler finds it in CR2 (set before the
	 * fault is delivered, SDM Vol. 3A 6.15 interrupt 14), not an earlier fault's */
	BEGIN
	mov	$MMIO, %eax
	movabs	$MARK_D, %rbx
	movq	$0, SLOT_CR2
	EXPECT_FAULT 1f, 2f
1:	mov	%rbx, 0x400(%rax)
2:	KEPT	%rbx, MARK_D
	mov	SLOT_CR2, %rax
	KEPT	%rax, (MMIO + 0x400)
	REPORT	"mmio store64 (PF, cr2)", 14, 2

	/* rep movsq from the device to RAM: nothing copied, RCX/RSI/RDI as before */
	BEGIN
	call	fill_buf
	mov	$MMIO, %esi
	mov	$SCRATCH, %edi
	mov	$3, %ecx
	EXPECT_FAULT 1f, 2f
1:	rep movsq
2:	KEPT	%rcx, 3
	KEPT	%rsi, MMIO
	KEPT	%rdi, SCRATCH
	call	buf_kept
	REPORT	"rep movsq from mmio (GP)", 13, 0

	/* rep stosl to the device: the first item faults: RCX/RDI as before */
	BEGIN
	mov	$MMIO, %edi
	mov	$3, %ecx
	movabs	$MARK_A, %rax
	EXPECT_FAULT 1f, 2f
1:	rep stosl
2:	KEPT	%rcx, 3
	KEPT	%rdi, MMIO
	REPORT	"rep stosl to mmio (GP)", 13, 0

	/* ---- MSR ---- */
	BEGIN
	mov	$MSR_GP, %ecx
	movabs	$MARK_A, %rax
	movabs	$MARK_B, %rdx
	EXPECT_FAULT 1f, 2f
1:	rdmsr
2:	KEPT	%rax, MARK_A
	KEPT	%rdx, MARK_B
	REPORT	"rdmsr (GP)", 13, 0

	BEGIN
	mov	$MSR_UD, %ecx
	movabs	$MARK_C, %rax
	movabs	$MARK_D, %rdx
	EXPECT_FAULT 1f, 2f
1:	rdmsr
2:	KEPT	%rax, MARK_C
	KEPT	%rdx, MARK_D
	REPORT	"rdmsr (UD)", 6, -1

	BEGIN
	mov	$MSR_GP, %ecx
	EXPECT_FAULT 1f, 2f
1:	wrmsr
2:	REPORT	"wrmsr (GP)", 13, 0

	BEGIN
	mov	$MSR_UD, %ecx
	EXPECT_FAULT 1f, 2f
1:	wrmsr
2:	REPORT	"wrmsr (UD)", 6, -1

	/* ---- exitgate's emulator raising the fault (emulation failures, xg.emulate) ----
	 * ymm1 holds a mark; a load into it from a non-canonical address is #GP(0), from
	 * above the 4 GiB the guest maps #PF(0) with CR2 = the address (SDM Vol. 3A 4.7):
	 * ymm1, RAX and RIP stay as they were. */
	movabs	$MARK_A, %rax
	mov	%rax, SCRATCH + 0x40
	mov	%rax, SCRATCH + 0x48
	mov	%rax, SCRATCH + 0x50
	mov	%rax, SCRATCH + 0x58
	mov	$(SCRATCH + 0x40), %eax
	vmovdqu	(%rax), %ymm1

	BEGIN
	movabs	$0x8000000000000000, %rax
	EXPECT_FAULT 1f, 2f
1:	vmovdqu	(%rax), %ymm1
2:	KEPT	%rax, 0x8000000000000000
	call	ymm1_kept
	REPORT	"emulated load, non-canonical (GP)", 13, 0

	BEGIN
	movabs	$0x100000000, %rax
	movq	$0, SLOT_CR2
	EXPECT_FAULT 1f, 2f
1:	vmovdqu	(%rax), %ymm1
2:	KEPT	%rax, 0x100000000
	call	ymm1_kept
	mov	SLOT_CR2, %rax
	KEPT	%rax, 0x100000000
	REPORT	"emulated load, not mapped (PF)", 14, 0

	PUTS	"fault: failures "
	mov	SLOT_FAILS, %rax
	call	puthex
	PUTS	"\n"
	cmpq	$0, SLOT_FAILS
	je	3f
	mov	$10, %edi
	jmp	fail
3:	DONE	0

/* report: "case <rsi>: ok", or FAIL with what differs: the vector (edi), the error code
 * (rdx, -1 for none), the frame's RIP (SLOT_EXPECT), the registers (r14). */
report:
	PUTS	"case "
	call	puts
	PUTS	": "
	xor	%r12d, %r12d
	cmp	SLOT_VEC, %rdi
	je	1f
	PUTS	"FAIL vector "
	mov	SLOT_VEC, %rax
	call	puthex
	PUTS	" "
	inc	%r12d
1:	cmp	SLOT_CODE, %rdx
	je	1f
	PUTS	"FAIL error code "
	mov	SLOT_CODE, %rax
	call	puthex
	PUTS	" "
	inc	%r12d
1:	mov	SLOT_RIP, %rax
	cmp	SLOT_EXPECT, %rax
	je	1f
	PUTS	"FAIL rip "
	call	puthex
	PUTS	" expected "
	mov	SLOT_EXPECT, %rax
	call	puthex
	PUTS	" "
	inc	%r12d
1:	test	%r14, %r14
	jz	1f
	PUTS	"FAIL registers or memory changed "
	inc	%r12d
1:	test	%r12d, %r12d
	jnz	1f
	PUTS	"ok"
	jmp	2f
1:	incq	SLOT_FAILS
2:	PUTS	"\n"
	movq	$0, SLOT_EXPECT
	movq	$0, SLOT_RESUME
	ret

/* fill_buf: BUF_BYTES in the first 2048 bytes at SCRATCH; buf_kept: r14 |= 1 unless they
 * are all still there. */
fill_buf:
	push	%rax
	push	%rcx
	push	%rdi
	movabs	$BUF_BYTES, %rax
	mov	$SCRATCH, %edi
	mov	$256, %ecx
	cld
	rep stosq
	pop	%rdi
	pop	%rcx
	pop	%rax
	ret
buf_kept:
	push	%rax
	push	%rcx
	xor	%ecx, %ecx
1:	mov	SCRATCH(, %rcx, 8), %rax
	KEPT	%rax, BUF_BYTES
	inc	%ecx
	cmp	$256, %ecx
	jne	1b
	pop	%rcx
	pop	%rax
	ret

/* ymm1_kept: r14 |= 1 unless ymm1 still holds MARK_A in all four qwords. */
ymm1_kept:
	push	%rax
	push	%rcx
	mov	$(SCRATCH + 0x80), %eax
	vmovdqu	%ymm1, (%rax)
	xor	%ecx, %ecx
1:	mov	SCRATCH + 0x80(, %rcx, 8), %rax
	KEPT	%rax, MARK_A
	inc	%ecx
	cmp	$4, %ecx
	jne	1b
	pop	%rcx
	pop	%rax
	ret

	HANDLER de_h, 0, 0
	HANDLER ud_h, 6, 0
	HANDLER gp_h, 13, 1
	HANDLER pf_h, 14, 1

	GUEST_ROUTINES
