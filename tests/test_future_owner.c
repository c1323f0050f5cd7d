/* SPDX-License-Identifier: MIT */
/*
 * test_future_owner.c - results that have an owner, and futures that carry
 * a tag: a future's result destructor runs exactly once when the future is
 * freed (released unread, after a borrow, never after a take, never without
 * a result), for submitted tasks, promises and continuations (finished,
 * failed, cancelled, refused), set at submit or any time later; exactly one
 * of racing takers wins; fire-and-forget results are freed after the task;
 * tags set at submit or later are seen from callbacks and as_completed.
 * Results are malloc'd: run under LeakSanitizer, a destructor that does not
 * run is a leak.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <filch.h>

#include "future_helpers.h"
#include "tap.h"

/* Destructor calls, and the last result and arg they got. */
static atomic_int dtor_calls;
static _Atomic(void *) dtor_last_arg;

static void free_counted(void *result, void *arg)
{
	atomic_store(&dtor_last_arg, arg);
	atomic_fetch_add(&dtor_calls, 1);
	free(result);
}

/* A task whose result is a fresh heap int holding arg. */
static int heap_result(void *arg, void **result)
{
	int *p = malloc(sizeof(*p));
	if (!p)
		return ENOMEM;
	*p = (int)(intptr_t)arg;
	*result = p;
	return 0;
}

/* As heap_result, after a message that its success drops. */
static int heap_result_after_fail(void *arg, void **result)
{
	(void)filch_task_fail(EIO, "dropped: the task returns 0");
	return heap_result(arg, result);
}

static atomic_int failed_runs;

static int fails(void *arg, void **result)
{
	(void)arg;
	(void)result;
	atomic_fetch_add(&failed_runs, 1);
	return filch_task_fail(EDOM, "no result here");
}

/* Blocks its worker until the atomic_int at arg is set. */
static int gate(void *arg, void **result)
{
	(void)result;
	while (!atomic_load((atomic_int *)arg))
		sleep_ns(100000);
	return 0;
}

static atomic_int ran;

static int count_run(void *arg, void **result)
{
	(void)arg;
	(void)result;
	atomic_fetch_add(&ran, 1);
	return 0;
}

static int read_int(filch_future *f)
{
	void *r = NULL;
	int rc = filch_future_result(f, FILCH_FOREVER, &r);
	return rc ? -1000 - rc : *(int *)r;
}

static const struct filch_submit_opts owned = { .result_dtor = free_counted,
						.dtor_arg = &dtor_calls };

static void test_released(filch_executor *ex)
{
	filch_future *f = NULL;

	atomic_store(&dtor_calls, 0);
	ok(filch_submit_ex(ex, heap_result, (void *)7, &owned, &f) == 0,
	   "submit_ex with a destructor");
	filch_future_release(f); /* unread, maybe before the task ran */
	ok(EVENTUALLY(atomic_load(&dtor_calls) == 1),
	   "released unread: the destructor frees the result");
	ok(atomic_load(&dtor_last_arg) == &dtor_calls, "with its arg");

	/* Released unread once done. */
	atomic_store(&dtor_calls, 0);
	filch_submit_ex(ex, heap_result, (void *)8, &owned, &f);
	ok(filch_wait(&f, 1, FILCH_FOREVER, FILCH_ALL_COMPLETED, NULL) == 0,
	   "waited without reading");
	is(atomic_load(&dtor_calls), 0, "no destructor while referenced");
	filch_future_release(f);
	ok(EVENTUALLY(atomic_load(&dtor_calls) == 1),
	   "the last release calls it (the worker may hold the task's reference a moment longer)");

	/* Borrowed, then released. */
	atomic_store(&dtor_calls, 0);
	filch_submit_ex(ex, heap_result, (void *)9, &owned, &f);
	filch_future *extra = filch_future_retain(f);
	is(read_int(f), 9, "a borrow reads the result");
	is(read_int(f), 9, "a second borrow reads it again");
	filch_future_release(f);
	is(atomic_load(&dtor_calls), 0, "still referenced: not freed");
	filch_future_release(extra);
	ok(EVENTUALLY(atomic_load(&dtor_calls) == 1),
	   "released after a borrow: freed once");

	/* A message set by a task that succeeds does not clobber its result. */
	atomic_store(&dtor_calls, 0);
	filch_submit_ex(ex, heap_result_after_fail, (void *)10, &owned, &f);
	is(read_int(f), 10, "filch_task_fail then 0: the result is intact");
	const char *m = "unset";
	int code = -1;
	ok(filch_future_error(f, 0, &code, &m) == 0 && code == 0 && m == NULL,
	   "and no message");
	filch_future_release(f);
	ok(EVENTUALLY(atomic_load(&dtor_calls) == 1), "freed once");
}

static void test_take(filch_executor *ex)
{
	filch_future *f = NULL;
	void *r = (void *)&r, *r2 = (void *)&r2;

	atomic_store(&dtor_calls, 0);
	filch_submit_ex(ex, heap_result, (void *)11, &owned, &f);
	ok(filch_future_take_result(f, FILCH_FOREVER, NULL) == -EINVAL,
	   "take into NULL is -EINVAL");
	ok(filch_future_take_result(f, FILCH_FOREVER, &r) == 0 && r != &r &&
		   *(int *)r == 11,
	   "take waits and gives the result");
	ok(filch_future_take_result(f, 0, &r2) == -EALREADY && r2 == &r2,
	   "a second take: -EALREADY, output untouched");
	r2 = &r2;
	ok(filch_future_result(f, 0, &r2) == -EALREADY && r2 == &r2,
	   "a borrow after the take: -EALREADY, output untouched");
	int code = -1;
	ok(filch_future_error(f, 0, &code, NULL) == 0 && code == 0,
	   "filch_future_error still says it finished");
	filch_future_release(f);
	is(atomic_load(&dtor_calls), 0, "a taken result is never destroyed");
	free(r); /* the taker's */

	/* Without a destructor, take works the same. */
	filch_submit(ex, heap_result, (void *)12, &f);
	r = NULL;
	ok(filch_future_take_result(f, FILCH_FOREVER, &r) == 0 && r &&
		   *(int *)r == 12,
	   "take without a destructor");
	free(r);
	filch_future_release(f);

	/* Take of a failed, a cancelled and a pending future. */
	filch_submit_ex(ex, fails, NULL, &owned, &f);
	r = &r;
	ok(filch_future_take_result(f, FILCH_FOREVER, &r) == EDOM && r == &r,
	   "take of a failed future: its code, output untouched");
	filch_future_release(f);
	is(atomic_load(&dtor_calls), 0, "failed: no destructor call");

	filch_future *p = NULL;
	filch_promise_create(&p);
	filch_future_set_result_dtor(p, free_counted, NULL);
	ok(filch_future_take_result(p, 0, &r) == -ETIMEDOUT && r == &r,
	   "take of a pending future with timeout 0: -ETIMEDOUT");
	filch_future_cancel(p);
	ok(filch_future_take_result(p, 0, &r) == -ECANCELED && r == &r,
	   "take of a cancelled future: -ECANCELED");
	filch_future_release(p);
	is(atomic_load(&dtor_calls), 0, "cancelled: no destructor call");
}

/* Two threads take the same future's result at once. */
struct taker {
	filch_future *f;
	pthread_barrier_t *go;
	int rc;
	void *r;
};

static void *take_thread(void *arg)
{
	struct taker *t = arg;
	pthread_barrier_wait(t->go);
	t->rc = filch_future_take_result(t->f, FILCH_FOREVER, &t->r);
	return NULL;
}

static void test_take_race(void)
{
	enum { ROUNDS = 300 };
	int one_winner = 0, other_already = 0;

	atomic_store(&dtor_calls, 0);
	for (int i = 0; i < ROUNDS; i++) {
		filch_future *f = NULL;
		pthread_barrier_t go;
		pthread_barrier_init(&go, NULL, 3);
		filch_promise_create(&f);
		filch_future_set_result_dtor(f, free_counted, NULL);
		struct taker t[2] = { { f, &go, 1, NULL }, { f, &go, 1, NULL } };
		pthread_t th[2];
		for (int k = 0; k < 2; k++)
			pthread_create(&th[k], NULL, take_thread, &t[k]);
		int *v = malloc(sizeof(*v));
		*v = i;
		pthread_barrier_wait(&go);
		filch_promise_set_result(f, v); /* the takers may be waiting */
		for (int k = 0; k < 2; k++)
			pthread_join(th[k], NULL);
		pthread_barrier_destroy(&go);
		int wins = (t[0].rc == 0) + (t[1].rc == 0);
		one_winner += wins == 1;
		other_already += t[0].rc == -EALREADY || t[1].rc == -EALREADY;
		filch_future_release(f);
		free(t[0].rc == 0 ? t[0].r : t[1].r);
	}
	is(one_winner, ROUNDS, "racing takes: exactly one wins each round");
	is(other_already, ROUNDS, "the other gets -EALREADY");
	is(atomic_load(&dtor_calls), 0, "and the destructor never runs");
}

static void test_set_later(filch_executor *ex)
{
	filch_future *f = NULL;
	int arg_b = 0;

	atomic_store(&dtor_calls, 0);
	filch_submit(ex, heap_result, (void *)13, &f); /* no owner yet */
	is(read_int(f), 13, "finished without a destructor");
	ok(filch_future_set_result_dtor(NULL, free_counted, NULL) == -EINVAL,
	   "set_result_dtor(NULL) is -EINVAL");
	ok(filch_future_set_result_dtor(f, NULL, NULL) == -EINVAL,
	   "a NULL destructor is -EINVAL");
	ok(filch_future_set_result_dtor(f, free_counted, &dtor_calls) == 0,
	   "set after completion");
	ok(filch_future_set_result_dtor(f, free_counted, &arg_b) == -EEXIST,
	   "a second set is -EEXIST");
	filch_future_release(f);
	ok(EVENTUALLY(atomic_load(&dtor_calls) == 1),
	   "set after completion: freed once");
	ok(atomic_load(&dtor_last_arg) == &dtor_calls,
	   "with the first destructor's arg");

	/* Set at submit: a second set is refused too. */
	atomic_store(&dtor_calls, 0);
	filch_submit_ex(ex, heap_result, (void *)14, &owned, &f);
	ok(filch_future_set_result_dtor(f, free_counted, &arg_b) == -EEXIST,
	   "set at submit: a later set is -EEXIST");
	filch_future_release(f);
	ok(EVENTUALLY(atomic_load(&dtor_calls) == 1), "freed once");
	ok(atomic_load(&dtor_last_arg) == &dtor_calls, "by the submit's one");
}

static void test_no_result(filch_executor *ex)
{
	atomic_int open = 0;
	filch_future *g = NULL, *f = NULL;

	atomic_store(&dtor_calls, 0);
	filch_submit_ex(ex, fails, NULL, &owned, &f);
	ok(failed_with(f, EDOM, "no result here"),
	   "a failed task keeps its message");
	filch_future_release(f);

	/* One worker held by a gate: the next task stays pending. */
	filch_submit(ex, gate, &open, &g);
	ok(EVENTUALLY(filch_future_running(g)), "the worker is held");
	filch_submit_ex(ex, heap_result, (void *)15, &owned, &f);
	ok(filch_future_cancel(f), "cancelled while pending");
	atomic_store(&open, 1);
	filch_future_result(g, FILCH_FOREVER, NULL);
	filch_future_release(g);
	filch_future_release(f);
	is(atomic_load(&dtor_calls), 0,
	   "failed and cancelled futures: no destructor call");
}

static void test_promise(void)
{
	filch_future *p = NULL;

	atomic_store(&dtor_calls, 0);
	filch_promise_create(&p);
	ok(filch_future_set_result_dtor(p, free_counted, NULL) == 0,
	   "a promise takes a destructor");
	ok(filch_promise_set_result(p, malloc(16)) == 0, "set its result");
	filch_future_release(p);
	is(atomic_load(&dtor_calls), 1, "promise released: result freed");

	atomic_store(&dtor_calls, 0);
	filch_promise_create(&p);
	filch_future_set_result_dtor(p, free_counted, NULL);
	filch_future_release(p); /* abandoned: cancelled */
	is(atomic_load(&dtor_calls), 0, "abandoned promise: no call");

	filch_promise_create(&p);
	filch_future_set_result_dtor(p, free_counted, NULL);
	filch_future_cancel(p);
	void *refused = malloc(16);
	ok(filch_promise_set_result(p, refused) == -ECANCELED,
	   "set_result on a cancelled promise fails");
	filch_future_release(p);
	is(atomic_load(&dtor_calls), 0,
	   "a refused result stays the caller's");
	free(refused);

	/* Set after the result. */
	filch_promise_create(&p);
	filch_promise_set_result(p, malloc(16));
	filch_future_set_result_dtor(p, free_counted, NULL);
	filch_future_release(p);
	is(atomic_load(&dtor_calls), 1, "set after set_result: freed once");
}

/* then fn: a heap int, the antecedent's plus one (borrowed). */
static int then_plus_one(filch_future *a, void *arg, void **result)
{
	(void)arg;
	void *v = NULL;
	int rc = filch_future_result(a, 0, &v);
	if (rc)
		return EPROTO;
	return heap_result((void *)(intptr_t)(*(int *)v + 1), result);
}

/* then fn: moves the antecedent's result into its own. */
static int then_take(filch_future *a, void *arg, void **result)
{
	(void)arg;
	return filch_future_take_result(a, 0, result) ? EPROTO : 0;
}

static atomic_int then_ran;

static int then_counts(filch_future *a, void *arg, void **result)
{
	(void)a;
	(void)arg;
	atomic_fetch_add(&then_ran, 1);
	return heap_result(NULL, result);
}

static atomic_int then_dtor_calls;

static void then_free_counted(void *result, void *arg)
{
	(void)arg;
	atomic_fetch_add(&then_dtor_calls, 1);
	free(result);
}

/* A promise *a and its continuation *out on ex, each with a destructor;
 * the counters start at 0. */
static void owned_then(filch_executor *ex, filch_future **a,
		       filch_future **out)
{
	atomic_store(&dtor_calls, 0);
	atomic_store(&then_dtor_calls, 0);
	atomic_store(&then_ran, 0);
	filch_promise_create(a);
	filch_future_set_result_dtor(*a, free_counted, NULL);
	filch_future_then(*a, ex, then_counts, NULL, out);
	filch_future_set_result_dtor(*out, then_free_counted, NULL);
}

static void test_then(filch_executor *ex)
{
	filch_future *a = NULL, *out = NULL;

	/* Finished: both futures own their results. */
	atomic_store(&dtor_calls, 0);
	atomic_store(&then_dtor_calls, 0);
	filch_submit_ex(ex, heap_result, (void *)20, &owned, &a);
	filch_future_then(a, ex, then_plus_one, NULL, &out);
	ok(filch_future_set_result_dtor(out, then_free_counted, NULL) == 0,
	   "a continuation takes a destructor");
	is(read_int(out), 21, "the continuation borrowed its antecedent's");
	filch_future_release(a);
	filch_future_release(out);
	ok(EVENTUALLY(atomic_load(&dtor_calls) == 1 &&
		      atomic_load(&then_dtor_calls) == 1),
	   "then finished: each result freed once");

	/* The continuation takes its antecedent's result. */
	atomic_store(&dtor_calls, 0);
	atomic_store(&then_dtor_calls, 0);
	filch_submit_ex(ex, heap_result, (void *)22, &owned, &a);
	filch_future_then(a, ex, then_take, NULL, &out);
	filch_future_set_result_dtor(out, then_free_counted, NULL);
	is(read_int(out), 22, "the continuation took it");
	filch_future_release(a);
	filch_future_release(out);
	ok(EVENTUALLY(atomic_load(&then_dtor_calls) == 1),
	   "taken by the continuation: freed by its destructor");
	is(atomic_load(&dtor_calls), 0, "and not by the antecedent's");

	/* Cancelled continuation: fn never runs, the antecedent frees. */
	owned_then(ex, &a, &out);
	ok(filch_future_cancel(out), "continuation cancelled");
	filch_promise_set_result(a, malloc(16));
	filch_future_release(out);
	filch_future_release(a);
	is(atomic_load(&then_ran), 0, "cancelled: fn never ran");
	is(atomic_load(&then_dtor_calls), 0, "no result: no call on its own");
	is(atomic_load(&dtor_calls), 1, "the antecedent freed its result");

	/* Failed antecedent: the continuation fails, no result. */
	atomic_store(&then_dtor_calls, 0);
	filch_submit(ex, fails, NULL, &a);
	filch_future_then(a, ex, then_counts, NULL, &out);
	filch_future_set_result_dtor(out, then_free_counted, NULL);
	ok(failed_with(out, EDOM, "no result here"),
	   "continuation of a failed future fails");
	filch_future_release(a);
	filch_future_release(out);
	is(atomic_load(&then_dtor_calls), 0, "failed continuation: no call");
	is(atomic_load(&then_ran), 0, "fn never ran");
}

/* A continuation whose executor refuses it (shut down). */
static void test_then_refused(void)
{
	filch_executor *dead = make_executor(1);
	filch_future *a = NULL, *out = NULL;

	owned_then(dead, &a, &out);
	filch_shutdown(dead, FILCH_SHUTDOWN_WAIT);
	filch_promise_set_result(a, malloc(16));
	ok(filch_future_cancelled(out), "refused continuation: cancelled");
	filch_future_release(out);
	filch_future_release(a);
	filch_executor_destroy(dead);
	is(atomic_load(&then_ran), 0, "fn never ran");
	is(atomic_load(&then_dtor_calls), 0, "no result of its own");
	is(atomic_load(&dtor_calls), 1, "the antecedent freed its result");
}

static void test_fire_and_forget(void)
{
	filch_executor *ex = make_executor(1);
	atomic_int open = 0;
	filch_future *g = NULL;

	atomic_store(&dtor_calls, 0);
	atomic_store(&ran, 0);
	atomic_store(&failed_runs, 0);
	ok(filch_submit_ex(ex, heap_result, NULL, &owned, NULL) == 0,
	   "fire and forget with a destructor");
	for (int i = 1; i < 10; i++)
		filch_submit_ex(ex, heap_result, NULL, &owned, NULL);
	filch_submit_ex(ex, fails, NULL, &owned, NULL);
	struct filch_submit_opts tag_only = { .tag = &open };
	ok(filch_submit_ex(ex, count_run, NULL, &tag_only, NULL) == 0,
	   "fire and forget with a tag alone");
	ok(EVENTUALLY(atomic_load(&dtor_calls) == 10 &&
		      atomic_load(&failed_runs) == 1 && atomic_load(&ran) == 1),
	   "each result freed after its task; none for the failed one");
	/* Discarded by a cancelling shutdown: never runs, nothing to free. */
	filch_submit(ex, gate, &open, &g);
	ok(EVENTUALLY(filch_future_running(g)), "the worker is held");
	filch_submit_ex(ex, heap_result, NULL, &owned, NULL);
	filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING);
	atomic_store(&open, 1);
	filch_executor_destroy(ex);
	filch_future_release(g);
	is(atomic_load(&dtor_calls), 10, "a discarded task: nothing to free");
}

/* Callback: records the tag it sees. */
static void record_tag(filch_future *f, void *arg)
{
	atomic_store((_Atomic(void *) *)arg, filch_future_tag(f));
}

static int square(void *arg, void **result)
{
	*result = (void *)((intptr_t)arg * (intptr_t)arg);
	return 0;
}

static void test_tags(filch_executor *ex)
{
	enum { N = 16 };
	filch_future *fs[N];
	intptr_t xs[N];
	_Atomic(void *) seen = NULL;
	int tag_a = 0, tag_b = 0;

	ok(filch_future_tag(NULL) == NULL, "tag of NULL is NULL");
	ok(filch_future_set_tag(NULL, &tag_a) == -EINVAL,
	   "set_tag(NULL) is -EINVAL");

	struct filch_submit_opts o = { .tag = &tag_a };
	filch_future *f = NULL;
	filch_submit_ex(ex, return_arg, NULL, &o, &f);
	ok(filch_future_tag(f) == &tag_a, "tag set at submit");
	filch_future_on_done(f, record_tag, &seen);
	filch_future_result(f, FILCH_FOREVER, NULL);
	ok(EVENTUALLY(atomic_load(&seen) == &tag_a), "seen from a callback");
	ok(filch_future_set_tag(f, &tag_b) == 0 && filch_future_tag(f) == &tag_b,
	   "set_tag after done replaces it");
	filch_future_release(f);

	filch_submit(ex, return_arg, NULL, &f);
	ok(filch_future_tag(f) == NULL, "no tag by default");
	filch_future_release(f);

	filch_future *p = NULL;
	filch_promise_create(&p);
	filch_future_set_tag(p, &tag_b);
	atomic_store(&seen, NULL);
	filch_future_on_done(p, record_tag, &seen);
	filch_promise_set_result(p, NULL);
	ok(atomic_load(&seen) == &tag_b, "a promise's tag, set later, from a "
					 "callback");
	filch_future_release(p);

	/* Python's {executor.submit(fn, x): x for x in xs}. */
	for (int i = 0; i < N; i++) {
		xs[i] = i + 1;
		o.tag = &xs[i];
		filch_submit_ex(ex, square, (void *)xs[i], &o, &fs[i]);
	}
	filch_as_completed *it = NULL;
	int matched = 0, yielded = 0;
	filch_as_completed_begin(&it, fs, N, FILCH_FOREVER);
	for (filch_future *d; filch_as_completed_next(it, &d) == 0;) {
		intptr_t *x = filch_future_tag(d);
		void *r = NULL;
		filch_future_result(d, 0, &r);
		yielded++;
		matched += x && (intptr_t)r == *x * *x;
	}
	filch_as_completed_end(it);
	is(yielded, N, "as_completed yields every future");
	is(matched, N, "each one's tag names its input");
	for (int i = 0; i < N; i++)
		filch_future_release(fs[i]);
}

static void test_badinput(filch_executor *ex)
{
	filch_future *f = (filch_future *)&f;
	struct filch_submit_opts bad = { .flags = 1, .result_dtor = free_counted };

	atomic_store(&ran, 0);
	atomic_store(&dtor_calls, 0);
	ok(filch_submit_ex(ex, count_run, NULL, &bad, &f) == -EINVAL &&
		   f == (filch_future *)&f,
	   "submit_ex with an unknown flag: -EINVAL, *fut untouched");
	ok(filch_submit_ex(ex, count_run, NULL, &bad, NULL) == -EINVAL,
	   "also without a future");
	ok(filch_submit_ex(NULL, count_run, NULL, &owned, &f) == -EINVAL &&
		   filch_submit_ex(ex, NULL, NULL, &owned, &f) == -EINVAL &&
		   f == (filch_future *)&f,
	   "NULL executor or function: -EINVAL");
	ok(filch_submit_ex(ex, count_run, NULL, NULL, &f) == 0,
	   "NULL opts: a plain submit");
	filch_future_result(f, FILCH_FOREVER, NULL);
	filch_future_release(f);
	filch_submit_ex(ex, count_run, NULL, NULL, NULL);
	ok(EVENTUALLY(atomic_load(&ran) == 2), "only the accepted tasks ran");
	is(atomic_load(&dtor_calls), 0, "no destructor for refused calls");
}

int main(void)
{
	filch_executor *ex = make_executor(1);

	tap_plan(0);
	test_released(ex);
	test_take(ex);
	test_take_race();
	test_set_later(ex);
	test_no_result(ex);
	test_promise();
	test_then(ex);
	test_then_refused();
	test_fire_and_forget();
	test_tags(ex);
	test_badinput(ex);
	filch_executor_destroy(ex);
	return tap_done();
}
