/*
 * names.h - the exit model's name tables: numbers KVM and the hardware hand over, and the
 * names a person (or a policy) uses for them. Every lookup returns NULL for a number it does
 * not know; callers keep the number and report it, they never invent a name.
 */
#ifndef XG_EXIT_NAMES_H
#define XG_EXIT_NAMES_H

#include <stdint.h>

#include "exitgate.h"

struct xg_name {
	uint64_t value;
	const char *name;
};

/* Sorted-by-value lookup in a table of n entries. */
const char *xg_name_find(const struct xg_name *t, unsigned n, uint64_t value);
#define XG_NAME_FIND(table, value) xg_name_find(table, sizeof(table) / sizeof(table[0]), value)

const char *xg_names_exit_kind(uint32_t reason);
const char *xg_names_internal_suberror(uint32_t suberror);
const char *xg_names_vmx_exit(uint64_t reason); /* basic reason (bits 15:0) */
const char *xg_names_svm_exit(uint64_t code);
const char *xg_names_x86_vector(uint32_t vector);
const char *xg_names_event_type(uint32_t type);
const char *xg_names_hypercall(uint64_t nr);
const char *xg_names_system_event(uint32_t type);
const char *xg_names_msr_reason(uint32_t reason);
const char *xg_names_msr(uint32_t index);
const char *xg_names_hyperv_type(uint32_t type);
const char *xg_names_xen_type(uint32_t type);
const char *xg_names_riscv_sbi_ext(uint64_t ext);
const char *xg_names_tdx_call(uint64_t nr);
const char *xg_names_arm_dfsc(uint32_t dfsc);
const char *xg_names_arm_ec(uint32_t ec);

/* Flag-bit names for a flags word: bit i is named names[i] (NULL = no name). */
struct xg_flagset {
	unsigned nbits;
	const char *const *names;
};
extern const struct xg_flagset xg_flags_run_x86, xg_flags_run_arm64, xg_flags_emulation,
	xg_flags_memory_fault, xg_flags_notify, xg_flags_arm_sea, xg_flags_hypercall,
	xg_flags_s390_reset;

#endif
