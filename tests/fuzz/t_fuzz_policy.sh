#!/bin/sh
# t_fuzz_policy.sh - a short, bounded libFuzzer run over policy source, as a TAP test.
# The target (fuzz_policy.c) loads each input as a policy with `exitgate check` and in an
# engine fed exits; it is built with clang from the library's sources under ASan and UBSan.
# Longer runs by hand (from the build directory):
#   tests/fuzz/fuzz_policy -max_total_time=1800 -timeout=5 -rss_limit_mb=2048 \
#       -dict=$src/tests/fuzz/policy.dict corpus/ $src/policies $src/tests/fuzz/policy_seeds
# Without clang (or without libclang-rt for -fsanitize=fuzzer) the test is skipped, never
# passed.
NAME=fuzz_policy
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/fuzz/lib.sh"
if fuzz_stale "$src/core" "$src/lua" "$src/tests/fuzz/fuzz_policy.c"; then
	fuzz_cc lua5.4 capstone yaml-0.1
	c=$src/core
	# the library's sources without the KVM backend and the command line
	# shellcheck disable=SC2046 # pkg-config's words are separate flags
	fuzz_build -Wno-missing-field-initializers -Wno-sign-compare \
		-DXG_LUA_DIR="\"$src/lua\"" -DXG_INSTALL_LUA_DIR="\"$src/lua\"" \
		-DXG_BUILD_GUEST_DIR="\"$out\"" -DXG_INSTALL_GUEST_DIR="\"$out\"" \
		-I"$c/include" -I"$c" -I"$c/emu/x86" -I"$c/emu/arm64" $(pkg-config --cflags lua5.4 capstone yaml-0.1) \
		"$c"/exit/*.c "$c"/disasm/*.c "$c"/engine/*.c "$c"/config/*.c "$c"/dump/*.c \
		"$c"/action/*.c "$c"/emu/x86/*.c "$c"/emu/arm64/*.c "$src/tests/fuzz/fuzz_policy.c" \
		$(pkg-config --libs lua5.4 capstone yaml-0.1) -lm -lpthread
fi
corpus=$out/policy-corpus
mkdir -p "$corpus"
fuzz_run "crash, abort, hang or sanitizer report" \
	-runs="${XG_FUZZ_RUNS:-1000}" -max_total_time=30 -timeout=10 \
	-dict="$src/tests/fuzz/policy.dict" "$corpus" "$src/policies" "$src/tests/fuzz/policy_seeds"
