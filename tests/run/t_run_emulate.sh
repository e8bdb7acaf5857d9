#!/usr/bin/env bash
# t_run_emulate.sh - `exitgate run` on guests/emulate.S with the shipped default policy: x87
# m32/m64, VEX ymm and EVEX ymm/xmm moves from the pattern device to the ram device and RAM,
# each one an emulation failure KVM hands over and exitgate's emulator finishes. The guest
# checks every value itself and ends with done 0 or the number of the check that failed.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

c=$(cfg emulate.yaml)
xrun --stats "$T/stats.json" "$c"
ok $([ $rc = 0 ]; echo $?) "the guest ends with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
has "$OUT" '^emulate\| emulate: start$'; ok $? "console lines come out as 'NAME| text'"
has "$OUT" '^emulate\| emulate: ok$'; ok $? "every check in the guest passed"
! has "$OUT" 'FAIL'; ok $? "no FAIL line from the guest"
has "$ERR" 'emulate'; ok $? "a summary on stderr names the guest"

s="$T/stats.json"
[ "$(js "$s" '$d->{guests}[0]{name}')" = emulate ]; ok $? "stats: the guest's name"
[ "$(js "$s" '$d->{guests}[0]{end}')" = done ]; ok $? "stats: end is done"
[ "$(js "$s" '$d->{guests}[0]{code}')" = 0 ]; ok $? "stats: code 0"
got=$(js "$s" '$d->{guests}[0]{exits}{internal_error}')
[ "$got" = 15 ]; ok $? "stats: 15 internal_error exits, one per x87/vector instruction (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{emulate}')
[ -n "$got" ] && [ "$got" -ge 1 ]; ok $? "stats: emulate verdicts counted (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{inject} // 0')
[ "$got" = 0 ]; ok $? "stats: nothing fell back to #UD (inject: $got)"
got=$(js "$s" 'scalar keys %{$d->{guests}[0]{engine}{fails}}')
[ "$got" = 0 ]; ok $? "stats: no engine failures ($(js "$s" '$d->{guests}[0]{engine}{fails}'))"
got=$(js "$s" '$d->{guests}[0]{exits}{mmio} // 0')
[ "$got" = 12 ]; ok $? "stats: 12 MMIO exits, the integer reads of the ram device (got $got)"
[ "$(js "$s" '$d->{guests}[0]{vcpus}[0]{end}')" = done ]; ok $? "stats: vCPU 0 ended with done"
[ -z "$(ls -A "$T/dumps" 2>/dev/null)" ]; ok $? "no dump written: nothing needed a person"

# --quiet: no summary; the guest's output still on stdout
xrun --quiet "$c"
[ $rc = 0 ] && [ -z "$ERR" ] && has "$OUT" 'emulate: ok'
ok $? "--quiet: status 0, nothing on stderr, output kept ('$ERR')"
finish
