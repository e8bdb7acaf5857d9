#!/usr/bin/env bash
# t_run_triple.sh - a triple fault (ud2 without an IDT, guests/triple.S) under the shipped
# default policy: its shutdown handler dumps and stops, so the run ends with status 3 and a
# dump in dump_dir that parses and names the exit.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/stats.json" "$(cfg triple.yaml)"
ok $([ $rc = 3 ]; echo $?) "a stopped guest: status 3 (got $rc)"
[ $rc = 3 ] || { diag "$OUT"; diag "$ERR"; }
! has "$OUT" 'still running'; ok $? "nothing ran after the ud2"
has "$ERR" 'shut down|shutdown'; ok $? "stderr says the guest shut down"
s="$T/stats.json"
[ "$(js "$s" '$d->{guests}[0]{end}')" = stopped ]; ok $? "stats: end is stopped"
got=$(js "$s" '$d->{guests}[0]{exits}{shutdown}')
[ "$got" = 1 ]; ok $? "stats: one shutdown exit (got '$got')"

files=("$T"/dumps/triple-*-vcpu0-*.json)
[ ${#files[@]} = 1 ] && [ -f "${files[0]}" ]; ok $? "one dump file, named triple-RUN-vcpu0-N.json (${files[*]##*/})"
f=${files[0]}
[ "$(js "$f" '$d->{exitgate_dump}')" = 1 ]; ok $? "the dump parses as JSON and says what it is"
[ "$(js "$f" '$d->{exit}{kind}')" = shutdown ]; ok $? "exit kind is shutdown"
[ "$(js "$f" '$d->{guest}')" = triple ] && [ "$(js "$f" '$d->{vcpu}')" = 0 ]
ok $? "the dump names the guest and the vCPU"
has "$(js "$f" '$d->{verdict}')" stop; ok $? "the dump records the stop verdict ($(js "$f" '$d->{verdict}'))"
at=$(sed -n 's/^triple| triple: ud2 at \([0-9a-f]*\)$/\1/p' <<<"$OUT")
rip=$(js "$f" '$d->{registers}{rip}')
[ -n "$at" ] && [ $((16#$at)) = $((rip)) ]; ok $? "registers.rip ($rip) is the address of the ud2 the guest printed (0x$at)"
finish
