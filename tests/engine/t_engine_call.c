/*
 * t_engine_call.c - what the per-exit Lua call reuses from one exit to the next (sandbox.c
 * xg_lstate_call), seen from a policy: the exit object is one per state, bound to each
 * exit in turn, and shows only the exit of the running call, never fields of an earlier
 * one.
 */
#include "engine_test.h"

static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local kept_e\n"
    "local t = {\n"
    "  [1] = function() return xg.emulate() end,\n"
    /* the exit object: a kept one shows the current exit */
    "  [20] = function(e) kept_e = e return xg.resume() end,\n"
    "  [21] = function(e) return kept_e.port == 21 and xg.resume() or xg.stop 'stale view' end,\n"
    "}\n"
    "return xg.policy { io = function(e) return t[e.port](e) end,\n"
    "  mmio = function(e) return (rawequal(kept_e, e) and kept_e.phys_addr == 0x1230 and\n"
    "    not pcall(function() return kept_e.port end)) and xg.resume() or xg.stop 'leak' end }\n";

int main(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct xg_result r;
	xg_engine *e = engine_with(policy, "    on_error: stop\n", &err);
	xg_vcpu *v;

	if (!e)
		bail("engine: %s", err.msg);
	v = attach(e, &f);

	r = io(v, 1);
	ok(r.verdict == XG_VERDICT_EMULATE && r.fail == XG_FAIL_NONE, "xg.emulate()");
	r = io(v, 20);
	ok(r.verdict == XG_VERDICT_RESUME, "a policy keeps the exit object");
	r = io(v, 21);
	ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
	   "in a later call the kept object shows that call's exit (%s)", r.reason ? r.reason : "");
	{
		struct run m;
		run_mmio(&m, 0x1230, 4, 0);
		r = xg_handle_exit(v, m.b, sizeof(m.b), 0);
		ok(r.verdict == XG_VERDICT_RESUME && r.fail == XG_FAIL_NONE,
		   "an exit of another kind: the kept object is this one, with none of the io "
		   "exit's fields (%s)",
		   r.reason ? r.reason : "");
	}
	r = io(v, 1);
	ok(r.verdict == XG_VERDICT_EMULATE && r.fail == XG_FAIL_NONE, "and xg.emulate() still is");

	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
