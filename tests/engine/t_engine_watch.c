/*
 * t_engine_watch.c - how --watch (xg_engine_watch) times its reloads: a policy renamed over
 * the watched name is complete at once (rename(2) is atomic; IN_MOVED_TO) and is reloaded
 * with no quiet period; writes in place (IN_CLOSE_WRITE) may come in bursts and are folded
 * into one reload after the quiet period (XG_WATCH_SETTLE_MS). The quiet period is made long
 * here so that nothing depends on the machine's speed: what must not happen within it
 * cannot, and what must happen is waited for (up to 20 s).
 */
#include <stdlib.h>

#include "engine_test.h"

static const char pol_ud[] = "local xg = require 'exitgate'\n"
			     "return xg.policy { io = function(e) return xg.inject 'UD' end }\n";
static const char pol_gp[] =
    "local xg = require 'exitgate'\n"
    "return xg.policy { io = function(e) return xg.inject('GP', 0) end }\n";

/* Write the policy the way editors save: a new file renamed over the old one. */
static void save(const char *name, const char *text)
{
	char tmp[600], dst[600];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", tdir(), name);
	snprintf(dst, sizeof(dst), "%s/%s", tdir(), name);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) || rename(tmp, dst))
		bail("cannot save %s", dst);
}

/* Handle one io exit on v; the vector injected. */
static int probe(xg_vcpu *v, struct fake *f)
{
	struct run r;

	run_io(&r, 0x80, 1);
	f->vector = -1;
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	return f->vector;
}

static uint64_t reloads(xg_engine *e)
{
	struct xg_stats st;

	xg_engine_stats(e, &st);
	return st.reloads;
}

/* Until e has reloaded `n` times, for up to 20 s; whether it did. */
static int wait_reloads(xg_engine *e, uint64_t n)
{
	for (int i = 0; i < 2000 && reloads(e) < n; i++)
		usleep(10000);
	return reloads(e) >= n;
}

int main(void)
{
	struct xg_error err;
	struct fake f = {0};
	xg_engine *e;
	xg_vcpu *v;

	/* a quiet period that is not a number of milliseconds is refused, saying why */
	e = engine_with(pol_ud, NULL, &err);
	if (!e)
		bail("%s", err.msg);
	setenv("XG_WATCH_SETTLE_MS", "10ms", 1);
	ok(xg_engine_watch(e, 0, &err) == -1, "XG_WATCH_SETTLE_MS=10ms is refused");
	like(err.msg, "XG_WATCH_SETTLE_MS='10ms': want whole milliseconds, 0 to 60000",
	     "with a message: %s", err.msg);
	setenv("XG_WATCH_SETTLE_MS", "60001", 1);
	ok(xg_engine_watch(e, 0, &err) == -1, "and so is one over a minute: %s", err.msg);
	xg_engine_free(e);

	/* a minute's quiet period: an in-place write waits for it, a rename does not */
	setenv("XG_WATCH_SETTLE_MS", "60000", 1);
	e = engine_with(pol_ud, NULL, &err);
	v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err) : NULL;
	if (!v)
		bail("%s", err.msg);
	ok(xg_engine_watch(e, 0, &err) == 0, "watching with XG_WATCH_SETTLE_MS=60000");
	put_file("p.lua", pol_gp);
	usleep(500000);
	ok(reloads(e) == 0 && probe(v, &f) == 6,
	   "a policy written in place is not reloaded within its quiet period (%llu reloads)",
	   (unsigned long long)reloads(e));
	save("p.lua", pol_gp);
	ok(wait_reloads(e, 1), "a policy renamed into place is reloaded with no quiet period");
	ok(probe(v, &f) == 13, "and serves at the next exit (#GP)");
	save("p.lua", pol_ud);
	{
		int got = wait_reloads(e, 2) && probe(v, &f) == 6;
		ok(got, "a second rename too (%llu reloads)", (unsigned long long)reloads(e));
	}
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* a burst of in-place writes is one reload, after the last of them */
	setenv("XG_WATCH_SETTLE_MS", "2000", 1);
	e = engine_with(pol_ud, NULL, &err);
	v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err) : NULL;
	if (!v)
		bail("%s", err.msg);
	ok(xg_engine_watch(e, 0, &err) == 0, "watching with XG_WATCH_SETTLE_MS=2000");
	for (int i = 0; i < 40; i++)
		put_file("p.lua", i % 2 ? pol_gp : pol_ud);
	ok(wait_reloads(e, 1), "40 writes in place are reloaded");
	usleep(2500000); /* longer than the quiet period: a second reload would have come */
	ok(reloads(e) == 1, "once (%llu reloads)", (unsigned long long)reloads(e));
	ok(probe(v, &f) == 13, "with the last write's policy (#GP)");
	xg_vcpu_detach(v);
	xg_engine_free(e);
	unsetenv("XG_WATCH_SETTLE_MS");
	cleanup_dir();
	return done_testing();
}
