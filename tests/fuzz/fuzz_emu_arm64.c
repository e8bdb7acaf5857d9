/*
 * fuzz_emu_arm64.c - libFuzzer target over xg_emu_arm64_decode() and xg_emu_arm64_emulate().
 *
 * The input is everything a guest controls: the instruction word (given, or fetched at PC),
 * X0-X30, SP, PC, PSTATE (EL, SP select, PAN, UAO, even AArch32), SCTLR_EL1, TCR_EL1 and both
 * TTBRs, the V registers, the memory the accesses and the translation tables read, and which
 * pages a caller's translation faults. Half the inputs use the emulator's own stage-1 walk
 * (tables read through ops->read, anywhere in the IPA space), half a translate callback. The
 * fake vCPU checks the emulator's promises (xg_emu_arm64.h) on every call and aborts (a
 * finding) when one is broken:
 *   - every access is 1-16 bytes inside one 4 KiB page (a descriptor 8, the fetch 4), but
 *     DC ZVA's write: a naturally aligned block of zeros of at most 2 KiB;
 *   - with a translate callback, every data access is to a page translated (successfully)
 *     before, for its kind of access;
 *   - nothing is translated or read after the first write (all faults come before writing);
 *   - an emulation that ends in an exception, a veto, "not handled" or an error wrote no
 *     memory, no register and no V register; an exception is injected exactly once, and
 *     only then;
 *   - OK sets the registers once, with PC + 4, and the V registers only for a SIMD&FP load;
 *   - decode is a pure function of the word, and its result is sane (size, registers, name,
 *     a reason that says "not handled" or "undefined").
 * AddressSanitizer and UBSan catch the rest. Build: see tests/fuzz/CMakeLists.txt and
 * t_fuzz_emu_arm64.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xg_emu_arm64.h"

#define WIN    0x10000ull /* 4 pages of memory at IPA 0x10000 */
#define NPAGES 4

struct fz {
	struct xg_emu_arm64_regs r;
	struct xg_emu_arm64_vregs v;
	uint8_t mem[NPAGES * 4096];
	uint64_t fault_seed, fill_seed;
	uint64_t xlat_ipa[64]; /* pages translated, and for which kinds */
	uint8_t xlat_kind[64];
	unsigned nxlat;
	int writes, set_regs, set_vregs, injected, veto_at, wrote, dczva;
	uint64_t dczid;
	struct xg_emu_arm64_regs out;
};

static void check(int cond)
{
	if (!cond)
		abort();
}

static int page_of(uint64_t ipa)
{
	return (ipa >= WIN && ipa < WIN + NPAGES * 4096ull) ? (int)((ipa - WIN) >> 12) : -1;
}

static int g_regs(void *o, struct xg_emu_arm64_regs *r)
{
	*r = ((struct fz *)o)->r;
	return 0;
}

static int s_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	struct fz *f = o;

	f->set_regs++;
	f->out = *r;
	return 0;
}

static int g_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	*v = ((struct fz *)o)->v;
	return 0;
}

static int s_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	(void)v;
	((struct fz *)o)->set_vregs++;
	return 0;
}

/* The caller's translation: the VA's page faults as the seed says, else maps into the window
 * (or, for 1 in 8 pages, outside it: a "device" the read callback invents). */
static int tr(void *o, uint64_t va, enum xg_emu_arm64_access kind, unsigned el, uint64_t *ipa,
	      uint8_t *fsc)
{
	struct fz *f = o;
	unsigned h = (unsigned)((va >> 12) * 0x9e3779b1u) >> 26, sel;

	check(el <= 1);
	check(!f->wrote);
	sel = (unsigned)(f->fault_seed >> (h & 63)) & 15;
	if (sel == 0) {
		*fsc = (uint8_t)(XG_EMU_ARM64_FSC_TRANSLATION + (h & 3));
		return 1;
	}
	if (sel == 1) {
		*fsc = XG_EMU_ARM64_FSC_PERMISSION + 3;
		return 1;
	}
	*ipa =
	    (sel == 2 ? 0x8000000ull + ((va >> 12) << 12) : WIN + ((h & 3) << 12)) | (va & 0xfff);
	if (f->nxlat < 64) {
		f->xlat_ipa[f->nxlat] = *ipa >> 12;
		f->xlat_kind[f->nxlat++] = (uint8_t)kind;
	}
	return 0;
}

static int translated(const struct fz *f, uint64_t ipa, unsigned need)
{
	unsigned i;

	for (i = 0; i < f->nxlat; i++)
		if (f->xlat_ipa[i] == ipa >> 12 && (f->xlat_kind[i] & need) == need)
			return 1;
	return f->nxlat == 64; /* the record overflowed: cannot tell */
}

static int walk_mode(const struct fz *f)
{
	return f->fault_seed & 1;
}

static int rd(void *o, uint64_t ipa, void *buf, unsigned n, enum xg_emu_arm64_access kind)
{
	struct fz *f = o;
	int p = page_of(ipa);
	unsigned i;

	check(n >= 1 && n <= 16 && (ipa >> 12) == ((ipa + n - 1) >> 12));
	check(kind != XG_EMU_ARM64_WALK || n == 8);
	check(kind != XG_EMU_ARM64_FETCH || n == 4);
	check(!f->wrote);
	if (kind == XG_EMU_ARM64_READ && !walk_mode(f))
		check(translated(f, ipa, XG_EMU_ARM64_READ));
	if (p >= 0) {
		memcpy(buf, f->mem + (ipa - WIN), n);
		return 0;
	}
	/* elsewhere in the IPA space: bytes that depend on the address (tables, devices) */
	for (i = 0; i < n; i++)
		((uint8_t *)buf)[i] =
		    (uint8_t)(((ipa + i) * 0x9e3779b97f4a7c15ull ^ f->fill_seed) >> 56);
	return 0;
}

static int wr(void *o, uint64_t ipa, const void *buf, unsigned n)
{
	struct fz *f = o;
	int p = page_of(ipa);

	check(n >= 1 && (ipa >> 12) == ((ipa + n - 1) >> 12));
	if (n > 16) {
		/* only DC ZVA writes more: a naturally aligned block of zeros, at most 2 KiB */
		check(f->dczva && n <= 2048 && !(n & (n - 1)) && !(ipa & (n - 1)));
		for (unsigned i = 0; i < n; i++)
			check(((const uint8_t *)buf)[i] == 0);
	}
	if (!walk_mode(f))
		check(translated(f, ipa, XG_EMU_ARM64_WRITE));
	if (p >= 0)
		memcpy(f->mem + (ipa - WIN), buf, n);
	f->writes++;
	f->wrote = 1;
	return 0;
}

static int inj(void *o, const struct xg_emu_arm64_exception *e)
{
	struct fz *f = o;

	f->injected++;
	check(!f->wrote && f->set_regs == 0);
	check(((e->esr >> 25) & 1) == 1); /* IL: a 32-bit instruction */
	return 0;
}

static int hook(void *o, enum xg_emu_arm64_stage s, const struct xg_emu_arm64_insn *in,
		const struct xg_emu_arm64_exception *e)
{
	check((unsigned)s < XG_EMU_ARM64_NSTAGES && in->name != NULL);
	check((s == XG_EMU_ARM64_STAGE_EXCEPTION) == (e != NULL));
	return (int)s == ((struct fz *)o)->veto_at;
}

/* DCZID_EL0 from the input (BS up to 15: the reserved sizes too; DZP) */
static int dczid(void *o, uint64_t *v)
{
	*v = ((struct fz *)o)->dczid;
	return 0;
}

static const struct xg_emu_arm64_ops ops_walk = {g_regs, s_regs, g_vregs, s_vregs, NULL,
						 rd,	 wr,	 inj,	  hook,	   dczid};
static const struct xg_emu_arm64_ops ops_tr = {g_regs, s_regs, g_vregs, s_vregs, tr,
					       rd,     wr,     inj,	hook,	 NULL};

static uint64_t take(const uint8_t **d, size_t *n, unsigned k)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < k && *n; i++, (*d)++, (*n)--)
		v |= (uint64_t) * *d << (8 * i);
	return v;
}

static void check_decode(uint32_t w)
{
	struct xg_emu_arm64_insn a, b;
	struct xg_emu_arm64_exception e;
	char reason[96], r2[96];
	enum xg_emu_arm64_status st, st2;

	memset(reason, 'x', sizeof(reason));
	st = xg_emu_arm64_decode(w, &a, &e, reason);
	st2 = xg_emu_arm64_decode(w, &b, NULL, r2);
	check(st == st2 && !memcmp(&a, &b, sizeof(a)) && !strcmp(reason, r2));
	check(memchr(reason, 0, sizeof(reason)) != NULL && a.name != NULL && a.word == w);
	switch (st) {
	case XG_EMU_ARM64_OK:
		check(reason[0] == 0 && a.cls != XG_EMU_ARM64_C_NONE);
		if (a.cls == XG_EMU_ARM64_C_DCZVA) {
			check((w & ~31u) == 0xd50b7420 && a.size == 0 && a.imm == 64);
			break;
		}
		check(a.size == 1 || a.size == 2 || a.size == 4 || a.size == 8 || a.size == 16);
		check(a.rt < 32 && a.rt2 < 32 && a.rn < 32 && a.rm < 32 && a.rs < 32);
		check(a.index <= XG_EMU_ARM64_REGOFF && a.extend < 8);
		if (a.cls == XG_EMU_ARM64_C_STRUCT)
			check(a.selem >= 1 && a.selem <= 4 && a.rpt >= 1 && a.imm > 0 &&
			      a.imm <= 64 && (a.datasize == 8 || a.datasize == 16));
		break;
	case XG_EMU_ARM64_NOT_HANDLED:
		check(!strncmp(reason, "not handled: ", 13));
		break;
	case XG_EMU_ARM64_EXCEPTION:
		check(!strncmp(reason, "undefined: ", 11) && e.esr == (1u << 25));
		break;
	default:
		check(0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	struct xg_emu_arm64_result res;
	const uint8_t *d = data;
	size_t n = size;
	enum xg_emu_arm64_status st;
	uint64_t cfg;
	uint32_t word;
	int given;

	memset(&f, 0, sizeof(f));
	word = (uint32_t)take(&d, &n, 4);
	check_decode(word);
	/* one input in 8 is DC ZVA with the word's low bits as Xt */
	if ((word >> 29) == 7)
		word = 0xd50b7420u | (word & 31);
	check_decode(word);
	f.dczva = (word & ~31u) == 0xd50b7420u;

	cfg = take(&d, &n, 8);
	f.fault_seed = take(&d, &n, 8);
	f.fill_seed = take(&d, &n, 8);
	f.veto_at = (int)(cfg & 15); /* >= NSTAGES: no veto */
	given = (cfg >> 4) & 1;
	/* PSTATE: EL0 or EL1 (sometimes EL2, or AArch32), SP select, PAN, UAO */
	f.r.pstate = ((cfg >> 5) & 7) == 7 ? 0x10 : ((cfg >> 8) & 3) << 2;
	f.r.pstate |= ((cfg >> 10) & 1) | ((cfg >> 11) & 1) << 22 | ((cfg >> 12) & 1) << 23;
	/* SCTLR_EL1: M, A, SA, SA0, DZE, WXN, EE, E0E, SPAN from the input; the rest 0 */
	f.r.sctlr_el1 = ((cfg >> 13) & 1) << 0 | ((cfg >> 14) & 1) << 1 | ((cfg >> 15) & 1) << 3 |
			((cfg >> 16) & 1) << 4 | ((cfg >> 17) & 1) << 19 |
			(((cfg >> 18) & 7) == 7 ? 1ull << 25 : 0) |
			(((cfg >> 21) & 7) == 7 ? 1ull << 24 : 0) | ((cfg >> 24) & 1) << 23 |
			((cfg >> 33) & 1) << 14;
	f.dczid = (cfg >> 28) & 31;
	f.r.tcr_el1 = take(&d, &n, 8);
	f.r.ttbr0_el1 = (cfg >> 25) & 1 ? WIN + (take(&d, &n, 2) & 0x3ff8) : take(&d, &n, 8);
	f.r.ttbr1_el1 = take(&d, &n, 8);
	/* X registers: near the window, or anything */
	for (int i = 0; i < 31; i++) {
		uint8_t b = (uint8_t)take(&d, &n, 1);
		f.r.x[i] = b < 0xc0 ? WIN + 0x55 * (uint64_t)b + (b & 7) : take(&d, &n, 8);
	}
	f.r.sp = (cfg >> 26) & 1 ? WIN + 0x2000 + (take(&d, &n, 2) & 0xfff) : take(&d, &n, 8);
	f.r.pc = (cfg >> 27) & 1 ? WIN + (take(&d, &n, 2) & 0x3ffc) : take(&d, &n, 8);
	for (size_t i = 0; i < sizeof(f.v) && n; i++)
		f.v.v[i / 16][i % 16] = (uint8_t)take(&d, &n, 1);
	for (size_t i = 0; i < sizeof(f.mem) && n; i++)
		f.mem[i] = (uint8_t)take(&d, &n, 1);
	if (page_of(f.r.pc) >= 0)
		memcpy(f.mem + (f.r.pc - WIN), &word, 4);
	if (!walk_mode(&f))
		f.r.sctlr_el1 |= 1; /* the callback is the translation: the MMU is on */

	st = xg_emu_arm64_emulate(walk_mode(&f) ? &ops_walk : &ops_tr, &f, given ? &word : NULL,
				  &res);
	check(st == res.status);
	check(memchr(res.reason, 0, sizeof(res.reason)) != NULL);
	check((unsigned)res.stage < XG_EMU_ARM64_NSTAGES);
	if (st == XG_EMU_ARM64_OK) {
		check(res.reason[0] == 0 && f.set_regs == 1 && f.injected == 0);
		check(f.out.pc == f.r.pc + 4);
		check(f.set_vregs == (res.insn.fp && res.insn.load));
		/* what a load/store leaves alone */
		check(f.out.pstate == f.r.pstate && f.out.sctlr_el1 == f.r.sctlr_el1);
	} else {
		check(f.writes == 0 && f.set_regs == 0 && f.set_vregs == 0);
		check((st == XG_EMU_ARM64_EXCEPTION) == (f.injected == 1));
		check(f.injected <= 1);
		if (st == XG_EMU_ARM64_NOT_HANDLED)
			check(!strncmp(res.reason, "not handled: ", 13));
		/* a veto of an exception's delivery keeps the stage that found it */
		if (st == XG_EMU_ARM64_VETOED)
			check((int)res.stage == f.veto_at ||
			      f.veto_at == XG_EMU_ARM64_STAGE_EXCEPTION);
	}
	return 0;
}
