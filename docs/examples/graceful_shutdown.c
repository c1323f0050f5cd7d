/* SPDX-License-Identifier: MIT */
/*
 * graceful_shutdown.c - shut down and wait for everything submitted
 * (Python: executor.shutdown(wait=True)).
 *
 * The tasks are fire-and-forget: filch_submit with a NULL future allocates
 * none. FILCH_SHUTDOWN_WAIT stops new submissions from other threads and
 * blocks until every task already submitted has run.
 */
#include <filch.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "expect.h"

static atomic_int completed;

static int slow_task(void *arg, void **result)
{
	long task_id = (long)(intptr_t)arg;

	nanosleep(&(struct timespec){0, 5 * (task_id % 4 + 1) * 1000000L}, NULL);
	atomic_fetch_add(&completed, 1);
	*result = arg;
	return 0;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 4};
	filch_executor *ex;
	int submitted = 0;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (long i = 0; i < 10; i++)
		if (filch_submit(ex, slow_task, (void *)(intptr_t)i, NULL) == 0)
			submitted++;
	if (filch_shutdown(ex, FILCH_SHUTDOWN_WAIT) != 0)
		return 1;
	int c = atomic_load(&completed);
	expect_line("Submitted: 10, Completed: 10", "Submitted: %d, Completed: %d",
		    submitted, c);
	expect_line("All completed: True", "All completed: %s",
		    submitted == c ? "True" : "False");
	expect_true(filch_submit(ex, slow_task, NULL, NULL) == -ESHUTDOWN,
		    "submitting after shutdown is -ESHUTDOWN");
	filch_executor_destroy(ex);
	return expect_status();
}
