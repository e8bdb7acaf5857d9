/*
 * sync_regs.h - registers written back through kvm_run (KVM_CAP_SYNC_REGS) by the x86
 * backend's files (kvm_x86.c, ops.c); kvm_int.h has the vCPU.
 */
#ifndef XG_KVM_X86_SYNC_REGS_H
#define XG_KVM_X86_SYNC_REGS_H

#include "backend/kvm/kvm_int.h"

/*
 * xg_kvm_put_regs in place. With KVM_CAP_SYNC_REGS, the registers in kvm_run, marked
 * for the next KVM_RUN to apply: they hold every register's current value - KVM's own,
 * stored there at the last exit (api.rst 5 "kvm_run", kvm_valid_regs), or those written
 * since (what KVM_RUN will set) - and KVM_RUN applies the whole block (arch/x86/kvm/x86.c
 * sync_regs(), __set_regs()), so the caller writes into it the ones it changes and nothing
 * else: RIP and RFLAGS only, unless `gprs` says it may write others too. NULL without the
 * capability (then xg_kvm_put_regs or xg_kvm_set_regs, with every register). Inline: it is
 * on every emulated exit's way back.
 */
static inline struct kvm_regs *xg_kvm_put_regs_in_place(struct xg_kvm_vcpu *v, int gprs)
{
	if (!v->sync_regs)
		return NULL;
	if (gprs)
		v->regs_put_all = 1;
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	v->counts.regs_put++;
	return &v->run->s.regs.regs;
}

#endif
