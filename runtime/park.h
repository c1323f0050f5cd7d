/* SPDX-License-Identifier: MIT */
/*
 * park.h - how workers go to sleep when there is no work and who wakes
 * them (park.c has the protocol and its proof; stress/park.pml models it).
 *
 * park_state packs three counts into one 64-bit word, changed only by
 * read-modify-writes (so they share one modification order):
 *   bits 0..15  searching: workers looking for work to steal, plus one for
 *               each worker a notifier has claimed and not yet resumed.
 *               +1 by filch__park_try_search (a worker) or by
 *               filch__park_notify (for the worker it wakes); -1 by
 *               filch__park_stop_search (the worker itself) or by a
 *               notifier that found nobody to claim.
 *   bits 16..31 idle: workers between filch__park_prepare and
 *               filch__park_leave. +1 by prepare, -1 by leave (the worker
 *               itself). An idle worker holds no task and takes none.
 *   bits 32..63 leaves: +1 by every leave, in the same RMW as idle's -1
 *               (wraps): lets filch__park_try_terminate see that no worker
 *               left idle while it looked.
 */
#ifndef FILCH_PARK_H
#define FILCH_PARK_H

#include <stdbool.h>
#include <stdint.h>

#include "executor.h"

#define FILCH__PARK_SEARCH_ONE ((uint64_t)1)
#define FILCH__PARK_IDLE_ONE ((uint64_t)1 << 16)
#define FILCH__PARK_LEAVE_ONE ((uint64_t)1 << 32)
#define filch__park_searching(s) ((unsigned)((s)&0xffffu))
#define filch__park_idle(s) ((unsigned)(((s) >> 16) & 0xffffu))

/*
 * A worker's sleep word (struct filch__worker.sleep):
 *   AWAKE     the worker runs or searches. Written by the worker itself.
 *   SLEEPING  set by the worker in prepare (AWAKE -> SLEEPING): it may
 *             sleep; a notifier may claim it.
 *   CLAIMED   set by one notifier's CAS SLEEPING -> CLAIMED, which then
 *             counts it as searching and increments its event count.
 * The worker leaves with CAS SLEEPING -> AWAKE (it was not claimed) or,
 * when that fails, a store CLAIMED -> AWAKE (it was, and now searches).
 */
#define FILCH__SLEEP_AWAKE 0u
#define FILCH__SLEEP_SLEEPING 1u
#define FILCH__SLEEP_CLAIMED 2u

void filch__park_init_worker(struct filch__worker *w);

/* A worker asks to search; false when half of the workers already do. */
bool filch__park_try_search(filch_executor *ex);

/* A searching worker stops; true when it was the last one searching. */
bool filch__park_stop_search(filch_executor *ex);

/*
 * Wakes one sleeping worker, as a searcher, unless a worker is searching
 * already or none sleeps. Call it after publishing work (a deque push or
 * an injector enqueue): its first step, an RMW of park_state, orders the
 * publication (park.c). Lock-free; one futex wake at most.
 */
void filch__park_notify(filch_executor *ex);

/* After a push on the caller's own deque: the same, unless a relaxed look
 * shows a searcher or no sleeper (the caller runs the work itself if
 * nobody comes, so this hint cannot lose work). */
static inline void filch__park_notify_local(filch_executor *ex)
{
	uint64_t s = filch__load(&ex->park_state, relaxed);

	if (filch__park_searching(s) == 0 && filch__park_idle(s) != 0)
		filch__park_notify(ex);
}

/* Step 1 of parking: returns the event-count value to sleep on, marks w
 * SLEEPING and counts it idle. The caller then looks for work once more
 * with filch__park_work_visible (not taking any while idle), and calls
 * filch__park_leave or filch__park_sleep. */
uint32_t filch__park_prepare(struct filch__worker *w);

/* True when a task is visible in the injector or in any deque, or a
 * fork-join frame is shared; a frame stack that shares none is asked to
 * share (filch__fj_work_visible). A look, taking nothing. Any thread. */
bool filch__park_work_visible(filch_executor *ex);

/* Ends a park: returns true when a notifier claimed w (w now counts as
 * searching), false when w withdrew on its own. */
bool filch__park_leave(struct filch__worker *w);

/* Sleeps until w's event count moves from v (woken by a notifier, or by
 * termination), then leaves (as filch__park_leave) unless the executor
 * terminated. Returns true when claimed. */
bool filch__park_sleep(struct filch__worker *w, uint32_t v);

/*
 * If the executor is shut down and quiescent (every worker idle, no
 * foreign submitter in flight, the injector and every deque empty), sets
 * TERMINATED and wakes every worker so that they exit. Any thread.
 */
void filch__park_try_terminate(filch_executor *ex);

/*
 * A worker's event count used outside the parking protocol, by a dormant
 * spare (spare.c): the value to sleep on, a kick that wakes it (and makes
 * any later sleep on an older value return at once), and the sleep.
 */
uint32_t filch__park_kick_value(struct filch__worker *w);
void filch__park_kick(struct filch__worker *w);
void filch__park_kick_wait(struct filch__worker *w, uint32_t v);

#endif /* FILCH_PARK_H */
