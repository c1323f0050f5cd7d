/* SPDX-License-Identifier: MIT */
/*
 * test_conformance.c - the behaviours CPython's own suite checks for
 * concurrent.futures (Lib/test/test_concurrent_futures/: test_wait,
 * test_as_completed, test_shutdown, test_thread_pool, test_future,
 * test_init), restated for filch and written from scratch. Each group names
 * the CPython test it follows; where filch deliberately differs (the map's
 * default bound on work in flight, a cancel request reaching a running
 * task) the test says so.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <filch.h>

#include "cf_helpers.h"
#include "tap.h"

static const int64_t MS = 1000000;

/* The fixed futures of CPython's suite: pending, running, cancelled,
 * failed, successful. */
struct fixtures {
	filch_future *pending, *running, *cancelled, *failed, *ok;
};

static void fixtures_make(struct fixtures *x)
{
	filch_future *p[5];
	cf_promises(p, 5);
	*x = (struct fixtures){p[0], p[1], p[2], p[3], p[4]};
	filch_promise_set_running(x->running);
	filch_future_cancel(x->cancelled);
	filch_promise_set_error(x->failed, EIO, "failed fixture");
	filch_promise_set_result(x->ok, (void *)42);
}

static void fixtures_drop(struct fixtures *x)
{
	filch_future_release(x->pending);
	filch_promise_set_result(x->running, NULL);
	filch_future_release(x->running);
	filch_future_release(x->cancelled);
	filch_future_release(x->failed);
	filch_future_release(x->ok);
}

/* A task that sleeps arg ms, then fails with EDOM (sleep_and_raise). */
static int sleep_and_fail(void *arg, void **result)
{
	cf_sleep_ms((long)(intptr_t)arg);
	(void)result;
	return filch_task_fail(EDOM, "sleep_and_raise");
}

static bool in_first(filch_future **fs, size_t k, filch_future *f)
{
	for (size_t i = 0; i < k; i++)
		if (fs[i] == f)
			return true;
	return false;
}

/* ---- test_wait ---------------------------------------------------- */

static void wait_tests(filch_executor *ex)
{
	struct fixtures x;
	filch_future *f1, *f2, *f3;
	size_t nd;

	fixtures_make(&x);

	/* test_20369: the same future twice. */
	filch_future *dup[2] = {x.ok, x.ok};
	is(filch_wait(dup, 2, FILCH_FOREVER, FILCH_ALL_COMPLETED, &nd), 0,
	   "wait: a future listed twice (test_20369)");
	is(nd, 2, "wait: both occurrences done");

	/* test_first_completed */
	filch_submit(ex, cf_task_sleep, (void *)0, &f1);
	filch_submit(ex, cf_task_sleep, (void *)(intptr_t)300, &f2);
	filch_future *a[3] = {x.pending, f1, f2};
	is(filch_wait(a, 3, FILCH_FOREVER, FILCH_FIRST_COMPLETED, &nd), 0,
	   "wait FIRST_COMPLETED (test_first_completed)");
	ok(nd == 1 && a[0] == f1, "done = {quick task}");

	/* test_first_completed_some_already_completed */
	filch_future *b[3] = {x.cancelled, x.ok, f2};
	int64_t t0 = tap_now_ns();
	is(filch_wait(b, 3, FILCH_FOREVER, FILCH_FIRST_COMPLETED, &nd), 0,
	   "wait FIRST_COMPLETED with some already done");
	ok(nd == 2 && tap_now_ns() - t0 < 1000 * MS,
	   "returns at once with done = {cancelled, successful}");

	/* test_first_exception */
	filch_submit(ex, sleep_and_fail, (void *)(intptr_t)50, &f3);
	filch_future *c[3] = {f1, f3, f2};
	is(filch_wait(c, 3, FILCH_FOREVER, FILCH_FIRST_EXCEPTION, &nd), 0,
	   "wait FIRST_EXCEPTION (test_first_exception)");
	ok(nd == 2 && in_first(c, 2, f1) && in_first(c, 2, f3) && c[2] == f2,
	   "done = {success, failure}, not_done = {slow}");

	/* test_first_exception_some_already_complete and
	 * test_first_exception_one_already_failed */
	filch_future *d[4] = {x.ok, x.cancelled, x.failed, f2};
	t0 = tap_now_ns();
	is(filch_wait(d, 4, FILCH_FOREVER, FILCH_FIRST_EXCEPTION, &nd), 0,
	   "wait FIRST_EXCEPTION with one already failed");
	ok(nd == 3 && d[3] == f2 && tap_now_ns() - t0 < 1000 * MS,
	   "returns at once; the slow one is not done");

	/* test_all_completed */
	filch_future *e[4] = {x.ok, x.cancelled, x.failed, f1};
	is(filch_wait(e, 4, FILCH_FOREVER, FILCH_ALL_COMPLETED, &nd), 0,
	   "wait ALL_COMPLETED (test_all_completed)");
	is(nd, 4, "all done");

	/* test_timeout */
	filch_future *g[4] = {x.cancelled, x.failed, x.ok, f2};
	filch_future *slow;
	filch_submit(ex, cf_task_sleep, (void *)(intptr_t)400, &slow);
	g[3] = slow;
	t0 = tap_now_ns();
	is(filch_wait(g, 4, 50 * MS, FILCH_ALL_COMPLETED, &nd), -ETIMEDOUT,
	   "wait ALL_COMPLETED with a timeout (test_timeout)");
	ok(nd == 3 && g[3] == slow, "done = the 3 finished, not_done = slow");
	ok(tap_now_ns() - t0 >= 49 * MS, "after the timeout");

	/* wait on the empty set */
	is(filch_wait(NULL, 0, FILCH_FOREVER, FILCH_FIRST_COMPLETED, &nd), 0,
	   "wait on nothing returns at once");

	filch_wait(&f2, 1, FILCH_FOREVER, FILCH_ALL_COMPLETED, NULL);
	filch_wait(&slow, 1, FILCH_FOREVER, FILCH_ALL_COMPLETED, NULL);
	filch_future_release(f1);
	filch_future_release(f2);
	filch_future_release(f3);
	filch_future_release(slow);
	fixtures_drop(&x);
}

/* test_pending_calls_race: ALL_COMPLETED while many futures complete on
 * other threads at the same time. */
static void wait_race(filch_executor *ex)
{
	enum { N = 300 };
	static filch_future *fs[N];
	size_t nd;
	int bad = 0;

	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < N; i++)
			filch_submit(ex, cf_task_sleep, (void *)0, &fs[i]);
		bad += filch_wait(fs, N, 10000 * MS, FILCH_ALL_COMPLETED, &nd) != 0;
		bad += nd != N;
		for (int i = 0; i < N; i++)
			bad += !filch_future_done(fs[i]);
		cf_release_all(fs, N);
	}
	is(bad, 0, "wait ALL_COMPLETED racing 20 x %d completions "
		   "(test_pending_calls_race)",
	   N);
}

/* ---- test_as_completed ------------------------------------------- */

static void as_completed_tests(filch_executor *ex)
{
	struct fixtures x;
	filch_as_completed *it;
	filch_future *f, *f1, *f2;
	int n, rc;

	fixtures_make(&x);

	/* test_no_timeout */
	filch_submit(ex, cf_task_sleep, (void *)0, &f1);
	filch_submit(ex, cf_task_sleep, (void *)(intptr_t)20, &f2);
	filch_future *all[5] = {x.cancelled, x.failed, x.ok, f1, f2};
	filch_as_completed_begin(&it, all, 5, FILCH_FOREVER);
	n = 0;
	while ((rc = filch_as_completed_next(it, &f)) == 0)
		n++;
	ok(n == 5 && rc == FILCH_END, "as_completed yields all 5 "
				      "(test_no_timeout)");
	filch_as_completed_end(it);

	/* test_future_times_out / test_zero_timeout: the done ones, then a
	 * timeout for the pending one. */
	filch_future *some[4] = {x.cancelled, x.failed, x.ok, x.pending};
	filch_as_completed_begin(&it, some, 4, 0);
	n = 0;
	while ((rc = filch_as_completed_next(it, &f)) == 0)
		n += f != x.pending;
	ok(n == 3 && rc == -ETIMEDOUT, "timeout 0: the 3 done ones, then "
				       "-ETIMEDOUT (test_zero_timeout)");
	filch_as_completed_end(it);

	filch_as_completed_begin(&it, some, 4, 30 * MS);
	int64_t t0 = tap_now_ns();
	while ((rc = filch_as_completed_next(it, &f)) == 0)
		;
	ok(rc == -ETIMEDOUT && tap_now_ns() - t0 >= 29 * MS,
	   "a 30 ms timeout for the whole iteration (test_future_times_out)");
	filch_as_completed_end(it);

	/* test_duplicate_futures */
	filch_future *dup[6] = {f1, f1, x.ok, f1, x.ok, f2};
	filch_as_completed_begin(&it, dup, 6, FILCH_FOREVER);
	n = 0;
	while (filch_as_completed_next(it, &f) == 0)
		n++;
	is(n, 3, "duplicates yielded once (test_duplicate_futures)");
	filch_as_completed_end(it);

	filch_future_release(f1);
	filch_future_release(f2);
	fixtures_drop(&x);
}

/* ---- test_thread_pool: map --------------------------------------- */

struct divmod_arg {
	long a, b;
};

static int divide(void *arg, void **result)
{
	const struct divmod_arg *d = arg;
	if (d->b == 0)
		return filch_task_fail(EDOM, "division by zero");
	*result = (void *)(intptr_t)(d->a / d->b);
	return 0;
}

static atomic_int ran;

static int mark(void *arg, void **result)
{
	atomic_fetch_add(&ran, 1);
	*result = arg;
	return 0;
}

static int ints_gen(void *arg, void **item)
{
	long *next = arg;
	*item = (void *)(intptr_t)(*next)++;
	return 0;
}

static void map_tests(filch_executor *ex)
{
	filch_map_iter *it;
	void *r;
	int rc;

	/* test_map_exception: divmod over [1, 1, 1, 1] and [2, 3, 0, 5] */
	static const struct divmod_arg args[4] = {{1, 2}, {1, 3}, {1, 0}, {1, 5}};
	void *items[4] = {(void *)&args[0], (void *)&args[1], (void *)&args[2],
			  (void *)&args[3]};
	filch_map(&it, ex, divide, items, 4, NULL);
	ok(filch_map_next(it, &r) == 0 && r == 0, "map: first result");
	ok(filch_map_next(it, &r) == 0 && r == 0, "map: second result");
	is(filch_map_next(it, &r), EDOM, "map: then the error of the third "
					 "(test_map_exception)");
	is(filch_map_next(it, &r), FILCH_END, "map: the error ends it");
	filch_map_close(it);

	/* test_map_timeout: sleep over [0, 0, 300 ms], 100 ms timeout */
	void *sleeps[3] = {(void *)0, (void *)0, (void *)(intptr_t)300};
	struct filch_map_opts o = {.timeout_ns = 100 * MS, .chunksize = 1};
	int got = 0;
	filch_map(&it, ex, cf_task_sleep, sleeps, 3, &o);
	while ((rc = filch_map_next(it, &r)) == 0)
		got++;
	ok(got == 2 && rc == -ETIMEDOUT, "map: 2 results, then -ETIMEDOUT "
					 "(test_map_timeout)");
	filch_map_close(it);

	/* test_map_submits_without_iteration: with the default bound an
	 * array this small is all in flight at once. */
	void *ten[10] = {0};
	atomic_store(&ran, 0);
	filch_map(&it, ex, mark, ten, 10, NULL);
	int64_t t0 = tap_now_ns();
	while (atomic_load(&ran) < 10 && tap_now_ns() - t0 < 10000 * MS)
		cf_sleep_ms(1);
	is(atomic_load(&ran), 10, "map runs without iteration "
				  "(test_map_submits_without_iteration)");
	filch_map_close(it);

	/* test_map_buffersize_on_infinite_iterable */
	long next = 0;
	struct filch_map_opts b2 = {.buffersize = 2};
	filch_map_gen(&it, ex, mark, ints_gen, &next, &b2);
	bool seq = true;
	for (long i = 0; i < 3; i++)
		seq &= filch_map_next(it, &r) == 0 && r == (void *)(intptr_t)i;
	ok(seq, "map over an endless input with buffersize 2 yields 0, 1, 2 "
		"(test_map_buffersize_on_infinite_iterable)");
	filch_map_close(it);

	/* test_map_buffersize_when_buffer_is_full: the input is read only
	 * buffersize items ahead. */
	next = 0;
	filch_map_gen(&it, ex, mark, ints_gen, &next, &b2);
	cf_sleep_ms(20);
	is(next, 2, "without iteration exactly buffersize items were taken "
		    "(test_map_buffersize_when_buffer_is_full)");
	filch_map_close(it);

	/* test_map_buffersize_on_empty_iterable */
	filch_map(&it, ex, mark, NULL, 0, &b2);
	is(filch_map_next(it, &r), FILCH_END,
	   "map over an empty input (test_map_buffersize_on_empty_iterable)");
	filch_map_close(it);
}

/* ---- test_shutdown ------------------------------------------------ */

static int gate_task(void *arg, void **result)
{
	atomic_int *gate = arg;
	while (!atomic_load(gate))
		cf_sleep_ms(1);
	*result = NULL;
	return 0;
}

static atomic_int cancelled_cb;

static void count_cancelled(filch_future *f, void *arg)
{
	(void)arg;
	if (filch_future_cancelled(f))
		atomic_fetch_add(&cancelled_cb, 1);
}

static void shutdown_cancel_futures(void)
{
	enum { N = 50 };
	filch_executor *ex = cf_executor(2);
	filch_future *fs[N];
	atomic_int gate = 0;

	atomic_store(&cancelled_cb, 0);
	for (int i = 0; i < N; i++) {
		filch_submit(ex, gate_task, &gate, &fs[i]);
		filch_future_on_done(fs[i], count_cancelled, NULL);
	}
	cf_sleep_ms(20);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING), 0,
	   "shutdown(CANCEL_PENDING) (test_cancel_futures)");
	atomic_store(&gate, 1);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0, "a second shutdown, "
						       "with WAIT, is harmless");
	int done = 0, cancelled = 0;
	for (int i = 0; i < N; i++) {
		done += filch_future_done(fs[i]);
		cancelled += filch_future_cancelled(fs[i]);
	}
	is(done, N, "every future is done after the drain");
	ok(cancelled >= N - 2 - 2 && cancelled < N,
	   "the pending ones were cancelled (%d), the running ones ran",
	   cancelled);
	is(atomic_load(&cancelled_cb), cancelled,
	   "a callback ran for each cancelled future");
	void *r;
	is(filch_future_result(fs[N - 1], 0, &r), -ECANCELED,
	   "result of a cancelled future is -ECANCELED");
	cf_release_all(fs, N);
	is(filch_submit(ex, cf_task_sleep, NULL, NULL), -ESHUTDOWN,
	   "submit after shutdown is -ESHUTDOWN (test_run_after_shutdown)");
	filch_executor_destroy(ex);
}

struct racer {
	filch_executor *ex;
	atomic_int *go;
	int ok, refused, other;
	filch_future *fs[2000];
};

static void *submit_racer(void *arg)
{
	struct racer *r = arg;
	while (!atomic_load(r->go))
		;
	for (int i = 0; i < 2000; i++) {
		r->fs[i] = NULL;
		int rc = filch_submit(r->ex, cf_task_sleep, (void *)0, &r->fs[i]);
		r->ok += rc == 0;
		r->refused += rc == -ESHUTDOWN;
		r->other += rc != 0 && rc != -ESHUTDOWN;
	}
	return NULL;
}

static void shutdown_races_submit(void)
{
	int lost = 0, other = 0, refused = 0;

	for (int round = 0; round < 10; round++) {
		filch_executor *ex = cf_executor(2);
		atomic_int go = 0;
		static struct racer r[2];
		pthread_t t[2];
		for (int i = 0; i < 2; i++) {
			r[i] = (struct racer){.ex = ex, .go = &go};
			pthread_create(&t[i], NULL, submit_racer, &r[i]);
		}
		atomic_store(&go, 1);
		cf_sleep_ms(round % 3);
		filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			other += r[i].other;
			refused += r[i].refused;
			for (int j = 0; j < 2000; j++) {
				if (!r[i].fs[j])
					continue;
				lost += filch_future_result(r[i].fs[j], 10000 * MS,
							    NULL) != 0;
				filch_future_release(r[i].fs[j]);
			}
		}
		filch_executor_destroy(ex);
	}
	is(other, 0, "submit racing shutdown: 0 or -ESHUTDOWN, nothing else "
		     "(test_shutdown_race_issue12456)");
	is(lost, 0, "every accepted task ran to completion (%d refused)",
	   refused);
}

/* ---- test_future -------------------------------------------------- */

static atomic_int cb_calls;
static filch_future *cb_seen;

static void remember(filch_future *f, void *arg)
{
	(void)arg;
	cb_seen = f;
	atomic_fetch_add(&cb_calls, 1);
}

static void future_tests(void)
{
	struct fixtures x;
	filch_future *p;
	void *r;
	int code;
	const char *msg;

	fixtures_make(&x);

	/* test_cancel / test_cancelled / test_done / test_running */
	cf_promises(&p, 1);
	ok(filch_future_cancel(p) && filch_future_cancelled(p) &&
		   filch_future_done(p),
	   "cancel of a pending future: true; cancelled, done");
	ok(filch_future_cancel(p), "cancel of a cancelled future: true");
	filch_future_release(p);
	ok(!filch_future_cancel(x.running) && filch_future_running(x.running),
	   "cancel of a running future: false, still running");
	ok(!filch_future_cancel(x.ok) && !filch_future_cancelled(x.ok),
	   "cancel of a finished future: false");
	ok(!filch_future_done(x.pending) && !filch_future_running(x.pending),
	   "pending: neither done nor running");

	/* test_done_callback_with_result / _with_exception / _with_cancel */
	int kinds[3] = {0, EIO, -1};
	for (int k = 0; k < 3; k++) {
		cf_promises(&p, 1);
		atomic_store(&cb_calls, 0);
		filch_future_on_done(p, remember, NULL);
		ok(atomic_load(&cb_calls) == 0, "callback %d not called early", k);
		if (kinds[k] == 0)
			filch_promise_set_result(p, (void *)5);
		else if (kinds[k] > 0)
			filch_promise_set_error(p, kinds[k], "e");
		else
			filch_future_cancel(p);
		ok(atomic_load(&cb_calls) == 1 && cb_seen == p,
		   "callback called once with the future (%s)",
		   k == 0 ? "result" : k == 1 ? "error" : "cancelled");
		filch_future_release(p);
	}

	/* test_done_callback_already_successful / _failed / _cancelled */
	filch_future *done3[3] = {x.ok, x.failed, x.cancelled};
	for (int k = 0; k < 3; k++) {
		atomic_store(&cb_calls, 0);
		filch_future_on_done(done3[k], remember, NULL);
		ok(atomic_load(&cb_calls) == 1 && cb_seen == done3[k],
		   "callback on an already %s future runs at once",
		   k == 0 ? "successful" : k == 1 ? "failed" : "cancelled");
	}

	/* test_result_with_timeout / test_exception_with_timeout */
	int64_t t0 = tap_now_ns();
	is(filch_future_result(x.pending, 0, &r), -ETIMEDOUT,
	   "result(timeout 0) of a pending future: -ETIMEDOUT");
	is(filch_future_result(x.pending, 20 * MS, &r), -ETIMEDOUT,
	   "result(20 ms): -ETIMEDOUT");
	is(filch_future_error(x.pending, 20 * MS, &code, &msg), -ETIMEDOUT,
	   "exception(20 ms): -ETIMEDOUT");
	ok(tap_now_ns() - t0 >= 39 * MS, "after the timeouts");

	/* test_result_with_success / _with_cancel / test_exception_... */
	ok(filch_future_result(x.ok, 0, &r) == 0 && r == (void *)42,
	   "result of a successful future");
	is(filch_future_result(x.failed, 0, &r), EIO,
	   "result of a failed future: its code");
	ok(filch_future_error(x.failed, 0, &code, &msg) == 0 && code == EIO &&
		   msg && strcmp(msg, "failed fixture") == 0,
	   "exception of a failed future: code and message");
	is(filch_future_result(x.cancelled, 0, &r), -ECANCELED,
	   "result of a cancelled future: -ECANCELED");
	is(filch_future_error(x.cancelled, 0, &code, &msg), -ECANCELED,
	   "exception of a cancelled future: -ECANCELED");

	struct cf_completer c;
	long delay[] = {20};
	cf_completer_start(&c, &x.pending, NULL, delay, 1);
	ok(filch_future_result(x.pending, 5000 * MS, &r) == 0 && r == (void *)1,
	   "result() waits for a result set by another thread");
	cf_completer_join(&c);

	/* test_multiple_set_result / test_multiple_set_exception */
	is(filch_promise_set_result(x.ok, NULL), -EINVAL,
	   "set_result twice: -EINVAL (InvalidStateError)");
	is(filch_promise_set_error(x.failed, 1, NULL), -EINVAL,
	   "set_exception twice: -EINVAL");
	is(filch_promise_set_result(x.cancelled, NULL), -ECANCELED,
	   "set_result on a cancelled future: -ECANCELED");

	fixtures_drop(&x);
}

/* ---- test_init ---------------------------------------------------- */

static atomic_int init_calls;

static int init_ok(void *arg, unsigned worker)
{
	(void)arg;
	(void)worker;
	atomic_fetch_add(&init_calls, 1);
	return 0;
}

static int init_fails_on_1(void *arg, unsigned worker)
{
	(void)arg;
	atomic_fetch_add(&init_calls, 1);
	return worker == 1 ? ENOTRECOVERABLE : 0;
}

static void init_tests(void)
{
	filch_executor *ex = NULL;
	struct filch_executor_opts o = {.workers = 3, .initializer = init_ok};

	atomic_store(&init_calls, 0);
	is(filch_executor_create(&ex, &o), 0, "initializer that succeeds");
	is(atomic_load(&init_calls), 3, "ran once per worker (test_initializer)");
	filch_executor_destroy(ex);

	ex = (filch_executor *)&ex;
	o.initializer = init_fails_on_1;
	is(filch_executor_create(&ex, &o), -ENOTRECOVERABLE,
	   "an initializer that fails fails creation with its code "
	   "(FailingInitializerMixin)");
	ok(ex == NULL || ex == (filch_executor *)&ex,
	   "no executor is handed out");
}

int main(void)
{
	tap_plan(0);
	filch_executor *ex = cf_executor(4);
	wait_tests(ex);
	wait_race(ex);
	as_completed_tests(ex);
	map_tests(ex);
	filch_executor_destroy(ex);
	shutdown_cancel_futures();
	shutdown_races_submit();
	future_tests();
	init_tests();
	return tap_done();
}
