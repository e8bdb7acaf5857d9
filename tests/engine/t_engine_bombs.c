/*
 * t_engine_bombs.c - configurations written to kill or bloat the VMM (issue 9, section 2):
 * alias cycles, nesting deeper than the C and Lua stacks, alias amplification (7 levels of 9
 * aliases: 390 bytes standing for 4.8 million nodes), and one big params tree inherited by
 * many guests. Over a limit (config.h: XG_CONFIG_MAX_DEPTH, _NODES, _BYTES) the config is
 * refused with file:line:column and the limit in words, in bounded memory and time; under
 * them it reaches the policy intact. A reload onto a bomb fails and the old policy stays.
 *
 * Each case runs in a child process, so a crash is one failed test naming its signal, and
 * the memory a case takes is measured alone (getrusage ru_maxrss in the child, before and
 * after).
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "config/config.h"
#include "engine_test.h"

#define MAX_GROWTH_KB (64 << 10) /* what a refused (or shared) config may cost: 64 MiB */
#define MAX_SECONDS   10.0	 /* generous: a refusal takes milliseconds */

struct outcome {
	int loaded;    /* the config parsed */
	int engine;    /* and an engine with a vCPU of guest g was built from it */
	char msg[600]; /* the error */
	long grew_kb;  /* peak RSS growth */
	double secs;
	int sig; /* the child died of this signal */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Parse yaml (as bomb.yaml in the test directory) and, when with_engine, build an engine and
 * attach a vCPU of guest g (which pushes params into its Lua state), in a child. */
static struct outcome try_config(const char *yaml, int with_engine)
{
	struct outcome o = {0};
	int fd[2], st;
	pid_t pid;

	tdir();
	if (pipe(fd))
		bail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		struct xg_error err = {{0}};
		long rss0 = maxrss_kb();
		double t0 = now_s();
		xg_config *c;

		close(fd[0]);
		alarm(60); /* a hang is a failure too (SIGALRM) */
		c = xg_config_parse(yaml, strlen(yaml), "bomb.yaml", tdir(), &err);
		o.loaded = c != NULL;
		if (c && with_engine) {
			xg_engine *e = xg_engine_new(c, &err);
			xg_vcpu *v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, NULL, &err) : NULL;
			o.engine = v != NULL;
			xg_vcpu_detach(v);
			xg_engine_free(e);
		}
		xg_config_free(c);
		o.secs = now_s() - t0;
		o.grew_kb = maxrss_kb() - rss0;
		snprintf(o.msg, sizeof(o.msg), "%s", err.msg);
		if (write(fd[1], &o, sizeof(o)) != (ssize_t)sizeof(o))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &o, sizeof(o)) != (ssize_t)sizeof(o))
		memset(&o, 0, sizeof(o));
	close(fd[0]);
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st)) {
		o.sig = WTERMSIG(st);
		snprintf(o.msg, sizeof(o.msg), "the child was killed by signal %d (%s)", o.sig,
			 strsignal(o.sig));
	}
	return o;
}

/* yaml is refused with a message containing want, within the memory and time bounds. */
static void refused(const char *yaml, const char *want, const char *what)
{
	struct outcome o = try_config(yaml, 1);

	ok(!o.sig && !o.loaded && strstr(o.msg, want), "%s: refused (%s)", what, o.msg);
	ok(!o.sig && o.grew_kb < MAX_GROWTH_KB && o.secs < MAX_SECONDS,
	   "%s: in bounded memory and time (RSS +%ld KiB, %.3f s)", what, o.grew_kb, o.secs);
}

static const char head[] = "guests:\n  g:\n    policy: p.lua\n";

/* The params line: brackets levels deep around the scalar 1. */
static char *nested(int levels, const char *open, const char *close)
{
	size_t n = strlen(head) + 32 + (size_t)levels * (strlen(open) + strlen(close));
	char *s = malloc(n), *p;

	if (!s)
		bail("out of memory");
	p = s + sprintf(s, "%s    params: ", head);
	for (int i = 0; i < levels; i++)
		p += sprintf(p, "%s", open);
	p += sprintf(p, "1");
	for (int i = 0; i < levels; i++)
		p += sprintf(p, "%s", close);
	sprintf(p, "\n");
	return s;
}

static void cycles(void)
{
	refused("guests:\n  g:\n    policy: p.lua\n    params: &a [ *a ]\n",
		"bomb.yaml:4:18: alias *a refers to itself (a cycle): the node anchored &a at "
		"4:13 contains this alias",
		"params: &a [ *a ] (the issue's cycle)");
	refused("guests:\n  g:\n    policy: p.lua\n    params: &a { x: [1, { y: *a }] }\n",
		"bomb.yaml:4:30: alias *a refers to a node around it (a cycle)",
		"a cycle through two levels of params");
	refused("defaults: &d\n  params: *d\nguests:\n  g:\n    policy: p.lua\n",
		"bomb.yaml:2:11: alias *d refers to itself (a cycle): the node anchored &d at 1:11",
		"defaults whose params are the defaults themselves");
	refused("guests: &g\n  g:\n    policy: p.lua\n    params: { all: *g }\n",
		"bomb.yaml:4:20: alias *g refers to a node around it", "params holding the guests");
}

static void depth(void)
{
	/* params levels + 3 (the top level, guests:, g:) is the config's depth */
	static const char pol[] =
	    "local xg = require 'exitgate'\n"
	    "local t, d = xg.params, 0\n"
	    "while type(t) == 'table' do d = d + 1; t = t[1] or t.k end\n"
	    "assert(d == %d and t == 1, 'params ' .. d .. ' deep, ending in ' .. tostring(t))\n"
	    "return xg.policy { default = function() return xg.resume() end }\n";
	char polt[sizeof(pol) + 16];
	struct outcome o;
	char *y;

	snprintf(polt, sizeof(polt), pol, 60);
	put_file("p.lua", polt);
	y = nested(60, "[", "]");
	o = try_config(y, 1);
	ok(o.engine, "params 60 lists deep reach the policy intact (%s)", o.sig ? o.msg : "ok");
	free(y);
	y = nested(60, "{k: ", "}");
	o = try_config(y, 1);
	ok(o.engine, "params 60 mappings deep reach the policy intact (%s)",
	   o.sig      ? o.msg
	   : o.msg[0] ? o.msg
		      : "ok");
	free(y);

	snprintf(polt, sizeof(polt), pol, XG_CONFIG_MAX_DEPTH - 3);
	put_file("p.lua", polt);
	y = nested(XG_CONFIG_MAX_DEPTH - 3, "[", "]");
	o = try_config(y, 1);
	ok(o.engine, "params %d deep, the config %d deep (the limit), load (%s)",
	   XG_CONFIG_MAX_DEPTH - 3, XG_CONFIG_MAX_DEPTH,
	   o.sig      ? o.msg
	   : o.msg[0] ? o.msg
		      : "ok");
	free(y);
	put_file("p.lua", "local xg = require 'exitgate'\n"
			  "return xg.policy { default = function() return xg.resume() end }\n");
	y = nested(XG_CONFIG_MAX_DEPTH - 2, "[", "]");
	refused(y, "bomb.yaml:4:74: nesting deeper than 64 levels", "one level over the limit");
	free(y);
	y = nested(100, "[", "]");
	refused(y, "bomb.yaml:4:74: nesting deeper than 64 levels of lists and mappings",
		"params 100 deep");
	free(y);
	y = nested(10000, "[", "]");
	refused(y, "bomb.yaml:4:74: nesting deeper than 64 levels", "params 10000 deep");
	free(y);
	/* block sequences: "- - - ... 1" is a list in a list in a list */
	y = malloc(strlen(head) + 32 + 2 * 10000);
	if (!y)
		bail("out of memory");
	{
		char *p = y + sprintf(y, "%s    params:\n      ", head);
		for (int i = 0; i < 10000; i++)
			p += sprintf(p, "- ");
		sprintf(p, "1\n");
	}
	refused(y, "bomb.yaml:5:", "params 10000 block sequences deep: the line");
	like(try_config(y, 0).msg, "nesting deeper than 64 levels", "... and the limit");
	free(y);

	/* 40 levels under the anchor, used under 34 (top, guests, g, params, 30 lists): 74 */
	{
		char buf[1024], *p = buf;
		p += sprintf(p, "%s    params:\n      a: &a ", head);
		for (int i = 0; i < 40; i++)
			*p++ = '[';
		*p++ = '1';
		for (int i = 0; i < 40; i++)
			*p++ = ']';
		p += sprintf(p, "\n      b: ");
		for (int i = 0; i < 30; i++)
			*p++ = '[';
		p += sprintf(p, "*a");
		for (int i = 0; i < 30; i++)
			*p++ = ']';
		sprintf(p, "\n");
		refused(buf, "bomb.yaml:6:40: alias *a nests 74 levels deep here, over the limit",
			"an alias that nests deeper than the limit once expanded");
	}
}

static void amplification(void)
{
	char *y = malloc(200000 + 4 * 9 * 70000), *p;
	struct outcome o;

	if (!y)
		bail("out of memory");
	/* the bomb: 7 levels of 9 aliases over an 8-byte string */
	p = y + sprintf(y, "%s    params:\n      l0: &a0 \"xxxxxxxx\"\n", head);
	for (int l = 1; l <= 7; l++) {
		p += sprintf(p, "      l%d: &a%d [", l, l);
		for (int i = 0; i < 9; i++)
			p += sprintf(p, "%s*a%d", i ? "," : "", l - 1);
		p += sprintf(p, "]\n");
	}
	refused(y, "bomb.yaml:11:16: alias *a5 expands the configuration past 100000 nodes",
		"7 levels of 9 aliases (4.8 million nodes)");

	/* few nodes, much text: 64 KiB repeated 81 times */
	p = y + sprintf(y, "%s    params:\n      s: &s \"", head);
	memset(p, 'x', 64 << 10);
	p += 64 << 10;
	p += sprintf(p, "\"\n      l1: &l1 [*s,*s,*s,*s,*s,*s,*s,*s,*s]\n"
			"      l2: [*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1]\n");
	refused(y, "past 4 MiB of text", "64 KiB repeated 81 times by aliases (5 MiB)");

	/* no aliases, only many nodes */
	p = y + sprintf(y, "%s    params: [0", head);
	for (int i = 1; i <= XG_CONFIG_MAX_NODES; i++)
		p += sprintf(p, ",%d", i & 7);
	sprintf(p, "]\n");
	refused(y, "more than 100000 nodes", "a list of 100001 numbers");

	/* one big params tree in defaults, inherited by 100 guests: shared, not copied */
	p = y + sprintf(y, "defaults:\n  policy: p.lua\n  params: [0");
	for (int i = 1; i < 20000; i++)
		p += sprintf(p, ",%d", i & 7);
	p += sprintf(p, "]\nguests:\n");
	for (int i = 0; i < 100; i++)
		p += sprintf(p, "  g%d: {}\n", i);
	o = try_config(y, 0);
	ok(o.loaded && o.grew_kb < MAX_GROWTH_KB,
	   "20000 params in defaults, inherited by 100 guests: loads in RSS +%ld KiB (one "
	   "copy: 2 million nodes took 190 MB; %s)",
	   o.grew_kb, o.sig || !o.loaded ? o.msg : "ok");
	free(y);
}

/* Anchors: libyaml's loader is quadratic in their number (45000 took 33 s). 1000 anchors
 * and 90000 aliases to them load; anchor 1001 is refused. */
static void anchors(int n, int aliases)
{
	size_t cap = strlen(head) + 64 + (size_t)n * 32 + (size_t)aliases * 12;
	char *y = malloc(cap), *p;

	if (!y)
		bail("out of memory");
	p = y + sprintf(y, "%s    params:\n      a: [", head);
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%s&x%d %d", i ? "," : "", i, i);
	p += sprintf(p, "]\n      b: [");
	for (int i = 0; i < aliases; i++)
		p += sprintf(p, "%s*x%d", i ? "," : "", i % n);
	sprintf(p, "]\n");
	if (n <= XG_CONFIG_MAX_ANCHORS) {
		struct outcome o = try_config(y, 0);
		ok(o.loaded && o.secs < MAX_SECONDS,
		   "%d anchors and %d aliases load in %.3f s (%s)", n, aliases, o.secs,
		   o.loaded ? "ok" : o.msg);
	} else {
		char what[80];
		snprintf(what, sizeof(what), "%d anchors", n);
		refused(y, "bomb.yaml:5:", what);
		like(try_config(y, 0).msg, "anchor &x1000: more than 1000 anchors, the limit",
		     "... naming the anchor and the limit");
	}
	free(y);
}

/* Params within the config's limits but more than the guest's Lua memory limit. */
static void params_over_memory(void)
{
	char *y = malloc(64 << 10), *p;
	struct outcome o;

	if (!y)
		bail("out of memory");
	p = y + sprintf(y, "%s    limits: { memory: 256K }\n    params: [0", head);
	for (int i = 1; i < 20000; i++)
		p += sprintf(p, ",%d", i & 7);
	sprintf(p, "]\n");
	o = try_config(y, 1);
	ok(o.loaded && !o.engine && strstr(o.msg, "guest 'g': params take ") &&
	       strstr(o.msg, "over limits.memory (256 KiB)"),
	   "20000 params under a 256K memory limit: the policy state says params are over "
	   "limits.memory (%s)",
	   o.msg);
	free(y);
}

/* A config file over XG_CONFIG_MAX_FILE is refused, and not read whole: a sparse file (zeros
 * cost no disk) of the limit and a byte, and one of 256 MiB whose reading would show. */
static void big_file(void)
{
	static const off_t sizes[] = {(off_t)XG_CONFIG_MAX_FILE + 1, (off_t)256 << 20};

	for (int i = 0; i < 2; i++) {
		struct xg_error err = {{0}};
		const char *path = put_file("big.yaml", "guests: {}\n");
		long rss0 = maxrss_kb();
		xg_config *c;

		if (truncate(path, sizes[i]))
			bail("truncate %s: %s", path, strerror(errno));
		c = xg_config_load(path, &err);
		ok(!c && strstr(err.msg, "big.yaml: larger than 16 MiB, the limit for a "
					 "configuration"),
		   "a config file of %lld bytes is refused (%s)", (long long)sizes[i], err.msg);
		ok(maxrss_kb() - rss0 < 128 << 10,
		   "... reading no more than the limit (RSS +%ld KiB, < 128 MiB)",
		   maxrss_kb() - rss0);
		xg_config_free(c);
		unlink(path);
	}
}

/* A running engine reloading onto a bomb: the reload fails, the old policy answers. */
static void reload(void)
{
	struct xg_error err = {{0}};
	const char *path;
	struct fake f = {0};
	struct run r;
	xg_config *c;
	xg_engine *e;
	xg_vcpu *v;
	int rc;

	put_file("ud.lua", "local xg = require 'exitgate'\n"
			   "return xg.policy { io = function(e) return xg.inject 'UD' end }\n");
	path = put_file("reload.yaml", "guests:\n  g:\n    policy: ud.lua\n");
	c = xg_config_load(path, &err);
	e = c ? xg_engine_new(c, &err) : NULL;
	v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err) : NULL;
	if (!v)
		bail("%s", err.msg);
	xg_engine_set_log(e, test_log, NULL);
	put_file("reload.yaml", "guests:\n  g:\n    policy: ud.lua\n    params: &a [ *a ]\n");
	rc = xg_engine_reload(e, &err);
	ok(rc < 0 && strstr(err.msg, "reload.yaml:4:18: alias *a refers to itself"),
	   "a reload onto a cycle fails with the reason (%s)", err.msg);
	run_io(&r, 0x80, 1);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(f.injected == 1 && f.vector == 6, "the old policy still answers (#UD injected)");
	xg_vcpu_detach(v);
	xg_engine_free(e);
	xg_config_free(c);
}

/* Files that are not files: a policy or a config naming a FIFO (opening it waited for a
 * writer: `run`, `check` and a reload hung), /dev/zero (read until memory ran out), a
 * directory, and a policy over 16 MiB. Each is refused by what it is, in a child with an
 * alarm, in bounded memory. */
static void not_files(void)
{
	static const struct {
		const char *policy, *want;
	} cases[] = {
	    {"fifo.lua", "fifo.lua' of guest 'g': a FIFO (a named pipe), not a file"},
	    {"/dev/zero", "/dev/zero' of guest 'g': a character device, not a file"},
	    {"adir.lua", "adir.lua' of guest 'g': a directory, not a file"},
	    {"huge.lua", "huge.lua: larger than 16 MiB, the limit for a policy"},
	};
	char path[600];

	snprintf(path, sizeof(path), "%s/fifo.lua", tdir());
	unlink(path);
	if (mkfifo(path, 0600))
		bail("mkfifo %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/adir.lua", tdir());
	mkdir(path, 0700);
	if (truncate(put_file("huge.lua", "-- big\n"), (off_t)XG_POLICY_MAX_FILE + 1))
		bail("truncate: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[700];
		struct outcome o;

		snprintf(yaml, sizeof(yaml), "guests:\n  g:\n    policy: %s\n", cases[i].policy);
		o = try_config(yaml, 1);
		ok(!o.sig && !o.engine && strstr(o.msg, cases[i].want),
		   "a policy that is %s: refused (%s)", cases[i].policy, o.msg);
		ok(!o.sig && o.grew_kb < MAX_GROWTH_KB && o.secs < MAX_SECONDS,
		   "... in bounded memory and time (RSS +%ld KiB, %.3f s)", o.grew_kb, o.secs);
	}
	{
		struct xg_error err = {{0}};
		pid_t pid;
		int st;

		snprintf(path, sizeof(path), "%s/fifo.lua", tdir());
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			xg_config *c;
			alarm(20);
			c = xg_config_load(path, &err);
			_exit(!c && strstr(err.msg, "is a FIFO (a named pipe), not a file") ? 0 : 1);
		}
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "a config that is a FIFO: refused, not waited on (status %#x)", st);
	}
	snprintf(path, sizeof(path), "%s/fifo.lua", tdir());
	unlink(path);
	snprintf(path, sizeof(path), "%s/adir.lua", tdir());
	rmdir(path);
	snprintf(path, sizeof(path), "%s/huge.lua", tdir());
	unlink(path);
}

int main(void)
{
	put_file("p.lua", "local xg = require 'exitgate'\n"
			  "return xg.policy { default = function() return xg.resume() end }\n");
	cycles();
	depth();
	amplification();
	anchors(XG_CONFIG_MAX_ANCHORS, 90000);
	anchors(45000, 0);
	params_over_memory();
	big_file();
	{
		struct outcome o =
		    try_config("guests:\n  g:\n    policy: p.lua\n    params: *x\n", 1);
		ok(!o.sig && !o.loaded && strstr(o.msg, "bomb.yaml:4:") &&
		       strstr(o.msg, "undefined alias"),
		   "an undefined alias: the YAML error, with the line (%s)", o.msg);
		o = try_config("guests:\n  g:\n    policy: p.lua\n    params: [&x 1, &x 2]\n", 1);
		ok(!o.sig && !o.loaded && strstr(o.msg, "duplicate anchor"),
		   "a duplicate anchor: the YAML error (%s)", o.msg);
	}
	reload();
	not_files();
	cleanup_dir();
	return done_testing();
}
