/*
 * derive.c - xg_triage_derive(): the named facts of one parsed block, and what they mean.
 *
 * The extra data words are read the way the kernel that printed them wrote them
 * (arch/x86/kvm: prepare_emulation_failure_exit(), vmx.c / svm.c handle_exit()); the bits of
 * the hardware words are named after the SDM (Intel; section and table numbers of the 2023
 * editions: Vol. 3C 25 VMCS, 27 VM entries, 28 VM exits, 31 VMX instructions; these VMX
 * chapters are one lower in the 2016 editions) and the APM (AMD), cited where each is
 * decoded. Anything the input does not say stays unknown: a fact is never guessed without
 * saying it is one.
 */
#include <stdlib.h>
#include <string.h>

#include "disasm/disasm.h"
#include "exit/names.h"
#include "triage/triage.h"
#if defined(__x86_64__)
#include "xg_emu_x86.h"
#endif

#define BIT(n) (1ull << (n))

static void note(struct xg_tri_facts *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void anomaly(struct xg_tri_facts *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#include <stdarg.h>

static void note(struct xg_tri_facts *f, const char *fmt, ...)
{
	va_list ap;

	if (f->nnotes >= XG_TRI_MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(f->notes[f->nnotes++], sizeof(f->notes[0]), fmt, ap);
	va_end(ap);
}

static void anomaly(struct xg_tri_facts *f, const char *fmt, ...)
{
	va_list ap;

	if (f->nanomalies >= XG_TRI_MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(f->anomalies[f->nanomalies++], sizeof(f->anomalies[0]), fmt, ap);
	va_end(ap);
}

/* Append to a fixed buffer. */
static void cat(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t size, const char *fmt, ...)
{
	size_t l = strlen(buf);
	va_list ap;

	if (l + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + l, size - l, fmt, ap);
	va_end(ap);
}

/* ---- hardware words ---- */

/* VMX exit reasons KVM meets when its emulator runs (SDM Vol. 3C Appendix C), and SVM exit
 * codes (APM Vol. 2 Appendix C), to tell which of the two printed a number. */
static int plausible_vmx(uint64_t r)
{
	uint32_t basic = (uint32_t)(r & 0xffff);
	if (r >> 32 || (r & 0x7fff0000u & ~(BIT(27) | BIT(28) | BIT(29))))
		return 0;
	return basic <= 77 && xg_names_vmx_exit(basic);
}

static int plausible_svm(uint64_t c)
{
	return (c >= 0x40 && c <= 0x5f) || (c >= 0x60 && c <= 0xa5) || c == 0x400 || c == 0x401 ||
	       c == 0x402 || c == 0x403 || c == 0xffffffffull || c == ~0ull || (c <= 0x1f);
}

/* VMX exits seen with an emulation failure or event-delivery error: what a person hits. */
static int likely_vmx(uint64_t r)
{
	static const uint8_t seen[] = {0, 2, 9, 10, 12, 18, 28, 30, 31, 32, 33, 44, 48, 49, 55};

	for (size_t i = 0; i < sizeof(seen); i++)
		if ((r & 0xffff) == seen[i])
			return 1;
	return 0;
}

static int likely_svm(uint64_t c)
{
	return c == 0x400 || c == 0x7b || c == 0x7c || (c >= 0x40 && c <= 0x5f) || c == 0x7f ||
	       c == 0x72 || c == 0x400 || c == 0x401;
}

/* SDM Vol. 3C 31.4, Table 31-1 "VM-Instruction Error Numbers". */
static const struct xg_name vm_insn_errors[] = {
    {1, "VMCALL executed in VMX root operation"},
    {2, "VMCLEAR with invalid physical address"},
    {3, "VMCLEAR with VMXON pointer"},
    {4, "VMLAUNCH with non-clear VMCS"},
    {5, "VMRESUME with non-launched VMCS"},
    {6, "VMRESUME after VMXOFF"},
    {7, "VM entry with invalid control field(s)"},
    {8, "VM entry with invalid host-state field(s)"},
    {9, "VMPTRLD with invalid physical address"},
    {10, "VMPTRLD with VMXON pointer"},
    {11, "VMPTRLD with incorrect VMCS revision identifier"},
    {12, "VMREAD/VMWRITE from/to unsupported VMCS component"},
    {13, "VMWRITE to read-only VMCS component"},
    {15, "VMXON executed in VMX root operation"},
    {16, "VM entry with invalid executive-VMCS pointer"},
    {17, "VM entry with non-launched executive VMCS"},
    {18, "VM entry with executive-VMCS pointer not VMXON pointer"},
    {19, "VMCALL with non-clear VMCS"},
    {20, "VMCALL with invalid VM-exit control fields"},
    {22, "VMCALL with incorrect MSEG revision identifier"},
    {23, "VMXOFF under dual-monitor treatment of SMIs and SMM"},
    {24, "VMCALL with invalid SMM-monitor features"},
    {25, "VM entry with invalid VM-execution control fields in executive VMCS"},
    {26, "VM entry with events blocked by MOV SS"},
    {28, "invalid operand to INVEPT/INVVPID"},
};

/* Exit qualification of an EPT violation: SDM Vol. 3C 28.2.1, Table 28-7 ("Exit
 * Qualification for EPT Violations"). */
static void ept_violation_bits(uint64_t q, char *out, size_t n)
{
	static const char *const bits[] = {
	    [0] = "data read",
	    [1] = "data write",
	    [2] = "instruction fetch",
	    [3] = "EPT entry readable",
	    [4] = "EPT entry writable",
	    [5] = "EPT entry executable",
	    [6] = "EPT entry user-executable",
	    [7] = "guest linear address valid",
	    [8] = "access to the translated address (not to a paging-structure entry)",
	    [9] = "user-mode linear address",
	    [10] = "linear address writable",
	    [11] = "linear address execute-disable",
	    [12] = "NMI unblocking due to IRET",
	    [13] = "shadow-stack access",
	    [14] = "supervisor shadow stack",
	    [15] = "guest-paging verification",
	    [16] = "asynchronous to instruction execution",
	};
	out[0] = 0;
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (q & BIT(i) && bits[i])
			cat(out, n, "%s%s", out[0] ? ", " : "", bits[i]);
	if (!(q & (BIT(3) | BIT(4) | BIT(5))))
		cat(out, n, "%sGPA not mapped in EPT (no R/W/X)", out[0] ? "; " : "");
}

/* EXITINFO1 of a nested page fault: the #PF error code (APM Vol. 2 15.25.6 "Nested versus
 * Guest Page Faults, Fault Ordering"; bits 32/33 as in 15.25.6's EXITINFO1 description). */
static void npf_bits(uint64_t e, char *out, size_t n)
{
	static const struct {
		int bit;
		const char *name;
	} bits[] = {{0, "present (protection violation)"},
		    {1, "write"},
		    {2, "user"},
		    {3, "reserved bit set"},
		    {4, "instruction fetch"},
		    {5, "protection key"},
		    {6, "shadow stack"},
		    {32, "fault on the final guest physical address"},
		    {33, "fault during the guest's page-table walk"}};
	out[0] = 0;
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (e & BIT(bits[i].bit))
			cat(out, n, "%s%s", out[0] ? ", " : "", bits[i].name);
	if (!(e & 1))
		cat(out, n, "%snot present in the nested page table", out[0] ? "; " : "");
}

/* IDT-vectoring information / VM-exit interruption information (SDM Vol. 3C 25.9.2 and
 * 25.9.3, Tables 25-19 and 25-20), also the layout of SVM's EXITINTINFO (APM Vol. 2 15.7.2):
 * vector 7:0, type 10:8, error code valid 11, valid 31 (SVM: error code in 63:32). */
static void event_bits(uint64_t v, int svm, char *out, size_t n)
{
	uint32_t vec = v & 0xff, type = (v >> 8) & 7;
	const char *tn = xg_names_event_type(type), *vn = xg_names_x86_vector(vec);

	if (!(v & BIT(31))) {
		snprintf(out, n, "not valid (no event was being delivered)");
		return;
	}
	snprintf(out, n, "valid: %s, vector %u", tn ? tn : "reserved type", vec);
	if ((type == 3 || type == 2) && vn)
		cat(out, n, " (#%s)", vn);
	if (v & BIT(11))
		cat(out, n, svm ? ", error code 0x%x" : ", with an error code",
		    (unsigned)(v >> 32));
	if (!svm && (v & BIT(12)))
		cat(out, n, ", NMI unblocking due to IRET");
}

static const char *event_short(uint64_t v, char *buf, size_t n)
{
	uint32_t vec = v & 0xff, type = (v >> 8) & 7;
	const char *vn = xg_names_x86_vector(vec);

	if ((type == 3 || type == 2) && vn)
		snprintf(buf, n, "#%s", vn);
	else if (type == 0)
		snprintf(buf, n, "external interrupt %u", vec);
	else if (type == 4)
		snprintf(buf, n, "INT %u", vec);
	else
		snprintf(buf, n, "vector %u", vec);
	return buf;
}

/* ---- memory maps ---- */

/* What lives at a guest physical address on a QEMU/KVM PC (pc and q35 machines) and on the
 * arm64 `virt` machine (hw/arm/virt.c base_memmap). */
static const char *pc_region(uint64_t a)
{
	static const struct {
		uint64_t lo, hi;
		const char *what;
	} map[] = {
	    {0x0, 0x3ff, "the real-mode interrupt vector table (RAM)"},
	    {0x400, 0x4ff, "the BIOS data area (RAM)"},
	    {0x500, 0x9fbff, "conventional memory (RAM below 640 KiB)"},
	    {0x9fc00, 0x9ffff, "the extended BIOS data area (RAM)"},
	    {0xa0000, 0xbffff,
	     "the legacy VGA window (device memory, not RAM; SMRAM's A-segment while SMRAM is "
	     "open)"},
	    {0xc0000, 0xc7fff, "the VGA option ROM"},
	    {0xc8000, 0xdffff, "the option ROM area (expansion ROMs)"},
	    {0xe0000, 0xfffff, "the BIOS area (system BIOS, read-only shadow)"},
	    {0x100000, 0x7fffffff, "RAM above 1 MiB (if the guest has that much)"},
	    {0x80000000, 0xafffffff,
	     "below-4 GiB RAM or the 32-bit PCI hole, depending on the guest's RAM size"},
	    {0xb0000000, 0xbfffffff,
	     "q35's PCIe MMCONFIG window, or below-4 GiB RAM on the pc machine"},
	    {0xc0000000, 0xfebfffff, "the 32-bit PCI hole (device BARs), or RAM on a small pc"},
	    {0xfec00000, 0xfec00fff, "the IO-APIC (MMIO)"},
	    {0xfec01000, 0xfecfffff, "chipset MMIO"},
	    {0xfed00000, 0xfed003ff, "the HPET (MMIO)"},
	    {0xfed00400, 0xfedfffff, "chipset MMIO (TPM, ICH9 RCRB)"},
	    {0xfee00000, 0xfeefffff, "the local APIC (MMIO)"},
	    {0xfef00000, 0xffffffff,
	     "the firmware flash / BIOS ROM (the reset vector is 0xfffffff0)"},
	};
	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (a >= map[i].lo && a <= map[i].hi)
			return map[i].what;
	if (a < (1ull << 52))
		return "RAM above 4 GiB (if the guest has that much) or the 64-bit PCI hole";
	return "beyond any x86 physical address width (52 bits)";
}

static const char *virt_region(uint64_t a)
{
	static const struct {
		uint64_t lo, hi;
		const char *what;
	} map[] = {
	    {0x0, 0x07ffffff, "the flash (firmware)"},
	    {0x08000000, 0x0800ffff, "the GIC distributor"},
	    {0x08010000, 0x0801ffff, "the GIC CPU interface"},
	    {0x08020000, 0x0807ffff, "the GIC virtual interfaces"},
	    {0x08080000, 0x0809ffff, "the GIC ITS / v2m"},
	    {0x080a0000, 0x08ffffff, "the GICv3 redistributors"},
	    {0x09000000, 0x09000fff, "the PL011 UART"},
	    {0x09010000, 0x09010fff, "the PL031 RTC"},
	    {0x09020000, 0x09020017, "fw_cfg"},
	    {0x09030000, 0x09030fff, "the PL061 GPIO"},
	    {0x0a000000, 0x0a003fff, "the virtio-mmio transports"},
	    {0x0c000000, 0x0dffffff, "the platform bus"},
	    {0x10000000, 0x3efeffff, "the PCIe MMIO window"},
	    {0x3eff0000, 0x3effffff, "the PCIe I/O window"},
	    {0x3f000000, 0x3fffffff, "the PCIe ECAM"},
	};
	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (a >= map[i].lo && a <= map[i].hi)
			return map[i].what;
	if (a >= 0x40000000)
		return "RAM (virt's RAM starts at 1 GiB)";
	return "a hole in the virt memory map (nothing is mapped there)";
}

/* 1 if the address is RAM on a PC of any size (low memory). */
static int pc_low_ram(uint64_t a)
{
	return a < 0xa0000;
}

/* Device memory on any PC: the VGA window and the chipset's MMIO below the firmware flash.
 * Option ROMs, the BIOS area and the flash are memory KVM can fetch from (ROM slots). */
static int pc_not_ram(uint64_t a)
{
	return (a >= 0xa0000 && a < 0xc0000) || (a >= 0xfec00000 && a < 0xfef00000);
}

/* ---- CPU state ---- */

static int have(const struct xg_tri_block *b, int r)
{
	return b->have[r];
}

static void cpu_mode(const struct xg_tri_block *b, struct xg_tri_facts *f)
{
	const struct xg_tri_segreg *cs = &b->seg[XG_TS_CS];
	uint64_t cr0 = b->reg[XG_TR_CR0], efer = b->reg[XG_TR_EFER], rfl = b->reg[XG_TR_RFL];
	int pe = -1, lma = -1, vm = -1, l = -1, d = -1;

	f->paging = f->smm = f->cpl = -1;
	if (b->arch == 1) {
		if (have(b, XG_TR_PSTATE)) {
			/* PSTATE/SPSR M[4:0] (ARM ARM C5.2.18): M[4]=0 AArch64, M[3:2] EL, M[0] SP
			 */
			uint64_t ps = b->reg[XG_TR_PSTATE];
			unsigned el = (ps >> 2) & 3;
			if (ps & 0x10) {
				f->cpu_mode = "aarch32";
				snprintf(f->cpu_mode_text, sizeof(f->cpu_mode_text),
					 "AArch32 (PSTATE 0x%llx)", (unsigned long long)ps);
			} else {
				static const char *const m[4][2] = {{"EL0t", "EL0t"},
								    {"EL1t", "EL1h"},
								    {"EL2t", "EL2h"},
								    {"EL3t", "EL3h"}};
				f->cpu_mode = m[el][ps & 1];
				snprintf(f->cpu_mode_text, sizeof(f->cpu_mode_text),
					 "AArch64 %s (exception level %u, SP_EL%u)", f->cpu_mode,
					 el, (ps & 1) ? el : 0);
			}
			f->cpl = (int)el;
		}
		if (have(b, XG_TR_PC)) {
			f->have_rip = 1;
			f->rip = b->reg[XG_TR_PC];
		}
		return;
	}
	if (have(b, XG_TR_CR0)) {
		pe = (int)(cr0 & 1);
		f->paging = (int)((cr0 >> 31) & 1);
	} else if (b->seg_words && !b->seg_bare) {
		pe = 1; /* QEMU printed the DPL/type words: CR0.PE=1 (see parse.c) */
	} else if (b->seg_bare && !b->seg_words) {
		pe = 0; /* present segments printed without them: CR0.PE=0 */
		f->paging = 0; /* CR0.PG=1 needs PE=1 (SDM Vol. 3A 2.5) */
		note(f, "CR0 is not in the dump; the segment lines lack the DPL/type words QEMU "
			"prints only in protected mode, so CR0.PE=0");
	}
	if (have(b, XG_TR_EFER))
		lma = (int)((efer >> 10) & 1);
	if (have(b, XG_TR_RFL))
		vm = (int)((rfl >> 17) & 1);
	if (cs->have_flags) {
		l = (int)((cs->flags >> 21) & 1);
		d = (int)((cs->flags >> 22) & 1);
	}
	if (have(b, XG_TR_SMM))
		f->smm = (int)(b->reg[XG_TR_SMM] != 0);
	if (have(b, XG_TR_CPL))
		f->cpl = (int)b->reg[XG_TR_CPL];
	else if (cs->have_flags && pe == 1)
		f->cpl =
		    (int)((cs->flags >> 13) & 3); /* CS.DPL is the CPL for a non-conforming CS */

	/* SDM Vol. 3A 2.2 / 9.1: CR0.PE=0 real mode; PE=1 with EFLAGS.VM virtual-8086; IA-32e
	 * mode when EFER.LMA=1, where CS.L picks 64-bit vs compatibility mode (3.4.5); CS.D the
	 * default size otherwise. */
	if (pe == 0) {
		f->cpu_mode = "real";
		f->code_bits = 16;
	} else if (pe == 1 && vm == 1) {
		f->cpu_mode = "vm86";
		f->code_bits = 16;
	} else if ((lma == 1 || (lma < 0 && pe != 0 && l == 1 && d != 1)) && l == 1) {
		f->cpu_mode = "long64";
		f->code_bits = 64;
	} else if (lma == 1 && l == 0) {
		f->cpu_mode = d == 1 ? "compat32" : "compat16";
		f->code_bits = d == 1 ? 32 : 16;
	} else if (pe == 1 || (pe < 0 && cs->have_flags && (cs->flags & BIT(12)) && d >= 0)) {
		f->cpu_mode = d == 1 ? "protected32" : "protected16";
		f->code_bits = d == 1 ? 32 : 16;
	} else if (pe < 0 && (have(b, XG_TR_RIP) && !b->regs_wide)) {
		/* only 32-bit register names: not long mode; real or protected unknown */
		f->cpu_mode = NULL;
	}
	if (!f->cpu_mode && b->regs_wide && have(b, XG_TR_RIP) &&
	    b->reg[XG_TR_RIP] > 0xffffffffull) {
		f->cpu_mode = "long64"; /* a RIP above 4 GiB exists only in 64-bit mode */
		f->code_bits = 64;
	}
	if (f->cpu_mode) {
		static const struct {
			const char *m, *text;
		} names[] = {{"real", "real mode (16-bit)"},
			     {"vm86", "virtual-8086 mode"},
			     {"long64", "long mode, 64-bit code"},
			     {"compat32", "long mode, 32-bit compatibility code"},
			     {"compat16", "long mode, 16-bit compatibility code"},
			     {"protected32", "protected mode, 32-bit code"},
			     {"protected16", "protected mode, 16-bit code"}};
		for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(names[i].m, f->cpu_mode))
				snprintf(f->cpu_mode_text, sizeof(f->cpu_mode_text), "%s",
					 names[i].text);
		if (f->paging == 1) {
			uint64_t cr4 = b->reg[XG_TR_CR4];
			cat(f->cpu_mode_text, sizeof(f->cpu_mode_text), ", paging on%s",
			    !have(b, XG_TR_CR4)				 ? ""
			    : (cr4 & BIT(12))				 ? " (5-level)"
			    : lma == 1 || !strcmp(f->cpu_mode, "long64") ? " (4-level)"
			    : (cr4 & BIT(5))				 ? " (PAE)"
									 : " (32-bit)");
		} else if (f->paging == 0) {
			cat(f->cpu_mode_text, sizeof(f->cpu_mode_text), ", paging off");
		}
		if (f->smm == 1)
			cat(f->cpu_mode_text, sizeof(f->cpu_mode_text), ", in SMM");
	}
	if (have(b, XG_TR_RIP)) {
		f->have_rip = 1;
		f->rip = b->reg[XG_TR_RIP];
		if (cs->have) {
			/* SDM Vol. 3A 3.4.4: in 64-bit mode the CS base is treated as 0; in real
			 * and vm86 mode IP is 16 bits wide */
			uint64_t base = f->code_bits == 64 ? 0 : cs->base;
			/* real mode uses EIP as it is: QEMU prints what the CPU fetches from, and
			 * "big real" code runs above 64 KiB */
			uint64_t ip = f->code_bits == 64 ? f->rip : (f->rip & 0xffffffffull);
			f->linear = base + ip;
			f->have_linear = 1;
		} else if (f->code_bits == 64) {
			f->linear = f->rip;
			f->have_linear = 1;
		}
	}
	/* SDM Vol. 3C 32.5.1 (Initial SMM Execution Environment): an SMI enters SMM with
	 * CS.base = SMBASE, CS.selector = SMBASE >> 4 (truncated to 16 bits) and EIP = 0x8000. */
	if (f->smm == 1 && f->have_rip && (f->rip & 0xffffffffull) == 0x8000) {
		if (cs->have)
			note(f,
			     "RIP 0x8000 in SMM is the SMI handler's first instruction: the vCPU "
			     "had just entered SMM (SMBASE = CS.base = 0x%llx)",
			     (unsigned long long)cs->base);
		else
			note(f, "RIP 0x8000 in SMM is the SMI handler's first instruction: the "
				"vCPU had just entered SMM");
	}
}

/* ---- instruction and code ---- */

static void hexbytes(const uint8_t *b, const uint8_t *known, int n, char *out, size_t size)
{
	out[0] = 0;
	for (int i = 0; i < n; i++)
		if (known && !known[i])
			cat(out, size, "%s??", i ? " " : "");
		else
			cat(out, size, "%s%02x", i ? " " : "", b[i]);
}

static size_t dis(const struct xg_tri_block *b, int bits, const uint8_t *p, size_t n, uint64_t addr,
		  char *out, size_t size)
{
	if (b->arch == 1)
		return xg_disasm_one(XG_ARCH_ARM64, p, n, addr, out, size);
	return xg_disasm_x86((unsigned)bits, p, n, addr, out, size);
}

/* How a run of bytes looks: zeroes, one filler byte, 0xff, VGA text cells, far pointers. */
static void looks(const uint8_t *p, const uint8_t *known, int n, uint64_t addr, int have_addr,
		  char *out, size_t size)
{
	int all_known = 1, same = 1;

	out[0] = 0;
	if (n <= 0)
		return;
	for (int i = 0; i < n; i++) {
		if (!known[i])
			all_known = 0;
		if (p[i] != p[0])
			same = 0;
	}
	if (!all_known) {
		snprintf(out, size, "bytes QEMU could not read (?\?): not RAM, or not mapped");
		return;
	}
	if (same && n >= 4) {
		if (p[0] == 0)
			snprintf(out, size, "zeroes");
		else if (p[0] == 0xff)
			snprintf(out, size, "0xff bytes (what unbacked memory reads as)");
		else
			snprintf(out, size, "filler 0x%02x", p[0]);
		return;
	}
	/* VGA text mode cells: a character, then an attribute byte that stays the same */
	for (int off = 0; off < 2 && n >= 12; off++) {
		int cells = 0, ok = 1;
		uint8_t attr = p[off + 1];
		for (int i = off; i + 1 < n; i += 2, cells++)
			if (p[i + 1] != attr || p[i] < 0x20 || p[i] > 0x7e) {
				ok = 0;
				break;
			}
		if (ok && cells >= 6 && attr != 0 && attr != p[off]) {
			char text[40] = "";
			for (int i = off, k = 0; i < n && k < 30; i += 2, k++)
				text[k] = (char)p[i], text[k + 1] = 0;
			snprintf(out, size,
				 "VGA text-mode cells (character, attribute 0x%02x): \"%s\"", attr,
				 text);
			return;
		}
	}
	/* real-mode far pointers (offset, segment F000/C000/E000): the interrupt vector table */
	if (have_addr && addr < 0x400 + 64) {
		int ptrs = 0, slots = 0;
		int first = (int)((4 - (addr & 3)) & 3);
		for (int i = first; i + 3 < n; i += 4, slots++)
			if (p[i + 2] == 0 &&
			    (p[i + 3] == 0xf0 || p[i + 3] == 0xc0 || p[i + 3] == 0xe0))
				ptrs++;
		if (slots >= 3 && ptrs * 2 > slots) {
			snprintf(
			    out, size,
			    "real-mode far pointers (like %02X%02X:%02X%02X): the interrupt vector "
			    "table, not code",
			    p[first + 3], p[first + 2], p[first + 1], p[first]);
			return;
		}
	}
	snprintf(out, size, "code");
}

static void instruction(const struct xg_tri_block *b, struct xg_tri_facts *f)
{
	int bits = b->arch == 1 ? 64 : f->code_bits;
	int m = b->marker;
	char text[96];

	f->emu_supported = -1;
	if (b->ncode <= 0 || m < 0 || m >= b->ncode)
		return;
	if (!bits) {
		note(f, "the CPU mode is not known: the bytes at the marker are not disassembled");
		hexbytes(b->code + m, b->code_known + m, b->ncode - m > 15 ? 15 : b->ncode - m,
			 f->insn_bytes, sizeof(f->insn_bytes));
		snprintf(f->insn_source, sizeof(f->insn_source), "code line, at the marker");
		return;
	}
	int avail = 0;
	while (m + avail < b->ncode && b->code_known[m + avail] && avail < 15)
		avail++;
	uint64_t at = f->have_linear ? f->linear : f->have_rip ? f->rip : 0;
	snprintf(f->insn_source, sizeof(f->insn_source), "code line, at the marker");
	if (!avail) {
		snprintf(f->insn_bytes, sizeof(f->insn_bytes), "??");
		snprintf(f->insn_text, sizeof(f->insn_text),
			 "(the bytes at RIP could not be read)");
		return;
	}
	size_t len = dis(b, bits, b->code + m, (size_t)avail, at, text, sizeof(text));
	f->insn_len = (int)len;
	hexbytes(b->code + m, NULL, len ? (int)len : (avail < 15 ? avail : 15), f->insn_bytes,
		 sizeof(f->insn_bytes));
	snprintf(f->insn_text, sizeof(f->insn_text), "%s", text);
	if (len && b->arch == 0) {
		/* the instructions after it */
		size_t off = (size_t)m + len;
		for (int k = 0; k < 3 && off < (size_t)b->ncode; k++) {
			size_t left = 0;
			while (off + left < (size_t)b->ncode && b->code_known[off + left] &&
			       left < 15)
				left++;
			size_t l = dis(b, bits, b->code + off, left, at + (off - (size_t)m), text,
				       sizeof(text));
			if (!l)
				break;
			snprintf(f->ctx_after[f->nafter++], sizeof(f->ctx_after[0]), "%s", text);
			off += l;
		}
		/* before it: the earliest start whose instructions end exactly at the marker */
		for (int s = 0; s < m; s++) {
			int ok = 1, cnt = 0;
			size_t pos = (size_t)s;
			char tmp[3][96];
			for (int i = s; i < m; i++)
				if (!b->code_known[i])
					ok = 0;
			while (ok && pos < (size_t)m) {
				char t2[96];
				size_t l = dis(b, bits, b->code + pos, (size_t)m - pos,
					       at - ((size_t)m - pos), t2, sizeof(t2));
				if (!l) {
					ok = 0;
					break;
				}
				memmove(tmp[0], tmp[1], sizeof(tmp[0]) * 2);
				snprintf(tmp[2], sizeof(tmp[2]), "%s", t2);
				cnt++;
				pos += l;
			}
			if (ok && pos == (size_t)m && cnt) {
				int k0 = cnt >= 3 ? 0 : 3 - cnt;
				for (int k = k0; k < 3; k++)
					snprintf(f->ctx_before[f->nbefore++],
						 sizeof(f->ctx_before[0]), "%s", tmp[k]);
				break;
			}
		}
	}
	/* what the bytes look like, before and from the marker */
	char before[128], from[128];
	looks(b->code, b->code_known, m, at - (uint64_t)m, f->have_linear, before, sizeof(before));
	looks(b->code + m, b->code_known + m, b->ncode - m, at, f->have_linear, from, sizeof(from));
	if (before[0] && strcmp(before, "code"))
		snprintf(f->code_looks, sizeof(f->code_looks), "before RIP: %s; from RIP: %s",
			 before, from);
	else if (strcmp(from, "code"))
		snprintf(f->code_looks, sizeof(f->code_looks), "from RIP: %s", from);
	else
		snprintf(f->code_looks, sizeof(f->code_looks), "code");
#if defined(__x86_64__)
	if (b->arch == 0 && len && b->exit == XG_TX_INTERNAL && b->suberror <= 1) {
		struct xg_emu_x86_insn insn;
		struct xg_emu_x86_exception exc;
		char reason[96] = "";
		int real =
		    f->cpu_mode && (!strcmp(f->cpu_mode, "real") || !strcmp(f->cpu_mode, "vm86"));
		enum xg_emu_x86_status st = xg_emu_x86_decode(
		    b->code + m, (size_t)avail, (unsigned)bits, real, &insn, &exc, reason);
		if (st == XG_EMU_X86_OK && xg_emu_x86_supported(&insn)) {
			f->emu_supported = 1;
			snprintf(f->emu, sizeof(f->emu), "exitgate's x86 emulator implements %s",
				 insn.name ? insn.name : f->insn_text);
		} else {
			f->emu_supported = 0;
			snprintf(f->emu, sizeof(f->emu),
				 "exitgate's x86 emulator does not implement it%s%s",
				 reason[0] ? ": " : "", reason);
		}
	}
#endif
}

/* ---- the exit ---- */

static const char *exit_name(enum xg_tri_exit e)
{
	static const char *const n[] = {
	    [XG_TX_NONE] = NULL,
	    [XG_TX_INTERNAL] = "internal_error",
	    [XG_TX_FAIL_ENTRY] = "fail_entry",
	    [XG_TX_RUN_FAILED] = "run_failed",
	    [XG_TX_SHUTDOWN] = "shutdown",
	    [XG_TX_EXIT_REASON] = "unhandled_exit",
	    [XG_TX_MSR] = "unhandled_msr",
	    [XG_TX_NISV] = "arm_nisv",
	    [XG_TX_TRACE] = "kvm_exit_trace",
	    [XG_TX_SET_STATE] = "set_state_failed",
	    [XG_TX_GUEST_STATE] = "fail_entry",
	};
	return (unsigned)e < sizeof(n) / sizeof(n[0]) ? n[e] : NULL;
}

/* Which vendor's hardware words these are: words in the text first, then what the numbers
 * can be. */
static int vendor_of(const struct xg_tri_block *b, struct xg_tri_facts *f, uint64_t hw, int have_hw)
{
	if (b->arch == 1) {
		f->vendor_why = "arm64";
		return 0;
	}
	if (b->vendor_hint_value) {
		f->vendor_why = b->vendor_hint;
		return b->vendor_hint_value;
	}
	if (b->exit == XG_TX_FAIL_ENTRY && b->have_hw_error) {
		if (b->hw_error & 0x80000000u && !(b->hw_error >> 32) &&
		    plausible_vmx(b->hw_error)) {
			f->vendor_why = "entry failure reason with bit 31 set (VMX)";
			return 1;
		}
		if (b->hw_error == 0xffffffffull || b->hw_error == ~0ull) {
			f->vendor_why = "entry failure code -1 (SVM_EXIT_ERR)";
			return 2;
		}
	}
	if (b->exit == XG_TX_GUEST_STATE) {
		f->vendor_why = "dump_vmcs (VMX)";
		return 1;
	}
	if (b->exit == XG_TX_TRACE && b->nitems) {
		/* SVM trace names are printed as EXIT_<name> */
		int svm = !strncmp(b->items[b->nitems - 1].name, "EXIT_", 5);
		f->vendor_why = svm ? "SVM exit names in the trace" : "VMX exit names in the trace";
		return svm ? 2 : 1;
	}
	if (have_hw && b->exit != XG_TX_FAIL_ENTRY) {
		int v = plausible_vmx(hw) && likely_vmx(hw),
		    s = plausible_svm(hw) && likely_svm(hw);
		if (v && !s) {
			f->vendor_why = "the hardware exit reason is a VMX one";
			return 1;
		}
		if (s && !v) {
			f->vendor_why = "the hardware exit code is an SVM one";
			return 2;
		}
	}
	return 0;
}

/* Where in the extra data the hardware exit words are, by suberror and count
 * (arch/x86/kvm/x86.c prepare_emulation_failure_exit(), vmx.c __vmx_handle_exit(),
 * handle_exception_nmi()). */
static void data_words(const struct xg_tri_block *b, struct xg_tri_facts *f, uint64_t *hw,
		       int *have_hw)
{
	const uint64_t *d = b->data;
	int n = b->ndata;

	*have_hw = 0;
	if (b->exit == XG_TX_INTERNAL && b->suberror == 1 && n >= 6) {
		/* data[0] flags; with KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES (bit 0)
		 * data[1..2] hold insn_size and insn_bytes; then exit reason, info1, info2,
		 * intr_info, error_code; then what the caller added (the last vCPU entry CPU) */
		int s = (d[0] & 1) ? 3 : 1;
		if (n < s + 5)
			return;
		*hw = d[s];
		*have_hw = 1;
		f->qual = d[s + 1], f->have_qual = 1;
		f->info2 = d[s + 2], f->have_info2 = 1;
		f->intr = d[s + 3], f->have_intr = 1;
		f->err_code = d[s + 4], f->have_err_code = 1;
		return;
	}
	if (b->exit == XG_TX_INTERNAL && b->suberror == 2 && n >= 2) {
		/* SIMUL_EX: data[0] IDT-vectoring info, data[1] VM-exit interruption info,
		 * data[2] its error code (newer kernels), data[3] last vCPU entry CPU */
		f->vect = d[0], f->have_vect = 1;
		f->intr = d[1], f->have_intr = 1;
		if (n >= 3)
			f->err_code = d[2], f->have_err_code = 1;
		return;
	}
	if (b->exit == XG_TX_INTERNAL && b->suberror == 3 && n >= 3 &&
	    (d[1] == 0x400 || d[1] == 0x4e)) {
		/* DELIVERY_EV from SVM (Linux 6.14+): kvm_prepare_event_vectoring_exit() in x86.c
		 * writes svm_get_exit_info()'s info2, exit code, info1, then the GPA (~0 when
		 * none) and the last CPU: data[0] is EXITINFO2 (the #NPF's GPA, or #PF's CR2),
		 * data[2] EXITINFO1 (the error code); EXITINTINFO, the event being delivered, is
		 * not reported. No VMX exit stops here with these numbers: 0x400 has reserved
		 * bits of a VMX exit reason, and 78 (RDMSRLIST) is an instruction exit, which
		 * never comes with IDT-vectoring information (SDM Vol. 3C 28.2.4). */
		*hw = d[1];
		*have_hw = 1;
		f->qual = d[2], f->have_qual = 1;
		f->info2 = d[0], f->have_info2 = 1;
		note(f, "SVM does not report which event was being delivered (EXITINTINFO is not "
			"in the extra data)");
		return;
	}
	if (b->exit == XG_TX_INTERNAL && b->suberror == 3 && n >= 2) {
		/* DELIVERY_EV from VMX: data[0] vectoring info, data[1] exit reason, data[2] exit
		 * qualification, then before Linux 6.14 the GPA only for an EPT misconfiguration,
		 * from 6.14 on (kvm_prepare_event_vectoring_exit()) always a GPA word, ~0 when
		 * none; the last CPU ends the list either way */
		f->vect = d[0], f->have_vect = 1;
		*hw = d[1];
		*have_hw = 1;
		if (n >= 3)
			f->qual = d[2], f->have_qual = 1;
		if (n >= 4 && (d[1] & 0xffff) == 49) {
			f->gpa = d[3];
			f->have_gpa = 1;
			f->gpa_source =
			    "extra data[3] (GUEST_PHYSICAL_ADDRESS of the EPT misconfiguration)";
		} else if (n >= 5 && (d[1] & 0xffff) == 48 && d[3] != ~0ull) {
			/* 6.14+: an EPT violation KVM had to emulate while vectoring (before,
			 * it did not stop on one); data[3] is the GPA it faulted on */
			f->gpa = d[3];
			f->have_gpa = 1;
			f->gpa_source = "extra data[3] (the GPA of the EPT violation, Linux 6.14+)";
		}
		return;
	}
	if (b->exit == XG_TX_INTERNAL && b->suberror == 4 && n >= 1) {
		/* UNEXPECTED_EXIT_REASON: data[0] the exit reason, data[1] last vCPU entry CPU */
		*hw = d[0];
		*have_hw = 1;
		return;
	}
	if (b->exit == XG_TX_FAIL_ENTRY && b->have_hw_error) {
		*hw = b->hw_error;
		*have_hw = 1;
	}
}

static void hw_exit(const struct xg_tri_block *b, struct xg_tri_facts *f, int vendor, uint64_t hw)
{
	f->have_hw_exit = 1;
	f->hw_exit = hw;
	if (vendor == 1 || (vendor == 0 && plausible_vmx(hw) && !plausible_svm(hw))) {
		f->hw_kind = "vmx";
		if (b->exit == XG_TX_FAIL_ENTRY && !(hw & 0x80000000u)) {
			/* not an exit reason: KVM reports VM_INSTRUCTION_ERROR when VMLAUNCH or
			 * VMRESUME itself failed (VMfailValid) */
			f->hw_exit_name = hw == 0 ? NULL : XG_NAME_FIND(vm_insn_errors, hw);
			return;
		}
		f->hw_exit_name = xg_names_vmx_exit(hw & 0xffff);
	} else if (vendor == 2 || plausible_svm(hw)) {
		f->hw_kind = vendor == 2 ? "svm" : NULL;
		f->hw_exit_name = hw == 0xffffffffull || hw == ~0ull
				      ? "err (VMRUN failed: invalid VMCB state)"
				      : xg_names_svm_exit(hw);
		if (!vendor)
			f->hw_exit_name = NULL;
	}
}

static void qualification(const struct xg_tri_block *b, struct xg_tri_facts *f)
{
	uint32_t basic = (uint32_t)(f->hw_exit & 0xffff);
	int vmx = f->hw_kind && !strcmp(f->hw_kind, "vmx"),
	    svm = f->hw_kind && !strcmp(f->hw_kind, "svm");

	if (vmx && f->have_qual) {
		if (basic == 48)
			ept_violation_bits(f->qual, f->qual_text, sizeof(f->qual_text));
		else if (basic == 49)
			snprintf(
			    f->qual_text, sizeof(f->qual_text),
			    "not defined for an EPT misconfiguration (KVM passes on what it last "
			    "cached; SDM Vol. 3C 28.2.1)");
		else if (basic == 30)
			/* SDM Vol. 3C Table 28-5 (I/O instructions) */
			snprintf(f->qual_text, sizeof(f->qual_text), "%u-byte %s%s%s, port 0x%x",
				 (unsigned)(f->qual & 7) + 1, (f->qual & 8) ? "IN" : "OUT",
				 (f->qual & 16) ? " (string)" : "", (f->qual & 32) ? " (REP)" : "",
				 (unsigned)(f->qual >> 16) & 0xffff);
	}
	if (svm && f->have_qual && f->hw_exit == 0x400) {
		npf_bits(f->qual, f->qual_text, sizeof(f->qual_text));
		if (f->have_info2) {
			/* EXITINFO2 of #NPF is the faulting guest physical address (APM 15.25.6) */
			f->gpa = f->info2;
			f->have_gpa = 1;
			f->gpa_source = "EXITINFO2 of the nested page fault";
		}
	}
	if (f->have_vect)
		event_bits(f->vect, svm, f->vect_text, sizeof(f->vect_text));
	if (f->have_intr && (f->intr || b->suberror == 2))
		event_bits(f->intr, svm, f->intr_text, sizeof(f->intr_text));
	if (vmx && b->suberror == 1 && f->have_info2)
		f->vect = f->info2, f->have_vect = 1,
		event_bits(f->vect, 0, f->vect_text, sizeof(f->vect_text));
}

/* ---- anomalies ---- */

static void anomalies(const struct xg_tri_block *b, struct xg_tri_facts *f)
{
	const struct xg_tri_segreg *cs = &b->seg[XG_TS_CS];

	if (b->arch != 0)
		return;
	if (f->insn_text[0] && !strcmp(f->insn_text, "rsm") && f->smm == 0)
		anomaly(f,
			"RSM with SMM=0: the vCPU runs the SMI handler's return while not in SMM "
			"(RSM is #UD outside SMM, SDM Vol. 2B RSM)");
	if (have(b, XG_TR_CR3) && b->reg[XG_TR_CR3] >= 0xa0000 && b->reg[XG_TR_CR3] < 0xc0000)
		anomaly(f, "CR3 0x%llx points into SMRAM's A-segment / the VGA window",
			(unsigned long long)b->reg[XG_TR_CR3]);
	if (f->have_linear && f->code_bits && f->code_bits < 64 && f->linear > 0xffffffffull)
		anomaly(
		    f,
		    "CS.base + EIP = 0x%llx is above 4 GiB outside 64-bit mode (linear addresses "
		    "are 32 bits there)",
		    (unsigned long long)f->linear);
	/* SDM Vol. 3C 27.3.1.2: the base of CS, SS, DS and ES must have bits 63:32 zero (for
	 * usable ones), whatever the mode */
	static const int low_bases[] = {XG_TS_CS, XG_TS_SS, XG_TS_DS, XG_TS_ES};
	for (unsigned k = 0; k < sizeof(low_bases) / sizeof(low_bases[0]); k++) {
		const struct xg_tri_segreg *sg = &b->seg[low_bases[k]];
		static const char *const nm[] = {"ES", "CS", "SS", "DS"};
		if (sg->have && sg->base >> 32 && (!sg->have_flags || (sg->flags & BIT(15))))
			anomaly(f,
				"%s base 0x%llx has bits 63:32 set: VM entry requires them zero "
				"(SDM Vol. 3C 27.3.1.2)",
				nm[low_bases[k]], (unsigned long long)sg->base);
	}
	if (cs->have_flags && (cs->flags & BIT(21)) && (cs->flags & BIT(22)))
		anomaly(
		    f,
		    "CS has both L and D set: a reserved combination (SDM Vol. 3A 3.4.5; VM entry "
		    "refuses it in IA-32e mode, 27.3.1.2)");
	if (have(b, XG_TR_CR0) && (b->reg[XG_TR_CR0] & BIT(31)) && !(b->reg[XG_TR_CR0] & 1))
		anomaly(f, "CR0.PG=1 with CR0.PE=0: not a state a CPU can be in (SDM Vol. 3A 2.5)");
	if (have(b, XG_TR_EFER) && have(b, XG_TR_CR0) && (b->reg[XG_TR_EFER] & BIT(10)) &&
	    !(b->reg[XG_TR_CR0] & BIT(31)))
		anomaly(
		    f, "EFER.LMA=1 with paging off: long mode requires paging (SDM Vol. 3A 9.8.5)");
	if (f->have_vect && (f->vect & BIT(31)) && f->have_hw_exit && f->hw_kind &&
	    ((!strcmp(f->hw_kind, "vmx") &&
	      ((f->hw_exit & 0xffff) == 32 || (f->hw_exit & 0xffff) == 31)) ||
	     (!strcmp(f->hw_kind, "svm") && f->hw_exit == 0x7c)))
		anomaly(f, "an MSR access exit while an event was being delivered: no instruction "
			   "runs during delivery");
	/* an entry failure from the architectural reset state (SDM Vol. 3A 9.1.1, Table 9-1) */
	if ((b->exit == XG_TX_FAIL_ENTRY || b->exit == XG_TX_GUEST_STATE) && have(b, XG_TR_RIP) &&
	    (b->reg[XG_TR_RIP] & 0xffff) == 0xfff0 && have(b, XG_TR_RFL) &&
	    b->reg[XG_TR_RFL] == 2 &&
	    (!cs->have || cs->base == 0xffff0000ull || cs->base == 0xf0000))
		anomaly(
		    f,
		    "the entry failed from the reset state (IP 0xfff0, EFLAGS 0x2%s): the guest "
		    "had not run an instruction yet",
		    have(b, XG_TR_RDX) && b->reg[XG_TR_RDX] ? ", EDX the CPU signature" : "");
}

/* ---- verdict ---- */

static void where(const struct xg_tri_facts *f, char *out, size_t n)
{
	out[0] = 0;
	if (f->have_rip)
		snprintf(out, n, " at %s 0x%llx",
			 f->arch && !strcmp(f->arch, "arm64") ? "PC" : "RIP",
			 (unsigned long long)f->rip);
	if (f->cpu_mode_text[0])
		cat(out, n, " (%s)", f->cpu_mode_text);
}

static void verdict(const struct xg_tri_block *b, struct xg_tri_facts *f)
{
	char at[160], ev[48];
	char *v = f->verdict;
	size_t vn = sizeof(f->verdict);
	int fetch_from_mmio = 0;

	where(f, at, sizeof(at));
	if (f->have_gpa && b->arch == 0 && f->have_linear && f->paging != 1 && f->linear == f->gpa)
		fetch_from_mmio = pc_not_ram(f->gpa) ||
				  (f->code_looks[0] && strstr(f->code_looks, "from RIP: zeroes"));
	if (f->have_gpa && f->qual_text[0] && strstr(f->qual_text, "instruction fetch"))
		fetch_from_mmio = 1;

	switch (b->exit) {
	case XG_TX_INTERNAL:
		if (b->suberror == 1 || b->suberror < 0) {
			if (f->insn_text[0] && !strcmp(f->insn_text, "rsm") && f->smm != 1) {
				snprintf(v, vn,
					 "The vCPU executed RSM%s while not in SMM: it is running "
					 "SMM-handler "
					 "code outside SMM (SMM disabled in QEMU or the host, or a "
					 "jump into "
					 "SMRAM code); KVM's emulator refuses RSM there.",
					 at);
			} else if (fetch_from_mmio || (f->have_linear && b->arch == 0 &&
						       pc_not_ram(f->linear) && f->paging != 1)) {
				f->fetch_from_mmio = 1;
				uint64_t a = f->have_gpa ? f->gpa : f->linear;
				snprintf(v, vn,
					 "The vCPU is executing%s at guest physical 0x%llx, %s: it "
					 "is not RAM, "
					 "so KVM had to emulate the instruction fetched there and "
					 "could not. "
					 "Something jumped there: look at what ran before (the "
					 "return address "
					 "on the stack, the last far jump or IRET), not at this "
					 "instruction.",
					 at, (unsigned long long)a, pc_region(a));
			} else if (f->insn_text[0] && f->insn_len) {
				snprintf(v, vn,
					 "KVM's instruction emulator could not emulate `%s`%s",
					 f->insn_text, at);
				if (f->have_hw_exit && f->hw_exit_name)
					cat(v, vn, ", which it had to emulate after a %s exit",
					    f->hw_exit_name);
				if (f->have_gpa)
					cat(v, vn, " at guest physical 0x%llx (%s)",
					    (unsigned long long)f->gpa,
					    b->arch == 1 ? virt_region(f->gpa) : pc_region(f->gpa));
				cat(v, vn,
				    ". Find why the guest runs this instruction on that memory or "
				    "in this mode.");
			} else {
				snprintf(v, vn, "KVM's instruction emulator gave up%s", at);
				if (f->have_hw_exit && f->hw_exit_name)
					cat(v, vn, " after a %s exit", f->hw_exit_name);
				if (f->have_gpa)
					cat(v, vn, " at guest physical 0x%llx (%s)",
					    (unsigned long long)f->gpa, pc_region(f->gpa));
				cat(v, vn,
				    "; no instruction bytes were printed: get the code at RIP "
				    "(QEMU's "
				    "Code= line, or `x/16i $pc` in its monitor).");
			}
		} else if (b->suberror == 2) {
			char e2[48] = "an exception";
			if (f->have_intr)
				event_short(f->intr, e2, sizeof(e2));
			snprintf(
			    v, vn,
			    "While the CPU delivered %s, delivering it raised %s%s; KVM does not "
			    "simulate such nested exceptions (hardware would escalate to #DF or a "
			    "triple fault). The guest's IDT, its stack or the handler for %s is "
			    "broken: check the IDT entry and the stack it switches to.",
			    f->have_vect ? event_short(f->vect, ev, sizeof(ev)) : "an event", e2,
			    at, f->have_vect ? event_short(f->vect, ev, sizeof(ev)) : "that event");
		} else if (b->suberror == 3) {
			snprintf(v, vn,
				 "While delivering %s%s, the CPU's access for that delivery exited "
				 "(%s)",
				 f->have_vect ? event_short(f->vect, ev, sizeof(ev)) : "an event",
				 at,
				 f->hw_exit_name ? f->hw_exit_name : "an exit KVM cannot complete");
			if (f->have_gpa) {
				cat(v, vn, " at guest physical 0x%llx, %s",
				    (unsigned long long)f->gpa, pc_region(f->gpa));
				if (f->hw_kind && !strcmp(f->hw_kind, "vmx") &&
				    (f->hw_exit & 0xffff) == 49)
					cat(v, vn,
					    ", which KVM treats as MMIO (no memory slot there)");
			}
			cat(v, vn,
			    ": event delivery cannot go through emulated memory. The IDT, GDT, "
			    "TSS or stack used for it is not in RAM");
			for (int i = 0; i < f->nnotes; i++)
				if (strstr(f->notes[i], "is the stack") ||
				    strstr(f->notes[i], "is in the IDT") ||
				    strstr(f->notes[i], "is in the GDT"))
					cat(v, vn, " (%s)", f->notes[i]);
			cat(v, vn, ".");
		} else if (b->suberror == 4) {
			snprintf(
			    v, vn,
			    "KVM met a hardware exit it has no handler for (%s 0x%llx)%s: a host "
			    "kernel or CPU problem, not the guest's; update the host kernel or "
			    "report "
			    "it to KVM.",
			    f->hw_exit_name ? f->hw_exit_name : "exit reason",
			    (unsigned long long)f->hw_exit, at);
		} else {
			snprintf(v, vn,
				 "KVM stopped the vCPU with internal error %d%s; this suberror is "
				 "not one of the four the uapi defines.",
				 b->suberror, at);
		}
		break;
	case XG_TX_FAIL_ENTRY:
	case XG_TX_GUEST_STATE: {
		int reset = 0;
		for (int i = 0; i < f->nanomalies; i++)
			if (strstr(f->anomalies[i], "reset state"))
				reset = 1;
		if (b->exit == XG_TX_GUEST_STATE) {
			snprintf(
			    v, vn,
			    "KVM logged the VMCS guest state after a failed VM entry%s: compare it "
			    "with the guest-state checks (SDM Vol. 3C 27.3.1).",
			    at);
		} else if (!b->have_hw_error) {
			snprintf(v, vn, "VM entry failed%s; the hardware reason was not printed.",
				 at);
		} else if (f->hw_kind && !strcmp(f->hw_kind, "vmx") &&
			   (b->hw_error & 0x80000000u)) {
			uint32_t basic = (uint32_t)(b->hw_error & 0xffff);
			snprintf(
			    v, vn, "VM entry failed%s: %s (VMX exit reason 0x%llx", at,
			    basic == 33
				? "the guest state failed the VM-entry checks (SDM Vol. 3C 27.3.1)"
			    : basic == 34 ? "loading an MSR from the VM-entry MSR-load area failed "
					    "(SDM Vol. 3C 27.4)"
			    : basic == 41 ? "a machine-check event happened during VM entry (SDM "
					    "Vol. 3C 27.8)"
					  : "the entry failed",
			    (unsigned long long)b->hw_error);
			cat(v, vn, ", basic reason %u %s).", basic,
			    xg_names_vmx_exit(basic) ? xg_names_vmx_exit(basic) : "");
			if (reset)
				cat(v, vn,
				    " It failed from the reset state, before the guest ran: KVM or "
				    "the "
				    "hypervisor below it (nested virtualization) built a state "
				    "this CPU "
				    "refuses; the host is at fault, not the guest.");
			else if (basic == 33)
				cat(v, vn,
				    " On a CPU without unrestricted guest (or with it disabled), "
				    "real "
				    "mode and 'big real' segment states fail this way; otherwise "
				    "compare "
				    "the segments and control registers with the checks.");
		} else if (f->hw_kind && !strcmp(f->hw_kind, "vmx")) {
			snprintf(v, vn,
				 "VMLAUNCH/VMRESUME itself failed%s with VM-instruction error %llu "
				 "(%s): the "
				 "host's VMCS setup (or the hypervisor below it, with nested "
				 "virtualization) "
				 "is at fault, not the guest.",
				 at, (unsigned long long)b->hw_error,
				 f->hw_exit_name ? f->hw_exit_name : "not a defined error number");
		} else if (b->hw_error == 0xffffffffull || b->hw_error == ~0ull) {
			snprintf(v, vn,
				 "VMRUN failed%s (SVM_EXIT_ERR): the VMCB's guest state failed the "
				 "consistency checks (APM Vol. 2 15.5.1).",
				 at);
		} else {
			snprintf(
			    v, vn,
			    "VM entry failed%s with hardware code 0x%llx, which is neither a VMX "
			    "entry-failure reason (bit 31 set) nor SVM's VMRUN error (-1): the "
			    "failure came from the host's KVM or a hypervisor below it",
			    at, (unsigned long long)b->hw_error);
			cat(v, vn,
			    reset ? "; the guest was still in its reset state, so it did not cause "
				    "it."
				  : "; look at the host's kernel log (dmesg) for the reason.");
			if (b->hw_error == 0)
				cat(v, vn,
				    " On Intel, VMLAUNCH/VMRESUME failing with VMfailInvalid (no "
				    "valid "
				    "current VMCS) stores no VM-instruction error number (SDM Vol. "
				    "3C 31.2), "
				    "which reads as 0.");
			const char *ie = XG_NAME_FIND(vm_insn_errors, b->hw_error);
			if (ie)
				cat(v, vn,
				    " On an Intel host KVM reports the VM-instruction error here "
				    "when "
				    "VMLAUNCH/VMRESUME itself fails: %llu is \"%s\" (SDM Vol. 3C "
				    "31.4), "
				    "the VMCS KVM (or a nested hypervisor) built, not the guest.",
				    (unsigned long long)b->hw_error, ie);
		}
		break;
	}
	case XG_TX_RUN_FAILED:
		if (b->arch == 1 && strstr(b->err, "Function not implemented"))
			snprintf(
			    v, vn,
			    "The guest%s accessed memory outside every memory slot (device memory) "
			    "with a load/store whose syndrome KVM cannot decode (ISV=0: writeback "
			    "addressing, pairs, SIMD or atomics), and QEMU did not ask for such "
			    "exits "
			    "(KVM_CAP_ARM_NISV_TO_USER): KVM_RUN returned ENOSYS. Make that access "
			    "a "
			    "plain LDR/STR (the kernel's MMIO accessors do), or look at which "
			    "address the "
			    "guest thought was RAM.",
			    at);
		else if (strstr(b->err, "Bad address"))
			snprintf(
			    v, vn,
			    "KVM_RUN returned EFAULT%s: KVM could not reach the host memory "
			    "behind a guest address (a memory slot whose host mapping is gone or "
			    "not accessible).",
			    at);
		else if (strstr(b->err, "Invalid argument"))
			snprintf(v, vn,
				 "KVM_RUN returned EINVAL%s: KVM refused to run the vCPU in its "
				 "current state or configuration (look at the host's dmesg).",
				 at);
		else
			snprintf(v, vn,
				 "KVM_RUN failed (%s)%s: see the host's dmesg for KVM's reason.",
				 b->err[0] ? b->err : "no errno printed", at);
		break;
	case XG_TX_SHUTDOWN:
		snprintf(v, vn,
			 "The guest shut down (KVM_EXIT_SHUTDOWN: a triple fault on x86)%s: an "
			 "exception hit while delivering #DF. Its IDT or stack is broken (often "
			 "right after loading a new IDT, GDT or page tables).",
			 at);
		break;
	case XG_TX_EXIT_REASON: {
		const char *n = xg_exit_reason_name((uint32_t)b->exit_number);
		snprintf(v, vn,
			 "The VMM stopped on KVM exit %llu (%s)%s, which it does not handle.",
			 (unsigned long long)b->exit_number, n ? n : "unknown to this uapi", at);
		break;
	}
	case XG_TX_MSR: {
		const char *n = b->nitems ? xg_names_msr((uint32_t)b->items[0].a) : NULL;
		if (b->vmm && !strcmp(b->vmm, "exitgate")) {
			snprintf(v, vn,
				 "KVM handed the guest's %s of MSR 0x%llx%s%s%s to exitgate%s (an "
				 "MSR exit); the policy's answer is the dump's verdict.",
				 b->nitems && b->items[0].write ? "write" : "read",
				 b->nitems ? (unsigned long long)b->items[0].a : 0ull,
				 n ? " (" : "", n ? n : "", n ? ")" : "", at);
			break;
		}
		snprintf(
		    v, vn,
		    "The guest %s MSR 0x%llx%s%s%s, which KVM does not emulate: KVM answered with "
		    "#GP (or ignored it with kvm.ignore_msrs=1). Usually the guest probing a "
		    "feature and harmless; it matters only if the guest failed right after.",
		    b->nitems && b->items[0].write ? "wrote" : "read",
		    b->nitems ? (unsigned long long)b->items[0].a : 0ull, n ? " (" : "", n ? n : "",
		    n ? ")" : "");
		if (b->nitems > 1)
			cat(v, vn, " %d MSRs in all.", b->nitems);
		break;
	}
	case XG_TX_NISV:
		snprintf(
		    v, vn,
		    "arm64 KVM saw a data abort outside every memory slot with no valid "
		    "syndrome (ISV=0): the guest used a load/store KVM cannot decode on device "
		    "memory, or accessed an address that is not RAM; without "
		    "KVM_CAP_ARM_NISV_TO_USER the VMM gets ENOSYS and stops.");
		break;
	case XG_TX_TRACE: {
		const char *last = b->nitems ? b->items[b->nitems - 1].name : "?";
		snprintf(v, vn,
			 "A kvm_exit trace: %d exit%s, the last %s at RIP 0x%llx. A trace shows "
			 "the exits the kernel handled; the one that stopped the guest is the "
			 "last before it stopped.",
			 b->nitems, b->nitems == 1 ? "" : "s", last,
			 b->nitems ? (unsigned long long)b->items[b->nitems - 1].rip : 0ull);
		break;
	}
	case XG_TX_SET_STATE:
		snprintf(v, vn,
			 "The VMM could not load the vCPU's state into KVM (%s: %s)%s: KVM refused "
			 "it before the guest ran%s.",
			 strstr(b->message, "KVM_SET_") ? "KVM_SET_*" : "setting registers",
			 b->err[0] ? b->err : "error", at,
			 b->have_regs ? "; the dump is the state it tried to load" : "");
		if (strstr(b->message, "KVM_SET_SREGS"))
			cat(v, vn,
			    " KVM_SET_SREGS refuses control registers with bits this host does not "
			    "support (CR4 features, EFER bits) and invalid CR0/CR4/EFER "
			    "combinations: "
			    "compare the state with the host's CPU.");
		if (f->nanomalies)
			cat(v, vn, " First suspect: %s.", f->anomalies[0]);
		break;
	case XG_TX_NONE:
		snprintf(v, vn,
			 "A register dump with no exit named%s: not enough to say why the guest "
			 "stopped; the message before it (or the VMM's log) names the exit.",
			 at);
		break;
	}
}

static void policy(const struct xg_tri_block *b, struct xg_tri_facts *f)
{
	char *p = f->policy;
	size_t n = sizeof(f->policy);

	switch (b->exit) {
	case XG_TX_INTERNAL:
		if ((b->suberror == 1 || b->suberror < 0) && f->fetch_from_mmio) {
			snprintf(p, n,
				 "emulate only if the device at that address answers instruction "
				 "fetches (%s), otherwise inject #UD and dump",
				 f->emu[0] ? f->emu : "the instruction bytes are not known");
		} else if (b->suberror == 1 || b->suberror < 0) {
			if (f->emu_supported == 1)
				snprintf(p, n,
					 "emulate: %s, so the default policy hands it over and the "
					 "guest goes on",
					 f->emu);
			else if (f->emu_supported == 0)
				snprintf(
				    p, n,
				    "inject #UD and dump: %s; the guest sees an invalid opcode "
				    "instead of stopping",
				    f->emu);
			else
				snprintf(p, n,
					 "emulate if exitgate's x86 emulator implements the "
					 "instruction, "
					 "otherwise inject #UD and dump; the guest keeps running");
		} else {
			snprintf(p, n,
				 "dump and suspend the vCPU (no handler for internal_error in "
				 "default.lua), keeping its state for a person");
		}
		break;
	case XG_TX_FAIL_ENTRY:
	case XG_TX_GUEST_STATE:
	case XG_TX_SET_STATE:
	case XG_TX_EXIT_REASON:
	case XG_TX_TRACE:
	case XG_TX_NONE:
		snprintf(p, n,
			 "dump and suspend the vCPU (default.lua's `default` handler), keeping "
			 "its state for a person");
		break;
	case XG_TX_SHUTDOWN:
		snprintf(p, n, "dump and stop the guest (default.lua's `shutdown` handler)");
		break;
	case XG_TX_RUN_FAILED:
	case XG_TX_NISV:
		if (b->arch == 1)
			snprintf(p, n,
				 "inject an external abort into the guest and dump (default.lua's "
				 "`arm_nisv` handler), as hardware would answer such an access");
		else
			snprintf(
			    p, n,
			    "nothing: a failing KVM_RUN is an error of the host, not an exit a "
			    "policy sees");
		break;
	case XG_TX_MSR:
		snprintf(p, n,
			 "answer reads with 0 and drop writes, logged (default.lua's `x86_rdmsr` "
			 "/ `x86_wrmsr`), as kvm.ignore_msrs does");
		break;
	}
}

/* GPA facts: where it came from, what lives there, and what part of the guest it is. */
static void gpa_facts(const struct xg_tri_block *b, struct xg_tri_facts *f)
{
	if (!f->have_gpa && b->arch == 0 && f->have_linear && f->paging == 0 && f->code_bits &&
	    (b->exit == XG_TX_INTERNAL && (b->suberror == 1 || b->suberror < 0))) {
		f->gpa = f->linear;
		f->have_gpa = 1;
		f->gpa_source = "the linear address of RIP (paging is off)";
	}
	if (!f->have_gpa && f->qual_text[0] && strstr(f->qual_text, "instruction fetch") &&
	    f->have_linear) {
		f->gpa = f->linear;
		f->have_gpa = 1;
		f->gpa_source =
		    "the linear address of RIP, assuming the identity mapping firmware "
		    "uses (the fault was an instruction fetch; the GPA was not printed)";
	}
	if (!f->have_gpa)
		return;
	f->gpa_region = b->arch == 1 ? virt_region(f->gpa) : pc_region(f->gpa);
	if (b->arch != 0)
		return;
	/* what of the guest's own structures the address is (paging off: linear = physical) */
	if (f->paging == 0) {
		const struct xg_tri_segreg *ss = &b->seg[XG_TS_SS];
		if (have(b, XG_TR_RSP) && ss->have) {
			uint64_t sp = ss->base + (b->reg[XG_TR_RSP] & 0xffffffffull);
			if (f->gpa < sp && f->gpa + 64 >= sp)
				note(f,
				     "0x%llx is the stack: %llu bytes below SS:ESP, where the CPU "
				     "pushes "
				     "the interrupted state",
				     (unsigned long long)f->gpa, (unsigned long long)(sp - f->gpa));
		}
		if (have(b, XG_TR_IDTB) && f->gpa >= b->reg[XG_TR_IDTB] &&
		    f->gpa <= b->reg[XG_TR_IDTB] + b->reg[XG_TR_IDTL])
			note(f, "0x%llx is in the IDT (entry %llu)", (unsigned long long)f->gpa,
			     (unsigned long long)((f->gpa - b->reg[XG_TR_IDTB]) /
						  (f->code_bits == 64 ? 16 : 8)));
		if (have(b, XG_TR_GDTB) && f->gpa >= b->reg[XG_TR_GDTB] &&
		    f->gpa <= b->reg[XG_TR_GDTB] + b->reg[XG_TR_GDTL])
			note(f, "0x%llx is in the GDT", (unsigned long long)f->gpa);
	}
	if (f->hw_kind && !strcmp(f->hw_kind, "vmx") && (f->hw_exit & 0xffff) == 49 &&
	    pc_low_ram(f->gpa))
		anomaly(
		    f,
		    "KVM treats 0x%llx as MMIO (EPT misconfiguration) though it is RAM on any PC: "
		    "the VMM has no memory slot there (a memory map being changed, e.g. during "
		    "hotplug, or a broken map)",
		    (unsigned long long)f->gpa);
}

/* A software interrupt (INT n, INT3, INTO, INT1) that KVM had to emulate outside real mode:
 * KVM's emulator delivers these through the IVT in real mode only (arch/x86/kvm/emulate.c,
 * emulate_int(): the protected-mode cases return X86EMUL_UNHANDLEABLE), so the failure says
 * nothing about the instruction and everything about why KVM emulated it. Where the IDTR is
 * known, say where the gate the CPU would read lies (SDM Vol. 3A 6.10, 6.14.1: 8-byte gates,
 * 16-byte in IA-32e mode). */
static void soft_int(const struct xg_tri_block *b, struct xg_tri_facts *f)
{
	const char *s = f->insn_bytes;
	unsigned int op = 0, vec = 0, n = 0;
	char *end;

	if (b->arch != 0 || b->exit != XG_TX_INTERNAL || b->suberror != 1 || !f->insn_len ||
	    !f->cpu_mode || !strcmp(f->cpu_mode, "real"))
		return;
	/* the opcode after legacy prefixes (and a REX prefix in 64-bit code) */
	for (;;) {
		unsigned long x = strtoul(s, &end, 16);
		if (end == s)
			return;
		s = end;
		if (x == 0x66 || x == 0x67 || x == 0xf0 || x == 0xf2 || x == 0xf3 || x == 0x26 ||
		    x == 0x2e || x == 0x36 || x == 0x3e || x == 0x64 || x == 0x65 ||
		    (f->code_bits == 64 && (x & 0xf0) == 0x40))
			continue;
		op = (unsigned int)x;
		break;
	}
	if (op == 0xcd) {
		unsigned long x = strtoul(s, &end, 16);
		if (end == s)
			return;
		vec = (unsigned int)x & 0xff;
	} else if (op == 0xcc) {
		vec = 3;
	} else if (op == 0xce) {
		vec = 4;
	} else if (op == 0xf1) {
		vec = 1;
	} else {
		return;
	}
	note(f,
	     "KVM's emulator delivers INT in real mode only (emulate.c emulate_int()): it had to "
	     "emulate this code (CPL-0 code on a software KVM, invalid guest state, or MMIO)");
	if (!have(b, XG_TR_IDTB) || !have(b, XG_TR_IDTL))
		return;
	n = (f->code_bits == 64 || (f->cpu_mode && !strncmp(f->cpu_mode, "compat", 6))) ? 16 : 8;
	uint64_t gate = b->reg[XG_TR_IDTB] + (uint64_t)vec * n;
	if ((uint64_t)vec * n + n - 1 > b->reg[XG_TR_IDTL])
		note(f, "gate 0x%x is beyond the IDT limit 0x%llx: hardware would raise #GP", vec,
		     (unsigned long long)b->reg[XG_TR_IDTL]);
	else if (f->paging == 0 && b->arch == 0)
		note(f, "gate 0x%x is at 0x%llx (IDT base + 0x%x * %u), %s", vec,
		     (unsigned long long)gate, vec, n, pc_region(gate));
	else
		note(f, "gate 0x%x is at linear 0x%llx (IDT base + 0x%x * %u)", vec,
		     (unsigned long long)gate, vec, n);
}

void xg_triage_derive(const struct xg_triage *t, int i, struct xg_tri_facts *f)
{
	const struct xg_tri_block *b = &t->b[i];
	uint64_t hw = 0;
	int have_hw = 0, vendor;

	memset(f, 0, sizeof(*f));
	f->arch = b->arch == 1 ? "arm64" : b->arch == 0 ? "x86_64" : NULL;
	f->exit = exit_name(b->exit);
	if (b->exit == XG_TX_INTERNAL && b->suberror >= 0)
		f->suberror_name = xg_names_internal_suberror((uint32_t)b->suberror);
	if (b->exit == XG_TX_INTERNAL && b->arch < 0)
		f->arch = "x86_64"; /* QEMU prints suberrors and extra data on x86 only */
	if (b->exit == XG_TX_FAIL_ENTRY && b->arch < 0 && b->have_hw_error)
		f->arch = "x86_64"; /* hardware entry failure reasons are x86's */
	data_words(b, f, &hw, &have_hw);
	vendor = vendor_of(b, f, hw, have_hw);
	f->vendor = vendor == 1 ? "intel" : vendor == 2 ? "amd" : NULL;
	if (!vendor)
		f->vendor_why = NULL;
	if (have_hw)
		hw_exit(b, f, vendor, hw);
	qualification(b, f);
	cpu_mode(b, f);
	instruction(b, f);
	gpa_facts(b, f);
	soft_int(b, f);
	anomalies(b, f);
	if (b->arch == 0 && b->exit == XG_TX_INTERNAL && b->suberror <= 1 && !f->have_gpa) {
		/* a register holding a device address: what the instruction most likely touched */
		static const char *const gpr[16] = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP",
						    "RSI", "RDI", "R8",	 "R9",	"R10", "R11",
						    "R12", "R13", "R14", "R15"};
		for (int r = 0; r < 16; r++) {
			uint64_t x = b->reg[r];
			if (have(b, r) && r != XG_TR_RSP && x >= 0xa0000 &&
			    ((x < 0xc0000) || (x >= 0xfec00000 && x < 0xff000000))) {
				note(
				    f,
				    "%s = 0x%llx is in %s: the instruction most likely accessed it",
				    gpr[r], (unsigned long long)x, pc_region(x));
				break;
			}
		}
	}
	if (b->duplicates)
		note(f, "%d more vCPU%s printed the same header with no dump of its own",
		     b->duplicates, b->duplicates == 1 ? "" : "s");
	if (b->ambiguous_dump)
		note(f, "several vCPUs printed headers before this register dump: which of them it "
			"belongs to is a guess (the first)");
	if (b->data_bare)
		note(f, "extra data printed in QEMU's old bare-hex form");
	if (b->have_regs && !have(b, XG_TR_CR0) && b->arch == 0 && !f->cpu_mode)
		note(f, "the dump stops before CR0/EFER: the CPU mode is not known");
	verdict(b, f);
	policy(b, f);
}
