/*
 * t_kvm_regmap.c - the KVM backend's register ops against KVM itself, field by field: the
 * fetch (get_x86_regs) and the write-back (set_x86_regs), with and without
 * KVM_CAP_SYNC_REGS.
 *
 * Fetch: random values in every field of kvm_regs and kvm_sregs that KVM_SET_SREGS takes
 * whatever they hold (GPRs, RIP, RFLAGS, the eight segments' every field, GDTR, IDTR, CR2;
 * CR0/CR3/CR4/EFER stay the valid long-mode ones the vCPU has) go in by KVM_SET_REGS and
 * KVM_SET_SREGS; KVM_GET_REGS/SREGS/XCRS then say what the vCPU holds (KVM keeps only the
 * bits its VMCS/VMCB has: that is the oracle, not the values written), and get_x86_regs must
 * give each of them in its own place, named here one by one. With sync regs the copy in
 * kvm_run is what is read, refreshed the way KVM refreshes it at an exit.
 *
 * Write-back: random GPRs, RIP and RFLAGS through set_x86_regs, then KVM_GET_REGS after the
 * write reached KVM (xg_kvm_vcpu_commit_regs: the KVM_SET_REGS of kvm_run's copy that
 * KVM_RUN's sync_regs() equals); the oracle is KVM_GET_REGS after a KVM_SET_REGS of the same
 * values placed by name. With gprs_unchanged (the emulator's commit that wrote no GPR) the
 * GPRs must stay as they were while RIP and RFLAGS change.
 *
 * Failures print the seed, the round and the field; XG_SEED=n repeats a run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "tap.h"
#include "exitgate.h"
#include "xg_emu_x86.h"
#include "backend/kvm/xg_kvm.h"
#include "../emu/oracle_rand.h"

#define ROUNDS 200

struct vc {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct kvm_run *run;
	struct xg_vcpu_ops ops;
	int fd, sync;
};

static void vc_open(struct vc *c)
{
	struct xg_error err = {{0}};
	static const uint8_t hlt = 0xf4;

	memset(c, 0, sizeof(*c));
	if (xg_kvm_vm_create(&c->vm, NULL, &err) ||
	    xg_kvm_load(c->vm, XG_KVM_LOAD_ADDR, &hlt, 1, &err) ||
	    xg_kvm_vcpu_create(c->vm, 0, XG_KVM_LOAD_ADDR, &c->v, &err))
		bail("%s", err.msg);
	c->run = xg_kvm_vcpu_run_area(c->v, NULL);
	c->fd = xg_kvm_vcpu_fd(c->v);
	c->sync = (c->run->kvm_valid_regs & KVM_SYNC_X86_REGS) != 0;
	xg_kvm_vcpu_ops(c->v, &c->ops);
}

static void io(struct vc *c, unsigned long req, const char *name, void *arg)
{
	if (ioctl(c->fd, req, arg) < 0)
		bail("%s: %s", name, strerror(errno));
}

static void rnd_seg(struct kvm_segment *s)
{
	s->base = rnd();
	s->limit = (uint32_t)rnd();
	s->selector = (uint16_t)rnd();
	s->type = (uint8_t)rnd();
	s->present = (uint8_t)rnd();
	s->dpl = (uint8_t)rnd();
	s->db = (uint8_t)rnd();
	s->s = (uint8_t)rnd();
	s->l = (uint8_t)rnd();
	s->g = (uint8_t)rnd();
	s->avl = (uint8_t)rnd();
	s->unusable = (uint8_t)rnd();
	s->padding = (uint8_t)rnd();
}

static void rnd_regs(struct kvm_regs *r)
{
	uint64_t q[sizeof(*r) / 8];

	/* through memcpy: kvm_regs' __u64 is unsigned long long, uint64_t unsigned long, and a
	 * store through the other type is not seen by a compiler that keeps them apart (clang
	 * did: every round compared the same stale registers) */
	for (size_t i = 0; i < sizeof(*r) / 8; i++)
		q[i] = rnd();
	memcpy(r, q, sizeof(*r));
	/* RFLAGS: the defined bits (SDM Vol. 1 3.4.3) and the reserved bit 1; KVM would carry
	 * others into a VM entry that fails, which is not what is tested here */
	r->rflags = (r->rflags & 0x3f7fd5) | 2;
}

static int bad;

static void same(uint64_t got, uint64_t want, const char *what, int round, const char *field)
{
	if (got == want)
		return;
	if (bad++ < 10)
		diag("round %d (of the seed above): %s %s is %#llx, KVM has %#llx", round, what,
		     field, (unsigned long long)got, (unsigned long long)want);
}

static void same_seg(const struct xg_emu_x86_segment *g, const struct kvm_segment *w, int round,
		     const char *name)
{
	char f[32];
#define SEG_FIELD(x)                                                                               \
	snprintf(f, sizeof(f), "%s." #x, name), same(g->x, w->x, "get_x86_regs", round, f)
	SEG_FIELD(base);
	SEG_FIELD(limit);
	SEG_FIELD(selector);
	SEG_FIELD(type);
	SEG_FIELD(present);
	SEG_FIELD(dpl);
	SEG_FIELD(db);
	SEG_FIELD(s);
	SEG_FIELD(l);
	SEG_FIELD(g);
	SEG_FIELD(avl);
	SEG_FIELD(unusable);
#undef SEG_FIELD
}

/* get_x86_regs against what KVM says, every field named */
static void compare_fetch(struct vc *c, int round)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_xcrs xc;
	struct xg_emu_x86_regs x;
	const char *g = "get_x86_regs";

	io(c, KVM_GET_REGS, "KVM_GET_REGS", &r);
	io(c, KVM_GET_SREGS, "KVM_GET_SREGS", &s);
	memset(&xc, 0, sizeof(xc));
	io(c, KVM_GET_XCRS, "KVM_GET_XCRS", &xc);
	memset(&x, 0xa5, sizeof(x));
	if (c->ops.get_x86_regs(c->v, &x))
		bail("get_x86_regs failed");
	same(x.gpr[XG_EMU_X86_RAX], r.rax, g, round, "rax");
	same(x.gpr[XG_EMU_X86_RCX], r.rcx, g, round, "rcx");
	same(x.gpr[XG_EMU_X86_RDX], r.rdx, g, round, "rdx");
	same(x.gpr[XG_EMU_X86_RBX], r.rbx, g, round, "rbx");
	same(x.gpr[XG_EMU_X86_RSP], r.rsp, g, round, "rsp");
	same(x.gpr[XG_EMU_X86_RBP], r.rbp, g, round, "rbp");
	same(x.gpr[XG_EMU_X86_RSI], r.rsi, g, round, "rsi");
	same(x.gpr[XG_EMU_X86_RDI], r.rdi, g, round, "rdi");
	same(x.gpr[8], r.r8, g, round, "r8");
	same(x.gpr[9], r.r9, g, round, "r9");
	same(x.gpr[10], r.r10, g, round, "r10");
	same(x.gpr[11], r.r11, g, round, "r11");
	same(x.gpr[12], r.r12, g, round, "r12");
	same(x.gpr[13], r.r13, g, round, "r13");
	same(x.gpr[14], r.r14, g, round, "r14");
	same(x.gpr[15], r.r15, g, round, "r15");
	same(x.rip, r.rip, g, round, "rip");
	same(x.rflags, r.rflags, g, round, "rflags");
	same_seg(&x.seg[XG_EMU_X86_ES], &s.es, round, "es");
	same_seg(&x.seg[XG_EMU_X86_CS], &s.cs, round, "cs");
	same_seg(&x.seg[XG_EMU_X86_SS], &s.ss, round, "ss");
	same_seg(&x.seg[XG_EMU_X86_DS], &s.ds, round, "ds");
	same_seg(&x.seg[XG_EMU_X86_FS], &s.fs, round, "fs");
	same_seg(&x.seg[XG_EMU_X86_GS], &s.gs, round, "gs");
	same_seg(&x.tr, &s.tr, round, "tr");
	same_seg(&x.ldtr, &s.ldt, round, "ldtr");
	same(x.cr0, s.cr0, g, round, "cr0");
	same(x.cr2, s.cr2, g, round, "cr2");
	same(x.cr3, s.cr3, g, round, "cr3");
	same(x.cr4, s.cr4, g, round, "cr4");
	same(x.efer, s.efer, g, round, "efer");
	same(x.xcr0, xc.nr_xcrs ? xc.xcrs[0].value : 0, g, round, "xcr0");
	same(x.gdtr_base, s.gdt.base, g, round, "gdtr_base");
	same(x.gdtr_limit, s.gdt.limit, g, round, "gdtr_limit");
	same(x.idtr_base, s.idt.base, g, round, "idtr_base");
	same(x.idtr_limit, s.idt.limit, g, round, "idtr_limit");
	same(x.has_tables, 1, g, round, "has_tables");
	same(x.gprs_unchanged, 0, g, round, "gprs_unchanged");
}

/* With sync regs, what KVM stores into kvm_run at an exit (store_regs(), the same
 * __get_regs/__get_sregs as KVM_GET_REGS/SREGS): a KVM_RUN refused for an unknown
 * kvm_dirty_regs bit stores them and runs nothing (arch/x86/kvm/x86.c
 * kvm_arch_vcpu_ioctl_run). */
static void refresh_copy(struct vc *c)
{
	if (!c->sync)
		return;
	memset(&c->run->s.regs.regs, 0x5a, sizeof(c->run->s.regs.regs));
	memset(&c->run->s.regs.sregs, 0x5a, sizeof(c->run->s.regs.sregs));
	c->run->kvm_dirty_regs = 1ull << 31;
	if (ioctl(c->fd, KVM_RUN, 0) == 0 || errno != EINVAL)
		bail("KVM_RUN with an unknown kvm_dirty_regs bit was not refused");
	c->run->kvm_dirty_regs = 0;
}

static void fetch(struct vc *c, const char *how)
{
	struct kvm_sregs base;

	io(c, KVM_GET_SREGS, "KVM_GET_SREGS", &base);
	bad = 0;
	for (int round = 0; round < ROUNDS; round++) {
		struct kvm_regs r;
		struct kvm_sregs s = base;

		rnd_regs(&r);
		rnd_seg(&s.cs), rnd_seg(&s.ds), rnd_seg(&s.es), rnd_seg(&s.fs);
		rnd_seg(&s.gs), rnd_seg(&s.ss), rnd_seg(&s.tr), rnd_seg(&s.ldt);
		s.gdt.base = rnd(), s.gdt.limit = (uint16_t)rnd();
		s.idt.base = rnd(), s.idt.limit = (uint16_t)rnd();
		s.cr2 = rnd();
		io(c, KVM_SET_REGS, "KVM_SET_REGS", &r);
		io(c, KVM_SET_SREGS, "KVM_SET_SREGS", &s);
		refresh_copy(c);
		compare_fetch(c, round);
	}
	is_int(bad, 0,
	       "%s: get_x86_regs gives every register KVM holds in its place (%d rounds "
	       "of random GPRs, RIP, RFLAGS, segments, tables, CR2)",
	       how, ROUNDS);
	io(c, KVM_SET_SREGS, "KVM_SET_SREGS", &base);
	refresh_copy(c);
}

/* kvm_regs by name from the emulator's GPR numbering: the oracle's own mapping */
static void to_kvm(const struct xg_emu_x86_regs *x, struct kvm_regs *r)
{
	r->rax = x->gpr[XG_EMU_X86_RAX], r->rcx = x->gpr[XG_EMU_X86_RCX];
	r->rdx = x->gpr[XG_EMU_X86_RDX], r->rbx = x->gpr[XG_EMU_X86_RBX];
	r->rsp = x->gpr[XG_EMU_X86_RSP], r->rbp = x->gpr[XG_EMU_X86_RBP];
	r->rsi = x->gpr[XG_EMU_X86_RSI], r->rdi = x->gpr[XG_EMU_X86_RDI];
	r->r8 = x->gpr[8], r->r9 = x->gpr[9], r->r10 = x->gpr[10], r->r11 = x->gpr[11];
	r->r12 = x->gpr[12], r->r13 = x->gpr[13], r->r14 = x->gpr[14], r->r15 = x->gpr[15];
	r->rip = x->rip, r->rflags = x->rflags;
}

/* The oracle of a write: what KVM holds after a KVM_SET_REGS of these values (it keeps
 * RFLAGS bit 1 set, and drops what its VMCS/VMCB does not keep), the vCPU then put back as
 * it was. */
static void as_kvm_keeps(struct vc *c, struct kvm_regs *want)
{
	struct kvm_regs before;

	io(c, KVM_GET_REGS, "KVM_GET_REGS", &before);
	io(c, KVM_SET_REGS, "KVM_SET_REGS", want);
	io(c, KVM_GET_REGS, "KVM_GET_REGS", want);
	io(c, KVM_SET_REGS, "KVM_SET_REGS", &before);
	refresh_copy(c);
}

static void same_regs(const struct kvm_regs *g, const struct kvm_regs *w, const char *what,
		      int round)
{
	static const char *const name[18] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi",
					     "rsp", "rbp", "r8",  "r9",	 "r10", "r11",
					     "r12", "r13", "r14", "r15", "rip", "rflags"};
	uint64_t gq[18], wq[18];

	_Static_assert(sizeof(*g) == sizeof(gq), "struct kvm_regs is 18 registers");
	memcpy(gq, g, sizeof(gq)); /* as rnd_regs: not read through another type */
	memcpy(wq, w, sizeof(wq));
	for (int i = 0; i < 18; i++)
		same(gq[i], wq[i], what, round, name[i]);
}

static void writeback(struct vc *c, const char *how)
{
	struct xg_error err = {{0}};
	int n_changed = 0;

	bad = 0;
	for (int round = 0; round < ROUNDS; round++) {
		struct xg_emu_x86_regs x;
		struct kvm_regs want, got, before, r;
		int keep = round & 1; /* odd rounds: gprs_unchanged */

		if (c->ops.get_x86_regs(c->v, &x))
			bail("get_x86_regs failed");
		io(c, KVM_GET_REGS, "KVM_GET_REGS", &before);
		rnd_regs(&r);
		if (!keep)
			x.gpr[XG_EMU_X86_RAX] = r.rax, x.gpr[XG_EMU_X86_RCX] = r.rcx,
			x.gpr[XG_EMU_X86_RDX] = r.rdx, x.gpr[XG_EMU_X86_RBX] = r.rbx,
			x.gpr[XG_EMU_X86_RSP] = r.rsp, x.gpr[XG_EMU_X86_RBP] = r.rbp,
			x.gpr[XG_EMU_X86_RSI] = r.rsi, x.gpr[XG_EMU_X86_RDI] = r.rdi,
			memcpy(&x.gpr[8], &r.r8, 64);
		x.rip = r.rip, x.rflags = r.rflags;
		x.gprs_unchanged = (uint8_t)keep;
		to_kvm(&x, &want);
		as_kvm_keeps(c, &want);
		/* the op under test, then the write applied as KVM_RUN would */
		if (c->ops.set_x86_regs(c->v, &x) || xg_kvm_vcpu_commit_regs(c->v, &err))
			bail("set_x86_regs: %s", err.msg);
		io(c, KVM_GET_REGS, "KVM_GET_REGS", &got);
		same_regs(&got, &want, keep ? "set_x86_regs (gprs_unchanged)" : "set_x86_regs",
			  round);
		n_changed += memcmp(&got, &before, sizeof(got)) != 0;
		refresh_copy(c);
	}
	is_int(bad, 0,
	       "%s: set_x86_regs puts every GPR, RIP and RFLAGS where KVM has it, and "
	       "with gprs_unchanged leaves the GPRs as they were (%d rounds)",
	       how, ROUNDS);
	is_int(n_changed, ROUNDS, "%s: every round changed the vCPU's registers", how);
}

/*
 * A write still waiting when KVM_RUN returns before applying it (kernel: the checks of
 * kvm_run at the top of kvm_arch_vcpu_ioctl_run; here an unknown kvm_valid_regs bit, as for
 * a vCPU not yet started): KVM stores its own registers over the copy on the way out, and the
 * backend must put back what was written - RIP and RFLAGS alone after a put of those only,
 * every register after one that wrote GPRs. The next sync must still apply them.
 */
static void early_return(struct vc *c, const char *how)
{
	struct xg_error err = {{0}};

	bad = 0;
	for (int round = 0; round < ROUNDS / 4; round++) {
		struct xg_emu_x86_regs x;
		struct kvm_regs r, want, got;
		int keep = round & 1, rc;

		if (c->ops.get_x86_regs(c->v, &x))
			bail("get_x86_regs failed");
		rnd_regs(&r);
		if (!keep)
			memcpy(&x.gpr[8], &r.r8, 64), x.gpr[XG_EMU_X86_RAX] = r.rax;
		x.rip = r.rip, x.rflags = r.rflags;
		x.gprs_unchanged = (uint8_t)keep;
		to_kvm(&x, &want);
		as_kvm_keeps(c, &want);
		if (c->ops.set_x86_regs(c->v, &x))
			bail("set_x86_regs failed");
		c->run->kvm_valid_regs |= 1u << 31;
		rc = xg_kvm_vcpu_run(c->v);
		c->run->kvm_valid_regs &= ~(1u << 31);
		if (rc != -EINVAL)
			bail("KVM_RUN with an unknown kvm_valid_regs bit: %d, not -EINVAL", rc);
		same(!!(c->run->kvm_dirty_regs & KVM_SYNC_X86_REGS), 1, "after the early return",
		     round, "the kvm_dirty_regs bit");
		if (xg_kvm_vcpu_commit_regs(c->v, &err))
			bail("%s", err.msg);
		io(c, KVM_GET_REGS, "KVM_GET_REGS", &got);
		same_regs(&got, &want, keep ? "early return (gprs_unchanged)" : "early return",
			  round);
		refresh_copy(c);
	}
	is_int(bad, 0,
	       "%s: a write kept across a KVM_RUN that returned before applying it (%d "
	       "rounds, half RIP and RFLAGS alone)",
	       how, ROUNDS / 4);
}

static uint64_t seed;

static void both(const char *how)
{
	struct vc c;

	rs = seed;
	vc_open(&c);
	if (!strcmp(how, "sync regs") && !c.sync) {
		skip(4, "KVM offers no KVM_CAP_SYNC_REGS here");
		xg_kvm_vm_destroy(c.vm);
		return;
	}
	diag("%s: seed %#llx", how, (unsigned long long)rs);
	fetch(&c, how);
	writeback(&c, how);
	if (c.sync)
		early_return(&c, how);
	xg_kvm_vm_destroy(c.vm);
}

int main(void)
{
	char why[256];

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	seed = xg_oracle_seed();
	both("sync regs");
	setenv("XG_KVM_NO_SYNC_REGS", "1", 1);
	both("ioctls");
	return done_testing();
}
