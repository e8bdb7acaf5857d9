/*
 * kvm_emulate.h - what the real-guest emulator tests (t_kvm_mxcsr, t_kvm_xcr0) share: run a
 * vCPU to its next exit, which must be KVM's emulation failure (KVM_CAP_EXIT_ON_EMULATION_
 * FAILURE: KVM_EXIT_INTERNAL_ERROR), and emulate it through the backend's ops as the engine's
 * emulate verdict does (xg_emulate_x86).
 */
#ifndef XG_TEST_KVM_EMULATE_H
#define XG_TEST_KVM_EMULATE_H

#include <stdio.h>
#include <string.h>

#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"
#include "xg_emu_x86.h"

/* *res is the emulation's (zeroed first). With xs, the vCPU's XSAVE image at the exit,
 * before the emulation, is read into it (size bytes: xg_kvm_xsave_size()). Returns what
 * xg_emulate_x86 does, or -1 with why when the exit is another or cannot be read. */
static inline int xg_test_emulate_next(struct xg_kvm_vcpu *v, const struct xg_vcpu_ops *ops,
				       void *xs, size_t size, struct xg_emu_x86_result *res,
				       char *why, size_t n)
{
	size_t run_size;
	struct kvm_run *run = xg_kvm_vcpu_run_area(v, &run_size);
	struct xg_error err;
	struct xg_exit x;
	int r = xg_kvm_vcpu_run(v);

	memset(res, 0, sizeof(*res));
	if (r || run->exit_reason != KVM_EXIT_INTERNAL_ERROR) {
		snprintf(why, n, "KVM_RUN %d, exit %u: not the emulation failure", r,
			 run->exit_reason);
		return -1;
	}
	if (xg_exit_decode(&x, run, run_size, NULL, &err) ||
	    (xs && xg_kvm_get_xsave(v, xs, size, &err))) {
		snprintf(why, n, "%.200s", err.msg);
		return -1;
	}
	return xg_emulate_x86(ops, v, &x, NULL, res, why, n);
}

#endif
