/*
 * xg_emu_x86_stub.c - SSE/AVX/AVX-512 arithmetic, logic, compares, shuffles, permutes and
 * converts, run natively on the host in a generated stub.
 *
 * The emulator makes the memory access itself (the usual stages: alignment, segments,
 * translation, faults, masks, MMIO through ops), then runs the operation on the host CPU: the
 * same instruction, its memory operand replaced by a host buffer ([rsi]), with the guest's
 * vector state loaded into the host registers (XRSTOR of the guest's XSAVE image) and saved
 * back after it (XSAVE). One mechanism covers each class exactly, as the CPU computes it:
 * rounding, NaN propagation, denormals, DAZ/FTZ, masking and zeroing, embedded broadcast,
 * rounding control and SAE. Xen's x86_emulate does SIMD the same way.
 *
 * What may run. Only classes of this file's allow-list (stub_classes[], by map, opcode and
 * mandatory prefix, with the encodings, W and the CPU feature of each) are stubbed, and the
 * stub is re-encoded from the decoded, validated fields: prefixes and VEX/EVEX fields rebuilt
 * from the decoded register numbers, W, L'L, b, z, aaa; the opcode and map of a listed class;
 * ModRM with mod = 00 and rm = [rsi] (or the decoded register); the imm8. No guest byte is
 * copied into the stub. A GPR operand (cvtsi2ss, cvtss2si) is renumbered to RAX.
 *
 * Features. The host must have the class's feature (CPUID and XCR0): if it does not, the
 * instruction is "not handled: the host CPU lacks X" (never a SIGILL). The guest must have it
 * in its CPUID (ops->cpuid; the host's CPUID when the VMM gives none): if not, #UD as its CPU
 * would raise.
 *
 * MXCSR (SDM Vol. 1 11.5, Vol. 3A 6.15 #XM). The stub runs with the guest's rounding, DAZ
 * and FTZ but every exception masked and the flags clear; then the flags say what the guest's
 * CPU would have done: an unmasked pre-computation exception (invalid, denormal, divide by
 * zero) sets the pre-computation flags only; otherwise an unmasked post-computation one
 * (overflow, underflow, precision) sets every flag found; either is #XM (#UD when
 * CR4.OSXMMEXCPT = 0), with nothing written but those MXCSR flags (the CPU sets them before the
 * exception: SDM Vol. 1 11.5.1). Unmasked underflow fires on a tiny result even when exact,
 * which the masked run does not flag: a second run with FTZ = 1 (which flags every tiny
 * result) decides it, and for FP16 (which ignores FTZ) a denormal result. With an unmasked
 * overflow or underflow the CPU sets PE by the result rounded to an unbounded exponent, which
 * no run shows: when the masked run found PE that instruction is not handled (it depends on
 * the state, not the bytes: supported() cannot tell). dpps/dppd (two stages of exceptions)
 * are not stubbed. Otherwise the flags are merged into the guest's MXCSR. An EVEX register
 * form with b = 1 ({er}, {sae}) raises none.
 *
 * Stubs (W^X, bounded, thread-safe). The stubs live in one page of a memfd mapped twice: once
 * read/write (never executable) and once read/execute (never writable). Each emulation
 * claims a 32-byte slot with an atomic bitmap, writes at most 16 bytes of code (the
 * instruction and a RET) through the RW view, calls it through the RX view, and releases it:
 * vCPU threads emulate concurrently without a lock. The writer of a slot is the thread that
 * executes it (no cross-modifying code, SDM Vol. 3A 9.1.3); a thread goes back to its last
 * slot and rewrites it only when the code differs. A forked child maps a page of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#undef F_LOCK /* lockf()'s, from unistd.h; the emulator's flag of that name is meant below */
#include "xg_emu_x86_int.h"

/* ---- features ---- */

enum {
	FT_NONE = 0,
	FT_SSE,
	FT_SSE2,
	FT_SSE3,
	FT_SSSE3,
	FT_SSE41,
	FT_SSE42,
	FT_AVX,
	FT_AVX2,
	FT_FMA,
	FT_F, /* AVX512F */
	FT_BW,
	FT_DQ,
	FT_VL,
	FT_FP16, /* AVX512-FP16 */
	FT_F16C,
	FT_N
};
static const char *const ft_name[FT_N] = {
    "?",   "SSE",  "SSE2", "SSE3",    "SSSE3",	  "SSE4.1",   "SSE4.2",
    "AVX", "AVX2", "FMA",  "AVX512F", "AVX512BW", "AVX512DQ", "AVX512VL",
};

/* CPUID bits of each feature (SDM Vol. 2 CPUID, Tables 3-10, 3-11 and leaf 07H) */
static uint32_t features_from(const uint32_t l1[4], const uint32_t l7[4], uint64_t xcr0)
{
	uint32_t f = 0;
	int avx_os = (xcr0 & 6) == 6, avx512_os = (xcr0 & 0xe6) == 0xe6;

	if (l1[3] & (1u << 25))
		f |= 1u << FT_SSE;
	if (l1[3] & (1u << 26))
		f |= 1u << FT_SSE2;
	if (l1[2] & (1u << 0))
		f |= 1u << FT_SSE3;
	if (l1[2] & (1u << 9))
		f |= 1u << FT_SSSE3;
	if (l1[2] & (1u << 19))
		f |= 1u << FT_SSE41;
	if (l1[2] & (1u << 20))
		f |= 1u << FT_SSE42;
	if ((l1[2] & (1u << 28)) && avx_os)
		f |= 1u << FT_AVX;
	if ((l1[2] & (1u << 12)) && avx_os)
		f |= 1u << FT_FMA;
	if ((l1[2] & (1u << 29)) && avx_os)
		f |= 1u << FT_F16C;
	if ((l7[1] & (1u << 5)) && avx_os)
		f |= 1u << FT_AVX2;
	if (avx512_os) {
		if (l7[1] & (1u << 16))
			f |= 1u << FT_F;
		if (l7[1] & (1u << 17))
			f |= 1u << FT_DQ;
		if (l7[1] & (1u << 30))
			f |= 1u << FT_BW;
		if (l7[1] & (1u << 31))
			f |= 1u << FT_VL;
		if (l7[3] & (1u << 23))
			f |= 1u << FT_FP16;
	}
	return f;
}

static struct {
	pthread_once_t once;
	uint32_t feat;
	uint64_t xcr0;
	uint32_t mxcsr_mask;
	uint8_t *rw;	   /* the stub page, writable view */
	const uint8_t *rx; /* the same page, executable view */
	int map_err;
} host = {PTHREAD_ONCE_INIT, 0, 0, 0, NULL, NULL, 0};

#define STUB_SLOT  32
#define STUB_SLOTS (4096 / STUB_SLOT)
static uint64_t slot_busy[STUB_SLOTS / 64];

/* The stub page: a memfd mapped twice, read/write and read/execute (never both). */
static void stub_page(void)
{
	uint8_t *rw, *rx;
	int fd = memfd_create("exitgate-simd-stubs", MFD_CLOEXEC);

	host.rw = NULL;
	host.rx = NULL;
	if (fd < 0 || ftruncate(fd, 4096)) {
		host.map_err = errno;
		if (fd >= 0)
			close(fd);
		return;
	}
	rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rx = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	host.map_err = errno;
	close(fd);
	if (rw == MAP_FAILED || rx == MAP_FAILED) {
		if (rw != MAP_FAILED)
			munmap(rw, 4096);
		if (rx != MAP_FAILED)
			munmap(rx, 4096);
		return;
	}
	memset(rw, 0xcc, 4096);
	host.map_err = 0;
	host.rw = rw;
	host.rx = rx;
}

/* In a forked child (one thread, no emulation in flight): the parent's views go, a page of
 * its own comes. */
static void stub_page_child(void)
{
	if (host.rw)
		munmap(host.rw, 4096);
	if (host.rx)
		munmap((void *)host.rx, 4096);
	memset(slot_busy, 0, sizeof(slot_busy));
	stub_page();
}

static void host_init(void)
{
	uint32_t l0[4], l1[4] = {0}, l7[4] = {0};
	uint8_t fx[512] __attribute__((aligned(16)));

	xg_emu_x86_host_cpuid(0, 0, l0);
	xg_emu_x86_host_cpuid(1, 0, l1);
	if (l0[0] >= 7)
		xg_emu_x86_host_cpuid(7, 0, l7);
	if (l1[2] & (1u << 27)) { /* OSXSAVE: XGETBV is allowed */
		uint32_t a, d;
		__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
		host.xcr0 = ((uint64_t)d << 32) | a;
	}
	host.feat = features_from(l1, l7, host.xcr0);
	/* XSAVE/XRSTOR are what the stubs need from the host's OS */
	if (!(l1[2] & (1u << 27)) || !(host.xcr0 & 2))
		host.feat = 0;
	/* MXCSR_MASK, SDM Vol. 1 11.6.6: 0 in the FXSAVE image means 0xffbf */
	memset(fx, 0, sizeof(fx));
	__asm__ volatile("fxsave64 %0" : "=m"(fx));
	memcpy(&host.mxcsr_mask, fx + 28, 4);
	if (!host.mxcsr_mask)
		host.mxcsr_mask = 0xffbf;

	stub_page();
	/* the page is shared memory: a forked child gets a page of its own, or parent and
	 * child would write each other's stubs */
	pthread_atfork(NULL, NULL, stub_page_child);
}

/* ---- the allow-list ---- */

/* memory operand shapes: how many bytes a form reads (SDM Vol. 2 2.7.5 tuple types) */
enum {
	MS_FULL = 0, /* the vector length (FV, FVM) */
	MS_HALF,     /* HV, HVM */
	MS_QUARTER,  /* QVM */
	MS_EIGHTH,   /* OVM */
	MS_SCALAR,   /* one element (T1S) */
	MS_M128,     /* 16 bytes whatever the length (shift counts) */
	MS_GPR,	     /* 4 bytes, 8 with W in 64-bit mode (cvtsi2ss/sd) */
};

/* EVEX/VEX W rules */
enum {
	W_IG = 0, /* W ignored; the element size is esz */
	W_0,	  /* only W0 is this class (W1 is another instruction, or #UD) */
	W_1,
	W_48, /* W0: 4-byte elements, W1: 8-byte ones */
	W_12, /* W0: bytes, W1: words */
};

#define C_FP	  (1u << 0)  /* a floating-point operation: MXCSR rounding, flags, exceptions */
#define C_NF	  (1u << 1)  /* EVEX: no memory fault suppression, the whole operand is read */
#define C_KDST	  (1u << 2)  /* EVEX: the destination is an opmask (compare into k) */
#define C_GDST	  (1u << 3)  /* ModRM.reg is a GPR destination */
#define C_GSRC	  (1u << 4)  /* ModRM.rm is a GPR source (register form) */
#define C_FLAGS	  (1u << 5)  /* writes OF SF ZF AF PF CF (comis, ptest, pcmpstr) */
#define C_NOALIGN (1u << 6)  /* legacy SSE m128 without the alignment check */
#define C_STR	  (1u << 7)  /* pcmpestr/pcmpistr: EAX/EDX in, ECX (or XMM0) out */
#define C_IS4	  (1u << 8)  /* imm8[7:4] names a register (vblendv) */
#define C_INT	  (1u << 9)  /* VEX: the 256-bit form needs AVX2 */
#define C_XMM0	  (1u << 10) /* legacy: XMM0 is an implicit operand (blendv) */
#define C_NOVVVV  (1u << 11) /* VEX/EVEX.vvvv unused: must be 1111b (and V' 1), else #UD */
#define C_NOBC	  (1u << 12) /* EVEX: dword/qword elements but no embedded broadcast */
#define C_NARROW  (1u << 13) /* FP results half the source element (cvtpd2ps, cvtsd2ss) */
#define C_NOUF	  (1u << 14) /* FP16 min/max: a denormal result is an operand, not an underflow */

struct stub_class {
	uint8_t map, op, pfx;
	uint8_t leg, vex, evex; /* the feature of each encoding, FT_NONE: not this class */
	uint8_t vw, ew;		/* W rules, VEX and EVEX */
	uint8_t esz;		/* element size (W_48: at W0) */
	uint8_t shape;
	uint16_t fl;
	const char *name;
};

/* shorthands: map 1 = 0F, 2 = 0F38, 3 = 0F3A; prefix slot 0 none, 1 66, 2 F3, 3 F2 */
#define S(map, op, pfx, leg, vex, evex, vw, ew, esz, shape, fl, name)                              \
	{                                                                                          \
		map, op, pfx, leg, vex, evex, vw, ew, esz, shape, fl, name                         \
	}
/* packed and scalar single/double FP rows: ps (none), pd (66), ss (F3), sd (F2) */
#define FP4(op, n, pk)                                                                             \
	S(1, op, 0, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_FP | (pk), n "ps"),             \
	    S(1, op, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_FP | (pk), n "pd"),        \
	    S(1, op, 2, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_SCALAR, C_FP, n "ss"),              \
	    S(1, op, 3, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_SCALAR, C_FP, n "sd")
/* integer rows of 66 0F: SSE2, AVX (AVX2 at 256), AVX-512 feature f */
#define I66(op, f, ew, esz, fl, n)                                                                 \
	S(1, op, 1, FT_SSE2, FT_AVX, f, W_IG, ew, esz, MS_FULL, C_INT | (fl), n)
#define I38(op, lf, f, ew, esz, fl, n)                                                             \
	S(2, op, 1, lf, FT_AVX, f, W_IG, ew, esz, MS_FULL, C_INT | (fl), n)

static const struct stub_class stub_classes[] = {
    /* 0F: FP arithmetic (SDM Vol. 2 ADDPS ... SQRTSD) */
    FP4(0x51, "sqrt", C_NOVVVV),
    FP4(0x58, "add", 0),
    FP4(0x59, "mul", 0),
    FP4(0x5c, "sub", 0),
    FP4(0x5d, "min", 0),
    FP4(0x5e, "div", 0),
    FP4(0x5f, "max", 0),
    /* compares: EVEX into an opmask */
    S(1, 0xc2, 0, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_FP | C_KDST, "cmpps"),
    S(1, 0xc2, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_FP | C_KDST, "cmppd"),
    S(1, 0xc2, 2, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_SCALAR, C_FP | C_KDST, "cmpss"),
    S(1, 0xc2, 3, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_SCALAR, C_FP | C_KDST, "cmpsd"),
    S(1, 0x2e, 0, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_SCALAR, C_FP | C_FLAGS | C_NOVVVV,
      "ucomiss"),
    S(1, 0x2e, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_SCALAR, C_FP | C_FLAGS | C_NOVVVV,
      "ucomisd"),
    S(1, 0x2f, 0, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_SCALAR, C_FP | C_FLAGS | C_NOVVVV,
      "comiss"),
    S(1, 0x2f, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_SCALAR, C_FP | C_FLAGS | C_NOVVVV,
      "comisd"),
    /* logic (EVEX: AVX512DQ) */
    S(1, 0x54, 0, FT_SSE, FT_AVX, FT_DQ, W_IG, W_0, 4, MS_FULL, 0, "andps"),
    S(1, 0x54, 1, FT_SSE2, FT_AVX, FT_DQ, W_IG, W_1, 8, MS_FULL, 0, "andpd"),
    S(1, 0x55, 0, FT_SSE, FT_AVX, FT_DQ, W_IG, W_0, 4, MS_FULL, 0, "andnps"),
    S(1, 0x55, 1, FT_SSE2, FT_AVX, FT_DQ, W_IG, W_1, 8, MS_FULL, 0, "andnpd"),
    S(1, 0x56, 0, FT_SSE, FT_AVX, FT_DQ, W_IG, W_0, 4, MS_FULL, 0, "orps"),
    S(1, 0x56, 1, FT_SSE2, FT_AVX, FT_DQ, W_IG, W_1, 8, MS_FULL, 0, "orpd"),
    S(1, 0x57, 0, FT_SSE, FT_AVX, FT_DQ, W_IG, W_0, 4, MS_FULL, 0, "xorps"),
    S(1, 0x57, 1, FT_SSE2, FT_AVX, FT_DQ, W_IG, W_1, 8, MS_FULL, 0, "xorpd"),
    /* shuffles */
    S(1, 0x14, 0, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_NF, "unpcklps"),
    S(1, 0x14, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_NF, "unpcklpd"),
    S(1, 0x15, 0, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_NF, "unpckhps"),
    S(1, 0x15, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_NF, "unpckhpd"),
    S(1, 0xc6, 0, FT_SSE, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_NF, "shufps"),
    S(1, 0xc6, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_NF, "shufpd"),
    /* converts (SDM Vol. 2 CVT*) */
    S(1, 0x5a, 0, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_HALF, C_FP | C_NOVVVV, "cvtps2pd"),
    S(1, 0x5a, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_FP | C_NOVVVV, "cvtpd2ps"),
    S(1, 0x5a, 2, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_SCALAR, C_FP, "cvtss2sd"),
    S(1, 0x5a, 3, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_SCALAR, C_FP | C_NARROW, "cvtsd2ss"),
    S(1, 0x5b, 0, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_FP | C_NOVVVV, "cvtdq2ps"),
    S(1, 0x5b, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_FP | C_NOVVVV, "cvtps2dq"),
    S(1, 0x5b, 2, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_FP | C_NOVVVV, "cvttps2dq"),
    S(1, 0xe6, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_FP | C_NOVVVV, "cvttpd2dq"),
    S(1, 0xe6, 2, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_HALF, C_FP | C_NOVVVV, "cvtdq2pd"),
    S(1, 0xe6, 3, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_FP | C_NOVVVV, "cvtpd2dq"),
    S(1, 0x2a, 2, FT_SSE, FT_AVX, FT_F, W_IG, W_IG, 4, MS_GPR, C_FP | C_GSRC, "cvtsi2ss"),
    S(1, 0x2a, 3, FT_SSE2, FT_AVX, FT_F, W_IG, W_IG, 4, MS_GPR, C_FP | C_GSRC, "cvtsi2sd"),
    S(1, 0x2c, 2, FT_SSE, FT_AVX, FT_F, W_IG, W_IG, 4, MS_SCALAR, C_FP | C_GDST | C_NOVVVV,
      "cvttss2si"),
    S(1, 0x2c, 3, FT_SSE2, FT_AVX, FT_F, W_IG, W_IG, 8, MS_SCALAR, C_FP | C_GDST | C_NOVVVV,
      "cvttsd2si"),
    S(1, 0x2d, 2, FT_SSE, FT_AVX, FT_F, W_IG, W_IG, 4, MS_SCALAR, C_FP | C_GDST | C_NOVVVV,
      "cvtss2si"),
    S(1, 0x2d, 3, FT_SSE2, FT_AVX, FT_F, W_IG, W_IG, 8, MS_SCALAR, C_FP | C_GDST | C_NOVVVV,
      "cvtsd2si"),
    /* SSE3 */
    S(1, 0x7c, 1, FT_SSE3, FT_AVX, FT_NONE, W_IG, W_IG, 8, MS_FULL, C_FP, "haddpd"),
    S(1, 0x7c, 3, FT_SSE3, FT_AVX, FT_NONE, W_IG, W_IG, 4, MS_FULL, C_FP, "haddps"),
    S(1, 0x7d, 1, FT_SSE3, FT_AVX, FT_NONE, W_IG, W_IG, 8, MS_FULL, C_FP, "hsubpd"),
    S(1, 0x7d, 3, FT_SSE3, FT_AVX, FT_NONE, W_IG, W_IG, 4, MS_FULL, C_FP, "hsubps"),
    S(1, 0xd0, 1, FT_SSE3, FT_AVX, FT_NONE, W_IG, W_IG, 8, MS_FULL, C_FP, "addsubpd"),
    S(1, 0xd0, 3, FT_SSE3, FT_AVX, FT_NONE, W_IG, W_IG, 4, MS_FULL, C_FP, "addsubps"),
    /* 66 0F integer (SDM Vol. 2 PADDB ... PXOR) */
    I66(0x60, FT_BW, W_IG, 1, C_NF, "punpcklbw"),
    I66(0x61, FT_BW, W_IG, 2, C_NF, "punpcklwd"),
    I66(0x62, FT_F, W_0, 4, C_NF, "punpckldq"),
    I66(0x63, FT_BW, W_IG, 2, C_NF, "packsswb"),
    I66(0x64, FT_BW, W_IG, 1, C_KDST, "pcmpgtb"),
    I66(0x65, FT_BW, W_IG, 2, C_KDST, "pcmpgtw"),
    I66(0x66, FT_F, W_0, 4, C_KDST, "pcmpgtd"),
    I66(0x67, FT_BW, W_IG, 2, C_NF, "packuswb"),
    I66(0x68, FT_BW, W_IG, 1, C_NF, "punpckhbw"),
    I66(0x69, FT_BW, W_IG, 2, C_NF, "punpckhwd"),
    I66(0x6a, FT_F, W_0, 4, C_NF, "punpckhdq"),
    I66(0x6b, FT_BW, W_0, 4, C_NF, "packssdw"),
    I66(0x6c, FT_F, W_1, 8, C_NF, "punpcklqdq"),
    I66(0x6d, FT_F, W_1, 8, C_NF, "punpckhqdq"),
    I66(0x74, FT_BW, W_IG, 1, C_KDST, "pcmpeqb"),
    I66(0x75, FT_BW, W_IG, 2, C_KDST, "pcmpeqw"),
    I66(0x76, FT_F, W_0, 4, C_KDST, "pcmpeqd"),
    S(1, 0x70, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_INT | C_NF | C_NOVVVV, "pshufd"),
    S(1, 0x70, 2, FT_SSE2, FT_AVX, FT_BW, W_IG, W_IG, 2, MS_FULL, C_INT | C_NF | C_NOVVVV,
      "pshufhw"),
    S(1, 0x70, 3, FT_SSE2, FT_AVX, FT_BW, W_IG, W_IG, 2, MS_FULL, C_INT | C_NF | C_NOVVVV,
      "pshuflw"),
    S(1, 0xd1, 1, FT_SSE2, FT_AVX, FT_BW, W_IG, W_IG, 2, MS_M128, C_INT | C_NF, "psrlw"),
    S(1, 0xd2, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_M128, C_INT | C_NF, "psrld"),
    S(1, 0xd3, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_M128, C_INT | C_NF, "psrlq"),
    I66(0xd4, FT_F, W_1, 8, 0, "paddq"),
    I66(0xd5, FT_BW, W_IG, 2, 0, "pmullw"),
    I66(0xd8, FT_BW, W_IG, 1, 0, "psubusb"),
    I66(0xd9, FT_BW, W_IG, 2, 0, "psubusw"),
    I66(0xda, FT_BW, W_IG, 1, 0, "pminub"),
    I66(0xdb, FT_F, W_48, 4, 0, "pand"),
    I66(0xdc, FT_BW, W_IG, 1, 0, "paddusb"),
    I66(0xdd, FT_BW, W_IG, 2, 0, "paddusw"),
    I66(0xde, FT_BW, W_IG, 1, 0, "pmaxub"),
    I66(0xdf, FT_F, W_48, 4, 0, "pandn"),
    I66(0xe0, FT_BW, W_IG, 1, 0, "pavgb"),
    S(1, 0xe1, 1, FT_SSE2, FT_AVX, FT_BW, W_IG, W_IG, 2, MS_M128, C_INT | C_NF, "psraw"),
    S(1, 0xe2, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_48, 4, MS_M128, C_INT | C_NF, "psrad"),
    I66(0xe3, FT_BW, W_IG, 2, 0, "pavgw"),
    I66(0xe4, FT_BW, W_IG, 2, 0, "pmulhuw"),
    I66(0xe5, FT_BW, W_IG, 2, 0, "pmulhw"),
    I66(0xe8, FT_BW, W_IG, 1, 0, "psubsb"),
    I66(0xe9, FT_BW, W_IG, 2, 0, "psubsw"),
    I66(0xea, FT_BW, W_IG, 2, 0, "pminsw"),
    I66(0xeb, FT_F, W_48, 4, 0, "por"),
    I66(0xec, FT_BW, W_IG, 1, 0, "paddsb"),
    I66(0xed, FT_BW, W_IG, 2, 0, "paddsw"),
    I66(0xee, FT_BW, W_IG, 2, 0, "pmaxsw"),
    I66(0xef, FT_F, W_48, 4, 0, "pxor"),
    S(1, 0xf1, 1, FT_SSE2, FT_AVX, FT_BW, W_IG, W_IG, 2, MS_M128, C_INT | C_NF, "psllw"),
    S(1, 0xf2, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_0, 4, MS_M128, C_INT | C_NF, "pslld"),
    S(1, 0xf3, 1, FT_SSE2, FT_AVX, FT_F, W_IG, W_1, 8, MS_M128, C_INT | C_NF, "psllq"),
    I66(0xf4, FT_F, W_1, 8, 0, "pmuludq"),
    I66(0xf5, FT_BW, W_IG, 4, C_NF | C_NOBC, "pmaddwd"),
    I66(0xf6, FT_BW, W_IG, 8, C_NF | C_NOBC, "psadbw"),
    I66(0xf8, FT_BW, W_IG, 1, 0, "psubb"),
    I66(0xf9, FT_BW, W_IG, 2, 0, "psubw"),
    I66(0xfa, FT_F, W_0, 4, 0, "psubd"),
    I66(0xfb, FT_F, W_1, 8, 0, "psubq"),
    I66(0xfc, FT_BW, W_IG, 1, 0, "paddb"),
    I66(0xfd, FT_BW, W_IG, 2, 0, "paddw"),
    I66(0xfe, FT_F, W_0, 4, 0, "paddd"),
    /* 0F38 (SSSE3, SSE4.1, SSE4.2, AVX, AVX2, AVX-512) */
    I38(0x00, FT_SSSE3, FT_BW, W_IG, 1, C_NF, "pshufb"),
    I38(0x01, FT_SSSE3, FT_NONE, W_IG, 2, 0, "phaddw"),
    I38(0x02, FT_SSSE3, FT_NONE, W_IG, 4, 0, "phaddd"),
    I38(0x03, FT_SSSE3, FT_NONE, W_IG, 2, 0, "phaddsw"),
    I38(0x04, FT_SSSE3, FT_BW, W_IG, 2, C_NF, "pmaddubsw"),
    I38(0x05, FT_SSSE3, FT_NONE, W_IG, 2, 0, "phsubw"),
    I38(0x06, FT_SSSE3, FT_NONE, W_IG, 4, 0, "phsubd"),
    I38(0x07, FT_SSSE3, FT_NONE, W_IG, 2, 0, "phsubsw"),
    I38(0x08, FT_SSSE3, FT_NONE, W_IG, 1, 0, "psignb"),
    I38(0x09, FT_SSSE3, FT_NONE, W_IG, 2, 0, "psignw"),
    I38(0x0a, FT_SSSE3, FT_NONE, W_IG, 4, 0, "psignd"),
    I38(0x0b, FT_SSSE3, FT_BW, W_IG, 2, 0, "pmulhrsw"),
    S(2, 0x0c, 1, FT_NONE, FT_AVX, FT_F, W_0, W_0, 4, MS_FULL, C_NF, "vpermilps"),
    S(2, 0x0d, 1, FT_NONE, FT_AVX, FT_F, W_0, W_1, 8, MS_FULL, C_NF, "vpermilpd"),
    S(2, 0x0e, 1, FT_NONE, FT_AVX, FT_NONE, W_0, W_IG, 4, MS_FULL, C_FLAGS | C_NOVVVV, "vtestps"),
    S(2, 0x0f, 1, FT_NONE, FT_AVX, FT_NONE, W_0, W_IG, 8, MS_FULL, C_FLAGS | C_NOVVVV, "vtestpd"),
    S(2, 0x10, 1, FT_SSE41, FT_NONE, FT_NONE, W_IG, W_IG, 1, MS_FULL, C_XMM0, "pblendvb"),
    S(2, 0x14, 1, FT_SSE41, FT_NONE, FT_NONE, W_IG, W_IG, 4, MS_FULL, C_XMM0, "blendvps"),
    S(2, 0x15, 1, FT_SSE41, FT_NONE, FT_NONE, W_IG, W_IG, 8, MS_FULL, C_XMM0, "blendvpd"),
    S(2, 0x16, 1, FT_NONE, FT_AVX2, FT_F, W_0, W_48, 4, MS_FULL, C_NF, "vpermps/pd"),
    S(2, 0x17, 1, FT_SSE41, FT_AVX, FT_NONE, W_IG, W_IG, 8, MS_FULL, C_FLAGS | C_NOVVVV, "ptest"),
    I38(0x1c, FT_SSSE3, FT_BW, W_IG, 1, C_NOVVVV, "pabsb"),
    I38(0x1d, FT_SSSE3, FT_BW, W_IG, 2, C_NOVVVV, "pabsw"),
    I38(0x1e, FT_SSSE3, FT_F, W_0, 4, C_NOVVVV, "pabsd"),
    S(2, 0x20, 1, FT_SSE41, FT_AVX, FT_BW, W_IG, W_IG, 1, MS_HALF, C_INT | C_NOVVVV, "pmovsxbw"),
    S(2, 0x21, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_IG, 1, MS_QUARTER, C_INT | C_NOVVVV, "pmovsxbd"),
    S(2, 0x22, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_IG, 1, MS_EIGHTH, C_INT | C_NOVVVV, "pmovsxbq"),
    S(2, 0x23, 1, FT_SSE41, FT_AVX, FT_BW, W_IG, W_IG, 2, MS_HALF, C_INT | C_NOVVVV, "pmovsxwd"),
    S(2, 0x24, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_IG, 2, MS_QUARTER, C_INT | C_NOVVVV, "pmovsxwq"),
    S(2, 0x25, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_0, 4, MS_HALF, C_INT | C_NOVVVV | C_NOBC,
      "pmovsxdq"),
    I38(0x28, FT_SSE41, FT_F, W_1, 8, 0, "pmuldq"),
    I38(0x29, FT_SSE41, FT_F, W_1, 8, C_KDST, "pcmpeqq"),
    I38(0x2b, FT_SSE41, FT_BW, W_0, 4, C_NF, "packusdw"),
    S(2, 0x30, 1, FT_SSE41, FT_AVX, FT_BW, W_IG, W_IG, 1, MS_HALF, C_INT | C_NOVVVV, "pmovzxbw"),
    S(2, 0x31, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_IG, 1, MS_QUARTER, C_INT | C_NOVVVV, "pmovzxbd"),
    S(2, 0x32, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_IG, 1, MS_EIGHTH, C_INT | C_NOVVVV, "pmovzxbq"),
    S(2, 0x33, 1, FT_SSE41, FT_AVX, FT_BW, W_IG, W_IG, 2, MS_HALF, C_INT | C_NOVVVV, "pmovzxwd"),
    S(2, 0x34, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_IG, 2, MS_QUARTER, C_INT | C_NOVVVV, "pmovzxwq"),
    S(2, 0x35, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_0, 4, MS_HALF, C_INT | C_NOVVVV | C_NOBC,
      "pmovzxdq"),
    S(2, 0x36, 1, FT_NONE, FT_AVX2, FT_F, W_0, W_48, 4, MS_FULL, C_NF, "vpermd/q"),
    I38(0x37, FT_SSE42, FT_F, W_1, 8, C_KDST, "pcmpgtq"),
    I38(0x38, FT_SSE41, FT_BW, W_IG, 1, 0, "pminsb"),
    I38(0x39, FT_SSE41, FT_F, W_48, 4, 0, "pminsd/q"),
    I38(0x3a, FT_SSE41, FT_BW, W_IG, 2, 0, "pminuw"),
    I38(0x3b, FT_SSE41, FT_F, W_48, 4, 0, "pminud/q"),
    I38(0x3c, FT_SSE41, FT_BW, W_IG, 1, 0, "pmaxsb"),
    I38(0x3d, FT_SSE41, FT_F, W_48, 4, 0, "pmaxsd/q"),
    I38(0x3e, FT_SSE41, FT_BW, W_IG, 2, 0, "pmaxuw"),
    I38(0x3f, FT_SSE41, FT_F, W_48, 4, 0, "pmaxud/q"),
    I38(0x40, FT_SSE41, FT_F, W_0, 4, 0, "pmulld"),
    S(2, 0x41, 1, FT_SSE41, FT_AVX, FT_NONE, W_IG, W_IG, 2, MS_FULL, C_NOVVVV, "phminposuw"),
    S(2, 0x45, 1, FT_NONE, FT_AVX2, FT_F, W_48, W_48, 4, MS_FULL, 0, "vpsrlvd/q"),
    S(2, 0x46, 1, FT_NONE, FT_AVX2, FT_F, W_0, W_48, 4, MS_FULL, 0, "vpsravd/q"),
    S(2, 0x47, 1, FT_NONE, FT_AVX2, FT_F, W_48, W_48, 4, MS_FULL, 0, "vpsllvd/q"),
/* FMA (SDM Vol. 2 VFMADD132PS ...): packed ps/pd by W, scalar at odd low nibbles */
#define FMA_P(op, n) S(2, op, 1, FT_NONE, FT_FMA, FT_F, W_48, W_48, 4, MS_FULL, C_FP, n)
#define FMA_S(op, n) S(2, op, 1, FT_NONE, FT_FMA, FT_F, W_48, W_48, 4, MS_SCALAR, C_FP, n)
    FMA_P(0x96, "vfmaddsub132"),
    FMA_P(0x97, "vfmsubadd132"),
    FMA_P(0x98, "vfmadd132"),
    FMA_S(0x99, "vfmadd132s"),
    FMA_P(0x9a, "vfmsub132"),
    FMA_S(0x9b, "vfmsub132s"),
    FMA_P(0x9c, "vfnmadd132"),
    FMA_S(0x9d, "vfnmadd132s"),
    FMA_P(0x9e, "vfnmsub132"),
    FMA_S(0x9f, "vfnmsub132s"),
    FMA_P(0xa6, "vfmaddsub213"),
    FMA_P(0xa7, "vfmsubadd213"),
    FMA_P(0xa8, "vfmadd213"),
    FMA_S(0xa9, "vfmadd213s"),
    FMA_P(0xaa, "vfmsub213"),
    FMA_S(0xab, "vfmsub213s"),
    FMA_P(0xac, "vfnmadd213"),
    FMA_S(0xad, "vfnmadd213s"),
    FMA_P(0xae, "vfnmsub213"),
    FMA_S(0xaf, "vfnmsub213s"),
    FMA_P(0xb6, "vfmaddsub231"),
    FMA_P(0xb7, "vfmsubadd231"),
    FMA_P(0xb8, "vfmadd231"),
    FMA_S(0xb9, "vfmadd231s"),
    FMA_P(0xba, "vfmsub231"),
    FMA_S(0xbb, "vfmsub231s"),
    FMA_P(0xbc, "vfnmadd231"),
    FMA_S(0xbd, "vfnmadd231s"),
    FMA_P(0xbe, "vfnmsub231"),
    FMA_S(0xbf, "vfnmsub231s"),
    /* 0F3A: every form has an imm8 */
    S(3, 0x00, 1, FT_NONE, FT_AVX2, FT_F, W_1, W_1, 8, MS_FULL, C_NF | C_NOVVVV, "vpermq"),
    S(3, 0x01, 1, FT_NONE, FT_AVX2, FT_F, W_1, W_1, 8, MS_FULL, C_NF | C_NOVVVV, "vpermpd"),
    S(3, 0x02, 1, FT_NONE, FT_AVX2, FT_NONE, W_0, W_IG, 4, MS_FULL, 0, "vpblendd"),
    S(3, 0x04, 1, FT_NONE, FT_AVX, FT_F, W_0, W_0, 4, MS_FULL, C_NF | C_NOVVVV, "vpermilps"),
    S(3, 0x05, 1, FT_NONE, FT_AVX, FT_F, W_0, W_1, 8, MS_FULL, C_NF | C_NOVVVV, "vpermilpd"),
    S(3, 0x06, 1, FT_NONE, FT_AVX, FT_NONE, W_0, W_IG, 8, MS_FULL, 0, "vperm2f128"),
    S(3, 0x08, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_0, 4, MS_FULL, C_FP | C_NOVVVV,
      "roundps/rndscaleps"),
    S(3, 0x09, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_1, 8, MS_FULL, C_FP | C_NOVVVV,
      "roundpd/rndscalepd"),
    S(3, 0x0a, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_0, 4, MS_SCALAR, C_FP, "roundss/rndscaless"),
    S(3, 0x0b, 1, FT_SSE41, FT_AVX, FT_F, W_IG, W_1, 8, MS_SCALAR, C_FP, "roundsd/rndscalesd"),
    S(3, 0x0c, 1, FT_SSE41, FT_AVX, FT_NONE, W_IG, W_IG, 4, MS_FULL, 0, "blendps"),
    S(3, 0x0d, 1, FT_SSE41, FT_AVX, FT_NONE, W_IG, W_IG, 8, MS_FULL, 0, "blendpd"),
    S(3, 0x0e, 1, FT_SSE41, FT_AVX, FT_NONE, W_IG, W_IG, 2, MS_FULL, C_INT, "pblendw"),
    S(3, 0x0f, 1, FT_SSSE3, FT_AVX, FT_BW, W_IG, W_IG, 1, MS_FULL, C_INT | C_NF, "palignr"),
    S(3, 0x1e, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_KDST, "vpcmpud/uq"),
    S(3, 0x1f, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_KDST, "vpcmpd/q"),
    S(3, 0x3e, 1, FT_NONE, FT_NONE, FT_BW, W_IG, W_12, 1, MS_FULL, C_KDST, "vpcmpub/uw"),
    S(3, 0x3f, 1, FT_NONE, FT_NONE, FT_BW, W_IG, W_12, 1, MS_FULL, C_KDST, "vpcmpb/w"),
    /* not dpps/dppd (0x40/0x41): a multiply then adds, each stage with its own exceptions;
     * with one unmasked, which flags the CPU sets depends on the stage that raised it, which
     * one run of the whole instruction cannot tell (seen on the CPU) */
    S(3, 0x42, 1, FT_SSE41, FT_AVX, FT_NONE, W_IG, W_IG, 1, MS_FULL, C_INT, "mpsadbw"),
    S(3, 0x46, 1, FT_NONE, FT_AVX2, FT_NONE, W_0, W_IG, 8, MS_FULL, 0, "vperm2i128"),
    S(3, 0x4a, 1, FT_NONE, FT_AVX, FT_NONE, W_0, W_IG, 4, MS_FULL, C_IS4, "vblendvps"),
    S(3, 0x4b, 1, FT_NONE, FT_AVX, FT_NONE, W_0, W_IG, 8, MS_FULL, C_IS4, "vblendvpd"),
    S(3, 0x4c, 1, FT_NONE, FT_AVX, FT_NONE, W_0, W_IG, 1, MS_FULL, C_IS4 | C_INT, "vpblendvb"),
    S(3, 0x60, 1, FT_SSE42, FT_AVX, FT_NONE, W_IG, W_IG, 1, MS_FULL,
      C_STR | C_FLAGS | C_NOALIGN | C_NOVVVV, "pcmpestrm"),
    S(3, 0x61, 1, FT_SSE42, FT_AVX, FT_NONE, W_IG, W_IG, 1, MS_FULL,
      C_STR | C_FLAGS | C_NOALIGN | C_NOVVVV, "pcmpestri"),
    S(3, 0x62, 1, FT_SSE42, FT_AVX, FT_NONE, W_IG, W_IG, 1, MS_FULL,
      C_STR | C_FLAGS | C_NOALIGN | C_NOVVVV, "pcmpistrm"),
    S(3, 0x63, 1, FT_SSE42, FT_AVX, FT_NONE, W_IG, W_IG, 1, MS_FULL,
      C_STR | C_FLAGS | C_NOALIGN | C_NOVVVV, "pcmpistri"),
    /* AVX-512 only: ternary logic, two-table permutes, lane shuffles, alignr, abs q, scalef,
     * getexp, rcp14/rsqrt14 (SDM Vol. 2 VPTERNLOGD ... VRSQRT14PS) */
    S(3, 0x25, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, 0, "vpternlogd/q"),
    S(3, 0x03, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NF, "valignd/q"),
    S(3, 0x23, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NF, "vshuff32x4/64x2"),
    S(3, 0x43, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NF, "vshufi32x4/64x2"),
    S(2, 0x76, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NF, "vpermi2d/q"),
    S(2, 0x77, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NF, "vpermi2ps/pd"),
    S(2, 0x7e, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NF, "vpermt2d/q"),
    S(2, 0x7f, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NF, "vpermt2ps/pd"),
    S(2, 0x1f, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_1, 8, MS_FULL, C_NOVVVV, "vpabsq"),
    S(2, 0x2c, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_FP, "vscalefps/pd"),
    S(2, 0x42, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_FP | C_NOVVVV, "vgetexpps/pd"),
    S(2, 0x4c, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NOVVVV, "vrcp14ps/pd"),
    S(2, 0x4e, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_NOVVVV, "vrsqrt14ps/pd"),
    /* vcvtph2ps (F16C, AVX512F); vptestm/vptestnm into k (SDM Vol. 2 VCVTPH2PS, VPTESTMD) */
    S(2, 0x13, 1, FT_NONE, FT_F16C, FT_F, W_0, W_0, 2, MS_HALF, C_FP | C_NOVVVV, "vcvtph2ps"),
    S(2, 0x26, 1, FT_NONE, FT_NONE, FT_BW, W_IG, W_12, 1, MS_FULL, C_KDST, "vptestmb/w"),
    S(2, 0x26, 2, FT_NONE, FT_NONE, FT_BW, W_IG, W_12, 1, MS_FULL, C_KDST, "vptestnmb/w"),
    S(2, 0x27, 1, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_KDST, "vptestmd/q"),
    S(2, 0x27, 2, FT_NONE, FT_NONE, FT_F, W_IG, W_48, 4, MS_FULL, C_KDST, "vptestnmd/q"),
/* AVX512-FP16 (maps 5 and 6, and 0F3A C2): half-precision arithmetic, compares, FMA */
#define PH(op, n, pfl, sfl)                                                                        \
	S(5, op, 0, FT_NONE, FT_NONE, FT_FP16, W_IG, W_0, 2, MS_FULL, C_FP | (pfl), n "ph"),       \
	    S(5, op, 2, FT_NONE, FT_NONE, FT_FP16, W_IG, W_0, 2, MS_SCALAR, C_FP | (sfl), n "sh")
    PH(0x51, "vsqrt", C_NOVVVV, 0),
    PH(0x58, "vadd", 0, 0),
    PH(0x59, "vmul", 0, 0),
    PH(0x5c, "vsub", 0, 0),
    PH(0x5d, "vmin", C_NOUF, C_NOUF),
    PH(0x5e, "vdiv", 0, 0),
    PH(0x5f, "vmax", C_NOUF, C_NOUF),
    S(3, 0xc2, 0, FT_NONE, FT_NONE, FT_FP16, W_IG, W_0, 2, MS_FULL, C_FP | C_KDST, "vcmpph"),
    S(3, 0xc2, 2, FT_NONE, FT_NONE, FT_FP16, W_IG, W_0, 2, MS_SCALAR, C_FP | C_KDST, "vcmpsh"),
#define FMA_HP(op, n) S(6, op, 1, FT_NONE, FT_NONE, FT_FP16, W_IG, W_0, 2, MS_FULL, C_FP, n "ph")
#define FMA_HS(op, n) S(6, op, 1, FT_NONE, FT_NONE, FT_FP16, W_IG, W_0, 2, MS_SCALAR, C_FP, n "sh")
    FMA_HP(0x96, "vfmaddsub132"),
    FMA_HP(0x97, "vfmsubadd132"),
    FMA_HP(0x98, "vfmadd132"),
    FMA_HS(0x99, "vfmadd132"),
    FMA_HP(0x9a, "vfmsub132"),
    FMA_HS(0x9b, "vfmsub132"),
    FMA_HP(0x9c, "vfnmadd132"),
    FMA_HS(0x9d, "vfnmadd132"),
    FMA_HP(0x9e, "vfnmsub132"),
    FMA_HS(0x9f, "vfnmsub132"),
    FMA_HP(0xa8, "vfmadd213"),
    FMA_HS(0xa9, "vfmadd213"),
    FMA_HP(0xb8, "vfmadd231"),
    FMA_HS(0xb9, "vfmadd231"),
};
#define NCLASSES (sizeof(stub_classes) / sizeof(stub_classes[0]))

/* (map - 1, opcode, prefix slot) -> class index + 1; maps 1-3 and the FP16 maps 5 and 6 */
static uint16_t class_index[6][256][4];
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void index_init(void)
{
	for (unsigned i = 0; i < NCLASSES; i++) {
		const struct stub_class *k = &stub_classes[i];
		class_index[k->map - 1][k->op][k->pfx] = (uint16_t)(i + 1);
	}
}

/* The class of a decoded instruction, or NULL: the encoding's feature must exist and W obey
 * the class's rule (another W is another instruction, not this class). */
static const struct stub_class *class_of(const struct xg_emu_x86_insn *in)
{
	const struct stub_class *k;
	unsigned i, rule;

	if (in->map < 1 || in->map > 6 || in->map == 4)
		return NULL;
	pthread_once(&index_once, index_init);
	i = class_index[in->map - 1][in->opcode][in->pfx];
	if (!i)
		return NULL;
	k = &stub_classes[i - 1];
	switch (in->enc) {
	case XG_EMU_X86_ENC_LEGACY:
		return k->leg ? k : NULL;
	case XG_EMU_X86_ENC_VEX:
		if (!k->vex)
			return NULL;
		rule = k->vw;
		break;
	default:
		if (!k->evex)
			return NULL;
		rule = k->ew;
		break;
	}
	if ((rule == W_0 && in->w) || (rule == W_1 && !in->w))
		return NULL;
	return k;
}

static const struct stub_class *cls(const struct xg_emu_x86_insn *in)
{
	return &stub_classes[in->aux];
}

/* element size: the memory element, the broadcast element and the masking granule */
static unsigned elem_size(const struct stub_class *k, const struct xg_emu_x86_insn *in)
{
	unsigned rule = in->enc == XG_EMU_X86_ENC_EVEX ? k->ew : k->vw;
	if (rule == W_48 && in->enc != XG_EMU_X86_ENC_LEGACY)
		return in->w ? 8 : 4;
	if (rule == W_12 && in->enc != XG_EMU_X86_ENC_LEGACY)
		return in->w ? 2 : 1;
	return k->esz;
}

static unsigned vec_len(const struct xg_emu_x86_insn *in)
{
	return in->enc == XG_EMU_X86_ENC_LEGACY ? 16 : 16u << (in->vl & 3);
}

/* bytes the memory operand covers (without broadcast) */
static unsigned mem_size(const struct stub_class *k, const struct xg_emu_x86_insn *in)
{
	unsigned vl = vec_len(in);

	switch (k->shape) {
	case MS_HALF:
		return vl / 2;
	case MS_QUARTER:
		return vl / 4;
	case MS_EIGHTH:
		return vl / 8;
	case MS_SCALAR:
		return elem_size(k, in);
	case MS_M128:
		return 16;
	case MS_GPR:
		return in->w && in->mode == 64 ? 8 : 4;
	}
	return vl;
}

unsigned xg_emu_x86_stub_disp8n(const struct xg_emu_x86_insn *in)
{
	const struct stub_class *k = class_of(in);

	if (!k || in->vl == 3)
		return 0;
	return in->bcast ? elem_size(k, in) : mem_size(k, in);
}

void xg_emu_x86_stub_classify(struct xg_emu_x86_insn *in)
{
	const struct stub_class *k;

	if (in->op != OP_NONE || (k = class_of(in)) == NULL)
		return;
	in->op = OP_STUB;
	in->aux = (uint16_t)(k - stub_classes);
	in->flags =
	    (in->flags & (F_MODRM | F_IMM_MASK)) | F_SSE | ((k->fl & C_NOVVVV) ? F_NOVVVV : 0);
	in->name = k->name;
}

/* the feature an instruction needs, and a second one (AVX512VL for 128/256-bit EVEX) */
static void needs(const struct stub_class *k, const struct xg_emu_x86_insn *in, unsigned *f1,
		  unsigned *f2)
{
	*f2 = FT_NONE;
	if (in->enc == XG_EMU_X86_ENC_LEGACY) {
		*f1 = k->leg;
	} else if (in->enc == XG_EMU_X86_ENC_VEX) {
		*f1 = (k->fl & C_INT) && in->vl && k->vex == FT_AVX ? FT_AVX2 : k->vex;
	} else {
		int scalar = k->shape == MS_SCALAR || k->shape == MS_GPR ||
			     (k->fl & C_FLAGS); /* scalars ignore L'L */
		*f1 = k->evex;
		/* a register form with b = 1 is 512 bits (L'L is the rounding control) */
		if (!scalar && in->vl < 2 && !(in->bcast && in->mod == 3))
			*f2 = FT_VL;
	}
}

int xg_emu_x86_writes_opmask(const struct xg_emu_x86_insn *in)
{
	return in->op == OP_STUB && in->enc == XG_EMU_X86_ENC_EVEX && (cls(in)->fl & C_KDST);
}

int xg_emu_x86_stub_host_ok(const struct xg_emu_x86_insn *in)
{
	unsigned f1, f2;

	pthread_once(&host.once, host_init);
	needs(cls(in), in, &f1, &f2);
	return host.rx && (host.feat >> f1 & 1) && (!f2 || (host.feat >> f2 & 1));
}

/* ---- the runner ---- */

/* What xg_emu_x86_stub_call loads and stores; offsets are used by the assembly. */
struct stub_frame {
	void *image;	     /* 0: XSAVE image, 64-byte aligned */
	const void *code;    /* 8 */
	void *mem;	     /* 16: the memory operand, in RSI */
	uint64_t rax;	     /* 24 */
	uint64_t rcx;	     /* 32 */
	uint64_t rdx;	     /* 40 */
	uint64_t rflags;     /* 48: out */
	uint64_t rfbm;	     /* 56 */
	uint32_t host_mxcsr; /* 64: scratch */
};
void xg_emu_x86_stub_call(struct stub_frame *f);

/* The host's MXCSR and callee-saved registers survive; every vector register is
 * caller-saved in the SysV ABI, and x87 is not in the RFBM. */
__asm__(".text\n"
	".globl xg_emu_x86_stub_call\n"
	".type xg_emu_x86_stub_call, @function\n"
	"xg_emu_x86_stub_call:\n"
	"	push %rbx\n"
	"	mov %rdi, %rbx\n"
	"	stmxcsr 64(%rbx)\n"
	"	mov 56(%rbx), %eax\n"
	"	mov 60(%rbx), %edx\n"
	"	mov (%rbx), %r8\n"
	"	xrstor64 (%r8)\n"
	"	mov 16(%rbx), %rsi\n"
	"	mov 24(%rbx), %rax\n"
	"	mov 32(%rbx), %rcx\n"
	"	mov 40(%rbx), %rdx\n"
	"	call *8(%rbx)\n"
	"	mov %rax, 24(%rbx)\n"
	"	mov %rcx, 32(%rbx)\n"
	"	mov %rdx, 40(%rbx)\n"
	"	pushfq\n"
	"	popq 48(%rbx)\n"
	"	mov 56(%rbx), %eax\n"
	"	mov 60(%rbx), %edx\n"
	"	mov (%rbx), %r8\n"
	"	xsave64 (%r8)\n"
	"	ldmxcsr 64(%rbx)\n"
	"	pop %rbx\n"
	"	ret\n"
	".size xg_emu_x86_stub_call, .-xg_emu_x86_stub_call\n");

/* A thread goes back to its last slot, whose code is then often the same (an MMIO loop): no
 * rewrite, so no self-modifying-code flush. */
static __thread unsigned slot_hint;

static unsigned claim_slot(void)
{
	static unsigned next;
	unsigned start = slot_hint;

	if (!start) /* first use in this thread: spread the threads over the page */
		start = __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
	for (;;) {
		for (unsigned j = 0; j < STUB_SLOTS; j++) {
			unsigned s = (start + j) % STUB_SLOTS;
			uint64_t bit = 1ull << (s % 64);
			if (!(__atomic_fetch_or(&slot_busy[s / 64], bit, __ATOMIC_ACQUIRE) & bit)) {
				slot_hint = s ? s : STUB_SLOTS;
				return s;
			}
		}
		sched_yield(); /* more concurrent emulations than slots: wait for one */
	}
}

static void release_slot(unsigned s)
{
	__atomic_fetch_and(&slot_busy[s / 64], ~(1ull << (s % 64)), __ATOMIC_RELEASE);
}

/*
 * Re-encode the instruction for 64-bit mode, memory operand at [rsi]: from the decoded
 * fields only (SDM Vol. 2 2.1 to 2.3, 2.7). Returns its length (at most 15).
 */
static unsigned encode(const struct stub_class *k, const struct xg_emu_x86_insn *in, uint8_t *p)
{
	unsigned n = 0, reg = in->reg, rm = in->has_mem ? 6 : in->rm, w = in->w;
	unsigned imm = (unsigned)in->imm & 0xff;
	static const uint8_t pfx_byte[4] = {0, 0x66, 0xf3, 0xf2};

	if (k->fl & C_GDST)
		reg = 0; /* RAX */
	if ((k->fl & C_GSRC) && !in->has_mem)
		rm = 0;
	if (k->fl & C_KDST && in->enc == XG_EMU_X86_ENC_EVEX)
		reg &= 7;
	/* W selects a 64-bit GPR only in 64-bit mode (SDM Vol. 2 2.3.5.1, 2.7.1) */
	if (in->mode != 64 && (k->fl & (C_GDST | C_GSRC | C_STR)))
		w = 0;
	if ((k->fl & C_IS4) && in->mode != 64)
		imm &= 0x7f; /* imm8[7] is ignored outside 64-bit mode */
	if (in->enc == XG_EMU_X86_ENC_LEGACY) {
		unsigned rex = (w << 3) | (((reg >> 3) & 1) << 2) | ((rm >> 3) & 1);
		if (in->pfx)
			p[n++] = pfx_byte[in->pfx];
		if (rex && in->mode == 64)
			p[n++] = (uint8_t)(0x40 | rex);
		p[n++] = 0x0f;
		if (in->map == XG_EMU_X86_MAP_0F38)
			p[n++] = 0x38;
		else if (in->map == XG_EMU_X86_MAP_0F3A)
			p[n++] = 0x3a;
	} else if (in->enc == XG_EMU_X86_ENC_VEX) {
		p[n++] = 0xc4;
		p[n++] = (uint8_t)((!((reg >> 3) & 1) << 7) | (1u << 6) | (!((rm >> 3) & 1) << 5) |
				   in->map);
		p[n++] =
		    (uint8_t)((w << 7) | ((~in->vvvv & 15u) << 3) | ((in->vl & 1u) << 2) | in->pfx);
	} else {
		unsigned x = in->has_mem ? 0 : (rm >> 4) & 1;
		p[n++] = 0x62;
		p[n++] = (uint8_t)((!((reg >> 3) & 1) << 7) | (!x << 6) | (!((rm >> 3) & 1) << 5) |
				   (!((reg >> 4) & 1) << 4) | in->map);
		p[n++] = (uint8_t)((w << 7) | ((~in->vvvv & 15u) << 3) | 4u | in->pfx);
		p[n++] = (uint8_t)((in->z << 7) | ((in->vl & 3u) << 5) | (in->bcast << 4) |
				   (!((in->vvvv >> 4) & 1) << 3) | in->aaa);
	}
	p[n++] = in->opcode;
	p[n++] = (uint8_t)(((in->has_mem ? 0u : 3u) << 6) | ((reg & 7) << 3) | (rm & 7));
	if (in->imm_size)
		p[n++] = (uint8_t)imm;
	return n;
}

/* ---- plan and exec ---- */

#define MX_FLAGS 0x3fu
#define MX_PRE	 0x07u /* IE DE ZE: pre-computation (SDM Vol. 1 11.5.2) */
#define MX_UE	 0x10u
#define MX_OE	 0x08u
#define MX_PE	 0x20u
#define MX_POST	 0x38u /* OE UE PE: post-computation */
#define MX_MASKS 0x1f80u
#define MX_FTZ	 0x8000u

static uint64_t opmask(struct xg_emu_x86_ctx *c)
{
	uint64_t m;

	if (c->in->enc != XG_EMU_X86_ENC_EVEX || !c->in->aaa)
		return ~0ull;
	memcpy(&m, c->xs + XG_EMU_X86_XS_OPMASK + 8 * c->in->aaa, 8);
	return m;
}

static int plan_stub(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	const struct stub_class *k = cls(in);
	unsigned f1, f2, esz, size, n;
	uint64_t en, ea;
	int rc, each;

	/* EVEX.R' = 0 with a GPR in ModRM.reg names no register; an opmask destination with
	 * EVEX.R or R' naming k8-k31, or with zeroing: #UD (seen on the CPU) */
	if (in->enc == XG_EMU_X86_ENC_EVEX &&
	    (((k->fl & C_GDST) && (in->reg & 16)) ||
	     ((k->fl & C_KDST) && ((in->reg & 0x18) || in->z)) ||
	     /* no masking for a flags or GPR result (SDM Vol. 2 VCOMISS, VCVTSS2SI ...) */
	     ((k->fl & (C_FLAGS | C_GDST | C_GSRC)) && (in->aaa || in->z))))
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	/* the guest's CPUID: what its CPU would not run is #UD */
	needs(k, in, &f1, &f2);
	{
		uint32_t l0[4] = {0}, l1[4] = {0}, l7[4] = {0}, gf;
		pthread_once(&host.once, host_init);
		if (c->ops->cpuid) {
			if (c->ops->cpuid(c->opaque, 0, 0, l0) < 0 ||
			    c->ops->cpuid(c->opaque, 1, 0, l1) < 0 ||
			    (l0[0] >= 7 && c->ops->cpuid(c->opaque, 7, 0, l7) < 0)) {
				snprintf(c->res->reason, sizeof(c->res->reason),
					 "the VMM could not give the guest's CPUID (cpuid)");
				return XG_EMU_X86_ERROR;
			}
			gf = features_from(l1, l7, c->r.xcr0);
		} else {
			gf = host.feat; /* no CPUID from the VMM: the guest sees the host's */
		}
		if (!(gf >> f1 & 1) || (f2 && !(gf >> f2 & 1)))
			return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
		if (!(host.feat >> f1 & 1) || (f2 && !(host.feat >> f2 & 1)) || !host.rx) {
			snprintf(c->res->reason, sizeof(c->res->reason),
				 !host.rx ? "not handled: no stub page (memfd/mmap: %s)"
					  : "not handled: the host CPU lacks %s",
				 !host.rx		  ? strerror(host.map_err)
				 : !(host.feat >> f1 & 1) ? ft_name[f1]
							  : ft_name[f2]);
			return XG_EMU_X86_NOT_HANDLED;
		}
	}
	if ((rc = xg_emu_x86_load_xsave(c)))
		return rc;
	if (!in->has_mem)
		return 0;
	esz = elem_size(k, in);
	size = mem_size(k, in);
	/* embedded broadcast exists for full- and half-vector forms of dword and qword elements
	 * (and FP16 words) only (SDM Vol. 2 2.7.5, tuple types FV and HV): elsewhere EVEX.b on
	 * memory is #UD */
	if (in->enc == XG_EMU_X86_ENC_EVEX && in->bcast &&
	    ((esz < 4 && k->evex != FT_FP16) || (k->shape != MS_FULL && k->shape != MS_HALF) ||
	     (k->fl & C_NOBC)))
		return xg_emu_x86_exc(c, XG_EMU_X86_UD, 0, 0);
	ea = xg_emu_x86_ea(c);
	/* legacy SSE: a 16-byte operand must be aligned (SDM Vol. 2 2.4, exceptions type 4) */
	if (in->enc == XG_EMU_X86_ENC_LEGACY && size == 16 && !(k->fl & C_NOALIGN)) {
		c->align = 16;
		c->align_ea = ea;
	}
	if (in->enc != XG_EMU_X86_ENC_EVEX) {
		xg_emu_x86_add_acc(c, ea, in->seg, size, XG_EMU_X86_READ, 0);
		return 0;
	}
	/* EVEX: the mask enables memory elements (element i with mask bit i); with fault
	 * suppression (SDM Vol. 2 2.8) only those are read, a broadcast reads its one element
	 * if any is enabled; without it (E4NF ...) the whole operand is read */
	n = size / esz;
	en = (k->fl & C_NF) ? ~0ull : opmask(c);
	en &= n >= 64 ? ~0ull : (1ull << n) - 1;
	if (in->bcast) {
		if (en)
			xg_emu_x86_add_acc(c, ea, in->seg, esz, XG_EMU_X86_READ, 0);
		return 0;
	}
	each = xg_emu_x86_per_element(c, in->aaa && !(k->fl & C_NF));
	for (unsigned i = 0; i < n;) {
		unsigned j;
		if (!(en >> i & 1)) {
			i++;
			continue;
		}
		for (j = i + 1; j < n && (en >> j & 1) && !each; j++)
			;
		xg_emu_x86_add_acc(c, ea + (uint64_t)i * esz, in->seg, (j - i) * esz,
				   XG_EMU_X86_READ, i * esz);
		i = j;
	}
	return 0;
}

/* One run of the stub on `img` (the guest's image made loadable), MXCSR as given. */
static void run(const struct stub_class *k, struct xg_emu_x86_ctx *c, uint8_t *img, uint64_t rfbm,
		uint32_t mxcsr, const uint8_t *code, unsigned len, struct stub_frame *f)
{
	unsigned s = claim_slot();
	struct xg_emu_x86_insn *in = c->in;

	memcpy(img + XG_EMU_X86_XS_MXCSR, &mxcsr, 4);
	memset(img + XG_EMU_X86_XS_XSTATE_BV, 0, 64);
	memcpy(img + XG_EMU_X86_XS_XSTATE_BV, &rfbm, 8);
	if (memcmp(host.rw + s * STUB_SLOT, code, len) || host.rw[s * STUB_SLOT + len] != 0xc3) {
		memcpy(host.rw + s * STUB_SLOT, code, len);
		host.rw[s * STUB_SLOT + len] = 0xc3; /* ret */
	}
	memset(f, 0, sizeof(*f));
	f->image = img;
	f->code = host.rx + s * STUB_SLOT;
	f->mem = c->mem;
	f->rfbm = rfbm;
	f->rax = c->r.gpr[XG_EMU_X86_RAX];
	f->rcx = c->r.gpr[XG_EMU_X86_RCX];
	f->rdx = c->r.gpr[XG_EMU_X86_RDX];
	if ((k->fl & C_GSRC) && !in->has_mem)
		f->rax = c->r.gpr[in->rm & 15];
	xg_emu_x86_stub_call(f);
	release_slot(s);
	/* the host's upper vector state is clean again: no AVX-SSE transition cost after */
	if (host.xcr0 & 4)
		__asm__ volatile("vzeroupper" ::: "memory");
}

/* Is an enabled element of the floating-point result (the destination in the image after
 * the run) a denormal? Compares, flags and GPR results have none. */
static int denormal_result(const struct stub_class *k, struct xg_emu_x86_ctx *c, const uint8_t *img)
{
	const struct xg_emu_x86_insn *in = c->in;
	unsigned esz = elem_size(k, in), dsz = (k->fl & C_NARROW) ? esz / 2 : esz, r = in->reg & 31;
	/* a register form with EVEX.b is 512 bits (its L'L is a rounding control) */
	unsigned vl =
	    in->enc == XG_EMU_X86_ENC_EVEX && in->bcast && !in->has_mem ? 64 : vec_len(in);
	unsigned n = k->shape == MS_SCALAR ? 1 : vl / esz;
	uint64_t en = opmask(c);
	uint8_t v[64];

	if (k->fl & (C_KDST | C_FLAGS | C_GDST | C_NOUF))
		return 0;
	if (r >= 16) {
		memcpy(v, img + XG_EMU_X86_XS_HI16ZMM + 64 * (r - 16), 64);
	} else {
		memcpy(v, img + XG_EMU_X86_XS_XMM0 + 16 * r, 16);
		memcpy(v + 16, img + XG_EMU_X86_XS_YMMH + 16 * r, 16);
		memcpy(v + 32, img + XG_EMU_X86_XS_ZMMH + 32 * r, 32);
	}
	for (unsigned i = 0; i < n && i < 64; i++) {
		uint64_t x = 0, expo, mant;
		if (!(en >> i & 1))
			continue;
		memcpy(&x, v + i * dsz, dsz);
		expo = dsz == 2	  ? x & 0x7c00
		       : dsz == 4 ? x & 0x7f800000
				  : x & 0x7ff0000000000000ull;
		mant = dsz == 2 ? x & 0x3ff : dsz == 4 ? x & 0x7fffff : x & 0xfffffffffffffull;
		if (!expo && mant)
			return 1;
	}
	return 0;
}

/* An unmasked SIMD FP exception: MXCSR gets `mx` (its flags are set before the exception,
 * SDM Vol. 1 11.5.1), nothing else is written; #XM, or #UD when CR4.OSXMMEXCPT = 0 (SDM Vol.
 * 3A 6.15, interrupt 19). */
static int xm(struct xg_emu_x86_ctx *c, uint32_t mx)
{
	memcpy(c->xs + XG_EMU_X86_XS_MXCSR, &mx, 4);
	if (c->ops->set_xsave && xg_emu_x86_store_xsave(c) < 0) {
		snprintf(c->res->reason, sizeof(c->res->reason),
			 "the VMM could not write the vector state (set_xsave)");
		return XG_EMU_X86_ERROR;
	}
	return xg_emu_x86_exc(c, (c->r.cr4 & (1u << 10)) ? XG_EMU_X86_XM : XG_EMU_X86_UD, 0, 0);
}

static int exec_stub(struct xg_emu_x86_ctx *c)
{
	struct xg_emu_x86_insn *in = c->in;
	const struct stub_class *k = cls(in);
	uint8_t img[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t code[16];
	unsigned len = encode(k, in, code);
	uint64_t rfbm = in->enc == XG_EMU_X86_ENC_LEGACY ? 2 : (c->r.xcr0 & host.xcr0 & 0xe6);
	uint32_t gmx, unmasked, fl, set;

	struct stub_frame f;

	memcpy(&gmx, c->xs + XG_EMU_X86_XS_MXCSR, 4);
	if (gmx & ~host.mxcsr_mask) { /* no CPU holds such an MXCSR (LDMXCSR would #GP) */
		snprintf(c->res->reason, sizeof(c->res->reason),
			 "not handled: the guest's MXCSR %#x has reserved bits set", gmx);
		return XG_EMU_X86_NOT_HANDLED;
	}
	if (in->enc != XG_EMU_X86_ENC_LEGACY && (c->r.xcr0 & 0xe6 & ~host.xcr0)) {
		snprintf(c->res->reason, sizeof(c->res->reason),
			 "not handled: the host's XCR0 lacks guest state %#llx",
			 (unsigned long long)(c->r.xcr0 & 0xe6 & ~host.xcr0));
		return XG_EMU_X86_NOT_HANDLED;
	}
	memcpy(img, c->xs, sizeof(img));
	run(k, c, img, rfbm, (gmx & ~MX_FLAGS) | MX_MASKS, code, len, &f);
	memcpy(&fl, img + XG_EMU_X86_XS_MXCSR, 4);
	fl &= MX_FLAGS;
	unmasked = ~(gmx >> 7) & MX_FLAGS;
	/* EVEX.b on a register form: {sae} or {er}, every exception suppressed (SDM Vol. 2
	 * 2.7.8): the run's flags (none) are all there is */
	if (in->enc == XG_EMU_X86_ENC_EVEX && in->bcast && !in->has_mem)
		unmasked = 0;
	if ((fl & MX_PRE & unmasked) && (k->fl & C_FP))
		return xm(c, gmx | (fl & MX_PRE)); /* pre-computation: its flags only */
	if ((unmasked & MX_POST) && (k->fl & C_FP)) {
		/* Which results are tiny (SDM Vol. 1 11.5.2.4): the masked run flags the inexact
		 * ones. An unmasked underflow also fires on an exact one: FTZ with underflow
		 * masked flags every tiny result, so a second run with FTZ tells; a masked
		 * underflow keeps its rule (the run's flag). FP16 ignores FTZ: there an exact tiny
		 * result is a denormal one (seen on the CPU). */
		uint32_t tiny = fl & MX_UE;
		if (k->evex == FT_FP16) {
			if ((unmasked & MX_UE) && denormal_result(k, c, img))
				tiny = MX_UE;
		} else if (unmasked & MX_UE) {
			struct stub_frame f2;
			uint32_t fl2;
			memcpy(img, c->xs, sizeof(img));
			run(k, c, img, rfbm, (gmx & ~MX_FLAGS) | MX_MASKS | MX_FTZ, code, len, &f2);
			memcpy(&fl2, img + XG_EMU_X86_XS_MXCSR, 4);
			tiny |= fl2 & MX_UE;
			memcpy(img, c->xs, sizeof(img));
			run(k, c, img, rfbm, (gmx & ~MX_FLAGS) | MX_MASKS, code, len, &f);
		}
		if (((fl & (MX_OE | MX_PE)) | tiny) & unmasked) {
			/* a post-computation exception: overflow, underflow on every tiny result,
			 * precision. With an unmasked overflow or underflow the CPU sets PE by the
			 * result rounded to an unbounded exponent (SDM Vol. 1 11.5.2.5), which a
			 * run with the exponent bounded cannot tell when it found PE: that case
			 * is not handled (seen on the CPU: PE set for some, clear for others) */
			if ((((fl & MX_OE) | tiny) & unmasked) && (fl & MX_PE)) {
				snprintf(c->res->reason, sizeof(c->res->reason),
					 "not handled: an unmasked overflow/underflow (MXCSR %#x) "
					 "with an inexact result",
					 gmx);
				return XG_EMU_X86_NOT_HANDLED;
			}
			return xm(c, gmx | (fl & (MX_PRE | MX_OE | MX_PE)) | tiny);
		}
	}
	set = fl;
	/* the results: vector registers and opmasks of the loaded components, MXCSR */
	memcpy(c->xs + XG_EMU_X86_XS_XMM0, img + XG_EMU_X86_XS_XMM0, 256);
	if (rfbm & 4)
		memcpy(c->xs + XG_EMU_X86_XS_YMMH, img + XG_EMU_X86_XS_YMMH, 256);
	if (rfbm & 0x20)
		memcpy(c->xs + XG_EMU_X86_XS_OPMASK, img + XG_EMU_X86_XS_OPMASK, 64);
	if (rfbm & 0x40)
		memcpy(c->xs + XG_EMU_X86_XS_ZMMH, img + XG_EMU_X86_XS_ZMMH, 512);
	if (rfbm & 0x80)
		memcpy(c->xs + XG_EMU_X86_XS_HI16ZMM, img + XG_EMU_X86_XS_HI16ZMM, 1024);
	gmx |= set;
	memcpy(c->xs + XG_EMU_X86_XS_MXCSR, &gmx, 4);
	c->xs_dirty = 1;
	c->xs_wide = 1; /* whole components copied back (settle_xstate_bv) */
	if (k->fl & C_GDST)
		xg_emu_x86_gpr_set(c, in->reg, in->w && in->mode == 64 ? 8 : 4, f.rax);
	if (k->fl & C_STR) {
		c->r.gpr[XG_EMU_X86_RCX] = f.rcx;
		c->regs_dirty = 1;
	}
	if (k->fl & C_FLAGS) {
		c->r.rflags = (c->r.rflags & ~0x8d5ull) | (f.rflags & 0x8d5ull);
		c->regs_dirty = 1;
	}
	return 0;
}

const struct xg_emu_x86_impl xg_emu_x86_stub_impl = {plan_stub, exec_stub};
