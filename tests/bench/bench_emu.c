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
 *
 * Each warm row is the best of `reps` passes (a pass is `rounds` times the corpus), which
 * cancels most of the noise of a shared machine. The cold rows model the emulator in situ: it
 * runs right after a trip through the kernel (and, here, the outer hypervisor) that has
 * emptied the caches and the TLB of what it touches. Before each instruction the bench walks
 * `evict_mib` MiB of data (L1d, L2 and the data TLB: this host's L2 is 2 MiB a core) and runs
 * 256 KiB of straight-line code (L1i and the instruction TLB), then times that one instruction
 * alone; the clock's own cost, measured the same way, is taken off. The last level cache is
 * left warm, as it mostly is after a KVM exit. Cold rows are the median of `reps` passes.
 * "XSAVE image lent" rows run the same corpus through ops that lend the fake vCPU's image
 * (lend_xsave, as the KVM backend does) instead of copying it in and out.
 *
 * The memo rows take the corpus instructions of the memo's classes (xg_emu_x86_emulate_memo:
 * GP mov, unmasked full-width vector moves), each with its own memo, compiled once before the
 * timing, as a vCPU that exits on the same instruction keeps it: the pipeline against the
 * memo's short path, warm and cold (the memo is evicted with the rest), both with the hook
 * exitgate's bridge sets.
 *
 *   bench_emu [rounds [reps [evict_mib [row]]]]        defaults 20000 7 4 all
 *
 * `row` runs one row alone (decode, emulate, cold-decode, cold-emulate), for a simulator:
 *   valgrind --tool=callgrind --cache-sim=yes --toggle-collect=xg_emu_x86_emulate \
 *            bench_emu 1000 1 4 cold-emulate
 * counts the instructions and the cache lines (LL misses with --LL set to this host's L2)
 * of each instruction, the same on a loaded machine as on an idle one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
/* a VMM that lends its image (lend_xsave): no copy in, none out */
static int lend_xsave(void *o, void **xs)
{
	*xs = vcpu.xs;
	return 0;
}
static int set_xsave_lent(void *o, const void *xs)
{
	if (xs != vcpu.xs)
		memcpy(vcpu.xs, xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}
static int discard_xsave(void *o)
{
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
static const struct xg_emu_x86_ops ops = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .get_xsave = get_xsave,
    .set_xsave = set_xsave,
    .translate = translate,
    .read = rd,
    .write = wr,
    .inject = inject,
};
static const struct xg_emu_x86_ops ops_lend = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .get_xsave = get_xsave,
    .set_xsave = set_xsave_lent,
    .translate = translate,
    .read = rd,
    .write = wr,
    .inject = inject,
    .lend_xsave = lend_xsave,
    .discard_xsave = discard_xsave,
};
/* exitgate's bridge (core/action/emulate_x86.c) sets a hook that looks at the DECODE stage */
static int hook(void *o, enum xg_emu_x86_stage s, const struct xg_emu_x86_insn *in,
		const struct xg_emu_x86_exception *e)
{
	return s == XG_EMU_X86_STAGE_DECODE && in->len > 15;
}
static const struct xg_emu_x86_ops ops_hook = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .get_xsave = get_xsave,
    .set_xsave = set_xsave,
    .translate = translate,
    .read = rd,
    .write = wr,
    .inject = inject,
    .hook = hook,
    .hook_stages = 1u << XG_EMU_X86_STAGE_DECODE,
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* What a trip through the kernel leaves: data caches, code caches and TLBs full of other
 * things. evict_buf is walked a line at a time (written, so that the lines are owned
 * elsewhere than in this core's caches as little as possible), evict_code is straight-line
 * code that ends in RET. */
static volatile uint8_t *evict_buf;
static size_t evict_size;
static void (*evict_code)(void);
#define EVICT_CODE_SIZE (256 * 1024)

static int evict_init(size_t mib)
{
	uint8_t *code;

	evict_size = mib << 20;
	evict_buf = malloc(evict_size);
	code =
	    mmap(NULL, EVICT_CODE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!evict_buf || code == MAP_FAILED)
		return -1;
	memset((void *)evict_buf, 1, evict_size);
	/* 4-byte NOPs (0F 1F 40 00) and a RET */
	for (size_t i = 0; i + 4 < EVICT_CODE_SIZE; i += 4)
		memcpy(code + i, "\x0f\x1f\x40\x00", 4);
	code[EVICT_CODE_SIZE - 4] = 0xc3;
	if (mprotect(code, EVICT_CODE_SIZE, PROT_READ | PROT_EXEC))
		return -1;
	evict_code = (void (*)(void))(void *)code;
	return 0;
}

static void evict(void)
{
	for (size_t i = 0; i < evict_size; i += 64)
		evict_buf[i]++;
	evict_code();
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int k)
{
	qsort(v, k, sizeof(*v), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

enum { T_DECODE, T_EMULATE, T_EMULATE_LEND, T_CLOCK, T_MEMO };

/* One memo per corpus instruction, as a vCPU exiting on that one again and again keeps it;
 * memo_class[i] is 1 for the instructions a memo takes (its short path ran). */
static struct xg_emu_x86_memo memos[NCORPUS];
static int memo_class[NCORPUS];

/* One instruction timed alone after an eviction: ns (the clock's own cost included). */
static double cold_one(int what, size_t i, long *ok)
{
	struct xg_emu_x86_insn in;
	struct xg_emu_x86_result res;
	double t0, t1;

	vcpu.r = vcpu.r0;
	vcpu.xs[2] = vcpu.xs[3] = vcpu.xs[4] = 0; /* empty x87 stack */
	evict();
	now(); /* the clock's own code and data back in the cache */
	t0 = now();
	if (what == T_DECODE)
		*ok += xg_emu_x86_decode(corpus[i], corpus_len[i], 64, 0, &in, NULL, NULL) ==
		       XG_EMU_X86_OK;
	else if (what == T_EMULATE || what == T_EMULATE_LEND)
		*ok += xg_emu_x86_emulate(what == T_EMULATE ? &ops : &ops_lend, NULL, corpus[i],
					  corpus_len[i], &res) == XG_EMU_X86_OK;
	else if (what == T_MEMO)
		*ok += xg_emu_x86_emulate_memo(&ops_hook, NULL, corpus[i], corpus_len[i], &memos[i],
					       &res) == XG_EMU_X86_OK;
	t1 = now();
	return t1 - t0;
}

/* A cold pass: every corpus instruction `rounds` times, each after an eviction; mean ns.
 * With `memo_only`, the memo's classes only. */
static double cold_pass(int what, long rounds, long *ok, int memo_only)
{
	double sum = 0;
	long k = 0;
	for (long r = 0; r < rounds; r++)
		for (size_t i = 0; i < NCORPUS; i++)
			if (!memo_only || memo_class[i])
				sum += cold_one(what, i, ok), k++;
	return k ? sum / (double)k : 0;
}

/* A warm pass over the memo's classes, through the pipeline or the memo: ns per insn. */
static double warm_memo_pass(int memo, long rounds, long *ok)
{
	struct xg_emu_x86_result res;
	double t0 = now();
	long k = 0;
	for (long r = 0; r < rounds; r++)
		for (size_t i = 0; i < NCORPUS; i++) {
			if (!memo_class[i])
				continue;
			vcpu.r = vcpu.r0;
			*ok += (memo ? xg_emu_x86_emulate_memo(&ops_hook, NULL, corpus[i],
							       corpus_len[i], &memos[i], &res)
				     : xg_emu_x86_emulate(&ops_hook, NULL, corpus[i], corpus_len[i],
							  &res)) == XG_EMU_X86_OK;
			k++;
		}
	return (now() - t0) / (double)(k ? k : 1);
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 20000;
	int reps = argc > 2 ? atoi(argv[2]) : 7;
	long evict_mib = argc > 3 ? atol(argv[3]) : 4;
	const char *row = argc > 4 ? argv[4] : "all";
	int all = !strcmp(row, "all"), only_cold = !strncmp(row, "cold-", 5);
	long cold_rounds = rounds / 200 > 0 ? rounds / 200 : 1;
	long n = rounds * (long)NCORPUS, ok = 0;
	struct xg_emu_x86_insn in;
	struct xg_emu_x86_result res;
	double t0, t, t_dec = 1e30, t_emu = 1e30, t_hook = 1e30, t_lend = 1e30, t_cs, t_csi,
		      t_simd[NSIMD];
	double c_clk[64], c_dec[64], c_emu[64], c_lend[64], c_mpipe[64], c_memo[64];
	double t_mpipe = 1e30, t_memo = 1e30;
	size_t nmemo = 0;
	csh h;
	cs_insn *ci;

	if (reps < 1 || reps > 64 || rounds < 1 || evict_mib < 1 ||
	    (!all && strcmp(row, "decode") && strcmp(row, "emulate") &&
	     strcmp(row, "cold-decode") && strcmp(row, "cold-emulate"))) {
		fprintf(stderr,
			"usage: bench_emu [rounds [reps (1-64) [evict_mib [row]]]]\n"
			"  row: all (default), decode, emulate, cold-decode, cold-emulate\n");
		return 2;
	}
	if (evict_init((size_t)evict_mib)) {
		perror("bench_emu: eviction buffers");
		return 1;
	}
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
	/* which corpus instructions the memo takes: compiled by a first run, a hit on the next */
	for (size_t i = 0; i < NCORPUS; i++) {
		for (int k = 0; k < 2; k++) {
			vcpu.r = vcpu.r0;
			xg_emu_x86_emulate_memo(&ops_hook, NULL, corpus[i], corpus_len[i],
						&memos[i], &res);
		}
		memo_class[i] = memos[i].hits == 1;
		nmemo += memo_class[i];
	}
	vcpu.r = vcpu.r0;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return 1;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);

	/* warm: decode and decode+emulate passes alternate, the best of each is kept */
	for (int k = 0; k < reps; k++) {
		if (!all && strcmp(row, "decode"))
			goto emulate;
		t0 = now();
		for (long r = 0; r < rounds; r++)
			for (size_t i = 0; i < NCORPUS; i++)
				ok += xg_emu_x86_decode(corpus[i], corpus_len[i], 64, 0, &in, NULL,
							NULL) == XG_EMU_X86_OK;
		t = (now() - t0) / n;
		t_dec = t < t_dec ? t : t_dec;
	emulate:
		if (!all && strcmp(row, "emulate"))
			continue;
		t0 = now();
		for (long r = 0; r < rounds; r++)
			for (size_t i = 0; i < NCORPUS; i++) {
				vcpu.r = vcpu.r0;
				ok += xg_emu_x86_emulate(&ops, NULL, corpus[i], corpus_len[i],
							 &res) == XG_EMU_X86_OK;
				vcpu.xs[2] = vcpu.xs[3] = vcpu.xs[4] = 0; /* empty x87 stack */
			}
		t = (now() - t0) / n;
		t_emu = t < t_emu ? t : t_emu;
		if (!all)
			continue;
		t0 = now();
		for (long r = 0; r < rounds; r++)
			for (size_t i = 0; i < NCORPUS; i++) {
				vcpu.r = vcpu.r0;
				ok += xg_emu_x86_emulate(&ops_hook, NULL, corpus[i], corpus_len[i],
							 &res) == XG_EMU_X86_OK;
				vcpu.xs[2] = vcpu.xs[3] = vcpu.xs[4] = 0;
			}
		t = (now() - t0) / n;
		t_hook = t < t_hook ? t : t_hook;
		t0 = now();
		for (long r = 0; r < rounds; r++)
			for (size_t i = 0; i < NCORPUS; i++) {
				vcpu.r = vcpu.r0;
				ok += xg_emu_x86_emulate(&ops_lend, NULL, corpus[i], corpus_len[i],
							 &res) == XG_EMU_X86_OK;
				vcpu.xs[2] = vcpu.xs[3] = vcpu.xs[4] = 0;
			}
		t = (now() - t0) / n;
		t_lend = t < t_lend ? t : t_lend;
		t = warm_memo_pass(0, rounds, &ok);
		t_mpipe = t < t_mpipe ? t : t_mpipe;
		t = warm_memo_pass(1, rounds, &ok);
		t_memo = t < t_memo ? t : t_memo;
	}

	/* cold: the clock alone, decode, decode+emulate, interleaved pass by pass */
	for (int k = 0; k < reps; k++) {
		long dummy = 0;
		c_clk[k] = c_dec[k] = c_emu[k] = c_lend[k] = c_mpipe[k] = c_memo[k] = 0;
		if (all)
			c_clk[k] = cold_pass(T_CLOCK, cold_rounds, &dummy, 0);
		if (all || !strcmp(row, "cold-decode"))
			c_dec[k] = cold_pass(T_DECODE, only_cold ? rounds : cold_rounds, &ok, 0);
		if (all || !strcmp(row, "cold-emulate"))
			c_emu[k] = cold_pass(T_EMULATE, only_cold ? rounds : cold_rounds, &ok, 0);
		if (all) {
			c_lend[k] = cold_pass(T_EMULATE_LEND, cold_rounds, &ok, 0);
			c_mpipe[k] = cold_pass(T_EMULATE, cold_rounds, &ok, 1);
			c_memo[k] = cold_pass(T_MEMO, cold_rounds, &ok, 1);
		}
	}
	if (!all) {
		printf("%s: %ld successes\n", row, ok);
		return 0;
	}

	/* the SIMD stub cases: each on its own, decode+emulate per instruction */
	for (size_t i = 0; i < NSIMD; i++) {
		long sok = 0;
		t_simd[i] = 1e30;
		for (int k = 0; k < reps; k++) {
			t0 = now();
			for (long r = 0; r < rounds; r++) {
				vcpu.r = vcpu.r0;
				sok += xg_emu_x86_emulate(&ops, NULL, simd[i], simd_len[i], &res) ==
				       XG_EMU_X86_OK;
			}
			t = (now() - t0) / rounds;
			t_simd[i] = t < t_simd[i] ? t : t_simd[i];
		}
		ok += sok;
		if (sok != rounds * reps)
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

	printf(
	    "x86 emulator benchmark: %zu instructions x %ld rounds, best of %d (%ld successes)\n",
	    NCORPUS, rounds, reps, ok);
	printf("  exitgate decode            %8.1f ns/insn\n", t_dec);
	printf("  exitgate decode+emulate    %8.1f ns/insn\n", t_emu);
	printf("  ... with exitgate's hook   %8.1f ns/insn (at DECODE, as its bridge sets it)\n",
	       t_hook);
	printf("  ... XSAVE image lent       %8.1f ns/insn (lend_xsave: no copy in or out)\n",
	       t_lend);
	double clk = median(c_clk, reps);
	printf("  cold (%ld MiB and 256 KiB of code evicted before each; %zu x %ld, median of %d; "
	       "clock %.1f ns taken off):\n",
	       evict_mib, NCORPUS, cold_rounds, reps, clk);
	printf("  exitgate decode, cold      %8.1f ns/insn\n", median(c_dec, reps) - clk);
	printf("  exitgate decode+emulate, cold %5.1f ns/insn\n", median(c_emu, reps) - clk);
	printf("  ... XSAVE image lent, cold %8.1f ns/insn\n", median(c_lend, reps) - clk);
	printf("  the memo's classes (%zu of the corpus: GP mov, unmasked vector moves), each "
	       "repeated as a vCPU's exits repeat it, exitgate's hook at DECODE:\n",
	       nmemo);
	printf("  decode+emulate, pipeline   %8.1f ns/insn, cold %8.1f\n", t_mpipe,
	       median(c_mpipe, reps) - clk);
	printf("  decode+emulate, memo       %8.1f ns/insn, cold %8.1f\n", t_memo,
	       median(c_memo, reps) - clk);
	printf("  capstone cs_disasm detail  %8.1f ns/insn\n", t_cs);
	printf("  capstone cs_disasm_iter    %8.1f ns/insn\n", t_csi);
	printf("  decode speed-up vs cs_disasm: %.1fx (vs cs_disasm_iter: %.1fx)\n", t_cs / t_dec,
	       t_csi / t_dec);
	for (size_t i = 0; i < NSIMD; i++)
		printf("  SIMD on MMIO, host stub: %-18s %8.1f ns/insn (decode+emulate)\n",
		       simd_hex[i], t_simd[i]);
	return 0;
}
