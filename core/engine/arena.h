/*
 * arena.h - the build arena of a Lua state (arena.c): what a state allocates while it is
 * built comes from one block of its own instead of malloc.
 */
#ifndef XG_ARENA_H
#define XG_ARENA_H

#include <stddef.h>
#include <stdint.h>

#define XG_ARENA_SIZE (64u << 10)
#define XG_ARENA_CLASSES 32 /* freed blocks of up to 512 bytes are reused */

struct xg_arena {
	char *base;	     /* NULL: no arena (malloc serves everything) */
	size_t top, size;    /* bytes handed out from the bottom; the block's size */
	int open;	     /* new blocks come from here (else from malloc) */
	void *free[XG_ARENA_CLASSES]; /* freed blocks by size, 16 bytes apart */
};

/* A block of `size` bytes (0 if malloc fails: then there is no arena), open. */
void xg_arena_init(struct xg_arena *a, size_t size);
/* Frees the block: every block of it must be unused by then (the state is closed). */
void xg_arena_fini(struct xg_arena *a);

/* Whether p is a block of the arena (p may be NULL). */
static inline int xg_arena_owns(const struct xg_arena *a, const void *p)
{
	return (uintptr_t)p - (uintptr_t)a->base < a->size;
}

/*
 * realloc() for a block of the arena (ptr owned, osize its size) or a new block (ptr NULL,
 * the arena open); nsize > 0. Where the arena has no room, or is closed, the block moves
 * to malloc. NULL only if that malloc fails (ptr is then untouched).
 */
void *xg_arena_realloc(struct xg_arena *a, void *ptr, size_t osize, size_t nsize);
/* free() for a block of the arena of osize bytes */
void xg_arena_free(struct xg_arena *a, void *ptr, size_t osize);

#endif
