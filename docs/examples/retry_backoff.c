/* SPDX-License-Identifier: MIT */
/*
 * retry_backoff.c - a retrying submit with exponential backoff (Python: a
 * RetryExecutor whose wrapper retries fn, sleeping base * 2**attempt).
 *
 * retry_submit submits a task that calls fn and, while it fails, retries
 * it after 1 ms, 2 ms, 4 ms...; the caller just waits on the future and gets
 * the value, or the last error after all retries. The caller owns the
 * small retry record and keeps it until the future is done.
 */
#include <errno.h>
#include <filch.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "expect.h"

struct retry {
	filch_task_fn fn;
	void *arg;
	int max_retries;
	long base_delay_us;
};

static int retry_wrapper(void *arg, void **result)
{
	struct retry *r = arg;
	int rc = 0;

	for (int attempt = 0; attempt <= r->max_retries; attempt++) {
		rc = r->fn(r->arg, result);
		if (rc == 0)
			return 0;
		if (attempt < r->max_retries) {
			long us = r->base_delay_us << attempt;
			nanosleep(&(struct timespec){us / 1000000,
						     us % 1000000 * 1000},
				  NULL);
		}
	}
	return rc; /* the last error, after every retry */
}

/* Like filch_submit, with up to max_retries retries of fn; r must live
 * until *fut is done. */
static int retry_submit(filch_executor *ex, struct retry *r, filch_task_fn fn,
			void *arg, int max_retries, filch_future **fut)
{
	*r = (struct retry){fn, arg, max_retries, 1000};
	return filch_submit(ex, retry_wrapper, r, fut);
}

/* Fails on its first two attempts, then succeeds. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int attempts[5];

static int flaky(void *arg, void **result)
{
	long task_id = (long)(intptr_t)arg;

	pthread_mutex_lock(&lock);
	int attempt = ++attempts[task_id];
	pthread_mutex_unlock(&lock);
	if (attempt < 3)
		return filch_task_fail(EAGAIN, "Task %ld attempt %d failed",
				       task_id, attempt);
	*result = (void *)(intptr_t)(task_id * 10);
	return 0;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 4};
	struct retry records[5];
	filch_future *futures[5];
	long results[5];
	char buf[64];
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (long i = 0; i < 5; i++)
		if (retry_submit(ex, &records[i], flaky, (void *)(intptr_t)i, 3,
				 &futures[i]))
			return 1;
	for (int i = 0; i < 5; i++) {
		void *r = NULL;
		expect_true(filch_future_result(futures[i], FILCH_FOREVER, &r) == 0,
			    "every task succeeds after its retries");
		results[i] = (long)(intptr_t)r;
		filch_future_release(futures[i]);
	}
	qsort(results, 5, sizeof(long), expect_cmp_long);
	expect_line("Results: [0, 10, 20, 30, 40]", "Results: %s",
		    expect_list(buf, sizeof(buf), results, 5));
	int total = 0;
	for (int i = 0; i < 5; i++)
		total += attempts[i];
	expect_line("Attempts: 15 (3 per task)", "Attempts: %d (3 per task)", total);
	filch_executor_destroy(ex);
	return expect_status();
}
