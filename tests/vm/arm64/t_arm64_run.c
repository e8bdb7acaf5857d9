/*
 * t_arm64_run.c - runs inside the arm64 lane's VM: `exitgate run` itself (the static aarch64
 * /bin/exitgate) on the real arm64 KVM there, with the guests (examples/guests/arm64),
 * configs and policies tests/vm/arm64/lane.sh packed under /share/arm64:
 *   hello: MMIO console output (KVM_EXIT_MMIO to the console device), the entry state (X0,
 *   X1, SP, PC, EL1), PSCI SYSTEM_OFF ending the guest (KVM_EXIT_SYSTEM_EVENT: status 0).
 *   abort: a post-index load from the ram device is a real KVM_EXIT_ARM_NISV; the policy
 *   sees it (kind, fault IPA, ISS) and answers external_abort; the guest's vector table sees
 *   EC 0x25, DFSC 0x10, FAR = the address, ELR = the load, the base not written back.
 *   nisv: loads and stores without syndrome emulated by exitgate's A64 emulator under the
 *   default policy, every value checked by the guest.
 * No shell inside: exitgate is fork/exec'd (vm_util.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "vm_util.h"

static char out[1 << 16];

static int run(char *const argv[])
{
	int st = xg_vm_run_argv(argv, out, sizeof(out));

	diag("exitgate run %s: status %d", argv[3], st);
	return st;
}

int main(void)
{
	int st;

	if (access("/bin/exitgate", X_OK) || access("/share/arm64/a64.yaml", R_OK))
		bail("the lane did not pack /bin/exitgate and /share/arm64 "
		     "(tests/vm/arm64/lane.sh)");
	setenv("XG_LUA_DIR", "/share/lua", 1); /* the policies' exitgate module */

	st = run((char *const[]){"/bin/exitgate", "run", "/share/arm64/a64.yaml", "hello", NULL});
	if (!is_int(st, 0, "hello: status 0 (powered off through PSCI)"))
		diag("%s", out);
	like(out, "hello| hello from arm64 under exitgate", "hello: its console line");
	like(out, "vcpu 0x0000000000000000 of 0x0000000000000001",
	     "hello: X0 = the vCPU index, X1 = the number of vCPUs");
	like(out, "sp 0x0000000041000000 pc 0x0000000040000000 el 0x0000000000000001",
	     "hello: SP = top of its 16M of RAM at 0x40000000, PC = the load address, EL1");
	like(out, "powered the machine off (system_event shutdown: PSCI SYSTEM_OFF",
	     "hello: the summary says it powered off");
	like(out, "exitgate: hello: poweroff after", "hello: its end is poweroff");
	like(out, "system_event 1", "hello: one system_event exit");

	st = run((char *const[]){"/bin/exitgate", "run", "/share/arm64/a64.yaml", "abort", NULL});
	if (!is_int(st, 0, "abort: status 0 (the guest's checks passed: done code 0)"))
		diag("%s", out);
	like(out, "arm_nisv ipa 0xd0010100 iss 0x",
	     "abort: the policy saw an arm_nisv exit at the fault IPA");
	like(out, "96000010 far 0x00000000d0010100 elr 0x",
	     "abort: the guest's handler saw ESR EC 0x25, IL, DFSC 0x10 and FAR = the address");
	like(out, "failed 0x0000000000000000",
	     "abort: the guest's checks (one abort, ELR = the load, base not written back) "
	     "passed");
	like(out, "verdicts: external_abort 1", "abort: one external_abort verdict");

	st = run((char *const[]){"/bin/exitgate", "run", "/share/arm64/a64.yaml", "nisv", NULL});
	if (!is_int(st, 0, "nisv: status 0 (every emulated value right: done code 0)"))
		diag("%s", out);
	like(out, "nisv: checks 0x0000000000000016 first failed 0x0000000000000000",
	     "nisv: 22 checks, none failed");
	like(out, "verdicts: emulate ", "nisv: the default policy emulated them");
	return done_testing();
}
