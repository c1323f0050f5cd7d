/* SPDX-License-Identifier: MIT */
/*
 * then.c - continuations and combinators: filch_future_then, filch_when_all,
 * filch_when_any. Each registers internal callback nodes (future.h) on its
 * antecedents, so no lock is taken and nothing polls; errors and
 * cancellation travel to the dependent future through those callbacks.
 */
#include "config.h"

#include <stdint.h>

#include "alloc.h"
#include "atomic.h"
#include "executor.h"
#include "future.h"
#include "sched.h"
#include "trace.h"

/* Fails out with code (> 0) and, if memory allows, a copy of message.
 * Losing to a cancel or another completion is fine. */
static void fail(filch_future *out, int code, const char *message)
{
	if (filch__future_settle(out, code, NULL, message) == -ENOMEM)
		filch__future_settle(out, code, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* filch_future_then                                                   */
/* ------------------------------------------------------------------ */

/*
 * A continuation's references: the caller's, and the pipeline's: held by
 * its node on the antecedent, then by its task once submitted. The
 * antecedent travels in out->result (retained) from the node to the task.
 * The node (out->dep) and the task record (out->task) share their storage:
 * the record is filled only once the node ran, and the antecedent's list
 * never touches a node again after that.
 */
static FILCH__NO_CANARY void
then_run(struct filch__task *t, unsigned how)
{
	filch_future *out = filch__container_of(t, filch_future, task);
	filch_future *antecedent = out->result;
	out->result = NULL;
	if (how & FILCH__RUN_DISCARD) {
		filch__future_cancel(out);
	} else if (filch__future_start(out, filch__future_alone(out))) {
		/* Alone when the caller released out: no locked instruction
		 * (future.h). */
		struct filch__task_frame fr;
		filch__task_frame_enter(&fr, out, (void (*)(void))out->u.then.fn,
					false);
		bool traced = how & FILCH__RUN_TRACED; /* trace.h */
		filch__obs_task_begin(traced, (uintptr_t)out->u.then.fn,
				      out->u.then.arg);
		int rc = out->u.then.fn(antecedent, out->u.then.arg,
					&out->result);
		filch__obs_task_end(traced, rc);
		filch__task_frame_leave(&fr);
		filch__future_finish(out, rc, fr.message);
	}
	filch_future_release(antecedent);
	filch_future_release(out); /* the pipeline's reference */
}

static void then_antecedent_done(struct filch__callback *node, filch_future *a)
{
	filch_future *out = filch__container_of(node, filch_future, dep);
	filch_executor *ex = out->executor;
	if (filch_future_done(out)) {
		/* cancelled by its holder while it waited: nothing to run */
	} else if (filch_future_cancelled(a)) {
		filch__future_cancel(out);
	} else if (a->code) {
		fail(out, a->code, a->message);
	} else {
		out->result = filch_future_retain(a);
		out->task.run = then_run; /* out->dep is dead: see above */
		int rc = filch__sched_submit(ex, &out->task);
		if (rc == 0) { /* the task holds the pipeline's reference */
			filch__executor_release(ex);
			return;
		}
		out->result = NULL;
		filch_future_release(a);
		if (rc == -ESHUTDOWN)
			filch__future_cancel(out);
		else
			fail(out, -rc, "the continuation could not be submitted");
	}
	filch__executor_release(ex);
	filch_future_release(out); /* the pipeline's reference */
}

int filch_future_then(filch_future *f, filch_executor *ex, filch_then_fn fn,
		      void *arg, filch_future **out)
{
	if (!f || !ex || !fn || !out)
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	filch_future *o = filch__future_new(FILCH__FUTURE_THEN, 2);
	if (!o)
		return -ENOMEM;
	o->u.then.fn = fn;
	o->u.then.arg = arg;
	o->executor = ex;
	filch__executor_retain(ex);
	o->dep.fn = then_antecedent_done;
	*out = o; /* before the node may run and submit it */
	filch__future_add_callback(f, &o->dep);
	return 0;
}

/* ------------------------------------------------------------------ */
/* filch_when_all, filch_when_any                                      */
/* ------------------------------------------------------------------ */

struct combine;

struct combine_input {
	struct filch__callback node; /* on fs[index] */
	struct combine *c;
	size_t index;
};

/* Freed by the last input's callback, which also drops its reference to
 * out. The first input to decide the outcome settles out; the others lose
 * quietly (settle and cancel elect one winner). */
struct combine {
	_Atomic size_t unfired;	   /* inputs whose callback has not run */
	_Atomic size_t unfinished; /* when_all: inputs without a result yet */
	filch_future *out;
	bool any;
	struct combine_input in[];
};

static void combine_input_done(struct filch__callback *node, filch_future *f)
{
	struct combine_input *in =
		filch__container_of(node, struct combine_input, node);
	struct combine *c = in->c;
	filch_future *out = c->out;
	if (filch_future_cancelled(f))
		filch__future_cancel(out);
	else if (f->code)
		fail(out, f->code, f->message);
	else if (c->any)
		filch__future_settle(out, 0, (void *)(uintptr_t)in->index, NULL);
	/* relaxed: the count only elects the last input; the outcome is
	 * published by settle. */
	else if (filch__sub(&c->unfinished, 1, relaxed) == 1)
		filch__future_settle(out, 0, NULL, NULL);
	/* acq_rel: every callback's reads of c happen before the free by
	 * the last one (pairs with itself across the inputs' callbacks). */
	if (filch__sub(&c->unfired, 1, acq_rel) == 1) {
		filch_future_release(out);
		filch__free(c);
	}
}

static int combine(filch_future *const *fs, size_t n, filch_future **out,
		   bool any)
{
	if (!out || (n && !fs))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fs[i])
			return -EINVAL;
	if (n > (SIZE_MAX - sizeof(struct combine)) /
			sizeof(struct combine_input))
		return -ENOMEM;
	filch_future *o = filch__future_new(FILCH__FUTURE_COMBINED, n ? 2 : 1);
	if (!o)
		return -ENOMEM;
	if (n == 0) {
		filch__future_settle(o, 0, NULL, NULL);
		*out = o;
		return 0;
	}
	struct combine *c =
		filch__malloc(sizeof(*c) + n * sizeof(struct combine_input));
	if (!c) {
		filch__block_free(o);
		return -ENOMEM;
	}
	atomic_init(&c->unfired, n);
	atomic_init(&c->unfinished, n);
	c->out = o;
	c->any = any;
	for (size_t i = 0; i < n; i++) {
		c->in[i].node.fn = combine_input_done;
		c->in[i].c = c;
		c->in[i].index = i;
	}
	*out = o;
	/* The last callback frees c: nothing below reads it after the last
	 * node is added. */
	struct combine_input *in = c->in;
	for (size_t i = 0; i < n; i++)
		filch__future_add_callback(fs[i], &in[i].node);
	return 0;
}

int filch_when_all(filch_future *const *fs, size_t n, filch_future **out)
{
	return combine(fs, n, out, false);
}

int filch_when_any(filch_future *const *fs, size_t n, filch_future **out)
{
	if (n == 0)
		return -EINVAL;
	return combine(fs, n, out, true);
}
