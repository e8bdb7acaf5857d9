/*
 * emu_kvm_ops.c - see emu_kvm_ops.h.
 */
#include <errno.h>
#include <string.h>

#include "emu_kvm_ops.h"

static void seg_in(struct xg_emu_x86_segment *d, const struct kvm_segment *s)
{
	d->base = s->base;
	d->limit = s->limit;
	d->selector = s->selector;
	d->type = s->type;
	d->s = s->s;
	d->dpl = s->dpl;
	d->present = s->present;
	d->db = s->db;
	d->l = s->l;
	d->g = s->g;
	d->unusable = s->unusable;
}

static int get_regs(void *opaque, struct xg_emu_x86_regs *r)
{
	struct emu_kvm *k = opaque;
	struct kvm_regs g;
	struct kvm_sregs s;

	if (xg_kvm_get_regs(k->vcpu, &g, &k->err) || xg_kvm_get_sregs(k->vcpu, &s, &k->err))
		return -EIO;
	memcpy(r->gpr, &g, 16 * 8); /* kvm_regs starts rax rbx rcx rdx rsi rdi rsp rbp r8.. */
	r->gpr[0] = g.rax;
	r->gpr[1] = g.rcx;
	r->gpr[2] = g.rdx;
	r->gpr[3] = g.rbx;
	r->gpr[4] = g.rsp;
	r->gpr[5] = g.rbp;
	r->gpr[6] = g.rsi;
	r->gpr[7] = g.rdi;
	r->rip = g.rip;
	r->rflags = g.rflags;
	seg_in(&r->seg[XG_EMU_X86_ES], &s.es);
	seg_in(&r->seg[XG_EMU_X86_CS], &s.cs);
	seg_in(&r->seg[XG_EMU_X86_SS], &s.ss);
	seg_in(&r->seg[XG_EMU_X86_DS], &s.ds);
	seg_in(&r->seg[XG_EMU_X86_FS], &s.fs);
	seg_in(&r->seg[XG_EMU_X86_GS], &s.gs);
	r->cr0 = s.cr0;
	r->cr2 = s.cr2;
	r->cr3 = s.cr3;
	r->cr4 = s.cr4;
	r->efer = s.efer;
	r->xcr0 = xg_kvm_vcpu_xcr0(k->vcpu);
	return 0;
}

static int set_regs(void *opaque, const struct xg_emu_x86_regs *r)
{
	struct emu_kvm *k = opaque;
	struct kvm_regs g;

	memcpy(&g.r8, &r->gpr[8], 8 * 8);
	g.rax = r->gpr[0];
	g.rcx = r->gpr[1];
	g.rdx = r->gpr[2];
	g.rbx = r->gpr[3];
	g.rsp = r->gpr[4];
	g.rbp = r->gpr[5];
	g.rsi = r->gpr[6];
	g.rdi = r->gpr[7];
	g.rip = r->rip;
	g.rflags = r->rflags;
	return xg_kvm_set_regs(k->vcpu, &g, &k->err) ? -EIO : 0;
}

static int get_xsave(void *opaque, void *xs)
{
	struct emu_kvm *k = opaque;

	if (xg_kvm_get_xsave(k->vcpu, k->xsave, k->xsave_size, &k->err))
		return -EIO;
	memcpy(xs, k->xsave, XG_EMU_X86_XSAVE_SIZE);
	if (k->avx512_shadow) {
		uint64_t bv;
		memcpy((uint8_t *)xs + XG_EMU_X86_XS_OPMASK,
		       k->avx512_shadow + XG_EMU_X86_XS_OPMASK,
		       XG_EMU_X86_XSAVE_SIZE - XG_EMU_X86_XS_OPMASK);
		memcpy(&bv, (uint8_t *)xs + XG_EMU_X86_XS_XSTATE_BV, 8);
		bv |= 0xe0;
		memcpy((uint8_t *)xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
	}
	return 0;
}

static int set_xsave(void *opaque, const void *xs)
{
	struct emu_kvm *k = opaque;

	if (xg_kvm_get_xsave(k->vcpu, k->xsave, k->xsave_size, &k->err))
		return -EIO;
	memcpy(k->xsave, xs, XG_EMU_X86_XSAVE_SIZE);
	if (k->avx512_shadow)
		memcpy(k->avx512_shadow + XG_EMU_X86_XS_OPMASK,
		       (const uint8_t *)xs + XG_EMU_X86_XS_OPMASK,
		       XG_EMU_X86_XSAVE_SIZE - XG_EMU_X86_XS_OPMASK);
	return xg_kvm_set_xsave(k->vcpu, k->xsave, k->xsave_size, &k->err) ? -EIO : 0;
}

/* 4-level walk (SDM Vol. 3A 4.5), 4 KiB / 2 MiB / 1 GiB pages; returns 0, 1 (#PF) or -errno */
static int walk(struct emu_kvm *k, uint64_t la, unsigned kind, unsigned cpl, uint64_t *gpa,
		uint32_t *pf)
{
	struct kvm_sregs s;
	uint64_t table, e = 0;
	int write = (kind & XG_EMU_X86_WRITE) != 0, user = cpl == 3, rw = 1, us = 1;

	if (xg_kvm_get_sregs(k->vcpu, &s, &k->err))
		return -EIO;
	table = s.cr3 & 0x000ffffffffff000ull;
	for (int level = 3; level >= 0; level--) {
		unsigned idx = (la >> (12 + 9 * level)) & 511;
		uint64_t *p = xg_kvm_gpa_ptr(k->vm, table + 8 * idx, 8);
		if (!p)
			return -EFAULT;
		e = *p;
		if (!(e & 1)) {
			*pf = (write ? 2 : 0) | (user ? 4 : 0) |
			      ((kind & XG_EMU_X86_FETCH) && (s.efer & (1u << 11)) ? 16 : 0);
			return 1;
		}
		rw &= (e >> 1) & 1;
		us &= (e >> 2) & 1;
		if (level == 0 || (level <= 2 && (e & 0x80))) {
			uint64_t size = 1ull << (12 + 9 * level);
			*gpa = (e & 0x000ffffffffff000ull & ~(size - 1)) | (la & (size - 1));
			break;
		}
		table = e & 0x000ffffffffff000ull;
	}
	if ((user && !us) || (write && !rw && (user || (s.cr0 & (1u << 16))))) {
		*pf = 1 | (write ? 2 : 0) | (user ? 4 : 0);
		return 1;
	}
	return 0;
}

static int translate(void *opaque, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		     uint32_t *pf_error)
{
	uint64_t gpa;
	return walk(opaque, la, kind, cpl, &gpa, pf_error);
}

static uint8_t *backing(struct emu_kvm *k, uint64_t gpa, unsigned size)
{
	if (gpa >= k->data_gpa && gpa + size <= k->data_gpa + k->pages * 4096ull) {
		unsigned page = (unsigned)((gpa - k->data_gpa) >> 12);
		return ((k->mmio_mask >> page) & 1 ? k->mmio : k->ram) + (gpa - k->data_gpa);
	}
	return xg_kvm_gpa_ptr(k->vm, gpa, size);
}

static int rd(void *opaque, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	struct emu_kvm *k = opaque;
	uint64_t gpa;
	uint32_t pf;
	uint8_t *p;

	if (walk(k, la, XG_EMU_X86_READ, 0, &gpa, &pf))
		return -EFAULT;
	if (!(p = backing(k, gpa, size)))
		return -EFAULT;
	memcpy(buf, p, size);
	k->reads++;
	return 0;
}

static int wr(void *opaque, uint64_t la, const void *buf, unsigned size)
{
	struct emu_kvm *k = opaque;
	uint64_t gpa;
	uint32_t pf;
	uint8_t *p;

	if (walk(k, la, XG_EMU_X86_WRITE, 0, &gpa, &pf))
		return -EFAULT;
	if (!(p = backing(k, gpa, size)))
		return -EFAULT;
	memcpy(p, buf, size);
	k->writes++;
	return 0;
}

static int inject(void *opaque, const struct xg_emu_x86_exception *exc)
{
	struct emu_kvm *k = opaque;
	k->injected = 1;
	k->exc = *exc;
	return 0;
}

const struct xg_emu_x86_ops emu_kvm_ops = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .get_xsave = get_xsave,
    .set_xsave = set_xsave,
    .translate = translate,
    .read = rd,
    .write = wr,
    .inject = inject,
};
