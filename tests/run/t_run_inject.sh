#!/usr/bin/env bash
# t_run_inject.sh - the inject verdict on a real guest: five instructions KVM cannot emulate
# (x87, VEX, EVEX loads from the pattern device, fld1, a VEX store to RAM), each answered with
# xg.inject "UD" by inject.lua. guests/inject.S catches each #UD in its own IDT, checks that
# the frame points at the failing instruction, and ends with done 0 when all five came.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/stats.json" "$(cfg inject.yaml)"
ok $([ $rc = 0 ]; echo $?) "the guest ends with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
has "$OUT" '^inject\| inject: 0000000000000005$'; ok $? "the guest's #UD handler ran five times"
! has "$OUT" 'FAIL|exception at'; ok $? "every #UD frame pointed at the failing instruction"
s="$T/stats.json"
got=$(js "$s" '$d->{guests}[0]{exits}{internal_error}')
[ "$got" = 5 ]; ok $? "stats: 5 internal_error exits (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{inject}')
[ "$got" = 5 ]; ok $? "stats: 5 inject verdicts (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{emulate} // 0')
[ "$got" = 0 ]; ok $? "stats: nothing emulated (got '$got')"
[ "$(js "$s" '$d->{guests}[0]{end}')" = done ]; ok $? "stats: end is done"
finish
