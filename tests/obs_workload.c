/* SPDX-License-Identifier: MIT */
/* obs_workload.c - a known workload for tests/test_usdt.sh and
 * tests/test_filch_trace.sh: argv[1] tasks submitted from this thread to
 * two workers, each waited for. */
#include "config.h"

#include <stdlib.h>

#include <filch.h>

static int task(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return 0;
}

int main(int argc, char **argv)
{
	struct filch_executor_opts o = {.workers = 2};
	int n = argc > 1 ? atoi(argv[1]) : 10;
	filch_executor *ex;

	if (filch_executor_create(&ex, &o) != 0)
		return 1;
	for (int i = 0; i < n; i++) {
		filch_future *f;

		if (filch_submit(ex, task, NULL, &f) != 0)
			return 1;
		filch_future_result(f, FILCH_FOREVER, NULL);
		filch_future_release(f);
	}
	return filch_executor_destroy(ex) == 0 ? 0 : 1;
}
