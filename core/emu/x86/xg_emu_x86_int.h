/*
 * xg_emu_x86_int.h - internals shared by the decoder (tables) and the emulator.
 *
 * One flags word per opcode says how to decode it (ModRM, immediate, sizes), what is legal
 * (mode, LOCK, encodings, register/memory form) and how the emulator treats its operands.
 * `op` names the semantic operation the emulator runs, `aux` is its parameter (ALU kind,
 * condition, element size, x87 form ...), or the index of a group / prefix table when
 * F_GROUP / F_PREFIX is set.
 */
#ifndef XG_EMU_X86_INT_H
#define XG_EMU_X86_INT_H

#include "xg_emu_x86.h"

/* A function on the path of every repeated emulated exit (the memo's direct path): kept
 * together with the rest of that path, in libexitgate's XG_HOT section (core/xg_hot.h says
 * why); the emulator includes nothing of the core's. */
#define XG_EMU_X86_HOT __attribute__((hot, section(".text.sorted.xg1")))
/* a check the direct path passes on every exit it takes (xg_hot.h's XG_UNLIKELY) */
#define XG_EMU_UNLIKELY(c) __builtin_expect(!!(c), 0)

#define F_MODRM	     (1ull << 0)
#define F_BYTE	     (1ull << 1)  /* 8-bit operands */
#define F_DEF64	     (1ull << 2)  /* operand size 64 by default in 64-bit mode */
#define F_NO64	     (1ull << 3)  /* invalid in 64-bit mode */
#define F_LOCK	     (1ull << 4)  /* LOCK allowed (memory destination only) */
#define F_MOV	     (1ull << 5)  /* destination only written */
#define F_MEM	     (1ull << 6)  /* ModRM must name memory, mod == 3 is #UD */
#define F_REG	     (1ull << 7)  /* ModRM must name a register */
#define F_GROUP	     (1ull << 8)  /* aux = group index, picked by ModRM.reg (and mod == 3) */
#define F_PREFIX     (1ull << 9)  /* aux = prefix table index, picked by none/66/F3/F2 */
#define F_UD	     (1ull << 10) /* invalid opcode */
#define F_X87	     (1ull << 11)
#define F_SSE	     (1ull << 12) /* SSE class: CR0.EM -> #UD, CR4.OSFXSR, CR0.TS -> #NM */
#define F_LEG	     (1ull << 13) /* legal without VEX/EVEX */
#define F_VEXOK	     (1ull << 14) /* legal VEX-encoded */
#define F_EVEXOK     (1ull << 15) /* legal EVEX-encoded */
#define F_ALIGN	     (1ull << 16) /* memory operand must be aligned to its size (#GP) */
#define F_REL	     (1ull << 17) /* near relative branch (66 in 64-bit mode is vendor-specific) */
#define F_STRING     (1ull << 18) /* string instruction, REP-able */
#define F_SRC8	     (1ull << 19) /* source is 8-bit (movzx/movsx) */
#define F_SRC16	     (1ull << 20) /* source is 16-bit */
#define F_W0	     (1ull << 21) /* VEX/EVEX.W must be 0 */
#define F_W1	     (1ull << 22) /* VEX/EVEX.W must be 1 */
#define F_L0	     (1ull << 23) /* VEX.L/EVEX.L'L must be 0 */
#define F_L1	     (1ull << 24) /* VEX.L must be 1 (256-bit only) */
#define F_NOVVVV     (1ull << 25) /* VEX/EVEX.vvvv must be 1111b */
#define F_STORE	     (1ull << 26) /* vector op: r/m is the destination */
#define F_VEXW0	     (1ull << 27) /* VEX.W must be 0 */
#define F_NOTEVEX_L2 (1ull << 28) /* EVEX.L'L = 2 (512) not allowed */
#define F_NOMASK     (1ull << 29) /* EVEX.aaa must be 0 */
#define F_ALIGN_EVEX (1ull << 30) /* aligned when EVEX/VEX too (vmovaps ...) */
#define F_FORCEREG   (1ull << 31) /* ModRM.mod ignored: always a register (mov cr/dr) */

/* Immediate kinds, 4 bits */
#define F_IMM_SHIFT 32
#define F_IMM_MASK  (15ull << F_IMM_SHIFT)
#define IMM(k)	    ((uint64_t)(k) << F_IMM_SHIFT)
enum { I_NONE = 0, I_8, I_16, I_Z, I_V, I_16_8, I_FAR, I_MOFFS, I_8_8 };

/* Operand kinds for general-purpose instructions: dst then src, 5 bits each */
#define F_DST_SHIFT 36
#define F_SRC_SHIFT 41
#define DST(k)	    ((uint64_t)(k) << F_DST_SHIFT)
#define SRC(k)	    ((uint64_t)(k) << F_SRC_SHIFT)
#define OPND_DST(f) ((unsigned)(((f) >> F_DST_SHIFT) & 31))
#define OPND_SRC(f) ((unsigned)(((f) >> F_SRC_SHIFT) & 31))
enum {
	O_NONE = 0,
	O_REG,	/* ModRM.reg GPR */
	O_RM,	/* ModRM r/m, GPR or memory */
	O_ACC,	/* rAX */
	O_OREG, /* opcode low 3 bits + REX.B */
	O_IMM,	/* the immediate */
	O_ONE,	/* constant 1 */
	O_CL,
	O_DX,
	O_SI,	 /* string source DS:rSI */
	O_DI,	 /* string destination ES:rDI */
	O_MOFFS, /* absolute memory offset */
	O_SREG,	 /* ModRM.reg segment register */
	O_MEM,	 /* ModRM memory only */
};

/* EVEX disp8*N tuple types (SDM Vol. 2 2.7.5), 5 bits */
#define F_TUPLE_SHIFT 46
#define TUPLE(t)      ((uint64_t)(t) << F_TUPLE_SHIFT)
#define F_TUPLE(f)    ((unsigned)(((f) >> F_TUPLE_SHIFT) & 31))
enum {
	T_UNKNOWN = 0,
	T_FV,	/* full vector, broadcast of W-sized elements */
	T_FV32, /* full vector, broadcast of dwords whatever W */
	T_FVM,	/* full vector memory, no broadcast */
	T_HV,	/* half vector, dword broadcast */
	T_HVM,	/* half vector memory */
	T_QVM,	/* quarter */
	T_OVM,	/* eighth */
	T_M128, /* 16 bytes whatever VL */
	T_DUP,	/* movddup: 8, 32, 64 */
	T_N1,	/* fixed sizes */
	T_N2,
	T_N4,
	T_N8,
	T_N16,
	T_N32,
	T_S_W,	/* tuple1 scalar, 4 or 8 by W */
	T_2_W,	/* tuple2: 8 or 16 by W */
	T_4_W,	/* tuple4: 16 or 32 by W */
	T_NONE, /* no memory form / not EVEX */
};

/* Semantic operations */
enum {
	OP_NONE = 0,
	/* ALU in the order of ModRM.reg of group 1 (SDM Vol. 2 Table A-6) */
	OP_ADD,
	OP_OR,
	OP_ADC,
	OP_SBB,
	OP_AND,
	OP_SUB,
	OP_XOR,
	OP_CMP,
	OP_TEST,
	OP_INC,
	OP_DEC,
	OP_NOT,
	OP_NEG,
	OP_BT,
	OP_BTS,
	OP_BTR,
	OP_BTC,
	OP_MOV,
	OP_MOVZX,
	OP_MOVSX,
	OP_MOVSXD,
	OP_MOVNTI,
	OP_XCHG,
	OP_CMPXCHG,
	OP_CMPXCHG8B,
	OP_XADD,
	OP_SETCC,
	OP_CMOVCC,
	OP_PUSH,
	OP_POP,
	OP_MOVS,
	OP_CMPS,
	OP_STOS,
	OP_LODS,
	OP_SCAS,
	OP_MOVSREG, /* mov r/m16, sreg */
	OP_X87,	    /* aux = x87 form */
	/* vector moves */
	OP_VMOV,   /* full-width load/store/reg move */
	OP_VMOVS,  /* movss/movsd: aux = element size */
	OP_VMOVLP, /* movlps/movlpd/movhlps */
	OP_VMOVHP, /* movhps/movhpd/movlhps */
	OP_MOVDDUP,
	OP_MOVSLDUP,
	OP_MOVSHDUP,
	OP_MOVD_TO_X,	/* movd/movq xmm, r/m32/64 */
	OP_MOVD_FROM_X, /* movd/movq r/m32/64, xmm */
	OP_MOVQ_TO_X,	/* movq xmm, xmm/m64 */
	OP_MOVQ_FROM_X, /* movq xmm/m64, xmm */
	OP_PINSR,	/* aux = element size */
	OP_PEXTR,
	OP_INSERTPS,
	OP_EXTRACTPS,
	OP_VBCAST,    /* aux = element size (bytes, up to 32) */
	OP_VMASKLOAD, /* aux = element size */
	OP_VMASKSTORE,
	OP_VINSERT, /* aux = lane size */
	OP_VEXTRACT,
	OP_STUB, /* SSE/AVX/AVX-512 run on the host in a stub (xg_emu_x86_stub.c): aux = class */
	OP_GP2,	 /* xg_emu_x86_gp2.c: shifts, mul/div, bit counts, movbe, crc32, adx, BMI */
	OP_COUNT
};

/* Element size codes for EVEX masking (in aux of VMOV) */
enum { ESZ_NONE = 0, ESZ_1, ESZ_2, ESZ_4, ESZ_8, ESZ_W48, ESZ_W12 };

struct xg_emu_x86_opc {
	uint64_t flags;
	uint16_t op;
	uint16_t aux;
	const char *name;
};

/* x87 memory forms executed on the host FPU (xg_emu_x86_x87.c), in table order */
enum {
	X87_FLD32 = 0,
	X87_FLD64,
	X87_FLD80,
	X87_FILD16,
	X87_FILD32,
	X87_FILD64,
	X87_FST32,
	X87_FST64,
	X87_FSTP32,
	X87_FSTP64,
	X87_FSTP80,
	X87_FIST16,
	X87_FIST32,
	X87_FISTP16,
	X87_FISTP32,
	X87_FISTP64,
	X87_FISTTP16,
	X87_FISTTP32,
	X87_FISTTP64,
	X87_FLDCW,
	X87_FNSTCW,
	X87_FNSTSW,
	/* arithmetic with a memory operand, in ModRM.reg order (SDM Vol. 2 Tables,
	 * m32fp (D8), m64fp (DC), m32int (DA), m16int (DE) */
	X87_ARITH_M32FP,
	X87_ARITH_M64FP = X87_ARITH_M32FP + 8,
	X87_ARITH_M32INT = X87_ARITH_M64FP + 8,
	X87_ARITH_M16INT = X87_ARITH_M32INT + 8,
	/* the environment, 28 bytes (14 with a 16-bit operand size: the 16 forms) */
	X87_FLDENV = X87_ARITH_M16INT + 8,
	X87_FLDENV16,
	X87_FNSTENV,
	X87_FNSTENV16,
	X87_NFORMS
};
struct xg_emu_x86_x87_form {
	uint8_t size;  /* memory operand bytes */
	uint8_t store; /* 1: writes memory */
	uint8_t wait;  /* 1: a waiting instruction (pending #MF checked first) */
	void (*run)(void *fx, void *mem);
};
extern const struct xg_emu_x86_x87_form xg_emu_x86_x87_forms[X87_NFORMS];

/* Run an x87 form on the host FPU against a 512-byte FXSAVE image (16-byte aligned). */
void xg_emu_x86_x87_exec(unsigned form, void *fxsave_img, void *mem);

/* One memory access of the instruction, within one segment; split per page later. */
struct xg_emu_x86_acc {
	uint64_t ea;   /* offset in the segment */
	uint64_t la;   /* linear address */
	uint16_t off;  /* where its bytes are in ctx->mem */
	uint16_t size; /* bytes, at most 512 (FXSAVE) */
	uint8_t kind;  /* enum xg_emu_x86_access */
	uint8_t seg;
	uint8_t align; /* #GP(0) unless aligned to this, checked in its turn (0: none) */
	uint8_t probe; /* XG_EMU_X86_PROBE*: checked in its turn, never read or written */
};
#define XG_EMU_X86_PROBE       1 /* segment, alignment and translation */
#define XG_EMU_X86_PROBE_CHECK 2 /* segment and alignment only */

#define XG_EMU_X86_MAXACC 72
#define XG_EMU_X86_MEMBUF 512
/* The operands of every instruction fit in ctx->mem's first 128 bytes (64-byte vectors,
 * string and MOVDIR64B operands at offset 64, 16 gather elements of 8), which emulate()
 * zeroes; FXSAVE/FXRSTOR's 512-byte image is written whole by plan or read whole. */
#define XG_EMU_X86_MEMZERO 128

/* The state of one emulation: a working copy of the registers and vector state. The
 * fields every instruction sets come first, in as few cache lines as they fit: the
 * emulator mostly runs right after a trip through the kernel, with cold caches, where each
 * line it touches costs. */
struct xg_emu_x86_ctx {
	const struct xg_emu_x86_ops *ops;
	void *opaque;
	struct xg_emu_x86_result *res;
	struct xg_emu_x86_insn *in;
	unsigned cpl, mode, real, rmode;
	enum xg_emu_x86_vendor vendor; /* resolved: INTEL or AMD, never HOST */
	/* regs_dirty: set by every write of a GPR (or another register set_regs carries),
	 * which commit passes on as regs.gprs_unchanged: a write that leaves it clear is a
	 * GPR the VMM may never get */
	int xs_loaded, xs_dirty, regs_dirty;
	/* xs is the VMM's lent image (ops->lend_xsave); xs_synced: it was written to the vCPU
	 * (set_xsave) and not changed since */
	int xs_lent, xs_synced;
	/* the XSTATE_BV bits load_xsave set for components the vCPU had in their initial
	 * state (made explicit to be read and written as any other) */
	uint64_t xs_added;
	/* which vector registers vec_set wrote (bit i: XMM/YMM/ZMM i), and whether anything
	 * else wrote the AVX or AVX-512 components (a host-run instruction, a gather's mask):
	 * what settle_xstate_bv reads to tell whether an added component is still initial */
	uint32_t xs_vregs;
	int xs_wide;
	/* the XCR0 components load_xsave marks in use (with x87 and SSE): all it can hold
	 * (0xe7), or fewer where the caller knows what the instruction can write (the memo's
	 * short path: a VEX move writes SSE and AVX state only, a legacy one SSE state) */
	uint64_t xs_mark;
	uint32_t hook_mask; /* bit (1u << stage): ops->hook is called there */
	unsigned align;	    /* alignment the memory operand needs (0: none) */
	uint64_t align_ea;  /* the operand's offset, for that check */
	uint64_t next_rip;
	unsigned nacc;
	/* an x87 store form run once in plan (to know whether it stores), reused by exec */
	int x87_ran, x87_stores;
	/* the vector state as plan() left it is kept when a memory access then faults (an MMX
	 * store sets TOP to 0 before its access: seen on the CPU) */
	int xs_on_fault;
	/* the accesses are separate stores: a fault in a later one leaves the earlier ones
	 * written (FSTP m80 is an 8-byte and a 2-byte store: seen on the CPU) */
	int partial_stores;
	/* an access faulted after accesses [0, done) of independent elements (gathers and
	 * scatters): those are complete, and this updates the state to say so; the pipeline
	 * then reads and writes them, commits, and delivers the fault */
	int (*on_fault)(struct xg_emu_x86_ctx *c, unsigned done);
	struct xg_emu_x86_regs r;
	uint8_t mem[XG_EMU_X86_MEMBUF] __attribute__((aligned(64)));
	struct xg_emu_x86_acc acc[XG_EMU_X86_MAXACC];
	uint8_t acc_elem_active[64]; /* gathers: which elements have an access */
	uint8_t x87_out[32];
	uint8_t x87_img[512] __attribute__((aligned(64)));
	/* the vector state: the VMM's lent image, or xs_own holding a copy (get_xsave) */
	uint8_t *xs;
	uint8_t xs_own[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
};

/* The host CPU's CPUID leaf/sub-leaf (EAX, EBX, ECX, EDX in r[]): the emulator's files
 * that need the host's features or vendor all ask through this one. */
static inline void xg_emu_x86_host_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* helpers of xg_emu_x86_emulate.c used by the vector and x87 code */
int xg_emu_x86_exc(struct xg_emu_x86_ctx *c, unsigned vector, int has_error, uint32_t error);
uint64_t xg_emu_x86_ea(struct xg_emu_x86_ctx *c);
/*
 * Whether a masked operand's enabled elements are separate accesses (masked: under an EVEX
 * opmask other than k0, or VMASKMOV/VPMASKMOV's vector mask). AMD checks the limit (or
 * canonical form) of each element in its turn, after the page walk of the elements before
 * it: #PF for an element below a limit that a later element of the same run passes (seen
 * on an AMD EPYC (Zen 5) in 16- and 32-bit mode). Intel checks the limits of all enabled
 * elements before any page walk (memory_stages()), so a run of them is one access there.
 */
static inline int xg_emu_x86_per_element(const struct xg_emu_x86_ctx *c, int masked)
{
	return masked && c->vendor != XG_EMU_X86_VENDOR_INTEL;
}

/*
 * Whether access a through a protected-mode segment with a 4 GiB limit has no limit to
 * pass (it wraps at 4 GiB and can only page-fault). The SDM lets the CPU choose (Vol. 3A
 * 5.3: an access past an effective limit of FFFFFFFFH "may or may not" fault). Intel: a
 * flat expand-up 4 GiB segment has no limit to pass (seen on the Xeon in compatibility
 * mode: #PF at 0xfffffffe, not #GP/#SS). AMD checks it like any other limit (APM Vol. 2
 * 4.12: #GP/#SS, seen on an AMD EPYC), but for FXSAVE/FXRSTOR (0F AE /0, /1), whose
 * 16-byte aligned image it moves in pieces that each wrap at 4 GiB, as on Intel (#PF on the
 * image's last byte, wrapped to offset 0x1ef); their first check, of the image's first four
 * bytes (the PROBE_CHECK access, xg_emu_x86_fxsave.c), takes the limit as any other (seen
 * on an AMD EPYC (Zen 5): #SS(0) at ESP 0xfffffffe, before the alignment #GP(0)). The
 * pipeline's check_segment() and the memo's segment_ok() both ask here.
 */
static inline int xg_emu_x86_limit_wraps(const struct xg_emu_x86_ctx *c,
					 const struct xg_emu_x86_segment *s,
					 const struct xg_emu_x86_acc *a)
{
	const struct xg_emu_x86_insn *in = c->in;

	if (c->real || s->limit != 0xffffffffu)
		return 0;
	return c->vendor == XG_EMU_X86_VENDOR_INTEL ||
	       (in->enc == XG_EMU_X86_ENC_LEGACY && in->map == 1 && in->opcode == 0xae &&
		in->mod != 3 && ((in->modrm >> 3) & 7) <= 1 && a->probe != XG_EMU_X86_PROBE_CHECK);
}

void xg_emu_x86_add_acc(struct xg_emu_x86_ctx *c, uint64_t ea, unsigned seg, unsigned size,
			unsigned kind, unsigned off);
uint64_t xg_emu_x86_gpr_get(struct xg_emu_x86_ctx *c, unsigned reg, unsigned size);
void xg_emu_x86_gpr_set(struct xg_emu_x86_ctx *c, unsigned reg, unsigned size, uint64_t v);
int xg_emu_x86_load_xsave(struct xg_emu_x86_ctx *c);
/* ops->set_xsave of c->xs (0 or the errno); what the vCPU holds from then on */
int xg_emu_x86_store_xsave(struct xg_emu_x86_ctx *c);

/* The pipeline in pieces, for the memo (xg_emu_x86_fast.c): begin sets up the ctx and reads
 * the registers (0, or the ERROR status); run is the whole pipeline after it; finish delivers
 * an exception and records the status; commit writes memory, vector state, registers and
 * RIP; stage_hook calls ops->hook (VETOED if it says no); translate_access and read_access
 * translate one access, or read it into c->mem, page piece by page piece as memory_stages
 * does (a #PF or a host failure as it words them). */
int xg_emu_x86_begin(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_ops *ops, void *opaque,
		     struct xg_emu_x86_result *res);
int xg_emu_x86_run(struct xg_emu_x86_ctx *c, const uint8_t *bytes, size_t n);
int xg_emu_x86_finish(struct xg_emu_x86_ctx *c, int rc);
int xg_emu_x86_commit(struct xg_emu_x86_ctx *c, int advance);
int xg_emu_x86_stage_hook(struct xg_emu_x86_ctx *c, enum xg_emu_x86_stage s);
int xg_emu_x86_translate_access(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a);
int xg_emu_x86_read_access(struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a);

/* The instruction's address size as a mask: an effective address wraps at 64 KiB, 4 GiB or
 * 2^64 (SDM Vol. 1 3.3.7). */
static inline uint64_t xg_emu_x86_addr_mask(const struct xg_emu_x86_insn *in)
{
	return in->addrsize == 2 ? 0xffffull : in->addrsize == 4 ? 0xffffffffull : ~0ull;
}

/* Is la canonical: bits 63 down to the linear-address width (48, or 57 with CR4.LA57) all
 * equal (SDM Vol. 1 3.3.7.1)? */
static inline int xg_emu_x86_canonical_at(uint64_t cr4, uint64_t la)
{
	unsigned bits = (cr4 & (1ull << 12)) ? 57 : 48;
	return (uint64_t)((int64_t)(la << (64 - bits)) >> (64 - bits)) == la;
}

static inline int xg_emu_x86_canonical(const struct xg_emu_x86_ctx *c, uint64_t la)
{
	return xg_emu_x86_canonical_at(c->r.cr4, la);
}

/* A value of `size` bytes (1, 2, 4 or 8) as a mask. */
static inline uint64_t xg_emu_x86_size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/*
 * The GPRs by register number, for the working copy's array (encoding order, map 0) and
 * for the memo's direct path on KVM's struct kvm_regs (map: number to its place there, a
 * nibble per register from bit 0, xg_emu_x86_gpr_at: an immediate, where a table was one
 * more page of data on every repeated exit).
 * slot: the array entry a register operand of `size` bytes lives in, and at what bit
 * (without REX, byte registers 4-7 are AH CH DH BH: SDM Vol. 2 Table 3-1); merge: that
 * entry with v written (32-bit writes zero-extend, 8- and 16-bit ones keep the rest: Vol. 1
 * 3.4.1.1).
 */
static inline unsigned xg_emu_x86_gpr_at(uint64_t map, unsigned reg)
{
	return map ? (unsigned)(map >> (4 * (reg & 15))) & 15 : reg;
}

static inline unsigned xg_emu_x86_gpr_slot(unsigned reg, unsigned size, int rex, unsigned *shift)
{
	reg &= 15;
	*shift = 0;
	if (size == 1 && !rex && reg >= 4 && reg < 8) {
		*shift = 8;
		return reg - 4;
	}
	return reg;
}

static inline uint64_t xg_emu_x86_gpr_merge(uint64_t old, unsigned size, unsigned shift,
					    uint64_t v)
{
	uint64_t m = xg_emu_x86_size_mask(size) << shift;

	if (size == 4)
		return v & 0xffffffffull;
	return (old & ~m) | ((v << shift) & m);
}

/* Effective address of the ModRM/moffs memory operand (SDM Vol. 1 3.7.5), the GPRs in g[]
 * through map as above. */
static inline uint64_t xg_emu_x86_ea_of(const struct xg_emu_x86_insn *in, const uint64_t *g,
					uint64_t map, uint64_t next_rip)
{
	uint64_t ea = (uint64_t)in->disp;

	if (in->base != XG_EMU_X86_NOREG)
		ea += g[xg_emu_x86_gpr_at(map, in->base)];
	if (in->index != XG_EMU_X86_NOREG && !in->vsib)
		ea += g[xg_emu_x86_gpr_at(map, in->index)] * in->scale;
	if (in->rip_rel)
		ea += next_rip;
	return ea & xg_emu_x86_addr_mask(in);
}

/* vector register i as 64 bytes (ZMM view) */
void xg_emu_x86_vec_get(struct xg_emu_x86_ctx *c, unsigned i, uint8_t out[64]);
void xg_emu_x86_vec_set(struct xg_emu_x86_ctx *c, unsigned i, const uint8_t in[64]);

/* per-op plan (legality left to check, accesses to make) and execute (after the reads) */
struct xg_emu_x86_impl {
	int (*plan)(struct xg_emu_x86_ctx *c);
	int (*exec)(struct xg_emu_x86_ctx *c);
};
extern const struct xg_emu_x86_impl xg_emu_x86_simd_impl[OP_COUNT];

/* SIMD classes run in a host stub (xg_emu_x86_stub.c): the decoder asks for the EVEX
 * disp8*N of an opcode its tables lack (0: not a stub class) and turns an unimplemented
 * opcode of the allow-list into OP_STUB; supported() asks whether the host can run it. */
unsigned xg_emu_x86_stub_disp8n(const struct xg_emu_x86_insn *in);
void xg_emu_x86_stub_classify(struct xg_emu_x86_insn *in);
int xg_emu_x86_stub_host_ok(const struct xg_emu_x86_insn *in);
extern const struct xg_emu_x86_impl xg_emu_x86_stub_impl;
/* xg_emu_x86_gp2.c: claims (op = OP_GP2) the decoded instructions it implements; whether
 * the host can carry out a claimed one (a form run as the host's own instruction needs the
 * host's feature) */
void xg_emu_x86_gp2_claim(struct xg_emu_x86_insn *in);
int xg_emu_x86_gp2_host_ok(const struct xg_emu_x86_insn *in);
extern const struct xg_emu_x86_impl xg_emu_x86_gp2_impl;
/* xg_emu_x86_mmx.c: the MMX moves, through gp2's table */
int xg_emu_x86_mmx_plan(struct xg_emu_x86_ctx *c);
int xg_emu_x86_mmx_exec(struct xg_emu_x86_ctx *c);
/* After an x87 or MMX instruction on an AMD CPU: FOP, FIP and FDP as its XSAVE stores them
 * (zero unless FSW.ES is set: the vendor list in xg_emu_x86.h). Nothing on Intel. */
void xg_emu_x86_x87_ptrs(struct xg_emu_x86_ctx *c);
/* xg_emu_x86_fxsave.c: FXSAVE/FXRSTOR, through gp2's table */
int xg_emu_x86_fxsave_plan(struct xg_emu_x86_ctx *c);
int xg_emu_x86_fxsave_exec(struct xg_emu_x86_ctx *c);
/* xg_emu_x86_gather.c: gathers and scatters, through gp2's table */
int xg_emu_x86_gather_plan(struct xg_emu_x86_ctx *c);
int xg_emu_x86_gather_exec(struct xg_emu_x86_ctx *c);

/* Host-executed arithmetic (xg_emu_x86_alu.c): returns the result, updates *flags. */
uint64_t xg_emu_x86_alu(unsigned op, unsigned size, uint64_t dst, uint64_t src, uint64_t *flags);

#endif
