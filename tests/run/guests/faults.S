/*
 * faults.S - the same x87 load from the pattern device 20 times, then done 0: material for
 * policies that misbehave. Answered with xg.resume() (storm.lua) the first one repeats at the
 * same RIP until vm.storm stops the guest; answered with a dump and a skip (dumpspam.lua)
 * each one asks for a dump, more than dump_max allows.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"faults: start\n"
	movabs	$PATTERN, %rax
	mov	$20, %ecx
1:	flds	(%rax)
	dec	%ecx
	jnz	1b
	PUTS	"faults: end\n"
	DONE	0

	GUEST_ROUTINES
