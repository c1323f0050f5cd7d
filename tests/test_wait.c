/* SPDX-License-Identifier: MIT */
/* test_wait.c - filch_wait: modes, timeouts, stable reordering, duplicates,
 * late callbacks after a timeout, waiting from inside a worker, and no
 * output written by a failing call (-EINVAL, -ENOMEM). The reordering in
 * every return path is test_wait_order.c's. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <filch.h>

#include "cf_helpers.h"
#include "tap.h"
#ifdef FILCH_FAULT_INJECTION
#include "runtime/fault_ctl.h"
#endif

static const int64_t MS = 1000000;

/* A call that fails writes none of its outputs: *ndone and fs keep what
 * the caller had there. */
static void test_bad_input(void)
{
	filch_future *fs[2];
	size_t nd = 99;

	cf_promises(fs, 2);
	filch_promise_set_result(fs[1], NULL); /* a partition would move it */
	is(filch_wait(fs, 2, 0, 0, &nd), -EINVAL, "mode 0 is -EINVAL");
	is(nd, 99, "*ndone untouched after -EINVAL (mode 0)");
	is(filch_wait(fs, 2, 0, 7, &nd), -EINVAL, "unknown mode is -EINVAL");
	is(nd, 99, "*ndone untouched after -EINVAL (unknown mode)");
	is(filch_wait(fs, 2, 0, 7, NULL), -EINVAL,
	   "unknown mode with NULL ndone is -EINVAL");
	is(filch_wait(NULL, 2, 0, FILCH_ALL_COMPLETED, &nd), -EINVAL,
	   "NULL fs with n > 0 is -EINVAL");
	is(nd, 99, "*ndone untouched after -EINVAL (NULL fs)");
	filch_future *withnull[3] = {fs[0], NULL, fs[1]};
	is(filch_wait(withnull, 3, 0, FILCH_ALL_COMPLETED, &nd), -EINVAL,
	   "a NULL entry is -EINVAL");
	is(nd, 99, "*ndone untouched after -EINVAL (NULL entry)");
	ok(withnull[0] == fs[0] && withnull[1] == NULL && withnull[2] == fs[1],
	   "fs untouched on -EINVAL");
	cf_release_all(fs, 2);
}

#ifdef FILCH_FAULT_INJECTION
/* -ENOMEM: neither fs nor *ndone is written, although one future is done
 * and a partition would move it. 6 futures: the wait record comes from
 * malloc (allocation 1); 40: the duplicates table too (allocation 1, the
 * record 2), freed when the record fails (LeakSanitizer in an ASan
 * build). */
static void enomem_case(size_t n, uint64_t nth)
{
	filch_future *fs[40], *orig[40];
	size_t nd = 99;

	cf_promises(fs, n);
	filch_promise_set_result(fs[n - 2], NULL);
	memcpy(orig, fs, n * sizeof(*fs));
	filch__fault_reset();
	filch__fault_arm(FILCH__FAULT_ALLOC, nth, false);
	int rc = filch_wait(fs, n, 10 * MS, FILCH_ALL_COMPLETED, &nd);
	uint64_t fired = filch__fault_fired(FILCH__FAULT_ALLOC);
	filch__fault_reset();
	is(fired, 1, "%zu futures, allocation %llu failed", n,
	   (unsigned long long)nth);
	is(rc, -ENOMEM, "%zu futures: -ENOMEM", n);
	is(nd, 99, "%zu futures: *ndone untouched after -ENOMEM", n);
	ok(memcmp(fs, orig, n * sizeof(*fs)) == 0,
	   "%zu futures: fs untouched after -ENOMEM", n);
	is(filch_wait(fs, n, 0, FILCH_ALL_COMPLETED, &nd), -ETIMEDOUT,
	   "%zu futures: as they were, a poll works", n);
	is(nd, 1, "%zu futures: one done", n);
	cf_release_all(orig, n);
}

static void test_enomem(void)
{
	enomem_case(6, 1);
	enomem_case(40, 1);
	enomem_case(40, 2);
}
#else
static void test_enomem(void)
{
	skip(18, "fault injection not built (configure "
		"--enable-fault-injection)");
}
#endif

static void test_empty_and_done(void)
{
	filch_future *fs[3];
	size_t nd = 99;

	is(filch_wait(NULL, 0, FILCH_FOREVER, FILCH_ALL_COMPLETED, &nd), 0,
	   "empty set returns 0 at once");
	is(nd, 0, "empty set: ndone 0");

	cf_promises(fs, 3);
	filch_promise_set_result(fs[0], NULL);
	filch_promise_set_error(fs[1], 5, "five");
	filch_future_cancel(fs[2]);
	int modes[] = {FILCH_FIRST_COMPLETED, FILCH_FIRST_EXCEPTION,
		       FILCH_ALL_COMPLETED};
	for (int m = 0; m < 3; m++) {
		nd = 0;
		is(filch_wait(fs, 3, FILCH_FOREVER, modes[m], &nd), 0,
		   "all already done (mode %d): 0", modes[m]);
		is(nd, 3, "all already done (mode %d): ndone 3", modes[m]);
	}
	cf_release_all(fs, 3);
}

static void test_poll_and_stable_order(void)
{
	filch_future *fs[6], *orig[6];
	size_t nd = 0;

	cf_promises(fs, 6);
	for (int i = 0; i < 6; i++)
		orig[i] = fs[i];
	is(filch_wait(fs, 6, 0, FILCH_FIRST_COMPLETED, &nd), -ETIMEDOUT,
	   "poll with nothing done: -ETIMEDOUT");
	is(nd, 0, "poll: ndone 0");
	filch_promise_set_result(orig[4], NULL);
	filch_promise_set_result(orig[1], NULL);
	filch_future_cancel(orig[5]);
	is(filch_wait(fs, 6, 0, FILCH_ALL_COMPLETED, &nd), -ETIMEDOUT,
	   "poll ALL with 3 of 6 done: -ETIMEDOUT");
	is(nd, 3, "ndone 3");
	ok(fs[0] == orig[1] && fs[1] == orig[4] && fs[2] == orig[5],
	   "done ones first, in their input order");
	ok(fs[3] == orig[0] && fs[4] == orig[2] && fs[5] == orig[3],
	   "not-done ones after, in their input order");
	is(filch_wait(fs, 6, 0, FILCH_FIRST_COMPLETED, &nd), 0,
	   "poll FIRST_COMPLETED with some done: 0");
	is(filch_wait(fs, 6, 0, FILCH_FIRST_EXCEPTION, &nd), -ETIMEDOUT,
	   "poll FIRST_EXCEPTION with a cancelled one but no error: -ETIMEDOUT");
	cf_release_all(orig, 6);
}

static void test_first_completed(void)
{
	filch_future *fs[4], *orig[4];
	struct cf_completer c;
	long delay[] = {30};
	size_t nd = 0;

	cf_promises(fs, 4);
	for (int i = 0; i < 4; i++)
		orig[i] = fs[i];
	cf_completer_start(&c, &orig[2], NULL, delay, 1);
	int64_t t0 = tap_now_ns();
	is(filch_wait(fs, 4, FILCH_FOREVER, FILCH_FIRST_COMPLETED, &nd), 0,
	   "FIRST_COMPLETED returns 0");
	ok(tap_now_ns() - t0 >= 25 * MS, "not before the completion");
	is(nd, 1, "ndone 1");
	ok(fs[0] == orig[2], "the completed one first");
	cf_completer_join(&c);
	cf_release_all(orig, 4);
}

static void test_first_exception(void)
{
	filch_future *fs[4], *orig[4];
	struct cf_completer c;
	int codes[] = {0, -1, 9};
	long delay[] = {5, 5, 20};
	size_t nd = 0;

	cf_promises(fs, 4);
	for (int i = 0; i < 4; i++)
		orig[i] = fs[i];
	/* orig[0] succeeds, orig[1] is cancelled, orig[3] fails, orig[2]
	 * stays pending: the failure alone satisfies FIRST_EXCEPTION. */
	filch_future *order[] = {orig[0], orig[1], orig[3]};
	cf_completer_start(&c, order, codes, delay, 3);
	is(filch_wait(fs, 4, 5000 * MS, FILCH_FIRST_EXCEPTION, &nd), 0,
	   "FIRST_EXCEPTION returns 0 on the first error");
	cf_completer_join(&c);
	is(nd, 3, "ndone counts the success, the cancel and the error");
	ok(fs[0] == orig[0] && fs[1] == orig[1] && fs[2] == orig[3] &&
		   fs[3] == orig[2],
	   "stable order: done ones in input order, then the pending one");

	/* No error at all: FIRST_EXCEPTION is ALL_COMPLETED. */
	filch_promise_set_result(orig[2], NULL);
	is(filch_wait(fs, 4, FILCH_FOREVER, FILCH_FIRST_EXCEPTION, &nd), 0,
	   "all done: FIRST_EXCEPTION returns 0");
	is(nd, 4, "ndone 4");
	cf_release_all(orig, 4);

	filch_future *g[2];
	cf_promises(g, 2);
	struct cf_completer c2;
	int ok_codes[] = {0, 0};
	long d2[] = {10, 10};
	cf_completer_start(&c2, g, ok_codes, d2, 2);
	is(filch_wait(g, 2, FILCH_FOREVER, FILCH_FIRST_EXCEPTION, &nd), 0,
	   "FIRST_EXCEPTION without errors waits for all");
	is(nd, 2, "both done");
	cf_completer_join(&c2);
	cf_release_all(g, 2);
}

static void test_all_timeout_then_late_callbacks(void)
{
	filch_future *fs[8], *orig[8];
	size_t nd = 0;

	cf_promises(fs, 8);
	for (int i = 0; i < 8; i++)
		orig[i] = fs[i];
	filch_promise_set_result(orig[3], NULL);
	int64_t t0 = tap_now_ns();
	is(filch_wait(fs, 8, 20 * MS, FILCH_ALL_COMPLETED, &nd), -ETIMEDOUT,
	   "ALL with pending ones times out");
	ok(tap_now_ns() - t0 >= 19 * MS, "not before the timeout");
	is(nd, 1, "ndone 1");
	ok(fs[0] == orig[3], "the done one first");
	/* The wait's callbacks are still registered: completing now runs
	 * them after the waiter returned (the shared record outlives it). */
	for (int i = 0; i < 8; i++)
		if (i != 3)
			filch_promise_set_result(orig[i], NULL);
	is(filch_wait(fs, 8, 0, FILCH_ALL_COMPLETED, &nd), 0,
	   "late completions: now all done");
	is(nd, 8, "ndone 8");
	cf_release_all(orig, 8);
}

static void test_duplicates_and_many(void)
{
	enum { N = 200 };
	filch_future *p[N], *fs[2 * N];
	struct cf_completer c;
	size_t nd = 0;

	cf_promises(p, N);
	for (int i = 0; i < N; i++)
		fs[2 * i] = fs[2 * i + 1] = p[i];
	cf_completer_start(&c, p, NULL, NULL, N);
	is(filch_wait(fs, 2 * N, FILCH_FOREVER, FILCH_ALL_COMPLETED, &nd), 0,
	   "ALL over %d futures each listed twice", N);
	is(nd, 2 * N, "every occurrence counted done");
	cf_completer_join(&c);
	cf_release_all(p, N);

	filch_future *q[3], *qown[2];
	cf_promises(qown, 2);
	q[0] = q[2] = qown[0];
	q[1] = qown[1];
	struct cf_completer c2;
	long d[] = {10};
	cf_completer_start(&c2, qown, NULL, d, 1);
	is(filch_wait(q, 3, FILCH_FOREVER, FILCH_FIRST_COMPLETED, &nd), 0,
	   "FIRST_COMPLETED with a duplicate");
	is(nd, 2, "both occurrences of the done future first");
	ok(q[0] == qown[0] && q[1] == qown[0] && q[2] == qown[1],
	   "reordered: the done future twice, then the pending one");
	cf_completer_join(&c2);
	cf_release_all(qown, 2); /* not q: wait reordered it */
}

/* FIRST_COMPLETED over many futures that complete while filch_wait is
 * still registering its callbacks: it may stop registering once satisfied;
 * the outcome must still be exact (the done ones first, in order) and
 * nothing may leak or be touched after the wait returned (ASan, TSan). */
static void test_first_completed_while_registering(void)
{
	enum { N = 20000, ROUNDS = 20 };
	static filch_future *p[N], *fs[N];
	int bad = 0, unsatisfied = 0;

	for (int r = 0; r < ROUNDS; r++) {
		struct cf_completer c;
		size_t nd = 0;

		cf_promises(p, N);
		memcpy(fs, p, sizeof(fs));
		cf_completer_start(&c, p, NULL, NULL, N);
		unsatisfied += filch_wait(fs, N, FILCH_FOREVER,
					  FILCH_FIRST_COMPLETED, &nd) != 0;
		unsatisfied += nd == 0;
		for (size_t i = 0; i < nd; i++)
			bad += !filch_future_done(fs[i]);
		cf_completer_join(&c);
		/* Each promise's result is its index + 1. The done part and
		 * the rest must each keep index order and together hold every
		 * promise once. */
		static unsigned char seen[N];
		memset(seen, 0, sizeof(seen));
		for (size_t i = 0, last = 0; i < N; i++) {
			void *res = NULL;
			filch_future_result(fs[i], 0, &res);
			size_t idx = (size_t)(uintptr_t)res - 1;
			bad += idx >= N || seen[idx]++ ||
			       (i != 0 && i != nd && idx < last);
			last = idx;
		}
		cf_release_all(p, N);
	}
	is(unsatisfied, 0, "FIRST_COMPLETED returned 0 with ndone >= 1, "
			   "%d rounds of %d futures",
	   ROUNDS, N);
	is(bad, 0, "the done ones first, order kept");
}

struct nested {
	int rc;
	size_t nd;
};

/* Runs on the only worker: submits children and waits for them all; the
 * wait must run them itself (help) instead of blocking the pool. */
static int waiting_task(void *arg, void **result)
{
	struct nested *n = arg;
	filch_future *kids[16];
	for (int i = 0; i < 16; i++)
		if (filch_submit(filch_current_executor(), cf_task_sleep,
				 (void *)(intptr_t)(i % 2), &kids[i]) != 0)
			return EIO;
	n->rc = filch_wait(kids, 16, 10000 * MS, FILCH_ALL_COMPLETED, &n->nd);
	cf_release_all(kids, 16);
	(void)result;
	return 0;
}

static void test_on_worker(void)
{
	struct nested n = {.rc = 1};

	is(cf_run_on_one_worker(waiting_task, &n), 0,
	   "a wait inside the only worker completes (helping)");
	is(n.rc, 0, "its filch_wait returned 0");
	is(n.nd, 16, "all 16 children done");
}

static void test_tasks(void)
{
	filch_executor *ex = cf_executor(2);
	filch_future *fs[32];
	size_t nd = 0;

	for (int i = 0; i < 32; i++)
		filch_submit(ex, i == 7 ? cf_task_fail : cf_task_sleep,
			     (void *)(intptr_t)(i == 7 ? 3 : i % 3), &fs[i]);
	is(filch_wait(fs, 32, FILCH_FOREVER, FILCH_ALL_COMPLETED, &nd), 0,
	   "ALL over 32 tasks");
	is(nd, 32, "all done");
	int errs = 0;
	for (int i = 0; i < 32; i++) {
		int code = 0;
		filch_future_error(fs[i], 0, &code, NULL);
		errs += code == 3;
	}
	is(errs, 1, "exactly one failed");
	cf_release_all(fs, 32);
	filch_executor_destroy(ex);
}

int main(void)
{
	tap_plan(0);
	test_bad_input();
	test_enomem();
	test_empty_and_done();
	test_poll_and_stable_order();
	test_first_completed();
	test_first_exception();
	test_all_timeout_then_late_callbacks();
	test_duplicates_and_many();
	test_first_completed_while_registering();
	test_on_worker();
	test_tasks();
	return tap_done();
}
