/* SPDX-License-Identifier: MIT */
/*
 * map_chunks.c - a map of tiny items with a chunk function (Python:
 * sum(executor.map(square, range(n), chunksize=c)), minus the cost of a
 * call per item).
 *
 * With opts.chunk_fn the map calls the function once per chunk and the loop
 * over the chunk is the program's own, so the compiler inlines and
 * vectorizes it; filch_map_next_span hands back whole runs of results. The
 * second map fails on one item: the results before it, then its code, as
 * with a function per item.
 */
#include <errno.h>
#include <filch.h>
#include <stdint.h>

#include "expect.h"

/* results[i] = (first + i)^2; fails with ERANGE on the index in *fail_at
 * (when chunk_arg is given). */
static int squares(void *arg, struct filch_chunk *c)
{
	const size_t *fail_at = arg;

	for (size_t i = 0; i < c->n; i++) {
		uint64_t x = c->first + i;
		if (fail_at && x == *fail_at) {
			c->ndone = i; /* results[0 .. i) are stored */
			return ERANGE;
		}
		c->results[i] = (void *)(uintptr_t)(x * x);
	}
	return 0;
}

/* Sums the map's results; returns its final code, *count the results. */
static int sum_all(filch_map_iter *it, uint64_t *sum, size_t *count)
{
	void *const *span;
	size_t k;
	int rc;

	*sum = 0;
	*count = 0;
	while ((rc = filch_map_next_span(it, &span, &k)) == 0) {
		for (size_t i = 0; i < k; i++)
			*sum += (uintptr_t)span[i];
		*count += k;
	}
	return rc;
}

int main(void)
{
	const size_t n = 1000000;
	size_t fail_at = 700001, count;
	filch_executor *ex;
	filch_map_iter *it;
	uint64_t sum;
	int rc;

	if (filch_executor_create(&ex, NULL) != 0)
		return 1;
	struct filch_map_opts o = {.chunk_fn = squares,
				   .flags = FILCH_MAP_CALLER_RUNS};
	if (filch_map(&it, ex, NULL, NULL, n, &o) != 0) /* indices 0 .. n-1 */
		return 1;
	rc = sum_all(it, &sum, &count);
	filch_map_close(it);
	expect_true(rc == FILCH_END, "the map ends with FILCH_END");
	/* sum of i^2 for i < n = (n-1) n (2n-1) / 6 */
	expect_line("1000000 squares, sum 333332833333500000", "%zu squares, sum %llu",
		    count, (unsigned long long)sum);

	o.chunk_arg = &fail_at;
	if (filch_map(&it, ex, NULL, NULL, n, &o) != 0)
		return 1;
	rc = sum_all(it, &sum, &count);
	filch_map_close(it);
	expect_line("700001 results, then: Numerical result out of range",
		    "%zu results, then: %s", count, filch_strerror(rc));
	filch_executor_destroy(ex);
	return expect_status();
}
