/*
 * emu_kvm_ops.h - struct xg_emu_x86_ops backed by a real KVM vCPU, for the differential
 * harness: registers through KVM_GET/SET_REGS and SREGS, vector state through
 * KVM_GET/SET_XSAVE, translation by walking the guest's page tables in RAM, and memory that
 * is either guest RAM or a RAM-like MMIO buffer for the pages of the data window that have
 * no memslot. Exceptions are recorded, not injected (the harness compares them with the
 * ones the CPU raised).
 */
#ifndef EMU_KVM_OPS_H
#define EMU_KVM_OPS_H

#include "backend/kvm/xg_kvm.h"
#include "xg_emu_x86.h"

struct emu_kvm {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *vcpu;
	uint8_t *xsave; /* xg_kvm_xsave_size() bytes */
	size_t xsave_size;
	/* the data window: `pages` pages at data_gpa; page i is MMIO when bit i of mmio_mask */
	uint64_t data_gpa;
	unsigned pages;
	unsigned mmio_mask;
	uint8_t *mmio; /* pages * 4096 bytes: the device behind the MMIO pages */
	uint8_t *ram;  /* pages * 4096 bytes: the memslot backing of the RAM pages */
	/*
	 * kvm_pvm does not carry the AVX-512 components (opmask, ZMM_Hi256, Hi16_ZMM) through
	 * KVM_GET/SET_XSAVE. When avx512_shadow is set, those components are read from and
	 * written to it instead (the harness loads them into the guest with its own code).
	 */
	uint8_t *avx512_shadow;
	/* recorded */
	int injected;
	struct xg_emu_x86_exception exc;
	unsigned reads, writes;
	struct xg_error err;
};

extern const struct xg_emu_x86_ops emu_kvm_ops;

#endif
