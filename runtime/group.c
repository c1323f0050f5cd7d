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
 */
#include "config.h"

#include <errno.h>
#include <limits.h>

#include "atomic.h"
#include "executor.h"
#include "futex.h"
#include "park.h"
#include "perturb.h"
#include "worker.h"

#define SLEEPING 1
/* Spins (with helping attempts) before sleeping in wait. */
#define WAIT_SPINS 256
/* A worker that sleeps in wait wakes up this often to help again. */
#define WORKER_NAP_NS 200000

struct group {
	filch_executor *ex;
	const void *owner;     /* &owner_token of the owner thread */
	int64_t local;	       /* owner only */
	_Atomic int32_t word;  /* see the top */
	_Atomic int first_error;
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

static void job_run(struct filch__task *t, bool discard)
{
	struct job *j = filch__container_of(t, struct job, task);
	struct group *g = j->g;
	filch_job_fn fn = j->fn;
	void *arg = j->arg;

	filch__block_free(j);
	finish(g, discard ? ECANCELED : fn(arg));
}

int filch_group_init(filch_group *gp, filch_executor *ex)
{
	struct group *g;

	if (!gp || !ex)
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	g = group_of(gp);
	g->ex = ex;
	g->owner = &owner_token;
	g->local = 0;
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
		if (rc == 0 && g->ex->nworkers > 1)
			filch__park_notify_local(g->ex);
	} else {
		rc = filch__sched_submit(g->ex, &j->task, false);
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

/* Folds local into word and sleeps until the count is zero (or, on a
 * worker, until a nap ends). */
static void sleep_until_done(struct group *g, bool worker)
{
	int64_t deadline = worker ? filch__deadline(WORKER_NAP_NS) : FILCH__NO_DEADLINE;
	int32_t add = (int32_t)(2 * g->local) | SLEEPING;
	/* seq_cst: the folded count and SLEEPING in one RMW, in the same
	 * modification order as the finishers' decrements. */
	int32_t w = filch__add(&g->word, add, seq_cst) + add;

	g->local = 0;
	while (w != SLEEPING) {
		if (filch__futex_wait((_Atomic uint32_t *)(void *)&g->word,
				      (uint32_t)w, deadline) == -ETIMEDOUT)
			break;
		/* Acquire: pairs with the acq_rel decrement in finish. */
		w = filch__load(&g->word, acquire);
	}
	filch__and(&g->word, ~SLEEPING, relaxed); /* the owner's own bit */
}

int filch_group_wait(filch_group *gp)
{
	struct group *g;
	unsigned spins = 0;
	int rc;

	if (!gp)
		return -EINVAL;
	g = group_of(gp);
	if (g->owner != &owner_token)
		return -EINVAL;
	struct filch__worker *w = filch__self;

	while (!done(g)) {
		if (w && filch__worker_help(w)) {
			spins = 0;
			continue;
		}
		if (++spins < WAIT_SPINS) {
			filch__cpu_relax();
			continue;
		}
		sleep_until_done(g, w != NULL);
		spins = 0;
	}
	rc = filch__load(&g->first_error, relaxed); /* after done's acquire */
	g->local = 0;
	atomic_store_explicit(&g->word, 0, memory_order_relaxed);
	atomic_store_explicit(&g->first_error, 0, memory_order_relaxed);
	return rc;
}
