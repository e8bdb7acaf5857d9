#!/bin/sh
# t_fuzz_config.sh - a short, bounded libFuzzer run of the configuration loader and the
# pushing of params into Lua (fuzz_config.c), with the YAML dictionary and the seeds in
# config_seeds/ (among them the issue's cycle, deep nesting and alias bomb), as a TAP test.
# Longer runs by hand (a corpus directory of your own first; seeds are read only):
#   $XG_BUILD/tests/fuzz/fuzz_config -dict=tests/fuzz/yaml.dict -max_total_time=1800 \
#       -rss_limit_mb=2048 -timeout=10 corpus/ tests/fuzz/config_seeds
# Uses the binary built with -DXG_FUZZ=ON, or builds it here with clang; without clang (or
# without libclang-rt for -fsanitize=fuzzer) the test is skipped, never passed.
set -u
here=$(cd "$(dirname "$0")" && pwd -P)
src=${XG_SOURCE:-$(cd "$here/../.." && pwd)}
out=${XG_BUILD:-${TMPDIR:-/tmp}}/tests/fuzz
bin=$out/fuzz_config
runs=${XG_FUZZ_RUNS:-100000}
mkdir -p "$out"
if [ ! -x "$bin" ] || [ -n "$(find "$src/core/config" "$src/core/engine/params.c" \
	"$src/core/engine/engine_int.h" "$src/tests/fuzz" -newer "$bin" -name '*.[ch]' 2>/dev/null)" ]; then
	cc=$(command -v clang-14 || command -v clang || true)
	if [ -z "$cc" ]; then
		echo "1..0 # SKIP clang not found (apt-get install clang-14 libclang-rt-14-dev)"
		exit 0
	fi
	if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' |
		"$cc" -x c -fsanitize=fuzzer - -o "$out/.probe-config" 2>/dev/null; then
		echo "1..0 # SKIP $cc cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)"
		exit 0
	fi
	rm -f "$out/.probe-config"
	# shellcheck disable=SC2046 # pkg-config's words are separate flags
	if ! "$cc" -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-DXG_BUILD_GUEST_DIR="\"$out\"" -DXG_INSTALL_GUEST_DIR="\"$out\"" \
		-I"$src/core" -I"$src/core/include" $(pkg-config --cflags lua5.4 yaml-0.1) \
		"$src/core/config/config.c" "$src/core/engine/params.c" \
		"$src/tests/fuzz/fuzz_config.c" $(pkg-config --libs lua5.4 yaml-0.1) -lm \
		-o "$bin" >"$out/build-config.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 - fuzz_config builds"
		sed 's/^/# /' "$out/build-config.log"
		exit 1
	fi
fi
echo "1..2"
log=$out/fuzz-config.log
corpus=$out/config-corpus
rm -rf "$corpus"
mkdir -p "$corpus"
"$bin" -runs="$runs" -max_total_time=30 -seed=1 -rss_limit_mb=2048 -timeout=10 \
	-dict="$src/tests/fuzz/yaml.dict" -artifact_prefix="$out/config-" \
	"$corpus" "$src/tests/fuzz/config_seeds" >"$log" 2>&1
rc=$?
done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
if [ $rc -eq 0 ]; then
	echo "ok 1 - fuzz_config: no crash, sanitizer report, bloat, hang or broken promise"
else
	echo "not ok 1 - fuzz_config found something (exit $rc; artifacts in $out)"
	tail -40 "$log" | sed 's/^/# /'
fi
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
echo "# ${done_runs:-0} runs, $cov, $(grep -c 'NEW' "$log") new inputs"
if [ "${done_runs:-0}" -gt 0 ]; then
	echo "ok 2 - ${done_runs} executions"
else
	echo "not ok 2 - the fuzzer did not run"
fi
