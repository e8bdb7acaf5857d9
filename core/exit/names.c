/*
 * names.c - name tables of the exit model. Sources: include/uapi/linux/kvm.h and
 * Documentation/virt/kvm/api.rst (section 5, "The kvm_run structure"); Intel SDM Vol. 3C
 * Appendix C (VMX basic exit reasons); AMD APM Vol. 2 Appendix C (SVM intercept exit
 * codes); ARM ARM DDI 0487 D24.2.45 (ESR_EL2: EC and DFSC encodings).
 */
#include "exit/names.h"

#include <stddef.h>

const char *xg_name_find(const struct xg_name *t, unsigned n, uint64_t value)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (t[mid].value == value)
			return t[mid].name;
		if (t[mid].value < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* KVM_EXIT_* -> the exit's name (kvm_run member / reason, lower case). */
static const char *const exit_names[] = {
	[0] = "unknown",          [1] = "exception",       [2] = "io",
	[3] = "hypercall",        [4] = "debug",           [5] = "hlt",
	[6] = "mmio",             [7] = "irq_window_open", [8] = "shutdown",
	[9] = "fail_entry",       [10] = "intr",           [11] = "set_tpr",
	[12] = "tpr_access",      [13] = "s390_sieic",     [14] = "s390_reset",
	[15] = "dcr",             [16] = "nmi",            [17] = "internal_error",
	[18] = "osi",             [19] = "papr_hcall",     [20] = "s390_ucontrol",
	[21] = "watchdog",        [22] = "s390_tsch",      [23] = "epr",
	[24] = "system_event",    [25] = "s390_stsi",      [26] = "ioapic_eoi",
	[27] = "hyperv",          [28] = "arm_nisv",       [29] = "x86_rdmsr",
	[30] = "x86_wrmsr",       [31] = "dirty_ring_full", [32] = "ap_reset_hold",
	[33] = "x86_bus_lock",    [34] = "xen",            [35] = "riscv_sbi",
	[36] = "riscv_csr",       [37] = "notify",         [38] = "loongarch_iocsr",
	[39] = "memory_fault",    [40] = "tdx",            [41] = "arm_sea",
};

const char *xg_exit_reason_name(uint32_t reason)
{
	return reason < sizeof(exit_names) / sizeof(exit_names[0]) ? exit_names[reason] : NULL;
}

/* The handler a policy writes for an exit, where it differs from the exit's name. The
 * internal-error split (emulation_failure vs internal_error) is made by the decoder. */
const char *xg_names_exit_kind(uint32_t reason)
{
	switch (reason) {
	case 29:
	case 30:
		return "msr";
	case 33:
		return "bus_lock";
	default:
		return xg_exit_reason_name(reason);
	}
}

static const struct xg_name internal_suberrors[] = {
	{1, "emulation"},
	{2, "simul_ex"},
	{3, "delivery_ev"},
	{4, "unexpected_exit_reason"},
};

const char *xg_names_internal_suberror(uint32_t suberror)
{
	return XG_NAME_FIND(internal_suberrors, suberror);
}

/* Intel SDM Vol. 3C, Appendix C "VMX Basic Exit Reasons". */
static const struct xg_name vmx_exits[] = {
	{0, "exception_nmi"},
	{1, "external_interrupt"},
	{2, "triple_fault"},
	{3, "init_signal"},
	{4, "sipi_signal"},
	{5, "io_smi"},
	{6, "other_smi"},
	{7, "interrupt_window"},
	{8, "nmi_window"},
	{9, "task_switch"},
	{10, "cpuid"},
	{11, "getsec"},
	{12, "hlt"},
	{13, "invd"},
	{14, "invlpg"},
	{15, "rdpmc"},
	{16, "rdtsc"},
	{17, "rsm"},
	{18, "vmcall"},
	{19, "vmclear"},
	{20, "vmlaunch"},
	{21, "vmptrld"},
	{22, "vmptrst"},
	{23, "vmread"},
	{24, "vmresume"},
	{25, "vmwrite"},
	{26, "vmxoff"},
	{27, "vmxon"},
	{28, "cr_access"},
	{29, "dr_access"},
	{30, "io_instruction"},
	{31, "msr_read"},
	{32, "msr_write"},
	{33, "invalid_guest_state"},
	{34, "msr_load_fail"},
	{36, "mwait"},
	{37, "monitor_trap_flag"},
	{39, "monitor"},
	{40, "pause"},
	{41, "mce_during_vmentry"},
	{43, "tpr_below_threshold"},
	{44, "apic_access"},
	{45, "eoi_induced"},
	{46, "gdtr_idtr"},
	{47, "ldtr_tr"},
	{48, "ept_violation"},
	{49, "ept_misconfig"},
	{50, "invept"},
	{51, "rdtscp"},
	{52, "preemption_timer"},
	{53, "invvpid"},
	{54, "wbinvd"},
	{55, "xsetbv"},
	{56, "apic_write"},
	{57, "rdrand"},
	{58, "invpcid"},
	{59, "vmfunc"},
	{60, "encls"},
	{61, "rdseed"},
	{62, "pml_full"},
	{63, "xsaves"},
	{64, "xrstors"},
	{65, "pconfig"},
	{66, "spp_event"},
	{67, "umwait"},
	{68, "tpause"},
	{69, "loadiwkey"},
	{70, "enclv"},
	{72, "enqcmd_pasid_fail"},
	{73, "enqcmds_pasid_fail"},
	{74, "bus_lock"},
	{75, "notify"},
	{76, "seamcall"},
	{77, "tdcall"},
	{78, "rdmsrlist"},
	{79, "wrmsrlist"},
	{84, "rdmsr_imm"},
	{85, "wrmsrns_imm"},
};

const char *xg_names_vmx_exit(uint64_t reason)
{
	return XG_NAME_FIND(vmx_exits, reason);
}

/* AMD APM Vol. 2, Appendix C "SVM Intercept Exit Codes". Ranges (CR/DR access, exception
 * intercepts, CR write traps) are named by svm_range_name() below. */
static const struct xg_name svm_exits[] = {
	{0x060, "intr"},
	{0x061, "nmi"},
	{0x062, "smi"},
	{0x063, "init"},
	{0x064, "vintr"},
	{0x065, "cr0_sel_write"},
	{0x066, "idtr_read"},
	{0x067, "gdtr_read"},
	{0x068, "ldtr_read"},
	{0x069, "tr_read"},
	{0x06a, "idtr_write"},
	{0x06b, "gdtr_write"},
	{0x06c, "ldtr_write"},
	{0x06d, "tr_write"},
	{0x06e, "rdtsc"},
	{0x06f, "rdpmc"},
	{0x070, "pushf"},
	{0x071, "popf"},
	{0x072, "cpuid"},
	{0x073, "rsm"},
	{0x074, "iret"},
	{0x075, "swint"},
	{0x076, "invd"},
	{0x077, "pause"},
	{0x078, "hlt"},
	{0x079, "invlpg"},
	{0x07a, "invlpga"},
	{0x07b, "ioio"},
	{0x07c, "msr"},
	{0x07d, "task_switch"},
	{0x07e, "ferr_freeze"},
	{0x07f, "shutdown"},
	{0x080, "vmrun"},
	{0x081, "vmmcall"},
	{0x082, "vmload"},
	{0x083, "vmsave"},
	{0x084, "stgi"},
	{0x085, "clgi"},
	{0x086, "skinit"},
	{0x087, "rdtscp"},
	{0x088, "icebp"},
	{0x089, "wbinvd"},
	{0x08a, "monitor"},
	{0x08b, "mwait"},
	{0x08c, "mwait_cond"},
	{0x08d, "xsetbv"},
	{0x08e, "rdpru"},
	{0x08f, "efer_write_trap"},
	{0x0a0, "invpcid"},
	{0x0a5, "bus_lock"},
	{0x0a6, "idle_hlt"},
	{0x400, "npf"},
	{0x401, "avic_incomplete_ipi"},
	{0x402, "avic_unaccelerated_access"},
	{0x403, "vmgexit"},
	{0xffffffffffffffffULL, "invalid_guest_state"}, /* VMEXIT_INVALID (-1) */
};

/* Names for the ranged SVM codes: 0x00-0x0f read_crN, 0x10-0x1f write_crN, 0x20-0x2f
 * read_drN, 0x30-0x3f write_drN, 0x40-0x5f excp_<vector>, 0x90-0x9f crN_write_trap. */
static const char *const svm_cr_dr[4][16] = {
#define XG_16(p, s)                                                                                \
	{p "0" s, p "1" s, p "2" s, p "3" s, p "4" s, p "5" s, p "6" s, p "7" s,                   \
	 p "8" s, p "9" s, p "10" s, p "11" s, p "12" s, p "13" s, p "14" s, p "15" s}
	XG_16("read_cr", ""), XG_16("write_cr", ""), XG_16("read_dr", ""), XG_16("write_dr", ""),
};
static const char *const svm_cr_trap[16] = XG_16("cr", "_write_trap");
#undef XG_16
static const char *const svm_excp[32] = {
	"excp_de", "excp_db", "excp_nmi", "excp_bp", "excp_of", "excp_br", "excp_ud", "excp_nm",
	"excp_df", "excp_09", "excp_ts", "excp_np", "excp_ss", "excp_gp", "excp_pf", "excp_15",
	"excp_mf", "excp_ac", "excp_mc", "excp_xm", "excp_ve", "excp_cp", "excp_22", "excp_23",
	"excp_24", "excp_25", "excp_26", "excp_27", "excp_hv", "excp_vc", "excp_sx", "excp_31",
};

const char *xg_names_svm_exit(uint64_t code)
{
	if (code < 0x40)
		return svm_cr_dr[code >> 4][code & 15];
	if (code < 0x60)
		return svm_excp[code - 0x40];
	if (code >= 0x90 && code < 0xa0)
		return svm_cr_trap[code - 0x90];
	return XG_NAME_FIND(svm_exits, code);
}

/* Intel SDM Vol. 3A, 6.15 "Exception and Interrupt Reference" (mnemonics without '#'). */
static const char *const x86_vectors[32] = {
	"DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", NULL, "TS",
	"NP", "SS", "GP",  "PF", NULL, "MF", "AC", "MC", "XM", "VE", "CP",
	NULL, NULL, NULL,  NULL, NULL, NULL, "HV", "VC", "SX", NULL,
};

const char *xg_names_x86_vector(uint32_t vector)
{
	return vector < 32 ? x86_vectors[vector] : NULL;
}

/* Interruption type, bits 10:8 (SDM Vol. 3C 25.9.2, Table 25-19; APM Vol. 2 15.20). */
static const char *const event_types[8] = {
	"external_interrupt", NULL, "nmi", "hardware_exception", "software_interrupt",
	"privileged_software_exception", "software_exception", "other_event",
};

const char *xg_names_event_type(uint32_t type)
{
	return type < 8 ? event_types[type] : NULL;
}

/* include/uapi/linux/kvm_para.h, KVM_HC_*. */
static const struct xg_name hypercalls[] = {
	{1, "vapic_poll_irq"},      {2, "mmu_op"},      {3, "features"},
	{4, "ppc_map_magic_page"},  {5, "kick_cpu"},    {6, "mips_get_clock_freq"},
	{7, "mips_exit_vm"},        {8, "mips_console_output"},
	{9, "clock_pairing"},       {10, "send_ipi"},   {11, "sched_yield"},
	{12, "map_gpa_range"},
};

const char *xg_names_hypercall(uint64_t nr)
{
	return XG_NAME_FIND(hypercalls, nr);
}

static const struct xg_name system_events[] = {
	{1, "shutdown"}, {2, "reset"},    {3, "crash"},     {4, "wakeup"},
	{5, "suspend"},  {6, "sev_term"}, {7, "tdx_fatal"},
};

const char *xg_names_system_event(uint32_t type)
{
	return XG_NAME_FIND(system_events, type);
}

/* KVM_MSR_EXIT_REASON_* (api.rst, KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR). */
static const struct xg_name msr_reasons[] = {
	{1, "inval"},
	{2, "unknown"},
	{4, "filter"},
};

const char *xg_names_msr_reason(uint32_t reason)
{
	return XG_NAME_FIND(msr_reasons, reason);
}

/* Well-known MSRs (SDM Vol. 4, chapter 2; KVM's paravirtual MSRs, Documentation/virt/kvm/
 * x86/msr.rst), so a triage line says what the guest poked at. */
static const struct xg_name msrs[] = {
	{0x00000010, "IA32_TIME_STAMP_COUNTER"},
	{0x0000001b, "IA32_APIC_BASE"},
	{0x0000003a, "IA32_FEATURE_CONTROL"},
	{0x0000003b, "IA32_TSC_ADJUST"},
	{0x00000048, "IA32_SPEC_CTRL"},
	{0x00000049, "IA32_PRED_CMD"},
	{0x0000008b, "IA32_BIOS_SIGN_ID"},
	{0x000000e7, "IA32_MPERF"},
	{0x000000e8, "IA32_APERF"},
	{0x000000fe, "IA32_MTRRCAP"},
	{0x0000010a, "IA32_ARCH_CAPABILITIES"},
	{0x00000174, "IA32_SYSENTER_CS"},
	{0x00000175, "IA32_SYSENTER_ESP"},
	{0x00000176, "IA32_SYSENTER_EIP"},
	{0x00000179, "IA32_MCG_CAP"},
	{0x0000017a, "IA32_MCG_STATUS"},
	{0x000001a0, "IA32_MISC_ENABLE"},
	{0x000001d9, "IA32_DEBUGCTL"},
	{0x00000277, "IA32_PAT"},
	{0x000002ff, "IA32_MTRR_DEF_TYPE"},
	{0x000006e0, "IA32_TSC_DEADLINE"},
	{0x00000da0, "IA32_XSS"},
	{0x4b564d00, "KVM_WALL_CLOCK_NEW"},
	{0x4b564d01, "KVM_SYSTEM_TIME_NEW"},
	{0x4b564d02, "KVM_ASYNC_PF_EN"},
	{0x4b564d03, "KVM_STEAL_TIME"},
	{0x4b564d04, "KVM_PV_EOI_EN"},
	{0x4b564d05, "KVM_POLL_CONTROL"},
	{0x4b564d06, "KVM_ASYNC_PF_INT"},
	{0x4b564d07, "KVM_ASYNC_PF_ACK"},
	{0x4b564d08, "KVM_MIGRATION_CONTROL"},
	{0xc0000080, "IA32_EFER"},
	{0xc0000081, "IA32_STAR"},
	{0xc0000082, "IA32_LSTAR"},
	{0xc0000083, "IA32_CSTAR"},
	{0xc0000084, "IA32_FMASK"},
	{0xc0000100, "IA32_FS_BASE"},
	{0xc0000101, "IA32_GS_BASE"},
	{0xc0000102, "IA32_KERNEL_GS_BASE"},
	{0xc0000103, "IA32_TSC_AUX"},
	{0xc0010114, "VM_CR"},
	{0xc0010117, "VM_HSAVE_PA"},
	{0xc0010131, "SEV_STATUS"},
};

const char *xg_names_msr(uint32_t index)
{
	return XG_NAME_FIND(msrs, index);
}

static const struct xg_name hyperv_types[] = {{1, "synic"}, {2, "hcall"}, {3, "syndbg"}};

const char *xg_names_hyperv_type(uint32_t type)
{
	return XG_NAME_FIND(hyperv_types, type);
}

const char *xg_names_xen_type(uint32_t type)
{
	return type == 1 ? "hcall" : NULL;
}

/* RISC-V SBI specification, chapter 3 "Binary Encoding" extension IDs. */
static const struct xg_name sbi_exts[] = {
	{0x00, "legacy_set_timer"},
	{0x01, "legacy_console_putchar"},
	{0x02, "legacy_console_getchar"},
	{0x03, "legacy_clear_ipi"},
	{0x04, "legacy_send_ipi"},
	{0x05, "legacy_remote_fence_i"},
	{0x06, "legacy_remote_sfence_vma"},
	{0x07, "legacy_remote_sfence_vma_asid"},
	{0x08, "legacy_shutdown"},
	{0x10, "base"},
	{0x735049, "ipi"},
	{0x48534d, "hsm"},
	{0x4442434e, "dbcn"},
	{0x504d55, "pmu"},
	{0x52464e43, "rfence"},
	{0x53525354, "srst"},
	{0x53555350, "susp"},
	{0x54494d45, "time"},
};

const char *xg_names_riscv_sbi_ext(uint64_t ext)
{
	/* The table is short; keep it in reading order and search it linearly. */
	for (unsigned i = 0; i < sizeof(sbi_exts) / sizeof(sbi_exts[0]); i++)
		if (sbi_exts[i].value == ext)
			return sbi_exts[i].name;
	return NULL;
}

/* TDVMCALL leaf numbers handed to userspace (api.rst, KVM_EXIT_TDX; GHCI spec 3.x). */
static const struct xg_name tdx_calls[] = {
	{0x10000, "get_td_vm_call_info"},
	{0x10002, "get_quote"},
	{0x10004, "setup_event_notify_interrupt"},
};

const char *xg_names_tdx_call(uint64_t nr)
{
	return XG_NAME_FIND(tdx_calls, nr);
}

/* ARM ARM DDI 0487, ESR_ELx.DFSC for data aborts (D24.2.45). */
static const struct xg_name arm_dfsc[] = {
	{0x00, "address_size_fault_l0"},
	{0x01, "address_size_fault_l1"},
	{0x02, "address_size_fault_l2"},
	{0x03, "address_size_fault_l3"},
	{0x04, "translation_fault_l0"},
	{0x05, "translation_fault_l1"},
	{0x06, "translation_fault_l2"},
	{0x07, "translation_fault_l3"},
	{0x08, "access_flag_fault_l0"},
	{0x09, "access_flag_fault_l1"},
	{0x0a, "access_flag_fault_l2"},
	{0x0b, "access_flag_fault_l3"},
	{0x0c, "permission_fault_l0"},
	{0x0d, "permission_fault_l1"},
	{0x0e, "permission_fault_l2"},
	{0x0f, "permission_fault_l3"},
	{0x10, "sync_external_abort"},
	{0x11, "sync_tag_check_fault"},
	{0x13, "sync_external_abort_walk_l-1"},
	{0x14, "sync_external_abort_walk_l0"},
	{0x15, "sync_external_abort_walk_l1"},
	{0x16, "sync_external_abort_walk_l2"},
	{0x17, "sync_external_abort_walk_l3"},
	{0x18, "sync_parity_ecc_error"},
	{0x1b, "sync_parity_ecc_error_walk_l-1"},
	{0x1c, "sync_parity_ecc_error_walk_l0"},
	{0x1d, "sync_parity_ecc_error_walk_l1"},
	{0x1e, "sync_parity_ecc_error_walk_l2"},
	{0x1f, "sync_parity_ecc_error_walk_l3"},
	{0x21, "alignment_fault"},
	{0x23, "granule_protection_fault_walk_l-1"},
	{0x24, "granule_protection_fault_walk_l0"},
	{0x25, "granule_protection_fault_walk_l1"},
	{0x26, "granule_protection_fault_walk_l2"},
	{0x27, "granule_protection_fault_walk_l3"},
	{0x28, "granule_protection_fault"},
	{0x29, "address_size_fault_l-1"},
	{0x2b, "translation_fault_l-1"},
	{0x30, "tlb_conflict_abort"},
	{0x31, "unsupported_atomic_hw_update"},
	{0x34, "impdef_lockdown"},
	{0x35, "impdef_unsupported_exclusive_atomic"},
};

const char *xg_names_arm_dfsc(uint32_t dfsc)
{
	return XG_NAME_FIND(arm_dfsc, dfsc);
}

/* ARM ARM DDI 0487, ESR_ELx.EC (D24.2.45, Table D24-?: "Exception Class"). */
static const struct xg_name arm_ec[] = {
	{0x00, "unknown"},
	{0x01, "wfx"},
	{0x03, "cp15_32"},
	{0x04, "cp15_64"},
	{0x05, "cp14_mr"},
	{0x06, "cp14_ls"},
	{0x07, "fp_asimd"},
	{0x08, "cp10_id"},
	{0x09, "pac"},
	{0x0a, "ls64"},
	{0x0c, "cp14_64"},
	{0x0d, "bti"},
	{0x0e, "illegal_state"},
	{0x11, "svc32"},
	{0x12, "hvc32"},
	{0x13, "smc32"},
	{0x15, "svc64"},
	{0x16, "hvc64"},
	{0x17, "smc64"},
	{0x18, "sys64"},
	{0x19, "sve"},
	{0x1a, "eret"},
	{0x1c, "fpac"},
	{0x1d, "sme"},
	{0x20, "iabt_low"},
	{0x21, "iabt_cur"},
	{0x22, "pc_align"},
	{0x24, "dabt_low"},
	{0x25, "dabt_cur"},
	{0x26, "sp_align"},
	{0x27, "mops"},
	{0x28, "fp_exc32"},
	{0x2c, "fp_exc64"},
	{0x2f, "serror"},
	{0x30, "breakpoint_low"},
	{0x31, "breakpoint_cur"},
	{0x32, "softstep_low"},
	{0x33, "softstep_cur"},
	{0x34, "watchpoint_low"},
	{0x35, "watchpoint_cur"},
	{0x38, "bkpt32"},
	{0x3a, "vector32"},
	{0x3c, "brk64"},
};

const char *xg_names_arm_ec(uint32_t ec)
{
	return XG_NAME_FIND(arm_ec, ec);
}

/* kvm_run.flags: x86 KVM_RUN_X86_SMM/BUS_LOCK/GUEST_MODE; arm64 KVM_DEBUG_ARCH_HSR_HIGH_VALID. */
static const char *const run_x86_bits[] = {"smm", "bus_lock", "guest_mode"};
static const char *const run_arm64_bits[] = {"hsr_high_valid"};
static const char *const emulation_bits[] = {"instruction_bytes"};
static const char *const memory_fault_bits[] = {[3] = "private"};
static const char *const notify_bits[] = {"context_invalid"};
static const char *const arm_sea_bits[] = {"gpa_valid"};
static const char *const hypercall_bits[] = {"long_mode"};
static const char *const s390_reset_bits[] = {"por", "clear", "subsystem", "cpu_init", "ipl"};

#define XG_FLAGSET(bits) {sizeof(bits) / sizeof(bits[0]), bits}
const struct xg_flagset xg_flags_run_x86 = XG_FLAGSET(run_x86_bits);
const struct xg_flagset xg_flags_run_arm64 = XG_FLAGSET(run_arm64_bits);
const struct xg_flagset xg_flags_emulation = XG_FLAGSET(emulation_bits);
const struct xg_flagset xg_flags_memory_fault = XG_FLAGSET(memory_fault_bits);
const struct xg_flagset xg_flags_notify = XG_FLAGSET(notify_bits);
const struct xg_flagset xg_flags_arm_sea = XG_FLAGSET(arm_sea_bits);
const struct xg_flagset xg_flags_hypercall = XG_FLAGSET(hypercall_bits);
const struct xg_flagset xg_flags_s390_reset = XG_FLAGSET(s390_reset_bits);
