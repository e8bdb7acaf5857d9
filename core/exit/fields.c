/*
 * fields.c - the field tables of every exit shape (see fields.h). A name here is the name a
 * policy reads (`e.gpa`), the key in JSON and the label in text: change it in one place.
 * Where KVM's field carries a number with a name, the plain field holds the name
 * (`suberror = "emulation"`) and `<field>_number` the number.
 */
#include "exit/fields.h"

#include <string.h>

#define F_(S, nm, t, m, ff_, w, lo, l8, n_, ax)                                                    \
	{                                                                                          \
		.name = nm, .type = t, .ff = ff_, .when = w, .off = offsetof(S, m), .len_off = lo,  \
		.len_u8 = l8, .n = n_, .aux = ax                                                   \
	}
#define NUM(S, nm, t, m) F_(S, nm, t, m, 0, -1, -1, 0, 0, NULL)
#define NUMIF(S, nm, t, m, g) F_(S, nm, t, m, 0, offsetof(S, g), -1, 0, 0, NULL)
#define HEX(S, nm, t, m) F_(S, nm, t, m, XG_FF_HEX, -1, -1, 0, 0, NULL)
#define HEXIF(S, nm, t, m, g) F_(S, nm, t, m, XG_FF_HEX, offsetof(S, g), -1, 0, 0, NULL)
#define STR(S, nm, m) F_(S, nm, XG_FT_STR, m, 0, -1, -1, 0, 0, NULL)
#define BOOL(S, nm, m) F_(S, nm, XG_FT_BOOL, m, 0, -1, -1, 0, 0, NULL)
#define OBJ(S, nm, m, set) F_(S, nm, XG_FT_OBJ, m, 0, -1, -1, 0, 0, &set)
#define OBJIF(S, nm, m, set, g) F_(S, nm, XG_FT_OBJ, m, 0, offsetof(S, g), -1, 0, 0, &set)
#define FLAGS(S, nm, m, fs)                                                                        \
	F_(S, nm, XG_FT_FLAGS, m, XG_FF_HEX, -1, -1, 0, sizeof(((S *)0)->m), &fs)
#define U64S(S, nm, m, count) F_(S, nm, XG_FT_U64S, m, XG_FF_HEX, -1, -1, 0, count, NULL)
#define U64SN(S, nm, m, cnt, cap) F_(S, nm, XG_FT_U64S, m, XG_FF_HEX, -1, offsetof(S, cnt), 0, cap, NULL)
#define BYTESN8(S, nm, m, len, cap) F_(S, nm, XG_FT_BYTES, m, 0, -1, offsetof(S, len), 1, cap, NULL)
#define BYTESN32(S, nm, m, len, cap) F_(S, nm, XG_FT_BYTES, m, 0, -1, offsetof(S, len), 0, cap, NULL)

#define SET(nm, arr, nxt) {nm, sizeof(arr) / sizeof(arr[0]), arr, nxt}

typedef struct xg_exit X;
typedef struct xg_event_info EV;
typedef struct xg_esr_dabt ESR;
typedef struct xg_exit_internal IN;
typedef struct xg_hw_info HW;
typedef struct xg_exit_hypercall HC;

/* ---- nested objects ---- */

static const struct xg_field event_fields[] = {
	HEX(EV, "raw", XG_FT_U32, raw),
	BOOL(EV, "valid", valid),
	NUM(EV, "vector", XG_FT_U8, vector),
	STR(EV, "vector_name", vector_name),
	NUM(EV, "type", XG_FT_U8, type),
	STR(EV, "type_name", type_name),
	BOOL(EV, "error_code_valid", error_code_valid),
};
static const struct xg_fieldset event_set = SET("event_info", event_fields, NULL);

static const struct xg_field hw_fields[] = {
	HEX(HW, "exit_reason", XG_FT_U64, exit_reason),
	STR(HW, "exit_reason_name", exit_reason_name),
	HEX(HW, "info1", XG_FT_U64, info1),
	HEX(HW, "info2", XG_FT_U64, info2),
	HEX(HW, "intr_info", XG_FT_U64, intr_info),
	HEX(HW, "error_code", XG_FT_U64, error_code),
	OBJ(HW, "intr", intr, event_set),
};
static const struct xg_fieldset hw_set = SET("hw", hw_fields, NULL);

/* DELIVERY_EV / UNEXPECTED_EXIT_REASON report only the reason (and the qualification). */
static const struct xg_field hw_reason_fields[] = {
	HEX(HW, "exit_reason", XG_FT_U64, exit_reason),
	STR(HW, "exit_reason_name", exit_reason_name),
};
static const struct xg_fieldset hw_reason_set = SET("hw", hw_reason_fields, NULL);

static const struct xg_field esr_fields[] = {
	HEX(ESR, "raw", XG_FT_U64, raw),   HEX(ESR, "dfsc", XG_FT_U8, dfsc),
	STR(ESR, "dfsc_name", dfsc_name),  BOOL(ESR, "wnr", wnr),
	BOOL(ESR, "s1ptw", s1ptw),         BOOL(ESR, "cm", cm),
	BOOL(ESR, "ea", ea),               BOOL(ESR, "fnv", fnv),
	NUM(ESR, "set", XG_FT_U8, set),    BOOL(ESR, "vncr", vncr),
	BOOL(ESR, "ar", ar),               BOOL(ESR, "sf", sf),
	NUM(ESR, "srt", XG_FT_U8, srt),    BOOL(ESR, "sse", sse),
	NUM(ESR, "sas", XG_FT_U8, sas),    BOOL(ESR, "isv", isv),
};
static const struct xg_fieldset esr_set = SET("iss", esr_fields, NULL);

static const struct xg_field insn_fields[] = {
	NUM(IN, "size", XG_FT_U8, insn_size),
	BYTESN8(IN, "bytes", insn, insn_size, 15),
};
static const struct xg_fieldset insn_set = SET("insn", insn_fields, NULL);

static const struct xg_field map_gpa_fields[] = {
	HEX(HC, "gpa", XG_FT_U64, map_gpa),
	NUM(HC, "npages", XG_FT_U64, map_npages),
	HEX(HC, "attributes", XG_FT_U64, map_attrs),
	STR(HC, "page_size", map_page_size),
	BOOL(HC, "encrypted", map_encrypted),
};
static const struct xg_fieldset map_gpa_set = SET("map_gpa_range", map_gpa_fields, NULL);

/* ---- fields every exit has: the kvm_run header ---- */

#define COMMON(fs)                                                                                 \
	STR(X, "reason", name), NUM(X, "exit_reason", XG_FT_U32, reason), STR(X, "kind", kind),    \
		STR(X, "arch", arch_name), BOOL(X, "known", known),                                 \
		F_(X, "malformed", XG_FT_CHARS, malformed, 0, -1, -1, 0, 0, NULL),                  \
		FLAGS(X, "run_flags", run_flags, fs), NUM(X, "if_flag", XG_FT_U8, if_flag),         \
		NUM(X, "ready_for_interrupt_injection", XG_FT_U8, ready_for_interrupt_injection),  \
		F_(X, "raw", XG_FT_BYTES, raw, XG_FF_QUIET, -1, -1, 0, XG_RUN_UNION_SIZE, NULL)

static const struct xg_field common_x86_fields[] = {
	COMMON(xg_flags_run_x86),
	HEX(X, "cr8", XG_FT_U64, cr8),
	HEX(X, "apic_base", XG_FT_U64, apic_base),
};
static const struct xg_field common_arm64_fields[] = {COMMON(xg_flags_run_arm64)};
static const struct xg_fieldset common_x86 = SET("kvm_run", common_x86_fields, NULL);
static const struct xg_fieldset common_arm64 = SET("kvm_run", common_arm64_fields, NULL);

/* ---- the exits ---- */

static const struct xg_field hw_exit_fields[] = {
	HEX(X, "hardware_exit_reason", XG_FT_U64, u.hw.hardware_exit_reason),
	STR(X, "hardware_exit_reason_name", u.hw.name),
};
static const struct xg_field exception_fields[] = {
	NUM(X, "exception", XG_FT_U32, u.ex.exception),
	STR(X, "exception_name", u.ex.exception_name),
	HEX(X, "error_code", XG_FT_U32, u.ex.error_code),
};
static const struct xg_field io_fields[] = {
	STR(X, "direction", u.io.dir),
	NUM(X, "direction_number", XG_FT_U8, u.io.direction),
	NUM(X, "size", XG_FT_U8, u.io.size),
	HEX(X, "port", XG_FT_U16, u.io.port),
	NUM(X, "count", XG_FT_U32, u.io.count),
	NUM(X, "data_offset", XG_FT_U64, u.io.data_offset),
	F_(X, "data", XG_FT_BYTESP, u.io.data, 0, -1, offsetof(X, u.io.data_len), 0, 0, NULL),
};
static const struct xg_field hypercall_fields[] = {
	NUM(X, "nr", XG_FT_U64, u.hypercall.nr),
	STR(X, "nr_name", u.hypercall.nr_name),
	U64S(X, "args", u.hypercall.args, 6),
	HEX(X, "ret", XG_FT_U64, u.hypercall.ret),
	FLAGS(X, "flags", u.hypercall.flags, xg_flags_hypercall),
	BOOL(X, "longmode", u.hypercall.longmode),
	OBJIF(X, "map_gpa_range", u.hypercall, map_gpa_set, u.hypercall.is_map_gpa_range),
};
static const struct xg_field debug_x86_fields[] = {
	NUM(X, "exception", XG_FT_U32, u.debug.exception),
	STR(X, "exception_name", u.debug.exception_name),
	HEX(X, "pc", XG_FT_U64, u.debug.pc),
	HEX(X, "dr6", XG_FT_U64, u.debug.dr6),
	HEX(X, "dr7", XG_FT_U64, u.debug.dr7),
};
static const struct xg_field debug_arm64_fields[] = {
	HEX(X, "hsr", XG_FT_U32, u.debug.hsr),
	HEX(X, "hsr_high", XG_FT_U32, u.debug.hsr_high),
	BOOL(X, "hsr_high_valid", u.debug.hsr_high_valid),
	HEX(X, "far", XG_FT_U64, u.debug.far),
	HEX(X, "ec", XG_FT_U8, u.debug.ec),
	STR(X, "ec_name", u.debug.ec_name),
};
static const struct xg_field mmio_fields[] = {
	HEX(X, "phys_addr", XG_FT_U64, u.mmio.phys_addr),
	NUM(X, "len", XG_FT_U32, u.mmio.len),
	BOOL(X, "is_write", u.mmio.is_write),
	BYTESN32(X, "data", u.mmio.data, u.mmio.len, 8),
	HEXIF(X, "value", XG_FT_U64, u.mmio.value, u.mmio.has_value),
};
static const struct xg_field fail_entry_fields[] = {
	HEX(X, "hardware_entry_failure_reason", XG_FT_U64, u.fail_entry.reason),
	STR(X, "hardware_entry_failure_reason_name", u.fail_entry.reason_name),
	NUM(X, "cpu", XG_FT_U32, u.fail_entry.cpu),
	BOOL(X, "cpu_unsupported", u.fail_entry.cpu_unsupported),
};
static const struct xg_field tpr_access_fields[] = {
	HEX(X, "rip", XG_FT_U64, u.tpr_access.rip),
	NUM(X, "is_write", XG_FT_U32, u.tpr_access.is_write),
};
static const struct xg_field s390_sieic_fields[] = {
	HEX(X, "icptcode", XG_FT_U8, u.s390_sieic.icptcode),
	HEX(X, "ipa", XG_FT_U16, u.s390_sieic.ipa),
	HEX(X, "ipb", XG_FT_U32, u.s390_sieic.ipb),
};
static const struct xg_field s390_reset_fields[] = {
	FLAGS(X, "reset_flags", u.s390_reset_flags, xg_flags_s390_reset),
};
static const struct xg_field s390_ucontrol_fields[] = {
	HEX(X, "trans_exc_code", XG_FT_U64, u.s390_ucontrol.trans_exc_code),
	HEX(X, "pgm_code", XG_FT_U32, u.s390_ucontrol.pgm_code),
};
static const struct xg_field dcr_fields[] = {
	HEX(X, "dcrn", XG_FT_U32, u.dcr.dcrn),
	HEX(X, "data", XG_FT_U32, u.dcr.data),
	BOOL(X, "is_write", u.dcr.is_write),
};

#define INTERNAL_HEAD                                                                              \
	STR(X, "suberror", u.internal.suberror_name),                                              \
		NUM(X, "suberror_number", XG_FT_U32, u.internal.suberror),                         \
		NUM(X, "ndata", XG_FT_U32, u.internal.ndata)

static const struct xg_field emulation_fields[] = {
	INTERNAL_HEAD,
	FLAGS(X, "flags", u.internal.flags, xg_flags_emulation),
	OBJIF(X, "insn", u.internal, insn_set, u.internal.has_insn),
	OBJIF(X, "hw", u.internal.hwi, hw_set, u.internal.has_hw),
	U64SN(X, "extra", u.internal.extra, u.internal.extra_count, 16),
	F_(X, "data", XG_FT_U64S, u.internal.data, XG_FF_HEX | XG_FF_QUIET, -1,
	   offsetof(X, u.internal.ndata_used), 0, 16, NULL),
};
static const struct xg_field internal_fields[] = {
	INTERNAL_HEAD,
	OBJIF(X, "vectoring", u.internal.vectoring, event_set, u.internal.has_vectoring),
	OBJIF(X, "intr", u.internal.intr, event_set, u.internal.has_intr),
	HEXIF(X, "error_code", XG_FT_U64, u.internal.error_code, u.internal.has_error_code),
	OBJIF(X, "hw", u.internal.hwi, hw_reason_set, u.internal.has_hw),
	HEXIF(X, "exit_qualification", XG_FT_U64, u.internal.hwi.info1, u.internal.has_qual),
	HEXIF(X, "gpa", XG_FT_U64, u.internal.gpa, u.internal.has_gpa),
	NUMIF(X, "cpu", XG_FT_U64, u.internal.cpu, u.internal.has_cpu),
	U64SN(X, "extra", u.internal.extra, u.internal.extra_count, 16),
	F_(X, "data", XG_FT_U64S, u.internal.data, XG_FF_HEX | XG_FF_QUIET, -1,
	   offsetof(X, u.internal.ndata_used), 0, 16, NULL),
};
static const struct xg_field osi_fields[] = {U64S(X, "gprs", u.osi_gprs, 32)};
static const struct xg_field papr_hcall_fields[] = {
	HEX(X, "nr", XG_FT_U64, u.papr_hcall.nr),
	HEX(X, "ret", XG_FT_U64, u.papr_hcall.ret),
	U64S(X, "args", u.papr_hcall.args, 9),
};
static const struct xg_field s390_tsch_fields[] = {
	HEX(X, "subchannel_id", XG_FT_U16, u.s390_tsch.subchannel_id),
	HEX(X, "subchannel_nr", XG_FT_U16, u.s390_tsch.subchannel_nr),
	HEX(X, "io_int_parm", XG_FT_U32, u.s390_tsch.io_int_parm),
	HEX(X, "io_int_word", XG_FT_U32, u.s390_tsch.io_int_word),
	HEX(X, "ipb", XG_FT_U32, u.s390_tsch.ipb),
	NUM(X, "dequeued", XG_FT_U8, u.s390_tsch.dequeued),
};
static const struct xg_field epr_fields[] = {HEX(X, "epr", XG_FT_U32, u.epr)};
static const struct xg_field system_event_fields[] = {
	STR(X, "type", u.system_event.type_name),
	NUM(X, "type_number", XG_FT_U32, u.system_event.type),
	NUM(X, "ndata", XG_FT_U32, u.system_event.ndata),
	U64SN(X, "data", u.system_event.data, u.system_event.ndata_used, 16),
	STR(X, "psci_flag", u.system_event.psci_flag),
};
static const struct xg_field s390_stsi_fields[] = {
	HEX(X, "addr", XG_FT_U64, u.s390_stsi.addr),
	NUM(X, "ar", XG_FT_U8, u.s390_stsi.ar),
	NUM(X, "fc", XG_FT_U8, u.s390_stsi.fc),
	NUM(X, "sel1", XG_FT_U8, u.s390_stsi.sel1),
	NUM(X, "sel2", XG_FT_U16, u.s390_stsi.sel2),
};
static const struct xg_field eoi_fields[] = {NUM(X, "vector", XG_FT_U8, u.eoi_vector)};

#define HYPERV_HEAD                                                                                \
	STR(X, "type", u.hyperv.type_name), NUM(X, "type_number", XG_FT_U32, u.hyperv.type)
static const struct xg_field hyperv_fields[] = {HYPERV_HEAD};
static const struct xg_field hyperv_synic_fields[] = {
	HYPERV_HEAD,
	HEX(X, "msr", XG_FT_U32, u.hyperv.msr),
	HEX(X, "control", XG_FT_U64, u.hyperv.control),
	HEX(X, "evt_page", XG_FT_U64, u.hyperv.evt_page),
	HEX(X, "msg_page", XG_FT_U64, u.hyperv.msg_page),
};
static const struct xg_field hyperv_hcall_fields[] = {
	HYPERV_HEAD,
	HEX(X, "input", XG_FT_U64, u.hyperv.input),
	HEX(X, "result", XG_FT_U64, u.hyperv.result),
	U64S(X, "params", u.hyperv.params, 2),
};
static const struct xg_field hyperv_syndbg_fields[] = {
	HYPERV_HEAD,
	HEX(X, "msr", XG_FT_U32, u.hyperv.msr),
	HEX(X, "control", XG_FT_U64, u.hyperv.control),
	HEX(X, "status", XG_FT_U64, u.hyperv.status),
	HEX(X, "send_page", XG_FT_U64, u.hyperv.send_page),
	HEX(X, "recv_page", XG_FT_U64, u.hyperv.recv_page),
	HEX(X, "pending_page", XG_FT_U64, u.hyperv.pending_page),
};
static const struct xg_field arm_nisv_fields[] = {
	HEX(X, "esr_iss", XG_FT_U64, u.arm_nisv.esr_iss),
	HEX(X, "fault_ipa", XG_FT_U64, u.arm_nisv.fault_ipa),
	BOOL(X, "is_write", u.arm_nisv.iss.wnr),
	STR(X, "dfsc_name", u.arm_nisv.iss.dfsc_name),
	OBJ(X, "iss", u.arm_nisv.iss, esr_set),
};
static const struct xg_field msr_fields[] = {
	STR(X, "msr_reason", u.msr.reason_name),
	NUM(X, "msr_reason_number", XG_FT_U32, u.msr.reason),
	HEX(X, "index", XG_FT_U32, u.msr.index),
	STR(X, "index_name", u.msr.index_name),
	BOOL(X, "is_write", u.msr.is_write),
	HEX(X, "data", XG_FT_U64, u.msr.data),
	NUM(X, "error", XG_FT_U8, u.msr.error),
};
static const struct xg_field xen_fields[] = {
	STR(X, "type", u.xen.type_name),
	NUM(X, "type_number", XG_FT_U32, u.xen.type),
	NUM(X, "longmode", XG_FT_U32, u.xen.longmode),
	NUM(X, "cpl", XG_FT_U32, u.xen.cpl),
	HEX(X, "input", XG_FT_U64, u.xen.input),
	HEX(X, "result", XG_FT_U64, u.xen.result),
	U64S(X, "params", u.xen.params, 6),
};
static const struct xg_field riscv_sbi_fields[] = {
	HEX(X, "extension_id", XG_FT_U64, u.riscv_sbi.extension_id),
	STR(X, "extension_name", u.riscv_sbi.extension_name),
	NUM(X, "function_id", XG_FT_U64, u.riscv_sbi.function_id),
	U64S(X, "args", u.riscv_sbi.args, 6),
	U64S(X, "ret", u.riscv_sbi.ret, 2),
};
static const struct xg_field riscv_csr_fields[] = {
	HEX(X, "csr_num", XG_FT_U64, u.riscv_csr.csr_num),
	HEX(X, "new_value", XG_FT_U64, u.riscv_csr.new_value),
	HEX(X, "write_mask", XG_FT_U64, u.riscv_csr.write_mask),
	HEX(X, "ret_value", XG_FT_U64, u.riscv_csr.ret_value),
};
static const struct xg_field notify_fields[] = {
	FLAGS(X, "flags", u.notify.flags, xg_flags_notify),
	BOOL(X, "context_invalid", u.notify.context_invalid),
};
static const struct xg_field memory_fault_fields[] = {
	FLAGS(X, "flags", u.memory_fault.flags, xg_flags_memory_fault),
	HEX(X, "gpa", XG_FT_U64, u.memory_fault.gpa),
	HEX(X, "size", XG_FT_U64, u.memory_fault.size),
	BOOL(X, "private", u.memory_fault.private_),
};
static const struct xg_field tdx_fields[] = {
	HEX(X, "flags", XG_FT_U64, u.tdx.flags),
	HEX(X, "nr", XG_FT_U64, u.tdx.nr),
	STR(X, "nr_name", u.tdx.nr_name),
	HEX(X, "ret", XG_FT_U64, u.tdx.ret),
	U64S(X, "data", u.tdx.data, 5),
};
static const struct xg_field arm_sea_fields[] = {
	FLAGS(X, "flags", u.arm_sea.flags, xg_flags_arm_sea),
	HEX(X, "esr", XG_FT_U64, u.arm_sea.esr),
	HEX(X, "ec", XG_FT_U8, u.arm_sea.ec),
	STR(X, "ec_name", u.arm_sea.ec_name),
	HEX(X, "gva", XG_FT_U64, u.arm_sea.gva),
	HEX(X, "gpa", XG_FT_U64, u.arm_sea.gpa),
	BOOL(X, "gpa_valid", u.arm_sea.gpa_valid),
	OBJ(X, "iss", u.arm_sea.iss, esr_set),
};

/* One table per shape and header flavour (x86, which has cr8/apic_base, or the others). */
#define SHAPE(sh, nm, arr)                                                                         \
	[sh] = {SET(nm, arr, &common_x86), SET(nm, arr, &common_arm64)}
#define SHAPE0(sh, nm) [sh] = {{nm, 0, NULL, &common_x86}, {nm, 0, NULL, &common_arm64}}

static const struct xg_fieldset shapes[XG_SHAPE_COUNT][2] = {
	SHAPE0(XG_SHAPE_NONE, "none"),
	SHAPE0(XG_SHAPE_UNKNOWN_NR, "unknown"),
	SHAPE(XG_SHAPE_HW, "hw", hw_exit_fields),
	SHAPE(XG_SHAPE_EXCEPTION, "ex", exception_fields),
	SHAPE(XG_SHAPE_IO, "io", io_fields),
	SHAPE(XG_SHAPE_HYPERCALL, "hypercall", hypercall_fields),
	SHAPE(XG_SHAPE_DEBUG_X86, "debug", debug_x86_fields),
	SHAPE(XG_SHAPE_DEBUG_ARM64, "debug", debug_arm64_fields),
	SHAPE(XG_SHAPE_MMIO, "mmio", mmio_fields),
	SHAPE(XG_SHAPE_FAIL_ENTRY, "fail_entry", fail_entry_fields),
	SHAPE(XG_SHAPE_TPR_ACCESS, "tpr_access", tpr_access_fields),
	SHAPE(XG_SHAPE_S390_SIEIC, "s390_sieic", s390_sieic_fields),
	SHAPE(XG_SHAPE_S390_RESET, "s390_reset", s390_reset_fields),
	SHAPE(XG_SHAPE_S390_UCONTROL, "s390_ucontrol", s390_ucontrol_fields),
	SHAPE(XG_SHAPE_DCR, "dcr", dcr_fields),
	SHAPE(XG_SHAPE_EMULATION, "emulation_failure", emulation_fields),
	SHAPE(XG_SHAPE_INTERNAL, "internal", internal_fields),
	SHAPE(XG_SHAPE_OSI, "osi", osi_fields),
	SHAPE(XG_SHAPE_PAPR_HCALL, "papr_hcall", papr_hcall_fields),
	SHAPE(XG_SHAPE_S390_TSCH, "s390_tsch", s390_tsch_fields),
	SHAPE(XG_SHAPE_EPR, "epr", epr_fields),
	SHAPE(XG_SHAPE_SYSTEM_EVENT, "system_event", system_event_fields),
	SHAPE(XG_SHAPE_S390_STSI, "s390_stsi", s390_stsi_fields),
	SHAPE(XG_SHAPE_EOI, "eoi", eoi_fields),
	SHAPE(XG_SHAPE_HYPERV, "hyperv", hyperv_fields),
	SHAPE(XG_SHAPE_HYPERV_SYNIC, "hyperv", hyperv_synic_fields),
	SHAPE(XG_SHAPE_HYPERV_HCALL, "hyperv", hyperv_hcall_fields),
	SHAPE(XG_SHAPE_HYPERV_SYNDBG, "hyperv", hyperv_syndbg_fields),
	SHAPE(XG_SHAPE_ARM_NISV, "arm_nisv", arm_nisv_fields),
	SHAPE(XG_SHAPE_MSR, "msr", msr_fields),
	SHAPE(XG_SHAPE_XEN, "xen", xen_fields),
	SHAPE(XG_SHAPE_RISCV_SBI, "riscv_sbi", riscv_sbi_fields),
	SHAPE(XG_SHAPE_RISCV_CSR, "riscv_csr", riscv_csr_fields),
	SHAPE(XG_SHAPE_NOTIFY, "notify", notify_fields),
	SHAPE(XG_SHAPE_MEMORY_FAULT, "memory_fault", memory_fault_fields),
	SHAPE(XG_SHAPE_TDX, "tdx", tdx_fields),
	SHAPE(XG_SHAPE_ARM_SEA, "arm_sea", arm_sea_fields),
};

const struct xg_fieldset *xg_fields_for(enum xg_shape shape, enum xg_arch arch)
{
	return &shapes[shape][arch == XG_ARCH_X86_64 ? 0 : 1];
}

/* ---- reading a field ---- */

static const void *at(const void *base, size_t off)
{
	return (const char *)base + off;
}

uint64_t xg_field_u64(const struct xg_field *f, const void *base)
{
	const void *p = at(base, f->off);
	unsigned width = 8;

	switch (f->type) {
	case XG_FT_U8:
	case XG_FT_BOOL:
		return *(const uint8_t *)p;
	case XG_FT_U16:
		return *(const uint16_t *)p;
	case XG_FT_U32:
		return *(const uint32_t *)p;
	case XG_FT_FLAGS:
		width = f->n;
		return width == 2 ? *(const uint16_t *)p
		       : width == 4 ? *(const uint32_t *)p
				    : *(const uint64_t *)p;
	default:
		return *(const uint64_t *)p;
	}
}

size_t xg_field_len(const struct xg_field *f, const void *base)
{
	size_t len;

	if (f->len_off < 0)
		return f->n;
	len = f->len_u8 ? *(const uint8_t *)at(base, f->len_off)
			: *(const uint32_t *)at(base, f->len_off);
	/* A length read from the exit never exceeds the array it describes. */
	if (f->type != XG_FT_BYTESP && len > f->n)
		len = f->n;
	return len;
}

int xg_field_present(const struct xg_field *f, const void *base)
{
	if (f->when >= 0 && !*(const uint8_t *)at(base, f->when))
		return 0;
	switch (f->type) {
	case XG_FT_STR:
		return *(const char *const *)at(base, f->off) != NULL;
	case XG_FT_BYTESP:
		return *(const uint8_t *const *)at(base, f->off) != NULL;
	case XG_FT_CHARS:
		return *(const char *)at(base, f->off) != 0;
	default:
		return 1;
	}
}
