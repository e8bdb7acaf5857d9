/*
 * alloc_count.h - a counting allocator for one test or benchmark program (include it in
 * exactly one file of the program): every malloc, calloc, realloc and aligned allocation the
 * calling thread makes between alloc_count_start() and alloc_count_stop() is counted, the
 * engine's and Lua's included (the policy states' allocator, sandbox.c l_alloc, allocates
 * through realloc).
 *
 * Plain builds interpose the allocator functions and hand every call to glibc's own
 * (__libc_malloc ...). Under AddressSanitizer (XG_SANITIZE) or ThreadSanitizer the sanitizer
 * owns malloc, so its allocation hooks count instead
 * (__sanitizer_install_malloc_and_free_hooks): they see the same calls.
 */
#ifndef XG_ALLOC_COUNT_H
#define XG_ALLOC_COUNT_H

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static __thread int alloc_counting;
static __thread uint64_t alloc_count_n, alloc_free_n;

#include "sanitizer.h"

/* A sanitizer owns malloc */
#if defined(XG_UNDER_ASAN) || defined(XG_UNDER_TSAN)
/* the sanitizers' (sanitizer/allocator_interface.h, not installed with every gcc) */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
					      void (*free_hook)(const volatile void *));

static void alloc_count_malloc_hook(const volatile void *p, size_t size)
{
	if (alloc_counting)
		alloc_count_n++;
}

static void alloc_count_free_hook(const volatile void *p)
{
	if (alloc_counting)
		alloc_free_n++;
}

static void alloc_count_init(void)
{
	static int done;

	if (!done)
		__sanitizer_install_malloc_and_free_hooks(alloc_count_malloc_hook,
							  alloc_count_free_hook);
	done = 1;
}
#else
#include <errno.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
	alloc_count_n += alloc_counting;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	alloc_count_n += alloc_counting;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	/* realloc(p, 0) frees; any other call may move the block: an allocation */
	if (p && !n)
		alloc_free_n += alloc_counting;
	else
		alloc_count_n += alloc_counting;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p)
		alloc_free_n += alloc_counting;
	__libc_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
	alloc_count_n += alloc_counting;
	return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
	alloc_count_n += alloc_counting;
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	alloc_count_n += alloc_counting;
	p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void alloc_count_init(void)
{
}
#endif

/* Start counting this thread's allocations from zero. */
static inline void alloc_count_start(void)
{
	alloc_count_init();
	alloc_count_n = alloc_free_n = 0;
	alloc_counting = 1;
}

/* Stop; the allocations counted since alloc_count_start (*frees: the frees). */
static inline uint64_t alloc_count_stop(uint64_t *frees)
{
	alloc_counting = 0;
	if (frees)
		*frees = alloc_free_n;
	return alloc_count_n;
}

#endif
