#!/usr/bin/env bash
# t_exit_cost.sh - the engine's instructions per repeated exit, counted, against a budget: a
# regression gate that does not depend on the host's timing (issue 15). bench_run's guest
# (a real KVM guest looping on `vmovdqu (%rax),%ymm0` from MMIO) runs under callgrind with
# one variant alone (BENCH_RUN_ONLY), collecting only inside xg_handle_exit, for 1000, 2000
# and 3000 exits; the differences are the instructions of 1000 and 2000 steady exits (the
# runs' first exits and their store are the same in all three and cancel out).
#
# What is checked:
#   - the count grows by the same amount per 1000 exits: it measures each exit's work and
#     nothing that drifts (a periodic cost would show here first). To 1% cached; to 5%
#     through Lua, whose string hashes take a seed made afresh in every process (Lua 5.4
#     lstate.c, luai_makeseed: addresses and the time), so that a call's table lookups walk
#     a chain whose length differs from one process to the next (measured: 691 or 718
#     instructions per lua_pcallk, 2,389k to 2,461k per 1000 exits);
#   - per exit, the cached verdict's lane (the repeated-exit check, the emulate verdict,
#     the memo's direct path, its kept translation, the backend's XSAVE ioctl wrappers)
#     and the Lua policy's (the same plus the sandboxed call) stay within their budgets.
# The budgets are what the code cost (GCC 12 -O2, on an AMD EPYC; the path takes no
# vendor-dependent branch) with ~15% of room; a change that needs more raises them here,
# saying why. Written at 1,286 cached and 2,424 through Lua (2026-12-03, budgets 1,480 and
# 2,790); lowered after the ioctl, lookup and kept-translation changes to what they left,
# 1,037 and ~2,170 (2026-12-03).
#
# Instruction counts are the compiler's: the test runs on GCC's optimised builds only, and
# skips sanitizer builds (valgrind cannot run them), other compilers (clang 14's DWARF 5
# stops Debian 12's valgrind 3.19), builds without optimisation, hosts without valgrind or a
# usable /dev/kvm.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"

BUDGET_CACHED=1190
BUDGET_LUA=2500
BENCH="$XG_BUILD/bench/bench_run"

WHAT="instruction counts"
. "$XG_SOURCE/tests/bench/bench_gate.sh"

# count VARIANT EXITS: prints the instructions executed inside xg_handle_exit; on a failure
# prints nothing, and what valgrind or bench_run said is in $T/why
count() {
	local out="$T/cg.$1.$2" log="$T/log.$1.$2"
	if ! BENCH_RUN_ONLY=$1 timeout 300 valgrind --tool=callgrind \
		--toggle-collect=xg_handle_exit --callgrind-out-file="$out" "$BENCH" "$2" 1 \
		>"$log" 2>&1 || ! grep -q '^totals:' "$out" 2>/dev/null; then
		tail -5 "$log" >"$T/why"
		return 1
	fi
	sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out"
}

for v in cached lua; do
	a=$(count $v 1000) && b=$(count $v 2000) && c=$(count $v 3000)
	if [ $? != 0 ] || [ -z "$a" ] || [ -z "$b" ] || [ -z "$c" ]; then
		ok 1 "$v: callgrind counted bench_run's exits (BENCH_RUN_ONLY=$v valgrind --tool=callgrind $BENCH N 1)"
		diag "$(cat "$T/why" 2>/dev/null)"
		ok 1 "$v: instructions per exit within the budget (not measured)"
		continue
	fi
	d1=$((b - a)) d2=$((c - b))
	# the two steps of 1000 exits agree (each from its own processes)
	diff=$((d1 > d2 ? d1 - d2 : d2 - d1)) pct=1
	[ $v = lua ] && pct=5
	[ $((diff * 100)) -le $((d1 * pct)) ]
	ok $? "$v: 1000 exits more cost the same twice to $pct% ($d1 and $d2 instructions: each exit's work, nothing drifting)"
	per=$(((c - a) / 2000))
	budget=$BUDGET_CACHED
	[ $v = lua ] && budget=$BUDGET_LUA
	[ "$per" -le "$budget" ]
	ok $? "$v: $per instructions per repeated exit in xg_handle_exit, budget $budget"
done
finish
