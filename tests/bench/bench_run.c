/*
 * bench_run.c - what exitgate costs a real guest: the same loop of emulation-failure exits
 * handled four ways in one run, on /dev/kvm.
 *
 *   plain   hand-written C for the one instruction, the baseline a VMM has today: read the
 *           registers, KVM_GET_XSAVE, translate RAX through the guest's page tables (walked
 *           in guest RAM: mmio_loop.h guest_walk; a VMM cannot take a linear address for a
 *           physical one), put the device's 32 bytes into XMM0 and YMM0's upper half,
 *           KVM_SET_XSAVE, RIP += 4, KVM_SET_REGS
 *   cached  xg_handle_exit with `return xg.cache(xg.emulate(), "insn")`: after the first
 *           exit the verdict comes from the cache, and exitgate's emulator does the work
 *   lua     xg_handle_exit with `return xg.emulate()`: a Lua call on every exit
 *   saving  the plain loop with what the engine's backend saves: RIP goes back in
 *           kvm_run with KVM_SYNC_X86_REGS in kvm_dirty_regs for KVM_RUN to apply (api.rst 5
 *           "kvm_run"), not by KVM_SET_REGS; KVM_SET_XSAVE only when vector state was
 *           written (the load; the store writes none, like every variant); the last walk
 *           kept and served while its entries hold their values, as the engine keeps its
 *           translation (mmio_loop.h guest_walk_kept; XG_KVM_NO_TLB=1 turns the engine's off,
 *           not this one)
 *
 * The engine variants use the backend's vCPU ops (xg_kvm_vcpu_ops), which read registers
 * from kvm_run when KVM_CAP_SYNC_REGS is on and write them back there; the plain loops read
 * them from the same place (or with KVM_GET_REGS when it is off, XG_KVM_NO_SYNC_REGS=1), so
 * the engine and the saving plain loop issue the same ioctls per exit: KVM_RUN,
 * KVM_GET_XSAVE(2), KVM_SET_XSAVE on loads; the first plain loop adds KVM_SET_REGS. The
 * engine is compared with the plain loop that makes its ioctls; each variant's ioctls per
 * exit, as the backend counted them (xg_kvm_vcpu_ioctl_counts), are printed.
 *
 * The guest runs `vmovdqu (%rax),%ymm0` on the MMIO window N times, then stores YMM0 to RAM
 * (one more exit) and checks it with integer code. The device answers read k with the
 * quadwords {k, 2k, 3k, 4k}, so the stored value is {N, 2N, 3N, 4N} only if exactly N loads
 * reached the device and the last one landed in YMM0; the guest reports 0 through port 0x10
 * when it is. Every variant must handle N + 1 exits and see that 0.
 *
 * This machine is shared and KVM's ioctls dominate (kvm_pvm: ~7 us each, most of it MSR
 * reads in vcpu_load), so a round gives each variant a fresh VM and vCPU and then advances
 * the four guests in turns of 5 exits (~0.1 ms), rotating who goes first (the order is a
 * fixed cycle: each variant always follows the same one): a slow spell of the host that
 * lasts milliseconds falls on all four alike. In turns of 500 exits (10 ms) one spell fell
 * on one variant's turn: at load below 1 the cached handler's difference within a round
 * spanned 50-481 ns between the rounds' quartiles (median 196, nine runs), in turns of 5
 * 22-139 ns (median 93, eight runs; AMD EPYC, kvm_pvm, 2026-12-03). Turns cannot spread a
 * stall inside one exit: at load 1.6-3.5 a review counted exits of 4 ms (the scheduler's
 * tick) in most rounds and up to 108 ms, each adding microseconds to one variant's round
 * mean, and the quartiles spanned 1.3-2.2 us in turns of 5; the means then say little, the
 * median exit stays. The ratios are the median over rounds of each round's ratio, and the
 * per-exit differences likewise the median over rounds of each round's difference (paired:
 * the rounds' means move together by hundreds of ns, which a difference of each variant's
 * median over rounds takes in; that figure is printed too, as is the breakdown's handler
 * row). Each exit's time is split into time inside KVM_RUN and the rest (the handler and
 * its ioctls) to show where a difference lies, and the handler's difference is also given
 * at the 10th, 50th and 90th percentiles of each round's exits: the same at all three is a
 * cost every exit pays (instructions, cache lines), a larger one at p90 a tail.
 * Its timings are not part of the suite (t_exit_cost counts its exits' instructions under
 * callgrind): run build/bench/bench_run [exits per run] [rounds] [exits per turn].
 * Targets (issue 15): the engine's handler over the plain loop making the same ioctls
 * <= 150 ns per exit cached and <= 400 ns through the Lua policy; as consequences here,
 * engine-cached >= 0.99 of that loop's exits per second and Lua >= 0.98.
 *
 * After the timed rounds, one more round runs with the per-exit profile on (exitgate.h,
 * struct xg_profile; the plain loop times the same phases itself) and prints where each
 * variant's handler time goes: decode, cache lookup, Lua call, state fetch, emulate, device,
 * write-back and ioctls. Allocations made while handling exits are counted in every round
 * (tests/alloc_count.h) past each run's first WARM_EXITS exits and printed per exit.
 *
 * For an instruction count of one variant's handler (callgrind), BENCH_RUN_ONLY=plain,
 * cached, lua or saving runs that variant alone, without the profiled round, and prints
 * nothing but a line saying so (with where round_run was loaded: t_exit_lines names the code
 * it traces by it): `BENCH_RUN_ONLY=cached valgrind --tool=callgrind
 * --toggle-collect=xg_handle_exit build/bench/bench_run 4000 1`, Ir / 4001 per exit.
 *
 * BENCH_RUN_COLD=<KiB> runs the timed rounds with the caches as a busy host leaves them:
 * every variant reads that much memory after each KVM_RUN, outside its figures (cold_setup).
 * The targets are for the default, warm runs; t_exit_lines counts the lines that make the
 * difference there.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../alloc_count.h"
#include "backend/kvm/xg_kvm.h"
#include "exitgate.h"
#include "xg_emu_x86.h"
#include "mmio_loop.h"

#define PORT_RESULT 0x10
#define RESULT_GPA  0x200000ULL
#define MAX_ROUNDS  64
#define WARM_EXITS  64 /* a run's first exits may allocate (Lua stack, cache): not counted */

/*
 * The guest, at XG_KVM_LOAD_ADDR in 64-bit mode with RCX = N (bytes from `gcc -c` and
 * `objdump -d` of the assembly on the right).
 */
static const uint8_t guest[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /*     mov $0xd0000000,%eax  XG_KVM_MMIO_BASE   */
    0x48, 0x89, 0xca,		  /*     mov %rcx,%rdx                             */
    0xc5, 0xfe, 0x6f, 0x00,	  /* 1:  vmovdqu (%rax),%ymm0  the measured exit   */
    0x48, 0xff, 0xc9,		  /*     dec %rcx                                  */
    0x75, 0xf7,			  /*     jne 1b                                    */
    0xbb, 0x00, 0x00, 0x20, 0x00, /*     mov $0x200000,%ebx    RESULT_GPA          */
    0xc5, 0xfe, 0x7f, 0x03,	  /*     vmovdqu %ymm0,(%rbx)  one store exit      */
    0x48, 0x89, 0xd6,		  /*     mov %rdx,%rsi                             */
    0x31, 0xc9,			  /*     xor %ecx,%ecx                             */
    0x48, 0x39, 0x14, 0xcb,	  /* 2:  cmp %rdx,(%rbx,%rcx,8)  qword i = (i+1)*N */
    0x75, 0x0e,			  /*     jne 3f                                    */
    0x48, 0x01, 0xf2,		  /*     add %rsi,%rdx                             */
    0xff, 0xc1,			  /*     inc %ecx                                  */
    0x83, 0xf9, 0x04,		  /*     cmp $4,%ecx                               */
    0x75, 0xf0,			  /*     jne 2b                                    */
    0x31, 0xc0,			  /*     xor %eax,%eax         pass: 0             */
    0xeb, 0x05,			  /*     jmp 4f                                    */
    0xb8, 0x01, 0x00, 0x00, 0x00, /* 3:  mov $1,%eax           fail: 1             */
    0xe6, 0x10,			  /* 4:  out %al,$0x10                             */
    0xf4,			  /*     hlt                                       */
};

static const uint8_t insn_store[] = {0xc5, 0xfe, 0x7f, 0x03}; /* vmovdqu %ymm0,(%rbx) */

enum variant { PLAIN, CACHED, LUA, SAVING, NVARIANTS };
static const char *const variant_name[NVARIANTS] = {"plain C loop (hand-written)",
						    "engine, cached verdict", "engine, Lua policy",
						    "plain C loop, with savings"};
static const char *const variant_policy[NVARIANTS] = {
    NULL,
    POLICY_CACHED,
    POLICY_LUA,
    NULL,
};
#define IS_PLAIN(var) ((var) == PLAIN || (var) == SAVING)

/* One run's outcome. */
struct run {
	double seconds;
	double in_run;	    /* of that, seconds inside KVM_RUN (the guest and KVM's emulator) */
	uint64_t exits;	    /* emulation failures handled */
	int result;	    /* what the guest reported on PORT_RESULT, -1 if nothing */
	uint64_t dev_reads; /* the device's count */
	uint64_t lua_calls; /* engine variants: xg_stats */
	uint64_t cache_hits;
	size_t xsave_size;
	int sync_regs;			   /* KVM_CAP_SYNC_REGS was on: registers came in kvm_run */
	int xsave2;			   /* KVM_GET_XSAVE2 was used */
	struct xg_kvm_ioctl_counts ioctls; /* while the guest ran */
	uint64_t allocs, counted; /* allocations while handling exits past WARM_EXITS; exits */
	double cold;		  /* BENCH_RUN_COLD: seconds of eviction, in no other figure */
	struct xg_profile prof;	  /* the profiled round's */
	/* ... and each exit's time per phase, for medians that preemption cannot move (the
	 * machine is shared: a mean takes in whatever ran meanwhile) */
	float *per_exit[XG_PROF_COUNT + 1]; /* the last: the exit's total */
	uint64_t nper;
	/* timed rounds: each handled exit's handler time, KVM_RUN's return to the next KVM_RUN
	 * (the loop's own clock reads, nothing added), for the median exit */
	float *hex;
	uint64_t nhex, hcap;
	char error[512];
};

/* ---- the plain loop's handler: exactly the two instructions of this guest ---- */

struct plain {
	struct xg_kvm_vcpu *v;
	struct xg_kvm_vm *vm;
	struct device *dev;
	uint8_t *xsave;
	size_t xsave_size;
	uint64_t xcr0;
	int saving;		 /* registers back through kvm_run (KVM_CAP_SYNC_REGS) */
	struct kept_walk kept;	 /* ... and the last walk kept (mmio_loop.h) */
	uint64_t puts;		 /* ... so many times */
	struct xg_profile *prof; /* the profiled round: phases timed as the engine's are */
	struct xg_error err;
};

static void phase(struct plain *p, int ph)
{
	if (p->prof)
		xg_profile_enter(p->prof, ph);
}

static int __attribute__((format(printf, 2, 3))) plain_fail(struct plain *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err.msg, sizeof(p->err.msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* The registers as the engine's ops get them: the kvm_run copy when KVM keeps it current
 * (KVM_CAP_SYNC_REGS; api.rst 5, kvm_run: kvm_valid_regs), else KVM_GET_REGS. */
static int plain_regs(struct plain *p, struct kvm_run *run, struct kvm_regs *r,
		      struct kvm_sregs *s)
{
	if (run->kvm_valid_regs & KVM_SYNC_X86_SREGS)
		*s = run->s.regs.sregs;
	else if (xg_kvm_get_sregs(p->v, s, &p->err))
		return -1;
	if (run->kvm_valid_regs & KVM_SYNC_X86_REGS) {
		*r = run->s.regs.regs;
		return 0;
	}
	return xg_kvm_get_regs(p->v, r, &p->err);
}

/*
 * The load: load_ymm0 (mmio_loop.h). vmovdqu %ymm0,(%rbx) (SDM Vol. 2B, VEX.256.F3.0F 7F
 * /r): m256 = YMM0, read through XSTATE_BV (a component in its init state reads as zeros).
 */
static int plain_handle(struct plain *p, struct kvm_run *run)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	uint8_t val[32];
	uint64_t bv, gpa;
	int load;

	phase(p, XG_PROF_DECODE);
	if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
	    run->emulation_failure.suberror != KVM_INTERNAL_ERROR_EMULATION ||
	    !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) ||
	    run->emulation_failure.insn_size < sizeof(insn_load))
		return plain_fail(p, "exit %u is not an emulation failure with instruction bytes",
				  run->exit_reason);
	if (!memcmp(run->emulation_failure.insn_bytes, insn_load, sizeof(insn_load)))
		load = 1;
	else if (!memcmp(run->emulation_failure.insn_bytes, insn_store, sizeof(insn_store)))
		load = 0;
	else
		return plain_fail(p, "the plain loop knows only this guest's two vmovdqu");
	phase(p, XG_PROF_FETCH);
	if (plain_regs(p, run, &r, &sr) ||
	    xg_kvm_get_xsave(p->v, p->xsave, p->xsave_size, &p->err))
		return -1;
	phase(p, XG_PROF_EMULATE);
	if (guest_walk_kept(p->vm, &sr, load ? r.rax : r.rbx, !load, &gpa,
			    p->saving ? &p->kept : NULL))
		return plain_fail(p, "%#llx: not mapped for this access",
				  (unsigned long long)(load ? r.rax : r.rbx));
	memcpy(&bv, p->xsave + XG_EMU_X86_XS_XSTATE_BV, 8);
	if (load) {
		phase(p, XG_PROF_DEVICE);
		if (dev_read(p->dev, gpa, val, sizeof(val)))
			return plain_fail(p, "no device at %#llx", (unsigned long long)gpa);
		phase(p, XG_PROF_EMULATE);
		load_ymm0(p->xsave, p->xcr0, val);
		phase(p, XG_PROF_WRITEBACK);
		if (xg_kvm_set_xsave(p->v, p->xsave, p->xsave_size, &p->err))
			return -1;
	} else {
		uint8_t *dst = xg_kvm_gpa_ptr(p->vm, gpa, sizeof(val));
		memset(val, 0, sizeof(val)); /* a component in its init state reads as zeros */
		if (bv & 0x2)
			memcpy(val, p->xsave + XG_EMU_X86_XS_XMM0, 16);
		if (bv & 0x4)
			memcpy(val + 16, p->xsave + XG_EMU_X86_XS_YMMH, 16);
		if (!dst)
			return plain_fail(p, "store to %#llx: not RAM", (unsigned long long)gpa);
		memcpy(dst, val, sizeof(val));
	}
	r.rip += sizeof(insn_load); /* both are 4 bytes */
	phase(p, XG_PROF_WRITEBACK);
	if (p->saving && (run->kvm_valid_regs & KVM_SYNC_X86_REGS)) {
		run->s.regs.regs.rip = r.rip;
		run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		p->puts++;
		return 0;
	}
	return xg_kvm_set_regs(p->v, &r, &p->err);
}

/* ---- one run: a fresh VM, the guest, the loop ---- */

static char policy_dir[64] = "/tmp/xg-bench-run-XXXXXX";

static const char *write_policy(enum variant var)
{
	static char path[NVARIANTS][128];
	FILE *f;

	snprintf(path[var], sizeof(path[var]), "%s/%d.lua", policy_dir, (int)var);
	f = fopen(path[var], "w");
	if (!f || fputs(variant_policy[var], f) < 0 || fclose(f)) {
		perror(path[var]);
		exit(1);
	}
	return path[var];
}

static void quiet(void *ud, const char *line)
{
}

/* A variant's run in progress: its VM and vCPU, the device, and the handler's state. */
struct ctx {
	enum variant var;
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct kvm_run *run;
	size_t run_size;
	struct device dev;
	struct plain p;
	struct xg_vcpu_ops ops;
	xg_config *cfg;
	xg_engine *eng;
	xg_vcpu *xv;
	int done;
	struct run out;
	struct xg_kvm_ioctl_counts ioctls0; /* at the start */
	int profile;			    /* this round is the profiled one */
};

static int ctx_fail(struct ctx *c, const char *msg)
{
	snprintf(c->out.error, sizeof(c->out.error), "%s", msg);
	return -1;
}

static int per_exit_alloc(struct ctx *c, uint64_t n)
{
	for (int ph = 0; ph <= XG_PROF_COUNT; ph++)
		if (!(c->out.per_exit[ph] = calloc(n + 1, sizeof(float))))
			return -1;
	return 0;
}

/* The profiled exit just handled: its phases from the profile's sums. */
static void per_exit_note(struct ctx *c, uint64_t before[XG_PROF_COUNT])
{
	double total = 0;

	if (!c->out.per_exit[0] || c->out.nper >= c->out.exits + 1)
		return;
	for (int ph = 0; ph < XG_PROF_COUNT; ph++) {
		double d = (double)(c->out.prof.ns[ph] - before[ph]);
		c->out.per_exit[ph][c->out.nper] = (float)d;
		total += d;
	}
	c->out.per_exit[XG_PROF_COUNT][c->out.nper++] = (float)total;
}

/* A fresh VM with the guest ready to run N loads, and the variant's handler attached. */
static int ctx_open(struct ctx *c, enum variant var, uint64_t n, int profile)
{
	struct xg_error err = {{0}};
	struct kvm_regs regs;

	memset(c, 0, sizeof(*c));
	c->var = var;
	c->profile = profile;
	c->out.result = -1;
	if (!profile && !(c->out.hex = calloc(n + 1, sizeof(float))))
		return ctx_fail(c, "out of memory");
	c->out.hcap = c->out.hex ? n + 1 : 0;
	if (xg_kvm_vm_create(&c->vm, NULL, &err) ||
	    xg_kvm_enable_cap(c->vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(c->vm, XG_KVM_LOAD_ADDR, guest, sizeof(guest), &err) ||
	    xg_kvm_vcpu_create(c->vm, 0, XG_KVM_LOAD_ADDR, &c->v, &err) ||
	    xg_kvm_get_regs(c->v, &regs, &err))
		return ctx_fail(c, err.msg);
	regs.rcx = n;
	if (xg_kvm_set_regs(c->v, &regs, &err))
		return ctx_fail(c, err.msg);
	xg_kvm_vcpu_set_vmm(c->v, &dev_ops, &c->dev);
	c->run = xg_kvm_vcpu_run_area(c->v, &c->run_size);
	c->out.xsave_size = xg_kvm_xsave_size(c->v);
	c->out.xsave2 = xg_kvm_check_cap(c->vm, KVM_CAP_XSAVE2) > 0;
	xg_kvm_vcpu_ioctl_counts(c->v, &c->ioctls0);
	if (IS_PLAIN(var)) {
		c->p =
		    (struct plain){.v = c->v, .vm = c->vm, .dev = &c->dev, .saving = var == SAVING};
		c->p.xcr0 = xg_kvm_vcpu_xcr0(c->v);
		c->p.xsave_size = c->out.xsave_size;
		c->p.xsave = aligned_alloc(64, (c->p.xsave_size + 63) & ~(size_t)63);
		if (profile) {
			c->p.prof = &c->out.prof;
			xg_kvm_vcpu_set_profile(c->v, &c->out.prof);
			if (per_exit_alloc(c, n))
				return ctx_fail(c, "out of memory");
		}
		return c->p.xsave ? 0 : ctx_fail(c, "out of memory");
	}
	xg_kvm_vcpu_ops(c->v, &c->ops);
	c->cfg = xg_config_for_policy(write_policy(var), &err);
	c->eng = c->cfg ? xg_engine_new(c->cfg, &err) : NULL;
	if (c->eng)
		xg_engine_set_log(c->eng, quiet, NULL);
	c->xv = c->eng ? xg_vcpu_attach(c->eng, "default", 0, &c->ops, c->v, &err) : NULL;
	if (c->xv && profile) {
		xg_vcpu_set_profile(c->xv, &c->out.prof);
		xg_kvm_vcpu_set_profile(c->v, &c->out.prof);
		if (per_exit_alloc(c, n))
			return ctx_fail(c, "out of memory");
	}
	return c->xv ? 0 : ctx_fail(c, err.msg);
}

/*
 * BENCH_RUN_COLD=<KiB>: the caches as a busy host leaves them. When another thread (another
 * tenant's vCPU, the VMM's own I/O thread) runs on the core while the guest is inside
 * KVM_RUN, the handler comes back to an L1 and L2 that hold none of its lines, and each line
 * it touches comes from L3 or memory: the engine touches more of them than the plain loop
 * (code spread over its functions and liblua, the vCPU's structures), so its difference
 * grows. On this host's busiest hours the same binaries measured +50-60 ns more per exit
 * than at quiet ones (README, issue 15). This mode makes that condition on demand: after
 * KVM_RUN returns and before the handler's clock starts, every variant alike reads one word
 * of each 64-byte line of a buffer of that size (twice the L2 of one core evicts it, and the
 * buffer's pages the TLB's entries). The read is timed apart and counted in neither KVM_RUN
 * nor the handler; the profiled round runs warm.
 */
static volatile const uint64_t *cold_buf;
static size_t cold_words; /* 0: off */

static int cold_setup(void)
{
	const char *s = getenv("BENCH_RUN_COLD");
	char *end;
	unsigned long kib;
	uint64_t *b;

	if (!s || !*s)
		return 0;
	errno = 0;
	/* digits only: strtoul would take " 5", "+5" and "-1" */
	kib = isdigit((unsigned char)s[0]) ? strtoul(s, &end, 10) : 0;
	if (!kib || errno || *end || kib > 1024 * 1024) {
		fprintf(stderr, "bench_run: BENCH_RUN_COLD is the KiB read after each KVM_RUN, 1 to "
				"1048576 (e.g. 2048: twice a 1 MiB L2); got '%s'\n",
			s);
		return -1;
	}
	cold_words = kib * 1024 / 8;
	b = malloc(cold_words * 8);
	if (!b) {
		fprintf(stderr, "bench_run: BENCH_RUN_COLD=%lu: out of memory\n", kib);
		return -1;
	}
	for (size_t i = 0; i < cold_words; i++) /* its pages faulted in now, not in a round */
		b[i] = i;
	cold_buf = b;
	return 0;
}

static void cold_evict(void)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < cold_words; i += 8)
		sum += cold_buf[i];
	__asm__ volatile("" : : "r"(sum));
}

/* The L2 of cpu0 (a core's, on the hosts measured), for the cold mode's line ("" when sysfs
 * does not say). */
static const char *l2_size(char *buf, size_t n)
{
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index2/size", "r");

	buf[0] = 0;
	if (f) {
		if (fgets(buf, (int)n, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
	return buf;
}

/*
 * Run the guest for up to `batch` more emulation-failure exits (or to its HLT), adding the
 * time spent to out.seconds and, of that, the time inside KVM_RUN to out.in_run. The same
 * loop for every variant; only the handler differs. In the cold mode (timed rounds only),
 * the eviction's time is left out of both.
 */
static int ctx_step(struct ctx *c, uint64_t batch)
{
	struct kvm_run *run = c->run;
	double t0 = now(), t1, t2, handled = -1, tend, cold = 0;
	int rc = 0, evict = cold_words && !c->profile;

	for (uint64_t k = 0; k < batch;) {
		uint64_t before[XG_PROF_COUNT];
		int r, counting;

		t1 = now();
		if (handled >= 0 && c->out.hex)
			c->out.hex[c->out.nhex++] = (float)((t1 - handled) * 1e9);
		handled = -1;
		r = xg_kvm_vcpu_run(c->v);
		t2 = now();
		c->out.in_run += t2 - t1;
		if (evict) {
			double t3;
			cold_evict();
			t3 = now();
			cold += t3 - t2;
			t2 = t3;
		}
		if (!r && run->exit_reason == KVM_EXIT_IO && run->io.port == PORT_RESULT) {
			c->out.result = *((uint8_t *)run + run->io.data_offset);
			continue;
		}
		if (!r && run->exit_reason == KVM_EXIT_HLT) {
			c->done = 1;
			break;
		}
		memcpy(before, c->out.prof.ns, sizeof(before));
		counting = c->out.exits >= WARM_EXITS;
		if (counting) {
			c->out.counted++;
			alloc_count_start();
		}
		if (IS_PLAIN(c->var)) {
			if (c->p.prof)
				xg_profile_begin(c->p.prof);
			if (r) {
				snprintf(c->out.error, sizeof(c->out.error), "KVM_RUN: %s",
					 strerror(-r));
				rc = -1;
			} else if (plain_handle(&c->p, run)) {
				struct xg_error e = c->p.err;
				rc = ctx_fail(c, e.msg);
			}
			if (c->p.prof)
				xg_profile_end(c->p.prof);
		} else {
			struct xg_result res =
			    xg_handle_exit(c->xv, run, c->run_size, r < 0 ? -r : 0);
			if (res.next != XG_NEXT_RUN || res.fail) {
				snprintf(c->out.error, sizeof(c->out.error), "exit %u: %s (%s)",
					 run->exit_reason, xg_vcpu_last_error(c->xv),
					 xg_fail_name(res.fail));
				rc = -1;
			}
		}
		if (counting)
			c->out.allocs += alloc_count_stop(NULL);
		per_exit_note(c, before);
		if (rc)
			break;
		if (counting && c->out.nhex < c->out.hcap)
			handled = t2;
		c->out.exits++;
		k++;
	}
	tend = now();
	if (handled >= 0 && c->out.hex)
		c->out.hex[c->out.nhex++] = (float)((tend - handled) * 1e9);
	c->out.seconds += tend - t0 - cold;
	c->out.cold += cold;
	return rc;
}

/* Check what the run left and free it. */
static int ctx_close(struct ctx *c)
{
	int rc = c->out.error[0] ? -1 : 0;

	c->out.dev_reads = c->dev.reads;
	c->out.sync_regs = c->run && (c->run->kvm_valid_regs & KVM_SYNC_X86_REGS) != 0;
	if (c->v) {
		struct xg_kvm_ioctl_counts *o = &c->out.ioctls, *z = &c->ioctls0;
		xg_kvm_vcpu_ioctl_counts(c->v, o);
		o->run -= z->run, o->get_regs -= z->get_regs, o->set_regs -= z->set_regs;
		o->get_sregs -= z->get_sregs, o->set_sregs -= z->set_sregs;
		o->get_xsave -= z->get_xsave, o->set_xsave -= z->set_xsave;
		o->other -= z->other, o->regs_put -= z->regs_put;
		o->regs_put += c->p.puts;
	}
	if (!rc && c->dev.bad)
		rc = ctx_fail(c, "device accesses other than the guest's load");
	if (c->xv) {
		struct xg_stats st;
		xg_vcpu_stats(c->xv, &st);
		c->out.lua_calls = st.lua_calls;
		c->out.cache_hits = st.cache_hits;
		if (!rc && st.exits != c->out.exits)
			rc = ctx_fail(c, "the engine counted a different number of exits");
	}
	xg_vcpu_detach(c->xv);
	xg_engine_free(c->eng);
	xg_config_free(c->cfg);
	free(c->p.xsave);
	xg_kvm_vm_destroy(c->vm);
	return rc;
}

/*
 * One round: a fresh VM per variant, then the four guests advanced in turns of `batch`
 * exits (the first turn rotating with the round) until all four halt, so that whatever
 * else the machine does falls on all of them alike.
 */
static int only = -1; /* BENCH_RUN_ONLY: the one variant run */

static int round_run(int round, uint64_t n, uint64_t batch, int profile, struct run out[NVARIANTS])
{
	struct ctx c[NVARIANTS];
	int rc = 0, left = NVARIANTS;

	for (int k = 0; k < NVARIANTS; k++)
		if (ctx_open(&c[k], (enum variant)k, n, profile))
			rc = -1;
		else if (only >= 0 && k != only)
			c[k].done = 1; /* opened like the others, never run */
	while (!rc && left) {
		left = 0;
		for (int i = 0; i < NVARIANTS && !rc; i++) {
			struct ctx *x = &c[(round + i) % NVARIANTS];
			if (!x->done && ctx_step(x, batch))
				rc = -1;
			left += !x->done;
		}
	}
	for (int k = 0; k < NVARIANTS; k++) {
		if (ctx_close(&c[k]))
			rc = -1;
		out[k] = c[k].out;
	}
	return rc;
}

/* ---- rounds and the table ---- */

/*
 * The profiled round's phases per exit, side by side, and over the plain loop. The profile's
 * own clock reads (two per phase entered) are in the phases, so their sum is above the timed
 * rounds' handler figure (also printed); the differences between variants are what tells.
 */
static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static double median_f(float *v, uint64_t n)
{
	if (!n)
		return 0;
	qsort(v, (size_t)n, sizeof(float), cmp_float);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_breakdown(const struct run prof[NVARIANTS], const double hand_ns[NVARIANTS],
			    int base)
{
	double ns[NVARIANTS][XG_PROF_COUNT], sum[NVARIANTS] = {0}, tot[NVARIANTS];
	const char *bn = base == SAVING ? "saving" : "plain";

	for (int k = 0; k < NVARIANTS; k++) {
		for (int ph = 0; ph < XG_PROF_COUNT; ph++) {
			ns[k][ph] = median_f(prof[k].per_exit[ph], prof[k].nper);
			sum[k] += ns[k][ph];
		}
		tot[k] = median_f(prof[k].per_exit[XG_PROF_COUNT], prof[k].nper);
	}
	printf("\nper-exit breakdown (ns/exit, one profiled round: the median exit's time in each "
	       "phase; phases exclusive, each with its clock reads; 'saving' is the plain C loop "
	       "with the savings, the engine's differences are to the %s loop, which makes its "
	       "ioctls; profiled, a repeated cached exit takes the general cached branch, not the "
	       "repeated-exit lane the timed rounds take, which has no phase clocks: t_exit_cost "
	       "and t_exit_lines count that lane):\n",
	       bn);
	printf("%-10s %9s %9s %9s %9s %9s-%-6s %5s-%-6s\n", "phase", "plain", "saving", "cached",
	       "Lua", "cached", bn, "Lua", bn);
	for (int ph = 0; ph < XG_PROF_COUNT; ph++)
		printf("%-10s %9.0f %9.0f %9.0f %9.0f %+16.0f %+12.0f\n", xg_profile_phase_name(ph),
		       ns[PLAIN][ph], ns[SAVING][ph], ns[CACHED][ph], ns[LUA][ph],
		       ns[CACHED][ph] - ns[base][ph], ns[LUA][ph] - ns[base][ph]);
	printf("%-10s %9.0f %9.0f %9.0f %9.0f %+16.0f %+12.0f\n", "sum", sum[PLAIN], sum[SAVING],
	       sum[CACHED], sum[LUA], sum[CACHED] - sum[base], sum[LUA] - sum[base]);
	printf("%-10s %9.0f %9.0f %9.0f %9.0f %+16.0f %+12.0f   (median of each exit's total)\n",
	       "total", tot[PLAIN], tot[SAVING], tot[CACHED], tot[LUA], tot[CACHED] - tot[base],
	       tot[LUA] - tot[base]);
	printf("%-10s %9.0f %9.0f %9.0f %9.0f %+16.0f %+12.0f   (timed rounds, unprofiled, "
	       "each variant's median over rounds: unpaired)\n",
	       "handler", hand_ns[PLAIN], hand_ns[SAVING], hand_ns[CACHED], hand_ns[LUA],
	       hand_ns[CACHED] - hand_ns[base], hand_ns[LUA] - hand_ns[base]);
	printf("user-space time per exit (phases less ioctl and device): plain %.0f, saving %.0f, "
	       "cached %.0f, Lua %.0f ns; the engine's over the %s loop: cached %+.0f, Lua %+.0f "
	       "ns\n",
	       sum[PLAIN] - ns[PLAIN][XG_PROF_IOCTL] - ns[PLAIN][XG_PROF_DEVICE],
	       sum[SAVING] - ns[SAVING][XG_PROF_IOCTL] - ns[SAVING][XG_PROF_DEVICE],
	       sum[CACHED] - ns[CACHED][XG_PROF_IOCTL] - ns[CACHED][XG_PROF_DEVICE],
	       sum[LUA] - ns[LUA][XG_PROF_IOCTL] - ns[LUA][XG_PROF_DEVICE], bn,
	       (sum[CACHED] - ns[CACHED][XG_PROF_IOCTL] - ns[CACHED][XG_PROF_DEVICE]) -
		   (sum[base] - ns[base][XG_PROF_IOCTL] - ns[base][XG_PROF_DEVICE]),
	       (sum[LUA] - ns[LUA][XG_PROF_IOCTL] - ns[LUA][XG_PROF_DEVICE]) -
		   (sum[base] - ns[base][XG_PROF_IOCTL] - ns[base][XG_PROF_DEVICE]));
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 20000;
	int rounds = argc > 2 ? atoi(argv[2]) : 11, bad = 0;
	uint64_t batch = argc > 3 ? strtoull(argv[3], NULL, 0) : 5;
	double ratio[NVARIANTS][MAX_ROUNDS], ratio_med[NVARIANTS];
	double rate[NVARIANTS][MAX_ROUNDS], inrun[NVARIANTS][MAX_ROUNDS],
	    hand[NVARIANTS][MAX_ROUNDS];
	double best[NVARIANTS], med[NVARIANTS], spread[NVARIANTS], run_ns[NVARIANTS],
	    hand_ns[NVARIANTS];
	double gain[MAX_ROUNDS]; /* saving / plain, per round */
	/* the engine's handler time less the compared loop's in the same round: cached, Lua */
	double pair[2][MAX_ROUNDS], pair_run[2][MAX_ROUNDS], pair_hand[2], pair_in_run[2];
	double cold_ns[NVARIANTS][MAX_ROUNDS]; /* BENCH_RUN_COLD: each round's eviction per exit */
	const char *cold_note; /* after the targets, in the cold mode */
	/* each round's median exit: its handler time, and the engine's less the compared loop's */
	double hmed[NVARIANTS][MAX_ROUNDS], pairm[2][MAX_ROUNDS];
	/* each round's exits at the 10th and 90th percentiles, and the engine's less the
	 * compared loop's: whether a difference is on every exit or in a tail */
	double hq[NVARIANTS][2][MAX_ROUNDS], pairq[2][2][MAX_ROUNDS];
	int base = PLAIN;	 /* the plain loop making the engine's ioctls */
	struct run last[NVARIANTS];
	struct run prof[NVARIANTS];
	uint64_t allocs[NVARIANTS] = {0}, counted[NVARIANTS] = {0};
	char why[256];

	if (n < 1 || rounds < 1 || rounds > MAX_ROUNDS || batch < 1) {
		fprintf(
		    stderr,
		    "usage: bench_run [exits per run, default 20000] [rounds 1..%d, default 11] "
		    "[exits per turn, default 5]\n",
		    MAX_ROUNDS);
		return 2;
	}
	if (xg_kvm_probe(why, sizeof(why))) {
		fprintf(stderr, "bench_run: no usable /dev/kvm: %s\n", why);
		return 77;
	}
	if (getenv("BENCH_RUN_ONLY")) {
		static const char *const key[NVARIANTS] = {"plain", "cached", "lua", "saving"};
		for (int k = 0; k < NVARIANTS; k++)
			if (!strcmp(getenv("BENCH_RUN_ONLY"), key[k]))
				only = k;
		if (only < 0) {
			fprintf(stderr, "bench_run: BENCH_RUN_ONLY is plain, cached, lua or saving\n");
			return 2;
		}
	}
	if (cold_setup())
		return 2;
	if (cold_words && only >= 0) {
		/* its reads would be the exits' lines in a trace (t_exit_lines) */
		fprintf(stderr, "bench_run: BENCH_RUN_COLD is for the timed figures, which "
				"BENCH_RUN_ONLY does not print: unset one of them\n");
		return 2;
	}
	cold_note = cold_words ? " (cold caches: information only)" : "";
	if (!mkdtemp(policy_dir)) {
		perror("mkdtemp");
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		struct run res[NVARIANTS];

		if (round_run(r, n, batch, 0, res)) {
			for (int k = 0; k < NVARIANTS; k++)
				if (res[k].error[0])
					fprintf(stderr, "bench_run: %s, round %d: %s\n",
						variant_name[k], r + 1, res[k].error);
			return 1;
		}
		for (int k = 0; k < NVARIANTS; k++) {
			rate[k][r] = (double)res[k].exits / res[k].seconds;
			inrun[k][r] = res[k].in_run * 1e9 / (double)res[k].exits;
			hand[k][r] = (res[k].seconds - res[k].in_run) * 1e9 / (double)res[k].exits;
			/* every run: N loads and the store handled, all N loads at the device,
			 * and the guest's own check passed */
			if (only < 0 || k == only) /* BENCH_RUN_ONLY: the others never ran */
				bad |= res[k].exits != n + 1 || res[k].dev_reads != n ||
				       res[k].result != 0;
			hmed[k][r] = median_f(res[k].hex, res[k].nhex); /* sorts */
			hq[k][0][r] = res[k].nhex ? res[k].hex[res[k].nhex / 10] : 0;
			hq[k][1][r] = res[k].nhex ? res[k].hex[res[k].nhex * 9 / 10] : 0;
			free(res[k].hex);
			res[k].hex = NULL;
			last[k] = res[k];
			allocs[k] += res[k].allocs;
			cold_ns[k][r] = res[k].cold * 1e9 / (double)res[k].exits;
			counted[k] += res[k].counted;
		}
		/* the same round's runs shared the machine's mood: their ratio is the fairest.
		 * Without sync regs the saving loop makes the first one's ioctls. */
		base = res[SAVING].sync_regs ? SAVING : PLAIN;
		for (int k = 0; k < NVARIANTS; k++)
			ratio[k][r] = rate[k][r] / rate[base][r];
		gain[r] = rate[SAVING][r] / rate[PLAIN][r];
		pair[0][r] = hand[CACHED][r] - hand[base][r];
		pair[1][r] = hand[LUA][r] - hand[base][r];
		pair_run[0][r] = inrun[CACHED][r] - inrun[base][r];
		pair_run[1][r] = inrun[LUA][r] - inrun[base][r];
		pairm[0][r] = hmed[CACHED][r] - hmed[base][r];
		pairm[1][r] = hmed[LUA][r] - hmed[base][r];
		for (int q = 0; q < 2; q++) {
			pairq[0][q][r] = hq[CACHED][q][r] - hq[base][q][r];
			pairq[1][q][r] = hq[LUA][q][r] - hq[base][q][r];
		}
	}
	if (only >= 0) {
		if (bad) {
			fprintf(stderr, "bench_run: %s alone: the guest's loads did not all reach the "
					"device, or its check failed (exits %llu of %llu, device reads "
					"%llu, result %d)\n",
				variant_name[only], (unsigned long long)last[only].exits,
				(unsigned long long)n + 1, (unsigned long long)last[only].dev_reads,
				last[only].result);
			return 1;
		}
		/* where round_run was loaded: t_exit_lines names the code lines of a trace by it */
		printf("bench_run: %s alone (BENCH_RUN_ONLY), %d round(s): no figures; round_run "
		       "at %p\n",
		       variant_name[only], rounds, (void *)(uintptr_t)round_run);
		return 0;
	}
	/* the profiled round, apart: its clock reads must not weigh on the figures above */
	if (round_run(rounds, n, batch, 1, prof)) {
		for (int k = 0; k < NVARIANTS; k++)
			if (prof[k].error[0])
				fprintf(stderr, "bench_run: %s, profiled round: %s\n",
					variant_name[k], prof[k].error);
		return 1;
	}
	for (int k = 0; k < NVARIANTS; k++)
		bad |= prof[k].exits != n + 1 || prof[k].dev_reads != n || prof[k].result != 0 ||
		       prof[k].prof.exits != n + 1;
	for (int k = 0; k < NVARIANTS; k++) {
		med[k] = median(rate[k], rounds);
		best[k] = rate[k][rounds - 1];
		spread[k] = (rate[k][rounds - 1] - rate[k][0]) / med[k] * 100;
		run_ns[k] = median(inrun[k], rounds);
		hand_ns[k] = median(hand[k], rounds);
		ratio_med[k] = median(ratio[k], rounds);
	}
	for (int k = CACHED; k <= LUA; k++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%d.lua", policy_dir, k);
		unlink(path);
	}
	rmdir(policy_dir);

	printf("bench_run: %llu x `vmovdqu (%%rax),%%ymm0` from MMIO + 1 store per run; %d rounds, "
	       "each a fresh VM per variant, the four run in turns of %llu exits\n",
	       (unsigned long long)n, rounds, (unsigned long long)batch);
	printf("per exit, every variant: KVM_RUN, registers from %s, KVM_GET_XSAVE%s, "
	       "KVM_SET_XSAVE (%zu bytes) after a load; RIP back by %s\n",
	       last[PLAIN].sync_regs ? "kvm_run (KVM_CAP_SYNC_REGS)" : "KVM_GET_REGS",
	       last[PLAIN].xsave2 ? "2" : "", last[PLAIN].xsave_size,
	       base == SAVING ? "KVM_SET_REGS in the plain C loop, through kvm_run "
				"(kvm_dirty_regs) in the others"
			      : "KVM_SET_REGS (no sync regs: no savings)");
	printf("the saving loop and the engine keep their last page walk, served while its entries "
	       "hold their values%s\n",
	       getenv("XG_KVM_NO_TLB") ? " (the engine's turned off: XG_KVM_NO_TLB)" : "");
	if (cold_words) {
		char l2[32];
		printf("cold caches (BENCH_RUN_COLD=%zu): after each KVM_RUN every variant read %zu "
		       "KiB, one word a line, before its handler's clock started (L2 of a core "
		       "here: %s), %.0f/%.0f/%.0f/%.0f ns an exit (plain/cached/Lua/saving, "
		       "medians), in no figure below; the profiled round ran warm. The targets are "
		       "for the default, warm runs: judged here only as information\n",
		       cold_words * 8 / 1024, cold_words * 8 / 1024,
		       l2_size(l2, sizeof(l2))[0] ? l2 : "unknown", median(cold_ns[PLAIN], rounds),
		       median(cold_ns[CACHED], rounds), median(cold_ns[LUA], rounds),
		       median(cold_ns[SAVING], rounds));
	}
	printf("the engine is compared with: %s (the same ioctls)\n\n", variant_name[base]);
	printf("%-28s %9s %12s %12s %7s %8s %8s %8s %9s %10s %s\n", "variant", "exits/run",
	       "best exit/s", "median exit/s", "spread", "ns/exit", "KVM_RUN", "handler",
	       "Lua calls", "cache hits", "guest");
	for (int k = 0; k < NVARIANTS; k++)
		printf("%-28s %9llu %12.0f %12.0f %6.1f%% %8.0f %8.0f %8.0f %9llu %10llu %s\n",
		       variant_name[k], (unsigned long long)last[k].exits, best[k], med[k],
		       spread[k], 1e9 / med[k], run_ns[k], hand_ns[k],
		       (unsigned long long)last[k].lua_calls,
		       (unsigned long long)last[k].cache_hits,
		       last[k].result == 0 && last[k].dev_reads == n ? "ok" : "WRONG");
	printf("\n(ns/exit from the median; spread = (max - min) / median of exits/s; KVM_RUN = "
	       "ns per exit inside KVM_RUN, handler = the rest: the handling and its ioctls; "
	       "medians)\n");
	printf("ioctls per exit (the backend's counts while the guests ran; KVM_RUN also "
	       "counts the guest's OUT and HLT):\n%-28s %8s %8s %8s %9s %9s %6s %9s %10s\n",
	       "variant", "KVM_RUN", "GET_REGS", "SET_REGS", "GET_XSAVE", "SET_XSAVE", "other",
	       "kvm_run", "XSTATE_BV");
	for (int k = 0; k < NVARIANTS; k++) {
		const struct xg_kvm_ioctl_counts *c = &last[k].ioctls;
		double e = (double)(last[k].exits ? last[k].exits : 1);
		printf("%-28s %8.3f %8.3f %8.3f %9.3f %9.3f %6.3f %9.3f %#10llx\n", variant_name[k],
		       (double)c->run / e, (double)c->get_regs / e, (double)c->set_regs / e,
		       (double)c->get_xsave / e, (double)c->set_xsave / e,
		       (double)(c->other + c->get_sregs + c->set_sregs) / e,
		       (double)c->regs_put / e, (unsigned long long)c->set_xstate_bv);
	}
	printf("(kvm_run = register writes left in kvm_run for KVM_RUN to apply, no ioctl; "
	       "XSTATE_BV = the components the run's last KVM_SET_XSAVE handed the vCPU as in "
	       "use: each one more than the plain loop's costs KVM a copy and a restore per exit, "
	       "~250 ns here for AVX-512's)\n");
	printf("savings: plain C loop %.0f -> %.0f exits/s (%+.0f, median of per-round ratios "
	       "%.3f); the engine vs the plain C loop without them: cached %.3f, Lua %.3f "
	       "(medians)\n\n",
	       med[PLAIN], med[SAVING], med[SAVING] - med[PLAIN], median(gain, rounds),
	       med[CACHED] / med[PLAIN], med[LUA] / med[PLAIN]);
	printf("engine-cached / plain: %.3f (median of per-round ratios; medians %.3f, bests "
	       "%.3f)  target >= 0.99: %s%s\n",
	       ratio_med[CACHED], med[CACHED] / med[base], best[CACHED] / best[base],
	       ratio_med[CACHED] >= 0.99 ? "met" : "NOT met", cold_note);
	printf("engine-Lua / plain:    %.3f (median of per-round ratios; medians %.3f, bests "
	       "%.3f)  target >= 0.98: %s%s\n",
	       ratio_med[LUA], med[LUA] / med[base], best[LUA] / best[base],
	       ratio_med[LUA] >= 0.98 ? "met" : "NOT met", cold_note);
	/* the summary line (scripts read it): each round's difference, the median over rounds */
	for (int k = 0; k < 2; k++) {
		pair_hand[k] = median(pair[k], rounds); /* sorts */
		pair_in_run[k] = median(pair_run[k], rounds);
	}
	printf(
	    "over plain, per exit: handler cached %+.0f ns, Lua %+.0f ns; KVM_RUN cached %+.0f ns, "
	    "Lua %+.0f ns\n",
	    pair_hand[0], pair_hand[1], pair_in_run[0], pair_in_run[1]);
	/* how far the handler figures can be trusted: that difference's quartiles over the
	 * rounds, and the same taken unpaired, each variant's median over rounds apart (the
	 * summary line's figure before 2026-12-03), which takes in the rounds' common moves */
	double med_exit[2]; /* the median exit's figures, paired: cached, Lua */
	{
		double q[2][3];
		for (int k = 0; k < 2; k++) {
			q[k][1] = pair_hand[k];
			q[k][0] = pair[k][(rounds - 1) / 4];
			q[k][2] = pair[k][(3 * (rounds - 1) + 3) / 4];
		}
		printf("handler over plain within each round (paired): cached median %+.0f ns "
		       "(quartiles %+.0f .. %+.0f), Lua %+.0f ns (%+.0f .. %+.0f); unpaired "
		       "(medians over rounds apart): cached %+.0f ns, Lua %+.0f ns\n",
		       q[0][1], q[0][0], q[0][2], q[1][1], q[1][0], q[1][2],
		       hand_ns[CACHED] - hand_ns[base], hand_ns[LUA] - hand_ns[base]);
		for (int k = 0; k < 2; k++) {
			q[k][1] = med_exit[k] = median(pairm[k], rounds);
			q[k][0] = pairm[k][(rounds - 1) / 4];
			q[k][2] = pairm[k][(3 * (rounds - 1) + 3) / 4];
		}
		printf("handler over plain, each round's median exit (paired): cached median "
		       "%+.0f ns (quartiles %+.0f .. %+.0f), Lua %+.0f ns (%+.0f .. %+.0f); "
		       "median exits: plain %.0f, cached %.0f, Lua %.0f, saving %.0f ns\n",
		       q[0][1], q[0][0], q[0][2], q[1][1], q[1][0], q[1][2],
		       median(hmed[PLAIN], rounds), median(hmed[CACHED], rounds),
		       median(hmed[LUA], rounds), median(hmed[SAVING], rounds));
	}
	/* a mean over the median: a tail (exits the host slowed, a periodic cost), or the
	 * rounds' spread; the same difference at p10, p50 and p90: a cost on every exit */
	printf("handler over plain at the quantiles of each round's exits (paired, medians over "
	       "rounds): cached p10 %+.0f, p50 %+.0f, p90 %+.0f ns; Lua p10 %+.0f, p50 %+.0f, "
	       "p90 %+.0f ns\n",
	       median(pairq[0][0], rounds), med_exit[0], median(pairq[0][1], rounds),
	       median(pairq[1][0], rounds), med_exit[1], median(pairq[1][1], rounds));
	printf("targets: handler cached <= +150 ns: %s, Lua <= +400 ns: %s%s\n",
	       pair_hand[0] <= 150 ? "met" : "NOT met", pair_hand[1] <= 400 ? "met" : "NOT met",
	       cold_note);
	/* the same targets on the steadier figure: a mean takes in what else the machine did */
	printf("targets on each round's median exit (paired): cached <= +150 ns: %s, Lua <= "
	       "+400 ns: %s%s\n",
	       med_exit[0] <= 150 ? "met" : "NOT met", med_exit[1] <= 400 ? "met" : "NOT met",
	       cold_note);
	print_breakdown(prof, hand_ns, base);
	for (int k = 0; k < NVARIANTS; k++)
		for (int ph = 0; ph <= XG_PROF_COUNT; ph++)
			free(prof[k].per_exit[ph]);
	printf("allocations per exit while handling (past each run's first %d exits, all timed "
	       "rounds): plain %.3f, cached %.3f, Lua %.3f, saving %.3f (%llu, %llu, %llu, %llu in "
	       "all)\n",
	       WARM_EXITS, (double)allocs[PLAIN] / (double)(counted[PLAIN] ? counted[PLAIN] : 1),
	       (double)allocs[CACHED] / (double)(counted[CACHED] ? counted[CACHED] : 1),
	       (double)allocs[LUA] / (double)(counted[LUA] ? counted[LUA] : 1),
	       (double)allocs[SAVING] / (double)(counted[SAVING] ? counted[SAVING] : 1),
	       (unsigned long long)allocs[PLAIN], (unsigned long long)allocs[CACHED],
	       (unsigned long long)allocs[LUA], (unsigned long long)allocs[SAVING]);
	if (bad)
		fprintf(stderr,
			"bench_run: a run handled a different number of exits, or the guest "
			"or the device saw a wrong value\n");
	return bad ? 1 : 0;
}
