/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the progress engine of libfilch-mpi, as the other files of
 * mpi/ use it: posting an operation, and the result record of a future.
 */
#ifndef FILCH_MPI_ENGINE_H
#define FILCH_MPI_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <filch/mpi.h>

/* The result of an MPI future: its status (mpi/result.c). new gives a
 * record in the set of live ones (NULL: out of memory); free is also the
 * futures' result destructor (NULL is a no-op); set stores a status; get
 * copies the status of result if it is a live record, else -EINVAL. */
struct filch__mpi_result;
struct filch__mpi_result *filch__mpi_result_new(void);
void filch__mpi_result_free(void *result, void *arg);
void filch__mpi_result_set(struct filch__mpi_result *r, const MPI_Status *st);
int filch__mpi_result_get(const void *result, MPI_Status *status);

/* Room for the copied arguments of a convenience call (filch_mpi_isend
 * and its siblings). */
#define FILCH__MPI_ARGS_MAX 64

/*
 * Posts fn as filch_mpi_post does; when args is not NULL, its args_size
 * bytes (at most FILCH__MPI_ARGS_MAX) are copied into the record and fn
 * gets the copy instead of arg. Not cancellable (collectives, which
 * MPI_Cancel must not be called on): the future is RUNNING from the
 * start, so filch_future_cancel returns false. done, when not NULL, is
 * called as filch_future_on_done(*f, done, done_arg) would call it, but it
 * needs no registration that could fail: when 0 is returned, it runs once,
 * on the engine's thread, or in the thread that cancels *f (before MPI
 * released the buffer: the request completes later); otherwise never.
 * With done, an operation that MPI refuses at its start in this call
 * (MPI_THREAD_MULTIPLE, not funnelled) is not a future: its error is
 * returned as a negative errno and *f is untouched, so that done never
 * runs inside its caller.
 */
int filch__mpi_submit(filch_mpi_post_fn fn, void *arg, const void *args,
		      size_t args_size, bool cancellable, filch_callback_fn done,
		      void *done_arg, filch_future **f);

/* filch_mpi_isend (send) or filch_mpi_irecv, with filch__mpi_submit's
 * done. */
int filch__mpi_p2p(bool send, const void *buf, int count, MPI_Datatype type,
		   int peer, int tag, MPI_Comm comm, filch_callback_fn done,
		   void *done_arg, filch_future **f);

/* The failure of a future for MPI error code err: its positive errno, and
 * a message "MPI_ERR_...: <MPI's text>" written into buf. */
int filch__mpi_describe(int err, char *buf, size_t len);

#endif /* FILCH_MPI_ENGINE_H */
