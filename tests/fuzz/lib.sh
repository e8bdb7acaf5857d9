# lib.sh - what the bounded libFuzzer runs of the suite share (sourced, not run): finding
# clang with a libFuzzer runtime (or skipping, never passing, without one), building a
# target when its sources changed, and reporting a run as two TAP tests.
#
# A script sets NAME (the target) and sources this; $src, $out and $bin are then set.
set -u
src=${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}
out=${XG_BUILD:-${TMPDIR:-/tmp}}/tests/fuzz
bin=$out/$NAME
mkdir -p "$out"

# fuzz_stale PATH...: 0 when $bin is missing or older than a C, header or Lua file under PATHs.
fuzz_stale() {
	[ ! -x "$bin" ] ||
		[ -n "$(find "$@" -newer "$bin" \( -name '*.[ch]' -o -name '*.lua' \) 2>/dev/null)" ]
}

# fuzz_cc [PKG...]: sets $cc to a clang that links -fsanitize=fuzzer, and checks that
# pkg-config knows the PKGs; prints the TAP skip and exits when something is missing.
fuzz_cc() {
	cc=$(command -v clang-14 || command -v clang || true)
	if [ -z "$cc" ]; then
		echo "1..0 # SKIP clang not found (apt-get install clang-14 libclang-rt-14-dev)"
		exit 0
	fi
	if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' |
		"$cc" -x c -fsanitize=fuzzer - -o "$out/.probe-$NAME" 2>/dev/null; then
		echo "1..0 # SKIP $cc cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)"
		exit 0
	fi
	rm -f "$out/.probe-$NAME"
	if [ $# -gt 0 ] && ! pkg-config --exists "$@"; then
		echo "1..0 # SKIP pkg-config cannot find $*"
		exit 0
	fi
}

# fuzz_build ARGS...: $cc with the suite's warnings and sanitizers, ARGS, -o $bin; a failure
# is one failing TAP test with the compiler's words.
fuzz_build() {
	if ! "$cc" -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		"$@" -o "$bin" >"$out/build-$NAME.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 - $NAME builds"
		sed 's/^/# /' "$out/build-$NAME.log" | head -60
		exit 1
	fi
}

# fuzz_run WHAT ARGS...: runs $bin with ARGS (-seed=1, a 2 GiB RSS limit and artifacts in
# $out/NAME-*), then says as TAP whether it found nothing (WHAT: what "nothing" covers) and
# whether it executed at all.
fuzz_run() {
	what=$1
	shift
	log=$out/fuzz-$NAME.log
	echo "1..2"
	"$bin" -seed=1 -rss_limit_mb=2048 -artifact_prefix="$out/$NAME-" "$@" >"$log" 2>&1
	rc=$?
	done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
	if [ $rc -eq 0 ]; then
		echo "ok 1 - $NAME: no $what"
	else
		echo "not ok 1 - $NAME found something (exit $rc; artifacts in $out/$NAME-*)"
		tail -40 "$log" | sed 's/^/# /'
	fi
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	echo "# ${done_runs:-0} runs, $cov, $(grep -c 'NEW' "$log") new inputs"
	if [ "${done_runs:-0}" -gt 0 ]; then
		echo "ok 2 - ${done_runs} executions"
	else
		echo "not ok 2 - the fuzzer did not run"
	fi
}
