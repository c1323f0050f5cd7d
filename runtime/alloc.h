/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - the runtime's only way to allocate from the heap, so that fault
 * injection reaches every allocation site (see fault.h).
 */
#ifndef FILCH_ALLOC_H
#define FILCH_ALLOC_H

#include <stdlib.h>

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

#endif /* FILCH_ALLOC_H */
