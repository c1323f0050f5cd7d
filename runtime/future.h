/* SPDX-License-Identifier: MIT */
/*
 * future.h - the future record and the internal calls that submit.c,
 * promise.c, then.c and the waiting layer (wait, as_completed, map, port)
 * build on: transitions, internal callback nodes, the running-task frame.
 *
 * The state word, the callback list and their memory orders are described
 * at the top of future.c and in docs/design.md ("Futures").
 */
#ifndef FILCH_FUTURE_H
#define FILCH_FUTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <filch.h>

#include "atomic.h"
#include "frame.h"
#include "perturb.h"
#include "probes.h"
#include "sched.h"

/*
 * An internal callback node. fn(node, f) runs once f is done, exactly once,
 * in the thread that completed f (or at once in the thread that added the
 * node if f was already done). The node belongs to whoever added it; the
 * list never touches a node again once its fn has been called, so fn may
 * free or reuse it. Nodes are usually embedded in a bigger record and fn
 * finds it with container_of.
 */
struct filch__callback;
typedef void (*filch__callback_fn)(struct filch__callback *node,
				   filch_future *f);
struct filch__callback {
	struct filch__callback *next;
	filch__callback_fn fn;
};

/* A callback added with filch_future_on_done. */
struct filch__user_callback {
	struct filch__callback node;
	/* The inline slot of a future is claimed by a CAS of cb from NULL. */
	_Atomic(filch_callback_fn) cb;
	void *arg;
};

/* What completes a future (fixed at creation). */
enum filch__future_kind {
	FILCH__FUTURE_TASK = 0,	    /* filch_submit: its task completes it */
	FILCH__FUTURE_PROMISE = 1,  /* filch_promise_*: the user completes it */
	FILCH__FUTURE_THEN = 2,	    /* filch_future_then: a continuation */
	FILCH__FUTURE_COMBINED = 3, /* filch_when_all / filch_when_any */
};

/* Bits of the state word (future.c has the protocol). */
#define FILCH__FS_PHASE 3u	      /* mask of enum filch_future_state */
#define FILCH__FS_SLEEPERS 4u	      /* a waiter sleeps on the futex */
#define FILCH__FS_CANCEL_REQUESTED 8u /* cancel asked while RUNNING */
#define FILCH__FS_COMPLETING 16u      /* a settler claimed it (see settle) */
#define FILCH__FS_TAKEN 32u	      /* FINISHED: its result was taken */

struct filch_future {
	/* First cache line: what submit, start, finish, waiters and the
	 * callback list touch. */
	union {
		struct filch__task task; /* the scheduler's record (TASK;
					    THEN once submitted) */
		struct filch__callback dep; /* THEN: its node on the
					       antecedent, until it ran */
	};
	_Atomic uint32_t state;
	_Atomic uint32_t refs;
	_Atomic(struct filch__callback *) callbacks;
	union {
		struct { /* TASK, until started */
			filch_task_fn fn;
			void *arg;
		} job;
		struct { /* THEN, until started */
			filch_then_fn fn;
			void *arg;
		} then;
		struct { /* once done: a completion whose callbacks wait
			    their turn on this thread (future.c) */
			filch_future *next;
			struct filch__callback *list;
		} deferred;
	} u;
	union {
		/* FINISHED with code 0 (the task writes it while it runs);
		 * THEN: the antecedent until fn runs */
		void *result;
		/* FINISHED with code > 0: owned, or NULL (while the task
		 * runs, its message waits in its task frame) */
		char *message;
	};
	int code;     /* FINISHED: 0, or the task's positive error code */
	uint8_t kind; /* enum filch__future_kind */
	/* Second cache line: the rarer parts. */
	filch_executor *executor;   /* TASK: where it was submitted (not a
				       reference: compared, never used);
				       THEN: where fn runs (a reference) */
	struct filch__user_callback first_callback; /* inline on_done slot */
	/* The user's tag: filch_future_set_tag (release) and
	 * filch_future_tag (acquire). */
	_Atomic(void *) tag;
	/* The result's owner (future.c, "The result's owner"): NULL until
	 * claimed once by a CAS; dtor_arg is written by the claimer. */
	_Atomic(filch_result_dtor_fn) result_dtor;
	void *dtor_arg;
};

_Static_assert(sizeof(struct filch_future) <= FILCH__BLOCK_SIZE,
	       "a future fits in one task-record block");
_Static_assert(offsetof(struct filch_future, kind) < FILCH_CACHELINE,
	       "hot fields in the first cache line");

#ifndef filch__container_of /* executor.h has the same one */
#define filch__container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#endif

/* A new PENDING future of kind with refs references, from the block slab;
 * NULL when out of memory. The caller fills the kind's fields. */
static inline filch_future *filch__future_new(enum filch__future_kind kind,
					      uint32_t refs)
{
	filch_future *f = filch__block_alloc();
	if (!f)
		return NULL;
	/* Plain initialization: f reaches other threads only through a
	 * hand-off that orders it (the scheduler, or the caller's own). */
	f->task.run = NULL; /* also dep.next: THEN sets dep.fn */
	atomic_init(&f->state, FILCH_PENDING);
	atomic_init(&f->refs, refs);
	atomic_init(&f->callbacks, NULL);
	f->u.job.fn = NULL;
	f->u.job.arg = NULL;
	f->result = NULL; /* also message */
	f->code = 0;
	f->kind = (uint8_t)kind;
	f->executor = NULL;
	atomic_init(&f->first_callback.cb, NULL);
	atomic_init(&f->tag, NULL);
	atomic_init(&f->result_dtor, NULL); /* dtor_arg is read only with it */
	return f;
}

/*
 * Whether the caller's reference to f is its only one. Then no other thread
 * can reach f (every call on a future needs a reference), nor gain one
 * (only a holder can retain f), until the caller hands f on: the runner of
 * a task whose other holders all released f may start and finish it
 * without a locked instruction. One exception, which is why the start and
 * the finish each ask: while the task runs, a timed shutdown's report
 * retains its future through the running-task frame (frame.c). So the
 * runner asks before it enters the frame (filch__future_start with alone)
 * and again after it left it (filch__future_finish): once the frame is
 * left nobody can retain f that way, and a report that did is a holder.
 */
static inline bool filch__future_alone(filch_future *f)
{
	/* acquire: every other holder's uses of f (its pushes, cancel, the
	 * settle of a waiter that ran f in place) before our own; pairs with
	 * the acq_rel decrements of filch_future_release. */
	return filch__load(&f->refs, acquire) == 1;
}

/* The runner of a TASK or THEN future moves it PENDING -> RUNNING; false
 * when it was cancelled first, or (a TASK) started by a waiter that runs it
 * in place: then it must not run it. Flags set while PENDING (SLEEPERS)
 * are kept. alone: filch__future_alone(f) said so; then no RMW is needed. */
static inline bool filch__future_start(filch_future *f, bool alone)
{
	uint32_t s = filch__load(&f->state, relaxed);

	if (alone) {
		if ((s & FILCH__FS_PHASE) != FILCH_PENDING)
			return false;
		/* relaxed: nobody else can see f (filch__future_alone). */
		filch__store(&f->state, s | FILCH_RUNNING, relaxed);
		return true;
	}
	do {
		if ((s & FILCH__FS_PHASE) != FILCH_PENDING)
			return false;
		/* acquire: pairs with filch__future_cancel's CAS when we
		 * lose (nothing to read then, but the loser decides on its
		 * value); the task's fields were ordered by the scheduler's
		 * hand-off, or by the waiter's own reference. */
	} while (!filch__cas_weak(&f->state, &s, s | FILCH_RUNNING, acquire,
				  relaxed));
	return true;
}

/* The slow parts of the completions below (future.c): a failed task's
 * outcome, waking the sleepers, closing the callback list (the runner
 * alone: relaxed; anyone else: see "Who closes" in future.c). */
void filch__future_finish_outcome(filch_future *f, int rc, char *message);
void filch__future_wake_sleepers(filch_future *f);
void filch__future_close_alone(filch_future *f);
void filch__future_run_callbacks(filch_future *f);

/* After the (seq_cst) transition that made f's phase final; old: the word
 * before it. Inline: a task's completion without sleepers or callbacks
 * calls nothing. */
static inline __attribute__((always_inline)) void
filch__future_completed(filch_future *f, uint32_t old)
{
	FILCH__PROBE1(future__complete, f);
	if (old & FILCH__FS_SLEEPERS)
		filch__future_wake_sleepers(f);
	FILCH__PERTURB(); /* widen the race with on_done */
	/* seq_cst: the store-load pair with filch__future_add_callback (its
	 * push, then its load of the state). Either this load sees the push,
	 * or that load sees the final phase and the adder closes the list:
	 * an empty list needs no RMW here. */
	if (filch__load(&f->callbacks, seq_cst))
		filch__future_run_callbacks(f);
}

/* The runner that started f completes it, after leaving its task frame:
 * rc is the task's return (0, a positive code, or -code); f->result was
 * stored by the task, message is the one its frame holds (filch_task_fail;
 * may be NULL): f keeps it if the task failed, else it is freed.
 * Publishes, wakes waiters, runs callbacks. The caller holds a reference
 * across the call; if it is the only one (filch__future_alone), with plain
 * stores. Inline: every task with a future ends here; a success without
 * a message leaves code as filch__future_new set it (0: nobody else
 * writes it while the runner holds RUNNING). */
static inline __attribute__((always_inline)) void
filch__future_finish(filch_future *f, int rc, char *message)
{
	if (__builtin_expect(rc != 0 || message != NULL, 0))
		filch__future_finish_outcome(f, rc, message);
	if (filch__future_alone(f)) {
		/* relaxed: our reference is f's only one, and the task's
		 * frame is left (see filch__future_alone), so no other
		 * thread can read or write the word or the list, nor sleep
		 * on f; a callback that hands f on orders these stores by
		 * its own hand-off. */
		filch__store(&f->state, FILCH_FINISHED, relaxed);
		if (filch__load(&f->callbacks, relaxed))
			filch__future_close_alone(f);
		return;
	}
	/* seq_cst: release publishes result, code and message before
	 * FINISHED (pairs with the acquire loads of the waiters, wait_done,
	 * and of on_done); seq_cst for the store-load pair of
	 * filch__future_completed. */
	filch__future_completed(f, filch__xchg(&f->state, FILCH_FINISHED,
					       seq_cst));
}

/*
 * Completes a future that nobody runs (a promise, a combinator, a
 * continuation failing with its antecedent) with code 0 and result, or with
 * code > 0 and a copy of message (may be NULL). Exactly one settle wins:
 * returns 0, -ECANCELED (f was cancelled), -EINVAL (already completed or
 * being completed), or -ENOMEM (the message could not be copied; f is
 * unchanged). The caller holds a reference across the call.
 */
int filch__future_settle(filch_future *f, int code, void *result,
			 const char *message);

/* Cancels f if it is PENDING, or asks its running task to stop (what
 * filch_future_cancel does). */
bool filch__future_cancel(filch_future *f);

/* Cancels f if it is PENDING; leaves a running one alone (a discarded
 * task record whose future a waiter already runs in place). */
bool filch__future_cancel_pending(filch_future *f);

/* Ends f CANCELLED, PENDING or RUNNING, unless it is done or a settler
 * claimed it (filch__future_settle): for a promise whose running work its
 * holder stopped (the task of a killed worker process), so that f reads
 * as cancelled, as a task cancelled before it ran. True if it did;
 * exactly one of it and a racing settle wins. The caller holds a
 * reference across the call. */
bool filch__future_cancel_running(filch_future *f);

/* Moves the promise f back from RUNNING to PENDING, unless it is in
 * another phase or a settler claimed it: its holder had set it running
 * for work that never started and now waits again (a process pool's call
 * queued again after its worker died before starting it), so that
 * filch_future_cancel cancels it. True if it did. The caller holds a
 * reference across the call. */
bool filch__future_unstart(filch_future *f);

/* Waits for f without a timeout, and never gives up for want of a spare
 * (on a worker it then sleeps uncompensated): for internal waits that
 * must not return before f is done. */
void filch__future_wait(filch_future *f);

/* On a worker of the executor that f (a submitted task) was given to: if
 * nobody started f's task, starts it and runs it here, completing f, and
 * returns true (a waiter without a timeout, whose result depends on it).
 * Else false, at once. */
bool filch__future_run_here(filch_future *f);

/*
 * Adds node to f's callbacks, or runs node->fn(node, f) at once if f is
 * already done. If f completes during the call, node may run in this
 * thread (with other nodes added concurrently) rather than in the
 * completer's. The caller holds a reference to f. Never fails, never
 * allocates. Lock-free.
 */
void filch__future_add_callback(filch_future *f, struct filch__callback *node);

/* Runs callbacks of futures completed by this thread inside a callback
 * (future.c keeps the stack flat by deferring them): called by waits so that
 * a callback that waits cannot wait on its own thread's deferred work. */
void filch__future_run_deferred(void);

/* True when a state word value is FINISHED or CANCELLED. */
static inline bool filch__future_is_done(uint32_t state)
{
	return (state & FILCH__FS_PHASE) >= FILCH_FINISHED;
}


/* A copy of s from filch__malloc, or NULL (also when s is NULL). */
char *filch__strdup(const char *s);

#endif /* FILCH_FUTURE_H */
