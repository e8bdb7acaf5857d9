#!/usr/bin/env bash
# t_run_dump.sh - the dump verdict on a real exit: xg.dump { xg.skip(), note = ... } writes
# <dump_dir>/<guest>-<run>-vcpu<N>-<seq>.json with the note, the decoded exit, the instruction and
# its disassembly, and the registers at the instruction (guests/dump.S prints its address);
# then the skip moves past the 5-byte instruction and the guest ends with done 0.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/stats.json" "$(cfg dump.yaml)"
ok $([ $rc = 0 ]; echo $?) "the guest ends with done 0 after the skip (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
has "$OUT" '^dump\| dump: after$'; ok $? "the skip went past the instruction"
files=("$T"/dumps/dump-*-vcpu0-*.json)
[ ${#files[@]} = 1 ] && [ -f "${files[0]}" ]; ok $? "one dump file, dump-RUN-vcpu0-N.json (${files[*]##*/})"
f=${files[0]}
[ "$(js "$f" '$d->{exitgate_dump}')" = 1 ]; ok $? "it parses as a dump"
note=$(js "$f" '$d->{note}')
has "$note" '^dump\.lua: skipped vmovdqu'; ok $? "the note is the policy's ('$note')"
[ "$(js "$f" '$d->{exit}{kind}')" = emulation_failure ]; ok $? "exit kind emulation_failure"
has "$(js "$f" '$d->{insn}{bytes}')" '^c5fe6f4010'; ok $? "insn.bytes are the guest's c5 fe 6f 40 10"
dis=$(js "$f" '$d->{insn}{disasm}')
has "$dis" '^vmovdqu ymm0, ymmword ptr \[rax \+ 0x10\]$'; ok $? "insn.disasm ('$dis')"
at=$(sed -n 's/^dump| dump: insn at \([0-9a-f]*\)$/\1/p' <<<"$OUT")
rip=$(js "$f" '$d->{registers}{rip}')
[ -n "$at" ] && [ -n "$rip" ] && [ $((16#$at)) = $((rip)) ]
ok $? "registers.rip ($rip) is the instruction's address the guest printed (0x$at)"
rax=$(js "$f" '$d->{registers}{rax}')
[ "$((rax))" = $((0xd0100000)) ]; ok $? "registers.rax is the pattern device's address ($rax)"
has "$(js "$f" '$d->{verdict}')" 'skip'; ok $? "the dump records the verdict ($(js "$f" '$d->{verdict}'))"
[ "$(js "$T/stats.json" '$d->{guests}[0]{engine}{dumps}')" = 1 ]; ok $? "stats: one dump"
finish
