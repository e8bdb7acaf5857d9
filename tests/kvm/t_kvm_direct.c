/*
 * t_kvm_direct.c - the memo's direct path (xg_emu_x86_memo_direct) on a real vCPU, through
 * the KVM backend's x86_kvm_regs/x86_kvm_regs_put (kvm_run's own registers, KVM_CAP_SYNC_REGS)
 * and the engine's emulate verdict, with and without the per-exit profile (whose shims sit
 * in front of those ops), and with XG_KVM_NO_DIRECT=1 (the memo's short path) to compare.
 *
 * 1. A GP load the engine emulates on every pass of a guest loop: `mov (%rax),%rbx` from the
 *    device, summed into RDX by the guest. KVM emulates such a move itself, so the exit is
 *    made by the test: the guest halts before the load, and at that HLT exit the test writes
 *    an emulation failure carrying the load's bytes into kvm_run (api.rst 5, "kvm_run":
 *    emulation_failure) and hands it to the engine; RIP and the registers are the vCPU's. After
 *    each emulation the next KVM_RUN is made to fail before KVM applies the registers (an
 *    unknown kvm_valid_regs bit: EINVAL before sync_regs(), and store_regs() on the way out
 *    puts KVM's own registers over kvm_run's; arch/x86/kvm/x86.c kvm_arch_vcpu_ioctl_run).
 *    kvm_dirty_regs holds only KVM_SYNC_X86_REGS then, so the backend puts back what was
 *    written by what x86_kvm_regs_put was told: the GPR the load wrote only with gprs = 1
 *    (kvm_x86.c, xg_kvm_arch_run_dirty; t_kvm_syncregs' refusal, an unknown kvm_dirty_regs
 *    bit, takes the path that puts back everything). The guest's sum must be the device's.
 * 2. A VEX load from the device (a real emulation failure), compiled, then taken by the direct
 *    path; then XCR0 is set to x87|SSE from outside (KVM_SET_XCRS, whose value the backend
 *    keeps as the copy x86_kvm_regs hands over): the next exit on the load is #UD (SDM Vol. 2
 *    2.8, exception class 4), not emulated.
 * 3. The translation the direct path keeps between exits (struct xg_emu_x86_tlb, the backend's
 *    ram_gen) against a guest that rewrites its own page table: the VEX load from virtual
 *    0xd0000000 in a loop that, every other pass, flips the page-directory entry mapping it
 *    between two device pages (GPA 0xd0000000 and 0xd0200000; the backend's identity map,
 *    kvm_x86.c) and INVLPGs. Every emulated load must read the device page the guest mapped
 *    at that moment, and the backend's ram_ptr is counted: a load after a flip walks the
 *    tables (four lookups: three levels and the device's GPA), the load after it, with the
 *    tables as they were, is served from the kept translation (one lookup: the device's). With
 *    XG_KVM_NO_TLB=1 every load walks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"
#include "xg_emu_x86.h"

#define N 12

/* At XG_KVM_LOAD_ADDR, 64-bit mode */
static const uint8_t guest_gp[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /*    mov $0xd0000000,%eax */
    0xb9, N,	0x00, 0x00, 0x00, /*    mov $N,%ecx          */
    0x31, 0xd2,			  /*    xor %edx,%edx        */
    0xf4,			  /* 1: hlt                  */
    0x48, 0x8b, 0x18,		  /*    mov (%rax),%rbx      (the test's exit) */
    0x48, 0x01, 0xda,		  /*    add %rbx,%rdx        */
    0xff, 0xc9,			  /*    dec %ecx             */
    0x75, 0xf5,			  /*    jne 1b               */
    0xf4,			  /*    hlt                  */
};
#define LOAD_RIP (XG_KVM_LOAD_ADDR + 13)

static const uint8_t guest_vex[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /*    mov $0xd0000000,%eax */
    0xc5, 0xfe, 0x6f, 0x00,	  /* 1: vmovdqu (%rax),%ymm0 */
    0xeb, 0xfa,			  /*    jmp 1b               */
};

/* The device: an 8-byte read k (from 1) returns k * 0x0101010101010101 + 0x1000 k^2; a
 * 32-byte one its bytes. */
static uint64_t dev_reads, dev_sum;

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	uint64_t k = ++dev_reads, v = k * 0x0101010101010101ull + 0x1000 * k * k;

	(void)vmm;
	if (gpa != XG_KVM_MMIO_BASE)
		return -ENODEV;
	if (len == 8) {
		dev_sum += v;
		memcpy(buf, &v, 8);
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(k + i);
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	(void)vmm, (void)gpa, (void)buf, (void)len;
	return -ENODEV;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

/* A VM running `code` at XG_KVM_LOAD_ADDR in 64-bit mode, emulation failures exiting to us,
 * its devices `dev`, and its vCPU's ops in *ops. */
static struct xg_kvm_vcpu *guest(struct xg_kvm_vm **vm, const uint8_t *code, size_t len,
				 const struct xg_kvm_vmm_ops *dev, struct xg_vcpu_ops *ops,
				 const char *what)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vcpu *kv;

	if (xg_kvm_vm_create(vm, NULL, &err) ||
	    xg_kvm_enable_cap(*vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(*vm, XG_KVM_LOAD_ADDR, code, len, &err) ||
	    xg_kvm_vcpu_create(*vm, 0, XG_KVM_LOAD_ADDR, &kv, &err))
		bail("%s: %s", what, err.msg);
	xg_kvm_vcpu_set_vmm(kv, dev, NULL);
	xg_kvm_vcpu_ops(kv, ops);
	return kv;
}

/* x86_kvm_regs_put counted on its way to the backend's */
static void (*backend_put)(void *, int);
static unsigned nput, nput_gprs;

static void counting_put(void *o, int gprs)
{
	nput++;
	nput_gprs += gprs != 0;
	backend_put(o, gprs);
}

static char dir[] = "/tmp/xg-kvm-direct-XXXXXX";
static char policy[64];

struct outcome {
	uint64_t rdx, rip, want;
	unsigned emulated, refused, puts, puts_gprs;
	int halted;
	char why[256];
};

/* Case 1 with the backend as the environment says (XG_KVM_NO_DIRECT), the profile on or off */
static void gp_loop(struct outcome *o, int profile)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *kv;
	struct xg_vcpu_ops ops;
	struct xg_profile prof;
	struct kvm_regs regs;
	struct kvm_run *run;
	size_t run_size;
	xg_config *cfg;
	xg_engine *eng;
	xg_vcpu *v;

	memset(o, 0, sizeof(*o));
	dev_reads = dev_sum = 0;
	nput = nput_gprs = 0;
	kv = guest(&vm, guest_gp, sizeof(guest_gp), &dev_ops, &ops, "the guest");
	if (ops.x86_kvm_regs_put) {
		backend_put = ops.x86_kvm_regs_put;
		ops.x86_kvm_regs_put = counting_put;
	}
	run = xg_kvm_vcpu_run_area(kv, &run_size);
	cfg = xg_config_for_policy(policy, &err);
	eng = cfg ? xg_engine_new(cfg, &err) : NULL;
	v = eng ? xg_vcpu_attach(eng, "default", 0, &ops, kv, &err) : NULL;
	if (!v)
		bail("the engine: %s", err.msg);
	memset(&prof, 0, sizeof(prof));
	if (profile) {
		xg_vcpu_set_profile(v, &prof);
		xg_kvm_vcpu_set_profile(kv, &prof);
	}
	for (unsigned n = 0; n < 4 * N; n++) {
		struct xg_result r;
		int rc = xg_kvm_vcpu_run(kv);
		if (rc == -EINVAL && (run->kvm_valid_regs & (1u << 30))) {
			/* KVM refused the run before applying kvm_run's registers */
			o->refused++;
			run->kvm_valid_regs &= ~(1u << 30);
			continue;
		}
		if (rc || run->exit_reason != KVM_EXIT_HLT) {
			snprintf(o->why, sizeof(o->why), "KVM_RUN %d, exit %u", rc,
				 run->exit_reason);
			break;
		}
		if (xg_kvm_get_regs(kv, &regs, &err))
			bail("KVM_GET_REGS: %s", err.msg);
		if (regs.rip != LOAD_RIP) {
			o->halted = 1;
			break;
		}
		/* the load's emulation failure, as KVM reports one (data[] after the flags:
		 * insn_size and 15 bytes fetched at RIP) */
		run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
		run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
		run->emulation_failure.ndata = 3;
		run->emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
		run->emulation_failure.insn_size = 15;
		memset(run->emulation_failure.insn_bytes, 0x90, 15);
		memcpy(run->emulation_failure.insn_bytes, guest_gp + (LOAD_RIP - XG_KVM_LOAD_ADDR),
		       sizeof(guest_gp) - (LOAD_RIP - XG_KVM_LOAD_ADDR));
		r = xg_handle_exit(v, run, run_size, 0);
		if (r.next != XG_NEXT_RUN) {
			snprintf(o->why, sizeof(o->why), "the engine: %s",
				 r.reason ? r.reason : "not run");
			break;
		}
		o->emulated++;
		run->kvm_valid_regs |= 1u << 30; /* no such field: the next KVM_RUN fails */
	}
	if (profile) {
		xg_vcpu_set_profile(v, NULL);
		xg_kvm_vcpu_set_profile(kv, NULL);
	}
	if (xg_kvm_get_regs(kv, &regs, &err))
		bail("KVM_GET_REGS: %s", err.msg);
	o->rdx = regs.rdx;
	o->rip = regs.rip;
	o->want = dev_sum;
	o->puts = nput;
	o->puts_gprs = nput_gprs;
	xg_vcpu_detach(v);
	xg_engine_free(eng);
	xg_config_free(cfg);
	xg_kvm_vm_destroy(vm);
}

static void gp_check(const struct outcome *o, const char *how)
{
	if (!ok(o->halted && o->emulated == N && o->refused == N,
		"%s: the guest ran to its HLT, %u loads emulated, %u runs refused", how,
		o->emulated, o->refused))
		diag("%s", o->why);
	ok(o->rdx == o->want, "%s: the guest's sum is the device's (%#llx, want %#llx)", how,
	   (unsigned long long)o->rdx, (unsigned long long)o->want);
}

/* Case 2: XCR0 without AVX from outside, after the direct path took the VEX load */
static void vex_xcr0(void)
{
	struct xg_error err = {{0}};
	struct xg_emu_x86_memo memo;
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *kv;
	struct xg_vcpu_ops ops;
	struct kvm_run *run;
	struct kvm_xcrs x;
	size_t run_size;
	unsigned taken_before = 0;
	char why[256] = "";

	memset(&memo, 0, sizeof(memo));
	nput = nput_gprs = 0;
	kv = guest(&vm, guest_vex, sizeof(guest_vex), &dev_ops, &ops, "the VEX guest");
	if ((xg_kvm_vcpu_xcr0(kv) & 6) != 6) {
		skip(3, "KVM offers no AVX state here");
		xg_kvm_vm_destroy(vm);
		return;
	}
	if (!ops.lend_xsave) { /* the direct path takes a vector move only in a lent image */
		skip(3, "the backend does not lend its XSAVE image (XG_KVM_NO_LEND set)");
		xg_kvm_vm_destroy(vm);
		return;
	}
	backend_put = ops.x86_kvm_regs_put;
	ops.x86_kvm_regs_put = counting_put;
	run = xg_kvm_vcpu_run_area(kv, &run_size);
	for (int n = 0; n < 3; n++) {
		struct xg_emu_x86_result res;
		struct xg_exit e;
		int rc;
		if (n == 2) {
			taken_before = nput;
			memset(&x, 0, sizeof(x));
			x.nr_xcrs = 1;
			x.xcrs[0].xcr = 0;
			x.xcrs[0].value = 3; /* x87 | SSE */
			if (xg_kvm_set_xcrs(kv, &x, &err))
				bail("KVM_SET_XCRS: %s", err.msg);
		}
		rc = xg_kvm_vcpu_run(kv);
		if (!n && !rc && run->exit_reason == KVM_EXIT_MMIO) {
			/* a kernel that emulates VEX moves itself (kvm-on-this-machine.md) */
			skip(3, "KVM emulated the VEX load itself (exit %u)", run->exit_reason);
			xg_kvm_vm_destroy(vm);
			return;
		}
		if (rc || run->exit_reason != KVM_EXIT_INTERNAL_ERROR)
			bail("KVM_RUN %d, exit %u: not the VEX load's emulation failure", rc,
			     run->exit_reason);
		if (xg_exit_decode(&e, run, run_size, NULL, &err))
			bail("%s", err.msg);
		rc = xg_emulate_x86(&ops, kv, &e, &memo, &res, why, sizeof(why));
		if (n < 2 && (rc || res.status != XG_EMU_X86_OK))
			bail("the VEX load, exit %d: %s", n, why);
		if (n == 2)
			ok(!rc && res.status == XG_EMU_X86_EXCEPTION &&
			       res.exc.vector == XG_EMU_X86_UD,
			   "XCR0 set to x87|SSE from outside: the compiled VEX load is #UD (status "
			   "%s, vector %u)",
			   xg_emu_x86_status_name(res.status), res.exc.vector);
	}
	ok(taken_before == 1, "the direct path took the load's second exit (puts %u)",
	   taken_before);
	ok(nput == taken_before, "... and not the one under XCR0 x87|SSE");
	xg_kvm_vm_destroy(vm);
}

/* Case 3's guest: its PDE for virtual 0xd0000000 (the fourth page directory, at 0x8000 in the
 * backend's tables, entry 0x80) flipped between GPA 0xd0000000 and 0xd0200000 on odd passes */
#define FLIPS 16
/* clang-format off */
static const uint8_t guest_flip[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0,			/*    mov $0xd0000000,%eax   */
    0xb9, 2 * FLIPS, 0x00, 0x00, 0x00,			/*    mov $2*FLIPS,%ecx      */
    0xc5, 0xfe, 0x6f, 0x00,				/* 1: vmovdqu (%rax),%ymm0   */
    0xf6, 0xc1, 0x01,					/*    test $1,%cl            */
    0x74, 0x0e,						/*    je 2f                  */
    0x81, 0x34, 0x25, 0x00, 0x84, 0x00, 0x00,		/*    xorl $0x200000,0x8400  */
    0x00, 0x00, 0x20, 0x00,
    0x0f, 0x01, 0x38,					/*    invlpg (%rax)          */
    0xff, 0xc9,						/* 2: dec %ecx               */
    0x75, 0xe5,						/*    jne 1b                 */
    0xf4,						/*    hlt                    */
};
/* clang-format on */

static uint64_t flip_gpa[2 * FLIPS + 4];
static unsigned flip_reads, ram_lookups;

static int flip_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	(void)vmm;
	if (gpa != XG_KVM_MMIO_BASE && gpa != XG_KVM_MMIO_BASE + 0x200000)
		return -ENODEV;
	if (flip_reads < sizeof(flip_gpa) / sizeof(flip_gpa[0]))
		flip_gpa[flip_reads] = gpa;
	flip_reads++;
	memset(buf, (int)(gpa >> 21), len);
	return 0;
}

static const struct xg_kvm_vmm_ops flip_ops = {.mmio_read = flip_read, .mmio_write = dev_write};

static const void *(*backend_ram_ptr)(void *, uint64_t, size_t);

static const void *counting_ram_ptr(void *o, uint64_t gpa, size_t len)
{
	ram_lookups++;
	return backend_ram_ptr(o, gpa, len);
}

/* Case 3 with the backend as the environment says (XG_KVM_NO_TLB): 1 if it ran */
static int flip_loop(const char *how, int kept)
{
	struct xg_error err = {{0}};
	struct xg_emu_x86_memo memo;
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *kv;
	struct xg_vcpu_ops ops;
	struct kvm_run *run;
	size_t run_size;
	unsigned lookups[2 * FLIPS], wrong_gpa = 0, wrong_lookups = 0, exits = 0;
	char why[256] = "";

	memset(&memo, 0, sizeof(memo));
	flip_reads = 0;
	kv = guest(&vm, guest_flip, sizeof(guest_flip), &flip_ops, &ops, "the page-flipping guest");
	if ((xg_kvm_vcpu_xcr0(kv) & 6) != 6 || !ops.lend_xsave) {
		skip(2, "%s: no AVX state here, or no lent XSAVE image (XG_KVM_NO_LEND)", how);
		xg_kvm_vm_destroy(vm);
		return 0;
	}
	if (!ops.ram_gen != !kept)
		bail("%s: the backend %s ram_gen", how, kept ? "gives no" : "gives a");
	backend_ram_ptr = ops.ram_ptr;
	ops.ram_ptr = counting_ram_ptr;
	run = xg_kvm_vcpu_run_area(kv, &run_size);
	for (;;) {
		struct xg_emu_x86_result res;
		struct xg_exit e;
		int rc = xg_kvm_vcpu_run(kv);
		if (!rc && run->exit_reason == KVM_EXIT_HLT)
			break;
		if (!exits && !rc && run->exit_reason == KVM_EXIT_MMIO) {
			skip(2, "%s: KVM emulated the VEX load itself", how);
			xg_kvm_vm_destroy(vm);
			return 0;
		}
		if (rc || run->exit_reason != KVM_EXIT_INTERNAL_ERROR || exits >= 2 * FLIPS)
			bail("%s: KVM_RUN %d, exit %u after %u loads: not the load's emulation "
			     "failure",
			     how, rc, run->exit_reason, exits);
		if (xg_exit_decode(&e, run, run_size, NULL, &err))
			bail("%s", err.msg);
		ram_lookups = 0;
		rc = xg_emulate_x86(&ops, kv, &e, &memo, &res, why, sizeof(why));
		if (rc || res.status != XG_EMU_X86_OK)
			bail("%s: load %u: %s", how, exits, why);
		lookups[exits++] = ram_lookups;
	}
	/* pass k (from 0) reads the page mapped before it: flips come after odd passes */
	for (unsigned k = 0; k < exits && k < flip_reads; k++) {
		uint64_t want = XG_KVM_MMIO_BASE + ((k / 2) % 2) * 0x200000;
		if (flip_gpa[k] != want && wrong_gpa++ < 3)
			diag("%s: load %u read GPA %#llx, the guest mapped %#llx", how, k,
			     (unsigned long long)flip_gpa[k], (unsigned long long)want);
	}
	/* the first load compiles (the pipeline), the second walks and keeps; after that a
	 * load right after a flip (even passes) walks, the one after it is served */
	for (unsigned k = 1; k < exits; k++) {
		unsigned want = kept && k % 2 == 1 && k > 1 ? 1 : 4;
		if (lookups[k] != want && wrong_lookups++ < 3)
			diag("%s: load %u made %u RAM lookups, want %u", how, k, lookups[k], want);
	}
	ok(exits == 2 * FLIPS && flip_reads == exits && !wrong_gpa,
	   "%s: the guest ran to its HLT, each of its %u loads read the device page it mapped "
	   "then (%u reads)",
	   how, exits, flip_reads);
	ok(!wrong_lookups,
	   kept ? "%s: a load after a flip walked the tables, the next one was served from the "
		  "kept translation"
		: "%s: every load walked the tables",
	   how);
	xg_kvm_vm_destroy(vm);
	return 1;
}

/* Does the backend keep the registers in kvm_run (KVM_CAP_SYNC_REGS, not turned off)? */
static int have_sync_regs(void)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *kv;
	size_t run_size;
	int sync;

	if (xg_kvm_vm_create(&vm, NULL, &err) ||
	    xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &kv, &err))
		bail("a vCPU: %s", err.msg);
	sync = (xg_kvm_vcpu_run_area(kv, &run_size)->kvm_valid_regs & KVM_SYNC_X86_REGS) != 0;
	xg_kvm_vm_destroy(vm);
	return sync;
}

int main(void)
{
	struct outcome direct, profiled, memo_only;
	char why[256];
	FILE *f;

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	unsetenv("XG_KVM_NO_DIRECT");
	if (!have_sync_regs())
		skip_all(
		    "the direct path needs the registers in kvm_run: no KVM_CAP_SYNC_REGS here, "
		    "or XG_KVM_NO_SYNC_REGS set");
	if (!mkdtemp(dir))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(policy, sizeof(policy), "%s/p.lua", dir);
	f = fopen(policy, "w");
	if (!f ||
	    fputs("local xg = require 'exitgate'\n"
		  "return { emulation_failure = function(e) return xg.emulate() end }\n",
		  f) < 0 ||
	    fclose(f))
		bail("%s: %s", policy, strerror(errno));
	plan(16);

	gp_loop(&direct, 0);
	gp_check(&direct, "direct path");
	ok(direct.puts == N - 1 && direct.puts_gprs == N - 1,
	   "direct path: it took every load after the first, each put with its GPR (%u puts, "
	   "%u with gprs)",
	   direct.puts, direct.puts_gprs);
	gp_loop(&profiled, 1);
	gp_check(&profiled, "direct path, profiled");
	ok(profiled.puts == N - 1 && profiled.puts_gprs == N - 1,
	   "direct path, profiled: the profile's shim passes gprs on (%u puts, %u with gprs)",
	   profiled.puts, profiled.puts_gprs);
	setenv("XG_KVM_NO_DIRECT", "1", 1);
	gp_loop(&memo_only, 0);
	unsetenv("XG_KVM_NO_DIRECT");
	gp_check(&memo_only, "XG_KVM_NO_DIRECT=1");
	ok(memo_only.puts == 0 && memo_only.rdx == direct.rdx,
	   "XG_KVM_NO_DIRECT=1: no direct path, the same sum");

	vex_xcr0();
	unsetenv("XG_KVM_NO_TLB");
	flip_loop("kept translations", 1);
	setenv("XG_KVM_NO_TLB", "1", 1);
	flip_loop("XG_KVM_NO_TLB=1", 0);
	unsetenv("XG_KVM_NO_TLB");
	unlink(policy);
	rmdir(dir);
	return done_testing();
}
