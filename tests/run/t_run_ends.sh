#!/usr/bin/env bash
# t_run_ends.sh - how a run ends and what status it gives: a guest that halts (0, "halted"),
# one that writes its code to the done port with a 4-byte out (the low byte), several guests
# (the first non-zero code), and GUEST arguments choosing which guests run.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
c=$(cfg ends.yaml)

xrun --stats "$T/halt.json" "$c" halt
[ $rc = 0 ]; ok $? "a guest that halts without a done write: status 0 (got $rc)"
has "$OUT" '^halt\| halt: bye$'; ok $? "its output"
[ "$(js "$T/halt.json" '$d->{guests}[0]{end}')" = halted ]; ok $? "stats: end is halted"
[ "$(js "$T/halt.json" 'scalar @{$d->{guests}}')" = 1 ]; ok $? "naming a guest runs only that one"

xrun --stats "$T/code.json" "$c" code
[ $rc = 7 ]; ok $? "out of 0x1207 (4 bytes) to the done port: status 7, the low byte (got $rc)"
[ "$(js "$T/code.json" '$d->{guests}[0]{code}')" = 7 ]; ok $? "stats: code 7"

xrun --stats "$T/both.json" "$c"
[ $rc = 7 ]; ok $? "both guests: the status is the non-zero code (got $rc)"
[ "$(js "$T/both.json" 'scalar @{$d->{guests}}')" = 2 ]; ok $? "stats: two guests"
has "$OUT" '^halt\| halt: bye$' && has "$OUT" '^code\| code: 7$'; ok $? "each guest's lines carry its name"
finish
