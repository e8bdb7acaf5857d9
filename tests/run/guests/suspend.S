/*
 * suspend.S - an `out` to a port no device claims (UNCLAIMED): the exit goes to the policy's
 * io handler, which suspends the vCPU (suspend.lua). When `exitgate ctl ... resume` lets it
 * go on, the guest says so and ends with done 0; `ctl stop` ends it there instead.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"suspend: before\n"
	mov	$0x5a, %al
	out	%al, $UNCLAIMED
	PUTS	"suspend: after\n"
	DONE	0

	GUEST_ROUTINES
