/* SPDX-License-Identifier: MIT */
/*
 * future.c - the future's state machine, its lock-free callback list, and
 * waiting for it (spin briefly, then sleep on a futex; a worker that sleeps
 * has a spare stand in, and an untimed wait on a worker runs the future's
 * own task when nobody started it).
 *
 * The state word (struct filch_future.state)
 * ------------------------------------------
 * Bits 0-1, the phase (enum filch_future_state):
 *
 *   PENDING (0)   created; nobody has started or completed it (or a
 *                 promise set running went back: filch__future_unstart).
 *   RUNNING (1)   its task runs, or a promise was set running or claimed by
 *                 the thread that completes it.
 *   FINISHED (2)  done with code 0 and a result, or a positive code and an
 *                 optional message. Final.
 *   CANCELLED (3) done without running. Final.
 *
 * Flag bits, meaningful only before the phase is final (a final transition
 * clears them all), but for TAKEN:
 *
 *   SLEEPERS          a waiter sleeps (or is about to) on the futex of this
 *                     word; whoever makes the phase final wakes everybody.
 *   CANCEL_REQUESTED  filch_future_cancel saw RUNNING; the task reads it
 *                     through filch_cancel_requested().
 *   COMPLETING        a settler (promise, combinator) owns the completion:
 *                     set together with RUNNING by one CAS, so that exactly
 *                     one settler writes result, code and message.
 *   TAKEN             FINISHED with code 0 only: filch_future_take_result
 *                     moved the result out (one RMW: one taker wins). Set
 *                     after the final transition, never cleared.
 *
 * Writers and transitions, each one atomic read-modify-write (but for the
 * runner alone, below):
 *
 *   PENDING -> RUNNING     filch__future_start (CAS by the task's runner:
 *                          the worker that took its record, or a waiter
 *                          that runs it in place; the loser finds another
 *                          phase and leaves it), filch_promise_set_running
 *                          and the claim of filch__future_settle (CAS).
 *   PENDING -> CANCELLED   filch__future_cancel (CAS), also for a task the
 *                          scheduler discards (filch__future_cancel_pending)
 *                          for a promise whose last reference is
 *                          dropped (abandon), and for a promise whose
 *                          holder stopped it (filch__future_cancel_running,
 *                          CAS; it loses to a settler's claim).
 *   RUNNING -> FINISHED    filch__future_finish (xchg by the runner, the
 *                          only writer of the phase while RUNNING) and
 *                          filch__future_settle (xchg by the claimer).
 *   RUNNING -> CANCELLED   abandon: a promise set running whose last
 *                          reference is dropped; nobody else can complete it.
 *                          And filch__future_cancel_running (CAS): the
 *                          holder of a promise stopped its work from
 *                          outside (a process pool killed the task's
 *                          worker); it loses to a settler's claim.
 *   RUNNING -> PENDING     filch__future_unstart (CAS), promises only:
 *                          the holder set it running for work that then
 *                          never started and waits again (a process
 *                          pool's call queued again after its worker
 *                          died); it loses to a settler's claim. The flags
 *                          stay. No runner exists for a promise, so the
 *                          runner's protocol above (and the model of it,
 *                          stress/future_model.cpp) is unchanged.
 *   flags                  SLEEPERS by waiters (CAS), CANCEL_REQUESTED by
 *                          filch__future_cancel (CAS), COMPLETING by settle,
 *                          TAKEN by filch_future_take_result (fetch_or).
 *
 * Cancel and start race on PENDING: both are RMWs of this word, so one of
 * them sees the other's value and loses.
 *
 * The runner alone. A runner whose reference is f's only one
 * (filch__future_alone: refs loaded as 1 with acquire) has nobody to race:
 * every other call needs a reference, and only a holder can make another
 * (but a timed shutdown's report, through the running-task frame: so the
 * start asks before the frame is entered, the finish after it is left).
 * Its start (PENDING -> RUNNING, or nothing when it finds CANCELLED or
 * FINISHED: cancelled, or run in place by a waiter, before the others let
 * go) and its finish (RUNNING -> FINISHED, then the list taken and CLOSED
 * stored when not empty) are plain relaxed loads and stores. This is the
 * common "submit, add a callback, release" and a continuation whose
 * caller released it: their link takes no locked instruction in future.c
 * but the submitter's reference drop.
 *
 * The callback list (struct filch_future.callbacks)
 * -------------------------------------------------
 * A Treiber stack of struct filch__callback: NULL (empty), a node (the one
 * added last), or CALLBACKS_CLOSED. An adder that finds f done, or the list
 * CLOSED, runs its node at once; otherwise it pushes with a CAS. Closing
 * (filch__future_run_callbacks) swaps in CLOSED, takes the whole list,
 * reverses it so that callbacks run in the order added, and runs each
 * once. Nothing is ever
 * popped alone, so there is no ABA. A node on the list belongs to the list;
 * a node whose fn was called is never touched again.
 *
 * Who closes: the completer, after its final transition, loads the list
 * and closes it only if it is not empty (no RMW for a future without
 * callbacks). An adder, after its push, loads the state and closes the list
 * if f is done. Both pairs are seq_cst (a store-load pair): either the
 * completer's load sees the push, or the adder's load sees the final phase,
 * so no node is stranded; the xchg decides who takes which nodes, so none
 * runs twice. An adder racing a completion may thus run callbacks that
 * other racing adders pushed, in the order added.
 *
 * A future completed while this thread runs callbacks (a callback cancels
 * another future, or fails a continuation) does not recurse: its taken list
 * is queued on this thread and run after the current callback returns, so
 * a chain of 10^5 continuations failing at once uses a flat stack.
 *
 * Memory orders
 * -------------
 *   final transitions (filch__future_finish and settle xchg, cancel and
 *       abandon CAS): seq_cst. Their release half publishes result, code
 *       and message (or the canceller's writes) to the waiters' and adders'
 *       acquire loads of state; seq_cst makes them, with the seq_cst load
 *       of the list in filch__future_completed, the completer's half of
 *       the store-load pair with filch__future_add_callback (seq_cst push,
 *       seq_cst load of state). On x86 every RMW is a full barrier and
 *       a seq_cst load is a plain load: the pair costs nothing over
 *       acquire/release.
 *   filch__future_run_callbacks xchg (acq_rel): acquire pairs with the
 *       push CAS (node contents); release pairs with an adder's acquire
 *       when it finds CLOSED (the final state).
 *   the runner alone (filch__future_start with alone, _finish):
 *       relaxed loads and stores of the word and the list; the acquire load
 *       of refs in filch__future_alone pairs with the other holders'
 *       acq_rel decrements (filch_future_release), so their pushes, cancel
 *       or run in place happen before; whoever gets f from a callback gets
 *       it through a hand-off that orders the stores before.
 *   refs: retain relaxed (the caller already holds one); release acq_rel
 *       (each holder's uses happen before the free by the last one); a
 *       holder that loads 1 (acquire) is the only one and frees at once.
 *   SLEEPERS CAS and the futex: relaxed; a single word's modification order
 *       decides who sees what (the finisher's xchg either reads SLEEPERS and
 *       wakes, or the waiter's CAS fails on the final phase), and the waiter
 *       reloads with acquire after every wake-up.
 *   TAKEN fetch_or: relaxed; the word's modification order elects one
 *       taker, and the free that must see TAKEN is ordered after it by the
 *       taker's release of its reference (refs, above).
 *
 * The result's owner (result_dtor, dtor_arg)
 * ------------------------------------------
 * result_dtor is NULL (nobody owns the result: filch never frees it) or
 * the destructor, claimed once by a CAS from NULL (filch_submit_ex sets it
 * before the future is shared); the claimer then writes dtor_arg. Only the
 * last reference reads them: last_reference_dropped calls the destructor
 * on the result of a future FINISHED with code 0, a non-NULL result and
 * no TAKEN. Every setter and taker holds a reference, so its writes happen
 * before that free (refs acq_rel); the CAS itself can be relaxed.
 *
 * The tag: filch_future_set_tag stores it with release, filch_future_tag
 * loads it with acquire (what the setter wrote before the tag is visible
 * to a reader that sees it); filch_submit_ex stores it before the
 * scheduler's hand-off.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>

#include "alloc.h"
#include "atomic.h"
#include "futex.h"
#include "future.h"
#include "perturb.h"
#include "probes.h"
#include "sched.h"

_Static_assert(sizeof(struct filch__user_callback) <= FILCH__BLOCK_SIZE,
	       "an on_done node fits in one block");

/* How long a waiter spins before sleeping, the first part with pauses,
 * the rest yielding the CPU. */
#define WAIT_SPIN_NS 10000
#define WAIT_PAUSE_NS 2000

static struct filch__callback closed_mark;
#define CALLBACKS_CLOSED (&closed_mark)

/* Completions whose callbacks wait for the current callback to return.
 * initial-exec, as FILCH__TLS in executor.h: no __tls_get_addr call on
 * every completion. */
static _Thread_local __attribute__((tls_model("initial-exec"))) struct {
	bool running;
	filch_future *head, *tail;
} deferred;

char *filch__strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *copy = filch__malloc(n);
	if (copy)
		memcpy(copy, s, n);
	return copy;
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */
/* ------------------------------------------------------------------ */

/* Out of line: a future's only callback runs without the loop (run_taken),
 * which then keeps nothing in registers across the call. */
static __attribute__((noinline)) void run_list(filch_future *f,
					       struct filch__callback *n)
{
	while (n) {
		struct filch__callback *next = n->next;
		n->fn(n, f); /* may free n, and f's other references */
		n = next;
	}
}

static __attribute__((noinline)) void run_deferred(void)
{
	filch_future *g;
	while ((g = deferred.head)) {
		deferred.head = g->u.deferred.next;
		if (!deferred.head)
			deferred.tail = NULL;
		run_list(g, g->u.deferred.list);
		filch_future_release(g);
	}
}

void filch__future_run_deferred(void)
{
	if (deferred.running)
		run_deferred();
}

/* n, newest first as the stack holds them, in the order added. */
static __attribute__((noinline)) struct filch__callback *
reverse(struct filch__callback *n)
{
	struct filch__callback *list = NULL;
	while (n) {
		struct filch__callback *next = n->next;
		n->next = list;
		list = n;
		n = next;
	}
	return list;
}

/* Queues f's taken nodes n (newest first) behind the callback that this
 * thread runs now, in the order added. */
static __attribute__((noinline)) void defer(filch_future *f,
					    struct filch__callback *n)
{
	/* u.job / u.then are dead once f is done: reuse them. */
	filch_future_retain(f);
	f->u.deferred.list = reverse(n);
	f->u.deferred.next = NULL;
	if (deferred.tail)
		deferred.tail->u.deferred.next = f;
	else
		deferred.head = f;
	deferred.tail = f;
}

/* Runs (or queues, see the top) the nodes n taken from f's list when
 * closing it, newest first as the stack holds them; n is not empty (a
 * list, once pushed, holds nodes until it is closed). */
static void run_taken(filch_future *f, struct filch__callback *n)
{
	if (deferred.running) {
		defer(f, n);
		return;
	}
	deferred.running = true;
	if (n->next)
		run_list(f, reverse(n)); /* in the order added */
	else
		n->fn(n, f); /* may free n, and f's other references */
	if (deferred.head)
		run_deferred();
	deferred.running = false;
}

/* Closes f's list (f is done) and runs what it held, or queues it (see the
 * top). Called by the completer, or by an adder that pushed its node and
 * then found f done; whoever closes first takes every node. */
void filch__future_run_callbacks(filch_future *f)
{
	/* acq_rel: acquire pairs with the push CAS of
	 * filch__future_add_callback (we read the nodes); release pairs with
	 * its acquire when it finds CLOSED (it reads the final state). */
	struct filch__callback *n = filch__xchg(&f->callbacks, CALLBACKS_CLOSED,
						acq_rel);
	if (n != CALLBACKS_CLOSED) /* else another thread took the list */
		run_taken(f, n);
}

void filch__future_wake_sleepers(filch_future *f)
{
	filch__futex_wake(&f->state, INT32_MAX);
}

/* An adder pushed its node and found f done: closes the list, holding a
 * reference of its own since a callback may drop the caller's. Out of
 * line: the push's common path then saves fewer registers. */
static __attribute__((noinline)) void close_late(filch_future *f)
{
	filch_future_retain(f);
	filch__future_run_callbacks(f);
	filch_future_release(f);
}

/* filch__future_add_callback after its check of the state, which the
 * caller made: pushes node, or runs it if the list is closed or f is done
 * meanwhile. Inline in filch_future_on_done, which checks the state before
 * it claims the inline slot. */
static inline __attribute__((always_inline)) void
push_callback(filch_future *f, struct filch__callback *node)
{
	/* acquire (also on CAS failure): when we find CLOSED we run node at
	 * once and it reads f's outcome; pairs with the release of
	 * filch__future_run_callbacks. */
	struct filch__callback *head = filch__load(&f->callbacks, acquire);
	do {
		if (head == CALLBACKS_CLOSED) {
			node->fn(node, f);
			return;
		}
		node->next = head;
		/* seq_cst: release publishes node's fields (pairs with the
		 * acquire xchg of filch__future_run_callbacks); seq_cst
		 * makes the push and the load below the adder's half of the
		 * store-load pair with filch__future_completed. */
	} while (!filch__cas_weak(&f->callbacks, &head, node, seq_cst, acquire));
	FILCH__PERTURB(); /* widen the race with filch__future_completed */
	/* seq_cst: see filch__future_completed. If f is done, its completer
	 * may have found the list empty before our push (and dropped its
	 * reference since): close it ourselves. */
	if (filch__future_is_done(filch__load(&f->state, seq_cst)))
		close_late(f);
}

void filch__future_add_callback(filch_future *f, struct filch__callback *node)
{
	/* acquire: node->fn reads f's outcome; pairs with the release of the
	 * final transition. */
	if (filch__future_is_done(filch__load(&f->state, acquire))) {
		node->fn(node, f);
		return;
	}
	push_callback(f, node);
}

static void inline_callback_run(struct filch__callback *node, filch_future *f)
{
	struct filch__user_callback *uc =
		filch__container_of(node, struct filch__user_callback, node);
	filch_callback_fn cb = filch__load(&uc->cb, relaxed);
	cb(f, uc->arg);
}

static void heap_callback_run(struct filch__callback *node, filch_future *f)
{
	struct filch__user_callback *uc =
		filch__container_of(node, struct filch__user_callback, node);
	filch_callback_fn cb = filch__load(&uc->cb, relaxed);
	void *arg = uc->arg;
	filch__block_free(uc);
	cb(f, arg);
}

int filch_future_on_done(filch_future *f, filch_callback_fn cb, void *arg)
{
	if (!f || !cb)
		return -EINVAL;
	/* acquire: cb reads f's outcome; pairs with the final transition's
	 * release (finish, settle, cancel). */
	if (filch__future_is_done(filch__load(&f->state, acquire))) {
		cb(f, arg);
		return 0;
	}
	struct filch__user_callback *uc = &f->first_callback;
	filch_callback_fn none = NULL;
	/* relaxed: the claim only decides who owns the slot; its contents
	 * are published by the push of push_callback. */
	if (filch__cas(&uc->cb, &none, cb, relaxed, relaxed)) {
		uc->node.fn = inline_callback_run;
	} else {
		uc = filch__block_alloc();
		if (!uc) {
			/* acquire: as above, cb reads the outcome; pairs with
			 * the final transition's release. */
			if (!filch__future_is_done(
				    filch__load(&f->state, acquire)))
				return -ENOMEM;
			cb(f, arg); /* done meanwhile: no node needed */
			return 0;
		}
		atomic_init(&uc->cb, cb);
		uc->node.fn = heap_callback_run;
	}
	uc->arg = arg;
	push_callback(f, &uc->node); /* the state was checked above */
	return 0;
}

/* ------------------------------------------------------------------ */
/* Transitions                                                         */
/* ------------------------------------------------------------------ */

void filch__future_finish_outcome(filch_future *f, int rc, char *message)
{
	int code = filch__task_code(rc, &message);
	f->code = code;
	if (code)
		f->message = message; /* what the failed task stored in
					 *result is its own to free */
	else
		filch__free(message); /* a message for a task that succeeded */
}

void filch__future_close_alone(filch_future *f)
{
	/* relaxed: as in filch__future_finish, the runner alone. */
	struct filch__callback *n = filch__load(&f->callbacks, relaxed);
	filch__store(&f->callbacks, CALLBACKS_CLOSED, relaxed);
	run_taken(f, n);
}

int filch__future_settle(filch_future *f, int code, void *result,
			 const char *message)
{
	char *copy = NULL;
	if (code != 0 && message && !(copy = filch__strdup(message)))
		return -ENOMEM;
	uint32_t s = filch__load(&f->state, relaxed);
	do {
		uint32_t phase = s & FILCH__FS_PHASE;
		if (phase == FILCH_CANCELLED || phase == FILCH_FINISHED ||
		    (s & FILCH__FS_COMPLETING)) {
			filch__free(copy);
			return phase == FILCH_CANCELLED ? -ECANCELED : -EINVAL;
		}
		/* relaxed: the claim only elects the one writer; what it
		 * writes is published by the xchg below. */
	} while (!filch__cas_weak(&f->state, &s,
				  s | FILCH_RUNNING | FILCH__FS_COMPLETING,
				  relaxed, relaxed));
	if (code)
		f->message = copy;
	else
		f->result = result;
	f->code = code;
	filch_future_retain(f); /* a callback may drop the caller's reference */
	/* seq_cst: as in filch__future_finish. */
	uint32_t old = filch__xchg(&f->state, FILCH_FINISHED, seq_cst);
	filch__future_completed(f, old);
	filch_future_release(f);
	return 0;
}

/* Cancels f if it is PENDING; if it is RUNNING and request is set, asks
 * its task to stop. Whether f ends CANCELLED. */
static bool cancel(filch_future *f, bool request)
{
	uint32_t s = filch__load(&f->state, relaxed);
	for (;;) {
		switch (s & FILCH__FS_PHASE) {
		case FILCH_CANCELLED:
			return true;
		case FILCH_FINISHED:
			return false;
		case FILCH_RUNNING:
			if (!request || (s & FILCH__FS_CANCEL_REQUESTED))
				return false;
			/* relaxed: a hint the task polls; it orders nothing. */
			if (filch__cas_weak(&f->state, &s,
					    s | FILCH__FS_CANCEL_REQUESTED,
					    relaxed, relaxed))
				return false;
			break;
		default: /* PENDING */
			/* seq_cst: release orders the canceller's earlier
			 * writes before CANCELLED (pairs with the waiters'
			 * acquire loads); seq_cst as in filch__future_finish. */
			if (filch__cas_weak(&f->state, &s, FILCH_CANCELLED,
					    seq_cst, relaxed)) {
				FILCH__PROBE1(future__cancel, f);
				filch_future_retain(f); /* callbacks may drop
							   the caller's */
				filch__future_completed(f, s);
				filch_future_release(f);
				return true;
			}
			break;
		}
	}
}

bool filch__future_cancel(filch_future *f)
{
	return cancel(f, true);
}

bool filch__future_cancel_pending(filch_future *f)
{
	return cancel(f, false);
}

bool filch_future_cancel(filch_future *f)
{
	return f ? filch__future_cancel(f) : false;
}

/* The last reference to an unfulfilled promise is gone: nobody can
 * complete it any more, so it is cancelled, whatever its phase (no settler
 * can hold a claim: it holds a reference until its final transition).
 * Also filch__future_cancel_running's transition. Whether f ended
 * CANCELLED here. */
static bool abandon(filch_future *f)
{
	uint32_t s = filch__load(&f->state, relaxed);
	while (!filch__future_is_done(s) && !(s & FILCH__FS_COMPLETING)) {
		/* seq_cst: as in filch__future_cancel. The CAS and settle's
		 * claim are RMWs of this word: one sees the other and
		 * loses. */
		if (filch__cas_weak(&f->state, &s, FILCH_CANCELLED, seq_cst,
				    relaxed)) {
			filch__future_completed(f, s);
			return true;
		}
	}
	return false;
}

bool filch__future_cancel_running(filch_future *f)
{
	filch_future_retain(f); /* callbacks may drop the caller's */
	bool done = abandon(f);
	filch_future_release(f);
	return done;
}

bool filch__future_unstart(filch_future *f)
{
	uint32_t s = filch__load(&f->state, relaxed);

	while ((s & FILCH__FS_PHASE) == FILCH_RUNNING &&
	       !(s & FILCH__FS_COMPLETING)) {
		/* relaxed: PENDING publishes nothing (set_running's release
		 * already ordered the holder's writes). The CAS, settle's
		 * claim and cancel's CAS are RMWs of this word: each sees
		 * the others' values, so a claim is never undone and a
		 * cancel finds PENDING or RUNNING, never a mix. */
		if (filch__cas_weak(&f->state, &s, s & ~FILCH__FS_PHASE, relaxed,
				    relaxed))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* References and queries                                              */
/* ------------------------------------------------------------------ */

filch_future *filch_future_retain(filch_future *f)
{
	if (f)
		filch__add(&f->refs, 1, relaxed); /* the caller holds one */
	return f;
}

/* Frees f, which has a result destructor (see "The result's owner"), and
 * calls it on f's result if f finished with one that nobody took. Apart
 * from last_reference_dropped so that a future without one frees without
 * saving registers for the call. */
static __attribute__((noinline)) void free_owner(filch_future *f)
{
	/* relaxed, all: ordered as last_reference_dropped says. */
	filch_result_dtor_fn dtor = filch__load(&f->result_dtor, relaxed);
	uint32_t s = filch__load(&f->state, relaxed);
	void *result = NULL, *dtor_arg = f->dtor_arg;
	if ((s & (FILCH__FS_PHASE | FILCH__FS_TAKEN)) == FILCH_FINISHED)
		result = f->result;
	filch__block_free(f);
	if (result)
		dtor(result, dtor_arg);
}

/* The last reference is gone (refs is 0, or 1 read by its only holder).
 * The acquire of filch_future_release ordered every other holder's writes
 * (the final transition, TAKEN, the destructor) before this. */
static __attribute__((noinline)) void last_reference_dropped(filch_future *f)
{
	if (f->kind == FILCH__FUTURE_PROMISE &&
	    !filch__future_is_done(filch__load(&f->state, acquire))) {
		/* Callbacks get f: give them a live reference meanwhile. */
		filch__store(&f->refs, 1, relaxed); /* we are the only holder */
		abandon(f);
		filch_future_release(f);
		return;
	}
	if (f->code) { /* FINISHED with an error: a message, no result */
		filch__free(f->message);
	} else if (filch__load(&f->result_dtor, relaxed)) { /* as above */
		free_owner(f);
		return;
	}
	filch__block_free(f);
}

/* Out of line from filch_future_release, which then saves no register:
 * most releases are not the last. */
void filch_future_release(filch_future *f)
{
	if (!f)
		return;
	/* A count of 1 is ours alone: nobody else can retain f, so the last
	 * reference needs no RMW. acquire: every other holder's uses (and
	 * their release decrements, below) happen before the free. acq_rel:
	 * release orders this holder's uses of f before the free by the last
	 * holder; acquire as above when we are the last. */
	if (filch__load(&f->refs, acquire) == 1 ||
	    filch__sub(&f->refs, 1, acq_rel) == 1)
		last_reference_dropped(f);
}

int filch_future_state(const filch_future *f)
{
	if (!f)
		return -EINVAL;
	/* acquire: a caller that sees FINISHED may then read the outcome
	 * through other calls; pairs with the final transitions' release. */
	return (int)(filch__load(&((filch_future *)f)->state, acquire) &
		     FILCH__FS_PHASE);
}

bool filch_future_done(const filch_future *f)
{
	return filch_future_state(f) >= FILCH_FINISHED;
}

bool filch_future_running(const filch_future *f)
{
	return filch_future_state(f) == FILCH_RUNNING;
}

bool filch_future_cancelled(const filch_future *f)
{
	return filch_future_state(f) == FILCH_CANCELLED;
}

/* ------------------------------------------------------------------ */
/* Waiting                                                             */
/* ------------------------------------------------------------------ */

/* Spins until f is done or WAIT_SPIN_NS (or the deadline) passed: with
 * pause for the first WAIT_PAUSE_NS (an awake worker's result arrives
 * within it), then yielding the CPU at each turn, and at once if this
 * thread just woke a worker: that worker may have been woken onto this
 * CPU (roundtrip_idle: 10 us of pure spinning held it off), and a yield
 * with nothing else runnable returns at once. */
static uint32_t spin(filch_future *f, uint32_t s, int64_t deadline)
{
	int64_t start = filch__now_ns();
	int64_t until = start + WAIT_SPIN_NS;
	bool yield = filch__sched_woke_worker();

	if (until > deadline)
		until = deadline;
	while (!filch__future_is_done(s)) {
		if (yield) {
			sched_yield();
		} else {
			for (int i = 0; i < 32; i++)
				filch__cpu_relax();
		}
		/* acquire: as in wait_finished. */
		s = filch__load(&f->state, acquire);
		int64_t now = filch__now_ns();
		if (now >= until)
			break;
		yield = yield || now - start >= WAIT_PAUSE_NS;
	}
	return s;
}

/*
 * Waits until f is done or the deadline passes: 0 when done, with *state
 * (acquire-loaded: the outcome is visible); else -ETIMEDOUT, or -EAGAIN
 * when a worker would sleep without a deadline, may_refuse is set, and no
 * spare could stand in. s is the value the caller loaded. Without a
 * deadline, a worker first runs f's task itself if nobody started it;
 * then everyone spins briefly and sleeps on the futex (a worker with a
 * spare in its place). Nothing else runs here.
 */
static int wait_done(filch_future *f, uint32_t s, int64_t deadline,
		     bool may_refuse, uint32_t *state)
{
	bool blocked = false;
	int rc = -ETIMEDOUT;

	filch__future_run_deferred();
	if (deadline == FILCH__NO_DEADLINE && filch__future_run_here(f))
		s = filch__load(&f->state, acquire); /* as in wait_finished */
	else
		s = spin(f, s, deadline);
	while (!filch__future_is_done(s)) {
		if (filch__now_ns() >= deadline)
			break;
		/* relaxed: see "Memory orders" above; after a failed CAS the
		 * word is reloaded with acquire and checked again. */
		FILCH__PERTURB(); /* widen the race with the final transition */
		if (!(s & FILCH__FS_SLEEPERS) &&
		    !filch__cas(&f->state, &s, s | FILCH__FS_SLEEPERS, relaxed,
				relaxed)) {
			s = filch__load(&f->state, acquire); /* as above */
			continue;
		}
		if (!blocked) {
			bool refuse = may_refuse && deadline == FILCH__NO_DEADLINE;

			if ((rc = filch__block_begin(refuse)) != 0)
				break;
			rc = -ETIMEDOUT;
			blocked = true;
		}
		filch__futex_wait(&f->state, s | FILCH__FS_SLEEPERS, deadline);
		s = filch__load(&f->state, acquire); /* as above */
	}
	if (blocked)
		filch__block_end();
	*state = s;
	return filch__future_is_done(s) ? 0 : rc;
}

/* Waits for f: 0 when FINISHED (its outcome readable), -ETIMEDOUT,
 * -ECANCELED, -EDEADLK (f's own task would wait for itself), -EAGAIN (see
 * wait_done) or -EINVAL. */
static int wait_finished(filch_future *f, int64_t timeout_ns, bool may_refuse)
{
	if (!f)
		return -EINVAL;
	/* acquire: the outcome before the final phase; pairs with the
	 * release half of filch__future_finish, settle, cancel, abandon. */
	uint32_t s = filch__load(&f->state, acquire);
	if (!filch__future_is_done(s)) {
		if (filch__timeout_polls(timeout_ns))
			return -ETIMEDOUT;
		if (f == filch__task_frame_future())
			return -EDEADLK;
		int rc = wait_done(f, s, filch__deadline(timeout_ns), may_refuse,
				   &s);
		if (rc)
			return rc;
	}
	return (s & FILCH__FS_PHASE) == FILCH_CANCELLED ? -ECANCELED : 0;
}

void filch__future_wait(filch_future *f)
{
	wait_finished(f, FILCH_FOREVER, false);
}

/* Waits like wait_finished; 0 when f finished with a result (code 0), else
 * the wait's error or the task's code. */
static int wait_result(filch_future *f, int64_t timeout_ns)
{
	int rc = wait_finished(f, timeout_ns, true);
	return rc ? rc : f->code;
}

int filch_future_result(filch_future *f, int64_t timeout_ns, void **result)
{
	int rc = wait_result(f, timeout_ns);
	if (rc)
		return rc;
	/* relaxed: a take that happened before this call is seen (the
	 * word's coherence); one racing with it is the callers' race. */
	if (filch__load(&f->state, relaxed) & FILCH__FS_TAKEN)
		return -EALREADY;
	if (result)
		*result = f->result;
	return 0;
}

int filch_future_take_result(filch_future *f, int64_t timeout_ns,
			     void **result)
{
	int rc = result ? wait_result(f, timeout_ns) : -EINVAL;
	if (rc)
		return rc;
	/* relaxed: see "Memory orders" (TAKEN); the result itself was
	 * published by the final transition that wait_finished acquired. */
	if (filch__or(&f->state, FILCH__FS_TAKEN, relaxed) & FILCH__FS_TAKEN)
		return -EALREADY;
	*result = f->result;
	return 0;
}

int filch_future_error(filch_future *f, int64_t timeout_ns, int *code,
		       const char **message)
{
	int rc = wait_finished(f, timeout_ns, true);
	if (rc)
		return rc;
	if (code)
		*code = f->code;
	if (message)
		*message = f->code ? f->message : NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The result's owner and the tag                                      */
/* ------------------------------------------------------------------ */

int filch_future_set_result_dtor(filch_future *f, filch_result_dtor_fn dtor,
				 void *arg)
{
	if (!f || !dtor)
		return -EINVAL;
	filch_result_dtor_fn none = NULL;
	/* relaxed: the claim elects the one writer of dtor_arg; the free
	 * that reads both is ordered after our release of our reference
	 * (see "The result's owner"). */
	if (!filch__cas(&f->result_dtor, &none, dtor, relaxed, relaxed))
		return -EEXIST;
	f->dtor_arg = arg;
	return 0;
}

int filch_future_set_tag(filch_future *f, void *tag)
{
	if (!f)
		return -EINVAL;
	/* release: the caller's writes before the tag; pairs with the
	 * acquire of filch_future_tag. */
	filch__store(&f->tag, tag, release);
	return 0;
}

void *filch_future_tag(const filch_future *f)
{
	/* acquire: pairs with the release of filch_future_set_tag. */
	return f ? filch__load(&((filch_future *)f)->tag, acquire) : NULL;
}
