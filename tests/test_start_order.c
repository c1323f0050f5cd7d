/* SPDX-License-Identifier: MIT */
/*
 * test_start_order.c - in which order tasks start: those submitted by
 * foreign threads in submission order (first come, first served, as in
 * Python's ThreadPoolExecutor): exactly so on one worker, and on several
 * but for the tasks a worker steals from another's batch; those a task submits to its own worker newest first (depth
 * first, as fork-join wants), ahead of the foreign ones queued meanwhile.
 *
 * A gate task holds the workers while the test queues its tasks, so that
 * they all wait in the injector and in the workers' deques at once, past
 * the injector's batch size (32) and its rhythm (every 61 tasks).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <filch.h>

#include "tap.h"

#define MAX_TASKS 4000

static atomic_int gate_open;
static atomic_int gates_in;
static atomic_uint next_rank;
static atomic_uint recorded; /* tasks whose start is written below */
static unsigned started[MAX_TASKS]; /* started[rank] = task index */
static int ran_on[MAX_TASKS];	    /* ran_on[rank] = worker index */

static void pause_briefly(void)
{
	struct timespec ts = {0, 200000}; /* 200 us */

	nanosleep(&ts, NULL);
}

/* Holds the calling worker until the test opens the gate (no filch wait:
 * no spare steps in). */
static void hold_at_gate(void)
{
	atomic_fetch_add(&gates_in, 1);
	while (!atomic_load(&gate_open))
		pause_briefly();
}

static int gate_task(void *arg, void **result)
{
	(void)arg;
	(void)result;
	hold_at_gate();
	return 0;
}

static int record_task(void *arg, void **result)
{
	unsigned rank = atomic_fetch_add(&next_rank, 1);

	(void)result;
	if (rank < MAX_TASKS) {
		started[rank] = (unsigned)(uintptr_t)arg;
		ran_on[rank] = filch_current_worker();
	}
	/* Release: the two stores above before the count that
	 * wait_started reads with acquire. */
	atomic_fetch_add_explicit(&recorded, 1, memory_order_release);
	return 0;
}

static void reset(void)
{
	atomic_store(&gate_open, 0);
	atomic_store(&gates_in, 0);
	atomic_store(&next_rank, 0);
	atomic_store(&recorded, 0);
}

/* Blocks every worker of ex in a gate task; returns once all are in. */
static void close_gates(filch_executor *ex, unsigned workers)
{
	for (unsigned i = 0; i < workers; i++)
		filch_submit(ex, gate_task, NULL, NULL);
	while ((unsigned)atomic_load(&gates_in) < workers)
		pause_briefly();
}

/* How many times a worker started a task older than the one it started
 * before it: a thief that stole the oldest task of another worker's batch
 * after running newer ones of its own does that once per steal; a worker
 * that ran a batch newest first did it for nearly every task. The largest
 * distance between a task's index and its start rank goes in *spread. */
static unsigned backward_starts(unsigned n, unsigned workers, unsigned *spread)
{
	unsigned last[64];
	bool seen[64] = {false};
	unsigned backward = 0;

	*spread = 0;
	for (unsigned r = 0; r < n; r++) {
		int w = ran_on[r];
		unsigned d = started[r] > r ? started[r] - r : r - started[r];

		if (w < 0 || (unsigned)w >= workers || w >= 64)
			return n;
		if (seen[w] && started[r] <= last[w])
			backward++;
		seen[w] = true;
		last[w] = started[r];
		if (d > *spread)
			*spread = d;
	}
	return backward;
}

/* With one worker, exactly in submission order; with more, backward
 * starts are steals only: at most one start in 20 (newest-first batches
 * made 31 of every 32). */
static void check_order(unsigned n, unsigned workers, const char *how)
{
	unsigned spread, backward = backward_starts(n, workers, &spread);

	if (workers == 1)
		ok(backward == 0 && spread == 0,
		   "1 worker: %u tasks %s started exactly in submission order "
		   "(first come, first served)", n, how);
	else
		ok(backward <= n / 20,
		   "%u workers: %u tasks %s started in submission order but for "
		   "steals (%u starts went backward)", workers, n, how, backward);
	diag("%u workers, %u tasks %s: %u backward starts, largest distance "
	     "between submission and start order %u", workers, n, how,
	     backward, spread);
}

static void wait_started(unsigned n)
{
	/* Acquire: pairs with the release increment in record_task. */
	while (atomic_load_explicit(&recorded, memory_order_acquire) < n)
		pause_briefly();
}

/* n tasks queued by this (foreign) thread while every worker is held, then
 * released at once. */
static void queued_then_released(unsigned workers, unsigned n)
{
	struct filch_executor_opts o = {.workers = workers};
	filch_executor *ex = NULL;
	bool submitted = true;

	reset();
	if (filch_executor_create(&ex, &o) != 0)
		bail_out("executor_create");
	close_gates(ex, workers);
	for (unsigned i = 0; i < n; i++)
		submitted &= filch_submit(ex, record_task, (void *)(uintptr_t)i,
					  NULL) == 0;
	atomic_store(&gate_open, 1);
	wait_started(n);
	ok(submitted, "%u workers: %u tasks queued behind the gates", workers, n);
	check_order(n, workers, "queued behind the gates");
	filch_executor_destroy(ex);
}

/* Submitted while the workers run: the injector is taken in many batches,
 * some while earlier ones still wait in a deque. */
static void submitted_while_running(unsigned workers, unsigned n)
{
	struct filch_executor_opts o = {.workers = workers};
	filch_executor *ex = NULL;

	reset();
	atomic_store(&gate_open, 1);
	if (filch_executor_create(&ex, &o) != 0)
		bail_out("executor_create");
	for (unsigned i = 0; i < n; i++) {
		filch_submit(ex, record_task, (void *)(uintptr_t)i, NULL);
		if (i % 97 == 0)
			sched_yield();
	}
	wait_started(n);
	check_order(n, workers, "submitted while they ran");
	filch_executor_destroy(ex);
}

/* A task on the only worker: submits CHILDREN children to its own deque,
 * while the test thread queues foreign tasks behind it. */
#define CHILDREN 10
static filch_executor *spawner_ex;

static int spawner_task(void *arg, void **result)
{
	(void)arg;
	(void)result;
	hold_at_gate();
	for (unsigned i = 0; i < CHILDREN; i++)
		filch_submit(spawner_ex, record_task, (void *)(uintptr_t)(1000 + i),
			     NULL);
	return 0;
}

static void own_tasks_newest_first(void)
{
	struct filch_executor_opts o = {.workers = 1};
	const unsigned foreign = 40;
	bool children_lifo = true, foreign_fifo = true;

	reset();
	if (filch_executor_create(&spawner_ex, &o) != 0)
		bail_out("executor_create");
	filch_submit(spawner_ex, spawner_task, NULL, NULL);
	while (atomic_load(&gates_in) < 1)
		pause_briefly();
	for (unsigned i = 0; i < foreign; i++)
		filch_submit(spawner_ex, record_task, (void *)(uintptr_t)i, NULL);
	atomic_store(&gate_open, 1);
	wait_started(foreign + CHILDREN);
	/* The spawner ran first of all (nothing else could be taken before
	 * it), so its children are in its deque above the whole first batch
	 * of foreign tasks: they run first, newest first. */
	for (unsigned r = 0; r < CHILDREN; r++)
		children_lifo &= started[r] == 1000 + CHILDREN - 1 - r;
	for (unsigned r = CHILDREN; r < CHILDREN + foreign; r++)
		foreign_fifo &= started[r] == r - CHILDREN;
	ok(children_lifo, "a task's own submissions start newest first, "
			  "before the foreign tasks queued meanwhile");
	ok(foreign_fifo, "then the %u foreign tasks, in submission order",
	   foreign);
	filch_executor_destroy(spawner_ex);
}

int main(void)
{
	alarm(120);
	queued_then_released(1, 40);
	queued_then_released(1, 1000);
	queued_then_released(2, 1000);
	queued_then_released(4, 1000);
	submitted_while_running(1, 4000);
	submitted_while_running(2, 4000);
	own_tasks_newest_first();
	return tap_done();
}
