/*
 * t_kvm_syncregs.c - registers the engine writes go back to KVM through kvm_run
 * (KVM_CAP_SYNC_REGS, api.rst 5 "kvm_run": kvm_dirty_regs), applied by the next KVM_RUN
 * with no KVM_SET_REGS of their own; vector state is written back (KVM_SET_XSAVE) only when
 * the emulated instruction wrote some.
 *
 * The guest (the one tests/bench/bench_run.c measures) runs `vmovdqu (%rax),%ymm0` on the
 * MMIO window N times, then stores YMM0 to RAM with `vmovdqu %ymm0,(%rbx)`, which kvm_pvm
 * cannot emulate either, and checks the stored value with integer code: it reports 0 on
 * port 0x10 only if exactly N loads reached the device and the last one landed in YMM0.
 * Every one of those exits is handled by the engine (policy: xg.emulate()), whose write of
 * RIP (+4) waits in kvm_run. A write that KVM_RUN lost would run the load again (one device
 * read too many); one applied twice, or late, would move RIP back after the guest went on.
 *
 * Checked per exit with the backend's ioctl counts: a load costs KVM_GET_XSAVE and
 * KVM_SET_XSAVE and no KVM_SET_REGS; the store no KVM_SET_XSAVE; `popcnt (%rax),%rbx` on
 * MMIO (no vector state) neither KVM_GET_XSAVE nor KVM_SET_XSAVE. Then the corners: a
 * register read by ioctl while a write waits (xg_kvm_get_regs, and KVM_GET_REGS made
 * directly after xg_kvm_vcpu_commit_regs), an ioctl that depends on the registers
 * (KVM_GET_VCPU_EVENTS) with a write waiting, a KVM_RUN that KVM refuses before applying
 * the write (a bad kvm_dirty_regs bit: KVM stores its own registers over the copy on the way
 * out), a VM destroyed with a write waiting, and the same guest without sync regs
 * (XG_KVM_NO_SYNC_REGS=1: KVM_SET_REGS per exit, as before).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tap.h"
#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"

#define PORT_RESULT 0x10
#define N_LOADS	    40

/* tests/bench/bench_run.c's guest, at XG_KVM_LOAD_ADDR with RCX = N (its listing is there) */
static const uint8_t guest[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, 0x48, 0x89, 0xca, 0xc5, 0xfe, 0x6f, 0x00, 0x48, 0xff,
    0xc9, 0x75, 0xf7, 0xbb, 0x00, 0x00, 0x20, 0x00, 0xc5, 0xfe, 0x7f, 0x03, 0x48, 0x89,
    0xd6, 0x31, 0xc9, 0x48, 0x39, 0x14, 0xcb, 0x75, 0x0e, 0x48, 0x01, 0xf2, 0xff, 0xc1,
    0x83, 0xf9, 0x04, 0x75, 0xf0, 0x31, 0xc0, 0xeb, 0x05, 0xb8, 0x01, 0x00, 0x00, 0x00,
    0xe6, 0x10, 0xf4,
};
#define LOAD_RIP  (XG_KVM_LOAD_ADDR + 8)  /* vmovdqu (%rax),%ymm0 */
#define STORE_RIP (XG_KVM_LOAD_ADDR + 22) /* vmovdqu %ymm0,(%rbx) */

/* popcnt (%rax),%rbx on the MMIO window, then BL to port 0x10: no vector state at all */
static const uint8_t guest_popcnt[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /* mov $0xd0000000,%eax */
    0xf3, 0x48, 0x0f, 0xb8, 0x18, /* popcnt (%rax),%rbx   */
    0x88, 0xd8,			  /* mov %bl,%al           */
    0xe6, 0x10,			  /* out %al,$0x10         */
    0xf4,			  /* hlt                   */
};

/* The device: read k (from 1) returns {k, 2k, 3k, 4k}; an 8-byte read k returns
 * k * 0x0101010101010101 (8 bits set for k = 1). */
static uint64_t dev_reads, dev_bad;

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	uint64_t q[4];

	if (gpa == XG_KVM_MMIO_BASE && len == 8) {
		q[0] = ++dev_reads * 0x0101010101010101ull;
		memcpy(buf, q, 8);
		return 0;
	}
	if (gpa != XG_KVM_MMIO_BASE || len != sizeof(q)) {
		dev_bad++;
		return -ENODEV;
	}
	dev_reads++;
	for (int i = 0; i < 4; i++)
		q[i] = dev_reads * (uint64_t)(i + 1);
	memcpy(buf, q, sizeof(q));
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	dev_bad++;
	return -ENODEV;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

static char dir[] = "/tmp/xg-t-syncregs-XXXXXX";
static char policy[sizeof(dir) + 16];

struct g {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct kvm_run *run;
	size_t run_size;
	struct xg_vcpu_ops ops;
	xg_config *cfg;
	xg_engine *eng;
	xg_vcpu *xv;
};

static void quiet(void *ud, const char *line)
{
}

static void g_open_image(struct g *g, const uint8_t *image, size_t len)
{
	struct xg_error err = {{0}};
	struct kvm_regs r;

	memset(g, 0, sizeof(*g));
	dev_reads = dev_bad = 0;
	if (xg_kvm_vm_create(&g->vm, NULL, &err) ||
	    xg_kvm_enable_cap(g->vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(g->vm, XG_KVM_LOAD_ADDR, image, len, &err) ||
	    xg_kvm_vcpu_create(g->vm, 0, XG_KVM_LOAD_ADDR, &g->v, &err) ||
	    xg_kvm_get_regs(g->v, &r, &err))
		bail("%s", err.msg);
	r.rcx = N_LOADS;
	if (xg_kvm_set_regs(g->v, &r, &err))
		bail("%s", err.msg);
	xg_kvm_vcpu_set_vmm(g->v, &dev_ops, NULL);
	g->run = xg_kvm_vcpu_run_area(g->v, &g->run_size);
	xg_kvm_vcpu_ops(g->v, &g->ops);
	g->cfg = xg_config_for_policy(policy, &err);
	g->eng = g->cfg ? xg_engine_new(g->cfg, &err) : NULL;
	if (g->eng)
		xg_engine_set_log(g->eng, quiet, NULL);
	g->xv = g->eng ? xg_vcpu_attach(g->eng, "default", 0, &g->ops, g->v, &err) : NULL;
	if (!g->xv)
		bail("engine: %s", err.msg);
}

static void g_open(struct g *g)
{
	g_open_image(g, guest, sizeof(guest));
}

static void g_close(struct g *g)
{
	xg_vcpu_detach(g->xv);
	xg_engine_free(g->eng);
	xg_config_free(g->cfg);
	xg_kvm_vm_destroy(g->vm);
}

/* KVM_RUN to the next emulation failure; 0, or -1 at the guest's end (result in *result). */
static int next_exit(struct g *g, int *result)
{
	for (;;) {
		int r = xg_kvm_vcpu_run(g->v);
		if (r == -EINTR)
			continue;
		if (r)
			bail("KVM_RUN: %s", strerror(-r));
		if (g->run->exit_reason == KVM_EXIT_IO && g->run->io.port == PORT_RESULT) {
			*result = *((uint8_t *)g->run + g->run->io.data_offset);
			continue;
		}
		if (g->run->exit_reason == KVM_EXIT_HLT)
			return -1;
		if (g->run->exit_reason != KVM_EXIT_INTERNAL_ERROR)
			bail("unexpected exit %u", g->run->exit_reason);
		return 0;
	}
}

static int handle(struct g *g)
{
	struct xg_result res = xg_handle_exit(g->xv, g->run, g->run_size, 0);

	if (res.next != XG_NEXT_RUN || res.fail) {
		diag("the engine failed: %s (%s)", xg_vcpu_last_error(g->xv),
		     xg_fail_name(res.fail));
		return -1;
	}
	return 0;
}

static uint64_t rip_now(struct g *g)
{
	struct kvm_regs r;
	struct xg_error err = {{0}};

	if (xg_kvm_get_regs(g->v, &r, &err))
		bail("%s", err.msg);
	return r.rip;
}

/* The guest to its end with the ioctls of every exit checked; with sync regs or without. */
static void whole_run(int sync)
{
	struct g g;
	struct xg_kvm_ioctl_counts a, b, base;
	uint64_t loads = 0, stores = 0, bad_load = 0, bad_store = 0, other = 0;
	int result = -1;

	g_open(&g);
	xg_kvm_vcpu_ioctl_counts(g.v, &base);
	if (sync && !(g.run->kvm_valid_regs & KVM_SYNC_X86_REGS)) {
		skip(6, "KVM offers no KVM_CAP_SYNC_REGS here");
		g_close(&g);
		return;
	}
	while (!next_exit(&g, &result)) {
		uint64_t rip = sync ? g.run->s.regs.regs.rip : rip_now(&g);
		int load = rip == LOAD_RIP;

		if (!load && rip != STORE_RIP)
			bail("an exit at %#llx, not one of the guest's two", (unsigned long long)rip);
		xg_kvm_vcpu_ioctl_counts(g.v, &a);
		if (handle(&g))
			break;
		xg_kvm_vcpu_ioctl_counts(g.v, &b);
		/* per exit: one KVM_GET_XSAVE; a load writes YMM0 (KVM_SET_XSAVE), the store
		 * does not; RIP goes back in kvm_run (sync) or by KVM_SET_REGS */
		if (load) {
			loads++;
			bad_load += b.get_xsave - a.get_xsave != 1 || b.set_xsave - a.set_xsave != 1;
		} else {
			stores++;
			bad_store += b.get_xsave - a.get_xsave != 1 || b.set_xsave != a.set_xsave;
		}
		if (sync)
			other += b.set_regs != a.set_regs || b.regs_put - a.regs_put != 1 ||
				 b.get_regs != a.get_regs || b.other != a.other ||
				 b.set_sregs != a.set_sregs;
		else
			other += b.set_regs - a.set_regs != 1 || b.regs_put != a.regs_put;
	}
	is_int(result, 0, "%s: the guest saw its %d loads and the store land exactly once",
	       sync ? "sync regs" : "no sync regs", N_LOADS);
	ok(loads == N_LOADS && stores == 1 && dev_reads == N_LOADS && !dev_bad,
	   "%s: %llu loads and %llu store exits handled, %llu device reads", sync ? "sync" : "ioctl",
	   (unsigned long long)loads, (unsigned long long)stores, (unsigned long long)dev_reads);
	is_int(bad_load, 0, "every load: one KVM_GET_XSAVE, one KVM_SET_XSAVE");
	is_int(bad_store, 0, "the store: one KVM_GET_XSAVE and no KVM_SET_XSAVE (no vector state "
			     "written)");
	if (sync)
		is_int(other, 0, "every exit: RIP written into kvm_run, no KVM_SET_REGS or other "
				 "vCPU ioctl");
	else
		is_int(other, 0, "without sync regs: one KVM_SET_REGS per exit");
	xg_kvm_vcpu_ioctl_counts(g.v, &b);
	diag("%s: ioctls in all: run %llu get_regs %llu set_regs %llu get_xsave %llu set_xsave "
	     "%llu other %llu; regs through kvm_run %llu",
	     sync ? "sync" : "no sync", (unsigned long long)b.run, (unsigned long long)b.get_regs,
	     (unsigned long long)b.set_regs, (unsigned long long)b.get_xsave,
	     (unsigned long long)b.set_xsave, (unsigned long long)b.other,
	     (unsigned long long)b.regs_put);
	b.set_regs -= base.set_regs;
	ok(sync ? b.set_regs == 0 : b.set_regs == N_LOADS + 1,
	   "KVM_SET_REGS while the guest ran: %llu%s", (unsigned long long)b.set_regs,
	   sync ? "" : " (one per exit)");
	g_close(&g);
}

/* The corners, each on an exit whose RIP write is waiting in kvm_run. */
static void corners(void)
{
	struct g g;
	struct xg_kvm_ioctl_counts a, b;
	struct xg_error err = {{0}};
	struct kvm_regs r;
	struct kvm_vcpu_events ev;
	int result = -1;

	g_open(&g);
	if (!(g.run->kvm_valid_regs & KVM_SYNC_X86_REGS)) {
		skip(15, "KVM offers no KVM_CAP_SYNC_REGS here");
		g_close(&g);
		return;
	}

	/* 1. xg_kvm_get_regs answers from the waiting copy, with no ioctl */
	if (next_exit(&g, &result) || handle(&g))
		bail("no first exit");
	ok(g.run->kvm_dirty_regs & KVM_SYNC_X86_REGS, "after the emulation RIP waits in kvm_run");
	xg_kvm_vcpu_ioctl_counts(g.v, &a);
	is_hex(rip_now(&g), LOAD_RIP + 4, "xg_kvm_get_regs sees the RIP written");
	xg_kvm_vcpu_ioctl_counts(g.v, &b);
	is_int(b.get_regs - a.get_regs + b.set_regs - a.set_regs, 0, "... without an ioctl");

	/* 2. commit: KVM_SET_REGS now, then KVM's own KVM_GET_REGS agrees */
	if (!ok(xg_kvm_vcpu_commit_regs(g.v, &err) == 0, "xg_kvm_vcpu_commit_regs"))
		diag("%s", err.msg);
	ok(!(g.run->kvm_dirty_regs & KVM_SYNC_X86_REGS), "nothing waits after the commit");
	memset(&r, 0, sizeof(r));
	if (ioctl(xg_kvm_vcpu_fd(g.v), KVM_GET_REGS, &r))
		bail("KVM_GET_REGS: %s", strerror(errno));
	is_hex(r.rip, LOAD_RIP + 4, "KVM_GET_REGS (an ioctl of the test's own) sees the RIP");

	/* 3. an ioctl that depends on the registers commits them first */
	if (next_exit(&g, &result) || handle(&g))
		bail("no second exit");
	xg_kvm_vcpu_ioctl_counts(g.v, &a);
	if (xg_kvm_get_vcpu_events(g.v, &ev, &err))
		bail("%s", err.msg);
	xg_kvm_vcpu_ioctl_counts(g.v, &b);
	ok(b.set_regs - a.set_regs == 1 && !(g.run->kvm_dirty_regs & KVM_SYNC_X86_REGS),
	   "KVM_GET_VCPU_EVENTS with RIP waiting: KVM_SET_REGS of it first");
	memset(&r, 0, sizeof(r));
	if (ioctl(xg_kvm_vcpu_fd(g.v), KVM_GET_REGS, &r))
		bail("KVM_GET_REGS: %s", strerror(errno));
	is_hex(r.rip, LOAD_RIP + 4, "... and KVM has it");

	/* 4. a KVM_RUN refused before it applies the write: the write is kept for the next */
	if (next_exit(&g, &result) || handle(&g))
		bail("no third exit");
	g.run->kvm_dirty_regs |= 1u << 30; /* no such field: KVM_RUN fails with EINVAL */
	{
		int rc = xg_kvm_vcpu_run(g.v);
		is_int(rc, -EINVAL, "KVM_RUN with an unknown kvm_dirty_regs bit: EINVAL");
	}
	g.run->kvm_dirty_regs &= ~(1u << 30);
	ok(g.run->kvm_dirty_regs & KVM_SYNC_X86_REGS, "the RIP write still waits");
	is_hex(g.run->s.regs.regs.rip, LOAD_RIP + 4,
	       "and the copy holds it again (KVM stored its own registers over it)");

	/* the rest of the guest, every exit's write waiting; the guest checks them all */
	while (!next_exit(&g, &result))
		if (handle(&g))
			break;
	is_int(result, 0, "the guest ran on as if every write had been an ioctl");
	ok(dev_reads == N_LOADS && !dev_bad, "%llu device reads (%d)",
	   (unsigned long long)dev_reads, N_LOADS);

	/* 5. a VM destroyed with a write waiting: nothing to do, nothing leaks */
	g_close(&g);
	g_open(&g);
	if (next_exit(&g, &result) || handle(&g))
		bail("no exit");
	ok(g.run->kvm_dirty_regs & KVM_SYNC_X86_REGS, "a write waits as the VM is destroyed");
	g_close(&g);
	ok(1, "destroyed");
}

/* An instruction with no vector state: no KVM_GET_XSAVE (the emulator reads the image only
 * for instructions that need it), no KVM_SET_XSAVE, RIP through kvm_run. */
static void no_vector(void)
{
	struct g g;
	struct xg_kvm_ioctl_counts a, b;
	int result = -1;

	g_open_image(&g, guest_popcnt, sizeof(guest_popcnt));
	if (next_exit(&g, &result)) {
		skip(3, "popcnt on MMIO did not exit here");
		g_close(&g);
		return;
	}
	xg_kvm_vcpu_ioctl_counts(g.v, &a);
	if (handle(&g))
		bail("popcnt not emulated");
	xg_kvm_vcpu_ioctl_counts(g.v, &b);
	ok(b.get_xsave == a.get_xsave && b.set_xsave == a.set_xsave,
	   "popcnt (%%rax),%%rbx: no KVM_GET_XSAVE, no KVM_SET_XSAVE");
	ok(b.set_regs == a.set_regs && b.other == a.other && b.regs_put - a.regs_put == 1,
	   "... and RBX, RIP through kvm_run, no other ioctl");
	while (!next_exit(&g, &result))
		if (handle(&g))
			break;
	is_int(result, 8, "the guest counted the 8 bits the device gave");
	g_close(&g);
}

int main(void)
{
	char why[256];
	FILE *f;

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (!mkdtemp(dir))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(policy, sizeof(policy), "%s/p.lua", dir);
	f = fopen(policy, "w");
	if (!f || fputs("local xg = require 'exitgate'\n"
			"return { emulation_failure = function(e) return xg.emulate() end }\n",
			f) < 0 ||
	    fclose(f))
		bail("cannot write %s", policy);

	whole_run(1);
	corners();
	no_vector();
	setenv("XG_KVM_NO_SYNC_REGS", "1", 1);
	whole_run(0);

	unlink(policy);
	rmdir(dir);
	return done_testing();
}
