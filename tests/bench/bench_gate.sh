# bench_gate.sh - sourced by the suite's counts of bench_run under valgrind (t_exit_cost,
# t_exit_lines): skips where their budgets do not apply, stops where bench_run cannot run.
# Needs BENCH (bench_run's path) and WHAT (what the budgets are: "instruction counts",
# "code layout"). Counts are the compiler's: GCC's optimised builds only; sanitizer builds
# skip (valgrind cannot run them), and so do other compilers (clang 14's DWARF 5 stops Debian
# 12's valgrind 3.19), builds without optimisation, hosts without valgrind or /dev/kvm.
# bench_run's cold mode is for its timed figures, not for what these count
unset BENCH_RUN_COLD
[ "${XG_SANITIZE:-OFF}" = OFF ] || {
	echo "1..0 # SKIP a sanitizer build: valgrind cannot run it, and what it counts is not the path's"
	exit 0
}
case "${XG_C_COMPILER_ID:-}" in
GNU) ;;
*)
	echo "1..0 # SKIP built with '${XG_C_COMPILER_ID:-an unknown compiler}': the budgets are GCC's $WHAT"
	exit 0
	;;
esac
case "${XG_BUILD_TYPE:-}" in
RelWithDebInfo | Release) ;;
*)
	echo "1..0 # SKIP build type '${XG_BUILD_TYPE:-none}': the budgets are an optimised build's (RelWithDebInfo or Release)"
	exit 0
	;;
esac
command -v valgrind >/dev/null || {
	echo "1..0 # SKIP valgrind is not installed (Debian: apt-get install valgrind)"
	exit 0
}
[ -x "$BENCH" ] || {
	echo "Bail out! $BENCH is not built (the check target builds it)"
	exit 1
}
probe=$(BENCH_RUN_ONLY=cached "$BENCH" 10 1 2>&1)
case $? in
0) ;;
77)
	echo "1..0 # SKIP bench_run cannot use /dev/kvm here: $(head -1 <<<"$probe")"
	exit 0
	;;
*)
	echo "Bail out! bench_run fails without valgrind: $(head -3 <<<"$probe" | tr '\n' ' ')"
	exit 1
	;;
esac
