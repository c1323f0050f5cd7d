/* SPDX-License-Identifier: MIT */
/* test_stats.c - filch_executor_stats and filch_worker_stats: bad input
 * leaves the output alone, the counters add up exactly once the pool is
 * quiescent (1, 2 and 8 workers), queue depths, refusals, caller-runs,
 * discards, fire-and-forget failures, parks, fork(). */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filch.h>
#include <filch/fj.h>

#include "fj_helpers.h"
#include "tap.h"

#define FANOUT 4

static filch_executor *make(unsigned workers, size_t capacity, int policy)
{
	struct filch_executor_opts o = {.workers = workers,
					.queue_capacity = capacity,
					.full_policy = policy};
	filch_executor *ex = NULL;

	if (filch_executor_create(&ex, &o) != 0)
		bail_out("filch_executor_create");
	return ex;
}

static struct filch_executor_stats stats(filch_executor *ex)
{
	struct filch_executor_stats s = {.size = sizeof(s)};

	if (filch_executor_stats(ex, &s) != 0)
		bail_out("filch_executor_stats");
	return s;
}

static int job(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
	return 0;
}

static atomic_int jobs_ran;

static int leaf(void *arg, void **result)
{
	(void)result;
	atomic_fetch_add((atomic_int *)arg, 1);
	return 0;
}

static int spawner(void *arg, void **result)
{
	filch_executor *ex = filch_current_executor();
	filch_group g;
	filch_future *fs[FANOUT];
	int rc = 0;

	(void)result;
	filch_group_init(&g, ex);
	for (int i = 0; i < FANOUT; i++)
		filch_group_spawn(&g, job, &jobs_ran);
	for (int i = 0; i < FANOUT; i++)
		rc |= filch_submit(ex, leaf, arg, &fs[i]);
	rc |= filch_group_wait(&g);
	for (int i = 0; i < FANOUT; i++) {
		rc |= filch_future_result(fs[i], FILCH_FOREVER, NULL);
		filch_future_release(fs[i]);
	}
	return rc;
}

static void test_add_up(unsigned workers)
{
	enum { N = 64 };
	filch_executor *ex = make(workers, 0, 0);
	filch_future *fs[N];
	atomic_int leaves = 0;
	int fails = 0;

	atomic_store(&jobs_ran, 0);
	for (int i = 0; i < N; i++)
		if (filch_submit(ex, spawner, &leaves, &fs[i]) != 0)
			bail_out("submit");
	for (int i = 0; i < N; i++) {
		fails += filch_future_result(fs[i], FILCH_FOREVER, NULL) != 0;
		filch_future_release(fs[i]);
	}
	is(fails, 0, "%u workers: every task succeeded", workers);

	/* Every future waited for, but a waiter may have run a queued task
	 * in place, whose record leaves its deque later: tasks_run may lag. */
	struct filch_executor_stats s = stats(ex);
	is(s.submitted, N, "%u workers: submitted counts the foreign tasks",
	   workers);
	is(s.spawned, 2 * N * FANOUT,
	   "%u workers: spawned counts group jobs and local submits", workers);
	ok(s.tasks_run <= s.submitted + s.spawned,
	   "%u workers: tasks_run <= submitted + spawned while running",
	   workers);
	is(s.workers, workers, "%u workers: workers", workers);
	is(s.discarded + s.refused + s.caller_ran + s.task_failures, 0,
	   "%u workers: nothing discarded, refused, run by the caller, failed",
	   workers);
	is(s.inject_depth, 0, "%u workers: the injector is empty", workers);
	is(s.inject_tasks, N, "%u workers: every foreign task left the injector",
	   workers);
	ok(s.inject_batches >= 1 && s.inject_batches <= N,
	   "%u workers: %llu injector takes", workers, s.inject_batches);

	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	s = stats(ex);
	struct filch_worker_stats sum = {.size = 0};
	for (unsigned i = 0; i < s.threads; i++) {
		struct filch_worker_stats w = {.size = sizeof(w)};

		if (filch_worker_stats(ex, i, &w) != 0)
			bail_out("filch_worker_stats");
		sum.tasks_run += w.tasks_run;
		sum.spawned += w.spawned;
		sum.stolen += w.stolen;
		sum.steal_failed += w.steal_failed;
		sum.inject_batches += w.inject_batches;
		sum.inject_tasks += w.inject_tasks;
		sum.parks += w.parks;
		sum.park_ns += w.park_ns;
		sum.wakeups_sent += w.wakeups_sent;
		sum.wakeups_received += w.wakeups_received;
		sum.queue_depth += w.queue_depth;
	}
	ok(sum.tasks_run == s.tasks_run && sum.spawned == s.spawned &&
		   sum.stolen == s.stolen && sum.steal_failed == s.steal_failed &&
		   sum.inject_batches == s.inject_batches &&
		   sum.inject_tasks == s.inject_tasks && sum.parks == s.parks &&
		   sum.park_ns == s.park_ns &&
		   sum.wakeups_sent == s.wakeups_sent &&
		   sum.wakeups_received == s.wakeups_received &&
		   sum.queue_depth == s.queue_depth,
	   "%u workers: the workers' counters sum to the totals", workers);
	is(s.tasks_run, s.submitted + s.spawned,
	   "%u workers: tasks_run = submitted + spawned after shutdown",
	   workers);
	is(s.submitted, N, "%u workers: submitted unchanged", workers);
	is(s.futures_pending, 0, "%u workers: no future pending", workers);
	is(s.futures_running, 0, "%u workers: no future running", workers);
	is(s.queue_depth, 0, "%u workers: every deque is empty", workers);
	ok(s.wakeups_received <= s.wakeups_sent + s.foreign_wakeups,
	   "%u workers: no wake-up received that was not sent", workers);
	if (s.threads == 1)
		is(s.stolen + s.steal_failed, 0, "1 thread: nobody to steal from");
	diag("%u workers, %u spares: run %llu stolen %llu failed steals %llu parks %llu "
	     "(%llu ns) wakeups %llu+%llu/%llu",
	     workers, s.threads - workers, s.tasks_run, s.stolen, s.steal_failed, s.parks,
	     s.park_ns, s.wakeups_sent, s.foreign_wakeups, s.wakeups_received);
	filch_executor_destroy(ex);
}

static void fj_root(filch_fj *fj, void *arg)
{
	*(long *)arg = fj_spread(fj, 9);
}

/* Frames taken by thieves run as tasks: the counters still add up. */
static void test_fj_steals(void)
{
	filch_executor *ex = make(2, 0, 0);
	struct filch_executor_stats s;
	long leaves = 0;
	int rounds = 0;

	/* Rounds until a leaf ran on the second worker: a stolen frame. */
	fj_leaf_ns = 20 * 1000;
	do
		filch_fj_run(ex, fj_root, &leaves);
	while (!(atomic_load(&fj_leaf_workers) & 2) && ++rounds < 20);
	is(leaves, 512, "fork-join: every leaf ran");
	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	s = stats(ex);
	if (!(atomic_load(&fj_leaf_workers) & 2)) {
		skip(2, "no frame was stolen in %d rounds", rounds);
	} else {
		is(s.tasks_run, s.submitted + s.spawned,
		   "fork-join with stolen frames: tasks_run = submitted + "
		   "spawned");
		is(s.futures_pending, 0, "fork-join: no future pending");
	}
	filch_executor_destroy(ex);
}

/* Group jobs that another worker took: the spawner still counts them. */
enum { TAKEN_JOBS = 64 };
static atomic_int taken_ran_on[2];

static int slow_job(void *arg)
{
	int w = filch_current_worker();

	(void)arg;
	usleep(200);
	if (w == 0 || w == 1)
		atomic_fetch_add(&taken_ran_on[w], 1);
	return 0;
}

static int slow_spawner(void *arg, void **result)
{
	filch_group g;
	int rc = 0;

	(void)result;
	*(int *)arg = filch_current_worker();
	filch_group_init(&g, filch_current_executor());
	for (int i = 0; i < TAKEN_JOBS; i++)
		rc |= filch_group_spawn(&g, slow_job, NULL);
	return rc | filch_group_wait(&g);
}

static void test_jobs_taken(void)
{
	struct filch_worker_stats w[2];
	int spawner = -1, rounds = 0;
	bool taken;

	/* Rounds until the other worker ran some of the jobs. */
	do {
		filch_executor *ex = make(2, 0, 0);
		filch_future *f;

		atomic_store(&taken_ran_on[0], 0);
		atomic_store(&taken_ran_on[1], 0);
		if (filch_submit(ex, slow_spawner, &spawner, &f) != 0)
			bail_out("submit");
		if (filch_future_result(f, FILCH_FOREVER, NULL) != 0)
			bail_out("slow_spawner");
		filch_future_release(f);
		filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
		for (int i = 0; i < 2; i++) {
			w[i].size = sizeof(w[i]);
			if (filch_worker_stats(ex, (unsigned)i, &w[i]) != 0)
				bail_out("filch_worker_stats");
		}
		filch_executor_destroy(ex);
		taken = (spawner == 0 || spawner == 1) &&
			atomic_load(&taken_ran_on[!spawner]) > 0;
	} while (!taken && ++rounds < 10);
	if (!taken) {
		skip(3, "no job ran on the other worker in %d rounds", rounds);
		return;
	}
	is(w[spawner].spawned, (unsigned long long)TAKEN_JOBS,
	   "group jobs another worker ran count as the spawner's spawns");
	is(w[!spawner].spawned, 0, "and not as the runner's");
	is(w[0].tasks_run + w[1].tasks_run, (unsigned long long)TAKEN_JOBS + 1,
	   "each job and the spawner's task run once");
}

static void test_bad_input(void)
{
	filch_executor *ex = make(1, 0, 0);
	struct filch_executor_stats s;
	struct filch_worker_stats w;

	memset(&s, 0xab, sizeof(s));
	s.size = sizeof(s);
	is(filch_executor_stats(NULL, &s), -EINVAL, "NULL executor: -EINVAL");
	is(filch_executor_stats(ex, NULL), -EINVAL, "NULL output: -EINVAL");
	s.size = sizeof(s.size);
	is(filch_executor_stats(ex, &s), -EINVAL, "size too small: -EINVAL");
	ok(s.size == sizeof(s.size) && s.workers == 0xabababab,
	   "output untouched on -EINVAL");

	memset(&w, 0xab, sizeof(w));
	w.size = sizeof(w);
	is(filch_worker_stats(ex, 1, &w), -EINVAL,
	   "index past the slots in use: -EINVAL");
	is(filch_worker_stats(ex, 0, NULL), -EINVAL, "NULL worker output");
	is(filch_worker_stats(NULL, 0, &w), -EINVAL, "NULL executor");
	w.size = 0;
	is(filch_worker_stats(ex, 0, &w), -EINVAL, "size 0: -EINVAL");
	ok(w.tasks_run == 0xababababababababull, "worker output untouched");

	/* A caller built against a larger struct: filch fills what it knows
	 * and leaves the rest of the caller's struct alone. */
	unsigned char big[sizeof(struct filch_executor_stats) + 16];
	struct filch_executor_stats *bs = (void *)big;
	memset(big, 0xcd, sizeof(big));
	bs->size = sizeof(big);
	is(filch_executor_stats(ex, bs), 0, "a larger size is accepted");
	ok(big[sizeof(big) - 1] == 0xcd &&
		   big[sizeof(struct filch_executor_stats)] == 0xcd,
	   "bytes past filch's struct untouched");
	is(bs->size, sizeof(big), "size kept as the caller set it");
	is(bs->workers, 1, "the fields filch knows are filled");

	/* A caller built against the first version: the later fields are
	 * not its own, and stay as they were. */
	memset(&s, 0xab, sizeof(s));
	s.size = offsetof(struct filch_executor_stats, futures_pending);
	is(filch_executor_stats(ex, &s), 0, "the first version's size");
	ok(s.workers == 1 && s.futures_pending == 0xababababababababull &&
		   s.futures_running == 0xababababababababull,
	   "the first version's fields filled, the later ones untouched");
	filch_executor_destroy(ex);
}

static atomic_int gate;

/* Holds its worker until the gate opens; from a worker, first pushes
 * arg local tasks. */
static int blocker(void *arg, void **result)
{
	(void)result;
	for (intptr_t i = 0; i < (intptr_t)arg; i++)
		filch_submit(filch_current_executor(), leaf, &jobs_ran, NULL);
	atomic_store(&gate, 1);
	while (atomic_load(&gate) != 2)
		sched_yield();
	return 0;
}

/* Starts a blocker that pushes npush tasks on ex's worker, waits until
 * it holds the worker, then queues nforeign tasks from here. */
static filch_future *hold_worker(filch_executor *ex, intptr_t npush,
				 int nforeign)
{
	filch_future *f;

	atomic_store(&gate, 0);
	if (filch_submit(ex, blocker, (void *)npush, &f) != 0)
		bail_out("submit blocker");
	while (atomic_load(&gate) != 1)
		sched_yield();
	for (int i = 0; i < nforeign; i++)
		filch_submit(ex, leaf, &jobs_ran, NULL);
	return f;
}

static void test_depths(void)
{
	filch_executor *ex = make(1, 0, 0);
	filch_future *f = hold_worker(ex, 3, 5);
	struct filch_executor_stats s = stats(ex);
	struct filch_worker_stats w = {.size = sizeof(w)};

	filch_worker_stats(ex, 0, &w);
	is(s.inject_depth, 5, "inject_depth: 5 tasks wait in the injector");
	is(s.queue_depth, 3, "queue_depth: 3 tasks wait in the deque");
	is(w.queue_depth, 3, "the worker's own queue_depth");
	is(s.submitted, 6, "submitted: 6");
	is(s.futures_pending, 8, "futures_pending: the 8 queued tasks");
	is(s.futures_running, 1, "futures_running: the blocker");
	atomic_store(&gate, 2);
	filch_future_result(f, FILCH_FOREVER, NULL);
	filch_future_release(f);
	/* A park is counted when it ends: let the worker fall asleep, then
	 * wake it with a task, until one is counted. */
	int64_t deadline = tap_now_ns() + 10 * 1000000000ll;
	int extra = 0;
	while (stats(ex).parks == 0 && tap_now_ns() < deadline) {
		usleep(10000);
		filch_submit(ex, leaf, &jobs_ran, &f);
		filch_future_result(f, FILCH_FOREVER, NULL);
		filch_future_release(f);
		extra++;
	}
	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	s = stats(ex);
	is(s.inject_depth + s.queue_depth, 0, "both empty after shutdown");
	is(s.futures_pending + s.futures_running, 0,
	   "no future pending or running after shutdown");
	is(s.tasks_run, 9 + extra, "all 9 tasks ran, and %d more", extra);
	is(s.inject_tasks, 6 + extra, "each foreign task left the injector");
	ok(s.parks >= 1 && s.park_ns > 0, "parked %llu times, %llu ns", s.parks,
	   s.park_ns);
	ok(s.wakeups_received >= 1 && s.foreign_wakeups >= 1,
	   "woken by a foreign submit: %llu received, %llu sent from outside",
	   s.wakeups_received, s.foreign_wakeups);
	filch_executor_destroy(ex);
}

static int failing(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return 7;
}

static void test_refused_caller_runs_failures(void)
{
	filch_executor *ex = make(1, 1, FILCH_FULL_FAIL);
	filch_future *f = hold_worker(ex, 0, 0);
	int refused = 0;

	for (int i = 0; i < 4; i++)
		refused += filch_submit(ex, failing, NULL, NULL) == -EAGAIN;
	is(refused, 3, "capacity 1: three of four refused");
	is(stats(ex).refused, 3, "refused counts them");
	atomic_store(&gate, 2);
	filch_future_release(f);
	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	struct filch_executor_stats s = stats(ex);
	is(s.task_failures, 1, "the accepted failing task counted once");
	is(s.tasks_run, s.submitted + s.spawned, "refused ones never counted run");
	filch_executor_destroy(ex);

	ex = make(1, 1, FILCH_FULL_CALLER_RUNS);
	f = hold_worker(ex, 0, 0);
	for (int i = 0; i < 3; i++)
		filch_submit(ex, failing, NULL, NULL);
	s = stats(ex);
	is(s.caller_ran, 2, "caller_ran: two ran in the submitter");
	is(s.task_failures, 2, "their failures counted");
	atomic_store(&gate, 2);
	filch_future_release(f);
	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	s = stats(ex);
	is(s.tasks_run, 2, "the blocker and one queued task ran on the worker");
	is(s.task_failures, 3, "three failures in all");
	filch_executor_destroy(ex);
}

static void test_discarded(void)
{
	filch_executor *ex = make(1, 0, 0);
	filch_future *f = hold_worker(ex, 2, 4);

	filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING);
	atomic_store(&gate, 2);
	filch_future_release(f);
	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	struct filch_executor_stats s = stats(ex);
	is(s.discarded, 6, "the 4 queued and 2 pushed tasks discarded");
	is(s.tasks_run + s.discarded, s.submitted + s.spawned,
	   "tasks_run + discarded = submitted + spawned");
	is(s.inject_depth, 0, "injector empty");
	filch_executor_destroy(ex);
}

static void test_fork(void)
{
	filch_executor *ex = make(1, 0, 0);
	pid_t pid = fork();

	if (pid == 0) {
		struct filch_executor_stats s = {.size = sizeof(s)};
		struct filch_worker_stats w = {.size = sizeof(w)};

		_exit(filch_executor_stats(ex, &s) == -EOWNERDEAD &&
			      filch_worker_stats(ex, 0, &w) == -EOWNERDEAD &&
			      s.workers == 0 && w.tasks_run == 0
		      ? 0
		      : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "an inherited executor: -EOWNERDEAD, output untouched");
	filch_executor_destroy(ex);
}

int main(void)
{
	tap_plan(0);
	test_bad_input();
	test_add_up(1);
	test_add_up(2);
	test_add_up(8);
	test_fj_steals();
	test_jobs_taken();
	test_depths();
	test_refused_caller_runs_failures();
	test_discarded();
	test_fork();
	return tap_done();
}
