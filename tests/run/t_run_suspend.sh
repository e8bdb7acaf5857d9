#!/usr/bin/env bash
# t_run_suspend.sh - suspend and resume through the control socket: the policy suspends the
# vCPU (guests/suspend.S, suspend.lua); `exitgate ctl` shows it suspended with its reason,
# writes a dump of it, resumes it, and the guest finishes with done 0. A second run is
# stopped with `ctl stop` instead: status 3. Wrong ctl use gets status 2 or 1 and a message.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
c=$(cfg suspend.yaml)
sock="$T/ctl.sock"
start() { bg_run --ctl "$sock" "$@"; }

# wait_status REGEX: poll `ctl status` until a line matches (0) or 20 s pass (1)
wait_status() {
	local i
	for ((i = 0; i < 400; i++)); do
		ctl status
		has "$CO" "$1" && return 0
		sleep 0.05
	done
	return 1
}

start --stats "$T/stats.json" "$c"
wait_status '^suspend/0 suspended: waiting$'
ok $? "ctl status shows 'suspend/0 suspended: waiting' (last: '$CO')"
! grep -q 'suspend: after' "$T/bg.out"; ok $? "the guest has not gone on"
grep -q '^suspend| suspend: before$' "$T/bg.out"; ok $? "its output so far is on stdout"

ctl dump suspend/0
f=$(tail -1 <<<"$CO")
[ $crc = 0 ] && [ -f "$f" ]; ok $? "ctl dump: status 0 and the path of a file ('$CO')"
[ "$(js "$f" '$d->{exitgate_dump}')" = 1 ]; ok $? "the dump parses"
[ "$(js "$f" '$d->{guest}')" = suspend ] && [ "$(js "$f" '$d->{vcpu}')" = 0 ]
ok $? "the dump is of suspend/0"
rip=$(js "$f" '$d->{registers}{rip}')
[ -n "$rip" ] && [ $((rip)) -ge $((0x100000)) ]; ok $? "the dump has the vCPU's registers (rip $rip)"

ctl resume nosuch/7
[ $crc = 1 ] && [ -n "$CO" ]; ok $? "ctl resume of an unknown target: status 1 and why ('$CO')"
CO=$(timeout 20 "$X" ctl "$T/no.sock" status 2>&1); crc=$?
[ $crc = 2 ] && has "$CO" 'no.sock'; ok $? "ctl on a socket nobody serves: status 2 naming it ('$CO')"
CO=$(timeout 20 "$X" ctl "$sock" frobnicate 2>&1); crc=$?
[ $crc = 2 ] && [ -n "$CO" ]; ok $? "ctl with an unknown command: status 2 and why ('$CO')"

ctl resume suspend/0
ok $crc "ctl resume suspend/0: status 0 ('$CO')"
finish_run
ok $([ $rc = 0 ]; echo $?) "the resumed guest ends with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
has "$OUT" '^suspend\| suspend: after$'; ok $? "the guest went on after the resume"
[ "$(js "$T/stats.json" '$d->{guests}[0]{engine}{verdicts}{suspend}')" = 1 ]
ok $? "stats: one suspend verdict"

# A second run, stopped while suspended.
start "$c"
wait_status '^suspend/0 suspended: waiting$'
ok $? "second run: suspended again"
ctl stop suspend
ok $crc "ctl stop suspend: status 0 ('$CO')"
finish_run
ok $([ $rc = 3 ]; echo $?) "the stopped run ends with status 3 (got $rc)"
! has "$OUT" 'suspend: after'; ok $? "the stopped guest did not go on"

# ctl suspend parks a running vCPU (guests/reload.S loops on rdmsr, answered 1 by reload.lua)
start "$(cfg reload.yaml)"
wait_for "$T/bg.out" 'reload: reads 1$'
ok $? "third run: a guest busy in a loop"
ctl suspend reload/0
ok $crc "ctl suspend reload/0: status 0 ('$CO')"
wait_status '^reload/0 suspended'
ok $? "ctl status shows it suspended ('$CO')"
sleep 0.3
ctl status
has "$CO" '^reload/0 suspended'; ok $? "it stays suspended ('$CO')"
ctl resume
ok $crc "ctl resume (every vCPU): status 0 ('$CO')"
wait_status '^reload/0 running'
ok $? "running again ('$CO')"
ctl stop
finish_run
[ $rc = 3 ]; ok $? "ctl stop (everything): status 3 (got $rc)"
finish
