/* SPDX-License-Identifier: MIT */
/*
 * inject.h - the injector: the queue of tasks submitted by threads that are
 * not workers of the executor (liburcu wfcqueue), with its optional bound.
 *
 * Synchronization:
 *   push                 : any thread, any number at once; wait-free
 *   take                 : workers; one taker at a time (a trylock: a
 *                          second taker gets NULL at once, never waits)
 *   empty                : any thread; a racy snapshot
 *   reserve              : foreign submitters before push, bounded only
 *   close                : once, by filch_shutdown
 *   init                 : alone
 */
#ifndef FILCH_INJECT_H
#define FILCH_INJECT_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/wfcqueue.h>

#include "atomic.h"

struct filch__task;
struct filch__deque;

struct filch__inject {
	struct __cds_wfcq_head head; /* dequeue side: under taking */
	_Atomic bool taking;	     /* the one-taker trylock */
	alignas(FILCH_CACHELINE) struct cds_wfcq_tail tail; /* enqueue side */

	/*
	 * The bound (capacity 0 = none). queued counts tasks reserved by
	 * submitters and not yet taken by a worker: +1 by reserve, -1 by
	 * take. space_seq is the futex word that blocked submitters sleep on:
	 * take and close increment it, then wake them. sleepers counts them.
	 * closed: 0, then 1 from close on; blocked submitters then fail.
	 */
	alignas(FILCH_CACHELINE) size_t capacity;
	_Atomic size_t queued;
	_Atomic uint32_t space_seq;
	_Atomic uint32_t sleepers;
	_Atomic uint32_t closed;
};

/* Reserve's answers besides 0, -EAGAIN and -ESHUTDOWN. */
#define FILCH__INJECT_CALLER_RUNS 1

void filch__inject_init(struct filch__inject *q, size_t capacity);

/*
 * Bounded queues only: reserves room for one task under policy (enum
 * filch_full_policy). Returns 0 (room reserved: push next), -EAGAIN (full:
 * FAIL, or BLOCK past timeout_ns), FILCH__INJECT_CALLER_RUNS, or
 * -ESHUTDOWN (closed while blocked). BLOCK sleeps on a futex.
 */
int filch__inject_reserve(struct filch__inject *q, int policy,
			  int64_t timeout_ns);

/* Appends t (its inject_node). Wait-free. */
void filch__inject_push(struct filch__inject *q, struct filch__task *t);

/*
 * Takes the oldest task and returns it, moving up to batch - 1 more into d
 * (the caller's own deque; a task d cannot take goes back to the queue).
 * Bounded queues take one task at a time (batch is ignored) so that
 * "queued" counts tasks not yet started. NULL when empty or when another
 * worker is taking.
 */
struct filch__task *filch__inject_take(struct filch__inject *q,
				       struct filch__deque *d, unsigned batch);

/* True when no task is queued (a snapshot; see inject.c). */
bool filch__inject_empty(struct filch__inject *q);

/* Makes blocked and later reservations fail with -ESHUTDOWN. */
void filch__inject_close(struct filch__inject *q);

#endif /* FILCH_INJECT_H */
