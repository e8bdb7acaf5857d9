#!/usr/bin/env bash
# t_run_pmem.sh - private memory on the host: `vm.type: sw_protected`, `vm.private` and `vm.plain` are
# read and checked, and on a KVM without private memory (this host's kvm_pvm:
# KVM_CAP_MEMORY_ATTRIBUTES = 0) the run refuses to start with status 2 and says which
# capabilities are missing, instead of running the guest without the protection it asked
# for. The conversions themselves run in the pmem lane (tests/vm/pmem/t_pmem_run.c).
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

# pcfg FILE VM-LINES...: a one-guest config around the halt guest
pcfg() {
	local f=$1
	shift
	{
		echo "guests:"
		echo "  g:"
		echo "    policy: $SRC/policies/default.lua"
		echo "    vm:"
		echo "      payload: $GUESTS/halt.bin"
		echo "      memory: 16M"
		echo "      timeout: 20"
		echo "      devices:"
		echo "        - { type: console, port: 0x3f8 }"
		for l in "$@"; do echo "      $l"; done
	} >"$f"
}
bad() { # bad WHAT REGEX VM-LINES...
	local what=$1 re=$2
	shift 2
	pcfg "$T/bad.yaml" "$@"
	xrun "$T/bad.yaml"
	[ $rc = 2 ] && has "$ERR" "$re"
	ok $? "$what: status 2 and a message (status $rc: $(head -3 <<<"$ERR" | tr '\n' ' '))"
}

bad "an unknown VM type" "'tdx' is not a VM type \(known: default, sw_protected\)" "type: tdx"
bad "private ranges without sw_protected" "private memory needs a software-protected VM" \
	"private: [ { gpa: 0x200000, size: 4K } ]"
bad "a private range beyond RAM" "private\[0\]: 0xfff000..0x1000fff is not all in RAM" \
	"type: sw_protected" "private: [ { gpa: 0xfff000, size: 8K } ]"
bad "an unaligned private range" "must be whole 4K pages" \
	"type: sw_protected" "private: [ { gpa: 0x200800, size: 4K } ]"
bad "a private range without size" "give both gpa: and size:" \
	"type: sw_protected" "private: [ { gpa: 0x200000 } ]"
bad "a private range with an unknown key" "unknown key 'len' \(known: gpa, size\)" \
	"type: sw_protected" "private: [ { gpa: 0x200000, len: 4K } ]"
bad "plain ranges without sw_protected" "memslots without guest_memfd only mean something in a software-protected VM" \
	"plain: [ { gpa: 0x200000, size: 4K } ]"
bad "overlapping plain ranges" "plain\[1\]: overlaps plain\[0\]" \
	"type: sw_protected" "plain: [ { gpa: 0x200000, size: 8K }, { gpa: 0x201000, size: 4K } ]"
bad "a plain range beyond RAM" "plain\[0\]: 0x1000000..0x1000fff is not all in RAM" \
	"type: sw_protected" "plain: [ { gpa: 0x1000000, size: 4K } ]"
bad "a private range neither in RAM nor in a device" \
	"private\[0\]: 0xd0000000..0xd0000fff is not all in RAM \(memory ends at 0xffffff\) nor in one page-aligned ram or pattern device" \
	"type: sw_protected" "private: [ { gpa: 0xd0000000, size: 4K } ]"
bad "a private range reaching past a ram device" "private\[0\]: 0xd000f000..0xd0010fff is not all in RAM" \
	"  - { type: ram, at: 0xd0000000, size: 64K }" "type: sw_protected" \
	"private: [ { gpa: 0xd000f000, size: 8K } ]"
# A private range in a ram device's window (no memslot there) is configuration the KVM
# backend carries out: here only the missing private memory stops it.
pcfg "$T/win.yaml" "  - { type: ram, at: 0xd0000000, size: 64K }" "type: sw_protected" \
	"private: [ { gpa: 0xd0000000, size: 4K } ]"
xrun "$T/win.yaml"
if [ $rc = 0 ]; then
	echo "ok $((n += 1)) # SKIP this KVM has private memory: the refusal cannot be seen here"
else
	[ $rc = 2 ] && has "$ERR" "needs private memory" && ! has "$ERR" "not all in RAM"
	ok $? "vm.private in a ram device's window is accepted (status $rc: $(head -3 <<<"$ERR" | tr '\n' ' '))"
fi

# type: default is what no type means: the guest runs.
pcfg "$T/default.yaml" "type: default"
xrun "$T/default.yaml"
[ $rc = 0 ] && has "$OUT" 'halt: bye'
ok $? "type: default runs the guest (status $rc)"

# sw_protected on this KVM: refused when it lacks private memory, with what is missing.
pcfg "$T/swp.yaml" "type: sw_protected" "private: [ { gpa: 0x200000, size: 64K } ]"
xrun "$T/swp.yaml"
if [ $rc = 0 ]; then
	echo "ok $((n += 1)) # SKIP this KVM has private memory: the refusal cannot be seen here"
else
	[ $rc = 2 ] && has "$ERR" "guest 'g': vm.type sw_protected needs private memory, which this KVM lacks: .*KVM_CAP_MEMORY_ATTRIBUTES \(PRIVATE\) = 0"
	ok $? "sw_protected on a KVM without private memory: status 2 naming the missing capabilities (status $rc: $(head -3 <<<"$ERR" | tr '\n' ' '))"
	[ "$(grep -c 'needs private memory' <<<"$ERR")" = 1 ]
	ok $? "... said once"
fi
finish
