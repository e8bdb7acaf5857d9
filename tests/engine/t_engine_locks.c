/*
 * t_engine_locks.c - an exit takes no engine-wide lock: vCPUs of one engine never wait for
 * each other, nor for a reload, a stats reader or the store. With every shared lock of the
 * engine held by another thread (the engine's lock, the reload lock, the guest's store lock),
 * a vCPU still handles exits from its cache and through its Lua policy; if any of them took
 * one of those locks it would wait until they are released, and the test would see it stuck
 * (20 s, far beyond the milliseconds the exits take). The reload check on the exit path is an
 * atomic load of the vCPU's own flag, and the swap to a reloaded state takes only the vCPU's
 * own lock; counters are the vCPU's own, summed when read. The cached `emulate` of a
 * repeated exit, the lane a guest's MMIO loop takes (engine.c repeat_emulate), runs with the
 * vCPU's own lock held by another thread too: it takes no lock at all.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine_int.h"
#include "engine_test.h"
#include "emu/x86/xg_emu_x86.h"

#define N_EXITS 5000

struct runner {
	xg_vcpu *v;
	struct fake f;
	atomic_int done;
	int fails;
	int emul; /* the exits are `mov ax, [bx]` in real mode, emulated by exitgate */
};

/* Real mode for exitgate's emulator: AX from the fake's rax, BX 0x100, flat 64 KiB
 * segments (SDM Vol. 3A 20.1: the base is the selector times 16, here 0) */
static int real_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct fake *f = o;

	memset(r, 0, sizeof(*r));
	r->rflags = 2;
	r->rip = f->rip;
	r->gpr[0] = f->rax;
	r->gpr[3] = 0x100;
	for (int i = 0; i < XG_EMU_X86_NSEG; i++) {
		r->seg[i].limit = 0xffff;
		r->seg[i].present = 1;
		r->seg[i].s = 1;
		r->seg[i].type = i == XG_EMU_X86_CS ? 0xb : 0x3;
	}
	return 0;
}

static int real_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	struct fake *f = o;

	f->rip = r->rip;
	f->rax = r->gpr[0];
	return 0;
}

static void *run(void *arg)
{
	struct runner *r = arg;
	struct run kr_;

	if (r->emul)
		run_emul(&kr_, "\x8b\x07", 2);
	else
		run_io(&kr_, 0x80, 1);
	for (int i = 0; i < N_EXITS; i++) {
		struct xg_result res;
		r->f.rax = 0;
		res = xg_handle_exit(r->v, kr_.b, sizeof(kr_.b), 0);
		r->fails += res.fail != XG_FAIL_NONE ||
			    (r->emul ? res.verdict != XG_VERDICT_EMULATE || r->f.rax != 0x1234
				     : r->f.vector != 6);
		atomic_store(&r->done, i + 1);
	}
	return NULL;
}

/* Handles N_EXITS on r's vCPU from another thread while this one holds every engine-wide
 * lock, and the vCPU's own too where own_lock says so. */
static void exits_under_locks(xg_engine *e, struct runner *r, const char *what, int own_lock)
{
	struct xg_store *st = xg_store_of(e, "g");
	pthread_t t;

	atomic_store(&r->done, 0);
	r->fails = 0;
	pthread_mutex_lock(&e->reload_lock);
	pthread_mutex_lock(&e->lock);
	pthread_mutex_lock(&st->lock);
	if (own_lock)
		pthread_mutex_lock(&r->v->lock);
	pthread_create(&t, NULL, run, r);
	for (int i = 0; i < 2000 && atomic_load(&r->done) < N_EXITS; i++)
		usleep(10000);
	ok(atomic_load(&r->done) == N_EXITS,
	   "%s: %d of %d exits handled while the engine, reload and store locks%s are held", what,
	   atomic_load(&r->done), N_EXITS, own_lock ? " and the vCPU's own" : "");
	if (own_lock)
		pthread_mutex_unlock(&r->v->lock);
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->reload_lock);
	pthread_join(t, NULL);
	is_int(r->fails, 0, "%s: each exit answered %s", what,
	       r->emul ? "by exitgate's emulator (AX loaded)" : "#UD");
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
	exits_under_locks(e, &r, "cached verdict", 1);
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
	exits_under_locks(e, &r, "swap to a reloaded policy", 0);
	xg_vcpu_stats(r.v, &st);
	ok(st.swaps == 1, "the vCPU swapped once (%llu)", (unsigned long long)st.swaps);
	xg_vcpu_detach(r.v);
	xg_engine_free(e);

	/* the Lua path: a policy call on every exit */
	e = setup("local xg = require 'exitgate'\n"
		  "return { io = function(e) return xg.inject 'UD' end }\n",
		  &r);
	exits_under_locks(e, &r, "Lua policy", 1);
	xg_vcpu_stats(r.v, &st);
	ok(st.lua_calls == N_EXITS + 1, "a Lua call each (%llu)", (unsigned long long)st.lua_calls);
	xg_vcpu_detach(r.v);
	xg_engine_free(e);

	/* the repeated-exit lane: a cached `emulate` of the same instruction, by exitgate's
	 * emulator (the VMM has no emulate op of its own, so the engine's is used) */
	{
		struct xg_vcpu_ops ops = fake_ops;
		struct xg_error err;
		struct run kr_;
		ops.emulate = NULL;
		ops.get_x86_regs = real_regs;
		ops.set_x86_regs = real_set_regs;
		e = engine_with("local xg = require 'exitgate'\n"
				"return { emulation_failure = function(e)\n"
				"  return xg.cache(xg.emulate(), 'insn') end }\n",
				NULL, &err);
		if (!e)
			bail("%s", err.msg);
		memset(&r, 0, sizeof(r));
		r.emul = 1;
		r.f.mem[0x100] = 0x34, r.f.mem[0x101] = 0x12;
		r.v = xg_vcpu_attach(e, "g", 0, &ops, &r.f, &err);
		if (!r.v)
			bail("%s", err.msg);
		run_emul(&kr_, "\x8b\x07", 2);
		xg_handle_exit(r.v, kr_.b, sizeof(kr_.b), 0); /* the policy call that caches */
		exits_under_locks(e, &r, "cached emulate, repeated exit", 1);
		/* the lane's own marks (engine.c repeat_emulate): its counts are the cached
		 * branch's, so only these say the exits took it */
		ok(r.v->x_ok && r.v->lk_ok && r.v->lk_emulate && r.v->lk_gen == r.v->cache.gen,
		   "the exits took the repeated-exit lane (x_ok %d, lk_ok %d, lk_emulate %d)",
		   r.v->x_ok, r.v->lk_ok, r.v->lk_emulate);
		xg_vcpu_stats(r.v, &st);
		ok(st.cache_hits == N_EXITS && st.lua_calls == 1 && st.emulated == N_EXITS + 1,
		   "all from the cache and emulated (%llu hits, %llu Lua calls, %llu emulated)",
		   (unsigned long long)st.cache_hits, (unsigned long long)st.lua_calls,
		   (unsigned long long)st.emulated);
		xg_vcpu_detach(r.v);
		xg_engine_free(e);
	}
	cleanup_dir();
	return done_testing();
}
