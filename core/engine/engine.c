/*
 * engine.c - the engine and its vCPUs: dispatch of one exit (cache, then the policy, then
 * on_error), stats, the rate-limited log, per-guest store, reload and the swap at an exit
 * boundary.
 *
 * Reload protocol. xg_engine_reload (any thread but a vCPU's) parses the configuration,
 * reads every policy, and builds one fresh state per attached vCPU (on several threads when
 * there are many: build_all), each by loading the policy into a base made ahead (the pool:
 * a base per vCPU, made again once the states are handed out, so that the vCPUs wait only
 * for the policies' part); if any of that fails nothing changes. Otherwise
 * each vCPU gets its new state in `pending` (under its lock), and the engine's config is
 * replaced.
 * The vCPU thread looks at has_pending at the start of xg_handle_exit - one relaxed-cost
 * atomic load - and swaps there, so an exit is handled wholly by one policy: none is lost
 * or handled twice. Old states go to the graveyard (a lock-free list: the swap takes no
 * engine-wide lock) and are closed at the end of the next reload or by xg_engine_free,
 * never on the vCPU thread. A state replaced after a memory kill (rebuild) is closed at
 * once, on the vCPU thread: it is recovery, already off the fast path, and must not
 * accumulate.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <lauxlib.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xg_hot.h"
#include "dump/dump.h"
#include "engine/engine_int.h"
#include "exit/decode.h"

int xg_read_file(const char *path, char **text, size_t *len, struct xg_error *err)
{
	return xg_file_read(path, "policy", XG_POLICY_MAX_FILE, text, len, err);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The exit's profile, when one is on (xg_vcpu_set_profile): switch to a phase. */
static inline void phase(struct xg_vcpu *v, int ph)
{
	if (XG_UNLIKELY(v->prof))
		xg_profile_enter(v->prof, ph);
}

static void stderr_log(void *ud, const char *line)
{
	fprintf(stderr, "exitgate: %s\n", line);
}

void xg_engine_log(struct xg_engine *e, const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	e->log(e->log_ud, line);
}

void xg_text_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '.';
}

int xg_log_admit(struct xg_logbucket *b, double rate, double burst)
{
	uint64_t t = now_ns();

	/* token bucket: `burst` lines at once, then `rate` per second */
	if (b->last_ns)
		b->tokens += (double)(t - b->last_ns) / 1e9 * rate;
	else
		b->tokens = burst;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last_ns = t;
	if (b->tokens < 1) {
		b->suppressed++;
		return 0;
	}
	b->tokens -= 1;
	return 1;
}

/* Formats and sends one admitted line, with the count of those suppressed before it. */
__attribute__((format(printf, 3, 0))) static void log_line(struct xg_engine *e,
							     struct xg_logbucket *b,
							     const char *fmt, va_list ap)
{
	char line[768];

	vsnprintf(line, sizeof(line), fmt, ap);
	xg_text_clean(line);
	if (b->suppressed) {
		size_t l = strlen(line);
		snprintf(line + l, sizeof(line) - l, " (%llu similar lines suppressed)",
			 (unsigned long long)b->suppressed);
		b->suppressed = 0;
	}
	e->log(e->log_ud, line);
}

void xg_vcpu_log(struct xg_vcpu *v, const char *fmt, ...)
{
	struct xg_lstate *ls = v->ls;
	double rate = ls ? ls->logs_per_second : 5, burst = ls ? ls->burst : 20;
	va_list ap;

	if (!xg_log_admit(&v->logs, rate, burst)) {
		xg_st_add(&v->st, XG_ST(logs_suppressed), 1);
		return;
	}
	xg_st_add(&v->st, XG_ST(logs), 1);
	va_start(ap, fmt);
	log_line(v->e, &v->logs, fmt, ap);
	va_end(ap);
}

/* Set while a reload builds states for running vCPUs: their buckets and counters belong to
 * the vCPU threads, so those loads count against the state's own bucket instead. */
static _Thread_local int off_vcpu_thread;

void xg_lstate_log(struct xg_lstate *ls, const char *fmt, ...)
{
	/* a vCPU's state being built on its own thread (attach, rebuild after a kill) shares
	 * the vCPU's bucket: a guest causing a rebuild per exit gets no fresh burst each */
	struct xg_vcpu *v = ls->v && !off_vcpu_thread ? ls->v : NULL;
	struct xg_logbucket *b = v ? &v->logs : &ls->logs;
	va_list ap;

	if (!xg_log_admit(b, ls->logs_per_second, ls->burst)) {
		if (v)
			xg_st_add(&v->st, XG_ST(logs_suppressed), 1);
		return;
	}
	if (v)
		xg_st_add(&v->st, XG_ST(logs), 1);
	va_start(ap, fmt);
	log_line(ls->e, b, fmt, ap);
	va_end(ap);
}

void xg_lstate_log_flush(struct xg_lstate *ls)
{
	if (!ls->logs.suppressed)
		return;
	xg_engine_log(ls->e, "%s: %llu more log lines of the policy suppressed (rate_limit)",
		      ls->chunk, (unsigned long long)ls->logs.suppressed);
	ls->logs.suppressed = 0;
}

static int load_lua_module(struct xg_engine *e, struct xg_error *err)
{
	const char *dirs[] = {getenv("XG_LUA_DIR"), XG_LUA_DIR, XG_INSTALL_LUA_DIR};
	char path[1024];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (!dirs[i])
			continue;
		snprintf(path, sizeof(path), "%s/exitgate.lua", dirs[i]);
		if (!xg_read_file(path, &e->lua_src, &e->lua_len, err)) {
			xg_module_compile(e);
			return 0;
		}
	}
	snprintf(err->msg, sizeof(err->msg),
		 "cannot find exitgate.lua in $XG_LUA_DIR, %s or %s: set XG_LUA_DIR to the "
		 "project's lua/ folder",
		 XG_LUA_DIR, XG_INSTALL_LUA_DIR);
	return -1;
}

/* ---- bases made ahead ------------------------------------------------------------------ */

/* A base from the pool, or NULL (reload_lock held, or the engine not yet shared). */
static struct xg_lstate *pool_take(struct xg_engine *e)
{
	return e->pool_n ? e->pool[--e->pool_n] : NULL;
}

static void pool_put(struct xg_engine *e, struct xg_lstate *ls)
{
	if (!ls)
		return;
	if (e->pool_n == e->pool_cap) {
		size_t cap = e->pool_cap ? 2 * e->pool_cap : 16;
		struct xg_lstate **p = realloc(e->pool, cap * sizeof(*p));
		if (!p) { /* the pool only saves time: a state is then made whole */
			xg_lstate_free(ls);
			return;
		}
		e->pool = p;
		e->pool_cap = cap;
	}
	e->pool[e->pool_n++] = ls;
}

/* Guest g's state with its policy loaded: into base when there is one (it is used up
 * either way), else made whole. */
static struct xg_lstate *state_from(struct xg_engine *e, struct xg_lstate *base,
				    const struct xg_guest_cfg *g, const char *src, size_t len,
				    struct xg_vcpu *v, int index, struct xg_error *err)
{
	if (!base)
		return xg_lstate_new(e, g, src, len, v, index, err);
	return xg_lstate_load(base, g, src, len, v, index, err) ? NULL : base;
}

static void pool_fill(struct xg_engine *e, size_t want);

/* Policy sources of every guest of cfg, read once; check-load each. */
static char **read_policies(struct xg_engine *e, struct xg_config *cfg, size_t **lens,
			    struct xg_error *err)
{
	char **src = calloc(cfg->n + 1, sizeof(*src));
	size_t *len = calloc(cfg->n + 1, sizeof(*len));

	if (!src || !len) {
		free(src);
		free(len);
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < cfg->n; i++) {
		struct xg_lstate *ls;
		if (xg_read_file(cfg->guests[i].policy, &src[i], &len[i], err))
			goto fail;
		ls = xg_lstate_new(e, &cfg->guests[i], src[i], len[i], NULL, -1, err);
		if (!ls)
			goto fail;
		xg_lstate_free(ls);
	}
	*lens = len;
	return src;
fail:
	for (size_t i = 0; i < cfg->n; i++)
		free(src[i]);
	free(src);
	free(len);
	return NULL;
}

static void free_sources(struct xg_config *cfg, char **src, size_t *len)
{
	if (!src)
		return;
	for (size_t i = 0; i < cfg->n; i++)
		free(src[i]);
	free(src);
	free(len);
}

const char *xg_engine_run_id(const xg_engine *e)
{
	return e->run_id;
}

int xg_engine_set_dump_default(xg_engine *e, const char *dir)
{
	char *d = dir ? strdup(dir) : NULL;

	if (dir && !d)
		return -1;
	free(e->dump_default);
	e->dump_default = d;
	return 0;
}

const char *xg_engine_dump_default(const xg_engine *e)
{
	return e->dump_default;
}

xg_engine *xg_engine_new(const xg_config *cfg, struct xg_error *err)
{
	struct xg_engine *e = calloc(1, sizeof(*e));
	size_t *lens;
	char **src;

	if (!e) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->reload_lock, NULL);
	e->log = stderr_log;
	e->wake[0] = e->wake[1] = e->inotify = -1;
	xg_dump_run_id(e->run_id, sizeof(e->run_id));
	if (load_lua_module(e, err))
		goto fail;
	e->cfg = xg_config_copy(cfg, err);
	if (!e->cfg)
		goto fail;
	src = read_policies(e, e->cfg, &lens, err);
	if (!src)
		goto fail;
	free_sources(e->cfg, src, lens);
	return e;
fail:
	xg_engine_free(e);
	return NULL;
}

/* A lock-free push: only empty_graveyard takes states off, and it takes the whole list, so a
 * head seen by a push cannot be freed and come back under it (no ABA). */
static void bury(struct xg_engine *e, struct xg_lstate *ls)
{
	struct xg_lstate *head;

	if (!ls)
		return;
	head = atomic_load_explicit(&e->graveyard, memory_order_relaxed);
	do
		ls->next = head;
	while (!atomic_compare_exchange_weak_explicit(&e->graveyard, &head, ls,
						      memory_order_release, memory_order_relaxed));
}

static void empty_graveyard(struct xg_engine *e)
{
	struct xg_lstate *g = atomic_exchange_explicit(&e->graveyard, NULL, memory_order_acquire);

	while (g) {
		struct xg_lstate *next = g->next;
		xg_lstate_free(g);
		g = next;
	}
}

void xg_engine_free(xg_engine *e)
{
	if (!e)
		return;
	xg_watch_stop(e);
	while (e->vcpus)
		xg_vcpu_detach(e->vcpus);
	empty_graveyard(e);
	while (e->pool_n)
		xg_lstate_free(e->pool[--e->pool_n]);
	free(e->pool);
	xg_store_free(e);
	xg_config_free(e->cfg);
	free(e->dump_default);
	free(e->lua_src);
	free(e->lua_bin);
	pthread_mutex_destroy(&e->lock);
	pthread_mutex_destroy(&e->reload_lock);
	free(e);
}

void xg_engine_set_log(xg_engine *e, xg_log_fn fn, void *ud)
{
	e->log = fn ? fn : stderr_log;
	e->log_ud = fn ? ud : NULL;
}

xg_vcpu *xg_vcpu_attach(xg_engine *e, const char *guest, int index, const struct xg_vcpu_ops *ops,
			void *opaque, struct xg_error *err)
{
	struct xg_vcpu *v;
	const struct xg_guest_cfg *g;
	char *src;
	size_t len;

	pthread_mutex_lock(&e->reload_lock);
	g = xg_config_guest(e->cfg, guest);
	if (!g) {
		snprintf(err->msg, sizeof(err->msg), "guest '%s' is not in the configuration %s",
			 guest, e->cfg->name);
		pthread_mutex_unlock(&e->reload_lock);
		return NULL;
	}
	/* page aligned: the fields every exit touches (first in the struct) share one page */
	v = aligned_alloc(4096, (sizeof(*v) + 4095) & ~(size_t)4095);
	if (v)
		memset(v, 0, sizeof(*v));
	if (!v) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		pthread_mutex_unlock(&e->reload_lock);
		return NULL;
	}
	v->e = e;
	snprintf(v->guest, sizeof(v->guest), "%s", guest);
	v->index = index;
	if (ops)
		v->ops = *ops;
	v->opaque = opaque;
	v->opts.arch = xg_arch_host();
	v->opts.hw = xg_hw_host(); /* asked once, not on every exit */
	/* the vCPU's architecture is the one whose register ops the VMM gives, when it gives
	 * one kind only (an arm64 VMM's exits decode as arm64 on any host); else the host's */
	if (ops && ops->get_arm64_regs && !ops->get_x86_regs) {
		v->opts.arch = XG_ARCH_ARM64;
		v->opts.hw = XG_HW_NONE;
	} else if (ops && ops->get_x86_regs && !ops->get_arm64_regs) {
		v->opts.arch = XG_ARCH_X86_64;
	}
	pthread_mutex_init(&v->lock, NULL);
	if (xg_read_file(g->policy, &src, &len, err))
		goto fail;
	v->ls = xg_lstate_new(e, g, src, len, v, index, err);
	free(src);
	if (!v->ls)
		goto fail;
	pthread_mutex_lock(&e->lock);
	v->next = e->vcpus;
	e->vcpus = v;
	e->nvcpus++;
	pthread_mutex_unlock(&e->lock);
	/* and a base for this vCPU's next reload, so that no reload makes a whole state while
	 * the vCPUs wait: attach makes two states' worth (64 attaches 2.9 -> 5.5 ms here) */
	pool_fill(e, e->nvcpus);
	pthread_mutex_unlock(&e->reload_lock);
	return v;
fail:
	pthread_mutex_unlock(&e->reload_lock);
	pthread_mutex_destroy(&v->lock);
	free(v);
	return NULL;
}

static void add_stats(struct xg_stats *to, const struct xg_stats *s)
{
	const uint64_t *a = (const uint64_t *)s;
	uint64_t *b = (uint64_t *)to;

	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		b[i] += a[i];
}

void xg_vcpu_detach(xg_vcpu *v)
{
	struct xg_engine *e;

	if (!v)
		return;
	e = v->e;
	pthread_mutex_lock(&e->reload_lock);
	pthread_mutex_lock(&e->lock);
	for (struct xg_vcpu **p = &e->vcpus; *p; p = &(*p)->next)
		if (*p == v) {
			*p = v->next;
			e->nvcpus--;
			break;
		}
	{
		struct xg_stats s;
		xg_st_read(&v->st, &s);
		add_stats(&e->retired, &s);
	}
	pthread_mutex_unlock(&e->lock);
	/* the pool keeps a base per vCPU, no more */
	while (e->pool_n > e->nvcpus)
		xg_lstate_free(e->pool[--e->pool_n]);
	pthread_mutex_unlock(&e->reload_lock);
	if (v->logs.suppressed)
		xg_engine_log(e, "%s[%d]: %llu more log lines suppressed (rate_limit)", v->guest,
			      v->index, (unsigned long long)v->logs.suppressed);
	xg_lstate_free(v->ls);
	xg_lstate_free(v->pending);
	xg_vcpu_set_profile(v, NULL);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

const char *xg_vcpu_last_error(const xg_vcpu *v)
{
	return v->last_error;
}

void xg_st_read(const struct xg_live_stats *s, struct xg_stats *out)
{
	uint64_t *w = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		w[i] = xg_counter_get(&s->w[i]);
}

void xg_vcpu_stats(const xg_vcpu *v, struct xg_stats *out)
{
	xg_st_read(&v->st, out);
}

void xg_engine_stats(xg_engine *e, struct xg_stats *out)
{
	struct xg_stats s;

	pthread_mutex_lock(&e->lock);
	*out = e->retired;
	for (struct xg_vcpu *v = e->vcpus; v; v = v->next) {
		xg_st_read(&v->st, &s);
		add_stats(out, &s);
	}
	pthread_mutex_unlock(&e->lock);
}

/* The exit boundary: take a state a reload left for us. */
static void maybe_swap(struct xg_vcpu *v)
{
	struct xg_lstate *old;

	pthread_mutex_lock(&v->lock);
	old = v->ls;
	v->ls = v->pending;
	v->pending = NULL;
	atomic_store_explicit(&v->has_pending, 0, memory_order_relaxed);
	pthread_mutex_unlock(&v->lock);
	xg_st_add(&v->st, XG_ST(swaps), 1);
	xg_st_add(&v->st, XG_ST(cache_invalidations), xg_cache_clear(&v->cache));
	bury(v->e, old);
}

/*
 * After a memory-limit kill the state may be full of what the policy keeps between calls
 * (upvalues), so every later call would fail too: build a fresh state from the same policy
 * text. This one runs on the vCPU thread (it is recovery, not a reload); a pending reload
 * wins and is swapped in at the next exit anyway.
 */
static void rebuild(struct xg_vcpu *v)
{
	struct xg_engine *e = v->e;
	const struct xg_guest_cfg *g;
	struct xg_config *cfg;
	struct xg_lstate *ls = NULL;
	struct xg_error err;

	if (atomic_load_explicit(&v->has_pending, memory_order_acquire))
		return;
	pthread_mutex_lock(&e->lock);
	cfg = xg_config_copy(e->cfg, &err);
	pthread_mutex_unlock(&e->lock);
	g = cfg ? xg_config_guest(cfg, v->guest) : NULL;
	if (g)
		ls = xg_lstate_new(e, g, v->ls->src, v->ls->src_len, v, v->index, &err);
	else if (cfg)
		snprintf(err.msg, sizeof(err.msg), "guest '%s' is no longer configured", v->guest);
	xg_config_free(cfg);
	if (!ls) {
		xg_vcpu_log(v, "%s[%d]: cannot rebuild the policy state: %s", v->guest, v->index,
			    err.msg);
		return;
	}
	/* close the replaced state now: kept until the next reload, a guest that causes a
	 * kill on every exit grew the process by a state per exit */
	xg_lstate_free(v->ls);
	v->ls = ls;
	xg_st_add(&v->st, XG_ST(rebuilds), 1);
	xg_st_add(&v->st, XG_ST(cache_invalidations), xg_cache_clear(&v->cache));
}

static struct xg_result fail_over(struct xg_vcpu *v, const struct xg_exit *x, enum xg_fail f,
				  const char *msg, int dumped)
{
	/* the default on_error is x86's #UD; an arm64 exit gets what the default policy answers
	 * there, an external abort (a guest's own on_error is taken as written) */
	struct xg_verdict arm = {0};
	const struct xg_verdict *oe = &v->ls->on_error;
	struct xg_result r;
	char amsg[300];
	int d = 0;

	if (x->arch == XG_ARCH_ARM64 && v->ls->on_error_default) {
		arm.kind = XG_VERDICT_EXTERNAL_ABORT;
		snprintf(arm.reason, sizeof(arm.reason), "on_error");
		oe = &arm;
	}
	r = (struct xg_result){XG_NEXT_RUN, oe->kind, f, 0, (uint8_t)dumped, ""};

	xg_st_add(&v->st, XG_ST(fails) + f, 1);
	snprintf(v->last_error, sizeof(v->last_error), "%s", msg);
	xg_vcpu_log(v, "%s[%d] %s: %s; on_error %s%s applies", v->guest, v->index, xg_fail_name(f),
		    msg, oe->dump ? "dump " : "",
		    xg_verdict_name(oe->kind));
	v->dump_trigger = "on_error";
	v->dump_handler = NULL;
	v->dump_error = msg;
	r.next = xg_verdict_apply(v, x, oe, &d, amsg, sizeof(amsg));
	v->dump_error = NULL;
	r.dumped |= (uint8_t)d;
	if (r.next == XG_NEXT_ERROR) {
		size_t l = strlen(v->last_error);
		snprintf(v->last_error + l, sizeof(v->last_error) - l, "; on_error failed too: %s",
			 amsg);
		xg_vcpu_log(v, "%s[%d] on_error failed: %s", v->guest, v->index, amsg);
		xg_st_add(&v->st, XG_ST(fails) + XG_FAIL_ACTION, 1);
		r.verdict = XG_VERDICT_NONE;
		r.reason = v->last_error;
	} else {
		xg_st_add(&v->st, XG_ST(verdicts) + r.verdict, 1);
		snprintf(v->last_reason, sizeof(v->last_reason), "%s: %s",
			 oe->reason[0] ? oe->reason : "on_error", msg);
		r.reason = v->last_reason;
	}
	return r;
}

/* x is v->x decoded again (or repeated: v->x_repeat) by handle_exit, or the VMM's own */
/* The cache answers this exit: counted, and a dump written meanwhile says so. */
static inline void cache_answers(xg_vcpu *v)
{
	xg_st_add(&v->st, XG_ST(cache_hits), 1);
	v->dump_trigger = "cache";
	v->dump_handler = NULL;
}

/* noinline, and beside the Lua call rather than in the repeated-exit lane (xg_hot.h): the
 * lane calls it for an exit that is not a repeat */
XG_HOT_LUA __attribute__((noinline)) static struct xg_result
handle_decoded(xg_vcpu *v, const struct xg_exit *x, int repeat)
{
	struct xg_result r = {XG_NEXT_RUN, XG_VERDICT_NONE, XG_FAIL_NONE, 0, 0, ""};
	const struct xg_verdict *cv;
	struct xg_verdict vd;
	enum xg_fail f;
	int shape, d = 0;
	char msg[512];

	if (atomic_load_explicit(&v->has_pending, memory_order_acquire))
		maybe_swap(v);
	xg_st_add(&v->st, XG_ST(exits), 1);
	if (v->cache.shapes) {
		phase(v, XG_PROF_LOOKUP);
		/* the same exit again, the cache unchanged: the same answer, not looked up */
		if (repeat && v->lk_ok && v->lk_gen == v->cache.gen) {
			cv = v->lk;
		} else {
			cv = xg_cache_lookup(&v->cache, x);
			v->lk_ok = x == &v->x;
			v->lk_gen = v->cache.gen;
			v->lk = cv;
			v->lk_emulate = cv && cv->kind == XG_VERDICT_EMULATE && !cv->dump;
		}
		phase(v, cv ? XG_PROF_EMULATE : XG_PROF_OTHER);
		if (cv) {
			cache_answers(v);
			r.cached = 1;
			r.verdict = cv->kind;
			r.next = xg_verdict_apply(v, x, cv, &d, msg, sizeof(msg));
			phase(v, XG_PROF_OTHER);
			r.dumped = (uint8_t)d;
			if (r.next != XG_NEXT_ERROR) {
				xg_st_add(&v->st, XG_ST(verdicts) + cv->kind, 1);
				r.reason = cv->reason; /* lives in the cache until the next exit */
				return r;
			}
			return fail_over(v, x, XG_FAIL_ACTION, msg, d);
		}
	}
	xg_st_add(&v->st, XG_ST(cache_misses), 1); /* every exit the cache did not answer */
	xg_st_add(&v->st, XG_ST(lua_calls), 1);
	phase(v, XG_PROF_LUA);
	f = xg_lstate_call(v->ls, x, &vd, &shape, msg, sizeof(msg));
	xg_st_add(&v->st, XG_ST(lua_ns), v->ls->took_ns);
	phase(v, XG_PROF_OTHER);
	if (XG_UNLIKELY(f != XG_FAIL_NONE)) {
		r = fail_over(v, x, f, msg, 0);
		if (f == XG_FAIL_MEMORY) {
			/* garbage of the killed call is collected; a rebuild only when what
			 * the policy keeps still fills half the cap (a rebuild costs ms) */
			v->ls->lifted = 1;
			lua_gc(v->ls->L, LUA_GCCOLLECT);
			v->ls->lifted = 0;
			if (v->ls->used > v->ls->limit / 2)
				rebuild(v);
		}
		return r;
	}
	if (shape)
		xg_cache_store(&v->cache, shape, x, &vd); /* a shape this exit lacks: not cached */
	r.verdict = vd.kind;
	v->dump_trigger = "policy";
	v->dump_handler = v->ls->where[v->ls->called]; /* the handler that ran */
	phase(v, XG_PROF_EMULATE);
	r.next = xg_verdict_apply(v, x, &vd, &d, msg, sizeof(msg));
	phase(v, XG_PROF_OTHER);
	r.dumped = (uint8_t)d;
	if (XG_UNLIKELY(r.next == XG_NEXT_ERROR))
		return fail_over(v, x, XG_FAIL_ACTION, msg, d);
	xg_st_add(&v->st, XG_ST(verdicts) + vd.kind, 1);
	if (vd.reason[0]) { /* no formatting on the common path: most verdicts have none */
		memcpy(v->last_reason, vd.reason, sizeof(vd.reason));
		r.reason = v->last_reason;
	}
	return r;
}

struct xg_result xg_handle_decoded(xg_vcpu *v, const struct xg_exit *x)
{
	return handle_decoded(v, x, 0);
}

/*
 * The same exit again with the cache unchanged, its answer `emulate` by exitgate's x86
 * emulator and no dump, on a vCPU not profiled (only handle_exit's instance without the
 * profile calls it): what handle_decoded's cached branch and xg_verdict_apply do for it, in
 * one frame and with the same counts (exits, cache_hits, emulated, emulated_memo,
 * verdicts), the same dump trigger and the same failure. The loop of a guest driver's copy
 * through MMIO is this exit, again and again. 0 when the exit is not this case: nothing was
 * done.
 */
XG_HOT static int repeat_emulate(xg_vcpu *v, struct xg_result *r)
{
	const struct xg_verdict *cv = v->lk;
	char msg[512];

	if (!v->cache.shapes || !v->lk_ok || v->lk_gen != v->cache.gen || !v->lk_emulate ||
	    v->ops.emulate || v->x.arch != XG_ARCH_X86_64 || !v->ops.get_x86_regs)
		return 0;
	xg_st_add(&v->st, XG_ST(exits), 1);
	cache_answers(v);
	if (xg_verdict_emulate_x86(v, &v->x, msg, sizeof(msg)) == XG_NEXT_ERROR) {
		*r = fail_over(v, &v->x, XG_FAIL_ACTION, msg, 0);
		return 1;
	}
	xg_st_add(&v->st, XG_ST(verdicts) + XG_VERDICT_EMULATE, 1);
	/* field by field: the compound literal was copied from a template in .rodata, one
	 * more page on every repeated exit */
	memset(r, 0, sizeof(*r));
	r->next = XG_NEXT_RUN;
	r->verdict = XG_VERDICT_EMULATE;
	r->fail = XG_FAIL_NONE;
	r->cached = 1;
	r->reason = cv->reason;
	return 1;
}

/*
 * Decodes the exit (or sees it repeat) and answers it. `profiled` is a constant at each of
 * the two calls below: the instance without the profile has no phase switch, so the
 * repeated exit's lane runs no test of v->prof and its code is not split around the
 * profile's (xg_hot.h: every cache line of code the lane spans costs after a KVM_RUN).
 */
static inline __attribute__((always_inline)) struct xg_result
handle_exit(xg_vcpu *v, const void *run, size_t run_size, int kvm_run_errno, const int profiled)
{
	struct xg_result r = {XG_NEXT_RUN, XG_VERDICT_NONE, XG_FAIL_NONE, 0, 0, ""};
	struct xg_error err;
	int bad = 0, repeat;

	if (kvm_run_errno == EINTR || kvm_run_errno == EAGAIN)
		return r;
	if (profiled)
		xg_profile_enter(v->prof, XG_PROF_DECODE);
	repeat = v->x_ok && xg_exit_decode_same(&v->x, run, run_size);
	if (!repeat) {
		v->lk_ok = 0;
		bad = xg_exit_decode(&v->x, run, run_size, &v->opts, &err);
		v->x_ok = !bad;
	}
	if (profiled)
		xg_profile_enter(v->prof, XG_PROF_OTHER);
	if (!repeat && bad) {
		snprintf(v->last_error, sizeof(v->last_error), "%s", err.msg);
		xg_st_add(&v->st, XG_ST(fails) + XG_FAIL_ERROR, 1);
		r.next = XG_NEXT_ERROR;
		r.reason = v->last_error;
		return r;
	}
	if (atomic_load_explicit(&v->has_pending, memory_order_acquire))
		maybe_swap(v);
	/* the lane calls no Lua, which alone reads the errno (e.errno): the state's line is
	 * not touched for it */
	if (!profiled && repeat && !kvm_run_errno && repeat_emulate(v, &r))
		return r;
	v->ls->kvm_errno = kvm_run_errno;
	return handle_decoded(v, &v->x, repeat);
}

__attribute__((noinline, cold)) static struct xg_result
handle_exit_profiled(xg_vcpu *v, const void *run, size_t run_size, int kvm_run_errno)
{
	struct xg_result r;

	xg_profile_begin(v->prof);
	r = handle_exit(v, run, run_size, kvm_run_errno, 1);
	xg_profile_end(v->prof);
	return r;
}

XG_HOT struct xg_result xg_handle_exit(xg_vcpu *v, const void *run, size_t run_size,
				       int kvm_run_errno)
{
	if (XG_UNLIKELY(v->prof))
		return handle_exit_profiled(v, run, run_size, kvm_run_errno);
	return handle_exit(v, run, run_size, kvm_run_errno, 0);
}

/*
 * The new states of a reload, built off the vCPU threads: by the reloading thread and, for
 * more than two vCPUs, by up to one more thread per CPU it may run on (at most 8 in all), each
 * taking the next vCPU in turn; and the bases made again after them (pool_fill). A whole
 * state took ~45 us here (the standard libraries, the exitgate module, the policy; their
 * allocations from the state's arena, arena.c), 64 of them 2.8-3.0 ms one after another;
 * loading the policy into a base takes ~5 us, and 64 states are handed out 0.4-0.6 ms
 * after the call on one builder (bench_engine's reload rows).
 * Once a build fails no further one starts; as every vCPU before it in the
 * list was handed out already, the error reported is the first failing vCPU's in attach
 * order, as when they were built one after another.
 */
struct builds {
	struct xg_engine *e;
	struct xg_config *cfg; /* NULL: make bases only (pool_fill) */
	char **src;
	size_t *lens, *gi; /* gi[i]: vs[i]'s guest in cfg */
	struct xg_vcpu **vs;
	struct xg_lstate **base; /* base[i]: the pool's base for vs[i], or NULL; taken */
	struct xg_lstate **fresh;
	size_t n;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t mu; /* err_at, err */
	size_t err_at;
	struct xg_error err;
};

/*
 * A state's error as a reload reports it: which guest's vCPU failed, as "guest 'g' vCPU 3:
 * ..." (its "guest 'g': " taken in where the message began with it). A policy that fails on
 * some vCPUs only (by xg.vcpu_index, or a limit reached on one) is then found at once.
 */
static void name_vcpu(struct xg_error *out, const struct xg_error *in, const char *guest,
		      int index)
{
	char head[160];
	const char *rest = in->msg;
	size_t n = (size_t)snprintf(head, sizeof(head), "guest '%s'", guest);

	if (n < sizeof(head) && !strncmp(rest, head, n) && !strncmp(rest + n, ": ", 2))
		rest += n + 2;
	n = (size_t)snprintf(out->msg, sizeof(out->msg), "%s vCPU %d: ", head, index);
	if (n < sizeof(out->msg)) { /* the rest as far as it fits */
		size_t len = strnlen(rest, sizeof(out->msg) - 1 - n);
		memcpy(out->msg + n, rest, len);
		out->msg[n + len] = 0;
	}
}

static void *build_states(void *arg)
{
	struct builds *b = arg;
	size_t i;

	off_vcpu_thread = 1;
	while (!atomic_load(&b->failed) && (i = atomic_fetch_add(&b->next, 1)) < b->n) {
		struct xg_error err = {{0}};
		struct xg_vcpu *v;
		size_t g;
		struct xg_lstate *base;
		if (!b->cfg) { /* a base that cannot be made is only time not saved */
			b->fresh[i] = xg_lstate_base(b->e, &err);
			continue;
		}
		v = b->vs[i];
		g = b->gi[i];
		base = b->base ? b->base[i] : NULL;
		if (base)
			b->base[i] = NULL;
		b->fresh[i] = state_from(b->e, base, &b->cfg->guests[g], b->src[g], b->lens[g], v,
					 v->index, &err);
		if (!b->fresh[i]) {
			pthread_mutex_lock(&b->mu);
			if (i < b->err_at) {
				b->err_at = i;
				name_vcpu(&b->err, &err, b->cfg->guests[g].name, v->index);
			}
			pthread_mutex_unlock(&b->mu);
			atomic_store(&b->failed, 1);
		}
	}
	off_vcpu_thread = 0;
	return NULL;
}

/* 0 with fresh[0..n) built, or -1 with err (fresh[] holds what was built, to free). */
static int build_all(struct builds *b, struct xg_error *err)
{
	pthread_t t[7];
	cpu_set_t set;
	/* the CPUs this process may run on (a cpuset or taskset may give it fewer than are
	 * online): more builders than that would only take turns with the vCPU threads */
	long cpus = sched_getaffinity(0, sizeof(set), &set) ? sysconf(_SC_NPROCESSORS_ONLN)
							    : CPU_COUNT(&set);
	size_t extra = b->n > 2 && cpus > 1 ? (size_t)(cpus < 8 ? cpus : 8) - 1 : 0, started = 0;

	if (extra > b->n - 1)
		extra = b->n - 1;
	atomic_init(&b->next, 0);
	atomic_init(&b->failed, 0);
	pthread_mutex_init(&b->mu, NULL);
	b->err_at = b->n;
	/* a thread that cannot start leaves its share to the others */
	while (started < extra && !pthread_create(&t[started], NULL, build_states, b))
		started++;
	build_states(b);
	for (size_t k = 0; k < started; k++)
		pthread_join(t[k], NULL);
	pthread_mutex_destroy(&b->mu);
	if (b->err_at == b->n)
		return 0;
	*err = b->err;
	return -1;
}

/*
 * Make bases until the pool holds want (reload_lock held, or the engine not yet shared): on
 * the builders a reload uses, once it has handed out its states, so off the time to
 * serving. Up to two missing (an attach's) are made on the calling thread alone (build_all
 * starts no builder for so few).
 */
static void pool_fill(struct xg_engine *e, size_t want)
{
	struct xg_error err;
	struct builds b = {.e = e};
	size_t n = want > e->pool_n ? want - e->pool_n : 0;

	if (!n || !(b.fresh = calloc(n, sizeof(*b.fresh))))
		return;
	b.n = n;
	build_all(&b, &err);
	for (size_t i = 0; i < n; i++)
		pool_put(e, b.fresh[i]);
	free(b.fresh);
}

int xg_engine_reload(xg_engine *e, struct xg_error *err)
{
	struct xg_config *cfg;
	struct xg_lstate **fresh = NULL;
	struct xg_vcpu **vs = NULL;
	struct xg_lstate **bases = NULL;
	size_t nv = 0, *lens = NULL, *gis = NULL;
	char **src = NULL;
	int rc = -1;

	pthread_mutex_lock(&e->reload_lock);
	if (e->cfg->path)
		cfg = xg_config_load(e->cfg->path, err);
	else
		cfg = xg_config_copy(e->cfg, err);
	if (!cfg)
		goto out;
	src = read_policies(e, cfg, &lens, err);
	if (!src)
		goto out;
	/* vCPUs only change under reload_lock, which we hold */
	for (struct xg_vcpu *v = e->vcpus; v; v = v->next)
		nv++;
	fresh = calloc(nv + 1, sizeof(*fresh));
	vs = calloc(nv + 1, sizeof(*vs));
	gis = calloc(nv + 1, sizeof(*gis));
	bases = calloc(nv + 1, sizeof(*bases));
	if (!fresh || !vs || !gis || !bases) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	/* in the order the vCPUs were attached (the list holds the newest first), so that a
	 * failure names the first of them, usually the lowest index */
	{
		size_t k = nv;
		for (struct xg_vcpu *v = e->vcpus; v; v = v->next) {
			size_t gi;
			vs[--k] = v;
			for (gi = 0; gi < cfg->n; gi++)
				if (!strcmp(cfg->guests[gi].name, v->guest))
					break;
			if (gi == cfg->n) {
				snprintf(err->msg, sizeof(err->msg),
					 "%s: guest '%s' has running vCPUs but is no longer "
					 "configured",
					 cfg->name, v->guest);
				goto out;
			}
			gis[k] = gi;
		}
	}
	{
		struct builds b = {.e = e,
				   .cfg = cfg,
				   .src = src,
				   .lens = lens,
				   .gi = gis,
				   .vs = vs,
				   .base = bases,
				   .fresh = fresh,
				   .n = nv};
		for (size_t i = 0; i < nv; i++)
			bases[i] = pool_take(e);
		if (nv && build_all(&b, err))
			goto out;
	}
	/* commit: nothing below fails */
	for (size_t i = 0; i < nv; i++) {
		struct xg_lstate *stale;
		pthread_mutex_lock(&vs[i]->lock);
		stale = vs[i]->pending;
		vs[i]->pending = fresh[i];
		atomic_store_explicit(&vs[i]->has_pending, 1, memory_order_release);
		pthread_mutex_unlock(&vs[i]->lock);
		fresh[i] = NULL;
		bury(e, stale);
	}
	pthread_mutex_lock(&e->lock);
	xg_config_free(e->cfg);
	e->cfg = cfg;
	cfg = NULL;
	e->retired.reloads++;
	pthread_mutex_unlock(&e->lock);
	rc = 0;
out:
	if (rc) {
		pthread_mutex_lock(&e->lock);
		e->retired.reload_failures++;
		pthread_mutex_unlock(&e->lock);
	}
	if (fresh)
		for (size_t i = 0; i < nv; i++)
			xg_lstate_free(fresh[i]);
	if (bases) /* those a failed build left unused */
		for (size_t i = 0; i < nv; i++)
			pool_put(e, bases[i]);
	free(fresh);
	free(vs);
	free(gis);
	free(bases);
	if (cfg)
		free_sources(cfg, src, lens);
	else if (src)
		free_sources(e->cfg, src, lens);
	xg_config_free(cfg);
	/* the states replaced before are closed after the new ones are handed out, off the
	 * time to serving (a state is buried only once no vCPU uses it) */
	empty_graveyard(e);
	pool_fill(e, e->nvcpus);
	pthread_mutex_unlock(&e->reload_lock);
	return rc;
}

/* ---- per-guest store ------------------------------------------------------------------- */

/*
 * A guest's store is shared by its vCPUs and survives reloads and rebuilds, so it lives
 * outside the Lua allocator; to keep it inside the guest's memory cap, every byte it holds
 * is counted in store->bytes, which the allocator of each of the guest's states adds to
 * what the state uses. Entries, key and value sizes are bounded (limits.store_*), and keys
 * are found through a seeded hash (a guest cannot choose keys that all collide without
 * knowing the seed; chains are bounded by store_entries anyway).
 */

struct xg_store *xg_store_of(struct xg_engine *e, const char *guest)
{
	struct xg_store *st;

	pthread_mutex_lock(&e->lock);
	for (st = e->stores; st; st = st->next)
		if (!strcmp(st->guest, guest))
			break;
	if (!st) {
		st = calloc(1, sizeof(*st));
		if (st && !(st->guest = strdup(guest))) {
			free(st);
			st = NULL;
		}
		if (st) {
			pthread_mutex_init(&st->lock, NULL);
			st->seed = now_ns() ^ (uint64_t)(uintptr_t)st ^ 0x9e3779b97f4a7c15ull;
			atomic_init(&st->bytes, 0);
			st->next = e->stores;
			e->stores = st;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return st;
}

static uint64_t store_hash(const struct xg_store *st, const char *k, size_t n)
{
	uint64_t h = st->seed ^ 0xcbf29ce484222325ull; /* FNV-1a, seeded */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

static struct xg_store_ent **store_slot(struct xg_store *st, const char *k, size_t n, uint64_t h)
{
	struct xg_store_ent **p;

	if (!st->nb)
		return NULL;
	for (p = &st->b[h & (st->nb - 1)]; *p; p = &(*p)->next)
		if ((*p)->hash == h && (*p)->klen == n && !memcmp((*p)->key, k, n))
			return p;
	return p;
}

static size_t ent_bytes(const struct xg_store_ent *s)
{
	return sizeof(*s) + s->klen + 1 + (s->s ? s->len + 1 : 0);
}

/* Doubles the bucket array (a power of two); -1 if out of memory (the old one stays). */
static int store_grow(struct xg_store *st)
{
	size_t nb = st->nb ? st->nb * 2 : 16;
	struct xg_store_ent **b = calloc(nb, sizeof(*b));

	if (!b)
		return -1;
	for (size_t i = 0; i < st->nb; i++)
		while (st->b[i]) {
			struct xg_store_ent *s = st->b[i];
			st->b[i] = s->next;
			s->next = b[s->hash & (nb - 1)];
			b[s->hash & (nb - 1)] = s;
		}
	free(st->b);
	atomic_fetch_add(&st->bytes, (nb - st->nb) * sizeof(*b));
	st->b = b;
	st->nb = nb;
	return 0;
}

int xg_engine_store_get(xg_engine *e, const char *guest, const char *key, size_t klen,
			struct xg_store_value *out)
{
	struct xg_store *st;
	struct xg_store_ent **p, *s;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&e->lock);
	for (st = e->stores; st; st = st->next)
		if (!strcmp(st->guest, guest))
			break;
	pthread_mutex_unlock(&e->lock);
	if (!st)
		return 0; /* no store yet: every key is nil */
	pthread_mutex_lock(&st->lock);
	p = store_slot(st, key, klen, store_hash(st, key, klen));
	s = p ? *p : NULL;
	if (s) {
		out->type = s->type == LUA_TBOOLEAN  ? XG_STORE_BOOLEAN
			    : s->type == LUA_TSTRING ? XG_STORE_STRING
			    : s->is_int		     ? XG_STORE_INTEGER
						     : XG_STORE_NUMBER;
		out->i = (int64_t)s->i;
		out->d = (double)s->d;
		if (s->type == LUA_TSTRING) {
			out->s = malloc(s->len + 1);
			if (out->s) {
				memcpy(out->s, s->s, s->len);
				out->s[s->len] = 0;
				out->len = s->len;
			} else {
				out->type = XG_STORE_NIL;
				rc = -1;
			}
		}
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

void xg_store_push(struct xg_lstate *ls, lua_State *L, const char *key, size_t klen)
{
	struct xg_store *st = ls->store;
	uint64_t h;
	size_t len = 0;
	char *buf = NULL;

	if (!st) {
		lua_pushnil(L);
		return;
	}
	h = store_hash(st, key, klen);
	/* Nothing that can raise a Lua error (an allocation over the cap) runs under the
	 * lock: a string is copied into a buffer allocated before taking it, again if another
	 * vCPU changed the value's length meanwhile. */
	for (;;) {
		struct xg_store_ent **p, *s;
		pthread_mutex_lock(&st->lock);
		p = store_slot(st, key, klen, h);
		s = p ? *p : NULL;
		if (s && s->type == LUA_TSTRING && buf && s->len == len) {
			memcpy(buf, s->s, len);
			pthread_mutex_unlock(&st->lock);
			lua_pushlstring(L, buf, len);
			lua_remove(L, -2);
			return;
		}
		if (s && s->type == LUA_TSTRING) {
			len = s->len;
			pthread_mutex_unlock(&st->lock);
			if (buf)
				lua_pop(L, 1);
			buf = lua_newuserdatauv(L, len ? len : 1, 0);
			continue;
		}
		if (buf)
			lua_pop(L, 1);
		if (!s)
			lua_pushnil(L);
		else if (s->type == LUA_TBOOLEAN)
			lua_pushboolean(L, (int)s->i);
		else if (s->is_int)
			lua_pushinteger(L, s->i);
		else
			lua_pushnumber(L, s->d);
		pthread_mutex_unlock(&st->lock);
		return;
	}
}

int xg_store_set(struct xg_lstate *ls, lua_State *L, const char *key, size_t klen, int idx,
		 char *msg, size_t n)
{
	struct xg_store *st = ls->store;
	int t = lua_type(L, idx);
	struct xg_store_ent **p, *s, *old;
	size_t len = 0, want, have, total;
	const char *str = NULL;
	uint64_t h;

	if (!st) {
		snprintf(msg, n, "xg.store is not available (out of memory)");
		return -1;
	}
	if (t != LUA_TNIL && t != LUA_TBOOLEAN && t != LUA_TNUMBER && t != LUA_TSTRING) {
		snprintf(msg, n,
			 "xg.store.set: value must be nil, a boolean, a number or a string, "
			 "not %s",
			 lua_typename(L, t));
		return -1;
	}
	if (klen > ls->store_key) {
		snprintf(msg, n,
			 "xg.store.set: key of %zu bytes is over the limit of %llu "
			 "(limits.store_key)",
			 klen, (unsigned long long)ls->store_key);
		return -1;
	}
	if (t == LUA_TSTRING) {
		str = lua_tolstring(L, idx, &len);
		if (len > ls->store_value) {
			snprintf(msg, n,
				 "xg.store.set: string value of %zu bytes is over the limit of "
				 "%llu (limits.store_value)",
				 len, (unsigned long long)ls->store_value);
			return -1;
		}
	}
	h = store_hash(st, key, klen);
	pthread_mutex_lock(&st->lock);
	p = store_slot(st, key, klen, h);
	old = p ? *p : NULL;
	if (t == LUA_TNIL) { /* unset: remove */
		if (old) {
			*p = old->next;
			st->n--;
			atomic_fetch_sub(&st->bytes, ent_bytes(old));
			free(old->s);
			free(old);
		}
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	if (!old && st->n >= ls->store_entries) {
		pthread_mutex_unlock(&st->lock);
		snprintf(msg, n,
			 "xg.store.set: the store of guest '%s' is full (%llu keys, "
			 "limits.store_entries): set unused keys to nil",
			 ls->guest, (unsigned long long)ls->store_entries);
		return -1;
	}
	/* what the store will hold after this set, against this state's cap */
	want = sizeof(*s) + klen + 1 + (str ? len + 1 : 0);
	have = old ? ent_bytes(old) : 0;
	total = atomic_load(&st->bytes) - have + want;
	if (!old && st->n >= st->nb)
		total += (st->nb ? st->nb : 16) * sizeof(*st->b);
	if (want > have && !ls->lifted && ls->used + total > ls->limit) {
		pthread_mutex_unlock(&st->lock);
		snprintf(msg, n,
			 "xg.store.set: over the memory limit of %zu bytes (the store would hold "
			 "%zu, the policy's state holds %zu)",
			 ls->limit, total, ls->used);
		return -1;
	}
	if (!old && st->n >= st->nb) {
		if (store_grow(st))
			goto oom;
		p = store_slot(st, key, klen, h);
	}
	s = malloc(sizeof(*s) + klen + 1);
	if (!s)
		goto oom;
	memset(s, 0, sizeof(*s));
	if (str) {
		s->s = malloc(len + 1);
		if (!s->s) {
			free(s);
			goto oom;
		}
		memcpy(s->s, str, len + 1);
		s->len = len;
	}
	s->hash = h;
	s->klen = klen;
	memcpy(s->key, key, klen);
	s->key[klen] = 0;
	s->type = t;
	s->is_int = t == LUA_TNUMBER && lua_isinteger(L, idx);
	s->i = t == LUA_TBOOLEAN ? lua_toboolean(L, idx) : s->is_int ? lua_tointeger(L, idx) : 0;
	s->d = t == LUA_TNUMBER ? lua_tonumber(L, idx) : 0;
	if (old) {
		s->next = old->next;
		atomic_fetch_sub(&st->bytes, ent_bytes(old));
		free(old->s);
		free(old);
	} else {
		s->next = NULL;
		st->n++;
	}
	*p = s;
	atomic_fetch_add(&st->bytes, ent_bytes(s));
	pthread_mutex_unlock(&st->lock);
	return 0;
oom:
	pthread_mutex_unlock(&st->lock);
	snprintf(msg, n, "xg.store.set: out of memory");
	return -1;
}

void xg_store_free(struct xg_engine *e)
{
	while (e->stores) {
		struct xg_store *st = e->stores;
		e->stores = st->next;
		for (size_t i = 0; i < st->nb; i++)
			while (st->b[i]) {
				struct xg_store_ent *s = st->b[i];
				st->b[i] = s->next;
				free(s->s);
				free(s);
			}
		free(st->b);
		free(st->guest);
		pthread_mutex_destroy(&st->lock);
		free(st);
	}
}
