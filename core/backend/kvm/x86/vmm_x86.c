/*
 * vmm_x86.c - the x86 part of the mini-VMM (vmm.h): the capabilities a guest's verdicts need,
 * and the entry state every payload may rely on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "backend/kvm/kvm_int.h"
#include "backend/kvm/vmm.h"

const int xg_kvm_arch = XG_ARCH_X86_64;
const char xg_kvm_pc_reg[] = "rip";

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

static const char *const user_msr_note = "unknown MSRs then #GP in the guest; no policy sees them";

/* Capabilities the verdicts need, enabled and probed once per guest (api.rst 7). */
int xg_kvm_vm_enable_caps(struct xg_kvm_vm *kvm, const struct xg_vm_cfg *vm, const char *name,
			  struct xg_error *err)
{
	struct xg_error e2;

	if (!xg_kvm_check_cap(kvm, KVM_CAP_EXIT_ON_EMULATION_FAILURE) ||
	    xg_kvm_enable_cap(kvm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &e2))
		say("%s: this KVM lacks KVM_CAP_EXIT_ON_EMULATION_FAILURE: instructions its "
		    "emulator cannot do become #UD in the guest and no policy sees them",
		    name);
	/* api.rst 7.22: exits for MSRs KVM does not know (UNKNOWN), refuses (INVAL) or the
	 * filter below denies (FILTER). */
	if (!xg_kvm_check_cap(kvm, KVM_CAP_X86_USER_SPACE_MSR) ||
	    xg_kvm_enable_cap(kvm, KVM_CAP_X86_USER_SPACE_MSR,
			      KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN |
				  KVM_MSR_EXIT_REASON_FILTER,
			      &e2)) {
		say("%s: this KVM lacks KVM_CAP_X86_USER_SPACE_MSR: %s", name, user_msr_note);
		if (vm->nmsr_trap) {
			snprintf(err->msg, sizeof(err->msg),
				 "%s: vm.msr_trap needs KVM_CAP_X86_USER_SPACE_MSR, which this KVM "
				 "lacks; remove msr_trap",
				 name);
			return -1;
		}
	} else if (vm->nmsr_trap) {
		/* api.rst 4.126 KVM_X86_SET_MSR_FILTER: allowed by default; a clear bit in a
		 * range's bitmap denies the MSR, which then exits with reason FILTER. */
		struct kvm_msr_filter f;
		static uint8_t deny[KVM_MSR_FILTER_MAX_BITMAP_SIZE]; /* all zero: deny */
		memset(&f, 0, sizeof(f));
		f.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
		for (size_t i = 0; i < vm->nmsr_trap && i < KVM_MSR_FILTER_MAX_RANGES; i++) {
			uint64_t nmsrs = (uint64_t)vm->msr_trap[i].last - vm->msr_trap[i].first + 1;
			if (nmsrs > 8ull * sizeof(deny)) {
				snprintf(
				    err->msg, sizeof(err->msg),
				    "%s: vm.msr_trap range 0x%x..0x%x has %llu MSRs; KVM takes "
				    "at most %zu per range",
				    name, vm->msr_trap[i].first, vm->msr_trap[i].last,
				    (unsigned long long)nmsrs, 8 * sizeof(deny));
				return -1;
			}
			f.ranges[i].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
			f.ranges[i].nmsrs = (uint32_t)nmsrs;
			f.ranges[i].base = vm->msr_trap[i].first;
			f.ranges[i].bitmap = deny;
		}
		if (ioctl(xg_kvm_vm_fd(kvm), KVM_X86_SET_MSR_FILTER, &f) < 0) {
			snprintf(err->msg, sizeof(err->msg), "%s: KVM_X86_SET_MSR_FILTER: %s", name,
				 strerror(errno));
			return -1;
		}
	}
	if (!xg_kvm_check_cap(kvm, KVM_CAP_MEMORY_FAULT_INFO))
		say("%s: this KVM lacks KVM_CAP_MEMORY_FAULT_INFO: memory faults come as bare "
		    "EFAULT, without the GPA a memory_fault policy needs",
		    name);
	return 0;
}

/* Long mode: RSP = the vCPU's stack; RDI = its index, RSI = the number of vCPUs (real mode
 * keeps the SP the vCPU was made with). */
int xg_kvm_vcpu_set_entry_args(struct xg_kvm_vcpu *v, uint64_t sp, uint64_t a0, uint64_t a1,
			       struct xg_error *err)
{
	struct kvm_regs r;

	if (xg_kvm_get_regs(v, &r, err))
		return -1;
	if (v->vm->mode == XG_KVM_LONG)
		r.rsp = sp;
	r.rdi = a0;
	r.rsi = a1;
	return xg_kvm_set_regs(v, &r, err);
}
