/*
 * kvm_int.h - the KVM backend's own structures, shared by kvm.c (VM, vCPU, ioctls) and
 * ops.c (the engine's vCPU ops on a backend vCPU).
 */
#ifndef XG_KVM_INT_H
#define XG_KVM_INT_H

#include "xg_kvm.h"

struct xg_kvm_vcpu {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *next;
	int fd;
	int index;
	struct kvm_run *run;
	size_t run_size;
	unsigned flags;
	uint64_t xcr0;
	/* ops.c */
	const struct xg_kvm_vmm_ops *vmm_ops;
	void *vmm;
	int avx512_ok;	    /* KVM_GET/SET_XSAVE carry the AVX-512 components */
	int sync_regs;	    /* KVM_CAP_SYNC_REGS: regs and sregs come in kvm_run */
	uint8_t *xsave;	    /* the last KVM_GET_XSAVE image, vm->xsave_size bytes */
	int xsave_fresh;    /* ... taken since the last KVM_RUN */
	struct xg_error err; /* the last ioctl failure of an op */
	int fault_ready;     /* fault.c: this exit's access is undone (until the next KVM_RUN) */
};

struct xg_kvm_vm {
	int kvm_fd;
	int vm_fd;
	int mode;
	uint8_t *mem;
	uint64_t mem_size;
	size_t run_size;
	size_t xsave_size;
	int has_xsave2;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, copied per vCPU */
	uint8_t vendor;		  /* enum xg_emu_x86_vendor of that CPUID's leaf 0 */
	struct xg_kvm_vcpu *vcpus;
};

/* ops.c: set up what the ops need on a new vCPU (sync regs, the XSAVE buffer, the AVX-512
 * probe); free it with the vCPU. */
int xg_kvm_ops_init(struct xg_kvm_vcpu *v, struct xg_error *err);
void xg_kvm_ops_free(struct xg_kvm_vcpu *v);

/* fault.c: before an exception is injected after an IO, MMIO or MSR exit, put the vCPU back
 * on the instruction with none of its effects done. 0, or -errno with v->err.msg saying
 * why; *via_msr_error = 1 when the exception is an MSR exit's #GP, to be given as the exit's
 * error answer instead. */
int xg_kvm_fault_prepare(struct xg_kvm_vcpu *v, unsigned vector, int *via_msr_error);

#endif
