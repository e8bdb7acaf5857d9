/*
 * t_engine_bounds.c - what a hostile policy can make the VMM hold or print: states replaced
 * after memory kills are freed (the process stays flat over 1,000+ kills), xg.store is
 * bounded in keys, key and value sizes and counts against the memory cap, and every log
 * path (load time, handler time, print, xg.log) is rate-limited with a count of what it
 * dropped.
 */
#include <time.h>

#include "engine_test.h"

#ifdef XG_UNDER_ASAN
/* the ASan runtime's (sanitizer/allocator_interface.h, not always installed) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* What the process holds: the live heap under ASan (whose quarantine keeps freed memory
 * resident on purpose), else the resident set size. */
static long long held_bytes(void)
{
#ifdef XG_UNDER_ASAN
	return (long long)__sanitizer_get_current_allocated_bytes();
#else
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
#endif
}

#define MiB (1024.0 * 1024.0)

static void memory_kills(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct xg_stats st;
	long long before, after = 0;
	int n, kills = 0;
	xg_engine *e;
	xg_vcpu *v;

	/* every exit on port 1 hoards memory in an upvalue until the kill: each one is
	 * followed by a rebuild of the state */
	e = engine_with("local xg = require 'exitgate'\nlocal keep = {}\n"
			"return { io = function(e)\n"
			"  if e.port == 1 then for i = 1, 1e9 do keep[#keep + 1] = ('x'):rep(1000) "
			".. i end end\n"
			"  return #keep == 0 and xg.resume() or xg.stop()\n"
			"end }\n",
			/* time and instructions enough that every kill is the memory cap's */
			"    limits: { memory: 1M, time_ms: 5000, instructions: 100000000 }\n", &err);
	if (!e)
		bail("%s", err.msg);
	v = attach(e, &f);
	for (n = 0; n < 50; n++)
		kills += io(v, 1).fail == XG_FAIL_MEMORY;
	before = held_bytes();
	for (; n < 1050; n++) {
		kills += io(v, 1).fail == XG_FAIL_MEMORY;
		if (n % 100 == 0 && held_bytes() - before > 256 * MiB)
			break; /* the old engine grows ~1 MiB per kill here: stop it early */
	}
	after = held_bytes();
	xg_vcpu_stats(v, &st);
	is_int(kills, n, "%d exits, each a memory kill", n);
	ok(st.rebuilds >= 1000, "each followed by a rebuild of the state (%llu)",
	   (unsigned long long)st.rebuilds);
	ok(before > 0 && after - before < 32 * MiB,
	   "the process holds %.1f MiB more after %d kills than after 50 (limit 32 MiB)",
	   (double)(after - before) / MiB, n - 50);
	ok(io(v, 2).verdict == XG_VERDICT_RESUME, "and the next exit is served by a fresh state");
	xg_vcpu_detach(v);
	xg_engine_free(e);
}

static void store_bounds(void)
{
	struct xg_error err;
	struct fake f = {0};
	long long before, after;
	xg_engine *e;
	xg_vcpu *v;
	struct xg_result r;

	/* port 1: a long key; 2: a long value; 3: fill with fresh keys until refused;
	 * 4: the last error; 5: keys with NULs and replacing values */
	e = engine_with(
	    "local xg = require 'exitgate'\nlocal err, n = '', 0\n"
	    "return { io = function(e)\n"
	    "  local p = e.port\n"
	    "  if p == 1 then local ok, m = pcall(xg.store.set, ('k'):rep(257), 1) err = m\n"
	    "    return ok and xg.stop 'long key taken' or xg.resume() end\n"
	    "  if p == 2 then local ok, m = pcall(xg.store.set, 'v', ('v'):rep(4097)) err = m\n"
	    "    return ok and xg.stop 'long value taken' or xg.resume() end\n"
	    "  if p == 3 then\n"
	    "    for i = 1, 200 do\n"
	    "      local ok, m = pcall(xg.store.set, 'key' .. n, ('s'):rep(16)) \n"
	    "      if not ok then err = m return xg.suspend(tostring(n)) end n = n + 1\n"
	    "    end return xg.resume() end\n"
	    "  if p == 4 then return xg.suspend(err) end\n"
	    "  if p == 5 then xg.store.set('a\\0b', 'x\\0y') xg.store.set('a\\0c', 2)\n"
	    "    xg.store.set('a\\0b', 'longer value') xg.store.set('gone', 1) "
	    "xg.store.set('gone', nil)\n"
	    "    local good = xg.store.get('a\\0b') == 'longer value' and xg.store.get('a\\0c') == "
	    "2\n"
	    "       and xg.store.get('a') == nil and xg.store.get('gone') == nil\n"
	    "    xg.store.set('a\\0b', nil) xg.store.set('a\\0c', nil)\n"
	    "    return good and xg.resume() or xg.stop 'store lost a value' end\n"
	    "end }\n",
	    NULL, &err);
	if (!e)
		bail("%s", err.msg);
	v = attach(e, &f);
	ok(io(v, 1).verdict == XG_VERDICT_RESUME, "a key over 256 bytes is refused");
	r = io(v, 4);
	like(r.reason, "key of 257 bytes is over the limit of 256 (limits.store_key)", "saying so");
	ok(io(v, 2).verdict == XG_VERDICT_RESUME, "a value over 4096 bytes is refused");
	like(io(v, 4).reason, "string value of 4097 bytes is over the limit of 4096", "saying so");
	r = io(v, 5);
	ok(r.verdict == XG_VERDICT_RESUME,
	   "keys and values are byte strings (NULs kept); replacing and removing work%s%s",
	   r.fail ? ": " : "", r.fail ? xg_vcpu_last_error(v) : "");
	before = held_bytes();
	for (int i = 0; i < 500; i++) /* 100,000 fresh keys asked for */
		r = io(v, 3);
	after = held_bytes();
	ok(r.verdict == XG_VERDICT_SUSPEND && !strcmp(r.reason, "1024"),
	   "the store takes 1024 keys by default, then refuses (%s)", r.reason);
	like(io(v, 4).reason, "the store of guest 'g' is full (1024 keys, limits.store_entries)",
	     "with the limit named");
	ok(after - before < 32 * MiB, "100,000 keys asked for: the process holds %.1f MiB more",
	   (double)(after - before) / MiB);
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* the store counts against the memory cap, and its limits are configurable */
	e = engine_with("local xg = require 'exitgate'\nlocal n, err = 0, ''\n"
			"local big = ('v'):rep(60000)\n"
			"return { io = function(e)\n"
			"  if e.port == 4 then return xg.suspend(err) end\n"
			"  while true do\n"
			"    local ok, m = pcall(xg.store.set, n, big)\n"
			"    if not ok then err = m return xg.suspend(tostring(n)) end n = n + 1\n"
			"  end end }\n",
			"    limits: { memory: 1M, store_value: 64K, store_entries: 100 }\n", &err);
	if (!e)
		bail("%s", err.msg);
	v = attach(e, &f);
	r = io(v, 3);
	ok(r.verdict == XG_VERDICT_SUSPEND && atoi(r.reason) > 5 && atoi(r.reason) < 17,
	   "60 KB values in a 1 MiB cap: refused after %s", r.reason);
	like(io(v, 4).reason, "over the memory limit of 1048576 bytes", "the cap is named");
	r = io(v, 5);
	ok(r.fail == XG_FAIL_MEMORY || r.verdict == XG_VERDICT_SUSPEND,
	   "the policy's own allocations see the store's bytes too");
	xg_vcpu_detach(v);
	xg_engine_free(e);

	e = engine_with("local xg = require 'exitgate'\n"
			"return { io = function(e)\n"
			"  for i = 1, 11 do local ok, m = pcall(xg.store.set, i, true)\n"
			"    if not ok then return xg.suspend(i .. ': ' .. m) end end\n"
			"  return xg.resume() end }\n",
			"    limits: { store_entries: 10, store_key: 8 }\n", &err);
	if (!e)
		bail("%s", err.msg);
	v = attach(e, &f);
	like(io(v, 1).reason, "11: xg.store.set: the store of guest 'g' is full (10 keys",
	     "limits.store_entries is configurable");
	xg_vcpu_detach(v);
	xg_engine_free(e);
}

static void log_floods(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct xg_stats st;
	xg_engine *e;
	xg_vcpu *v;
	/* time enough for the floods to run to their end: it is the rate limit that must
	 * bound them here, not the time limit (t_engine_work tests that one) */
	const char *rate = "    rate_limit: { logs_per_second: 0.001, burst: 5 }\n"
			   "    limits: { time_ms: 20000 }\n";

	log_lines = 0;
	e = engine_with("local xg = require 'exitgate'\n"
			"for i = 1, 100000 do xg.log('load flood ' .. i) end\n"
			"for i = 1, 100000 do print('print flood', i) end\n"
			"return { io = function(e)\n"
			"  for i = 1, 50000 do xg.log('handler flood') print('p') end\n"
			"  return xg.resume() end }\n",
			rate, &err);
	if (!e)
		bail("%s", err.msg);
	xg_engine_set_log(e, test_log, NULL);
	/* the engine's own check-load at start already logged, before set_log: count now */
	log_lines = 0;
	if (xg_engine_reload(e, &err))
		bail("reload: %s", err.msg);
	ok(log_lines <= 6, "200,000 log lines at load time (no vCPU): %d printed", log_lines);
	like(last_log, "199995 more log lines of the policy suppressed",
	     "and one line says how many were dropped: %s", last_log);

	log_lines = 0;
	v = attach(e, &f);
	ok(log_lines <= 6, "at a vCPU's load: %d printed", log_lines);
	ok(io(v, 1).verdict == XG_VERDICT_RESUME, "a handler logging 100,000 lines is served");
	xg_vcpu_stats(v, &st);
	ok(log_lines <= 7, "and prints %d lines in all", log_lines);
	ok(st.logs_suppressed >= 299980, "the vCPU counts what it dropped (%llu)",
	   (unsigned long long)st.logs_suppressed);
	/* a reload builds the vCPU's next state on this thread, not the vCPU's: its load
	 * counts against that state's own bucket, and touches nothing of the vCPU's */
	{
		uint64_t before = st.logs + st.logs_suppressed;
		log_lines = 0;
		if (xg_engine_reload(e, &err))
			bail("reload: %s", err.msg);
		xg_vcpu_stats(v, &st);
		ok(st.logs + st.logs_suppressed == before,
		   "a reload's loads leave the running vCPU's log counters alone");
		ok(log_lines <= 12, "a reload (a check-load and the vCPU's new state): %d lines",
		   log_lines);
		like(last_log, "199995 more log lines of the policy suppressed",
		     "each load says what it dropped");
	}
	log_lines = 0;
	xg_vcpu_detach(v);
	ok(log_lines == 1 && strstr(last_log, "more log lines suppressed"),
	   "detaching reports the count not yet reported: %s", last_log);
	xg_engine_free(e);

	/* a guest whose every exit is a memory kill and whose top level floods: each
	 * rebuild loads it again, through the same vCPU bucket */
	e = engine_with(
	    "local xg = require 'exitgate'\nlocal keep = {}\n"
	    "for i = 1, 1000 do xg.log('rebuilt ' .. i) end\n"
	    "return { io = function(e)\n"
	    "  for i = 1, 1e9 do keep[#keep + 1] = ('x'):rep(1000) .. i end end }\n",
	    "    limits: { memory: 1M, time_ms: 20000 }\n"
	    "    rate_limit: { logs_per_second: 0.001, burst: 5 }\n",
	    &err);
	if (!e)
		bail("%s", err.msg);
	v = attach(e, &f);
	log_lines = 0;
	for (int i = 0; i < 100; i++)
		io(v, 1);
	ok(log_lines <= 6, "100 kills, 100 rebuilds logging 1000 lines each: %d printed",
	   log_lines);
	xg_vcpu_detach(v);
	xg_engine_free(e);
}

int main(void)
{
	memory_kills();
	store_bounds();
	log_floods();
	cleanup_dir();
	return done_testing();
}
