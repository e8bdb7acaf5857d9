/*
 * pmem_convert.S - a long-mode guest of a sw_protected VM (pmem lane, t_pmem_run.c with
 * share/pmem.yaml and share/pmem.lua): it converts one page with KVM_HC_MAP_GPA_RANGE to
 * private, to shared and to private again, checking what it sees after each conversion, then
 * asks for conversions the VMM must refuse (policy), that reach past RAM or lie wholly past it
 * (the VMM answers -KVM_EINVAL before any ioctl), one that wraps (the VMM again), and
 * malformed ones (npages 0, unaligned) that KVM answers itself. The hypercall (x86/hypercalls.rst 8): RAX = 12,
 * RBX = gpa, RCX = npages, RDX = attributes (0x10 = KVM_MAP_GPA_RANGE_ENCRYPTED: private;
 * 4K pages); the VMM's answer comes back in RAX. The nested KVM is KVM_AMD: vmmcall.
 * What the host sees at each request is checked by the policy's log (t_pmem_run.c).
 */
#include "../../../run/guests/guest.h"

#define DATA	   0x400000 /* the page converted back and forth */
#define REFUSED	   0x300000 /* outside the policy's allowed range */
#define HC_MAP	   12	    /* KVM_HC_MAP_GPA_RANGE */
#define TO_PRIVATE 0x10
#define TO_SHARED  0
/* include/uapi/linux/kvm_para.h, as the guest sees them: -KVM_EPERM, -KVM_EINVAL */
#define EPERM	   1
#define EINVAL	   22

/* MAP gpa, npages, attrs: the hypercall; the answer in RAX */
.macro MAP gpa, npages, attrs
	mov	$HC_MAP, %eax
	mov	$\gpa, %rbx
	mov	$\npages, %rcx
	mov	$\attrs, %rdx
	vmmcall
.endm

/* EXPECT value, code: fail with code unless RAX == value (sign-extended imm32) */
.macro EXPECT value, code
	cmp	$\value, %rax
	je	.Lok\@
	FAIL	\code
.Lok\@:
.endm

/* PAGE_IS value, code: fail with code unless the qword at DATA is value */
.macro PAGE_IS value, code
	movabs	$\value, %rax
	cmp	DATA, %rax
	je	.Lok\@
	FAIL	\code
.Lok\@:
.endm

.macro PAGE_SET value
	movabs	$\value, %rax
	mov	%rax, DATA
.endm

	.code64
	.text
	.globl	_start
_start:
	PUTS	"pmem: shared write\n"
	PAGE_SET 0xaaaaaaaaaaaaaaaa		/* shared: the host sees it */
	PAGE_IS	0xaaaaaaaaaaaaaaaa, 10
	MAP	DATA, 1, TO_PRIVATE
	EXPECT	0, 11
	PAGE_IS	0, 12				/* a fresh guest_memfd page */
	PAGE_SET 0x1111111111111111		/* private: the host must not see it */
	PAGE_IS	0x1111111111111111, 13
	PUTS	"pmem: private write\n"
	MAP	DATA, 1, TO_SHARED
	EXPECT	0, 14
	PAGE_IS	0, 15				/* the shared side was dropped at the first
						   conversion: neither 0xaa.. nor 0x11.. */
	PAGE_SET 0x2222222222222222
	PAGE_IS	0x2222222222222222, 16
	MAP	DATA, 1, TO_PRIVATE
	EXPECT	0, 17
	PAGE_IS	0, 18				/* the hole punched at to-shared: 0x11.. gone */
	PUTS	"pmem: conversions ok\n"

	MAP	REFUSED, 1, TO_PRIVATE		/* the policy refuses: -KVM_EPERM */
	EXPECT	-EPERM, 19
	MAP	0xfff000, 2, TO_PRIVATE		/* reaches past the end of RAM (16M) */
	EXPECT	-EINVAL, 20
	MAP	DATA, 0, TO_PRIVATE		/* npages 0: KVM answers itself */
	EXPECT	-EINVAL, 21
	MAP	DATA + 0x800, 1, TO_PRIVATE	/* unaligned: KVM answers itself */
	EXPECT	-EINVAL, 22
	MAP	0xfffffffffffff000, 2, TO_PRIVATE /* wraps: KVM checks only that the frame
						     number does not; the VMM answers, whatever
						     the policy says */
	EXPECT	-EINVAL, 24
	MAP	0x2000000, 1, TO_PRIVATE	/* wholly past RAM: the VMM, before any ioctl */
	EXPECT	-EINVAL, 25
	PAGE_IS	0, 23				/* none of them changed the page */
	PUTS	"pmem: refusals ok\n"
	DONE	0

	GUEST_ROUTINES
