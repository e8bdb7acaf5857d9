/*
 * kvm_compat.h - the kvm_run layout of current kernels, for a build against older headers.
 *
 * Debian 12 ships linux-libc-dev 6.1: no KVM_EXIT_LOONGARCH_IOCSR (38), MEMORY_FAULT (39),
 * TDX (40), ARM_SEA (41), and no memory_fault / tdx / arm_sea union members. The decoder
 * therefore reads the union through this header's own structs, written from
 * include/uapi/linux/kvm.h and api.rst of current kernels, and the _Static_asserts below
 * pin them to the system's struct kvm_run wherever both have a member: the header
 * offsets, every member the 6.1 header already has, and the union's size. The decoder
 * works on any architecture's kvm_run (a dump from an arm64 host read on x86): all
 * architectures KVM supports are little-endian 64-bit here, and the union starts at byte
 * 32 on all of them (s390's psw words are not decoded).
 */
#ifndef XG_KVM_COMPAT_H
#define XG_KVM_COMPAT_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "exitgate.h"

#ifndef KVM_EXIT_LOONGARCH_IOCSR
#define KVM_EXIT_LOONGARCH_IOCSR 38
#endif
#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT 39
#endif
#ifndef KVM_EXIT_TDX
#define KVM_EXIT_TDX 40
#endif
#ifndef KVM_EXIT_ARM_SEA
#define KVM_EXIT_ARM_SEA 41
#endif
#ifndef KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON
#define KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON 4
#endif
#ifndef KVM_MEMORY_EXIT_FLAG_PRIVATE
#define KVM_MEMORY_EXIT_FLAG_PRIVATE (1ULL << 3)
#endif
#ifndef KVM_EXIT_ARM_SEA_FLAG_GPA_VALID
#define KVM_EXIT_ARM_SEA_FLAG_GPA_VALID (1ULL << 0)
#endif
#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO 232
#endif
#ifndef KVM_CAP_MEMORY_ATTRIBUTES
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif
#ifndef KVM_CAP_GUEST_MEMFD
#define KVM_CAP_GUEST_MEMFD 234
#endif
#ifndef KVM_CAP_EXIT_ON_EMULATION_FAILURE
#define KVM_CAP_EXIT_ON_EMULATION_FAILURE 204
#endif

/* Header of struct kvm_run, all architectures. */
struct xg_run_head {
	uint8_t request_interrupt_window;
	uint8_t immediate_exit;
	uint8_t padding1[6];
	uint32_t exit_reason;
	uint8_t ready_for_interrupt_injection;
	uint8_t if_flag;
	uint16_t flags;
	uint64_t cr8;
	uint64_t apic_base;
};

/* The members of the union, as current kernels define them. */
union xg_run_union {
	struct {
		uint64_t hardware_exit_reason;
	} hw;
	struct {
		uint64_t hardware_entry_failure_reason;
		uint32_t cpu;
	} fail_entry;
	struct {
		uint32_t exception, error_code;
	} ex;
	struct {
		uint8_t direction, size;
		uint16_t port;
		uint32_t count;
		uint64_t data_offset;
	} io;
	struct { /* x86 struct kvm_debug_exit_arch */
		uint32_t exception, pad;
		uint64_t pc, dr6, dr7;
	} debug_x86;
	struct { /* arm64 struct kvm_debug_exit_arch */
		uint32_t hsr, hsr_high;
		uint64_t far;
	} debug_arm64;
	struct { /* also LOONGARCH_IOCSR, which has the same shape */
		uint64_t phys_addr;
		uint8_t data[8];
		uint32_t len;
		uint8_t is_write;
	} mmio;
	struct {
		uint64_t nr, args[6], ret;
		uint64_t flags; /* was: __u32 longmode, pad */
	} hypercall;
	struct {
		uint64_t rip;
		uint32_t is_write, pad;
	} tpr_access;
	struct {
		uint8_t icptcode;
		uint16_t ipa;
		uint32_t ipb;
	} s390_sieic;
	uint64_t s390_reset_flags;
	struct {
		uint64_t trans_exc_code;
		uint32_t pgm_code;
	} s390_ucontrol;
	struct {
		uint32_t dcrn, data;
		uint8_t is_write;
	} dcr;
	struct {
		uint32_t suberror, ndata;
		uint64_t data[16];
	} internal;
	struct {
		uint32_t suberror, ndata;
		uint64_t flags;
		uint8_t insn_size;
		uint8_t insn_bytes[15];
	} emulation_failure;
	struct {
		uint64_t gprs[32];
	} osi;
	struct {
		uint64_t nr, ret, args[9];
	} papr_hcall;
	struct {
		uint16_t subchannel_id, subchannel_nr;
		uint32_t io_int_parm, io_int_word, ipb;
		uint8_t dequeued;
	} s390_tsch;
	struct {
		uint32_t epr;
	} epr;
	struct {
		uint32_t type, ndata;
		uint64_t data[16]; /* data[0] was `flags` before ndata existed */
	} system_event;
	struct {
		uint64_t addr;
		uint8_t ar, reserved, fc, sel1;
		uint16_t sel2;
	} s390_stsi;
	struct {
		uint8_t vector;
	} eoi;
	struct {
		uint32_t type, pad1;
		union {
			struct {
				uint32_t msr, pad2;
				uint64_t control, evt_page, msg_page;
			} synic;
			struct {
				uint64_t input, result, params[2];
			} hcall;
			struct {
				uint32_t msr, pad2;
				uint64_t control, status, send_page, recv_page, pending_page;
			} syndbg;
		} u;
	} hyperv;
	struct {
		uint64_t esr_iss, fault_ipa;
	} arm_nisv;
	struct {
		uint8_t error, pad[7];
		uint32_t reason, index;
		uint64_t data;
	} msr;
	struct {
		uint32_t type, pad; /* the hcall union holds u64s: it starts at byte 8 */
		uint32_t longmode, cpl;
		uint64_t input, result, params[6];
	} xen;
	struct { /* unsigned long on riscv64 */
		uint64_t extension_id, function_id, args[6], ret[2];
	} riscv_sbi;
	struct {
		uint64_t csr_num, new_value, write_mask, ret_value;
	} riscv_csr;
	struct {
		uint32_t flags;
	} notify;
	struct {
		uint64_t flags, gpa, size;
	} memory_fault;
	struct {
		uint64_t flags, nr;
		uint64_t ret;
		uint64_t data[5];
	} tdx;
	struct {
		uint64_t flags, esr, gva, gpa;
	} arm_sea;
	uint8_t padding[256];
};

#define XG_SAME_OFFSET(ours, theirs)                                                               \
	_Static_assert(XG_RUN_UNION_OFFSET + offsetof(union xg_run_union, ours) ==                 \
			       offsetof(struct kvm_run, theirs),                                   \
		       "kvm_run." #theirs " moved")

_Static_assert(sizeof(union xg_run_union) == XG_RUN_UNION_SIZE, "union size");
_Static_assert(sizeof(struct xg_run_head) == XG_RUN_UNION_OFFSET, "header size");
_Static_assert(offsetof(struct kvm_run, exit_reason) == offsetof(struct xg_run_head, exit_reason),
	       "exit_reason moved");
_Static_assert(offsetof(struct kvm_run, flags) == offsetof(struct xg_run_head, flags), "flags");
_Static_assert(offsetof(struct kvm_run, cr8) == offsetof(struct xg_run_head, cr8), "cr8");
_Static_assert(offsetof(struct kvm_run, apic_base) == offsetof(struct xg_run_head, apic_base),
	       "apic_base");
_Static_assert(offsetof(struct kvm_run, kvm_valid_regs) == XG_RUN_MIN_SIZE, "union end");
XG_SAME_OFFSET(hw.hardware_exit_reason, hw.hardware_exit_reason);
XG_SAME_OFFSET(fail_entry.cpu, fail_entry.cpu);
XG_SAME_OFFSET(ex.error_code, ex.error_code);
XG_SAME_OFFSET(io.data_offset, io.data_offset);
#if defined(__x86_64__)
XG_SAME_OFFSET(debug_x86.dr7, debug.arch.dr7);
#elif defined(__aarch64__)
XG_SAME_OFFSET(debug_arm64.far, debug.arch.far);
#endif
XG_SAME_OFFSET(mmio.len, mmio.len);
XG_SAME_OFFSET(mmio.is_write, mmio.is_write);
XG_SAME_OFFSET(hypercall.ret, hypercall.ret);
XG_SAME_OFFSET(hypercall.flags, hypercall.longmode);
XG_SAME_OFFSET(tpr_access.is_write, tpr_access.is_write);
XG_SAME_OFFSET(s390_sieic.ipb, s390_sieic.ipb);
XG_SAME_OFFSET(s390_ucontrol.pgm_code, s390_ucontrol.pgm_code);
XG_SAME_OFFSET(dcr.is_write, dcr.is_write);
XG_SAME_OFFSET(internal.data, internal.data);
XG_SAME_OFFSET(emulation_failure.flags, emulation_failure.flags);
XG_SAME_OFFSET(emulation_failure.insn_size, emulation_failure.insn_size);
XG_SAME_OFFSET(emulation_failure.insn_bytes, emulation_failure.insn_bytes);
XG_SAME_OFFSET(osi.gprs, osi.gprs);
XG_SAME_OFFSET(papr_hcall.args, papr_hcall.args);
XG_SAME_OFFSET(s390_tsch.dequeued, s390_tsch.dequeued);
XG_SAME_OFFSET(system_event.ndata, system_event.ndata);
XG_SAME_OFFSET(system_event.data, system_event.data);
XG_SAME_OFFSET(s390_stsi.sel2, s390_stsi.sel2);
XG_SAME_OFFSET(eoi.vector, eoi.vector);
XG_SAME_OFFSET(hyperv.u.synic.msg_page, hyperv.u.synic.msg_page);
XG_SAME_OFFSET(hyperv.u.hcall.params, hyperv.u.hcall.params);
XG_SAME_OFFSET(hyperv.u.syndbg.pending_page, hyperv.u.syndbg.pending_page);
XG_SAME_OFFSET(arm_nisv.fault_ipa, arm_nisv.fault_ipa);
XG_SAME_OFFSET(msr.reason, msr.reason);
XG_SAME_OFFSET(msr.index, msr.index);
XG_SAME_OFFSET(msr.data, msr.data);
XG_SAME_OFFSET(xen.longmode, xen.u.hcall.longmode);
XG_SAME_OFFSET(xen.params, xen.u.hcall.params);
XG_SAME_OFFSET(riscv_sbi.ret, riscv_sbi.ret);
XG_SAME_OFFSET(riscv_csr.ret_value, riscv_csr.ret_value);
XG_SAME_OFFSET(notify.flags, notify.flags);
#undef XG_SAME_OFFSET

/* Members the 6.1 header lacks: pin them to the offsets api.rst gives (union-relative). */
_Static_assert(offsetof(union xg_run_union, memory_fault.size) == 16, "memory_fault.size");
_Static_assert(offsetof(union xg_run_union, tdx.ret) == 16, "tdx.ret");
_Static_assert(offsetof(union xg_run_union, tdx.data) == 24, "tdx union words");
_Static_assert(offsetof(union xg_run_union, arm_sea.gpa) == 24, "arm_sea.gpa");

#endif
