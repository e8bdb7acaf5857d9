/*
 * bench_sandbox.c - the worst wall time (and thread CPU time) of one handler call for each
 * class of hostile policy issue 10 names, against the call's deadline (limits.time_ms,
 * default 5 ms; loading gets 10x). Target: no call over 10x its deadline. Not part of the
 * suite (wall times depend on the machine's load): run build/bench/bench_sandbox [rounds]
 * [exits]. Then the process's resident memory over `exits` (default 10,000) hostile exits,
 * every attack in turn, with the state rebuilt after each memory kill: it must stay flat.
 * The normal path's cost is bench_engine's "trivial Lua policy" line.
 */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitgate.h"

static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local big = ('a'):rep(1024):rep(7 << 10)\n"
    "local mib = ('a'):rep(1024):rep(1 << 10)\n"
    "local chain = {}\n"
    "for i = 1, 1990 do chain = setmetatable({}, { __index = chain }) end\n"
    "local src = ('x = 1 '):rep(10000)\n"
    "local loop = function() while true do end end\n"
    "local t = {\n"
    "  [1] = function() while true do end end,\n"
    "  [2] = function() return setmetatable({}, { __index = loop }) end,\n"
    "  [3] = function() return { verdict = 'dump', ['then'] = setmetatable({}, { __index = loop "
    "}) } end,\n"
    "  [4] = function() local x <close> = setmetatable({}, { __close = loop }) loop() end,\n"
    "  [5] = function() local co = coroutine.wrap(loop) co() end,\n"
    "  [10] = function() for i = 1, 1e9 do big:find('b', 1, true) end end,\n"
    "  [11] = function() for i = 1, 1e9 do utf8.len(big) end end,\n"
    "  [12] = function() return string.rep('', 1 << 62) end,\n"
    "  [13] = function() local s = ('a'):rep(4000) for i = 1, 1e9 do s:find(('a'):rep(2000) .. "
    "'b') end end,\n"
    "  [14] = function() local p = ('('):rep(300) for i = 1, 1e9 do p:find('%b()') end end,\n"
    "  [15] = function() table.move(setmetatable({}, { __index = chain }), 1, (1 << 24) - 1, "
    "1, {}) end,\n"
    "  [16] = function() return table.unpack(setmetatable({}, { __index = chain }), 1, 900000) "
    "end,\n"
    "  [17] = function() for i = 1, 1e9 do load(src) end end,\n"
    "  [18] = function() local o = setmetatable({}, { __index = chain }) while true do local x = "
    "o.missing end end,\n"
    "  [19] = function() for i = 1, 1e9 do local s = big .. 'x' end end,\n"
    "  [20] = function() for i = 1, 1e9 do mib:lower() end end,\n"
    "  [21] = function() for i = 1, 1e9 do local s = mib:sub(2) end end,\n"
    "  [22] = function() local s = ('a'):rep(1000) .. 'x' for i = 1, 1e9 do s:match('a*y') end "
    "end,\n"
    "  [23] = function() for i = 1, 1e9 do string.format('%s', mib) end end,\n"
    "  [24] = function() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end end,\n"
    "}\n"
    "return xg.policy { io = function(e) return t[e.port]() end }\n";

static const struct {
	int port;
	const char *cls, *what;
} attacks[] = {
    {1, "reference", "while true do end"},
    {2, "protection", "verdict __index loops"},
    {3, "protection", "xg.dump 'then' __index loops"},
    {4, "protection", "killed call whose __close loops"},
    {5, "protection", "loop in coroutine.wrap"},
    {10, "C work", "plain find over 7 MiB, loop"},
    {11, "C work", "utf8.len over 7 MiB, loop"},
    {12, "C work", "string.rep('', 1 << 62)"},
    {13, "C work", "2001-byte needle in 4000 bytes, loop"},
    {14, "C work", "%b() over 300 bytes, loop"},
    {15, "C work", "table.move over 1990-deep __index"},
    {16, "C work", "table.unpack over 1990-deep __index"},
    {17, "C work", "load() of 60 KB, loop"},
    {18, "VM work", "t.missing via 1990-deep __index, loop"},
    {19, "VM work", "7 MiB .. 'x', loop"},
    {20, "C work", "string.lower 1 MiB, loop"},
    {21, "C work", "string.sub 1 MiB, loop"},
    {22, "C work", "'a*y' over 1000 bytes, loop"},
    {23, "C work", "string.format %s 1 MiB, loop"},
    {24, "memory", "memory bomb (64M cap)"},
};

static double ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* VmRSS of this process in KiB (/proc/self/status), or -1. */
static long rss_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void io_exit(uint8_t *run, size_t size, int port)
{
	struct kvm_run *kr = (struct kvm_run *)run;

	memset(run, 0, size);
	kr->exit_reason = KVM_EXIT_IO;
	kr->io.port = (uint16_t)port;
	kr->io.size = 1;
	kr->io.count = 1;
	kr->io.data_offset = 1024;
}

static void quiet(void *ud, const char *line)
{
}

static int nop_inject(void *o, unsigned v, int h, uint32_t c)
{
	return 0;
}

static const struct xg_vcpu_ops ops = {.inject_exception = nop_inject};

static const char *put(const char *dir, const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(1);
	}
	return path;
}

static xg_engine *engine(const char *dir, const char *text, struct xg_error *err)
{
	static const char cfg[] = "guests:\n  g:\n    policy: p.lua\n    limits: { memory: 64M }\n";
	xg_config *c;
	xg_engine *e;

	put(dir, "p.lua", text);
	c = xg_config_parse(cfg, sizeof(cfg) - 1, "bench.yaml", dir, err);
	if (!c)
		return NULL;
	e = xg_engine_new(c, err);
	xg_config_free(c);
	if (e)
		xg_engine_set_log(e, quiet, NULL);
	return e;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	long exits = argc > 2 ? atol(argv[2]) : 10000;
	char dir[64] = "/tmp/xg-bench-sandbox-XXXXXX";
	_Alignas(8) uint8_t run[4096];
	struct xg_error err;
	double worst_all = 0;
	xg_engine *e;
	xg_vcpu *v;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	e = engine(dir, policy, &err);
	v = e ? xg_vcpu_attach(e, "g", 0, &ops, NULL, &err) : NULL;
	if (!v) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("deadline 5 ms per call (10x: 50 ms), %d rounds; worst wall and CPU ms of one "
	       "call\n",
	       rounds);
	printf("%-11s %-40s %9s %9s  %s\n", "class", "attack", "wall ms", "cpu ms", "stopped by");
	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		double worst = 0, worst_cpu = 0;
		enum xg_fail f = XG_FAIL_NONE;
		for (int r = 0; r < rounds; r++) {
			double t0 = ns(CLOCK_MONOTONIC), c0 = ns(CLOCK_THREAD_CPUTIME_ID);
			io_exit(run, sizeof(run), attacks[i].port);
			f = xg_handle_exit(v, run, sizeof(run), 0).fail;
			double dt = (ns(CLOCK_MONOTONIC) - t0) / 1e6;
			double dc = (ns(CLOCK_THREAD_CPUTIME_ID) - c0) / 1e6;
			worst = dt > worst ? dt : worst;
			worst_cpu = dc > worst_cpu ? dc : worst_cpu;
		}
		if (attacks[i].port != 24 && worst > worst_all)
			worst_all = worst;
		printf("%-11s %-40s %9.2f %9.2f  %s\n", attacks[i].cls, attacks[i].what, worst,
		       worst_cpu, xg_fail_name(f));
	}
	/* memory: every attack in turn, `exits` times in all, RSS sampled as it goes */
	{
		const size_t na = sizeof(attacks) / sizeof(attacks[0]);
		long first = 0, peak = 0, now = 0, fails = 0;
		double t0 = ns(CLOCK_MONOTONIC);
		printf("RSS over %ld hostile exits (every attack in turn; KiB):", exits);
		for (long n = 0; n < exits; n++) {
			io_exit(run, sizeof(run), attacks[n % na].port);
			fails += xg_handle_exit(v, run, sizeof(run), 0).fail != XG_FAIL_NONE;
			if ((n + 1) % (exits / 10 ? exits / 10 : 1) == 0) {
				now = rss_kib();
				if (!first)
					first = now;
				peak = now > peak ? now : peak;
				printf(" %ld", now);
				fflush(stdout);
			}
		}
		printf(
		    "\nRSS after %ld hostile exits (%ld answered by on_error) in %.0f s: %ld KiB; "
		    "after the first tenth %ld KiB, highest %ld KiB: growth %+ld KiB\n",
		    exits, fails, (ns(CLOCK_MONOTONIC) - t0) / 1e9, now, first, peak, now - first);
	}
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* loading: each hostile top level, deadline 50 ms */
	static const char *const tops[] = {
	    "local s = ('a'):rep(1024):rep(1024) for i = 1, 1e9 do utf8.len(s) end",
	    "local src = ('x = 1 '):rep(10000) for i = 1, 1e9 do load(src) end",
	    /* one string in two lines (the parentheses say so to clang's -Wstring-concatenation) */
	    ("local c = {} for i = 1, 1990 do c = setmetatable({}, { __index = c }) end\n"
	     "local o = setmetatable({}, { __index = c }) while true do local x = o.missing end"),
	    "while true do end",
	};
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		char text[512];
		double worst = 0;
		snprintf(text, sizeof(text), "%s\nreturn {}\n", tops[i]);
		for (int r = 0; r < rounds; r++) {
			double t0 = ns(CLOCK_MONOTONIC);
			e = engine(dir, text, &err);
			double dt = (ns(CLOCK_MONOTONIC) - t0) / 1e6;
			xg_engine_free(e);
			worst = dt > worst ? dt : worst;
		}
		printf("%-11s load: %-34.34s %9.2f %9s  %.60s\n", "loading", tops[i], worst, "-",
		       strstr(err.msg, "limit") ? strstr(err.msg, "time") ? "time_limit"
						  : strstr(err.msg, "instruction")
						      ? "instruction_limit"
						      : "memory_limit"
						: err.msg);
	}
	printf("worst call (not loading, not the memory bomb): %.2f ms = %.1fx the deadline\n",
	       worst_all, worst_all / 5);
	put(dir, "p.lua", "");
	unlink(put(dir, "p.lua", ""));
	rmdir(dir);
	return 0;
}
