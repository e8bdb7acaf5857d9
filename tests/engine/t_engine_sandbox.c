/*
 * t_engine_sandbox.c - one escape attempt per hole the sandbox closes, each from inside a
 * handler: bytecode, string.dump, debug, io/os, file loading, require, pattern bomb, memory
 * bomb, infinite loop (also inside pcall, xpcall and a coroutine), metatable tricks on the
 * exit object, locked globals; and the limits: instructions, memory, rate-limited logs.
 */
#include <time.h>

#include "engine_test.h"

/* Each port runs one attempt. A handler returns xg.resume() when the hole is closed the
 * way it should be, xg.stop() when the attempt got through. */
static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local closed, open = xg.resume, function() return xg.stop 'escaped' end\n"
    "local stash\n"
    "local t = {\n"
    "  [1] = function() return string.dump == nil and closed() or open() end,\n"
    "  [2] = function()\n"
    "      local f, err = load('\\27Lua\\84\\0\\25\\147\\13\\10\\26\\10')\n"
    "      return (f == nil and err:find('binary')) and closed() or open() end,\n"
    "  [3] = function() return pcall(function() return debug end) and open() or closed() end,\n"
    "  [4] = function() return pcall(function() return io end) and open() or closed() end,\n"
    "  [5] = function() return (os.execute == nil and os.getenv == nil and os.exit == nil\n"
    "         and type(os.clock()) == 'number' and type(os.time()) == 'number') and closed() or "
    "open() end,\n"
    "  [6] = function() return (pcall(function() return dofile end) or pcall(function() return "
    "loadfile end)\n"
    "         or pcall(function() return package end)) and open() or closed() end,\n"
    "  [7] = function() return pcall(require, 'io') and open() or closed() end,\n"
    "  [8] = function() local f = load('return os') return f().execute == nil and closed() or "
    "open() end,\n"
    "  [9] = function() return pcall(function() x = 1 end) and open() or closed() end,\n"
    "  [10] = function() return (pcall(setmetatable, _G, nil) or pcall(function() return rawset "
    "end)) and open() or closed() end,\n"
    "  [11] = function() return type(getmetatable('')) == 'string' and closed() or open() end,\n"
    "  [12] = function() return pcall(collectgarbage, 'stop') and open() or closed() end,\n"
    /* pattern bomb: exponential backtracking in C, where no hook fires */
    "  [20] = function() return string.find(('a'):rep(40), ('a*'):rep(40) .. 'c') and open() or "
    "open() end,\n"
    "  [21] = function() return ('a'):rep(40):match(('a*'):rep(40) .. 'c') and open() or open() "
    "end,\n"
    "  [22] = function() return select(2, ('a'):rep(5000):gsub('a-a-a-b', '')) and open() or "
    "open() end,\n"
    "  [23] = function() return string.find(('a'):rep(40), ('a*'):rep(40), 1, true) and open() or "
    "closed() end,\n"
    "  [24] = function() return ('x = 1'):match('^(%w+)%s*=%s*(%w+)$') == 'x' and closed() or "
    "open() end,\n"
    "  [25] = function()\n"
    "    local ok, m = pcall(string.rep, 'x', 1 << 40)\n"
    "    -- the bytes whole, and the limit named (it said '1099511627776.0 bytes')\n"
    "    return not ok and m:find('of 1099511627776 bytes is over the memory limit (limits.memory: ', 1, true)\n"
    "      and closed() or open() end,\n"
    /* CPU */
    "  [30] = function() while true do end end,\n"
    "  [31] = function() while true do pcall(function() while true do end end) end end,\n"
    "  [32] = function() pcall(function() while true do end end) return open() end,\n"
    "  [33] = function() xpcall(function() while true do end end, function() while true do end "
    "end) return open() end,\n"
    "  [34] = function() coroutine.wrap(function() while true do end end)() return open() end,\n"
    "  [35] = function() local ok = pcall(error, 'plain') return ok and open() or closed() end,\n"
    "  [36] = function() local co = coroutine.create(function() while true do end end)\n"
    "          coroutine.resume(co) return open() end,\n"
    "  [37] = function() setmetatable({}, { __gc = function() while true do end end }) return "
    "open() end,\n"
    "  [38] = function() table.move({}, 1, 1 << 50, 1) return open() end,\n"
    "  [39] = function() local ok, m = xpcall(error, function(m) return 'handled ' .. m end, 'x')\n"
    "          return (not ok and m == 'handled x') and closed() or open() end,\n"
    "  [19] = function() return pcall(load, ('x = 1 '):rep(100000)) and open() or closed() end,\n"
    /* memory */
    "  [40] = function() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end end,\n"
    "  [41] = function() local t = {} pcall(function() for i = 1, 1e9 do t[i] = ('x'):rep(100) .. "
    "i end end)\n"
    "          t = nil return open() end,\n"
    "  [42] = function() local s = 'x' for i = 1, 40 do s = s .. s end return open() end,\n"
    /* the exit object */
    "  [50] = function(e) return type(getmetatable(e)) == 'string' and closed() or open() end,\n"
    "  [51] = function(e) return pcall(setmetatable, e, {}) and open() or closed() end,\n"
    "  [52] = function(e) return pcall(function() e.reason = 'mmio' end) and open() or closed() "
    "end,\n"
    "  [53] = function(e) stash = e return closed() end,\n"
    "  [54] = function(e) local ok, port = pcall(function() return stash.port end)\n"
    "          return (ok and port == 54) and closed() or open() end,\n"
    "  [55] = function(e) local n = 0 for k, v in pairs(e) do n = n + 1 end\n"
    "          return (n > 5 and e:totable().port == 55) and closed() or open() end,\n"
    "  [56] = function(e, vcpu) return pcall(function() vcpu.index = 7 end) and open() or closed() "
    "end,\n"
    "}\n"
    "return xg.policy { io = function(e, vcpu) return t[e.port](e, vcpu) end }\n";

static void closed_hole(xg_vcpu *v, uint16_t port, const char *what)
{
	struct xg_result r = io(v, port);

	ok(r.fail == XG_FAIL_NONE && r.verdict == XG_VERDICT_RESUME, "%s%s%s", what,
	   r.fail ? ": " : "", r.fail ? xg_vcpu_last_error(v) : "");
}

static void killed(xg_vcpu *v, uint16_t port, enum xg_fail want, const char *what)
{
	double t0 = now();
	struct xg_result r = io(v, port);
	double dt = now() - t0;

	ok(r.fail == want && r.verdict == XG_VERDICT_INJECT && dt < 2.0,
	   "%s: %s, on_error applied, in %.3f s (%s)", what, xg_fail_name(r.fail), dt,
	   xg_vcpu_last_error(v));
}

int main(void)
{
	struct xg_error err;
	xg_engine *e =
	    engine_with(policy,
			"    limits: { instructions: 5000000, memory: 4M, time_ms: 2000 }\n"
			"    rate_limit: { logs_per_second: 0.5, burst: 3 }\n",
			&err);
	struct fake f = {0};
	struct xg_stats st;
	xg_vcpu *v;

	if (!ok(e != NULL, "engine with the escape-attempt policy"))
		bail("%s", err.msg);
	v = xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err);
	if (!v)
		bail("%s", err.msg);

	closed_hole(v, 1, "string.dump is gone");
	closed_hole(v, 2, "load refuses bytecode");
	closed_hole(v, 3, "debug is not reachable");
	closed_hole(v, 4, "io is not reachable");
	closed_hole(v, 5, "os has clock and time only");
	closed_hole(v, 6, "dofile, loadfile, package are not reachable");
	closed_hole(v, 7, "require refuses anything but exitgate");
	closed_hole(v, 8, "load()ed text runs in the sandbox");
	closed_hole(v, 9, "globals are locked");
	closed_hole(v, 10, "_ENV's metatable is protected, rawset is gone");
	closed_hole(v, 11, "the string metatable cannot be fetched");
	closed_hole(v, 12, "collectgarbage cannot stop the collector");
	closed_hole(v, 23, "plain find of a pattern-like string is allowed");
	closed_hole(v, 24, "ordinary anchored patterns work");
	closed_hole(v, 25, "string.rep over the memory limit is refused");
	closed_hole(v, 35, "pcall still catches ordinary errors");
	closed_hole(v, 19, "load of a huge source (parsed in C, unhooked) is refused");

	killed(v, 20, XG_FAIL_ERROR, "pattern bomb in string.find is refused");
	like(xg_vcpu_last_error(v), "too costly", "... with a message that says why");
	killed(v, 21, XG_FAIL_ERROR, "pattern bomb in string.match (method call) is refused");
	killed(v, 22, XG_FAIL_ERROR, "lazy-repetition bomb in gsub over 5000 bytes is refused");
	killed(v, 30, XG_FAIL_INSTRUCTIONS, "while true do end");
	like(xg_vcpu_last_error(v), "(p.lua:58) exceeded the instruction limit of 5000000",
	     "the message names the handler's file:line and the limit");
	killed(v, 31, XG_FAIL_INSTRUCTIONS, "an infinite loop re-entering pcall");
	killed(v, 32, XG_FAIL_INSTRUCTIONS, "a pcall catching the kill cannot continue");
	killed(v, 33, XG_FAIL_INSTRUCTIONS, "xpcall with a looping message handler");
	killed(v, 34, XG_FAIL_INSTRUCTIONS, "a loop inside a coroutine");
	killed(v, 36, XG_FAIL_INSTRUCTIONS, "coroutine.resume catching the kill cannot continue");
	killed(v, 37, XG_FAIL_ERROR,
	       "a __gc metamethod (finalizers run with hooks off) is refused");
	killed(v, 38, XG_FAIL_ERROR, "table.move over 2^50 nils (a C loop) is refused");
	closed_hole(v, 39, "xpcall still calls its message handler for ordinary errors");
	killed(v, 40, XG_FAIL_MEMORY, "memory bomb");
	like(xg_vcpu_last_error(v), "exceeded the memory limit of 4194304 bytes",
	     "message names the limit");
	killed(v, 41, XG_FAIL_MEMORY, "a memory bomb inside pcall is still a kill");
	killed(v, 42, XG_FAIL_MEMORY, "string doubling");
	closed_hole(v, 1, "the state serves normally after the kills");

	closed_hole(v, 50, "getmetatable(exit) gives no metatable");
	closed_hole(v, 51, "setmetatable(exit) fails");
	closed_hole(v, 52, "exit fields cannot be written");
	closed_hole(v, 53, "an exit can be stashed ...");
	closed_hole(v, 54,
		    "... and then shows only the current exit, never the old one (the root object "
		    "is reused)");
	closed_hole(v, 55, "pairs(e) and e:totable() work");
	closed_hole(v, 56, "the vCPU object is read-only");

	/* rate limiting: a guest making the policy fail on every exit. The bucket holds 3 lines
	 * and gains 0.5 a second, so what may pass depends on how long the 1000 exits took
	 * (seconds under ASan on a loaded machine): at most 3 + 0.5 per second elapsed, and
	 * one for the bucket's fraction at the start. */
	xg_vcpu_stats(v, &st);
	uint64_t supp0 = st.logs_suppressed;
	log_lines = 0;
	double t0 = now();
	for (int i = 0; i < 1000; i++)
		io(v, 42);
	double secs = now() - t0;
	int allowed = 4 + (int)(0.5 * secs);
	xg_vcpu_stats(v, &st);
	ok(log_lines <= allowed,
	   "1000 failing exits in %.1f s: %d log lines (burst 3, 0.5/s: at most %d)", secs,
	   log_lines, allowed);
	ok(st.logs_suppressed - supp0 >= (uint64_t)(1000 - allowed),
	   "the rest are counted as suppressed (%llu)",
	   (unsigned long long)(st.logs_suppressed - supp0));
	is_int((long long)st.fails[XG_FAIL_MEMORY], 1003, "every failure is still counted");
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* a policy that hoards memory between calls gets a fresh state after the kill */
	e = engine_with("local xg = require 'exitgate'\nlocal keep = {}\n"
			"return { io = function(e)\n"
			"  if e.port == 1 then for i = 1, 1e9 do keep[#keep + 1] = ('x'):rep(1000) "
			".. i end end\n"
			"  return #keep == 0 and xg.resume() or xg.stop()\n"
			"end }\n",
			"    limits: { memory: 1M, time_ms: 1000 }\n", &err);
	v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err) : NULL;
	if (!v)
		bail("%s", err.msg);
	ok(io(v, 1).fail == XG_FAIL_MEMORY, "a handler hoarding memory in an upvalue is killed");
	xg_vcpu_stats(v, &st);
	ok(io(v, 2).verdict == XG_VERDICT_RESUME && st.rebuilds == 1,
	   "the state is rebuilt from the same policy: the next exit runs with an empty upvalue");
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* bytecode as the policy file */
	e = engine_with("\x1bLua\x54\x00 nonsense", NULL, &err);
	ok(!e && strstr(err.msg, "binary chunk"), "a bytecode policy file is refused: %s", err.msg);
	/* a policy whose top level never ends */
	e = engine_with("while true do end", "    limits: { instructions: 1000 }\n", &err);
	ok(!e && strstr(err.msg, "instruction limit exceeded while loading"),
	   "an endless top level: %s", err.msg);
	/* a policy whose top level eats memory */
	e = engine_with("local t = {} for i = 1, 1e9 do t[i] = i end",
			"    limits: { memory: 1M, time_ms: 1000 }\n", &err);
	ok(!e && strstr(err.msg, "memory limit exceeded while loading of 1048576 bytes "
				 "(limits.memory)") && !strstr(err.msg, "10x"),
	   "a memory-hungry top level, the memory limit named (not the instruction budget, "
	   "not 10x): %s",
	   err.msg);
	cleanup_dir();
	return done_testing();
}
