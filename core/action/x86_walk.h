/*
 * x86_walk.h - guest-virtual to guest-physical, by walking the guest's own page tables in
 * guest RAM through the vCPU ops (ram_ptr where the VMM lends it, else read_gpa), as the
 * CPU would (SDM Vol. 3A 4.5): no paging, 32-bit (4 KiB / 4 MiB pages), PAE, 4-level and
 * 5-level (CR4.LA57), with the U/S, R/W, NX, SMEP/SMAP-free permission rules of the access
 * and the #PF error code a fault gets.
 * Used by the emulator bridge (emulate_x86.c) and by dumps (code around RIP).
 */
#ifndef XG_X86_WALK_H
#define XG_X86_WALK_H

#include <stdint.h>

#include "exitgate.h"
#include "xg_emu_x86.h"

/* Translate linear address la for an access of `kind` (XG_EMU_X86_READ/WRITE/RMW/FETCH) at
 * privilege cpl. 0 with *gpa, 1 if it page-faults (*pf_error filled, SDM Vol. 3A 4.7), or a
 * negative errno when a table cannot be read. */
int xg_x86_walk(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_emu_x86_regs *r,
		uint64_t la, unsigned kind, unsigned cpl, uint64_t *gpa, uint32_t *pf_error);

/* The same, keeping the translation in *tlb and serving the next one from it while it stands
 * (struct xg_emu_x86_tlb): a 4- or 5-level walk through a VMM that lends its RAM (ram_ptr)
 * and says how long the pointers last (ram_gen). Any other walk is xg_x86_walk's, and keeps
 * nothing. */
int xg_x86_walk_tlb(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_emu_x86_regs *r,
		    uint64_t la, unsigned kind, unsigned cpl, uint64_t *gpa, uint32_t *pf_error,
		    struct xg_emu_x86_tlb *tlb);

/* The same for every paging mode by one loop: what xg_x86_walk does outside long mode, and
 * for tests the reference its long-mode loop is held to. */
int xg_x86_walk_generic(const struct xg_vcpu_ops *ops, void *opaque,
			const struct xg_emu_x86_regs *r, uint64_t la, unsigned kind, unsigned cpl,
			uint64_t *gpa, uint32_t *pf_error);

/* Read len bytes of guest RAM at linear address la (page by page, supervisor read): the
 * number of bytes read before the first page that is unmapped or not RAM. Never touches a
 * device. */
size_t xg_x86_read_virt(const struct xg_vcpu_ops *ops, void *opaque,
			const struct xg_emu_x86_regs *r, uint64_t la, void *buf, size_t len);

#endif
