#!/bin/sh
# t_fuzz_trace.sh - a short, bounded libFuzzer run of the record reader (fuzz_trace.c) from
# the seeds in trace_seeds/ (records of real runs, with CRCs rewritten by the target in one
# mode so that the chunk contents are reached), as a TAP test. Longer runs by hand:
#   $XG_BUILD/tests/fuzz/fuzz_trace -max_total_time=1800 -timeout=10 corpus/ \
#       tests/fuzz/trace_seeds
# Without clang (or without libclang-rt for -fsanitize=fuzzer) the test is skipped, never
# passed.
NAME=fuzz_trace
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/fuzz/lib.sh"
if fuzz_stale "$src/core/trace" "$src/core/config/readfile.c" \
	"$src/core/emu/x86/xg_emu_x86_layout.c" "$src/core/emu/x86/xg_emu_x86.h" \
	"$src/tests/fuzz/fuzz_trace.c"; then
	fuzz_cc
	fuzz_build -I"$src/core" -I"$src/core/include" -I"$src/core/emu/x86" \
		"$src/core/trace/trace_read.c" "$src/core/config/readfile.c" \
		"$src/core/emu/x86/xg_emu_x86_layout.c" "$src/tests/fuzz/fuzz_trace.c"
fi
corpus=$out/trace-corpus
rm -rf "$corpus"
mkdir -p "$corpus"
fuzz_run "crash, sanitizer report, bloat, hang or broken promise" \
	-runs="${XG_FUZZ_RUNS:-100000}" -max_total_time=30 -timeout=10 \
	"$corpus" "$src/tests/fuzz/trace_seeds"
