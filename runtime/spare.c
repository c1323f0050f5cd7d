/* SPDX-License-Identifier: MIT */
/*
 * spare.c - spare workers: a worker that must sleep in a wait (a future, a
 * group, a wait set) is replaced by a spare thread for as long as it
 * sleeps, so that the pool keeps its parallelism (Java's ForkJoinPool
 * compensates the same way), up to max_spares spares per executor.
 *
 * Why not help instead: a waiting worker that runs queued tasks on its own
 * stack deadlocks when such a task waits for the waiter, nests without
 * bound, drains a bounded queue early and overruns the waiter's timeout.
 * A waiting worker runs only work its own result depends on (group.c,
 * future.c); for everything else it sleeps, and a spare takes its place.
 *
 * Spares are ordinary workers of the executor (slots nworkers and up of
 * ex->workers, with their own deques): they steal, park and run tasks like
 * the primaries, unpinned. Counts, all changed under spares.lock:
 *   blocked   workers (primaries or spares) asleep in a wait: +1 by
 *             filch__block_begin, -1 by filch__block_end;
 *   active    spares not dormant: +1 by filch__block_begin, while
 *             active < blocked, before it wakes or starts the spare (a
 *             spare counts before it can park: termination counts it),
 *             undone if none could be had; -1 when one retires (only while
 *             active > blocked);
 *   started   spare threads started (they live until termination).
 * So once every sleeper has a spare, active == blocked, and at most
 * nworkers threads run tasks at once, give or take the spares that still
 * finish a task after their worker woke up (excess: active > blocked).
 *
 * Keeping work visible (park.c's protocol assumes that a worker runs its
 * own deque before it sleeps, and that a searcher re-looks after it stops):
 *  - a worker about to sleep in a wait with tasks on its deque notifies:
 *    its pushes may have skipped the notification, and a spare that stands
 *    in already may be parked;
 *  - a spare retires instead of parking, at the top of its loop or after a
 *    search, so after retiring it looks for work and notifies if it sees
 *    some (parking's last look, W3);
 *  - filch__block_end that leaves excess kicks a parked spare (an event
 *    count increment without a claim: the spare leaves its park as one
 *    that saw work does), so that it goes dormant instead of sleeping on
 *    as an active spare.
 *
 * A spare's dormant word (struct filch__worker.dormant):
 *   0  the spare runs (or parks, as any worker);
 *   1  set by the spare itself under lock, with its index pushed on the
 *      dormant stack; cleared (release) by the filch__block_begin that pops
 *      it, which then kicks its event count.
 * A dormant spare sleeps on its event count outside park.c's protocol: it
 * is neither idle nor claimable there, and holds no task (it retires only
 * with an empty deque). park.c's termination counts nworkers + active
 * threads, and kicks every event count once TERMINATED is set, which is
 * how a dormant spare learns that it must exit.
 */
#include "config.h"

#include <errno.h>

#include "executor.h"
#include "park.h"
#include "trace.h"

void filch__spares_init(struct filch__spares *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->started = 0;
	atomic_init(&s->active, 0);
	s->blocked = 0;
	atomic_init(&s->excess, false);
	s->dormant_top = FILCH__NO_SPARE;
	atomic_init(&s->refused, 0);
}

void filch__spares_destroy(struct filch__spares *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* Under lock. active is also read by park.c's termination check (seq_cst:
 * see filch__spare_maybe_retire), excess by spares' relaxed hint. */
static void counts_set(struct filch__spares *s, unsigned active, unsigned blocked)
{
	filch__store(&s->active, active, seq_cst);
	s->blocked = blocked;
	filch__store(&s->excess, active > blocked, relaxed);
}

/* Under lock: a spare for one more sleeper, woken or started. */
static bool get_spare(filch_executor *ex)
{
	struct filch__spares *s = &ex->spares;

	if (s->dormant_top != FILCH__NO_SPARE) {
		struct filch__worker *w = &ex->workers[s->dormant_top];

		s->dormant_top = w->next_dormant;
		/* Release: the pop before the spare resumes; pairs with the
		 * acquire load in filch__spare_maybe_retire. */
		filch__store(&w->dormant, 0, release);
		filch__park_kick(w);
		return true;
	}
	if (s->started >= ex->max_spares)
		return false;
	if (filch__executor_start_spare(ex, ex->nworkers + s->started) != 0)
		return false;
	s->started++;
	return true;
}

int filch__block_begin(bool may_refuse)
{
	struct filch__worker *w = filch__self;

	if (!w)
		return 0;
	filch_executor *ex = w->ex;
	struct filch__spares *s = &ex->spares;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	unsigned active = filch__load(&s->active, relaxed);
	unsigned blocked = s->blocked;

	if (active < blocked + 1) {
		/* Counted before it can run: a spare that parks at once is
		 * idle, and termination (park.c, T1) must count it among the
		 * threads that should be idle, or the idle spare would stand
		 * for this blocked worker (spin found it: stress/park.pml). */
		counts_set(s, active + 1, blocked + 1);
		if (get_spare(ex)) {
			active++;
		} else {
			/* Relaxed: a statistic. */
			filch__add(&s->refused, 1, relaxed);
			if (may_refuse)
				rc = -EAGAIN;
		}
	}
	counts_set(s, active, rc ? blocked : blocked + 1);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		filch__obs_wait(w, true);
	/* Tasks this worker pushed may have skipped their notification (a
	 * pusher runs its own deque before it sleeps: not this one), and a
	 * spare that already stands in may be parked: wake one for them. */
	if (rc == 0 && filch__deque_size_hint(&w->deque) != 0)
		filch__park_notify(ex);
	return rc;
}

/* Under lock, with a spare too many: a spare parked for want of work
 * would not look again until work came; a kick makes it leave its park
 * (unclaimed, as a worker that saw work in W3 does, park.c) and go
 * dormant. */
static void kick_parked_spare(filch_executor *ex)
{
	struct filch__spares *s = &ex->spares;

	for (unsigned i = ex->nworkers; i < ex->nworkers + s->started; i++) {
		struct filch__worker *w = &ex->workers[i];

		/* Relaxed: the lock orders a parking spare's SLEEPING before
		 * this look, or its own check of the counts after this
		 * section (filch__spare_surplus). One kicked and not yet
		 * awake still reads SLEEPING: kicked keeps the next kick
		 * for another. */
		if (!w->kicked &&
		    filch__load(&w->sleep, relaxed) == FILCH__SLEEP_SLEEPING) {
			w->kicked = true;
			filch__park_kick(w);
			return;
		}
	}
}

void filch__block_end(void)
{
	struct filch__worker *w = filch__self;

	if (!w)
		return;
	filch_executor *ex = w->ex;
	struct filch__spares *s = &ex->spares;
	unsigned active, blocked;

	filch__obs_wait(w, false);
	pthread_mutex_lock(&s->lock);
	active = filch__load(&s->active, relaxed);
	blocked = s->blocked - 1;
	counts_set(s, active, blocked);
	if (active > blocked)
		kick_parked_spare(ex);
	pthread_mutex_unlock(&s->lock);
}

bool filch__spare_should_retire(const struct filch__worker *w)
{
	/* Relaxed: a hint; filch__spare_maybe_retire decides under lock. */
	return w->index >= w->ex->nworkers &&
	       filch__load(&w->ex->spares.excess, relaxed);
}

bool filch__spare_surplus(struct filch__worker *w)
{
	if (w->index < w->ex->nworkers)
		return false;
	struct filch__spares *s = &w->ex->spares;

	/* Under lock, after w stored SLEEPING: either filch__block_end's
	 * critical section comes first and we see the excess it left, or it
	 * comes after ours, and the lock orders our SLEEPING before its look
	 * for a parked spare to kick. */
	pthread_mutex_lock(&s->lock);
	bool surplus = filch__load(&s->active, relaxed) > s->blocked;
	/* Parking anew: kickable again; leaving to retire: still kicked, or
	 * a second waker could kick it again instead of another. */
	w->kicked = surplus;
	pthread_mutex_unlock(&s->lock);
	return surplus;
}

bool filch__spare_maybe_retire(struct filch__worker *w)
{
	filch_executor *ex = w->ex;
	struct filch__spares *s = &ex->spares;
	/* Read before the spare can be popped: a kick after this point,
	 * by get_spare or by termination, makes the sleep below return. */
	uint32_t v = filch__park_kick_value(w);

	pthread_mutex_lock(&s->lock);
	unsigned active = filch__load(&s->active, relaxed);
	unsigned blocked = s->blocked;

	if (active <= blocked) {
		filch__store(&s->excess, false, relaxed);
		pthread_mutex_unlock(&s->lock);
		return false;
	}
	filch__store(&w->dormant, 1, relaxed); /* read under lock, or below */
	w->kicked = false;
	w->next_dormant = s->dormant_top;
	s->dormant_top = w->index;
	counts_set(s, active - 1, blocked);
	pthread_mutex_unlock(&s->lock);
	/* A spare that goes dormant skips the last look of parking (park.c,
	 * W3), which a searcher's duty needs: a notifier that saw it
	 * searching woke nobody for the task it published. The look comes
	 * after the spare's stop-search RMW (W1), as W3 does; seen: notify. */
	if (filch__park_work_visible(ex))
		filch__park_notify(ex);
	/* A shut-down pool may have waited for this spare alone: the
	 * terminator's check counts active threads (park.c, T1), and this
	 * one no longer is. Both sides are seq_cst (the store of active in
	 * counts_set, then T1's RMW here; T1's RMW, then its load of active
	 * there): one of them sees the other. */
	filch__park_try_terminate(ex);

	for (;;) {
		/* Acquire: pairs with get_spare's release store. */
		if (!filch__load(&w->dormant, acquire))
			return false;
		/* Acquire: pairs with the seq_cst fetch_or of TERMINATED in
		 * filch__park_try_terminate, which kicks us after it. */
		if (filch__load(&ex->run_state, acquire) & FILCH__EX_TERMINATED)
			return true;
		filch__park_kick_wait(w, v);
		v = filch__park_kick_value(w);
	}
}

int filch_executor_spare_counts(const filch_executor *ex,
				struct filch_spare_counts *out)
{
	if (!ex || !out)
		return -EINVAL;
	struct filch__spares *s = (struct filch__spares *)&ex->spares;

	pthread_mutex_lock(&s->lock);
	out->threads = s->started;
	out->active = filch__load(&s->active, relaxed);
	out->blocked = s->blocked;
	out->refused = filch__load(&s->refused, relaxed);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Whether this thread is inside a filch_blocking_begin/end region that
 * counted it blocked: a begin inside one, and an end outside one (also
 * after a refused begin), change nothing, so that a misplaced call cannot
 * corrupt the counts. */
static FILCH__TLS bool in_blocking_region;

int filch_blocking_begin(void)
{
	if (in_blocking_region)
		return 0;
	int rc = filch__block_begin(true);

	in_blocking_region = rc == 0 && filch__self;
	return rc;
}

void filch_blocking_end(void)
{
	if (!in_blocking_region)
		return;
	in_blocking_region = false;
	filch__block_end();
}
