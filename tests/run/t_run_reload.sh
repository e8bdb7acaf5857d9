#!/usr/bin/env bash
# t_run_reload.sh - a policy replaced while its guest runs. guests/reload.S reads an MSR in a
# loop until the policy's answer turns from 1 to 2; the test rewrites reload.lua (a copy in
# its temp dir) while the guest loops, once with --watch (inotify) and once with
# `exitgate ctl SOCKET reload`. Each time the guest must finish with done 0, and its own count
# of reads must equal the x86_rdmsr exits in --stats: no exit lost or doubled by the swap.
# A policy that does not load must leave the old one answering.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
mkdir -p "$T/pol"
pol="$T/pol/reload.lua"
c="$T/reload.yaml"
# cfg writes its own file; reading it back while the same path is the pipe's output raced
cfg reload.yaml "$T/reload.in.yaml" >/dev/null
perl -pe "s{^(\\s*policy:\\s*)\\S+}{\$1$pol}" "$T/reload.in.yaml" >"$c"
sock="$T/ctl.sock"
start() { bg_run "$@"; }

# the guest's count and the VMM's, after a run with --stats $1
counts_match() {
	local mine vmm
	mine=$(sed -n 's/^reload| reload: reads \([0-9a-f]*\)$/\1/p' <<<"$OUT" | tail -1)
	vmm=$(js "$1" '$d->{guests}[0]{exits}{x86_rdmsr}')
	[ -n "$mine" ] && [ "$mine" != 0000000000000001 ] && [ -n "$vmm" ] && [ $((16#$mine)) = "$vmm" ]
	ok $? "$2: the guest's reads (0x$mine) equal the x86_rdmsr exits in --stats ($vmm)"
}
answer() { sed "s/xg\.msr(1)/xg.msr($1)/" "$RUN_DIR/reload.lua" >"$pol"; }

# --watch
answer 1
start --watch --stats "$T/watch.json" "$c"
wait_for "$T/bg.out" 'reload: reads 1$'
ok $? "--watch: the guest runs and the first policy answers 1"
sleep 0.2
answer 2
finish_run
ok $([ $rc = 0 ]; echo $?) "--watch: after the rewrite the guest saw 2 and ended with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
counts_match "$T/watch.json" "--watch"
got=$(js "$T/watch.json" '$d->{guests}[0]{engine}{reloads}')
[ -n "$got" ] && [ "$got" -ge 1 ]; ok $? "--watch: stats count the reload (reloads: '$got')"
got=$(js "$T/watch.json" '$d->{guests}[0]{engine}{swaps}')
[ "$got" = 1 ]; ok $? "--watch: the vCPU swapped to the new policy once (swaps: '$got')"

# ctl reload, with a broken policy first
answer 1
start --ctl "$sock" --stats "$T/ctl.json" "$c"
wait_for "$T/bg.out" 'reload: reads 1$'
ok $? "ctl: the guest runs and the first policy answers 1"
printf 'local xg = require "exitgate"\nreturn xg.policy { x86_rdmsr = function(e) return xg.msr(2 end }\n' >"$pol"
CO=$(timeout 20 "$X" ctl "$sock" reload 2>&1); crc=$?
[ $crc = 1 ] && has "$CO" 'reload\.lua'; ok $? "ctl reload of a broken policy: status 1 naming the file ('$CO')"
sleep 0.2
CO=$(timeout 20 "$X" ctl "$sock" status 2>&1)
has "$CO" '^reload/0 running( |$)'; ok $? "the old policy still answers: the guest is still looping ('$CO')"
answer 2
CO=$(timeout 20 "$X" ctl "$sock" reload 2>&1); crc=$?
[ $crc = 0 ] && has "$CO" '^reloaded'; ok $? "ctl reload of the fixed policy: 'reloaded' ('$CO')"
finish_run
ok $([ $rc = 0 ]; echo $?) "ctl: the guest saw 2 and ended with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
counts_match "$T/ctl.json" "ctl reload"
got=$(js "$T/ctl.json" '$d->{guests}[0]{engine}{swaps}')
[ "$got" = 1 ]; ok $? "ctl: one swap, the broken policy never replaced the old one (swaps: '$got')"
finish
