/* SPDX-License-Identifier: MIT */
/*
 * map_ordered.c - ordered parallel map (Python: list(executor.map(fn, xs))).
 *
 *     with ThreadPoolExecutor(max_workers=5) as executor:
 *         return list(executor.map(slow_double, numbers))
 *
 * filch_map runs fn over the items on the executor's workers and
 * filch_map_next hands the results back in input order, whatever order the
 * tasks finished in.
 */
#include <filch.h>
#include <stdint.h>
#include <time.h>

#include "expect.h"

static int slow_double(void *arg, void **result)
{
	long n = (long)(intptr_t)arg;
	/* The later items finish first: order still comes out right. */
	nanosleep(&(struct timespec){0, (6 - n) * 10 * 1000000L}, NULL);
	*result = (void *)(intptr_t)(n * 2);
	return 0;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 5};
	void *numbers[5];
	long doubled[5];
	size_t n = 0;
	char buf[64];
	filch_executor *ex;
	filch_map_iter *it;
	void *r;
	int rc;

	for (long i = 0; i < 5; i++)
		numbers[i] = (void *)(intptr_t)(i + 1);
	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	/* chunksize 1: one task per item, as Python's default. */
	struct filch_map_opts mo = {.chunksize = 1};
	if (filch_map(&it, ex, slow_double, numbers, 5, &mo) != 0)
		return 1;
	while ((rc = filch_map_next(it, &r)) == 0)
		doubled[n++] = (long)(intptr_t)r;
	filch_map_close(it);
	expect_true(rc == FILCH_END, "the map ends with FILCH_END");
	expect_line("[2, 4, 6, 8, 10]", "%s", expect_list(buf, sizeof(buf), doubled, n));
	filch_executor_destroy(ex);
	return expect_status();
}
