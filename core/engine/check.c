/*
 * check.c - `exitgate check`: everything that can be found wrong with a policy or a
 * configuration without a guest (see xg_policy_check in exitgate.h).
 *
 * A check is what a person runs first on a policy they do not trust, so it must say "ok"
 * only to a policy that will not fail at run time on the exits it claims to handle:
 *  - the configuration, and the files it names: each policy, each guest's payload (found
 *    the way `exitgate run` finds it), each dump_dir (or the parent it would be made in);
 *  - loading under the guest's real limits (the engine's own load does that);
 *  - every handler called with synthetic exits of every kind it would receive, with the
 *    edge values of each kind (every MMIO length, read and write, each MSR exit reason,
 *    lowest and highest addresses, zeroed and all-ones data ...), under the real limits;
 *  - each verdict validated and then applied to a stand-in vCPU whose ops all succeed, so
 *    that a verdict the exit cannot take (xg.msr on an io exit, skip without a length)
 *    shows too.
 * Runtime errors, limit hits, missing and bad verdicts are all errors, each once per
 * message, pointing at the line of the handler's `return`.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>

#include "engine/engine_int.h"
#include "exit/kvm_compat.h"
#include "xg_emu_arm64.h"

/* ---- a stand-in vCPU: every op succeeds; registers and memory read as zero ------------ */

struct stand_in {
	unsigned calls; /* alternates what xg.emulator.supports answers */
	int bundled;	/* the guest has a vm: section: `exitgate run` and its emulator run it */
	const struct xg_exit *x; /* the synthetic exit being checked */
};

/* Whether `emulate` can be carried out for x. A guest that `exitgate run` runs gets exitgate's
 * emulators: x86's finishes emulation failures only, arm64's the data aborts (arm_nisv,
 * mmio); for an embedding VMM (no vm: section) its own emulate op may take any exit, so the
 * stand-in takes them all. */
static int si_emulatable(const struct stand_in *si, const struct xg_exit *x, char *why, size_t n)
{
	if (!si->bundled)
		return 1;
	return x->arch == XG_ARCH_ARM64 ? xg_emulate_arm64_exit_ok(x, why, n)
					: xg_emulate_x86_exit_ok(x, why, n);
}

static int si_get_reg(void *o, const char *name, uint64_t *val)
{
	*val = !strcmp(name, "rip") || !strcmp(name, "pc") ? 0x100000 : 0;
	return 0;
}

static int si_set_reg(void *o, const char *name, uint64_t val)
{
	return 0;
}

/* An arm64 vCPU stands at EL1 with its MMU off, PC at SI_PC holding `ldr x0, [x1]` and x1
 * the fault address of the exit in hand: the data abort verdicts (inject "data_abort" needs
 * the access's VA) can be carried out on every synthetic arm_nisv and mmio exit. */
#define SI_PC	  0x100000ull
#define SI_A64_LD 0xf9400020u /* ldr x0, [x1] */

static int si_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct stand_in *si = o;
	uint32_t w = SI_A64_LD;

	memset(buf, 0, len);
	if (si->x && si->x->arch == XG_ARCH_ARM64 && gpa <= SI_PC && SI_PC + 4 <= gpa + len)
		memcpy((uint8_t *)buf + (SI_PC - gpa), &w, 4);
	return 0;
}

static int si_get_arm64_regs(void *o, struct xg_emu_arm64_regs *r)
{
	struct stand_in *si = o;

	memset(r, 0, sizeof(*r));
	r->pc = SI_PC;
	r->pstate = 0x3c5; /* EL1h, DAIF masked */
	if (si->x && si->x->reason == 28)
		r->x[1] = si->x->u.arm_nisv.fault_ipa;
	else if (si->x && si->x->reason == 6)
		r->x[1] = si->x->u.mmio.phys_addr;
	return 0;
}

static int si_set_arm64_regs(void *o, const struct xg_emu_arm64_regs *r)
{
	return 0;
}

static int si_get_arm64_vregs(void *o, struct xg_emu_arm64_vregs *v)
{
	memset(v, 0, sizeof(*v));
	return 0;
}

static int si_set_arm64_vregs(void *o, const struct xg_emu_arm64_vregs *v)
{
	return 0;
}

static int si_arm64_sync(void *o, uint32_t esr, uint64_t far)
{
	return 0;
}

static int si_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	return 0;
}

static int si_translate(void *o, uint64_t gva, uint64_t *gpa)
{
	*gpa = gva & ((1ull << 52) - 1);
	return 0;
}

static int si_inject(void *o, unsigned vector, int has, uint32_t code)
{
	return 0;
}

static int si_abort(void *o)
{
	return 0;
}

static int si_attrs(void *o, uint64_t gpa, uint64_t size, int priv)
{
	return 0;
}

static int si_emulate(void *o, const struct xg_exit *x)
{
	return 0;
}

/* Both answers, in turn, where emulate can be carried out at all: a policy's emulate branch
 * and its fallback both run. */
static int si_can_emulate(void *o, const struct xg_exit *x)
{
	struct stand_in *si = o;
	char why[160];

	return si_emulatable(si, x, why, sizeof(why)) && (si->calls & 1);
}

static int si_pause(void *o, const char *why)
{
	return 0;
}

static int si_resume(void *o)
{
	return 0;
}

static int si_msr_reply(void *o, int error, uint64_t value)
{
	return 0;
}

static const struct xg_vcpu_ops stand_in_ops = {
    .get_reg = si_get_reg,
    .set_reg = si_set_reg,
    .read_gpa = si_read,
    .write_gpa = si_write,
    .translate_gva = si_translate,
    .inject_exception = si_inject,
    .inject_external_abort = si_abort,
    .set_memory_attributes = si_attrs,
    .emulate = si_emulate,
    .can_emulate = si_can_emulate,
    .pause = si_pause,
    .resume = si_resume,
    .msr_reply = si_msr_reply,
    .get_arm64_regs = si_get_arm64_regs,
    .set_arm64_regs = si_set_arm64_regs,
    .get_arm64_vregs = si_get_arm64_vregs,
    .set_arm64_vregs = si_set_arm64_vregs,
    .inject_arm64_sync = si_arm64_sync,
};

/* ---- synthetic exits -------------------------------------------------------------------- */

struct synth {
	_Alignas(8) uint8_t run[4096];
	char what[120]; /* the edge values, as the report shows them */
	enum xg_arch arch;
};

static struct xg_run_head *head(struct synth *s)
{
	return (struct xg_run_head *)s->run;
}

static union xg_run_union *un(struct synth *s)
{
	return (union xg_run_union *)(s->run + 32);
}

#define MAX_GPA ((1ull << 52) - 1) /* the highest a 52-bit MAXPHYADDR reaches (SDM 4.1.4) */

/* Fills s with variant i of exit reason r (i from 0); returns 0, or -1 past the last. */
static int variant(struct synth *s, uint32_t r, unsigned i)
{
	static const uint32_t msr_reasons[] = {1, 2, 4}; /* KVM_MSR_EXIT_REASON_INVAL, UNKNOWN,
							    FILTER (api.rst 5, kvm_run.msr) */
	static const uint32_t msr_index[] = {0, 0xc0000080, 0xffffffff};
	static const uint64_t mmio_gpa[] = {0, 0xfee00000, MAX_GPA - 7};
	static const uint16_t ports[] = {0, 0x3f8, 0xffff};
	uint8_t fill = (i & 1) ? 0xff : 0; /* data: zeros, then all ones */

	memset(s->run, 0, sizeof(s->run));
	head(s)->exit_reason = r;
	s->arch = r == 28 || r == 41 ? XG_ARCH_ARM64 : XG_ARCH_X86_64;
	snprintf(s->what, sizeof(s->what), "zeroed");
	switch (r) {
	case 2: { /* io: size x direction x port (api.rst 5, KVM_EXIT_IO) */
		unsigned size = 1u << (i % 3), dir = (i / 3) & 1, port = i / 6;
		if (port >= 3)
			return -1;
		un(s)->io.size = (uint8_t)size;
		un(s)->io.direction = (uint8_t)dir;
		un(s)->io.port = ports[port];
		un(s)->io.count = 1;
		un(s)->io.data_offset = 1024;
		memset(s->run + 1024, (i & 1) ? 0xff : 0, size);
		snprintf(s->what, sizeof(s->what), "%s port %#x, size %u, data %s",
			 dir ? "out" : "in", ports[port], size, (i & 1) ? "all ones" : "zero");
		return 0;
	}
	case 6: { /* mmio: every length, read and write, lowest and highest gpa */
		unsigned len = 1u << (i % 4), write = (i / 4) & 1, g = i / 8;
		if (g >= 3)
			return -1;
		un(s)->mmio.phys_addr = mmio_gpa[g];
		un(s)->mmio.len = len;
		un(s)->mmio.is_write = (uint8_t)write;
		memset(un(s)->mmio.data, write ? fill : 0, len);
		snprintf(s->what, sizeof(s->what), "%s of %u bytes at gpa %#llx",
			 write ? "write" : "read", len, (unsigned long long)mmio_gpa[g]);
		return 0;
	}
	case 29: /* x86_rdmsr, x86_wrmsr: each reason, lowest/EFER/highest index */
	case 30: {
		unsigned rs = i % 3, ix = (i / 3) % 3;
		if (i >= 18)
			return -1;
		un(s)->msr.reason = msr_reasons[rs];
		un(s)->msr.index = msr_index[ix];
		un(s)->msr.data = i >= 9 ? ~0ull : 0;
		snprintf(s->what, sizeof(s->what), "msr %#x, reason %u, data %s", msr_index[ix],
			 msr_reasons[rs], i >= 9 ? "all ones" : "zero");
		return 0;
	}
	case 39: { /* memory_fault: private and shared; lowest and highest page; 4K and 2M */
		static const uint64_t gpa[] = {0, 0x100000, (MAX_GPA + 1) - 0x200000};
		uint64_t size = (i / 2) & 1 ? 0x200000 : 0x1000;
		if (i >= 12)
			return -1;
		un(s)->memory_fault.flags = (i & 1) ? KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
		un(s)->memory_fault.gpa = gpa[i / 4];
		un(s)->memory_fault.size = size;
		snprintf(s->what, sizeof(s->what), "%s, gpa %#llx, size %#llx",
			 (i & 1) ? "to private" : "to shared", (unsigned long long)gpa[i / 4],
			 (unsigned long long)size);
		return 0;
	}
	case 13: /* hypercall: nr 0 and KVM_HC_MAP_GPA_RANGE (12) with its arguments */
		if (i >= 4)
			return -1;
		un(s)->hypercall.nr = i < 2 ? 0 : 12;
		un(s)->hypercall.args[0] = i < 2 ? 0 : 0x100000;
		un(s)->hypercall.args[1] = i < 2 ? 0 : 1;
		un(s)->hypercall.args[2] = (i & 1) ? 0x10 : 0; /* KVM_MAP_GPA_RANGE_ENCRYPTED */
		un(s)->hypercall.flags = 1;		       /* longmode */
		snprintf(s->what, sizeof(s->what), "nr %u, args %s", i < 2 ? 0 : 12,
			 (i & 1) ? "encrypted" : "decrypted");
		return 0;
	case 28: { /* arm_nisv: esr_iss zero and all ones, ipa lowest and highest */
		static const uint64_t ipa[] = {0, 0x9000000, (1ull << 48) - 8};
		if (i >= 6)
			return -1;
		un(s)->arm_nisv.esr_iss = (i & 1) ? 0x1ffffff : 0;
		un(s)->arm_nisv.fault_ipa = ipa[i / 2];
		snprintf(s->what, sizeof(s->what), "esr_iss %#x, ipa %#llx",
			 (i & 1) ? 0x1ffffff : 0, (unsigned long long)ipa[i / 2]);
		return 0;
	}
	case 17: /* internal_error: each suberror but emulation (below), no data and all */
		if (i >= 6)
			return -1;
		un(s)->internal.suberror = 2 + i / 2;
		un(s)->internal.ndata = (i & 1) ? 16 : 0;
		memset(un(s)->internal.data, fill, sizeof(un(s)->internal.data));
		snprintf(s->what, sizeof(s->what), "suberror %u, ndata %u", 2 + i / 2,
			 (i & 1) ? 16 : 0);
		return 0;
	case 24: /* system_event: each type, no data and one word */
		if (i >= 12)
			return -1;
		un(s)->system_event.type = 1 + i / 2;
		un(s)->system_event.ndata = i & 1;
		snprintf(s->what, sizeof(s->what), "type %u, ndata %u", 1 + i / 2, i & 1);
		return 0;
	default: /* zeroed, then the union all ones */
		if (i >= 2)
			return -1;
		if (i == 1) {
			memset(s->run + 32, 0xff, 256);
			snprintf(s->what, sizeof(s->what), "payload all ones");
		}
		return 0;
	}
}

/* Emulation failures (internal_error, suberror 1, api.rst 5): instruction bytes of every
 * length KVM reports (1, 2, 15), and none. */
static int emulation_variant(struct synth *s, unsigned i)
{
	static const uint8_t ud2[] = {0x0f, 0x0b};

	if (i >= 4)
		return -1;
	memset(s->run, 0, sizeof(s->run));
	head(s)->exit_reason = 17;
	s->arch = XG_ARCH_X86_64;
	un(s)->emulation_failure.suberror = 1;
	if (i == 3) {
		snprintf(s->what, sizeof(s->what), "no instruction bytes");
		return 0;
	}
	un(s)->emulation_failure.ndata = 3;
	un(s)->emulation_failure.flags =
	    1; /* KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES */
	if (i == 0) {
		un(s)->emulation_failure.insn_size = 2;
		memcpy(un(s)->emulation_failure.insn_bytes, ud2, 2);
	} else if (i == 1) {
		un(s)->emulation_failure.insn_size = 1;
		un(s)->emulation_failure.insn_bytes[0] = 0x90;
	} else {
		un(s)->emulation_failure.insn_size = 15;
		memset(un(s)->emulation_failure.insn_bytes, 0x66, 14); /* prefixes, then nop */
		un(s)->emulation_failure.insn_bytes[14] = 0x90;
	}
	snprintf(s->what, sizeof(s->what), "%u instruction bytes",
		 un(s)->emulation_failure.insn_size);
	return 0;
}

/* ---- running them ----------------------------------------------------------------------- */

#define SEEN_MAX 64

struct report {
	FILE *out;
	int errors;
	char seen[SEEN_MAX][160]; /* messages already reported (one line per mistake) */
	int nseen;
	unsigned calls;
};

static void report_error(struct report *rp, const char *msg, const char *kind, const char *what)
{
	for (int i = 0; i < rp->nseen; i++)
		if (!strncmp(rp->seen[i], msg, sizeof(rp->seen[i]) - 1))
			return;
	if (rp->nseen < SEEN_MAX) {
		/* the first 159 bytes tell messages apart (compared the same way above) */
		size_t n = strnlen(msg, sizeof(rp->seen[0]) - 1);
		memcpy(rp->seen[rp->nseen], msg, n);
		rp->seen[rp->nseen++][n] = 0;
	}
	fprintf(rp->out, "error: %s (on a synthetic %s exit: %s)\n", msg, kind, what);
	rp->errors++;
}

static void run_one(struct xg_vcpu *v, struct stand_in *si, struct report *rp, struct synth *s)
{
	struct xg_exit_opts o = {s->arch, s->arch == XG_ARCH_ARM64 ? XG_HW_NONE : XG_HW_VMX};
	struct xg_verdict vd;
	struct xg_exit x;
	struct xg_error err;
	enum xg_fail f;
	char msg[768], amsg[400], why[200];
	int shape, slot, d = 0, refused = 0;

	if (xg_exit_decode(&x, s->run, sizeof(s->run), &o, &err))
		return; /* not an exit KVM can produce: nothing to check */
	slot = xg_slot_of(&x);
	if (v->ls->handlers[slot] == LUA_NOREF && v->ls->handlers[XG_SLOT_DEFAULT] == LUA_NOREF)
		return; /* no handler: on_error at run time, by design */
	si->calls = ++rp->calls;
	si->x = &x;
	v->ls->kvm_errno = 0;
	f = xg_lstate_call(v->ls, &x, &vd, &shape, msg, sizeof(msg));
	if (f != XG_FAIL_NONE) {
		report_error(rp, msg, x.kind, s->what);
		return;
	}
	if (vd.kind == XG_VERDICT_EMULATE && !si_emulatable(si, &x, why, sizeof(why))) {
		snprintf(amsg, sizeof(amsg),
			 "verdict 'emulate' under exitgate run (the guest has a vm: section): %s; "
			 "ask xg.emulator.supports(e) first",
			 why);
		refused = 1;
	}
	if (refused || xg_verdict_apply(v, &x, &vd, &d, amsg, sizeof(amsg)) == XG_NEXT_ERROR) {
		char at[16] = "";
		if (v->ls->return_line > 0)
			snprintf(at, sizeof(at), ":%d", v->ls->return_line);
		snprintf(msg, sizeof(msg), "policy %s%s: handler '%s' (%s): %s", v->ls->chunk, at,
			 x.kind, v->ls->where[v->ls->called], amsg); /* the handler that ran */
		report_error(rp, msg, x.kind, s->what);
	}
}

static void check_handlers(struct xg_vcpu *v, struct stand_in *si, struct report *rp)
{
	struct synth s;

	for (uint32_t r = 0; r < XG_SLOT_REASONS; r++) {
		if (!xg_exit_reason_name(r))
			continue;
		for (unsigned i = 0; !variant(&s, r, i); i++)
			run_one(v, si, rp, &s);
	}
	for (unsigned i = 0; !emulation_variant(&s, i); i++)
		run_one(v, si, rp, &s);
	/* a reason newer than this build knows: the unknown handler, or default */
	for (unsigned i = 0; !variant(&s, 1000, i); i++)
		run_one(v, si, rp, &s);
}

/* The files the configuration names for this guest, besides the policy (which the config
 * parser already found): the payload `exitgate run` would load, the dump directory. */
static int check_paths(const struct xg_config *cfg, const struct xg_guest_cfg *g, FILE *out)
{
	struct xg_error err;
	char path[PATH_MAX];
	struct stat st;
	int errors = 0;

	if (g->vm.present && g->vm.payload &&
	    xg_config_find_payload(cfg->base_dir, g->vm.payload, path, sizeof(path), &err)) {
		fprintf(out, "error: %s: guest '%s': vm.payload: %s\n", cfg->name, g->name,
			err.msg);
		errors++;
	}
	if (g->dump_dir) {
		if (!stat(g->dump_dir, &st)) {
			if (!S_ISDIR(st.st_mode)) {
				fprintf(out,
					"error: %s: guest '%s': dump_dir %s exists and is not a "
					"directory\n",
					cfg->name, g->name, g->dump_dir);
				errors++;
			}
		} else {
			char parent[PATH_MAX];
			char *slash;
			snprintf(parent, sizeof(parent), "%s", g->dump_dir);
			while ((slash = strrchr(parent, '/')) && slash > parent && !slash[1])
				*slash = 0; /* "a/b/" names a/b */
			slash = strrchr(parent, '/');
			if (slash && slash > parent)
				*slash = 0;
			else
				snprintf(parent, sizeof(parent), slash ? "/" : ".");
			if (stat(parent, &st) || !S_ISDIR(st.st_mode)) {
				fprintf(out,
					"error: %s: guest '%s': dump_dir %s cannot be created: its "
					"parent %s is not a directory (only the last level is "
					"created)\n",
					cfg->name, g->name, g->dump_dir, parent);
				errors++;
			}
		}
	}
	return errors;
}

static int check_guest(struct xg_engine *e, const struct xg_guest_cfg *g, FILE *out)
{
	struct stand_in si = {0, g->vm.present, NULL};
	struct report *rp;
	struct xg_error err;
	struct xg_vcpu *v = xg_vcpu_attach(e, g->name, 0, &stand_in_ops, &si, &err);
	int errors;

	if (!v) {
		fprintf(out, "error: %s\n", err.msg);
		return 1;
	}
	rp = calloc(1, sizeof(*rp));
	if (!rp) {
		xg_vcpu_detach(v);
		fprintf(out, "error: out of memory\n");
		return 1;
	}
	rp->out = out;
	/* a check writes no dump files; it traces where each handler returns */
	free(v->ls->dump_dir);
	v->ls->dump_dir = NULL;
	v->ls->trace_returns = 1;
	check_handlers(v, &si, rp);
	errors = rp->errors;
	free(rp);
	xg_vcpu_detach(v);
	return errors;
}

static void quiet(void *ud, const char *line)
{
	(void)ud;
	(void)line;
}

int xg_policy_check(const char *path, FILE *out)
{
	struct xg_error err;
	size_t l = strlen(path);
	int yaml =
	    (l > 5 && !strcmp(path + l - 5, ".yaml")) || (l > 4 && !strcmp(path + l - 4, ".yml"));
	struct xg_config *cfg =
	    yaml ? xg_config_load(path, &err) : xg_config_for_policy(path, &err);
	struct xg_engine *e;
	int errors = 0;

	if (!cfg) {
		fprintf(out, "error: %s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < cfg->n; i++)
		errors += check_paths(cfg, &cfg->guests[i], out);
	e = xg_engine_new(cfg, &err);
	if (!e) {
		fprintf(out, "error: %s\n", err.msg);
		xg_config_free(cfg);
		return errors + 1;
	}
	xg_engine_set_log(e, quiet, NULL);
	for (size_t i = 0; i < cfg->n; i++)
		errors += check_guest(e, &e->cfg->guests[i], out);
	xg_engine_free(e);
	xg_config_free(cfg);
	return errors;
}
