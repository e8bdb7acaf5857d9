#!/bin/sh
# t_fuzz_config.sh - a short, bounded libFuzzer run of the configuration loader and the
# pushing of params into Lua (fuzz_config.c), with the YAML dictionary and the seeds in
# config_seeds/ (among them the cycle, deep nesting and alias bomb), as a TAP test.
# Longer runs by hand (a corpus directory of your own first; seeds are read only):
#   $XG_BUILD/tests/fuzz/fuzz_config -dict=tests/fuzz/yaml.dict -max_total_time=1800 \
#       -rss_limit_mb=2048 -timeout=10 corpus/ tests/fuzz/config_seeds
# Uses the binary built with -DXG_FUZZ=ON, or builds it here with clang; without clang (or
# without libclang-rt for -fsanitize=fuzzer) the test is skipped, never passed.
NAME=fuzz_config
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/fuzz/lib.sh"
if fuzz_stale "$src/core/config" "$src/core/engine/params.c" "$src/core/engine/engine_int.h" \
	"$src/core/xg_counter.h" \
	"$src/tests/fuzz/fuzz_config.c"; then
	fuzz_cc lua5.4 yaml-0.1
	# shellcheck disable=SC2046 # pkg-config's words are separate flags
	fuzz_build -DXG_BUILD_GUEST_DIR="\"$out\"" -DXG_INSTALL_GUEST_DIR="\"$out\"" \
		-I"$src/core" -I"$src/core/include" $(pkg-config --cflags lua5.4 yaml-0.1) \
		"$src/core/config/config.c" "$src/core/config/readfile.c" "$src/core/engine/params.c" \
		"$src/tests/fuzz/fuzz_config.c" $(pkg-config --libs lua5.4 yaml-0.1) -lm
fi
corpus=$out/config-corpus
rm -rf "$corpus"
mkdir -p "$corpus"
fuzz_run "crash, sanitizer report, bloat, hang or broken promise" \
	-runs="${XG_FUZZ_RUNS:-100000}" -max_total_time=30 -timeout=10 \
	-dict="$src/tests/fuzz/yaml.dict" "$corpus" "$src/tests/fuzz/config_seeds"
