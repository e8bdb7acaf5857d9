/*
 * t_emu_memo_adv.c - adversarial cases for the memo (xg_emu_x86_emulate_memo) against the
 * pipeline (xg_emu_x86_emulate), written apart from the memo's own differential test
 * (t_emu_memo.c): each case compiles an instruction into a memo under one machine state and
 * then runs the same bytes under states chosen to sit exactly on the edge of what the memo's
 * short path re-checks (segment limits at the last byte, expand-down segments, 16-bit offset
 * and RIP wrap, page splits with the second page absent, the canonical edge, #AC, aligned
 * forms misaligned by the segment base, CR0/CR4/XCR0/XSTATE_BV, CPL, mode switches under the
 * same bytes), with ops that fail at the n-th call (the second translation of a split access,
 * say), a device whose reads change the page tables, a hook that looks at the whole decoded
 * instruction, instruction sizes from the VMM shorter or longer than the instruction, and more
 * distinct instructions than the memo has entries.
 *
 * Two identical machines take each exit, A through the pipeline, B through the memo, and
 * everything is compared: status, stage, exception, reason, the whole decoded instruction
 * (struct bytes: the hook and the VMM see it), registers, the XSAVE image, memory, the device's
 * side effects, and every ops call with its arguments and data, in order.
 *
 * Part 2 is seeded: XG_SEED=n reproduces, XG_CASES=n sets the number of random edge cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle_rand.h"
#include "tap.h"
#include "xg_emu_x86.h"

#define WIN	0x40000ull /* linear window of pages */
#define NPAGE	8
#define LOGMAX	40
#define CODE_LA 0x10000ull /* fetches read here (any page but the window) */

enum { L_GET_REGS = 1, L_SET_REGS, L_GET_XS, L_SET_XS, L_TRANS, L_READ, L_WRITE, L_INJECT, L_HOOK };

struct call {
	uint8_t op, kind;
	uint16_t size;
	uint32_t x;
	uint64_t la, h;
};

struct vm {
	struct xg_emu_x86_regs r;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t mem[NPAGE * 4096];
	uint8_t code[4096];
	uint8_t present[NPAGE], rw[NPAGE], mmio[NPAGE];
	uint64_t dev_reads;
	int ptdev;	  /* a device read takes the next page away (the VMM's page tables move) */
	unsigned fail_at; /* the n-th ops call (1-based) fails with -EIO; 0 none */
	struct call log[LOGMAX];
	unsigned nlog, lost;
};

static struct vm A, B; /* A: pipeline, B: memo */

static uint64_t fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Logs the call; nonzero if this call is the one that fails. */
static int rec(struct vm *m, unsigned op, uint64_t la, unsigned size, unsigned kind, uint32_t x,
	       uint64_t h)
{
	struct call *c;
	if (m->nlog >= LOGMAX) {
		m->lost++;
		return 0;
	}
	c = &m->log[m->nlog++];
	memset(c, 0, sizeof(*c));
	c->op = (uint8_t)op;
	c->kind = (uint8_t)kind;
	c->size = (uint16_t)size;
	c->x = x;
	c->la = la;
	c->h = h;
	return m->fail_at && m->nlog == m->fail_at;
}

static int v_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct vm *m = o;
	if (rec(m, L_GET_REGS, 0, 0, 0, 0, 0))
		return -5;
	*r = m->r;
	return 0;
}

static int v_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	struct vm *m = o;
	if (rec(m, L_SET_REGS, 0, 0, 0, 0, fnv(r, sizeof(*r))))
		return -5;
	m->r = *r;
	return 0;
}

static int v_get_xsave(void *o, void *xs)
{
	struct vm *m = o;
	if (rec(m, L_GET_XS, 0, 0, 0, 0, 0))
		return -5;
	memcpy(xs, m->xs, sizeof(m->xs));
	return 0;
}

static int v_set_xsave(void *o, const void *xs)
{
	struct vm *m = o;
	if (rec(m, L_SET_XS, 0, 0, 0, 0, fnv(xs, sizeof(m->xs))))
		return -5;
	memcpy(m->xs, xs, sizeof(m->xs));
	return 0;
}

/* The window, and the two pages at the ends of the 32-bit linear space, the last one backed by
 * window page 5 and the first by page 4: outside 64-bit mode an access across 4 GiB goes on at
 * linear address 0 (SDM Vol. 3A 3.3.1 - 32-bit linear addresses). */
#define TOP_LA 0xfffff000ull
static int page(uint64_t la)
{
	if (la >= WIN && la < WIN + NPAGE * 4096ull)
		return (int)((la - WIN) >> 12);
	if (la >= TOP_LA && la < 0x100000000ull)
		return 5;
	return la < 0x1000 ? 4 : -1;
}

static int v_translate(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		       uint32_t *err)
{
	struct vm *m = o;
	int p = page(la), f = 0;
	uint32_t e = ((kind & XG_EMU_X86_WRITE) && kind != XG_EMU_X86_FETCH ? 2 : 0) |
		     (cpl == 3 ? 4 : 0) | (kind == XG_EMU_X86_FETCH ? 16 : 0);

	if (rec(m, L_TRANS, la, 0, kind, cpl, 0))
		return -5;
	if (kind == XG_EMU_X86_FETCH && (la >> 12) == CODE_LA >> 12)
		return 0;
	if (p < 0 || !m->present[p])
		f = 1;
	else if ((e & 2) && !m->rw[p])
		f = 1, e |= 1;
	if (f)
		*err = e;
	return f;
}

static int v_read(void *o, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	struct vm *m = o;
	int p = page(la);

	if (rec(m, L_READ, la, size, kind, 0, 0))
		return -5;
	if (kind == XG_EMU_X86_FETCH && (la >> 12) == CODE_LA >> 12) {
		memcpy(buf, m->code + (la & 4095), size);
		return 0;
	}
	if (p < 0 || (la & 4095) + size > 4096)
		return -14;
	if (m->mmio[p]) {
		for (unsigned i = 0; i < size; i++)
			((uint8_t *)buf)[i] = (uint8_t)(m->dev_reads * 37 + i);
		m->dev_reads++;
		if (m->ptdev)
			m->present[(p + 1) % NPAGE] ^= 1;
		return 0;
	}
	memcpy(buf, m->mem + 4096 * p + (la & 4095), size);
	return 0;
}

static int v_write(void *o, uint64_t la, const void *buf, unsigned size)
{
	struct vm *m = o;
	int p = page(la);

	if (rec(m, L_WRITE, la, size, 0, 0, fnv(buf, size)))
		return -5;
	if (p < 0 || (la & 4095) + size > 4096)
		return -14;
	if (!m->mmio[p])
		memcpy(m->mem + 4096 * p + (la & 4095), buf, size);
	return 0;
}

static int v_inject(void *o, const struct xg_emu_x86_exception *e)
{
	struct vm *m = o;
	return rec(m, L_INJECT, e->cr2, e->vector, e->has_error, e->error, 0) ? -5 : 0;
}

/* A DECODE hook that looks at every field of the decoded instruction. */
static int v_hook(void *o, enum xg_emu_x86_stage s, const struct xg_emu_x86_insn *in,
		  const struct xg_emu_x86_exception *exc)
{
	struct vm *m = o;
	uint64_t h = fnv(in, offsetof(struct xg_emu_x86_insn, name));

	rec(m, L_HOOK, 0, 0, s, exc ? exc->vector : 0xff, h);
	return (h & 0xff) == 0x5a; /* rare; the cases below set up a veto explicitly */
}

static int veto_all;
static int v_hook_veto(void *o, enum xg_emu_x86_stage s, const struct xg_emu_x86_insn *in,
		       const struct xg_emu_x86_exception *exc)
{
	struct vm *m = o;
	rec(m, L_HOOK, 0, 0, s, exc ? exc->vector : 0xff, fnv(in->bytes, in->len));
	return veto_all && in->op != 0;
}

static const struct xg_emu_x86_ops ops_plain = {
    .get_regs = v_get_regs,
    .set_regs = v_set_regs,
    .get_xsave = v_get_xsave,
    .set_xsave = v_set_xsave,
    .translate = v_translate,
    .read = v_read,
    .write = v_write,
    .inject = v_inject,
};
static struct xg_emu_x86_ops ops_hook, ops_veto, ops_hook2;

/* ---- machine states ---- */

enum { M64, MCOMPAT, M32, M16P, MREAL, MV86 };

static void flat(struct xg_emu_x86_segment *s, int code)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffffu;
	s->type = code ? 0xb : 0x3;
	s->s = 1;
	s->present = 1;
	s->db = 1;
	s->g = 1;
}

static void set_mode(struct vm *m, unsigned mode)
{
	struct xg_emu_x86_regs *r = &m->r;

	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++)
		flat(&r->seg[i], i == XG_EMU_X86_CS);
	r->cr0 = 0x80000011ull;
	r->efer = 0;
	r->rflags = 2;
	switch (mode) {
	case M64:
		r->efer = 0x500;
		r->seg[XG_EMU_X86_CS].l = 1;
		r->seg[XG_EMU_X86_CS].db = 0;
		break;
	case MCOMPAT:
		r->efer = 0x500;
		break;
	case M32:
		break;
	case M16P:
		for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++)
			r->seg[i].db = 0;
		break;
	case MREAL:
	case MV86:
		if (mode == MREAL)
			r->cr0 = 0x10;
		else
			r->rflags |= 1ull << 17;
		for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++) {
			r->seg[i].limit = 0xffff;
			r->seg[i].db = 0;
			r->seg[i].dpl = mode == MV86 ? 3 : 0;
		}
		break;
	}
}

static void fresh(struct vm *m, unsigned mode)
{
	memset(m, 0, sizeof(*m));
	set_mode(m, mode);
	m->r.cr4 = (1u << 9) | (1u << 18);
	m->r.xcr0 = 0xe7;
	m->r.rip = CODE_LA + 0x100;
	for (unsigned i = 0; i < 16; i++)
		m->r.gpr[i] = 0x1111111111111111ull * (i + 1);
	for (size_t i = 0; i < sizeof(m->xs); i++)
		m->xs[i] = (uint8_t)(i * 7 + 3);
	memset(m->xs, 0, 32);
	m->xs[0] = 0x7f, m->xs[1] = 0x03;
	m->xs[24] = 0x80, m->xs[25] = 0x1f, m->xs[26] = 0, m->xs[27] = 0;
	memset(m->xs + 512, 0, 64);
	m->xs[512] = 0xe7;
	for (size_t i = 0; i < sizeof(m->mem); i++)
		m->mem[i] = (uint8_t)(i * 13 + (i >> 8));
	for (unsigned p = 0; p < NPAGE; p++)
		m->present[p] = m->rw[p] = 1;
	m->mmio[NPAGE - 1] = 1;
}

/* ---- the comparison ---- */

static const char *differs(const struct xg_emu_x86_result *ra, const struct xg_emu_x86_result *rb)
{
	if (ra->status != rb->status)
		return "status";
	if (ra->stage != rb->stage)
		return "stage";
	if (memcmp(&ra->exc, &rb->exc, sizeof(ra->exc)))
		return "exception";
	if (strcmp(ra->reason, rb->reason))
		return "reason";
	if (ra->status != XG_EMU_X86_ERROR &&
	    memcmp(&ra->insn, &rb->insn, offsetof(struct xg_emu_x86_insn, name)))
		return "decoded instruction";
	if (ra->status != XG_EMU_X86_ERROR && ra->insn.name != rb->insn.name)
		return "decoded instruction (name)";
	if (memcmp(&A.r, &B.r, sizeof(A.r)))
		return "registers";
	if (memcmp(A.xs, B.xs, sizeof(A.xs)))
		return "XSAVE image";
	if (memcmp(A.mem, B.mem, sizeof(A.mem)))
		return "memory";
	if (A.dev_reads != B.dev_reads || memcmp(A.present, B.present, sizeof(A.present)))
		return "device side effects";
	if (A.nlog != B.nlog || A.lost != B.lost)
		return "number of ops calls";
	for (unsigned i = 0; i < A.nlog; i++)
		if (memcmp(&A.log[i], &B.log[i], sizeof(A.log[i])))
			return "ops calls";
	return NULL;
}

static struct xg_emu_x86_memo memo;
static unsigned long n_hits, n_exits;
static char where[160];

/* One exit on both machines (B = A first); 1 if they agree. */
static int exit_once(const struct xg_emu_x86_ops *ops, const uint8_t *b, size_t n)
{
	struct xg_emu_x86_result ra, rb;
	uint64_t h0 = memo.hits;
	const char *what;

	A.nlog = A.lost = 0;
	B = A;
	memset(&ra, 0x55, sizeof(ra));
	memset(&rb, 0xaa, sizeof(rb));
	xg_emu_x86_emulate(ops, &A, b, n, &ra);
	xg_emu_x86_emulate_memo(ops, &B, b, n, &memo, &rb);
	n_exits++;
	n_hits += memo.hits - h0;
	what = differs(&ra, &rb);
	if (what) {
		char hex[64] = "";
		for (size_t i = 0; b && i < n && i < 15; i++)
			sprintf(hex + 3 * i, "%02x ", b[i]);
		diag("MISMATCH (%s) in %s: bytes %sn=%zu%s", what, where, hex, n,
		     memo.hits > h0 ? " [memo hit]" : "");
		diag("  pipeline: %s stage %s exc %u/%u cr2 %llx \"%s\"",
		     xg_emu_x86_status_name(ra.status), xg_emu_x86_stage_name(ra.stage),
		     ra.exc.vector, ra.exc.error, (unsigned long long)ra.exc.cr2, ra.reason);
		diag("  memo:     %s stage %s exc %u/%u cr2 %llx \"%s\"",
		     xg_emu_x86_status_name(rb.status), xg_emu_x86_stage_name(rb.stage),
		     rb.exc.vector, rb.exc.error, (unsigned long long)rb.exc.cr2, rb.reason);
		return 0;
	}
	/* B's state is A's again for the next exit (they are equal when they agree) */
	return 1;
}

/* ---- part 1: directed cases ---- */

/* A state change between two exits; the exit after it is compared. */
typedef void (*change_fn)(struct vm *m, unsigned arg);

struct step {
	change_fn fn;
	unsigned arg;
	const char *what;
};

static void c_none(struct vm *m, unsigned a)
{
	(void)m, (void)a;
}
static void c_gpr(struct vm *m, unsigned a) /* operand register (RBX) */
{
	m->r.gpr[XG_EMU_X86_RBX] = a == 0xffffffffu ? 0x00007ffffffffffcull : (uint64_t)a;
}
static void c_rbx64(struct vm *m, unsigned a)
{
	static const uint64_t v[] = {0x00007ffffffffffcull, 0x00007ffffffffff8ull,
				     0xffff800000000000ull, 0xffff7ffffffffffcull,
				     0x00ffffffffffff00ull, 0xfffffffffffffffeull,
				     0x00007ffffffffffeull, 0xffff7fffffffffffull};
	m->r.gpr[XG_EMU_X86_RBX] = v[a];
}
static void c_mode(struct vm *m, unsigned a)
{
	uint64_t rbx = m->r.gpr[XG_EMU_X86_RBX];
	set_mode(m, a);
	m->r.gpr[XG_EMU_X86_RBX] = rbx;
}
static void c_page(struct vm *m, unsigned a)
{
	m->present[a % NPAGE] ^= 1;
}
static void c_ro(struct vm *m, unsigned a)
{
	m->rw[a % NPAGE] ^= 1;
}
static void c_fail(struct vm *m, unsigned a)
{
	m->fail_at = a;
}
static void c_cr0(struct vm *m, unsigned a)
{
	m->r.cr0 ^= 1ull << a;
}
static void c_cr4(struct vm *m, unsigned a)
{
	m->r.cr4 ^= 1ull << a;
}
static void c_xcr0(struct vm *m, unsigned a)
{
	m->r.xcr0 = a;
}
static void c_bv(struct vm *m, unsigned a)
{
	memset(m->xs + 512, 0, 8);
	m->xs[512] = (uint8_t)a;
}
static void c_ac(struct vm *m, unsigned a)
{
	/* CPL 3 (SS.DPL), CR0.AM and RFLAGS.AC as a: bit 0, 1, 2 */
	m->r.seg[XG_EMU_X86_SS].dpl = (a & 1) ? 3 : 0;
	m->r.cr0 = (a & 2) ? m->r.cr0 | 1ull << 18 : m->r.cr0 & ~(1ull << 18);
	m->r.rflags = (a & 4) ? m->r.rflags | 1ull << 18 : m->r.rflags & ~(1ull << 18);
}
static void c_dslimit(struct vm *m, unsigned a)
{
	m->r.seg[XG_EMU_X86_DS].limit = a;
}
static void c_dstype(struct vm *m, unsigned a)
{
	m->r.seg[XG_EMU_X86_DS].type = (uint8_t)a;
}
static void c_dsbase(struct vm *m, unsigned a)
{
	m->r.seg[XG_EMU_X86_DS].base = a;
}
static void c_dsdb(struct vm *m, unsigned a)
{
	m->r.seg[XG_EMU_X86_DS].db = (uint8_t)a;
}
static void c_dsflag(struct vm *m, unsigned a)
{
	if (a == 0)
		m->r.seg[XG_EMU_X86_DS].unusable ^= 1;
	else
		m->r.seg[XG_EMU_X86_DS].present ^= 1;
}
static void c_sslimit(struct vm *m, unsigned a)
{
	m->r.seg[XG_EMU_X86_SS].limit = a;
}
static void c_rip(struct vm *m, unsigned a)
{
	m->r.rip = a;
}
static void c_ptdev(struct vm *m, unsigned a)
{
	m->ptdev = (int)a;
}
static void c_vendor(struct vm *m, unsigned a)
{
	m->r.vendor = (uint8_t)a;
}
static void c_fsbase(struct vm *m, unsigned a)
{
	m->r.seg[XG_EMU_X86_FS].base = a == 1 ? 0xffff800000000000ull - 0x10 : (uint64_t)a;
}

#define S(f, a)                                                                                    \
	{                                                                                          \
		f, a, #f "(" #a ")"                                                                \
	}
#define PAGE(i) (unsigned)(WIN + 4096 * (i))
#define RMBASE	(WIN - 0xf000) /* DS in real mode: offsets 0xf000-0xffff in the window */

struct dcase {
	const char *name;
	unsigned mode;
	uint8_t bytes[15];
	unsigned len; /* bytes given (the VMM's insn_size); 15 if 0 */
	unsigned rbx; /* the operand's register before the first exit */
	const struct xg_emu_x86_ops *ops;
	struct step steps[16];
};

static const struct dcase dcases[] = {
    {"64-bit mov eax,[rbx] at page and canonical edges",
     M64,
     {0x8b, 0x03},
     0,
     PAGE(1) + 8,
     NULL,
     {S(c_none, 0), S(c_gpr, PAGE(2) - 2), S(c_page, 2), S(c_gpr, PAGE(3) - 1), S(c_page, 2),
      S(c_rbx64, 0), S(c_rbx64, 1), S(c_rbx64, 2), S(c_rbx64, 3), S(c_rbx64, 5), S(c_cr4, 12),
      S(c_rbx64, 4)}},
    {"64-bit mov [rbx],ecx: split store, second page read-only, then a failing op",
     M64,
     {0x89, 0x0b},
     0,
     PAGE(1) + 8,
     NULL,
     {S(c_gpr, PAGE(2) - 1), S(c_ro, 2), S(c_ro, 2), S(c_fail, 3), S(c_fail, 4), S(c_fail, 5),
      S(c_fail, 6), S(c_fail, 0), S(c_fail, 2), S(c_fail, 7), S(c_fail, 0), S(c_none, 0)}},
    {"64-bit mov rax,[rbx]: #AC at CPL 3 with AM and AC, each alone",
     M64,
     {0x48, 0x8b, 0x03},
     0,
     PAGE(1) + 8,
     NULL,
     {S(c_ac, 7), S(c_gpr, PAGE(1) + 9), S(c_ac, 6), S(c_ac, 5), S(c_ac, 3), S(c_ac, 7),
      S(c_gpr, PAGE(1) + 12), S(c_gpr, PAGE(1) + 16), S(c_mode, MV86), S(c_ac, 7), S(c_gpr, 0xfff1),
      S(c_gpr, 0xfff0)}},
    {"the same bytes in every mode (8b 03)",
     M64,
     {0x8b, 0x03},
     0,
     PAGE(1) + 8,
     NULL,
     {S(c_mode, MCOMPAT), S(c_mode, M64), S(c_mode, M32), S(c_mode, M16P), S(c_mode, MREAL),
      S(c_mode, MV86), S(c_mode, MREAL), S(c_mode, M16P), S(c_mode, M32), S(c_mode, MCOMPAT),
      S(c_mode, M64), S(c_none, 0)}},
    {"16-bit protected mov ax,[bx]: limit at the last byte, offset wrap",
     M16P,
     {0x8b, 0x07},
     0,
     0x100,
     NULL,
     {S(c_dsbase, WIN), S(c_dslimit, 0x101), S(c_dslimit, 0x100), S(c_gpr, 0xfffe),
      S(c_dslimit, 0xffff), S(c_gpr, 0xffff), S(c_dslimit, 0xffffffffu), S(c_dstype, 7),
      S(c_dslimit, 0xfffd), S(c_gpr, 0xfffd), S(c_dsdb, 1), S(c_gpr, 0x100)}},
    {"32-bit mov eax,[ebx]: expand-down, read-only, code, unusable, not present",
     M32,
     {0x8b, 0x03},
     0,
     PAGE(1) + 8,
     NULL,
     {S(c_dstype, 7), S(c_dslimit, PAGE(1) + 8), S(c_dslimit, PAGE(1) + 7), S(c_dstype, 1),
      S(c_dslimit, PAGE(1) + 11), S(c_dsflag, 0), S(c_dsflag, 0), S(c_dsflag, 1), S(c_dsflag, 1),
      S(c_dstype, 0xb), S(c_dstype, 0x9), S(c_dstype, 3), S(c_dslimit, PAGE(1) + 10),
      S(c_dslimit, PAGE(1) + 11)}},
    {"32-bit mov [ebx],eax: read-only data segment, expand-down writable",
     M32,
     {0x89, 0x03},
     0,
     PAGE(1) + 8,
     NULL,
     {S(c_dstype, 1), S(c_dstype, 7), S(c_dslimit, PAGE(1) + 8), S(c_dstype, 5), S(c_dstype, 3),
      S(c_dslimit, PAGE(1) + 11), S(c_dslimit, PAGE(1) + 10), S(c_none, 0), S(c_dsdb, 0),
      S(c_dstype, 7), S(c_dslimit, 0xffffffffu), S(c_dstype, 3)}},
    {"real mode mov ax,[bx] and its 32-bit address form at 64 KiB",
     MREAL,
     {0x67, 0x8b, 0x03},
     0,
     0xfffe,
     NULL,
     {S(c_gpr, 0xffff), S(c_gpr, 0xfffc), S(c_dslimit, 0xffffffffu), S(c_gpr, 0xfffffffe),
      S(c_gpr, 0x10000), S(c_mode, MV86), S(c_gpr, 0xfffe), S(c_gpr, 0xffff),
      S(c_dslimit, 0xffffffffu), S(c_gpr, 0x10000), S(c_mode, MREAL), S(c_none, 0)}},
    {"16-bit RIP and 32-bit EIP wrap (mov ax,[bx] / mov eax,[ebx])",
     M16P,
     {0x8b, 0x07},
     0,
     0x100,
     NULL,
     {S(c_rip, 0xfffe), S(c_rip, 0xffff), S(c_mode, M32), S(c_rip, 0xffffffffu),
      S(c_rip, 0xfffffffeu), S(c_mode, MREAL), S(c_rip, 0xffff), S(c_mode, MV86), S(c_rip, 0xfffe),
      S(c_mode, M64), S(c_rip, 0xfffffffeu), S(c_none, 0)}},
    {"movaps xmm0,[rbx]: misaligned, CR0.TS/EM, CR4.OSFXSR, XSTATE_BV",
     M64,
     {0x0f, 0x28, 0x03},
     0,
     PAGE(1) + 16,
     NULL,
     {S(c_gpr, PAGE(1) + 8), S(c_gpr, PAGE(1) + 32), S(c_cr0, 3), S(c_cr0, 3), S(c_cr0, 2),
      S(c_cr0, 2), S(c_cr4, 9), S(c_cr4, 9), S(c_bv, 0), S(c_bv, 1), S(c_ac, 7),
      S(c_gpr, PAGE(2) - 16)}},
    {"32-bit movaps: the segment base misaligns an aligned offset",
     M32,
     {0x0f, 0x29, 0x03},
     0,
     0x1010,
     NULL,
     {S(c_dsbase, WIN), S(c_dsbase, WIN + 8), S(c_dsbase, WIN + 16), S(c_gpr, 0x1018),
      S(c_dsbase, WIN + 8), S(c_mode, M16P), S(c_dsbase, WIN), S(c_gpr, 0x1010), S(c_mode, MREAL),
      S(c_dsbase, WIN + 8), S(c_dsbase, WIN), S(c_none, 0)}},
    {"VEX vmovaps ymm0,[rbx]: OSXSAVE, XCR0, alignment 32, XSTATE_BV",
     M64,
     {0xc5, 0xfc, 0x28, 0x03},
     0,
     PAGE(1) + 32,
     NULL,
     {S(c_gpr, PAGE(1) + 16), S(c_gpr, PAGE(1) + 64), S(c_cr4, 18), S(c_cr4, 18), S(c_xcr0, 3),
      S(c_xcr0, 7), S(c_bv, 3), S(c_bv, 0), S(c_cr0, 3), S(c_cr0, 3), S(c_mode, M32),
      S(c_mode, M64)}},
    {"EVEX vmovups zmm0,[rbx] and XCR0 without AVX-512, split over an absent page",
     M64,
     {0x62, 0xf1, 0x7c, 0x48, 0x10, 0x03},
     0,
     PAGE(1) + 64,
     NULL,
     {S(c_xcr0, 7), S(c_xcr0, 0xe7), S(c_gpr, PAGE(2) - 32), S(c_page, 2), S(c_page, 2), S(c_bv, 7),
      S(c_bv, 0), S(c_fail, 2), S(c_fail, 3), S(c_fail, 0), S(c_mode, MCOMPAT), S(c_mode, M64)}},
    {"EVEX vmovdqu64 [rbx],zmm17 (stores from ZMM16-31), mode 32 refuses",
     M64,
     {0x62, 0xe1, 0xfe, 0x48, 0x7f, 0x0b},
     0,
     PAGE(1) + 64,
     NULL,
     {S(c_none, 0), S(c_gpr, PAGE(1) + 65), S(c_xcr0, 7), S(c_xcr0, 0xe7), S(c_ro, 1), S(c_ro, 1),
      S(c_fail, 4), S(c_fail, 0), S(c_mode, MCOMPAT), S(c_mode, M64), S(c_cr0, 3), S(c_cr0, 3)}},
    {"moffs: mov eax,[moffs64], FS-relative, then 67 (moffs32)",
     M64,
     {0x64, 0xa1, 0x08, 0x10, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00},
     0,
     0,
     NULL,
     {S(c_fsbase, 0), S(c_fsbase, 1), S(c_fsbase, 0x1000), S(c_fsbase, 0xff8), S(c_ac, 7),
      S(c_mode, MCOMPAT), S(c_mode, M64), S(c_fsbase, 0), S(c_page, 1), S(c_page, 1), S(c_ptdev, 1),
      S(c_none, 0)}},
    {"mov qword [rbx],imm32 and movsxd rax,dword [rbx]",
     M64,
     {0x48, 0xc7, 0x03, 0x88, 0x99, 0xaa, 0xbb},
     0,
     PAGE(1) + 8,
     NULL,
     {S(c_gpr, PAGE(2) - 4), S(c_ro, 2), S(c_ro, 2), S(c_ac, 7), S(c_ac, 0), S(c_mode, M32),
      S(c_mode, M64), S(c_vendor, 2), S(c_vendor, 1), S(c_fail, 5), S(c_fail, 0), S(c_none, 0)}},
    {"movsx eax,word [rbx] from a device whose reads move the page tables",
     M64,
     {0x0f, 0xbf, 0x03},
     0,
     PAGE(NPAGE - 1) + 4094,
     NULL,
     {S(c_ptdev, 1), S(c_none, 0), S(c_none, 0), S(c_gpr, PAGE(NPAGE - 1) + 8), S(c_none, 0),
      S(c_ptdev, 0), S(c_none, 0), S(c_mode, MREAL), S(c_mode, M64), S(c_none, 0), S(c_none, 0),
      S(c_none, 0)}},
    {"mov eax,[rbx] with a DECODE hook that reads the whole instruction",
     M64,
     {0x8b, 0x03},
     0,
     PAGE(1) + 8,
     &ops_hook,
     {S(c_none, 0), S(c_mode, M32), S(c_mode, M64), S(c_gpr, PAGE(2) - 2), S(c_page, 2),
      S(c_page, 2), S(c_fail, 2), S(c_fail, 0), S(c_ac, 7), S(c_gpr, PAGE(1) + 8), S(c_none, 0),
      S(c_none, 0)}},
    {"mov eax,[rbx] with hooks at DECODE and EXCEPTION (the memo steps aside)",
     M64,
     {0x8b, 0x03},
     0,
     PAGE(1) + 8,
     &ops_hook2,
     {S(c_none, 0), S(c_page, 1), S(c_page, 1), S(c_none, 0), S(c_none, 0), S(c_none, 0),
      S(c_none, 0), S(c_none, 0), S(c_none, 0), S(c_none, 0), S(c_none, 0), S(c_none, 0)}},
    {"32-bit and compatibility mode: an access across 4 GiB wraps to linear 0",
     M32,
     {0x8b, 0x03},
     0,
     0xfffffff0u,
     NULL,
     {S(c_gpr, 0xfffffffeu), S(c_page, 4), S(c_page, 4), S(c_gpr, 0xffffffffu), S(c_mode, MCOMPAT),
      S(c_gpr, 0xfffffffdu), S(c_page, 4), S(c_page, 4), S(c_dsbase, 0x10), S(c_gpr, 0xffffffeeu),
      S(c_gpr, 0xffffffefu), S(c_ro, 4), S(c_mode, M32)}},
    {"32-bit mov [ebx],eax and movups across 4 GiB",
     M32,
     {0x0f, 0x11, 0x03},
     0,
     0xffffffe0u,
     NULL,
     {S(c_gpr, 0xfffffff8u), S(c_page, 4), S(c_page, 4), S(c_ro, 4), S(c_ro, 4), S(c_mode, MCOMPAT),
      S(c_gpr, 0xfffffff1u), S(c_dsbase, 0xfffffff0u), S(c_gpr, 0x8), S(c_gpr, 0x11)}},
    {"SS-relative mov eax,[rbp]: #SS at the canonical edge, 16-bit SS limit",
     M64,
     {0x8b, 0x45, 0x00},
     0,
     0,
     NULL,
     {S(c_none, 0), S(c_mode, M32), S(c_sslimit, 0x100), S(c_sslimit, 0xffffffffu), S(c_mode, M16P),
      S(c_sslimit, 0x10), S(c_mode, M64), S(c_none, 0), S(c_none, 0), S(c_none, 0), S(c_none, 0),
      S(c_none, 0)}},
};

static void set_rbx(struct vm *m, unsigned v)
{
	m->r.gpr[XG_EMU_X86_RBX] = v;
	m->r.gpr[XG_EMU_X86_RBP] = (uint64_t)PAGE(1) + 32;
	if (m->r.seg[XG_EMU_X86_DS].limit == 0xffff) /* real and v86 mode: DS below */
		m->r.seg[XG_EMU_X86_DS].base = RMBASE;
}

static int run_dcase(const struct dcase *d)
{
	const struct xg_emu_x86_ops *ops = d->ops ? d->ops : &ops_plain;
	size_t n = d->len ? d->len : 15;

	memset(&memo, 0, sizeof(memo));
	fresh(&A, d->mode);
	if (d->mode == M16P) /* 16-bit offsets: DS at the window */
		A.r.seg[XG_EMU_X86_DS].base = WIN;
	set_rbx(&A, d->rbx);
	snprintf(where, sizeof(where), "'%s' first exit", d->name);
	if (!exit_once(ops, d->bytes, n))
		return 0;
	for (unsigned i = 0; i < sizeof(d->steps) / sizeof(d->steps[0]) && d->steps[i].fn; i++) {
		d->steps[i].fn(&A, d->steps[i].arg);
		if (A.r.seg[XG_EMU_X86_DS].limit == 0xffff && !(A.r.cr0 & 1) &&
		    A.r.seg[XG_EMU_X86_DS].base == 0)
			A.r.seg[XG_EMU_X86_DS].base = RMBASE;
		snprintf(where, sizeof(where), "'%s' after step %u %s", d->name, i + 1,
			 d->steps[i].what);
		if (!exit_once(ops, d->bytes, n))
			return 0;
		A.fail_at = 0;
	}
	return 1;
}

/* The instruction sizes a VMM may give: shorter than the instruction (the rest fetched from
 * guest memory, which here holds another displacement), exactly it, longer, none. */
static int run_sizes(void)
{
	static const uint8_t insn[15] = {0x8b, 0x83, 0x10, 0x00, 0x00, 0x00, 0x90, 0x90};
	static const size_t sizes[] = {15, 6, 5, 2, 0, 6, 15, 1, 6, 0, 7, 6};

	memset(&memo, 0, sizeof(memo));
	fresh(&A, M64);
	set_rbx(&A, PAGE(1));
	/* the guest's copy of the instruction differs from the VMM's after byte 3 */
	memcpy(A.code + (A.r.rip & 4095), insn, 15);
	A.code[(A.r.rip & 4095) + 3] = 0x01;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(where, sizeof(where), "instruction size %zu (exit %u)", sizes[i], i);
		if (!exit_once(&ops_plain, sizes[i] ? insn : NULL, sizes[i]))
			return 0;
	}
	return 1;
}

/* More distinct instructions than entries, cycled, with an entry evicted and reused, and the
 * same bytes in another mode meeting an entry of the first. */
static int run_capacity(void)
{
	static const uint8_t insns[][15] = {
	    {0x8b, 0x03},
	    {0x89, 0x03},
	    {0x8a, 0x03},
	    {0x88, 0x03},
	    {0x0f, 0x10, 0x03},
	    {0x0f, 0x11, 0x03},
	    {0x0f, 0xb6, 0x03},
	    {0xc6, 0x03, 0x42},
	    {0x8b, 0x43, 0x08},
	    {0x48, 0x8b, 0x03},
	    {0xc5, 0xfa, 0x6f, 0x03},
	    {0x8b, 0x04, 0x23},
	};
	unsigned ni = sizeof(insns) / sizeof(insns[0]);

	memset(&memo, 0, sizeof(memo));
	fresh(&A, M64);
	set_rbx(&A, PAGE(1) + 64);
	for (unsigned round = 0; round < 6; round++) {
		unsigned k = round < 2 ? 3 : round < 4 ? 5 : ni;
		for (unsigned i = 0; i < k; i++) {
			if (round == 4 && i == 3)
				c_mode(&A, M16P);
			if (round == 5 && i == 0)
				c_mode(&A, M64);
			A.r.gpr[XG_EMU_X86_RBX] = PAGE(1) + 64;
			A.r.gpr[XG_EMU_X86_RSP] = PAGE(1) + 64;
			snprintf(where, sizeof(where), "capacity round %u instruction %u", round,
				 i);
			if (!exit_once(&ops_plain, insns[i], 15))
				return 0;
		}
	}
	return 1;
}

/* A hook veto on a hit, then not. */
static int run_veto(void)
{
	static const uint8_t insn[15] = {0x8b, 0x03};

	memset(&memo, 0, sizeof(memo));
	fresh(&A, M64);
	set_rbx(&A, PAGE(1));
	for (unsigned i = 0; i < 6; i++) {
		veto_all = i == 2 || i == 3;
		snprintf(where, sizeof(where), "veto exit %u", i);
		if (!exit_once(&ops_veto, insn, 15))
			return 0;
	}
	veto_all = 0;
	return 1;
}

/* ---- part 2: random edge cases ---- */

static const uint8_t gen_ops[][4] = {
    {1, 0x8b},
    {1, 0x89},
    {1, 0x8a},
    {1, 0x88},
    {2, 0x0f, 0x28},
    {2, 0x0f, 0x29},
    {2, 0x0f, 0x10},
    {2, 0x0f, 0x11},
    {2, 0x0f, 0x6f},
    {2, 0x0f, 0x7f},
    {2, 0x0f, 0xb6},
    {2, 0x0f, 0xbf},
    {1, 0xc7},
    {1, 0xc6},
    {2, 0x0f, 0xe7},
    {3, 0xc5, 0xfc, 0x28},
    {3, 0xc5, 0xf8, 0x29},
    {3, 0xc5, 0xfe, 0x6f},
};

static unsigned gen(uint8_t *b, unsigned mode)
{
	unsigned n = 0, k = rn(sizeof(gen_ops) / sizeof(gen_ops[0]));

	memset(b, 0x90, 15);
	if (rn(4) == 0)
		b[n++] = (uint8_t)(rn(2) ? 0x67 : 0x66);
	if (rn(6) == 0)
		b[n++] = (uint8_t)(rn(2) ? 0x26 : 0x36);
	if (gen_ops[k][1] == 0x0f && rn(3) == 0)
		b[n++] = (uint8_t)(rn(2) ? 0x66 : 0xf3);
	if (mode == M64 && rn(3) == 0 && gen_ops[k][1] != 0xc5)
		b[n++] = (uint8_t)(0x40 | rn(16));
	for (unsigned i = 0; i < gen_ops[k][0]; i++)
		b[n++] = gen_ops[k][1 + i];
	/* [rbx] / [bp+di] / [ebx+disp8] forms, register 0-7 */
	b[n++] = (uint8_t)((rn(2) ? 0x40 : 0x00) | rn(8) << 3 | 0x3);
	b[n++] = (uint8_t)rn(256);
	for (unsigned i = 0; i < 4; i++)
		b[n++] = (uint8_t)rnd();
	return 15;
}

/* Aim the operand at an edge: the last byte at the limit, one past, an expand-down limit, a
 * page end, the canonical edge, a 16-bit offset end. */
static void aim_edge(struct vm *m, const uint8_t *b)
{
	struct xg_emu_x86_insn in;
	struct xg_emu_x86_exception exc;
	struct xg_emu_x86_regs *r = &m->r;
	unsigned mode = xg_emu_x86_code_bits(r);
	int real = !(r->cr0 & 1) || (r->rflags & (1ull << 17));
	uint64_t am, ea, target;
	struct xg_emu_x86_segment *s;

	if (xg_emu_x86_decode(b, 15, mode, real, &in, &exc, NULL) != XG_EMU_X86_OK || !in.has_mem ||
	    in.base == XG_EMU_X86_NOREG)
		return;
	s = &r->seg[in.seg];
	am = in.addrsize == 8 ? ~0ull : in.addrsize == 4 ? 0xffffffffull : 0xffffull;
	switch (rn(6)) {
	case 0: /* the last byte at the limit, or one past (size 1 to 64) */
		ea = (0x3000 + rn(64)) & am;
		s->limit = (uint32_t)(ea + (1u << rn(7)) - 1 + rn(3) - 1);
		break;
	case 1: /* expand-down */
		ea = (0x3000 + rn(64)) & am;
		s->type = (uint8_t)(rn(2) ? 7 : 5);
		s->limit = (uint32_t)(ea - rn(3));
		s->db = (uint8_t)rn(2);
		break;
	case 2: /* 16-bit end */
		ea = (0xffff - rn(70)) & am;
		break;
	case 3: /* the end of a page */
		ea = 0x1000 - rn(70);
		break;
	case 4: /* the canonical edge (64-bit) or 4 GiB */
		ea = mode == 64
			 ? (rn(2) ? 0x0000800000000000ull : 0xffff800000000000ull) + rn(70) - 35
			 : 0xffffffffull - rn(70);
		ea &= am;
		break;
	default:
		ea = rn(0x8000) & am;
		break;
	}
	/* the segment base puts the target in the window unless the edge is the point */
	target = WIN + (ea & 0x7fff);
	if (mode != 64 || in.seg == XG_EMU_X86_FS || in.seg == XG_EMU_X86_GS)
		s->base = (target - ea) & (real ? 0xffff0ull : 0xffffffffull);
	r->gpr[in.base] = (r->gpr[in.base] & ~am) |
			  ((ea - (uint64_t)in.disp -
			    (in.index != XG_EMU_X86_NOREG ? r->gpr[in.index] * in.scale : 0)) &
			   am);
	if (rn(5) == 0)
		s->base += (uint64_t)rn(16);
}

static void mutate(struct vm *m)
{
	switch (rn(16)) {
	case 0:
		set_mode(m, rn(6));
		break;
	case 1:
		c_ac(m, rn(8));
		break;
	case 2:
		m->r.cr0 ^= 1ull << (2 + rn(2));
		break;
	case 3:
		m->r.cr4 ^= 1ull << (rn(2) ? 9 : 18);
		break;
	case 4:
		m->r.xcr0 = rn(2) ? 7 : 0xe7;
		break;
	case 5:
		m->fail_at = 1 + rn(9);
		break;
	case 6:
		m->present[rn(NPAGE)] ^= 1;
		break;
	case 7:
		m->rw[rn(NPAGE)] ^= 1;
		break;
	case 8:
		m->ptdev ^= 1;
		break;
	case 9:
		m->r.rip = (rn(2) ? 0xffff : 0xffffffffull) - rn(8);
		break;
	case 10:
		c_bv(m, (unsigned)rnd() & 0xe7);
		break;
	default:
		break;
	}
}

static uint64_t seed;

static int run_random(unsigned long ci)
{
	uint8_t insns[3][15];
	unsigned steps = 6 + rn(10), ni = 1 + rn(3);
	const struct xg_emu_x86_ops *ops = rn(3) ? &ops_plain : &ops_hook;

	memset(&memo, 0, sizeof(memo));
	fresh(&A, rn(6));
	for (unsigned p = 0; p < NPAGE; p++) {
		A.mmio[p] = rn(4) == 0;
		A.present[p] = rn(6) != 0;
	}
	for (unsigned i = 0; i < ni; i++)
		gen(insns[i], xg_emu_x86_code_bits(&A.r) == 64 ? M64 : M32);
	for (unsigned s = 0; s < steps; s++) {
		const uint8_t *b = insns[rn(ni)];
		if (s)
			mutate(&A);
		aim_edge(&A, b);
		snprintf(where, sizeof(where), "seed %llu case %lu exit %u (XG_SEED=%llu)",
			 (unsigned long long)seed, ci, s, (unsigned long long)seed);
		if (!exit_once(ops, b, rn(6) ? 15 : rn(16)))
			return 0;
		A.fail_at = 0;
	}
	return 1;
}

int main(void)
{
	const char *e = getenv("XG_CASES");
	unsigned long ncases = e ? strtoul(e, NULL, 0) : 20000, bad = 0, h0;

	ops_hook = ops_plain;
	ops_hook.hook = v_hook;
	ops_hook.hook_stages = 1u << XG_EMU_X86_STAGE_DECODE;
	ops_veto = ops_plain;
	ops_veto.hook = v_hook_veto;
	ops_veto.hook_stages = 1u << XG_EMU_X86_STAGE_DECODE;
	ops_hook2 = ops_hook;
	ops_hook2.hook_stages |= 1u << XG_EMU_X86_STAGE_EXCEPTION;

	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		int r;
		h0 = n_hits;
		r = run_dcase(&dcases[i]);
		ok(r, "%s: memo and pipeline agree (%lu short paths)", dcases[i].name, n_hits - h0);
	}
	int r;
	h0 = n_hits;
	r = run_sizes();
	ok(r, "instruction sizes shorter, equal, longer, none: agree (%lu short paths)",
	   n_hits - h0);
	h0 = n_hits;
	r = run_capacity();
	ok(r, "more instructions than entries, eviction, mode switch: agree (%lu short paths)",
	   n_hits - h0);
	h0 = n_hits;
	r = run_veto();
	ok(r, "a DECODE veto on a hit: agrees (%lu short paths)", n_hits - h0);
	ok(n_hits > 100, "the directed cases ran the short path (%lu of %lu exits)", n_hits,
	   n_exits);

	seed = xg_oracle_seed();
	diag("seed %llu (XG_SEED=n to reproduce)", (unsigned long long)seed);
	h0 = n_hits;
	for (unsigned long ci = 0; ci < ncases && bad < 5; ci++) {
		rs = seed ^ (ci * 0x9e3779b97f4a7c15ull);
		if (!run_random(ci))
			bad++;
	}
	r = !bad;
	ok(r, "%lu random edge cases: memo and pipeline agree (%lu short paths)", ncases,
	   n_hits - h0);
	return done_testing();
}
