/*
 * t_kvm_xcr0.c - the guest's XSETBV never exits to user space, so the backend's copy of XCR0
 * (what get_x86_regs hands the emulator) can be older than the guest's: a guest that enables
 * AVX after its vCPU was made, as every OS does after firmware, must not get #UD for an AVX
 * access to a device. Before it refuses a VEX instruction for a component the copy lacks
 * (SDM Vol. 1 13.3, Vol. 2 2.8), the emulator asks for XCR0 again (get_reg "xcr0":
 * KVM_GET_XCRS). Checked on real guests, each with XCR0 = x87|SSE set from outside first:
 *   A  vmovdqu from the device right away: #UD, the guest's XCR0 lacks AVX;
 *   B  XSETBV to x87|SSE|AVX, then the same vmovdqu: emulated, YMM0 holds the device's 32
 *      bytes, and the copy follows (get_reg "xcr0").
 *   C  XCR0 = x87 alone (a guest that never set CR4.OSXSAVE keeps it so: SDM Vol. 3A 9.1.1)
 *      runs legacy SSE all the same (CR4.OSFXSR): addps from the device into an XMM0 the
 *      vCPU has initial, and the guest reads the sum back, not the initial zeros.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "kvm_emulate.h"

/* At XG_KVM_LOAD_ADDR, 64-bit (bytes from `gcc -c` and `objdump -d`) */
static const uint8_t guest_a[] = {
    0xbb, 0x00, 0x00, 0x00, 0xd0, /* mov $0xd0000000,%ebx */
    0xc5, 0xfe, 0x6f, 0x03,	  /* vmovdqu (%rbx),%ymm0 */
    0xf4,			  /* hlt                  */
};
static const uint8_t guest_b[] = {
    0xb8, 0x07, 0x00, 0x00, 0x00, /* mov $7,%eax          x87 | SSE | AVX */
    0x31, 0xd2,			  /* xor %edx,%edx        */
    0x31, 0xc9,			  /* xor %ecx,%ecx        XCR0 */
    0x0f, 0x01, 0xd1,		  /* xsetbv               */
    0xbb, 0x00, 0x00, 0x00, 0xd0, /* mov $0xd0000000,%ebx */
    0xc5, 0xfe, 0x6f, 0x03,	  /* vmovdqu (%rbx),%ymm0 */
    0xf4,			  /* hlt                  */
};
static const uint8_t guest_c[] = {
    0xbb, 0x00, 0x00, 0x00, 0xd0, /* mov $0xd0000000,%ebx */
    0x0f, 0x58, 0x03,		  /* addps (%rbx),%xmm0   */
    0x66, 0x0f, 0x7e, 0xc0,	  /* movd %xmm0,%eax      */
    0xf4,			  /* hlt                  */
};

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0xa0 + ((gpa + i) & 31));
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	return -ENODEV;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

struct guest {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct xg_vcpu_ops ops;
};

/* A VM running `code`, its XCR0 set to `xcr0` from outside; 0, or -1 with why. *made: the
 * XCR0 the backend gave the vCPU (every component KVM supports of x87|SSE|AVX|AVX-512). */
static int guest_new(struct guest *g, const uint8_t *code, size_t n, uint64_t xcr0, uint64_t *made,
		     char *why, size_t wn)
{
	struct xg_error err = {{0}};
	struct kvm_xcrs x;

	memset(g, 0, sizeof(*g));
	if (xg_kvm_vm_create(&g->vm, NULL, &err) ||
	    xg_kvm_enable_cap(g->vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(g->vm, XG_KVM_LOAD_ADDR, code, n, &err) ||
	    xg_kvm_vcpu_create(g->vm, 0, XG_KVM_LOAD_ADDR, &g->v, &err)) {
		snprintf(why, wn, "%.200s", err.msg);
		return -1;
	}
	if (xg_kvm_get_xcr0(g->v, made, &err)) {
		snprintf(why, wn, "KVM_GET_XCRS: %.200s", err.msg);
		return -1;
	}
	memset(&x, 0, sizeof(x));
	x.nr_xcrs = 1;
	x.xcrs[0].xcr = 0;
	x.xcrs[0].value = xcr0;
	if (xg_kvm_set_xcrs(g->v, &x, &err)) {
		snprintf(why, wn, "%.200s", err.msg);
		return -1;
	}
	xg_kvm_vcpu_set_vmm(g->v, &dev_ops, NULL);
	xg_kvm_vcpu_ops(g->v, &g->ops);
	return 0;
}

int main(void)
{
	struct xg_emu_x86_result res;
	struct xg_error err = {{0}};
	struct guest a, b, c;
	char why[256];
	uint64_t xcr0 = 0, made = 0, bv;
	uint8_t *xs, want[32];
	size_t size;
	int run;

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (guest_new(&a, guest_a, sizeof(guest_a), 3, &made, why, sizeof(why)))
		skip_all("a vCPU with XCR0 = x87|SSE: %s", why);
	if ((made & 6) != 6) /* guest B's XSETBV of AVX would #GP (SDM Vol. 2 XSETBV) */
		skip_all("KVM offers no AVX state here (XCR0 %#llx at creation)",
			 (unsigned long long)made);
	if (a.ops.get_reg(a.v, "xcr0", &xcr0) || xcr0 != 3)
		skip_all("KVM_GET_XCRS after KVM_SET_XCRS of 3 says %#llx",
			 (unsigned long long)xcr0);
	plan(10);

	/* A: the copy and the guest agree that AVX is off */
	run = xg_test_emulate_next(a.v, &a.ops, NULL, 0, &res, why, sizeof(why));
	ok(!run && res.status == XG_EMU_X86_EXCEPTION && res.exc.vector == XG_EMU_X86_UD,
	   "XCR0 without AVX: vmovdqu from the device is #UD (status %s, vector %u%s%s)",
	   xg_emu_x86_status_name(res.status), res.exc.vector, run ? ": " : "", run ? why : "");
	xg_kvm_vm_destroy(a.vm);

	/* B: the guest enables AVX itself; the backend's copy still says x87|SSE */
	if (guest_new(&b, guest_b, sizeof(guest_b), 3, &made, why, sizeof(why)))
		bail("the second guest: %s", why);
	run = xg_test_emulate_next(b.v, &b.ops, NULL, 0, &res, why, sizeof(why));
	ok(!run && res.status == XG_EMU_X86_OK,
	   "after the guest's own XSETBV to x87|SSE|AVX the same vmovdqu is emulated (status "
	   "%s, vector %u%s%s)",
	   xg_emu_x86_status_name(res.status), res.exc.vector, run ? ": " : "", run ? why : "");
	run = b.ops.get_reg(b.v, "xcr0", &xcr0);
	ok(!run && xcr0 == 7, "get_reg \"xcr0\" reads %#llx", (unsigned long long)xcr0);
	size = xg_kvm_xsave_size(b.v);
	xs = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!xs || xg_kvm_get_xsave(b.v, xs, size, &err))
		bail("KVM_GET_XSAVE: %s", xs ? err.msg : "out of memory");
	dev_read(NULL, XG_KVM_MMIO_BASE, want, sizeof(want));
	is_mem(xs + XG_EMU_X86_XS_XMM0, want, 16, "XMM0 holds the device's first 16 bytes");
	is_mem(xs + XG_EMU_X86_XS_YMMH, want + 16, 16, "YMM0's upper half the next 16");
	{
		size_t run_size;
		struct kvm_run *r = xg_kvm_vcpu_run_area(b.v, &run_size);
		int rc = xg_kvm_vcpu_run(b.v);
		ok(!rc && r->exit_reason == KVM_EXIT_HLT,
		   "the guest runs on to its HLT (KVM_RUN %d, exit %u)", rc, r->exit_reason);
	}
	{
		struct kvm_regs regs = {0};
		int rc = xg_kvm_get_regs(b.v, &regs, &err);
		ok(!rc && regs.rip == XG_KVM_LOAD_ADDR + sizeof(guest_b), "past the HLT at %#llx",
		   (unsigned long long)regs.rip);
	}
	xg_kvm_vm_destroy(b.vm);

	/* C: XCR0 x87 alone, SSE initial in the vCPU; the image's SSE component is there all
	 * the same (KVM's layout is the host's), and a clear XSTATE_BV bit 1 would make the
	 * entry's XRSTOR load XMM0 as zeros (SDM Vol. 1 13.8.1) */
	if (guest_new(&c, guest_c, sizeof(guest_c), 1, &made, why, sizeof(why)))
		bail("the third guest: %s", why);
	run = xg_test_emulate_next(c.v, &c.ops, xs, size, &res, why, sizeof(why));
	memcpy(&bv, xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	diag("guest C: XSTATE_BV at the exit %#llx (%s)", (unsigned long long)bv,
	     bv & 2 ? "SSE in use: this host's XSAVES does not find it initial, the case is "
		      "not exercised"
		    : "SSE initial");
	ok(!run && res.status == XG_EMU_X86_OK,
	   "XCR0 x87 alone: addps from the device is emulated (status %s, vector %u%s%s)",
	   xg_emu_x86_status_name(res.status), res.exc.vector, run ? ": " : "", run ? why : "");
	{
		size_t run_size;
		struct kvm_run *r = xg_kvm_vcpu_run_area(c.v, &run_size);
		struct kvm_regs regs = {0};
		uint32_t lo;
		int n = 0, rc;
		/* on to the HLT; where the guest's next SSE instruction exits too (seen on this
		 * kvm_pvm host: the movd after KVM_SET_XSAVE comes back as an emulation failure)
		 * it is emulated as the engine would, from KVM's image */
		while (
		    n++ < 4 &&
		    !(run = xg_test_emulate_next(c.v, &c.ops, NULL, 0, &res, why, sizeof(why))) &&
		    res.status == XG_EMU_X86_OK)
			;
		ok(r->exit_reason == KVM_EXIT_HLT, "... the guest runs on to its HLT (exit %u)",
		   r->exit_reason);
		/* 0.0 + x is x for these (normal) floats: the sum is the device's bytes */
		memcpy(&lo, want, 4);
		rc = xg_kvm_get_regs(c.v, &regs, &err);
		ok(!rc && (uint32_t)regs.rax == lo,
		   "... and reads XMM0's low dword as the sum: %#llx (want %#x)",
		   (unsigned long long)regs.rax, lo);
	}
	free(xs);
	xg_kvm_vm_destroy(c.vm);
	return done_testing();
}
