/*
 * halt.S - says goodbye and halts without writing the done port: the run ends with the
 * vCPU "halted" and status 0.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"halt: bye\n"
	hlt

	GUEST_ROUTINES
