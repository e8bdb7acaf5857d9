/*
 * emulate.S - moves KVM cannot emulate, answered by exitgate's emulator (policies/default.lua).
 *
 * Each value is loaded from the `pattern` device, stored to the `ram` device and to guest
 * RAM, and checked with integer compares: the RAM copy directly, the device copy through an
 * MMIO read that KVM itself emulates (a `cmp` with a memory operand). Loads: x87 m32 and m64
 * (SDM Vol. 2A FLD), VEX vmovdqu ymm (Vol. 2B MOVDQU), EVEX vmovdqu64 ymm and vmovdqu32 xmm
 * without a mask (Vol. 2B VMOVDQU32/64): the EVEX forms this host's KVM can carry the state
 * of (the AVX-512 state does not travel through KVM_GET/SET_XSAVE here).
 *
 * 15 x87/vector instructions: 15 emulation failures (t_run_emulate.sh counts them).
 * Ends with done 0, or the code of the first failed check:
 *   11/12 flds -> RAM / ram device     13/14 fldl -> RAM / ram device
 *   21/22 VEX ymm -> RAM / device      31/32 EVEX ymm -> RAM / device
 *   33/34 EVEX xmm -> RAM / device
 * Pattern offsets are chosen so the x87 values are normal numbers (a signalling NaN would
 * come back quieted from fld/fstp; offset 0x68's low dword is one).
 */
#include "guest.h"

#define OFF_F32	 0x100
#define OFF_F64	 0x108
#define OFF_VEX	 0x120
#define OFF_EY	 0x140
#define OFF_EX	 0x160

	.code64
	.text
	.globl	_start
_start:
	PUTS	"emulate: start\n"
	movabs	$PATTERN, %rax
	movabs	$RAMDEV, %rbx
	mov	$SCRATCH, %ecx

	/* x87 m32: load from the pattern device, store to the device and to RAM */
	flds	OFF_F32(%rax)
	fsts	0x00(%rbx)
	fstps	0x00(%rcx)
	CHECKD	0x00(%rcx), OFF_F32, 11
	CHECKD	0x00(%rbx), OFF_F32, 12

	/* x87 m64 */
	fldl	OFF_F64(%rax)
	fstl	0x08(%rbx)
	fstpl	0x08(%rcx)
	CHECKQ	0x08(%rcx), OFF_F64, 13
	CHECKQ	0x08(%rbx), OFF_F64, 14

	/* VEX.256 (c5 fe 6f / 7f) */
	vmovdqu	OFF_VEX(%rax), %ymm1
	vmovdqu	%ymm1, 0x40(%rbx)
	vmovdqu	%ymm1, 0x40(%rcx)
	CHECKQN	0x40, %rcx, OFF_VEX, 4, 21
	CHECKQN	0x40, %rbx, OFF_VEX, 4, 22

	/* EVEX.256, no mask, ymm0-15 */
	{evex} vmovdqu64 OFF_EY(%rax), %ymm2
	{evex} vmovdqu64 %ymm2, 0x80(%rbx)
	{evex} vmovdqu64 %ymm2, 0x80(%rcx)
	CHECKQN	0x80, %rcx, OFF_EY, 4, 31
	CHECKQN	0x80, %rbx, OFF_EY, 4, 32

	/* EVEX.128 */
	{evex} vmovdqu32 OFF_EX(%rax), %xmm3
	{evex} vmovdqu32 %xmm3, 0xc0(%rbx)
	{evex} vmovdqu32 %xmm3, 0xc0(%rcx)
	CHECKQN	0xc0, %rcx, OFF_EX, 2, 33
	CHECKQN	0xc0, %rbx, OFF_EX, 2, 34

	PUTS	"emulate: ok\n"
	DONE	0

	GUEST_ROUTINES
