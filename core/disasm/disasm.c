/* disasm.c - see disasm.h. cs_open costs microseconds and a handle is not thread-safe: each
 * thread keeps one handle per architecture, opened on first use, closed when the thread
 * ends (a vCPU thread of `exitgate run` ends with its vCPU). */
#include <capstone.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm/disasm.h"

/* slots: 0 x86 64-bit, 1 arm64, 2 x86 32-bit, 3 x86 16-bit */
struct handles {
	csh h[4];
	uint8_t opened[4];
};

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread struct handles *mine;

static void close_handles(void *p)
{
	struct handles *hs = p;

	for (int i = 0; i < 4; i++)
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

static size_t disasm(cs_arch ca, cs_mode cm, int slot, const char *what, const uint8_t *bytes,
		     size_t len, uint64_t addr, char *out, size_t out_size)
{
	struct handles *hs = handles();
	cs_insn *insn;
	size_t n, size = 0;
	csh h;

	if (!hs || (!hs->opened[slot] && cs_open(ca, cm, &hs->h[slot]) != CS_ERR_OK)) {
		snprintf(out, out_size, "(capstone cannot open %s)", what);
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

size_t xg_disasm_one(enum xg_arch arch, const uint8_t *bytes, size_t len, uint64_t addr,
		     char *out, size_t out_size)
{
	if (arch == XG_ARCH_X86_64)
		return disasm(CS_ARCH_X86, CS_MODE_64, 0, "x86_64", bytes, len, addr, out, out_size);
	if (arch == XG_ARCH_ARM64)
		return disasm(CS_ARCH_ARM64, CS_MODE_ARM, 1, "arm64", bytes, len, addr, out, out_size);
	snprintf(out, out_size, "(no disassembler for %s)", xg_arch_name(arch));
	return 0;
}

size_t xg_disasm_x86(unsigned bits, const uint8_t *bytes, size_t len, uint64_t addr, char *out,
		     size_t out_size)
{
	if (bits == 64)
		return disasm(CS_ARCH_X86, CS_MODE_64, 0, "x86_64", bytes, len, addr, out, out_size);
	if (bits == 32)
		return disasm(CS_ARCH_X86, CS_MODE_32, 2, "x86 32-bit", bytes, len, addr, out, out_size);
	if (bits == 16)
		return disasm(CS_ARCH_X86, CS_MODE_16, 3, "x86 16-bit", bytes, len, addr, out, out_size);
	snprintf(out, out_size, "(no x86 mode of %u bits)", bits);
	return 0;
}
