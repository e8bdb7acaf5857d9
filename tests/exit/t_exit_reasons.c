/*
 * t_exit_reasons.c - every exit reason of the uapi (0..41) from a constructed kvm_run:
 * its name, its handler kind and the values and names of its fields, read both from the C
 * view and from the Lua form a policy sees. Then an exit number nobody knows.
 */
#include <stdio.h>

#include "exit_test.h"

static lua_State *L;
static struct run_buf r;
static struct xg_exit x;
static const char *cur;

static void decode(enum xg_arch arch, enum xg_hw hw)
{
	struct xg_error err;
	struct xg_exit_opts o = {arch, hw};

	if (xg_exit_decode(&x, r.b, sizeof(r.b), &o, &err))
		bail("decode failed: %s", err.msg);
	lua_bind(L, &x);
	cur = x.name;
}

#define LU(expr, want) is_str(lua_eval(L, expr), want, "%s: %s == %s", cur, expr, want)
#define CLEAN() is_str(x.malformed, "", "%s: nothing reported malformed", cur)

static void start(uint32_t reason)
{
	run_init(&r, reason);
}

static void names(const char *name, const char *kind)
{
	is_str(x.name, name, "exit %u is %s", x.reason, name);
	is_str(x.kind, kind, "%s: handler kind %s", name, kind);
	LU("e.reason", name);
	LU("e.kind", kind);
}

int main(void)
{
	L = test_lua();

	/* 0 UNKNOWN: hardware exit reason, named as VMX or SVM where it is one. */
	start(0);
	un(&r)->hw.hardware_exit_reason = 48;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("unknown", "unknown");
	LU("e.known", "true");
	LU("e.hardware_exit_reason", "48");
	LU("e.hardware_exit_reason_name", "ept_violation");
	decode(XG_ARCH_X86_64, XG_HW_SVM);
	LU("e.hardware_exit_reason_name", "write_dr0"); /* 48 = 0x30 */
	CLEAN();

	/* 1 EXCEPTION */
	start(1);
	un(&r)->ex.exception = 14;
	un(&r)->ex.error_code = 6;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("exception", "exception");
	LU("e.exception", "14");
	LU("e.exception_name", "PF");
	LU("e.error_code", "6");

	/* 2 IO: direction, size, port, count, and the data at data_offset. */
	start(2);
	un(&r)->io.direction = 1;
	un(&r)->io.size = 1;
	un(&r)->io.port = 0xe9;
	un(&r)->io.count = 3;
	un(&r)->io.data_offset = 1024;
	memcpy(r.b + 1024, "abc", 3);
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("io", "io");
	LU("e.direction", "out");
	LU("e.port", "233");
	LU("e.size", "1");
	LU("e.count", "3");
	LU("e.data", "abc");
	is_int(x.u.io.data_len, 3, "io: C view data_len");
	CLEAN();

	/* 3 HYPERCALL: MAP_GPA_RANGE named and its arguments decoded. */
	start(3);
	un(&r)->hypercall.nr = 12;
	un(&r)->hypercall.args[0] = 0x100000;
	un(&r)->hypercall.args[1] = 16;
	un(&r)->hypercall.args[2] = 0x10 | 1;
	un(&r)->hypercall.flags = 1;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("hypercall", "hypercall");
	LU("e.nr_name", "map_gpa_range");
	LU("e.longmode", "true");
	LU("#e.args", "6");
	LU("e.args[2]", "16");
	LU("e.map_gpa_range.gpa", "1048576");
	LU("e.map_gpa_range.npages", "16");
	LU("e.map_gpa_range.page_size", "2m");
	LU("e.map_gpa_range.encrypted", "true");
	CLEAN();

	/* 4 DEBUG: x86 layout ... */
	start(4);
	un(&r)->debug_x86.exception = 1;
	un(&r)->debug_x86.pc = 0x401000;
	un(&r)->debug_x86.dr6 = 0xffff0ff1;
	un(&r)->debug_x86.dr7 = 0x400;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("debug", "debug");
	LU("e.exception_name", "DB");
	LU("string.format('%x', e.pc)", "401000");
	LU("string.format('%x', e.dr6)", "ffff0ff1");
	/* ... and arm64's, with the exception class named. */
	start(4);
	un(&r)->debug_arm64.hsr = 0x3cu << 26 | 0x1000; /* BRK64 #0x1000 */
	un(&r)->debug_arm64.far = 0x8000;
	head(&r)->flags = 1;
	decode(XG_ARCH_ARM64, XG_HW_NONE);
	LU("e.ec_name", "brk64");
	LU("e.hsr_high_valid", "true");
	LU("e.far", "32768");
	LU("e.arch", "arm64");
	/* a field of another kind (x86's cr8 on arm64) is an error naming the kind */
	like(lua_eval(L, "e.cr8"),
	     "exit kind 'debug' (debug) has no field 'cr8' (its fields: ", "%s: e.cr8 has no field",
	     cur);

	/* 5 HLT and the other exits without a payload. */
	static const struct {
		uint32_t nr;
		const char *name, *kind;
	} bare[] = {
		{5, "hlt", "hlt"},         {7, "irq_window_open", "irq_window_open"},
		{8, "shutdown", "shutdown"}, {10, "intr", "intr"},
		{11, "set_tpr", "set_tpr"}, {16, "nmi", "nmi"},
		{21, "watchdog", "watchdog"}, {31, "dirty_ring_full", "dirty_ring_full"},
		{32, "ap_reset_hold", "ap_reset_hold"}, {33, "x86_bus_lock", "bus_lock"},
	};
	for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
		start(bare[i].nr);
		head(&r)->flags = bare[i].nr == 33 ? 2 : 0; /* KVM_RUN_X86_BUS_LOCK */
		decode(XG_ARCH_X86_64, XG_HW_VMX);
		names(bare[i].name, bare[i].kind);
		CLEAN();
	}
	LU("e.run_flags", "2");

	/* 6 MMIO: value assembled little-endian from len bytes. */
	start(6);
	un(&r)->mmio.phys_addr = 0xd0000000;
	un(&r)->mmio.len = 4;
	un(&r)->mmio.is_write = 1;
	memcpy(un(&r)->mmio.data, "\x78\x56\x34\x12\xff", 5);
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("mmio", "mmio");
	LU("string.format('%x', e.phys_addr)", "d0000000");
	LU("e.is_write", "true");
	LU("string.format('%x', e.value)", "12345678");
	LU("#e.data", "4");
	CLEAN();

	/* 9 FAIL_ENTRY: VMX entry failure, bit 31 set on the basic reason 33. */
	start(9);
	un(&r)->fail_entry.hardware_entry_failure_reason = 0x80000021;
	un(&r)->fail_entry.cpu = 3;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("fail_entry", "fail_entry");
	LU("e.hardware_entry_failure_reason_name", "invalid_guest_state");
	LU("e.cpu", "3");
	start(9);
	un(&r)->fail_entry.hardware_entry_failure_reason = 1;
	decode(XG_ARCH_ARM64, XG_HW_NONE);
	LU("e.cpu_unsupported", "true");

	/* 12 TPR_ACCESS */
	start(12);
	un(&r)->tpr_access.rip = 0x1234;
	un(&r)->tpr_access.is_write = 1;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("tpr_access", "tpr_access");
	LU("e.rip", "4660");
	LU("e.is_write", "1");

	/* 13..15, 18..20, 22, 23, 25: s390 and powerpc exits. */
	start(13);
	un(&r)->s390_sieic.icptcode = 4;
	un(&r)->s390_sieic.ipa = 0xb220;
	un(&r)->s390_sieic.ipb = 0x10;
	decode(XG_ARCH_S390X, XG_HW_NONE);
	names("s390_sieic", "s390_sieic");
	LU("e.icptcode", "4");
	LU("string.format('%x', e.ipa)", "b220");
	start(14);
	un(&r)->s390_reset_flags = 1 | 16;
	decode(XG_ARCH_S390X, XG_HW_NONE);
	names("s390_reset", "s390_reset");
	LU("e.reset_flags", "17");
	CLEAN();
	start(15);
	un(&r)->dcr.dcrn = 0x10;
	un(&r)->dcr.data = 0x20;
	un(&r)->dcr.is_write = 1;
	decode(XG_ARCH_PPC64, XG_HW_NONE);
	names("dcr", "dcr");
	LU("e.dcrn", "16");
	LU("e.is_write", "true");
	start(18);
	un(&r)->osi.gprs[31] = 77;
	decode(XG_ARCH_PPC64, XG_HW_NONE);
	names("osi", "osi");
	LU("#e.gprs", "32");
	LU("e.gprs[32]", "77");
	start(19);
	un(&r)->papr_hcall.nr = 0x4;
	un(&r)->papr_hcall.args[8] = 9;
	decode(XG_ARCH_PPC64, XG_HW_NONE);
	names("papr_hcall", "papr_hcall");
	LU("e.nr", "4");
	LU("e.args[9]", "9");
	start(20);
	un(&r)->s390_ucontrol.trans_exc_code = 0x1000;
	un(&r)->s390_ucontrol.pgm_code = 0x11;
	decode(XG_ARCH_S390X, XG_HW_NONE);
	names("s390_ucontrol", "s390_ucontrol");
	LU("e.pgm_code", "17");
	start(22);
	un(&r)->s390_tsch.subchannel_nr = 5;
	un(&r)->s390_tsch.dequeued = 1;
	decode(XG_ARCH_S390X, XG_HW_NONE);
	names("s390_tsch", "s390_tsch");
	LU("e.subchannel_nr", "5");
	LU("e.dequeued", "1");
	start(23);
	un(&r)->epr.epr = 0x42;
	decode(XG_ARCH_PPC64, XG_HW_NONE);
	names("epr", "epr");
	LU("e.epr", "66");
	start(25);
	un(&r)->s390_stsi.addr = 0x2000;
	un(&r)->s390_stsi.fc = 3;
	un(&r)->s390_stsi.sel2 = 2;
	decode(XG_ARCH_S390X, XG_HW_NONE);
	names("s390_stsi", "s390_stsi");
	LU("e.fc", "3");
	LU("e.sel2", "2");

	/* 17 INTERNAL_ERROR, EMULATION: flags, instruction bytes of exactly insn_size,
	 * then the five exit-information words, named for VMX. */
	start(17);
	un(&r)->emulation_failure.suberror = 1;
	un(&r)->emulation_failure.ndata = 9;
	un(&r)->emulation_failure.flags = 1;
	un(&r)->emulation_failure.insn_size = 4;
	memcpy(un(&r)->emulation_failure.insn_bytes, "\xc5\xfe\x6f\x00\x90\x90", 6);
	un(&r)->internal.data[3] = 48;         /* EPT violation */
	un(&r)->internal.data[4] = 0x181;      /* qualification */
	un(&r)->internal.data[5] = 0;          /* IDT vectoring */
	un(&r)->internal.data[6] = 0x80000b0e; /* #PF, hw exception, error code valid */
	un(&r)->internal.data[7] = 2;          /* error code */
	un(&r)->internal.data[8] = 0xabcd;     /* an extra word */
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("internal_error", "emulation_failure");
	LU("e.suberror", "emulation");
	LU("e.suberror_number", "1");
	LU("e.flags", "1");
	LU("e.insn.size", "4");
	LU("#e.insn.bytes", "4");
	LU("e.insn.bytes == '\\xc5\\xfe\\x6f\\x00'", "true");
	LU("e.hw.exit_reason_name", "ept_violation");
	LU("e.hw.info1", "385");
	LU("e.hw.intr.vector_name", "PF");
	LU("e.hw.intr.type_name", "hardware_exception");
	LU("e.hw.intr.error_code_valid", "true");
	LU("e.hw.error_code", "2");
	LU("#e.extra", "1");
	LU("e.extra[1]", "43981");
	is_int(x.u.internal.insn_size, 4, "emulation: C view insn_size");
	ok(x.u.internal.has_hw && x.u.internal.hwi.exit_reason == 48, "emulation: C view hw info");
	CLEAN();
	/* The same words on AMD are SVM exit codes: 0x400 is a nested page fault. */
	un(&r)->internal.data[3] = 0x400;
	decode(XG_ARCH_X86_64, XG_HW_SVM);
	LU("e.hw.exit_reason_name", "npf");
	/* A hypervisor reporting its own reason (kvm_pvm: 0x1000) gets no name, not a wrong one. */
	un(&r)->internal.data[3] = 0x1000;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	LU("e.hw.exit_reason_name", "nil");
	LU("e.hw.exit_reason", "4096");
	/* Without instruction bytes the words start at data[1]. */
	start(17);
	un(&r)->internal.suberror = 1;
	un(&r)->internal.ndata = 6;
	un(&r)->internal.data[0] = 0;
	un(&r)->internal.data[1] = 30; /* IO instruction */
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	LU("e.insn", "nil");
	LU("e.hw.exit_reason_name", "io_instruction");
	CLEAN();

	/* 17, SIMUL_EX: vectoring info, interruption info, error code, cpu. */
	start(17);
	un(&r)->internal.suberror = 2;
	un(&r)->internal.ndata = 4;
	un(&r)->internal.data[0] = 0x80000b0d; /* #GP being delivered */
	un(&r)->internal.data[1] = 0x80000b0e; /* #PF on the way */
	un(&r)->internal.data[2] = 0x10;
	un(&r)->internal.data[3] = 1;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("internal_error", "internal_error");
	LU("e.suberror", "simul_ex");
	LU("e.vectoring.vector_name", "GP");
	LU("e.intr.vector_name", "PF");
	LU("e.error_code", "16");
	LU("e.cpu", "1");
	CLEAN();
	/* 17, DELIVERY_EV: info2, reason, qualification, gpa, cpu (the 6.9+ layout) ... */
	start(17);
	un(&r)->internal.suberror = 3;
	un(&r)->internal.ndata = 5;
	un(&r)->internal.data[0] = 0x80000300 | 8; /* NMI? no: hw exception #DF */
	un(&r)->internal.data[1] = 49;             /* EPT misconfig */
	un(&r)->internal.data[2] = 0;
	un(&r)->internal.data[3] = 0xfee00000;
	un(&r)->internal.data[4] = 2;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	LU("e.suberror", "delivery_ev");
	LU("e.vectoring.vector_name", "DF");
	LU("e.hw.exit_reason_name", "ept_misconfig");
	LU("string.format('%x', e.gpa)", "fee00000");
	LU("e.cpu", "2");
	CLEAN();
	/* ... and the older 4-word one without gpa. */
	un(&r)->internal.ndata = 4;
	un(&r)->internal.data[3] = 7;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	LU("e.gpa", "nil");
	LU("e.cpu", "7");
	/* 17, UNEXPECTED_EXIT_REASON */
	start(17);
	un(&r)->internal.suberror = 4;
	un(&r)->internal.ndata = 2;
	un(&r)->internal.data[0] = 0x7f; /* SVM shutdown */
	un(&r)->internal.data[1] = 0;
	decode(XG_ARCH_X86_64, XG_HW_SVM);
	LU("e.suberror", "unexpected_exit_reason");
	LU("e.hw.exit_reason_name", "shutdown");
	LU("e.cpu", "0");
	CLEAN();

	/* 24 SYSTEM_EVENT: type names; arm64 PSCI flag. */
	static const char *const types[] = {NULL,      "shutdown", "reset",    "crash",
					    "wakeup", "suspend",  "sev_term", "tdx_fatal"};
	for (uint32_t t = 1; t <= 7; t++) {
		start(24);
		un(&r)->system_event.type = t;
		un(&r)->system_event.ndata = 1;
		un(&r)->system_event.data[0] = 1;
		decode(XG_ARCH_ARM64, XG_HW_NONE);
		LU("e.type", types[t]);
		CLEAN();
	}
	names("system_event", "system_event");
	start(24);
	un(&r)->system_event.type = 2;
	un(&r)->system_event.ndata = 1;
	un(&r)->system_event.data[0] = 1;
	decode(XG_ARCH_ARM64, XG_HW_NONE);
	LU("e.psci_flag", "psci_reset2");
	LU("e.data[1]", "1");

	/* 26 IOAPIC_EOI */
	start(26);
	un(&r)->eoi.vector = 0x31;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("ioapic_eoi", "ioapic_eoi");
	LU("e.vector", "49");

	/* 27 HYPERV: synic, hcall, syndbg */
	start(27);
	un(&r)->hyperv.type = 1;
	un(&r)->hyperv.u.synic.msr = 0x40000080;
	un(&r)->hyperv.u.synic.msg_page = 0x5000;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("hyperv", "hyperv");
	LU("e.type", "synic");
	LU("string.format('%x', e.msr)", "40000080");
	LU("e.msg_page", "20480");
	un(&r)->hyperv.type = 2;
	un(&r)->hyperv.u.hcall.input = 0x10;
	un(&r)->hyperv.u.hcall.params[1] = 5;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	LU("e.type", "hcall");
	LU("e.input", "16");
	LU("e.params[2]", "5");
	like(lua_eval(L, "e.msr"), "has no field 'msr' (its fields: reason,",
	     "%s: hcall has no e.msr", cur);
	un(&r)->hyperv.type = 3;
	un(&r)->hyperv.u.syndbg.pending_page = 0x9000;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	LU("e.type", "syndbg");
	LU("e.pending_page", "36864");
	CLEAN();

	/* 28 ARM_NISV: the ISS decoded, the fault IPA (values seen on real arm64 KVM). */
	start(28);
	un(&r)->arm_nisv.esr_iss = 0x6 | 1 << 6; /* translation fault L2, write */
	un(&r)->arm_nisv.fault_ipa = 0x10000000;
	decode(XG_ARCH_ARM64, XG_HW_NONE);
	names("arm_nisv", "arm_nisv");
	LU("e.iss.dfsc_name", "translation_fault_l2");
	LU("e.dfsc_name", "translation_fault_l2");
	LU("e.iss.wnr", "true");
	LU("e.is_write", "true");
	LU("e.iss.isv", "false");
	LU("e.iss.cm", "false");
	LU("string.format('%x', e.fault_ipa)", "10000000");
	CLEAN();

	/* 29/30 X86_RDMSR / X86_WRMSR: both reach the msr handler. */
	start(29);
	un(&r)->msr.reason = 2;
	un(&r)->msr.index = 0xc0000080;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("x86_rdmsr", "msr");
	LU("e.msr_reason", "unknown");
	LU("e.index_name", "IA32_EFER");
	LU("e.is_write", "false");
	CLEAN();
	start(30);
	un(&r)->msr.reason = 4;
	un(&r)->msr.index = 0x12345;
	un(&r)->msr.data = 0xdead;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("x86_wrmsr", "msr");
	LU("e.msr_reason", "filter");
	LU("e.index_name", "nil");
	LU("e.is_write", "true");
	LU("e.data", "57005");
	CLEAN();

	/* 34 XEN */
	start(34);
	un(&r)->xen.type = 1;
	un(&r)->xen.longmode = 1;
	un(&r)->xen.cpl = 0;
	un(&r)->xen.input = 29;
	un(&r)->xen.params[5] = 6;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("xen", "xen");
	LU("e.type", "hcall");
	LU("e.input", "29");
	LU("e.params[6]", "6");
	CLEAN();

	/* 35/36 RISCV_SBI, RISCV_CSR */
	start(35);
	un(&r)->riscv_sbi.extension_id = 0x4442434e;
	un(&r)->riscv_sbi.function_id = 2;
	decode(XG_ARCH_RISCV64, XG_HW_NONE);
	names("riscv_sbi", "riscv_sbi");
	LU("e.extension_name", "dbcn");
	LU("e.function_id", "2");
	start(36);
	un(&r)->riscv_csr.csr_num = 0x15;
	un(&r)->riscv_csr.write_mask = 0xff;
	decode(XG_ARCH_RISCV64, XG_HW_NONE);
	names("riscv_csr", "riscv_csr");
	LU("e.csr_num", "21");
	LU("e.write_mask", "255");

	/* 37 NOTIFY */
	start(37);
	un(&r)->notify.flags = 1;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("notify", "notify");
	LU("e.context_invalid", "true");
	CLEAN();

	/* 38 LOONGARCH_IOCSR: the mmio shape. */
	start(38);
	un(&r)->mmio.phys_addr = 0x420;
	un(&r)->mmio.len = 8;
	decode(XG_ARCH_LOONGARCH64, XG_HW_NONE);
	names("loongarch_iocsr", "loongarch_iocsr");
	LU("e.phys_addr", "1056");
	LU("e.len", "8");

	/* 39 MEMORY_FAULT: private = flags bit 3. */
	start(39);
	un(&r)->memory_fault.flags = 1 << 3;
	un(&r)->memory_fault.gpa = 0x80000000;
	un(&r)->memory_fault.size = 0x1000;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("memory_fault", "memory_fault");
	LU("e.private", "true");
	LU("string.format('%x', e.gpa)", "80000000");
	LU("e.size", "4096");
	CLEAN();
	un(&r)->memory_fault.flags = 0;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	LU("e.private", "false");

	/* 40 TDX */
	start(40);
	un(&r)->tdx.nr = 0x10002;
	un(&r)->tdx.data[0] = 0x7000; /* get_quote gpa */
	un(&r)->tdx.data[1] = 0x1000; /* get_quote size */
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	names("tdx", "tdx");
	LU("e.nr_name", "get_quote");
	LU("e.data[1]", "28672");
	LU("e.data[2]", "4096");

	/* 41 ARM_SEA */
	start(41);
	un(&r)->arm_sea.flags = 1;
	un(&r)->arm_sea.esr = (uint64_t)0x24 << 26 | 0x10; /* DABT lower EL, SEA */
	un(&r)->arm_sea.gva = 0xffff000012345000ULL;
	un(&r)->arm_sea.gpa = 0x40001000;
	decode(XG_ARCH_ARM64, XG_HW_NONE);
	names("arm_sea", "arm_sea");
	LU("e.ec_name", "dabt_low");
	LU("e.iss.dfsc_name", "sync_external_abort");
	LU("e.gpa_valid", "true");
	LU("string.format('%x', e.gpa)", "40001000");
	LU("string.format('%x', e.gva)", "ffff000012345000");
	CLEAN();

	/* A number no kernel has used yet: still an exit, with its number and raw bytes. */
	start(1000);
	un(&r)->padding[0] = 0xaa;
	un(&r)->padding[255] = 0x55;
	decode(XG_ARCH_X86_64, XG_HW_VMX);
	is_str(x.name, "unknown", "exit 1000 is unknown");
	LU("e.reason", "unknown");
	LU("e.exit_reason", "1000");
	LU("e.known", "false");
	LU("#e.raw", "256");
	LU("e.raw:byte(1)", "170");
	LU("e.raw:byte(256)", "85");
	like(x.malformed, "exit reason 1000 is not one this engine knows", "unknown number reported");

	/* Every number 0..41 has a name and a field table. */
	int all = 1;
	for (uint32_t n = 0; n <= 41; n++) {
		start(n);
		decode(XG_ARCH_X86_64, XG_HW_VMX);
		if (!x.known || !x.fields || !strcmp(x.kind, "")) {
			diag("exit %u has no name or field table", n);
			all = 0;
		}
	}
	ok(all, "every exit reason 0..41 is known and has a field table");

	lua_close(L);
	return done_testing();
}
