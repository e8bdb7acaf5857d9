#!/usr/bin/env bash
# t_exit_lines.sh - the cache lines of code and data each repeated exit touches, counted, against
# a budget: the engine's cost on a busy host (issue 15).
#
# Why lines: after each KVM_RUN the handler finds the caches as the guest, KVM and whatever
# else ran on the core left them, and every 64-byte line it touches that is no longer there
# costs a fetch from L3 or memory. bench_run's figures follow it: at quiet hours the engine's
# handler measured +70-110 ns cached and +260-330 Lua over the plain loop making the same
# ioctls; at the host's busiest hours the same binaries measured +100-190 and +330-450, and
# with L2 evicted after every KVM_RUN (BENCH_RUN_COLD=2048) +120-130 and +340-380. The engine
# touches about 1.7 times the plain loop's lines cached and 3 times through Lua, so a change
# that adds lines costs more there than its instructions say (t_exit_cost counts those).
#
# How: bench_run's guest (a real KVM guest looping on `vmovdqu (%rax),%ymm0` from MMIO) runs
# under valgrind's lackey, which reports every instruction's and every load's and store's
# address, with one variant alone (BENCH_RUN_ONLY) for 200 exits. Between one KVM_RUN ioctl
# and the next are one exit's handling and the loop around it; the distinct 64-byte lines of
# code and of data in each such interval are that exit's lines. Past the first 60 exits
# (warming: the memo compiles, the cache fills) and before the last 20 (the store exit, the
# end of the run), the count is the same exit after exit; the median is checked.
#
# What is checked, per exit, for the cached verdict and the Lua policy: code and data lines
# within their budgets. The saving loop (the hand-written loop the targets compare with) is
# counted too and printed, with the engine's lines over it. The lines counted include the
# benchmark loop's own (its clock reads, ~17 code lines) and libc's and liblua's: the same in
# every variant, from Debian's packages.
#
# The budgets are what the code touched (GCC 12 -O2 with LTO, AMD EPYC, Debian 12's liblua and
# libc, 2026-12-03: cached 102 code and 80 data lines, Lua 206 and 134, the saving loop 56 and
# 54) with ~12% of room (XG_KVM_NO_TLB=1, the walk made every exit, is +8 code lines and fits;
# XG_KVM_NO_DIRECT=1, every exit through the emulator's pipeline, is +59 and +22 cached and
# fails); a change that needs more raises them here, saying why. Skips as
# t_exit_cost: sanitizer builds, other compilers, builds without optimisation, hosts without
# valgrind, python3 or a usable /dev/kvm.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"

BUDGET_CACHED_CODE=114
BUDGET_CACHED_DATA=90
BUDGET_LUA_CODE=230
BUDGET_LUA_DATA=150
EXITS=200
BENCH="$XG_BUILD/bench/bench_run"

WHAT="code layout"
. "$XG_SOURCE/tests/bench/bench_gate.sh"
command -v python3 >/dev/null || {
	echo "1..0 # SKIP python3 is not installed (Debian: apt-get install python3)"
	exit 0
}

# lines VARIANT: "code data code_pages data_pages intervals" per steady exit (medians), from
# lackey's trace streamed through python (the trace is ~0.5 GB per 1000 exits: not kept)
lines() {
	BENCH_RUN_ONLY=$1 timeout 600 valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes \
		--log-fd=3 "$BENCH" "$EXITS" 1 3>&1 >/dev/null 2>"$T/$1.err" | python3 -c '
import sys
KVM_RUN = ", 0xae80,"  # the ioctl number of KVM_RUN (_IO(0xAE, 0x80))
code, data, counts = set(), set(), []
for line in sys.stdin.buffer:
    c = line[:2]
    if c == b"I ":
        a, n = line[3:].split(b",")
        a = int(a, 16); n = int(n)
        code.add(a >> 6); code.add((a + n - 1) >> 6)
    elif c in (b" L", b" S", b" M"):
        a, n = line[3:].split(b",")
        a = int(a, 16); n = int(n)
        data.add(a >> 6); data.add((a + n - 1) >> 6)
    elif line.startswith(b"SYSCALL") and b"sys_ioctl" in line and KVM_RUN.encode() in line:
        counts.append((len(code), len(data), len({l >> 6 for l in code}),
                       len({l >> 6 for l in data})))
        code, data = set(), set()
steady = counts[60:-20]
if len(steady) < 50:
    print("0 0 0 0 %d" % len(counts)); sys.exit(0)
med = lambda i: sorted(s[i] for s in steady)[len(steady) // 2]
print(med(0), med(1), med(2), med(3), len(counts))
'
}

echo "1..7"
n=0
for v in saving cached lua; do
	read -r c d cp dp iv < <(lines $v)
	if [ "${iv:-0}" -lt $((EXITS - 10)) ] || [ "${c:-0}" -eq 0 ]; then
		echo "not ok $((n += 1)) - $v: lackey traced ${iv:-no} KVM_RUNs for $EXITS exits (BENCH_RUN_ONLY=$v valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes $BENCH $EXITS 1)"
		sed 's/^/# /' "$T/$v.err" | tail -20
		continue
	fi
	echo "ok $((n += 1)) - $v: each steady exit touches $c lines of code ($cp pages) and $d of data ($dp pages)"
	eval "${v}_code=$c ${v}_data=$d"
done
check() { # variant kind lines budget
	if [ -z "$3" ]; then
		echo "not ok $((n += 1)) - $1: no $2 lines counted"
	elif [ "$3" -le "$4" ]; then
		echo "ok $((n += 1)) - $1: $3 $2 lines per exit, within the budget of $4; over the saving loop: +$(($3 - $5))"
	else
		echo "not ok $((n += 1)) - $1: $3 $2 lines per exit, over the budget of $4 (over the saving loop: +$(($3 - $5))); to see where: BENCH_RUN_ONLY=$1 valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --log-file=L $BENCH $EXITS 1 writes every access, and the addresses between two 'sys_ioctl ( N, 0xae80' lines are one exit's (nm -n names the code's)"
	fi
}
check cached code "${cached_code:-}" $BUDGET_CACHED_CODE "${saving_code:-0}"
check cached data "${cached_data:-}" $BUDGET_CACHED_DATA "${saving_data:-0}"
check lua code "${lua_code:-}" $BUDGET_LUA_CODE "${saving_code:-0}"
check lua data "${lua_data:-}" $BUDGET_LUA_DATA "${saving_data:-0}"
