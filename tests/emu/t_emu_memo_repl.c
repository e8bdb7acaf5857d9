/*
 * t_emu_memo_repl.c - the memo's replacement (xg_emu_x86_emulate_memo, "Replacement" in
 * xg_emu_x86.h), counted through the public API: which exits hit, how many entries are
 * compiled, how many short paths hand over. Issue 15's review saw round-robin replacement
 * give 0 hits and a compile per exit to a loop over 5 distinct instructions.
 *
 * A fake 64-bit (or 32-bit) vCPU with flat segments and a RAM window; every exit is run on
 * two copies of it, A through the pipeline and B through the memo, and the status,
 * registers and memory must agree (t_emu_memo and t_emu_memo_adv compare everything else).
 * Deterministic: no seed, no timing.
 */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "xg_emu_x86.h"

#define WIN	0x40000ull
#define NPAGE	4
#define CODE_LA 0x10000ull

struct vm {
	struct xg_emu_x86_regs r;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t mem[NPAGE * 4096];
};

static struct vm A, B;

static int v_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	*r = ((struct vm *)o)->r;
	return 0;
}

static int v_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	((struct vm *)o)->r = *r;
	return 0;
}

static int v_get_xsave(void *o, void *xs)
{
	memcpy(xs, ((struct vm *)o)->xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}

static int v_set_xsave(void *o, const void *xs)
{
	memcpy(((struct vm *)o)->xs, xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}

static int v_translate(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		       uint32_t *err)
{
	(void)o, (void)cpl;
	if (kind == XG_EMU_X86_FETCH && (la >> 12) == CODE_LA >> 12)
		return 0;
	if (la >= WIN && la < WIN + NPAGE * 4096ull)
		return 0;
	*err = (kind & XG_EMU_X86_WRITE) ? 2 : 0;
	return 1;
}

static int v_read(void *o, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	struct vm *m = o;
	if (kind == XG_EMU_X86_FETCH) {
		memset(buf, 0x90, size);
		return 0;
	}
	if (la < WIN || la + size > WIN + NPAGE * 4096ull)
		return -14;
	memcpy(buf, m->mem + (la - WIN), size);
	return 0;
}

static int v_write(void *o, uint64_t la, const void *buf, unsigned size)
{
	struct vm *m = o;
	if (la < WIN || la + size > WIN + NPAGE * 4096ull)
		return -14;
	memcpy(m->mem + (la - WIN), buf, size);
	return 0;
}

static int v_inject(void *o, const struct xg_emu_x86_exception *e)
{
	(void)o, (void)e;
	return 0;
}

static const struct xg_emu_x86_ops ops = {
    .get_regs = v_get_regs,
    .set_regs = v_set_regs,
    .get_xsave = v_get_xsave,
    .set_xsave = v_set_xsave,
    .translate = v_translate,
    .read = v_read,
    .write = v_write,
    .inject = v_inject,
};

static void seg(struct xg_emu_x86_segment *s, int code)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffffu;
	s->type = code ? 0xb : 0x3;
	s->s = 1;
	s->present = 1;
	s->db = 1;
	s->g = 1;
}

/* 64-bit mode, or 32-bit protected mode with `long_mode` 0 */
static void fresh(int long_mode)
{
	memset(&A, 0, sizeof(A));
	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++)
		seg(&A.r.seg[i], i == XG_EMU_X86_CS);
	A.r.cr0 = 0x80000011ull;
	A.r.cr4 = (1u << 9) | (1u << 18);
	A.r.xcr0 = 0x7;
	A.r.rflags = 2;
	if (long_mode) {
		A.r.efer = 0x500;
		A.r.seg[XG_EMU_X86_CS].l = 1;
		A.r.seg[XG_EMU_X86_CS].db = 0;
	}
	A.r.rip = CODE_LA + 0x100;
	A.xs[0] = 0x7f, A.xs[1] = 0x03;	  /* FCW */
	A.xs[24] = 0x80, A.xs[25] = 0x1f; /* MXCSR */
	A.xs[512] = 0x7;		  /* XSTATE_BV */
	for (size_t i = 0; i < sizeof(A.mem); i++)
		A.mem[i] = (uint8_t)(i * 13 + (i >> 8));
}

static struct xg_emu_x86_memo memo;
static int agree = 1;
static char where[96];

/* One exit on both copies; 1 if the memo's short path ran. */
static int exit_once(const uint8_t *b, size_t n)
{
	struct xg_emu_x86_result ra, rb;
	uint64_t h0 = memo.hits;

	/* the operand is RBX: in the window, the same for every exit */
	A.r.gpr[XG_EMU_X86_RBX] = WIN + 0x100;
	A.r.rip = CODE_LA + 0x100;
	B = A;
	xg_emu_x86_emulate(&ops, &A, b, n, &ra);
	xg_emu_x86_emulate_memo(&ops, &B, b, n, &memo, &rb);
	if (agree && (ra.status != XG_EMU_X86_OK || rb.status != ra.status ||
		      memcmp(&A.r, &B.r, sizeof(A.r)) || memcmp(A.mem, B.mem, sizeof(A.mem)) ||
		      memcmp(A.xs, B.xs, sizeof(A.xs)))) {
		diag("%s: memo and pipeline differ (or not OK: %s, %s)", where,
		     xg_emu_x86_status_name(ra.status), xg_emu_x86_status_name(rb.status));
		agree = 0;
	}
	return memo.hits > h0;
}

/* Distinct instructions of the memo's classes, all on [rbx + d8] in the window:
 * k < 16 a few kinds, any k a mov r32, [rbx + k] (8b 43 k) of its own. */
static unsigned insn(unsigned k, uint8_t *b)
{
	static const uint8_t kinds[][4] = {
	    {3, 0x8b, 0x43},	   {3, 0x89, 0x43},	  {3, 0x8a, 0x43},
	    {3, 0x88, 0x43},	   {4, 0x0f, 0xb6, 0x43}, {4, 0x0f, 0xbf, 0x43},
	    {4, 0x48, 0x8b, 0x43}, {4, 0x48, 0x89, 0x43}, {4, 0x0f, 0x10, 0x43},
	    {4, 0x0f, 0x11, 0x43},
	};
	unsigned n;

	memset(b, 0x90, 15);
	if (k < sizeof(kinds) / sizeof(kinds[0])) {
		n = kinds[k][0];
		memcpy(b, kinds[k] + 1, n - 1);
		b[n - 1] = 0x20; /* disp8 */
		return n;
	}
	b[0] = 0x8b, b[1] = 0x43, b[2] = (uint8_t)(k & 0x7f);
	b[3] = 0x90;
	if (k >= 0x80) { /* mov r32, [rbx + disp32] */
		b[1] = 0x83;
		b[2] = (uint8_t)k, b[3] = (uint8_t)(k >> 8), b[4] = b[5] = 0;
		return 6;
	}
	return 3;
}

static void run_insn(unsigned k, unsigned long *hit)
{
	uint8_t b[15];
	insn(k, b);
	*hit += (unsigned long)exit_once(b, 15);
}

/* A working set of 4 hits on every repeat, alone and with an interloper now and then. */
static void t_fits(void)
{
	unsigned long hit = 0, rest = 0;
	uint64_t c0;

	memset(&memo, 0, sizeof(memo));
	fresh(1);
	snprintf(where, sizeof(where), "cycle of 4");
	for (unsigned r = 0; r < 500; r++)
		for (unsigned i = 0; i < 4; i++)
			run_insn(i, r ? &hit : &rest);
	ok(hit == 499 * 4 && memo.compiles == 4,
	   "a cycle of 4: every repeat hits (%lu of %u), 4 compiles (%llu)", hit, 499 * 4,
	   (unsigned long long)memo.compiles);

	/* an instruction of its own every other round: the 4 keep their entries */
	snprintf(where, sizeof(where), "cycle of 4 with interlopers");
	hit = 0;
	c0 = memo.compiles;
	for (unsigned r = 0; r < 500; r++) {
		for (unsigned i = 0; i < 4; i++)
			run_insn(i, &hit);
		if (r & 1)
			run_insn(200 + r, &rest);
	}
	ok(hit == 500 * 4, "a cycle of 4 with 250 one-off instructions in it: all %u hit (%lu)",
	   500 * 4, hit);
	ok(memo.compiles - c0 <= 500 * 5 / XG_EMU_X86_MEMO_WINDOW,
	   "... and the one-offs compiled at most once a window (%llu)",
	   (unsigned long long)(memo.compiles - c0));
}

/* A cycle larger than the memo: some of it keeps hitting, nothing is compiled per exit. */
static void t_cycles(void)
{
	for (unsigned k = 5; k <= 8; k++) {
		unsigned long hit = 0, exits = 0;

		memset(&memo, 0, sizeof(memo));
		fresh(1);
		snprintf(where, sizeof(where), "cycle of %u", k);
		for (unsigned r = 0; r < 400; r++)
			for (unsigned i = 0; i < k; i++, exits++)
				run_insn(i, &hit);
		ok(memo.compiles <= 2 * XG_EMU_X86_MEMO_ENTRIES &&
		       hit >= (exits - k) * XG_EMU_X86_MEMO_ENTRIES / k,
		   "a cycle of %u over %lu exits: %llu compiles, %lu hits (%u of every %u)", k,
		   exits, (unsigned long long)memo.compiles, hit, XG_EMU_X86_MEMO_ENTRIES, k);
	}
}

/* One hot instruction between one-off ones: the hot one keeps its entry. */
static void t_hot(void)
{
	unsigned long hot = 0, cold = 0;

	memset(&memo, 0, sizeof(memo));
	fresh(1);
	snprintf(where, sizeof(where), "hot among cold");
	for (unsigned i = 0; i < 2000; i++) {
		run_insn(0, &hot);
		run_insn(16 + i, &cold);
	}
	ok(hot == 1999, "a hot instruction among 2000 one-off ones hits on every repeat (%lu)",
	   hot);
	ok(memo.compiles <= 1 + 4000 / XG_EMU_X86_MEMO_WINDOW * XG_EMU_X86_MEMO_ENTRIES,
	   "... the one-offs compile at most %u times a window (%llu in %u windows)",
	   XG_EMU_X86_MEMO_ENTRIES, (unsigned long long)memo.compiles,
	   4000 / XG_EMU_X86_MEMO_WINDOW);

	/* the working set moves to 4 others: they get entries and hit */
	snprintf(where, sizeof(where), "new working set");
	hot = 0;
	for (unsigned r = 0; r < 600; r++)
		for (unsigned i = 4; i < 8; i++)
			run_insn(i, r < 300 ? &cold : &hot);
	ok(hot == 300 * 4, "a new working set of 4 takes the entries (%lu of %u hit later)", hot,
	   300 * 4);
}

/* An entry whose short path hands over on every exit is parked, and used again once its
 * state allows: mov eax, [ebx] in 32-bit mode with an expand-down DS (SDM Vol. 3A 3.4.5.1),
 * which the short path leaves to the pipeline. */
static void t_handover(void)
{
	static const uint8_t mov[15] = {0x8b, 0x03};
	unsigned long hit = 0, exits = 1000;

	memset(&memo, 0, sizeof(memo));
	fresh(0);
	A.r.seg[XG_EMU_X86_DS].type = 0x7; /* data, expand-down, writable */
	A.r.seg[XG_EMU_X86_DS].limit = 0xfff;
	snprintf(where, sizeof(where), "expand-down DS");
	for (unsigned long i = 0; i < exits; i++)
		hit += (unsigned long)exit_once(mov, 15);
	ok(hit == 0 && memo.handovers <= exits / 8 && memo.compiles <= exits / 16,
	   "a short path handing over (expand-down DS): %llu hand-overs, %llu compiles in %lu "
	   "exits",
	   (unsigned long long)memo.handovers, (unsigned long long)memo.compiles, exits);

	/* a plain DS again: the entry is tried again and hits */
	A.r.seg[XG_EMU_X86_DS].type = 0x3;
	A.r.seg[XG_EMU_X86_DS].limit = 0xffffffffu;
	snprintf(where, sizeof(where), "plain DS again");
	hit = 0;
	for (unsigned long i = 0; i < 400; i++)
		hit += (unsigned long)(exit_once(mov, 15) && i >= 200);
	ok(hit == 200, "... with a plain DS again it hits (%lu of the last 200)", hit);
}

/* The VMM gives fewer bytes than the instruction has (the rest is fetched): a lookup with
 * them cannot find it, so it takes no entry. */
static void t_short(void)
{
	static const uint8_t mov[15] = {0x8b, 0x43, 0x20};

	memset(&memo, 0, sizeof(memo));
	fresh(1);
	snprintf(where, sizeof(where), "2 of 3 bytes given");
	for (unsigned i = 0; i < 100; i++)
		exit_once(mov, 2);
	ok(memo.compiles == 0 && memo.hits == 0,
	   "an instruction longer than the bytes given is not compiled (%llu compiles)",
	   (unsigned long long)memo.compiles);
}

int main(void)
{
	plan(14);
	t_fits();
	t_cycles();
	t_hot();
	t_handover();
	t_short();
	ok(agree, "the memo and the pipeline agreed on every exit");
	return done_testing();
}
