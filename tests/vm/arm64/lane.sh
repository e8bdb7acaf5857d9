# The arm64 lane: Debian 12's arm64 kernel (KVM built in) booted in qemu-system-aarch64 TCG
# with EL2 (virtualization=on), so that /dev/kvm inside is real arm64 KVM and produces
# KVM_EXIT_ARM_NISV. Facts: /work/shared/notes/arm64-kvm-under-tcg.md. Sourced by ../lane.sh.

# The pinned kernel: the package linux-image-arm64:arm64 depended on when the lane was
# written (2026-12, bookworm-security). When the archive drops it, the lane says so; move
# the pin to what `apt-cache depends linux-image-arm64:arm64` names then.
arm64_kpkg=linux-image-6.1.0-57-arm64
arm64_kver=6.1.192-3

lane_kernel() {
	local out=$cache/arm64-$arm64_kpkg-$arm64_kver apt=$cache/apt-arm64 deb
	if [ -f "$out/vmlinuz" ]; then
		KERNEL=$out/vmlinuz
		note "arm64: kernel $arm64_kpkg $arm64_kver, cached in $out"
		return
	fi
	need_cmds "apt (Debian)" apt-get dpkg-deb
	exec 9>"$cache/arm64.lock"
	flock 9
	if [ ! -f "$out/vmlinuz" ]; then
		apt_setup "$apt" arm64 "bookworm bookworm-updates bookworm-security" ||
			skip "arm64: cannot reach the Debian archive for $arm64_kpkg (no Debian archive in apt's sources, or it is unreachable: see $apt/update.log)"
		rm -f "$apt"/*.deb
		(cd "$apt" && apt_private "$apt" arm64 apt-get download "$arm64_kpkg=$arm64_kver") \
			>"$apt/download.log" 2>&1 ||
			skip "arm64: the archive no longer has $arm64_kpkg $arm64_kver (the pin in tests/vm/arm64/lane.sh): $(tail -n1 "$apt/download.log")"
		deb=$(ls "$apt"/"$arm64_kpkg"_*.deb | head -n1)
		mkdir -p "$out.tmp"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out.tmp" --wildcards './boot/vmlinuz-*' ||
			fail_setup "arm64: cannot unpack $deb"
		# an uncompressed Image: qemu's -kernel takes it as it is
		mv "$out.tmp"/boot/vmlinuz-* "$out.tmp/vmlinuz"
		rm -rf "$out.tmp/boot" "$deb"
		echo "$arm64_kpkg $arm64_kver" >"$out.tmp/version"
		rm -rf "$out"
		mv "$out.tmp" "$out"
	fi
	flock -u 9
	KERNEL=$out/vmlinuz
	note "arm64: kernel $arm64_kpkg $arm64_kver, fetched into $out"
}

lane_toolchain() {
	need_cmds "qemu-system-arm" qemu-system-aarch64
	need_cmds "gcc-aarch64-linux-gnu libc6-dev-arm64-cross" aarch64-linux-gnu-gcc
	need_cmds "cpio" cpio
	need_cmds "cmake" cmake
	CC=aarch64-linux-gnu-gcc
	echo 'int main(void){return 0;}' | $CC -static -x c -o "$work/cc-probe" - 2>/dev/null ||
		skip "aarch64-linux-gnu-gcc cannot link a static program (install: libc6-dev-arm64-cross)"
}

# t_arm64_oracle* drive the A64 load/store emulator (core/emu/arm64) on real KVM: built
# with its sources.
lane_test_args() {
	test_args=()
	case $1 in
	t_arm64_oracle*) test_args=(-I"$src/core/emu/arm64" "$src"/core/emu/arm64/*.c) ;;
	esac
}

# The aarch64 exitgate, cross-built statically (tests/vm/aarch64-linux-gnu.cmake) in the
# build tree and put at /bin/exitgate, with the example exits under /share/exits.
lane_build() {
	local xb=$work/exitgate-aarch64 log=$work/exitgate-build.log lib t
	for lib in liblua5.4.a libcapstone.a libyaml.a; do
		[ -f "/usr/lib/aarch64-linux-gnu/$lib" ] ||
			skip "arm64: /usr/lib/aarch64-linux-gnu/$lib not found (install: dpkg --add-architecture arm64; liblua5.4-dev:arm64 libcapstone-dev:arm64 libyaml-dev:arm64; .ci/deps does)"
	done
	: >"$log"
	if [ ! -f "$xb/CMakeCache.txt" ]; then
		cmake -S "$src" -B "$xb" -DCMAKE_TOOLCHAIN_FILE="$vm_dir/aarch64-linux-gnu.cmake" \
			-DXG_STATIC=ON -DCMAKE_BUILD_TYPE=Release >>"$log" 2>&1 ||
			fail_setup "configuring the aarch64 cross build of exitgate failed" "$log"
	fi
	cmake --build "$xb" -j"$jobs" --target exitgate_cli >>"$log" 2>&1 ||
		fail_setup "the aarch64 cross build of exitgate failed" "$log"
	aarch64-linux-gnu-strip -o "$root/bin/exitgate" "$xb/exitgate" >>"$log" 2>&1 ||
		fail_setup "stripping the aarch64 exitgate failed" "$log"
	mkdir -p "$root/share/exits"
	cp "$src"/examples/exits/*.hex "$root/share/exits/"
	# exitgate run on arm64 KVM (t_arm64_run): configs and policies from arm64/share, the
	# default policy, the Lua module (XG_LUA_DIR=/share/lua) and the arm64 guests as the host
	# build assembled them (examples/guests/arm64: flat binaries, any host)
	mkdir -p "$root/share/arm64" "$root/share/lua"
	cp "$vm_dir"/arm64/share/* "$src/policies/default.lua" "$root/share/arm64/"
	cp -r "$src"/lua/. "$root/share/lua/"
	for t in "$src"/examples/guests/arm64/*.S; do
		t=$(basename "$t" .S)
		cp "$build/guests/arm64/$t.bin" "$root/share/arm64/" 2>>"$log" ||
			fail_setup "arm64: guest payload $build/guests/arm64/$t.bin is missing (the host build makes it when aarch64-linux-gnu-gcc is there)" "$log"
	done
	# the A64 load/store emulator's tests (tests/emu) on an aarch64 CPU: the unit test, and
	# the oracle that runs random loads/stores natively and through the emulator
	for t in t_emu_arm64_ops t_emu_arm64_oracle; do
		$CC -static -O2 -Wall -Wextra -Werror -I"$src/tests" -I"$src/core/emu/arm64" \
			-o "$root/tests/$t" "$src/tests/emu/$t.c" \
			"$src"/core/emu/arm64/*.c "$src/tests/tap.c" >>"$log" 2>&1 ||
			fail_setup "building $t for aarch64 failed" "$log"
	done
}

lane_boot() {
	# -nic none: otherwise qemu wants efi-virtio.rom and quits. pauth-impdef=on: boot ~4x
	# faster than the architected QARMA pointer authentication under TCG. NAME=VALUE words
	# on the command line reach /init's environment and the tests: the oracle's size, seed
	# and time budget (t_arm64_oracle.c) pass through when set; a budget raises /init's
	# per-test limit (xg_vm.timeout) to match. XG_VM_TIMEOUT bounds the whole VM.
	local env="${XG_ORACLE_CASES:+ XG_ORACLE_CASES=$XG_ORACLE_CASES}${XG_ORACLE_SEED:+ XG_ORACLE_SEED=$XG_ORACLE_SEED}"
	[ -n "${XG_ORACLE_SECONDS:-}" ] &&
		env="$env XG_ORACLE_SECONDS=$XG_ORACLE_SECONDS xg_vm.timeout=$((XG_ORACLE_SECONDS + 120))"
	run_vm qemu-system-aarch64 -accel tcg -M virt,virtualization=on,gic-version=3 -cpu max,pauth-impdef=on \
		-m 1024 -smp 1 -nographic -no-reboot -nic none \
		-kernel "$KERNEL" -initrd "$initrd" -append "console=ttyAMA0 panic=-1 loglevel=4$env"
}

# /init ends with PSCI SYSTEM_OFF: qemu exits 0. The TAP decides; anything but 0 means the
# VM did not end through /init.
lane_vm_error() {
	case $vm_status in
	0) ;;
	124 | 137) echo "qemu killed after ${timeout_s} s (XG_VM_TIMEOUT): the VM hung" ;;
	*) echo "qemu exited with status $vm_status: the VM did not end through /init's power-off" ;;
	esac
}
