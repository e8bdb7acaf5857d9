/*
 * guest.h - what every tests/run guest shares: the device addresses its config gives it, the
 * pattern device's formula, console output, ending through the done port, and an IDT whose
 * handlers check where the exception happened and resume where the guest said.
 *
 * State at entry (the KVM backend, core/backend/kvm/xg_kvm.h): 64-bit mode, CPL 0, the first
 * 4 GiB identity-mapped, RSP = top of RAM - vCPU index * 64K, RDI = vCPU index, RSI = number
 * of vCPUs, no IDT. At CPL 0 kvm_pvm emulates every instruction in software (about 1 us
 * each), so loops stay short, and every x87/SSE/AVX instruction exits as an emulation
 * failure that exitgate's emulator (or the policy) must answer.
 *
 * Not a .S: xg_add_guests builds every *.S here into a payload; tests/run/CMakeLists.txt
 * makes each payload depend on this file.
 */
#ifndef XG_RUN_GUEST_H
#define XG_RUN_GUEST_H

/* Devices, as the .yaml files in tests/run declare them. */
#define CONSOLE	  0x3f8
#define DONE_PORT 0x501
#define RAMDEV	  0xd0000000 /* `ram` device: 64K, reads return what was written */
#define PATTERN	  0xd0100000 /* `pattern` device: 4K, see pattern_word */
#define UNCLAIMED 0x99	     /* a port no device has: its exits go to the policy (io) */

/* Guest RAM the guests use (the payload is at 1 MiB and small; RAM is at least 16M). */
#define SCRATCH 0x200000 /* buffers stores go to */
#define SLOTS	0x2f0000 /* the handler protocol below */
#define IDT	0x300000 /* 256 gates of 16 bytes */

#define SLOT_EXPECT  (SLOTS + 0x00) /* RIP the next exception must report */
#define SLOT_RESUME  (SLOTS + 0x08) /* where the handler makes it return */
#define SLOT_UD	     (SLOTS + 0x10) /* #UD count */
#define SLOT_GP	     (SLOTS + 0x18) /* #GP count */
#define SLOT_GP_CODE (SLOTS + 0x20) /* the last #GP error code */
#define SLOT_FLAG    (SLOTS + 0x40) /* vCPU 1 -> vCPU 0 (smp) */

/* The pattern device's 64-bit word at 8-aligned offset o is
 * PATTERN_XOR ^ ((o / 8 + 1) * PATTERN_MUL) (mod 2^64). */
#define PATTERN_XOR 0x0123456789abcdef
#define PATTERN_MUL 0x9e3779b97f4a7c15

/* Codes the shared routines end with; each guest's own checks use 10..99. */
#define FAIL_UNEXPECTED_RIP 100 /* an exception at a RIP the guest did not expect */
#define FAIL_NO_SLOT	    101 /* an exception with no resume address set */
#define FAIL_GP_CODE	    102 /* #GP with an error code other than 0 */

/* ---- macros ----------------------------------------------------------------------------- */

/* Print a string on the console. Clobbers nothing but flags. */
.macro PUTS s
	push	%rsi
	lea	.Lputs_str\@(%rip), %rsi
	call	puts
	pop	%rsi
	jmp	.Lputs_end\@
.Lputs_str\@:
	.asciz	"\s"
.Lputs_end\@:
.endm

/* End the guest with `code` (done device: a 1-byte out). hlt after it, so that a VMM that
 * ignored the write shows up as "halted", never as "done". */
.macro DONE code
	mov	$\code, %edi
	jmp	done
.endm

/* Print "FAIL <code>" and end with `code`. */
.macro FAIL code
	mov	$\code, %edi
	jmp	fail
.endm

/* Fail with `code` unless the qword at `mem` is the pattern word at offset `off`. */
.macro CHECKQ mem, off, code
	push	%rax
	push	%rdi
	mov	$\off, %edi
	call	pattern_word
	cmp	\mem, %rax
	pop	%rdi
	pop	%rax
	je	.Lcheckq_ok\@
	mov	$\code, %edi
	jmp	fail
.Lcheckq_ok\@:
.endm

/* The same for the low dword (what an m32 load from `off` read). */
.macro CHECKD mem, off, code
	push	%rax
	push	%rdi
	mov	$\off, %edi
	call	pattern_word
	cmp	\mem, %eax
	pop	%rdi
	pop	%rax
	je	.Lcheckd_ok\@
	mov	$\code, %edi
	jmp	fail
.Lcheckd_ok\@:
.endm

/* Fail with `code` unless the `n` qwords at disp(reg) are the pattern words from offset
 * `off` on: CHECKQN 0x40, %rcx, 0x100, 4, 21. Clobbers nothing but flags. */
.macro CHECKQN disp, reg, off, n, code
	push	%rsi
	push	%rdi
	push	%rcx
	push	%rdx
	lea	\disp(\reg), %rsi
	mov	$\off, %edi
	mov	$\n, %ecx
	mov	$\code, %edx
	call	check_words
	pop	%rdx
	pop	%rcx
	pop	%rdi
	pop	%rsi
.endm

/* Set the 64-bit interrupt gate for `vec` to `handler` (SDM Vol. 3A 6.14.1, Figure 6-8:
 * offset 15:0, selector 0x08 = XG_KVM_SEL_CODE64, type 0xE interrupt gate, present, DPL 0,
 * IST 0, offset 31:16, offset 63:32). Clobbers rax, rdi. */
.macro SET_GATE vec, handler
	lea	\handler(%rip), %rax
	mov	$(IDT + 16 * \vec), %edi
	mov	%ax, (%rdi)
	movw	$0x08, 2(%rdi)
	movw	$0x8e00, 4(%rdi)
	shr	$16, %rax
	mov	%ax, 6(%rdi)
	shr	$16, %rax
	mov	%eax, 8(%rdi)
	movl	$0, 12(%rdi)
.endm

/* lidt with limit 4095 and base IDT, through a pseudo-descriptor on the stack. */
.macro LOAD_IDT
	sub	$16, %rsp
	movw	$(256 * 16 - 1), (%rsp)
	movq	$IDT, 2(%rsp)
	lidt	(%rsp)
	add	$16, %rsp
.endm

/* The next exception must happen at label `at`; its handler returns to `resume`. */
.macro EXPECT_FAULT at, resume
	push	%rax
	lea	\at(%rip), %rax
	mov	%rax, SLOT_EXPECT
	lea	\resume(%rip), %rax
	mov	%rax, SLOT_RESUME
	pop	%rax
.endm

/* ---- routines (one copy per guest: GUEST_ROUTINES at the end of its code) --------------- */

.macro GUEST_ROUTINES
/* puts: the NUL-terminated string at rsi to the console. */
puts:
	push	%rax
	push	%rdx
	push	%rsi
	mov	$CONSOLE, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx
	jmp	1b
2:	pop	%rsi
	pop	%rdx
	pop	%rax
	ret

/* puthex: rax as 16 hex digits. */
puthex:
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	mov	%rax, %rbx
	mov	$16, %ecx
	mov	$CONSOLE, %dx
1:	rol	$4, %rbx
	mov	%bl, %al
	and	$0xf, %al
	add	$0x30, %al	/* '0' */
	cmp	$0x39, %al	/* '9' */
	jbe	2f
	add	$(0x61 - 0x3a), %al	/* to 'a'..'f' */
2:	out	%al, %dx
	dec	%ecx
	jnz	1b
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	ret

/* pattern_word: rax = the pattern device's qword at offset rdi. */
pattern_word:
	push	%rcx
	mov	%rdi, %rax
	shr	$3, %rax
	inc	%rax
	movabs	$PATTERN_MUL, %rcx
	imul	%rcx, %rax
	movabs	$PATTERN_XOR, %rcx
	xor	%rcx, %rax
	pop	%rcx
	ret

/* check_words: ecx qwords at rsi against the pattern from offset rdi; fail with edx. */
check_words:
	push	%rax
1:	call	pattern_word
	cmp	(%rsi), %rax
	jne	2f
	add	$8, %rsi
	add	$8, %rdi
	dec	%ecx
	jnz	1b
	pop	%rax
	ret
2:	mov	%edx, %edi
	jmp	fail

/* fail: print "FAIL <code>" and end with the code in edi. */
fail:
	PUTS	"FAIL "
	mov	%rdi, %rax
	call	puthex
	PUTS	"\n"
	/* fall through */
/* done: end the guest with the code in dil. */
done:
	mov	%edi, %eax
	mov	$DONE_PORT, %dx
	out	%al, %dx
1:	hlt
	jmp	1b

/* #UD handler: count it, check the frame's RIP (SDM Vol. 3A 6.14.2: RIP, CS, RFLAGS, RSP,
 * SS; no error code), return to the resume address. iretq works at CPL 0 on this KVM
 * (tests/kvm/t_kvm_events.c). */
ud_handler:
	push	%rax
	incq	SLOT_UD
	mov	8(%rsp), %rax
	cmp	SLOT_EXPECT, %rax
	jne	unexpected_rip
	mov	SLOT_RESUME, %rax
	test	%rax, %rax
	jz	no_slot
	mov	%rax, 8(%rsp)
	movq	$0, SLOT_RESUME
	movq	$0, SLOT_EXPECT
	pop	%rax
	iretq

/* #GP handler: the same with the error code first on the frame. */
gp_handler:
	push	%rax
	incq	SLOT_GP
	mov	8(%rsp), %rax
	mov	%rax, SLOT_GP_CODE
	mov	16(%rsp), %rax
	cmp	SLOT_EXPECT, %rax
	jne	unexpected_rip
	mov	SLOT_RESUME, %rax
	test	%rax, %rax
	jz	no_slot
	mov	%rax, 16(%rsp)
	movq	$0, SLOT_RESUME
	movq	$0, SLOT_EXPECT
	pop	%rax
	add	$8, %rsp
	iretq

unexpected_rip:
	PUTS	"exception at "
	mov	8(%rsp), %rax
	call	puthex
	PUTS	" (or error code, then RIP), expected at "
	mov	SLOT_EXPECT, %rax
	call	puthex
	PUTS	"\n"
	mov	$FAIL_UNEXPECTED_RIP, %edi
	jmp	fail
no_slot:
	mov	$FAIL_NO_SLOT, %edi
	jmp	fail
.endm

#endif
