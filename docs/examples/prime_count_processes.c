/* SPDX-License-Identifier: MIT */
/*
 * prime_count_processes.c - the seeds' CPU-bound prime count, on threads
 * and on processes, same code apart from the pool (Python:
 * executor.map(is_prime, numbers) under ThreadPoolExecutor and
 * ProcessPoolExecutor). In C both run in parallel; processes buy
 * isolation: a crash in a worker fails one future, not the program.
 *
 * The process pool is created first, while the program has one thread:
 * its workers are forked copies of the program.
 */
#include <filch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"

#define FIRST 10000000L
#define COUNT 1000L
#define CHUNKS 8

struct range {
	long lo, hi;
};

static int is_prime(long n)
{
	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	for (long i = 3; i * i <= n; i += 2)
		if (n % i == 0)
			return 0;
	return 1;
}

static long count_primes(const struct range *r)
{
	long n = 0;

	for (long x = r->lo; x < r->hi; x++)
		n += is_prime(x);
	return n;
}

/* On threads: the argument is shared, the result is a pointer-sized int. */
static int thread_task(void *arg, void **result)
{
	*result = (void *)(intptr_t)count_primes(arg);
	return 0;
}

/* On processes: the argument arrives as a copy of its bytes, the result
 * leaves as bytes. */
static int process_task(const void *arg, size_t len, void **out,
			size_t *out_len)
{
	struct range r;
	long *n = malloc(sizeof(*n));

	if (len != sizeof(r) || !n) {
		free(n);
		return EINVAL;
	}
	memcpy(&r, arg, sizeof(r));
	*n = count_primes(&r);
	*out = n;
	*out_len = sizeof(*n);
	return 0;
}

int main(void)
{
	struct range chunks[CHUNKS];
	filch_future *f[CHUNKS];
	filch_procpool *pp;
	filch_executor *ex;
	long on_threads = 0, on_processes = 0;

	for (int i = 0; i < CHUNKS; i++)
		chunks[i] = (struct range){ FIRST + i * COUNT / CHUNKS,
					    FIRST + (i + 1) * COUNT / CHUNKS };
	if (filch_procpool_create(&pp, &(struct filch_procpool_opts){
					       .workers = 4 }) != 0)
		return 1;
	if (filch_executor_create(&ex, &(struct filch_executor_opts){
					       .workers = 4 }) != 0)
		return 1;

	for (int i = 0; i < CHUNKS; i++)
		if (filch_submit(ex, thread_task, &chunks[i], &f[i]) != 0)
			return 1;
	for (int i = 0; i < CHUNKS; i++) {
		void *r = NULL;

		expect_true(filch_future_result(f[i], FILCH_FOREVER, &r) == 0,
			    "each thread task succeeds");
		on_threads += (long)(intptr_t)r;
		filch_future_release(f[i]);
	}
	expect_line("Found 61 primes", "Found %ld primes", on_threads);

	for (int i = 0; i < CHUNKS; i++)
		if (filch_procpool_submit(pp, process_task, &chunks[i],
					  sizeof(chunks[i]), &f[i]) != 0)
			return 1;
	for (int i = 0; i < CHUNKS; i++) {
		struct filch_bytes *b = NULL;

		expect_true(filch_future_result(f[i], FILCH_FOREVER,
						(void **)&b) == 0,
			    "each process task succeeds");
		if (b && b->len == sizeof(long))
			on_processes += *(long *)b->data;
		filch_future_release(f[i]);
	}
	expect_line("Found 61 primes", "Found %ld primes", on_processes);

	filch_executor_destroy(ex);
	filch_procpool_destroy(pp);
	return expect_status();
}
