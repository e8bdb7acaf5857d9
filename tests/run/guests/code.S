/*
 * code.S - ends through the done port with a 4-byte write of 0x1207: the done device keeps
 * the low byte, so the guest's code is 7 (a guest failure: the run's status is 1).
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"code: 7\n"
	mov	$0x1207, %eax
	mov	$DONE_PORT, %dx
	out	%eax, %dx
	hlt

	GUEST_ROUTINES
