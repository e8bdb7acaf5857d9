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
 *   mmu: the same with the guest's stage-1 tables on, 4K and then 64K granule: through a VA
 *   alias of the devices (VA != IPA), and pairs and an LD1 across a VA page boundary whose
 *   two pages map to IPAs in reverse order.
 *   inject: the policy answers three NISV exits with xg.inject("data_abort", {fsc, far}),
 *   xg.inject("data_abort", {}) and xg.inject "undefined"; the guest's vectors see each
 *   ESR and FAR (taken through the backend's inject_arm64_sync); and a data abort at a
 *   KVM_EXIT_MMIO no device took, where the backend must cancel KVM's completion of the load.
 *   suspend, reload, resume: the abort guest under a policy that suspends its vCPU at the
 *   NISV exit; `exitgate ctl` sees it suspended, dumps it (the JSON read back), the policy
 *   file is replaced and reloaded
 *   while the guest runs, and after `resume` the re-executed load reaches the new policy,
 *   whose external abort the guest checks.
 * No shell inside: exitgate is fork/exec'd (vm_util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* ---- a run in the background, driven through `exitgate ctl` ---- */

static void put(const char *path, const char *text)
{
	char tmp[256];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) || rename(tmp, path))
		bail("cannot write %s: %s", path, strerror(errno));
}

static const char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = 0;
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

/* exitgate with stdout and stderr into `log`; the child's pid */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `exitgate ctl SOCK cmd` until its answer contains want, for at most `secs`: 1 if it did */
static int ctl_until(const char *cmd, const char *want, double secs)
{
	double end = now() + secs;

	do {
		xg_vm_run_argv(
		    (char *const[]){"/bin/exitgate", "ctl", "/tmp/r/ctl.sock", (char *)cmd, NULL},
		    out, sizeof(out));
		if (strstr(out, want))
			return 1;
		usleep(200000);
	} while (now() < end);
	return 0;
}

/* wait for pid at most secs (then SIGKILL): its exit status, or -1 */
static int reap(pid_t pid, double secs)
{
	double end = now() + secs;
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(100000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char reload_yaml[] = "defaults:\n"
				  "  on_error: external_abort\n"
				  "  dump_dir: /tmp/r/dumps\n"
				  "  limits: { time_ms: 2000 }\n"
				  "guests:\n"
				  "  abort:\n"
				  "    policy: reload.lua\n"
				  "    vm:\n"
				  "      arch: arm64\n"
				  "      payload: /share/arm64/abort.bin\n"
				  "      memory: 16M\n"
				  "      timeout: 120\n"
				  "      devices:\n"
				  "        - { type: console, at: 0xd0000000 }\n"
				  "        - { type: done, at: 0xd0001000 }\n"
				  "        - { type: ram, at: 0xd0010000, size: 64K }\n";
static const char policy_v1[] = "local xg = require \"exitgate\"\n"
				"return xg.policy {\n"
				"\tarm_nisv = function(e)\n"
				"\t\txg.log(string.format(\"v1 suspends at 0x%x\", e.fault_ipa))\n"
				"\t\treturn xg.suspend(\"v1 waits for a reload\")\n"
				"\tend,\n"
				"}\n";
static const char policy_v2[] = "local xg = require \"exitgate\"\n"
				"return xg.policy {\n"
				"\tarm_nisv = function(e)\n"
				"\t\txg.log(string.format(\"v2 aborts at 0x%x\", e.fault_ipa))\n"
				"\t\treturn xg.external_abort()\n"
				"\tend,\n"
				"}\n";

static void suspend_reload(void)
{
	const char *log;
	pid_t pid;
	int st;

	mkdir("/tmp/r", 0755);
	put("/tmp/r/reload.yaml", reload_yaml);
	put("/tmp/r/reload.lua", policy_v1);
	pid = spawn((char *const[]){"/bin/exitgate", "run", "--ctl", "/tmp/r/ctl.sock",
				    "/tmp/r/reload.yaml", NULL},
		    "/tmp/r/out.txt");
	if (!ok(pid > 0, "suspend: exitgate run in the background"))
		return;
	ok(ctl_until("status", "abort/0 suspended: v1 waits for a reload", 60),
	   "suspend: exitgate ctl status shows the vCPU the policy suspended at the NISV exit "
	   "(%s)",
	   strtok(out, "\n") ? out : "no answer");
	/* a dump of the parked vCPU, read back: the arm64 registers the backend gives */
	if (ok(ctl_until("dump", "/tmp/r/dumps/", 20),
	       "dump: exitgate ctl dump of the suspended vCPU (%s)",
	       strtok(out, "\n") ? out : "no answer")) {
		char path[512];
		const char *json;

		size_t l = strcspn(out, "\n");

		if (l >= sizeof(path))
			l = sizeof(path) - 1;
		memcpy(path, out, l);
		path[l] = 0;
		json = slurp(path);
		like(json, "\"mode\": \"el1h\"", "dump: PSTATE's mode, EL1h");
		like(json, "\"x1\": \"0xd0010100\"", "dump: X1, the load's base, not written back");
		like(json, "x3, [x1], #8", "dump: the instruction at PC, disassembled");
		like(json, "\"sctlr_el1\": ", "dump: SCTLR_EL1");
		like(json, "\"mair_el1\": ", "dump: MAIR_EL1 by name");
		ok(!strstr(json, "\"unavailable\""),
		   "dump: every EL1 register the dump asks for is there (none unavailable)");
	}
	put("/tmp/r/reload.lua", policy_v2);
	ok(ctl_until("reload", "reloaded", 10), "reload: exitgate ctl reload while it runs (%s)",
	   strtok(out, "\n") ? out : "no answer");
	ok(ctl_until("resume", "abort/0 resumed", 10), "resume: exitgate ctl resume (%s)",
	   strtok(out, "\n") ? out : "no answer");
	st = reap(pid, 90);
	log = slurp("/tmp/r/out.txt");
	if (!is_int(st, 0, "resume: the guest runs on and ends with done 0"))
		diag("%s", log);
	like(log, "v1 suspends at 0xd0010100", "v1 saw the NISV exit");
	like(log, "v2 aborts at 0xd0010100", "after the reload the re-executed load reached v2");
	like(log, "failed 0x0000000000000000", "the guest took v2's external abort as it should");
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

	st = run((char *const[]){"/bin/exitgate", "run", "/share/arm64/a64.yaml", "mmu", NULL});
	if (!is_int(st, 0, "mmu: status 0 (every emulated value right: done code 0)"))
		diag("%s", out);
	like(out, "mmu: stage 1 on", "mmu: the guest turned its MMU on (4K granule)");
	like(out, "mmu: 64K granule on", "mmu: and again with the 64K granule");
	like(out, "mmu: checks 0x0000000000000013 first failed 0x0000000000000000",
	     "mmu: 19 checks through the guest's own tables, 4K and 64K granules (VA != IPA, "
	     "pairs and an LD1 across a page boundary into two IPAs), none failed");

	st = run((char *const[]){"/bin/exitgate", "run", "/share/arm64/a64.yaml", "inject", NULL});
	if (!is_int(st, 0, "inject: status 0 (the guest's checks passed: done code 0)"))
		diag("%s", out);
	like(out, "96000007 far 0x00000feedf00d000 elr 0x",
	     "inject: data_abort {fsc = 0x07, far = 0xfeedf00d000}: ESR EC 0x25 IL DFSC 0x07, the "
	     "policy's FAR");
	like(out, "96000050 far 0x00000000d0010210 elr 0x",
	     "inject: data_abort {} on a store: DFSC 0x10, WnR, FAR = the pre-indexed VA");
	like(out, "02000000 far ", "inject: undefined: ESR EC 0 (unknown reason), IL");
	like(out, "inject: mmio at 0xd0020000", "inject: the load from no device reached mmio");
	like(out, "96000010 far 0x00000000d0020000 elr 0x",
	     "inject: data_abort {} at that MMIO exit: DFSC 0x10, FAR = the address");
	like(out, "inject: failed 0x0000000000000000",
	     "inject: ELR = each instruction, no base register written back, and the MMIO load "
	     "not completed (its register kept: the backend cancelled KVM's completion)");

	suspend_reload();
	return done_testing();
}
