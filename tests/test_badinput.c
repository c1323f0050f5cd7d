/* SPDX-License-Identifier: MIT */
/*
 * test_badinput.c - one TAP test per row of the misuse table in docs/api.md
 * ("Misuse and what filch does"): each misuse gets its documented answer and
 * loses nothing (no crash, no leak, no future without an outcome, no waiter
 * left asleep). Each row runs in its own child process (tests/isolate.h), so
 * a crash, hang or leak fails that row only; in an ASan build LeakSanitizer
 * checks every row.
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <filch.h>
#include <filch/fj.h>

#include "isolate.h"
#include "tap.h"

/* Fails the current row with a reason (reported by the parent). */
#define EXPECT(cond, fmt, ...)                                               \
	do {                                                                 \
		if (!(cond)) {                                               \
			isolate_note("line %d: " fmt, __LINE__, ##__VA_ARGS__); \
			return __LINE__;                                     \
		}                                                            \
	} while (0)
#define EXPECT_RC(call, want)                                                  \
	do {                                                                   \
		int rc_ = (call);                                              \
		if (rc_ != (want)) {                                           \
			isolate_note("line %d: %s returned %d (%s), want %s", \
				     __LINE__, #call, rc_,                     \
				     filch_strerror(rc_), #want);              \
			return __LINE__;                                       \
		}                                                              \
	} while (0)

#define SECOND INT64_C(1000000000)
/* "Eventually" bound: generous for a loaded 2-core machine. */
#define EVENTUALLY (30 * SECOND)

/* ---- tasks and callbacks the rows use ---------------------------------- */

static _Atomic int ran;

static int task_identity(void *arg, void **result)
{
	*result = arg;
	return 0;
}

static int task_count(void *arg, void **result)
{
	atomic_fetch_add(&ran, 1);
	return 0;
}

static int task_negative(void *arg, void **result)
{
	return -ENOENT;
}

static _Atomic bool gate_open;

/* Holds its worker until gate_open. */
static int task_gate(void *arg, void **result)
{
	atomic_fetch_add(&ran, 1);
	while (!atomic_load(&gate_open))
		sched_yield();
	return 0;
}

static _Atomic int callbacks;

static void cb_count(filch_future *f, void *arg)
{
	atomic_fetch_add(&callbacks, 1);
}

static int new_executor(filch_executor **ex, unsigned workers)
{
	struct filch_executor_opts o = { .workers = workers };
	return filch_executor_create(ex, &o);
}

/* ---- the rows, in the order of the table in docs/api.md ----------------- */

static int row_create_null(void *unused)
{
	struct filch_executor_opts o = { .workers = 1 };
	EXPECT_RC(filch_executor_create(NULL, NULL), -EINVAL);
	EXPECT_RC(filch_executor_create(NULL, &o), -EINVAL);
	return 0;
}

static int row_workers_zero(void *unused)
{
	filch_executor *ex = NULL;
	cpu_set_t set;

	EXPECT(sched_getaffinity(0, sizeof(set), &set) == 0, "affinity");
	EXPECT_RC(new_executor(&ex, 0), 0);
	EXPECT(filch_executor_workers(ex) == (unsigned)CPU_COUNT(&set),
	       "workers = 0 gave %u workers, want %d (CPUs in the mask)",
	       filch_executor_workers(ex), CPU_COUNT(&set));
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_workers_absurd(void *unused)
{
	filch_executor *ex = NULL;
	struct filch_executor_opts o = { .workers = UINT_MAX,
					 .name_prefix = "bi" };
	int rc = filch_executor_create(&ex, &o);

	EXPECT(rc == -EINVAL || rc == -ENOMEM || rc == -EAGAIN,
	       "workers = UINT_MAX returned %d, want -EINVAL/-ENOMEM/-EAGAIN",
	       rc);
	EXPECT(ex == NULL, "*ex was written on failure");
	EXPECT(isolate_threads_named("bi-") == 0, "%u workers left running",
	       isolate_threads_named("bi-"));
	return 0;
}

static int row_bad_options(void *unused)
{
	filch_executor *ex = NULL;
	struct filch_executor_opts flags = { .workers = 1, .flags = 1u << 31 };
	struct filch_executor_opts pin = { .workers = 1, .pin = 99 };
	struct filch_executor_opts full = { .workers = 1, .full_policy = 99 };

	EXPECT_RC(filch_executor_create(&ex, &flags), -EINVAL);
	EXPECT_RC(filch_executor_create(&ex, &pin), -EINVAL);
	EXPECT_RC(filch_executor_create(&ex, &full), -EINVAL);
	EXPECT(ex == NULL, "*ex was written on failure");
	return 0;
}

static int init_fail(void *arg, unsigned index)
{
	return index == 1 ? ENOTSUP : 0;
}

static int row_initializer_fails(void *unused)
{
	filch_executor *ex = NULL;
	struct filch_executor_opts o = { .workers = 3,
					 .initializer = init_fail,
					 .name_prefix = "bi" };

	EXPECT_RC(filch_executor_create(&ex, &o), -ENOTSUP);
	EXPECT(ex == NULL, "*ex was written on failure");
	EXPECT(isolate_threads_named("bi-") == 0, "%u workers left running",
	       isolate_threads_named("bi-"));
	return 0;
}

static int row_submit_null(void *unused)
{
	filch_executor *ex;
	filch_future *f = NULL;

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit(NULL, task_count, NULL, &f), -EINVAL);
	EXPECT_RC(filch_submit(ex, NULL, NULL, &f), -EINVAL);
	EXPECT(f == NULL, "*fut was written on failure");
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 0, "a rejected task ran");
	return 0;
}

static int row_submit_after_shutdown(void *unused)
{
	filch_executor *ex;
	filch_future *f = NULL;

	EXPECT_RC(new_executor(&ex, 2), 0);
	EXPECT_RC(filch_shutdown(ex, 0), 0);
	EXPECT_RC(filch_submit(ex, task_count, NULL, &f), -ESHUTDOWN);
	EXPECT_RC(filch_submit(ex, task_count, NULL, NULL), -ESHUTDOWN);
	EXPECT(f == NULL, "*fut was written on failure");
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 0, "a rejected task ran");
	return 0;
}

static int row_double_shutdown(void *unused)
{
	filch_executor *ex;

	EXPECT_RC(new_executor(&ex, 2), 0);
	EXPECT_RC(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0);
	EXPECT_RC(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0);
	EXPECT_RC(filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING), 0);
	EXPECT_RC(filch_shutdown(ex, 0), 0);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_shutdown_bad(void *unused)
{
	filch_executor *ex;
	filch_future *f;
	void *r;

	EXPECT_RC(filch_shutdown(NULL, FILCH_SHUTDOWN_WAIT), -EINVAL);
	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_shutdown(ex, 1u << 7), -EINVAL);
	/* An unknown flag began nothing: the executor still works. */
	EXPECT_RC(filch_submit(ex, task_identity, (void *)7, &f), 0);
	EXPECT_RC(filch_future_result(f, EVENTUALLY, &r), 0);
	EXPECT(r == (void *)7, "wrong result");
	filch_future_release(f);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

enum { PENDING_N = 200 };

static int row_destroy_pending(void *unused)
{
	filch_executor *ex;
	filch_future *fs[PENDING_N];
	void *r;

	EXPECT_RC(new_executor(&ex, 2), 0);
	for (uintptr_t i = 0; i < PENDING_N; i++)
		EXPECT_RC(filch_submit(ex, task_identity, (void *)i, &fs[i]), 0);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	/* Destroy drained the pool; the futures the user holds stay valid. */
	for (uintptr_t i = 0; i < PENDING_N; i++) {
		EXPECT(filch_future_state(fs[i]) == FILCH_FINISHED,
		       "future %zu in state %d after destroy", (size_t)i,
		       filch_future_state(fs[i]));
		EXPECT_RC(filch_future_result(fs[i], 0, &r), 0);
		EXPECT(r == (void *)i, "future %zu: wrong result", (size_t)i);
		filch_future_release(fs[i]);
	}
	return 0;
}

static int row_destroy_null(void *unused)
{
	filch_executor *ex = NULL;

	EXPECT_RC(filch_executor_destroy(NULL), 0);
	filch_executor_cleanup(&ex);
	filch_future_release(NULL);
	return 0;
}

static int row_null_future_calls(void *unused)
{
	filch_future *f = NULL;
	void *r;
	int code;
	const char *msg;

	EXPECT_RC(filch_future_result(NULL, 0, &r), -EINVAL);
	EXPECT_RC(filch_future_error(NULL, 0, &code, &msg), -EINVAL);
	EXPECT_RC(filch_future_on_done(NULL, cb_count, NULL), -EINVAL);
	EXPECT_RC(filch_promise_create(NULL), -EINVAL);
	EXPECT_RC(filch_promise_set_result(NULL, NULL), -EINVAL);
	EXPECT_RC(filch_promise_set_error(NULL, EIO, NULL), -EINVAL);
	EXPECT_RC(filch_promise_set_running(NULL), -EINVAL);
	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_future_on_done(f, NULL, NULL), -EINVAL);
	EXPECT_RC(filch_future_then(f, NULL, NULL, NULL, NULL), -EINVAL);
	filch_future_release(f);
	EXPECT(callbacks == 0, "a rejected callback ran");
	return 0;
}

static int row_null_wait_calls(void *unused)
{
	filch_future *f, *fs[2];
	filch_as_completed *it;
	filch_map_iter *mi;
	filch_executor *ex;
	size_t nd;

	EXPECT_RC(filch_promise_create(&f), 0);
	fs[0] = f;
	fs[1] = NULL;
	EXPECT_RC(filch_wait(NULL, 1, 0, FILCH_ALL_COMPLETED, &nd), -EINVAL);
	EXPECT_RC(filch_wait(fs, 2, 0, FILCH_ALL_COMPLETED, &nd), -EINVAL);
	EXPECT_RC(filch_wait(fs, 1, 0, 0, &nd), -EINVAL);
	EXPECT_RC(filch_wait(fs, 1, 0, 42, &nd), -EINVAL);
	EXPECT_RC(filch_as_completed_begin(NULL, fs, 1, 0), -EINVAL);
	EXPECT_RC(filch_as_completed_begin(&it, fs, 2, 0), -EINVAL);
	EXPECT_RC(filch_when_all(fs, 2, &f), -EINVAL);
	EXPECT_RC(filch_when_any(NULL, 1, &f), -EINVAL);
	EXPECT(f == fs[0], "*out was written on failure");
	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_map(NULL, ex, task_identity, NULL, 0, NULL), -EINVAL);
	EXPECT_RC(filch_map(&mi, NULL, task_identity, NULL, 0, NULL), -EINVAL);
	EXPECT_RC(filch_map(&mi, ex, NULL, NULL, 0, NULL), -EINVAL);
	EXPECT_RC(filch_map(&mi, ex, task_identity, NULL, 3, NULL), -EINVAL);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	filch_future_release(f);
	return 0;
}

static int row_wait_empty(void *unused)
{
	filch_future *none[1] = { NULL }, *out;
	filch_as_completed *it;
	size_t nd = 99;

	EXPECT_RC(filch_wait(none, 0, FILCH_FOREVER, FILCH_ALL_COMPLETED, &nd),
		  0);
	EXPECT(nd == 0, "ndone = %zu", nd);
	EXPECT_RC(filch_as_completed_begin(&it, none, 0, FILCH_FOREVER), 0);
	EXPECT_RC(filch_as_completed_next(it, &out), FILCH_END);
	filch_as_completed_end(it);
	EXPECT_RC(filch_when_all(none, 0, &out), 0);
	EXPECT(filch_future_state(out) == FILCH_FINISHED,
	       "when_all of nothing is not finished");
	filch_future_release(out);
	EXPECT_RC(filch_when_any(none, 0, &out), -EINVAL);
	return 0;
}

static int row_wait_duplicates(void *unused)
{
	filch_future *f, *g, *fs[3];
	size_t nd;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_promise_create(&g), 0);
	fs[0] = f;
	fs[1] = f;
	fs[2] = g;
	EXPECT_RC(filch_promise_set_result(f, NULL), 0);
	EXPECT_RC(filch_wait(fs, 3, 0, FILCH_ALL_COMPLETED, &nd), -ETIMEDOUT);
	EXPECT(nd == 2, "ndone = %zu with f twice done, want 2", nd);
	EXPECT(fs[0] == f && fs[1] == f && fs[2] == g, "not reordered stably");
	EXPECT_RC(filch_promise_set_result(g, NULL), 0);
	EXPECT_RC(filch_wait(fs, 3, EVENTUALLY, FILCH_ALL_COMPLETED, &nd), 0);
	EXPECT(nd == 3, "ndone = %zu", nd);
	filch_future_release(f);
	filch_future_release(g);
	return 0;
}

static int row_as_completed_duplicates(void *unused)
{
	filch_future *f, *g, *fs[4], *out;
	filch_as_completed *it;
	int yielded = 0, rc;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_promise_create(&g), 0);
	fs[0] = f;
	fs[1] = g;
	fs[2] = f;
	fs[3] = g;
	EXPECT_RC(filch_promise_set_result(g, NULL), 0);
	EXPECT_RC(filch_as_completed_begin(&it, fs, 4, EVENTUALLY), 0);
	EXPECT_RC(filch_promise_set_result(f, NULL), 0);
	while ((rc = filch_as_completed_next(it, &out)) == 0)
		yielded++;
	filch_as_completed_end(it);
	EXPECT(rc == FILCH_END, "as_completed ended with %d", rc);
	EXPECT(yielded == 2, "yielded %d futures for 2 distinct", yielded);
	filch_future_release(f);
	filch_future_release(g);
	return 0;
}

static int row_cancel_after_done(void *unused)
{
	filch_future *f;
	void *r;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_promise_set_result(f, (void *)5), 0);
	EXPECT(!filch_future_cancel(f), "cancel of a finished future was true");
	EXPECT(filch_future_state(f) == FILCH_FINISHED, "state changed");
	EXPECT_RC(filch_future_result(f, 0, &r), 0);
	EXPECT(r == (void *)5, "result changed");
	filch_future_release(f);
	return 0;
}

static int row_cancel_twice(void *unused)
{
	filch_future *f;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_future_on_done(f, cb_count, NULL), 0);
	EXPECT(filch_future_cancel(f), "first cancel was false");
	EXPECT(filch_future_cancel(f), "second cancel was false");
	EXPECT(callbacks == 1, "callback ran %d times", callbacks);
	EXPECT_RC(filch_future_result(f, 0, NULL), -ECANCELED);
	filch_future_release(f);
	return 0;
}

static int row_promise_twice(void *unused)
{
	filch_future *f;
	void *r;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_future_on_done(f, cb_count, NULL), 0);
	EXPECT_RC(filch_promise_set_result(f, (void *)1), 0);
	EXPECT_RC(filch_promise_set_result(f, (void *)2), -EINVAL);
	EXPECT_RC(filch_promise_set_error(f, EIO, "late"), -EINVAL);
	EXPECT_RC(filch_future_result(f, 0, &r), 0);
	EXPECT(r == (void *)1, "second completion changed the result");
	EXPECT(callbacks == 1, "callback ran %d times", callbacks);
	filch_future_release(f);
	return 0;
}

static int row_promise_cancelled(void *unused)
{
	filch_future *f;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT(filch_future_cancel(f), "cancel of a pending promise was false");
	EXPECT_RC(filch_promise_set_running(f), -ECANCELED);
	EXPECT_RC(filch_promise_set_result(f, NULL), -ECANCELED);
	EXPECT_RC(filch_promise_set_error(f, EIO, NULL), -ECANCELED);
	EXPECT(filch_future_cancelled(f), "not cancelled");
	filch_future_release(f);
	return 0;
}

static int row_promise_bad_code(void *unused)
{
	filch_future *f;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_promise_set_error(f, 0, "zero"), -EINVAL);
	EXPECT_RC(filch_promise_set_error(f, -EIO, "negative"), -EINVAL);
	EXPECT(filch_future_state(f) == FILCH_PENDING,
	       "a rejected completion changed the state");
	EXPECT_RC(filch_promise_set_error(f, EIO, "fine"), 0);
	filch_future_release(f);
	return 0;
}

static void cb_release_self(filch_future *f, void *arg)
{
	atomic_fetch_add(&callbacks, 1);
	filch_future_release(f);
}

static int row_callback_releases(void *unused)
{
	filch_executor *ex;
	filch_future *f;
	int64_t deadline = tap_now_ns() + EVENTUALLY;

	/* The user hands its only reference to a callback that releases it;
	 * a later callback must still run on a live future (ASan checks). */
	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit(ex, task_gate, NULL, &f), 0);
	EXPECT_RC(filch_future_on_done(f, cb_release_self, NULL), 0);
	EXPECT_RC(filch_future_on_done(f, cb_count, NULL), 0);
	atomic_store(&gate_open, true);
	while (atomic_load(&callbacks) < 2 && tap_now_ns() < deadline)
		sched_yield();
	EXPECT(callbacks == 2, "%d of 2 callbacks ran", callbacks);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	/* The same on a done future: the callback runs in on_done itself. */
	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_promise_set_result(f, NULL), 0);
	EXPECT_RC(filch_future_on_done(f, cb_release_self, NULL), 0);
	EXPECT(callbacks == 3, "callback on a done future did not run");
	return 0;
}

static int row_callback_on_done_future(void *unused)
{
	filch_future *f;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_promise_set_result(f, NULL), 0);
	EXPECT_RC(filch_future_on_done(f, cb_count, NULL), 0);
	EXPECT(callbacks == 1, "callback on a done future did not run at once");
	filch_future_release(f);
	return 0;
}

static _Atomic int cancelled_seen;

static void cb_saw_cancel(filch_future *f, void *arg)
{
	atomic_fetch_add(&cancelled_seen, filch_future_cancelled(f));
	atomic_fetch_add(&callbacks, 1);
}

static int row_promise_abandoned(void *unused)
{
	filch_future *f;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_future_on_done(f, cb_saw_cancel, NULL), 0);
	filch_future_release(f);
	EXPECT(callbacks == 1 && cancelled_seen == 1,
	       "releasing an unfulfilled promise: %d callbacks, %d saw cancel",
	       callbacks, cancelled_seen);
	return 0;
}

static _Atomic int from_worker_rc = 1;

static int task_shutdown_self(void *arg, void **result)
{
	atomic_store(&from_worker_rc,
		     filch_shutdown(filch_current_executor(), FILCH_SHUTDOWN_WAIT));
	return 0;
}

/* Creates a 2-worker executor in *ex and runs fn on it to completion. */
static int run_on_worker(filch_executor **ex, filch_task_fn fn)
{
	filch_future *f;

	EXPECT_RC(new_executor(ex, 2), 0);
	EXPECT_RC(filch_submit(*ex, fn, NULL, &f), 0);
	EXPECT_RC(filch_future_result(f, EVENTUALLY, NULL), 0);
	filch_future_release(f);
	return 0;
}

static int row_shutdown_wait_from_worker(void *unused)
{
	filch_executor *ex;
	int rc = run_on_worker(&ex, task_shutdown_self);

	if (rc)
		return rc;
	EXPECT(from_worker_rc == -EDEADLK, "shutdown(WAIT) in a worker gave %d",
	       from_worker_rc);
	/* The shutdown still began. */
	EXPECT_RC(filch_submit(ex, task_count, NULL, NULL), -ESHUTDOWN);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int task_destroy_self(void *arg, void **result)
{
	atomic_store(&from_worker_rc,
		     filch_executor_destroy(filch_current_executor()));
	return 0;
}

static int row_destroy_from_worker(void *unused)
{
	filch_executor *ex;
	int rc = run_on_worker(&ex, task_destroy_self);

	if (rc)
		return rc;
	EXPECT(from_worker_rc == -EDEADLK, "destroy in a worker gave %d",
	       from_worker_rc);
	/* Nothing was freed: the owner can still use and destroy it. */
	EXPECT(filch_executor_workers(ex) == 2, "executor damaged");
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_task_negative(void *unused)
{
	filch_executor *ex;
	filch_future *f;
	int code = 0;
	const char *msg = "x";

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit(ex, task_negative, NULL, &f), 0);
	EXPECT_RC(filch_future_result(f, EVENTUALLY, NULL), ENOENT);
	EXPECT_RC(filch_future_error(f, 0, &code, &msg), 0);
	EXPECT(code == ENOENT, "code %d, want ENOENT", code);
	filch_future_release(f);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_outside_task(void *unused)
{
	EXPECT_RC(filch_task_fail(EIO, "not in a task %d", 1), EIO);
	EXPECT(!filch_cancel_requested(), "cancel requested outside a task");
	EXPECT(filch_current_executor() == NULL, "foreign thread has executor");
	EXPECT(filch_current_worker() == -1, "foreign thread has an index");
	return 0;
}

static int row_poll_pending(void *unused)
{
	filch_future *f;
	size_t nd = 9;

	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_future_result(f, 0, NULL), -ETIMEDOUT);
	EXPECT_RC(filch_wait(&f, 1, 0, FILCH_FIRST_COMPLETED, &nd), -ETIMEDOUT);
	EXPECT(nd == 0, "ndone = %zu", nd);
	EXPECT_RC(filch_future_result(f, SECOND / 100, NULL), -ETIMEDOUT);
	filch_future_release(f);
	return 0;
}

static int task_fib(void *arg, void **result)
{
	uintptr_t n = (uintptr_t)arg;
	filch_future *a;
	void *ra;

	if (n < 2) {
		*result = arg;
		return 0;
	}
	int rc = filch_submit(filch_current_executor(), task_fib,
			      (void *)(n - 1), &a);
	if (rc)
		return -rc;
	void *rb;
	task_fib((void *)(n - 2), &rb);
	rc = filch_future_result(a, FILCH_FOREVER, &ra);
	filch_future_release(a);
	*result = (void *)((uintptr_t)ra + (uintptr_t)rb);
	return rc;
}

static int row_wait_in_worker(void *unused)
{
	filch_executor *ex;
	filch_future *f;
	void *r;

	/* Python's pool deadlocks on this with one worker; filch helps. */
	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit(ex, task_fib, (void *)15, &f), 0);
	EXPECT_RC(filch_future_result(f, EVENTUALLY, &r), 0);
	EXPECT(r == (void *)610, "fib(15) = %zu", (size_t)(uintptr_t)r);
	filch_future_release(f);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int task_submit_child(void *arg, void **result)
{
	filch_executor *ex = filch_current_executor();

	/* Let the foreign thread's shutdown begin first. */
	while (!atomic_load(&gate_open))
		sched_yield();
	return -filch_submit(ex, task_count, NULL, NULL);
}

static int row_child_during_shutdown(void *unused)
{
	filch_executor *ex;
	filch_future *f;

	EXPECT_RC(new_executor(&ex, 2), 0);
	EXPECT_RC(filch_submit(ex, task_submit_child, NULL, &f), 0);
	EXPECT_RC(filch_shutdown(ex, 0), 0);
	atomic_store(&gate_open, true);
	EXPECT_RC(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0);
	EXPECT_RC(filch_future_result(f, 0, NULL), 0);
	EXPECT(ran == 1, "the child submitted while draining ran %d times",
	       ran);
	filch_future_release(f);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_queue_full(void *unused)
{
	filch_executor *ex;
	filch_future *blocker, *queued, *rejected = NULL;
	struct filch_executor_opts o = { .workers = 1,
					 .queue_capacity = 1,
					 .full_policy = FILCH_FULL_FAIL };

	EXPECT_RC(filch_executor_create(&ex, &o), 0);
	EXPECT_RC(filch_submit(ex, task_gate, NULL, &blocker), 0);
	while (atomic_load(&ran) == 0) /* the worker holds the blocker */
		sched_yield();
	EXPECT_RC(filch_submit(ex, task_identity, NULL, &queued), 0);
	EXPECT_RC(filch_submit(ex, task_identity, NULL, &rejected), -EAGAIN);
	EXPECT(rejected == NULL, "*fut was written on failure");
	atomic_store(&gate_open, true);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(filch_future_done(queued), "queued future without outcome");
	filch_future_release(blocker);
	filch_future_release(queued);
	return 0;
}

static int row_cancel_pending_shutdown(void *unused)
{
	enum { N = 50 };
	filch_executor *ex;
	filch_future *blocker, *fs[N];
	int cancelled = 0;

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit(ex, task_gate, NULL, &blocker), 0);
	while (atomic_load(&ran) == 0)
		sched_yield();
	for (int i = 0; i < N; i++) {
		EXPECT_RC(filch_submit(ex, task_count, NULL, &fs[i]), 0);
		EXPECT_RC(filch_future_on_done(fs[i], cb_count, NULL), 0);
	}
	EXPECT_RC(filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING), 0);
	atomic_store(&gate_open, true);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	for (int i = 0; i < N; i++) {
		EXPECT(filch_future_done(fs[i]), "future %d without outcome", i);
		cancelled += filch_future_cancelled(fs[i]);
		filch_future_release(fs[i]);
	}
	EXPECT(cancelled == N, "%d of %d pending futures cancelled", cancelled,
	       N);
	EXPECT(callbacks == N, "%d of %d callbacks ran", callbacks, N);
	EXPECT(ran == 1, "%d cancelled tasks ran", ran - 1);
	filch_future_release(blocker);
	return 0;
}

static int row_map_misuse(void *unused)
{
	filch_executor *ex;
	filch_map_iter *it;
	void *items[64], *r;

	for (uintptr_t i = 0; i < 64; i++)
		items[i] = (void *)i;
	EXPECT_RC(new_executor(&ex, 2), 0);
	/* An empty map ends at once, and stays ended. */
	EXPECT_RC(filch_map(&it, ex, task_identity, items, 0, NULL), 0);
	EXPECT_RC(filch_map_next(it, &r), FILCH_END);
	EXPECT_RC(filch_map_next(it, &r), FILCH_END);
	filch_map_close(it);
	/* Closing after one result cancels the rest and loses nothing. */
	EXPECT_RC(filch_map(&it, ex, task_identity, items, 64, NULL), 0);
	EXPECT_RC(filch_map_next(it, &r), 0);
	EXPECT(r == items[0], "first result out of order");
	filch_map_close(it);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

/* Fails the chunk that holds item 32 with code 5; arg says what it does
 * with ndone: leaves it, or claims far more than the chunk. */
static int chunk_fail_32(void *arg, struct filch_chunk *c)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->first + i == 32) {
			if (arg)
				c->ndone = 1000;
			return 5;
		}
		c->results[i] = (void *)(uintptr_t)(c->first + i);
	}
	return 0;
}

/* Reads the map to its end; returns its final code, *got the results. */
static int drain_count(filch_map_iter *it, size_t *got)
{
	void *r;
	int rc;

	*got = 0;
	while ((rc = filch_map_next(it, &r)) == 0)
		(*got)++;
	return rc;
}

static int row_map_chunk_ndone(void *unused)
{
	filch_executor *ex;
	filch_map_iter *it;
	struct filch_map_opts o = {.chunksize = 16, .chunk_fn = chunk_fail_32};
	size_t got;

	EXPECT_RC(new_executor(&ex, 2), 0);
	/* ndone left alone: nothing of the failing chunk [32, 48). */
	EXPECT_RC(filch_map(&it, ex, NULL, NULL, 64, &o), 0);
	EXPECT_RC(drain_count(it, &got), 5);
	EXPECT(got == 32, "%zu results before the code, not 32", got);
	filch_map_close(it);
	/* ndone past the chunk: the whole chunk, never beyond it. */
	o.chunk_arg = &o;
	EXPECT_RC(filch_map(&it, ex, NULL, NULL, 64, &o), 0);
	EXPECT_RC(drain_count(it, &got), 5);
	EXPECT(got == 48, "%zu results before the code, not 48", got);
	filch_map_close(it);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int job_count(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return 0;
}

static int row_group_after_shutdown(void *unused)
{
	filch_executor *ex;
	filch_group g;

	EXPECT_RC(filch_group_init(NULL, NULL), -EINVAL);
	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_group_init(&g, ex), 0);
	EXPECT_RC(filch_shutdown(ex, 0), 0);
	EXPECT_RC(filch_group_spawn(&g, job_count, NULL), -ESHUTDOWN);
	EXPECT_RC(filch_group_wait(&g), 0);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 0, "a rejected job ran");
	return 0;
}

static void fj_count(filch_fj *fj, void *arg)
{
	atomic_fetch_add(&ran, 1);
}

static int row_fj_bad(void *unused)
{
	filch_executor *ex;

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_fj_run(NULL, fj_count, NULL), -EINVAL);
	EXPECT_RC(filch_fj_run(ex, NULL, NULL), -EINVAL);
	EXPECT_RC(filch_fj_run_v(ex, fj_count, NULL, FILCH_FJ_ABI + 1),
		  -ENOTSUP);
	/* Version 1's struct filch_fj had indices where 2 has pointers. */
	EXPECT_RC(filch_fj_run_v(ex, fj_count, NULL, 1), -ENOTSUP);
	EXPECT_RC(filch_shutdown(ex, 0), 0);
	EXPECT_RC(filch_fj_run(ex, fj_count, NULL), -ESHUTDOWN);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 0, "a rejected root ran");
	return 0;
}

/* A full bounded queue under CALLER_RUNS would run the root in the
 * calling thread, which has no frame stack of ex: -EAGAIN, fn not run. */
static int row_fj_caller_runs(void *unused)
{
	struct filch_executor_opts o = {.workers = 1,
					.queue_capacity = 1,
					.full_policy = FILCH_FULL_CALLER_RUNS};
	int64_t deadline = tap_now_ns() + EVENTUALLY;
	filch_executor *ex;
	filch_future *blocker, *filler;

	EXPECT_RC(filch_executor_create(&ex, &o), 0);
	EXPECT_RC(filch_submit(ex, task_gate, NULL, &blocker), 0);
	while (atomic_load(&ran) < 1 && tap_now_ns() < deadline)
		sched_yield();
	EXPECT_RC(filch_submit(ex, task_count, NULL, &filler), 0);
	EXPECT_RC(filch_fj_run(ex, fj_count, NULL), -EAGAIN);
	EXPECT(ran == 1, "the root ran in the caller (ran %d)", ran);
	atomic_store(&gate_open, true);
	EXPECT_RC(filch_future_result(blocker, FILCH_FOREVER, NULL), 0);
	EXPECT_RC(filch_future_result(filler, FILCH_FOREVER, NULL), 0);
	filch_future_release(blocker);
	filch_future_release(filler);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 2, "%d tasks ran, not 2", ran);
	return 0;
}

static int then_count(filch_future *a, void *arg, void **result)
{
	atomic_fetch_add(&ran, 1);
	return 0;
}

static int row_then_failed(void *unused)
{
	filch_executor *ex;
	filch_future *f, *out;
	const char *msg = NULL;
	int code = 0;

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_promise_create(&f), 0);
	EXPECT_RC(filch_future_then(f, ex, then_count, NULL, &out), 0);
	EXPECT_RC(filch_promise_set_error(f, EPIPE, "broken"), 0);
	EXPECT_RC(filch_future_error(out, EVENTUALLY, &code, &msg), 0);
	EXPECT(code == EPIPE, "continuation code %d, want EPIPE", code);
	EXPECT(msg && strcmp(msg, "broken") == 0, "message not carried");
	EXPECT(ran == 0, "continuation of a failed future ran");
	filch_future_release(out);
	filch_future_release(f);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_release_early(void *unused)
{
	filch_executor *ex;
	filch_future *f;

	EXPECT_RC(new_executor(&ex, 2), 0);
	for (int i = 0; i < 100; i++) {
		EXPECT_RC(filch_submit(ex, task_count, NULL, &f), 0);
		filch_future_release(f); /* before it ran, most likely */
	}
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 100, "%d of 100 tasks ran", ran);
	return 0;
}

static _Atomic int dtor_calls;

static void dtor_count_free(void *result, void *arg)
{
	atomic_fetch_add(&dtor_calls, 1);
	free(result);
}

static int task_heap(void *arg, void **result)
{
	*result = malloc(8);
	return *result ? 0 : ENOMEM;
}

static int row_take_twice(void *unused)
{
	filch_executor *ex;
	filch_future *f;
	struct filch_submit_opts o = { .result_dtor = dtor_count_free };
	void *r = NULL, *again = &again;

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit_ex(ex, task_heap, NULL, &o, &f), 0);
	EXPECT_RC(filch_future_take_result(f, EVENTUALLY, &r), 0);
	EXPECT_RC(filch_future_take_result(f, 0, &again), -EALREADY);
	EXPECT_RC(filch_future_result(f, 0, &again), -EALREADY);
	EXPECT(again == &again, "output written on -EALREADY");
	filch_future_release(f);
	EXPECT(dtor_calls == 0, "destructor ran on a taken result");
	free(r);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_dtor_twice(void *unused)
{
	filch_future *p;

	EXPECT_RC(filch_promise_create(&p), 0);
	EXPECT_RC(filch_future_set_result_dtor(p, dtor_count_free, NULL), 0);
	EXPECT_RC(filch_future_set_result_dtor(p, dtor_count_free, p), -EEXIST);
	EXPECT_RC(filch_future_set_result_dtor(p, NULL, NULL), -EINVAL);
	EXPECT_RC(filch_promise_set_result(p, malloc(8)), 0);
	filch_future_release(p);
	EXPECT(dtor_calls == 1, "destructor ran %d times", dtor_calls);
	return 0;
}

static int row_submit_ex_flags(void *unused)
{
	filch_executor *ex;
	filch_future *f = (filch_future *)&f;
	struct filch_submit_opts o = { .flags = 1u << 31,
				       .result_dtor = dtor_count_free };

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit_ex(ex, task_count, NULL, &o, &f), -EINVAL);
	EXPECT_RC(filch_submit_ex(ex, task_count, NULL, &o, NULL), -EINVAL);
	EXPECT(f == (filch_future *)&f, "*fut written on error");
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 0 && dtor_calls == 0, "a refused task ran");
	return 0;
}

static int row_map_huge_sizes(void *unused)
{
	filch_executor *ex;
	filch_map_iter *it;
	void *items[64];
	size_t got;
	const size_t huge[] = {(size_t)1 << (sizeof(size_t) > 4 ? 40 : 30),
			       SIZE_MAX};

	for (uintptr_t i = 0; i < 64; i++)
		items[i] = (void *)i;
	EXPECT_RC(new_executor(&ex, 2), 0);
	for (size_t k = 0; k < 2; k++) {
		struct filch_map_opts o = {.chunksize = huge[k],
					   .buffersize = huge[k]};
		EXPECT_RC(filch_map(&it, ex, task_identity, items, 64, &o), 0);
		EXPECT_RC(drain_count(it, &got), FILCH_END);
		EXPECT(got == 64, "%zu results, not 64", got);
		filch_map_close(it);
	}
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

/* Opens the gate once the worker holds the gated task, 20 ms later. */
static void *open_gate_later(void *unused)
{
	struct timespec ts = {0, 20 * 1000000L};

	while (atomic_load(&ran) == 0)
		sched_yield();
	nanosleep(&ts, NULL);
	atomic_store(&gate_open, true);
	return NULL;
}

static int row_map_zero_timeout(void *unused)
{
	filch_executor *ex;
	filch_map_iter *it;
	void *items[1] = {NULL}, *r = &r;
	struct filch_map_opts dflt = {.timeout_ns = 0};
	struct filch_map_opts poll = {.flags = FILCH_MAP_TIMEOUT_SET,
				      .timeout_ns = 0};

	EXPECT_RC(new_executor(&ex, 1), 0);
	/* The flag: 0 polls, and the gated item is not ready. */
	atomic_store(&ran, 0);
	atomic_store(&gate_open, false);
	EXPECT_RC(filch_map(&it, ex, task_gate, items, 1, &poll), 0);
	EXPECT_RC(filch_map_next(it, &r), -ETIMEDOUT);
	EXPECT(r == &r, "*result written on -ETIMEDOUT");
	EXPECT_RC(filch_map_next(it, &r), FILCH_END);
	atomic_store(&gate_open, true);
	filch_map_close(it);
	/* No flag: 0 is the default, forever; it waits for the item. */
	pthread_t opener;
	atomic_store(&ran, 0);
	atomic_store(&gate_open, false);
	EXPECT_RC(filch_map(&it, ex, task_gate, items, 1, &dflt), 0);
	EXPECT(pthread_create(&opener, NULL, open_gate_later, NULL) == 0,
	       "pthread_create");
	EXPECT_RC(filch_map_next(it, &r), 0);
	EXPECT(atomic_load(&gate_open), "next returned before the item ran");
	EXPECT_RC(filch_map_next(it, &r), FILCH_END);
	pthread_join(opener, NULL);
	filch_map_close(it);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static _Atomic int dtor_calls_map;

static void map_dtor_count(void *result, void *arg)
{
	atomic_fetch_add(&dtor_calls_map, 1);
}

static int row_map_dtor_without_flag(void *unused)
{
	filch_executor *ex;
	filch_map_iter *it;
	void *items[64], *r;
	struct filch_map_opts o = {.chunksize = 4,
				   .result_dtor = map_dtor_count};

	for (uintptr_t i = 0; i < 64; i++)
		items[i] = (void *)(i + 1);
	EXPECT_RC(new_executor(&ex, 2), 0);
	EXPECT_RC(filch_map(&it, ex, task_identity, items, 64, &o), 0);
	EXPECT_RC(filch_map_next(it, &r), 0);
	filch_map_close(it);
	EXPECT(atomic_load(&dtor_calls_map) == 0,
	       "the destructor ran without its flag");
	/* With the flag it is called: the 63 results never yielded that
	 * were made (at least the rest of the first chunk). */
	o.flags = FILCH_MAP_RESULT_DTOR;
	EXPECT_RC(filch_map(&it, ex, task_identity, items, 64, &o), 0);
	EXPECT_RC(filch_map_next(it, &r), 0);
	filch_map_close(it);
	EXPECT(atomic_load(&dtor_calls_map) >= 3,
	       "%d destructor calls with the flag, want at least 3",
	       atomic_load(&dtor_calls_map));
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_time_bad_args(void *unused)
{
	filch_executor *ex;
	filch_future *f = NULL, *p;

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit_after(ex, -1, task_count, NULL, &f), -EINVAL);
	EXPECT_RC(filch_submit_after(NULL, 0, task_count, NULL, &f), -EINVAL);
	EXPECT_RC(filch_sleep_future(ex, -2, &f), -EINVAL);
	EXPECT_RC(filch_submit_periodic(ex, 0, 0, 0, task_count, NULL, &f),
		  -EINVAL);
	EXPECT_RC(filch_submit_periodic(ex, 0, 1, 8, task_count, NULL, &f),
		  -EINVAL);
	EXPECT_RC(filch_submit_retry(ex, NULL, NULL, NULL, &f), -EINVAL);
	EXPECT_RC(filch_promise_create(&p), 0);
	EXPECT_RC(filch_future_with_timeout(p, ex, 0, 4, &f), -EINVAL);
	EXPECT(f == NULL, "an output was written on failure");
	filch_future_release(p);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 0, "a rejected task ran");
	return 0;
}

static int row_destroy_armed(void *unused)
{
	filch_executor *ex;
	filch_future *f;

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit_after(ex, 20000000, task_count, NULL, NULL), 0);
	EXPECT_RC(filch_submit_after(ex, 3600 * SECOND, task_count, NULL, &f), 0);
	EXPECT(filch_future_cancel(f), "cancel of an armed timer failed");
	filch_future_release(f);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 1, "the armed task did not run once (%d)", (int)ran);
	return 0;
}

static _Atomic int timed_rc = 1;
/* What *report holds before a call that must leave it untouched. */
static struct filch_shutdown_report untouched;
static struct filch_shutdown_report *const report_sentinel = &untouched;

static int task_shutdown_timed_self(void *arg, void **result)
{
	struct filch_shutdown_report *r = report_sentinel;

	atomic_store(&timed_rc, filch_shutdown_timed(filch_current_executor(),
						      FILCH_SHUTDOWN_WAIT,
						      SECOND, &r));
	return r == report_sentinel ? 0 : -EFAULT;
}

/* The -ENOMEM case (no memory for the report) needs fault injection:
 * tests/test_shutdown_deadline checks it in a --enable-fault-injection
 * build. */
static int row_shutdown_timed_bad(void *unused)
{
	struct filch_shutdown_report *r = report_sentinel;
	filch_executor *ex;
	int rc;

	EXPECT_RC(filch_shutdown_timed(NULL, 0, SECOND, &r), -EINVAL);
	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_shutdown_timed(ex, 1u << 30, SECOND, &r), -EINVAL);
	EXPECT(r == report_sentinel, "*report written on -EINVAL");
	/* Nothing began: the executor still takes work. */
	EXPECT_RC(filch_submit(ex, task_count, NULL, NULL), 0);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	EXPECT(ran == 1, "the task after the refused shutdown ran %d times",
	       (int)ran);

	/* From its own worker: the shutdown begins, nothing waits, the task
	 * saw *report untouched (its result is 0, not -EFAULT). */
	if ((rc = run_on_worker(&ex, task_shutdown_timed_self)))
		return rc;
	EXPECT(timed_rc == -EDEADLK, "timed shutdown in a worker gave %d",
	       (int)timed_rc);
	EXPECT_RC(filch_submit(ex, task_count, NULL, NULL), -ESHUTDOWN);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int row_never_returns(void *unused)
{
	struct filch_shutdown_report *r = NULL;
	filch_executor *ex;
	filch_future *f;
	int64_t t0, waited;
	struct timespec ts;

	EXPECT_RC(new_executor(&ex, 1), 0);
	EXPECT_RC(filch_submit(ex, task_gate, NULL, &f), 0);
	while (!ran)
		sched_yield();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec * SECOND + ts.tv_nsec;
	EXPECT_RC(filch_shutdown_timed(ex, 0, SECOND / 10, &r), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	waited = ts.tv_sec * SECOND + ts.tv_nsec - t0;
	EXPECT(waited >= SECOND / 10, "returned after %lld ns, before the "
	       "deadline", (long long)waited);
	EXPECT(r && r->nstragglers == 1, "the report names %zu stragglers",
	       r ? r->nstragglers : 0);
	EXPECT(r->stragglers[0].fn == (void (*)(void))task_gate &&
	       r->stragglers[0].future == f,
	       "the straggler is not the task that never returns");
	filch_shutdown_report_free(r);
	/* The executor stays valid: a second deadline also passes, then the
	 * task is let go and a waiting call drains the pool. */
	EXPECT_RC(filch_shutdown_timed(ex, 0, 0, NULL), -ETIMEDOUT);
	EXPECT(!filch_future_done(f), "the running task's future is done");
	atomic_store(&gate_open, true);
	EXPECT_RC(filch_shutdown_timed(ex, 0, FILCH_FOREVER, &r), 0);
	EXPECT(r == NULL, "*report not NULL after a drained shutdown");
	EXPECT_RC(filch_future_result(f, 0, NULL), 0);
	filch_future_release(f);
	EXPECT_RC(filch_executor_destroy(ex), 0);
	return 0;
}

static int proc_crash(const void *arg, size_t len, void **out,
		      size_t *out_len)
{
	(void)arg, (void)len, (void)out, (void)out_len;
	raise(SIGSEGV);
	return 0;
}

static int proc_echo(const void *arg, size_t len, void **out,
		     size_t *out_len)
{
	if (!(*out = malloc(len + 1)))
		return ENOMEM;
	memcpy(*out, arg, len);
	*out_len = len;
	return 0;
}

static int row_procpool_bad(void *unused)
{
	struct filch_procpool_opts bad = { .flags = 1u << 31 };
	filch_procpool *pp = (filch_procpool *)&bad, *keep = pp;
	filch_future *f = (filch_future *)&bad, *fkeep = f, *p;
	void *r;

	EXPECT_RC(filch_procpool_create(&pp, &bad), -EINVAL);
	EXPECT(pp == keep, "*pp was written on failure");
	EXPECT_RC(filch_procpool_create(&pp, &(struct filch_procpool_opts){
						     .workers = 1 }),
		  0);
	EXPECT_RC(filch_procpool_submit(pp, NULL, "x", 1, &f), -EINVAL);
	EXPECT_RC(filch_procpool_submit(pp, proc_echo, NULL, 1, &f), -EINVAL);
	EXPECT(f == fkeep, "*fut was written on failure");
	EXPECT_RC(filch_procpool_submit(pp, proc_crash, NULL, 0, &f), 0);
	EXPECT_RC(filch_future_result(f, FILCH_FOREVER, &r), ECHILD);
	filch_future_release(f);
	EXPECT_RC(filch_procpool_submit(pp, proc_echo, "x", 1, &f), 0);
	EXPECT_RC(filch_future_result(f, FILCH_FOREVER, &r), 0);
	EXPECT_RC(filch_procpool_terminate(pp, f), -ESRCH);
	filch_future_release(f);
	EXPECT_RC(filch_promise_create(&p), 0);
	EXPECT_RC(filch_procpool_terminate(pp, p), -ESRCH);
	filch_future_release(p);
	EXPECT_RC(filch_procpool_destroy(pp), 0);
	/* Spawn: a function in no loaded module (the heap) cannot cross. */
	EXPECT_RC(filch_procpool_create(&pp, &(struct filch_procpool_opts){
						     .workers = 1,
						     .start_method =
							     FILCH_START_SPAWN }),
		  0);
	f = fkeep;
	EXPECT_RC(filch_procpool_submit(pp, (filch_proc_fn)(void *)&bad, "x",
					1, &f),
		  -EINVAL);
	EXPECT(f == fkeep, "*fut was written on failure");
	EXPECT_RC(filch_procpool_destroy(pp), 0);
	return 0;
}

struct row {
	const char *misuse;
	isolate_fn fn;
};

/* Same order and wording as the table in docs/api.md. */
static const struct row rows[] = {
	{ "create: NULL executor pointer", row_create_null },
	{ "create: 0 workers means one per CPU", row_workers_zero },
	{ "create: absurd worker count", row_workers_absurd },
	{ "create: unknown flag, pin or full policy", row_bad_options },
	{ "create: the initializer fails", row_initializer_fails },
	{ "submit: NULL executor or function", row_submit_null },
	{ "submit after shutdown", row_submit_after_shutdown },
	{ "bounded queue full with FILCH_FULL_FAIL", row_queue_full },
	{ "double shutdown", row_double_shutdown },
	{ "shutdown: NULL executor or unknown flag", row_shutdown_bad },
	{ "cancelling shutdown with pending futures", row_cancel_pending_shutdown },
	{ "destroy with pending futures", row_destroy_pending },
	{ "destroy or release NULL", row_destroy_null },
	{ "shutdown with WAIT from a worker", row_shutdown_wait_from_worker },
	{ "destroy from a worker", row_destroy_from_worker },
	{ "a running task submits during shutdown", row_child_during_shutdown },
	{ "a task that returns a negative code", row_task_negative },
	{ "task-only calls outside a task", row_outside_task },
	{ "waiting for a child inside a task on one worker", row_wait_in_worker },
	{ "future calls with NULL arguments", row_null_future_calls },
	{ "releasing a future before its task ran", row_release_early },
	{ "cancel after done", row_cancel_after_done },
	{ "cancel twice", row_cancel_twice },
	{ "completing a promise twice", row_promise_twice },
	{ "completing a cancelled promise", row_promise_cancelled },
	{ "promise error code not positive", row_promise_bad_code },
	{ "releasing an unfulfilled promise", row_promise_abandoned },
	{ "a callback that releases its own future", row_callback_releases },
	{ "a callback added to a done future", row_callback_on_done_future },
	{ "continuation of a failed future", row_then_failed },
	{ "polling a pending future (timeout 0)", row_poll_pending },
	{ "wait/as_completed/map/when_*: NULL or bad arguments", row_null_wait_calls },
	{ "waiting on an empty set", row_wait_empty },
	{ "duplicates in wait", row_wait_duplicates },
	{ "duplicates in as_completed", row_as_completed_duplicates },
	{ "map: empty input, next after the end, early close", row_map_misuse },
	{ "group: NULL, spawn after shutdown", row_group_after_shutdown },
	{ "map: a chunk function's ndone left unset or past its chunk",
	  row_map_chunk_ndone },
	{ "taking a result twice, or reading it after the take", row_take_twice },
	{ "a second result destructor", row_dtor_twice },
	{ "submit_ex: unknown flag", row_submit_ex_flags },
	{ "map: huge chunksize or buffersize (2^40, SIZE_MAX)",
	  row_map_huge_sizes },
	{ "map: a zero timeout", row_map_zero_timeout },
	{ "map: a result destructor without its flag",
	  row_map_dtor_without_flag },
	{ "time calls: negative delay, NULL argument, unknown flag",
	  row_time_bad_args },
	{ "destroy with armed timers", row_destroy_armed },
	{ "timed shutdown: NULL executor, unknown flag, from its own worker, "
	  "no memory for the report",
	  row_shutdown_timed_bad },
	{ "a task that never returns, at shutdown", row_never_returns },
	{ "fj: NULL executor or function, another layout version, after "
	  "shutdown",
	  row_fj_bad },
	{ "fj: a full queue under CALLER_RUNS", row_fj_caller_runs },
	{ "process pool: bad arguments, a task that crashes, terminate of a "
	  "future not its own",
	  row_procpool_bad },
};

int main(void)
{
	const size_t n = sizeof(rows) / sizeof(rows[0]);
	char why[128];

	tap_plan((unsigned)n);
	for (size_t i = 0; i < n; i++) {
		bool pass = isolate_run(rows[i].fn, NULL, 60, why,
					sizeof(why)) == 0;
		if (!ok(pass, "%s", rows[i].misuse))
			diag("%s: %s", why, isolate_last_note());
	}
	return tap_done();
}
