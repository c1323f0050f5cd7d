/* SPDX-License-Identifier: MIT */
/*
 * park.c - putting idle workers to sleep and waking exactly one when work
 * arrives, without lost wake-ups, herds, or CPU burnt while idle.
 *
 * Each worker sleeps on its own event count (ck_ec32 from Concurrency Kit,
 * with futex wait/wake ops from futex.h): ck_ec32_inc skips the futex
 * syscall when the sleeper has not yet gone to the kernel, and a sleeper
 * whose count moved since it read it does not sleep at all. One count per
 * worker, rather than one for the pool, is what lets a notifier wake one
 * worker instead of all of them.
 *
 * The rule of Tokio's scheduler: wake a sleeper only when no worker is
 * searching (a searcher will find the new work), and let at most half the
 * workers search at once. park_state (park.h) counts searchers and idle
 * workers; each worker's sleep word (park.h) says whether it may be
 * claimed.
 *
 * Protocol. Work is published (P) by a push onto a deque (a release store
 * of its bottom), an enqueue on the injector (urcu's XCHG), or the share
 * of fork-join frames (fj.c: a release CAS of the stack's split), and
 * then the publisher notifies (a share always with the full N1 below, not
 * notify_local's relaxed look).
 *
 *  Notifier N (filch__park_notify), after P:
 *   N1. s = park_state, read by an RMW (fetch_add 0, seq_cst). Stop if
 *       s.searching > 0 or s.idle == 0.
 *   N2. CAS park_state s -> s + 1 searcher (seq_cst); on failure go to N1.
 *   N3. For each worker: CAS sleep SLEEPING -> CLAIMED (release); on
 *       success increment its event count (futex wake if it sleeps), stop.
 *   N4. None was claimable: give the searcher slot back (seq_cst). If that
 *       was the last searcher and work is visible, go to N1.
 *
 *  Worker W out of work (worker.c):
 *   W1. If W searches: searching -= 1 (seq_cst); if W found work, was
 *       the last searcher, and then sees more work (a look as in W3),
 *       W notifies (N1..N4) for the rest.
 *   W2. v = its event count; sleep = SLEEPING; idle += 1 (seq_cst RMW).
 *   W3. Look for work once more, taking nothing: the injector, every
 *       deque, then every fork-join frame stack: frames shared, or else
 *       a request to share, left for its owner (its publish word). Seen:
 *       leave (W5), then take it as usual.
 *   W4. If SHUTDOWN: try to terminate (T1..T4). If TERMINATED: exit.
 *       Sleep until the event count differs from v.
 *   W5. Leave: CAS sleep SLEEPING -> AWAKE (acquire); if that fails a
 *       notifier claimed W and counted it searching: W searches.
 *       idle -= 1 and leaves += 1, one RMW (seq_cst).
 *
 *  Terminator (filch__park_try_terminate; any thread, after SHUTDOWN):
 *   T1. s1 = park_state by an RMW (+0); stop unless every worker is idle.
 *   T2. Stop if a foreign submitter is in flight.
 *   T3. Stop if work is visible.
 *   T4. s2 = park_state by an RMW (+0); stop unless s2 == s1. Set
 *       TERMINATED, increment every event count.
 * Every stop is covered: whoever changed what T looked at re-checks
 * later (a worker when it parks again, a submitter after its decrement).
 * Termination is exact: if some worker W left idle and took a task that
 * T3 missed, W's leave RMW is not between T1 and T4 (s2 == s1) nor before
 * T1 (W would not be idle at T1, or idle again holding nothing), so it
 * follows T4 in the modification order: T3 happens before W's take,
 * and T3 would have seen the task.
 *
 * Why no wake-up is lost (also checked by stress/park.pml with spin).
 * N1, N2, N4, W1 and W2 are all read-modify-writes of park_state: they
 * are totally ordered by its modification order, each reads the value its
 * predecessor wrote, and, being seq_cst (so acquire and release), a later
 * one synchronizes with every earlier one through the release sequence.
 * No C11 fence is needed, which matters because urcu's enqueue is not a
 * C11 atomic and ThreadSanitizer does not model fences. Take a task
 * published by P, followed by N1, and a worker W that sleeps in W4 while
 * the task is still queued:
 *   - N1 before W2: P happens before W3 (P, N1 -> W2, W3), so W3 sees the
 *     task and W leaves instead of sleeping. Contradiction.
 *   - N1 after W2: N1 reads idle > 0. If it reads searching == 0 it claims
 *     a worker (N3: every idle worker stored SLEEPING before its W2, so
 *     it is visible) whose count then moves, so that worker does not stay
 *     asleep, or N4 finds none claimable, which only happens while an idle
 *     worker is leaving on its own with work, and retries while work is
 *     visible. If it reads searching > 0, let S be the searcher whose W1
 *     decrement comes last: that W1 follows N1, so P happens before S's
 *     next look. Either S re-looks in its own W3 and sees the task, or S
 *     found work and, being the last searcher, looks after its decrement:
 *     it sees the task (or it was taken) and notifies again, and the
 *     same argument applies to that notification.
 * A claimed worker wakes even if it has not reached the futex yet: its
 * count differs from v, which it read before it stored SLEEPING.
 *
 * Private fork-join frames are not published: their owner shares them
 * only when asked (fj.c), so W3 asks every stack that shares none. The
 * owner's next spawn sees the request and shares (its clear of the
 * request, E, then P, then N1). Let L be W3's look at the request word,
 * reading 1 (a thief's earlier request) or writing it: any share whose E
 * comes after L's value in that word's modification order has its N1
 * after W2. Else N1 precedes W2, so E happens before L (E, N1 -> W2, L),
 * and coherence makes L read E or later, or write after E. Such a share
 * comes at the owner's next spawns (it reads the word again and again,
 * and clears it only in a share), unless the owner spawns no more: then
 * it runs its own frames, and no work is lost. Its N1 reads idle > 0,
 * and the argument above applies, but for one thing: the owner may take
 * a shared frame back (its sync), so the searcher whose W1 follows N1 may
 * see none. Its look then asks again, and the next share's N1 follows
 * that W1. Hence every look asks (W3, N4, the last searcher's), not W3
 * alone: stress/park.pml found a share whose N1 saw a notifier counted as
 * searching, whose N4 look came after the take-back.
 * No herd: one notification claims at most one worker, and none while a
 * worker searches.
 */
#include "config.h"

#include <limits.h>
#include <time.h>

#include "fj.h"
#include "futex.h"
#include "park.h"
#include "perturb.h"
#include "trace.h"

static int ec_gettime(const struct ck_ec_ops *ops, struct timespec *out)
{
	(void)ops;
	return clock_gettime(CLOCK_MONOTONIC, out);
}

static void ec_wait32(const struct ck_ec_wait_state *state,
		      const uint32_t *addr, uint32_t expected,
		      const struct timespec *deadline)
{
	(void)state;
	(void)deadline;
	/*
	 * Untimed, whatever the deadline. Ours never have one
	 * (filch__park_sleep passes NULL); the others are ck_ec's own
	 * backoff rounds (2 ms, then 8x), which guard nothing in
	 * multi-producer mode: ck_ec32_inc is an atomic RMW that sees the
	 * waiter's flag, and FUTEX_WAIT compares the flagged word. An armed
	 * timer costs a wake-up about 8 us on a VM (roundtrip_idle). ck_ec
	 * re-checks its value after every return, early ones too.
	 */
	filch__futex_wait((_Atomic uint32_t *)(uintptr_t)addr, expected,
			  FILCH__NO_DEADLINE);
}

static void ec_wake32(const struct ck_ec_ops *ops, const uint32_t *addr)
{
	(void)ops;
	/* One sleeper per event count: its worker. */
	filch__futex_wake((_Atomic uint32_t *)(uintptr_t)addr, INT32_MAX);
}

static const struct ck_ec_ops ec_ops = {
	.gettime = ec_gettime,
	.wait32 = ec_wait32,
	.wake32 = ec_wake32,
};

static const struct ck_ec_mode ec_mode = {
	.ops = &ec_ops,
	.single_producer = false,
};

void filch__park_init_worker(struct filch__worker *w)
{
	ck_ec32_init(&w->ec, 0);
	atomic_init(&w->sleep, FILCH__SLEEP_AWAKE);
}

bool filch__park_try_search(filch_executor *ex)
{
	uint64_t s = filch__load(&ex->park_state, relaxed);

	/* A racy cap, as in Tokio: it may let one extra searcher in. */
	if (2 * filch__park_searching(s) >= ex->nworkers)
		return false;
	/* seq_cst: a searcher counted before its steals (W1's argument
	 * needs the count visible to N1 while the worker searches). */
	filch__add(&ex->park_state, FILCH__PARK_SEARCH_ONE, seq_cst);
	return true;
}

bool filch__park_stop_search(filch_executor *ex)
{
	/* seq_cst: W1, ordered against N1 and before W3's re-look. */
	uint64_t s = filch__sub(&ex->park_state, FILCH__PARK_SEARCH_ONE, seq_cst);

	return filch__park_searching(s) == 1;
}

/* W3, T3, N4. Relaxed loads in the deques (size hint) and the frame
 * stacks: the RMWs of park_state before them order them (see the top). */
bool filch__park_work_visible(filch_executor *ex)
{
	if (!filch__inject_empty(&ex->inject))
		return true;
	/* Acquire: a new spare's deque is set up before it is counted
	 * (filch__executor_start_spare's release store). */
	unsigned n = filch__load(&ex->nthreads, acquire);

	for (unsigned i = 0; i < n; i++)
		if (filch__deque_size_hint(&ex->workers[i].deque) != 0)
			return true;
	return filch__fj_work_visible(ex);
}

/* Set by claim_one, read and cleared by filch__sched_woke_worker. */
static FILCH__TLS bool woke_worker;

bool filch__sched_woke_worker(void)
{
	bool woke = woke_worker;

	woke_worker = false;
	return woke;
}

/* A wake-up sent by the calling thread: a worker of ex counts its own. */
static void count_wakeup(filch_executor *ex)
{
	struct filch__worker *self = filch__self;

	if (self && self->ex == ex)
		filch__stat_add(&self->stats.wakeups_sent, 1);
	else
		filch__xstat_add(&ex->xstats.wakeups_sent, 1);
}

static bool claim_one(filch_executor *ex)
{
	/* Acquire: as in filch__park_work_visible. */
	unsigned n = filch__load(&ex->nthreads, acquire);

	for (unsigned i = 0; i < n; i++) {
		struct filch__worker *w = &ex->workers[i];
		uint32_t expected = FILCH__SLEEP_SLEEPING;

		if (filch__load(&w->sleep, relaxed) != FILCH__SLEEP_SLEEPING)
			continue;
		/* Release: N2's searcher increment before the claim, so that
		 * the worker's own decrement (after its acquire in
		 * filch__park_leave) follows it. */
		if (filch__cas(&w->sleep, &expected, FILCH__SLEEP_CLAIMED,
			       release, relaxed)) {
			FILCH__PERTURB();
			ck_ec32_inc(&w->ec, &ec_mode);
			count_wakeup(ex);
			woke_worker = true;
			return true;
		}
	}
	return false;
}

void filch__park_notify(filch_executor *ex)
{
	for (;;) {
		/* seq_cst RMW: N1 reads the latest park_state and orders the
		 * caller's publication before every later W2 (see the top). */
		uint64_t s = filch__add(&ex->park_state, 0, seq_cst);

		for (;;) {
			if (filch__park_searching(s) != 0 || filch__park_idle(s) == 0)
				return;
			/* seq_cst: N2, one notifier at a time while nobody
			 * searches. */
			if (filch__cas(&ex->park_state, &s, s + FILCH__PARK_SEARCH_ONE,
				       seq_cst, seq_cst))
				break;
		}
		if (claim_one(ex))
			return;
		/* N4: every idle worker is leaving on its own. */
		if (!filch__park_stop_search(ex) || !filch__park_work_visible(ex))
			return;
		filch__cpu_relax();
	}
}

uint32_t filch__park_prepare(struct filch__worker *w)
{
	uint32_t v = ck_ec32_value(&w->ec);

	/* Relaxed: published by the seq_cst increment just below, which N1
	 * reads before N3 looks at this word. */
	filch__store(&w->sleep, FILCH__SLEEP_SLEEPING, relaxed);
	/* seq_cst: W2, against N1 (see the top). */
	filch__add(&w->ex->park_state, FILCH__PARK_IDLE_ONE, seq_cst);
	FILCH__PERTURB();
	return v;
}

bool filch__park_leave(struct filch__worker *w)
{
	uint32_t expected = FILCH__SLEEP_SLEEPING;
	/* Acquire on both outcomes: a claim's release (claim_one) makes the
	 * notifier's searcher increment precede our later decrement. */
	bool claimed = !filch__cas(&w->sleep, &expected, FILCH__SLEEP_AWAKE,
				   acquire, acquire);

	if (claimed) {
		filch__store(&w->sleep, FILCH__SLEEP_AWAKE, relaxed);
		filch__stat_add(&w->stats.wakeups_received, 1);
	}
	/* seq_cst: W5, against T1 and T4 (see the top); before any take. */
	filch__add(&w->ex->park_state, FILCH__PARK_LEAVE_ONE - FILCH__PARK_IDLE_ONE,
		   seq_cst);
	return claimed;
}

bool filch__park_sleep(struct filch__worker *w, uint32_t v)
{
	int64_t since = filch__now_ns(); /* parking is a syscall already */

	filch__obs_park(w, true);
	ck_ec32_wait(&w->ec, &ec_mode, v, NULL);
	filch__obs_park(w, false);
	filch__stat_add(&w->stats.parks, 1);
	filch__stat_add(&w->stats.park_ns, (uint64_t)(filch__now_ns() - since));
	/* Acquire: TERMINATED was set before the increment that woke us
	 * (filch__park_try_terminate); ck_ec32_wait is an acquire. */
	if (filch__load(&w->ex->run_state, acquire) & FILCH__EX_TERMINATED)
		return false;
	return filch__park_leave(w);
}

void filch__park_try_terminate(filch_executor *ex)
{
	/* All seq_cst: each read pairs with the seq_cst write it must not
	 * miss: SHUTDOWN (filch_shutdown) against W2's idle increment then
	 * W4's SHUTDOWN check, park_state against W2 and W5 (T1..T4 at the
	 * top), submitters against a foreign submitter's increment then
	 * SHUTDOWN check, and its decrement then this call (executor.c). */
	uint32_t rs = filch__load(&ex->run_state, seq_cst);
	uint64_t s1;

	if (!(rs & FILCH__EX_SHUTDOWN) || (rs & FILCH__EX_TERMINATED))
		return;
	s1 = filch__add(&ex->park_state, 0, seq_cst); /* T1 */
	/* Every thread that may hold a task is idle: the primaries and the
	 * spares that are not dormant (spare.c). A spare that retires between
	 * the two loads holds no task and takes none until a blocked worker
	 * wakes it, and a blocked worker is never idle; a spare woken or
	 * started in between makes active larger, never smaller, so the check
	 * errs towards "not yet". */
	if (filch__park_idle(s1) !=
	    ex->nworkers + filch__load(&ex->spares.active, seq_cst))
		return;
	if (filch__load(&ex->submitters, seq_cst) != 0) /* T2 */
		return;
	if (filch__park_work_visible(ex)) /* T3 */
		return;
	if (filch__add(&ex->park_state, 0, seq_cst) != s1) /* T4 */
		return;
	/* seq_cst: TERMINATED before the increments below; the woken
	 * workers read it with acquire in filch__park_sleep. */
	filch__or(&ex->run_state, FILCH__EX_TERMINATED, seq_cst);
	/* Acquire: as in filch__park_work_visible; dormant spares too. */
	unsigned n = filch__load(&ex->nthreads, acquire);

	for (unsigned i = 0; i < n; i++)
		ck_ec32_inc(&ex->workers[i].ec, &ec_mode);
}

uint32_t filch__park_kick_value(struct filch__worker *w)
{
	return ck_ec32_value(&w->ec);
}

void filch__park_kick(struct filch__worker *w)
{
	ck_ec32_inc(&w->ec, &ec_mode);
}

void filch__park_kick_wait(struct filch__worker *w, uint32_t v)
{
	ck_ec32_wait(&w->ec, &ec_mode, v, NULL);
}
