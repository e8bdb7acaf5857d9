/*
 * code.S - ends through the done port with a 4-byte write of 0x1207: the done device keeps
 * all of it, so the guest's code is 4615, not its low byte 7 (a guest failure: the run's
 * status is 1; a code cut to its low byte could read as 0, success).
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
