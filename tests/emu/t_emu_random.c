/*
 * t_emu_random.c - the random CPU oracle: random instructions inside the emulator's claimed
 * coverage, judged by the host CPU in user space.
 *
 * Each case is one instruction the decoder accepts and xg_emu_x86_supported() claims, built
 * from random parts: legacy prefixes (segment overrides, duplicated and redundant ones, 66,
 * 67, F2, F3, LOCK), REX, VEX and EVEX with every field random (the reserved bits too, now
 * and then), ModRM/SIB/displacement forms including mod = 3, immediates. A random state is
 * made up for it: the GPRs (the registers that form an address aimed at a window of four
 * data pages - read/write, read/write, read-only, PROT_NONE - or at a non-canonical address),
 * RFLAGS, the x87, SSE, AVX and AVX-512 registers and k0-7, the FS and GS bases, and the
 * contents of the pages. Then:
 *   native    the CPU runs it: the state is loaded (XRSTOR, WRFSBASE/WRGSBASE, POPF, then
 *             every GPR), the instruction sits in a page of INT3s and is entered by a jump
 *             (64-bit mode) or a far jump to the kernel's 32-bit user code segment (0x23,
 *             compatibility mode, everything below 4 GiB with MAP_32BIT), or an IRETQ to a
 *             16-bit code segment of the process's LDT (16-bit protected mode at CPL 3, on
 *             the CPU: modify_ldt; the 16-bit stack and the DS, ES, FS, GS segments are LDT
 *             segments too, with random bases at any byte, limits, expand-down, read-only or
 *             readable-code types and B bits). It ends in SIGTRAP
 *             (the INT3 after it) or in the signal of its fault; the handler takes the GPRs,
 *             RIP, RFLAGS, the trap number, error code and CR2 from the ucontext and the XSAVE
 *             image from the signal frame.
 *   emulated  xg_emu_x86_emulate() on fake ops (plain buffers with the same pages, the same
 *             protections and #PF error codes) from the same state.
 * The two are compared completely: every GPR (the low halves in 32- and 16-bit mode, where the
 * upper halves are undefined after compatibility mode), RIP, RFLAGS (the flags the SDM leaves
 * undefined for an instruction are don't-care: OF/SF/AF/PF for BT/BTS/BTR/BTC, AF for
 * AND/OR/XOR/TEST; nothing else in the coverage leaves one undefined), x87 FCW/FSW/FTW/ST0-7,
 * MXCSR, XMM/YMM/ZMM0-31, k0-7, the data pages, and the fault: vector, error code and, for
 * #PF, the address. The vendor that judged is printed. One counted exception, printed with its
 * count: MOVDIRI/MOVDIR64B that the CPU runs though its CPUID does not report them (a
 * hypervisor hiding them), where the emulator follows CPUID and must raise #UD with nothing
 * changed (beyond_cpuid()).
 *
 * Seeded: the seed is printed (the suite's is fixed); XG_SEED=n reproduces a run, XG_SEED=random
 * draws a new one, XG_CASES=n sets its length
 * (default 30,000 per mode in `check`), XG_CASE=i runs case i only and prints it, XG_MODE=64,
 * 32 or 16 runs one mode, XG_SIMD=1 generates SSE-class instructions only. Every mismatch
 * prints the bytes and the state that differs.
 *
 * Real mode (and virtual-8086 mode) is not here: a 64-bit process cannot enter either, and
 * a KVM guest's real-mode code on a kvm_pvm host runs in KVM's own instruction emulator,
 * not on the CPU. 16-bit protected mode exercises the same 16-bit addressing, operand
 * sizes and segment limits, judged by the CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/ldt.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "oracle_rand.h"
#include "tap.h"
#include "xg_emu_x86.h"
#define XG_CPU_PROBE_ENTER
#include "cpu_probe.h"


#define PAGE	 4096ull
#define RES_SIZE (64ull << 20) /* a PROT_NONE reservation around the data window */
#define DATA_OFF (32ull << 20) /* the window inside it */
#define NPAGES	 4	       /* rw, rw, read-only, none */
#define FS_DELTA (1ull << 20)  /* FS base = window - 1 MiB, GS base = window - 2 MiB */
#define GS_DELTA (2ull << 20)

/* ---- the native side ---- */

/* What xg_rnd_enter loads, in the order it pops; offsets are used by the assembly below. */
struct native_in {
	uint64_t pop[16]; /* rax rcx rdx rbx rbp rsi rdi r8-r15, then rsp */
	uint64_t rflags;  /* 128 */
	uint64_t fsbase;  /* 136 */
	uint64_t gsbase;  /* 144 */
	uint64_t rfbm;	  /* 152 */
	uint8_t pad[32];
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64))); /* 192 */
} __attribute__((aligned(64)));
_Static_assert(__builtin_offsetof(struct native_in, xs) == 192, "xs offset");
static const uint8_t pop_order[16] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 4};

uint64_t xg_rnd_jmp64; /* where the 64-bit path jumps */
struct {
	uint32_t off;
	uint16_t sel;
} __attribute__((packed)) xg_rnd_far; /* 32-bit path */
void xg_rnd_enter64(struct native_in *in);
void xg_rnd_enter32(struct native_in *in);

/* Load everything, then jump: nothing comes back here (the INT3 or the fault signals). */
__asm__(".text\n"
	".macro XG_RND_LOAD\n"
	"	mov 152(%rdi), %eax\n"
	"	mov 156(%rdi), %edx\n"
	"	xrstor64 192(%rdi)\n"
	"	pushq 128(%rdi)\n"
	"	popfq\n"
	"	mov %rdi, %rsp\n"
	"	pop %rax\n pop %rcx\n pop %rdx\n pop %rbx\n pop %rbp\n pop %rsi\n pop %rdi\n"
	"	pop %r8\n pop %r9\n pop %r10\n pop %r11\n pop %r12\n pop %r13\n pop %r14\n"
	"	pop %r15\n pop %rsp\n"
	".endm\n"
	".globl xg_rnd_enter64\n"
	"xg_rnd_enter64:\n"
	"	xor %eax, %eax\n" /* a 64-bit process's DS and ES are null */
	"	mov %eax, %ds\n"
	"	mov %eax, %es\n"
	"	mov 136(%rdi), %rax\n"
	"	wrfsbase %rax\n"
	"	mov 144(%rdi), %rax\n"
	"	wrgsbase %rax\n"
	"	XG_RND_LOAD\n"
	"	jmp *xg_rnd_jmp64(%rip)\n"
	".globl xg_rnd_enter32\n"
	"xg_rnd_enter32:\n"
	"	mov $0x2b, %eax\n" /* __USER_DS: a 64-bit process runs with null DS/ES */
	"	mov %eax, %ds\n"
	"	mov %eax, %es\n"
	"	XG_RND_LOAD\n"
	"	ljmpl *xg_rnd_far(%rip)\n"
	/* 16-bit protected mode: rdi the state, rsi the IRETQ frame (cpu_probe.h), rdx the
	 * DS, ES, FS, GS selectors; the data segments are loaded in 64-bit mode, where they
	 * do not count, and IRETQ enters the 16-bit code and stack segments */
	".globl xg_rnd_enter16\n"
	"xg_rnd_enter16:\n"
	"	mov %rsi, %r8\n"
	"	mov %rdx, %r9\n"
	"	mov 152(%rdi), %eax\n"
	"	mov 156(%rdi), %edx\n"
	"	xrstor64 192(%rdi)\n"
	"	movw 0(%r9), %ds\n"
	"	movw 2(%r9), %es\n"
	"	movw 4(%r9), %fs\n"
	"	movw 6(%r9), %gs\n"
	"	mov %r8, %rdi\n"
	"	jmp xg_probe_enter\n");
void xg_rnd_enter16(struct native_in *in, struct probe_in *frame, const uint16_t *sel);

struct native_out {
	uint64_t gpr[16], rip, rflags, err, cr2;
	int trapno, sig;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
};

static sigjmp_buf back;
static uint64_t host_fsbase, host_gsbase;
static uint32_t host_fssel, host_gssel;
static struct native_out nout;

static void take_state(ucontext_t *uc, int sig)
{
	static const int greg[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				     REG_RSI, REG_RDI, REG_R8,	REG_R9,	 REG_R10, REG_R11,
				     REG_R12, REG_R13, REG_R14, REG_R15};
	const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
	uint32_t magic, size;

	for (int i = 0; i < 16; i++)
		nout.gpr[i] = (uint64_t)uc->uc_mcontext.gregs[greg[i]];
	nout.rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	nout.rflags = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
	nout.err = (uint64_t)uc->uc_mcontext.gregs[REG_ERR];
	nout.cr2 = (uint64_t)uc->uc_mcontext.gregs[REG_CR2];
	nout.trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	nout.sig = sig;
	memset(nout.xs, 0, sizeof(nout.xs));
	/* the signal frame's XSAVE image: FXSAVE region, then (magic FP_XSTATE_MAGIC1 in the
	 * software-reserved bytes 464..) the header and the extended components */
	memcpy(nout.xs, fp, 512);
	memcpy(&magic, fp + 464, 4);
	memcpy(&size, fp + 480,
	       4); /* struct _fpx_sw_bytes: magic1, extended_size, xfeatures, xstate_size */
	if (magic == 0x46505853u) {
		if (size > XG_EMU_X86_XSAVE_SIZE)
			size = XG_EMU_X86_XSAVE_SIZE;
		memcpy(nout.xs, fp, size);
	}
}

/* Runs on the guest's FS base: restore the host's before anything uses TLS (the stack
 * protector, errno, longjmp's pointer guard). */
__attribute__((no_stack_protector, no_sanitize_address)) static void
on_signal(int sig, siginfo_t *si, void *uc)
{
	/* 16-bit mode left the LDT's selectors in DS, ES, FS and GS (the next case rewrites
	 * those entries): the process's own, then its bases */
	__asm__ volatile("mov %0, %%ds\n mov %0, %%es" ::"r"(0u));
	__asm__ volatile("mov %0, %%fs" ::"r"(host_fssel));
	__asm__ volatile("mov %0, %%gs" ::"r"(host_gssel));
	__asm__ volatile("wrfsbase %0" ::"r"(host_fsbase));
	__asm__ volatile("wrgsbase %0" ::"r"(host_gsbase));
	(void)si;
	take_state(uc, sig);
	siglongjmp(back, 1);
}

/* ---- random numbers ---- */


/* ---- the machine ---- */

struct machine {
	uint8_t *res, *data, *code; /* reservation, window, code page */
	uint64_t xcr0, rfbm;
	int la57;
	enum xg_emu_x86_vendor vendor;
	uint8_t init[NPAGES][PAGE]; /* the window's contents for this case */
	int avx, avx512;
	uint16_t fs_sel, gs_sel;
	int top_free; /* nothing mapped in the last 64 KiB below 4 GiB (wrap cases) */
	/* CPUID.(EAX=7,ECX=0):ECX MOVDIRI (27), MOVDIR64B (28) clear: bit 0, bit 1 */
	unsigned movdir_hidden;
	int ldt;      /* modify_ldt works: 16-bit protected mode can run */
};
static struct machine M;

/* the fake vCPU the emulator runs on */
struct fake {
	struct xg_emu_x86_regs r;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t mem[NPAGES][PAGE];
	struct xg_emu_x86_exception exc;
	int injected;
	uint64_t code_la; /* the linear address of the instruction */
	uint64_t rip0;	  /* its RIP (code_la, less the CS base in 16-bit mode) */
	uint8_t code[32];
	int unsafe; /* an access outside the reservation was planned */
	/* t_emu_random_lend: the VMM's copy of xs that it lends (lend_xsave), fresh while it
	 * is the vCPU's, as the KVM backend keeps its KVM_GET_XSAVE buffer */
	uint8_t img[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	int fresh;
	long lend_stale, lend_copies; /* left changed and not discarded; copies in or out */
};
static struct fake F;

static int f_get_regs(void *o, struct xg_emu_x86_regs *r)
{
	*r = ((struct fake *)o)->r;
	return 0;
}
static int f_set_regs(void *o, const struct xg_emu_x86_regs *r)
{
	((struct fake *)o)->r = *r;
	return 0;
}
static int f_get_xsave(void *o, void *xs)
{
	((struct fake *)o)->lend_copies++;
	memcpy(xs, ((struct fake *)o)->xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}
static int f_set_xsave(void *o, const void *xs)
{
	((struct fake *)o)->lend_copies += xs != ((struct fake *)o)->img;
	memcpy(((struct fake *)o)->xs, xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}
#ifdef EMU_LEND
static int f_lend_xsave(void *o, void **xs)
{
	struct fake *f = o;
	if (!f->fresh)
		memcpy(f->img, f->xs, XG_EMU_X86_XSAVE_SIZE);
	f->fresh = 1;
	*xs = f->img;
	return 0;
}
static int f_discard_xsave(void *o)
{
	((struct fake *)o)->fresh = 0;
	return 0;
}
#endif
static int win_page(uint64_t la)
{
	uint64_t d = (uint64_t)(uintptr_t)M.data;
	if (la < d || la >= d + NPAGES * PAGE)
		return -1;
	return (int)((la - d) / PAGE);
}
/* #PF error code of a user access (SDM Vol. 3A 4.7): P, W/R, U/S = 1, I/D for fetches */
static int f_translate(void *o, uint64_t la, enum xg_emu_x86_access kind, unsigned cpl,
		       uint32_t *err)
{
	struct fake *f = o;
	int p = win_page(la), w = kind == XG_EMU_X86_WRITE || kind == XG_EMU_X86_RMW;
	uint64_t r = (uint64_t)(uintptr_t)M.res;

	(void)cpl;
	if (kind == XG_EMU_X86_FETCH) {
		if (la >= f->code_la && la < f->code_la + PAGE)
			return 0;
		*err = 4 | 0x10;
		return 1;
	}
	/* the CPU may go where the emulator goes: only the reservation, the unmappable first
	 * 64 KiB (vm.mmap_min_addr) and non-canonical addresses are safe to aim at */
	if (p < 0 && !(la >= r && la < r + RES_SIZE) && la >= 0x10000 && la < (1ull << 47) &&
	    !(M.top_free && la >= 0xffff0000ull && la < 0x100000000ull))
		f->unsafe = 1;
	if (p < 0 || p == 3) {
		*err = 4u | (w ? 2u : 0u);
		return 1;
	}
	if (w && p == 2) {
		*err = 7;
		return 1;
	}
	return 0;
}
static int f_read(void *o, uint64_t la, void *buf, unsigned size, enum xg_emu_x86_access kind)
{
	struct fake *f = o;
	int p = win_page(la);
	if (kind == XG_EMU_X86_FETCH) {
		if (la < f->code_la || la + size > f->code_la + sizeof(f->code))
			memset(buf, 0xcc, size);
		else
			memcpy(buf, f->code + (la - f->code_la), size);
		return 0;
	}
	if (p < 0 || win_page(la + size - 1) != p)
		return -14;
	memcpy(buf, &f->mem[0][0] + (la - (uint64_t)(uintptr_t)M.data), size);
	return 0;
}
static int f_write(void *o, uint64_t la, const void *buf, unsigned size)
{
	struct fake *f = o;
	int p = win_page(la);
	if (p < 0 || win_page(la + size - 1) != p)
		return -14;
	memcpy(&f->mem[0][0] + (la - (uint64_t)(uintptr_t)M.data), buf, size);
	return 0;
}
static int f_inject(void *o, const struct xg_emu_x86_exception *e)
{
	struct fake *f = o;
	f->injected = 1;
	f->exc = *e;
	return 0;
}
static const struct xg_emu_x86_ops fops = {
#ifdef EMU_LEND
    .lend_xsave = f_lend_xsave,
    .discard_xsave = f_discard_xsave,
#endif
    .get_regs = f_get_regs,
    .set_regs = f_set_regs,
    .get_xsave = f_get_xsave,
    .set_xsave = f_set_xsave,
    .translate = f_translate,
    .read = f_read,
    .write = f_write,
    .inject = f_inject,
};

static void hexs(char *o, size_t on, const uint8_t *b, unsigned n);

/* One emulation on the fake vCPU, which ran since any earlier one (its copy is stale). A
 * lent image left fresh must be the vCPU's. */
static enum xg_emu_x86_status run_emu(const uint8_t *b, size_t n, struct xg_emu_x86_result *res)
{
	enum xg_emu_x86_status st;

	F.fresh = 0;
	st = xg_emu_x86_emulate(&fops, &F, b, n, res);
	if (F.fresh && memcmp(F.img, F.xs, XG_EMU_X86_XSAVE_SIZE)) {
		char h[64];
		hexs(h, sizeof(h), b, (unsigned)n);
		if (F.lend_stale++ < 4)
			diag("lent image left stale by [%s]: %s", h, xg_emu_x86_status_name(st));
	}
	return st;
}

/* ---- generation ---- */

/* (encoding, map, opcode) triples for which some form is claimed supported */
struct opc {
	uint8_t enc, map, op;
};
static struct opc cand[3][6 * 256];
static unsigned ncand[3];

static const uint8_t legacy_pfx[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66,
				     0x67, 0xf2, 0xf3, 0xf0, 0x66, 0x67};

/* Random bytes for what follows the opcode: ModRM (every mod), SIB, displacement,
 * immediate. */
static void tail(uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* One random encoding of (enc, map, op) with random prefixes; returns its length in buf. */
static unsigned build(uint8_t *b, const struct opc *o, unsigned mode)
{
	unsigned n = 0, np = rn(8) < 5 ? 0 : rn(4) + 1;

	for (unsigned i = 0; i < np; i++) {
		uint8_t p = legacy_pfx[rn(sizeof(legacy_pfx))];
		if (p == 0xf0 && rn(4))
			continue;
		if (o->enc && p != 0x67 && !(p >= 0x26 && p <= 0x3e) && p != 0x64 && p != 0x65)
			continue;
		b[n++] = p;
	}
	if (o->enc == 0) {
		if (mode == 64 && rn(5) < 2)
			b[n++] = (uint8_t)(0x40 | rn(16));
		if (o->map) {
			b[n++] = 0x0f;
			if (o->map == 2)
				b[n++] = 0x38;
			else if (o->map == 3)
				b[n++] = 0x3a;
		}
		b[n++] = o->op;
	} else if (o->enc == 1) {
		uint8_t pp = (uint8_t)rn(4), l = (uint8_t)rn(2),
			vvvv = rn(3) ? 15 : (uint8_t)rn(16);
		uint8_t r = (uint8_t)rnd() & 0xe0;
		if (mode != 64)
			r |= 0xc0; /* VEX.R/X in 32/16-bit mode: 11 or it is LES/LDS */
		if (o->map == 1 && rn(2)) {
			b[n++] = 0xc5;
			b[n++] = (uint8_t)((r & 0x80) | (vvvv << 3) | (l << 2) | pp);
		} else {
			b[n++] = 0xc4;
			b[n++] = (uint8_t)(r | o->map);
			b[n++] = (uint8_t)((rnd() & 0x80) | (vvvv << 3) | (l << 2) | pp);
		}
		b[n++] = o->op;
	} else {
		uint8_t p0 = (uint8_t)(rnd() & 0xf0) | o->map, p1, p2;
		uint8_t vvvv = rn(3) ? 15 : (uint8_t)rn(16);
		if (mode != 64)
			p0 |= 0xc0;
		if (!rn(40))
			p0 |= 8; /* reserved, must be 0 */
		p1 = (uint8_t)((rnd() & 0x80) | (vvvv << 3) | 4 | rn(4));
		if (!rn(40))
			p1 &= (uint8_t)~4; /* reserved, must be 1 */
		p2 = (uint8_t)rnd();
		if (rn(3))
			p2 |= 8; /* V' mostly 1 */
		if (rn(2))
			p2 &= (uint8_t)~0x10; /* broadcast mostly off */
		if (rn(2))
			p2 &= (uint8_t)~0x80; /* zeroing mostly off */
		b[n++] = 0x62;
		b[n++] = p0;
		b[n++] = p1;
		b[n++] = p2;
		b[n++] = o->op;
	}
	tail(b + n, 15);
	if (rn(4) == 0)
		b[n] |= 0xc0; /* mod = 3 more often */
	return n;
}

static int claimed(const uint8_t *b, unsigned mode, struct xg_emu_x86_insn *in)
{
	struct xg_emu_x86_exception e;
	return xg_emu_x86_decode(b, 15, mode, 0, in, &e, NULL) == XG_EMU_X86_OK &&
	       xg_emu_x86_supported(in);
}

/* A legacy opcode is claimed in some form: every mandatory prefix, REX.W and ModRM byte */
static int legacy_claimed(const struct opc *o)
{
	static const uint8_t pfx[4] = {0, 0x66, 0xf3, 0xf2};
	struct xg_emu_x86_insn in;
	uint8_t b[32];

	for (unsigned p = 0; p < 4; p++)
		for (unsigned w = 0; w < 2; w++)
			for (unsigned m = 0; m < 256; m++) {
				unsigned n = 0;
				memset(b, 0, sizeof(b));
				if (p)
					b[n++] = pfx[p];
				if (w)
					b[n++] = 0x48;
				if (o->map)
					b[n++] = 0x0f;
				if (o->map == 2 || o->map == 3)
					b[n++] = o->map == 2 ? 0x38 : 0x3a;
				b[n++] = o->op;
				b[n] = (uint8_t)m;
				if (claimed(b, 64, &in))
					return 1;
			}
	return 0;
}

/* A VEX or EVEX opcode: random forms (their fields are too many to go through) */
static int random_claimed(const struct opc *o)
{
	struct xg_emu_x86_insn in;
	uint8_t b[32];

	for (unsigned t = 0; t < 2048; t++) {
		build(b, o, 64);
		if (claimed(b, 64, &in))
			return 1;
	}
	return 0;
}

/* Which opcodes are ever claimed. */
static void find_candidates(void)
{

	/* EVEX also has the FP16 maps 5 and 6 (there is no map 4) */
	for (unsigned enc = 0; enc < 3; enc++)
		for (unsigned map = enc ? 1 : 0; map < (enc == 2 ? 7u : 4u); map++)
			for (unsigned op = 0; op < 256 && map != 4; op++) {
				struct opc o = {(uint8_t)enc, (uint8_t)map, (uint8_t)op};
				/* prefixes are not opcodes (REX, segment, 66, 67, LOCK, REP) */
				if (enc == 0 && map == 0 &&
				    (op == 0x0f || (op >= 0x40 && op < 0x50) || op == 0x26 ||
				     op == 0x2e || op == 0x36 || op == 0x3e ||
				     (op >= 0x64 && op <= 0x67) || op == 0xf0 || op == 0xf2 ||
				     op == 0xf3))
					continue;
				if ((enc == 0 && legacy_claimed(&o)) || random_claimed(&o))
					cand[enc][ncand[enc]++] = o;
			}
}

/* ---- one case ---- */

/*
 * A segment of 16-bit protected mode, as an LDT descriptor (modify_ldt) and as the emulator
 * sees it. Data segments are aimed so that the window lies inside their first 64 KiB; limits,
 * expand-down, read-only, readable code and the B bit are random.
 */
enum { S16_RW = 0, S16_RW_DOWN, S16_RO, S16_CODE };
struct seg16 {
	uint64_t base;
	uint32_t limit; /* in bytes */
	uint8_t kind, db, g;
};

struct tcase {
	unsigned mode;
	struct seg16 s16[XG_EMU_X86_NSEG]; /* 16-bit mode */
	uint16_t ip0;			   /* 16-bit mode: IP (the CS base is the code page - IP) */
	uint8_t bytes[16];
	unsigned len;
	struct xg_emu_x86_insn in;
	uint64_t gpr[16], rflags, fsbase, gsbase;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	/* a legacy SSE case on a guest without CR4.OSXSAVE (XCR0 at its reset value 1) */
	int no_osxsave;
};

static uint64_t rnd_val(void)
{
	switch (rn(8)) {
	case 0:
		return 0;
	case 1:
		return rn(16);
	case 2:
		return (uint64_t) - (int64_t)rn(16);
	case 3:
		return 1ull << rn(64);
	case 4:
		return (uint64_t)(int64_t)(int32_t)rnd();
	case 5:
		return rnd() & 0xffffffff;
	default:
		return rnd();
	}
}

static uint64_t win(void)
{
	return (uint64_t)(uintptr_t)M.data;
}

/* An address for a memory operand: mostly in the window, often near a page boundary. */
static uint64_t target(unsigned mode)
{
	unsigned k = rn(16);
	if (k == 0 && mode == 64)
		return ((rnd() | (1ull << 62)) & ~(1ull << 63)) ^
		       (rn(2) ? 0xffff000000000000ull : 0);
	if (k == 1)
		return win() + 4 * PAGE + rn(64); /* the reservation past the window */
	if (k == 2 && mode == 32)
		return 0x100000000ull - rn(40); /* wrapping at 4 GiB (flat segments) */
	if (k < 8)
		return win() + (1 + rn(3)) * PAGE - rn(70); /* straddling a boundary */
	return win() + rn(NPAGES * PAGE);
}

static uint64_t seg_base_of(const struct tcase *c, unsigned seg)
{
	if (c->mode == 16)
		return c->s16[seg].base;
	if (c->mode != 64)
		return 0;
	return seg == XG_EMU_X86_FS ? c->fsbase : seg == XG_EMU_X86_GS ? c->gsbase : 0;
}

static int find_disp(const struct tcase *c, unsigned *pos, unsigned *size)
{
	const struct xg_emu_x86_insn *in = &c->in;
	unsigned ds;
	if (!in->has_modrm || in->mod != 0)
		return 0;
	ds = in->addrsize == 2 ? 2 : 4;
	*pos = in->len - in->imm_size - ds - (in->imm2 && in->imm_size == 2 ? 1 : 0);
	*size = ds;
	return 1;
}

static void set_addr_reg(struct tcase *c, unsigned reg, uint64_t v)
{
	if (c->in.addrsize == 4)
		v = (v & 0xffffffffull) | (rnd() & 0xffffffff00000000ull);
	else if (c->in.addrsize == 2)
		v = (v & 0xffffull) | (rnd() & ~0xffffull);
	c->gpr[reg] = v;
}

/* the IRETQ frame into 16-bit mode (aligned so that it does not cross 64 KiB) */
static struct probe_in fr16 __attribute__((aligned(256)));

/* Aim the memory operands at the window (or just outside it, or non-canonical). */
static void aim(struct tcase *c)
{
	struct xg_emu_x86_insn *in = &c->in;
	uint64_t sb = seg_base_of(c, in->seg), t = target(c->mode);
	unsigned pos, size;

	/* 16-bit mode: now and then at the segment's limit (expand-down: its lower end) */
	if (c->mode == 16 && !rn(10))
		t = sb + c->s16[in->seg].limit + (c->s16[in->seg].kind == S16_RW_DOWN) - rn(8);
	/* the stack straddles pages 1 and 2 */
	c->gpr[4] = win() + 2 * PAGE - 8 * rn(24) - seg_base_of(c, XG_EMU_X86_SS);
	/* rSI, rDI for strings */
	set_addr_reg(c, 6, win() + rn(2 * PAGE) - sb);
	set_addr_reg(c, 7,
		     win() + rn(2 * PAGE) + (rn(4) ? 0 : PAGE) - seg_base_of(c, XG_EMU_X86_ES));
	if (!rn(3))
		c->gpr[1] = rn(6) | (rnd() & ~0xffffffffull);
	if (!in->has_mem || !in->has_modrm) {
		if (in->has_mem && !in->has_modrm && in->imm_size == 0 &&
		    !(in->flags & (1ull << 18))) {
			/* moffs: rewrite the absolute address */
			uint64_t a = t - sb;
			unsigned as = in->addrsize;
			for (unsigned i = 0; i < as; i++)
				c->bytes[c->len - as + i] = (uint8_t)(a >> (8 * i));
		}
		return;
	}
	if (in->base != XG_EMU_X86_NOREG) {
		uint64_t iv = 0;
		if (in->index != XG_EMU_X86_NOREG && in->index != in->base && !in->vsib) {
			iv = (uint64_t)(int64_t)(int)(rn(129) - 64);
			c->gpr[in->index & 15] = iv;
		}
		if (in->index == in->base && !in->vsib)
			set_addr_reg(c, in->base & 15,
				     (t - sb - (uint64_t)in->disp) / (1 + in->scale));
		else
			set_addr_reg(c, in->base & 15,
				     t - sb - (uint64_t)in->disp - iv * in->scale);
	} else if (in->index != XG_EMU_X86_NOREG && !in->vsib) {
		set_addr_reg(c, in->index & 15, (t - sb - (uint64_t)in->disp) / in->scale);
	} else if (find_disp(c, &pos, &size)) {
		uint64_t d = t - sb;
		if (in->rip_rel)
			d = t - (F.code_la + in->len);
		for (unsigned i = 0; i < size; i++)
			c->bytes[pos + i] = (uint8_t)(d >> (8 * i));
	}
}

static void rnd_xsave(uint8_t *xs)
{
	uint16_t fcw = 0x37f, fsw = (uint16_t)(rn(8) << 11);
	uint32_t mxcsr = 0x1f80 | (rn(4) << 13);
	uint64_t bv;

	memset(xs, 0, XG_EMU_X86_XSAVE_SIZE);
	if (!rn(8))
		fcw = (uint16_t)(0x40 | (rnd() & 0xf3f));
	if (!rn(4))
		mxcsr ^= (uint32_t)(rnd() & 0x807f); /* FTZ, DAZ, flags, some masks */
	if (!rn(8)) {
		/* sticky exception flags, SF and C0-C3 (SDM Vol. 1 8.1.3), now and then one of
		 * the flags unmasked: ES and B are then set (a waiting x87 or MMX instruction
		 * takes #MF), as XRSTOR computes them on AMD, and FOP/FIP/FDP are random, as
		 * any CPU's XSAVE may store them with ES set (AMD stores zero without) */
		fsw |= (uint16_t)(rnd() & 0x477f);
		if (!rn(4))
			fcw &= (uint16_t) ~(1u << rn(6));
		if (fsw & ~fcw & 0x3f) {
			uint16_t fop = (uint16_t)(rnd() & 0x7ff);
			uint64_t fip = rnd() & 0x7fffffffffffull, fdp = rnd() & 0x7fffffffffffull;
			fsw |= 0x8080;
			memcpy(xs + XG_EMU_X86_XS_FOP, &fop, 2);
			memcpy(xs + XG_EMU_X86_XS_FIP, &fip, 8);
			memcpy(xs + XG_EMU_X86_XS_FDP, &fdp, 8);
		}
	}
	memcpy(xs + XG_EMU_X86_XS_FCW, &fcw, 2);
	memcpy(xs + XG_EMU_X86_XS_FSW, &fsw, 2);
	xs[XG_EMU_X86_XS_FTW] = (uint8_t)rnd();
	memcpy(xs + XG_EMU_X86_XS_MXCSR, &mxcsr, 4);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t m = rnd();
		uint16_t e = (uint16_t)rnd();
		if (rn(2))
			e = (uint16_t)((e & 0x8000) | (0x3fff + rn(64) - 32));
		memcpy(xs + XG_EMU_X86_XS_ST0 + 16 * i, &m, 8);
		memcpy(xs + XG_EMU_X86_XS_ST0 + 16 * i + 8, &e, 2);
	}
	for (unsigned o = XG_EMU_X86_XS_XMM0; o < XG_EMU_X86_XS_XMM0 + 256; o += 8) {
		uint64_t v = rnd();
		memcpy(xs + o, &v, 8);
	}
	if (M.rfbm & 4)
		for (unsigned o = XG_EMU_X86_XS_YMMH; o < XG_EMU_X86_XS_YMMH + 256; o += 8) {
			uint64_t v = rnd();
			memcpy(xs + o, &v, 8);
		}
	if (M.rfbm & 0xe0)
		for (unsigned o = XG_EMU_X86_XS_OPMASK; o < XG_EMU_X86_XS_AVX512_END; o += 8) {
			uint64_t v = rnd();
			memcpy(xs + o, &v, 8);
		}
	/* now and then AVX or an AVX-512 component in its initial state, its XSTATE_BV bit
	 * clear and its bytes left stale, as XSAVEOPT leaves them: the emulator reads it as
	 * zeros, and the image it writes back has the bit set exactly where it left the
	 * component non-zero (normalize() zeros what a clear bit says is initial, and the CPU
	 * started from the same state by XRSTOR) */
	bv = M.rfbm;
	if (!rn(4))
		bv &= ~(rnd() & 0xe4);
	memcpy(xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
}

/* Components not in use read as their initial state (SDM Vol. 1 13.6). */
static void normalize(uint8_t *xs)
{
	uint64_t bv;
	memcpy(&bv, xs + XG_EMU_X86_XS_XSTATE_BV, 8);
	if (!(bv & 1)) {
		memset(xs, 0, 24);
		xs[0] = 0x7f, xs[1] = 3;
		memset(xs + XG_EMU_X86_XS_ST0, 0, 128);
	}
	if (!(bv & 2))
		memset(xs + XG_EMU_X86_XS_XMM0, 0, 256);
	if (!(bv & 4))
		memset(xs + XG_EMU_X86_XS_YMMH, 0, 256);
	if (!(bv & 0x20))
		memset(xs + XG_EMU_X86_XS_OPMASK, 0, 64);
	if (!(bv & 0x40))
		memset(xs + XG_EMU_X86_XS_ZMMH, 0, 512);
	if (!(bv & 0x80))
		memset(xs + XG_EMU_X86_XS_HI16ZMM, 0, 1024);
}

static void make_state(struct tcase *c, int decoded);
static int simd_only; /* XG_SIMD=1: SSE-class instructions only */

/*
 * ---- SIMD classes (the instructions run in a host stub, and the vector moves) ----
 *
 * For an SSE-class instruction (table flag F_SSE) the state is made harder: the vector
 * registers and the data pages get special floating-point values in random lanes (zeros,
 * infinities, quiet and signalling NaNs, denormals, the largest and smallest normals, values
 * at the integer-conversion limits and at rounding ties), and MXCSR gets random rounding,
 * DAZ/FTZ and, often, unmasked exceptions (the CPU then raises #XM: SIGFPE here). Cases are
 * counted by instruction name (printed at the end).
 */
#define XG_F_SSE (1ull << 12) /* the emulator's F_SSE table flag */

static int is_simd(const struct xg_emu_x86_insn *in)
{
	return (in->flags & XG_F_SSE) != 0;
}

static uint64_t special_fp(unsigned size)
{
	static const uint32_t s32[] = {
	    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001,
	    0x7fa00000, 0x00000001, 0x807fffff, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff,
	    0x3f800000, 0xbf800000, 0x4f000000, 0xcf000000, 0x4effffff, 0x5f000000, 0xdf000000,
	    0x3f000000, 0x40200000, 0x3fc00000, 0x0c000000, 0x72000000, 0x00400000, 0x1f800000,
	};
	static const uint64_t s64[] = {
	    0x0000000000000000ull, 0x8000000000000000ull, 0x7ff0000000000000ull,
	    0xfff0000000000000ull, 0x7ff8000000000000ull, 0xfff8000000000001ull,
	    0x7ff0000000000001ull, 0x7ff4000000000000ull, 0x0000000000000001ull,
	    0x800fffffffffffffull, 0x0010000000000000ull, 0x8010000000000000ull,
	    0x7fefffffffffffffull, 0xffefffffffffffffull, 0x3ff0000000000000ull,
	    0xbff0000000000000ull, 0x41e0000000000000ull, 0xc1e0000000000000ull,
	    0x41dfffffffc00000ull, 0x43e0000000000000ull, 0xc3e0000000000000ull,
	    0x3fe0000000000000ull, 0x4004000000000000ull, 0x3ff8000000000000ull,
	    0x3690000000000000ull, 0x47e0000000000000ull, 0x36a0000000000001ull,
	    0x3810000000000000ull, 0x380fffffffffffffull,
	};
	static const uint16_t s16[] = {0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe01, 0x7d00,
				       0x0001, 0x83ff, 0x0400, 0x8400, 0x7bff, 0xfbff, 0x3c00,
				       0xbc00, 0x3800, 0x4100, 0x3e00, 0x1400, 0x7800};
	uint64_t v;
	if (size == 2)
		return s16[rn(sizeof(s16) / sizeof(s16[0]))] ^ (rn(4) ? 0 : rnd() & 3);
	if (size == 4) {
		v = s32[rn(sizeof(s32) / sizeof(s32[0]))];
		if (!rn(4))
			v ^= rnd() & 0x3; /* near the value */
		return v;
	}
	v = s64[rn(sizeof(s64) / sizeof(s64[0]))];
	if (!rn(4))
		v ^= rnd() & 0x3;
	return v;
}

/* lanes of `n` bytes at p: some replaced by special values of 2, 4 or 8 bytes */
static void sprinkle(uint8_t *p, unsigned n, unsigned permille)
{
	unsigned g = rn(5) ? (rn(2) ? 4 : 8) : 2;
	for (unsigned o = 0; o + g <= n; o += g)
		if (rn(1000) < permille) {
			uint64_t v = special_fp(g);
			memcpy(p + o, &v, g);
		}
}

static void simd_state(struct tcase *c)
{
	uint32_t mx;
	unsigned per = rn(4) ? 300 : 800;

	sprinkle(c->xs + XG_EMU_X86_XS_XMM0, 256, per);
	sprinkle(c->xs + XG_EMU_X86_XS_YMMH, 256, per);
	sprinkle(c->xs + XG_EMU_X86_XS_ZMMH, 512 + 1024, per);
	sprinkle(&M.init[0][0], 2 * PAGE, per);
	memcpy(&mx, c->xs + XG_EMU_X86_XS_MXCSR, 4);
	mx = (mx & ~0x6000u) | (rn(4) << 13); /* rounding */
	if (!rn(3))
		mx ^= rnd() & 0x8040; /* FTZ, DAZ */
	if (!rn(3))
		mx &= ~((uint32_t)(rnd() & 0x3f) << 7); /* some exceptions unmasked */
	if (!rn(3))
		mx &= ~0x3fu; /* flags clear (else random from rnd_xsave) */
	memcpy(c->xs + XG_EMU_X86_XS_MXCSR, &mx, 4);
}

#define NSIMD 512
static struct {
	const char *name;
	long n[2]; /* 64-bit, 32-bit */
} simd_count[NSIMD];
static unsigned nsimd;

static void count_simd(const struct tcase *c)
{
	const char *n = c->in.name ? c->in.name : "?";
	unsigned i;
	if (!is_simd(&c->in))
		return;
	for (i = 0; i < nsimd && strcmp(simd_count[i].name, n); i++)
		;
	if (i == nsimd) {
		if (nsimd == NSIMD)
			return;
		simd_count[nsimd++].name = n;
	}
	simd_count[i].n[c->mode == 32]++;
}

static void print_simd_counts(void)
{
	char line[200];
	size_t k = 0;
	long total[2] = {0, 0};
	for (unsigned i = 0; i < nsimd; i++) {
		total[0] += simd_count[i].n[0];
		total[1] += simd_count[i].n[1];
		k += (size_t)snprintf(line + k, sizeof(line) - k, " %s %ld/%ld;",
				      simd_count[i].name, simd_count[i].n[0], simd_count[i].n[1]);
		if (k > 120 || i + 1 == nsimd) {
			diag("simd cases (64/32-bit):%s", line);
			k = 0;
		}
	}
	diag("simd cases in all: %ld 64-bit, %ld 32-bit, %u instruction classes", total[0],
	     total[1], nsimd);
}

/* ---- generator classes: a family's edges, made likelier than random state makes them ---- */

/* a GPR the instruction uses to form its address must keep its value */
static int addr_reg(const struct tcase *c, unsigned r)
{
	return c->in.has_mem && ((c->in.base & 15) == r || (!c->in.vsib && (c->in.index & 15) == r));
}

/* a count at the edges: 0, 1, the width and around it, the masks' edges, or random */
static uint8_t edge_count(unsigned width)
{
	static const uint8_t fixed[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255};
	unsigned k = rn(20);
	if (k < sizeof(fixed))
		return fixed[k];
	if (k == 16)
		return (uint8_t)(width - 1);
	if (k == 17)
		return (uint8_t)width;
	return (uint8_t)rnd();
}

/* shifts, rotates, SHLD/SHRD, the BMI shifts and bit-field forms: their count (CL, the
 * immediate or the vvvv register) at an edge; counts 0, 1, width and past it */
static void gen_counts(struct tcase *c)
{
	const struct xg_emu_x86_insn *in = &c->in;
	unsigned w = in->opsize * 8, op = in->opcode;
	uint8_t n = edge_count(w ? w : 32);

	if (in->enc == 0 && ((in->map == 0 && (op == 0xd2 || op == 0xd3)) ||
			     (in->map == 1 && (op == 0xa5 || op == 0xad)))) {
		if (!addr_reg(c, 1))
			c->gpr[1] = (c->gpr[1] & ~0xffull) | n;
	} else if (in->imm_size == 1) {
		c->bytes[c->len - 1] = n;
	} else if (in->enc == 1 && !addr_reg(c, in->vvvv & 15)) {
		/* BEXTR takes start and length; BZHI and the shifts a count */
		c->gpr[in->vvvv & 15] = (c->gpr[in->vvvv & 15] & ~0xffffull) | n |
					(op == 0xf7 && in->pfx == 0 ? (uint64_t)edge_count(w) << 8 : 0);
	}
}

/* DIV/IDIV: a high half that lets the quotient fit, half the time (random state is #DE
 * nearly always) */
static void gen_divide(struct tcase *c)
{
	int sgn = !strcmp(c->in.name, "idiv");
	if (rn(2) || addr_reg(c, 0) || addr_reg(c, 2))
		return;
	if (c->in.opsize == 1)
		c->gpr[0] = (c->gpr[0] & ~0xff00ull) | (sgn && (c->gpr[0] & 0x80) ? 0xff00 : 0);
	else
		c->gpr[2] = sgn && ((c->gpr[0] >> (8 * c->in.opsize - 1)) & 1) ? ~0ull : 0;
}

/* BSF/BSR/TZCNT/LZCNT/POPCNT and BLSI/BLSMSK/BLSR: a zero or one-bit source now and then */
static void gen_bits(struct tcase *c)
{
	if (c->in.mod == 3 && !addr_reg(c, c->in.rm & 15) && !rn(3))
		c->gpr[c->in.rm & 15] = rn(2) ? 0 : 1ull << rn(64);
}

/* MOVDIR64B: the destination register at a 64-byte aligned place of the window, mostly */
static void gen_movdir64b(struct tcase *c)
{
	unsigned r = c->in.reg & 15;
	if (rn(4) && !addr_reg(c, r))
		c->gpr[r] = win() + 64 * rn((rn(4) ? 2 : NPAGES) * PAGE / 64);
}

/* byte j of vector register r in an XSAVE image */
static uint8_t *vec_byte(uint8_t *xs, unsigned r, unsigned j)
{
	if (r >= 16)
		return xs + XG_EMU_X86_XS_HI16ZMM + 64 * (r - 16) + j;
	if (j < 16)
		return xs + XG_EMU_X86_XS_XMM0 + 16 * r + j;
	if (j < 32)
		return xs + XG_EMU_X86_XS_YMMH + 16 * r + j - 16;
	return xs + XG_EMU_X86_XS_ZMMH + 32 * r + j - 32;
}

/* gathers and scatters: the index elements near the aimed address (in the window, across its
 * pages, now and then far off), so that elements complete and faults come part-way */
static void gen_vsib(struct tcase *c)
{
	const struct xg_emu_x86_insn *in = &c->in;
	unsigned is = (in->opcode & 1) ? 8 : 4, n = 64 / is;
	for (unsigned i = 0; i < n; i++) {
		int64_t v = ((int64_t)rn(4 * PAGE) - (int64_t)PAGE) / in->scale;
		if (!rn(16))
			v = (int64_t)rnd_val();
		for (unsigned j = 0; j < is; j++)
			*vec_byte(c->xs, in->index, is * i + j) = (uint8_t)((uint64_t)v >> (8 * j));
	}
}

/* FXSAVE/FXRSTOR: a 16-byte aligned operand mostly, and for FXRSTOR a valid MXCSR in it */
static void gen_fxsave(struct tcase *c)
{
	const struct xg_emu_x86_insn *in = &c->in;
	uint64_t am = in->addrsize == 8 ? ~0ull : in->addrsize == 4 ? 0xffffffffull : 0xffff;
	uint64_t ea, la, d = (uint64_t)(uintptr_t)M.data;
	uint32_t mx = (uint32_t)(rnd() & 0xffbf);

	if (!in->has_mem || in->base == XG_EMU_X86_NOREG || in->base == in->index || !rn(4))
		return;
	ea = c->gpr[in->base & 15] + (uint64_t)in->disp +
	     (in->index != XG_EMU_X86_NOREG ? c->gpr[in->index & 15] * in->scale : 0);
	c->gpr[in->base & 15] -= ea & 15;
	la = ((ea & am) & ~15ull) + seg_base_of(c, in->seg);
	if (!strcmp(in->name, "fxrstor") && la >= d && la + 28 <= d + 2 * PAGE)
		memcpy(&M.init[0][0] + (la - d) + 24, &mx, 4);
}

/* the generator classes, by instruction name (registered here, run after make_state) */
static const struct gen_class {
	const char *names; /* space-separated */
	void (*fn)(struct tcase *c);
} gen_classes[] = {
    {"rol ror rcl rcr shl shr sal sar shld shrd sarx shlx shrx rorx bzhi bextr", gen_counts},
    {"div idiv", gen_divide},
    {"bsf bsr tzcnt lzcnt popcnt blsi blsmsk blsr", gen_bits},
    {"movdir64b", gen_movdir64b},
    {"fxsave fxrstor", gen_fxsave},
    {"vpgatherdd/dq vpgatherqd/qq vgatherdps/dpd vgatherqps/qpd", gen_vsib},
    {"evex vpgatherdd/dq evex vpgatherqd/qq evex vgatherdps/dpd evex vgatherqps/qpd", gen_vsib},
    {"vpscatterdd/dq vpscatterqd/qq vscatterdps/dpd vscatterqps/qpd", gen_vsib},
};

static void gen_class(struct tcase *c)
{
	const char *n = c->in.name;
	size_t l;

	if (!n)
		return;
	l = strlen(n);
	for (unsigned i = 0; i < sizeof(gen_classes) / sizeof(gen_classes[0]); i++) {
		const char *p = gen_classes[i].names;
		while ((p = strstr(p, n))) {
			if ((p == gen_classes[i].names || p[-1] == ' ') && (p[l] == ' ' || !p[l])) {
				gen_classes[i].fn(c);
				return;
			}
			p += l;
		}
	}
}

/* Returns 0 if made, -1 if no claimed instruction came out. */
static int make_case(struct tcase *c, unsigned mode)
{
	unsigned encs = M.avx512 ? 3 : M.avx ? 2 : 1;
	for (unsigned tries = 0; tries < 64; tries++) {
		unsigned enc = rn(10) < 6 ? 0 : 1 + rn(encs - 1 ? encs - 1 : 1);
		if (enc >= encs)
			enc = 0;
		const struct opc *o = &cand[enc][rn(ncand[enc])];
		unsigned b;
		/* an opcode whose claimed forms are rare (gathers: a mandatory prefix, three
		 * distinct registers) gets a few tries, so that each opcode is drawn alike */
		for (b = 0; b < 8; b++) {
			memset(c->bytes, 0xcc, sizeof(c->bytes));
			c->mode = mode;
			build(c->bytes, o, mode);
			if (claimed(c->bytes, mode, &c->in))
				break;
		}
		if (b == 8 || (simd_only && !is_simd(&c->in)))
			continue;
		c->len = c->in.len;
		memset(c->bytes + c->len, 0xcc, sizeof(c->bytes) - c->len);
		make_state(c, 1);
		gen_class(c);
		/* a class's generator may set SP (a source of BSF, MOVDIR64B's address): ESP's
		 * high half is still what IRETQ leaves on a 16-bit stack (make_state) */
		if (c->mode == 16 && !c->s16[XG_EMU_X86_SS].db)
			c->gpr[4] = (c->gpr[4] & ~0xffff0000ull) |
				    ((uint64_t)(uintptr_t)&fr16 & 0xffff0000);
		if (!claimed(c->bytes, mode, &c->in) || c->in.len != c->len)
			continue;
		return 0;
	}
	return -1;
}

/* Registers, flags, segment bases and vector state for the instruction in c->bytes. */
static void make_segs16(struct tcase *c)
{
	c->ip0 = (uint16_t)rn(0xff00);
	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++) {
		struct seg16 *s = &c->s16[i];
		uint32_t off = rn(4) ? rn(0xc000) : rn(0x10000 - NPAGES * PAGE);
		s->base = win() - off;
		s->db = (uint8_t)rn(2);
		s->g = 0;
		s->kind = (uint8_t)(rn(8) < 5 ? S16_RW : rn(3) + 1);
		if (i == XG_EMU_X86_SS && s->kind > S16_RW_DOWN)
			s->kind = S16_RW; /* SS must be writable */
		switch (rn(6)) {
		case 0: /* inside the window */
			s->limit = off + rn(NPAGES * PAGE);
			break;
		case 1: /* up to 1 MiB (reached with 67h) */
			s->limit = rn(1u << 20);
			break;
		case 2: /* page granular */
			s->g = 1;
			s->limit = (rn(256) << 12) | 0xfff;
			break;
		default:
			s->limit = 0xffff;
		}
		if (s->kind == S16_RW_DOWN) {
			/* valid offsets are limit + 1 to 0xffff (B = 0) or 4 GiB - 1 (B = 1): the
			 * lower end below the window, mostly; B = 1 reaches past the reservation */
			s->db = 0;
			s->g = 0;
			s->limit = rn(4) ? rn(off + 1) : off + rn(NPAGES * PAGE);
		}
	}
	c->s16[XG_EMU_X86_CS].base = (uint64_t)(uintptr_t)M.code - c->ip0;
	c->s16[XG_EMU_X86_CS].limit = 0xffff;
	c->s16[XG_EMU_X86_CS].kind = S16_CODE;
	c->s16[XG_EMU_X86_CS].db = 0;
	c->s16[XG_EMU_X86_CS].g = 0;
}

static void make_state(struct tcase *c, int decoded)
{
	if (c->mode == 16)
		make_segs16(c);
	for (unsigned i = 0; i < 16; i++)
		c->gpr[i] = decoded ? rnd_val() : win() + rn(3 * PAGE);
	c->rflags = 0x202 | (rnd() & 0x8d5) | (rn(8) ? 0 : 0x400);
	if (rn(2))
		c->rflags &= ~0x400ull;
	c->fsbase = win() - FS_DELTA;
	c->gsbase = win() - GS_DELTA;
	if (decoded)
		aim(c);
	/* a 16-bit stack: IRETQ loads SP and leaves ESP[31:16] as they were (bits of the
	 * frame's own address, seen on the Xeon), so the case starts with those (an address
	 * with ESP as its base may then miss the window) */
	if (c->mode == 16 && !c->s16[XG_EMU_X86_SS].db)
		c->gpr[4] = (c->gpr[4] & 0xffff) | ((uint64_t)(uintptr_t)&fr16 & 0xffff0000) |
			    (rnd() & ~0xffffffffull);
	rnd_xsave(c->xs);
	if (decoded && is_simd(&c->in))
		simd_state(c);
	/* now and then a legacy SSE instruction on a guest that never set CR4.OSXSAVE, whose
	 * XCR0 is still 1 (SDM Vol. 3A 9.1.1) while CR4.OSFXSR runs SSE all the same, often
	 * with SSE (and AVX) initial in the image: what it writes must come back marked in use,
	 * whatever XCR0 says. Legacy SSE does not depend on XCR0, so the CPU (XCR0 as the host
	 * has it) is still the oracle. */
	c->no_osxsave = decoded && is_simd(&c->in) && c->in.enc == XG_EMU_X86_ENC_LEGACY && !rn(4);
	if (c->no_osxsave && rn(4)) {
		uint64_t bv;
		memcpy(&bv, c->xs + XG_EMU_X86_XS_XSTATE_BV, 8);
		bv &= ~(uint64_t)(rn(2) ? 6 : 2);
		memcpy(c->xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
	}
}

/*
 * Fixed cases: the byte patterns of the wrong-result classes found so far (issue 11 and this
 * oracle), each run from many random states like the random ones. Registers are aimed as
 * for a random case, or all at the window when the decoder rejects the bytes.
 */
static const struct fixed {
	uint8_t mode, len, bytes[15];
	const char *what;
	int8_t reg; /* if >= 0: this GPR gets val (+ the window's address if rel) */
	uint8_t rel;
	uint64_t val;
	int8_t reg2; /* a second one, same rules */
	uint8_t rel2;
	uint64_t val2;
	uint8_t kzero; /* k1-k7 = 0: every element masked off */
	/* 16-bit mode: DS read/write, based 32 KiB below the window, with this limit
	 * (0: random like the others) */
	uint32_t ds16_limit;
} fixed[] = {
#define FX(m, w, ...)                                                                              \
	{                                                                                          \
		.mode = m, .what = w, .reg = -1, .reg2 = -1,                                       \
		.len = sizeof((uint8_t[]){__VA_ARGS__}), .bytes = {                                \
			__VA_ARGS__                                                                \
		}                                                                                  \
	}
#define FXS(m, w, set, ...)                                                                        \
	{                                                                                          \
		.mode = m, .what = w, .len = sizeof((uint8_t[]){__VA_ARGS__}),                     \
		.bytes = {__VA_ARGS__}, XG_UNPAREN set                                             \
	}
#define XG_UNPAREN(...) __VA_ARGS__
    FX(64, "push r64 (mod = 3)", 0xff, 0xf0),
    FX(64, "pop r64 (mod = 3)", 0x8f, 0xc0),
    FX(64, "push r16 (mod = 3)", 0x66, 0xff, 0xf0),
    FX(64, "pop rsp", 0x8f, 0xc4),
    FX(64, "push rsp", 0xff, 0xf4),
    FX(32, "push r32 (mod = 3)", 0xff, 0xf0),
    FX(64, "GS then ES: GS stays", 0x65, 0x26, 0x8b, 0x03),
    FX(64, "FS then DS: FS stays", 0x64, 0x3e, 0x8b, 0x03),
    FX(64, "SS prefix ignored: #GP not #SS", 0x36, 0x8b, 0x03),
    FX(64, "DS prefix ignored with rbp: #SS", 0x3e, 0x8b, 0x45, 0x00),
    FX(64, "cmpxchg r/m32 register form", 0x0f, 0xb1, 0xcb),
    FX(64, "cmpxchg r/m32 register form", 0x0f, 0xb1, 0xda),
    FXS(64, "bts [ebx], r14 with the most negative bit offset",
	(.reg = 14, .val = 1ull << 63, .reg2 = -1), 0x67, 0x4c, 0x0f, 0xab, 0x33),
    FXS(64, "bt [rbx], rax with a negative bit offset",
	(.reg = 0, .val = (uint64_t)-100, .reg2 = -1), 0x48, 0x0f, 0xa3, 0x03),
    FX(64, "mov r/m, Sreg 6: #UD (no seventh segment register)", 0x8c, 0x30),
    FX(32, "mov r/m, Sreg 7: #UD", 0x8c, 0xf8),
    FX(16, "mov r/m, Sreg 6: #UD", 0x66, 0x8c, 0x37),
    /* VEX/EVEX field legality */
    FX(64, "EVEX.z = 1 with k0: #UD", 0x62, 0xf1, 0x7c, 0xc8, 0x10, 0x00),
    FX(64, "EVEX.z = 1 with k0, register form: #UD", 0x62, 0x91, 0xfe, 0x88, 0x6f, 0xc1),
    FX(64, "VEX.vvvv != 1111b on vmovups load: #UD", 0xc5, 0xf0, 0x10, 0x00),
    FX(64, "VEX.vvvv != 1111b on vmovups store: #UD", 0xc5, 0xf0, 0x11, 0x00),
    FX(64, "EVEX.vvvv != 1111b: #UD", 0x62, 0xf1, 0x74, 0x48, 0x10, 0x00),
    FX(64, "EVEX.V' = 0 on a no-vvvv form: #UD", 0x62, 0x81, 0x7c, 0x42, 0x10, 0x48, 0xdb),
    FX(64, "EVEX.R' = 0 with a GPR in reg: #UD", 0x62, 0xe1, 0x7d, 0x08, 0xc5, 0xc1, 0x01),
    FX(64, "EVEX.R' = 0 with an XMM in reg: fine", 0x62, 0x81, 0x1d, 0x08, 0xc4, 0xf7, 0xba),
    /* broadcasts */
    FX(64, "vbroadcastf32x2 ymm", 0x62, 0xf2, 0x7d, 0x28, 0x19, 0x00),
    FX(64, "vbroadcasti32x2 xmm", 0x62, 0xf2, 0x7d, 0x08, 0x59, 0x00),
    FX(64, "vbroadcasti32x2 zmm{k7}", 0x62, 0xf2, 0x7d, 0x4f, 0x59, 0x00),
    FX(64, "vbroadcastf32x2 xmm: #UD", 0x62, 0xf2, 0x7d, 0x08, 0x19, 0x00),
    FX(64, "vbroadcasti32x8 {k7}: elements read", 0x62, 0xf2, 0x7d, 0x4f, 0x5b, 0x00),
    FXS(64, "vpbroadcastd {k1}, all masked: no access",
	(.reg = 3, .rel = 1, .val = 3 * PAGE, .reg2 = -1, .rel2 = 0, .val2 = 0, .kzero = 1), 0x62,
	0xf2, 0x7d, 0x49, 0x58, 0x03),
    FXS(64, "vbroadcasti32x8 {k1}, all masked",
	(.reg = 3, .rel = 1, .val = 3 * PAGE + 8, .reg2 = -1, .rel2 = 0, .val2 = 0, .kzero = 1),
	0x62, 0xf2, 0x7d, 0x49, 0x5b, 0x03),
    /* compatibility mode */
    FX(32, "32-bit: VEX.vvvv[3] = 0 on a no-vvvv form: #UD", 0xc4, 0xe1, 0x3a, 0x12, 0xc3),
    FX(32, "32-bit: EVEX.V' = 0: #UD", 0x62, 0xd2, 0x7d, 0x22, 0x58, 0xfb),
    FX(32, "32-bit: EVEX.V' = 0, vvvv form: #UD", 0x62, 0xe1, 0xff, 0x02, 0x11, 0xd7),
    FX(32, "32-bit: VEX.W1 vmovd is 32-bit", 0xc4, 0xe1, 0xf9, 0x6e, 0x04, 0x3f),
    FX(32, "32-bit: VEX.W1 vmovd store is 32-bit", 0xc4, 0xc1, 0xf9, 0x7e, 0x26),
    FX(32, "32-bit: VEX.W1 vpinsrd", 0xc4, 0xe3, 0xf9, 0x22, 0x03, 0x01),
    FX(32, "32-bit: VEX.W1 vpextrd", 0xc4, 0xe3, 0xf9, 0x16, 0x03, 0x01),
    FX(32, "32-bit: EVEX.W1 vmovd disp8*4", 0x62, 0xd1, 0xfd, 0x08, 0x6e, 0x4e, 0xee),
    /* 16-bit protected mode (segment bases at any byte) */
    FX(16, "16-bit: movaps store, alignment of the linear address", 0x0f, 0x29, 0x43, 0x8f),
    FX(16, "16-bit: movdqa load, alignment of the linear address", 0x66, 0x0f, 0x6f, 0x07),
    FX(16, "16-bit: EVEX vmovaps store, alignment", 0x62, 0xd1, 0x7c, 0x08, 0x29, 0x9b, 0xdf, 0x47),
    FX(16, "16-bit: movshdup (legacy SSE m128), alignment", 0x67, 0x36, 0xf3, 0x36, 0x0f, 0x16,
       0x01),
    FX(16, "16-bit: movnti stores 32 bits (no 16-bit form)", 0x0f, 0xc3, 0x4a, 0xe9),
    FX(16, "16-bit: movnti with 67h", 0x67, 0x0f, 0xc3, 0x33),
    FXS(16, "16-bit: vmovups zmm{k1}, [bx] past DS's limit, all masked",
	(.reg = 3, .val = 0x80e0, .reg2 = -1, .kzero = 1, .ds16_limit = 0x80ff), 0x62, 0xf1, 0x7c,
	0x49, 0x10, 0x07),
    FXS(16, "16-bit: vmovups zmm{k1}, [bx] past DS's limit",
	(.reg = 3, .val = 0x80e0, .reg2 = -1, .ds16_limit = 0x80ff), 0x62, 0xf1, 0x7c, 0x49, 0x10,
	0x07),
    FXS(16, "16-bit: vmovups [bx]{k1}, zmm0 past DS's limit",
	(.reg = 3, .val = 0x80e0, .reg2 = -1, .ds16_limit = 0x80ff), 0x62, 0xf1, 0x7c, 0x49, 0x11,
	0x07),
    FXS(16, "16-bit: vmovups [bx]{k1}, zmm0 past DS's limit, all masked",
	(.reg = 3, .val = 0x80e0, .reg2 = -1, .kzero = 1, .ds16_limit = 0x80ff), 0x62, 0xf1, 0x7c,
	0x49, 0x11, 0x07),
    /* FSTP/FLD m80 are two accesses, 8 bytes then 2, checked in order on both vendors: the
     * first one's #PF (a PROT_NONE page) before the second one's #GP (past DS's limit) */
    FXS(16, "16-bit: fstp m80 [bx]: the first part's #PF before the second's limit",
	(.reg = 3, .val = 0xb010, .reg2 = -1, .ds16_limit = 0xb017), 0xdb, 0x3f),
    FXS(16, "16-bit: fld m80 [bx]: the first part's #PF before the second's limit",
	(.reg = 3, .val = 0xb010, .reg2 = -1, .ds16_limit = 0xb017), 0xdb, 0x2f),
    FXS(16, "16-bit: vmovups zmm{k1}, [bx]: an element past the limit before #PF",
	(.reg = 3, .val = 0xb010, .reg2 = -1, .ds16_limit = 0xb02f), 0x62, 0xf1, 0x7c, 0x49, 0x10,
	0x07),
    FXS(16, "16-bit: vmaskmovps [bx]: an element past the limit before #PF",
	(.reg = 3, .val = 0xb010, .reg2 = -1, .ds16_limit = 0xb017), 0xc4, 0xe2, 0x79, 0x2e, 0x07),
    FXS(16, "16-bit: fld m80 [bx] at the limit: the first 8 bytes' #PF first",
	(.reg = 3, .val = 0x8000 + 4 * PAGE, .reg2 = -1, .ds16_limit = 0x8000 + 4 * PAGE + 7), 0xdb,
	0x2f),
    FXS(16, "16-bit: fld m80 [bx] at the limit",
	(.reg = 3, .val = 0x7ff8 + 2 * PAGE, .reg2 = -1, .ds16_limit = 0x7fff + 2 * PAGE), 0xdb,
	0x2f),
    FXS(32, "32-bit: wrap at 4 GiB is #PF", (.reg = 3, .rel = 0, .val = 0xfffffffeull, .reg2 = -1),
	0x8b, 0x03),
    FXS(32, "32-bit: vmaskmovpd [bx+si] past 64 KiB",
	(.reg = 3, .rel = 0, .val = 0xfff0, .reg2 = 6, .rel2 = 0, .val2 = 0), 0x67, 0xc4, 0xe2,
	0x79, 0x2f, 0x38),
    FX(32, "32-bit: cmps faults on ES:DI first", 0x67, 0x67, 0xa7),
    FX(32, "32-bit: movs faults on DS:SI first", 0x67, 0xa4),
    FX(32, "32-bit: movs, null GS source before ES:DI", 0x65, 0x67, 0xa4),
    FX(32, "32-bit: cmps, ES:DI #PF before null GS #GP", 0x67, 0x65, 0xa6),
    /* string instructions (Intel: the vendor list) */
    FXS(64, "rep stos 67h, fault in the first iteration",
	(.reg = 7, .rel = 1, .val = 0x5a5a000000000000ull + 2 * PAGE + 0x10, .reg2 = 1, .rel2 = 0,
	 .val2 = 0x77777777000000aaull),
	0xf3, 0x67, 0xab),
    FXS(64, "rep movs 67h, fault in the first iteration",
	(.reg = 6, .rel = 1, .val = 0x1234000000000000ull + 3 * PAGE + 0x10, .reg2 = 1, .rel2 = 0,
	 .val2 = 0x77777777000000aaull),
	0xf3, 0x67, 0xa5),
    FXS(64, "repne scasb faulting after some iterations",
	(.reg = 7, .rel = 1, .val = 3 * PAGE - 3, .reg2 = 1, .rel2 = 0, .val2 = 100), 0xf2, 0xae),
    FXS(64, "repe cmpsb faulting after some iterations",
	(.reg = 6, .rel = 1, .val = 3 * PAGE - 2, .reg2 = 7, .rel2 = 1, .val2 = 3 * PAGE - 2), 0xf3,
	0xa6),
    /* masked EVEX movsldup/movshdup/movddup (merging and zeroing) */
    FXS(64, "vmovsldup zmm1{k1}, [rbx] across two pages",
	(.reg = 3, .rel = 1, .val = PAGE - 32, .reg2 = -1), 0x62, 0xf1, 0x7e, 0x49, 0x12, 0x0b),
    FXS(64, "vmovsldup zmm1{k1}{z}, [rbx]", (.reg = 3, .rel = 1, .val = 64, .reg2 = -1), 0x62, 0xf1,
	0x7e, 0xc9, 0x12, 0x0b),
    FXS(64, "vmovddup ymm1{k2}{z}, [rbx]", (.reg = 3, .rel = 1, .val = 96, .reg2 = -1), 0x62, 0xf1,
	0xff, 0xaa, 0x12, 0x0b),
    FXS(64, "vmovddup xmm1{k1}, [rbx] (8 bytes read)",
	(.reg = 3, .rel = 1, .val = 2 * PAGE - 8, .reg2 = -1), 0x62, 0xf1, 0xff, 0x09, 0x12, 0x0b),
    FX(64, "vmovshdup xmm0{k3}, xmm2", 0x62, 0xf1, 0x7e, 0x0b, 0x16, 0xc2),
    FX(64, "vmovddup zmm0{k3}{z}, zmm2", 0x62, 0xf1, 0xff, 0xcb, 0x12, 0xc2),
    /* xg_emu_x86_gp2.c: Intel keeps OF on a register rotate by an immediate other than 1 */
    FX(64, "rol eax, 5: OF", 0xc1, 0xc0, 0x05),
    FX(64, "ror r8b, 0x1c: OF", 0x41, 0xc0, 0xc8, 0x1c),
    FX(32, "ror cx, 13: OF", 0x66, 0xc1, 0xc9, 0x0d),
    FXS(64, "rol dword [rbx], 5: OF set as the CL form",
	(.reg = 3, .rel = 1, .val = 0x100, .reg2 = -1), 0xc1, 0x03, 0x05),
    FXS(64, "div dword [rbx] (divisor 0 or quotient too large: #DE)",
	(.reg = 3, .rel = 1, .val = 2 * PAGE - 2, .reg2 = -1), 0xf7, 0x33),
    FXS(64, "bsf eax, [rbx] on a zero source: the destination as the CPU leaves it",
	(.reg = 3, .rel = 1, .val = 3 * PAGE - 4, .reg2 = -1), 0x0f, 0xbc, 0x03),
    FXS(64, "shld [rbx], ax, cl: past 16 bits", (.reg = 1, .val = 20, .reg2 = 3, .rel2 = 1,
	.val2 = 0x40), 0x66, 0x0f, 0xa5, 0x03),
    /* MMX: a faulting store has set TOP = 0 on Intel, tags as they were; AMD: no change */
    FXS(64, "movq [rbx], mm1 to a read-only page", (.reg = 3, .rel = 1, .val = 2 * PAGE + 8,
	.reg2 = -1), 0x0f, 0x7f, 0x0b),
    FXS(32, "movd [ebx], mm0 across into a read-only page", (.reg = 3, .rel = 1,
	.val = 2 * PAGE - 2, .reg2 = -1), 0x0f, 0x7e, 0x03),
    FXS(64, "movq mm3, [rbx] from a missing page", (.reg = 3, .rel = 1, .val = 3 * PAGE + 8,
	.reg2 = -1), 0x0f, 0x6f, 0x1b),
    /* MOVDIR64B, MOVDIRI, CLFLUSH, prefetch */
    FXS(64, "movdir64b rdx, [rbx] across pages", (.reg = 2, .rel = 1, .val = 0x40, .reg2 = 3,
	.rel2 = 1, .val2 = PAGE - 20), 0x66, 0x0f, 0x38, 0xf8, 0x13),
    FXS(64, "movdir64b: source #PF before the destination's alignment #GP", (.reg = 2, .rel = 1,
	.val = 0x41, .reg2 = 3, .rel2 = 1, .val2 = 3 * PAGE + 8), 0x66, 0x0f, 0x38, 0xf8, 0x13),
    FXS(64, "movdir64b: destination on the read-only page", (.reg = 2, .rel = 1,
	.val = 2 * PAGE + 0x80, .reg2 = 3, .rel2 = 1, .val2 = 0x10), 0x66, 0x0f, 0x38, 0xf8, 0x13),
    FXS(32, "movdir64b edx, [ebx]", (.reg = 2, .rel = 1, .val = PAGE + 0xc0, .reg2 = 3,
	.rel2 = 1, .val2 = 0x33), 0x66, 0x0f, 0x38, 0xf8, 0x13),
    FXS(64, "movdiri [rbx], rax across pages", (.reg = 3, .rel = 1, .val = PAGE - 3, .reg2 = -1),
	0x48, 0x0f, 0x38, 0xf9, 0x03),
    FXS(64, "clflush [rbx] on a missing page: #PF", (.reg = 3, .rel = 1, .val = 3 * PAGE + 5,
	.reg2 = -1), 0x0f, 0xae, 0x3b),
    FXS(64, "clflush [rbx] on the read-only page", (.reg = 3, .rel = 1, .val = 2 * PAGE + 5,
	.reg2 = -1), 0x0f, 0xae, 0x3b),
    FXS(64, "prefetcht0 [rbx] on a missing page: nothing", (.reg = 3, .rel = 1,
	.val = 3 * PAGE + 5, .reg2 = -1), 0x0f, 0x18, 0x0b),
    /* FXSAVE/FXRSTOR: the last byte's #PF before the first's, alignment before both */
    FXS(64, "fxsave [rbx] from the read-only page into a missing one", (.reg = 3, .rel = 1,
	.val = 3 * PAGE - 16, .reg2 = -1), 0x0f, 0xae, 0x03),
    FXS(64, "fxsave64 [rbx] across into the read-only page", (.reg = 3, .rel = 1,
	.val = 2 * PAGE - 0x100, .reg2 = -1), 0x48, 0x0f, 0xae, 0x03),
    FXS(32, "fxsave [ebx] into the reservation", (.reg = 3, .rel = 1, .val = 4 * PAGE - 0x40,
	.reg2 = -1), 0x0f, 0xae, 0x03),
    FXS(64, "fxrstor64 [rbx] misaligned near a missing page", (.reg = 3, .rel = 1,
	.val = 3 * PAGE - 0x108, .reg2 = -1), 0x48, 0x0f, 0xae, 0x0b),
    /* gathers and scatters: progress on a fault part-way */
    FXS(64, "vpgatherdd ymm0, [rbx+ymm1*4], ymm2 near the read-only page", (.reg = 3, .rel = 1,
	.val = 2 * PAGE - 40, .reg2 = -1), 0xc4, 0xe2, 0x6d, 0x90, 0x04, 0x8b),
    FXS(64, "vpgatherqd xmm0, [rbx+ymm1*8], xmm2 near a missing page", (.reg = 3, .rel = 1,
	.val = 3 * PAGE - 100, .reg2 = -1), 0xc4, 0xe2, 0x6d, 0x91, 0x04, 0xcb),
    FXS(64, "vgatherdpd zmm0{k1}, [rbx+ymm1*8]", (.reg = 3, .rel = 1, .val = 2 * PAGE - 64,
	.reg2 = -1), 0x62, 0xf2, 0xfd, 0x49, 0x92, 0x04, 0xcb),
    FXS(64, "vpscatterdd [rbx+zmm1*4]{k1}, zmm0 near the read-only page", (.reg = 3, .rel = 1,
	.val = 2 * PAGE - 40, .reg2 = -1), 0x62, 0xf2, 0x7d, 0x49, 0xa0, 0x04, 0x8b),
    FXS(32, "vpscatterqq [ebx+ymm1*8]{k2}, ymm0", (.reg = 3, .rel = 1, .val = PAGE + 8,
	.reg2 = -1), 0x62, 0xf2, 0xfd, 0x2a, 0xa1, 0x04, 0xcb),
    /* FNSTENV/FLDENV: CR2 across into a faulting page */
    FXS(64, "fnstenv [rbx] 9 bytes before the read-only page: CR2 = last byte", (.reg = 3,
	.rel = 1, .val = 2 * PAGE - 9, .reg2 = -1), 0xd9, 0x33),
    FXS(64, "fnstenv [rbx] 2 bytes before the read-only page: CR2 = page", (.reg = 3, .rel = 1,
	.val = 2 * PAGE - 2, .reg2 = -1), 0xd9, 0x33),
    FXS(64, "fldenv [rbx] 9 bytes before a missing page", (.reg = 3, .rel = 1,
	.val = 3 * PAGE - 9, .reg2 = -1), 0xd9, 0x23),
    FXS(32, "fnstenv m14 [ebx] across into the read-only page", (.reg = 3, .rel = 1,
	.val = 2 * PAGE - 5, .reg2 = -1), 0x66, 0xd9, 0x33),
    FXS(64, "fldenv [rbx]", (.reg = 3, .rel = 1, .val = 0x40, .reg2 = -1), 0xd9, 0x23),
    /* x87 */
    FXS(64, "fstp m32 to a read-only page", (.reg = 3, .rel = 1, .val = 2 * PAGE + 16, .reg2 = -1),
	0xd9, 0x1b),
    FXS(64, "fistp m64 to a read-only page", (.reg = 3, .rel = 1, .val = 2 * PAGE + 16, .reg2 = -1),
	0xdf, 0x3b),
    FXS(64, "fstp m80 split at 8 bytes onto a read-only page: Intel stores the first 8",
	(.reg = 2, .rel = 1, .val = 2 * PAGE - 8, .reg2 = -1), 0xdb, 0x3a),
    FXS(64, "fstp m80 split at 4 bytes onto a read-only page: nothing stored",
	(.reg = 2, .rel = 1, .val = 2 * PAGE - 4, .reg2 = -1), 0xdb, 0x3a),
    FXS(64, "fld m64: FOP/FDP", (.reg = 3, .rel = 1, .val = 16, .reg2 = -1), 0xdd, 0x03),
    /* SIMD classes run in a host stub (random vector contents and MXCSR for each run) */
    FXS(64, "vaddps zmm1{k1}, zmm2, [rbx]{1to16} next to a PROT_NONE page",
	(.reg = 3, .rel = 1, .val = 3 * PAGE - 4, .reg2 = -1), 0x62, 0xf1, 0x6c, 0x59, 0x58, 0x0b),
    FXS(64, "vaddps zmm1{k1}, zmm2, [rbx] half on a PROT_NONE page: fault suppression",
	(.reg = 3, .rel = 1, .val = 3 * PAGE - 32, .reg2 = -1), 0x62, 0xf1, 0x6c, 0x49, 0x58, 0x0b),
    FXS(64, "vaddps zmm1{k1}, zmm2, [rbx]{1to16}, all masked: no access",
	(.reg = 3, .rel = 1, .val = 3 * PAGE, .reg2 = -1, .kzero = 1), 0x62, 0xf1, 0x6c, 0x59, 0x58,
	0x0b),
    FXS(64, "vpshufb zmm1{k1}, zmm2, [rbx] half on a PROT_NONE page: no suppression",
	(.reg = 3, .rel = 1, .val = 3 * PAGE - 32, .reg2 = -1), 0x62, 0xf2, 0x6d, 0x49, 0x00, 0x0b),
    FXS(64, "vcmpps k2{k1}, zmm1, [rbx], 1", (.reg = 3, .rel = 1, .val = 64, .reg2 = -1), 0x62,
	0xf1, 0x74, 0x49, 0xc2, 0x13, 0x01),
    FXS(64, "cvtsd2si rax, [rbx]", (.reg = 3, .rel = 1, .val = 200, .reg2 = -1), 0xf2, 0x48, 0x0f,
	0x2d, 0x03),
    FXS(64, "vcvtsi2sd xmm1, xmm2, qword [rbx]", (.reg = 3, .rel = 1, .val = 200, .reg2 = -1), 0x62,
	0xf1, 0xef, 0x08, 0x2a, 0x0b),
    FXS(64, "pcmpestri xmm1, [rbx], 0x0c", (.reg = 3, .rel = 1, .val = 100, .reg2 = -1), 0x66, 0x0f,
	0x3a, 0x61, 0x0b, 0x0c),
    FXS(64, "ptest xmm1, [rbx]", (.reg = 3, .rel = 1, .val = 128, .reg2 = -1), 0x66, 0x0f, 0x38,
	0x17, 0x0b),
    FXS(64, "vpmovzxbd zmm1{k1}{z}, [rbx]", (.reg = 3, .rel = 1, .val = 2 * PAGE - 8, .reg2 = -1),
	0x62, 0xf2, 0x7d, 0xc9, 0x31, 0x0b),
    FXS(64, "mulps xmm1, [rbx]", (.reg = 3, .rel = 1, .val = 64, .reg2 = -1), 0x0f, 0x59, 0x0b),
    FXS(64, "addps xmm1, [rbx] misaligned: #GP", (.reg = 3, .rel = 1, .val = 68, .reg2 = -1), 0x0f,
	0x58, 0x0b),
    FXS(32, "32-bit: vaddps ymm1, ymm2, [ebx]", (.reg = 3, .rel = 1, .val = 96, .reg2 = -1), 0xc5,
	0xec, 0x58, 0x0b),
    FXS(32, "32-bit: EVEX.W1 vcvtsi2ss is 32-bit", (.reg = 3, .rel = 1, .val = 96, .reg2 = -1),
	0x62, 0xf1, 0xee, 0x08, 0x2a, 0x0b),
};

static void fixed_case(struct tcase *c, const struct fixed *f)
{
	struct xg_emu_x86_exception e;
	int ok;

	memset(c->bytes, 0xcc, sizeof(c->bytes));
	memcpy(c->bytes, f->bytes, f->len);
	c->mode = f->mode;
	c->len = f->len;
	ok = xg_emu_x86_decode(c->bytes, 15, f->mode, 0, &c->in, &e, NULL) == XG_EMU_X86_OK;
	make_state(c, ok);
	if (ok && c->in.vsib)
		gen_vsib(c); /* indices near the aimed address */
	if (f->reg >= 0)
		c->gpr[f->reg] = f->val + (f->rel ? win() : 0);
	if (f->reg2 >= 0)
		c->gpr[f->reg2] = f->val2 + (f->rel2 ? win() : 0);
	if (f->kzero)
		memset(c->xs + XG_EMU_X86_XS_OPMASK + 8, 0, 56);
	if (f->mode == 16 && f->ds16_limit) {
		struct seg16 *ds = &c->s16[XG_EMU_X86_DS];
		ds->base = win() - 0x8000;
		ds->limit = f->ds16_limit;
		ds->kind = S16_RW;
		ds->db = ds->g = 0;
	}
}

static void load_fake(const struct tcase *c)
{
	struct xg_emu_x86_regs *r = &F.r;

	memset(r, 0, sizeof(*r));
	memcpy(r->gpr, c->gpr, sizeof(r->gpr));
	r->rip = F.rip0;
	r->rflags = c->rflags;
	r->cr0 = 0x80050033;
	r->cr4 = (1u << 5) | (1u << 9) | (1u << 10) | (1u << 18) | (M.la57 ? 1u << 12 : 0);
	r->efer = 0x500 | (1u << 0);
	r->xcr0 = M.xcr0;
	if (c->no_osxsave) {
		r->xcr0 = 1;
		r->cr4 &= ~(1u << 18);
	}
	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++) {
		struct xg_emu_x86_segment *s = &r->seg[i];
		s->limit = 0xffffffff, s->present = 1, s->type = 3, s->s = 1, s->dpl = 3;
		s->db = 1, s->g = 1, s->selector = 0x2b;
	}
	/* the selectors a 64-bit Linux process runs with (and xg_rnd_enter* load) */
	r->seg[XG_EMU_X86_DS].selector = r->seg[XG_EMU_X86_ES].selector = c->mode == 64 ? 0 : 0x2b;
	r->seg[XG_EMU_X86_FS].selector = M.fs_sel;
	r->seg[XG_EMU_X86_GS].selector = M.gs_sel;
	/* in compatibility mode a null FS/GS is an unusable segment: #GP(0) on access */
	if (c->mode != 64) {
		r->seg[XG_EMU_X86_FS].unusable = !M.fs_sel;
		r->seg[XG_EMU_X86_GS].unusable = !M.gs_sel;
	}
	r->seg[XG_EMU_X86_CS].type = 0xb;
	r->seg[XG_EMU_X86_CS].selector = c->mode == 64 ? 0x33 : 0x23;
	r->seg[XG_EMU_X86_CS].l = c->mode == 64;
	r->seg[XG_EMU_X86_CS].db = c->mode != 64;
	r->seg[XG_EMU_X86_FS].base = c->fsbase;
	r->seg[XG_EMU_X86_GS].base = c->gsbase;
	if (c->mode == 16) {
		static const uint8_t type[] = {
		    [S16_RW] = 3, [S16_RW_DOWN] = 7, [S16_RO] = 1, [S16_CODE] = 0xb};
		for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++) {
			struct xg_emu_x86_segment *s = &r->seg[i];
			s->base = c->s16[i].base;
			s->limit = c->s16[i].limit;
			s->type = type[c->s16[i].kind];
			s->db = c->s16[i].db;
			s->g = c->s16[i].g;
			s->l = 0;
			s->unusable = 0;
			s->selector = (uint16_t)(((i + 1) << 3) | 7);
		}
		r->rip = F.rip0;
	}
	r->vendor = M.vendor;
	memcpy(F.xs, c->xs, sizeof(F.xs));
	memcpy(F.mem, M.init, sizeof(F.mem));
	memcpy(F.code, c->bytes, sizeof(c->bytes));
	F.injected = 0;
	F.unsafe = 0;
}

static struct native_in nin;

/* The LDT entries of 16-bit mode: entry 1 + i for segment register i; 0 or -errno. */
static int write_ldt16(const struct tcase *c)
{
	for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++) {
		const struct seg16 *s = &c->s16[i];
		struct user_desc d;
		memset(&d, 0, sizeof(d));
		d.entry_number = i + 1;
		d.base_addr = (unsigned)s->base;
		d.limit = s->g ? s->limit >> 12 : s->limit;
		d.limit_in_pages = s->g;
		d.seg_32bit = s->db;
		d.contents = s->kind == S16_CODE      ? MODIFY_LDT_CONTENTS_CODE
			     : s->kind == S16_RW_DOWN ? MODIFY_LDT_CONTENTS_STACK
						      : MODIFY_LDT_CONTENTS_DATA;
		d.read_exec_only = s->kind == S16_RO;
		d.useable = 1;
		if (syscall(SYS_modify_ldt, 1, &d, sizeof(d)))
			return -1;
	}
	return 0;
}

/* 16-bit protected mode: a 16-bit code segment of the LDT runs on the CPU, at CPL 3. */
static void run_native16(const struct tcase *c)
{
	struct probe_in *fr = &fr16;
	static uint16_t sel[4];
	static const uint8_t order[15] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

	if (write_ldt16(c))
		bail("modify_ldt: %m");
	for (unsigned i = 0; i < 15; i++)
		fr->pop[i] = c->gpr[order[i]];
	fr->rip = c->ip0;
	fr->cs = ((XG_EMU_X86_CS + 1) << 3) | 7;
	fr->rflags = c->rflags;
	fr->rsp = c->gpr[4];
	fr->ss = ((XG_EMU_X86_SS + 1) << 3) | 7;
	fr->fsbase = c->s16[XG_EMU_X86_FS].base;
	fr->gsbase = c->s16[XG_EMU_X86_GS].base;
	sel[0] = ((XG_EMU_X86_DS + 1) << 3) | 7;
	sel[1] = ((XG_EMU_X86_ES + 1) << 3) | 7;
	sel[2] = ((XG_EMU_X86_FS + 1) << 3) | 7;
	sel[3] = ((XG_EMU_X86_GS + 1) << 3) | 7;
	if (!sigsetjmp(back, 0))
		xg_rnd_enter16(&nin, fr, sel);
}

static void run_native(const struct tcase *c)
{
	memcpy(M.data, M.init[0], 2 * PAGE); /* pages 2 and 3 never change */
	memset(M.code, 0xcc, 64);
	memcpy(M.code, c->bytes, c->len);
	for (unsigned i = 0; i < 16; i++)
		nin.pop[i] = c->gpr[pop_order[i]];
	nin.rflags = c->rflags;
	nin.fsbase = c->fsbase;
	nin.gsbase = c->gsbase;
	nin.rfbm = M.rfbm;
	memcpy(nin.xs, c->xs, sizeof(nin.xs));
	xg_rnd_jmp64 = (uint64_t)(uintptr_t)M.code;
	xg_rnd_far.off = (uint32_t)(uintptr_t)M.code;
	xg_rnd_far.sel = 0x23;
	if (c->mode == 16)
		run_native16(c);
	else if (!sigsetjmp(back, 0)) {
		if (c->mode == 64)
			xg_rnd_enter64(&nin);
		else
			xg_rnd_enter32(&nin);
	}
}

/* ---- comparison ---- */

static uint64_t seed;

struct stats {
	long cases, completed, faults[32], not_handled, unsafe, nogen, mismatches;
	long fixed_not_handled; /* of not_handled: fixed cases (each is meant to run) */
	long nh_mxcsr;		/* of not_handled: an unmasked overflow/underflow's PE */
	long beyond_cpuid;	/* MOVDIRI/MOVDIR64B the CPU ran though its CPUID hides them */
};

#define NCLASS 512
static struct {
	char key[64];
	long n;
} classes[NCLASS];
static unsigned nclasses;

/* cases run, by mode and instruction name: what each class was judged on */
static struct {
	char name[32];
	long n[2], done[2];
} tally[NCLASS];
static unsigned ntally;

static void note_tally(const struct tcase *c, int completed)
{
	const char *n = c->in.name ? c->in.name : "?";
	unsigned i, m = c->mode == 32;
	char x87[16];
	if (!strcmp(n, "x87")) { /* one class per escape and ModRM.reg */
		snprintf(x87, sizeof(x87), "x87-%02x/%u", c->in.opcode, (c->in.modrm >> 3) & 7);
		n = x87;
	}
	for (i = 0; i < ntally && strcmp(tally[i].name, n); i++)
		;
	if (i == ntally) {
		if (ntally == NCLASS)
			return;
		snprintf(tally[ntally++].name, sizeof(tally[0].name), "%s", n);
	}
	tally[i].n[m]++;
	tally[i].done[m] += completed;
}

static void print_tally(void)
{
	char line[256];
	size_t k = 0;
	line[0] = 0;
	diag("cases by class (name: 64-bit run/completed, 32-bit run/completed):");
	for (unsigned i = 0; i < ntally; i++) {
		k += (size_t)snprintf(line + k, sizeof(line) - k, " %s %ld/%ld %ld/%ld;",
				      tally[i].name, tally[i].n[0], tally[i].done[0], tally[i].n[1],
				      tally[i].done[1]);
		if (k > 150 || i + 1 == ntally) {
			diag(" %s", line);
			k = 0;
			line[0] = 0;
		}
	}
}

static int note_class(const char *key)
{
	for (unsigned i = 0; i < nclasses; i++)
		if (!strcmp(classes[i].key, key))
			return (int)++classes[i].n;
	if (nclasses < NCLASS) {
		snprintf(classes[nclasses].key, sizeof(classes[nclasses].key), "%s", key);
		classes[nclasses++].n = 1;
	}
	return 1;
}

static void hexs(char *o, size_t on, const uint8_t *b, unsigned n)
{
	size_t k = 0;
	o[0] = 0;
	for (unsigned i = 0; i < n && k + 4 < on; i++)
		k += (size_t)snprintf(o + k, on - k, "%s%02x", i ? " " : "", b[i]);
}

static const char *const gname[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
				      "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

/* flags the SDM leaves undefined after the instruction */
static uint64_t undefined_flags(const struct xg_emu_x86_insn *in)
{
	const char *n = in->name ? in->name : "";
	if (!strncmp(n, "bt", 2))
		return 0x8d4; /* OF SF AF PF */
	if (!strcmp(n, "and") || !strcmp(n, "or") || !strcmp(n, "xor") || !strcmp(n, "test"))
		return 0x10; /* AF */
	return 0;
}

static int masked_access(const struct xg_emu_x86_insn *in)
{
	const char *n = in->name ? in->name : "";
	return (in->enc == XG_EMU_X86_ENC_EVEX && in->aaa) || strstr(n, "maskmov");
}

static int trap_vector(int trapno)
{
	return trapno;
}

/*
 * MOVDIRI or MOVDIR64B that the CPU ran (completed, or faulted on its access) though its
 * CPUID does not report it: a hypervisor hides the feature (kvm_pvm on the AMD EPYC does)
 * but cannot stop the silicon. The emulator follows the guest's CPUID alone for these (it
 * emulates them in C) - SDM Vol. 2 MOVDIRI, MOVDIR64B: #UD if CPUID.07H.0H:ECX[27] (or [28])
 * is 0 - and this oracle gives it none (ops->cpuid), so the host's, as a guest's CPUID that
 * KVM builds from the host's tells the guest; running it anyway is not architectural. Not
 * compared, but counted (and printed), and only where the emulator raised #UD and changed
 * nothing.
 */
static int beyond_cpuid(const struct tcase *c)
{
	const char *n = c->in.name ? c->in.name : "";
	unsigned bit = !strcmp(n, "movdiri") ? 1 : !strcmp(n, "movdir64b") ? 2 : 0;

	return (M.movdir_hidden & bit) && !(nout.trapno == 6) && F.injected &&
	       F.exc.vector == XG_EMU_X86_UD && F.r.rip == F.rip0 &&
	       !memcmp(F.r.gpr, c->gpr, sizeof(F.r.gpr)) && !memcmp(F.mem, M.init, sizeof(F.mem));
}

/* Compare; on a difference print it and return 1. */
static int compare(const struct tcase *c, long idx, int verbose, struct stats *st)
{
	char why[512], b[64];
	size_t k = 0;
	int native_fault = nout.trapno != 3, emu_fault = F.injected;
	uint64_t gmask = c->mode == 64 ? ~0ull : 0xffffffffull;
	uint64_t fmask = 0xcd5 & ~undefined_flags(&c->in);
	uint8_t a[XG_EMU_X86_XSAVE_SIZE], e[XG_EMU_X86_XSAVE_SIZE];
	const char *what = NULL;

	if (beyond_cpuid(c)) {
		st->beyond_cpuid++;
		return 0;
	}
	why[0] = 0;
#define WHY(...)                                                                                   \
	(k += (size_t)snprintf(why + k, k < sizeof(why) ? sizeof(why) - k : 0, __VA_ARGS__))
	if (native_fault != emu_fault ||
	    (native_fault && (trap_vector(nout.trapno) != F.exc.vector))) {
		what = "fault";
		WHY(" fault: cpu %s%d err %#llx cr2 %#llx, emulator %s%d err %#x cr2 %#llx;",
		    native_fault ? "#" : "none/", native_fault ? nout.trapno : 0,
		    (unsigned long long)nout.err, (unsigned long long)nout.cr2,
		    emu_fault ? "#" : "none/", emu_fault ? F.exc.vector : 0, F.exc.error,
		    (unsigned long long)F.exc.cr2);
	} else if (native_fault) {
		int with_err = F.exc.vector == 13 || F.exc.vector == 12 || F.exc.vector == 14;
		uint64_t emask = 0xffff, cmask = ~0ull;
		/* the fake ops cannot know which kernel pages are present: #PF in the kernel
		 * half has P = 1 on the CPU */
		if (F.exc.vector == 14 && nout.cr2 >= 0xffff800000000000ull)
			emask &= ~1ull;
		/* a masked vector access (EVEX opmask, vmaskmov) faults on some enabled element
		 * of the page; which one the CPU reports in CR2 is its own choice */
		if (masked_access(&c->in))
			cmask = ~0xfffull;
		if (with_err && (nout.err & emask) != (F.exc.error & emask)) {
			what = "error code";
			WHY(" error code: cpu %#llx emulator %#x;", (unsigned long long)nout.err,
			    F.exc.error);
		}
		if (F.exc.vector == 14 && (nout.cr2 & cmask) != (F.exc.cr2 & cmask)) {
			what = "cr2";
			WHY(" cr2: cpu %#llx emulator %#llx;", (unsigned long long)nout.cr2,
			    (unsigned long long)F.exc.cr2);
		}
	}
	{
		uint64_t want_rip = native_fault ? nout.rip : nout.rip - 1;
		uint64_t emu_rip = F.r.rip;
		if ((want_rip & gmask) != (emu_rip & gmask)) {
			what = what ? what : "rip";
			WHY(" rip: cpu +%lld emulator +%lld;", (long long)(want_rip - F.rip0),
			    (long long)(emu_rip - F.rip0));
		}
	}
	for (unsigned i = 0; i < (c->mode == 64 ? 16u : 8u); i++)
		if ((nout.gpr[i] & gmask) != (F.r.gpr[i] & gmask)) {
			what = what ? what : "gpr";
			WHY(" %s: init %#llx cpu %#llx emulator %#llx;", gname[i],
			    (unsigned long long)c->gpr[i], (unsigned long long)nout.gpr[i],
			    (unsigned long long)F.r.gpr[i]);
		}
	if ((nout.rflags & fmask) != (F.r.rflags & fmask)) {
		what = what ? what : "rflags";
		WHY(" rflags: init %#llx cpu %#llx emulator %#llx;", (unsigned long long)c->rflags,
		    (unsigned long long)nout.rflags, (unsigned long long)F.r.rflags);
	}
	memcpy(a, nout.xs, sizeof(a));
	memcpy(e, F.xs, sizeof(e));
	normalize(a);
	normalize(e);
	{
		const struct { /* not static: the AVX-512 offsets are the host's, read at run time */
			unsigned off, len;
			const char *name;
		} parts[] = {
		    {XG_EMU_X86_XS_FCW, 4, "fcw/fsw"},	 {XG_EMU_X86_XS_FTW, 1, "ftw"},
		    {XG_EMU_X86_XS_FOP, 2, "fop"},	 {XG_EMU_X86_XS_FIP, 8, "fip"},
		    {XG_EMU_X86_XS_FDP, 8, "fdp"},	 {XG_EMU_X86_XS_MXCSR, 4, "mxcsr"},
		    {XG_EMU_X86_XS_ST0, 128, "st"},	 {XG_EMU_X86_XS_XMM0, 256, "xmm"},
		    {XG_EMU_X86_XS_YMMH, 256, "ymm_hi"}, {XG_EMU_X86_XS_OPMASK, 64, "k"},
		    {XG_EMU_X86_XS_ZMMH, 512, "zmm_hi"}, {XG_EMU_X86_XS_HI16ZMM, 1024, "zmm16-31"},
		};
		for (unsigned i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			unsigned off = parts[i].off, len = parts[i].len;
			if (off == XG_EMU_X86_XS_ST0) {
				/* ST(i) is 80 bits in a 16-byte slot */
				int d = 0;
				for (unsigned s = 0; s < 8; s++)
					d |= memcmp(a + off + 16 * s, e + off + 16 * s, 10) != 0;
				if (!d)
					continue;
			} else if (!memcmp(a + off, e + off, len)) {
				continue;
			}
			for (unsigned j = 0; j < len; j++)
				if (a[off + j] != e[off + j]) {
					WHY(" %s differs at byte %u: cpu %02x emulator %02x;",
					    parts[i].name, j, a[off + j], e[off + j]);
					break;
				}
			what = what ? what : parts[i].name;
		}
	}
	for (unsigned p = 0; p < NPAGES - 1; p++) {
		const uint8_t *nat = M.data + p * PAGE;
		if (memcmp(nat, F.mem[p], PAGE)) {
			for (unsigned j = 0; j < PAGE; j++)
				if (nat[j] != F.mem[p][j]) {
					WHY(" memory differs at window+%#x: init %02x cpu %02x "
					    "emulator %02x;",
					    (unsigned)(p * PAGE + j), M.init[p][j], nat[j],
					    F.mem[p][j]);
					break;
				}
			what = what ? what : "memory";
		}
	}
	if (!what && !verbose)
		return 0;
	hexs(b, sizeof(b), c->bytes, c->len);
	if (what) {
		char key[64];
		int n;
		snprintf(key, sizeof(key), "%u-bit %s: %s", c->mode, c->in.name ? c->in.name : "?",
			 what);
		n = note_class(key);
		st->mismatches++;
		if (n > 3 && !verbose)
			return 1;
	}
	diag("%s case %ld (%u-bit) [%s] %s:%s", what ? "MISMATCH" : "ok", idx, c->mode, b,
	     c->in.name ? c->in.name : "?", why[0] ? why : " identical");
	if (what || verbose) {
		char line[400];
		size_t l = 0;
		for (unsigned i = 0; i < 16; i++)
			l += (size_t)snprintf(line + l, sizeof(line) - l, " %s=%llx", gname[i],
					      (unsigned long long)c->gpr[i]);
		diag("  init:%s rflags=%llx window=%#llx fs=%#llx gs=%#llx", line,
		     (unsigned long long)c->rflags, (unsigned long long)win(),
		     (unsigned long long)c->fsbase, (unsigned long long)c->gsbase);
		if (c->mode == 16) {
			static const char *const sn[] = {"es", "cs", "ss", "ds", "fs", "gs"};
			static const char *const kn[] = {"rw", "rw-down", "ro", "code"};
			l = 0;
			for (unsigned i = 0; i < XG_EMU_X86_NSEG; i++)
				l += (size_t)snprintf(
				    line + l, sizeof(line) - l, " %s=window-%#llx/%#x/%s%s", sn[i],
				    (unsigned long long)(win() - c->s16[i].base), c->s16[i].limit,
				    kn[c->s16[i].kind], c->s16[i].db ? "/B" : "");
			diag("  16-bit segments (base/limit/kind):%s ip=%#x", line, c->ip0);
		}
		diag("  rerun: XG_SEED=%llu XG_CASE=%ld XG_MODE=%u", (unsigned long long)seed, idx,
		     c->mode);
	}
	return what != NULL;
}

/* ---- the run ---- */

static void seed_case(long idx, unsigned mode)
{
	rs = seed * 0x100000001b3ull + (uint64_t)idx * 2 + (mode == 32) +
	     (mode == 16 ? 1ull << 40 : 0);
	rnd();
}

/* The cases of one mode; fixed cases come first, FIXED_RUNS random states each. */
#define FIXED_RUNS 40
#define NFIXED	   ((long)(sizeof(fixed) / sizeof(fixed[0])))

static void run_mode(unsigned mode, long ncases, long only, struct stats *st)
{
	static struct tcase c;
	struct xg_emu_x86_result res;

	for (long i = only >= 0 ? only : -NFIXED * FIXED_RUNS; i < (only >= 0 ? only + 1 : ncases);
	     i++) {
		const struct fixed *fx = i < 0 ? &fixed[(-i - 1) / FIXED_RUNS] : NULL;
		if (fx && fx->mode != mode)
			continue;
		seed_case(i, mode);
		for (unsigned p = 0; p < 2; p++)
			for (unsigned j = 0; j < PAGE; j += 8) {
				uint64_t v = rn(4) ? rnd() : rnd_val();
				memcpy(&M.init[p][j], &v, 8);
			}
		F.code_la = (uint64_t)(uintptr_t)M.code;
		if (fx) {
			fixed_case(&c, fx);
		} else if (make_case(&c, mode)) {
			st->nogen++;
			continue;
		}
		F.rip0 = mode == 16 ? c.ip0 : F.code_la;
		load_fake(&c);
		run_emu(c.bytes, c.len, &res);
		/* a long REP string instruction stops after a batch with RIP on it, as if
		 * interrupted; the VMM runs it again, and so does this */
		for (unsigned again = 0; again < 4096 && res.status == XG_EMU_X86_OK &&
					 F.r.rip == F.rip0 && (c.in.flags & (1ull << 18));
		     again++)
			run_emu(c.bytes, c.len, &res);
		if (res.status == XG_EMU_X86_NOT_HANDLED || res.status == XG_EMU_X86_ERROR) {
			st->not_handled++;
			/* the one not-handled case that depends on the state, not the bytes: the
			 * precision flag under an unmasked overflow/underflow (xg_emu_x86_stub.c)
			 */
			if (strstr(res.reason, "unmasked overflow/underflow"))
				st->nh_mxcsr++;
			else if (fx)
				st->fixed_not_handled++;
			if (only >= 0 || st->not_handled < 4 || fx) {
				char b[64];
				hexs(b, sizeof(b), c.bytes, c.len);
				diag("not handled: [%s] %s", b, res.reason);
			}
			continue;
		}
		if (F.unsafe) {
			st->unsafe++;
			continue;
		}
		run_native(&c);
		st->cases++;
		count_simd(&c);
		if (nout.trapno == 3)
			st->completed++;
		else
			st->faults[nout.trapno & 31]++;
		note_tally(&c, nout.trapno == 3);
		compare(&c, i, only >= 0, st);
	}
}

static uint64_t xgetbv0(void)
{
	uint32_t a, d;
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	return ((uint64_t)d << 32) | a;
}

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* Does the kernel run with 5-level paging? A user access to 1 << 47 is #GP with 4 levels. */
static int probe_la57(void)
{
	static struct tcase c;
	memset(&c, 0, sizeof(c));
	c.mode = 64;
	c.bytes[0] = 0x8b, c.bytes[1] = 0x03; /* mov (%rbx), %eax */
	c.len = 2;
	memset(c.bytes + 2, 0xcc, 14);
	c.gpr[3] = 1ull << 47;
	c.gpr[4] = win() + PAGE;
	c.rflags = 0x202;
	c.fsbase = host_fsbase;
	rnd_xsave(c.xs);
	run_native(&c);
	return nout.trapno == 14;
}

int main(void)
{
	unsigned r[4];
	const char *e;
	long ncases = 30000, only = -1;
	unsigned modes = 7;
	struct stats st64 = {0}, st32 = {0}, st16 = {0};
	int ldt_errno = 0;

#ifdef XG_UNDER_TSAN
	skip_all("%s", XG_PROBE_NO_TSAN);
#endif
	cpuid(0, 0, r);
	if (!(getauxval(AT_HWCAP2) & 2))
		skip_all("no FSGSBASE for user space (HWCAP2)");
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 27)))
		skip_all("no OSXSAVE");
	M.xcr0 = xgetbv0();
	M.rfbm = M.xcr0 & 0xe7;
	M.avx = (M.rfbm & 6) == 6;
	M.avx512 = (M.rfbm & 0xe6) == 0xe6;
	/* the standard XSAVE offsets the emulator's layout assumes (CPUID leaf 0DH) */
	if (M.avx) {
		cpuid(0xd, 2, r);
		if (r[1] != XG_EMU_X86_XS_YMMH)
			skip_all("AVX state at XSAVE offset %u, not %u", r[1], XG_EMU_X86_XS_YMMH);
	}
	if (M.avx512) {
		cpuid(0xd, 5, r);
		if (r[1] != XG_EMU_X86_XS_OPMASK)
			skip_all("opmask state at XSAVE offset %u", r[1]);
	}
	M.vendor = xg_emu_x86_host_vendor();
	cpuid(7, 0, r);
	M.movdir_hidden = (~r[2] >> 27) & 3;

	M.res = mmap(NULL, RES_SIZE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT | MAP_NORESERVE, -1, 0);
	M.code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (M.res == MAP_FAILED || M.code == MAP_FAILED)
		skip_all("cannot map memory below 4 GiB (MAP_32BIT)");
	M.data = M.res + DATA_OFF;
	/* pages 0 and 1 read/write, page 2 read-only (its contents made once), page 3 none */
	if (mprotect(M.data, 3 * PAGE, PROT_READ | PROT_WRITE))
		bail("mprotect: %m");

	if (xg_probe_signals(on_signal))
		bail("sigaltstack: %m");
	__asm__ volatile("rdfsbase %0" : "=r"(host_fsbase));
	__asm__ volatile("rdgsbase %0" : "=r"(host_gsbase));
	__asm__ volatile("mov %%fs, %0" : "=r"(M.fs_sel));
	__asm__ volatile("mov %%gs, %0" : "=r"(M.gs_sel));
	host_fssel = M.fs_sel;
	host_gssel = M.gs_sel;

	/* the suite's fixed seed, or XG_SEED's (oracle_rand.h); printed below */
	seed = xg_oracle_seed();
	if ((e = getenv("XG_CASES")))
		ncases = strtol(e, NULL, 0);
	if ((e = getenv("XG_CASE")))
		only = strtol(e, NULL, 0);
	if ((e = getenv("XG_SIMD")))
		simd_only = atoi(e);
	if ((e = getenv("XG_MODE")))
		modes = atoi(e) == 64 ? 1 : atoi(e) == 32 ? 2 : atoi(e) == 16 ? 4 : 7;
	seed_case(-1, 64);
	for (unsigned j = 0; j < PAGE; j += 8) {
		uint64_t v = rn(4) ? rnd() : rnd_val();
		memcpy(&M.init[2][j], &v, 8);
	}
	sprinkle(M.init[2], PAGE, 300); /* special FP values for the SIMD classes */
	memcpy(M.data + 2 * PAGE, M.init[2], PAGE);
	if (mprotect(M.data + 2 * PAGE, PAGE, PROT_READ))
		bail("mprotect: %m");

	M.la57 = probe_la57();
	{
		unsigned char v[16];
		M.top_free = 1;
		for (uint64_t a = 0xffff0000ull; a < 0x100000000ull; a += PAGE)
			if (mincore((void *)(uintptr_t)a, PAGE, v) == 0)
				M.top_free = 0;
	}
	/* the opcodes in the coverage do not depend on the seed */
	rs = XG_SUITE_SEED;
	find_candidates();
	diag("seed %llu (XG_SEED to reproduce); judged by %s (%s), XCR0 %#llx, %s paging; "
	     "candidate opcodes: %u legacy, %u VEX, %u EVEX",
	     (unsigned long long)seed, xg_emu_x86_vendor_name(M.vendor), "host CPU",
	     (unsigned long long)M.xcr0, M.la57 ? "5-level" : "4-level", ncand[0], ncand[1],
	     ncand[2]);

	if (modes & 1)
		run_mode(64, ncases, only, &st64);
	if (modes & 2)
		run_mode(32, ncases, only, &st32);
	/* 16-bit protected mode needs a 16-bit code segment in the LDT (modify_ldt; kernels
	 * built without CONFIG_MODIFY_LDT_SYSCALL have none) */
	{
		static struct tcase t;
		memset(&t, 0, sizeof(t));
		t.mode = 16;
		make_segs16(&t);
		M.ldt = write_ldt16(&t) == 0;
		ldt_errno = errno;
	}
	if ((modes & 4) && M.ldt)
		run_mode(16, ncases, only, &st16);
	print_tally();
	for (unsigned i = 0; i < nclasses; i++)
		diag("class %-50s %ld", classes[i].key, classes[i].n);
	print_simd_counts();
	for (unsigned m = 0; m < 3; m++) {
		struct stats *s = m == 2 ? &st16 : m ? &st32 : &st64;
		unsigned bits = m == 2 ? 16 : m ? 32 : 64;
		char f[256];
		size_t k = 0;
		if (!(modes & (1u << m)))
			continue;
		if (m == 2 && !M.ldt) {
			skip(2,
			     "16-bit protected mode: modify_ldt cannot make a 16-bit code segment "
			     "here (%s)",
			     strerror(ldt_errno));
			continue;
		}
		f[0] = 0;
		for (unsigned v = 0; v < 32; v++)
			if (s->faults[v])
				k += (size_t)snprintf(f + k, sizeof(f) - k, " #%u:%ld", v,
						      s->faults[v]);
		diag("%u-bit: %ld cases run natively (%ld completed, faults%s), %ld not handled "
		     "(%ld of them for an unmasked overflow/underflow's precision flag), %ld "
		     "skipped "
		     "as unsafe, %ld not generated",
		     bits, s->cases, s->completed, f, s->not_handled, s->nh_mxcsr, s->unsafe,
		     s->nogen);
		ok(s->fixed_not_handled == 0, "%u-bit: every fixed case is handled (%ld not)",
		   bits, s->fixed_not_handled);
		if (s->beyond_cpuid)
			diag(
			    "%u-bit: %ld MOVDIRI/MOVDIR64B cases the CPU ran though its CPUID "
			    "hides them (CPUID.7.0:ECX[27]/[28] clear): not compared, the emulator "
			    "follows CPUID and raised #UD with nothing changed",
			    bits, s->beyond_cpuid);
		ok(s->mismatches == 0,
		   "%u-bit: %ld random cases, %ld mismatches against the %s CPU (%ld counted "
		   "exceptions: MOVDIRI/MOVDIR64B beyond CPUID)",
		   bits, s->cases, s->mismatches, xg_emu_x86_vendor_name(M.vendor),
		   s->beyond_cpuid);
	}
	ok(F.lend_stale == 0, "no emulation left a lent image changed and not discarded (%ld)",
	   F.lend_stale);
#ifdef EMU_LEND
	is_int(F.lend_copies, 0, "lending: no get_xsave and no set_xsave of another image");
#endif
	return done_testing();
}
