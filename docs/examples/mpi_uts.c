/* SPDX-License-Identifier: MIT */
/*
 * mpi_uts.c - a distributed unbalanced tree search: the number of nodes of
 * a tree whose subtrees differ in size by orders of magnitude. The root's
 * children are the items of filch_mpi_map: ranks ask rank 0 for chunks of
 * them as their executors run dry, count each subtree on a worker, and the
 * counts come back to rank 0 in order. Rank 0 checks the total against a
 * sequential count and exits 1 on a mismatch.
 *
 *	mpirun -np 3 ./mpi_uts [root_children]
 */
#include <stdio.h>
#include <stdlib.h>

#include <filch/mpi.h>

#include "mpi_uts_tree.h"

static int count_subtree(void *arg, size_t i, void *result)
{
	const struct uts_tree *t = arg;

	*(uint64_t *)result = uts_count(t, uts_child(0, (unsigned)i), 1);
	return 0;
}

int main(int argc, char **argv)
{
	struct uts_tree t = {2000, 5, 190};
	filch_executor *ex = NULL;
	uint64_t *counts = NULL, total = 0, want = 0;
	int provided, rank, rc;

	MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (argc > 1)
		t.root_children = (unsigned)atoi(argv[1]);
	if (rank == 0)
		counts = calloc(t.root_children, sizeof(*counts));
	rc = filch_mpi_init(NULL);
	if (rc == 0)
		rc = filch_executor_create(&ex, NULL);
	if (rc == 0)
		rc = filch_mpi_map(MPI_COMM_WORLD, ex, t.root_children,
				   count_subtree, &t, sizeof(uint64_t), 0,
				   counts, NULL);
	if (rc) {
		fprintf(stderr, "mpi_uts: %s\n", filch_mpi_strerror(rc));
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	filch_executor_destroy(ex);
	filch_mpi_finalize();
	if (rank == 0) {
		for (unsigned i = 0; i < t.root_children; i++)
			total += counts[i];
		total += 1; /* the root */
		want = uts_count(&t, 0, 0);
		printf("uts: %llu nodes (sequential count: %llu)\n",
		       (unsigned long long)total, (unsigned long long)want);
	}
	free(counts);
	MPI_Finalize();
	return total == want ? 0 : 1;
}
