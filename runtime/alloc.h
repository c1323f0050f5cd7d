/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - the runtime's only way to allocate from the heap, so that fault
 * injection reaches every allocation site (see fault.h).
 */
#ifndef FILCH_ALLOC_H
#define FILCH_ALLOC_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "fault.h"

static inline void *filch__malloc(size_t n)
{
	return filch__fault_hit(FILCH__FAULT_ALLOC) ? NULL : malloc(n);
}

static inline void *filch__calloc(size_t n, size_t size)
{
	return filch__fault_hit(FILCH__FAULT_ALLOC) ? NULL : calloc(n, size);
}

/* size must be a multiple of align (C11 aligned_alloc). */
static inline void *filch__aligned_alloc(size_t align, size_t size)
{
	return filch__fault_hit(FILCH__FAULT_ALLOC) ? NULL : aligned_alloc(align, size);
}

static inline void filch__free(void *p)
{
	free(p);
}

/*
 * size bytes of fresh zeroed memory aligned to size (a power of two, a
 * multiple of the page size), straight from the kernel, so that
 * filch__unmap gives them back at once: free() returns memory to the
 * kernel only from the top of a heap. Maps twice the size and unmaps
 * what lies outside the aligned middle.
 */
static inline void *filch__map_aligned(size_t size)
{
	char *p, *a;

	if (filch__fault_hit(FILCH__FAULT_ALLOC))
		return NULL;
	p = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + size - 1) & ~(uintptr_t)(size - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + size, size - (size_t)(a - p));
	return a;
}

static inline void filch__unmap(void *p, size_t size)
{
	munmap(p, size);
}

#endif /* FILCH_ALLOC_H */
