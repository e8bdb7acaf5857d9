#!/usr/bin/env bash
# t_run_obs.sh - what an operator watches a run with (issue 14): `exitgate ctl status
# --json` (one JSON object, the same numbers as the text status, the counters of --stats),
# `exitgate run --paused` (like QEMU's -S: nothing runs until `ctl resume`), `--stats -`
# (the JSON on stdout after the guest's lines), `--log-format json` (each stderr line one
# JSON object), the status line on a terminal (only there: never in a pipe, nor with
# --quiet or --no-progress), the time spent in Lua (--stats, ctl status, --metrics) and in
# the current policy call (never negative).
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

# jsonok FILE: python's parser accepts FILE as one JSON document
jsonok() { python3 -m json.tool "$1" >/dev/null 2>"$T/jerr"; }

# ---- --paused and ctl status --json ----
sock="$T/ctl.sock"
bg_run --ctl "$sock" --paused "$(cfg suspend.yaml)"
wait_for "$T/bg.err" 'paused: every vCPU waits' 20
ok $? "--paused says how to go on ($(head -1 "$T/bg.err"))"
sleep 1
ctl status
has "$CO" '^suspend/0 paused' ; ok $? "ctl status shows the vCPU paused ('$CO')"
ctl status --json; printf '%s\n' "$CO" >"$T/st0.json"
[ $crc = 0 ] && jsonok "$T/st0.json"; ok $? "ctl status --json is one JSON document ($(cat "$T/jerr"))"
[ "$(wc -l <"$T/st0.json")" = 1 ]; ok $? "... on one line"
got=$(js "$T/st0.json" 'join " ", $d->{paused} ? "paused" : "running", $d->{guests}[0]{vcpus}[0]{state}, $d->{guests}[0]{vcpus}[0]{exits}, $d->{guests}[0]{engine}{exits}')
[ "$got" = "paused paused 0 0" ]
ok $? "a second later nothing has run: paused, the vCPU paused, 0 exits ('$got')"
ctl resume
has "$CO" '^suspend/0 resumed'; ok $? "ctl resume lets it go ('$CO')"
wait_for "$T/bg.err" 'suspend/0 suspended: waiting' 20
ok $? "the guest runs to its own suspend"
ctl status
text="$CO"
ctl status --json suspend/0; printf '%s\n' "$CO" >"$T/st1.json"
jsonok "$T/st1.json"; ok $? "ctl status --json GUEST/N parses"
tx_exits=$(sed -n 's/.*exits=\([0-9]*\).*/\1/p' <<<"$text")
# the text status of a suspended vCPU names no count: the run's --stats does, below
want="suspend/0 suspended: waiting"
js_line=$(js "$T/st1.json" '"$d->{guests}[0]{name}/$d->{guests}[0]{vcpus}[0]{index} $d->{guests}[0]{vcpus}[0]{state}: $d->{guests}[0]{vcpus}[0]{reason}"')
[ "$text" = "$want" ] && [ "$js_line" = "$want" ]
ok $? "text and JSON status say the same ('$text' / '$js_line')"
lc=$(js "$T/st1.json" '$d->{guests}[0]{engine}{lua_calls}')
ls=$(js "$T/st1.json" '$d->{guests}[0]{engine}{lua_seconds}')
vx=$(js "$T/st1.json" '$d->{guests}[0]{vcpus}[0]{exits}')
gx=$(js "$T/st1.json" 'my $s = 0; $s += $_ for values %{$d->{guests}[0]{exits}}; $s')
[ "$lc" = 1 ] && [ "$vx" -gt 0 ] && [ "$vx" = "$gx" ] && perl -e "exit !('$ls' =~ /^[0-9.e+-]+\$/ && $ls >= 0)"
ok $? "the counters: 1 Lua call taking $ls s, vCPU exits $vx = the guest's exits by reason $gx"
CO=$(timeout 20 "$X" ctl "$sock" metrics --json 2>&1); crc=$?
[ $crc = 2 ] && has "$CO" 'json is for status'; ok $? "--json with another command is refused ($crc: $CO)"
ctl stop
finish_run
[ $rc = 3 ]; ok $? "the run ends when stopped (status $rc)"

# the JSON status's counters are --stats' (a suspended guest's do not move)
bg_run --ctl "$sock" --stats "$T/end.json" "$(cfg suspend.yaml)"
wait_for "$T/bg.err" 'suspend/0 suspended: waiting' 20
ctl status --json; printf '%s\n' "$CO" >"$T/st2.json"
ctl stop
finish_run
a=$(js "$T/st2.json" '$d->{guests}[0]{engine}{lua_seconds} = 0; [$d->{guests}[0]{engine}, $d->{guests}[0]{exits}, $d->{guests}[0]{vcpus}[0]{exits}]')
b=$(js "$T/end.json" '$d->{guests}[0]{engine}{lua_seconds} = 0; [$d->{guests}[0]{engine}, $d->{guests}[0]{exits}, $d->{guests}[0]{vcpus}[0]{exits}]')
[ -n "$a" ] && [ "$a" = "$b" ]; ok $? "ctl status --json has the numbers --stats ends with ($a)"
sa=$(js "$T/st2.json" '$d->{guests}[0]{engine}{lua_seconds}')
sb=$(js "$T/end.json" '$d->{guests}[0]{engine}{lua_seconds}')
[ "$sa" = "$sb" ]; ok $? "... the time in Lua too ($sa s)"

# a paused run still stops at its time limit, and a stop while paused runs nothing
bg_run --ctl "$sock" --paused --stats "$T/ps.json" "$(cfg suspend.yaml)"
wait_for "$T/bg.err" 'paused: every vCPU waits' 20
ctl stop
finish_run
[ $rc = 3 ] && [ "$(js "$T/ps.json" '$d->{guests}[0]{vcpus}[0]{exits}')" = 0 ]
ok $? "stopped while paused: status 3, no exit ran ($rc)"

# ---- --stats - ----
xrun --stats - --quiet "$(cfg emulate.yaml)"
tail -1 "$T/out" >"$T/so.json"
jsonok "$T/so.json" && [ "$(js "$T/so.json" '$d->{status}')" = 0 ] && has "$(head -1 "$T/out")" '^emulate\| '
ok $? "--stats -: the guest's lines, then the JSON on stdout ($(cat "$T/jerr"))"
[ ! -e ./- ] && [ ! -e "$T/-" ]; ok $? "... and no file named '-'"
xrun --stats "$T/sf.json" --quiet "$(cfg emulate.yaml)"
a=$(js "$T/so.json" 'join ",", sort keys %{$d->{guests}[0]{engine}}')
b=$(js "$T/sf.json" 'join ",", sort keys %{$d->{guests}[0]{engine}}')
[ -n "$a" ] && [ "$a" = "$b" ]; ok $? "... the same document as --stats FILE ($a)"

# ---- the time in Lua ----
xrun --stats "$T/slow.json" --metrics "$T/slow.prom" --quiet "$(cfg slowcall.yaml)"
lc=$(js "$T/slow.json" '$d->{guests}[0]{engine}{lua_calls}')
ls=$(js "$T/slow.json" '$d->{guests}[0]{engine}{lua_seconds}')
[ $rc = 0 ] && [ "${lc:-0}" -gt 0 ] && perl -e "exit !($ls >= 0.002 * $lc)"
ok $? "handlers of 12 ms CPU each: $lc calls counted as $ls s in Lua, at least 2 ms each (status $rc)"
pm=$(awk '$1 == "exitgate_lua_seconds_total{guest=\"slowcall\"}" { print $2 }' "$T/slow.prom")
perl -e "exit !(abs($pm - $ls) < 1e-6)"
ok $? "--metrics exitgate_lua_seconds_total equals --stats ($pm)"
has "$(grep -A0 '^# TYPE exitgate_lua_seconds_total' "$T/slow.prom")" 'counter$'
ok $? "... typed counter"
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$T/slow.prom" 2>&1); ok $? "promtool check metrics accepts it${out:+: $out}"
else
	n=$((n + 1)); echo "ok $n # SKIP promtool not installed (apt-get install prometheus)"
fi
xrun "$(cfg slowcall.yaml)"
has "$ERR" '[0-9]+ Lua calls taking [0-9.]+ s'; ok $? "the summary says the time in Lua ($(grep 'Lua calls' <<<"$ERR"))"

# ---- --log-format json ----
xrun "$(cfg failed.yaml)"
text_rc=$rc
has "$(head -1 "$T/err")" '^exitgate: '; ok $? "text stays the default ($(head -1 "$T/err"))"
xrun --log-format json "$(cfg failed.yaml)"
bad=$(python3 - "$T/err" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
bad, kinds = [], set()
for l in lines:
    try:
        o = json.loads(l)
    except ValueError as e:
        bad.append('not JSON: %r' % l); continue
    if sorted(o) != ['guest', 'kind', 'message', 'time', 'vcpu']:
        bad.append('keys %s' % sorted(o))
    kinds.add(o['kind'])
if not lines: bad.append('no lines')
print('; '.join(bad) if bad else 'kinds ' + ' '.join(sorted(kinds)))
PY
)
has "$bad" '^kinds ' ; ok $? "--log-format json: every stderr line is a JSON object with time, kind, guest, vcpu, message ($bad)"
has "$bad" 'engine' && has "$bad" 'summary'; ok $? "... the policy's failures and the summary too"
has "$ERR" '"kind":"engine","guest":"(abort|msrud)","vcpu":0,"message":"[^"]*on_error'
ok $? "a policy failure's line names its guest and vCPU ($(grep -m1 on_error "$T/err"))"
[ $rc = $text_rc ]; ok $? "the run's status is the text run's ($rc, $text_rc)"
xrun --log-format xml "$(cfg emulate.yaml)"
[ $rc = 2 ] && has "$ERR" 'log-format takes text or json'; ok $? "--log-format xml is refused ($rc: $ERR)"

# ---- the status line: on a terminal only ----
if command -v script >/dev/null; then
	c=$(cfg suspend.yaml)
	for args in "" "--no-progress" "--quiet"; do
		( sleep 2.5; timeout 20 "$X" ctl "$T/p.sock" stop >/dev/null 2>&1 ) &
		timeout 60 script -qefc "$X run --ctl $T/p.sock --paused $args $c" /dev/null >"$T/tty.out" 2>&1
		wait
		cnt=$(grep -o $'\033\[K[0-9]* s: 0/1 vCPUs running (paused), 0 exits' "$T/tty.out" | wc -l)
		if [ -z "$args" ]; then
			[ "$cnt" -ge 1 ]; ok $? "on a terminal the status line is drawn about every second ($cnt times in 2.5 s)"
			grep -q $'\r\033\[Kexitgate: suspend: stopped' "$T/tty.out"
			ok $? "... and erased before the summary"
		else
			[ "$cnt" = 0 ]; ok $? "on a terminal with $args: no status line"
		fi
	done
else
	n=$((n + 1)); echo "ok $n # SKIP script(1) is not installed: no terminal to test on"
fi
bg_run --ctl "$sock" --paused "$(cfg suspend.yaml)"
wait_for "$T/bg.err" 'paused: every vCPU waits' 20
sleep 1.5
ctl stop
finish_run
! grep -q $'\033' "$T/bg.err" && ! grep -q 'vCPUs running' "$T/bg.err"
ok $? "into a file (a pipe, a log) no status line"

# ---- the time in the current policy call is never negative ----
# busy.lua enters a call every ~50 us: a status read the clock once before it looked at the
# vCPUs, so a call entered meanwhile came out below zero (9 of 256 polls, seen here)
bg_run --ctl "$sock" "$(cfg busy.yaml)"
sleep 1
: >"$T/inpol"
for ((i = 0; i < 200; i++)); do
	ctl status --json
	grep -o '"in_policy_seconds":[-0-9.e]*' <<<"$CO" | cut -d: -f2 >>"$T/inpol"
done
ctl stop
finish_run
neg=$(grep -c '^-' "$T/inpol")
pos=$(grep -vc '^0\.000000$' "$T/inpol")
[ "$neg" = 0 ] && [ "$pos" -gt 20 ]
ok $? "in_policy_seconds is never negative ($(wc -l <"$T/inpol") polls: $neg negative, $pos in a call; $(grep '^-' "$T/inpol" | head -3 | tr '\n' ' '))"
finish
