/*
 * t_kvm_fault_real.c - the KVM backend's inject op (ops.c, fault.c) in real mode: after an
 * IN exit and an OUT exit of a 16-bit guest whose CS base is not 0, the exception reaches
 * the guest's IVT handler with the frame's IP on the instruction and AL as it was (SDM Vol.
 * 3A 6.5; real-mode delivery: 20.1.4, FLAGS, CS, IP pushed). t_run_fault covers long mode.
 *
 * The guest is loaded at 0x10000 (CS = 0x1000, IP = 0). Its #UD handler stores the frame's
 * IP at 0x500 and AL at 0x502, counts at 0x504, and returns to the IP the host put at 0x506.
 * A second inject for the same exit (on_error after a verdict) must not move IP again.
 */
#include <string.h>

#include "tap.h"
#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"

#define LOAD 0x10000ULL

__asm__(".pushsection .rodata.rf_guest,\"a\"\n"
	".globl rf_guest, rf_guest_end, rf_in_at, rf_after_in, rf_out_at, rf_after_out\n"
	".code16\n"
	"rf_guest:\n"
	"	xor %ax, %ax\n"
	"	mov %ax, %ds\n"
	"	movw $(rf_ud - rf_guest), 0x18\n" /* IVT entry 6: offset, segment */
	"	movw $0x1000, 0x1a\n"
	"	mov $0x90, %dx\n"
	"	mov $0x11, %al\n"
	"rf_in_at:\n"
	"	in (%dx), %al\n"
	"rf_after_in:\n"
	"	mov $0x22, %al\n"
	"rf_out_at:\n"
	"	out %al, $0x91\n"
	"rf_after_out:\n"
	"	hlt\n"
	"rf_ud:\n"
	"	mov %sp, %bp\n"
	"	mov (%bp), %bx\n"
	"	mov %bx, 0x500\n"
	"	mov %al, 0x502\n"
	"	incw 0x504\n"
	"	mov 0x506, %bx\n"
	"	mov %bx, (%bp)\n"
	"	iret\n"
	"rf_guest_end:\n"
	".code64\n"
	".popsection\n");
extern const unsigned char rf_guest[], rf_guest_end[], rf_in_at[], rf_after_in[], rf_out_at[],
    rf_after_out[];

static uint16_t ip_of(const unsigned char *sym)
{
	return (uint16_t)(sym - rf_guest);
}

int main(void)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct xg_vcpu_ops ops;
	struct kvm_run *run;
	uint8_t *low;
	uint16_t w;
	char why[256];

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (xg_kvm_vm_create(
		&vm, &(struct xg_kvm_vm_opts){.mem_size = 1 << 20, .mode = XG_KVM_REAL}, &err) ||
	    xg_kvm_load(vm, LOAD, rf_guest, (size_t)(rf_guest_end - rf_guest), &err) ||
	    xg_kvm_vcpu_create(vm, 0, LOAD, &v, &err))
		bail("real-mode guest: %s", err.msg);
	run = xg_kvm_vcpu_run_area(v, NULL);
	xg_kvm_vcpu_ops(v, &ops);
	low = xg_kvm_gpa_ptr(vm, 0, 0x600);

	/* IN: RIP on it at the exit; the completion would write AL and move IP */
	ok(!xg_kvm_vcpu_run(v) && run->exit_reason == KVM_EXIT_IO && run->io.port == 0x90,
	   "real mode: IN exit");
	w = ip_of(rf_after_in);
	memcpy(low + 0x506, &w, 2);
	is_int(ops.inject_exception(v, 6, 0, 0), 0, "inject #UD after the IN exit");
	ok(!xg_kvm_vcpu_run(v) && run->exit_reason == KVM_EXIT_IO && run->io.port == 0x91,
	   "the handler returns, the guest goes on to the OUT");
	memcpy(&w, low + 0x500, 2);
	is_hex(w, ip_of(rf_in_at), "IN: the frame's IP is the in (CS base 0x10000)");
	is_hex(low[0x502], 0x11, "IN: AL kept its value");

	/* OUT: KVM has moved IP past it; the inject op finds it again */
	w = ip_of(rf_after_out);
	memcpy(low + 0x506, &w, 2);
	is_int(ops.inject_exception(v, 6, 0, 0), 0, "inject #UD after the OUT exit");
	/* as when on_error answers again after a verdict: the access is undone only once */
	is_int(ops.inject_exception(v, 6, 0, 0), 0, "inject #UD a second time for the same exit");
	ok(!xg_kvm_vcpu_run(v) && run->exit_reason == KVM_EXIT_HLT, "then the guest halts");
	memcpy(&w, low + 0x500, 2);
	is_hex(w, ip_of(rf_out_at), "OUT: the frame's IP is the out imm8, not past it");
	memcpy(&w, low + 0x504, 2);
	is_int(w, 2, "the handler ran twice");
	xg_kvm_vm_destroy(vm);
	return done_testing();
}
