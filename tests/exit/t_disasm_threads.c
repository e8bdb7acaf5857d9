/*
 * t_disasm_threads.c - the process's first disassemblies made by several threads at once,
 * as the vCPU threads of `exitgate run` make them (each its first dump or e.insn.text).
 * Capstone 4 sorts a table of its own, unlocked, on the first x86 instruction it prints
 * (X86_insn_reg_intel; capstone issues #1358, #1647); disasm.c has that done once, before
 * any thread's first use. The texts must agree whatever the build; a ThreadSanitizer build
 * (see README "Testing") reports the race if disasm.c stops doing it, and fails the test.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "disasm/disasm.h"
#include "tap.h"

#define NT 8

static pthread_barrier_t start_line;

struct job {
	char text[128];
	size_t len;
};

static void *first_use(void *arg)
{
	/* in al, dx: an operand capstone's sorted table adds (the accumulator) */
	static const uint8_t in_al_dx[] = {0xec};
	struct job *j = arg;

	pthread_barrier_wait(&start_line);
	j->len = xg_disasm_x86(64, in_al_dx, sizeof(in_al_dx), 0x1000, j->text, sizeof(j->text));
	return NULL;
}

int main(void)
{
	pthread_t t[NT];
	struct job j[NT];
	int same = 1;

	memset(j, 0, sizeof(j));
	pthread_barrier_init(&start_line, NULL, NT);
	for (int i = 0; i < NT; i++)
		if (pthread_create(&t[i], NULL, first_use, &j[i]))
			bail("pthread_create failed");
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	for (int i = 1; i < NT; i++)
		same &= j[i].len == j[0].len && !strcmp(j[i].text, j[0].text);
	is_int((long long)j[0].len, 1, "the first thread's text: '%s'", j[0].text);
	like(j[0].text, "in al, dx", "... is capstone's");
	ok(same, "%d threads disassembling for the first time at once agree", NT);
	return done_testing();
}
