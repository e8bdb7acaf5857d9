#!/usr/bin/env bash
# t_run_many.sh - more vCPUs than the old limit of 8: 16 (many.yaml) and 40 vCPUs run
# guests/many.S, each on its own thread and stack, each emulating an SSE load and store; vCPU 0 ends
# the guest with done 0 once every vCPU has counted in. A count the stacks cannot fit in RAM,
# or past the config's bound, is refused with a message saying what to change.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
c=$(cfg many.yaml)

for nv in 16 40; do
	sed "s/^      vcpus: 16$/      vcpus: $nv/" "$c" >"$T/many$nv.yaml"
	xrun --stats "$T/many$nv.json" "$T/many$nv.yaml"
	s="$T/many$nv.json"
	[ $rc = 0 ]; ok $? "$nv vCPUs: the guest ends with done 0 (status $rc)"
	[ $rc = 0 ] || { diag "$OUT"; diag "$(head -20 <<<"$ERR")"; }
	hex=$(printf '%016x' $nv)
	has "$OUT" "^many\\| many: $hex vCPUs up, each on its own stack$"; ok $? "$nv vCPUs: every one counted in (RSI = $nv)"
	[ "$(js "$s" 'scalar @{$d->{guests}[0]{vcpus}}')" = $nv ]; ok $? "$nv vCPUs: stats list $nv vCPUs"
	got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{emulate}')
	[ "$got" = $((2 * nv)) ]; ok $? "$nv vCPUs: each emulated its movq load and store ($got emulate verdicts)"
	got=$(js "$s" 'scalar grep { $_->{end} eq "halted" } @{$d->{guests}[0]{vcpus}}')
	[ "$got" = $((nv - 1)) ]; ok $? "$nv vCPUs: all but vCPU 0 halted ($got)"
done

# the stacks (64K per vCPU, from the top of RAM down) must stay above the payload at 1M
sed 's/^      vcpus: 16$/      vcpus: 64/; s/^      memory: 16M$/      memory: 4M/' "$c" >"$T/small.yaml"
xrun "$T/small.yaml"
[ $rc = 2 ] && has "$ERR" 'vcpus' && has "$ERR" 'stack' && has "$ERR" 'memory'
ok $? "64 vCPUs in 4M: status 2, the stacks do not fit, give more memory (status $rc: $(head -2 <<<"$ERR" | tr '\n' ' '))"
# ... and above its end, which only the run knows (16 x 64K fit above 1M in 2M, the payload not)
sed 's/^      memory: 16M$/      memory: 2M/' "$c" >"$T/tight.yaml"
xrun "$T/tight.yaml"
[ $rc = 2 ] && has "$ERR" 'vcpus' && has "$ERR" 'reaches the payload' && has "$ERR" 'memory'
ok $? "16 vCPUs in 2M: status 2, the stacks reach the payload (status $rc: $(head -2 <<<"$ERR" | tr '\n' ' '))"
sed 's/^      vcpus: 16$/      vcpus: 1025/' "$c" >"$T/huge.yaml"
xrun "$T/huge.yaml"
[ $rc = 2 ] && has "$ERR" 'vcpus: 1025 is out of range \(1\.\.1024\)'
ok $? "1025 vCPUs: status 2, out of the config's range (status $rc: $(head -1 <<<"$ERR"))"
finish
