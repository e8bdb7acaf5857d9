/*
 * t_emu_length.c - the CPU length probe: the host CPU tells how long an encoding is, and
 * whether it is #UD; the decoder must agree.
 *
 * A byte string is placed so that its first k bytes end a page and the next page is
 * PROT_NONE. If the instruction is longer than k bytes, the CPU's fetch of byte k+1 faults
 * (#PF with the instruction-fetch bit, CR2 at the page boundary) before anything runs; if it
 * is k bytes or shorter, the CPU decodes it and either raises #UD or runs it. So:
 *   length L   the fetch faults with L - 1 bytes and does not with L;
 *   #UD        the 15 bytes, all there, end in #UD.
 * What runs, runs for one instruction only: it is entered by IRETQ with RFLAGS.TF set, so a
 * single-step trap stops it, and every GPR holds a non-canonical value (0x8000... with low
 * half 0xfffffff0: a memory operand is #GP, a system call number is invalid) except RSP,
 * which points into a page of zeros inside a PROT_NONE reservation, and the FS and GS bases
 * point into that reservation too (with 67h an FS: operand would otherwise reach the TLS).
 * Signals end every run
 * (SIGTRAP, SIGSEGV, SIGILL, SIGBUS, SIGFPE) and longjmp back.
 *
 * In 32-bit mode (compatibility mode: the kernel's 32-bit user code segment, 0x23) the
 * same, but the GPRs hold 0x80000000 and up (low halves) and DS, ES, FS, GS and SS are one
 * 32-bit data segment of the process's LDT (modify_ldt) on that page of zeros with a limit of
 * 4 KiB, so a memory operand is #GP/#SS or lands in that page; CS is flat, and not writable.
 *
 * The random strings favour prefixes, escapes (0F, 0F 38, 0F 3A), VEX, EVEX (maps 1-7), XOP
 * and x87 (no REX in 32-bit mode, and the VEX/EVEX R and X bits mostly 1, as that mode needs);
 * each is checked against xg_emu_x86_decode() in the mode it ran in:
 *   agree      the decoder gives the CPU's length (or #UD where the CPU raises #UD);
 *   length     both decode it, with different lengths;
 *   ud_cpu     the CPU raises #UD, the decoder decodes it (has no #UD for it);
 *   ud_dec     the decoder raises #UD for what the CPU runs;
 *   ud_gp      the decoder raises #UD, the CPU #GP at the instruction (a 16th byte: the
 *              CPU counts the length first; the decoder stops at the first #UD it finds);
 *   no_length  the decoder answers "not handled" (no length).
 * The test fails on any `length` or `ud_dec` and on `no_length` for an encoding the CPU runs
 * (a VMM must at least know how long an instruction is to step over it), and when more than
 * 1% of the strings are `ud_cpu` in 0F38, 0F3A, VEX or EVEX (the decoder's opcode tables,
 * xg_emu_x86_valid.c, say which opcodes and forms any CPU defines). `ud_cpu` is
 * reported with counts by class: the decoder is not told the CPU model, so an opcode this
 * CPU lacks (XOP and SSE4a on Intel, say) is not #UD to it; opcodes no CPU defines are. In
 * the one-byte and 0F maps the test fails when more than 0.25% of the strings are
 * `ud_cpu` (what is left there is #UD by CPU state, vendor or feature: see the check).
 * XG_SEED (fixed in the suite; n, or random for a new one), XG_CASES (default 20,000 per
 * mode), XG_MODE=64 or 32 (default both), XG_VERBOSE=1 prints every disagreement.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/ldt.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "oracle_rand.h"
#include "tap.h"
#include "xg_emu_x86.h"
#define XG_CPU_PROBE_ENTER
#include "cpu_probe.h"

#define PAGE 4096ull

static sigjmp_buf back;
static uint64_t host_fsbase, host_gsbase;
static uint32_t host_fssel, host_gssel;
static int out_trap;
static uint64_t out_cr2, out_err, out_rip;

__attribute__((no_stack_protector, no_sanitize_address)) static void
on_signal(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	/* 32-bit mode left the LDT's data segment in DS, ES, FS and GS */
	__asm__ volatile("mov %0, %%ds\n mov %0, %%es" ::"r"(0u));
	__asm__ volatile("mov %0, %%fs" ::"r"(host_fssel));
	__asm__ volatile("mov %0, %%gs" ::"r"(host_gssel));
	__asm__ volatile("wrfsbase %0" ::"r"(host_fsbase));
	__asm__ volatile("wrgsbase %0" ::"r"(host_gsbase));
	(void)si;
	(void)sig;
	out_trap = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	out_cr2 = (uint64_t)uc->uc_mcontext.gregs[REG_CR2];
	out_err = (uint64_t)uc->uc_mcontext.gregs[REG_ERR];
	out_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	siglongjmp(back, 1);
}

static uint8_t *code;	/* two pages: RWX, then PROT_NONE */
static uint8_t *stackp; /* one RW page in a PROT_NONE reservation */
static struct probe_in pin __attribute__((aligned(16)));

enum { R_FETCH = 0, R_UD, R_GP, R_RAN };

/* 32-bit mode: the data segment (LDT entry 0, RPL 3) in DS, ES, FS, GS, then the entry */
#define LDT_DATA_SEL 7
void xg_len_enter32(struct probe_in *in);
__asm__(".text\n"
	".globl xg_len_enter32\n"
	"xg_len_enter32:\n"
	"	mov $7, %eax\n"
	"	mov %eax, %ds\n"
	"	mov %eax, %es\n"
	"	mov %eax, %fs\n"
	"	mov %eax, %gs\n"
	"	jmp xg_probe_enter\n");

static unsigned cur_mode = 64;

/* Run the first k bytes of b placed to end at the page boundary. */
static int run(const uint8_t *b, unsigned k)
{
	uint8_t *at = code + PAGE - k;

	memcpy(at, b, k);
	memset(stackp, 0, PAGE);
	for (unsigned i = 0; i < 15; i++)
		pin.pop[i] = cur_mode == 64 ? 0x80000000fffffff0ull + 16 * i : 0x80000000u + 16 * i;
	pin.rip = (uint64_t)(uintptr_t)at;
	pin.cs = cur_mode == 64 ? 0x33 : 0x23;
	pin.rflags = 0x302; /* IF, TF */
	if (cur_mode == 64) {
		pin.rsp = (uint64_t)(uintptr_t)stackp + PAGE / 2;
		pin.ss = 0x2b;
		pin.fsbase = pin.gsbase = (uint64_t)(uintptr_t)stackp - 16 * PAGE;
	} else {
		pin.rsp = PAGE / 2; /* in the data segment, based at the page */
		pin.ss = LDT_DATA_SEL;
		pin.fsbase = pin.gsbase = (uint64_t)(uintptr_t)stackp;
	}
	if (!sigsetjmp(back, 0)) {
		if (cur_mode == 64)
			xg_probe_enter(&pin);
		else
			xg_len_enter32(&pin);
	}
	if (out_trap == 14 && (out_err & 0x10) && out_cr2 == (uint64_t)(uintptr_t)(code + PAGE) &&
	    out_rip == (uint64_t)(uintptr_t)at)
		return R_FETCH;
	if (out_trap == 6 && out_rip == (uint64_t)(uintptr_t)at)
		return R_UD;
	if (out_trap == 13 && out_rip == (uint64_t)(uintptr_t)at)
		return R_GP; /* a memory operand, or longer than 15 bytes */
	return R_RAN;
}

static void gen(uint8_t *b, unsigned mode)
{
	static const uint8_t pfx[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66,
				      0x67, 0xf0, 0xf2, 0xf3, 0x66, 0x66, 0x48};
	unsigned n = 0, start;

	for (unsigned i = 0; i < 15; i++)
		b[i] = (uint8_t)rnd();
	if (rn(2))
		for (unsigned np = rn(4); np; np--) {
			b[n] = pfx[rn(sizeof(pfx))];
			if (mode != 64 && b[n] == 0x48)
				b[n] = 0x66; /* DEC EAX there */
			n++;
		}
	if (rn(3) == 0 && mode == 64)
		b[n++] = (uint8_t)(0x40 | rn(16));
	start = n;
	switch (rn(10)) {
	case 0:
	case 1:
		break; /* one-byte map */
	case 2:
		b[n++] = 0x0f;
		break;
	case 3:
		b[n++] = 0x0f, b[n++] = rn(2) ? 0x38 : 0x3a;
		break;
	case 4:
		b[n] = (uint8_t)(0xd8 + rn(8)); /* x87 */
		break;
	case 5:
		b[n++] = 0xc5;
		break;
	case 6:
		b[n++] = 0xc4, b[n] = (uint8_t)((b[n] & 0xe0) | (1 + rn(3)));
		break;
	case 7:
	case 8:
		/* EVEX, maps 1-7, the fixed bits mostly right */
		b[n++] = 0x62;
		b[n] = (uint8_t)((b[n] & 0xf0) | rn(8));
		if (rn(8))
			b[n + 1] |= 4;
		break;
	case 9:
		b[n++] = 0x8f, b[n] = (uint8_t)((b[n] & 0xe0) | (8 + rn(3))); /* XOP */
		break;
	}
	/* outside 64-bit mode C4/C5/62 are VEX/EVEX only with ModRM.mod = 3 bits, i.e. R and
	 * X (VEX.R for C5) set; else LES/LDS/BOUND: mostly VEX/EVEX */
	if (mode != 64 && n > start && (b[n - 1] == 0xc4 || b[n - 1] == 0xc5 || b[n - 1] == 0x62) &&
	    rn(8))
		b[n] |= 0xc0;
}

struct counts {
	long agree, ud_agree, length, ud_cpu, ud_dec, ud_gp, no_length_ran, no_length_ud, too_long,
	    cpu_ud;
	long ud_cpu_tab;   /* of ud_cpu: in 0F38, 0F3A, VEX or EVEX (xg_emu_x86_valid.c) */
	long ud_cpu_leg;   /* of ud_cpu: in the one-byte and 0F maps, not by_state() */
	long ud_cpu_state; /* ... and by_state() */
};

/*
 * One-byte and 0F opcodes whose #UD depends on the CPU's state, vendor or features, not on
 * the encoding, for this user-space probe at CPL 3: the decoder, told neither, decodes them
 * (their length is defined), and the CPU refuses them. NULL for the rest. Modelled per
 * vendor where they differ: SYSENTER/SYSEXIT run (or #GP) on Intel in 64-bit mode.
 */
static const char *by_state(const struct xg_emu_x86_insn *in)
{
	unsigned op = in->opcode;
	int amd = xg_emu_x86_host_vendor() == XG_EMU_X86_VENDOR_AMD;

	if (in->map == XG_EMU_X86_MAP_1B)
		return (op == 0xc6 || op == 0xc7) && in->has_modrm && in->mod == 3 &&
			       (in->reg & 7) == 7
			   ? "XABORT/XBEGIN without RTM (SDM Vol. 2 XABORT, XBEGIN)"
			   : NULL;
	switch (op) {
	case 0x01:
		return in->has_modrm && in->mod == 3 ? "0F 01 system forms: VMX outside VMX "
						       "operation, SVM with EFER.SVME = 0, SGX, "
						       "RTM, MONITORX ... (SDM Vol. 2 Table A-6; "
						       "APM Vol. 3)"
						     : NULL;
	case 0x34:
	case 0x35:
		return amd ? "SYSENTER/SYSEXIT in long mode on AMD (APM Vol. 3 SYSENTER, SYSEXIT)"
			   : NULL;
	case 0x37:
		return "GETSEC with CR4.SMXE = 0 (SDM Vol. 2D GETSEC); no AMD instruction";
	case 0x78:
	case 0x79:
		return "VMREAD/VMWRITE outside VMX operation (SDM Vol. 2B); AMD: SSE4a's EXTRQ/"
		       "INSERTQ only with 66/F2 (APM Vol. 4)";
	case 0xaa:
		return "RSM outside SMM (SDM Vol. 2B RSM)";
	case 0xae:
		/* F3 0F AE /6 memory: CLRSSBSY, CET shadow stacks with CR4.CET = 0; F2 0F AE /6
		 * register: UMWAIT, WAITPKG (no AMD CPU has it) */
		return (in->reg & 7) == 6 &&
			       ((in->pfx == 2 && in->mod != 3) || (in->pfx == 3 && in->mod == 3))
			   ? "CLRSSBSY with CR4.CET = 0 (SDM Vol. 2A CLRSSBSY), UMWAIT without "
			     "WAITPKG (SDM Vol. 2B UMWAIT)"
			   : NULL;
	case 0xc7:
		return (in->reg & 7) >= 6 ? "0F C7 /6 /7: VMX forms outside VMX operation, RDRAND, "
					    "RDSEED, RDPID by feature (SDM Vol. 2 Table A-6)"
					  : NULL;
	}
	return NULL;
}

#define NCLASS 256
static struct {
	char key[48];
	long n;
	char eg[48];
} cls[NCLASS];
static unsigned ncls;

static void note(const char *key, const uint8_t *b, unsigned n)
{
	unsigned i;
	for (i = 0; i < ncls; i++)
		if (!strcmp(cls[i].key, key))
			break;
	if (i == ncls) {
		if (ncls == NCLASS)
			return;
		snprintf(cls[i].key, sizeof(cls[i].key), "%s", key);
		cls[i].n = 0; /* a slot the other mode's run used */
		for (unsigned j = 0, k = 0; j < n && k + 4 < sizeof(cls[i].eg); j++)
			k +=
			    (unsigned)snprintf(cls[i].eg + k, sizeof(cls[i].eg) - k, "%02x ", b[j]);
		ncls++;
	}
	cls[i].n++;
}

/* a class name: encoding, map, opcode */
static void key_of(char *k, size_t kn, const char *what, const struct xg_emu_x86_insn *in,
		   const uint8_t *b)
{
	unsigned p = 0;
	while (p < 14 && (b[p] == 0x26 || b[p] == 0x2e || b[p] == 0x36 || b[p] == 0x3e ||
			  (b[p] >= 0x64 && b[p] <= 0x67) || b[p] == 0xf0 || b[p] == 0xf2 ||
			  b[p] == 0xf3 || ((b[p] & 0xf0) == 0x40 && cur_mode == 64)))
		p++;
	if (b[p] == 0x62 || b[p] == 0xc4 || b[p] == 0x8f)
		snprintf(k, kn, "%s %02x map %u", what, b[p], b[p + 1] & (b[p] == 0x62 ? 7 : 31));
	else if (b[p] == 0xc5)
		snprintf(k, kn, "%s c5", what);
	else if (b[p] == 0x0f && (b[p + 1] == 0x38 || b[p + 1] == 0x3a))
		snprintf(k, kn, "%s 0f %02x", what, b[p + 1]);
	else if (b[p] == 0x0f)
		snprintf(k, kn, "%s 0f %02x", what, b[p + 1]);
	else if (b[p] >= 0xd8 && b[p] <= 0xdf)
		snprintf(k, kn, "%s x87 %02x %s", what, b[p], b[p + 1] >= 0xc0 ? "reg" : "mem");
	else
		snprintf(k, kn, "%s %02x", what, b[p]);
	(void)in;
}

static void run_mode(unsigned mode, long ncases, int verbose)
{
	struct counts ct = {0};

	cur_mode = mode;
	ncls = 0;
	for (long i = 0; i < ncases; i++) {
		uint8_t b[15];
		struct xg_emu_x86_insn in;
		struct xg_emu_x86_exception exc;
		enum xg_emu_x86_status st;
		int full, cpu_len = 0;
		char key[48];

		gen(b, mode);
		if (verbose > 1)
			fprintf(stderr, "%ld: %02x %02x %02x %02x %02x %02x %02x %02x\n", i, b[0],
				b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
		st = xg_emu_x86_decode(b, 15, mode, 0, &in, &exc, NULL);
		full = run(b, 15);
		if (full == R_FETCH) {
			ct.too_long++; /* longer than 15: the CPU's #GP comes on the 16th byte */
			continue;
		}
		if (full == R_UD)
			ct.cpu_ud++;
		if (st == XG_EMU_X86_EXCEPTION && exc.vector == XG_EMU_X86_UD) {
			if (full == R_UD) {
				ct.agree++;
				ct.ud_agree++;
			} else if (full == R_GP) {
				/* the CPU's #GP for a 16th byte comes before its #UD; the decoder
				 * stops at the first #UD it sees (REX before EVEX, say) */
				ct.ud_gp++;
				key_of(key, sizeof(key), "decoder #UD, CPU #GP:", &in, b);
				note(key, b, 15);
			} else {
				ct.ud_dec++;
				key_of(key, sizeof(key), "decoder #UD, CPU runs:", &in, b);
				note(key, b, 15);
			}
			continue;
		}
		if (st == XG_EMU_X86_NOT_HANDLED) {
			key_of(key, sizeof(key),
			       full == R_UD ? "no length, CPU #UD:" : "no length, CPU runs:", &in,
			       b);
			note(key, b, 15);
			if (full == R_UD)
				ct.no_length_ud++;
			else
				ct.no_length_ran++;
			continue;
		}
		if (st != XG_EMU_X86_OK)
			continue; /* #GP for > 15 bytes: the CPU agreed above or ran */
		if (full == R_UD) {
			/* the CPU's #UD may come before it has fetched everything the decoder
			 * counts: no length to compare */
			ct.ud_cpu++;
			if (in.enc != XG_EMU_X86_ENC_LEGACY || in.map == XG_EMU_X86_MAP_0F38 ||
			    in.map == XG_EMU_X86_MAP_0F3A) {
				/* what the tables do not model, first match */
				const char *why = "other";
				ct.ud_cpu_tab++;
				if (in.enc == XG_EMU_X86_ENC_EVEX && in.bcast)
					why = "EVEX.b set";
				else if (in.enc == XG_EMU_X86_ENC_EVEX && in.z)
					why = "EVEX.z set";
				else if (in.enc == XG_EMU_X86_ENC_EVEX && in.aaa)
					why = "EVEX.aaa != 0";
				else if (in.vvvv)
					why = "vvvv used";
				snprintf(key, sizeof(key), "tables: CPU #UD, %s", why);
				note(key, b, 15);
			}
			if (in.enc == XG_EMU_X86_ENC_LEGACY && in.map <= XG_EMU_X86_MAP_0F) {
				const char *why = by_state(&in);
				if (why) {
					ct.ud_cpu_state++;
					snprintf(key, sizeof(key), "by state: %.37s", why);
					note(key, b, 15);
				} else {
					ct.ud_cpu_leg++;
				}
			}
			key_of(key, sizeof(key), "CPU #UD, decoder decodes:", &in, b);
			note(key, b, 15);
			if (verbose) {
				char h[64];
				for (unsigned j = 0, k = 0; j < in.len; j++)
					k +=
					    (unsigned)snprintf(h + k, sizeof(h) - k, "%02x ", b[j]);
				diag(
				    "ud_cpu: enc %u map %u op %02x pfx %u reg %u mod %u rm %u w %u "
				    "[%s] %s",
				    in.enc, in.map, in.opcode, in.pfx, in.reg & 7, in.mod,
				    in.rm & 7, in.w, h, in.name ? in.name : "?");
			}
			continue;
		}
		/* both decode: the CPU's length is the k where the fetch stops faulting */
		if (run(b, in.len) != R_FETCH && (in.len == 1 || run(b, in.len - 1u) == R_FETCH)) {
			ct.agree++;
			continue;
		}
		for (unsigned k = 1; k <= 15; k++)
			if (run(b, k) != R_FETCH) {
				cpu_len = (int)k;
				break;
			}
		ct.length++;
		key_of(key, sizeof(key), "length differs:", &in, b);
		note(key, b, 15);
		if (verbose || ct.length <= 10) {
			char h[64];
			for (unsigned j = 0, k = 0; j < 15; j++)
				k += (unsigned)snprintf(h + k, sizeof(h) - k, "%02x ", b[j]);
			diag("length: [%s] CPU %d, decoder %u (%s)", h, cpu_len, in.len,
			     in.name ? in.name : "?");
		}
	}
	for (unsigned i = 0; i < ncls; i++)
		diag("%-44s %6ld  e.g. %s", cls[i].key, cls[i].n, cls[i].eg);
	diag("%u-bit: %ld strings: %ld agree (%ld of them #UD on both), %ld length differs, "
	     "%ld decoder #UD where the CPU runs, %ld decoder #UD where the CPU raises #GP first, "
	     "%ld CPU #UD the decoder decodes, %ld no length (CPU runs %ld, CPU #UD %ld); "
	     "CPU #UD on %ld, longer than 15 bytes %ld",
	     mode, ncases, ct.agree, ct.ud_agree, ct.length, ct.ud_dec, ct.ud_gp, ct.ud_cpu,
	     ct.no_length_ran + ct.no_length_ud, ct.no_length_ran, ct.no_length_ud, ct.cpu_ud,
	     ct.too_long);
	ok(ct.length == 0, "%u-bit: decoder length = CPU length on every string both decode (%ld)",
	   mode, ct.length);
	ok(ct.ud_dec == 0, "%u-bit: no #UD from the decoder where the CPU runs the bytes (%ld)",
	   mode, ct.ud_dec);
	/* the opcode tables: what no CPU defines is #UD; what is left is an opcode of another
	 * CPU (or one this host keeps off at CPL 3: VMX, CET, Key Locker, AMX) and forms the
	 * tables do not model (EVEX.b or aaa where the form takes none, W or L mixed with
	 * the form); 46,354 of 200,000 before the tables, under 1,000 after */
	ok(ct.ud_cpu_tab * 100 <= ncases,
	   "%u-bit: CPU #UD the decoder decodes in 0F38/0F3A/VEX/EVEX: at most 1%% of the strings "
	   "(%ld)",
	   mode, ct.ud_cpu_tab);
	/* the one-byte and 0F maps: #UD by state (RSM outside SMM, GETSEC with CR4.SMXE = 0,
	 * VMX instructions outside VMX operation, CPL-0-only or CR4-enabled forms of 0F 01), by
	 * vendor (SSE4a's EXTRQ/INSERTQ, SVM in 0F 01, SYSENTER in long mode on AMD) or by a
	 * feature the host lacks (by_state()) is counted apart; 791 of 200,000 in 64-bit mode
	 * and 960 in 32-bit mode before the forms no CPU defines became #UD, about 300 after,
	 * and on an AMD EPYC (Zen 5) up to 55 of 20,000 with random seeds (0.25% was the bound
	 * then: 2 seeds of 10 went over it), all but a few of them by state. The rest must stay
	 * under 0.1%; what is by state has a bound only against a gross table error. */
	ok(ct.ud_cpu_leg * 1000 <= ncases,
	   "%u-bit: CPU #UD the decoder decodes in the one-byte and 0F maps, not by CPU state, "
	   "vendor or feature: at most 0.1%% of the strings (%ld; %ld more by state)",
	   mode, ct.ud_cpu_leg, ct.ud_cpu_state);
	ok(ct.ud_cpu_state * 100 <= ncases,
	   "%u-bit: ... and those by state, vendor or feature: at most 1%% (%ld)", mode,
	   ct.ud_cpu_state);
	ok(ct.no_length_ran == 0, "%u-bit: a length for every string the CPU runs (%ld without)",
	   mode, ct.no_length_ran);
}

/* 32-bit mode's data segment: LDT entry 0 on the page of zeros, 4 KiB, 32-bit, writable */
static int write_ldt32(void)
{
	struct user_desc d;

	memset(&d, 0, sizeof(d));
	d.entry_number = 0;
	d.base_addr = (unsigned)(uintptr_t)stackp;
	d.limit = PAGE - 1;
	d.seg_32bit = 1;
	d.contents = MODIFY_LDT_CONTENTS_DATA;
	d.useable = 1;
	return (int)syscall(SYS_modify_ldt, 1, &d, sizeof(d));
}

int main(void)
{
	long ncases = 20000;
	unsigned modes = 3;
	uint64_t seed; /* fixed in the suite: what CI judged can be rerun (oracle_rand.h) */
	int verbose = 0;
	const char *e;
	uint8_t *res;

#ifdef XG_UNDER_TSAN
	skip_all("%s", XG_PROBE_NO_TSAN);
#endif
	seed = xg_oracle_seed();
	if ((e = getenv("XG_CASES")))
		ncases = strtol(e, NULL, 0);
	if ((e = getenv("XG_VERBOSE")))
		verbose = atoi(e);
	if ((e = getenv("XG_MODE")))
		modes = atoi(e) == 64 ? 1 : atoi(e) == 32 ? 2 : 3;
	rs = seed;

	code = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	res = mmap(NULL, 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (code == MAP_FAILED || res == MAP_FAILED)
		skip_all("cannot map memory below 4 GiB");
	if (mprotect(code + PAGE, PAGE, PROT_NONE))
		bail("mprotect: %m");
	stackp = res + 32 * PAGE;
	if (mprotect(stackp, PAGE, PROT_READ | PROT_WRITE))
		bail("mprotect: %m");
	if (xg_probe_signals(on_signal))
		bail("sigaltstack: %m");
	__asm__ volatile("rdfsbase %0" : "=r"(host_fsbase));
	__asm__ volatile("rdgsbase %0" : "=r"(host_gsbase));
	__asm__ volatile("mov %%fs, %0" : "=r"(host_fssel));
	__asm__ volatile("mov %%gs, %0" : "=r"(host_gssel));
	diag("seed %llu (XG_SEED to reproduce); judged by %s", (unsigned long long)seed,
	     xg_emu_x86_vendor_name(xg_emu_x86_host_vendor()));

	if (modes & 1)
		run_mode(64, ncases, verbose);
	if (modes & 2) {
		rs = seed ^ 0x3232323232323232ull; /* 32-bit mode's own strings */
		if (write_ldt32())
			skip(4, "32-bit mode: modify_ldt cannot make the data segment here (%s)",
			     strerror(errno));
		else
			run_mode(32, ncases, verbose);
	}
	return done_testing();
}
