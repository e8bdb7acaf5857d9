/*
 * t_emu_memo.c - the memo (xg_emu_x86_emulate_memo, core/emu/x86/xg_emu_x86_fast.c) against
 * the pipeline (xg_emu_x86_emulate), which is the reference.
 *
 * Each case is a short "loop" of exits on a few instructions (1 to 4) of the memo's classes -
 * GP mov 88/89/8A/8B and the full-width vector moves, legacy, VEX and EVEX, with random
 * prefixes, REX/VEX/EVEX fields (masks and broadcasts now and then, which the memo must not
 * take), ModRM/SIB/displacements - now and then another instruction, on a random machine: the
 * operating mode (64-bit, compatibility, 32- and 16-bit protected, real, virtual-8086), CPL,
 * CR0.EM/TS/AM, CR4.OSFXSR/OSXSAVE/LA57, XCR0, RFLAGS.AC, segment bases, limits, types and
 * usability, GPRs aimed into a window of pages (each present or not, writable or not, user or
 * not, RAM or MMIO with read side effects) or off it, the vector registers and XSTATE_BV.
 * Between the exits of a case the machine changes: any of the above, so that an entry
 * compiled under one state is used under another. Two identical machines take each exit,
 * one through the pipeline and one through the memo (kept for the whole case), and
 * everything is compared: status, stage, exception, reason, the decoded instruction, the
 * registers, the XSAVE image, memory, MMIO side effects, and the log of every ops call with
 * its arguments and data in order. The hook is random per case: none, a DECODE-stage veto
 * (what the memo supports) or one at every stage (the memo must step aside).
 *
 * Seeded: the seed is printed; XG_SEED=n reproduces, XG_SEED=random draws one, XG_CASES=n
 * sets the number of cases (default 20,000), XG_CASE=i runs case i alone and prints each
 * exit's bytes. A mismatch prints the seed, the case, the exit and the bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle_rand.h"
#include "tap.h"
#include "xg_emu_x86.h"

#define WIN	0x40000ull /* the window of pages, linear */
#define NPAGE	16
#define LOGMAX	48
#define CODE_LA 0x20000ull /* where fetches read (a RAM page) */

#define WIN_PAGES NPAGE
#include "memo_gen.h" /* after WIN */

enum { L_GET_REGS = 1, L_SET_REGS, L_GET_XS, L_SET_XS, L_TRANS, L_READ, L_WRITE, L_INJECT, L_HOOK };

struct rec {
	uint8_t op, kind;
	uint16_t size;
	uint32_t x;
	uint64_t la, h;
};

struct machine {
	struct xg_emu_x86_regs r;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t mem[NPAGE * 4096];
	uint8_t code[4096];
	uint8_t present[NPAGE], rw[NPAGE], us[NPAGE], mmio[NPAGE];
	uint64_t mmio_reads; /* the side effect of an MMIO read */
	struct rec log[LOGMAX];
	unsigned nlog, overflow;
	int hook_kind; /* 0 none, 1 DECODE-stage veto, 2 every stage */
	int fail_op;   /* an op that fails with -EIO (0: none) */
};

static struct machine A, B; /* A: pipeline, B: memo */

static void logit(struct machine *m, unsigned op, uint64_t la, unsigned size, unsigned kind,
		  uint32_t x, uint64_t h)
{
	struct rec *r;
	if (m->nlog >= LOGMAX) {
		m->overflow++;
		return;
	}
	r = &m->log[m->nlog++];
	memset(r, 0, sizeof(*r));
	r->op = (uint8_t)op;
	r->la = la;
	r->size = (uint16_t)size;
	r->kind = (uint8_t)kind;
	r->x = x;
	r->h = h;
}

static int m_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct machine *m = o;
	logit(m, L_GET_REGS, 0, 0, 0, 0, 0);
	if (m->fail_op == L_GET_REGS)
		return -5;
	memcpy(r, &m->r, sizeof(*r));
	return 0;
}

static int m_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	struct machine *m = o;
	logit(m, L_SET_REGS, 0, 0, 0, 0, hash(r, sizeof(*r)));
	if (m->fail_op == L_SET_REGS)
		return -5;
	memcpy(&m->r, r, sizeof(*r));
	return 0;
}

static int m_get_xsave(void *o, void *xs)
{
	struct machine *m = o;
	logit(m, L_GET_XS, 0, 0, 0, 0, 0);
	if (m->fail_op == L_GET_XS)
		return -5;
	memcpy(xs, m->xs, sizeof(m->xs));
	return 0;
}

static int m_set_xsave(void *o, const void *xs)
{
	struct machine *m = o;
	logit(m, L_SET_XS, 0, 0, 0, 0, hash(xs, sizeof(m->xs)));
	if (m->fail_op == L_SET_XS)
		return -5;
	memcpy(m->xs, xs, sizeof(m->xs));
	return 0;
}

static int page_of(uint64_t la)
{
	return la >= WIN && la < WIN + NPAGE * 4096ull ? (int)((la - WIN) >> 12) : -1;
}

/* A page walk's verdict (SDM Vol. 3A 4.7 error code: P, W/R, U/S, I/D) */
static int m_translate(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		       uint32_t *err)
{
	struct machine *m = o;
	int p = page_of(la);
	uint32_t e = ((kind & XG_EMU_X86_WRITE) && kind != XG_EMU_X86_FETCH ? 2 : 0) |
		     (cpl == 3 ? 4 : 0) | (kind == XG_EMU_X86_FETCH ? 16 : 0);
	int rc = 0;

	if (kind == XG_EMU_X86_FETCH && (la >> 12) == CODE_LA >> 12)
		rc = 0;
	else if (p < 0 || !m->present[p])
		rc = 1;
	else if (((e & 2) && !m->rw[p]) || ((e & 4) && !m->us[p]))
		rc = 1, e |= 1;
	logit(m, L_TRANS, la, 0, kind, cpl, 0);
	if (m->fail_op == L_TRANS)
		return -5;
	if (rc)
		*err = e;
	return rc;
}

static int m_read(void *o, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	struct machine *m = o;
	int p = page_of(la);

	logit(m, L_READ, la, size, kind, 0, 0);
	if (m->fail_op == L_READ)
		return -5;
	if (kind == XG_EMU_X86_FETCH && (la >> 12) == CODE_LA >> 12) {
		memcpy(buf, m->code + (la & 4095), size);
		return 0;
	}
	if (p < 0 || (la & 4095) + size > 4096)
		return -14;
	if (m->mmio[p]) {
		/* a device register: what it reads depends on how often it was read */
		for (unsigned i = 0; i < size; i++)
			((uint8_t *)buf)[i] = (uint8_t)(m->mmio_reads * 31 + i + (la & 0xff));
		m->mmio_reads++;
		return 0;
	}
	memcpy(buf, m->mem + (la - WIN), size);
	return 0;
}

static int m_write(void *o, uint64_t la, const void *buf, unsigned size)
{
	struct machine *m = o;
	int p = page_of(la);

	logit(m, L_WRITE, la, size, 0, 0, hash(buf, size));
	if (m->fail_op == L_WRITE)
		return -5;
	if (p < 0 || (la & 4095) + size > 4096)
		return -14;
	memcpy(m->mem + (la - WIN), buf, size);
	return 0;
}

static int m_inject(void *o, const struct xg_emu_x86_exception *e)
{
	struct machine *m = o;
	logit(m, L_INJECT, e->cr2, e->vector, e->has_error, e->error, 0);
	return 0;
}

/* Vetoes that depend on the decoded instruction alone, as exitgate's bridge's does. */
static int m_hook(void *o, enum xg_emu_x86_stage s, const struct xg_emu_x86_insn *in,
		  const struct xg_emu_x86_exception *exc)
{
	struct machine *m = o;
	unsigned h = (unsigned)(in->len * 7 + in->reg * 3 + in->modrm + in->enc);

	logit(m, L_HOOK, 0, 0, s, exc ? exc->vector : 0xff, hash(in->bytes, in->len));
	if (m->hook_kind == 1)
		return h % 11 == 0;
	return h % 13 == s;
}

static const struct xg_emu_x86_ops ops_plain = {
    .get_regs = m_get_regs,
    .set_regs = m_set_regs,
    .get_xsave = m_get_xsave,
    .set_xsave = m_set_xsave,
    .translate = m_translate,
    .read = m_read,
    .write = m_write,
    .inject = m_inject,
};
static struct xg_emu_x86_ops ops_decode, ops_all;

/* ---- the machine ---- */

static void rnd_machine(struct machine *m)
{
	struct xg_emu_x86_regs *r = &m->r;
	uint64_t bv;

	memset(m, 0, sizeof(*m));
	gen_mode(&m->r, rn(3) ? 0 : rn(6));
	r->cr4 = (1u << 9) | (1u << 18) | (rn(8) == 0 ? 1u << 12 : 0);
	r->xcr0 = rn(4) ? 0xe7 : rn(2) ? 0x7 : 0x3;
	r->vendor = XG_EMU_X86_VENDOR_HOST;
	for (unsigned i = 0; i < 16; i++)
		r->gpr[i] = rnd();
	r->rip = CODE_LA + rn(4000);
	rnd_bytes(m->xs, sizeof(m->xs));
	memset(m->xs + 0, 0, 32);
	m->xs[0] = 0x7f, m->xs[1] = 0x03;		   /* FCW */
	m->xs[24] = 0x80, m->xs[25] = 0x1f, m->xs[26] = 0; /* MXCSR */
	m->xs[27] = 0;
	memset(m->xs + 28, 0, 4);
	memset(m->xs + 512, 0, 64);
	bv = rnd() & 0xe7;
	memcpy(m->xs + 512, &bv, 8);
	rnd_bytes(m->mem, sizeof(m->mem));
	rnd_bytes(m->code, sizeof(m->code));
	for (unsigned p = 0; p < NPAGE; p++) {
		m->present[p] = rn(8) != 0;
		m->rw[p] = rn(6) != 0;
		m->us[p] = rn(6) != 0;
		m->mmio[p] = rn(3) == 0;
	}
}

/* ---- instructions ---- */

/* Aim the memory operand: its base register such that the linear address lands in the
 * window (at an edge of a page or a vector now and then), the segment base below it. */
static void aim(struct machine *m, const uint8_t *b, size_t n)
{
	struct xg_emu_x86_regs *r = &m->r;
	struct xg_emu_x86_insn in;
	struct xg_emu_x86_exception exc;
	unsigned mode = xg_emu_x86_code_bits(r);
	int real = !(r->cr0 & 1) || (r->rflags & (1ull << 17));
	uint64_t la, ea, base, other, am;

	if (xg_emu_x86_decode(b, n, mode, real, &in, &exc, NULL) != XG_EMU_X86_OK || !in.has_mem)
		return;
	if (rn(12) == 0)
		return; /* wherever the registers point */
	la = WIN + rn(NPAGE * 4096);
	if (mode == 64 && rn(16) == 0) {
		/* at the edge of the canonical range, 48 or 57 bits (SDM Vol. 1 3.3.7.1) */
		la = (rn(2) ? 1ull << 47 : 1ull << 56) - 32 + rn(64);
		if (rn(2))
			la = ~la + 1;
	}
	switch (rn(4)) {
	case 0:
		la &= ~63ull;
		break;
	case 1:
		la = (la | 4095) - rn(40); /* across a page */
		break;
	case 2:
		la &= ~(uint64_t)(rn(2) ? 15 : 31);
		break;
	}
	base = mode == 64 && in.seg != XG_EMU_X86_FS && in.seg != XG_EMU_X86_GS
		   ? 0
		   : r->seg[in.seg].base;
	am = in.addrsize == 8 ? ~0ull : in.addrsize == 4 ? 0xffffffffull : 0xffffull;
	if (in.addrsize == 2) {
		/* 16-bit offsets: the segment base just below the target */
		base = (la - rn(0x8000)) & (real ? ~0xfull : ~0ull);
		r->seg[in.seg].base = base;
	}
	ea = (la - base) & am;
	if (in.base == XG_EMU_X86_NOREG || in.rip_rel || in.base == in.index)
		return;
	other = (uint64_t)in.disp;
	if (in.index != XG_EMU_X86_NOREG)
		other += r->gpr[in.index] * in.scale;
	if (in.addrsize == 2)
		r->gpr[in.base] = (r->gpr[in.base] & ~0xffffull) | ((ea - other) & 0xffff);
	else
		r->gpr[in.base] = (ea - other) & am;
}

/* Changes between two exits: the point of the test. */
static void mutate(struct machine *m)
{
	struct xg_emu_x86_regs *r = &m->r;
	unsigned k = rn(60);

	if (k < 14 && k != 8) { /* the registers (memo_gen.h) */
		gen_mutate_regs(r, k < 8 ? k : k - 1);
		return;
	}
	if (k >= 22 && k < 30) {
		/* the vector registers: a repeated VEX load has zeroed its register's upper bits,
		 * and a short path that kept them would then go unseen (as the pipeline's) */
		rnd_bytes(m->xs + XG_EMU_X86_XS_XMM0, 256);
		rnd_bytes(m->xs + XG_EMU_X86_XS_YMMH, 256);
		rnd_bytes(m->xs + XG_EMU_X86_XS_ZMMH, XG_EMU_X86_XS_ZMMH_SIZE);
		return;
	}
	switch (k) {
	case 8: {
		unsigned p = rn(NPAGE);
		m->present[p] = !m->present[p];
		m->rw[rn(NPAGE)] ^= 1;
		m->us[rn(NPAGE)] ^= 1;
		break;
	}
	case 14: {
		uint64_t bv = rnd() & 0xe7;
		memcpy(m->xs + 512, &bv, 8);
		break;
	}
	case 15:
		r->gpr[rn(16)] = rnd();
		break;
	case 16:
		m->fail_op = 1 + rn(L_INJECT);
		break;
	case 18:
		r->seg[rn(2) ? XG_EMU_X86_DS : rn(XG_EMU_X86_NSEG)].unusable ^= 1;
		break;
	case 19:
		r->seg[rn(2) ? XG_EMU_X86_DS : rn(XG_EMU_X86_NSEG)].present ^= 1;
		break;
	case 20:
		r->seg[rn(2) ? XG_EMU_X86_DS : rn(XG_EMU_X86_NSEG)].type ^= (uint8_t)(1u << rn(4));
		break;
	case 21: /* at the end of the code segment's offsets: the next RIP wraps */
		r->rip = (rn(2) ? 0xfff0 : rn(2) ? 0xfffffff0ull : rnd() | 0xfff0) + rn(16);
		break;
	case 17: /* real mode <-> 16-bit protected mode <-> virtual-8086 mode, CS as it is */
		if (rn(2))
			r->cr0 ^= 1;
		else
			r->rflags ^= 1ull << 17;
		break;
	default:
		break; /* the same state: the common case */
	}
}

/* ---- the comparison ---- */

static uint64_t seed;
static unsigned long n_exits, n_hits;
static unsigned long hit_mode[65], hit_enc[3], hit_exc; /* short paths by mode, encoding */

#define SAME(f) (a->f == b->f)
static int same_insn(const struct xg_emu_x86_insn *a, const struct xg_emu_x86_insn *b)
{
	return SAME(len) && !memcmp(a->bytes, b->bytes, a->len) && SAME(mode) && SAME(opsize) &&
	       SAME(addrsize) && SAME(enc) && SAME(map) && SAME(opcode) && SAME(pfx) && SAME(rep) &&
	       SAME(lock) && SAME(rex) && SAME(modrm) && SAME(reg) && SAME(rm) && SAME(seg) &&
	       SAME(has_mem) && SAME(base) && SAME(index) && SAME(scale) && SAME(disp) &&
	       SAME(imm) && SAME(vvvv) && SAME(vl) && SAME(w) && SAME(aaa) && SAME(z) &&
	       SAME(bcast) && SAME(op) && SAME(aux) && SAME(flags) && SAME(name);
}

static const char *differs(const struct xg_emu_x86_result *ra, const struct xg_emu_x86_result *rb)
{
	if (ra->status != rb->status)
		return "status";
	if (ra->stage != rb->stage)
		return "stage";
	if (ra->exc.vector != rb->exc.vector || ra->exc.has_error != rb->exc.has_error ||
	    ra->exc.error != rb->exc.error || ra->exc.cr2 != rb->exc.cr2)
		return "exception";
	if (strcmp(ra->reason, rb->reason))
		return "reason";
	if ((ra->status == XG_EMU_X86_OK || ra->status == XG_EMU_X86_EXCEPTION ||
	     ra->status == XG_EMU_X86_VETOED) &&
	    !same_insn(&ra->insn, &rb->insn))
		return "decoded instruction";
	if (memcmp(&A.r, &B.r, sizeof(A.r)))
		return "registers";
	if (memcmp(A.xs, B.xs, sizeof(A.xs)))
		return "XSAVE image";
	if (memcmp(A.mem, B.mem, sizeof(A.mem)))
		return "memory";
	if (A.mmio_reads != B.mmio_reads)
		return "MMIO reads";
	if (A.nlog != B.nlog || A.overflow != B.overflow)
		return "number of ops calls";
	for (unsigned i = 0; i < A.nlog; i++)
		if (memcmp(&A.log[i], &B.log[i], sizeof(A.log[i])))
			return "ops calls";
	return NULL;
}

/* One case: returns 0 on a mismatch (printed). */
static int run_case(unsigned long ci, int verbose)
{
	static struct xg_emu_x86_memo memo;
	uint8_t insns[4][15], b[15];
	unsigned ninsn = 1 + rn(3), steps = 4 + rn(16);
	int hook_kind = rn(10) < 6 ? 0 : rn(4) ? 1 : 2;
	const struct xg_emu_x86_ops *ops = hook_kind == 0   ? &ops_plain
					   : hook_kind == 1 ? &ops_decode
							    : &ops_all;

	memset(&memo, 0, sizeof(memo));
	rnd_machine(&A);
	for (unsigned i = 0; i < ninsn; i++)
		gen_insn(insns[i], xg_emu_x86_code_bits(&A.r) == 64);
	for (unsigned s = 0; s < steps; s++) {
		struct xg_emu_x86_result ra, rb;
		uint64_t hits0 = memo.hits;
		size_t n = 15;
		const char *what;
		char hex[64];

		if (s)
			mutate(&A);
		if (rn(10) == 0)
			gen_insn(b, xg_emu_x86_code_bits(&A.r) == 64);
		else
			memcpy(b, insns[rn(ninsn)], 15);
		if (rn(8) == 0)
			n = rn(16); /* fewer bytes than the instruction: fetched */
		memcpy(A.code + (A.r.rip & 4095), b,
		       n < 15 && (A.r.rip & 4095) + 15 <= 4096 ? 15 : 0);
		aim(&A, b, 15);
		A.hook_kind = hook_kind;
		A.nlog = A.overflow = 0;
		memset(&ra, 0x55, sizeof(ra));
		memset(&rb, 0xaa, sizeof(rb));
		B = A;
		xg_emu_x86_emulate(ops, &A, b, n, &ra);
		xg_emu_x86_emulate_memo(ops, &B, b, n, &memo, &rb);
		n_exits++;
		n_hits += memo.hits - hits0;
		if (memo.hits > hits0) {
			hit_mode[xg_emu_x86_code_bits(&A.r) & 127]++;
			hit_enc[rb.insn.enc % 3]++;
			hit_exc += rb.status != XG_EMU_X86_OK;
		}
		show_bytes(b, 15, hex);
		if (verbose)
			printf("# case %lu exit %u: %s n=%zu mode %u -> %s #%u (%s)%s\n", ci, s,
			       hex, n, xg_emu_x86_code_bits(&A.r),
			       xg_emu_x86_status_name(ra.status), ra.exc.vector, ra.reason,
			       memo.hits > hits0 ? " [memo]" : "");
		what = differs(&ra, &rb);
		if (what) {
			diag("MISMATCH (%s): seed %llu case %lu exit %u bytes %s n=%zu mode %u%s",
			     what, (unsigned long long)seed, ci, s, hex, n,
			     xg_emu_x86_code_bits(&A.r), memo.hits > hits0 ? " [memo hit]" : "");
			diag("  pipeline: %s stage %s exc %u/%u cr2 %llx \"%s\"",
			     xg_emu_x86_status_name(ra.status), xg_emu_x86_stage_name(ra.stage),
			     ra.exc.vector, ra.exc.error, (unsigned long long)ra.exc.cr2,
			     ra.reason);
			diag("  memo:     %s stage %s exc %u/%u cr2 %llx \"%s\"",
			     xg_emu_x86_status_name(rb.status), xg_emu_x86_stage_name(rb.stage),
			     rb.exc.vector, rb.exc.error, (unsigned long long)rb.exc.cr2,
			     rb.reason);
			diag("  reproduce: XG_SEED=%llu XG_CASE=%lu %s", (unsigned long long)seed,
			     ci, "t_emu_memo");
			return 0;
		}
		A.fail_op = 0;
	}
	return 1;
}

int main(void)
{
	const char *e = getenv("XG_CASES"), *one = getenv("XG_CASE");
	unsigned long ncases = e ? strtoul(e, NULL, 0) : 20000, bad = 0;

	ops_decode = ops_plain;
	ops_decode.hook = m_hook;
	ops_decode.hook_stages = 1u << XG_EMU_X86_STAGE_DECODE;
	ops_all = ops_plain;
	ops_all.hook = m_hook;
	seed = xg_oracle_seed();
	diag("seed %llu (XG_SEED=n to reproduce)", (unsigned long long)seed);
	if (one) {
		unsigned long ci = strtoul(one, NULL, 0);
		rs = seed ^ (ci * 0x2545f4914f6cdd1dull);
		ok(run_case(ci, 1), "case %lu: memo and pipeline agree", ci);
		return done_testing();
	}
	for (unsigned long ci = 0; ci < ncases && bad < 5; ci++) {
		rs = seed ^ (ci * 0x2545f4914f6cdd1dull);
		if (!run_case(ci, 0))
			bad++;
	}
	diag("%lu exits, %lu through the memo's short path", n_exits, n_hits);
	ok(!bad, "%lu cases (%lu exits): the memo and the pipeline agree in everything", ncases,
	   n_exits);
	/* the comparison means something only if the short path ran, and ran often */
	diag("short paths: 64-bit %lu, 32-bit %lu, 16-bit %lu; legacy %lu, VEX %lu, EVEX %lu; "
	     "ending in an exception, veto or error %lu",
	     hit_mode[64], hit_mode[32], hit_mode[16], hit_enc[0], hit_enc[1], hit_enc[2], hit_exc);
	ok(n_hits * 8 > n_exits && hit_mode[64] && hit_mode[32] && hit_mode[16] && hit_enc[0] &&
	       hit_enc[1] && hit_enc[2] && hit_exc,
	   "the short path took %lu of %lu exits (at least an eighth), in every mode and "
	   "encoding, and some of them ended otherwise than OK",
	   n_hits, n_exits);
	return done_testing();
}
