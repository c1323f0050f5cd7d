/* SPDX-License-Identifier: MIT */
/*
 * worker.c - the worker loop: where a worker finds its next task.
 *
 * Order of places, cheapest first (Tokio's and Go's schedulers):
 *  1. every INJECT_RHYTHM-th task, the oldest foreign task first (from its
 *     own deque while a batch waits there, else from the injector), so
 *     that a worker busy with its own tree cannot starve foreign
 *     submissions;
 *  2. its own deque: the newest task it pushed itself (bottom, cache-warm;
 *     a continuation just made ready is there too, where idle workers can
 *     steal it), else the oldest task of a batch from the injector (top,
 *     where thieves take too: foreign submissions start first come, first
 *     served, but for steals);
 *  3. the injector, moving a batch into its deque in submission order;
 *  4. searching: steal from random victims, with exponential backoff
 *     (ck_backoff) and a yield of the CPU, for a bounded number of rounds,
 *     as one of at most half the workers that search at once;
 *  5. parking (park.c), with one last look for work in between.
 * A spare (spare.c) whose deque is empty first checks whether it should
 * go dormant. Tasks run only here, at the top of the worker's stack: a
 * task that waits never runs unrelated tasks (group.c, future.c).
 */
#include "config.h"

#include <ck_backoff.h>
#include <sched.h>

#include "fj.h"
#include "frame.h"
#include "group.h"
#include "park.h"
#include "perturb.h"
#include "trace.h"
#include "worker.h"

/* Go and Tokio check their global queue every 61 local tasks: a prime, so
 * that it does not fall into step with a program's own period. */
#define INJECT_RHYTHM 61
/* Tasks moved from the injector per take (the first one runs at once). */
#define INJECT_BATCH 32
/* The spin window: steal rounds before parking, the first one spinning
 * SEARCH_BACKOFF compiler barriers, each next one twice as many (about
 * 40 to 80 microseconds in all on current x86), each followed by a
 * sched_yield: a thread this worker just woke (a future's waiter) may
 * have been queued on this CPU, and would otherwise wait out the whole
 * window (22 us of roundtrip_idle's 43 on 2 CPUs). */
#define SEARCH_ROUNDS 10
#define SEARCH_BACKOFF 64

FILCH__TLS struct filch__worker *filch__self;

static uint32_t next_random(struct filch__worker *w)
{
	/* xorshift64 (Marsaglia 2003): victims need spread, not quality. */
	uint64_t x = w->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rng = x;
	return (uint32_t)(x >> 32);
}

static struct filch__task *take_injected(struct filch__worker *w)
{
	int64_t b = filch__load(&w->deque.bottom, relaxed); /* our own */
	struct filch__task *t =
		filch__inject_take(&w->ex->inject, &w->deque, INJECT_BATCH);
	int64_t e = filch__load(&w->deque.bottom, relaxed);

	if (t)
		filch__stat_add(&w->stats.inject_batches, 1);
	filch__stat_add(&w->stats.inject_tasks, (uint64_t)(e - b) + (t != NULL));
	if (e == b)
		return t;
	/* The batch sits at [b, e) oldest first: take_own takes it from the
	 * top, after the tasks pushed since (above e) and before the ones
	 * pushed below it (a tree this worker was busy with: an injector
	 * rhythm's take). Let an idle worker steal from it meanwhile. */
	w->inject_end = e;
	if (w->ex->nworkers > 1)
		filch__park_notify_local(w->ex);
	return t;
}

/* The injector rhythm's take: the oldest foreign task, which is in w's
 * own deque while part of its last batch is (below inject_end, not yet
 * taken: top is below it), else in the injector. */
static struct filch__task *take_foreign(struct filch__worker *w)
{
	/* Relaxed: a stale top only sends us to our own deque, where
	 * take_oldest reads it again. */
	if (filch__load(&w->deque.top, relaxed) < w->inject_end)
		return filch__deque_take_oldest(&w->deque);
	return take_injected(w);
}

/* The next task of w's own deque: the newest one w pushed itself since its
 * last batch from the injector (LIFO: fork-join's depth first), else the
 * oldest one (FIFO: the batch, in submission order). Every index at or
 * above inject_end holds a task pushed after the batch: bottom never goes
 * below inject_end for longer than a pop that pushes its task back
 * (group.c), since the tasks below it leave by the top. */
static struct filch__task *take_own(struct filch__worker *w)
{
	if (filch__load(&w->deque.bottom, relaxed) > w->inject_end)
		return filch__deque_pop(&w->deque);
	return filch__deque_take_oldest(&w->deque);
}

struct filch__task *filch__worker_steal_from(struct filch__worker *w,
					     struct filch__worker *victim)
{
	void *item;

	if (filch__deque_steal(&victim->deque, &item) != FILCH__STEAL_OK) {
		filch__stat_add(&w->stats.steal_failed, 1);
		return NULL;
	}
	filch__stat_add(&w->stats.stolen, 1);
	filch__obs_steal(w, victim);
	filch__group_note_steal(item, w->index);
	return item;
}

/* One pass over the other workers' deques and shared fork-join frames
 * (spares' too), from a random one. A steal that loses a race moves on: the winner is awake. */
static struct filch__task *steal_sweep(struct filch__worker *w)
{
	filch_executor *ex = w->ex;
	/* Acquire: a new spare's deque is set up before it is counted. */
	unsigned n = filch__load(&ex->nthreads, acquire);
	unsigned v = n > 1 ? next_random(w) % n : 0;
	struct filch__task *t;

	for (unsigned k = 1; k < n; k++) {
		v = v + 1 == n ? 0 : v + 1;
		if (v != w->index &&
		    ((t = filch__worker_steal_from(w, &ex->workers[v])) ||
		     (t = filch__fj_steal(w, &ex->workers[v]))))
			return t;
	}
	return NULL;
}

/* The worker found a task while counted as searching (W1 of park.c):
 * the last searcher hands the search on only if more work is visible
 * after its decrement (the look is ordered after it, as W3 is), so a
 * lone task does not wake a second worker for nothing. */
static void found_work(struct filch__worker *w)
{
	if (!w->searching)
		return;
	w->searching = false;
	if (filch__park_stop_search(w->ex) && filch__park_work_visible(w->ex))
		filch__park_notify(w->ex);
}

static struct filch__task *search(struct filch__worker *w)
{
	unsigned backoff = SEARCH_BACKOFF;
	struct filch__task *t;

	for (unsigned round = 0; round < SEARCH_ROUNDS; round++) {
		if ((t = steal_sweep(w)) || (t = take_injected(w)))
			return t;
		ck_backoff_eb(&backoff);
		sched_yield();
	}
	return NULL;
}

/* Parks w (park.c, W2 to W5) until there may be work (w->searching
 * then tells whether it was woken as a searcher) or the executor
 * terminated. */
static void park(struct filch__worker *w)
{
	filch_executor *ex = w->ex;
	uint32_t v = filch__park_prepare(w);

	/* W3: look, take nothing while idle (try_terminate relies on it). A
	 * spare no longer needed leaves too, to go dormant (spare.c). */
	if (filch__park_work_visible(ex) || filch__spare_surplus(w)) {
		w->searching = filch__park_leave(w);
		return;
	}
	FILCH__PERTURB(); /* work or a shutdown may arrive between W3 and W4 */
	/* seq_cst: W4's SHUTDOWN check after W2's increment; pairs with
	 * filch_shutdown's seq_cst fetch_or then its try_terminate. */
	if (filch__load(&ex->run_state, seq_cst) & FILCH__EX_SHUTDOWN)
		filch__park_try_terminate(ex);
	if (filch__load(&ex->run_state, acquire) & FILCH__EX_TERMINATED)
		return; /* acquire: pairs with try_terminate's fetch_or */
	w->searching = filch__park_sleep(w, v);
}

static bool terminated(filch_executor *ex)
{
	/* Acquire: pairs with the seq_cst fetch_or in try_terminate. */
	return filch__load(&ex->run_state, acquire) & FILCH__EX_TERMINATED;
}

/* A surplus spare (its deque empty) goes dormant here; true when the
 * executor terminated meanwhile (spare.c). False at once for a primary. */
static bool spare_ends(struct filch__worker *w)
{
	return filch__spare_should_retire(w) && filch__spare_maybe_retire(w);
}

/* The next task for w, or NULL when the executor terminated. */
static struct filch__task *next_task(struct filch__worker *w)
{
	struct filch__task *t;

	/* A countdown, not a count modulo INJECT_RHYTHM: no multiply. */
	if (--w->until_foreign == 0) {
		w->until_foreign = INJECT_RHYTHM;
		if ((t = take_foreign(w)))
			return t;
	}
	if ((t = take_own(w)))
		return t;
	if (spare_ends(w))
		return NULL;
	if ((t = take_injected(w)))
		return t;
	for (;;) {
		if (!w->searching)
			w->searching = filch__park_try_search(w->ex);
		if (w->searching) {
			if ((t = search(w))) {
				found_work(w);
				return t;
			}
			w->searching = false;
			filch__park_stop_search(w->ex); /* W3 re-looks */
		} else if ((t = take_injected(w)) || (t = steal_sweep(w))) {
			return t; /* a non-searcher's single look */
		}
		/* A spare no longer needed goes dormant rather than park (its
		 * deque is empty: only it pushes there). */
		if (spare_ends(w))
			return NULL;
		park(w);
		if (terminated(w->ex))
			return NULL;
		/* Kicked out of its park as a surplus spare (not claimed as
		 * a searcher): straight to dormant, without a search. */
		if (!w->searching && spare_ends(w))
			return NULL;
	}
}

void filch__worker_run(struct filch__worker *w)
{
	struct filch__task *t;

	w->rng = 0x9e3779b97f4a7c15ull * (w->index + 1);
	w->until_foreign = INJECT_RHYTHM;
	filch__frames_register(&w->frames);
	while ((t = next_task(w)))
		filch__worker_run_task(w, t);
	filch__frames_unregister(&w->frames);
}

filch_executor *filch__self_executor(void)
{
	struct filch__worker *w = filch__self;

	return w ? w->ex : NULL;
}
