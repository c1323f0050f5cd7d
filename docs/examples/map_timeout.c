/* SPDX-License-Identifier: MIT */
/*
 * map_timeout.c - map with a timeout, counting what timed out (Python:
 * executor.map(fn, xs, timeout=0.2) and catching TimeoutError).
 *
 * The timeout counts from the filch_map call, for the whole map. After
 * -ETIMEDOUT the map is over; filch_map_close cancels what has not started
 * and asks running tasks to stop (this task watches
 * filch_cancel_requested), so nothing is left running behind our back.
 */
#include <errno.h>
#include <filch.h>
#include <stdint.h>
#include <time.h>

#include "expect.h"

/* Per-item delay: items 0-2 are quick, item 3 is slow, so 3 results
 * arrive in input order before the deadline. */
static const long delay_ms[10] = {10, 30, 20, 900, 10, 600, 10, 20, 700, 10};

static int variable_task(void *arg, void **result)
{
	long n = (long)(intptr_t)arg;

	for (long t = 0; t < delay_ms[n]; t += 5) {
		if (filch_cancel_requested())
			return ECANCELED;
		nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
	}
	*result = (void *)(intptr_t)n;
	return 0;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 10};
	struct filch_map_opts mo = {.timeout_ns = 200 * 1000000LL,
				    .chunksize = 1};
	void *tasks[10];
	int results_got = 0, timed_out = 0, rc;
	filch_executor *ex;
	filch_map_iter *it;
	void *r;

	for (long i = 0; i < 10; i++)
		tasks[i] = (void *)(intptr_t)i;
	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	if (filch_map(&it, ex, variable_task, tasks, 10, &mo) != 0)
		return 1;
	while ((rc = filch_map_next(it, &r)) == 0)
		results_got++;
	if (rc == -ETIMEDOUT)
		timed_out++;
	filch_map_close(it);
	/* The remaining tasks count as timed out. */
	timed_out += 10 - results_got - timed_out;
	expect_line("Got: 3, Timed out: 7", "Got: %d, Timed out: %d",
		    results_got, timed_out);
	expect_line("Total: 10", "Total: %d", results_got + timed_out);
	filch_executor_destroy(ex);
	return expect_status();
}
