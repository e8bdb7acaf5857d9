/*
 * t_emu_stub.c - SSE/AVX/AVX-512 instructions with a memory operand on MMIO, run in a host
 * stub (core/emu/x86/xg_emu_x86_stub.c): the device reads the emulator makes (one per
 * operand, one element for a broadcast, none when every element is masked off), the results
 * against the same arithmetic in C, the guest's CPUID (#UD), SIMD floating-point exceptions
 * (#XM, #UD without CR4.OSXMMEXCPT), alignment, GPR results, W^X of the stub pages and vCPU
 * threads emulating at once. The random CPU oracle (t_emu_random) judges the classes at
 * large; this shows the mechanism on a fake vCPU whose memory is a device.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "xg_emu_x86.h"

#define BASE 0x10000ull /* two pages of "MMIO" */

struct fake {
	struct xg_emu_x86_regs r;
	uint8_t xs[XG_EMU_X86_XSAVE_SIZE] __attribute__((aligned(64)));
	uint8_t mmio[8192];
	int reads, read_bytes, injected, no_avx;
	int sse4a; /* the guest's SSE4A (CPUID 80000001H:ECX[6]): 1 on, -1 off, 0 the host's */
	struct xg_emu_x86_exception exc;
};

static int g_regs(void *o, struct xg_emu_x86_regs *r)
{
	*r = ((struct fake *)o)->r;
	return 0;
}
static int s_regs(void *o, const struct xg_emu_x86_regs *r)
{
	((struct fake *)o)->r = *r;
	return 0;
}
static int g_xs(void *o, void *xs)
{
	memcpy(xs, ((struct fake *)o)->xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}
static int s_xs(void *o, const void *xs)
{
	memcpy(((struct fake *)o)->xs, xs, XG_EMU_X86_XSAVE_SIZE);
	return 0;
}
static int tr(void *o, uint64_t la, enum xg_emu_x86_access k, unsigned cpl, uint32_t *err)
{
	(void)o, (void)k, (void)cpl;
	*err = 0;
	return la >= BASE && la < BASE + 8192 ? 0 : 1;
}
static int rd(void *o, uint64_t la, void *buf, unsigned n, enum xg_emu_x86_access k)
{
	struct fake *f = o;
	(void)k;
	f->reads++;
	f->read_bytes += (int)n;
	memcpy(buf, f->mmio + (la - BASE), n);
	return 0;
}
static int wr(void *o, uint64_t la, const void *buf, unsigned n)
{
	memcpy(((struct fake *)o)->mmio + (la - BASE), buf, n);
	return 0;
}
static int inj(void *o, const struct xg_emu_x86_exception *e)
{
	struct fake *f = o;
	f->injected++;
	f->exc = *e;
	return 0;
}
/* the guest's CPUID: the host's, without AVX (leaf 1 ECX bit 28) when asked */
static int cpuid(void *o, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3])
			 : "a"(leaf), "c"(sub));
	if (leaf == 1 && ((struct fake *)o)->no_avx)
		out[2] &= ~(1u << 28);
	if (leaf == 0x80000001u && ((struct fake *)o)->sse4a)
		out[2] = (out[2] & ~(1u << 6)) | (((struct fake *)o)->sse4a > 0) << 6;
	return 0;
}
static const struct xg_emu_x86_ops ops = {
    .get_regs = g_regs,
    .set_regs = s_regs,
    .get_xsave = g_xs,
    .set_xsave = s_xs,
    .translate = tr,
    .read = rd,
    .write = wr,
    .inject = inj,
    .cpuid = cpuid,
};

static uint64_t host_xcr0;

static void reset(struct fake *f)
{
	uint64_t bv = host_xcr0 & 0xe7;
	uint32_t mx = 0x1f80;

	memset(f, 0, sizeof(*f));
	f->r.cr0 = 0x80050033;
	f->r.cr4 = (1u << 5) | (1u << 9) | (1u << 10) | (1u << 18);
	f->r.efer = 0x500;
	f->r.xcr0 = host_xcr0 & 0xe7;
	f->r.rflags = 2;
	f->r.seg[XG_EMU_X86_CS].l = 1;
	f->r.gpr[XG_EMU_X86_RBX] = BASE + 0x100;
	f->r.rip = 0x1000;
	f->xs[0] = 0x7f, f->xs[1] = 0x03;
	memcpy(f->xs + XG_EMU_X86_XS_MXCSR, &mx, 4);
	memcpy(f->xs + XG_EMU_X86_XS_XSTATE_BV, &bv, 8);
}

static float *xmm_f(struct fake *f, unsigned i)
{
	return (float *)(void *)(f->xs + XG_EMU_X86_XS_XMM0 + 16 * i);
}
static float *ymmh_f(struct fake *f, unsigned i)
{
	return (float *)(void *)(f->xs + XG_EMU_X86_XS_YMMH + 16 * i);
}

static enum xg_emu_x86_status emu(struct fake *f, const uint8_t *b, size_t n,
				  struct xg_emu_x86_result *res)
{
	return xg_emu_x86_emulate(&ops, f, b, n, res);
}

/* vaddps ymm0, ymm1, [rbx]: one 32-byte device read, the sums, RIP advanced */
static void t_vaddps(void)
{
	static const uint8_t b[] = {0xc5, 0xf4, 0x58, 0x03};
	struct xg_emu_x86_result res;
	struct xg_emu_x86_insn in = {0};
	static struct fake f;
	float m[8], want[8];
	int good = 1;

	reset(&f);
	for (int i = 0; i < 8; i++) {
		m[i] = 0.25f * (float)i - 1.0f;
		*(i < 4 ? &xmm_f(&f, 1)[i] : &ymmh_f(&f, 1)[i - 4]) = 3.5f + (float)i;
		want[i] = m[i] + 3.5f + (float)i;
	}
	memcpy(f.mmio + 0x100, m, 32);
	ok(xg_emu_x86_decode(b, sizeof(b), 64, 0, &in, NULL, NULL) == XG_EMU_X86_OK &&
	       xg_emu_x86_supported(&in),
	   "vaddps ymm0, ymm1, [rbx] is claimed supported");
	is_int(emu(&f, b, sizeof(b), &res), XG_EMU_X86_OK, "vaddps ymm0, ymm1, [mmio]: ok (%s)",
	       res.reason);
	for (int i = 0; i < 8; i++)
		good &= (i < 4 ? xmm_f(&f, 0)[i] : ymmh_f(&f, 0)[i - 4]) == want[i];
	ok(good, "ymm0 holds the eight sums");
	ok(f.reads == 1 && f.read_bytes == 32, "one device read of 32 bytes (%d reads, %d bytes)",
	   f.reads, f.read_bytes);
	is_hex(f.r.rip, 0x1004, "RIP advanced by 4");
}

/* EVEX vaddps zmm0{k1}, zmm1, [rbx]{1to16}: one 4-byte element read; k1 = 0: none */
static void t_bcast(void)
{
	static const uint8_t b[] = {0x62, 0xf1, 0x74, 0x59, 0x58, 0x03};
	struct xg_emu_x86_result res;
	static struct fake f;
	float two = 2.0f;
	uint64_t k1 = 0x00ff;

	reset(&f);
	memcpy(f.mmio + 0x100, &two, 4);
	memcpy(f.xs + XG_EMU_X86_XS_OPMASK + 8, &k1, 8);
	xmm_f(&f, 1)[0] = 1.0f;
	xmm_f(&f, 0)[0] = 99.0f;
	is_int(emu(&f, b, sizeof(b), &res), XG_EMU_X86_OK,
	       "vaddps zmm0{k1}, zmm1, [mmio]{1to16}: ok (%s)", res.reason);
	ok(f.reads == 1 && f.read_bytes == 4, "a broadcast reads one element (%d reads, %d bytes)",
	   f.reads, f.read_bytes);
	ok(xmm_f(&f, 0)[0] == 3.0f, "element 0 is 1 + 2 (%g)", (double)xmm_f(&f, 0)[0]);

	reset(&f);
	memcpy(f.xs + XG_EMU_X86_XS_OPMASK + 8, &(uint64_t){0}, 8);
	xmm_f(&f, 0)[0] = 99.0f;
	is_int(emu(&f, b, sizeof(b), &res), XG_EMU_X86_OK, "every element masked off: ok");
	ok(f.reads == 0, "and no device read (%d)", f.reads);
	ok(xmm_f(&f, 0)[0] == 99.0f, "zmm0 merged (unchanged)");
}

/* a guest whose CPUID lacks AVX: #UD, no device read */
static void t_cpuid(void)
{
	static const uint8_t b[] = {0xc5, 0xf4, 0x58, 0x03};
	struct xg_emu_x86_result res;
	static struct fake f;

	reset(&f);
	f.no_avx = 1;
	is_int(emu(&f, b, sizeof(b), &res), XG_EMU_X86_EXCEPTION,
	       "guest without AVX: an exception");
	ok(f.injected && f.exc.vector == XG_EMU_X86_UD && f.reads == 0,
	   "#UD injected, nothing read (vector %u, %d reads)", f.exc.vector, f.reads);
}

/* AMD SSE4A's MOVNTSS/MOVNTSD (F3/F2 0F 2B, AMD APM Vol. 4) follow the guest's CPUID: with
 * SSE4A the low element of xmm0 is stored, like MOVSS/MOVSD; without it (an Intel guest),
 * #UD and nothing written; the register form is #UD either way */
static void t_sse4a(void)
{
	static const uint8_t ss[] = {0xf3, 0x0f, 0x2b, 0x03}, sd[] = {0xf2, 0x0f, 0x2b, 0x03},
			     reg[] = {0xf3, 0x0f, 0x2b, 0xc0};
	static const uint8_t x0[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	struct xg_emu_x86_result res;
	static struct fake f;
	static uint8_t mm[16];

	for (int on = 1; on >= -1; on -= 2) {
		for (unsigned sz = 4; sz <= 8; sz += 4) {
			reset(&f);
			f.sse4a = on;
			memcpy(f.xs + XG_EMU_X86_XS_XMM0, x0, 16);
			memset(f.mmio + 0x100, 0xee, 16);
			memcpy(mm, f.mmio + 0x100, 16);
			if (on > 0)
				memcpy(mm, x0, sz);
			is_int(emu(&f, sz == 4 ? ss : sd, 4, &res),
			       on > 0 ? XG_EMU_X86_OK : XG_EMU_X86_EXCEPTION,
			       "%s [rbx], xmm0 %s SSE4A", sz == 4 ? "movntss" : "movntsd",
			       on > 0 ? "with" : "without");
			ok(!memcmp(f.mmio + 0x100, mm, 16) &&
			       (on > 0 ? f.r.rip == 0x1004 && !f.injected
				       : f.injected && f.exc.vector == XG_EMU_X86_UD &&
					     f.r.rip == 0x1000),
			   on > 0 ? "... %u bytes of xmm0 stored, RIP advanced"
				  : "... #UD, nothing written (%u)",
			   sz);
		}
	}
	reset(&f);
	f.sse4a = 1;
	is_int(emu(&f, reg, sizeof(reg), &res), XG_EMU_X86_EXCEPTION,
	       "movntss xmm0, xmm0: an exception");
	ok(f.injected && f.exc.vector == XG_EMU_X86_UD, "... #UD (memory form only)");
}

/* divss xmm0, [rbx] by zero with ZM clear: #XM, ZE set, xmm0 unchanged; #UD without
 * CR4.OSXMMEXCPT; masked: infinity and ZE merged */
static void t_xm(void)
{
	static const uint8_t b[] = {0xf3, 0x0f, 0x5e, 0x03};
	struct xg_emu_x86_result res;
	static struct fake f;
	uint32_t mx = 0x1f80 & ~(1u << 9), got;
	float zero = 0.0f;

	for (int osxmm = 1; osxmm >= 0; osxmm--) {
		reset(&f);
		if (!osxmm)
			f.r.cr4 &= ~(1ull << 10);
		memcpy(f.xs + XG_EMU_X86_XS_MXCSR, &mx, 4);
		memcpy(f.mmio + 0x100, &zero, 4);
		xmm_f(&f, 0)[0] = 1.0f;
		is_int(emu(&f, b, sizeof(b), &res), XG_EMU_X86_EXCEPTION,
		       "divss by zero, ZM clear");
		memcpy(&got, f.xs + XG_EMU_X86_XS_MXCSR, 4);
		ok(f.exc.vector == (osxmm ? XG_EMU_X86_XM : XG_EMU_X86_UD) && (got & 4) &&
		       xmm_f(&f, 0)[0] == 1.0f && f.r.rip == 0x1000,
		   "%s, MXCSR.ZE set (%#x), xmm0 and RIP unchanged",
		   osxmm ? "#XM" : "#UD (CR4.OSXMMEXCPT = 0)", got);
	}
	reset(&f);
	memcpy(f.mmio + 0x100, &zero, 4);
	xmm_f(&f, 0)[0] = 1.0f;
	is_int(emu(&f, b, sizeof(b), &res), XG_EMU_X86_OK, "divss by zero, masked: ok");
	memcpy(&got, f.xs + XG_EMU_X86_XS_MXCSR, 4);
	ok(xmm_f(&f, 0)[0] > 1e38f && (got & 4), "infinity, MXCSR.ZE merged (%#x)", got);
}

/* legacy addps needs a 16-byte aligned operand: #GP(0) before any read */
static void t_align(void)
{
	static const uint8_t b[] = {0x0f, 0x58, 0x03};
	struct xg_emu_x86_result res;
	static struct fake f;

	reset(&f);
	f.r.gpr[XG_EMU_X86_RBX] = BASE + 0x104;
	is_int(emu(&f, b, sizeof(b), &res), XG_EMU_X86_EXCEPTION, "addps xmm0, [rbx+4]");
	ok(f.exc.vector == XG_EMU_X86_GP && f.reads == 0, "#GP(0), nothing read");
}

/* cvttss2si rax, [rbx] (F3 REX.W 0F 2C): a GPR result */
static void t_gpr(void)
{
	static const uint8_t b[] = {0xf3, 0x48, 0x0f, 0x2c, 0x03};
	struct xg_emu_x86_result res;
	static struct fake f;
	float v = -12345.75f;

	reset(&f);
	memcpy(f.mmio + 0x100, &v, 4);
	f.r.gpr[XG_EMU_X86_RAX] = 0x5555;
	is_int(emu(&f, b, sizeof(b), &res), XG_EMU_X86_OK, "cvttss2si rax, [mmio]: ok (%s)",
	       res.reason);
	is_int((long long)f.r.gpr[XG_EMU_X86_RAX], -12345LL, "rax = -12345");
}

/* W^X: no mapping of this process is writable and executable */
static void t_wx(void)
{
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	int wx = 0, rx = 0, rw = 0;

	if (!m) {
		skip(1, "no /proc/self/maps");
		return;
	}
	while (fgets(line, sizeof(line), m)) {
		char perms[8] = "";
		if (sscanf(line, "%*s %7s", perms) != 1)
			continue;
		if (perms[1] == 'w' && perms[2] == 'x')
			wx++;
		if (strstr(line, "exitgate-simd-stubs")) {
			rx += perms[2] == 'x';
			rw += perms[1] == 'w';
		}
	}
	fclose(m);
	ok(wx == 0 && rx == 1 && rw == 1,
	   "the stub page is mapped once RW and once RX, nothing is W+X (%d W+X, %d RX, %d RW)", wx,
	   rx, rw);
}

/* the inode of the stub page's memfd in this process (0: none) */
static unsigned long stub_inode(void)
{
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long ino = 0;

	while (m && fgets(line, sizeof(line), m))
		if (strstr(line, "exitgate-simd-stubs") &&
		    sscanf(line, "%*s %*s %*s %*s %lu", &ino) == 1)
			break;
	if (m)
		fclose(m);
	return ino;
}

/* a forked child emulates on a stub page of its own (the page is shared memory) */
static void t_fork(void)
{
	static const uint8_t b[] = {0x0f, 0x59, 0x03}; /* mulps xmm0, [rbx] */
	unsigned long parent = stub_inode();
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		static struct fake f;
		struct xg_emu_x86_result res;
		float m[4] = {2, 3, 4, 5};
		int good;
		reset(&f);
		memcpy(f.mmio + 0x100, m, 16);
		for (int j = 0; j < 4; j++)
			xmm_f(&f, 0)[j] = 10.0f;
		good = emu(&f, b, sizeof(b), &res) == XG_EMU_X86_OK && xmm_f(&f, 0)[3] == 50.0f;
		_exit(!good ? 1 : stub_inode() == parent ? 2 : 0);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	ok(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "a forked child emulates right, on a stub page of its own (exit %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* vCPU threads emulating at once: each its own values, each its own right answers */
#define NTHREADS 4
#define NITER	 3000
static void *worker(void *arg)
{
	static const uint8_t b[] = {0x0f, 0x59, 0x03}; /* mulps xmm0, [rbx] */
	struct xg_emu_x86_result res;
	struct fake *f = malloc(sizeof(*f));
	long id = (long)arg, bad = 0;

	for (int i = 0; i < NITER && f; i++) {
		float m[4];
		reset(f);
		for (int j = 0; j < 4; j++) {
			m[j] = (float)(id * 1000 + i);
			xmm_f(f, 0)[j] = (float)(j + 1);
		}
		memcpy(f->mmio + 0x100, m, 16);
		if (emu(f, b, sizeof(b), &res) != XG_EMU_X86_OK)
			bad++;
		for (int j = 0; j < 4; j++)
			bad += xmm_f(f, 0)[j] != m[j] * (float)(j + 1);
	}
	free(f);
	return (void *)(f ? bad : -1);
}
static void t_threads(void)
{
	pthread_t t[NTHREADS];
	long bad = 0;

	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	is_int(bad, 0, "%d threads x %d mulps on MMIO at once: every result right", NTHREADS,
	       NITER);
}

int main(void)
{
	unsigned a, b, c, d;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		skip_all("the host has no AVX (or no OSXSAVE)");
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	host_xcr0 = ((uint64_t)d << 32) | a;
	if ((host_xcr0 & 6) != 6)
		skip_all("AVX state not enabled in XCR0");

	t_vaddps();
	if ((host_xcr0 & 0xe6) == 0xe6)
		t_bcast();
	else
		skip(6, "no AVX-512 state in XCR0");
	t_cpuid();
	t_sse4a();
	t_xm();
	t_align();
	t_gpr();
	t_wx();
	t_fork();
	t_threads();
	return done_testing();
}
