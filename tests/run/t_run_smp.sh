#!/usr/bin/env bash
# t_run_smp.sh - two vCPUs (vm.vcpus: 2) emulating x87, VEX and EVEX loads at the same time,
# each from its own part of the pattern device into its own registers (guests/smp.S): both
# check what they stored, vCPU 1 halts, vCPU 0 waits for it and ends the guest with done 0.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/stats.json" "$(cfg smp.yaml)"
ok $([ $rc = 0 ]; echo $?) "the guest ends with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
has "$OUT" '^smp\| smp: both vCPUs ok$'; ok $? "both vCPUs' checks passed"
s="$T/stats.json"
[ "$(js "$s" 'scalar @{$d->{guests}[0]{vcpus}}')" = 2 ]; ok $? "stats: two vCPUs"
[ "$(js "$s" '$d->{guests}[0]{vcpus}[1]{end}')" = halted ]; ok $? "stats: vCPU 1 halted"
[ "$(js "$s" '$d->{guests}[0]{vcpus}[0]{end}')" = done ]; ok $? "stats: vCPU 0 ended with done"
# 8 rounds of 6 x87/vector instructions per vCPU
got=$(js "$s" '$d->{guests}[0]{exits}{internal_error}')
[ "$got" = 96 ]; ok $? "stats: 96 emulation failures, 48 per vCPU (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{emulate}')
[ "$got" = 96 ]; ok $? "stats: all 96 emulated (got '$got')"
e0=$(js "$s" '$d->{guests}[0]{vcpus}[0]{exits}'); e1=$(js "$s" '$d->{guests}[0]{vcpus}[1]{exits}')
[ "$e0" -ge 48 ] && [ "$e1" -ge 48 ]; ok $? "stats: each vCPU had its own exits ($e0, $e1)"
finish
