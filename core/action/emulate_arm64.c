/*
 * emulate_arm64.c - the `emulate` verdict on an arm64 vCPU, carried out by exitgate's A64
 * load/store emulator (core/emu/arm64) through the VMM's vCPU ops.
 *
 * Which exits it takes:
 *  - arm_nisv (KVM_EXIT_ARM_NISV, api.rst 5): KVM gives the fault IPA and the ESR's ISS
 *    only. The instruction is fetched at PC through the guest's stage-1 translation,
 *    decoded and emulated in full (accesses, registers, base writeback, PC += 4).
 *  - mmio on arm64 (KVM_EXIT_MMIO), when a policy asks to emulate it anyway (it does not
 *    trust the syndrome, or wants the access to go through exitgate's devices): the same.
 *    KVM completes an MMIO exit on the next KVM_RUN (api.rst 5, KVM_EXIT_MMIO: the data
 *    goes to the register of the syndrome, then PC += 4): a VMM whose set_arm64_regs
 *    follows an MMIO exit must cancel that completion first, as it does before inject.
 * Any other exit is refused with the reason.
 *
 * The adapter: registers and vector state from the VMM, stage-1 walks with descriptors read
 * from guest RAM (read_gpa), the instruction fetched from RAM, each data access sent to RAM
 * (read_gpa/write_gpa) or, where there is none, to the VMM's devices (mmio_read/mmio_write).
 *
 * An access that reaches neither RAM nor a device: the memory system has nothing to answer
 * it, and an A64 CPU takes a synchronous External abort for such an access (ARM ARM
 * D17.2.37, DFSC 0b010000; KVM itself injects that abort for a data abort it cannot
 * handle, and QEMU's `virt` board under TCG does the same for an unassigned address). So
 * does exitgate: the instruction's registers are left as they were and a data abort with
 * DFSC 0x10, WnR of the access and FAR = its VA is taken through inject_arm64_sync. When
 * that access comes after another one of the same instruction (the second register of a
 * pair, a store's second page), the first may have been done: the ARM ARM allows that for
 * an access that is not single-copy atomic (B2.2.1), and no register changed.
 *
 * The cross-check: the fault IPA KVM reported must be inside one of the accesses the
 * instruction at PC makes now, in the direction the exit's WnR gives, and the instruction
 * must reach its accesses without an exception (the CPU raised none: alignment and stage-1
 * faults come before the stage-2 fault that made the exit). If not, the guest changed its
 * code or its translation tables between the exit and the emulation (another vCPU can),
 * and emulating would do an access, or raise an exception, the exit never asked for:
 * refused with the reason, before anything is done.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "action/emulate_arm64.h"
#include "exitgate.h"
#include "xg_emu_arm64.h"

#define PAGE	   4096u
#define MAX_PARTS  80 /* the most the emulator translates: 64 elements, split at pages */
#define EL_OF(ps)  ((unsigned)(((ps) >> 2) & 3))
#define ESR_IL	   (1u << 25)
#define ESR_WNR	   (1u << 6)
#define FSC_EXTABT 0x10u

struct bridge {
	const struct xg_vcpu_ops *ops;
	void *opaque;
	struct xg_emu_arm64_regs regs; /* for the walks */
	/* the data accesses translated, in the emulator's order (one per page part) */
	struct {
		uint64_t va, ipa;
	} part[MAX_PARTS];
	unsigned nparts;
	int check_ipa; /* cross-check fault_ipa at the TRANSLATE stage */
	uint64_t fault_ipa;
	int ipa_ok;	    /* the cross-check passed */
	int check_wnr, wnr; /* cross-check the exit's WnR against the instruction */
	int probe;	    /* supports / fault VA: stop after translation, change nothing */
	int probed;	    /* the probe got past translation (or to an exception) */
	/* an access that reached neither RAM nor a device */
	int nothing, nothing_write;
	uint64_t nothing_ipa;
	char *why;
	size_t n;
};

static int b_get_regs(void *o, struct xg_emu_arm64_regs *r)
{
	struct bridge *b = o;
	int rc = b->ops->get_arm64_regs(b->opaque, r);

	if (!rc)
		b->regs = *r;
	return rc;
}

static int b_set_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	struct bridge *b = o;

	return b->probe ? -EPERM : b->ops->set_arm64_regs(b->opaque, r);
}

static int b_get_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	struct bridge *b = o;

	return b->ops->get_arm64_vregs ? b->ops->get_arm64_vregs(b->opaque, v) : -ENOSYS;
}

static int b_set_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	struct bridge *b = o;

	if (b->probe)
		return -EPERM;
	return b->ops->set_arm64_vregs ? b->ops->set_arm64_vregs(b->opaque, v) : -ENOSYS;
}

static int b_read(void *o, uint64_t ipa, void *buf, unsigned size, enum xg_emu_arm64_access kind);
static int b_write(void *o, uint64_t ipa, const void *buf, unsigned size);
static int b_inject(void *o, const struct xg_emu_arm64_exception *exc);
static int b_translate(void *o, uint64_t va, enum xg_emu_arm64_access kind, unsigned el,
		       uint64_t *ipa, uint8_t *fsc);
static int b_hook(void *o, enum xg_emu_arm64_stage stage, const struct xg_emu_arm64_insn *in,
		  const struct xg_emu_arm64_exception *exc);

#if defined(__aarch64__)
/* DC ZVA's block size: under KVM the guest reads the host CPU's own DCZID_EL0 (KVM does not
 * trap it), so the VMM's host value is the guest's (ARM ARM D17.2.34). */
static int b_get_dczid(void *o, uint64_t *dczid)
{
	uint64_t v;

	(void)o;
	__asm__ volatile("mrs %0, dczid_el0" : "=r"(v));
	*dczid = v;
	return 0;
}
#endif

static const struct xg_emu_arm64_ops bridge_ops = {
#if defined(__aarch64__)
    .get_dczid = b_get_dczid,
#endif
    .get_regs = b_get_regs,
    .set_regs = b_set_regs,
    .get_vregs = b_get_vregs,
    .set_vregs = b_set_vregs,
    .translate = b_translate,
    .read = b_read,
    .write = b_write,
    .inject = b_inject,
    .hook = b_hook,
};

/* The walk with the emulator's own stage-1 model (ARM ARM D8), descriptors from RAM; each
 * data access's page part is remembered for the cross-check and for FAR. */
static int b_translate(void *o, uint64_t va, enum xg_emu_arm64_access kind, unsigned el,
		       uint64_t *ipa, uint8_t *fsc)
{
	struct bridge *b = o;
	int rc = xg_emu_arm64_translate(&bridge_ops, b, &b->regs, va, kind, el, ipa, fsc);

	if (rc == -EFAULT)
		snprintf(b->why, b->n,
			 "a translation table descriptor for VA 0x%" PRIx64
			 " is not in guest RAM (the guest's TTBR or a table points at a device "
			 "or at nothing)",
			 va);
	if (rc == 0 && kind != XG_EMU_ARM64_FETCH && b->nparts < MAX_PARTS) {
		b->part[b->nparts].va = va;
		b->part[b->nparts].ipa = *ipa;
		b->nparts++;
	}
	return rc;
}

static int b_read(void *o, uint64_t ipa, void *buf, unsigned size, enum xg_emu_arm64_access kind)
{
	struct bridge *b = o;
	int rc = b->ops->read_gpa(b->opaque, ipa, buf, size);

	if (kind == XG_EMU_ARM64_WALK || kind == XG_EMU_ARM64_FETCH) {
		/* descriptors and instructions come from RAM only: a device read has side
		 * effects, and KVM would not run code from one either */
		if (rc == -EFAULT && kind == XG_EMU_ARM64_FETCH)
			snprintf(b->why, b->n,
				 "the instruction at PC (IPA 0x%" PRIx64 ") is not in guest RAM",
				 ipa);
		return rc;
	}
	if (b->probe)
		return -EPERM; /* never reached: the probe stops at translation */
	if (rc != -EFAULT)
		return rc;
	rc = b->ops->mmio_read ? b->ops->mmio_read(b->opaque, ipa, buf, size) : -ENODEV;
	if (rc == -ENODEV) {
		b->nothing = 1;
		b->nothing_write = 0;
		b->nothing_ipa = ipa;
		return -ENXIO;
	}
	return rc;
}

static int b_write(void *o, uint64_t ipa, const void *buf, unsigned size)
{
	struct bridge *b = o;
	int rc;

	if (b->probe)
		return -EPERM;
	rc = b->ops->write_gpa ? b->ops->write_gpa(b->opaque, ipa, buf, size) : -EFAULT;
	if (rc != -EFAULT)
		return rc;
	rc = b->ops->mmio_write ? b->ops->mmio_write(b->opaque, ipa, buf, size) : -ENODEV;
	if (rc == -ENODEV) {
		b->nothing = 1;
		b->nothing_write = 1;
		b->nothing_ipa = ipa;
		return -ENXIO;
	}
	return rc;
}

static int b_inject(void *o, const struct xg_emu_arm64_exception *exc)
{
	struct bridge *b = o;

	if (b->probe)
		return -EPERM;
	return b->ops->inject_arm64_sync(b->opaque, exc->esr, exc->far);
}

/* Bytes the instruction accesses from its first address on: its elements are contiguous
 * (one register, a pair, CASP's pair, the elements of a structure instruction). */
static uint64_t access_bytes(const struct xg_emu_arm64_insn *in)
{
	if (in->cls == XG_EMU_ARM64_C_STRUCT || in->cls == XG_EMU_ARM64_C_DCZVA)
		return (uint64_t)in->imm; /* bytes moved; DC ZVA: the block (its size is 0) */
	if (in->cls == XG_EMU_ARM64_C_PAIR || in->aop == XG_EMU_ARM64_AOP_CASP)
		return 2u * in->size;
	return in->size;
}

/* The part holding ipa, or -1; each part runs from its VA to the next page or to the end
 * of the instruction's accesses. */
static int part_of(const struct bridge *b, const struct xg_emu_arm64_insn *in, uint64_t ipa)
{
	uint64_t end_va = b->nparts ? b->part[0].va + access_bytes(in) : 0;

	for (unsigned i = 0; i < b->nparts; i++) {
		uint64_t va = b->part[i].va, page_end = (va | (PAGE - 1)) + 1;
		uint64_t len = (page_end < end_va ? page_end : end_va) - va;

		if (ipa >= b->part[i].ipa && ipa - b->part[i].ipa < len)
			return (int)i;
	}
	return -1;
}

static int b_hook(void *o, enum xg_emu_arm64_stage stage, const struct xg_emu_arm64_insn *in,
		  const struct xg_emu_arm64_exception *exc)
{
	struct bridge *b = o;

	if (stage == XG_EMU_ARM64_STAGE_DECODE && in->fp &&
	    (!b->ops->get_arm64_vregs || !b->ops->set_arm64_vregs)) {
		snprintf(b->why, b->n,
			 "%s moves SIMD&FP registers and the VMM's vCPU ops give no "
			 "get/set_arm64_vregs",
			 in->name ? in->name : "the instruction");
		return 1;
	}
	/* The instruction must be the one the exit was about (see the top): a load for a read,
	 * a store for a write (an atomic is both) ... */
	if (stage == XG_EMU_ARM64_STAGE_DECODE && b->check_wnr &&
	    in->cls != XG_EMU_ARM64_C_ATOMIC && in->cls != XG_EMU_ARM64_C_PREFETCH &&
	    in->load == b->wnr) {
		snprintf(b->why, b->n,
			 "the exit is a %s (WnR %d) and the instruction now at PC is a %s (%s): "
			 "the guest changed its code since the exit",
			 b->wnr ? "write" : "read", b->wnr, in->load ? "load" : "store",
			 in->name ? in->name : "?");
		return 1;
	}
	/* ... whose accesses hold the fault IPA ... */
	if (stage == XG_EMU_ARM64_STAGE_TRANSLATE && b->check_ipa) {
		if (part_of(b, in, b->fault_ipa) < 0) {
			snprintf(b->why, b->n,
				 "the fault IPA 0x%" PRIx64 " KVM reported is not one of the "
				 "accesses of the instruction now at PC (%s at VA 0x%" PRIx64
				 ", IPA 0x%" PRIx64 "): the guest changed its code or its "
				 "translation tables since the exit",
				 b->fault_ipa, in->name ? in->name : "?",
				 b->nparts ? b->part[0].va : 0, b->nparts ? b->part[0].ipa : 0);
			return 1;
		}
		b->ipa_ok = 1;
	}
	/* ... and that raises no exception on the way: the CPU raised none (alignment and
	 * stage-1 faults come before the stage-2 fault that made the exit, ARM ARM D8.4),
	 * so one found now means the code or the tables changed since */
	if (b->check_ipa && !b->ipa_ok &&
	    (stage == XG_EMU_ARM64_STAGE_EXCEPTION || stage == XG_EMU_ARM64_STAGE_WRITEBACK)) {
		if (stage == XG_EMU_ARM64_STAGE_EXCEPTION)
			snprintf(b->why, b->n,
				 "the instruction now at PC (%s) raises an exception (ESR 0x%08x, "
				 "FAR 0x%" PRIx64 ") that the CPU did not raise at the exit: the "
				 "guest changed its code or its translation tables since the exit",
				 in && in->name ? in->name : "?", exc ? exc->esr : 0,
				 exc ? exc->far : 0);
		else
			snprintf(b->why, b->n,
				 "the instruction now at PC (%s) accesses no memory: the guest "
				 "changed its code since the exit",
				 in->name ? in->name : "?");
		return 1;
	}
	if (b->probe && (stage >= XG_EMU_ARM64_STAGE_TRANSLATE)) {
		b->probed = 1;
		return 1;
	}
	return 0;
}

int xg_emulate_arm64_exit_ok(const struct xg_exit *x, char *why, size_t n)
{
	if (x->arch != XG_ARCH_ARM64) {
		snprintf(why, n, "exitgate's arm64 emulator is for arm64 guests; this exit is %s",
			 x->arch_name);
		return 0;
	}
	if (x->reason != 28 && x->reason != 6) {
		snprintf(why, n,
			 "only arm64 data aborts (arm_nisv, mmio) have an instruction at PC to "
			 "emulate; this exit is %s",
			 x->kind);
		return 0;
	}
	return 1;
}

static uint64_t exit_ipa(const struct xg_exit *x)
{
	return x->reason == 28 ? x->u.arm_nisv.fault_ipa : x->u.mmio.phys_addr;
}

static int have_ops(const struct xg_vcpu_ops *ops, char *why, size_t n)
{
	if (!ops || !ops->get_arm64_regs || !ops->set_arm64_regs || !ops->read_gpa ||
	    !ops->inject_arm64_sync) {
		snprintf(why, n,
			 "the VMM's vCPU ops lack get_arm64_regs/set_arm64_regs/read_gpa/"
			 "inject_arm64_sync, which exitgate's arm64 emulator needs");
		return 0;
	}
	return 1;
}

/* Run the emulator on the exit's instruction, checked against the exit (its WnR too when
 * check_wnr); probe: stop after translation. */
static enum xg_emu_arm64_status run(struct bridge *b, const struct xg_exit *x, int check_wnr,
				    struct xg_emu_arm64_result *res)
{
	b->check_ipa = 1;
	b->fault_ipa = exit_ipa(x);
	/* WnR is valid for every data abort but cache maintenance (CM = 1, ESR ISS bit 8,
	 * where it reads 1): D17.2.37 */
	if (x->reason == 28 && !x->u.arm_nisv.iss.cm) {
		b->check_wnr = check_wnr;
		b->wnr = x->u.arm_nisv.iss.wnr;
	} else if (x->reason == 6) {
		b->check_wnr = check_wnr;
		b->wnr = x->u.mmio.is_write != 0;
	}
	return xg_emu_arm64_emulate(&bridge_ops, b, NULL, res);
}

int xg_emulate_arm64(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		     struct xg_emu_arm64_result *res, char *why, size_t n)
{
	struct bridge b = {.ops = ops, .opaque = opaque, .why = why, .n = n};
	enum xg_emu_arm64_status st;

	if (n)
		why[0] = 0;
	if (!xg_emulate_arm64_exit_ok(x, why, n) || !have_ops(ops, why, n))
		return -1;
	st = run(&b, x, 1, res);
	switch (st) {
	case XG_EMU_ARM64_OK:
	case XG_EMU_ARM64_EXCEPTION:
		return 0;
	case XG_EMU_ARM64_VETOED:
		if (!why[0])
			snprintf(why, n, "vetoed at stage %s", xg_emu_arm64_stage_name(res->stage));
		return -1;
	case XG_EMU_ARM64_ERROR:
		if (b.nothing) {
			/* neither RAM nor a device: a synchronous External abort (see the top) */
			int p = -1;
			uint64_t far;
			unsigned el = EL_OF(b.regs.pstate);

			/* each access is made at the start of a part it translated */
			for (unsigned i = 0; i < b.nparts && p < 0; i++)
				if (b.part[i].ipa == b.nothing_ipa)
					p = (int)i;
			far =
			    p < 0 ? b.nothing_ipa : b.part[p].va + (b.nothing_ipa - b.part[p].ipa);
			res->exc.esr = (el ? 0x25u : 0x24u) << 26 | ESR_IL |
				       (b.nothing_write ? ESR_WNR : 0) | FSC_EXTABT;
			res->exc.far = far;
			int rc = ops->inject_arm64_sync(opaque, res->exc.esr, far);
			if (rc) {
				snprintf(why, n,
					 "IPA 0x%" PRIx64 " is neither RAM nor a device, and the "
					 "VMM could not take the external abort: %s",
					 b.nothing_ipa, strerror(-rc));
				return -1;
			}
			res->status = XG_EMU_ARM64_EXCEPTION;
			snprintf(res->reason, sizeof(res->reason),
				 "IPA 0x%" PRIx64 " is neither RAM nor a device: external abort",
				 b.nothing_ipa);
			return 0;
		}
		/* fall through */
	default:
		/* a reason of our own (where the emulator's errno says less) first */
		if (!why[0])
			snprintf(why, n, "%s",
				 res->reason[0] ? res->reason : xg_emu_arm64_status_name(st));
		return -1;
	}
}

int xg_emulate_arm64_supports(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
			      char *why, size_t n)
{
	struct bridge b = {.ops = ops, .opaque = opaque, .why = why, .n = n, .probe = 1};
	struct xg_emu_arm64_result res;
	enum xg_emu_arm64_status st;

	if (n)
		why[0] = 0;
	if (!xg_emulate_arm64_exit_ok(x, why, n) || !have_ops(ops, why, n))
		return 0;
	st = run(&b, x, 1, &res);
	if (st == XG_EMU_ARM64_VETOED && b.probed) {
		why[0] = 0;
		return 1; /* decoded, translated, cross-checked: it would be emulated (or its
			     exception taken) */
	}
	if (!why[0])
		snprintf(why, n, "%s", res.reason[0] ? res.reason : xg_emu_arm64_status_name(st));
	return 0;
}

int xg_arm64_fault_va(const struct xg_vcpu_ops *ops, void *opaque, const struct xg_exit *x,
		      uint64_t *va, char *why, size_t n)
{
	struct bridge b = {.ops = ops, .opaque = opaque, .why = why, .n = n, .probe = 1};
	struct xg_emu_arm64_result res;
	enum xg_emu_arm64_status st;
	int p;

	if (n)
		why[0] = 0;
	if (!xg_emulate_arm64_exit_ok(x, why, n))
		return -1;
	if (!ops || !ops->get_arm64_regs || !ops->read_gpa) {
		snprintf(why, n,
			 "the VMM's vCPU ops lack get_arm64_regs/read_gpa to find the faulting "
			 "VA; give far = ... in the verdict");
		return -1;
	}
	/* the policy asked for a data abort: the direction of the access does not matter */
	st = run(&b, x, 0, &res);
	if (st == XG_EMU_ARM64_VETOED && b.probed && !b.nparts) {
		snprintf(
		    why, n,
		    "the instruction at PC makes no data access now (it raises an exception "
		    "first), so the VA of the access is unknown; give far = ... in the verdict");
		return -1;
	}
	if (st != XG_EMU_ARM64_VETOED || !b.probed) {
		if (!why[0])
			snprintf(why, n, "%s",
				 res.reason[0] ? res.reason : xg_emu_arm64_status_name(st));
		return -1;
	}
	p = part_of(&b, &res.insn, b.fault_ipa);
	if (p < 0) { /* the hook refused it already; kept for the reader */
		snprintf(why, n, "the fault IPA is not one of the instruction's accesses");
		return -1;
	}
	*va = b.part[p].va + (b.fault_ipa - b.part[p].ipa);
	return 0;
}

/* ---- reading guest memory by VA (dumps) ------------------------------------------------ */

struct walk_only {
	const struct xg_vcpu_ops *ops;
	void *opaque;
};

static int w_read(void *o, uint64_t ipa, void *buf, unsigned size, enum xg_emu_arm64_access kind)
{
	struct walk_only *w = o;

	(void)kind;
	return w->ops->read_gpa(w->opaque, ipa, buf, size);
}

size_t xg_arm64_read_virt(const struct xg_vcpu_ops *ops, void *opaque,
			  const struct xg_emu_arm64_regs *regs, uint64_t va, void *buf, size_t n,
			  char *why, size_t wn)
{
	struct walk_only w = {ops, opaque};
	struct xg_emu_arm64_ops wops = {.read = w_read};
	uint8_t *p = buf;
	size_t got = 0;

	if (wn)
		why[0] = 0;
	if (!ops || !ops->read_gpa) {
		snprintf(why, wn, "the VMM gives no read_gpa: guest memory cannot be read");
		return 0;
	}
	while (got < n) {
		uint64_t a = va + got, ipa;
		size_t chunk = PAGE - (size_t)(a & (PAGE - 1));
		uint8_t fsc = 0;
		int rc;

		if (chunk > n - got)
			chunk = n - got;
		rc = xg_emu_arm64_translate(&wops, &w, regs, a, XG_EMU_ARM64_READ, 1, &ipa, &fsc);
		if (rc) {
			if (rc > 0)
				snprintf(why, wn,
					 "VA 0x%" PRIx64 " is not mapped by the guest's stage-1 "
					 "tables (fault status 0x%02x)",
					 a, fsc);
			else
				snprintf(
				    why, wn,
				    "the guest's stage-1 tables cannot be read for VA 0x%" PRIx64
				    ": %s",
				    a, strerror(-rc));
			break;
		}
		rc = ops->read_gpa(opaque, ipa, p + got, chunk);
		if (rc) {
			snprintf(why, wn,
				 "VA 0x%" PRIx64 " maps to IPA 0x%" PRIx64
				 ", which is not guest RAM",
				 a, ipa);
			break;
		}
		got += chunk;
	}
	return got;
}
