/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the convenience futures of libfilch-mpi (MPI_Isend, MPI_Irecv,
 * MPI_Ibcast, MPI_Iallreduce), the status accessor, and the mapping of
 * MPI errors to errno.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "mpi/engine.h"

/* The copied arguments of one call; each fits FILCH__MPI_ARGS_MAX. */
struct p2p_args {
	void *buf;
	int count;
	MPI_Datatype type;
	int peer, tag;
	MPI_Comm comm;
};

struct coll_args {
	const void *sendbuf;
	void *recvbuf;
	int count, root;
	MPI_Datatype type;
	MPI_Op op;
	MPI_Comm comm;
};

_Static_assert(sizeof(struct p2p_args) <= FILCH__MPI_ARGS_MAX, "p2p_args");
_Static_assert(sizeof(struct coll_args) <= FILCH__MPI_ARGS_MAX, "coll_args");

static int post_isend(void *arg, MPI_Request *req)
{
	struct p2p_args *a = arg;

	return MPI_Isend(a->buf, a->count, a->type, a->peer, a->tag, a->comm,
			 req);
}

static int post_irecv(void *arg, MPI_Request *req)
{
	struct p2p_args *a = arg;

	return MPI_Irecv(a->buf, a->count, a->type, a->peer, a->tag, a->comm,
			 req);
}

static int post_ibcast(void *arg, MPI_Request *req)
{
	struct coll_args *a = arg;

	return MPI_Ibcast(a->recvbuf, a->count, a->type, a->root, a->comm, req);
}

static int post_iallreduce(void *arg, MPI_Request *req)
{
	struct coll_args *a = arg;

	return MPI_Iallreduce(a->sendbuf, a->recvbuf, a->count, a->type, a->op,
			      a->comm, req);
}

int filch__mpi_p2p(bool send, const void *buf, int count, MPI_Datatype type,
		   int peer, int tag, MPI_Comm comm, filch_callback_fn done,
		   void *done_arg, filch_future **f)
{
	struct p2p_args a = {(void *)buf, count, type, peer, tag, comm};

	return filch__mpi_submit(send ? post_isend : post_irecv, NULL, &a,
				 sizeof(a), true, done, done_arg, f);
}

int filch_mpi_isend(const void *buf, int count, MPI_Datatype type, int dest,
		    int tag, MPI_Comm comm, filch_future **f)
{
	return filch__mpi_p2p(true, buf, count, type, dest, tag, comm, NULL,
			      NULL, f);
}

int filch_mpi_irecv(void *buf, int count, MPI_Datatype type, int source,
		    int tag, MPI_Comm comm, filch_future **f)
{
	return filch__mpi_p2p(false, buf, count, type, source, tag, comm, NULL,
			      NULL, f);
}

int filch_mpi_ibcast(void *buf, int count, MPI_Datatype type, int root,
		     MPI_Comm comm, filch_future **f)
{
	struct coll_args a = {.recvbuf = buf, .count = count, .root = root,
			      .type = type, .comm = comm};

	return filch__mpi_submit(post_ibcast, NULL, &a, sizeof(a), false, NULL,
				 NULL, f);
}

int filch_mpi_iallreduce(const void *sendbuf, void *recvbuf, int count,
			 MPI_Datatype type, MPI_Op op, MPI_Comm comm,
			 filch_future **f)
{
	struct coll_args a = {.sendbuf = sendbuf, .recvbuf = recvbuf,
			      .count = count, .type = type, .op = op,
			      .comm = comm};

	return filch__mpi_submit(post_iallreduce, NULL, &a, sizeof(a), false,
				 NULL, NULL, f);
}

int filch_mpi_status(filch_future *f, int64_t timeout_ns, MPI_Status *status)
{
	void *p = NULL;
	int rc;

	if (!f || !status)
		return -EINVAL;
	rc = filch_future_result(f, timeout_ns, &p);
	return rc ? rc : filch__mpi_result_get(p, status);
}

int filch_mpi_errno(int mpi_error)
{
	int cls = mpi_error;

	if (mpi_error == MPI_SUCCESS)
		return 0;
	if (mpi_error > MPI_ERR_LASTCODE &&
	    MPI_Error_class(mpi_error, &cls) != MPI_SUCCESS)
		return EIO;
	switch (cls) {
	case MPI_SUCCESS:
		return 0;
	case MPI_ERR_TRUNCATE:
		return EMSGSIZE;
	case MPI_ERR_NO_MEM:
		return ENOMEM;
	case MPI_ERR_BUFFER:
	case MPI_ERR_COUNT:
	case MPI_ERR_TYPE:
	case MPI_ERR_TAG:
	case MPI_ERR_COMM:
	case MPI_ERR_RANK:
	case MPI_ERR_ROOT:
	case MPI_ERR_GROUP:
	case MPI_ERR_OP:
	case MPI_ERR_ARG:
	case MPI_ERR_REQUEST:
	case MPI_ERR_DIMS:
	case MPI_ERR_TOPOLOGY:
		return EINVAL;
	case MPI_ERR_PENDING:
		return EINPROGRESS;
	case MPI_ERR_UNSUPPORTED_OPERATION:
		return ENOTSUP;
	default:
		return EIO;
	}
}

const char *filch_mpi_strerror(int err)
{
	switch (err) {
	case -EPROTONOSUPPORT:
		return "MPI provides only MPI_THREAD_SINGLE or MPI_THREAD_FUNNELED, under which no thread but the main one may call MPI (filch_mpi_init needs MPI_THREAD_SERIALIZED or MPI_THREAD_MULTIPLE: its engine thread calls MPI)";
	case -EBUSY:
		return "the MPI progress engine is already running";
	default:
		return filch_strerror(err);
	}
}
