/* SPDX-License-Identifier: MIT */
/*
 * time.c - one-shot timers of the public API: filch_submit_after,
 * filch_sleep_future, filch_future_with_timeout. Each is a small record
 * with an embedded timer (timer.h) and callback nodes on the futures
 * involved; the record's reference count (its timer's refs field) counts
 * the parties that may still touch it, and the last one frees it.
 */
#include "config.h"

#include <stdint.h>

#include "alloc.h"
#include "atomic.h"
#include "executor.h"
#include "future.h"
#include "submit.h"
#include "timer.h"

void filch__time_fail(filch_future *f, int code, const char *message)
{
	if (filch__future_settle(f, code, NULL, message) == -ENOMEM)
		filch__future_settle(f, code, NULL, NULL);
}

bool filch__time_put(struct filch__timer *t)
{
	/* acq_rel: every party's accesses to the record happen before the
	 * free by the last one (pairs with itself across the parties). */
	return filch__sub(&t->refs, 1, acq_rel) == 1;
}

void filch__time_put_record(struct filch__timer *t, void *block,
			    filch_future *out, filch_executor *ex)
{
	if (filch__time_put(t)) {
		filch_future_release(out);
		filch__executor_release(ex);
		filch__free(block);
	}
}

/* ------------------------------------------------------------------ */
/* filch_submit_after, filch_sleep_future                              */
/* ------------------------------------------------------------------ */

/*
 * A timer that completes f: a delayed task (f's own task is handed to the
 * executor at the deadline) or a sleep (f finishes). Two
 * parties: the timer (until it fired, or was removed), and the node on f
 * (until f is done). The timer holds one reference on f: for a delayed
 * task, its task's; for a sleep, its own. f->executor is the executor
 * (for a sleep a field nobody else reads), which the record holds a
 * reference to, stored tagged (low bit set): filch__future_run_here
 * compares it with the waiting worker's executor, and must never match,
 * or a worker that waits for a delayed task would run it before its
 * deadline. 40 bytes: with the heap entry, 64 bytes per armed timer
 * beyond the future (a 48-byte malloc chunk and 16 bytes of heap).
 */
struct delay {
	struct filch__timer tm;
	filch_future *f;
	struct filch__callback node; /* on f */
};

static filch_executor *delay_tag(filch_executor *ex)
{
	return (filch_executor *)((uintptr_t)ex | 1);
}

static filch_executor *delay_ex(const filch_future *f)
{
	return (filch_executor *)((uintptr_t)f->executor & ~(uintptr_t)1);
}

static void delay_put(struct delay *d, filch_executor *ex)
{
	if (filch__time_put(&d->tm)) {
		filch__free(d);
		filch__executor_release(ex);
	}
}

/* The timer's part ends: drops its reference on f, giving it an outcome
 * when it fired as cancelled. */
static void delay_drop(filch_future *f, bool cancel)
{
	if (f->kind == FILCH__FUTURE_TASK) {
		/* Cancels f, drops the task's reference. */
		f->task.run(&f->task, FILCH__RUN_DISCARD);
		return;
	}
	if (cancel)
		filch__future_cancel(f);
	filch_future_release(f);
}

static void delay_fire(struct filch__timer *t, bool cancelled)
{
	struct delay *d = filch__container_of(t, struct delay, tm);
	filch_future *f = d->f;
	filch_executor *ex = delay_ex(f);
	int rc;

	filch__executor_retain(ex); /* f may be freed below */
	if (cancelled) {
		delay_drop(f, true);
	} else if (f->kind != FILCH__FUTURE_TASK) {
		filch__future_settle(f, 0, NULL, NULL);
		filch_future_release(f);
	} else if ((rc = filch__timer_submit(ex, &f->task)) != 0) {
		filch__time_fail(f, -rc, "the delayed task could not be submitted");
		delay_drop(f, false);
	}
	delay_put(d, ex);
	filch__executor_release(ex);
}

static void delay_done(struct filch__callback *node, filch_future *f)
{
	struct delay *d = filch__container_of(node, struct delay, node);
	filch_executor *ex = delay_ex(f);

	/* Cancelled while armed: the timer goes now, with its part. */
	if (filch_future_cancelled(f) && filch__timer_cancel(ex, &d->tm)) {
		delay_drop(f, false);
		delay_put(d, ex);
	}
	delay_put(d, ex);
}

/* Arms a delay for f (refs: the caller's and the timer's), which nobody
 * else has seen; on error f is the caller's to free. */
static int delay_arm(filch_executor *ex, filch_future *f, int64_t delay_ns)
{
	struct delay *d = filch__malloc(sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	filch__timer_init(&d->tm, delay_fire, 0);
	atomic_init(&d->tm.refs, 2);
	d->f = f;
	d->node.fn = delay_done;
	f->executor = delay_tag(ex);
	filch__executor_retain(ex);
	rc = filch__timer_arm(ex, &d->tm, filch__timer_deadline(delay_ns));
	if (rc) {
		filch__free(d);
		filch__executor_release(ex);
		return rc;
	}
	/* It may have fired already: the node then runs at once. */
	filch__future_add_callback(f, &d->node);
	return 0;
}

int filch_submit_after(filch_executor *ex, int64_t delay_ns, filch_task_fn fn,
		       void *arg, filch_future **fut)
{
	filch_future *f;
	int rc;

	if (!ex || !fn || delay_ns < 0)
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	if (!(f = filch__task_future_new(ex, fn, arg)))
		return -ENOMEM;
	filch_future_retain(f); /* kept across delay_arm */
	if ((rc = delay_arm(ex, f, delay_ns)) != 0) {
		filch__block_free(f); /* never shared */
		return rc;
	}
	if (fut)
		*fut = f;
	else
		filch_future_release(f);
	filch_future_release(f);
	return 0;
}

int filch_sleep_future(filch_executor *ex, int64_t delay_ns, filch_future **out)
{
	filch_future *f;
	int rc;

	if (!ex || !out || delay_ns < 0)
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	if (!(f = filch__future_new(FILCH__FUTURE_COMBINED, 2)))
		return -ENOMEM;
	if ((rc = delay_arm(ex, f, delay_ns)) != 0) {
		filch__block_free(f); /* never shared */
		return rc;
	}
	*out = f;
	return 0;
}

/* ------------------------------------------------------------------ */
/* filch_future_with_timeout                                           */
/* ------------------------------------------------------------------ */

/*
 * Three parties: the timer (it holds a reference on f, for
 * FILCH_TIMEOUT_CANCEL), the node on f (copies f's outcome to out), the
 * node on out (removes the timer once out is done). The record holds
 * references on out and ex until it is freed.
 */
struct timeout {
	struct filch__timer tm;
	unsigned flags;
	filch_future *f;
	filch_future *out;
	filch_executor *ex;
	struct filch__callback on_f, on_out;
};

static void timeout_put(struct timeout *r)
{
	filch__time_put_record(&r->tm, r, r->out, r->ex);
}

static void timeout_fire(struct filch__timer *t, bool cancelled)
{
	struct timeout *r = filch__container_of(t, struct timeout, tm);

	if (cancelled)
		filch__future_cancel(r->out);
	else if (filch__future_settle(r->out, ETIMEDOUT, NULL, "timed out") ==
			 0 &&
		 (r->flags & FILCH_TIMEOUT_CANCEL))
		filch__future_cancel(r->f);
	filch_future_release(r->f);
	timeout_put(r);
}

static void timeout_f_done(struct filch__callback *node, filch_future *f)
{
	struct timeout *r = filch__container_of(node, struct timeout, on_f);

	if (filch_future_cancelled(f))
		filch__future_cancel(r->out);
	else if (f->code)
		filch__time_fail(r->out, f->code, f->message);
	else
		filch__future_settle(r->out, 0, f->result, NULL);
	timeout_put(r);
}

static void timeout_out_done(struct filch__callback *node, filch_future *out)
{
	struct timeout *r = filch__container_of(node, struct timeout, on_out);

	(void)out;
	if (filch__timer_cancel(r->ex, &r->tm)) {
		filch_future_release(r->f);
		timeout_put(r);
	}
	timeout_put(r);
}

int filch_future_with_timeout(filch_future *f, filch_executor *ex,
			      int64_t timeout_ns, unsigned flags,
			      filch_future **out)
{
	struct timeout *r;
	filch_future *o;
	int rc = 0;

	if (!f || !ex || !out || (flags & ~FILCH_TIMEOUT_CANCEL))
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	/* No timer when it cannot win: f is done and the deadline passed. */
	bool forever = timeout_ns == FILCH_FOREVER ||
		       (timeout_ns <= 0 && filch_future_done(f));
	if (!(r = filch__malloc(sizeof(*r))))
		return -ENOMEM;
	if (!(o = filch__future_new(FILCH__FUTURE_COMBINED, 2))) {
		filch__free(r);
		return -ENOMEM;
	}
	filch__timer_init(&r->tm, timeout_fire, 0);
	atomic_init(&r->tm.refs, forever ? 2 : 3);
	r->flags = flags;
	r->f = filch_future_retain(f);
	r->out = o;
	r->ex = ex;
	r->on_f.fn = timeout_f_done;
	r->on_out.fn = timeout_out_done;
	filch__executor_retain(ex);
	if (!forever)
		rc = filch__timer_arm(ex, &r->tm,
				      filch__timer_deadline(timeout_ns < 0 ? 0
									  : timeout_ns));
	if (rc) {
		filch_future_release(f);
		filch__executor_release(ex);
		filch__block_free(o); /* never shared */
		filch__free(r);
		return rc;
	}
	if (forever)
		filch_future_release(f); /* no timer to hold it */
	*out = o;
	filch__future_add_callback(f, &r->on_f);
	filch__future_add_callback(o, &r->on_out);
	return 0;
}
