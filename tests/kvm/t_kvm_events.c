/*
 * t_kvm_events.c - how exceptions reach a CPL-0 guest on this KVM (kvm_pvm), measured, so the
 * inject verdict and the guests of tests/run can rely on it, and so every machine rechecks it.
 *
 * The guest (assembled below, copied to XG_KVM_LOAD_ADDR) loads its own IDT with lidt:
 * 64-bit interrupt gates (type 0xE, DPL 0, IST 0) with selector XG_KVM_SEL_CODE64. Each
 * handler reports its vector with `out %al, $0xe0` and returns with iretq. Findings on
 * kvm_pvm, kernel 6.18 (each one is a check below):
 *
 *  - KVM_SET_VCPU_EVENTS with exception.injected = 1 delivers the exception through the
 *    guest's IDT at the next KVM_RUN (api.rst 4.31). The 64-bit frame is the SDM's (Vol. 3A
 *    6.14.2): [error code,] RIP, CS = 0x08, RFLAGS, RSP, SS = 0x10, with the old RSP (no
 *    stack switch at CPL 0, IST 0). The pushed RFLAGS is the guest's (0x2): no RF for an
 *    injected event. An error code is pushed only with has_error_code (#GP, #PF).
 *  - Injected right after an IO exit (OUT), the OUT completes first: the frame's RIP is the
 *    next instruction. Injected after an emulation-failure exit, the frame's RIP is the
 *    failing instruction (nothing was executed) - the inject verdict's case.
 *  - exception.pending = 1 without KVM_CAP_EXCEPTION_PAYLOAD enabled is accepted (the ioctl
 *    returns 0) and silently dropped: the guest runs on as if nothing was set. With the cap
 *    and KVM_VCPUEVENT_VALID_PAYLOAD it is delivered as a fault (RFLAGS.RF = 1 in the frame)
 *    and a #PF payload becomes CR2. So inject with injected = 1, or enable the cap.
 *  - #PF injected with an error code: the handler sees CR2 as set with KVM_SET_SREGS and the
 *    error code on the frame.
 *  - iretq at CPL 0 works here (KVM's emulator handles the 64-bit same-privilege IRET): no
 *    need for a jmp-based return in guest handlers.
 *  - ud2 with the IDT reaches the #UD handler; the frame's RIP is the ud2 (a fault) with
 *    RFLAGS.RF = 1 (SDM Vol. 3A 18.3.1.1: faults set RF in the pushed image); a handler must
 *    add 2 to the saved RIP to go on.
 *  - An RDMSR exit to user space (KVM_EXIT_X86_RDMSR, api.rst 5 "KVM_EXIT_X86_RDMSR") answered
 *    with msr.data gives EDX:EAX = data and RIP past the rdmsr; with msr.error = 1 KVM
 *    injects #GP(0) at the rdmsr (frame RIP = the rdmsr, RF = 1). A #GP set with
 *    KVM_SET_VCPU_EVENTS after that exit comes too late: the next KVM_RUN first completes the
 *    rdmsr (EDX:EAX written, RIP advanced) and the frame's RIP is past it. An engine that
 *    injects #GP for an MSR exit must use msr.error.
 *  - On this machine (AMD EPYC with AVX-512, XCR0 = 0xe7) KVM_SET_XSAVE then KVM_GET_XSAVE
 *    keep the three AVX-512 components (opmask, ZMM_Hi256, Hi16_ZMM) in the standard-format
 *    image at the offsets CPUID leaf 0xD gives (SDM Vol. 1 13.4.2, api.rst 4.42). So an
 *    emulator can carry that state here; where it cannot, XSTATE_BV comes back without bits
 *    5-7 and the check below says so.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"

/* Guest RAM the test uses besides the payload; below 1 MiB, above the backend's tables. */
#define SAVE_GPA 0x1e000ULL /* the #PF handler stores CR2 here */
#define IDTR_GPA 0x1f000ULL /* lidt operand: limit (2 bytes), base (8 bytes) */
#define IDT_GPA	 0x20000ULL /* 256 16-byte gates */

#define PORT_MARK    0x80 /* the main code: 0xaa = "ready, inject now", 0xbb = "went on" */
#define PORT_HANDLER 0xe0 /* a handler: the vector */
#define UNKNOWN_MSR  0x4b564d99

/*
 * The guest. Every entry loads the IDT first. Addresses inside it are its offsets from
 * ev_guest plus XG_KVM_LOAD_ADDR (gaddr()); the IDT gates are written by the host.
 */
__asm__(".pushsection .rodata.ev_guest,\"a\"\n"
	".globl ev_guest, ev_guest_end, ev_mark, ev_after_mark, ev_ud2, ev_ud2_at\n"
	".globl ev_flds, ev_flds_at, ev_rdmsr, ev_rdmsr_at\n"
	".globl ev_h_ud, ev_h_ud_skip2, ev_h_gp, ev_h_gp_skip2, ev_h_pf\n"
	"ev_guest:\n"
	/* out 0xaa, then out 0xbb: the host injects between the two */
	"ev_mark:\n"
	"	mov $0x1f000, %eax\n"
	"	lidt (%rax)\n"
	"	mov $0xaa, %al\n"
	"	out %al, $0x80\n"
	"ev_after_mark:\n"
	"	mov $0xbb, %al\n"
	"	out %al, $0x80\n"
	"	hlt\n"
	/* ud2 with an IDT */
	"ev_ud2:\n"
	"	mov $0x1f000, %eax\n"
	"	lidt (%rax)\n"
	"ev_ud2_at:\n"
	"	ud2\n"
	"	mov $0xbb, %al\n"
	"	out %al, $0x80\n"
	"	hlt\n"
	/* an x87 load from the MMIO window: an emulation failure */
	"ev_flds:\n"
	"	mov $0x1f000, %eax\n"
	"	lidt (%rax)\n"
	"	movabs $0xd0000000, %rax\n"
	"ev_flds_at:\n"
	"	flds (%rax)\n"
	"	mov $0xbb, %al\n"
	"	out %al, $0x80\n"
	"	hlt\n"
	/* an unknown MSR: an exit to user space */
	"ev_rdmsr:\n"
	"	mov $0x1f000, %eax\n"
	"	lidt (%rax)\n"
	"	mov $0x4b564d99, %ecx\n"
	"ev_rdmsr_at:\n"
	"	rdmsr\n"
	"	mov $0xbb, %bl\n"
	"	mov %bl, %al\n"
	"	out %al, $0x80\n"
	"	hlt\n"
	/* handlers: report the vector, drop the error code, return */
	"ev_h_ud:\n"
	"	mov $6, %al\n"
	"	out %al, $0xe0\n"
	"	iretq\n"
	"ev_h_ud_skip2:\n"
	"	mov $6, %al\n"
	"	out %al, $0xe0\n"
	"	addq $2, (%rsp)\n"
	"	iretq\n"
	"ev_h_gp:\n"
	"	mov $13, %al\n"
	"	out %al, $0xe0\n"
	"	add $8, %rsp\n"
	"	iretq\n"
	"ev_h_gp_skip2:\n"
	"	mov $13, %al\n"
	"	out %al, $0xe0\n"
	"	add $8, %rsp\n"
	"	addq $2, (%rsp)\n"
	"	iretq\n"
	"ev_h_pf:\n"
	"	mov %cr2, %rax\n"
	"	mov %rax, 0x1e000\n"
	"	mov $14, %al\n"
	"	out %al, $0xe0\n"
	"	add $8, %rsp\n"
	"	iretq\n"
	"ev_guest_end:\n"
	".popsection\n");

extern const unsigned char ev_guest[], ev_guest_end[], ev_mark[], ev_after_mark[], ev_ud2[],
    ev_ud2_at[], ev_flds[], ev_flds_at[], ev_rdmsr[], ev_rdmsr_at[], ev_h_ud[], ev_h_ud_skip2[],
    ev_h_gp[], ev_h_gp_skip2[], ev_h_pf[];

static uint64_t gaddr(const unsigned char *sym)
{
	return XG_KVM_LOAD_ADDR + (uint64_t)(sym - ev_guest);
}

struct guest {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct kvm_run *run;
	uint64_t top; /* initial RSP: the top of RAM */
};

/* A 64-bit interrupt gate (SDM Vol. 3A 6.14.1, Figure 6-8): present, DPL 0, type 0xE. */
static void gate(struct guest *g, int vec, const unsigned char *handler)
{
	uint64_t a = gaddr(handler);
	uint64_t *e = xg_kvm_gpa_ptr(g->vm, IDT_GPA + 16 * (uint64_t)vec, 16);

	e[0] = (a & 0xffff) | ((uint64_t)XG_KVM_SEL_CODE64 << 16) | (0x8eULL << 40) |
	       ((a >> 16 & 0xffff) << 48);
	e[1] = a >> 32;
}

static void guest_new(struct guest *g, const unsigned char *entry, const char *name)
{
	struct xg_error err = {{0}};
	uint16_t limit = 256 * 16 - 1;
	uint64_t base = IDT_GPA;

	memset(g, 0, sizeof(*g));
	if (xg_kvm_vm_create(&g->vm, NULL, &err) ||
	    xg_kvm_enable_cap(g->vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(g->vm, XG_KVM_LOAD_ADDR, ev_guest, (size_t)(ev_guest_end - ev_guest), &err))
		bail("%s: %s", name, err.msg);
	uint8_t *idtr = xg_kvm_gpa_ptr(g->vm, IDTR_GPA, 10);
	memcpy(idtr, &limit, 2);
	memcpy(idtr + 2, &base, 8);
	if (xg_kvm_vcpu_create(g->vm, 0, gaddr(entry), &g->v, &err))
		bail("%s: %s", name, err.msg);
	g->run = xg_kvm_vcpu_run_area(g->v, NULL);
	g->top = xg_kvm_mem_size(g->vm);
}

static struct kvm_regs regs_of(struct guest *g)
{
	struct xg_error err = {{0}};
	struct kvm_regs r;

	if (xg_kvm_get_regs(g->v, &r, &err))
		bail("%s", err.msg);
	return r;
}

static const char *reason_text(struct kvm_run *run)
{
	static char buf[128];

	if (run->exit_reason == KVM_EXIT_IO)
		snprintf(buf, sizeof(buf), "IO port %#x data %#x", run->io.port,
			 ((uint8_t *)run)[run->io.data_offset]);
	else
		snprintf(buf, sizeof(buf), "exit reason %u", run->exit_reason);
	return buf;
}

/* KVM_RUN once; passes when the guest stops with an OUT of `data` to `port`. */
static int run_to_out(struct guest *g, int port, int data, const char *what)
{
	int r = xg_kvm_vcpu_run(g->v);

	if (r)
		return ok(0, "%s: KVM_RUN failed: %s", what, strerror(-r));
	return ok(g->run->exit_reason == KVM_EXIT_IO && g->run->io.port == port &&
		      ((uint8_t *)g->run)[g->run->io.data_offset] == data,
		  "%s: OUT %#x to port %#x (got %s)", what, data, port, reason_text(g->run));
}

static int run_to_exit(struct guest *g, unsigned reason, const char *what)
{
	int r = xg_kvm_vcpu_run(g->v);

	if (r)
		return ok(0, "%s: KVM_RUN failed: %s", what, strerror(-r));
	return ok(g->run->exit_reason == reason, "%s: exit %u (got %s)", what, reason,
		  reason_text(g->run));
}

/* The words at the guest's RSP; words past the top of RAM read as 0. */
static void stack_words(struct guest *g, uint64_t *w, int n)
{
	uint64_t rsp = regs_of(g).rsp;

	memset(w, 0, sizeof(*w) * (size_t)n);
	for (int i = 0; i < n && rsp + 8 * (uint64_t)(i + 1) <= g->top; i++)
		memcpy(&w[i], xg_kvm_gpa_ptr(g->vm, rsp + 8 * (uint64_t)i, 8), 8);
}

/* The 64-bit interrupt frame (SDM Vol. 3A 6.14.2, Figure 6-9) after an optional error code. */
static void check_frame(struct guest *g, int has_err, uint64_t err_code, uint64_t rip,
			uint64_t rflags, const char *what)
{
	uint64_t w[6];
	const uint64_t *f = w + (has_err ? 1 : 0);

	stack_words(g, w, 6);
	is_hex(regs_of(g).rsp, g->top - (has_err ? 48 : 40), "%s: RSP is the frame's base", what);
	if (has_err)
		is_hex(w[0], err_code, "%s: error code on the frame", what);
	is_hex(f[0], rip, "%s: frame RIP", what);
	is_hex(f[1], XG_KVM_SEL_CODE64, "%s: frame CS", what);
	is_hex(f[2], rflags, "%s: frame RFLAGS", what);
	is_hex(f[3], g->top, "%s: frame RSP is the interrupted one", what);
	is_hex(f[4], XG_KVM_SEL_DATA, "%s: frame SS", what);
}

static int set_exception(struct guest *g, int nr, int has_err, uint32_t code, int pending,
			 int with_payload, uint64_t payload)
{
	struct xg_error err = {{0}};
	struct kvm_vcpu_events ev;

	if (xg_kvm_get_vcpu_events(g->v, &ev, &err)) {
		diag("%s", err.msg);
		return -1;
	}
	ev.exception.injected = (uint8_t)!pending;
	ev.exception.pending = (uint8_t)pending;
	ev.exception.nr = (uint8_t)nr;
	ev.exception.has_error_code = (uint8_t)has_err;
	ev.exception.error_code = code;
	ev.flags = with_payload ? KVM_VCPUEVENT_VALID_PAYLOAD : 0;
	ev.exception_has_payload = (uint8_t)(with_payload > 1);
	ev.exception_payload = payload;
	if (xg_kvm_set_vcpu_events(g->v, &ev, &err)) {
		diag("%s", err.msg);
		return -1;
	}
	return 0;
}

static int payload_cap(struct guest *g)
{
	struct xg_error err = {{0}};

	if (xg_kvm_enable_cap(g->vm, KVM_CAP_EXCEPTION_PAYLOAD, 1, &err)) {
		diag("%s", err.msg);
		return -1;
	}
	return 0;
}

/* (a)+(b): injected #UD after an OUT; the frame; iretq back. */
static void injected_ud(void)
{
	struct guest g;

	guest_new(&g, ev_mark, "injected #UD");
	gate(&g, 6, ev_h_ud);
	run_to_out(&g, PORT_MARK, 0xaa, "injected #UD: guest ready");
	is_int(set_exception(&g, 6, 0, 0, 0, 0, 0), 0, "injected #UD: KVM_SET_VCPU_EVENTS");
	if (run_to_out(&g, PORT_HANDLER, 6, "injected #UD: the IDT handler runs"))
		check_frame(&g, 0, 0, gaddr(ev_after_mark), 0x2, "injected #UD after OUT");
	if (run_to_out(&g, PORT_MARK, 0xbb, "iretq at CPL 0 returns to the interrupted code"))
		is_hex(regs_of(&g).rsp, g.top, "iretq restored RSP");
	run_to_exit(&g, KVM_EXIT_HLT, "then the guest halts");
	xg_kvm_vm_destroy(g.vm);
}

/* exception.pending: dropped without the payload capability, delivered with it. */
static void pending_ud(void)
{
	struct guest g;

	guest_new(&g, ev_mark, "pending #UD");
	gate(&g, 6, ev_h_ud);
	run_to_out(&g, PORT_MARK, 0xaa, "pending #UD, no payload cap: guest ready");
	is_int(set_exception(&g, 6, 0, 0, 1, 0, 0), 0,
	       "pending #UD, no payload cap: KVM_SET_VCPU_EVENTS accepts it");
	run_to_out(&g, PORT_MARK, 0xbb, "... but drops it: the guest goes on, no handler");
	xg_kvm_vm_destroy(g.vm);

	guest_new(&g, ev_mark, "pending #UD with cap");
	gate(&g, 6, ev_h_ud);
	is_int(payload_cap(&g), 0, "KVM_CAP_EXCEPTION_PAYLOAD can be enabled");
	run_to_out(&g, PORT_MARK, 0xaa, "pending #UD with the cap: guest ready");
	is_int(set_exception(&g, 6, 0, 0, 1, 1, 0), 0,
	       "pending #UD with VALID_PAYLOAD: KVM_SET_VCPU_EVENTS");
	if (run_to_out(&g, PORT_HANDLER, 6, "pending #UD with the cap: delivered"))
		check_frame(&g, 0, 0, gaddr(ev_after_mark), 0x10002,
			    "pending #UD (delivered as a fault: RF set)");
	xg_kvm_vm_destroy(g.vm);
}

/* #GP with an error code. */
static void injected_gp(void)
{
	struct guest g;

	guest_new(&g, ev_mark, "injected #GP");
	gate(&g, 13, ev_h_gp);
	run_to_out(&g, PORT_MARK, 0xaa, "injected #GP: guest ready");
	is_int(set_exception(&g, 13, 1, 0x18, 0, 0, 0), 0, "injected #GP(0x18)");
	if (run_to_out(&g, PORT_HANDLER, 13, "injected #GP: the handler runs"))
		check_frame(&g, 1, 0x18, gaddr(ev_after_mark), 0x2, "injected #GP");
	run_to_out(&g, PORT_MARK, 0xbb, "injected #GP: iretq after dropping the error code");
	xg_kvm_vm_destroy(g.vm);
}

/* (d): #PF with an error code; CR2 from KVM_SET_SREGS, or from the payload. */
static void injected_pf(void)
{
	struct xg_error err = {{0}};
	struct guest g;
	struct kvm_sregs s;
	uint64_t *saved;

	guest_new(&g, ev_mark, "injected #PF");
	gate(&g, 14, ev_h_pf);
	saved = xg_kvm_gpa_ptr(g.vm, SAVE_GPA, 8);
	run_to_out(&g, PORT_MARK, 0xaa, "injected #PF: guest ready");
	if (xg_kvm_get_sregs(g.v, &s, &err))
		bail("%s", err.msg);
	s.cr2 = 0xdead000;
	if (xg_kvm_set_sregs(g.v, &s, &err))
		bail("%s", err.msg);
	is_int(set_exception(&g, 14, 1, 0x2, 0, 0, 0), 0, "injected #PF(write, not present)");
	if (run_to_out(&g, PORT_HANDLER, 14, "injected #PF: the handler runs")) {
		check_frame(&g, 1, 0x2, gaddr(ev_after_mark), 0x2, "injected #PF");
		is_hex(*saved, 0xdead000, "the handler reads CR2 as KVM_SET_SREGS set it");
	}
	run_to_out(&g, PORT_MARK, 0xbb, "injected #PF: iretq");
	xg_kvm_vm_destroy(g.vm);

	guest_new(&g, ev_mark, "pending #PF with payload");
	gate(&g, 14, ev_h_pf);
	saved = xg_kvm_gpa_ptr(g.vm, SAVE_GPA, 8);
	is_int(payload_cap(&g), 0, "KVM_CAP_EXCEPTION_PAYLOAD for #PF");
	run_to_out(&g, PORT_MARK, 0xaa, "pending #PF with payload: guest ready");
	is_int(set_exception(&g, 14, 1, 0x2, 1, 2, 0xbeef000), 0,
	       "pending #PF with payload 0xbeef000");
	if (run_to_out(&g, PORT_HANDLER, 14, "pending #PF: the handler runs"))
		is_hex(*saved, 0xbeef000, "the payload became CR2 at delivery");
	xg_kvm_vm_destroy(g.vm);
}

/* (c): ud2 with the IDT. */
static void guest_ud2(void)
{
	struct guest g;

	guest_new(&g, ev_ud2, "ud2");
	gate(&g, 6, ev_h_ud_skip2);
	if (run_to_out(&g, PORT_HANDLER, 6, "ud2 with an IDT reaches the #UD handler"))
		check_frame(&g, 0, 0, gaddr(ev_ud2_at), 0x10002,
			    "ud2 (a fault: RIP at ud2, RF set)");
	run_to_out(&g, PORT_MARK, 0xbb, "the handler skips the ud2 and iretq goes on");
	run_to_exit(&g, KVM_EXIT_HLT, "ud2: then the guest halts");
	xg_kvm_vm_destroy(g.vm);
}

/* The inject verdict's situation: #UD for an instruction KVM could not emulate. */
static void emulation_failure_ud(void)
{
	struct guest g;

	guest_new(&g, ev_flds, "flds");
	gate(&g, 6, ev_h_ud_skip2);
	if (run_to_exit(&g, KVM_EXIT_INTERNAL_ERROR, "flds on MMIO: emulation failure"))
		is_hex(regs_of(&g).rip, gaddr(ev_flds_at), "RIP at the flds");
	is_int(set_exception(&g, 6, 0, 0, 0, 0, 0), 0, "inject #UD for it");
	if (run_to_out(&g, PORT_HANDLER, 6, "flds: the #UD handler runs"))
		check_frame(&g, 0, 0, gaddr(ev_flds_at), 0x2, "#UD after an emulation failure");
	run_to_out(&g, PORT_MARK, 0xbb, "flds: the handler skips the 2-byte flds");
	xg_kvm_vm_destroy(g.vm);
}

/* RDMSR exits: the three ways to answer. */
static void rdmsr(void)
{
	static const char *how[] = {"msr.data", "msr.error", "KVM_SET_VCPU_EVENTS #GP"};

	for (int mode = 0; mode < 3; mode++) {
		struct xg_error err = {{0}};
		struct guest g;
		struct kvm_regs r;

		guest_new(&g, ev_rdmsr, how[mode]);
		gate(&g, 13, mode == 1 ? ev_h_gp_skip2 : ev_h_gp);
		if (xg_kvm_enable_cap(g.vm, KVM_CAP_X86_USER_SPACE_MSR, KVM_MSR_EXIT_REASON_UNKNOWN,
				      &err))
			bail("KVM_CAP_X86_USER_SPACE_MSR: %s", err.msg);
		if (!run_to_exit(&g, KVM_EXIT_X86_RDMSR, "rdmsr of an unknown MSR")) {
			xg_kvm_vm_destroy(g.vm);
			continue;
		}
		is_hex(g.run->msr.index, UNKNOWN_MSR, "the exit names the MSR");
		if (mode == 0) {
			g.run->msr.data = 0x1122334455667788ULL;
			if (run_to_out(&g, PORT_MARK, 0xbb, "msr.data: the guest goes on")) {
				r = regs_of(&g);
				is_hex(r.rax & 0xffffff00, 0x55667700,
				       "msr.data: EAX is the low half");
				is_hex(r.rdx, 0x11223344, "msr.data: EDX is the high half");
			}
		} else if (mode == 1) {
			g.run->msr.error = 1;
			if (run_to_out(&g, PORT_HANDLER, 13, "msr.error: #GP reaches the handler"))
				check_frame(&g, 1, 0, gaddr(ev_rdmsr_at), 0x10002,
					    "msr.error #GP (a fault at the rdmsr)");
			run_to_out(&g, PORT_MARK, 0xbb, "msr.error: the handler skips the rdmsr");
		} else {
			set_exception(&g, 13, 1, 0, 0, 0, 0);
			if (run_to_out(&g, PORT_HANDLER, 13,
				       "SET_VCPU_EVENTS #GP reaches the handler"))
				check_frame(&g, 1, 0, gaddr(ev_rdmsr_at) + 2, 0x2,
					    "SET_VCPU_EVENTS #GP after an RDMSR exit: the rdmsr "
					    "completed first, RIP is past it");
		}
		xg_kvm_vm_destroy(g.vm);
	}
}

/* AVX-512 state through KVM_SET_XSAVE / KVM_GET_XSAVE: a mark in each component comes back. */
static void xsave_avx512(void)
{
	static const char *name[] = {"opmask k1", "ZMM_Hi256 of zmm1", "Hi16_ZMM zmm17"};
	struct xg_error err = {{0}};
	struct guest g;
	unsigned a, b, c, d, off[3];
	uint64_t bv, mark = 0x5a5aa5a5c3c33c3cULL, got;

	guest_new(&g, ev_mark, "xsave");
	if ((xg_kvm_vcpu_xcr0(g.v) & 0xe0) != 0xe0) {
		skip(4, "XCR0 %#llx has no AVX-512 state here",
		     (unsigned long long)xg_kvm_vcpu_xcr0(g.v));
		xg_kvm_vm_destroy(g.vm);
		return;
	}
	/* component i's offset in the standard format: CPUID.(EAX=0DH, ECX=i):EBX; k1 is the
	 * second 8-byte opmask, zmm1's upper half the second 32-byte slot, zmm17 the second
	 * 64-byte slot (SDM Vol. 1 13.11, 13.12) */
	for (int i = 0; i < 3; i++) {
		__cpuid_count(0xd, 5 + i, a, b, c, d);
		off[i] = b + (unsigned[]){8, 32, 64}[i];
	}
	size_t size = xg_kvm_xsave_size(g.v);
	uint8_t *xs = calloc(1, size);
	if (!xs)
		bail("out of memory");
	if (xg_kvm_get_xsave(g.v, xs, size, &err))
		bail("%s", err.msg);
	memcpy(&bv, xs + 512, 8);
	bv |= 0xe0;
	memcpy(xs + 512, &bv, 8);
	for (int i = 0; i < 3; i++)
		if (off[i] + 8 <= size)
			memcpy(xs + off[i], &mark, 8);
	if (xg_kvm_set_xsave(g.v, xs, size, &err) || xg_kvm_get_xsave(g.v, xs, size, &err))
		bail("%s", err.msg);
	memcpy(&bv, xs + 512, 8);
	is_hex(bv & 0xe0, 0xe0, "KVM_GET_XSAVE: XSTATE_BV keeps the AVX-512 bits");
	for (int i = 0; i < 3; i++) {
		got = 0;
		if (off[i] + 8 <= size)
			memcpy(&got, xs + off[i], 8);
		is_hex(got, mark, "%s survives KVM_SET_XSAVE/KVM_GET_XSAVE (offset %u)", name[i],
		       off[i]);
	}
	free(xs);
	xg_kvm_vm_destroy(g.vm);
}

int main(void)
{
	char why[256];

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	injected_ud();
	pending_ud();
	injected_gp();
	injected_pf();
	guest_ud2();
	emulation_failure_ud();
	rdmsr();
	xsave_avx512();
	return done_testing();
}
