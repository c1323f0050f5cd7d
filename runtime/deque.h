/* SPDX-License-Identifier: MIT */
/*
 * deque.h - the per-worker Chase-Lev work-stealing deque (deque.c).
 *
 * Items are non-NULL pointers. One owner thread pushes and pops at the
 * bottom; any number of thieves steal at the top. The buffer doubles when
 * full; a replaced buffer is retired through liburcu and freed once no
 * thief can still read it.
 *
 * Synchronization:
 *   push  : owner only, never concurrently with pop or another push
 *   pop   : owner only
 *   steal : any thread registered with liburcu (rcu_register_thread), any
 *           number at once, concurrently with push and pop
 *   init / destroy : alone
 */
#ifndef FILCH_DEQUE_H
#define FILCH_DEQUE_H

#include <stddef.h>

struct filch__deque; /* layout: defined here by deque.c's author (workers embed it) */

enum filch__steal {
	FILCH__STEAL_OK = 0,	/* *item holds the stolen item */
	FILCH__STEAL_EMPTY = 1, /* nothing to steal */
	FILCH__STEAL_RETRY = 2, /* lost a race with another thief or the
				   owner; the deque may be non-empty */
};

/* Initial capacity 2^log2_capacity items. Returns 0 or -ENOMEM. */
int filch__deque_init(struct filch__deque *d, unsigned log2_capacity);
/* Frees the buffer and every retired buffer (waits for readers). */
void filch__deque_destroy(struct filch__deque *d);
/* Owner: pushes item at the bottom; grows when full. 0 or -ENOMEM (item not
 * pushed). No read-modify-write. */
int filch__deque_push(struct filch__deque *d, void *item);
/* Owner: pops the most recently pushed item, or NULL when empty. */
void *filch__deque_pop(struct filch__deque *d);
/* Thief: takes the oldest item. Lock-free. */
enum filch__steal filch__deque_steal(struct filch__deque *d, void **item);
/* Any thread: a racy estimate of the number of items (for heuristics). */
size_t filch__deque_size_hint(const struct filch__deque *d);

#endif /* FILCH_DEQUE_H */
