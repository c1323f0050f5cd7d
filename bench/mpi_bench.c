/* SPDX-License-Identifier: MIT */
/*
 * mpi_bench.c - the bench of libfilch-mpi (make mpi-bench, and make bench
 * when MPI is built), run under mpirun; rank 0 prints one TSV line per
 * figure, as filch-bench --tsv does:
 *
 *   bench <TAB> impl <TAB> ranks <TAB> metric <TAB> median <TAB> min <TAB> max <TAB> unit
 *
 * pingpong (ranks 0 and 1; with one rank, to itself): one-way latency of
 *   a small message through futures (filch_mpi_isend/irecv, waited with
 *   filch_future_result) and with plain MPI_Send/MPI_Recv, and the
 *   difference: the overhead per message (metric overhead).
 * chunk: the cost of one chunk of filch_mpi_map (items that do nothing,
 *   one per chunk): a request to the root and its grant.
 * uts: the tree of docs/examples/mpi_uts.c counted by filch_mpi_map
 *   (dynamic chunks over the ranks) and by a static block partition (each
 *   rank maps its block of the root's children on its own executor, then
 *   MPI_Reduce), and the ratio (above 1: the dynamic map was faster).
 *
 *	mpirun -np 2 ./bench/mpi-bench [--quick]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <filch/mpi.h>

#include "docs/examples/mpi_uts_tree.h"

#define ROUNDS 5

static int rank, size;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void row(const char *bench, const char *impl, const char *metric,
		double *v, int n, const char *unit)
{
	if (rank != 0)
		return;
	qsort(v, n, sizeof(*v), cmp);
	printf("%s\t%s\t%d\t%s\t%.1f\t%.1f\t%.1f\t%s\n", bench, impl, size,
	       metric, v[n / 2], v[0], v[n - 1], unit);
}

/* Waits for f and releases it. */
static void settle(filch_future *f)
{
	if (filch_future_result(f, FILCH_FOREVER, NULL) != 0)
		MPI_Abort(MPI_COMM_WORLD, 1);
	filch_future_release(f);
}

/* One-way latency in ns over iters round trips; futures or plain MPI. */
static double pingpong(int iters, bool futures)
{
	int peer = size > 1 ? 1 - rank : rank, msg = 0;
	bool active = rank < 2;
	double t0;

	MPI_Barrier(MPI_COMM_WORLD);
	t0 = now_ns();
	for (int i = 0; active && i < iters; i++) {
		if (futures) {
			filch_future *s = NULL, *r = NULL;

			if (rank == 0 || size == 1) {
				filch_mpi_irecv(&msg, 1, MPI_INT, peer, 7,
						MPI_COMM_WORLD, &r);
				filch_mpi_isend(&i, 1, MPI_INT, peer, 7,
						MPI_COMM_WORLD, &s);
				settle(s);
				settle(r);
			} else {
				filch_mpi_irecv(&msg, 1, MPI_INT, peer, 7,
						MPI_COMM_WORLD, &r);
				settle(r);
				filch_mpi_isend(&msg, 1, MPI_INT, peer, 7,
						MPI_COMM_WORLD, &s);
				settle(s);
			}
		} else if (size == 1) {
			MPI_Sendrecv(&i, 1, MPI_INT, 0, 7, &msg, 1, MPI_INT, 0,
				     7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else if (rank == 0) {
			MPI_Send(&i, 1, MPI_INT, peer, 7, MPI_COMM_WORLD);
			MPI_Recv(&msg, 1, MPI_INT, peer, 7, MPI_COMM_WORLD,
				 MPI_STATUS_IGNORE);
		} else {
			MPI_Recv(&msg, 1, MPI_INT, peer, 7, MPI_COMM_WORLD,
				 MPI_STATUS_IGNORE);
			MPI_Send(&msg, 1, MPI_INT, peer, 7, MPI_COMM_WORLD);
		}
	}
	return (now_ns() - t0) / iters / 2;
}

static int nothing(void *arg, size_t i, void *result)
{
	(void)arg;
	(void)i;
	(void)result;
	return 0;
}

/* The root's children [lo, ...) as items 0, 1, ... */
struct slice {
	const struct uts_tree *t;
	size_t lo;
};

static int count_subtree(void *arg, size_t i, void *result)
{
	const struct slice *s = arg;

	*(uint64_t *)result =
		uts_count(s->t, uts_child(0, (unsigned)(s->lo + i)), 1);
	return 0;
}

/* Wall time in ms of a uts count: dynamic (filch_mpi_map over the
 * ranks) or static (each rank its block, on its own executor). */
static double uts(filch_executor *ex, const struct uts_tree *t, bool dynamic,
		  uint64_t *total)
{
	size_t n = t->root_children;
	size_t lo = dynamic ? 0 : n * rank / size;
	size_t hi = dynamic ? n : n * (rank + 1) / size;
	uint64_t *c = calloc(n, sizeof(*c)), mine = 0;
	struct slice sl = {t, lo};
	double t0;
	int rc;

	MPI_Barrier(MPI_COMM_WORLD);
	t0 = now_ns();
	if (dynamic) {
		rc = filch_mpi_map(MPI_COMM_WORLD, ex, n, count_subtree, &sl,
				   sizeof(*c), 0, c, NULL);
		for (size_t i = 0; i < n; i++)
			mine += c[i];
	} else {
		/* The block [lo, hi) as a map on this rank alone. */
		rc = filch_mpi_map(MPI_COMM_SELF, ex, hi - lo, count_subtree,
				   &sl, sizeof(*c), 0, c, NULL);
		for (size_t i = 0; i < hi - lo; i++)
			mine += c[i];
		MPI_Reduce(rank == 0 ? MPI_IN_PLACE : &mine, &mine, 1,
			   MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
	}
	MPI_Barrier(MPI_COMM_WORLD);
	if (rc)
		MPI_Abort(MPI_COMM_WORLD, 1);
	*total = mine;
	free(c);
	return (now_ns() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	int iters = quick ? 200 : 2000, provided;
	double fut[ROUNDS], plain[ROUNDS], over[ROUNDS], chunk[ROUNDS];
	double dyn[ROUNDS], stat[ROUNDS], ratio[ROUNDS];
	struct uts_tree t = {quick ? 2000 : 20000, 5, 190};
	filch_executor *ex = NULL;
	uint64_t a = 0, b = 0;

	MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (provided != MPI_THREAD_MULTIPLE || filch_mpi_init(NULL) != 0 ||
	    filch_executor_create(&ex, NULL) != 0) {
		fprintf(stderr, "mpi-bench: needs MPI_THREAD_MULTIPLE\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	for (int r = 0; r < ROUNDS; r++) {
		plain[r] = pingpong(iters, false);
		fut[r] = pingpong(iters, true);
		over[r] = fut[r] - plain[r];
	}
	row("pingpong", "mpi", "latency", plain, ROUNDS, "ns");
	row("pingpong", "filch", "latency", fut, ROUNDS, "ns");
	row("pingpong", "filch", "overhead", over, ROUNDS, "ns");

	for (int r = 0; r < ROUNDS; r++) {
		struct filch_mpi_map_opts o = {.chunk = 1};
		size_t n = quick ? 200 : 2000;
		double t0;

		MPI_Barrier(MPI_COMM_WORLD);
		t0 = now_ns();
		filch_mpi_map(MPI_COMM_WORLD, ex, n, nothing, NULL, 0, 0, NULL,
			      &o);
		chunk[r] = (now_ns() - t0) / n;
	}
	row("chunk", "filch", "per_chunk", chunk, ROUNDS, "ns");

	for (int r = 0; r < ROUNDS; r++) {
		dyn[r] = uts(ex, &t, true, &a);
		stat[r] = uts(ex, &t, false, &b);
		ratio[r] = stat[r] / dyn[r];
		if (rank == 0 && a != b) {
			fprintf(stderr, "mpi-bench: uts counts differ\n");
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
	}
	row("uts", "filch", "time", dyn, ROUNDS, "ms");
	row("uts", "static", "time", stat, ROUNDS, "ms");
	row("uts", "filch", "vs_static", ratio, ROUNDS, "x");

	filch_executor_destroy(ex);
	filch_mpi_finalize();
	MPI_Finalize();
	return 0;
}
