/*
 * t_engine_storm.c - reloads in a storm while several vCPU threads handle exits: from the
 * API (xg_engine_reload on two threads at once), from the file watcher (the policy renamed
 * over its name, and written in place), with a stats reader in a loop. Every exit is
 * answered by one whole policy (the old or the new: #UD or #GP, never a failure), every
 * vCPU takes the reloaded states, and the states replaced go through the lock-free graveyard
 * and are closed by a reload or by xg_engine_free: under ASan/LSan (XG_SANITIZE) a state
 * closed twice, used after it was closed or never closed is reported; under
 * -fsanitize=thread, a race on the swap or the graveyard.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine_int.h"
#include "engine_test.h"

#define NV	    4
#define SECONDS	    2.0 /* the storm lasts this long (and until MIN_RELOADS are done) */
#define MIN_RELOADS 200

static const char pol_ud[] = "local xg = require 'exitgate'\n"
			     "local n, keep = 0, {}\n"
			     "return { io = function(e) n = n + 1; keep[n % 64] = {n, e.port}\n"
			     "  if n % 500 == 0 then xg.log('ud ' .. n) end\n"
			     "  return xg.inject 'UD' end }\n";
static const char pol_gp[] =
    "local xg = require 'exitgate'\n"
    "local n = 0\n"
    "return { io = function(e) n = n + 1; return xg.inject('GP', 0) end }\n";

struct runner {
	xg_vcpu *v;
	struct fake f;
	int fails, ud, gp, exits;
};

static atomic_int running, stop, logged;

/* the log sink: called from every vCPU thread and the reloads at once */
static void storm_log(void *ud, const char *line)
{
	(void)ud;
	(void)line;
	atomic_fetch_add(&logged, 1);
}

static void *vcpu_thread(void *arg)
{
	struct runner *r = arg;
	struct run kr_;

	run_io(&kr_, 0x80, 1);
	while (!atomic_load(&stop)) {
		struct xg_result res;
		r->f.vector = -1;
		res = xg_handle_exit(r->v, kr_.b, sizeof(kr_.b), 0);
		if (res.fail != XG_FAIL_NONE)
			r->fails++;
		else if (r->f.vector == 6)
			r->ud++;
		else if (r->f.vector == 13)
			r->gp++;
		else
			r->fails++;
		r->exits++;
	}
	atomic_fetch_sub(&running, 1);
	return NULL;
}

static atomic_int reloads, reload_fails;

static void *api_reloader(void *arg)
{
	xg_engine *e = arg;
	struct xg_error err;

	while (atomic_load(&running) > 0) {
		if (xg_engine_reload(e, &err))
			atomic_fetch_add(&reload_fails, 1);
		else
			atomic_fetch_add(&reloads, 1);
	}
	return NULL;
}

/* Rewrites p.lua: renamed over it (a complete file) and written in place, by turns. */
static void *file_writer(void *arg)
{
	char path[512], tmp[512];
	int k = 0;

	(void)arg;
	snprintf(path, sizeof(path), "%s/p.lua", tdir());
	snprintf(tmp, sizeof(tmp), "%s/p.lua.new", tdir());
	while (atomic_load(&running) > 0) {
		const char *text = k & 1 ? pol_gp : pol_ud;
		FILE *f = fopen(k & 2 ? tmp : path, "w");
		if (f) {
			fputs(text, f);
			fclose(f);
			if (k & 2)
				rename(tmp, path);
		}
		k++;
		usleep(2000);
	}
	return NULL;
}

static void *stats_reader(void *arg)
{
	xg_engine *e = arg;
	struct xg_stats st;

	while (atomic_load(&running) > 0)
		xg_engine_stats(e, &st);
	return NULL;
}

int main(void)
{
	static struct runner r[NV];
	pthread_t vt[NV], rt[2], wt, st_t;
	struct xg_error err;
	struct xg_stats st;
	uint64_t swaps = 0;
	int fails = 0, ud = 0, gp = 0, exits = 0, watching;
	xg_engine *e = engine_with(pol_ud, NULL, &err);

	if (!e)
		bail("%s", err.msg);
	xg_engine_set_log(e, storm_log, NULL);
	for (int i = 0; i < NV; i++) {
		r[i].v = xg_vcpu_attach(e, "g", i, &fake_ops, &r[i].f, &err);
		if (!r[i].v)
			bail("%s", err.msg);
	}
	watching = xg_engine_watch(e, 0, &err) == 0;
	if (!watching)
		diag("no file watcher (%s): API reloads only", err.msg);
	atomic_store(&running, NV);
	for (int i = 0; i < NV; i++)
		pthread_create(&vt[i], NULL, vcpu_thread, &r[i]);
	for (int i = 0; i < 2; i++)
		pthread_create(&rt[i], NULL, api_reloader, e);
	pthread_create(&wt, NULL, file_writer, NULL);
	pthread_create(&st_t, NULL, stats_reader, e);
	{
		double t0 = now();
		while (now() - t0 < 60 &&
		       (now() - t0 < SECONDS || atomic_load(&reloads) < MIN_RELOADS))
			usleep(10000);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < NV; i++)
		pthread_join(vt[i], NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(rt[i], NULL);
	pthread_join(wt, NULL);
	pthread_join(st_t, NULL);
	if (watching)
		xg_engine_unwatch(e, 5.0);

	for (int i = 0; i < NV; i++) {
		struct xg_stats vs;
		fails += r[i].fails;
		ud += r[i].ud;
		gp += r[i].gp;
		exits += r[i].exits;
		xg_vcpu_stats(r[i].v, &vs);
		swaps += vs.swaps;
	}
	diag("%d API reloads (%d failed: a policy file caught half written), %llu swaps, "
	     "%d #UD and %d #GP",
	     atomic_load(&reloads), atomic_load(&reload_fails), (unsigned long long)swaps, ud, gp);
	is_int(fails, 0, "every one of %d exits on %d vCPUs answered by a whole policy", exits, NV);
	ok(atomic_load(&reloads) > 0 && swaps > 0, "reloads were committed and swapped in");
	ok(ud > 0 && gp > 0, "both policies served exits (%d #UD, %d #GP)", ud, gp);
	xg_engine_stats(e, &st);
	is_int((int)st.exits, exits, "the engine counted every exit");
	for (int i = 0; i < NV; i++)
		xg_vcpu_detach(r[i].v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
