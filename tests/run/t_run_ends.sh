#!/usr/bin/env bash
# t_run_ends.sh - how a run ends and what status it gives: a guest that halts (0, "halted"),
# one that writes its code to the done port with a 4-byte out (all of it: 0x1207 = 4615, a
# guest failure, status 1 with the code in the summary and --stats), several guests (the worst
# status), and GUEST arguments choosing which guests run. The guest's code is never the
# status, so it cannot pass for one of exitgate's own (2, 3, 4, 124, 125).
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
c=$(cfg ends.yaml)

xrun --stats "$T/halt.json" "$c" halt
[ $rc = 0 ]; ok $? "a guest that halts without a done write: status 0 (got $rc)"
has "$OUT" '^halt\| halt: bye$'; ok $? "its output"
[ "$(js "$T/halt.json" '$d->{guests}[0]{end}')" = halted ]; ok $? "stats: end is halted"
[ "$(js "$T/halt.json" 'scalar @{$d->{guests}}')" = 1 ]; ok $? "naming a guest runs only that one"
has "$ERR" '^exitgate: status 0: '; ok $? "the summary ends with the status and its meaning"

xrun --stats "$T/code.json" "$c" code
[ $rc = 1 ]; ok $? "out of 0x1207 (4 bytes) to the done port: a guest failure: status 1 (got $rc)"
[ "$(js "$T/code.json" '$d->{guests}[0]{code}')" = 4615 ]; ok $? "stats: code 4615, all of what was written"
[ "$(js "$T/code.json" '$d->{status}')" = 1 ] && [ "$(js "$T/code.json" '$d->{guests}[0]{status}')" = 1 ]
ok $? "stats: status 1, for the run and the guest"
has "$ERR" '^exitgate: code: done \(code 4615\)'; ok $? "the summary gives the guest's code"
has "$ERR" '^exitgate: status 1: .*code 4615'; ok $? "... and says status 1 is the guest's failure, with the code"

xrun --stats "$T/both.json" "$c"
[ $rc = 1 ]; ok $? "both guests: the status is the worse one, the guest failure (got $rc)"
[ "$(js "$T/both.json" 'scalar @{$d->{guests}}')" = 2 ]; ok $? "stats: two guests"
has "$OUT" '^halt\| halt: bye$' && has "$OUT" '^code\| code: 7$'; ok $? "each guest's lines carry its name"
finish
