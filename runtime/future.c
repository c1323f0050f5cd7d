/* SPDX-License-Identifier: MIT */
/*
 * future.c - the future's state machine, its lock-free callback list, and
 * waiting for it (foreign threads sleep on a futex, workers help).
 *
 * The state word (struct filch_future.state)
 * ------------------------------------------
 * Bits 0-1, the phase (enum filch_future_state):
 *
 *   PENDING (0)   created; nobody has started or completed it.
 *   RUNNING (1)   its task runs, or a promise was set running or claimed by
 *                 the thread that completes it.
 *   FINISHED (2)  done with code 0 and a result, or a positive code and an
 *                 optional message. Final.
 *   CANCELLED (3) done without running. Final.
 *
 * Flag bits, meaningful only before the phase is final (a final transition
 * clears them all):
 *
 *   SLEEPERS          a waiter sleeps (or is about to) on the futex of this
 *                     word; whoever makes the phase final wakes everybody.
 *   CANCEL_REQUESTED  filch_future_cancel saw RUNNING; the task reads it
 *                     through filch_cancel_requested().
 *   COMPLETING        a settler (promise, combinator) owns the completion:
 *                     set together with RUNNING by one CAS, so that exactly
 *                     one settler writes result, code and message.
 *
 * Writers and transitions, each one atomic read-modify-write:
 *
 *   PENDING -> RUNNING     filch__future_start (fetch_or by the task runner;
 *                          it cannot find FINISHED, and on CANCELLED the or
 *                          changes nothing: the runner lost and drops it),
 *                          filch_promise_set_running and the claim of
 *                          filch__future_settle (CAS).
 *   PENDING -> CANCELLED   filch__future_cancel (CAS), also for a task the
 *                          scheduler discards and for a promise whose last
 *                          reference is dropped (abandon).
 *   RUNNING -> FINISHED    filch__future_finish (xchg by the runner, the
 *                          only writer of the phase while RUNNING) and
 *                          filch__future_settle (xchg by the claimer).
 *   RUNNING -> CANCELLED   only abandon: a promise set running whose last
 *                          reference is dropped; nobody else can complete it.
 *   flags                  SLEEPERS by waiters (CAS), CANCEL_REQUESTED by
 *                          filch__future_cancel (CAS), COMPLETING by settle.
 *
 * Cancel and start race on PENDING: both are RMWs of this word, so one of
 * them sees the other's value and loses.
 *
 * The callback list (struct filch_future.callbacks)
 * -------------------------------------------------
 * A Treiber stack of struct filch__callback: NULL (empty), a node (the one
 * added last), or CALLBACKS_CLOSED. Adders push with a CAS unless they find
 * CLOSED, in which case they run their callback at once. The thread that
 * makes the phase final then swaps in CLOSED (xchg), takes the whole list,
 * reverses it so that callbacks run in the order added, and runs each once.
 * Nothing is ever popped alone, so there is no ABA. A node on the list
 * belongs to the list; a node whose fn was called is never touched again.
 *
 * A future completed while this thread runs callbacks (a callback cancels
 * another future, or fails a continuation) does not recurse: its taken list
 * is queued on this thread and run after the current callback returns, so
 * a chain of 10^5 continuations failing at once uses a flat stack.
 *
 * Memory orders
 * -------------
 *   filch__future_finish / settle xchg (release) -> waiters' and adders'
 *       acquire loads of state: result, code and message are visible once
 *       the phase is FINISHED.
 *   filch__future_cancel CAS (release): what the canceller wrote before is
 *       visible to whoever sees CANCELLED.
 *   run_callbacks xchg (acq_rel): acquire pairs with the release CAS of
 *       filch__future_add_callback (node contents); release pairs with the
 *       adder's acquire when it finds CLOSED (the final phase and result).
 *   refs: retain relaxed (the caller already holds one); release acq_rel
 *       (each holder's uses happen before the free by the last one).
 *   SLEEPERS CAS and the futex: relaxed; a single word's modification order
 *       decides who sees what (the finisher's xchg either reads SLEEPERS and
 *       wakes, or the waiter's CAS fails on the final phase), and the waiter
 *       reloads with acquire after every wake-up.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "alloc.h"
#include "atomic.h"
#include "futex.h"
#include "future.h"
#include "sched.h"

_Static_assert(sizeof(struct filch__user_callback) <= FILCH__BLOCK_SIZE,
	       "an on_done node fits in one block");

/* How long a waiter spins before sleeping, and a waiting worker's naps
 * between attempts to help (it is woken at once by the completion; the nap
 * bounds how long it ignores work that others submit meanwhile). */
#define WAIT_SPIN_NS 10000
#define WORKER_NAP_MIN_NS 20000
#define WORKER_NAP_MAX_NS 1000000

static struct filch__callback closed_mark;
#define CALLBACKS_CLOSED (&closed_mark)

/* Completions whose callbacks wait for the current callback to return. */
static _Thread_local struct {
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

filch_future *filch__future_new(enum filch__future_kind kind, uint32_t refs)
{
	filch_future *f = filch__block_alloc();
	if (!f)
		return NULL;
	/* Plain initialization: f reaches other threads only through a
	 * hand-off that orders it (the scheduler, or the caller's own). */
	f->task.run = NULL;
	atomic_init(&f->state, FILCH_PENDING);
	atomic_init(&f->refs, refs);
	atomic_init(&f->callbacks, NULL);
	f->u.job.fn = NULL;
	f->u.job.arg = NULL;
	f->result = NULL;
	f->code = 0;
	f->kind = (uint8_t)kind;
	f->message = NULL;
	f->executor = NULL;
	f->dep.next = NULL;
	f->dep.fn = NULL;
	atomic_init(&f->first_callback.cb, NULL);
	return f;
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */
/* ------------------------------------------------------------------ */

static void run_list(filch_future *f, struct filch__callback *n)
{
	while (n) {
		struct filch__callback *next = n->next;
		n->fn(n, f); /* may free n, and f's other references */
		n = next;
	}
}

static void run_deferred(void)
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

/* Closes f's list and runs what it held, or queues it (see the top). */
static void run_callbacks(filch_future *f)
{
	/* acq_rel: acquire pairs with the release CAS of
	 * filch__future_add_callback (we read the nodes); release pairs with
	 * its acquire when it finds CLOSED (it reads the final state). */
	struct filch__callback *n = filch__xchg(&f->callbacks, CALLBACKS_CLOSED,
						acq_rel);
	struct filch__callback *list = NULL;
	while (n) { /* reverse: run in the order added */
		struct filch__callback *next = n->next;
		n->next = list;
		list = n;
		n = next;
	}
	if (!list)
		return;
	if (deferred.running) {
		/* u.job / u.then are dead once f is done: reuse them. */
		filch_future_retain(f);
		f->u.deferred.list = list;
		f->u.deferred.next = NULL;
		if (deferred.tail)
			deferred.tail->u.deferred.next = f;
		else
			deferred.head = f;
		deferred.tail = f;
		return;
	}
	deferred.running = true;
	run_list(f, list);
	run_deferred();
	deferred.running = false;
}

/* After the transition that made f's phase final (old: the word before). */
static void completed(filch_future *f, uint32_t old)
{
	if (old & FILCH__FS_SLEEPERS)
		filch__futex_wake(&f->state, INT32_MAX);
	run_callbacks(f);
}

void filch__future_add_callback(filch_future *f, struct filch__callback *node)
{
	/* acquire (also on CAS failure): when we find CLOSED we run node at
	 * once and it reads f's outcome; pairs with run_callbacks' release. */
	struct filch__callback *head = filch__load(&f->callbacks, acquire);
	do {
		if (head == CALLBACKS_CLOSED) {
			node->fn(node, f);
			return;
		}
		node->next = head;
		/* release: node's fields before it is on the list; pairs with
		 * the acquire xchg of run_callbacks. */
	} while (!filch__cas_weak(&f->callbacks, &head, node, release, acquire));
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
	 * are published by the push in filch__future_add_callback. */
	if (filch__cas(&uc->cb, &none, cb, relaxed, relaxed)) {
		uc->node.fn = inline_callback_run;
	} else {
		uc = filch__block_alloc();
		if (!uc) {
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
	filch__future_add_callback(f, &uc->node);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Transitions                                                         */
/* ------------------------------------------------------------------ */

bool filch__future_start(filch_future *f)
{
	/* acquire: pairs with filch__future_cancel's release CAS when we
	 * lose (nothing to read then, but the loser decides on its value);
	 * the task's fields were ordered by the scheduler's hand-off. The or
	 * leaves CANCELLED (3) unchanged and turns PENDING (0) into RUNNING. */
	uint32_t old = filch__or(&f->state, FILCH_RUNNING, acquire);
	return (old & FILCH__FS_PHASE) == FILCH_PENDING;
}

void filch__future_finish(filch_future *f, int rc)
{
	int code = rc >= 0 ? rc : (rc == INT_MIN ? INT_MAX : -rc);
	f->code = code;
	if (code == 0 && f->message) { /* a message for a task that succeeded */
		filch__free(f->message);
		f->message = NULL;
	}
	/* release: result, code and message before FINISHED; pairs with the
	 * acquire loads of the waiters (wait_done) and of on_done. */
	uint32_t old = filch__xchg(&f->state, FILCH_FINISHED, release);
	completed(f, old);
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
	f->result = code ? NULL : result;
	f->code = code;
	f->message = copy;
	filch_future_retain(f); /* a callback may drop the caller's reference */
	/* release: result, code, message before FINISHED; pairs as in
	 * filch__future_finish. */
	uint32_t old = filch__xchg(&f->state, FILCH_FINISHED, release);
	completed(f, old);
	filch_future_release(f);
	return 0;
}

bool filch__future_cancel(filch_future *f)
{
	uint32_t s = filch__load(&f->state, relaxed);
	for (;;) {
		switch (s & FILCH__FS_PHASE) {
		case FILCH_CANCELLED:
			return true;
		case FILCH_FINISHED:
			return false;
		case FILCH_RUNNING:
			if (s & FILCH__FS_CANCEL_REQUESTED)
				return false;
			/* relaxed: a hint the task polls; it orders nothing. */
			if (filch__cas_weak(&f->state, &s,
					    s | FILCH__FS_CANCEL_REQUESTED,
					    relaxed, relaxed))
				return false;
			break;
		default: /* PENDING */
			/* release: the canceller's earlier writes before
			 * CANCELLED; pairs with the waiters' acquire loads. */
			if (filch__cas_weak(&f->state, &s, FILCH_CANCELLED,
					    release, relaxed)) {
				filch_future_retain(f); /* callbacks may drop
							   the caller's */
				completed(f, s);
				filch_future_release(f);
				return true;
			}
			break;
		}
	}
}

bool filch_future_cancel(filch_future *f)
{
	return f ? filch__future_cancel(f) : false;
}

/* The last reference to an unfulfilled promise is gone: nobody can
 * complete it any more, so it is cancelled, whatever its phase. */
static void abandon(filch_future *f)
{
	uint32_t s = filch__load(&f->state, relaxed);
	while (!filch__future_is_done(s)) {
		/* release: as in filch__future_cancel. */
		if (filch__cas_weak(&f->state, &s, FILCH_CANCELLED, release,
				    relaxed)) {
			completed(f, s);
			return;
		}
	}
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

void filch_future_release(filch_future *f)
{
	if (!f)
		return;
	/* acq_rel: release orders this holder's uses of f before the free;
	 * acquire lets the last holder see every other holder's uses. */
	if (filch__sub(&f->refs, 1, acq_rel) != 1)
		return;
	if (f->kind == FILCH__FUTURE_PROMISE &&
	    !filch__future_is_done(filch__load(&f->state, acquire))) {
		/* Callbacks get f: give them a live reference meanwhile. */
		filch__store(&f->refs, 1, relaxed); /* we are the only holder */
		abandon(f);
		filch_future_release(f);
		return;
	}
	filch__free(f->message);
	filch__block_free(f);
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

/* Spins until f is done or WAIT_SPIN_NS (or the deadline) passed. */
static uint32_t spin(filch_future *f, uint32_t s, int64_t deadline)
{
	int64_t until = filch__now_ns() + WAIT_SPIN_NS;
	if (until > deadline)
		until = deadline;
	while (!filch__future_is_done(s)) {
		for (int i = 0; i < 32; i++)
			filch__cpu_relax();
		/* acquire: as in wait_done. */
		s = filch__load(&f->state, acquire);
		if (filch__now_ns() >= until)
			break;
	}
	return s;
}

/*
 * Waits until f is done or the timeout passes, and returns whether it is
 * done with *state (acquire-loaded: the outcome is visible). A worker helps
 * run its executor's tasks meanwhile and naps only when there is nothing
 * to help with; a foreign thread spins briefly, then sleeps on the futex.
 */
static bool wait_done(filch_future *f, int64_t timeout_ns, uint32_t *state)
{
	/* acquire: the outcome before the final phase; pairs with the
	 * release of filch__future_finish, settle, cancel and abandon. */
	uint32_t s = filch__load(&f->state, acquire);
	if (filch__future_is_done(s) || timeout_ns == 0)
		goto out;
	int64_t deadline = filch__deadline(timeout_ns);
	bool worker = filch__self_executor() != NULL;
	int64_t nap = WORKER_NAP_MIN_NS;
	filch__future_run_deferred();
	s = spin(f, filch__load(&f->state, acquire), deadline);
	while (!filch__future_is_done(s)) {
		if (worker && filch__help_once()) {
			filch__future_run_deferred();
			s = filch__load(&f->state, acquire);
			nap = WORKER_NAP_MIN_NS;
			continue;
		}
		int64_t now = filch__now_ns();
		if (now >= deadline)
			break;
		int64_t until = deadline;
		if (worker && deadline - now > nap) {
			until = now + nap;
			nap = nap * 2 > WORKER_NAP_MAX_NS ? WORKER_NAP_MAX_NS
							  : nap * 2;
		}
		/* relaxed: see "Memory orders" above; after a failed CAS the
		 * word is reloaded with acquire and checked again. */
		if (!(s & FILCH__FS_SLEEPERS) &&
		    !filch__cas(&f->state, &s, s | FILCH__FS_SLEEPERS, relaxed,
				relaxed)) {
			s = filch__load(&f->state, acquire); /* as above */
			continue;
		}
		filch__futex_wait(&f->state, s | FILCH__FS_SLEEPERS, until);
		s = filch__load(&f->state, acquire); /* as above */
	}
out:
	*state = s;
	return filch__future_is_done(s);
}

/* Waits for f: 0 when FINISHED (its outcome readable), -ETIMEDOUT,
 * -ECANCELED or -EINVAL. */
static int wait_finished(filch_future *f, int64_t timeout_ns)
{
	uint32_t s;
	if (!f)
		return -EINVAL;
	if (!wait_done(f, timeout_ns, &s))
		return -ETIMEDOUT;
	return (s & FILCH__FS_PHASE) == FILCH_CANCELLED ? -ECANCELED : 0;
}

int filch_future_result(filch_future *f, int64_t timeout_ns, void **result)
{
	int rc = wait_finished(f, timeout_ns);
	if (rc)
		return rc;
	if (f->code)
		return f->code;
	if (result)
		*result = f->result;
	return 0;
}

int filch_future_error(filch_future *f, int64_t timeout_ns, int *code,
		       const char **message)
{
	int rc = wait_finished(f, timeout_ns);
	if (rc)
		return rc;
	if (code)
		*code = f->code;
	if (message)
		*message = f->message;
	return 0;
}
