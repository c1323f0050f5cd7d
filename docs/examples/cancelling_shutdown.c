/* SPDX-License-Identifier: MIT */
/*
 * cancelling_shutdown.c - shut down and drop what has not started (Python:
 * executor.shutdown(cancel_futures=True)).
 *
 * Two workers pick up two tasks, which wait at a gate; eight more are still
 * queued. FILCH_SHUTDOWN_CANCEL_PENDING cancels those eight (their
 * callbacks run, their waiters wake); the two running ones finish.
 */
#include <errno.h>
#include <filch.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "expect.h"

static atomic_int started, gate_open, cancelled_callbacks;

static int gated_task(void *arg, void **result)
{
	atomic_fetch_add(&started, 1);
	while (!atomic_load(&gate_open))
		nanosleep(&(struct timespec){0, 1000000L}, NULL);
	*result = arg;
	return 0;
}

static void on_done(filch_future *f, void *arg)
{
	(void)arg;
	if (filch_future_cancelled(f))
		atomic_fetch_add(&cancelled_callbacks, 1);
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 2};
	filch_future *futures[10];
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (long i = 0; i < 10; i++)
		if (filch_submit(ex, gated_task, (void *)(intptr_t)i, &futures[i]) ||
		    filch_future_on_done(futures[i], on_done, NULL))
			return 1;
	while (atomic_load(&started) < 2) /* both workers busy */
		nanosleep(&(struct timespec){0, 1000000L}, NULL);
	filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING);
	atomic_store(&gate_open, 1);
	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT); /* a second call is harmless */

	int completed = 0, cancelled = 0;
	for (int i = 0; i < 10; i++) {
		int rc = filch_future_result(futures[i], 0, NULL);
		completed += rc == 0;
		cancelled += rc == -ECANCELED;
		filch_future_release(futures[i]);
	}
	expect_line("Completed: 2, Cancelled: 8", "Completed: %d, Cancelled: %d",
		    completed, cancelled);
	expect_line("Callbacks of cancelled futures: 8",
		    "Callbacks of cancelled futures: %d",
		    atomic_load(&cancelled_callbacks));
	filch_executor_destroy(ex);
	return expect_status();
}
