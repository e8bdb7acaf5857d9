/*
 * emulate_arm64.h - what the engine (verdict.c, check.c, dumps) shares with the arm64
 * emulator bridge (emulate_arm64.c) beyond the public xg_emulate_arm64 entry points.
 */
#ifndef XG_EMULATE_ARM64_H
#define XG_EMULATE_ARM64_H

#include <stddef.h>
#include <stdint.h>

#include "exitgate.h"

/* The guest-virtual address of the access that made an arm64 data abort exit (arm_nisv,
 * mmio): KVM reports the IPA only, so the instruction at PC is fetched, decoded and its
 * addresses translated (nothing is read from a device, nothing written) and the VA whose
 * translation holds the fault IPA is the one FAR_EL1 gets. 0 with *va, or -1 with why. */
int xg_arm64_fault_va(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		      uint64_t *va, char *why, size_t n);

/* Read n bytes of guest RAM at virtual address va through the guest's stage-1 translation
 * of regs (EL1 reads; MMU off: va is the IPA): the number read before the first byte that
 * is unmapped or not RAM (never a device), why saying what stopped it. For dumps. */
struct xg_emu_arm64_regs;
size_t xg_arm64_read_virt(const struct xg_vcpu_ops *ops, void *opaque,
			  const struct xg_emu_arm64_regs *regs, uint64_t va, void *buf, size_t n,
			  char *why, size_t wn);

#endif
