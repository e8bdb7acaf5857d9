#!/usr/bin/env bash
# t_run_bombs.sh - configurations written to kill or bloat the VMM (issue 9): an alias cycle,
# params nested 100 and 10000 deep, and 7 levels of 9 aliases (4.8 million nodes in 400
# bytes). `exitgate check` and `exitgate run` refuse each with file:line:column and the
# limit, quickly and in little memory (status 1 and 2, never a crash: >= 128, or a hang:
# 124); params 60 deep pass. A running guest whose config is rewritten to a bomb keeps
# running under the old policy, the reload is reported as failed (--watch and ctl reload),
# and a good config after it still reloads.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

pol="$T/pol/reload.lua"
mkdir -p "$T/pol"
cp "$RUN_DIR/reload.lua" "$pol"

# a config of guest reload (guests/reload.S) under $pol, with PARAMS-TEXT after params:
bomb() {
	cfg reload.yaml "$T/in.yaml" >/dev/null
	perl -pe "s{^(\\s*policy:\\s*)\\S+}{\$1$pol}" "$T/in.yaml" >"$1"
	if [ -n "${2:-}" ]; then printf '    params: %s\n' "$2" >>"$1"; fi
}
nest() { perl -e 'print "[" x $ARGV[0], "1", "]" x $ARGV[0]' "$1"; }
amp='
      l0: &a0 "xxxxxxxx"'
for l in 1 2 3 4 5 6 7; do
	amp="$amp
      l$l: &a$l [$(perl -e 'print join ",", ("*a'$((l - 1))'") x 9')]"
done

bomb "$T/cycle.yaml" '&a [ *a ]'
bomb "$T/deep60.yaml" "$(nest 60)"
bomb "$T/deep100.yaml" "$(nest 100)"
bomb "$T/deep10000.yaml" "$(nest 10000)"
bomb "$T/amp.yaml" "$amp"
# the params line is the config's 13th; params: starts in column 5, its value in 13
declare -A want=(
	[cycle]='cycle\.yaml:13:18: alias \*a refers to itself \(a cycle\)'
	[deep100]='deep100\.yaml:13:74: nesting deeper than 64 levels'
	[deep10000]='deep10000\.yaml:13:74: nesting deeper than 64 levels'
	[amp]='amp\.yaml:20:16: alias \*a5 expands the configuration past 100000 nodes'
)

# timed CMD...: run it with its peak RSS (KiB) in $rss and wall seconds in $secs
timed() {
	/usr/bin/time -f '%M %e' -o "$T/time" timeout 60 "$@" >"$T/out" 2>"$T/err"
	rc=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
	# the last line: a first one may say "Command exited with non-zero status 1"
	read -r rss secs < <(tail -1 "$T/time")
}
small() { [ "${rss:-999999}" -lt $((128 << 10)) ] && perl -e 'exit !($ARGV[0] < 10)' "$secs"; }

for b in cycle deep100 deep10000 amp; do
	timed "$X" check "$T/$b.yaml"
	[ $rc = 1 ] && has "$OUT" "${want[$b]}"
	ok $? "check $b: status 1 and the limit ($rc: $(head -1 <<<"$OUT"))"
	small; ok $? "check $b: ${rss} KiB peak, ${secs} s"
	timed "$X" run --quiet "$T/$b.yaml"
	[ $rc = 2 ] && has "$ERR" "${want[$b]}"
	ok $? "run $b: status 2 and the limit ($rc: $(head -1 <<<"$ERR"))"
	small; ok $? "run $b: ${rss} KiB peak, ${secs} s"
done
timed "$X" check "$T/deep60.yaml"
[ $rc = 0 ]; ok $? "check: params 60 deep are fine ($rc: $OUT)"

# --watch and ctl on a running guest: the config turns into bombs
c="$T/live.yaml"
sock="$T/ctl.sock"
bomb "$c"
timeout 60 "$X" run --watch --ctl "$sock" --stats "$T/stats.json" "$c" >"$T/bg.out" 2>"$T/bg.err" &
pid=$!
BG_PIDS="$BG_PIDS $pid"
wait_for "$T/bg.out" 'reload: reads 1$'
ok $? "the guest runs under the first policy (answer 1)"
# saved the way editors do: a new file renamed over the old one
cp "$T/cycle.yaml" "$T/.live.tmp" && mv "$T/.live.tmp" "$c"
wait_for "$T/bg.err" 'reload \(file changed\) failed'
ok $? "--watch: the reload onto the cycle is reported as failed"
has "$(cat "$T/bg.err")" 'failed, the running policies stay: .*live\.yaml:13:18: alias \*a refers to itself'
ok $? "... with file:line:column and the reason ($(grep -m1 'failed' "$T/bg.err"))"
for b in amp deep10000; do
	cp "$T/$b.yaml" "$T/.live.tmp" && mv "$T/.live.tmp" "$c"
	sleep 0.3
	CO=$(timeout 20 "$X" ctl "$sock" reload 2>&1)
	crc=$?
	[ $crc = 1 ] && has "$CO" "reload failed, the old policies keep running: .*live\\.yaml:[0-9]+:[0-9]+: (alias|nesting)"
	ok $? "ctl reload onto $b: status 1 and the reason ($crc: $CO)"
done
CO=$(timeout 20 "$X" ctl "$sock" status 2>&1)
has "$CO" '^reload/0 running( |$)'
ok $? "the guest is still running under the old policy ('$CO')"
kill -0 "$pid" 2>/dev/null
ok $? "the VMM is alive"
# a good config (and the policy answering 2) reloads: the guest ends with done 0
sed 's/xg\.msr(1)/xg.msr(2)/' "$RUN_DIR/reload.lua" >"$pol"
bomb "$T/.live.tmp" && mv "$T/.live.tmp" "$c"
wait "$pid"
rc=$?
[ $rc = 0 ]
ok $? "a good config after the bombs reloads: the guest saw 2 and ended with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$(cat "$T/bg.out")"; diag "$(cat "$T/bg.err")"; }
got=$(js "$T/stats.json" '$d->{guests}[0]{engine}{reload_failures}')
[ -n "$got" ] && [ "$got" -ge 3 ]
ok $? "--stats counts the failed reloads (reload_failures: '$got')"
finish
