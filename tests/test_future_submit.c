/* SPDX-License-Identifier: MIT */
/*
 * test_future_submit.c - futures of submitted tasks: results, task errors
 * and messages, fire and forget, cancel against start, on_done against
 * completion, cancellation requests, waiting from foreign threads and from
 * workers, recursive submit + result on one worker, submit after shutdown
 * and a cancelling shutdown.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <filch.h>

#include "future_helpers.h"
#include "tap.h"


/* ---- tasks ---- */

static int return_code(void *arg, void **result)
{
	(void)result;
	return (int)(intptr_t)arg;
}

static int fail_with_message(void *arg, void **result)
{
	(void)result;
	return filch_task_fail(ENOENT, "no %s #%d", (const char *)arg, 7);
}

static int fail_then_succeed(void *arg, void **result)
{
	(void)arg;
	filch_task_fail(EIO, "first message");
	filch_task_fail(EIO, "second message");
	*result = (void *)0x42;
	return 0;
}

static int count_task(void *arg, void **result)
{
	(void)result;
	atomic_fetch_add((atomic_int *)arg, 1);
	return 0;
}

static int fail_in_fire_and_forget(void *arg, void **result)
{
	(void)result;
	atomic_fetch_add((atomic_int *)arg, 1);
	return filch_task_fail(EIO, "nobody reads %s", "this");
}

/* Holds its worker (without helping: it sleeps outside filch) until the
 * gate opens. */
static int wait_gate(void *arg, void **result)
{
	(void)result;
	struct timespec ts = { 0, 100000 };
	while (!atomic_load((atomic_int *)arg))
		nanosleep(&ts, NULL);
	return 0;
}

static void test_results_and_errors(filch_executor *ex)
{
	filch_future *f = NULL;
	void *res = NULL;
	ok(filch_submit(NULL, return_arg, NULL, &f) == -EINVAL && f == NULL,
	   "submit to NULL is -EINVAL");
	ok(filch_submit(ex, NULL, NULL, &f) == -EINVAL, "submit of NULL is -EINVAL");
	ok(filch_submit(ex, NULL, NULL, NULL) == -EINVAL, "fire-and-forget NULL is -EINVAL");

	is(filch_submit(ex, return_arg, (void *)0xabc, &f), 0, "submit");
	is(filch_future_result(f, FILCH_FOREVER, &res), 0, "result");
	ok(res == (void *)0xabc, "the task's result");
	is(filch_future_state(f), FILCH_FINISHED, "FINISHED");
	filch_future_release(f);

	filch_submit(ex, return_code, (void *)(intptr_t)EPERM, &f);
	is(filch_future_result(f, FILCH_FOREVER, &res), EPERM, "a positive return is the task's code");
	filch_future_release(f);
	filch_submit(ex, return_code, (void *)(intptr_t)-EPERM, &f);
	is(filch_future_result(f, FILCH_FOREVER, &res), EPERM, "a negative return -e is taken as e");
	filch_future_release(f);

	static char file[] = "file";
	filch_submit(ex, fail_with_message, file, &f);
	int code = 0;
	const char *msg = NULL;
	is(filch_future_error(f, FILCH_FOREVER, &code, &msg), 0, "error() of a failed task");
	is(code, ENOENT, "its code");
	ok(msg && strcmp(msg, "no file #7") == 0, "its formatted message");
	filch_future_release(f);

	filch_submit(ex, fail_then_succeed, NULL, &f);
	msg = "x";
	is(filch_future_error(f, FILCH_FOREVER, &code, &msg), 0, "a task that attached messages then succeeded");
	ok(code == 0 && msg == NULL, "has no code and no message");
	filch_future_result(f, 0, &res);
	ok(res == (void *)0x42, "and its result");
	filch_future_release(f);

	is(filch_task_fail(EBUSY, "outside %s", "a task"), EBUSY,
	   "filch_task_fail outside a task returns the code");
	ok(!filch_cancel_requested(), "filch_cancel_requested outside a task is false");

	atomic_int n = 0;
	for (int i = 0; i < 1000; i++)
		if (filch_submit(ex, count_task, &n, NULL))
			break;
	ok(EVENTUALLY(atomic_load(&n) == 1000), "1000 fire-and-forget tasks ran");
	atomic_int m = 0;
	filch_submit(ex, fail_in_fire_and_forget, &m, NULL);
	ok(EVENTUALLY(atomic_load(&m) == 1), "a fire-and-forget task may call filch_task_fail");
}

/* ---- cancellation ---- */

struct ran {
	atomic_int ran;
};

static int mark_ran(void *arg, void **result)
{
	(void)result;
	atomic_store(&((struct ran *)arg)->ran, 1);
	return 0;
}

static void test_cancel_pending(filch_executor *one)
{
	filch_future *blocker, *f, *dropped;
	struct ran r = { 0 }, r_dropped = { 0 };
	atomic_int cbs = 0, gate = 0;
	filch_submit(one, wait_gate, &gate, &blocker);
	filch_submit(one, mark_ran, &r, &f);
	filch_future_on_done(f, count_cb, &cbs);
	ok(filch_future_cancel(f), "cancel of a queued task is true");
	is(atomic_load(&cbs), 1, "its callback ran at cancel");
	is(filch_future_result(f, 0, NULL), -ECANCELED, "its result is -ECANCELED");
	/* Cancelled and released before its record is taken: the record's
	 * reference is the only one then, and its runner (alone) must still
	 * find CANCELLED. */
	filch_submit(one, mark_ran, &r_dropped, &dropped);
	filch_future_cancel(dropped);
	filch_future_release(dropped);
	atomic_store(&gate, 1);
	is(filch_future_result(blocker, FILCH_FOREVER, NULL), 0, "the blocking task finished");
	/* The worker runs tasks in order: anything queued before this one
	 * has been taken by the time it completes. */
	filch_future *after;
	filch_submit(one, return_arg, NULL, &after);
	filch_future_result(after, FILCH_FOREVER, NULL);
	is(atomic_load(&r.ran), 0, "the cancelled task never ran");
	is(atomic_load(&r_dropped.ran), 0,
	   "nor one cancelled and released before its record was taken");
	is(filch_future_state(f), FILCH_CANCELLED, "and stays CANCELLED");
	filch_future_release(after);
	filch_future_release(f);
	filch_future_release(blocker);
}

static int until_cancelled(void *arg, void **result)
{
	atomic_store((atomic_int *)arg, 1);
	int64_t end = tap_now_ns() + 10000 * MS;
	while (!filch_cancel_requested())
		if (tap_now_ns() > end)
			return ETIME;
	*result = (void *)0x5;
	return ECANCELED;
}

static void test_cancel_running(filch_executor *ex)
{
	filch_future *f;
	atomic_int started = 0;
	filch_submit(ex, until_cancelled, &started, &f);
	ok(EVENTUALLY(atomic_load(&started)), "the task started");
	is(filch_future_state(f), FILCH_RUNNING, "RUNNING");
	ok(!filch_future_cancel(f), "cancel of a running task is false");
	is(filch_future_result(f, FILCH_FOREVER, NULL), ECANCELED,
	   "the task saw filch_cancel_requested and returned its code");
	is(filch_future_state(f), FILCH_FINISHED, "a running task finishes, it is not cancelled");
	filch_future_release(f);
}

struct cancel_race {
	filch_future **fs;
	bool *cancelled;
	int n;
	pthread_barrier_t go;
};

static void *cancel_all(void *arg)
{
	struct cancel_race *c = arg;
	pthread_barrier_wait(&c->go);
	for (int i = c->n - 1; i >= 0; i--) /* meet the workers halfway */
		c->cancelled[i] = filch_future_cancel(c->fs[i]);
	return NULL;
}

static void test_cancel_vs_start(filch_executor *ex)
{
	enum { N = 20000 };
	static filch_future *fs[N];
	static struct ran ran[N];
	static bool cancelled[N];
	atomic_int cbs = 0, gate = 0;
	filch_future *blockers[2];
	/* Hold the workers so that the tasks queue up, then release them
	 * while another thread cancels the tasks from the other end. */
	for (int i = 0; i < 2; i++)
		filch_submit(ex, wait_gate, &gate, &blockers[i]);
	for (int i = 0; i < N; i++) {
		atomic_init(&ran[i].ran, 0);
		if (filch_submit(ex, mark_ran, &ran[i], &fs[i]))
			bail_out("submit failed");
		filch_future_on_done(fs[i], count_cb, &cbs);
	}
	struct cancel_race c = { .fs = fs, .cancelled = cancelled, .n = N };
	pthread_barrier_init(&c.go, NULL, 2);
	pthread_t th;
	pthread_create(&th, NULL, cancel_all, &c);
	pthread_barrier_wait(&c.go);
	atomic_store(&gate, 1);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&c.go);
	for (int i = 0; i < 2; i++) {
		filch_future_result(blockers[i], FILCH_FOREVER, NULL);
		filch_future_release(blockers[i]);
	}
	int bad = 0, ncancelled = 0;
	for (int i = 0; i < N; i++) {
		int rc = filch_future_result(fs[i], FILCH_FOREVER, NULL);
		if (cancelled[i]) {
			ncancelled++;
			bad += rc != -ECANCELED;
		} else {
			bad += rc != 0 || !atomic_load(&ran[i].ran);
		}
	}
	/* Every task record gets its run() call; once the pool is idle no
	 * cancelled task may have run. */
	filch_future *last;
	filch_submit(ex, return_arg, NULL, &last);
	filch_future_result(last, FILCH_FOREVER, NULL);
	filch_future_release(last);
	for (int i = 0; i < N; i++)
		bad += cancelled[i] && atomic_load(&ran[i].ran);
	is(bad, 0, "cancel against start: exactly one wins for each of %d tasks", N);
	diag("%d of %d cancelled before they started", ncancelled, N);
	ok(EVENTUALLY(atomic_load(&cbs) == N), "every future's callback ran once");
	is(atomic_load(&cbs), N, "exactly once");
	for (int i = 0; i < N; i++)
		filch_future_release(fs[i]);
}

static void test_on_done_vs_completion(filch_executor *ex)
{
	enum { N = 20000 };
	atomic_int cbs = 0;
	for (int i = 0; i < N; i++) {
		filch_future *f;
		filch_submit(ex, return_arg, NULL, &f);
		filch_future_on_done(f, count_cb, &cbs);
		filch_future_release(f); /* drops it before it may have run */
	}
	ok(EVENTUALLY(atomic_load(&cbs) == N), "on_done racing completion: %d callbacks", N);
	is(atomic_load(&cbs), N, "each exactly once");
}

/* ---- waiting ---- */

struct waiter {
	filch_future *f;
	int rc;
	void *res;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->rc = filch_future_result(w->f, FILCH_FOREVER, &w->res);
	return NULL;
}

static void test_waiters(filch_executor *ex)
{
	enum { N = 8 };
	filch_future *f;
	atomic_int gate = 0;
	filch_submit(ex, wait_gate, &gate, &f);
	pthread_t th[N];
	struct waiter w[N];
	for (int i = 0; i < N; i++) {
		w[i] = (struct waiter){ f, -1, NULL };
		pthread_create(&th[i], NULL, waiter_main, &w[i]);
	}
	is(filch_future_result(f, 0, NULL), -ETIMEDOUT, "poll of a blocked task: -ETIMEDOUT");
	int64_t t0 = tap_now_ns();
	is(filch_future_result(f, 5 * MS, NULL), -ETIMEDOUT, "5 ms: -ETIMEDOUT");
	ok(tap_now_ns() - t0 >= 5 * MS, "not before 5 ms");
	sleep_ns(20 * MS);
	atomic_store(&gate, 1);
	int good = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		good += w[i].rc == 0;
	}
	is(good, N, "%d foreign waiters on one task all woke", N);
	filch_future_release(f);
}

/* A task waits on a promise that a foreign thread completes later: the
 * worker finds nothing to help with and must still wake. */
static void *complete_later(void *arg)
{
	sleep_ns(30 * MS);
	filch_promise_set_result(arg, (void *)0x77);
	return NULL;
}

static int wait_promise(void *arg, void **result)
{
	return filch_future_result(arg, FILCH_FOREVER, result);
}

static int wait_promise_briefly(void *arg, void **result)
{
	(void)result;
	return -filch_future_result(arg, 10 * MS, NULL);
}

static void test_worker_waits(filch_executor *ex)
{
	filch_future *p, *f;
	pthread_t th;
	filch_promise_create(&p);
	filch_submit(ex, wait_promise_briefly, p, &f);
	is(filch_future_result(f, FILCH_FOREVER, NULL), ETIMEDOUT, "a worker's wait times out too");
	filch_future_release(f);
	filch_submit(ex, wait_promise, p, &f);
	pthread_create(&th, NULL, complete_later, p);
	void *res = NULL;
	is(filch_future_result(f, FILCH_FOREVER, &res), 0,
	   "a worker waiting with nothing to help with wakes on completion");
	ok(res == (void *)0x77, "with the promise's value");
	pthread_join(th, NULL);
	filch_future_release(f);
	filch_future_release(p);
}

/* fib(n) where each call submits n-1 and n-2 and waits on them. */
struct fib_arg {
	filch_executor *ex;
	long n;
};

static int fib_task(void *arg, void **result)
{
	struct fib_arg *a = arg;
	if (a->n < 2) {
		*result = (void *)(intptr_t)a->n;
		return 0;
	}
	struct fib_arg l = { a->ex, a->n - 1 }, r = { a->ex, a->n - 2 };
	filch_future *fl, *fr;
	int rc = filch_submit(a->ex, fib_task, &l, &fl);
	if (rc)
		return -rc;
	rc = filch_submit(a->ex, fib_task, &r, &fr);
	if (rc) {
		filch_future_result(fl, FILCH_FOREVER, NULL);
		filch_future_release(fl);
		return -rc;
	}
	void *x = NULL, *y = NULL;
	int e1 = filch_future_result(fr, FILCH_FOREVER, &y);
	int e2 = filch_future_result(fl, FILCH_FOREVER, &x);
	filch_future_release(fl);
	filch_future_release(fr);
	if (e1 || e2)
		return e1 ? e1 : e2;
	*result = (void *)((intptr_t)x + (intptr_t)y);
	return 0;
}

static void test_recursive(filch_executor *one)
{
	struct fib_arg a = { one, 16 };
	filch_future *f;
	void *res = NULL;
	filch_submit(one, fib_task, &a, &f);
	is(filch_future_result(f, FILCH_FOREVER, &res), 0,
	   "recursive submit + result on one worker does not deadlock");
	is((intptr_t)res, 987, "fib(16) = 987");
	filch_future_release(f);
}

/* ---- shutdown ---- */

static void test_submit_after_shutdown(void)
{
	filch_executor *ex = make_executor(1);
	atomic_int n = 0;
	filch_future *f = (filch_future *)0x1;
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0, "shutdown");
	is(filch_submit(ex, count_task, &n, &f), -ESHUTDOWN, "submit after shutdown is -ESHUTDOWN");
	ok(f == (filch_future *)0x1, "and gives no future");
	is(filch_submit(ex, count_task, &n, NULL), -ESHUTDOWN, "fire and forget too");
	filch_executor_destroy(ex);
	is(atomic_load(&n), 0, "nothing ran");
}

static void test_cancelling_shutdown(void)
{
	enum { N = 10 };
	filch_executor *ex = make_executor(1);
	filch_future *blocker, *fs[N];
	struct ran r[N];
	atomic_int cbs = 0, gate = 0;
	filch_submit(ex, wait_gate, &gate, &blocker);
	for (int i = 0; i < N; i++) {
		atomic_init(&r[i].ran, 0);
		filch_submit(ex, mark_ran, &r[i], &fs[i]);
		filch_future_on_done(fs[i], count_cb, &cbs);
	}
	ok(EVENTUALLY(filch_future_running(blocker)), "a task is running");
	struct waiter w = { fs[N - 1], -1, NULL };
	pthread_t th;
	pthread_create(&th, NULL, waiter_main, &w);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING), 0, "cancelling shutdown");
	atomic_store(&gate, 1);
	pthread_join(th, NULL);
	is(w.rc, -ECANCELED, "a waiter on a pending task woke with -ECANCELED");
	filch_executor_destroy(ex);
	int cancelled = 0, ran = 0;
	for (int i = 0; i < N; i++) {
		cancelled += filch_future_cancelled(fs[i]);
		ran += atomic_load(&r[i].ran);
	}
	is(cancelled, N, "every pending task was cancelled");
	is(ran, 0, "none ran");
	is(atomic_load(&cbs), N, "their callbacks ran");
	is(filch_future_result(blocker, 0, NULL), 0, "the running task finished");
	for (int i = 0; i < N; i++)
		filch_future_release(fs[i]);
	filch_future_release(blocker);
}

/* A task that waits on its own future: it would wait for itself. */
static int wait_on_self(void *arg, void **result)
{
	_Atomic(filch_future *) *self = arg;
	filch_future *f;
	while (!(f = atomic_load(self)))
		sleep_ns(100000);
	int rc = filch_future_result(f, FILCH_FOREVER, NULL);
	int rc2 = filch_future_error(f, 10 * MS, NULL, NULL);
	*result = (void *)(intptr_t)rc;
	return rc2 == rc ? 0 : EPROTO;
}

static void test_wait_on_self(filch_executor *ex)
{
	_Atomic(filch_future *) self = NULL;
	filch_future *f;
	void *res = NULL;
	filch_submit(ex, wait_on_self, &self, &f);
	atomic_store(&self, f);
	is(filch_future_result(f, FILCH_FOREVER, &res), 0, "a task waiting on its own future returns");
	is((intptr_t)res, -EDEADLK, "result and error said -EDEADLK");
	filch_future_release(f);
}

static void test_cancel_requested_by_shutdown(void)
{
	filch_executor *ex = make_executor(1);
	atomic_int started = 0;
	filch_future *f;
	filch_submit(ex, until_cancelled, &started, &f);
	ok(EVENTUALLY(atomic_load(&started)), "a long task started");
	is(filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING | FILCH_SHUTDOWN_WAIT), 0,
	   "cancelling shutdown, waiting");
	is(filch_future_result(f, 0, NULL), ECANCELED,
	   "the running task saw filch_cancel_requested and finished");
	filch_executor_destroy(ex);
	filch_future_release(f);
}

/*
 * A task whose other holders all released its future before it starts runs
 * alone: start and finish take no locked instruction. What a callback, a
 * cancel or a waiter did before the release must still count, and what the
 * task publishes must reach whoever a callback hands the future to.
 */
struct alone_seen {
	atomic_int calls;
	int order[2];
	int state, code, rc;
	void *result;
	char message[32];
	_Atomic(filch_future *) handed; /* retained by the callback */
};

static void alone_record(filch_future *f, struct alone_seen *a, int which)
{
	int n = atomic_load(&a->calls);
	if (n < 2)
		a->order[n] = which;
	a->state = filch_future_state(f);
	const char *msg = NULL;
	a->rc = filch_future_error(f, 0, &a->code, &msg);
	snprintf(a->message, sizeof(a->message), "%s", msg ? msg : "");
	a->result = NULL;
	if (a->rc == 0 && a->code == 0)
		filch_future_result(f, 0, &a->result);
	atomic_fetch_add(&a->calls, 1);
}

static void alone_first(filch_future *f, void *arg)
{
	alone_record(f, arg, 1);
}

static void alone_second_hands_on(filch_future *f, void *arg)
{
	struct alone_seen *a = arg;
	alone_record(f, a, 2);
	atomic_store(&a->handed, filch_future_retain(f));
}

static int alone_fail(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return filch_task_fail(EPROTO, "alone %d", 7);
}

/* Submits fn(arg) on one behind a closed gate with both callbacks on it,
 * releases it, opens the gate and returns once the callbacks ran; then
 * the future handed on by the second callback (the caller releases it). */
static filch_future *run_alone(filch_executor *one, filch_task_fn fn,
			       void *arg, struct alone_seen *a)
{
	filch_future *blocker, *f;
	atomic_int gate = 0;
	filch_submit(one, wait_gate, &gate, &blocker);
	filch_submit(one, fn, arg, &f);
	filch_future_on_done(f, alone_first, a);	  /* the inline slot */
	filch_future_on_done(f, alone_second_hands_on, a); /* a node */
	filch_future_release(f); /* the task's reference is the only one */
	atomic_store(&gate, 1);
	filch_future_result(blocker, FILCH_FOREVER, NULL);
	filch_future_release(blocker);
	ok(EVENTUALLY(atomic_load(&a->handed) != NULL),
	   "alone: both callbacks ran");
	return atomic_load(&a->handed);
}

static int run_in_place(void *arg, void **result)
{
	(void)result;
	filch_future *f;
	filch_submit(filch_current_executor(), count_task, arg, &f);
	/* An untimed wait on a worker runs f's task here; its record stays
	 * queued and finds f FINISHED once we dropped our reference. */
	int rc = filch_future_result(f, FILCH_FOREVER, NULL);
	filch_future_release(f);
	return rc;
}

static void test_runner_alone(filch_executor *one)
{
	int payload = 5;
	atomic_int at_once = 0;
	struct alone_seen a = { 0 };
	filch_future *g = run_alone(one, return_arg, &payload, &a);
	is(atomic_load(&a.calls), 2, "alone: each callback ran once");
	ok(a.order[0] == 1 && a.order[1] == 2, "alone: in the order added");
	is(a.state, FILCH_FINISHED, "alone: callbacks see FINISHED");
	ok(a.rc == 0 && a.code == 0 && a.result == &payload,
	   "alone: and the task's result");
	is(filch_future_on_done(g, count_cb, &at_once), 0,
	   "alone: on_done by the thread it was handed to");
	is(atomic_load(&at_once), 1, "alone: runs at once (the list is closed)");
	void *r = NULL;
	ok(filch_future_result(g, 0, &r) == 0 && r == &payload,
	   "alone: the result reached the thread it was handed to");
	filch_future_release(g);

	struct alone_seen b = { 0 };
	g = run_alone(one, alone_fail, NULL, &b);
	ok(b.rc == 0 && b.code == EPROTO && !strcmp(b.message, "alone 7"),
	   "alone: a failed task's code and message");
	const char *msg = NULL;
	int code = 0;
	ok(filch_future_error(g, 0, &code, &msg) == 0 && code == EPROTO &&
		   msg && !strcmp(msg, "alone 7"),
	   "alone: its message reached the thread it was handed to");
	filch_future_release(g);

	/* Run in place by a waiter that then released it: its record runs
	 * alone and must not run the task again. */
	filch_future *f, *after;
	atomic_int twice = 0;
	filch_submit(one, run_in_place, &twice, &f);
	is(filch_future_result(f, FILCH_FOREVER, NULL), 0,
	   "alone: the waiter ran the task in place");
	filch_submit(one, return_arg, NULL, &after);
	filch_future_result(after, FILCH_FOREVER, NULL);
	is(atomic_load(&twice), 1,
	   "alone: a task run in place does not run again from its record");
	filch_future_release(after);
	filch_future_release(f);
}

/* Sets *started, then holds its worker until the gate opens. */
struct held {
	atomic_int started, gate;
};

static int held_task(void *arg, void **result)
{
	struct held *h = arg;
	atomic_store(&h->started, 1);
	return wait_gate(&h->gate, result);
}

static void *open_gate_later(void *arg)
{
	sleep_ns(50 * MS);
	atomic_store(&((struct held *)arg)->gate, 1);
	return NULL;
}

/* A task started alone (its submitter released it) whose future a timed
 * shutdown's report retains while it runs: the report's holder sleeps on
 * it and adds a callback, so the finish must not take the alone path it
 * took at the start. */
static void test_alone_then_reported(void)
{
	filch_executor *ex = make_executor(1);
	struct held h = { 0 };
	struct filch_shutdown_report *rep = NULL;
	atomic_int cbs = 0;
	filch_future *f;
	pthread_t opener;

	filch_submit(ex, held_task, &h, &f);
	filch_future_release(f); /* the task's reference is the only one */
	ok(EVENTUALLY(atomic_load(&h.started)), "reported: the task started");
	is(filch_shutdown_timed(ex, 0, 10 * MS, &rep), -ETIMEDOUT,
	   "reported: the shutdown times out on it");
	filch_future *g = rep && rep->nstragglers == 1 ?
				  rep->stragglers[0].future : NULL;
	if (!g) { /* no membarrier: nothing retained */
		skip(3, "the report names no future (membarrier refused)");
		filch_shutdown_report_free(rep);
		atomic_store(&h.gate, 1);
		filch_executor_destroy(ex);
		return;
	}
	filch_future_retain(g);
	filch_shutdown_report_free(rep);
	is(filch_future_on_done(g, count_cb, &cbs), 0,
	   "reported: on_done on the running task's future");
	pthread_create(&opener, NULL, open_gate_later, &h);
	int64_t t0 = tap_now_ns();
	int rc = filch_future_result(g, 5000 * MS, NULL);
	ok(rc == 0 && tap_now_ns() - t0 < 4000 * MS,
	   "reported: a waiter asleep on it is woken by the finish (rc %d)",
	   rc);
	ok(EVENTUALLY(atomic_load(&cbs) == 1), "reported: the callback ran");
	pthread_join(opener, NULL);
	filch_future_release(g);
	filch_executor_destroy(ex);
}

int main(void)
{
	tap_plan(0);
	filch_executor *ex = make_executor(2);
	filch_executor *one = make_executor(1);
	test_results_and_errors(ex);
	test_cancel_pending(one);
	test_cancel_running(ex);
	test_cancel_vs_start(ex);
	test_on_done_vs_completion(ex);
	test_waiters(ex);
	test_worker_waits(ex);
	test_recursive(one);
	test_wait_on_self(one);
	test_runner_alone(one);
	filch_executor_destroy(one);
	filch_executor_destroy(ex);
	test_submit_after_shutdown();
	test_cancelling_shutdown();
	test_alone_then_reported();
	test_cancel_requested_by_shutdown();
	return tap_done();
}
