/* SPDX-License-Identifier: MIT */
/*
 * group.c - fork-join task groups on the caller's stack.
 *
 * A group counts its unfinished jobs in two parts so that the common case,
 * a worker that spawns and then runs its own jobs in filch_group_wait,
 * needs no atomic read-modify-write:
 *   local    plain, the owner's (the thread that called init): +1 per
 *            spawn by the owner, -1 per job finished on the owner thread;
 *   word     atomic, everyone else's, in units of 2: +2 per spawn from
 *            another thread, -2 per job finished on another thread; bit 0
 *            (SLEEPING) says the owner sleeps on the futex of word.
 * Unfinished jobs = local + word / 2: each spawn is counted before its job
 * can run, and a job that spawns into its own group counts the child
 * before it counts itself finished, so the sum never reaches zero early.
 *
 * word (the group's shared state word):
 *   count * 2 | SLEEPING. Writers: spawners (+2, relaxed: the job is
 *   published later by the scheduler), finishers (-2, acq_rel), the owner
 *   (+2 * local | SLEEPING before sleeping, clearing SLEEPING after).
 *   A finisher that takes it from 2 | SLEEPING to SLEEPING wakes the owner.
 *   Once a finisher's decrement is done it never touches the group again
 *   (the futex wake uses only its address), so the owner may return, and
 *   its stack frame disappear, as soon as it sees zero.
 *
 * Waiting runs only work that the group's result depends on, never an
 * unrelated task (which could wait for the waiter, nest without bound, or
 * overrun it):
 *  1. its own jobs, popped from the bottom of the waiter's deque while the
 *     bottom task is one of them (its jobs are pushed there by the owner;
 *     a task pushed after them, say a submission, stays for others);
 *  2. leapfrogging (Wagner and Calder, 1993): when a job was stolen, the
 *     waiter steals from that thief and runs what it took if it is a job
 *     of a descendant group: a group opened inside one of this group's
 *     jobs, transitively (parent links below), so it is work the stolen
 *     job waits for. Anything else it took goes to its own deque, for
 *     others to run;
 *  3. a short spin, then sleep: on a worker a spare stands in meanwhile
 *     (spare.c).
 * The stack grows only with the program's own recursion: a nested wait
 * runs only descendants of the waiting group.
 *
 * parent: the group of the job that this thread took from elsewhere (by a
 * steal, at its top level, or leapfrogging) and runs now, innermost, or
 * NULL outside any: an ancestor of the new group. Levels between them (the
 * jobs a wait popped from its own deque) are skipped, which keeps the
 * fork-join path free of bookkeeping and costs nothing where it matters:
 * a leapfrogging waiter looks from a job it took from a thief of its own
 * group, and that thief entered the chain through a job of that group, or
 * of a descendant. Groups are opened and waited in scope, so while a job
 * is pending, its group and every ancestor group are alive; a waiter
 * follows the links only from a job it has taken.
 *
 * thief: 1 + the index of the worker that last stole a job of this group,
 * or 0: a hint (relaxed), checked by what leapfrogging takes.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>

#include "atomic.h"
#include "executor.h"
#include "frame.h"
#include "futex.h"
#include "group.h"
#include "park.h"
#include "perturb.h"
#include "trace.h"
#include "worker.h"

#define SLEEPING 1
/* Spins (with leapfrogging attempts) before sleeping in wait: about 40 us
 * of pauses on current x86, long enough for a thief to finish the last
 * stretch of a stolen subtree without the cost of a sleep and a spare. */
#define WAIT_SPINS 1024

struct group {
	filch_executor *ex;
	const void *owner;     /* &owner_token of the owner thread */
	struct group *parent;  /* see the top */
	int64_t local;	       /* owner only */
	_Atomic int32_t word;  /* see the top */
	_Atomic int first_error;
	_Atomic uint32_t thief; /* see the top */
};

static_assert(sizeof(struct group) <= sizeof(filch_group), "group fits filch_group");
static_assert(alignof(struct group) <= alignof(filch_group), "group alignment");

struct job {
	struct filch__task task;
	filch_job_fn fn;
	void *arg;
	struct group *g;
};

static_assert(sizeof(struct job) <= FILCH__BLOCK_SIZE, "a job fits a block");

static FILCH__TLS char owner_token;
/* The group of the job running on this thread (innermost), or NULL. */
static FILCH__TLS struct group *current_group;

static struct group *group_of(filch_group *g)
{
	return (struct group *)(void *)g->opaque_.bytes;
}

/* A job of g finished (or was discarded, or its spawn undone). */
static void finish(struct group *g, int rc)
{
	if (rc != 0) {
		int none = 0;

		/* Relaxed: published by the release decrement below, or
		 * read by this very thread. */
		filch__cas(&g->first_error, &none, rc, relaxed, relaxed);
	}
	if (g->owner == &owner_token) {
		g->local--;
		return;
	}
	/* acq_rel: the job's effects and first_error before the count drops
	 * (pairs with the acquire loads in filch_group_wait); after this the
	 * group may be gone. */
	FILCH__PERTURB(); /* the waiter may go to sleep meanwhile */
	int32_t old = filch__sub(&g->word, 2, acq_rel);

	if (old == (2 | SLEEPING))
		filch__futex_wake((_Atomic uint32_t *)(void *)&g->word, 1);
}

/* Runs job j, or discards it, as how says (run()'s how, sched.h), and
 * frees its block. */
static inline __attribute__((always_inline)) void job_exec(struct job *j,
							   unsigned how)
{
	struct group *g = j->g;
	filch_job_fn fn = j->fn;
	void *arg = j->arg;
	bool traced = how & FILCH__RUN_TRACED;

	int rc = ECANCELED;

	filch__block_free(j);
	if (!(how & FILCH__RUN_DISCARD)) {
		filch__obs_task_begin(traced, (uintptr_t)fn, arg);
		rc = fn(arg);
		filch__obs_task_end(traced, rc);
	}
	finish(g, rc);
}

/* job_exec for any how but 0, out of the way of the group wait's loop. */
static __attribute__((noinline, cold)) void job_exec_how(struct job *j,
							 unsigned how)
{
	job_exec(j, how);
}

/* A job run where it was taken by a thief, at a worker's top level, or by
 * leapfrogging: groups opened inside it get its group as their parent.
 * (A job that its own group's wait pops runs through job_exec alone: the
 * groups opened inside it get the waiter's parent, an ancestor of its
 * group, which is all that depends_on needs; see the top.) */
static FILCH__NO_CANARY void
job_run(struct filch__task *t, unsigned how)
{
	struct job *j = filch__container_of(t, struct job, task);
	struct group *outer = current_group;
	struct filch__task_frame fr;

	/* A frame (no future) names the job to a timed shutdown's report
	 * (frame.c); the jobs a wait pops run inside their waiter's. */
	filch__task_frame_enter(&fr, NULL, (void (*)(void))j->fn, true);
	current_group = j->g;
	job_exec(j, how);
	current_group = outer;
	filch__task_frame_leave(&fr);
}

void filch__group_note_steal(struct filch__task *t, unsigned thief)
{
	if (t->run != job_run)
		return;
	/* The job is the thief's now: its group lives until it finishes.
	 * Relaxed: a hint (see the top). */
	filch__store(&filch__container_of(t, struct job, task)->g->thief,
		     thief + 1, relaxed);
}

/* Whether t, a task the caller took, is a job of g or of a descendant of
 * g (see the top). */
static bool depends_on(struct filch__task *t, struct group *g)
{
	if (t->run != job_run)
		return false;
	for (struct group *p = filch__container_of(t, struct job, task)->g; p;
	     p = p->parent)
		if (p == g)
			return true;
	return false;
}

int filch_group_init(filch_group *gp, filch_executor *ex)
{
	struct group *g;

	if (!gp || !ex)
		return -EINVAL;
	g = group_of(gp);
	g->ex = ex;
	g->owner = &owner_token;
	g->parent = current_group;
	g->local = 0;
	atomic_init(&g->thief, 0);
	atomic_init(&g->word, 0);
	atomic_init(&g->first_error, 0);
	return 0;
}

int filch_group_spawn(filch_group *gp, filch_job_fn fn, void *arg)
{
	struct group *g;
	struct job *j;
	int rc;

	if (!gp || !fn)
		return -EINVAL;
	g = group_of(gp);
	if (!(j = filch__block_alloc()))
		return -ENOMEM;
	j->task.run = job_run;
	j->fn = fn;
	j->arg = arg;
	j->g = g;
	if (g->owner == &owner_token) {
		if (g->local >= INT32_MAX / 4) {
			filch__block_free(j);
			return -ENOMEM;
		}
		g->local++;
	} else {
		/* Relaxed: the scheduler publishes the job after this. */
		filch__add(&g->word, 2, relaxed);
	}
	struct filch__worker *w = filch__self;

	if (w && w->ex == g->ex) {
		/* The fast path of filch__sched_submit, inlined: the spawn
		 * of a worker onto its own deque. */
		rc = filch__deque_push(&w->deque, &j->task);
		if (rc == 0)
			filch__stat_add(&w->stats.spawned, 1);
		if (rc == 0 && g->ex->nworkers > 1)
			filch__park_notify_local(g->ex);
	} else {
		rc = filch__sched_submit(g->ex, &j->task);
	}
	if (rc != 0) {
		filch__block_free(j);
		finish(g, 0); /* undo the count, waking a sleeping owner */
	}
	return rc;
}

static bool done(struct group *g)
{
	/* Acquire: pairs with the acq_rel decrement in finish. */
	int32_t w = filch__load(&g->word, acquire);

	return g->local + (w & ~SLEEPING) / 2 == 0;
}

/* Folds local into word and sleeps until the count is zero; on a worker,
 * a spare stands in meanwhile (or, when none can be had, it sleeps
 * uncompensated: the jobs must finish before the group's frame goes). */
static void sleep_until_done(struct group *g)
{
	int32_t add = (int32_t)(2 * g->local) | SLEEPING;
	/* seq_cst: the folded count and SLEEPING in one RMW, in the same
	 * modification order as the finishers' decrements. */
	int32_t w = filch__add(&g->word, add, seq_cst) + add;

	g->local = 0;
	if (w != SLEEPING) {
		filch__block_begin(false);
		do {
			filch__futex_wait((_Atomic uint32_t *)(void *)&g->word,
					  (uint32_t)w, FILCH__NO_DEADLINE);
			/* Acquire: pairs with the acq_rel decrement in finish. */
			w = filch__load(&g->word, acquire);
		} while (w != SLEEPING);
		filch__block_end();
	}
	filch__and(&g->word, ~SLEEPING, relaxed); /* the owner's own bit */
}

/* Takes the job at the bottom of w's deque if it is one of g's. A task
 * pushed after g's jobs hides them from here until a thief takes it
 * (thieves take the oldest first, so they take g's jobs before it). */
static inline __attribute__((always_inline)) struct job *
pop_own_job(struct filch__worker *w, struct group *g)
{
	struct filch__task *t = filch__deque_pop(&w->deque);

	if (!t)
		return NULL;
	struct job *j = filch__container_of(t, struct job, task);

	if (t->run == job_run && j->g == g)
		return j;
	/* Back where it was: the slot it left is free, so no growth. */
	filch__deque_push(&w->deque, t);
	return NULL;
}

/* Runs g's jobs from the bottom of w's deque while there are (see the
 * top). The common how, 0, tests as the discard alone did: the trace gate
 * costs the loop nothing (trace.h). Each job popped counts in tasks_run
 * once it ran: the same add between the pop and the job cost fib through
 * groups about 5% at one worker, after it about 0.5% (filch-bench,
 * docs/observability.md). */
static inline __attribute__((always_inline)) void
run_own_jobs(struct filch__worker *w, struct group *g)
{
	struct job *j;

	while (!done(g) && (j = pop_own_job(w, g))) {
		unsigned how = filch__executor_how(w->ex);

		if (__builtin_expect(how != 0, 0))
			job_exec_how(j, how);
		else
			job_exec(j, 0);
		filch__stat_add(&w->stats.tasks_run, 1);
	}
}

/* Leapfrogging (see the top): true when w ran a task taken from the worker
 * that last stole one of g's jobs. */
static bool leapfrog(struct filch__worker *w, struct group *g)
{
	/* Relaxed: a hint; what is taken is checked. */
	uint32_t thief = filch__load(&g->thief, relaxed);

	if (thief == 0 || thief - 1 == w->index)
		return false;
	struct filch__task *t =
		filch__worker_steal_from(w, &w->ex->workers[thief - 1]);

	if (!t)
		return false;
	if (depends_on(t, g) || filch__deque_push(&w->deque, t) != 0) {
		/* (A push fails only when its deque cannot grow: running
		 * the task here is then the one way not to lose it.) */
		filch__worker_run_task(w, t);
		return true;
	}
	/* Not ours to run: the thief moved on. Leave it to others. */
	if (w->ex->nworkers > 1)
		filch__park_notify_local(w->ex);
	return false;
}

/* The rest of a wait on a worker of g's executor once g's jobs are no
 * longer at the bottom of its deque (w NULL elsewhere): leapfrog, spin,
 * sleep; and g's own jobs again after a leapfrogged job ran (a job of g
 * may have spawned into g from here). */
static __attribute__((noinline)) void wait_slow(struct filch__worker *w,
						struct group *g)
{
	unsigned spins = 0;

	while (!done(g)) {
		if (w && leapfrog(w, g)) {
			run_own_jobs(w, g);
			spins = 0;
			continue;
		}
		if (++spins < WAIT_SPINS) {
			filch__cpu_relax();
			continue;
		}
		sleep_until_done(g);
	}
}

int filch_group_wait(filch_group *gp)
{
	struct group *g;
	int rc;

	if (!gp)
		return -EINVAL;
	g = group_of(gp);
	if (g->owner != &owner_token)
		return -EINVAL;
	struct filch__worker *w = filch__self;

	if (w && w->ex != g->ex)
		w = NULL; /* its jobs went to another executor's injector */
	/* The common case: g's jobs, newest first, from our own deque. */
	if (w)
		run_own_jobs(w, g);
	if (!done(g))
		wait_slow(w, g);
	rc = filch__load(&g->first_error, relaxed); /* after done's acquire */
	g->local = 0;
	atomic_store_explicit(&g->word, 0, memory_order_relaxed);
	atomic_store_explicit(&g->first_error, 0, memory_order_relaxed);
	atomic_store_explicit(&g->thief, 0, memory_order_relaxed);
	return rc;
}
