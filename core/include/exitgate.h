/*
 * exitgate.h - the one public header of libexitgate.
 *
 * The exit model. xg_exit_decode() turns the bytes of a `struct kvm_run` (as KVM_RUN left
 * them, or as read from a file) into a `struct xg_exit`: a typed C view with every field of
 * the matching union member, and names for the numbers (exit reason, internal-error
 * suberror, VMX/SVM exit reasons, ESR fields, MSR exit reasons, hypercall numbers ...).
 * Everything in kvm_run is guest-influenced: the decoder bounds every count and size it
 * reads, never reads outside the buffer it is given, and says what was wrong in
 * `malformed` ("ndata 40 > 16"). The view owns copies of everything small; only the port
 * I/O data points into the caller's buffer (bounded by run_size).
 *
 * The view is also the source of the exit's Lua form and of its text and JSON forms: one
 * table of field descriptors per exit kind drives all three (core/exit/fields.c), so what a
 * policy sees, what `exitgate decode` prints and what a dump contains cannot drift apart.
 *
 * Errors go up as return values with a message in struct xg_error; nothing here aborts.
 */
#ifndef EXITGATE_H
#define EXITGATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XG_VERSION "0.1.0"

/* A message a person can act on, filled by any call that fails. */
struct xg_error {
	char msg[512];
};

/* Architecture of the kvm_run being decoded: the union's layout of `debug`, the meaning of
 * kvm_run.flags and of several exits depend on it. */
enum xg_arch {
	XG_ARCH_X86_64 = 0,
	XG_ARCH_ARM64,
	XG_ARCH_RISCV64,
	XG_ARCH_S390X,
	XG_ARCH_PPC64,
	XG_ARCH_LOONGARCH64,
	XG_ARCH_COUNT
};

/* Which hardware virtualisation produced the exit information words (x86 only): it picks
 * the name table for hardware exit reasons. XG_HW_AUTO asks the host CPU's vendor. */
enum xg_hw { XG_HW_AUTO = 0, XG_HW_NONE, XG_HW_VMX, XG_HW_SVM };

struct xg_exit_opts {
	enum xg_arch arch;
	enum xg_hw hw;
};

const char *xg_arch_name(enum xg_arch arch);
int xg_arch_from_name(const char *name, enum xg_arch *out); /* 0, or -1 if unknown */
const char *xg_hw_name(enum xg_hw hw);
int xg_hw_from_name(const char *name, enum xg_hw *out);
enum xg_hw xg_hw_host(void); /* VMX on Intel, SVM on AMD/Hygon, NONE otherwise */
enum xg_arch xg_arch_host(void);

/* kvm_run header and union sizes; a buffer shorter than XG_RUN_MIN_SIZE cannot be decoded. */
#define XG_RUN_UNION_OFFSET 32
#define XG_RUN_UNION_SIZE 256
#define XG_RUN_MIN_SIZE (XG_RUN_UNION_OFFSET + XG_RUN_UNION_SIZE)

#define XG_MALFORMED_MAX 256

/* Decoded VMX interruption-information / IDT-vectoring-information word (SDM Vol. 3C
 * 25.9.2, 25.9.3), and SVM EXITINTINFO/EVENTINJ (APM Vol. 2 15.7.2), which share the
 * layout: vector [7:0], type [10:8], error-code valid [11], valid [31]. */
struct xg_event_info {
	uint32_t raw;
	uint8_t valid;
	uint8_t vector;
	uint8_t type;
	uint8_t error_code_valid;
	const char *vector_name; /* "PF", "UD" ... for exceptions; NULL otherwise */
	const char *type_name;   /* "hardware_exception", "nmi" ... */
};

/* The five exit-information words of an x86 emulation failure (kvm_x86_ops.get_exit_info). */
struct xg_hw_info {
	uint64_t exit_reason;
	const char *exit_reason_name; /* VMX basic reason or SVM exit code name, or NULL */
	uint64_t info1;               /* VMX: exit qualification; SVM: EXITINFO1 */
	uint64_t info2;               /* VMX: IDT-vectoring info; SVM: EXITINFO2 */
	uint64_t intr_info;           /* VMX: exit interruption info; SVM: EXITINTINFO */
	uint64_t error_code;
	struct xg_event_info intr;    /* intr_info decoded */
};

/* ESR_ELx ISS of a data abort (ARM ARM DDI 0487, D24.2.45 ESR_EL2, "ISS encoding for an
 * exception from a Data Abort"). */
struct xg_esr_dabt {
	uint64_t raw;
	uint8_t dfsc, wnr, s1ptw, cm, ea, fnv, set, vncr, ar, sf, srt, sse, sas, isv;
	const char *dfsc_name;
};

enum xg_internal_kind {
	XG_INTERNAL_EMULATION = 1,
	XG_INTERNAL_SIMUL_EX = 2,
	XG_INTERNAL_DELIVERY_EV = 3,
	XG_INTERNAL_UNEXPECTED_EXIT_REASON = 4,
};

struct xg_exit_internal {
	uint32_t suberror;
	const char *suberror_name; /* NULL for a suberror this engine does not know */
	uint32_t ndata;            /* as KVM (or the guest) wrote it */
	uint32_t ndata_used;       /* min(ndata, 16): what was read */
	uint64_t data[16];         /* data[0 .. ndata_used), the rest zero */
	/* EMULATION */
	uint64_t flags;
	uint64_t flags_unknown; /* flag bits this engine cannot place: kept, reported */
	uint8_t has_insn;
	uint8_t insn_size; /* bounded to 15 */
	uint8_t insn[15];
	uint8_t has_hw; /* exit-information words present (EMULATION, DELIVERY_EV, UNEXPECTED) */
	struct xg_hw_info hwi;
	uint32_t extra_count; /* data[] words after the defined ones ("not ABI"), kept as they are */
	uint64_t extra[16];
	/* SIMUL_EX, DELIVERY_EV, UNEXPECTED_EXIT_REASON */
	uint8_t has_vectoring, has_intr, has_error_code, has_gpa, has_cpu, has_qual;
	struct xg_event_info vectoring; /* IDT-vectoring info */
	struct xg_event_info intr;      /* exit interruption info (SIMUL_EX) */
	uint64_t error_code;
	uint64_t gpa;
	uint64_t cpu; /* last vmentry cpu */
};

struct xg_exit_io {
	uint8_t direction; /* 0 in, 1 out */
	const char *dir;   /* "in", "out" */
	uint8_t size;
	uint16_t port;
	uint32_t count;
	uint64_t data_offset;
	const uint8_t *data; /* into the caller's buffer; NULL if out of its bounds */
	uint32_t data_len;
};

struct xg_exit_mmio {
	uint64_t phys_addr;
	uint8_t data[8];
	uint32_t len;
	uint8_t is_write;
	uint8_t has_value;
	uint64_t value; /* data[0..len) little-endian, when len <= 8 */
};

struct xg_exit_hypercall {
	uint64_t nr;
	const char *nr_name;
	uint64_t args[6];
	uint64_t ret;
	uint64_t flags; /* also the old `longmode` word */
	uint8_t longmode;
	/* KVM_HC_MAP_GPA_RANGE (Documentation/virt/kvm/x86/hypercalls.rst) */
	uint8_t is_map_gpa_range;
	uint64_t map_gpa, map_npages, map_attrs;
	const char *map_page_size;
	uint8_t map_encrypted;
};

struct xg_exit_debug {
	/* x86: struct kvm_debug_exit_arch */
	uint32_t exception;
	const char *exception_name;
	uint64_t pc, dr6, dr7;
	/* arm64 */
	uint32_t hsr, hsr_high;
	uint64_t far;
	uint8_t ec;
	const char *ec_name;
	uint8_t hsr_high_valid;
};

struct xg_exit_system_event {
	uint32_t type;
	const char *type_name;
	uint32_t ndata, ndata_used;
	uint64_t data[16];
	const char *psci_flag; /* arm64: "psci_off2" / "psci_reset2" from data[0] bit 0 */
};

struct xg_exit_msr {
	uint8_t error;
	uint32_t reason;
	const char *reason_name;
	uint32_t index;
	const char *index_name;
	uint64_t data;
	uint8_t is_write; /* X86_WRMSR */
};

struct xg_exit_hyperv {
	uint32_t type;
	const char *type_name;
	uint32_t msr;
	uint64_t control, evt_page, msg_page;               /* synic */
	uint64_t input, result, params[2];                  /* hcall */
	uint64_t status, send_page, recv_page, pending_page; /* syndbg */
};

struct xg_exit_xen {
	uint32_t type;
	const char *type_name;
	uint32_t longmode, cpl;
	uint64_t input, result, params[6];
};

struct xg_exit_memory_fault {
	uint64_t flags;
	uint64_t flags_unknown;
	uint64_t gpa, size;
	uint8_t private_;
};

struct xg_exit_tdx {
	uint64_t flags, nr;
	const char *nr_name;
	uint64_t ret;
	uint64_t data[5]; /* the union words after ret, whatever nr is */
};

struct xg_exit_arm_sea {
	uint64_t flags, esr, gva, gpa;
	uint8_t gpa_valid;
	uint8_t ec;
	const char *ec_name;
	struct xg_esr_dabt iss;
};

struct xg_exit {
	uint32_t reason;
	const char *name;    /* "internal_error" ...; "unknown" for a number not known */
	const char *kind;    /* the handler kind a policy writes: "emulation_failure" ... */
	enum xg_arch arch;
	enum xg_hw hw;
	const char *arch_name;
	/* kvm_run header */
	uint8_t ready_for_interrupt_injection;
	uint8_t if_flag;
	uint16_t run_flags;
	uint64_t cr8, apic_base;
	uint8_t known; /* the engine knows this exit number */
	char malformed[XG_MALFORMED_MAX]; /* "" when nothing was wrong, else "; "-joined reports */
	const void *fields;               /* internal: the field table the decoder chose */
	/* the union bytes as read; an internal error's past its ndata words (undefined:
	 * api.rst 5) are zeros */
	_Alignas(8) uint8_t raw[XG_RUN_UNION_SIZE];
	union {
		struct {
			uint64_t hardware_exit_reason;
			const char *name; /* VMX/SVM name where it is one */
		} hw; /* UNKNOWN */
		struct {
			uint64_t reason;
			uint32_t cpu;
			const char *reason_name;
			uint8_t cpu_unsupported; /* arm64 KVM_EXIT_FAIL_ENTRY_CPU_UNSUPPORTED */
		} fail_entry;
		struct {
			uint32_t exception, error_code;
			const char *exception_name;
		} ex;
		struct xg_exit_io io;
		struct xg_exit_debug debug;
		struct xg_exit_mmio mmio; /* MMIO and LOONGARCH_IOCSR */
		struct xg_exit_hypercall hypercall;
		struct {
			uint64_t rip;
			uint32_t is_write;
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
		struct xg_exit_internal internal;
		uint64_t osi_gprs[32];
		struct {
			uint64_t nr, ret, args[9];
		} papr_hcall;
		struct {
			uint16_t subchannel_id, subchannel_nr;
			uint32_t io_int_parm, io_int_word, ipb;
			uint8_t dequeued;
		} s390_tsch;
		uint32_t epr;
		struct xg_exit_system_event system_event;
		struct {
			uint64_t addr;
			uint8_t ar, fc, sel1;
			uint16_t sel2;
		} s390_stsi;
		uint8_t eoi_vector;
		struct xg_exit_hyperv hyperv;
		struct {
			uint64_t esr_iss, fault_ipa;
			struct xg_esr_dabt iss;
		} arm_nisv;
		struct xg_exit_msr msr;
		struct xg_exit_xen xen;
		struct {
			uint64_t extension_id, function_id, args[6], ret[2];
			const char *extension_name;
		} riscv_sbi;
		struct {
			uint64_t csr_num, new_value, write_mask, ret_value;
		} riscv_csr;
		struct {
			uint32_t flags;
			uint8_t context_invalid;
		} notify;
		struct xg_exit_memory_fault memory_fault;
		struct xg_exit_tdx tdx;
		struct xg_exit_arm_sea arm_sea;
	} u;
};

/*
 * Decode `run_size` bytes of a struct kvm_run. Returns 0 and fills *out - also for unknown
 * exit reasons and malformed contents, which are reported in out->malformed - or -1 with a
 * message when the buffer is too short to hold the header and union (XG_RUN_MIN_SIZE).
 * Allocates nothing.
 */
int xg_exit_decode(struct xg_exit *out, const void *run, size_t run_size,
		   const struct xg_exit_opts *opts, struct xg_error *err);

/* Name of a KVM_EXIT_* number, or NULL. */
const char *xg_exit_reason_name(uint32_t reason);

/* Text and JSON forms (the same fields as the Lua form). Return 0, or -1 on a write error. */
int xg_exit_print_text(const struct xg_exit *x, FILE *f);
int xg_exit_print_json(const struct xg_exit *x, FILE *f);

/* ==== The policy engine (core/engine, core/config) ========================================
 *
 * A VMM builds a configuration (YAML: xg_config_load), an engine from it, and attaches
 * each vCPU thread with the operations the engine may perform on that vCPU. After every
 * KVM_RUN it calls xg_handle_exit(), which decodes the exit, answers it from the verdict
 * cache or from the guest's Lua policy (one sandboxed lua_State per vCPU), applies the
 * verdict through the ops and says what the loop does next. Policy errors, limits and
 * malformed verdicts never reach the VMM as crashes: the guest's on_error verdict applies
 * and the event is counted, logged (rate limited) and kept as the vCPU's last error.
 *
 * Threads: xg_handle_exit and the ops run on the vCPU's own thread; xg_engine_reload may run
 * on any other thread (also the engine's watcher, for inotify and SIGHUP). A reload compiles
 * the policies in fresh states off the vCPU threads; each vCPU swaps at its next exit.
 */
typedef struct xg_config xg_config;
typedef struct xg_engine xg_engine;
typedef struct xg_vcpu xg_vcpu;

/* Parse a YAML configuration file. NULL with a message naming file, line and key. */
xg_config *xg_config_load(const char *path, struct xg_error *err);
/* The same from text; `name` is used in messages, relative policy paths resolve against
 * base_dir (NULL: the current directory). */
xg_config *xg_config_parse(const char *text, size_t len, const char *name, const char *base_dir,
			   struct xg_error *err);
/* A configuration with one guest named "default" running `policy` with default limits. */
xg_config *xg_config_for_policy(const char *policy, struct xg_error *err);
void xg_config_free(xg_config *cfg);
/* Number of guests and the name of guest i (for listing). */
size_t xg_config_guests(const xg_config *cfg);
const char *xg_config_guest_name(const xg_config *cfg, size_t i);

/*
 * All the engine may do to a vCPU. Each returns 0, or a negative errno; a NULL op is
 * reported as "not supported by this VMM" when a verdict needs it. The engine calls them on
 * the vCPU's own thread, inside xg_handle_exit, between KVM_RUN calls.
 *
 * What a VMM provides, and what the engine expects of each:
 *  - get_reg/set_reg: registers by the architecture's lower-case names. The engine itself
 *    uses "rip" (skip) and "cr2" (set before injecting #PF) on x86, "pc" on arm64; a
 *    policy may read any name through vcpu:reg(name) / e.regs.name. The bundled backend
 *    knows rax rbx rcx rdx rsi rdi rsp rbp r8-r15 rip rflags cr0 cr2 cr3 cr4 cr8 efer
 *    apic_base and, to read, xcr0 (x86), x0-x30 lr sp (the one PSTATE selects) sp_el0
 *    sp_el1 pc pstate elr_el1 spsr_el1 sctlr_el1 tcr_el1 ttbr0_el1 ttbr1_el1 vbar_el1
 *    esr_el1 far_el1 mair_el1 cpacr_el1 fpsr fpcr (arm64); an unknown name is -ENOENT, which the policy
 *    sees as an error. x86: exitgate's emulator asks for "xcr0" before it refuses a VEX or
 *    EVEX instruction for a component the XCR0 of get_x86_regs lacks, so a VMM that keeps
 *    a copy of XCR0 (the guest's XSETBV does not exit) should answer it with the current
 *    value (KVM_GET_XCRS).
 *  - Completing an exit: after an IO or MMIO exit that the verdict answers by emulation or
 *    resume, the VMM completes the access as KVM requires (copies read data into
 *    kvm_run and re-enters, api.rst 5 KVM_EXIT_IO/KVM_EXIT_MMIO); after an `inject`
 *    verdict on such an exit it must first cancel the access (see inject_exception).
 *  - pause(reason): a `suspend` verdict. xg_handle_exit then returns XG_NEXT_PAUSE and the
 *    VMM must not re-enter KVM_RUN for this vCPU until it decides to (its own resume
 *    command: `exitgate ctl resume` in the bundled VMM); other vCPUs keep running. The
 *    engine does not call resume today: the op is there for VMMs that route their resume
 *    through it.
 *  - emulate/can_emulate: the VMM's own emulator, preferred over exitgate's when set.
 */
struct xg_emu_x86_regs; /* xg_emu_x86.h: the scalar x86 state the built-in emulator uses */

struct xg_emu_arm64_regs;  /* xg_emu_arm64.h */
struct xg_emu_arm64_vregs; /* xg_emu_arm64.h */

/* Events a vCPU has pending or being injected (api.rst 4.31, struct kvm_vcpu_events): an
 * exception, an external interrupt, an NMI, an SMI, a triple fault. */
struct xg_x86_events {
	uint8_t exception_injected, exception_pending, exception_nr, exception_has_error_code;
	uint32_t exception_error_code;
	uint8_t exception_has_payload; /* KVM_CAP_EXCEPTION_PAYLOAD: CR2 or DR6 not yet written */
	uint64_t exception_payload;
	uint8_t interrupt_injected, interrupt_nr, interrupt_soft, interrupt_shadow;
	uint8_t nmi_injected, nmi_pending, nmi_masked;
	uint8_t smi_pending, smm, triple_fault_pending;
};

struct xg_vcpu_ops {
	int (*get_reg)(void *opaque, const char *name, uint64_t *val);
	int (*set_reg)(void *opaque, const char *name, uint64_t val);
	/* Guest RAM only: -EFAULT when any of [gpa, gpa+len) is not RAM (a device, or nothing). */
	int (*read_gpa)(void *opaque, uint64_t gpa, void *buf, size_t len);
	int (*write_gpa)(void *opaque, uint64_t gpa, const void *buf, size_t len);
	int (*translate_gva)(void *opaque, uint64_t gva, uint64_t *gpa);
	/* x86 exception vector (UD = 6 ...), with an error code when has_error_code. For #PF
	 * the faulting address must be in CR2: the engine sets it (set_reg "cr2") first, for
	 * a #PF exitgate's emulator raises and for a policy's xg.inject("PF", {cr2 = ...});
	 * a plain xg.inject("PF") leaves CR2 as it was. The guest must see a fault at the
	 * instruction that exited (SDM Vol. 3A 6.5): RIP on it, nothing of it done. After an
	 * IO, MMIO or MSR exit KVM would first complete the access (api.rst 5 KVM_EXIT_IO),
	 * and it has already finished stores and OUT: the bundled backend cancels that first
	 * (core/backend/kvm/fault.c), and an RDMSR/WRMSR #GP is the exit's own error answer
	 * (msr_reply with error = 1). */
	int (*inject_exception)(void *opaque, unsigned vector, int has_error_code,
				uint32_t error_code);
	int (*inject_external_abort)(void *opaque); /* arm64 */
	/* KVM_SET_MEMORY_ATTRIBUTES: make [gpa, gpa+size) private or shared. */
	int (*set_memory_attributes)(void *opaque, uint64_t gpa, uint64_t size, int to_private);
	/* The VMM's own emulator. When NULL, `emulate` uses exitgate's x86 emulator through
	 * get_x86_regs ... mmio_write below. can_emulate answers xg.emulator.supports() for it. */
	int (*emulate)(void *opaque, const struct xg_exit *x);
	int (*can_emulate)(void *opaque, const struct xg_exit *x);
	int (*pause)(void *opaque, const char *reason);
	int (*resume)(void *opaque);

	/* ---- what exitgate's x86 emulator needs (optional; all or none) ---- */
	int (*get_x86_regs)(void *opaque, struct xg_emu_x86_regs *regs);
	int (*set_x86_regs)(void *opaque, const struct xg_emu_x86_regs *regs); /* GPRs, RIP, RFLAGS */
	/* Vector state in the standard XSAVE layout, XG_EMU_X86_XSAVE_SIZE bytes (xg_emu_x86.h). */
	int (*get_xsave)(void *opaque, void *buf);
	int (*set_xsave)(void *opaque, const void *buf);
	/* A device access at a GPA that is not RAM: len <= 64, never crossing a page. -ENODEV
	 * when no device is there (the emulator then treats reads as all-ones, as a floating
	 * bus reads, and drops writes; the access is counted). */
	int (*mmio_read)(void *opaque, uint64_t gpa, void *buf, size_t len);
	int (*mmio_write)(void *opaque, uint64_t gpa, const void *buf, size_t len);

	/* ---- what exitgate's arm64 emulator needs (optional; all or none) ----
	 * The register state of struct xg_emu_arm64_regs (xg_emu_arm64.h): X0-X30, the SP in
	 * use, PC, PSTATE and, read only, SCTLR_EL1, TCR_EL1, TTBR0/1_EL1. set_arm64_regs
	 * writes X0-X30, SP, PC, PSTATE. V0-V31 as 128-bit little-endian values. mmio_read/
	 * mmio_write and read_gpa above carry the accesses. Dumps also ask get_reg for the
	 * EL1 registers by name: "elr_el1", "spsr_el1", "esr_el1", "far_el1", "vbar_el1",
	 * "sp_el0", "sp_el1", "mair_el1". */
	int (*get_arm64_regs)(void *opaque, struct xg_emu_arm64_regs *regs);
	int (*set_arm64_regs)(void *opaque, const struct xg_emu_arm64_regs *regs);
	int (*get_arm64_vregs)(void *opaque, struct xg_emu_arm64_vregs *v);
	int (*set_arm64_vregs)(void *opaque, const struct xg_emu_arm64_vregs *v);
	/* Take a synchronous exception to EL1 at the instruction that exited (ARM ARM D1.10.2,
	 * "Exception entry"): ESR_EL1 = esr, FAR_EL1 = far, ELR_EL1 = PC, SPSR_EL1 = PSTATE,
	 * PSTATE = EL1h with D, A, I, F masked, PC = VBAR_EL1 + the vector offset for the
	 * current EL and SP. xg_emu_arm64_exception_entry (xg_emu_arm64.h) computes it. */
	int (*inject_arm64_sync)(void *opaque, uint32_t esr, uint64_t far);

	/* Answer the RDMSR/WRMSR exit in hand (api.rst 5 KVM_EXIT_X86_RDMSR): error != 0
	 * makes KVM inject #GP; otherwise RDMSR returns value (WRMSR ignores it). */
	int (*msr_reply)(void *opaque, int error, uint64_t value);

	unsigned flags; /* XG_OPS_* */

	/* Optional, for dumps: the vCPU's pending and injected events (api.rst 4.31
	 * KVM_GET_VCPU_EVENTS). */
	int (*get_x86_events)(void *opaque, struct xg_x86_events *ev);
	/* Optional, for dumps: what the VMM has at gpa, in words ("guest RAM", "pattern device
	 * 0xd0100000-0xd0100fff"); 0, or -ENODEV when nothing is there (then buf says so too). */
	int (*describe_gpa)(void *opaque, uint64_t gpa, char *buf, size_t n);

	/* Optional, x86, both or neither: exitgate's emulator works on the VMM's own XSAVE
	 * image instead of copies of it (get_xsave/set_xsave stay required). lend_xsave sets
	 * *buf to the vCPU's current image (standard layout, at least XG_EMU_X86_XSAVE_SIZE
	 * bytes, kept until the emulation returns) and returns 0, or 1 when every component
	 * whose XSTATE_BV bit is clear holds its initial values in the image (as KVM_GET_XSAVE
	 * writes it; the emulator then does not write them there itself); -EOPNOTSUPP: not
	 * now, get_xsave is used.
	 * The emulator may change that image in place; it then either calls set_xsave with
	 * the same pointer (write it to the vCPU; no copy needed) or calls discard_xsave: the
	 * image now differs from the vCPU's (a veto, an exception, a failure), so the VMM must
	 * read the vCPU's again before it next uses or lends it. The bundled KVM backend lends
	 * its KVM_GET_XSAVE buffer, returning 1. */
	int (*lend_xsave)(void *opaque, void **buf);
	int (*discard_xsave)(void *opaque);

	/* Optional: where guest RAM [gpa, gpa+len) is in the VMM's memory, or NULL when any of
	 * it is not RAM. It must agree with read_gpa: non-NULL exactly where read_gpa would
	 * succeed, and the bytes there are the ones read_gpa would copy. The pointer is used
	 * for reads, only while the exit is handled unless ram_gen (below) lets exitgate keep
	 * it: the page walks of exitgate's x86
	 * emulator load each paging entry from it with one aligned load (the guest's other
	 * vCPUs may be changing the tables), its memory reads copy from it, and its device
	 * accesses go straight to mmio_read/mmio_write where it says "not RAM" instead of
	 * read_gpa/write_gpa failing first. Writes to RAM still go through write_gpa (a VMM
	 * may track dirty pages there). Without it, read_gpa does all of that; a VMM that
	 * must see every read of guest RAM (a recorder) leaves it NULL. */
	const void *(*ram_ptr)(void *opaque, uint64_t gpa, size_t len);

	/* Optional, x86 on KVM: this exit's registers where KVM keeps them current for the
	 * VMM, in KVM's own structures: *regs a struct kvm_regs, *sregs a struct kvm_sregs
	 * (api.rst 4.11, 4.13), as kvm_run carries them with KVM_CAP_SYNC_REGS (api.rst 5,
	 * "kvm_run": s.regs.regs, s.regs.sregs), and *xcr0 the guest's XCR0. 0, or -1 when
	 * they are not at hand. With it (and lend_xsave for vector moves), exitgate's emulator
	 * runs a repeated instruction its memo compiled on them in place, without
	 * get_x86_regs/set_x86_regs and their conversions (xg_emu_x86.h,
	 * xg_emu_x86_memo_direct). Before it writes RIP, RFLAGS (and a GPR: gprs = 1) there it
	 * calls x86_kvm_regs_put, after which the VMM has KVM take them at the next KVM_RUN
	 * (KVM_SYNC_X86_REGS in kvm_dirty_regs). Both or neither. */
	int (*x86_kvm_regs)(void *opaque, void **regs, const void **sregs, uint64_t *xcr0);
	void (*x86_kvm_regs_put)(void *opaque, int gprs);

	/* Optional, with ram_ptr: a counter that lets exitgate keep ram_ptr's pointers from one
	 * exit to the next. The VMM increases it (it never comes back to a value it had)
	 * whenever a pointer ram_ptr gave may stop being valid or stop holding the same guest
	 * RAM: RAM unplugged, moved or remapped, a GPA that was RAM no longer is. A counter
	 * where another VM's was (the same address) must not show a value that one had. It
	 * may be one counter per VM or per vCPU. exitgate reads it, with a relaxed atomic
	 * load, on the vCPU's thread while it handles an exit; the VMM makes its increase
	 * before that vCPU's next exit can see the change (as for the memory itself: with the
	 * vCPU paused, out of KVM_RUN, or before it runs again), and never while one of the
	 * exits it concerns is being handled. While the value stays the same, exitgate's x86
	 * emulator keeps the paging entries of its last translation and, on the next repeated
	 * exit at the same page, reads them again through those pointers instead of walking
	 * the tables afresh (the values are compared: a guest that changed its tables gets a
	 * new walk). NULL: pointers live only while the exit is handled. The bundled KVM
	 * backend maps guest RAM once, for the VM's life, and gives each VM a value of its own
	 * that never changes. */
	const uint64_t *ram_gen;
};

/* xg_vcpu_ops.flags */
#define XG_OPS_NO_AVX512_STATE 0x1 /* get/set_xsave cannot carry opmask, ZMM_Hi256, Hi16_ZMM:
				    * the emulator refuses what needs them */

/* What the run loop does after xg_handle_exit. */
enum xg_next {
	XG_NEXT_RUN = 0, /* re-enter KVM_RUN */
	XG_NEXT_PAUSE,   /* the vCPU was suspended (ops->pause); wait for a resume */
	XG_NEXT_STOP,    /* stop the VM */
	XG_NEXT_ERROR,   /* nothing could be applied, not even on_error: see xg_vcpu_last_error */
};

/* Verdicts, as the policy names them. */
enum xg_verdict_kind {
	XG_VERDICT_NONE = 0,
	XG_VERDICT_EMULATE,
	XG_VERDICT_INJECT,
	XG_VERDICT_EXTERNAL_ABORT,
	XG_VERDICT_CONVERT,
	XG_VERDICT_SUSPEND,
	XG_VERDICT_RESUME,
	XG_VERDICT_SKIP,
	XG_VERDICT_STOP,
	XG_VERDICT_MSR, /* answer an RDMSR/WRMSR exit: xg.msr(value) */
	XG_VERDICT_COUNT
};
const char *xg_verdict_name(enum xg_verdict_kind k);

/* Why a policy call did not give a usable verdict (each is counted). */
enum xg_fail {
	XG_FAIL_NONE = 0,
	XG_FAIL_ERROR,        /* the handler raised an error */
	XG_FAIL_INSTRUCTIONS, /* instruction budget per call exceeded */
	XG_FAIL_MEMORY,       /* memory cap of the state exceeded */
	XG_FAIL_NO_VERDICT,   /* the handler returned nothing */
	XG_FAIL_BAD_VERDICT,  /* the verdict is malformed */
	XG_FAIL_NO_HANDLER,   /* no handler for the kind and no default */
	XG_FAIL_ACTION,       /* the VMM op carrying the verdict out failed */
	XG_FAIL_TIME,         /* time per call (limits.time_ms) exceeded */
	XG_FAIL_COUNT
};
const char *xg_fail_name(enum xg_fail f);

struct xg_result {
	enum xg_next next;
	enum xg_verdict_kind verdict; /* the verdict applied (on_error's when fail != NONE) */
	enum xg_fail fail;
	uint8_t cached;  /* answered by the verdict cache, without Lua */
	uint8_t dumped;  /* a dump was written / logged */
	/* The suspend/stop reason of the verdict applied, or the failure when next is
	 * XG_NEXT_ERROR; "" otherwise. Valid until the vCPU's next exit. */
	const char *reason;
};

struct xg_stats {
	uint64_t exits, lua_calls;
	uint64_t lua_ns; /* time in policy calls: the coarse monotonic clock the time limit
			  * reads, so whole ticks per call, right on average over many calls */
	uint64_t cache_hits, cache_misses, cache_invalidations;
	uint64_t verdicts[XG_VERDICT_COUNT];
	uint64_t fails[XG_FAIL_COUNT];
	uint64_t dumps, logs, logs_suppressed;
	uint64_t reloads, reload_failures, swaps;
	uint64_t rebuilds; /* states rebuilt from their source after a memory-limit kill */
	/* instructions exitgate's x86 emulator carried out for an emulate verdict, and of them
	 * those its memo ran by the short path (a repeat of an instruction already compiled:
	 * xg_emu_x86_emulate_memo) */
	uint64_t emulated, emulated_memo;
};

/* Build an engine: compiles every guest's policy once (a check), so a broken policy is
 * reported here. The engine keeps its own copy of cfg. */
xg_engine *xg_engine_new(const xg_config *cfg, struct xg_error *err);
void xg_engine_free(xg_engine *e);

/* Log sink (default: stderr). Lines come without a trailing newline. */
typedef void (*xg_log_fn)(void *ud, const char *line);
void xg_engine_set_log(xg_engine *e, xg_log_fn fn, void *ud);

/* Attach vCPU `index` of guest `guest`: builds its Lua state. NULL with a message. The
 * vCPU is used from one thread at a time; detach before freeing the engine. Its exits are
 * decoded as the architecture of the register ops given: arm64 when ops has get_arm64_regs
 * and no get_x86_regs, x86_64 for the reverse, else the host's. */
xg_vcpu *xg_vcpu_attach(xg_engine *e, const char *guest, int index,
			const struct xg_vcpu_ops *ops, void *opaque, struct xg_error *err);
void xg_vcpu_detach(xg_vcpu *v);

/* Handle the exit KVM_RUN left in run[0..run_size). kvm_run_errno is the errno of a failed
 * KVM_RUN (EFAULT with a memory_fault exit, ...) or 0. EINTR/EAGAIN return XG_NEXT_RUN
 * without a policy call. */
struct xg_result xg_handle_exit(xg_vcpu *v, const void *run, size_t run_size, int kvm_run_errno);
/* The same for an exit already decoded. */
struct xg_result xg_handle_decoded(xg_vcpu *v, const struct xg_exit *x);

/* The message of the vCPU's last failure ("" if none): "policy web.lua:12: ...". */
const char *xg_vcpu_last_error(const xg_vcpu *v);
/* The vCPU's counters, from any thread while it runs: each one whole and at most a few exits
 * old, though not all taken at the same instant. */
void xg_vcpu_stats(const xg_vcpu *v, struct xg_stats *out);

/*
 * Per-exit cost profile, for benchmarks and tuning (tests/bench/bench_run prints it). Off by
 * default, and off it costs nothing: xg_vcpu_set_profile(v, p) puts timing shims in front
 * of the vCPU's ops and makes xg_handle_exit time its phases into p; xg_vcpu_set_profile(v,
 * NULL) takes them out again (both between exits, on the vCPU's thread). The phases are
 * exclusive - time in a nested phase (an ioctl inside a register fetch) is not counted in the
 * outer one - so they add up to the time spent in xg_handle_exit. The KVM backend adds its
 * ioctls' time when given the same profile (xg_kvm_vcpu_set_profile); a hand-written loop
 * can time its own phases with xg_profile_begin/enter/end to be compared phase by phase.
 * Each phase costs about two clock reads while profiling (~20 ns each on a TSC clock), so
 * profile in a separate run from the one whose totals are quoted.
 */
enum xg_prof_phase {
	XG_PROF_OTHER,	   /* bookkeeping in xg_handle_exit outside the phases below */
	XG_PROF_DECODE,	   /* kvm_run decoded into struct xg_exit */
	XG_PROF_LOOKUP,	   /* the verdict cache looked up (hit or miss) */
	XG_PROF_LUA,	   /* the policy's call: the exit's view, the handler, its verdict read */
	XG_PROF_FETCH,	   /* get_x86_regs, get_xsave, get_reg ... through the ops */
	XG_PROF_EMULATE,   /* the verdict carried out: for emulate, the emulator's decode,
			      execute, page walks and RAM accesses */
	XG_PROF_DEVICE,	   /* the VMM's mmio_read/mmio_write callbacks */
	XG_PROF_WRITEBACK, /* set_x86_regs, set_xsave, set_reg ... through the ops */
	XG_PROF_IOCTL,	   /* the backend's ioctls on the exit's behalf (not KVM_RUN) */
	XG_PROF_COUNT
};
struct xg_profile {
	uint64_t exits;		    /* exits profiled (xg_profile_end calls) */
	uint64_t ns[XG_PROF_COUNT]; /* nanoseconds per phase, summed over those exits */
	/* the clock, kept by the functions below */
	uint64_t mark;
	int phase, active;
};
void xg_vcpu_set_profile(xg_vcpu *v, struct xg_profile *p);
/* Open an exit's timing (phase XG_PROF_OTHER), switch phase (returns the phase left, to be
 * entered again when the nested one ends; nothing happens outside begin..end), close it. */
void xg_profile_begin(struct xg_profile *p);
int xg_profile_enter(struct xg_profile *p, int phase);
void xg_profile_end(struct xg_profile *p);
const char *xg_profile_phase_name(int phase); /* "decode", "lookup" ... */

/* Engine-wide: the sum over attached vCPUs plus reload counters (any thread, as
 * xg_vcpu_stats). */
void xg_engine_stats(xg_engine *e, struct xg_stats *out);
/* This engine's run identity, part of every dump file's name ("20261201T224405.123456Z-4242":
 * UTC time the engine was made, and the pid), so that runs into one dump_dir never overwrite
 * each other's dumps. */
const char *xg_engine_run_id(const xg_engine *e);
/* The dump directory of guests whose configuration sets no dump_dir (`exitgate run` gives
 * xg_dump_default_dir's); NULL, the default, leaves their dumps to the log. Made with its
 * parents, mode 0700, at the first dump. Call before vCPUs attach. 0, or -1 out of memory. */
int xg_engine_set_dump_default(xg_engine *e, const char *dir);
const char *xg_engine_dump_default(const xg_engine *e);

/* One value of a guest's xg.store, as the policies see it (a VMM's or a test's view). */
enum xg_store_type {
	XG_STORE_NIL = 0,
	XG_STORE_BOOLEAN, /* i is 0 or 1 */
	XG_STORE_INTEGER, /* i */
	XG_STORE_NUMBER,  /* d */
	XG_STORE_STRING,  /* s (malloc'd, NUL-terminated, may hold NULs), len */
};
struct xg_store_value {
	enum xg_store_type type;
	int64_t i;
	double d;
	char *s;
	size_t len;
};
/* Read key of guest's store into *out (type NIL when absent). 0, or -1 out of memory. The
 * caller frees out->s. */
int xg_engine_store_get(xg_engine *e, const char *guest, const char *key, size_t klen,
			struct xg_store_value *out);

/* Re-read the configuration (when it came from a file) and every policy, compile them in
 * fresh states and hand them to the vCPUs, which swap at their next exit. On failure the
 * old configuration and policies keep running and err says why. */
int xg_engine_reload(xg_engine *e, struct xg_error *err);
/* Reload by itself on a change of the config or policy files (inotify) and on SIGHUP
 * (when handle_sighup). Runs a watcher thread; errors are logged. A file renamed into place
 * is reloaded at once; writes in place after a quiet period of XG_WATCH_SETTLE_MS (in the
 * environment, 0..60000; default 10). 0 or -1 with a message (also for a bad
 * XG_WATCH_SETTLE_MS). */
int xg_engine_watch(xg_engine *e, int handle_sighup, struct xg_error *err);
/* Stop watching (xg_engine_free does it too, waiting as long as it takes): 0, or -1 if the
 * watcher is still inside a reload after grace seconds (a policy whose loading does not
 * end); then it still uses the engine, which must not be freed. */
int xg_engine_unwatch(xg_engine *e, double grace);

/* Check a policy file, or a YAML configuration and every policy and file it names, without
 * a guest: the configuration, each guest's payload (found as `exitgate run` finds it) and
 * dump_dir (or the parent it would be created in); load in the sandbox under the guest's
 * limits (syntax, unknown handler names, load-time errors and limits); then call every
 * handler with synthetic exits of each kind it handles and their edge values (every MMIO
 * length, read and write, each MSR exit reason, lowest and highest addresses ...) under the
 * guest's limits, validate each verdict and apply it to a stand-in vCPU whose ops succeed.
 * Runtime errors, limit hits, missing, malformed and inapplicable verdicts are errors, each
 * reported once as "error: ..." on `out`, with the line of the handler's `return`. Returns
 * the number of errors. The policy runs in this process: `exitgate check` runs this in a
 * child process with a timeout. */
int xg_policy_check(const char *path, FILE *out);

/* Write a triage dump of the vCPU's last exit now (the VMM's "dump" command for a
 * suspended vCPU): the JSON file of a `dump` verdict, into the guest's dump_dir. 0 with the
 * file's path, or -1 with why (no dump_dir, the dump limit reached, a write failure). */
int xg_vcpu_dump(xg_vcpu *v, const char *note, char *path, size_t path_size, struct xg_error *err);

/* ==== exitgate's x86 emulator behind the vCPU ops ==========================================
 *
 * What the `emulate` verdict runs when the VMM brings no emulator of its own: the
 * instruction of an emulation-failure exit is decoded from the exit's bytes (fetched
 * through the ops when KVM gave none), checked and emulated through get_x86_regs ...
 * mmio_write; guest-virtual addresses are translated by walking the guest's page tables
 * (SDM Vol. 3A 4.5) in guest RAM. An exception the instruction raises is injected as the CPU
 * would raise it. The VMM may call it directly too.
 */
struct xg_emu_x86_result; /* xg_emu_x86.h */
struct xg_emu_x86_memo;	  /* xg_emu_x86.h */

/* 0 when the instruction was emulated or its exception injected (res says which), -1 with
 * why when it could not be (not an x86 emulation failure, an instruction the emulator does
 * not do, missing ops, a host failure). Nothing in the guest changed on -1. `memo` (NULL:
 * none) is the vCPU's memo of compiled instructions (xg_emu_x86_emulate_memo in
 * xg_emu_x86.h): a repeated move between memory and a register then takes a short path with
 * the same outcome; one memo per vCPU, zeroed before its first use. */
int xg_emulate_x86(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		   struct xg_emu_x86_memo *memo, struct xg_emu_x86_result *res, char *why,
		   size_t n);
/* 1 if the exit carries an instruction for exitgate's emulator at all (an x86 emulation
 * failure: KVM's bytes, or CS:RIP to fetch them from); 0 with why otherwise. An MMIO, IO or
 * MSR exit does not: a VMM whose own `emulate` op finishes those says so with that op. */
int xg_emulate_x86_exit_ok(const struct xg_exit *x, char *why, size_t n);
/* 1 if xg_emulate_x86 would take this exit (decodes only); 0 with why otherwise. */
int xg_emulate_x86_supports(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			    char *why, size_t n);
/* The length of the exit's x86 instruction (decoded in the vCPU's mode), 0 with why if it
 * cannot be known: what the `skip` verdict advances RIP by. */
unsigned xg_x86_insn_length(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			    char *why, size_t n);

/* ==== exitgate's arm64 emulator behind the vCPU ops ========================================
 *
 * What the `emulate` verdict runs on an arm64 vCPU when the VMM brings no emulator of its
 * own: the instruction of a KVM_EXIT_ARM_NISV exit (or of an MMIO exit whose syndrome the
 * policy chose not to trust) is fetched at PC through the guest's stage-1 translation,
 * decoded and emulated through get_arm64_regs ... mmio_write (core/emu/arm64). An access
 * that reaches neither RAM nor a device
 * (mmio_read/mmio_write answer -ENODEV) takes a synchronous External abort (DFSC 0x10, FAR =
 * its VA), as the memory system would give the CPU, through inject_arm64_sync. The
 * instruction must be the exit's: the fault IPA one of its accesses, in the direction of
 * the exit's WnR, reached without an exception (the CPU raised none before its stage-2
 * fault); else it is refused (the guest changed its code or tables since the exit). After an MMIO exit KVM completes the access on the next KVM_RUN unless
 * the VMM cancels it, as for inject_exception: a VMM letting a policy emulate arm64 MMIO
 * exits must. The VMM may call it directly too.
 */
struct xg_emu_arm64_result; /* xg_emu_arm64.h */

/* 0 when the instruction was emulated or its exception taken (res says which), -1 with why
 * when it could not be (not an arm64 data abort exit, an instruction the emulator does not
 * do, missing ops, a host failure). Nothing in the guest changed on -1. */
int xg_emulate_arm64(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		     struct xg_emu_arm64_result *res, char *why, size_t n);
/* 1 if the exit is one xg_emulate_arm64 takes at all (an arm64 arm_nisv or mmio exit: a
 * data abort whose instruction is at PC); 0 with why otherwise. */
int xg_emulate_arm64_exit_ok(const struct xg_exit *x, char *why, size_t n);
/* 1 if xg_emulate_arm64 would take this exit: the instruction at PC fetched, decoded, its
 * addresses translated and checked against the fault IPA, nothing read from a device and
 * nothing changed; 0 with why ("not handled: ...", the IPA mismatch, a missing op). */
int xg_emulate_arm64_supports(const struct xg_vcpu_ops *ops, void *opaque,
			      const struct xg_exit *x, char *why, size_t n);

/* The class of the exit's x86 instruction (decoded in the vCPU's mode): "gp", "string",
 * "x87", "mmx", "sse", "avx", "avx512"; NULL when the exit carries none or it does not
 * decode. What `e.insn_class` gives a policy. */
const char *xg_x86_insn_class(const struct xg_vcpu_ops *ops, void *opaque,
			      const struct xg_exit *x);

/* ==== end of the policy engine ============================================================ */


#ifdef __cplusplus
}
#endif

#endif
