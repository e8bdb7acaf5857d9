#!/usr/bin/env bash
# t_run_memo.sh - `exitgate run` on guests/memo.S with the shipped default policy: the same
# VEX vmovdqa/vmovdqu bytes exit to exitgate's emulator again and again (the vCPU's memo of
# compiled instructions answers the repeats) while the state changes between them: a
# misaligned operand every second time (#GP, the guest's handler), CR0.TS every second time
# (#NM, the guest's handler clears it and the load runs again). The guest checks every value
# and the number of each exception itself and ends with done 0 or the failed check's number.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

c=$(cfg memo.yaml)
xrun --stats "$T/stats.json" "$c"
ok $([ $rc = 0 ]; echo $?) "the guest ends with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
has "$OUT" '^memo\| memo: ok$'; ok $? "every check in the guest passed (values, 8 #GP(0), 8 #NM)"
! has "$OUT" 'FAIL'; ok $? "no FAIL line from the guest"

s="$T/stats.json"
got=$(js "$s" '$d->{guests}[0]{exits}{internal_error}')
# loop 1: 16 movdqa (8 of them #GP) + 8 movdqu stores; loop 2: 8 movdqu with TS (#NM), then
# 16 loads and 16 stores
[ "$got" = 64 ]; ok $? "stats: 64 internal_error exits, one per VEX instruction run (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{emulate}')
[ "$got" = 64 ]; ok $? "stats: every one of them emulated (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{emulated}')
[ "$got" = 64 ]; ok $? "stats: 64 instructions through exitgate's emulator (got '$got')"
# the repeats take the memo's short path; the exits whose state makes them fault (misaligned,
# TS set) hand over to the pipeline and are not counted, nor is each instruction's first run
got=$(js "$s" '$d->{guests}[0]{engine}{emulated_memo}')
[ "${got:-0}" -ge 20 ] && [ "$got" -lt 64 ]; ok $? "stats: the memo ran the repeats (got '$got', at least 20 of 64)"
got=$(js "$s" 'scalar keys %{$d->{guests}[0]{engine}{fails}}')
[ "$got" = 0 ]; ok $? "stats: no engine failures ($(js "$s" '$d->{guests}[0]{engine}{fails}'))"
finish
