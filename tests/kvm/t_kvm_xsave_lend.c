/*
 * t_kvm_xsave_lend.c - the KVM backend lends its XSAVE image to exitgate's emulator
 * (xg_vcpu_ops.lend_xsave, issue 15): the emulator works in the buffer KVM_GET_XSAVE filled
 * and hands the same buffer to KVM_SET_XSAVE. What it changed there and then did not write
 * must not outlive the emulation: the backend's next read of the image is KVM's.
 *
 * Two real guests, each handled by the engine (policy: xg.emulate()):
 *   flds from RAM, then fstpl (%rax) on the MMIO window. FSTP pops the x87 stack in the
 *   image (exec) and then stores 8 bytes to the device.
 *   vmovdqu (%rax),%ymm0 on the MMIO window; then port 0x10. The image is lent before the
 *   device read (and its initial-state components made explicit in it).
 * The first attempt of each fails on the host side (the device's write, or its read, fails:
 * the emulation ends with an error after the lent image was changed, before it was written).
 * Then the backend's get_xsave must give what KVM holds (KVM_GET_XSAVE, the test's own
 * call), x87 TOP not popped, YMM0 not loaded. The second attempt, with the device working,
 * completes: one pop (FSW.TOP = 0 in KVM) and one store of 1.0 to the device; YMM0 holds
 * the device's data, in KVM. Then the same with XG_KVM_NO_LEND=1 (the copying path).
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

#define PORT_RESULT 0x10

/* (CPL-0 code runs in KVM's own emulator on kvm_pvm hosts: x87 with a memory operand exits
 * everywhere, and an x87 register form exits there too, so the stack is loaded from RAM) */
static const uint8_t guest_x87[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0,	/* mov $0xd0000000,%eax        */
    0xd9, 0x05, 0x07, 0x00, 0x00, 0x00, /* flds one(%rip)              */
    0xdd, 0x18,				/* fstpl (%rax)                */
    0xb0, 0x00,				/* mov $0,%al                  */
    0xe6, 0x10,				/* out %al,$0x10               */
    0xf4,				/* hlt                         */
    0x00, 0x00, 0x80, 0x3f,		/* one: 1.0f (flds's next RIP + 7) */
};
#define FSTP_RIP (XG_KVM_LOAD_ADDR + 11)

static const uint8_t guest_vec[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /* mov $0xd0000000,%eax  */
    0xc5, 0xfe, 0x6f, 0x00,	  /* vmovdqu (%rax),%ymm0 */
    0xb0, 0x00,			  /* mov $0,%al            */
    0xe6, 0x10,			  /* out %al,$0x10         */
    0xf4,			  /* hlt                   */
};

/* x87 initial (XSTATE_BV bit 0 clear, as KVM resets it), then two control words loaded from
 * the device: 037FH, which leaves x87 initial, then 027FH (round to nearest, 53-bit
 * precision), which does not */
static const uint8_t guest_fldcw[] = {
    0xb8, 0x00, 0x00, 0x00, 0xd0, /* mov $0xd0000000,%eax  */
    0xd9, 0x28,			  /* fldcw (%rax)          */
    0xd9, 0x68, 0x02,		  /* fldcw 2(%rax)         */
    0xb0, 0x00,			  /* mov $0,%al            */
    0xe6, 0x10,			  /* out %al,$0x10         */
    0xf4,			  /* hlt                   */
};
static const uint8_t fldcw_words[16] = {0x7f, 0x03, 0x7f, 0x02};

/* The device: fails while dev_fail is set; reads give bytes 1, 2, 3 ... (or dev_data's at
 * the address's offset in 16 bytes); writes are kept. */
static int dev_fail;
static unsigned dev_reads, dev_writes;
static uint8_t dev_written[8];
static const uint8_t *dev_data;

static int dev_read(void *vmm, uint64_t gpa, void *buf, size_t len)
{
	if (dev_fail)
		return -EIO;
	dev_reads++;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = dev_data ? dev_data[(gpa + i) & 15] : (uint8_t)(i + 1);
	return 0;
}

static int dev_write(void *vmm, uint64_t gpa, const void *buf, size_t len)
{
	if (dev_fail)
		return -EIO;
	dev_writes++;
	memcpy(dev_written, buf, len < 8 ? len : 8);
	return 0;
}

static const struct xg_kvm_vmm_ops dev_ops = {.mmio_read = dev_read, .mmio_write = dev_write};

static char dir[] = "/tmp/xg-t-xsave-lend-XXXXXX";
static char policy[sizeof(dir) + 16];

struct g {
	struct xg_kvm_vm *vm;
	struct xg_kvm_vcpu *v;
	struct kvm_run *run;
	size_t run_size;
	struct xg_vcpu_ops ops;
	xg_config *cfg;
	xg_engine *eng;
	xg_vcpu *xv;
};

static void quiet(void *ud, const char *line)
{
}

static void g_open(struct g *g, const uint8_t *image, size_t len)
{
	struct xg_error err = {{0}};
	char cfg[256];

	memset(g, 0, sizeof(*g));
	dev_fail = 0;
	dev_reads = dev_writes = 0;
	memset(dev_written, 0, sizeof(dev_written));
	if (xg_kvm_vm_create(&g->vm, NULL, &err) ||
	    xg_kvm_enable_cap(g->vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err) ||
	    xg_kvm_load(g->vm, XG_KVM_LOAD_ADDR, image, len, &err) ||
	    xg_kvm_vcpu_create(g->vm, 0, XG_KVM_LOAD_ADDR, &g->v, &err))
		bail("%s", err.msg);
	xg_kvm_vcpu_set_vmm(g->v, &dev_ops, NULL);
	g->run = xg_kvm_vcpu_run_area(g->v, &g->run_size);
	xg_kvm_vcpu_ops(g->v, &g->ops);
	/* on_error stop: the failed attempt leaves the vCPU to the test, which runs it again */
	snprintf(cfg, sizeof(cfg), "guests:\n  default:\n    policy: %s\n    on_error: stop\n",
		 policy);
	g->cfg = xg_config_parse(cfg, strlen(cfg), "t_kvm_xsave_lend", dir, &err);
	g->eng = g->cfg ? xg_engine_new(g->cfg, &err) : NULL;
	if (g->eng)
		xg_engine_set_log(g->eng, quiet, NULL);
	g->xv = g->eng ? xg_vcpu_attach(g->eng, "default", 0, &g->ops, g->v, &err) : NULL;
	if (!g->xv)
		bail("engine: %s", err.msg);
}

static void g_close(struct g *g)
{
	xg_vcpu_detach(g->xv);
	xg_engine_free(g->eng);
	xg_config_free(g->cfg);
	xg_kvm_vm_destroy(g->vm);
}

/* KVM_RUN to the next emulation failure; 0, or -1 at the guest's end (result in *result). */
static int next_exit(struct g *g, int *result)
{
	for (;;) {
		int r = xg_kvm_vcpu_run(g->v);
		if (r == -EINTR)
			continue;
		if (r)
			bail("KVM_RUN: %s", strerror(-r));
		if (g->run->exit_reason == KVM_EXIT_IO && g->run->io.port == PORT_RESULT) {
			*result = *((uint8_t *)g->run + g->run->io.data_offset);
			continue;
		}
		if (g->run->exit_reason == KVM_EXIT_HLT)
			return -1;
		if (g->run->exit_reason != KVM_EXIT_INTERNAL_ERROR)
			bail("unexpected exit %u", g->run->exit_reason);
		return 0;
	}
}

/* KVM's image now, by the test's own KVM_GET_XSAVE (not through the backend's buffer). */
static void kvm_image(struct g *g, uint8_t *buf)
{
	size_t size = xg_kvm_xsave_size(g->v);
	uint8_t *tmp = aligned_alloc(64, (size + 63) & ~(size_t)63);
	struct xg_error err = {{0}};

	if (!tmp || xg_kvm_get_xsave(g->v, tmp, size, &err))
		bail("KVM_GET_XSAVE: %s", err.msg);
	memcpy(buf, tmp, XG_EMU_X86_XSAVE_SIZE);
	free(tmp);
}

static unsigned top_of(const uint8_t *xs)
{
	return (xs[XG_EMU_X86_XS_FSW + 1] >> 3) & 7;
}

/* The first attempt fails on the host side; the backend's image must then be KVM's. */
static void failed_attempt(struct g *g, const char *name, uint64_t rip, uint8_t *kvm)
{
	uint8_t got[XG_EMU_X86_XSAVE_SIZE];
	struct xg_result res;
	struct xg_error err = {{0}};
	struct kvm_regs r;
	int result = -1;

	for (;;) {
		if (next_exit(g, &result))
			bail("%s: no exit", name);
		if (xg_kvm_get_regs(g->v, &r, &err))
			bail("%s", err.msg);
		if (r.rip == rip)
			break;
		res = xg_handle_exit(g->xv, g->run, g->run_size, 0);
		if (res.fail)
			bail("an exit before %s failed: %s", name, xg_vcpu_last_error(g->xv));
	}
	dev_fail = 1;
	res = xg_handle_exit(g->xv, g->run, g->run_size, 0);
	dev_fail = 0;
	ok(res.fail != XG_FAIL_NONE, "%s, the device failing: the emulation fails (%s)", name,
	   xg_vcpu_last_error(g->xv));
	if (!ok(g->ops.get_xsave(g->v, got) == 0, "%s: the backend's get_xsave after it", name))
		memset(got, 0, sizeof(got));
	kvm_image(g, kvm);
	ok(!memcmp(got, kvm, sizeof(got)),
	   "%s: the backend's image is KVM's (the lent copy, changed and not written, was dropped)",
	   name);
}

static void x87_case(void)
{
	struct g g;
	uint8_t kvm[XG_EMU_X86_XSAVE_SIZE];
	double one = 1.0;
	int result = -1;

	g_open(&g, guest_x87, sizeof(guest_x87));
	if (getenv("XG_KVM_NO_LEND"))
		ok(!g.ops.lend_xsave && !g.ops.discard_xsave,
		   "XG_KVM_NO_LEND=1: the backend does not lend (copies, as before)");
	else
		ok(g.ops.lend_xsave && g.ops.discard_xsave,
		   "the KVM backend lends its XSAVE image");
	failed_attempt(&g, "fstpl (%rax)", FSTP_RIP, kvm);
	is_int(top_of(kvm), 7, "... KVM's x87 TOP is 7: flds's push, fstpl's pop not done");
	while (!next_exit(&g, &result)) {
		struct xg_result res = xg_handle_exit(g.xv, g.run, g.run_size, 0);
		if (res.next != XG_NEXT_RUN || res.fail) {
			diag("the engine failed: %s", xg_vcpu_last_error(g.xv));
			break;
		}
	}
	is_int(result, 0, "run again: the guest went on");
	kvm_image(&g, kvm);
	is_int(top_of(kvm), 0, "... x87 TOP is 0 in KVM: one pop");
	if (!ok(dev_writes == 1 && !memcmp(dev_written, &one, 8),
		"... and the device got 1.0 once"))
		diag("%u writes, the last %02x %02x %02x %02x %02x %02x %02x %02x", dev_writes,
		     dev_written[0], dev_written[1], dev_written[2], dev_written[3], dev_written[4],
		     dev_written[5], dev_written[6], dev_written[7]);
	g_close(&g);
}

static void vec_case(void)
{
	struct g g;
	uint8_t kvm[XG_EMU_X86_XSAVE_SIZE], want[32];
	uint64_t bv0, bv, xcr0;
	int result = -1;

	g_open(&g, guest_vec, sizeof(guest_vec));
	failed_attempt(&g, "vmovdqu (%rax),%ymm0", XG_KVM_LOAD_ADDR + 5, kvm);
	memcpy(&bv0, kvm + XG_EMU_X86_XS_XSTATE_BV, 8);
	bv = 0;
	while (!next_exit(&g, &result)) {
		struct xg_result res = xg_handle_exit(g.xv, g.run, g.run_size, 0);
		if (res.next != XG_NEXT_RUN || res.fail) {
			diag("the engine failed: %s", xg_vcpu_last_error(g.xv));
			break;
		}
		/* what KVM_SET_XSAVE gave KVM, before the guest runs (and the CPU's own XSAVE
		 * may find unused components initial again) */
		kvm_image(&g, kvm);
		memcpy(&bv, kvm + XG_EMU_X86_XS_XSTATE_BV, 8);
	}
	is_int(result, 0, "run again: the guest went on");
	kvm_image(&g, kvm);
	for (int i = 0; i < 32; i++)
		want[i] = (uint8_t)(i + 1);
	ok(dev_reads == 1 && !memcmp(kvm + XG_EMU_X86_XS_XMM0, want, 16) &&
	       !memcmp(kvm + XG_EMU_X86_XS_YMMH, want + 16, 16),
	   "... YMM0 in KVM is the device's 32 bytes, written from the lent image");
	/* the components the guest had in their initial state and the instruction left so
	 * (AVX-512: the VEX load only zeros ZMM0's upper half; x87: it writes none of it) are
	 * given to KVM initial: marked in use, KVM and the guest would carry them on every
	 * switch */
	xcr0 = xg_kvm_vcpu_xcr0(g.v);
	diag("XCR0 %#llx, XSTATE_BV before %#llx, after the emulation %#llx",
	     (unsigned long long)xcr0, (unsigned long long)bv0, (unsigned long long)bv);
	ok((bv & 0x6) == 0x6 && (bv & 0xe1) == (bv0 & 0xe1),
	   "... XSTATE_BV in KVM: SSE and AVX in use, x87 and AVX-512 as the guest had it (%#llx, "
	   "was "
	   "%#llx)",
	   (unsigned long long)bv, (unsigned long long)bv0);
	g_close(&g);
}

/*
 * x87 in its initial state in KVM, an x87 instruction emulated: the emulator marks x87 in
 * use for it and gives it back initial when the instruction left the registers so
 * (settle_xstate_bv). Judged by KVM: its image after each emulation (what KVM_SET_XSAVE
 * gave it, read before the guest runs on) holds the guest's FCW, and XSTATE_BV bit 0 is
 * clear exactly while x87 is initial. A bit cleared after FLDCW 027FH would have the entry's
 * XRSTOR load FCW 037FH (SDM Vol. 1 13.8.1): the guest's control word lost.
 */
static void x87_init_case(void)
{
	static const uint16_t want_fcw[2] = {0x037f, 0x027f};
	struct g g;
	uint8_t kvm[XG_EMU_X86_XSAVE_SIZE];
	uint64_t bv;
	uint16_t fcw;
	int result = -1, n = 0;

	dev_data = fldcw_words;
	g_open(&g, guest_fldcw, sizeof(guest_fldcw));
	kvm_image(&g, kvm);
	memcpy(&bv, kvm + XG_EMU_X86_XS_XSTATE_BV, 8);
	if (bv & 1)
		diag("KVM has x87 in use at the start (XSTATE_BV %#llx)", (unsigned long long)bv);
	while (!next_exit(&g, &result)) {
		struct xg_result res = xg_handle_exit(g.xv, g.run, g.run_size, 0);
		if (res.next != XG_NEXT_RUN || res.fail) {
			diag("the engine failed: %s", xg_vcpu_last_error(g.xv));
			break;
		}
		kvm_image(&g, kvm);
		if (n >= 2)
			continue;
		memcpy(&bv, kvm + XG_EMU_X86_XS_XSTATE_BV, 8);
		memcpy(&fcw, kvm + XG_EMU_X86_XS_FCW, 2);
		ok(fcw == want_fcw[n] && !!(bv & 1) == (n == 1),
		   "fldcw %#x from the device on an initial x87: FCW %#x in KVM, XSTATE_BV %#llx "
		   "(x87 %s)",
		   want_fcw[n], fcw, (unsigned long long)bv, n ? "in use" : "initial");
		n++;
	}
	is_int(n, 2, "... two emulations");
	is_int(result, 0, "... and the guest went on");
	dev_data = NULL;
	g_close(&g);
}

/*
 * The backend lends its image as explicit (XG_EMU_X86_LENT_EXPLICIT): every component whose
 * XSTATE_BV bit is clear holds its initial values, so the emulator does not write them. That
 * is the kernel's doing (KVM_GET_XSAVE2 writes init_fpstate's x87 and SSE parts and zeros for
 * extended components not in use), checked here on the running kernel: an image whose
 * components are marked initial but hold garbage goes in with KVM_SET_XSAVE, and what comes
 * back holds the initial values (SDM Vol. 1 13.6: FCW 037FH, everything else 0).
 */
static void explicit_case(void)
{
	const struct {
		unsigned bit, off, len;
		const char *name;
	} comp[] = {
	    {0, XG_EMU_X86_XS_FCW, 24, "x87 control and pointers"},
	    {0, XG_EMU_X86_XS_ST0, 128, "x87 registers"},
	    {1, XG_EMU_X86_XS_XMM0, 256, "XMM0-15"},
	    {2, XG_EMU_X86_XS_YMMH, 256, "YMM_Hi128"},
	    {5, XG_EMU_X86_XS_OPMASK, 64, "opmask"},
	    {6, XG_EMU_X86_XS_ZMMH, 512, "ZMM_Hi256"},
	    {7, XG_EMU_X86_XS_HI16ZMM, 1024, "Hi16_ZMM"},
	};
	struct g g;
	size_t size;
	uint8_t *img, want[1024];
	struct xg_error err = {{0}};
	void *lent = NULL;
	uint64_t bv = 0;

	g_open(&g, guest_vec, sizeof(guest_vec));
	if (!g.ops.lend_xsave) {
		skip(8, "the backend does not lend (XG_KVM_NO_LEND set)");
		g_close(&g);
		return;
	}
	is_int(g.ops.lend_xsave(g.v, &lent), XG_EMU_X86_LENT_EXPLICIT,
	       "the backend lends its image as explicit");
	size = xg_kvm_xsave_size(g.v);
	img = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!img || xg_kvm_get_xsave(g.v, img, size, &err))
		bail("KVM_GET_XSAVE: %s", err.msg);
	for (size_t i = 0; i < sizeof(comp) / sizeof(comp[0]); i++)
		memset(img + comp[i].off, 0xa5, comp[i].len);
	memcpy(img + XG_EMU_X86_XS_XSTATE_BV, &bv, 8); /* every component initial */
	if (xg_kvm_set_xsave(g.v, img, size, &err))
		bail("KVM_SET_XSAVE of an all-initial image: %s", err.msg);
	memset(img, 0x5a, size);
	if (xg_kvm_get_xsave(g.v, img, size, &err))
		bail("KVM_GET_XSAVE: %s", err.msg);
	memcpy(&bv, img + XG_EMU_X86_XS_XSTATE_BV, 8);
	diag("XSTATE_BV read back: %#llx", (unsigned long long)bv);
	for (size_t i = 0; i < sizeof(comp) / sizeof(comp[0]); i++) {
		memset(want, 0, comp[i].len);
		if (comp[i].off == XG_EMU_X86_XS_FCW)
			want[0] = 0x7f, want[1] = 0x03;
		if (bv & (1ull << comp[i].bit))
			skip(1, "KVM reports %s in use after setting it initial", comp[i].name);
		else
			ok(!memcmp(img + comp[i].off, want, comp[i].len),
			   "KVM_GET_XSAVE writes the initial values of %s (bit %u clear)",
			   comp[i].name, comp[i].bit);
	}
	free(img);
	g_close(&g);
}

int main(void)
{
	char why[256];
	FILE *f;

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (!mkdtemp(dir))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(policy, sizeof(policy), "%s/p.lua", dir);
	f = fopen(policy, "w");
	if (!f ||
	    fputs("local xg = require 'exitgate'\n"
		  "return { emulation_failure = function(e) return xg.emulate() end }\n",
		  f) < 0 ||
	    fclose(f))
		bail("cannot write %s", policy);

	explicit_case();
	x87_case();
	vec_case();
	x87_init_case();
	setenv("XG_KVM_NO_LEND", "1", 1);
	x87_case();
	vec_case();
	x87_init_case();

	unlink(policy);
	rmdir(dir);
	return done_testing();
}
