/* SPDX-License-Identifier: MIT */
/*
 * retry.c - filch_submit_retry: each attempt is a submitted task (a future
 * of its own), each backoff a timer, so that no worker waits in between.
 * Backoff after attempt k: uniform in [0, min(cap, base * 2^(k-1))], the
 * "full jitter" of exponential backoff, so that clients that failed
 * together do not retry together.
 *
 * The record has two parties (its timer's refs): the cycle (the attempt
 * in flight, or the armed backoff timer), and the node on out, which
 * removes an armed timer at once when out is cancelled. An attempt that
 * starts once out is done does not call fn. Only the cycle writes
 * attempt and rng.
 */
#include "config.h"

#include "alloc.h"
#include "atomic.h"
#include "executor.h"
#include "future.h"
#include "futex.h"
#include "submit.h"
#include "timer.h"

#define DEFAULT_ATTEMPTS 3u
#define DEFAULT_BASE_NS 1000000	   /* 1 ms */
#define DEFAULT_CAP_NS 1000000000 /* 1 s */

struct retry {
	struct filch__timer tm;
	unsigned attempt; /* attempts started */
	uint64_t rng;	  /* xorshift64 state */
	struct filch_retry_policy p; /* defaults filled in */
	filch_executor *ex;	     /* a reference */
	filch_task_fn fn;
	void *arg;
	filch_future *out; /* a reference */
	struct filch__callback on_out, on_run;
};

static void retry_put(struct retry *r)
{
	filch__time_put_record(&r->tm, r, r->out, r->ex);
}

/* The cycle ends with out's outcome: code 0 (result), > 0 (an error with
 * message), or a refusal rc < 0 (cancelled by a shutdown, else failed). */
static void cycle_end(struct retry *r, int code, void *result,
		      const char *message)
{
	if (r->p.attempts)
		*r->p.attempts = r->attempt;
	if (code == -ESHUTDOWN || code == -ECANCELED)
		filch__future_cancel(r->out);
	else if (code < 0)
		filch__time_fail(r->out, -code, "the retry could not be submitted");
	else if (code)
		filch__time_fail(r->out, code, message);
	else
		filch__future_settle(r->out, 0, result, NULL);
	retry_put(r);
}

/* One attempt: fn, unless out is done already (cancelled). */
static int attempt_run(void *arg, void **result)
{
	struct retry *r = arg;

	if (filch_future_done(r->out))
		return ECANCELED;
	return r->fn(r->arg, result);
}

/* Starts the next attempt: from the timer thread, or (first) from the
 * caller with the foreign submission's rules. */
static int attempt_start(struct retry *r, bool first)
{
	filch_future *run = filch__task_future_new(r->ex, attempt_run, r);
	int rc;

	if (!run)
		return -ENOMEM;
	r->attempt++;
	rc = first ? filch__sched_submit(r->ex, &run->task)
		   : filch__timer_submit(r->ex, &run->task);
	if (rc) {
		r->attempt--;
		filch__block_free(run); /* never shared */
		return rc;
	}
	/* Our reference to run is dropped by on_run (perhaps at once). */
	filch__future_add_callback(run, &r->on_run);
	return 0;
}

static int64_t backoff(struct retry *r)
{
	int64_t bound = r->p.base_ns;

	for (unsigned k = 1; k < r->attempt && bound < r->p.cap_ns; k++)
		bound = bound > INT64_MAX / 2 ? INT64_MAX : 2 * bound;
	if (bound > r->p.cap_ns)
		bound = r->p.cap_ns;
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return bound == INT64_MAX ? (int64_t)(r->rng >> 1)
				  : (int64_t)(r->rng % ((uint64_t)bound + 1));
}

static void retry_fire(struct filch__timer *t, bool cancelled)
{
	struct retry *r = filch__container_of(t, struct retry, tm);
	int rc;

	if (cancelled)
		cycle_end(r, -ECANCELED, NULL, NULL);
	else if (filch_future_done(r->out))
		retry_put(r);
	else if ((rc = attempt_start(r, false)) != 0)
		cycle_end(r, rc, NULL, NULL);
}

/* Arms the backoff after a failed attempt (code, message). */
static void backoff_arm(struct retry *r, int code, const char *message)
{
	int rc;

	/* Armed, the timer may fire and end the cycle at once: the re-check
	 * below holds a reference of its own. Relaxed: we hold one. */
	filch__add(&r->tm.refs, 1, relaxed);
	rc = filch__timer_arm(r->ex, &r->tm, filch__timer_deadline(backoff(r)));
	if (rc)
		cycle_end(r, rc == -ENOMEM ? code : rc, NULL, message);
	else if (filch_future_done(r->out) && filch__timer_cancel(r->ex, &r->tm))
		retry_put(r); /* cancelled while we armed */
	retry_put(r);
}

static void retry_run_done(struct filch__callback *node, filch_future *run)
{
	struct retry *r = filch__container_of(node, struct retry, on_run);
	int code = run->code;

	if (filch_future_cancelled(run)) /* discarded by a shutdown */
		cycle_end(r, -ECANCELED, NULL, NULL);
	else if (filch_future_done(r->out))
		retry_put(r);
	else if (code == 0 || r->attempt >= r->p.max_attempts ||
		 (r->p.retry_if && !r->p.retry_if(code, r->p.retry_if_arg)))
		cycle_end(r, code, run->result, run->message);
	else
		backoff_arm(r, code, run->message);
	filch_future_release(run);
}

static void retry_out_done(struct filch__callback *node, filch_future *out)
{
	struct retry *r = filch__container_of(node, struct retry, on_out);

	(void)out;
	if (filch__timer_cancel(r->ex, &r->tm))
		retry_put(r); /* the cycle's part */
	retry_put(r);
}

int filch_submit_retry(filch_executor *ex, filch_task_fn fn, void *arg,
		       const struct filch_retry_policy *policy,
		       filch_future **fut)
{
	static const struct filch_retry_policy defaults;
	struct retry *r;
	filch_future *o;
	int rc;

	if (!policy)
		policy = &defaults;
	if (!ex || !fn || !fut || policy->flags || policy->base_ns < 0 ||
	    policy->cap_ns < 0)
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	if (!(r = filch__malloc(sizeof(*r))))
		return -ENOMEM;
	if (!(o = filch__future_new(FILCH__FUTURE_COMBINED, 2))) {
		filch__free(r);
		return -ENOMEM;
	}
	filch__timer_init(&r->tm, retry_fire, 0);
	atomic_init(&r->tm.refs, 2);
	r->attempt = 0;
	r->rng = ((uint64_t)(uintptr_t)r ^ (uint64_t)filch__now_ns()) | 1;
	r->p = *policy;
	if (!r->p.max_attempts)
		r->p.max_attempts = DEFAULT_ATTEMPTS;
	if (!r->p.base_ns)
		r->p.base_ns = DEFAULT_BASE_NS;
	if (!r->p.cap_ns)
		r->p.cap_ns = DEFAULT_CAP_NS;
	r->ex = ex;
	r->fn = fn;
	r->arg = arg;
	r->out = o;
	r->on_out.fn = retry_out_done;
	r->on_run.fn = retry_run_done;
	filch__executor_retain(ex);
	if ((rc = attempt_start(r, true)) != 0) {
		filch__executor_release(ex);
		filch__block_free(o); /* never shared */
		filch__free(r);
		return rc;
	}
	*fut = o;
	filch__future_add_callback(o, &r->on_out);
	return 0;
}
