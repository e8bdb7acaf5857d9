/*
 * arena.c - the build arena of a Lua state. Building a state (sandbox.c xg_lstate_new: the
 * standard libraries, the exitgate module, the policy's load) makes ~1,000 small
 * allocations and frees a few hundred of them, and a reload builds one state per vCPU, on
 * several threads, before any of them serves. Through malloc that was a third of a build's
 * instructions and kept two builder threads from scaling (bench_engine's reload of 64
 * states, best: 3.7-4.1 ms on one core and 2.2-2.7 on two; with the arena 2.8-3.0 and
 * 1.6-2.1).
 *
 * Blocks are bumped from the arena's bottom, 16-byte aligned as malloc's are (Lua needs
 * LUAI_MAXALIGN, 8). A block freed or shrunk at the top gives its bytes back and one grown
 * at the top grows in place (Lua grows its buffers and vectors that way while it parses); a
 * freed block of up to 512 bytes goes to its size's free list for the next block of that
 * size; any other freed block's bytes stay unused until the state is closed (the build's
 * garbage: ~10-15 KiB for the policies in policies/). Where the arena is full, or closed
 * (the build ended: sandbox.c closes it, so what a policy allocates and frees while it
 * serves never piles up here), blocks come from malloc as before.
 *
 * Under AddressSanitizer every byte of the arena outside a live block's size is poisoned
 * (free-list links are unpoisoned only while they are read or written) and every block is
 * followed by 16 poisoned bytes, so what ASan checks - exitgate's own code, and the libc
 * calls it intercepts from Lua's (Debian's liblua is not instrumented) - still sees a use
 * after free or an overflow in a built state (the sanitizer build, .ci/run; t_engine_arena).
 * It sees fewer than with its own malloc: a block freed during the build is reused at
 * once, with no quarantine.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/arena.h"

#if defined(__SANITIZE_ADDRESS__)
#define XG_ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XG_ARENA_ASAN 1
#endif
#endif
#ifdef XG_ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define XG_ARENA_RZ 16
#define poison(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define XG_ARENA_RZ 0
#define poison(p, n) ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

/* the bytes a block of n takes */
static inline size_t span(size_t n)
{
	return ((n + 15) & ~(size_t)15) + XG_ARENA_RZ;
}

void xg_arena_init(struct xg_arena *a, size_t size)
{
	memset(a, 0, sizeof(*a));
	a->base = malloc(size);
	a->size = a->base ? size : 0;
	a->open = 1;
	poison(a->base, a->size);
}

void xg_arena_fini(struct xg_arena *a)
{
	unpoison(a->base, a->size);
	free(a->base);
	memset(a, 0, sizeof(*a));
}

void xg_arena_free(struct xg_arena *a, void *ptr, size_t osize)
{
	size_t at = (size_t)((char *)ptr - a->base), sz = span(osize);

	if (at + sz == a->top) {
		a->top = at;
		poison(ptr, sz);
	} else if (sz <= XG_ARENA_CLASSES * 16) {
		unpoison(ptr, sizeof(void *)); /* the link, while it is written */
		*(void **)ptr = a->free[sz / 16 - 1];
		a->free[sz / 16 - 1] = ptr;
		poison(ptr, sz);
	} else {
		poison(ptr, sz);
	}
}

void *xg_arena_realloc(struct xg_arena *a, void *ptr, size_t osize, size_t nsize)
{
	/* a block the arena could never hold goes to malloc (and span cannot wrap) */
	size_t need = nsize < a->size ? span(nsize) : SIZE_MAX;
	void *p;

	if (ptr) {
		size_t at = (size_t)((char *)ptr - a->base);
		int top = at + span(osize) == a->top;
		if (nsize <= osize) {
			/* in place; a block shrunk below the top is freed later by its new size,
			 * into a smaller class than it spans, which is safe (its tail is lost) */
			poison(ptr, span(osize));
			unpoison(ptr, nsize);
			if (top)
				a->top = at + need;
			return ptr;
		}
		if (top && a->open && need <= a->size - at) {
			a->top = at + need;
			unpoison(ptr, nsize);
			return ptr;
		}
	}
	if (a->open && need <= XG_ARENA_CLASSES * 16 && a->free[need / 16 - 1]) {
		p = a->free[need / 16 - 1];
		unpoison(p, sizeof(void *)); /* the link, while it is read */
		a->free[need / 16 - 1] = *(void **)p;
		poison(p, need);
		unpoison(p, nsize);
	} else if (a->open && need <= a->size - a->top) {
		p = a->base + a->top;
		a->top += need;
		unpoison(p, nsize);
	} else if (!(p = malloc(nsize))) {
		return NULL;
	}
	if (ptr) {
		memcpy(p, ptr, osize);
		xg_arena_free(a, ptr, osize);
	}
	return p;
}
