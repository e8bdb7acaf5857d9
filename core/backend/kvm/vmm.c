/*
 * vmm.c - `exitgate run`: see vmm.h.
 *
 * Threads. One thread per vCPU runs KVM_RUN and everything that follows an exit: device
 * models, the policy engine, the verdict. The main thread serves the control socket and
 * watches the clock. They meet under one mutex (m->lock): the main thread sets a request
 * on a vCPU (stop, suspend, resume, dump) and kicks it; a vCPU in KVM_RUN is kicked by
 * setting kvm_run.immediate_exit and sending SIGUSR1 (api.rst 5 "kvm_run",
 * immediate_exit: the flag closes the race with a signal that lands just before KVM_RUN),
 * a parked vCPU by the condition variable. Only the vCPU's own thread touches its vCPU
 * (the ioctls, the engine's state); a dump asked from the socket is written by it.
 *
 * Signals. The handlers only set a flag and write a byte to a self-pipe the main loop polls
 * (the pipe is a wakeup; the flags carry the state, so a full pipe loses nothing): SIGTERM
 * and SIGINT end the run, SIGHUP asks for a reload (coalesced, run on the control socket's
 * thread), SIGPIPE is ignored. The end never waits on a thread that does not return: when
 * every guest has been told to stop, vCPUs that have not ended XG_RUN_GRACE seconds later
 * (stuck in a policy call, say) are left running, named in the summary, and the process
 * exits without joining or freeing what they use.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm_para.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/kvm/vmm.h"
#include "backend/kvm/xg_kvm.h"
#include "dump/dump.h"
#include "exit/json.h"
#include "exit/kvm_compat.h"
#include "trace/trace.h"
#include "xg_counter.h"

#define NREASONS   64
#define STACK_SIZE XG_KVM_VCPU_STACK /* per vCPU, below the previous one's */

#define XG_RUN_GRACE 2.0 /* s the end waits for a vCPU told to stop */

enum vstate { V_RUNNING = 0, V_SUSPENDED, V_ENDED };

struct guest;

struct vcpu {
	struct guest *g;
	int index;
	struct xg_kvm_vcpu *kv;
	struct xg_vcpu *ev;
	struct xg_vcpu_ops ops;
	struct xg_rec_vcpu *rec; /* --record: the ops the engine uses are its wrappers */
	struct kvm_run *run;
	size_t run_size;
	pthread_t tid;
	int started;
	/* under m->lock */
	enum vstate state;
	char reason[256]; /* why suspended, or how it ended */
	const char *end;
	int suspend_req, resume_req, dump_req, dump_done;
	int paused; /* --paused: suspended since the start, until the first resume */
	char dump_msg[600];
	/* written by the vCPU thread alone, read by the main thread while it runs (status,
	 * metrics, progress): counters of xg_counter.h */
	_Atomic uint64_t exits, by_reason[NREASONS + 1];
	/* the vCPU thread's own */
	uint64_t storm_n, storm_rip;
	uint32_t storm_reason;
	/* read by the main thread without a lock: when the vCPU entered its policy call
	 * (CLOCK_MONOTONIC ns, mono_ns), 0 outside one; in_policy() says for how long */
	atomic_llong policy_since;
	int abandoned; /* main thread: did not stop in time, not joined */
};

struct guest {
	struct xg_vmm *m;
	const struct xg_guest_cfg *cfg;
	struct xg_kvm_vm *vm;
	struct xg_devs devs;
	struct vcpu *v;
	int nv;
	double t0, t1;
	/* under m->lock */
	int stop_req, ended;
	const char *end; /* done | halted | stopped | shutdown | timeout | failed */
	char reason[320];
	unsigned code; /* the guest's done code (end "done" only) */
};

struct xg_vmm {
	const struct xg_vmm_opts *o;
	xg_config *cfg;
	xg_engine *e;
	struct guest *g;
	int ng;
	struct xg_ctl *ctl;
	struct xg_recorder *rec; /* --record, or NULL */
	char ctl_path[256];
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* Where a guest's dumps go: its dump_dir, else the run's default (xg_dump_default_dir). */
static const char *dump_dir_of(const struct xg_vmm *m, const struct xg_guest_cfg *c)
{
	return c->dump_dir ? c->dump_dir : xg_engine_dump_default(m->e);
}

/* Set by the handlers on whatever thread a signal lands on, read by the main loop: lock-free
 * atomics, which a handler may touch (C11 7.14.1.1). */
static atomic_int interrupted, hangup;
static int sig_pipe[2] = {-1, -1};

static void on_kick(int sig)
{
	(void)sig; /* only to make KVM_RUN return EINTR */
}

static void sig_wake(void)
{
	int saved = errno;
	char b = 1;

	if (write(sig_pipe[1], &b, 1) < 0) {
		/* EAGAIN: the pipe is full, so the main loop has a wakeup waiting already */
	}
	errno = saved;
}

static void on_interrupt(int sig)
{
	atomic_store(&interrupted, sig);
	sig_wake();
}

static void on_hangup(int sig)
{
	(void)sig;
	atomic_store(&hangup, 1);
	sig_wake();
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same clock in whole ns: a difference of two readings is exact, and never negative
 * when the second is read after the first (CLOCK_MONOTONIC, clock_gettime(2)). */
static long long mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the log (stderr) ---- */

static int log_json;			/* --log-format json */
static atomic_int progress_shown;	/* a status line is on the terminal, erased first */
static int stdout_erase;		/* stdout is that terminal too: the console erases it */
static _Thread_local struct vcpu *self; /* the vCPU this thread runs, for the log's fields */

/* One line, written with one call so lines of several threads never mix. JSON lines carry
 * time (UTC, RFC 3339), kind, guest and vcpu (null off a vCPU thread) and the message. */
static void log_at(const char *kind, const char *guest, int vcpu, const char *line)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!log_json) {
		fprintf(stderr, "%sexitgate: %s\n", atomic_load(&progress_shown) ? "\r\033[K" : "",
			line);
		return;
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		fprintf(stderr, "exitgate: %s\n", line);
		return;
	}
	{
		struct timespec ts;
		struct tm tm;
		char t[40];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(f, "{\"time\":\"%s.%06ldZ\",\"kind\":", t, ts.tv_nsec / 1000);
	}
	xg_json_str(f, kind);
	fprintf(f, ",\"guest\":");
	if (guest)
		xg_json_str(f, guest);
	else
		fputs("null", f);
	if (guest && vcpu >= 0)
		fprintf(f, ",\"vcpu\":%d,\"message\":", vcpu);
	else
		fprintf(f, ",\"vcpu\":null,\"message\":");
	xg_json_str(f, line);
	fputs("}\n", f);
	if (fclose(f))
		fprintf(stderr, "exitgate: %s\n", line);
	else
		fputs(buf, stderr);
	free(buf);
}

void xg_vmm_log(const char *kind, const char *line)
{
	log_at(kind, self ? self->g->cfg->name : NULL, self ? self->index : -1, line);
}

static void engine_log(void *ud, const char *line)
{
	(void)ud;
	xg_vmm_log("engine", line);
}

/* the recorder's (--record): a write that failed, the size cap reached */
static void record_log(void *ud, const char *line)
{
	(void)ud;
	xg_vmm_log("record", line);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	xg_vmm_log("run", line);
}

/* ---- requests between threads (m->lock held) ---- */

static void kick(struct vcpu *c)
{
	if (c->started && c->state == V_RUNNING) {
		c->run->immediate_exit = 1;
		pthread_kill(c->tid, SIGUSR1);
	}
	pthread_cond_broadcast(&c->g->m->cond);
}

/* End the guest (the first end wins): `code` is the guest's done code for "done", and
 * ignored otherwise (the status follows from the end, see end_status). */
static void guest_end_locked(struct guest *g, const char *end, unsigned code,
			     const char *reason)
{
	if (!g->end) {
		g->end = end;
		g->code = !strcmp(end, "done") ? code : 0;
		snprintf(g->reason, sizeof(g->reason), "%s", reason);
	}
	g->stop_req = 1;
	for (int i = 0; i < g->nv; i++)
		kick(&g->v[i]);
}

static void guest_end(struct guest *g, const char *end, unsigned code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void guest_end(struct guest *g, const char *end, unsigned code, const char *fmt, ...)
{
	char reason[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&g->m->lock);
	guest_end_locked(g, end, code, reason);
	pthread_mutex_unlock(&g->m->lock);
}

/* A vCPU ends. One that failed fails its guest (and so the run: status 125) before the
 * count of ended vCPUs can call the guest halted. */
static void vcpu_end(struct vcpu *c, const char *end, const char *reason)
{
	struct guest *g = c->g;

	pthread_mutex_lock(&g->m->lock);
	if (c->state != V_ENDED) {
		c->state = V_ENDED;
		c->end = end;
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
		if (!strcmp(end, "failed")) {
			char why[320];
			snprintf(why, sizeof(why), "vCPU %d failed: %.280s", c->index, reason);
			guest_end_locked(g, "failed", 0, why);
		}
		if (++g->ended == g->nv && !g->end) {
			g->end = "halted";
			snprintf(g->reason, sizeof(g->reason), "every vCPU halted");
		}
		if (g->ended == g->nv)
			g->t1 = now();
	}
	pthread_cond_broadcast(&g->m->cond);
	pthread_mutex_unlock(&g->m->lock);
}

static void do_dump(struct vcpu *c)
{
	char path[512];
	struct xg_error err;

	/* called with m->lock released, on the vCPU's thread (or after it ended) */
	if (xg_vcpu_dump(c->ev, "asked by exitgate ctl", path, sizeof(path), &err))
		snprintf(c->dump_msg, sizeof(c->dump_msg), "error: %s", err.msg);
	else
		snprintf(c->dump_msg, sizeof(c->dump_msg), "%s", path);
}

/* Serve what was asked of this vCPU; park while suspended. 1 when the vCPU must end. */
static int requests(struct vcpu *c, const char *park_reason)
{
	struct xg_vmm *m = c->g->m;
	int park = park_reason != NULL, stop;

	pthread_mutex_lock(&m->lock);
	c->run->immediate_exit = 0;
	if (c->suspend_req) {
		c->suspend_req = 0;
		park = 1;
		park_reason = "suspended by exitgate ctl";
	}
	if (park) {
		struct xg_error e;
		/* parked, the vCPU's registers are KVM's own for any ioctl meanwhile (the
		 * engine's writes wait in kvm_run for the next KVM_RUN otherwise) */
		if (xg_kvm_vcpu_commit_regs(c->kv, &e))
			say("%s/%d: %s", c->g->cfg->name, c->index, e.msg);
		c->state = V_SUSPENDED;
		snprintf(c->reason, sizeof(c->reason), "%s", park_reason);
		if (!c->paused) /* the start pause is said once for the run (xg_vmm_run) */
			say("%s/%d suspended: %s (resume: exitgate ctl %s resume %s/%d)",
			    c->g->cfg->name, c->index, park_reason, m->ctl_path, c->g->cfg->name,
			    c->index);
		pthread_cond_broadcast(&m->cond);
	}
	for (;;) {
		if (c->dump_req) {
			c->dump_req = 0;
			pthread_mutex_unlock(&m->lock);
			do_dump(c);
			pthread_mutex_lock(&m->lock);
			c->dump_done = 1;
			pthread_cond_broadcast(&m->cond);
			continue;
		}
		if (c->g->stop_req)
			break;
		if (!park || c->resume_req)
			break;
		pthread_cond_wait(&m->cond, &m->lock);
	}
	c->resume_req = 0;
	c->paused = 0;
	if (c->state == V_SUSPENDED)
		c->state = V_RUNNING;
	stop = c->g->stop_req; /* read under the lock: another vCPU's end sets it */
	pthread_mutex_unlock(&m->lock);
	return stop;
}

/* ---- exits ---- */

/* IO: every repetition of a string instruction goes to the device (api.rst 5 KVM_EXIT_IO:
 * count items of size bytes at data_offset). 1 if a device took it. */
static int do_io(struct vcpu *c)
{
	struct kvm_run *r = c->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	unsigned size = r->io.size, count = r->io.count;

	if (r->io.data_offset + (uint64_t)size * count > c->run_size || size > 8)
		return 0; /* KVM never does this; the engine reports it as malformed */
	for (unsigned i = 0; i < count; i++)
		if (!xg_devs_io(&c->g->devs, r->io.port, r->io.direction == KVM_EXIT_IO_OUT,
				data + (size_t)i * size, size)) {
			if (r->io.direction == KVM_EXIT_IO_IN)
				memset(data, 0xff, (size_t)size * count); /* floating bus */
			return 0;
		}
	return 1;
}

static int do_mmio(struct vcpu *c)
{
	struct kvm_run *r = c->run;
	unsigned len = r->mmio.len > 8 ? 8 : r->mmio.len;

	if (xg_devs_mmio(&c->g->devs, r->mmio.phys_addr, r->mmio.is_write, r->mmio.data, len))
		return 1;
	if (!r->mmio.is_write)
		memset(r->mmio.data, 0xff, sizeof(r->mmio.data));
	return 0;
}

/* The exits whose next KVM_RUN completes an access: answering them with `resume` moves
 * the guest on, so repeating them is no storm. */
static int completes(uint32_t reason)
{
	return reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO || reason == KVM_EXIT_X86_RDMSR ||
	       reason == KVM_EXIT_X86_WRMSR;
}

/* 1 if the guest is stuck: the same exit at the same RIP again and again, each answered
 * by a verdict that did not move the guest on (resume, inject into a guest that faults
 * again ...; a shutdown never gets here, see vcpu_main). emulate and skip move RIP; IO,
 * MMIO and MSR exits are completed by the next KVM_RUN: those reset the count, unless the
 * verdict was inject, which cancels the access (fault.c). */
static int storm(struct vcpu *c, const struct xg_result *res)
{
	uint64_t rip = 0, limit = c->g->cfg->vm.storm;

	if (!limit || res->verdict == XG_VERDICT_EMULATE || res->verdict == XG_VERDICT_SKIP ||
	    (completes(c->run->exit_reason) && res->verdict != XG_VERDICT_INJECT) ||
	    c->ops.get_reg(c->kv, xg_kvm_pc_reg, &rip)) {
		c->storm_n = 0;
		return 0;
	}
	if (c->storm_n && rip == c->storm_rip && c->run->exit_reason == c->storm_reason) {
		if (++c->storm_n >= limit) {
			guest_end(c->g, "stopped", XG_RUN_STOPPED,
				  "exit storm: %llu identical %s exits at rip 0x%llx, each answered "
				  "'%s' without progress (vm.storm: %llu)",
				  (unsigned long long)c->storm_n,
				  xg_exit_reason_name(c->run->exit_reason)
				      ? xg_exit_reason_name(c->run->exit_reason)
				      : "unknown",
				  (unsigned long long)rip, xg_verdict_name(res->verdict),
				  (unsigned long long)limit);
			return 1;
		}
		return 0;
	}
	c->storm_n = 1;
	c->storm_rip = rip;
	c->storm_reason = c->run->exit_reason;
	return 0;
}

/*
 * The guest asked the machine to power off, reset or report a crash (api.rst 5
 * KVM_EXIT_SYSTEM_EVENT; on arm64 the PSCI calls SYSTEM_OFF and SYSTEM_RESET, PSCI 1.1
 * (DEN0022) 5.10, 5.11, with KVM_ARM_VCPU_PSCI_0_2). The mini-VMM ends the guest: a power-off
 * is a good end (status 0), a reset is not carried out (status 4, like a shutdown). The end
 * for this vCPU.
 */
static const char *system_event(struct vcpu *c)
{
	struct kvm_run *r = c->run;

	switch (r->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		guest_end(c->g, "poweroff", 0,
			  "vCPU %d powered the machine off (system_event shutdown: PSCI "
			  "SYSTEM_OFF on arm64)",
			  c->index);
		return "poweroff";
	case KVM_SYSTEM_EVENT_RESET:
		guest_end(c->g, "reset", 0,
			  "vCPU %d asked for a reset (system_event reset: PSCI SYSTEM_RESET on "
			  "arm64); exitgate run does not restart guests",
			  c->index);
		return "reset";
	default:
		guest_end(c->g, "shutdown", 0, "vCPU %d: system_event type %u (%s)", c->index,
			  r->system_event.type,
			  r->system_event.type == KVM_SYSTEM_EVENT_CRASH ? "crash" : "unknown");
		return "shutdown";
	}
}

/* Like QEMU's -S: the vCPUs wait before their first KVM_RUN. */
static const char paused_reason[] = "paused at start (exitgate run --paused)";

static void *vcpu_main(void *arg)
{
	struct vcpu *c = arg;
	struct guest *g = c->g;
	struct kvm_run *r = c->run;
	const char *park = c->paused ? paused_reason : NULL;
	const char *mine = NULL; /* how this vCPU itself ended */

	self = c;
	for (;;) {
		struct xg_result res;
		int rc, taken = 0;

		if (requests(c, park))
			break;
		park = NULL;
		rc = xg_kvm_vcpu_run(c->kv);
		if (rc == -EINTR || rc == -EAGAIN)
			continue;
		if (rc < 0 && !(rc == -EFAULT && r->exit_reason == KVM_EXIT_MEMORY_FAULT)) {
			char why[160];
			snprintf(why, sizeof(why), "KVM could not run the vCPU (KVM_RUN: %s)",
				 strerror(-rc));
			vcpu_end(c, "failed", why);
			return NULL;
		}
		xg_counter_add(&c->exits, 1);
		xg_counter_add(&c->by_reason[r->exit_reason < NREASONS ? r->exit_reason : NREASONS],
			       1);
		if (r->exit_reason == KVM_EXIT_IO)
			taken = do_io(c);
		else if (r->exit_reason == KVM_EXIT_MMIO)
			taken = do_mmio(c);
		else if (r->exit_reason == KVM_EXIT_HLT) {
			vcpu_end(c, "halted", "hlt");
			return NULL;
		} else if (r->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
			mine = system_event(c);
			goto out;
		}
		if (g->devs.done) {
			guest_end(g, "done", g->devs.code, "the guest wrote %u to the done %s",
				  g->devs.code, g->devs.done_mmio ? "register" : "port");
			break;
		}
		if (taken)
			continue;
		/* A MAP_GPA_RANGE request is refused unless the policy converts: the guest
		 * then sees -KVM_EPERM in RAX (x86/hypercalls.rst 8 KVM_HC_MAP_GPA_RANGE: the
		 * return value is the VMM's; error codes of include/uapi/linux/kvm_para.h).
		 * A convert verdict writes 0 (or -KVM_EINVAL for a range outside RAM). A
		 * request that can never be carried out (a range that wraps - KVM checks only
		 * that the frame number does not - or lies outside RAM) gets -KVM_EINVAL
		 * whatever the policy answers; the policy still sees it. */
		if (r->exit_reason == KVM_EXIT_HYPERCALL && r->hypercall.nr == KVM_HC_MAP_GPA_RANGE)
			r->hypercall.ret =
			    xg_kvm_map_gpa_valid(g->vm, r->hypercall.args[0], r->hypercall.args[1],
						 r->hypercall.args[2])
				? (uint64_t)-KVM_EPERM
				: (uint64_t)-KVM_EINVAL;
		atomic_store(&c->policy_since, mono_ns());
		res = xg_rec_handle_exit(c->rec, c->ev, r, c->run_size, rc < 0 ? -rc : 0);
		atomic_store(&c->policy_since, 0);
		/* A triple fault shuts the processor down (SDM Vol. 3A 6.15, interrupt 8: "the
		 * processor ... enters shutdown mode"); KVM_RUN would only report the shutdown
		 * again. Any answer but stop (or a failure) ends the guest here: at most the one
		 * dump the policy asked for, never a storm of re-entries. */
		if (r->exit_reason == KVM_EXIT_SHUTDOWN &&
		    (res.next == XG_NEXT_RUN || res.next == XG_NEXT_PAUSE)) {
			guest_end(g, "shutdown", 0,
				  "vCPU %d shut down (a triple fault); the answer was '%s%s', "
				  "but a shut-down vCPU cannot run on (answer shutdown exits with "
				  "xg.stop)",
				  c->index, res.dumped ? "dump " : "",
				  xg_verdict_name(res.verdict));
			mine = "shutdown";
			goto out;
		}
		switch (res.next) {
		case XG_NEXT_RUN:
			if (storm(c, &res))
				goto out;
			break;
		case XG_NEXT_PAUSE:
			park = res.reason[0] ? res.reason : "suspended by the policy";
			break;
		case XG_NEXT_STOP:
			guest_end(g, "stopped", XG_RUN_STOPPED, "stopped by the policy: %s",
				  res.reason[0] ? res.reason : "(no reason given)");
			goto out;
		case XG_NEXT_ERROR:
		default:
			vcpu_end(c, "failed",
				 res.reason[0] ? res.reason : xg_vcpu_last_error(c->ev));
			return NULL;
		}
	}
out:
	pthread_mutex_lock(&g->m->lock);
	{
		/* The guest's end, except that a vCPU stopped because another one failed or
		 * shut down was only stopped. */
		const char *end = g->end ? g->end : "stopped";
		if (!mine && (!strcmp(end, "failed") || !strcmp(end, "shutdown")))
			end = "stopped";
		pthread_mutex_unlock(&g->m->lock);
		vcpu_end(c, mine ? mine : end, g->reason);
	}
	return NULL;
}

/* ---- setting a guest up ---- */

/* What KVM and guest RAM allow for vm.vcpus: KVM's own maximum (api.rst 4.7
 * KVM_CREATE_VCPU: KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else 4), and in long mode one
 * stack per vCPU from the top of RAM down that stays above the end of the payload. */
static int check_vcpus(struct guest *g, const char *payload, struct xg_error *err)
{
	const struct xg_vm_cfg *vm = &g->cfg->vm;
	int max = xg_kvm_check_cap(g->vm, KVM_CAP_MAX_VCPUS);
	uint64_t stacks = (uint64_t)g->nv * STACK_SIZE, mem = xg_kvm_mem_size(g->vm), end;
	uint64_t base = xg_kvm_ram_base(g->vm);
	struct stat st;

	if (max <= 0)
		max = xg_kvm_check_cap(g->vm, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 4;
	if (g->nv > max) {
		snprintf(err->msg, sizeof(err->msg),
			 "vm.vcpus is %d, but this KVM runs at most %d vCPUs in a VM "
			 "(KVM_CAP_MAX_VCPUS): lower vcpus",
			 g->nv, max);
		return -1;
	}
	if (vm->mode != XG_KVM_LONG || stat(payload, &st) != 0)
		return 0;
	end = vm->load - base + (uint64_t)st.st_size; /* the payload's end in RAM, exclusive */
	if (stacks > mem || end > mem - stacks) {
		snprintf(err->msg, sizeof(err->msg),
			 "vm.vcpus: %d vCPUs need %lluK of stack from the top of RAM down, which "
			 "reaches the payload (0x%llx..0x%llx): give more memory (at least %lluM) "
			 "or fewer vcpus",
			 g->nv, (unsigned long long)(stacks >> 10), (unsigned long long)vm->load,
			 (unsigned long long)(base + end - 1),
			 (unsigned long long)((end + stacks) >> 20) + 1);
		return -1;
	}
	return 0;
}

static int vmm_mmio_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	struct guest *g = o;
	return xg_devs_mmio(&g->devs, gpa, 0, buf, (unsigned)len) ? 0 : -ENODEV;
}

static int vmm_mmio_write(void *o, uint64_t gpa, const void *buf, size_t len)
{
	struct guest *g = o;
	return xg_devs_mmio(&g->devs, gpa, 1, (void *)buf, (unsigned)len) ? 0 : -ENODEV;
}

/* What the guest has at gpa, for dumps: a device of its vm.devices, or its RAM from 0. */
static int vmm_describe_gpa(void *o, uint64_t gpa, char *buf, size_t n)
{
	static const char *const kind[XG_DEV_NTYPES] = {
	    [XG_DEV_RAM] = "ram", [XG_DEV_PATTERN] = "pattern"};
	struct guest *g = o;
	const struct xg_vm_cfg *vm = &g->cfg->vm;

	for (size_t i = 0; i < vm->ndevs; i++) {
		const struct xg_dev_cfg *d = &vm->devs[i];

		if (d->type >= XG_DEV_NTYPES || !kind[d->type] || gpa < d->at ||
		    gpa - d->at >= d->size)
			continue;
		snprintf(buf, n, "%s device 0x%llx-0x%llx (config line %d)", kind[d->type],
			 (unsigned long long)d->at, (unsigned long long)(d->at + d->size - 1),
			 d->line);
		return 0;
	}
	if (gpa < xg_kvm_mem_size(g->vm)) {
		snprintf(buf, n, "guest RAM (0-0x%llx)",
			 (unsigned long long)(xg_kvm_mem_size(g->vm) - 1));
		return 0;
	}
	snprintf(buf, n, "nothing: neither RAM nor a device");
	return -ENODEV;
}

static const struct xg_kvm_vmm_ops vmm_ops = {
    .mmio_read = vmm_mmio_read,
    .mmio_write = vmm_mmio_write,
    .describe_gpa = vmm_describe_gpa,
};

/* Make guest g's VM and vCPUs: 0, -1 with err, or 1 when SIGTERM or SIGINT came first (err
 * says which vCPU was next); what was made is freed by guest_free either way. */
static int guest_setup(struct xg_vmm *m, struct guest *g, struct xg_error *err)
{
	const struct xg_vm_cfg *vm = &g->cfg->vm;
	struct xg_kvm_vm_opts vo = {.mem_size = vm->memory,
				    .mode = vm->mode,
				    .type = vm->type == XG_VM_SW_PROTECTED ? XG_KVM_VM_SW_PROTECTED
									    : XG_KVM_VM_DEFAULT};
	struct xg_kvm_range plain[XG_KVM_MAX_PLAIN];
	char payload[1024];

	for (size_t i = 0; i < vm->nplain && i < XG_KVM_MAX_PLAIN; i++)
		plain[i] = (struct xg_kvm_range){vm->plain[i].gpa, vm->plain[i].size};
	vo.plain = plain;
	vo.nplain = vm->nplain;
	g->m = m;
	if (vm->arch != xg_kvm_arch) {
		snprintf(err->msg, sizeof(err->msg),
			 "vm.arch is %s, but this exitgate runs %s guests on this machine's KVM "
			 "(an %s guest needs exitgate built for and run on %s: see "
			 "tests/vm/aarch64-linux-gnu.cmake and the README's arm64 section)",
			 xg_config_arch_name(vm->arch), xg_config_arch_name(xg_kvm_arch),
			 xg_config_arch_name(vm->arch),
			 vm->arch == XG_ARCH_ARM64 ? "an arm64 host" : "an x86_64 host");
		goto fail;
	}
	if (xg_config_find_payload(m->cfg->base_dir, vm->payload, payload, sizeof(payload), err))
		goto fail;
	if (xg_devs_init(&g->devs, vm, g->cfg->name, stdout, err))
		goto fail;
	g->devs.erase = stdout_erase ? &progress_shown : NULL;
	if (xg_kvm_vm_create(&g->vm, &vo, err))
		goto fail;
	if (xg_kvm_vm_enable_caps(g->vm, &g->cfg->vm, g->cfg->name, err))
		goto fail;
	if (xg_kvm_load_file(g->vm, vm->load, payload, err))
		goto fail;
	/* sw_protected: the MMIO devices' windows have no memslot, and may be made private
	 * (vm.private) or shared like RAM: a private access there exits memory_fault */
	for (size_t i = 0; i < vm->ndevs; i++)
		if ((vm->devs[i].type == XG_DEV_RAM || vm->devs[i].type == XG_DEV_PATTERN) &&
		    !(vm->devs[i].at % 4096) && !(vm->devs[i].size % 4096) &&
		    xg_kvm_add_window(g->vm, vm->devs[i].at, vm->devs[i].size, err))
			goto fail;
	/* vm.private: made private after the payload is in (the shared side); their
	 * contents start as the guest_memfd's, zeros */
	for (size_t i = 0; i < vm->npriv; i++)
		if (xg_kvm_set_private(g->vm, vm->priv[i].gpa, vm->priv[i].size, 1, err))
			goto fail;
	g->nv = vm->vcpus > 0 ? vm->vcpus : 1;
	if (check_vcpus(g, payload, err))
		goto fail;
	g->v = calloc((size_t)g->nv, sizeof(*g->v));
	if (!g->v) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto fail;
	}
	for (int i = 0; i < g->nv; i++) {
		struct vcpu *c = &g->v[i];
		/* SIGTERM or SIGINT while the vCPUs are set up (a policy state each, which may
		 * take seconds in all): stop here, not after the rest (xg_vmm_run says so) */
		if (atomic_load(&interrupted)) {
			snprintf(err->msg, sizeof(err->msg), "vCPU %d of %d next", i, g->nv);
			return 1;
		}
		c->g = g;
		c->index = i;
		if (xg_kvm_vcpu_create(g->vm, i, vm->entry, &c->kv, err))
			goto fail;
		/* the entry state every payload may rely on: its own stack, the first argument
		 * register = index, the second = number of vCPUs (vmm.h) */
		if (xg_kvm_vcpu_set_entry_args(c->kv,
					       xg_kvm_ram_base(g->vm) + xg_kvm_mem_size(g->vm) -
						   (uint64_t)i * STACK_SIZE,
					       (uint64_t)i, (uint64_t)g->nv, err))
			goto fail;
		c->run = xg_kvm_vcpu_run_area(c->kv, &c->run_size);
		xg_kvm_vcpu_ops(c->kv, &c->ops);
		xg_kvm_vcpu_set_vmm(c->kv, &vmm_ops, g);
		c->rec = xg_rec_vcpu_new(m->rec, g->cfg->name, i, &c->ops, c->kv);
		c->ev = xg_vcpu_attach(m->e, g->cfg->name, i, xg_rec_ops(c->rec, &c->ops),
				       xg_rec_opaque(c->rec, c->kv), err);
		if (!c->ev)
			goto fail;
	}
	return 0;
fail:
	{
		char msg[sizeof(err->msg)];
		memcpy(msg, err->msg, sizeof(msg));
		snprintf(err->msg, sizeof(err->msg), "guest '%s': %.*s", g->cfg->name,
			 (int)(sizeof(err->msg) - 80), msg);
	}
	return -1;
}

static void guest_free(struct guest *g)
{
	for (int i = 0; g->v && i < g->nv; i++)
		if (g->v[i].ev)
			xg_vcpu_detach(g->v[i].ev);
	for (int i = 0; g->v && i < g->nv; i++)
		xg_rec_vcpu_free(g->v[i].rec);
	free(g->v);
	xg_kvm_vm_destroy(g->vm);
	xg_devs_free(&g->devs);
}

/* ---- control commands ---- */

/* Targets: "" every vCPU, "guest" its vCPUs, "guest/N" one. */
static int target_match(struct vcpu *c, const char *t)
{
	size_t l = strlen(c->g->cfg->name);

	if (!t || !*t)
		return 1;
	if (strncmp(t, c->g->cfg->name, l))
		return 0;
	if (!t[l])
		return 1;
	return t[l] == '/' && atoi(t + l + 1) == c->index && t[l + 1] >= '0' && t[l + 1] <= '9';
}

static void counters_json(FILE *f, const uint64_t *by, const struct xg_stats *s);
static void exits_of(struct guest *g, uint64_t *by);
static void engine_stats(struct guest *g, struct xg_stats *s);

static const char *state_name(const struct vcpu *c)
{
	if (c->state == V_RUNNING)
		return "running";
	if (c->state == V_SUSPENDED)
		return c->paused ? "paused" : "suspended";
	return "ended";
}

/* Seconds vCPU c has been in its current policy call, 0 outside one. The clock is read after
 * the entry time, each time: a reading taken once before a whole status (and converted
 * through a double) made an entry meanwhile come out negative. */
static double in_policy(struct vcpu *c)
{
	long long since = atomic_load(&c->policy_since);

	return since ? (double)(mono_ns() - since) / 1e9 : 0.0;
}

/* `status --json [T]`: one object with what the text status says per vCPU (state, why,
 * exits, time in the current policy call) and each guest's counters as --stats has them. */
static int status_json(struct xg_vmm *m, const char *arg, FILE *f)
{
	uint64_t(*by)[NREASONS + 1] = calloc((size_t)m->ng, sizeof(*by));
	struct xg_stats *st = calloc((size_t)m->ng, sizeof(*st));
	int n = 0, paused = 0, gn = 0;
	double t = now();

	if (!by || !st) {
		free(by);
		free(st);
		fprintf(f, "error: out of memory\n");
		return -1;
	}
	/* the engine's counters outside m->lock (they take the engine's own lock) */
	for (int gi = 0; gi < m->ng; gi++) {
		exits_of(&m->g[gi], by[gi]);
		engine_stats(&m->g[gi], &st[gi]);
	}
	pthread_mutex_lock(&m->lock);
	for (int gi = 0; gi < m->ng; gi++)
		for (int i = 0; i < m->g[gi].nv; i++)
			if (target_match(&m->g[gi].v[i], arg)) {
				n++;
				paused |= m->g[gi].v[i].state == V_SUSPENDED && m->g[gi].v[i].paused;
			}
	if (!n) {
		pthread_mutex_unlock(&m->lock);
		free(by);
		free(st);
		fprintf(f, "error: no vCPU matches '%s' (targets: GUEST or GUEST/N)\n", arg);
		return -1;
	}
	fprintf(f, "{\"run\":");
	xg_json_str(f, xg_engine_run_id(m->e));
	fprintf(f, ",\"pid\":%d,\"paused\":%s,\"guests\":[", (int)getpid(),
		paused ? "true" : "false");
	for (int gi = 0; gi < m->ng; gi++) {
		struct guest *g = &m->g[gi];
		int vn = 0;

		for (int i = 0; i < g->nv; i++)
			vn += target_match(&g->v[i], arg);
		if (!vn)
			continue;
		fprintf(f, "%s{\"name\":", gn++ ? "," : "");
		xg_json_str(f, g->cfg->name);
		fprintf(f, ",\"end\":");
		if (g->end) {
			xg_json_str(f, g->end);
			fprintf(f, ",\"reason\":");
			xg_json_str(f, g->reason);
		} else {
			fprintf(f, "null,\"reason\":null");
		}
		fprintf(f, ",\"seconds\":%.6f,", (g->ended == g->nv ? g->t1 : t) - g->t0);
		counters_json(f, by[gi], &st[gi]);
		fprintf(f, ",\"vcpus\":[");
		vn = 0;
		for (int i = 0; i < g->nv; i++) {
			struct vcpu *c = &g->v[i];

			if (!target_match(c, arg))
				continue;
			fprintf(f, "%s{\"index\":%d,\"state\":\"%s\",\"reason\":", vn++ ? "," : "",
				i, state_name(c));
			if (c->state == V_RUNNING)
				fprintf(f, "null");
			else
				xg_json_str(f, c->paused ? "paused at start (--paused)" : c->reason);
			fprintf(f, ",\"end\":");
			if (c->state == V_ENDED && c->end)
				xg_json_str(f, c->end);
			else
				fprintf(f, "null");
			fprintf(f, ",\"exits\":%llu,\"in_policy_seconds\":%.6f}",
				(unsigned long long)xg_counter_get(&c->exits),
				c->state == V_RUNNING ? in_policy(c) : 0.0);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
	pthread_mutex_unlock(&m->lock);
	free(by);
	free(st);
	return 0;
}

int xg_vmm_command(struct xg_vmm *m, const char *line, FILE *f)
{
	char cmd[32] = "", arg[160] = "";
	int n = 0, rc = 0;

	sscanf(line, "%31s %159s", cmd, arg);
	if (!strcmp(cmd, "status") && !strcmp(arg, "--json")) {
		arg[0] = 0;
		sscanf(line, "%*s %*s %159s", arg);
		return status_json(m, arg, f);
	}
	if (!strcmp(cmd, "metrics"))
		return xg_metrics_print(m, f);
	if (!strcmp(cmd, "reload")) {
		struct xg_error err;
		if (xg_engine_reload(m->e, &err)) {
			fprintf(f, "error: reload failed, the old policies keep running: %s\n",
				err.msg);
			return -1;
		}
		fprintf(f, "reloaded\n");
		return 0;
	}
	if (strcmp(cmd, "status") && strcmp(cmd, "resume") && strcmp(cmd, "suspend") &&
	    strcmp(cmd, "stop") && strcmp(cmd, "dump")) {
		fprintf(f, "error: '%s' is not a command (status, resume, suspend, stop, dump, "
			   "reload, metrics)\n",
			cmd);
		return -1;
	}
	pthread_mutex_lock(&m->lock);
	for (int gi = 0; gi < m->ng; gi++) {
		struct guest *g = &m->g[gi];
		for (int i = 0; i < g->nv; i++) {
			struct vcpu *c = &g->v[i];
			if (!target_match(c, arg))
				continue;
			n++;
			if (!strcmp(cmd, "status")) {
				double in = in_policy(c);
				if (c->state == V_RUNNING && in >= 1)
					fprintf(f,
						"%s/%d running exits=%llu (in a policy call for "
						"%.1f s)\n",
						g->cfg->name, i,
						(unsigned long long)xg_counter_get(&c->exits), in);
				else if (c->state == V_RUNNING)
					fprintf(f, "%s/%d running exits=%llu\n", g->cfg->name, i,
						(unsigned long long)xg_counter_get(&c->exits));
				else if (c->state == V_SUSPENDED && c->paused)
					fprintf(f, "%s/%d paused: waiting for resume (--paused)\n",
						g->cfg->name, i);
				else if (c->state == V_SUSPENDED)
					fprintf(f, "%s/%d suspended: %s\n", g->cfg->name, i,
						c->reason);
				else
					fprintf(f, "%s/%d ended: %s %s\n", g->cfg->name, i,
						c->end ? c->end : "?", c->reason);
			} else if (!strcmp(cmd, "resume")) {
				if (c->state == V_SUSPENDED) {
					c->resume_req = 1;
					fprintf(f, "%s/%d resumed\n", g->cfg->name, i);
				}
			} else if (!strcmp(cmd, "suspend")) {
				if (c->state == V_RUNNING) {
					c->suspend_req = 1;
					kick(c);
					fprintf(f, "%s/%d suspending\n", g->cfg->name, i);
				}
			} else if (!strcmp(cmd, "stop")) {
				if (!g->stop_req) {
					guest_end_locked(g, "stopped", XG_RUN_STOPPED,
							 "stopped by exitgate ctl");
					fprintf(f, "%s stopping\n", g->cfg->name);
				}
			} else { /* dump */
				if (c->state == V_ENDED) {
					pthread_mutex_unlock(&m->lock);
					do_dump(c);
					pthread_mutex_lock(&m->lock);
				} else {
					double t = now() + 10;
					c->dump_done = 0;
					c->dump_req = 1;
					kick(c);
					while (!c->dump_done && now() < t && c->state != V_ENDED) {
						struct timespec ts;
						clock_gettime(CLOCK_REALTIME, &ts);
						ts.tv_nsec += 100000000;
						if (ts.tv_nsec >= 1000000000) {
							ts.tv_sec++;
							ts.tv_nsec -= 1000000000;
						}
						pthread_cond_timedwait(&m->cond, &m->lock, &ts);
					}
					if (!c->dump_done)
						snprintf(c->dump_msg, sizeof(c->dump_msg),
							 "error: the vCPU did not answer");
				}
				fprintf(f, "%s\n", c->dump_msg);
				if (!strncmp(c->dump_msg, "error:", 6))
					rc = -1;
			}
		}
	}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (!n) {
		fprintf(f, "error: no vCPU matches '%s' (targets: GUEST or GUEST/N)\n", arg);
		return -1;
	}
	return rc;
}

/* ---- summary ---- */

/* How each end maps to the run's status (vmm.h). The guest's done code only chooses
 * between 0 and XG_RUN_GUEST, so no code a guest writes can look like exitgate's own. */
static const struct {
	const char *end;
	int status;
	const char *meaning;
} end_statuses[] = {
    {"failed", XG_RUN_FAILED,
     "failed: a vCPU could not go on (KVM failed, or no verdict could be carried out)"},
    {"timeout", XG_RUN_TIMEOUT, "ran past its time limit"},
    {"shutdown", XG_RUN_SHUTDOWN, "shut down (triple fault) and was not stopped by the policy"},
    {"stopped", XG_RUN_STOPPED,
     "was stopped (by the policy, exitgate ctl, an exit storm or a signal)"},
    {"halted", XG_RUN_OK, "halted"},
    {"poweroff", XG_RUN_OK, "powered off"},
    {"reset", XG_RUN_SHUTDOWN, "asked for a reset, which exitgate run does not carry out"},
};

static int end_status(const struct guest *g)
{
	if (!g->end)
		return XG_RUN_FAILED;
	if (!strcmp(g->end, "done"))
		return g->code ? XG_RUN_GUEST : XG_RUN_OK;
	for (size_t i = 0; i < sizeof(end_statuses) / sizeof(end_statuses[0]); i++)
		if (!strcmp(g->end, end_statuses[i].end))
			return end_statuses[i].status;
	return XG_RUN_FAILED;
}

/* The run's status: the highest of its guests' (vmm.h orders them by severity). */
static int status_of(struct xg_vmm *m)
{
	int status = XG_RUN_OK;

	for (int gi = 0; gi < m->ng; gi++)
		if (end_status(&m->g[gi]) > status)
			status = end_status(&m->g[gi]);
	return status;
}

/* "status N: meaning", naming the first guest that gave the status. */
static void status_words(struct xg_vmm *m, int status, char *buf, size_t n)
{
	const struct guest *g = NULL;

	for (int gi = 0; gi < m->ng && !g; gi++)
		if (end_status(&m->g[gi]) == status)
			g = &m->g[gi];
	if (status == XG_RUN_OK || !g) {
		snprintf(buf, n, "status %d: every guest ended well (done code 0, or halted)",
			 status);
		return;
	}
	if (status == XG_RUN_GUEST) {
		snprintf(buf, n,
			 "status %d: guest '%s' reported failure: it wrote code %u to the done "
			 "port",
			 status, g->cfg->name, g->code);
		return;
	}
	for (size_t i = 0; i < sizeof(end_statuses) / sizeof(end_statuses[0]); i++)
		if (!strcmp(g->end ? g->end : "failed", end_statuses[i].end)) {
			snprintf(buf, n, "status %d: guest '%s' %s", status, g->cfg->name,
				 end_statuses[i].meaning);
			return;
		}
	snprintf(buf, n, "status %d: guest '%s' failed", status, g->cfg->name);
}

static void engine_stats(struct guest *g, struct xg_stats *s)
{
	struct xg_stats all;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < g->nv; i++) {
		struct xg_stats v;
		uint64_t *a = (uint64_t *)s, *b = (uint64_t *)&v;
		if (!g->v[i].ev)
			continue;
		xg_vcpu_stats(g->v[i].ev, &v);
		for (size_t k = 0; k < sizeof(v) / sizeof(uint64_t); k++)
			a[k] += b[k];
	}
	/* reloads are the engine's, not a vCPU's */
	xg_engine_stats(g->m->e, &all);
	s->reloads = all.reloads;
	s->reload_failures = all.reload_failures;
}

static const char *reason_name(unsigned r)
{
	const char *n = r < NREASONS ? xg_exit_reason_name(r) : NULL;
	return n ? n : "other";
}

static void exits_of(struct guest *g, uint64_t *by)
{
	memset(by, 0, sizeof(uint64_t) * (NREASONS + 1));
	for (int i = 0; i < g->nv; i++)
		for (int r = 0; r <= NREASONS; r++)
			by[r] += xg_counter_get(&g->v[i].by_reason[r]);
}

int xg_vmm_counters(struct xg_vmm *m, int gi, const char **name, uint64_t *by,
		    struct xg_stats *s)
{
	_Static_assert(NREASONS == XG_VMM_NREASONS, "vmm.h's count of exit reasons");
	if (gi < 0 || gi >= m->ng)
		return -1;
	if (name)
		*name = m->g[gi].cfg->name;
	if (by)
		exits_of(&m->g[gi], by);
	if (s)
		engine_stats(&m->g[gi], s);
	return 0;
}

static void summary_to(struct guest *g, FILE *f)
{
	uint64_t by[NREASONS + 1];
	struct xg_stats s;
	int first = 1;

	exits_of(g, by);
	engine_stats(g, &s);
	fprintf(f, "exitgate: %s: %s", g->cfg->name, g->end ? g->end : "?");
	if (g->end && !strcmp(g->end, "done"))
		fprintf(f, " (code %u)", g->code);
	fprintf(f, " after %.3f s: %s\n", g->t1 - g->t0, g->reason);
	if (g->cfg->vm.type == XG_VM_SW_PROTECTED && g->vm) {
		struct xg_kvm_pmem_stats ps;
		xg_kvm_pmem_stats(g->vm, &ps);
		fprintf(f,
			"  memory:   %llu conversions, %llu failed, %llu private pages, %llu "
			"KVM_SET_MEMORY_ATTRIBUTES\n",
			(unsigned long long)ps.conversions, (unsigned long long)ps.failed,
			(unsigned long long)ps.private_pages, (unsigned long long)ps.attr_ioctls);
	}
	fprintf(f, "  exits:    ");
	for (int r = 0; r <= NREASONS; r++)
		if (by[r]) {
			fprintf(f, "%s%s %llu", first ? "" : ", ", reason_name((unsigned)r),
				(unsigned long long)by[r]);
			first = 0;
		}
	fprintf(f, "%s\n  verdicts: ", first ? "none" : "");
	first = 1;
	for (int k = 1; k < XG_VERDICT_COUNT; k++)
		if (s.verdicts[k]) {
			fprintf(f, "%s%s %llu", first ? "" : ", ",
				xg_verdict_name((enum xg_verdict_kind)k),
				(unsigned long long)s.verdicts[k]);
			first = 0;
		}
	fprintf(f, "%s (%llu exits to the engine: %llu from the cache, %llu Lua calls",
		first ? "none" : "", (unsigned long long)s.exits, (unsigned long long)s.cache_hits,
		(unsigned long long)s.lua_calls);
	if (s.lua_calls)
		fprintf(f, " taking %.3f s", (double)s.lua_ns / 1e9); /* the coarse clock: ms */
	if (s.emulated)
		fprintf(f, ", %llu emulated (%llu by the memo)", (unsigned long long)s.emulated,
			(unsigned long long)s.emulated_memo);
	for (int k = 1; k < XG_FAIL_COUNT; k++)
		if (s.fails[k])
			fprintf(f, ", %llu %s", (unsigned long long)s.fails[k],
				xg_fail_name((enum xg_fail)k));
	fprintf(f, ")\n");
	/* where the dumps are, and always when it is the default nobody configured */
	if (s.dumps || !g->cfg->dump_dir)
		fprintf(f, "  dumps:    %llu (run %s) in %s%s\n", (unsigned long long)s.dumps,
			xg_engine_run_id(g->m->e),
			dump_dir_of(g->m, g->cfg) ? dump_dir_of(g->m, g->cfg) : "the log",
			g->cfg->dump_dir ? "" : " (the default: no dump_dir configured)");
	for (int i = 0; i < g->nv; i++)
		if (g->v[i].abandoned)
			fprintf(f, "  vCPU %d:   %s\n", i, g->v[i].reason);
}

/* The summary on stderr: as it is, or a JSON log line per line (kind "summary"). */
static void summary(struct guest *g)
{
	char *buf = NULL, *l, *nl;
	size_t len = 0;
	FILE *f;

	if (!log_json) {
		summary_to(g, stderr);
		return;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	summary_to(g, f);
	if (fclose(f)) {
		free(buf);
		return;
	}
	for (l = buf; *l; l = nl + 1) {
		nl = strchr(l, '\n');
		if (!nl)
			break;
		*nl = 0;
		/* the first line's "exitgate: " belongs to the text form */
		log_at("summary", g->cfg->name, -1, strncmp(l, "exitgate: ", 10) ? l : l + 10);
	}
	free(buf);
}

/* "exits":{by reason},"engine":{...}: the counters of --stats and ctl status --json. */
static void counters_json(FILE *f, const uint64_t *by, const struct xg_stats *s)
{
	int first = 1;

	fprintf(f, "\"exits\":{");
	for (int r = 0; r <= NREASONS; r++)
		if (by[r]) {
			fprintf(f, "%s\"%s\":%llu", first ? "" : ",", reason_name((unsigned)r),
				(unsigned long long)by[r]);
			first = 0;
		}
	fprintf(f,
		"},\"engine\":{\"exits\":%llu,\"lua_calls\":%llu,\"lua_seconds\":%.9f,"
		"\"cache_hits\":%llu,\"emulated\":%llu,\"emulated_memo\":%llu,"
		"\"dumps\":%llu,\"swaps\":%llu,\"reloads\":%llu,"
		"\"reload_failures\":%llu,\"verdicts\":{",
		(unsigned long long)s->exits, (unsigned long long)s->lua_calls,
		(double)s->lua_ns / 1e9, (unsigned long long)s->cache_hits,
		(unsigned long long)s->emulated, (unsigned long long)s->emulated_memo,
		(unsigned long long)s->dumps, (unsigned long long)s->swaps,
		(unsigned long long)s->reloads, (unsigned long long)s->reload_failures);
	first = 1;
	for (int k = 1; k < XG_VERDICT_COUNT; k++)
		if (s->verdicts[k]) {
			fprintf(f, "%s\"%s\":%llu", first ? "" : ",",
				xg_verdict_name((enum xg_verdict_kind)k),
				(unsigned long long)s->verdicts[k]);
			first = 0;
		}
	fprintf(f, "},\"fails\":{");
	first = 1;
	for (int k = 1; k < XG_FAIL_COUNT; k++)
		if (s->fails[k]) {
			fprintf(f, "%s\"%s\":%llu", first ? "" : ",", xg_fail_name((enum xg_fail)k),
				(unsigned long long)s->fails[k]);
			first = 0;
		}
	fprintf(f, "}}");
}

static int write_stats(struct xg_vmm *m, const char *path, int status)
{
	char words[400];

	char tmp[1100];
	struct stat st;
	int direct = 0, fd;
	FILE *f;

	/* A regular file (or none) is replaced atomically: written to PATH.tmp, renamed over
	 * PATH. Anything else is written into, never renamed over: `--stats /dev/null` as root
	 * replaced the system's /dev/null with a file, and a FIFO's reader got nothing. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!strcmp(path, "-")) { /* `--stats -`: standard output, after the guests' lines */
		f = stdout;
		direct = 2;
	} else if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			say("cannot write the stats to %s: it is a directory", path);
			return -1;
		}
		/* a FIFO nobody reads: ENXIO at once (O_NONBLOCK), then blocking writes */
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			say("cannot write the stats to %s: %s", path,
			    errno == ENXIO ? "a FIFO with no reader" : strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		direct = 1;
	} else {
		f = fopen(tmp, "w");
		if (!f) {
			say("cannot write the stats to %s: %s", tmp, strerror(errno));
			return -1;
		}
	}
	status_words(m, status, words, sizeof(words));
	fprintf(f, "{\"status\":%d,\"status_meaning\":", status);
	xg_json_str(f, words);
	fprintf(f, ",\"run\":");
	xg_json_str(f, xg_engine_run_id(m->e));
	fprintf(f, ",\"guests\":[");
	for (int gi = 0; gi < m->ng; gi++) {
		struct guest *g = &m->g[gi];
		uint64_t by[NREASONS + 1];
		struct xg_stats s;

		exits_of(g, by);
		engine_stats(g, &s);
		fprintf(f, "%s{\"name\":", gi ? "," : "");
		xg_json_str(f, g->cfg->name);
		fprintf(f, ",\"end\":");
		xg_json_str(f, g->end ? g->end : "?");
		fprintf(f, ",\"status\":%d,\"code\":", end_status(g));
		if (g->end && !strcmp(g->end, "done"))
			fprintf(f, "%u", g->code);
		else
			fprintf(f, "null");
		fprintf(f, ",\"reason\":");
		xg_json_str(f, g->reason);
		fprintf(f, ",\"seconds\":%.6f,", g->t1 - g->t0);
		if (g->cfg->vm.type == XG_VM_SW_PROTECTED && g->vm) {
			/* convert verdicts carried out, what failed, the ioctls they took, and
			 * the private ranges at the end as the VMM last told KVM */
			struct xg_kvm_range pr[64];
			struct xg_kvm_pmem_stats ps;
			size_t npr = xg_kvm_private_ranges(g->vm, pr, 64);
			xg_kvm_pmem_stats(g->vm, &ps);
			fprintf(f,
				"\"conversions\":%llu,\"conversions_failed\":%llu,"
				"\"attribute_ioctls\":%llu,\"private_pages\":%llu,\"private\":[",
				(unsigned long long)ps.conversions, (unsigned long long)ps.failed,
				(unsigned long long)ps.attr_ioctls,
				(unsigned long long)ps.private_pages);
			for (size_t i = 0; i < npr && i < 64; i++)
				fprintf(f, "%s{\"gpa\":%llu,\"size\":%llu}", i ? "," : "",
					(unsigned long long)pr[i].gpa,
					(unsigned long long)pr[i].size);
			fprintf(f, "],\"private_ranges\":%zu,", npr);
		}
		counters_json(f, by, &s);
		fprintf(f, ",\"vcpus\":[");
		for (int i = 0; i < g->nv; i++) {
			fprintf(f, "%s{\"index\":%d,\"end\":", i ? "," : "", i);
			xg_json_str(f, g->v[i].end ? g->v[i].end : "?");
			fprintf(f, ",\"exits\":%llu}",
				(unsigned long long)xg_counter_get(&g->v[i].exits));
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
	if (direct == 2) {
		if (fflush(f) || ferror(f)) {
			say("cannot write the stats to standard output: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (direct) {
		if (fclose(f)) {
			say("cannot write the stats to %s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (fclose(f) || rename(tmp, path)) {
		say("cannot write the stats to %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- the run ---- */

/* Temp files that writers killed mid-dump left in the guests' dump directories (see
 * xg_dump_clean: a live writer's are kept). Said when there were any. */
static void clean_dumps(struct xg_vmm *m)
{
	for (int gi = 0; gi < m->ng; gi++) {
		const char *dir = dump_dir_of(m, m->g[gi].cfg);
		struct xg_error err;
		int n, seen = 0;

		for (int k = 0; k < gi && dir; k++)
			seen |= !strcmp(dump_dir_of(m, m->g[k].cfg), dir);
		if (!dir || seen)
			continue;
		n = xg_dump_clean(dir, &err);
		if (n)
			say("%s: removed %d stale dump temp file%s left by writers that are gone",
			    dir, n, n == 1 ? "" : "s");
		if (err.msg[0])
			say("%s", err.msg);
	}
}

static int selected(const struct xg_vmm_opts *o, const char *name)
{
	if (!o->nonly)
		return 1;
	for (int i = 0; i < o->nonly; i++)
		if (!strcmp(o->only[i], name))
			return 1;
	return 0;
}

static int all_ended(struct xg_vmm *m)
{
	for (int gi = 0; gi < m->ng; gi++)
		if (m->g[gi].ended < m->g[gi].nv)
			return 0;
	return 1;
}

/* The grace period is over: the vCPUs that have not ended are given up on (m->lock held).
 * Their threads go on; the summary names them. 1 if any was. */
static int abandon_locked(struct xg_vmm *m, double waited)
{
	int any = 0;

	for (int gi = 0; gi < m->ng; gi++) {
		struct guest *g = &m->g[gi];
		for (int i = 0; i < g->nv; i++) {
			struct vcpu *c = &g->v[i];
			double in = in_policy(c);
			if (c->state == V_ENDED)
				continue;
			c->state = V_ENDED;
			c->end = "stuck";
			c->abandoned = 1;
			if (in > 0)
				snprintf(c->reason, sizeof(c->reason),
					 "did not stop within %.1f s: stuck in a policy call for "
					 "%.1f s; left running",
					 waited, in);
			else
				snprintf(c->reason, sizeof(c->reason),
					 "did not stop within %.1f s (not in a policy call); left "
					 "running",
					 waited);
			say("%s/%d %s", g->cfg->name, i, c->reason);
			if (++g->ended == g->nv)
				g->t1 = now();
			any = 1;
		}
	}
	pthread_cond_broadcast(&m->cond);
	return any;
}

/*
 * The status line on a terminal (stderr a tty, not --quiet, --no-progress or JSON logs),
 * redrawn about once a second: vCPUs running, exits and exits per second, the verdicts and
 * the policy failures so far. It is cut to the terminal's width (a wrapped line could not
 * be erased with \r), and erased before any other line goes to the terminal.
 */
struct progress {
	double t0, t_last;
	uint64_t exits_last;
};

static void progress(struct xg_vmm *m, struct progress *p, double t)
{
	char line[512];
	uint64_t exits = 0, fails = 0, verdicts[XG_VERDICT_COUNT] = {0};
	int running = 0, paused = 0, nv = 0, len, first = 1;
	struct winsize ws;
	size_t w = 79;

	for (int gi = 0; gi < m->ng; gi++) {
		struct guest *g = &m->g[gi];
		struct xg_stats s;

		engine_stats(g, &s);
		for (int k = 1; k < XG_VERDICT_COUNT; k++)
			verdicts[k] += s.verdicts[k];
		for (int k = 1; k < XG_FAIL_COUNT; k++)
			fails += s.fails[k];
		pthread_mutex_lock(&m->lock);
		for (int i = 0; i < g->nv; i++) {
			exits += xg_counter_get(&g->v[i].exits);
			running += g->v[i].state == V_RUNNING;
			paused += g->v[i].state == V_SUSPENDED && g->v[i].paused;
		}
		pthread_mutex_unlock(&m->lock);
		nv += g->nv;
	}
	len = snprintf(line, sizeof(line), "%.0f s: %d/%d vCPUs running%s, %llu exits (%.0f/s), ",
		       t - p->t0, running, nv, paused ? " (paused)" : "",
		       (unsigned long long)exits,
		       t > p->t_last ? (double)(exits - p->exits_last) / (t - p->t_last) : 0.0);
	for (int k = 1; k < XG_VERDICT_COUNT && len < (int)sizeof(line); k++)
		if (verdicts[k]) {
			len += snprintf(line + len, sizeof(line) - (size_t)len, "%s%s %llu",
					first ? "verdicts: " : ", ",
					xg_verdict_name((enum xg_verdict_kind)k),
					(unsigned long long)verdicts[k]);
			first = 0;
		}
	if (len < (int)sizeof(line))
		snprintf(line + len, sizeof(line) - (size_t)len, "%s%llu failures",
			 first ? "no verdicts, " : ", ", (unsigned long long)fails);
	if (!ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 12)
		w = ws.ws_col - 1u;
	if (strlen(line) > w)
		line[w] = 0;
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	atomic_store(&progress_shown, 1);
	p->t_last = t;
	p->exits_last = exits;
}

static void progress_erase(void)
{
	if (atomic_load(&progress_shown)) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
		atomic_store(&progress_shown, 0);
	}
}

int xg_vmm_run(const struct xg_vmm_opts *o)
{
	struct xg_vmm m = {.o = o};
	struct xg_error err;
	struct sigaction sa;
	char why[300], ddir[PATH_MAX];
	int status = XG_RUN_SETUP, abandoned = 0, stats_lost = 0;
	double deadline = 0, t_end = 0, t_metrics = 0;
	char mwhy[1200];
	int metrics_said = 0;
	struct progress prog = {0};
	int show_progress = !o->quiet && !o->no_progress && !o->log_json && isatty(STDERR_FILENO);
	double t_progress = 0;

	log_json = o->log_json;
	if (show_progress && isatty(STDOUT_FILENO)) {
		struct stat so, se;
		/* the console's lines go to the same terminal: they erase the status line */
		stdout_erase = !fstat(STDOUT_FILENO, &so) && !fstat(STDERR_FILENO, &se) &&
			       so.st_rdev == se.st_rdev;
	}

	pthread_mutex_init(&m.lock, NULL);
	pthread_cond_init(&m.cond, NULL);
	/* The signals are ours from the start: setting up (a policy state per vCPU, the VMs)
	 * takes seconds with many vCPUs, and SIGTERM or SIGHUP then killed the run by their
	 * default action, with no summary. Now they are flags: SIGTERM or SIGINT stops the
	 * setup at the next vCPU (status 3, no guest ran), or once the guests run the main
	 * loop stops them (status 3, summary); SIGHUP is a reload once they run. */
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK)) {
		say("pipe: %s", strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hangup;
	sigaction(SIGHUP, &sa, NULL);
	/* a control client that hangs up must not end the run: writes fail with EPIPE instead */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	m.cfg = xg_config_load(o->config, &err);
	if (!m.cfg) {
		say("%s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < m.cfg->n; i++)
		if (selected(o, m.cfg->guests[i].name) && m.cfg->guests[i].vm.present)
			m.ng++;
	for (int i = 0; i < o->nonly; i++) {
		const struct xg_guest_cfg *gc = xg_config_guest(m.cfg, o->only[i]);
		if (!gc || !gc->vm.present) {
			say("%s: %s", o->config,
			    !gc ? "no such guest" : "that guest has no vm: section to run");
			say("guest '%s' cannot run", o->only[i]);
			goto out;
		}
	}
	if (!m.ng) {
		say("%s: no guest has a vm: section, so there is nothing to run (see "
		    "examples/configs/demo.yaml)",
		    o->config);
		goto out;
	}
	if (xg_kvm_probe(why, sizeof(why))) {
		say("cannot run guests here: %s", why);
		goto out;
	}
	m.e = xg_engine_new(m.cfg, &err);
	if (!m.e) {
		say("%s", err.msg);
		goto out;
	}
	xg_engine_set_log(m.e, engine_log, NULL);
	if (o->record_path &&
	    !(m.rec = xg_rec_open(o->record_path, o->record_max, o->config, &err))) {
		say("%s", err.msg);
		goto out;
	}
	xg_rec_set_log(m.rec, record_log, NULL);
	/* guests without a dump_dir write theirs to the user's state directory, made at the
	 * first dump (when there is no such directory, they go to the log as before) */
	if (!xg_dump_default_dir(ddir, sizeof(ddir)) && xg_engine_set_dump_default(m.e, ddir)) {
		say("out of memory");
		goto out;
	}
	m.g = calloc((size_t)m.ng, sizeof(*m.g));
	if (!m.g) {
		say("out of memory");
		goto out;
	}
	for (size_t i = 0, k = 0; i < m.cfg->n; i++)
		if (selected(o, m.cfg->guests[i].name) && m.cfg->guests[i].vm.present)
			m.g[k++].cfg = &m.cfg->guests[i];
	for (int gi = 0; gi < m.ng; gi++) {
		/* 1: SIGTERM or SIGINT came while setting up (guest_setup stops at the next
		 * vCPU); the guests set up so far are freed at out as after an error */
		int r = atomic_load(&interrupted) ? 1 : guest_setup(&m, &m.g[gi], &err);
		if (r < 0) {
			say("%s", err.msg);
			goto out;
		}
		if (r > 0) {
			status = XG_RUN_STOPPED; /* as a stop once the guests run */
			say("status %d: interrupted (%s) while setting up guest '%s' (%s): no guest "
			    "ran",
			    status, atomic_load(&interrupted) == SIGINT ? "SIGINT" : "SIGTERM",
			    m.g[gi].cfg->name, m.g[gi].v ? err.msg : "before its vCPUs");
			goto out;
		}
	}
	clean_dumps(&m);
	if (o->ctl_path)
		snprintf(m.ctl_path, sizeof(m.ctl_path), "%s", o->ctl_path);
	else
		snprintf(m.ctl_path, sizeof(m.ctl_path), "%s/exitgate-%d.sock",
			 getenv("XDG_RUNTIME_DIR") ? getenv("XDG_RUNTIME_DIR") : "/tmp",
			 (int)getpid());
	m.ctl = xg_ctl_open(m.ctl_path, &m, &err);
	if (!m.ctl) {
		say("%s", err.msg);
		goto out;
	}
	/* SIGHUP is ours with or without --watch: the watcher only follows the files */
	if (o->watch && xg_engine_watch(m.e, 0, &err)) {
		say("%s", err.msg);
		goto out;
	}

	pthread_mutex_lock(&m.lock);
	for (int gi = 0; gi < m.ng; gi++) {
		struct guest *g = &m.g[gi];
		g->t0 = g->t1 = now();
		for (int i = 0; i < g->nv; i++) {
			if (o->paused) { /* suspended from the start: status says so at once */
				g->v[i].paused = 1;
				g->v[i].state = V_SUSPENDED;
				snprintf(g->v[i].reason, sizeof(g->v[i].reason), "%s",
					 paused_reason);
			}
			if (pthread_create(&g->v[i].tid, NULL, vcpu_main, &g->v[i])) {
				g->v[i].state = V_ENDED;
				g->v[i].end = "failed";
				g->ended++;
				guest_end_locked(g, "failed", XG_RUN_FAILED,
						 "cannot start a vCPU thread");
				continue;
			}
			g->v[i].started = 1;
		}
	}
	pthread_mutex_unlock(&m.lock);
	if (o->paused)
		say("paused: every vCPU waits for `exitgate ctl %s resume` (--paused)", m.ctl_path);
	if (o->timeout > 0)
		deadline = now() + o->timeout;
	prog.t0 = prog.t_last = now();
	t_progress = prog.t0 + 1;

	for (;;) {
		double t = now();
		int done, ending = 1;
		char buf[64];

		if (atomic_exchange(&hangup, 0))
			xg_ctl_reload(m.ctl);
		if (show_progress && t >= t_progress) {
			progress(&m, &prog, t);
			t_progress = t + 1;
		}
		if (o->metrics_path && t >= t_metrics) {
			/* said once: the next rewrite may work again */
			if (xg_metrics_file(&m, o->metrics_path, mwhy, sizeof(mwhy)) && !metrics_said++)
				say("%s", mwhy);
			t_metrics = t + XG_METRICS_PERIOD;
		}
		pthread_mutex_lock(&m.lock);
		done = all_ended(&m);
		for (int gi = 0; gi < m.ng && !done; gi++) {
			struct guest *g = &m.g[gi];
			double lim = g->cfg->vm.timeout;
			if (g->stop_req)
				continue;
			ending = 0;
			if (atomic_load(&interrupted))
				guest_end_locked(g, "stopped", XG_RUN_STOPPED,
						 atomic_load(&interrupted) == SIGINT
						     ? "interrupted (SIGINT)"
						     : "interrupted (SIGTERM)");
			else if ((deadline && t >= deadline) || (lim > 0 && t >= g->t0 + lim)) {
				char r[160];
				snprintf(r, sizeof(r),
					 "timeout: still running after %.1f s (raise vm.timeout or "
					 "--timeout)",
					 t - g->t0);
				guest_end_locked(g, "timeout", XG_RUN_TIMEOUT, r);
			}
		}
		if (!done && ending) {
			/* every guest was told to stop: give the vCPUs a grace period */
			if (!t_end)
				t_end = t;
			else if (t - t_end >= XG_RUN_GRACE)
				abandoned = abandon_locked(&m, t - t_end);
		}
		pthread_mutex_unlock(&m.lock);
		if (done || abandoned)
			break;
		xg_ctl_poll(m.ctl, sig_pipe[0], 50);
		while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
			;
	}
	for (int gi = 0; gi < m.ng; gi++)
		for (int i = 0; i < m.g[gi].nv; i++)
			if (m.g[gi].v[i].started && !m.g[gi].v[i].abandoned)
				pthread_join(m.g[gi].v[i].tid, NULL);
	progress_erase();
	/* no more commands or reloads: one that has not ended within the grace period (a
	 * policy that takes forever to load, a dump of a stuck vCPU) is left running */
	t_end = now() + XG_RUN_GRACE;
	if (xg_ctl_close(m.ctl, XG_RUN_GRACE)) {
		say("the control socket's thread is still inside a command after %.0f s; left "
		    "running",
		    XG_RUN_GRACE);
		abandoned = 1;
	}
	m.ctl = NULL;
	if (o->watch && xg_engine_unwatch(m.e, t_end - now() > 0.1 ? t_end - now() : 0.1)) {
		say("the --watch thread is still inside a reload after %.0f s; left running",
		    XG_RUN_GRACE);
		abandoned = 1;
	}
	if (xg_rec_close(m.rec, &err) && !o->quiet)
		say("%s", err.msg); /* said when it happened too: the summary's reader sees it */
	for (int gi = 0; gi < m.ng; gi++) {
		xg_devs_flush(&m.g[gi].devs);
		if (!o->quiet)
			summary(&m.g[gi]);
	}
	status = status_of(&m);
	/* the last counters, equal to --stats */
	if (o->metrics_path && xg_metrics_file(&m, o->metrics_path, mwhy, sizeof(mwhy)))
		say("%s", mwhy);
	if (o->stats_path && write_stats(&m, o->stats_path, status) && !status) {
		status = XG_RUN_FAILED;
		stats_lost = 1;
	}
	if (!o->quiet) {
		char words[400];
		if (stats_lost) /* the guests' words would say they all ended well */
			snprintf(words, sizeof(words),
				 "status %d: the --stats file could not be written (see above); "
				 "the guests ended well",
				 status);
		else
			status_words(&m, status, words, sizeof(words));
		say("%s", words);
	}
	if (abandoned) {
		/* a thread that does not return still uses the guests and the engine: nothing
		 * may be freed under it, and it cannot be joined. End the process here. */
		fflush(stdout);
		fflush(stderr);
		_exit(status);
	}
out:
	if (m.ctl)
		xg_ctl_close(m.ctl, XG_RUN_GRACE);
	for (int i = 0; i < 2; i++)
		if (sig_pipe[i] >= 0) {
			close(sig_pipe[i]);
			sig_pipe[i] = -1;
		}
	for (int gi = 0; m.g && gi < m.ng; gi++)
		guest_free(&m.g[gi]);
	free(m.g);
	xg_rec_free(m.rec);
	xg_engine_free(m.e);
	xg_config_free(m.cfg);
	pthread_cond_destroy(&m.cond);
	pthread_mutex_destroy(&m.lock);
	return status;
}
