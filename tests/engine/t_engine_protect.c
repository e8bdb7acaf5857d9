/*
 * t_engine_protect.c - every entry into the policy's Lua is protected and hooked: the
 * verdict a handler returns is read raw, inside the call, so a hostile verdict table (or
 * xg.dump table) whose __index loops, errors, allocates past the cap or yields is a bad
 * verdict answered by on_error, not a hung vCPU or an aborted process; a coroutine cannot be
 * made where no hook runs; __close and error objects with __tostring stay bounded.
 * On the engine as it was, port 1 hung the vCPU forever and ports 2-4 aborted the process:
 * the alarm below turns a hang into a failure.
 */
#include <time.h>

#include "engine_test.h"

static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local stash\n"
    "local loop = function() while true do end end\n"
    "local t = {\n"
    "  [1] = function() return setmetatable({}, { __index = loop }) end,\n"
    "  [2] = function() return setmetatable({}, { __index = function() error('boom') end }) "
    "end,\n"
    "  [3] = function() return setmetatable({}, { __index = function()\n"
    "          local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end end }) end,\n"
    "  [4] = function() return setmetatable({}, { __index = coroutine.yield }) end,\n"
    "  [5] = function() return { verdict = 'dump', ['then'] = setmetatable({}, { __index = "
    "loop }) } end,\n"
    "  [6] = function() return setmetatable({ verdict = 'dump' }, { __index = function() "
    "error('x') end }) end,\n"
    "  [7] = function() return setmetatable({}, { __index = function(_, k)\n"
    "          if k == 'verdict' then stash = coroutine.create(loop) return 'resume' end end }) "
    "end,\n"
    "  [8] = function() if stash then coroutine.resume(stash) return xg.stop() end return "
    "xg.resume() end,\n"
    "  [9] = function() return { verdict = 'convert', gpa = 0x1000, size = 0x1000, to = 7 } "
    "end,\n"
    "  [10] = function() return setmetatable({ verdict = 'inject' }, { __index = function(_, "
    "k)\n"
    "          return k == 'exception' and 'UD' or nil end }) end,\n"
    "  [11] = function() local x <close> = setmetatable({}, { __close = loop }) return "
    "xg.resume() end,\n"
    "  [12] = function() local x <close> = setmetatable({}, { __close = loop }) loop() end,\n"
    "  [13] = function() error(setmetatable({}, { __tostring = loop })) end,\n"
    "  [14] = function() xg.log(setmetatable({}, { __tostring = loop })) return xg.resume() "
    "end,\n"
    "  [15] = function() local co = coroutine.wrap(loop) co() end,\n"
    "  [20] = function() return xg.resume() end,\n"
    "}\n"
    "return xg.policy { io = function(e, vcpu) return t[e.port](e, vcpu) end }\n";

/* The exit on `port` fails with `want`, on_error (inject UD) applies, within a second.
 * XG_FAIL_INSTRUCTIONS stands for a limit's kill: on a loaded machine a loop may reach its
 * time limit before its instruction limit. */
static void answered(xg_vcpu *v, uint16_t port, enum xg_fail want, const char *what)
{
	double t0 = now();
	struct xg_result r = io(v, port);
	double dt = now() - t0;
	int as_wanted = r.fail == want || (want == XG_FAIL_INSTRUCTIONS && r.fail == XG_FAIL_TIME);

	ok(as_wanted && r.verdict == XG_VERDICT_INJECT && dt < 1.0,
	   "%s: %s, on_error applied, in %.3f s (%s)", what, xg_fail_name(r.fail), dt,
	   xg_vcpu_last_error(v));
}

static void served(xg_vcpu *v, uint16_t port, const char *what)
{
	struct xg_result r = io(v, port);

	ok(r.fail == XG_FAIL_NONE && r.verdict == XG_VERDICT_RESUME, "%s%s%s", what,
	   r.fail ? ": " : "", r.fail ? xg_vcpu_last_error(v) : "");
}

int main(void)
{
	struct xg_error err;
	struct fake f = {0};
	xg_engine *e;
	xg_vcpu *v;

	alarm(120); /* a hang is a failure, not a stuck suite */
	e = engine_with(policy, "    limits: { memory: 4M }\n", &err);
	if (!ok(e != NULL, "engine with the hostile-verdict policy"))
		bail("%s", err.msg);
	v = xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err);
	if (!v)
		bail("%s", err.msg);

	answered(v, 1, XG_FAIL_BAD_VERDICT, "a verdict whose __index loops");
	like(xg_vcpu_last_error(v), "has no 'verdict' name",
	     "... is read raw: a table without a verdict name");
	answered(v, 2, XG_FAIL_BAD_VERDICT, "a verdict whose __index errors");
	answered(v, 3, XG_FAIL_BAD_VERDICT, "a verdict whose __index allocates past the cap");
	answered(v, 4, XG_FAIL_BAD_VERDICT, "a verdict whose __index yields");
	answered(v, 5, XG_FAIL_BAD_VERDICT, "an xg.dump table whose 'then' has a looping __index");
	answered(v, 6, XG_FAIL_BAD_VERDICT, "an xg.dump table whose own __index errors");
	answered(v, 7, XG_FAIL_BAD_VERDICT,
		 "a verdict whose __index would make a coroutine outside the hook");
	served(v, 8, "... so no hookless coroutine exists for a later call to resume");
	answered(v, 9, XG_FAIL_BAD_VERDICT, "convert with a number as 'to'");
	like(xg_vcpu_last_error(v), "'to' must be \"private\" or \"shared\"", "... says why");
	answered(v, 10, XG_FAIL_BAD_VERDICT, "an exception given only through __index");
	answered(v, 11, XG_FAIL_INSTRUCTIONS, "a __close that loops runs hooked");
	answered(v, 12, XG_FAIL_INSTRUCTIONS, "a killed call whose __close loops");
	answered(v, 13, XG_FAIL_ERROR, "an error object whose __tostring loops");
	like(xg_vcpu_last_error(v), "p.lua:20:", "... the message still names the line");
	answered(v, 14, XG_FAIL_INSTRUCTIONS, "xg.log of a value whose __tostring loops");
	answered(v, 15, XG_FAIL_INSTRUCTIONS, "a loop in a coroutine.wrap function");
	for (int i = 0; i < 3; i++)
		served(v, 20, "later exits are served");
	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
