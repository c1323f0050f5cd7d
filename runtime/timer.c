/* SPDX-License-Identifier: MIT */
/*
 * timer.c - the timer structure of an executor: a binary min-heap of
 * (deadline, timer) entries under one mutex, and the executor's timer
 * thread ("<prefix>-timer"), started with the first timer, which sleeps on
 * a condition variable on CLOCK_MONOTONIC until the nearest deadline and
 * fires what is due. docs/design.md ("Timers") says why a mutex.
 *
 * Each timer's state byte (under the lock; one comment for the protocol):
 *   IDLE   not in the heap: fresh, fired, or cancelled.
 *   ARMED  in the heap at t->index until its deadline.
 *   SWEPT  in the heap, by a shutdown that cancels it: its entry's deadline
 *          is INT64_MIN, so it is due at once, and fire(t, true) is called
 *          by whichever thread pops it (the shutdown's caller or the timer
 *          thread).
 * IDLE -> ARMED (filch__timer_arm); ARMED -> SWEPT (filch__timers_shutdown);
 * ARMED or SWEPT -> IDLE (popped to fire, or filch__timer_cancel).
 *
 * A SWEPT timer popped by one thread may still be firing when another
 * thread's sweep finds the heap empty: h->sweeping (under the lock) counts
 * those fires, from the pop (pop_due) until fire returned
 * (fire_unlocked), and filch__timers_shutdown waits for it to drop to 0,
 * so that every timer it swept is cancelled, its callbacks run, when it
 * returns.
 *
 * An armed timer holds one count of ex->submitters, the executor's
 * "foreign submission in flight" count (executor.c), taken in
 * filch__timer_arm with the same Dekker check against SHUTDOWN as a
 * foreign submit, and dropped after the timer fired (a delayed task is in
 * the injector by then) or was cancelled, followed by
 * filch__park_try_terminate: so the pool does not terminate while a timer
 * is armed, and a waiting shutdown waits for the timers.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "alloc.h"
#include "executor.h"
#include "fault.h"
#include "futex.h"
#include "park.h"
#include "timer.h"

#define IDLE 0u
#define ARMED 1u
#define SWEPT 2u

struct entry {
	int64_t deadline;
	struct filch__timer *t;
};

struct filch__timers {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* CLOCK_MONOTONIC */
	struct entry *heap;  /* heap[0] is the nearest deadline */
	uint32_t n, cap;
	uint32_t sweeping;   /* SWEPT timers popped, their fire not returned */
	pthread_cond_t swept; /* sweeping dropped to 0 */
	bool stop;	     /* filch__timers_stop: the thread exits */
	pthread_t thread;
	filch_executor *ex;
};

/* Serializes the lazy creation of every executor's timer structure. Held
 * across fork() (the handlers below), so that a child never inherits it
 * locked by a thread that does not exist there. */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* How many fire calls the calling thread is inside (a shutdown that is
 * called from a timer's callback must not wait for the fires in flight:
 * its own is one of them). */
static FILCH__TLS unsigned firing;

static void create_lock_take(void)
{
	pthread_mutex_lock(&create_lock);
}

static void create_lock_drop(void)
{
	pthread_mutex_unlock(&create_lock);
}

static void atfork_register(void)
{
	pthread_atfork(create_lock_take, create_lock_drop, create_lock_drop);
}

void filch__timer_init(struct filch__timer *t,
		       void (*fire)(struct filch__timer *, bool), unsigned flags)
{
	t->fire = fire;
	t->index = 0;
	t->state = IDLE;
	t->flags = (uint8_t)flags;
}

int64_t filch__timer_deadline(int64_t delay_ns)
{
	int64_t now = filch__now_ns();

	return delay_ns > INT64_MAX - now ? INT64_MAX : now + delay_ns;
}

/* ------------------------------------------------------------------ */
/* The heap (under the lock)                                           */
/* ------------------------------------------------------------------ */

static void place(struct filch__timers *h, uint32_t i, struct entry e)
{
	h->heap[i] = e;
	e.t->index = i;
}

static void sift_up(struct filch__timers *h, uint32_t i, struct entry e)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (h->heap[parent].deadline <= e.deadline)
			break;
		place(h, i, h->heap[parent]);
		i = parent;
	}
	place(h, i, e);
}

static void sift_down(struct filch__timers *h, uint32_t i, struct entry e)
{
	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->heap[c + 1].deadline < h->heap[c].deadline)
			c++;
		if (e.deadline <= h->heap[c].deadline)
			break;
		place(h, i, h->heap[c]);
		i = c;
	}
	place(h, i, e);
}

/* Takes the entry at i out of the heap. */
static void heap_remove(struct filch__timers *h, uint32_t i)
{
	struct entry last = h->heap[--h->n];

	h->heap[i].t->state = IDLE;
	if (i == h->n)
		return;
	if (i > 0 && last.deadline < h->heap[(i - 1) / 2].deadline)
		sift_up(h, i, last);
	else
		sift_down(h, i, last);
}

/* ------------------------------------------------------------------ */
/* Holding the executor                                                */
/* ------------------------------------------------------------------ */

/* Counts a timer as a submission in flight; false (nothing held) when a
 * foreign caller finds the executor shut down. */
static bool hold(filch_executor *ex)
{
	/* seq_cst: counted before the SHUTDOWN check; pairs with
	 * filch_shutdown's fetch_or then filch__park_try_terminate's read
	 * of submitters (Dekker), as submit_foreign in executor.c. */
	filch__add(&ex->submitters, 1, seq_cst);
	if (filch__self_executor() == ex ||
	    !(filch__load(&ex->run_state, seq_cst) & FILCH__EX_SHUTDOWN))
		return true;
	filch__sub(&ex->submitters, 1, seq_cst);
	filch__park_try_terminate(ex);
	return false;
}

static void unhold(filch_executor *ex)
{
	/* seq_cst: what the timer did (a task enqueued) before the count
	 * drops, and the drop before try_terminate's reads; pairs with
	 * filch__park_try_terminate's seq_cst load of submitters. */
	filch__sub(&ex->submitters, 1, seq_cst);
	filch__park_try_terminate(ex);
}

/* ------------------------------------------------------------------ */
/* The timer thread                                                    */
/* ------------------------------------------------------------------ */

static struct timespec to_timespec(int64_t ns)
{
	return (struct timespec){.tv_sec = ns / 1000000000,
				 .tv_nsec = ns % 1000000000};
}

/* Pops the top entry if it is due, with the lock held; NULL if none. */
static struct filch__timer *pop_due(struct filch__timers *h, int64_t now,
				    bool *cancelled)
{
	struct filch__timer *t;

	if (h->n == 0 || h->heap[0].deadline > now)
		return NULL;
	t = h->heap[0].t;
	if ((*cancelled = t->state == SWEPT))
		h->sweeping++;
	heap_remove(h, 0);
	return t;
}

/* Fires t, popped by pop_due, with the lock dropped around the call. */
static void fire_unlocked(struct filch__timers *h, struct filch__timer *t,
			  bool cancelled)
{
	filch_executor *ex = h->ex;

	pthread_mutex_unlock(&h->lock);
	firing++;
	t->fire(t, cancelled); /* may free t */
	firing--;
	unhold(ex);
	pthread_mutex_lock(&h->lock);
	if (cancelled && --h->sweeping == 0)
		pthread_cond_broadcast(&h->swept);
}

static void *timer_thread(void *arg)
{
	struct filch__timers *h = arg;
	char name[32];

	snprintf(name, sizeof(name), "%.9s-timer", h->ex->name_prefix);
	pthread_setname_np(pthread_self(), name);
	/* Sleep for exactly the time asked (the default slack is 50 us). */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct filch__timer *t;
		bool cancelled;
		int64_t now = filch__now_ns();

		if ((t = pop_due(h, now, &cancelled)) != NULL) {
			fire_unlocked(h, t, cancelled);
		} else if (h->n == 0) {
			pthread_cond_wait(&h->wake, &h->lock);
		} else {
			struct timespec ts = to_timespec(h->heap[0].deadline);

			pthread_cond_timedwait(&h->wake, &h->lock, &ts);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static int start(struct filch__timers *h)
{
	const cpu_set_t *cpus = &h->ex->process_cpus;
	pthread_attr_t attr;
	int rc = 0;

	if (filch__fault_hit(FILCH__FAULT_THREAD))
		return -EAGAIN;
	if (pthread_attr_init(&attr) != 0)
		return -ENOMEM;
	/* The process's CPUs, not those of a pinned worker that arms. */
	if (CPU_COUNT(cpus))
		rc = -pthread_attr_setaffinity_np(&attr, sizeof(*cpus), cpus);
	if (rc == 0 && pthread_create(&h->thread, &attr, timer_thread, h) != 0)
		rc = -EAGAIN;
	pthread_attr_destroy(&attr);
	return rc;
}

static void timers_destroy(struct filch__timers *h)
{
	pthread_cond_destroy(&h->swept);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	filch__free(h->heap);
	filch__free(h);
}

static int timers_new(filch_executor *ex, struct filch__timers **out)
{
	struct filch__timers *h = filch__calloc(1, sizeof(*h));
	pthread_condattr_t ca;
	int rc;

	if (!h)
		return -ENOMEM;
	h->ex = ex;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_cond_init(&h->swept, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = start(h)) != 0) {
		timers_destroy(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* ex's timer structure, created with its thread on first use. */
static int timers_of(filch_executor *ex, struct filch__timers **out)
{
	int rc = 0;

	/* Acquire: the structure's setup before its use; pairs with the
	 * release store below. */
	*out = filch__load(&ex->timers, acquire);
	if (*out)
		return 0;
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&create_lock);
	*out = filch__load(&ex->timers, relaxed); /* under create_lock */
	if (!*out && (rc = timers_new(ex, out)) == 0)
		/* Release: pairs with the acquire load above. */
		filch__store(&ex->timers, *out, release);
	pthread_mutex_unlock(&create_lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Arming and cancelling                                               */
/* ------------------------------------------------------------------ */

static int push(struct filch__timers *h, struct filch__timer *t,
		int64_t deadline)
{
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? 2 * h->cap : 64;
		struct entry *heap;

		if (cap < h->cap)
			return -ENOMEM;
		heap = filch__fault_hit(FILCH__FAULT_ALLOC)
			       ? NULL
			       : realloc(h->heap, cap * sizeof(*heap));
		if (!heap)
			return -ENOMEM;
		h->heap = heap;
		h->cap = cap;
	}
	t->state = ARMED;
	sift_up(h, h->n++, (struct entry){deadline, t});
	/* A new nearest deadline: the thread sleeps until a later one. */
	if (t->index == 0)
		pthread_cond_signal(&h->wake);
	return 0;
}

int filch__timer_arm(filch_executor *ex, struct filch__timer *t,
		     int64_t deadline)
{
	struct filch__timers *h;
	uint32_t rs;
	int rc;

	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	if (!hold(ex))
		return -ESHUTDOWN;
	if ((rc = timers_of(ex, &h)) != 0) {
		unhold(ex);
		return rc;
	}
	pthread_mutex_lock(&h->lock);
	/* Relaxed: filch__timers_shutdown sets these bits before it takes
	 * the lock, which orders them for us. */
	rs = filch__load(&ex->run_state, relaxed);
	if (rs & FILCH__EX_CANCELLING)
		rc = -ECANCELED;
	else if ((rs & FILCH__EX_SHUTDOWN) &&
		 (t->flags & FILCH__TIMER_ENDS_AT_SHUTDOWN))
		rc = -ESHUTDOWN;
	else
		rc = push(h, t, deadline);
	pthread_mutex_unlock(&h->lock);
	if (rc)
		unhold(ex);
	return rc;
}

bool filch__timer_cancel(filch_executor *ex, struct filch__timer *t)
{
	/* Acquire: as in timers_of; a timer that was armed was armed
	 * through it. */
	struct filch__timers *h = filch__load(&ex->timers, acquire);
	bool removed = false;

	if (!h)
		return false;
	pthread_mutex_lock(&h->lock);
	if (t->state != IDLE) {
		heap_remove(h, t->index);
		removed = true;
	}
	pthread_mutex_unlock(&h->lock);
	if (removed)
		unhold(ex);
	return removed;
}

int filch__timer_submit(filch_executor *ex, struct filch__task *t)
{
	if (filch__executor_cancelling(ex)) {
		t->run(t, FILCH__RUN_DISCARD);
		return 0;
	}
	if (ex->inject.capacity &&
	    filch__inject_reserve(&ex->inject, FILCH_FULL_FAIL, 0) != 0)
		return -EAGAIN;
	filch__inject_push(&ex->inject, t);
	filch__park_notify(ex); /* N1 orders it after the enqueue */
	return 0;
}

/* ------------------------------------------------------------------ */
/* Executor hooks                                                      */
/* ------------------------------------------------------------------ */

void filch__timers_shutdown(filch_executor *ex, unsigned flags,
			    int64_t deadline)
{
	/* Acquire: as in timers_of. */
	struct filch__timers *h = filch__load(&ex->timers, acquire);
	struct filch__timer *t;
	bool all = flags & FILCH_SHUTDOWN_CANCEL_PENDING;
	bool cancelled;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	for (uint32_t i = 0; i < h->n; i++) {
		if (all || (h->heap[i].t->flags & FILCH__TIMER_ENDS_AT_SHUTDOWN)) {
			h->heap[i].deadline = INT64_MIN;
			h->heap[i].t->state = SWEPT;
		}
	}
	/* Floyd's heap construction: the swept entries rise to the top. */
	for (uint32_t i = h->n / 2; i-- > 0;)
		sift_down(h, i, h->heap[i]);
	/* Fire them here, so that they are cancelled before we return.
	 * The timer thread, or another shutdown, may pop some of them as
	 * soon as fire_unlocked drops the lock: wait for their fires too,
	 * unless we are inside a fire ourselves (a timer's callback that
	 * shuts down: the fires in flight include ours), or until deadline
	 * (a timed shutdown: its join goes on to the same deadline). */
	while ((t = pop_due(h, INT64_MIN, &cancelled)) != NULL)
		fire_unlocked(h, t, cancelled);
	while (h->sweeping && !firing) {
		if (deadline == FILCH__NO_DEADLINE) {
			pthread_cond_wait(&h->swept, &h->lock);
		} else {
			struct timespec ts = to_timespec(deadline);

			if (pthread_cond_timedwait(&h->swept, &h->lock, &ts) ==
			    ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&h->lock);
}

void filch__timers_stop(filch_executor *ex)
{
	/* Acquire: as in timers_of. */
	struct filch__timers *h = filch__load(&ex->timers, acquire);
	bool stopped;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	stopped = h->stop;
	h->stop = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	if (!stopped)
		pthread_join(h->thread, NULL);
}

void filch__timers_free(filch_executor *ex)
{
	/* Relaxed: the last reference's acq_rel decrement ordered it. */
	struct filch__timers *h = filch__load(&ex->timers, relaxed);

	if (!h)
		return;
	filch__timers_stop(ex); /* an executor whose start failed */
	timers_destroy(h);
}
