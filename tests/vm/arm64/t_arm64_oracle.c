/*
 * t_arm64_oracle.c - the differential oracle of the A64 load/store emulator on real arm64 KVM
 * (runs inside the arm64 lane's VM: Debian's arm64 kernel in qemu TCG at EL2).
 *
 * Two VMs run the same guest: a loop stub that loads X0-X30, SP and V0-V31 from a state
 * block, executes one patched instruction word, stores them back and rings a doorbell (an
 * MMIO store: KVM_EXIT_MMIO), then starts over. The guest runs at EL1 with its own stage-1
 * tables (identity, 4 KiB granule, Normal memory), so unaligned and page-crossing accesses
 * are legal, and the emulator's own table walk and instruction fetch are exercised. The data
 * window at DATA_GPA is
 *   - VM "ram": a memslot. The CPU (qemu's, under KVM) performs the access itself;
 *   - VM "mmio": no memslot. The access leaves KVM:
 *       KVM_EXIT_ARM_NISV (ISV = 0: writeback, pairs, SIMD&FP, structures, atomics ...;
 *       api.rst 5 "KVM_EXIT_ARM_NISV", KVM_CAP_ARM_NISV_TO_USER): xg_emu_arm64_emulate()
 *       finishes the instruction with ops over KVM_GET/SET_ONE_REG, the VM's RAM (the table
 *       walk, the fetch at PC) and a device that is a plain buffer holding what the RAM VM's
 *       window held;
 *       KVM_EXIT_MMIO (ISV = 1: a single general register without writeback, where KVM
 *       decodes from the syndrome and completes the access itself): the emulator runs as a
 *       dry run (its register results and device writes captured, not applied), KVM's own
 *       completion is served from the same buffer, and the emulator's prediction must equal
 *       what KVM made of it. So these forms are checked three ways: CPU, KVM, emulator.
 * After each case, X0-X30, SP, V0-V31, the data window and the fault the guest took (if
 * any) must be the same in both VMs; the emulator must have advanced PC by 4.
 *
 * Cases are generated from a seed over every class the emulator performs (the categories and
 * their counts are printed), with random registers and memory. A load with writeback and
 * Rn = Rt, or a load pair with Rt = Rt2, leaves a register UNKNOWN (ARM ARM K1.2.7,
 * CONSTRAINED UNPREDICTABLE): that register is not compared (how often the emulator's
 * documented choice agreed with the CPU's is printed). Stores with Rn = Rt are compared.
 * DC ZVA is one of the categories: its block size is this CPU's DCZID_EL0.BS, which the
 * guest reads too. PRFM (no access), the exclusives (not handled) and CAS with should-be-one
 * bits clear are not generated.
 *
 * Environment (set on the kernel command line, which passes NAME=VALUE to /init and on to the
 * tests): XG_ORACLE_CASES (default 4000), XG_ORACLE_SEED (default fixed, printed),
 * XG_ORACLE_SECONDS (a time budget, default 240: below /init's 300 s per test, the run stops
 * there, says so and judges the cases it ran; tests/vm/arm64/lane.sh raises /init's limit
 * with it).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "tap.h"
#include "xg_emu_arm64.h"

/* Guest physical (and, identity-mapped, virtual) layout. CODE is within 1 MiB of DATA so
 * that LDR (literal) can reach the window. */
#define CODE_GPA   0x3fff0000ull
#define CODE_SIZE  0x10000ull
#define VBAR_OFF   0x800u	 /* the vectors (2 KiB aligned) */
#define STATE_OFF  0x2000u	 /* struct state */
#define TABLE_OFF  0x4000u	 /* the level-1 translation table */
#define DATA_GPA   0x40000000ull /* the data window: RAM in one VM, MMIO in the other */
#define DATA_SIZE  0x4000u
#define DOOR_GPA   0x50000000ull /* doorbell: + 0 the case ran, + 8 the guest took a fault */
#define STATE_ADDR "0x3fff2000"

/* The stub's state block in guest RAM. */
struct state {
	uint64_t x[31];
	uint64_t sp;
	uint8_t v[32][16];	/* offset 256 */
	uint64_t esr, far, elr; /* offset 768: the fault handler's report */
};

/*
 * The guest (A64, EL1, copied to CODE_GPA). The entry starts with a NOP: a vCPU sent back to
 * the entry after an ISV = 1 exit that was not completed still gets KVM's PC += 4 for it,
 * which then skips the NOP only. ic iallu: the slot is patched between cases.
 */
#define LDQ(a, b, o) "	ldp q" #a ", q" #b ", [x1, #" #o "]\n"
#define STQ(a, b, o) "	stp q" #a ", q" #b ", [x1, #" #o "]\n"
#define LDX(a, b, o) "	ldp x" #a ", x" #b ", [x0, #" #o "]\n"
#define STX(a, b, o) "	stp x" #a ", x" #b ", [x0, #" #o "]\n"
#define STATE_X0     "	movz x0, #0x3fff, lsl #16\n	movk x0, #0x2000\n"
#define VEC	     "	b xg_or_fault\n	.balign 128\n"
extern const uint8_t xg_or_start[], xg_or_slot[], xg_or_vectors[], xg_or_end[];
/* clang-format off */
__asm__(".pushsection .rodata\n"
	".balign 4096\n"
	".globl xg_or_start, xg_or_slot, xg_or_vectors, xg_or_end\n"
	"xg_or_start:\n"
	"	nop\n"
	"	ic iallu\n"
	"	dsb ish\n"
	"	isb\n"
	STATE_X0
	"	add x1, x0, #256\n"
	LDQ(0, 1, 0) LDQ(2, 3, 32) LDQ(4, 5, 64) LDQ(6, 7, 96)
	LDQ(8, 9, 128) LDQ(10, 11, 160) LDQ(12, 13, 192) LDQ(14, 15, 224)
	LDQ(16, 17, 256) LDQ(18, 19, 288) LDQ(20, 21, 320) LDQ(22, 23, 352)
	LDQ(24, 25, 384) LDQ(26, 27, 416) LDQ(28, 29, 448) LDQ(30, 31, 480)
	"	ldr x2, [x0, #248]\n"
	"	mov sp, x2\n"
	LDX(2, 3, 16) LDX(4, 5, 32) LDX(6, 7, 48) LDX(8, 9, 64)
	LDX(10, 11, 80) LDX(12, 13, 96) LDX(14, 15, 112) LDX(16, 17, 128)
	LDX(18, 19, 144) LDX(20, 21, 160) LDX(22, 23, 176) LDX(24, 25, 192)
	LDX(26, 27, 208) LDX(28, 29, 224)
	"	ldr x30, [x0, #240]\n"
	"	ldp x0, x1, [x0]\n"
	"xg_or_slot:\n"
	"	nop\n"
	"	msr tpidr_el1, x0\n"
	"	msr tpidr_el0, x1\n"
	STATE_X0
	STX(2, 3, 16) STX(4, 5, 32) STX(6, 7, 48) STX(8, 9, 64)
	STX(10, 11, 80) STX(12, 13, 96) STX(14, 15, 112) STX(16, 17, 128)
	STX(18, 19, 144) STX(20, 21, 160) STX(22, 23, 176) STX(24, 25, 192)
	STX(26, 27, 208) STX(28, 29, 224)
	"	str x30, [x0, #240]\n"
	"	mrs x1, tpidr_el1\n"
	"	str x1, [x0]\n"
	"	mrs x1, tpidr_el0\n"
	"	str x1, [x0, #8]\n"
	"	mov x1, sp\n"
	"	str x1, [x0, #248]\n"
	"	add x1, x0, #256\n"
	STQ(0, 1, 0) STQ(2, 3, 32) STQ(4, 5, 64) STQ(6, 7, 96)
	STQ(8, 9, 128) STQ(10, 11, 160) STQ(12, 13, 192) STQ(14, 15, 224)
	STQ(16, 17, 256) STQ(18, 19, 288) STQ(20, 21, 320) STQ(22, 23, 352)
	STQ(24, 25, 384) STQ(26, 27, 416) STQ(28, 29, 448) STQ(30, 31, 480)
	"	movz x1, #0x5000, lsl #16\n"
	"	str xzr, [x1]\n"
	"	b xg_or_start\n"
	".balign 2048\n"
	"xg_or_vectors:\n"
	VEC VEC VEC VEC VEC VEC VEC VEC
	VEC VEC VEC VEC VEC VEC VEC VEC
	"xg_or_fault:\n"
	STATE_X0
	"	mrs x1, esr_el1\n"
	"	str x1, [x0, #768]\n"
	"	mrs x1, far_el1\n"
	"	str x1, [x0, #776]\n"
	"	mrs x1, elr_el1\n"
	"	str x1, [x0, #784]\n"
	"	movz x1, #0x5000, lsl #16\n"
	"	str xzr, [x1, #8]\n"
	"	b xg_or_start\n"
	"xg_or_end:\n"
	".popsection\n");
/* clang-format on */

/* Offsets in the guest blob (as integers: pointers into different objects do not subtract). */
#define GUEST_OFF(sym) ((size_t)((uintptr_t)(sym) - (uintptr_t)xg_or_start))
#define SLOT_GPA       (CODE_GPA + GUEST_OFF(xg_or_slot))
#define ENTRY_GPA      CODE_GPA

/* KVM register ids (api.rst 4.68 KVM_SET_ONE_REG, "ARM64 registers"). */
#define CORE_REG(field)                                                                            \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                     \
	 (offsetof(struct kvm_regs, field) / sizeof(uint32_t)))
#define VREG(i)                                                                                    \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U128 | KVM_REG_ARM_CORE |                                    \
	 (offsetof(struct kvm_regs, fp_regs.vregs[i]) / sizeof(uint32_t)))
#define SCTLR_EL1 ARM64_SYS_REG(3, 0, 1, 0, 0)
#define CPACR_EL1 ARM64_SYS_REG(3, 0, 1, 0, 2)
#define TTBR0_EL1 ARM64_SYS_REG(3, 0, 2, 0, 0)
#define TTBR1_EL1 ARM64_SYS_REG(3, 0, 2, 0, 1)
#define TCR_EL1	  ARM64_SYS_REG(3, 0, 2, 0, 2)
#define MAIR_EL1  ARM64_SYS_REG(3, 0, 10, 2, 0)
#define VBAR_EL1  ARM64_SYS_REG(3, 0, 12, 0, 0)

struct vm {
	const char *name;
	int fd, vcpu;
	struct kvm_run *run;
	uint8_t *code; /* CODE_GPA, CODE_SIZE */
	uint8_t *data; /* DATA_GPA, DATA_SIZE: the memslot (ram) or the device buffer (mmio) */
};

static int kvm;

static int set_reg(int vcpu, uint64_t id, const void *v)
{
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)v};

	return ioctl(vcpu, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int get_reg(int vcpu, uint64_t id, void *v)
{
	struct kvm_one_reg r = {.id = id, .addr = (uintptr_t)v};

	return ioctl(vcpu, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int set_reg64(int vcpu, uint64_t id, uint64_t v)
{
	return set_reg(vcpu, id, &v);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* KVM_RUN with a time limit: a guest that loops makes it fail with EINTR after 20 s. */
static int run_vcpu(struct vm *vm)
{
	int rc;

	alarm(20);
	rc = ioctl(vm->vcpu, KVM_RUN, 0) < 0 ? -errno : 0;
	alarm(0);
	return rc;
}

/*
 * The guest's stage-1 translation (ARM ARM D8.2, VMSAv8-64): TTBR0_EL1 -> one level-1 table
 * (4 KiB granule, T0SZ = 25: a 39-bit VA starts at level 1), two 1 GiB identity blocks:
 * [0, 1 GiB) the code, EL1 only (AP = 00), [1 GiB, 2 GiB) the data window and the doorbell,
 * read/write at EL0 and EL1 (AP = 01, so that LDTR/STTR work), never executable (PXN, UXN).
 * MAIR_EL1 attribute 0 = Normal, write-back: unaligned accesses are legal there.
 */
#define DESC_BLOCK (1ull | 1ull << 10 /* AF */ | 3ull << 8 /* inner shareable */)
#define TCR_VALUE                                                                                  \
	(25ull | 1ull << 8 | 1ull << 10 | 3ull << 12 /* T0SZ, IRGN0, ORGN0, SH0, TG0 = 4K */ |     \
	 1ull << 23 /* EPD1 */ | 2ull << 32 /* IPS 40 bits */)

static int vm_create(struct vm *vm, const char *name, int data_slot)
{
	struct kvm_userspace_memory_region mr;
	struct kvm_vcpu_init init = {0};
	struct kvm_enable_cap cap = {0};
	uint64_t *l1, sctlr;
	int mmap_size;

	vm->name = name;
	vm->fd = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	vm->code =
	    mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	vm->data =
	    mmap(NULL, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->code == MAP_FAILED || vm->data == MAP_FAILED)
		return -ENOMEM;
	memcpy(vm->code, xg_or_start, GUEST_OFF(xg_or_end));
	l1 = (uint64_t *)(vm->code + TABLE_OFF);
	l1[0] = 0x00000000ull | DESC_BLOCK | 1ull << 54;	     /* UXN */
	l1[1] = 0x40000000ull | DESC_BLOCK | 1ull << 6 | 3ull << 53; /* AP = 01, PXN, UXN */
	mr = (struct kvm_userspace_memory_region){.slot = 0,
						  .guest_phys_addr = CODE_GPA,
						  .memory_size = CODE_SIZE,
						  .userspace_addr = (uintptr_t)vm->code};
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		return -errno;
	if (data_slot) {
		mr = (struct kvm_userspace_memory_region){.slot = 1,
							  .guest_phys_addr = DATA_GPA,
							  .memory_size = DATA_SIZE,
							  .userspace_addr = (uintptr_t)vm->data};
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
			return -errno;
	}
	cap.cap = KVM_CAP_ARM_NISV_TO_USER;
	if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
		return -errno;
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0 || ioctl(vm->fd, KVM_ARM_PREFERRED_TARGET, &init) < 0 ||
	    ioctl(vm->vcpu, KVM_ARM_VCPU_INIT, &init) < 0)
		return -errno;
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu, 0);
	if (mmap_size <= 0 || vm->run == MAP_FAILED)
		return -ENOMEM;
	/* SCTLR_EL1 (D17.2.118): M (stage 1 on), C, I, SPAN (PAN left alone on exception entry);
	 * A (alignment checks), WXN, EE, E0E clear; SA (SP alignment) as reset, set. */
	if (get_reg(vm->vcpu, SCTLR_EL1, &sctlr) < 0)
		return -errno;
	sctlr = (sctlr | 1ull << 0 | 1ull << 2 | 1ull << 12 | 1ull << 23 | 1ull << 3) &
		~(1ull << 1 | 1ull << 19 | 1ull << 24 | 1ull << 25);
	if (set_reg64(vm->vcpu, MAIR_EL1, 0xff) || set_reg64(vm->vcpu, TCR_EL1, TCR_VALUE) ||
	    set_reg64(vm->vcpu, TTBR0_EL1, CODE_GPA + TABLE_OFF) ||
	    set_reg64(vm->vcpu, CPACR_EL1, 3ull << 20 /* FPEN: SIMD&FP at EL0/EL1 */) ||
	    set_reg64(vm->vcpu, VBAR_EL1, CODE_GPA + VBAR_OFF) ||
	    set_reg64(vm->vcpu, SCTLR_EL1, sctlr) ||
	    set_reg64(vm->vcpu, CORE_REG(regs.pc), ENTRY_GPA))
		return -errno;
	return 0;
}

static uint64_t sctlr_in_use; /* as the VMs run: the host-side pre-check uses it too */

/* ---- the emulator's ops on the MMIO VM: ONE_REG, its RAM, the device buffer ---------------- */

struct bops {
	struct vm *vm;
	uint8_t *dev;	 /* the device: reads, and writes unless dry */
	uint8_t *shadow; /* dry: where the writes go */
	int dry;
	int set_regs, set_vregs, injected, outside;
	struct xg_emu_arm64_exception exc;
	struct xg_emu_arm64_regs in, out;
	struct xg_emu_arm64_vregs vin, vout;
};

static uint64_t sp_id(uint64_t pstate)
{
	return pstate & 1 ? CORE_REG(sp_el1) : CORE_REG(regs.sp); /* PSTATE.SP: SP_ELx or SP_EL0 */
}

static int b_get_regs(void *o, struct xg_emu_arm64_regs *r)
{
	struct bops *b = o;
	int vcpu = b->vm->vcpu, i, rc = 0;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 31 && !rc; i++)
		rc = get_reg(vcpu, CORE_REG(regs.regs[i]), &r->x[i]);
	if (rc || (rc = get_reg(vcpu, CORE_REG(regs.pc), &r->pc)) ||
	    (rc = get_reg(vcpu, CORE_REG(regs.pstate), &r->pstate)) ||
	    (rc = get_reg(vcpu, sp_id(r->pstate), &r->sp)) ||
	    (rc = get_reg(vcpu, SCTLR_EL1, &r->sctlr_el1)) ||
	    (rc = get_reg(vcpu, TCR_EL1, &r->tcr_el1)) ||
	    (rc = get_reg(vcpu, TTBR0_EL1, &r->ttbr0_el1)) ||
	    (rc = get_reg(vcpu, TTBR1_EL1, &r->ttbr1_el1)))
		return rc;
	b->in = *r;
	return 0;
}

/* Writes back what changed (a dry run only keeps it). */
static int b_set_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	struct bops *b = o;
	int vcpu = b->vm->vcpu, i, rc = 0;

	b->out = *r;
	b->set_regs++;
	if (b->dry)
		return 0;
	for (i = 0; i < 31 && !rc; i++)
		if (r->x[i] != b->in.x[i])
			rc = set_reg(vcpu, CORE_REG(regs.regs[i]), &r->x[i]);
	if (!rc && r->sp != b->in.sp)
		rc = set_reg(vcpu, sp_id(r->pstate), &r->sp);
	if (!rc)
		rc = set_reg(vcpu, CORE_REG(regs.pc), &r->pc);
	return rc;
}

static int b_get_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	struct bops *b = o;
	int i, rc;

	for (i = 0; i < 32; i++)
		if ((rc = get_reg(b->vm->vcpu, VREG(i), v->v[i])))
			return rc;
	b->vin = *v;
	return 0;
}

static int b_set_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	struct bops *b = o;
	int i, rc;

	b->vout = *v;
	b->set_vregs++;
	if (b->dry)
		return 0;
	for (i = 0; i < 32; i++)
		if (memcmp(v->v[i], b->vin.v[i], 16) &&
		    (rc = set_reg(b->vm->vcpu, VREG(i), v->v[i])))
			return rc;
	return 0;
}

/* The IPA space as the emulator sees it: the VM's RAM (table walks, the fetch) and the
 * device window; anything else is a host error (the case then fails). */
static uint8_t *b_map(struct bops *b, uint64_t ipa, unsigned size, int write)
{
	if (ipa >= DATA_GPA && ipa + size <= DATA_GPA + DATA_SIZE)
		return (write && b->dry ? b->shadow : b->dev) + (ipa - DATA_GPA);
	if (!write && ipa >= CODE_GPA && ipa + size <= CODE_GPA + CODE_SIZE)
		return b->vm->code + (ipa - CODE_GPA);
	b->outside = 1;
	return NULL;
}

static int b_read(void *o, uint64_t ipa, void *buf, unsigned size, enum xg_emu_arm64_access kind)
{
	uint8_t *p = b_map(o, ipa, size, 0);

	(void)kind;
	if (!p)
		return -EFAULT;
	memcpy(buf, p, size);
	return 0;
}

static int b_write(void *o, uint64_t ipa, const void *buf, unsigned size)
{
	uint8_t *p = b_map(o, ipa, size, 1);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, size);
	return 0;
}

static int b_inject(void *o, const struct xg_emu_arm64_exception *e)
{
	struct bops *b = o;

	b->injected++;
	b->exc = *e;
	return 0;
}

/* DCZID_EL0 as the guest reads it: KVM leaves the register to the CPU (no HCR_EL2.TDZ), so
 * its block size is this CPU's own; DZP here is EL0's view (SCTLR_EL1.DZE of this kernel),
 * not the guest's, and is dropped. */
static uint64_t dczid_el0;

static int get_dczid(void *o, uint64_t *v)
{
	(void)o;
	*v = dczid_el0;
	return 0;
}

static const struct xg_emu_arm64_ops kvm_ops = {
    .get_regs = b_get_regs,
    .set_regs = b_set_regs,
    .get_vregs = b_get_vregs,
    .set_vregs = b_set_vregs,
    .read = b_read,
    .write = b_write,
    .inject = b_inject,
    .get_dczid = get_dczid,
};

/* ---- the host-side pre-check: does the case stay in the window and not fault? -------------- */

struct pre {
	const struct state *s;
	uint8_t mem[DATA_SIZE];
	int outside;
};

static int p_get_regs(void *o, struct xg_emu_arm64_regs *r)
{
	const struct pre *p = o;

	memset(r, 0, sizeof(*r));
	memcpy(r->x, p->s->x, sizeof(r->x));
	r->sp = p->s->sp;
	r->pc = SLOT_GPA;
	r->pstate = 0x3c5; /* EL1h, DAIF masked: KVM's reset state, kept */
	r->sctlr_el1 = sctlr_in_use;
	return 0;
}

static int p_set_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	(void)o;
	(void)r;
	return 0;
}

static int p_get_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	memcpy(v->v, ((struct pre *)o)->s->v, sizeof(v->v));
	return 0;
}

static int p_set_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	(void)o;
	(void)v;
	return 0;
}

static int p_translate(void *o, uint64_t va, enum xg_emu_arm64_access kind, unsigned el,
		       uint64_t *ipa, uint8_t *fsc)
{
	(void)o;
	(void)kind;
	(void)el;
	(void)fsc;
	*ipa = va; /* identity, as the guest's tables */
	return 0;
}

static uint8_t *p_map(struct pre *p, uint64_t ipa, unsigned size)
{
	if (ipa >= DATA_GPA && ipa + size <= DATA_GPA + DATA_SIZE)
		return p->mem + (ipa - DATA_GPA);
	p->outside = 1;
	return NULL;
}

static int p_read(void *o, uint64_t ipa, void *buf, unsigned size, enum xg_emu_arm64_access kind)
{
	uint8_t *m = p_map(o, ipa, size);

	(void)kind;
	if (!m)
		return -EFAULT;
	memcpy(buf, m, size);
	return 0;
}

static int p_write(void *o, uint64_t ipa, const void *buf, unsigned size)
{
	uint8_t *m = p_map(o, ipa, size);

	if (!m)
		return -EFAULT;
	memcpy(m, buf, size);
	return 0;
}

static int p_inject(void *o, const struct xg_emu_arm64_exception *e)
{
	(void)o;
	(void)e;
	return 0;
}

static const struct xg_emu_arm64_ops pre_ops = {
    .get_regs = p_get_regs,
    .set_regs = p_set_regs,
    .get_vregs = p_get_vregs,
    .set_vregs = p_set_vregs,
    .translate = p_translate,
    .read = p_read,
    .write = p_write,
    .inject = p_inject,
    .get_dczid = get_dczid,
};

/* ---- case generation ------------------------------------------------------------------------ */

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Rows of the load/store encoding table (C4.1.66) to draw words from, in turn. */
static const struct {
	uint32_t mask, value;
} draws[] = {
    {0x3b000000, 0x39000000}, /* unsigned offset */
    {0x3b200c00, 0x38000000}, /* unscaled */
    {0x3b200c00, 0x38000400}, /* post-index */
    {0x3b200c00, 0x38000800}, /* unprivileged */
    {0x3b200c00, 0x38000c00}, /* pre-index */
    {0x3b200c00, 0x38200800}, /* register offset */
    {0x3b000000, 0x18000000}, /* literal */
    {0x3a000000, 0x28000000}, /* pairs */
    {0x3a000000, 0x28000000}, /* pairs (twice: four index modes, GPR and FP) */
    {0x3f000000, 0x08000000}, /* ordered, CAS, CASP */
    {0x3b200c00, 0x38200000}, /* LSE atomics, LDAPR */
    {0xbe000000, 0x0c000000}, /* SIMD structures */
    {0xbe000000, 0x0c000000}, /* (twice: multiple, single, replicate) */
    {0xffffffe0, 0xd50b7420}, /* DC ZVA, Xt */
};

enum cat {
	K_UIMM,
	K_UNSCALED,
	K_PRE,
	K_POST,
	K_REGOFF,
	K_UNPRIV,
	K_LITERAL,
	K_PAIR,
	K_PAIR_WB,
	K_LDPSW,
	K_FP,
	K_FP_PAIR,
	K_ORDERED,
	K_ATOMIC,
	K_CAS,
	K_MULTI,
	K_SINGLE,
	K_REPL,
	K_DCZVA,
	K_NCAT
};
static const char *const cat_names[K_NCAT] = {
    "LDR/STR unsigned offset",
    "LDUR/STUR",
    "pre-index",
    "post-index",
    "register offset",
    "LDTR/STTR",
    "LDR literal",
    "LDP/STP/LDNP/STNP offset",
    "LDP/STP pre/post",
    "LDPSW",
    "SIMD&FP single",
    "SIMD&FP pair",
    "acquire/release",
    "LSE atomic and SWP",
    "CAS/CASP",
    "LD1-4/ST1-4 multiple",
    "LD1-4/ST1-4 single",
    "LD1R-LD4R",
    "DC ZVA",
};

static enum cat category(const struct xg_emu_arm64_insn *in)
{
	int wb = in->index == XG_EMU_ARM64_PRE || in->index == XG_EMU_ARM64_POST;

	switch (in->cls) {
	case XG_EMU_ARM64_C_DCZVA:
		return K_DCZVA;
	case XG_EMU_ARM64_C_ATOMIC:
		return in->aop >= XG_EMU_ARM64_AOP_CAS ? K_CAS : K_ATOMIC;
	case XG_EMU_ARM64_C_STRUCT:
		return in->replicate ? K_REPL : in->single ? K_SINGLE : K_MULTI;
	case XG_EMU_ARM64_C_PAIR:
		return in->fp ? K_FP_PAIR : in->sign ? K_LDPSW : wb ? K_PAIR_WB : K_PAIR;
	default:
		break;
	}
	if (in->acqrel)
		return K_ORDERED;
	if (in->fp)
		return K_FP;
	if (in->unpriv)
		return K_UNPRIV;
	switch (in->index) {
	case XG_EMU_ARM64_PRE:
		return K_PRE;
	case XG_EMU_ARM64_POST:
		return K_POST;
	case XG_EMU_ARM64_REGOFF:
		return K_REGOFF;
	case XG_EMU_ARM64_LITERAL:
		return K_LITERAL;
	default:
		return in->name[2] == 'u' ? K_UNSCALED : K_UIMM; /* ldur/stur vs ldr/str */
	}
}

/* The register a CONSTRAINED UNPREDICTABLE encoding leaves UNKNOWN (K1.2.7), or -1. */
static int unknown_reg(const struct xg_emu_arm64_insn *in)
{
	int wb = in->index == XG_EMU_ARM64_PRE || in->index == XG_EMU_ARM64_POST;
	int pair = in->cls == XG_EMU_ARM64_C_PAIR;

	if (in->fp || !in->load || in->cls == XG_EMU_ARM64_C_ATOMIC)
		return -1;
	if (wb && in->rn != 31 && (in->rn == in->rt || (pair && in->rn == in->rt2)))
		return in->rn;
	if (pair && in->rt == in->rt2 && in->rt != 31)
		return in->rt;
	return -1;
}

struct casedata {
	uint32_t word;
	struct xg_emu_arm64_insn in;
	struct state s;
	uint8_t mem[DATA_SIZE];
};

static void fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i += 8) {
		uint64_t v = next();
		memcpy(p + i, &v, 8);
	}
}

/* One case: a word the emulator performs, registers pointing into the middle of the window. */
static int make_case(struct casedata *c, unsigned turn, struct pre *pre)
{
	struct xg_emu_arm64_insn *in = &c->in;
	struct xg_emu_arm64_result res;
	unsigned d = turn % (sizeof(draws) / sizeof(draws[0])), i;
	uint64_t addr;
	uint32_t w;

	w = ((uint32_t)next() & ~draws[d].mask) | draws[d].value;
	if (draws[d].value == 0x08000000)
		w |= 0x1fu << 10; /* Rt2 of CAS/LDAR: should be one */
	if (draws[d].value == 0x39000000)
		w &= ~(0xfc0u << 10); /* a small unsigned offset stays in the window */
	if (draws[d].value == 0x18000000) {
		/* the literal lands in the window: imm19 = (target - PC) / 4 */
		uint64_t target = DATA_GPA + 0x1800 + (next() & 0xffc);
		w = (w & ~(0x7ffffu << 5)) | (uint32_t)(((target - SLOT_GPA) >> 2) & 0x7ffff) << 5;
	}
	if (xg_emu_arm64_decode(w, in, NULL, NULL) != XG_EMU_ARM64_OK ||
	    in->cls == XG_EMU_ARM64_C_PREFETCH)
		return 0;
	/* CAS/CASP with the should-be-one Rt2 field clear: CONSTRAINED UNPREDICTABLE */
	if (in->cls == XG_EMU_ARM64_C_ATOMIC && (w & 0x3f000000) == 0x08000000 && in->rt2 != 31)
		return 0;
	c->word = w;
	for (i = 0; i < 31; i++)
		c->s.x[i] = next();
	fill(&c->s.v[0][0], sizeof(c->s.v));
	fill(c->mem, DATA_SIZE);
	addr = DATA_GPA + 0x1800 + (next() & 0xfff);
	if (in->cls == XG_EMU_ARM64_C_ATOMIC || in->acqrel)
		addr &= ~15ull; /* naturally aligned, or an alignment fault */
	if (in->rn == 31)
		addr &= ~15ull; /* SCTLR_EL1.SA: SP as a base is 16-byte aligned */
	c->s.sp =
	    in->rn == 31 && in->cls != XG_EMU_ARM64_C_DCZVA ? addr : DATA_GPA + (next() & 0xfff0);
	if (in->cls == XG_EMU_ARM64_C_DCZVA) {
		if (in->rt != 31)
			c->s.x[in->rt] = addr; /* Xt is the address; XZR (0) leaves the window */
	} else if (in->rn != 31) {
		c->s.x[in->rn] = addr;
	}
	if (in->index == XG_EMU_ARM64_REGOFF && in->rm != in->rn && in->rm != 31)
		/* the extend reads 32 or 64 bits: random high half, small signed low part */
		c->s.x[in->rm] =
		    (next() & 0xffffffff00000000ull) | (uint32_t)((int32_t)(next() & 127) - 64);
	if (in->cls == XG_EMU_ARM64_C_STRUCT && in->index == XG_EMU_ARM64_POST && in->rm != 31 &&
	    in->rm != in->rn)
		c->s.x[in->rm] = (next() & 255) - 128;
	if (in->cls == XG_EMU_ARM64_C_ATOMIC && in->aop >= XG_EMU_ARM64_AOP_CAS && (next() & 1) &&
	    in->rn != 31) {
		/* half of the compares succeed: Rs (and Rs+1) = the memory */
		uint64_t v0 = 0, v1 = 0;
		unsigned sz = in->size, off = (unsigned)(addr - DATA_GPA);

		memcpy(&v0, c->mem + off, sz);
		memcpy(&v1, c->mem + off + sz, sz);
		if (in->rs != 31)
			c->s.x[in->rs] = v0;
		if (in->aop == XG_EMU_ARM64_AOP_CASP && in->rs + 1 < 31)
			c->s.x[in->rs + 1] = v1;
	}
	/* Pre-check on the host: in the window, no fault (those are not the emulator's: a CPU
	 * faults at stage 1 before KVM sees anything). */
	pre->s = &c->s;
	memcpy(pre->mem, c->mem, DATA_SIZE);
	pre->outside = 0;
	if (xg_emu_arm64_emulate(&pre_ops, pre, &c->word, &res) != XG_EMU_ARM64_OK)
		return 0;
	return 1;
}

/* ---- running a case ------------------------------------------------------------------------- */

enum outcome { O_RAN, O_FAULT, O_BROKEN };

struct result {
	enum outcome o;
	struct state s;
	char why[160];
	int exit_kind;	    /* mmio VM: 0 no exit, 1 NISV, 2 MMIO (ISV = 1) */
	const uint8_t *mem; /* the data window as the emulator left it */
	struct state kvm;   /* ISV = 1: the state after KVM's own completion */
};

static int doorbell(const struct kvm_run *run, uint64_t off)
{
	return run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
	       run->mmio.phys_addr == DOOR_GPA + off;
}

static void describe_exit(const struct vm *vm, int rc, char *buf, size_t n)
{
	const struct kvm_run *run = vm->run;
	uint64_t pc = 0;

	get_reg(vm->vcpu, CORE_REG(regs.pc), &pc);
	if (rc)
		snprintf(buf, n, "%s VM: KVM_RUN failed: %s (PC %#llx)", vm->name, strerror(-rc),
			 (unsigned long long)pc);
	else if (run->exit_reason == KVM_EXIT_MMIO)
		snprintf(buf, n, "%s VM: MMIO %s of %u at %#llx (PC %#llx)", vm->name,
			 run->mmio.is_write ? "write" : "read", run->mmio.len,
			 (unsigned long long)run->mmio.phys_addr, (unsigned long long)pc);
	else if (run->exit_reason == KVM_EXIT_ARM_NISV)
		snprintf(buf, n, "%s VM: NISV at %#llx, ISS %#llx (PC %#llx)", vm->name,
			 (unsigned long long)run->arm_nisv.fault_ipa,
			 (unsigned long long)run->arm_nisv.esr_iss, (unsigned long long)pc);
	else
		snprintf(buf, n, "%s VM: exit reason %u (PC %#llx)", vm->name, run->exit_reason,
			 (unsigned long long)pc);
}

/* After the doorbell: the state or the fault the guest reported. */
static void collect(struct vm *vm, struct result *r)
{
	memcpy(&r->s, vm->code + STATE_OFF, sizeof(r->s));
	r->o = doorbell(vm->run, 0) ? O_RAN : O_FAULT;
}

/* Something unexpected: say it, and send the vCPU back to the entry (see the NOP there). */
static void broken(struct vm *vm, struct result *r, int rc)
{
	describe_exit(vm, rc, r->why, sizeof(r->why));
	r->o = O_BROKEN;
	set_reg64(vm->vcpu, CORE_REG(regs.pc), ENTRY_GPA);
}

static void load_case(struct vm *vm, const struct casedata *c)
{
	memcpy(vm->code + STATE_OFF, &c->s, sizeof(c->s));
	memcpy(vm->code + (SLOT_GPA - CODE_GPA), &c->word, 4);
	memcpy(vm->data, c->mem, DATA_SIZE);
}

static void run_ram(struct vm *vm, const struct casedata *c, struct result *r)
{
	int rc;

	load_case(vm, c);
	rc = run_vcpu(vm);
	if (rc == 0 && (doorbell(vm->run, 0) || doorbell(vm->run, 8)))
		collect(vm, r);
	else
		broken(vm, r, rc);
}

static uint8_t shadow[DATA_SIZE];

static void run_mmio(struct vm *vm, const struct casedata *c, struct result *r)
{
	struct xg_emu_arm64_result res;
	struct bops b = {.vm = vm, .dev = vm->data, .shadow = shadow};
	struct kvm_run *run = vm->run;
	uint64_t off;
	int rc;

	load_case(vm, c);
	r->exit_kind = 0;
	r->mem = vm->data;
	rc = run_vcpu(vm);
	if (rc == 0 && (doorbell(run, 0) || doorbell(run, 8))) {
		collect(vm,
			r); /* no exit: the CPU faulted at stage 1 (or never touched the window) */
		return;
	}
	if (rc == 0 && run->exit_reason == KVM_EXIT_ARM_NISV) {
		r->exit_kind = 1;
		if (run->arm_nisv.fault_ipa < DATA_GPA ||
		    run->arm_nisv.fault_ipa >= DATA_GPA + DATA_SIZE) {
			broken(vm, r, 0);
			return;
		}
		xg_emu_arm64_emulate(&kvm_ops, &b, NULL, &res);
	} else if (rc == 0 && run->exit_reason == KVM_EXIT_MMIO &&
		   run->mmio.phys_addr >= DATA_GPA &&
		   run->mmio.phys_addr + run->mmio.len <= DATA_GPA + DATA_SIZE) {
		/* ISV = 1: the emulator predicts, KVM completes from the same device */
		r->exit_kind = 2;
		b.dry = 1;
		memcpy(shadow, vm->data, DATA_SIZE);
		xg_emu_arm64_emulate(&kvm_ops, &b, NULL, &res);
		off = run->mmio.phys_addr - DATA_GPA;
		if (run->mmio.is_write)
			memcpy(vm->data + off, run->mmio.data, run->mmio.len);
		else
			memcpy(run->mmio.data, vm->data + off, run->mmio.len);
	} else {
		broken(vm, r, rc);
		return;
	}
	if (res.status != XG_EMU_ARM64_OK) {
		snprintf(r->why, sizeof(r->why), "the emulator: %s (%s)",
			 xg_emu_arm64_status_name(res.status), res.reason);
		if (b.injected)
			snprintf(r->why + strlen(r->why), sizeof(r->why) - strlen(r->why),
				 " esr %#x far %#llx", b.exc.esr, (unsigned long long)b.exc.far);
		r->o = O_BROKEN;
		/* nothing was applied (or KVM still completes an ISV = 1 load: harmless) */
		set_reg64(vm->vcpu, CORE_REG(regs.pc), ENTRY_GPA);
		return;
	}
	if (b.out.pc != SLOT_GPA + 4) {
		snprintf(r->why, sizeof(r->why), "the emulator left PC at %#llx, not %#llx",
			 (unsigned long long)b.out.pc, (unsigned long long)SLOT_GPA + 4);
		r->o = O_BROKEN;
		set_reg64(vm->vcpu, CORE_REG(regs.pc), ENTRY_GPA);
		return;
	}
	rc = run_vcpu(vm);
	if (rc || !doorbell(run, 0)) {
		broken(vm, r, rc);
		return;
	}
	collect(vm, r);
	if (b.dry) {
		/* The oracle compares the emulator's prediction (registers and the device it
		 * would have written); what KVM made of the exit is kept beside it. */
		r->kvm = r->s;
		memcpy(r->s.x, b.out.x, sizeof(r->s.x));
		r->s.sp = b.out.sp;
		if (b.set_vregs)
			memcpy(r->s.v, b.vout.v, sizeof(r->s.v));
		r->mem = shadow;
	}
}

/* ---- comparing --------------------------------------------------------------------------------
 */

static void show_case(const struct casedata *c, unsigned long n, uint64_t seed)
{
	const struct xg_emu_arm64_insn *in = &c->in;
	unsigned i;

	diag("case %lu (seed %#llx): word %08x %s (%s), rt %u rt2 %u rn %u rm %u rs %u, size %u%s",
	     n, (unsigned long long)seed, c->word, in->name, cat_names[category(in)], in->rt,
	     in->rt2, in->rn, in->rm, in->rs, in->size, in->sign ? " signed" : "");
	for (i = 0; i < 31; i++)
		if (i == in->rt || i == in->rt2 || i == in->rn || i == in->rm || i == in->rs ||
		    (in->aop == XG_EMU_ARM64_AOP_CASP && (i == in->rs + 1u || i == in->rt + 1u)))
			diag("  before: x%u = %016llx", i, (unsigned long long)c->s.x[i]);
	diag("  before: sp = %016llx", (unsigned long long)c->s.sp);
}

/* 0 when the two VMs ended the same (what differs is said when `verbose`). */
#define say(...)                                                                                   \
	do {                                                                                       \
		if (verbose)                                                                       \
			diag(__VA_ARGS__);                                                         \
	} while (0)
static int compare(const struct casedata *c, const struct result *ram, const struct result *mmio,
		   const struct state *ms, const uint8_t *ram_mem, int unk, int verbose,
		   const char *who)
{
	const uint8_t *dev = mmio->mem;

	int bad = 0;
	unsigned i;

	if (ram->o != mmio->o) {
		say("  ram VM: %s; mmio VM: %s",
		    ram->o == O_RAN	? "ran"
		    : ram->o == O_FAULT ? "faulted"
					: ram->why,
		    mmio->o == O_RAN	 ? "ran"
		    : mmio->o == O_FAULT ? "faulted"
					 : mmio->why);
		if (ram->o == O_FAULT || mmio->o == O_FAULT) {
			const struct result *f = ram->o == O_FAULT ? ram : mmio;
			say("  the fault: ESR %#llx FAR %#llx ELR %#llx",
			    (unsigned long long)f->s.esr, (unsigned long long)f->s.far,
			    (unsigned long long)f->s.elr);
		}
		return 1;
	}
	if (ram->o == O_BROKEN) {
		say("  ram VM: %s", ram->why);
		say("  mmio VM: %s", mmio->why);
		return 1;
	}
	if (ram->o == O_FAULT) {
		if ((ram->s.esr & 0xfc00003full) != (ms->esr & 0xfc00003full) ||
		    ram->s.far != ms->far) {
			say("  faults differ: ram ESR %#llx FAR %#llx, mmio ESR %#llx FAR %#llx",
			    (unsigned long long)ram->s.esr, (unsigned long long)ram->s.far,
			    (unsigned long long)ms->esr, (unsigned long long)ms->far);
			return 1;
		}
		return 0;
	}
	for (i = 0; i < 31; i++) {
		if ((int)i == unk || ram->s.x[i] == ms->x[i])
			continue;
		say("  x%u: cpu %016llx %s %016llx", i, (unsigned long long)ram->s.x[i], who,
		    (unsigned long long)ms->x[i]);
		bad = 1;
	}
	if (ram->s.sp != ms->sp) {
		say("  sp: cpu %016llx %s %016llx", (unsigned long long)ram->s.sp, who,
		    (unsigned long long)ms->sp);
		bad = 1;
	}
	for (i = 0; i < 32; i++) {
		uint64_t a[2], b[2];

		if (!memcmp(ram->s.v[i], ms->v[i], 16))
			continue;
		memcpy(a, ram->s.v[i], 16);
		memcpy(b, ms->v[i], 16);
		say("  v%u: cpu %016llx%016llx %s %016llx%016llx", i, (unsigned long long)a[1],
		    (unsigned long long)a[0], who, (unsigned long long)b[1],
		    (unsigned long long)b[0]);
		bad = 1;
	}
	for (i = 0; i < DATA_SIZE; i++) {
		if (ram_mem[i] == dev[i])
			continue;
		say("  memory at %#llx: cpu %02x %s %02x (before %02x)",
		    (unsigned long long)DATA_GPA + i, ram_mem[i], who, dev[i], c->mem[i]);
		if (bad++ > 16) {
			say("  ...");
			break;
		}
	}
	return bad;
}

#undef say

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	v = strtoul(s, &end, 0);
	if (*end) {
		diag("%s=%s is not a number: using %lu", name, s, def);
		return def;
	}
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	static struct casedata c;
	static struct pre pre;
	static struct result rr, mr;
	static uint8_t ram_mem[DATA_SIZE];
	unsigned long ncases = env_ul("XG_ORACLE_CASES", 4000), n, tries = 0, turn = 0;
	uint64_t seed = env_ul("XG_ORACLE_SEED", 0x5eed0a64), case_seed;
	double budget = (double)env_ul("XG_ORACLE_SECONDS", 240);
	int stopped = 0;
	long count[K_NCAT] = {0}, kinds[3] = {0}, faulted = 0, bad = 0, unk_cases = 0;
	long kvm_bad = 0, unk_agree = 0, sp_base = 0, xzr_rt = 0, rn_is_rt_store = 0, crossing = 0;
	struct vm ram, mmio;
	double t0;
	int rc, k, todo;

	if (GUEST_OFF(xg_or_vectors) != VBAR_OFF || GUEST_OFF(xg_or_end) > STATE_OFF)
		bail("the guest's layout: vectors at %#zx (want %#x), end at %#zx (max %#x)",
		     GUEST_OFF(xg_or_vectors), VBAR_OFF, GUEST_OFF(xg_or_end), STATE_OFF);
	sigaction(SIGALRM, &(struct sigaction){.sa_handler = on_alarm}, NULL);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		skip_all("/dev/kvm: %s", strerror(errno));
	if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_NISV_TO_USER) <= 0)
		skip_all("KVM_CAP_ARM_NISV_TO_USER is not available");
	rc = vm_create(&ram, "ram", 1);
	if (!ok(rc == 0, "the RAM VM (data window in a memslot): %s", rc ? strerror(-rc) : "ok"))
		return done_testing();
	rc = vm_create(&mmio, "mmio", 0);
	if (!ok(rc == 0, "the MMIO VM (no memslot at the window, NISV to user): %s",
		rc ? strerror(-rc) : "ok"))
		return done_testing();
	get_reg(ram.vcpu, SCTLR_EL1, &sctlr_in_use);
	__asm__ volatile("mrs %0, dczid_el0" : "=r"(dczid_el0));
	dczid_el0 &= 15;
	diag("DCZID_EL0.BS = %llu: DC ZVA zeroes %u bytes", (unsigned long long)dczid_el0,
	     4u << dczid_el0);
	diag("seed %#llx, %lu cases (XG_ORACLE_SEED, XG_ORACLE_CASES); SCTLR_EL1 %#llx",
	     (unsigned long long)seed, ncases, (unsigned long long)sctlr_in_use);
	rng = seed ? seed : 1;

	t0 = now();
	for (n = 0; n < ncases; n++) {
		int unk;

		if (!(n & 255) && now() - t0 > budget) {
			stopped = 1;
			diag("stopped at the time budget (XG_ORACLE_SECONDS=%.0f) after %lu of %lu "
			     "cases",
			     budget, n, ncases);
			break;
		}

		/* draw until a case fits (bounded: the draws all have performed words) */
		do {
			case_seed = rng;
			if (++tries > 1000 * (n + 100))
				bail("case %lu: no word of draw %lu fits after %lu tries", n,
				     turn % (sizeof(draws) / sizeof(draws[0])), tries);
		} while (!make_case(&c, turn, &pre));
		turn++;
		run_ram(&ram, &c, &rr);
		memcpy(ram_mem, ram.data, DATA_SIZE);
		run_mmio(&mmio, &c, &mr);
		unk = unknown_reg(&c.in);
		if (compare(&c, &rr, &mr, &mr.s, ram_mem, unk, 0, "")) {
			if (bad++ < 10) {
				show_case(&c, n, case_seed);
				compare(&c, &rr, &mr, &mr.s, ram_mem, unk, 1, "emulator");
			} else {
				diag("case %lu (seed %#llx): %08x %s differs", n,
				     (unsigned long long)case_seed, c.word, c.in.name);
			}
			if (bad > 50)
				break;
			continue;
		}
		if (mr.exit_kind == 2 && mr.o == O_RAN) {
			/* KVM's own ISV = 1 completion, against the CPU */
			struct result k = mr;

			k.mem = mmio.data;
			if (compare(&c, &rr, &k, &mr.kvm, ram_mem, unk, 0, "") && kvm_bad++ < 3) {
				diag("KVM's completion of an ISV = 1 exit differs from the CPU:");
				show_case(&c, n, case_seed);
				compare(&c, &rr, &k, &mr.kvm, ram_mem, unk, 1, "kvm");
			}
		}
		if (rr.o == O_FAULT) {
			if (faulted++ < 5)
				diag(
				    "case %lu: %08x %s faulted on the CPU in both VMs (ESR %#llx): "
				    "not the emulator's",
				    n, c.word, c.in.name, (unsigned long long)rr.s.esr);
			continue;
		}
		count[category(&c.in)]++;
		kinds[mr.exit_kind]++;
		if (unk >= 0) {
			unk_cases++;
			unk_agree += rr.s.x[unk] == mr.s.x[unk];
		}
		if (c.in.cls != XG_EMU_ARM64_C_DCZVA) {
			uint64_t a = c.in.rn == 31 ? c.s.sp : c.s.x[c.in.rn];

			sp_base += c.in.rn == 31;
			xzr_rt += c.in.rt == 31 && !c.in.fp;
			rn_is_rt_store +=
			    !c.in.load && !c.in.fp && c.in.rn == c.in.rt && c.in.rn != 31;
			crossing += (a & 0xfff) > 0xfc0 || (a & 0xfff) < 0x40;
		}
	}
	diag("%lu cases in %.1f s (%.2f ms each, two VMs), %lu words drawn", n, now() - t0,
	     n ? (now() - t0) * 1000 / n : 0.0, tries);
	for (k = 0; k < K_NCAT; k++)
		diag("  %-26s %ld", cat_names[k], count[k]);
	diag("exits in the MMIO VM: %ld NISV (emulated), %ld MMIO with ISV = 1 (KVM completed, "
	     "emulator dry run compared), %ld none",
	     kinds[1], kinds[2], kinds[0]);
	diag("SP as the base %ld, XZR as Rt %ld, stores with Rn = Rt %ld, bases near a page "
	     "boundary %ld; faulted on the CPU in both VMs (skipped) %ld",
	     sp_base, xzr_rt, rn_is_rt_store, crossing, faulted);
	diag(
	    "UNKNOWN register not compared in %ld cases (K1.2.7); the emulator's documented choice "
	    "matched the CPU's in %ld",
	    unk_cases, unk_agree);
	diag("KVM's own completion of ISV = 1 exits (its syndrome decode) differed from the CPU in "
	     "%ld of %ld",
	     kvm_bad, kinds[2]);
	for (k = 0; k < K_NCAT; k++)
		if (!count[k])
			break;
	/* rare classes (LDPSW, LDnR: about 1 in 100) need a run of some size to appear */
	if (stopped)
		ok(n >= 1000 && k == K_NCAT, "every category ran (%lu cases in the time budget)",
		   n);
	else if (ncases >= 1000)
		ok(n == ncases && k == K_NCAT, "every category ran (%lu of %lu cases)", n, ncases);
	else
		ok(n == ncases, "all %lu cases ran (too few to ask for every category)", ncases);
	ok(kinds[1] > 0 && kinds[2] > 0, "both NISV and ISV = 1 exits were compared");
	is_int(bad, 0, "0 mismatches between the CPU on RAM and the emulator on MMIO");
	/* Not exitgate's: KVM completes an ISV = 1 load itself, from the syndrome (SAS, SSE, SF),
	 * and here sign-extending loads came back zero-extended (the SSE bit lost between
	 * qemu 7.2's TCG at EL2 and KVM 6.1; not traced further). Kept visible as a TODO. */
	todo = !ok(
	    kvm_bad == 0,
	    "KVM's own ISV = 1 completion agrees with the CPU (%ld of %ld differ) # TODO "
	    "sign-extending loads come back zero-extended in this lane (qemu 7.2 TCG + KVM 6.1)",
	    kvm_bad, kinds[2]);
	done_testing();
	/* a TODO failure is not a failure (TAP): the exit status counts only the others */
	return tap_failures() > todo;
}
