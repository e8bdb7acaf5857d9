#!/usr/bin/env bash
# t_run_dumpdir.sh - runs sharing one dump_dir: each dump's name carries its run's identity
# (<guest>-<run>-vcpu<N>-<seq>.json, the run also in the dump and in --stats), so a second run
# keeps the first one's dumps, and the names sort by time. At the start of a run, temp files
# that writers killed mid-dump left (".NAME.<pid>.tmp" of a pid that is gone; the old
# ".NAME.tmp" once older than 10 minutes) are removed; a live writer's temp file, and files
# that are not dump temp files, are kept.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
c=$(cfg triple.yaml)
D="$T/dumps"

xrun --stats "$T/s1.json" "$c"
run1=$(js "$T/s1.json" '$d->{run}')
mkdir -p "$D"
# planted: a dead writer's temp file, a live one's (this shell), the old format (old and
# new), and two files that are no dump temp files
sh -c 'exit 0' & dead=$!; wait $dead
while kill -0 "$dead" 2>/dev/null; do sh -c 'exit 0' & dead=$!; wait $dead; done
echo '{"half' >"$D/.triple-20260101T000000.000000Z-$dead-vcpu0-000001.json.$dead.tmp"
echo '{"half' >"$D/.triple-20260101T000000.000000Z-$$-vcpu0-000001.json.$$.tmp"
echo '{"half' >"$D/.triple-vcpu0-1.json.tmp"; touch -d '1 hour ago' "$D/.triple-vcpu0-1.json.tmp"
echo '{"half' >"$D/.triple-vcpu0-2.json.tmp"
echo 'keep' >"$D/.notes.tmp"
echo 'keep' >"$D/.x.json.12x.tmp"
sleep 0.01
xrun --stats "$T/s2.json" "$c"
run2=$(js "$T/s2.json" '$d->{run}')

files=($(cd "$D" && ls *.json 2>/dev/null))
[ ${#files[@]} = 2 ]; ok $? "two runs into one dump_dir: both dumps are there (${files[*]})"
[ -n "$run1" ] && [ -n "$run2" ] && [ "$run1" != "$run2" ]; ok $? "each run has its own identity ($run1, $run2)"
[ "${files[0]:-}" = "triple-$run1-vcpu0-000001.json" ] && [ "${files[1]:-}" = "triple-$run2-vcpu0-000001.json" ]
ok $? "names are <guest>-<run>-vcpu<N>-<seq>.json and sort by time (first run first)"
[ "$(js "$D/${files[0]:-}" '$d->{run}')" = "$run1" ] && [ "$(js "$D/${files[1]:-}" '$d->{run}')" = "$run2" ]
ok $? "each dump names its run"
has "$ERR" "dumps: +1 \\(run $run2\\)"; ok $? "the summary gives the run with the dumps"

[ ! -e "$D/.triple-20260101T000000.000000Z-$dead-vcpu0-000001.json.$dead.tmp" ]; ok $? "a dead writer's temp file (pid $dead) is removed"
[ -e "$D/.triple-20260101T000000.000000Z-$$-vcpu0-000001.json.$$.tmp" ]; ok $? "a live writer's temp file (pid $$) is kept"
[ ! -e "$D/.triple-vcpu0-1.json.tmp" ]; ok $? "an old-format temp file an hour old is removed"
[ -e "$D/.triple-vcpu0-2.json.tmp" ]; ok $? "a fresh old-format one (its writer may live) is kept"
[ -e "$D/.notes.tmp" ] && [ -e "$D/.x.json.12x.tmp" ]; ok $? "files that are not dump temp files are kept"
has "$ERR" 'removed 2 stale dump temp files'; ok $? "stderr says what was removed ($(grep -m1 stale <<<"$ERR"))"

# The outside tester's case: a run killed with -9 while it writes dump after dump. Whatever
# temp file it left, the next run into the directory removes it.
rm -rf "$D"
{
	echo "guests:"
	echo "  loop:"
	echo "    policy: $RUN_DIR/dumploop.lua"
	echo "    dump_dir: $D"
	echo "    dump_max: 1000000"
	echo "    vm:"
	echo "      payload: $GUESTS/faults.bin"
	echo "      memory: 16M"
	echo "      timeout: 30"
	echo "      storm: 0"
	echo "      devices:"
	echo "        - { type: console, port: 0x3f8 }"
	echo "        - { type: pattern, at: 0xd0100000, size: 4K }"
} >"$T/loop.yaml"
"$X" run --quiet "$T/loop.yaml" >/dev/null 2>&1 &
pid=$!
BG_PIDS="$pid"
for ((i = 0; i < 200; i++)); do
	[ "$(ls "$D" 2>/dev/null | wc -l)" -ge 20 ] && break
	sleep 0.05
done
kill -9 "$pid"; wait "$pid" 2>/dev/null; BG_PIDS=""
nd=$(ls "$D"/*.json 2>/dev/null | wc -l)
left=$(ls -a "$D" | grep -c "\.$pid\.tmp\$")
diag "killed pid $pid after $nd dumps; it left $left temp file(s)"
[ "$nd" -ge 20 ]; ok $? "the looping run wrote dumps until it was killed ($nd)"
xrun "$c"
left=$(ls -a "$D" | grep -c "\.$pid\.tmp\$")
[ "$left" = 0 ]; ok $? "the next run into the directory leaves none of the killed run's temp files ($left)"
[ "$(ls "$D"/*.json | wc -l)" = $((nd + 1)) ]; ok $? "... and keeps every dump it wrote, adding its own"
finish
