/*
 * t_emu_direct.c - the memo's direct path (xg_emu_x86_memo_direct, core/emu/x86/
 * xg_emu_x86_fast.c) against the pipeline (xg_emu_x86_emulate), which is the reference.
 *
 * Two identical random machines take every exit. A goes through the pipeline, with its
 * registers in xg_emu_x86_regs. B keeps its registers where a KVM VMM has them (struct
 * kvm_regs and the start of kvm_sregs: xg_emu_x86_kvm_regs/_sregs) and one memo for the whole
 * case; each exit goes first to the direct path (page walk to a GPA, access by GPA, the
 * VMM's XSAVE image lent) and, when that declines, to xg_emu_x86_emulate_memo() with ops that
 * read and write the same KVM-layout registers. After every exit the machines are compared:
 * status, stage, reason, the registers, the vector state (component by component, and
 * XSTATE_BV), guest RAM, and the device's side effects (each MMIO access in order, with its
 * GPA, size and data). The ops calls are not compared: the direct path makes other ones.
 *
 * The machine (modelled on t_emu_memo's): 64-bit mode mostly, else compatibility, 32- and
 * 16-bit protected, real and virtual-8086 mode; CPL, CR0.EM/TS/AM/WP, CR4.OSFXSR/OSXSAVE/
 * LA57, XCR0, RFLAGS.AC/RF, segment bases and GPRs (in 64-bit mode bases a few pages below the
 * target and half the GPRs in the window, so that a base left out or added, or a register
 * mistaken for another, still lands on a mapped page), two page tables chosen by CR3, pages
 * present or not, writable or not, user or not, RAM or a device whose reads have a side
 * effect. The walk, as the CPU's, looks at bits 47:0 of a linear address only (56:0 with
 * LA57): the pages either side of 2^47 and 2^56 are mapped, so a non-canonical address has a
 * translation and only the canonical check stops it. Between the exits of a case the machine
 * changes, so that an entry compiled under one state meets another; the VMM's lend of its XSAVE
 * image is explicit, plain or refused per exit, and now and then an op fails with -EIO.
 *
 * Checked besides the comparison: a direct path that declines has changed nothing (no
 * register, no access, no set_xsave, its lent image as it was); one that takes is in 64-bit
 * mode on no EVEX instruction, has added no XSTATE_BV bit to an image lent as not explicit,
 * and wrote no register before regs_put (nor a GPR after regs_put(0)). Three cases are also
 * set up by hand: a plain lend where a component must be added (not taken), a device read
 * failing with -EIO (taken, ERROR, the device read once), and entries met outside 64-bit
 * mode or of EVEX (not taken).
 *
 * Seeded: the seed is printed; XG_SEED=n reproduces, XG_SEED=random draws one, XG_CASES=n
 * sets the number of cases (default 20,000), XG_CASE=i runs case i alone and prints each
 * exit. A mismatch prints the seed, the case, the exit and the bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle_rand.h"
#include "tap.h"
#include "xg_emu_x86.h"

#define WIN	0x40000ull /* the window of pages, linear */
#define NWIN	16
#define NSLOT	(NWIN + 8) /* and 4 pages either side of 2^47 and of 2^56 */
#define NGPA	NSLOT	   /* guest-physical pages, at GPA0 */
#define GPA0	0x100000ull
#define CODE_LA 0x20000ull /* where fetches read (not in the walk) */
#define DEVLOG	16
#define XS	XG_EMU_X86_XSAVE_SIZE

#define WIN_PAGES NWIN
#include "memo_gen.h" /* after WIN */

#define RFL_RF (1ull << 16)
#define CR0_WP (1ull << 16)

/* How the VMM lends its XSAVE image (L_GETSET: A has no lend_xsave), and which op fails */
enum { L_GETSET, L_PLAIN, L_EXPLICIT, L_NOTSUP };
enum { F_NONE, F_DEVREAD, F_DEVWRITE, F_READ, F_WRITE, F_TRANS, F_SETXS, F_GETXS, F_N };

struct pte {
	uint8_t page, p, rw, us;
};

struct devrec {
	uint8_t write, size;
	int16_t rc;
	uint64_t gpa, h;
};

struct machine {
	int kvm; /* B: its registers are kr, ks and xcr0; A's are r */
	struct xg_emu_x86_regs r;
	struct xg_emu_x86_kvm_regs kr;
	struct xg_emu_x86_kvm_sregs ks;
	uint64_t xcr0;
	/* the vCPU's vector state, and the VMM's copy of it that it lends */
	uint8_t xs[XS] __attribute__((aligned(64)));
	uint8_t vmm[XS] __attribute__((aligned(64)));
	int vmm_valid, lend, fail;
	uint8_t ram[NGPA * 4096];
	uint8_t code[4096];
	uint8_t mmio[NGPA];
	struct pte pt[2][NSLOT];
	uint64_t dev_count; /* the device's state: reads so far */
	struct devrec dev[DEVLOG];
	unsigned ndev, dev_over, ninject;
	struct xg_emu_x86_exception inj;
	/* what the direct path did */
	unsigned c_lend, c_read, c_write, c_setxs, c_discard, c_put, put_gprs, put_early, bad_kind;
	uint64_t lend_h;
	struct xg_emu_x86_kvm_regs kr_before;
};

static struct machine A, B;

/* ---- KVM's layouts, by name: encoding order vs kvm_regs', ES CS SS DS FS GS vs kvm_sregs' */

static const size_t kgpr_off[16] = {
    offsetof(struct xg_emu_x86_kvm_regs, rax), offsetof(struct xg_emu_x86_kvm_regs, rcx),
    offsetof(struct xg_emu_x86_kvm_regs, rdx), offsetof(struct xg_emu_x86_kvm_regs, rbx),
    offsetof(struct xg_emu_x86_kvm_regs, rsp), offsetof(struct xg_emu_x86_kvm_regs, rbp),
    offsetof(struct xg_emu_x86_kvm_regs, rsi), offsetof(struct xg_emu_x86_kvm_regs, rdi),
    offsetof(struct xg_emu_x86_kvm_regs, r8),  offsetof(struct xg_emu_x86_kvm_regs, r9),
    offsetof(struct xg_emu_x86_kvm_regs, r10), offsetof(struct xg_emu_x86_kvm_regs, r11),
    offsetof(struct xg_emu_x86_kvm_regs, r12), offsetof(struct xg_emu_x86_kvm_regs, r13),
    offsetof(struct xg_emu_x86_kvm_regs, r14), offsetof(struct xg_emu_x86_kvm_regs, r15)};
static const size_t kseg_off[XG_EMU_X86_NSEG] = {
    offsetof(struct xg_emu_x86_kvm_sregs, es), offsetof(struct xg_emu_x86_kvm_sregs, cs),
    offsetof(struct xg_emu_x86_kvm_sregs, ss), offsetof(struct xg_emu_x86_kvm_sregs, ds),
    offsetof(struct xg_emu_x86_kvm_sregs, fs), offsetof(struct xg_emu_x86_kvm_sregs, gs)};

static uint64_t *kgpr(struct xg_emu_x86_kvm_regs *k, unsigned i)
{
	return (uint64_t *)((char *)k + kgpr_off[i]);
}

static struct xg_emu_x86_segment *kseg(struct xg_emu_x86_kvm_sregs *s, unsigned i)
{
	return (struct xg_emu_x86_segment *)((char *)s + kseg_off[i]);
}

static void to_kvm(struct machine *m, const struct xg_emu_x86_regs *r)
{
	for (unsigned i = 0; i < 16; i++)
		*kgpr(&m->kr, i) = r->gpr[i];
	m->kr.rip = r->rip;
	m->kr.rflags = r->rflags;
	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++)
		*kseg(&m->ks, i) = r->seg[i];
	m->ks.cr0 = r->cr0, m->ks.cr2 = r->cr2, m->ks.cr3 = r->cr3, m->ks.cr4 = r->cr4;
	m->ks.efer = r->efer;
	m->xcr0 = r->xcr0;
}

static void from_kvm(struct machine *m, struct xg_emu_x86_regs *r)
{
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < 16; i++)
		r->gpr[i] = *kgpr(&m->kr, i);
	r->rip = m->kr.rip;
	r->rflags = m->kr.rflags;
	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++)
		r->seg[i] = *kseg(&m->ks, i);
	r->cr0 = m->ks.cr0, r->cr2 = m->ks.cr2, r->cr3 = m->ks.cr3, r->cr4 = m->ks.cr4;
	r->efer = m->ks.efer;
	r->xcr0 = m->xcr0;
	r->vendor = XG_EMU_X86_VENDOR_HOST;
}

/* ---- memory: a page walk of the model, RAM and a device by GPA ---- */

/* The slot of a walked address's page, or -1: the window, the pages either side of 2^47
 * and of 2^56 (where canonical and non-canonical addresses meet). */
static int slot_of(uint64_t w)
{
	uint64_t vpn = w >> 12;

	if (vpn - (WIN >> 12) < NWIN)
		return (int)(vpn - (WIN >> 12));
	if (vpn - ((1ull << 35) - 2) < 4)
		return NWIN + (int)(vpn - ((1ull << 35) - 2));
	if (vpn - ((1ull << 44) - 2) < 4)
		return NWIN + 4 + (int)(vpn - ((1ull << 44) - 2));
	return -1;
}

/*
 * A 4- or 5-level walk's verdict: the linear address's bits 47:0 (56:0 with CR4.LA57) pick
 * the page whatever the bits above (SDM Vol. 3A 4.5: canonicality is checked before, not by
 * the walk), CR3 picks the table, and the #PF error code is P, W/R, U/S, I/D (4.7). A
 * supervisor write to a read-only page faults only with CR0.WP (4.6.1).
 */
static int walk(const struct machine *m, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t la,
		int write, unsigned cpl, uint64_t *gpa, uint32_t *err)
{
	uint64_t w = la & ((cr4 & (1ull << 12)) ? (1ull << 57) - 1 : (1ull << 48) - 1);
	int s = slot_of(w);
	const struct pte *p = s < 0 ? NULL : &m->pt[(cr3 >> 12) & 1][s];
	uint32_t e = (write ? 2u : 0) | (cpl == 3 ? 4u : 0);

	if (!p || !p->p) {
		*err = e;
		return 1;
	}
	if ((write && !p->rw && (cpl == 3 || (cr0 & CR0_WP))) || (cpl == 3 && !p->us)) {
		*err = e | 1;
		return 1;
	}
	*gpa = GPA0 + p->page * 4096ull + (la & 4095);
	return 0;
}

static void devlog(struct machine *m, int write, uint64_t gpa, unsigned size, int rc, uint64_t h)
{
	struct devrec *d;

	if (m->ndev >= DEVLOG) {
		m->dev_over++;
		return;
	}
	d = &m->dev[m->ndev++];
	memset(d, 0, sizeof(*d));
	d->write = (uint8_t)write;
	d->size = (uint8_t)size;
	d->rc = (int16_t)rc;
	d->gpa = gpa;
	d->h = h;
}

static int acc_read(struct machine *m, uint64_t gpa, void *buf, unsigned size)
{
	uint64_t pg = (gpa - GPA0) >> 12;
	int rc;

	if (gpa < GPA0 || pg >= NGPA || (gpa & 4095) + size > 4096 || size > 64)
		return -EFAULT;
	if (m->mmio[pg]) {
		/* a device register: what it reads depends on how often it was read, and a
		 * read that fails has reached it all the same */
		rc = m->fail == F_DEVREAD || m->fail == F_READ ? -EIO : 0;
		for (unsigned i = 0; !rc && i < size; i++)
			((uint8_t *)buf)[i] = (uint8_t)(m->dev_count * 31 + i + (gpa & 0xff));
		m->dev_count++;
		devlog(m, 0, gpa, size, rc, rc ? 0 : hash(buf, size));
		return rc;
	}
	if (m->fail == F_READ)
		return -EIO;
	memcpy(buf, m->ram + (gpa - GPA0), size);
	return 0;
}

static int acc_write(struct machine *m, uint64_t gpa, const void *buf, unsigned size)
{
	uint64_t pg = (gpa - GPA0) >> 12;
	int rc;

	if (gpa < GPA0 || pg >= NGPA || (gpa & 4095) + size > 4096 || size > 64)
		return -EFAULT;
	if (m->mmio[pg]) {
		rc = m->fail == F_DEVWRITE || m->fail == F_WRITE ? -EIO : 0;
		devlog(m, 1, gpa, size, rc, hash(buf, size));
		return rc;
	}
	if (m->fail == F_WRITE)
		return -EIO;
	memcpy(m->ram + (gpa - GPA0), buf, size);
	return 0;
}

/* ---- the emulator's ops (A's on r, B's on the KVM layouts) ---- */

static void paging_of(const struct machine *m, uint64_t *cr0, uint64_t *cr3, uint64_t *cr4)
{
	*cr0 = m->kvm ? m->ks.cr0 : m->r.cr0;
	*cr3 = m->kvm ? m->ks.cr3 : m->r.cr3;
	*cr4 = m->kvm ? m->ks.cr4 : m->r.cr4;
}

static int m_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct machine *m = o;

	if (m->kvm)
		from_kvm(m, r);
	else
		memcpy(r, &m->r, sizeof(*r));
	return 0;
}

static int m_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	struct machine *m = o;

	if (m->kvm)
		to_kvm(m, r);
	else
		memcpy(&m->r, r, sizeof(*r));
	return 0;
}

static int m_get_xsave(void *o, void *xs)
{
	struct machine *m = o;

	if (m->fail == F_GETXS)
		return -EIO;
	memcpy(xs, m->xs, XS);
	return 0;
}

static int m_set_xsave(void *o, const void *xs)
{
	struct machine *m = o;

	m->c_setxs++;
	if (m->fail == F_SETXS)
		return -EIO;
	if (xs != m->xs)
		memcpy(m->xs, xs, XS);
	if (xs != m->vmm)
		m->vmm_valid = 0;
	return 0;
}

/* The VMM's copy of the vCPU's image: explicit as KVM_GET_XSAVE's, or plain (what is under a
 * clear XSTATE_BV bit is whatever was there), or not lent at all. */
static int m_lend(void *o, void **xs)
{
	struct machine *m = o;

	m->c_lend++;
	if (m->lend == L_NOTSUP || m->lend == L_GETSET)
		return -EOPNOTSUPP;
	if (m->fail == F_GETXS)
		return -EIO;
	if (!m->vmm_valid) {
		memcpy(m->vmm, m->xs, XS);
		if (m->lend == L_EXPLICIT)
			xg_emu_x86_xs_explicit(m->vmm);
		m->vmm_valid = 1;
	}
	m->lend_h = hash(m->vmm, XS);
	*xs = m->vmm;
	return m->lend == L_EXPLICIT ? XG_EMU_X86_LENT_EXPLICIT : 0;
}

static int m_discard(void *o)
{
	struct machine *m = o;

	m->c_discard++;
	m->vmm_valid = 0;
	return 0;
}

static int m_translate(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		       uint32_t *err)
{
	struct machine *m = o;
	uint64_t cr0, cr3, cr4, gpa;
	int rc;

	if (m->fail == F_TRANS)
		return -EIO;
	if (kind == XG_EMU_X86_FETCH && (la >> 12) == CODE_LA >> 12)
		return 0;
	paging_of(m, &cr0, &cr3, &cr4);
	rc = walk(m, cr0, cr3, cr4, la, (kind & XG_EMU_X86_WRITE) && kind != XG_EMU_X86_FETCH, cpl,
		  &gpa, err);
	if (rc && kind == XG_EMU_X86_FETCH)
		*err |= 16;
	return rc;
}

/* By linear address: the page as the walk finds it (the access was translated first). */
static int la_gpa(const struct machine *m, uint64_t la, uint64_t *gpa)
{
	uint64_t cr0, cr3, cr4;
	uint32_t err;

	paging_of(m, &cr0, &cr3, &cr4);
	return walk(m, 0, cr3, cr4, la, 0, 0, gpa, &err) ? -EFAULT : 0;
}

static int m_read(void *o, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	struct machine *m = o;
	uint64_t gpa;

	if ((la & 4095) + size > 4096)
		return -EFAULT;
	if (kind == XG_EMU_X86_FETCH && (la >> 12) == CODE_LA >> 12) {
		memcpy(buf, m->code + (la & 4095), size);
		return 0;
	}
	if (la_gpa(m, la, &gpa))
		return -EFAULT;
	return acc_read(m, gpa, buf, size);
}

static int m_write(void *o, uint64_t la, const void *buf, unsigned size)
{
	struct machine *m = o;
	uint64_t gpa;

	if ((la & 4095) + size > 4096 || la_gpa(m, la, &gpa))
		return -EFAULT;
	return acc_write(m, gpa, buf, size);
}

static int m_inject(void *o, const struct xg_emu_x86_exception *e)
{
	struct machine *m = o;

	m->ninject++;
	m->inj = *e;
	return 0;
}

static const struct xg_emu_x86_ops ops_getset = {
    .get_regs = m_get_regs,
    .set_regs = m_set_regs,
    .get_xsave = m_get_xsave,
    .set_xsave = m_set_xsave,
    .translate = m_translate,
    .read = m_read,
    .write = m_write,
    .inject = m_inject,
};
static struct xg_emu_x86_ops ops_lend; /* and lend_xsave/discard_xsave */

/* ---- the direct path's ops: by GPA, on B ---- */

static int d_translate(void *o, const struct xg_emu_x86_regs *pg, uint64_t la, unsigned kind,
		       unsigned cpl, uint64_t *gpa)
{
	struct machine *m = o;
	uint32_t err;

	if (kind != XG_EMU_X86_READ && kind != XG_EMU_X86_WRITE)
		m->bad_kind++;
	if (m->fail == F_TRANS)
		return -EIO;
	/* the paging registers as given: a wrong CR0.WP, CR3 or CR4.LA57 walks otherwise */
	return walk(m, pg->cr0, pg->cr3, pg->cr4, la, kind == XG_EMU_X86_WRITE, cpl, gpa, &err);
}

static int d_read(void *o, uint64_t gpa, void *buf, unsigned size)
{
	struct machine *m = o;

	m->c_read++;
	return acc_read(m, gpa, buf, size);
}

static int d_write(void *o, uint64_t gpa, const void *buf, unsigned size)
{
	struct machine *m = o;

	m->c_write++;
	return acc_write(m, gpa, buf, size);
}

/* Before the registers are written: they must still be as they were. */
static void d_regs_put(void *o, int gprs)
{
	struct machine *m = o;

	m->c_put++;
	m->put_gprs |= gprs != 0;
	if (memcmp(&m->kr, &m->kr_before, sizeof(m->kr)))
		m->put_early++;
}

static const struct xg_emu_x86_direct_ops dops = {
    .translate = d_translate,
    .read = d_read,
    .write = d_write,
    .lend_xsave = m_lend,
    .set_xsave = m_set_xsave,
    .discard_xsave = m_discard,
    .regs_put = d_regs_put,
};

/* ---- the machine ---- */

static void rnd_tables(struct machine *m)
{
	for (unsigned t = 0; t < 2; t++) {
		uint8_t perm[NSLOT];
		for (unsigned i = 0; i < NSLOT; i++)
			perm[i] = (uint8_t)i;
		for (unsigned i = NSLOT - 1; i > 0; i--) {
			unsigned j = rn(i + 1);
			uint8_t x = perm[i];
			perm[i] = perm[j], perm[j] = x;
		}
		for (unsigned s = 0; s < NSLOT; s++) {
			m->pt[t][s].page = perm[s];
			m->pt[t][s].p = rn(8) != 0;
			m->pt[t][s].rw = rn(6) != 0;
			m->pt[t][s].us = rn(6) != 0;
		}
	}
	for (unsigned g = 0; g < NGPA; g++)
		m->mmio[g] = rn(3) == 0;
}

static void rnd_machine(struct machine *m)
{
	struct xg_emu_x86_regs *r = &m->r;
	uint64_t bv;

	memset(m, 0, sizeof(*m));
	gen_mode(&m->r, rn(4) ? 0 : rn(6));
	r->cr3 = 0x1000ull << rn(2);
	r->cr4 = (1u << 9) | (1u << 18) | (rn(8) == 0 ? 1u << 12 : 0);
	r->xcr0 = rn(4) ? 0xe7 : rn(2) ? 0x7 : 0x3;
	r->vendor = XG_EMU_X86_VENDOR_HOST;
	/* half of them into the window: a register mistaken for another one still translates */
	for (unsigned i = 0; i < 16; i++)
		r->gpr[i] = rn(2) ? WIN + rn(NWIN * 4096) : rnd();
	r->rip = CODE_LA + rn(4000);
	rnd_bytes(m->xs, sizeof(m->xs));
	memset(m->xs + 0, 0, 32);
	m->xs[0] = 0x7f, m->xs[1] = 0x03;   /* FCW */
	m->xs[24] = 0x80, m->xs[25] = 0x1f; /* MXCSR */
	memset(m->xs + 512, 0, 64);
	bv = rnd() & 0xe7;
	memcpy(m->xs + 512, &bv, 8);
	rnd_bytes(m->ram, sizeof(m->ram));
	rnd_bytes(m->code, sizeof(m->code));
	rnd_tables(m);
	/* what the emulator never looks at, different from zero */
	rnd_bytes((uint8_t *)&m->ks, sizeof(m->ks));
}

/* B as A is now (the registers in KVM's layouts), but for its RAM, which the exits change
 * and the comparison keeps equal to A's. */
static void sync_b(void)
{
	B.kvm = 1;
	to_kvm(&B, &A.r);
	memcpy(B.xs, A.xs, XS);
	memcpy(B.code, A.code, sizeof(B.code));
	memcpy(B.mmio, A.mmio, sizeof(B.mmio));
	memcpy(B.pt, A.pt, sizeof(B.pt));
	B.dev_count = A.dev_count;
	B.fail = A.fail;
}

static void reset_calls(struct machine *m)
{
	m->vmm_valid = 0;
	m->ndev = m->dev_over = m->ninject = 0;
	memset(&m->inj, 0, sizeof(m->inj));
	m->c_lend = m->c_read = m->c_write = m->c_setxs = m->c_discard = m->c_put = 0;
	m->put_gprs = m->put_early = m->bad_kind = 0;
}

/* ---- instructions (the memo's classes: memo_gen.h) ---- */

/* A target in 64-bit mode where the walk has pages and canonicality decides: either side of
 * 2^47 and 2^56, with or without the upper bits set (SDM Vol. 1 3.3.7.1). */
static uint64_t edge_la(void)
{
	uint64_t la;

	if (rn(2)) {
		la = (1ull << 47) - 0x2000 + rn(0x4000);
		if (rn(2))
			la |= 0xffff000000000000ull;
	} else {
		la = (1ull << 56) - 0x2000 + rn(0x4000);
		if (rn(2))
			la |= 0xff00000000000000ull;
	}
	return la;
}

/* Set by aim(): the target is not canonical, on a page the walk maps, within the page. */
static int aim_noncanon;

/* Aim the memory operand: its base register (or RIP, when the exit gives all the bytes and
 * nothing is fetched) such that the linear address lands in the window or on an edge (at an
 * edge of a page or a vector now and then). In 64-bit mode the segment base a few pages or
 * none below it: only FS's and GS's count there, another one added lands in the window too. */
static void aim(struct machine *m, const uint8_t *b, int whole)
{
	struct xg_emu_x86_regs *r = &m->r;
	struct xg_emu_x86_insn in;
	struct xg_emu_x86_exception exc;
	unsigned mode = xg_emu_x86_code_bits(r);
	int real = !(r->cr0 & 1) || (r->rflags & (1ull << 17));
	uint64_t la, ea, base, other, am, gpa;
	unsigned bits = (r->cr4 & (1ull << 12)) ? 57 : 48;
	uint32_t err;

	aim_noncanon = 0;
	if (xg_emu_x86_decode(b, 15, mode, real, &in, &exc, NULL) != XG_EMU_X86_OK || !in.has_mem)
		return;
	if (rn(12) == 0)
		return; /* wherever the registers point */
	la = mode == 64 && rn(8) == 0 ? edge_la() : WIN + rn(NWIN * 4096);
	switch (rn(4)) {
	case 0:
		la &= ~63ull;
		break;
	case 1:
		la = (la | 4095) - rn(40); /* across a page */
		break;
	case 2:
		la &= ~(uint64_t)(rn(2) ? 15 : 31);
		break;
	}
	aim_noncanon =
	    mode == 64 && (uint64_t)((int64_t)(la << (64 - bits)) >> (64 - bits)) != la &&
	    (la & 4095) <= 4096 - 64 && !walk(m, 0, r->cr3, r->cr4, la, 0, 0, &gpa, &err);
	if (mode == 64 && rn(2))
		r->seg[in.seg].base = rn(3) ? rn(6) * 4096ull + (rn(2) ? 0 : rn(4096)) : 0;
	base = mode == 64 && in.seg != XG_EMU_X86_FS && in.seg != XG_EMU_X86_GS
		   ? 0
		   : r->seg[in.seg].base;
	am = in.addrsize == 8 ? ~0ull : in.addrsize == 4 ? 0xffffffffull : 0xffffull;
	if (in.addrsize == 2) {
		/* 16-bit offsets: the segment base just below the target */
		base = (la - rn(0x8000)) & (real ? ~0xfull : ~0ull);
		r->seg[in.seg].base = base;
	}
	ea = (la - base) & am;
	if (in.rip_rel && whole && mode == 64) {
		r->rip = ea - (uint64_t)in.disp - in.len;
		return;
	}
	if (in.base == XG_EMU_X86_NOREG || in.rip_rel || in.base == in.index)
		return;
	other = (uint64_t)in.disp;
	if (in.index != XG_EMU_X86_NOREG)
		other += r->gpr[in.index] * in.scale;
	if (in.addrsize == 2)
		r->gpr[in.base] = (r->gpr[in.base] & ~0xffffull) | ((ea - other) & 0xffff);
	else
		r->gpr[in.base] = (ea - other) & am;
}

/* Changes between two exits: the point of the test. */
static void mutate(struct machine *m)
{
	struct xg_emu_x86_regs *r = &m->r;
	unsigned k = rn(64);

	if (k >= 48) { /* the vector registers: a repeated load has zeroed its upper half */
		rnd_bytes(m->xs + XG_EMU_X86_XS_XMM0, 256);
		rnd_bytes(m->xs + XG_EMU_X86_XS_YMMH, 256);
		return;
	}
	if (k < 14 && k != 8) { /* the registers (memo_gen.h) */
		gen_mutate_regs(r, k < 8 ? k : k - 1);
		return;
	}
	switch (k) {
	case 8: {
		unsigned t = (unsigned)(r->cr3 >> 12) & 1, s = rn(NSLOT);
		m->pt[t][s].p ^= 1;
		m->pt[t][rn(NSLOT)].rw ^= 1;
		m->pt[t][rn(NSLOT)].us ^= 1;
		break;
	}
	case 14:
	case 15: {
		uint64_t bv = rnd() & 0xe7;
		memcpy(m->xs + 512, &bv, 8);
		break;
	}
	case 16:
		r->gpr[rn(16)] = rn(2) ? WIN + rn(NWIN * 4096) : rnd();
		break;
	case 17: /* real mode <-> 16-bit protected mode <-> virtual-8086 mode, CS as it is */
		if (rn(2))
			r->cr0 ^= 1;
		else
			r->rflags ^= 1ull << 17;
		break;
	case 18:
		r->seg[rn(2) ? XG_EMU_X86_DS : rn(XG_EMU_X86_NSEG)].unusable ^= 1;
		break;
	case 19:
		r->seg[rn(2) ? XG_EMU_X86_DS : rn(XG_EMU_X86_NSEG)].present ^= 1;
		break;
	case 20:
		r->seg[rn(2) ? XG_EMU_X86_DS : rn(XG_EMU_X86_NSEG)].type ^= (uint8_t)(1u << rn(4));
		break;
	case 21: /* at the end of the code segment's offsets: the next RIP wraps */
		r->rip = (rn(2) ? 0xfff0 : rn(2) ? 0xfffffff0ull : rnd() | 0xfff0) + rn(16);
		break;
	case 22:
		r->cr3 ^= 0x3000; /* the other page table */
		break;
	case 23:
		r->cr0 ^= CR0_WP;
		break;
	case 24:
	case 25:
		r->rflags ^= RFL_RF;
		break;
	case 26:
		m->mmio[rn(NGPA)] ^= 1;
		break;
	case 27:
		r->seg[XG_EMU_X86_FS + rn(2)].base = rn(2) ? rnd() : rn(8) * 4096ull;
		break;
	case 28:
		gen_mode(&m->r, 0);
		break;
	default:
		break; /* the same state: the common case */
	}
}

/* ---- the comparison ---- */

static uint64_t seed;
static unsigned long n_exits, n_exits64, n_held64, n_taken, n_taken_err, n_taken_dev, n_taken_plain,
    n_taken_cls[3], n_declined_held64, n_short_after;

static uint64_t xstate_bv(const uint8_t *xs)
{
	uint64_t bv;
	memcpy(&bv, xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	return bv;
}

/* exits where a mutant of the direct path would differ (see report_exposure) */
static unsigned long x_rf, x_fs, x_ah, x_vex128, x_avx, x_canon;

/* Counts the exits on which a wrong direct path would have shown: taken with RFLAGS.RF set,
 * through FS or GS with a base, with AH-BH, a VEX.128 load over a YMM upper half in use and
 * not zero, a VEX load that left AVX initial, and (not taken) a non-canonical target the walk
 * maps, which the pipeline faulted with #GP. */
static void exposure(int taken, const struct xg_emu_x86_memo_entry *e, int held64, uint64_t rflags0,
		     uint64_t bv0, const uint8_t *ymmh0, const struct xg_emu_x86_result *ra)
{
	const struct xg_emu_x86_insn *in = e ? &e->insn : NULL;
	int vexload =
	    in && in->enc == XG_EMU_X86_ENC_VEX &&
	    (in->opcode == 0x10 || in->opcode == 0x28 || in->opcode == 0x6f || in->opcode == 0xf0);
	static const uint8_t zero[16];

	if (!taken) {
		x_canon += held64 && aim_noncanon && ra->status == XG_EMU_X86_EXCEPTION &&
			   ra->exc.vector == XG_EMU_X86_GP;
		return;
	}
	x_rf += !!(rflags0 & RFL_RF);
	x_fs +=
	    (in->seg == XG_EMU_X86_FS || in->seg == XG_EMU_X86_GS) && kseg(&B.ks, in->seg)->base;
	x_ah += e->size == 1 && !in->rex && (in->reg & 15) >= 4 && (in->reg & 15) < 8 &&
		in->map == XG_EMU_X86_MAP_1B && (in->opcode == 0x88 || in->opcode == 0x8a);
	x_vex128 += vexload && e->size == 16 && (bv0 & 4) && memcmp(ymmh0, zero, 16);
	x_avx += vexload && !(bv0 & 4) && (B.xcr0 & 4) && !(xstate_bv(B.xs) & 4) && B.c_setxs;
}

/* What differs between A and B after the exit, or NULL. */
static const char *differs(const struct xg_emu_x86_result *ra, const struct xg_emu_x86_result *rb,
			   int taken)
{
	static uint8_t sa[XS], sb[XS];
	struct xg_emu_x86_regs rB;

	if (ra->status != rb->status)
		return "status";
	if (ra->stage != rb->stage)
		return "stage";
	if (strcmp(ra->reason, rb->reason))
		return "reason";
	if (!taken && (ra->exc.vector != rb->exc.vector || ra->exc.has_error != rb->exc.has_error ||
		       ra->exc.error != rb->exc.error || ra->exc.cr2 != rb->exc.cr2))
		return "exception";
	if (taken && ra->status == XG_EMU_X86_OK &&
	    (ra->insn.len != rb->insn.len || memcmp(ra->insn.bytes, rb->insn.bytes, ra->insn.len) ||
	     ra->insn.op != rb->insn.op))
		return "decoded instruction";
	from_kvm(&B, &rB);
	if (memcmp(A.r.gpr, rB.gpr, sizeof(rB.gpr)))
		return "GPRs";
	if (A.r.rip != rB.rip)
		return "RIP";
	if (A.r.rflags != rB.rflags)
		return "RFLAGS";
	if (memcmp(A.r.seg, rB.seg, sizeof(rB.seg)) || A.r.cr0 != rB.cr0 || A.r.cr2 != rB.cr2 ||
	    A.r.cr3 != rB.cr3 || A.r.cr4 != rB.cr4 || A.r.efer != rB.efer || A.r.xcr0 != rB.xcr0)
		return "segments or control registers";
	if (xstate_bv(A.xs) != xstate_bv(B.xs))
		return "XSTATE_BV";
	/* the register state: components under a clear bit as their initial values */
	xg_emu_x86_xs_state(sa, A.xs);
	xg_emu_x86_xs_state(sb, B.xs);
	if (memcmp(sa, sb, XS))
		return "vector state";
	if (memcmp(A.ram, B.ram, sizeof(A.ram)))
		return "RAM";
	if (A.ndev != B.ndev || A.dev_over != B.dev_over || A.dev_count != B.dev_count)
		return "number of device accesses";
	if (memcmp(A.dev, B.dev, A.ndev * sizeof(A.dev[0])))
		return "device accesses";
	if (A.ninject != B.ninject || memcmp(&A.inj, &B.inj, sizeof(A.inj)))
		return "injected exception";
	return NULL;
}

/* The memo's entry for these bytes (all of them within n), or NULL. */
static const struct xg_emu_x86_memo_entry *held(const struct xg_emu_x86_memo *memo,
						const uint8_t *b, size_t n)
{
	for (unsigned i = 0; i < XG_EMU_X86_MEMO_ENTRIES; i++) {
		unsigned len = memo->key[i].len;
		if (len && len <= n && !memcmp(memo->key[i].bytes, b, len))
			return &memo->ent[i];
	}
	return NULL;
}

/* The direct path's own rules (the header's contract), or NULL. */
static const char *direct_rules(int taken, int mode64, const struct xg_emu_x86_memo_entry *e,
				uint64_t bv0, uint64_t hits0, const struct xg_emu_x86_memo *memo)
{
	if (B.bad_kind)
		return "direct: translate asked for another kind than READ or WRITE";
	if (!taken) {
		if (B.c_read || B.c_write || B.ndev)
			return "direct: not taken, but accessed memory";
		if (B.c_setxs || B.c_discard)
			return "direct: not taken, but wrote or discarded the vector state";
		if (B.c_put || memcmp(&B.kr, &B.kr_before, sizeof(B.kr)))
			return "direct: not taken, but wrote the registers";
		if (B.c_lend && B.vmm_valid && hash(B.vmm, XS) != B.lend_h)
			return "direct: not taken, but changed the lent image";
		if (memo->hits != hits0)
			return "direct: not taken, but counted a hit";
		return NULL;
	}
	if (!mode64)
		return "direct: taken outside 64-bit mode";
	if (!e || e->insn.enc == XG_EMU_X86_ENC_EVEX)
		return "direct: taken on EVEX or on no entry";
	if (e->handover >= XG_EMU_X86_MEMO_PARK)
		return "direct: taken on a parked entry";
	if (memo->hits != hits0 + 1)
		return "direct: taken without counting one hit";
	if (B.lend == L_PLAIN && B.c_lend && (xstate_bv(B.xs) & ~bv0))
		return "direct: added an XSTATE_BV bit to an image lent as not explicit";
	if (B.put_early)
		return "direct: wrote the registers before regs_put";
	if (memcmp(&B.kr, &B.kr_before, sizeof(B.kr)) && !B.c_put)
		return "direct: wrote the registers without regs_put";
	if (!B.put_gprs && memcmp(&B.kr, &B.kr_before, offsetof(struct xg_emu_x86_kvm_regs, rip)))
		return "direct: wrote a GPR after regs_put(0)";
	return NULL;
}

static void report(const char *what, unsigned long ci, unsigned s, const uint8_t *b, size_t n,
		   unsigned mode, int taken, const struct xg_emu_x86_result *ra,
		   const struct xg_emu_x86_result *rb)
{
	char hex[64];

	show_bytes(b, 15, hex);
	diag("MISMATCH (%s): seed %llu case %lu exit %u bytes %s n=%zu mode %u %s", what,
	     (unsigned long long)seed, ci, s, hex, n, mode, taken ? "[direct]" : "[memo]");
	diag("  pipeline: %s stage %s exc %u/%u cr2 %llx \"%s\"",
	     xg_emu_x86_status_name(ra->status), xg_emu_x86_stage_name(ra->stage), ra->exc.vector,
	     ra->exc.error, (unsigned long long)ra->exc.cr2, ra->reason);
	diag("  B:        %s stage %s exc %u/%u cr2 %llx \"%s\"",
	     xg_emu_x86_status_name(rb->status), xg_emu_x86_stage_name(rb->stage), rb->exc.vector,
	     rb->exc.error, (unsigned long long)rb->exc.cr2, rb->reason);
	diag("  lend A %d B %d, fail %d; reproduce: XG_SEED=%llu XG_CASE=%lu t_emu_direct", A.lend,
	     B.lend, A.fail, (unsigned long long)seed, ci);
}

/* One case: returns 0 on a mismatch (printed). */
static int run_case(unsigned long ci, int verbose)
{
	static struct xg_emu_x86_memo memo;
	uint8_t insns[4][15], b[15];
	unsigned ninsn = 1 + rn(3), steps = 4 + rn(16);
	int a_lend = (int)rn(3); /* L_GETSET, L_PLAIN, L_EXPLICIT */
	const struct xg_emu_x86_ops *aops = a_lend == L_GETSET ? &ops_getset : &ops_lend;

	memset(&memo, 0, sizeof(memo));
	rnd_machine(&A);
	B = A;
	for (unsigned i = 0; i < ninsn; i++)
		gen_insn(insns[i], xg_emu_x86_code_bits(&A.r) == 64 || rn(2));
	for (unsigned s = 0; s < steps; s++) {
		struct xg_emu_x86_result ra, rb;
		struct xg_emu_x86_direct d = {
		    .regs = &B.kr, .sregs = &B.ks, .ops = &dops, .opaque = &B};
		const struct xg_emu_x86_memo_entry *e;
		uint64_t hits0, bv0, rflags0;
		uint8_t ymmh0[16];
		unsigned mode;
		size_t n = 15;
		const char *what;
		int taken, held64, gp;

		if (s)
			mutate(&A);
		if (rn(10) == 0)
			gen_insn(b, xg_emu_x86_code_bits(&A.r) == 64);
		else
			memcpy(b, insns[rn(ninsn)], 15);
		if (rn(10) == 0)
			n = rn(16); /* fewer bytes than the instruction: fetched */
		memcpy(A.code + (A.r.rip & 4095), b,
		       n < 15 && (A.r.rip & 4095) + 15 <= 4096 ? 15 : 0);
		aim(&A, b, n == 15);
		A.fail = rn(8) ? F_NONE : rn(2) ? F_DEVREAD : 1 + (int)rn(F_N - 1);
		A.lend = a_lend;
		sync_b();
		d.xcr0 = B.xcr0;
		/* B's VMM lends as it can; a failing read of the image fails the same op */
		if (A.fail == F_GETXS)
			B.lend = a_lend == L_GETSET ? L_NOTSUP : (int)(1 + rn(2));
		else
			B.lend = rn(8) == 0 ? L_NOTSUP : rn(3) == 0 ? L_PLAIN : L_EXPLICIT;
		reset_calls(&A);
		reset_calls(&B);
		mode = xg_emu_x86_code_bits(&A.r);
		e = held(&memo, b, n);
		memset(&ra, 0x55, sizeof(ra));
		memset(&rb, 0xaa, sizeof(rb));

		xg_emu_x86_emulate(aops, &A, b, n, &ra);
		B.kr_before = B.kr;
		bv0 = xstate_bv(B.xs);
		rflags0 = B.kr.rflags;
		memcpy(ymmh0, B.xs + XG_EMU_X86_XS_YMMH + 16 * (e ? e->insn.reg & 15 : 0), 16);
		hits0 = memo.hits;
		d.no_insn = (int)rn(2); /* the emulate verdict's caller: res->insn not filled */
		taken = xg_emu_x86_memo_direct(&memo, b, n, &d, &rb);
		what = direct_rules(taken, mode == 64, e, bv0, hits0, &memo);
		if (!taken) {
			hits0 = memo.hits;
			xg_emu_x86_emulate_memo(&ops_lend, &B, b, n, &memo, &rb);
		}

		n_exits++;
		held64 = mode == 64 && e && e->mode == 64 && !e->real &&
			 e->insn.enc != XG_EMU_X86_ENC_EVEX;
		n_exits64 += mode == 64;
		n_held64 += held64;
		n_declined_held64 += held64 && !taken;
		n_short_after += held64 && !taken && memo.hits != hits0;
		exposure(taken, e, held64, rflags0, bv0, ymmh0, &ra);
		if (taken) {
			n_taken++;
			n_taken_err += rb.status != XG_EMU_X86_OK;
			n_taken_dev += B.ndev != 0;
			n_taken_plain += B.c_lend && B.lend == L_PLAIN;
			/* GP: map 1B, or 0F B6/B7/BE/BF (MOVZX, MOVSX) */
			gp = e->insn.map == XG_EMU_X86_MAP_1B || (e->insn.opcode & 0xf0) == 0xb0;
			n_taken_cls[e->insn.enc == XG_EMU_X86_ENC_VEX ? 2 : gp ? 0 : 1]++;
		}
		if (verbose) {
			char hex[64];
			show_bytes(b, 15, hex);
			printf("# case %lu exit %u: %s n=%zu mode %u lend %d fail %d -> %s #%u "
			       "(%s)%s\n",
			       ci, s, hex, n, mode, B.lend, A.fail,
			       xg_emu_x86_status_name(ra.status), ra.exc.vector, ra.reason,
			       taken ? " [direct]" : "");
		}
		if (!what && taken && d.no_insn) {
			/* left as it was (0xaa), then compared as the pipeline's */
			static const struct xg_emu_x86_insn untouched_probe;
			uint8_t aa[sizeof(untouched_probe)];
			memset(aa, 0xaa, sizeof(aa));
			if (memcmp(&rb.insn, aa, sizeof(aa)))
				what = "res->insn written with no_insn";
			rb.insn = ra.insn;
			/* the reason too, when OK (a failure's is written) */
			if (!what && rb.status == XG_EMU_X86_OK) {
				_Static_assert(sizeof(rb.reason) <= sizeof(aa), "aa covers reason");
				if (memcmp(rb.reason, aa, sizeof(rb.reason)))
					what = "res->reason written with no_insn";
				memcpy(rb.reason, ra.reason, sizeof(rb.reason));
			}
		}
		if (!what)
			what = differs(&ra, &rb, taken);
		if (what) {
			report(what, ci, s, b, n, mode, taken, &ra, &rb);
			return 0;
		}
	}
	return 1;
}

/* ---- the three cases by hand ---- */

/* A plain 64-bit machine: flat, every page present, writable, user, RAM; B as it. */
static void plain64(void)
{
	memset(&A, 0, sizeof(A));
	gen_mode(&A.r, 0);
	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++) {
		A.r.seg[i] = (struct xg_emu_x86_segment){
		    .limit = 0xffffffffu, .type = 3, .present = 1, .db = 1, .s = 1, .g = 1};
	}
	A.r.seg[XG_EMU_X86_CS].type = 0xb;
	A.r.seg[XG_EMU_X86_CS].l = 1;
	A.r.seg[XG_EMU_X86_CS].db = 0;
	A.r.cr0 = 0x80000011ull;
	A.r.cr3 = 0x1000;
	A.r.cr4 = (1u << 9) | (1u << 18);
	A.r.xcr0 = 0x7;
	A.r.rflags = 0x2 | RFL_RF;
	A.r.rip = CODE_LA + 0x100;
	A.r.gpr[0] = WIN + 0x140;
	for (unsigned t = 0; t < 2; t++)
		for (unsigned s = 0; s < NSLOT; s++)
			A.pt[t][s] = (struct pte){.page = (uint8_t)s, .p = 1, .rw = 1, .us = 1};
	for (unsigned i = 0; i < sizeof(A.ram); i++)
		A.ram[i] = (uint8_t)(i * 7 + 1);
	A.xs[0] = 0x7f, A.xs[1] = 0x03, A.xs[24] = 0x80, A.xs[25] = 0x1f;
	A.lend = L_EXPLICIT;
	B = A;
	sync_b();
}

static void set_bv(uint64_t bv)
{
	memcpy(A.xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
	memcpy(B.xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
}

/* B through the memo (to compile the bytes), then B as A again: 1 if it was compiled. */
static int compile_b(struct xg_emu_x86_memo *memo, const uint8_t *b, size_t n)
{
	struct xg_emu_x86_result r;
	uint64_t c0 = memo->compiles;

	B.lend = L_EXPLICIT;
	reset_calls(&B);
	xg_emu_x86_emulate_memo(&ops_lend, &B, b, n, memo, &r);
	memcpy(B.ram, A.ram, sizeof(A.ram));
	sync_b();
	return memo->compiles == c0 + 1 && r.status == XG_EMU_X86_OK;
}

static int direct_b(struct xg_emu_x86_memo *memo, const uint8_t *b, size_t n, int lend,
		    struct xg_emu_x86_result *res)
{
	struct xg_emu_x86_direct d = {
	    .regs = &B.kr, .sregs = &B.ks, .xcr0 = B.xcr0, .ops = &dops, .opaque = &B};

	B.lend = lend;
	reset_calls(&B);
	B.kr_before = B.kr;
	d.xcr0 = B.xcr0;
	return xg_emu_x86_memo_direct(memo, b, n, &d, res);
}

static void by_hand(void)
{
	static struct xg_emu_x86_memo memo;
	static const uint8_t movups[] = {0x0f, 0x10, 0x00};	   /* movups xmm0, [rax] */
	static const uint8_t vmovups[] = {0xc5, 0xfc, 0x10, 0x00}; /* vmovups ymm0, [rax] */
	static const uint8_t movrax[] = {0x48, 0x8b, 0x00};	   /* mov rax, [rax] */
	static const uint8_t movzmm[] = {0x62, 0xf1, 0x7c, 0x48, 0x10, 0x00}; /* zmm0, [rax] */
	static const uint8_t moveax[] = {0x8b, 0x00}; /* mov eax, [eax] (compatibility mode) */
	struct xg_emu_x86_result ra, rb;
	const char *what;
	int t;

	/* (1) a plain lend where SSE would have to be marked in use: not taken; explicit, SSE
	 * marked and x87 left initial (a move writes no x87 state), as the pipeline leaves it */
	memset(&memo, 0, sizeof(memo));
	plain64();
	ok(compile_b(&memo, movups, sizeof(movups)), "movups compiled");
	set_bv(0);
	t = direct_b(&memo, movups, sizeof(movups), L_PLAIN, &rb);
	ok(!t && !B.c_read && !B.c_setxs && B.c_lend,
	   "(1) plain lend, XSTATE_BV 0: movups load not taken (lent %u, read %u)", B.c_lend,
	   B.c_read);
	t = direct_b(&memo, movups, sizeof(movups), L_EXPLICIT, &rb);
	xg_emu_x86_emulate(&ops_lend, &A, movups, sizeof(movups), &ra);
	what = differs(&ra, &rb, t);
	ok(t && !what && xstate_bv(B.xs) == 2,
	   "(1) explicit lend: taken, as the pipeline (%s), XSTATE_BV %#llx", what ? what : "same",
	   (unsigned long long)xstate_bv(B.xs));

	memset(&memo, 0, sizeof(memo));
	plain64();
	ok(compile_b(&memo, vmovups, sizeof(vmovups)), "vmovups ymm compiled");
	set_bv(3);
	t = direct_b(&memo, vmovups, sizeof(vmovups), L_PLAIN, &rb);
	ok(!t && !B.c_read && !B.c_setxs,
	   "(1) plain lend, XSTATE_BV 3, XCR0 7: vmovups ymm load (AVX to add) not taken");
	t = direct_b(&memo, vmovups, sizeof(vmovups), L_EXPLICIT, &rb);
	xg_emu_x86_emulate(&ops_lend, &A, vmovups, sizeof(vmovups), &ra);
	what = differs(&ra, &rb, t);
	ok(t && !what && xstate_bv(B.xs) == 7,
	   "(1) explicit lend: taken, as the pipeline (%s), XSTATE_BV %#llx", what ? what : "same",
	   (unsigned long long)xstate_bv(B.xs));

	/* (2) a device read failing with -EIO: taken, ERROR, the device read once */
	memset(&memo, 0, sizeof(memo));
	plain64();
	A.mmio[0] = B.mmio[0] = 1; /* rax's page, slot 0 */
	ok(compile_b(&memo, movrax, sizeof(movrax)), "mov rax, [rax] from a device compiled");
	A.dev_count = B.dev_count = 0;
	A.fail = B.fail = F_DEVREAD;
	reset_calls(&A);
	xg_emu_x86_emulate(&ops_lend, &A, movrax, sizeof(movrax), &ra);
	t = direct_b(&memo, movrax, sizeof(movrax), L_EXPLICIT, &rb);
	what = differs(&ra, &rb, t);
	ok(t && rb.status == XG_EMU_X86_ERROR && B.ndev == 1 && B.dev_count == 1 && !what,
	   "(2) device read -EIO: taken %d, %s \"%s\", device reads %u (pipeline: %s, %u); %s", t,
	   xg_emu_x86_status_name(rb.status), rb.reason, B.ndev, xg_emu_x86_status_name(ra.status),
	   A.ndev, what ? what : "same");
	ok(B.kr.rip == B.kr_before.rip && B.kr.rax == B.kr_before.rax,
	   "(2) RIP and RAX as they were");

	/* (3) nothing outside 64-bit mode, nothing of EVEX */
	memset(&memo, 0, sizeof(memo));
	plain64();
	ok(compile_b(&memo, movups, sizeof(movups)), "movups compiled in 64-bit mode");
	ok(direct_b(&memo, movups, sizeof(movups), L_EXPLICIT, &rb), "(3) taken in 64-bit mode");
	sync_b();
	B.ks.cs.l = 0, B.ks.cs.db = 1;
	ok(!direct_b(&memo, movups, sizeof(movups), L_EXPLICIT, &rb),
	   "(3) not taken in compatibility mode");
	sync_b();
	B.ks.efer &= ~0x400ull;
	ok(!direct_b(&memo, movups, sizeof(movups), L_EXPLICIT, &rb), "(3) not taken without LMA");
	sync_b();
	B.kr.rflags |= 1ull << 17;
	ok(!direct_b(&memo, movups, sizeof(movups), L_EXPLICIT, &rb),
	   "(3) not taken with RFLAGS.VM");
	sync_b();
	B.ks.cr0 &= ~1ull;
	ok(!direct_b(&memo, movups, sizeof(movups), L_EXPLICIT, &rb), "(3) not taken without PE");

	memset(&memo, 0, sizeof(memo));
	plain64();
	A.r.seg[XG_EMU_X86_CS].l = 0, A.r.seg[XG_EMU_X86_CS].db = 1;
	A.r.gpr[0] = WIN + 0x140;
	sync_b();
	ok(compile_b(&memo, moveax, sizeof(moveax)), "mov eax, [eax] compiled in compatibility");
	B.ks.cs.l = 1, B.ks.cs.db = 0;
	ok(!direct_b(&memo, moveax, sizeof(moveax), L_EXPLICIT, &rb),
	   "(3) its bytes in 64-bit mode: not taken (the entry is of another mode)");

	memset(&memo, 0, sizeof(memo));
	plain64();
	A.r.xcr0 = 0xe7;
	set_bv(0xe7);
	sync_b();
	if (compile_b(&memo, movzmm, sizeof(movzmm))) {
		ok(!direct_b(&memo, movzmm, sizeof(movzmm), L_EXPLICIT, &rb),
		   "(3) vmovups zmm0, [rax] (EVEX) compiled, not taken");
	} else {
		skip(1, "the memo does not compile EVEX here (no AVX-512 state on this host)");
	}
}

int main(void)
{
	const char *e = getenv("XG_CASES"), *one = getenv("XG_CASE");
	unsigned long ncases = e ? strtoul(e, NULL, 0) : 20000, bad = 0;

	ops_lend = ops_getset;
	ops_lend.lend_xsave = m_lend;
	ops_lend.discard_xsave = m_discard;
	seed = xg_oracle_seed();
	diag("seed %llu (XG_SEED=n to reproduce)", (unsigned long long)seed);
	if (one) {
		unsigned long ci = strtoul(one, NULL, 0);
		rs = seed ^ (ci * 0x2545f4914f6cdd1dull);
		ok(run_case(ci, 1), "case %lu: the direct path and the pipeline agree", ci);
		return done_testing();
	}
	by_hand();
	for (unsigned long ci = 0; ci < ncases && bad < 5; ci++) {
		rs = seed ^ (ci * 0x2545f4914f6cdd1dull);
		if (!run_case(ci, 0))
			bad++;
	}
	ok(!bad, "%lu cases (%lu exits): the direct path, the memo and the pipeline agree", ncases,
	   n_exits);
	diag("%lu exits, %lu in 64-bit mode, %lu of them on entries the memo holds (not EVEX)",
	     n_exits, n_exits64, n_held64);
	diag("direct path: taken %lu (GP %lu, legacy SSE %lu, VEX %lu; ERROR %lu, device %lu, "
	     "plain lend %lu), declined %lu (on held 64-bit entries %lu, of which the memo's "
	     "short path then took %lu)",
	     n_taken, n_taken_cls[0], n_taken_cls[1], n_taken_cls[2], n_taken_err, n_taken_dev,
	     n_taken_plain, n_exits - n_taken, n_declined_held64, n_short_after);
	diag("exits a mutant would show on: RF set %lu, FS/GS base %lu, AH-BH %lu, VEX.128 over "
	     "a YMM upper half %lu, AVX left initial %lu, non-canonical %lu",
	     x_rf, x_fs, x_ah, x_vex128, x_avx, x_canon);
	ok(n_taken * 8 >= n_held64 && n_taken_cls[0] && n_taken_cls[1] && n_taken_cls[2] &&
	       n_taken_err && n_taken_dev,
	   "the direct path took %lu of the %lu 64-bit exits on held entries (at least an "
	   "eighth), GP, legacy and VEX, some ending in ERROR, some on a device",
	   n_taken, n_held64);
	return done_testing();
}
