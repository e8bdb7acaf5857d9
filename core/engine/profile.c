/*
 * profile.c - the opt-in per-exit cost profile (exitgate.h, struct xg_profile): a phase
 * clock, and timing shims put in front of a vCPU's ops while it is on, so that the exit path
 * carries no test for it when it is off.
 *
 * The clock is exclusive: entering a phase charges the time since the last switch to the
 * phase being left, so nested phases (an ioctl inside a register fetch inside the emulator)
 * are each counted once and the phases add up to the exit's time.
 */
#include <stdlib.h>
#include <time.h>

#include "engine/engine_int.h"

static const char *const phase_names[XG_PROF_COUNT] = {
    [XG_PROF_OTHER] = "other",	 [XG_PROF_DECODE] = "decode",	    [XG_PROF_LOOKUP] = "lookup",
    [XG_PROF_LUA] = "lua",	 [XG_PROF_FETCH] = "fetch",	    [XG_PROF_EMULATE] = "emulate",
    [XG_PROF_DEVICE] = "device", [XG_PROF_WRITEBACK] = "writeback", [XG_PROF_IOCTL] = "ioctl",
};

const char *xg_profile_phase_name(int phase)
{
	return phase >= 0 && phase < XG_PROF_COUNT ? phase_names[phase] : "?";
}

static uint64_t clock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void xg_profile_begin(struct xg_profile *p)
{
	p->phase = XG_PROF_OTHER;
	p->active = 1;
	p->mark = clock_now();
}

int xg_profile_enter(struct xg_profile *p, int phase)
{
	int old = p->phase;
	uint64_t t;

	if (!p->active || phase < 0 || phase >= XG_PROF_COUNT)
		return old;
	t = clock_now();
	p->ns[old] += t - p->mark;
	p->mark = t;
	p->phase = phase;
	return old;
}

void xg_profile_end(struct xg_profile *p)
{
	if (!p->active)
		return;
	xg_profile_enter(p, XG_PROF_OTHER);
	p->active = 0;
	p->exits++;
}

/* ---- the shims: each op timed as its phase, then the VMM's own called ---- */

struct xg_prof_shim {
	struct xg_vcpu_ops ops; /* the VMM's */
	void *opaque;
	struct xg_profile *p;
};

#define TIMED(name, phase, params, args)                                                           \
	static int s_##name params                                                                 \
	{                                                                                          \
		struct xg_prof_shim *s = o;                                                        \
		int old = xg_profile_enter(s->p, phase), rc = s->ops.name args;                    \
		xg_profile_enter(s->p, old);                                                       \
		return rc;                                                                         \
	}
#define PASS(name, params, args)                                                                   \
	static int s_##name params                                                                 \
	{                                                                                          \
		struct xg_prof_shim *s = o;                                                        \
		return s->ops.name args;                                                           \
	}

TIMED(get_reg, XG_PROF_FETCH, (void *o, const char *n, uint64_t *v), (s->opaque, n, v))
TIMED(set_reg, XG_PROF_WRITEBACK, (void *o, const char *n, uint64_t v), (s->opaque, n, v))
PASS(read_gpa, (void *o, uint64_t gpa, void *b, size_t l), (s->opaque, gpa, b, l))
PASS(write_gpa, (void *o, uint64_t gpa, const void *b, size_t l), (s->opaque, gpa, b, l))
PASS(translate_gva, (void *o, uint64_t gva, uint64_t *gpa), (s->opaque, gva, gpa))
PASS(inject_exception, (void *o, unsigned vec, int has, uint32_t code), (s->opaque, vec, has, code))
PASS(inject_external_abort, (void *o), (s->opaque))
PASS(set_memory_attributes, (void *o, uint64_t gpa, uint64_t size, int to_private),
     (s->opaque, gpa, size, to_private))
PASS(emulate, (void *o, const struct xg_exit *x), (s->opaque, x))
PASS(can_emulate, (void *o, const struct xg_exit *x), (s->opaque, x))
PASS(pause, (void *o, const char *why), (s->opaque, why))
PASS(resume, (void *o), (s->opaque))
TIMED(get_x86_regs, XG_PROF_FETCH, (void *o, struct xg_emu_x86_regs *r), (s->opaque, r))
TIMED(set_x86_regs, XG_PROF_WRITEBACK, (void *o, const struct xg_emu_x86_regs *r), (s->opaque, r))
TIMED(get_xsave, XG_PROF_FETCH, (void *o, void *b), (s->opaque, b))
TIMED(set_xsave, XG_PROF_WRITEBACK, (void *o, const void *b), (s->opaque, b))
TIMED(mmio_read, XG_PROF_DEVICE, (void *o, uint64_t gpa, void *b, size_t l), (s->opaque, gpa, b, l))
TIMED(mmio_write, XG_PROF_DEVICE, (void *o, uint64_t gpa, const void *b, size_t l),
      (s->opaque, gpa, b, l))
TIMED(get_arm64_regs, XG_PROF_FETCH, (void *o, struct xg_emu_arm64_regs *r), (s->opaque, r))
TIMED(set_arm64_regs, XG_PROF_WRITEBACK, (void *o, const struct xg_emu_arm64_regs *r),
      (s->opaque, r))
TIMED(get_arm64_vregs, XG_PROF_FETCH, (void *o, struct xg_emu_arm64_vregs *r), (s->opaque, r))
TIMED(set_arm64_vregs, XG_PROF_WRITEBACK, (void *o, const struct xg_emu_arm64_vregs *r),
      (s->opaque, r))
PASS(inject_arm64_sync, (void *o, uint32_t esr, uint64_t far), (s->opaque, esr, far))
PASS(msr_reply, (void *o, int error, uint64_t value), (s->opaque, error, value))
TIMED(get_x86_events, XG_PROF_FETCH, (void *o, struct xg_x86_events *e), (s->opaque, e))
PASS(describe_gpa, (void *o, uint64_t gpa, char *b, size_t n), (s->opaque, gpa, b, n))
TIMED(lend_xsave, XG_PROF_FETCH, (void *o, void **b), (s->opaque, b))
PASS(discard_xsave, (void *o), (s->opaque))

TIMED(x86_kvm_regs, XG_PROF_FETCH, (void *o, void **r, const void **sr, uint64_t *xcr0),
      (s->opaque, r, sr, xcr0))

static void s_x86_kvm_regs_put(void *o, int gprs)
{
	struct xg_prof_shim *s = o;
	int old = xg_profile_enter(s->p, XG_PROF_WRITEBACK);

	s->ops.x86_kvm_regs_put(s->opaque, gprs);
	xg_profile_enter(s->p, old);
}

/* a lookup, not a call to the VMM's devices or KVM: passed on untimed */
static const void *s_ram_ptr(void *o, uint64_t gpa, size_t len)
{
	struct xg_prof_shim *s = o;
	return s->ops.ram_ptr(s->opaque, gpa, len);
}

/* The shim's ops: an op the VMM lacks stays NULL, so the engine sees the same set. An op
 * added to struct xg_vcpu_ops needs its shim here. */
_Static_assert(sizeof(struct xg_vcpu_ops) == 33 * sizeof(void *), "every op has a shim");
#define SHIM(name) (s->ops.name ? s_##name : NULL)
static void shim_ops(const struct xg_prof_shim *s, struct xg_vcpu_ops *ops)
{
	*ops = (struct xg_vcpu_ops){
	    .get_reg = SHIM(get_reg),
	    .set_reg = SHIM(set_reg),
	    .read_gpa = SHIM(read_gpa),
	    .write_gpa = SHIM(write_gpa),
	    .translate_gva = SHIM(translate_gva),
	    .inject_exception = SHIM(inject_exception),
	    .inject_external_abort = SHIM(inject_external_abort),
	    .set_memory_attributes = SHIM(set_memory_attributes),
	    .emulate = SHIM(emulate),
	    .can_emulate = SHIM(can_emulate),
	    .pause = SHIM(pause),
	    .resume = SHIM(resume),
	    .get_x86_regs = SHIM(get_x86_regs),
	    .set_x86_regs = SHIM(set_x86_regs),
	    .get_xsave = SHIM(get_xsave),
	    .set_xsave = SHIM(set_xsave),
	    .mmio_read = SHIM(mmio_read),
	    .mmio_write = SHIM(mmio_write),
	    .get_arm64_regs = SHIM(get_arm64_regs),
	    .set_arm64_regs = SHIM(set_arm64_regs),
	    .get_arm64_vregs = SHIM(get_arm64_vregs),
	    .set_arm64_vregs = SHIM(set_arm64_vregs),
	    .inject_arm64_sync = SHIM(inject_arm64_sync),
	    .msr_reply = SHIM(msr_reply),
	    .flags = s->ops.flags,
	    .get_x86_events = SHIM(get_x86_events),
	    .describe_gpa = SHIM(describe_gpa),
	    .lend_xsave = SHIM(lend_xsave),
	    .discard_xsave = SHIM(discard_xsave),
	    .ram_ptr = SHIM(ram_ptr),
	    .x86_kvm_regs = SHIM(x86_kvm_regs),
	    .x86_kvm_regs_put = SHIM(x86_kvm_regs_put),
	    .ram_gen = s->ops.ram_gen, /* a counter, not a call: the VMM's own */
	};
}

void xg_vcpu_set_profile(xg_vcpu *v, struct xg_profile *p)
{
	struct xg_prof_shim *s = v->prof_shim;

	if (!p) {
		if (s) {
			v->ops = s->ops;
			v->opaque = s->opaque;
			free(s);
		}
		v->prof_shim = NULL;
		v->prof = NULL;
		return;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return; /* not profiled: the caller sees exits stay 0 */
		s->ops = v->ops;
		s->opaque = v->opaque;
		shim_ops(s, &v->ops);
		v->opaque = s;
		v->prof_shim = s;
	}
	s->p = p;
	v->prof = p;
}
