/* disasm.c - see disasm.h. cs_open costs microseconds and a handle is not thread-safe: each
 * thread keeps one handle per architecture, opened on first use, closed when the thread
 * ends (a vCPU thread of `exitgate run` ends with its vCPU). */
#include <capstone.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm/disasm.h"

struct handles {
	csh h[2];
	uint8_t opened[2];
};

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread struct handles *mine;

static void close_handles(void *p)
{
	struct handles *hs = p;

	for (int i = 0; i < 2; i++)
		if (hs->opened[i])
			cs_close(&hs->h[i]);
	free(hs);
}

static void make_key(void)
{
	pthread_key_create(&key, close_handles);
}

static struct handles *handles(void)
{
	if (!mine) {
		pthread_once(&key_once, make_key);
		mine = calloc(1, sizeof(*mine));
		if (mine)
			pthread_setspecific(key, mine);
	}
	return mine;
}

size_t xg_disasm_one(enum xg_arch arch, const uint8_t *bytes, size_t len, uint64_t addr,
		     char *out, size_t out_size)
{
	cs_arch ca;
	cs_mode cm;
	csh h;
	cs_insn *insn;
	size_t n, size = 0;

	if (arch == XG_ARCH_X86_64) {
		ca = CS_ARCH_X86;
		cm = CS_MODE_64;
	} else if (arch == XG_ARCH_ARM64) {
		ca = CS_ARCH_ARM64;
		cm = CS_MODE_ARM;
	} else {
		snprintf(out, out_size, "(no disassembler for %s)", xg_arch_name(arch));
		return 0;
	}
	struct handles *hs = handles();
	int slot = arch == XG_ARCH_ARM64;

	if (!hs || (!hs->opened[slot] && cs_open(ca, cm, &hs->h[slot]) != CS_ERR_OK)) {
		snprintf(out, out_size, "(capstone cannot open %s)", xg_arch_name(arch));
		return 0;
	}
	hs->opened[slot] = 1;
	h = hs->h[slot];
	n = cs_disasm(h, bytes, len, addr, 1, &insn);
	if (n == 1) {
		if (insn[0].op_str[0])
			snprintf(out, out_size, "%s %s", insn[0].mnemonic, insn[0].op_str);
		else
			snprintf(out, out_size, "%s", insn[0].mnemonic);
		size = insn[0].size;
		cs_free(insn, n);
	} else {
		snprintf(out, out_size, "(not an instruction capstone knows)");
	}
	return size;
}
