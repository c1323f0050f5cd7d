/* SPDX-License-Identifier: MIT */
/*
 * periodic.c - filch_submit_periodic: a task repeated at a fixed rate or
 * with a fixed delay, each run a submitted task of its own (a future, so
 * that filch_task_fail works in it), the wait between runs a timer.
 *
 * The record has two parties (its timer's refs): the cycle, which is
 * either the armed timer or the run in flight, and the node on the
 * handle. The cycle ends when the handle is done, a run fails or is
 * discarded, or the executor refuses the next timer or run; the node on
 * the handle removes an armed timer at once when the handle is cancelled.
 * Only the cycle writes next; the node reads nothing but the timer.
 */
#include "config.h"

#include "alloc.h"
#include "atomic.h"
#include "executor.h"
#include "future.h"
#include "futex.h"
#include "submit.h"
#include "timer.h"

struct periodic {
	struct filch__timer tm;
	bool fixed_delay;
	int64_t period;
	int64_t next; /* fixed rate: the deadline of the run to come */
	filch_executor *ex; /* a reference */
	filch_task_fn fn;
	void *arg;
	filch_future *handle; /* a reference */
	struct filch__callback on_handle, on_run;
};

static void periodic_put(struct periodic *p)
{
	filch__time_put_record(&p->tm, p, p->handle, p->ex);
}

/* The cycle ends: the executor refused (rc) or the handle is done. */
static void cycle_end(struct periodic *p, int rc)
{
	if (rc == -ESHUTDOWN || rc == -ECANCELED)
		filch__future_cancel(p->handle);
	else if (rc)
		filch__time_fail(p->handle, -rc, "the periodic task could not "
						 "be rescheduled");
	periodic_put(p);
}

static void periodic_fire(struct filch__timer *t, bool cancelled)
{
	struct periodic *p = filch__container_of(t, struct periodic, tm);
	filch_future *run;
	int rc;

	if (cancelled || filch_future_done(p->handle)) {
		cycle_end(p, -ECANCELED);
		return;
	}
	if (!(run = filch__task_future_new(p->ex, p->fn, p->arg))) {
		cycle_end(p, -ENOMEM);
		return;
	}
	if ((rc = filch__timer_submit(p->ex, &run->task)) != 0) {
		filch__block_free(run); /* never shared */
		cycle_end(p, rc);
		return;
	}
	/* Our reference to run is dropped by on_run (perhaps at once). */
	filch__future_add_callback(run, &p->on_run);
}

/* The deadline after a run that ended at now. */
static int64_t next_deadline(struct periodic *p, int64_t now)
{
	if (p->fixed_delay)
		return now > INT64_MAX - p->period ? INT64_MAX : now + p->period;
	/* Fixed rate: the next due time still ahead; runs missed while this
	 * one overran are skipped, not made up in a burst. */
	if (p->next > INT64_MAX - p->period)
		return INT64_MAX;
	p->next += p->period;
	if (p->next <= now)
		p->next += ((now - p->next) / p->period + 1) * p->period;
	return p->next;
}

static void periodic_run_done(struct filch__callback *node, filch_future *run)
{
	struct periodic *p = filch__container_of(node, struct periodic, on_run);
	int rc;

	if (filch_future_cancelled(run)) { /* discarded by a shutdown */
		cycle_end(p, -ECANCELED);
	} else if (run->code) {
		filch__time_fail(p->handle, run->code, run->message);
		periodic_put(p);
	} else if (filch_future_done(p->handle)) {
		periodic_put(p);
	} else {
		/* Armed, the timer may fire and end the cycle at once: the
		 * re-check below holds a reference of its own. Relaxed: we
		 * hold one already. */
		filch__add(&p->tm.refs, 1, relaxed);
		rc = filch__timer_arm(p->ex, &p->tm,
				      next_deadline(p, filch__now_ns()));
		if (rc)
			cycle_end(p, rc);
		else if (filch_future_done(p->handle) &&
			 filch__timer_cancel(p->ex, &p->tm))
			/* Cancelled while we armed: on_handle found
			 * nothing armed. */
			periodic_put(p);
		periodic_put(p);
	}
	filch_future_release(run);
}

static void periodic_handle_done(struct filch__callback *node, filch_future *h)
{
	struct periodic *p = filch__container_of(node, struct periodic, on_handle);

	(void)h;
	if (filch__timer_cancel(p->ex, &p->tm))
		periodic_put(p); /* the cycle's part */
	periodic_put(p);
}

int filch_submit_periodic(filch_executor *ex, int64_t delay_ns,
			  int64_t period_ns, unsigned flags, filch_task_fn fn,
			  void *arg, filch_future **handle)
{
	struct periodic *p;
	filch_future *h;
	int rc;

	if (!ex || !fn || !handle || delay_ns < 0 || period_ns <= 0 ||
	    (flags & ~FILCH_FIXED_DELAY))
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	if (!(p = filch__malloc(sizeof(*p))))
		return -ENOMEM;
	if (!(h = filch__future_new(FILCH__FUTURE_COMBINED, 2))) {
		filch__free(p);
		return -ENOMEM;
	}
	filch__timer_init(&p->tm, periodic_fire, FILCH__TIMER_ENDS_AT_SHUTDOWN);
	atomic_init(&p->tm.refs, 2);
	p->fixed_delay = flags & FILCH_FIXED_DELAY;
	p->period = period_ns;
	p->next = filch__timer_deadline(delay_ns);
	p->ex = ex;
	p->fn = fn;
	p->arg = arg;
	p->handle = h;
	p->on_handle.fn = periodic_handle_done;
	p->on_run.fn = periodic_run_done;
	filch__executor_retain(ex);
	if ((rc = filch__timer_arm(ex, &p->tm, p->next)) != 0) {
		filch__executor_release(ex);
		filch__block_free(h); /* never shared */
		filch__free(p);
		return rc;
	}
	*handle = h;
	filch__future_add_callback(h, &p->on_handle);
	return 0;
}
