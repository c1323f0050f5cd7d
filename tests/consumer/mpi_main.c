/* SPDX-License-Identifier: MIT */
/* tests/consumer/mpi_main.c - a program built against an installed
 * libfilch-mpi by make installcheck (CMake's filch::mpi): a message to
 * itself through futures. Exit 0 when all is well. */
#include <filch/mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int provided, rank, out = 42, in = 0, err;
	filch_future *sf = NULL, *rf = NULL;

	MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	err = filch_mpi_init(NULL);
	if (err == 0)
		err = filch_mpi_irecv(&in, 1, MPI_INT, rank, 7, MPI_COMM_WORLD,
				      &rf);
	if (err == 0)
		err = filch_mpi_isend(&out, 1, MPI_INT, rank, 7,
				      MPI_COMM_WORLD, &sf);
	if (err == 0)
		err = filch_future_result(rf, FILCH_FOREVER, NULL);
	if (err == 0)
		err = filch_future_result(sf, FILCH_FOREVER, NULL);
	filch_future_release(rf);
	filch_future_release(sf);
	if (filch_mpi_finalize() != 0 && err == 0)
		err = -1;
	MPI_Finalize();
	if (err || in != out) {
		fprintf(stderr, "mpi consumer: %s, got %d\n",
			filch_mpi_strerror(err), in);
		return 1;
	}
	printf("mpi consumer: %d through futures\n", in);
	return 0;
}
