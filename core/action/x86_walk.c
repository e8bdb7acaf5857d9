/*
 * x86_walk.c - see x86_walk.h. Paging structures and their permission rules follow SDM
 * Vol. 3A chapter 4: 4.3 (32-bit), 4.4 (PAE), 4.5 (4-level and 5-level), 4.6 (access
 * rights), 4.7 (the page-fault error code).
 */
#include <errno.h>
#include <string.h>

#include "xg_hot.h"
#include "action/x86_walk.h"

#define CR0_WP	 (1ull << 16)
#define CR0_PG	 (1ull << 31)
#define CR4_PSE	 (1ull << 4)
#define CR4_PAE	 (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define PTE_P	0x1ull
#define PTE_RW	0x2ull
#define PTE_US	0x4ull
#define PTE_PS	0x80ull
#define PTE_NX	(1ull << 63)
#define ADDR_52 0x000ffffffffff000ull

/* #PF error code bits (SDM Vol. 3A 4.7). */
#define PF_P	0x1
#define PF_W	0x2
#define PF_U	0x4
#define PF_RSVD 0x8
#define PF_I	0x10

/* read_entry's way to an entry ram_ptr did not lend (not RAM, or not aligned): read_gpa;
 * out of line, so that the walks' loops stay short */
__attribute__((noinline, cold)) static int read_entry_slow(const struct xg_vcpu_ops *ops,
							   void *opaque, uint64_t gpa,
							   unsigned size, uint64_t *e)
{
	uint32_t e32;
	int rc;

	if (!ops->read_gpa)
		return -ENOSYS;
	if (size == 8)
		return ops->read_gpa(opaque, gpa, e, 8);
	rc = ops->read_gpa(opaque, gpa, &e32, 4);
	*e = e32;
	return rc;
}

/* One paging entry of `size` (4 or 8) bytes at gpa. From the VMM's own mapping of guest RAM
 * when it lends one (ram_ptr) with a single aligned load: the CPU reads each entry once, and
 * another vCPU may be rewriting the tables meanwhile, so the value tested is the value used
 * (an aligned 4- or 8-byte load is atomic: SDM Vol. 3A 8.1.1). Else, and for an entry that
 * is not in RAM, through read_gpa as before. *lent: where the entry was read in the VMM's
 * memory, or NULL when through read_gpa. */
static inline int read_entry_lent(const struct xg_vcpu_ops *ops, void *opaque, uint64_t gpa,
				  unsigned size, uint64_t *e, const void **lent)
{
	const void *p = ops->ram_ptr ? ops->ram_ptr(opaque, gpa, size) : NULL;

	if (XG_LIKELY(p && !((uintptr_t)p & (size - 1)))) {
		*e = size == 8 ? *(const volatile uint64_t *)p : *(const volatile uint32_t *)p;
		*lent = p;
		return 0;
	}
	*lent = NULL;
	return read_entry_slow(ops, opaque, gpa, size, e);
}

static inline int read_entry(const struct xg_vcpu_ops *ops, void *opaque, uint64_t gpa,
			     unsigned size, uint64_t *e)
{
	const void *lent;

	return read_entry_lent(ops, opaque, gpa, size, e, &lent);
}

/* What a long-mode walk's outcome depends on besides CR3 and the entries it reads (kept with
 * a translation): CR0.WP and EFER.NXE (the rights), CR4.LA57 (the levels), the access and the
 * CPL; bit 0 set, so that 0 is "nothing kept". */
static inline uint32_t tlb_mode(const struct xg_emu_x86_regs *r, unsigned kind, unsigned cpl)
{
	return 1u | ((r->cr0 & CR0_WP) ? 2u : 0) | ((r->cr4 & CR4_LA57) ? 4u : 0) |
	       ((r->efer & EFER_NXE) ? 8u : 0) | (kind & 15u) << 4 | (cpl & 3u) << 8;
}

/* The end of every walk: the access rights of the entries walked (rw, us: every level
 * allows; nx: one has XD with EFER.NXE), SDM Vol. 3A 4.6, and the #PF error code, 4.7.
 * present: the walk reached a page; when not, the fault has P clear. Flags are 0 or 1, and
 * the rules are sums of products: no branch but the answer's, few bytes on a cold path. */
static inline int finish(const struct xg_emu_x86_regs *r, unsigned kind, unsigned cpl,
			 unsigned present, unsigned rw, unsigned us, unsigned nx,
			 uint32_t *pf_error)
{
	unsigned user = cpl == 3, write = (kind & XG_EMU_X86_WRITE) != 0;
	unsigned fetch = (kind & XG_EMU_X86_FETCH) != 0, wp = (r->cr0 & CR0_WP) != 0;
	/* user accesses need U/S everywhere; writes need R/W everywhere, for supervisor
	 * writes only when CR0.WP; fetches fault on XD */
	unsigned deny = (user & ~us) | (write & ~rw & (user | wp)) | (fetch & nx);

	if (present & ~deny & 1)
		return 0;
	*pf_error = (present ? PF_P : 0) | (write ? PF_W : 0) | (user ? PF_U : 0) |
		    (fetch && (r->efer & EFER_NXE) ? PF_I : 0);
	return 1;
}

int xg_x86_walk_generic(const struct xg_vcpu_ops *ops, void *opaque,
			const struct xg_emu_x86_regs *r, uint64_t la, unsigned kind, unsigned cpl,
			uint64_t *gpa, uint32_t *pf_error)
{
	int rw = 1, us = 1, nx = 0, levels, esize;
	uint64_t table, e = 0, page = 0;

	if (!(r->cr0 & CR0_PG)) {
		*gpa = la & 0xffffffffull; /* no paging: linear is physical (32-bit) */
		if (r->efer & EFER_LMA)
			*gpa = la;
		return 0;
	}
	if (r->efer & EFER_LMA) {
		levels = (r->cr4 & CR4_LA57) ? 5 : 4;
		esize = 8;
		table = r->cr3 & ADDR_52;
	} else if (r->cr4 & CR4_PAE) {
		uint64_t pdpte;
		int rc;
		/* PAE: the four PDPTEs sit at CR3[31:5] (SDM Vol. 3A 4.4.1). */
		la &= 0xffffffffull;
		rc = read_entry(ops, opaque, (r->cr3 & 0xffffffe0ull) + 8 * (la >> 30), 8, &pdpte);
		if (rc)
			return rc;
		if (!(pdpte & PTE_P))
			return finish(r, kind, cpl, 0, 0, 0, 0, pf_error);
		levels = 2;
		esize = 8;
		table = pdpte & ADDR_52;
	} else {
		la &= 0xffffffffull;
		levels = 2;
		esize = 4;
		table = r->cr3 & 0xfffff000ull;
	}
	for (int level = levels - 1; level >= 0; level--) {
		unsigned shift = esize == 8 ? 12 + 9 * level : 12 + 10 * level;
		unsigned idx = (unsigned)(la >> shift) & (esize == 8 ? 511 : 1023);
		int rc = read_entry(ops, opaque, table + (uint64_t)esize * idx, esize, &e);
		if (rc)
			return rc;
		if (!(e & PTE_P))
			return finish(r, kind, cpl, 0, 0, 0, 0, pf_error);
		rw &= (e & PTE_RW) != 0;
		us &= (e & PTE_US) != 0;
		if (esize == 8 && (r->efer & EFER_NXE) && (e & PTE_NX))
			nx = 1;
		/* A large page: PS in a PDPTE (1 GiB) or PDE (2 MiB, or 4 MiB with CR4.PSE). */
		if (level > 0 && (e & PTE_PS) &&
		    ((esize == 8 && level <= 2) || (esize == 4 && (r->cr4 & CR4_PSE)))) {
			uint64_t size = 1ull << shift;
			if (esize == 4)
				page =
				    ((e & 0xffc00000ull) | ((e & 0x1fe000ull) << 19)) & ~(size - 1);
			else
				page = e & ADDR_52 & ~(size - 1);
			*gpa = page | (la & (size - 1));
			return finish(r, kind, cpl, 1, rw, us, nx, pf_error);
		}
		table = esize == 8 ? (e & ADDR_52) : (e & 0xfffff000ull);
	}
	*gpa = table | (la & 0xfff);
	return finish(r, kind, cpl, 1, rw, us, nx, pf_error);
}

/*
 * 4-level and 5-level paging (SDM Vol. 3A 4.5) with the VMM's RAM lent (ram_ptr) is what a
 * 64-bit guest runs in, and so what nearly every emulated access walks: done here in as few
 * instructions (cache lines, on a cold exit) as it takes; every other case goes to
 * xg_x86_walk_generic. 8-byte entries, 9 bits of la per level from bit 39 (bit 48 with
 * CR4.LA57), PS honoured in a PDPTE (1 GiB) and a PDE (2 MiB) only. all ANDs the entries
 * read (its P is clear when the last was not present), any ORs them: finish() takes the
 * rights from those. tests/emu/t_emu_walk holds both walks to a reference on random tables.
 * With tlb (xg_x86_walk_tlb; a constant NULL in xg_x86_walk, where it compiles away), the
 * entries read and where, kept when the walk translates and every entry was lent.
 */
__attribute__((always_inline)) static inline int
long_walk(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_emu_x86_regs *r, uint64_t la,
	  unsigned kind, unsigned cpl, uint64_t *gpa, uint32_t *pf_error,
	  struct xg_emu_x86_tlb *tlb)
{
	uint64_t table = r->cr3 & ADDR_52, e, all = ~0ull, any = 0;
	unsigned shift = (r->cr4 & CR4_LA57) ? 48 : 39, n = 0, lent_all = 1;
	int rc;

	for (;; shift -= 9) {
		const void *lent;
		rc = read_entry_lent(ops, opaque, table + ((la >> shift) & 511) * 8, 8, &e, &lent);
		if (rc)
			return rc;
		if (tlb) {
			tlb->p[n] = lent, tlb->e[n] = e;
			lent_all &= lent != NULL;
		}
		n++;
		all &= e;
		any |= e;
		if (!(e & PTE_P) || shift == 12 || (shift <= 30 && (e & PTE_PS)))
			break;
		table = e & ADDR_52;
	}
	if (all & PTE_P) {
		uint64_t mask = (1ull << shift) - 1; /* the page: 4 KiB, 2 MiB or 1 GiB */
		*gpa = (e & ADDR_52 & ~mask) | (la & mask);
	}
	rc = finish(r, kind, cpl, (all & PTE_P) != 0, (all & PTE_RW) != 0, (all & PTE_US) != 0,
		    (r->efer & EFER_NXE) && (any & PTE_NX), pf_error);
	if (tlb && !rc && lent_all) {
		tlb->cr3 = r->cr3;
		tlb->page = la >> 12;
		tlb->gpa = *gpa & ~0xfffull;
		tlb->n = n;
		tlb->mode = tlb_mode(r, kind, cpl);
	}
	return rc;
}

/* long_walk's case: 4- or 5-level paging with the VMM's RAM lent */
static inline int long_lent(const struct xg_vcpu_ops *ops, const struct xg_emu_x86_regs *r)
{
	return (r->cr0 & CR0_PG) && (r->efer & EFER_LMA) && ops->ram_ptr;
}

XG_HOT int xg_x86_walk(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_emu_x86_regs *r,
		       uint64_t la, unsigned kind, unsigned cpl, uint64_t *gpa, uint32_t *pf_error)
{
	if (!long_lent(ops, r))
		return xg_x86_walk_generic(ops, opaque, r, la, kind, cpl, gpa, pf_error);
	return long_walk(ops, opaque, r, la, kind, cpl, gpa, pf_error, NULL);
}

/* A translation not kept: the walk, keeping its own (out of the kept one's way) */
__attribute__((noinline)) static int walk_keep(const struct xg_vcpu_ops *ops, void *opaque,
					       const struct xg_emu_x86_regs *r, uint64_t la,
					       unsigned kind, unsigned cpl, uint64_t *gpa,
					       uint32_t *pf_error, struct xg_emu_x86_tlb *tlb)
{
	tlb->mode = 0; /* empty until the walk keeps its own */
	tlb->genp = ops->ram_gen;
	tlb->gen = __atomic_load_n(ops->ram_gen, __ATOMIC_RELAXED);
	return long_walk(ops, opaque, r, la, kind, cpl, gpa, pf_error, tlb);
}

/*
 * The kept translation stands when it was made under the same counter, registers, page and
 * access, and every entry it read still holds its value: then this walk would read the same
 * entries (each one's address comes from the one before it, CR3 and la) and decide the same.
 * The entries are read again with one aligned load each, as the walk reads them. Else the walk,
 * which keeps its own when it translates.
 */
XG_HOT int xg_x86_walk_tlb(const struct xg_vcpu_ops *ops, void *opaque,
			   const struct xg_emu_x86_regs *r, uint64_t la, unsigned kind,
			   unsigned cpl, uint64_t *gpa, uint32_t *pf_error,
			   struct xg_emu_x86_tlb *tlb)
{
	const uint64_t *genp = ops->ram_gen;

	if (XG_UNLIKELY(!genp || !tlb || !long_lent(ops, r)))
		return xg_x86_walk(ops, opaque, r, la, kind, cpl, gpa, pf_error);
	if (XG_LIKELY(tlb->mode == tlb_mode(r, kind, cpl) && tlb->page == la >> 12 &&
		      tlb->cr3 == r->cr3 && tlb->genp == genp &&
		      tlb->gen == __atomic_load_n(genp, __ATOMIC_RELAXED))) {
		uint64_t diff = 0;
		for (unsigned i = 0; i < tlb->n; i++)
			diff |= *tlb->p[i] ^ tlb->e[i];
		if (XG_LIKELY(!diff)) {
			*gpa = tlb->gpa | (la & 0xfff);
			return 0;
		}
	}
	return walk_keep(ops, opaque, r, la, kind, cpl, gpa, pf_error, tlb);
}

size_t xg_x86_read_virt(const struct xg_vcpu_ops *ops, void *opaque,
			const struct xg_emu_x86_regs *r, uint64_t la, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		uint64_t gpa, a = la + done;
		uint32_t pf;
		size_t chunk = 4096 - (a & 0xfff);
		if (chunk > len - done)
			chunk = len - done;
		if (xg_x86_walk(ops, opaque, r, a, XG_EMU_X86_READ, 0, &gpa, &pf) ||
		    ops->read_gpa(opaque, gpa, (uint8_t *)buf + done, chunk))
			break;
		done += chunk;
	}
	return done;
}
