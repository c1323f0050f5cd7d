/* SPDX-License-Identifier: MIT */
/*
 * api_fuzz.c - reads a byte string as a sequence of filch API calls (create,
 * submit, promises, cancel, on_done, result, wait, as_completed, map, then,
 * when_all/any, groups, shutdown, destroy, release) and checks, after each
 * call, that it returned one of the codes its contract allows, and at the
 * end of the input that nothing was lost: once every executor is destroyed
 * and every promise completed, every future has an outcome, no task ran
 * twice, no cancelled task ran, and every callback ran exactly once. A
 * violation aborts with a message (libFuzzer then saves the input); leaks
 * are LeakSanitizer's.
 *
 * Built by "make fuzz" with clang -fsanitize=fuzzer,address, and by
 * fuzz/replay.c (make check) to replay fuzz/corpus/ in every build.
 *
 * Encoding: each call is one opcode byte followed by the argument bytes it
 * consumes; missing bytes read as 0. At most MAX_OPS calls per input; every
 * wait has a timeout of at most a few milliseconds.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <filch.h>

#include "api_fuzz.h"

enum { NEX = 2, NFUT = 12, MAX_OPS = 64, MAX_RECS = 4 * MAX_OPS + 16 };

#define MS INT64_C(1000000)

/* Everything a task or a callback can witness; outlives the futures. */
struct rec {
	/* Aligned so that task_main's argument can carry 3 mode bits. */
	_Alignas(8) _Atomic int runs;
	_Atomic int calls; /* for callback records */
	bool is_callback;
	int max_runs; /* a task and its child: 2; a group: its jobs */
};

enum fut_kind { K_NONE, K_TASK, K_PROMISE, K_DERIVED };

struct fz {
	const uint8_t *p, *end;
	filch_executor *ex[NEX];
	struct {
		filch_future *f;
		enum fut_kind kind;
		struct rec *task; /* K_TASK */
	} fut[NFUT];
	struct rec recs[MAX_RECS];
	unsigned nrecs;
};

static _Noreturn void violated(const char *what, int rc)
{
	fprintf(stderr, "api_fuzz: invariant violated: %s (rc %d: %s)\n", what,
		rc, filch_strerror(rc));
	abort();
}

/* rc must be 0 or one of the listed codes (a 0-terminated list). */
static int allow(int rc, const char *call, const int *codes)
{
	if (rc == 0)
		return 0;
	for (; *codes; codes++)
		if (rc == *codes)
			return rc;
	violated(call, rc);
}
#define ALLOW(call, ...) allow((call), #call, (const int[]){ __VA_ARGS__, 0 })

static uint8_t byte(struct fz *z)
{
	return z->p < z->end ? *z->p++ : 0;
}

static struct rec *new_rec(struct fz *z, bool is_callback)
{
	if (z->nrecs == MAX_RECS)
		return NULL;
	struct rec *r = &z->recs[z->nrecs++];
	r->is_callback = is_callback;
	r->max_runs = 2;
	return r;
}

/* ---- tasks ------------------------------------------------------------- */

static int task_child(void *arg, void **result)
{
	atomic_fetch_add(&((struct rec *)arg)->runs, 1);
	return 0;
}

/* The low bits of the record's address are free; the behaviour rides in
 * the argument as (rec | mode). */
static int task_main(void *arg, void **result)
{
	uintptr_t a = (uintptr_t)arg;
	struct rec *r = (struct rec *)(a & ~(uintptr_t)7);
	atomic_fetch_add(&r->runs, 1);
	*result = r;
	switch (a & 7) {
	case 1:
		return filch_task_fail(EPROTO, "fuzz %d", 1);
	case 2:
		return -EIO;
	case 3:
		/* A child of a running task is accepted even while the pool
		 * drains; its record is the parent's (runs 2 when both ran). */
		filch_submit(filch_current_executor(), task_child, r, NULL);
		return 0;
	case 4:
		return filch_cancel_requested() ? ECANCELED : 0;
	default:
		return 0;
	}
}

static int task_square(void *arg, void **result)
{
	uintptr_t x = (uintptr_t)arg;
	*result = (void *)(x * x);
	return x == 13 ? EDOM : 0;
}

static int job(void *arg)
{
	atomic_fetch_add(&((struct rec *)arg)->runs, 1);
	return 0;
}

static int then_fn(filch_future *a, void *arg, void **result)
{
	return (uintptr_t)arg & 1 ? EXDEV : 0;
}

static void callback(filch_future *f, void *arg)
{
	if (!filch_future_done(f))
		violated("callback on a future that is not done", 0);
	atomic_fetch_add(&((struct rec *)arg)->calls, 1);
}

/* ---- operations --------------------------------------------------------- */

static filch_executor **pick_ex(struct fz *z)
{
	return &z->ex[byte(z) % NEX];
}

static unsigned pick_fut(struct fz *z)
{
	return byte(z) % NFUT;
}

static void put_fut(struct fz *z, unsigned j, filch_future *f,
		    enum fut_kind kind, struct rec *task)
{
	filch_future_release(z->fut[j].f);
	z->fut[j].f = f;
	z->fut[j].kind = kind;
	z->fut[j].task = task;
}

/* Up to 4 futures from the slots (possibly repeated); returns how many. */
static size_t pick_set(struct fz *z, filch_future **fs)
{
	size_t n = 0, want = byte(z) % 5;
	for (size_t i = 0; i < want; i++) {
		filch_future *f = z->fut[pick_fut(z)].f;
		if (f)
			fs[n++] = f;
	}
	return n;
}

static void op_create(struct fz *z)
{
	filch_executor **ex = pick_ex(z);
	uint8_t b = byte(z);
	struct filch_executor_opts o = {
		.workers = 1 + (b & 1),
		.pin = FILCH_PIN_NONE,
		.queue_capacity = (b >> 1) & 3,
		.full_policy = (b >> 3) % 3,
		.full_timeout_ns = MS,
	};
	if (*ex)
		return;
	ALLOW(filch_executor_create(ex, &o), -ENOMEM, -EAGAIN);
}

static void op_submit(struct fz *z, bool with_future)
{
	filch_executor **ex = pick_ex(z);
	unsigned j = pick_fut(z);
	uint8_t mode = byte(z) % 5;
	struct rec *r = *ex ? new_rec(z, false) : NULL;
	filch_future *f = NULL;

	if (!r)
		return;
	void *arg = (void *)((uintptr_t)r | mode);
	int rc = ALLOW(filch_submit(*ex, task_main, arg, with_future ? &f : NULL),
		       -ESHUTDOWN, -EAGAIN);
	if (rc && f)
		violated("submit wrote *fut on failure", rc);
	if (!rc && with_future)
		put_fut(z, j, f, K_TASK, r);
}

static void op_promise(struct fz *z)
{
	unsigned j = pick_fut(z);
	filch_future *f;

	ALLOW(filch_promise_create(&f), -ENOMEM);
	put_fut(z, j, f, K_PROMISE, NULL);
}

static void op_complete(struct fz *z)
{
	unsigned j = pick_fut(z);
	uint8_t how = byte(z) % 3;
	filch_future *f = z->fut[j].f;

	if (!f || z->fut[j].kind != K_PROMISE)
		return;
	int rc = how == 0   ? filch_promise_set_running(f)
		 : how == 1 ? filch_promise_set_result(f, (void *)7)
			    : filch_promise_set_error(f, EBADMSG, "fuzz");
	ALLOW(rc, -EINVAL, -ECANCELED);
	if (rc == -ECANCELED && !filch_future_cancelled(f))
		violated("-ECANCELED from a promise not cancelled", rc);
	if (rc == 0 && how && !filch_future_done(f))
		violated("completed promise not done", rc);
}

static void op_cancel(struct fz *z)
{
	filch_future *f = z->fut[pick_fut(z)].f;

	if (f && filch_future_cancel(f) && !filch_future_cancelled(f))
		violated("cancel returned true but the future is not cancelled",
			 0);
}

static void op_on_done(struct fz *z)
{
	filch_future *f = z->fut[pick_fut(z)].f;
	struct rec *r = f ? new_rec(z, true) : NULL;

	if (!r)
		return;
	if (ALLOW(filch_future_on_done(f, callback, r), -ENOMEM))
		r->is_callback = false; /* never called */
}

static void op_result(struct fz *z)
{
	unsigned j = pick_fut(z);
	filch_future *f = z->fut[j].f;
	int64_t timeout = (byte(z) & 1) * MS;
	void *res;

	if (!f)
		return;
	int rc = filch_future_result(f, timeout, &res);
	if (rc == -ECANCELED && !filch_future_cancelled(f))
		violated("result -ECANCELED but not cancelled", rc);
	if (rc == 0 && z->fut[j].kind == K_TASK && res != z->fut[j].task)
		violated("result of another task", rc);
	if (rc < 0 && rc != -ECANCELED && rc != -ETIMEDOUT)
		violated("result returned an unexpected error", rc);
}

static void op_wait(struct fz *z)
{
	filch_future *fs[4];
	size_t n = pick_set(z, fs), nd = 0;
	uint8_t b = byte(z);
	int mode = b % 4; /* 0 is not a mode: -EINVAL */
	int rc = filch_wait(fs, n, (b >> 2 & 1) * MS, mode, &nd);

	if (mode == 0 && n && rc != -EINVAL)
		violated("wait with mode 0", rc);
	if (mode)
		ALLOW(rc, -ETIMEDOUT, -ENOMEM);
	if (rc == 0 || rc == -ETIMEDOUT) {
		if (nd > n)
			violated("ndone > n", rc);
		for (size_t i = 0; i < n; i++)
			if (i < nd && !filch_future_done(fs[i]))
				violated("wait put a pending future first", rc);
	}
	if (rc == 0 && mode == FILCH_ALL_COMPLETED && nd != n)
		violated("wait(ALL) returned 0 with futures pending", rc);
}

static void op_as_completed(struct fz *z)
{
	filch_future *fs[4], *f;
	filch_as_completed *it;
	size_t n = pick_set(z, fs), seen = 0;
	int rc;

	if (ALLOW(filch_as_completed_begin(&it, fs, n, MS), -ENOMEM))
		return;
	while ((rc = filch_as_completed_next(it, &f)) == 0) {
		if (!filch_future_done(f) || ++seen > n)
			violated("as_completed yielded a pending or extra future",
				 rc);
	}
	filch_as_completed_end(it);
	if (rc != FILCH_END && rc != -ETIMEDOUT)
		violated("as_completed_next ended with an unexpected code", rc);
}

static void op_map(struct fz *z)
{
	filch_executor **ex = pick_ex(z);
	uint8_t b = byte(z), take = byte(z) % 20;
	void *items[16], *res;
	size_t n = b % 17;
	struct filch_map_opts o = { .timeout_ns = 20 * MS,
				    .chunksize = (b >> 5) & 3,
				    .buffersize = byte(z) % 4 };
	filch_map_iter *it;

	if (!*ex)
		return;
	for (size_t i = 0; i < n; i++)
		items[i] = (void *)(uintptr_t)(i + 10);
	if (ALLOW(filch_map(&it, *ex, task_square, items, n, &o), -ENOMEM,
		  -ESHUTDOWN, -EAGAIN))
		return;
	for (size_t i = 0; i < take; i++) {
		int rc = filch_map_next(it, &res);
		if (rc == 0 && res != (void *)((i + 10) * (i + 10)))
			violated("map result out of order", rc);
		if (rc == FILCH_END && i != n)
			violated("map ended early", rc);
		if (rc == EDOM && i != 3)
			violated("map error from the wrong item", rc);
		/* -EAGAIN: the map's own submissions meet a bounded queue
		 * (undocumented in filch.h's filch_map_next). */
		if (rc != 0 && rc != FILCH_END && rc != EDOM)
			ALLOW(rc, -ETIMEDOUT, -ECANCELED, -ENOMEM, -ESHUTDOWN,
			      -EAGAIN);
		if (rc)
			break;
	}
	filch_map_close(it);
}

static void op_shutdown(struct fz *z)
{
	filch_executor **ex = pick_ex(z);
	unsigned flags = byte(z) % 5; /* 4 is an unknown flag */

	if (*ex)
		ALLOW(filch_shutdown(*ex, flags), flags == 4 ? -EINVAL : 0);
}

static void op_destroy(struct fz *z)
{
	filch_executor **ex = pick_ex(z);

	if (*ex && filch_executor_destroy(*ex) != 0)
		violated("destroy failed", 0);
	*ex = NULL;
}

static void op_release(struct fz *z)
{
	put_fut(z, pick_fut(z), NULL, K_NONE, NULL);
}

static void op_then(struct fz *z)
{
	filch_executor **ex = pick_ex(z);
	filch_future *f = z->fut[pick_fut(z)].f, *out = NULL;
	unsigned j = pick_fut(z);
	uintptr_t fail = byte(z) & 1;

	if (!*ex || !f)
		return;
	if (!ALLOW(filch_future_then(f, *ex, then_fn, (void *)fail, &out),
		   -ENOMEM, -ESHUTDOWN))
		put_fut(z, j, out, K_DERIVED, NULL);
}

static void op_when(struct fz *z)
{
	filch_future *fs[4], *out = NULL;
	unsigned j = pick_fut(z);
	bool any = byte(z) & 1;
	size_t n = pick_set(z, fs);
	int rc = any ? filch_when_any(fs, n, &out) : filch_when_all(fs, n, &out);

	ALLOW(rc, -ENOMEM, any && !n ? -EINVAL : -ENOMEM);
	if (rc == 0)
		put_fut(z, j, out, K_DERIVED, NULL);
}

static void op_group(struct fz *z)
{
	filch_executor **ex = pick_ex(z);
	unsigned jobs = byte(z) % 8;
	filch_group g;
	int spawned = 0;
	struct rec *r = *ex ? new_rec(z, false) : NULL;

	if (!r || ALLOW(filch_group_init(&g, *ex), -ENOMEM))
		return;
	/* -EAGAIN: a foreign thread's spawn meets the bounded queue's
	 * policy like a submit (filch.h lists only -ENOMEM, -ESHUTDOWN). */
	for (unsigned i = 0; i < jobs; i++)
		spawned += !ALLOW(filch_group_spawn(&g, job, r), -ENOMEM,
				  -ESHUTDOWN, -EAGAIN);
	ALLOW(filch_group_wait(&g), -ECANCELED);
	r->max_runs = spawned;
	if (atomic_load(&r->runs) != spawned)
		violated("group_wait returned before every job ran once",
			 spawned);
}

/* ---- the run and its final checks --------------------------------------- */

static void finish(struct fz *z)
{
	for (unsigned j = 0; j < NFUT; j++)
		if (z->fut[j].kind == K_PROMISE && !filch_future_done(z->fut[j].f))
			ALLOW(filch_promise_set_result(z->fut[j].f, NULL),
			      -ECANCELED);
	for (unsigned i = 0; i < NEX; i++)
		if (z->ex[i] && filch_executor_destroy(z->ex[i]) != 0)
			violated("destroy failed", 0);
	/* Continuations of continuations complete after the destroy that
	 * ran their antecedents; give them a moment before checking. */
	for (unsigned j = 0; j < NFUT; j++) {
		filch_future *f = z->fut[j].f;
		if (!f)
			continue;
		int rc = filch_future_result(f, 5000 * MS, NULL);
		if (rc == -ETIMEDOUT)
			violated("a future without an outcome after every "
				 "executor was destroyed", rc);
		if (z->fut[j].kind == K_TASK) {
			int runs = atomic_load(&z->fut[j].task->runs);
			if (filch_future_cancelled(f) && runs)
				violated("a cancelled task ran", runs);
			if (!filch_future_cancelled(f) && !runs)
				violated("a finished task never ran", runs);
		}
		put_fut(z, j, NULL, K_NONE, NULL);
	}
	for (unsigned i = 0; i < z->nrecs; i++) {
		int calls = atomic_load(&z->recs[i].calls);
		if (z->recs[i].is_callback ? calls != 1 : calls != 0)
			violated("a callback ran other than exactly once", calls);
		if (atomic_load(&z->recs[i].runs) > z->recs[i].max_runs)
			violated("a task ran more than once", 0);
	}
}

static void op_submit_future(struct fz *z)
{
	op_submit(z, true);
}

static void op_submit_fire(struct fz *z)
{
	op_submit(z, false);
}

/* Opcode byte modulo the table's length picks the call. */
static void (*const ops[])(struct fz *) = {
	op_create,   op_submit_future, op_submit_fire,  op_promise,
	op_complete, op_cancel,	       op_on_done,	op_result,
	op_wait,     op_as_completed,  op_map,		op_shutdown,
	op_destroy,  op_release,       op_then,		op_when,
	op_group,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz z;

	memset(&z, 0, sizeof(z));
	z.p = data;
	z.end = data + size;
	for (unsigned n = 0; n < MAX_OPS && z.p < z.end; n++) {
		uint8_t op = byte(&z);
		ops[op % (sizeof(ops) / sizeof(ops[0]))](&z);
	}
	finish(&z);
	return 0;
}
