/*
 * pmem_real.S - a real-mode guest of a sw_protected VM (share/pmem_real.yaml: mode: real,
 * load 0x10000): MAP_GPA_RANGE of the page at 0x40000 to private and back to shared, with
 * its reads checked after each conversion, then a request the policy refuses. Outside long
 * mode KVM takes the hypercall's arguments from the low 32 bits (x86/hypercalls.rst: EBX,
 * ECX, EDX) and the exit's flags have bit 0 (long mode) clear. No absolute addresses in the
 * code (it is linked like the long-mode guests but loaded at 0x10000): it reports through
 * the done port only, 0 when every check passed, else the failed check's code.
 */
#define DONE_PORT 0x501
#define HC_MAP	  12

.macro MAP gpa, attrs
	mov	$HC_MAP, %eax
	mov	$\gpa, %ebx
	mov	$1, %ecx
	mov	$\attrs, %edx
	vmmcall
.endm

.macro CHECK code
	je	.Lok\@
	mov	$\code, %al
	jmp	done
.Lok\@:
.endm

	.code16
	.text
	.globl	_start
_start:
	mov	$0x4000, %ax
	mov	%ax, %ds		/* ds:0 = 0x40000 */
	movl	$0xaaaaaaaa, 0		/* shared */
	cmpl	$0xaaaaaaaa, 0
	CHECK	10
	MAP	0x40000, 0x10		/* to private */
	test	%eax, %eax
	CHECK	11
	cmpl	$0, 0			/* a fresh guest_memfd page */
	CHECK	12
	movl	$0x11111111, 0
	cmpl	$0x11111111, 0
	CHECK	13
	MAP	0x40000, 0		/* to shared */
	test	%eax, %eax
	CHECK	14
	cmpl	$0, 0			/* the shared side was dropped */
	CHECK	15
	MAP	0x30000, 0x10		/* outside the allowed range: -KVM_EPERM */
	cmp	$0xffffffff, %eax
	CHECK	16
	xor	%al, %al
done:
	mov	$DONE_PORT, %dx
	out	%al, %dx
1:	hlt
	jmp	1b
