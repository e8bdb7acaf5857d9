/*
 * xg_emu_x86_fast.c - the memo: a short path for an instruction the vCPU exits on again.
 *
 * The contract is in xg_emu_x86.h (xg_emu_x86_emulate_memo). The short path is the pipeline
 * of xg_emu_x86_emulate.c with everything that cannot change for a compiled instruction
 * taken out (decode, legality, plan), and everything the registers can change checked again
 * first, with no call made: the device checks of device(), the alignment and #AC checks and
 * the segment or canonical check of memory_stages(). Where any of them would fault, or where
 * this file cannot tell, the pipeline runs from the start on the same working copy (only the
 * registers were read, which it would read first too). What is left are the calls the
 * pipeline makes on its plain path, in its order and with its stage recorded at each:
 * ops->hook at DECODE, get_xsave (load_xsave), translate and read per page, the move, then
 * the pipeline's own commit().
 */
#include <stdio.h>
#include <string.h>

#include "xg_emu_x86_int.h"

#define RFL_AC	    (1ull << 18)
#define CR0_PE	    (1ull << 0)
#define CR0_EM	    (1ull << 2)
#define CR0_TS	    (1ull << 3)
#define CR0_AM	    (1ull << 18)
#define CR4_OSFXSR  (1ull << 9)
#define CR4_OSXSAVE (1ull << 18)

/* The short paths (memo ent[].cls); 0 is none. */
enum {
	FAST_NONE = 0,
	FAST_GP_LOAD,	  /* mov reg, m (8A, 8B, A0, A1) */
	FAST_GP_STORE,	  /* mov m, reg (88, 89, A2, A3) */
	FAST_GP_LOADX,	  /* movzx, movsx, movsxd reg, m */
	FAST_GP_STOREIMM, /* mov m, imm (C6 /0, C7 /0) */
	FAST_VEC_LOAD,
	FAST_VEC_STORE
};

/* Returned by a short path that hands over to the pipeline: nothing was called. */
#define HANDOVER (-1)

/* The class of a decoded instruction the pipeline completed, its memory operand's size and
 * its register (plan_gp()'s and rm_size()'s rules for these). */
static unsigned classify(const struct xg_emu_x86_insn *in, unsigned *size, unsigned *reg)
{
	unsigned dk = OPND_DST(in->flags), sk = OPND_SRC(in->flags);

	if (!in->has_mem || in->vsib || in->lock)
		return FAST_NONE;
	*reg = in->reg;
	if (in->enc == XG_EMU_X86_ENC_LEGACY && in->map == XG_EMU_X86_MAP_1B && in->op == OP_MOV) {
		*size = in->opsize;
		if (dk == O_RM && sk == O_IMM)
			return FAST_GP_STOREIMM;
		if ((dk == O_RM && sk == O_REG) || (dk == O_MOFFS && sk == O_ACC)) {
			*reg = sk == O_ACC ? XG_EMU_X86_RAX : in->reg;
			return FAST_GP_STORE;
		}
		if ((dk == O_REG && sk == O_RM) || (dk == O_ACC && sk == O_MOFFS)) {
			*reg = dk == O_ACC ? XG_EMU_X86_RAX : in->reg;
			return FAST_GP_LOAD;
		}
		return FAST_NONE;
	}
	/* MOVSXD r16 reads 2 bytes or 4 by the vendor (rm_size()), which the key does not
	 * hold: the pipeline's */
	if (in->op == OP_MOVSXD && in->opsize == 2)
		return FAST_NONE;
	if (in->enc == XG_EMU_X86_ENC_LEGACY &&
	    (in->op == OP_MOVZX || in->op == OP_MOVSX || in->op == OP_MOVSXD) && dk == O_REG &&
	    sk == O_RM) {
		*size = (in->flags & F_SRC8)	? 1
			: (in->flags & F_SRC16) ? 2
			: in->opsize > 4	? 4
						: in->opsize;
		return FAST_GP_LOADX;
	}
	if (in->op == OP_VMOV && !(in->flags & F_X87) && (in->flags & F_SSE) && !in->bcast &&
	    !(in->enc == XG_EMU_X86_ENC_EVEX && (in->aaa || in->z))) {
		*size = in->enc == XG_EMU_X86_ENC_LEGACY ? 16 : 16u << in->vl;
		if (*size > 64)
			return FAST_NONE;
		return (in->flags & F_STORE) ? FAST_VEC_STORE : FAST_VEC_LOAD;
	}
	return FAST_NONE;
}

/* device() passes (SDM Vol. 3A 2.5, Vol. 1 13.3, Vol. 2 2.8 exception types) */
XG_EMU_X86_HOT static int device_ok_at(const struct xg_emu_x86_insn *in, uint64_t cr0, uint64_t cr4,
				       uint64_t xcr0)
{
	if (!(in->flags & F_SSE))
		return 1;
	if (cr0 & CR0_TS)
		return 0;
	if (in->enc == XG_EMU_X86_ENC_LEGACY)
		return !(cr0 & CR0_EM) && (cr4 & CR4_OSFXSR);
	uint64_t need = in->enc == XG_EMU_X86_ENC_EVEX ? 0xe6 : 0x6;
	return (cr4 & CR4_OSXSAVE) && (xcr0 & need) == need;
}

static int device_ok(const struct xg_emu_x86_ctx *c)
{
	return device_ok_at(c->in, c->r.cr0, c->r.cr4, c->r.xcr0);
}

/*
 * check_segment() passes for the one access (SDM Vol. 3A 3.4.5.1, 5.3, 5.4; Vol. 1 3.3.7.1).
 * Only the plain cases are taken: an expand-down or code segment is left to the pipeline.
 */
static int segment_ok(const struct xg_emu_x86_ctx *c, const struct xg_emu_x86_acc *a)
{
	const struct xg_emu_x86_segment *s = &c->r.seg[a->seg];
	uint64_t last = a->ea + a->size - 1;

	if (c->mode == 64)
		return xg_emu_x86_canonical(c, a->la) &&
		       xg_emu_x86_canonical(c, a->la + a->size - 1);
	if (!c->real) {
		if (s->unusable || !s->present || (s->type & 8) || (s->type & 4))
			return 0;
		if ((a->kind & XG_EMU_X86_WRITE) && !(s->type & 2))
			return 0;
		if (xg_emu_x86_limit_wraps(c, s, a)) /* as check_segment() */
			return 1;
	}
	return last <= s->limit && last >= a->ea;
}

/* MOVZX zero-extends the source, MOVSX and MOVSXD sign-extend it */
static uint64_t extend(const struct xg_emu_x86_insn *in, unsigned size, uint64_t v)
{
	if (in->op != OP_MOVZX && size < 8)
		v = (uint64_t)((int64_t)(v << (64 - 8 * size)) >> (64 - 8 * size));
	return v;
}

/* What a class is: a vector move, a store (the memory operand written, not read) */
static int is_vec(unsigned cls)
{
	return cls == FAST_VEC_LOAD || cls == FAST_VEC_STORE;
}

static int is_store(unsigned cls)
{
	return cls == FAST_GP_STORE || cls == FAST_GP_STOREIMM || cls == FAST_VEC_STORE;
}

/* The memory operand's offset: plan_gp()'s, a moffs operand is its displacement at the
 * address size; the GPRs in g[] through map (xg_emu_x86_ea_of). Inline into each caller,
 * so that each gets the walk of its own register layout (out of line it cost the direct
 * path ~40 instructions an exit). */
__attribute__((always_inline)) static inline uint64_t
operand_ea(const struct xg_emu_x86_insn *in, const uint64_t *g, uint64_t map, uint64_t next_rip)
{
	if (OPND_DST(in->flags) == O_MOFFS || OPND_SRC(in->flags) == O_MOFFS)
		return (uint64_t)in->disp & xg_emu_x86_addr_mask(in);
	return xg_emu_x86_ea_of(in, g, map, next_rip);
}

/* memory_stages()'s alignment checks pass for the operand at la (the linear address decides
 * alignment, not the offset): an aligned vector move's #GP, a GP access's #AC (SDM Vol. 3A
 * 6.15: CR0.AM, RFLAGS.AC, CPL 3, at most 8 bytes of alignment) */
static int aligned_ok(const struct xg_emu_x86_insn *in, int vec, uint64_t la, unsigned size,
		      uint64_t cr0, uint64_t rflags, unsigned cpl)
{
	if (vec)
		return !(in->flags & F_ALIGN) || !(la & (size - 1));
	return !((cr0 & CR0_AM) && (rflags & RFL_AC) && cpl == 3 &&
		 (la & ((size > 8 ? 8 : size) - 1)));
}

/* The XCR0 components load_xsave marks in use for a move of this encoding: what it can
 * write. A legacy SSE move writes XMM only, a VEX move XMM and the YMM upper half, and the
 * zeros VEX writes above bit 255 (SDM Vol. 2 2.3.10.1) into a component left initial are its
 * initial value already (Vol. 1 13.6); EVEX may write any of them. None writes x87 state
 * (bit 0 clear: load_xsave marks x87 only when the mark has it). A component marked in use
 * only to be found initial again at the end costs a look at its written slices
 * (settle_xstate_bv). */
static uint64_t move_mark(const struct xg_emu_x86_insn *in)
{
	/* compares, not a table: a table in .rodata was one more page per repeated exit */
	return in->enc == XG_EMU_X86_ENC_EVEX ? 0xe6 : in->enc == XG_EMU_X86_ENC_VEX ? 0x06 : 0x02;
}

/* The compiled instruction on the working copy: HANDOVER before any call, or the status. */
static int fast(struct xg_emu_x86_ctx *c, unsigned cls, unsigned size, unsigned reg)
{
	const struct xg_emu_x86_insn *in = c->in;
	struct xg_emu_x86_acc *a = &c->acc[0];
	int vec = is_vec(cls), store = is_store(cls);
	int rc;

	c->next_rip = c->r.rip + in->len;
	if (c->mode != 64)
		c->next_rip &= c->mode == 32 ? 0xffffffffull : 0xffffull;
	if (!device_ok(c))
		return HANDOVER;
	xg_emu_x86_add_acc(c, operand_ea(in, c->r.gpr, 0, c->next_rip), in->seg, size,
			   store ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, 0);
	if (!aligned_ok(in, vec, a->la, size, c->r.cr0, c->r.rflags, c->cpl) || !segment_ok(c, a))
		return HANDOVER;

	/* from here on, the pipeline's calls on its plain path */
	if (((c->hook_mask >> XG_EMU_X86_STAGE_DECODE) & 1) &&
	    (rc = xg_emu_x86_stage_hook(c, XG_EMU_X86_STAGE_DECODE)))
		return rc;
	c->res->stage = XG_EMU_X86_STAGE_LEGALITY; /* plan()'s, where load_xsave runs */
	c->xs_mark = move_mark(in);
	if (vec && (rc = xg_emu_x86_load_xsave(c)))
		return rc;
	c->res->stage = XG_EMU_X86_STAGE_TRANSLATE;
	if ((rc = xg_emu_x86_translate_access(c, a)))
		return rc;
	c->res->stage = XG_EMU_X86_STAGE_READ;
	if (!store && (rc = xg_emu_x86_read_access(c, a)))
		return rc;

	/* the move: exec_mov(), exec_movx() and exec_vmov() for an unmasked memory operand */
	switch (cls) {
	case FAST_GP_LOAD: {
		uint64_t v = 0;
		memcpy(&v, c->mem, size);
		xg_emu_x86_gpr_set(c, reg, size, v);
		break;
	}
	case FAST_GP_LOADX: {
		uint64_t v = 0;
		memcpy(&v, c->mem, size);
		xg_emu_x86_gpr_set(c, reg, in->opsize, extend(in, size, v));
		break;
	}
	case FAST_GP_STORE: {
		uint64_t v = xg_emu_x86_gpr_get(c, reg, size);
		memcpy(c->mem, &v, size);
		break;
	}
	case FAST_GP_STOREIMM: {
		uint64_t v = in->imm;
		memcpy(c->mem, &v, size);
		break;
	}
	case FAST_VEC_LOAD: {
		/* legacy SSE keeps the bits above 127; VEX and EVEX zero them (SDM Vol. 1
		 * 14.1.3, Vol. 2 2.3.10, 2.7) */
		uint8_t v[64];
		if (in->enc == XG_EMU_X86_ENC_LEGACY)
			xg_emu_x86_vec_get(c, in->reg, v);
		else
			memset(v, 0, sizeof(v));
		memcpy(v, c->mem, size);
		xg_emu_x86_vec_set(c, in->reg, v);
		break;
	}
	case FAST_VEC_STORE: {
		uint8_t v[64];
		xg_emu_x86_vec_get(c, in->reg, v);
		memcpy(c->mem, v, size);
		break;
	}
	}
	c->res->stage = XG_EMU_X86_STAGE_WRITEBACK;
	return xg_emu_x86_commit(c, 1);
}

/* 1 if the key's bytes begin `bytes` (n of them). Compared here, not by libc's memcmp (a call
 * into libc was one more page of code on every repeated exit), and as two loads of each side
 * that overlap and cover the key (8 bytes at each end for 8-15, 4 for 4-7, then single
 * bytes): no byte loop, and no load past the key's length in `bytes`. */
XG_EMU_X86_HOT static inline int key_begins(const uint8_t *k, unsigned len, const uint8_t *bytes)
{
	if (len >= 8) {
		uint64_t a, b, c, d;
		memcpy(&a, k, 8), memcpy(&b, bytes, 8);
		memcpy(&c, k + len - 8, 8), memcpy(&d, bytes + len - 8, 8);
		return ((a ^ b) | (c ^ d)) == 0;
	}
	if (len >= 4) {
		uint32_t a, b, c, d;
		memcpy(&a, k, 4), memcpy(&b, bytes, 4);
		memcpy(&c, k + len - 4, 4), memcpy(&d, bytes + len - 4, 4);
		return ((a ^ b) | (c ^ d)) == 0;
	}
	/* 1-3 bytes: the first, middle and last are all of them */
	return k[0] == bytes[0] && k[len / 2] == bytes[len / 2] && k[len - 1] == bytes[len - 1];
}

/* The entry for these bytes (all of the instruction given), or -1. */
XG_EMU_X86_HOT static int lookup(const struct xg_emu_x86_memo *m, const uint8_t *bytes, size_t n)
{
	for (int i = 0; i < XG_EMU_X86_MEMO_ENTRIES; i++) {
		unsigned len = m->key[i].len;
		if (len && len <= n && key_begins(m->key[i].bytes, len, bytes))
			return i;
	}
	return -1;
}

/*
 * Replacement (the contract is in xg_emu_x86.h). Round robin over the entries thrashed: a
 * loop over one instruction more than the memo holds evicted, on every miss, the entry the
 * next exit needed, so it never hit and paid a compile on every exit. Here an entry is kept
 * by its use: a hit counts one (saturating at XG_EMU_X86_MEMO_USE_MAX), every
 * XG_EMU_X86_MEMO_WINDOW calls all counts are halved, and a completed instruction takes only
 * an empty entry or one whose count is 0. That is LFU with ageing, and it was chosen over a
 * candidate filter (admit on a second miss) because a filter alone still lets a cycle
 * larger than the memo evict the entries it is about to hit: with counts, a cycle of k > 4
 * keeps 4 of its instructions (each is hit at least once per window while k <= 32: its
 * count, halved from at least 2, stays at 1 or more), compiles nothing after them, and
 * pays a miss exactly what it paid without the memo plus the lookup. A hot instruction among
 * one-off ones keeps its entry; the one-offs take only the entries that went a window
 * without a hit, so at most XG_EMU_X86_MEMO_ENTRIES compiles a window. A working set that
 * moves gets in once the old one's counts have aged out: at most 5 windows (15 halved 4
 * times, plus the window under way).
 *
 * Parking: an entry whose short path hands over XG_EMU_X86_MEMO_PARK times in a row (a hit
 * in between starts the count again, so a state that flips between plain and edge cases
 * keeps its short path) keeps its key, so that its bytes are not compiled again on the next
 * miss, but goes straight to the pipeline, its checks skipped, with XG_EMU_X86_MEMO_PARK_USE
 * as its count and no count for its uses. Once that has aged to 0 (3 to 4 windows), the
 * next exit on it compiles it again, so a state that has gone back to the plain one gets its
 * short path back. A state that stays costs PARK hand-overs and one compile per 3-4 windows
 * instead of the checks on every exit.
 */
__attribute__((noinline, cold)) static void age(struct xg_emu_x86_memo *m)
{
	m->tick = 0;
	for (int i = 0; i < XG_EMU_X86_MEMO_ENTRIES; i++)
		m->ent[i].use >>= 1;
}

/* A call of the memo: the use counts halved every XG_EMU_X86_MEMO_WINDOW of them */
static void tick(struct xg_emu_x86_memo *m)
{
	if (++m->tick >= XG_EMU_X86_MEMO_WINDOW)
		age(m);
}

static void count_hit(struct xg_emu_x86_memo *m, struct xg_emu_x86_memo_entry *e)
{
	m->hits++;
	e->handover = 0;
	e->use += e->use < XG_EMU_X86_MEMO_USE_MAX;
}

/* Where a newly completed instruction goes: an empty entry, else one unused for a window. */
static int victim(const struct xg_emu_x86_memo *m)
{
	for (int i = 0; i < XG_EMU_X86_MEMO_ENTRIES; i++)
		if (!m->key[i].len)
			return i;
	for (int i = 0; i < XG_EMU_X86_MEMO_ENTRIES; i++)
		if (!m->ent[i].use)
			return i;
	return -1;
}

/* Compiles the completed instruction into `slot` (its own bytes in another mode, or a
 * parked entry aged out), or into a victim (-1); with none, nothing is compiled. */
static void compile(struct xg_emu_x86_memo *m, int slot, const struct xg_emu_x86_ctx *c)
{
	const struct xg_emu_x86_insn *in = c->in;
	unsigned size = 0, reg = 0, cls = classify(in, &size, &reg);

	if (cls == FAST_NONE || !in->len || in->len > 15)
		return;
	if (slot < 0 && (slot = victim(m)) < 0)
		return;
	m->compiles++;
	m->key[slot].len = in->len;
	memcpy(m->key[slot].bytes, in->bytes, in->len);
	m->ent[slot].mode = (uint8_t)c->mode;
	m->ent[slot].real = (uint8_t)c->real;
	m->ent[slot].cls = (uint8_t)cls;
	m->ent[slot].size = (uint8_t)size;
	m->ent[slot].reg = (uint8_t)reg;
	m->ent[slot].use = 1;
	m->ent[slot].handover = 0;
	m->ent[slot].insn = *in;
}

enum xg_emu_x86_status xg_emu_x86_emulate_memo(const struct xg_emu_x86_ops *ops, void *opaque,
					       const uint8_t *bytes, size_t n,
					       struct xg_emu_x86_memo *memo,
					       struct xg_emu_x86_result *res)
{
	struct xg_emu_x86_ctx c;
	int rc, slot, matched = 0;

	/* a hook at another stage than DECODE sees stages the short path does not have */
	if (!memo || (ops->hook && ops->hook_stages != 1u << XG_EMU_X86_STAGE_DECODE))
		return xg_emu_x86_emulate(ops, opaque, bytes, n, res);
	if ((rc = xg_emu_x86_begin(&c, ops, opaque, res)))
		return (enum xg_emu_x86_status)rc;
	tick(memo);
	slot = bytes ? lookup(memo, bytes, n > 15 ? 15 : n) : -1;
	if (slot >= 0 && memo->ent[slot].mode == c.mode && memo->ent[slot].real == c.real) {
		struct xg_emu_x86_memo_entry *e = &memo->ent[slot];
		if (e->handover < XG_EMU_X86_MEMO_PARK) {
			matched = 1;
			res->insn = e->insn;
			rc = fast(&c, e->cls, e->size, e->reg);
			if (rc != HANDOVER) {
				count_hit(memo, e);
				return (enum xg_emu_x86_status)xg_emu_x86_finish(&c, rc);
			}
			memo->handovers++;
			if (++e->handover == XG_EMU_X86_MEMO_PARK)
				e->use = XG_EMU_X86_MEMO_PARK_USE;
			/* the working copy is as begin left it, but for the access list */
			c.nacc = 0;
			c.xs_mark = 0xe7;
		} else if (e->use) {
			matched = 1; /* parked */
		}
		/* else parked and aged out: compiled again into its entry */
	}
	memo->misses++;
	rc = xg_emu_x86_run(&c, bytes, n);
	/* an instruction longer than the bytes given (the rest fetched) is not compiled: a
	 * lookup with those bytes could not find it, and each such exit would take an entry */
	if (rc == XG_EMU_X86_OK && !matched && bytes && c.in->len <= n)
		compile(memo, slot, &c);
	return (enum xg_emu_x86_status)rc;
}

/* ---- the direct path (xg_emu_x86.h, xg_emu_x86_memo_direct) ---- */

#define RFL_RF	 (1ull << 16)
#define RFL_VM	 (1ull << 17)
#define EFER_LMA (1ull << 10)

/* kvm_regs' place of each GPR by number (encoding order rax rcx rdx rbx rsp rbp rsi rdi r8..
 * r15; struct kvm_regs holds rax rbx rcx rdx rsi rdi rsp rbp r8..r15, then rip, rflags) */
#define KVM_GPR	   0xfedcba9854761320ull /* 0 2 3 1 6 7 4 5 8 9 ... 15, a nibble each */
#define KVM_RIP	   16
#define KVM_RFLAGS 17

/* An instruction the direct path is running: what its parts share. */
struct direct {
	const struct xg_emu_x86_direct *d;
	uint64_t *g; /* kvm_regs as 18 quadwords (q[]) */
	const struct xg_emu_x86_insn *in;
	unsigned cls, size, reg;
	uint64_t gpa;
	uint8_t *xs; /* vector moves: the lent image, its XSTATE_BV, and the bits to mark */
	uint64_t bv, in_use;
	struct xg_emu_x86_result *res;
};

/* A VMM op failed after the access began: the pipeline's words (host_error), at its stage. */
__attribute__((cold, noinline)) static int
direct_error(struct xg_emu_x86_result *res, enum xg_emu_x86_stage stage, const char *what, int rc)
{
	res->status = XG_EMU_X86_ERROR;
	res->stage = stage;
	snprintf(res->reason, sizeof(res->reason), "the VMM could not %s: %s", what,
		 strerror(rc < 0 ? -rc : rc));
	return 1;
}

/* GP moves (exec_mov(), exec_movx() on a memory operand): the access, then the register */
XG_EMU_X86_HOT __attribute__((noinline)) static int direct_gp(struct direct *t)
{
	const struct xg_emu_x86_direct_ops *ops = t->d->ops;
	const struct xg_emu_x86_insn *in = t->in;
	unsigned shift, i, dsz = t->cls == FAST_GP_LOADX ? in->opsize : t->size;
	uint64_t v = 0;
	int rc;

	i = xg_emu_x86_gpr_at(KVM_GPR, xg_emu_x86_gpr_slot(t->reg, dsz, in->rex, &shift));
	if (t->cls == FAST_GP_STORE || t->cls == FAST_GP_STOREIMM) {
		v = t->cls == FAST_GP_STOREIMM ? (uint64_t)in->imm
					       : (t->g[i] >> shift) & xg_emu_x86_size_mask(dsz);
		t->res->stage = XG_EMU_X86_STAGE_WRITEBACK;
		if ((rc = ops->write(t->d->opaque, t->gpa, &v, t->size)) < 0)
			return direct_error(t->res, XG_EMU_X86_STAGE_WRITEBACK,
					    "write guest memory (write)", rc);
		ops->regs_put(t->d->opaque, 0);
		return 0;
	}
	if ((rc = ops->read(t->d->opaque, t->gpa, &v, t->size)) < 0)
		return direct_error(t->res, XG_EMU_X86_STAGE_READ, "read guest memory (read)", rc);
	t->res->stage = XG_EMU_X86_STAGE_WRITEBACK;
	if (t->cls == FAST_GP_LOADX)
		v = extend(in, t->size, v);
	ops->regs_put(t->d->opaque, 1);
	t->g[i] = xg_emu_x86_gpr_merge(t->g[i], dsz, shift, v);
	return 0;
}

/* Vector moves (exec_vmov() unmasked), legacy and VEX: XMM/YMM 0-15 in the lent image. A
 * store and a load apart, each a function of its own: together, the load's path ran around
 * the store's and spanned two more lines of code. */
XG_EMU_X86_HOT __attribute__((noinline)) static int direct_vec_store(struct direct *t)
{
	const struct xg_emu_x86_direct_ops *ops = t->d->ops;
	unsigned r = t->in->reg & 15;
	uint64_t buf[4] = {0, 0, 0, 0};
	int rc;

	/* a component in its initial state reads as zeros (SDM Vol. 1 13.6) */
	if (t->bv & 2)
		memcpy(buf, t->xs + XG_EMU_X86_XS_XMM0 + 16 * r, 16);
	if (t->bv & 4)
		memcpy(buf + 2, t->xs + XG_EMU_X86_XS_YMMH + 16 * r, 16);
	t->res->stage = XG_EMU_X86_STAGE_WRITEBACK;
	if ((rc = ops->write(t->d->opaque, t->gpa, buf, t->size)) < 0)
		return direct_error(t->res, XG_EMU_X86_STAGE_WRITEBACK,
				    "write guest memory (write)", rc);
	ops->regs_put(t->d->opaque, 0);
	return 0;
}

XG_EMU_X86_HOT __attribute__((noinline)) static int direct_vec_load(struct direct *t)
{
	const struct xg_emu_x86_direct_ops *ops = t->d->ops;
	unsigned r = t->in->reg & 15;
	uint64_t buf[4] = {0, 0, 0, 0};
	int rc;

	if ((rc = ops->read(t->d->opaque, t->gpa, buf, t->size)) < 0)
		return direct_error(t->res, XG_EMU_X86_STAGE_READ, "read guest memory (read)", rc);
	t->res->stage = XG_EMU_X86_STAGE_WRITEBACK;
	/* legacy SSE keeps the bits above 127; VEX zeroes them up to the register's width (SDM
	 * Vol. 1 14.1.3, Vol. 2 2.3.10.1): YMM's upper half and ZMM's bits 511:256, whose zeros
	 * in a component left initial are its initial value */
	memcpy(t->xs + XG_EMU_X86_XS_XMM0 + 16 * r, buf, 16);
	if (t->in->enc == XG_EMU_X86_ENC_VEX) {
		/* zeros for a 16-byte load */
		memcpy(t->xs + XG_EMU_X86_XS_YMMH + 16 * r, buf + 2, 16);
		memset(t->xs + XG_EMU_X86_XS_ZMMH + 32 * r, 0, 32);
		/* AVX marked anew goes back initial when the upper half is zeros
		 * (settle_xstate_bv) */
		if ((t->in_use & ~t->bv & 4) && !(buf[2] | buf[3]))
			t->in_use &= ~4ull;
	}
	memcpy(t->xs + XG_EMU_X86_XS_XSTATE_BV, &t->in_use, 8);
	if ((rc = ops->set_xsave(t->d->opaque, t->xs)) < 0) {
		ops->discard_xsave(t->d->opaque);
		return direct_error(t->res, XG_EMU_X86_STAGE_WRITEBACK,
				    "write the vector state (set_xsave)", rc);
	}
	ops->regs_put(t->d->opaque, 0);
	return 0;
}

XG_EMU_X86_HOT int xg_emu_x86_memo_direct(struct xg_emu_x86_memo *memo, const uint8_t *bytes,
					  size_t n, const struct xg_emu_x86_direct *d,
					  struct xg_emu_x86_result *res)
{
	const struct xg_emu_x86_kvm_sregs *s = d->sregs;
	struct xg_emu_x86_memo_entry *e;
	struct xg_emu_x86_regs paging;
	struct direct t;
	uint64_t next_rip, la;
	unsigned cpl, vec, store;
	int slot, rc;

	_Static_assert(sizeof(struct xg_emu_x86_kvm_regs) == 18 * sizeof(uint64_t),
		       "kvm_regs is 18 quadwords");
	t.g = d->regs->q;
	if (XG_EMU_UNLIKELY(!memo || !bytes || !n))
		return 0;
	/* 64-bit mode: protected, not virtual-8086, IA-32e with CS.L (SDM Vol. 3A 2.2, 5.2.1) */
	if (XG_EMU_UNLIKELY(!(s->cr0 & CR0_PE) || (t.g[KVM_RFLAGS] & RFL_VM) ||
			    !(s->efer & EFER_LMA) || !s->cs.l))
		return 0;
	slot = lookup(memo, bytes, n > 15 ? 15 : n);
	if (XG_EMU_UNLIKELY(slot < 0))
		return 0;
	e = &memo->ent[slot];
	t.in = &e->insn;
	t.cls = e->cls, t.size = e->size, t.reg = e->reg;
	if (XG_EMU_UNLIKELY(e->mode != 64 || e->real || e->handover >= XG_EMU_X86_MEMO_PARK ||
			    t.in->enc == XG_EMU_X86_ENC_EVEX))
		return 0;
	vec = is_vec(t.cls);
	store = is_store(t.cls);
	cpl = s->ss.dpl;

	/* the short path's checks (fast()), on these registers; any that would not pass: the
	 * memo decides */
	if (XG_EMU_UNLIKELY(vec && !device_ok_at(t.in, s->cr0, s->cr4, d->xcr0)))
		return 0;
	next_rip = t.g[KVM_RIP] + t.in->len;
	/* 64-bit mode: only FS and GS have a base (SDM Vol. 1 3.3.7.1) */
	la = t.in->seg == XG_EMU_X86_FS ? s->fs.base : t.in->seg == XG_EMU_X86_GS ? s->gs.base : 0;
	la += operand_ea(t.in, t.g, KVM_GPR, next_rip);
	if (XG_EMU_UNLIKELY(!xg_emu_x86_canonical_at(s->cr4, la) ||
			    !xg_emu_x86_canonical_at(s->cr4, la + t.size - 1)))
		return 0;
	if (XG_EMU_UNLIKELY((la & 0xfff) + t.size > 0x1000))
		return 0; /* two pages: the pipeline's pieces */
	if (XG_EMU_UNLIKELY(!aligned_ok(t.in, vec, la, t.size, s->cr0, t.g[KVM_RFLAGS], cpl)))
		return 0;

	/* the vector state, as load_xsave() with the short path's mark: SSE always, AVX for a
	 * VEX move, never x87 (a move writes no x87 state); a component marked anew must hold
	 * its initial value already */
	if (vec) {
		rc = d->ops->lend_xsave(d->opaque, (void **)&t.xs);
		if (XG_EMU_UNLIKELY(rc < 0 || !t.xs))
			return 0;
		memcpy(&t.bv, t.xs + XG_EMU_X86_XS_XSTATE_BV, 8);
		t.in_use = t.bv | 2 | (d->xcr0 & move_mark(t.in));
		if (XG_EMU_UNLIKELY(t.cls == FAST_VEC_LOAD && t.in_use != t.bv &&
				    rc != XG_EMU_X86_LENT_EXPLICIT))
			return 0;
	}
	paging.cr0 = s->cr0, paging.cr3 = s->cr3, paging.cr4 = s->cr4, paging.efer = s->efer;
	if (XG_EMU_UNLIKELY(d->ops->translate(
		d->opaque, &paging, la, store ? XG_EMU_X86_WRITE : XG_EMU_X86_READ, cpl, &t.gpa)))
		return 0;

	/* taken: from here on it is the short path's outcome */
	tick(memo);
	count_hit(memo, e);
	t.d = d;
	t.res = res;
	if (!d->no_insn) {
		res->insn = *t.in;
		res->reason[0] = 0;
	}
	/* status after the access: stored together with the stage, the two constants came from
	 * .rodata, one more line and page on every exit (direct_error sets both) */
	res->stage = XG_EMU_X86_STAGE_READ;
	memset(&res->exc, 0, sizeof(res->exc));
	if (!vec		      ? direct_gp(&t)
	    : t.cls == FAST_VEC_STORE ? direct_vec_store(&t)
				      : direct_vec_load(&t))
		return 1;
	res->status = XG_EMU_X86_OK;
	/* RIP past the instruction, RF clear (commit()), after regs_put */
	t.g[KVM_RIP] = next_rip;
	t.g[KVM_RFLAGS] &= ~RFL_RF;
	return 1;
}
