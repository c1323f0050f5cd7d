/* SPDX-License-Identifier: MIT */
/*
 * test_timers.c - time: delayed tasks, sleep and timeout futures, periodic
 * tasks, retries; the timer heap (ordering, cancellation racing expiry, a
 * storm), shutdown with armed timers, bad input, fork, the timer thread.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filch.h>

#include "future_helpers.h"
#include "tap.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define STORM 10000
#else
#define STORM 100000
#endif

static filch_future *const SENTINEL = (filch_future *)(uintptr_t)0x5a5a;

static int count_task(void *arg, void **result)
{
	(void)result;
	atomic_fetch_add((atomic_int *)arg, 1);
	return 0;
}

static int stamp_task(void *arg, void **result)
{
	*(_Atomic int64_t *)arg = tap_now_ns();
	*result = arg;
	return 0;
}

static void test_bad_input(filch_executor *ex)
{
	filch_future *f = SENTINEL;
	atomic_int n = 0;
	struct filch_retry_policy bad = {.flags = 1};
	struct filch_retry_policy neg = {.base_ns = -1};
	filch_future *p;

	is(filch_submit_after(NULL, 0, count_task, &n, &f), -EINVAL, "after: NULL ex");
	is(filch_submit_after(ex, 0, NULL, &n, &f), -EINVAL, "after: NULL fn");
	is(filch_submit_after(ex, -5, count_task, &n, &f), -EINVAL,
	   "after: a negative delay is -EINVAL");
	is(filch_submit_after(ex, FILCH_FOREVER, count_task, &n, &f), -EINVAL,
	   "after: FILCH_FOREVER is no delay: -EINVAL");
	is(filch_sleep_future(ex, -1, &f), -EINVAL, "sleep: negative delay");
	is(filch_sleep_future(ex, 0, NULL), -EINVAL, "sleep: NULL out");
	is(filch_sleep_future(NULL, 0, &f), -EINVAL, "sleep: NULL ex");
	is(filch_submit_periodic(ex, 0, 0, 0, count_task, &n, &f), -EINVAL,
	   "periodic: period 0");
	is(filch_submit_periodic(ex, 0, -MS, 0, count_task, &n, &f), -EINVAL,
	   "periodic: negative period");
	is(filch_submit_periodic(ex, -1, MS, 0, count_task, &n, &f), -EINVAL,
	   "periodic: negative delay");
	is(filch_submit_periodic(ex, 0, MS, 4, count_task, &n, &f), -EINVAL,
	   "periodic: unknown flag");
	is(filch_submit_periodic(ex, 0, MS, 0, count_task, &n, NULL), -EINVAL,
	   "periodic: NULL handle");
	is(filch_submit_retry(ex, count_task, &n, &bad, &f), -EINVAL,
	   "retry: unknown policy flag");
	is(filch_submit_retry(ex, count_task, &n, &neg, &f), -EINVAL,
	   "retry: negative base");
	is(filch_submit_retry(ex, count_task, &n, NULL, NULL), -EINVAL,
	   "retry: NULL fut");
	is(filch_submit_retry(ex, NULL, &n, NULL, &f), -EINVAL, "retry: NULL fn");
	filch_promise_create(&p);
	is(filch_future_with_timeout(NULL, ex, MS, 0, &f), -EINVAL,
	   "timeout: NULL f");
	is(filch_future_with_timeout(p, NULL, MS, 0, &f), -EINVAL,
	   "timeout: NULL ex");
	is(filch_future_with_timeout(p, ex, MS, 2, &f), -EINVAL,
	   "timeout: unknown flag");
	is(filch_future_with_timeout(p, ex, MS, 0, NULL), -EINVAL,
	   "timeout: NULL out");
	ok(f == SENTINEL, "no output written by a failing call");
	sleep_ns(5 * MS);
	is(atomic_load(&n), 0, "no task ran for a refused call");
	filch_future_release(p);
}

/* On a worker: waits, without a timeout, for a delayed task of its own
 * executor; returns how long after the call the task ran (ns). */
static int wait_delayed(void *arg, void **result)
{
	_Atomic int64_t *ran = arg;
	filch_future *f;
	int64_t t0 = tap_now_ns();
	void *r;
	int rc;

	if ((rc = filch_submit_after(filch_current_executor(), 100 * MS,
				     stamp_task, arg, &f)) != 0)
		return -rc;
	rc = filch_future_result(f, FILCH_FOREVER, &r);
	filch_future_release(f);
	*result = (void *)(intptr_t)(atomic_load(ran) - t0);
	return rc < 0 ? -rc : rc;
}

static void test_submit_after(filch_executor *ex)
{
	_Atomic int64_t ran = 0;
	filch_future *f;
	void *r = NULL;
	int64_t t0 = tap_now_ns();

	is(filch_submit_after(ex, 30 * MS, stamp_task, (void *)&ran, &f), 0,
	   "submit_after returns 0");
	is(filch_future_state(f), FILCH_PENDING, "pending during the delay");
	is(filch_future_result(f, FILCH_FOREVER, &r), 0, "the delayed task ran");
	ok(r == (void *)&ran, "with its result");
	ok(atomic_load(&ran) - t0 >= 30 * MS, "not before its delay (%lld us)",
	   (long long)((atomic_load(&ran) - t0) / 1000));
	filch_future_release(f);

	filch_future *w;
	atomic_store(&ran, 0);
	filch_submit(ex, wait_delayed, (void *)&ran, &w);
	is(filch_future_result(w, FILCH_FOREVER, &r), 0,
	   "a worker waits for a delayed task of its executor");
	ok((intptr_t)r >= 100 * MS, "which does not run before its deadline "
				     "in the waiter's place (%lld ms)",
	   (long long)((intptr_t)r / MS));
	filch_future_release(w);

	atomic_int n = 0;
	is(filch_submit_after(ex, 0, count_task, &n, NULL), 0,
	   "fire and forget, no delay");
	ok(EVENTUALLY(atomic_load(&n) == 1), "the fire-and-forget task ran");
}

static int fail_msg(void *arg, void **result)
{
	(void)result;
	return filch_task_fail(EIO, "bad %s", (const char *)arg);
}

static void test_cancel(filch_executor *ex)
{
	atomic_int n = 0, cbs = 0;
	filch_future *f, *s;

	is(filch_submit_after(ex, 10000 * MS, count_task, &n, &f), 0,
	   "a 10 s delayed task");
	filch_future_on_done(f, count_cb, &cbs);
	ok(filch_future_cancel(f), "cancel before the deadline wins");
	is(filch_future_state(f), FILCH_CANCELLED, "its future is CANCELLED");
	is(atomic_load(&cbs), 1, "its callback ran once, in the canceller");
	ok(!filch_future_cancel(f) || filch_future_cancelled(f),
	   "a second cancel changes nothing");
	filch_future_release(f);
	is(filch_sleep_future(ex, 10000 * MS, &s), 0, "a 10 s sleep");
	ok(filch_future_cancel(s), "cancelling a sleep");
	filch_future_release(s);
	/* Both timers left the heap: destroying does not wait 10 s. */
	(void)ex;

	filch_future *e;
	static char disk[] = "disk";
	is(filch_submit_after(ex, MS, fail_msg, disk, &e), 0,
	   "a delayed task that fails");
	ok(failed_with(e, EIO, "bad disk"), "fails with its code and message");
	filch_future_release(e);
}

/* Many timers race their cancels: exactly one of run and cancel wins. */
struct race {
	atomic_int ran, cbs;
};

static int race_task(void *arg, void **result)
{
	(void)result;
	atomic_fetch_add(&((struct race *)arg)->ran, 1);
	return 0;
}

static void race_cb(filch_future *f, void *arg)
{
	(void)f;
	atomic_fetch_add(&((struct race *)arg)->cbs, 1);
}

static void test_cancel_race(void)
{
	enum { N = 2000 };
	filch_executor *ex = make_executor(2);
	static struct race rs[N];
	filch_future *fs[N];
	bool won[N];
	int cancelled = 0, bad = 0;

	for (int i = 0; i < N; i++) {
		filch_submit_after(ex, (i % 50) * 4000, race_task, &rs[i], &fs[i]);
		filch_future_on_done(fs[i], race_cb, &rs[i]);
		if (i % 3 == 0)
			sleep_ns(20000);
		if (i >= 10)
			won[i - 10] = filch_future_cancel(fs[i - 10]);
	}
	for (int i = N - 10; i < N; i++)
		won[i] = filch_future_cancel(fs[i]);
	filch_executor_destroy(ex);
	for (int i = 0; i < N; i++) {
		int ran = atomic_load(&rs[i].ran);
		cancelled += won[i];
		if (ran + won[i] != 1 || atomic_load(&rs[i].cbs) != 1 ||
		    filch_future_cancelled(fs[i]) != won[i])
			bad++;
		filch_future_release(fs[i]);
	}
	is(bad, 0, "cancel racing expiry: one winner, callbacks once (%d of "
		   "%d cancelled)", cancelled, N);
}

/* Timer-thread callbacks record the firing order of sleep futures. */
struct order {
	atomic_int next;
	int seq[400];
	int64_t fired[400];
};
struct order_item {
	struct order *o;
	int index;
};

static void order_cb(filch_future *f, void *arg)
{
	struct order_item *it = arg;
	int k = atomic_fetch_add(&it->o->next, 1);

	(void)f;
	it->o->seq[k] = it->index;
	it->o->fired[k] = tap_now_ns();
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void test_ordering(filch_executor *ex)
{
	enum { N = 400 };
	static struct order o;
	static struct order_item items[N];
	filch_future *fs[N];
	int64_t deadline[N], latest[N], late[N];
	int inversions = 0, early = 0;

	srand(7);
	for (int i = 0; i < N; i++) {
		int64_t d = (rand() % 100000) * 1000LL; /* up to 100 ms */
		items[i] = (struct order_item){&o, i};
		/* The real deadline lies between these two. */
		deadline[i] = tap_now_ns() + d;
		filch_sleep_future(ex, d, &fs[i]);
		latest[i] = tap_now_ns() + d;
		filch_future_on_done(fs[i], order_cb, &items[i]);
	}
	filch_wait(fs, N, FILCH_FOREVER, FILCH_ALL_COMPLETED, NULL);
	ok(EVENTUALLY(atomic_load(&o.next) == N), "every timer fired once");
	for (int k = 0; k < N; k++) {
		int i = o.seq[k];
		late[k] = o.fired[k] - deadline[i];
		if (late[k] < 0)
			early++;
		if (k > 0 && latest[i] < deadline[o.seq[k - 1]])
			inversions++;
	}
	is(early, 0, "no timer fired before its deadline");
	is(inversions, 0, "timers fire in deadline order");
	qsort(late, N, sizeof(late[0]), cmp64);
	diag("sleep-future lateness on this machine: p50 %lld us, p99 %lld us",
	     (long long)late[N / 2] / 1000, (long long)late[N * 99 / 100] / 1000);
	for (int i = 0; i < N; i++)
		filch_future_release(fs[i]);
}

static void test_storm(void)
{
	filch_executor *ex = make_executor(2);
	filch_future **fs = calloc(STORM, sizeof(*fs));
	atomic_int n = 0;
	int wrong = 0;

	struct mallinfo2 m0 = mallinfo2(), m1;

	srand(11);
	for (int i = 0; i < STORM; i++)
		if (filch_submit_after(ex, 100 * MS + (rand() % 100000) * 1000LL,
				       count_task, &n, &fs[i]))
			wrong++;
	m1 = mallinfo2();
	diag("storm: %zu bytes of malloc per armed timer beyond its future",
	     (m1.uordblks + m1.hblkhd - m0.uordblks - m0.hblkhd) / STORM);
	for (int i = 0; i < STORM; i += 2)
		if (!filch_future_cancel(fs[i]))
			wrong++; /* lost to expiry */
	filch_executor_destroy(ex);
	int ran = atomic_load(&n), cancelled = 0;
	for (int i = 0; i < STORM; i++) {
		cancelled += filch_future_cancelled(fs[i]);
		filch_future_release(fs[i]);
	}
	free(fs);
	ok(ran + cancelled == STORM, "storm of %d timers: %d ran, %d cancelled",
	   STORM, ran, cancelled);
	ok(ran >= STORM / 2, "every timer not cancelled ran (%d)", ran);
	diag("storm: %d cancels lost to expiry", wrong);
}

static void test_shutdown_wait(void)
{
	filch_executor *ex = make_executor(2);
	atomic_int n = 0;
	filch_future *s;
	int64_t t0 = tap_now_ns();

	for (int i = 0; i < 10; i++)
		filch_submit_after(ex, 50 * MS, count_task, &n, NULL);
	filch_sleep_future(ex, 60 * MS, &s);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0, "shutdown with WAIT");
	is(atomic_load(&n), 10, "it waited for the armed tasks, which ran");
	ok(tap_now_ns() - t0 >= 50 * MS, "after their delay");
	is(filch_future_state(s), FILCH_FINISHED, "and for the sleep");
	is(filch_submit_after(ex, 0, count_task, &n, NULL), -ESHUTDOWN,
	   "a timer after shutdown: -ESHUTDOWN");
	is(filch_sleep_future(ex, 0, &s) == -ESHUTDOWN, 1,
	   "a sleep after shutdown: -ESHUTDOWN");
	filch_future_release(s);
	filch_executor_destroy(ex);
}

static void test_shutdown_cancel(void)
{
	filch_executor *ex = make_executor(2);
	atomic_int n = 0, cbs = 0;
	filch_future *fs[20], *p, *t;
	int64_t t0 = tap_now_ns();

	for (int i = 0; i < 10; i++) {
		filch_submit_after(ex, 10000 * MS, count_task, &n, &fs[i]);
		filch_future_on_done(fs[i], count_cb, &cbs);
		filch_sleep_future(ex, 10000 * MS, &fs[10 + i]);
	}
	filch_promise_create(&p);
	filch_future_with_timeout(p, ex, 10000 * MS, 0, &t);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING), 0,
	   "cancelling shutdown");
	int cancelled = 0;
	for (int i = 0; i < 20; i++)
		cancelled += filch_future_cancelled(fs[i]);
	is(cancelled, 20, "every armed timer's future is CANCELLED on return");
	is(atomic_load(&cbs), 10, "their callbacks ran");
	ok(filch_future_cancelled(t), "a pending timeout is cancelled");
	filch_executor_destroy(ex);
	ok(tap_now_ns() - t0 < 5000 * MS, "and nobody waited for them");
	is(atomic_load(&n), 0, "no cancelled task ran");
	for (int i = 0; i < 20; i++)
		filch_future_release(fs[i]);
	filch_future_release(t);
	filch_future_release(p);
}

/* test_shutdown_cancel_helped: its sleeps' callbacks and what they saw. */
struct helped {
	filch_executor *ex;
	pthread_t caller;
	atomic_int fired, on_timer, done, caller_rc, timer_rc;
	atomic_bool caller_held, timer_held;
};

static void helped_cb(filch_future *f, void *arg)
{
	struct helped *h = arg;

	if (!filch_future_cancelled(f)) {
		atomic_fetch_add(&h->fired, 1); /* its deadline came first */
	} else if (pthread_equal(pthread_self(), h->caller)) {
		/* The caller's first cancel: the lock is free until the timer
		 * thread, woken by its deadline, took a swept sleep. Then a
		 * second shutdown from inside this fire. */
		if (!atomic_exchange(&h->caller_held, true)) {
			(void)EVENTUALLY(atomic_load(&h->on_timer));
			atomic_store(&h->caller_rc, filch_shutdown(
				h->ex, FILCH_SHUTDOWN_CANCEL_PENDING));
		}
	} else {
		/* The timer thread's first: shuts down from inside its fire,
		 * then is slow, while the caller cancels the rest. */
		atomic_fetch_add(&h->on_timer, 1);
		if (!atomic_exchange(&h->timer_held, true)) {
			atomic_store(&h->timer_rc, filch_shutdown(
				h->ex, FILCH_SHUTDOWN_CANCEL_PENDING));
			sleep_ns(100 * MS);
		}
	}
	atomic_fetch_add(&h->done, 1);
}

/* The timer thread pops swept timers too, as soon as the cancelling
 * shutdown drops the heap's lock to fire one: the shutdown must not return
 * while it is still cancelling one of them. Each sleep's deadline is 200 ms
 * after the last, so the timer thread wakes during the shutdown even when
 * a loaded machine let the first ones fire before it. */
static void test_shutdown_cancel_helped(void)
{
	enum { N = 20 };
	struct helped h = {.ex = make_executor(1), .caller = pthread_self()};
	filch_future *fs[N];
	int cancelled = 0;

	alarm(60); /* a shutdown that waits for its own fire hangs */
	for (int i = 0; i < N; i++) {
		filch_sleep_future(h.ex, (i + 1) * 200 * MS, &fs[i]);
		filch_future_on_done(fs[i], helped_cb, &h);
	}
	is(filch_shutdown(h.ex, FILCH_SHUTDOWN_CANCEL_PENDING), 0,
	   "cancelling shutdown, the timer thread helping");
	int done = atomic_load(&h.done), fired = atomic_load(&h.fired);
	for (int i = 0; i < N; i++)
		cancelled += filch_future_cancelled(fs[i]);
	ok(atomic_load(&h.on_timer) > 0,
	   "the timer thread cancelled %d of the swept sleeps",
	   atomic_load(&h.on_timer));
	is(fired + cancelled, N, "on return each sleep fired (%d) or is "
	   "CANCELLED (%d)", fired, cancelled);
	is(done, N, "on return every callback ran, those of the timer "
	   "thread's cancels included");
	is(atomic_load(&h.caller_rc), 0,
	   "a second shutdown from the caller's cancel callback returns");
	is(atomic_load(&h.timer_rc), 0,
	   "a second shutdown from the timer thread's cancel callback returns");
	filch_executor_destroy(h.ex);
	alarm(0);
	is(atomic_load(&h.done), N, "each callback ran once");
	for (int i = 0; i < N; i++)
		filch_future_release(fs[i]);
}

/* test_shutdown_timed_bounded: a cancel callback on the timer thread that
 * outlasts the timed shutdown's deadline. */
struct bounded {
	pthread_t caller;
	atomic_int on_timer, slow_done;
	atomic_bool caller_held;
};

static void bounded_cb(filch_future *f, void *arg)
{
	struct bounded *b = arg;

	if (!filch_future_cancelled(f))
		return;
	if (pthread_equal(pthread_self(), b->caller)) {
		/* Hold the caller until the timer thread took a swept sleep. */
		if (!atomic_exchange(&b->caller_held, true))
			(void)EVENTUALLY(atomic_load(&b->on_timer));
	} else if (atomic_fetch_add(&b->on_timer, 1) == 0) {
		sleep_ns(1000 * MS);
		atomic_store(&b->slow_done, 1);
	}
}

/* filch_shutdown_timed waits for the swept timers that another thread
 * fires only up to its deadline, as for the rest of its wait. */
static void test_shutdown_timed_bounded(void)
{
	enum { N = 20 };
	filch_executor *ex = make_executor(1);
	struct bounded b = {.caller = pthread_self()};
	struct filch_shutdown_report *r = NULL;
	filch_future *fs[N];

	for (int i = 0; i < N; i++) {
		filch_sleep_future(ex, (i + 1) * 200 * MS, &fs[i]);
		filch_future_on_done(fs[i], bounded_cb, &b);
	}
	int rc = filch_shutdown_timed(ex, FILCH_SHUTDOWN_CANCEL_PENDING,
				      50 * MS, &r);
	bool slow_running = !atomic_load(&b.slow_done);

	if (atomic_load(&b.on_timer) == 0) {
		skip(2, "the timer thread took no swept sleep");
	} else {
		ok(slow_running, "a timed shutdown returns before a slow cancel "
		   "callback on the timer thread ends");
		is(rc, -ETIMEDOUT, "and says it timed out");
	}
	filch_shutdown_report_free(r);
	filch_executor_destroy(ex);
	is(atomic_load(&b.slow_done), 1, "destroy waited for that callback");
	for (int i = 0; i < N; i++)
		filch_future_release(fs[i]);
}

static int sleepy(void *arg, void **result)
{
	sleep_ns((int64_t)(intptr_t)arg);
	*result = arg;
	return 0;
}

static void test_timeout(filch_executor *ex)
{
	filch_future *f, *out, *p;
	void *r = NULL;

	/* Finishes before the deadline, then after it (margins for a loaded
	 * machine; the race below takes them close). */
	filch_submit_after(ex, 10 * MS, return_arg, (void *)7, &f);
	is(filch_future_with_timeout(f, ex, 2000 * MS, 0, &out), 0, "with_timeout");
	is(filch_future_result(out, FILCH_FOREVER, &r), 0,
	   "done before the deadline: out has f's result");
	ok(r == (void *)7, "the same result");
	filch_future_release(out);
	filch_future_release(f);

	filch_submit_after(ex, 300 * MS, return_arg, (void *)7, &f);
	filch_future_with_timeout(f, ex, 20 * MS, 0, &out);
	is(filch_future_result(out, FILCH_FOREVER, &r), ETIMEDOUT,
	   "done after the deadline: out fails with ETIMEDOUT");
	ok(failed_with(out, ETIMEDOUT, "timed out"), "message \"timed out\"");
	is(filch_future_result(f, FILCH_FOREVER, &r), 0,
	   "f is left running and finishes");
	filch_future_release(out);
	filch_future_release(f);

	/* Errors, cancellation, FOREVER, 0, CANCEL. */
	filch_promise_create(&p);
	filch_future_with_timeout(p, ex, 10000 * MS, 0, &out);
	filch_promise_set_error(p, EPIPE, "pipe gone");
	ok(failed_with(out, EPIPE, "pipe gone"), "f's error and message copied");
	filch_future_release(out);
	filch_future_release(p);

	filch_promise_create(&p);
	filch_future_with_timeout(p, ex, 10000 * MS, 0, &out);
	filch_future_cancel(p);
	ok(filch_future_cancelled(out), "f cancelled: out cancelled");
	filch_future_release(out);
	filch_future_release(p);

	filch_promise_create(&p);
	filch_future_with_timeout(p, ex, FILCH_FOREVER, 0, &out);
	is(filch_future_result(out, 30 * MS, &r), -ETIMEDOUT,
	   "FILCH_FOREVER never times out");
	filch_promise_set_result(p, (void *)9);
	ok(filch_future_result(out, FILCH_FOREVER, &r) == 0 && r == (void *)9,
	   "and follows f");
	filch_future_release(out);
	filch_future_release(p);

	filch_promise_create(&p);
	filch_promise_set_result(p, (void *)3);
	filch_future_with_timeout(p, ex, 0, 0, &out);
	ok(filch_future_result(out, FILCH_FOREVER, &r) == 0 && r == (void *)3,
	   "timeout 0 on a done f: f's outcome");
	filch_future_release(out);
	filch_future_release(p);

	filch_promise_create(&p);
	filch_future_with_timeout(p, ex, -7, 0, &out);
	ok(failed_with(out, ETIMEDOUT, "timed out"),
	   "a negative timeout on a pending f: times out at once");
	ok(!filch_future_done(p), "f is left alone without FILCH_TIMEOUT_CANCEL");
	filch_future_release(out);
	filch_future_with_timeout(p, ex, 5 * MS, FILCH_TIMEOUT_CANCEL, &out);
	ok(failed_with(out, ETIMEDOUT, "timed out"), "times out");
	ok(EVENTUALLY(filch_future_cancelled(p)),
	   "FILCH_TIMEOUT_CANCEL cancels f");
	filch_future_release(out);
	filch_future_release(p);

	filch_promise_create(&p);
	filch_future_with_timeout(p, ex, 10000 * MS, 0, &out);
	ok(filch_future_cancel(out), "cancelling out");
	ok(!filch_future_done(p), "leaves f alone");
	filch_future_release(out);
	filch_future_release(p);

	/* The race: completion and deadline together, one outcome. */
	int bad = 0, timeouts = 0;
	for (int i = 0; i < 300; i++) {
		atomic_int cbs = 0;
		filch_promise_create(&p);
		filch_future_with_timeout(p, ex, (i % 20) * 10000, 0, &out);
		filch_future_on_done(out, count_cb, &cbs);
		sleep_ns((i % 17) * 10000);
		int rc = filch_promise_set_result(p, (void *)1);
		int got = filch_future_result(out, FILCH_FOREVER, &r);
		timeouts += got == ETIMEDOUT;
		if (rc != 0 || !(got == ETIMEDOUT || (got == 0 && r == (void *)1)) ||
		    !EVENTUALLY(atomic_load(&cbs) == 1))
			bad++;
		filch_future_release(out);
		filch_future_release(p);
	}
	is(bad, 0, "completion racing the deadline: one outcome, one callback "
		   "(%d of 300 timed out)", timeouts);
}

static void test_sleep_when_any(filch_executor *ex)
{
	filch_future *fs[2], *any;
	void *r = NULL;

	filch_submit(ex, sleepy, (void *)(intptr_t)(600 * MS), &fs[0]);
	filch_sleep_future(ex, 20 * MS, &fs[1]);
	filch_when_any(fs, 2, &any);
	is(filch_future_result(any, FILCH_FOREVER, &r), 0, "when_any with a sleep");
	ok(r == (void *)1, "the sleep came first: a timeout");
	is(filch_promise_set_result(fs[1], (void *)5), -EINVAL,
	   "a sleep future is not a promise");
	is(filch_future_result(fs[1], 0, &r), 0, "a sleep finishes with 0");
	ok(r == NULL, "and result NULL");
	filch_future_release(any);
	filch_future_result(fs[0], FILCH_FOREVER, &r);
	filch_future_release(fs[0]);
	filch_future_release(fs[1]);
}

/* Retries. */
struct flaky {
	atomic_int calls;
	int succeed_on; /* 0: never */
	int64_t last_ns;
};

static int flaky_task(void *arg, void **result)
{
	struct flaky *fl = arg;
	int k = atomic_fetch_add(&fl->calls, 1) + 1;

	if (fl->succeed_on && k >= fl->succeed_on) {
		*result = (void *)(intptr_t)k;
		return 0;
	}
	return filch_task_fail(k == 1 ? EAGAIN : EIO, "attempt %d", k);
}

static bool only_eagain(int code, void *arg)
{
	(void)arg;
	return code == EAGAIN;
}

static void test_retry(void)
{
	filch_executor *ex = make_executor(1);
	struct flaky fl = {.succeed_on = 3};
	unsigned attempts = 0;
	struct filch_retry_policy p = {.max_attempts = 5, .base_ns = MS,
				       .cap_ns = 4 * MS, .attempts = &attempts};
	filch_future *f;
	void *r = NULL;

	is(filch_submit_retry(ex, flaky_task, &fl, &p, &f), 0, "submit_retry");
	is(filch_future_result(f, FILCH_FOREVER, &r), 0, "succeeds on attempt 3");
	ok(r == (void *)3, "with that attempt's result");
	is(attempts, 3, "attempts reported: 3");
	filch_future_release(f);

	struct flaky never = {0};
	p.max_attempts = 4;
	filch_submit_retry(ex, flaky_task, &never, &p, &f);
	ok(failed_with(f, EIO, "attempt 4"),
	   "gives up: the last code and message");
	is(attempts, 4, "after max_attempts");
	is(atomic_load(&never.calls), 4, "fn ran max_attempts times");
	filch_future_release(f);

	struct flaky pred = {0};
	p.retry_if = only_eagain;
	filch_submit_retry(ex, flaky_task, &pred, &p, &f);
	ok(failed_with(f, EIO, "attempt 2"),
	   "retry_if refuses EIO: stops at the first EIO");
	is(attempts, 2, "attempts: 2");
	filch_future_release(f);

	/* The backoff holds no worker: one worker runs other tasks. */
	struct flaky slow = {.succeed_on = 2};
	struct filch_retry_policy lp = {.base_ns = 3000 * MS,
					.cap_ns = 3000 * MS};
	_Atomic int64_t when = 0;
	filch_future *g;
	filch_submit_retry(ex, flaky_task, &slow, &lp, &f);
	ok(EVENTUALLY(atomic_load(&slow.calls) == 1), "first attempt failed");
	int64_t t0 = tap_now_ns();
	filch_submit(ex, stamp_task, (void *)&when, &g);
	filch_future_result(g, FILCH_FOREVER, &r);
	ok(atomic_load(&when) - t0 < 1000 * MS || filch_future_done(f),
	   "a task runs on the only worker during the backoff (%lld ms)",
	   (long long)(atomic_load(&when) - t0) / MS);
	/* The backoff is uniform in [0, 3 s]: it may have ended already. */
	bool stopped = filch_future_cancel(f);
	ok(stopped || filch_future_done(f), "cancelling a retry in its backoff");
	filch_future_release(g);
	filch_future_release(f);
	int64_t t1 = tap_now_ns();
	filch_executor_destroy(ex);
	ok(tap_now_ns() - t1 < 1000 * MS, "its timer was removed: destroy does "
					 "not wait for the backoff");
	is(atomic_load(&slow.calls), stopped ? 1 : 2,
	   "no attempt after the cancel");
}

/* Periodic tasks. */
struct tick {
	atomic_int runs, inside, overlap;
	int fail_on;
	int64_t sleep;
};

static int tick_task(void *arg, void **result)
{
	struct tick *t = arg;
	(void)result;
	if (atomic_fetch_add(&t->inside, 1) != 0)
		atomic_store(&t->overlap, 1);
	int k = atomic_fetch_add(&t->runs, 1) + 1;
	if (t->sleep)
		sleep_ns(t->sleep);
	atomic_fetch_sub(&t->inside, 1);
	if (t->fail_on && k == t->fail_on)
		return filch_task_fail(EIO, "tick %d", k);
	return 0;
}

static void test_periodic(filch_executor *ex)
{
	struct tick rate = {0}, delay = {0}, over = {0}, fail = {.fail_on = 3};
	filch_future *h1, *h2, *h3, *h4;

	is(filch_submit_periodic(ex, 0, 10 * MS, 0, tick_task, &rate, &h1), 0,
	   "fixed rate, 10 ms");
	delay.sleep = 10 * MS;
	is(filch_submit_periodic(ex, 0, 10 * MS, FILCH_FIXED_DELAY, tick_task,
				 &delay, &h2),
	   0, "fixed delay, 10 ms after runs of 10 ms");
	over.sleep = 25 * MS;
	filch_submit_periodic(ex, 0, 10 * MS, 0, tick_task, &over, &h3);
	sleep_ns(200 * MS);
	ok(filch_future_cancel(h1) && filch_future_cancel(h2) &&
		   filch_future_cancel(h3),
	   "cancelling the handles");
	int r1 = atomic_load(&rate.runs), r2 = atomic_load(&delay.runs),
	    r3 = atomic_load(&over.runs);
	diag("in 200 ms: fixed rate %d runs, fixed delay %d, overrunning %d",
	     r1, r2, r3);
	ok(r1 >= 4 && r1 <= 21, "fixed rate: at most 20 runs, and no burst (%d)", r1);
	ok(r2 >= 2 && r2 <= 11, "fixed delay drifts: at most 10 runs (%d)", r2);
	ok(r3 >= 2 && r3 <= 9, "overrunning fixed rate: no pile-up (%d)", r3);
	ok(!atomic_load(&over.overlap), "runs never overlap");
	sleep_ns(60 * MS);
	ok(atomic_load(&rate.runs) <= r1 + 1 && atomic_load(&delay.runs) <= r2 + 1 &&
		   atomic_load(&over.runs) <= r3 + 1,
	   "no run starts after the cancel");
	ok(filch_future_cancelled(h1), "the handle is CANCELLED");

	is(filch_submit_periodic(ex, MS, MS, 0, tick_task, &fail, &h4), 0,
	   "a periodic task that fails on its third run");
	ok(failed_with(h4, EIO, "tick 3"), "its handle fails with code, message");
	sleep_ns(20 * MS);
	is(atomic_load(&fail.runs), 3, "and it ran no more");
	filch_future_release(h1);
	filch_future_release(h2);
	filch_future_release(h3);
	filch_future_release(h4);
}

static void test_periodic_shutdown(void)
{
	filch_executor *ex = make_executor(2);
	struct tick t = {0};
	filch_future *h;

	filch_submit_periodic(ex, 0, 5 * MS, 0, tick_task, &t, &h);
	sleep_ns(20 * MS);
	int64_t t0 = tap_now_ns();
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0,
	   "a waiting shutdown with a periodic task");
	ok(tap_now_ns() - t0 < 2000 * MS, "returns: the repetition ended");
	ok(filch_future_cancelled(h), "the handle is CANCELLED");
	filch_future_release(h);
	filch_executor_destroy(ex);
}

static int gate_task(void *arg, void **result)
{
	(void)result;
	while (!atomic_load((atomic_int *)arg))
		sleep_ns(100000);
	return 0;
}

/* At the deadline a full bounded queue refuses the task, whatever its
 * policy: the timer thread neither blocks nor runs it. */
static void test_queue_full(void)
{
	struct filch_executor_opts o = {.workers = 1, .queue_capacity = 1};
	filch_executor *ex;
	filch_future *g, *q, *f;
	atomic_int open = 0, n = 0;

	filch_executor_create(&ex, &o);
	filch_submit(ex, gate_task, &open, &g);
	ok(EVENTUALLY(filch_future_running(g)), "the only worker is busy");
	filch_submit(ex, count_task, &n, &q); /* fills the queue */
	is(filch_submit_after(ex, 0, count_task, &n, &f), 0, "armed");
	ok(failed_with(f, EAGAIN, "the delayed task could not be submitted"),
	   "a full bounded queue fails the delayed task with EAGAIN");
	atomic_store(&open, 1);
	filch_executor_destroy(ex);
	is(atomic_load(&n), 1, "the queued task ran, the refused one did not");
	filch_future_release(g);
	filch_future_release(q);
	filch_future_release(f);
}

static void test_thread_and_idle(void)
{
	struct filch_executor_opts o = {.workers = 1, .name_prefix = "tmrtest"};
	filch_executor *ex;
	filch_future *s;
	struct rusage a, b;
	bool found = false;
	char path[64], comm[32];

	filch_executor_create(&ex, &o);
	filch_sleep_future(ex, 400 * MS, &s);
	/* The thread names itself when it starts. */
	for (int tries = 0; tries < 100 && !found; tries++) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			snprintf(path, sizeof(path), "/proc/self/task/%.20s/comm",
				 e->d_name);
			FILE *fp = fopen(path, "r");
			if (fp && fgets(comm, sizeof(comm), fp) &&
			    strcmp(comm, "tmrtest-timer\n") == 0)
				found = true;
			if (fp)
				fclose(fp);
		}
		if (d)
			closedir(d);
		if (!found)
			sleep_ns(MS);
	}
	ok(found, "the timer thread is named <prefix>-timer");
	getrusage(RUSAGE_SELF, &a);
	sleep_ns(200 * MS);
	getrusage(RUSAGE_SELF, &b);
	int64_t us = (b.ru_utime.tv_sec - a.ru_utime.tv_sec) * 1000000LL +
		     (b.ru_utime.tv_usec - a.ru_utime.tv_usec) +
		     (b.ru_stime.tv_sec - a.ru_stime.tv_sec) * 1000000LL +
		     (b.ru_stime.tv_usec - a.ru_stime.tv_usec);
	ok(us < 20000, "an armed timer costs no CPU while idle (%lld us in "
		       "200 ms)", (long long)us);
	ok(filch_future_cancel(s), "cancel the sleep");
	filch_future_release(s);
	filch_executor_destroy(ex);
}

static void test_fork(filch_executor *ex)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		filch_future *f = SENTINEL;
		int bad = 0;
		atomic_int n = 0;
		bad |= filch_submit_after(ex, 0, count_task, &n, &f) != -EOWNERDEAD;
		bad |= filch_sleep_future(ex, 0, &f) != -EOWNERDEAD;
		bad |= filch_submit_periodic(ex, 0, MS, 0, count_task, &n, &f) !=
		       -EOWNERDEAD;
		bad |= filch_submit_retry(ex, count_task, &n, NULL, &f) !=
		       -EOWNERDEAD;
		filch_future *p;
		filch_promise_create(&p);
		bad |= filch_future_with_timeout(p, ex, MS, 0, &f) != -EOWNERDEAD;
		bad |= f != SENTINEL;
#ifndef __SANITIZE_THREAD__ /* TSan: no threads after a threaded fork */
		/* The child's own executors have timers. */
		filch_executor *mine = make_executor(1);
		bad |= filch_sleep_future(mine, MS, &f) != 0;
		bad |= f == SENTINEL || filch_future_result(f, FILCH_FOREVER, NULL);
		filch_future_release(f);
		filch_executor_destroy(mine);
#endif
		_exit(bad);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "in a child of fork(): -EOWNERDEAD, nothing written; the child's "
	   "own executor has timers");
}

int main(void)
{
	filch_executor *ex = make_executor(2);

	test_bad_input(ex);
	test_submit_after(ex);
	test_cancel(ex);
	test_ordering(ex);
	test_timeout(ex);
	test_sleep_when_any(ex);
	test_periodic(ex);
	test_fork(ex);
	filch_executor_destroy(ex);
	test_cancel_race();
	test_storm();
	test_shutdown_wait();
	test_shutdown_cancel();
	test_shutdown_cancel_helped();
	test_shutdown_timed_bounded();
	test_retry();
	test_periodic_shutdown();
	test_thread_and_idle();
	test_queue_full();
	return tap_done();
}
