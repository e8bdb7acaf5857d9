/*
 * t_engine_config.c - the YAML configuration: defaults and per-guest overrides, params
 * reaching the policy with their types, the per-guest vm: section of the mini-VMM, and every
 * error naming file, line and key.
 */
#include "config/config.h"
#include <sys/stat.h>

#include "engine_test.h"

static void bad(const char *yaml, const char *want, const char *what)
{
	struct xg_error err = {{0}};
	xg_config *c = xg_config_parse(yaml, strlen(yaml), "bad.yaml", tdir(), &err);

	ok(c == NULL && strstr(err.msg, want) != NULL, "%s: %s", what, err.msg);
	xg_config_free(c);
}

/* A guest 'demo' whose vm: section starts on line 5 with the given lines (6 spaces in). */
static void bad_vm(const char *lines, const char *want, const char *what)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml), "guests:\n  demo:\n    policy: q.lua\n    vm:\n%s", lines);
	bad(yaml, want, what);
}

static void vm_full(void)
{
	struct xg_error err = {{0}};
	const struct xg_guest_cfg *g;
	const struct xg_vm_cfg *vm;
	xg_config *c, *copy;
	const char *path = put_file(
	    "vm.yaml", "defaults:\n"
		       "  dump_max: 50\n"
		       "guests:\n"
		       "  demo:\n"
		       "    policy: q.lua\n"
		       "    dump_max: 7\n"
		       "    vm:\n"
		       "      payload: guests/demo.bin\n"
		       "      memory: 32M\n"
		       "      mode: long\n"
		       "      vcpus: 4\n"
		       "      load: 0x200000\n"
		       "      entry: 0x200010\n"
		       "      timeout: 2.5\n"
		       "      storm: 0\n"
		       "      msr_trap: [0x1a0, [0xc0010000, 0xc0010010]]\n"
		       "      devices:\n"
		       "        - { type: console, port: 0x3f8 }\n"
		       "        - { type: done, port: 0x501 }\n"
		       "        - { type: ram, at: 0xd0000000, size: 64K }\n"
		       "        - type: pattern\n"
		       "          at: 0xd0100000\n"
		       "          size: 4K\n"
		       "  small:\n"
		       "    policy: q.lua\n"
		       "    vm: { payload: x.bin }\n"
		       "  boot:\n"
		       "    policy: q.lua\n"
		       "    vm: { payload: boot.bin, mode: real, load: 0x7c00, timeout: 30 }\n"
		       "  plain:\n"
		       "    policy: q.lua\n");

	c = xg_config_load(path, &err);
	if (!ok(c != NULL, "a configuration with vm: sections loads"))
		bail("%s", err.msg);
	g = xg_config_guest(c, "demo");
	vm = &g->vm;
	ok(vm->present && vm->line == 7, "demo has a vm: section, at line 7");
	is_str(vm->payload, "guests/demo.bin", "payload kept as written");
	is_hex(vm->memory, 32u << 20, "memory with a size suffix");
	ok(vm->mode == 0 && vm->vcpus == 4, "mode long is 0, vcpus 4");
	is_hex(vm->load, 0x200000, "load");
	is_hex(vm->entry, 0x200010, "entry");
	ok(vm->timeout == 2.5 && vm->storm == 0, "timeout 2.5 s, storm 0 (never)");
	ok(vm->nmsr_trap == 2 && vm->msr_trap[0].first == 0x1a0 && vm->msr_trap[0].last == 0x1a0 &&
	       vm->msr_trap[1].first == 0xc0010000 && vm->msr_trap[1].last == 0xc0010010,
	   "msr_trap: one MSR and one range");
	if (is_int((long long)vm->ndevs, 4, "four devices")) {
		const struct xg_dev_cfg *d = vm->devs;
		ok(d[0].type == XG_DEV_CONSOLE && d[0].at == 0x3f8 && d[0].size == 8 &&
		       d[0].line == 18,
		   "console at 0x3f8: 8 ports, line 18");
		ok(d[1].type == XG_DEV_DONE && d[1].at == 0x501 && d[1].size == 4 &&
		       d[1].line == 19,
		   "done at 0x501: 4 ports, line 19");
		ok(d[2].type == XG_DEV_RAM && d[2].at == 0xd0000000 && d[2].size == 64u << 10,
		   "ram window at 0xd0000000, 64K");
		ok(d[3].type == XG_DEV_PATTERN && d[3].at == 0xd0100000 && d[3].size == 4096 &&
		       d[3].line == 21,
		   "pattern window in block style, line 21");
	}
	is_int((long long)g->dump_max, 7, "dump_max overridden by the guest");

	vm = &xg_config_guest(c, "small")->vm;
	ok(vm->present && !strcmp(vm->payload, "x.bin") && vm->memory == 64u << 20 &&
	       vm->mode == 0 && vm->vcpus == 1 && vm->load == 0x100000 && vm->entry == 0x100000 &&
	       vm->timeout == 0 && vm->storm == XG_DEFAULT_STORM && vm->ndevs == 0 &&
	       vm->nmsr_trap == 0,
	   "only a payload: 64M, long, 1 vCPU, load and entry 0x100000, no timeout, the default "
	   "storm, no devices or trapped MSRs");
	vm = &xg_config_guest(c, "boot")->vm;
	ok(vm->mode == 1 && vm->load == 0x7c00 && vm->entry == 0x7c00 && vm->timeout == 30,
	   "real mode is 1; entry defaults to load; a whole-number timeout");
	g = xg_config_guest(c, "plain");
	ok(!g->vm.present && !g->vm.payload && g->dump_max == 50,
	   "a guest without vm: has none, and inherits dump_max");

	copy = xg_config_copy(c, &err);
	vm = copy ? &xg_config_guest(copy, "demo")->vm : NULL;
	ok(vm && vm->present && vm->ndevs == 4 && vm->nmsr_trap == 2 && vm->vcpus == 4 &&
	       !strcmp(vm->payload, "guests/demo.bin"),
	   "xg_config_copy keeps the vm: section");
	xg_config_free(copy);
	xg_config_free(c);

	{
		FILE *out;
		char buf[512] = "", dir[600];
		int rc;
		/* check finds the payloads as `exitgate run` would: give it them */
		snprintf(dir, sizeof(dir), "%s/guests", tdir());
		mkdir(dir, 0700);
		put_file("guests/demo.bin", "\xf4");
		put_file("x.bin", "\xf4");
		put_file("boot.bin", "\xf4");
		out = tmpfile();
		rc = xg_policy_check(path, out);
		rewind(out);
		buf[fread(buf, 1, sizeof(buf) - 1, out)] = 0;
		fclose(out);
		is_int(rc, 0, "exitgate check passes on it (the engine ignores vm:)%s%s",
		       *buf ? ": " : "", buf);
	}
	c = xg_config_for_policy(put_file("r.lua", "return {}"), &err);
	is_int(c ? (long long)xg_config_guest(c, "default")->dump_max : -1, XG_DEFAULT_DUMP_MAX,
	       "dump_max defaults to %d", XG_DEFAULT_DUMP_MAX);
	xg_config_free(c);
}

/* vm.arch arm64 (issue 12): RAM at ram_base (0x40000000 by default, as on QEMU's virt),
 * load and entry default to it, console and done as MMIO pages; what only x86 has refused. */
static void vm_arm64(void)
{
	static const char ok_yaml[] =
	    "guests:\n"
	    "  a:\n"
	    "    policy: q.lua\n"
	    "    vm:\n"
	    "      arch: arm64\n"
	    "      payload: hello.bin\n"
	    "      memory: 16M\n"
	    "      devices:\n"
	    "        - { type: console, at: 0xd0000000 }\n"
	    "        - { type: done, at: 0xd0001000 }\n"
	    "        - { type: ram, at: 0xd0010000, size: 4K }\n"
	    "  b:\n"
	    "    policy: q.lua\n"
	    "    vm: { arch: arm64, payload: x.bin, ram_base: 0x80000000, entry: 0x80000100 }\n"
	    "  c:\n"
	    "    policy: q.lua\n"
	    "    vm: { arch: x86_64, payload: x.bin, devices: [ { type: console, at: 0xd0000000 } "
	    "] }\n";
	struct xg_error err = {{0}};
	const struct xg_vm_cfg *vm;
	xg_config *c = xg_config_parse(ok_yaml, strlen(ok_yaml), "a64.yaml", tdir(), &err);

	if (!ok(c != NULL, "an arm64 guest's vm: section parses (%s)", c ? "ok" : err.msg))
		return;
	vm = &xg_config_guest(c, "a")->vm;
	ok(vm->arch == XG_ARCH_ARM64 && vm->ram_base == 0x40000000 && vm->load == 0x40000000 &&
	       vm->entry == 0x40000000 && vm->memory == 16u << 20,
	   "arm64: RAM at 0x40000000 by default, load and entry there (arch %d, base %#llx, load "
	   "%#llx)",
	   vm->arch, (unsigned long long)vm->ram_base, (unsigned long long)vm->load);
	ok(vm->ndevs == 3 && !vm->devs[0].port && vm->devs[0].at == 0xd0000000 &&
	       vm->devs[0].size == 4096 && !vm->devs[1].port && vm->devs[1].at == 0xd0001000,
	   "console and done at MMIO pages (at:, one 4K page each)");
	vm = &xg_config_guest(c, "b")->vm;
	ok(vm->ram_base == 0x80000000 && vm->load == 0x80000000 && vm->entry == 0x80000100,
	   "ram_base moves RAM and the default load; entry as given");
	vm = &xg_config_guest(c, "c")->vm;
	ok(vm->arch == XG_ARCH_X86_64 && vm->ram_base == 0 && vm->ndevs == 1 && !vm->devs[0].port,
	   "x86_64 guests may have an MMIO console too, RAM at 0");
	xg_config_free(c);

	bad_vm("      arch: sparc\n      payload: x.bin\n",
	       "bad.yaml:5: guests.demo.vm.arch: 'sparc' is not an architecture (known: x86_64, "
	       "arm64)",
	       "an unknown arch");
	bad_vm("      arch: arm64\n      payload: x.bin\n      devices:\n        - { type: "
	       "console, port: 0x3f8 }\n",
	       "bad.yaml:8: guests.demo.vm.devices[0]: arm64 has no I/O ports: give the console "
	       "'at:'",
	       "an arm64 console on a port");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: done, port: 0x501, at: "
	       "0xd0000000 }\n",
	       "guests.demo.vm.devices[0]: a done device takes 'port:' (an I/O port) or 'at:'",
	       "a done device with both port: and at:");
	bad_vm("      arch: arm64\n      payload: x.bin\n      mode: real\n",
	       "bad.yaml:7: guests.demo.vm.mode: modes are x86's (long, real)",
	       "arm64 with a mode");
	bad_vm("      arch: arm64\n      payload: x.bin\n      msr_trap: [0x1a0]\n",
	       "guests.demo.vm.msr_trap: MSRs are x86's", "arm64 with msr_trap");
	bad_vm("      arch: arm64\n      payload: x.bin\n      type: sw_protected\n",
	       "guests.demo.vm.type: sw_protected is an x86 VM type", "arm64 sw_protected");
	bad_vm("      payload: x.bin\n      ram_base: 0x40000000\n",
	       "bad.yaml:6: guests.demo.vm.ram_base: x86 guests have RAM at GPA 0",
	       "ram_base on x86");
	bad_vm("      arch: arm64\n      payload: x.bin\n      memory: 3G\n",
	       "guests.demo.vm.ram_base: RAM 0x40000000..0xffffffff must start on a 4K page, "
	       "stay below 0x10000000000 (a 40-bit IPA space) and clear of the MMIO window",
	       "arm64 RAM into the MMIO window");
	bad_vm("      arch: arm64\n      payload: x.bin\n      ram_base: 0x40000800\n",
	       "guests.demo.vm.ram_base: RAM 0x40000800", "an unaligned ram_base");
	bad_vm("      arch: arm64\n      payload: x.bin\n      load: 0x100000\n",
	       "guests.demo.vm.load: 0x100000 is not in RAM (RAM starts at ram_base 0x40000000)",
	       "an arm64 load below RAM");
}

static void vm_errors(void)
{
	bad("defaults:\n  vm: { payload: x.bin }\nguests:\n  demo:\n    policy: q.lua\n",
	    "bad.yaml:2: defaults.vm: vm belongs to a guest", "vm: in defaults");
	bad("guests:\n  demo:\n    policy: q.lua\n    dump_max: many\n",
	    "bad.yaml:4: 'dump_max' must be a non-negative number, not 'many'", "dump_max: a word");
	bad("guests:\n  demo:\n    policy: q.lua\n    vm: demo.bin\n",
	    "bad.yaml:4: 'guests.demo.vm' must be a mapping", "vm: a scalar");
	bad_vm("      payload: x.bin\n      memroy: 4M\n",
	       "bad.yaml:6: guests.demo.vm: unknown key 'memroy' (known: payload, memory, mode, "
	       "vcpus, load, entry, timeout, storm, msr_trap, devices, type, private, plain, arch, "
	       "ram_base)",
	       "an unknown key in vm:");
	bad_vm("      memory: 4M\n", "bad.yaml:4: guests.demo.vm.payload: missing", "no payload");
	bad_vm("      payload: [a]\n", "bad.yaml:5: 'guests.demo.vm.payload' must be a string",
	       "a payload that is a list");
	bad_vm("      payload: ''\n", "bad.yaml:5: guests.demo.vm.payload: empty",
	       "an empty payload");
	bad_vm("      payload: x.bin\n      memory: 1M\n",
	       "bad.yaml:6: guests.demo.vm.memory: 1M is too small: give at least 2M",
	       "memory below 2M");
	bad_vm("      payload: x.bin\n      memory: 4G\n",
	       "bad.yaml:6: guests.demo.vm.memory: 4G reaches into the MMIO window at 0xd0000000",
	       "memory into the MMIO window");
	bad_vm("      payload: x.bin\n      memory: 4097K\n", "is not a whole number of 4K pages",
	       "memory that is not whole pages");
	bad_vm("      payload: x.bin\n      memory: 2X\n", "unknown size suffix in '2X'",
	       "memory with an unknown suffix");
	bad_vm("      payload: x.bin\n      mode: protected\n",
	       "bad.yaml:6: guests.demo.vm.mode: 'protected' is not a mode (known: long, real)",
	       "an unknown mode");
	bad_vm("      payload: x.bin\n      vcpus: 0\n",
	       "bad.yaml:6: guests.demo.vm.vcpus: 0 is out of range (1..1024)", "no vCPUs");
	bad_vm("      payload: x.bin\n      vcpus: 1025\n", "vcpus: 1025 is out of range (1..1024)",
	       "1025 vCPUs");
	bad_vm("      payload: x.bin\n      memory: 4M\n      vcpus: 64\n",
	       "bad.yaml:7: guests.demo.vm.vcpus: 64 vCPUs need 4096K of stack",
	       "more vCPU stacks than RAM above the payload");
	bad_vm("      payload: x.bin\n      timeout: -1\n",
	       "bad.yaml:6: 'guests.demo.vm.timeout' must be a non-negative number, not '-1'",
	       "a negative timeout");
	bad_vm("      payload: x.bin\n      timeout: 30s\n", "not '30s'", "a timeout with a unit");
	bad_vm("      payload: x.bin\n      timeout: inf\n",
	       "guests.demo.vm.timeout: 'inf' is not a number of seconds", "an infinite timeout");
	bad_vm("      payload: x.bin\n      storm: -5\n",
	       "'guests.demo.vm.storm' must be a non-negative number, not '-5'",
	       "a negative storm");
	bad_vm("      payload: x.bin\n      load: 0x1000\n",
	       "bad.yaml:6: guests.demo.vm.load: 0x1000 is below 0xa000: the long-mode page tables "
	       "live at 0x1000..0x9fff",
	       "long mode: a load address over the page tables");
	bad_vm("      payload: x.bin\n      memory: 2M\n      load: 0x200000\n",
	       "bad.yaml:7: guests.demo.vm.load: 0x200000 is not in RAM (memory ends at 0x1fffff)",
	       "a load address past the end of RAM");
	bad_vm(
	    "      payload: x.bin\n      load: 0x4000000\n",
	    "bad.yaml:6: guests.demo.vm.load: 0x4000000 is not in RAM (memory ends at 0x3ffffff)",
	    "... also with the default memory of 64M");
	bad_vm("      payload: x.bin\n      mode: real\n",
	       "bad.yaml:4: guests.demo.vm.entry: 0x100000 is not below 0x100000, the first MiB "
	       "real mode can reach",
	       "real mode: the default entry is too high");
	bad_vm("      payload: x.bin\n      mode: real\n      load: 0x7c00\n      entry: 1M\n",
	       "bad.yaml:8: 'guests.demo.vm.entry' must be a number, not '1M'",
	       "addresses take no size suffix");
	bad_vm("      payload: x.bin\n      mode: real\n      load: 0x7c00\n      entry: "
	       "0x100000\n",
	       "bad.yaml:8: guests.demo.vm.entry: 0x100000 is not below 0x100000",
	       "real mode: an entry above 1 MiB");

	bad_vm("      payload: x.bin\n      msr_trap: 0x1a0\n",
	       "bad.yaml:6: guests.demo.vm.msr_trap must be a list of MSR numbers or [first, last] "
	       "ranges",
	       "msr_trap that is not a list");
	bad_vm("      payload: x.bin\n      msr_trap: [0x1a0, 0x100000000]\n",
	       "bad.yaml:6: guests.demo.vm.msr_trap[1]: 0x100000000 is not an MSR number (MSRs are "
	       "32-bit: at most 0xffffffff)",
	       "an MSR above 32 bits");
	bad_vm("      payload: x.bin\n      msr_trap: [[1, 0x100000000]]\n",
	       "guests.demo.vm.msr_trap[0][1]: 0x100000000 is not an MSR number",
	       "a range ending above 32 bits");
	bad_vm("      payload: x.bin\n      msr_trap: [[0x10, 0x1]]\n",
	       "guests.demo.vm.msr_trap[0]: first 0x10 is above last 0x1 (write the range [0x1, "
	       "0x10])",
	       "a range backwards");
	bad_vm("      payload: x.bin\n      msr_trap: [[1, 2, 3]]\n",
	       "guests.demo.vm.msr_trap[0] must be an MSR number or a [first, last] range",
	       "a range of three");
	bad_vm("      payload: x.bin\n      msr_trap: [{ a: 1 }]\n",
	       "msr_trap[0] must be an MSR number or a [first, last] range, not a mapping",
	       "a range that is a mapping");
	bad_vm(
	    "      payload: x.bin\n      msr_trap: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n",
	    "guests.demo.vm.msr_trap: 17 entries, at most 16", "seventeen MSR ranges");

	bad_vm("      payload: x.bin\n      devices: { type: console }\n",
	       "bad.yaml:6: guests.demo.vm.devices must be a list of devices",
	       "devices: a mapping");
	bad_vm("      payload: x.bin\n      devices:\n        - [console]\n",
	       "bad.yaml:7: 'guests.demo.vm.devices[0]' must be a mapping", "a device as a list");
	bad_vm("      payload: x.bin\n      devices:\n        - { port: 0x3f8 }\n",
	       "bad.yaml:7: guests.demo.vm.devices[0]: no 'type' (known: console, done, ram, "
	       "pattern)",
	       "a device without a type");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: console, port: 0x3f8 }\n"
	       "        - { type: floppy }\n",
	       "bad.yaml:8: guests.demo.vm.devices[1].type: unknown device type 'floppy' (known: "
	       "console, done, ram, pattern)",
	       "an unknown device type");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: console, port: 1, size: 8 "
	       "}\n",
	       "bad.yaml:7: guests.demo.vm.devices[0]: unknown key 'size' for a console device "
	       "(known: type, port, at)",
	       "a key the console does not take");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: ram, at: 0xd0000000, "
	       "size: 4K, port: 1 }\n",
	       "unknown key 'port' for a ram device (known: type, at, size)",
	       "a key ram does not take");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: done }\n",
	       "bad.yaml:7: guests.demo.vm.devices[0]: a done device needs 'port:' (0..0xffff)",
	       "a port device without a port");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: done, port: 0x10000 }\n",
	       "guests.demo.vm.devices[0].port: 0x10000 is not an I/O port (ports are 0..0xffff)",
	       "a port above 0xffff");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: console, port: 0xfffc }\n",
	       "guests.demo.vm.devices[0].port: a console device uses 8 ports from 0xfffc, past "
	       "0xffff (use a port of at most 0xfff8)",
	       "a console whose 8 ports run past 0xffff");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: pattern, at: 0xd0000000 "
	       "}\n",
	       "guests.demo.vm.devices[0]: a pattern device needs 'at:' and 'size:'",
	       "a window without a size");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: ram, at: 0xc0000000, "
	       "size: 4K }\n",
	       "bad.yaml:7: guests.demo.vm.devices[0].at: 0xc0000000 is outside the MMIO window "
	       "0xd0000000..0xefffffff (device addresses must have no RAM behind them)",
	       "a window below the MMIO window");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: ram, at: 0xf0000000, "
	       "size: 4K }\n",
	       "devices[0].at: 0xf0000000 is outside the MMIO window", "a window above it");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: ram, at: 0xd0000800, "
	       "size: 4K }\n",
	       "devices[0].at: 0xd0000800 is not a multiple of 4K (device windows are whole pages: "
	       "0xd0000000 would do)",
	       "a window not page-aligned");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: ram, at: 0xd0000000, "
	       "size: 0 }\n",
	       "devices[0].size: 0 is not a positive multiple of 4K", "a window of size 0");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: ram, at: 0xd0000000, "
	       "size: 100 }\n",
	       "devices[0].size: 100 is not a positive multiple of 4K", "a window of 100 bytes");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: ram, at: 0xeffff000, "
	       "size: 8K }\n",
	       "devices[0].size: 8K from 0xeffff000 runs past the MMIO window's end 0xefffffff (at "
	       "most 0x1000 bytes fit there)",
	       "a window running past the end of MMIO");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: console, port: 0x3f8 }\n"
	       "        - { type: ram, at: 0xd0000000, size: 4K }\n"
	       "        - { type: done, port: 0x3fc }\n",
	       "bad.yaml:9: guests.demo.vm.devices[2]: ports 0x3fc..0x3ff overlap devices[0] (the "
	       "console at line 7, 0x3f8..0x3ff)",
	       "two port devices overlapping, naming both lines");
	bad_vm("      payload: x.bin\n      devices:\n        - { type: ram, at: 0xd0000000, "
	       "size: 64K }\n"
	       "        - { type: done, port: 0xd000 }\n"
	       "        - { type: pattern, at: 0xd000f000, size: 4K }\n",
	       "bad.yaml:9: guests.demo.vm.devices[2]: addresses 0xd000f000..0xd000ffff overlap "
	       "devices[0] (the ram at line 7, 0xd0000000..0xd000ffff)",
	       "two windows overlapping (a port device in between does not)");
	{
		char yaml[2048] = "      payload: x.bin\n      devices:\n";
		for (int i = 0; i < 17; i++)
			snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
				 "        - { type: done, port: %d }\n", i * 4);
		bad_vm(yaml, "bad.yaml:7: guests.demo.vm.devices: 17 devices, at most 16",
		       "seventeen devices");
	}
}

int main(void)
{
	struct xg_error err;
	const struct xg_guest_cfg *g;
	xg_config *c;
	const char *path;

	put_file("p.lua",
		 "local xg = require 'exitgate'\n"
		 "local p = xg.params\n"
		 "assert(p.n == 42 and math.type(p.n) == 'integer', 'n')\n"
		 "assert(p.f == 1.5 and p.yes == true and p.no == false, 'f/yes/no')\n"
		 "assert(p.s == '42' and p.list[2] == 'b' and p.map.k == 'v', 's/list/map')\n"
		 "assert(xg.guest == 'web', 'guest')\n"
		 "assert(p.lead == 17 and math.type(p.lead) == 'integer', 'lead ' .. tostring(p.lead))\n"
		 "assert(p.nine == 9 and math.type(p.nine) == 'integer', 'nine ' .. tostring(p.nine))\n"
		 "assert(p.oct == 15, 'oct ' .. tostring(p.oct))\n"
		 "return xg.policy { default = function() return xg.resume() end }\n");
	put_file("q.lua",
		 "return { default = function() return require('exitgate').stop() end }\n");
	path = put_file("c.yaml", "# a configuration\n"
				  "defaults:\n"
				  "  limits: { instructions: 5000, memory: 2M }\n"
				  "  on_error: dump suspend\n"
				  "  rate_limit: { logs_per_second: 2, burst: 4 }\n"
				  "guests:\n"
				  "  web:\n"
				  "    policy: p.lua\n"
				  "    params: { n: 42, f: 1.5, yes: true, no: false, s: '42', "
				  "list: [a, b], map: { k: v }, lead: 017, nine: 09, oct: 0o17 }\n"
				  "  db:\n"
				  "    policy: q.lua\n"
				  "    limits: { instructions: 7 }\n"
				  "    on_error: stop\n"
				  "    dump_dir: /tmp/dumps\n");
	c = xg_config_load(path, &err);
	if (!ok(c != NULL, "a configuration with defaults and two guests loads"))
		bail("%s", err.msg);
	is_int((long long)xg_config_guests(c), 2, "two guests");
	g = xg_config_guest(c, "web");
	ok(g && g->instructions == 5000 && g->memory == 2u << 20 &&
	       !strcmp(g->on_error, "dump suspend") && g->logs_per_second == 2 && g->burst == 4,
	   "web inherits the defaults (limits with a size suffix, on_error, rate_limit)");
	like(g ? g->policy : "", "/p.lua", "policy path resolved against the config's directory");
	g = xg_config_guest(c, "db");
	ok(g && g->instructions == 7 && g->memory == 2u << 20 && !strcmp(g->on_error, "stop") &&
	       !strcmp(g->dump_dir, "/tmp/dumps"),
	   "db overrides one limit and keeps the other");
	{
		xg_engine *e = xg_engine_new(c, &err);
		ok(e != NULL,
		   "an engine from it: params reach the policy as integer, float, booleans, "
		   "string, list, map; 017 and 09 as the decimals 17 and 9 (YAML 1.2, Lua), 0o17 "
		   "as octal%s%s",
		   e ? "" : ": ", e ? "" : err.msg);
		xg_engine_free(e);
	}
	xg_config_free(c);

	bad("guests:\n  web:\n    policy: p.lua\n    polcy: x\n",
	    "bad.yaml:4: unknown key 'polcy' in guest 'web'",
	    "an unknown key names file, line and key");
	bad("guest:\n  web: {}\n", "bad.yaml:1: unknown top-level key 'guest'",
	    "an unknown top-level key");
	bad("guests:\n  web:\n    policy: p.lua\n---\nguests:\n  db:\n    policy: q.lua\n",
	    "bad.yaml:4:1: a second YAML document (after '---')",
	    "a second document is refused, not silently ignored");
	bad("guests:\n  web:\n    policy: p.lua\n    params: { n: !!float 5 }\n",
	    "bad.yaml:4:18: YAML tag 'tag:yaml.org,2002:float' is not supported",
	    "a YAML tag is refused, not silently read as something else");
	bad("guests:\n  web: !guest\n    policy: p.lua\n", "YAML tag '!guest' is not supported",
	    "... a custom tag on a mapping too");
	bad("guests:\n  web:\n    policy: p.lua\n    limits: { instructions: 0100 }\n",
	    "'instructions': '0100' has a leading 0, octal in YAML 1.1 and decimal in YAML 1.2",
	    "a config number with a leading 0 is refused (64 or 100?)");
	bad("guests:\n  web:\n    policy: p.lua\n    limits:\n      instructions: lots\n",
	    "bad.yaml:5: 'instructions' must be a non-negative number, not 'lots'", "a wrong type");
	{
		xg_config *o = xg_config_parse("guests:\n  web:\n    policy: p.lua\n"
					       "    limits: { instructions: 0o100 }\n",
					       69, "o.yaml", tdir(), &err);
		ok(o && xg_config_guest(o, "web")->instructions == 64,
		   "0o100 is octal 64 (YAML 1.2)%s", o ? "" : err.msg);
		xg_config_free(o);
	}
	bad("guests:\n  web:\n    policy: p.lua\n    limits: { memory: 16X }\n",
	    "unknown size suffix in '16X'", "an unknown size suffix");
	bad("guests:\n  web:\n    policy: p.lua\n    limits: { memory: 1K }\n", "at least 256K",
	    "a memory limit too small for Lua");
	bad("guests:\n  web:\n    policy: p.lua\n    limits: { cpu: 1 }\n",
	    "unknown key 'cpu' in 'limits' (known: instructions, memory, time_ms, store_entries, "
	    "store_key, store_value)",
	    "an unknown limit");
	bad("guests:\n  web:\n    policy: p.lua\n    limits: { time_ms: 0 }\n",
	    "'time_ms' must be 1..60000", "a time limit of 0 ms");
	bad("guests:\n  web:\n    policy: missing.lua\n", "bad.yaml:3: policy '",
	    "a missing policy file");
	bad("guests:\n  web:\n    policy: missing.lua\n", "No such file or directory",
	    "... says why");
	bad("guests:\n  web:\n    params: {}\n", "bad.yaml:2: guest 'web' has no 'policy'",
	    "a guest without a policy");
	bad("guests:\n  web:\n    policy: p.lua\n  web:\n    policy: p.lua\n",
	    "bad.yaml:4: guest 'web' is defined twice", "a guest defined twice");
	bad("guests:\n  web: [\n", "bad.yaml:", "a YAML syntax error has a line");
	bad("guests:\n  web:\n    policy: [a]\n", "'policy' must be a file name",
	    "policy of the wrong type");
	bad("defaults:\n  limits: 5\nguests:\n  web:\n    policy: p.lua\n",
	    "bad.yaml:2: 'limits' must be a mapping", "limits that is not a mapping");
	bad("", "needs a 'guests' section", "an empty file");
	c = xg_config_load("/nonexistent/x.yaml", &err);
	ok(!c && strstr(err.msg, "cannot open configuration /nonexistent/x.yaml"),
	   "a missing config file: %s", err.msg);
	c = xg_config_for_policy(put_file("r.lua", "return {}"), &err);
	ok(c && xg_config_guests(c) == 1 && !strcmp(xg_config_guest_name(c, 0), "default"),
	   "xg_config_for_policy: one guest named default");
	xg_config_free(c);
	vm_full();
	vm_arm64();
	vm_errors();
	cleanup_dir();
	return done_testing();
}
