/*
 * t_kvm_memo.c - the memo of compiled instructions (xg_emu_x86_emulate_memo) through
 * exitgate's bridge (xg_emulate_x86) on a real guest: the bridge's page walk, its DECODE hook
 * and the backend's registers, XSAVE image and device.
 *
 * The guest loops N times over a VEX load from a device, a VEX store of it to the device and,
 * where the vCPU has AVX-512, an EVEX (256-bit, unmasked) load; then stores the registers to
 * RAM. KVM cannot emulate these (emulation failures); each is emulated through the bridge,
 * once with no memo and once, on a fresh VM, with a memo. Both runs must see the same device
 * reads and writes, the same RAM and registers at the end, and the second must have taken
 * the memo's short path for every exit after each instruction's first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"
#include "xg_emu_x86.h"

#define N	   16
#define RESULT_GPA 0x200000ull

/* At XG_KVM_LOAD_ADDR, 64-bit mode */
static const uint8_t guest[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0,	      /*    mov $0xd0000000,%eax          */
    0xbe, N,	0x00, 0x00, 0x00,	      /*    mov $N,%esi                   */
    0xc5, 0xfe, 0x6f, 0x00,		      /* 1: vmovdqu (%rax),%ymm0          */
    0xc5, 0xfe, 0x7f, 0x40, 0x40,	      /*    vmovdqu %ymm0,0x40(%rax)      */
    0x62, 0xf1, 0xfe, 0x28, 0x6f, 0x48, 0x03, /*    vmovdqu64 0x60(%rax),%ymm1    */
    0xff, 0xce,				      /*    dec %esi                      */
    0x75, 0xec,				      /*    jne 1b                        */
    0xbb, 0x00, 0x00, 0x20, 0x00,	      /*    mov $0x200000,%ebx            */
    0xc5, 0xfe, 0x7f, 0x03,		      /*    vmovdqu %ymm0,(%rbx)          */
    0xc5, 0xfe, 0x7f, 0x4b, 0x20,	      /*    vmovdqu %ymm1,0x20(%rbx)      */
    0xf4,				      /*    hlt                           */
};
#define EVEX_AT 19 /* the EVEX load, replaced by a 7-byte NOP without AVX-512 */

struct dev {
	uint64_t reads, writes, whash, bad;
};

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	struct dev *d = vmm;

	if (gpa < XG_KVM_MMIO_BASE || gpa + len > XG_KVM_MMIO_BASE + 0x100) {
		d->bad++;
		return -ENODEV;
	}
	d->reads++;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(d->reads * 37 + (gpa & 0xff) + i);
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	struct dev *d = vmm;

	d->writes++;
	for (size_t i = 0; i < len; i++)
		d->whash = (d->whash ^ ((const uint8_t *)buf)[i] ^ (gpa << 8)) * 1099511628211ull;
	return 0;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

struct outcome {
	struct dev dev;
	uint8_t ram[64];
	struct kvm_regs regs;
	unsigned exits;
	uint64_t hits;
	int halted;
	char why[256];
};

static int run(struct outcome *o, int with_memo, int *evex)
{
	struct xg_error err = {{0}};
	struct xg_emu_x86_memo memo;
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct xg_vcpu_ops ops;
	uint8_t code[sizeof(guest)];
	size_t run_size;
	struct kvm_run *r;

	memset(o, 0, sizeof(*o));
	memset(&memo, 0, sizeof(memo));
	memcpy(code, guest, sizeof(code));
	if (xg_kvm_vm_create(&vm, NULL, &err) ||
	    xg_kvm_enable_cap(vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err))
		bail("the VM: %s", err.msg);
	if (xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &v, &err))
		bail("the vCPU: %s", err.msg);
	*evex = (xg_kvm_vcpu_xcr0(v) & 0xe6) == 0xe6;
	if (!*evex) /* nopw 0x0(%rax,%rax,1), 7 bytes */
		memcpy(code + EVEX_AT, "\x66\x0f\x1f\x44\x00\x00\x90", 7);
	if (xg_kvm_load(vm, XG_KVM_LOAD_ADDR, code, sizeof(code), &err))
		bail("the guest: %s", err.msg);
	xg_kvm_vcpu_set_vmm(v, &dev_ops, &o->dev);
	xg_kvm_vcpu_ops(v, &ops);
	r = xg_kvm_vcpu_run_area(v, &run_size);
	while (o->exits < 10 * N) {
		struct xg_emu_x86_result res;
		struct xg_exit x;
		if (xg_kvm_vcpu_run(v)) {
			snprintf(o->why, sizeof(o->why), "KVM_RUN failed");
			break;
		}
		if (r->exit_reason == KVM_EXIT_HLT) {
			o->halted = 1;
			break;
		}
		if (r->exit_reason != KVM_EXIT_INTERNAL_ERROR) {
			snprintf(o->why, sizeof(o->why), "exit %u, not an emulation failure",
				 r->exit_reason);
			break;
		}
		o->exits++;
		if (xg_exit_decode(&x, r, run_size, NULL, &err)) {
			snprintf(o->why, sizeof(o->why), "%.200s", err.msg);
			break;
		}
		if (xg_emulate_x86(&ops, v, &x, with_memo ? &memo : NULL, &res, o->why,
				   sizeof(o->why)))
			break;
		if (res.status != XG_EMU_X86_OK) {
			snprintf(o->why, sizeof(o->why), "%s at stage %s",
				 xg_emu_x86_status_name(res.status),
				 xg_emu_x86_stage_name(res.stage));
			break;
		}
	}
	memcpy(o->ram, xg_kvm_gpa_ptr(vm, RESULT_GPA, sizeof(o->ram)), sizeof(o->ram));
	if (xg_kvm_get_regs(v, &o->regs, &err))
		bail("KVM_GET_REGS: %s", err.msg);
	o->hits = memo.hits;
	xg_kvm_vm_destroy(vm);
	return o->halted;
}

int main(void)
{
	static struct outcome a, b;
	char why[256];
	int evex;
	unsigned per_loop;

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	plan(5);
	if (!ok(run(&a, 0, &evex), "without a memo: the guest ran to its HLT"))
		diag("%s", a.why);
	if (!ok(run(&b, 1, &evex), "with a memo: the guest ran to its HLT"))
		diag("%s", b.why);
	per_loop = evex ? 3 : 2;
	diag("%u exits each (AVX-512 %s), %llu through the memo's short path", b.exits,
	     evex ? "present: the EVEX load too" : "absent", (unsigned long long)b.hits);
	ok(a.exits == b.exits && a.dev.reads == b.dev.reads && a.dev.writes == b.dev.writes &&
	       a.dev.whash == b.dev.whash && !a.dev.bad && !b.dev.bad &&
	       a.dev.reads == (uint64_t)N * (per_loop - 1) && a.dev.writes == N,
	   "the same device reads (%llu) and writes (%llu) in both runs",
	   (unsigned long long)b.dev.reads, (unsigned long long)b.dev.writes);
	ok(!memcmp(a.ram, b.ram, sizeof(a.ram)) && a.regs.rip == b.regs.rip &&
	       a.regs.rsi == b.regs.rsi && a.regs.rflags == b.regs.rflags,
	   "the same registers and RAM at the end");
	/* every exit after each instruction's first one: (N - 1) per instruction in the loop,
	 * the two final stores are each seen once */
	ok(b.hits == (uint64_t)(N - 1) * per_loop, "the memo took %llu exits (want %u)",
	   (unsigned long long)b.hits, (N - 1) * per_loop);
	return done_testing();
}
