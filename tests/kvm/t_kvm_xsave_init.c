/*
 * t_kvm_xsave_init.c - what the emulate verdict hands back to KVM's vector state. exitgate's
 * emulator makes every enabled XSAVE component explicit while it works (XSTATE_BV |= XCR0,
 * zeros for those in their initial state); the KVM backend's write-back (x86/ops.c) gives
 * KVM back the components the instruction left in their initial state as initial
 * (XSTATE_BV bit clear, SDM Vol. 1 13.6), as the CPU keeps them, so that KVM does not save
 * and restore 1.6 KB of AVX-512 zeros on every later entry and ioctl. Checked on a real
 * guest: `vmovdqu (%rax),%ymm0` from an MMIO window, emulated through the backend's ops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"
#include "xg_emu_x86.h"

/* At XG_KVM_LOAD_ADDR, 64-bit: two `vmovdqu (%rax),%ymm0` from XG_KVM_MMIO_BASE, then HLT */
static const uint8_t guest[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /* mov $0xd0000000,%eax */
    0xc5, 0xfe, 0x6f, 0x00,	  /* vmovdqu (%rax),%ymm0 */
    0xc5, 0xfe, 0x6f, 0x00,	  /* vmovdqu (%rax),%ymm0 */
    0xf4,			  /* hlt                  */
};

static uint8_t dev_byte; /* the device's 32 bytes are all this */

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	memset(buf, dev_byte, len);
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	return -ENODEV;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

static uint64_t xstate_bv(const uint8_t *xs)
{
	uint64_t bv;

	memcpy(&bv, xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	return bv;
}

/* Run to the next exit and emulate it through the backend's ops; *bv: XSTATE_BV at the exit
 * (KVM_RUN itself may change it: the CPU's XSAVE reports what is in use). */
static int emulate_next(struct xg_kvm_vcpu *v, struct xg_vcpu_ops *ops, uint8_t *xs, size_t size,
			uint64_t *bv, char *why, size_t n)
{
	size_t run_size;
	struct kvm_run *run = xg_kvm_vcpu_run_area(v, &run_size);
	struct xg_emu_x86_result res;
	struct xg_error err;
	struct xg_exit x;
	int r = xg_kvm_vcpu_run(v);

	if (r || run->exit_reason != KVM_EXIT_INTERNAL_ERROR) {
		snprintf(why, n, "KVM_RUN %d, exit %u: not the emulation failure", r,
			 run->exit_reason);
		return -1;
	}
	if (xg_exit_decode(&x, run, run_size, NULL, &err) || xg_kvm_get_xsave(v, xs, size, &err)) {
		snprintf(why, n, "%.200s", err.msg);
		return -1;
	}
	*bv = xstate_bv(xs);
	return xg_emulate_x86(ops, v, &x, &res, why, n);
}

int main(void)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct xg_vcpu_ops ops;
	uint8_t *xs, want[16];
	size_t size;
	uint64_t before, after;
	char why[256];

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (xg_kvm_vm_create(&vm, NULL, &err) ||
	    xg_kvm_enable_cap(vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(vm, XG_KVM_LOAD_ADDR, guest, sizeof(guest), &err) ||
	    xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &v, &err))
		bail("the guest: %s", err.msg);
	if (!(xg_kvm_vcpu_xcr0(v) & 0x4))
		skip_all("XCR0 %#llx has no AVX here", (unsigned long long)xg_kvm_vcpu_xcr0(v));
	plan(7);
	xg_kvm_vcpu_set_vmm(v, &dev_ops, NULL);
	xg_kvm_vcpu_ops(v, &ops);
	size = xg_kvm_xsave_size(v);
	xs = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!xs)
		bail("out of memory");

	/* a load of zeros: YMM0 stays as it was in its initial state, all of it zeros */
	dev_byte = 0;
	if (!ok(!emulate_next(v, &ops, xs, size, &before, why, sizeof(why)),
		"a load of zeros is emulated"))
		diag("%s", why);
	diag("XCR0 %#llx, XSTATE_BV at the exit %#llx", (unsigned long long)xg_kvm_vcpu_xcr0(v),
	     (unsigned long long)before);
	if (xg_kvm_get_xsave(v, xs, size, &err))
		bail("KVM_GET_XSAVE: %s", err.msg);
	after = xstate_bv(xs);
	is_hex(after & 0xe7, before & 0xe7,
	       "components in their initial state before and all zeros after stay initial "
	       "(XSTATE_BV %#llx)",
	       (unsigned long long)after);

	/* a load of 0x5a bytes: SSE and AVX in use with the value, the rest as they were */
	dev_byte = 0x5a;
	if (!ok(!emulate_next(v, &ops, xs, size, &before, why, sizeof(why)),
		"a load of 0x5a bytes is emulated"))
		diag("%s", why);
	diag("XSTATE_BV at the exit %#llx", (unsigned long long)before);
	if (xg_kvm_get_xsave(v, xs, size, &err))
		bail("KVM_GET_XSAVE: %s", err.msg);
	after = xstate_bv(xs);
	ok((after & 0x6) == 0x6, "SSE and AVX are in use after the load (XSTATE_BV %#llx)",
	   (unsigned long long)after);
	is_hex(after & 0xe1, before & 0xe1,
	       "x87, opmask, ZMM_Hi256 and Hi16_ZMM keep the state they had");
	memset(want, 0x5a, sizeof(want));
	is_mem(xs + XG_EMU_X86_XS_XMM0, want, 16, "XMM0 holds the loaded bytes");
	is_mem(xs + XG_EMU_X86_XS_YMMH, want, 16, "YMM0's upper half holds the loaded bytes");
	free(xs);
	xg_kvm_vm_destroy(vm);
	return done_testing();
}
