/*
 * msr.S - MSR exits answered by the policy (msr.lua), and #GP for an MSR it refuses.
 *
 *   0x4b564d99  unknown to KVM: the policy reads 0x1122334455667788 (xg.msr(value)).
 *   0x4b564d9a  unknown: a wrmsr the policy keeps (e.data), then a rdmsr that reads it back.
 *   0x4b564d9b  unknown: the policy injects #GP(0) for rdmsr and wrmsr; gp_handler
 *               (guest.h) checks the frame points at the instruction (a fault: RDMSR/WRMSR
 *               raise #GP before doing anything, SDM Vol. 2B RDMSR), counts, goes on.
 *   0x1a0       IA32_MISC_ENABLE: KVM answers it itself (1 here), but msr.yaml traps it
 *               (vm.msr_trap), so the policy's 0x5a5a0001 must come back.
 * Ends with done 0, or: 51/52 rdmsr value (eax/edx), 53/54 the written value read back,
 * 55 not two #GP, 56 #GP error code not 0, 57/58 the trapped MSR's value (eax/edx).
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	SET_GATE 13, gp_handler
	LOAD_IDT
	movq	$0, SLOT_GP
	PUTS	"msr: start\n"

	mov	$0x4b564d99, %ecx
	rdmsr
	cmp	$0x55667788, %eax
	jne	f51
	cmp	$0x11223344, %edx
	jne	f52

	mov	$0x4b564d9a, %ecx
	mov	$0xcafef00d, %eax
	mov	$0x8badbeef, %edx
	wrmsr
	xor	%eax, %eax
	xor	%edx, %edx
	rdmsr
	cmp	$0xcafef00d, %eax
	jne	f53
	cmp	$0x8badbeef, %edx
	jne	f54

	mov	$0x4b564d9b, %ecx
	EXPECT_FAULT 1f, 2f
1:	rdmsr
2:	EXPECT_FAULT 1f, 2f
1:	wrmsr
2:	cmpq	$2, SLOT_GP
	jne	f55
	cmpq	$0, SLOT_GP_CODE
	jne	f56

	mov	$0x1a0, %ecx
	rdmsr
	cmp	$0x5a5a0001, %eax
	jne	f57
	test	%edx, %edx
	jne	f58

	PUTS	"msr: ok\n"
	DONE	0

f51:	FAIL 51
f52:	FAIL 52
f53:	FAIL 53
f54:	FAIL 54
f55:	FAIL 55
f56:	FAIL 56
f57:	FAIL 57
f58:	FAIL 58

	GUEST_ROUTINES
