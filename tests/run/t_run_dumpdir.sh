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
finish
