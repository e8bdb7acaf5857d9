/*
 * cache.c - the verdict cache: when a policy says a verdict holds for every exit of a shape
 * (xg.cache(v, "insn")), later exits of that shape are answered here without Lua. Fixed
 * size, direct mapped, per vCPU (no lock, no allocation); cleared when the policy changes.
 */
#include <string.h>

#include "engine/engine_int.h"

static const char *const shape_names[XG_CSHAPE_COUNT] = {
    [XG_CSHAPE_KIND] = "kind", [XG_CSHAPE_INSN] = "insn", [XG_CSHAPE_MMIO] = "mmio",
    [XG_CSHAPE_PORT] = "port", [XG_CSHAPE_MSR] = "msr",	  [XG_CSHAPE_GPA_PAGE] = "gpa_page",
};

int xg_cache_shape_from_name(const char *name)
{
	for (int i = 1; i < XG_CSHAPE_COUNT; i++)
		if (!strcmp(name, shape_names[i]))
			return i;
	return 0;
}

static void put(struct xg_cache_key *k, const void *p, size_t n)
{
	memcpy(k->b + k->len, p, n);
	k->len = (uint8_t)(k->len + n);
}

/* The key of x under a shape, or -1 when the shape does not apply to this exit. */
static int make_key(const struct xg_exit *x, int shape, struct xg_cache_key *k)
{
	uint64_t w;

	memset(k, 0, sizeof(*k));
	k->reason = x->reason;
	k->shape = (uint8_t)shape;
	k->kind = x->kind;
	switch (shape) {
	case XG_CSHAPE_KIND:
		return 0;
	case XG_CSHAPE_INSN:
		if (x->reason != 17 || !x->u.internal.has_insn || !x->u.internal.insn_size)
			return -1;
		put(k, &x->u.internal.insn_size, 1);
		put(k, x->u.internal.insn, x->u.internal.insn_size);
		return 0;
	case XG_CSHAPE_MMIO:
		if (x->reason != 6)
			return -1;
		w = x->u.mmio.phys_addr >> 12;
		put(k, &w, 8);
		put(k, &x->u.mmio.len, 4);
		put(k, &x->u.mmio.is_write, 1);
		return 0;
	case XG_CSHAPE_PORT:
		if (x->reason != 2)
			return -1;
		put(k, &x->u.io.port, 2);
		put(k, &x->u.io.size, 1);
		put(k, &x->u.io.direction, 1);
		return 0;
	case XG_CSHAPE_MSR:
		if (x->reason != 29 && x->reason != 30)
			return -1;
		put(k, &x->u.msr.index, 4);
		return 0;
	case XG_CSHAPE_GPA_PAGE:
		if (x->reason == 39)
			w = x->u.memory_fault.gpa >> 12;
		else if (x->reason == 28)
			w = x->u.arm_nisv.fault_ipa >> 12;
		else if (x->reason == 6)
			w = x->u.mmio.phys_addr >> 12;
		else
			return -1;
		put(k, &w, 8);
		return 0;
	}
	return -1;
}

/* The first of the two slots a key may live in (2-way: slot and slot ^ 1). The hash leaves
 * out the kind pointer, whose value changes from run to run with ASLR, so which keys
 * share a slot is the same on every run; the kind's name goes in instead. */
static unsigned slot(const struct xg_cache_key *k)
{
	uint64_t w[sizeof(*k) / 8], h = 0x9e3779b97f4a7c15ull;
	struct xg_cache_key c = *k;

	_Static_assert(sizeof(*k) % 8 == 0, "cache key is whole words");
	c.kind = NULL;
	memcpy(w, &c, sizeof(w));
	for (const char *p = k->kind; p && *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
	return ((unsigned)(h >> 56) % XG_CACHE_SIZE) & ~1u;
}

const struct xg_verdict *xg_cache_lookup(struct xg_cache *c, const struct xg_exit *x)
{
	struct xg_cache_key k;

	for (unsigned s = c->shapes; s; s &= s - 1) {
		int shape = __builtin_ctz(s);
		if (make_key(x, shape, &k))
			continue;
		struct xg_cache_ent *e = &c->e[slot(&k)];
		for (int way = 0; way < 2; way++)
			if (e[way].used && !memcmp(&e[way].key, &k, sizeof(k)))
				return &e[way].v;
	}
	return NULL;
}

int xg_cache_store(struct xg_cache *c, int shape, const struct xg_exit *x,
		   const struct xg_verdict *v)
{
	struct xg_cache_key k;
	struct xg_cache_ent *e;

	if (make_key(x, shape, &k))
		return -1;
	e = &c->e[slot(&k)];
	/* the way holding this key, else a free way, else the second (the first keeps the
	 * older entry: what was cached first is usually the most frequent) */
	if (!(e[0].used && !memcmp(&e[0].key, &k, sizeof(k))) &&
	    ((e[1].used && !memcmp(&e[1].key, &k, sizeof(k))) || e[0].used))
		e = &e[1];
	e->key = k;
	e->v = *v;
	e->used = 1;
	c->shapes |= 1u << shape;
	c->gen++;
	return 0;
}

unsigned xg_cache_clear(struct xg_cache *c)
{
	unsigned n = 0;

	c->gen++;
	if (!c->shapes)
		return 0;
	for (unsigned i = 0; i < XG_CACHE_SIZE; i++) {
		n += c->e[i].used;
		c->e[i].used = 0;
	}
	c->shapes = 0;
	return n;
}
