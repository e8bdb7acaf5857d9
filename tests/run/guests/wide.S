/*
 * wide.S - ends with a done code that does not fit a byte: a 4-byte write of 0x100 to the
 * done port. It is a failure code; cut to its low byte it read as 0, "every guest ended well".
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"wide: done code 0x100\n"
	mov	$DONE_PORT, %dx
	mov	$0x100, %eax
	out	%eax, %dx
	hlt

	GUEST_ROUTINES
