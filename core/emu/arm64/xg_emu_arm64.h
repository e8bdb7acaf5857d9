/*
 * xg_emu_arm64.h - exitgate's A64 load/store emulator: decode and emulate one instruction.
 *
 * The contract. On arm64, KVM hands a data abort it cannot finish to user space
 * (KVM_EXIT_ARM_NISV: only the fault IPA and the ESR's ISS, no syndrome of the instruction):
 * this room finishes it. It knows nothing of KVM, of the policy engine or of Lua: all it
 * touches goes through struct xg_emu_arm64_ops, which a caller implements (the KVM backend
 * with ONE_REG and memslots, the tests with plain buffers). Everything it reads - the
 * instruction word, the guest's translation tables, memory, registers - is guest-controlled
 * and treated so; the emulator changes nothing (no memory write, no device read, no register
 * write) before the last check that can fault. Plain C, no host assembly: it builds and runs
 * on x86_64 and aarch64 hosts alike.
 *
 * The fixed order of an emulation, the ARM ARM's own order for a load or store (each step a
 * named stage a caller may hook; a hook that returns non-zero vetoes the instruction, which
 * then has no effect at all):
 *   DECODE      the word -> struct xg_emu_arm64_insn; unallocated encodings are UNDEFINED
 *               (an exception with EC 0, ARM ARM D1.10 / "Unknown reason")
 *   ALIGNMENT   SP alignment when the base is SP (SCTLR_EL1.SA/SA0, ARM ARM D1.8.2), then
 *               the data alignment check (SCTLR_EL1.A, and the acquire/release instructions
 *               that always require natural alignment, ARM ARM B2.5.2)
 *   TRANSLATE   every page of every access translated first: MMU off (SCTLR_EL1.M = 0),
 *               the VA is the IPA; on, a stage-1 walk per TCR_EL1 (ARM ARM D8, VMSAv8-64)
 *   READ        device/memory reads of a load (the hook sees them)
 *   WRITEBACK   stores written, then Rt/Rt2, the base register, PC += 4
 *   EXCEPTION   before an exception found on the way is handed to ops->inject
 * Accesses that cross a translation granule are split into per-page accesses: one part may
 * be RAM and the other a device. Data is little-endian: SCTLR_EL1.EE (EL1) or E0E (EL0) set
 * is refused with NOT_HANDLED and a reason, as is a big-endian table walk.
 *
 * What is decoded and emulated: LDR/STR of every size and sign extension (unsigned offset,
 * pre/post-index, register offset with UXTW/SXTW/SXTX/LSL), LDUR/STUR, LDTR/STTR, LDP/STP/
 * LDPSW/LDNP/STNP in every index mode, LDR literal, SIMD&FP LDR/STR/LDUR/STUR B/H/S/D/Q and
 * LDP/STP/LDNP/STNP S/D/Q, LDAR/STLR/LDLAR/STLLR, LDAPR, PRFM (a hint: PC += 4 only), and
 * the Advanced SIMD structures LD1-LD4/ST1-ST4 (multiple and single structure) and
 * LD1R-LD4R, with post-index by immediate or register: each element is its own access (the
 * single-copy atomicity the ARM ARM gives them, B2.2.1), which a device sees one by one.
 * The LSE atomics LDADD/LDCLR/LDEOR/LDSET/LD{S,U}{MAX,MIN}/SWP/CAS/CASP (and their ST
 * aliases) are read-modify-writes through ops (one read, then one write; a failed compare
 * writes nothing): a device sees them as such, and a policy that wants none vetoes them at
 * DECODE (insn->cls == XG_EMU_ARM64_C_ATOMIC).
 * Decoded, but answered NOT_HANDLED with a reason: the exclusives (LDXR/STXR...: a device
 * has no exclusive monitor, so exitgate cannot make STXR's success or failure mean anything),
 * pointer-authenticated LDRAA/LDRAB, the
 * MTE tag instructions, LDAPUR/STLUR.
 * DC ZVA (ARM ARM C5.3.x "DC ZVA, Data Cache Zero by VA"), a system instruction outside the
 * load/store space, is emulated as the store it is: a block of zeros, naturally aligned, the
 * block size 4 << DCZID_EL0.BS bytes (D17.2.34) from ops->get_dczid (64 bytes without one),
 * at Xt aligned down to it. The block is one translation and one write (it never crosses a
 * page: at most 2 KiB, aligned). At EL0 with SCTLR_EL1.DZE = 0 it is trapped to EL1 (EC 0x18,
 * D17.2.37 ISS for an MSR/MRS/System instruction); DCZID_EL0.DZP = 1 (prohibited, a trap to
 * EL2 the emulator does not model) is NOT_HANDLED. As for other stores, the memory type is
 * not known: DC ZVA to Device memory, an alignment fault on hardware, is performed.
 */
#ifndef XG_EMU_ARM64_H
#define XG_EMU_ARM64_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The register state the emulator reads and writes. `sp` is the stack pointer in use (SP_EL0
 * or SP_EL1 as PSTATE.SP selects: the caller resolves it). The system registers are read only
 * (set_regs may ignore them).
 */
struct xg_emu_arm64_regs {
	uint64_t x[31]; /* X0-X30 */
	uint64_t sp;
	uint64_t pc;
	uint64_t pstate; /* SPSR layout: M[3:0] (EL in 3:2, SP in 0), PAN 22, UAO 23 */
	uint64_t sctlr_el1, tcr_el1, ttbr0_el1, ttbr1_el1;
};

/* The SIMD&FP registers V0-V31, 128 bits each, little-endian byte order. */
struct xg_emu_arm64_vregs {
	uint8_t v[32][16];
};

/* Kinds of access, for ops->translate/read/write. */
enum xg_emu_arm64_access {
	XG_EMU_ARM64_READ = 1,
	XG_EMU_ARM64_WRITE = 2,
	XG_EMU_ARM64_FETCH = 4, /* the instruction word */
	XG_EMU_ARM64_WALK = 8,	/* a translation table descriptor (ops->read only) */
	XG_EMU_ARM64_RMW = 3,	/* an atomic's read then write: translated for write */
};

/*
 * An exception to deliver, as ESR_EL1 and FAR_EL1 would hold it (ARM ARM D17.2.37 ESR_ELx).
 * `esr` is complete (EC, IL = 1, ISS); `far` is valid for aborts and SP/PC alignment.
 */
enum {
	XG_EMU_ARM64_EC_UNKNOWN = 0x00,
	XG_EMU_ARM64_EC_IABT_LOW = 0x20,
	XG_EMU_ARM64_EC_IABT_CUR = 0x21,
	XG_EMU_ARM64_EC_DABT_LOW = 0x24,
	XG_EMU_ARM64_EC_DABT_CUR = 0x25,
	XG_EMU_ARM64_EC_SP_ALIGN = 0x26,
};
/* Fault status codes (DFSC/IFSC), the level is added to the first four. */
enum {
	XG_EMU_ARM64_FSC_ADDR_SIZE = 0x00,
	XG_EMU_ARM64_FSC_TRANSLATION = 0x04,
	XG_EMU_ARM64_FSC_ACCESS_FLAG = 0x08,
	XG_EMU_ARM64_FSC_PERMISSION = 0x0c,
	XG_EMU_ARM64_FSC_ALIGNMENT = 0x21,
};

struct xg_emu_arm64_exception {
	uint32_t esr;
	uint64_t far;
};

/* Named stages, in the order they run (see the top of this file). */
enum xg_emu_arm64_stage {
	XG_EMU_ARM64_STAGE_DECODE = 0,
	XG_EMU_ARM64_STAGE_ALIGNMENT,
	XG_EMU_ARM64_STAGE_TRANSLATE,
	XG_EMU_ARM64_STAGE_READ,
	XG_EMU_ARM64_STAGE_WRITEBACK,
	XG_EMU_ARM64_STAGE_EXCEPTION,
	XG_EMU_ARM64_NSTAGES
};
const char *xg_emu_arm64_stage_name(enum xg_emu_arm64_stage stage);

enum xg_emu_arm64_status {
	XG_EMU_ARM64_OK = 0,	  /* emulated (or decoded); PC advanced */
	XG_EMU_ARM64_EXCEPTION,	  /* an exception was found and injected; nothing else changed */
	XG_EMU_ARM64_NOT_HANDLED, /* valid instruction the emulator does not do: see reason */
	XG_EMU_ARM64_VETOED,	  /* a stage hook said no; nothing changed */
	XG_EMU_ARM64_ERROR,	  /* an ops callback failed (host problem); see reason */
};
const char *xg_emu_arm64_status_name(enum xg_emu_arm64_status st);

/* Instruction classes (what the emulator does with the access). */
enum xg_emu_arm64_class {
	XG_EMU_ARM64_C_NONE = 0,  /* not a load/store */
	XG_EMU_ARM64_C_SINGLE,	  /* one register, LDR/STR/LDUR/LDTR/LDAR/LDAPR... */
	XG_EMU_ARM64_C_PAIR,	  /* LDP/STP/LDNP/STNP/LDPSW */
	XG_EMU_ARM64_C_PREFETCH,  /* PRFM/PRFUM: a hint */
	XG_EMU_ARM64_C_EXCLUSIVE, /* LDXR/STXR/LDAXP... */
	XG_EMU_ARM64_C_ATOMIC,	  /* LSE atomics, CAS, CASP */
	XG_EMU_ARM64_C_STRUCT,	  /* LD1-4/ST1-4, LDnR */
	XG_EMU_ARM64_C_OTHER,	  /* PAC loads, MTE, RCpc unscaled... */
	XG_EMU_ARM64_C_DCZVA,	  /* DC ZVA: rt = Xt (the address), size 0, imm = the block's
				   * bytes (64 from decode, DCZID_EL0's from ALIGNMENT on) */
};

/* The read-modify-write of an ATOMIC instruction: LDADD...LDUMIN in their opc order. */
enum xg_emu_arm64_aop {
	XG_EMU_ARM64_AOP_ADD = 0,
	XG_EMU_ARM64_AOP_CLR,
	XG_EMU_ARM64_AOP_EOR,
	XG_EMU_ARM64_AOP_SET,
	XG_EMU_ARM64_AOP_SMAX,
	XG_EMU_ARM64_AOP_SMIN,
	XG_EMU_ARM64_AOP_UMAX,
	XG_EMU_ARM64_AOP_UMIN,
	XG_EMU_ARM64_AOP_SWP,
	XG_EMU_ARM64_AOP_CAS,
	XG_EMU_ARM64_AOP_CASP,
};

/* Addressing modes. */
enum xg_emu_arm64_index {
	XG_EMU_ARM64_OFFSET = 0, /* [Xn, #imm] or [Xn, Rm, ext]: no writeback */
	XG_EMU_ARM64_PRE,	 /* [Xn, #imm]! */
	XG_EMU_ARM64_POST,	 /* [Xn], #imm */
	XG_EMU_ARM64_LITERAL,	 /* PC + imm */
	XG_EMU_ARM64_REGOFF,	 /* [Xn, Rm, extend #amount] */
};

/* Register-offset extends, in the encoding's `option` order (ARM ARM C6.2, ExtendType). */
enum xg_emu_arm64_extend {
	XG_EMU_ARM64_UXTB = 0,
	XG_EMU_ARM64_UXTH,
	XG_EMU_ARM64_UXTW,
	XG_EMU_ARM64_UXTX, /* LSL */
	XG_EMU_ARM64_SXTB,
	XG_EMU_ARM64_SXTH,
	XG_EMU_ARM64_SXTW,
	XG_EMU_ARM64_SXTX,
};

/* One decoded instruction. Register number 31 means SP as a base, XZR/WZR otherwise. */
struct xg_emu_arm64_insn {
	uint32_t word;
	uint8_t cls;	 /* enum xg_emu_arm64_class */
	uint8_t load;	 /* 1 load, 0 store */
	uint8_t fp;	 /* Rt/Rt2 are SIMD&FP registers */
	uint8_t size;	 /* bytes per register access: 1, 2, 4, 8 or 16 */
	uint8_t regsize; /* 4 (Wt) or 8 (Xt) for a general register; the FP access size */
	uint8_t sign;	 /* the load sign-extends to regsize */
	uint8_t index;	 /* enum xg_emu_arm64_index */
	uint8_t rt, rt2, rn, rm, rs;
	uint8_t extend;	     /* enum xg_emu_arm64_extend, REGOFF only */
	uint8_t shift;	     /* REGOFF: the left shift of the extended Rm (0 or log2(size)) */
	uint8_t shift_given; /* REGOFF: the S bit (an explicit amount is written) */
	uint8_t unpriv;	     /* LDTR/STTR: checked as EL0 from EL1 */
	uint8_t acqrel;	     /* acquire/release: requires natural alignment */
	int64_t imm;	     /* byte offset (scaled), PC-relative offset, or STRUCT: bytes moved */
	/* STRUCT (LD1-4/ST1-4, LDnR): `size` is the element size; Rt, Rt+1 ... (mod 32) */
	uint8_t selem;	   /* structure elements: 1-4 (registers per structure) */
	uint8_t rpt;	   /* LD1/ST1 multiple: repetitions over 1-4 registers, else 1 */
	uint8_t datasize;  /* 8 (64-bit arrangement) or 16 */
	uint8_t single;	   /* one lane (index `lane`) per register */
	uint8_t replicate; /* LDnR: one element replicated to all lanes */
	uint8_t lane;	   /* the element index of a single-structure access */
	uint8_t aop;	   /* ATOMIC: enum xg_emu_arm64_aop */
	const char *name;  /* the mnemonic, as the ARM ARM spells it (lower case) */
};

/*
 * Decode one A64 instruction word. Returns OK (insn filled) for an instruction the emulator
 * performs; NOT_HANDLED (reason filled, insn->cls and name set) for a valid load/store it
 * does not perform, or for a word outside the load/store space (cls NONE); EXCEPTION (*exc is
 * an UNDEFINED instruction) for an unallocated load/store encoding. `reason` (may be NULL)
 * receives at most 96 bytes.
 */
enum xg_emu_arm64_status xg_emu_arm64_decode(uint32_t word, struct xg_emu_arm64_insn *insn,
					     struct xg_emu_arm64_exception *exc, char *reason);

/*
 * What the emulator may do to the vCPU and its memory. Callbacks return 0 on success and a
 * negative errno on a host failure (the emulation then stops with ERROR; a failure in a read
 * or a translation comes before any write).
 */
struct xg_emu_arm64_ops {
	int (*get_regs)(void *opaque, struct xg_emu_arm64_regs *regs);
	int (*set_regs)(void *opaque, const struct xg_emu_arm64_regs *regs);
	/* Called only for SIMD&FP loads and stores. */
	int (*get_vregs)(void *opaque, struct xg_emu_arm64_vregs *v);
	int (*set_vregs)(void *opaque, const struct xg_emu_arm64_vregs *v);
	/*
	 * Optional: translate `va` for an access of `kind` at exception level `el`. Returns 0
	 * with *ipa set, 1 for a fault (*fsc = the fault status code, level included), or a
	 * negative errno. When NULL the emulator walks the guest's tables itself
	 * (xg_emu_arm64_translate), reading descriptors with ops->read(..., WALK).
	 */
	int (*translate)(void *opaque, uint64_t va, enum xg_emu_arm64_access kind, unsigned el,
			 uint64_t *ipa, uint8_t *fsc);
	/* Accesses never cross a 4 KiB page of the IPA space. */
	int (*read)(void *opaque, uint64_t ipa, void *buf, unsigned size,
		    enum xg_emu_arm64_access kind);
	int (*write)(void *opaque, uint64_t ipa, const void *buf, unsigned size);
	int (*inject)(void *opaque, const struct xg_emu_arm64_exception *exc);
	/* Optional: called as each stage passes (exc non-NULL only for STAGE_EXCEPTION, before
	 * ops->inject). Non-zero vetoes: nothing is written, nothing injected. */
	int (*hook)(void *opaque, enum xg_emu_arm64_stage stage,
		    const struct xg_emu_arm64_insn *insn, const struct xg_emu_arm64_exception *exc);
	/* Optional: DCZID_EL0 as the guest reads it (BS in bits 3:0, DZP bit 4), for DC ZVA.
	 * Under KVM the guest reads the host CPU's own register (an aarch64 VMM has it with
	 * `mrs dczid_el0`). NULL: BS = 4 (64-byte blocks), DZP = 0. */
	int (*get_dczid)(void *opaque, uint64_t *dczid_el0);
};

/*
 * The built-in stage-1 translation (ARM ARM D8.1-D8.4): with SCTLR_EL1.M = 0 the VA is the
 * IPA; otherwise TTBR0_EL1 or TTBR1_EL1 by VA bit 55, T0SZ/T1SZ, 4K/16K/64K granules, levels
 * 0-3, table/block/page descriptors, the access flag, AP[2:1] and APTable for EL0/EL1 reads
 * and writes, PSTATE.PAN, UXN/PXN for fetches, TBI0/TBI1. Hardware-managed access and dirty
 * flags (TCR_EL1.HA/HD) and 52-bit addresses are not modelled (a clear AF faults). Returns 0
 * (*ipa set), 1 (*fsc set: a fault at the level it carries), or a negative errno from
 * ops->read.
 */
int xg_emu_arm64_translate(const struct xg_emu_arm64_ops *ops, void *opaque,
			   const struct xg_emu_arm64_regs *regs, uint64_t va,
			   enum xg_emu_arm64_access kind, unsigned el, uint64_t *ipa, uint8_t *fsc);

/*
 * Synchronous exception entry to EL1 (ARM ARM D1.10.2 "Exception entry", D1.10.1 the vector
 * offsets): the EL1 registers it writes, and the state before and after.
 */
struct xg_emu_arm64_el1 {
	uint64_t elr, spsr, esr, far, vbar;
	uint64_t sp_el0, sp_el1; /* the banked stack pointers (regs->sp is the one in use) */
};
/*
 * Take `exc` from the state in regs/el1 (el1->vbar, sp_el0/sp_el1 read): ELR_EL1 = PC,
 * SPSR_EL1 = PSTATE, ESR_EL1/FAR_EL1 = exc, PSTATE = EL1h with DAIF masked (PAN set when
 * SCTLR_EL1.SPAN = 0), PC = VBAR_EL1 + 0x000/0x200/0x400 (current EL with SP0, current EL
 * with SPx, lower EL AArch64) and regs->sp switched to SP_EL1. Returns -1 (nothing changed)
 * from AArch32 or EL2/EL3 state, which exitgate does not enter.
 */
int xg_emu_arm64_exception_entry(struct xg_emu_arm64_regs *regs, struct xg_emu_arm64_el1 *el1,
				 const struct xg_emu_arm64_exception *exc);

struct xg_emu_arm64_result {
	enum xg_emu_arm64_status status;
	enum xg_emu_arm64_stage stage; /* the stage that decided the outcome */
	struct xg_emu_arm64_exception exc;
	struct xg_emu_arm64_insn insn;
	char reason[96]; /* "not handled: ..." / error text; empty when OK */
};

/*
 * Emulate the instruction at the guest's PC. `word` is the instruction if the caller has it
 * (NULL: it is fetched at PC through the same translation, as XG_EMU_ARM64_FETCH).
 */
enum xg_emu_arm64_status xg_emu_arm64_emulate(const struct xg_emu_arm64_ops *ops, void *opaque,
					      const uint32_t *word,
					      struct xg_emu_arm64_result *res);

#ifdef __cplusplus
}
#endif

#endif
