/* SPDX-License-Identifier: MIT */
/*
 * first_completed.c - the first result wins and the rest are cancelled
 * (Python: wait(futures, return_when=FIRST_COMPLETED), then cancel()).
 *
 * filch_wait reorders the array so that the done futures come first and
 * says how many there are: Python's (done, not_done) without allocating.
 * Python's cancel() fails on a running task and it runs to the end; a filch
 * task can watch filch_cancel_requested() and stop early instead.
 */
#include <errno.h>
#include <filch.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "expect.h"

struct search {
	const char *haystack[5];
	const char *needle;
	long delay_ms;
};

/* Result of a search: whether it found the needle. */
static int slow_search(void *arg, void **result)
{
	const struct search *s = arg;

	/* Sleep in small steps, giving up when asked to. */
	for (long t = 0; t < s->delay_ms; t += 5) {
		if (filch_cancel_requested())
			return ECANCELED;
		nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
	}
	*result = (void *)0;
	for (int i = 0; i < 5 && s->haystack[i]; i++)
		if (strcmp(s->haystack[i], s->needle) == 0)
			*result = (void *)1;
	return 0;
}

int main(void)
{
	static const struct search searches[4] = {
		{{"a", "b", "c", "x", "y"}, "x", 400},
		{{"p", "q", "r"}, "r", 10}, /* the fastest */
		{{"m", "n", "o", "x"}, "z", 600},
		{{"d", "e", "f"}, "f", 800},
	};
	struct filch_executor_opts opts = {.workers = 4};
	filch_future *futures[4], *submitted[4];
	size_t ndone;
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (int i = 0; i < 4; i++) {
		if (filch_submit(ex, slow_search, (void *)&searches[i], &futures[i]))
			return 1;
		submitted[i] = futures[i];
	}
	if (filch_wait(futures, 4, FILCH_FOREVER, FILCH_FIRST_COMPLETED, &ndone))
		return 1;
	void *found;
	filch_future_result(futures[0], 0, &found);
	const struct search *winner = &searches[0];
	for (int i = 0; i < 4; i++)
		if (submitted[i] == futures[0])
			winner = &searches[i];
	expect_line("First result: (True, ['p', 'q', 'r'])",
		    "First result: (%s, ['%s', '%s', '%s'])",
		    found ? "True" : "False", winner->haystack[0],
		    winner->haystack[1], winner->haystack[2]);

	/* Cancel the rest: pending ones never run; running ones are asked. */
	int cancelled = 0;
	for (size_t i = ndone; i < 4; i++)
		cancelled += filch_future_cancel(futures[i]);
	expect_line(NULL, "Cancelled: %d", cancelled);
	filch_wait(futures, 4, FILCH_FOREVER, FILCH_ALL_COMPLETED, NULL);
	int stopped = 0;
	for (size_t i = ndone; i < 4; i++) {
		int code = 0;
		stopped += filch_future_error(futures[i], 0, &code, NULL) == 0 &&
			   code == ECANCELED;
	}
	expect_line(NULL, "Stopped early while running: %d", stopped);
	expect_true(ndone == 1 && cancelled + stopped == 3,
		    "every other search was cancelled or stopped early");
	for (int i = 0; i < 4; i++)
		filch_future_release(futures[i]);
	filch_executor_destroy(ex);
	return expect_status();
}
