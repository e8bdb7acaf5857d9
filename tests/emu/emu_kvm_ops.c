/*
 * emu_kvm_ops.c - see emu_kvm_ops.h.
 */
#include <errno.h>
#include <string.h>

#include "action/x86_walk.h"
#include "emu_kvm_ops.h"

/* Registers: the backend's own vCPU ops (what `exitgate run` uses), so the harness checks
 * the emulator through the same register path. */
static int get_regs(void *opaque, struct xg_emu_x86_regs *r)
{
	struct emu_kvm *k = opaque;
	struct xg_vcpu_ops ops;

	xg_kvm_vcpu_ops(k->vcpu, &ops);
	return ops.get_x86_regs(k->vcpu, r);
}

static int set_regs(void *opaque, const struct xg_emu_x86_regs *r)
{
	struct emu_kvm *k = opaque;
	struct xg_vcpu_ops ops;

	xg_kvm_vcpu_ops(k->vcpu, &ops);
	return ops.set_x86_regs(k->vcpu, r);
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
		       XG_EMU_X86_XS_AVX512_END - XG_EMU_X86_XS_OPMASK);
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
		       XG_EMU_X86_XS_AVX512_END - XG_EMU_X86_XS_OPMASK);
	return xg_kvm_set_xsave(k->vcpu, k->xsave, k->xsave_size, &k->err) ? -EIO : 0;
}

/* The guest's page tables, walked by the same code as the emulate verdict's (x86_walk.c). */
static int walk(struct emu_kvm *k, uint64_t la, unsigned kind, unsigned cpl, uint64_t *gpa,
		uint32_t *pf)
{
	struct xg_vcpu_ops ops;
	struct xg_emu_x86_regs r;

	xg_kvm_vcpu_ops(k->vcpu, &ops);
	if (ops.get_x86_regs(k->vcpu, &r))
		return -EIO;
	return xg_x86_walk(&ops, k->vcpu, &r, la, kind, cpl, gpa, pf);
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
