/*
 * t_engine_arena.c - the build arena of a Lua state (core/engine/arena.c).
 *
 * 1. The arena against a model: seeded random runs of new, free, grow and shrink (sizes
 *    from 1 byte to 20 KiB, so blocks fill the arena and spill to malloc), the arena closed
 *    part way in some runs. Every live block holds a pattern of its own, checked after each
 *    operation on it and all of them every 64 operations: a block handed out twice, or
 *    overlapping another, or moved without its bytes, shows as a wrong byte. Blocks must be
 *    16-byte aligned, come from the arena only while it is open and has room, and the
 *    arena must have served many of them. Under AddressSanitizer, a live block must be
 *    addressable up to its size and poisoned at the byte after it, and a freed one poisoned
 *    whole. The seed is printed; XG_SEED=N repeats a run.
 * 2. Lua on it: policies whose top level (built in the arena) churns tables and strings,
 *    within the arena and far beyond it, and whose handlers go on changing those tables
 *    while they serve (blocks of the arena freed and moved after it closed), each checking
 *    two records of the same data against each other on every exit; then 24 vCPUs built
 *    in parallel by a reload (engine.c build_all), each from its own seed.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_test.h"
#include "engine/arena.h"

#ifdef XG_UNDER_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define SLOTS 300

struct blk {
	unsigned char *p;
	size_t n;
	unsigned char tag;
};

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t rnd_size(void)
{
	uint64_t r = rnd() % 100;
	if (r < 60)
		return 1 + rnd() % 64;
	if (r < 85)
		return 65 + rnd() % 448;
	if (r < 97)
		return 513 + rnd() % 3584;
	return 4097 + rnd() % 16384;
}

static void fill(struct blk *b, size_t from)
{
	for (size_t i = from; i < b->n; i++)
		b->p[i] = (unsigned char)(b->tag + i * 7);
}

/* the first wrong byte's offset, or -1 */
static long bad_byte(const struct blk *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b->p[i] != (unsigned char)(b->tag + i * 7))
			return (long)i;
	return -1;
}

static int model_run(uint64_t seed, int ops, int close_at, int *from_arena, int *from_malloc,
		     char *why, size_t whylen)
{
	struct xg_arena a;
	struct blk s[SLOTS] = {{0}};
	unsigned char tag = 1;

	rng_state = seed ? seed : 1;
	xg_arena_init(&a, XG_ARENA_SIZE);
	if (!a.base) {
		snprintf(why, whylen, "no arena (malloc failed)");
		return -1;
	}
	for (int op = 0; op < ops; op++) {
		struct blk *b = &s[rnd() % SLOTS];
		uint64_t what = rnd() % 4;
		void *q;

		if (op == close_at)
			a.open = 0;
		if (!b->p) {
			size_t n = rnd_size();
			q = xg_arena_realloc(&a, NULL, 0, n);
			if (!q) {
				snprintf(why, whylen, "op %d: new block of %zu failed", op, n);
				return -1;
			}
			if (xg_arena_owns(&a, q) && !a.open) {
				snprintf(why, whylen, "op %d: a new block from a closed arena", op);
				return -1;
			}
			*(xg_arena_owns(&a, q) ? from_arena : from_malloc) += 1;
			b->p = q;
			b->n = n;
			b->tag = tag++;
			fill(b, 0);
		} else if (what == 0) {
			long at = bad_byte(b, b->n);
			if (at >= 0) {
				snprintf(why, whylen, "op %d: block of %zu wrong at byte %ld", op,
					 b->n, at);
				return -1;
			}
			if (xg_arena_owns(&a, b->p)) {
				xg_arena_free(&a, b->p, b->n);
#ifdef XG_UNDER_ASAN
				if (!__asan_region_is_poisoned(b->p, 1) ||
				    __asan_region_is_poisoned(b->p, b->n) != (void *)b->p) {
					snprintf(why, whylen, "op %d: a freed block is not poisoned",
						 op);
					return -1;
				}
#endif
			} else {
				free(b->p);
			}
			b->p = NULL;
		} else {
			/* grow (what 1, 2) or shrink (3) */
			size_t n = what == 3 ? 1 + rnd() % b->n : b->n + 1 + rnd() % 2048;
			size_t old = b->n;
			if (xg_arena_owns(&a, b->p))
				q = xg_arena_realloc(&a, b->p, b->n, n);
			else
				q = realloc(b->p, n);
			if (!q) {
				snprintf(why, whylen, "op %d: realloc %zu -> %zu failed", op, old, n);
				return -1;
			}
			b->p = q;
			b->n = n;
			if (bad_byte(b, n < old ? n : old) >= 0) {
				snprintf(why, whylen, "op %d: realloc %zu -> %zu lost bytes", op, old,
					 n);
				return -1;
			}
			fill(b, 0);
		}
		if (b->p && ((uintptr_t)b->p & 15)) {
			snprintf(why, whylen, "op %d: block %p not 16-byte aligned", op,
				 (void *)b->p);
			return -1;
		}
#ifdef XG_UNDER_ASAN
		if (b->p && __asan_region_is_poisoned(b->p, b->n)) {
			snprintf(why, whylen, "op %d: a live block of %zu is poisoned", op, b->n);
			return -1;
		}
		if (b->p && xg_arena_owns(&a, b->p) && !__asan_address_is_poisoned(b->p + b->n)) {
			snprintf(why, whylen, "op %d: the byte past a live block of %zu is not poisoned",
				 op, b->n);
			return -1;
		}
#endif
		if (a.top > a.size) {
			snprintf(why, whylen, "op %d: top %zu past the arena's %zu", op, a.top,
				 a.size);
			return -1;
		}
		if (op % 64 == 0)
			for (int i = 0; i < SLOTS; i++)
				if (s[i].p && bad_byte(&s[i], s[i].n) >= 0) {
					snprintf(why, whylen, "op %d: block %d (%zu bytes) overwritten",
						 op, i, s[i].n);
					return -1;
				}
	}
	for (int i = 0; i < SLOTS; i++)
		if (s[i].p) {
			if (xg_arena_owns(&a, s[i].p))
				xg_arena_free(&a, s[i].p, s[i].n);
			else
				free(s[i].p);
		}
	xg_arena_fini(&a);
	return 0;
}

static void model(void)
{
	const char *env = getenv("XG_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
	int fa = 0, fm = 0, failed = 0;
	char why[200] = "";

	diag("arena model: seed %#llx (XG_SEED=%#llx repeats it)", (unsigned long long)seed,
	     (unsigned long long)seed);
	for (int r = 0; r < 40 && !failed; r++) {
		/* half the runs close the arena part way, as the end of a build does */
		int close_at = r % 2 ? (int)(rnd() % 20000) : -1;
		if (model_run(seed + (uint64_t)r * 0x9e3779b97f4a7c15ull, 20000, close_at, &fa,
			      &fm, why, sizeof(why))) {
			diag("run %d (XG_SEED=%#llx, run seed %#llx): %s", r,
			     (unsigned long long)seed,
			     (unsigned long long)(seed + (uint64_t)r * 0x9e3779b97f4a7c15ull), why);
			failed = 1;
		}
	}
	ok(!failed, "40 runs of 20,000 operations: every block kept its bytes, none overlapped, "
		    "all 16-byte aligned, none new from a closed arena%s",
#ifdef XG_UNDER_ASAN
	   ", live blocks unpoisoned up to their size and poisoned past it, freed ones poisoned whole"
#else
	   ""
#endif
	);
	ok(fa > 1000 && fm > 1000, "blocks came from the arena (%d) and, once it was full or closed, "
				   "from malloc (%d)",
	   fa, fm);
}

/* two records of the same data (strings by key, their lengths by key) changed together at
 * load and on every exit, checked against each other */
static const char churn_policy[] =
    "local xg = require 'exitgate'\n"
    "local seed = xg.params.seed + xg.vcpu_index * 7919\n"
    "local function rnd() seed = (seed * 1103515245 + 12345) % 2147483648; return seed end\n"
    "local t, lens, junk = {}, {}, {}\n"
    "local function churn(n, maxlen)\n"
    "  for i = 1, n do\n"
    "    local k, op = rnd() % 2000, rnd() % 5\n"
    "    if op == 0 then t[k] = nil; lens[k] = nil\n"
    "    elseif op == 1 then local h = {} for j = 1, rnd() % 40 do h[j] = j end junk[k % 50] = h\n"
    "    else local n = rnd() % maxlen + 1; t[k] = string.rep(string.char(65 + k % 26), n); lens[k] = n end\n"
    "  end\n"
    "end\n"
    "local function check()\n"
    "  for k, n in pairs(lens) do\n"
    "    local s = t[k]\n"
    "    if not s or #s ~= n or s:byte(1) ~= 65 + k % 26 or s:byte(n) ~= 65 + k % 26 then return k end\n"
    "  end\n"
    "  for k in pairs(t) do if not lens[k] then return k end end\n"
    "end\n"
    "churn(xg.params.load_ops, xg.params.maxlen)\n"
    "local bad0 = check()\n"
    "return xg.policy { io = function(e)\n"
    "  if bad0 then return xg.stop('load: key ' .. bad0) end\n"
    "  churn(40, xg.params.maxlen)\n"
    "  local bad = check()\n"
    "  if bad then return xg.stop('exit: key ' .. bad) end\n"
    "  return xg.resume()\n"
    "end }\n";

static void lua_churn(const char *what, int load_ops, int maxlen, int vcpus)
{
	char extra[256];
	struct xg_error err = {{0}};
	static struct fake f[24];
	xg_vcpu *v[24];
	xg_engine *e;
	int bad = 0;
	char first[200] = "";

	snprintf(extra, sizeof(extra),
		 "    params: { seed: %d, load_ops: %d, maxlen: %d }\n"
		 "    limits: { memory: 32M, instructions: 50000000, time_ms: 5000 }\n",
		 (int)(rnd() % 100000), load_ops, maxlen);
	e = engine_with(churn_policy, extra, &err);
	if (!e) {
		ok(0, "%s: the policy loads (%s)", what, err.msg);
		return;
	}
	for (int i = 0; i < vcpus; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		v[i] = attach(e, &f[i]);
	}
	/* a reload builds every vCPU's state again, several at once */
	if (xg_engine_reload(e, &err)) {
		ok(0, "%s: the reload succeeds (%s)", what, err.msg);
		xg_engine_free(e);
		return;
	}
	for (int x = 0; x < 30; x++)
		for (int i = 0; i < vcpus; i++) {
			struct xg_result r = io(v[i], 0x80);
			if (r.next != XG_NEXT_RUN && !bad++)
				snprintf(first, sizeof(first), "vCPU %d exit %d: %s", i, x,
					 r.reason ? r.reason : "?");
		}
	ok(!bad, "%s: %d vCPU%s x 30 exits, the two records agree at load and after every "
		 "exit%s%s",
	   what, vcpus, vcpus > 1 ? "s" : "", bad ? "; first: " : "", first);
	xg_engine_free(e);
}

int main(void)
{
	model();
	rng_state = (uint64_t)time(NULL) | 1;
	/* ~1,200 small strings at load: within the arena */
	lua_churn("within the arena", 300, 60, 1);
	/* ~1 MB of strings up to 3,000 bytes at load: far beyond the arena's 64 KiB */
	lua_churn("beyond the arena", 3000, 3000, 1);
	lua_churn("24 vCPUs built in parallel", 400, 200, 24);
	lua_churn("24 vCPUs, beyond the arena", 2000, 1000, 24);
	cleanup_dir();
	return done_testing();
}
