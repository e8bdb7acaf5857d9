#!/bin/sh
# t_fuzz_policy.sh - a short, bounded libFuzzer run over policy source, as a TAP test.
# The target (fuzz_policy.c) loads each input as a policy with `exitgate check` and in an
# engine fed exits; it is built with clang from the library's sources under ASan and UBSan.
# Longer runs by hand (from the build directory):
#   tests/fuzz/fuzz_policy -max_total_time=1800 -timeout=5 -rss_limit_mb=2048 \
#       -dict=$src/tests/fuzz/policy.dict corpus/ $src/policies $src/tests/fuzz/policy_seeds
# Without clang (or without libclang-rt for -fsanitize=fuzzer) the test is skipped, never
# passed.
set -u
here=$(cd "$(dirname "$0")" && pwd -P)
src=${XG_SOURCE:-$(cd "$here/../.." && pwd)}
out=${XG_BUILD:-${TMPDIR:-/tmp}}/tests/fuzz
bin=$out/fuzz_policy
runs=${XG_FUZZ_RUNS:-1000}
mkdir -p "$out"
newer=$(find "$src/core" "$src/lua" "$src/tests/fuzz" -newer "$bin" \( -name '*.[ch]' -o -name '*.lua' \) 2>/dev/null)
if [ ! -x "$bin" ] || [ -n "$newer" ]; then
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
	if ! pkg-config --exists lua5.4 capstone yaml-0.1; then
		echo "1..0 # SKIP pkg-config cannot find lua5.4, capstone and yaml-0.1"
		exit 0
	fi
	c=$src/core
	# the library's sources without the KVM backend and the command line
	if ! "$cc" -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
		-Wno-missing-field-initializers -Wno-sign-compare \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-DXG_LUA_DIR="\"$src/lua\"" -DXG_INSTALL_LUA_DIR="\"$src/lua\"" \
		-DXG_BUILD_GUEST_DIR="\"$out\"" -DXG_INSTALL_GUEST_DIR="\"$out\"" \
		-I"$c/include" -I"$c" -I"$c/emu/x86" $(pkg-config --cflags lua5.4 capstone yaml-0.1) \
		"$c"/exit/*.c "$c"/disasm/*.c "$c"/engine/*.c "$c"/config/*.c "$c"/dump/*.c \
		"$c"/action/*.c "$c"/emu/x86/*.c "$src/tests/fuzz/fuzz_policy.c" \
		$(pkg-config --libs lua5.4 capstone yaml-0.1) -lm -lpthread \
		-o "$bin" >"$out/build-policy.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 - fuzz_policy builds"
		sed 's/^/# /' "$out/build-policy.log" | head -60
		exit 1
	fi
fi
echo "1..2"
log=$out/fuzz-policy.log
corpus=$out/policy-corpus
mkdir -p "$corpus"
"$bin" -runs="$runs" -max_total_time=30 -timeout=10 -seed=1 -rss_limit_mb=2048 \
	-dict="$src/tests/fuzz/policy.dict" -artifact_prefix="$out/policy-" \
	"$corpus" "$src/policies" "$src/tests/fuzz/policy_seeds" >"$log" 2>&1
rc=$?
done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
if [ $rc -eq 0 ]; then
	echo "ok 1 - fuzz_policy: no crash, abort, hang or sanitizer report"
else
	echo "not ok 1 - fuzz_policy found something (exit $rc; artifacts in $out/policy-*)"
	tail -40 "$log" | sed 's/^/# /'
fi
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
echo "# ${done_runs:-0} runs, $cov, $(grep -c 'NEW' "$log") new inputs"
if [ "${done_runs:-0}" -gt 0 ]; then
	echo "ok 2 - ${done_runs} executions"
else
	echo "not ok 2 - the fuzzer did not run"
fi
