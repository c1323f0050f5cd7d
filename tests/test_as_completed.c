/* SPDX-License-Identifier: MIT */
/* test_as_completed.c - the as_completed iterator: order (already done
 * first, then completion order), duplicates, timeouts, ending early, its own
 * references, many tasks, iterating inside a worker, the input index of
 * next_index, and no output written by a failing call. */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include <filch.h>

#include "cf_helpers.h"
#include "tap.h"
#ifdef FILCH_FAULT_INJECTION
#include "runtime/fault_ctl.h"
#endif

static const int64_t MS = 1000000;

/* A call that fails writes none of its outputs. */
static void test_bad_input(void)
{
	filch_as_completed *const sentinel = (filch_as_completed *)&sentinel;
	filch_as_completed *it = sentinel;
	filch_future *f;

	is(filch_as_completed_begin(NULL, NULL, 0, 0), -EINVAL, "NULL it");
	is(filch_as_completed_begin(&it, NULL, 3, 0), -EINVAL,
	   "NULL fs with n > 0");
	ok(it == sentinel, "*it untouched after -EINVAL (NULL fs)");
	filch_future *fs[2] = {NULL, NULL};
	is(filch_as_completed_begin(&it, fs, 2, 0), -EINVAL, "NULL entry");
	ok(it == sentinel, "*it untouched after -EINVAL (NULL entry)");
	is(filch_as_completed_next(NULL, &f), -EINVAL, "next(NULL)");
	filch_as_completed_end(NULL);
	ok(1, "end(NULL) is a no-op");
}

#ifdef FILCH_FAULT_INJECTION
/* -ENOMEM: *it untouched, no reference kept (the futures' counts are as
 * before: releasing ours frees them, which ASan checks). */
static void test_enomem(void)
{
	filch_as_completed *const sentinel = (filch_as_completed *)&sentinel;
	filch_as_completed *it = sentinel;
	filch_future *p[3];

	cf_promises(p, 3);
	filch__fault_reset();
	filch__fault_arm(FILCH__FAULT_ALLOC, 1, false);
	int rc = filch_as_completed_begin(&it, p, 3, FILCH_FOREVER);
	uint64_t fired = filch__fault_fired(FILCH__FAULT_ALLOC);
	filch__fault_reset();
	is(fired, 1, "-ENOMEM: the iterator's allocation failed");
	is(rc, -ENOMEM, "-ENOMEM returned");
	ok(it == sentinel, "*it untouched after -ENOMEM");
	cf_release_all(p, 3);
}
#else
static void test_enomem(void)
{
	skip(3, "fault injection not built (configure "
		"--enable-fault-injection)");
}
#endif

static void test_empty(void)
{
	filch_as_completed *it;
	filch_future *f = (filch_future *)&f;

	is(filch_as_completed_begin(&it, NULL, 0, FILCH_FOREVER), 0,
	   "begin over nothing");
	is(filch_as_completed_next(it, &f), FILCH_END, "at once FILCH_END");
	ok(f == (filch_future *)&f, "*f untouched by FILCH_END");
	is(filch_as_completed_next(it, &f), FILCH_END, "and again");
	filch_as_completed_end(it);
}

static void test_order(void)
{
	filch_future *p[5];
	filch_as_completed *it;
	struct cf_completer c;
	filch_future *f;

	cf_promises(p, 5);
	filch_promise_set_result(p[3], NULL);
	filch_promise_set_error(p[1], 4, "four");
	is(filch_as_completed_begin(&it, p, 5, FILCH_FOREVER), 0, "begin");
	/* Completed one after the other: p4, p0, p2. */
	filch_future *later[] = {p[4], p[0], p[2]};
	long delay[] = {5, 5, 5};
	cf_completer_start(&c, later, NULL, delay, 3);
	filch_future *want[] = {p[1], p[3], p[4], p[0], p[2]};
	for (int i = 0; i < 5; i++) {
		is(filch_as_completed_next(it, &f), 0, "next %d", i);
		ok(f == want[i], "item %d in order (already done in input "
				 "order, then completion order)", i);
	}
	is(filch_as_completed_next(it, &f), FILCH_END, "then FILCH_END");
	cf_completer_join(&c);
	filch_as_completed_end(it);
	cf_release_all(p, 5);
}

static void test_duplicates(void)
{
	filch_future *p[2], *fs[5];
	filch_as_completed *it;
	filch_future *f;
	int seen[2] = {0, 0};

	cf_promises(p, 2);
	fs[0] = p[0], fs[1] = p[1], fs[2] = p[0], fs[3] = p[1], fs[4] = p[0];
	filch_promise_set_result(p[1], NULL);
	is(filch_as_completed_begin(&it, fs, 5, FILCH_FOREVER), 0, "begin");
	filch_promise_set_result(p[0], NULL);
	while (filch_as_completed_next(it, &f) == 0)
		seen[f == p[1]]++;
	ok(seen[0] == 1 && seen[1] == 1, "each of 2 futures yielded once "
					 "from 5 entries (%d, %d)",
	   seen[0], seen[1]);
	filch_as_completed_end(it);
	cf_release_all(p, 2);
}

static void test_timeout(void)
{
	filch_future *p[3];
	filch_as_completed *it;
	filch_future *f;

	cf_promises(p, 3);
	filch_promise_set_result(p[2], NULL);
	int64_t t0 = tap_now_ns();
	is(filch_as_completed_begin(&it, p, 3, 30 * MS), 0, "begin, 30 ms");
	is(filch_as_completed_next(it, &f), 0, "the done one at once");
	ok(f == p[2], "it is p[2]");
	is(filch_as_completed_next(it, &f), -ETIMEDOUT,
	   "then -ETIMEDOUT for the whole iteration");
	ok(tap_now_ns() - t0 >= 29 * MS, "not before the timeout");
	filch_promise_set_result(p[0], NULL);
	is(filch_as_completed_next(it, &f), FILCH_END,
	   "a timeout ends the iteration");
	filch_as_completed_end(it);

	is(filch_as_completed_begin(&it, p, 3, 0), 0, "begin, poll");
	int got = 0, rc;
	while ((rc = filch_as_completed_next(it, &f)) == 0)
		got++;
	is(got, 2, "poll yields the 2 done ones");
	is(rc, -ETIMEDOUT, "then -ETIMEDOUT at once");
	filch_as_completed_end(it);
	/* Ending with a pending future: its callback fires later. */
	filch_promise_set_result(p[1], NULL);
	cf_release_all(p, 3);
}

static void test_own_references(void)
{
	filch_future *p[4];
	filch_as_completed *it;
	filch_future *f;

	cf_promises(p, 4);
	is(filch_as_completed_begin(&it, p, 4, FILCH_FOREVER), 0, "begin");
	for (int i = 0; i < 4; i++)
		filch_promise_set_result(p[i], (void *)(intptr_t)(i + 10));
	cf_release_all(p, 4); /* the iterator keeps its own */
	int sum = 0;
	while (filch_as_completed_next(it, &f) == 0) {
		void *r = NULL;
		filch_future_result(f, 0, &r);
		sum += (int)(intptr_t)r;
	}
	is(sum, 10 + 11 + 12 + 13, "results read through the iterator's "
				   "references after the caller released");
	filch_as_completed_end(it);
}

static void test_many_tasks(void)
{
	enum { N = 2000 };
	static filch_future *fs[N];
	static char seen[N];
	filch_executor *ex = cf_executor(2);
	filch_as_completed *it;
	filch_future *f;

	for (int i = 0; i < N; i++)
		filch_submit(ex, cf_task_sleep, (void *)(intptr_t)0, &fs[i]);
	is(filch_as_completed_begin(&it, fs, N, FILCH_FOREVER), 0, "begin");
	int got = 0, dup = 0, notdone = 0, rc;
	while ((rc = filch_as_completed_next(it, &f)) == 0) {
		got++;
		notdone += !filch_future_done(f);
		for (int i = 0; i < N; i++)
			if (fs[i] == f) {
				dup += seen[i];
				seen[i] = 1;
				break;
			}
		if (got > N)
			break;
	}
	is(rc, FILCH_END, "ends with FILCH_END");
	is(got, N, "every task yielded");
	is(dup, 0, "none twice");
	is(notdone, 0, "each yielded future was done");
	filch_as_completed_end(it);
	cf_release_all(fs, N);
	filch_executor_destroy(ex);
}

/* next_index: the position in fs of each yielded future (of its first
 * occurrence for a duplicate), a failed one included; outputs written only
 * with 0. */
static void test_next_index(void)
{
	filch_future *p[4], *fs[6], *f = NULL;
	filch_as_completed *it;
	struct cf_completer c;
	size_t index = 99;

	cf_promises(p, 4);
	/* p2 twice (first at 1), p0 twice (first at 2). */
	fs[0] = p[3], fs[1] = p[2], fs[2] = p[0], fs[3] = p[2], fs[4] = p[1];
	fs[5] = p[0];
	filch_promise_set_error(p[0], 5, "failed before");
	is(filch_as_completed_begin(&it, fs, 6, FILCH_FOREVER), 0, "begin");
	is(filch_as_completed_next_index(NULL, &f, &index), -EINVAL,
	   "next_index(NULL it)");
	is(filch_as_completed_next_index(it, NULL, &index), -EINVAL,
	   "next_index(NULL f)");
	is(filch_as_completed_next_index(it, &f, NULL), -EINVAL,
	   "next_index(NULL index)");
	ok(f == NULL && index == 99, "nothing written on -EINVAL");
	/* Then p2 fails, p3 succeeds, p1 is cancelled. */
	filch_future *later[] = {p[2], p[3], p[1]};
	int codes[] = {6, 0, -1};
	cf_completer_start(&c, later, codes, NULL, 3);
	const size_t want_index[] = {2, 1, 0, 4};
	filch_future *want_f[] = {p[0], p[2], p[3], p[1]};
	for (int i = 0; i < 4; i++) {
		is(filch_as_completed_next_index(it, &f, &index), 0,
		   "next_index %d", i);
		ok(f == want_f[i], "next_index %d: the future in completion "
				   "order", i);
		is(index, want_index[i], "next_index %d: its first index in fs",
		   i);
	}
	cf_completer_join(&c);
	f = (filch_future *)&f;
	index = 99;
	is(filch_as_completed_next_index(it, &f, &index), FILCH_END,
	   "then FILCH_END");
	ok(f == (filch_future *)&f && index == 99,
	   "f and index untouched at the end");
	filch_as_completed_end(it);

	/* Mixed with next on one iterator; -ETIMEDOUT writes nothing. */
	filch_future *q[3];
	cf_promises(q, 3);
	filch_promise_set_result(q[2], NULL);
	filch_promise_set_result(q[0], NULL);
	is(filch_as_completed_begin(&it, q, 3, 10 * MS), 0, "begin, 10 ms");
	is(filch_as_completed_next(it, &f), 0, "next");
	ok(f == q[0], "next: q0 (done first, input order)");
	is(filch_as_completed_next_index(it, &f, &index), 0, "next_index");
	ok(f == q[2] && index == 2, "next_index after next: q2 at 2");
	f = (filch_future *)&f;
	index = 99;
	is(filch_as_completed_next_index(it, &f, &index), -ETIMEDOUT,
	   "next_index: -ETIMEDOUT while q1 is pending");
	ok(f == (filch_future *)&f && index == 99,
	   "f and index untouched after -ETIMEDOUT");
	filch_as_completed_end(it);
	cf_release_all(q, 3);
	cf_release_all(p, 4);
}

struct nested {
	int got;
	int rc;
};

static int iterating_task(void *arg, void **result)
{
	struct nested *n = arg;
	filch_future *kids[8];
	filch_as_completed *it;
	filch_future *f;

	for (int i = 0; i < 8; i++)
		filch_submit(filch_current_executor(), cf_task_sleep,
			     (void *)(intptr_t)1, &kids[i]);
	filch_as_completed_begin(&it, kids, 8, 10000 * MS);
	cf_release_all(kids, 8);
	while ((n->rc = filch_as_completed_next(it, &f)) == 0)
		n->got++;
	filch_as_completed_end(it);
	(void)result;
	return 0;
}

static void test_on_worker(void)
{
	struct nested n = {0};

	is(cf_run_on_one_worker(iterating_task, &n), 0,
	   "as_completed inside the only worker finishes (helping)");
	is(n.got, 8, "all 8 children yielded");
	is(n.rc, FILCH_END, "then FILCH_END");
}

int main(void)
{
	tap_plan(0);
	test_bad_input();
	test_enomem();
	test_empty();
	test_order();
	test_duplicates();
	test_timeout();
	test_own_references();
	test_many_tasks();
	test_next_index();
	test_on_worker();
	return tap_done();
}
