/*
 * t_emu_diff.c - the differential harness: the real CPU is the oracle.
 *
 * Inside a real KVM guest, every generated case (an instruction, a full initial state of
 * GPRs, flags, x87/SSE/AVX/AVX-512 registers and memory) runs twice:
 *   native   the data window (two pages at DATA_GPA) is RAM (memslots 1 and 2): the CPU
 *            executes the instruction itself;
 *   emulated the same window has no memslot (all of it, or one page of two for split
 *            accesses) so it is MMIO. When KVM gives up (KVM_EXIT_INTERNAL_ERROR,
 *            EMULATION) exitgate's emulator finishes the instruction from the bytes in the
 *            exit, through ops backed by KVM_GET/SET_REGS, KVM_GET/SET_XSAVE and a RAM-like
 *            MMIO buffer. When KVM handles the access itself (KVM_EXIT_MMIO), or the CPU
 *            never touched MMIO, the vCPU is put back to the state right before the
 *            instruction and exitgate emulates it from that snapshot: always exitgate
 *            against the CPU, never KVM against itself.
 * Then the guest runs on to the HLT after the instruction, and GPRs, RIP, RFLAGS, x87 state
 * (FCW, FSW, tags, ST0-7), MXCSR, XMM/YMM/ZMM0-31, k0-7 and the data window and stack are
 * compared bit for bit. Faulting cases end in an IDT stub that halts; the vector and error
 * code must then match the exception the emulator raised. FIP/FDP/FOP are compared on an
 * AMD host only: AMD CPUs save them only when an x87 exception is pending (AMD APM Vol. 5,
 * FXSAVE), and the emulator's image is what that XSAVE stores (the vendor list in
 * xg_emu_x86.h); this harness has not judged Intel's on a Xeon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "tap.h"
#include "emu_kvm_ops.h"

#define CODE_GPA  0x100000ull
#define HANDLERS  0x101000ull /* 32 hlt stubs, one per vector */
#define IDT_GPA	  0x102000ull
#define STACK_TOP 0x3e0000ull
#define DATA_GPA  0x80000000ull
#define FS_BASE	  (DATA_GPA - 0x10000)
#define NPAGES	  2
#define INSN_GPA  (CODE_GPA + 0x400) /* the instruction under test */
#define IN_BLOCK  0x104000ull	     /* AVX-512 state the guest loads: k0-7, zmm0-31 */
#define OUT_BLOCK 0x106000ull	     /* ... and stores after the instruction */

/* ---- case description ---- */

enum { K_GP = 0, K_X87, K_SSE, K_STR };
enum { ENC_LEG = 0, ENC_VEX, ENC_EVEX };

struct tmpl {
	const char *name;
	uint8_t pre[8];
	uint8_t npre;
	uint8_t reg; /* ModRM.reg (register number low 3 bits, or /digit) */
	uint8_t imm[4];
	uint8_t nimm;
	uint8_t kind;
	uint8_t memsize; /* bytes the memory operand spans (0: vector length) */
	uint8_t flags;
};
#define T_BITOFF  1  /* ModRM.reg register (never rbx/rsi) holds a small signed bit offset */
#define T_RAXMEM  2  /* rax/rdx:rax preset to the memory value (cmpxchg success) */
#define T_MOFFS	  4  /* A0-A3: 8-byte absolute address instead of ModRM */
#define T_NOFORMS 8  /* only [rbx] */
#define T_AVX512  16 /* needs AVX-512 in XCR0 */

struct state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE];
	uint8_t data[NPAGES * 4096];
	uint8_t stack[256];
	int vector; /* -1: none */
	uint32_t error;
	uint64_t cr2;
	int stage;
};

struct harness {
	struct emu_kvm k;
	struct kvm_run *run;
	uint8_t *slotmem;
	struct kvm_regs base_regs;
	struct kvm_sregs base_sregs;
	uint8_t *base_xs;
	int avx512;
	/* counts */
	long cases, mismatches, kvm_gave_up, kvm_mmio, no_mmio, exceptions, not_handled;
	long pvm_gp; /* user-mode #GP that kvm_pvm re-emulated into #UD (see compare()) */
	uint8_t *shadow;
	long per_kind[4];
	char cpu[128]; /* the vendor string and model name of the CPU that judges */
};

static struct harness H;

/* "GenuineIntel, Intel(R) Xeon(R) ...": which CPU this run's verdicts came from. */
static void host_cpu(char *out, size_t n)
{
	unsigned a, b, c, d, leaf[12];
	char id[13], brand[49] = "";

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	memcpy(id, &b, 4), memcpy(id + 4, &d, 4), memcpy(id + 8, &c, 4), id[12] = 0;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000), "c"(0));
	if (a >= 0x80000004) {
		for (unsigned i = 0; i < 3; i++)
			__asm__ volatile("cpuid"
					 : "=a"(leaf[4 * i]), "=b"(leaf[4 * i + 1]),
					   "=c"(leaf[4 * i + 2]), "=d"(leaf[4 * i + 3])
					 : "a"(0x80000002 + i), "c"(0));
		memcpy(brand, leaf, 48);
		brand[48] = 0;
	}
	snprintf(out, n, "%s, %s", id, brand[0] ? brand : "no brand string");
}
static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so a failing case is reproducible */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* ---- VM plumbing ---- */

static int set_slot(unsigned slot, uint64_t gpa, void *host, uint64_t size)
{
	struct kvm_userspace_memory_region r = {
	    .slot = slot,
	    .guest_phys_addr = gpa,
	    .memory_size = size,
	    .userspace_addr = (uint64_t)(uintptr_t)host,
	};
	return ioctl(xg_kvm_vm_fd(H.k.vm), KVM_SET_USER_MEMORY_REGION, &r);
}

/* page i of the data window is RAM unless bit i of mmio_mask */
static void map_window(unsigned mmio_mask)
{
	for (unsigned i = 0; i < NPAGES; i++)
		if (set_slot(1 + i, DATA_GPA + 4096ull * i, H.slotmem + 4096 * i,
			     (mmio_mask >> i) & 1 ? 0 : 4096) < 0)
			bail("memslot %u: %s", 1 + i, strerror(errno));
	H.k.mmio_mask = mmio_mask;
}

/* complete whatever access KVM left pending, without running the guest */
static void flush(void)
{
	for (int i = 0; i < 64; i++) {
		H.run->immediate_exit = 1;
		int r = xg_kvm_vcpu_run(H.k.vcpu);
		H.run->immediate_exit = 0;
		if (r == -EINTR || r < 0)
			return;
		if (H.run->exit_reason == KVM_EXIT_MMIO && !H.run->mmio.is_write)
			memset(H.run->mmio.data, 0, sizeof(H.run->mmio.data));
	}
}

struct gcase {
	const struct tmpl *t;
	uint8_t code[32];
	unsigned len;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE];
	uint8_t data[NPAGES * 4096];
	unsigned mmio_mask;
	char desc[160];
};

/*
 * Guest code: [CODE_GPA] load k0-7 and zmm0-31 from IN_BLOCK (AVX-512 only), nops,
 * [INSN_GPA] the instruction, store k0-7 and zmm0-31 to OUT_BLOCK, out %al,$0x80.
 * The loads and stores are RIP-relative and change no GPR or flag.
 */
static unsigned emit_avx512(uint8_t *p, uint64_t at, int store)
{
	unsigned n = 0;
	uint64_t block = store ? OUT_BLOCK : IN_BLOCK;

	for (unsigned i = 0; i < 8; i++) {
		int32_t d;
		p[n++] = 0xc4, p[n++] = 0xe1, p[n++] = 0xf8, p[n++] = store ? 0x91 : 0x90;
		p[n++] = (uint8_t)(i << 3 | 5);
		d = (int32_t)(block + 8 * i - (at + n + 4));
		memcpy(p + n, &d, 4);
		n += 4;
	}
	for (unsigned i = 0; i < 32; i++) {
		int32_t d;
		p[n++] = 0x62;
		p[n++] = (uint8_t)((!(i & 8)) << 7 | 0x60 | (!(i & 16)) << 4 | 1);
		p[n++] = 0xfe, p[n++] = 0x48, p[n++] = store ? 0x7f : 0x6f;
		p[n++] = (uint8_t)((i & 7) << 3 | 5);
		d = (int32_t)(block + 64 + 64 * i - (at + n + 4));
		memcpy(p + n, &d, 4);
		n += 4;
	}
	return n;
}

/* zmm i (512 bits) from an XSAVE image and back */
static void zmm_from_xs(const uint8_t *xs, unsigned i, uint8_t *out)
{
	if (i >= 16) {
		memcpy(out, xs + XG_EMU_X86_XS_HI16ZMM + 64 * (i - 16), 64);
		return;
	}
	memcpy(out, xs + XG_EMU_X86_XS_XMM0 + 16 * i, 16);
	memcpy(out + 16, xs + XG_EMU_X86_XS_YMMH + 16 * i, 16);
	memcpy(out + 32, xs + XG_EMU_X86_XS_ZMMH + 32 * i, 32);
}

static void avx512_to_xs(uint8_t *xs, const uint8_t *block)
{
	memcpy(xs + XG_EMU_X86_XS_OPMASK, block, 64);
	for (unsigned i = 0; i < 32; i++) {
		const uint8_t *z = block + 64 + 64 * i;
		if (i >= 16) {
			memcpy(xs + XG_EMU_X86_XS_HI16ZMM + 64 * (i - 16), z, 64);
			continue;
		}
		memcpy(xs + XG_EMU_X86_XS_ZMMH + 32 * i, z + 32, 32);
	}
}

static unsigned post_len;

static void load_case(const struct gcase *c, int at_insn)
{
	uint8_t *code = xg_kvm_gpa_ptr(H.k.vm, CODE_GPA, 0x1000);
	uint8_t *stack = xg_kvm_gpa_ptr(H.k.vm, STACK_TOP - 128, 256);
	uint8_t *in = xg_kvm_gpa_ptr(H.k.vm, IN_BLOCK, 64 + 64 * 32);
	struct kvm_regs regs = c->regs;
	struct xg_error err;
	unsigned n = 0;

	flush();
	memset(code, 0x90, INSN_GPA - CODE_GPA);
	if (H.avx512)
		emit_avx512(code, CODE_GPA, 0);
	memcpy(code + (INSN_GPA - CODE_GPA), c->code, c->len);
	n = (unsigned)(INSN_GPA - CODE_GPA) + c->len;
	if (H.avx512)
		n += post_len = emit_avx512(code + n, CODE_GPA + n, 1);
	code[n] = 0xe6; /* out %al, $0x80: ends the case (IOPL 3) */
	code[n + 1] = 0x80;
	if (H.avx512) {
		memcpy(in, c->xs + XG_EMU_X86_XS_OPMASK, 64);
		for (unsigned i = 0; i < 32; i++)
			zmm_from_xs(c->xs, i, in + 64 + 64 * i);
		memcpy(H.shadow, c->xs, XG_EMU_X86_XSAVE_SIZE);
	}
	regs.rip = at_insn ? INSN_GPA : CODE_GPA;
	memset(stack, 0x5a, 256);
	memcpy(H.slotmem, c->data, sizeof(c->data));
	memcpy(H.k.mmio, c->data, sizeof(c->data));
	memcpy(H.k.xsave, H.base_xs, H.k.xsave_size);
	memcpy(H.k.xsave, c->xs, XG_EMU_X86_XSAVE_SIZE);
	if (xg_kvm_set_sregs(H.k.vcpu, &c->sregs, &err) || xg_kvm_set_regs(H.k.vcpu, &regs, &err) ||
	    xg_kvm_set_xsave(H.k.vcpu, H.k.xsave, H.k.xsave_size, &err))
		bail("loading a case: %s", err.msg);
}

/* Put every XSAVE component in explicit form (XSTATE_BV bit clear = initial state). */
static void normalize_xs(uint8_t *xs)
{
	uint64_t bv;
	memcpy(&bv, xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	if (!(bv & 1)) {
		memset(xs, 0, 24);
		memset(xs + 32, 0, 128);
		xs[0] = 0x7f;
		xs[1] = 0x03;
	}
	if (!(bv & 2))
		memset(xs + 160, 0, 256);
	if (!(bv & 4))
		memset(xs + XG_EMU_X86_XS_YMMH, 0, 256);
	if (!(bv & 32))
		memset(xs + XG_EMU_X86_XS_OPMASK, 0, 64);
	if (!(bv & 64))
		memset(xs + XG_EMU_X86_XS_ZMMH, 0, 512);
	if (!(bv & 128))
		memset(xs + XG_EMU_X86_XS_HI16ZMM, 0, 1024);
	/* FOP, FIP, FDP: on AMD only (see the top of the file) */
	if (xg_emu_x86_host_vendor() != XG_EMU_X86_VENDOR_AMD)
		memset(xs + 6, 0, 18);
	/* ST(i) registers are 80 bits in 16-byte slots */
	for (int i = 0; i < 8; i++)
		memset(xs + 32 + 16 * i + 10, 0, 6);
	memset(xs + XG_EMU_X86_XS_XSTATE_BV, 0, 64);
	/* 832..1087: MPX components (not in XCR0) and padding */
	memset(xs + XG_EMU_X86_XS_YMMH + 256, 0, XG_EMU_X86_XS_OPMASK - XG_EMU_X86_XS_YMMH - 256);
	memset(xs + 28, 0, 4); /* MXCSR_MASK */
	memset(xs + 416, 0, 96);
}

static void capture(struct state *s, int emulated)
{
	struct xg_error err;
	uint8_t *stack = xg_kvm_gpa_ptr(H.k.vm, STACK_TOP - 128, 256);

	if (xg_kvm_get_regs(H.k.vcpu, &s->regs, &err) ||
	    xg_kvm_get_sregs(H.k.vcpu, &s->sregs, &err) ||
	    xg_kvm_get_xsave(H.k.vcpu, H.k.xsave, H.k.xsave_size, &err))
		bail("capture: %s", err.msg);
	memcpy(s->xs, H.k.xsave, XG_EMU_X86_XSAVE_SIZE);
	if (H.avx512) {
		uint64_t bv;
		if (emulated)
			memcpy(s->xs + XG_EMU_X86_XS_OPMASK, H.shadow + XG_EMU_X86_XS_OPMASK,
			       XG_EMU_X86_XS_AVX512_END - XG_EMU_X86_XS_OPMASK);
		else
			avx512_to_xs(s->xs, xg_kvm_gpa_ptr(H.k.vm, OUT_BLOCK, 64 + 64 * 32));
		memcpy(&bv, s->xs + XG_EMU_X86_XS_XSTATE_BV, 8);
		bv |= 0xe0;
		memcpy(s->xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
	}
	normalize_xs(s->xs);
	memcpy(s->stack, stack, 256);
	for (unsigned i = 0; i < NPAGES; i++)
		memcpy(s->data + 4096 * i,
		       (emulated && ((H.k.mmio_mask >> i) & 1) ? H.k.mmio : H.slotmem) + 4096 * i,
		       4096);
	s->vector = -1;
	if (s->regs.rip > HANDLERS && s->regs.rip <= HANDLERS + 32) {
		uint64_t *sp = xg_kvm_gpa_ptr(H.k.vm, s->regs.rsp, 8);
		s->vector = (int)(s->regs.rip - HANDLERS - 1);
		/* vectors with an error code: SDM Vol. 3A Table 6-1 */
		if (((0x27d00u >> s->vector) & 1) && sp)
			s->error = (uint32_t)*sp;
		s->cr2 = s->sregs.cr2;
	} else if (!emulated) {
		/* the end of the instruction: before the stores and the OUT */
		s->regs.rip -= 2 + (H.avx512 ? post_len : 0);
	}
}

/* run to a HLT; returns the exit reason */
static unsigned run_guest(void)
{
	for (int i = 0; i < 16; i++) {
		int r = xg_kvm_vcpu_run(H.k.vcpu);
		if (r < 0)
			bail("KVM_RUN: %s", strerror(-r));
		if (H.run->exit_reason != KVM_EXIT_MMIO)
			return H.run->exit_reason;
		return KVM_EXIT_MMIO;
	}
	return 0;
}

static int native(const struct gcase *c, struct state *s)
{
	unsigned ex;

	map_window(0);
	load_case(c, 0);
	ex = run_guest();
	if (ex != KVM_EXIT_IO && ex != KVM_EXIT_HLT) {
		diag(
		    "%s: native run ended with exit %u (suberror %u, ndata %u, data %llx %llx %llx "
		    "%llx)",
		    c->desc, ex, H.run->internal.suberror, H.run->internal.ndata,
		    (unsigned long long)H.run->internal.data[0],
		    (unsigned long long)H.run->internal.data[1],
		    (unsigned long long)H.run->internal.data[2],
		    (unsigned long long)H.run->internal.data[3]);
		return -1;
	}
	capture(s, 0);
	return 0;
}

static int emulated(const struct gcase *c, struct state *s, char *why, size_t whyn)
{
	struct xg_emu_x86_result res;
	const uint8_t *bytes = NULL;
	uint8_t ib[16];
	size_t n = 0;
	unsigned ex;

	map_window(c->mmio_mask);
	load_case(c, 0);
	ex = run_guest();
	if (ex == KVM_EXIT_INTERNAL_ERROR &&
	    H.run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
		/* the real path: KVM gave up, the exit carries the bytes (data[1..2]) */
		uint64_t d1 = H.run->internal.data[1], d2 = H.run->internal.data[2];
		H.kvm_gave_up++;
		n = d1 & 0xff;
		if (n > 15)
			n = 15;
		memcpy(ib, (uint8_t *)&d1 + 1, 7);
		memcpy(ib + 7, &d2, 8);
		bytes = ib;
		if (H.run->internal.ndata < 3)
			bytes = NULL, n = 0;
	} else {
		/* KVM handled it or never exited: emulate from the snapshot before the insn */
		if (ex == KVM_EXIT_MMIO)
			H.kvm_mmio++;
		else
			H.no_mmio++;
		load_case(c, 1);
	}
	H.k.injected = 0;
	xg_emu_x86_emulate(&emu_kvm_ops, &H.k, bytes, n, &res);
	if (res.status == XG_EMU_X86_EXCEPTION) {
		memset(s, 0, sizeof(*s));
		s->stage = res.stage;
		s->vector = res.exc.vector;
		s->error = res.exc.error;
		s->cr2 = res.exc.cr2;
		return 1;
	}
	if (res.status != XG_EMU_X86_OK) {
		snprintf(why, whyn, "%s: %s", xg_emu_x86_status_name(res.status), res.reason);
		return -1;
	}
	/* the state right after the instruction, as the emulator left it in the vCPU */
	capture(s, 1);
	return 0;
}

static const char *const gpr_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					  "r8",	 "r9",	"r10", "r11", "r12", "r13", "r14", "r15"};

static void regs_array(const struct kvm_regs *r, uint64_t g[16])
{
	g[0] = r->rax, g[1] = r->rcx, g[2] = r->rdx, g[3] = r->rbx;
	g[4] = r->rsp, g[5] = r->rbp, g[6] = r->rsi, g[7] = r->rdi;
	memcpy(g + 8, &r->r8, 64);
}

static int compare(const struct gcase *c, const struct state *a, const struct state *b, char *why,
		   size_t n)
{
	uint64_t ga[16], gb[16];

	/*
	 * kvm_pvm intercepts a #GP raised at CPL 3 and re-runs the instruction through KVM's
	 * own emulator, which reports #UD for what it does not know (measured with movsldup,
	 * vmovntdq ...): the CPU's #GP(0) cannot be observed. Counted apart, and only for the
	 * alignment and canonical checks of exitgate.
	 */
	if (a->vector == 6 && b->vector == 13 && b->error == 0 &&
	    (b->stage == XG_EMU_X86_STAGE_ALIGNMENT || b->stage == XG_EMU_X86_STAGE_CANONICAL)) {
		H.pvm_gp++;
		return 0;
	}
	if (a->vector >= 0 || b->vector >= 0) {
		if (a->vector != b->vector || (a->vector >= 0 && a->error != b->error) ||
		    (a->vector == 14 && a->cr2 != b->cr2)) {
			snprintf(why, n, "exception: cpu %d/%x, exitgate %d/%x", a->vector,
				 a->error, b->vector, b->error);
			return 1;
		}
		H.exceptions++;
		return 0;
	}
	regs_array(&a->regs, ga);
	regs_array(&b->regs, gb);
	for (int i = 0; i < 16; i++)
		if (ga[i] != gb[i]) {
			snprintf(why, n, "%s: cpu %llx, exitgate %llx", gpr_names[i],
				 (unsigned long long)ga[i], (unsigned long long)gb[i]);
			return 1;
		}
	/* IOPL: kvm_pvm reports 0 after the OUT that ends a native case (it virtualizes IOPL
	 * for CPL-3 code); the instruction under test never changes it */
	if (a->regs.rip != b->regs.rip || (a->regs.rflags ^ b->regs.rflags) & ~0x3000ull) {
		snprintf(why, n, "rip/rflags: cpu %llx/%llx, exitgate %llx/%llx",
			 (unsigned long long)a->regs.rip, (unsigned long long)a->regs.rflags,
			 (unsigned long long)b->regs.rip, (unsigned long long)b->regs.rflags);
		return 1;
	}
	/* up to the end of the AVX-512 state, at this host's offsets (xg_emu_x86.h) */
	for (unsigned i = 0; i < XG_EMU_X86_XS_AVX512_END; i++)
		if (a->xs[i] != b->xs[i]) {
			snprintf(why, n, "xsave byte %u (%s): cpu %02x, exitgate %02x", i,
				 i < 32			     ? "x87 control/MXCSR"
				 : i < 160		     ? "ST regs"
				 : i < 416		     ? "XMM"
				 : i < 512		     ? "padding"
				 : i < 576		     ? "XSAVE header"
				 : i < 832		     ? "YMM high"
				 : i < XG_EMU_X86_XS_OPMASK  ? "MPX/padding"
				 : i < XG_EMU_X86_XS_ZMMH    ? "opmask"
				 : i < XG_EMU_X86_XS_HI16ZMM ? "ZMM high"
							     : "ZMM16-31",
				 a->xs[i], b->xs[i]);
			return 1;
		}
	for (unsigned i = 0; i < sizeof(a->data); i++)
		if (a->data[i] != b->data[i]) {
			snprintf(why, n, "memory +%#x: cpu %02x, exitgate %02x", i, a->data[i],
				 b->data[i]);
			return 1;
		}
	if (memcmp(a->stack, b->stack, sizeof(a->stack))) {
		snprintf(why, n, "stack differs");
		return 1;
	}
	(void)c;
	return 0;
}

static void run_case(struct gcase *c)
{
	static struct state a, b;
	char why[200] = "";
	int rc;

	H.cases++;
	H.per_kind[c->t->kind]++;
	if (native(c, &a) < 0) {
		H.mismatches++;
		return;
	}
	rc = emulated(c, &b, why, sizeof(why));
	if (rc < 0) {
		H.mismatches++;
		H.not_handled++;
		if (H.mismatches < 100000)
			diag("MISMATCH %s: %s", c->desc, why);
		return;
	}
	if (compare(c, &a, &b, why, sizeof(why))) {
		H.mismatches++;
		if (H.mismatches < 100000)
			diag("MISMATCH %s: %s", c->desc, why);
	}
}

/* ---- case generation ---- */

static void hexs(char *out, const uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		out += sprintf(out, "%02x", b[i]);
}

static const uint32_t f32s[] = {0x7fc00000, 0x7f800001, 0x00000001, 0x7f800000, 0xff800000,
				0x80000000, 0x3fc00000, 0x4f000000, 0xcf000001, 0x3f000000};
static const uint64_t f64s[] = {0x7ff8000000000000ull, 0x7ff0000000000001ull, 1ull,
				0x7ff0000000000000ull, 0x8000000000000000ull, 0x3ff8000000000000ull,
				0x43e0000000000000ull, 0xc1e0000000200000ull, 0x3fe0000000000000ull,
				0x4004000000000000ull};
static const uint64_t m80lo[] = {
    0xc000000000000000ull, 0x8000000000000001ull, 1ull,
    0x8000000000000000ull, 0x4000000000000000ull, 0xc000000000000000ull};
static const uint16_t m80hi[] = {0x7fff, 0x7fff, 0x0000, 0x7fff, 0x3fff, 0x4001};

/* x87 states: FCW, TOP, number of valid registers, whether ST values are special */
struct x87st {
	uint16_t fcw;
	uint8_t top, nvalid;
};
static const struct x87st x87states[] = {
    {0x037f, 0, 0}, {0x037f, 5, 3}, {0x037f, 0, 8}, {0x0340, 5, 3}, {0x0f7f, 6, 2}, {0x0b7f, 6, 2},
};

static void fill_x87(uint8_t *xs, const struct x87st *st)
{
	uint16_t fsw = (uint16_t)(st->top << 11);
	uint8_t ftw = 0;

	memcpy(xs, &st->fcw, 2);
	memcpy(xs + 2, &fsw, 2);
	for (unsigned i = 0; i < st->nvalid; i++) {
		unsigned phys = (st->top + i) & 7;
		uint8_t *r = xs + 32 + 16 * i;
		uint64_t mant;
		uint16_t se;
		ftw |= (uint8_t)(1u << phys);
		switch (rnd() % 8) {
		case 0: /* SNaN */
			mant = 0x8000000000000001ull, se = 0x7fff;
			break;
		case 1: /* huge for integers */
			mant = 0x8000000000000000ull, se = 0x403e + (uint16_t)(rnd() % 3);
			break;
		case 2: /* x.5 for rounding */
			mant = 0xa000000000000000ull, se = 0x4000;
			break;
		case 3: /* tiny: underflows as float */
			mant = 0x8000000000000000ull, se = 0x0001;
			break;
		case 4: /* inf */
			mant = 0x8000000000000000ull, se = 0xffff;
			break;
		default:
			mant = rnd() | 0x8000000000000000ull,
			se = (uint16_t)(0x3f80 + rnd() % 0x100);
			break;
		}
		memcpy(r, &mant, 8);
		memcpy(r + 8, &se, 2);
	}
	xs[4] = ftw;
}

static void base_state(struct gcase *c)
{
	uint64_t g[16];

	c->regs = H.base_regs;
	c->sregs = H.base_sregs;
	c->sregs.fs.base = FS_BASE;
	for (int i = 0; i < 16; i++)
		g[i] = rnd();
	c->regs.rax = g[0], c->regs.rcx = g[1] & 0xffff, c->regs.rdx = g[2];
	c->regs.rbx = g[3], c->regs.rbp = g[5], c->regs.rsi = g[6], c->regs.rdi = g[7];
	memcpy(&c->regs.r8, g + 8, 64);
	c->regs.rsp = STACK_TOP;
	c->regs.rip = CODE_GPA;
	c->regs.rflags = 2 | 0x3000 /* IOPL 3 */ | (rnd() & 0x8d5);
	/* vector state: random registers, k masks from the variant, default MXCSR */
	memset(c->xs, 0, sizeof(c->xs));
	memcpy(c->xs, H.base_xs, 512);
	for (unsigned i = 160; i < 416; i++)
		c->xs[i] = (uint8_t)rnd();
	for (unsigned i = XG_EMU_X86_XS_YMMH; i < XG_EMU_X86_XS_YMMH + 256; i++)
		c->xs[i] = (uint8_t)rnd();
	if (H.avx512)
		for (unsigned i = XG_EMU_X86_XS_OPMASK; i < XG_EMU_X86_XS_AVX512_END; i++)
			c->xs[i] = (uint8_t)rnd();
	{
		uint64_t bv = xg_kvm_vcpu_xcr0(H.k.vcpu), mx = 0x1f80;
		memcpy(c->xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
		memcpy(c->xs + 24, &mx, 4);
	}
	fill_x87(c->xs, &x87states[0]);
	for (unsigned i = 0; i < sizeof(c->data); i++)
		c->data[i] = (uint8_t)rnd();
}

static void set_gpr(struct kvm_regs *r, unsigned i, uint64_t v)
{
	uint64_t g[16];
	regs_array(r, g);
	g[i & 15] = v;
	r->rax = g[0], r->rcx = g[1], r->rdx = g[2], r->rbx = g[3];
	r->rsp = g[4], r->rbp = g[5], r->rsi = g[6], r->rdi = g[7];
	memcpy(&r->r8, g + 8, 64);
}

enum { FORM_BASE = 0, FORM_DISP8, FORM_SIB32, FORM_RIP, FORM_FS, FORM_A32, FORM_EXT, NFORMS };
static const char *const form_names[NFORMS] = {
    "[rbx]",	"[rbx+disp8]",	"[rbx+rsi*4+disp32]", "[rip+disp32]",
    "fs:[rbx]", "addr32 [ebx]", "[r13+r12*8+disp8]"};

/*
 * Build the instruction for template t at data offset `off` with addressing form `form`,
 * EVEX P2 byte (if EVEX) already in t->pre. The base register is computed from the decoded
 * displacement so the operand lands on DATA_GPA + off.
 */
static int build(struct gcase *c, const struct tmpl *t, unsigned form, uint64_t off)
{
	uint64_t ea = DATA_GPA + off;
	struct xg_emu_x86_insn in;
	unsigned n = 0;

	if (form == FORM_FS)
		c->code[n++] = 0x64;
	if (form == FORM_A32)
		c->code[n++] = 0x67; /* 32-bit addressing: the high half of rbx must not count */
	memcpy(c->code + n, t->pre, t->npre);
	if (form == FORM_EXT) {
		/* base and index need REX.B/REX.X (or the VEX/EVEX inverted bits) */
		static const uint8_t legacy_prefix[256] = {
		    [0x26] = 1, [0x2e] = 1, [0x36] = 1, [0x3e] = 1, [0x64] = 1, [0x65] = 1,
		    [0x66] = 1, [0x67] = 1, [0xf0] = 1, [0xf2] = 1, [0xf3] = 1};
		unsigned k = n;
		while (k < n + t->npre && legacy_prefix[c->code[k]])
			k++;
		if (c->code[k] == 0xc5 || (t->flags & T_MOFFS))
			return -1; /* VEX2 has no B/X bits */
		if (c->code[k] == 0xc4 || c->code[k] == 0x62) {
			c->code[k + 1] &= 0x9f;
		} else if ((c->code[k] & 0xf0) == 0x40) {
			c->code[k] |= 3;
		} else {
			memmove(c->code + k + 1, c->code + k, n + t->npre - k);
			c->code[k] = 0x43;
			n++;
		}
	}
	n += t->npre;
	if (t->flags & T_MOFFS) {
		memcpy(c->code + n, &ea, 8);
		n += 8;
		c->len = n;
		return 0;
	}
	switch (form) {
	case FORM_BASE:
	case FORM_FS:
	case FORM_A32:
		c->code[n++] = (uint8_t)((t->reg & 7) << 3 | 3);
		break;
	case FORM_DISP8:
		c->code[n++] = (uint8_t)(0x40 | (t->reg & 7) << 3 | 3);
		c->code[n++] = 0x01;
		break;
	case FORM_SIB32:
		c->code[n++] = (uint8_t)(0x80 | (t->reg & 7) << 3 | 4);
		c->code[n++] = 0x80 | 6 << 3 | 3;
		c->code[n++] = 0x34, c->code[n++] = 0x12, c->code[n++] = 0, c->code[n++] = 0;
		break;
	case FORM_RIP:
		c->code[n++] = (uint8_t)((t->reg & 7) << 3 | 5);
		n += 4;
		break;
	case FORM_EXT:
		c->code[n++] = (uint8_t)(0x40 | (t->reg & 7) << 3 | 4);
		c->code[n++] = 3 << 6 | 4 << 3 | 5; /* scale 8, index r12, base r13 */
		c->code[n++] = 0xf8;
		break;
	}
	memcpy(c->code + n, t->imm, t->nimm);
	n += t->nimm;
	c->len = n;
	if (form == FORM_RIP) {
		int32_t d = (int32_t)(ea - (INSN_GPA + n));
		memcpy(c->code + n - t->nimm - 4, &d, 4);
		return 0;
	}
	if (xg_emu_x86_decode(c->code, n, 64, 0, &in, NULL, NULL) != XG_EMU_X86_OK)
		return 0; /* an invalid encoding on purpose: #UD expected from both */
	c->regs.rsi = 0x20;
	if (form == FORM_FS)
		c->regs.rbx = ea - FS_BASE - (uint64_t)in.disp;
	else if (form == FORM_SIB32)
		c->regs.rbx = ea - (uint64_t)in.disp - 0x80;
	else if (form == FORM_A32)
		c->regs.rbx = 0xdead000000000000ull | (uint32_t)(ea - (uint64_t)in.disp);
	else if (form == FORM_EXT)
		c->regs.r12 = 4, c->regs.r13 = ea - (uint64_t)in.disp - 32;
	else
		c->regs.rbx = ea - (uint64_t)in.disp;
	return 0;
}

static void gen(const struct tmpl *t, unsigned vl_bytes)
{
	unsigned size = t->memsize ? t->memsize : vl_bytes;
	uint64_t offs[4] = {0x140, 0x143 + (rnd() % 8) * 0, 0x1000 - (size > 1 ? size / 2 : 1),
			    0x1000 - (size > 2 ? 2 : 1)};
	unsigned nforms = (t->flags & (T_NOFORMS | T_MOFFS)) ? 1 : NFORMS;
	static struct gcase c;

	if ((t->flags & T_AVX512) && !H.avx512)
		return;
	for (unsigned form = 0; form < nforms; form++) {
		for (unsigned o = 0; o < 4; o++) {
			unsigned variants = t->kind == K_X87 ? 6 : (t->flags & T_AVX512) ? 3 : 2;
			if (o == 3 && size <= 2)
				continue;
			for (unsigned v = 0; v < variants; v++) {
				char hx[40];
				base_state(&c);
				c.t = t;
				if (build(&c, t, form, offs[o]) < 0)
					continue;
				c.mmio_mask =
				    (offs[o] + size > 4096) ? 1 + (unsigned)(rnd() % 3) : 3;
				if (t->kind == K_X87) {
					/* special values at the operand, and an x87 state */
					uint8_t *p = c.data + offs[o];
					fill_x87(c.xs, &x87states[v % 6]);
					if (size == 4)
						memcpy(p, &f32s[rnd() % 10], 4);
					else if (size == 8 && (rnd() & 1))
						memcpy(p, &f64s[rnd() % 10], 8);
					else if (size == 10) {
						unsigned k = (unsigned)(rnd() % 6);
						memcpy(p, &m80lo[k], 8);
						memcpy(p + 8, &m80hi[k], 2);
					}
				}
				if (t->flags & T_BITOFF)
					set_gpr(&c.regs, t->reg,
						(uint64_t)((int64_t)(rnd() % 128) - 64));
				if (t->flags & T_RAXMEM) {
					uint64_t v0, v1;
					memcpy(&v0, c.data + offs[o], 8);
					memcpy(&v1, c.data + offs[o] + 8, 8);
					if (v & 1) {
						c.regs.rax = v0;
						c.regs.rdx = (t->memsize == 16) ? v1 : v0 >> 32;
						if (t->memsize == 8)
							c.regs.rax = (uint32_t)v0;
					}
				}
				if (t->kind == K_SSE && v >= 1 && H.avx512)
					/* k1 all ones (v1) or zero (v2); v0 keeps a random k1 */
					memset(c.xs + XG_EMU_X86_XS_OPMASK + 8, v == 1 ? 0xff : 0,
					       8);
				hexs(hx, c.code, c.len < 16 ? c.len : 16);
				snprintf(c.desc, sizeof(c.desc), "%s %s +%#llx mmio=%u [%s] v%u",
					 t->name, form_names[form], (unsigned long long)offs[o],
					 c.mmio_mask, hx, v);
				run_case(&c);
			}
		}
	}
}

/* ---- the templates ---- */

/* clang-format off */
#define TP(nm, k, msz, fl, r, ...)                                                                 \
	{ nm, { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), r, { 0 }, 0, k, msz, fl }
#define TPI(nm, k, msz, fl, r, imm, ...)                                                           \
	{ nm, { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), r, { imm }, 1, k, msz, fl }

static const struct tmpl x87_t[] = {
	TP("fld m32", K_X87, 4, 0, 0, 0xd9),	   TP("fld m64", K_X87, 8, 0, 0, 0xdd),
	TP("fld m80", K_X87, 10, 0, 5, 0xdb),	   TP("fild m16", K_X87, 2, 0, 0, 0xdf),
	TP("fild m32", K_X87, 4, 0, 0, 0xdb),	   TP("fild m64", K_X87, 8, 0, 5, 0xdf),
	TP("fst m32", K_X87, 4, 0, 2, 0xd9),	   TP("fst m64", K_X87, 8, 0, 2, 0xdd),
	TP("fstp m32", K_X87, 4, 0, 3, 0xd9),	   TP("fstp m64", K_X87, 8, 0, 3, 0xdd),
	TP("fstp m80", K_X87, 10, 0, 7, 0xdb),	   TP("fist m16", K_X87, 2, 0, 2, 0xdf),
	TP("fist m32", K_X87, 4, 0, 2, 0xdb),	   TP("fistp m16", K_X87, 2, 0, 3, 0xdf),
	TP("fistp m32", K_X87, 4, 0, 3, 0xdb),	   TP("fistp m64", K_X87, 8, 0, 7, 0xdf),
	TP("fisttp m16", K_X87, 2, 0, 1, 0xdf),	   TP("fisttp m32", K_X87, 4, 0, 1, 0xdb),
	TP("fisttp m64", K_X87, 8, 0, 1, 0xdd),	   TP("fldcw", K_X87, 2, 0, 5, 0xd9),
	TP("fnstcw", K_X87, 2, 0, 7, 0xd9),	   TP("fnstsw", K_X87, 2, 0, 7, 0xdd),
};

static const struct tmpl sse_t[] = {
	TP("movups load", K_SSE, 16, 0, 1, 0x0f, 0x10),
	TP("movups store", K_SSE, 16, 0, 2, 0x0f, 0x11),
	TP("movupd load", K_SSE, 16, 0, 3, 0x66, 0x0f, 0x10),
	TP("movss load", K_SSE, 4, 0, 4, 0xf3, 0x0f, 0x10),
	TP("movss store", K_SSE, 4, 0, 5, 0xf3, 0x0f, 0x11),
	TP("movsd load", K_SSE, 8, 0, 6, 0xf2, 0x0f, 0x10),
	TP("movsd store xmm9", K_SSE, 8, 0, 1, 0xf2, 0x44, 0x0f, 0x11),
	TP("movlps load", K_SSE, 8, 0, 7, 0x0f, 0x12),
	TP("movlps store", K_SSE, 8, 0, 0, 0x0f, 0x13),
	TP("movlpd load", K_SSE, 8, 0, 1, 0x66, 0x0f, 0x12),
	TP("movhps load", K_SSE, 8, 0, 2, 0x0f, 0x16),
	TP("movhps store", K_SSE, 8, 0, 3, 0x0f, 0x17),
	TP("movhpd load", K_SSE, 8, 0, 4, 0x66, 0x0f, 0x16),
	TP("movhpd store", K_SSE, 8, 0, 5, 0x66, 0x0f, 0x17),
	TP("movddup", K_SSE, 8, 0, 6, 0xf2, 0x0f, 0x12),
	TP("movsldup", K_SSE, 16, 0, 7, 0xf3, 0x0f, 0x12),
	TP("movshdup", K_SSE, 16, 0, 0, 0xf3, 0x0f, 0x16),
	TP("movaps load", K_SSE, 16, 0, 1, 0x0f, 0x28),
	TP("movapd store", K_SSE, 16, 0, 2, 0x66, 0x0f, 0x29),
	TP("movntps", K_SSE, 16, 0, 3, 0x0f, 0x2b),
	TP("movd load", K_SSE, 4, 0, 4, 0x66, 0x0f, 0x6e),
	TP("movq load (6e)", K_SSE, 8, 0, 5, 0x66, 0x48, 0x0f, 0x6e),
	TP("movd store", K_SSE, 4, 0, 6, 0x66, 0x0f, 0x7e),
	TP("movq store (7e)", K_SSE, 8, 0, 7, 0x66, 0x48, 0x0f, 0x7e),
	TP("movq load (f3 7e)", K_SSE, 8, 0, 0, 0xf3, 0x0f, 0x7e),
	TP("movq store (d6)", K_SSE, 8, 0, 1, 0x66, 0x0f, 0xd6),
	TP("movdqa load", K_SSE, 16, 0, 2, 0x66, 0x0f, 0x6f),
	TP("movdqa store xmm11", K_SSE, 16, 0, 3, 0x66, 0x44, 0x0f, 0x7f),
	TP("movdqu load", K_SSE, 16, 0, 4, 0xf3, 0x0f, 0x6f),
	TP("movdqu store", K_SSE, 16, 0, 5, 0xf3, 0x0f, 0x7f),
	TP("movntdq", K_SSE, 16, 0, 6, 0x66, 0x0f, 0xe7),
	TP("movnti m32", K_GP, 4, 0, 7, 0x0f, 0xc3),
	TP("movnti m64", K_GP, 8, 0, 0, 0x48, 0x0f, 0xc3),
	TP("movntdqa", K_SSE, 16, 0, 1, 0x66, 0x0f, 0x38, 0x2a),
	TP("lddqu", K_SSE, 16, 0, 2, 0xf2, 0x0f, 0xf0),
	TPI("pinsrb", K_SSE, 1, 0, 3, 0x0d, 0x66, 0x0f, 0x3a, 0x20),
	TPI("pinsrw", K_SSE, 2, 0, 4, 0x06, 0x66, 0x0f, 0xc4),
	TPI("pinsrd", K_SSE, 4, 0, 5, 0x02, 0x66, 0x0f, 0x3a, 0x22),
	TPI("pinsrq", K_SSE, 8, 0, 6, 0x01, 0x66, 0x48, 0x0f, 0x3a, 0x22),
	TPI("pextrb", K_SSE, 1, 0, 7, 0x0b, 0x66, 0x0f, 0x3a, 0x14),
	TPI("pextrw", K_SSE, 2, 0, 0, 0x05, 0x66, 0x0f, 0x3a, 0x15),
	TPI("pextrd", K_SSE, 4, 0, 1, 0x03, 0x66, 0x0f, 0x3a, 0x16),
	TPI("pextrq", K_SSE, 8, 0, 2, 0x01, 0x66, 0x48, 0x0f, 0x3a, 0x16),
	TPI("extractps", K_SSE, 4, 0, 3, 0x02, 0x66, 0x0f, 0x3a, 0x17),
	TPI("insertps", K_SSE, 4, 0, 4, 0x9a, 0x66, 0x0f, 0x3a, 0x21),
};

static const struct tmpl avx_t[] = {
	TP("vmovups xmm load", K_SSE, 16, 0, 1, 0xc5, 0xf8, 0x10),
	TP("vmovups ymm load", K_SSE, 32, 0, 2, 0xc5, 0xfc, 0x10),
	TP("vmovups ymm store", K_SSE, 32, 0, 3, 0xc5, 0xfc, 0x11),
	TP("vmovupd ymm8 load", K_SSE, 32, 0, 0, 0xc5, 0x7d, 0x10),
	TP("vmovaps ymm load", K_SSE, 32, 0, 4, 0xc5, 0xfc, 0x28),
	TP("vmovapd xmm store", K_SSE, 16, 0, 5, 0xc5, 0xf9, 0x29),
	TP("vmovss load", K_SSE, 4, 0, 6, 0xc5, 0xfa, 0x10),
	TP("vmovss store", K_SSE, 4, 0, 7, 0xc5, 0xfa, 0x11),
	TP("vmovsd load", K_SSE, 8, 0, 0, 0xc5, 0xfb, 0x10),
	TP("vmovsd store", K_SSE, 8, 0, 1, 0xc5, 0xfb, 0x11),
	TP("vmovss with vvvv: #UD", K_SSE, 4, 0, 1, 0xc5, 0xf2, 0x10),
	TP("vmovlps load", K_SSE, 8, 0, 2, 0xc5, 0xf0, 0x12),
	TP("vmovlps store", K_SSE, 8, 0, 3, 0xc5, 0xf8, 0x13),
	TP("vmovhps load", K_SSE, 8, 0, 4, 0xc5, 0xe8, 0x16),
	TP("vmovhpd store", K_SSE, 8, 0, 5, 0xc5, 0xf9, 0x17),
	TP("vmovlpd load", K_SSE, 8, 0, 6, 0xc5, 0xe1, 0x12),
	TP("vmovddup xmm", K_SSE, 8, 0, 7, 0xc5, 0xfb, 0x12),
	TP("vmovddup ymm", K_SSE, 32, 0, 0, 0xc5, 0xff, 0x12),
	TP("vmovsldup ymm", K_SSE, 32, 0, 1, 0xc5, 0xfe, 0x12),
	TP("vmovshdup xmm", K_SSE, 16, 0, 2, 0xc5, 0xfa, 0x16),
	TP("vmovntps ymm", K_SSE, 32, 0, 3, 0xc5, 0xfc, 0x2b),
	TP("vmovd load", K_SSE, 4, 0, 4, 0xc5, 0xf9, 0x6e),
	TP("vmovq load", K_SSE, 8, 0, 5, 0xc4, 0xe1, 0xf9, 0x6e),
	TP("vmovd store", K_SSE, 4, 0, 6, 0xc5, 0xf9, 0x7e),
	TP("vmovq store", K_SSE, 8, 0, 7, 0xc4, 0xe1, 0xf9, 0x7e),
	TP("vmovq load f3", K_SSE, 8, 0, 0, 0xc5, 0xfa, 0x7e),
	TP("vmovq store d6", K_SSE, 8, 0, 1, 0xc5, 0xf9, 0xd6),
	TP("vmovd L=1: #UD", K_SSE, 4, 0, 1, 0xc5, 0xfd, 0x6e),
	TP("vmovdqa xmm load", K_SSE, 16, 0, 2, 0xc5, 0xf9, 0x6f),
	TP("vmovdqa ymm store", K_SSE, 32, 0, 3, 0xc5, 0xfd, 0x7f),
	TP("vmovdqu ymm load", K_SSE, 32, 0, 4, 0xc5, 0xfe, 0x6f),
	TP("vmovdqu ymm9 store", K_SSE, 32, 0, 1, 0xc5, 0x7e, 0x7f),
	TP("vmovntdq ymm", K_SSE, 32, 0, 5, 0xc5, 0xfd, 0xe7),
	TP("vmovntdqa ymm", K_SSE, 32, 0, 6, 0xc4, 0xe2, 0x7d, 0x2a),
	TP("vlddqu ymm", K_SSE, 32, 0, 7, 0xc5, 0xff, 0xf0),
	TP("vbroadcastss xmm", K_SSE, 4, 0, 0, 0xc4, 0xe2, 0x79, 0x18),
	TP("vbroadcastss ymm", K_SSE, 4, 0, 1, 0xc4, 0xe2, 0x7d, 0x18),
	TP("vbroadcastsd ymm", K_SSE, 8, 0, 2, 0xc4, 0xe2, 0x7d, 0x19),
	TP("vbroadcastsd L=0: #UD", K_SSE, 8, 0, 2, 0xc4, 0xe2, 0x79, 0x19),
	TP("vbroadcastf128", K_SSE, 16, 0, 3, 0xc4, 0xe2, 0x7d, 0x1a),
	TP("vpbroadcastb xmm", K_SSE, 1, 0, 4, 0xc4, 0xe2, 0x79, 0x78),
	TP("vpbroadcastw ymm", K_SSE, 2, 0, 5, 0xc4, 0xe2, 0x7d, 0x79),
	TP("vpbroadcastd ymm", K_SSE, 4, 0, 6, 0xc4, 0xe2, 0x7d, 0x58),
	TP("vpbroadcastq xmm", K_SSE, 8, 0, 7, 0xc4, 0xe2, 0x79, 0x59),
	TP("vbroadcasti128", K_SSE, 16, 0, 0, 0xc4, 0xe2, 0x7d, 0x5a),
	TP("vmaskmovps xmm load", K_SSE, 16, 0, 1, 0xc4, 0xe2, 0x71, 0x2c),
	TP("vmaskmovps ymm load", K_SSE, 32, 0, 2, 0xc4, 0xe2, 0x75, 0x2c),
	TP("vmaskmovpd ymm load", K_SSE, 32, 0, 3, 0xc4, 0xe2, 0x6d, 0x2d),
	TP("vmaskmovps ymm store", K_SSE, 32, 0, 4, 0xc4, 0xe2, 0x75, 0x2e),
	TP("vmaskmovpd xmm store", K_SSE, 16, 0, 5, 0xc4, 0xe2, 0x71, 0x2f),
	TP("vpmaskmovd ymm load", K_SSE, 32, 0, 6, 0xc4, 0xe2, 0x75, 0x8c),
	TP("vpmaskmovq xmm load", K_SSE, 16, 0, 7, 0xc4, 0xe2, 0xf1, 0x8c),
	TP("vpmaskmovd xmm store", K_SSE, 16, 0, 0, 0xc4, 0xe2, 0x71, 0x8e),
	TP("vpmaskmovq ymm store", K_SSE, 32, 0, 2, 0xc4, 0xe2, 0xf5, 0x8e),
	TPI("vpinsrb", K_SSE, 1, 0, 1, 0x07, 0xc4, 0xe3, 0x71, 0x20),
	TPI("vpinsrw", K_SSE, 2, 0, 2, 0x03, 0xc5, 0xf1, 0xc4),
	TPI("vpinsrd", K_SSE, 4, 0, 3, 0x01, 0xc4, 0xe3, 0x71, 0x22),
	TPI("vpinsrq", K_SSE, 8, 0, 4, 0x01, 0xc4, 0xe3, 0xf1, 0x22),
	TPI("vpextrb", K_SSE, 1, 0, 5, 0x0f, 0xc4, 0xe3, 0x79, 0x14),
	TPI("vpextrw", K_SSE, 2, 0, 6, 0x02, 0xc4, 0xe3, 0x79, 0x15),
	TPI("vpextrd", K_SSE, 4, 0, 7, 0x03, 0xc4, 0xe3, 0x79, 0x16),
	TPI("vpextrq", K_SSE, 8, 0, 0, 0x01, 0xc4, 0xe3, 0xf9, 0x16),
	TPI("vextractps", K_SSE, 4, 0, 1, 0x01, 0xc4, 0xe3, 0x79, 0x17),
	TPI("vinsertps", K_SSE, 4, 0, 2, 0x6c, 0xc4, 0xe3, 0x71, 0x21),
	TPI("vinsertf128", K_SSE, 16, 0, 3, 0x01, 0xc4, 0xe3, 0x75, 0x18),
	TPI("vextractf128", K_SSE, 16, 0, 4, 0x01, 0xc4, 0xe3, 0x7d, 0x19),
	TPI("vinserti128", K_SSE, 16, 0, 5, 0x00, 0xc4, 0xe3, 0x75, 0x38),
	TPI("vextracti128", K_SSE, 16, 0, 6, 0x01, 0xc4, 0xe3, 0x7d, 0x39),
};

/* EVEX: P2 (z L'L b V' aaa) is filled per variant; memsize 0 = the vector length */
struct etmpl {
	const char *name;
	uint8_t p0, p1, op;
	uint8_t reg;
	uint8_t memsize;
	uint8_t masks; /* 1: masking allowed, 2: 512 only, 4: needs L >= 1 */
};
static const struct etmpl evex_t[] = {
	{ "vmovups load", 0xf1, 0x7c, 0x10, 1, 0, 1 },
	{ "vmovups store", 0xf1, 0x7c, 0x11, 2, 0, 1 },
	{ "vmovupd load", 0xf1, 0xfd, 0x10, 3, 0, 1 },
	{ "vmovaps load", 0xf1, 0x7c, 0x28, 4, 0, 1 },
	{ "vmovapd store", 0xf1, 0xfd, 0x29, 5, 0, 1 },
	{ "vmovdqu8 load", 0xf1, 0x7f, 0x6f, 6, 0, 1 },
	{ "vmovdqu16 load", 0xf1, 0xff, 0x6f, 7, 0, 1 },
	{ "vmovdqu32 load zmm17", 0xe1, 0x7e, 0x6f, 1, 0, 1 },
	{ "vmovdqu64 load", 0xf1, 0xfe, 0x6f, 0, 0, 1 },
	{ "vmovdqu8 store", 0xf1, 0x7f, 0x7f, 1, 0, 1 },
	{ "vmovdqu16 store", 0xf1, 0xff, 0x7f, 2, 0, 1 },
	{ "vmovdqu32 store", 0xf1, 0x7e, 0x7f, 3, 0, 1 },
	{ "vmovdqu64 store zmm30", 0x61, 0xfe, 0x7f, 6, 0, 1 },
	{ "vmovdqa32 load", 0xf1, 0x7d, 0x6f, 4, 0, 1 },
	{ "vmovdqa64 store", 0xf1, 0xfd, 0x7f, 5, 0, 1 },
	{ "vmovss load", 0xf1, 0x7e, 0x10, 6, 4, 1 },
	{ "vmovss store", 0xf1, 0x7e, 0x11, 7, 4, 1 },
	{ "vmovsd load", 0xf1, 0xff, 0x10, 0, 8, 1 },
	{ "vmovsd store", 0xf1, 0xff, 0x11, 1, 8, 1 },
	{ "vmovd load", 0xf1, 0x7d, 0x6e, 2, 4, 0 },
	{ "vmovq load", 0xf1, 0xfd, 0x6e, 3, 8, 0 },
	{ "vmovq store d6", 0xf1, 0xfd, 0xd6, 4, 8, 0 },
	{ "vmovntdq", 0xf1, 0x7d, 0xe7, 5, 0, 0 },
	{ "vmovntps", 0xf1, 0x7c, 0x2b, 6, 0, 0 },
	{ "vmovntdqa", 0xf2, 0x7d, 0x2a, 7, 0, 0 },
	{ "vpbroadcastb", 0xf2, 0x7d, 0x78, 0, 1, 1 },
	{ "vpbroadcastw", 0xf2, 0x7d, 0x79, 1, 2, 1 },
	{ "vpbroadcastd", 0xf2, 0x7d, 0x58, 2, 4, 1 },
	{ "vpbroadcastq", 0xf2, 0xfd, 0x59, 3, 8, 1 },
	{ "vbroadcastss", 0xf2, 0x7d, 0x18, 4, 4, 1 },
	{ "vbroadcastsd", 0xf2, 0xfd, 0x19, 5, 8, 1 | 4 },
	{ "vbroadcastf32x4", 0xf2, 0x7d, 0x1a, 6, 16, 1 | 4 },
	{ "vbroadcastf64x2", 0xf2, 0xfd, 0x1a, 7, 16, 1 | 4 },
	{ "vbroadcasti64x4", 0xf2, 0xfd, 0x5b, 0, 32, 1 | 2 },
};

/* clang-format on */
static void gen_evex(void)
{
	static const uint8_t p2s[] = {0x08, 0x28, 0x48, 0x09, 0x29, 0x49, 0x89, 0xa9, 0xc9};
	struct tmpl t;

	for (size_t i = 0; i < sizeof(evex_t) / sizeof(evex_t[0]); i++) {
		const struct etmpl *e = &evex_t[i];
		int store = e->op == 0x11 || e->op == 0x29 || e->op == 0x7f || e->op == 0xe7 ||
			    e->op == 0x2b || e->op == 0xd6;
		for (size_t k = 0; k < sizeof(p2s); k++) {
			uint8_t p2 = p2s[k];
			unsigned ll = (p2 >> 5) & 3;
			if (!(e->masks & 1) && (p2 & 0x87))
				continue;
			if ((e->masks & 2) && ll != 2)
				continue;
			if ((e->masks & 4) && ll == 0)
				continue;
			if (e->memsize >= 4 && e->memsize <= 8 && e->op != 0x18 && e->op != 0x19 &&
			    e->op != 0x58 && e->op != 0x59 && ll)
				continue; /* scalar moves: one length is enough */
			if (store && (p2 & 0x80) && k != sizeof(p2s) - 1)
				continue; /* zeroing store is #UD: one case of it */
			memset(&t, 0, sizeof(t));
			t.name = e->name;
			t.pre[0] = 0x62, t.pre[1] = e->p0, t.pre[2] = e->p1, t.pre[3] = p2;
			t.pre[4] = e->op;
			t.npre = 5;
			t.reg = e->reg;
			t.kind = K_SSE;
			t.memsize = e->memsize;
			t.flags = T_AVX512;
			gen(&t, 16u << ll);
		}
	}
}

/* clang-format off */
#define ALU(nm, o, r)                                                                              \
	TP(nm " m8,r8", K_GP, 1, 0, r, o), TP(nm " m32,r32", K_GP, 4, 0, r, o + 1),                \
		TP(nm " m64,r64", K_GP, 8, 0, r, 0x48, o + 1),                                     \
		TP(nm " m16,r16", K_GP, 2, 0, r, 0x66, o + 1),                                     \
		TP(nm " r8,m8", K_GP, 1, 0, r, o + 2), TP(nm " r32,m32", K_GP, 4, 0, r, o + 3),    \
		TP(nm " r64,m64", K_GP, 8, 0, r, 0x48, o + 3),                                     \
		TPI(nm " m8,imm8", K_GP, 1, 0, o / 8, 0x81, 0x80),                                 \
		TPI(nm " m32,imm8", K_GP, 4, 0, o / 8, 0xff, 0x83),                                \
		TPI(nm " m64,imm8", K_GP, 8, 0, o / 8, 0x7f, 0x48, 0x83),                          \
		TPI(nm " m16,imm8", K_GP, 2, 0, o / 8, 0x80, 0x66, 0x83)

static const struct tmpl gp_t[] = {
	TP("mov m8,r8", K_GP, 1, 0, 6, 0x88),
	TP("mov m8,sil", K_GP, 1, 0, 6, 0x40, 0x88),
	TP("mov m8,ah", K_GP, 1, 0, 4, 0x88),
	TP("mov m32,r32", K_GP, 4, 0, 1, 0x89),
	TP("mov m64,r64", K_GP, 8, 0, 2, 0x48, 0x89),
	TP("mov m16,r16", K_GP, 2, 0, 3, 0x66, 0x89),
	TP("mov r8,m8", K_GP, 1, 0, 5, 0x8a),
	TP("mov r32,m32", K_GP, 4, 0, 6, 0x8b),
	TP("mov r64,m64", K_GP, 8, 0, 7, 0x48, 0x8b),
	TP("mov r15,m64", K_GP, 8, 0, 7, 0x4c, 0x8b),
	TP("mov m16,sreg", K_GP, 2, 0, 3, 0x8c),
	TPI("mov m8,imm8", K_GP, 1, 0, 0, 0xa5, 0xc6),
	{ "mov m32,imm32", { 0xc7 }, 1, 0, { 0x78, 0x56, 0x34, 0x12 }, 4, K_GP, 4, 0 },
	{ "mov m64,imm32", { 0x48, 0xc7 }, 2, 0, { 0x88, 0x99, 0xaa, 0xbb }, 4, K_GP, 8, 0 },
	TP("mov eax,moffs", K_GP, 4, T_MOFFS, 0, 0xa1),
	TP("mov moffs,rax", K_GP, 8, T_MOFFS, 0, 0x48, 0xa3),
	TP("mov al,moffs", K_GP, 1, T_MOFFS, 0, 0xa0),
	TP("movzx r32,m8", K_GP, 1, 0, 1, 0x0f, 0xb6),
	TP("movzx r64,m16", K_GP, 2, 0, 2, 0x48, 0x0f, 0xb7),
	TP("movsx r32,m8", K_GP, 1, 0, 3, 0x0f, 0xbe),
	TP("movsx r16,m8", K_GP, 1, 0, 3, 0x66, 0x0f, 0xbe),
	TP("movsx r64,m16", K_GP, 2, 0, 5, 0x48, 0x0f, 0xbf),
	TP("movsxd r64,m32", K_GP, 4, 0, 6, 0x48, 0x63),
	ALU("add", 0x00, 1),
	ALU("or", 0x08, 2),
	ALU("adc", 0x10, 3),
	ALU("sbb", 0x18, 5),
	ALU("and", 0x20, 6),
	ALU("sub", 0x28, 7),
	ALU("xor", 0x30, 0),
	ALU("cmp", 0x38, 1),
	{ "add m32,imm32", { 0x81 }, 1, 0, { 0x01, 0x80, 0x00, 0x80 }, 4, K_GP, 4, 0 },
	TP("lock add m32,r32", K_GP, 4, 0, 2, 0xf0, 0x01),
	TP("lock add r32,m32: #UD", K_GP, 4, 0, 2, 0xf0, 0x03),
	TP("test m8,r8", K_GP, 1, 0, 1, 0x84),
	TP("test m64,r64", K_GP, 8, 0, 2, 0x48, 0x85),
	TPI("test m8,imm8", K_GP, 1, 0, 0, 0x81, 0xf6),
	{ "test m32,imm32", { 0xf7 }, 1, 0, { 0x01, 0x80, 0x00, 0x80 }, 4, K_GP, 4, 0 },
	TP("inc m8", K_GP, 1, 0, 0, 0xfe),
	TP("dec m8", K_GP, 1, 0, 1, 0xfe),
	TP("inc m32", K_GP, 4, 0, 0, 0xff),
	TP("dec m64", K_GP, 8, 0, 1, 0x48, 0xff),
	TP("inc m16", K_GP, 2, 0, 0, 0x66, 0xff),
	TP("not m8", K_GP, 1, 0, 2, 0xf6),
	TP("not m32", K_GP, 4, 0, 2, 0xf7),
	TP("neg m8", K_GP, 1, 0, 3, 0xf6),
	TP("neg m64", K_GP, 8, 0, 3, 0x48, 0xf7),
	TP("lock neg m16", K_GP, 2, 0, 3, 0xf0, 0x66, 0xf7),
	TP("xchg m8,r8", K_GP, 1, 0, 1, 0x86),
	TP("xchg m32,r32", K_GP, 4, 0, 2, 0x87),
	TP("xchg m64,r64", K_GP, 8, 0, 3, 0x48, 0x87),
	TP("cmpxchg m8,r8", K_GP, 1, T_RAXMEM, 1, 0x0f, 0xb0),
	TP("cmpxchg m32,r32", K_GP, 4, T_RAXMEM, 2, 0x0f, 0xb1),
	TP("lock cmpxchg m64,r64", K_GP, 8, T_RAXMEM, 5, 0xf0, 0x48, 0x0f, 0xb1),
	TP("cmpxchg m16,r16", K_GP, 2, T_RAXMEM, 6, 0x66, 0x0f, 0xb1),
	TP("cmpxchg8b", K_GP, 8, T_RAXMEM, 1, 0x0f, 0xc7),
	TP("lock cmpxchg16b", K_GP, 16, T_RAXMEM, 1, 0xf0, 0x48, 0x0f, 0xc7),
	TP("xadd m8,r8", K_GP, 1, 0, 2, 0x0f, 0xc0),
	TP("xadd m32,r32", K_GP, 4, 0, 5, 0x0f, 0xc1),
	TP("lock xadd m64,r64", K_GP, 8, 0, 6, 0xf0, 0x48, 0x0f, 0xc1),
	TP("bt m32,r32", K_GP, 4, T_BITOFF, 2, 0x0f, 0xa3),
	TP("bts m64,r64", K_GP, 8, T_BITOFF, 5, 0x48, 0x0f, 0xab),
	TP("btr m16,r16", K_GP, 2, T_BITOFF, 2, 0x66, 0x0f, 0xb3),
	TP("btc m32,r32", K_GP, 4, T_BITOFF, 7, 0x0f, 0xbb),
	TPI("bt m32,imm8", K_GP, 4, 0, 4, 0x25, 0x0f, 0xba),
	TPI("bts m16,imm8", K_GP, 2, 0, 5, 0x0e, 0x66, 0x0f, 0xba),
	TPI("btr m64,imm8", K_GP, 8, 0, 6, 0x3f, 0x48, 0x0f, 0xba),
	TPI("lock btc m32,imm8", K_GP, 4, 0, 7, 0x41, 0xf0, 0x0f, 0xba),
	TP("sete m8", K_GP, 1, 0, 0, 0x0f, 0x94),
	TP("setl m8", K_GP, 1, 0, 0, 0x0f, 0x9c),
	TP("seta m8", K_GP, 1, 0, 0, 0x0f, 0x97),
	TP("setp m8", K_GP, 1, 0, 0, 0x0f, 0x9a),
	TP("setno m8", K_GP, 1, 0, 0, 0x0f, 0x91),
	TP("cmove r32,m32", K_GP, 4, 0, 1, 0x0f, 0x44),
	TP("cmovl r64,m64", K_GP, 8, 0, 2, 0x48, 0x0f, 0x4c),
	TP("cmova r16,m16", K_GP, 2, 0, 3, 0x66, 0x0f, 0x47),
	TP("cmovs r32,m32", K_GP, 4, 0, 5, 0x0f, 0x48),
	TP("push m64", K_GP, 8, 0, 6, 0xff),
	TP("push m16", K_GP, 2, 0, 6, 0x66, 0xff),
	TP("pop m64", K_GP, 8, 0, 0, 0x8f),
	TP("pop m16", K_GP, 2, 0, 0, 0x66, 0x8f),
};

static const struct tmpl str_t[] = {
	TP("movsb", K_STR, 1, 0, 0, 0xa4),   TP("movsd", K_STR, 4, 0, 0, 0xa5),
	TP("movsq", K_STR, 8, 0, 0, 0x48, 0xa5), TP("movsw", K_STR, 2, 0, 0, 0x66, 0xa5),
	TP("stosb", K_STR, 1, 0, 0, 0xaa),   TP("stosq", K_STR, 8, 0, 0, 0x48, 0xab),
	TP("lodsb", K_STR, 1, 0, 0, 0xac),   TP("lodsd", K_STR, 4, 0, 0, 0xad),
	TP("cmpsb", K_STR, 1, 0, 0, 0xa6),   TP("cmpsd", K_STR, 4, 0, 0, 0xa7),
	TP("scasb", K_STR, 1, 0, 0, 0xae),   TP("scasw", K_STR, 2, 0, 0, 0x66, 0xaf),
	TP("fs movsb", K_STR, 1, 0, 0, 0x64, 0xa4),
};

/* clang-format on */
static void gen_strings(void)
{
	static const uint8_t reps[] = {0, 0xf3, 0xf2};
	/* v & 8: 67 prefix (ESI/EDI/ECX) with garbage in the high halves */
	static struct gcase c;

	for (size_t i = 0; i < sizeof(str_t) / sizeof(str_t[0]); i++) {
		const struct tmpl *t = &str_t[i];
		for (unsigned r = 0; r < 3; r++) {
			for (unsigned v = 0; v < 16; v++) {
				unsigned n = 0, sz = t->memsize;
				char hx[40];
				uint8_t op = t->pre[t->npre - 1];
				if (reps[r] == 0xf2 && op != 0xa6 && op != 0xa7 && op != 0xae &&
				    op != 0xaf)
					continue;
				base_state(&c);
				c.t = t;
				if (v & 8)
					c.code[n++] = 0x67;
				if (reps[r])
					c.code[n++] = reps[r];
				memcpy(c.code + n, t->pre, t->npre);
				n += t->npre;
				c.len = n;
				c.regs.rcx = (uint64_t[]){0, 1, 3, 7}[v & 3];
				if (v & 4)
					c.regs.rflags |= 0x400; /* DF */
				c.regs.rsi = DATA_GPA + ((v & 1) ? 0xff8 : 0x200) +
					     (t->pre[0] == 0x64 ? -FS_BASE + 0 : 0);
				if (t->pre[0] == 0x64)
					c.regs.rsi = DATA_GPA - FS_BASE + 0x300;
				c.regs.rdi = DATA_GPA + ((v & 2) ? 0x1000 - sz : 0x700);
				/* some matches for cmps/scas so REPE/REPNE stop early */
				if (v & 1) {
					memcpy(c.data + 0x700, c.data + 0x200, 16);
					c.regs.rax = c.data[0x700 + sz];
				}
				if (v & 8) {
					c.regs.rsi |= 0xbeef000000000000ull;
					c.regs.rdi |= 0xcafe000000000000ull;
					c.regs.rcx |= 0x5500000000000000ull;
				}
				c.mmio_mask = 1 + (unsigned)(rnd() % 3);
				hexs(hx, c.code, c.len);
				snprintf(c.desc, sizeof(c.desc), "%s rcx=%llu df=%u mmio=%u [%s]",
					 t->name, (unsigned long long)c.regs.rcx, !!(v & 4),
					 c.mmio_mask, hx);
				run_case(&c);
			}
		}
	}
}

/*
 * This KVM (kvm_pvm) runs CPL-0 guest code through its own instruction emulator ("batch
 * emulation"); only CPL-3 code runs on the CPU. So every case runs in 64-bit user mode:
 * user code and data descriptors are added to the GDT, the U/S bit is set in the identity
 * map (before the first KVM_RUN, so no shadow page exists yet), RSP0 in the TSS gives the
 * exception stubs a stack, and IOPL 3 lets the case end with an OUT.
 */
#define SEL_UCODE 0x23
#define SEL_UDATA 0x2b
#define STACK0	  0x3f0000ull
static void setup_user_mode(void)
{
	uint64_t *gdt = xg_kvm_gpa_ptr(H.k.vm, 0x1000, 48);
	uint64_t *pt = xg_kvm_gpa_ptr(H.k.vm, XG_KVM_RESERVED_START + 0x2000, 0x7000);
	uint8_t *tss = xg_kvm_gpa_ptr(H.k.vm, 0x2000, 104);
	uint64_t rsp0 = STACK0;

	gdt[SEL_UCODE / 8] = gdt[XG_KVM_SEL_CODE64 / 8] | 3ull << 45; /* DPL 3 */
	gdt[SEL_UDATA / 8] = gdt[XG_KVM_SEL_DATA / 8] | 3ull << 45;
	for (unsigned i = 0; i < 0x7000 / 8; i++)
		if (pt[i] & 1)
			pt[i] |= 4; /* U/S */
	memcpy(tss + 4, &rsp0, 8);
	if (H.base_sregs.gdt.limit < 0x2f)
		H.base_sregs.gdt.limit = 0x2f;
	H.base_sregs.cs.selector = SEL_UCODE;
	H.base_sregs.cs.dpl = 3;
	H.base_sregs.ss.selector = SEL_UDATA;
	H.base_sregs.ss.dpl = 3;
	H.base_sregs.ds = H.base_sregs.es = H.base_sregs.fs = H.base_sregs.gs = H.base_sregs.ss;
	/* kvm_pvm does not load the guest's data selectors into the CPU: `mov m16, ds` run
	 * natively stores the CPU's 0. Null data selectors are legal in 64-bit mode and make
	 * the guest view and the CPU agree. */
	H.base_sregs.ds.selector = H.base_sregs.es.selector = 0;
	H.base_sregs.fs.selector = H.base_sregs.gs.selector = 0;
}

static void setup_idt(void)
{
	uint8_t *h = xg_kvm_gpa_ptr(H.k.vm, HANDLERS, 64);
	uint8_t *idt = xg_kvm_gpa_ptr(H.k.vm, IDT_GPA, 32 * 16);

	memset(h, 0xf4, 64);
	for (unsigned v = 0; v < 32; v++) {
		uint64_t off = HANDLERS + v;
		uint8_t *g = idt + 16 * v;
		memset(g, 0, 16);
		g[0] = (uint8_t)off, g[1] = (uint8_t)(off >> 8);
		g[2] = XG_KVM_SEL_CODE64;
		g[5] = 0x8e; /* present, DPL 0, 64-bit interrupt gate (SDM Vol. 3A 6.14.1) */
		g[6] = (uint8_t)(off >> 16), g[7] = (uint8_t)(off >> 24);
	}
	H.base_sregs.idt.base = IDT_GPA;
	H.base_sregs.idt.limit = 32 * 16 - 1;
}

int main(void)
{
	struct xg_kvm_vm_opts o = {0};
	struct xg_error err;
	char why[256];

	if (xg_kvm_probe(why, sizeof(why)))
		skip_all("no usable /dev/kvm: %s", why);
	if (xg_kvm_vm_create(&H.k.vm, &o, &err))
		skip_all("VM: %s", err.msg);
	if (xg_kvm_vcpu_create(H.k.vm, 0, CODE_GPA, &H.k.vcpu, &err))
		bail("vCPU: %s", err.msg);
	if (xg_kvm_enable_cap(H.k.vm, KVM_CAP_EXIT_ON_EMULATION_FAILURE, 1, &err))
		diag("KVM_CAP_EXIT_ON_EMULATION_FAILURE: %s", err.msg);
	H.run = xg_kvm_vcpu_run_area(H.k.vcpu, NULL);
	H.k.xsave_size = xg_kvm_xsave_size(H.k.vcpu);
	H.k.xsave = aligned_alloc(64, (H.k.xsave_size + 63) & ~63ul);
	H.base_xs = aligned_alloc(64, (H.k.xsave_size + 63) & ~63ul);
	H.slotmem =
	    mmap(NULL, NPAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	H.k.mmio = calloc(NPAGES, 4096);
	H.k.ram = H.slotmem;
	H.k.data_gpa = DATA_GPA;
	H.k.pages = NPAGES;
	if (!H.k.xsave || !H.base_xs || H.slotmem == MAP_FAILED || !H.k.mmio)
		bail("out of memory");
	if (xg_kvm_get_regs(H.k.vcpu, &H.base_regs, &err) ||
	    xg_kvm_get_sregs(H.k.vcpu, &H.base_sregs, &err) ||
	    xg_kvm_get_xsave(H.k.vcpu, H.base_xs, H.k.xsave_size, &err))
		bail("initial state: %s", err.msg);
	H.avx512 = (xg_kvm_vcpu_flags(H.k.vcpu) & XG_KVM_VCPU_AVX512) != 0;
	if (H.avx512) {
		H.shadow = aligned_alloc(64, XG_EMU_X86_XSAVE_SIZE + 64);
		if (!H.shadow)
			bail("out of memory");
		H.k.avx512_shadow = H.shadow;
	}
	host_cpu(H.cpu, sizeof(H.cpu));
	diag("judged by the host CPU: %s; the emulator models %s behaviour (xg_emu_x86.h lists "
	     "where the vendors differ)",
	     H.cpu, xg_emu_x86_vendor_name(xg_emu_x86_host_vendor()));
	diag("XCR0 %#llx, AVX-512 %s", (unsigned long long)xg_kvm_vcpu_xcr0(H.k.vcpu),
	     H.avx512 ? "yes" : "no");
	setup_idt();
	setup_user_mode();

	{
		long before = H.mismatches, c0 = H.cases;
		for (size_t i = 0; i < sizeof(x87_t) / sizeof(x87_t[0]); i++)
			gen(&x87_t[i], 0);
		ok(H.mismatches == before, "x87 loads/stores: %ld cases, %ld mismatches",
		   H.cases - c0, H.mismatches - before);
		before = H.mismatches, c0 = H.cases;
		for (size_t i = 0; i < sizeof(sse_t) / sizeof(sse_t[0]); i++)
			gen(&sse_t[i], 16);
		ok(H.mismatches == before, "SSE moves: %ld cases, %ld mismatches", H.cases - c0,
		   H.mismatches - before);
		before = H.mismatches, c0 = H.cases;
		for (size_t i = 0; i < sizeof(avx_t) / sizeof(avx_t[0]); i++)
			gen(&avx_t[i], avx_t[i].memsize);
		ok(H.mismatches == before, "AVX/AVX2 moves: %ld cases, %ld mismatches",
		   H.cases - c0, H.mismatches - before);
		before = H.mismatches, c0 = H.cases;
		if (H.avx512) {
			gen_evex();
			ok(H.mismatches == before, "AVX-512 moves: %ld cases, %ld mismatches",
			   H.cases - c0, H.mismatches - before);
		} else {
			skip(1, "AVX-512 not enabled in this guest's XCR0");
		}
		before = H.mismatches, c0 = H.cases;
		for (size_t i = 0; i < sizeof(gp_t) / sizeof(gp_t[0]); i++)
			gen(&gp_t[i], 0);
		ok(H.mismatches == before, "general-purpose MMIO set: %ld cases, %ld mismatches",
		   H.cases - c0, H.mismatches - before);
		before = H.mismatches, c0 = H.cases;
		gen_strings();
		ok(H.mismatches == before,
		   "string instructions with REP: %ld cases, %ld mismatches", H.cases - c0,
		   H.mismatches - before);
	}
	diag("%s (%s behaviour): %ld cases: %ld mismatches; KVM gave up (emulation failure) on "
	     "%ld, handled the MMIO "
	     "itself on %ld (snapshot path), no MMIO exit on %ld; %ld cases ended in the same "
	     "exception (and %ld where kvm_pvm turned the CPU's #GP into #UD)",
	     H.cpu, xg_emu_x86_vendor_name(xg_emu_x86_host_vendor()), H.cases, H.mismatches,
	     H.kvm_gave_up, H.kvm_mmio, H.no_mmio, H.exceptions, H.pvm_gp);
	ok(H.kvm_gave_up > 0, "the real emulation-failure path was exercised (%ld times)",
	   H.kvm_gave_up);
	xg_kvm_vm_destroy(H.k.vm);
	return done_testing();
}
