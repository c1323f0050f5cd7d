/* SPDX-License-Identifier: MIT */
/*
 * test_mpi_fault.c - TAP (rank 0 prints): libfilch-mpi under failures it
 * must survive, and under each MPI thread level. Run by tests/mpi_run.sh
 * with 1, 2 and 3 ranks, once per level:
 *	test_mpi_fault            MPI_THREAD_MULTIPLE: the failures below
 *	test_mpi_fault serialized MPI_THREAD_SERIALIZED: funnelled mode works
 *	test_mpi_fault funneled   MPI_THREAD_FUNNELED: filch_mpi_init refuses
 *
 * This program links the sources of libfilch-mpi itself, with the linker's
 * --wrap on malloc, calloc, realloc, filch_submit, filch_promise_create,
 * filch_future_on_done and MPI_Isend (am/mpi.am), so that a check can make
 * the nth call of one of them fail on one rank: the engine's active arrays
 * that cannot grow; a map whose items, result buffers, grants or grant log
 * cannot be allocated, or whose chunks cannot be submitted (also: an
 * executor shut down on one rank); callbacks that cannot be registered;
 * the root's sends of grants or items that MPI refuses at their start or
 * that complete with an error.
 * Every rank must return the same outcome, and nothing may hang (the runs
 * have timeouts) or leak (the ASan build).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <filch/mpi.h>

#include "mpi/engine.h"
#include "mpi_helpers.h"

#define TEN_S INT64_C(10000000000)

/* --- the wrapped calls ---------------------------------------------- */

/* One armed failure: the nth call (counted down in left) whose size is
 * size fails. left: n -> n-1 ... -> 0 (sprung, or disarmed); size is set
 * before left. left < 0 (ALWAYS): every such call fails until disarmed. Armed by the test's thread before the calls it counts,
 * which may come from the engine's thread: the post that leads to them
 * (the engine's mutex) orders the arming before them, so the words order
 * nothing themselves; their accesses are the default sequentially
 * consistent ones only for brevity (relaxed would do). */
struct trap {
	atomic_int left;
	atomic_size_t size;
};

#define ALWAYS (-1)

static struct trap t_malloc, t_calloc, t_realloc, t_submit;
/* MPI_Isend with the tag size: refused at its start (MPI_ERR_OTHER), or
 * (late) started as a request that completes with MPI_ERR_OTHER. */
static struct trap t_isend, t_isend_late;
/* filch_promise_create (size 0): fails with -ENOMEM. */
static struct trap t_promise;
/* While set, filch_future_on_done fails, except for the engine's own
 * watcher: the first callback of a promise just created by the same
 * thread (filch_promise_create is wrapped to note it). Set and cleared by
 * the test's thread around a map; ordered as the traps are. */
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

	if (left < 0)
		return atomic_load(&t->size) == sz;
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
int __real_MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
		     int tag, MPI_Comm comm, MPI_Request *req);
int __wrap_MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
		     int tag, MPI_Comm comm, MPI_Request *req);
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
	int rc = sprung(&t_promise, 0) ? -ENOMEM
				       : __real_filch_promise_create(f);

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

/* The failed send's status: MPI_ERR_OTHER. */
static int failed_query(void *extra, MPI_Status *st)
{
	(void)extra;
	MPI_Status_set_elements(st, MPI_BYTE, 0);
	MPI_Status_set_cancelled(st, 0);
	st->MPI_SOURCE = MPI_UNDEFINED;
	st->MPI_TAG = MPI_UNDEFINED;
	st->MPI_ERROR = MPI_ERR_OTHER;
	return MPI_ERR_OTHER;
}

static int failed_free(void *extra)
{
	(void)extra;
	return MPI_SUCCESS;
}

static int failed_cancel(void *extra, int complete)
{
	(void)extra;
	(void)complete;
	return MPI_SUCCESS;
}

int __wrap_MPI_Isend(const void *buf, int count, MPI_Datatype type, int dest,
		     int tag, MPI_Comm comm, MPI_Request *req)
{
	int rc;

	if (sprung(&t_isend, (size_t)tag))
		return MPI_ERR_OTHER;
	if (!sprung(&t_isend_late, (size_t)tag))
		return __real_MPI_Isend(buf, count, type, dest, tag, comm, req);
	/* A generalized request, complete at once, whose status is the
	 * error. */
	rc = MPI_Grequest_start(failed_query, failed_free, failed_cancel, NULL,
				req);
	return rc == MPI_SUCCESS ? MPI_Grequest_complete(*req) : rc;
}

/* --- checks, reduced over the ranks ---------------------------------- */

/* rc is the same on every rank, and is want. */
static void check_same(int rc, int want, const char *what)
{
	int lo = reduce(rc, MPI_MIN), hi = reduce(rc, MPI_MAX);

	if (rank == 0 && (lo != hi || lo != want))
		diag("%s: outcomes from %d to %d, want %d", what, lo, hi, want);
	check(lo == want && hi == want, what);
}

/* --- the engine ------------------------------------------------------ */

/* The engine's arrays cannot grow (every realloc of their size fails):
 * what is posted still completes, through the overflow list, and nothing
 * started is failed for lack of room. adopted is a receive (tag 52, from
 * this rank) that MPI had before the engine started (funnelled mode
 * forbids this thread to call MPI while the engine runs). A receive
 * posted and cancelled while the arrays are full is cancelled, and
 * finalize waits for it. After the arrays can grow again, a request
 * still pending on the overflow list completes too. */
static void grow_fails(unsigned flags)
{
	int buf = -1, got = -1, late = -1, never = -1, v = 60 + rank, sum = 0;
	MPI_Request adopted = MPI_REQUEST_NULL;
	filch_future *f[8] = {NULL};
	struct filch_mpi_opts o = {.flags = flags};
	bool good;

	good = MPI_Irecv(&got, 1, MPI_INT, rank, 52, MPI_COMM_WORLD,
			 &adopted) == MPI_SUCCESS;
	/* No check (an all-reduce through the engine) before the arming. */
	good &= engine_on = filch_mpi_init(&o) == 0;
	arm(&t_realloc, 64 * sizeof(MPI_Request), ALWAYS);
	/* late first: the engine starts records in their order, so it is
	 * on the overflow list once a later one completed. */
	good &= filch_mpi_irecv(&late, 1, MPI_INT, rank, 54, MPI_COMM_WORLD,
				&f[0]) == 0 &&
		filch_mpi_irecv(&buf, 1, MPI_INT, rank, 51, MPI_COMM_WORLD,
				&f[1]) == 0 &&
		filch_mpi_future(&adopted, &f[2]) == 0 &&
		filch_mpi_isend(&v, 1, MPI_INT, rank, 51, MPI_COMM_WORLD,
				&f[3]) == 0 &&
		filch_mpi_isend(&v, 1, MPI_INT, rank, 52, MPI_COMM_WORLD,
				&f[4]) == 0 &&
		filch_mpi_iallreduce(&v, &sum, 1, MPI_INT, MPI_SUM,
				     MPI_COMM_WORLD, &f[5]) == 0 &&
		filch_mpi_irecv(&never, 1, MPI_INT, rank, 53, MPI_COMM_WORLD,
				&f[6]) == 0;
	for (int i = 1; good && i < 6; i++)
		good &= filch_future_result(f[i], TEN_S, NULL) == 0;
	good &= buf == v && got == v && sum == size * 60 + size * (size - 1) / 2;
	good &= filch_future_cancel(f[6]) && filch_future_cancelled(f[6]);
	/* The arrays can grow again: late, still pending on the overflow
	 * list, completes after it moved into them. */
	atomic_store(&t_realloc.left, 0);
	good &= filch_mpi_isend(&v, 1, MPI_INT, rank, 54, MPI_COMM_WORLD,
				&f[7]) == 0 &&
		filch_future_result(f[0], TEN_S, NULL) == 0 &&
		filch_future_result(f[7], TEN_S, NULL) == 0 && late == v;
	for (int i = 0; i < 8; i++)
		filch_future_release(f[i]);
	/* adopted is MPI_REQUEST_NULL once filch_mpi_future took it. */
	if (adopted != MPI_REQUEST_NULL)
		MPI_Request_free(&adopted);
	check(good, flags ? "funnelled: the engine cannot grow: a receive, a send, an adopted request, an all-reduce and a cancel complete, and a pending request once it can grow"
			  : "the engine cannot grow: a receive, a send, an adopted request, an all-reduce and a cancel complete, and a pending request once it can grow");
	stop();
}

static atomic_int done_runs;

static void count_done(filch_future *f, void *arg)
{
	(void)f;
	(void)arg;
	atomic_fetch_add(&done_runs, 1);
}

/* The engine's post with a done callback (mpi/engine.h), a send that MPI
 * refuses at its start (tag 55): not funnelled, the call returns the
 * error, *f untouched, and done never runs (it would run inside the call);
 * funnelled, the engine starts it: the future fails, done runs once. */
static void refused_at_start(void)
{
	static char sentinel;
	filch_future *f = (filch_future *)&sentinel;
	bool funnelled = filch_mpi_funnelled();
	int v = 7, code = 0, rc;
	int64_t end = tap_now_ns() + TEN_S;
	bool good;

	atomic_store(&done_runs, 0);
	arm(&t_isend, 55, 1);
	rc = filch__mpi_p2p(true, &v, 1, MPI_INT, rank, 55, MPI_COMM_WORLD,
			    count_done, NULL, &f);
	if (!funnelled) {
		good = rc == -EIO && f == (filch_future *)&sentinel &&
		       atomic_load(&done_runs) == 0;
	} else {
		good = rc == 0 && filch_future_error(f, TEN_S, &code, NULL) == 0 &&
		       code == EIO;
		while (atomic_load(&done_runs) == 0 && tap_now_ns() < end)
			usleep(1000);
		good &= atomic_load(&done_runs) == 1;
		filch_future_release(f);
	}
	good &= atomic_load(&t_isend.left) == 0;
	atomic_store(&t_isend.left, 0);
	check(good, funnelled ? "funnelled: a post with done that MPI refuses: the future fails, done runs once"
			      : "a post with done that MPI refuses at its start: the error is returned, *f untouched, done never runs");
}

/* --- the map --------------------------------------------------------- */

static int square(void *arg, size_t i, void *result)
{
	(void)arg;
	if (result)
		*(uint64_t *)result = (uint64_t)i * i;
	return 0;
}

/* The square of the index the item carries: wrong if it did not arrive. */
static int item_square(void *arg, size_t i, const void *item, void *result)
{
	(void)i;
	return square(arg, *(const uint64_t *)item, result);
}

/* A map of n items, chunk items at a time, results gathered at rank 0
 * (result_size 0: none), checked there. Returns the map's outcome. */
static int map(filch_executor *ex, size_t n, size_t chunk, size_t rs)
{
	struct filch_mpi_map_opts o = {.chunk = chunk};
	uint64_t *r = rank == 0 && rs ? calloc(n, rs) : NULL;
	int rc = filch_mpi_map(MPI_COMM_WORLD, ex, n, square, NULL, rs, 0, r,
			       &o);

	for (size_t i = 0; rc == 0 && r && i < n; i++)
		if (r[i * rs / sizeof(*r)] != (uint64_t)i * i)
			rc = -EBADMSG;
	free(r);
	return rc;
}

/* filch_mpi_map_items with 1 KiB items (the first 8 bytes: the index):
 * 7 of them are more than MPI sends before the receive matches. */
#define ITEM_WORDS 128
static int map_items(filch_executor *ex, size_t n, size_t chunk)
{
	struct filch_mpi_map_opts o = {.chunk = chunk};
	uint64_t *items = NULL, *r = NULL;
	int rc;

	if (rank == 0) {
		items = calloc(ITEM_WORDS * n, sizeof(*items));
		r = calloc(n, sizeof(*r));
		for (size_t i = 0; i < n; i++)
			items[ITEM_WORDS * i] = i;
	}
	rc = filch_mpi_map_items(MPI_COMM_WORLD, ex, items, n,
				 ITEM_WORDS * sizeof(*items), item_square, NULL,
				 sizeof(*r), 0, r, &o);
	for (size_t i = 0; rc == 0 && r && i < n; i++)
		if (r[i] != (uint64_t)i * i)
			rc = -EBADMSG;
	free(items);
	free(r);
	return rc;
}

/* The last rank's executor is shut down: its chunks cannot run. */
static void map_shut_down(filch_executor *ex)
{
	filch_executor *dead = NULL;
	int rc;

	if (rank == size - 1) {
		if (filch_executor_create(&dead, NULL) != 0)
			MPI_Abort(MPI_COMM_WORLD, 2);
		filch_shutdown(dead, FILCH_SHUTDOWN_WAIT);
	}
	rc = map(dead ? dead : ex, 1000, 1, 8);
	check_same(rc, -ESHUTDOWN, "an executor shut down on the last rank: every rank returns -ESHUTDOWN");
	filch_executor_destroy(dead);
}

/* Disarms t, which was armed on this rank if armed; true on every rank
 * when its failure happened on some rank (on a loaded machine a rank may
 * be granted fewer chunks than the failure needs). */
static bool disarm(struct trap *t, bool armed)
{
	bool hit = armed && atomic_load(&t->left) == 0;

	atomic_store(&t->left, 0);
	return reduce(hit, MPI_LOR);
}

/* rc, the map's outcome, is want on every rank when the failure happened.
 * A failure that sure says must happen fails the check when it did not;
 * one that may not (a rank granted fewer chunks than the failure needs,
 * or none armed at this rank count) is a skip then, and rc must be 0. */
static void check_fault(int rc, bool hit, bool sure, int want,
			const char *what)
{
	if (hit || sure) {
		check(hit, "the failure was reached");
		check_same(rc, want, what);
		return;
	}
	if (rank == 0)
		tap_skip(1, "%s: the failure was not reached", what);
	check_same(rc, 0, "a map whose failure was not reached succeeds");
}

/* square, 20 ms an item; while this rank's promise trap is armed, the
 * item also waits (up to 10 s) until it sprang, so that a chunk is still
 * running when the trap's post fails. */
static int slow_square(void *arg, size_t i, void *result)
{
	int64_t end = tap_now_ns() + TEN_S;

	usleep(20000);
	while (atomic_load(&t_promise.left) > 0 && tap_now_ns() < end)
		usleep(1000);
	return square(arg, i, result);
}

/* The last rank (not the root) cannot post its second request for a
 * chunk (no promise for it: its sixth post after the communicator's
 * duplicate, its shape and the first request and its answer's receive)
 * while its first chunk runs: it keeps the receive of the answer posted,
 * asks again when the chunk is done (only the request is posted again),
 * and every rank returns -ENOMEM. */
static void request_unposted(filch_executor *ex)
{
	struct filch_mpi_map_opts o = {.chunk = 1, .inflight = 2};
	bool other = rank == size - 1 && rank != 0;
	int rc;

	if (other)
		arm(&t_promise, 0, 6);
	rc = filch_mpi_map(MPI_COMM_WORLD, ex, 200, slow_square, NULL, 0, 0,
			   NULL, &o);
	check_fault(rc, disarm(&t_promise, other), size > 1, -ENOMEM, "a request that cannot be posted while a chunk runs: the rank asks again, every rank returns -ENOMEM");
}

static void map_faults(filch_executor *ex)
{
	bool last = rank == size - 1, other = last && rank != 0;
	bool items = rank == 0 && size > 1 && !filch_mpi_funnelled();
	int rc;

	/* The last rank cannot submit its third chunk. */
	if (last)
		arm(&t_submit, 0, 3);
	rc = map(ex, 1000, 1, 8);
	check_fault(rc, disarm(&t_submit, last), size == 1, -ENOMEM, "a chunk that cannot be submitted on the last rank: every rank returns -ENOMEM");

	/* The last rank (not the root) has no room for its first chunk's
	 * results (chunk 7, 24-byte results: calloc(7, 24)). */
	if (other)
		arm(&t_calloc, 7 * 24, 1);
	rc = map(ex, 2100, 7, 24);
	check_fault(rc, disarm(&t_calloc, other), false, -ENOMEM, "no room for a chunk's results on a rank: every rank returns -ENOMEM");

	/* The last rank (not the root) has no room for its first chunk's
	 * items (7 items of 1 KiB): it still takes the root's message. */
	if (other)
		arm(&t_malloc, 7 * ITEM_WORDS * sizeof(uint64_t), 1);
	rc = map_items(ex, 2100, 7);
	check_fault(rc, disarm(&t_malloc, other), false, -ENOMEM, "no room for a chunk's items on a rank: every rank returns -ENOMEM");

	/* The root's coordinator has no room for its third grant (struct
	 * grant_msg of mpi/map.c), then for its log (64 entries of 24
	 * bytes). */
	if (rank == 0)
		arm(&t_malloc, sizeof(struct {
			    int64_t g[2];
			    void *c;
			    int dest;
		    }),
		    3);
	rc = map(ex, 500, 1, 8);
	check_fault(rc, disarm(&t_malloc, rank == 0), true, -ENOMEM, "the root cannot allocate a grant: every rank returns -ENOMEM");
	if (rank == 0)
		arm(&t_realloc, 64 * 24, 1);
	rc = map(ex, 500, 1, 8);
	check_fault(rc, disarm(&t_realloc, rank == 0), true, -ENOMEM, "the root cannot allocate its grant log: every rank returns -ENOMEM");

	/* The root's third grant (tag 2) is refused at its start: every
	 * rank is answered (the grant's destination with the end, or,
	 * funnelled, where the engine starts it, with the grant taken back
	 * and then the end). */
	if (rank == 0)
		arm(&t_isend, 2, 3);
	rc = map(ex, 100, 1, 8);
	check_fault(rc, disarm(&t_isend, rank == 0), true, -EIO, "a grant that MPI refuses at its start: every rank returns -EIO");
	/* The root's third grant completes with an MPI error: it is taken
	 * back, its destination asks again and gets the end. */
	if (rank == 0)
		arm(&t_isend_late, 2, 3);
	rc = map(ex, 100, 1, 8);
	check_fault(rc, disarm(&t_isend_late, rank == 0), true, -EIO, "a grant whose send fails: every rank returns -EIO");
	/* Item mode: the same for the third grant, whose items are on their
	 * way: its destination drops them and asks again. */
	if (rank == 0)
		arm(&t_isend_late, 2, 3);
	rc = map_items(ex, 100, 1);
	check_fault(rc, disarm(&t_isend_late, rank == 0), true, -EIO, "a grant whose send fails after its items: every rank returns -EIO");
	/* Item mode, not funnelled: the first items send (tag 4) that MPI
	 * refuses at its start is answered with the end. Funnelled, the
	 * engine starts it, too late to answer: its destination waits. */
	if (items)
		arm(&t_isend, 4, 1);
	rc = map_items(ex, 300, 1);
	check_fault(rc, disarm(&t_isend, items), false, -EIO, "items that MPI refuses at their start: every rank returns -EIO");

	/* No callback can be added to a future of the engine (beyond its
	 * own): the map needs none. */
	atomic_store(&fail_on_done, true);
	rc = map(ex, 300, 3, 8);
	atomic_store(&fail_on_done, false);
	check_same(rc, 0, "a map adds no callback that could fail to register");

	/* After all that, a map works and nothing is left in flight. */
	check_same(map(ex, 300, 0, 8), 0, "a map after the failures succeeds");
	check_same(map_items(ex, 300, 0), 0, "a map of items after the failures succeeds");
}

/* --- the thread levels ----------------------------------------------- */

static void funneled(void)
{
	struct filch_mpi_opts o = {.flags = FILCH_MPI_FUNNELLED};
	bool good;

	good = filch_mpi_init(NULL) == -EPROTONOSUPPORT &&
	       filch_mpi_init(&o) == -EPROTONOSUPPORT &&
	       !filch_mpi_funnelled() && filch_mpi_finalize() == -EINVAL;
	good &= strstr(filch_mpi_strerror(-EPROTONOSUPPORT),
		       "MPI_THREAD_FUNNELED") != NULL;
	if (rank == 0)
		diag("%s", filch_mpi_strerror(-EPROTONOSUPPORT));
	check(good, "MPI_THREAD_FUNNELED: filch_mpi_init is -EPROTONOSUPPORT (the engine's thread may not call MPI)");
}

static void serialized(filch_executor *ex)
{
	int right = (rank + 1) % size, left = (rank + size - 1) % size;
	int out = rank, in = -1;
	filch_future *sf = NULL, *rf = NULL;
	bool good;

	start(0);
	good = filch_mpi_funnelled();
	good &= filch_mpi_irecv(&in, 1, MPI_INT, left, 5, MPI_COMM_WORLD,
				&rf) == 0 &&
		filch_mpi_isend(&out, 1, MPI_INT, right, 5, MPI_COMM_WORLD,
				&sf) == 0 &&
		filch_future_result(rf, FILCH_FOREVER, NULL) == 0 &&
		filch_future_result(sf, FILCH_FOREVER, NULL) == 0 && in == left;
	filch_future_release(rf);
	filch_future_release(sf);
	check(good, "MPI_THREAD_SERIALIZED: funnelled, a ring through futures");
	check_same(map(ex, 400, 0, 8), 0, "MPI_THREAD_SERIALIZED: a map");
	stop();
	grow_fails(FILCH_MPI_FUNNELLED);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "multiple";
	int want = strcmp(mode, "funneled") == 0     ? MPI_THREAD_FUNNELED
		   : strcmp(mode, "serialized") == 0 ? MPI_THREAD_SERIALIZED
						     : MPI_THREAD_MULTIPLE;
	int provided = MPI_THREAD_SINGLE;
	filch_executor *ex = NULL;

	MPI_Init_thread(&argc, &argv, want, &provided);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	/* Open MPI reports the error of a generalized request (the wrapped
	 * MPI_Isend's) through MPI_COMM_WORLD's handler: the engine must
	 * see it as the request's failure. */
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	if (rank == 0) {
		tap_plan(0);
		diag("mode %s: MPI thread level %d provided, %d asked", mode,
		     provided, want);
	}
	if (provided != want) {
		/* This MPI gives another level: nothing to check here. */
		MPI_Finalize();
		return rank == 0 ? tap_done() : 0;
	}
	if (filch_executor_create(&ex, NULL) != 0)
		MPI_Abort(MPI_COMM_WORLD, 2);
	if (want == MPI_THREAD_FUNNELED) {
		funneled();
	} else if (want == MPI_THREAD_SERIALIZED) {
		serialized(ex);
	} else {
		grow_fails(0);
		grow_fails(FILCH_MPI_FUNNELLED);
		start(0);
		refused_at_start();
		request_unposted(ex);
		map_shut_down(ex);
		map_faults(ex);
		stop();
		start(FILCH_MPI_FUNNELLED);
		refused_at_start();
		map_faults(ex);
		stop();
	}
	filch_executor_destroy(ex);
	MPI_Finalize();
	return rank == 0 ? tap_done() : 0;
}
