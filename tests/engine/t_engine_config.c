/*
 * t_engine_config.c - the YAML configuration: defaults and per-guest overrides, params
 * reaching the policy with their types, and every error naming file, line and key.
 */
#include "config/config.h"
#include "engine_test.h"

static void bad(const char *yaml, const char *want, const char *what)
{
	struct xg_error err = {{0}};
	xg_config *c = xg_config_parse(yaml, strlen(yaml), "bad.yaml", tdir(), &err);

	ok(c == NULL && strstr(err.msg, want) != NULL, "%s: %s", what, err.msg);
	xg_config_free(c);
}

int main(void)
{
	struct xg_error err;
	const struct xg_guest_cfg *g;
	xg_config *c;
	const char *path;

	put_file("p.lua",
		 "local xg = require 'exitgate'\n"
		 "local p = xg.params\n"
		 "assert(p.n == 42 and math.type(p.n) == 'integer', 'n')\n"
		 "assert(p.f == 1.5 and p.yes == true and p.no == false, 'f/yes/no')\n"
		 "assert(p.s == '42' and p.list[2] == 'b' and p.map.k == 'v', 's/list/map')\n"
		 "assert(xg.guest == 'web', 'guest')\n"
		 "return xg.policy { default = function() return xg.resume() end }\n");
	put_file("q.lua",
		 "return { default = function() return require('exitgate').stop() end }\n");
	path = put_file("c.yaml", "# a configuration\n"
				  "defaults:\n"
				  "  limits: { instructions: 5000, memory: 2M }\n"
				  "  on_error: dump suspend\n"
				  "  rate_limit: { logs_per_second: 2, burst: 4 }\n"
				  "guests:\n"
				  "  web:\n"
				  "    policy: p.lua\n"
				  "    params: { n: 42, f: 1.5, yes: true, no: false, s: '42', "
				  "list: [a, b], map: { k: v } }\n"
				  "  db:\n"
				  "    policy: q.lua\n"
				  "    limits: { instructions: 7 }\n"
				  "    on_error: stop\n"
				  "    dump_dir: /tmp/dumps\n");
	c = xg_config_load(path, &err);
	if (!ok(c != NULL, "a configuration with defaults and two guests loads"))
		bail("%s", err.msg);
	is_int((long long)xg_config_guests(c), 2, "two guests");
	g = xg_config_guest(c, "web");
	ok(g && g->instructions == 5000 && g->memory == 2u << 20 &&
	       !strcmp(g->on_error, "dump suspend") && g->logs_per_second == 2 && g->burst == 4,
	   "web inherits the defaults (limits with a size suffix, on_error, rate_limit)");
	like(g ? g->policy : "", "/p.lua", "policy path resolved against the config's directory");
	g = xg_config_guest(c, "db");
	ok(g && g->instructions == 7 && g->memory == 2u << 20 && !strcmp(g->on_error, "stop") &&
	       !strcmp(g->dump_dir, "/tmp/dumps"),
	   "db overrides one limit and keeps the other");
	{
		xg_engine *e = xg_engine_new(c, &err);
		ok(e != NULL,
		   "an engine from it: params reach the policy as integer, float, booleans, "
		   "string, list, map%s%s",
		   e ? "" : ": ", e ? "" : err.msg);
		xg_engine_free(e);
	}
	xg_config_free(c);

	bad("guests:\n  web:\n    policy: p.lua\n    polcy: x\n",
	    "bad.yaml:4: unknown key 'polcy' in guest 'web'",
	    "an unknown key names file, line and key");
	bad("guest:\n  web: {}\n", "bad.yaml:1: unknown top-level key 'guest'",
	    "an unknown top-level key");
	bad("guests:\n  web:\n    policy: p.lua\n    limits:\n      instructions: lots\n",
	    "bad.yaml:5: 'instructions' must be a non-negative number, not 'lots'", "a wrong type");
	bad("guests:\n  web:\n    policy: p.lua\n    limits: { memory: 16X }\n",
	    "unknown size suffix in '16X'", "an unknown size suffix");
	bad("guests:\n  web:\n    policy: p.lua\n    limits: { memory: 1K }\n", "at least 256K",
	    "a memory limit too small for Lua");
	bad("guests:\n  web:\n    policy: p.lua\n    limits: { cpu: 1 }\n",
	    "unknown key 'cpu' in 'limits' (known: instructions, memory)", "an unknown limit");
	bad("guests:\n  web:\n    policy: missing.lua\n", "bad.yaml:3: policy '",
	    "a missing policy file");
	bad("guests:\n  web:\n    policy: missing.lua\n", "No such file or directory",
	    "... says why");
	bad("guests:\n  web:\n    params: {}\n", "bad.yaml:2: guest 'web' has no 'policy'",
	    "a guest without a policy");
	bad("guests:\n  web:\n    policy: p.lua\n  web:\n    policy: p.lua\n",
	    "bad.yaml:4: guest 'web' is defined twice", "a guest defined twice");
	bad("guests:\n  web: [\n", "bad.yaml:", "a YAML syntax error has a line");
	bad("guests:\n  web:\n    policy: [a]\n", "'policy' must be a file name",
	    "policy of the wrong type");
	bad("defaults:\n  limits: 5\nguests:\n  web:\n    policy: p.lua\n",
	    "bad.yaml:2: 'limits' must be a mapping", "limits that is not a mapping");
	bad("", "needs a 'guests' section", "an empty file");
	c = xg_config_load("/nonexistent/x.yaml", &err);
	ok(!c && strstr(err.msg, "cannot open config /nonexistent/x.yaml"),
	   "a missing config file: %s", err.msg);
	c = xg_config_for_policy(put_file("r.lua", "return {}"), &err);
	ok(c && xg_config_guests(c) == 1 && !strcmp(xg_config_guest_name(c, 0), "default"),
	   "xg_config_for_policy: one guest named default");
	xg_config_free(c);
	cleanup_dir();
	return done_testing();
}
