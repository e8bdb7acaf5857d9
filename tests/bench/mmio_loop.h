/*
 * mmio_loop.h - what bench_run and bench_scale share: the device their guests load from,
 * the instruction and the policies they time, the plain loop's write of the load into the
 * XSAVE image, the clock and the median. Header-only: each benchmark is one file.
 */
#ifndef XG_BENCH_MMIO_LOOP_H
#define XG_BENCH_MMIO_LOOP_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/kvm/xg_kvm.h"
#include "xg_emu_x86.h"

/* vmovdqu (%rax),%ymm0: the measured exit, 4 bytes */
static const uint8_t insn_load[] = {0xc5, 0xfe, 0x6f, 0x00};

/* The engine's two policies: a verdict from the cache after the first exit, and a Lua call
 * on every exit. */
#define POLICY_CACHED                                                                              \
	"local xg = require 'exitgate'\n"                                                          \
	"return { emulation_failure = function(e) return xg.cache(xg.emulate(), 'insn') end }\n"
#define POLICY_LUA                                                                                 \
	"local xg = require 'exitgate'\n"                                                          \
	"return { emulation_failure = function(e) return xg.emulate() end }\n"

/* The device at XG_KVM_MMIO_BASE: read k (counting from 1) returns {k, 2k, 3k, 4k}. */
struct device {
	uint64_t reads;
	uint64_t bad; /* accesses that were not a 32-byte read of the base */
};

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	struct device *d = vmm;
	uint64_t q[4];

	if (gpa != XG_KVM_MMIO_BASE || len != sizeof(q)) {
		d->bad++;
		return -ENODEV;
	}
	d->reads++;
	for (int i = 0; i < 4; i++)
		q[i] = d->reads * (uint64_t)(i + 1);
	memcpy(buf, q, sizeof(q));
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	((struct device *)vmm)->bad++;
	return -ENODEV;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

/*
 * vmovdqu (%rax),%ymm0 (SDM Vol. 2B MOVDQU/VMOVDQU, VEX.256.F3.0F 6F /r) done by hand in an
 * XSAVE image: YMM0 = m256, and being VEX-encoded it zeroes bits MAXVL-1:256 of ZMM0 (SDM
 * Vol. 1 15.5). In the standard layout (SDM Vol. 1 13.4) XMM0 is at 160, YMM0[255:128] at
 * 576, ZMM0[511:256] where this CPU's CPUID leaf 0DH puts ZMM_Hi256 (1152 on Intel, 896 on
 * AMD); XSTATE_BV bits 1 (SSE) and 2 (AVX) say those components are no longer in their init
 * state.
 */
static void load_ymm0(uint8_t *xsave, uint64_t xcr0, const uint8_t val[32])
{
	uint64_t bv;

	memcpy(&bv, xsave + XG_EMU_X86_XS_XSTATE_BV, 8);
	memcpy(xsave + XG_EMU_X86_XS_XMM0, val, 16);
	memcpy(xsave + XG_EMU_X86_XS_YMMH, val + 16, 16);
	bv |= 0x6;
	if (xcr0 & 0x40) /* ZMM_Hi256 enabled: clear ZMM0[511:256] */
		memset(xsave + XG_EMU_X86_XS_ZMMH, 0, 32);
	memcpy(xsave + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
}

/*
 * The guest-physical address of linear address la, found as any VMM must find it before it
 * touches a device for the guest: through the guest's own page tables, walked in guest RAM
 * (SDM Vol. 3A 4.5: 4-level paging, 5-level with CR4.LA57, 1 GiB and 2 MiB pages). A careful
 * hand-written handler checks what makes its one access fault - present bits, U/S at CPL 3,
 * R/W for a write (CR0.WP, or at CPL 3) - and hands anything else back; it leaves out what
 * exitgate's walk also checks (NX, SMAP/SMEP, reserved bits, the other paging modes). 0 and
 * *gpa, or -1: not mapped that way, or not long-mode paging. The guest's mapping is not
 * assumed: using a linear address as a physical one is right only for an identity map.
 *
 * With k (the saving loop's), the walk is kept as the engine keeps its own (exitgate.h
 * ram_gen, struct xg_emu_x86_tlb): the entries read, where (this VM's RAM is mapped once) and
 * their values, under which CR3, page, access and paging bits; the next walk with the same
 * key is served while every entry still holds its value. The same saving on both sides.
 */
struct kept_walk {
	uint64_t cr3, page, gpa, mode; /* mode 0: nothing kept */
	unsigned n;
	const volatile uint64_t *p[5];
	uint64_t e[5];
};

static uint64_t kept_mode(const struct kvm_sregs *s, int write)
{
	return 1 | (s->cr0 & (1u << 16 | 1u << 31)) | (s->cr4 & (1u << 12)) |
	       (s->efer & (1u << 10)) << 20 | (uint64_t)write << 40 |
	       (uint64_t)((s->cs.selector & 3) == 3) << 41;
}

static int guest_walk_kept(struct xg_kvm_vm *vm, const struct kvm_sregs *s, uint64_t la, int write,
			   uint64_t *gpa, struct kept_walk *k)
{
	int cpl3 = (s->cs.selector & 3) == 3, levels = (s->cr4 & (1u << 12)) ? 5 : 4;
	uint64_t table = s->cr3 & 0x000ffffffffff000ull, e = 0, mode = 0;
	unsigned n = 0;

	if (k) {
		mode = kept_mode(s, write);
		if (k->mode == mode && k->page == la >> 12 && k->cr3 == s->cr3) {
			uint64_t diff = 0;
			for (unsigned i = 0; i < k->n; i++)
				diff |= *k->p[i] ^ k->e[i];
			if (!diff) {
				*gpa = k->gpa | (la & 0xfff);
				return 0;
			}
		}
		k->mode = 0;
	}
	if (!(s->cr0 & (1u << 31)) || !(s->efer & (1u << 10)))
		return -1;
	for (int l = levels; l >= 1; l--) {
		unsigned shift = 12 + 9 * (unsigned)(l - 1);
		const uint64_t *p = xg_kvm_gpa_ptr(vm, table + ((la >> shift) & 511) * 8, 8);
		if (!p)
			return -1;
		e = *(const volatile uint64_t *)p;
		if (k)
			k->p[n] = p, k->e[n] = e;
		n++;
		if (!(e & 1) || (cpl3 && !(e & 4)) ||
		    (write && !(e & 2) && (cpl3 || (s->cr0 & (1u << 16)))))
			return -1;
		if (l == 1 || ((l == 2 || l == 3) && (e & 0x80))) {
			uint64_t mask = (1ull << shift) - 1;
			*gpa = (e & 0x000ffffffffff000ull & ~mask) | (la & mask);
			if (k) {
				k->cr3 = s->cr3, k->page = la >> 12, k->gpa = *gpa & ~0xfffull;
				k->n = n, k->mode = mode;
			}
			return 0;
		}
		table = e & 0x000ffffffffff000ull;
	}
	return -1;
}

static inline int guest_walk(struct xg_kvm_vm *vm, const struct kvm_sregs *s, uint64_t la,
			     int write, uint64_t *gpa)
{
	return guest_walk_kept(vm, s, la, write, gpa, NULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Sorts v[0..n) and returns its median. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
