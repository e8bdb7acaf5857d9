#!/usr/bin/perl
# hostile.pl SOCKET IDLE DRIP SECONDS READY-FILE - control clients that never finish a
# command: IDLE connections that send nothing, DRIP connections that send one byte of
# "status" every 1.5 s. Each one dropped by the run connects again, so the pressure holds for
# SECONDS. Writes "connected N" to READY-FILE once every client connected once.
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

my ($path, $idle, $drip, $secs, $ready) = @ARGV;
$SIG{PIPE} = 'IGNORE';
my $end = time + $secs;
my @c; # [socket, is_drip, next byte time, bytes sent]
sub conn {
	my $s = IO::Socket::UNIX->new(Peer => $path, Type => SOCK_STREAM, Timeout => 1);
	$s->blocking(0) if $s;
	return $s;
}
for my $i (1 .. $idle + $drip) {
	last if time > $end;
	push @c, [conn(), $i > $idle, time + 1.5, 0];
}
my $n = grep { defined $_->[0] } @c;
if (open(my $f, '>', "$ready.tmp")) { print $f "connected $n\n"; close $f; rename "$ready.tmp", $ready; }
while (time < $end) {
	for my $k (@c) {
		my $s = $k->[0];
		if (!$s) { $k->[0] = conn(); $k->[3] = 0; next; }
		# a dropped connection reads EOF (or an error line and EOF): connect again
		my $buf;
		my $r = sysread($s, $buf, 512);
		if (defined $r && $r == 0) { close $s; $k->[0] = conn(); $k->[3] = 0; next; }
		if ($k->[1] && time >= $k->[2]) {
			my $b = substr("status", $k->[3] % 6, 1);
			if (!defined syswrite($s, $b)) { close $s; $k->[0] = conn(); $k->[3] = 0; next; }
			$k->[3]++;
			$k->[2] = time + 1.5;
		}
	}
	sleep 0.05;
}
