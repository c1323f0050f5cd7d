/* SPDX-License-Identifier: MIT */
/*
 * test_mpi.c - TAP (rank 0 prints): libfilch-mpi under mpirun with any
 * number of ranks (tests/mpi_run.sh runs 1, 2 and 3). Each check is
 * reduced over the ranks, so a line passes only if it held on every rank.
 * Covered: the engine's bad input; sends and receives in both orders, with
 * statuses and a continuation; cancel of a pending receive (the engine
 * MPI_Cancels it: a later message is not swallowed); an MPI error on one
 * rank (truncation) failing only that rank's future; the collectives; the
 * same again funnelled; the distributed map against a sequential one; an
 * unbalanced map whose heavy items all lie in rank 0's static block; a
 * map whose item fails on one rank, and one cancelled.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <filch/mpi.h>

#include "mpi_helpers.h"

static void bad_input(void)
{
	struct filch_mpi_opts bad = {.flags = 0x100};
	struct filch_mpi_opts neg = {.max_sleep_ns = -1};
	MPI_Request req = MPI_REQUEST_NULL;
	filch_future *f = (filch_future *)&req;
	MPI_Status st;
	bool good = true;

	good &= filch_mpi_finalize() == -EINVAL;
	good &= filch_mpi_init(&bad) == -EINVAL;
	good &= filch_mpi_init(&neg) == -EINVAL;
	good &= filch_mpi_isend(&rank, 1, MPI_INT, 0, 0, MPI_COMM_WORLD,
				&f) == -EINVAL;
	good &= f == (filch_future *)&req;
	check(good, "without an engine: -EINVAL, outputs untouched");

	start(0);
	good = filch_mpi_init(NULL) == -EBUSY;
	good &= filch_mpi_future(NULL, &f) == -EINVAL;
	good &= filch_mpi_future(&req, &f) == -EINVAL; /* MPI_REQUEST_NULL */
	good &= filch_mpi_post(NULL, NULL, &f) == -EINVAL;
	good &= filch_mpi_status(NULL, 0, &st) == -EINVAL;
	good &= f == (filch_future *)&req;
	good &= strcmp(filch_mpi_strerror(-EBUSY),
		       "the MPI progress engine is already running") == 0;
	good &= strcmp(filch_mpi_strerror(-ECANCELED), "cancelled") == 0;
	check(good, "a second init is -EBUSY; NULL and MPI_REQUEST_NULL are -EINVAL");

	good = filch_mpi_errno(MPI_SUCCESS) == 0 &&
	       filch_mpi_errno(MPI_ERR_TRUNCATE) == EMSGSIZE &&
	       filch_mpi_errno(MPI_ERR_RANK) == EINVAL &&
	       filch_mpi_errno(MPI_ERR_NO_MEM) == ENOMEM &&
	       filch_mpi_errno(MPI_ERR_OTHER) == EIO;
	check(good, "filch_mpi_errno maps the error classes");
}

/* CPU time of the process (every thread), in ns. */
static int64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * INT64_C(1000000000) +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * INT64_C(1000);
}

static int64_t cpu_over(int64_t wall_ns)
{
	struct timespec ts = {wall_ns / 1000000000, wall_ns % 1000000000};
	int64_t c = cpu_ns();

	nanosleep(&ts, NULL);
	return cpu_ns() - c;
}

/* Idle, the engine sleeps with no timeout; with a request outstanding
 * that does not complete, it backs off to sleeps of max_sleep_ns (1 ms):
 * a fraction of a core, not a spinning one. CPU time, not wall time, so a
 * loaded machine does not make it fail. */
static void idle_cpu(void)
{
	int buf;
	filch_future *rf = NULL;
	int64_t idle, waiting;

	idle = cpu_over(300000000);
	filch_mpi_irecv(&buf, 1, MPI_INT, rank, 99, MPI_COMM_WORLD, &rf);
	waiting = cpu_over(300000000);
	filch_future_cancel(rf);
	filch_future_release(rf);
	if (rank == 0)
		diag("CPU over 300 ms: idle %lld us, one request outstanding %lld us",
		     (long long)idle / 1000, (long long)waiting / 1000);
	check(idle < 30000000, "an idle engine burns no CPU (under 10% of 300 ms)");
	check(waiting < 150000000, "with a request outstanding the engine backs off (under half a core)");
}

/* A ring exchange: each rank sends 4 ints to its right and receives from
 * its left; recv_first posts the receive before the send. */
static void ring(bool recv_first, const char *what)
{
	int right = (rank + 1) % size, left = (rank + size - 1) % size;
	int out[4], in[4] = {0}, tag = recv_first ? 11 : 12;
	filch_future *sf = NULL, *rf = NULL;
	MPI_Status st;
	bool good = true;

	for (int i = 0; i < 4; i++)
		out[i] = 100 * rank + i;
	if (recv_first) {
		good &= filch_mpi_irecv(in, 4, MPI_INT, left, tag,
					MPI_COMM_WORLD, &rf) == 0;
		good &= filch_mpi_isend(out, 4, MPI_INT, right, tag,
					MPI_COMM_WORLD, &sf) == 0;
	} else {
		good &= filch_mpi_isend(out, 4, MPI_INT, right, tag,
					MPI_COMM_WORLD, &sf) == 0;
		good &= filch_mpi_irecv(in, 4, MPI_INT, left, tag,
					MPI_COMM_WORLD, &rf) == 0;
	}
	good &= filch_future_result(sf, FILCH_FOREVER, NULL) == 0;
	good &= filch_mpi_status(rf, FILCH_FOREVER, &st) == 0;
	good &= st.MPI_SOURCE == left && st.MPI_TAG == tag &&
		st.MPI_ERROR == MPI_SUCCESS;
	for (int i = 0; i < 4; i++)
		good &= in[i] == 100 * left + i;
	filch_future_release(sf);
	filch_future_release(rf);
	check(good, what);
}

/* A request made by the program and handed over; an operation posted by
 * a function of the program's; a foreign future given to
 * filch_mpi_status. */
static int post_self_send(void *arg, MPI_Request *req)
{
	return MPI_Isend(arg, 1, MPI_INT, rank, 41, MPI_COMM_WORLD, req);
}

static void adopt_and_post(void)
{
	int in = -1, v = 1000 + rank;
	MPI_Request req = MPI_REQUEST_NULL;
	filch_future *rf = NULL, *sf = NULL, *p = NULL;
	MPI_Status st;
	bool good;

	good = MPI_Irecv(&in, 1, MPI_INT, rank, 41, MPI_COMM_WORLD, &req) ==
	       MPI_SUCCESS;
	good &= filch_mpi_future(&req, &rf) == 0 && req == MPI_REQUEST_NULL;
	good &= filch_mpi_post(post_self_send, &v, &sf) == 0;
	good &= filch_mpi_status(rf, FILCH_FOREVER, &st) == 0 &&
		st.MPI_SOURCE == rank && st.MPI_TAG == 41 && in == v;
	good &= filch_future_result(sf, FILCH_FOREVER, NULL) == 0;
	filch_future_release(rf);
	filch_future_release(sf);
	check(good, "filch_mpi_future adopts the program's request; filch_mpi_post runs its function");

	/* A promise with a result that is no pointer at all. */
	good = filch_promise_create(&p) == 0 &&
	       filch_promise_set_result(p, (void *)(uintptr_t)42) == 0 &&
	       filch_mpi_status(p, 0, &st) == -EINVAL;
	filch_future_release(p);
	check(good, "filch_mpi_status on a future not of this library is -EINVAL (its result is not read through)");
}

/* A callback on the engine's thread cannot finalize it. */
static void finalize_in_callback(filch_future *f, void *arg)
{
	(void)f;
	/* Release: pairs with the acquire load in engine_callback. */
	atomic_store_explicit((_Atomic int *)arg, filch_mpi_finalize(),
			      memory_order_release);
}

static void engine_callback(void)
{
	int in = 0, v = 5;
	_Atomic int got = 1;
	filch_future *rf = NULL, *sf = NULL;
	bool good;

	good = filch_mpi_irecv(&in, 1, MPI_INT, rank, 42, MPI_COMM_WORLD,
			       &rf) == 0 &&
	       filch_future_on_done(rf, finalize_in_callback, &got) == 0 &&
	       filch_mpi_isend(&v, 1, MPI_INT, rank, 42, MPI_COMM_WORLD,
			       &sf) == 0;
	good &= filch_future_result(rf, FILCH_FOREVER, NULL) == 0 &&
		filch_future_result(sf, FILCH_FOREVER, NULL) == 0;
	/* A waiter may return before the callbacks ran: wait for the
	 * callback's verdict (acquire: pairs with its release store). */
	for (int i = 0; i < 10000 &&
			atomic_load_explicit(&got, memory_order_acquire) == 1;
	     i++) {
		struct timespec ts = {0, 100000};

		nanosleep(&ts, NULL);
	}
	good &= atomic_load_explicit(&got, memory_order_acquire) == -EDEADLK;
	filch_future_release(rf);
	filch_future_release(sf);
	check(good, "filch_mpi_finalize from a callback on the engine's thread is -EDEADLK");
}

static int sum4(filch_future *antecedent, void *arg, void **result)
{
	const int *v = arg;

	(void)antecedent;
	*result = (void *)(intptr_t)(v[0] + v[1] + v[2] + v[3]);
	return 0;
}

/* A continuation on a receive future runs on the executor. */
static void then_on_receive(filch_executor *ex)
{
	int left = (rank + size - 1) % size, right = (rank + 1) % size;
	int out[4] = {rank, rank, rank, rank}, in[4] = {0};
	filch_future *rf = NULL, *sf = NULL, *step = NULL;
	void *r = NULL;
	bool good;

	good = filch_mpi_irecv(in, 4, MPI_INT, left, 13, MPI_COMM_WORLD,
			       &rf) == 0 &&
	       filch_future_then(rf, ex, sum4, in, &step) == 0 &&
	       filch_mpi_isend(out, 4, MPI_INT, right, 13, MPI_COMM_WORLD,
			       &sf) == 0;
	good &= filch_future_result(step, FILCH_FOREVER, &r) == 0 &&
		(intptr_t)r == 4 * left;
	good &= filch_future_result(sf, FILCH_FOREVER, NULL) == 0;
	filch_future_release(step);
	filch_future_release(rf);
	filch_future_release(sf);
	check(good, "filch_future_then on a receive future computes on the executor");
}

/* Cancels a receive that nothing matches; after finalize (which waits for
 * the cancelled request), a message with that tag reaches a new receive
 * instead of the cancelled one. */
/* adopted: the receive is the program's own MPI_Irecv, handed over with
 * filch_mpi_future (MPI has it before the engine sees the record). The
 * engine is restarted with flags. */
static void cancel_receive(unsigned flags, bool adopted)
{
	int buf = -1, in = -1, v = 7 + rank;
	filch_future *rf = NULL, *sf = NULL, *rf2 = NULL;
	MPI_Request req;
	MPI_Status st;
	bool good;

	if (adopted)
		good = MPI_Irecv(&buf, 1, MPI_INT, rank, 21, MPI_COMM_WORLD,
				 &req) == MPI_SUCCESS &&
		       filch_mpi_future(&req, &rf) == 0;
	else
		good = filch_mpi_irecv(&buf, 1, MPI_INT, rank, 21,
				       MPI_COMM_WORLD, &rf) == 0;
	good &= !filch_future_done(rf);
	good &= filch_future_cancel(rf);
	good &= filch_future_result(rf, FILCH_FOREVER, NULL) == -ECANCELED;
	good &= filch_mpi_status(rf, 0, &st) == -ECANCELED;
	filch_future_release(rf);
	check(good, adopted ? "a pending adopted receive is cancelled: its "
			      "future reads -ECANCELED"
			    : "a pending receive is cancelled: its future "
			      "reads -ECANCELED");

	stop();
	start(flags);
	good = filch_mpi_irecv(&in, 1, MPI_INT, rank, 21, MPI_COMM_WORLD,
			       &rf2) == 0 &&
	       filch_mpi_isend(&v, 1, MPI_INT, rank, 21, MPI_COMM_WORLD,
			       &sf) == 0;
	good &= filch_future_result(rf2, FILCH_FOREVER, NULL) == 0 &&
		filch_future_result(sf, FILCH_FOREVER, NULL) == 0;
	good &= in == v && buf == -1;
	filch_future_release(rf2);
	filch_future_release(sf);
	check(good, adopted ? "the cancelled adopted receive was "
			      "MPI_Cancelled: a later message reaches the "
			      "next one"
			    : "the cancelled receive was MPI_Cancelled: a "
			      "later message reaches the next one");
}

/* Errors on one rank, on a communicator that returns them. The last rank
 * sends to a rank that does not exist: the post fails, and so does its
 * future (EINVAL, with MPI's text). With two ranks or more, rank 1
 * receives 4 ints from rank 0 into room for 2: MPI_Testsome reports the
 * truncation, and only rank 1's future fails (EMSGSIZE). (Open MPI does
 * not report truncation of a message a rank sends itself.) */
static void error_on_one_rank(MPI_Comm errcomm)
{
	int out[4] = {1, 2, 3, 4}, in[2];
	filch_future *f = NULL;
	const char *msg = NULL;
	int code = -1;
	bool good = true;

	if (rank == size - 1) {
		good &= filch_mpi_isend(out, 4, MPI_INT, size + 5, 30, errcomm,
					&f) == 0;
		good &= filch_future_error(f, FILCH_FOREVER, &code, &msg) == 0;
		good &= code == EINVAL && msg && strstr(msg, "MPI error class");
		if (msg)
			diag("rank %d: send to rank %d: %s", rank, size + 5,
			     msg);
		filch_future_release(f);
		f = NULL;
	}
	check(good, "a send to a rank that does not exist fails its future with EINVAL");

	good = true;
	if (size > 1 && rank == 0) {
		good &= filch_mpi_isend(out, 4, MPI_INT, 1, 31, errcomm, &f) == 0;
		good &= filch_future_result(f, FILCH_FOREVER, NULL) == 0;
	} else if (size > 1 && rank == 1) {
		good &= filch_mpi_irecv(in, 2, MPI_INT, 0, 31, errcomm, &f) == 0;
		good &= filch_future_error(f, FILCH_FOREVER, &code, &msg) == 0;
		good &= code == EMSGSIZE && msg && strstr(msg, "MPI error class");
		good &= filch_future_result(f, 0, NULL) == EMSGSIZE;
		if (msg)
			diag("rank 1: truncated receive: %s (%s)", msg,
			     filch_strerror(code));
	}
	filch_future_release(f);
	check(good, "a truncated receive on rank 1 fails only its future, with EMSGSIZE");
}

static void collectives(void)
{
	int v = rank == 0 ? 4242 : 0, sum = -1;
	filch_future *bf = NULL, *af = NULL;
	bool good;

	good = filch_mpi_ibcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD, &bf) == 0 &&
	       filch_mpi_iallreduce(&rank, &sum, 1, MPI_INT, MPI_SUM,
				    MPI_COMM_WORLD, &af) == 0;
	good &= !filch_future_cancel(bf); /* collectives cannot be */
	good &= filch_future_result(bf, FILCH_FOREVER, NULL) == 0 && v == 4242;
	good &= filch_future_result(af, FILCH_FOREVER, NULL) == 0 &&
		sum == size * (size - 1) / 2;
	filch_future_release(bf);
	filch_future_release(af);
	check(good, "ibcast and iallreduce futures; a collective's cancel returns false");
}

/* --- the distributed map ------------------------------------------ */

static uint64_t item(size_t i)
{
	return (uint64_t)i * i + 3 * i + 1;
}

static int square(void *arg, size_t i, void *result)
{
	(void)arg;
	*(uint64_t *)result = item(i);
	return 0;
}

static void map_equals_sequential(filch_executor *ex, size_t n, size_t chunk)
{
	uint64_t *r = rank == 0 ? calloc(n ? n : 1, sizeof(*r)) : NULL;
	struct filch_mpi_map_opts o = {.chunk = chunk};
	bool good;
	char what[256];

	good = filch_mpi_map(MPI_COMM_WORLD, ex, n, square, NULL, sizeof(*r),
			     0, r, &o) == 0;
	for (size_t i = 0; rank == 0 && i < n; i++)
		good &= r[i] == item(i);
	free(r);
	snprintf(what, sizeof(what),
		 "filch_mpi_map of %zu items (chunk %zu) equals the sequential map",
		 n, chunk);
	check(good, what);
}

static int mark(void *arg, size_t i, void *result)
{
	(void)arg;
	((uint64_t *)result)[0] = item(i);
	((uint64_t *)result)[1] = 1;
	return 0;
}

/* FILCH_MPI_MAP_LOCAL: each item's result only on the rank that computed
 * it; summed over the ranks, every item was computed exactly once. */
static void map_local(filch_executor *ex)
{
	size_t n = 300;
	uint64_t *r = calloc(2 * n, sizeof(*r)), *sum = calloc(2 * n, sizeof(*r));
	struct filch_mpi_map_opts o = {.flags = FILCH_MPI_MAP_LOCAL, .chunk = 7};
	filch_future *f = NULL;
	bool good;

	good = filch_mpi_map(MPI_COMM_WORLD, ex, n, mark, NULL,
			     2 * sizeof(*r), 0, r, &o) == 0;
	good &= filch_mpi_iallreduce(r, sum, (int)(2 * n), MPI_UINT64_T,
				     MPI_SUM, MPI_COMM_WORLD, &f) == 0 &&
		filch_future_result(f, FILCH_FOREVER, NULL) == 0;
	for (size_t i = 0; good && i < n; i++)
		good &= sum[2 * i] == item(i) && sum[2 * i + 1] == 1;
	filch_future_release(f);
	free(r);
	free(sum);
	check(good, "FILCH_MPI_MAP_LOCAL: each item computed once, its result left on its rank");
}

struct rec {
	uint32_t a;
	char s[12];
};

static uint64_t rec_value(const struct rec *r)
{
	return r->a * UINT64_C(31) + strlen(r->s);
}

static int rec_fn(void *arg, size_t i, const void *item, void *result)
{
	const struct rec *r = item;

	(void)arg;
	if (r->a != 3 * i + 1)
		return EBADMSG; /* the item did not arrive as sent */
	*(uint64_t *)result = rec_value(r);
	return 0;
}

static int rec_fail(void *arg, size_t i, const void *item, void *result)
{
	return i == 7 ? EDOM : rec_fn(arg, i, item, result);
}

/* filch_mpi_map_items: the items live at rank 0 only; each chunk's items
 * travel with its grant. Elsewhere items is NULL. */
static void map_items(filch_executor *ex, size_t n, size_t chunk)
{
	struct rec *in = NULL;
	uint64_t *r = rank == 0 ? calloc(n ? n : 1, sizeof(*r)) : NULL;
	struct filch_mpi_map_opts o = {.chunk = chunk};
	bool good;
	char what[256];

	if (rank == 0) {
		in = calloc(n ? n : 1, sizeof(*in));
		for (size_t i = 0; i < n; i++) {
			in[i].a = (uint32_t)(3 * i + 1);
			snprintf(in[i].s, sizeof(in[i].s), "item%zu", i);
		}
	}
	good = filch_mpi_map_items(MPI_COMM_WORLD, ex, in, n, sizeof(*in),
				   rec_fn, NULL, sizeof(*r), 0, r, &o) == 0;
	for (size_t i = 0; rank == 0 && i < n; i++)
		good &= r[i] == rec_value(&in[i]);
	/* Item 7 fails: grants that arrive after it still carry their
	 * items, which every rank receives (and drops). */
	good &= filch_mpi_map_items(MPI_COMM_WORLD, ex, in, n, sizeof(*in),
				    rec_fail, NULL, sizeof(*r), 0, r, &o) ==
		EDOM;
	good &= filch_mpi_map_items(MPI_COMM_WORLD, ex, in, n, 0, rec_fn, NULL,
				    8, 0, r, NULL) == -EINVAL &&
		filch_mpi_map_items(MPI_COMM_WORLD, ex, in, n, sizeof(*in),
				    NULL, NULL, 8, 0, r, NULL) == -EINVAL;
	free(in);
	free(r);
	snprintf(what, sizeof(what),
		 "filch_mpi_map_items of %zu items (chunk %zu) equals the sequential map; a failing item fails it everywhere; item size 0 or NULL fn: -EINVAL",
		 n, chunk);
	check(good, what);
}

struct heavy {
	size_t heavy; /* items [0, heavy) are heavy */
};

static int who(void *arg, size_t i, void *result)
{
	const struct heavy *h = arg;

	if (i < h->heavy) {
		struct timespec ts = {0, 3000000};

		nanosleep(&ts, NULL);
	}
	*(int *)result = rank;
	return 0;
}

/* The heavy items are rank 0's block of a static partition; dynamic
 * chunks spread them. */
static void map_unbalanced(filch_executor *ex)
{
	size_t n = 90;
	struct heavy h = {n / size};
	struct filch_mpi_map_opts o = {.chunk = 1};
	int *r = rank == 0 ? calloc(n, sizeof(*r)) : NULL;
	int by0 = 0, rc;
	bool good;

	rc = filch_mpi_map(MPI_COMM_WORLD, ex, n, who, &h, sizeof(int), 0, r,
			   &o);
	good = rc == 0;
	for (size_t i = 0; rank == 0 && i < n; i++) {
		good &= r[i] >= 0 && r[i] < size;
		by0 += i < h.heavy && r[i] == 0;
	}
	if (rank == 0) {
		diag("heavy items on rank 0: %d of %zu", by0, h.heavy);
		good &= size == 1 || (size_t)by0 < h.heavy;
	}
	free(r);
	check(good, "an unbalanced map: other ranks take part of rank 0's heavy block");
}

static int fail_at(void *arg, size_t i, void *result)
{
	const int *code = arg;

	*(uint64_t *)result = i;
	return i == 7 ? *code : 0;
}

static int map_in_task(void *arg, void **result)
{
	*result = (void *)(intptr_t)filch_mpi_map(MPI_COMM_WORLD, arg, 10,
						  square, NULL, 8, 0, NULL,
						  NULL);
	return 0;
}

/* On a worker of its own executor the map would wait for itself. */
static void map_on_worker(filch_executor *ex)
{
	filch_future *f = NULL;
	void *r = NULL;

	check(filch_submit(ex, map_in_task, ex, &f) == 0 &&
		      filch_future_result(f, FILCH_FOREVER, &r) == 0 &&
		      (intptr_t)r == -EDEADLK,
	      "filch_mpi_map on a worker of its executor is -EDEADLK");
	filch_future_release(f);
}

static void map_errors(filch_executor *ex)
{
	struct filch_mpi_map_opts o = {.chunk = 2};
	uint64_t *r = rank == 0 ? calloc(200, sizeof(*r)) : NULL;
	int code = EDOM, rc;
	bool good;

	rc = filch_mpi_map(MPI_COMM_WORLD, ex, 200, fail_at, &code,
			   sizeof(*r), 0, r, &o);
	check(rc == EDOM, "an item failing on one rank: every rank returns its code");
	code = ECANCELED;
	rc = filch_mpi_map(MPI_COMM_WORLD, ex, 200, fail_at, &code,
			   sizeof(*r), 0, r, &o);
	check(rc == -ECANCELED, "an item returning ECANCELED cancels the map on every rank");
	free(r);

	good = filch_mpi_map(MPI_COMM_WORLD, ex, 10, NULL, NULL, 8, 0, NULL,
			     NULL) == -EINVAL &&
	       filch_mpi_map(MPI_COMM_WORLD, NULL, 10, square, NULL, 8, 0,
			     NULL, NULL) == -EINVAL;
	good &= filch_mpi_map(MPI_COMM_WORLD, ex, 10, square, NULL, 8, 0,
			      NULL, &(struct filch_mpi_map_opts){.flags = 0x100}) == -EINVAL;
	check(good, "filch_mpi_map: NULL fn or executor, an unknown flag: -EINVAL");
	map_on_worker(ex);
	map_equals_sequential(ex, 0, 0);
}

int main(int argc, char **argv)
{
	filch_executor *ex = NULL;
	MPI_Comm errcomm;
	int provided = MPI_THREAD_SINGLE;

	MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Comm_dup(MPI_COMM_WORLD, &errcomm);
	MPI_Comm_set_errhandler(errcomm, MPI_ERRORS_RETURN);
	if (rank == 0) {
		tap_plan(0);
		diag("MPI thread level provided: %d (MULTIPLE is %d)",
		     provided, MPI_THREAD_MULTIPLE);
	}
	if (filch_executor_create(&ex, NULL) != 0)
		MPI_Abort(MPI_COMM_WORLD, 2);

	bad_input();
	idle_cpu();
	check(filch_mpi_funnelled() == (provided != MPI_THREAD_MULTIPLE),
	      "funnelled exactly when MPI_THREAD_MULTIPLE is not provided");
	ring(true, "ring: receive posted before the send");
	ring(false, "ring: send posted before the receive");
	then_on_receive(ex);
	adopt_and_post();
	engine_callback();
	cancel_receive(0, false);
	cancel_receive(0, true);
	error_on_one_rank(errcomm);
	collectives();
	map_equals_sequential(ex, 1000, 0);
	map_equals_sequential(ex, 37, 5);
	map_items(ex, 257, 5);
	map_items(ex, 1000, 0);
	map_unbalanced(ex);
	map_local(ex);
	map_errors(ex);
	stop();

	/* Funnelled: only the engine's thread calls MPI. */
	start(FILCH_MPI_FUNNELLED);
	check(filch_mpi_funnelled(), "FILCH_MPI_FUNNELLED: the engine runs funnelled");
	ring(true, "funnelled ring: receive posted before the send");
	ring(false, "funnelled ring: send posted before the receive");
	then_on_receive(ex);
	cancel_receive(FILCH_MPI_FUNNELLED, false);
	cancel_receive(FILCH_MPI_FUNNELLED, true);
	collectives();
	map_equals_sequential(ex, 500, 0);
	map_items(ex, 300, 0);
	map_errors(ex);
	stop();

	filch_executor_destroy(ex);
	MPI_Comm_free(&errcomm);
	MPI_Finalize();
	return rank == 0 ? tap_done() : 0;
}
