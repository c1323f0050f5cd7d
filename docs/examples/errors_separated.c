/* SPDX-License-Identifier: MIT */
/*
 * errors_separated.c - successes and failures separated (Python:
 * future.exception() / future.result()).
 *
 * A task fails by returning a positive error code; filch_task_fail attaches
 * a message, as raising ValueError('Bad value: 3') would. filch_future_error
 * returns the code and message without treating them as the call's error.
 */
#include <errno.h>
#include <filch.h>
#include <stdint.h>
#include <stdlib.h>

#include "expect.h"

static int risky_task(void *arg, void **result)
{
	long n = (long)(intptr_t)arg;

	if (n % 3 == 0)
		return filch_task_fail(EINVAL, "Bad value: %ld", n);
	*result = (void *)(intptr_t)(n * 10);
	return 0;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 4};
	filch_future *futures[6];
	long successes[6];
	char errors[6][32] = {{0}};
	size_t nok = 0, nerr = 0;
	char buf[128];
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (long n = 1; n <= 6; n++)
		if (filch_submit(ex, risky_task, (void *)(intptr_t)n,
				 &futures[n - 1]) != 0)
			return 1;
	for (int i = 0; i < 6; i++) {
		int code;
		const char *message;
		void *r;

		if (filch_future_error(futures[i], FILCH_FOREVER, &code, &message) != 0)
			return 1;
		if (code) {
			snprintf(errors[nerr++], sizeof(errors[0]), "'%s'", message);
		} else {
			filch_future_result(futures[i], 0, &r);
			successes[nok++] = (long)(intptr_t)r;
		}
		filch_future_release(futures[i]);
	}
	qsort(successes, nok, sizeof(long), expect_cmp_long);
	expect_line("Successes: [10, 20, 40, 50]", "Successes: %s",
		    expect_list(buf, sizeof(buf), successes, nok));
	expect_true(nerr == 2, "two failures");
	expect_line("Errors: ['Bad value: 3', 'Bad value: 6']", "Errors: [%s, %s]",
		    errors[0], errors[1]);
	filch_executor_destroy(ex);
	return expect_status();
}
