/* SPDX-License-Identifier: MIT */
/*
 * as_completed_progress.c - results as they arrive, with a live progress
 * line (Python: for future in as_completed(futures): ...).
 *
 * The futures come back fastest first; "\r" rewrites the progress line in
 * place. The iterator holds its own references, so the futures can be
 * released as soon as it has started.
 */
#include <filch.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "expect.h"

/* Item i sleeps delay_ms[i - 1]: they finish in the order 2 6 4 8 1 7 3 5. */
static const long delay_ms[8] = {50, 10, 70, 30, 80, 20, 60, 40};

static int variable_work(void *arg, void **result)
{
	long item = (long)(intptr_t)arg;

	nanosleep(&(struct timespec){0, delay_ms[item - 1] * 1000000L}, NULL);
	*result = (void *)(intptr_t)item;
	return 0;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 8};
	filch_future *futures[8];
	long order[8];
	size_t done = 0;
	int seen[9] = {0};
	char buf[64];
	filch_executor *ex;
	filch_as_completed *it;
	filch_future *f;
	int rc;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (long i = 1; i <= 8; i++)
		if (filch_submit(ex, variable_work, (void *)(intptr_t)i,
				 &futures[i - 1]) != 0)
			return 1;
	if (filch_as_completed_begin(&it, futures, 8, FILCH_FOREVER) != 0)
		return 1;
	for (int i = 0; i < 8; i++)
		filch_future_release(futures[i]);
	while ((rc = filch_as_completed_next(it, &f)) == 0) {
		void *item;
		filch_future_result(f, 0, &item);
		order[done++] = (long)(intptr_t)item;
		seen[(long)(intptr_t)item]++;
		printf("\r  %zu/8 complete", done);
		fflush(stdout);
	}
	printf("\n");
	filch_as_completed_end(it);
	expect_true(rc == FILCH_END, "the iteration ends with FILCH_END");
	/* The exact order depends on the machine's load: print it, check
	 * that every item came exactly once. */
	expect_line(NULL, "Completion order: %s",
		    expect_list(buf, sizeof(buf), order, done));
	int all = done == 8;
	for (int i = 1; i <= 8; i++)
		all &= seen[i] == 1;
	expect_line("All 8 processed: True", "All 8 processed: %s",
		    all ? "True" : "False");
	filch_executor_destroy(ex);
	return expect_status();
}
