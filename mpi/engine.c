/* SPDX-License-Identifier: MIT */
/*
 * engine.c - the progress engine of libfilch-mpi: one thread per process
 * that tests the outstanding requests with MPI_Testsome and completes
 * their futures (filch promises), with back-off when nothing completes.
 *
 * Design (docs/mpi.md, "How progress works"):
 *  - A caller makes a record (the promise, its status record, the post
 *    function and its copied arguments) and pushes it on the inbox. With
 *    MPI_THREAD_MULTIPLE the operation was started by the caller first;
 *    funnelled, the engine starts it (only the engine's thread calls MPI).
 *  - The engine thread moves the inbox to its active arrays (requests and
 *    records side by side, as MPI_Testsome wants them), tests them all in
 *    one MPI_Testsome, completes the promises of those that completed
 *    (callbacks run here), and compacts the arrays.
 *  - Back-off: after a pass that posted or completed something, it polls
 *    again at once, up to spin polls; then it sleeps on the condition
 *    variable for 1 us, 2 us, 4 us ... up to max_sleep_ns, woken early by
 *    a push or a cancel; with no request at all it sleeps with no timeout.
 *  - Cancel: every record watches its own promise (filch_future_on_done).
 *    A user's filch_future_cancel runs the watcher, which flags the record
 *    and wakes the engine; the engine calls MPI_Cancel (or, funnelled,
 *    does not start the operation at all) and completes the request as
 *    usual, which MPI requires before the buffer may be reused.
 *  - No room: a record the engine cannot add to its arrays (they cannot
 *    grow) is still started as usual and goes on the overflow list, whose
 *    requests are tested one by one with MPI_Test (no allocation); they
 *    move into the arrays when a later pass can grow them. A started
 *    record is never failed for lack of memory: MPI may use its buffer
 *    until its request completes.
 *
 * Synchronization: one mutex, eng.lock, guards the inbox, the flags of the
 * engine (state, sleeping, cancels, posting) and of the records (cancel,
 * refs). The active arrays and the overflow list belong to the engine
 * thread. No atomics: the mutex is taken once per post and once per
 * engine pass, far below the cost of an MPI message.
 *
 * A record's life: refs = 2 at creation, one for the engine (dropped when
 * the request completed or the post failed) and one for the watcher
 * (dropped when the promise is done, in whichever thread completes it);
 * the last drop frees it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi/engine.h"

/* The engine's state, under eng.lock: STOPPED -> RUNNING (filch_mpi_init)
 * -> STOPPING (filch_mpi_finalize) -> STOPPED (the thread has exited and
 * been joined). */
enum eng_state { ENG_STOPPED, ENG_RUNNING, ENG_STOPPING };

struct rec {
	struct rec *next;	/* inbox link (under eng.lock), then the
				 * overflow list's (engine thread) */
	filch_future *f;	/* the promise; the engine's reference */
	struct filch__mpi_result *res; /* until the promise owns it */
	filch_mpi_post_fn post; /* NULL once started */
	void *post_arg;
	filch_callback_fn done; /* filch__mpi_submit's; run by watch */
	void *done_arg;
	MPI_Request req;	/* active once started */
	bool cancel;		/* under eng.lock: the promise was cancelled */
	bool cancel_seen;	/* engine thread: cancel seen, MPI_Cancel done */
	int refs;		/* under eng.lock */
	union {
		max_align_t align;
		unsigned char bytes[FILCH__MPI_ARGS_MAX];
	} args;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* the engine sleeps here */
	enum eng_state state;
	bool funnelled;
	bool sleeping;		/* the engine waits on cond */
	bool cancels;		/* some record was flagged cancel */
	unsigned posting;	/* callers between their check and push */
	struct rec *head, **tail;
	pthread_t thread;
	unsigned spin;
	int64_t max_sleep_ns;
	/* The engine thread's own. */
	int n, cap;
	MPI_Request *reqs;
	struct rec **recs;
	int *idx;
	MPI_Status *sts;
	struct rec *over;	/* started, no room in the arrays */
} eng = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.tail = &eng.head,
};

static void rec_put(struct rec *r)
{
	bool last;

	pthread_mutex_lock(&eng.lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&eng.lock);
	if (last) {
		filch__mpi_result_free(r->res, NULL);
		free(r);
	}
}

/* Wakes the engine if it sleeps; under eng.lock. */
static void wake_locked(void)
{
	if (eng.sleeping)
		pthread_cond_signal(&eng.cond);
}

/* The watcher: runs once when the promise is done, in the thread that
 * completed or cancelled it; it runs the record's done callback first. */
static void watch(filch_future *f, void *arg)
{
	struct rec *r = arg;

	if (r->done)
		r->done(f, r->done_arg);
	if (filch_future_cancelled(f)) {
		pthread_mutex_lock(&eng.lock);
		r->cancel = true;
		eng.cancels = true;
		wake_locked();
		pthread_mutex_unlock(&eng.lock);
	}
	rec_put(r);
}

int filch__mpi_describe(int err, char *buf, size_t len)
{
	char text[MPI_MAX_ERROR_STRING], name[MPI_MAX_ERROR_STRING];
	int cls = err, n = 0;

	/* A code above the last class names its class through MPI (as
	 * filch_mpi_errno reads it). */
	if (err <= MPI_ERR_LASTCODE || MPI_Error_class(err, &cls) != MPI_SUCCESS)
		cls = err;
	if (MPI_Error_string(cls, name, &n) != MPI_SUCCESS)
		snprintf(name, sizeof(name), "MPI error class %d", cls);
	if (MPI_Error_string(err, text, &n) != MPI_SUCCESS)
		snprintf(text, sizeof(text), "MPI error code %d", err);
	if (cls == err || strcmp(name, text) == 0)
		snprintf(buf, len, "MPI error class %d: %s", cls, text);
	else
		snprintf(buf, len, "MPI error class %d (%s): %s", cls, name,
			 text);
	return filch_mpi_errno(err);
}

/* Completes r's promise with MPI error err (not MPI_SUCCESS). */
static void fail(struct rec *r, int err)
{
	char msg[3 * MPI_MAX_ERROR_STRING];
	int code = filch__mpi_describe(err, msg, sizeof(msg));

	filch_promise_set_error(r->f, code, msg);
}

/* The request of r completed (err: its MPI error code); engine thread,
 * or the poster whose post failed. Drops the engine's hold on r. */
static void finish(struct rec *r, int err, const MPI_Status *st)
{
	if (r->cancel_seen) {
		/* The promise is already cancelled; MPI is done with the
		 * buffer now. */
	} else if (err != MPI_SUCCESS) {
		fail(r, err);
	} else {
		filch__mpi_result_set(r->res, st);
		if (filch_promise_set_result(r->f, r->res) == 0)
			r->res = NULL; /* the promise owns it now */
	}
	filch_future_release(r->f);
	r->f = NULL;
	rec_put(r);
}

static int grow(void)
{
	int cap = eng.cap ? 2 * eng.cap : 64;
	MPI_Request *reqs = realloc(eng.reqs, cap * sizeof(*reqs));

	if (reqs)
		eng.reqs = reqs;
	struct rec **recs = realloc(eng.recs, cap * sizeof(*recs));
	if (recs)
		eng.recs = recs;
	int *idx = realloc(eng.idx, cap * sizeof(*idx));
	if (idx)
		eng.idx = idx;
	MPI_Status *sts = realloc(eng.sts, cap * sizeof(*sts));
	if (sts)
		eng.sts = sts;
	if (!reqs || !recs || !idx || !sts)
		return -ENOMEM;
	eng.cap = cap;
	return 0;
}

/* Appends the started record r to the arrays, which have room. */
static void put(struct rec *r)
{
	eng.reqs[eng.n] = r->req;
	eng.recs[eng.n] = r;
	eng.n++;
}

/* Makes the started record r active: in the arrays if they have room or
 * can grow (and no overflow record waits before it), else on the overflow
 * list. */
static void activate(struct rec *r)
{
	if (!eng.over && (eng.n < eng.cap || grow() == 0)) {
		put(r);
	} else {
		r->next = eng.over;
		eng.over = r;
	}
}

static int adopt(void *arg, MPI_Request *req);

/* Starts the records of the inbox list in (funnelled: posts them) and
 * makes them active. Returns true if there was any. */
static bool start(struct rec *in)
{
	bool any = in != NULL;

	while (in) {
		struct rec *r = in;
		int err = MPI_SUCCESS;

		in = r->next;
		if (r->post) {
			if (r->cancel_seen && r->post != adopt) {
				/* Cancelled before it was started: MPI never
				 * saw it (an adopted request MPI already has:
				 * it is cancelled and completed below). */
				finish(r, MPI_SUCCESS, NULL);
				continue;
			}
			err = r->post(r->post_arg, &r->req);
			r->post = NULL;
		}
		if (err != MPI_SUCCESS) {
			finish(r, err, NULL);
			continue;
		}
		if (r->cancel_seen)
			MPI_Cancel(&r->req);
		activate(r);
	}
	return any;
}

/* Under eng.lock: MPI_Cancel on req, r's active request, if r was newly
 * flagged cancel. */
static void see_cancel_locked(struct rec *r, MPI_Request *req)
{
	if (r->cancel && !r->cancel_seen) {
		r->cancel_seen = true;
		MPI_Cancel(req);
	}
}

/* Under eng.lock: copies the cancel flags of the inbox list and, when
 * some record was flagged since the last pass, of the active records,
 * calling MPI_Cancel on active ones newly flagged. */
static void see_cancels_locked(struct rec *in)
{
	for (; in; in = in->next)
		in->cancel_seen = in->cancel;
	if (!eng.cancels)
		return;
	eng.cancels = false;
	for (int i = 0; i < eng.n; i++)
		see_cancel_locked(eng.recs[i], &eng.reqs[i]);
	for (struct rec *r = eng.over; r; r = r->next)
		see_cancel_locked(r, &r->req);
}

/* One MPI_Testsome over every active request; completes those done.
 * Returns true if any completed. */
static bool test(void)
{
	int out = 0, rc, j = 0;

	if (eng.n == 0)
		return false;
	rc = MPI_Testsome(eng.n, eng.reqs, &out, eng.idx, eng.sts);
	if (rc != MPI_SUCCESS && rc != MPI_ERR_IN_STATUS) {
		/* The call itself failed: its requests cannot be trusted. */
		for (int i = 0; i < eng.n; i++)
			finish(eng.recs[i], rc, NULL);
		eng.n = 0;
		return true;
	}
	if (out == MPI_UNDEFINED || out == 0)
		return false;
	for (int k = 0; k < out; k++) {
		int i = eng.idx[k];
		int err = rc == MPI_ERR_IN_STATUS ? eng.sts[k].MPI_ERROR
						  : MPI_SUCCESS;

		finish(eng.recs[i], err, &eng.sts[k]);
		eng.recs[i] = NULL;
	}
	for (int i = 0; i < eng.n; i++) {
		if (!eng.recs[i])
			continue;
		eng.reqs[j] = eng.reqs[i];
		eng.recs[j] = eng.recs[i];
		j++;
	}
	eng.n = j;
	return true;
}

/* Moves the overflow records into the arrays while they have room or can
 * grow, then tests those left one by one (MPI_Test needs no room) and
 * completes those done. Returns true if any completed. */
static bool test_over(void)
{
	struct rec **p = &eng.over;
	bool any = false;

	while (eng.over && (eng.n < eng.cap || grow() == 0)) {
		struct rec *r = eng.over;

		eng.over = r->next;
		put(r);
	}
	while (*p) {
		struct rec *r = *p;
		MPI_Status st;
		int done = 0, rc = MPI_Test(&r->req, &done, &st);

		if (rc == MPI_SUCCESS && !done) {
			p = &r->next;
			continue;
		}
		*p = r->next;
		finish(r, rc, &st);
		any = true;
	}
	return any;
}

/* Sleeps up to ns, or until a push or a cancel. */
static void nap(int64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ns / 1000000000;
	ts.tv_nsec += ns % 1000000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&eng.lock);
	if (!eng.head && !eng.cancels) {
		eng.sleeping = true;
		pthread_cond_timedwait(&eng.cond, &eng.lock, &ts);
		eng.sleeping = false;
	}
	pthread_mutex_unlock(&eng.lock);
}

static void *progress(void *unused)
{
	unsigned idle = 0;

	(void)unused;
	for (;;) {
		struct rec *in;
		bool active;

		pthread_mutex_lock(&eng.lock);
		while (!eng.head && !eng.cancels && eng.n == 0 && !eng.over) {
			if (eng.state == ENG_STOPPING && eng.posting == 0) {
				pthread_mutex_unlock(&eng.lock);
				return NULL;
			}
			eng.sleeping = true;
			pthread_cond_wait(&eng.cond, &eng.lock);
			eng.sleeping = false;
			idle = 0;
		}
		in = eng.head;
		eng.head = NULL;
		eng.tail = &eng.head;
		see_cancels_locked(in);
		pthread_mutex_unlock(&eng.lock);

		active = start(in);
		active |= test_over();
		active |= test();
		if (active) {
			idle = 0;
		} else if (++idle > eng.spin) {
			unsigned k = idle - eng.spin - 1;
			int64_t ns = k < 20 ? (int64_t)1000 << k : eng.max_sleep_ns;

			nap(ns < eng.max_sleep_ns ? ns : eng.max_sleep_ns);
		}
	}
}

int filch_mpi_init(const struct filch_mpi_opts *opts)
{
	int inited = 0, finalized = 0, level = MPI_THREAD_SINGLE, rc;
	pthread_condattr_t ca;

	if (opts && ((opts->flags & ~FILCH_MPI_FUNNELLED) ||
		     opts->max_sleep_ns < 0))
		return -EINVAL;
	if (MPI_Initialized(&inited) != MPI_SUCCESS || !inited ||
	    MPI_Finalized(&finalized) != MPI_SUCCESS || finalized)
		return -EINVAL;
	/* The engine's thread calls MPI: FUNNELED allows only the thread
	 * that initialized MPI to. */
	MPI_Query_thread(&level);
	if (level == MPI_THREAD_SINGLE || level == MPI_THREAD_FUNNELED)
		return -EPROTONOSUPPORT;
	pthread_mutex_lock(&eng.lock);
	if (eng.state != ENG_STOPPED) {
		pthread_mutex_unlock(&eng.lock);
		return -EBUSY;
	}
	eng.funnelled = level != MPI_THREAD_MULTIPLE ||
			(opts && (opts->flags & FILCH_MPI_FUNNELLED));
	eng.spin = opts && opts->spin ? opts->spin : 64;
	eng.max_sleep_ns = opts && opts->max_sleep_ns ? opts->max_sleep_ns
						      : 1000000;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&eng.cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&eng.thread, NULL, progress, NULL);
	if (rc == 0)
		eng.state = ENG_RUNNING;
	else
		pthread_cond_destroy(&eng.cond);
	pthread_mutex_unlock(&eng.lock);
	return rc;
}

int filch_mpi_finalize(void)
{
	pthread_mutex_lock(&eng.lock);
	if (eng.state != ENG_RUNNING) {
		pthread_mutex_unlock(&eng.lock);
		return -EINVAL;
	}
	if (pthread_equal(pthread_self(), eng.thread)) {
		pthread_mutex_unlock(&eng.lock);
		return -EDEADLK;
	}
	eng.state = ENG_STOPPING;
	wake_locked();
	pthread_mutex_unlock(&eng.lock);
	pthread_join(eng.thread, NULL);
	pthread_mutex_lock(&eng.lock);
	free(eng.reqs);
	free(eng.recs);
	free(eng.idx);
	free(eng.sts);
	eng.reqs = NULL;
	eng.recs = NULL;
	eng.idx = NULL;
	eng.sts = NULL;
	eng.n = eng.cap = 0;
	pthread_cond_destroy(&eng.cond);
	eng.state = ENG_STOPPED;
	pthread_mutex_unlock(&eng.lock);
	return 0;
}

bool filch_mpi_funnelled(void)
{
	bool f;

	pthread_mutex_lock(&eng.lock);
	f = eng.state != ENG_STOPPED && eng.funnelled;
	pthread_mutex_unlock(&eng.lock);
	return f;
}

/* Makes a record with its promise; *fut gets the caller's reference. */
static int rec_new(struct rec **out, filch_future **fut)
{
	struct rec *r = calloc(1, sizeof(*r));
	int rc = -ENOMEM;

	if (!r)
		return rc;
	r->res = filch__mpi_result_new();
	if (!r->res)
		goto fail;
	r->refs = 2;
	r->req = MPI_REQUEST_NULL;
	rc = filch_promise_create(&r->f);
	if (rc)
		goto fail;
	/* The first callback and the first destructor need no allocation. */
	if (filch_future_set_result_dtor(r->f, filch__mpi_result_free,
					 NULL) != 0 ||
	    filch_future_on_done(r->f, watch, r) != 0) {
		filch_future_release(r->f);
		goto fail;
	}
	*fut = filch_future_retain(r->f);
	*out = r;
	return 0;
fail:
	filch__mpi_result_free(r->res, NULL);
	free(r);
	return rc;
}

/* Registers a caller between its check and its push; -EINVAL when the
 * engine is not running. */
static int enter(void)
{
	int rc = 0;

	pthread_mutex_lock(&eng.lock);
	if (eng.state == ENG_RUNNING)
		eng.posting++;
	else
		rc = -EINVAL;
	pthread_mutex_unlock(&eng.lock);
	return rc;
}

/* Pushes r on the inbox (NULL: only leaves) and wakes the engine. */
static void leave(struct rec *r)
{
	pthread_mutex_lock(&eng.lock);
	if (r) {
		*eng.tail = r;
		eng.tail = &r->next;
	}
	eng.posting--;
	wake_locked();
	pthread_mutex_unlock(&eng.lock);
}

/* Posts r: funnelled, queues it; otherwise starts it here first. Returns
 * the MPI error of a start here that failed (r is finished then, without
 * its done: filch__mpi_submit returns the error instead), else
 * MPI_SUCCESS. */
static int launch(struct rec *r)
{
	int err = MPI_SUCCESS;

	if (!eng.funnelled) {
		err = r->post(r->post_arg, &r->req);
		r->post = NULL;
		if (err != MPI_SUCCESS) {
			r->done = NULL;
			finish(r, err, NULL);
			r = NULL;
		}
	}
	leave(r);
	return err;
}

int filch__mpi_submit(filch_mpi_post_fn fn, void *arg, const void *args,
		      size_t args_size, bool cancellable, filch_callback_fn done,
		      void *done_arg, filch_future **f)
{
	struct rec *r = NULL;
	filch_future *fut = NULL;
	int rc;

	if (!fn || !f || args_size > FILCH__MPI_ARGS_MAX)
		return -EINVAL;
	rc = enter();
	if (rc)
		return rc;
	rc = rec_new(&r, &fut);
	if (rc) {
		leave(NULL);
		return rc;
	}
	/* A running promise cannot be cancelled: for the requests that
	 * MPI_Cancel must not be called on. */
	if (!cancellable)
		filch_promise_set_running(r->f);
	r->post = fn;
	r->post_arg = arg;
	r->done = done;
	r->done_arg = done_arg;
	if (args) {
		memcpy(r->args.bytes, args, args_size);
		r->post_arg = r->args.bytes;
	}
	rc = launch(r);
	if (rc != MPI_SUCCESS && done) {
		filch_future_release(fut);
		rc = filch_mpi_errno(rc);
		return rc ? -rc : -EIO;
	}
	*f = fut;
	return 0;
}

int filch_mpi_post(filch_mpi_post_fn fn, void *arg, filch_future **f)
{
	return filch__mpi_submit(fn, arg, NULL, 0, true, NULL, NULL, f);
}

/* The post function of filch_mpi_future: the request is already active. */
static int adopt(void *arg, MPI_Request *req)
{
	*req = *(MPI_Request *)arg;
	return MPI_SUCCESS;
}

int filch_mpi_future(MPI_Request *req, filch_future **f)
{
	int rc;

	if (!req || *req == MPI_REQUEST_NULL)
		return -EINVAL;
	rc = filch__mpi_submit(adopt, NULL, req, sizeof(*req), true, NULL,
			       NULL, f);
	if (rc == 0)
		*req = MPI_REQUEST_NULL;
	return rc;
}
