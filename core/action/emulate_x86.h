/*
 * emulate_x86.h - what the engine (verdict.c) shares with the x86 emulator bridge
 * (emulate_x86.c) beyond the public xg_emulate_x86 entry points.
 */
#ifndef XG_EMULATE_X86_H
#define XG_EMULATE_X86_H

#include <stddef.h>

#include "exitgate.h"

/* xg_emulate_x86 for a caller that reads res's status and stage, and res's reason and why
 * only when it returns -1 (the emulate verdict): on the memo's direct path res->insn is left
 * as it was, not filled (a copy of 96 bytes, ~8 cache lines of stack and memo on every
 * repeated exit; xg_emu_x86_direct's no_insn), and so are res->reason and why when it
 * returns 0 (each one more line of stack). Everything else, the guest's state included, as
 * xg_emulate_x86. */
int xg_emulate_x86_status(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			  struct xg_emu_x86_memo *memo, struct xg_emu_x86_result *res, char *why,
			  size_t n);

#endif
