/* emulate_x86.c - stub, being written */
#include <stdio.h>
#include "exitgate.h"
#include "xg_emu_x86.h"
int xg_emulate_x86(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		   struct xg_emu_x86_result *res, char *why, size_t n)
{
	(void)ops; (void)opaque; (void)x; (void)res;
	snprintf(why, n, "not yet");
	return -1;
}
int xg_emulate_x86_supports(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			    char *why, size_t n)
{
	(void)ops; (void)opaque; (void)x;
	snprintf(why, n, "not yet");
	return 0;
}
unsigned xg_x86_insn_length(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			    char *why, size_t n)
{
	(void)ops; (void)opaque; (void)x;
	snprintf(why, n, "not yet");
	return 0;
}
