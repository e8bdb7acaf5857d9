#!/usr/bin/env bash
# t_run_ctl.sh - the control socket under clients that misbehave. guests/suspend.S parks its
# vCPU (suspend.lua), so the run waits on the socket until it is stopped:
# - clients that hang up before reading their answer (status, reload) must not kill the run
#   (SIGPIPE);
# - 100 hostile clients (50 idle, 50 sending a byte every 1.5 s, reconnecting when dropped)
#   must not delay a `ctl status` (the latency is printed as a figure) nor the run's
#   --timeout;
# - a command line longer than the limit gets an error, not a hang.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
c=$(cfg suspend.yaml)
sock="$T/ctl.sock"
start() { bg_run --ctl "$sock" "$@"; }

hostile() {
	perl "$RUN_DIR/hostile.pl" "$sock" "$@" &
	BG_PIDS="$BG_PIDS $!"
	hpid=$!
}
# ms since the epoch
ms() { date +%s%3N; }

start "$c"
wait_for "$T/bg.err" 'suspend/0 suspended' 20
ok $? "the guest parks (the run waits on its socket)"

# clients that send a command and hang up at once: the answer is written to a closed socket
perl -MIO::Socket::UNIX -e '
	for my $cmd (("status\n") x 20, "reload\n", "dump\n", "status\n") {
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
		print $s $cmd;
		close $s;
	}' "$sock"
sleep 1
kill -0 "$pid" 2>/dev/null; ok $? "clients that hang up before their answer do not end the run"
ctl status
[ $crc = 0 ] && has "$CO" '^suspend/0 suspended: waiting$'
ok $? "... and it still answers: '$CO'"

# a line over the limit
CO=$(perl -MIO::Socket::UNIX -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
	print $s "status " . ("x" x 1000) . "\n"; local $/; print scalar <$s>;' "$sock" 2>&1)
has "$CO" '^error: a command line is at most'; ok $? "an overlong command line: an error ('$CO')"

ctl stop
[ $crc = 0 ] && has "$CO" '^suspend stopping$'; ok $? "ctl stop is answered though the run ends at once ('$CO')"
finish_run
[ $rc = 3 ]; ok $? "ctl stop ends that run with status 3 (got $rc)"

# 100 hostile clients
start "$c"
wait_for "$T/bg.err" 'suspend/0 suspended' 20
hostile 50 50 25 "$T/ready"
wait_for "$T/ready" connected 15
diag "hostile clients: $(cat "$T/ready" 2>/dev/null)"
sleep 2 # past the first drops: every slot is taken, reconnecting clients evict each other
worst=0
for i in 1 2 3 4 5; do
	t0=$(ms)
	ctl status
	t=$(($(ms) - t0))
	[ $t -gt $worst ] && worst=$t
	[ $crc = 0 ] && has "$CO" '^suspend/0 suspended' || break
	sleep 0.3
done
[ $crc = 0 ] && has "$CO" '^suspend/0 suspended'; ok $? "ctl status answers with 100 hostile clients connected ('$CO')"
[ $worst -lt 5000 ]; ok $? "... within 5 s each (worst of 5: $worst ms)"
echo "# figure: ctl status latency with 100 hostile clients (50 idle, 50 slow-drip): worst of 5 $worst ms"
ctl stop
[ $crc = 0 ] && has "$CO" '^suspend stopping$'; ok $? "ctl stop is answered with the clients connected ('$CO')"
finish_run
kill "$hpid" 2>/dev/null
[ $rc = 3 ] && has "$ERR" 'suspend: stopped'; ok $? "ctl stop still ends the run (status $rc)"

# --timeout holds with slow-drip clients connected from the start
rm -f "$T/ready"
t0=$(ms)
start --timeout 3 "$c"
for i in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
hostile 0 100 20 "$T/ready"
finish_run
t=$(($(ms) - t0))
kill "$hpid" 2>/dev/null
[ $rc = 124 ]; ok $? "--timeout 3 with 100 slow-drip clients: status 124 (got $rc)"
[ $t -lt 10000 ]; ok $? "... after $t ms, not held by the clients"
[ $rc = 124 ] || { diag "$ERR"; }
finish
