/*
 * x86_walk.c - see x86_walk.h. Paging structures and their permission rules follow SDM
 * Vol. 3A chapter 4: 4.3 (32-bit), 4.4 (PAE), 4.5 (4-level and 5-level), 4.6 (access
 * rights), 4.7 (the page-fault error code).
 */
#include <errno.h>
#include <string.h>

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

static int read_entry(const struct xg_vcpu_ops *ops, void *opaque, uint64_t gpa, unsigned size,
		      uint64_t *e)
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

int xg_x86_walk(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_emu_x86_regs *r,
		uint64_t la, unsigned kind, unsigned cpl, uint64_t *gpa, uint32_t *pf_error)
{
	int write = (kind & XG_EMU_X86_WRITE) != 0, fetch = (kind & XG_EMU_X86_FETCH) != 0;
	int user = cpl == 3, rw = 1, us = 1, nx = 0, levels, esize;
	uint32_t err = (write ? PF_W : 0) | (user ? PF_U : 0);
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
			goto fault;
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
			goto fault;
		rw &= (e & PTE_RW) != 0;
		us &= (e & PTE_US) != 0;
		if (esize == 8 && (r->efer & EFER_NXE) && (e & PTE_NX))
			nx = 1;
		/* A large page: PS in a PDPTE (1 GiB) or PDE (2 MiB, or 4 MiB with CR4.PSE). */
		if (level > 0 && (e & PTE_PS) &&
		    ((esize == 8 && level <= 2) || (esize == 4 && (r->cr4 & CR4_PSE)))) {
			uint64_t size = 1ull << shift;
			if (esize == 4)
				page = ((e & 0xffc00000ull) | ((e & 0x1fe000ull) << 19)) & ~(size - 1);
			else
				page = e & ADDR_52 & ~(size - 1);
			*gpa = page | (la & (size - 1));
			goto rights;
		}
		table = esize == 8 ? (e & ADDR_52) : (e & 0xfffff000ull);
	}
	*gpa = table | (la & 0xfff);
rights:
	err |= PF_P;
	/* SDM Vol. 3A 4.6: user accesses need U/S everywhere; writes need R/W everywhere,
	 * for supervisor writes only when CR0.WP; fetches fault on NX. */
	if ((user && !us) || (write && !rw && (user || (r->cr0 & CR0_WP))) || (fetch && nx))
		goto fault; /* present: err has P */
	return 0;
fault: /* P is set only when the entries were present */
	if (fetch && (r->efer & EFER_NXE))
		err |= PF_I;
	*pf_error = err;
	return 1;
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
