/*
 * t_emu_walk.c - the emulator's page walk (core/action/x86_walk.c) on random page tables,
 * against a reference written here from the SDM (Vol. 3A 4.3 32-bit, 4.4 PAE, 4.5 4-level and
 * 5-level, 4.6 rights, 4.7 #PF error code).
 *
 * Each round fills a small guest-physical space with random paging entries in the mode's
 * format: RAM pages, a device window (read_gpa fails there, as the ops contract says of
 * anything that is not RAM) and nothing beyond. Entries have random P, R/W, U/S, PS, XD and
 * noise in the ignored and reserved bits, and point into RAM, at the device, past everything
 * or anywhere. Random control registers (CR0.PG/WP, CR4.PSE/PAE/LA57, EFER.LMA/NXE, CR3 in
 * RAM, at the device or nowhere), linear addresses, access kinds and CPLs are walked by
 *   - xg_x86_walk with ram_ptr (what the bundled backend gives: the long-mode loop reading
 *     entries from a host pointer), counting one lookup per entry the reference read,
 *   - xg_x86_walk with read_gpa only (a VMM without ram_ptr, the trace recorder),
 *   - xg_x86_walk_generic (one loop for every mode),
 * and each must give the reference's result: the same GPA, or the same fault and error
 * code, or the same failure to read a table.
 *
 * Then xg_x86_walk_tlb, which keeps a translation from one call to the next (the memo's direct
 * path, struct xg_emu_x86_tlb), on sequences of walks where each one repeats the last or
 * changes one thing: an entry the last walk read (a bit of P, R/W, U/S, PS, XD or the
 * address), an entry elsewhere, la within its page, to a page under the same last table or
 * anywhere, CR3, CR0.PG, EFER.LMA, CR0.WP, EFER.NXE, CR4.LA57, the access, the CPL, the
 * VMM's ram_gen counter, another counter (another VM's), back to what the last kept
 * translation was made under (after walks that kept nothing, or faulted), or everything. Each
 * walk must give the reference's result, a repeat with nothing changed must be served
 * without a lookup (kept), and a change that can alter the outcome must not be served from
 * what was kept without reading every entry again. Without ram_gen nothing is kept or served,
 * and a walk through a ram_ptr whose pointers it cannot use (misaligned) keeps nothing.
 * XG_SEED=n repeats a run; a failure prints the seed, the registers, the access and the
 * entries the reference read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "action/x86_walk.h"
#include "tap.h"
#include "oracle_rand.h"

#define RAM_PAGES 24
#define RAM_SIZE  (RAM_PAGES * 4096ull)
#define DEV_GPA	  0x40000000ull /* one device page: not RAM */
#define ROUNDS	  200000

/* true with probability n/16 */
static int chance(unsigned n)
{
	return (rnd() & 15) < n;
}

/* guest RAM with 8-byte entries and with 4-byte ones (32-bit paging); ram points at the one
 * the round's mode reads */
static _Alignas(4096) uint8_t images[2][RAM_SIZE];
static uint8_t *ram = images[0];

struct vmm {
	unsigned ram_ptrs, read_gpas;
	int misalign; /* ram_ptr hands out a pointer one byte off: the walk must not use it
		       * (an unaligned load need not be atomic), but read_gpa */
	uint8_t shadow[RAM_SIZE + 1];
};

static int v_read_gpa(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct vmm *v = o;

	v->read_gpas++;
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return -EFAULT;
	memcpy(buf, ram + gpa, len);
	return 0;
}

static const void *v_ram_ptr(void *o, uint64_t gpa, size_t len)
{
	struct vmm *v = o;

	v->ram_ptrs++;
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return NULL;
	if (v->misalign) {
		/* bytes that are not the entry's: a walk that used this pointer would differ */
		for (size_t i = 0; i < len; i++)
			v->shadow[1 + gpa + i] = (uint8_t)~ram[gpa + i];
		return v->shadow + 1 + gpa;
	}
	return ram + gpa;
}

/* ---- the reference ---- */

struct ref {
	int rc;
	uint64_t gpa;
	uint32_t err;
	unsigned reads; /* entries read */
	uint64_t at[6], val[6];
};

static int ref_read(struct ref *o, uint64_t gpa, unsigned size, uint64_t *e)
{
	uint32_t e32;

	if (gpa >= RAM_SIZE || size > RAM_SIZE - gpa)
		return -1;
	if (size == 8) {
		memcpy(e, ram + gpa, 8);
	} else {
		memcpy(&e32, ram + gpa, 4);
		*e = e32;
	}
	o->at[o->reads] = gpa;
	o->val[o->reads++] = *e;
	return 0;
}

/* SDM Vol. 3A 4.7: P when the fault is a rights violation on present entries; W/R, U/S of
 * the access; I for a fetch when XD is usable (no SMEP here). Table 4-2 of 4.6: a user
 * access needs U/S = 1 at every level; a write needs R/W = 1 at every level when user, or
 * when supervisor with CR0.WP = 1; a fetch faults when any level has XD = 1 with EFER.NXE. */
static void ref_walk(const struct xg_emu_x86_regs *r, uint64_t la, unsigned kind, unsigned cpl,
		     struct ref *o)
{
	int user = cpl == 3, write = kind == XG_EMU_X86_WRITE || kind == XG_EMU_X86_RMW;
	int fetch = kind == XG_EMU_X86_FETCH, nxe = (r->efer >> 11) & 1;
	int allw = 1, allu = 1, xd = 0, present = 0, lvl, nlev;
	uint64_t e = 0, base, pagesz = 4096;

	memset(o, 0, sizeof(*o));
	if (!((r->cr0 >> 31) & 1)) {
		o->gpa = (r->efer >> 10) & 1 ? la : (uint32_t)la;
		return;
	}
	if ((r->efer >> 10) & 1) {
		/* 4.5: PML5 (LA57) or PML4 at CR3[51:12], 9 bits per level */
		nlev = (r->cr4 >> 12) & 1 ? 5 : 4;
		base = r->cr3 & 0x000ffffffffff000ull;
		for (lvl = nlev; lvl >= 1; lvl--) {
			unsigned shift = 12 + 9 * (lvl - 1);
			if (ref_read(o, base + ((la >> shift) & 0x1ff) * 8, 8, &e)) {
				o->rc = -EFAULT;
				return;
			}
			if (!(e & 1))
				goto fault;
			allw &= (e >> 1) & 1;
			allu &= (e >> 2) & 1;
			xd |= (int)(e >> 63) & nxe;
			/* PS: a page size in a PDPTE (lvl 3: 1 GiB), a PDE (lvl 2: 2 MiB) only */
			if ((lvl == 3 || lvl == 2) && (e & 0x80)) {
				pagesz = 1ull << shift;
				break;
			}
			base = e & 0x000ffffffffff000ull;
		}
		o->gpa = (e & 0x000ffffffffff000ull & ~(pagesz - 1)) | (la & (pagesz - 1));
	} else if ((r->cr4 >> 5) & 1) {
		/* 4.4: 4 PDPTEs at CR3[31:5] (no R/W, U/S, XD in them), then PD and PT */
		uint32_t l = (uint32_t)la;
		if (ref_read(o, (r->cr3 & 0xffffffe0u) + (l >> 30) * 8, 8, &e)) {
			o->rc = -EFAULT;
			return;
		}
		if (!(e & 1))
			goto fault;
		base = e & 0x000ffffffffff000ull;
		if (ref_read(o, base + ((l >> 21) & 0x1ff) * 8, 8, &e)) {
			o->rc = -EFAULT;
			return;
		}
		if (!(e & 1))
			goto fault;
		allw &= (e >> 1) & 1;
		allu &= (e >> 2) & 1;
		xd |= (int)(e >> 63) & nxe;
		if (e & 0x80) {
			o->gpa = (e & 0x000fffffffe00000ull) | (l & 0x1fffff);
		} else {
			base = e & 0x000ffffffffff000ull;
			if (ref_read(o, base + ((l >> 12) & 0x1ff) * 8, 8, &e)) {
				o->rc = -EFAULT;
				return;
			}
			if (!(e & 1))
				goto fault;
			allw &= (e >> 1) & 1;
			allu &= (e >> 2) & 1;
			xd |= (int)(e >> 63) & nxe;
			o->gpa = (e & 0x000ffffffffff000ull) | (l & 0xfff);
		}
	} else {
		/* 4.3: PD at CR3[31:12], 4-byte entries, 4 MiB pages with CR4.PSE (PSE-36: PDE
		 * bits 20:13 are physical bits 39:32) */
		uint32_t l = (uint32_t)la;
		if (ref_read(o, (r->cr3 & 0xfffff000u) + (l >> 22) * 4, 4, &e)) {
			o->rc = -EFAULT;
			return;
		}
		if (!(e & 1))
			goto fault;
		allw &= (e >> 1) & 1;
		allu &= (e >> 2) & 1;
		if ((e & 0x80) && ((r->cr4 >> 4) & 1)) {
			o->gpa = (e & 0xffc00000u) | (((e >> 13) & 0xff) << 32) | (l & 0x3fffff);
		} else {
			if (ref_read(o, (e & 0xfffff000u) + ((l >> 12) & 0x3ff) * 4, 4, &e)) {
				o->rc = -EFAULT;
				return;
			}
			if (!(e & 1))
				goto fault;
			allw &= (e >> 1) & 1;
			allu &= (e >> 2) & 1;
			o->gpa = (e & 0xfffff000u) | (l & 0xfff);
		}
	}
	present = 1;
	if (user && !allu)
		goto fault;
	if (write && !allw && (user || ((r->cr0 >> 16) & 1)))
		goto fault;
	if (fetch && xd)
		goto fault;
	return;
fault:
	o->rc = 1;
	o->err = (present ? 1u : 0) | (write ? 2u : 0) | (user ? 4u : 0) | (fetch && nxe ? 16u : 0);
}

/* ---- random guests ---- */

/* A random physical address for an entry to point at: mostly a RAM page. */
static uint64_t rnd_target(int four_byte)
{
	unsigned pick = (unsigned)(rnd() % 100);

	if (pick < 86)
		return (rnd() % RAM_PAGES) * 4096;
	if (pick < 91)
		return DEV_GPA;
	if (pick < 95)
		return RAM_SIZE + (rnd() % 64) * 4096; /* just past RAM: nothing there */
	return rnd() & (four_byte ? 0xfffff000ull : 0x000ffffffffff000ull);
}

static uint64_t rnd_entry(int four_byte)
{
	uint64_t e = rnd_target(four_byte);

	e |= chance(14) ? 1 : 0;   /* P */
	e |= chance(12) ? 2 : 0;   /* R/W */
	e |= chance(12) ? 4 : 0;   /* U/S */
	e |= chance(3) ? 0x80 : 0; /* PS */
	e |= rnd() & 0x178;	   /* PWT, PCD, A, D, G: ignored by the walk */
	if (chance(4))
		e |= rnd() & 0xe00; /* available to software */
	if (four_byte) {
		if (chance(4))
			e |= rnd() & 0x3fe000; /* PSE-36 bits of a 4 MiB PDE */
		return e & 0xffffffffull;
	}
	e |= chance(5) ? 1ull << 63 : 0; /* XD */
	if (chance(2))
		e |= rnd() & 0x7ff0000000000000ull; /* protection key, ignored bits */
	if (chance(2))
		e |= rnd() & 0x000fff0000000000ull; /* physical bits past this RAM */
	return e;
}

static void fill(int four_byte)
{
	for (uint64_t off = 0; off < RAM_SIZE; off += four_byte ? 4 : 8) {
		uint64_t e = rnd_entry(four_byte);
		memcpy(images[four_byte] + off, &e, four_byte ? 4 : 8);
	}
}

static void rnd_regs(struct xg_emu_x86_regs *r, int *four_byte)
{
	unsigned mode = (unsigned)(rnd() % 16);

	memset(r, 0, sizeof(*r));
	/* 0-1 no paging, 2-4 32-bit, 5-7 PAE, 8-11 4-level, 12-15 5-level */
	r->cr0 = 0x11 | (mode >= 2 ? 1ull << 31 : 0) | (chance(8) ? 1ull << 16 : 0);
	r->cr4 = (chance(8) ? 1ull << 4 : 0) | (mode >= 5 ? 1ull << 5 : 0) |
		 (mode >= 12 ? 1ull << 12 : 0);
	if (mode < 2 && chance(8))
		r->cr4 |= 1ull << 5;
	r->efer = (mode >= 8 ? 0x500ull : 0) | (chance(10) ? 1ull << 11 : 0);
	if (mode < 2 && chance(4))
		r->efer |= 0x500ull;
	r->cr3 = rnd_target(mode < 5) | (rnd() & 0xfff);
	if (mode >= 5 && mode < 8) /* PAE: the PDPTEs anywhere 32-byte aligned below 4 GiB */
		r->cr3 = (chance(13) ? rnd() % RAM_SIZE : rnd()) & 0xffffffffull;
	*four_byte = mode >= 2 && mode < 5;
}

static uint64_t rnd_la(void)
{
	uint64_t la = rnd();

	if (chance(4))
		la &= 0xffffffffull;
	if (chance(4))
		la = (uint64_t)((int64_t)(la << 16) >> 16); /* canonical for 4-level */
	return la;
}

static void print_case(uint64_t seed, unsigned round, const struct xg_emu_x86_regs *r, uint64_t la,
		       unsigned kind, unsigned cpl, const struct ref *w)
{
	diag("seed %" PRIu64 " round %u: cr0 %#" PRIx64 " cr3 %#" PRIx64 " cr4 %#" PRIx64
	     " efer %#" PRIx64 " la %#" PRIx64 " kind %u cpl %u",
	     seed, round, r->cr0, r->cr3, r->cr4, r->efer, la, kind, cpl);
	diag("reference: rc %d gpa %#" PRIx64 " err %#x", w->rc, w->gpa, w->err);
	for (unsigned i = 0; i < w->reads; i++)
		diag("  entry at %#" PRIx64 ": %#" PRIx64, w->at[i], w->val[i]);
}

/* Does one walker agree with the reference? */
static int same(int rc, uint64_t gpa, uint32_t err, const struct ref *w)
{
	if (w->rc < 0)
		return rc < 0;
	if (rc != w->rc)
		return 0;
	return rc ? err == w->err : gpa == w->gpa;
}

/* ---- the kept translation (xg_x86_walk_tlb) ---- */

#define TLB_ROUNDS 200000
#define TLB_TESTS  5

enum change {
	C_NONE,	  /* the same walk again */
	C_OFFSET, /* la within its page */
	C_READ,	  /* an entry the last walk read */
	C_OTHER,  /* an entry anywhere */
	C_PAGE,	  /* la to another page */
	C_NEAR,	  /* la to a page under the same last table */
	C_CR3,
	C_PG,  /* CR0.PG alone */
	C_LMA, /* EFER.LMA alone */
	C_WP,
	C_NXE,
	C_LA57,
	C_KIND,
	C_CPL,
	C_GEN,	/* the VMM's ram_gen */
	C_GENP, /* the other counter (another VM's) */
	C_BACK, /* back to what the last kept translation was made under */
	C_ALL,	/* new registers, la, access */
	C_COUNT
};
static const char *const change_name[C_COUNT] = {
    "none",   "offset", "entry read", "other entry", "page",	 "near page",
    "CR3",    "CR0.PG", "EFER.LMA",   "CR0.WP",	     "EFER.NXE", "CR4.LA57",
    "access", "CPL",	"ram_gen",    "counter",     "back",	 "everything"};

/* a long-mode walk most of the time: the kept translation's case */
static void tlb_regs(struct xg_emu_x86_regs *r)
{
	int four_byte;

	do
		rnd_regs(r, &four_byte);
	while (!(r->efer & 0x400) && chance(14));
	if (r->efer & 0x400) {
		r->cr0 |= 1ull << 31;
		r->cr4 |= 1ull << 5;
	}
	ram = images[four_byte];
}

static unsigned rnd_kind(void)
{
	return (unsigned[]){XG_EMU_X86_READ, XG_EMU_X86_WRITE, XG_EMU_X86_RMW,
			    XG_EMU_X86_FETCH}[rnd() % 4];
}

/* a new value for the 8-byte entry at gpa: one bit the walk looks at, or its address */
static void poke(uint64_t gpa)
{
	static const uint64_t bits[] = {1, 2, 4, 0x80, 1ull << 63};
	uint64_t e;

	memcpy(&e, images[0] + gpa, 8);
	if (chance(12))
		e ^= bits[rnd() % 5];
	else
		e = (e & ~0x000ffffffffff000ull) | rnd_target(0);
	memcpy(images[0] + gpa, &e, 8);
}

/* what a kept translation was made under, besides the entries it read */
struct inputs {
	uint64_t cr3, page, gen;
	unsigned sel, wp, nxe, la57, kind, cpl;
};

static struct inputs inputs_of(const struct xg_emu_x86_regs *r, uint64_t la, unsigned kind,
			       unsigned cpl, unsigned sel, uint64_t gen)
{
	return (struct inputs){r->cr3,
			       la >> 12,
			       gen,
			       sel,
			       (unsigned)(r->cr0 >> 16) & 1,
			       (unsigned)(r->efer >> 11) & 1,
			       (unsigned)(r->cr4 >> 12) & 1,
			       kind,
			       cpl};
}

static int same_inputs(const struct inputs *a, const struct inputs *b)
{
	return a->cr3 == b->cr3 && a->page == b->page && a->gen == b->gen && a->sel == b->sel &&
	       a->wp == b->wp && a->nxe == b->nxe && a->la57 == b->la57 && a->kind == b->kind &&
	       a->cpl == b->cpl;
}

/* the two walks read the same entries with the same values */
static int same_entries(const struct ref *a, const struct ref *b)
{
	if (a->reads != b->reads)
		return 0;
	for (unsigned i = 0; i < a->reads; i++)
		if (a->at[i] != b->at[i] || a->val[i] != b->val[i])
			return 0;
	return 1;
}

static void tlb_sequences(uint64_t seed, struct vmm *vm)
{
	/* two counters, as two VMs' (or vCPUs') */
	static uint64_t gens[2] = {1, 1};
	static const struct xg_vcpu_ops kept_ops[2] = {
	    {.read_gpa = v_read_gpa, .ram_ptr = v_ram_ptr, .ram_gen = &gens[0]},
	    {.read_gpa = v_read_gpa, .ram_ptr = v_ram_ptr, .ram_gen = &gens[1]}};
	static const struct xg_vcpu_ops no_gen = {.read_gpa = v_read_gpa, .ram_ptr = v_ram_ptr};
	struct xg_emu_x86_tlb tlb;
	struct xg_emu_x86_regs r;
	struct ref w = {0}, last = {0}, filled_ref = {0};
	struct inputs filled = {0};
	/* what the last kept translation was made under, to go back to */
	struct xg_emu_x86_regs back_r;
	uint64_t back_la = 0;
	unsigned back_kind = 0, back_cpl = 0, back_sel = 0, sel = 0;
	unsigned changes[C_COUNT] = {0}, served[C_COUNT] = {0};
	unsigned bad = 0, stale = 0, not_served = 0, kept_wrongly = 0, n_nogen = 0, n_mis = 0;
	uint64_t la = rnd_la();
	unsigned kind = rnd_kind(), cpl = (unsigned)(rnd() % 4);
	int have = 0, have_filled = 0;

	memset(&tlb, 0, sizeof(tlb));
	fill(0);
	fill(1);
	tlb_regs(&r);
	back_r = r;
	for (unsigned round = 0; round < TLB_ROUNDS; round++) {
		enum change c = have ? (enum change)(rnd() % C_COUNT) : C_ALL;
		struct inputs now;
		int served_now, longmode, matches;
		uint64_t gpa = 0;
		uint32_t err = 0;
		int rc, which = (int)(rnd() % 16); /* 0: no ram_gen; 1: misaligned ram_ptr */

		/* RAM as a guest's: a few rewrites, rarely a new image */
		if (round % 4096 == 0) {
			fill(0);
			fill(1);
		}
		switch (c) {
		case C_NONE:
			break;
		case C_OFFSET:
			la = (la & ~0xfffull) | (rnd() & 0xfff);
			break;
		case C_READ:
			if (ram == images[0] && last.reads)
				poke(last.at[rnd() % last.reads]);
			break;
		case C_OTHER:
			poke((rnd() % (RAM_SIZE / 8)) * 8);
			break;
		case C_PAGE:
			la ^= (rnd() | 1) << 12;
			break;
		case C_NEAR:
			la ^= (1 + rnd() % 511) << 12;
			break;
		case C_CR3:
			r.cr3 = rnd_target(0) | (rnd() & 0xfff);
			break;
		case C_PG:
			r.cr0 ^= 1ull << 31;
			break;
		case C_LMA:
			r.efer ^= 1ull << 10;
			break;
		case C_WP:
			r.cr0 ^= 1ull << 16;
			break;
		case C_NXE:
			r.efer ^= 1ull << 11;
			break;
		case C_LA57:
			r.cr4 ^= 1ull << 12;
			break;
		case C_KIND:
			kind = rnd_kind();
			break;
		case C_CPL:
			cpl = (unsigned)(rnd() % 4);
			break;
		case C_GEN:
			gens[sel]++;
			break;
		case C_GENP:
			sel ^= 1;
			break;
		case C_BACK:
			r = back_r, la = back_la, kind = back_kind, cpl = back_cpl, sel = back_sel;
			ram = images[0];
			break;
		case C_ALL:
		default:
			tlb_regs(&r);
			la = rnd_la();
			kind = rnd_kind(), cpl = (unsigned)(rnd() % 4);
			break;
		}
		changes[c]++;
		ref_walk(&r, la, kind, cpl, &w);
		now = inputs_of(&r, la, kind, cpl, sel, gens[sel]);
		longmode = (r.efer & 0x400) && (r.cr0 & (1ull << 31));
		vm->ram_ptrs = vm->read_gpas = 0;
		vm->misalign = which == 1;
		rc = xg_x86_walk_tlb(which == 0 ? &no_gen : &kept_ops[sel], vm, &r, la, kind, cpl,
				     &gpa, &err, &tlb);
		served_now = vm->ram_ptrs == 0 && vm->read_gpas == 0 && w.reads;
		n_nogen += which == 0, n_mis += which == 1;
		if (!same(rc, gpa, err, &w)) {
			if (bad++ < 3) {
				diag("xg_x86_walk_tlb after a change of %s%s: rc %d gpa %#" PRIx64
				     " err %#x",
				     change_name[c],
				     served_now ? " (served from what it kept)" : "", rc, gpa, err);
				print_case(seed, round, &r, la, kind, cpl, &w);
			}
		}
		/* what was kept, kept under these inputs, over these entries with these values */
		matches = have_filled && longmode && same_inputs(&now, &filled) &&
			  same_entries(&w, &filled_ref);
		if (served_now && which == 0) {
			if (kept_wrongly++ < 3)
				diag("a walk without ram_gen was served from a kept translation");
		} else if (served_now && !matches) {
			if (stale++ < 3) {
				diag("after a change of %s the kept translation was used",
				     change_name[c]);
				print_case(seed, round, &r, la, kind, cpl, &w);
			}
		} else if (!served_now && matches && which > 1) {
			if (not_served++ < 3) {
				diag(
				    "the kept translation again, nothing in it changed, was walked "
				    "afresh (%u lookups) after a change of %s",
				    vm->ram_ptrs, change_name[c]);
				print_case(seed, round, &r, la, kind, cpl, &w);
			}
		}
		served[c] += served_now;
		/* what the TLB holds now: a long-mode walk through the counter's ops that was
		 * not served either kept its translation (translated, every entry lent) or
		 * emptied it; nothing else touches it */
		if (which >= 1 && longmode && !served_now) {
			have_filled = which > 1 && w.rc == 0;
			filled = now, filled_ref = w;
			if (have_filled) {
				back_r = r, back_la = la, back_kind = kind, back_cpl = cpl;
				back_sel = sel;
			}
		}
		have = 1;
		last = w;
	}
	diag("kept translations: changes (served from what was kept):");
	for (int c = 0; c < C_COUNT; c++)
		diag("  %-12s %6u (%u)", change_name[c], changes[c], served[c]);
	ok(!bad, "xg_x86_walk_tlb: %u walks in sequences as the reference (seed %" PRIu64 ")",
	   TLB_ROUNDS, seed);
	ok(!stale && !kept_wrongly,
	   "served from what was kept only under the same registers, page, access, CPL, ram_gen "
	   "and entry values; never without ram_gen (%u walks); a walk through a misaligned "
	   "ram_ptr (%u) keeps nothing",
	   n_nogen, n_mis);
	ok(!not_served, "the kept translation again, nothing in it changed, is served without a "
			"lookup");
	ok(served[C_NONE] > 1000 && served[C_OFFSET] > 1000 && served[C_OTHER] > 1000 &&
	       served[C_BACK] > 500,
	   "kept translations serve often (repeats %u, offsets %u, other entries %u, back to "
	   "them %u)",
	   served[C_NONE], served[C_OFFSET], served[C_OTHER], served[C_BACK]);
	ok(changes[C_READ] > 1000 && served[C_READ] * 4 < changes[C_READ],
	   "entries the walk read are rewritten often (%u) and then walked again (%u served: "
	   "a rewrite of another level's entry, or to the same value)",
	   changes[C_READ], served[C_READ]);
}

int main(void)
{
	static struct vmm vm;
	const struct xg_vcpu_ops with_ptr = {.read_gpa = v_read_gpa, .ram_ptr = v_ram_ptr};
	const struct xg_vcpu_ops plain = {.read_gpa = v_read_gpa};
	uint64_t seed = xg_oracle_seed();
	unsigned bad[4] = {0}, count[4] = {0}, outcomes[4] = {0}, depth[6] = {0};
	static const char *const names[4] = {
	    "xg_x86_walk with ram_ptr", "xg_x86_walk with read_gpa only", "xg_x86_walk_generic",
	    "xg_x86_walk with a misaligned ram_ptr (read_gpa used)"};

	plan(7 + TLB_TESTS);
	diag("seed %" PRIu64 " (XG_SEED=%" PRIu64 " repeats this run)", seed, seed);
	rs = seed;
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct xg_emu_x86_regs r;
		struct ref w;
		int four_byte;
		uint64_t la = rnd_la();
		unsigned kind = (unsigned[]){XG_EMU_X86_READ, XG_EMU_X86_WRITE, XG_EMU_X86_RMW,
					     XG_EMU_X86_FETCH}[rnd() % 4];
		unsigned cpl = (unsigned)(rnd() % 4);

		if (round % 256 == 0) {
			fill(0);
			fill(1);
		}
		rnd_regs(&r, &four_byte);
		ram = images[four_byte];
		ref_walk(&r, la, kind, cpl, &w);
		outcomes[w.rc < 0 ? 0 : w.rc == 1 ? (w.err & 1 ? 2 : 1) : 3]++;
		depth[w.reads]++;
		for (int k = 0; k < 4; k++) {
			const struct xg_vcpu_ops *o;
			uint64_t gpa = 0;
			uint32_t err = 0;
			int rc;
			vm.ram_ptrs = vm.read_gpas = 0;
			vm.misalign = k == 3;
			o = k == 1 || k == 2 ? &plain : &with_ptr;
			if (k == 2)
				rc = xg_x86_walk_generic(o, &vm, &r, la, kind, cpl, &gpa, &err);
			else
				rc = xg_x86_walk(o, &vm, &r, la, kind, cpl, &gpa, &err);
			count[k]++;
			if (!same(rc, gpa, err, &w)) {
				if (bad[k]++ < 3) {
					diag("%s: rc %d gpa %#" PRIx64 " err %#x", names[k], rc,
					     gpa, err);
					print_case(seed, round, &r, la, kind, cpl, &w);
				}
				continue;
			}
			/* one lookup per entry, each read once: by ram_ptr when RAM, else by
			 * read_gpa (an entry outside RAM, the table that fails) */
			if (k == 0) {
				unsigned want = w.reads + (w.rc < 0);
				if (vm.ram_ptrs != want || vm.read_gpas != (unsigned)(w.rc < 0)) {
					if (bad[k]++ < 3) {
						diag("%s: %u ram_ptr and %u read_gpa calls for %u "
						     "entries",
						     names[k], vm.ram_ptrs, vm.read_gpas, w.reads);
						print_case(seed, round, &r, la, kind, cpl, &w);
					}
				}
			}
		}
	}
	tlb_sequences(seed, &vm);
	diag("outcomes: %u table not readable, %u not-present faults, %u rights faults, %u "
	     "translated; entries read 0..5: %u %u %u %u %u %u",
	     outcomes[0], outcomes[1], outcomes[2], outcomes[3], depth[0], depth[1], depth[2],
	     depth[3], depth[4], depth[5]);
	for (int k = 0; k < 4; k++)
		ok(!bad[k], "%s: %u walks as the reference (seed %" PRIu64 ")", names[k], count[k],
		   seed);
	/* the rounds reached what they are for */
	ok(outcomes[0] > 1000 && outcomes[1] > 1000 && outcomes[2] > 1000 && outcomes[3] > 1000,
	   "every outcome is reached often");
	ok(depth[4] > 1000 && depth[5] > 100, "4-level and 5-level walks reach their last level");
	ok(depth[2] > 1000 && depth[3] > 1000, "32-bit and PAE walks reach their last level");
	return done_testing();
}
