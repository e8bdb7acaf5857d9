/*
 * t_engine_locks.c - an exit takes no engine-wide lock: vCPUs of one engine never wait for
 * each other, nor for a reload, a stats reader or the store. With every shared lock of the
 * engine held by another thread (the engine's lock, the reload lock, the guest's store lock),
 * a vCPU still handles exits from its cache and through its Lua policy; if any of them took
 * one of those locks it would wait until they are released, and the test would see it stuck
 * (20 s, far beyond the milliseconds the exits take). The reload check on the exit path is an
 * atomic load of the vCPU's own flag, and the swap to a reloaded state takes only the vCPU's
 * own lock; counters are the vCPU's own, summed when read.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine_int.h"
#include "engine_test.h"

#define N_EXITS 5000

struct runner {
	xg_vcpu *v;
	struct fake f;
	atomic_int done;
	int fails;
};

static void *run(void *arg)
{
	struct runner *r = arg;
	struct run kr_;

	run_io(&kr_, 0x80, 1);
	for (int i = 0; i < N_EXITS; i++) {
		struct xg_result res = xg_handle_exit(r->v, kr_.b, sizeof(kr_.b), 0);
		r->fails += res.fail != XG_FAIL_NONE || r->f.vector != 6;
		atomic_store(&r->done, i + 1);
	}
	return NULL;
}

/* Handles N_EXITS on r's vCPU from another thread while this one holds every engine-wide
 * lock. */
static void exits_under_locks(xg_engine *e, struct runner *r, const char *what)
{
	struct xg_store *st = xg_store_of(e, "g");
	pthread_t t;

	atomic_store(&r->done, 0);
	r->fails = 0;
	pthread_mutex_lock(&e->reload_lock);
	pthread_mutex_lock(&e->lock);
	pthread_mutex_lock(&st->lock);
	pthread_create(&t, NULL, run, r);
	for (int i = 0; i < 2000 && atomic_load(&r->done) < N_EXITS; i++)
		usleep(10000);
	ok(atomic_load(&r->done) == N_EXITS,
	   "%s: %d of %d exits handled while the engine, reload and store locks are held", what,
	   atomic_load(&r->done), N_EXITS);
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->reload_lock);
	pthread_join(t, NULL);
	is_int(r->fails, 0, "%s: each exit answered #UD", what);
}

/* An engine whose guest "g" runs `policy`, a vCPU on r's fake, one exit handled. */
static xg_engine *setup(const char *policy, struct runner *r)
{
	struct xg_error err;
	struct run kr_;
	xg_engine *e = engine_with(policy, NULL, &err);

	if (!e)
		bail("%s", err.msg);
	memset(r, 0, sizeof(*r));
	r->v = xg_vcpu_attach(e, "g", 0, &fake_ops, &r->f, &err);
	if (!r->v)
		bail("%s", err.msg);
	run_io(&kr_, 0x80, 1);
	xg_handle_exit(r->v, kr_.b, sizeof(kr_.b), 0);
	return e;
}

int main(void)
{
	static struct runner r;
	struct xg_stats st;
	xg_engine *e;

	/* the cached path: the first exit called the policy, these hit the cache */
	e = setup("local xg = require 'exitgate'\n"
		  "return { io = function(e) return xg.cache(xg.inject 'UD', 'port') end }\n",
		  &r);
	exits_under_locks(e, &r, "cached verdict");
	xg_vcpu_stats(r.v, &st);
	ok(st.cache_hits == N_EXITS && st.lua_calls == 1,
	   "all from the cache (%llu hits, %llu "
	   "Lua calls)",
	   (unsigned long long)st.cache_hits, (unsigned long long)st.lua_calls);
	xg_vcpu_detach(r.v);
	xg_engine_free(e);

	/* the swap at an exit boundary: a reload committed, the vCPU takes the new state at
	 * its next exit and leaves the old one for the reload thread to close */
	e = setup("local xg = require 'exitgate'\n"
		  "return { io = function(e) return xg.cache(xg.inject 'UD', 'port') end }\n",
		  &r);
	{
		struct xg_error err;
		ok(xg_engine_reload(e, &err) == 0, "a reload is committed");
	}
	exits_under_locks(e, &r, "swap to a reloaded policy");
	xg_vcpu_stats(r.v, &st);
	ok(st.swaps == 1, "the vCPU swapped once (%llu)", (unsigned long long)st.swaps);
	xg_vcpu_detach(r.v);
	xg_engine_free(e);

	/* the Lua path: a policy call on every exit */
	e = setup("local xg = require 'exitgate'\n"
		  "return { io = function(e) return xg.inject 'UD' end }\n",
		  &r);
	exits_under_locks(e, &r, "Lua policy");
	xg_vcpu_stats(r.v, &st);
	ok(st.lua_calls == N_EXITS + 1, "a Lua call each (%llu)", (unsigned long long)st.lua_calls);
	xg_vcpu_detach(r.v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
