/* SPDX-License-Identifier: MIT */
/*
 * test_future_then.c - continuations and combinators on an executor:
 * filch_future_then with results, errors and cancellation travelling
 * downstream, a chain of 10^5 continuations (succeeding, failing and
 * cancelled at its head), continuations whose executor shut down, and
 * when_all / when_any over tasks with errors and cancellations.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <filch.h>

#include "future_helpers.h"
#include "tap.h"

static int return_code(void *arg, void **result)
{
	(void)result;
	return filch_task_fail((int)(intptr_t)arg, "task failed with %d",
			       (int)(intptr_t)arg);
}

/* then fn: the antecedent's result plus arg. */
static atomic_int then_calls;

static int add_to_antecedent(filch_future *a, void *arg, void **result)
{
	void *v = NULL;
	atomic_fetch_add(&then_calls, 1);
	int rc = filch_future_result(a, 0, &v);
	if (rc)
		return filch_task_fail(EPROTO, "antecedent not done: %d", rc);
	*result = (void *)((intptr_t)v + (intptr_t)arg);
	return 0;
}

static int then_fails(filch_future *a, void *arg, void **result)
{
	(void)a;
	(void)arg;
	(void)result;
	return filch_task_fail(EDOM, "continuation says %s", "no");
}

static int count_then(filch_future *a, void *arg, void **result)
{
	(void)a;
	(void)result;
	atomic_fetch_add((atomic_int *)arg, 1);
	return 0;
}

static int then_on_worker(filch_future *a, void *arg, void **result)
{
	(void)a;
	*result = filch_current_executor();
	return arg == NULL ? 0 : EINVAL;
}

static void test_then_basics(filch_executor *ex)
{
	filch_future *f, *out = NULL;
	void *res = NULL;
	filch_submit(ex, return_arg, (void *)20, &f);
	ok(filch_future_then(NULL, ex, add_to_antecedent, NULL, &out) == -EINVAL,
	   "then of NULL is -EINVAL");
	ok(filch_future_then(f, NULL, add_to_antecedent, NULL, &out) == -EINVAL,
	   "then without executor is -EINVAL");
	ok(filch_future_then(f, ex, NULL, NULL, &out) == -EINVAL,
	   "then without fn is -EINVAL");
	ok(filch_future_then(f, ex, add_to_antecedent, NULL, NULL) == -EINVAL,
	   "then without out is -EINVAL");
	ok(out == NULL, "no future on error");

	is(filch_future_then(f, ex, add_to_antecedent, (void *)22, &out), 0, "then");
	is(filch_future_result(out, FILCH_FOREVER, &res), 0, "the continuation's result");
	is((intptr_t)res, 42, "fn saw the antecedent's result (20 + 22)");
	filch_future_release(out);

	filch_future_result(f, FILCH_FOREVER, NULL);
	is(filch_future_then(f, ex, add_to_antecedent, (void *)1, &out), 0,
	   "then on a finished future");
	filch_future_result(out, FILCH_FOREVER, &res);
	is((intptr_t)res, 21, "runs too");
	filch_future_release(out);

	is(filch_future_then(f, ex, then_on_worker, NULL, &out), 0, "then from a foreign thread");
	filch_future_result(out, FILCH_FOREVER, &res);
	ok(res == ex, "fn ran on a worker of ex");
	filch_future_release(out);

	is(filch_future_then(f, ex, then_fails, NULL, &out), 0, "a continuation that fails");
	ok(failed_with(out, EDOM, "continuation says no"),
	   "fails with its code and message");
	filch_future_release(out);
	filch_future_release(f);
}

static void test_then_propagation(filch_executor *ex)
{
	filch_future *f, *out, *out2;
	atomic_store(&then_calls, 0);
	filch_submit(ex, return_code, (void *)(intptr_t)EACCES, &f);
	filch_future_then(f, ex, add_to_antecedent, NULL, &out);
	filch_future_then(out, ex, add_to_antecedent, NULL, &out2);
	ok(failed_with(out2, EACCES, "task failed with 13"),
	   "an error travels two continuations down, code and message");
	is(filch_future_result(out, 0, NULL), EACCES, "the middle one failed too");
	is(atomic_load(&then_calls), 0, "no fn ran");
	filch_future_release(out2);
	filch_future_release(out);
	filch_future_release(f);

	filch_future *p;
	filch_promise_create(&p);
	filch_future_then(p, ex, add_to_antecedent, NULL, &out);
	filch_future_then(out, ex, add_to_antecedent, NULL, &out2);
	ok(filch_future_cancel(p), "cancel the antecedent");
	ok(filch_future_cancelled(out) && filch_future_cancelled(out2),
	   "its continuations are cancelled at once");
	is(filch_future_result(out2, FILCH_FOREVER, NULL), -ECANCELED, "result -ECANCELED");
	is(atomic_load(&then_calls), 0, "no fn ran");
	filch_future_release(out2);
	filch_future_release(out);
	filch_future_release(p);

	/* Cancelling the continuation itself while its antecedent runs. */
	filch_promise_create(&p);
	filch_future_then(p, ex, add_to_antecedent, NULL, &out);
	ok(filch_future_cancel(out), "a waiting continuation can be cancelled");
	filch_promise_set_result(p, NULL);
	filch_future *again;
	filch_future_then(p, ex, add_to_antecedent, (void *)3, &again);
	filch_future_result(again, FILCH_FOREVER, NULL);
	is(atomic_load(&then_calls), 1, "its fn never ran (only the later one did)");
	is(filch_future_state(out), FILCH_CANCELLED, "it stays cancelled");
	filch_future_release(again);
	filch_future_release(out);
	filch_future_release(p);

	/* Released before its antecedent completes: it still runs, and
	 * frees itself (LSan checks). */
	atomic_int runs = 0;
	filch_promise_create(&p);
	filch_future_then(p, ex, count_then, &runs, &out);
	filch_future_release(out);
	filch_promise_set_result(p, NULL);
	filch_future_release(p);
	ok(EVENTUALLY(atomic_load(&runs) == 1), "a released continuation still runs");
}

#define CHAIN 100000

static filch_future *build_chain(filch_executor *ex, filch_future *head,
				 filch_future **middle)
{
	filch_future *cur = filch_future_retain(head);
	for (int i = 0; i < CHAIN; i++) {
		filch_future *next;
		if (filch_future_then(cur, ex, add_to_antecedent, (void *)1, &next))
			bail_out("then failed at link %d", i);
		if (i == CHAIN / 2)
			*middle = filch_future_retain(next);
		filch_future_release(cur);
		cur = next;
	}
	return cur;
}

static void test_long_chain(filch_executor *ex)
{
	filch_future *p, *last, *middle;
	void *res = NULL;
	atomic_store(&then_calls, 0);
	filch_promise_create(&p);
	last = build_chain(ex, p, &middle);
	filch_promise_set_result(p, (void *)0);
	is(filch_future_result(last, FILCH_FOREVER, &res), 0, "a chain of 10^5 continuations");
	is((intptr_t)res, CHAIN, "each link ran once, in order");
	is(atomic_load(&then_calls), CHAIN, "10^5 fn calls");
	filch_future_release(last);
	filch_future_release(middle);
	filch_future_release(p);

	filch_promise_create(&p);
	last = build_chain(ex, p, &middle);
	filch_promise_set_error(p, ENOEXEC, "head failed");
	ok(failed_with(last, ENOEXEC, "head failed"),
	   "a failing head fails 10^5 continuations (flat stack), the last "
	   "with the head's code and message");
	is(filch_future_result(middle, 0, NULL), ENOEXEC, "so has the middle one");
	filch_future_release(last);
	filch_future_release(middle);
	filch_future_release(p);

	filch_promise_create(&p);
	last = build_chain(ex, p, &middle);
	filch_future_release(p); /* abandoned: cancelled */
	is(filch_future_result(last, FILCH_FOREVER, NULL), -ECANCELED,
	   "an abandoned head cancels 10^5 continuations");
	filch_future_release(last);
	filch_future_release(middle);
}

static void test_then_after_shutdown(void)
{
	filch_executor *ex = make_executor(1);
	filch_future *p, *out;
	filch_promise_create(&p);
	filch_future_then(p, ex, add_to_antecedent, NULL, &out);
	filch_executor_destroy(ex); /* the continuation keeps ex's memory */
	filch_promise_set_result(p, NULL);
	is(filch_future_result(out, FILCH_FOREVER, NULL), -ECANCELED,
	   "a continuation whose executor was destroyed is cancelled");
	filch_future_release(out);
	filch_future_release(p);
}

/* ---- when_all / when_any over tasks ---- */

static int sleep_then_return(void *arg, void **result)
{
	sleep_ns((intptr_t)arg * MS);
	*result = arg;
	return 0;
}

static void test_combinators(filch_executor *ex)
{
	enum { N = 64 };
	filch_future *fs[N], *all, *any;
	for (int i = 0; i < N; i++)
		filch_submit(ex, return_arg, (void *)(intptr_t)i, &fs[i]);
	is(filch_when_all(fs, N, &all), 0, "when_all of %d tasks", N);
	is(filch_future_result(all, FILCH_FOREVER, NULL), 0, "finishes");
	int done = 0;
	for (int i = 0; i < N; i++)
		done += filch_future_done(fs[i]);
	is(done, N, "after every input");
	filch_future_release(all);
	for (int i = 0; i < N; i++)
		filch_future_release(fs[i]);

	filch_future *mix[3];
	filch_submit(ex, sleep_then_return, (void *)(intptr_t)50, &mix[0]);
	filch_submit(ex, return_code, (void *)(intptr_t)EBADF, &mix[1]);
	filch_submit(ex, sleep_then_return, (void *)(intptr_t)1, &mix[2]);
	filch_when_all(mix, 3, &all);
	ok(failed_with(all, EBADF, "task failed with 9"),
	   "when_all with a failing task fails with its code and message");
	filch_future_release(all);

	filch_future *p;
	filch_promise_create(&p);
	filch_future *anyin[2] = { p, mix[0] };
	filch_when_any(anyin, 2, &any);
	void *res = NULL;
	is(filch_future_result(any, FILCH_FOREVER, &res), 0, "when_any of a promise and a task");
	is((intptr_t)res, 1, "the task was first");
	filch_future_release(any);
	filch_future *canc[2] = { p, mix[2] };
	filch_future_result(mix[2], FILCH_FOREVER, NULL);
	filch_future_cancel(p);
	filch_when_all(canc, 2, &all);
	is(filch_future_result(all, FILCH_FOREVER, NULL), -ECANCELED,
	   "when_all with a cancelled input is cancelled");
	filch_future_release(all);
	filch_future_release(p);
	for (int i = 0; i < 3; i++)
		filch_future_release(mix[i]);
}

int main(void)
{
	tap_plan(0);
	filch_executor *ex = make_executor(2);
	test_then_basics(ex);
	test_then_propagation(ex);
	test_long_chain(ex);
	test_combinators(ex);
	filch_executor_destroy(ex);
	test_then_after_shutdown();
	return tap_done();
}
