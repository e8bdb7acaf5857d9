/*
 * reload.S - reads an unknown MSR in a loop until its value changes from 1 to 2, which
 * happens when the test rewrites the policy (reload.lua) while the guest runs. Counts its
 * reads and prints the count, so the test can compare it with the x86_rdmsr exits the VMM
 * counted: a read lost or answered twice across the reload shows up as a difference.
 *   81 a value other than 1 or 2 (or a nonzero high half)
 *   82 still 1 after LIMIT reads: the new policy never took over
 */
#include "guest.h"

#define LIMIT 400000

	.code64
	.text
	.globl	_start
_start:
	PUTS	"reload: start\n"
	xor	%r12d, %r12d		/* reads */
	mov	$LIMIT, %r13d
1:	mov	$0x4b564d99, %ecx
	rdmsr
	inc	%r12
	test	%edx, %edx
	jnz	f81
	cmp	$2, %eax
	je	3f
	cmp	$1, %eax
	jne	f81
	cmp	$1, %r12
	jne	2f
	PUTS	"reload: reads 1\n"	/* the old policy answers: the test may rewrite it */
2:	dec	%r13d
	jnz	1b
	FAIL	82
3:	PUTS	"reload: reads "
	mov	%r12, %rax
	call	puthex
	PUTS	"\n"
	DONE	0
f81:	FAIL	81

	GUEST_ROUTINES
