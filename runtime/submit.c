/* SPDX-License-Identifier: MIT */
/*
 * submit.c - filch_submit and filch_submit_ex (with a future or fire and
 * forget), filch_task_fail and filch_cancel_requested (on the running-task
 * frames of frame.c).
 *
 * A submission with a future is the future itself: the task record is its
 * first member, so one block holds both; filch_submit_ex also sets its tag
 * and result destructor there before the task is handed over. It starts
 * with two references, the caller's and the task's; the task drops its own
 * after it completed the future (or cancelled it, when the scheduler
 * discards it), or, when a waiter ran the task in place
 * (filch__future_run_here), once its record is taken from the queue. A
 * fire-and-forget submission is a smaller record in a block of its own,
 * freed by the task when it has run; given a result destructor, the record
 * carries it and calls it on the task's result, which nobody else can
 * receive.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "alloc.h"
#include "atomic.h"
#include "future.h"
#include "sched.h"
#include "submit.h"
#include "trace.h"

struct fire_and_forget {
	struct filch__task task;
	filch_task_fn fn;
	void *arg;
	filch_executor *ex; /* told when the task fails */
};

/* filch_submit_ex without a future, with a result destructor. */
struct owned_fire_and_forget {
	struct fire_and_forget base;
	filch_result_dtor_fn dtor;
	void *dtor_arg;
};
_Static_assert(sizeof(struct owned_fire_and_forget) <= FILCH__BLOCK_SIZE,
	       "a fire-and-forget record fits in one block");

/* Runs the task of f, which the caller started, and completes f; traced
 * a constant (trace.h: one gate per task). Inline in both callers: the
 * worker's run of every submitted task is one. */
static inline __attribute__((always_inline)) void
future_task_body(filch_future *f, bool traced)
{
	struct filch__task_frame fr;
	filch__task_frame_enter(&fr, f, (void (*)(void))f->u.job.fn, false);
	filch__obs_task_begin(traced, (uintptr_t)f->u.job.fn, f->u.job.arg);
	int rc = f->u.job.fn(f->u.job.arg, &f->result);
	filch__obs_task_end(traced, rc);
	filch__task_frame_leave(&fr);
	filch__future_finish(f, rc, fr.message);
}

/* The body in its copy for how (FILCH__RUN_TRACED or not). how is 0 but
 * while a trace or a cancelling shutdown runs: the untraced copy costs one
 * test of it. */
static inline __attribute__((always_inline)) void
future_task_gated(filch_future *f, unsigned how)
{
	if (__builtin_expect(how == 0, 1) || !(how & FILCH__RUN_TRACED))
		future_task_body(f, false);
	else
		future_task_body(f, true);
}

/* Starts the task of f, which the task's reference keeps; false when f
 * was cancelled first. Every other holder gone (a submit-and-forget with a
 * callback): the start needs no locked instruction. */
static inline __attribute__((always_inline)) bool
future_task_start(filch_future *f)
{
	return filch__future_start(f, filch__future_alone(f));
}

static FILCH__NO_CANARY void
future_task_run(struct filch__task *t, unsigned how)
{
	filch_future *f = filch__container_of(t, filch_future, task);
	/* One test of how on the common path (see future_task_gated). */
	if (__builtin_expect(how == 0, 1)) {
		if (future_task_start(f))
			future_task_body(f, false);
	} else if (how & FILCH__RUN_DISCARD) {
		filch__future_cancel_pending(f);
	} else if (future_task_start(f)) {
		future_task_gated(f, how);
	}
	filch_future_release(f); /* the task's reference */
}

FILCH__NO_CANARY bool filch__future_run_here(filch_future *f)
{
	filch_executor *ex = filch__self_executor();
	if (!ex || f->kind != FILCH__FUTURE_TASK || f->executor != ex ||
	    !filch__future_start(f, false))
		return false;
	/* The record stays queued, holding the task's reference; whoever
	 * takes it finds f started and only drops that reference. */
	future_task_gated(f, filch__executor_how(ex));
	return true;
}

/* A fire-and-forget task failed with rc (not 0): tells r's executor. */
static __attribute__((noinline)) void
fire_and_forget_failed(struct fire_and_forget *r, int rc, char **message)
{
	int code = filch__task_code(rc, message);
	filch__executor_task_failed(r->ex, r->fn, r->arg, code, *message);
}

/* Runs the task of r; returns its result, or NULL when it failed. traced
 * a constant (trace.h: one gate per task). */
static inline __attribute__((always_inline)) void *
fire_and_forget_body(struct fire_and_forget *r, bool traced)
{
	struct filch__task_frame fr;
	void *result = NULL;
	filch__task_frame_enter(&fr, NULL, (void (*)(void))r->fn, false);
	filch__obs_task_begin(traced, (uintptr_t)r->fn, r->arg);
	int rc = r->fn(r->arg, &result);
	filch__obs_task_end(traced, rc);
	filch__task_frame_leave(&fr);
	if (__builtin_expect(rc != 0, 0))
		fire_and_forget_failed(r, rc, &fr.message);
	if (__builtin_expect(fr.message != NULL, 0))
		filch__free(fr.message);
	return rc ? NULL : result;
}

/* Runs the task of r unless how discards it; returns its result, or NULL
 * when it failed or did not run. */
static inline __attribute__((always_inline)) void *
fire_and_forget_gated(struct fire_and_forget *r, unsigned how)
{
	if (__builtin_expect(how != 0, 0)) { /* see future_task_gated */
		if (how & FILCH__RUN_DISCARD)
			return NULL;
		if (how & FILCH__RUN_TRACED)
			return fire_and_forget_body(r, true);
	}
	return fire_and_forget_body(r, false);
}

static FILCH__NO_CANARY void
fire_and_forget_run(struct filch__task *t, unsigned how)
{
	struct fire_and_forget *r =
		filch__container_of(t, struct fire_and_forget, task);
	fire_and_forget_gated(r, how);
	filch__block_free(r);
}

static FILCH__NO_CANARY void
owned_fire_and_forget_run(struct filch__task *t, unsigned how)
{
	struct owned_fire_and_forget *r =
		filch__container_of(t, struct owned_fire_and_forget, base.task);
	void *result = fire_and_forget_gated(&r->base, how);
	filch_result_dtor_fn dtor = r->dtor;
	void *dtor_arg = r->dtor_arg;
	filch__block_free(r);
	if (result)
		dtor(result, dtor_arg);
}

/* Fills r with its run function and task, and hands it to ex; frees it on
 * error. Out of line: filch_submit reaches it by a jump, keeping no
 * register of its own across the scheduler's call. */
static __attribute__((noinline)) int fire_and_forget_submit(filch_executor *ex,
					 struct fire_and_forget *r,
					 void (*run)(struct filch__task *, unsigned),
					 filch_task_fn fn, void *arg)
{
	r->task.run = run;
	r->fn = fn;
	r->arg = arg;
	r->ex = ex;
	int rc = filch__sched_submit(ex, &r->task);
	if (rc)
		filch__block_free(r);
	return rc;
}

/* filch__task_future_new, inline for submit's own path. */
static inline filch_future *task_future_new(filch_executor *ex,
					    filch_task_fn fn, void *arg)
{
	filch_future *f = filch__future_new(FILCH__FUTURE_TASK, 2);
	if (!f)
		return NULL;
	f->task.run = future_task_run;
	f->u.job.fn = fn;
	f->u.job.arg = arg;
	f->executor = ex;
	return f;
}

filch_future *filch__task_future_new(filch_executor *ex, filch_task_fn fn,
				     void *arg)
{
	return task_future_new(ex, fn, arg);
}

/* Hands f (from filch__task_future_new) to ex, and then to the caller. */
static inline int task_future_submit(filch_executor *ex, filch_future *f,
				     filch_future **fut)
{
	int rc = filch__sched_submit(ex, &f->task);
	if (rc) {
		filch__block_free(f); /* never shared: no outcome to give */
		return rc;
	}
	*fut = f; /* the caller's reference outlives the task's */
	return 0;
}

/* filch_submit with a future. Out of line, as fire_and_forget_submit. */
static __attribute__((noinline)) int
submit_with_future(filch_executor *ex, filch_task_fn fn, void *arg,
		   filch_future **fut)
{
	filch_future *f = task_future_new(ex, fn, arg);
	if (!f)
		return -ENOMEM;
	return task_future_submit(ex, f, fut);
}

int filch_submit(filch_executor *ex, filch_task_fn fn, void *arg,
		 filch_future **fut)
{
	if (!ex || !fn)
		return -EINVAL;
	if (fut)
		return submit_with_future(ex, fn, arg, fut);
	struct fire_and_forget *r = filch__block_alloc();
	if (!r)
		return -ENOMEM;
	return fire_and_forget_submit(ex, r, fire_and_forget_run, fn, arg);
}

int filch_submit_ex(filch_executor *ex, filch_task_fn fn, void *arg,
		    const struct filch_submit_opts *opts, filch_future **fut)
{
	if (!opts)
		return filch_submit(ex, fn, arg, fut);
	if (!ex || !fn || opts->flags)
		return -EINVAL;
	if (!fut) {
		if (!opts->result_dtor)
			return filch_submit(ex, fn, arg, NULL);
		struct owned_fire_and_forget *r = filch__block_alloc();
		if (!r)
			return -ENOMEM;
		r->dtor = opts->result_dtor;
		r->dtor_arg = opts->dtor_arg;
		return fire_and_forget_submit(ex, &r->base,
					      owned_fire_and_forget_run, fn,
					      arg);
	}
	filch_future *f = task_future_new(ex, fn, arg);
	if (!f)
		return -ENOMEM;
	/* Plain stores: the scheduler's hand-off publishes them with the
	 * rest of f. */
	atomic_init(&f->tag, opts->tag);
	atomic_init(&f->result_dtor, opts->result_dtor);
	f->dtor_arg = opts->dtor_arg;
	return task_future_submit(ex, f, fut);
}

int filch_task_fail(int code, const char *fmt, ...)
{
	struct filch__task_frame *fr = filch__task_frame_current();
	if (!fr || !fmt)
		return code;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return code;
	char *message = filch__malloc((size_t)n + 1);
	if (!message)
		return code; /* the code still fails the task */
	va_start(ap, fmt);
	vsnprintf(message, (size_t)n + 1, fmt, ap);
	va_end(ap);
	/* The frame holds the message until the task finishes. */
	filch__free(fr->message);
	fr->message = message;
	return code;
}

bool filch_cancel_requested(void)
{
	struct filch__task_frame *fr = filch__task_frame_current();
	if (!fr)
		return false;
	/* relaxed: a hint; filch__future_cancel sets it with relaxed. */
	if (fr->future && (filch__load(&fr->future->state, relaxed) &
			   FILCH__FS_CANCEL_REQUESTED))
		return true;
	/* A task run by CALLER_RUNS on a foreign thread has no executor. */
	filch_executor *ex = filch__self_executor();
	return ex && filch__executor_cancelling(ex);
}
