/*
 * t_engine_insn_class.c - e.insn_class (issue 14: "an exit has no instruction class, so
 * policies parse prefixes themselves"): the class of an emulation failure's instruction as a
 * policy reads it, for one instruction of each class and the forms that look alike (MMX and
 * SSE share opcodes and differ by the prefix; 0F38 F0 is movbe, not SSE), and nil when the
 * exit has no instruction.
 */
#include "engine_test.h"

static const char pol[] =
    "local xg = require 'exitgate'\n"
    "return xg.policy {\n"
    "  emulation_failure = function(e) xg.log(tostring(e.insn_class)) return xg.resume() end,\n"
    "  io = function(e) xg.log(tostring(e.insn_class)) return xg.resume() end,\n"
    "}\n";

static const struct {
	const char *bytes;
	size_t n;
	const char *want, *what;
} cases[] = {
    {"\x89\x00", 2, "gp", "mov [rax], eax"},
    {"\xf3\xa4", 2, "string", "rep movsb"},
    {"\xd9\x00", 2, "x87", "fld dword ptr [rax]"},
    {"\x0f\x6f\x00", 3, "mmx", "movq mm0, [rax]"},
    {"\x66\x0f\x6f\x00", 4, "sse", "movdqa xmm0, [rax] (66: SSE2, same opcode as MMX movq)"},
    {"\x0f\x28\x00", 3, "sse", "movaps xmm0, [rax] (SSE without a prefix)"},
    {"\xf3\x0f\xb8\x00", 4, "gp", "popcnt eax, [rax]"},
    {"\x0f\x38\xf0\x00", 4, "gp", "movbe eax, [rax] (0F38 F0)"},
    {"\x66\x0f\x38\x00\x00", 5, "sse", "pshufb xmm0, [rax]"},
    {"\xc5\xfe\x6f\x00", 4, "avx", "vmovdqu ymm0, [rax]"},
    {"\x62\xf1\x7e\x48\x6f\x00", 6, "avx512", "vmovdqu32 zmm0, [rax]"},
    {"\x0f\xae\x10", 3, "sse", "ldmxcsr [rax]"},
    {"\x0f\xae\x38", 3, "gp", "clflush [rax]"},
};

int main(void)
{
	struct xg_error err;
	struct fake f = {0};
	struct run r;
	xg_engine *e = engine_with(pol, NULL, &err);
	xg_vcpu *v;

	if (!e)
		bail("%s", err.msg);
	v = xg_vcpu_attach(e, "g", 0, &fake_ops, &f, &err);
	if (!v)
		bail("%s", err.msg);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		last_log[0] = 0;
		run_emul(&r, cases[i].bytes, cases[i].n);
		xg_handle_exit(v, r.b, sizeof(r.b), 0);
		like(last_log, cases[i].want, "%s: e.insn_class is %s (log: %s)", cases[i].what,
		     cases[i].want, last_log);
		ok(!strstr(last_log, "nil"), "... not nil");
	}
	last_log[0] = 0;
	run_io(&r, 0x80, 1);
	xg_handle_exit(v, r.b, sizeof(r.b), 0);
	like(last_log, "nil", "an io exit has no instruction: e.insn_class is nil (%s)", last_log);
	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
