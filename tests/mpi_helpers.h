/* SPDX-License-Identifier: MIT */
/*
 * mpi_helpers.h - what the MPI test programs share: the rank and the size
 * of MPI_COMM_WORLD (the program sets them after MPI_Init_thread), checks
 * reduced over the ranks (a line passes only if it held on every rank;
 * rank 0 prints it), and starting and stopping the engine.
 */
#ifndef FILCH_TESTS_MPI_HELPERS_H
#define FILCH_TESTS_MPI_HELPERS_H

#include <stdbool.h>
#include <stdio.h>

#include <filch/mpi.h>

#include "tap.h"

static int rank, size;
static bool engine_on; /* reduce through the engine, else MPI_Allreduce */

/* v reduced over the ranks with op (MPI_LAND, MPI_MIN, MPI_MAX...); if
 * the engine fails to reduce, 0 for MPI_LAND, else v. */
static int reduce(int v, MPI_Op op)
{
	int all = v;
	filch_future *f = NULL;

	if (!engine_on) {
		MPI_Allreduce(&v, &all, 1, MPI_INT, op, MPI_COMM_WORLD);
	} else if (filch_mpi_iallreduce(&v, &all, 1, MPI_INT, op,
					MPI_COMM_WORLD, &f) != 0 ||
		   filch_future_result(f, FILCH_FOREVER, NULL) != 0) {
		all = op == MPI_LAND ? 0 : v;
	}
	filch_future_release(f);
	return all;
}

/* Reduces cond over the ranks (logical and); rank 0 reports it, and a
 * rank where it failed says so on stderr. */
static void check(bool cond, const char *what)
{
	int all = reduce(cond, MPI_LAND);

	if (rank == 0)
		ok(all, "%s (%d ranks)", what, size);
	else if (!cond)
		fprintf(stderr, "rank %d: failed: %s\n", rank, what);
}

static void start(unsigned flags)
{
	struct filch_mpi_opts o = {.flags = flags};

	engine_on = filch_mpi_init(&o) == 0;
	check(engine_on, "filch_mpi_init starts the engine");
}

static void stop(void)
{
	int rc = filch_mpi_finalize();

	engine_on = false;
	check(rc == 0, "filch_mpi_finalize stops the engine");
}

#endif /* FILCH_TESTS_MPI_HELPERS_H */
