/*
 * kvm_pmem.h - the private-memory KVM API (Linux 6.8+) for tests built against Debian 12's
 * 6.1 linux-libc-dev, which lacks it. Written from Documentation/virt/kvm/api.rst of 6.12:
 * 4.140 KVM_SET_USER_MEMORY_REGION2, 4.141 KVM_SET_MEMORY_ATTRIBUTES, 4.143
 * KVM_CREATE_GUEST_MEMFD, 5 "The kvm_run structure" (KVM_EXIT_MEMORY_FAULT), 7.x
 * KVM_CAP_VM_TYPES / KVM_CAP_MEMORY_ATTRIBUTES / KVM_CAP_GUEST_MEMFD, and
 * Documentation/virt/kvm/x86/hypercalls.rst 8. KVM_HC_MAP_GPA_RANGE.
 */
#ifndef XG_VM_KVM_PMEM_H
#define XG_VM_KVM_PMEM_H

#include <stdint.h>
#include <linux/kvm.h>

#ifndef KVM_CAP_USER_MEMORY2
#define KVM_CAP_USER_MEMORY2	     231
#define KVM_CAP_MEMORY_FAULT_INFO    232
#define KVM_CAP_MEMORY_ATTRIBUTES    233
#define KVM_CAP_GUEST_MEMFD	     234
#define KVM_CAP_VM_TYPES	     235
#define KVM_X86_SW_PROTECTED_VM	     1
#define KVM_MEM_GUEST_MEMFD	     (1u << 2)
#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ull << 3)
#define KVM_EXIT_MEMORY_FAULT	     39
#define KVM_MEMORY_EXIT_FLAG_PRIVATE (1ull << 3)

struct kvm_userspace_memory_region2 {
	uint32_t slot;
	uint32_t flags;
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t guest_memfd_offset;
	uint32_t guest_memfd;
	uint32_t pad1;
	uint64_t pad2[14];
};

struct kvm_memory_attributes {
	uint64_t address;
	uint64_t size;
	uint64_t attributes;
	uint64_t flags;
};

struct kvm_create_guest_memfd {
	uint64_t size;
	uint64_t flags;
	uint64_t reserved[6];
};

#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#define KVM_SET_MEMORY_ATTRIBUTES   _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
#define KVM_CREATE_GUEST_MEMFD	    _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#endif

/* kvm_run.memory_fault, at the start of the exit union (api.rst 5). */
struct xg_vm_memory_fault {
	uint64_t flags;
	uint64_t gpa;
	uint64_t size;
};

#endif
