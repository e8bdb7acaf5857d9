/*
 * t_emu_arm64_ops.c - the A64 load/store emulator on a fake machine, one class at a time.
 *
 * The ops here are plain buffers: 4 MiB of RAM at IPA 0x40000000 and a 64 KiB "device" at
 * IPA 0x09000000 whose every access is logged (what a KVM_EXIT_MMIO would have been). Every
 * other IPA fails as a host error would. The instruction words are what GNU as
 * (-march=armv8.3-a) assembles for the text beside them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "xg_emu_arm64.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (4u << 20)
#define DEV_BASE 0x09000000ull
#define DEV_SIZE 0x10000u

#define PSTATE_EL1H 0x3c5ull /* EL1h, DAIF masked */
#define PSTATE_EL0T 0x3c0ull
#define PSTATE_PAN  (1ull << 22)
#define PSTATE_UAO  (1ull << 23)
#define SCTLR_M	    (1ull << 0)
#define SCTLR_A	    (1ull << 1)
#define SCTLR_SA    (1ull << 3)
#define SCTLR_EE    (1ull << 25)

struct access {
	uint64_t ipa;
	unsigned size, write;
};

static struct vm {
	struct xg_emu_arm64_regs r;
	struct xg_emu_arm64_vregs v;
	uint8_t ram[RAM_SIZE];
	uint8_t dev[DEV_SIZE];
	struct access log[16];
	unsigned nlog;
	unsigned injected, set_regs;
	struct xg_emu_arm64_exception exc;
	int veto; /* stage to veto, or -1 */
	unsigned stages[16], nstages;
} vm;

static int get_regs(void *o, struct xg_emu_arm64_regs *r)
{
	(void)o;
	*r = vm.r;
	return 0;
}

static int set_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	(void)o;
	vm.r = *r;
	vm.set_regs++;
	return 0;
}

static int get_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	(void)o;
	*v = vm.v;
	return 0;
}

static int set_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	(void)o;
	vm.v = *v;
	return 0;
}

static uint8_t *where(uint64_t ipa, unsigned size, int *dev)
{
	if ((ipa & ~0xfffull) != ((ipa + size - 1) & ~0xfffull))
		return NULL; /* the contract: no access crosses a 4 KiB page */
	*dev = 0;
	if (ipa >= RAM_BASE && ipa + size <= RAM_BASE + RAM_SIZE)
		return vm.ram + (ipa - RAM_BASE);
	*dev = 1;
	if (ipa >= DEV_BASE && ipa + size <= DEV_BASE + DEV_SIZE)
		return vm.dev + (ipa - DEV_BASE);
	return NULL;
}

static void log_access(uint64_t ipa, unsigned size, unsigned write)
{
	if (vm.nlog < 16)
		vm.log[vm.nlog++] = (struct access){ipa, size, write};
}

static int rd(void *o, uint64_t ipa, void *buf, unsigned size, enum xg_emu_arm64_access kind)
{
	int dev;
	uint8_t *p = where(ipa, size, &dev);

	(void)o;
	if (!p)
		return -EFAULT;
	if (dev)
		log_access(ipa, size, 0);
	(void)kind;
	memcpy(buf, p, size);
	return 0;
}

static int wr(void *o, uint64_t ipa, const void *buf, unsigned size)
{
	int dev;
	uint8_t *p = where(ipa, size, &dev);

	(void)o;
	if (!p)
		return -EFAULT;
	if (dev)
		log_access(ipa, size, 1);
	memcpy(p, buf, size);
	return 0;
}

static int inject(void *o, const struct xg_emu_arm64_exception *exc)
{
	(void)o;
	vm.injected++;
	vm.exc = *exc;
	return 0;
}

static int hook(void *o, enum xg_emu_arm64_stage s, const struct xg_emu_arm64_insn *in,
		const struct xg_emu_arm64_exception *exc)
{
	(void)o;
	(void)in;
	(void)exc;
	if (vm.nstages < 16)
		vm.stages[vm.nstages++] = s;
	return (int)s == vm.veto;
}

static const struct xg_emu_arm64_ops ops = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .get_vregs = get_vregs,
    .set_vregs = set_vregs,
    .read = rd,
    .write = wr,
    .inject = inject,
    .hook = hook,
};

static struct xg_emu_arm64_result res;

static void reset(void)
{
	unsigned i;

	memset(&vm.r, 0, sizeof(vm.r));
	memset(&vm.v, 0, sizeof(vm.v));
	memset(vm.dev, 0, sizeof(vm.dev));
	for (i = 0; i < 31; i++)
		vm.r.x[i] = 0x1111111100000000ull + i;
	vm.r.x[1] = DEV_BASE + 0x100;
	vm.r.x[2] = DEV_BASE + 0x200;
	vm.r.sp = DEV_BASE + 0x400;
	vm.r.pc = RAM_BASE + 0x1000;
	vm.r.pstate = PSTATE_EL1H;
	vm.nlog = vm.injected = vm.set_regs = vm.nstages = 0;
	vm.veto = -1;
	memset(&vm.exc, 0, sizeof(vm.exc));
}

static enum xg_emu_arm64_status run(uint32_t w)
{
	return xg_emu_arm64_emulate(&ops, NULL, &w, &res);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* "did nothing": no register written, no device touched, nothing injected */
static void nothing_changed(const char *what)
{
	ok(vm.set_regs == 0 && vm.nlog == 0, "%s: no register or device access", what);
}

static void test_single(void)
{
	static const struct {
		uint32_t w;
		const char *text;
		uint64_t want;
	} loads[] = {
	    {0x39800020, "ldrsb x0, [x1]", 0xffffffffffffff80ull},
	    {0x39c00020, "ldrsb w0, [x1]", 0xffffff80ull},
	    {0x79800020, "ldrsh x0, [x1]", 0xffffffffffff9080ull},
	    {0xb9800020, "ldrsw x0, [x1]", 0xffffffffa0b09080ull},
	    {0x39400020, "ldrb w0, [x1]", 0x80},
	    {0x79400020, "ldrh w0, [x1]", 0x9080},
	    {0xf9400020, "ldr x0, [x1]", 0xc0d0e0f0a0b09080ull},
	};
	unsigned i;

	for (i = 0; i < sizeof(loads) / sizeof(loads[0]); i++) {
		reset();
		put64(vm.dev + 0x100, 0xc0d0e0f0a0b09080ull);
		is_int(run(loads[i].w), XG_EMU_ARM64_OK, "%s: ok", loads[i].text);
		is_hex(vm.r.x[0], loads[i].want, "%s: the value, extended", loads[i].text);
		is_hex(vm.r.pc, RAM_BASE + 0x1004, "%s: PC += 4", loads[i].text);
		ok(vm.nlog == 1 && vm.log[0].ipa == DEV_BASE + 0x100 &&
		       vm.log[0].size == res.insn.size && !vm.log[0].write,
		   "%s: one device read of %u bytes", loads[i].text, res.insn.size);
	}

	reset();
	put64(vm.dev + 0x100, 0x1234);
	is_int(run(0xf8408420), XG_EMU_ARM64_OK, "ldr x0, [x1], #8: ok");
	ok(vm.r.x[0] == 0x1234 && vm.r.x[1] == DEV_BASE + 0x108,
	   "ldr x0, [x1], #8: post-index loads at x1, then x1 += 8");

	reset();
	put64(vm.dev + 0x104, 0xaabbccdd99887766ull);
	is_int(run(0xb8404c20), XG_EMU_ARM64_OK, "ldr w0, [x1, #4]!: ok");
	ok(vm.r.x[0] == 0x99887766 && vm.r.x[1] == DEV_BASE + 0x104,
	   "ldr w0, [x1, #4]!: Wt zero-extends, x1 = the address");

	reset();
	put64(vm.dev + 0x102, 0x8000);
	is_int(run(0x78c02c20), XG_EMU_ARM64_OK, "ldrsh w0, [x1, #2]!: ok");
	is_hex(vm.r.x[0], 0xffff8000, "ldrsh w0: sign-extends to 32 bits, upper half zero");

	reset();
	vm.r.x[1] = DEV_BASE + 0x108;
	put64(vm.dev + 0x100, 77);
	is_int(run(0xf85f8020), XG_EMU_ARM64_OK, "ldur x0, [x1, #-8]: ok");
	is_hex(vm.r.x[0], 77, "ldur: negative unscaled offset");

	reset();
	vm.r.x[2] = 0xbeef;
	is_int(run(0x78003022), XG_EMU_ARM64_OK, "sturh w2, [x1, #3]: ok");
	ok(vm.dev[0x103] == 0xef && vm.dev[0x104] == 0xbe && vm.nlog == 1 && vm.log[0].size == 2,
	   "sturh: two bytes at an odd address, one access");

	reset();
	memset(vm.dev + 0x100, 0xff, 8);
	is_int(run(0x3900003f), XG_EMU_ARM64_OK, "strb wzr, [x1]: ok");
	ok(vm.dev[0x100] == 0 && vm.dev[0x101] == 0xff,
	   "strb wzr: register 31 is the zero register");

	reset();
	put64(vm.dev + 0x410, 0x5151);
	is_int(run(0xf9400be0), XG_EMU_ARM64_OK, "ldr x0, [sp, #16]: ok");
	is_hex(vm.r.x[0], 0x5151, "ldr x0, [sp, #16]: register 31 as a base is SP");

	reset();
	vm.r.x[0] = 0xfeed;
	is_int(run(0xf81f0fe0), XG_EMU_ARM64_OK, "str x0, [sp, #-16]!: ok");
	ok(get64(vm.dev + 0x3f0) == 0xfeed && vm.r.sp == DEV_BASE + 0x3f0,
	   "str x0, [sp, #-16]!: stored below SP, SP written back");

	reset();
	is_int(run(0xf9400420), XG_EMU_ARM64_OK, "ldr x0, [x1, #8]: ok");
	ok(vm.log[0].ipa == DEV_BASE + 0x108, "ldr x0, [x1, #8]: unsigned offset scaled");
}

static void test_regoff(void)
{
	reset();
	vm.r.x[2] = 0x1122334455667788ull;
	vm.r.x[3] = 2;
	is_int(run(0xf8237822), XG_EMU_ARM64_OK, "str x2, [x1, x3, lsl #3]: ok");
	is_hex(get64(vm.dev + 0x110), 0x1122334455667788ull, "lsl #3: at x1 + 16");

	reset();
	vm.r.x[2] = 0xabcd;
	vm.r.x[3] = 0x00000000fffffffcull; /* w3 = -4 */
	is_int(run(0xb823d822), XG_EMU_ARM64_OK, "str w2, [x1, w3, sxtw #2]: ok");
	ok(vm.nlog == 1 && vm.log[0].ipa == DEV_BASE + 0x100 - 16 && vm.log[0].size == 4,
	   "sxtw #2: w3 = -4 sign-extended, times 4");

	reset();
	vm.r.x[1] = DEV_BASE;
	vm.r.x[3] = 0xffffffff00000020ull;
	is_int(run(0xf8634820), XG_EMU_ARM64_OK, "ldr x0, [x1, w3, uxtw]: ok");
	is_hex(vm.log[0].ipa, DEV_BASE + 0x20, "uxtw: only w3, zero-extended");

	reset();
	vm.r.x[3] = (uint64_t)-8;
	is_int(run(0xf863e820), XG_EMU_ARM64_OK, "ldr x0, [x1, x3, sxtx]: ok");
	is_hex(vm.log[0].ipa, DEV_BASE + 0xf8, "sxtx: the whole x3, negative");
}

static void test_pair_literal(void)
{
	reset();
	put64(vm.dev + 0x200, 1);
	put64(vm.dev + 0x208, 2);
	is_int(run(0xa8c10440), XG_EMU_ARM64_OK, "ldp x0, x1, [x2], #16: ok");
	ok(vm.r.x[0] == 1 && vm.r.x[1] == 2 && vm.r.x[2] == DEV_BASE + 0x210,
	   "ldp post-index: both registers, base + 16");

	reset();
	vm.r.x[0] = 0xaaaaaaaa;
	vm.r.x[1] = 0xbbbbbbbb;
	is_int(run(0x29bf0440), XG_EMU_ARM64_OK, "stp w0, w1, [x2, #-8]!: ok");
	ok(get64(vm.dev + 0x1f8) == 0xbbbbbbbbaaaaaaaaull && vm.r.x[2] == DEV_BASE + 0x1f8,
	   "stp w pre-index: 8 bytes below, base written back");

	reset();
	put64(vm.dev + 0x200, 0x80000000ffffffffull);
	is_int(run(0x69400440), XG_EMU_ARM64_OK, "ldpsw x0, x1, [x2]: ok");
	ok(vm.r.x[0] == ~0ull && vm.r.x[1] == 0xffffffff80000000ull, "ldpsw: both sign-extended");

	reset();
	is_int(run(0xa8409043), XG_EMU_ARM64_OK, "ldnp x3, x4, [x2, #8]: ok");
	ok(vm.nlog == 2 && vm.log[0].ipa == DEV_BASE + 0x208 && vm.log[1].ipa == DEV_BASE + 0x210 &&
	       vm.r.x[2] == DEV_BASE + 0x200,
	   "ldnp: two reads at +8, no writeback");

	reset();
	vm.r.pc = DEV_BASE + 0x1000;
	put64(vm.dev + 0x1100, 0x4242);
	is_int(run(0x58000800), XG_EMU_ARM64_OK, "ldr x0, literal (+0x100): ok");
	is_hex(vm.r.x[0], 0x4242, "ldr literal: PC-relative");

	reset();
	vm.r.pc = DEV_BASE + 0x1000;
	put64(vm.dev + 0xffc, 0xfffffffe);
	is_int(run(0x98ffffe0), XG_EMU_ARM64_OK, "ldrsw x0, literal (-4): ok");
	is_hex(vm.r.x[0], (uint64_t)-2, "ldrsw literal: backwards, sign-extended");
}

static void test_simd(void)
{
	unsigned i;

	reset();
	for (i = 0; i < 32; i++)
		vm.dev[0x100 + i] = (uint8_t)(i + 1);
	memset(vm.v.v[0], 0xee, 16);
	is_int(run(0x3dc00020), XG_EMU_ARM64_OK, "ldr q0, [x1]: ok");
	ok(vm.v.v[0][0] == 1 && vm.v.v[0][15] == 16, "ldr q0: 16 bytes");

	reset();
	memset(vm.v.v[2], 0xee, 16);
	vm.dev[0x100] = 0x5a;
	is_int(run(0x3d400022), XG_EMU_ARM64_OK, "ldr b2, [x1]: ok");
	ok(vm.v.v[2][0] == 0x5a && vm.v.v[2][1] == 0 && vm.v.v[2][15] == 0,
	   "ldr b2: one byte, the rest of V2 zeroed");

	reset();
	for (i = 0; i < 16; i++)
		vm.v.v[1][i] = (uint8_t)(0x10 + i);
	is_int(run(0xfd000021), XG_EMU_ARM64_OK, "str d1, [x1]: ok");
	ok(vm.dev[0x100] == 0x10 && vm.dev[0x107] == 0x17 && vm.dev[0x108] == 0,
	   "str d1: the low 8 bytes of V1");

	reset();
	for (i = 0; i < 32; i++)
		vm.dev[0x100 + i] = (uint8_t)i;
	is_int(run(0xad400420), XG_EMU_ARM64_OK, "ldp q0, q1, [x1]: ok");
	ok(vm.v.v[0][0] == 0 && vm.v.v[1][0] == 16 && vm.v.v[1][15] == 31, "ldp q0, q1: 32 bytes");

	reset();
	vm.v.v[0][0] = 0xa1;
	vm.v.v[1][0] = 0xb1;
	is_int(run(0x2d000420), XG_EMU_ARM64_OK, "stp s0, s1, [x1]: ok");
	ok(vm.dev[0x100] == 0xa1 && vm.dev[0x104] == 0xb1, "stp s0, s1: 4 bytes each");

	reset();
	vm.r.x[3] = 1;
	vm.v.v[5][15] = 0x77;
	is_int(run(0x3ca37825), XG_EMU_ARM64_OK, "str q5, [x1, x3, lsl #4]: ok");
	is_int(vm.dev[0x11f], 0x77, "str q5, lsl #4: at x1 + 16");

	reset();
	is_int(run(0x6dff1c26), XG_EMU_ARM64_OK, "ldp d6, d7, [x1, #-16]!: ok");
	is_hex(vm.r.x[1], DEV_BASE + 0xf0, "ldp d pre-index: base written back");
}

static void test_struct(void)
{
	unsigned i, ok1 = 1;

	reset();
	for (i = 0; i < 32; i++)
		vm.dev[0x100 + i] = (uint8_t)i;
	is_int(run(0x4cdfa020), XG_EMU_ARM64_OK, "ld1 {v0.16b, v1.16b}, [x1], #32: ok");
	ok(vm.v.v[0][15] == 15 && vm.v.v[1][0] == 16 && vm.r.x[1] == DEV_BASE + 0x120,
	   "ld1 two registers: 32 bytes in order, x1 += 32");
	is_int(vm.nlog, 16, "ld1 .16b: one access per element (16 logged, the log's limit)");
	ok(vm.log[0].size == 1 && vm.log[15].ipa == DEV_BASE + 0x10f, "ld1 .16b: byte accesses");

	reset();
	for (i = 0; i < 4; i++)
		memset(vm.v.v[i], (int)(0xa0 + i), 16);
	is_int(run(0x4c000820), XG_EMU_ARM64_OK, "st4 {v0.4s-v3.4s}, [x1]: ok");
	for (i = 0; i < 64; i++)
		ok1 &= vm.dev[0x100 + i] == 0xa0 + (i / 4) % 4;
	ok(ok1, "st4: interleaved, one S of each register in turn");

	reset();
	memset(vm.v.v[0], 0xee, 16);
	vm.dev[0x100] = 0x42;
	is_int(run(0x0d400c20), XG_EMU_ARM64_OK, "ld1 {v0.b}[3], [x1]: ok");
	ok(vm.v.v[0][3] == 0x42 && vm.v.v[0][2] == 0xee && vm.v.v[0][15] == 0xee,
	   "ld1 single lane: lane 3 only, the rest kept");

	reset();
	put64(vm.dev + 0x100, 0x11223344);
	is_int(run(0x4d40c820), XG_EMU_ARM64_OK, "ld1r {v0.4s}, [x1]: ok");
	ok(get64(vm.v.v[0]) == 0x1122334411223344ull && get64(vm.v.v[0] + 8) == get64(vm.v.v[0]),
	   "ld1r: replicated to 4 lanes");

	reset();
	memset(vm.v.v[0], 0xee, 16);
	memset(vm.v.v[1], 0xee, 16);
	for (i = 0; i < 16; i++)
		vm.dev[0x100 + i] = (uint8_t)i;
	is_int(run(0x0c408020), XG_EMU_ARM64_OK, "ld2 {v0.8b, v1.8b}, [x1]: ok");
	ok(vm.v.v[0][0] == 0 && vm.v.v[0][1] == 2 && vm.v.v[1][0] == 1 && vm.v.v[1][7] == 15 &&
	       vm.v.v[0][8] == 0 && vm.v.v[1][15] == 0,
	   "ld2 .8b: de-interleaved, the upper halves zeroed");

	reset();
	vm.r.x[2] = 0x40;
	is_int(run(0x4cc27c20), XG_EMU_ARM64_OK, "ld1 {v0.2d}, [x1], x2: ok");
	is_hex(vm.r.x[1], DEV_BASE + 0x140, "ld1 post-index by register: x1 += x2");

	reset();
	vm.v.v[31][8] = 0x31;
	vm.v.v[0][8] = 0x30;
	is_int(run(0x4d20843f), XG_EMU_ARM64_OK, "st2 {v31.d, v0.d}[1], [x1]: ok");
	ok(vm.dev[0x100] == 0x31 && vm.dev[0x108] == 0x30, "st2 single: the register list wraps");

	reset();
	vm.r.x[1] = DEV_BASE + 0x101;
	vm.r.sctlr_el1 = SCTLR_A;
	is_int(run(0x4d40c820), XG_EMU_ARM64_EXCEPTION, "SCTLR.A: ld1r .4s misaligned faults");
	nothing_changed("ld1r misaligned");
}

static void test_atomic(void)
{
	reset();
	put64(vm.dev + 0x200, 40);
	vm.r.x[0] = 2;
	is_int(run(0xf8200041), XG_EMU_ARM64_OK, "ldadd x0, x1, [x2]: ok");
	ok(vm.r.x[1] == 40 && get64(vm.dev + 0x200) == 42, "ldadd: x1 = old, memory = old + x0");
	ok(vm.nlog == 2 && !vm.log[0].write && vm.log[1].write && vm.log[1].size == 8,
	   "ldadd: one read, then one write, of 8 bytes");

	reset();
	put64(vm.dev + 0x200, 7);
	vm.r.x[0] = 7;
	vm.r.x[1] = 99;
	is_int(run(0xc8a07c41), XG_EMU_ARM64_OK, "cas x0, x1, [x2] (equal): ok");
	ok(vm.r.x[0] == 7 && get64(vm.dev + 0x200) == 99, "cas equal: x1 written, x0 = old");

	reset();
	put64(vm.dev + 0x200, 8);
	vm.r.x[0] = 7;
	vm.r.x[1] = 99;
	is_int(run(0xc8a07c41), XG_EMU_ARM64_OK, "cas x0, x1, [x2] (different): ok");
	ok(vm.r.x[0] == 8 && get64(vm.dev + 0x200) == 8 && vm.nlog == 1,
	   "cas different: no write, x0 = old");

	reset();
	put64(vm.dev + 0x200, 0x1111111155555555ull);
	vm.r.x[3] = 0xaaaaaaaa;
	is_int(run(0xb8e38044), XG_EMU_ARM64_OK, "swpal w3, w4, [x2]: ok");
	ok(vm.r.x[4] == 0x55555555 && get64(vm.dev + 0x200) == 0x11111111aaaaaaaaull,
	   "swp w: 4 bytes swapped, w4 zero-extended");

	reset();
	vm.dev[0x200] = 0x80; /* -128 */
	vm.r.x[5] = 0x7f;
	is_int(run(0x38254046), XG_EMU_ARM64_OK, "ldsmaxb w5, w6, [x2]: ok");
	ok(vm.r.x[6] == 0x80 && vm.dev[0x200] == 0x7f, "ldsmaxb: signed bytes, old zero-extended");

	reset();
	put64(vm.dev + 0x200, 1);
	put64(vm.dev + 0x208, 2);
	vm.r.x[4] = 1;
	vm.r.x[5] = 2;
	vm.r.x[6] = 10;
	vm.r.x[7] = 20;
	is_int(run(0x48247c46), XG_EMU_ARM64_OK, "casp x4, x5, x6, x7, [x2]: ok");
	ok(get64(vm.dev + 0x200) == 10 && get64(vm.dev + 0x208) == 20 && vm.r.x[4] == 1 &&
	       vm.r.x[5] == 2,
	   "casp equal: the pair written");

	reset();
	put64(vm.dev + 0x200, 0xff);
	vm.r.x[5] = 0x0f;
	is_int(run(0xf825105f), XG_EMU_ARM64_OK, "stclr x5, [x2]: ok");
	is_hex(get64(vm.dev + 0x200), 0xf0, "stclr: bits cleared, XZR gets the old value");

	reset();
	vm.r.x[2] = DEV_BASE + 0x204;
	is_int(run(0xf8257046), XG_EMU_ARM64_EXCEPTION, "ldumin misaligned: alignment fault");
	ok((vm.exc.esr & 0x3f) == 0x21, "atomics always check alignment");
	nothing_changed("ldumin misaligned");

	reset();
	vm.veto = XG_EMU_ARM64_STAGE_DECODE;
	is_int(run(0xf8200041), XG_EMU_ARM64_VETOED, "a policy refuses atomics at decode");
	nothing_changed("vetoed atomic");
}

static void test_ordered(void)
{
	reset();
	put64(vm.dev + 0x100, 9);
	is_int(run(0xc8dffc20), XG_EMU_ARM64_OK, "ldar x0, [x1]: ok");
	is_hex(vm.r.x[0], 9, "ldar: loads");

	reset();
	is_int(run(0xf8bfc020), XG_EMU_ARM64_OK, "ldapr x0, [x1]: ok");

	reset();
	vm.r.x[1] = DEV_BASE + 0x104;
	is_int(run(0xc8dffc20), XG_EMU_ARM64_EXCEPTION, "ldar x0 misaligned: an exception");
	is_hex(vm.exc.esr, 0x25u << 26 | 1u << 25 | 0x21, "ldar misaligned: alignment fault, EL1");
	is_hex(vm.exc.far, DEV_BASE + 0x104, "ldar misaligned: FAR");
	nothing_changed("ldar misaligned");

	reset();
	vm.r.x[1] = DEV_BASE + 0x102;
	is_int(run(0x889ffc22), XG_EMU_ARM64_EXCEPTION, "stlr w2 misaligned: an exception");
	ok((vm.exc.esr & 0x7f) == (1u << 6 | 0x21), "stlr misaligned: WnR set");
}

static void test_alignment_split(void)
{
	reset();
	vm.r.sctlr_el1 = SCTLR_A;
	vm.r.x[1] = DEV_BASE + 0x101;
	is_int(run(0xf9400020), XG_EMU_ARM64_EXCEPTION, "SCTLR.A, ldr x0 misaligned: exception");
	is_int(vm.exc.esr & 0x3f, 0x21, "SCTLR.A: alignment fault");
	nothing_changed("SCTLR.A alignment fault");

	reset();
	vm.r.x[1] = DEV_BASE + 0xffc;
	put64(vm.dev + 0xffc, 0x0102030405060708ull);
	is_int(run(0xf9400020), XG_EMU_ARM64_OK, "ldr x0 across a page: ok");
	ok(vm.nlog == 2 && vm.log[0].ipa == DEV_BASE + 0xffc && vm.log[0].size == 4 &&
	       vm.log[1].ipa == DEV_BASE + 0x1000 && vm.log[1].size == 4,
	   "across a page: two accesses of 4");
	is_hex(vm.r.x[0], 0x0102030405060708ull, "across a page: the value joined");

	reset();
	vm.r.sctlr_el1 = SCTLR_SA;
	vm.r.sp = DEV_BASE + 0x408;
	is_int(run(0xf9400be0), XG_EMU_ARM64_EXCEPTION, "SCTLR.SA, misaligned SP: exception");
	is_hex(vm.exc.esr, 0x26u << 26 | 1u << 25, "SP alignment fault (EC 0x26)");
	is_int(res.stage, XG_EMU_ARM64_STAGE_ALIGNMENT, "found at the alignment stage");
}

static void test_unpredictable(void)
{
	reset();
	put64(vm.dev + 0x100, 0x777);
	is_int(run(0xf8408421), XG_EMU_ARM64_OK, "ldr x1, [x1], #8: ok");
	is_hex(vm.r.x[1], 0x777, "ldr Rt = Rn with writeback: the loaded value wins");

	reset();
	is_int(run(0xf8008421), XG_EMU_ARM64_OK, "str x1, [x1], #8: ok");
	ok(get64(vm.dev + 0x100) == DEV_BASE + 0x100 && vm.r.x[1] == DEV_BASE + 0x108,
	   "str Rt = Rn with writeback: stores the original base, then writes back");

	reset();
	put64(vm.dev + 0x100, 1);
	put64(vm.dev + 0x108, 2);
	is_int(run(0xa9400020), XG_EMU_ARM64_OK, "ldp x0, x0, [x1]: ok");
	is_hex(vm.r.x[0], 2, "ldp Rt = Rt2: Rt2's value");
}

static void test_refusals(void)
{
	static const struct {
		uint32_t w;
		const char *text, *reason;
	} nh[] = {
	    {0xc85f7c20, "ldxr x0, [x1]", "exclusive"},
	    {0xd503201f, "nop", "not a load or store"},
	};
	unsigned i;

	for (i = 0; i < sizeof(nh) / sizeof(nh[0]); i++) {
		reset();
		is_int(run(nh[i].w), XG_EMU_ARM64_NOT_HANDLED, "%s: not handled", nh[i].text);
		like(res.reason, nh[i].reason, "%s: the reason says why", nh[i].text);
		ok(vm.injected == 0, "%s: nothing injected", nh[i].text);
		nothing_changed(nh[i].text);
	}

	reset();
	is_int(run(0x3ce00820), XG_EMU_ARM64_EXCEPTION,
	       "unallocated (LDR Q register offset, option 000): an exception");
	ok(vm.injected == 1 && vm.exc.esr == 1u << 25, "UNDEFINED: EC 0 (unknown), IL 1");
	is_hex(vm.r.pc, RAM_BASE + 0x1000, "UNDEFINED: PC stays");

	reset();
	is_int(run(0xf8c00020), XG_EMU_ARM64_EXCEPTION, "ldr (unscaled) size 11 opc 11: undefined");

	reset();
	vm.r.sctlr_el1 = SCTLR_EE;
	is_int(run(0xf9400020), XG_EMU_ARM64_NOT_HANDLED, "SCTLR_EL1.EE = 1: not handled");
	like(res.reason, "big-endian", "SCTLR_EL1.EE = 1: the reason names it");
	nothing_changed("big-endian");

	reset();
	is_int(run(0xf9800020), XG_EMU_ARM64_OK, "prfm pldl1keep, [x1]: ok");
	ok(vm.nlog == 0 && vm.r.pc == RAM_BASE + 0x1004, "prfm: a hint, PC += 4 and no access");

	reset();
	vm.r.x[1] = 0x7000000;
	is_int(run(0xf9400020), XG_EMU_ARM64_ERROR, "read of an IPA the host cannot: error");
	like(res.reason, "ops->read", "error: says which callback");
}

static void test_hooks(void)
{
	static const unsigned load_order[] = {
	    XG_EMU_ARM64_STAGE_DECODE, XG_EMU_ARM64_STAGE_ALIGNMENT, XG_EMU_ARM64_STAGE_TRANSLATE,
	    XG_EMU_ARM64_STAGE_READ, XG_EMU_ARM64_STAGE_WRITEBACK};

	reset();
	run(0xf9400020);
	ok(vm.nstages == 5 && !memcmp(vm.stages, load_order, sizeof(load_order)),
	   "a load passes decode, alignment, translate, read, writeback in order");

	reset();
	vm.veto = XG_EMU_ARM64_STAGE_WRITEBACK;
	vm.r.x[0] = 5;
	is_int(run(0xf81f0fe0), XG_EMU_ARM64_VETOED, "store vetoed at writeback");
	ok(vm.set_regs == 0 && get64(vm.dev + 0x3f0) == 0, "vetoed: nothing written, SP unchanged");
	like(res.reason, "writeback", "vetoed: the reason names the stage");

	reset();
	vm.veto = XG_EMU_ARM64_STAGE_EXCEPTION;
	vm.r.x[1] = DEV_BASE + 0x104;
	is_int(run(0xc8dffc20), XG_EMU_ARM64_VETOED, "exception vetoed");
	ok(vm.injected == 0, "vetoed exception: not injected");
	is_str(xg_emu_arm64_stage_name(XG_EMU_ARM64_STAGE_TRANSLATE), "translate", "stage names");
	is_str(xg_emu_arm64_status_name(XG_EMU_ARM64_NOT_HANDLED), "not handled", "status names");
}

/*
 * Stage-1 tables in RAM, 4K granule, T0SZ = T1SZ = 25 (39-bit VAs, the walk starts at level
 * 1). TTBR0: L1 at +0, L2 at +0x1000, L3 at +0x2000. TTBR1: L1 at +0x3000.
 */
#define D_VALID	 1ull
#define D_TABLE	 3ull
#define D_PAGE	 3ull
#define D_BLOCK	 1ull
#define D_AF	 (1ull << 10)
#define D_AP_EL0 (1ull << 6)
#define D_AP_RO	 (1ull << 7)
#define VA_UPPER 0xffffff8000000000ull
#define TCR_4K	 (25ull | 25ull << 16 | 2ull << 30 | 5ull << 32)

static void table(uint64_t at, unsigned idx, uint64_t desc)
{
	put64(vm.ram + (at - RAM_BASE) + idx * 8, desc);
}

static void mmu_on(void)
{
	memset(vm.ram, 0, 0x10000);
	table(RAM_BASE, 0, (RAM_BASE + 0x1000) | D_TABLE);
	table(RAM_BASE + 0x1000, 0, (RAM_BASE + 0x2000) | D_TABLE);
	table(RAM_BASE + 0x1000, 1, (RAM_BASE + 0x200000) | D_BLOCK | D_AF); /* 2M block */
	table(RAM_BASE + 0x2000, 0, DEV_BASE | D_PAGE | D_AF);		     /* EL1 RW */
	table(RAM_BASE + 0x2000, 1, (DEV_BASE + 0x1000) | D_PAGE | D_AF | D_AP_RO);
	/* entry 2 invalid */
	table(RAM_BASE + 0x2000, 3, (DEV_BASE + 0x3000) | D_PAGE); /* AF = 0 */
	table(RAM_BASE + 0x2000, 4, (DEV_BASE + 0x4000) | D_PAGE | D_AF | D_AP_EL0);
	table(RAM_BASE + 0x2000, 5, (RAM_BASE + 0x5000) | D_PAGE | D_AF | D_AP_RO); /* code */
	table(RAM_BASE + 0x3000, 0, RAM_BASE | D_BLOCK | D_AF);			    /* 1G block */
	/* VA 0x400000: through a table with APTable = 10 (no write below) to an RW page */
	table(RAM_BASE + 0x1000, 2, (RAM_BASE + 0x4000) | D_TABLE | 1ull << 62);
	table(RAM_BASE + 0x4000, 0, DEV_BASE | D_PAGE | D_AF);
	vm.r.sctlr_el1 = SCTLR_M;
	vm.r.tcr_el1 = TCR_4K;
	vm.r.ttbr0_el1 = RAM_BASE;
	vm.r.ttbr1_el1 = RAM_BASE + 0x3000;
}

static void test_walk(void)
{
	uint32_t ldr = 0xf9400020, str = 0xf9000020; /* ldr x0, [x1] / str x0, [x1] */
	uint8_t fsc;
	uint64_t ipa;

	reset();
	mmu_on();
	vm.r.x[1] = 0x10;
	put64(vm.dev + 0x10, 0xd00d);
	is_int(run(ldr), XG_EMU_ARM64_OK, "4K walk, page: ok");
	ok(vm.r.x[0] == 0xd00d && vm.log[0].ipa == DEV_BASE + 0x10, "4K walk: VA 0x10 -> IPA");

	reset();
	mmu_on();
	vm.r.x[1] = 0x200008;
	put64(vm.ram + 0x200008, 0xb10c);
	is_int(run(ldr), XG_EMU_ARM64_OK, "4K walk, 2 MiB block: ok");
	is_hex(vm.r.x[0], 0xb10c, "block: offset inside the block kept");

	reset();
	mmu_on();
	vm.r.x[1] = VA_UPPER + 0x200008;
	put64(vm.ram + 0x200008, 0x7777);
	is_int(run(ldr), XG_EMU_ARM64_OK, "TTBR1 walk, 1 GiB block: ok");
	is_hex(vm.r.x[0], 0x7777, "TTBR1: upper VA -> RAM");

	reset();
	mmu_on();
	vm.r.x[1] = 0x1008;
	is_int(run(str), XG_EMU_ARM64_EXCEPTION, "store to a read-only page: exception");
	is_hex(vm.exc.esr, 0x25u << 26 | 1u << 25 | 1u << 6 | 0x0f,
	       "read-only: permission fault level 3, WnR");
	is_hex(vm.exc.far, 0x1008, "read-only: FAR is the VA");
	nothing_changed("read-only store");

	reset();
	mmu_on();
	vm.r.x[1] = 0x400000;
	is_int(run(ldr), XG_EMU_ARM64_OK, "APTable no-write: a load passes");
	is_int(run(str), XG_EMU_ARM64_EXCEPTION, "APTable no-write: a store to an RW page faults");
	is_hex(vm.exc.esr & 0x7f, 1u << 6 | 0x0f, "APTable: permission fault level 3");

	reset();
	mmu_on();
	vm.r.x[1] = 0x2000;
	is_int(run(ldr), XG_EMU_ARM64_EXCEPTION, "invalid L3 entry: exception");
	is_hex(vm.exc.esr & 0x3f, 0x07, "translation fault level 3");

	reset();
	mmu_on();
	vm.r.x[1] = 0x3000;
	run(ldr);
	is_hex(vm.exc.esr & 0x3f, 0x0b, "AF = 0: access flag fault level 3");

	reset();
	mmu_on();
	vm.r.x[1] = 1ull << 40;
	run(ldr);
	is_hex(vm.exc.esr & 0x3f, 0x04, "VA beyond T0SZ: translation fault level 0");

	reset();
	mmu_on();
	vm.r.x[1] = 0x40000000;
	run(ldr);
	is_hex(vm.exc.esr & 0x3f, 0x05, "empty L1 entry: translation fault level 1");

	reset();
	mmu_on();
	vm.r.pstate = PSTATE_EL0T;
	vm.r.x[1] = 0x10;
	is_int(run(ldr), XG_EMU_ARM64_EXCEPTION, "EL0 load from an EL1-only page: exception");
	is_hex(vm.exc.esr, 0x24u << 26 | 1u << 25 | 0x0f, "EL0: permission fault from a lower EL");

	reset();
	mmu_on();
	vm.r.pstate = PSTATE_EL0T;
	vm.r.x[1] = 0x4010;
	is_int(run(ldr), XG_EMU_ARM64_OK, "EL0 load from an EL0 page: ok");

	reset();
	mmu_on();
	vm.r.pstate |= PSTATE_PAN;
	vm.r.x[1] = 0x4010;
	is_int(run(ldr), XG_EMU_ARM64_EXCEPTION, "PAN: EL1 load from an EL0 page faults");
	is_int(run(0xf8400820), XG_EMU_ARM64_OK, "PAN: ldtr x0, [x1] there is allowed");

	reset();
	mmu_on();
	vm.r.x[1] = 0x10;
	is_int(run(0xf8400820), XG_EMU_ARM64_EXCEPTION, "ldtr at EL1 on an EL1-only page: faults");
	vm.r.pstate |= PSTATE_UAO;
	is_int(run(0xf8400820), XG_EMU_ARM64_OK, "ldtr with PSTATE.UAO: checked as EL1");

	/* a pair whose second half faults: nothing of the first half is written */
	reset();
	mmu_on();
	vm.r.x[2] = 0xff8;
	vm.r.x[0] = vm.r.x[1] = 0x5555;
	is_int(run(0xa9000440), XG_EMU_ARM64_EXCEPTION, "stp x0, x1 into a read-only page: fault");
	is_hex(vm.exc.far, 0x1000, "stp: FAR is the second element's VA");
	ok(get64(vm.dev + 0xff8) == 0, "stp: the first element is not written");
	nothing_changed("stp faulting");

	/* the instruction itself fetched through the translation */
	reset();
	mmu_on();
	{
		uint32_t w = 0xf9400020;

		memcpy(vm.ram + 0x5000 + 0x10, &w, 4);
	}
	vm.r.pc = 0x5010;
	vm.r.x[1] = 0x10;
	is_int(xg_emu_arm64_emulate(&ops, NULL, NULL, &res), XG_EMU_ARM64_OK,
	       "fetch through the tables: ok");
	is_hex(vm.r.pc, 0x5014, "fetched: PC += 4");

	reset();
	mmu_on();
	vm.r.pc = 0x2000;
	is_int(xg_emu_arm64_emulate(&ops, NULL, NULL, &res), XG_EMU_ARM64_EXCEPTION,
	       "fetch from an unmapped PC: exception");
	is_hex(vm.exc.esr, 0x21u << 26 | 1u << 25 | 0x07, "instruction abort, level 3");

	/* 64K granule: T0SZ = 25 starts at level 2 */
	reset();
	memset(vm.ram, 0, 0x30000);
	put64(vm.ram + 0x10000, (RAM_BASE + 0x20000) | D_TABLE);
	put64(vm.ram + 0x20000 + 1 * 8, DEV_BASE | D_PAGE | D_AF); /* VA 0x10000 */
	vm.r.sctlr_el1 = SCTLR_M;
	vm.r.tcr_el1 = 25ull | 1ull << 14 | 5ull << 32; /* TG0 = 01: 64K */
	vm.r.ttbr0_el1 = RAM_BASE + 0x10000;
	is_int(xg_emu_arm64_translate(&ops, NULL, &vm.r, 0x10123, XG_EMU_ARM64_READ, 1, &ipa, &fsc),
	       0, "64K granule walk: ok");
	is_hex(ipa, DEV_BASE + 0x123, "64K granule: VA 0x10123 -> IPA");

	/* 16K granule: T0SZ = 25 starts at level 1 (3 bits) */
	reset();
	memset(vm.ram, 0, 0x30000);
	put64(vm.ram + 0x4000, (RAM_BASE + 0x8000) | D_TABLE);	  /* L1[0] */
	put64(vm.ram + 0x8000, (RAM_BASE + 0xc000) | D_TABLE);	  /* L2[0] */
	put64(vm.ram + 0xc000 + 2 * 8, DEV_BASE | D_PAGE | D_AF); /* L3[2]: VA 0x8000 */
	vm.r.sctlr_el1 = SCTLR_M;
	vm.r.tcr_el1 = 25ull | 2ull << 14 | 5ull << 32; /* TG0 = 10: 16K */
	vm.r.ttbr0_el1 = RAM_BASE + 0x4000;
	is_int(xg_emu_arm64_translate(&ops, NULL, &vm.r, 0x8042, XG_EMU_ARM64_WRITE, 1, &ipa, &fsc),
	       0, "16K granule walk: ok");
	is_hex(ipa, DEV_BASE + 0x42, "16K granule: VA 0x8042 -> IPA");
}

/*
 * Random words of the load/store space on random registers, over tables of random bytes
 * (MMU on) or flat: whatever the outcome, an instruction that did not complete changed
 * nothing - no register, no device write - and nothing crashes (run under ASan/UBSan in the
 * sanitizer build).
 */
static void test_random(void)
{
	uint64_t x = 0x2545f4914f6cdd1dull;
	long i, bad = 0, okc = 0, exc = 0, nh = 0;
	unsigned j;

#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	for (j = 0; j < 0x10000; j += 8)
		put64(vm.ram + j, NEXT());
	for (i = 0; i < 200000; i++) {
		uint32_t w = ((uint32_t)NEXT() & ~0x0a000000u) | 0x08000000u;
		enum xg_emu_arm64_status st;
		unsigned r, writes = 0;

		reset();
		for (r = 0; r < 31; r++) {
			uint64_t v = NEXT();
			/* half the bases near the device, so that some accesses complete */
			vm.r.x[r] = v & 1 ? DEV_BASE + (v >> 40 & 0xfff0) : v;
		}
		vm.r.sp = DEV_BASE + 0x800 + (NEXT() & 0xf);
		vm.r.pc = DEV_BASE + 0x8000;
		vm.r.sctlr_el1 = NEXT() & (SCTLR_A | SCTLR_SA | (i & 1 ? SCTLR_M : 0));
		vm.r.tcr_el1 = NEXT();
		vm.r.ttbr0_el1 = RAM_BASE + (NEXT() & 0xf000);
		vm.r.ttbr1_el1 = RAM_BASE + (NEXT() & 0xf000);
		vm.r.pstate = NEXT() & 1 ? PSTATE_EL1H : PSTATE_EL0T;
		st = run(w);
		for (j = 0; j < vm.nlog; j++)
			writes += vm.log[j].write;
		if (st == XG_EMU_ARM64_OK)
			okc++;
		else if (st == XG_EMU_ARM64_EXCEPTION)
			exc++;
		else if (st == XG_EMU_ARM64_NOT_HANDLED)
			nh++;
		/* a host failure of a write can only come after the writes before it */
		if (st != XG_EMU_ARM64_OK && !strstr(res.reason, "ops->write") &&
		    (vm.set_regs || writes)) {
			if (bad++ < 5)
				diag("%08x: %s yet changed state", w, xg_emu_arm64_status_name(st));
		}
		if (st == XG_EMU_ARM64_EXCEPTION && vm.injected != 1)
			bad++;
	}
#undef NEXT
	diag("random: %ld emulated, %ld exceptions, %ld not handled", okc, exc, nh);
	is_int(bad, 0, "random: no state change unless the instruction completed");
	ok(okc > 10000 && exc > 10000, "random: both outcomes are exercised");
}

/* Exception entry (ARM ARM D1.10.2): from EL1h, EL1t and EL0, and refused from AArch32. */
static void test_entry(void)
{
	struct xg_emu_arm64_regs r;
	struct xg_emu_arm64_el1 e;
	struct xg_emu_arm64_exception x = {0x96000010u, 0x9000};

	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));
	r.pc = 0x4000;
	r.sp = 0x7000;
	r.pstate = 0x3c5 & ~0x3c0ull; /* EL1h, DAIF clear */
	e.vbar = 0x10000;
	e.sp_el1 = 0x1111;
	is_int(xg_emu_arm64_exception_entry(&r, &e, &x), 0, "entry: EL1h taken");
	is_hex(r.pc, 0x10200, "entry: EL1h -> VBAR + 0x200");
	is_hex(e.elr, 0x4000, "entry: ELR_EL1 = the faulting PC");
	is_hex(e.spsr, 0x5, "entry: SPSR_EL1 = old PSTATE");
	is_hex(e.esr, 0x96000010u, "entry: ESR_EL1");
	is_hex(e.far, 0x9000, "entry: FAR_EL1");
	is_hex(e.sp_el1, 0x7000, "entry: the SP in use was SP_EL1");
	is_hex(r.sp, 0x7000, "entry: runs on SP_EL1");
	is_hex(r.pstate, 0x3c5 | (1ull << 22), "entry: EL1h, DAIF masked, PAN set (SPAN = 0)");

	memset(&e, 0, sizeof(e));
	e.vbar = 0x10000;
	e.sp_el1 = 0x2222;
	r.pc = 0x5000;
	r.sp = 0x8000;
	r.pstate = 0; /* EL0t */
	r.sctlr_el1 = 1ull << 23; /* SPAN: PAN unchanged */
	xg_emu_arm64_exception_entry(&r, &e, &x);
	is_hex(r.pc, 0x10400, "entry: EL0 -> VBAR + 0x400");
	is_hex(e.sp_el0, 0x8000, "entry: SP_EL0 banked");
	is_hex(r.sp, 0x2222, "entry: SP_EL1 in use");
	is_hex(r.pstate, 0x3c5, "entry: PAN kept with SPAN = 1");

	r.pstate = 4; /* EL1t */
	e.vbar = 0x20000;
	xg_emu_arm64_exception_entry(&r, &e, &x);
	is_hex(r.pc, 0x20000, "entry: EL1t -> VBAR + 0");

	r.pstate = 0x10; /* AArch32 */
	r.pc = 0x1234;
	is_int(xg_emu_arm64_exception_entry(&r, &e, &x), -1, "entry: refused from AArch32");
	is_hex(r.pc, 0x1234, "entry: refused, nothing changed");
}

int main(void)
{
	test_single();
	test_regoff();
	test_pair_literal();
	test_simd();
	test_struct();
	test_atomic();
	test_ordered();
	test_alignment_split();
	test_unpredictable();
	test_refusals();
	test_hooks();
	test_walk();
	test_random();
	test_entry();
	return done_testing();
}
