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
 * code, or the same failure to read a table. XG_SEED=n repeats a run; a failure prints the
 * seed, the registers, the access and the entries the reference read.
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

	plan(7);
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
