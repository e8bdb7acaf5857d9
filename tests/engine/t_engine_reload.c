/*
 * t_engine_reload.c - hot reload: good -> bad (the old policy keeps running, the error is
 * reported) -> good, while a vCPU thread keeps handling exits: every exit is handled exactly
 * once, by the old policy until the swap and by the new one after. Also reload by inotify
 * (a file rewritten the way editors do it) and by SIGHUP, and xg.store surviving reloads.
 * With many vCPUs the new states are built on more than one thread (engine.c build_all):
 * a state that fails anywhere fails the whole reload, naming the guest and the first vCPU
 * that failed (even where the state's own message cannot, as over the memory limit), and no
 * vCPU swaps; a good one reaches every vCPU.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "engine_test.h"

#define N_EXITS 30000

static const char pol_ud[] = "local xg = require 'exitgate'\n"
			     "return xg.policy { io = function(e) return xg.inject 'UD' end }\n";
static const char pol_gp[] =
    "local xg = require 'exitgate'\n"
    "return xg.policy { io = function(e) return xg.inject('GP', 0) end }\n";
static const char pol_bad[] = "local xg = require 'exitgate'\n"
			      "return xg.policy { io = function(e) return xg.inject 'UD' end\n";

struct runner {
	xg_vcpu *v;
	struct fake f;
	atomic_int done;
	int vectors[N_EXITS];
	int handled, fails, order_ok;
};

static void *run(void *arg)
{
	struct runner *r = arg;
	struct run kr_;

	run_io(&kr_, 0x80, 1);
	for (int i = 0; i < N_EXITS; i++) {
		int before = r->f.injected;
		struct xg_result res = xg_handle_exit(r->v, kr_.b, sizeof(kr_.b), 0);
		r->fails += res.fail != XG_FAIL_NONE;
		r->handled += r->f.injected - before;
		r->vectors[i] = r->f.vector;
		atomic_store(&r->done, i + 1);
	}
	return NULL;
}

static void wait_for(atomic_int *n, int at_least)
{
	for (int i = 0; i < 20000 && atomic_load(n) < at_least; i++)
		usleep(100);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Write the policy the way editors save: a new file renamed over the old one. */
static void save(const char *name, const char *text)
{
	char tmp[600], dst[600];

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", tdir(), name);
	snprintf(dst, sizeof(dst), "%s/%s", tdir(), name);
	FILE *f = fopen(tmp, "w");
	fputs(text, f);
	fclose(f);
	rename(tmp, dst);
}

/* Handle one io exit on v; the vector injected. */
static int probe(xg_vcpu *v, struct fake *f)
{
	struct run r;

	run_io(&r, 0x80, 1);
	f->vector = -1;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	return f->vector;
}

static volatile int hups;
static void own_hup(int sig)
{
	(void)sig;
	hups++;
}
static void (*hup_before)(int) = own_hup;

int main(void)
{
	static struct runner r;
	struct xg_error err;
	struct xg_stats st;
	pthread_t t;
	xg_engine *e;
	int switches = 0, n6 = 0, n13 = 0;

	signal(SIGHUP, own_hup); /* an embedder's handler, which the engine must give back */
	e = engine_with(pol_ud, NULL, &err);

	if (!e)
		bail("%s", err.msg);
	r.v = xg_vcpu_attach(e, "g", 0, &fake_ops, &r.f, &err);
	if (!r.v)
		bail("%s", err.msg);
	pthread_create(&t, NULL, run, &r);
	wait_for(&r.done, 2000);

	put_file("p.lua", pol_bad);
	ok(xg_engine_reload(e, &err) == -1, "reloading a broken policy fails");
	like(err.msg, "p.lua:3:", "the error names file and line: %s", err.msg);
	int at = atomic_load(&r.done);
	wait_for(&r.done, at + 2000);
	ok(r.vectors[atomic_load(&r.done) - 1] == 6, "the old policy keeps running (still #UD)");

	put_file("p.lua", pol_gp);
	ok(xg_engine_reload(e, &err) == 0, "reloading a good policy succeeds%s%s", "", "");
	pthread_join(t, NULL);

	for (int i = 0; i < N_EXITS; i++) {
		n6 += r.vectors[i] == 6;
		n13 += r.vectors[i] == 13;
		if (i && r.vectors[i] != r.vectors[i - 1])
			switches++;
	}
	is_int(r.handled, N_EXITS,
	       "every one of %d exits handled exactly once (injections counted)", N_EXITS);
	is_int(r.fails, 0, "no exit failed across the reloads");
	xg_vcpu_stats(r.v, &st);
	is_int((long long)st.exits, N_EXITS, "the engine counted exactly %d exits", N_EXITS);
	ok(n6 + n13 == N_EXITS && n6 > 0 && n13 > 0 && switches == 1,
	   "old policy until the swap, new after: %d x UD then %d x GP, %d switch", n6, n13,
	   switches);
	is_int((long long)st.swaps, 1, "one swap at an exit boundary");
	xg_engine_stats(e, &st);
	ok(st.reloads == 1 && st.reload_failures == 1, "engine counts 1 reload and 1 failure");

	/* inotify: rename a new policy over the old one; measure until it serves */
	ok(xg_engine_watch(e, 1, &err) == 0, "watching the policy files");
	double t0 = now_ms(), dt = -1;
	char logged[sizeof(last_log)];
	save("p.lua", pol_ud);
	for (int i = 0; i < 4000; i++) {
		if (probe(r.v, &r.f) == 6) {
			dt = now_ms() - t0;
			break;
		}
		usleep(500);
	}
	ok(dt >= 0, "a policy saved by rename is serving after %.1f ms (inotify)", dt);
	save("p.lua", pol_bad);
	for (int i = 0; i < 500 && !strstr(last_log_now(logged, sizeof(logged)),
					   "reload (file changed) failed");
	     i++)
		usleep(10000); /* the failed reload's log line, within 5 s on a loaded machine */
	ok(probe(r.v, &r.f) == 6, "a broken save leaves the old policy serving");
	like(logged, "reload (file changed) failed, the running policies stay", "and is logged: %s",
	     logged);

	/* SIGHUP */
	put_file("p.lua", pol_gp); /* written in place: inotify may reload too; fine */
	usleep(200000);
	xg_engine_stats(e, &st);
	uint64_t reloads = st.reloads;
	raise(SIGHUP);
	for (int i = 0; i < 400; i++) {
		xg_engine_stats(e, &st);
		if (st.reloads > reloads)
			break;
		usleep(5000);
	}
	ok(st.reloads > reloads && probe(r.v, &r.f) == 13, "SIGHUP reloads");

	/* A storm of SIGHUPs, more than the wakeup pipe holds: the signals that arrive during
	 * a reload are one reload after it, so nothing is queued once the storm is over; and
	 * stopping the watcher right after must not hang (its quit used to be a byte lost on
	 * the full pipe). SIGALRM ends a hang as a failure. */
	usleep(100000);
	xg_engine_stats(e, &st);
	reloads = st.reloads;
	for (int i = 0; i < 70000; i++)
		raise(SIGHUP);
	usleep(300000);
	xg_engine_stats(e, &st);
	uint64_t after = st.reloads;
	usleep(300000);
	xg_engine_stats(e, &st);
	/* the signals that came during the reload in flight at `after` are one more reload */
	ok(after > reloads && after - reloads < 7000 && st.reloads - after <= 1,
	   "70000 SIGHUPs are coalesced: %llu reloads during the storm, %llu queued after it",
	   (unsigned long long)(after - reloads), (unsigned long long)(st.reloads - after));
	alarm(20);
	t0 = now_ms();
	xg_vcpu_detach(r.v);
	xg_engine_free(e);
	alarm(0);
	ok(1, "the watcher stops at once after the storm (%.0f ms)", now_ms() - t0);
	{
		struct sigaction now;
		sigaction(SIGHUP, NULL, &now);
		ok(now.sa_handler == hup_before,
		   "the engine gone, SIGHUP is handled as before it came (the test's own handler)");
	}

	/* xg.store survives reloads; a plain local does not */
	e = engine_with(
	    "local xg = require 'exitgate'\nlocal n = 0\n"
	    "return { io = function()\n"
	    "  n = n + 1\n"
	    "  xg.store.set('hits', (xg.store.get('hits') or 0) + 1)\n"
	    "  return xg.inject(xg.store.get('hits') * 100 + n > 300 and 'GP' or 'UD')\n"
	    "end }\n",
	    NULL, &err);
	{
		struct fake f = {0};
		xg_vcpu *v = xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err);
		probe(v, &f);
		probe(v, &f);
		xg_engine_reload(e, &err);
		int vec = probe(v, &f); /* hits = 3, n = 1: 301 */
		is_int(vec, 13, "xg.store keeps its values across a reload (3 hits, fresh locals)");
		xg_vcpu_detach(v);
	}
	xg_engine_free(e);

	/* 24 vCPUs: the states built on several threads; one failing fails all */
	{
		enum { NV = 24 };
		static struct fake fs[NV];
		xg_vcpu *vs[NV];
		int all = 1, none = 1;
		/* time enough that the load's end is the memory limit's, under TSan too */
		e = engine_with(pol_ud, "    limits: { memory: 4M, time_ms: 1000 }\n", &err);
		if (!e)
			bail("%s", err.msg);
		for (int i = 0; i < NV; i++)
			if (!(vs[i] = xg_vcpu_attach(e, "g", i, &fake_ops, &fs[i], &err)))
				bail("%s", err.msg);
		/* only vCPU 5's load goes over the memory limit: its message cannot say which
		 * vCPU it was, the reload's does */
		put_file("p.lua",
			 "local xg = require 'exitgate'\n"
			 "local keep = {}\n"
			 "if xg.vcpu_index == 5 then for i = 1, 1e7 do keep[i] = ('x'):rep(10000) .. "
			 "i end end\n"
			 "return xg.policy { io = function(e) return xg.inject('GP', 0) end }\n");
		ok(xg_engine_reload(e, &err) != 0 &&
		       !strncmp(err.msg, "guest 'g' vCPU 5: ", 18) && strstr(err.msg, "memory"),
		   "%d vCPUs, vCPU 5's load over the memory limit: the reload's error names the "
		   "guest and vCPU (%s)",
		   NV, err.msg);
		/* vCPUs 9 and up fail their state's top level; 9 is the first in the list */
		put_file("p.lua",
			 "local xg = require 'exitgate'\n"
			 "if xg.vcpu_index >= 9 then error('no state for vCPU ' .. "
			 "xg.vcpu_index) end\n"
			 "return xg.policy { io = function(e) return xg.inject('GP', 0) end }\n");
		ok(xg_engine_reload(e, &err) != 0 && strstr(err.msg, "no state for vCPU 9") &&
		       !strncmp(err.msg, "guest 'g' vCPU 9: policy p.lua:", 31) &&
		       !strstr(err.msg, "vCPU 1") && !strstr(err.msg, "vCPU 2"),
		   "%d vCPUs, states failing from vCPU 9 on: the reload fails, naming vCPU 9 (%s)",
		   NV, err.msg);
		for (int i = 0; i < NV; i++)
			none &= probe(vs[i], &fs[i]) == 6;
		ok(none, "no vCPU swapped: every one still answers #UD");
		put_file("p.lua", pol_gp);
		ok(xg_engine_reload(e, &err) == 0, "a good policy then reloads");
		for (int i = 0; i < NV; i++) {
			struct xg_stats vst;
			all &= probe(vs[i], &fs[i]) == 13;
			xg_vcpu_stats(vs[i], &vst);
			all &= vst.swaps == 1;
		}
		ok(all, "every one of the %d vCPUs swapped once and answers #GP", NV);
		for (int i = 0; i < NV; i++)
			xg_vcpu_detach(vs[i]);
		xg_engine_free(e);
	}
	cleanup_dir();
	return done_testing();
}
