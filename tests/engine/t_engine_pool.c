/*
 * t_engine_pool.c - the bases a reload loads its policies into (engine.c pool_fill,
 * sandbox.c xg_lstate_base): made ahead, one per vCPU, so that a reload makes only the
 * policy's part while the vCPUs wait. What must hold:
 * - the pool holds a base per attached vCPU, after attaches (and one that failed), after a
 *   reload (good or failed) and after detaches;
 * - a base is used once: what a policy changed in the module and the libraries as it loaded
 *   (xg.exceptions, xg.hex, string.rep) is not there for the next policy;
 * - a state from a base is its vCPU's and its guest's (xg.vcpu_index, xg.guest), and has
 *   the reloaded configuration's params and limits, not those the base was made under.
 */
#include "engine/engine_int.h"
#include "engine_test.h"

enum { NG = 6, NH = 2 };

static xg_vcpu *vs[NG + NH];
static struct fake fs[NG + NH];

/* an `out` on vCPU k: the vector injected and its error code (-1: none) */
static int probe(int k, int *code)
{
	struct run r;

	run_io(&r, 0x80, 1);
	fs[k].vector = -1;
	fs[k].has_code = 0;
	xg_handle_exit(vs[k], r.b, sizeof(r.b), 0);
	*code = fs[k].has_code ? (int)fs[k].code : -1;
	return fs[k].vector;
}

/* every vCPU answers vector vec with code k's want(k) */
static int all_answer(int vec, int (*want)(int k), char *why, size_t n)
{
	for (int k = 0; k < NG + NH; k++) {
		int code, v = probe(k, &code);
		if (v != vec || code != want(k)) {
			snprintf(why, n, "vCPU %d of %s: vector %d code %d, want %d code %d",
				 k < NG ? k : k - NG, k < NG ? "g" : "h", v, code, vec, want(k));
			return 0;
		}
	}
	snprintf(why, n, "all %d", NG + NH);
	return 1;
}

static int own_index(int k)
{
	return k < NG ? k : 100 + k - NG;
}

static int param_n;
static int the_param(int k)
{
	(void)k;
	return param_n;
}

static int no_code(int k)
{
	(void)k;
	return -1;
}

static const char *config(int n, const char *memory)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "guests:\n"
		 "  g:\n    policy: p.lua\n    params: { n: %d }\n    limits: { memory: %s }\n"
		 "  h:\n    policy: p.lua\n    params: { n: %d }\n    limits: { memory: %s }\n",
		 n, memory, n, memory);
	return put_file("pool.yaml", text);
}

int main(void)
{
	struct xg_error err = {{0}};
	xg_config *cfg;
	xg_engine *e;
	char why[256];

	put_file("p.lua", "local xg = require 'exitgate'\n"
			  "return xg.policy { io = function() return xg.inject('GP', 0) end }\n");
	cfg = xg_config_load(config(1, "4M"), &err);
	e = cfg ? xg_engine_new(cfg, &err) : NULL;
	if (!e)
		bail("%s", err.msg);
	xg_engine_set_log(e, test_log, NULL);
	is_int((int)e->pool_n, 0, "a new engine, no vCPU: no base made ahead");
	for (int k = 0; k < NG + NH; k++)
		if (!(vs[k] = xg_vcpu_attach(e, k < NG ? "g" : "h", k < NG ? k : k - NG, &fake_ops,
					     &fs[k], &err)))
			bail("%s", err.msg);
	is_int((int)e->pool_n, NG + NH, "one per vCPU once %d are attached", NG + NH);

	/* each vCPU's and guest's own names, in states loaded into bases made before */
	put_file("p.lua", "local xg = require 'exitgate'\n"
			  "local code = xg.vcpu_index + (xg.guest == 'h' and 100 or 0)\n"
			  "return xg.policy { io = function() return xg.inject('GP', code) end }\n");
	ok(xg_engine_reload(e, &err) == 0, "reload (%s)", err.msg);
	ok(all_answer(13, own_index, why, sizeof(why)),
	   "after a reload from the pool, every state has its own vCPU index and guest (%s)",
	   why);
	is_int((int)e->pool_n, NG + NH, "the reload made the bases it used again");

	/* a base is used once: a policy that changes the module and the libraries as it loads,
	 * then one that finds them as they were, four times over */
	for (int round = 0; round < 4; round++) {
		int good = 1;
		put_file("p.lua", "local xg = require 'exitgate'\n"
				  "xg.exceptions.UD = 99\n"
				  "xg.hex = nil\n"
				  "string.rep = nil\n"
				  "return xg.policy { io = function() return xg.inject 'NM' end }\n");
		good &= xg_engine_reload(e, &err) == 0 && all_answer(7, no_code, why, sizeof(why));
		put_file("p.lua", "local xg = require 'exitgate'\n"
				  "local clean = xg.exceptions.UD == 6 and xg.hex and string.rep\n"
				  "return xg.policy { io = function()\n"
				  "  return xg.inject(clean and 'UD' or 'BR') end }\n");
		good &= xg_engine_reload(e, &err) == 0 && all_answer(6, no_code, why, sizeof(why));
		if (!good || round == 3)
			ok(good,
			   "a policy's changes to xg and string at load do not reach the next "
			   "policy (round %d of 4: %s %s)",
			   round, why, err.msg);
		if (!good)
			break;
	}

	/* the reloaded configuration's params and limits, not the base's */
	put_file("p.lua", "local xg = require 'exitgate'\n"
			  "local keep = ('x'):rep(1024 * 1024)\n"
			  "return xg.policy { io = function() return xg.inject('GP', xg.params.n) end }\n");
	param_n = 1;
	ok(xg_engine_reload(e, &err) == 0 && all_answer(13, the_param, why, sizeof(why)),
	   "params n = 1, a 1 MiB string kept under a 4M limit (%s %s)", why, err.msg);
	config(2, "4M");
	param_n = 2;
	ok(xg_engine_reload(e, &err) == 0 && all_answer(13, the_param, why, sizeof(why)),
	   "the configuration rewritten with n = 2: every state has the new params (%s %s)", why,
	   err.msg);
	config(3, "1M");
	ok(xg_engine_reload(e, &err) != 0 && strstr(err.msg, "memory"),
	   "... rewritten with limits.memory 1M: the 1 MiB string fails the reload (%s)",
	   err.msg);
	ok(all_answer(13, the_param, why, sizeof(why)), "... and n = 2 keeps serving (%s)", why);
	is_int((int)e->pool_n, NG + NH, "after the failed reload the pool is whole again");

	for (int k = 0; k < 3; k++)
		xg_vcpu_detach(vs[k]);
	is_int((int)e->pool_n, NG + NH - 3, "3 vCPUs detached: their bases are closed");
	/* an attach whose policy fails to load leaves the pool as it was */
	put_file("p.lua", "error('not today')\n");
	ok(!xg_vcpu_attach(e, "g", 9, &fake_ops, &fs[0], &err) &&
	       e->pool_n == NG + NH - 3,
	   "an attach that fails: the pool still holds one per vCPU (%zu; %s)", e->pool_n,
	   err.msg);
	for (int k = 3; k < NG + NH; k++)
		xg_vcpu_detach(vs[k]);
	xg_engine_free(e);
	xg_config_free(cfg);
	cleanup_dir();
	return done_testing();
}
