/*
 * xg_emu_x86_gp2.c - the general-purpose instructions whose result or flags are the CPU's
 * own business: shifts and rotates (RCL/RCR, SHLD/SHRD), MUL/IMUL/DIV/IDIV, BSF/BSR,
 * POPCNT/LZCNT/TZCNT, MOVBE, CRC32, ADCX/ADOX and the VEX-encoded BMI1/BMI2 group, each
 * with a register or a memory operand; and the miscellaneous memory instructions MOVDIRI,
 * MOVDIR64B, CLFLUSH/CLFLUSHOPT/CLWB and the prefetch and hint NOPs.
 *
 * The SDM leaves flags (and, for BSF/BSR on zero and SHLD/SHRD past the operand size, even
 * destination bits) undefined in places; what a guest sees there is what its CPU does. So
 * the operation runs as the real instruction on host registers between POPF and PUSHF (the
 * way xg_emu_x86_alu.c and KVM's fastops do), and the memory access around it is the
 * emulator's. A 16- or 32-bit register destination runs on the whole 64-bit register, so
 * whatever the CPU does to its upper bits (a 32-bit BSF with a zero source leaves them, most
 * 32-bit writes zero them) is what the guest gets. Immediate counts (C0/C1, SHLD/SHRD ib,
 * RORX) run through the CL form with the same count.
 *
 * Features (README: "host features checked: 'not handled: the host CPU lacks X'; the guest's
 * CPUID through ops->cpuid: #UD"). The guest's CPUID (ops->cpuid; without it, the host's)
 * decides #UD, as each instruction's page says (#UD if CPUID.(...)[bit] = 0); a form run as
 * the host's own instruction (POPCNT, CRC32, ADCX/ADOX, most of BMI1/BMI2) also needs the host
 * to have it, or it is not handled; the forms computed in C (MOVBE, MULX, RORX, SARX/SHLX/
 * SHRX) and the accesses without an operation (MOVDIRI, MOVDIR64B, CLFLUSH/CLFLUSHOPT/CLWB)
 * need only the guest's. LZCNT and TZCNT are never #UD: a CPU without them executes them as
 * BSR and BSF (F3 is then ignored: SDM Vol. 2 LZCNT, TZCNT), and so do they here when the
 * guest's CPUID or the host lacks them.
 */
#include <stdio.h>
#include <string.h>

#include "xg_emu_x86_int.h"

#define ARITH 0x8d5ull /* CF PF AF ZF SF OF */

/* ---- the host instructions ---- */

#define FL_IN  "lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopf\n\t"
#define FL_OUT "\n\tpushf\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"

/* d = d op s (count or third operand in rCX) */
#define N2(nm, text)                                                                               \
	static uint64_t nm(uint64_t d, uint64_t s, uint64_t x, uint64_t *fl)                       \
	{                                                                                          \
		uint64_t f = (*fl & ARITH) | 2;                                                    \
		__asm__ volatile(FL_IN text FL_OUT                                                 \
				 : [d] "+r"(d), [f] "+r"(f)                                        \
				 : [s] "r"(s), [x] "c"(x)                                          \
				 : "cc", "memory");                                                \
		*fl = (*fl & ~ARITH) | (f & ARITH);                                                \
		return d;                                                                          \
	}
/* rAX, rDX op= s (MUL/IMUL/DIV/IDIV; the divide is checked for #DE before) */
#define NMD(nm, text)                                                                              \
	static void nm(uint64_t *a, uint64_t *dx, uint64_t s, uint64_t *fl)                        \
	{                                                                                          \
		uint64_t f = (*fl & ARITH) | 2, ra = *a, rd = *dx;                                 \
		__asm__ volatile(FL_IN text FL_OUT                                                 \
				 : "+a"(ra), "+d"(rd), [f] "+r"(f)                                 \
				 : [s] "r"(s)                                                      \
				 : "cc", "memory");                                                \
		*fl = (*fl & ~ARITH) | (f & ARITH);                                                \
		*a = ra;                                                                           \
		*dx = rd;                                                                          \
	}

#define SIZES4(mac, nm, ins, fmt8, fmt16, fmt32, fmt64)                                            \
	mac(nm##8, ins " " fmt8) mac(nm##16, ins " " fmt16) mac(nm##32, ins " " fmt32)             \
	    mac(nm##64, ins " " fmt64)
#define SIZES3(mac, nm, ins, fmt16, fmt32, fmt64)                                                  \
	mac(nm##16, ins " " fmt16) mac(nm##32, ins " " fmt32) mac(nm##64, ins " " fmt64)

/* shifts and rotates by CL (SDM Vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR) */
#define SHIFT(nm, ins)                                                                             \
	SIZES4(N2, nm, ins, "%b[x], %b[d]", "%b[x], %w[d]", "%b[x], %k[d]", "%b[x], %q[d]")
SHIFT(rol, "rol")
SHIFT(ror, "ror")
SHIFT(rcl, "rcl")
SHIFT(rcr, "rcr")
SHIFT(shl, "shl")
SHIFT(shr, "shr")
SHIFT(sar, "sar")
/* SHLD/SHRD r/m, r, CL */
SIZES3(N2, shld, "shld", "%b[x], %w[s], %w[d]", "%b[x], %k[s], %k[d]", "%b[x], %q[s], %q[d]")
SIZES3(N2, shrd, "shrd", "%b[x], %w[s], %w[d]", "%b[x], %k[s], %k[d]", "%b[x], %q[s], %q[d]")
/* two-operand forms: d = op(d, s) */
#define TWO3(nm, ins) SIZES3(N2, nm, ins, "%w[s], %w[d]", "%k[s], %k[d]", "%q[s], %q[d]")
TWO3(imul2, "imul")
TWO3(bsf, "bsf")
TWO3(bsr, "bsr")
TWO3(tzcnt, "tzcnt")
TWO3(lzcnt, "lzcnt")
TWO3(popcnt, "popcnt")
N2(adcx32, "adcx %k[s], %k[d]")
N2(adcx64, "adcx %q[s], %q[d]")
N2(adox32, "adox %k[s], %k[d]")
N2(adox64, "adox %q[s], %q[d]")
N2(crc32b, "crc32b %b[s], %k[d]")
N2(crc32bq, "crc32b %b[s], %q[d]")
N2(crc32w, "crc32w %w[s], %k[d]")
N2(crc32l, "crc32l %k[s], %k[d]")
N2(crc32q, "crc32q %q[s], %q[d]")
/* VEX three-operand forms, Intel "op d, s, x" is AT&T "op x, s, d" (d only written) */
#define VEX3(nm, ins)                                                                              \
	N2(nm##32, ins " %k[x], %k[s], %k[d]")                                                     \
	N2(nm##64, ins " %q[x], %q[s], %q[d]")
VEX3(andn, "andn")
VEX3(bextr, "bextr")
VEX3(bzhi, "bzhi")
VEX3(pdep, "pdep")
VEX3(pext, "pext")
/* BLSI/BLSMSK/BLSR: d = op(s) */
#define VEX2(nm, ins)                                                                              \
	N2(nm##32, ins " %k[s], %k[d]")                                                            \
	N2(nm##64, ins " %q[s], %q[d]")
VEX2(blsi, "blsi")
VEX2(blsmsk, "blsmsk")
VEX2(blsr, "blsr")
/* one-operand MUL/IMUL/DIV/IDIV */
#define MD(nm, ins) SIZES4(NMD, nm, ins, "%b[s]", "%w[s]", "%k[s]", "%q[s]")
MD(mul, "mul")
MD(imul1, "imul")
MD(div, "div")
MD(idiv, "idiv")

typedef uint64_t (*n2_fn)(uint64_t, uint64_t, uint64_t, uint64_t *);
typedef void (*md_fn)(uint64_t *, uint64_t *, uint64_t, uint64_t *);

/* [ModRM.reg of C0-D3][size 1, 2, 4, 8]; /6 is the SAL alias of SHL (AMD APM Vol. 3 SAL) */
static const n2_fn shift_fn[8][4] = {
    {rol8, rol16, rol32, rol64}, {ror8, ror16, ror32, ror64}, {rcl8, rcl16, rcl32, rcl64},
    {rcr8, rcr16, rcr32, rcr64}, {shl8, shl16, shl32, shl64}, {shr8, shr16, shr32, shr64},
    {shl8, shl16, shl32, shl64}, {sar8, sar16, sar32, sar64},
};
static const md_fn md_fn_tab[4][4] = {
    {mul8, mul16, mul32, mul64},
    {imul18, imul116, imul132, imul164},
    {div8, div16, div32, div64},
    {idiv8, idiv16, idiv32, idiv64},
};

/* ---- which instructions, and their operands ---- */

enum {
	K_SHIFT = 1, /* C0/C1 (ib), D0/D1 (1), D2/D3 (CL): sub = ModRM.reg */
	K_SHXD,	     /* SHLD/SHRD: sub 0 left, 1 right; +2 with CL */
	K_MULDIV,    /* F6/F7 /4-/7: sub = ModRM.reg - 4 */
	K_IMUL,	     /* 0F AF (sub 0), 69/6B with an immediate (sub 1) */
	K_BITCNT,    /* sub: 0 bsf, 1 bsr, 2 tzcnt, 3 lzcnt, 4 popcnt */
	K_MOVBE,     /* sub 0 load (F0), 1 store (F1) */
	K_CRC32,     /* sub 0 byte source (F0), 1 operand-size source (F1) */
	K_ADX,	     /* sub 0 adcx, 1 adox */
	K_BMI,	     /* VEX: sub below */
	K_MMX,	     /* MMX MOVD/MOVQ/MOVNTQ: xg_emu_x86_mmx.c */
	K_MOVDIR,    /* sub 0 MOVDIRI, 1 MOVDIR64B */
	K_LINE,	     /* CLFLUSH/CLFLUSHOPT/CLWB: translated (and so faulting) like a byte
			load, never read */
	K_HINT,	     /* PREFETCHh/PREFETCHW/CLDEMOTE, hint NOPs: no access, no fault */
	K_VSIB,	     /* gathers and scatters: xg_emu_x86_gather.c */
	K_FXSAVE,    /* FXSAVE/FXRSTOR: xg_emu_x86_fxsave.c */
};
enum {
	B_ANDN,
	B_BEXTR,
	B_BLSI,
	B_BLSMSK,
	B_BLSR,
	B_BZHI,
	B_PDEP,
	B_PEXT,
	B_MULX,
	B_RORX,
	B_SARX,
	B_SHLX,
	B_SHRX
};

/* CPUID feature a form needs (the guest's and, for a host instruction, the host's) */
enum {
	NEED_NONE = 0,
	NEED_POPCNT,
	NEED_MOVBE,
	NEED_SSE42,
	NEED_ABM,
	NEED_BMI1,
	NEED_BMI2,
	NEED_ADX,
	NEED_CLFSH,
	NEED_CLFLUSHOPT,
	NEED_CLWB,
	NEED_MOVDIRI,
	NEED_MOVDIR64B,
};

struct gp2_opc {
	uint8_t enc, map, opcode;
	uint8_t pfx;  /* bit per mandatory-prefix slot (none, 66, F3, F2) */
	uint8_t regs; /* bit per ModRM.reg value */
	uint8_t kind, sub, need;
	const char *name;
};

#define ANYREG 0xff
#define P_ANY  0xf
#define P_NONE 0x1
#define P_66   0x2
#define P_F3   0x4
#define P_F2   0x8

/* SDM Vol. 2 Tables, and the instruction pages */
static const struct gp2_opc gp2_table[] = {
    {0, 0, 0xc0, P_ANY, ANYREG, K_SHIFT, 0, 0, "shift"},
    {0, 0, 0xc1, P_ANY, ANYREG, K_SHIFT, 0, 0, "shift"},
    {0, 0, 0xd0, P_ANY, ANYREG, K_SHIFT, 0, 0, "shift"},
    {0, 0, 0xd1, P_ANY, ANYREG, K_SHIFT, 0, 0, "shift"},
    {0, 0, 0xd2, P_ANY, ANYREG, K_SHIFT, 0, 0, "shift"},
    {0, 0, 0xd3, P_ANY, ANYREG, K_SHIFT, 0, 0, "shift"},
    {0, 0, 0xf6, P_ANY, 0xf0, K_MULDIV, 0, 0, "mul/div"},
    {0, 0, 0xf7, P_ANY, 0xf0, K_MULDIV, 0, 0, "mul/div"},
    {0, 0, 0x69, P_ANY, ANYREG, K_IMUL, 1, 0, "imul"},
    {0, 0, 0x6b, P_ANY, ANYREG, K_IMUL, 1, 0, "imul"},
    {0, 1, 0xaf, P_ANY, ANYREG, K_IMUL, 0, 0, "imul"},
    {0, 1, 0xa4, P_ANY, ANYREG, K_SHXD, 0, 0, "shld"},
    {0, 1, 0xa5, P_ANY, ANYREG, K_SHXD, 2, 0, "shld"},
    {0, 1, 0xac, P_ANY, ANYREG, K_SHXD, 1, 0, "shrd"},
    {0, 1, 0xad, P_ANY, ANYREG, K_SHXD, 3, 0, "shrd"},
    {0, 1, 0xbc, P_NONE | P_66 | P_F2, ANYREG, K_BITCNT, 0, 0, "bsf"},
    {0, 1, 0xbd, P_NONE | P_66 | P_F2, ANYREG, K_BITCNT, 1, 0, "bsr"},
    {0, 1, 0xbc, P_F3, ANYREG, K_BITCNT, 2, NEED_BMI1, "tzcnt"},
    {0, 1, 0xbd, P_F3, ANYREG, K_BITCNT, 3, NEED_ABM, "lzcnt"},
    {0, 1, 0xb8, P_F3, ANYREG, K_BITCNT, 4, NEED_POPCNT, "popcnt"},
    {0, 2, 0xf0, P_NONE | P_66, ANYREG, K_MOVBE, 0, NEED_MOVBE, "movbe"},
    {0, 2, 0xf1, P_NONE | P_66, ANYREG, K_MOVBE, 1, NEED_MOVBE, "movbe"},
    {0, 2, 0xf0, P_F2, ANYREG, K_CRC32, 0, NEED_SSE42, "crc32"},
    {0, 2, 0xf1, P_F2, ANYREG, K_CRC32, 1, NEED_SSE42, "crc32"},
    {0, 2, 0xf6, P_66, ANYREG, K_ADX, 0, NEED_ADX, "adcx"},
    {0, 2, 0xf6, P_F3, ANYREG, K_ADX, 1, NEED_ADX, "adox"},
    {1, 2, 0xf2, P_NONE, ANYREG, K_BMI, B_ANDN, NEED_BMI1, "andn"},
    {1, 2, 0xf3, P_NONE, 0x02, K_BMI, B_BLSR, NEED_BMI1, "blsr"},
    {1, 2, 0xf3, P_NONE, 0x04, K_BMI, B_BLSMSK, NEED_BMI1, "blsmsk"},
    {1, 2, 0xf3, P_NONE, 0x08, K_BMI, B_BLSI, NEED_BMI1, "blsi"},
    {1, 2, 0xf5, P_NONE, ANYREG, K_BMI, B_BZHI, NEED_BMI2, "bzhi"},
    {1, 2, 0xf5, P_F3, ANYREG, K_BMI, B_PEXT, NEED_BMI2, "pext"},
    {1, 2, 0xf5, P_F2, ANYREG, K_BMI, B_PDEP, NEED_BMI2, "pdep"},
    {1, 2, 0xf6, P_F2, ANYREG, K_BMI, B_MULX, NEED_BMI2, "mulx"},
    {1, 2, 0xf7, P_NONE, ANYREG, K_BMI, B_BEXTR, NEED_BMI1, "bextr"},
    {1, 2, 0xf7, P_66, ANYREG, K_BMI, B_SHLX, NEED_BMI2, "shlx"},
    {1, 2, 0xf7, P_F3, ANYREG, K_BMI, B_SARX, NEED_BMI2, "sarx"},
    {1, 2, 0xf7, P_F2, ANYREG, K_BMI, B_SHRX, NEED_BMI2, "shrx"},
    {1, 3, 0xf0, P_F2, ANYREG, K_BMI, B_RORX, NEED_BMI2, "rorx"},
    {0, 1, 0x6e, P_NONE, ANYREG, K_MMX, 0, 0, "movd mm"},
    {0, 1, 0x7e, P_NONE, ANYREG, K_MMX, 0, 0, "movd mm"},
    {0, 1, 0x6f, P_NONE, ANYREG, K_MMX, 0, 0, "movq mm"},
    {0, 1, 0x7f, P_NONE, ANYREG, K_MMX, 0, 0, "movq mm"},
    {0, 1, 0xe7, P_NONE, ANYREG, K_MMX, 0, 0, "movntq"},
    {0, 2, 0xf9, P_NONE, ANYREG, K_MOVDIR, 0, NEED_MOVDIRI, "movdiri"},
    {0, 2, 0xf8, P_66, ANYREG, K_MOVDIR, 1, NEED_MOVDIR64B, "movdir64b"},
    /* group 15 memory forms (SDM Vol. 2 Table A-6): NP /7 CLFLUSH, 66 /7 CLFLUSHOPT,
     * 66 /6 CLWB */
    {0, 1, 0xae, P_NONE, 0x01, K_FXSAVE, 0, 0, "fxsave"},
    {0, 1, 0xae, P_NONE, 0x02, K_FXSAVE, 1, 0, "fxrstor"},
    {0, 1, 0xae, P_NONE, 0x80, K_LINE, 0, NEED_CLFSH, "clflush"},
    {0, 1, 0xae, P_66, 0x80, K_LINE, 0, NEED_CLFLUSHOPT, "clflushopt"},
    {0, 1, 0xae, P_66, 0x40, K_LINE, 0, NEED_CLWB, "clwb"},
    /* 0F 18 /0-3 PREFETCHNTA/T0/T1/T2 (the rest of 0F 18 a hint NOP), 0F 0D /1 PREFETCHW,
     * NP 0F 1C /0 CLDEMOTE (a hint NOP where it is not supported), 0F 1F /0 NOP Ev */
    {0, 1, 0x18, P_NONE | P_66, ANYREG, K_HINT, 0, 0, "prefetch"},
    {0, 1, 0x0d, P_NONE | P_66, 0x02, K_HINT, 0, 0, "prefetchw"},
    {0, 1, 0x1c, P_NONE, 0x01, K_HINT, 0, 0, "cldemote"},
    {0, 1, 0x1f, P_NONE | P_66, 0x01, K_HINT, 0, 0, "nop"},
    /* 66 0F38 90-93: VEX and EVEX gathers; A0-A3: EVEX scatters */
    {1, 2, 0x90, P_66, ANYREG, K_VSIB, 0, 0, "vpgatherdd/dq"},
    {1, 2, 0x91, P_66, ANYREG, K_VSIB, 0, 0, "vpgatherqd/qq"},
    {1, 2, 0x92, P_66, ANYREG, K_VSIB, 0, 0, "vgatherdps/dpd"},
    {1, 2, 0x93, P_66, ANYREG, K_VSIB, 0, 0, "vgatherqps/qpd"},
    {2, 2, 0x90, P_66, ANYREG, K_VSIB, 0, 0, "evex vpgatherdd/dq"},
    {2, 2, 0x91, P_66, ANYREG, K_VSIB, 0, 0, "evex vpgatherqd/qq"},
    {2, 2, 0x92, P_66, ANYREG, K_VSIB, 0, 0, "evex vgatherdps/dpd"},
    {2, 2, 0x93, P_66, ANYREG, K_VSIB, 0, 0, "evex vgatherqps/qpd"},
    {2, 2, 0xa0, P_66, ANYREG, K_VSIB, 0, 0, "vpscatterdd/dq"},
    {2, 2, 0xa1, P_66, ANYREG, K_VSIB, 0, 0, "vpscatterqd/qq"},
    {2, 2, 0xa2, P_66, ANYREG, K_VSIB, 0, 0, "vscatterdps/dpd"},
    {2, 2, 0xa3, P_66, ANYREG, K_VSIB, 0, 0, "vscatterqps/qpd"},
};

static const char *const shift_names[8] = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"};
static const char *const md_names[4] = {"mul", "imul", "div", "idiv"};

void xg_emu_x86_gp2_claim(struct xg_emu_x86_insn *in)
{
	unsigned reg = (in->modrm >> 3) & 7;

	if (!in->has_modrm)
		return;
	for (unsigned i = 0; i < sizeof(gp2_table) / sizeof(gp2_table[0]); i++) {
		const struct gp2_opc *e = &gp2_table[i];
		if (e->enc != in->enc || e->map != in->map || e->opcode != in->opcode ||
		    !((e->pfx >> in->pfx) & 1) || !((e->regs >> reg) & 1))
			continue;
		/* group 15 with mod = 3 is the fences and FSGSBASE, not these */
		if ((e->kind == K_LINE || e->kind == K_FXSAVE) && in->mod == 3)
			return;
		/* vector instructions: the SSE-class device checks (CR0.TS, XCR0) apply */
		if (e->kind == K_VSIB)
			in->flags |= F_SSE;
		in->op = OP_GP2;
		in->aux = (uint16_t)(i | (e->kind == K_SHIFT ? reg << 8 : 0));
		in->name = e->kind == K_SHIFT	 ? shift_names[reg]
			   : e->kind == K_MULDIV ? md_names[reg - 4]
						 : e->name;
		return;
	}
}

/* ---- the features ---- */

/* Where each feature is: CPUID.1:ECX POPCNT 23, MOVBE 22, SSE4.2 20; 1:EDX CLFSH 19;
 * 80000001H:ECX LZCNT (ABM) 5; 7.0:EBX BMI1 3, BMI2 8, ADX 19, CLFLUSHOPT 23, CLWB 24;
 * 7.0:ECX MOVDIRI 27, MOVDIR64B 28 (SDM Vol. 2 CPUID); reg: 0 EAX .. 3 EDX */
static const struct need_bit {
	uint32_t leaf;
	uint8_t reg, bit;
	const char *name;
} need_bits[] = {
    [NEED_POPCNT] = {1, 2, 23, "POPCNT"},
    [NEED_MOVBE] = {1, 2, 22, "MOVBE"},
    [NEED_SSE42] = {1, 2, 20, "SSE4.2"},
    [NEED_ABM] = {0x80000001u, 2, 5, "LZCNT"},
    [NEED_BMI1] = {7, 1, 3, "BMI1"},
    [NEED_BMI2] = {7, 1, 8, "BMI2"},
    [NEED_ADX] = {7, 1, 19, "ADX"},
    [NEED_CLFSH] = {1, 3, 19, "CLFSH"},
    [NEED_CLFLUSHOPT] = {7, 1, 23, "CLFLUSHOPT"},
    [NEED_CLWB] = {7, 1, 24, "CLWB"},
    [NEED_MOVDIRI] = {7, 2, 27, "MOVDIRI"},
    [NEED_MOVDIR64B] = {7, 2, 28, "MOVDIR64B"},
};
#define NNEEDS (sizeof(need_bits) / sizeof(need_bits[0]))

static int host_has(unsigned need)
{
	static int cached; /* bit 0: known; bit n: feature n */
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (!v) {
		v = 1;
		for (unsigned n = 1; n < NNEEDS; n++) {
			const struct need_bit *b = &need_bits[n];
			uint32_t max[4], r[4];
			/* the leaf exists if its range's first leaf says so (leaf 0: 7; 80000000H:
			 * 80000001H, on every 64-bit CPU) */
			xg_emu_x86_host_cpuid(b->leaf & 0x80000000u, 0, max);
			if (max[0] < b->leaf)
				continue;
			xg_emu_x86_host_cpuid(b->leaf, 0, r);
			v |= (int)((r[b->reg] >> b->bit) & 1) << n;
		}
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return need == NEED_NONE || ((v >> need) & 1);
}

/* The guest's CPUID (ops->cpuid): 1 if it reports the feature, 0 if not, -1 if the VMM
 * cannot give it. A VMM without ops->cpuid gives its guest the host's. */
static int guest_has(struct xg_emu_x86_ctx *c, unsigned need)
{
	const struct need_bit *b = &need_bits[need];
	uint32_t max[4] = {0}, r[4] = {0};

	if (need == NEED_NONE || !c->ops->cpuid)
		return host_has(need);
	if (c->ops->cpuid(c->opaque, b->leaf & 0x80000000u, 0, max) < 0 ||
	    (max[0] >= b->leaf && c->ops->cpuid(c->opaque, b->leaf, 0, r) < 0))
		return -1;
	return max[0] >= b->leaf && ((r[b->reg] >> b->bit) & 1);
}

/* Whether a form runs as the host's own instruction (the rest are computed in C) */
static int on_host(const struct gp2_opc *e)
{
	switch (e->kind) {
	case K_BITCNT:
	case K_CRC32:
	case K_ADX:
		return 1;
	case K_BMI:
		return e->sub != B_MULX && e->sub != B_RORX && e->sub != B_SHLX &&
		       e->sub != B_SARX && e->sub != B_SHRX;
	}
	return 0;
}

/*
 * The form's feature: #UD when the guest's CPUID lacks it (each instruction's page in SDM
 * Vol. 2: "#UD if CPUID.(...)[bit] = 0"), else not handled when it runs on the host and the
 * host lacks it (never a SIGILL). 0 to go on, or the status. LZCNT/TZCNT are the caller's.
 */
static int need_ok(struct xg_emu_x86_ctx *c, const struct gp2_opc *e)
{
	int g = guest_has(c, e->need);

	if (g < 0) {
		snprintf(c->res->reason, sizeof(c->res->reason),
			 "the VMM could not give the guest's CPUID (cpuid)");
		return XG_EMU_X86_ERROR;
	}
	if (!g)
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if (on_host(e) && !host_has(e->need)) {
		snprintf(c->res->reason, sizeof(c->res->reason),
			 "not handled: the host CPU lacks %s", need_bits[e->need].name);
		return XG_EMU_X86_NOT_HANDLED;
	}
	return 0;
}

/* in->aux bit: a TZCNT or LZCNT that runs as BSF or BSR (plan decides, exec runs) */
#define AUX_AS_BSX 0x800

/* ---- plan and exec ---- */

static const struct gp2_opc *entry(const struct xg_emu_x86_insn *in)
{
	return &gp2_table[(in->aux & 0xff) % (sizeof(gp2_table) / sizeof(gp2_table[0]))];
}

/* supported()'s answer for a claimed form: what need_ok() would refuse whatever the guest's
 * CPUID says (a form run on the host that the host lacks); LZCNT and TZCNT run as BSR and BSF
 * where the host lacks them, and so are always carried out. */
int xg_emu_x86_gp2_host_ok(const struct xg_emu_x86_insn *in)
{
	const struct gp2_opc *e = entry(in);

	if (e->kind == K_BITCNT && (e->sub == 2 || e->sub == 3))
		return 1;
	return !on_host(e) || host_has(e->need);
}

static unsigned size_index(unsigned size)
{
	return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

static uint64_t mask_of(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static int gp2_plan(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	const struct gp2_opc *e = entry(in);
	unsigned kind = XG_EMU_X86_READ, size = in->opsize;
	int rc;

	if (e->kind == K_MMX)
		return xg_emu_x86_mmx_plan(c);
	if (e->kind == K_VSIB)
		return xg_emu_x86_gather_plan(c);
	if (e->kind == K_FXSAVE)
		return xg_emu_x86_fxsave_plan(c);
	/* PREFETCHW (0F 0D) with a register operand gets here only for an Intel guest, where it
	 * is a NOP: for AMD the decoder has raised #UD (form_ud()). Its CPUID condition
	 * (80000001H ECX[8] 3DNowPrefetch, or EDX bit 29 or 31) holds on every AMD64 CPU:
	 * EDX[29] is long mode. */
	if (e->kind == K_HINT)
		return 0; /* no access, no fault (SDM Vol. 2 PREFETCHh, CLDEMOTE, NOP) */
	if ((e->kind == K_MOVDIR || e->kind == K_LINE) && !in->has_mem)
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	if ((e->kind == K_MOVDIR || e->kind == K_LINE) && (rc = need_ok(c, e)))
		return rc;
	if (e->kind == K_LINE) {
		/* the line's byte is translated for a read (segment, canonical and #PF as for a
		 * byte load: SDM Vol. 2 CLFLUSH) but nothing is read from a device */
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, 1, XG_EMU_X86_READ, 0);
		if (c->nacc)
			c->acc[c->nacc - 1].probe = XG_EMU_X86_PROBE;
		return 0;
	}
	if (e->kind == K_MOVDIR && e->sub == 0) {
		/* MOVDIRI m32/m64, r: a store of the register (SDM Vol. 2 MOVDIRI) */
		in->opsize = size = in->w && in->mode == 64 ? 8 : 4;
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, size, XG_EMU_X86_WRITE, 0);
		return 0;
	}
	if (e->kind == K_MOVDIR) {
		/* MOVDIR64B r, m512: 64 bytes from r/m to ES:[reg] (the register of the address
		 * size; no segment override), one 64-byte store, #GP(0) unless 64-byte aligned
		 * (SDM Vol. 2 MOVDIR64B) */
		uint64_t dst = c->r.gpr[in->reg & 15] & xg_emu_x86_addr_mask(in);
		xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, 64, XG_EMU_X86_READ, 0);
		xg_emu_x86_add_acc(c, dst, XG_EMU_X86_ES, 64, XG_EMU_X86_WRITE, 64);
		/* the alignment #GP comes after the source's #PF (seen on the CPU) */
		if (c->nacc == 2)
			c->acc[1].align = 64;
		return 0;
	}
	if (e->kind == K_BMI) {
		/* VEX-encoded GPR instructions: L = 1 is #UD; W1 picks 64 bits in 64-bit mode
		 * only (SDM Vol. 2 2.5.1, Table 2-29 type 13); RORX has no vvvv operand */
		if (in->vl || (e->sub == B_RORX && in->vvvv_enc))
			return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
		in->opsize = size = in->mode == 64 && in->w ? 8 : 4;
	}
	if (e->kind == K_ADX)
		in->opsize = size = in->w && in->mode == 64 ? 8 : 4; /* 66/F3 are mandatory */
	if (e->kind == K_MOVBE && !in->has_mem)
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0); /* SDM Vol. 2 MOVBE */
	if (e->kind == K_BITCNT && (e->sub == 2 || e->sub == 3)) {
		/* TZCNT without BMI1 is BSF, LZCNT without LZCNT is BSR, on the guest's CPU as
		 * its CPUID says and on the host (exec) */
		int g = guest_has(c, e->need);
		if (g < 0)
			return need_ok(c, e); /* the VMM's failure */
		in->aux = (uint16_t)(in->aux & ~AUX_AS_BSX);
		if (!g || !host_has(e->need))
			in->aux |= AUX_AS_BSX;
	} else if ((rc = need_ok(c, e))) {
		return rc;
	}
	if (!in->has_mem)
		return 0;
	if (e->kind == K_SHIFT || e->kind == K_SHXD)
		kind = XG_EMU_X86_RMW;
	else if (e->kind == K_MOVBE && e->sub == 1)
		kind = XG_EMU_X86_WRITE;
	if (e->kind == K_CRC32 && e->sub == 0)
		size = 1;
	xg_emu_x86_add_acc(c, xg_emu_x86_ea(c), in->seg, size, kind, 0);
	return 0;
}

static uint64_t rm_get(struct xg_emu_x86_ctx *c, unsigned size)
{
	uint64_t v = 0;
	if (c->in->mod == 3)
		return xg_emu_x86_gpr_get(c, c->in->rm, size);
	memcpy(&v, c->mem, size);
	return v;
}

/*
 * A register operand as the host instruction gets it: the whole register for 16, 32 and 64
 * bits (so the instruction itself decides its upper bits), the byte for 8 bits (AH-BH).
 */
static uint64_t reg_full(struct xg_emu_x86_ctx *c, unsigned reg, unsigned size)
{
	return size == 1 ? xg_emu_x86_gpr_get(c, reg, 1) : c->r.gpr[reg & 15];
}

static void reg_put(struct xg_emu_x86_ctx *c, unsigned reg, unsigned size, uint64_t v)
{
	if (size == 1)
		xg_emu_x86_gpr_set(c, reg, 1, v);
	else
		c->r.gpr[reg & 15] = v;
	c->regs_dirty = 1;
}

/* the r/m destination: a register gets the host's whole result, memory its low bytes */
static void rm_put(struct xg_emu_x86_ctx *c, unsigned size, uint64_t v)
{
	if (c->in->mod == 3)
		reg_put(c, c->in->rm, size, v);
	else
		memcpy(c->mem, &v, size);
}

static uint64_t rm_full(struct xg_emu_x86_ctx *c, unsigned size)
{
	return c->in->mod == 3 ? reg_full(c, c->in->rm, size) : rm_get(c, size);
}

/* DIV/IDIV: #DE for a zero divisor or a quotient too large (SDM Vol. 2 DIV, IDIV) */
static int divide_error(unsigned op, unsigned size, uint64_t a, uint64_t d, uint64_t s)
{
	unsigned bits = size * 8;
	uint64_t m = mask_of(size);
	unsigned __int128 hi = size == 1 ? (a >> 8) & 0xff : d & m;
	unsigned __int128 lo = size == 1 ? a & 0xff : a & m;
	__int128 sd, q, lim = (__int128)1 << (bits - 1);
	int64_t sv;

	s &= m;
	if (!s)
		return 1;
	if (op == 2) /* div: the quotient fits when the high half is below the divisor */
		return hi >= s;
	/* idiv: the 2n-bit dividend and the n-bit divisor, signed */
	sd = (__int128)(((hi << bits) | lo) << (128 - 2 * bits)) >> (128 - 2 * bits);
	sv = (int64_t)(s << (64 - bits)) >> (64 - bits);
	if (sv == -1) {
		if (sd == (__int128)((unsigned __int128)1 << 127))
			return 1;
		q = -sd;
	} else {
		q = sd / sv;
	}
	return q > lim - 1 || q < -lim;
}

static int exec_bmi(struct xg_emu_x86_ctx *c, const struct gp2_opc *e)
{
	struct xg_emu_x86_insn *in = c->in;
	unsigned sz = in->opsize, w = sz == 8, bits = sz * 8;
	uint64_t src = rm_get(c, sz), v = c->r.gpr[in->vvvv & 15], m = mask_of(sz), r;
	uint64_t cnt;

	v &= m;
	switch (e->sub) {
	case B_ANDN:
		reg_put(c, in->reg, sz, (w ? andn64 : andn32)(0, v, src, &c->r.rflags));
		return 0;
	case B_PDEP:
		reg_put(c, in->reg, sz, (w ? pdep64 : pdep32)(0, v, src, &c->r.rflags));
		return 0;
	case B_PEXT:
		reg_put(c, in->reg, sz, (w ? pext64 : pext32)(0, v, src, &c->r.rflags));
		return 0;
	case B_BEXTR:
		reg_put(c, in->reg, sz, (w ? bextr64 : bextr32)(0, src, v, &c->r.rflags));
		return 0;
	case B_BZHI:
		reg_put(c, in->reg, sz, (w ? bzhi64 : bzhi32)(0, src, v, &c->r.rflags));
		return 0;
	case B_BLSI:
		reg_put(c, in->vvvv, sz, (w ? blsi64 : blsi32)(0, src, 0, &c->r.rflags));
		return 0;
	case B_BLSMSK:
		reg_put(c, in->vvvv, sz, (w ? blsmsk64 : blsmsk32)(0, src, 0, &c->r.rflags));
		return 0;
	case B_BLSR:
		reg_put(c, in->vvvv, sz, (w ? blsr64 : blsr32)(0, src, 0, &c->r.rflags));
		return 0;
	case B_MULX: {
		/* unsigned rDX * r/m, no flags; the low half to vvvv, then the high half to
		 * reg, so the high half wins when they are the same register (SDM Vol. 2 MULX) */
		unsigned __int128 p = (unsigned __int128)(c->r.gpr[2] & m) * src;
		uint64_t lo = w ? (uint64_t)p : (uint64_t)p & m;
		uint64_t hi = w ? (uint64_t)(p >> 64) : (uint64_t)(p >> 32) & m;
		reg_put(c, in->vvvv, sz, lo);
		reg_put(c, in->reg, sz, hi);
		return 0;
	}
	}
	/* the shifts and the rotate without flags: the count masked to 5 or 6 bits (SDM Vol. 2
	 * SARX/SHLX/SHRX, RORX) */
	cnt = (e->sub == B_RORX ? in->imm : v) & (bits - 1);
	switch (e->sub) {
	case B_RORX:
		r = cnt ? ((src >> cnt) | (src << (bits - cnt))) & m : src;
		break;
	case B_SHLX:
		r = (src << cnt) & m;
		break;
	case B_SHRX:
		r = src >> cnt;
		break;
	default: /* SARX */
		r = (uint64_t)((int64_t)(src << (64 - bits)) >> (64 - bits) >> cnt) & m;
		break;
	}
	reg_put(c, in->reg, sz, r);
	return 0;
}

static int gp2_exec(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	const struct gp2_opc *e = entry(in);
	unsigned sz = in->opsize, si = size_index(sz), sub = e->sub;
	uint64_t *fl = &c->r.rflags, r;

	c->regs_dirty = 1;
	switch (e->kind) {
	case K_SHIFT: {
		unsigned op = in->aux >> 8, b = in->opcode;
		uint64_t cnt = b == 0xc0 || b == 0xc1	? in->imm
			       : b == 0xd0 || b == 0xd1 ? 1
							: c->r.gpr[1];
		uint64_t of = *fl & 0x800;
		cnt &= 0xff;
		r = shift_fn[op][si](rm_full(c, sz), 0, cnt, fl);
		/* Intel: ROL/ROR of a register by an immediate count (masked) other than 1
		 * leave OF as it was, where the CL form and every memory form set it (SDM:
		 * undefined; the vendor list in xg_emu_x86.h) */
		if (b != 0xd2 && b != 0xd3 && op < 2 && in->mod == 3 &&
		    c->vendor == XG_EMU_X86_VENDOR_INTEL && (cnt & (sz == 8 ? 63 : 31)) != 1)
			*fl = (*fl & ~0x800ull) | of;
		rm_put(c, sz, r);
		return 0;
	}
	case K_SHXD: {
		uint64_t cnt = (sub & 2 ? c->r.gpr[1] : in->imm) & 0xff;
		static const n2_fn fn[2][3] = {{shld16, shld32, shld64}, {shrd16, shrd32, shrd64}};
		r = fn[sub & 1][si - 1](rm_full(c, sz), xg_emu_x86_gpr_get(c, in->reg, sz), cnt,
					fl);
		rm_put(c, sz, r);
		return 0;
	}
	case K_MULDIV: {
		unsigned op = ((in->modrm >> 3) & 7) - 4;
		uint64_t a = c->r.gpr[0], d = c->r.gpr[2], s = rm_get(c, sz);
		if (op >= 2 && divide_error(op, sz, a, d, s))
			return xg_emu_x86_exc(c, XG_EMU_X86_DE, 0, 0);
		md_fn_tab[op][si](&a, &d, s, fl);
		c->r.gpr[0] = a;
		c->r.gpr[2] = d;
		return 0;
	}
	case K_IMUL: {
		static const n2_fn fn[3] = {imul216, imul232, imul264};
		uint64_t s = rm_get(c, sz);
		if (sub == 0)
			r = fn[si - 1](reg_full(c, in->reg, sz), s, 0, fl);
		else /* imul r, r/m, imm: the product of r/m and imm into r */
			r = fn[si - 1](s, in->imm & mask_of(sz), 0, fl);
		if (sub == 1 && sz == 2) /* a 16-bit destination keeps its upper bits */
			r = (c->r.gpr[in->reg & 15] & ~0xffffull) | (r & 0xffff);
		reg_put(c, in->reg, sz, r);
		return 0;
	}
	case K_BITCNT: {
		static const n2_fn fn[5][3] = {{bsf16, bsf32, bsf64},
					       {bsr16, bsr32, bsr64},
					       {tzcnt16, tzcnt32, tzcnt64},
					       {lzcnt16, lzcnt32, lzcnt64},
					       {popcnt16, popcnt32, popcnt64}};
		if ((sub == 2 || sub == 3) && (in->aux & AUX_AS_BSX))
			sub -= 2;
		r = fn[sub][si - 1](reg_full(c, in->reg, sz), rm_get(c, sz), 0, fl);
		reg_put(c, in->reg, sz, r);
		return 0;
	}
	case K_MOVBE: {
		/* a byte-reversed move (SDM Vol. 2 MOVBE); a 16-bit load keeps the register's
		 * upper bits, a 32-bit one zeroes them */
		uint64_t v = sub ? xg_emu_x86_gpr_get(c, in->reg, sz) : rm_get(c, sz), o = 0;
		for (unsigned i = 0; i < sz; i++)
			o |= ((v >> (8 * i)) & 0xff) << (8 * (sz - 1 - i));
		if (sub)
			memcpy(c->mem, &o, sz);
		else
			xg_emu_x86_gpr_set(c, in->reg, sz, o);
		return 0;
	}
	case K_CRC32: {
		uint64_t d = c->r.gpr[in->reg & 15];
		if (sub == 0)
			r = (in->w && in->mode == 64 ? crc32bq : crc32b)(d, rm_get(c, 1), 0, fl);
		else if (sz == 2)
			r = crc32w(d, rm_get(c, 2), 0, fl);
		else if (sz == 4)
			r = crc32l(d, rm_get(c, 4), 0, fl);
		else
			r = crc32q(d, rm_get(c, 8), 0, fl);
		c->r.gpr[in->reg & 15] = r;
		return 0;
	}
	case K_ADX: {
		static const n2_fn fn[2][2] = {{adcx32, adcx64}, {adox32, adox64}};
		r = fn[sub][sz == 8](c->r.gpr[in->reg & 15], rm_get(c, sz), 0, fl);
		c->r.gpr[in->reg & 15] = r;
		return 0;
	}
	case K_BMI:
		return exec_bmi(c, e);
	case K_MMX:
		return xg_emu_x86_mmx_exec(c);
	case K_VSIB:
		return xg_emu_x86_gather_exec(c);
	case K_FXSAVE:
		return xg_emu_x86_fxsave_exec(c);
	case K_MOVDIR:
		if (sub == 0)
			memcpy(c->mem, &c->r.gpr[in->reg & 15], sz);
		else
			memcpy(c->mem + 64, c->mem, 64);
		return 0;
	case K_LINE:
	case K_HINT:
		return 0;
	}
	return 0;
}

const struct xg_emu_x86_impl xg_emu_x86_gp2_impl = {gp2_plan, gp2_exec};
