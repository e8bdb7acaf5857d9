/*
 * t_kvm_exitstate.c - where KVM leaves a vCPU at an IO, MMIO or MSR exit, and what the next
 * KVM_RUN (here with immediate_exit = 1, which completes the access and returns EINTR, api.rst
 * 5 "kvm_run") does to it. core/backend/kvm/fault.c relies on each line of its table; this
 * test rechecks them on every machine, so a KVM that behaves otherwise shows here first.
 *
 * Measured on kvm_pvm, kernel 6.18 (KVM's instruction emulator runs CPL-0 code):
 *   - loads (IN, INS, MMIO load, RDMSR) and WRMSR exit with RIP on the instruction and its
 *     registers untouched; the completion writes the destination and moves RIP (a REP INS
 *     is one exit for all RCX items; its completion writes them all and leaves RIP on it);
 *   - stores (OUT, MMIO store) exit with RIP past the instruction: KVM's emulator finished
 *     it, only the data goes out; the completion changes nothing;
 *   - REP OUTS and REP STOS to MMIO exit once per item, RIP on the instruction, RCX and
 *     RSI/RDI already counting the item in the exit; OUTS without REP like OUT, RSI moved.
 */
#include <errno.h>
#include <string.h>

#include "tap.h"
#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"

#define MMIO 0xd0200000ULL
#define BUF  0x200000ULL
#define PORT 0x99
#define MSR  0x4b564d99

/* Each case: set registers, then the instruction at its label; hlt after it. */
__asm__(".pushsection .rodata.es_guest,\"a\"\n"
	".globl es_guest, es_guest_end\n"
	"es_guest:\n"
	"es_in: mov $0x99,%edx; movabs $0x1111111111111111,%rax\n es_in_at: in (%dx),%al\n hlt\n"
	"es_out: mov $0x99,%edx; movabs $0x1111111111111122,%rax\n es_out_at: out %al,(%dx)\n"
	" hlt\n"
	"es_ins: mov $0x99,%edx; mov $0x200000,%edi; mov $5,%ecx\n"
	" es_ins_at: rep insb (%dx),(%rdi)\n hlt\n"
	"es_outs: mov $0x99,%edx; mov $0x200000,%esi; mov $5,%ecx\n"
	" es_outs_at: rep outsb (%rsi),(%dx)\n hlt\n"
	"es_outs1: mov $0x99,%edx; mov $0x200000,%esi\n es_outs1_at: outsb (%rsi),(%dx)\n hlt\n"
	"es_ld: movabs $0xd0200000,%rax; movabs $0x3333333333333333,%rbx\n"
	" es_ld_at: mov (%rax),%ebx\n hlt\n"
	"es_st: movabs $0xd0200000,%rax; movabs $0x4444444444444444,%rbx\n"
	" es_st_at: mov %ebx,(%rax)\n hlt\n"
	"es_stos: movabs $0xd0200000,%rdi; mov $2,%ecx\n es_stos_at: rep stosq\n hlt\n"
	"es_rd: mov $0x4b564d99,%ecx; movabs $0x5555555555555555,%rax; mov %rax,%rdx\n"
	" es_rd_at: rdmsr\n hlt\n"
	"es_wr: mov $0x4b564d99,%ecx; movabs $0x5555555555555555,%rax; mov %rax,%rdx\n"
	" es_wr_at: wrmsr\n hlt\n"
	"es_guest_end:\n"
	".popsection\n");

#define SYMS(x) extern const unsigned char es_##x[], es_##x##_at[]
SYMS(in);
SYMS(out);
SYMS(ins);
SYMS(outs);
SYMS(outs1);
SYMS(ld);
SYMS(st);
SYMS(stos);
SYMS(rd);
SYMS(wr);
extern const unsigned char es_guest[], es_guest_end[];

static uint64_t gaddr(const unsigned char *sym)
{
	return XG_KVM_LOAD_ADDR + (uint64_t)(sym - es_guest);
}

struct guest {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct kvm_run *run;
	uint64_t at; /* the instruction's address */
};

static int start(struct guest *g, const unsigned char *entry, const unsigned char *at,
		 unsigned reason, const char *what)
{
	struct xg_error err = {{0}};
	int r;

	memset(g, 0, sizeof(*g));
	if (xg_kvm_vm_create(&g->vm, NULL, &err) ||
	    xg_kvm_enable_cap(g->vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_enable_cap(g->vm, KVM_CAP_X86_USER_SPACE_MSR, KVM_MSR_EXIT_REASON_UNKNOWN,
			      &err) ||
	    xg_kvm_load(g->vm, XG_KVM_LOAD_ADDR, es_guest, (size_t)(es_guest_end - es_guest),
			&err) ||
	    xg_kvm_vcpu_create(g->vm, 0, gaddr(entry), &g->v, &err))
		bail("%s: %s", what, err.msg);
	g->run = xg_kvm_vcpu_run_area(g->v, NULL);
	g->at = gaddr(at);
	r = xg_kvm_vcpu_run(g->v);
	return ok(!r && g->run->exit_reason == reason, "%s: exit %u (got %u, KVM_RUN %s)", what,
		  reason, g->run->exit_reason, r ? strerror(-r) : "ok");
}

static struct kvm_regs regs_of(struct guest *g)
{
	struct xg_error err = {{0}};
	struct kvm_regs r;

	if (xg_kvm_get_regs(g->v, &r, &err))
		bail("%s", err.msg);
	return r;
}

/* KVM_RUN with immediate_exit: the pending access completes, the guest does not run. */
static void complete(struct guest *g, const char *what)
{
	int r;

	g->run->immediate_exit = 1;
	r = xg_kvm_vcpu_run(g->v);
	g->run->immediate_exit = 0;
	is_int(r, -EINTR, "%s: KVM_RUN with immediate_exit returns EINTR", what);
}

static void in_(void)
{
	struct guest g;
	struct kvm_regs r;

	if (start(&g, es_in, es_in_at, KVM_EXIT_IO, "in al")) {
		r = regs_of(&g);
		is_hex(r.rip, g.at, "in al: RIP on the instruction at the exit");
		is_hex(r.rax, 0x1111111111111111ULL, "in al: AL untouched at the exit");
		((uint8_t *)g.run)[g.run->io.data_offset] = 0xab;
		complete(&g, "in al");
		r = regs_of(&g);
		is_hex(r.rip, g.at + 1, "in al: the completion moves RIP past it");
		is_hex(r.rax, 0x11111111111111abULL, "in al: ... and writes AL");
	}
	xg_kvm_vm_destroy(g.vm);
}

static void out_(void)
{
	struct guest g;

	if (start(&g, es_out, es_out_at, KVM_EXIT_IO, "out")) {
		is_hex(regs_of(&g).rip, g.at + 1, "out: RIP already past the instruction");
		complete(&g, "out");
		is_hex(regs_of(&g).rip, g.at + 1, "out: the completion changes nothing");
	}
	xg_kvm_vm_destroy(g.vm);
}

static void ins(void)
{
	struct guest g;
	struct kvm_regs r;

	if (start(&g, es_ins, es_ins_at, KVM_EXIT_IO, "rep insb")) {
		uint8_t *buf = xg_kvm_gpa_ptr(g.vm, BUF, 5);
		r = regs_of(&g);
		is_int(g.run->io.count, 5, "rep insb: one exit for the 5 items");
		ok(r.rip == g.at && r.rcx == 5 && r.rdi == BUF,
		   "rep insb: RIP on it, RCX and RDI untouched at the exit");
		memset((uint8_t *)g.run + g.run->io.data_offset, 0xab, 5);
		memset(buf, 0, 5);
		complete(&g, "rep insb");
		r = regs_of(&g);
		ok(r.rip == g.at && r.rcx == 0 && r.rdi == BUF + 5 && buf[0] == 0xab &&
		       buf[4] == 0xab,
		   "rep insb: the completion writes the 5 items, RCX 0, RDI +5, RIP on it");
	}
	xg_kvm_vm_destroy(g.vm);
}

static void outs(void)
{
	struct guest g;
	struct kvm_regs r;

	if (start(&g, es_outs, es_outs_at, KVM_EXIT_IO, "rep outsb")) {
		r = regs_of(&g);
		is_int(g.run->io.count, 1, "rep outsb: an exit per item");
		ok(r.rip == g.at && r.rcx == 4 && r.rsi == BUF + 1,
		   "rep outsb: RIP on it, RCX and RSI already count the item (rcx %llu)",
		   (unsigned long long)r.rcx);
	}
	xg_kvm_vm_destroy(g.vm);
	if (start(&g, es_outs1, es_outs1_at, KVM_EXIT_IO, "outsb")) {
		r = regs_of(&g);
		ok(r.rip == g.at + 1 && r.rsi == BUF + 1, "outsb: RIP past it, RSI moved");
	}
	xg_kvm_vm_destroy(g.vm);
}

static void mmio(void)
{
	struct guest g;
	struct kvm_regs r;

	if (start(&g, es_ld, es_ld_at, KVM_EXIT_MMIO, "mmio load")) {
		r = regs_of(&g);
		ok(r.rip == g.at && r.rbx == 0x3333333333333333ULL,
		   "mmio load: RIP on it, the destination untouched at the exit");
		memset(g.run->mmio.data, 0xcd, 8);
		complete(&g, "mmio load");
		r = regs_of(&g);
		ok(r.rip == g.at + 2 && r.rbx == 0xcdcdcdcdULL,
		   "mmio load: the completion writes EBX and moves RIP past it");
	}
	xg_kvm_vm_destroy(g.vm);
	if (start(&g, es_st, es_st_at, KVM_EXIT_MMIO, "mmio store")) {
		ok(g.run->mmio.is_write && regs_of(&g).rip == g.at + 2,
		   "mmio store: RIP already past the instruction");
		complete(&g, "mmio store");
		is_hex(regs_of(&g).rip, g.at + 2, "mmio store: the completion changes nothing");
	}
	xg_kvm_vm_destroy(g.vm);
	if (start(&g, es_stos, es_stos_at, KVM_EXIT_MMIO, "rep stosq to mmio")) {
		r = regs_of(&g);
		ok(r.rip == g.at && r.rcx == 1 && r.rdi == MMIO + 8,
		   "rep stosq: RIP on it, RCX and RDI already count the item");
	}
	xg_kvm_vm_destroy(g.vm);
}

static void msr(void)
{
	struct guest g;
	struct kvm_regs r;

	if (start(&g, es_rd, es_rd_at, KVM_EXIT_X86_RDMSR, "rdmsr")) {
		r = regs_of(&g);
		ok(r.rip == g.at && r.rax == 0x5555555555555555ULL && r.rdx == r.rax,
		   "rdmsr: RIP on it, EDX:EAX untouched at the exit");
		g.run->msr.error = 0;
		g.run->msr.data = 0x1122334455667788ULL;
		complete(&g, "rdmsr");
		r = regs_of(&g);
		ok(r.rip == g.at + 2 && r.rax == 0x55667788 && r.rdx == 0x11223344,
		   "rdmsr: the completion writes EDX:EAX and moves RIP past it");
	}
	xg_kvm_vm_destroy(g.vm);
	if (start(&g, es_wr, es_wr_at, KVM_EXIT_X86_WRMSR, "wrmsr")) {
		is_hex(regs_of(&g).rip, g.at, "wrmsr: RIP on it at the exit");
		g.run->msr.error = 0;
		complete(&g, "wrmsr");
		is_hex(regs_of(&g).rip, g.at + 2, "wrmsr: the completion moves RIP past it");
	}
	xg_kvm_vm_destroy(g.vm);
}

int main(void)
{
	char why[256];

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	in_();
	out_();
	ins();
	outs();
	mmio();
	msr();
	return done_testing();
}
