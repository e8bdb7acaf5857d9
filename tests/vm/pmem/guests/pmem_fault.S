/*
 * pmem_fault.S - a long-mode guest of a sw_protected VM whose page PLAIN lives in a memslot
 * without guest_memfd and starts private (share/pmem_fault.yaml: vm.plain, vm.private). Its
 * store there cannot be served: KVM_RUN fails EFAULT with KVM_EXIT_MEMORY_FAULT (flags
 * PRIVATE, the page; api.rst 5), the policy converts the page to shared, KVM_RUN again
 * completes the store. The guest checks what it reads, then asks MAP_GPA_RANGE(PLAIN ->
 * shared) so that the policy logs what the host sees there (t_pmem_run.c checks it). Then
 * the same with no memslot at all: a private page of the ram device's window (RAMDEV).
 */
#include "../../../run/guests/guest.h"

#define PLAIN	0x500000
#define HC_MAP	12 /* KVM_HC_MAP_GPA_RANGE */

	.code64
	.text
	.globl	_start
_start:
	PUTS	"pmem_fault: store to the private page\n"
	movabs	$0x3333333333333333, %rax
	mov	%rax, PLAIN			/* exit 39, converted, then done */
	cmp	PLAIN, %rax
	je	1f
	FAIL	10
1:	movabs	$0x4444444444444444, %rax	/* the second page of the slot: shared */
	mov	%rax, PLAIN + 0x1000
	cmp	PLAIN + 0x1000, %rax
	je	2f
	FAIL	11
2:	mov	$HC_MAP, %eax
	mov	$PLAIN, %rbx
	mov	$1, %ecx
	xor	%edx, %edx			/* to shared (it is already) */
	vmmcall
	test	%rax, %rax
	jz	3f
	FAIL	12
3:	movabs	$0x3333333333333333, %rax	/* the store survived */
	cmp	PLAIN, %rax
	je	4f
	FAIL	13
4:	PUTS	"pmem_fault: ok\n"
	/* No memslot at all: the ram device's first page starts private (vm.private); the
	 * store exits memory_fault, the policy converts the page to shared, and the store
	 * then goes to the device model as MMIO; the load reads it back from there. */
	mov	$RAMDEV, %ecx
	movabs	$0x5555555555555555, %rax
	mov	%rax, (%rcx)			/* exit 39 (no memslot), converted, MMIO */
	cmp	(%rcx), %rax
	je	5f
	FAIL	14
5:	PUTS	"pmem_fault: device ok\n"
	DONE	0

	GUEST_ROUTINES
