/*
 * xg_kvm.h - the KVM backend: a VM on /dev/kvm with RAM at GPA 0 and vCPUs that start in
 * 64-bit long mode (or, minimally, real mode) at an entry address; on arm64 (arm64/), RAM at
 * ram_base and vCPUs in AArch64 EL1h with the MMU off (see the arm64 section below).
 *
 * This is the foundation of the bundled mini-VMM (`exitgate run`) and of every test that runs
 * a real guest. It owns the file descriptors, the guest RAM mapping, the page tables and the
 * initial vCPU state; it does not loop or decide anything. The caller runs KVM_RUN through
 * xg_kvm_vcpu_run(), reads the exit in the mmap'ed kvm_run (xg_kvm_vcpu_run_area) and uses
 * the register wrappers below, which report failures in struct xg_error like the rest of
 * libexitgate. Nothing here aborts or prints.
 *
 * Guest physical memory map (both modes):
 *
 *   0x0000_0000 .. mem_size      RAM, memslot 0, backed by an anonymous host mapping.
 *   0x0000_1000 .. 0x0000_9fff   reserved in long mode: GDT, TSS, PML4, PDPT, four PDs
 *                                (XG_KVM_RESERVED_*); xg_kvm_load refuses to overwrite it.
 *   XG_KVM_LOAD_ADDR (1 MiB)     where flat payloads go (examples/guests links them there).
 *   mem_size                     initial RSP in long mode: the stack grows down from the
 *                                top of RAM (the mini-VMM gives vCPU i the stack from
 *                                mem_size - i * XG_KVM_VCPU_STACK down).
 *   XG_KVM_MMIO_BASE ..          no memslot: every access exits with KVM_EXIT_MMIO (or an
 *                                emulation failure). RAM may not reach into it.
 *
 * Long mode identity-maps the first 4 GiB with 2 MiB pages, so guest code can address the
 * MMIO window with ordinary pointers; CS is 64-bit (XG_KVM_SEL_CODE64), the data segments
 * flat, and there is no IDT (a guest exception ends in KVM_EXIT_SHUTDOWN). Real mode needs
 * no tables: CS = (entry >> 4) & 0xf000, IP = the rest, SS:SP = 0:0xfff0, so the entry
 * must be below 1 MiB.
 *
 * Only what every guest needs is set up: the memslot, the supported CPUID, the largest XCR0
 * the host allows (with AVX-512 when present), and the real-mode TSS area Intel needs. Anything
 * optional (KVM_CAP_EXIT_ON_EMULATION_FAILURE, user-space MSRs ...) the caller enables with
 * xg_kvm_enable_cap().
 */
#ifndef XG_KVM_H
#define XG_KVM_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "exitgate.h"

#define XG_KVM_LOAD_ADDR   0x100000ULL
#define XG_KVM_MMIO_BASE   0xd0000000ULL
#define XG_KVM_MMIO_SIZE   0x20000000ULL /* up to 0xefffffff: guest devices live here */
#define XG_KVM_DEFAULT_MEM (64ULL << 20)
#define XG_KVM_VCPU_STACK  0x10000ULL /* the mini-VMM's stack per vCPU, top of RAM down */
/* arm64: RAM starts here by default (as on QEMU's virt machine); the MMIO window is the
 * same as x86's. */
#define XG_KVM_ARM64_RAM_BASE 0x40000000ULL

/* The long-mode setup's region in low RAM (see kvm.c for what each page holds). */
#define XG_KVM_RESERVED_START 0x1000ULL
#define XG_KVM_RESERVED_END   0xa000ULL /* exclusive */

/* Selectors of the long-mode GDT, for payloads that reload segments. */
#define XG_KVM_SEL_CODE64 0x08
#define XG_KVM_SEL_DATA	  0x10
#define XG_KVM_SEL_TSS	  0x18

enum xg_kvm_mode {
	XG_KVM_LONG = 0, /* 64-bit, paging on, identity map of 4 GiB (the default) */
	XG_KVM_REAL = 1, /* 16-bit real mode, for entries below 1 MiB */
};

/* The VM type (api.rst 4.2 KVM_CREATE_VM; x86: KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM). */
enum xg_kvm_vm_type {
	XG_KVM_VM_DEFAULT = 0,
	/* RAM backed by a guest_memfd (private) plus an anonymous mapping (shared), all
	 * shared at first; KVM_CAP_EXIT_HYPERCALL enabled for KVM_HC_MAP_GPA_RANGE. */
	XG_KVM_VM_SW_PROTECTED = 1,
};

struct xg_kvm_range {
	uint64_t gpa, size;
};

#define XG_KVM_MAX_PLAIN   16
#define XG_KVM_MAX_WINDOWS 16

struct xg_kvm_vm_opts {
	uint64_t mem_size; /* RAM at GPA 0 (arm64: ram_base); 0 means XG_KVM_DEFAULT_MEM */
	uint64_t ram_base; /* arm64: the GPA of RAM (0: XG_KVM_ARM64_RAM_BASE); x86: must be 0 */
	int mode;	   /* enum xg_kvm_mode */
	int type;	   /* enum xg_kvm_vm_type */
	/* sw_protected: RAM ranges (whole pages, not overlapping, at most XG_KVM_MAX_PLAIN) in
	 * memslots of their own without the guest_memfd: shared only, a private access there
	 * exits KVM_EXIT_MEMORY_FAULT */
	const struct xg_kvm_range *plain;
	size_t nplain;
};

/* xg_kvm_vcpu_flags() bits. */
#define XG_KVM_VCPU_AVX512	  0x1 /* XCR0 includes opmask|ZMM_Hi256|Hi16_ZMM state */
#define XG_KVM_VCPU_XCR0_FALLBACK 0x2 /* the AVX-512 XCR0 was refused; XCR0 is x87|SSE|AVX */
#define XG_KVM_VCPU_NO_XSAVE	  0x4 /* KVM refused CR4.OSXSAVE: XCR0 stays x87 only */

struct xg_kvm_vm;
struct xg_kvm_vcpu;
/* x86-only in <linux/kvm.h>: declared so that config.c can use this header's memory map on
 * another host (the aarch64 cross build, where the functions below are not built). */
struct kvm_xcrs;
struct kvm_xsave;

/* 0 if /dev/kvm can run a VM here; otherwise -1 and why not in why[0..n) (for a TAP SKIP). */
int xg_kvm_probe(char *why, size_t n);

int xg_kvm_vm_create(struct xg_kvm_vm **out, const struct xg_kvm_vm_opts *o, struct xg_error *err);
/* Destroys the VM's vCPUs too. NULL is fine. */
void xg_kvm_vm_destroy(struct xg_kvm_vm *vm);
int xg_kvm_vm_fd(struct xg_kvm_vm *vm);
uint64_t xg_kvm_mem_size(struct xg_kvm_vm *vm);
uint64_t xg_kvm_ram_base(struct xg_kvm_vm *vm); /* the GPA of RAM: 0 on x86 */

/* Host pointer to guest RAM [gpa, gpa+len), or NULL if any of it is not RAM. */
void *xg_kvm_gpa_ptr(struct xg_kvm_vm *vm, uint64_t gpa, size_t len);
/* Copy a payload into RAM at gpa. Fails if it does not fit in RAM or would overwrite the
 * long-mode tables. */
int xg_kvm_load(struct xg_kvm_vm *vm, uint64_t gpa, const void *image, size_t len,
		struct xg_error *err);
int xg_kvm_load_file(struct xg_kvm_vm *vm, uint64_t gpa, const char *path, struct xg_error *err);

/* KVM_ENABLE_CAP on the VM with args[0] = arg0 (api.rst 4.37). */
/*
 * Private memory (sw_protected VMs): make [gpa, gpa+size) private or shared, VM-wide and
 * serialised with other conversions. The range must be whole pages inside RAM or inside
 * one device window (xg_kvm_add_window); then KVM_SET_MEMORY_ATTRIBUTES, then, on RAM, the
 * side no longer valid is discarded. -EINVAL for a bad range (before any ioctl),
 * -EOPNOTSUPP for a VM without private memory, another -errno when a step fails; err says
 * which, and the attributes are put back (nothing discarded). XG_KVM_FAIL_CONVERT (kvm.c)
 * makes steps fail, for tests.
 */
int xg_kvm_set_private(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, int to_private,
		       struct xg_error *err);
/* Whether a MAP_GPA_RANGE request (gpa, npages, attributes: x86/hypercalls.rst 8) could be
 * carried out: whole pages, no wrap, inside RAM or one device window. */
int xg_kvm_map_gpa_valid(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t npages, uint64_t attrs);
/* Conversions carried out so far. */
uint64_t xg_kvm_conversions(struct xg_kvm_vm *vm);
/*
 * sw_protected: a range outside RAM with no memslot (a device's MMIO window) whose
 * attributes conversions may set too: a private access there exits memory_fault, and once
 * shared it is an MMIO access again. Nothing to discard there. -EINVAL when it overlaps RAM
 * or another window or is not whole pages, -ENOSPC past XG_KVM_MAX_WINDOWS.
 */
int xg_kvm_add_window(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, struct xg_error *err);
/* What the VMM told KVM about private memory: counters, and the private ranges (merged,
 * in GPA order; up to max of them into out, the number there are returned). */
struct xg_kvm_pmem_stats {
	uint64_t conversions, failed, attr_ioctls, private_pages;
};
void xg_kvm_pmem_stats(struct xg_kvm_vm *vm, struct xg_kvm_pmem_stats *s);
size_t xg_kvm_private_ranges(struct xg_kvm_vm *vm, struct xg_kvm_range *out, size_t max);
/* What private memory this KVM offers, for messages: "" when everything a sw_protected VM
 * needs is there, else the missing capabilities. */
const char *xg_kvm_pmem_missing(int kvm_fd, char *buf, size_t n);

int xg_kvm_enable_cap(struct xg_kvm_vm *vm, uint32_t cap, uint64_t arg0, struct xg_error *err);
/* KVM_CHECK_EXTENSION on the VM: the capability's value, 0 if absent (api.rst 4.4). */
int xg_kvm_check_cap(struct xg_kvm_vm *vm, uint32_t cap);

/* Create vCPU `index` in the VM's mode, ready to execute at `entry`. The VM owns it. */
int xg_kvm_vcpu_create(struct xg_kvm_vm *vm, int index, uint64_t entry, struct xg_kvm_vcpu **out,
		       struct xg_error *err);
struct kvm_run *xg_kvm_vcpu_run_area(struct xg_kvm_vcpu *v, size_t *size);
/* Time the vCPU's ioctls (not KVM_RUN) as XG_PROF_IOCTL into p while an exit is profiled
 * in it (exitgate.h, struct xg_profile); NULL stops. */
void xg_kvm_vcpu_set_profile(struct xg_kvm_vcpu *v, struct xg_profile *p);
/* KVM_RUN once: 0, or -errno (-EINTR when a signal or immediate_exit stopped it). */
int xg_kvm_vcpu_run(struct xg_kvm_vcpu *v);
int xg_kvm_vcpu_fd(struct xg_kvm_vcpu *v);
int xg_kvm_vcpu_index(struct xg_kvm_vcpu *v);
unsigned xg_kvm_vcpu_flags(struct xg_kvm_vcpu *v);
uint64_t xg_kvm_vcpu_xcr0(struct xg_kvm_vcpu *v);

/*
 * Let KVM finish the access of the last IO/MMIO/MSR exit without entering the guest again
 * (KVM_RUN with immediate_exit = 1, api.rst 5 "kvm_run", immediate_exit). Call it before
 * changing registers between two unrelated runs: otherwise the next KVM_RUN completes the
 * old access first and overwrites what was set.
 */
int xg_kvm_vcpu_flush(struct xg_kvm_vcpu *v, struct xg_error *err);

/*
 * Thin ioctl wrappers; each returns 0, or -1 with the ioctl and errno in err.
 *
 * Registers written with xg_kvm_put_regs (the engine's ops do) may wait in kvm_run for the
 * next KVM_RUN (KVM_CAP_SYNC_REGS, see xg_kvm_put_regs). Every wrapper here, and every vCPU
 * ioctl made through the backend, sees them: xg_kvm_get_regs returns them, and an ioctl
 * that could read or undo them (KVM_GET_REGS, KVM_SET_SREGS, KVM_GET/SET_VCPU_EVENTS ...)
 * is preceded by a KVM_SET_REGS of them. xg_kvm_set_regs replaces them. Code that makes
 * its own ioctls on xg_kvm_vcpu_fd() calls xg_kvm_vcpu_commit_regs() first. All of this is
 * the vCPU thread's business, like KVM_RUN.
 */
int xg_kvm_get_regs(struct xg_kvm_vcpu *v, struct kvm_regs *r, struct xg_error *err);
int xg_kvm_set_regs(struct xg_kvm_vcpu *v, const struct kvm_regs *r, struct xg_error *err);
/*
 * Set the registers at the least cost: with KVM_CAP_SYNC_REGS (on unless
 * XG_KVM_NO_SYNC_REGS=1) into kvm_run->s.regs.regs with KVM_SYNC_X86_REGS in
 * kvm_dirty_regs, which the next KVM_RUN applies before anything else it does (api.rst 5
 * "kvm_run": kvm_dirty_regs; arch/x86/kvm/x86.c sync_regs(), the same __set_regs() as
 * KVM_SET_REGS) - no ioctl of its own; else KVM_SET_REGS.
 */
int xg_kvm_put_regs(struct xg_kvm_vcpu *v, const struct kvm_regs *r, struct xg_error *err);
/* KVM_SET_REGS now of registers xg_kvm_put_regs left in kvm_run (nothing if none). */
int xg_kvm_vcpu_commit_regs(struct xg_kvm_vcpu *v, struct xg_error *err);
/*
 * The vCPU ioctls the backend made, by kind, since the vCPU was created: what an exit
 * costs (each vCPU ioctl is a vcpu_load in KVM; ~9 us on kvm_pvm). regs_put counts
 * register writes that went through kvm_run instead of KVM_SET_REGS.
 */
struct xg_kvm_ioctl_counts {
	uint64_t run;		     /* KVM_RUN (including immediate_exit completions) */
	uint64_t get_regs, set_regs; /* KVM_GET_REGS, KVM_SET_REGS (flushes included) */
	uint64_t get_sregs, set_sregs;
	uint64_t get_xsave, set_xsave; /* KVM_GET_XSAVE(2), KVM_SET_XSAVE */
	uint64_t other;		       /* every other vCPU ioctl (events, XCRs ...) */
	uint64_t regs_put;	       /* register writes left in kvm_run for KVM_RUN */
	/* the XSTATE_BV of the last image KVM_SET_XSAVE was given: the components the vCPU
	 * was handed as in use (each costs KVM a copy and a restore; SDM Vol. 1 13.4.2) */
	uint64_t set_xstate_bv;
};
void xg_kvm_vcpu_ioctl_counts(struct xg_kvm_vcpu *v, struct xg_kvm_ioctl_counts *c);
int xg_kvm_get_sregs(struct xg_kvm_vcpu *v, struct kvm_sregs *s, struct xg_error *err);
int xg_kvm_set_sregs(struct xg_kvm_vcpu *v, const struct kvm_sregs *s, struct xg_error *err);
int xg_kvm_get_xcrs(struct xg_kvm_vcpu *v, struct kvm_xcrs *x, struct xg_error *err);
int xg_kvm_set_xcrs(struct xg_kvm_vcpu *v, const struct kvm_xcrs *x, struct xg_error *err);
/* XCR0 by KVM_GET_XCRS: 0, -EIO (the ioctl failed: err says why) or -ENOENT (KVM has none).
 * It and the two above keep the vCPU's copy (get_x86_regs' xcr0) in step. */
int xg_kvm_get_xcr0(struct xg_kvm_vcpu *v, uint64_t *val, struct xg_error *err);
int xg_kvm_get_vcpu_events(struct xg_kvm_vcpu *v, struct kvm_vcpu_events *e, struct xg_error *err);
int xg_kvm_set_vcpu_events(struct xg_kvm_vcpu *v, const struct kvm_vcpu_events *e,
			   struct xg_error *err);
/*
 * The XSAVE image. Its size is xg_kvm_xsave_size() (KVM_CAP_XSAVE2, at least 4096 bytes,
 * api.rst 4.42/4.134); buf must hold that many bytes (the layout is struct kvm_xsave's,
 * possibly longer).
 */
size_t xg_kvm_xsave_size(struct xg_kvm_vcpu *v);
int xg_kvm_get_xsave(struct xg_kvm_vcpu *v, void *buf, size_t size, struct xg_error *err);
int xg_kvm_set_xsave(struct xg_kvm_vcpu *v, const void *buf, size_t size, struct xg_error *err);

/* ---- the engine's vCPU ops on a KVM vCPU (ops.c) ------------------------------------------
 *
 * xg_kvm_vcpu_ops() fills a struct xg_vcpu_ops whose opaque is the struct xg_kvm_vcpu itself:
 * registers by name and in bulk (KVM_GET/SET_REGS, SREGS), vector state through
 * KVM_GET/SET_XSAVE (XG_OPS_NO_AVX512_STATE set when the probe at vCPU creation found that
 * this KVM drops the AVX-512 components), guest RAM, page-table translation, exceptions
 * through KVM_SET_VCPU_EVENTS (api.rst 4.31), MSR answers written into kvm_run. Device
 * accesses (mmio_read/mmio_write) and pause/resume go to the callbacks the VMM sets with
 * xg_kvm_vcpu_set_vmm(); without them MMIO reads -ENODEV and pause does nothing.
 */
struct xg_kvm_vmm_ops {
	int (*mmio_read)(void *vmm, uint64_t gpa, void *buf, size_t len);
	int (*mmio_write)(void *vmm, uint64_t gpa, const void *buf, size_t len);
	int (*pause)(void *vmm, const char *reason);
	int (*resume)(void *vmm);
	int (*describe_gpa)(void *vmm, uint64_t gpa, char *buf, size_t n); /* for dumps */
};
void xg_kvm_vcpu_ops(struct xg_kvm_vcpu *v, struct xg_vcpu_ops *ops);
void xg_kvm_vcpu_set_vmm(struct xg_kvm_vcpu *v, const struct xg_kvm_vmm_ops *ops, void *vmm);
/* 1 when KVM_GET/SET_XSAVE carry the AVX-512 components on this vCPU (probed at creation). */
int xg_kvm_vcpu_avx512_state_ok(struct xg_kvm_vcpu *v);

/* ---- arm64 (arm64/kvm_arm64.c; built instead of x86/ for an aarch64 target) ----------------
 *
 * The VM: KVM_CREATE_VM(0) (the default 40-bit IPA space), RAM in memslot 0 at ram_base; no
 * interrupt controller (the guests take no interrupts). A vCPU: KVM_ARM_PREFERRED_TARGET,
 * KVM_ARM_VCPU_INIT with PSCI 0.2 (api.rst 4.82), then PC = entry, PSTATE = EL1h with D, A,
 * I, F masked (what the architecture's reset gives, ARM ARM D1.9), SP_EL1 = the top of RAM.
 * Registers through KVM_GET/SET_ONE_REG (api.rst 4.68: the arm64 core and system register
 * ids). Every failure is said with the register and errno.
 */
int xg_kvm_arm64_get_one(struct xg_kvm_vcpu *v, uint64_t id, uint64_t *val, struct xg_error *err);
int xg_kvm_arm64_set_one(struct xg_kvm_vcpu *v, uint64_t id, uint64_t val, struct xg_error *err);
/* The ONE_REG id of a register by name ("x0".."x30", "lr", "pc", "pstate", "sp_el0",
 * "sp_el1", "elr_el1", "spsr_el1", "sctlr_el1", "tcr_el1", "ttbr0_el1", "ttbr1_el1",
 * "vbar_el1", "esr_el1", "far_el1", "mair_el1", "cpacr_el1", "fpsr", "fpcr"), 0 if there is
 * none. "sp", the SP in use (SP_EL0 or SP_EL1 by PSTATE), has no id of its own: the vCPU
 * ops read PSTATE first. */
uint64_t xg_kvm_arm64_reg_id(const char *name);

#endif
