/*
 * t_kvm_basic.c - the KVM backend on a real guest: port I/O and HLT exits in long and real
 * mode, finishing a pending I/O access before a register change, the XCR0 the vCPU got, and
 * the error messages a user meets first (payload too big, payload missing, bad RAM sizes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpuid.h>

#include "tap.h"
#include "exitgate.h"
#include "backend/kvm/xg_kvm.h"

/* ok() for a call that returns 0 or -1 with a message: the message is shown only on failure
 * (err may still hold an earlier, expected one). */
static int call_ok(int r, const struct xg_error *err, const char *what)
{
	if (ok(r == 0, "%s", what))
		return 1;
	diag("%s", err->msg);
	return 0;
}

static char io_hlt[4096];

/* The exit io_hlt.S makes first: OUT of 0x5a to port 0xe9, one byte. */
static void check_io_exit(struct kvm_run *run, size_t run_size, const char *mode)
{
	if (!is_int(run->exit_reason, KVM_EXIT_IO, "%s: exit_reason is IO (2)", mode))
		return;
	is_int(run->io.direction, KVM_EXIT_IO_OUT, "%s: direction out", mode);
	is_int(run->io.size, 1, "%s: size 1", mode);
	is_hex(run->io.port, 0xe9, "%s: port 0xe9", mode);
	is_int(run->io.count, 1, "%s: count 1", mode);
	if (ok(run->io.data_offset < run_size, "%s: data_offset %#llx inside the kvm_run area",
	       mode, (unsigned long long)run->io.data_offset))
		is_hex(((uint8_t *)run)[run->io.data_offset], 0x5a, "%s: data is 0x5a", mode);
}

static void run_once(struct xg_kvm_vcpu *v, const char *what)
{
	int r = xg_kvm_vcpu_run(v);
	if (!is_int(r, 0, "KVM_RUN (%s): %s", what, r ? strerror(-r) : "ok"))
		bail("KVM_RUN failed");
}

static void long_mode(void)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct kvm_regs regs;
	size_t run_size;

	if (xg_kvm_vm_create(&vm, NULL, &err))
		bail("%s", err.msg);
	is_hex(xg_kvm_mem_size(vm), XG_KVM_DEFAULT_MEM, "NULL options give the default RAM size");
	if (!call_ok(xg_kvm_load_file(vm, XG_KVM_LOAD_ADDR, io_hlt, &err), &err, "load") ||
	    !call_ok(xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &v, &err), &err, "vCPU"))
		bail("long-mode guest not set up");
	struct kvm_run *run = xg_kvm_vcpu_run_area(v, &run_size);

	run_once(v, "long mode, first");
	check_io_exit(run, run_size, "long mode");

	/*
	 * The quirk from the machine notes: the next KVM_RUN first completes the OUT, and any
	 * RIP set before that is overwritten. xg_kvm_vcpu_flush completes it without running
	 * the guest; after it, setting RIP back to the OUT takes effect and the guest repeats
	 * the exit.
	 */
	call_ok(xg_kvm_vcpu_flush(v, &err), &err, "flush the pending OUT");
	xg_kvm_get_regs(v, &regs, &err);
	is_hex(regs.rip, XG_KVM_LOAD_ADDR + 4, "after the flush RIP is past the OUT");
	regs.rip = XG_KVM_LOAD_ADDR + 2;
	call_ok(xg_kvm_set_regs(v, &regs, &err), &err, "set RIP back to the OUT");
	run_once(v, "long mode, OUT again");
	check_io_exit(run, run_size, "long mode, repeated");

	run_once(v, "long mode, to HLT");
	is_int(run->exit_reason, KVM_EXIT_HLT, "long mode: then exit_reason is HLT (5)");
	xg_kvm_get_regs(v, &regs, &err);
	is_hex(regs.rip, XG_KVM_LOAD_ADDR + 5, "long mode: RIP is past the HLT");
	is_hex(regs.rsp, XG_KVM_DEFAULT_MEM, "long mode: RSP starts at the top of RAM");

	/* XCR0: what leaf 0xD allows, with AVX-512 when the host has it. */
	struct kvm_xcrs xcrs;
	if (call_ok(xg_kvm_get_xcrs(v, &xcrs, &err), &err, "KVM_GET_XCRS"))
		is_hex(xcrs.xcrs[0].value, xg_kvm_vcpu_xcr0(v),
		       "XCR0 in the vCPU is the one reported");
	unsigned a, b, c, d, flags = xg_kvm_vcpu_flags(v);
	int host_avx512 = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1U << 16));
	diag("XCR0 = %#llx, flags = %#x, host AVX-512F = %d",
	     (unsigned long long)xg_kvm_vcpu_xcr0(v), flags, host_avx512);
	if (flags & XG_KVM_VCPU_NO_XSAVE)
		is_hex(xg_kvm_vcpu_xcr0(v), 1, "KVM refused CR4.OSXSAVE: XCR0 is x87 only");
	else
		ok((xg_kvm_vcpu_xcr0(v) & 0x7) == 0x7, "XCR0 has x87, SSE and AVX");
	if (host_avx512 && !(flags & XG_KVM_VCPU_NO_XSAVE))
		ok(flags & (XG_KVM_VCPU_AVX512 | XG_KVM_VCPU_XCR0_FALLBACK),
		   "AVX-512 host: XCR0 has AVX-512, or the fallback is flagged");
	if (flags & XG_KVM_VCPU_AVX512)
		is_hex(xg_kvm_vcpu_xcr0(v) & 0xe0, 0xe0, "AVX-512 flag: opmask|ZMM_Hi256|Hi16_ZMM");
	ok(xg_kvm_xsave_size(v) >= 4096, "XSAVE image size %zu", xg_kvm_xsave_size(v));
	uint8_t *xs = calloc(1, xg_kvm_xsave_size(v));
	if (!xs)
		bail("out of memory");
	call_ok(xg_kvm_get_xsave(v, xs, xg_kvm_xsave_size(v), &err), &err, "KVM_GET_XSAVE(2)");
	call_ok(xg_kvm_set_xsave(v, xs, xg_kvm_xsave_size(v), &err), &err,
		"KVM_SET_XSAVE of the same image");
	ok(xg_kvm_get_xsave(v, xs, 16, &err) == -1, "a short XSAVE buffer is refused");
	like(err.msg, "smaller than", "... saying it is too small: %s", err.msg);
	free(xs);

	/* Error paths on a live VM. */
	uint64_t mem = xg_kvm_mem_size(vm);
	ok(xg_kvm_gpa_ptr(vm, mem - 1, 1) != NULL, "last RAM byte has a host pointer");
	ok(xg_kvm_gpa_ptr(vm, mem - 1, 2) == NULL, "a range past RAM has none");
	ok(xg_kvm_gpa_ptr(vm, XG_KVM_MMIO_BASE, 1) == NULL, "the MMIO window has none");
	ok(xg_kvm_gpa_ptr(vm, UINT64_MAX, 2) == NULL, "a wrapping range has none");

	size_t big_len = (size_t)mem + 1;
	void *big = calloc(1, big_len);
	if (!big)
		bail("out of memory");
	is_int(xg_kvm_load(vm, 0x100000, big, big_len, &err), -1, "an image bigger than RAM fails");
	like(err.msg, "does not fit", "... saying it does not fit: %s", err.msg);
	free(big);
	is_int(xg_kvm_load(vm, 0x2000, "x", 1, &err), -1, "loading over the page tables fails");
	like(err.msg, "page tables", "... naming them: %s", err.msg);

	const char *missing = "/nonexistent/exitgate/guest.bin";
	is_int(xg_kvm_load_file(vm, XG_KVM_LOAD_ADDR, missing, &err), -1,
	       "a missing payload fails");
	like(err.msg, missing, "... naming the path: %s", err.msg);
	like(err.msg, "No such file", "... and why");

	struct xg_kvm_vcpu *dup;
	is_int(xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &dup, &err), -1,
	       "a second vCPU 0 is refused");
	like(err.msg, "KVM_CREATE_VCPU 0", "... by KVM_CREATE_VCPU: %s", err.msg);

	xg_kvm_vm_destroy(vm);
}

static void real_mode(void)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	size_t run_size;
	const uint64_t at = 0x10000;

	if (!call_ok(
		xg_kvm_vm_create(
		    &vm, &(struct xg_kvm_vm_opts){.mem_size = 1 << 20, .mode = XG_KVM_REAL}, &err),
		&err, "real-mode VM with 1 MiB"))
		return;
	if (!call_ok(xg_kvm_load_file(vm, at, io_hlt, &err), &err, "real: load at 0x10000") ||
	    !call_ok(xg_kvm_vcpu_create(vm, 0, at, &v, &err), &err, "real: vCPU")) {
		xg_kvm_vm_destroy(vm);
		return;
	}
	struct kvm_run *run = xg_kvm_vcpu_run_area(v, &run_size);
	run_once(v, "real mode, first");
	check_io_exit(run, run_size, "real mode");
	run_once(v, "real mode, to HLT");
	is_int(run->exit_reason, KVM_EXIT_HLT, "real mode: then exit_reason is HLT (5)");
	xg_kvm_get_regs(v, &regs, &err);
	xg_kvm_get_sregs(v, &sregs, &err);
	is_hex(sregs.cs.selector, 0x1000, "real mode: CS is 0x1000");
	is_hex(regs.rip, 5, "real mode: IP is past the HLT");
	ok(!(sregs.cr0 & 1), "real mode: CR0.PE is clear");

	is_int(xg_kvm_vcpu_create(vm, 1, 0x100000, &v, &err), -1,
	       "real mode: an entry at 1 MiB is refused");
	like(err.msg, "below 1 MiB", "... saying why: %s", err.msg);
	xg_kvm_vm_destroy(vm);
}

static void bad_options(void)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;

	is_int(xg_kvm_vm_create(&vm, &(struct xg_kvm_vm_opts){.mem_size = XG_KVM_MMIO_BASE + 4096},
				&err),
	       -1, "RAM reaching into the MMIO window is refused");
	like(err.msg, "MMIO window", "... naming the window: %s", err.msg);
	ok(vm == NULL, "... and no VM is returned");
	is_int(xg_kvm_vm_create(&vm, &(struct xg_kvm_vm_opts){.mem_size = 12345}, &err), -1,
	       "a RAM size that is not whole pages is refused");
	like(err.msg, "4 KiB", "... saying so: %s", err.msg);
	is_int(xg_kvm_vm_create(&vm, &(struct xg_kvm_vm_opts){.mode = 7}, &err), -1,
	       "an unknown mode is refused");
	like(err.msg, "XG_KVM_LONG", "... naming the valid ones: %s", err.msg);
}

int main(void)
{
	char why[256];
	const char *build = getenv("XG_BUILD");

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (!build)
		bail("XG_BUILD is not set: run this test through ctest or the `check` target");
	snprintf(io_hlt, sizeof(io_hlt), "%s/guests/io_hlt.bin", build);

	long_mode();
	real_mode();
	bad_options();
	return done_testing();
}
