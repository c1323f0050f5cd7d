/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c - a two-stage pipeline with continuations (Python: submit
 * stage 1, wait for its results, submit stage 2 on them).
 *
 * With filch_future_then, stage 2 of an item starts as soon as its own
 * stage 1 is done, on a worker, without the caller waiting in between: the
 * caller only collects the final futures.
 */
#include <errno.h>
#include <filch.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "expect.h"

/* Stage 1: fetch (simulated I/O). */
static int stage1_fetch(void *arg, void **result)
{
	long item = (long)(intptr_t)arg;

	nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
	*result = (void *)(intptr_t)(item * 2);
	return 0;
}

/* Stage 2: process what stage 1 fetched (its antecedent's result). */
static int stage2_process(filch_future *fetched, void *arg, void **result)
{
	void *r;

	(void)arg;
	if (filch_future_result(fetched, 0, &r) != 0)
		return EIO; /* not reached: a failed stage 1 skips stage 2 */
	nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
	*result = (void *)(intptr_t)((long)(intptr_t)r * (long)(intptr_t)r);
	return 0;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 5};
	filch_future *final[5];
	long results[5];
	char buf[64];
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (long i = 1; i <= 5; i++) {
		filch_future *s1;
		if (filch_submit(ex, stage1_fetch, (void *)(intptr_t)i, &s1) ||
		    filch_future_then(s1, ex, stage2_process, NULL, &final[i - 1]))
			return 1;
		filch_future_release(s1); /* the continuation keeps what it needs */
	}
	for (int i = 0; i < 5; i++) {
		void *r = NULL;
		expect_true(filch_future_result(final[i], FILCH_FOREVER, &r) == 0,
			    "both stages succeed");
		results[i] = (long)(intptr_t)r;
		filch_future_release(final[i]);
	}
	qsort(results, 5, sizeof(long), expect_cmp_long);
	expect_line("[4, 16, 36, 64, 100]", "%s",
		    expect_list(buf, sizeof(buf), results, 5));
	filch_executor_destroy(ex);
	return expect_status();
}
