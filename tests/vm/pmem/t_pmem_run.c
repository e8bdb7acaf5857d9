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
 *   Then the same on a page with no memslot at all (the ram device's window): converted
 *   to shared, the store goes to the device model as MMIO.
 *   pmem_smp.yaml: guests/pmem_smp.S, two vCPUs (on the lane VM's two CPUs) converting
 *   disjoint and overlapping ranges at the same time: every answer 0, every read as the ABI
 *   says, no conversion lost, and at the end the attributes the VMM set and the contents the
 *   guest reads are the end state the guest left.
 *   pmem_refuse.yaml: policies/confidential.lua refusing a memory fault (#GP injected, seen
 *   by the guest's handler) and a MAP_GPA_RANGE (-KVM_EPERM): the attributes unchanged, and
 *   the dump of the first refusal read back as JSON (json_get.h).
 *   pmem_fail.yaml: XG_KVM_FAIL_CONVERT makes steps of conversions fail: -KVM_EFAULT to the
 *   guest, each page as it was, the message naming the step.
 *   exitgate test of policies/confidential.lua's own tests.
 * The --stats JSON's private-memory fields (conversions, conversions_failed,
 * attribute_ioctls: KVM_SET_MEMORY_ATTRIBUTES issued, private: the private ranges at the
 * end) are checked for each run. No shell inside: exitgate is fork/exec'd (vm_util.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_get.h"
#include "tap.h"
#include "vm_util.h"

static char out[1 << 16];

static int run(char *const argv[])
{
	int st = xg_vm_run_argv(argv, out, sizeof(out));

	/* line by line: every line a TAP comment (exitgate test's own "ok" lines among them) */
	for (const char *l = out; st != 0 && *l;) {
		const char *e = strchr(l, '\n');
		int len = e ? (int)(e - l) : (int)strlen(l);
		diag("%.*s", len, l);
		l += len + (e ? 1 : 0);
	}
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

/* The stats' field (a path of keys: "guests" is an array, so the test gives the text of
 * the first guest's object and looks inside it) */
static const char *field(const char *stats, const char *key)
{
	static char guests[1 << 16], guest[1 << 16], v[4096];

	if (json_get(stats, "guests", guests, sizeof(guests)))
		return "(stats are not JSON, or have no guests)";
	/* the first element of the array: guests is "[{...}]", one guest per run here */
	snprintf(guest, sizeof(guest), "%.*s", (int)strlen(guests) - 2, guests + 1);
	if (json_get(guest, key, v, sizeof(v)))
		snprintf(v, sizeof(v), "(no %s)", key);
	return v;
}

/* The one dump file in dir, read into buf; its name in name. 0, or -1 (not exactly one). */
static int one_dump(const char *dir, char *name, size_t n, char *buf, size_t bn)
{
	struct dirent *d;
	DIR *dd = opendir(dir);
	int count = 0;
	char path[512];

	if (!dd)
		return -1;
	while ((d = readdir(dd)))
		if (strstr(d->d_name, ".json") && d->d_name[0] != '.') {
			snprintf(name, n, "%s", d->d_name);
			count++;
		}
	closedir(dd);
	if (count != 1)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t len = fread(buf, 1, bn - 1, f);
	buf[len] = 0;
	fclose(f);
	return 0;
}

int main(void)
{
	static char dump[1 << 16], v[4096];
	char name[256];
	const char *stats;
	int st;

	if (access("/bin/exitgate", X_OK) || access("/share/pmem/pmem.yaml", R_OK))
		bail("the lane did not pack /bin/exitgate and /share/pmem (tests/vm/pmem/lane.sh)");
	setenv("XG_LUA_DIR", "/share/lua", 1); /* the policies' exitgate module */

	st = run((char *const[]){"/bin/exitgate", "run", "--stats", "/tmp/pmem.json",
				 "/share/pmem/pmem.yaml", NULL});
	is_int(st, 0, "exitgate run pmem.yaml: the guest ends with done 0");
	like(out, "pmem: conversions ok", "the guest saw each conversion as the ABI says");
	like(out, "map 0x400000 to private: host sees aaaaaaaaaaaaaaaa",
	     "1st request: the host sees what the guest wrote while the page was shared");
	like(out, "map 0x400000 to shared: host sees 0000000000000000",
	     "2nd request: the host does not see what the guest wrote while it was private");
	like(out, "map 0x400000 to private: host sees 2222222222222222",
	     "3rd request: the host sees the guest's write while shared again");
	like(out, "refused 0x300000 to private",
	     "the request outside the allowed range is refused");
	like(out, "pmem: refusals ok",
	     "... npages 0 and unaligned: -KVM_EINVAL from KVM; a range that wraps, reaches "
	     "or lies wholly past RAM: -KVM_EINVAL from the VMM (the wrapping one though the "
	     "policy refused it)");
	like(out, "refused 0xfffffffffffff000 to private",
	     "the policy saw the wrapping request (and refused it)");
	stats = slurp("/tmp/pmem.json");
	is_str(field(stats, "conversions"), "3", "stats: 3 conversions carried out");
	like(stats, "\"hypercall\":7",
	     "stats: 7 hypercall exits reached the VMM (3 + refused + 2 past RAM + wrapping)");
	is_str(field(stats, "attribute_ioctls"), "3",
	       "stats: 3 KVM_SET_MEMORY_ATTRIBUTES: none for the refused, past-RAM or "
	       "malformed requests");
	is_str(field(stats, "private"), "[{\"gpa\":4194304,\"size\":4096}]",
	       "stats: at the end the VMM's attributes say 0x400000 private, nothing else");
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
	like(out, "memory_fault 0xd0000000 private: to shared",
	     "no memslot: the store to the ram device's private page exits memory_fault");
	like(out, "pmem_fault: device ok",
	     "... converted to shared, the store went to the device and reads back");
	stats = slurp("/tmp/pmem_fault.json");
	is_str(field(stats, "conversions"), "5",
	       "stats: 5 conversions (2 private pages at start, 2 faults', the request's)");
	like(stats, "\"memory_fault\":2", "stats: two memory_fault exits");
	is_str(field(stats, "private"), "[]", "stats: nothing private at the end");
	if (st)
		diag("stats: %s", stats);

	/* two CPUs in the lane's VM (qemu -smp 2): the vCPU threads run at the same time */
	is_int(sysconf(_SC_NPROCESSORS_ONLN), 2, "the lane's VM has two CPUs for the two vCPUs");
	st = run((char *const[]){"/bin/exitgate", "run", "--stats", "/tmp/pmem_smp.json",
				 "/share/pmem/pmem_smp.yaml", NULL});
	is_int(st, 0, "exitgate run pmem_smp.yaml: done 0, every check of both vCPUs passed");
	like(out, "pmem_smp: vCPU 0 ok", "vCPU 0 finished its rounds");
	like(out, "pmem_smp: end state ok",
	     "after both: each page holds what the guest left (vCPU 0's private data, vCPU "
	     "1's shared data, zeros in the overlap)");
	stats = slurp("/tmp/pmem_smp.json");
	is_str(field(stats, "conversions"), "129",
	       "stats: 129 conversions (2 vCPUs x 16 rounds x 4, and P0 at the end): none lost");
	like(stats, "\"hypercall\":129", "stats: 129 hypercall exits");
	is_str(field(stats, "conversions_failed"), "0", "stats: none failed");
	is_str(field(stats, "private"), "[{\"gpa\":6291456,\"size\":4096}]",
	       "stats: the VMM's attributes at the end: P0 (0x600000) private, nothing else");
	if (st)
		diag("stats: %s", stats);

	/* refusals by the shipped policy, and its first refusal's dump */
	mkdir("/tmp/pmem_dumps", 0700);
	st = run((char *const[]){"/bin/exitgate", "run", "--stats", "/tmp/pmem_refuse.json",
				 "/share/pmem/pmem_refuse.yaml", NULL});
	is_int(st, 0, "exitgate run pmem_refuse.yaml: done 0");
	like(out, "pmem_refuse: ok",
	     "the guest's #GP handler saw the refused store, -KVM_EPERM the refused request");
	like(out, "refused memory_fault 0x500000+0x1000 to private: outside the allowed ranges",
	     "confidential.lua logged the refusal");
	stats = slurp("/tmp/pmem_refuse.json");
	is_str(field(stats, "conversions"), "2",
	       "stats: 2 conversions (the private page at start, the allowed request)");
	is_str(field(stats, "attribute_ioctls"), "2", "stats: no ioctl for the refusals");
	is_str(field(stats, "private"),
	       "[{\"gpa\":4194304,\"size\":4096},{\"gpa\":5242880,\"size\":4096}]",
	       "stats: the refused page 0x500000 is still private, 0x400000 converted");
	if (st)
		diag("stats: %s", stats);
	if (one_dump("/tmp/pmem_dumps", name, sizeof(name), dump, sizeof(dump))) {
		ok(0, "exactly one dump in /tmp/pmem_dumps (the first refusal)");
		skip(5, "no dump to read");
	} else {
		ok(json_get(dump, "", v, sizeof(v)) == 0, "the dump %s parses as JSON", name);
		json_get(dump, "exit.kind", v, sizeof(v));
		is_str(v, "memory_fault", "dump: the exit is the memory fault");
		json_get(dump, "exit.gpa", v, sizeof(v));
		is_str(v, "0x500000", "dump: at 0x500000");
		json_get(dump, "exit.private", v, sizeof(v));
		is_str(v, "true", "dump: a private access");
		json_get(dump, "note", v, sizeof(v));
		is_str(v,
		       "first refusal: memory_fault 0x500000+0x1000 to private: outside the "
		       "allowed ranges",
		       "dump: the note says what was refused and why");
	}

	/* failed steps, made to fail by the VMM's test hook */
	setenv("XG_KVM_FAIL_CONVERT", "attributes:1,discard:2,discard:4,attributes:5,discard:6", 1);
	st = run((char *const[]){"/bin/exitgate", "run", "--stats", "/tmp/pmem_fail.json",
				 "/share/pmem/pmem_fail.yaml", NULL});
	is_int(st, 0, "exitgate run pmem_fail.yaml: done 0");
	like(out, "pmem_fail: every failed conversion left the page as it was",
	     "the guest got -KVM_EFAULT for each failed conversion and read its data intact");
	like(out,
	     "making 0x400000+0x1000 private: step 1, KVM_SET_MEMORY_ATTRIBUTES: Input/output "
	     "error (injected by XG_KVM_FAIL_CONVERT); nothing changed",
	     "the message names step 1");
	like(out,
	     "making 0x400000+0x1000 private: step 2, madvise(MADV_DONTNEED) of the shared "
	     "pages: Input/output error (injected by XG_KVM_FAIL_CONVERT); the attributes are as "
	     "they were and nothing was discarded",
	     "the message names step 2 on the way to private");
	like(out,
	     "making 0x400000+0x1000 shared: step 2, fallocate(PUNCH_HOLE) of the guest_memfd: "
	     "Input/output error (injected by XG_KVM_FAIL_CONVERT); the attributes are as they "
	     "were",
	     "the message names step 2 on the way to shared");
	stats = slurp("/tmp/pmem_fail.json");
	is_str(field(stats, "conversions"), "1", "stats: 1 conversion carried out");
	like(out,
	     "making 0x400000+0x2000 shared: step 2, fallocate(PUNCH_HOLE) of the guest_memfd: "
	     "Input/output error (injected by XG_KVM_FAIL_CONVERT); the attributes are as they "
	     "were",
	     "the message for the two pages, one private, one shared");
	is_str(field(stats, "conversions_failed"), "5", "stats: 5 failed");
	is_str(field(stats, "attribute_ioctls"), "8",
	       "stats: 8 KVM_SET_MEMORY_ATTRIBUTES (1 done; 3 failed at step 2, each set and put "
	       "back, the last in two runs: the private page and the shared one)");
	is_str(field(stats, "private"), "[{\"gpa\":4194304,\"size\":4096}]",
	       "stats: the page is private, as the one conversion left it");
	if (st)
		diag("stats: %s", stats);
	setenv("XG_KVM_FAIL_CONVERT", "discard:0", 1);
	st = run((char *const[]){"/bin/exitgate", "run", "/share/pmem/pmem_fail.yaml", NULL});
	ok(st != 0, "a malformed XG_KVM_FAIL_CONVERT: the run does not start");
	like(out, "XG_KVM_FAIL_CONVERT='discard:0': expected", "... and says what it expected");
	unsetenv("XG_KVM_FAIL_CONVERT");

	/* the shipped policy's own tests, inside */
	st = run((char *const[]){"/bin/exitgate", "test",
				 "/share/tests/policies/confidential_test.lua", NULL});
	is_int(st, 0, "exitgate test confidential_test.lua passes inside the lane");
	ok(!strstr(out, "not ok"), "... no failed result");
	return done_testing();
}
