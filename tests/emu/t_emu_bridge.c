/*
 * t_emu_bridge.c - the emulate verdict's bridge (core/action/emulate_x86.c) with the optional
 * ram_ptr op against the same VMM without it, on random moves between registers and guest
 * memory in a long-mode guest.
 *
 * The fake VMM has 64 KiB of RAM at GPA 0, a device of two pages at DEV_GPA (mmio_read and
 * mmio_write, each access logged) and nothing anywhere else. Each round maps linear pages
 * 0x10000-0x17fff at random (RAM, the device, nothing there, not present, read-only or
 * supervisor-only; one of the page tables sometimes at the device or past RAM) and emulates one
 * GP load, store or read-modify-write (1 to 8 bytes, often across a page boundary) at CPL 0
 * or 3, four ways from the same state:
 *   - ops without ram_ptr, no memo: the old path, read_gpa/write_gpa tried first (the oracle),
 *   - ops with ram_ptr, no memo,
 *   - ops with ram_ptr and a memo kept across rounds (the short path of a repeat).
 *   - ops with ram_ptr, a memo and the memo's direct path (x86_kvm_regs: the VMM keeps the
 *     registers in KVM's layout, as the KVM backend does with sync regs, and its
 *     get_x86_regs/set_x86_regs convert), with a memo of its own.
 * Each must end the same: the bridge's answer, the registers, CR2 and the exception injected,
 * the RAM, and the device log (the accesses in order, with their bytes, and the reads of
 * nothing there). The direct path is what the bridge's own glue feeds: the CPL and the kind
 * of access its walk is given (supervisor-only and read-only pages at CPL 3 and with CR0.WP
 * clear), and x86_kvm_regs_put told that a GPR is written whenever one is (a put of RIP alone
 * would let a KVM_RUN that fails before applying it keep the old GPRs: kvm_x86.c
 * xg_kvm_arch_run_dirty). XG_SEED=n repeats a run; a failure prints the seed and the round.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exitgate.h"
#include "tap.h"
#include "xg_emu_x86.h"
#include "oracle_rand.h"

#define RAM_SIZE 0x10000ull
#define DEV_GPA	 0xd0000000ull
#define NOTHING	 0x80000000ull /* neither RAM nor device */
#define LA_BASE	 0x10000ull    /* the linear pages the rounds map */
#define NPAGES	 8
#define ROUNDS	 20000

struct vmm {
	_Alignas(4096) uint8_t ram[RAM_SIZE];
	uint8_t dev[8192];
	struct xg_emu_x86_regs regs;
	uint64_t cr2;
	int vector, has_code;
	uint32_t code;
	char log[4096];
	size_t loglen;
	/* the direct-path VMM's registers, in KVM's layout (kvm_regs, kvm_sregs) */
	struct xg_emu_x86_kvm_regs kr;
	struct xg_emu_x86_kvm_sregs ks;
	unsigned get_regs, puts, put_gprs;
};

/* "what gpa/len bytes;" appended to the log */
static void logf_(struct vmm *v, const char *what, uint64_t gpa, size_t len, const void *data)
{
	int n = snprintf(v->log + v->loglen, sizeof(v->log) - v->loglen, "%s %#" PRIx64 "/%zu ",
			 what, gpa, len);

	if (n > 0 && (size_t)n < sizeof(v->log) - v->loglen)
		v->loglen += (size_t)n;
	for (size_t i = 0; data && i < len && v->loglen + 3 < sizeof(v->log); i++)
		v->loglen +=
		    (size_t)snprintf(v->log + v->loglen, 4, "%02x", ((const uint8_t *)data)[i]);
	if (v->loglen + 2 < sizeof(v->log)) /* room for the ';' and a terminating NUL */
		v->log[v->loglen++] = ';';
}

static int in_ram(uint64_t gpa, size_t len)
{
	return gpa < RAM_SIZE && len <= RAM_SIZE - gpa;
}

static int o_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	*r = ((struct vmm *)o)->regs;
	return 0;
}

static int o_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	struct vmm *v = o;

	memcpy(v->regs.gpr, r->gpr, sizeof(r->gpr));
	v->regs.rip = r->rip;
	v->regs.rflags = r->rflags;
	return 0;
}

static int o_read_gpa(void *o, uint64_t gpa, void *buf, size_t len)
{
	if (!in_ram(gpa, len))
		return -EFAULT;
	memcpy(buf, ((struct vmm *)o)->ram + gpa, len);
	return 0;
}

static int o_write_gpa(void *o, uint64_t gpa, const void *buf, size_t len)
{
	if (!in_ram(gpa, len))
		return -EFAULT;
	memcpy(((struct vmm *)o)->ram + gpa, buf, len);
	return 0;
}

static const void *o_ram_ptr(void *o, uint64_t gpa, size_t len)
{
	return in_ram(gpa, len) ? ((struct vmm *)o)->ram + gpa : NULL;
}

static int o_mmio_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct vmm *v = o;

	if (gpa < DEV_GPA || gpa - DEV_GPA + len > sizeof(v->dev)) {
		logf_(v, "nothing r", gpa, len, NULL);
		return -ENODEV;
	}
	memcpy(buf, v->dev + (gpa - DEV_GPA), len);
	logf_(v, "dev r", gpa, len, buf);
	return 0;
}

static int o_mmio_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	struct vmm *v = o;

	if (gpa < DEV_GPA || gpa - DEV_GPA + len > sizeof(v->dev)) {
		logf_(v, "nothing w", gpa, len, buf);
		return -ENODEV;
	}
	memcpy(v->dev + (gpa - DEV_GPA), buf, len);
	logf_(v, "dev w", gpa, len, buf);
	return 0;
}

static int o_set_reg(void *o, const char *name, uint64_t val)
{
	if (strcmp(name, "cr2"))
		return -EINVAL;
	((struct vmm *)o)->cr2 = val;
	return 0;
}

static int o_inject(void *o, unsigned vector, int has, uint32_t code)
{
	struct vmm *v = o;

	v->vector = (int)vector;
	v->has_code = has;
	v->code = code;
	return 0;
}

/* ---- the direct path's VMM: registers where KVM keeps them (struct kvm_regs: rax rbx rcx
 * rdx rsi rdi rsp rbp r8..r15 rip rflags; kvm_sregs: cs ds es fs gs ss ...) ---- */

static const uint8_t kvm_of[16] = {0, 2, 3, 1, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};

static void to_kvm(struct vmm *v)
{
	uint64_t *q = &v->kr.rax;

	for (int i = 0; i < 16; i++)
		q[kvm_of[i]] = v->regs.gpr[i];
	v->kr.rip = v->regs.rip;
	v->kr.rflags = v->regs.rflags;
	memset(&v->ks, 0, sizeof(v->ks));
	v->ks.cs = v->regs.seg[XG_EMU_X86_CS];
	v->ks.ds = v->regs.seg[XG_EMU_X86_DS];
	v->ks.es = v->regs.seg[XG_EMU_X86_ES];
	v->ks.fs = v->regs.seg[XG_EMU_X86_FS];
	v->ks.gs = v->regs.seg[XG_EMU_X86_GS];
	v->ks.ss = v->regs.seg[XG_EMU_X86_SS];
	v->ks.cr0 = v->regs.cr0;
	v->ks.cr2 = v->regs.cr2;
	v->ks.cr3 = v->regs.cr3;
	v->ks.cr4 = v->regs.cr4;
	v->ks.efer = v->regs.efer;
}

static int k_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct vmm *v = o;
	const uint64_t *q = &v->kr.rax;

	v->get_regs++;
	*r = v->regs; /* what the KVM layout lacks (xcr0, vendor, tables) */
	for (int i = 0; i < 16; i++)
		r->gpr[i] = q[kvm_of[i]];
	r->rip = v->kr.rip;
	r->rflags = v->kr.rflags;
	return 0;
}

static int k_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	struct vmm *v = o;
	uint64_t *q = &v->kr.rax;

	for (int i = 0; i < 16; i++)
		q[kvm_of[i]] = r->gpr[i];
	v->kr.rip = r->rip;
	v->kr.rflags = r->rflags;
	return 0;
}

static int k_kvm_regs(void *o, void **regs, const void **sregs, uint64_t *xcr0)
{
	struct vmm *v = o;

	*regs = &v->kr;
	*sregs = &v->ks;
	*xcr0 = v->regs.xcr0;
	return 0;
}

static void k_put(void *o, int gprs)
{
	struct vmm *v = o;

	v->puts++;
	v->put_gprs |= gprs != 0;
}

/* the registers the direct-path VMM ended with, back in the emulator's layout */
static void from_kvm(struct vmm *v)
{
	struct xg_emu_x86_regs r;

	k_get_regs(v, &r);
	v->get_regs--;
	v->regs.rip = r.rip;
	v->regs.rflags = r.rflags;
	memcpy(v->regs.gpr, r.gpr, sizeof(r.gpr));
}

static const struct xg_vcpu_ops without = {
    .set_reg = o_set_reg,
    .read_gpa = o_read_gpa,
    .write_gpa = o_write_gpa,
    .inject_exception = o_inject,
    .get_x86_regs = o_get_regs,
    .set_x86_regs = o_set_regs,
    .mmio_read = o_mmio_read,
    .mmio_write = o_mmio_write,
};

/* Page tables in RAM: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000 mapping linear
 * 0-0x1fffff; linear 0-0xffff is RAM 1:1 (present, writable, user), pages 0x10000-0x17fff
 * are the round's. */
static void build(struct vmm *v, int cpl)
{
	uint64_t e;

	memset(v->ram, 0, RAM_SIZE);
	for (unsigned i = 0x5000; i < RAM_SIZE; i++)
		v->ram[i] = (uint8_t)rnd();
	for (unsigned i = 0; i < sizeof(v->dev); i++)
		v->dev[i] = (uint8_t)rnd();
	e = 0x2007;
	memcpy(v->ram + 0x1000, &e, 8);
	e = 0x3007;
	memcpy(v->ram + 0x2000, &e, 8);
	/* the PT: at 0x4000, or (rarely) at the device or nowhere: the walk cannot read it */
	e = (rnd() % 32 == 0 ? (rnd() & 1 ? DEV_GPA : NOTHING) : 0x4000) | 7;
	memcpy(v->ram + 0x3000, &e, 8);
	for (uint64_t p = 0; p < 16; p++) {
		e = p << 12 | 7;
		memcpy(v->ram + 0x4000 + p * 8, &e, 8);
	}
	for (uint64_t p = 0; p < NPAGES; p++) {
		unsigned pick = (unsigned)(rnd() % 8);
		uint64_t to = pick < 3	 ? (5 + rnd() % 11) << 12
			      : pick < 5 ? DEV_GPA + (rnd() % 2) * 4096
			      : pick < 6 ? NOTHING + (rnd() % 4) * 4096
					 : (5 + rnd() % 11) << 12;
		e = to | 1 | (rnd() % 4 ? 2 : 0) | (rnd() % 4 ? 4 : 0);
		if (pick == 7 && rnd() % 2)
			e &= ~1ull; /* not present */
		memcpy(v->ram + 0x4000 + (16 + p) * 8, &e, 8);
	}
	memset(&v->regs, 0, sizeof(v->regs));
	for (int i = 0; i < 16; i++)
		v->regs.gpr[i] = rnd();
	v->regs.gpr[0] = LA_BASE + rnd() % (NPAGES * 4096 - 8);
	if (rnd() % 2) /* near a page's end: accesses that cross into the next page */
		v->regs.gpr[0] = (v->regs.gpr[0] | 0xfff) - rnd() % 8;
	v->regs.rip = 0x8000;
	v->regs.rflags = 2;
	v->regs.cr0 = 0x80050033 & ~(rnd() % 2 ? 0x10000ull : 0); /* WP sometimes clear */
	v->regs.cr3 = 0x1000;
	v->regs.cr4 = 0x20;
	v->regs.efer = 0xd00;
	for (int s = 0; s < XG_EMU_X86_NSEG; s++) {
		struct xg_emu_x86_segment *g = &v->regs.seg[s];
		g->limit = 0xffffffffu;
		g->selector = (uint16_t)(s == XG_EMU_X86_CS ? 0x08 | cpl : 0x10 | cpl);
		g->type = s == XG_EMU_X86_CS ? 0xb : 0x3;
		g->s = g->present = g->g = 1;
		g->dpl = (uint8_t)cpl;
		g->l = s == XG_EMU_X86_CS;
		g->db = s != XG_EMU_X86_CS;
	}
	v->cr2 = 0;
	v->vector = -1;
	v->has_code = 0;
	v->code = 0;
	v->loglen = 0;
}

/* mov and add between RDX and (RAX) at each width: what an MMIO driver does */
static const struct {
	uint8_t n, b[10];
} insns[] = {
    {3, {0x48, 0x8b, 0x10}},	   /* mov (%rax),%rdx */
    {2, {0x8b, 0x10}},		   /* mov (%rax),%edx */
    {3, {0x66, 0x8b, 0x10}},	   /* mov (%rax),%dx */
    {2, {0x8a, 0x10}},		   /* mov (%rax),%dl */
    {3, {0x48, 0x89, 0x10}},	   /* mov %rdx,(%rax) */
    {2, {0x89, 0x10}},		   /* mov %edx,(%rax) */
    {3, {0x66, 0x89, 0x10}},	   /* mov %dx,(%rax) */
    {2, {0x88, 0x10}},		   /* mov %dl,(%rax) */
    {3, {0x48, 0x01, 0x10}},	   /* add %rdx,(%rax) */
    {4, {0x48, 0x0f, 0xb7, 0x10}}, /* movzwq (%rax),%rdx */
    /* the direct path's corners: AH-BH without REX, sign extension, immediates, moffs with
     * a 32-bit address (0x67) and a 64-bit one across a page */
    {2, {0x8a, 0x30}},					 /* mov (%rax),%dh */
    {2, {0x88, 0x38}},					 /* mov %bh,(%rax) */
    {3, {0x40, 0x88, 0x38}},				 /* mov %dil,(%rax) */
    {3, {0x0f, 0xbe, 0x10}},				 /* movsbl (%rax),%edx */
    {3, {0x48, 0x63, 0x10}},				 /* movslq (%rax),%rdx */
    {3, {0xc6, 0x00, 0x9c}},				 /* movb $0x9c,(%rax) */
    {7, {0x48, 0xc7, 0x00, 0x78, 0x56, 0x34, 0x82}},	 /* movq $-0x7dcba988,(%rax) */
    {6, {0x67, 0xa1, 0xf8, 0x0f, 0x01, 0x00}},		 /* mov 0x10ff8 (addr32),%eax */
    {10, {0x48, 0xa3, 0xfc, 0x1f, 0x01, 0, 0, 0, 0, 0}}, /* mov %rax,0x11ffc (moffs64) */
};

struct end {
	int rc;
	struct xg_emu_x86_regs regs;
	uint64_t cr2;
	int vector, has_code;
	uint32_t code;
	char log[4097];
	size_t loglen;
	uint8_t ram[RAM_SIZE], dev[8192];
};

static void run(struct vmm *v, const struct vmm *start, const struct xg_vcpu_ops *ops,
		const struct xg_exit *x, struct xg_emu_x86_memo *memo, struct end *e)
{
	struct xg_emu_x86_result res;
	char why[256];

	memcpy(v, start, sizeof(*v));
	if (ops->x86_kvm_regs)
		to_kvm(v);
	e->rc = xg_emulate_x86(ops, v, x, memo, &res, why, sizeof(why));
	if (ops->x86_kvm_regs)
		from_kvm(v);
	e->regs = v->regs;
	e->cr2 = v->cr2;
	e->vector = v->vector;
	e->has_code = v->has_code;
	e->code = v->code;
	memcpy(e->log, v->log, v->loglen);
	e->log[v->loglen] = 0;
	e->loglen = v->loglen;
	memcpy(e->ram, v->ram, RAM_SIZE);
	memcpy(e->dev, v->dev, sizeof(v->dev));
}

static int same(const struct end *a, const struct end *b)
{
	return a->rc == b->rc && !memcmp(a->regs.gpr, b->regs.gpr, sizeof(a->regs.gpr)) &&
	       a->regs.rip == b->regs.rip && a->regs.rflags == b->regs.rflags && a->cr2 == b->cr2 &&
	       a->vector == b->vector && a->has_code == b->has_code && a->code == b->code &&
	       a->loglen == b->loglen && !memcmp(a->log, b->log, a->loglen) &&
	       !memcmp(a->ram, b->ram, RAM_SIZE) && !memcmp(a->dev, b->dev, sizeof(a->dev));
}

int main(void)
{
	static struct vmm start, v;
	static struct end want, got;
	static struct xg_emu_x86_memo memo, dmemo;
	struct xg_emu_x86_memo *const memos[3] = {NULL, &memo, &dmemo};
	struct xg_vcpu_ops with = without, direct;
	uint64_t seed = xg_oracle_seed();
	unsigned bad[3] = {0}, faults = 0, devs = 0, nothing = 0, ram = 0, fails = 0;
	unsigned taken = 0, taken_dev = 0, taken_user = 0, taken_gpr = 0, bad_put = 0;
	static const char *const names[3] = {"with ram_ptr", "with ram_ptr and a memo",
					     "with ram_ptr, a memo and the direct path"};

	with.ram_ptr = o_ram_ptr;
	direct = with;
	direct.get_x86_regs = k_get_regs;
	direct.set_x86_regs = k_set_regs;
	direct.x86_kvm_regs = k_kvm_regs;
	direct.x86_kvm_regs_put = k_put;
	plan(5);
	diag("seed %" PRIu64 " (XG_SEED=%" PRIu64 " repeats this run)", seed, seed);
	rs = seed;
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct xg_exit x;
		unsigned k = (unsigned)(rnd() % (sizeof(insns) / sizeof(insns[0])));

		memset(&x, 0, sizeof(x));
		x.arch = XG_ARCH_X86_64;
		x.reason = 17;
		x.u.internal.suberror = 1;
		x.u.internal.has_insn = 1;
		x.u.internal.insn_size = insns[k].n;
		memcpy(x.u.internal.insn, insns[k].b, insns[k].n);
		build(&start, rnd() % 4 == 0 ? 3 : 0);
		run(&v, &start, &without, &x, NULL, &want);
		faults += want.vector >= 0;
		fails += want.rc != 0;
		devs += strstr(want.log, "dev ") != NULL;
		nothing += strstr(want.log, "nothing ") != NULL;
		ram += want.rc == 0 && want.vector < 0 && !want.loglen;
		for (int i = 0; i < 3; i++) {
			run(&v, &start, i == 2 ? &direct : &with, &x, memos[i], &got);
			if (!same(&got, &want) && bad[i]++ < 3)
				diag("%s differs: seed %" PRIu64 " round %u, insn %u, rax %#" PRIx64
				     ": rc %d/%d vector %d/%d log '%.*s' / '%.*s'",
				     names[i], seed, round, k, start.regs.gpr[0], got.rc, want.rc,
				     got.vector, want.vector, (int)got.loglen, got.log,
				     (int)want.loglen, want.log);
		}
		/* the direct path took it: no get_x86_regs (the pipeline's first call) */
		if (!v.get_regs) {
			int gpr = memcmp(got.regs.gpr, start.regs.gpr, sizeof(got.regs.gpr)) != 0;
			taken++;
			taken_dev += strstr(got.log, "dev ") != NULL;
			taken_user += (start.regs.seg[XG_EMU_X86_SS].dpl == 3);
			taken_gpr += gpr;
			if (((gpr && !v.put_gprs) || (got.regs.rip != start.regs.rip && !v.puts)) &&
			    bad_put++ < 3)
				diag("direct path, round %u insn %u: registers written with puts "
				     "%u, "
				     "gprs %u",
				     round, k, v.puts, v.put_gprs);
		}
	}
	diag("rounds: %u #PF, %u refused (a table not in RAM), %u reached the device, %u nothing "
	     "there, %u RAM only; the memo's short path ran %" PRIu64 " times; the direct path "
	     "took %u (%u on the device, %u at CPL 3, %u writing a GPR)",
	     faults, fails, devs, nothing, ram, memo.hits, taken, taken_dev, taken_user, taken_gpr);
	ok(!bad[0], "%s: %u rounds end as without it", names[0], ROUNDS);
	ok(!bad[1], "%s: %u rounds end as without it", names[1], ROUNDS);
	ok(!bad[2], "%s: %u rounds end as without it", names[2], ROUNDS);
	ok(!bad_put, "the direct path puts RIP, and says so when it writes a GPR");
	ok(faults > 500 && fails > 100 && devs > 1000 && nothing > 500 && ram > 1000 &&
	       memo.hits > 1000 && taken > 1000 && taken_dev > 200 && taken_user > 200 &&
	       taken_gpr > 200,
	   "every kind of access is reached often, the memo's short path and the direct path");
	return done_testing();
}
