/*
 * t_engine_work.c - C functions whose work grows with their input are charged for it, and
 * every call has a wall-clock deadline (limits.time_ms), so no path is bounded by the
 * instruction count alone. Each attack runs in one handler call and must be answered by
 * on_error quickly (the bound asserted here is a generous 1 s so that a loaded machine
 * cannot fail it; tests/bench/bench_sandbox reports the real worst times), then later exits
 * are served. Loading, reloading and `exitgate check` run under the same bounds.
 * On the engine as it was, the first attack alone ran for tens of seconds.
 */
#include <time.h>

#include "engine_test.h"

/* Ports 1-9: one attack each; 30 + i: the i-th scanning function in a loop over 1 MiB. */
static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local big = ('a'):rep(1024):rep(7 << 10)\n"
    "local mib = ('a'):rep(1024):rep(1 << 10)\n"
    "local chain = {}\n"
    "for i = 1, 1990 do chain = setmetatable({}, { __index = chain, __newindex = chain }) end\n"
    "local strs = {} for i = 1, 1024 do strs[i] = ('s'):rep(1024) end\n"
    "local src = ('x = 1 '):rep(10000)\n"
    "local cont = ('\\x80'):rep(1024):rep(1024)\n"
    "local scans = {\n"
    "  function(s) return s:lower() end, function(s) return s:upper() end,\n"
    "  function(s) return s:reverse() end, function(s) return s:sub(2) end,\n"
    "  function(s) return s:byte(1, 200000) end, function(s) return string.format('%s', s) "
    "end,\n"
    "  function(s) return tonumber(s) end, function(s) return utf8.len(s) end,\n"
    "  function(s) return utf8.codepoint(s, 1, 200000) end, function(s) return "
    "utf8.offset(s, -1) end,\n"
    "  function(s) return string.pack('s', s) end, function(s) return string.unpack('z', s) "
    "end,\n"
    "  function(s) return table.concat(strs) end, function(s) return s:rep(2) end,\n"
    "  function(s) return s:find('b', 1, true) end, function(s) return s:match('b') end,\n"
    "  function(s) return s:gsub('b', 'c') end, function(s) for w in s:gmatch('b') do end "
    "end,\n"
    "  function(s) return string.char(table.unpack(strs, 1, 1024)) end,\n"
    "  function(s) return select('#', table.unpack(strs, 1, 1024)) end,\n"
    "  function(s) return utf8.codes(s)(cont, 2) end,\n"
    "  function(s) print(s) end,\n"
    "  function(s) xg.log(s) end,\n"
    "}\n"
    "local t = {\n"
    "  [1] = function() for i = 1, 1e9 do big:find('b', 1, true) end end,\n"
    "  [2] = function() for i = 1, 1e9 do utf8.len(big) end end,\n"
    "  [3] = function() return string.rep('', 1 << 62) end,\n"
    "  [4] = function() local s = ('a'):rep(4000) for i = 1, 1e9 do s:find(('a'):rep(2000) "
    ".. 'b') end end,\n"
    "  [5] = function() return ('('):rep(1024):rep(1024):find('%b()') end,\n"
    "  [6] = function() local p = ('('):rep(300) for i = 1, 1e9 do p:find('%b()') end end,\n"
    "  [7] = function() table.move(setmetatable({}, { __index = chain }), 1, (1 << 24) - 1, 1, "
    "{}) end,\n"
    "  [8] = function() return table.unpack(setmetatable({}, { __index = chain }), 1, 900000) "
    "end,\n"
    "  [9] = function() for i = 1, 1e9 do load(src) end end,\n"
    "  [10] = function() local o = setmetatable({}, { __index = chain })\n"
    "          while true do local x = o.missing end end,\n"
    "  [11] = function() table.insert(setmetatable({}, { __index = chain, __len = function() "
    "return 1 << 40 end }), 1, 1) end,\n"
    "  [12] = function() table.sort(setmetatable({}, { __index = chain, __len = function() "
    "return 1 << 30 end })) end,\n"
    "  [99] = function() return xg.resume() end,\n"
    "}\n"
    "return xg.policy { io = function(e, vcpu)\n"
    "  if e.port >= 30 and e.port < 99 then local f = scans[e.port - 29] for i = 1, 1e9 do f(mib) "
    "end end\n"
    "  return t[e.port](e, vcpu) end }\n";
#define N_SCANS 23

static int is_kill(enum xg_fail f)
{
	return f == XG_FAIL_INSTRUCTIONS || f == XG_FAIL_TIME;
}

/* The exit on `port` is killed by a limit (or refused with an error when refuse is set),
 * on_error (inject UD) applies, within a second. */
static void stopped(xg_vcpu *v, uint16_t port, int refuse, const char *what)
{
	double t0 = now();
	struct xg_result r = io(v, port);
	double dt = now() - t0;

	ok((refuse ? r.fail == XG_FAIL_ERROR : is_kill(r.fail)) && r.verdict == XG_VERDICT_INJECT &&
	       dt < 1.0,
	   "%s: %s, on_error applied, in %.3f s (%s)", what, xg_fail_name(r.fail), dt,
	   xg_vcpu_last_error(v));
}

static void served(xg_vcpu *v, const char *what)
{
	struct xg_result r = io(v, 99);

	ok(r.fail == XG_FAIL_NONE && r.verdict == XG_VERDICT_RESUME, "%s%s%s", what,
	   r.fail ? ": " : "", r.fail ? xg_vcpu_last_error(v) : "");
}

static const char *const scan_names[N_SCANS] = {
    "string.lower", "string.upper",  "string.reverse",
    "string.sub",   "string.byte",   "string.format %s",
    "tonumber",	    "utf8.len",	     "utf8.codepoint",
    "utf8.offset",  "string.pack s", "string.unpack z",
    "table.concat", "string.rep",    "plain find",
    "string.match", "string.gsub",   "string.gmatch",
    "string.char",  "table.unpack",  "utf8.codes' iterator over continuation bytes",
    "print",	    "xg.log",
};

/* A top level that does the work of `body` at load. */
static const char *hostile_top(char *buf, size_t n, const char *body)
{
	snprintf(buf, n,
		 "local xg = require 'exitgate'\n%s\n"
		 "return xg.policy { io = function(e) return xg.resume() end }\n",
		 body);
	return buf;
}

int main(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct xg_stats st;
	xg_engine *e;
	xg_vcpu *v;
	char buf[1024], out[2048];
	double t0, dt;
	FILE *fo;
	int n;
#ifdef XG_UNDER_TSAN
	skip_all("its deadlines (50 ms a call, 10x that to load) are sized for an uninstrumented "
		 "build; under ThreadSanitizer loading the policy's 8 MiB of strings alone exceeds "
		 "them (the ASan build runs it)");
#endif

	alarm(300); /* a hang is a failure, not a stuck suite */
	e = engine_with(policy, "    limits: { memory: 64M }\n", &err);
	if (!ok(e != NULL, "engine with the costly-C-function policy"))
		bail("%s", err.msg);
	v = xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err);
	if (!v)
		bail("%s", err.msg);

	stopped(v, 1, 0, "plain string.find over 7 MiB in a loop");
	like(xg_vcpu_last_error(v), "limit", "... named in the message");
	stopped(v, 2, 0, "utf8.len over 7 MiB in a loop");
	stopped(v, 3, 0, "string.rep('', 1 << 62)");
	like(xg_vcpu_last_error(v), "(in string.rep)", "... names the function that was charged");
	stopped(v, 4, 0, "a 2001-byte needle over 4000 bytes in a loop (quadratic plain search)");
	stopped(v, 5, 1, "%b() over 1 MiB is refused");
	like(xg_vcpu_last_error(v), "too costly", "... as too costly");
	stopped(v, 6, 0, "%b() over 300 bytes in a loop");
	stopped(v, 7, 0, "table.move over a 1990-table __index chain");
	stopped(v, 8, 0, "table.unpack over a 1990-table __index chain");
	stopped(v, 9, 0, "load() of 60 KB in a loop");
	like(xg_vcpu_last_error(v), "(in load)", "... charged to load");
	stopped(v, 10, 0,
		"indexing through a 1990-table __index chain (few instructions, much time)");
	xg_vcpu_stats(v, &st);
	ok(st.fails[XG_FAIL_TIME] >= 1, "the wall clock stopped at least one of them (%llu)",
	   (unsigned long long)st.fails[XG_FAIL_TIME]);
	stopped(v, 11, 0, "table.insert at 1 into a table whose __len says 2^40");
	stopped(v, 12, 0, "table.sort of a table whose __len says 2^30");
	for (int i = 0; i < N_SCANS; i++) {
		char what[96];
		struct xg_result r;
		snprintf(what, sizeof(what), "%s over 1 MiB in a loop", scan_names[i]);
		t0 = now();
		r = io(v, (uint16_t)(30 + i));
		dt = now() - t0;
		ok(r.fail != XG_FAIL_NONE && r.verdict == XG_VERDICT_INJECT && dt < 1.0,
		   "%s: %s in %.3f s (%s)", what, xg_fail_name(r.fail), dt, xg_vcpu_last_error(v));
	}
	served(v, "later exits are served");
	served(v, "... every one");

	/* reload under the same bounds: a hostile top level fails to load, the old policy runs */
	put_file("p.lua", hostile_top(buf, sizeof(buf),
				      "local s = ('a'):rep(1024):rep(1024) for i = 1, 1e9 do "
				      "s:find('b', 1, true) end"));
	t0 = now();
	n = xg_engine_reload(e, &err);
	dt = now() - t0;
	ok(n == -1 && strstr(err.msg, "limit exceeded while loading") && dt < 2.0,
	   "a reload whose top level scans in a loop fails in %.3f s: %s", dt, err.msg);
	served(v, "... and the old policy keeps serving");
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* load under the same bounds */
	static const char *const tops[] = {
	    "local s = ('a'):rep(1024):rep(1024) for i = 1, 1e9 do utf8.len(s) end",
	    "string.rep('', 1 << 62)",
	    "local src = ('x = 1 '):rep(10000) for i = 1, 1e9 do load(src) end",
	    /* one string in two lines (the parentheses say so to clang's -Wstring-concatenation) */
	    ("local c = {} for i = 1, 1990 do c = setmetatable({}, { __index = c }) end\n"
	     "local o = setmetatable({}, { __index = c }) while true do local x = o.missing end"),
	};
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		t0 = now();
		e = engine_with(hostile_top(buf, sizeof(buf), tops[i]), NULL, &err);
		dt = now() - t0;
		ok(!e && strstr(err.msg, "limit exceeded while loading") && dt < 2.0,
		   "a hostile top level (%zu) is stopped at load in %.3f s: %s", i, dt, err.msg);
		xg_engine_free(e);
		/* `exitgate check` on the same file: an error, not a hang */
		t0 = now();
		out[0] = 0;
		fo = fmemopen(out, sizeof(out), "w");
		n = xg_policy_check(put_file("hostile.lua", buf), fo);
		fclose(fo);
		dt = now() - t0;
		ok(n > 0 && strstr(out, "limit exceeded while loading") && dt < 2.0,
		   "exitgate check on it says so in %.3f s", dt);
	}
	/* and `exitgate check` calling a handler that scans in a loop */
	t0 = now();
	out[0] = 0;
	fo = fmemopen(out, sizeof(out), "w");
	n = xg_policy_check(
	    put_file("hostile.lua",
		     "local xg = require 'exitgate'\nlocal s = ('a'):rep(1024):rep(1024)\n"
		     "return xg.policy { io = function(e) for i = 1, 1e9 do "
		     "s:find('b', 1, true) end end }\n"),
	    fo);
	fclose(fo);
	dt = now() - t0;
	ok(strstr(out, "limit") && dt < 2.0,
	   "exitgate check on a scanning handler ends in %.3f s: %s", dt, out);

	/* the deadline is configurable: a spinning call is not stopped before its time */
	e = engine_with(policy, "    limits: { memory: 64M, time_ms: 300 }\n", &err);
	v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err) : NULL;
	if (!v)
		bail("%s", err.msg);
	t0 = now();
	n = (int)io(v, 10).fail;
	dt = now() - t0;
	ok(n == XG_FAIL_TIME && dt >= 0.3 && dt < 5.0,
	   "limits.time_ms: 300 stops the chain walk after %.3f s (not before 0.3 s)", dt);
	like(xg_vcpu_last_error(v), "exceeded the time limit of 300 ms per call",
	     "... and the message names the limit");
	served(v, "later exits are served");
	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
