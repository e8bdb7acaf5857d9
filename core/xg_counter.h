/*
 * xg_counter.h - a counter one thread adds to and any thread reads while it runs (the
 * engine's per-vCPU statistics, the run's exits by reason).
 *
 * With one writer an addition needs no read-modify-write: a relaxed load and a relaxed store
 * (two plain moves on x86, no locked instruction on the exit path) are enough, and a reader's
 * relaxed load sees the counter whole and at most a few additions old (C11 7.17.3).
 */
#ifndef XG_COUNTER_H
#define XG_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

/* On the writer's thread only. */
static inline void xg_counter_add(_Atomic uint64_t *n, uint64_t k)
{
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + k,
			      memory_order_relaxed);
}

/* Any thread. */
static inline uint64_t xg_counter_get(const _Atomic uint64_t *n)
{
	return atomic_load_explicit(n, memory_order_relaxed);
}

#endif
