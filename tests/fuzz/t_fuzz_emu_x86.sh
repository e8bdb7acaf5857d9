#!/bin/sh
# t_fuzz_emu_x86.sh - a short, bounded libFuzzer run of the x86 emulator, as a TAP test.
# Longer runs by hand: $XG_BUILD/tests/fuzz/fuzz_emu_x86 -max_total_time=3600 corpus/
# Uses the binary built with -DXG_FUZZ=ON, or builds it here with clang; without clang (or
# without libclang-rt for -fsanitize=fuzzer) the test is skipped, never passed.
set -u
here=$(cd "$(dirname "$0")" && pwd -P)
src=${XG_SOURCE:-$(cd "$here/../.." && pwd)}
out=${XG_BUILD:-${TMPDIR:-/tmp}}/tests/fuzz
bin=$out/fuzz_emu_x86
runs=${XG_FUZZ_RUNS:-200000}
mkdir -p "$out"
if [ ! -x "$bin" ] || [ -n "$(find "$src/core/emu/x86" "$src/tests/fuzz" -newer "$bin" -name '*.[ch]' 2>/dev/null)" ]; then
	cc=$(command -v clang-14 || command -v clang || true)
	if [ -z "$cc" ]; then
		echo "1..0 # SKIP clang not found (apt-get install clang-14 libclang-rt-14-dev)"
		exit 0
	fi
	if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' |
		"$cc" -x c -fsanitize=fuzzer - -o "$out/.probe" 2>/dev/null; then
		echo "1..0 # SKIP $cc cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)"
		exit 0
	fi
	rm -f "$out/.probe"
	if ! "$cc" -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I"$src/core/emu/x86" "$src"/core/emu/x86/*.c "$src/tests/fuzz/fuzz_emu_x86.c" \
		-o "$bin" >"$out/build.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 - fuzz_emu_x86 builds"
		sed 's/^/# /' "$out/build.log"
		exit 1
	fi
fi
echo "1..2"
log=$out/fuzz.log
"$bin" -runs="$runs" -max_total_time=60 -seed=1 -rss_limit_mb=2048 \
	-artifact_prefix="$out/" >"$log" 2>&1
rc=$?
done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
if [ $rc -eq 0 ]; then
	echo "ok 1 - fuzz_emu_x86: no crash, sanitizer report or broken ops promise"
else
	echo "not ok 1 - fuzz_emu_x86 found something (exit $rc; artifacts in $out)"
	tail -40 "$log" | sed 's/^/# /'
fi
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
echo "# ${done_runs:-0} runs, $cov, $(grep -c 'NEW' "$log") new inputs"
if [ "${done_runs:-0}" -gt 0 ]; then
	echo "ok 2 - ${done_runs} executions"
else
	echo "not ok 2 - the fuzzer did not run"
fi
