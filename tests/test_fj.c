/* SPDX-License-Identifier: MIT */
/*
 * test_fj.c - the fork-join fast path (filch/fj.h): fib, nqueens and an
 * unbalanced tree at 1, 2, 3 and 8 workers, every frame run exactly once;
 * frames stolen; roots from foreign threads, from another executor's
 * worker and from inside frames and group jobs; a root discarded by a
 * cancelling shutdown; the misuses that abort (the other error returns
 * are a row of test_badinput).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>

#include <filch.h>
#include <filch/fj.h>

#include "fj_helpers.h"
#include "isolate.h"
#include "tap.h"

/* Calls of every fork-join function: each frame is run exactly once. */
static atomic_long calls;
/* Calls that ran on a thread other than their root's. */
static atomic_long elsewhere;
static _Thread_local int root_thread;

static void count_call(void)
{
	atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
	if (!root_thread)
		atomic_fetch_add_explicit(&elsewhere, 1, memory_order_relaxed);
}

/* ---- fib ---- */
FILCH_FJ_FN1(long, fib, unsigned, n)
{
	long a, b;

	count_call();
	if (n < 2)
		return n;
	FILCH_SPAWN(fib, n - 1);
	b = FILCH_CALL(fib, n - 2);
	a = FILCH_SYNC(fib);
	return a + b;
}

static long fib_seq(unsigned n)
{
	return n < 2 ? (long)n : fib_seq(n - 1) + fib_seq(n - 2);
}

struct fib_root {
	unsigned n;
	long r;
};

static void fib_root(filch_fj *fj, void *arg)
{
	struct fib_root *f = arg;

	root_thread = 1;
	f->r = fib(fj, f->n);
	root_thread = 0;
}

/* ---- nqueens: one frame per free column, synced newest first ---- */
FILCH_FJ_FN4(long, queens, unsigned, n, uint32_t, cols, uint32_t, dl,
	     uint32_t, dr)
{
	uint32_t avail = ~(cols | dl | dr) & ((1u << n) - 1);
	unsigned k = 0;
	long sum = 0;

	count_call();
	if (cols == (1u << n) - 1)
		return 1;
	for (; avail; avail &= avail - 1, k++) {
		uint32_t b = avail & -avail;

		FILCH_SPAWN(queens, n, cols | b, (dl | b) << 1, (dr | b) >> 1);
	}
	while (k--)
		sum += FILCH_SYNC(queens);
	return sum;
}

static long queens_body(filch_fj *fj)
{
	return queens(fj, 10, 0, 0, 0);
}

/* ---- an unbalanced tree: each node's child count from its hash ---- */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static unsigned kids(uint64_t node, unsigned depth)
{
	return depth >= 40 ? 0 : (unsigned)(mix(node) % 100 < 48 ? 2 : 0) +
					 (mix(node) % 7 == 0);
}

static long tree_seq(uint64_t node, unsigned depth)
{
	long sum = 1;

	for (unsigned i = 0, k = kids(node, depth); i < k; i++)
		sum += tree_seq(mix(node + i + 1), depth + 1);
	return sum;
}

FILCH_FJ_FN2(long, tree, uint64_t, node, unsigned, depth)
{
	unsigned k = kids(node, depth);
	long sum = 1;

	count_call();
	for (unsigned i = 0; i < k; i++)
		FILCH_SPAWN(tree, mix(node + i + 1), depth + 1);
	for (unsigned i = 0; i < k; i++)
		sum += FILCH_SYNC(tree);
	return sum;
}

static long tree_body(filch_fj *fj)
{
	return tree(fj, 3, 0);
}

/* A root that runs body, marking its thread. */
struct body {
	long (*fn)(filch_fj *fj);
	long r;
};

static void body_root(filch_fj *fj, void *arg)
{
	struct body *b = arg;

	root_thread = 1;
	b->r = b->fn(fj);
	root_thread = 0;
}

/* ---- answers at several worker counts ---- */
static filch_executor *make(unsigned workers)
{
	struct filch_executor_opts o = {0};
	filch_executor *ex = NULL;

	o.workers = workers;
	if (filch_executor_create(&ex, &o) != 0)
		bail_out("filch_executor_create(%u workers)", workers);
	return ex;
}

static void answers(unsigned workers)
{
	filch_executor *ex = make(workers);
	struct fib_root f = {22, 0};
	struct body q = {queens_body, 0}, t = {tree_body, 0};
	long tree_calls;

	atomic_store(&calls, 0);
	is(filch_fj_run(ex, fib_root, &f), 0, "%u workers: fib runs", workers);
	is(f.r, fib_seq(22), "%u workers: fib(22)", workers);
	is(atomic_load(&calls), 2 * fib_seq(23) - 1,
	   "%u workers: each fib frame ran once", workers);
	atomic_store(&calls, 0);
	is(filch_fj_run(ex, body_root, &q), 0, "%u workers: nqueens runs",
	   workers);
	is(q.r, 724, "%u workers: nqueens(10)", workers);
	atomic_store(&calls, 0);
	is(filch_fj_run(ex, body_root, &t), 0, "%u workers: tree runs",
	   workers);
	tree_calls = atomic_load(&calls);
	is(t.r, tree_seq(3, 0), "%u workers: the tree's nodes", workers);
	is(tree_calls, t.r, "%u workers: each tree frame ran once", workers);
	filch_executor_destroy(ex);
}

/* ---- frames do get stolen, and results come back from thieves ---- */
static void stolen(void)
{
	filch_executor *ex = make(4);
	int64_t end = tap_now_ns() + 10 * INT64_C(1000000000);
	struct fib_root f = {24, 0};
	bool right = true;

	atomic_store(&elsewhere, 0);
	do {
		right &= filch_fj_run(ex, fib_root, &f) == 0 &&
			 f.r == fib_seq(24);
	} while (atomic_load(&elsewhere) == 0 && tap_now_ns() < end);
	ok(right, "fib(24) right on every run while thieves take frames");
	ok(atomic_load(&elsewhere) > 0,
	   "some frames ran on other workers (%ld calls)",
	   atomic_load(&elsewhere));
	filch_executor_destroy(ex);
}

/* ---- one slot stolen again and again: each sync gets its own result ---- */

/* Leaves that ran on another worker than their spawner. */
static atomic_long reuse_stolen;

/* About 20 microseconds of work; returns 3 i + 1 (i < 0: nothing spawned
 * it, the spawner's own share of the work). */
FILCH_FJ_FN2(long, reuse_leaf, long, i, int, spawner)
{
	int64_t end = tap_now_ns() + 20 * 1000;

	while (tap_now_ns() < end)
		;
	if (i >= 0 && filch_current_worker() != spawner)
		atomic_fetch_add(&reuse_stolen, 1);
	return 3 * i + 1;
}

/* n rounds of spawn, work, sync on the same slot: the idle worker takes
 * most frames (a sync that found its frame stolen shares the next spawn at
 * once), so the slot is used by one thief after another. Returns the syncs
 * that got another result than their frame's. */
FILCH_FJ_FN1(long, reuse_loop, long, n)
{
	int me = filch_current_worker();
	long wrong = 0;

	for (long i = 0; i < n; i++) {
		FILCH_SPAWN(reuse_leaf, i, me);
		FILCH_CALL(reuse_leaf, -1, me);
		wrong += FILCH_SYNC(reuse_leaf) != 3 * i + 1;
	}
	return wrong;
}

static void reuse_root(filch_fj *fj, void *arg)
{
	*(long *)arg = reuse_loop(fj, 500);
}

static void slot_reuse(void)
{
	filch_executor *ex = make(2);
	long wrong = -1;

	atomic_store(&reuse_stolen, 0);
	is(filch_fj_run(ex, reuse_root, &wrong), 0, "slot reuse: runs");
	if (atomic_load(&reuse_stolen) == 0)
		skip(1, "slot reuse: the other worker stole nothing");
	else
		is(wrong, 0, "every sync of a slot stolen %ld times in 500 got "
			     "its own frame's result",
		   atomic_load(&reuse_stolen));
	filch_executor_destroy(ex);
}

/* ---- an idle worker finds shared frames, and is woken for them ---- */

FILCH_FJ_FN1(long, tick, int, x)
{
	return x;
}

/* Spawns and syncs at once until the deadline: each frame is shared at a
 * thief's request and mostly taken back, so a thief finds nothing and
 * parks while this worker keeps spawning. */
FILCH_FJ_FN1(long, churn, int64_t, until)
{
	long n = 0;

	while (tap_now_ns() < until) {
		FILCH_SPAWN(tick, 1);
		n += FILCH_SYNC(tick);
	}
	return n;
}

static void churn_then_spread(filch_fj *fj, void *arg)
{
	long *r = arg;

	churn(fj, tap_now_ns() + 20 * INT64_C(1000000));
	*r = fj_spread(fj, 10);
}

static void idle_finds_frames(void)
{
	filch_executor *ex = make(2);
	long r = 0;

	fj_leaf_ns = 50 * 1000;
	atomic_store(&fj_leaf_workers, 0);
	is(filch_fj_run(ex, churn_then_spread, &r), 0,
	   "a tree after 20 ms of spawns taken back");
	is(r, 1024L, "its 1024 leaves");
	/* Spares may run leaves too, once a sync waits for a thief. */
	ok(__builtin_popcount(atomic_load(&fj_leaf_workers)) >= 2,
	   "leaves ran on more than one worker (mask %#x): the idle one was "
	   "woken for the frames shared after it parked",
	   atomic_load(&fj_leaf_workers));
	filch_executor_destroy(ex);
}

/* ---- roots from several foreign threads at once ---- */
static filch_executor *shared_ex;

static void *foreign(void *arg)
{
	struct fib_root *f = arg;

	for (int i = 0; i < 20 && f->r >= 0; i++)
		if (filch_fj_run(shared_ex, fib_root, f) != 0 ||
		    f->r != fib_seq(f->n))
			f->r = -1;
	return NULL;
}

static void foreign_threads(void)
{
	struct fib_root f[4];
	pthread_t th[4];
	bool right = true;

	shared_ex = make(3);
	for (int i = 0; i < 4; i++) {
		f[i].n = 15 + (unsigned)i;
		f[i].r = 0;
		pthread_create(&th[i], NULL, foreign, &f[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		right &= f[i].r == fib_seq(f[i].n);
	}
	ok(right, "four foreign threads, 20 roots each, all right");
	filch_executor_destroy(shared_ex);
}

/* ---- a stolen frame still running is named by a timed shutdown ---- */

/* filch_current_worker() + 1 of the thread that runs held; the root's. */
static atomic_int held_on, held_root_on, held_release;

FILCH_FJ_FN1(long, held, int, x)
{
	atomic_store(&held_on, filch_current_worker() + 1);
	while (!atomic_load(&held_release))
		sched_yield();
	return x;
}

/* Spins (up to 10 s) until held runs, which a thief must then do. */
FILCH_FJ_FN1(long, until_held, int, x)
{
	int64_t end = tap_now_ns() + 10 * INT64_C(1000000000);

	while (!atomic_load(&held_on) && tap_now_ns() < end)
		sched_yield();
	return x;
}

FILCH_FJ_FN1(long, hold, int, x)
{
	long r;

	atomic_store(&held_root_on, filch_current_worker() + 1);
	FILCH_SPAWN(held, x);
	r = FILCH_CALL(until_held, x);
	return r + FILCH_SYNC(held);
}

static void held_root(filch_fj *fj, void *arg)
{
	*(long *)arg = hold(fj, 1);
}

static void *run_held(void *arg)
{
	long *r = arg;

	if (filch_fj_run(shared_ex, held_root, r) != 0)
		*r = -1;
	return NULL;
}

static void stolen_named(void)
{
	struct filch_shutdown_report *rep = NULL;
	int64_t end = tap_now_ns() + 10 * INT64_C(1000000000);
	const struct filch_straggler *st = NULL;
	pthread_t th;
	long r = 0;
	int rc;

	shared_ex = make(2);
	pthread_create(&th, NULL, run_held, &r);
	while (!atomic_load(&held_on) && tap_now_ns() < end)
		usleep(1000);
	rc = filch_shutdown_timed(shared_ex, 0, 20 * INT64_C(1000000), &rep);
	is(rc, -ETIMEDOUT, "a timed shutdown while a stolen frame runs");
	for (size_t i = 0; rc == -ETIMEDOUT && i < rep->nstragglers; i++)
		if (rep->stragglers[i].fn == FILCH_FJ_RUNNER(held))
			st = &rep->stragglers[i];
	ok(st && (int)st->worker + 1 == atomic_load(&held_on) &&
		   atomic_load(&held_on) != atomic_load(&held_root_on) &&
		   !st->future && !st->name,
	   "the report names it by FILCH_FJ_RUNNER on its thief (worker "
	   "%d, root on %d)",
	   atomic_load(&held_on) - 1, atomic_load(&held_root_on) - 1);
	filch_shutdown_report_free(rep);
	atomic_store(&held_release, 1);
	pthread_join(th, NULL);
	is(r, 2L, "the frame's result reaches its owner");
	filch_executor_destroy(shared_ex);
}

/* ---- nesting: a root inside a group job inside a frame, and a root from
 * a worker of another executor ---- */
static filch_executor *nest_ex;

static int job_with_root(void *arg)
{
	struct fib_root *f = arg;

	return filch_fj_run(nest_ex, fib_root, f);
}

FILCH_FJ_FN1(long, grouped, unsigned, n)
{
	struct fib_root f[3] = {{n, 0}, {n + 1, 0}, {n + 2, 0}};
	filch_group g;
	long a;

	FILCH_SPAWN(fib, n);
	filch_group_init(&g, nest_ex);
	for (int i = 0; i < 3; i++)
		if (filch_group_spawn(&g, job_with_root, &f[i]) != 0)
			return -1;
	if (filch_group_wait(&g) != 0)
		return -1;
	a = FILCH_SYNC(fib);
	return a + f[0].r + f[1].r + f[2].r;
}

static void grouped_root(filch_fj *fj, void *arg)
{
	*(long *)arg = grouped(fj, 12);
}

static int other_task(void *arg, void **result)
{
	struct fib_root *f = arg;

	(void)result;
	return -filch_fj_run(nest_ex, fib_root, f);
}

static void nesting(void)
{
	filch_executor *other = make(2);
	struct fib_root f = {18, 0};
	filch_future *fut = NULL;
	long r = 0;
	int code = -1;

	nest_ex = make(3);
	is(filch_fj_run(nest_ex, grouped_root, &r), 0, "frames around groups");
	is(r, fib_seq(12) + fib_seq(12) + fib_seq(13) + fib_seq(14),
	   "a group's jobs start roots inside a frame");
	is(filch_submit(other, other_task, &f, &fut), 0,
	   "submit to another executor");
	is(filch_future_error(fut, FILCH_FOREVER, &code, NULL), 0,
	   "the task finished");
	is(code, 0, "a root from its worker");
	is(f.r, fib_seq(18), "its answer");
	filch_future_release(fut);
	filch_executor_destroy(other);
	filch_executor_destroy(nest_ex);
}

/* ---- a root discarded by a cancelling shutdown ---- */
static atomic_int release_blocker, root_ran;

static int blocker(void *arg, void **result)
{
	(void)arg;
	(void)result;
	while (!atomic_load(&release_blocker))
		sched_yield();
	return 0;
}

static void count_root(filch_fj *fj, void *arg)
{
	(void)fj;
	(void)arg;
	atomic_store(&root_ran, 1);
}

static void *queue_root(void *arg)
{
	*(int *)arg = filch_fj_run(shared_ex, count_root, NULL);
	return NULL;
}

static void discarded_root(void)
{
	pthread_t th;
	int rc = 1;

	shared_ex = make(1);
	filch_submit(shared_ex, blocker, NULL, NULL); /* holds the worker */
	pthread_create(&th, NULL, queue_root, &rc);
	usleep(100 * 1000); /* the root is queued behind the blocker */
	filch_shutdown(shared_ex, FILCH_SHUTDOWN_CANCEL_PENDING);
	atomic_store(&release_blocker, 1);
	pthread_join(th, NULL);
	ok(rc == -ECANCELED || rc == -ESHUTDOWN,
	   "a root discarded by a cancelling shutdown: %d (-ECANCELED, or "
	   "-ESHUTDOWN if it came too late to be queued)",
	   rc);
	ok(!atomic_load(&root_ran), "the discarded root never ran");
	filch_executor_destroy(shared_ex);
}

/* ---- misuse that aborts (each in a child) ---- */
FILCH_FJ_FN1(long, unsynced, unsigned, n)
{
	if (n)
		FILCH_SPAWN(unsynced, n - 1);
	return 0;
}

static void unsynced_root(filch_fj *fj, void *arg)
{
	(void)arg;
	unsynced(fj, 1);
}

FILCH_FJ_FN1(long, oversynced, unsigned, n)
{
	return n ? FILCH_SYNC(oversynced) : 0;
}

static void oversynced_root(filch_fj *fj, void *arg)
{
	(void)arg;
	oversynced(fj, 1);
}

FILCH_FJ_FN1(long, flood_leaf, unsigned, n)
{
	return n;
}

/* Spawns one frame more than a frame stack holds, then syncs them all:
 * only the spawn's check of a full stack can abort here. */
FILCH_FJ_FN1(long, flood, unsigned, n)
{
	long sum = 0;

	for (unsigned i = 0; i <= FILCH_FJ_DEPTH; i++)
		FILCH_SPAWN(flood_leaf, n);
	for (unsigned i = 0; i <= FILCH_FJ_DEPTH; i++)
		sum += FILCH_SYNC(flood_leaf);
	return sum;
}

static void flood_root(filch_fj *fj, void *arg)
{
	(void)arg;
	flood(fj, 0);
}

static const filch_fj_root_fn misuses[] = {unsynced_root, oversynced_root,
					   flood_root};

static int misuse_case(void *arg)
{
	const filch_fj_root_fn *fn = arg;
	filch_executor *ex = make(1);

	filch_fj_run(ex, *fn, NULL);
	return 0; /* not reached */
}

static void misuse(void)
{
	char why[128];

	ok(isolate_run(misuse_case, (void *)&misuses[0], 30, why,
		       sizeof(why)) != 0 &&
		   strstr(why, "signal 6"),
	   "a function returning with a spawn not synced aborts (%s)", why);
	ok(isolate_run(misuse_case, (void *)&misuses[1], 30, why,
		       sizeof(why)) != 0 &&
		   strstr(why, "signal 6"),
	   "a sync without a spawn aborts (%s)", why);
	ok(isolate_run(misuse_case, (void *)&misuses[2], 30, why,
		       sizeof(why)) != 0 &&
		   strstr(why, "signal 6"),
	   "a spawn beyond FILCH_FJ_DEPTH frames aborts (%s)", why);
}

int main(void)
{
	static const unsigned counts[] = {1, 2, 3, 8};

	tap_plan(3 + 4 * 8 + 2 + 2 + 3 + 3 + 1 + 6 + 2);
	misuse(); /* first: isolate_run forks a single-threaded process */
	for (unsigned i = 0; i < 4; i++)
		answers(counts[i]);
	stolen();
	slot_reuse();
	idle_finds_frames();
	foreign_threads();
	stolen_named();
	nesting();
	discarded_root();
	return tap_done();
}
