/* SPDX-License-Identifier: MIT */
/*
 * timer.h - the timer structure of an executor (timer.c): a binary heap of
 * deadlines under a mutex, and one timer thread per executor, started with
 * the first timer, that fires each timer at its deadline. The public time
 * calls (time.c, periodic.c, retry.c) embed a struct filch__timer in their
 * records.
 *
 * Which calls may run at the same time: filch__timer_arm, _cancel,
 * _submit (from fire) and filch__timers_shutdown, on any threads, the
 * timer thread and fire callbacks included (they serialize on the heap's
 * lock, which none holds across fire; a shutdown also waits on it, for
 * the swept timers that another thread fires); a given timer is armed
 * again only
 * after its fire ran or its cancel returned true. filch__timers_stop runs
 * once the executor terminated (nothing is armed, no foreign thread can
 * arm), filch__timers_free after the last reference is gone.
 */
#ifndef FILCH_TIMER_H
#define FILCH_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include <filch.h>

#include "sched.h"

/* struct filch__timer.flags */
#define FILCH__TIMER_ENDS_AT_SHUTDOWN 1u /* periodic: any shutdown ends it */

/*
 * A timer, embedded in its user's record. fire(t, cancelled) is called
 * once per successful filch__timer_arm, outside the heap's lock: on the
 * timer thread at the deadline (cancelled false), or with cancelled true
 * in the thread of a cancelling shutdown (or in another thread that popped
 * a timer the shutdown swept, the timer thread or another shutdown, and
 * the shutdown waits until it returned). It is
 * not called for a timer that
 * filch__timer_cancel removed. While armed, the timer counts as a
 * submission in flight of its executor, so that the executor does not
 * terminate (a waiting shutdown waits for it); the count is dropped after
 * fire returns or when the timer is cancelled.
 */
struct filch__timer {
	void (*fire)(struct filch__timer *t, bool cancelled);
	uint32_t index; /* in the heap, while armed (under the lock) */
	uint8_t state;	/* timer.c's states, under the lock */
	uint8_t flags;	/* FILCH__TIMER_*, set before arming */
	/* For the embedding record (its own reference count). */
	_Atomic uint16_t refs;
};

/* Prepares t (any storage the caller keeps until fire ran or cancel
 * returned true). */
void filch__timer_init(struct filch__timer *t,
		       void (*fire)(struct filch__timer *, bool), unsigned flags);

/*
 * Arms t to fire at deadline (filch__now_ns's clock). Returns 0; -ESHUTDOWN
 * (a foreign thread after ex's shutdown began, or an ENDS_AT_SHUTDOWN
 * timer after it began), -ECANCELED (a cancelling shutdown began),
 * -ENOMEM, or -EAGAIN (the timer thread could not be started); on error
 * fire is never called. Any thread, the timer thread and callbacks
 * included. Takes the heap's lock.
 */
int filch__timer_arm(filch_executor *ex, struct filch__timer *t,
		     int64_t deadline);

/* Removes t from the heap if it is still armed: returns true, and fire
 * will never be called; false when it fired or is firing. Any thread. */
bool filch__timer_cancel(filch_executor *ex, struct filch__timer *t);

/*
 * From a fire callback on the timer thread: hands task t to ex's injector
 * (the timer holds the submission in flight, so a shutdown that began
 * since does not refuse it; a full bounded queue does, whatever its
 * policy: the timer thread never blocks nor runs the task). In a
 * cancelling shutdown t is discarded at once (FILCH__RUN_DISCARD).
 * Returns 0, or -EAGAIN and t is still the caller's.
 */
int filch__timer_submit(filch_executor *ex, struct filch__task *t);

/* A delay in nanoseconds (>= 0) turned into a deadline, saturated. */
int64_t filch__timer_deadline(int64_t delay_ns);

/* Shared by the time calls (time.c): fails f with code and a copy of
 * message, or without the message when it cannot be copied (losing to
 * another outcome is fine); and drops one reference of a record that
 * embeds t, true for the last one. */
void filch__time_fail(filch_future *f, int code, const char *message);
bool filch__time_put(struct filch__timer *t);
/* filch__time_put of a record that holds a reference to out and to ex
 * (block: the record's own allocation, which embeds t): the last one
 * releases both and frees the block. */
void filch__time_put_record(struct filch__timer *t, void *block,
			    filch_future *out, filch_executor *ex);

/* Hooks of executor.c: filch_shutdown calls filch__timers_shutdown once
 * SHUTDOWN is set (cancels every armed timer with CANCEL_PENDING, the
 * ENDS_AT_SHUTDOWN ones always, and returns once each one's fire
 * returned, but from inside any fire, or once deadline passed:
 * CLOCK_MONOTONIC ns, FILCH__NO_DEADLINE for none); filch_executor_destroy
 * calls filch__timers_stop once the pool terminated (joins the timer
 * thread); the executor's last release calls filch__timers_free. */
void filch__timers_shutdown(filch_executor *ex, unsigned flags,
			    int64_t deadline);
void filch__timers_stop(filch_executor *ex);
void filch__timers_free(filch_executor *ex);

#endif /* FILCH_TIMER_H */
