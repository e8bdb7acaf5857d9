/*
 * pmem_refuse.S - refusals (share/pmem_refuse.yaml: policies/confidential.lua with
 * refuse_fault: GP, allowing 0x400000..0x400fff only). PLAIN is a private page of a memslot
 * without guest_memfd, outside the allowed range: the guest's store there exits memory_fault
 * (api.rst 5, KVM_EXIT_MEMORY_FAULT), the policy refuses with #GP(0) injected, and the
 * guest's #GP handler sees it at the store (SDM Vol. 3A 6.15, interrupt 13: a fault, RIP on
 * the instruction) and goes on after it. Then a MAP_GPA_RANGE outside the range answered
 * -KVM_EPERM, and one inside converted (0). t_pmem_run.c checks the VMM's attributes are
 * unchanged by the refusals and reads the dump of the first one back.
 */
#include "../../../run/guests/guest.h"

#define PLAIN	   0x500000
#define ALLOWED	   0x400000
#define HC_MAP	   12 /* KVM_HC_MAP_GPA_RANGE */
#define TO_PRIVATE 0x10
#define EPERM	   1

	.code64
	.text
	.globl	_start
_start:
	SET_GATE 13, gp_handler
	LOAD_IDT
	PUTS	"pmem_refuse: store to a private page outside the allowed range\n"
	EXPECT_FAULT store, after
	movabs	$0x6666666666666666, %rax
store:	mov	%rax, PLAIN			/* exit 39, refused: #GP */
	FAIL	10				/* the store was not refused */
after:	cmpq	$1, SLOT_GP
	je	1f
	FAIL	11
1:	cmpq	$0, SLOT_GP_CODE
	je	2f
	FAIL	12
2:	mov	$HC_MAP, %eax			/* outside: refused, -KVM_EPERM */
	mov	$PLAIN, %ebx
	mov	$1, %ecx
	xor	%edx, %edx
	vmmcall
	cmp	$-EPERM, %rax
	je	3f
	FAIL	13
3:	mov	$HC_MAP, %eax			/* inside: converted */
	mov	$ALLOWED, %ebx
	mov	$1, %ecx
	mov	$TO_PRIVATE, %edx
	vmmcall
	test	%rax, %rax
	jz	4f
	FAIL	14
4:	PUTS	"pmem_refuse: ok\n"
	DONE	0

	GUEST_ROUTINES
