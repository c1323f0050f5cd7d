/* SPDX-License-Identifier: MIT */
/*
 * test_future_promise.c - the future's state machine, callbacks and waiting,
 * driven through promises (no executor involved): every transition, the
 * timeouts, release inside a callback, many waiters, completion from a
 * foreign thread, the races of completion against on_done and cancel, and
 * when_all / when_any over promises.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <filch.h>

#include "future_helpers.h"
#include "tap.h"

/* ---- helpers: a callback that records its calls ---- */

struct record {
	atomic_int calls;
	int order[16];
	atomic_int n;
	pthread_t thread;
	int state_seen;
};

struct tagged {
	struct record *rec;
	int tag;
};

static void record_cb(filch_future *f, void *arg)
{
	struct tagged *t = arg;
	int i = atomic_fetch_add(&t->rec->n, 1);
	if (i < 16)
		t->rec->order[i] = t->tag;
	t->rec->thread = pthread_self();
	t->rec->state_seen = filch_future_state(f);
	atomic_fetch_add(&t->rec->calls, 1);
}

/* ---- transitions ---- */

static void test_bad_input(void)
{
	filch_future *p = NULL;
	ok(filch_promise_create(NULL) == -EINVAL, "promise_create(NULL) is -EINVAL");
	ok(filch_future_state(NULL) == -EINVAL, "state(NULL) is -EINVAL");
	ok(!filch_future_done(NULL) && !filch_future_cancel(NULL),
	   "done(NULL) and cancel(NULL) are false");
	ok(filch_future_result(NULL, 0, NULL) == -EINVAL, "result(NULL) is -EINVAL");
	ok(filch_future_error(NULL, 0, NULL, NULL) == -EINVAL, "error(NULL) is -EINVAL");
	filch_future_release(NULL);
	ok(filch_future_retain(NULL) == NULL, "retain(NULL) is NULL, release(NULL) a no-op");
	is(filch_promise_create(&p), 0, "promise_create");
	ok(filch_future_on_done(p, NULL, NULL) == -EINVAL, "on_done without cb is -EINVAL");
	ok(filch_future_on_done(NULL, count_cb, NULL) == -EINVAL, "on_done(NULL) is -EINVAL");
	ok(filch_promise_set_error(p, 0, "x") == -EINVAL, "set_error with code 0 is -EINVAL");
	ok(filch_promise_set_error(p, -5, "x") == -EINVAL, "set_error with a negative code is -EINVAL");
	ok(filch_promise_set_result(NULL, NULL) == -EINVAL, "set_result(NULL) is -EINVAL");
	is(filch_future_state(p), FILCH_PENDING, "bad calls left it PENDING");
	filch_future *all = NULL;
	filch_future *fs[2] = { p, NULL };
	ok(filch_when_all(fs, 2, &all) == -EINVAL && all == NULL,
	   "when_all with a NULL future is -EINVAL");
	ok(filch_when_any(fs, 0, &all) == -EINVAL, "when_any of nothing is -EINVAL");
	ok(filch_when_all(fs, 1, NULL) == -EINVAL, "when_all without out is -EINVAL");
	filch_future_release(p);
}

static void test_result_path(void)
{
	filch_future *p;
	void *res = NULL;
	filch_promise_create(&p);
	is(filch_future_state(p), FILCH_PENDING, "a new promise is PENDING");
	ok(!filch_future_done(p) && !filch_future_running(p) &&
		   !filch_future_cancelled(p),
	   "not done, not running, not cancelled");
	is(filch_future_result(p, 0, &res), -ETIMEDOUT, "poll of a pending future: -ETIMEDOUT");
	int64_t t0 = tap_now_ns();
	is(filch_future_result(p, 20 * MS, &res), -ETIMEDOUT, "20 ms timeout: -ETIMEDOUT");
	ok(tap_now_ns() - t0 >= 20 * MS, "and not before 20 ms");
	is(filch_promise_set_running(p), 0, "set_running");
	is(filch_future_state(p), FILCH_RUNNING, "RUNNING");
	is(filch_promise_set_running(p), 0, "set_running again is harmless");
	ok(!filch_future_cancel(p), "cancel of a RUNNING future is false");
	is(filch_future_state(p), FILCH_RUNNING, "still RUNNING");
	is(filch_promise_set_result(p, (void *)0x1234), 0, "set_result");
	is(filch_future_state(p), FILCH_FINISHED, "FINISHED");
	ok(filch_future_done(p), "done");
	is(filch_future_result(p, 0, &res), 0, "result");
	ok(res == (void *)0x1234, "the value set");
	res = NULL;
	is(filch_future_result(p, FILCH_FOREVER, &res), 0, "result, FOREVER, on a done future");
	ok(res == (void *)0x1234, "same value");
	is(filch_future_result(p, 0, NULL), 0, "result with NULL out");
	int code = -1;
	const char *msg = "x";
	is(filch_future_error(p, 0, &code, &msg), 0, "error() of a success");
	ok(code == 0 && msg == NULL, "code 0, no message");
	is(filch_promise_set_result(p, NULL), -EINVAL, "completing twice is -EINVAL");
	is(filch_promise_set_error(p, 5, NULL), -EINVAL, "set_error after result is -EINVAL");
	is(filch_promise_set_running(p), -EINVAL, "set_running after result is -EINVAL");
	ok(!filch_future_cancel(p), "cancel of a FINISHED future is false");
	res = NULL;
	filch_future_result(p, 0, &res);
	ok(res == (void *)0x1234, "the value survived the rejected calls");
	filch_future_release(p);
}

static void test_error_path(void)
{
	filch_future *p;
	char buf[32];
	strcpy(buf, "disk on fire");
	filch_promise_create(&p);
	is(filch_promise_set_error(p, EIO, buf), 0, "set_error straight from PENDING");
	memset(buf, 0, sizeof(buf));
	void *res = (void *)0x77;
	is(filch_future_result(p, 0, &res), EIO, "result returns the task's code");
	ok(res == (void *)0x77, "result left *result alone");
	int code = 0;
	const char *msg = NULL;
	is(filch_future_error(p, 0, &code, &msg), 0, "error() returns 0 for a finished future");
	is(code, EIO, "with its code");
	ok(msg && strcmp(msg, "disk on fire") == 0, "and a copy of its message");
	is(filch_future_error(p, 0, NULL, NULL), 0, "error() with NULL outputs");
	is(filch_promise_set_error(p, EIO, "again"), -EINVAL, "set_error twice is -EINVAL");
	filch_future_release(p);

	filch_promise_create(&p);
	is(filch_promise_set_error(p, ENOENT, NULL), 0, "set_error without a message");
	msg = "x";
	filch_future_error(p, 0, &code, &msg);
	ok(code == ENOENT && msg == NULL, "code without a message");
	filch_future_release(p);
}

static void test_cancel_path(void)
{
	filch_future *p;
	struct record rec = { 0 };
	struct tagged t = { &rec, 1 };
	filch_promise_create(&p);
	filch_future_on_done(p, record_cb, &t);
	ok(filch_future_cancel(p), "cancel of a PENDING future is true");
	is(atomic_load(&rec.calls), 1, "its callback ran");
	is(rec.state_seen, FILCH_CANCELLED, "and saw CANCELLED");
	ok(filch_future_cancel(p), "cancel again is true");
	is(atomic_load(&rec.calls), 1, "the callback ran once");
	ok(filch_future_cancelled(p) && filch_future_done(p), "cancelled and done");
	is(filch_future_result(p, FILCH_FOREVER, NULL), -ECANCELED, "result is -ECANCELED");
	is(filch_future_error(p, 0, NULL, NULL), -ECANCELED, "error is -ECANCELED");
	is(filch_promise_set_result(p, NULL), -ECANCELED, "set_result is -ECANCELED");
	is(filch_promise_set_error(p, 1, "m"), -ECANCELED, "set_error is -ECANCELED");
	is(filch_promise_set_running(p), -ECANCELED, "set_running is -ECANCELED");
	filch_future_release(p);
}

/* ---- callbacks ---- */

static void test_callback_order(void)
{
	filch_future *p;
	struct record rec = { 0 };
	struct tagged t[6];
	filch_promise_create(&p);
	for (int i = 0; i < 5; i++) {
		t[i] = (struct tagged){ &rec, i };
		is(filch_future_on_done(p, record_cb, &t[i]), 0, "on_done %d", i);
	}
	is(atomic_load(&rec.calls), 0, "no callback before completion");
	filch_promise_set_result(p, NULL);
	is(atomic_load(&rec.calls), 5, "each ran once at completion");
	ok(rec.order[0] == 0 && rec.order[1] == 1 && rec.order[2] == 2 &&
		   rec.order[3] == 3 && rec.order[4] == 4,
	   "in the order added");
	ok(pthread_equal(rec.thread, pthread_self()), "in the completing thread");
	t[5] = (struct tagged){ &rec, 5 };
	is(filch_future_on_done(p, record_cb, &t[5]), 0, "on_done on a done future");
	is(atomic_load(&rec.calls), 6, "runs at once, before on_done returns");
	is(rec.order[5], 5, "as the last one");
	filch_future_release(p);
}

struct release_in_cb {
	filch_future *f;
	atomic_int after;
};

static void release_cb(filch_future *f, void *arg)
{
	struct release_in_cb *r = arg;
	filch_future_release(r->f); /* the last user reference */
	(void)f;
}

static void after_release_cb(filch_future *f, void *arg)
{
	struct release_in_cb *r = arg;
	/* f must still be valid for the callbacks after the releasing one. */
	if (filch_future_state(f) == FILCH_FINISHED)
		atomic_fetch_add(&r->after, 1);
}

static void test_release_in_callback(void)
{
	struct release_in_cb r = { 0 };
	filch_promise_create(&r.f);
	filch_future_on_done(r.f, release_cb, &r);
	filch_future_on_done(r.f, after_release_cb, &r);
	filch_future_on_done(r.f, after_release_cb, &r);
	/* The completing call's own reference is handed to the callback:
	 * set_result must not touch f after its callbacks ran. */
	is(filch_promise_set_result(r.f, NULL), 0, "set_result whose callback releases the promise");
	is(atomic_load(&r.after), 2, "later callbacks still saw a live future");

	/* Cancel whose callback drops the last reference. */
	struct release_in_cb c = { 0 };
	filch_promise_create(&c.f);
	filch_future_on_done(c.f, release_cb, &c);
	ok(filch_future_cancel(c.f), "cancel whose callback releases the promise");
}

static void test_abandon(void)
{
	filch_future *p;
	struct record rec = { 0 };
	struct tagged t = { &rec, 1 };
	filch_promise_create(&p);
	filch_future_on_done(p, record_cb, &t);
	filch_future_release(p);
	is(atomic_load(&rec.calls), 1, "releasing an unfulfilled promise runs its callbacks");
	is(rec.state_seen, FILCH_CANCELLED, "as cancelled");

	struct record rec2 = { 0 };
	struct tagged t2 = { &rec2, 1 };
	filch_promise_create(&p);
	filch_promise_set_running(p);
	filch_future_on_done(p, record_cb, &t2);
	filch_future_release(p);
	is(atomic_load(&rec2.calls), 1, "also when it was set running");
	is(rec2.state_seen, FILCH_CANCELLED, "as cancelled");

	/* A retained promise is not abandoned by one release. */
	struct record rec3 = { 0 };
	struct tagged t3 = { &rec3, 1 };
	filch_promise_create(&p);
	filch_future_retain(p);
	filch_future_on_done(p, record_cb, &t3);
	filch_future_release(p);
	is(atomic_load(&rec3.calls), 0, "not while another reference remains");
	filch_promise_set_result(p, NULL);
	is(rec3.state_seen, FILCH_FINISHED, "the other holder completes it");
	filch_future_release(p);
}

/* Each callback cancels the next promise: 10^5 nested completions must
 * run with a flat stack, in the completing thread. */
#define CASCADE 100000
static filch_future *cascade[CASCADE];
static atomic_int cascade_calls;

static void cascade_cb(filch_future *f, void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;
	(void)f;
	atomic_fetch_add(&cascade_calls, 1);
	if (i + 1 < CASCADE)
		filch_future_cancel(cascade[i + 1]);
}

struct deferred_order {
	filch_future *other;
	int step;
	int seen_in_first;
	int other_ran_at;
};

static void other_cb(filch_future *f, void *arg)
{
	struct deferred_order *d = arg;
	(void)f;
	d->other_ran_at = ++d->step;
}

static void first_cb(filch_future *f, void *arg)
{
	struct deferred_order *d = arg;
	(void)f;
	filch_future_cancel(d->other);
	d->seen_in_first = filch_future_cancelled(d->other);
	++d->step;
}

static void test_nested_completions(void)
{
	for (size_t i = 0; i < CASCADE; i++) {
		filch_promise_create(&cascade[i]);
		filch_future_on_done(cascade[i], cascade_cb, (void *)(uintptr_t)i);
	}
	filch_future_cancel(cascade[0]);
	is(atomic_load(&cascade_calls), CASCADE, "a cascade of 10^5 cancels ran every callback");
	ok(filch_future_cancelled(cascade[CASCADE - 1]), "down to the last future");
	for (size_t i = 0; i < CASCADE; i++)
		filch_future_release(cascade[i]);

	struct deferred_order d = { 0 };
	filch_future *p;
	filch_promise_create(&p);
	filch_promise_create(&d.other);
	filch_future_on_done(p, first_cb, &d);
	filch_future_on_done(d.other, other_cb, &d);
	filch_promise_set_result(p, NULL);
	ok(d.seen_in_first, "a future cancelled in a callback is cancelled at once");
	is(d.other_ran_at, 2, "its callbacks run after the current callback returns");
	filch_future_release(p);
	filch_future_release(d.other);

	/* Several callbacks on the future completed inside a callback: they
	 * wait their turn as one list, still in the order added. */
	struct record rec = { 0 };
	struct tagged t[4];
	filch_promise_create(&p);
	filch_promise_create(&d.other);
	filch_future_on_done(p, first_cb, &d);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct tagged){ &rec, i };
		filch_future_on_done(d.other, record_cb, &t[i]);
	}
	filch_promise_set_result(p, NULL);
	is(atomic_load(&rec.calls), 4, "deferred: each of 4 callbacks ran once");
	ok(rec.order[0] == 0 && rec.order[1] == 1 && rec.order[2] == 2 &&
		   rec.order[3] == 3,
	   "deferred: in the order added");
	filch_future_release(p);
	filch_future_release(d.other);
}

/* ---- waiting ---- */

struct waiter {
	filch_future *f;
	int64_t timeout;
	int rc;
	void *res;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->rc = filch_future_result(w->f, w->timeout, &w->res);
	return NULL;
}

static void test_many_waiters(void)
{
	enum { N = 16 };
	filch_future *p;
	pthread_t th[N];
	struct waiter w[N];
	filch_promise_create(&p);
	for (int i = 0; i < N; i++) {
		w[i] = (struct waiter){ p, i % 2 ? FILCH_FOREVER : 60000 * MS, -1, NULL };
		pthread_create(&th[i], NULL, waiter_main, &w[i]);
	}
	sleep_ns(30 * MS); /* most of them are asleep on the futex by now */
	filch_promise_set_result(p, (void *)0x99);
	int good = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		good += w[i].rc == 0 && w[i].res == (void *)0x99;
	}
	is(good, N, "%d waiters (forever and long timeouts) all woke with the result", N);
	filch_future_release(p);

	/* Short timeouts expire while a forever waiter keeps waiting. */
	filch_promise_create(&p);
	struct waiter shortw = { p, 10 * MS, -1, NULL };
	struct waiter longw = { p, FILCH_FOREVER, -1, NULL };
	pthread_t ts, tl;
	pthread_create(&tl, NULL, waiter_main, &longw);
	pthread_create(&ts, NULL, waiter_main, &shortw);
	pthread_join(ts, NULL);
	is(shortw.rc, -ETIMEDOUT, "a 10 ms waiter times out");
	ok(!filch_future_done(p), "the future is untouched by the timeout");
	filch_future_cancel(p);
	pthread_join(tl, NULL);
	is(longw.rc, -ECANCELED, "the forever waiter wakes on cancel with -ECANCELED");
	filch_future_release(p);
}

static void *complete_later(void *arg)
{
	sleep_ns(20 * MS);
	filch_promise_set_running(arg);
	filch_promise_set_error(arg, ERANGE, "from another thread");
	return NULL;
}

static void test_foreign_completion(void)
{
	filch_future *p;
	pthread_t th;
	struct record rec = { 0 };
	struct tagged t = { &rec, 1 };
	filch_promise_create(&p);
	filch_future_on_done(p, record_cb, &t);
	pthread_create(&th, NULL, complete_later, p);
	int code = 0;
	const char *msg = NULL;
	is(filch_future_error(p, FILCH_FOREVER, &code, &msg), 0,
	   "error() waits for a promise completed by another thread");
	ok(code == ERANGE && msg && strcmp(msg, "from another thread") == 0,
	   "with its code and message");
	pthread_join(th, NULL);
	ok(!pthread_equal(rec.thread, pthread_self()) && atomic_load(&rec.calls) == 1,
	   "the callback ran once, in the completing thread");
	filch_future_release(p);
}

/* ---- races ---- */

struct race {
	filch_future *f;
	pthread_barrier_t *go;
	atomic_int *count;
	int rc;
	bool cancelled;
};

static void *race_on_done(void *arg)
{
	struct race *r = arg;
	pthread_barrier_wait(r->go);
	r->rc = filch_future_on_done(r->f, count_cb, r->count);
	r->rc |= filch_future_on_done(r->f, count_cb, r->count);
	return NULL;
}

static void *race_set(void *arg)
{
	struct race *r = arg;
	pthread_barrier_wait(r->go);
	r->rc = filch_promise_set_result(r->f, NULL);
	return NULL;
}

static void *race_cancel(void *arg)
{
	struct race *r = arg;
	pthread_barrier_wait(r->go);
	r->cancelled = filch_future_cancel(r->f);
	return NULL;
}

static void test_races(void)
{
	enum { ROUNDS = 2000 };
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, 3);
	int bad_on_done = 0, bad_settle = 0, bad_cancel = 0;
	for (int i = 0; i < ROUNDS; i++) {
		filch_future *p;
		atomic_int count = 0;
		pthread_t a, b;
		filch_promise_create(&p);
		struct race ra = { p, &go, &count, 0, false };
		struct race rb = { p, &go, &count, 0, false };
		pthread_create(&a, NULL, race_on_done, &ra);
		pthread_create(&b, NULL, race_set, &rb);
		pthread_barrier_wait(&go);
		filch_future_on_done(p, count_cb, &count);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		bad_on_done += atomic_load(&count) != 3 || ra.rc || rb.rc;
		filch_future_release(p);

		/* two settlers */
		filch_promise_create(&p);
		struct race s1 = { p, &go, NULL, 0, false };
		struct race s2 = { p, &go, NULL, 0, false };
		pthread_create(&a, NULL, race_set, &s1);
		pthread_create(&b, NULL, race_set, &s2);
		pthread_barrier_wait(&go);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		bad_settle += !((s1.rc == 0) ^ (s2.rc == 0)) ||
			      (s1.rc && s1.rc != -EINVAL) ||
			      (s2.rc && s2.rc != -EINVAL);
		filch_future_release(p);

		/* cancel against completion */
		filch_promise_create(&p);
		struct race c = { p, &go, NULL, 0, false };
		struct race s = { p, &go, NULL, 0, false };
		pthread_create(&a, NULL, race_cancel, &c);
		pthread_create(&b, NULL, race_set, &s);
		pthread_barrier_wait(&go);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		int st = filch_future_state(p);
		bad_cancel += c.cancelled ? (s.rc != -ECANCELED || st != FILCH_CANCELLED)
					  : (s.rc != 0 || st != FILCH_FINISHED);
		filch_future_release(p);
	}
	pthread_barrier_destroy(&go);
	is(bad_on_done, 0, "on_done against completion: every callback exactly once (%d rounds)", ROUNDS);
	is(bad_settle, 0, "two completions: exactly one wins, the other gets -EINVAL");
	is(bad_cancel, 0, "cancel against completion: exactly one wins");
}

/* ---- when_all / when_any ---- */

static void make_promises(filch_future **p, int n)
{
	for (int i = 0; i < n; i++)
		filch_promise_create(&p[i]);
}

static void release_all(filch_future **p, int n)
{
	for (int i = 0; i < n; i++)
		filch_future_release(p[i]);
}

static void test_combinators(void)
{
	filch_future *p[3], *out;
	void *res = (void *)1;

	is(filch_when_all(NULL, 0, &out), 0, "when_all of nothing");
	is(filch_future_result(out, 0, &res), 0, "is finished at once");
	ok(res == NULL, "with a NULL result");
	filch_future_release(out);

	make_promises(p, 3);
	filch_promise_set_result(p[1], NULL); /* one already done */
	is(filch_when_all(p, 3, &out), 0, "when_all of three");
	filch_promise_set_result(p[0], NULL);
	ok(!filch_future_done(out), "pending while one input is");
	filch_promise_set_result(p[2], NULL);
	res = (void *)1;
	is(filch_future_result(out, 0, &res), 0, "finished when all are");
	ok(res == NULL, "result NULL");
	filch_future_release(out);
	release_all(p, 3);

	make_promises(p, 3);
	filch_when_all(p, 3, &out);
	filch_promise_set_error(p[1], EPIPE, "broken");
	ok(failed_with(out, EPIPE, "broken"),
	   "when_all fails at the first error, with its code and message");
	filch_future_cancel(p[0]);
	filch_promise_set_result(p[2], NULL);
	is(filch_future_result(out, 0, NULL), EPIPE, "later outcomes do not change it");
	filch_future_release(out);
	release_all(p, 3);

	make_promises(p, 3);
	filch_when_all(p, 3, &out);
	filch_future_cancel(p[2]);
	is(filch_future_result(out, 0, NULL), -ECANCELED, "when_all is cancelled when an input is");
	filch_future_release(out);
	/* The inputs are released unfulfilled: they are cancelled, and the
	 * combinator's record is freed by the last callback (LSan checks). */
	release_all(p, 3);

	make_promises(p, 3);
	is(filch_when_any(p, 3, &out), 0, "when_any of three");
	ok(!filch_future_done(out), "pending while all are");
	filch_promise_set_result(p[2], (void *)0x5);
	res = NULL;
	is(filch_future_result(out, 0, &res), 0, "finished with the first");
	is((uintptr_t)res, 2, "its result is the index of the first done");
	filch_promise_set_error(p[0], EIO, NULL);
	res = NULL;
	filch_future_result(out, 0, &res);
	is((uintptr_t)res, 2, "later ones change nothing");
	filch_future_release(out);
	release_all(p, 3);

	make_promises(p, 3);
	filch_when_any(p, 3, &out);
	filch_promise_set_error(p[1], ENOSPC, "full");
	ok(failed_with(out, ENOSPC, "full"),
	   "when_any fails like its first, with its code and message");
	filch_future_release(out);
	filch_when_any(p, 3, &out);
	is(filch_future_result(out, 0, NULL), ENOSPC, "an input already done decides at once");
	filch_future_release(out);
	release_all(p, 3);

	make_promises(p, 3);
	filch_when_any(p, 3, &out);
	filch_future_cancel(p[0]);
	is(filch_future_result(out, 0, NULL), -ECANCELED, "when_any is cancelled when its first is");
	filch_future_release(out);
	release_all(p, 3);

	/* Cancelling the combined future leaves the inputs alone. */
	make_promises(p, 2);
	filch_when_all(p, 2, &out);
	ok(filch_future_cancel(out), "the combined future can be cancelled");
	ok(!filch_future_done(p[0]) && !filch_future_done(p[1]), "its inputs stay pending");
	filch_promise_set_result(p[0], NULL);
	filch_promise_set_result(p[1], NULL);
	is(filch_future_state(out), FILCH_CANCELLED, "and it stays cancelled");
	filch_future_release(out);
	release_all(p, 2);

	/* The same future twice counts twice. */
	filch_promise_create(&p[0]);
	filch_future *twice[2] = { p[0], p[0] };
	filch_when_all(twice, 2, &out);
	filch_promise_set_result(p[0], NULL);
	is(filch_future_result(out, 0, NULL), 0, "when_all of one future twice");
	filch_future_release(out);
	filch_future_release(p[0]);
}

int main(void)
{
	tap_plan(0);
	test_bad_input();
	test_result_path();
	test_error_path();
	test_cancel_path();
	test_callback_order();
	test_release_in_callback();
	test_abandon();
	test_nested_completions();
	test_many_waiters();
	test_foreign_completion();
	test_races();
	test_combinators();
	return tap_done();
}
