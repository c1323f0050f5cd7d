/* SPDX-License-Identifier: MIT */
/* tests/consumer/main.c - a program built against an installed filch by
 * make installcheck: submits one task, checks its result and that the
 * library matches the header. Exit 0 when all is well. */
#include <filch.h>
#include <filch/version.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int square(void *arg, void **result)
{
	intptr_t x = (intptr_t)arg;

	*result = (void *)(x * x);
	return 0;
}

int main(void)
{
	filch_executor *ex = NULL;
	filch_future *f = NULL;
	void *result = NULL;
	int err;

	if (strcmp(filch_version_string(), FILCH_VERSION_STRING) != 0) {
		fprintf(stderr, "consumer: header %s, library %s\n",
			FILCH_VERSION_STRING, filch_version_string());
		return 1;
	}
	err = filch_executor_create(&ex, NULL);
	if (err != 0) {
		fprintf(stderr, "consumer: executor: %s\n", filch_strerror(err));
		return 1;
	}
	err = filch_submit(ex, square, (void *)(intptr_t)7, &f);
	if (err == 0) {
		err = filch_future_result(f, FILCH_FOREVER, &result);
		filch_future_release(f);
	}
	filch_executor_destroy(ex);
	if (err != 0 || (intptr_t)result != 49) {
		fprintf(stderr, "consumer: err %d (%s), result %ld\n", err,
			filch_strerror(err), (long)(intptr_t)result);
		return 1;
	}
	printf("consumer: filch %s: 7 * 7 = %ld\n", filch_version_string(),
	       (long)(intptr_t)result);
	return 0;
}
