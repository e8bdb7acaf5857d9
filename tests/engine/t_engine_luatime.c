/*
 * t_engine_luatime.c - the time in Lua (xg_stats.lua_ns: --stats' and ctl status' lua_seconds)
 * counts each policy call once. An exit with no handler for its kind and no default makes no
 * call; it added the previous call's time again (took_ns was left from the last call), so a
 * guest whose other exits have no handler showed the Lua time of one slow call multiplied by
 * their number.
 */
#include "engine/engine_int.h"
#include "engine_test.h"

int main(void)
{
	struct xg_error err;
	struct xg_stats st;
	struct fake f = {0};
	struct run r;
	uint64_t after_io;
	xg_vcpu *v;
	/* the io handler spins ~30 ms: several ticks of the coarse clock the time is read with */
	xg_engine *e = engine_with("local xg = require 'exitgate'\n"
				   "return { io = function(e)\n"
				   "  local t = os.clock() + 0.03\n"
				   "  while os.clock() < t do end\n"
				   "  return xg.inject 'UD' end }\n",
				   "    limits: { time_ms: 1000 }\n", &err);

	if (!e)
		bail("%s", err.msg);
	v = attach(e, &f);
	plan(3);
	run_io(&r, 0x80, 1);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	xg_vcpu_stats(v, &st);
	after_io = st.lua_ns;
	ok(st.lua_calls == 1 && after_io > 0, "one slow io call: %.3f s in Lua", after_io / 1e9);
	run_msr(&r, 0x1234, 0);
	for (int i = 0; i < 100; i++)
		xg_handle_exit(v, r.b, sizeof(r.b), 0);
	xg_vcpu_stats(v, &st);
	is_int((int)st.fails[XG_FAIL_NO_HANDLER], 100, "100 MSR exits found no handler");
	ok(st.lua_ns == after_io,
	   "exits with no handler add no time in Lua (%.3f s after them, %.3f s before)",
	   st.lua_ns / 1e9, after_io / 1e9);
	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
