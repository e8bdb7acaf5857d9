# The private-memory lane (x86_64): Linux 6.12 from bookworm-backports built with
# CONFIG_KVM_SW_PROTECTED_VM (Debian's binary kernel lacks it), booted in qemu-system-x86_64
# TCG with -cpu max (SVM with nested paging), so that /dev/kvm inside has guest_memfd and
# memory attributes. Facts: /work/shared/notes/private-memory-under-tcg.md. Sourced by
# ../lane.sh.

pmem_frag=$vm_dir/pmem/kernel.config
# Bump when the way the kernel is built changes (not the fragment: it is hashed).
pmem_recipe=1

pmem_hash() {
	{
		echo "recipe $pmem_recipe"
		grep -E '^(# )?CONFIG_' "$pmem_frag"
	} | sha256sum | cut -c1-12
}

# Every line of the fragment must hold in the final .config (Kconfig drops an option whose
# dependencies are off without a word).
pmem_verify_config() {
	local cfg=$1 line name bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF "$line" "$cfg" || { echo "kernel config: $line did not stick"; bad=1; } ;;
		"# CONFIG_"*" is not set")
			name=${line#\# }
			name=${name%% *}
			grep -q "^$name=" "$cfg" && { echo "kernel config: $name is still set"; bad=1; } ;;
		esac
	done <"$pmem_frag"
	return $bad
}

pmem_build_kernel() { # pmem_build_kernel VERSION DEBDIR OUTDIR LOG
	local version=$1 apt=$2 out=$3 log=$4 tree=$cache/pmem-build-$version deb tarball
	rm -rf "$tree"
	mkdir -p "$tree"
	note "pmem: building linux-source-6.12 $version (tinyconfig + tests/vm/pmem/kernel.config, make -j$jobs); log: $log"
	(cd "$apt" && apt_private "$apt" amd64 apt-get download "linux-source-6.12=$version") \
		>>"$log" 2>&1 || return 1
	deb=$(ls "$apt"/linux-source-6.12_*.deb 2>/dev/null | head -n1)
	[ -n "$deb" ] || { echo "no .deb downloaded" >>"$log"; return 1; }
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tree" --wildcards '*.tar.xz' >>"$log" 2>&1 ||
		return 1
	tarball=$(ls "$tree"/usr/src/linux-source-6.12*.tar.xz | head -n1)
	tar -xJf "$tarball" -C "$tree" >>"$log" 2>&1 || return 1
	rm -rf "$tree/usr" "$deb"
	local k
	k=$(ls -d "$tree"/linux-source-6.12* | head -n1)
	{
		make -C "$k" tinyconfig &&
			(cd "$k" && scripts/kconfig/merge_config.sh -m .config "$pmem_frag") &&
			make -C "$k" olddefconfig
	} >>"$log" 2>&1 || return 1
	pmem_verify_config "$k/.config" >>"$log" 2>&1 || return 1
	nice make -C "$k" -j"$jobs" bzImage >>"$log" 2>&1 || return 1
	mkdir -p "$out"
	cp "$k/.config" "$out/config"
	cp "$k/arch/x86/boot/bzImage" "$out/bzImage.tmp" && mv "$out/bzImage.tmp" "$out/bzImage"
	echo "$version" >"$out/version"
	rm -rf "$tree"
}

lane_kernel() {
	local hash cached version apt=$cache/apt-backports out log t0
	hash=$(pmem_hash)
	# Newest cached kernel for this config; used as it is unless XG_VM_REFRESH is set.
	cached=$(ls -d "$cache"/pmem-*-"$hash" 2>/dev/null | sort -V | while read -r d; do
		[ -f "$d/bzImage" ] && echo "$d"; done | tail -n1)
	if [ -n "$cached" ] && [ -z "${XG_VM_REFRESH:-}" ]; then
		KERNEL=$cached/bzImage
		note "pmem: kernel linux-source-6.12 $(cat "$cached/version") (config $hash), cached in $cached"
		return
	fi
	need_cmds "apt (Debian)" apt-get apt-cache dpkg-deb
	need_cmds "build-essential flex bison bc libelf-dev xz-utils zstd" make gcc flex bison bc xz zstd
	[ -f /usr/include/libelf.h ] || skip "libelf.h not found (install: libelf-dev; .ci/deps does)"
	exec 9>"$cache/pmem.lock"
	flock 9 # one builder at a time; a second waits and then finds the cached kernel
	if ! apt_setup "$apt" amd64 bookworm-backports; then
		if [ -n "$cached" ]; then
			KERNEL=$cached/bzImage
			note "pmem: archive unreachable; kernel $(cat "$cached/version") (config $hash) from the cache"
			return
		fi
		skip "pmem: cannot fetch linux-source-6.12 from bookworm-backports (no Debian archive in apt's sources, or it is unreachable: see $apt/update.log)"
	fi
	version=$(apt_private "$apt" amd64 apt-cache policy linux-source-6.12 2>/dev/null |
		awk '/Candidate:/ { print $2 }')
	case $version in
	"" | "(none)") skip "pmem: bookworm-backports has no linux-source-6.12" ;;
	esac
	out=$cache/pmem-$version-$hash
	log=$cache/pmem-$version-$hash.log
	if [ ! -f "$out/bzImage" ]; then
		: >"$log"
		t0=$(date +%s)
		pmem_build_kernel "$version" "$apt" "$out" "$log" ||
			fail_setup "building the pmem kernel (linux-source-6.12 $version) failed" "$log"
		note "pmem: kernel built in $(($(date +%s) - t0)) s"
	fi
	flock -u 9
	KERNEL=$out/bzImage
	note "pmem: kernel linux-source-6.12 $version (config $hash), cached in $out"
}

lane_toolchain() {
	need_cmds "qemu-system-x86" qemu-system-x86_64
	need_cmds "build-essential" gcc cpio strip
	need_cmds "cmake" cmake
	CC=gcc
	# a static link needs libc.a
	echo 'int main(void){return 0;}' | $CC -static -x c -o "$work/cc-probe" - 2>/dev/null ||
		skip "gcc cannot link a static program (install: libc6-dev)"
}

# exitgate itself, linked statically (-DXG_STATIC=ON) in the build tree and put at
# /bin/exitgate, with examples/exits under /share/exits: the lane's programs hand it the real
# exits to decode (and exitgate's own private-memory tests will run it there).
lane_build() {
	local xb=$work/exitgate-static log=$work/exitgate-build.log lib
	for lib in liblua5.4.a libcapstone.a libyaml.a; do
		[ -f "/usr/lib/x86_64-linux-gnu/$lib" ] ||
			skip "pmem: /usr/lib/x86_64-linux-gnu/$lib not found (install: liblua5.4-dev libcapstone-dev libyaml-dev; .ci/deps does)"
	done
	: >"$log"
	if [ ! -f "$xb/CMakeCache.txt" ]; then
		cmake -S "$src" -B "$xb" -DXG_STATIC=ON -DCMAKE_BUILD_TYPE=Release >>"$log" 2>&1 ||
			fail_setup "configuring the static build of exitgate failed" "$log"
	fi
	cmake --build "$xb" -j"$jobs" --target exitgate_cli >>"$log" 2>&1 ||
		fail_setup "the static build of exitgate failed" "$log"
	strip -o "$root/bin/exitgate" "$xb/exitgate" >>"$log" 2>&1 ||
		fail_setup "stripping the static exitgate failed" "$log"
	mkdir -p "$root/share/exits"
	cp "$src"/examples/exits/*.hex "$root/share/exits/"
	# exitgate's own runs inside (t_pmem_run): configs and policies from pmem/share, the
	# guests of pmem/guests as the host build made them (flat binaries, any x86_64 host)
	mkdir -p "$root/share/pmem" "$root/share/lua"
	cp "$vm_dir"/pmem/share/* "$root/share/pmem/"
	cp -r "$src"/lua/. "$root/share/lua/" # the policies' module: XG_LUA_DIR=/share/lua
	# the shipped policies (pmem_refuse.yaml runs confidential.lua) and confidential's own
	# tests, at the same places relative to each other as in the source tree
	mkdir -p "$root/share/policies" "$root/share/tests/policies"
	cp "$src"/policies/*.lua "$root/share/policies/"
	cp "$src"/tests/policies/confidential_test.lua "$root/share/tests/policies/"
	for g in "$vm_dir"/pmem/guests/*.S; do
		g=$(basename "$g" .S)
		cp "$build/guests/$g.bin" "$root/share/pmem/" 2>>"$log" ||
			fail_setup "pmem: guest payload $build/guests/$g.bin is missing (build the pmem_guests target)" "$log"
	done
}

lane_boot() {
	local khz
	# -accel tcg: the nested /dev/kvm needs qemu's emulated SVM, whatever the host has.
	# The nested kernel cannot calibrate its TSC under TCG: without tsc_early_khz the first
	# KVM_RUN inside never returns. The host's TSC rate (or its CPU clock) is a fine value.
	# no_timer_check: the SMP kernel routes the timer through the IO-APIC and checks that
	# it ticks within a few jiffies, which TCG on a loaded host can miss ("IO-APIC + timer
	# doesn't work!", a panic seen here).
	khz=$(awk -F': *' '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
	[ -n "$khz" ] && [ "$khz" -gt 0 ] || khz=2000000
	# Two CPUs: t_pmem_run's two vCPUs convert at the same time (an SMP kernel without
	# ACPI finds CPUs in the firmware's MP table). Two sockets: SeaBIOS lists one CPU per
	# package in its MP table, and qemu's plain "-smp 2" makes them two cores of one.
	run_vm qemu-system-x86_64 -accel tcg -M pc -cpu max -m 256 -smp 2,sockets=2,cores=1,threads=1 \
		-nodefaults -display none \
		-serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=1 \
		-kernel "$KERNEL" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=4 tsc_early_khz=$khz tsc=reliable noapictimer no_timer_check"
}

# /init writes its result to isa-debug-exit: qemu exits with (value << 1) | 1, so 1 = all
# passed, 3 = some failed (the relay sees which). Anything else (0: the kernel rebooted or
# panicked, 124: timeout) means /init did not finish.
lane_vm_error() {
	case $vm_status in
	1 | 3) ;;
	124 | 137) echo "qemu killed after ${timeout_s} s (XG_VM_TIMEOUT): the VM hung" ;;
	*) echo "qemu exited with status $vm_status, not through isa-debug-exit: /init did not finish" ;;
	esac
}
