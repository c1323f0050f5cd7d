/* SPDX-License-Identifier: MIT */
/*
 * procpool_bench.c - process workers against fork-per-task: the round trip
 * of an empty task (submit, then wait for its result, one at a time) and
 * the throughput of small tasks (all submitted, then all awaited), on a
 * filch_procpool of 1 and 2 workers with each start method, and with a
 * fork(2) + waitpid(2) per task (the cost the pool's long-lived workers
 * avoid). Prints one line per row: median of the runs.
 *
 *	bench/procpool-bench [-q]	(-q: a short smoke run)
 *
 * Built on demand (make bench/procpool-bench); not part of filch-bench,
 * whose rows share one process with pools of threads.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <filch.h>

#define RUNS 5

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int empty(const void *arg, size_t len, void **out, size_t *out_len)
{
	(void)arg, (void)len, (void)out, (void)out_len;
	return 0;
}

/* A small task: sums its 64 argument bytes into an 8-byte result. */
static int small(const void *arg, size_t len, void **out, size_t *out_len)
{
	uint64_t *sum = malloc(sizeof(*sum));

	if (!sum)
		return 12; /* ENOMEM */
	*sum = 0;
	for (size_t i = 0; i < len; i++)
		*sum += ((const unsigned char *)arg)[i];
	*out = sum;
	*out_len = sizeof(*sum);
	return 0;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "procpool-bench: %s: %s\n", what, filch_strerror(rc));
	exit(1);
}

static void await(filch_future *f)
{
	int rc = filch_future_result(f, FILCH_FOREVER, NULL);

	if (rc)
		die("task", rc);
	filch_future_release(f);
}

/* ns per task: n round trips, one at a time. */
static double pool_roundtrip(filch_procpool *pp, unsigned n)
{
	int64_t t0 = now_ns();

	for (unsigned i = 0; i < n; i++) {
		filch_future *f;
		int rc = filch_procpool_submit(pp, empty, NULL, 0, &f);

		if (rc)
			die("submit", rc);
		await(f);
	}
	return (double)(now_ns() - t0) / n;
}

/* ns per task: n small tasks in flight together. */
static double pool_throughput(filch_procpool *pp, unsigned n)
{
	filch_future **fs = malloc(n * sizeof(*fs));
	unsigned char arg[64];
	int64_t t0;

	if (!fs)
		die("malloc", -12);
	memset(arg, 1, sizeof(arg));
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		int rc = filch_procpool_submit(pp, small, arg, sizeof(arg),
					       &fs[i]);

		if (rc)
			die("submit", rc);
	}
	for (unsigned i = 0; i < n; i++)
		await(fs[i]);
	free(fs);
	return (double)(now_ns() - t0) / n;
}

/* ns per task: a fork, the task in the child, its exit, a waitpid. With
 * workers > 1, that many children at a time. */
static double fork_per_task(unsigned n, unsigned workers)
{
	int64_t t0 = now_ns();
	unsigned running = 0;

	for (unsigned i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			unsigned char arg[64] = { 1 };
			void *out = NULL;
			size_t len;

			_exit(small(arg, sizeof(arg), &out, &len));
		}
		if (pid < 0)
			die("fork", -1);
		if (++running == workers) {
			wait(NULL);
			running--;
		}
	}
	while (running--)
		wait(NULL);
	return (double)(now_ns() - t0) / n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "-q") == 0;
	unsigned n = quick ? 200 : 20000;
	static const struct {
		int method;
		const char *name;
	} methods[] = { { FILCH_START_FORKSERVER, "forkserver" },
			{ FILCH_START_FORK, "fork" } };

	printf("%-10s %-22s %7s %12s\n", "bench", "impl", "workers",
	       "ns/task");
	for (unsigned workers = 1; workers <= 2; workers++) {
		double rt[RUNS], tp[RUNS], fk[RUNS];

		for (size_t m = 0; m < 2; m++) {
			struct filch_procpool_opts o = {
				.workers = workers,
				.start_method = methods[m].method,
			};
			filch_procpool *pp;
			int rc = filch_procpool_create(&pp, &o);

			if (rc)
				die("create", rc);
			pool_roundtrip(pp, n / 10); /* warm up */
			for (int r = 0; r < RUNS; r++) {
				rt[r] = pool_roundtrip(pp, n);
				tp[r] = pool_throughput(pp, n);
			}
			filch_procpool_destroy(pp);
			printf("%-10s procpool-%-13s %7u %12.0f\n", "roundtrip",
			       methods[m].name, workers, median(rt));
			printf("%-10s procpool-%-13s %7u %12.0f\n", "small",
			       methods[m].name, workers, median(tp));
		}
		for (int r = 0; r < RUNS; r++)
			fk[r] = fork_per_task(n / 10, workers);
		printf("%-10s %-22s %7u %12.0f\n", "small", "fork-per-task",
		       workers, median(fk));
	}
	return 0;
}
