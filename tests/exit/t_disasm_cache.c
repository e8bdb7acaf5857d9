/*
 * t_disasm_cache.c - xg_disasm_one/xg_disasm_x86 (disasm.c) keep a per-thread cache of
 * instruction texts: it gives exactly what capstone gives uncached (the same text, the same
 * length, the same truncation) for random byte strings in every mode and at several
 * addresses, also when two threads disassemble at once; a repeated instruction does not run
 * capstone again; and once a thread's handles are open nothing allocates.
 * Capstone's memory and printf hooks (CS_OPT_MEM) count what capstone does. The random
 * seed is printed; XG_SEED=n repeats a run.
 */
#include <capstone.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disasm/disasm.h"
#include "tap.h"

static atomic_long n_alloc, n_print;

static void *c_malloc(size_t n)
{
	atomic_fetch_add(&n_alloc, 1);
	return malloc(n);
}

static void *c_calloc(size_t n, size_t m)
{
	atomic_fetch_add(&n_alloc, 1);
	return calloc(n, m);
}

static void *c_realloc(void *p, size_t n)
{
	atomic_fetch_add(&n_alloc, 1);
	return realloc(p, n);
}

__attribute__((format(printf, 3, 0))) static int c_vsnprintf(char *s, size_t n, const char *fmt,
							     va_list ap)
{
	atomic_fetch_add(&n_print, 1);
	return vsnprintf(s, n, fmt, ap);
}

/* the modes: x86 16/32/64-bit (xg_disasm_x86) and arm64 (xg_disasm_one) */
#define NMODES 4
static const struct {
	const char *name;
	cs_arch arch;
	cs_mode mode;
	unsigned bits;
} modes[NMODES] = {
    {"x86-16", CS_ARCH_X86, CS_MODE_16, 16},
    {"x86-32", CS_ARCH_X86, CS_MODE_32, 32},
    {"x86-64", CS_ARCH_X86, CS_MODE_64, 64},
    {"arm64", CS_ARCH_ARM64, CS_MODE_ARM, 0},
};

static size_t cached(int m, const uint8_t *b, size_t len, uint64_t addr, char *out, size_t n)
{
	if (modes[m].bits)
		return xg_disasm_x86(modes[m].bits, b, len, addr, out, n);
	return xg_disasm_one(XG_ARCH_ARM64, b, len, addr, out, n);
}

/* What disasm.c printed before it had a cache: one cs_disasm call. */
static size_t uncached(csh h, const uint8_t *b, size_t len, uint64_t addr, char *out, size_t n)
{
	cs_insn *insn;
	size_t k = cs_disasm(h, b, len, addr, 1, &insn), size = 0;

	if (k == 1) {
		if (insn[0].op_str[0])
			snprintf(out, n, "%s %s", insn[0].mnemonic, insn[0].op_str);
		else
			snprintf(out, n, "%s", insn[0].mnemonic);
		size = insn[0].size;
		cs_free(insn, k);
	} else {
		snprintf(out, n, "(not an instruction capstone knows)");
	}
	return size;
}

/* A pool of random byte strings, bigger than the cache, so lookups hit, miss and evict. */
#define POOL 300
static uint8_t pool[POOL][24];
static size_t pool_len[POOL];
static const uint64_t addrs[] = {0, 0x1000, 0xfffffffffffffff0ull, 0x7ffff000};

struct run {
	unsigned seed;
	int lookups;
	int mismatches;
	char first_bad[512];
};

/* `lookups` random (string, mode, address, output size) lookups compared with cs_disasm. */
static void *compare(void *arg)
{
	struct run *r = arg;
	csh h[NMODES];
	unsigned s = r->seed;

	for (int m = 0; m < NMODES; m++)
		if (cs_open(modes[m].arch, modes[m].mode, &h[m]) != CS_ERR_OK)
			bail("cs_open %s failed", modes[m].name);
	for (int i = 0; i < r->lookups; i++) {
		int p = rand_r(&s) % POOL, m = rand_r(&s) % NMODES;
		uint64_t addr = addrs[rand_r(&s) % 4];
		size_t n = rand_r(&s) % 8 ? 160 : 1 + rand_r(&s) % 24; /* sometimes truncated */
		char got[160], want[160];
		size_t gs = cached(m, pool[p], pool_len[p], addr, got, n);
		size_t ws = uncached(h[m], pool[p], pool_len[p], addr, want, n);

		if (gs != ws || strcmp(got, want)) {
			if (!r->mismatches++) {
				int o = snprintf(r->first_bad, sizeof(r->first_bad),
						 "%s at 0x%llx, out size %zu, bytes", modes[m].name,
						 (unsigned long long)addr, n);
				for (size_t j = 0; j < pool_len[p]; j++)
					o += snprintf(r->first_bad + o, sizeof(r->first_bad) - o,
						      " %02x", pool[p][j]);
				snprintf(r->first_bad + o, sizeof(r->first_bad) - o,
					 ": cached '%s' (%zu), capstone '%s' (%zu)", got, gs, want,
					 ws);
			}
		}
	}
	for (int m = 0; m < NMODES; m++)
		cs_close(&h[m]);
	return NULL;
}

int main(void)
{
	cs_opt_mem mem = {c_malloc, c_calloc, c_realloc, free, c_vsnprintf};
	const char *env = getenv("XG_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL);
	/* fld dword ptr [rax + 0x12345678]: its displacement goes through capstone's printf */
	static const uint8_t fld[] = {0xd9, 0x80, 0x78, 0x56, 0x34, 0x12};
	char text[160];
	long a0, p0;

	if (cs_option(0, CS_OPT_MEM, (size_t)&mem) != CS_ERR_OK)
		bail("capstone's CS_OPT_MEM failed");
	diag("seed %u (XG_SEED=%u repeats this run)", seed, seed);
	srand(seed);
	for (int p = 0; p < POOL; p++) {
		/* mostly instruction-sized; some empty, some past the cache's 16-byte keys */
		pool_len[p] = p % 50 == 0 ? 0 : p % 25 == 1 ? 17 + rand() % 8 : 1 + rand() % 15;
		for (size_t j = 0; j < sizeof(pool[p]); j++)
			pool[p][j] = (uint8_t)rand();
	}
	/* the same bytes in every mode are different instructions */
	memcpy(pool[3], "\x8b\x07", 2), pool_len[3] = 2;
	/* a branch: its text depends on the address */
	memcpy(pool[4], "\xe8\x10\x00\x00\x00", 5), pool_len[4] = 5;

	/* one thread */
	{
		struct run r = {seed, 40000, 0, ""};
		compare(&r);
		if (!is_int(r.mismatches, 0, "%d random lookups in 4 modes match uncached capstone",
			    r.lookups))
			diag("first: %s", r.first_bad);
	}

	/* a repeated instruction runs capstone once, and nothing allocates once warm */
	a0 = atomic_load(&n_alloc), p0 = atomic_load(&n_print);
	is_int(xg_disasm_x86(64, (const uint8_t *)"\x48\x8b\x44\x24\x08", 5, 0, text, sizeof(text)),
	       5, "a new instruction: mov rax, qword ptr [rsp + 8]");
	ok(atomic_load(&n_print) > p0, "capstone printed it (%ld printf calls)",
	   atomic_load(&n_print) - p0);
	p0 = atomic_load(&n_print);
	for (int i = 0; i < 1000; i++)
		xg_disasm_x86(64, fld, sizeof(fld), 0x1000, text, sizeof(text));
	is_str(text, "fld dword ptr [rax + 0x12345678]", "fld read 1000 times");
	ok(atomic_load(&n_print) - p0 > 0 && atomic_load(&n_print) - p0 < 20,
	   "capstone ran for the first read only (%ld printf calls for 1000 reads)",
	   atomic_load(&n_print) - p0);
	a0 = atomic_load(&n_alloc);
	for (int i = 0; i < 2000; i++) {
		uint8_t b[6];
		memcpy(b, fld, sizeof(b));
		b[2] = (uint8_t)i, b[3] = (uint8_t)(i >> 8); /* 2000 instructions: misses */
		xg_disasm_x86(64, b, sizeof(b), 0, text, sizeof(text));
		xg_disasm_one(XG_ARCH_ARM64, b, 4, 0, text, sizeof(text));
	}
	is_int(atomic_load(&n_alloc) - a0, 0,
	       "no allocation in 4000 disassemblies once the thread's handles are open");

	/* two threads at once, each with its own handles and cache */
	{
		struct run r[2] = {{seed + 1, 20000, 0, ""}, {seed + 2, 20000, 0, ""}};
		pthread_t t[2];

		for (int i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, compare, &r[i]))
				bail("pthread_create failed");
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			if (!is_int(r[i].mismatches, 0,
				    "thread %d: %d lookups alongside the other thread match", i,
				    r[i].lookups))
				diag("first: %s", r[i].first_bad);
		}
	}
	return done_testing();
}
