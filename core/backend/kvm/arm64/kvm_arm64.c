/*
 * kvm_arm64.c - the arm64 VM and vCPU (see xg_kvm.h, "arm64"), and the arm64 part of the
 * mini-VMM (vmm.h): its capabilities and the entry state.
 *
 * The VM is KVM_CREATE_VM(0): the default 40-bit IPA space (api.rst 4.2). RAM is memslot 0
 * at ram_base (kvm.c); there is no interrupt controller, which KVM allows as long as no
 * interrupt is asked for (the guests here take none). A vCPU is made as api.rst 4.82
 * KVM_ARM_VCPU_INIT says: the target KVM_ARM_PREFERRED_TARGET names, with
 * KVM_ARM_VCPU_PSCI_0_2 so that PSCI SYSTEM_OFF/SYSTEM_RESET come out as
 * KVM_EXIT_SYSTEM_EVENT. After the init the vCPU is in its architectural reset state: AArch64
 * EL1h, D, A, I, F masked, SCTLR_EL1.M = 0 (stage 1 off: VA = IPA). Its registers are
 * reached with KVM_GET/SET_ONE_REG only (arm64 has no KVM_GET_REGS; api.rst 4.68 lists the
 * ids: core registers by their offset in struct kvm_regs, system registers by
 * op0/op1/CRn/CRm/op2).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "backend/kvm/kvm_int.h"
#include "backend/kvm/vmm.h"

/* Capabilities (include/uapi/linux/kvm.h), for headers that predate them. */
#ifndef KVM_CAP_ARM_NISV_TO_USER
#define KVM_CAP_ARM_NISV_TO_USER 177
#endif
#ifndef KVM_CAP_ARM_INJECT_EXT_DABT
#define KVM_CAP_ARM_INJECT_EXT_DABT 178
#endif

#define PSTATE_EL1H_DAIF 0x3c5ull /* M = EL1h (0b0101), D A I F set (ARM ARM C5.2.18) */

const int xg_kvm_arch = XG_ARCH_ARM64;
const char xg_kvm_pc_reg[] = "pc";

/* ---- ONE_REG ids (api.rst 4.68, "ARM64 registers") ---- */

#define CORE_ID(size, field)                                                                       \
	(KVM_REG_ARM64 | (size) | KVM_REG_ARM_CORE |                                               \
	 (offsetof(struct kvm_regs, field) / sizeof(__u32)))
#define CORE64(field) CORE_ID(KVM_REG_SIZE_U64, field)

static const struct {
	const char *name;
	uint64_t id;
} named[] = {
    {"sp_el0", CORE64(regs.sp)},
    {"pc", CORE64(regs.pc)},
    {"pstate", CORE64(regs.pstate)},
    {"sp_el1", CORE64(sp_el1)},
    {"elr_el1", CORE64(elr_el1)},
    {"spsr_el1", CORE64(spsr[KVM_SPSR_EL1])},
    {"fpsr", CORE_ID(KVM_REG_SIZE_U32, fp_regs.fpsr)},
    {"fpcr", CORE_ID(KVM_REG_SIZE_U32, fp_regs.fpcr)},
    /* system registers: ARM ARM D17.2, the encodings of MRS/MSR */
    {"sctlr_el1", ARM64_SYS_REG(3, 0, 1, 0, 0)},
    {"ttbr0_el1", ARM64_SYS_REG(3, 0, 2, 0, 0)},
    {"ttbr1_el1", ARM64_SYS_REG(3, 0, 2, 0, 1)},
    {"tcr_el1", ARM64_SYS_REG(3, 0, 2, 0, 2)},
    {"esr_el1", ARM64_SYS_REG(3, 0, 5, 2, 0)},
    {"far_el1", ARM64_SYS_REG(3, 0, 6, 0, 0)},
    {"mair_el1", ARM64_SYS_REG(3, 0, 10, 2, 0)},
    {"cpacr_el1", ARM64_SYS_REG(3, 0, 1, 0, 2)},
    {"vbar_el1", ARM64_SYS_REG(3, 0, 12, 0, 0)},
};

uint64_t xg_kvm_arm64_reg_id(const char *name)
{
	char *end;
	unsigned long n;

	if ((name[0] == 'x' || name[0] == 'X') && name[1] >= '0' && name[1] <= '9') {
		n = strtoul(name + 1, &end, 10);
		if (!*end && n <= 30 && (name[1] != '0' || !name[2]))
			return CORE64(regs.regs[n]);
		return 0;
	}
	if (!strcmp(name, "lr"))
		return CORE64(regs.regs[30]);
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (!strcmp(named[i].name, name))
			return named[i].id;
	return 0;
}

/* A name for messages: the table's, or the id in hex. */
static const char *id_name(uint64_t id, char *buf, size_t n)
{
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (named[i].id == id)
			return named[i].name;
	for (unsigned r = 0; r <= 30; r++)
		if (CORE64(regs.regs[r]) == id) {
			snprintf(buf, n, "x%u", r);
			return buf;
		}
	snprintf(buf, n, "register %#llx", (unsigned long long)id);
	return buf;
}

/* The value is as wide as the id says (a U32 id reads 4 bytes into the low half). */
int xg_kvm_arm64_get_one(struct xg_kvm_vcpu *v, uint64_t id, uint64_t *val, struct xg_error *err)
{
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)val};
	char buf[32];

	*val = 0;
	if (ioctl(v->fd, KVM_GET_ONE_REG, &r) < 0)
		return xg_kvm_fail(err, "KVM_GET_ONE_REG %s (vCPU %d): %s",
				   id_name(id, buf, sizeof(buf)), v->index, strerror(errno));
	return 0;
}

int xg_kvm_arm64_set_one(struct xg_kvm_vcpu *v, uint64_t id, uint64_t val, struct xg_error *err)
{
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)&val};
	char buf[32];

	if (ioctl(v->fd, KVM_SET_ONE_REG, &r) < 0)
		return xg_kvm_fail(err, "KVM_SET_ONE_REG %s = %#llx (vCPU %d): %s",
				   id_name(id, buf, sizeof(buf)), (unsigned long long)val, v->index,
				   strerror(errno));
	return 0;
}

/* kvm.c's hook before a vCPU ioctl, and the commit of waiting registers: arm64 has no sync
 * regs (KVM_CAP_SYNC_REGS is x86 and s390), so nothing waits in kvm_run; only the count. */
int xg_kvm_arch_before_ioctl(struct xg_kvm_vcpu *v, unsigned long req, struct xg_error *err)
{
	v->counts.other++;
	return 0;
}

int xg_kvm_arch_run_dirty(struct xg_kvm_vcpu *v)
{
	return ioctl(v->fd, KVM_RUN, 0) < 0 ? -errno : 0;
}

int xg_kvm_vcpu_commit_regs(struct xg_kvm_vcpu *v, struct xg_error *err)
{
	return 0;
}

/* ---- the VM ---- */

int xg_kvm_vm_create(struct xg_kvm_vm **out, const struct xg_kvm_vm_opts *o, struct xg_error *err)
{
	static const struct xg_kvm_vm_opts defaults = {0};
	struct xg_kvm_vm *vm;
	uint64_t size, base;

	*out = NULL;
	if (!o)
		o = &defaults;
	size = o->mem_size ? o->mem_size : XG_KVM_DEFAULT_MEM;
	base = o->ram_base ? o->ram_base : XG_KVM_ARM64_RAM_BASE;
	if (o->type != XG_KVM_VM_DEFAULT)
		return xg_kvm_fail(err, "arm64 VMs have no private memory (vm.type sw_protected is "
					"x86's)");
	if (size % 4096 || base % 4096 || !size || base + size < base ||
	    (base < XG_KVM_MMIO_BASE + XG_KVM_MMIO_SIZE && base + size > XG_KVM_MMIO_BASE))
		return xg_kvm_fail(err,
				   "RAM %#llx bytes at %#llx: it must be whole 4K pages clear of "
				   "the MMIO window %#llx..%#llx",
				   (unsigned long long)size, (unsigned long long)base,
				   XG_KVM_MMIO_BASE, XG_KVM_MMIO_BASE + XG_KVM_MMIO_SIZE - 1);
	vm = xg_kvm_vm_new(base, size, err);
	if (!vm)
		return -1;
	vm->mode = XG_KVM_LONG; /* 64-bit: AArch64 */
	if (xg_kvm_vm_open(vm, 0, "", err) || xg_kvm_map_ram(vm, 1, err)) {
		xg_kvm_vm_destroy(vm);
		return -1;
	}
	*out = vm;
	return 0;
}

/* Private memory is x86's (KVM_X86_SW_PROTECTED_VM): an arm64 VM has none, and the config
 * refuses vm.type sw_protected for arm64 before a VM is made. */
int xg_kvm_set_private(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, int to_private,
		       struct xg_error *err)
{
	xg_kvm_fail(err, "cannot make 0x%llx+0x%llx %s: arm64 VMs have no private memory here",
		    (unsigned long long)gpa, (unsigned long long)size,
		    to_private ? "private" : "shared");
	return -EOPNOTSUPP;
}

/* Private memory is x86's here (sw_protected VMs): device windows need no attributes, and
 * there is nothing to count. */
int xg_kvm_add_window(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t size, struct xg_error *err)
{
	return 0;
}

void xg_kvm_pmem_stats(struct xg_kvm_vm *vm, struct xg_kvm_pmem_stats *s)
{
	memset(s, 0, sizeof(*s));
}

size_t xg_kvm_private_ranges(struct xg_kvm_vm *vm, struct xg_kvm_range *out, size_t max)
{
	return 0;
}

/* MAP_GPA_RANGE is an x86 hypercall: no arm64 guest makes one */
int xg_kvm_map_gpa_valid(struct xg_kvm_vm *vm, uint64_t gpa, uint64_t npages, uint64_t attrs)
{
	return 0;
}

uint64_t xg_kvm_conversions(struct xg_kvm_vm *vm)
{
	return 0;
}

/* ---- the vCPU ---- */

int xg_kvm_vcpu_create(struct xg_kvm_vm *vm, int index, uint64_t entry, struct xg_kvm_vcpu **out,
		       struct xg_error *err)
{
	struct kvm_vcpu_init init;
	struct xg_kvm_vcpu *v;

	*out = NULL;
	v = xg_kvm_vcpu_new(vm, index, err);
	if (!v)
		return -1;
	memset(&init, 0, sizeof(init));
	/* api.rst 4.83 KVM_ARM_PREFERRED_TARGET: the target this host's CPU runs best as */
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		xg_kvm_fail(err, "KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		goto fail;
	}
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		xg_kvm_fail(err, "KVM_ARM_VCPU_INIT (vCPU %d, target %u, PSCI 0.2): %s", index,
			    init.target, strerror(errno));
		goto fail;
	}
	if (xg_kvm_arm64_set_one(v, CORE64(regs.pstate), PSTATE_EL1H_DAIF, err) ||
	    xg_kvm_arm64_set_one(v, CORE64(regs.pc), entry, err) ||
	    xg_kvm_arm64_set_one(v, CORE64(sp_el1), vm->ram_base + vm->mem_size, err))
		goto fail;
	if (xg_kvm_ops_init(v, err))
		goto fail;
	v->next = vm->vcpus;
	vm->vcpus = v;
	*out = v;
	return 0;
fail:
	xg_kvm_vcpu_free(v);
	return -1;
}

/* X0 = a0, X1 = a1, SP_EL1 (the SP in use at EL1h) = sp */
int xg_kvm_vcpu_set_entry_args(struct xg_kvm_vcpu *v, uint64_t sp, uint64_t a0, uint64_t a1,
			       struct xg_error *err)
{
	if (xg_kvm_arm64_set_one(v, CORE64(sp_el1), sp, err) ||
	    xg_kvm_arm64_set_one(v, CORE64(regs.regs[0]), a0, err) ||
	    xg_kvm_arm64_set_one(v, CORE64(regs.regs[1]), a1, err))
		return -1;
	return 0;
}

/* ---- the mini-VMM's capabilities ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("exitgate: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * api.rst 7.x KVM_CAP_ARM_NISV_TO_USER: a data abort outside the memslots without a valid
 * syndrome (ISV = 0: writeback, pairs, SIMD structures, atomics ...) exits with
 * KVM_EXIT_ARM_NISV instead of failing KVM_RUN with ENOSYS. KVM_CAP_ARM_INJECT_EXT_DABT
 * (4.31 KVM_SET_VCPU_EVENTS, ext_dabt_pending) is what the external_abort verdict needs; it
 * is only probed (there is nothing to enable).
 */
int xg_kvm_vm_enable_caps(struct xg_kvm_vm *kvm, const struct xg_vm_cfg *vm, const char *name,
			  struct xg_error *err)
{
	struct xg_error e2;

	if (!xg_kvm_check_cap(kvm, KVM_CAP_ARM_NISV_TO_USER) ||
	    xg_kvm_enable_cap(kvm, KVM_CAP_ARM_NISV_TO_USER, 0, &e2))
		say("%s: this KVM lacks KVM_CAP_ARM_NISV_TO_USER: a load or store without "
		    "syndrome (post-index, pair, SIMD structure, atomic) to a device fails "
		    "KVM_RUN with ENOSYS and no policy sees it",
		    name);
	if (!xg_kvm_check_cap(kvm, KVM_CAP_ARM_INJECT_EXT_DABT))
		say("%s: this KVM lacks KVM_CAP_ARM_INJECT_EXT_DABT: the external_abort verdict "
		    "cannot be carried out (it fails, and on_error applies)",
		    name);
	return 0;
}
