/*
 * kvm_int.h - the KVM backend's own structures, shared by kvm.c (VM, vCPU, ioctls) and
 * ops.c (the engine's vCPU ops on a backend vCPU).
 */
#ifndef XG_KVM_INT_H
#define XG_KVM_INT_H

#include <pthread.h>

#include "xg_kvm.h"

/*
 * The private-memory API (Linux 6.8+), for builds against older linux-libc-dev (Debian 12
 * ships 6.1). From Documentation/virt/kvm/api.rst: 4.2 KVM_CREATE_VM (x86 VM types), 4.140
 * KVM_SET_USER_MEMORY_REGION2, 4.141 KVM_SET_MEMORY_ATTRIBUTES, 4.143 KVM_CREATE_GUEST_MEMFD,
 * 7.x the capabilities; x86/hypercalls.rst 8 KVM_HC_MAP_GPA_RANGE.
 */
#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2 231
#endif
#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO 232
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif
#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235
#endif
#ifndef KVM_X86_SW_PROTECTED_VM
#define KVM_X86_SW_PROTECTED_VM 1
#endif
#ifndef KVM_MEM_GUEST_MEMFD
#define KVM_MEM_GUEST_MEMFD (1u << 2)
#endif
#ifndef KVM_MEMORY_ATTRIBUTE_PRIVATE
#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ull << 3)
#endif
#ifndef KVM_HC_MAP_GPA_RANGE
#define KVM_HC_MAP_GPA_RANGE 12
#endif
#ifndef KVM_SET_USER_MEMORY_REGION2
struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};
struct kvm_memory_attributes {
	__u64 address;
	__u64 size;
	__u64 attributes;
	__u64 flags;
};
struct kvm_create_guest_memfd {
	__u64 size;
	__u64 flags;
	__u64 reserved[6];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#define KVM_SET_MEMORY_ATTRIBUTES   _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
#define KVM_CREATE_GUEST_MEMFD	    _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif

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
	/* vm.type sw_protected: RAM is the guest_memfd (private side) plus mem (shared side) */
	int type;	/* enum xg_kvm_vm_type */
	int gmem_fd;	/* -1 without */
	pthread_mutex_t attr_lock; /* serialises conversions: attributes are VM-wide */
	uint64_t conversions;	   /* carried out, under attr_lock */
	/* Where attributes may be set (under attr_lock): region 0 is RAM (backed: a
	 * guest_memfd and the shared mapping), the others device windows with no memslot.
	 * priv[page] is what KVM was last told (1 = private): KVM has no ioctl to read
	 * attributes back. */
	struct xg_kvm_attr_region {
		uint64_t gpa, size;
		int backed;
		uint8_t *priv;
	} regions[1 + XG_KVM_MAX_WINDOWS];
	int nregions;
	uint64_t conv_failed; /* conversions a step of which failed */
	uint64_t attr_ioctls; /* KVM_SET_MEMORY_ATTRIBUTES issued (including put-backs) */
	uint64_t attempts;    /* conversions that reached the ioctls (XG_KVM_FAIL_CONVERT) */
	struct {
		int step;     /* 1 attributes, 2 discard */
		uint64_t nth; /* the attempt it fails */
	} inject[8];
	int ninject;
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
