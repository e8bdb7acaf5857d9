/*
 * t_emu_direct_adv.c - adversarial cases for the memo's direct path (xg_emu_x86_memo_direct),
 * written apart from its random differential test (t_emu_direct.c): scripted runs of exits
 * that a random machine reaches too rarely, against the memo's short path, which is the
 * reference (xg_emu_x86.h: the direct path's outcome is xg_emu_x86_emulate_memo()'s in every
 * case it takes, its bookkeeping included).
 *
 * Two identical machines take each exit. A goes through xg_emu_x86_emulate_memo() alone; B
 * first through the direct path and, where that declines, through xg_emu_x86_emulate_memo()
 * with its own memo. Both keep their registers in KVM's layout (as kvm_run carries them) and
 * a VMM's XSAVE handling like the KVM backend's: an image lent as explicit, read again from
 * the vCPU only after a discard or a new exit. After every exit everything is compared: the
 * status, stage and exception, the registers, the vector state the VMM would use next (its
 * lent image, or the vCPU's after a discard), memory, the device's side effects, and the two
 * memos field by field (the keys, each entry's class, use count and hand-overs, the tick,
 * hits, misses, compiles and hand-overs).
 *
 *   park:  an entry handed over XG_EMU_X86_MEMO_PARK times in a row (a non-canonical
 *          address) is parked; the plain state back, the direct path must leave it parked
 *          (no hit counted) until its use count has aged out and it is compiled again;
 *   lfu:   more instructions than the memo holds, in a cycle and with one-offs, over many
 *          windows: the direct path's hits must age and keep entries as the short path's;
 *   modes: the same bytes in compatibility mode between 64-bit exits;
 *   zmm:   a VEX load into XMM1/YMM1 on a vCPU whose ZMM_Hi256 is in use and not zero: it
 *          zeroes ZMM1 bits 511:256 (SDM Vol. 2 2.3.10.1), and leaves opmask and Hi16_ZMM;
 *   fail:  a VEX load whose set_xsave fails on a VMM that relies on discard_xsave (exitgate.h
 *          lend_xsave): the image it changed and could not write must be discarded, so that
 *          the next exit (a store of the same register) sees the vCPU's value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "xg_emu_x86.h"

#define NPAGE	4
#define LA0	0x40000ull  /* the linear pages */
#define GPA0	0x900000ull /* and where they are */
#define DEVPAGE 3	    /* a device; the others RAM */
#define XS	XG_EMU_X86_XSAVE_SIZE

struct mach {
	struct xg_emu_x86_kvm_regs kr;
	struct xg_emu_x86_kvm_sregs ks;
	uint64_t xcr0;
	uint8_t vcpu[XS] __attribute__((aligned(64))); /* the vCPU's vector state (explicit) */
	uint8_t img[XS] __attribute__((aligned(64)));  /* the VMM's lent buffer */
	int fresh;				       /* img is the vCPU's, as lent */
	int fail_setxs;
	uint8_t mem[NPAGE * 4096];
	uint64_t dev_reads, dev_hash;
	int vector; /* injected, -1 none */
	struct xg_emu_x86_memo memo;
	struct xg_emu_x86_result res;
	int taken; /* B: the direct path took the last exit */
};

static struct mach A, B;

static const uint8_t kvm_of[16] = {0, 2, 3, 1, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
	return h;
}

/* The page of la (or -1), and whether this access may go there (SDM Vol. 3A 4.6: user
 * pages for CPL 3; a read-only page takes no write at CPL 3 or with CR0.WP; here all pages
 * are user and writable but for what a case changes) */
static int page_of(uint64_t la)
{
	return la >= LA0 && la < LA0 + NPAGE * 4096ull ? (int)((la - LA0) >> 12) : -1;
}

static int m_translate_at(uint64_t la, uint64_t *gpa)
{
	int p = page_of(la);

	if (p < 0)
		return 1;
	*gpa = GPA0 + (la - LA0);
	return 0;
}

static int m_read_at(struct mach *m, uint64_t gpa, void *buf, unsigned size)
{
	uint64_t off = gpa - GPA0;

	if ((off >> 12) == DEVPAGE) {
		for (unsigned i = 0; i < size; i++)
			((uint8_t *)buf)[i] = (uint8_t)(m->dev_reads * 37 + off + i);
		m->dev_reads++;
		m->dev_hash = fnv(m->dev_hash ^ (off << 8), buf, size);
		return 0;
	}
	memcpy(buf, m->mem + off, size);
	return 0;
}

static int m_write_at(struct mach *m, uint64_t gpa, const void *buf, unsigned size)
{
	uint64_t off = gpa - GPA0;

	if ((off >> 12) == DEVPAGE) {
		m->dev_hash = fnv(m->dev_hash ^ (off << 8) ^ 1, buf, size);
		return 0;
	}
	memcpy(m->mem + off, buf, size);
	return 0;
}

/* ---- the XSAVE image, as the KVM backend handles it (ops.c) ---- */

static int m_lend(void *o, void **buf)
{
	struct mach *m = o;

	if (!m->fresh) {
		memcpy(m->img, m->vcpu, XS);
		m->fresh = 1;
	}
	*buf = m->img;
	return XG_EMU_X86_LENT_EXPLICIT;
}

static int m_set_xsave(void *o, const void *buf)
{
	struct mach *m = o;

	if (m->fail_setxs)
		return -EIO; /* the image stays as it was changed: discard_xsave's to undo */
	memcpy(m->vcpu, buf, XS);
	return 0;
}

static int m_get_xsave(void *o, void *buf)
{
	memcpy(buf, ((struct mach *)o)->vcpu, XS);
	return 0;
}

static int m_discard(void *o)
{
	((struct mach *)o)->fresh = 0;
	return 0;
}

/* ---- the emulator's ops, on the KVM-layout registers ---- */

static int e_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct mach *m = o;
	const uint64_t *q = &m->kr.rax;

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 16; i++)
		r->gpr[i] = q[kvm_of[i]];
	r->rip = m->kr.rip;
	r->rflags = m->kr.rflags;
	r->seg[XG_EMU_X86_CS] = m->ks.cs;
	r->seg[XG_EMU_X86_DS] = m->ks.ds;
	r->seg[XG_EMU_X86_ES] = m->ks.es;
	r->seg[XG_EMU_X86_FS] = m->ks.fs;
	r->seg[XG_EMU_X86_GS] = m->ks.gs;
	r->seg[XG_EMU_X86_SS] = m->ks.ss;
	r->cr0 = m->ks.cr0, r->cr2 = m->ks.cr2, r->cr3 = m->ks.cr3, r->cr4 = m->ks.cr4;
	r->efer = m->ks.efer;
	r->xcr0 = m->xcr0;
	r->vendor = (uint8_t)xg_emu_x86_host_vendor();
	return 0;
}

static int e_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	struct mach *m = o;
	uint64_t *q = &m->kr.rax;

	for (int i = 0; i < 16; i++)
		q[kvm_of[i]] = r->gpr[i];
	m->kr.rip = r->rip;
	m->kr.rflags = r->rflags;
	return 0;
}

static int e_translate(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		       uint32_t *err)
{
	uint64_t gpa;

	(void)o, (void)kind, (void)cpl;
	if (m_translate_at(la, &gpa)) {
		*err = 0;
		return 1;
	}
	return 0;
}

static int e_read(void *o, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	uint64_t gpa;

	(void)kind;
	return m_translate_at(la, &gpa) ? -EFAULT : m_read_at(o, gpa, buf, size);
}

static int e_write(void *o, uint64_t la, const void *buf, unsigned size)
{
	uint64_t gpa;

	return m_translate_at(la, &gpa) ? -EFAULT : m_write_at(o, gpa, buf, size);
}

static int e_inject(void *o, const struct xg_emu_x86_exception *exc)
{
	((struct mach *)o)->vector = exc->vector;
	return 0;
}

static const struct xg_emu_x86_ops eops = {
    .get_regs = e_get_regs,
    .set_regs = e_set_regs,
    .get_xsave = m_get_xsave,
    .set_xsave = m_set_xsave,
    .translate = e_translate,
    .read = e_read,
    .write = e_write,
    .inject = e_inject,
    .lend_xsave = m_lend,
    .discard_xsave = m_discard,
};

/* ---- the direct path's ops ---- */

static int d_translate(void *o, const struct xg_emu_x86_regs *paging, uint64_t la, unsigned kind,
		       unsigned cpl, uint64_t *gpa)
{
	(void)o, (void)paging, (void)kind, (void)cpl;
	return m_translate_at(la, gpa);
}

static int d_read(void *o, uint64_t gpa, void *buf, unsigned size)
{
	return m_read_at(o, gpa, buf, size);
}

static int d_write(void *o, uint64_t gpa, const void *buf, unsigned size)
{
	return m_write_at(o, gpa, buf, size);
}

static void d_put(void *o, int gprs)
{
	(void)o, (void)gprs;
}

static const struct xg_emu_x86_direct_ops dops = {
    .translate = d_translate,
    .read = d_read,
    .write = d_write,
    .lend_xsave = m_lend,
    .set_xsave = m_set_xsave,
    .discard_xsave = m_discard,
    .regs_put = d_put,
};

/* ---- machines and exits ---- */

static void seg(struct xg_emu_x86_segment *s, int code, int l, unsigned cpl)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffffu;
	s->type = code ? 0xb : 0x3;
	s->s = s->present = s->g = 1;
	s->dpl = (uint8_t)cpl;
	s->l = (uint8_t)l;
	s->db = !l;
}

/* 64-bit mode, CPL 0; RAM filled with a pattern, XMM/YMM/ZMM with another, all in use */
static void boot(struct mach *m)
{
	uint64_t *q = &m->kr.rax, bv = 0xe7;

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < 16; i++)
		q[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
	m->kr.rip = 0x1000;
	m->kr.rflags = 2;
	seg(&m->ks.cs, 1, 1, 0);
	seg(&m->ks.ss, 0, 0, 0);
	seg(&m->ks.ds, 0, 0, 0);
	seg(&m->ks.es, 0, 0, 0);
	seg(&m->ks.fs, 0, 0, 0);
	seg(&m->ks.gs, 0, 0, 0);
	m->ks.cr0 = 0x80050033;
	m->ks.cr4 = 0x40620; /* PAE, OSFXSR, OSXMMEXCPT, OSXSAVE */
	m->ks.efer = 0xd00;
	m->xcr0 = 0xe7;
	for (size_t i = 0; i < sizeof(m->mem); i++)
		m->mem[i] = (uint8_t)(i * 131 + (i >> 8) * 71 + 7); /* not periodic in 256 */
	for (unsigned i = 0; i < XS; i++)
		m->vcpu[i] = (uint8_t)(i * 29 + 3);
	memset(m->vcpu + 512, 0, 64); /* the header */
	memcpy(m->vcpu + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
	m->vcpu[XG_EMU_X86_XS_FCW] = 0x7f, m->vcpu[XG_EMU_X86_XS_FCW + 1] = 0x03;
	m->vcpu[24] = 0x80, m->vcpu[25] = 0x1f, m->vcpu[26] = m->vcpu[27] = 0; /* MXCSR */
	m->vector = -1;
}

/* The exit's state on both machines: RIP, and RAX (the address) */
static void state(uint64_t rax)
{
	A.kr.rax = B.kr.rax = rax;
	A.kr.rip = B.kr.rip = 0x1000;
	/* a new exit: the backend reads KVM's image again (xsave_fresh, kvm.c) */
	A.fresh = B.fresh = 0;
	A.vector = B.vector = -1;
}

static void exit_on(const uint8_t *bytes, size_t n)
{
	struct xg_emu_x86_direct d = {
	    .regs = &B.kr, .sregs = &B.ks, .xcr0 = B.xcr0, .ops = &dops, .opaque = &B};

	memset(&A.res, 0, sizeof(A.res));
	memset(&B.res, 0, sizeof(B.res));
	xg_emu_x86_emulate_memo(&eops, &A, bytes, n, &A.memo, &A.res);
	B.taken = xg_emu_x86_memo_direct(&B.memo, bytes, n, &d, &B.res);
	if (!B.taken)
		xg_emu_x86_emulate_memo(&eops, &B, bytes, n, &B.memo, &B.res);
}

/* What differs between A and B, or NULL */
static const char *differs(void)
{
	const uint8_t *ia = A.fresh ? A.img : A.vcpu, *ib = B.fresh ? B.img : B.vcpu;

	if (A.res.status != B.res.status || A.res.stage != B.res.stage ||
	    A.res.exc.vector != B.res.exc.vector || A.vector != B.vector)
		return "status, stage or exception";
	if (memcmp(&A.kr, &B.kr, sizeof(A.kr)))
		return "registers";
	if (memcmp(A.vcpu, B.vcpu, XS))
		return "the vCPU's vector state";
	if (memcmp(ia, ib, XS))
		return "the vector state the VMM uses next (lent image or a discard)";
	if (memcmp(A.mem, B.mem, sizeof(A.mem)) || A.dev_reads != B.dev_reads ||
	    A.dev_hash != B.dev_hash)
		return "memory or the device";
	if (A.memo.tick != B.memo.tick || A.memo.hits != B.memo.hits ||
	    A.memo.misses != B.memo.misses || A.memo.compiles != B.memo.compiles ||
	    A.memo.handovers != B.memo.handovers)
		return "the memo's counters (tick, hits, misses, compiles, hand-overs)";
	for (int i = 0; i < XG_EMU_X86_MEMO_ENTRIES; i++) {
		const struct xg_emu_x86_memo_entry *a = &A.memo.ent[i], *b = &B.memo.ent[i];
		if (A.memo.key[i].len != B.memo.key[i].len ||
		    memcmp(A.memo.key[i].bytes, B.memo.key[i].bytes, A.memo.key[i].len))
			return "the memo's keys";
		if (A.memo.key[i].len &&
		    (a->mode != b->mode || a->real != b->real || a->cls != b->cls ||
		     a->size != b->size || a->reg != b->reg || a->use != b->use ||
		     a->handover != b->handover))
			return "a memo entry (mode, class, use count or hand-overs)";
	}
	return NULL;
}

static unsigned taken, exits, bad;

/* One exit on both machines, compared; 0 when they agree */
static int step(const char *name, unsigned i, const uint8_t *bytes, size_t n)
{
	const char *what;

	exit_on(bytes, n);
	exits++;
	taken += B.taken;
	what = differs();
	if (what && bad++ < 5) {
		char hex[3 * 15 + 1] = "";
		size_t k, at = 0;

		for (k = 0; k < n && k < 15; k++)
			at += snprintf(hex + at, sizeof(hex) - at, "%s%02x", k ? " " : "", bytes[k]);
		diag("%s, exit %u (%s, direct %s): %s differs", name, i, hex,
		     B.taken ? "took it" : "declined", what);
		diag("  A: status %d stage %d hits %" PRIu64 " misses %" PRIu64 " tick %u",
		     A.res.status, A.res.stage, A.memo.hits, A.memo.misses, A.memo.tick);
		diag("  B: status %d stage %d hits %" PRIu64 " misses %" PRIu64 " tick %u",
		     B.res.status, B.res.stage, B.memo.hits, B.memo.misses, B.memo.tick);
	}
	return what != NULL;
}

static const uint8_t mov_load[] = {0x48, 0x8b, 0x18}; /* mov (%rax),%rbx */

/* parked, aged out, compiled again: the direct path's hits are the short path's */
static void case_park(void)
{
	unsigned i = 0, fails = 0, parked_taken = 0;
	int was_parked = 0, unparked = 0;

	boot(&A), boot(&B);
	for (; i < 2; i++) { /* compiled, then a hit */
		state(LA0 + 8);
		fails += step("park", i, mov_load, sizeof(mov_load));
	}
	for (; i < 2 + XG_EMU_X86_MEMO_PARK; i++) { /* non-canonical: #GP, handed over */
		state(0x0000800000000000ull);
		fails += step("park", i, mov_load, sizeof(mov_load));
	}
	for (; i < 2 + XG_EMU_X86_MEMO_PARK + 6 * XG_EMU_X86_MEMO_WINDOW; i++) {
		int parked = A.memo.ent[0].handover >= XG_EMU_X86_MEMO_PARK;
		state(LA0 + 16);
		was_parked |= parked;
		fails += step("park", i, mov_load, sizeof(mov_load));
		parked_taken += parked && B.taken;
		unparked |= was_parked && B.taken;
	}
	ok(!fails && was_parked && unparked && !parked_taken,
	   "park: an entry parked by %d hand-overs is left to the pipeline by the direct path too, "
	   "and taken again once compiled anew (%u exits, %u differ)",
	   XG_EMU_X86_MEMO_PARK, i, fails);
}

/* six instructions in a cycle and one-offs now and then, over many windows */
static void case_lfu(void)
{
	static const struct {
		uint8_t n, b[3];
	} insns[] = {
	    {2, {0x8b, 0x18}},	     /* mov (%rax),%ebx */
	    {2, {0x8b, 0x08}},	     /* mov (%rax),%ecx */
	    {2, {0x89, 0x10}},	     /* mov %edx,(%rax) */
	    {2, {0x8a, 0x20}},	     /* mov (%rax),%ah */
	    {2, {0x88, 0x38}},	     /* mov %bh,(%rax) */
	    {3, {0x66, 0x8b, 0x30}}, /* mov (%rax),%si */
	};
	unsigned fails = 0, n = 0;

	boot(&A), boot(&B);
	for (unsigned i = 0; i < 20 * XG_EMU_X86_MEMO_WINDOW; i++) {
		unsigned k = i % 6;
		state(LA0 + 8 * (i % 64) + (i % 3 == 0 ? 3 * 4096 : 0)); /* RAM or the device */
		fails += step("lfu", i, insns[k].b, insns[k].n);
		n++;
		if (i % 7 == 3) { /* a one-off: movzbl disp8(%rax),%edx, a new displacement */
			uint8_t once[4] = {0x0f, 0xb6, 0x50, (uint8_t)i};
			state(LA0 + 0x100);
			fails += step("lfu", i, once, sizeof(once));
			n++;
		}
	}
	ok(!fails,
	   "lfu: %u exits of more instructions than the memo holds: the same entries, "
	   "use counts and counters (%u differ)",
	   n, fails);
}

/* the same bytes in compatibility mode between 64-bit exits */
static void case_modes(void)
{
	unsigned fails = 0, i;

	boot(&A), boot(&B);
	for (i = 0; i < 3 * XG_EMU_X86_MEMO_WINDOW; i++) {
		int compat = i % 5 == 2;
		A.ks.cs.l = B.ks.cs.l = !compat;
		A.ks.cs.db = B.ks.cs.db = compat;
		state(LA0 + 24);
		fails += step("modes", i, mov_load + 1, 2); /* mov (%rax),%ebx / (%eax) */
	}
	A.ks.cs.l = B.ks.cs.l = 1;
	A.ks.cs.db = B.ks.cs.db = 0;
	ok(!fails,
	   "modes: an entry of one mode met in the other: the same memo (%u exits, %u differ)", i,
	   fails);
}

static int zmm1_upper_zero(const struct mach *m)
{
	const uint8_t *xs = m->fresh ? m->img : m->vcpu;
	uint8_t z[32] = {0};

	return !memcmp(xs + XG_EMU_X86_XS_ZMMH + 32, z, 32);
}

/* VEX loads into XMM1 and YMM1 with ZMM_Hi256 in use and ZMM1's upper bits set */
static void case_zmm(void)
{
	static const uint8_t vex128[] = {0xc5, 0xfa, 0x6f, 0x08}; /* vmovdqu (%rax),%xmm1 */
	static const uint8_t vex256[] = {0xc5, 0xfe, 0x6f, 0x08}; /* vmovdqu (%rax),%ymm1 */
	unsigned fails = 0, zeroed = 0, direct = 0;

	boot(&A), boot(&B);
	for (unsigned i = 0; i < 12; i++) {
		const uint8_t *insn = i < 6 ? vex128 : vex256;
		/* the guest's AVX-512 code set ZMM1[511:256] again since the last exit */
		memset(A.vcpu + XG_EMU_X86_XS_ZMMH + 32, 0xa5 + (int)i, 32);
		memset(B.vcpu + XG_EMU_X86_XS_ZMMH + 32, 0xa5 + (int)i, 32);
		state(LA0 + 64 * i + (i % 2 ? 3 * 4096 : 0));
		fails += step("zmm", i, insn, 4);
		direct += B.taken;
		zeroed += B.taken && zmm1_upper_zero(&B) && B.res.status == XG_EMU_X86_OK;
	}
	ok(!fails && direct >= 8 && zeroed == direct,
	   "zmm: VEX loads zero ZMM1[511:256] in use, as the short path (%u taken, %u zeroed, "
	   "%u differ)",
	   direct, zeroed, fails);
}

/* set_xsave fails after the direct path changed the lent image: it must be discarded */
static void case_fail(void)
{
	static const uint8_t load[] = {0xc5, 0xfa, 0x6f, 0x08};	 /* vmovdqu (%rax),%xmm1 */
	static const uint8_t store[] = {0xc5, 0xfa, 0x7f, 0x08}; /* vmovdqu %xmm1,(%rax) */
	unsigned fails = 0;
	int failed_taken;

	boot(&A), boot(&B);
	for (unsigned i = 0; i < 2; i++) { /* compiled, then a hit */
		state(LA0 + 0x200);
		fails += step("fail", i, load, sizeof(load));
	}
	/* the load again, its set_xsave failing, then the store within the same exit's image:
	 * no KVM_RUN between (fresh kept), as a VMM that retries at once would */
	state(LA0 + 0x300);
	A.fail_setxs = B.fail_setxs = 1;
	fails += step("fail", 2, load, sizeof(load));
	failed_taken = B.taken && B.res.status == XG_EMU_X86_ERROR;
	A.fail_setxs = B.fail_setxs = 0;
	A.kr.rax = B.kr.rax = LA0 + 0x400;
	A.vector = B.vector = -1;
	fails += step("fail", 3, store, sizeof(store));
	fails += step("fail", 4, store, sizeof(store));
	ok(!fails && failed_taken,
	   "fail: set_xsave failing after the direct path changed the lent image: discarded, "
	   "the next store sees the vCPU's XMM1 (%u differ)",
	   fails);
}

int main(void)
{
	plan(6);
	case_park();
	case_lfu();
	case_modes();
	case_zmm();
	case_fail();
	diag("%u exits, the direct path took %u", exits, taken);
	ok(taken > exits / 2, "the direct path took most of them (%u of %u)", taken, exits);
	return done_testing();
}
