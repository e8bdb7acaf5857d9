/*
 * mk_emu_valid.c - writes core/emu/x86/xg_emu_x86_valid.c: which 0F38/0F3A, VEX and EVEX
 * opcodes exist, with which mandatory prefix, W and vector length.
 *
 * Two sources, united:
 *  1. the host CPU, asked opcode by opcode (the CPU length probe of t_emu_length: an
 *     encoding run with TF set ends in #UD at the instruction, or it does not). Every
 *     (map, opcode, prefix, W, L) is tried with memory forms for each ModRM.reg (the base
 *     register holds a non-canonical address, so a defined form faults #GP, not #UD), a
 *     VSIB form, register forms, and for EVEX mask k0 and k1. Anything that is not #UD
 *     in one of them exists.
 *  2. the list `extra` below: encodings from the SDM (Vol. 2, Appendix A and the
 *     instruction pages), Intel's ISE and AMD's APM Vol. 4 for features a CPU may have
 *     that the host lacks or keeps off at CPL 3 (VMX, CET, Key Locker, AMX, AVX-IFMA,
 *     AVX-VNNI-INT8/16, AVX-NE-CONVERT, SHA512, SM3, SM4, CMPccXADD, RAO-INT, USER_MSR,
 *     Xeon Phi's AVX512ER/4FMAPS/4VNNIW, VP2INTERSECT, AVX10.2, AMD FMA4 and VPERMIL2).
 *     Where a feature's exact W/L rules were not certain, the entry allows every W and L:
 *     the decoder may decode something that is #UD (the test counts it) but never
 *     rejects what some CPU runs.
 * Run on a CPU with as many of the features as possible (the table in tree was made on
 * a Sapphire-Rapids-class Xeon: AVX512-FP16, AMX, AVX-VNNI, GFNI, VAES, SHA).
 *   cc -O2 -o mk tests/emu/mk_emu_valid.c && ./mk > core/emu/x86/xg_emu_x86_valid.c
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define XG_CPU_PROBE_ENTER
#include "cpu_probe.h"

#define PAGE 4096ull

static sigjmp_buf back;
static uint64_t host_fsbase, host_gsbase;
static int out_trap;
static uint64_t out_rip;

static void on_signal(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	__asm__ volatile("wrfsbase %0" ::"r"(host_fsbase));
	__asm__ volatile("wrgsbase %0" ::"r"(host_gsbase));
	(void)si;
	(void)sig;
	out_trap = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	out_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	siglongjmp(back, 1);
}

static uint8_t *code, *stackp;
static struct probe_in pin __attribute__((aligned(16)));

/* 1 if the 15 bytes at b end in #UD at the instruction */
static int is_ud(const uint8_t *b)
{
	uint8_t *at = code + PAGE - 15;

	memcpy(at, b, 15);
	memset(stackp, 0, PAGE);
	for (unsigned i = 0; i < 15; i++)
		pin.pop[i] = 0x80000000fffffff0ull + 16 * i;
	pin.rip = (uint64_t)(uintptr_t)at;
	pin.cs = 0x33;
	pin.rflags = 0x302;
	pin.rsp = (uint64_t)(uintptr_t)stackp + PAGE / 2;
	pin.ss = 0x2b;
	pin.fsbase = pin.gsbase = (uint64_t)(uintptr_t)stackp - 16 * PAGE;
	out_trap = -1;
	if (!sigsetjmp(back, 0))
		xg_probe_enter(&pin);
	return out_trap == 6 && out_rip == (uint64_t)(uintptr_t)at;
}

/* ModRM forms tried: memory [rax] with each reg, VSIB [rax+xmm0], register forms */
static int try_forms(uint8_t *b, unsigned at)
{
	for (unsigned r = 0; r < 8; r++) {
		memset(b + at, 0, 15 - at);
		b[at] = (uint8_t)(r << 3); /* mod 0, rm 0: [rax] */
		if (!is_ud(b))
			return 1;
		b[at] = (uint8_t)((r << 3) | 4); /* [rax + index] (VSIB: not the destination) */
		b[at + 1] = (uint8_t)(((r + 3) & 7) << 3);
		if (!is_ud(b))
			return 1;
		b[at + 1] = 0;
		b[at] = (uint8_t)(0xc0 | (r << 3) | ((r + 1) & 7)); /* registers */
		if (!is_ud(b))
			return 1;
		b[at] = (uint8_t)(0xc0 | (r << 3) | ((r + 2) & 7));
		if (!is_ud(b))
			return 1;
	}
	return 0;
}

/* the forms of a defined opcode: bits 0-7 the ModRM.reg values some form takes, bit 8 a
 * memory form exists, bit 9 a register form, bit 10 a form with VEX/EVEX.vvvv naming register 1
 * (k15 or a 16th register does not always exist) */
#define FORM_MEM  (1u << 8)
#define FORM_REG  (1u << 9)
#define FORM_VVVV (1u << 10)
#define FORM_BMEM (1u << 11) /* EVEX.b = 1 with a memory form (broadcast) */
#define FORM_BREG (1u << 12) /* EVEX.b = 1 with a register form (rounding, SAE) */
#define FORM_Z	  (1u << 13) /* EVEX.z = 1 */
#define FORM_MASK (1u << 14) /* EVEX.aaa != 0 */
#define FORM_ANY  0x7fffu

/* FORM_MEM and FORM_REG for ModRM.reg = r: [rax], [rax + index] (a VSIB index other than
 * the destination and the mask), two register forms */
static unsigned try_r(uint8_t *b, unsigned at, unsigned r)
{
	unsigned got = 0;

	memset(b + at, 0, 15 - at);
	b[at] = (uint8_t)(r << 3);
	if (!is_ud(b))
		got |= FORM_MEM;
	b[at] = (uint8_t)((r << 3) | 4);
	b[at + 1] = (uint8_t)(((r + 3) & 7) << 3);
	if (!is_ud(b))
		got |= FORM_MEM;
	b[at + 1] = 0;
	b[at] = (uint8_t)(0xc0 | (r << 3) | ((r + 1) & 7));
	if (!is_ud(b))
		got |= FORM_REG;
	b[at] = (uint8_t)(0xc0 | (r << 3) | ((r + 2) & 7));
	if (!is_ud(b))
		got |= FORM_REG;
	return got;
}

/* the forms that are not #UD; vp: the VEX/EVEX byte with vvvv (or NULL); p2: EVEX's P2
 * (or NULL), whose aaa is set by the caller: b and z are tried here */
static unsigned forms(uint8_t *b, unsigned at, uint8_t *vp, uint8_t *p2)
{
	unsigned f = 0;

	for (unsigned v = 0; v < (vp ? 2u : 1u); v++) {
		if (vp)
			*vp = (uint8_t)(v ? (*vp & ~0x78) | 0x70 : *vp | 0x78); /* vvvv 1 or 0 */
		for (unsigned r = 0; r < 8; r++) {
			unsigned got = try_r(b, at, r), t;
			if (p2) {
				*p2 |= 0x10; /* b: broadcast, or rounding/SAE in a register form */
				t = try_r(b, at, r);
				got |= t | (t & FORM_MEM ? FORM_BMEM : 0) |
				       (t & FORM_REG ? FORM_BREG : 0);
				*p2 &= (uint8_t)~0x10;
				if (*p2 & 7) {
					*p2 |= 0x80; /* z: zeroing-masking */
					t = try_r(b, at, r);
					got |= t | (t ? FORM_Z : 0);
					*p2 &= 0x7f;
				}
				if ((*p2 & 7) && (got & (FORM_MEM | FORM_REG)))
					got |= FORM_MASK;
			}
			if (got & (FORM_MEM | FORM_REG))
				f |= got | (1u << r) | (v ? FORM_VVVV : 0);
		}
	}
	if (vp)
		*vp |= 0x78;
	return f;
}

static uint16_t form_leg[3][256][4], form_vex[3][256][4], form_evex[6][256][4];
static uint8_t leg[3][256]; /* [0F38, 0F3A, 0F][op]: bit pfx (none 66 F3 F2) */

/* the 0F opcodes judged: the SIMD rows, where the prefix is part of the opcode (SDM Vol. 2
 * Table A-3); the rest of 0F (system, VMX, SMX, 3DNow!, hints) is left to the decoder */
static int simd_0f(unsigned op)
{
	return (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) ||
	       (op >= 0x50 && op <= 0x7f) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6) || op >= 0xd0;
}
static uint16_t vex[3][256];  /* [map-1][op]: bit pfx*4 + W*2 + L */
static uint32_t evex[6][256]; /* [map-1][op]: bit pfx*8 + W*4 + L'L */

/* the second source: [space, map, opcode, prefixes, W/L mask] */
enum { S_LEG = 0, S_VEX, S_EVEX };
#define P_NP  1u
#define P_66  2u
#define P_F3  4u
#define P_F2  8u
#define P_ALL 15u
/* VEX: bit W*2 + L; EVEX: bit W*4 + L'L */
#define V_ALL  15u
#define V_W0L0 1u
#define V_W0   3u
#define V_W1   12u
#define V_W0L1 2u
#define E_ALL  0x77u /* L'L 0-2, either W */
#define E_W0   0x07u
#define E_W1   0x70u
#define E_W0L2 0x04u
static const struct {
	uint8_t space, map, op_lo, op_hi, pfx;
	uint8_t wl;
} extra[] = {
    /* legacy 0F (SIMD rows only are judged) */
    {S_LEG, 1, 0x2b, 0x2b, P_F3 | P_F2, 0}, /* AMD SSE4a MOVNTSS, MOVNTSD */
    {S_LEG, 1, 0x78, 0x79, P_ALL, 0},	    /* VMREAD/VMWRITE (VMX), AMD SSE4a EXTRQ/INSERTQ */
    /* legacy 0F38 */
    {S_LEG, 2, 0x80, 0x82, P_66, 0},		   /* INVEPT, INVVPID, INVPCID (VMX: #UD outside) */
    {S_LEG, 2, 0xd8, 0xd8, P_F3, 0},		   /* Key Locker AESENC/DECWIDE*KL */
    {S_LEG, 2, 0xdc, 0xdf, P_F3, 0},		   /* Key Locker AESENC/DEC128/256KL */
    {S_LEG, 2, 0xfa, 0xfb, P_F3, 0},		   /* Key Locker ENCODEKEY128/256 */
    {S_LEG, 2, 0xf5, 0xf5, P_66, 0},		   /* WRUSSD/Q (CET) */
    {S_LEG, 2, 0xf6, 0xf6, P_NP | P_66 | P_F3, 0}, /* WRSSD/Q (CET), ADCX, ADOX */
    {S_LEG, 2, 0xf8, 0xf8, P_ALL, 0},		   /* MOVDIR64B, ENQCMD(S), URDMSR/UWRMSR */
    {S_LEG, 2, 0xf9, 0xf9, P_NP, 0},		   /* MOVDIRI */
    {S_LEG, 2, 0xfc, 0xfc, P_ALL, 0},		   /* RAO-INT AADD AAND AOR AXOR */
    {S_LEG, 2, 0xf0, 0xf1, P_NP | P_66 | P_F2, 0}, /* MOVBE, CRC32 */
    /* VEX 0F38 */
    {S_VEX, 2, 0x48, 0x4f, P_ALL, V_W0L0},	      /* AMX tile config, loads, stores, zero */
    {S_VEX, 2, 0x5c, 0x5f, P_ALL, V_W0L0},	      /* AMX dot products (BF16, FP16, INT8) */
    {S_VEX, 2, 0x6a, 0x6f, P_ALL, V_W0L0},	      /* AMX-COMPLEX, AMX transpose/movrs */
    {S_VEX, 2, 0x50, 0x53, P_ALL, V_W0},	      /* AVX-VNNI, AVX-VNNI-INT8 */
    {S_VEX, 2, 0xd2, 0xd3, P_NP | P_66 | P_F3, V_W0}, /* AVX-VNNI-INT16 */
    {S_VEX, 2, 0x72, 0x72, P_F3, V_W0},		      /* AVX-NE-CONVERT VCVTNEPS2BF16 */
    {S_VEX, 2, 0xb0, 0xb1, P_ALL, V_W0},	      /* AVX-NE-CONVERT */
    {S_VEX, 2, 0xb4, 0xb5, P_66, V_W1},		      /* AVX-IFMA */
    {S_VEX, 2, 0xcb, 0xcd, P_F2, V_W0},		      /* SHA512 */
    {S_VEX, 2, 0xda, 0xda, P_ALL, V_W0},	      /* SM3MSG1/2, SM4KEY4, SM4RNDS4 */
    {S_VEX, 2, 0xe0, 0xef, P_66, V_ALL},	      /* CMPccXADD */
    /* VEX 0F3A */
    {S_VEX, 3, 0xde, 0xde, P_66, V_W0},	 /* VSM3RNDS2 */
    {S_VEX, 3, 0x48, 0x49, P_66, V_ALL}, /* AMD VPERMIL2PS/PD */
    {S_VEX, 3, 0x5c, 0x5f, P_66, V_ALL}, /* AMD FMA4 */
    {S_VEX, 3, 0x68, 0x6f, P_66, V_ALL}, /* AMD FMA4 */
    {S_VEX, 3, 0x78, 0x7f, P_66, V_ALL}, /* AMD FMA4 */
    /* EVEX 0F38 */
    {S_EVEX, 2, 0x52, 0x53, P_ALL, E_ALL}, /* AVX512_4VNNIW, AVX10.2 VDPPHPS, VNNI-INT8 */
    {S_EVEX, 2, 0x50, 0x51, P_ALL, E_ALL}, /* AVX10.2 VPDPB[SU,UU,SS]D(S) */
    {S_EVEX, 2, 0xd2, 0xd3, P_ALL, E_ALL}, /* AVX10.2 VPDPW[SU,US,UU]D(S) */
    {S_EVEX, 2, 0x9a, 0x9b, P_F2, E_ALL},  /* AVX512_4FMAPS */
    {S_EVEX, 2, 0xaa, 0xab, P_F2, E_ALL},  /* AVX512_4FMAPS */
    {S_EVEX, 2, 0xc6, 0xcd, P_66, E_ALL},  /* AVX512PF, AVX512ER */
    {S_EVEX, 2, 0x68, 0x68, P_F2, E_ALL},  /* VP2INTERSECTD/Q */
    {S_EVEX, 2, 0x67, 0x67, P_ALL, E_ALL}, /* AVX10.2 VCVT2PS2PHX */
    {S_EVEX, 2, 0x74, 0x74, P_ALL, E_ALL}, /* AVX10.2 FP8 converts */
    {S_EVEX, 2, 0x6c, 0x6d, P_ALL, E_ALL}, /* AVX10.2 saturating converts */
    {S_EVEX, 2, 0xb0, 0xb1, P_ALL, E_ALL}, /* AVX10.2 / NE-CONVERT forms */
    /* EVEX 0F */
    {S_EVEX, 1, 0x2e, 0x2f, P_ALL, E_ALL}, /* AVX10.2 VCOMX/VUCOMX */
    {S_EVEX, 1, 0x7e, 0x7e, P_F3, E_ALL},  /* AVX10.2 VMOVD/Q zero-extending */
    {S_EVEX, 1, 0xd6, 0xd6, P_F3, E_ALL},  /* AVX10.2 */
    /* EVEX 0F3A */
    {S_EVEX, 3, 0x08, 0x08, P_ALL, E_ALL}, /* AVX10.2 VRNDSCALEBF16 */
    {S_EVEX, 3, 0x26, 0x27, P_ALL, E_ALL}, /* AVX10.2 VGETMANTBF16 */
    {S_EVEX, 3, 0x42, 0x42, P_ALL, E_ALL}, /* AVX10.2 VMPSADBW */
    {S_EVEX, 3, 0x52, 0x53, P_ALL, E_ALL}, /* AVX10.2 VMINMAX */
    {S_EVEX, 3, 0x56, 0x57, P_ALL, E_ALL}, /* AVX10.2 VREDUCEBF16 */
    {S_EVEX, 3, 0x66, 0x67, P_ALL, E_ALL}, /* AVX10.2 VFPCLASSBF16 */
    {S_EVEX, 3, 0xc2, 0xc2, P_ALL, E_ALL}, /* AVX10.2 VCMPBF16 */
};

int main(void)
{
	uint8_t b[15];
	uint8_t *res;

	code = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	res = mmap(NULL, 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (code == MAP_FAILED || res == MAP_FAILED || mprotect(code + PAGE, PAGE, PROT_NONE))
		return 1;
	stackp = res + 32 * PAGE;
	if (mprotect(stackp, PAGE, PROT_READ | PROT_WRITE))
		return 1;
	if (xg_probe_signals(on_signal))
		return 1;
	__asm__ volatile("rdfsbase %0" : "=r"(host_fsbase));
	__asm__ volatile("rdgsbase %0" : "=r"(host_gsbase));

	static const uint8_t pfxb[4] = {0, 0x66, 0xf3, 0xf2};
	for (unsigned m = 0; m < 3; m++)
		for (unsigned op = 0; op < 256; op++)
			for (unsigned p = 0; p < 4; p++) {
				unsigned n = 0;
				if (m == 2 && !simd_0f(op)) {
					leg[m][op] = 15;
					continue;
				}
				if (p)
					b[n++] = pfxb[p];
				b[n++] = 0x0f;
				if (m < 2)
					b[n++] = m ? 0x3a : 0x38;
				b[n++] = (uint8_t)op;
				if (try_forms(b, n))
					leg[m][op] |= (uint8_t)(1u << p);
			}
	for (unsigned m = 1; m <= 3; m++)
		for (unsigned op = 0; op < 256; op++)
			for (unsigned p = 0; p < 4; p++)
				for (unsigned wl = 0; wl < 4; wl++) {
					b[0] = 0xc4;
					b[1] = (uint8_t)(0xe0 | m);
					b[2] = (uint8_t)(((wl >> 1) << 7) | 0x78 | ((wl & 1) << 2) |
							 p);
					b[3] = (uint8_t)op;
					if (try_forms(b, 4))
						vex[m - 1][op] |= (uint16_t)(1u << (p * 4 + wl));
				}
	for (unsigned m = 1; m <= 6; m++) {
		if (m == 4)
			continue;
		for (unsigned op = 0; op < 256; op++)
			for (unsigned p = 0; p < 4; p++)
				for (unsigned w = 0; w < 2; w++)
					for (unsigned l = 0; l < 4; l++)
						for (unsigned k = 0; k < 2; k++) {
							b[0] = 0x62;
							b[1] = (uint8_t)(0xf0 | m);
							b[2] = (uint8_t)((w << 7) | 0x7c | p);
							b[3] = (uint8_t)((l << 5) | 8 | k);
							b[4] = (uint8_t)op;
							if (try_forms(b, 5)) {
								evex[m - 1][op] |=
								    1u << (p * 8 + w * 4 + l);
								break;
							}
						}
	}
	/* forms, for each defined (map, opcode, prefix): over its defined W/L (and k0, k1) */
	for (unsigned m = 0; m < 3; m++)
		for (unsigned op = 0; op < 256; op++)
			for (unsigned p = 0; p < 4; p++) {
				unsigned n = 0;
				if (!(leg[m][op] >> p & 1))
					continue;
				if (m == 2 && !simd_0f(op)) {
					form_leg[m][op][p] = FORM_ANY;
					continue;
				}
				if (p)
					b[n++] = pfxb[p];
				b[n++] = 0x0f;
				if (m < 2)
					b[n++] = m ? 0x3a : 0x38;
				b[n++] = (uint8_t)op;
				form_leg[m][op][p] = forms(b, n, NULL, NULL);
			}
	for (unsigned m = 1; m <= 3; m++)
		for (unsigned op = 0; op < 256; op++)
			for (unsigned p = 0; p < 4; p++)
				for (unsigned wl = 0; wl < 4; wl++) {
					if (!(vex[m - 1][op] >> (p * 4 + wl) & 1))
						continue;
					b[0] = 0xc4;
					b[1] = (uint8_t)(0xe0 | m);
					b[2] = (uint8_t)(((wl >> 1) << 7) | 0x78 | ((wl & 1) << 2) |
							 p);
					b[3] = (uint8_t)op;
					form_vex[m - 1][op][p] |= forms(b, 4, &b[2], NULL);
				}
	for (unsigned m = 1; m <= 6; m++)
		for (unsigned op = 0; op < 256; op++)
			for (unsigned p = 0; p < 4; p++)
				for (unsigned wl = 0; wl < 8; wl++)
					for (unsigned k = 0; k < 2; k++) {
						if (!(evex[m - 1][op] >> (p * 8 + wl) & 1))
							continue;
						b[0] = 0x62;
						b[1] = (uint8_t)(0xf0 | m);
						b[2] = (uint8_t)(((wl >> 2) << 7) | 0x7c | p);
						b[3] = (uint8_t)(((wl & 3) << 5) | 8 | k);
						b[4] = (uint8_t)op;
						form_evex[m - 1][op][p] |=
						    forms(b, 5, &b[2], &b[3]);
					}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		for (unsigned op = extra[i].op_lo; op <= extra[i].op_hi; op++)
			for (unsigned p = 0; p < 4; p++) {
				if (!(extra[i].pfx >> p & 1))
					continue;
				if (extra[i].space == S_LEG) {
					unsigned li = extra[i].map == 1 ? 2 : extra[i].map - 2u;
					leg[li][op] |= (uint8_t)(1u << p);
					form_leg[li][op][p] = FORM_ANY;
				} else if (extra[i].space == S_VEX) {
					vex[extra[i].map - 1][op] |=
					    (uint16_t)(extra[i].wl << (p * 4));
					form_vex[extra[i].map - 1][op][p] = FORM_ANY;
				} else {
					evex[extra[i].map - 1][op] |= (uint32_t)extra[i].wl
								      << (p * 8);
					form_evex[extra[i].map - 1][op][p] = FORM_ANY;
				}
			}

	printf(
	    "/*\n * xg_emu_x86_valid.c - which 0F38/0F3A, VEX and EVEX opcodes exist, with which\n"
	    " * mandatory prefix, W and vector length. GENERATED by tests/emu/mk_emu_valid.c (the\n"
	    " * host CPU's answer united with a list from the SDM Vol. 2 Appendix A, Intel's ISE\n"
	    " * and AMD's APM Vol. 4; see there); do not edit, regenerate.\n */\n");
	printf("#include \"xg_emu_x86_int.h\"\n\n/* clang-format off */\n");
	printf("/* [0F38, 0F3A, 0F][opcode]: bit p set if prefix p (none, 66, F3, F2) is defined;\n"
	       " * in 0F only the SIMD rows are judged, the rest is 0xf */\n");
	printf("const uint8_t xg_emu_x86_valid_leg[3][256] = {\n");
	for (unsigned m = 0; m < 3; m++) {
		printf("\t{");
		for (unsigned op = 0; op < 256; op++)
			printf("%s0x%x,", op % 16 ? " " : "\n\t\t", leg[m][op]);
		printf("\n\t},\n");
	}
	printf("};\n\n/* [map - 1][opcode]: bit pfx * 4 + W * 2 + L set if defined */\n");
	printf("const uint16_t xg_emu_x86_valid_vex[3][256] = {\n");
	for (unsigned m = 0; m < 3; m++) {
		printf("\t{");
		for (unsigned op = 0; op < 256; op++)
			printf("%s0x%x,", op % 8 ? " " : "\n\t\t", vex[m][op]);
		printf("\n\t},\n");
	}
	printf("};\n\n/* [map - 1][opcode]: bit pfx * 8 + W * 4 + L'L set if defined (map 4 empty) "
	       "*/\n");
	printf("const uint32_t xg_emu_x86_valid_evex[6][256] = {\n");
	for (unsigned m = 0; m < 6; m++) {
		printf("\t{");
		for (unsigned op = 0; op < 256; op++)
			printf("%s0x%x,", op % 8 ? " " : "\n\t\t", evex[m][op]);
		printf("\n\t},\n");
	}
	printf(
	    "};\n\n/* forms of a defined opcode, [0F38, 0F3A, VEX 1-3, EVEX 1-6, 0F][opcode][pfx]: "
	    "bits 0-7 the ModRM.reg\n"
	    " * values allowed, 8 memory forms, 9 register forms, 10 vvvv other than 1111b; EVEX:\n"
	    " * 11 b with memory, 12 b with registers, 13 z, 14 aaa other than 0 */\n");
	printf("const uint16_t xg_emu_x86_valid_form[12][256][4] = {\n");
	for (unsigned s = 0; s < 12; s++) {
		printf("\t{ /* %s */", s < 2	? (s ? "0F3A" : "0F38")
				       : s < 5	? "VEX"
				       : s < 11 ? "EVEX"
						: "0F");
		for (unsigned op = 0; op < 256; op++) {
			const uint16_t *f = s < 2    ? form_leg[s][op]
					    : s < 5  ? form_vex[s - 2][op]
					    : s < 11 ? form_evex[s - 5][op]
						     : form_leg[2][op];
			printf("%s{0x%x, 0x%x, 0x%x, 0x%x},", op % 4 ? " " : "\n\t\t", f[0], f[1],
			       f[2], f[3]);
		}
		printf("\n\t},\n");
	}
	printf("};\n");
	return 0;
}
