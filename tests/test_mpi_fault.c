/* SPDX-License-Identifier: MIT */
/*
 * test_mpi_fault.c - TAP (rank 0 prints): libfilch-mpi under failures it
 * must survive, run by tests/mpi_run.sh with 1, 2 and 3 ranks.
 *
 * This program links the sources of libfilch-mpi itself, with the linker's
 * --wrap on malloc, calloc, realloc, filch_submit, filch_promise_create
 * and filch_future_on_done (am/mpi.am), so that a check can make the nth
 * call of one of them fail on one rank: here, the engine's active arrays
 * that cannot grow.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <filch/mpi.h>

#include "tap.h"

#define TEN_S INT64_C(10000000000)

static int rank, size;
static bool engine_on;

/* --- the wrapped calls ---------------------------------------------- */

/* One armed failure: the nth call (counted down in left) whose size is
 * size fails. left 0: disarmed. Armed by the test's thread before the
 * calls it counts, which may come from the engine's thread (the arming
 * happens before the post that leads to them). */
struct trap {
	atomic_int left;
	atomic_size_t size;
};

static struct trap t_malloc, t_calloc, t_realloc, t_submit;
/* While set, filch_future_on_done fails, except for the engine's own
 * watcher: the first callback of a promise just created by the same
 * thread (filch_promise_create is wrapped to note it). */
static atomic_bool fail_on_done;
static _Thread_local filch_future *fresh;

static void arm(struct trap *t, size_t sz, int nth)
{
	atomic_store(&t->size, sz);
	atomic_store(&t->left, nth);
}

static bool sprung(struct trap *t, size_t sz)
{
	int left = atomic_load(&t->left);

	while (left > 0 && atomic_load(&t->size) == sz) {
		if (atomic_compare_exchange_weak(&t->left, &left, left - 1))
			return left == 1;
	}
	return false;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
int __real_filch_submit(filch_executor *ex, filch_task_fn fn, void *arg,
			filch_future **f);
int __real_filch_future_on_done(filch_future *f, filch_callback_fn cb,
				void *arg);
int __real_filch_promise_create(filch_future **f);
int __wrap_filch_promise_create(filch_future **f);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
int __wrap_filch_submit(filch_executor *ex, filch_task_fn fn, void *arg,
			filch_future **f);
int __wrap_filch_future_on_done(filch_future *f, filch_callback_fn cb,
				void *arg);

void *__wrap_malloc(size_t n)
{
	return sprung(&t_malloc, n) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return sprung(&t_calloc, k * n) ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return sprung(&t_realloc, n) ? NULL : __real_realloc(p, n);
}

int __wrap_filch_submit(filch_executor *ex, filch_task_fn fn, void *arg,
			filch_future **f)
{
	return sprung(&t_submit, 0) ? -ENOMEM
				    : __real_filch_submit(ex, fn, arg, f);
}

int __wrap_filch_promise_create(filch_future **f)
{
	int rc = __real_filch_promise_create(f);

	fresh = rc == 0 ? *f : NULL;
	return rc;
}

int __wrap_filch_future_on_done(filch_future *f, filch_callback_fn cb,
				void *arg)
{
	bool engine = f == fresh;

	fresh = NULL;
	if (atomic_load(&fail_on_done) && !engine)
		return -ENOMEM;
	return __real_filch_future_on_done(f, cb, arg);
}

/* --- checks, reduced over the ranks ---------------------------------- */

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

static void check(bool cond, const char *what)
{
	int all = reduce(cond, MPI_LAND);

	if (rank == 0)
		ok(all, "%s (%d ranks)", what, size);
	else if (!cond)
		fprintf(stderr, "rank %d: failed: %s\n", rank, what);
}

static void stop(void)
{
	int rc = filch_mpi_finalize();

	engine_on = false;
	check(rc == 0, "filch_mpi_finalize stops the engine");
}

/* --- the engine ------------------------------------------------------ */

/* A fresh engine's arrays are empty: its first request makes them grow,
 * and that fails. The request's future fails with ENOMEM, and MPI no
 * longer has the receive: a later message with its tag reaches the next
 * receive. */
static void grow_fails(unsigned flags)
{
	int buf = -1, in = -1, v = 60 + rank, code = 0;
	const char *msg = NULL;
	filch_future *rf = NULL, *rf2 = NULL, *sf = NULL;
	struct filch_mpi_opts o = {.flags = flags};
	bool good;

	/* No check (an all-reduce through the engine) before the receive. */
	good = engine_on = filch_mpi_init(&o) == 0;
	arm(&t_realloc, 64 * sizeof(MPI_Request), 1);
	good &= filch_mpi_irecv(&buf, 1, MPI_INT, rank, 51, MPI_COMM_WORLD,
			       &rf) == 0;
	good &= filch_future_error(rf, TEN_S, &code, &msg) == 0 &&
		code == ENOMEM;
	if (msg && rank == 0)
		diag("no room in the engine: %s", msg);
	good &= filch_mpi_irecv(&in, 1, MPI_INT, rank, 51, MPI_COMM_WORLD,
				&rf2) == 0 &&
		filch_mpi_isend(&v, 1, MPI_INT, rank, 51, MPI_COMM_WORLD,
				&sf) == 0;
	good &= filch_future_result(rf2, TEN_S, NULL) == 0 &&
		filch_future_result(sf, TEN_S, NULL) == 0;
	good &= in == v && buf == -1;
	filch_future_release(rf);
	filch_future_release(rf2);
	filch_future_release(sf);
	check(good, flags ? "funnelled: the engine cannot grow: the future "
			    "fails with ENOMEM, the operation never starts"
			  : "the engine cannot grow: the future fails with "
			    "ENOMEM, MPI no longer has the request");
	stop();
}

int main(int argc, char **argv)
{
	int provided = MPI_THREAD_SINGLE;

	MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (rank == 0)
		tap_plan(0);
	if (provided == MPI_THREAD_MULTIPLE) {
		grow_fails(0);
		grow_fails(FILCH_MPI_FUNNELLED);
	} else if (rank == 0) {
		diag("MPI_THREAD_MULTIPLE not provided: nothing to check");
	}
	MPI_Finalize();
	return rank == 0 ? tap_done() : 0;
}
