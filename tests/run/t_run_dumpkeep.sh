#!/usr/bin/env bash
# t_run_dumpkeep.sh - dumps people can use: a guest without dump_dir dumps into the default
# directory ($XDG_STATE_HOME/exitgate/dumps; /var/lib/exitgate/dumps for root; else
# ~/.local/state/exitgate/dumps), made 0700 with its parents and named in the summary; each
# dump names its run and the previous dump of its vCPU ("run", "previous"); dump_keep
# { count, bytes, age } keeps a guest's dumps in a directory within limits, oldest removed
# first, never the dump just written, never another guest's dumps or other files.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

# --- the default directory -------------------------------------------------------------
c=$(cfg dump.yaml)
sed -i '/^defaults:/d; /dump_dir:/d' "$c"
xrun --stats "$T/s.json" "$c"
run=$(js "$T/s.json" '$d->{run}')
DD="$XDG_STATE_HOME/exitgate/dumps"
files=("$DD"/dump-*-vcpu0-*.json)
[ -f "${files[0]}" ] && [ ${#files[@]} = 1 ]; ok $? "no dump_dir: the dump is in \$XDG_STATE_HOME/exitgate/dumps (${files[*]##*/}, status $rc)"
[ "$(stat -c %a "$XDG_STATE_HOME/exitgate")" = 700 ] && [ "$(stat -c %a "$DD")" = 700 ]
ok $? "the directory and its missing parent are made 0700 ($(stat -c %a "$DD" 2>&1))"
has "$ERR" "dumps: +1 \\(run $run\\) in $DD \\(the default: no dump_dir configured\\)"
ok $? "the summary names the default directory ($(grep -m1 'dumps:' <<<"$ERR"))"
[ -n "$run" ] && [ "$(js "${files[0]}" '$d->{run}')" = "$run" ]; ok $? "the dump names its run ($run)"
[ "$(js "${files[0]}" 'exists $d->{previous} && !defined $d->{previous} ? "null" : "x"')" = null ]
ok $? "the first dump of a vCPU has previous: null"

# where the default is without XDG_STATE_HOME: said even when nothing was dumped
mkdir -p "$T/home"
(unset XDG_STATE_HOME; HOME="$T/home" xrun "$(cfg trial.yaml)"; echo "$ERR" >"$T/err2")
if [ "$(id -u)" = 0 ]; then
	want=/var/lib/exitgate/dumps
else
	want="$T/home/.local/state/exitgate/dumps"
fi
has "$(cat "$T/err2")" "dumps: +0 \\(run [^)]*\\) in $want \\(the default"
ok $? "without XDG_STATE_HOME the default is $want for uid $(id -u) ($(grep -m1 'dumps:' "$T/err2"))"

# --- a dump loop: previous links and retention by count ---------------------------------
D="$T/keep"
mkdir -p "$D"
loop_cfg() { # loop_cfg KEEP: a guest dumping every exit until the storm limit stops it
	{
		echo "guests:"
		echo "  loop:"
		echo "    policy: $RUN_DIR/dumploop.lua"
		echo "    dump_dir: $D"
		echo "    dump_max: 1000"
		echo "    dump_keep: $1"
		echo "    vm:"
		echo "      payload: $GUESTS/faults.bin"
		echo "      memory: 16M"
		echo "      timeout: 30"
		echo "      storm: 12"
		echo "      devices:"
		echo "        - { type: console, port: 0x3f8 }"
		echo "        - { type: pattern, at: 0xd0100000, size: 4K }"
	} >"$T/loop.yaml"
	echo "$T/loop.yaml"
}
# planted: two dumps of an earlier run (older), another guest's whose name starts "loop-",
# and a file that is no dump
old="loop-20260101T000000.000000Z-1-vcpu0"
echo '{}' >"$D/$old-000001.json"; touch -d '2 days ago' "$D/$old-000001.json"
echo '{}' >"$D/$old-000002.json"; touch -d '1 day ago' "$D/$old-000002.json"
echo '{}' >"$D/loop-2-20260101T000000.000000Z-1-vcpu0-000001.json"; touch -d '3 days ago' "$D/loop-2-20260101T000000.000000Z-1-vcpu0-000001.json"
echo 'notes' >"$D/loop-notes.json"; touch -d '3 days ago' "$D/loop-notes.json"
xrun --stats "$T/s.json" "$(loop_cfg '{ count: 5 }')"
run=$(js "$T/s.json" '$d->{run}')
nd=$(js "$T/s.json" '$d->{guests}[0]{engine}{dumps}')
mine=($(cd "$D" && ls loop-"$run"-vcpu0-*.json 2>/dev/null))
diag "the loop wrote $nd dumps (status $rc); left: $(cd "$D" && ls | tr '\n' ' ')"
[ "${nd:-0}" -gt 6 ]; ok $? "the loop wrote more dumps than dump_keep.count ($nd)"
[ ${#mine[@]} = 5 ] && [ "$(ls "$D" | grep -c '^loop-20')" = 5 ]; ok $? "count 5: five of the guest's dumps are left, all of this run (${#mine[@]})"
[ "${mine[4]:-}" = "loop-$run-vcpu0-$(printf %06d "$nd").json" ]; ok $? "the newest (the last written, seq $nd) is kept"
[ ! -e "$D/$old-000001.json" ] && [ ! -e "$D/$old-000002.json" ]; ok $? "the earlier run's dumps went first"
[ -e "$D/loop-2-20260101T000000.000000Z-1-vcpu0-000001.json" ] && [ -e "$D/loop-notes.json" ]
ok $? "another guest's dumps and files that are not dumps are kept"
has "$ERR" "removed 1 old dump of loop from $D \\(dump_keep\\)"; ok $? "the log says what dump_keep removed"
good=$([ ${#mine[@]} -gt 0 ] && echo 1 || echo 0)
for f in "${mine[@]}"; do
	s=${f##*-}; s=$((10#${s%.json}))
	p=$(js "$D/$f" '$d->{previous}')
	[ "$p" = "loop-$run-vcpu0-$(printf %06d $((s - 1))).json" ] && [ "$(js "$D/$f" '$d->{run}')" = "$run" ] || { good=0; diag "$f: previous '$p'"; }
done
[ $good = 1 ]; ok $? "each dump names the previous dump of its vCPU in this run, and the run"

# --- by bytes: only the dump just written survives ----------------------------------------
rm -rf "$D"; mkdir -p "$D"
xrun --stats "$T/s.json" "$(loop_cfg '{ count: 0, bytes: 1 }')"
run=$(js "$T/s.json" '$d->{run}')
nd=$(js "$T/s.json" '$d->{guests}[0]{engine}{dumps}')
left=($(cd "$D" && ls))
[ "${nd:-0}" -gt 1 ] && [ ${#left[@]} = 1 ] && [ "${left[0]}" = "loop-$run-vcpu0-$(printf %06d "$nd").json" ]
ok $? "bytes 1: of $nd dumps only the last one written is left (${left[*]})"

# --- by age ------------------------------------------------------------------------------
rm -rf "$D"; mkdir -p "$D"
echo '{}' >"$D/$old-000001.json"; touch -d '2 days ago' "$D/$old-000001.json"
echo '{}' >"$D/$old-000002.json"; touch -d '1 hour ago' "$D/$old-000002.json"
xrun --stats "$T/s.json" "$(loop_cfg '{ count: 0, age: 1d }')"
nd=$(js "$T/s.json" '$d->{guests}[0]{engine}{dumps}')
[ ! -e "$D/$old-000001.json" ] && [ -e "$D/$old-000002.json" ] && [ "$(ls "$D" | wc -l)" = $((nd + 1)) ]
ok $? "age 1d: the dump two days old is removed, the one an hour old and this run's are kept"

# --- bad configuration ---------------------------------------------------------------------
for bad in '{ count: lots }' '{ age: 7w }' '{ kept: 1 }' '5'; do
	xrun "$(loop_cfg "$bad")"
	[ $rc != 0 ] && has "$ERR" "loop.yaml:[0-9]+.*(count|age|kept|dump_keep)" && ! has "$ERR" '\.c:[0-9]'
	ok $? "dump_keep: $bad is refused with the line ($(head -1 <<<"$ERR"))"
done
finish
