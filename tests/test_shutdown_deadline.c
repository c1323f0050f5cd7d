/* SPDX-License-Identifier: MIT */
/* test_shutdown_deadline.c - filch_shutdown_timed: the deadline, the
 * stragglers' report (worker, function, name, future, how long), the
 * queued count, waiting again, cancelling, spares, nested tasks, reports
 * taken while tasks finish, bad input. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filch.h>

#include "runtime/atomic.h" /* FILCH_TSAN */
#ifdef FILCH_FAULT_INJECTION
#include "runtime/fault_ctl.h"
#endif
#include "tap.h"

#define MS 1000000LL
#define LONG_WAIT_NS (10 * 1000 * MS) /* "eventually" in tests */
/* Above the deadline, a timed call returns within the scheduling latency
 * of a wake-up; this machine is shared and noisy, so the bound is loose
 * (the overshoot is printed). */
#define SLACK_NS (500 * MS)

typedef void (*any_fn)(void);

/* Tasks with external linkage, so that dladdr can name them. */
int straggler_task(void *arg, void **result);
int quick_task(void *arg, void **result);
int outer_task(void *arg, void **result);
int short_task(void *arg, void **result);
int feeder_task(void *arg, void **result);
int self_shutdown_task(void *arg, void **result);
int straggler_job(void *arg);

/* A straggler: announces that it runs, then blocks on a pipe until the
 * test writes to it, ignoring filch_cancel_requested() meanwhile. Not
 * static: with -export-dynamic, dladdr names it. */
struct gate {
	int fd[2];
	_Atomic int started;
	_Atomic int saw_cancel;
	int64_t started_ns;
};

int straggler_task(void *arg, void **result)
{
	struct gate *g = arg;
	char c;

	g->started_ns = tap_now_ns();
	atomic_store(&g->started, 1);
	while (read(g->fd[0], &c, 1) < 0 && errno == EINTR)
		;
	atomic_store(&g->saw_cancel, filch_cancel_requested());
	*result = (void *)(uintptr_t)42;
	return 0;
}

int quick_task(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return 0;
}

static void gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	if (pipe(g->fd) != 0)
		tap_bail("pipe: %s", strerror(errno));
}

static void gate_wait_started(struct gate *g)
{
	int64_t end = tap_now_ns() + LONG_WAIT_NS;

	while (!atomic_load(&g->started))
		if (tap_now_ns() > end)
			tap_bail("the straggler never started");
		else
			sched_yield();
}

static void gate_open(struct gate *g)
{
	if (write(g->fd[1], "x", 1) != 1)
		tap_bail("write: %s", strerror(errno));
}

static void gate_close(struct gate *g)
{
	close(g->fd[0]);
	close(g->fd[1]);
}

static filch_executor *make(unsigned workers)
{
	struct filch_executor_opts o = {.workers = workers};
	filch_executor *ex = NULL;

	if (filch_executor_create(&ex, &o) != 0)
		tap_bail("filch_executor_create");
	return ex;
}

/* A new executor of workers threads, running a straggler on g (with a
 * future in *f unless f is NULL). */
static filch_executor *start(unsigned workers, struct gate *g, filch_future **f)
{
	filch_executor *ex = make(workers);

	gate_init(g);
	ok(filch_submit(ex, straggler_task, g, f) == 0, "straggler submitted");
	gate_wait_started(g);
	return ex;
}

static void finish(filch_executor *ex, filch_future *f, struct gate *g)
{
	filch_future_release(f);
	is(filch_executor_destroy(ex), 0, "destroy");
	gate_close(g);
}

static void on_done_flag(filch_future *f, void *arg)
{
	(void)f;
	atomic_store((_Atomic int *)arg, 1);
}

/* One straggler and 50 tasks that finish: -ETIMEDOUT after the timeout
 * (never before), a report naming exactly the straggler; its future
 * completes later and runs its callback; a second call then returns 0. */
static void test_straggler_named(void)
{
	const int64_t timeout = 100 * MS;
	struct filch_shutdown_report *r = NULL;
	filch_future *f = NULL, *quick[50];
	_Atomic int called = 0;
	struct gate g;
	void *res = NULL;
	filch_executor *ex = start(2, &g, &f);

	for (int i = 0; i < 50; i++)
		if (filch_submit(ex, quick_task, NULL, &quick[i]) != 0)
			tap_bail("submit");

	int64_t t0 = tap_now_ns();
	int rc = filch_shutdown_timed(ex, 0, timeout, &r);
	int64_t took = tap_now_ns() - t0;

	is(rc, -ETIMEDOUT, "a straggler: -ETIMEDOUT");
	ok(took >= timeout, "not before the timeout (%lld ns)", (long long)took);
	ok(took <= timeout + SLACK_NS, "soon after it: %lld ms over",
	   (long long)((took - timeout) / MS));
	if (!ok(r != NULL, "a report") )
		tap_bail("no report");
	is(r->nstragglers, 1, "exactly one straggler");
	is(r->queued, 0, "nothing queued: the others finished");
	struct filch_straggler *s = &r->stragglers[0];
	ok(s->worker < 2, "its worker: %u", s->worker);
	is(s->depth, 0, "taken by its worker, not nested");
	ok(s->fn == (any_fn)straggler_task, "its function's address");
	ok(s->name && strcmp(s->name, "straggler_task") == 0,
	   "its name from dladdr: %s", s->name ? s->name : "(null)");
	ok(s->future == f, "its future");
	ok(s->running_ns > 0 && s->running_ns >= timeout / 2,
	   "running since the call began, at least: %lld ms",
	   (long long)(s->running_ns / MS));
	ok(s->running_ns <= tap_now_ns() - g.started_ns,
	   "no longer than it really ran");
	int done = 0;

	for (int i = 0; i < 50; i++) {
		done += filch_future_done(quick[i]);
		filch_future_release(quick[i]);
	}
	is(done, 50, "the quick tasks ran");
	ok(!filch_future_done(f), "the straggler still runs");
	is(filch_future_on_done(f, on_done_flag, (void *)&called), 0,
	   "a callback on the reported future");
	gate_open(&g);
	is(filch_future_result(f, LONG_WAIT_NS, &res), 0,
	   "the straggler's future completes");
	ok(res == (void *)(uintptr_t)42, "with its result");
	ok(!atomic_load(&g.saw_cancel), "no cancellation asked");

	struct filch_shutdown_report *r2 = (void *)&r2;

	is(filch_shutdown_timed(ex, 0, LONG_WAIT_NS, &r2), 0,
	   "a second timed call: drained");
	ok(r2 == NULL, "no report then");
	/* The completing worker runs it, maybe after the result is out; it
	 * has exited now. */
	ok(atomic_load(&called), "its callback ran");
	filch_shutdown_report_free(r); /* drops the report's reference */
	ok(filch_future_done(f), "the future outlives the report");
	finish(ex, f, &g);
}

/* One worker, blocked; five tasks queued behind it. The first call counts
 * them; a second with CANCEL_PENDING cancels them, still reports the
 * straggler (seen by the first call: running since then), which now sees
 * filch_cancel_requested(); filch_shutdown(WAIT) then waits it out. */
static void test_cancel_pending_one_worker(void)
{
	struct filch_shutdown_report *r = NULL;
	filch_future *f = NULL, *q[5];
	struct gate g;
	filch_executor *ex = start(1, &g, &f);

	for (int i = 0; i < 5; i++)
		if (filch_submit(ex, quick_task, NULL, &q[i]) != 0)
			tap_bail("submit");
	int64_t t0 = tap_now_ns();

	is(filch_shutdown_timed(ex, 0, 20 * MS, &r), -ETIMEDOUT,
	   "one worker, blocked: -ETIMEDOUT");
	ok(tap_now_ns() - t0 >= 20 * MS, "not before the timeout");
	is(r->queued, 5, "the five tasks still queued");
	is(r->nstragglers, 1, "one straggler");
	ok(r->stragglers[0].future == f && r->stragglers[0].worker == 0,
	   "the straggler, on worker 0");
	filch_shutdown_report_free(r);
	r = NULL;
	int pending = 0;

	for (int i = 0; i < 5; i++)
		pending += !filch_future_done(q[i]);
	is(pending, 5, "the queued tasks are still pending");

	is(filch_shutdown_timed(ex, FILCH_SHUTDOWN_CANCEL_PENDING, 20 * MS, &r),
	   -ETIMEDOUT, "CANCEL_PENDING: the straggler still runs");
	ok(tap_now_ns() - t0 >= 40 * MS, "the second timeout waited too");
	is(r->queued, 0, "nothing queued any more");
	int cancelled = 0;

	for (int i = 0; i < 5; i++)
		cancelled += filch_future_cancelled(q[i]);
	is(cancelled, 5, "the queued tasks were cancelled");
	is(r->nstragglers, 1, "the straggler is still reported");
	ok(r->stragglers[0].future == f, "with its future");
	ok(r->stragglers[0].running_ns >= 20 * MS,
	   "running since the first call's first look: %lld ms",
	   (long long)(r->stragglers[0].running_ns / MS));
	filch_shutdown_report_free(r);
	gate_open(&g);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0,
	   "filch_shutdown(WAIT) after -ETIMEDOUT");
	ok(atomic_load(&g.saw_cancel), "the straggler saw the cancellation");
	ok(filch_future_done(f) && !filch_future_cancelled(f),
	   "and finished normally");
	for (int i = 0; i < 5; i++)
		filch_future_release(q[i]);
	finish(ex, f, &g);
}

/* A fire-and-forget straggler: reported without a future. */
static void test_fire_and_forget(void)
{
	struct filch_shutdown_report *r = NULL;
	struct gate g;
	filch_executor *ex = start(2, &g, NULL);

	is(filch_shutdown_timed(ex, 0, 10 * MS, &r), -ETIMEDOUT, "-ETIMEDOUT");
	is(r->nstragglers, 1, "one straggler");
	ok(r->stragglers[0].fn == (any_fn)straggler_task, "its function");
	ok(r->stragglers[0].future == NULL, "no future");
	filch_shutdown_report_free(r);
	gate_open(&g);
	is(filch_shutdown_timed(ex, 0, FILCH_FOREVER, NULL), 0,
	   "FILCH_FOREVER waits it out (report NULL)");
	finish(ex, NULL, &g);
}

/* A group job as straggler: reported with its function, no future. */
int straggler_job(void *arg)
{
	void *ignored;

	return straggler_task(arg, &ignored);
}

static void test_group_job(void)
{
	struct filch_shutdown_report *r = NULL;
	filch_executor *ex = make(2);
	filch_group grp;
	struct gate g;

	gate_init(&g);
	filch_group_init(&grp, ex);
	ok(filch_group_spawn(&grp, straggler_job, &g) == 0, "job spawned");
	gate_wait_started(&g);
	is(filch_shutdown_timed(ex, 0, 10 * MS, &r), -ETIMEDOUT, "-ETIMEDOUT");
	is(r->nstragglers, 1, "one straggler");
	ok(r->stragglers[0].fn == (any_fn)straggler_job &&
		   r->stragglers[0].future == NULL && r->stragglers[0].depth == 0,
	   "the group job: its function, no future");
	ok(r->stragglers[0].name && !strcmp(r->stragglers[0].name, "straggler_job"),
	   "named");
	filch_shutdown_report_free(r);
	gate_open(&g);
	is(filch_group_wait(&grp), 0, "the job finishes");
	finish(ex, NULL, &g);
}

/* A task that waits for a straggler it submitted: with a timeout, it
 * sleeps and a spare runs the straggler; without, it runs it in place
 * (nested). Either way both are reported. */
struct outer_arg {
	struct gate *g;
	int64_t timeout; /* for its wait */
	filch_future *inner;
	_Atomic int submitted;
};

int outer_task(void *arg, void **result)
{
	struct outer_arg *a = arg;
	filch_future *f = NULL;
	int rc = filch_submit(filch_current_executor(), straggler_task, a->g, &f);

	(void)result;
	if (rc)
		return -rc;
	a->inner = f;
	atomic_store(&a->submitted, 1);
	rc = filch_future_result(f, a->timeout, result);
	return rc < 0 ? -rc : rc;
}

static void test_waiting_outer(int64_t timeout, bool spare)
{
	filch_executor *ex = make(1);
	struct filch_shutdown_report *r = NULL;
	struct outer_arg a = {.timeout = timeout};
	filch_future *f = NULL;
	struct gate g;
	const char *how = spare ? "spare" : "nested";

	gate_init(&g);
	a.g = &g;
	ok(filch_submit(ex, outer_task, &a, &f) == 0, "%s: outer submitted", how);
	gate_wait_started(&g);
	is(filch_shutdown_timed(ex, 0, 10 * MS, &r), -ETIMEDOUT,
	   "%s: -ETIMEDOUT", how);
	is(r->nstragglers, 2, "%s: both tasks reported", how);
	for (size_t i = 0; i < r->nstragglers; i++)
		tap_diag("%s: worker %u depth %u %s", how, r->stragglers[i].worker,
			 r->stragglers[i].depth,
			 r->stragglers[i].name ? r->stragglers[i].name : "?");
	if (r->nstragglers == 2) {
		struct filch_straggler *o = &r->stragglers[0],
				       *in = &r->stragglers[1];

		if (spare) {
			ok(o->worker == 0 && o->depth == 0 &&
				   o->fn == (any_fn)outer_task && o->future == f,
			   "spare: the waiting task on worker 0");
			ok(in->worker >= 1 && in->depth == 0 &&
				   in->fn == (any_fn)straggler_task &&
				   in->future == a.inner,
			   "spare: the straggler on a spare (index >= workers)");
		} else {
			/* innermost first */
			ok(o->worker == 0 && o->depth == 1 &&
				   o->fn == (any_fn)straggler_task &&
				   o->future == a.inner,
			   "nested: the straggler, run in place, depth 1");
			ok(in->worker == 0 && in->depth == 0 &&
				   in->fn == (any_fn)outer_task && in->future == f,
			   "nested: the task that waits for it, depth 0");
		}
	}
	filch_shutdown_report_free(r);
	gate_open(&g);
	is(filch_shutdown_timed(ex, 0, LONG_WAIT_NS, NULL), 0, "%s: drained", how);
	void *res = NULL;

	is(filch_future_result(f, 0, &res), 0, "%s: outer finished", how);
	ok(res == (void *)(uintptr_t)42, "%s: with the straggler's result", how);
	filch_future_release(a.inner);
	finish(ex, f, &g);
}

/* Reports taken again and again while a feeder task keeps submitting
 * short tasks (children may be submitted while the pool drains) whose
 * futures the workers free as they finish (the feeder released them at
 * once), on four workers: every reported future must be alive and
 * retained (the ASan and TSan builds check the memory). */
int short_task(void *arg, void **result)
{
	(void)result;
	for (volatile int i = 0; i < (int)(uintptr_t)arg; i++)
		;
	return 0;
}

static _Atomic int feeder_stop;

int feeder_task(void *arg, void **result)
{
	filch_executor *ex = filch_current_executor();

	(void)arg;
	(void)result;
	for (unsigned i = 0; !atomic_load(&feeder_stop) && i < 1000000; i++) {
		filch_future *f = NULL;
		void *spin = (void *)(uintptr_t)(i % 20000);

		if (filch_submit(ex, short_task, spin, i % 3 ? &f : NULL) != 0)
			return 1;
		filch_future_release(f);
		if (i % 64 == 0)
			sched_yield();
	}
	return 0;
}

static void test_concurrent_reports(void)
{
	unsigned reports = 0, seen = 0, shorts = 0, bad = 0;
	struct gate g;
	filch_executor *ex = start(4, &g, NULL);

	ok(filch_submit(ex, feeder_task, NULL, NULL) == 0, "feeder");
	for (int64_t end = tap_now_ns() + 300 * MS; tap_now_ns() < end;) {
		struct filch_shutdown_report *r = NULL;
		int rc = filch_shutdown_timed(ex, 0, 0, &r);

		if (rc != -ETIMEDOUT) {
			bad++;
			break;
		}
		reports++;
		for (size_t i = 0; i < r->nstragglers; i++) {
			struct filch_straggler *s = &r->stragglers[i];

			seen++;
			shorts += s->fn == (any_fn)short_task;
			if (s->fn != (any_fn)straggler_task &&
			    s->fn != (any_fn)short_task &&
			    s->fn != (any_fn)feeder_task)
				bad++;
			/* The report's reference keeps it alive. */
			if (s->future && (filch_future_state(s->future) < 0 ||
					  !filch_future_retain(s->future)))
				bad++;
			filch_future_release(s->future);
		}
		filch_shutdown_report_free(r);
	}
	atomic_store(&feeder_stop, 1);
	is(bad, 0, "%u reports, %u stragglers (%u short tasks) while tasks "
	   "finished", reports, seen, shorts);
	gate_open(&g);
	is(filch_shutdown_timed(ex, 0, LONG_WAIT_NS, NULL), 0, "drained");
	finish(ex, NULL, &g);
}

struct deadlk_arg {
	int rc;
	struct filch_shutdown_report *r;
};

int self_shutdown_task(void *arg, void **result)
{
	struct deadlk_arg *a = arg;

	(void)result;
	a->rc = filch_shutdown_timed(filch_current_executor(), 0, 1000 * MS,
				     &a->r);
	return 0;
}

static void test_bad_input(void)
{
	struct filch_shutdown_report *sentinel = (void *)&sentinel, *r = sentinel;
	filch_executor *ex = make(1);
	filch_future *f = NULL;

	is(filch_shutdown_timed(NULL, 0, 0, &r), -EINVAL, "NULL ex: -EINVAL");
	ok(r == sentinel, "report untouched");
	is(filch_shutdown_timed(ex, 8, 0, &r), -EINVAL, "unknown flag: -EINVAL");
	ok(r == sentinel, "report untouched");
	ok(filch_submit(ex, quick_task, NULL, NULL) == 0,
	   "-EINVAL began no shutdown");

#ifdef FILCH_TSAN
	/* urcu's fork hook starts a thread in the child: TSan kills it. */
	tap_skip(1, "TSan cannot start threads in the child of a fork");
#else
	pid_t pid = fork();

	if (pid == 0) {
		int rc = filch_shutdown_timed(ex, 0, 0, &r);

		_exit(rc == -EOWNERDEAD && r == sentinel ? 0 : 1);
	}
	int status = 1;

	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "in a child of fork(): -EOWNERDEAD, report untouched");
#endif

	struct deadlk_arg a = {.rc = 1, .r = sentinel};

	ok(filch_submit(ex, self_shutdown_task, &a, &f) == 0, "submitted");
	filch_future_result(f, LONG_WAIT_NS, NULL);
	is(a.rc, -EDEADLK, "from its own worker: -EDEADLK");
	ok(a.r == sentinel, "report untouched");
	is(filch_submit(ex, quick_task, NULL, NULL), -ESHUTDOWN,
	   "the shutdown began all the same");
	filch_future_release(f);
	r = sentinel;
	is(filch_shutdown_timed(ex, FILCH_SHUTDOWN_WAIT, FILCH_FOREVER, &r), 0,
	   "idle pool, WAIT flag accepted: 0");
	ok(r == NULL, "report NULL");
	r = sentinel;
	is(filch_shutdown_timed(ex, 0, 0, &r), 0, "after the join: 0 at once");
	ok(r == NULL, "report NULL");
	filch_shutdown_report_free(NULL);
	is(filch_executor_destroy(ex), 0, "destroy after a timed shutdown");
}

#ifdef FILCH_FAULT_INJECTION
/* The report cannot be allocated: -ENOMEM, report untouched, the
 * straggler's future not leaked; a later call gets the report. */
static void test_enomem(void)
{
	struct filch_shutdown_report *sentinel = (void *)&sentinel, *r = sentinel;
	filch_future *f = NULL;
	struct gate g;
	filch_executor *ex = start(1, &g, &f);

	filch__fault_reset();
	filch__fault_arm(FILCH__FAULT_ALLOC, 1, true);
	is(filch_shutdown_timed(ex, 0, 10 * MS, &r), -ENOMEM,
	   "no memory for the report: -ENOMEM");
	filch__fault_reset();
	ok(r == sentinel, "report untouched");
	is(filch_shutdown_timed(ex, 0, 10 * MS, &r), -ETIMEDOUT,
	   "a later call reports");
	ok(r != sentinel && r->nstragglers == 1 && r->stragglers[0].future == f,
	   "the straggler");
	filch_shutdown_report_free(r);
	gate_open(&g);
	finish(ex, f, &g);
}
#endif

int main(void)
{
	tap_plan(0);
	test_straggler_named();
	test_cancel_pending_one_worker();
	test_fire_and_forget();
	test_group_job();
	test_waiting_outer(LONG_WAIT_NS, true);
	test_waiting_outer(FILCH_FOREVER, false);
	test_concurrent_reports();
	test_bad_input();
#ifdef FILCH_FAULT_INJECTION
	test_enomem();
#endif
	return tap_done();
}
