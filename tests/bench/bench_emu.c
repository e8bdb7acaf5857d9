/*
 * bench_emu.c - how fast exitgate's x86 decoder and emulator are, against capstone.
 *
 * The same instruction bytes (the instructions an MMIO exit brings: moves of every width,
 * x87, SSE, AVX, AVX-512, ALU, string) are decoded by xg_emu_x86_decode(), decoded and
 * emulated by xg_emu_x86_emulate() through an in-memory fake vCPU, and disassembled by
 * capstone's cs_disasm() with CS_OPT_DETAIL on (what exitgate's policy layer would call to
 * get operands), in the same run. Prints ns per instruction and the ratio; then SIMD arithmetic
 * with an MMIO operand (addps, vaddps ymm, vaddps zmm), which runs in a host stub. Not a test:
 * absolute times on a shared machine vary; the ratio is what to quote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capstone/capstone.h>

#include "xg_emu_x86.h"

static const char *const corpus_hex[] = {
    "8b 03",
    "48 89 43 08",
    "c7 03 78 56 34 12",
    "88 4b 01",
    "0f b6 43 02",
    "48 0f bf 03",
    "01 03",
    "f0 48 0f c1 03",
    "80 33 55",
    "48 87 03",
    "0f c7 0b",
    "f3 0f 10 03",
    "66 0f 7e 03",
    "0f 28 43 40",
    "66 0f 3a 16 03 01",
    "c5 fe 6f 03",
    "c4 e2 7d 18 03",
    "c5 fa 11 03",
    "62 f1 fe 48 6f 43 01",
    "62 f1 7f c9 6f 03",
    "d9 03",
    "dd 1b",
    "df 3b",
    "48 8b 05 00 10 00 00",
    "64 48 8b 04 25 28 00 00 00",
    "0f ba 2b 05",
    "0f 94 03",
    "ff 33",
};

#define NCORPUS (sizeof(corpus_hex) / sizeof(corpus_hex[0]))

/* SIMD arithmetic with an MMIO operand, run in a host stub (timed apart from the corpus) */
static const char *const simd_hex[] = {
    "0f 58 03",		 /* addps xmm0, [rbx] */
    "c5 f4 58 03",	 /* vaddps ymm0, ymm1, [rbx] */
    "62 f1 74 48 58 03", /* vaddps zmm0, zmm1, [rbx] */
};
#define NSIMD (sizeof(simd_hex) / sizeof(simd_hex[0]))
#define BASE  0x10000ull

static uint8_t corpus[NCORPUS][16];
static size_t corpus_len[NCORPUS];
static uint8_t simd[NSIMD][16];
static size_t simd_len[NSIMD];

static struct {
	struct xg_emu_x86_regs r, r0;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t mem[4 * 4096];
} vcpu;

static int get_regs(void *o, struct xg_emu_x86_regs *r)
{
	*r = vcpu.r;
	return 0;
}
static int set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	vcpu.r = *r;
	return 0;
}
static int get_xsave(void *o, void *xs)
{
	memcpy(xs, vcpu.xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}
static int set_xsave(void *o, const void *xs)
{
	memcpy(vcpu.xs, xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}
static int translate(void *o, uint64_t la, enum xg_emu_x86_access k, unsigned cpl, uint32_t *e)
{
	return (la >= BASE && la < BASE + sizeof(vcpu.mem)) ? 0 : 1;
}
static int rd(void *o, uint64_t la, void *buf, unsigned n, enum xg_emu_x86_access k)
{
	memcpy(buf, vcpu.mem + (la - BASE), n);
	return 0;
}
static int wr(void *o, uint64_t la, const void *buf, unsigned n)
{
	memcpy(vcpu.mem + (la - BASE), buf, n);
	return 0;
}
static int inject(void *o, const struct xg_emu_x86_exception *e)
{
	return 0;
}
static const struct xg_emu_x86_ops ops = {get_regs, set_regs, get_xsave, set_xsave, translate,
					  rd,	    wr,	      inject,	 NULL,	    NULL};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 20000;
	long n = rounds * (long)NCORPUS, ok = 0;
	struct xg_emu_x86_insn in;
	struct xg_emu_x86_result res;
	double t0, t_dec, t_emu, t_cs, t_csi, t_simd[NSIMD];
	csh h;
	cs_insn *ci;

	for (size_t i = 0; i < NCORPUS + NSIMD; i++) {
		const char *s = i < NCORPUS ? corpus_hex[i] : simd_hex[i - NCORPUS];
		uint8_t *out = i < NCORPUS ? corpus[i] : simd[i - NCORPUS];
		size_t *len = i < NCORPUS ? &corpus_len[i] : &simd_len[i - NCORPUS];
		while (*s) {
			unsigned v;
			if (*s == ' ') {
				s++;
				continue;
			}
			sscanf(s, "%2x", &v);
			out[(*len)++] = (uint8_t)v;
			s += 2;
		}
	}
	/* 64-bit mode, everything enabled, RBX and RIP inside the fake memory */
	vcpu.r.cr0 = 0x80050033;
	vcpu.r.cr4 = (1u << 5) | (1u << 9) | (1u << 18);
	vcpu.r.efer = 0x500;
	vcpu.r.xcr0 = 0xe7;
	vcpu.r.rflags = 2;
	vcpu.r.seg[XG_EMU_X86_CS].l = 1;
	vcpu.r.gpr[XG_EMU_X86_RBX] = BASE + 0x1000;
	vcpu.r.rip = BASE;
	vcpu.r.seg[XG_EMU_X86_FS].base = BASE;
	vcpu.xs[0] = 0x7f, vcpu.xs[1] = 0x03, vcpu.xs[24] = 0x80, vcpu.xs[25] = 0x1f;
	vcpu.xs[XG_EMU_X86_XS_XSTATE_BV] = 0xe7;
	vcpu.r0 = vcpu.r;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return 1;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);

	t0 = now();
	for (long r = 0; r < rounds; r++)
		for (size_t i = 0; i < NCORPUS; i++)
			ok += xg_emu_x86_decode(corpus[i], corpus_len[i], 64, 0, &in, NULL, NULL) ==
			      XG_EMU_X86_OK;
	t_dec = (now() - t0) / n;

	t0 = now();
	for (long r = 0; r < rounds; r++)
		for (size_t i = 0; i < NCORPUS; i++) {
			vcpu.r = vcpu.r0;
			if (r == 0)
				vcpu.xs[2] = vcpu.xs[3] = vcpu.xs[4] = 0; /* empty x87 stack */
			ok += xg_emu_x86_emulate(&ops, NULL, corpus[i], corpus_len[i], &res) ==
			      XG_EMU_X86_OK;
			vcpu.xs[2] = vcpu.xs[3] = vcpu.xs[4] = 0;
		}
	t_emu = (now() - t0) / n;

	/* the SIMD stub cases: each on its own, decode+emulate per instruction */
	for (size_t i = 0; i < NSIMD; i++) {
		long sok = 0;
		t0 = now();
		for (long r = 0; r < rounds; r++) {
			vcpu.r = vcpu.r0;
			sok += xg_emu_x86_emulate(&ops, NULL, simd[i], simd_len[i], &res) ==
			       XG_EMU_X86_OK;
		}
		t_simd[i] = (now() - t0) / rounds;
		ok += sok;
		if (sok != rounds)
			printf("  %s: %s\n", simd_hex[i], res.reason);
	}

	t0 = now();
	for (long r = 0; r < rounds; r++)
		for (size_t i = 0; i < NCORPUS; i++) {
			size_t k = cs_disasm(h, corpus[i], corpus_len[i], BASE, 1, &ci);
			ok += k == 1;
			cs_free(ci, k);
		}
	t_cs = (now() - t0) / n;

	ci = cs_malloc(h);
	t0 = now();
	for (long r = 0; r < rounds; r++)
		for (size_t i = 0; i < NCORPUS; i++) {
			const uint8_t *p = corpus[i];
			size_t len = corpus_len[i];
			uint64_t addr = BASE;
			ok += cs_disasm_iter(h, &p, &len, &addr, ci);
		}
	t_csi = (now() - t0) / n;
	cs_free(ci, 1);
	cs_close(&h);

	printf("x86 emulator benchmark: %zu instructions x %ld rounds (%ld successes)\n", NCORPUS,
	       rounds, ok);
	printf("  exitgate decode            %8.1f ns/insn\n", t_dec);
	printf("  exitgate decode+emulate    %8.1f ns/insn\n", t_emu);
	printf("  capstone cs_disasm detail  %8.1f ns/insn\n", t_cs);
	printf("  capstone cs_disasm_iter    %8.1f ns/insn\n", t_csi);
	printf("  decode speed-up vs cs_disasm: %.1fx (vs cs_disasm_iter: %.1fx)\n", t_cs / t_dec,
	       t_csi / t_dec);
	for (size_t i = 0; i < NSIMD; i++)
		printf("  SIMD on MMIO, host stub: %-18s %8.1f ns/insn (decode+emulate)\n",
		       simd_hex[i], t_simd[i]);
	return 0;
}
