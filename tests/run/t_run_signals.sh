#!/usr/bin/env bash
# t_run_signals.sh - signals to `exitgate run`, and its end when a vCPU does not stop:
# - SIGHUP reloads the policies, with or without --watch (it used to kill a run without
#   --watch, with no summary);
# - a SIGHUP in the middle of a `ctl` request does not cut the request short;
# - a storm of SIGHUPs with a policy slow to load is one or two reloads, and SIGTERM right
#   after it still ends the run at once, with its summary;
# - reloads that never end (--watch and SIGHUP) do not hold the run's end either;
# - a vCPU stuck in a policy call (stuck.lua) does not hold the run: --timeout and SIGTERM end
#   it, the summary says which vCPU did not stop and why (the time to exit is printed).
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
sock="$T/ctl.sock"
# start RUN-ARGS...: bg_run with the control socket; $xpid is the run itself (not its
# timeout wrapper)
start() {
	bg_run --ctl "$sock" "$@"
	xpid=
	for ((i = 0; i < 100 && ! xpid; i++)); do
		xpid=$(pgrep -P "$pid" | head -1)
		[ -n "$xpid" ] || sleep 0.02
	done
}

ms() { date +%s%3N; }

# SIGHUP without --watch, and a SIGHUP inside a request; the same with --watch
c=$(cfg suspend.yaml)
for w in "" --watch; do
	what="SIGHUP${w:+ with $w}"
	start $w "$c"
	wait_for "$T/bg.err" 'suspend/0 suspended' 20
	kill -HUP "$xpid"
	wait_for "$T/bg.err" 'SIGHUP: reloaded' 10
	ok $? "$what: the policies are reloaded"
	! grep -qvE '^(exitgate: |  )' "$T/bg.err"
	ok $? "$what: every line it logs is an 'exitgate: ' message"
	kill -0 "$xpid" 2>/dev/null; ok $? "$what: the run goes on"
	CO=$(perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
		$s->autoflush(1);
		print $s "sta";
		select(undef, undef, undef, 0.3);
		$ARGV[1] > 1 or die "no pid\n"; # never 0: that is the whole process group
		kill "HUP", $ARGV[1];
		select(undef, undef, undef, 0.3);
		print $s "tus\n";
		local $/; print scalar <$s>;' "$sock" "$xpid" 2>&1)
	has "$CO" '^suspend/0 suspended: waiting$' && has "$CO" '^ok$'
	ok $? "$what in the middle of a ctl request: the request is answered whole ('$(tr '\n' '|' <<<"$CO")')"
	ctl stop
	finish_run
	[ $rc = 3 ] && has "$ERR" 'suspend: stopped'
	ok $? "$what: ctl stop then ends the run with its summary (status $rc)"
	[ $rc = 3 ] || diag "$ERR"
done

# a SIGHUP storm with a policy that is slow to load, then SIGTERM
c=$(cfg slowload.yaml)
start --watch --stats "$T/storm.json" "$c"
wait_for "$T/bg.err" 'slow/0 suspended' 30
perl -e '$ARGV[0] > 1 or die "no pid\n"; kill "HUP", $ARGV[0] for 1 .. 3000' "$xpid"
wait_for "$T/bg.err" 'SIGHUP: reloaded' 30
ok $? "3000 SIGHUPs: the policy is reloaded"
t0=$(ms)
kill -TERM "$xpid"
finish_run
t=$(($(ms) - t0))
[ $rc = 3 ] && has "$ERR" 'slow: stopped .*SIGTERM'
ok $? "3000 SIGHUPs then SIGTERM: the run ends, stopped by the signal (status $rc)"
[ $t -lt 10000 ]; ok $? "... $t ms after SIGTERM"
got=$(js "$T/storm.json" '$d->{guests}[0]{engine}{reloads}')
[ -n "$got" ] && [ "$got" -ge 1 ] && [ "$got" -le 5 ]
ok $? "... the storm was coalesced: $got reload(s), not one per signal"
[ $rc = 3 ] || diag "$ERR"

# a reload that never ends (a policy whose top level loops, under a budget of 10^16 steps):
# the --watch thread and the SIGHUP reload are stuck in it, and SIGTERM still ends the run
cfg stuck.yaml "$T/in.yaml" >/dev/null
perl -pe "s{^(\\s*policy:\\s*)\\S+}{\$1$T/forever.lua}" "$T/in.yaml" >"$T/forever.yaml"
cp "$RUN_DIR/suspend.lua" "$T/forever.lua"
start --watch "$T/forever.yaml"
wait_for "$T/bg.err" 'stuck/0 suspended' 20
ok $? "a run with --watch parks under suspend.lua"
{ echo "while true do end"; cat "$RUN_DIR/suspend.lua"; } >"$T/forever.lua.new"
mv "$T/forever.lua.new" "$T/forever.lua"
sleep 0.5
kill -HUP "$xpid"
sleep 0.5
t0=$(ms)
kill -TERM "$xpid"
finish_run
t=$(($(ms) - t0))
[ $rc = 3 ] && has "$ERR" 'stuck: stopped .*SIGTERM' && has "$ERR" 'still inside a reload'
ok $? "reloads that never end: SIGTERM ends the run with its summary (status $rc)"
[ $t -lt 10000 ]; ok $? "... $t ms after SIGTERM"
[ $rc = 3 ] || diag "$ERR"

# a vCPU stuck in a policy call: --timeout, then SIGTERM
c=$(cfg stuck.yaml)
t0=$(ms)
start --timeout 2 "$c"
finish_run
t=$(($(ms) - t0))
[ $rc = 124 ]; ok $? "stuck vCPU, --timeout 2: status 124 (got $rc)"
[ $t -lt 12000 ]; ok $? "... after $t ms"
has "$ERR" 'stuck: timeout' && has "$ERR" 'vCPU 0: +did not stop within .*stuck in a policy call'
ok $? "... the summary names the vCPU stuck in its policy call"
[ $rc = 124 ] || diag "$ERR"

start "$c"
wait_for "$T/bg.out" 'suspend: before' 20
sleep 1.2
ctl status
has "$CO" '^stuck/0 running exits=[0-9]+ \(in a policy call for [0-9.]+ s\)$'
ok $? "ctl status shows the vCPU in its policy call ('$CO')"
t0=$(ms)
kill -TERM "$xpid"
finish_run
t=$(($(ms) - t0))
[ $rc = 3 ] && has "$ERR" 'stuck: stopped .*SIGTERM' && has "$ERR" 'stuck in a policy call'
ok $? "stuck vCPU, SIGTERM: the run ends with its summary (status $rc)"
[ $t -lt 10000 ]; ok $? "... $t ms after SIGTERM"
echo "# figure: SIGTERM to exit with a vCPU stuck in a policy call: $t ms"
[ $rc = 3 ] || diag "$ERR"
finish
