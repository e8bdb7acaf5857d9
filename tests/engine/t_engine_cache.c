/*
 * t_engine_cache.c - the verdict cache: a policy declares that a verdict holds for every
 * exit of a shape; later exits of that shape are answered without Lua. Hits, misses and
 * invalidation on reload are counted.
 */
#include "engine_test.h"

static const char policy[] =
    "local xg = require 'exitgate'\n"
    "return xg.policy {\n"
    "  emulation_failure = function(e)\n"
    "    if e.insn.bytes == '\\xd9\\x00' then return xg.cache(xg.emulate(), 'insn') end\n"
    "    return xg.inject 'UD'\n"
    "  end,\n"
    "  mmio = function(e) return xg.cache(xg.emulate(), 'mmio') end,\n"
    "  io = function(e) return xg.cache(xg.dump { xg.resume(), note = 'port' }, 'port') end,\n"
    "  msr = function(e) return xg.cache(xg.inject('GP', 0), 'msr') end,\n"
    "  hlt = function(e) return xg.cache(xg.resume(), 'shape-of-my-heart') end,\n"
    "  shutdown = function(e) return xg.cache(xg.stop(), 'kind') end,\n"
    "}\n";

int main(void)
{
	struct xg_error err;
	xg_engine *e = engine_with(policy, NULL, &err);
	struct fake f = {0};
	struct xg_stats st;
	struct xg_result res;
	struct run r;
	xg_vcpu *v;
	int all_cached = 1;

	if (!e)
		bail("%s", err.msg);
	v = xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err);
	run_emul(&r, "\xd9\x00", 2);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached && res.verdict == XG_VERDICT_EMULATE, "first fld exit goes to Lua");
	for (int i = 0; i < 100; i++) {
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		all_cached &= res.cached && res.verdict == XG_VERDICT_EMULATE;
	}
	ok(all_cached && f.emulated == 101,
	   "the next 100 are answered from the cache and still applied");
	xg_vcpu_stats(v, &st);
	ok(st.lua_calls == 1 && st.cache_hits == 100 && st.cache_misses == 1,
	   "one Lua call (a miss), 100 hits (lua %llu, hits %llu, misses %llu)",
	   (unsigned long long)st.lua_calls, (unsigned long long)st.cache_hits,
	   (unsigned long long)st.cache_misses);
	run_emul(&r, "\x0f\x0b", 2);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached && res.verdict == XG_VERDICT_INJECT,
	   "other instruction bytes: a miss, Lua decides");
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached, "an uncached verdict stays uncached");
	run_emul(&r, "\xd9\x00\x00", 3);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached, "a longer instruction with the same prefix is another shape");

	run_mmio(&r, 0xfed00010, 4, 1);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	run_mmio(&r, 0xfed00ff0, 4, 1);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.cached, "mmio: same page, size and direction hit");
	run_mmio(&r, 0xfed01000, 4, 1);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached, "mmio: the next page misses");
	run_mmio(&r, 0xfed00010, 4, 0);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(!res.cached, "mmio: a read where a write was cached misses");

	run_io(&r, 0x3f8, 1);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.cached && res.dumped && res.verdict == XG_VERDICT_RESUME,
	   "port: a cached dump still dumps");
	run_msr(&r, 0x1b, 1);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	f.injected = 0;
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.cached && f.injected == 1 && f.vector == 13 && f.has_code,
	   "msr: cached inject GP(0) is injected");
	run_reason(&r, KVM_EXIT_SHUTDOWN);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.cached && res.next == XG_NEXT_STOP, "kind: every exit of the kind");
	run_reason(&r, KVM_EXIT_HLT);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.fail == XG_FAIL_BAD_VERDICT, "an unknown cache shape is a bad verdict");
	like(xg_vcpu_last_error(v), "cache shape 'shape-of-my-heart' is not one of kind, insn",
	     "%s", xg_vcpu_last_error(v));

	/* reload invalidates */
	xg_vcpu_stats(v, &st);
	uint64_t misses = st.cache_misses;
	if (xg_engine_reload(e, &err))
		bail("reload: %s", err.msg);
	run_emul(&r, "\xd9\x00", 2);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	xg_vcpu_stats(v, &st);
	ok(!res.cached && st.cache_invalidations == 7 && st.cache_misses == misses + 1,
	   "after a reload the 7 entries (fld, 3 mmio, port, msr, shutdown) are dropped (%llu) and "
	   "the next exit misses",
	   (unsigned long long)st.cache_invalidations);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.cached, "and the new policy fills the cache again");
	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
