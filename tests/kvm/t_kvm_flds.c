/*
 * t_kvm_flds.c - the exit exitgate exists for, produced by a real guest.
 *
 * examples/guests/flds_mmio.S runs `flds (%rax)` on the MMIO window. KVM cannot emulate x87
 * memory operands, so with KVM_CAP_EXIT_ON_EMULATION_FAILURE it stops with
 * KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION and the instruction bytes in
 * kvm_run (api.rst 5 "KVM_EXIT_INTERNAL_ERROR", struct emulation_failure). The test reads
 * the raw kvm_run first, checks it against the bytes the guest executed, then decodes it with
 * the exit model and checks that the decoder says the same. The raw header+union is saved to
 * $XG_BUILD/tests/flds-exit.bin as a recorded example.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		bail("cannot open %s: %s (build the `guests` target)", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET))
		bail("cannot size %s", path);
	buf = malloc((size_t)n);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		bail("cannot read %s", path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void hex(char *out, size_t n, const uint8_t *p, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < len && o + 3 < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%02x%s", p[i], i + 1 < len ? " " : "");
}

static void save_run(const struct kvm_run *run, const char *build)
{
	char path[4096], line[XG_RUN_MIN_SIZE * 3 + 1];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/flds-exit.bin", build);
	f = fopen(path, "wb");
	if (!f || fwrite(run, 1, XG_RUN_MIN_SIZE, f) != XG_RUN_MIN_SIZE || fclose(f)) {
		diag("could not write %s: %s", path, strerror(errno));
		return;
	}
	diag("raw kvm_run header+union (%d bytes) saved to %s:", XG_RUN_MIN_SIZE, path);
	hex(line, sizeof(line), (const uint8_t *)run, XG_RUN_MIN_SIZE);
	diag("%s", line);
}

/* The raw exit, as KVM wrote it. Returns the insn_size it found (0 if none). */
static int check_raw(struct kvm_run *run, struct xg_kvm_vm *vm, struct xg_kvm_vcpu *v,
		     const uint8_t *image, size_t image_len)
{
	struct xg_error err = {{0}};
	struct kvm_regs regs;
	char line[128];
	int n;

	if (!is_int(run->exit_reason, KVM_EXIT_INTERNAL_ERROR,
		    "exit_reason is INTERNAL_ERROR (17)"))
		return 0;
	is_int(run->emulation_failure.suberror, KVM_INTERNAL_ERROR_EMULATION,
	       "suberror is EMULATION (1)");
	ok(run->emulation_failure.ndata >= 3, "ndata %u covers flags and the instruction bytes",
	   run->emulation_failure.ndata);
	is_hex(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES,
	       KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES,
	       "flags bit 0: instruction bytes present");
	n = run->emulation_failure.insn_size;
	ok(n >= 2 && n <= 15, "insn_size %d is between the instruction's 2 bytes and 15", n);
	if (n < 2 || n > 15)
		n = 0;

	if (!call_ok(xg_kvm_get_regs(v, &regs, &err), &err, "KVM_GET_REGS"))
		return n;
	is_hex(regs.rax, XG_KVM_MMIO_BASE, "rax holds the MMIO address the guest loaded from");
	/* The guest stopped at the faulting instruction: RIP was not advanced. */
	uint64_t off = regs.rip - XG_KVM_LOAD_ADDR;
	if (!ok(regs.rip >= XG_KVM_LOAD_ADDR && off + 2 <= image_len,
		"RIP %#llx is inside the payload", (unsigned long long)regs.rip))
		return n;
	is_mem(image + off, "\xd9\x00", 2, "the payload has flds (%%rax) (d9 00) at RIP");
	is_mem(run->emulation_failure.insn_bytes, "\xd9\x00", 2, "insn_bytes start with d9 00");
	/* KVM fetched insn_size bytes from RIP: the payload's, then whatever RAM follows. */
	size_t in_image = image_len - off < (size_t)n ? image_len - off : (size_t)n;
	is_mem(run->emulation_failure.insn_bytes, image + off, in_image,
	       "insn_bytes match the payload image at RIP (%zu bytes)", in_image);
	const uint8_t *ram = xg_kvm_gpa_ptr(vm, regs.rip, (size_t)n);
	ok(ram && memcmp(run->emulation_failure.insn_bytes, ram, (size_t)n) == 0,
	   "all %d insn_bytes match guest RAM at RIP", n);

	hex(line, sizeof(line), run->emulation_failure.insn_bytes, (size_t)n);
	diag("flags=%#llx insn_size=%d bytes: %s", (unsigned long long)run->emulation_failure.flags,
	     n, line);
	for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
		diag("data[%u] = 0x%016llx", i, (unsigned long long)run->internal.data[i]);
	return n;
}

static void check_decoded(struct kvm_run *run, size_t run_size, int insn_size)
{
	struct xg_error err = {{0}};
	struct xg_exit x;

	if (!call_ok(xg_exit_decode(
			 &x, run, run_size,
			 &(struct xg_exit_opts){.arch = XG_ARCH_X86_64, .hw = XG_HW_AUTO}, &err),
		     &err, "xg_exit_decode"))
		return;
	is_str(x.name, "internal_error", "decoded name");
	is_str(x.kind, "emulation_failure", "decoded kind");
	is_str(x.u.internal.suberror_name, "emulation", "decoded suberror name");
	ok(x.u.internal.has_insn, "decoder found the instruction bytes");
	is_int(x.u.internal.insn_size, insn_size, "decoded insn_size equals the raw one");
	is_mem(x.u.internal.insn, run->emulation_failure.insn_bytes, (size_t)insn_size,
	       "decoded insn bytes equal the executed bytes");
	ok(x.u.internal.has_hw, "decoder found the hardware exit information words");
	is_str(x.malformed, "", "nothing malformed");
	diag("hw: exit_reason=%#llx (%s) info1=%#llx info2=%#llx intr_info=%#llx error_code=%#llx",
	     (unsigned long long)x.u.internal.hwi.exit_reason,
	     x.u.internal.hwi.exit_reason_name ? x.u.internal.hwi.exit_reason_name : "no name",
	     (unsigned long long)x.u.internal.hwi.info1, (unsigned long long)x.u.internal.hwi.info2,
	     (unsigned long long)x.u.internal.hwi.intr_info,
	     (unsigned long long)x.u.internal.hwi.error_code);
}

int main(void)
{
	struct xg_error err = {{0}};
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	char why[256], path[4096];
	const char *build = getenv("XG_BUILD");
	size_t image_len, run_size;
	uint8_t *image;

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (!build)
		bail("XG_BUILD is not set: run this test through ctest or the `check` target");
	snprintf(path, sizeof(path), "%s/guests/flds_mmio.bin", build);
	image = read_file(path, &image_len);

	if (xg_kvm_vm_create(&vm, &(struct xg_kvm_vm_opts){0}, &err))
		bail("%s", err.msg);
	ok(xg_kvm_check_cap(vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE) > 0,
	   "KVM offers KVM_CAP_EXIT_ON_EMULATION_FAILURE");
	if (!call_ok(xg_kvm_enable_cap(vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err), &err,
		     "enable KVM_CAP_EXIT_ON_EMULATION_FAILURE"))
		bail("without the capability KVM injects #UD and there is nothing to test");
	if (!call_ok(xg_kvm_load_file(vm, XG_KVM_LOAD_ADDR, path, &err), &err, "load the payload"))
		bail("no payload");
	if (!call_ok(xg_kvm_vcpu_create(vm, 0, XG_KVM_LOAD_ADDR, &v, &err), &err, "vCPU 0"))
		bail("no vCPU");

	struct kvm_run *run = xg_kvm_vcpu_run_area(v, &run_size);
	ok(run_size >= XG_RUN_MIN_SIZE, "kvm_run area of %zu bytes holds header and union",
	   run_size);
	int r = xg_kvm_vcpu_run(v);
	if (!is_int(r, 0, "KVM_RUN returns 0 (%s)", r ? strerror(-r) : "ok"))
		bail("KVM_RUN failed");

	save_run(run, build);
	int insn_size = check_raw(run, vm, v, image, image_len);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		check_decoded(run, run_size, insn_size);

	xg_kvm_vm_destroy(vm);
	free(image);
	return done_testing();
}
