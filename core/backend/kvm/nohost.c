/*
 * nohost.c - what libexitgate offers in place of the x86 emulator when it is built for
 * another host architecture (the aarch64 build: tests/vm/aarch64-linux-gnu.cmake).
 *
 * The x86 emulator runs ALU and x87 operations on the host CPU (core/emu/x86), so it does not
 * exist on an arm64 host; the KVM backend there is core/backend/kvm/arm64. These entry
 * points refuse with a reason a person can act on; nothing here pretends to work.
 */
#include <stdio.h>

#include "exitgate.h"
#include "action/emulate_x86.h"

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
		   struct xg_emu_x86_memo *memo, struct xg_emu_x86_result *res, char *why, size_t n)
{
	no_x86(why, n);
	return -1;
}

int xg_emulate_x86_status(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			  struct xg_emu_x86_memo *memo, struct xg_emu_x86_result *res, char *why,
			  size_t n)
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
