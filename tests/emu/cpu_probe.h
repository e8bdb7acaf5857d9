/*
 * cpu_probe.h - what the CPU probes share (t_emu_random, t_emu_length, mk_emu_valid).
 *
 * The signal set-up (all three): every fault a probed instruction can raise (#DB as
 * SIGTRAP, #PF/#GP/#SS as SIGSEGV or SIGBUS, #UD as SIGILL, #DE/#MF/#XM as SIGFPE) goes to one
 * handler, on a stack of its own (the probe's own stack pointer is the guest state under
 * test), re-entrantly (SA_NODEFER: the handler leaves by siglongjmp).
 */
#ifndef XG_CPU_PROBE_H
#define XG_CPU_PROBE_H

#include <signal.h>
#include <stdint.h>
#include <string.h>

/* Why a probe cannot run under ThreadSanitizer (tap.h XG_UNDER_TSAN: t_emu_length and
 * t_emu_random skip with it) */
#define XG_PROBE_NO_TSAN                                                                           \
	"the CPU probe runs instructions natively with the state under test in every register "    \
	"and leaves their faults by siglongjmp from an alternate signal stack, which "             \
	"ThreadSanitizer cannot follow (the program dies with SIGSEGV)"

/* 0, or -1 when the alternate stack cannot be set. */
static inline int xg_probe_signals(void (*handler)(int, siginfo_t *, void *))
{
	static uint8_t altstack[1 << 16] __attribute__((aligned(64)));
	static const int sigs[] = {SIGTRAP, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
	struct sigaction sa;
	stack_t ss;

	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	return 0;
}

/*
 * The entry into probed code (t_emu_length, mk_emu_valid; define XG_CPU_PROBE_ENTER in the
 * one file of a program that uses it): FS and GS bases loaded, the GPRs but RSP popped, then
 * IRETQ to the frame that follows them, so RIP, CS, RFLAGS (TF for single-stepping), RSP and
 * SS are the probe's own.
 */
struct probe_in {
	uint64_t pop[15]; /* rax rcx rdx rbx rbp rsi rdi r8-r15 */
	uint64_t rip, cs, rflags, rsp, ss;
	uint64_t fsbase, gsbase; /* at 160 and 168 */
};
void xg_probe_enter(struct probe_in *in);
#ifdef XG_CPU_PROBE_ENTER
__asm__(".text\n"
	".globl xg_probe_enter\n"
	"xg_probe_enter:\n"
	"	mov 160(%rdi), %rax\n"
	"	wrfsbase %rax\n"
	"	mov 168(%rdi), %rax\n"
	"	wrgsbase %rax\n"
	"	mov %rdi, %rsp\n"
	"	pop %rax\n pop %rcx\n pop %rdx\n pop %rbx\n pop %rbp\n pop %rsi\n pop %rdi\n"
	"	pop %r8\n pop %r9\n pop %r10\n pop %r11\n pop %r12\n pop %r13\n pop %r14\n"
	"	pop %r15\n"
	"	iretq\n");
#endif

#endif
