#!/bin/sh
# t_fuzz_triage.sh - a short, bounded libFuzzer run of `exitgate triage`'s parser, deriver and
# renderers and of `exitgate show`'s dump reader (fuzz_triage.c), seeded with the real-world
# samples and a dump, as a TAP test.
# Longer runs by hand (a corpus directory of your own first; seeds are read only):
#   $XG_BUILD/tests/fuzz/fuzz_triage -max_total_time=1800 -rss_limit_mb=2048 -timeout=10 \
#       corpus/ tests/triage/samples
# Uses the shared runner (tests/fuzz/lib.sh); without clang (or libclang-rt for
# -fsanitize=fuzzer) the test is skipped, never passed.
NAME=fuzz_triage
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/fuzz/lib.sh"
if fuzz_stale "$src/core/triage" "$src/core/exit" "$src/core/disasm" \
	"$src/core/emu/x86" "$src/tests/triage/fuzz_triage.c"; then
	fuzz_cc capstone
	# shellcheck disable=SC2046 # pkg-config's words are separate flags
	fuzz_build -I"$src/core" -I"$src/core/include" -I"$src/core/emu/x86" \
		$(pkg-config --cflags capstone) \
		"$src"/core/triage/*.c "$src/core/exit/names.c" "$src/core/exit/decode.c" \
		"$src/core/exit/fields.c" "$src/core/exit/json.c" "$src/core/disasm/disasm.c" \
		"$src"/core/emu/x86/*.c "$src/tests/triage/fuzz_triage.c" \
		$(pkg-config --libs capstone) -lm -lpthread
fi
corpus=$out/triage-corpus
rm -rf "$corpus"
mkdir -p "$corpus"
fuzz_run "crash, sanitizer report, bloat, hang or broken promise" \
	-runs="${XG_FUZZ_RUNS:-30000}" -max_total_time=30 -timeout=10 -max_len=8192 \
	"$corpus" "$src/tests/triage/samples" "$src/tests/triage/dump_seeds"
