/* SPDX-License-Identifier: MIT */
/* header_alone_mpi.c - filch/mpi.h compiles alone, as C, with nothing
 * before it (it brings <mpi.h> and <filch.h> itself), and its types are
 * usable; prints TAP. Linked with libfilch-mpi: it checks the errno
 * mapping, which needs no MPI_Init. */
#include <filch/mpi.h>

#include <stdio.h>

int main(void)
{
	struct filch_mpi_opts o = {.flags = FILCH_MPI_FUNNELLED};
	struct filch_mpi_map_opts m = {.chunk = 1};
	filch_mpi_post_fn post = NULL;
	filch_mpi_map_fn fn = NULL;

	int good = o.flags == 1 && m.chunk == 1 && !post && !fn &&
		   filch_mpi_errno(MPI_SUCCESS) == 0;

	printf("1..1\n%s 1 - filch/mpi.h alone, as C\n", good ? "ok" : "not ok");
	return !good;
}
