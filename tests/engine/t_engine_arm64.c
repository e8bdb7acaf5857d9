/*
 * t_engine_arm64.c - the engine on an arm64 vCPU: exitgate's A64 emulator behind the vCPU
 * ops (xg_emulate_arm64), and every verdict on arm_nisv exits through xg_handle_exit with a
 * real policy.
 *
 * The fake VMM models an arm64 vCPU: X0-X30, SP_EL0/SP_EL1, PC, PSTATE, V0-V31 and the EL1
 * registers exception entry uses; 1 MiB of RAM at IPA 0x40000000 (the code, the guest's
 * stage-1 tables); a 4 KiB device at IPA 0x09000000 whose every access is logged (what the
 * VMM's device model would see); nothing anywhere else. inject_arm64_sync takes the
 * exception as the CPU would (xg_emu_arm64_exception_entry). The instruction words are what
 * GNU as (aarch64-linux-gnu-as) assembles for the text beside them.
 */
#include "engine_test.h"
#include "xg_emu_arm64.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (1u << 20)
#define DEV_BASE 0x09000000ull
#define DEV_SIZE 0x1000u
#define NOTHING	 0x0a000000ull /* neither RAM nor a device */
#define CODE	 (RAM_BASE + 0x1000)
#define VBAR	 (RAM_BASE + 0x8000)

#define PSTATE_EL1H 0x3c5ull
#define PSTATE_EL0T 0x000ull
#define SCTLR_M	    (1ull << 0)
#define TCR_4K	    (25ull | 25ull << 16 | 2ull << 30 | 5ull << 32)
#define D_TABLE	    3ull
#define D_PAGE	    3ull
#define D_BLOCK	    1ull
#define D_AF	    (1ull << 10)

/* instruction words */
#define LDR_X0_X1_POST8 0xf8408420u /* ldr x0, [x1], #8 */
#define LDR_X0_X1	0xf9400020u /* ldr x0, [x1] */
#define STR_X2_X1	0xf9000022u /* str x2, [x1] */
#define LDXR_X0_X1	0xc85f7c20u /* ldxr x0, [x1] */
#define LDR_Q0_X1	0x3dc00020u /* ldr q0, [x1] */
#define LDP_X0_X3_X1	0xa9400c20u /* ldp x0, x3, [x1] */
#define STP_PRE		0xa9810c22u /* stp x2, x3, [x1, #16]! */
#define NOP		0xd503201fu
#define PRFM_X1		0xf9800020u /* prfm pldl1keep, [x1] */

struct dev_access {
	uint64_t ipa;
	unsigned size, write;
};

static struct a64 {
	struct xg_emu_arm64_regs r;
	struct xg_emu_arm64_vregs v;
	struct xg_emu_arm64_el1 el1;
	uint8_t ram[RAM_SIZE];
	uint8_t dev[DEV_SIZE];
	struct dev_access log[16];
	unsigned nlog, set_regs, set_vregs, syncs, aborts, paused;
} m;

static int a_get_regs(void *o, struct xg_emu_arm64_regs *r)
{
	(void)o;
	*r = m.r;
	return 0;
}

static int a_set_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	(void)o;
	m.r.pc = r->pc;
	m.r.sp = r->sp;
	m.r.pstate = r->pstate;
	memcpy(m.r.x, r->x, sizeof(m.r.x));
	m.set_regs++;
	return 0;
}

static int a_get_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	(void)o;
	*v = m.v;
	return 0;
}

static int a_set_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	(void)o;
	m.v = *v;
	m.set_vregs++;
	return 0;
}

static int a_read_gpa(void *o, uint64_t gpa, void *buf, size_t len)
{
	(void)o;
	if (gpa < RAM_BASE || gpa - RAM_BASE >= RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
		return -EFAULT;
	memcpy(buf, m.ram + (gpa - RAM_BASE), len);
	return 0;
}

static int a_write_gpa(void *o, uint64_t gpa, const void *buf, size_t len)
{
	(void)o;
	if (gpa < RAM_BASE || gpa - RAM_BASE >= RAM_SIZE || len > RAM_SIZE - (gpa - RAM_BASE))
		return -EFAULT;
	memcpy(m.ram + (gpa - RAM_BASE), buf, len);
	return 0;
}

static uint8_t *dev_at(uint64_t gpa, size_t len, unsigned write)
{
	if (gpa < DEV_BASE || gpa - DEV_BASE >= DEV_SIZE || len > DEV_SIZE - (gpa - DEV_BASE))
		return NULL;
	if (m.nlog < 16)
		m.log[m.nlog++] = (struct dev_access){gpa, (unsigned)len, write};
	return m.dev + (gpa - DEV_BASE);
}

static int a_mmio_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *p = dev_at(gpa, len, 0);

	(void)o;
	if (!p)
		return -ENODEV;
	memcpy(buf, p, len);
	return 0;
}

static int a_mmio_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	uint8_t *p = dev_at(gpa, len, 1);

	(void)o;
	if (!p)
		return -ENODEV;
	memcpy(p, buf, len);
	return 0;
}

static int a_sync(void *o, uint32_t esr, uint64_t far)
{
	struct xg_emu_arm64_exception exc = {esr, far};

	(void)o;
	m.syncs++;
	return xg_emu_arm64_exception_entry(&m.r, &m.el1, &exc) ? -EINVAL : 0;
}

static int a_abort(void *o)
{
	(void)o;
	m.aborts++;
	return 0;
}

/* registers by name, as a VMM's get_reg gives them (dumps, skip, vcpu:reg) */
static uint64_t *reg_named(const char *n)
{
	static const struct {
		const char *name;
		size_t off;
	} sys[] = {
	    {"elr_el1", offsetof(struct a64, el1.elr)},
	    {"spsr_el1", offsetof(struct a64, el1.spsr)},
	    {"esr_el1", offsetof(struct a64, el1.esr)},
	    {"far_el1", offsetof(struct a64, el1.far)},
	    {"vbar_el1", offsetof(struct a64, el1.vbar)},
	    {"sp_el0", offsetof(struct a64, el1.sp_el0)},
	    {"sp_el1", offsetof(struct a64, el1.sp_el1)},
	};
	char *end;
	unsigned long i;

	if (!strcmp(n, "pc"))
		return &m.r.pc;
	if (!strcmp(n, "sp"))
		return &m.r.sp;
	if (!strcmp(n, "pstate"))
		return &m.r.pstate;
	if (n[0] == 'x' && n[1]) {
		i = strtoul(n + 1, &end, 10);
		if (!*end && i < 31)
			return &m.r.x[i];
	}
	for (i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (!strcmp(n, sys[i].name))
			return (uint64_t *)((char *)&m + sys[i].off);
	return NULL;
}

static int a_get_reg(void *o, const char *n, uint64_t *v)
{
	uint64_t *p = reg_named(n);

	(void)o;
	if (!p)
		return -ENOENT;
	*v = *p;
	return 0;
}

static int a_set_reg(void *o, const char *n, uint64_t v)
{
	uint64_t *p = reg_named(n);

	(void)o;
	if (!p)
		return -ENOENT;
	*p = v;
	m.set_regs++;
	return 0;
}

static int a_pause(void *o, const char *why)
{
	(void)o;
	(void)why;
	m.paused++;
	return 0;
}

static const struct xg_vcpu_ops a64_ops = {
    .get_reg = a_get_reg,
    .set_reg = a_set_reg,
    .read_gpa = a_read_gpa,
    .write_gpa = a_write_gpa,
    .inject_external_abort = a_abort,
    .mmio_read = a_mmio_read,
    .mmio_write = a_mmio_write,
    .pause = a_pause,
    .get_arm64_regs = a_get_regs,
    .set_arm64_regs = a_set_regs,
    .get_arm64_vregs = a_get_vregs,
    .set_arm64_vregs = a_set_vregs,
    .inject_arm64_sync = a_sync,
};

static void put32(uint64_t ipa, uint32_t w)
{
	memcpy(m.ram + (ipa - RAM_BASE), &w, 4);
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

/* A fresh vCPU at EL1h, MMU off, PC = CODE holding `word`, x1 pointing into the device. */
static void reset(uint32_t word)
{
	memset(&m.r, 0, sizeof(m.r));
	memset(&m.v, 0, sizeof(m.v));
	memset(&m.el1, 0, sizeof(m.el1));
	memset(m.dev, 0, sizeof(m.dev));
	memset(m.ram, 0, 0x20000);
	for (unsigned i = 0; i < 31; i++)
		m.r.x[i] = 0x1111111100000000ull + i;
	m.r.x[1] = DEV_BASE + 0x10;
	m.r.sp = RAM_BASE + 0x10000;
	m.r.pc = CODE;
	m.r.pstate = PSTATE_EL1H;
	m.el1.vbar = VBAR;
	m.el1.sp_el1 = m.r.sp;
	m.nlog = m.set_regs = m.set_vregs = m.syncs = m.aborts = m.paused = 0;
	put32(CODE, word);
}

/* The guest's own stage-1 tables (4K granule, 39-bit VA): VA 0x40000000.. is RAM by a 1 GiB
 * block (the code runs where it is), VA 0x200000 is the device's page. */
static void mmu_on(void)
{
	put64(m.ram + 0x10000, (RAM_BASE + 0x11000) | D_TABLE); /* L1[0] */
	put64(m.ram + 0x10008, RAM_BASE | D_BLOCK | D_AF);	/* L1[1]: 1G */
	put64(m.ram + 0x11008, (RAM_BASE + 0x12000) | D_TABLE); /* L2[1] */
	put64(m.ram + 0x12000, DEV_BASE | D_PAGE | D_AF);	/* L3[0] */
	m.r.sctlr_el1 = SCTLR_M;
	m.r.tcr_el1 = TCR_4K;
	m.r.ttbr0_el1 = RAM_BASE + 0x10000;
}

/* A decoded arm64 exit: arm_nisv (28) with the fault IPA and ISS, or mmio (6). */
static struct xg_exit ex;
static struct run rn;

static void nisv_run(uint64_t ipa, int write)
{
	run_reason(&rn, 28);
	kr(&rn)->arm_nisv.fault_ipa = ipa;
	kr(&rn)->arm_nisv.esr_iss = write ? 1u << 6 : 0;
}

static const struct xg_exit *nisv(uint64_t ipa, int write)
{
	struct xg_exit_opts o = {XG_ARCH_ARM64, XG_HW_NONE};
	struct xg_error err;

	nisv_run(ipa, write);
	if (xg_exit_decode(&ex, rn.b, sizeof(rn.b), &o, &err))
		bail("decode: %s", err.msg);
	return &ex;
}

static const struct xg_exit *mmio(uint64_t ipa, int write, enum xg_arch arch)
{
	struct xg_exit_opts o = {arch, arch == XG_ARCH_ARM64 ? XG_HW_NONE : XG_HW_VMX};
	struct xg_error err;

	run_mmio(&rn, ipa, 8, write);
	if (xg_exit_decode(&ex, rn.b, sizeof(rn.b), &o, &err))
		bail("decode: %s", err.msg);
	return &ex;
}

static struct xg_emu_arm64_result res;
static char why[256];

static int emulate(const struct xg_exit *x)
{
	return xg_emulate_arm64(&a64_ops, NULL, x, &res, why, sizeof(why));
}

/* nothing in the guest changed: registers, device, exceptions */
static struct a64 *saved;

static void save(void)
{
	memcpy(saved, &m, sizeof(m));
}

static void unchanged(const char *what)
{
	ok(!memcmp(&saved->r, &m.r, sizeof(m.r)) && !memcmp(&saved->v, &m.v, sizeof(m.v)) &&
	       !memcmp(&saved->el1, &m.el1, sizeof(m.el1)) && m.nlog == 0 && m.syncs == 0 &&
	       m.aborts == 0 && !memcmp(saved->dev, m.dev, sizeof(m.dev)) &&
	       !memcmp(saved->ram, m.ram, sizeof(m.ram)),
	   "%s: nothing in the guest changed", what);
}

static void test_emulate(void)
{
	reset(LDR_X0_X1_POST8);
	put64(m.dev + 0x10, 0x1122334455667788ull);
	is_int(emulate(nisv(DEV_BASE + 0x10, 0)), 0, "ldr x0, [x1], #8 on arm_nisv: emulated (%s)",
	       why);
	is_hex(m.r.x[0], 0x1122334455667788ull, "x0 has the device's value");
	is_hex(m.r.x[1], DEV_BASE + 0x18, "x1 written back (+8)");
	is_hex(m.r.pc, CODE + 4, "PC += 4");
	ok(m.nlog == 1 && m.log[0].ipa == DEV_BASE + 0x10 && m.log[0].size == 8 && !m.log[0].write,
	   "one 8-byte device read at the fault IPA");

	reset(STP_PRE);
	m.r.x[2] = 0xaaaa;
	m.r.x[3] = 0xbbbb;
	is_int(emulate(nisv(DEV_BASE + 0x28, 1)), 0, "stp x2, x3, [x1, #16]!: emulated (%s)", why);
	ok(get64(m.dev + 0x20) == 0xaaaa && get64(m.dev + 0x28) == 0xbbbb && m.nlog == 2,
	   "both registers in the device, two writes");
	is_hex(m.r.x[1], DEV_BASE + 0x20, "pre-index writes the base back");

	reset(LDR_Q0_X1);
	memset(m.dev + 0x10, 0x5a, 16);
	is_int(emulate(nisv(DEV_BASE + 0x10, 0)), 0, "ldr q0, [x1]: emulated (%s)", why);
	ok(m.v.v[0][0] == 0x5a && m.v.v[0][15] == 0x5a && m.set_vregs == 1,
	   "V0 holds the 16 device bytes");

	/* an mmio exit on arm64, emulated anyway: checked against its phys_addr */
	reset(LDR_X0_X1);
	put64(m.dev + 0x10, 7);
	is_int(emulate(mmio(DEV_BASE + 0x10, 0, XG_ARCH_ARM64)), 0,
	       "an arm64 mmio exit can be emulated too (%s)", why);
	is_hex(m.r.x[0], 7, "its load done");

	/* the guest's own stage-1 tables: VA 0x200010 is the device's IPA 0x09000010 */
	reset(LDR_X0_X1);
	mmu_on();
	m.r.x[1] = 0x200010;
	put64(m.dev + 0x10, 0xcafe);
	is_int(emulate(nisv(DEV_BASE + 0x10, 0)), 0, "MMU on, VA != IPA: emulated (%s)", why);
	ok(m.r.x[0] == 0xcafe && m.log[0].ipa == DEV_BASE + 0x10,
	   "the walk found the device page; the value loaded");

	/* DC ZVA x1 (ARM ARM C5.3.2): the block holding x1 zeroed, whatever part of it the
	 * fault IPA names (the cross-check used a size of 0 and refused it) */
	reset(0xd50b7421u); /* dc zva, x1 */
	memset(m.dev, 0xee, 0x100);
	m.r.x[1] = DEV_BASE + 0x48;
	is_int(emulate(nisv(DEV_BASE + 0x70, 1)), 0, "dc zva, x1 on arm_nisv: emulated (%s)", why);
	{
		static const uint8_t z[64];
		ok(!memcmp(m.dev + 0x40, z, 64) && m.dev[0x3f] == 0xee && m.dev[0x80] == 0xee,
		   "the 64-byte block at 0x40 is zero, its neighbours untouched");
	}
	is_hex(m.r.pc, CODE + 4, "PC += 4");
}

static void test_refusals(void)
{
	saved = malloc(sizeof(*saved));
	if (!saved)
		bail("out of memory");

	/* the IPA mismatch: the instruction at PC accesses DEV+0x10, KVM said DEV+0x800 */
	reset(LDR_X0_X1);
	save();
	is_int(emulate(nisv(DEV_BASE + 0x800, 0)), -1, "fault IPA not among the accesses: refused");
	like(why, "not one of the accesses", "with the reason: %s", why);
	like(why, "changed its code or its translation tables", "which says what happened");
	unchanged("IPA mismatch");

	/* ... at MMU on, the VA maps elsewhere than the exit's IPA */
	reset(LDR_X0_X1);
	mmu_on();
	m.r.x[1] = 0x200010;
	save();
	is_int(emulate(nisv(DEV_BASE + 0x1010, 0)), -1, "MMU on, another IPA: refused");
	unchanged("MMU on, IPA mismatch");

	/* the exit is a write, the instruction at PC a load */
	reset(LDR_X0_X1);
	save();
	is_int(emulate(nisv(DEV_BASE + 0x10, 1)), -1, "WnR says write, PC holds a load: refused");
	like(why, "the exit is a write (WnR 1) and the instruction now at PC is a load", "%s", why);
	unchanged("WnR mismatch");

	/* the instruction faults now (its VA is unmapped): the CPU did not, so the tables
	 * changed since the exit; nothing is injected */
	reset(LDR_X0_X1);
	mmu_on();
	m.r.x[1] = 0x202010; /* L3[2]: invalid */
	save();
	is_int(emulate(nisv(DEV_BASE + 0x10, 0)), -1, "a translation fault now: refused");
	like(why, "raises an exception (ESR 0x96000007", "names the exception: %s", why);
	unchanged("translation fault now");

	/* a prefetch makes no access (and never exits) */
	reset(PRFM_X1);
	save();
	is_int(emulate(nisv(DEV_BASE + 0x10, 0)), -1, "prfm at PC: refused");
	like(why, "accesses no memory", "%s", why);
	unchanged("prfm");

	/* an exclusive to a device: not handled, with the emulator's reason */
	reset(LDXR_X0_X1);
	save();
	is_int(emulate(nisv(DEV_BASE + 0x10, 0)), -1, "ldxr on a device: refused");
	like(why, "not handled", "not handled: %s", why);
	unchanged("ldxr");

	/* a word outside the load/store space */
	reset(NOP);
	save();
	is_int(emulate(nisv(DEV_BASE + 0x10, 0)), -1, "nop at PC: refused");
	unchanged("nop");

	/* PC outside RAM */
	reset(LDR_X0_X1);
	m.r.pc = NOTHING;
	save();
	is_int(emulate(nisv(DEV_BASE + 0x10, 0)), -1, "PC not in RAM: refused");
	like(why, "not in guest RAM", "the reason names it: %s", why);
	unchanged("PC not in RAM");

	/* the x86 exit, a non-abort arm64 exit */
	reset(LDR_X0_X1);
	save();
	is_int(emulate(mmio(DEV_BASE + 0x10, 0, XG_ARCH_X86_64)), -1, "an x86 exit: refused");
	like(why, "arm64 guests", "names the arch: %s", why);
	unchanged("x86 exit");

	/* missing ops */
	{
		struct xg_vcpu_ops o = a64_ops;
		o.inject_arm64_sync = NULL;
		is_int(xg_emulate_arm64(&o, NULL, nisv(DEV_BASE + 0x10, 0), &res, why, sizeof(why)),
		       -1, "no inject_arm64_sync: refused");
		like(why, "inject_arm64_sync", "says which op: %s", why);
		o = a64_ops;
		o.get_arm64_vregs = NULL;
		o.set_arm64_vregs = NULL;
		reset(LDR_Q0_X1);
		save();
		is_int(xg_emulate_arm64(&o, NULL, nisv(DEV_BASE + 0x10, 0), &res, why, sizeof(why)),
		       -1, "ldr q0 without the vregs ops: refused");
		like(why, "get/set_arm64_vregs", "says why: %s", why);
		unchanged("ldr q0 without vregs");
	}
}

static void test_nothing_there(void)
{
	/* neither RAM nor a device: a synchronous External abort into the guest */
	reset(LDR_X0_X1);
	m.r.x[1] = NOTHING + 8;
	is_int(emulate(nisv(NOTHING + 8, 0)), 0, "a load from nothing: taken as an exception");
	is_int(res.status, XG_EMU_ARM64_EXCEPTION, "status exception");
	is_hex(m.el1.esr, 0x25u << 26 | 1u << 25 | 0x10, "ESR_EL1: EC 0x25, IL, DFSC 0x10");
	is_hex(m.el1.far, NOTHING + 8, "FAR_EL1 = the VA");
	is_hex(m.el1.elr, CODE, "ELR_EL1 = the load");
	is_hex(m.r.pc, VBAR + 0x200, "PC = VBAR_EL1 + 0x200 (current EL, SPx)");
	is_hex(m.r.x[0], 0x1111111100000000ull, "x0 untouched");

	reset(STR_X2_X1);
	mmu_on();
	m.r.pstate = PSTATE_EL0T;
	/* VA 0x201000 -> nothing, writable at EL0 (AP = 01) */
	put64(m.ram + 0x12008, NOTHING | D_PAGE | D_AF | 1ull << 6);
	m.r.x[1] = 0x201000;
	is_int(emulate(nisv(NOTHING, 1)), 0, "a store from EL0 to nothing: taken");
	is_hex(m.el1.esr, 0x24u << 26 | 1u << 25 | 1u << 6 | 0x10,
	       "ESR_EL1: EC 0x24 (lower EL), IL, WnR, DFSC 0x10");
	is_hex(m.el1.far, 0x201000, "FAR_EL1 = the VA, not the IPA");
	is_hex(m.r.pc, VBAR + 0x400, "PC = VBAR_EL1 + 0x400 (lower EL)");
}

static void test_supports(void)
{
	reset(LDR_X0_X1_POST8);
	save();
	ok(xg_emulate_arm64_supports(&a64_ops, NULL, nisv(DEV_BASE + 0x10, 0), why, sizeof(why)),
	   "supports: ldr post-index");
	unchanged("supports (true)");
	reset(LDXR_X0_X1);
	ok(!xg_emulate_arm64_supports(&a64_ops, NULL, nisv(DEV_BASE + 0x10, 0), why, sizeof(why)),
	   "supports: not ldxr");
	like(why, "not handled: ", "with the emulator's reason: %s", why);
	reset(LDR_X0_X1);
	save();
	ok(!xg_emulate_arm64_supports(&a64_ops, NULL, nisv(DEV_BASE + 0x900, 0), why, sizeof(why)),
	   "supports: not when the IPA does not match");
	unchanged("supports (false)");
	reset(LDR_X0_X1);
	m.r.x[1] = NOTHING;
	ok(xg_emulate_arm64_supports(&a64_ops, NULL, nisv(NOTHING, 0), why, sizeof(why)),
	   "supports: an access to nothing is taken (as an external abort)");
	ok(!xg_emulate_arm64_supports(&a64_ops, NULL, mmio(DEV_BASE, 0, XG_ARCH_X86_64), why,
				      sizeof(why)),
	   "supports: not an x86 exit (%s)", why);
}

/* ---- verdicts through xg_handle_exit ------------------------------------------------ */

/* The handler picks its verdict by x9 (the guest's "mode" register in these tests). */
static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local by_mode = {\n"
    "  [1] = xg.emulate,\n"
    "  [2] = function(e)\n"
    "    local ok, why = xg.emulator.supports(e)\n"
    "    if ok then return xg.emulate() end\n"
    "    xg.log('not supported: ' .. why)\n"
    "    return xg.dump { xg.external_abort(), note = why }\n"
    "  end,\n"
    "  [3] = function() return xg.inject 'data_abort' end,\n"
    "  [4] = function() return xg.inject('data_abort', {fsc = 0x07, far = 0x1234, wnr = true}) "
    "end,\n"
    "  [5] = function() return xg.inject 'undefined' end,\n"
    "  [6] = function() return xg.inject 'UD' end,\n"
    "  [7] = xg.external_abort,\n"
    "  [8] = xg.skip,\n"
    "  [9] = function() return xg.suspend 'look' end,\n"
    "  [10] = function() return xg.inject('data_abort', {fsc = 0x40}) end,\n"
    "  [11] = function() return xg.inject('undefined', {far = 1}) end,\n"
    "  [12] = function() return xg.inject('data_abort', {wnr = 1}) end,\n"
    "  [13] = function() error('boom') end,\n"
    "  [14] = function() return xg.inject('UD', {fsc = 0x10}) end,\n"
    "  [15] = function(e) return xg.stop(tostring(e.disasm)) end,\n"
    "  [16] = xg.resume,\n"
    "  [17] = function() return xg.stop 'enough' end,\n"
    "  [18] = function() return xg.msr(0) end,\n"
    "}\n"
    "return xg.policy {\n"
    "  arm_nisv = function(e, vcpu) return by_mode[vcpu:reg('x9')](e) end,\n"
    "  mmio = function(e) return xg.inject 'data_abort' end,\n"
    "}\n";

static xg_vcpu *a64v;

static struct xg_result handle(unsigned mode, uint64_t ipa, int write)
{
	m.r.x[9] = mode;
	nisv_run(ipa, write);
	return xg_handle_exit(a64v, rn.b, sizeof(rn.b), 0);
}

static void test_verdicts(void)
{
	struct xg_error err;
	xg_engine *e = engine_with(policy, "    on_error: suspend\n", &err);
	struct xg_result r;
	struct fake f = {0};
	xg_vcpu *x86;

	if (!ok(e != NULL, "engine with an arm64 policy"))
		bail("%s", err.msg);
	a64v = xg_vcpu_attach(e, "g", 0, &a64_ops, NULL, &err);
	if (!ok(a64v != NULL, "an arm64 vCPU attaches"))
		bail("%s", err.msg);

	/* emulate */
	reset(LDR_X0_X1_POST8);
	put64(m.dev + 0x10, 0x77);
	r = handle(1, DEV_BASE + 0x10, 0);
	ok(r.next == XG_NEXT_RUN && r.verdict == XG_VERDICT_EMULATE && r.fail == XG_FAIL_NONE,
	   "emulate on arm_nisv: applied (%s)", xg_vcpu_last_error(a64v));
	ok(m.r.x[0] == 0x77 && m.r.x[1] == DEV_BASE + 0x18 && m.r.pc == CODE + 4,
	   "the emulator ran: x0 loaded, x1 written back, PC += 4");

	/* emulate refused: the fault IPA is not the instruction's; on_error applies */
	reset(LDR_X0_X1);
	m.r.x[9] = 1;
	save();
	r = handle(1, DEV_BASE + 0x400, 0);
	ok(r.fail == XG_FAIL_ACTION && r.next == XG_NEXT_PAUSE, "a refused emulate is on_error's");
	like(xg_vcpu_last_error(a64v), "not one of the accesses", "with the reason: %s",
	     xg_vcpu_last_error(a64v));
	m.paused = 0;
	unchanged("refused emulate");

	/* xg.emulator.supports(e): true and false (with the reason as a second value) */
	reset(STR_X2_X1);
	m.r.x[2] = 0x99;
	r = handle(2, DEV_BASE + 0x10, 1);
	ok(r.verdict == XG_VERDICT_EMULATE && get64(m.dev + 0x10) == 0x99,
	   "supports(e) true for str: emulated, the device written");
	reset(LDXR_X0_X1);
	r = handle(2, DEV_BASE + 0x10, 0);
	ok(r.verdict == XG_VERDICT_EXTERNAL_ABORT && m.aborts == 1 && r.dumped,
	   "supports(e) false for ldxr: the policy's external abort (and dump)");
	like(last_log, "external_abort: not handled: exclusive",
	     "the reason reached the policy (its dump note): %s", last_log);

	/* inject data_abort: ESR/FAR/ELR/PC as the CPU takes it */
	reset(LDR_X0_X1);
	mmu_on();
	m.r.x[1] = 0x200010;
	r = handle(3, DEV_BASE + 0x10, 0);
	ok(r.verdict == XG_VERDICT_INJECT && r.fail == XG_FAIL_NONE,
	   "inject 'data_abort': applied (%s)", xg_vcpu_last_error(a64v));
	is_hex(m.el1.esr, 0x25u << 26 | 1u << 25 | 0x10,
	       "ESR_EL1: EC 0x25 (current EL), IL, ISV 0, WnR 0, DFSC 0x10");
	is_hex(m.el1.far, 0x200010, "FAR_EL1: the VA of the access, found through the tables");
	is_hex(m.el1.elr, CODE, "ELR_EL1: the instruction");
	is_hex(m.el1.spsr, PSTATE_EL1H, "SPSR_EL1: the PSTATE before");
	is_hex(m.r.pc, VBAR + 0x200, "PC: VBAR_EL1 + 0x200");
	is_hex(m.r.x[0], 0x1111111100000000ull, "x0 untouched");

	reset(STR_X2_X1);
	m.r.pstate = PSTATE_EL0T;
	r = handle(3, DEV_BASE + 0x10, 1);
	is_hex(m.el1.esr, 0x24u << 26 | 1u << 25 | 1u << 6 | 0x10,
	       "from EL0, a store: EC 0x24, WnR 1 (from the exit)");
	is_hex(m.r.pc, VBAR + 0x400, "PC: VBAR_EL1 + 0x400 (lower EL)");

	reset(LDR_X0_X1);
	r = handle(4, DEV_BASE + 0x10, 0);
	is_hex(m.el1.esr, 0x25u << 26 | 1u << 25 | 1u << 6 | 0x07,
	       "data_abort {fsc = 0x07, wnr = true}: DFSC and WnR the policy's");
	is_hex(m.el1.far, 0x1234, "far = 0x1234: FAR_EL1 the policy's");

	/* FAR cannot be found: the instruction is no longer a load/store */
	reset(NOP);
	m.r.x[9] = 3;
	save();
	r = handle(3, DEV_BASE + 0x10, 0);
	ok(r.fail == XG_FAIL_ACTION, "inject 'data_abort' when PC holds no load/store: refused");
	like(xg_vcpu_last_error(a64v), "far = ", "tells the policy to give far: %s",
	     xg_vcpu_last_error(a64v));
	m.paused = 0;
	unchanged("data_abort without FAR");

	/* undefined */
	reset(LDR_X0_X1);
	r = handle(5, DEV_BASE + 0x10, 0);
	ok(r.verdict == XG_VERDICT_INJECT && m.syncs == 1, "inject 'undefined': applied");
	is_hex(m.el1.esr, 1u << 25, "ESR_EL1: EC 0 (unknown reason), IL");
	ok(m.el1.elr == CODE && m.r.pc == VBAR + 0x200, "ELR_EL1 the instruction, PC the vector");

	/* x86 forms on arm64 */
	reset(LDR_X0_X1);
	m.r.x[9] = 6;
	save();
	r = handle(6, DEV_BASE + 0x10, 0);
	ok(r.fail == XG_FAIL_ACTION, "inject 'UD' on an arm64 exit: refused");
	like(xg_vcpu_last_error(a64v), "x86 exception and this exit is from an arm64 vCPU",
	     "names the arch: %s", xg_vcpu_last_error(a64v));
	like(xg_vcpu_last_error(a64v), "\"undefined\"", "and what to use there");
	m.paused = 0;
	unchanged("inject UD on arm64");

	/* external_abort, skip, suspend */
	reset(LDR_X0_X1);
	r = handle(7, DEV_BASE + 0x10, 0);
	ok(r.verdict == XG_VERDICT_EXTERNAL_ABORT && m.aborts == 1, "external_abort: the VMM's op");
	reset(LDR_X0_X1);
	r = handle(8, DEV_BASE + 0x10, 0);
	ok(r.verdict == XG_VERDICT_SKIP && m.r.pc == CODE + 4 && m.r.x[0] == 0x1111111100000000ull,
	   "skip: PC += 4, nothing else");
	reset(LDR_X0_X1);
	r = handle(9, DEV_BASE + 0x10, 0);
	ok(r.next == XG_NEXT_PAUSE && m.paused == 1, "suspend");

	/* e.disasm: the A64 instruction at PC, through the guest's tables */
	reset(LDP_X0_X3_X1);
	mmu_on();
	m.r.x[1] = 0x200010;
	r = handle(15, DEV_BASE + 0x10, 0);
	is_str(r.reason, "ldp x0, x3, [x1]", "e.disasm on arm_nisv: the instruction at PC");
	reset(LDR_X0_X1);
	m.r.pc = NOTHING;
	r = handle(15, DEV_BASE + 0x10, 0);
	is_str(r.reason, "nil", "e.disasm is nil when PC is not readable");

	/* resume, stop; msr is for x86 MSR exits */
	reset(LDR_X0_X1);
	m.r.x[9] = 16;
	save();
	r = handle(16, DEV_BASE + 0x10, 0);
	ok(r.verdict == XG_VERDICT_RESUME && r.next == XG_NEXT_RUN, "resume");
	unchanged("resume");
	r = handle(17, DEV_BASE + 0x10, 0);
	ok(r.next == XG_NEXT_STOP && !strcmp(r.reason, "enough"), "stop, with its reason");
	r = handle(18, DEV_BASE + 0x10, 0);
	ok(r.fail == XG_FAIL_ACTION, "msr on arm_nisv: refused");
	like(xg_vcpu_last_error(a64v), "x86_rdmsr/x86_wrmsr", "%s", xg_vcpu_last_error(a64v));
	m.paused = 0;

	/* an arm64 mmio exit: the policy's data abort gets the access's VA too */
	reset(STR_X2_X1);
	mmu_on();
	m.r.x[1] = 0x200018;
	run_mmio(&rn, DEV_BASE + 0x18, 8, 1);
	r = xg_handle_exit(a64v, rn.b, sizeof(rn.b), 0);
	ok(r.verdict == XG_VERDICT_INJECT && m.el1.far == 0x200018 &&
	       m.el1.esr == (0x25u << 26 | 1u << 25 | 1u << 6 | 0x10),
	   "inject 'data_abort' on an arm64 mmio exit: FAR the VA, WnR from is_write");

	/* malformed arm64 verdicts */
	reset(LDR_X0_X1);
	save();
	r = handle(10, DEV_BASE + 0x10, 0);
	ok(r.fail == XG_FAIL_BAD_VERDICT, "fsc 0x40: a bad verdict");
	like(xg_vcpu_last_error(a64v), "fsc 0x40 is not a data fault status code", "%s",
	     xg_vcpu_last_error(a64v));
	r = handle(11, DEV_BASE + 0x10, 0);
	like(xg_vcpu_last_error(a64v), "'undefined' takes no 'far'", "%s",
	     xg_vcpu_last_error(a64v));
	r = handle(12, DEV_BASE + 0x10, 0);
	like(xg_vcpu_last_error(a64v), "'wnr' is true", "%s", xg_vcpu_last_error(a64v));
	r = handle(14, DEV_BASE + 0x10, 0);
	like(xg_vcpu_last_error(a64v), "'fsc' belongs to arm64's data_abort", "%s",
	     xg_vcpu_last_error(a64v));
	m.paused = 0;
	m.r.x[9] = saved->r.x[9];
	unchanged("malformed verdicts");

	/* skip with a VMM that gives the arm64 register ops but no get_reg/set_reg */
	{
		xg_engine *e2 = engine_with("local xg = require 'exitgate'\n"
					    "return xg.policy { arm_nisv = xg.skip }\n",
					    NULL, &err);
		struct xg_vcpu_ops o = a64_ops;
		xg_vcpu *w;
		o.get_reg = NULL;
		o.set_reg = NULL;
		w = e2 ? xg_vcpu_attach(e2, "g", 0, &o, NULL, &err) : NULL;
		if (!w)
			bail("%s", err.msg);
		reset(LDR_X0_X1);
		nisv_run(DEV_BASE + 0x10, 0);
		r = xg_handle_exit(w, rn.b, sizeof(rn.b), 0);
		ok(r.verdict == XG_VERDICT_SKIP && r.fail == XG_FAIL_NONE && m.r.pc == CODE + 4,
		   "skip through set_arm64_regs when the VMM has no get_reg/set_reg (%s)",
		   xg_vcpu_last_error(w));
		xg_vcpu_detach(w);
		xg_engine_free(e2);
		put_file("p.lua", policy); /* the file the first engine reloads from */
	}

	/* arm64 forms on an x86 exit */
	x86 = xg_vcpu_attach(e, "g", 1, &fake_ops, &f, &err);
	if (!ok(x86 != NULL, "an x86 vCPU attaches"))
		bail("%s", err.msg);
	{
		struct run xr;
		run_mmio(&xr, 0xfee00000, 4, 0);
		r = xg_handle_exit(x86, xr.b, sizeof(xr.b), 0);
	}
	ok(r.fail == XG_FAIL_ACTION && f.injected == 0,
	   "inject 'data_abort' on an x86 exit: refused");
	like(xg_vcpu_last_error(x86),
	     "'data_abort' is an arm64 exception and this exit is from an x86_64 vCPU",
	     "names the arch: %s", xg_vcpu_last_error(x86));
	xg_vcpu_detach(x86);
	xg_vcpu_detach(a64v);
	xg_engine_free(e);

	/* on_error can name an arm64 exception too */
	e = engine_with(policy, "    on_error: inject data_abort\n", &err);
	if (!ok(e != NULL, "on_error: inject data_abort is accepted"))
		bail("%s", err.msg);
	a64v = xg_vcpu_attach(e, "g", 0, &a64_ops, NULL, &err);
	reset(LDR_X0_X1);
	r = handle(13, DEV_BASE + 0x10, 0);
	ok(r.fail == XG_FAIL_ERROR && r.verdict == XG_VERDICT_INJECT &&
	       m.el1.esr == (0x25u << 26 | 1u << 25 | 0x10) && m.el1.far == DEV_BASE + 0x10,
	   "a policy error: on_error's data abort taken (ESR 0x%llx)",
	   (unsigned long long)m.el1.esr);
	xg_vcpu_detach(a64v);
	xg_engine_free(e);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 1 << 16);

	if (!f || !text)
		bail("cannot read %s", path);
	if (fread(text, 1, (1 << 16) - 1, f) == 0)
		bail("%s is empty", path);
	fclose(f);
	return text;
}

/* The dump the last log line names: the A64 instruction at PC disassembled, X0-X30, SP, PC,
 * PSTATE, the EL1 registers, the code around PC. */
static void check_dump(const char *what, const char *insn, int before)
{
	const char *at = strstr(last_log, ": /");
	char want[128], *d;

	if (!ok(at != NULL, "%s: the log names the dump", what))
		return;
	d = slurp(at + 2);
	snprintf(want, sizeof(want), "\"disasm\": \"%s\"", insn);
	like(d, want, "%s: the dump's insn is the A64 instruction at PC, disassembled", what);
	like(d, "\"x30\": \"0x111111110000001e\"", "%s: X0-X30 in the registers", what);
	ok(strstr(d, "\"pc\": ") && strstr(d, "\"sp\": ") && strstr(d, "\"pstate\": \"0x3c5\"") &&
	       strstr(d, "\"mode\": \"el1h\""),
	   "%s: PC, SP, PSTATE (EL1h)", what);
	ok(strstr(d, "\"sctlr_el1\"") && strstr(d, "\"ttbr0_el1\"") &&
	       strstr(d, "\"vbar_el1\": \"0x40008000\"") && strstr(d, "\"elr_el1\""),
	   "%s: the EL1 registers", what);
	snprintf(want, sizeof(want), ": %s\"", insn);
	like(d, want, "%s: the code around PC, disassembled", what);
	like(d, "\"code\": {", "%s: a code section", what);
	ok(!strstr(d, "\"disasm_before\": [") == !before,
	   "%s: the instructions before PC %s (RAM before it on the page)", what,
	   before ? "disassembled too" : "not read: another page, the device's");
	ok(!strstr(d, "\"error\": \""), "%s: nothing unreadable", what);
	free(d);
}

/* policies/default.lua on arm64: emulate what the emulator supports, else an external abort
 * and a dump */
static void test_default_policy(void)
{
	char path[512], extra[600], *text;
	const char *src = getenv("XG_SOURCE");
	struct xg_error err;
	struct xg_result r;
	xg_engine *e;

	snprintf(path, sizeof(path), "%s/policies/default.lua", src ? src : ".");
	text = slurp(path);
	snprintf(extra, sizeof(extra), "    dump_dir: %s/dumps\n", tdir());
	e = engine_with(text, extra, &err);
	free(text);
	if (!ok(e != NULL, "the default policy loads"))
		bail("%s", err.msg);
	a64v = xg_vcpu_attach(e, "g", 0, &a64_ops, NULL, &err);
	if (!a64v)
		bail("%s", err.msg);

	reset(LDP_X0_X3_X1);
	put64(m.dev + 0x10, 1);
	put64(m.dev + 0x18, 2);
	nisv_run(DEV_BASE + 0x18, 0);
	r = xg_handle_exit(a64v, rn.b, sizeof(rn.b), 0);
	ok(r.verdict == XG_VERDICT_EMULATE && r.fail == XG_FAIL_NONE && !r.dumped,
	   "default policy, ldp on arm_nisv: emulated (%s)", xg_vcpu_last_error(a64v));
	ok(m.r.x[0] == 1 && m.r.x[3] == 2 && m.r.pc == CODE + 4, "x0, x3 loaded; PC += 4");

	reset(LDXR_X0_X1);
	nisv_run(DEV_BASE + 0x10, 0);
	log_lines = 0;
	r = xg_handle_exit(a64v, rn.b, sizeof(rn.b), 0);
	ok(r.verdict == XG_VERDICT_EXTERNAL_ABORT && m.aborts == 1 && r.dumped,
	   "default policy, ldxr: external abort and a dump");
	like(last_log, "/dumps/g-", "the dump was written: %s", last_log);
	check_dump("MMU off", "ldxr x0, [x1]", 1);

	/* the same through the guest's own tables, the code at a VA that is not its IPA: VA
	 * 0x200000 + 0x800 is the device's page, so PC goes into RAM at VA 0x1000 mapped to
	 * CODE by a page of its own */
	reset(LDXR_X0_X1);
	mmu_on();
	put64(m.ram + 0x12008, CODE | D_PAGE | D_AF); /* VA 0x201000 -> CODE */
	m.r.pc = 0x201000;
	m.r.x[1] = 0x200010;
	nisv_run(DEV_BASE + 0x10, 0);
	r = xg_handle_exit(a64v, rn.b, sizeof(rn.b), 0);
	ok(r.verdict == XG_VERDICT_EXTERNAL_ABORT && r.dumped, "MMU on: external abort and a dump");
	check_dump("MMU on", "ldxr x0, [x1]", 0);
	xg_vcpu_detach(a64v);
	xg_engine_free(e);
}

/* exitgate check on arm64 policies: the stand-in vCPU carries arm64 verdicts out */
static int check(const char *path, char *out, size_t n)
{
	FILE *f = fmemopen(out, n, "w");
	int errors;

	out[0] = 0;
	errors = xg_policy_check(path, f);
	fclose(f);
	return errors;
}

static void test_check(void)
{
	static char out[8192];
	const char *p;

	p = put_file("a64.lua",
		     "local xg = require 'exitgate'\n"
		     "local n = 0\n"
		     "return xg.policy {\n"
		     "  arm_nisv = function(e)\n"
		     "    n = n + 1\n"
		     "    if n % 4 == 0 then return xg.inject 'undefined' end\n"
		     "    if n % 4 == 1 then return xg.inject('data_abort', {fsc = 0x10}) end\n"
		     "    if n % 4 == 2 then return xg.external_abort() end\n"
		     "    local ok, why = xg.emulator.supports(e)\n"
		     "    return ok and xg.emulate() or xg.dump { xg.skip(), note = why }\n"
		     "  end,\n"
		     "}\n");
	is_int(check(p, out, sizeof(out)), 0,
	       "check: an arm64 policy with every arm64 verdict is good");
	is_str(out, "", "and says nothing");
	p = put_file("a64.yaml", "guests:\n  g:\n    policy: a64.lua\n"
				 "    vm:\n      payload: /bin/true\n");
	is_int(check(p, out, sizeof(out)), 0,
	       "... also for a guest exitgate runs (emulate on arm_nisv is the A64 emulator's)");
	is_str(out, "", "and says nothing (vm: section)");

	p = put_file("a64bad.lua", "local xg = require 'exitgate'\n"
				   "return xg.policy {\n"
				   "  arm_nisv = function(e)\n"
				   "    return xg.inject 'UD'\n"
				   "  end,\n"
				   "  mmio = function(e) return xg.inject 'data_abort' end,\n"
				   "}\n");
	is_int(check(p, out, sizeof(out)), 2, "check: x86 forms on arm64 and back are errors");
	like(out, "a64bad.lua:4: handler 'arm_nisv'", "at the line of the return");
	like(out, "is an x86 exception and this exit is from an arm64 vCPU", "naming the arch");
	like(out, "'data_abort' is an arm64 exception and this exit is from an x86_64 vCPU",
	     "both ways");
}

/* A policy error on an arm64 exit under the default on_error (x86's "inject UD"): the
 * guest gets an external abort, not a failed vCPU; an on_error the guest wrote stays its. */
static void test_default_on_error(void)
{
	struct xg_error err;
	xg_engine *e = engine_with("local xg = require 'exitgate'\n"
				   "return xg.policy { arm_nisv = function() error('boom') end }\n",
				   NULL, &err);
	struct xg_result r;

	if (!e)
		bail("%s", err.msg);
	a64v = xg_vcpu_attach(e, "g", 0, &a64_ops, NULL, &err);
	if (!a64v)
		bail("%s", err.msg);
	reset(LDR_X0_X1);
	r = handle(1, DEV_BASE + 0x10, 0);
	ok(r.fail == XG_FAIL_ERROR && r.verdict == XG_VERDICT_EXTERNAL_ABORT &&
	       r.next == XG_NEXT_RUN && m.aborts == 1,
	   "default on_error on arm64: an external abort (%s)", xg_vcpu_last_error(a64v));
	xg_vcpu_detach(a64v);
	xg_engine_free(e);

	e = engine_with("local xg = require 'exitgate'\n"
			"return xg.policy { arm_nisv = function() error('boom') end }\n",
			"    on_error: suspend\n", &err);
	a64v = e ? xg_vcpu_attach(e, "g", 0, &a64_ops, NULL, &err) : NULL;
	if (!a64v)
		bail("%s", err.msg);
	reset(LDR_X0_X1);
	r = handle(1, DEV_BASE + 0x10, 0);
	ok(r.verdict == XG_VERDICT_SUSPEND && m.aborts == 0,
	   "an on_error the guest wrote is taken as written (suspend)");
	xg_vcpu_detach(a64v);
	xg_engine_free(e);
}

int main(void)
{
	test_emulate();
	test_refusals();
	test_nothing_there();
	test_supports();
	test_verdicts();
	test_default_policy();
	test_check();
	test_default_on_error();
	free(saved);
	cleanup_dir();
	return done_testing();
}
