#!/usr/bin/env bash
# t_run_record.sh - `exitgate run --record` and `exitgate replay` on real guests: a run
# recorded and replayed under the same policy gives the same verdicts (and what carrying them
# out did: registers, memory and device writes, injections); under another policy the
# differences are listed, status 1; a policy reading registers and memory the recorded one
# did not read is answered from the baseline; two vCPUs' exits interleave whole; truncated or
# flipped records are refused with the byte offset; the size cap and a failing write stop
# recording, never the guest, and are said in the run's log (JSON with --log-format json).
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

R="$T/emu.rec"
xrun --stats "$T/stats.json" --record "$R" "$(cfg emulate.yaml)"
ok $([ $rc = 0 ]; echo $?) "a recorded run ends as it would (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
ne=$(js "$T/stats.json" '$d->{guests}[0]{engine}{exits}')
[ "${ne:-0}" -gt 0 ]; ok $? "the guest's exits went to the engine ($ne)"

"$X" replay "$R" >"$T/rp" 2>"$T/rp.err"; rc=$?
ok $([ $rc = 0 ]; echo $?) "replayed under the recorded configuration: status 0 (got $rc)"
grep -q "^$ne exits replayed under the recorded configuration: 0 differ" "$T/rp"
ok $? "every one of the $ne exits has its recorded verdict"
[ "$(grep -c ': emulate -> run \[.*set_x86_regs rip=' "$T/rp")" = "$ne" ]
ok $? "each line shows the emulation carried out again (set_x86_regs with the new rip)"
grep -qE 'write_gpa 0xd0000000\+4=[0-9a-f]{8}, mmio_write 0xd0000000\+4=[0-9a-f]{8}' "$T/rp"
ok $? "a store to the ram device is replayed as recorded: RAM refused, then the device"
[ $rc = 0 ] || { diag "$(cat "$T/rp")"; diag "$(cat "$T/rp.err")"; }

"$X" replay --json "$R" >"$T/rp.json"; rc=$?
got=$(js "$T/rp.json" 'scalar(@$d) . " " . scalar(grep { $_->{same} } @$d)')
[ $rc = 0 ] && [ "$got" = "$ne $ne" ]; ok $? "--json: $ne objects, all the same (got '$got', status $rc)"
got=$(js "$T/rp.json" '$d->[0]{recorded}{verdict} . "/" . $d->[0]{replayed}{verdict} . "/" . $d->[0]{exit}')
[ "$got" = emulate/emulate/internal_error ]; ok $? "--json names the exit and both verdicts ($got)"

# another policy: every emulation failure gets #UD
"$X" replay --policy "$RUN_DIR/inject.lua" "$R" >"$T/rp" 2>"$T/rp.err"; rc=$?
ok $([ $rc = 1 ]; echo $?) "replayed under inject.lua: status 1, the verdicts differ (got $rc)"
[ "$(grep -c '^DIFF ' "$T/rp")" = "$ne" ] && grep -q "^$ne exits replayed under .*inject.lua: $ne differ" "$T/rp"
ok $? "all $ne exits are listed as differences"
grep -q '^    recorded: emulate -> run \[' "$T/rp" && grep -q '^    replayed: inject -> run \[inject_exception 6\]' "$T/rp"
ok $? "each difference shows the recorded and the new verdict with what it did"
[ $rc = 1 ] || diag "$(head -20 "$T/rp")"

# another policy that emulates as well, deciding on state the default policy never read:
# RCX, RSP, the stack's memory and the instruction's bytes come from the baseline
cat >"$T/other.lua" <<'LUA'
local xg = require "exitgate"
return xg.policy {
	emulation_failure = function(e, vcpu)
		local rsp = vcpu:reg("rsp")
		assert(vcpu:reg("rcx") ~= nil and rsp ~= nil and vcpu:reg("cr3") ~= nil)
		assert(#e.insn.bytes > 0)
		return xg.emulate()
	end,
}
LUA
"$X" replay --policy "$T/other.lua" "$R" >"$T/rp" 2>"$T/rp.err"; rc=$?
ok $([ $rc = 0 ]; echo $?) "a policy reading registers the recorded one did not: same verdicts (status $rc)"
[ $rc = 0 ] || { diag "$(head -20 "$T/rp")"; diag "$(cat "$T/rp.err")"; }

# two vCPUs at once: chunks whole, each vCPU replayed on its own
xrun --stats "$T/smp.json" --record "$T/smp.rec" "$(cfg smp.yaml)"
ok $([ $rc = 0 ]; echo $?) "smp: recorded run ends well (status $rc)"
n2=$(js "$T/smp.json" '$d->{guests}[0]{engine}{exits}')
"$X" replay "$T/smp.rec" >"$T/rp" 2>"$T/rp.err"; rc=$?
grep -q "^$n2 exits replayed under the recorded configuration: 0 differ" "$T/rp" &&
	grep -q ' smp/0 ' "$T/rp" && grep -q ' smp/1 ' "$T/rp"
ok $? "smp: $n2 exits of vCPUs 0 and 1 replay with their verdicts (status $rc)"
[ $rc = 0 ] || { diag "$(tail -5 "$T/rp")"; diag "$(cat "$T/rp.err")"; }

# exitgate test files load recorded exits: p:exit{record = FILE, index = n}
cat >"$T/rec_test.lua" <<LUA
local R = "$R"
local n = record_exits(R)
is(n, $ne, "record_exits counts the exits")
local p = policy "$RUN_DIR/inject.lua"
for i = 0, n - 1 do
	local r = p:exit { record = R, index = i }
	is(r.verdict, "inject", "recorded exit " .. i .. " under inject.lua: inject")
	is(r.vector, 6, "#UD")
end
local q = policy(os.getenv("T") .. "/regs.lua")
local r = q:exit { record = R, index = 0 }
is(r.verdict, "stop", "the recorded RIP and CR0 (from the baseline) reach the policy")
local ok1, err = pcall(function() return p:exit { record = R, index = n } end)
like(tostring(err), "no exit " .. n .. ": the record holds " .. n, "an index past the end is refused")
ok1, err = pcall(function() return p:exit { record = os.getenv("T") .. "/out", index = 0 } end)
like(tostring(err), "byte 0: not an exitgate record", "a file that is no record is refused")
done_testing()
LUA
# stops with the recorded RIP and the CR0 the default policy never read (the baseline)
cat >"$T/regs.lua" <<'LUA'
local xg = require "exitgate"
return xg.policy {
	emulation_failure = function(e, vcpu)
		if vcpu:reg("rip") == 0x100039 and vcpu:reg("cr0") & 1 == 1 then return xg.stop("at 100039") end
		return xg.resume()
	end,
}
LUA

"$X" test "$T/rec_test.lua" >"$T/tt" 2>&1; rc=$?
[ $rc = 0 ] && ! grep -q '^not ok' "$T/tt"; ok $? "exitgate test loads recorded exits (status $rc, $(grep -c '^ok' "$T/tt") passed)"
[ $rc = 0 ] || diag "$(grep -v '^ok' "$T/tt" | head -20)"

# truncated and corrupt records are refused with the offset
size=$(stat -c %s "$R")
for cut in 0 5 8 12 30 200 $((size / 2)) $((size - 30)) $((size - 1)); do
	head -c "$cut" "$R" >"$T/cut.rec"
	"$X" replay "$T/cut.rec" >/dev/null 2>"$T/rp.err"; rc=$?
	[ $rc = 2 ] && grep -qE "cut\.rec: byte [0-9]+: " "$T/rp.err"
	ok $? "cut at $cut bytes: refused, status 2, with the offset ($(head -c 160 "$T/rp.err"))"
done
for at in 3 9 20 60 $((size / 3)) $((size - 10)); do
	cp "$R" "$T/flip.rec"
	b=$(od -An -tu1 -j "$at" -N1 "$R" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 0x5a)))" | dd of="$T/flip.rec" bs=1 seek="$at" conv=notrunc 2>/dev/null
	"$X" replay "$T/flip.rec" >/dev/null 2>"$T/rp.err"; rc=$?
	[ $rc = 2 ] && grep -qE "flip\.rec: (byte [0-9]+: )" "$T/rp.err"
	ok $? "byte $at flipped: refused, status 2, with the offset ($(head -c 160 "$T/rp.err"))"
done
grep -q "checksum" "$T/rp.err"; ok $? "a flipped byte inside a chunk fails its checksum"

# the cap: recording stops, the guest runs on, the record stays whole
xrun --record "$T/cap.rec" --record-max 40K "$(cfg emulate.yaml)"
ok $([ $rc = 0 ]; echo $?) "--record-max 40K: the guest still ends well (status $rc)"
has "$ERR" "reached its cap of 40960 bytes"; ok $? "the cap is said on stderr"
s=$(stat -c %s "$T/cap.rec")
[ "$s" -le 40960 ]; ok $? "the record holds to its cap ($s bytes)"
"$X" replay "$T/cap.rec" >"$T/rp" 2>"$T/rp.err"; rc=$?
[ $rc = 0 ] && grep -q "exits of the run were not recorded (the size cap)" "$T/rp.err"
ok $? "a capped record replays, and says how many exits it lacks (status $rc)"

# a write that fails (a file size limit): said, recording stops, the guest runs on
( ulimit -f 16; timeout 60 "$X" run --record "$T/full.rec" "$(cfg emulate.yaml)" >"$T/out" 2>"$T/err" ); rc=$?
ok $([ $rc = 0 ]; echo $?) "a record that cannot be written does not stop the guest (status $rc)"
grep -q "cannot write the record .*full.rec: File too large; recording stopped" "$T/err"
ok $? "the failed write is said on stderr"
[ $rc = 0 ] || diag "$(cat "$T/err")"
"$X" replay "$T/full.rec" >/dev/null 2>"$T/rp.err"; rc=$?
[ $rc = 2 ] && grep -qE "byte [0-9]+: the record ends" "$T/rp.err"; ok $? "its record is refused as cut short ($(head -c 160 "$T/rp.err"))"

# --log-format json: a record that stops (a write that fails, the cap, a file that takes not
# even the header) is said through the run's log like every other message, each stderr line
# one JSON object; it was plain text on stderr, which a collector of JSON lines chokes on
# alljson FILE: every line of FILE is one JSON object; prints those of kind "record"
alljson() {
	python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        print('not JSON: ' + line.rstrip()); sys.exit(1)
    if not isinstance(d, dict):
        print('not an object: ' + line.rstrip()); sys.exit(1)
    if d.get('kind') == 'record':
        print('record: %s/%s: %s' % (d['guest'], d['vcpu'], d['message']))
PY
}
( ulimit -f 16; timeout 60 "$X" run --log-format json --record "$T/fullj.rec" "$(cfg emulate.yaml)" >"$T/out" 2>"$T/err" ); rc=$?
got=$(alljson "$T/err"); jrc=$?
[ $rc = 0 ] && [ $jrc = 0 ] && has "$got" '^record: emulate/0: cannot write the record .*fullj.rec: File too large; recording stopped'
ok $? "--log-format json: the failed write is a JSON line of kind record, with the vCPU (status $rc: $got)"
xrun --log-format json --record "$T/capj.rec" --record-max 40K "$(cfg emulate.yaml)"
got=$(alljson "$T/err"); jrc=$?
[ $rc = 0 ] && [ $jrc = 0 ] && has "$got" 'reached its cap of 40960 bytes'
ok $? "--log-format json: so is the cap (status $rc: $got)"
xrun --log-format json --record /dev/full "$(cfg emulate.yaml)"
got=$(alljson "$T/err"); jrc=$?
[ $rc = 2 ] && [ $jrc = 0 ] && [ "$(wc -l <"$T/err")" = 1 ] && has "$ERR" 'cannot write the record /dev/full: No space left'
ok $? "--log-format json: a record that cannot take its header stops the run with one JSON line (status $rc: $got$ERR)"
# the run stops, so the message must not say the guests run on (it did: the header's write
# failed through the same words as a write that fails later)
! has "$ERR" 'guests run on|stopped after'
ok $? "... and it does not say the guests run on ($ERR)"

xrun --record "$T/nodir/x.rec" "$(cfg emulate.yaml)"
[ $rc = 2 ] && has "$ERR" "cannot write the record .*nodir/x.rec: No such file"
ok $? "a record file that cannot be made stops the run before it starts (status $rc)"
"$X" replay "$T/out" >/dev/null 2>"$T/rp.err"; rc=$?
[ $rc = 2 ] && grep -q "byte 0: not an exitgate record" "$T/rp.err"; ok $? "a file that is no record is refused"
finish
