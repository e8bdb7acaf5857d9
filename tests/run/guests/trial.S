/*
 * trial.S - the smallest guest: says it runs and ends with done 0. tests/run/lib.sh runs it
 * first, to tell "no usable /dev/kvm here" (a SKIP) from a failure.
 */
#include "guest.h"

	.code64
	.text
	.globl	_start
_start:
	PUTS	"trial: up\n"
	DONE	0

	GUEST_ROUTINES
