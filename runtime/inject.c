/* SPDX-License-Identifier: MIT */
/*
 * inject.c - the injector: tasks from foreign threads, in liburcu's
 * wait-free concurrent queue (wfcqueue), taken in batches by one worker at
 * a time; and the optional bound on it with its three full policies.
 *
 * Enqueue is one XCHG on the tail plus a store (wait-free, any number of
 * producers). Dequeue and splice need mutual exclusion among consumers:
 * the "taking" flag is a trylock, so a worker that finds another taking
 * moves on instead of waiting. urcu is called through the library (no
 * _LGPL_SOURCE inlines), and ThreadSanitizer, which cannot see urcu's
 * atomics, is told about each hand-off: filch__tsan_release(node) before
 * the enqueue, filch__tsan_acquire(node) after the dequeue.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>

#include "deque.h"
#include "futex.h"
#include "inject.h"
#include "perturb.h"
#include "sched.h"

#define task_of(node) \
	((struct filch__task *)(void *)((char *)(node)-offsetof(struct filch__task, inject_node)))

void filch__inject_init(struct filch__inject *q, size_t capacity)
{
	__cds_wfcq_init(&q->head, &q->tail);
	atomic_init(&q->taking, false);
	q->capacity = capacity;
	atomic_init(&q->queued, 0);
	atomic_init(&q->space_seq, 0);
	atomic_init(&q->sleepers, 0);
	atomic_init(&q->closed, 0);
}

void filch__inject_push(struct filch__inject *q, struct filch__task *t)
{
	cds_wfcq_node_init(&t->inject_node);
	/* urcu's XCHG publishes the node; TSan cannot see it. Pairs with
	 * filch__tsan_acquire in filch__inject_take. */
	filch__tsan_release(&t->inject_node);
	cds_wfcq_enqueue(&q->head, &q->tail, &t->inject_node);
}

bool filch__inject_empty(struct filch__inject *q)
{
	return cds_wfcq_empty(&q->head, &q->tail);
}

/*
 * One slot came free: wake blocked submitters. seq_cst decrement then
 * seq_cst load of sleepers, against reserve's seq_cst increment of
 * sleepers then seq_cst load of queued (Dekker): either reserve sees the
 * room, or this sees the sleeper and bumps space_seq, which makes its
 * FUTEX_WAIT return.
 */
static void release_slot(struct filch__inject *q)
{
	filch__sub(&q->queued, 1, seq_cst);
	if (filch__load(&q->sleepers, seq_cst) != 0) {
		filch__add(&q->space_seq, 1, relaxed); /* futex word only */
		/* All of them: a woken submitter that then times out must not
		 * swallow the wake-up of another that could go on. */
		filch__futex_wake(&q->space_seq, INT32_MAX);
	}
}

static struct filch__task *dequeue(struct filch__inject *q)
{
	struct cds_wfcq_node *node = __cds_wfcq_dequeue_blocking(&q->head, &q->tail);

	if (!node)
		return NULL;
	/* Pairs with filch__tsan_release in filch__inject_push. */
	filch__tsan_acquire(node);
	return task_of(node);
}

struct filch__task *filch__inject_take(struct filch__inject *q,
				       struct filch__deque *d, unsigned batch)
{
	struct filch__task *first, *t;

	if (cds_wfcq_empty(&q->head, &q->tail))
		return NULL;
	/* Acquire: the previous taker's dequeues (its writes to head) before
	 * ours. Pairs with the release store below. */
	if (filch__xchg(&q->taking, true, acquire))
		return NULL;
	first = dequeue(q);
	FILCH__PERTURB(); /* the queue may look empty, its task not yet pushed */
	if (first && q->capacity) {
		release_slot(q);
	} else if (first) {
		for (unsigned i = 1; i < batch; i++) {
			t = dequeue(q);
			if (!t)
				break;
			if (filch__deque_push(d, t) != 0) {
				filch__inject_push(q, t); /* no room: back */
				break;
			}
		}
	}
	/* Release: our dequeues before the next taker's. */
	filch__store(&q->taking, false, release);
	return first;
}

int filch__inject_reserve(struct filch__inject *q, int policy,
			  int64_t timeout_ns)
{
	int64_t deadline = filch__deadline(timeout_ns);

	for (;;) {
		size_t n = filch__load(&q->queued, relaxed);

		/* Relaxed: queued is a count; the task itself is published
		 * by the queue (push/take). */
		while (n < q->capacity)
			if (filch__cas_weak(&q->queued, &n, n + 1, relaxed, relaxed))
				return 0;
		if (policy == FILCH_FULL_FAIL)
			return -EAGAIN;
		if (policy == FILCH_FULL_CALLER_RUNS)
			return FILCH__INJECT_CALLER_RUNS;

		uint32_t seq = filch__load(&q->space_seq, relaxed);
		int rc = 0;

		/* seq_cst increment then seq_cst loads of queued and closed:
		 * pairs with release_slot and filch__inject_close (Dekker). */
		filch__add(&q->sleepers, 1, seq_cst);
		if (filch__load(&q->queued, seq_cst) >= q->capacity &&
		    !filch__load(&q->closed, seq_cst))
			rc = filch__futex_wait(&q->space_seq, seq, deadline);
		filch__sub(&q->sleepers, 1, relaxed);
		if (filch__load(&q->closed, relaxed))
			return -ESHUTDOWN;
		if (rc == -ETIMEDOUT)
			return -EAGAIN;
	}
}

void filch__inject_close(struct filch__inject *q)
{
	/* seq_cst store then seq_cst load of sleepers: pairs with reserve's
	 * increment of sleepers then load of closed (Dekker). */
	filch__store(&q->closed, 1, seq_cst);
	if (filch__load(&q->sleepers, seq_cst) != 0) {
		filch__add(&q->space_seq, 1, relaxed); /* futex word only */
		filch__futex_wake(&q->space_seq, INT32_MAX);
	}
}
