/*
 * ops_common.c - the vCPU ops every architecture's backend shares: guest RAM, device
 * accesses and pause/resume through the VMM's callbacks (xg_kvm_vcpu_set_vmm).
 */
#include <errno.h>
#include <string.h>

#include "xg_hot.h"
#include "backend/kvm/kvm_int.h"

int xg_kvm_op_read_gpa(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct xg_kvm_vcpu *v = o;
	const void *p = xg_kvm_ram_at(v->vm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

/* exitgate.h ram_ptr: the same lookup read_gpa makes, so the two agree by construction */
XG_HOT const void *xg_kvm_op_ram_ptr(void *o, uint64_t gpa, size_t len)
{
	return xg_kvm_ram_at(((struct xg_kvm_vcpu *)o)->vm, gpa, len);
}

int xg_kvm_op_write_gpa(void *o, uint64_t gpa, const void *buf, size_t len)
{
	struct xg_kvm_vcpu *v = o;
	void *p = xg_kvm_ram_at(v->vm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

XG_HOT int xg_kvm_op_mmio_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct xg_kvm_vcpu *v = o;

	if (!v->vmm_ops || !v->vmm_ops->mmio_read)
		return -ENODEV;
	return v->vmm_ops->mmio_read(v->vmm, gpa, buf, len);
}

XG_HOT int xg_kvm_op_mmio_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	struct xg_kvm_vcpu *v = o;

	if (!v->vmm_ops || !v->vmm_ops->mmio_write)
		return -ENODEV;
	return v->vmm_ops->mmio_write(v->vmm, gpa, buf, len);
}

int xg_kvm_op_pause(void *o, const char *reason)
{
	struct xg_kvm_vcpu *v = o;

	return v->vmm_ops && v->vmm_ops->pause ? v->vmm_ops->pause(v->vmm, reason) : 0;
}

int xg_kvm_op_resume(void *o)
{
	struct xg_kvm_vcpu *v = o;

	return v->vmm_ops && v->vmm_ops->resume ? v->vmm_ops->resume(v->vmm) : 0;
}

void xg_kvm_vcpu_set_vmm(struct xg_kvm_vcpu *v, const struct xg_kvm_vmm_ops *ops, void *vmm)
{
	v->vmm_ops = ops;
	v->vmm = vmm;
}
