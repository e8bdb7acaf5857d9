#!/usr/bin/env bash
# tests/vm/lane.sh LANE [--kernel-only]
#
# One VM lane: a kernel booted in qemu (TCG) whose /dev/kvm has what the host's lacks, with
# this lane's test programs inside. The harness
#   1. gets the lane's kernel (fetched and/or built once, cached outside the clone),
#   2. builds a static /init (tests/vm/init.c) and the lane's test programs for the lane's
#      architecture (tests/vm/LANE/t_*.c, plus whatever the lane's lane_build adds),
#   3. packs them into a cpio initramfs (with a /dev/console node),
#   4. boots qemu once, with a timeout, and reads the serial console,
#   5. relays the tests' TAP to prove as one stream: every inner result renumbered and named
#      "LANE/TEST: ...", one result per test for its exit status and plan, and a failure with
#      the console's last lines when the VM crashes, hangs or ends before /init says "done".
# A lane lives in tests/vm/LANE/lane.sh, sourced here, which defines lane_kernel (sets KERNEL
# or skips), lane_toolchain (sets CC or skips), lane_build (more files into $root), lane_boot
# (run_vm with its qemu command line) and lane_vm_error (what qemu's exit status means). To
# add a test to a lane, drop a t_NAME.c (a TAP program, built static with tests/tap.c, run as
# root inside, in name order) in its directory.
#
# Environment: XG_BUILD, XG_SOURCE (set by the test suite), XG_VM_CACHE (default
# /var/cache/exitgate-vm when writable, else ~/.cache/exitgate-vm), XG_VM_TIMEOUT (seconds
# for the boot and all tests, default 600), XG_VM_REFRESH=1 (ask the archive for a newer
# kernel even when one is cached), XG_VM_JOBS (make -j for a kernel build, default 2).
set -uo pipefail

lane=${1:?usage: lane.sh LANE [--kernel-only]}
mode=${2:-}
vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${XG_SOURCE:-$(cd "$vm_dir/../.." && pwd)}
build=${XG_BUILD:-$src/build}
work=$build/vm/$lane
timeout_s=${XG_VM_TIMEOUT:-600}
jobs=${XG_VM_JOBS:-2}

if [ "$lane" != --relay ] && [ ! -f "$vm_dir/$lane/lane.sh" ]; then
	echo "lane.sh: no lane '$lane' (expected $vm_dir/$lane/lane.sh)" >&2
	exit 2
fi

# --- TAP helpers for what happens before the VM runs -------------------------------------
note() { printf '# %s\n' "$*"; }
skip() {
	echo "1..0 # SKIP $*"
	exit 0
}
# A failure before any test ran: one failing result that says what and where the log is.
fail_setup() {
	local what=$1 log=${2:-}
	echo "not ok 1 - $lane: $what"
	if [ -n "$log" ] && [ -f "$log" ]; then
		note "last lines of $log:"
		tail -n 25 "$log" | sed 's/^/#   /'
	fi
	echo "1..1"
	exit 1
}
need_cmds() { # need_cmds PACKAGE-HINT CMD...: skip when a command is missing
	local hint=$1 c
	shift
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c not found (install: $hint; .ci/deps does)"
	done
}

# --- The cache: outside the clone, shared by every build tree ----------------------------
cache_dir() {
	if [ -n "${XG_VM_CACHE:-}" ]; then
		echo "$XG_VM_CACHE"
	elif mkdir -p /var/cache/exitgate-vm 2>/dev/null && [ -w /var/cache/exitgate-vm ]; then
		echo /var/cache/exitgate-vm
	else
		echo "${XDG_CACHE_HOME:-$HOME/.cache}/exitgate-vm"
	fi
}
cache=

# --- apt with private state: the system's sources and lists are never touched ------------
# The Debian archive's address comes from the system's own apt configuration, at run time.
apt_archive() { # apt_archive debian|debian-security -> URI, or nothing
	apt-get indextargets --format '$(REPO_URI)' 2>/dev/null | sort -u |
		grep -m1 -E "/$1/?\$" | sed 's,/*$,,'
}
# apt_private DIR ARCH CMD ARGS...: apt-get/apt-cache with DIR's sources.list and lists.
apt_private() {
	local dir=$1 arch=$2 cmd=$3
	shift 3
	"$cmd" -q -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" \
		-o Dir::State::status=/dev/null -o APT::Architecture="$arch" \
		-o APT::Architectures="$arch" -o Debug::NoLocking=1 "$@"
}
# apt_setup DIR ARCH "SUITE..." : writes DIR/sources.list and runs update; fails quietly.
apt_setup() {
	local dir=$1 arch=$2 suites=$3 deb sec s
	deb=$(apt_archive debian)
	sec=$(apt_archive debian-security)
	[ -n "$deb" ] || return 1
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	: >"$dir/sources.list"
	for s in $suites; do
		case $s in
		*-security) [ -n "$sec" ] && echo "deb $sec $s main" >>"$dir/sources.list" ;;
		*) echo "deb $deb $s main" >>"$dir/sources.list" ;;
		esac
	done
	apt_private "$dir" "$arch" apt-get update >"$dir/update.log" 2>&1 &&
		! grep -qE '^(W|E): Failed to fetch|^Err:' "$dir/update.log"
}

# --- Building the initramfs ----------------------------------------------------------------
# Set by the lane: CC (a compiler producing static binaries for the lane's arch), and
# lane_build may copy more files into $root. A test program is built with tests/tap.c (the
# suite's TAP producer: plan, ok, is_hex, skip_all ...).
root=$work/root
initrd=$work/initrd.cpio
console=$work/console.log

# lane_test_args NAME: sets test_args (an array) to what else the lane's test NAME is built
# with (more sources, include paths); a lane.sh may redefine it. None by default.
lane_test_args() { test_args=(); }

build_init_and_tests() {
	local t name log=$work/build.log
	rm -rf "$root"
	mkdir -p "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/tests" "$root/bin"
	: >"$log"
	$CC -static -O2 -Wall -Wextra -Werror -o "$root/init" "$vm_dir/init.c" >>"$log" 2>&1 ||
		fail_setup "building /init with $CC failed" "$log"
	for t in "$vm_dir/$lane"/t_*.c; do
		[ -e "$t" ] || continue
		name=$(basename "$t" .c)
		lane_test_args "$name"
		$CC -static -O2 -Wall -Wextra -Werror -I"$src/tests" -I"$vm_dir" -o "$root/tests/$name" \
			"$t" "$src/tests/tap.c" "${test_args[@]}" >>"$log" 2>&1 ||
			fail_setup "building $lane/$name with $CC failed" "$log"
	done
}

# cpio_entry NAME MODE RDEVMAJOR RDEVMINOR: one newc header (no data) for a node cpio
# cannot copy without root (a device). The newc format: "070701", 13 fields of 8 hex digits
# (ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize
# check), the NUL-terminated name, padding to 4 bytes.
cpio_entry() {
	local name=$1 mode=$2 rmaj=$3 rmin=$4 n
	n=$((${#name} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		0 "$mode" 0 0 1 0 0 0 0 "$rmaj" "$rmin" "$n" 0 "$name"
	head -c $(((4 - (110 + n) % 4) % 4)) /dev/zero
}
# The initramfs: a small archive holding /dev and /dev/console (char 5:1; without it the
# kernel has nowhere to print /init's output), then cpio's archive of $root. The kernel
# unpacks concatenated archives in order (Documentation/driver-api/early-userspace/
# buffer-format.rst).
pack_initrd() {
	{
		cpio_entry dev $((0040755)) 0 0
		cpio_entry dev/console $((0020600)) 5 1
		cpio_entry TRAILER!!! 0 0 0
	} >"$initrd"
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) \
		>>"$initrd" || fail_setup "cpio failed to pack $root"
}

# --- Running the VM and relaying its TAP ---------------------------------------------------
# /init prints, for each test: "#xg-vm begin NAME", the test's own TAP, "#xg-vm end NAME
# STATUS", and at the end "#xg-vm done FAILED". Everything else on the console (kernel
# messages) is passed through as TAP comments.
relay() {
	awk -v lane="$lane" -v vmerr="$1" '
	function result(ok, text) {
		n++
		if (!ok) failed++
		printf "%s %d - %s\n", ok ? "ok" : "not ok", n, text
	}
	function tail_console(   i, s) {
		s = nlines > 15 ? nlines - 15 : 0
		print "# last console lines:"
		for (i = s + 1; i <= nlines; i++) print "#   " lines[i % 16]
	}
	{
		sub(/\r+$/, "")
		nlines++
		lines[nlines % 16] = $0
	}
	/^#xg-vm begin / { cur = $3; planned = -1; ran = 0; skipall = ""; next }
	/^#xg-vm end / {
		name = $3; st = $0; sub(/^#xg-vm end [^ ]* */, "", st)
		if (cur == "") { print "# stray end marker: " $0; next }
		if (skipall != "")
			result(st == "exit 0", lane "/" name ": skipped: " skipall (st == "exit 0" ? "" : " (but ended: " st ")"))
		else if (st != "exit 0")
			result(0, lane "/" name ": ended: " st " (after " ran " of " (planned < 0 ? "?" : planned) " results)")
		else if (planned < 0)
			result(0, lane "/" name ": printed no plan")
		else if (ran != planned)
			result(0, lane "/" name ": ran " ran " of " planned " planned")
		else
			result(1, lane "/" name ": exit 0, " ran " of " planned)
		cur = ""
		next
	}
	/^#xg-vm done/ { done = 1; initfail = $3; next }
	/^#xg-vm / { print "# " $0; next }
	cur != "" && /^1\.\.[0-9]+/ {
		planned = $0; sub(/^1\.\./, "", planned); planned += 0
		if (planned == 0 && match($0, /# *[Ss][Kk][Ii][Pp]/)) {
			skipall = substr($0, RSTART + RLENGTH); sub(/^ */, "", skipall)
			if (skipall == "") skipall = "no reason given"
		}
		next
	}
	cur != "" && /^(not )?ok( |$)/ {
		ok = ($0 ~ /^ok/)
		rest = $0; sub(/^(not )?ok *[0-9]* *-? */, "", rest)
		ran++
		if (!ok && rest ~ /# *TODO/) {
			# a TODO failure stays "not ok ... # TODO": prove counts it as TAP says
			printf "not ok %d - %s\n", ++n, lane "/" cur ": " rest
			next
		}
		result(ok, lane "/" cur ": " rest)
		next
	}
	cur != "" && /^Bail out!/ { result(0, lane "/" cur ": " $0); next }
	{ print "# " $0 }
	END {
		if (!done) {
			if (cur != "")
				result(0, lane "/" cur ": the VM stopped while this test ran (crash, panic or timeout)")
			result(0, lane ": /init never reported the end of its tests (see the console lines below)")
			tail_console()
		} else if (initfail != "" && initfail != 0 && failed == 0) {
			result(0, lane ": /init reported " initfail " failed test(s)")
		}
		if (vmerr != "") {
			result(0, lane ": " vmerr)
			if (done) tail_console()
		}
		if (n == 0) result(0, lane ": no test ran")
		printf "1..%d\n", n
		exit failed ? 1 : 0
	}' "$console"
}

# run_vm CMD...: runs qemu with a timeout, console to $console; sets vm_status.
run_vm() {
	: >"$console"
	timeout --kill-after=10 "$timeout_s" "$@" </dev/null >"$console" 2>"$work/qemu.err"
	vm_status=$?
}

# lane.sh --relay CONSOLE [VM-ERROR]: only the relay, over a saved console (t_vm_relay.sh).
if [ "$lane" = --relay ]; then
	console=$2
	lane=relay
	relay "${3:-}"
	exit
fi

# The sanitizer build runs the same suite again under ASan/UBSan; nothing inside a VM is
# built with them (the kernel, /init and the lane programs are the same), so a second boot
# would prove nothing new.
if [ "${XG_SANITIZE:-OFF}" = ON ]; then
	skip "VM lanes run in the normal build only (nothing inside the VM is sanitized)"
fi

# shellcheck source=/dev/null
. "$vm_dir/$lane/lane.sh"

cache=$(cache_dir)
mkdir -p "$cache" || skip "cannot create the VM cache $cache (set XG_VM_CACHE)"
mkdir -p "$work"
lane_kernel # sets KERNEL (and says its version), or skips
if [ "$mode" = --kernel-only ]; then
	note "kernel: $KERNEL"
	exit 0
fi
lane_toolchain # sets CC, or skips
build_init_and_tests
lane_build # extra files into $root
pack_initrd
note "$lane: initramfs $(du -k "$initrd" | cut -f1) KiB, booting (timeout ${timeout_s}s)"
t0=$(date +%s)
lane_boot # runs run_vm with the lane's qemu command line
t1=$(date +%s)
note "$lane: qemu ran $((t1 - t0)) s, exit status $vm_status"
if [ -s "$work/qemu.err" ]; then
	note "qemu's stderr:"
	sed 's/^/#   /' "$work/qemu.err"
fi
relay "$(lane_vm_error)"
