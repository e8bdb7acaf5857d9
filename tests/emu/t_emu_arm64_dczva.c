/*
 * t_emu_arm64_dczva.c - DC ZVA in the A64 emulator, on a fake machine (ARM ARM C5.3.x DC ZVA,
 * D17.2.34 DCZID_EL0, D17.2.118 SCTLR_EL1.DZE).
 *
 * One page of "device" at IPA 0x9000000, filled with 0xaa before each case, every write
 * logged; a translate callback maps VA page 0x7000 to it (and faults everywhere else, or
 * everywhere when asked). The words are what GNU as assembles for `dc zva, xN`
 * (SYS #3, C7, C4, #1, Xt = 0xd50b7420 | t).
 */
#include <errno.h>
#include <string.h>

#include "tap.h"
#include "xg_emu_arm64.h"

#define DEV_IPA	  0x9000000ull
#define DEV_VA	  0x7000ull
#define PC	  0x400000ull
#define DC_ZVA(t) (0xd50b7420u | (t))

static struct {
	struct xg_emu_arm64_regs r;
	uint8_t dev[4096];
	uint64_t dczid;
	int have_dczid, fault_all, veto, injected, set_regs, writes;
	uint64_t w_ipa;
	unsigned w_size;
	struct xg_emu_arm64_exception exc;
} m;

static int get_regs(void *o, struct xg_emu_arm64_regs *r)
{
	(void)o;
	*r = m.r;
	return 0;
}

static int set_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	(void)o;
	m.r = *r;
	m.set_regs++;
	return 0;
}

static int no_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	(void)o;
	(void)v;
	return -EINVAL; /* DC ZVA never touches them */
}

static int no_set_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	(void)o;
	(void)v;
	return -EINVAL;
}

static int translate(void *o, uint64_t va, enum xg_emu_arm64_access kind, unsigned el,
		     uint64_t *ipa, uint8_t *fsc)
{
	(void)o;
	(void)el;
	if (m.fault_all || (va & ~0xfffull) != DEV_VA || kind != XG_EMU_ARM64_WRITE) {
		*fsc = XG_EMU_ARM64_FSC_TRANSLATION + 3;
		return 1;
	}
	*ipa = DEV_IPA + (va & 0xfff);
	return 0;
}

static int rd(void *o, uint64_t ipa, void *buf, unsigned size, enum xg_emu_arm64_access kind)
{
	(void)o;
	(void)ipa;
	(void)buf;
	(void)size;
	(void)kind;
	return -EFAULT; /* DC ZVA reads nothing */
}

static int wr(void *o, uint64_t ipa, const void *buf, unsigned size)
{
	(void)o;
	if (ipa < DEV_IPA || ipa + size > DEV_IPA + sizeof(m.dev))
		return -EFAULT;
	memcpy(m.dev + (ipa - DEV_IPA), buf, size);
	m.writes++;
	m.w_ipa = ipa;
	m.w_size = size;
	return 0;
}

static int inject(void *o, const struct xg_emu_arm64_exception *e)
{
	(void)o;
	m.injected++;
	m.exc = *e;
	return 0;
}

static int hook(void *o, enum xg_emu_arm64_stage s, const struct xg_emu_arm64_insn *in,
		const struct xg_emu_arm64_exception *e)
{
	(void)o;
	(void)in;
	(void)e;
	return (int)s == m.veto;
}

static int get_dczid(void *o, uint64_t *v)
{
	(void)o;
	*v = m.dczid;
	return 0;
}

static struct xg_emu_arm64_ops ops = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .get_vregs = no_vregs,
    .set_vregs = no_set_vregs,
    .translate = translate,
    .read = rd,
    .write = wr,
    .inject = inject,
    .hook = hook,
};

/* A fresh machine: EL1h, MMU on (the callback), x3 = an address in the device page. */
static void reset(uint64_t x3)
{
	memset(&m, 0, sizeof(m));
	memset(m.dev, 0xaa, sizeof(m.dev));
	m.r.pstate = 0x3c5;
	m.r.sctlr_el1 = 1;
	m.r.pc = PC;
	m.r.x[3] = x3;
	m.veto = -1;
}

/* The device bytes [from, to) are all `v`. */
static int all(unsigned from, unsigned to, uint8_t v)
{
	for (unsigned i = from; i < to; i++)
		if (m.dev[i] != v)
			return 0;
	return 1;
}

static enum xg_emu_arm64_status run(uint32_t word, struct xg_emu_arm64_result *res)
{
	ops.get_dczid = m.have_dczid ? get_dczid : NULL;
	return xg_emu_arm64_emulate(&ops, NULL, &word, res);
}

int main(void)
{
	struct xg_emu_arm64_result res;
	struct xg_emu_arm64_insn in;
	enum xg_emu_arm64_status st;
	char reason[96];

	/* decode */
	st = xg_emu_arm64_decode(DC_ZVA(3), &in, NULL, reason);
	is_int(st, XG_EMU_ARM64_OK, "dc zva, x3 decodes (%s)", reason);
	is_int(in.cls, XG_EMU_ARM64_C_DCZVA, "as class DCZVA");
	is_str(in.name, "dc zva", "named dc zva");
	is_int(in.rt, 3, "Xt = x3");
	is_int(in.imm, 64, "the block is 64 bytes until DCZID_EL0 is read");
	st = xg_emu_arm64_decode(0xd50b7e20u, &in, NULL, reason); /* dc civac, x0 */
	ok(st == XG_EMU_ARM64_NOT_HANDLED && in.cls == XG_EMU_ARM64_C_NONE,
	   "dc civac stays outside (%s)", reason);

	/* without get_dczid: 64 bytes at x3 aligned down */
	reset(DEV_VA + 0x123);
	st = run(DC_ZVA(3), &res);
	is_int(st, XG_EMU_ARM64_OK, "emulated (%s)", res.reason);
	ok(m.writes == 1 && m.w_ipa == DEV_IPA + 0x100 && m.w_size == 64,
	   "one write of 64 bytes at the block (IPA %#llx, %u bytes)", (unsigned long long)m.w_ipa,
	   m.w_size);
	ok(all(0x100, 0x140, 0) && all(0, 0x100, 0xaa) && all(0x140, 4096, 0xaa),
	   "exactly [0x100, 0x140) zeroed");
	is_hex(m.r.pc, PC + 4, "PC + 4");
	is_hex(m.r.x[3], DEV_VA + 0x123, "x3 unchanged");
	is_int(res.insn.imm, 64, "the result says 64 bytes");

	/* DCZID_EL0.BS from the op: 5 -> 128 bytes, 9 -> 2 KiB (the largest) */
	reset(DEV_VA + 0x7ff);
	m.have_dczid = 1;
	m.dczid = 5;
	st = run(DC_ZVA(3), &res);
	ok(st == XG_EMU_ARM64_OK && all(0x780, 0x800, 0) && all(0, 0x780, 0xaa) &&
	       all(0x800, 4096, 0xaa) && res.insn.imm == 128,
	   "BS = 5: [0x780, 0x800) zeroed, 128 bytes");
	reset(DEV_VA + 0xfff);
	m.have_dczid = 1;
	m.dczid = 9;
	st = run(DC_ZVA(3), &res);
	ok(st == XG_EMU_ARM64_OK && all(0x800, 0x1000, 0) && all(0, 0x800, 0xaa) &&
	       m.w_size == 2048,
	   "BS = 9: [0x800, 0x1000) zeroed in one write of 2 KiB");
	reset(DEV_VA);
	m.have_dczid = 1;
	m.dczid = 10;
	st = run(DC_ZVA(3), &res);
	ok(st == XG_EMU_ARM64_NOT_HANDLED && m.writes == 0 && m.set_regs == 0,
	   "BS = 10 (reserved): not handled, nothing done (%s)", res.reason);

	/* DZP: prohibited */
	reset(DEV_VA);
	m.have_dczid = 1;
	m.dczid = 4 | 1u << 4;
	st = run(DC_ZVA(3), &res);
	ok(st == XG_EMU_ARM64_NOT_HANDLED && strstr(res.reason, "DZP") && m.writes == 0 &&
	       m.set_regs == 0,
	   "DZP = 1: not handled with the reason (%s)", res.reason);

	/* EL0: SCTLR_EL1.DZE = 0 traps to EL1 (EC 0x18), DZE = 1 runs */
	reset(DEV_VA + 0x40);
	m.r.pstate = 0x3c0;
	st = run(DC_ZVA(3), &res);
	is_int(st, XG_EMU_ARM64_EXCEPTION, "EL0 with DZE = 0: an exception");
	is_hex(m.exc.esr,
	       0x18u << 26 | 1u << 25 | 1u << 20 | 1u << 17 | 3u << 14 | 7u << 10 | 3u << 5 |
		   4u << 1,
	       "ESR: EC 0x18, IL, ISS Op0 1 Op2 1 Op1 3 CRn 7 Rt 3 CRm 4 Direction 0");
	ok(m.injected == 1 && m.writes == 0 && m.set_regs == 0, "injected once, nothing else");
	reset(DEV_VA + 0x40);
	m.r.pstate = 0x3c0;
	m.r.sctlr_el1 |= 1ull << 14;
	st = run(DC_ZVA(3), &res);
	ok(st == XG_EMU_ARM64_OK && all(0x40, 0x80, 0), "EL0 with DZE = 1: zeroed");

	/* XZR as Xt: address 0, which the callback faults: a data abort, WnR = 1 */
	reset(0);
	st = run(DC_ZVA(31), &res);
	is_int(st, XG_EMU_ARM64_EXCEPTION, "dc zva, xzr: address 0 faults");
	ok((m.exc.esr >> 26) == 0x25 && (m.exc.esr & 0x3f) == 0x07 && (m.exc.esr >> 6 & 1) &&
	       !(m.exc.esr >> 24 & 1) && m.exc.far == 0,
	   "data abort EC 0x25, DFSC translation L3, WnR 1, ISV 0, FAR 0 (ESR %#x)", m.exc.esr);
	ok(m.writes == 0 && m.set_regs == 0, "nothing written");

	/* a fault in the block: FAR within it */
	reset(DEV_VA + 0x123);
	m.fault_all = 1;
	st = run(DC_ZVA(3), &res);
	ok(st == XG_EMU_ARM64_EXCEPTION && m.exc.far >= DEV_VA + 0x100 &&
	       m.exc.far < DEV_VA + 0x140 && m.writes == 0,
	   "translation fault: FAR %#llx within the block, nothing written",
	   (unsigned long long)m.exc.far);

	/* a veto at WRITEBACK: nothing */
	reset(DEV_VA + 0x123);
	m.veto = XG_EMU_ARM64_STAGE_WRITEBACK;
	st = run(DC_ZVA(3), &res);
	ok(st == XG_EMU_ARM64_VETOED && m.writes == 0 && m.set_regs == 0 && all(0, 4096, 0xaa),
	   "vetoed at writeback: nothing written, PC kept");
	return done_testing();
}
