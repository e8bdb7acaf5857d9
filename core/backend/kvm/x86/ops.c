/*
 * ops.c - the engine's vCPU ops (struct xg_vcpu_ops) on a backend vCPU: everything a
 * verdict does to a KVM guest goes through here.
 *
 * Registers: with KVM_CAP_SYNC_REGS (api.rst 5 "kvm_run", kvm_valid_regs) KVM copies the
 * vCPU's regs and sregs into kvm_run on every exit, so reading them costs no ioctl; regs
 * written go back into that copy with KVM_SYNC_X86_REGS in kvm_dirty_regs, for the next
 * KVM_RUN to apply (xg_kvm_put_regs, kvm_x86.c: no ioctl either; any other ioctl that
 * depends on them is preceded by a KVM_SET_REGS of them). sregs written (control
 * registers, rare) still go through KVM_SET_SREGS. Without the capability all are ioctls.
 * Vector state: KVM_GET/SET_XSAVE, whose image starts with the standard XSAVE layout the
 * emulator uses (api.rst 4.42); one image per exit is read, and only when an instruction
 * needs vector state; it is written back only when the emulator wrote vector state (its
 * commit calls set_xsave only then). The emulator works in that image itself (lend_xsave):
 * no copy of it in or out; when it changed the image and did not write it (a veto, an
 * exception), discard_xsave marks it stale, to be read again.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm_para.h>

#include "xg_hot.h"
#include "action/x86_walk.h"
#include "backend/kvm/kvm_int.h"
#include "backend/kvm/x86/sync_regs.h"
#include "xg_emu_x86.h"

#define XSTATE_AVX512 0xe0ull /* opmask | ZMM_Hi256 | Hi16_ZMM (SDM Vol. 1 13.1) */

/* ---- registers ---- */

static int regs(struct xg_kvm_vcpu *v, struct kvm_regs *r)
{
	if (v->sync_regs) {
		*r = v->run->s.regs.regs;
		return 0;
	}
	return xg_kvm_get_regs(v, r, &v->err) ? -EIO : 0;
}

static int sregs(struct xg_kvm_vcpu *v, struct kvm_sregs *s)
{
	if (v->sync_regs) {
		*s = v->run->s.regs.sregs;
		return 0;
	}
	return xg_kvm_get_sregs(v, s, &v->err) ? -EIO : 0;
}

/* Registers by name: where each lives in kvm_regs or kvm_sregs. */
#define R(f) {#f, 0, offsetof(struct kvm_regs, f)}
#define S(f) {#f, 1, offsetof(struct kvm_sregs, f)}
static const struct reg_name {
	const char *name;
	int in_sregs;
	size_t off;
} reg_names[] = {
    R(rax), R(rbx), R(rcx), R(rdx), R(rsi), R(rdi), R(rsp), R(rbp), R(r8),  R(r9),  R(r10),
    R(r11), R(r12), R(r13), R(r14), R(r15), R(rip), R(rflags), S(cr0), S(cr2), S(cr3), S(cr4),
    S(cr8), S(efer), S(apic_base),
};

static const struct reg_name *find_reg(const char *name)
{
	for (size_t i = 0; i < sizeof(reg_names) / sizeof(reg_names[0]); i++)
		if (!strcmp(reg_names[i].name, name))
			return &reg_names[i];
	return NULL;
}

static int o_get_reg(void *o, const char *name, uint64_t *val)
{
	struct xg_kvm_vcpu *v = o;
	const struct reg_name *rn = find_reg(name);
	struct kvm_regs r;
	struct kvm_sregs s;
	int rc;

	if (!rn && !strcmp(name, "xcr0")) /* it also brings get_x86_regs' copy up to date */
		return xg_kvm_get_xcr0(v, val, &v->err);
	if (!rn)
		return -ENOENT;
	rc = rn->in_sregs ? sregs(v, &s) : regs(v, &r);
	if (rc)
		return rc;
	memcpy(val, (rn->in_sregs ? (char *)&s : (char *)&r) + rn->off, 8);
	return 0;
}

static int o_set_reg(void *o, const char *name, uint64_t val)
{
	struct xg_kvm_vcpu *v = o;
	const struct reg_name *rn = find_reg(name);
	struct kvm_regs r;
	struct kvm_sregs s;

	if (!rn)
		return -ENOENT;
	if (rn->in_sregs) {
		if (sregs(v, &s))
			return -EIO;
		memcpy((char *)&s + rn->off, &val, 8);
		return xg_kvm_set_sregs(v, &s, &v->err) ? -EIO : 0;
	}
	if (regs(v, &r))
		return -EIO;
	memcpy((char *)&r + rn->off, &val, 8);
	return xg_kvm_put_regs(v, &r, &v->err) ? -EIO : 0;
}

/* struct xg_emu_x86_segment is struct kvm_segment's layout (xg_emu_x86.h): a segment is
 * fetched as one copy. Any drift between the two fails the build here. */
#define SEG_SAME(f)                                                                                \
	_Static_assert(offsetof(struct xg_emu_x86_segment, f) ==                                   \
			       offsetof(struct kvm_segment, f) &&                                  \
			   sizeof(((struct xg_emu_x86_segment *)0)->f) ==                          \
			       sizeof(((struct kvm_segment *)0)->f),                               \
		       "xg_emu_x86_segment." #f " is not where kvm_segment has it")
SEG_SAME(base);
SEG_SAME(limit);
SEG_SAME(selector);
SEG_SAME(type);
SEG_SAME(present);
SEG_SAME(dpl);
SEG_SAME(db);
SEG_SAME(s);
SEG_SAME(l);
SEG_SAME(g);
SEG_SAME(avl);
SEG_SAME(unusable);
_Static_assert(offsetof(struct xg_emu_x86_segment, pad) == offsetof(struct kvm_segment, padding),
	       "xg_emu_x86_segment.pad is not kvm_segment.padding");
_Static_assert(sizeof(struct xg_emu_x86_segment) == sizeof(struct kvm_segment),
	       "xg_emu_x86_segment is not the size of kvm_segment");

static int o_get_x86_regs(void *o, struct xg_emu_x86_regs *x)
{
	struct xg_kvm_vcpu *v = o;
	struct kvm_regs rb;
	struct kvm_sregs sb;
	const struct kvm_regs *r = &v->run->s.regs.regs;
	const struct kvm_sregs *s = &v->run->s.regs.sregs;

	/* read in place from kvm_run when KVM keeps it current: no copies on the way */
	if (!v->sync_regs) {
		if (regs(v, &rb) || sregs(v, &sb))
			return -EIO;
		r = &rb;
		s = &sb;
	}
	/* kvm_regs is rax rbx rcx rdx rsi rdi rsp rbp r8..r15; the emulator wants encoding
	 * order (SDM Vol. 2 Table 2-2): rax rcx rdx rbx rsp rbp rsi rdi r8..r15. */
	x->gpr[0] = r->rax, x->gpr[1] = r->rcx, x->gpr[2] = r->rdx, x->gpr[3] = r->rbx;
	x->gpr[4] = r->rsp, x->gpr[5] = r->rbp, x->gpr[6] = r->rsi, x->gpr[7] = r->rdi;
	memcpy(&x->gpr[8], &r->r8, 8 * sizeof(uint64_t));
	x->rip = r->rip;
	x->rflags = r->rflags;
	/* one copy each, at offsets known here: a table of them would be one more line */
	memcpy(&x->seg[XG_EMU_X86_ES], &s->es, sizeof(s->es));
	memcpy(&x->seg[XG_EMU_X86_CS], &s->cs, sizeof(s->cs));
	memcpy(&x->seg[XG_EMU_X86_SS], &s->ss, sizeof(s->ss));
	memcpy(&x->seg[XG_EMU_X86_DS], &s->ds, sizeof(s->ds));
	memcpy(&x->seg[XG_EMU_X86_FS], &s->fs, sizeof(s->fs));
	memcpy(&x->seg[XG_EMU_X86_GS], &s->gs, sizeof(s->gs));
	x->cr0 = s->cr0, x->cr2 = s->cr2, x->cr3 = s->cr3, x->cr4 = s->cr4, x->efer = s->efer;
	x->xcr0 = v->xcr0;
	x->vendor = v->vendor;
	x->gprs_unchanged = 0;
	memcpy(&x->tr, &s->tr, sizeof(x->tr));
	memcpy(&x->ldtr, &s->ldt, sizeof(x->ldtr));
	x->gdtr_base = s->gdt.base, x->gdtr_limit = s->gdt.limit;
	x->idtr_base = s->idt.base, x->idtr_limit = s->idt.limit;
	x->has_tables = 1;
	return 0;
}

/* The emulator's direct path reads and writes kvm_run's copies in place: their layouts are
 * the emulator's mirrors of them (xg_emu_x86.h) */
_Static_assert(sizeof(struct xg_emu_x86_kvm_regs) == sizeof(struct kvm_regs) &&
		   offsetof(struct xg_emu_x86_kvm_regs, rbx) == offsetof(struct kvm_regs, rbx) &&
		   offsetof(struct xg_emu_x86_kvm_regs, rsp) == offsetof(struct kvm_regs, rsp) &&
		   offsetof(struct xg_emu_x86_kvm_regs, r8) == offsetof(struct kvm_regs, r8) &&
		   offsetof(struct xg_emu_x86_kvm_regs, rip) == offsetof(struct kvm_regs, rip) &&
		   offsetof(struct xg_emu_x86_kvm_regs, rflags) == offsetof(struct kvm_regs, rflags),
	       "xg_emu_x86_kvm_regs is not struct kvm_regs");
#define SREG_SAME(f)                                                                               \
	_Static_assert(offsetof(struct xg_emu_x86_kvm_sregs, f) == offsetof(struct kvm_sregs, f),  \
		       "xg_emu_x86_kvm_sregs." #f " is not kvm_sregs." #f)
SREG_SAME(cs);
SREG_SAME(ds);
SREG_SAME(es);
SREG_SAME(fs);
SREG_SAME(gs);
SREG_SAME(ss);
SREG_SAME(tr);
SREG_SAME(ldt);
SREG_SAME(gdt);
SREG_SAME(idt);
SREG_SAME(cr0);
SREG_SAME(cr2);
SREG_SAME(cr3);
SREG_SAME(cr4);
SREG_SAME(cr8);
SREG_SAME(efer);
SREG_SAME(apic_base);

/* kvm_run's own copies when KVM keeps them current (sync regs): the direct path's */
XG_HOT static int o_kvm_regs(void *o, void **r, const void **s, uint64_t *xcr0)
{
	struct xg_kvm_vcpu *v = o;

	if (!v->sync_regs)
		return -1;
	*r = &v->run->s.regs.regs;
	*s = &v->run->s.regs.sregs;
	*xcr0 = v->xcr0;
	return 0;
}

XG_HOT static void o_kvm_regs_put(void *o, int gprs)
{
	xg_kvm_put_regs_in_place(o, gprs);
}

/* KVM_GET_VCPU_EVENTS (api.rst 4.31) as struct xg_x86_events */
static int o_get_x86_events(void *o, struct xg_x86_events *out)
{
	struct xg_kvm_vcpu *v = o;
	struct kvm_vcpu_events e;

	memset(&e, 0, sizeof(e));
	if (xg_kvm_get_vcpu_events(v, &e, &v->err))
		return -EIO;
	memset(out, 0, sizeof(*out));
	out->exception_injected = e.exception.injected;
	out->exception_pending = e.exception.pending;
	out->exception_nr = e.exception.nr;
	out->exception_has_error_code = e.exception.has_error_code;
	out->exception_error_code = e.exception.error_code;
	out->exception_has_payload = e.exception_has_payload;
	out->exception_payload = e.exception_payload;
	out->interrupt_injected = e.interrupt.injected;
	out->interrupt_nr = e.interrupt.nr;
	out->interrupt_soft = e.interrupt.soft;
	out->interrupt_shadow = e.interrupt.shadow;
	out->nmi_injected = e.nmi.injected;
	out->nmi_pending = e.nmi.pending;
	out->nmi_masked = e.nmi.masked;
	out->smi_pending = e.smi.pending;
	out->smm = e.smi.smm;
	out->triple_fault_pending =
	    (e.flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT) && e.triple_fault.pending;
	return 0;
}

/* With sync regs straight into kvm_run's copy, which holds the current value of every
 * register (xg_kvm_put_regs_in_place): RIP and RFLAGS, and the GPRs only when the caller
 * may have changed them (gprs_unchanged, xg_emu_x86.h). The emulator's usual commit - RIP
 * past an instruction that wrote memory or vector state - writes one line of it. */
static int o_set_x86_regs(void *o, const struct xg_emu_x86_regs *x)
{
	struct xg_kvm_vcpu *v = o;
	struct kvm_regs rb, *r = xg_kvm_put_regs_in_place(v, !x->gprs_unchanged);

	if (!r)
		r = &rb; /* no sync regs: KVM_SET_REGS of all of them */
	r->rip = x->rip;
	r->rflags = x->rflags;
	if (r != &rb && x->gprs_unchanged)
		return 0;
	r->rax = x->gpr[0], r->rcx = x->gpr[1], r->rdx = x->gpr[2], r->rbx = x->gpr[3];
	r->rsp = x->gpr[4], r->rbp = x->gpr[5], r->rsi = x->gpr[6], r->rdi = x->gpr[7];
	memcpy(&r->r8, &x->gpr[8], 8 * sizeof(uint64_t));
	if (r == &rb)
		return xg_kvm_set_regs(v, r, &v->err) ? -EIO : 0;
	return 0;
}

/* ---- vector state ---- */

static int fresh_xsave(struct xg_kvm_vcpu *v)
{
	if (!v->xsave_fresh) {
		if (xg_kvm_get_xsave(v, v->xsave, v->xsave_size, &v->err))
			return -EIO;
		v->xsave_fresh = 1;
	}
	return 0;
}

static int o_get_xsave(void *o, void *buf)
{
	struct xg_kvm_vcpu *v = o;

	if (fresh_xsave(v))
		return -EIO;
	memcpy(buf, v->xsave, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}

XG_HOT static int o_set_xsave(void *o, const void *buf)
{
	struct xg_kvm_vcpu *v = o;

	/* The image past the standard area (components the emulator does not know) is kept
	 * as KVM gave it. The lent image itself (o_lend_xsave) is written as it is: it was
	 * fresh when lent, and reading KVM's now would undo the emulator's work. */
	if (XG_UNLIKELY(buf != v->xsave)) { /* not the lent image: out of its way */
		if (fresh_xsave(v))
			return -EIO;
		memcpy(v->xsave, buf, XG_EMU_X86_XSAVE_SIZE);
	}
	if (xg_kvm_set_xsave(v, v->xsave, v->xsave_size, &v->err)) {
		v->xsave_fresh = 0;
		return -EIO;
	}
	/* another buffer may hold anything where XSTATE_BV says initial: what is lent next
	 * must be KVM's own image (o_lend_xsave says it is explicit), so it is read again */
	v->xsave_fresh = buf == v->xsave;
	return 0;
}

/* The emulator works in v->xsave itself (exitgate.h lend_xsave): no copy in, and its
 * set_xsave of the same buffer none out. */
XG_HOT static int o_lend_xsave(void *o, void **buf)
{
	struct xg_kvm_vcpu *v = o;

	if (fresh_xsave(v))
		return -EIO;
	*buf = v->xsave;
	/* KVM_GET_XSAVE(2) writes the initial values of every component whose XSTATE_BV bit
	 * is clear (the kernel's __copy_xstate_to_uabi_buf, arch/x86/kernel/fpu/xstate.c: the
	 * x87 and SSE parts from init_fpstate, extended components zeroed; t_kvm_xsave_lend
	 * checks it on the running kernel), and the emulator leaves them so: the image is
	 * explicit, and the emulator need not write ~1.8 KiB of zeros into it on every exit */
	return XG_EMU_X86_LENT_EXPLICIT;
}

/* The emulator changed the lent image and did not write it: KVM's is read again next. */
static int o_discard_xsave(void *o)
{
	struct xg_kvm_vcpu *v = o;

	v->xsave_fresh = 0;
	return 0;
}

/* ---- memory (guest RAM and devices: ops_common.c) ---- */

/* what a page walk reads through (x86_walk.c): guest RAM only */
static const struct xg_vcpu_ops walk_ops = {.read_gpa = xg_kvm_op_read_gpa,
					    .ram_ptr = xg_kvm_op_ram_ptr};

static int o_translate(void *o, uint64_t gva, uint64_t *gpa)
{
	struct xg_emu_x86_regs r;
	uint32_t pf;
	int rc;

	if (o_get_x86_regs(o, &r))
		return -EIO;
	rc = xg_x86_walk(&walk_ops, o, &r, gva, XG_EMU_X86_READ, 0, gpa, &pf);
	return rc > 0 ? -EFAULT : rc;
}

/* ---- events ---- */

static int msr_exit(struct xg_kvm_vcpu *v)
{
	return v->run->exit_reason == KVM_EXIT_X86_RDMSR || v->run->exit_reason == KVM_EXIT_X86_WRMSR;
}

static int o_msr_reply(void *o, int error, uint64_t value)
{
	struct xg_kvm_vcpu *v = o;

	if (!msr_exit(v))
		return -EINVAL;
	/* api.rst 5 KVM_EXIT_X86_RDMSR/WRMSR: error = 1 makes KVM inject #GP on the next
	 * KVM_RUN; otherwise RDMSR completes with data in EDX:EAX. */
	v->run->msr.error = error ? 1 : 0;
	if (v->run->exit_reason == KVM_EXIT_X86_RDMSR)
		v->run->msr.data = value;
	return 0;
}

static int o_inject(void *o, unsigned vector, int has_error_code, uint32_t error_code)
{
	struct xg_kvm_vcpu *v = o;
	struct kvm_vcpu_events ev;
	int msr_error, rc;

	if (vector > 31)
		return -EINVAL;
	/* After an IO, MMIO or MSR exit, first put the vCPU back on the instruction with none
	 * of its effects done (fault.c): otherwise the next KVM_RUN completes the access and
	 * the exception arrives after it. An MSR #GP is the exit's own error answer. */
	if ((rc = xg_kvm_fault_prepare(v, vector, &msr_error)))
		return rc;
	if (msr_error)
		return o_msr_reply(o, 1, 0);
	if (xg_kvm_get_vcpu_events(v, &ev, &v->err))
		return -EIO;
	/* api.rst 4.31 KVM_SET_VCPU_EVENTS: without KVM_CAP_EXCEPTION_PAYLOAD, "injected"
	 * is taken as a pending exception, delivered through the guest's IDT at the next
	 * entry with RIP still on the faulting instruction (a fault, SDM Vol. 3A 6.5). */
	ev.exception.injected = 1;
	ev.exception.nr = (uint8_t)vector;
	ev.exception.has_error_code = has_error_code ? 1 : 0;
	ev.exception.error_code = error_code;
	ev.flags = 0;
	return xg_kvm_set_vcpu_events(v, &ev, &v->err) ? -EIO : 0;
}

/* The exit is the guest's KVM_HC_MAP_GPA_RANGE (x86/hypercalls.rst 8), answered in
 * run->hypercall.ret, which KVM puts in the guest's RAX at the next KVM_RUN (api.rst 5,
 * KVM_EXIT_HYPERCALL). */
static int map_gpa_exit(struct xg_kvm_vcpu *v)
{
	return v->run->exit_reason == KVM_EXIT_HYPERCALL &&
	       v->run->hypercall.nr == KVM_HC_MAP_GPA_RANGE;
}

/*
 * The convert verdict: a conversion of the VM's memory (kvm.c, serialised VM-wide). At a
 * MAP_GPA_RANGE exit the guest gets the answer: 0 when done; -KVM_EINVAL for a range that
 * is not whole pages of RAM (checked before any ioctl; the guest asked for it, so the
 * guest is told and runs on); -KVM_EFAULT when a step failed on the host (the memory is as
 * it was, kvm.c; the guest may retry), said on stderr. Elsewhere (a memory_fault) a failed
 * conversion fails the verdict: the guest cannot go on without it.
 */
static int o_set_attrs(void *o, uint64_t gpa, uint64_t size, int to_private)
{
	struct xg_kvm_vcpu *v = o;
	int rc = xg_kvm_set_private(v->vm, gpa, size, to_private, &v->err);

	if (rc && rc != -EINVAL)
		fprintf(stderr, "exitgate: vCPU %d: %s\n", v->index, v->err.msg);
	if (map_gpa_exit(v) && rc != -EOPNOTSUPP) {
		v->run->hypercall.ret = !rc		? 0
					: rc == -EINVAL ? (uint64_t)-KVM_EINVAL
							: (uint64_t)-KVM_EFAULT;
		return 0;
	}
	return rc;
}

static int o_describe_gpa(void *o, uint64_t gpa, char *buf, size_t n)
{
	struct xg_kvm_vcpu *v = o;

	if (v->vmm_ops && v->vmm_ops->describe_gpa)
		return v->vmm_ops->describe_gpa(v->vmm, gpa, buf, n);
	snprintf(buf, n, "unknown (the VMM keeps no device map)");
	return -ENODEV;
}
void xg_kvm_vcpu_ops(struct xg_kvm_vcpu *v, struct xg_vcpu_ops *ops)
{
	*ops = (struct xg_vcpu_ops){
	    .get_reg = o_get_reg,
	    .set_reg = o_set_reg,
	    .read_gpa = xg_kvm_op_read_gpa,
	    .write_gpa = xg_kvm_op_write_gpa,
	    .translate_gva = o_translate,
	    .inject_exception = o_inject,
	    .pause = xg_kvm_op_pause,
	    .resume = xg_kvm_op_resume,
	    .get_x86_regs = o_get_x86_regs,
	    .set_x86_regs = o_set_x86_regs,
	    .get_xsave = o_get_xsave,
	    .set_xsave = o_set_xsave,
	    .mmio_read = xg_kvm_op_mmio_read,
	    .mmio_write = xg_kvm_op_mmio_write,
	    .msr_reply = o_msr_reply,
	    .get_x86_events = o_get_x86_events,
	    .describe_gpa = o_describe_gpa,
	    .set_memory_attributes = o_set_attrs,
	    /* XG_KVM_NO_LEND=1: the copies instead (get_xsave/set_xsave), to compare */
	    .lend_xsave = v->no_lend ? NULL : o_lend_xsave,
	    .discard_xsave = v->no_lend ? NULL : o_discard_xsave,
	    .flags = v->avx512_ok ? 0 : XG_OPS_NO_AVX512_STATE,
	    .ram_ptr = xg_kvm_op_ram_ptr,
	    /* XG_KVM_NO_DIRECT=1: every emulation through the conversions, to compare */
	    .x86_kvm_regs = v->no_direct ? NULL : o_kvm_regs,
	    .x86_kvm_regs_put = v->no_direct ? NULL : o_kvm_regs_put,
	    /* XG_KVM_NO_TLB=1: no translation kept between exits, to compare */
	    .ram_gen = v->no_tlb ? NULL : &v->vm->ram_gen,
	};
}

int xg_kvm_vcpu_avx512_state_ok(struct xg_kvm_vcpu *v)
{
	return v->avx512_ok;
}

/* Does KVM carry the AVX-512 components through GET/SET_XSAVE? Write k1 and read it back. */
static void probe_avx512(struct xg_kvm_vcpu *v)
{
	size_t size = v->xsave_size;
	uint8_t *orig = malloc(size), *back = malloc(size);
	const uint64_t mark = 0x5a5aa5a5c3c33c3cull;
	uint64_t bv, k1;

	v->avx512_ok = 0;
	if (!orig || !back || !(v->xcr0 & XSTATE_AVX512))
		goto out;
	if (xg_kvm_get_xsave(v, orig, size, &v->err))
		goto out;
	memcpy(back, orig, size);
	memcpy(back + XG_EMU_X86_XS_OPMASK + 8, &mark, 8);
	memcpy(&bv, back + XG_EMU_X86_XS_XSTATE_BV, 8);
	bv |= XSTATE_AVX512;
	memcpy(back + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
	if (xg_kvm_set_xsave(v, back, size, &v->err) || xg_kvm_get_xsave(v, back, size, &v->err))
		goto out;
	memcpy(&k1, back + XG_EMU_X86_XS_OPMASK + 8, 8);
	v->avx512_ok = k1 == mark;
	xg_kvm_set_xsave(v, orig, size, &v->err);
out:
	free(orig);
	free(back);
}

int xg_kvm_ops_init(struct xg_kvm_vcpu *v, struct xg_error *err)
{
	int sync = ioctl(v->vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	const int want = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;

	v->xsave = aligned_alloc(64, (v->xsave_size + 63) & ~(size_t)63);
	if (!v->xsave) {
		snprintf(err->msg, sizeof(err->msg), "out of memory for the XSAVE image of vCPU %d",
			 v->index);
		return -1;
	}
	if (sync > 0 && (sync & want) == want && !getenv("XG_KVM_NO_SYNC_REGS")) {
		v->run->kvm_valid_regs = want;
		v->sync_regs = 1;
		/* the copy is filled at the first exit; until then read it by ioctl */
		if (xg_kvm_get_regs(v, &v->run->s.regs.regs, err) ||
		    xg_kvm_get_sregs(v, &v->run->s.regs.sregs, err))
			return -1;
	}
	v->no_lend = getenv("XG_KVM_NO_LEND") != NULL;
	v->no_direct = getenv("XG_KVM_NO_DIRECT") != NULL;
	v->no_tlb = getenv("XG_KVM_NO_TLB") != NULL;
	probe_avx512(v);
	/* XG_KVM_NO_AVX512_STATE=1: as a KVM that cannot carry it (kvm_pvm on the Intel hosts),
	 * so that the refusals are tested where KVM can */
	if (getenv("XG_KVM_NO_AVX512_STATE"))
		v->avx512_ok = 0;
	return 0;
}

void xg_kvm_ops_free(struct xg_kvm_vcpu *v)
{
	free(v->xsave);
	v->xsave = NULL;
}
