#!/usr/bin/env bash
# t_run_bad.sh - `exitgate run` on input that is wrong, and on guests and policies that
# misbehave. Wrong input ends with status 2 and a message saying what is wrong - never a
# crash (status >= 128) or a hang (every run is under `timeout 60`, status 124). An exit
# storm stops the guest (status 3), dumps stop at dump_max with a message, a time limit ends
# the run with status 124.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

# bad NAME REGEX RUN-ARGS...: the run ends with status 2 and stderr matches REGEX
bad() {
	local what=$1 re=$2
	shift 2
	xrun "$@"
	[ $rc = 2 ] && has "$ERR" "$re"
	ok $? "$what: status 2 and a message (status $rc: $(head -3 <<<"$ERR" | tr '\n' ' '))"
}
# vmcfg FILE PAYLOAD [MEMORY] [DEVICE-LINES...]: a one-guest config
vmcfg() {
	local f=$1 payload=$2 mem=${3:-16M}
	shift 3
	{
		echo "guests:"
		echo "  g:"
		echo "    policy: $SRC/policies/default.lua"
		echo "    vm:"
		echo "      payload: $payload"
		echo "      memory: $mem"
		echo "      timeout: 20"
		echo "      devices:"
		echo "        - { type: console, port: 0x3f8 }"
		echo "        - { type: done, port: 0x501 }"
		for d in "$@"; do echo "        - $d"; done
	} >"$f"
}

trial="$GUESTS/trial.bin"
bad "no arguments" 'usage|CONFIG'
bad "unknown option" 'frobnicate' --frobnicate "$(cfg trial.yaml)"
bad "missing config" "$T/nonexistent.yaml" "$T/nonexistent.yaml"
bad "a guest the config does not have" 'nosuch' "$(cfg trial.yaml)" nosuch
printf 'guests:\n  novm:\n    policy: %s/policies/default.lua\n' "$SRC" >"$T/novm.yaml"
bad "a config whose guests have no vm: section" 'vm' "$T/novm.yaml"

head -c $((20 << 20)) /dev/zero >"$T/big.bin"
vmcfg "$T/big.yaml" "$T/big.bin" 16M
bad "a payload bigger than RAM" 'big\.bin' "$T/big.yaml"
has "$ERR" 'fit|too (big|large)|memory|RAM'; ok $? "... saying it does not fit"

vmcfg "$T/nopayload.yaml" "$T/nosuch.bin" 16M
bad "a missing payload" 'nosuch\.bin' "$T/nopayload.yaml"

vmcfg "$T/devpayload.yaml" /dev/zero 16M
bad "a payload that is a device" "payload '/dev/zero': /dev/zero is a character device, not a file" "$T/devpayload.yaml"
mkdir -p "$T/dirpayload.bin"
vmcfg "$T/dirpayload.yaml" dirpayload.bin 16M
bad "a payload that is a directory" "dirpayload.bin is a directory, not a file" "$T/dirpayload.yaml"

vmcfg "$T/floppy.yaml" "$trial" 16M '{ type: floppy, port: 0x3f0 }'
bad "an unknown device type" 'floppy' "$T/floppy.yaml"
has "$ERR" 'line [0-9]+|:[0-9]+'; ok $? "... with the line"

# a guest of the other architecture: said before any VM is made
printf 'guests:\n  a64:\n    policy: %s/policies/default.lua\n    vm:\n      arch: arm64\n      payload: %s\n      devices:\n        - { type: console, at: 0xd0000000 }\n' \
	"$SRC" "$trial" >"$T/arm64.yaml"
bad "an arm64 guest on this x86_64 exitgate" "vm.arch is arm64, but this exitgate runs x86_64 guests" "$T/arm64.yaml"

vmcfg "$T/inram.yaml" "$trial" 16M '{ type: ram, at: 0x100000, size: 64K }'
bad "a ram device inside RAM" '0x100000|RAM|memory' "$T/inram.yaml"
vmcfg "$T/outside.yaml" "$trial" 16M '{ type: pattern, at: 0xf0000000, size: 4K }'
bad "a pattern device outside the MMIO window" '0xf0000000|MMIO|window' "$T/outside.yaml"
vmcfg "$T/overlap.yaml" "$trial" 16M '{ type: ram, at: 0xd0000000, size: 64K }' '{ type: pattern, at: 0xd0008000, size: 4K }'
bad "two devices overlapping" 'overlap|0xd0008000' "$T/overlap.yaml"
vmcfg "$T/vcpus.yaml" "$trial" 16M
sed -i 's/^      memory: 16M$/      memory: 16M\n      vcpus: 2000/' "$T/vcpus.yaml"
bad "2000 vCPUs" 'vcpus|2000' "$T/vcpus.yaml"

XG_KVM_DEV=/nonexistent xrun "$(cfg trial.yaml)"
[ $rc = 2 ] && has "$ERR" '/nonexistent'
ok $? "no usable KVM device (XG_KVM_DEV=/nonexistent): status 2 naming it (status $rc: $(head -2 <<<"$ERR" | tr '\n' ' '))"

# misbehaving policies
xrun --stats "$T/faults.json" "$(cfg faults.yaml)" storm
[ $rc = 3 ] && has "$ERR" 'storm'
ok $? "xg.resume() forever: stopped as an exit storm, status 3 (status $rc: $(grep -m1 storm <<<"$ERR"))"
got=$(js "$T/faults.json" '$d->{guests}[0]{exits}{internal_error}')
[ "$got" -ge 1000 ] && [ "$got" -le 1001 ]; ok $? "... after vm.storm (1000) identical exits (got $got)"
has "$(js "$T/faults.json" '$d->{guests}[0]{reason}')" 'storm'; ok $? "... and stats give the reason"

# A triple fault (guests/triple.S) with no shutdown handler: on_error's #UD cannot be
# delivered to a shut-down vCPU, and KVM_RUN would only report the same shutdown again. The
# guest ends at the first one (t_run_shutdown.sh has the rest), never spins to the time limit.
{
	echo "guests:"
	echo "  noshut:"
	echo "    policy: $RUN_DIR/nohandler.lua"
	echo "    vm:"
	echo "      payload: $GUESTS/triple.bin"
	echo "      memory: 16M"
	echo "      timeout: 10"
	echo "      storm: 1000"
	echo "      devices:"
	echo "        - { type: console, port: 0x3f8 }"
} >"$T/noshut.yaml"
xrun --stats "$T/noshut.json" "$T/noshut.yaml"
got=$(js "$T/noshut.json" '$d->{guests}[0]{exits}{shutdown}')
[ $rc = 4 ] && [ "$got" = 1 ] && has "$ERR" 'shut down'
ok $? "shutdown answered by on_error (inject UD): the guest ends at once, status 4 (status $rc, $got shutdown exits: $(grep -m1 -E 'shut down|storm|timeout' <<<"$ERR"))"

rm -rf "$T/dumps"
xrun "$(cfg faults.yaml)" dumpspam
ok $([ $rc = 0 ]; echo $?) "20 dump verdicts: the guest still ends with done 0 (status $rc)"
nd=$(ls "$T"/dumps/dumpspam-*-vcpu0-*.json 2>/dev/null | wc -l)
[ "$nd" = 5 ]; ok $? "dump_max (5) files written, no more (got $nd)"
has "$ERR" 'dump limit'; ok $? "stderr says the dump limit was reached"

# time limits
xrun --timeout 1 "$(cfg suspend.yaml)"
[ $rc = 124 ] && has "$ERR" 'time'; ok $? "--timeout 1 on a suspended guest: status 124 and a message (status $rc)"
sed 's/timeout: 40/timeout: 1/' "$(cfg suspend.yaml)" >"$T/t1.yaml"
xrun "$T/t1.yaml"
[ $rc = 124 ] && has "$ERR" 'time'; ok $? "vm.timeout: 1: status 124 and a message (status $rc)"
finish
