#!/usr/bin/env bash
# t_run_metrics.sh - `exitgate run --metrics FILE` and `exitgate ctl SOCKET metrics`: the
# run's counters in the Prometheus text format. The file parses (promcheck.pl, a strict
# reader of the format, and `promtool check metrics` when Debian's prometheus package is
# installed), its counters equal --stats at the end (exits by reason, engine exits, Lua
# calls, cache hits, dumps, reloads, verdicts, failures), it is there while the guest runs,
# and the control socket answers the same text.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

# prom FILE: the samples, or an error and status 1
prom() { perl "$RUN_DIR/promcheck.pl" "$1"; }
# val SAMPLES KEY: the value of one sample (0 when absent)
val() { awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' <<<"$1"; }

for conf in emulate.yaml failed.yaml; do
	M="$T/${conf%.yaml}.prom"
	xrun --stats "$T/stats.json" --metrics "$M" "$(cfg "$conf")"
	ok $([ $rc != 2 ] && [ -s "$M" ]; echo $?) "$conf: the run writes --metrics (status $rc)"
	S=$(prom "$M" 2>"$T/perr"); prc=$?
	ok $prc "$conf: the file reads as the exposition format$( [ $prc = 0 ] || echo ": $(cat "$T/perr")")"
	g=$(js "$T/stats.json" '$d->{guests}[0]{name}')
	bad=""
	for r in $(js "$T/stats.json" 'join " ", sort keys %{$d->{guests}[0]{exits}}'); do
		want=$(js "$T/stats.json" "\$d->{guests}[0]{exits}{'$r'}")
		got=$(val "$S" "exitgate_exits_total{guest=\"$g\",reason=\"$r\"}")
		[ "$want" = "$got" ] || bad="$bad exits[$r] $got != $want;"
	done
	for k in exits:engine_exits lua_calls:lua_calls cache_hits:cache_hits emulated:emulated \
		emulated_memo:emulated_memo dumps:dumps \
		reloads:reloads reload_failures:reload_failures swaps:swaps; do
		want=$(js "$T/stats.json" "\$d->{guests}[0]{engine}{${k%%:*}}")
		got=$(val "$S" "exitgate_${k#*:}_total{guest=\"$g\"}")
		[ "$want" = "$got" ] || bad="$bad ${k%%:*} $got != $want;"
	done
	for v in emulate inject external_abort convert suspend resume skip stop msr; do
		want=$(js "$T/stats.json" "\$d->{guests}[0]{engine}{verdicts}{$v} // 0")
		got=$(val "$S" "exitgate_verdicts_total{guest=\"$g\",verdict=\"$v\"}")
		[ "$want" = "$got" ] || bad="$bad verdict $v $got != $want;"
	done
	for fk in $(js "$T/stats.json" 'join " ", keys %{$d->{guests}[0]{engine}{fails}}'); do
		want=$(js "$T/stats.json" "\$d->{guests}[0]{engine}{fails}{$fk}")
		got=$(val "$S" "exitgate_policy_failures_total{guest=\"$g\",kind=\"$fk\"}")
		[ "$want" = "$got" ] || bad="$bad fail $fk $got != $want;"
	done
	n_eng=$(js "$T/stats.json" '$d->{guests}[0]{engine}{exits}')
	[ -z "$bad" ] && [ "${n_eng:-0}" -gt 0 ]
	ok $? "$conf: its counters equal --stats ($n_eng exits to the engine)${bad:+:$bad}"
	if command -v promtool >/dev/null; then
		out=$(promtool check metrics <"$M" 2>&1); prc=$?
		ok $prc "$conf: promtool check metrics accepts it${out:+: $out}"
	else
		n=$((n + 1)); echo "ok $n # SKIP promtool not installed (apt-get install prometheus)"
	fi
done
has "$(cat "$T/failed.prom")" 'exitgate_policy_failures_total\{guest="[^"]*",kind="error"\} [1-9]'
ok $? "failed.yaml: policy failures are counted by kind"
ls "$T"/*.tmp >/dev/null 2>&1; ok $([ $? != 0 ]; echo $?) "no temporary file is left beside the metrics"

# while the guest runs: the file is there, and the control socket answers the same format
sock="$T/ctl.sock"
bg_run --ctl "$sock" --metrics "$T/live.prom" "$(cfg suspend.yaml)"
wait_for "$T/bg.err" 'suspend/0 suspended' 20
ok $? "the guest parks (the run waits)"
[ -s "$T/live.prom" ] && prom "$T/live.prom" >/dev/null; ok $? "the metrics file is written while the guest runs"
CO=$(timeout 20 "$X" ctl "$sock" metrics 2>&1); crc=$?
printf '%s\n' "$CO" >"$T/ctl.prom"
S=$(prom "$T/ctl.prom" 2>&1)
[ $crc = 0 ] && has "$S" '^exitgate_verdicts_total\{guest="suspend",verdict="suspend"\} 1$'
ok $? "ctl metrics answers the counters: the one suspend verdict ($(grep verdict=.suspend <<<"$S"))"
timeout 20 "$X" ctl "$sock" stop >/dev/null 2>&1
finish_run
[ $rc = 3 ]; ok $? "the run ends when stopped (status $rc)"

xrun --metrics "$T/nodir/m.prom" "$(cfg emulate.yaml)"
[ $rc = 0 ] && has "$ERR" "cannot write the metrics to .*nodir/m.prom"
ok $? "a metrics file that cannot be written is said, and the guest runs on (status $rc)"
finish
