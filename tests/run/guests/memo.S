/*
 * memo.S - the same instruction bytes exit again and again while the state they run in
 * changes, so that exitgate's emulator answers most of them from the vCPU's memo of compiled
 * instructions (xg_emu_x86_emulate_memo) and some of them must not be (t_run_memo.sh).
 *
 * At CPL 0 kvm_pvm hands every VEX instruction over as an emulation failure (guest.h; the
 * legacy SSE movdqa/movdqu it emulates itself, MMIO exits then), so each vmovdqa/vmovdqu
 * below is one exit to exitgate's emulator, through the default policy:
 *   loop 1: vmovdqa xmm0, [rsi] from the pattern device, 16 times; every second time rsi is
 *           8 bytes off a 16-byte boundary: #GP(0) (SDM Vol. 2B MOVDQA, VEX.128 needs
 *           16-byte alignment), caught by gp_handler (guest.h) at the instruction; otherwise
 *           the value is stored with vmovdqu to RAM and checked against the pattern.
 *   loop 2: vmovdqu xmm1, [rsi], 16 times, and stored with vmovdqu; every second time CR0.TS
 *           is set first: #NM (SDM Vol. 3A 2.5, CR0.TS), caught by nm_handler here, which
 *           clears TS (clts) and returns to the instruction, which runs again and loads.
 * 64 exits; in a run here 44 of them came from the memo, the #GP and #NM ones did not.
 * Ends with done 0, or:
 *   51 a loop-1 value is not the pattern    52 the #GP count is not 8
 *   53 a loop-2 value is not the pattern    54 the #NM count is not 8
 *   55 the #GP error code is not 0
 */
#include "guest.h"

#define SLOT_NM (SLOTS + 0x80) /* #NM count */

	.code64
	.text
	.globl	_start
_start:
	SET_GATE 13, gp_handler
	SET_GATE 7, nm_handler
	LOAD_IDT
	movq	$0, SLOT_GP
	movq	$0, SLOT_NM
	movq	$0, SLOT_GP_CODE
	PUTS	"memo: start\n"

	/* loop 1: r12 = i, rsi = PATTERN + 16 i (+ 8 when i is odd) */
	xor	%r12d, %r12d
1:	movabs	$PATTERN, %rsi
	mov	%r12, %rax
	shl	$4, %rax
	add	%rax, %rsi
	test	$1, %r12b
	jz	2f
	add	$8, %rsi
	EXPECT_FAULT 3f, 4f
	jmp	3f
2:	movq	$0, SLOT_EXPECT
	movq	$0, SLOT_RESUME
3:	vmovdqa	(%rsi), %xmm0
	test	$1, %r12b
	jnz	5f			/* the #GP went to 4f; getting here is wrong */
	mov	$SCRATCH, %edi
	vmovdqu	%xmm0, (%rdi)
	mov	%r12, %rdi
	shl	$4, %rdi
	mov	$SCRATCH, %esi
	mov	$2, %ecx
	mov	$51, %edx
	call	check_words
4:	inc	%r12
	cmp	$16, %r12
	jb	1b
	cmpq	$8, SLOT_GP
	je	6f
5:	FAIL 52
6:	cmpq	$0, SLOT_GP_CODE
	je	7f
	FAIL 55
7:
	/* loop 2: r12 = i, rsi = PATTERN + 0x200 + 16 i; CR0.TS set when i is odd */
	xor	%r12d, %r12d
1:	movabs	$(PATTERN + 0x200), %rsi
	mov	%r12, %rax
	shl	$4, %rax
	add	%rax, %rsi
	test	$1, %r12b
	jz	2f
	mov	%cr0, %rax
	or	$8, %rax
	mov	%rax, %cr0
2:	vmovdqu	(%rsi), %xmm1
	mov	$(SCRATCH + 0x100), %edi
	vmovdqu	%xmm1, (%rdi)
	mov	%r12, %rdi
	shl	$4, %rdi
	add	$0x200, %rdi
	mov	$(SCRATCH + 0x100), %esi
	mov	$2, %ecx
	mov	$53, %edx
	call	check_words
	inc	%r12
	cmp	$16, %r12
	jb	1b
	cmpq	$8, SLOT_NM
	je	3f
	FAIL 54
3:	PUTS	"memo: ok\n"
	DONE	0

/* #NM: count, clear CR0.TS, return to the instruction (no error code, SDM Vol. 3A 6.15) */
nm_handler:
	incq	SLOT_NM
	clts
	iretq

	GUEST_ROUTINES
