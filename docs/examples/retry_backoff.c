/* SPDX-License-Identifier: MIT */
/*
 * retry_backoff.c - retries with exponential backoff and full jitter
 * (Python: a RetryExecutor whose wrapper retries fn, sleeping between
 * attempts), without a worker that sleeps: filch_submit_retry makes each
 * attempt a task and each backoff a timer of the executor.
 *
 * Five flaky tasks fail twice with EAGAIN, then succeed; a sixth always
 * fails with EIO, which the policy does not retry. The caller just waits on
 * the futures: the values, or the error of the last attempt.
 */
#include <errno.h>
#include <filch.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "expect.h"

/* Fails on its first two attempts, then succeeds; task 5 always fails
 * with EIO. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int attempts[6];

static int flaky(void *arg, void **result)
{
	long task_id = (long)(intptr_t)arg;

	pthread_mutex_lock(&lock);
	int attempt = ++attempts[task_id];
	pthread_mutex_unlock(&lock);
	if (task_id == 5)
		return filch_task_fail(EIO, "Task 5 attempt %d: disk error",
				       attempt);
	if (attempt < 3)
		return filch_task_fail(EAGAIN, "Task %ld attempt %d failed",
				       task_id, attempt);
	*result = (void *)(intptr_t)(task_id * 10);
	return 0;
}

/* Only transient errors are worth another attempt. */
static bool transient(int code, void *arg)
{
	(void)arg;
	return code == EAGAIN;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 4};
	unsigned made[6];
	filch_future *futures[6];
	long results[5];
	char buf[64];
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (long i = 0; i < 6; i++) {
		/* Backoff after attempt k: uniform in [0, min(cap, base
		 * * 2^(k-1))]: up to 1 ms, then up to 2 ms. */
		struct filch_retry_policy policy = {
			.max_attempts = 4,
			.base_ns = 1000000,
			.cap_ns = 8000000,
			.retry_if = transient,
			.attempts = &made[i],
		};
		if (filch_submit_retry(ex, flaky, (void *)(intptr_t)i, &policy,
				       &futures[i]))
			return 1;
	}
	for (int i = 0; i < 5; i++) {
		void *r = NULL;
		expect_true(filch_future_result(futures[i], FILCH_FOREVER, &r) == 0,
			    "every flaky task succeeds after its retries");
		expect_true(made[i] == 3, "on its third attempt");
		results[i] = (long)(intptr_t)r;
	}
	qsort(results, 5, sizeof(long), expect_cmp_long);
	expect_line("Results: [0, 10, 20, 30, 40]", "Results: %s",
		    expect_list(buf, sizeof(buf), results, 5));
	int code = 0;
	const char *message = NULL;
	filch_future_error(futures[5], FILCH_FOREVER, &code, &message);
	expect_true(code == EIO, "task 5 fails with EIO");
	expect_line("Task 5: Task 5 attempt 1: disk error (1 attempt)",
		    "Task 5: %s (%u attempt)", message, made[5]);
	for (int i = 0; i < 6; i++)
		filch_future_release(futures[i]);
	filch_executor_destroy(ex);
	return expect_status();
}
