/* SPDX-License-Identifier: MIT */
/*
 * spare.h - keeping the pool's parallelism while workers block in waits:
 * spare workers (spare.c has the protocol).
 */
#ifndef FILCH_SPARE_H
#define FILCH_SPARE_H

#include <pthread.h>
#include <stdbool.h>

#include <filch.h>

struct filch__worker;

/* Default bound on spare threads per executor (Java's ForkJoinPool allows
 * 256 threads beyond its parallelism by default). */
#define FILCH__DEFAULT_MAX_SPARES 256u

/* No spare on the dormant stack. */
#define FILCH__NO_SPARE (~0u)

/*
 * The executor's spare bookkeeping. The counts change under lock (every
 * change is on a slow path: a worker about to sleep, or a spare retiring);
 * active and excess are also read without it (see spare.c).
 */
struct filch__spares {
	pthread_mutex_t lock;
	unsigned started;	  /* spare threads started (slots in use) */
	_Atomic unsigned active;  /* spares standing in, not dormant */
	unsigned blocked;	  /* workers (spares too) blocked in a wait */
	_Atomic bool excess;	  /* active > blocked: a spare may retire */
	unsigned dormant_top;	  /* a stack of dormant spares' indices */
	_Atomic unsigned long long refused; /* waits that found no spare */
};

void filch__spares_init(struct filch__spares *s);
void filch__spares_destroy(struct filch__spares *s);

/*
 * Called by a spare between tasks, with its deque empty: when more spares
 * stand in than workers are blocked, it goes dormant until a blocked
 * worker needs it again or the executor terminates. Returns true when the
 * executor terminated (the spare's thread then exits).
 */
bool filch__spare_maybe_retire(struct filch__worker *w);

/* Whether w is a spare and more spares stand in than workers are blocked:
 * asked (under the lock) by a spare about to park, after it stored
 * SLEEPING, so that a kick from filch__block_end cannot miss it. */
bool filch__spare_surplus(struct filch__worker *w);

/* Whether w is a spare that should try to retire (a relaxed look). */
bool filch__spare_should_retire(const struct filch__worker *w);

#endif /* FILCH_SPARE_H */
