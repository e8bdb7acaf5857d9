/*
 * nohost.c - what libexitgate offers in place of the x86 KVM backend and the x86 emulator
 * when it is built for another host architecture (the aarch64 cross build:
 * tests/vm/aarch64-linux-gnu.cmake).
 *
 * The x86 emulator runs ALU and x87 operations on the host CPU (core/emu/x86) and the KVM
 * backend drives x86 vCPUs (kvm_regs, sregs, CPUID), so neither exists on an arm64 host.
 * Everything else - decoding exits, policies, checks, dumps - is architecture-neutral and
 * built as it is. These entry points refuse with a reason a person can act on; nothing here
 * pretends to work.
 */
#include <stdio.h>

#include "exitgate.h"
#include "backend/kvm/vmm.h"

#if defined(__aarch64__)
#define XG_HOST_ARCH "aarch64"
#else
#define XG_HOST_ARCH "this architecture"
#endif

static void no_x86(char *why, size_t n)
{
	if (n)
		snprintf(
		    why, n,
		    "x86 emulation needs an x86 host (the emulator runs ALU and x87 operations "
		    "on the host CPU); this exitgate is built for " XG_HOST_ARCH);
}

int xg_emulate_x86(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		   struct xg_emu_x86_result *res, char *why, size_t n)
{
	no_x86(why, n);
	return -1;
}

int xg_emulate_x86_exit_ok(const struct xg_exit *x, char *why, size_t n)
{
	no_x86(why, n);
	return 0;
}

int xg_emulate_x86_supports(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			    char *why, size_t n)
{
	no_x86(why, n);
	return 0;
}

unsigned xg_x86_insn_length(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			    char *why, size_t n)
{
	no_x86(why, n);
	return 0;
}

const char *xg_x86_insn_class(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x)
{
	return NULL; /* the x86 decoder is not built here: e.insn_class is nil */
}

int xg_vmm_run(const struct xg_vmm_opts *o)
{
	fprintf(stderr, "exitgate run: the bundled VMM drives x86 vCPUs only; this exitgate is "
			"built for " XG_HOST_ARCH " (decode, check and test work here)\n");
	return XG_RUN_SETUP;
}

int xg_vmm_command(struct xg_vmm *m, const char *line, FILE *f)
{
	fprintf(f, "error: no VMM in this build (" XG_HOST_ARCH ")\n");
	return -1;
}
