/*
 * t_emu_x87_init.c - x87 in its initial state (XSTATE_BV bit 0 clear) before the instruction,
 * judged by the host CPU.
 *
 * load_xsave marks x87 in use for any instruction the pipeline runs, and settle_xstate_bv
 * puts the bit back clear when the x87 registers are still in their initial configuration
 * (FCW 037FH; FSW, FTW, FOP, FIP, FDP and ST0-7 zero: SDM Vol. 1 13.6). A bit cleared where
 * the instruction left x87 otherwise loses what it wrote: the entry's XRSTOR loads the
 * initial configuration for a clear bit (Vol. 1 13.8.1). t_emu_random never starts from an
 * initial x87 state, so here every case does: the x87 forms that can leave it initial or
 * one field away from it (FLDCW, FLDENV, FXRSTOR with an image that is initial but for one
 * field, an ST register's contents under an empty tag among them), the stores that leave it
 * as it was (FNSTCW, FNSTSW, FNSTENV, FXSAVE), loads, arithmetic and stores on the empty
 * stack, MMX moves, and legacy SSE moves (no x87 state written).
 *
 * The CPU runs each from the same state: XRSTOR of the image with XSTATE_BV bit 0 clear (the
 * x87 initial configuration, whatever its legacy bytes hold), the instruction on a buffer,
 * XSAVE. The emulator runs it on fake ops that copy the image (get_xsave), lend it as not
 * explicit (the x87 bytes under the clear bit are stale garbage) or lend it as explicit (as
 * the KVM backend does). Compared: FCW, FSW, FTW, FOP, FIP, FDP, MXCSR, ST0-7, XMM0-15 with
 * a clear XSTATE_BV bit read as the initial values, the memory operand, and the rule that
 * the image the emulator hands set_xsave has bit 0 set exactly when x87 is not initial.
 * Each case also runs once with the operand's page missing: #PF, and the state as it was.
 *
 * Seeded (oracle_rand.h): XG_SEED=n, XG_SEED=random, XG_CASES=n (default 50,000), XG_CASE=i
 * runs case i alone and prints it. A mismatch prints the seed, the case and its bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "oracle_rand.h"
#include "tap.h"
#include "xg_emu_x86.h"

#define XS    XG_EMU_X86_XSAVE_SIZE
#define OPOFF 0x100 /* the operand's offset in the data page (FXSAVE: 16-byte aligned) */

/* ---- the forms ---- */

enum kind { K_CW, K_ENV28, K_ENV14, K_FX, K_VAL, K_OUT };

static const struct form {
	const char *name;
	uint8_t len, bytes[5];
	enum kind kind;
	unsigned size; /* bytes of the operand compared */
} forms[] = {
    {"fldcw [rbx]", 2, {0xd9, 0x2b}, K_CW, 2},
    {"fnstcw [rbx]", 2, {0xd9, 0x3b}, K_OUT, 2},
    {"fnstsw [rbx]", 2, {0xdd, 0x3b}, K_OUT, 2},
    {"fldenv [rbx]", 2, {0xd9, 0x23}, K_ENV28, 28},
    {"fldenv [rbx] (o16)", 3, {0x66, 0xd9, 0x23}, K_ENV14, 14},
    {"fnstenv [rbx]", 2, {0xd9, 0x33}, K_OUT, 28},
    {"fxrstor64 [rbx]", 4, {0x48, 0x0f, 0xae, 0x0b}, K_FX, 512},
    {"fxrstor [rbx]", 3, {0x0f, 0xae, 0x0b}, K_FX, 512},
    {"fxsave64 [rbx]", 4, {0x48, 0x0f, 0xae, 0x03}, K_OUT, 512},
    {"flds [rbx]", 2, {0xd9, 0x03}, K_VAL, 4},
    {"fldt [rbx]", 2, {0xdb, 0x2b}, K_VAL, 10},
    {"fildl [rbx]", 2, {0xdb, 0x03}, K_VAL, 4},
    {"fadds [rbx]", 2, {0xd8, 0x03}, K_VAL, 4},
    {"fcoms [rbx]", 2, {0xd8, 0x13}, K_VAL, 4},
    {"fsts [rbx]", 2, {0xd9, 0x13}, K_OUT, 4},
    {"fstpt [rbx]", 2, {0xdb, 0x3b}, K_OUT, 10},
    {"fistl [rbx]", 2, {0xdb, 0x13}, K_OUT, 4},
    {"movq mm0, [rbx]", 3, {0x0f, 0x6f, 0x03}, K_VAL, 8},
    {"movd mm1, [rbx]", 3, {0x0f, 0x6e, 0x0b}, K_VAL, 4},
    {"movq [rbx], mm2", 3, {0x0f, 0x7f, 0x13}, K_OUT, 8},
    {"movups xmm0, [rbx]", 3, {0x0f, 0x10, 0x03}, K_VAL, 16},
    {"movups [rbx], xmm1", 3, {0x0f, 0x11, 0x0b}, K_OUT, 16},
};
#define NFORMS (sizeof(forms) / sizeof(forms[0]))

/* ---- the CPU ---- */

static uint8_t *code, *data; /* an executable page; the data page (and a guard page) */

/* XRSTOR img (x87 and SSE), the instruction at `code` with RBX = the operand, XSAVE out;
 * the host's own x87/SSE state saved and restored around it (FXSAVE/FXRSTOR do not wait, so
 * an exception the loaded state leaves pending is not taken here) */
static void native(const uint8_t *img, uint8_t *out)
{
	uint8_t host[512] __attribute__((aligned(16)));

	__asm__ volatile("fxsave64 %[h]\n\t"
			 "mov $3, %%eax\n\t"
			 "xor %%edx, %%edx\n\t"
			 "xrstor64 (%[img])\n\t"
			 "mov %[op], %%rbx\n\t"
			 "sub $128, %%rsp\n\t" /* the red zone */
			 "call *%[code]\n\t"
			 "add $128, %%rsp\n\t"
			 "mov $3, %%eax\n\t"
			 "xor %%edx, %%edx\n\t"
			 "xsave64 (%[out])\n\t"
			 "fxrstor64 %[h]"
			 : [h] "+m"(host)
			 : [img] "r"(img), [out] "r"(out), [op] "r"(data + OPOFF), [code] "r"(code)
			 : "rax", "rbx", "rdx", "memory", "cc");
}

/* ---- the emulator's side: a fake vCPU ---- */

enum { X_COPY, X_PLAIN, X_EXPLICIT };

static struct {
	struct xg_emu_x86_regs r;
	uint8_t xs[XS] __attribute__((aligned(64)));  /* the vCPU's image */
	uint8_t img[XS] __attribute__((aligned(64))); /* the VMM's lent copy */
	uint8_t mem[4096];			      /* the data page */
	int mode, missing, set_xsave_calls;
	uint8_t given[XS]; /* what set_xsave was last given */
} F;

static int f_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	(void)o;
	*r = F.r;
	return 0;
}
static int f_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	(void)o;
	F.r = *r;
	return 0;
}
static int f_get_xsave(void *o, void *xs)
{
	(void)o;
	memcpy(xs, F.xs, XS);
	return 0;
}
static int f_set_xsave(void *o, const void *xs)
{
	(void)o;
	memcpy(F.given, xs, XS);
	memcpy(F.xs, xs, XS);
	F.set_xsave_calls++;
	return 0;
}
static int f_lend(void *o, void **xs)
{
	(void)o;
	memcpy(F.img, F.xs, XS);
	if (F.mode == X_EXPLICIT)
		xg_emu_x86_xs_explicit(F.img);
	*xs = F.img;
	return F.mode == X_EXPLICIT ? XG_EMU_X86_LENT_EXPLICIT : 0;
}
static int f_discard(void *o)
{
	(void)o;
	return 0;
}
static int in_page(uint64_t la, unsigned size)
{
	uint64_t p = (uint64_t)(uintptr_t)data;
	return la >= p && la + size <= p + 4096;
}
static int f_translate(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		       uint32_t *err)
{
	(void)o, (void)cpl;
	if (F.missing || !in_page(la, 1)) {
		*err = kind & XG_EMU_X86_WRITE ? 2u : 0u;
		return 1;
	}
	return 0;
}
static int f_read(void *o, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	(void)o, (void)kind;
	if (!in_page(la, size))
		return -EFAULT;
	memcpy(buf, F.mem + (la - (uint64_t)(uintptr_t)data), size);
	return 0;
}
static int f_write(void *o, uint64_t la, const void *buf, unsigned size)
{
	(void)o;
	if (!in_page(la, size))
		return -EFAULT;
	memcpy(F.mem + (la - (uint64_t)(uintptr_t)data), buf, size);
	return 0;
}
static int f_inject(void *o, const struct xg_emu_x86_exception *e)
{
	(void)o, (void)e;
	return 0;
}

static const struct xg_emu_x86_ops ops_copy = {
    .get_regs = f_get_regs,
    .set_regs = f_set_regs,
    .get_xsave = f_get_xsave,
    .set_xsave = f_set_xsave,
    .translate = f_translate,
    .read = f_read,
    .write = f_write,
    .inject = f_inject,
};
static const struct xg_emu_x86_ops ops_lend = {
    .get_regs = f_get_regs,
    .set_regs = f_set_regs,
    .get_xsave = f_get_xsave,
    .set_xsave = f_set_xsave,
    .translate = f_translate,
    .read = f_read,
    .write = f_write,
    .inject = f_inject,
    .lend_xsave = f_lend,
    .discard_xsave = f_discard,
};

/* 64-bit mode, CPL 0, CR0.NE/MP, CR4.OSFXSR/OSXMMEXCPT/OSXSAVE, XCR0 x87|SSE */
static void regs64(void)
{
	memset(&F.r, 0, sizeof(F.r));
	F.r.cr0 = 0x80050033;
	F.r.cr4 = (1u << 5) | (1u << 9) | (1u << 10) | (1u << 18);
	F.r.efer = 0x500;
	F.r.xcr0 = 3;
	F.r.rflags = 2;
	F.r.rip = (uint64_t)(uintptr_t)code; /* FIP as the CPU stores it */
	F.r.gpr[3] = (uint64_t)(uintptr_t)(data + OPOFF);
	F.r.seg[XG_EMU_X86_CS].l = 1;
	for (int i = 0; i < XG_EMU_X86_NSEG; i++)
		F.r.seg[i].limit = 0xffffffff, F.r.seg[i].present = 1, F.r.seg[i].type = 3;
	F.r.seg[XG_EMU_X86_CS].type = 11;
}

/* ---- the state and the operand ---- */

static void rnd_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* One field of an otherwise initial x87 state made something else (or none: -1) */
static uint16_t rnd_fcw(void)
{
	/* the masks, PC and RC, now and then the infinity bit; bit 6 as the CPU keeps it */
	static const uint16_t w[] = {0x037f, 0x027f, 0x037e, 0x077f,
				     0x0f7f, 0x137f, 0x007f, 0x033f};
	return rn(3) ? w[rn(sizeof(w) / sizeof(w[0]))] : (uint16_t)(0x40 | (rnd() & 0x1f3f));
}

static void gen_operand(const struct form *f, uint8_t *op)
{
	unsigned which = rn(8); /* 0: all initial; 1..: one field changed */

	rnd_fill(op, 512);
	switch (f->kind) {
	case K_CW:
		put16(op, rn(3) ? 0x037f : rnd_fcw());
		break;
	case K_ENV28:	/* protected mode, 32-bit (SDM Vol. 1 8.1.10, Figure 8-9) */
	case K_ENV14: { /* 16-bit: every field a word */
		unsigned w = f->kind == K_ENV28 ? 4 : 2;
		memset(op, 0, 7 * w);
		put16(op, 0x037f);
		put16(op + 2 * w, 0xffff);
		if (which == 1)
			put16(op, rnd_fcw());
		else if (which == 2) /* C0-C3, TOP, or a flag (ES set with an unmasked one) */
			put16(op + w, (uint16_t)(rn(2) ? 1u << rn(16) : rnd()));
		else if (which == 3) { /* one register tagged valid, zero or special, contents 0 */
			unsigned k = 2 * rn(8);
			put16(op + 2 * w, (uint16_t)((0xffffu & ~(3u << k)) | (rn(3) << k)));
		} else if (which == 4) /* FIP */
			put16(op + 3 * w, (uint16_t)rnd());
		else if (which == 5) /* FOP (and FCS) */
			put16(op + 4 * w + (w == 4 ? 2 : 0), (uint16_t)(rnd() & 0x7ff));
		else if (which == 6) /* FDP */
			put16(op + 5 * w, (uint16_t)rnd());
		break;
	}
	case K_FX: { /* FXSAVE image (SDM Vol. 1 10.5.1, Table 10-2) */
		uint32_t mx = 0x1f80;
		memset(op, 0, 416);
		put16(op, 0x037f);
		if (which == 1)
			put16(op, rnd_fcw());
		else if (which == 2)
			put16(op + 2, (uint16_t)(1u << rn(16)));
		else if (which == 3) /* abridged FTW: one register valid, contents 0 */
			op[4] = (uint8_t)(1u << rn(8));
		else if (which == 4) /* FOP */
			put16(op + 6, (uint16_t)(rnd() & 0x7ff));
		else if (which == 5) /* FIP or FDP */
			put16(op + (rn(2) ? 8 : 16), (uint16_t)rnd());
		else if (which == 6) /* an ST register's contents under an empty tag */
			rnd_fill(op + 32 + 16 * rn(8), 10);
		else if (which == 7) /* SSE only */
			rnd_fill(op + 160 + 16 * rn(16), 16);
		if (!rn(4))
			mx ^= (uint32_t)(rnd() & 0xe03f); /* RC, FZ, flags */
		memcpy(op + 24, &mx, 4);
		memset(op + 28, 0, 4);
		break;
	}
	case K_VAL:
		if (rn(4) == 0)
			memset(op, 0, 16);
		break;
	case K_OUT:
		break;
	}
}

/* The vCPU's state: x87 initial (XSTATE_BV bit 0 clear, stale bytes under it), SSE in use
 * with random XMM registers or now and then initial too, MXCSR random but valid */
static void gen_state(uint8_t *xs)
{
	uint32_t mx = 0x1f80;
	uint64_t bv = rn(6) ? 2 : 0;

	memset(xs, 0, XS);
	rnd_fill(xs, 512);
	if (rn(3) == 0)
		xg_emu_x86_xs_explicit(xs); /* x87 bytes initial after all */
	if (!rn(4))
		mx ^= (uint32_t)(rnd() & 0xe03f);
	memcpy(xs + XG_EMU_X86_XS_MXCSR, &mx, 4);
	memset(xs + 28, 0, 4);
	memset(xs + 416, 0, 96);
	memcpy(xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
}

/* Components under a clear bit read as their initial values (SDM Vol. 1 13.6), then the
 * compared parts: FCW..FDP, MXCSR, ST0-7, XMM0-15 */
static void norm(uint8_t *dst, const uint8_t *xs)
{
	memcpy(dst, xs, XS);
	xg_emu_x86_xs_explicit(dst);
	memset(dst + 28, 0, 4);	  /* MXCSR_MASK */
	memset(dst + 416, 0, 96); /* software's */
	memset(dst + 512, 0, XS - 512);
}

static int x87_initial(const uint8_t *n)
{
	static const uint8_t init[24] = {0x7f, 0x03};
	for (unsigned i = 0; i < 128; i++)
		if (n[32 + i])
			return 0;
	return !memcmp(n, init, 24);
}

static const char *part(unsigned off)
{
	return off < 2	   ? "FCW"
	       : off < 4   ? "FSW"
	       : off < 6   ? "FTW"
	       : off < 8   ? "FOP"
	       : off < 16  ? "FIP"
	       : off < 24  ? "FDP"
	       : off < 32  ? "MXCSR"
	       : off < 160 ? "ST0-7"
			   : "XMM0-15";
}

/* ---- a case ---- */

static uint64_t seed;
static unsigned long n_bit0_clear, n_bit0_set, n_faults;

static void show(unsigned long ci, const struct form *f, int mode, const char *what,
		 const uint8_t *op)
{
	char hex[3 * 32 + 1];
	unsigned n = f->size < 32 ? f->size : 32;
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 3 * i, 4, "%02x ", op[i]);
	diag("MISMATCH (%s): seed %llu case %lu: %s, %s; operand %s", what,
	     (unsigned long long)seed, ci, f->name,
	     mode == X_COPY    ? "copied"
	     : mode == X_PLAIN ? "lent, not explicit"
			       : "lent explicit",
	     hex);
	diag("  reproduce: XG_SEED=%llu XG_CASE=%lu", (unsigned long long)seed, ci);
}

static int one_case(unsigned long ci, int verbose)
{
	static uint8_t state[XS] __attribute__((aligned(64))), out[XS] __attribute__((aligned(64)));
	static uint8_t na[XS], nb[XS], op[512];
	const struct form *f;
	struct xg_emu_x86_result res;
	enum xg_emu_x86_status st;
	int mode;
	uint64_t bv;
	char what[160];

	rs = seed ^ (ci * 0x2545f4914f6cdd1dull);
	f = &forms[rn(NFORMS)];
	mode = (int)rn(3);
	gen_state(state);
	gen_operand(f, op);

	/* the CPU */
	memcpy(code, f->bytes, f->len);
	code[f->len] = 0xc3;
	memset(data, 0xcc, 4096);
	memcpy(data + OPOFF, op, 512);
	memset(out, 0, XS);
	native(state, out);

	/* the emulator, from the same state and memory */
	regs64();
	memcpy(F.xs, state, XS);
	memset(F.mem, 0xcc, 4096);
	memcpy(F.mem + OPOFF, op, 512);
	F.mode = mode;
	F.missing = 0;
	F.set_xsave_calls = 0;
	st = xg_emu_x86_emulate(mode == X_COPY ? &ops_copy : &ops_lend, NULL, f->bytes, f->len,
				&res);
	if (verbose)
		diag("case %lu: %s, mode %d, status %d (%s), set_xsave %d, XSTATE_BV %#llx", ci,
		     f->name, mode, st, res.reason, F.set_xsave_calls,
		     (unsigned long long)F.xs[XG_EMU_X86_XS_XSTATE_BV]);
	if (st != XG_EMU_X86_OK) {
		snprintf(what, sizeof(what), "status %d: %s", st, res.reason);
		show(ci, f, mode, what, op);
		return 0;
	}
	norm(na, out);
	norm(nb, F.xs);
	for (unsigned o = 0; o < 416; o++)
		if (na[o] != nb[o]) {
			snprintf(what, sizeof(what), "%s: byte %u is %#x, the CPU's %#x", part(o),
				 o, nb[o], na[o]);
			show(ci, f, mode, what, op);
			return 0;
		}
	if (memcmp(F.mem, data, 4096)) {
		show(ci, f, mode, "memory", op);
		return 0;
	}
	/* bit 0 in what set_xsave was given: set exactly when x87 is not initial */
	if (F.set_xsave_calls) {
		memcpy(&bv, F.given + XG_EMU_X86_XS_XSTATE_BV, 8);
		if ((int)!(bv & 1) != x87_initial(nb)) {
			snprintf(what, sizeof(what), "XSTATE_BV %#llx with x87 %s",
				 (unsigned long long)bv,
				 x87_initial(nb) ? "initial" : "not initial");
			show(ci, f, mode, what, op);
			return 0;
		}
		n_bit0_clear += !(bv & 1);
		n_bit0_set += bv & 1;
	}

	/* the operand's page missing: #PF (or a store an unmasked exception suppressed, which
	 * makes no access: here none is unmasked), and the state as it was */
	memcpy(F.xs, state, XS);
	F.missing = 1;
	st = xg_emu_x86_emulate(mode == X_COPY ? &ops_copy : &ops_lend, NULL, f->bytes, f->len,
				&res);
	norm(na, state);
	norm(nb, F.xs);
	if (st != XG_EMU_X86_EXCEPTION || res.exc.vector != XG_EMU_X86_PF || memcmp(na, nb, 416)) {
		snprintf(what, sizeof(what), "page missing: status %d vector %u, state %s", st,
			 res.exc.vector, memcmp(na, nb, 416) ? "changed" : "as it was");
		show(ci, f, mode, what, op);
		return 0;
	}
	n_faults++;
	return 1;
}

int main(void)
{
	const char *e = getenv("XG_CASES"), *one = getenv("XG_CASE");
	unsigned long cases = e ? strtoul(e, NULL, 0) : 50000, bad = 0, ci;
	uint32_t r[4];

	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(1), "c"(0));
	if (!(r[2] & (1u << 27)))
		skip_all("no OSXSAVE on this host (XSAVE/XRSTOR)");
	code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	data = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED || data == MAP_FAILED)
		skip_all("no executable page here: %s", strerror(errno));
	seed = xg_oracle_seed();
	diag("seed %llu (XG_SEED=n to reproduce), host %s", (unsigned long long)seed,
	     xg_emu_x86_host_vendor() == XG_EMU_X86_VENDOR_AMD ? "AMD" : "Intel");
	if (one) {
		ci = strtoul(one, NULL, 0);
		ok(one_case(ci, 1), "case %lu", ci);
		return done_testing();
	}
	for (ci = 0; ci < cases && bad < 5; ci++)
		bad += !one_case(ci, 0);
	ok(!bad, "%lu cases from an initial x87 state as the CPU runs them (%lu mismatches)", ci,
	   bad);
	diag("set_xsave given x87 initial (bit 0 clear) %lu times, in use %lu times; %lu faults",
	     n_bit0_clear, n_bit0_set, n_faults);
	ok(n_bit0_clear > cases / 20 && n_bit0_set > cases / 20,
	   "both outcomes of the x87 bit are exercised");
	return done_testing();
}
