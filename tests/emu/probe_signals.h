/*
 * probe_signals.h - the signal set-up the CPU probes share (t_emu_random, t_emu_length,
 * mk_emu_valid): every fault a probed instruction can raise (#DB as SIGTRAP, #PF/#GP/#SS as
 * SIGSEGV or SIGBUS, #UD as SIGILL, #DE/#MF/#XM as SIGFPE) goes to one handler, on a stack
 * of its own (the probe's own stack pointer is the guest state under test), re-entrantly
 * (SA_NODEFER: the handler leaves by siglongjmp).
 */
#ifndef XG_PROBE_SIGNALS_H
#define XG_PROBE_SIGNALS_H

#include <signal.h>
#include <stdint.h>
#include <string.h>

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

#endif
