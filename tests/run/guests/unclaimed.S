/*
 * unclaimed.S - accesses no device claims: they go to the policy (unclaimed.lua, handlers io
 * and mmio), which checks each exit's fields and answers resume. A read nobody answers
 * returns all-ones, as from a floating bus (what exitgate's emulator does for an access that
 * reaches neither RAM nor a device, core/action/emulate_x86.c).
 *   21 MMIO read not all-ones   22 `in` not 0xff   23 the registers around them changed
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"unclaimed: start\n"
	mov	$0xd0200000, %ecx	/* no device there */
	mov	$0x11111111, %ebx
	mov	$0x33333333, %esi
	mov	(%rcx), %ebx		/* read, 4 bytes */
	cmp	$0xffffffff, %ebx
	je	1f
	FAIL	21
1:	mov	$0x22, %al
	in	$0x98, %al		/* no device on port 0x98 */
	cmp	$0xff, %al
	je	2f
	FAIL	22
2:	movl	$0xa5a5a5a5, 8(%rcx)	/* write, 4 bytes */
	mov	$0x5a, %al
	out	%al, $0x97
	cmp	$0x33333333, %esi
	jne	f23
	cmp	$0xd0200000, %ecx
	jne	f23
	PUTS	"unclaimed: ok\n"
	DONE	0
f23:	FAIL	23

	GUEST_ROUTINES
