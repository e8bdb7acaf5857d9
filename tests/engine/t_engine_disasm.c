/*
 * t_engine_disasm.c - e.disasm of an x86 emulation failure is the instruction in the code
 * size the vCPU runs at, as e.insn_class and dumps decode it (real and virtual-8086 mode
 * 16-bit, IA-32e mode with CS.L 64-bit, otherwise CS.D: SDM Vol. 3A 3.4.5, 5.2.1): the same
 * bytes are different instructions in each. Before, e.disasm always printed 64-bit code.
 * A VMM without get_x86_regs still gets 64-bit code. The texts come from a per-thread cache
 * (core/disasm): exits alternating between modes with the same bytes, and a hot reload in
 * the middle, still read the right text.
 */
#include "engine_test.h"
#include "emu/x86/xg_emu_x86.h"

enum { REAL, VM86, PROT16, PROT32, LONG64, COMPAT32 };
static int mode;

static int modal_regs(void *o, struct xg_emu_x86_regs *r)
{
	struct xg_emu_x86_segment *cs = &r->seg[XG_EMU_X86_CS];

	memset(r, 0, sizeof(*r));
	r->rflags = 2;
	cs->present = 1;
	if (mode != REAL)
		r->cr0 = 0x11; /* PE */
	if (mode == VM86)
		r->rflags |= 1u << 17;
	if (mode == PROT32 || mode == COMPAT32)
		cs->db = 1;
	if (mode == LONG64 || mode == COMPAT32)
		r->cr0 |= 0x80000000u, r->efer = 0x500; /* PG, LME|LMA */
	if (mode == LONG64)
		cs->l = 1;
	if (mode == VM86 || mode == REAL)
		cs->db = 1; /* ignored: real and virtual-8086 mode run 16-bit code */
	return 0;
}

static const char pol[] = "local xg = require 'exitgate'\n"
			  "return xg.policy { emulation_failure = function(e)\n"
			  "  return xg.stop(tostring(e.disasm)) end }\n";

static const struct {
	int mode;
	const char *name, *want_8b07, *want_31c0;
} modes[] = {
    {REAL, "real mode", "mov ax, word ptr [bx]", "xor ax, ax"},
    {VM86, "virtual-8086 mode", "mov ax, word ptr [bx]", "xor ax, ax"},
    {PROT16, "16-bit protected mode", "mov ax, word ptr [bx]", "xor ax, ax"},
    {PROT32, "32-bit protected mode", "mov eax, dword ptr [edi]", "xor eax, eax"},
    {COMPAT32, "compatibility mode (CS.D)", "mov eax, dword ptr [edi]", "xor eax, eax"},
    {LONG64, "64-bit mode", "mov eax, dword ptr [rdi]", "xor eax, eax"},
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static const char *disasm_of(xg_vcpu *v, const char *bytes, size_t n)
{
	struct run r;

	run_emul(&r, bytes, n);
	return xg_handle_exit(v, r.b, sizeof(r.b), 0).reason;
}

int main(void)
{
	struct xg_vcpu_ops ops = fake_ops;
	struct xg_error err;
	struct fake f = {0};
	xg_engine *e = engine_with(pol, NULL, &err);
	xg_vcpu *v, *plain;
	int bad = 0;

	if (!e)
		bail("%s", err.msg);
	ops.get_x86_regs = modal_regs;
	v = xg_vcpu_attach(e, "g", 0, &ops, &f, &err);
	if (!v)
		bail("%s", err.msg);
	for (size_t i = 0; i < NMODES; i++) {
		mode = modes[i].mode;
		is_str(disasm_of(v, "\x8b\x07", 2), modes[i].want_8b07, "%s: 8b 07 is %s",
		       modes[i].name, modes[i].want_8b07);
		is_str(disasm_of(v, "\x31\xc0", 2), modes[i].want_31c0, "%s: 31 c0 is %s",
		       modes[i].name, modes[i].want_31c0);
	}

	/* the same bytes, the mode changing every exit, a reload half way */
	for (int i = 0; i < 600; i++) {
		const char *got;
		if (i == 300 && xg_engine_reload(e, &err))
			bail("reload: %s", err.msg);
		mode = modes[i % NMODES].mode;
		got = disasm_of(v, "\x8b\x07", 2);
		if (strcmp(got, modes[i % NMODES].want_8b07) && !bad++)
			diag("exit %d (%s): '%s', want '%s'", i, modes[i % NMODES].name, got,
			     modes[i % NMODES].want_8b07);
	}
	is_int(bad, 0, "600 exits alternating between the modes, reloaded at the 300th: each right");

	/* without the VMM's x86 state: 64-bit code, as always */
	plain = xg_vcpu_attach(e, "g", 1, &fake_ops, &f, &err);
	if (!plain)
		bail("%s", err.msg);
	mode = REAL;
	is_str(disasm_of(plain, "\x8b\x07", 2), "mov eax, dword ptr [rdi]",
	       "a VMM without get_x86_regs: 64-bit code");
	xg_vcpu_detach(plain);
	xg_vcpu_detach(v);
	xg_engine_free(e);
	cleanup_dir();
	return done_testing();
}
