/*
 * ops_arm64.c - the engine's vCPU ops (struct xg_vcpu_ops) on an arm64 KVM vCPU: registers
 * by name and in bulk through KVM_GET/SET_ONE_REG (kvm_arm64.c), the V registers as U128
 * core registers, the guest's stage-1 translation (core/emu/arm64), an external abort
 * through KVM_SET_VCPU_EVENTS (api.rst 4.31, ext_dabt_pending) and a synchronous exception
 * taken to EL1 by writing what the exception entry writes (ARM ARM D1.10.2, computed by
 * xg_emu_arm64_exception_entry).
 *
 * A pending MMIO completion. After KVM_EXIT_MMIO (ISV = 1) the next KVM_RUN completes the
 * access before entering the guest: a load's data goes to Rt and PC moves past the
 * instruction (arch/arm64/kvm/mmio.c kvm_handle_mmio_return, called from
 * kvm_arch_vcpu_ioctl_run only while run->exit_reason is KVM_EXIT_MMIO). An exception
 * injected at that exit must be taken at the instruction with nothing of it done (a data
 * abort is synchronous and precise, ARM ARM D1.10.1), so before injecting, the exit reason
 * in kvm_run is changed (to KVM_EXIT_UNKNOWN): KVM then skips the completion. After
 * KVM_EXIT_ARM_NISV there is nothing pending: PC and the registers are as before the
 * instruction (api.rst 5 KVM_EXIT_ARM_NISV).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "backend/kvm/kvm_int.h"
#include "emu/arm64/xg_emu_arm64.h"

#define CORE_ID(size, field)                                                                       \
	(KVM_REG_ARM64 | (size) | KVM_REG_ARM_CORE |                                               \
	 (offsetof(struct kvm_regs, field) / sizeof(__u32)))
#define CORE64(field) CORE_ID(KVM_REG_SIZE_U64, field)

#define ID_SCTLR ARM64_SYS_REG(3, 0, 1, 0, 0)
#define ID_TTBR0 ARM64_SYS_REG(3, 0, 2, 0, 0)
#define ID_TTBR1 ARM64_SYS_REG(3, 0, 2, 0, 1)
#define ID_TCR	 ARM64_SYS_REG(3, 0, 2, 0, 2)
#define ID_ESR	 ARM64_SYS_REG(3, 0, 5, 2, 0)
#define ID_FAR	 ARM64_SYS_REG(3, 0, 6, 0, 0)
#define ID_VBAR	 ARM64_SYS_REG(3, 0, 12, 0, 0)

/* PSTATE (SPSR layout) M[3:0]: EL in [3:2], SP in [0] (1: SP_ELx, 0: SP_EL0) */
static int uses_sp_el1(uint64_t pstate)
{
	return (pstate >> 2 & 3) == 1 && (pstate & 1);
}

static int get1(struct xg_kvm_vcpu *v, uint64_t id, uint64_t *val)
{
	return xg_kvm_arm64_get_one(v, id, val, &v->err) ? -EIO : 0;
}

static int set1(struct xg_kvm_vcpu *v, uint64_t id, uint64_t val)
{
	return xg_kvm_arm64_set_one(v, id, val, &v->err) ? -EIO : 0;
}

/* ---- registers by name ---- */

static int o_get_reg(void *o, const char *name, uint64_t *val)
{
	struct xg_kvm_vcpu *v = o;
	uint64_t id, pstate;

	if (!strcmp(name, "sp")) {
		if (get1(v, CORE64(regs.pstate), &pstate))
			return -EIO;
		return get1(v, uses_sp_el1(pstate) ? CORE64(sp_el1) : CORE64(regs.sp), val);
	}
	id = xg_kvm_arm64_reg_id(name);
	if (!id)
		return -ENOENT;
	return get1(v, id, val);
}

static int o_set_reg(void *o, const char *name, uint64_t val)
{
	struct xg_kvm_vcpu *v = o;
	uint64_t id, pstate;

	if (!strcmp(name, "sp")) {
		if (get1(v, CORE64(regs.pstate), &pstate))
			return -EIO;
		return set1(v, uses_sp_el1(pstate) ? CORE64(sp_el1) : CORE64(regs.sp), val);
	}
	id = xg_kvm_arm64_reg_id(name);
	if (!id)
		return -ENOENT;
	return set1(v, id, val);
}

/* ---- the emulator's register state ---- */

static int o_get_arm64_regs(void *o, struct xg_emu_arm64_regs *r)
{
	struct xg_kvm_vcpu *v = o;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < 31; i++)
		if (get1(v, CORE64(regs.regs[i]), &r->x[i]))
			return -EIO;
	if (get1(v, CORE64(regs.pc), &r->pc) || get1(v, CORE64(regs.pstate), &r->pstate) ||
	    get1(v, uses_sp_el1(r->pstate) ? CORE64(sp_el1) : CORE64(regs.sp), &r->sp) ||
	    get1(v, ID_SCTLR, &r->sctlr_el1) || get1(v, ID_TCR, &r->tcr_el1) ||
	    get1(v, ID_TTBR0, &r->ttbr0_el1) || get1(v, ID_TTBR1, &r->ttbr1_el1))
		return -EIO;
	return 0;
}

/* X0-X30, PC, PSTATE, then the SP the new PSTATE selects. A register written with the value
 * it has is written all the same: an ioctl costs less than reading it first. */
static int o_set_arm64_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	struct xg_kvm_vcpu *v = o;

	for (unsigned i = 0; i < 31; i++)
		if (set1(v, CORE64(regs.regs[i]), r->x[i]))
			return -EIO;
	if (set1(v, CORE64(regs.pc), r->pc) || set1(v, CORE64(regs.pstate), r->pstate) ||
	    set1(v, uses_sp_el1(r->pstate) ? CORE64(sp_el1) : CORE64(regs.sp), r->sp))
		return -EIO;
	return 0;
}

/* V0-V31 as U128 core registers (struct kvm_regs fp_regs.vregs; api.rst 4.68: without SVE,
 * which these vCPUs do not have). The 128 bits are the register's value in host byte
 * order: little-endian on an arm64 host, the layout struct xg_emu_arm64_vregs has. */
static uint64_t vreg_id(unsigned i)
{
	return CORE_ID(KVM_REG_SIZE_U128, fp_regs.vregs[i]);
}

static int o_get_arm64_vregs(void *o, struct xg_emu_arm64_vregs *vr)
{
	struct xg_kvm_vcpu *v = o;

	for (unsigned i = 0; i < 32; i++) {
		struct kvm_one_reg r = {.id = vreg_id(i), .addr = (uintptr_t)vr->v[i]};
		if (ioctl(v->fd, KVM_GET_ONE_REG, &r) < 0) {
			xg_kvm_fail(&v->err, "KVM_GET_ONE_REG v%u (vCPU %d): %s", i, v->index,
				    strerror(errno));
			return -EIO;
		}
	}
	return 0;
}

static int o_set_arm64_vregs(void *o, const struct xg_emu_arm64_vregs *vr)
{
	struct xg_kvm_vcpu *v = o;

	for (unsigned i = 0; i < 32; i++) {
		struct kvm_one_reg r = {.id = vreg_id(i), .addr = (uintptr_t)vr->v[i]};
		if (ioctl(v->fd, KVM_SET_ONE_REG, &r) < 0) {
			xg_kvm_fail(&v->err, "KVM_SET_ONE_REG v%u (vCPU %d): %s", i, v->index,
				    strerror(errno));
			return -EIO;
		}
	}
	return 0;
}

/* ---- translation: the guest's stage 1, walked in RAM ---- */

static int walk_read(void *o, uint64_t ipa, void *buf, unsigned size, enum xg_emu_arm64_access kind)
{
	return xg_kvm_op_read_gpa(o, ipa, buf, size);
}

static int o_translate(void *o, uint64_t gva, uint64_t *gpa)
{
	struct xg_emu_arm64_ops ops = {.read = walk_read};
	struct xg_emu_arm64_regs r;
	uint8_t fsc;
	int rc;

	if (o_get_arm64_regs(o, &r))
		return -EIO;
	rc = xg_emu_arm64_translate(&ops, o, &r, gva, XG_EMU_ARM64_READ,
				    (unsigned)(r.pstate >> 2 & 3), gpa, &fsc);
	return rc > 0 ? -EFAULT : rc;
}

/* ---- exceptions ---- */

/* See the top of the file: the next KVM_RUN must not complete this exit's MMIO access. */
static void cancel_mmio_completion(struct xg_kvm_vcpu *v)
{
	if (v->run->exit_reason == KVM_EXIT_MMIO)
		v->run->exit_reason = KVM_EXIT_UNKNOWN;
}

/*
 * An external abort at the instruction that exited (api.rst 4.31: "ext_dabt_pending ... an
 * external data abort is injected"; KVM builds the ESR: EC 0x24/0x25, DFSC 0x10, and FAR from
 * the fault's address). Needs KVM_CAP_ARM_INJECT_EXT_DABT.
 */
static int o_inject_external_abort(void *o)
{
	struct xg_kvm_vcpu *v = o;
	struct kvm_vcpu_events ev;

	cancel_mmio_completion(v);
	memset(&ev, 0, sizeof(ev));
	ev.exception.ext_dabt_pending = 1;
	return xg_kvm_set_vcpu_events(v, &ev, &v->err) ? -EIO : 0;
}

/* A synchronous exception to EL1 (ARM ARM D1.10.2): ESR_EL1, FAR_EL1, ELR_EL1, SPSR_EL1 and
 * the new PSTATE and PC, as xg_emu_arm64_exception_entry computes them; the banked SPs are
 * not written (entry only changes which one is in use). */
static int o_inject_arm64_sync(void *o, uint32_t esr, uint64_t far)
{
	struct xg_kvm_vcpu *v = o;
	struct xg_emu_arm64_exception exc = {.esr = esr, .far = far};
	struct xg_emu_arm64_regs r;
	struct xg_emu_arm64_el1 el1;

	memset(&el1, 0, sizeof(el1));
	if (o_get_arm64_regs(o, &r) || get1(v, ID_VBAR, &el1.vbar) ||
	    get1(v, CORE64(regs.sp), &el1.sp_el0) || get1(v, CORE64(sp_el1), &el1.sp_el1))
		return -EIO;
	if (xg_emu_arm64_exception_entry(&r, &el1, &exc)) {
		xg_kvm_fail(&v->err,
			    "vCPU %d: cannot take an exception to EL1 from PSTATE %#llx (AArch32, "
			    "or EL2/EL3)",
			    v->index, (unsigned long long)r.pstate);
		return -EINVAL;
	}
	cancel_mmio_completion(v);
	if (set1(v, ID_ESR, el1.esr) || set1(v, ID_FAR, el1.far) ||
	    set1(v, CORE64(elr_el1), el1.elr) || set1(v, CORE64(spsr[KVM_SPSR_EL1]), el1.spsr) ||
	    set1(v, CORE64(regs.pstate), r.pstate) || set1(v, CORE64(regs.pc), r.pc))
		return -EIO;
	return 0;
}

void xg_kvm_vcpu_ops(struct xg_kvm_vcpu *v, struct xg_vcpu_ops *ops)
{
	*ops = (struct xg_vcpu_ops){
	    .get_reg = o_get_reg,
	    .set_reg = o_set_reg,
	    .read_gpa = xg_kvm_op_read_gpa,
	    .write_gpa = xg_kvm_op_write_gpa,
	    .translate_gva = o_translate,
	    .inject_external_abort = o_inject_external_abort,
	    .pause = xg_kvm_op_pause,
	    .resume = xg_kvm_op_resume,
	    .mmio_read = xg_kvm_op_mmio_read,
	    .mmio_write = xg_kvm_op_mmio_write,
	    .get_arm64_regs = o_get_arm64_regs,
	    .set_arm64_regs = o_set_arm64_regs,
	    .get_arm64_vregs = o_get_arm64_vregs,
	    .set_arm64_vregs = o_set_arm64_vregs,
	    .inject_arm64_sync = o_inject_arm64_sync,
	};
}

int xg_kvm_ops_init(struct xg_kvm_vcpu *v, struct xg_error *err)
{
	return 0;
}

void xg_kvm_ops_free(struct xg_kvm_vcpu *v)
{
}
