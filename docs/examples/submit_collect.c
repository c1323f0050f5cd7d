/* SPDX-License-Identifier: MIT */
/*
 * submit_collect.c - submit tasks, keep the futures, collect the results
 * in submission order (Python: [f.result() for f in futures]).
 */
#include <filch.h>
#include <stdint.h>
#include <time.h>

#include "expect.h"

struct power {
	long base, exp;
};

static int compute(void *arg, void **result)
{
	const struct power *p = arg;
	long v = 1;

	nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
	for (long i = 0; i < p->exp; i++)
		v *= p->base;
	*result = (void *)(intptr_t)v;
	return 0;
}

int main(void)
{
	static const struct power tasks[4] = {{2, 10}, {3, 5}, {5, 4}, {10, 3}};
	struct filch_executor_opts opts = {.workers = 4};
	filch_future *futures[4];
	long results[4];
	char buf[64];
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (int i = 0; i < 4; i++)
		if (filch_submit(ex, compute, (void *)&tasks[i], &futures[i]) != 0)
			return 1;
	for (int i = 0; i < 4; i++) {
		void *r = NULL;
		/* Blocks until that task is done; 0 or the task's error. */
		expect_true(filch_future_result(futures[i], FILCH_FOREVER, &r) == 0,
			    "each task succeeds");
		results[i] = (long)(intptr_t)r;
		filch_future_release(futures[i]);
	}
	expect_line("[1024, 243, 625, 1000]", "%s",
		    expect_list(buf, sizeof(buf), results, 4));
	filch_executor_destroy(ex);
	return expect_status();
}
