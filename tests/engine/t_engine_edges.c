/*
 * t_engine_edges.c - the smaller holes: an error object that is not a string still names
 * the policy's line; a C library function is refused as a handler; convert takes integers
 * only and no range that wraps past 2^64; a coroutine made while loading (with loading's
 * larger hook step) cannot overrun a call's small budget; a policy that only makes garbage
 * is not killed for memory (Lua's emergency collection runs first).
 */
#include "engine_test.h"

static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local t = {\n"
    "  [1] = function() error({ code = 1 }) end,\n"
    "  [2] = function() error() end,\n"
    "  [3] = function() error(42) end,\n"
    "  [10] = function() return xg.convert { gpa = 0xfffffffffffff000, size = 0x2000, to = "
    "'private' } end,\n"
    "  [11] = function() return xg.convert { gpa = 4096.0, size = 0x1000, to = 'private' } "
    "end,\n"
    "  [12] = function() return xg.convert { gpa = 0x1000, size = '4096', to = 'shared' } end,\n"
    "  [13] = function() return xg.convert { gpa = 0x1000, size = 0x1000, to = 'shared' } end,\n"
    "  [14] = function() return xg.inject('GP', 1.5) end,\n"
    "}\n"
    "return xg.policy { io = function(e, vcpu) return t[e.port](e, vcpu) end }\n";

int main(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct xg_result r;
	xg_engine *e;
	xg_vcpu *v;

	alarm(120);
	e = engine_with(policy, NULL, &err);
	if (!ok(e != NULL, "engine"))
		bail("%s", err.msg);
	v = attach(e, &f);

	r = io(v, 1);
	ok(r.fail == XG_FAIL_ERROR, "error({ code = 1 }) is an error");
	like(xg_vcpu_last_error(v), "p.lua:3: error object is a table",
	     "... whose message names the line and the object's type");
	io(v, 2);
	like(xg_vcpu_last_error(v), "p.lua:4: error object is a nil", "error() names the line");
	io(v, 3);
	like(xg_vcpu_last_error(v), "p.lua:5: error object is a number (42)",
	     "error(42) names the line and the number");

	r = io(v, 10);
	ok(r.fail == XG_FAIL_BAD_VERDICT && f.converts == 0,
	   "convert of a range that wraps past 2^64 is refused");
	like(xg_vcpu_last_error(v), "wraps past 2^64", "... saying so");
	r = io(v, 11);
	ok(r.fail == XG_FAIL_BAD_VERDICT && f.converts == 0, "convert with a float gpa is refused");
	like(xg_vcpu_last_error(v), "'gpa' must be an integer, not a float", "... saying so");
	r = io(v, 12);
	ok(r.fail == XG_FAIL_BAD_VERDICT && f.converts == 0,
	   "convert with a string size is refused");
	like(xg_vcpu_last_error(v), "'size' must be an integer, not string", "... saying so");
	r = io(v, 13);
	ok(r.fail == XG_FAIL_NONE && f.converts == 1 && f.conv_gpa == 0x1000,
	   "a good convert still applies");
	r = io(v, 14);
	ok(r.fail == XG_FAIL_BAD_VERDICT, "inject with a float error code is refused");
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* a C function as a handler: no file, no line, no argument checks of its own */
	e = engine_with("return { io = string.rep, default = print }\n", NULL, &err);
	ok(!e && strstr(err.msg, "is a C library function"),
	   "a C library function as a handler is refused at load: %s", e ? "(loaded)" : err.msg);
	xg_engine_free(e);

	/* a coroutine made at load, where the hook step is loading's (10x the budget), resumed
	 * in a call with a budget of 100: it is charged by its own step and re-hooked on resume,
	 * so it runs about 100 instructions, not 1000 */
	e = engine_with("local xg = require 'exitgate'\nlocal n = 0\n"
			"local co = coroutine.wrap(function() while true do n = n + 1 end end)\n"
			"local co2 = coroutine.create(function() while true do n = n + 1 end end)\n"
			"return xg.policy { io = function(e)\n"
			"  if e.port == 1 then n = 0 co() end\n"
			"  if e.port == 2 then n = 0 coroutine.resume(co2) end\n"
			"  return n <= 60 and xg.resume() or xg.stop('ran ' .. n) end }\n",
			"    limits: { instructions: 100 }\n", &err);
	v = attach(e, &f);
	for (int port = 1; port <= 2; port++) {
		r = io(v, (uint16_t)port);
		ok(r.fail == XG_FAIL_INSTRUCTIONS,
		   "a coroutine made at load (%s) is killed in a call with a budget of 100",
		   port == 1 ? "wrap" : "create");
		r = io(v, 3);
		ok(r.verdict == XG_VERDICT_RESUME, "... after at most ~100 instructions%s%s",
		   r.verdict == XG_VERDICT_RESUME ? "" : ": ", r.reason ? r.reason : "");
	}
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* garbage only, beyond what is kept: Lua starts a collection cycle when the heap has
	 * doubled since the last (gcpause 200%), so with 740 KB kept under a 1 MiB cap the
	 * cap comes first, while everything above the kept data is garbage */
	e = engine_with("local xg = require 'exitgate'\n"
			"local keep = {} for i = 1, 700 do keep[i] = ('k'):rep(1000) .. i end\n"
			"return xg.policy { io = function(e)\n"
			"  for i = 1, 2000 do local s = ('x'):rep(1000) .. i end\n"
			"  return xg.resume() end }\n",
			"    limits: { memory: 1M, instructions: 100000000, time_ms: 5000 }\n",
			&err);
	v = attach(e, &f);
	int good = 0;
	for (int i = 0; i < 20; i++)
		good += io(v, 1).fail == XG_FAIL_NONE;
	ok(good == 20,
	   "a policy keeping 740 KB and making 2 MB of garbage per call under a 1 MiB cap is not "
	   "killed (%d of 20 calls served%s%s)",
	   good, good < 20 ? ": " : "", good < 20 ? xg_vcpu_last_error(v) : "");
	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
