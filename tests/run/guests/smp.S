/*
 * smp.S - two vCPUs emulating at the same time (smp.yaml: vm.vcpus: 2).
 *
 * Each vCPU (RDI = its index) runs ROUNDS rounds of: load its own values from the pattern
 * device (x87 m32, VEX ymm, EVEX ymm; vCPU i reads from offset 0x100 + i * 0x200) into its
 * own registers, store them to its own RAM buffer (SCRATCH + i * 0x1000), check them. The
 * buffers are cleared before each round, so a round that stores nothing fails. vCPU 1 then
 * raises SLOT_FLAG and halts; vCPU 0 waits for the flag (bounded) and ends the guest with
 * done 0. A vCPU whose register state were mixed up with the other's fails its checks.
 *   60 RSI is not 2 vCPUs
 *   61+10*i / 62+10*i / 63+10*i  vCPU i: x87 / VEX / EVEX value wrong
 *   69 vCPU 1 never raised the flag
 */
#include "guest.h"

#define ROUNDS 8

	.code64
	.text
	.globl	_start
_start:
	cmp	$2, %esi
	je	1f
	FAIL	60
1:	mov	%edi, %r15d		/* vCPU index */
	test	%r15d, %r15d
	jnz	2f
	PUTS	"smp: vCPU 0 up\n"
2:	mov	%r15, %r14		/* r14: this vCPU's pattern offset */
	shl	$9, %r14
	add	$0x100, %r14
	movabs	$PATTERN, %r13
	add	%r14, %r13		/* r13: its pattern address */
	mov	%r15, %r12
	shl	$12, %r12
	add	$SCRATCH, %r12		/* r12: its RAM buffer */
	mov	$ROUNDS, %ebp

round:
	/* clear the buffer */
	xor	%eax, %eax
	mov	%r12, %rdi
	mov	$16, %ecx
	rep stosq

	flds	(%r13)
	fstps	(%r12)
	vmovdqu	0x20(%r13), %ymm4
	vmovdqu	%ymm4, 0x20(%r12)
	{evex} vmovdqu64 0x40(%r13), %ymm5
	{evex} vmovdqu64 %ymm5, 0x40(%r12)

	mov	%r14, %rdi
	call	pattern_word
	cmp	(%r12), %eax
	mov	$61, %edx
	jne	vfail

	mov	%r14, %rdi
	add	$0x20, %rdi
	lea	0x20(%r12), %rsi
	mov	$4, %ecx
	mov	$62, %edx
	call	check_words_i

	mov	%r14, %rdi
	add	$0x40, %rdi
	lea	0x40(%r12), %rsi
	mov	$4, %ecx
	mov	$63, %edx
	call	check_words_i

	dec	%ebp
	jnz	round

	test	%r15d, %r15d
	jnz	vcpu1_end

	/* vCPU 0: wait for vCPU 1, then end the guest */
	mov	$3000000, %ecx		/* seconds at ~1 us per emulated instruction */
3:	cmpq	$1, SLOT_FLAG
	je	4f
	dec	%ecx
	jnz	3b
	FAIL	69
4:	PUTS	"smp: both vCPUs ok\n"
	DONE	0

vcpu1_end:
	movq	$1, SLOT_FLAG
5:	hlt
	jmp	5b

/* check_words with the failure code adjusted by the vCPU index (edx + 10 * r15). */
check_words_i:
	imul	$10, %r15d, %eax
	add	%eax, %edx
	jmp	check_words
vfail:
	imul	$10, %r15d, %eax
	add	%eax, %edx
	mov	%edx, %edi
	jmp	fail

	GUEST_ROUTINES
