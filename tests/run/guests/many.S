/*
 * many.S - many vCPUs at once (many.yaml: vm.vcpus: 16; t_run_many.sh also runs 40).
 *
 * Every vCPU (RDI = its index, RSI = how many there are) records its RSP in a table, loads
 * its own pattern word with an SSE movq from the pattern device and stores it to RAM (two
 * emulation failures the policy emulates, on every vCPU's thread at once), checks it, then counts itself in with a
 * locked increment and halts. vCPU 0 waits (bounded) until all RSI have counted in, checks
 * that each vCPU had its own 64K stack below the previous one's, prints how many vCPUs came
 * up and ends the guest with done 0.
 *   70 a vCPU index not below RSI
 *   71 a vCPU's load read a wrong value
 *   72 not every vCPU counted in
 *   73 two vCPUs' stacks are not 64K apart
 */
#include "guest.h"

#define RSP_TABLE (SCRATCH + 0x10000) /* qword per vCPU: its RSP at entry */
#define VALUES	  (SCRATCH + 0x20000) /* qword per vCPU: what its load stored */
#define COUNT	  (SLOTS + 0x48)      /* vCPUs counted in */

	.code64
	.text
	.globl	_start
_start:
	cmp	%rsi, %rdi
	jb	1f
	FAIL	70
1:	mov	%rdi, %r15		/* index */
	mov	%rsi, %r14		/* vCPUs */
	mov	%rsp, RSP_TABLE(,%r15,8)

	/* SSE load of the pattern word at offset 8 * (index % 512), stored to RAM */
	mov	%r15, %r13
	and	$511, %r13
	shl	$3, %r13
	movabs	$PATTERN, %rax
	add	%r13, %rax
	lea	VALUES(,%r15,8), %rbx
	movq	$0, (%rbx)
	movq	(%rax), %xmm1
	movq	%xmm1, (%rbx)
	mov	%r13, %rdi
	call	pattern_word
	cmp	(%rbx), %rax
	je	2f
	FAIL	71
2:	lock incq COUNT
	test	%r15, %r15
	jz	vcpu0
3:	hlt
	jmp	3b

vcpu0:
	mov	$3000000, %ecx		/* seconds at ~1 us per emulated instruction */
4:	cmp	COUNT, %r14
	je	5f
	dec	%ecx
	jnz	4b
	FAIL	72
	/* every vCPU i: RSP == vCPU 0's RSP - i * 64K */
5:	mov	RSP_TABLE, %rdx
	xor	%ecx, %ecx
6:	mov	%rcx, %rax
	shl	$16, %rax
	neg	%rax
	add	%rdx, %rax
	cmp	RSP_TABLE(,%rcx,8), %rax
	je	7f
	FAIL	73
7:	inc	%rcx
	cmp	%r14, %rcx
	jb	6b
	PUTS	"many: "
	mov	%r14, %rax
	call	puthex
	PUTS	" vCPUs up, each on its own stack\n"
	DONE	0

	GUEST_ROUTINES
