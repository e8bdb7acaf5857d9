#!/usr/bin/env bash
# The VM lanes' relay (lane.sh --relay) on saved consoles, no VM needed: every way a lane can
# go wrong inside the VM comes out as a failure with a message, never as a silent pass.
set -u
LANE="${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/vm/lane.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/xg-vm-relay.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
n=0 fail=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi
}
# relay NAME [VM-ERROR] < console: runs the relay, keeps its output and status
relay() {
	cat >"$T/$1.console"
	bash "$LANE" --relay "$T/$1.console" "${2:-}" >"$T/$1.tap" 2>&1
	echo $? >"$T/$1.rc"
}
# expect NAME RC REGEX WHAT: the relay's status, and a line of its TAP matching REGEX
expect() {
	local rc
	rc=$(cat "$T/$1.rc")
	if [ "$rc" = "$2" ] && grep -qE -- "$3" "$T/$1.tap"; then
		ok 0 "$4"
	else
		ok 1 "$4"
		sed 's/^/#   /' "$T/$1.tap"
		echo "#   status $rc, wanted $2; wanted a line matching: $3"
	fi
}
plan_is() { # plan_is NAME N: the relayed stream ends with the plan 1..N
	[ "$(tail -n1 "$T/$1.tap")" = "1..$2" ] && ok 0 "$1: plan 1..$2" ||
		{ ok 1 "$1: plan 1..$2"; sed 's/^/#   /' "$T/$1.tap"; }
}

relay good <<'C'
[    1.0] a kernel line
#xg-vm tests 2, timeout 300 s each
#xg-vm begin t_a
1..2
ok 1 - first
[    1.1] kernel: noise between lines
not ok 2 - second # TODO later
#xg-vm end t_a exit 0
#xg-vm begin t_b
1..0 # SKIP no such device
#xg-vm end t_b exit 0
#xg-vm done 0
C
expect good 0 '^ok 1 - relay/t_a: first$' "a passing result is relayed, renamed"
expect good 0 '^ok 3 - relay/t_a: exit 0, 2 of 2$' "a test's status and plan make one result"
expect good 0 '^not ok 2 - relay/t_a: second # TODO later$' "a TODO failure stays a TODO"
expect good 0 '^ok 4 - relay/t_b: skipped: no such device$' "a whole-test skip says why"
expect good 0 '^# \[    1.1\] kernel: noise' "kernel lines become comments"
plan_is good 4

printf '#xg-vm begin t_a\r\n1..1\r\nok 1 - crlf\r\n#xg-vm end t_a exit 0\r\n#xg-vm done 0\r\n' | relay crlf
expect crlf 0 '^ok 2 - relay/t_a: exit 0, 1 of 1$' "serial CR LF line ends are handled"

relay crash <<'C'
#xg-vm begin t_a
1..3
ok 1 - before the crash
[    2.0] Kernel panic - not syncing: Attempted to kill init!
C
expect crash 1 '^not ok 2 - relay/t_a: the VM stopped while this test ran' "a VM that dies mid-test fails that test"
expect crash 1 '^not ok 3 - relay: /init never reported the end' "and says /init did not finish"
expect crash 1 '^#   \[    2.0\] Kernel panic' "with the console's last lines"

relay empty </dev/null
expect empty 1 '^not ok 1 - relay: /init never reported the end' "an empty console is a failure"
plan_is empty 1

relay signal <<'C'
#xg-vm begin t_a
1..2
ok 1 - one
#xg-vm end t_a signal 11 (Segmentation fault)
#xg-vm done 1
C
expect signal 1 'not ok 2 - relay/t_a: ended: signal 11 \(Segmentation fault\) \(after 1 of 2 results\)' "a test killed by a signal fails"

relay timeout <<'C'
#xg-vm begin t_a
1..2
#xg-vm end t_a timeout 300
#xg-vm done 1
C
expect timeout 1 'not ok 1 - relay/t_a: ended: timeout 300' "a test that times out fails"

relay short <<'C'
#xg-vm begin t_a
1..3
ok 1 - one
ok 2 - two
#xg-vm end t_a exit 0
#xg-vm done 0
C
expect short 1 'not ok 3 - relay/t_a: ran 2 of 3 planned' "fewer results than planned fail"

relay noplan <<'C'
#xg-vm begin t_a
ok 1 - one
#xg-vm end t_a exit 0
#xg-vm done 0
C
expect noplan 1 'not ok 2 - relay/t_a: printed no plan' "a test without a plan fails"

relay failed <<'C'
#xg-vm begin t_a
1..1
not ok 1 - broken
#xg-vm end t_a exit 1
#xg-vm done 1
C
expect failed 1 '^not ok 1 - relay/t_a: broken$' "a failing result is relayed as failing"

relay bail <<'C'
#xg-vm begin t_a
1..2
Bail out! no /dev/kvm
#xg-vm end t_a exit 255
#xg-vm done 1
C
expect bail 1 '^not ok 1 - relay/t_a: Bail out! no /dev/kvm' "Bail out! inside is a failure, not the host's bail-out"

relay vmerr 'qemu exited with status 0, not through isa-debug-exit' <<'C'
#xg-vm begin t_a
1..1
ok 1 - one
#xg-vm end t_a exit 0
#xg-vm done 0
C
expect vmerr 1 '^not ok 3 - relay: qemu exited with status 0, not through isa-debug-exit' "the lane's verdict on qemu's exit status is a result"

relay initonly <<'C'
#xg-vm begin t_a
1..1
ok 1 - one
#xg-vm end t_a exit 0
#xg-vm done 2
C
expect initonly 1 'not ok 3 - relay: /init reported 2 failed test' "/init's own failure count is not ignored"

relay none <<'C'
#xg-vm tests 0, timeout 300 s each
#xg-vm done 0
C
expect none 1 '^not ok 1 - relay: no test ran' "a lane with no tests fails"

echo "1..$n"
exit $fail
