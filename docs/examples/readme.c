/* SPDX-License-Identifier: MIT */
/* readme.c - the example of README.md, compiled and run by make check;
 * tests/readme_sync.sh checks that the two stay the same. */
#include <filch.h>
#include <stdio.h>

static int square(void *arg, void **result)
{
	long x = (long)arg;
	*result = (void *)(x * x);
	return 0;
}

int main(void)
{
	void *items[10], *r;
	filch_executor *ex;
	filch_map_iter *it;
	long sum = 0;

	for (long i = 0; i < 10; i++)
		items[i] = (void *)(i + 1);
	filch_executor_create(&ex, NULL);            /* one worker per CPU */
	filch_map(&it, ex, square, items, 10, NULL); /* runs in parallel */
	while (filch_map_next(it, &r) == 0) {        /* in input order */
		printf("%ld ", (long)r);
		sum += (long)r;
	}
	printf("\nsum %ld\n", sum);
	filch_map_close(it);
	filch_executor_destroy(ex);                  /* graceful shutdown */
	return sum == 385 ? 0 : 1;
}
