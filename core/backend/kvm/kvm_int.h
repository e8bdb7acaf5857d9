/*
 * kvm_int.h - the KVM backend's own structures, shared by kvm.c (what every architecture
 * shares), x86/ (kvm_x86.c, ops.c, fault.c) and arm64/ (kvm_arm64.c, ops_arm64.c).
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

/* What the exit path touches comes first, and the struct is aligned (xg_kvm_vcpu_new):
 * after each trip through KVM_RUN the caches and the TLB are cold, and this struct's hot
 * fields had come to straddle two pages, with the error text between them. */
struct xg_kvm_vcpu {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *next;
	int fd;
	int index;
	struct kvm_run *run;
	size_t run_size;
	unsigned flags;
	uint64_t xcr0;
	uint8_t vendor; /* vm->vendor, beside xcr0: the register fetch reads both */
	/* ops.c */
	const struct xg_kvm_vmm_ops *vmm_ops;
	void *vmm;
	int avx512_ok;	    /* KVM_GET/SET_XSAVE carry the AVX-512 components */
	int sync_regs;	    /* KVM_CAP_SYNC_REGS: regs and sregs come in kvm_run; regs written
			     * go back through it (kvm_dirty_regs, kvm_x86.c) */
	uint8_t *xsave;	    /* the last KVM_GET_XSAVE image, vm->xsave_size bytes */
	int xsave_fresh;    /* ... taken since the last KVM_RUN */
	int has_xsave2;	    /* vm->has_xsave2 and vm->xsave_size, here: an exit's XSAVE */
	size_t xsave_size;  /* ioctls read them, and the VM's struct is another page */
	int no_lend;	    /* XG_KVM_NO_LEND: the emulator copies the image (no lend_xsave) */
	int no_direct;	    /* XG_KVM_NO_DIRECT: no x86_kvm_regs (the memo's direct path) */
	int no_tlb;	    /* XG_KVM_NO_TLB: no ram_gen (the direct path walks every time) */
	struct xg_kvm_ioctl_counts counts; /* kvm.c, kvm_x86.c */
	int fault_ready;     /* fault.c: this exit's access is undone (until the next KVM_RUN) */
	int regs_put_all;    /* x86: registers wait in kvm_run and not only RIP and RFLAGS
			      * changed (xg_kvm_put_regs_in_place) */
	/* arm64 (arm64/): the registers read since the last KVM_RUN, and which are */
	void *arch;
	struct xg_profile *prof; /* xg_kvm_vcpu_set_profile: ioctls timed into it, or NULL */
	/* the rest */
	struct xg_error err; /* the last ioctl failure of an op */
};

struct xg_kvm_vm {
	int kvm_fd;
	int vm_fd;
	int mode;
	uint8_t *mem;
	uint64_t ram_base; /* the GPA of mem[0] (x86: 0) */
	uint64_t mem_size;
	/* exitgate.h ram_gen: mem is mapped once, for the VM's life, so this never changes;
	 * each VM's is its own (xg_kvm_vm_new) */
	uint64_t ram_gen;
	/* RAM the backend keeps for itself (x86 long mode: page tables, GDT); 0, 0 for none */
	uint64_t reserved_start, reserved_end;
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

/* ---- kvm.c: what the architectures share ---- */
int xg_kvm_fail(struct xg_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* open /dev/kvm and check its API version: the fd, or -1 with why */
int xg_kvm_open(char *why, size_t n);
/* A VM with /dev/kvm open and nothing else (xg_kvm_vm_destroy frees it); NULL with err. */
struct xg_kvm_vm *xg_kvm_vm_new(uint64_t ram_base, uint64_t size, struct xg_error *err);
/* KVM_CREATE_VM of `type` (type_name for the message) and the kvm_run size. */
int xg_kvm_vm_open(struct xg_kvm_vm *vm, unsigned long type, const char *type_name,
		   struct xg_error *err);
/* Map the RAM; with memslot, memslot 0 holds all of it at ram_base. */
int xg_kvm_map_ram(struct xg_kvm_vm *vm, int memslot, struct xg_error *err);
/* KVM_CREATE_VCPU and its kvm_run; not yet on the VM's list. NULL with err. */
struct xg_kvm_vcpu *xg_kvm_vcpu_new(struct xg_kvm_vm *vm, int index, struct xg_error *err);
void xg_kvm_vcpu_free(struct xg_kvm_vcpu *v);
int xg_kvm_vcpu_ioctl(struct xg_kvm_vcpu *v, unsigned long req, const char *name, void *arg,
		      struct xg_error *err);
/* The same without xg_kvm_arch_before_ioctl: for an ioctl its caller has counted in
 * v->counts and that registers waiting in kvm_run can neither be read by nor undo (the
 * XSAVE ones on an exit's path). */
int xg_kvm_vcpu_ioctl_counted(struct xg_kvm_vcpu *v, unsigned long req, const char *name,
			      void *arg, struct xg_error *err);
/*
 * x86/kvm_x86.c, arm64/kvm_arm64.c: before every vCPU ioctl but KVM_RUN, count it in
 * v->counts, and (x86) when registers wait in kvm_run (kvm_dirty_regs) and `req` could read
 * them or be undone by them, KVM_SET_REGS them first. 0, or -1 with err.
 */
int xg_kvm_arch_before_ioctl(struct xg_kvm_vcpu *v, unsigned long req, struct xg_error *err);
/*
 * kvm.c's KVM_RUN when registers wait in kvm_run (kvm_dirty_regs): the ioctl, with what
 * KVM would lose of them kept for a KVM_RUN that returns before applying them (x86); 0 or
 * -errno. arm64 never leaves registers there.
 */
int xg_kvm_arch_run_dirty(struct xg_kvm_vcpu *v);

/* xg_kvm_gpa_ptr's lookup, inline for the ops on an exit's path (ram_ptr, read_gpa) */
static inline uint8_t *xg_kvm_ram_at(const struct xg_kvm_vm *vm, uint64_t gpa, size_t len)
{
	/* below ram_base, off wraps past mem_size (the RAM ends below 2^64) */
	uint64_t off = gpa - vm->ram_base;

	if (off >= vm->mem_size || len > vm->mem_size - off)
		return NULL;
	return vm->mem + off;
}

/* ops_common.c: the ops both architectures take as they are (opaque: the vCPU) */
int xg_kvm_op_read_gpa(void *o, uint64_t gpa, void *buf, size_t len);
const void *xg_kvm_op_ram_ptr(void *o, uint64_t gpa, size_t len);
int xg_kvm_op_write_gpa(void *o, uint64_t gpa, const void *buf, size_t len);
int xg_kvm_op_mmio_read(void *o, uint64_t gpa, void *buf, size_t len);
int xg_kvm_op_mmio_write(void *o, uint64_t gpa, const void *buf, size_t len);
int xg_kvm_op_pause(void *o, const char *reason);
int xg_kvm_op_resume(void *o);

/* ops.c: set up what the ops need on a new vCPU (sync regs, the XSAVE buffer, the AVX-512
 * probe); free it with the vCPU. */
int xg_kvm_ops_init(struct xg_kvm_vcpu *v, struct xg_error *err);
void xg_kvm_ops_free(struct xg_kvm_vcpu *v);

/* x86/fault.c: before an exception is injected after an IO, MMIO or MSR exit, put the vCPU back
 * on the instruction with none of its effects done. 0, or -errno with v->err.msg saying
 * why; *via_msr_error = 1 when the exception is an MSR exit's #GP, to be given as the exit's
 * error answer instead. */
int xg_kvm_fault_prepare(struct xg_kvm_vcpu *v, unsigned vector, int *via_msr_error);

#endif
