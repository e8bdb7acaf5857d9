/*
 * t_engine_check.c - xg_policy_check (`exitgate check`): what it finds without a guest.
 */
#include "engine_test.h"

static int check(const char *path, char *out, size_t n)
{
	FILE *f;

	out[0] = 0;
	f = fmemopen(out, n, "w");
	int errors = xg_policy_check(path, f);

	fclose(f);
	return errors;
}

int main(void)
{
	char out[4096];
	const char *p;

	p = put_file("good.lua", "local xg = require 'exitgate'\n"
				 "return xg.policy { mmio = function(e) return xg.emulate() end,\n"
				 "  default = function(e) return xg.suspend(e.kind) end }\n");
	is_int(check(p, out, sizeof(out)), 0, "a good policy has no errors");
	is_str(out, "", "and says nothing");

	p = put_file("shape.lua", "local xg = require 'exitgate'\n"
				  "return xg.policy {\n"
				  "  msr = function(e) return xg.inject 'GX' end,\n"
				  "  hypercall = function(e) end,\n"
				  "  io = function(e) return e.nothing.here end,\n"
				  "}\n");
	is_int(check(p, out, sizeof(out)), 2, "two handlers returning wrong verdicts are errors");
	like(out,
	     "error: policy shape.lua: handler 'msr' (shape.lua:3): verdict 'inject': exception "
	     "'GX'",
	     "the bad exception, with file:line");
	like(out, "error: policy shape.lua: handler 'hypercall' (shape.lua:4) returned no verdict",
	     "the missing verdict");
	like(out, "warning: policy shape.lua:5: attempt to index a nil value",
	     "a runtime error is a warning");

	p = put_file("syntax.lua", "return {\n  io = function() return end end\n}\n");
	is_int(check(p, out, sizeof(out)), 1, "a syntax error");
	like(out, "syntax.lua:2:", "with its line: %s", out);

	p = put_file("name.lua", "return { mmio_write = function() end }\n");
	check(p, out, sizeof(out));
	like(out, "'mmio_write' is not an exit kind (did you mean 'mmio'",
	     "an unknown handler name");

	p = put_file("c.yaml",
		     "guests:\n  a:\n    policy: good.lua\n  b:\n    policy: shape.lua\n");
	is_int(check(p, out, sizeof(out)), 2,
	       "a configuration: the errors of every guest's policy");
	p = put_file("bad.yaml", "guests:\n  a:\n    policy: good.lua\n    on_eror: stop\n");
	is_int(check(p, out, sizeof(out)), 1, "a configuration error");
	like(out, "bad.yaml:4: unknown key 'on_eror'", "names file, line and key");
	cleanup_dir();
	return done_testing();
}
