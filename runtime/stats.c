/* SPDX-License-Identifier: MIT */
/*
 * stats.c - filch_executor_stats and filch_worker_stats: the counters of
 * stats.h, read with relaxed loads while the workers write them.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "executor.h"
#include "frame.h"
#include "stats.h"

/* The first published layouts: a smaller size is a caller's mistake. */
#define WORKER_STATS_V1 \
	(offsetof(struct filch_worker_stats, queue_depth) + \
	 sizeof(unsigned long long))
#define EXECUTOR_STATS_V1 \
	(offsetof(struct filch_executor_stats, spares) + \
	 sizeof(struct filch_spare_counts))

/* Worker slots whose counters may be read: acquire pairs with
 * filch__executor_start_spare's release store (a new slot is set up
 * before it is counted). */
static unsigned slots(const filch_executor *ex)
{
	return filch__load((_Atomic unsigned *)&ex->nthreads, acquire);
}

/* Adds w's counters into s (size not touched). */
static void add_worker(const struct filch__worker *w,
		       struct filch_worker_stats *s)
{
	struct filch__stats *c = (struct filch__stats *)&w->stats;

	s->tasks_run += filch__load(&c->tasks_run, relaxed);
	s->spawned += filch__load(&c->spawned, relaxed);
	s->stolen += filch__load(&c->stolen, relaxed);
	s->steal_failed += filch__load(&c->steal_failed, relaxed);
	s->inject_batches += filch__load(&c->inject_batches, relaxed);
	s->inject_tasks += filch__load(&c->inject_tasks, relaxed);
	s->parks += filch__load(&c->parks, relaxed);
	s->park_ns += filch__load(&c->park_ns, relaxed);
	s->wakeups_sent += filch__load(&c->wakeups_sent, relaxed);
	s->wakeups_received += filch__load(&c->wakeups_received, relaxed);
	s->queue_depth += filch__deque_size_hint(&w->deque);
}

/* Whether a caller's versioned struct of size size can be filled. */
static bool size_ok(size_t size, size_t v1)
{
	return size >= v1;
}

/* Copies the first min(size, full) bytes of src to out, size included. */
static void copy_out(void *out, const void *src, size_t size, size_t full)
{
	memcpy(out, src, size < full ? size : full);
}

int filch_worker_stats(const filch_executor *ex, unsigned index,
		       struct filch_worker_stats *out)
{
	struct filch_worker_stats s = {.size = 0};

	if (!ex || !out || !size_ok(out->size, WORKER_STATS_V1))
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	if (index >= slots(ex))
		return -EINVAL;
	s.size = out->size;
	add_worker(&ex->workers[index], &s);
	copy_out(out, &s, out->size, sizeof(s));
	return 0;
}

int filch_executor_stats(const filch_executor *ex,
			 struct filch_executor_stats *out)
{
	struct filch_executor_stats s = {.size = 0};
	struct filch_worker_stats sum = {.size = 0};

	if (!ex || !out || !size_ok(out->size, EXECUTOR_STATS_V1))
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	struct filch__xstats *x = (struct filch__xstats *)&ex->xstats;
	int rc = filch_executor_spare_counts(ex, &s.spares);

	if (rc != 0)
		return rc;
	s.size = out->size;
	s.workers = ex->nworkers;
	s.threads = slots(ex);
	for (unsigned i = 0; i < s.threads; i++)
		add_worker(&ex->workers[i], &sum);
	s.tasks_run = sum.tasks_run;
	s.spawned = sum.spawned;
	s.stolen = sum.stolen;
	s.steal_failed = sum.steal_failed;
	s.inject_batches = sum.inject_batches;
	s.inject_tasks = sum.inject_tasks;
	s.parks = sum.parks;
	s.park_ns = sum.park_ns;
	s.wakeups_sent = sum.wakeups_sent;
	s.wakeups_received = sum.wakeups_received;
	s.queue_depth = sum.queue_depth;
	/* Relaxed, both: counters. A wrap seen in one and not yet in the
	 * other is 2^32 off for an instant (exact once quiescent). */
	uint64_t wraps = filch__load(&x->submitted_wraps, relaxed);
	uint64_t word = filch__load((_Atomic uint64_t *)&ex->submitters,
				    relaxed);
	s.submitted = (wraps << 32) + FILCH__SUBMITTED_LOW(word);
	s.refused = filch__load(&x->refused, relaxed);
	s.caller_ran = filch__load(&x->caller_ran, relaxed);
	s.discarded = filch__load(&x->discarded, relaxed);
	s.task_failures = filch__load(&x->task_failures, relaxed);
	s.foreign_wakeups = filch__load(&x->wakeups_sent, relaxed);
	/* Queued but not yet moved out: approximate while tasks flow (the
	 * counters are read at different moments), and an underestimate
	 * (clamped at 0) once a cancelling shutdown discarded tasks from the
	 * deques too (the injector is empty then). */
	s.inject_depth = s.submitted > s.inject_tasks + s.discarded
				 ? s.submitted - s.inject_tasks - s.discarded
				 : 0;
	/* Handed over and not yet taken: no counter of their own, so no
	 * write on the task path (docs/observability.md). */
	s.futures_pending =
		s.submitted + s.spawned > s.tasks_run + s.discarded
			? s.submitted + s.spawned - s.tasks_run - s.discarded
			: 0;
	s.futures_running = filch__frames_busy(
		&ex->workers[0].frames, s.threads, sizeof(struct filch__worker));
	copy_out(out, &s, out->size, sizeof(s));
	return 0;
}
