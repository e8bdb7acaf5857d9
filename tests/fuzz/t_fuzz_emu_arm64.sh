#!/bin/sh
# t_fuzz_emu_arm64.sh - a short, bounded libFuzzer run of the A64 load/store emulator (decode
# and emulate over fake ops, fuzz_emu_arm64.c), as a TAP test.
# Longer runs by hand: $XG_BUILD/tests/fuzz/fuzz_emu_arm64 -max_total_time=3600 corpus/
# Uses the binary built with -DXG_FUZZ=ON, or builds it here with clang; without clang (or
# without libclang-rt for -fsanitize=fuzzer) the test is skipped, never passed.
NAME=fuzz_emu_arm64
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/fuzz/lib.sh"
if fuzz_stale "$src/core/emu/arm64" "$src/tests/fuzz/fuzz_emu_arm64.c"; then
	fuzz_cc
	fuzz_build -I"$src/core/emu/arm64" "$src"/core/emu/arm64/*.c "$src/tests/fuzz/fuzz_emu_arm64.c"
fi
fuzz_run "crash, sanitizer report or broken ops promise" \
	-runs="${XG_FUZZ_RUNS:-200000}" -max_total_time=60
