/* SPDX-License-Identifier: MIT */
/*
 * mpi_halo.c - a halo exchange: 1-D heat diffusion on a ring of cells
 * split in blocks over the ranks. Each step receives the two ghost cells
 * from the neighbours as futures, and the step's compute is a
 * continuation on both (filch_when_all, then filch_future_then on the
 * executor): no thread waits in MPI. Rank 0 gathers the blocks, compares
 * them with a sequential run of the same steps, and exits 1 on a mismatch.
 *
 *	mpirun -np 3 ./mpi_halo [cells_per_rank] [steps]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <filch/mpi.h>

struct block {
	size_t n;	/* cells; u[0] and u[n + 1] are the ghosts */
	double *u, *v;	/* this step's and the next step's */
};

static void diffuse(const double *u, double *v, size_t n)
{
	for (size_t i = 1; i <= n; i++)
		v[i] = u[i] + 0.25 * (u[i - 1] - 2 * u[i] + u[i + 1]);
}

/* The step's compute: runs on the executor once both ghosts arrived. */
static int step(filch_future *ghosts, void *arg, void **result)
{
	struct block *b = arg;

	(void)ghosts;
	(void)result;
	diffuse(b->u, b->v, b->n);
	return 0;
}

static double initial(size_t global)
{
	return (double)((global * 7919) % 101);
}

/* Waits for f and releases it; returns its outcome. */
static int settle(filch_future *f)
{
	int rc = filch_future_result(f, FILCH_FOREVER, NULL);

	filch_future_release(f);
	return rc;
}

static int run(filch_executor *ex, struct block *b, int rank, int size,
	       unsigned steps)
{
	int left = (rank + size - 1) % size, right = (rank + 1) % size;

	for (unsigned s = 0; s < steps; s++) {
		filch_future *f[4] = {NULL}, *all = NULL, *done = NULL;
		double edge[2] = {b->u[1], b->u[b->n]};
		int rc;

		/* Ghost u[0] is the left neighbour's last cell (it sends
		 * it with tag 1), u[n + 1] the right one's first (tag 0). */
		rc = filch_mpi_irecv(&b->u[0], 1, MPI_DOUBLE, left, 1,
				     MPI_COMM_WORLD, &f[0]);
		rc = rc ? rc : filch_mpi_irecv(&b->u[b->n + 1], 1, MPI_DOUBLE,
					       right, 0, MPI_COMM_WORLD, &f[1]);
		rc = rc ? rc : filch_mpi_isend(&edge[0], 1, MPI_DOUBLE, left, 0,
					       MPI_COMM_WORLD, &f[2]);
		rc = rc ? rc : filch_mpi_isend(&edge[1], 1, MPI_DOUBLE, right,
					       1, MPI_COMM_WORLD, &f[3]);
		rc = rc ? rc : filch_when_all(f, 2, &all);
		rc = rc ? rc : filch_future_then(all, ex, step, b, &done);
		rc = rc ? rc : settle(done);
		for (int i = 0; i < 4; i++) {
			int r = f[i] ? settle(f[i]) : 0;

			rc = rc ? rc : r;
		}
		filch_future_release(all);
		if (rc)
			return rc;
		double *t = b->u;
		b->u = b->v;
		b->v = t;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 64;
	unsigned steps = argc > 2 ? (unsigned)atoi(argv[2]) : 50;
	filch_executor *ex = NULL;
	struct block b = {n, calloc(n + 2, sizeof(double)),
			  calloc(n + 2, sizeof(double))};
	double *all = NULL, maxerr = 0;
	int provided, rank, size, rc, bad = 0;

	MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	for (size_t i = 1; i <= n; i++)
		b.u[i] = initial(rank * n + i - 1);
	rc = filch_mpi_init(NULL);
	rc = rc ? rc : filch_executor_create(&ex, NULL);
	rc = rc ? rc : run(ex, &b, rank, size, steps);
	if (rc == 0 && rank == 0) {
		/* Gather the blocks, then the same steps sequentially. */
		filch_future **rf = calloc(size, sizeof(*rf));
		size_t total = n * size;
		double *seq = calloc(total + 2, sizeof(double));
		double *nxt = calloc(total + 2, sizeof(double));

		all = calloc(total, sizeof(double));
		memcpy(all, &b.u[1], n * sizeof(double));
		for (int r = 1; r < size && rc == 0; r++)
			rc = filch_mpi_irecv(all + r * n, (int)n, MPI_DOUBLE, r,
					     2, MPI_COMM_WORLD, &rf[r]);
		for (int r = 1; r < size; r++)
			rc = rc ? rc : settle(rf[r]);
		for (size_t i = 0; i < total; i++)
			seq[i + 1] = initial(i);
		for (unsigned s = 0; s < steps; s++) {
			seq[0] = seq[total];
			seq[total + 1] = seq[1];
			diffuse(seq, nxt, total);
			double *t = seq;
			seq = nxt;
			nxt = t;
		}
		for (size_t i = 0; i < total; i++)
			maxerr = fmax(maxerr, fabs(seq[i + 1] - all[i]));
		printf("halo: %d ranks x %zu cells, %u steps: max difference "
		       "from the sequential run %g\n", size, n, steps, maxerr);
		bad = rc != 0 || maxerr != 0;
		free(seq);
		free(nxt);
		free(rf);
	} else if (rc == 0) {
		filch_future *sf = NULL;

		rc = filch_mpi_isend(&b.u[1], (int)n, MPI_DOUBLE, 0, 2,
				     MPI_COMM_WORLD, &sf);
		rc = rc ? rc : settle(sf);
	}
	if (rc) {
		fprintf(stderr, "mpi_halo: %s\n", filch_mpi_strerror(rc));
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	filch_executor_destroy(ex);
	filch_mpi_finalize();
	free(all);
	free(b.u);
	free(b.v);
	MPI_Finalize();
	return bad;
}
