/*
 * t_emu_arm64_oracle.c - the A64 load/store emulator against an aarch64 CPU.
 *
 * Random words of the load/store space that the emulator performs are run twice from the
 * same state: natively, patched into a trampoline that loads X0-X30 and V0-V31, executes
 * the word and saves them again, on buffer A; and through xg_emu_arm64_emulate (EL0, MMU
 * off), whose ops put buffer A's addresses on buffer B, a copy. The registers and the
 * buffers must end the same. Words whose accesses would leave the buffer, that fault, or
 * that are CONSTRAINED UNPREDICTABLE (where the emulator's choice is documented and the CPU
 * may choose otherwise) are not run. On an x86 host the test skips: it runs inside the arm64
 * lane (tests/vm/arm64), on the aarch64 CPU QEMU gives that VM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#ifndef __aarch64__
int main(void)
{
	skip_all("needs an aarch64 CPU: it runs in the arm64 VM lane (tests/vm/arm64)");
}
#else

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xg_emu_arm64.h"

#define BUF_SIZE 0x4000u

struct state {
	uint64_t x[31];
	uint64_t pad;
	uint8_t v[32][16]; /* at offset 256 */
};

void xg_native(struct state *s);
extern uint32_t xg_native_slot[];

/* The trampoline: callee-saved registers kept on the stack, the state loaded, the patched
 * word run, the state saved (the state pointer is on the stack, below the saved registers). */
__asm__(".text\n"
	".p2align 12\n"
	".globl xg_native\n"
	"xg_native:\n"
	"	sub sp, sp, #176\n"
	"	stp x19, x20, [sp, #0]\n"
	"	stp x21, x22, [sp, #16]\n"
	"	stp x23, x24, [sp, #32]\n"
	"	stp x25, x26, [sp, #48]\n"
	"	stp x27, x28, [sp, #64]\n"
	"	stp x29, x30, [sp, #80]\n"
	"	stp d8, d9, [sp, #96]\n"
	"	stp d10, d11, [sp, #112]\n"
	"	stp d12, d13, [sp, #128]\n"
	"	stp d14, d15, [sp, #144]\n"
	"	str x0, [sp, #160]\n"
	"	add x1, x0, #256\n"
	"	ldp q0, q1, [x1, #0]\n"
	"	ldp q2, q3, [x1, #32]\n"
	"	ldp q4, q5, [x1, #64]\n"
	"	ldp q6, q7, [x1, #96]\n"
	"	ldp q8, q9, [x1, #128]\n"
	"	ldp q10, q11, [x1, #160]\n"
	"	ldp q12, q13, [x1, #192]\n"
	"	ldp q14, q15, [x1, #224]\n"
	"	ldp q16, q17, [x1, #256]\n"
	"	ldp q18, q19, [x1, #288]\n"
	"	ldp q20, q21, [x1, #320]\n"
	"	ldp q22, q23, [x1, #352]\n"
	"	ldp q24, q25, [x1, #384]\n"
	"	ldp q26, q27, [x1, #416]\n"
	"	ldp q28, q29, [x1, #448]\n"
	"	ldp q30, q31, [x1, #480]\n"
	"	ldp x2, x3, [x0, #16]\n"
	"	ldp x4, x5, [x0, #32]\n"
	"	ldp x6, x7, [x0, #48]\n"
	"	ldp x8, x9, [x0, #64]\n"
	"	ldp x10, x11, [x0, #80]\n"
	"	ldp x12, x13, [x0, #96]\n"
	"	ldp x14, x15, [x0, #112]\n"
	"	ldp x16, x17, [x0, #128]\n"
	"	ldp x18, x19, [x0, #144]\n"
	"	ldp x20, x21, [x0, #160]\n"
	"	ldp x22, x23, [x0, #176]\n"
	"	ldp x24, x25, [x0, #192]\n"
	"	ldp x26, x27, [x0, #208]\n"
	"	ldp x28, x29, [x0, #224]\n"
	"	ldr x30, [x0, #240]\n"
	"	ldp x0, x1, [x0, #0]\n"
	".globl xg_native_slot\n"
	"xg_native_slot:\n"
	"	nop\n"
	"	stp x0, x1, [sp, #-16]!\n"
	"	ldr x0, [sp, #176]\n"
	"	stp x2, x3, [x0, #16]\n"
	"	stp x4, x5, [x0, #32]\n"
	"	stp x6, x7, [x0, #48]\n"
	"	stp x8, x9, [x0, #64]\n"
	"	stp x10, x11, [x0, #80]\n"
	"	stp x12, x13, [x0, #96]\n"
	"	stp x14, x15, [x0, #112]\n"
	"	stp x16, x17, [x0, #128]\n"
	"	stp x18, x19, [x0, #144]\n"
	"	stp x20, x21, [x0, #160]\n"
	"	stp x22, x23, [x0, #176]\n"
	"	stp x24, x25, [x0, #192]\n"
	"	stp x26, x27, [x0, #208]\n"
	"	stp x28, x29, [x0, #224]\n"
	"	str x30, [x0, #240]\n"
	"	ldp x1, x2, [sp], #16\n"
	"	stp x1, x2, [x0, #0]\n"
	"	add x1, x0, #256\n"
	"	stp q0, q1, [x1, #0]\n"
	"	stp q2, q3, [x1, #32]\n"
	"	stp q4, q5, [x1, #64]\n"
	"	stp q6, q7, [x1, #96]\n"
	"	stp q8, q9, [x1, #128]\n"
	"	stp q10, q11, [x1, #160]\n"
	"	stp q12, q13, [x1, #192]\n"
	"	stp q14, q15, [x1, #224]\n"
	"	stp q16, q17, [x1, #256]\n"
	"	stp q18, q19, [x1, #288]\n"
	"	stp q20, q21, [x1, #320]\n"
	"	stp q22, q23, [x1, #352]\n"
	"	stp q24, q25, [x1, #384]\n"
	"	stp q26, q27, [x1, #416]\n"
	"	stp q28, q29, [x1, #448]\n"
	"	stp q30, q31, [x1, #480]\n"
	"	ldp x19, x20, [sp, #0]\n"
	"	ldp x21, x22, [sp, #16]\n"
	"	ldp x23, x24, [sp, #32]\n"
	"	ldp x25, x26, [sp, #48]\n"
	"	ldp x27, x28, [sp, #64]\n"
	"	ldp x29, x30, [sp, #80]\n"
	"	ldp d8, d9, [sp, #96]\n"
	"	ldp d10, d11, [sp, #112]\n"
	"	ldp d12, d13, [sp, #128]\n"
	"	ldp d14, d15, [sp, #144]\n"
	"	add sp, sp, #176\n"
	"	ret\n");

static uint8_t *buf_a, *buf_b;
static struct state emu;
static int bad_access;

static int get_regs(void *o, struct xg_emu_arm64_regs *r)
{
	(void)o;
	memset(r, 0, sizeof(*r));
	memcpy(r->x, emu.x, sizeof(r->x));
	r->sp = (uint64_t)(uintptr_t)buf_a; /* never a base here */
	r->pc = (uint64_t)(uintptr_t)xg_native_slot;
	r->pstate = 0; /* EL0t; SCTLR_EL1 = 0: MMU off, no alignment checks, little-endian */
	return 0;
}

static int set_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	(void)o;
	memcpy(emu.x, r->x, sizeof(emu.x));
	return 0;
}

static int get_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	(void)o;
	memcpy(v->v, emu.v, sizeof(emu.v));
	return 0;
}

static int set_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	(void)o;
	memcpy(emu.v, v->v, sizeof(emu.v));
	return 0;
}

/* buffer A's addresses, on buffer B */
static uint8_t *map(uint64_t ipa, unsigned size)
{
	uint64_t a = (uint64_t)(uintptr_t)buf_a;

	if (ipa < a || ipa + size > a + BUF_SIZE || ipa + size < ipa) {
		bad_access = 1;
		return NULL;
	}
	return buf_b + (ipa - a);
}

static int rd(void *o, uint64_t ipa, void *b, unsigned size, enum xg_emu_arm64_access kind)
{
	uint8_t *p = map(ipa, size);

	(void)o;
	(void)kind;
	if (!p)
		return -EFAULT;
	memcpy(b, p, size);
	return 0;
}

static int wr(void *o, uint64_t ipa, const void *b, unsigned size)
{
	uint8_t *p = map(ipa, size);

	(void)o;
	if (!p)
		return -EFAULT;
	memcpy(p, b, size);
	return 0;
}

static int inject(void *o, const struct xg_emu_arm64_exception *e)
{
	(void)o;
	(void)e;
	return 0;
}

static const struct xg_emu_arm64_ops ops = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .get_vregs = get_vregs,
    .set_vregs = set_vregs,
    .read = rd,
    .write = wr,
    .inject = inject,
};

static uint64_t rng = 0x853c49e6748fea9bull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* As t_emu_arm64_capstone.c: the encodings whose result the ARM ARM leaves to a choice. */
static int unpredictable(const struct xg_emu_arm64_insn *in)
{
	int pair = in->cls == XG_EMU_ARM64_C_PAIR;
	int wb = in->index == XG_EMU_ARM64_PRE || in->index == XG_EMU_ARM64_POST;

	if (wb && in->rn != 31 && (in->rn == in->rt || (pair && in->rn == in->rt2)))
		return 1;
	if (pair && in->load && in->rt == in->rt2)
		return 1;
	/* CAS/CASP with should-be-one Rt2 bits clear */
	return in->cls == XG_EMU_ARM64_C_ATOMIC && (in->word & 0x3f000000) == 0x08000000 &&
	       in->rt2 != 31;
}

int main(void)
{
	long tries, ran = 0, bad = 0, cls[8] = {0};
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t slot_page = (uintptr_t)xg_native_slot & ~(uintptr_t)(page - 1);

	buf_a = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf_b = malloc(BUF_SIZE);
	if (buf_a == MAP_FAILED || !buf_b)
		bail("out of memory");
	if (mprotect((void *)slot_page, (size_t)page * 2, PROT_READ | PROT_WRITE | PROT_EXEC))
		skip_all("cannot make the trampoline writable (mprotect: %s)", strerror(errno));

	for (tries = 0; tries < 400000 && ran < 20000; tries++) {
		struct xg_emu_arm64_insn in;
		struct xg_emu_arm64_result res;
		struct state nat;
		uint32_t w = ((uint32_t)next() & ~0x0a000000u) | 0x08000000u;
		unsigned i;

		/* unsigned offsets kept small, so that most accesses stay in the buffer */
		if ((w & 0x3b000000) == 0x39000000)
			w &= ~(0xfc0u << 10);
		if (xg_emu_arm64_decode(w, &in, NULL, NULL) != XG_EMU_ARM64_OK || in.rn == 31 ||
		    in.index == XG_EMU_ARM64_LITERAL || unpredictable(&in))
			continue;
		for (i = 0; i < 31; i++)
			emu.x[i] = next();
		for (i = 0; i < 32; i++) {
			uint64_t a = next(), b = next();

			memcpy(emu.v[i], &a, 8);
			memcpy(emu.v[i] + 8, &b, 8);
		}
		if (in.index == XG_EMU_ARM64_REGOFF)
			emu.x[in.rm] = (next() & 127) - 64;
		emu.x[in.rn] = (uint64_t)(uintptr_t)buf_a + 0x1800 + (next() & 0xfff);
		if (in.cls == XG_EMU_ARM64_C_ATOMIC || in.acqrel)
			emu.x[in.rn] &= ~15ull; /* aligned: these fault otherwise */
		for (i = 0; i < BUF_SIZE; i += 8) {
			uint64_t v = next();
			memcpy(buf_a + i, &v, 8);
		}
		memcpy(buf_b, buf_a, BUF_SIZE);
		nat = emu;

		bad_access = 0;
		if (xg_emu_arm64_emulate(&ops, NULL, &w, &res) != XG_EMU_ARM64_OK) {
			if (res.status == XG_EMU_ARM64_ERROR && bad_access)
				continue; /* the access leaves the buffer: not run natively */
			if (res.status == XG_EMU_ARM64_EXCEPTION)
				continue; /* an alignment fault (LDAR...): SIGBUS natively */
			bad++;
			diag("%08x (%s): %s", w, in.name, res.reason);
			continue;
		}
		xg_native_slot[0] = w;
		__builtin___clear_cache((char *)xg_native_slot, (char *)(xg_native_slot + 1));
		xg_native(&nat);
		ran++;
		cls[in.cls & 7]++;
		if (memcmp(nat.x, emu.x, sizeof(nat.x)) || memcmp(nat.v, emu.v, sizeof(nat.v)) ||
		    memcmp(buf_a, buf_b, BUF_SIZE)) {
			if (bad++ < 10) {
				diag("%08x (%s): the CPU and the emulator differ", w, in.name);
				for (i = 0; i < 31; i++)
					if (nat.x[i] != emu.x[i])
						diag("  x%u: cpu %016llx emulator %016llx", i,
						     (unsigned long long)nat.x[i],
						     (unsigned long long)emu.x[i]);
				if (memcmp(nat.v, emu.v, sizeof(nat.v)))
					diag("  V registers differ");
				if (memcmp(buf_a, buf_b, BUF_SIZE))
					diag("  memory differs");
			}
		}
	}
	diag("%ld words run on the CPU and emulated (%ld single, %ld pair, %ld prefetch, %ld "
	     "structure, %ld atomic), %ld tried",
	     ran, cls[XG_EMU_ARM64_C_SINGLE], cls[XG_EMU_ARM64_C_PAIR],
	     cls[XG_EMU_ARM64_C_PREFETCH], cls[XG_EMU_ARM64_C_STRUCT], cls[XG_EMU_ARM64_C_ATOMIC],
	     tries);
	ok(ran >= 1000, "enough words ran (%ld)", ran);
	is_int(bad, 0, "the emulator ends where the CPU does");
	return done_testing();
}
#endif
