#!/usr/bin/env bash
# t_run_shutdown.sh - a triple fault (KVM_EXIT_SHUTDOWN, guests/triple.S) answered by
# anything but stop: no shutdown handler (on_error applies), a dump then resume, a suspend.
# A shut-down vCPU cannot be resumed (SDM Vol. 3A 6.15: the processor stops executing), so
# each ends at once: one shutdown exit, at most the one dump the policy asked for, the guest
# and vCPU end "shutdown", status 4, and the summary says the guest shut down. With two vCPUs
# only the one that shut down ends "shutdown"; the other was stopped.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
c=$(cfg shutdown.yaml)

for g in none resume suspend; do
	rm -rf "$T/dumps"
	t0=$(date +%s)
	xrun --stats "$T/$g.json" "$c" "$g"
	t1=$(date +%s)
	s="$T/$g.json"
	[ $rc = 4 ]; ok $? "$g: status 4, the guest shut down (got $rc)"
	[ $rc = 4 ] || { diag "$OUT"; diag "$(head -20 <<<"$ERR")"; }
	got=$(js "$s" '$d->{guests}[0]{exits}{shutdown}')
	[ "$got" = 1 ]; ok $? "$g: exactly one shutdown exit, never re-entered (got '$got')"
	[ "$(js "$s" '$d->{guests}[0]{end}')" = shutdown ] &&
		[ "$(js "$s" '$d->{guests}[0]{vcpus}[0]{end}')" = shutdown ]
	ok $? "$g: stats: the guest and its vCPU ended shutdown ($(js "$s" '$d->{guests}[0]{end}'), $(js "$s" '$d->{guests}[0]{vcpus}[0]{end}'))"
	nd=$(find "$T/dumps" -name '*.json' 2>/dev/null | wc -l)
	want=1; [ $g = suspend ] && want=0
	[ "$nd" = $want ]; ok $? "$g: $want dump(s), the one the policy asked for (got $nd)"
	has "$ERR" "^exitgate: $g: shutdown .*shut down"; ok $? "$g: the summary says the guest shut down"
	has "$ERR" '^exitgate: status 4: '; ok $? "$g: ... and the status"
	[ $((t1 - t0)) -lt 20 ]; ok $? "$g: quick ($((t1 - t0)) s, the guest's timeout is 30)"
done

# two vCPUs, vCPU 0 shuts down: the guest ends shutdown; vCPU 1 was only stopped with it
xrun --stats "$T/two.json" "$c" two
s="$T/two.json"
[ $rc = 4 ] && [ "$(js "$s" '$d->{guests}[0]{end}')" = shutdown ]; ok $? "two vCPUs, one shuts down: the guest ends shutdown, status 4 (status $rc)"
[ "$(js "$s" '$d->{guests}[0]{vcpus}[0]{end}')" = shutdown ] && [ "$(js "$s" '$d->{guests}[0]{vcpus}[1]{end}')" = stopped ]
ok $? "vCPU 0 ended shutdown, vCPU 1 stopped ($(js "$s" 'join " ", map { $_->{end} } @{$d->{guests}[0]{vcpus}}'))"
finish
