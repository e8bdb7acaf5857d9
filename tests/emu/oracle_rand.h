/*
 * oracle_rand.h - the random numbers of the CPU oracles (t_emu_random, t_emu_length,
 * t_emu_real): splitmix64, seeded so that one case can be rerun alone, and the seed as the
 * suite and a person choose it.
 */
#ifndef XG_ORACLE_RAND_H
#define XG_ORACLE_RAND_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The suite's runs use a fixed seed, so that what CI judged can be rerun as it was. */
#define XG_SUITE_SEED 20261201ull

static uint64_t rs; /* the generator's state: a case sets it from (seed, index) */

static inline uint64_t rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* XG_SEED=random draws a new seed (the caller prints it), XG_SEED=n takes n; otherwise the
 * suite's. */
static inline uint64_t xg_oracle_seed(void)
{
	const char *e = getenv("XG_SEED");

	if (!e)
		return XG_SUITE_SEED;
	return !strcmp(e, "random") ? (uint64_t)getpid() ^ (uint64_t)time(NULL)
				    : strtoull(e, NULL, 0);
}

#endif
