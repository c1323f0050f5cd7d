/* SPDX-License-Identifier: MIT */
/*
 * callbacks.c - completion callbacks (Python: future.add_done_callback).
 *
 * The callback runs in the thread that completed the future (a worker), or
 * at once in the caller if the future is already done, so shared state
 * needs its own synchronization: here a mutex, as Python's lock.
 */
#include <filch.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "expect.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long completed[5];
static size_t ncompleted;

static int work(void *arg, void **result)
{
	long n = (long)(intptr_t)arg;

	nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
	*result = (void *)(intptr_t)(n * n);
	return 0;
}

static void on_done(filch_future *f, void *arg)
{
	void *r = NULL;

	(void)arg;
	if (filch_future_result(f, 0, &r) != 0)
		return;
	pthread_mutex_lock(&lock);
	completed[ncompleted++] = (long)(intptr_t)r;
	pthread_mutex_unlock(&lock);
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 5};
	char buf[64];
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (long n = 1; n <= 5; n++) {
		filch_future *f;
		if (filch_submit(ex, work, (void *)(intptr_t)n, &f) != 0 ||
		    filch_future_on_done(f, on_done, NULL) != 0)
			return 1;
		filch_future_release(f); /* the callback still runs */
	}
	/* Like leaving Python's "with" block: wait for every task (and so
	 * every callback, which runs as part of completing its future). */
	filch_executor_destroy(ex);
	qsort(completed, ncompleted, sizeof(long), expect_cmp_long);
	expect_line("[1, 4, 9, 16, 25]", "%s",
		    expect_list(buf, sizeof(buf), completed, ncompleted));
	return expect_status();
}
