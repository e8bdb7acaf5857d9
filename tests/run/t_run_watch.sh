#!/usr/bin/env bash
# t_run_watch.sh - `exitgate run --watch` follows its policy files however they change.
# guests/suspend.S parks its vCPU (suspend.lua), so the run waits while the test edits:
# - the policy's directory removed and made again with a new policy: the watch re-arms and
#   the policy is reloaded, and a later edit in the new directory is seen too;
# - the policy named through a symlink whose target is edited in place: reloaded;
# - the symlink pointed at another file, then that file edited: reloaded each time.
# The watcher logs "reloaded (...)" on stderr for each reload.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
sock="$T/ctl.sock"
start() { bg_run --ctl "$sock" "$@"; }

# config POLICY: suspend.yaml with its policy at POLICY
config() {
	cfg suspend.yaml "$T/in.yaml" >/dev/null
	perl -pe "s{^(\\s*policy:\\s*)\\S+}{\$1$1}" "$T/in.yaml" >"$T/w.yaml"
}
reloads() { grep -c 'reloaded (' "$T/bg.err"; }
# wait_reloads N: until N reloads are logged (0) or 10 s pass (1)
wait_reloads() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(reloads)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
policy() { { cat "$RUN_DIR/suspend.lua"; echo "-- $1"; } >"$2"; }

# the directory removed and made again
mkdir -p "$T/pd"
policy v1 "$T/pd/p.lua"
config "$T/pd/p.lua"
start --watch "$T/w.yaml"
wait_for "$T/bg.err" 'suspend/0 suspended' 20
ok $? "the guest parks under the watched policy"
rm -rf "$T/pd"
sleep 0.3
mkdir "$T/pd"
policy v2 "$T/pd/p.lua"
wait_reloads 1
ok $? "directory removed and made again: the policy is reloaded ($(reloads) reloads)"
k=$(reloads)
sleep 0.5
k=$(reloads)
policy v3 "$T/pd/p.lua"
wait_reloads $((k + 1))
ok $? "an edit in the new directory is seen too ($(reloads) reloads)"
"$X" ctl "$sock" stop >/dev/null 2>&1
finish_run
[ $rc = 3 ]; ok $? "the run ends as asked (status $rc)"
[ $rc = 3 ] || diag "$ERR"

# a symlink to the policy
mkdir -p "$T/real" "$T/links"
policy a1 "$T/real/a.lua"
policy b1 "$T/real/b.lua"
ln -s ../real/a.lua "$T/links/p.lua"
config "$T/links/p.lua"
start --watch "$T/w.yaml"
wait_for "$T/bg.err" 'suspend/0 suspended' 20
ok $? "the guest parks under a policy named through a symlink"
sleep 0.3
policy a2 /dev/stdout >>"$T/real/a.lua" # in place: the same inode, no rename
wait_reloads 1
ok $? "the symlink's target edited in place: reloaded ($(reloads) reloads)"
sleep 0.5
k=$(reloads)
ln -sfn ../real/b.lua "$T/links/p.lua"
wait_reloads $((k + 1))
ok $? "the symlink pointed at another file: reloaded ($(reloads) reloads)"
sleep 0.5
k=$(reloads)
echo "-- b2" >>"$T/real/b.lua"
wait_reloads $((k + 1))
ok $? "... and the new target edited in place: reloaded ($(reloads) reloads)"
"$X" ctl "$sock" stop >/dev/null 2>&1
finish_run
[ $rc = 3 ]; ok $? "the run ends as asked (status $rc)"
[ $rc = 3 ] || diag "$ERR"
finish
