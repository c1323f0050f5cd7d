/* SPDX-License-Identifier: MIT */
/*
 * filch/mpi.h - libfilch-mpi: filch futures that complete with MPI requests,
 * and a map spread over the ranks of a communicator (docs/mpi.md).
 *
 *	MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
 *	filch_mpi_init(NULL);
 *	filch_mpi_irecv(buf, n, MPI_INT, left, 0, MPI_COMM_WORLD, &rf);
 *	filch_future_then(rf, ex, compute, buf, &step);
 *	...
 *	filch_mpi_finalize();
 *	MPI_Finalize();
 *
 * One progress engine per process: a thread that tests the outstanding
 * requests in batches (MPI_Testsome) and completes their futures; it
 * spins briefly after activity, then sleeps with growing intervals (up to
 * max_sleep_ns) while requests are outstanding, and sleeps on a condition
 * variable with no timeout when none is: no CPU is burnt when idle, and
 * no worker of any executor blocks in MPI.
 *
 * Thread levels (MPI_Query_thread): with MPI_THREAD_MULTIPLE the calls
 * below start their operation in the calling thread; with
 * MPI_THREAD_SERIALIZED (or FILCH_MPI_FUNNELLED) the engine runs
 * funnelled: only its thread calls MPI, and the calls below queue their
 * operation to it (the program must not call MPI itself meanwhile).
 * MPI_THREAD_SINGLE and MPI_THREAD_FUNNELED are refused: under them no
 * thread but the main one may call MPI, and the engine is a thread of its
 * own.
 *
 * Futures of this library are promises of filch (filch_promise_create):
 * filch_future_result, _then, _on_done, wait and as_completed work on
 * them. Callbacks added with filch_future_on_done run on the engine's
 * thread when the request completes: they must not block (a callback
 * waiting for another MPI future would stop the engine). Continuations
 * (filch_future_then) run on their executor.
 *
 * Errors: calls return 0 or a negative errno, and write no output on
 * failure. A request that completes with an MPI error fails its future
 * with the positive errno of filch_mpi_errno() and a message naming the
 * MPI error class and MPI's text for it.
 */
#ifndef FILCH_MPI_H
#define FILCH_MPI_H

#include <mpi.h>

#include <filch.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Force the funnelled mode even where MPI_THREAD_MULTIPLE is provided. */
#define FILCH_MPI_FUNNELLED 0x1u

struct filch_mpi_opts {
	unsigned flags;	      /* FILCH_MPI_FUNNELLED; other bits: -EINVAL */
	unsigned spin;	      /* polls after the last activity before the
				 engine sleeps; 0: 64 */
	int64_t max_sleep_ns; /* longest sleep between polls while requests
				 are outstanding; 0: 1 ms; negative: -EINVAL */
};

/*
 * Starts the progress engine of this process. MPI must be initialized
 * (MPI_Init_thread) and not finalized. opts NULL or zero fields: the
 * defaults. Returns 0; -EINVAL (MPI not initialized or already finalized,
 * bad opts); -EPROTONOSUPPORT (MPI_THREAD_SINGLE or MPI_THREAD_FUNNELED
 * provided); -EBUSY (already started); -ENOMEM or -EAGAIN (the thread
 * could not be created). Any thread; in funnelled mode one that MPI allows
 * to call it (no other thread calling MPI meanwhile).
 */
FILCH_API int filch_mpi_init(const struct filch_mpi_opts *opts);

/*
 * Stops the engine: waits until every outstanding request has completed
 * (cancel a receive that will never match first), then joins its thread.
 * Call it before MPI_Finalize. Returns 0, or -EINVAL when the engine is
 * not running, or -EDEADLK from the engine's own thread (a callback).
 * Blocks. Any other thread.
 */
FILCH_API int filch_mpi_finalize(void);

/* True when the engine runs funnelled (only its thread calls MPI). Any
 * thread, never blocks. */
FILCH_API bool filch_mpi_funnelled(void);

/*
 * Takes over *req, an active MPI request (e.g. from MPI_Isend), and
 * returns in *f a future that finishes when it completes: with a result,
 * a pointer to its MPI_Status (owned by *f; see filch_mpi_status), or
 * with an MPI error (see the top). *req is set to MPI_REQUEST_NULL: the
 * caller must not test, wait or free the request any more.
 * filch_future_cancel(*f) while it is pending cancels the future at once
 * and asks the engine to MPI_Cancel the request; MPI keeps the buffer
 * until the engine has completed the cancelled request (a receive that
 * had matched a message received it), which filch_mpi_finalize waits
 * for. Returns 0 with *f (one reference for the caller); -EINVAL for NULL
 * arguments, MPI_REQUEST_NULL, or no engine; -ENOMEM (*req untouched).
 * Any thread, also callbacks; never blocks.
 */
FILCH_API int filch_mpi_future(MPI_Request *req, filch_future **f);

/*
 * Posts an operation: fn(arg, &req) starts it and returns an MPI error
 * code (MPI_SUCCESS with an active request). With MPI_THREAD_MULTIPLE fn
 * runs in the caller, before filch_mpi_post returns; funnelled, it runs
 * later on the engine's thread (arg must stay valid until then: until *f
 * is done). When fn fails, *f fails with that error. Otherwise as
 * filch_mpi_future. Returns 0 with *f, -EINVAL (NULL fn or f, no
 * engine), -ENOMEM. Any thread; never blocks.
 */
typedef int (*filch_mpi_post_fn)(void *arg, MPI_Request *req);
FILCH_API int filch_mpi_post(filch_mpi_post_fn fn, void *arg,
			     filch_future **f);

/*
 * Futures for MPI_Isend, MPI_Irecv, MPI_Ibcast and MPI_Iallreduce with
 * their usual arguments (copied: only the buffers must stay valid, until
 * the future is done). As filch_mpi_post; an argument that MPI rejects
 * fails the future (under MPI_ERRORS_RETURN; MPI's default handler aborts).
 */
FILCH_API int filch_mpi_isend(const void *buf, int count, MPI_Datatype type,
			      int dest, int tag, MPI_Comm comm,
			      filch_future **f);
FILCH_API int filch_mpi_irecv(void *buf, int count, MPI_Datatype type,
			      int source, int tag, MPI_Comm comm,
			      filch_future **f);
FILCH_API int filch_mpi_ibcast(void *buf, int count, MPI_Datatype type,
			       int root, MPI_Comm comm, filch_future **f);
FILCH_API int filch_mpi_iallreduce(const void *sendbuf, void *recvbuf,
				   int count, MPI_Datatype type, MPI_Op op,
				   MPI_Comm comm, filch_future **f);

/*
 * Waits like filch_future_result for f, a future of this library, and
 * copies its MPI_Status to *status: 0; -ETIMEDOUT; -ECANCELED; the
 * future's positive errno when the request failed; -EINVAL for NULL
 * arguments or a future that did not come from this library (one that
 * finished with a NULL result, or with a result that is not an MPI
 * status record of ours). *status is written only when 0 is returned.
 * Blocks like filch_future_result. Any thread but the engine's.
 */
FILCH_API int filch_mpi_status(filch_future *f, int64_t timeout_ns,
			       MPI_Status *status);

/*
 * The positive errno that stands for an MPI error code (its class):
 * MPI_SUCCESS 0; MPI_ERR_TRUNCATE EMSGSIZE; MPI_ERR_NO_MEM ENOMEM;
 * MPI_ERR_BUFFER, _COUNT, _TYPE, _TAG, _COMM, _RANK, _ROOT, _GROUP, _OP,
 * _ARG, _REQUEST, _DIMS, _TOPOLOGY EINVAL; MPI_ERR_PENDING EINPROGRESS;
 * MPI_ERR_UNSUPPORTED_OPERATION ENOTSUP; anything else EIO. Any thread,
 * wait-free; no MPI call when the code is a class or MPI_SUCCESS.
 */
FILCH_API int filch_mpi_errno(int mpi_error);

/* filch_strerror, extended with the codes of this library
 * (-EPROTONOSUPPORT, -EBUSY). Never NULL. Any thread. */
FILCH_API const char *filch_mpi_strerror(int err);

/* ------------------------------------------------------------------ */
/* A map over the ranks of a communicator                             */
/* ------------------------------------------------------------------ */

/* Computes item index into result (result_size bytes, zeroed); returns 0
 * or a positive error code (ECANCELED cancels the map). */
typedef int (*filch_mpi_map_fn)(void *arg, size_t index, void *result);

/* Leave the results where they were computed: results is needed on every
 * rank, and each rank writes only the items it computed; no gather. */
#define FILCH_MPI_MAP_LOCAL 0x1u

struct filch_mpi_map_opts {
	unsigned flags;	 /* FILCH_MPI_MAP_LOCAL; other bits: -EINVAL */
	size_t chunk;	 /* items a rank asks for at a time; 0: n / (8 *
			    ranks * workers), at least 1 */
	size_t inflight; /* chunks a rank keeps granted ahead; 0: its
			    executor's workers + 1 */
};

/*
 * Calls fn(arg, i, result_i) for every i in [0, n), spread over the ranks
 * of comm with dynamic load balancing: each rank asks rank root for a
 * chunk of indices whenever it has fewer than inflight chunks granted and
 * not done, and runs each chunk as a task on its executor ex. So an
 * unbalanced workload still finishes together. At root, results[i *
 * result_size ...] receives item i's result, in input order (results may
 * be NULL elsewhere; result_size 0 gathers nothing; FILCH_MPI_MAP_LOCAL
 * leaves each result on its rank). Collective: every
 * rank of comm calls it with the same n, result_size, root and
 * opts->flags (fn, arg, ex and opts->inflight are each rank's own; the
 * root's opts->chunk counts). The communicator is duplicated for the
 * map's messages.
 *
 * Errors: the first item that fails on any rank stops the map on every
 * rank (no more chunks are granted; chunks not started are cancelled),
 * and every rank returns the same outcome: 0; the item's positive code
 * (where items failed on several ranks: the largest of their codes);
 * -ECANCELED when fn returned ECANCELED; -EINVAL for bad arguments (NULL
 * fn or ex, root out of range, NULL results with result_size > 0 at root
 * or, with FILCH_MPI_MAP_LOCAL, anywhere, unknown opts flags: checked on each rank before any message, so a
 * rank that fails them returns at once and the others may hang: pass
 * the same arguments everywhere); -ENOMEM (a rank or the root ran out
 * of memory); an error of filch_submit on some rank (-ESHUTDOWN: its
 * executor was shut down); -ECANCELED also when someone else cancelled
 * a chunk (a cancelling shutdown); a negative errno from MPI. A failure
 * of the map itself on one rank is returned on every rank, as an item's
 * is (a send of the root's that completes with an MPI error too). What
 * can still leave ranks waiting (docs/mpi.md): a rank that cannot post
 * its request for a chunk or the receive of the answer (no memory for
 * their futures, or MPI refuses them); at the root, a receive of requests
 * that cannot be posted or fails, and an answer (the end, or a grant
 * taken back) or a chunk's items that cannot be sent (their send cannot
 * be posted, fails, or, funnelled, is refused by MPI), which leaves its
 * destination waiting.
 * On an error the contents of results are unspecified.
 * Blocks the caller (not a worker of ex: -EDEADLK) until every rank is
 * done. Needs a running engine (filch_mpi_init).
 */
FILCH_API int filch_mpi_map(MPI_Comm comm, filch_executor *ex, size_t n,
			    filch_mpi_map_fn fn, void *arg, size_t result_size,
			    int root, void *results,
			    const struct filch_mpi_map_opts *opts);

/*
 * filch_mpi_map over byte items: items (at root; ignored elsewhere) holds
 * n items of item_size bytes each, and fn(arg, i, item_i, result_i) gets
 * a pointer to item i, valid while fn runs. The root sends each chunk's
 * items to the rank it grants the chunk to, right after the grant; its
 * own chunks read items in place. Otherwise as filch_mpi_map, and
 * -EINVAL also for item_size 0, or NULL items at root with n > 0.
 */
typedef int (*filch_mpi_map_item_fn)(void *arg, size_t index,
				     const void *item, void *result);
FILCH_API int filch_mpi_map_items(MPI_Comm comm, filch_executor *ex,
				  const void *items, size_t n, size_t item_size,
				  filch_mpi_map_item_fn fn, void *arg,
				  size_t result_size, int root, void *results,
				  const struct filch_mpi_map_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* FILCH_MPI_H */
