/* ops.c - stub, being written */
#include <string.h>
#include "backend/kvm/xg_kvm.h"
void xg_kvm_vcpu_ops(struct xg_kvm_vcpu *v, struct xg_vcpu_ops *ops)
{
	(void)v;
	memset(ops, 0, sizeof(*ops));
}
void xg_kvm_vcpu_set_vmm(struct xg_kvm_vcpu *v, const struct xg_kvm_vmm_ops *ops, void *vmm)
{
	(void)v; (void)ops; (void)vmm;
}
int xg_kvm_vcpu_avx512_state_ok(struct xg_kvm_vcpu *v)
{
	(void)v;
	return 0;
}
