/*
 * t_pmem_run.c - runs inside the private-memory lane's VM: `exitgate run` itself (the static
 * /bin/exitgate) on a software-protected VM of the nested KVM, with the guests, configs and
 * policies lane.sh packed under /share/pmem. Each run's status and output are checked:
 *   pmem.yaml: guests/pmem_convert.S converts a page with KVM_HC_MAP_GPA_RANGE to private,
 *   shared and private again (the guest checks what it reads after each conversion; the
 *   policy logs what the host's shared view holds at each request, checked here), then asks
 *   for a range the policy refuses (-KVM_EPERM), one past the end of RAM (-KVM_EINVAL from
 *   the VMM, before any ioctl) and malformed ones KVM answers itself.
 *   pmem_real.yaml: the same conversions and a refusal from a real-mode guest.
 *   pmem_fault.yaml: guests/pmem_fault.S stores to a private page of a memslot without
 *   guest_memfd: a real KVM_EXIT_MEMORY_FAULT, converted to shared by the policy; the store
 *   then completes, with its value seen by the guest and the host.
 *   pmem_smp.yaml: guests/pmem_smp.S, two vCPUs converting disjoint and overlapping ranges
 *   at the same time: every answer 0, every read as the ABI says, no conversion lost.
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

	if (st != 0)
		diag("%s", out);
	return st;
}

/* The text of a file (a --stats JSON), or "" */
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

int main(void)
{
	const char *stats;
	int st;

	if (access("/bin/exitgate", X_OK) || access("/share/pmem/pmem.yaml", R_OK))
		bail("the lane did not pack /bin/exitgate and /share/pmem (tests/vm/pmem/lane.sh)");
	setenv("XG_LUA_DIR", "/share/lua", 1); /* the policies' exitgate module */

	st = run((char *const[]){"/bin/exitgate", "run", "--stats", "/tmp/pmem.json",
				 "/share/pmem/pmem.yaml", NULL});
	is_int(st, 0, "exitgate run pmem.yaml: the guest ends with done 0");
	like(out, "pmem: conversions ok", "the guest saw each conversion as the ABI says");
	like(out, "pmem: refusals ok", "the guest saw -KVM_EPERM and -KVM_EINVAL for the refusals");
	like(out, "map 0x400000 to private: host sees aaaaaaaaaaaaaaaa",
	     "1st request: the host sees what the guest wrote while the page was shared");
	like(out, "map 0x400000 to shared: host sees 0000000000000000",
	     "2nd request: the host does not see what the guest wrote while it was private");
	like(out, "map 0x400000 to private: host sees 2222222222222222",
	     "3rd request: the host sees the guest's write while shared again");
	like(out, "refused 0x300000 to private",
	     "the request outside the allowed range is refused");
	stats = slurp("/tmp/pmem.json");
	like(stats, "\"conversions\":3,", "stats: 3 conversions carried out");
	like(stats, "\"hypercall\":5",
	     "stats: 5 hypercall exits reached the VMM (3 + refused + past RAM)");
	if (st)
		diag("stats: %s", stats);

	st = run((char *const[]){"/bin/exitgate", "run", "/share/pmem/pmem_real.yaml", NULL});
	is_int(st, 0, "exitgate run pmem_real.yaml: the real-mode guest ends with done 0");
	like(out, "map 0x40000 to private (real mode): host sees aaaaaaaa",
	     "real mode: the request came from a guest not in long mode; the host saw the "
	     "shared write");
	like(out, "map 0x40000 to shared (real mode): host sees 00000000",
	     "real mode: the host does not see the private write");
	like(out, "refused 0x30000 to private", "real mode: the request outside is refused");

	st = run((char *const[]){"/bin/exitgate", "run", "--stats", "/tmp/pmem_fault.json",
				 "/share/pmem/pmem_fault.yaml", NULL});
	is_int(st, 0, "exitgate run pmem_fault.yaml: the guest ends with done 0");
	like(out, "memory_fault 0x500000 private: to shared",
	     "the store to a private page of a slot without guest_memfd exits memory_fault");
	like(out, "pmem_fault: ok", "the store completed after the conversion, with its value");
	like(out, "map 0x500000 to shared: host sees 3333333333333333",
	     "the host sees the value the guest stored after the conversion");
	stats = slurp("/tmp/pmem_fault.json");
	like(stats, "\"conversions\":3,",
	     "stats: 3 conversions (the private page at start, the fault's, the request's)");
	like(stats, "\"memory_fault\":1", "stats: one memory_fault exit");
	if (st)
		diag("stats: %s", stats);

	/* the lane's kernel has one CPU: the vCPU threads interleave, preempted at any point */
	diag("%ld CPU(s) online for the two vCPUs", sysconf(_SC_NPROCESSORS_ONLN));
	st = run((char *const[]){"/bin/exitgate", "run", "--stats", "/tmp/pmem_smp.json",
				 "/share/pmem/pmem_smp.yaml", NULL});
	is_int(st, 0, "exitgate run pmem_smp.yaml: both vCPUs halt with every check passed");
	like(out, "pmem_smp: vCPU 0 ok", "vCPU 0 finished its rounds");
	like(out, "every vCPU halted", "... and vCPU 1 its own (no done code: no failure)");
	stats = slurp("/tmp/pmem_smp.json");
	like(stats, "\"conversions\":128,",
	     "stats: 128 conversions (2 vCPUs x 16 rounds x 4): none lost");
	like(stats, "\"hypercall\":128", "stats: 128 hypercall exits");
	if (st)
		diag("stats: %s", stats);
	return done_testing();
}
