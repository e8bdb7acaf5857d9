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
	char out[16384];
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
	is_int(check(p, out, sizeof(out)), 3,
	       "two handlers returning wrong verdicts and one failing are three errors");
	like(out,
	     "error: policy shape.lua:3: handler 'msr' (shape.lua:3): verdict 'inject': exception "
	     "'GX'",
	     "the bad exception, with file:line");
	like(out,
	     "error: policy shape.lua:4: handler 'hypercall' (shape.lua:4) returned no verdict",
	     "the missing verdict");
	like(out,
	     "error: policy shape.lua:5: exit kind 'io' (io) has no field 'nothing' (its fields: "
	     "reason,",
	     "a runtime error is an error, not a warning; reading a field io does not have names "
	     "the kind and its fields");
	ok(!strstr(out, "warning"), "no warnings: a check passes or fails");

	/* the line of the failing return, not of the function */
	p = put_file("ret.lua", "local xg = require 'exitgate'\n"
				"local function pick(e) return xg.resume() end\n"
				"return {\n"
				"  mmio = function(e)\n"
				"    if e.len == 8 and e.is_write then\n"
				"      return xg.inject 'GX'\n"
				"    end\n"
				"    return pick(e)\n"
				"  end,\n"
				"  io = function(e)\n"
				"    if e.port == 0xffff then\n"
				"      return { verdict = 'emulat' }\n"
				"    end\n"
				"    return xg.resume()\n"
				"  end,\n"
				"  msr = function(e)\n"
				"    if e.msr_reason ~= 'filter' then return xg.msr(0) end\n"
				"  end,\n"
				"}\n");
	is_int(check(p, out, sizeof(out)), 3, "three handlers failing on edge values");
	like(out, "error: policy ret.lua:6: handler 'mmio' (ret.lua:4): verdict 'inject'",
	     "an 8-byte MMIO write: the line of the return that gave the bad verdict");
	like(out, "on a synthetic mmio exit: write of 8 bytes at gpa 0)",
	     "and the synthetic exit that made it");
	like(out, "error: policy ret.lua:12: handler 'io' (ret.lua:10):", "port 0xffff");
	like(out, "error: policy ret.lua:18: handler 'msr' (ret.lua:16) returned no verdict",
	     "the filter reason of an MSR exit: where the handler fell off its end");

	/* limits, the verdict for the wrong exit, and the paths of a configuration */
	p = put_file("limits.lua", "local xg = require 'exitgate'\n"
				   "local keep = {}\n"
				   "return {\n"
				   "  io = function(e) return xg.msr(1) end,\n"
				   "  mmio = function(e) while true do end end,\n"
				   "  memory_fault = function(e)\n"
				   "    for i = 1, 1e9 do keep[i] = ('x'):rep(100) .. i end\n"
				   "  end,\n"
				   "}\n");
	p = put_file("limits.yaml",
		     "guests:\n  a:\n    policy: limits.lua\n"
		     /* instructions over what the hog's charged copies cost, so
		      * the memory cap is what stops it; time over what the loop
		      * takes to use the instructions, so the count stops that */
		     "    limits: { instructions: 5000000, memory: 1M, time_ms: 10000 }\n");
	is_int(check(p, out, sizeof(out)), 3, "limits and verdicts for the wrong exit");
	like(out, "handler 'mmio' (limits.lua:5) exceeded the instruction limit of 5000000",
	     "an endless handler: an error, at the guest's own limit");
	like(out, "handler 'memory_fault' (limits.lua:6) exceeded the memory limit of 1048576",
	     "a memory hog: an error");
	like(out,
	     "error: policy limits.lua:4: handler 'io' (limits.lua:4): verdict 'msr' answers "
	     "x86_rdmsr/x86_wrmsr exits; this exit is io",
	     "a verdict the exit cannot take");

	/* a default handler's failure names the default (its line), for every kind it took */
	p = put_file("dflt.lua", "local xg = require 'exitgate'\n"
				 "return { default = function(e) return xg.msr(1) end }\n");
	p = put_file("dflt.yaml", "guests:\n  a:\n    policy: dflt.lua\n");
	ok(check(p, out, sizeof(out)) > 0, "a default handler answering msr to every kind");
	like(out,
	     "error: policy dflt.lua:2: handler 'io' (dflt.lua:2): verdict 'msr' answers "
	     "x86_rdmsr/x86_wrmsr exits; this exit is io",
	     "an io exit's failure names the default handler that ran: %s", out);

	/* emulate under `exitgate run` (a vm: section): exitgate's emulator takes emulation
	 * failures only, so good.lua's emulate on mmio exits would fail there */
	put_file("run-good.lua", "local xg = require 'exitgate'\n"
				 "return xg.policy { mmio = function(e)\n"
				 "    if xg.emulator.supports(e) then return xg.emulate() end\n"
				 "    return xg.inject 'UD' end,\n"
				 "  emulation_failure = function(e) return xg.emulate() end }\n");
	p = put_file("run-emu.yaml", "guests:\n  a:\n    policy: good.lua\n"
				     "    vm:\n      payload: /bin/true\n"
				     "  b:\n    policy: run-good.lua\n"
				     "    vm:\n      payload: /bin/true\n");
	is_int(check(p, out, sizeof(out)), 1, "emulate on mmio exits of a guest exitgate runs");
	like(out,
	     "error: policy good.lua:2: handler 'mmio' (good.lua:2): verdict 'emulate' under "
	     "exitgate run (the guest has a vm: section): only emulation failures",
	     "an error at the return, saying why: %s", out);
	ok(!strstr(out, "run-good.lua"),
	   "asking xg.emulator.supports(e) first, and emulate on emulation failures, is fine");

	/* a helper bound as the handler itself names the helper: it has no line of the
	 * policy's (nor one of exitgate.lua to pass off as the policy's) */
	put_file("direct.lua", "local xg = require 'exitgate'\n"
			       "return xg.policy { mmio = xg.emulate }\n");
	p = put_file("direct.yaml", "guests:\n  a:\n    policy: direct.lua\n"
				    "    vm:\n      payload: /bin/true\n");
	is_int(check(p, out, sizeof(out)), 1, "mmio = xg.emulate under exitgate run");
	like(out,
	     "error: policy direct.lua: handler 'mmio' (xg.emulate): verdict 'emulate' under "
	     "exitgate run",
	     "the handler is named as xg.emulate: %s", out);

	p = put_file("paths.yaml", "guests:\n  a:\n    policy: run-good.lua\n"
				   "    dump_dir: /nonexistent-xg/dumps\n"
				   "    vm:\n      payload: no-such-payload.bin\n");
	is_int(check(p, out, sizeof(out)), 2, "a payload and a dump_dir that cannot be");
	like(out, "guest 'a': vm.payload: payload 'no-such-payload.bin' not found (looked in: ",
	     "the payload, named, with where it was looked for");
	like(out,
	     "guest 'a': dump_dir /nonexistent-xg/dumps cannot be created: its parent "
	     "/nonexistent-xg is not a directory",
	     "the dump_dir, with its missing parent");
	p = put_file("nopolicy.yaml", "guests:\n  a:\n    policy: gone.lua\n");
	is_int(check(p, out, sizeof(out)), 1, "a missing policy");
	like(out, "gone.lua' of guest 'a'", "is named");

	p = put_file("syntax.lua", "return {\n  io = function() return end end\n}\n");
	is_int(check(p, out, sizeof(out)), 1, "a syntax error");
	like(out, "syntax.lua:2:", "with its line");

	p = put_file("name.lua", "return { mmio_write = function() end }\n");
	check(p, out, sizeof(out));
	like(out, "'mmio_write' is not an exit kind (did you mean 'mmio'",
	     "an unknown handler name");

	p = put_file("c.yaml",
		     "guests:\n  a:\n    policy: good.lua\n  b:\n    policy: shape.lua\n");
	is_int(check(p, out, sizeof(out)), 3,
	       "a configuration: the errors of every guest's policy");
	p = put_file("bad.yaml", "guests:\n  a:\n    policy: good.lua\n    on_eror: stop\n");
	is_int(check(p, out, sizeof(out)), 1, "a configuration error");
	like(out, "bad.yaml:4: unknown key 'on_eror'", "names file, line and key");

	/* at run time too: a field the exit's kind does not have is an error naming it */
	{
		struct xg_error err;
		struct fake f = {0};
		struct run r;
		xg_engine *e = engine_with("local xg = require 'exitgate'\n"
					   "return { io = function(e)\n"
					   "  if e.idx == 1 then return xg.stop() end\n"
					   "  return xg.resume() end }\n",
					   NULL, &err);
		xg_vcpu *v = e ? xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err) : NULL;
		struct xg_result res;
		if (!v)
			bail("%s", err.msg);
		run_io(&r, 0x3f8, 1);
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		ok(res.fail == XG_FAIL_ERROR, "e.idx on an io exit fails the call at run time");
		like(xg_vcpu_last_error(v),
		     "p.lua:3: exit kind 'io' (io) has no field 'idx' (its fields: reason, "
		     "exit_reason, kind,",
		     "naming the kind and its fields: %s", xg_vcpu_last_error(v));
		xg_vcpu_detach(v);
		xg_engine_free(e);
	}
	cleanup_dir();
	return done_testing();
}
