/* disasm.c - see disasm.h. cs_open costs microseconds and a handle is not thread-safe: each
 * thread keeps one handle per architecture, opened on first use, closed when the thread
 * ends (a vCPU thread of `exitgate run` ends with its vCPU).
 *
 * A policy that reads e.disasm in a loop of exits sees the same few instructions again and
 * again, and capstone costs about half a microsecond each (tests/bench/bench_engine). So
 * each thread also keeps a small cache of texts, keyed by everything the text depends on:
 * the bytes, how many there are, the mode and the address (a branch's target is printed
 * from it). It is per thread like the handles, so threads never share an entry, and it
 * holds nothing of a policy, so a hot reload has nothing to invalidate. Bounded: CACHE_SETS
 * x CACHE_WAYS entries of one instruction each. Capstone decodes into one cs_insn per handle
 * (cs_malloc'ed with the handle, cs_disasm_iter) instead of cs_disasm's allocation per call,
 * so once a thread's handles are open nothing here allocates. */
#include <capstone.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm/disasm.h"

#define NSLOTS	   4  /* 0 x86 64-bit, 1 arm64, 2 x86 32-bit, 3 x86 16-bit */
#define KEY_MAX	   16 /* longer inputs bypass the cache (an x86 instruction is <= 15 bytes) */
#define CACHE_SETS 32 /* a power of two */
#define CACHE_WAYS 2
#define TEXT_MAX   (CS_MNEMONIC_SIZE + 1 + sizeof(((cs_insn *)0)->op_str))

struct entry {
	uint64_t addr;
	uint8_t bytes[KEY_MAX];
	uint8_t len; /* 0: the entry is empty */
	uint8_t slot;
	uint8_t size; /* the instruction's length; 0: not an instruction capstone knows */
	char text[TEXT_MAX];
};

struct per_thread {
	csh h[NSLOTS];
	cs_insn *insn[NSLOTS]; /* cs_disasm_iter's output, one per open handle */
	uint8_t opened[NSLOTS];
	uint8_t last_way[CACHE_SETS]; /* the way hit or filled last: the other one is replaced */
	struct entry cache[CACHE_SETS][CACHE_WAYS];
};

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread struct per_thread *mine;

static void close_handles(void *p)
{
	struct per_thread *pt = p;

	for (int i = 0; i < NSLOTS; i++)
		if (pt->opened[i]) {
			cs_free(pt->insn[i], 1);
			cs_close(&pt->h[i]);
		}
	free(pt);
	mine = NULL;
}

/* Once per process, before any thread's first use (per_thread). Capstone 4 sorts a table of
 * its own, with no lock, the first time it prints an x86 instruction (X86_insn_reg_intel,
 * arch/X86/X86Mapping.c): threads printing their first instructions at once sort and copy
 * over it together, and one may search it while another rewrites it (capstone issues
 * #1358, #1647). One instruction printed here does that sort alone. */
static void make_key(void)
{
	static const uint8_t in_al_dx[] = {0xec};
	cs_insn *insn;
	csh h;

	pthread_key_create(&key, close_handles);
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return; /* every thread's own cs_open fails the same way */
	if (cs_disasm(h, in_al_dx, sizeof(in_al_dx), 0, 1, &insn) == 1)
		cs_free(insn, 1);
	cs_close(&h);
}

static struct per_thread *per_thread(void)
{
	if (!mine) {
		pthread_once(&key_once, make_key);
		mine = calloc(1, sizeof(*mine));
		if (mine)
			pthread_setspecific(key, mine);
	}
	return mine;
}

static int open_slot(struct per_thread *pt, cs_arch ca, cs_mode cm, int slot)
{
	if (pt->opened[slot])
		return 0;
	if (cs_open(ca, cm, &pt->h[slot]) != CS_ERR_OK)
		return -1;
	pt->insn[slot] = cs_malloc(pt->h[slot]);
	if (!pt->insn[slot]) {
		cs_close(&pt->h[slot]);
		return -1;
	}
	pt->opened[slot] = 1;
	return 0;
}

/* Capstone's text of the first instruction of bytes[0..len) at addr, into text[TEXT_MAX];
 * its length, or 0. */
static size_t decode(struct per_thread *pt, int slot, const uint8_t *bytes, size_t len,
		     uint64_t addr, char *text)
{
	cs_insn *insn = pt->insn[slot];
	const uint8_t *code = bytes;
	size_t left = len;
	uint64_t at = addr;

	if (!cs_disasm_iter(pt->h[slot], &code, &left, &at, insn)) {
		snprintf(text, TEXT_MAX, "(not an instruction capstone knows)");
		return 0;
	}
	if (insn->op_str[0])
		snprintf(text, TEXT_MAX, "%s %s", insn->mnemonic, insn->op_str);
	else
		snprintf(text, TEXT_MAX, "%s", insn->mnemonic);
	return insn->size;
}

/* snprintf(out, out_size, "%s", text) without parsing a format: a hit costs little else */
static void copy_out(char *out, size_t out_size, const char *text)
{
	size_t n = strlen(text);

	if (!out_size)
		return;
	if (n >= out_size)
		n = out_size - 1;
	memcpy(out, text, n);
	out[n] = 0;
}

static unsigned set_of(int slot, const uint8_t *bytes, size_t len, uint64_t addr)
{
	uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)slot << 8 | len); /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ bytes[i]) * 0x100000001b3ull;
	h = (h ^ addr) * 0x100000001b3ull;
	h ^= h >> 29;
	return (unsigned)h & (CACHE_SETS - 1);
}

static size_t disasm(cs_arch ca, cs_mode cm, int slot, const char *what, const uint8_t *bytes,
		     size_t len, uint64_t addr, char *out, size_t out_size)
{
	struct per_thread *pt = per_thread();
	struct entry *set, *e;
	unsigned s, way;
	char text[TEXT_MAX];
	size_t size;

	if (!pt || open_slot(pt, ca, cm, slot)) {
		snprintf(out, out_size, "(capstone cannot open %s)", what);
		return 0;
	}
	if (!len || len > KEY_MAX) {
		size = decode(pt, slot, bytes, len, addr, text);
		copy_out(out, out_size, text);
		return size;
	}
	s = set_of(slot, bytes, len, addr);
	set = pt->cache[s];
	for (way = 0; way < CACHE_WAYS; way++) {
		e = &set[way];
		if (e->len == len && e->slot == slot && e->addr == addr &&
		    !memcmp(e->bytes, bytes, len)) {
			pt->last_way[s] = (uint8_t)way;
			copy_out(out, out_size, e->text);
			return e->size;
		}
	}
	way = (pt->last_way[s] + 1) % CACHE_WAYS;
	e = &set[way];
	e->size = (uint8_t)decode(pt, slot, bytes, len, addr, e->text);
	memcpy(e->bytes, bytes, len);
	e->len = (uint8_t)len;
	e->slot = (uint8_t)slot;
	e->addr = addr;
	pt->last_way[s] = (uint8_t)way;
	copy_out(out, out_size, e->text);
	return e->size;
}

size_t xg_disasm_one(enum xg_arch arch, const uint8_t *bytes, size_t len, uint64_t addr, char *out,
		     size_t out_size)
{
	if (arch == XG_ARCH_X86_64)
		return disasm(CS_ARCH_X86, CS_MODE_64, 0, "x86_64", bytes, len, addr, out,
			      out_size);
	if (arch == XG_ARCH_ARM64)
		return disasm(CS_ARCH_ARM64, CS_MODE_ARM, 1, "arm64", bytes, len, addr, out,
			      out_size);
	snprintf(out, out_size, "(no disassembler for %s)", xg_arch_name(arch));
	return 0;
}

size_t xg_disasm_x86(unsigned bits, const uint8_t *bytes, size_t len, uint64_t addr, char *out,
		     size_t out_size)
{
	if (bits == 64)
		return disasm(CS_ARCH_X86, CS_MODE_64, 0, "x86_64", bytes, len, addr, out,
			      out_size);
	if (bits == 32)
		return disasm(CS_ARCH_X86, CS_MODE_32, 2, "x86 32-bit", bytes, len, addr, out,
			      out_size);
	if (bits == 16)
		return disasm(CS_ARCH_X86, CS_MODE_16, 3, "x86 16-bit", bytes, len, addr, out,
			      out_size);
	snprintf(out, out_size, "(no x86 mode of %u bits)", bits);
	return 0;
}
