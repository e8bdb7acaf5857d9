#!/usr/bin/env bash
# t_run_unclaimed.sh - port and MMIO accesses that no device claims reach the policy's io and
# mmio handlers with the guest's address, direction, size and data (unclaimed.lua checks
# them and stops the guest on a mismatch); answered with resume, reads return all-ones.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/stats.json" "$(cfg unclaimed.yaml)"
ok $([ $rc = 0 ]; echo $?) "the guest ends with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
has "$OUT" '^unclaimed\| unclaimed: ok$'; ok $? "reads of nothing gave all-ones, registers kept"
s="$T/stats.json"
[ "$(js "$s" '$d->{guests}[0]{exits}{mmio}')" = 2 ]; ok $? "stats: 2 MMIO exits"
[ "$(js "$s" '$d->{guests}[0]{engine}{exits}')" = 4 ]
ok $? "stats: exactly the 4 unclaimed accesses went to the engine, device accesses did not"
[ "$(js "$s" '$d->{guests}[0]{engine}{verdicts}{resume}')" = 4 ]; ok $? "stats: 4 resume verdicts"
finish
