/*
 * pmem_smp.S - two vCPUs of a sw_protected VM converting memory at the same time
 * (share/pmem_smp.yaml: vcpus: 2). Each vCPU i (RDI) runs ROUNDS rounds of:
 *   its own page P = 0x600000 + i * 4K (disjoint): write while shared, MAP_GPA_RANGE to
 *   private (reads 0, a fresh guest_memfd page; write, read back), to shared (reads 0);
 *   then two pages from O = 0x610000 + i * 4K to private and back to shared: vCPU 0's
 *   0x610000..0x611fff and vCPU 1's 0x611000..0x612fff overlap at 0x611000.
 * Every answer must be 0 and every read what the ABI says: a lost or mixed-up conversion
 * fails the vCPU's check (code 10 + step, + 10 for vCPU 1; 30.. for the end checks) through the done port. Then
 * each vCPU leaves a known end state: vCPU 0 makes P0 private and writes its marker there,
 * vCPU 1 writes its marker to P1 (shared); both count themselves in at BARRIER (lock inc)
 * and vCPU 1 halts. vCPU 0 waits for both and checks, from its side, what every page holds
 * (P0: its marker, private; P1: vCPU 1's marker; the overlapping range: zeros, shared since
 * both vCPUs' last conversions), then ends with done 0. t_pmem_run.c checks the VMM counted
 * every conversion and that the VMM's attributes at the end are P0 private, nothing else.
 */
#include "../../../run/guests/guest.h"

#define ROUNDS	   16
#define BARRIER	   0x620000 /* shared: the vCPUs that finished their rounds */
#define HC_MAP	   12 /* KVM_HC_MAP_GPA_RANGE */
#define TO_PRIVATE 0x10

/* MAP reg_gpa, npages, attrs: the hypercall, fail with code unless it answers 0 */
.macro MAP gpa, npages, attrs, code
	mov	$HC_MAP, %eax
	mov	\gpa, %rbx
	mov	$\npages, %ecx
	mov	$\attrs, %edx
	vmmcall
	test	%rax, %rax
	jz	.Lok\@
	mov	$\code, %edi
	jmp	vfail
.Lok\@:
.endm

/* IS value_reg, code: fail unless the qword at (%r12) is value_reg */
.macro IS value, code
	cmp	(%r12), \value
	je	.Lok\@
	mov	$\code, %edi
	jmp	vfail
.Lok\@:
.endm

	.code64
	.text
	.globl	_start
_start:
	mov	%edi, %r15d		/* vCPU index */
	mov	%r15, %r12
	shl	$12, %r12
	lea	0x610000(%r12), %r13	/* r13: O */
	add	$0x600000, %r12		/* r12: P */
	movabs	$0x0101010101010101, %r14
	lea	1(%r15), %rax
	imul	%rax, %r14		/* r14: this vCPU's marker */
	mov	$ROUNDS, %ebp
round:
	mov	%r14, (%r12)		/* shared */
	IS	%r14, 10
	MAP	%r12, 1, TO_PRIVATE, 11
	xor	%r11d, %r11d
	IS	%r11, 12		/* a fresh private page */
	mov	%r14, (%r12)
	IS	%r14, 13
	MAP	%r12, 1, 0, 14
	xor	%r11d, %r11d
	IS	%r11, 15		/* the shared side was dropped */
	MAP	%r13, 2, TO_PRIVATE, 16
	MAP	%r13, 2, 0, 17
	dec	%ebp
	jnz	round
	test	%r15d, %r15d
	jnz	vcpu1_end
	MAP	%r12, 1, TO_PRIVATE, 18	/* vCPU 0: P0 ends private, with its marker */
	mov	%r14, (%r12)
	IS	%r14, 19
	PUTS	"pmem_smp: vCPU 0 ok\n"
	lock incq BARRIER
1:	pause
	cmpq	$2, BARRIER
	jne	1b
	/* both vCPUs are done converting: every page as the ABI says */
	movabs	$0x0202020202020202, %rax
	cmp	0x601000, %rax
	je	2f
	mov	$30, %edi		/* P1: vCPU 1's marker, written while shared */
	jmp	vfail
2:	IS	%r14, 31		/* P0: still this vCPU's private data */
	xor	%eax, %eax
	mov	$0x610000, %ecx		/* the overlapping range: shared, zeros */
3:	cmp	(%rcx), %rax
	je	4f
	mov	$32, %edi
	jmp	vfail
4:	add	$8, %rcx
	cmp	$0x613000, %ecx
	jne	3b
	PUTS	"pmem_smp: end state ok\n"
	DONE	0

vcpu1_end:
	mov	%r14, (%r12)		/* P1 ends shared, with vCPU 1's marker */
	IS	%r14, 18
	lock incq BARRIER
1:	hlt
	jmp	1b

/* vfail: code in edi, + 10 for vCPU 1 */
vfail:
	test	%r15d, %r15d
	jz	2f
	add	$10, %edi
2:	jmp	fail

	GUEST_ROUTINES
