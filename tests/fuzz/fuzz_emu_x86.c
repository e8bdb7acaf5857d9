/*
 * fuzz_emu_x86.c - libFuzzer target over xg_emu_x86_decode() and xg_emu_x86_emulate().
 *
 * The input is everything a guest controls: the operating mode and control bits, the GPRs,
 * the vector state, the instruction bytes (given in part or fetched), memory contents and
 * which pages fault. The fake vCPU checks the emulator's promises on every call and aborts
 * (a finding) when one is broken:
 *   - every access stays inside one 4 KiB page and was translated (successfully) first;
 *   - no translation comes after the first write (all faults are found before writing);
 *   - an emulation that ends in an exception, a veto, "not handled" or an error wrote no
 *     memory, no register and no vector state (the allowed exceptions: a REP string
 *     instruction keeps the iterations it completed, SDM Vol. 2 REP; an MMX store that
 *     faults has set x87 TOP to 0, and a SIMD floating-point exception its MXCSR flags,
 *     as the CPU does);
 *   - decoded lengths are 1..15 and never past the bytes given;
 *   - the memo (xg_emu_x86_emulate_memo) does what the pipeline does: the same input through
 *     one memo twice (a miss that may compile it, then a hit), each on a copy of the starting
 *     state, against the pipeline on another copy, with the hook at the DECODE stage alone
 *     (the memo steps aside for any other): the same status, stage, exception, reason,
 *     decoded instruction, calls made, registers, vector state and memory written.
 * AddressSanitizer and UBSan catch the rest. Build: see tests/fuzz/CMakeLists.txt.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xg_emu_x86.h"

#define WIN    0x1000ull /* 4 pages of memory at linear 0x1000 */
#define NPAGES 4

struct fz {
	struct xg_emu_x86_regs r;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t mem[NPAGES * 4096];
	uint64_t fault_seed;
	uint8_t translated[NPAGES];
	int writes, set_regs, set_xsave, injected, veto_at;
	int xsave_beyond_mxcsr; /* a set_xsave changed more than MXCSR */
	int wrote;
	int rep_string; /* REP strings translate each iteration after the last one wrote */
	struct xg_emu_x86_regs r_out;	       /* the last set_regs */
	uint8_t xs_out[XG_EMU_X86_XSAVE_SIZE]; /* the last set_xsave */
};

static void check(int cond)
{
	if (!cond)
		abort();
}

static int page_of(uint64_t la)
{
	return (la >= WIN && la < WIN + NPAGES * 4096ull) ? (int)((la - WIN) >> 12) : -1;
}

static int g_regs(void *o, struct xg_emu_x86_regs *r)
{
	*r = ((struct fz *)o)->r;
	return 0;
}
static int s_regs(void *o, const struct xg_emu_x86_regs *r)
{
	((struct fz *)o)->set_regs++;
	((struct fz *)o)->r_out = *r;
	return 0;
}
static int g_xs(void *o, void *xs)
{
	memcpy(xs, ((struct fz *)o)->xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}
/* Does the vector state written differ from the one read in more than MXCSR? A component
 * whose XSTATE_BV bit was clear is in its initial state whatever its bytes say (SDM Vol. 1
 * 13.6): the emulator may write it out explicitly, which changes nothing. */
static int beyond_mxcsr(const uint8_t *was, const uint8_t *now)
{
	const struct { /* not static: the AVX-512 offsets are the host's, read at run time */
		unsigned bit, off, len;
	} comp[] = {
	    {0, XG_EMU_X86_XS_FCW, XG_EMU_X86_XS_MXCSR},
	    {0, XG_EMU_X86_XS_ST0, XG_EMU_X86_XS_XMM0 - XG_EMU_X86_XS_ST0},
	    {1, XG_EMU_X86_XS_XMM0, 256},
	    {2, XG_EMU_X86_XS_YMMH, 256},
	    {5, XG_EMU_X86_XS_OPMASK, 64},
	    {6, XG_EMU_X86_XS_ZMMH, 512},
	    {7, XG_EMU_X86_XS_HI16ZMM, 1024},
	};
	uint64_t bv;

	memcpy(&bv, was + XG_EMU_X86_XS_XSTATE_BV, 8);
	for (size_t i = 0; i < sizeof(comp) / sizeof(comp[0]); i++)
		if ((bv >> comp[i].bit & 1) &&
		    memcmp(was + comp[i].off, now + comp[i].off, comp[i].len))
			return 1;
	return 0;
}

static int s_xs(void *o, const void *xs)
{
	struct fz *f = o;

	f->set_xsave++;
	memcpy(f->xs_out, xs, XG_EMU_X86_XSAVE_SIZE);
	if (beyond_mxcsr(f->xs, xs))
		f->xsave_beyond_mxcsr = 1;
	return 0;
}

static int tr(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl, uint32_t *err)
{
	struct fz *f = o;
	int p = page_of(la);
	check(!f->wrote || f->rep_string); /* every fault is found before the first write */
	if (p < 0 || ((f->fault_seed >> (8 * p + (kind & 3))) & 7) == 0) {
		*err = (kind & XG_EMU_X86_WRITE ? 2u : 0u) | (cpl == 3 ? 4u : 0u);
		return 1;
	}
	f->translated[p] |= (uint8_t)kind;
	return 0;
}
static int rd(void *o, uint64_t la, void *buf, unsigned n, enum xg_emu_x86_access kind)
{
	struct fz *f = o;
	int p = page_of(la);
	check(n > 0 && n <= 64 && p >= 0 && page_of(la + n - 1) == p);
	check(f->translated[p] != 0);
	memcpy(buf, f->mem + (la - WIN), n);
	return 0;
}
static int wr(void *o, uint64_t la, const void *buf, unsigned n)
{
	struct fz *f = o;
	int p = page_of(la);
	check(n > 0 && n <= 64 && p >= 0 && page_of(la + n - 1) == p);
	check(f->translated[p] & XG_EMU_X86_WRITE);
	memcpy(f->mem + (la - WIN), buf, n);
	f->writes++;
	f->wrote = 1;
	return 0;
}
static int inj(void *o, const struct xg_emu_x86_exception *e)
{
	((struct fz *)o)->injected++;
	check(e->vector < 32);
	return 0;
}
static int hook(void *o, enum xg_emu_x86_stage s, const struct xg_emu_x86_insn *in,
		const struct xg_emu_x86_exception *e)
{
	check((unsigned)s < XG_EMU_X86_NSTAGES && in->len <= 15);
	return (int)s == ((struct fz *)o)->veto_at;
}

static const struct xg_emu_x86_ops ops = {
    .get_regs = g_regs,
    .set_regs = s_regs,
    .get_xsave = g_xs,
    .set_xsave = s_xs,
    .translate = tr,
    .read = rd,
    .write = wr,
    .inject = inj,
    .hook = hook,
};

/* the same calls with the hook at DECODE alone: the memo runs only then */
static struct xg_emu_x86_ops ops_decode;

/* The memo against the pipeline from the starting state f0 (see the top). */
static void memo_vs_pipeline(const struct fz *f0, const uint8_t *b, size_t n)
{
	static struct fz p, m;
	static struct xg_emu_x86_memo memo;
	struct xg_emu_x86_result rp, rm;

	ops_decode = ops;
	ops_decode.hook_stages = 1u << XG_EMU_X86_STAGE_DECODE;
	memset(&memo, 0, sizeof(memo));
	p = *f0;
	memset(&rp, 0x55, sizeof(rp));
	xg_emu_x86_emulate(&ops_decode, &p, b, n, &rp);
	for (int i = 0; i < 2; i++) {
		m = *f0;
		memset(&rm, 0xaa, sizeof(rm));
		xg_emu_x86_emulate_memo(&ops_decode, &m, b, n, &memo, &rm);
		check(rm.status == rp.status && rm.stage == rp.stage);
		check(!memcmp(&rm.exc, &rp.exc, sizeof(rp.exc)) && !strcmp(rm.reason, rp.reason));
		check(rp.status == XG_EMU_X86_ERROR ||
		      (!memcmp(&rm.insn, &rp.insn, offsetof(struct xg_emu_x86_insn, name)) &&
		       rm.insn.name == rp.insn.name));
		check(m.writes == p.writes && m.set_regs == p.set_regs &&
		      m.set_xsave == p.set_xsave && m.injected == p.injected);
		check(!memcmp(&m.r_out, &p.r_out, sizeof(p.r_out)));
		check(!memcmp(m.xs_out, p.xs_out, sizeof(p.xs_out)));
		check(!memcmp(m.mem, p.mem, sizeof(p.mem)));
	}
	/* one pipeline run for each, the first compiled it at most, the second hit at most */
	check(memo.hits + memo.misses == 2 && memo.compiles <= 1);
}

static uint64_t take(const uint8_t **d, size_t *n, unsigned k)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < k && *n; i++, (*d)++, (*n)--)
		v |= (uint64_t) * *d << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f, f0;
	struct xg_emu_x86_result res;
	struct xg_emu_x86_insn in;
	const uint8_t *d = data;
	size_t n = size;
	uint8_t insn[15];
	unsigned mode, given, st;
	uint64_t cfg;

	memset(&f, 0, sizeof(f));
	cfg = take(&d, &n, 4);
	mode = cfg & 3;
	f.fault_seed = take(&d, &n, 8);
	f.veto_at = (cfg >> 8) & 15; /* >= NSTAGES: no veto */
	if (f.veto_at < XG_EMU_X86_NSTAGES && (cfg >> 12) & 1)
		f.veto_at = -1;
	/* control state: mostly sane, sometimes not */
	f.r.cr0 = mode == 3 ? 0x10 : 0x80050033;
	f.r.cr0 |= ((cfg >> 2) & 3) << 2; /* EM, TS */
	f.r.cr4 = (1u << 5) | ((cfg >> 4) & 1 ? 0 : (1u << 9) | (1u << 18)) |
		  ((cfg >> 20) & 1 ? 1u << 12 : 0);
	f.r.efer = mode == 0 ? 0x500 : 0;
	f.r.xcr0 = (cfg >> 5) & 1 ? 7 : (cfg >> 6) & 1 ? 3 : 0xe7;
	f.r.rflags = 2 | (take(&d, &n, 4) & 0x40cd5);
	for (int i = 0; i < XG_EMU_X86_NSEG; i++) {
		struct xg_emu_x86_segment *s = &f.r.seg[i];
		s->present = 1;
		s->type = i == XG_EMU_X86_CS ? 0xb : 3;
		s->limit = (cfg >> 24) & 1 ? 0x3fff : 0xffffffff;
		s->db = mode == 1;
		s->dpl = (cfg >> 7) & 1 ? 3 : 0;
		s->base = (cfg >> 25) & 1 ? 0x800 : 0;
	}
	f.r.seg[XG_EMU_X86_CS].l = mode == 0;
	if ((cfg >> 26) & 1)
		f.r.seg[XG_EMU_X86_FS].base = take(&d, &n, 8);
	/* GPRs: near the window, or anything */
	for (int i = 0; i < 16; i++) {
		uint8_t b = (uint8_t)take(&d, &n, 1);
		f.r.gpr[i] = b < 0xc0 ? WIN + 0x10 * (uint64_t)b + (b & 7) : take(&d, &n, 8);
	}
	f.r.rip = WIN + 0x40 + (take(&d, &n, 2) & 0x3fff);
	/* instruction bytes: some given, the rest (if needed) fetched from memory at RIP */
	given = (unsigned)take(&d, &n, 1) % 16;
	memset(insn, 0x90, sizeof(insn));
	for (unsigned i = 0; i < 15; i++)
		insn[i] = (uint8_t)take(&d, &n, 1);
	/* vector state, then memory */
	for (size_t i = 0; i < sizeof(f.xs) && n; i++)
		f.xs[i] = (uint8_t)take(&d, &n, 1);
	for (size_t i = 0; i < sizeof(f.mem) && n; i++)
		f.mem[i] = (uint8_t)take(&d, &n, 1);
	if (page_of(f.r.rip) >= 0 && page_of(f.r.rip + 14) >= 0)
		memcpy(f.mem + (f.r.rip - WIN), insn, 15);

	/* decode alone, every mode: bounded and sane */
	for (unsigned m = 0; m < 4; m++) {
		unsigned bits = m == 0 ? 64 : m == 1 ? 32 : 16;
		st = xg_emu_x86_decode(insn, given, bits, m == 3, &in, NULL, NULL);
		if (st == XG_EMU_X86_OK)
			check(in.len >= 1 && in.len <= given);
	}

	{
		unsigned bits = mode == 0 ? 64 : mode == 1 ? 32 : 16;
		if (xg_emu_x86_decode(insn, 15, bits, mode == 3, &in, NULL, NULL) == XG_EMU_X86_OK)
			f.rep_string =
			    in.map == 0 && in.opcode >= 0xa4 && in.opcode <= 0xaf && in.rep;
	}
	f0 = f; /* the starting state, for memo_vs_pipeline() */
	st = xg_emu_x86_emulate(&ops, &f, given ? insn : NULL, given, &res);
	if (st != XG_EMU_X86_OK) {
		int rep_string = res.insn.map == 0 && res.insn.opcode >= 0xa4 &&
				 res.insn.opcode <= 0xaf && res.insn.rep;
		/* an MMX store (MOVD/MOVQ/MOVNTQ to memory: 0F 7E, 0F 7F, 0F E7 without a
		 * mandatory prefix) that faults has set x87 TOP to 0 first, as the CPU does
		 * (xg_emu_x86.h): its vector state, and nothing else, may be written */
		int mmx_store = res.insn.enc == XG_EMU_X86_ENC_LEGACY &&
				res.insn.map == XG_EMU_X86_MAP_0F && !res.insn.pfx &&
				(res.insn.opcode == 0x7e || res.insn.opcode == 0x7f ||
				 res.insn.opcode == 0xe7) &&
				res.insn.mod != 3;
		/* ... and keeps it when the exception is vetoed, as a REP string instruction keeps
		 * its completed iterations (xg_emu_x86.h) */
		/* a SIMD floating-point exception (#XM, or #UD with CR4.OSXMMEXCPT = 0) is taken
		 * with its MXCSR flags set, as the CPU sets them (xg_emu_x86.h): MXCSR, and no
		 * other byte of the vector state, may be written (a veto of it leaves them) */
		int exc_or_vetoed =
		    st == XG_EMU_X86_EXCEPTION ||
		    (st == XG_EMU_X86_VETOED && f.veto_at == XG_EMU_X86_STAGE_EXCEPTION);
		int simd_fp =
		    exc_or_vetoed &&
		    (res.exc.vector == XG_EMU_X86_XM || res.exc.vector == XG_EMU_X86_UD) &&
		    !f.xsave_beyond_mxcsr;
		if (mmx_store && exc_or_vetoed)
			check(f.writes == 0 && f.set_regs == 0);
		else if (simd_fp)
			check(f.writes == 0 && f.set_regs == 0);
		else if (!((st == XG_EMU_X86_EXCEPTION || st == XG_EMU_X86_VETOED) && rep_string))
			check(f.writes == 0 && f.set_regs == 0 && f.set_xsave == 0);
	}
	check(st != XG_EMU_X86_EXCEPTION || f.injected == 1);
	check(st == XG_EMU_X86_EXCEPTION || f.injected == 0);
	memo_vs_pipeline(&f0, given ? insn : NULL, given);
	return 0;
}
