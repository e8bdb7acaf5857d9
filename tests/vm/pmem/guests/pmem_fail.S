/*
 * pmem_fail.S - conversions whose steps fail on the host (share/pmem_fail.yaml, run by
 * t_pmem_run.c with XG_KVM_FAIL_CONVERT=attributes:1,discard:2,discard:4,attributes:5: the
 * VMM's test hook makes those steps of those conversions fail with EIO, core/backend/kvm/
 * kvm.c). Each failed MAP_GPA_RANGE is answered -KVM_EFAULT and must leave the page as it
 * was, attributes and data: the guest checks what it reads after each one.
 *   1. to private, step 1 (KVM_SET_MEMORY_ATTRIBUTES) fails: still shared, 0xaa.. intact
 *   2. to private, step 2 (madvise of the shared side) fails: attributes put back, 0xaa..
 *   3. to private: done, reads 0 (a fresh guest_memfd page); writes 0x11..
 *   4. to shared, step 2 (punching the guest_memfd) fails: still private, 0x11.. intact
 *   5. to shared, step 1 fails: still private, 0x11..
 *   6. DATA (private, 0x11..) and DATA2 (shared, 0xbb..) together to shared, step 2 fails:
 *      the attributes go back page by page, DATA private and DATA2 shared, both intact
 */
#include "../../../run/guests/guest.h"

#define DATA	   0x400000
#define DATA2	   0x401000 /* the page after DATA */
#define HC_MAP	   12 /* KVM_HC_MAP_GPA_RANGE */
#define TO_PRIVATE 0x10
#define EFAULT	   14 /* -KVM_EFAULT: the host could not carry it out */

/* MAP attrs, expected answer, code[, npages] */
.macro MAP attrs, ret, code, npages=1
	mov	$HC_MAP, %eax
	mov	$DATA, %ebx
	mov	$\npages, %ecx
	mov	$\attrs, %edx
	vmmcall
	cmp	$\ret, %rax
	je	.Lok\@
	FAIL	\code
.Lok\@:
.endm

/* PAGE_IS value, code */
.macro PAGE_IS value, code
	movabs	$\value, %rax
	cmp	DATA, %rax
	je	.Lok\@
	FAIL	\code
.Lok\@:
.endm

	.code64
	.text
	.globl	_start
_start:
	movabs	$0xaaaaaaaaaaaaaaaa, %rax
	mov	%rax, DATA
	MAP	TO_PRIVATE, -EFAULT, 10		/* 1: step 1 fails */
	PAGE_IS	0xaaaaaaaaaaaaaaaa, 11
	MAP	TO_PRIVATE, -EFAULT, 12		/* 2: step 2 fails */
	PAGE_IS	0xaaaaaaaaaaaaaaaa, 13
	MAP	TO_PRIVATE, 0, 14		/* 3: done */
	PAGE_IS	0, 15
	movabs	$0x1111111111111111, %rax
	mov	%rax, DATA
	MAP	0, -EFAULT, 16			/* 4: step 2 fails */
	PAGE_IS	0x1111111111111111, 17
	MAP	0, -EFAULT, 18			/* 5: step 1 fails */
	PAGE_IS	0x1111111111111111, 19
	movabs	$0xbbbbbbbbbbbbbbbb, %rax
	mov	%rax, DATA2			/* shared */
	MAP	0, -EFAULT, 20, 2		/* 6: both pages, step 2 fails */
	PAGE_IS	0x1111111111111111, 21		/* DATA: private again, intact */
	movabs	$0xbbbbbbbbbbbbbbbb, %rax
	cmp	DATA2, %rax			/* DATA2: shared again, intact */
	je	1f
	FAIL	22
1:
	PUTS	"pmem_fail: every failed conversion left the page as it was\n"
	DONE	0

	GUEST_ROUTINES
