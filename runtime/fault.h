/* SPDX-License-Identifier: MIT */
/*
 * fault.h - fault-injection points (configure --enable-fault-injection).
 *
 * Every allocation, thread creation and futex wait in the runtime goes
 * through one of these sites, so a test can make the Nth one fail and check
 * that the caller returns a clear error and loses nothing. In normal builds
 * filch__fault_hit() is constant false and costs nothing.
 */
#ifndef FILCH_FAULT_H
#define FILCH_FAULT_H

#include <stdbool.h>

enum filch__fault_site {
	FILCH__FAULT_ALLOC,	/* malloc, calloc, aligned_alloc fail (NULL) */
	FILCH__FAULT_THREAD,	/* pthread_create fails (EAGAIN) */
	FILCH__FAULT_FUTEX,	/* a futex wait returns early (spurious) */
	FILCH__FAULT_NSITES,
};

#ifdef FILCH_FAULT_INJECTION
/* True when this call at site s is the one chosen to fail. */
bool filch__fault_hit(enum filch__fault_site s);
#else
static inline bool filch__fault_hit(enum filch__fault_site s)
{
	(void)s;
	return false;
}
#endif

#endif /* FILCH_FAULT_H */
