/*
 * t_engine_verdicts.c - every verdict a policy can return, carried out through the VMM's
 * ops; every handler kind reached; malformed verdicts, errors and missing handlers ending
 * in on_error with a message that names the policy file and line.
 */
#include "engine_test.h"

static const char policy[] =
    "local xg = require 'exitgate'\n"
    "local by_port = {\n"
    "  [1] = xg.emulate,\n"
    "  [2] = function() return xg.inject 'UD' end,\n"
    "  [3] = function() return xg.inject('GP', 5) end,\n"
    "  [4] = xg.external_abort,\n"
    "  [5] = function() return xg.convert { gpa = 0x1000, size = 0x2000, to = 'private' } end,\n"
    "  [6] = function() return xg.suspend 'look at me' end,\n"
    "  [7] = xg.resume,\n"
    "  [8] = xg.retry,\n"
    "  [9] = function() return xg.stop 'bye' end,\n"
    "  [10] = function() return xg.dump { xg.inject 'UD', note = 'odd' } end,\n"
    "  [11] = function() return xg.inject(14, 2) end,\n"
    "  [12] = function(e, vcpu)\n"
    "    local ok = vcpu:read(0x100, 4) == '\\1\\2\\3\\4' and vcpu:translate(0xffff800000000100) "
    "== 0x100\n"
    "      and vcpu:read_gva(0xffff800000000101, 2) == '\\2\\3' and vcpu:read(0x10000, 4) == nil\n"
    "      and vcpu:reg('rax') == 0x42 and not pcall(vcpu.reg, vcpu, 'zmm31')\n"
    "    return ok and xg.resume() or xg.stop()\n"
    "  end,\n"
    "  [20] = function() return { verdict = 'emulat' } end,\n"
    "  [21] = function() end,\n"
    "  [22] = function() return xg.inject 'XX' end,\n"
    "  [23] = function() return xg.convert { gpa = 0x1001, size = 1, to = 'private' } end,\n"
    "  [24] = function() return 42 end,\n"
    "  [25] = function() error('boom') end,\n"
    "  [26] = function() return xg.dump {} end,\n"
    "  [27] = xg.skip,\n"
    "  [28] = function() return xg.convert { gpa = 0, size = 4096, to = 'secret' } end,\n"
    "  [29] = function() return xg.dump { xg.dump { xg.stop() } } end,\n"
    "  [13] = function() return xg.inject('PF', { error_code = 2, cr2 = 0xdead000 }) end,\n"
    "  [30] = function() return xg.inject('GP', { error_code = 0, cr2 = 0x1000 }) end,\n"
    "  [31] = function() return xg.inject('data_abort', { cr2 = 0x1000 }) end,\n"
    "}\n"
    "return xg.policy {\n"
    "  io = function(e, vcpu) return by_port[e.port](e, vcpu) end,\n"
    "  emulation_failure = function(e, vcpu)\n"
    "    if e.insn.bytes:sub(1, 2) == '\\x66\\x90' then return xg.skip() end\n"
    "    if e.disasm == 'fld dword ptr [rax]' and vcpu.regs.rip == 0x1000 then return xg.emulate() "
    "end\n"
    "    return xg.inject 'UD'\n"
    "  end,\n"
    "  mmio = function(e) return e.is_write and xg.emulate() or xg.inject 'GP' end,\n"
    "  msr = function(e) return e.is_write and xg.inject('GP', 0) or xg.resume() end,\n"
    "  memory_fault = function(e)\n"
    "    return xg.convert { gpa = e.gpa, size = e.size, to = e.private and 'private' or 'shared' "
    "}\n"
    "  end,\n"
    "  shutdown = function(e) return xg.stop 'triple fault' end,\n"
    "  hlt = function(e, vcpu) return xg.suspend(vcpu.guest .. '/' .. vcpu.index) end,\n"
    "  default = function(e) return xg.dump { xg.suspend('unhandled ' .. e.kind) } end,\n"
    "}\n";

static int supports_fld(void *opaque, const struct xg_exit *x)
{
	(void)opaque;
	return x->u.internal.insn_size == 2 && x->u.internal.insn[0] == 0xd9;
}

/* The file at path into text (NUL-terminated, "" when it cannot be read); 1 when it opened. */
static int read_text(const char *path, char *text, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(text, 1, size - 1, f) : 0;

	text[n] = 0;
	if (f)
		fclose(f);
	return f != NULL;
}

/* The "handler" field of a dump's JSON text ("" when it has none). */
static const char *dump_handler(const char *text)
{
	static char h[128];
	const char *p = strstr(text, "\"handler\": \"");
	size_t n;

	h[0] = 0;
	if (p) {
		p += strlen("\"handler\": \"");
		n = strcspn(p, "\"");
		snprintf(h, sizeof(h), "%.*s", (int)(n < sizeof(h) ? n : sizeof(h) - 1), p);
	}
	return h;
}

/* 1 when a message shows no C source: no member access, no op call, no file.c:line. */
static int no_c(const char *m)
{
	return !strstr(m, "->") && !strstr(m, "ops.") && !strstr(m, "opaque") && !strstr(m, ".c:");
}

int main(void)
{
	struct xg_error err;
	xg_engine *e = engine_with(policy, "    on_error: suspend\n", &err);
	struct fake f = {0};
	struct xg_result res;
	struct run r;
	struct xg_stats st;
	xg_vcpu *v;

	if (!ok(e != NULL, "engine builds from a good policy"))
		bail("%s", err.msg);
	v = xg_vcpu_attach(e, "g", 3, &fake_ops, &f, &err);
	if (!ok(v != NULL, "vCPU attaches"))
		bail("%s", err.msg);
	ok(xg_vcpu_attach(e, "nope", 0, &fake_ops, &f, &err) == NULL &&
	       strstr(err.msg, "'nope'") != NULL,
	   "attaching an unknown guest fails with its name: %s", err.msg);

	/* each verdict */
	res = io(v, 1);
	ok(res.next == XG_NEXT_RUN && res.verdict == XG_VERDICT_EMULATE && f.emulated == 1,
	   "emulate calls ops->emulate and re-enters");
	res = io(v, 2);
	ok(res.verdict == XG_VERDICT_INJECT && f.vector == 6 && !f.has_code,
	   "inject 'UD': vector 6, no error code");
	res = io(v, 3);
	ok(f.vector == 13 && f.has_code && f.code == 5, "inject('GP', 5): vector 13, error code 5");
	res = io(v, 11);
	ok(f.vector == 14 && f.code == 2 && !f.cr2_sets, "inject(14, 2) by number, CR2 untouched");
	res = io(v, 13);
	ok(res.verdict == XG_VERDICT_INJECT && f.vector == 14 && f.has_code && f.code == 2 &&
	       f.cr2_sets == 1 && f.cr2 == 0xdead000 && f.cr2_at == f.injected - 1,
	   "inject('PF', {error_code = 2, cr2 = 0xdead000}): CR2 set (0x%llx), then #PF(2)",
	   (unsigned long long)f.cr2);
	res = io(v, 4);
	ok(res.verdict == XG_VERDICT_EXTERNAL_ABORT && f.aborts == 1, "external_abort");
	res = io(v, 5);
	ok(f.converts == 1 && f.conv_gpa == 0x1000 && f.conv_size == 0x2000 && f.conv_private,
	   "convert {gpa, size, to=private} calls set_memory_attributes");
	res = io(v, 6);
	ok(res.next == XG_NEXT_PAUSE && f.paused == 1 && !strcmp(f.pause_reason, "look at me"),
	   "suspend pauses with the reason and tells the loop to wait");
	res = io(v, 7);
	ok(res.next == XG_NEXT_RUN && res.verdict == XG_VERDICT_RESUME, "resume");
	res = io(v, 8);
	ok(res.verdict == XG_VERDICT_RESUME, "retry is resume");
	res = io(v, 9);
	is_int(res.next, XG_NEXT_STOP, "stop tells the loop to stop the VM");
	log_lines = 0;
	res = io(v, 10);
	ok(res.dumped && res.verdict == XG_VERDICT_INJECT && f.vector == 6,
	   "dump { inject 'UD' } dumps, then injects");
	like(last_log, "dump g[3]: exit io", "without dump_dir the dump is a log line: %s",
	     last_log);

	memcpy(f.mem + 0x100, "\1\2\3\4", 4);
	f.rax = 0x42;
	res = io(v, 12);
	ok(res.verdict == XG_VERDICT_RESUME,
	   "vcpu:read, vcpu:translate, vcpu:read_gva, vcpu:reg through the ops%s%s",
	   res.fail ? ": " : "", res.fail ? xg_vcpu_last_error(v) : "");

	/* malformed verdicts: on_error (suspend) applies, the message names file and line */
	f.paused = 0;
	res = io(v, 20);
	ok(res.fail == XG_FAIL_BAD_VERDICT && res.verdict == XG_VERDICT_SUSPEND && f.paused == 1,
	   "an unknown verdict name fails over to on_error");
	like(
	    xg_vcpu_last_error(v),
	    "policy p.lua: handler 'io' (p.lua:35): verdict 'emulat' is not one of emulate, inject",
	    "message: %s", xg_vcpu_last_error(v));
	res = io(v, 21);
	is_int(res.fail, XG_FAIL_NO_VERDICT, "a handler returning nothing");
	like(xg_vcpu_last_error(v), "returned no verdict", "message: %s", xg_vcpu_last_error(v));
	res = io(v, 22);
	is_int(res.fail, XG_FAIL_BAD_VERDICT, "inject of an unknown exception");
	like(xg_vcpu_last_error(v), "exception 'XX' is not one of", "message: %s",
	     xg_vcpu_last_error(v));
	f.cr2_sets = 0;
	res = io(v, 30);
	is_int(res.fail, XG_FAIL_BAD_VERDICT, "cr2 for another exception than #PF");
	like(xg_vcpu_last_error(v),
	     "verdict 'inject': cr2 is the faulting address of a page fault (PF, vector 14), not "
	     "of #GP (vector 13)",
	     "message: %s", xg_vcpu_last_error(v));
	res = io(v, 31);
	is_int(res.fail, XG_FAIL_BAD_VERDICT, "cr2 for an arm64 data abort");
	like(xg_vcpu_last_error(v), "cr2 is an x86 page fault's address; on arm64 data_abort",
	     "message: %s", xg_vcpu_last_error(v));
	ok(!f.cr2_sets, "neither set CR2");
	res = io(v, 23);
	like(xg_vcpu_last_error(v), "must be page aligned", "unaligned convert: %s",
	     xg_vcpu_last_error(v));
	res = io(v, 28);
	like(xg_vcpu_last_error(v), "'to' must be \"private\" or \"shared\"",
	     "convert to 'secret': %s", xg_vcpu_last_error(v));
	res = io(v, 24);
	like(xg_vcpu_last_error(v), "got number", "a number is not a verdict: %s",
	     xg_vcpu_last_error(v));
	res = io(v, 25);
	ok(res.fail == XG_FAIL_ERROR, "an error in the handler");
	like(xg_vcpu_last_error(v), "policy p.lua:25: boom", "with its file:line: %s",
	     xg_vcpu_last_error(v));
	res = io(v, 26);
	like(xg_vcpu_last_error(v), "needs the verdict to apply after it",
	     "dump without a verdict: %s", xg_vcpu_last_error(v));
	res = io(v, 29);
	like(xg_vcpu_last_error(v), "cannot be nested", "dump in dump: %s", xg_vcpu_last_error(v));
	res = io(v, 27);
	ok(res.fail == XG_FAIL_ACTION,
	   "skip on an exit without instruction length fails as an action");
	like(xg_vcpu_last_error(v), "carries no instruction length", "message: %s",
	     xg_vcpu_last_error(v));

	/* handler kinds */
	/* KVM reports 15 bytes fetched at RIP; skip advances by the decoded length */
	f.rip = 0x1000;
	run_emul(&r, "\x66\x90\xf4\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 15);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.verdict == XG_VERDICT_SKIP && f.rip == 0x1002,
	   "emulation_failure: skip advances rip by the decoded length (66 90: 2 of 15 bytes)");
	f.rip = 0x1000;
	run_emul(&r, "\xd9\x00", 2);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.verdict == XG_VERDICT_EMULATE,
	   "emulation_failure: e.disasm and vcpu.regs.rip read lazily");
	f.rip = 0x2000;
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.verdict == XG_VERDICT_INJECT, "... and a different rip gives the other verdict");
	run_mmio(&r, 0xfee00000, 4, 1);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	is_int(res.verdict, XG_VERDICT_EMULATE, "mmio write");
	run_mmio(&r, 0xfee00000, 4, 0);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	is_int(res.verdict, XG_VERDICT_INJECT, "mmio read");
	run_msr(&r, 0x10, 1);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.verdict == XG_VERDICT_INJECT && f.vector == 13, "msr (wrmsr) handler");
	run_msr(&r, 0x10, 0);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	is_int(res.verdict, XG_VERDICT_RESUME, "msr (rdmsr) reaches the same handler");
	run_mf(&r, 0x200000, 0x1000, 1);
	f.converts = 0;
	res = xg_handle_exit(v, r.b, sizeof(r.b), EFAULT);
	ok(res.verdict == XG_VERDICT_CONVERT && f.conv_gpa == 0x200000 && f.conv_private,
	   "memory_fault (KVM_RUN failed with EFAULT) converts to private");
	run_reason(&r, KVM_EXIT_SHUTDOWN);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	is_int(res.next, XG_NEXT_STOP, "shutdown handler");
	run_reason(&r, KVM_EXIT_HLT);
	f.paused = 0;
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.next == XG_NEXT_PAUSE && !strcmp(f.pause_reason, "g/3"),
	   "hlt handler sees vcpu.guest and vcpu.index");
	run_reason(&r, KVM_EXIT_NMI);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.dumped && res.verdict == XG_VERDICT_SUSPEND &&
	       strstr(f.pause_reason, "unhandled nmi"),
	   "an exit without a handler goes to default");
	run_reason(&r, 250);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(strstr(f.pause_reason, "unhandled unknown") != NULL,
	   "an unknown exit number goes to default: %s", f.pause_reason);
	run_reason(&r, KVM_EXIT_IO);
	res = xg_handle_exit(v, r.b, sizeof(r.b), EINTR);
	ok(res.next == XG_NEXT_RUN && res.verdict == XG_VERDICT_NONE,
	   "EINTR re-enters without a policy call");
	res = xg_handle_exit(v, r.b, 100, 0);
	is_int(res.next, XG_NEXT_ERROR, "a run buffer too short is an error, not a crash");

	/* an action failing, and on_error applied: counted */
	f.fail_emulate = 1;
	res = io(v, 1);
	ok(res.fail == XG_FAIL_ACTION && res.verdict == XG_VERDICT_SUSPEND,
	   "a failing emulate op falls over to on_error");
	like(xg_vcpu_last_error(v), "verdict 'emulate': the VMM's emulator could not carry out",
	     "the message says in words what failed: %s", xg_vcpu_last_error(v));
	ok(no_c(xg_vcpu_last_error(v)), "... and quotes no C: %s", xg_vcpu_last_error(v));
	xg_vcpu_stats(v, &st);
	ok(st.fails[XG_FAIL_BAD_VERDICT] == 9 && st.fails[XG_FAIL_NO_VERDICT] == 1 &&
	       st.fails[XG_FAIL_ERROR] == 2 && st.fails[XG_FAIL_ACTION] == 2,
	   "failures counted by reason (bad %llu, none %llu, error %llu, action %llu)",
	   (unsigned long long)st.fails[XG_FAIL_BAD_VERDICT],
	   (unsigned long long)st.fails[XG_FAIL_NO_VERDICT],
	   (unsigned long long)st.fails[XG_FAIL_ERROR],
	   (unsigned long long)st.fails[XG_FAIL_ACTION]);
	ok(st.exits >= 30 && st.dumps >= 3, "exits (%llu) and dumps (%llu) counted",
	   (unsigned long long)st.exits, (unsigned long long)st.dumps);

	/* the VMM refusing an injection: the words say what was asked, not the C call */
	f.fail_inject = 1;
	res = io(v, 2);
	ok(res.fail == XG_FAIL_ACTION, "a failing inject op falls over to on_error");
	like(xg_vcpu_last_error(v),
	     "verdict 'inject': the VMM could not inject #UD (vector 6) into the vCPU at its io "
	     "exit (Invalid argument)",
	     "message: %s", xg_vcpu_last_error(v));
	ok(no_c(xg_vcpu_last_error(v)), "... and quotes no C: %s", xg_vcpu_last_error(v));
	run_msr(&r, 0x10, 1);
	f.fail_inject = 0;
	{
		/* the message names the exit the injection was for */
		xg_engine *e2 = engine_with("local xg = require 'exitgate'\nreturn { msr = "
					    "function() return xg.inject 'UD' end }\n",
					    "    on_error: stop\n", &err);
		struct fake f2 = {.fail_inject = 1};
		xg_vcpu *v2 = e2 ? xg_vcpu_attach(e2, "g", 0, &fake_ops, &f2, &err) : NULL;
		if (!v2)
			bail("%s", err.msg);
		res = xg_handle_exit(v2, r.b, sizeof(r.b), 0);
		like(xg_vcpu_last_error(v2), "could not inject #UD (vector 6) into the vCPU at its "
		     "x86_wrmsr exit", "inject 'UD' refused at a WRMSR exit: %s",
		     xg_vcpu_last_error(v2));
		xg_vcpu_detach(v2);
		xg_engine_free(e2);
	}
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* dumps to a directory */
	{
		char dumps[600], file[700], text[8192] = "";
		int opened;

		snprintf(dumps, sizeof(dumps), "    dump_dir: %s/dumps\n", tdir());
		e = engine_with("local xg = require 'exitgate'\n"
				"return { default = function() return xg.dump { xg.inject 'UD', "
				"note = 'why' } end }\n",
				dumps, &err);
		v = e ? xg_vcpu_attach(e, "g", 5, &fake_ops, &f, &err) : NULL;
		if (!v)
			bail("%s", err.msg);
		f.rip = 0x1234;
		run_emul(&r, "\xd9\x00", 2);
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		snprintf(file, sizeof(file), "%s/dumps/g-%s-vcpu5-000001.json", tdir(),
			 xg_engine_run_id(e));
		opened = read_text(file, text, sizeof(text));
		ok(res.dumped && opened, "dump_dir: the dump is a file %s", file);
		like(text, "\"verdict\": \"inject\"", "with the verdict");
		like(text, "\"note\": \"why\"", "... the note");
		like(text, "\"disasm\": \"fld dword ptr", "... the disassembly");
		like(text, "\"rip\": \"0x1234\"", "and the registers the VMM can read");
		is_str(dump_handler(text), "p.lua:2", "... the handler that ran");
		xg_vcpu_detach(v);
		xg_engine_free(e);

		/* the handler a dump names: the exit kind's own, else the default (both at
		 * their `function` line) */
		e = engine_with("local xg = require 'exitgate'\n"
				"return { default = function() return xg.dump { xg.inject 'UD' } end,\n"
				"  emulation_failure = function() return xg.dump { xg.inject 'UD' } end }\n",
				dumps, &err);
		v = e ? xg_vcpu_attach(e, "g", 6, &fake_ops, &f, &err) : NULL;
		if (!v)
			bail("%s", err.msg);
		run_emul(&r, "\xd9\x00", 2);
		xg_handle_exit(v, r.b, sizeof(r.b), 0);
		run_io(&r, 0x99, 1);
		xg_handle_exit(v, r.b, sizeof(r.b), 0);
		for (int k = 1; k <= 2; k++) {
			snprintf(file, sizeof(file), "%s/dumps/g-%s-vcpu6-%06d.json", tdir(),
				 xg_engine_run_id(e), k);
			read_text(file, text, sizeof(text));
			is_str(dump_handler(text), k == 1 ? "p.lua:3" : "p.lua:2",
			       "%s's dump names its handler, %s",
			       k == 1 ? "an emulation failure" : "an io exit",
			       k == 1 ? "emulation_failure's" : "the default");
		}
		xg_vcpu_detach(v);
		xg_engine_free(e);
	}

	/* a VMM without the op a verdict needs, and on_error failing too */
	e = engine_with("local xg = require 'exitgate'\nreturn { default = xg.emulate }\n",
			"    on_error: dump stop\n", &err);
	{
		struct xg_vcpu_ops none = {0};
		v = xg_vcpu_attach(e, "g", 0, &none, NULL, &err);
		run_io(&r, 1, 1);
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		ok(res.fail == XG_FAIL_ACTION && res.next == XG_NEXT_STOP && res.dumped,
		   "a missing op is an action failure; on_error 'dump stop' stops");
		like(xg_vcpu_last_error(v), "does not provide", "message: %s",
		     xg_vcpu_last_error(v));
		xg_vcpu_detach(v);
	}
	xg_engine_free(e);
	e = engine_with("local xg = require 'exitgate'\nreturn { default = function() return "
			"xg.inject 'NOPE' end }\n",
			"    on_error: emulate\n", &err);
	{
		struct xg_vcpu_ops none = {0};
		v = xg_vcpu_attach(e, "g", 0, &none, NULL, &err);
		run_io(&r, 1, 1);
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		ok(res.next == XG_NEXT_ERROR,
		   "on_error that cannot be applied either: XG_NEXT_ERROR");
		like(xg_vcpu_last_error(v), "on_error failed too", "message: %s",
		     xg_vcpu_last_error(v));
		xg_vcpu_detach(v);
	}
	xg_engine_free(e);

	/* load-time problems */
	e = engine_with(
	    "local xg = require 'exitgate'\nreturn xg.policy { emulation_faliure = xg.emulate }\n",
	    NULL, &err);
	ok(!e && strstr(
		     err.msg,
		     "'emulation_faliure' is not an exit kind (did you mean 'emulation_failure'?)"),
	   "a misspelt handler name: %s", err.msg);
	e = engine_with("local xg = require 'exitgate'\nreturn xg.policy { io = 42 }\n", NULL,
			&err);
	ok(!e && strstr(err.msg, "handler 'io' must be a function"),
	   "a handler that is not a function: %s", err.msg);
	e = engine_with("local xg = require 'exitgate'\nreturn 42\n", NULL, &err);
	ok(!e && strstr(err.msg, "must return the policy table"),
	   "a policy that returns no table: %s", err.msg);
	e = engine_with("local xg = require 'exitgate'\nreturn {\n  io = function( end\n}\n", NULL,
			&err);
	ok(!e && strstr(err.msg, "p.lua:3:"), "a syntax error names file and line: %s", err.msg);
	e = engine_with("return {}\n", "    on_error: inject\n", &err);
	ok(!e && strstr(err.msg, "on_error"), "a bad on_error: %s", err.msg);
	e = engine_with("return {}\n", NULL, &err);
	v = xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err);
	run_io(&r, 1, 1);
	res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
	ok(res.fail == XG_FAIL_NO_HANDLER && res.verdict == XG_VERDICT_INJECT,
	   "no handler and no default: on_error (default 'inject UD')");
	xg_vcpu_detach(v);
	xg_engine_free(e);

	/* xg.emulator.supports asks the VMM's can_emulate when it brings its own emulator */
	{
		char path[1024];
		const char *src = getenv("XG_SOURCE");
		xg_config *cfg;
		struct xg_vcpu_ops can_ops;

		snprintf(path, sizeof(path), "%s/policies/default.lua", src ? src : ".");
		cfg = xg_config_for_policy(path, &err);
		e = cfg ? xg_engine_new(cfg, &err) : NULL;
		xg_config_free(cfg);
		v = e ? xg_vcpu_attach(e, "default", 0, &fake_ops, &f, &err) : NULL;
		if (!v)
			bail("%s", err.msg);
		xg_engine_set_log(e, test_log, NULL);
		run_emul(&r, "\xd9\x00", 2);
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		is_int(res.verdict, XG_VERDICT_INJECT, "default policy, no can_emulate: #UD");
		xg_vcpu_detach(v);
		can_ops = fake_ops;
		can_ops.can_emulate = supports_fld;
		v = xg_vcpu_attach(e, "default", 0, &can_ops, &f, &err);
		if (!v)
			bail("%s", err.msg);
		memset(&f, 0, sizeof(f));
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		is_int(res.verdict, XG_VERDICT_EMULATE, "with can_emulate saying yes: emulate");
		res = xg_handle_exit(v, r.b, sizeof(r.b), 0);
		ok(res.cached && res.verdict == XG_VERDICT_EMULATE, "... cached by instruction bytes");
		xg_vcpu_detach(v);
		xg_engine_free(e);
	}
	cleanup_dir();
	return done_testing();
}
