/*
 * t_kvm_mxcsr.c - an emulated instruction that changes MXCSR and no register keeps its change
 * in KVM. MXCSR is not governed by XSTATE_BV[1] (SDM Vol. 1 13.7, 13.8: XSAVE and XRSTOR take
 * it when RFBM[1] or RFBM[2] is set), but KVM_SET_XSAVE copies it from the image only when
 * XSTATE_BV has SSE or AVX (arch/x86/kernel/fpu/xstate.c, copy_uabi_to_xstate()), and the
 * write-back (x86/ops.c) hands components an instruction left all zeros back in their
 * initial state. Checked on a real guest: `comiss` of a signalling NaN from a device against
 * a zero XMM0, with every component made initial first (KVM_SET_XSAVE, XSTATE_BV = 0), sets
 * MXCSR.IE and writes no register; emulated through the backend's ops, MXCSR read back with
 * KVM_GET_XSAVE. (On the kvm_pvm hosts KVM reports SSE in use at every exit, so the
 * write-back keeps XSTATE_BV[1]; where it does not, this is the case that would lose IE.)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "kvm_emulate.h"

#define XS_MXCSR 24 /* MXCSR in the legacy area (SDM Vol. 1 Table 10-2) */

/* At XG_KVM_LOAD_ADDR, 64-bit: comiss of a NaN from XG_KVM_MMIO_BASE, then hlt */
static const uint8_t guest[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /* mov $0xd0000000,%eax */
    0x0f, 0x2f, 0x00,		  /* comiss (%rax),%xmm0  */
    0xf4,			  /* hlt                  */
};

static uint32_t dev_word; /* what the device reads as, every 4 bytes */

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(dev_word >> (8 * ((gpa + i) & 3)));
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	return -ENODEV;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

static uint64_t u64_at(const uint8_t *xs, size_t off)
{
	uint64_t v;

	memcpy(&v, xs + off, 8);
	return v;
}

static uint32_t u32_at(const uint8_t *xs, size_t off)
{
	uint32_t v;

	memcpy(&v, xs + off, 4);
	return v;
}

int main(void)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct xg_vcpu_ops ops;
	struct xg_emu_x86_result res;
	uint8_t *xs;
	size_t size;
	char why[256];

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (xg_kvm_vm_create(&vm, NULL, &err) ||
	    xg_kvm_enable_cap(vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(vm, XG_KVM_LOAD_ADDR, guest, sizeof(guest), &err) ||
	    xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &v, &err))
		bail("the guest: %s", err.msg);
	plan(3);
	xg_kvm_vcpu_set_vmm(v, &dev_ops, NULL);
	xg_kvm_vcpu_ops(v, &ops);
	size = xg_kvm_xsave_size(v);
	xs = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!xs)
		bail("out of memory");

	/* every component in its initial state (what XRSTOR of an all-initial image leaves) */
	if (xg_kvm_get_xsave(v, xs, size, &err))
		bail("KVM_GET_XSAVE: %s", err.msg);
	memset(xs + XG_EMU_X86_XS_XSTATE_BV, 0, 8);
	if (xg_kvm_set_xsave(v, xs, size, &err))
		bail("KVM_SET_XSAVE: %s", err.msg);

	/* comiss of a signalling NaN against XMM0 (zero): MXCSR.IE set, no register written */
	dev_word = 0x7fa00000;
	if (!ok(!xg_test_emulate_next(v, &ops, xs, size, &res, why, sizeof(why)),
		"comiss of an SNaN is emulated"))
		diag("%s", why);
	diag("XSTATE_BV at the exit %#llx, MXCSR %#x",
	     (unsigned long long)u64_at(xs, XG_EMU_X86_XS_XSTATE_BV), u32_at(xs, XS_MXCSR));
	if (xg_kvm_get_xsave(v, xs, size, &err))
		bail("KVM_GET_XSAVE: %s", err.msg);
	is_hex(u32_at(xs, XS_MXCSR), 0x1f81,
	       "KVM has MXCSR with IE set by the comparison (XSTATE_BV %#llx)",
	       (unsigned long long)u64_at(xs, XG_EMU_X86_XS_XSTATE_BV));
	is_hex(u64_at(xs, XG_EMU_X86_XS_XMM0), 0, "XMM0 is still zero");
	free(xs);
	xg_kvm_vm_destroy(vm);
	return done_testing();
}
