/* SPDX-License-Identifier: MIT */
/*
 * procpool.c - process workers (filch_procpool_*): tasks run in forked
 * worker processes behind ordinary futures (promises that the pool's
 * completion thread completes), so that a crash, a leak or a task that
 * never returns costs a worker process, not the program.
 *
 * One thread per pool, the completion thread, does everything that touches
 * a worker: it starts the workers (forking them itself with
 * FILCH_START_FORK, or asking the fork server that it forked at creation,
 * forkserver.c; either way the PR_SET_PDEATHSIG chain follows this thread,
 * which lives as long as the pool), writes the tasks to the workers, up to
 * FILCH__PP_DEPTH calls ahead per worker (each started or cancelled
 * through its mark, procpool.h), reads the results back, learns of deaths
 * (failing the call that started, queueing again those that did not) and
 * starts replacements. It sleeps (after polling a while when events
 * came close together: pp_wait, procspin.c) in
 * epoll_wait on an eventfd (submissions, stop requests, shutdown), each
 * worker's socket (a result or a ready frame) and, for deaths, each
 * worker's pidfd (fork) or the fork server's note socket; it wakes on a
 * timeout only for the earliest time-limit deadline. Stoppers only mark
 * under the pool's lock, then write the eventfd. A submitter writes its
 * call straight into the least loaded worker's socket, under the lock,
 * when nothing is queued and that worker takes it (pp_direct): the call
 * then reaches the worker without waking the completion thread, which
 * learns of it from the worker's calls list when the reply comes.
 * Otherwise the submitter queues the task and writes the eventfd. The
 * frames on a worker's socket are in procpool.h; the worker process
 * itself is procworker.c.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <filch.h>

#include "atomic.h"
#include "fork.h"
#include "future.h"
#include "procfds.h"
#include "procpool.h"

#define PP_MAX_WORKERS 1024
/* spin_ns (filch_procpool_opts): without FILCH_PROCPOOL_OPT_SPIN, and at
 * most. */
#define PP_SPIN_NS 50000
#define PP_SPIN_MAX_NS 1000000

struct pp_task {
	struct pp_task *next;
	filch_future *fut; /* the pool's reference */
	filch_procpool *pp;
	/* Held by the pool (until it is done with the task) and by cb (until
	 * it ran, when fut completed): the last one frees the task. */
	_Atomic unsigned refs;
	/* Where it was written: 0 (in no worker), or its mark's index + 1
	 * above PP_WHERE_SHIFT and its call's number below. Only the
	 * completion thread stores it; pp_on_done reads it. */
	_Atomic uint64_t where;
	struct filch__callback cb; /* pp_on_done */
	uint64_t seq;	/* its call's number in its worker */
	bool promoted;	/* at the head of its worker's calls: fut RUNNING */
	bool dropped;	/* under the lock: cancelled by terminate or
			   shutdown, never to be queued again */
	bool terminate; /* under the lock: terminate asked its worker's
			   kill while it ran (another call's kill may be
			   the one asked: pp_ask_kill keeps the first) */
	struct pp_task *link; /* in a list of terminate's or shutdown's */
	uint64_t fn; /* the filch_proc_fn's address, or (spawn) its offset
			in its module */
	size_t len;
	int shm;	  /* a memfd of the argument (FILCH_PROCPOOL_SHM_MIN
			     bytes or more), kept to write the call again
			     after a crash before it, or -1 */
	uint32_t mod_len; /* spawn: fn's module name, NUL included */
	unsigned char data[]; /* the module name, then the argument (if
				 not in shm) */
};

#define PP_WHERE_SHIFT 48
#define PP_SEQ_MASK ((UINT64_C(1) << PP_WHERE_SHIFT) - 1)

/*
 * A worker slot's state (pp_worker.state), under the pool's lock; only the
 * completion thread changes it:
 *   EMPTY    -> STARTING  forked (spawn), waiting for its ready frame
 *   STARTING -> READY     its initializer returned 0
 *   STARTING -> FAILED    its initializer failed, or it died before ready:
 *                         the slot is never refilled
 *   READY    -> RETIRING  it has run max_tasks_per_child tasks
 *   any live -> EMPTY     it died: its pidfd (fork) or the fork server's
 *                         note said so (pp_dead); then STARTING again
 *                         unless the server died, or the pool is closing
 *                         with nothing queued
 * A READY worker takes calls while it has fewer than FILCH__PP_DEPTH
 * written and not replied (calls, ncalls), and fewer than its remaining
 * max_tasks_per_child (pp_takes): from the completion thread
 * (pp_plan_calls) or straight from a submitter (pp_direct), both under
 * the lock. doomed: a SIGKILL was sent; it takes no more.
 */
enum { W_EMPTY, W_STARTING, W_READY, W_RETIRING, W_FAILED };

/* Why a worker is killed (pp_worker.kill), for its call kill_seq. */
enum { K_NONE, K_TERMINATE, K_TIMEOUT, K_SHUTDOWN, K_NOMEM };

struct pp_worker {
	int state;	      /* above */
	int kill;	      /* K_*: asked for call kill_seq */
	uint64_t kill_seq;
	bool doomed;	      /* SIGKILL sent */
	/* The calls written and not replied, in order (the first is the
	 * one it runs or runs next), and how many. Changed by the
	 * completion thread under the lock; terminate and shutdown read
	 * them under it. */
	struct pp_task *calls, **calls_tail;
	unsigned ncalls;
	size_t call_bytes; /* their bytes on the socket (pp_call_bytes) */
	/* The calls that pp_doom cancelled in it and that it skipped: they
	 * never ran, and wait for pp_dead, in order. */
	struct pp_task *frozen, **frozen_tail;
	unsigned done;	      /* tasks it has run */
	uint64_t seq;	      /* the next call's number (never reset) */
	/* The first call in calls not yet written, or NULL: all are on the
	 * socket. Changed under the lock, by the completion thread
	 * (pp_plan_calls sets it, pp_send moves it on once a sendmsg has
	 * returned) and by a submitter whose direct write would block or
	 * failed (pp_direct). A
	 * submitter writes to sock only while it is NULL, under the lock:
	 * so calls reach the socket in the order of calls. */
	struct pp_task *unsent;
	/* The pool's end of the socketpair, or -1. Set and closed under the
	 * lock (a submitter writes to it under the lock). */
	int sock;
	/* Only the completion thread touches these (and the destroyer after
	 * it was joined): */
	struct filch__pp_rbuf *rb; /* its replies, read ahead */
	pid_t pid;
	int pidfd; /* or -1; in the epoll set only with FILCH_START_FORK */
	bool live; /* started and its death not yet handled (pp_dead) */
	unsigned epoch; /* counts its starts: tells stale events apart */
};

struct filch_procpool {
	/* The queue, the slots' state and calls (and their unsent and
	 * sock: pp_direct writes there), closing. */
	pthread_mutex_t lock;
	pthread_cond_t started_cv;
	struct pp_task *head, **tail; /* pending tasks, FIFO */
	bool closing, started;
	int start_rc;
	struct filch_procpool_opts o;
	unsigned n;
	struct pp_worker *w;
	/* The calls' marks (procpool.h), FILCH__PP_DEPTH per worker slot,
	 * shared with the workers: a memfd, mapped. */
	struct filch__pp_mark *marks;
	size_t marks_len;
	int marks_fd;
	/* Holds on the pool: the owner's (dropped by
	 * filch_procpool_destroy), one per task not yet freed (pp_task_put),
	 * and one taken by terminate and shutdown while they cancel futures
	 * (whose callbacks may destroy the pool). The last one frees it. */
	_Atomic size_t refs;
	/* The creating process's fork generation (fork.h): a child of
	 * fork() is not it. */
	unsigned owner;
	/* Under the lock: a submission wrote the eventfd and the completion
	 * thread has not planned since (the next submission need not). */
	bool woken;
	int epfd, evfd;
	struct filch__pp_server srv; /* FILCH_START_FORKSERVER */
	/* FILCH_START_SPAWN: the setup frame of a worker (its index set by
	 * the completion thread before each start), else NULL. */
	void *setup;
	size_t setup_len;
	bool server_dead; /* only the completion thread uses it */
	struct filch__pp_spin spin; /* the completion thread's (pp_wait) */
	pthread_t thread;
	pthread_mutex_t join_lock; /* one joiner of thread */
	bool joined;
	/* Counters: each is only ever incremented, read one by one by
	 * filch_procpool_stats; no other memory is published through them
	 * (relaxed). */
	_Atomic uint64_t crashes, timeouts, terminated, spawned;
};

static void pp_free(filch_procpool *pp);

/* Drops one hold on pp; the last frees it. */
static void pp_put(filch_procpool *pp)
{
	/* acq_rel: the last holder sees every other holder's uses of pp (a
	 * pp_on_done's of the marks, the destroyer's join of the completion
	 * thread). */
	if (filch__sub(&pp->refs, 1, acq_rel) == 1)
		pp_free(pp);
}

/* Drops one hold on t; the last frees it, and drops its hold on the
 * pool. */
static void pp_task_put(struct pp_task *t)
{
	/* acq_rel: the last holder sees every other holder's uses of t
	 * (pp_on_done's, the pool's). */
	if (filch__sub(&t->refs, 1, acq_rel) != 1)
		return;
	filch_procpool *pp = t->pp;

	if (t->shm >= 0)
		filch__ppfd_close(t->shm);
	filch_future_release(t->fut);
	free(t);
	pp_put(pp);
}

/* The bytes of t's call on the socket. */
static size_t pp_call_bytes(const struct pp_task *t)
{
	return sizeof(struct filch__pp_call) + t->mod_len +
	       (t->shm >= 0 ? 0 : t->len);
}

/* The mark of call seq of worker slot i. */
static struct filch__pp_mark *pp_mark(filch_procpool *pp, unsigned i,
				      uint64_t seq)
{
	return &pp->marks[(size_t)i * FILCH__PP_DEPTH + seq % FILCH__PP_DEPTH];
}

/* Cancels t's call in its worker unless the worker started it: true if
 * it will never run (now, or already). */
static bool pp_mark_cancel(struct filch__pp_mark *m, uint64_t seq)
{
	uint64_t want = filch__pp_mark_of(seq, FILCH__PP_QUEUED);

	/* acq_rel: pairs with pp_start_call's CAS (procworker.c): exactly
	 * one of the two moves the mark off QUEUED. */
	return filch__cas(&m->state, &want,
			  filch__pp_mark_of(seq, FILCH__PP_CANCELLED), acq_rel,
			  acquire) ||
	       want == filch__pp_mark_of(seq, FILCH__PP_CANCELLED);
}

/* Whether call seq has started in its worker. */
static bool pp_started(struct filch__pp_mark *m, uint64_t seq)
{
	/* acquire: pairs with pp_start_call's release, for m->start. */
	return filch__load(&m->state, acquire) ==
	       filch__pp_mark_of(seq, FILCH__PP_STARTED);
}

/* t's future completed (cb, in the thread that completed it): if that
 * was a cancel (filch_future_cancel) of a call written ahead, the worker
 * must skip it. */
static void pp_on_done(struct filch__callback *node, filch_future *f)
{
	struct pp_task *t = filch__container_of(node, struct pp_task, cb);
	/* The Dekker pattern with pp_plan_calls (atomic.h): our cancel of f
	 * (its state word), this fence, then where; there: where, a fence,
	 * then f's state. One of the two sees the other: we cancel the mark,
	 * or pp_plan_calls sees f cancelled and does. The load is acquire:
	 * it pairs with that store's, for the mark's QUEUED before it. */
	filch__fence_seq_cst();
	uint64_t where = filch__load(&t->where, acquire);

	if (where && filch_future_cancelled(f)) {
		size_t k = (where >> PP_WHERE_SHIFT) - 1;

		pp_mark_cancel(&t->pp->marks[k], where & PP_SEQ_MASK);
	}
	pp_task_put(t);
}

/* epoll_event.data.u64: the kind in the top byte, then 24 bits of the
 * slot's epoch (an event that a batch of epoll_wait still holds for a
 * worker that died and was replaced in the same batch is stale), then the
 * slot. */
enum { EV_WAKE, EV_SOCK, EV_PIDFD, EV_NOTE };
#define EV_EPOCH_MASK 0xffffffu
#define EV(kind, epoch, i)                                    \
	(((uint64_t)(kind) << 56) |                           \
	 ((uint64_t)((epoch) & EV_EPOCH_MASK) << 32) | (uint32_t)(i))

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wake(filch_procpool *pp)
{
	uint64_t one = 1;

	/* The eventfd's counter cannot overflow in practice; a failed write
	 * would mean the pool's own fd is gone. */
	if (write(pp->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		abort();
}

/* ---- the completion thread ---- */

static int pp_epoll_add(filch_procpool *pp, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(pp->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Closes w's socket; under the lock, so that no submitter writes to the
 * descriptor once closed (pp_direct). */
static void pp_close_sock(filch_procpool *pp, struct pp_worker *w)
{
	if (w->sock < 0)
		return;
	if (w->rb)
		filch__pp_rb_close(w->rb);
	epoll_ctl(pp->epfd, EPOLL_CTL_DEL, w->sock, NULL);
	pthread_mutex_lock(&pp->lock);
	filch__ppfd_close(w->sock);
	w->sock = -1;
	pthread_mutex_unlock(&pp->lock);
}

/* Whether the completion thread forks the workers itself (fork, spawn):
 * they are its children, reaped by it through their pidfds. */
static bool pp_forks(const filch_procpool *pp)
{
	return pp->o.start_method != FILCH_START_FORKSERVER;
}

/* Sends SIGKILL to w's worker. Its pid stays valid until we reap it
 * (fork, spawn); with the fork server, which reaps it, through the pidfd
 * that the server made before it could (filch__pp_server_spawn). */
static void pp_kill(filch_procpool *pp, struct pp_worker *w)
{
	if (pp_forks(pp))
		kill(w->pid, SIGKILL);
	else if (w->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
}

/* Ends w's worker, whatever it was doing (the pool's end, or a failed
 * start): kills it, reaps it (with fork; the fork server reaps its own)
 * and closes its descriptors. */
static void pp_discard(filch_procpool *pp, struct pp_worker *w)
{
	if (!w->live)
		return;
	w->live = false;
	pp_kill(pp, w);
	if (pp_forks(pp))
		waitpid(w->pid, NULL, 0);
	pp_close_sock(pp, w);
	if (w->pidfd >= 0) {
		epoll_ctl(pp->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
		filch__ppfd_close(w->pidfd);
		w->pidfd = -1;
	}
}

/* Forks a worker (FILCH_START_FORK): *pid and *sock, the pool's end. */
static int pp_fork(filch_procpool *pp, unsigned i, pid_t *pid, int *sock)
{
	int sv[2], e;

	if ((e = filch__ppfd_socketpair(SOCK_STREAM, sv)) < 0)
		return e;
	pid_t parent = getpid();

	/* Held across the fork: the worker's copy of the record names every
	 * pool descriptor it inherits (this pool's, another's, one that
	 * another thread was making or receiving), and it closes them all
	 * but its socket before it runs anything. */
	filch__ppfd_lock();
	pid_t child = fork();

	if (child == 0) {
		filch__ppfd_child(&sv[1], 1);
		filch__pp_worker_main(&pp->o, i, sv[1], parent,
				      pp->marks + (size_t)i * FILCH__PP_DEPTH);
	}
	e = errno == ENOMEM ? -ENOMEM : -EAGAIN;
	filch__ppfd_unlock();
	filch__ppfd_close(sv[1]);
	if (child < 0) {
		filch__ppfd_close(sv[0]);
		return e;
	}
	*pid = child;
	*sock = sv[0];
	return 0;
}

/* Starts slot i's worker: STARTING. */
static int pp_spawn(filch_procpool *pp, unsigned i)
{
	struct pp_worker *w = &pp->w[i];
	pid_t pid;
	int sock, pidfd = -1;
	int rc;

	if (pp->setup) {
		((struct filch__pp_setup *)pp->setup)->index = i;
		rc = filch__pp_spawn_exec(pp->setup, pp->setup_len,
					  pp->marks_fd, &pid, &sock);
	} else if (pp_forks(pp)) {
		rc = pp_fork(pp, i, &pid, &sock);
	} else {
		rc = pp->server_dead ? -EAGAIN :
				       filch__pp_server_spawn(&pp->srv, i, &pid,
							      &sock, &pidfd);
	}

	if (rc)
		return rc;
	/* Our child (fork, spawn): only we reap it, so its pid is its own
	 * until then. The fork server's child: the server made its pidfd. */
	if (pp_forks(pp)) {
		filch__ppfd_lock();
		pidfd = filch__ppfd_keep((int)syscall(SYS_pidfd_open, pid, 0));
		filch__ppfd_unlock();
		rc = pidfd < 0 ? pidfd : 0;
	}
	if (!rc && !w->rb && !(w->rb = malloc(sizeof(*w->rb))))
		rc = -ENOMEM;
	if (w->rb)
		w->rb->head = w->rb->tail = w->rb->fd_head = w->rb->fd_tail = 0;
	pthread_mutex_lock(&pp->lock);
	*w = (struct pp_worker){ .state = W_STARTING, .pid = pid,
				 .sock = sock, .pidfd = pidfd, .live = true,
				 .epoch = w->epoch + 1, .seq = w->seq,
				 .rb = w->rb, .calls_tail = &w->calls,
				 .frozen_tail = &w->frozen };
	pthread_mutex_unlock(&pp->lock);
	if (!rc)
		rc = pp_epoll_add(pp, sock, EV(EV_SOCK, w->epoch, i));
	if (!rc && pp_forks(pp))
		rc = pp_epoll_add(pp, pidfd, EV(EV_PIDFD, w->epoch, i));
	if (rc) {
		pp_discard(pp, w);
		return rc;
	}
	filch__add(&pp->spawned, 1, relaxed);
	return 0;
}

void filch_bytes_free(struct filch_bytes *b)
{
	if (!b)
		return;
	if (b->data != b + 1) /* a mapping (proctransport.c) */
		filch__pp_shm_unmap(b->data, b->len);
	free(b);
}

static void pp_bytes_free(void *result, void *arg)
{
	(void)arg;
	filch_bytes_free(result);
}

/* Reads one reply from w (through its read-ahead buffer): a struct
 * filch_bytes in *res, its data NUL-terminated (an error message is a
 * string): in the same block, or the mapping of the memfd that came with
 * the header. */
static int pp_read_reply(struct pp_worker *w, int *code,
			 struct filch_bytes **res)
{
	struct filch__pp_reply r;
	int mfd = -1;

	if (w->sock < 0 || filch__pp_rb_read(w->sock, w->rb, &r, sizeof(r)))
		return -EPIPE;
	if (r.shm)
		mfd = filch__pp_rb_fd(w->rb);
	if (r.len > SIZE_MAX - sizeof(struct filch_bytes) - 1 ||
	    (r.shm != 0) != (mfd >= 0)) {
		if (mfd >= 0)
			filch__ppfd_close(mfd);
		return -EPIPE;
	}
	struct filch_bytes *b =
		malloc(sizeof(*b) + (mfd >= 0 ? 0 : r.len + 1));
	const void *map = NULL;

	if (b && mfd >= 0 && !(map = filch__pp_shm_map(mfd, r.len))) {
		free(b);
		b = NULL;
	}
	if (mfd >= 0)
		filch__ppfd_close(mfd);
	if (!b) {
		/* Nowhere to put it: the task fails as if its worker died
		 * (the caller kills it). */
		return -ENOMEM;
	}
	b->len = r.len;
	b->data = map ? (void *)map : b + 1;
	if (!map && filch__pp_rb_read(w->sock, w->rb, b->data, r.len) < 0) {
		free(b);
		return -EPIPE;
	}
	if (!map)
		((char *)b->data)[r.len] = '\0';
	*code = r.code;
	*res = b;
	return 0;
}

/* Completes t's future and drops the pool's hold on t. */
static void pp_complete(struct pp_task *t, int code, struct filch_bytes *b,
			const char *message)
{
	if (code == 0) {
		if (filch_promise_set_result(t->fut, b) != 0)
			filch_bytes_free(b);
	} else {
		filch_promise_set_error(t->fut, code,
					b ? (const char *)b->data : message);
		filch_bytes_free(b);
	}
	pp_task_put(t);
}

/* Under the lock: stops w's worker. The calls it has not started are
 * cancelled in it first, so that none starts before the signal lands:
 * pp_dead queues them again. */
static void pp_doom(filch_procpool *pp, struct pp_worker *w)
{
	if (w->doomed)
		return;
	w->doomed = true;
	for (struct pp_task *t = w->calls; t; t = t->next)
		pp_mark_cancel(pp_mark(pp, (unsigned)(w - pp->w), t->seq),
			       t->seq);
	pp_kill(pp, w);
}

/* Under the lock: the call that w's worker runs, or NULL. It runs in
 * order, skipping the calls cancelled in it: the first call not
 * cancelled, if it started. */
static struct pp_task *pp_running(filch_procpool *pp, struct pp_worker *w)
{
	unsigned i = (unsigned)(w - pp->w);

	for (struct pp_task *t = w->calls; t; t = t->next) {
		struct filch__pp_mark *m = pp_mark(pp, i, t->seq);

		if (pp_started(m, t->seq))
			return t;
		if (filch__load(&m->state, relaxed) !=
		    filch__pp_mark_of(t->seq, FILCH__PP_CANCELLED))
			return NULL;
	}
	return NULL;
}

/* Under the lock: asks the kill of w's worker for call t. */
static void pp_ask_kill(struct pp_worker *w, struct pp_task *t, int why)
{
	if (!w->kill) {
		w->kill = why;
		w->kill_seq = t->seq;
	}
}

/* Under the lock: the reply of the call whose kill w's worker was asked
 * came first (it has left w's calls): no kill, unless terminate asked one
 * for a call behind it too (the kill asked first hid it). */
static void pp_kill_won(struct pp_worker *w)
{
	w->kill = K_NONE;
	for (struct pp_task *c = w->calls; c; c = c->next) {
		if (c->terminate && !c->dropped) {
			pp_ask_kill(w, c, K_TERMINATE);
			break;
		}
	}
}

/* Under the lock: w's first call becomes RUNNING (promoted) unless its
 * future was cancelled meanwhile; then it must not run: cancelled in the
 * worker, or, if the worker started it already, the worker is killed as
 * by filch_procpool_terminate. */
static void pp_promote(filch_procpool *pp, struct pp_worker *w)
{
	struct pp_task *t = w->calls;

	/* A doomed worker starts no call that it has not started: that one
	 * stays PENDING, cancellable, until pp_dead queues it again. */
	if (!t || t->promoted ||
	    (w->doomed && !pp_started(pp_mark(pp, (unsigned)(w - pp->w),
					       t->seq), t->seq)))
		return;
	t->promoted = true;
	if (filch_promise_set_running(t->fut) == -ECANCELED &&
	    !pp_mark_cancel(pp_mark(pp, (unsigned)(w - pp->w), t->seq),
			    t->seq))
		pp_ask_kill(w, t, K_TERMINATE);
}

/* w's socket is readable: its ready frame, or replies, as many as one
 * read brought. Returns false when the socket is closed or had nothing. */
static bool pp_on_sock(filch_procpool *pp, struct pp_worker *w)
{
	int rc = w->sock < 0 ? -EPIPE : filch__pp_rb_fill(w->sock, w->rb, true);
	bool got = rc > 0;

	while (rc >= 0 && w->rb->tail > w->rb->head) {
		struct filch_bytes *b = NULL;
		int code;

		rc = pp_read_reply(w, &code, &b);
		pthread_mutex_lock(&pp->lock);
		if (rc) {
			/* Dying (or its task closed the socket, or we have
			 * no memory for its reply): its death is reported
			 * (pidfd or note); make sure it comes. */
			if (rc == -ENOMEM && w->calls)
				pp_ask_kill(w, w->calls, K_NOMEM);
			pp_doom(pp, w);
			pthread_mutex_unlock(&pp->lock);
			break;
		}
		if (w->state == W_STARTING) {
			w->state = code ? W_FAILED : W_READY;
			pthread_mutex_unlock(&pp->lock);
			free(b);
			continue;
		}
		struct pp_task *t = w->calls;

		if (t) {
			if (!(w->calls = t->next))
				w->calls_tail = &w->calls;
			w->ncalls--;
			w->call_bytes -= pp_call_bytes(t);
		}
		if (code != FILCH__PP_SKIPPED && t) {
			if (w->kill && w->kill_seq == t->seq)
				pp_kill_won(w);
			if (++w->done == pp->o.max_tasks_per_child)
				w->state = W_RETIRING;
		}
		bool frozen = t && code == FILCH__PP_SKIPPED && !t->dropped &&
			      !filch_future_done(t->fut);

		if (frozen) {
			t->next = NULL;
			*w->frozen_tail = t;
			w->frozen_tail = &t->next;
		}
		pp_promote(pp, w);
		pthread_mutex_unlock(&pp->lock);
		if (t && code != FILCH__PP_SKIPPED) {
			pp_complete(t, code, b, NULL);
			continue;
		}
		free(b); /* a ready frame, or a call skipped */
		if (t && !frozen)
			pp_task_put(t); /* cancelled: its future says so */
	}
	if (rc < 0)
		pp_close_sock(pp, w);
	return rc >= 0 && got;
}

static void pp_describe(char *buf, size_t n, pid_t pid, int st, bool reaped)
{
	if (!reaped)
		snprintf(buf, n, "worker process %d died", (int)pid);
	else if (WIFSIGNALED(st))
		snprintf(buf, n, "worker process %d killed by signal %d (SIG%s)",
			 (int)pid, WTERMSIG(st),
			 sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) :
						      "?");
	else
		snprintf(buf, n, "worker process %d exited with status %d",
			 (int)pid, WEXITSTATUS(st));
}

/* The call t of a dead worker that had started it: fails it (why: the
 * kill asked for it, or K_NONE) with wait status st. */
static void pp_fail_started(filch_procpool *pp, struct pp_task *t, int why,
			    pid_t pid, int st, bool reaped)
{
	char msg[160];
	int code = ECHILD;

	if (why == K_TIMEOUT) {
		code = ETIMEDOUT;
		snprintf(msg, sizeof(msg),
			 "time limit of %lld ms exceeded: worker process %d killed",
			 (long long)(pp->o.time_limit_ns / 1000000), (int)pid);
		filch__add(&pp->timeouts, 1, relaxed);
	} else if (why == K_NOMEM) {
		code = ENOMEM;
		snprintf(msg, sizeof(msg),
			 "no memory for the result of worker process %d",
			 (int)pid);
	} else if (why != K_NONE) {
		/* Terminated, or killed by the shutdown: cancelled, as a task
		 * that never ran. */
		filch__add(&pp->terminated, 1, relaxed);
		filch__future_cancel_running(t->fut);
		pp_task_put(t);
		return;
	} else {
		pp_describe(msg, sizeof(msg), pid, st, reaped);
		filch__add(&pp->crashes, 1, relaxed);
	}
	pp_complete(t, code, NULL, msg);
}

/* Slot i's worker died with wait status st (reaped: st is known). Reads
 * the replies it sent before, fails the call it had started (the first
 * one not replied, as it runs them in order) and queues again, first and
 * in their order, those it had not started; closes its descriptors,
 * refills the slot. */
static void pp_dead(filch_procpool *pp, unsigned i, int st, bool reaped)
{
	struct pp_worker *w = &pp->w[i];

	w->live = false;
	while (w->state != W_FAILED && w->state != W_STARTING &&
	       pp_on_sock(pp, w))
		; /* replies sent before dying win */
	pp_close_sock(pp, w);
	if (w->pidfd >= 0) {
		epoll_ctl(pp->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
		filch__ppfd_close(w->pidfd);
		w->pidfd = -1;
	}

	pthread_mutex_lock(&pp->lock);
	*w->frozen_tail = w->calls; /* all that it did not finish, in order */
	struct pp_task *calls = w->frozen, *started = NULL, *gone = NULL;
	struct pp_task *again = NULL, **again_tail = &again;
	int kill = w->kill;
	uint64_t kill_seq = w->kill_seq;
	bool failed = w->state == W_STARTING || w->state == W_FAILED ||
		      pp->server_dead;

	for (struct pp_task *t = calls, *next; t; t = next) {
		struct filch__pp_mark *m = pp_mark(pp, i, t->seq);

		next = t->next;
		t->next = NULL;
		if (t->dropped || filch_future_done(t->fut)) {
			t->next = gone;
			gone = t;
		} else if (pp_started(m, t->seq) ||
			   (kill && kill_seq == t->seq) || t->terminate) {
			/* The one it started (it runs them in order), and
			 * those that terminate stopped while they were
			 * running (promoted): none runs again. */
			t->next = started;
			started = t;
		} else {
			/* Never ran: queued again, pending again (promoted,
			 * it was RUNNING: filch_future_cancel must cancel
			 * it). Under the lock, before a worker can take and
			 * promote it anew. */
			if (t->promoted)
				filch__future_unstart(t->fut);
			filch__store(&t->where, 0, relaxed);
			*again_tail = t;
			again_tail = &t->next;
		}
	}
	if (again) {
		if (!(*again_tail = pp->head))
			pp->tail = again_tail;
		pp->head = again;
	}
	w->calls = w->frozen = NULL;
	w->calls_tail = &w->calls;
	w->frozen_tail = &w->frozen;
	w->ncalls = 0;
	w->call_bytes = 0;
	w->unsent = NULL;
	w->kill = K_NONE;
	/* A closing pool still refills while tasks wait (a WAIT shutdown
	 * runs them all). */
	bool refill = !failed && (!pp->closing || pp->head);

	w->state = failed ? W_FAILED : W_EMPTY;
	pthread_mutex_unlock(&pp->lock);

	while (gone) {
		struct pp_task *t = gone;

		gone = t->next;
		pp_task_put(t);
	}
	while (started) {
		struct pp_task *t = started;

		started = t->next;
		pp_fail_started(pp, t,
				kill && kill_seq == t->seq ? kill :
				t->terminate		   ? K_TERMINATE :
							     K_NONE,
				w->pid, st, reaped);
	}
	if (refill && pp_spawn(pp, i) != 0) {
		pthread_mutex_lock(&pp->lock);
		w->state = W_FAILED;
		pthread_mutex_unlock(&pp->lock);
	}
}

/* Slot i's pidfd is readable (FILCH_START_FORK): reap it. */
static void pp_on_pidfd(filch_procpool *pp, unsigned i)
{
	int st = 0;
	bool reaped = waitpid(pp->w[i].pid, &st, 0) == pp->w[i].pid;

	pp_dead(pp, i, st, reaped);
}

/* The fork server's note socket is readable: a worker was reaped, or the
 * server itself is gone (its workers die with it: every slot fails). */
static void pp_on_note(filch_procpool *pp)
{
	pid_t pid;
	int st;

	if (filch__pp_server_note(&pp->srv, &pid, &st) == 0) {
		for (unsigned i = 0; i < pp->n; i++) {
			if (pp->w[i].live && pp->w[i].pid == pid) {
				pp_dead(pp, i, st, true);
				break;
			}
		}
		return;
	}
	epoll_ctl(pp->epfd, EPOLL_CTL_DEL, pp->srv.note, NULL);
	pp->server_dead = true;
	for (unsigned i = 0; i < pp->n; i++)
		if (pp->w[i].live)
			pp_dead(pp, i, 0, false);
}

struct pp_batch {
	struct pp_task *cancelled; /* lost to filch_future_cancel */
	struct pp_task *orphans;   /* no worker can ever run them */
	bool unsent; /* some worker has calls not yet written (pp_send) */
};

/* Under the lock: whether w takes call t now. A call goes ahead of
 * others only while the calls not replied stay within PP_AHEAD_BYTES:
 * then the socket's buffer holds them and our sendmsg never blocks. (If
 * it could, we would wait on the worker while it waits for us to read a
 * reply: neither would move.) */
#define PP_AHEAD_BYTES ((size_t)32 << 10)
static bool pp_takes(const filch_procpool *pp, const struct pp_worker *w,
		     unsigned level, const struct pp_task *t)
{
	return w->state == W_READY && !w->doomed && w->ncalls <= level &&
	       w->ncalls < FILCH__PP_DEPTH &&
	       (!w->ncalls ||
		w->call_bytes + pp_call_bytes(t) <= PP_AHEAD_BYTES) &&
	       (!pp->o.max_tasks_per_child ||
		w->done + w->ncalls < pp->o.max_tasks_per_child);
}

/* Under the lock: appends t to w's calls, to be written next, with its
 * call's number and its mark QUEUED. */
static void pp_assign(filch_procpool *pp, struct pp_worker *w,
		      struct pp_task *t)
{
	unsigned i = (unsigned)(w - pp->w);

	t->seq = w->seq++;
	t->promoted = false;
	/* release: the worker's acquire CAS (pp_start_call) reads it after
	 * the call, which follows. */
	filch__store(&pp_mark(pp, i, t->seq)->state,
		     filch__pp_mark_of(t->seq, FILCH__PP_QUEUED), release);
	/* The Dekker pattern with pp_on_done (see there): where, the fence,
	 * then the future's state. The store is release: pp_on_done's
	 * acquire load of where then sees the QUEUED stored above. */
	filch__store(&t->where,
		     ((uint64_t)i * FILCH__PP_DEPTH + t->seq % FILCH__PP_DEPTH +
		      1) << PP_WHERE_SHIFT |
			     (t->seq & PP_SEQ_MASK),
		     release);
	filch__fence_seq_cst();
	if (filch_future_done(t->fut)) /* cancelled since */
		pp_mark_cancel(pp_mark(pp, i, t->seq), t->seq);
	*w->calls_tail = t;
	w->calls_tail = &t->next;
	w->ncalls++;
	w->call_bytes += pp_call_bytes(t);
	pp_promote(pp, w);
}

/* Under the lock: hands pending tasks to the workers, the least loaded
 * first (one more call to each worker with at most level calls, level
 * by level), marking each call QUEUED. */
static void pp_plan_calls(filch_procpool *pp, struct pp_batch *bt)
{
	for (unsigned level = 0; level < FILCH__PP_DEPTH && pp->head; level++) {
		for (unsigned i = 0; i < pp->n && pp->head; i++) {
			struct pp_worker *w = &pp->w[i];
			struct pp_task *t = pp->head;

			if (!pp_takes(pp, w, level, t))
				continue;
			if (!(pp->head = t->next))
				pp->tail = &pp->head;
			t->next = NULL;
			if (filch_future_done(t->fut)) {
				t->next = bt->cancelled;
				bt->cancelled = t;
				i--; /* the same worker, the next task */
				continue;
			}
			pp_assign(pp, w, t);
			if (!w->unsent)
				w->unsent = t;
		}
	}
}

/* Under the lock: hands pending tasks to the workers, asks the kills,
 * and says how long epoll may sleep (-1: no deadline). Returns false when
 * the loop is over (closing, nothing pending or running). */
static bool pp_plan(filch_procpool *pp, struct pp_batch *bt, int *timeout)
{
	int64_t now = pp->o.time_limit_ns ? now_ns() : 0;
	int64_t next = INT64_MAX;
	bool busy = false, live = false;

	pp->woken = false;
	pp_plan_calls(pp, bt);
	for (unsigned i = 0; i < pp->n; i++) {
		struct pp_worker *w = &pp->w[i];

		live |= w->state != W_FAILED;
		bt->unsent |= w->unsent != NULL;
		/* Calls a dying worker skipped wait for its death (pp_dead):
		 * a closing pool must not stop before it. */
		busy |= w->frozen != NULL;
		if (!w->calls)
			continue;
		busy = true;
		struct pp_task *t = pp->o.time_limit_ns ? pp_running(pp, w) :
							   NULL;

		if (t) {
			int64_t end = filch__load(&pp_mark(pp, i, t->seq)->start,
						  relaxed) +
				      pp->o.time_limit_ns;

			if (end <= now)
				pp_ask_kill(w, t, K_TIMEOUT);
			else if (end < next)
				next = end;
		} else if (pp->o.time_limit_ns && now + pp->o.time_limit_ns <
							  next) {
			/* Not started yet: look again by then. */
			next = now + pp->o.time_limit_ns;
		}
		if (w->kill)
			pp_doom(pp, w);
	}
	if (!live) {
		/* Every slot failed to start: nothing will run these. */
		struct pp_task **end = &pp->head;

		while (*end)
			end = &(*end)->next;
		*end = bt->orphans;
		bt->orphans = pp->head;
		pp->head = NULL;
		pp->tail = &pp->head;
	}
	*timeout = -1;
	if (next != INT64_MAX) {
		int64_t ms = (next - now + 999999) / 1000000;

		*timeout = ms > INT_MAX ? INT_MAX : (int)ms;
	}
	return !(pp->closing && !pp->head && !busy);
}

/* t's call frame: its header in *c, then c and t's bytes on the socket
 * (the module's name and an inline argument follow each other in
 * t->data) in iov[0] and iov[1]. */
static void pp_frame(const struct pp_task *t, struct filch__pp_call *c,
		     struct iovec *iov)
{
	*c = (struct filch__pp_call){ .fn = t->fn, .len = t->len,
				      .mod_len = t->mod_len,
				      .shm = t->shm >= 0, .seq = t->seq };
	iov[0] = (struct iovec){ c, sizeof(*c) };
	iov[1] = (struct iovec){ (void *)t->data,
				 t->mod_len + (c->shm ? 0 : t->len) };
}

/* Writes w's calls not yet written: the plain ones together, in one
 * sendmsg for up to PP_SEND_CALLS calls; a call with its argument in a
 * memfd alone, with the memfd attached. */
#define PP_SEND_CALLS 16
static void pp_send(filch_procpool *pp, struct pp_worker *w)
{
	for (;;) {
		struct filch__pp_call c[PP_SEND_CALLS];
		struct iovec iov[2 * PP_SEND_CALLS];
		int n = 0, fd;

		/* Under the lock, as a submitter appends to w->calls (only
		 * while unsent is NULL, so not behind t: the calls read here
		 * stay the next ones to write). */
		pthread_mutex_lock(&pp->lock);
		struct pp_task *t = w->unsent;

		if (!t) {
			pthread_mutex_unlock(&pp->lock);
			return;
		}
		fd = t->shm;
		do {
			pp_frame(t, &c[n], &iov[2 * n]);
			n++;
			t = t->next;
		} while (t && fd < 0 && t->shm < 0 && n < PP_SEND_CALLS);
		pthread_mutex_unlock(&pp->lock);
		/* A worker that dies meanwhile fails the write; its death
		 * then fails or queues again its calls. Only we write to the
		 * socket while unsent is not NULL: not under the lock. */
		int rc = w->sock < 0 ? -EPIPE :
				       filch__pp_send_fd(w->sock, iov, 2 * n, fd);

		pthread_mutex_lock(&pp->lock);
		w->unsent = t;
		if (rc) {
			pp_doom(pp, w);
			w->unsent = NULL;
		}
		pthread_mutex_unlock(&pp->lock);
	}
}

/* Under the lock, nothing queued (pp->head NULL, so no task is before
 * t): writes t's call straight into the least loaded worker that takes
 * it (pp_takes) and whose calls are all written (unsent NULL), if t's
 * argument is inline and its frame within PP_AHEAD_BYTES. False if no
 * worker takes it: queue it. Else t is among that worker's calls; a
 * sendmsg that would block leaves it for pp_send: then, and with a time
 * limit (the next deadline is the completion thread's), *wake is set. A
 * write that the socket took in part is finished blocking, as pp_send's
 * would be: the calls not replied stay within PP_AHEAD_BYTES, which the
 * socket's buffer holds. A write that fails (the worker is gone) is left
 * for pp_send too: its write fails as well (the peer closed), and it
 * dooms the worker, whose death queues t again. */
static bool pp_direct(filch_procpool *pp, struct pp_task *t, bool *wake)
{
	struct pp_worker *w = NULL;

	if (t->shm >= 0 || pp_call_bytes(t) > PP_AHEAD_BYTES)
		return false;
	for (unsigned i = 0; i < pp->n && !(w && !w->ncalls); i++) {
		struct pp_worker *c = &pp->w[i];

		if (c->sock >= 0 && !c->unsent &&
		    pp_takes(pp, c, FILCH__PP_DEPTH, t) &&
		    (!w || c->ncalls < w->ncalls))
			w = c;
	}
	if (!w)
		return false;
	pp_assign(pp, w, t);

	struct filch__pp_call c;
	struct iovec iov[2];
	ssize_t r;

	pp_frame(t, &c, iov);
	do
		r = sendmsg(w->sock,
			    &(struct msghdr){ .msg_iov = iov, .msg_iovlen = 2 },
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	bool later = r <= 0 ||
		     filch__pp_send_rest(w->sock, iov, 2, (size_t)r) < 0;

	if (later)
		w->unsent = t;
	*wake = later || pp->o.time_limit_ns;
	return true;
}

static void pp_drop(struct pp_task *list, const char *message)
{
	while (list) {
		struct pp_task *t = list;

		list = t->next;
		if (message)
			pp_complete(t, ECHILD, NULL, message);
		else
			pp_task_put(t);
	}
}

/* epoll_wait for pp's events, into ev (n at most), polling first for
 * up to spin_ns when the last wait was that short (procspin.c). A time
 * limit's deadline may then pass by up to spin_ns before its kill. */
static int pp_wait(filch_procpool *pp, struct epoll_event *ev, int n,
		   int timeout)
{
	int64_t until = timeout ? filch__pp_spin_begin(&pp->spin) : 0;
	int got = 0;

	while (!got && filch__pp_spin_on(until))
		got = epoll_wait(pp->epfd, ev, n, 0);
	if (!got)
		got = epoll_wait(pp->epfd, ev, n, timeout);
	if (got > 0 && timeout)
		filch__pp_spin_end(&pp->spin);
	return got;
}

static void pp_loop(filch_procpool *pp)
{
	for (;;) {
		struct pp_batch bt = { 0 };
		struct epoll_event ev[16];
		int timeout;

		pthread_mutex_lock(&pp->lock);
		bool more = pp_plan(pp, &bt, &timeout);

		pthread_mutex_unlock(&pp->lock);
		pp_drop(bt.cancelled, NULL);
		pp_drop(bt.orphans, "no worker process could start");
		for (unsigned i = 0; bt.unsent && i < pp->n; i++)
			pp_send(pp, &pp->w[i]);
		if (!more)
			return;
		int n = pp_wait(pp, ev, 16, timeout);

		for (int k = 0; k < n; k++) {
			uint64_t d = ev[k].data.u64, cnt;
			unsigned kind = (unsigned)(d >> 56);
			unsigned i = (uint32_t)d;
			bool stale = (kind == EV_SOCK || kind == EV_PIDFD) &&
				     ((d >> 32) & EV_EPOCH_MASK) !=
					     (pp->w[i].epoch & EV_EPOCH_MASK);

			if (kind == EV_WAKE) {
				if (read(pp->evfd, &cnt, sizeof(cnt)) < 0 &&
				    errno != EAGAIN)
					abort();
			} else if (stale) {
				continue;
			} else if (kind == EV_SOCK && pp->w[i].sock >= 0) {
				pp_on_sock(pp, &pp->w[i]);
			} else if (kind == EV_PIDFD && pp->w[i].pidfd >= 0) {
				pp_on_pidfd(pp, i);
			} else if (kind == EV_NOTE && !pp->server_dead) {
				pp_on_note(pp);
			}
		}
	}
}

/* Waits for each starting worker's ready frame; the first failure's code
 * (made negative) or 0. */
static int pp_start(filch_procpool *pp)
{
	int rc = 0;

	if (!pp_forks(pp)) {
		rc = filch__pp_server_start(&pp->srv, &pp->o, pp->marks);
		if (!rc)
			rc = pp_epoll_add(pp, pp->srv.note, EV(EV_NOTE, 0, 0));
	}
	for (unsigned i = 0; i < pp->n && !rc; i++)
		rc = pp_spawn(pp, i);
	for (unsigned i = 0; i < pp->n && !rc; i++) {
		struct filch_bytes *b = NULL;
		int code;

		if (pp_read_reply(&pp->w[i], &code, &b) < 0)
			rc = -ECHILD;
		else if (code)
			rc = code > 0 ? -code : code;
		free(b);
		pthread_mutex_lock(&pp->lock);
		pp->w[i].state = W_READY;
		pthread_mutex_unlock(&pp->lock);
	}
	return rc;
}

static void *pp_main(void *arg)
{
	filch_procpool *pp = arg;
	int rc = pp_start(pp);

	pthread_mutex_lock(&pp->lock);
	pp->start_rc = rc;
	pp->started = true;
	pthread_cond_broadcast(&pp->started_cv);
	pthread_mutex_unlock(&pp->lock);
	if (!rc)
		pp_loop(pp);
	for (unsigned i = 0; i < pp->n; i++)
		pp_discard(pp, &pp->w[i]);
	if (pp->srv.pid > 0) {
		epoll_ctl(pp->epfd, EPOLL_CTL_DEL, pp->srv.note, NULL);
		filch__pp_server_stop(&pp->srv);
	}
	return NULL;
}

/* ---- the API ---- */

static void pp_free(filch_procpool *pp)
{
	if (pp->epfd >= 0)
		filch__ppfd_close(pp->epfd);
	if (pp->evfd >= 0)
		filch__ppfd_close(pp->evfd);
	pthread_mutex_destroy(&pp->lock);
	pthread_mutex_destroy(&pp->join_lock);
	pthread_cond_destroy(&pp->started_cv);
	for (unsigned i = 0; pp->w && i < pp->n; i++)
		free(pp->w[i].rb);
	if (pp->marks)
		munmap(pp->marks, pp->marks_len);
	if (pp->marks_fd >= 0)
		filch__ppfd_close(pp->marks_fd);
	free(pp->w);
	free(pp->setup);
	free(pp);
}

/* FILCH_START_SPAWN: the setup frame (procpool.h) of o: the initializer
 * as a module and an offset, its argument too when it points into a
 * module (else as its value). 0, -EINVAL (an initializer in no module),
 * -ENAMETOOLONG, -ENOMEM. */
static int pp_setup_build(filch_procpool *pp)
{
	char init[FILCH__PP_MAX_NAME], arg[FILCH__PP_MAX_NAME];
	struct filch__pp_setup s = {
		.max_tasks_per_child = pp->o.max_tasks_per_child,
		.memory_limit = pp->o.memory_limit,
		.arg = (uintptr_t)pp->o.initializer_arg,
		.spin_ns = pp->o.spin_ns,
	};
	int n;

	if (pp->o.initializer) {
		n = filch__pp_locate((const void *)(uintptr_t)pp->o.initializer,
				     init, sizeof(init), &s.init_off);
		if (n < 0)
			return n;
		s.init_len = (uint32_t)n;
	}
	n = filch__pp_locate(pp->o.initializer_arg, arg, sizeof(arg), &s.arg);
	if (n == -ENAMETOOLONG)
		return n;
	if (n > 0)
		s.arg_len = (uint32_t)n;
	else
		s.arg = (uintptr_t)pp->o.initializer_arg;
	pp->setup_len = sizeof(s) + s.init_len + s.arg_len;
	unsigned char *p = pp->setup = malloc(pp->setup_len);

	if (!p)
		return -ENOMEM;
	memcpy(p, &s, sizeof(s));
	memcpy(p + sizeof(s), init, s.init_len);
	memcpy(p + sizeof(s) + s.init_len, arg, s.arg_len);
	return 0;
}

/* The marks of the calls (procpool.h): a memfd (passed to spawned
 * workers), mapped shared (inherited by forked ones). */
static int pp_marks_make(filch_procpool *pp)
{
	pp->marks_len = (size_t)pp->n * FILCH__PP_DEPTH * sizeof(*pp->marks);
	filch__ppfd_lock();
	pp->marks_fd = filch__ppfd_keep(
		memfd_create(FILCH__PP_MEMFD_PREFIX "marks", MFD_CLOEXEC));
	filch__ppfd_unlock();
	if (pp->marks_fd < 0)
		return pp->marks_fd;
	if (ftruncate(pp->marks_fd, (off_t)pp->marks_len) != 0)
		return -errno;
	void *p = mmap(NULL, pp->marks_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       pp->marks_fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	pp->marks = p;
	return 0;
}

static unsigned pp_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set))
		return (unsigned)CPU_COUNT(&set);
	return 1;
}

int filch_procpool_create(filch_procpool **out,
			  const struct filch_procpool_opts *opts)
{
	struct filch_procpool_opts o = { 0 };

	/* The fields of the first version, then those that a flag says are
	 * there (an older program's struct ends before them). */
	if (opts)
		memcpy(&o, opts, offsetof(struct filch_procpool_opts, spin_ns));
	o.spin_ns = PP_SPIN_NS;
	if (o.flags & FILCH_PROCPOOL_OPT_SPIN)
		o.spin_ns = opts->spin_ns;
	if (!out || (o.flags & ~FILCH_PROCPOOL_OPT_SPIN) ||
	    (o.start_method != FILCH_START_FORKSERVER &&
	     o.start_method != FILCH_START_FORK &&
	     o.start_method != FILCH_START_SPAWN) ||
	    o.workers > PP_MAX_WORKERS || o.time_limit_ns < 0 ||
	    o.spin_ns < 0 || o.spin_ns > PP_SPIN_MAX_NS)
		return -EINVAL;
	if (!o.workers)
		o.workers = pp_cpus();
	if (o.workers > PP_MAX_WORKERS)
		o.workers = PP_MAX_WORKERS;

	filch_procpool *pp = calloc(1, sizeof(*pp));

	if (!pp)
		return -ENOMEM;
	pp->o = o;
	pp->n = o.workers;
	filch__store(&pp->refs, 1, relaxed); /* the owner's */
	pp->tail = &pp->head;
	filch__pp_spin_init(&pp->spin, o.spin_ns);
	filch__fork_init();
	pp->owner = filch__fork_generation;
	pthread_mutex_init(&pp->lock, NULL);
	pthread_mutex_init(&pp->join_lock, NULL);
	pthread_cond_init(&pp->started_cv, NULL);
	pp->w = calloc(pp->n, sizeof(*pp->w));
	pp->marks_fd = -1;
	filch__ppfd_lock();
	pp->epfd = filch__ppfd_keep(epoll_create1(EPOLL_CLOEXEC));
	pp->evfd = filch__ppfd_keep(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	filch__ppfd_unlock();
	int rc = 0;

	if (!pp->w)
		rc = -ENOMEM;
	else if (pp->epfd < 0 || pp->evfd < 0)
		rc = pp->epfd < 0 ? pp->epfd : pp->evfd;
	else
		rc = pp_epoll_add(pp, pp->evfd, EV(EV_WAKE, 0, 0));
	if (!rc)
		rc = pp_marks_make(pp);
	if (!rc && o.start_method == FILCH_START_SPAWN)
		rc = pp_setup_build(pp);
	for (unsigned i = 0; !rc && i < pp->n; i++)
		pp->w[i].sock = pp->w[i].pidfd = -1;
	pp->srv.req = pp->srv.note = -1;
	if (rc) {
		pp_free(pp);
		return rc;
	}

	/* The completion thread takes no signal meant for the program; its
	 * workers reset their mask (pp_worker_main). */
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&pp->thread, NULL, pp_main, pp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pp_free(pp);
		return rc == -ENOMEM ? -ENOMEM : -EAGAIN;
	}
	pthread_mutex_lock(&pp->lock);
	while (!pp->started)
		pthread_cond_wait(&pp->started_cv, &pp->lock);
	rc = pp->start_rc;
	pthread_mutex_unlock(&pp->lock);
	if (rc) {
		pthread_join(pp->thread, NULL);
		pp_free(pp);
		return rc;
	}
	*out = pp;
	return 0;
}

static bool pp_foreign(const filch_procpool *pp)
{
	return filch__fork_generation != pp->owner;
}

int filch_procpool_submit(filch_procpool *pp, filch_proc_fn fn,
			  const void *arg, size_t len, filch_future **fut)
{
	if (!pp || !fn || !fut || (!arg && len))
		return -EINVAL;
	if (pp_foreign(pp))
		return -EOWNERDEAD;
	char mod[FILCH__PP_MAX_NAME];
	uint64_t off = (uintptr_t)fn;
	int mod_len = 0;

	if (filch__pp_spawns(pp) &&
	    (mod_len = filch__pp_locate((const void *)(uintptr_t)fn, mod,
					sizeof(mod), &off)) < 0)
		return mod_len; /* fn is in no module: no exec'd worker has it */
	/* A large argument goes into a sealed memfd that the worker maps:
	 * one copy, none through the socket. */
	int shm = -1;

	if (len >= FILCH_PROCPOOL_SHM_MIN &&
	    (shm = filch__pp_shm_make(arg, len)) < 0)
		return shm == -EMFILE || shm == -ENFILE ? shm : -ENOMEM;
	size_t inline_len = shm >= 0 ? 0 : len;
	struct pp_task *t =
		inline_len > SIZE_MAX - sizeof(*t) - (size_t)mod_len ?
			NULL :
			malloc(sizeof(*t) + (size_t)mod_len + inline_len);
	filch_future *f = NULL;

	if (!t || filch_promise_create(&f) != 0) {
		if (shm >= 0)
			filch__ppfd_close(shm);
		free(t);
		return -ENOMEM;
	}
	filch_future_set_result_dtor(f, pp_bytes_free, NULL);
	t->next = NULL;
	t->fut = f;
	t->pp = pp;
	filch__store(&t->refs, 2, relaxed);
	filch__store(&t->where, 0, relaxed);
	t->cb.fn = pp_on_done;
	t->promoted = t->dropped = t->terminate = false;
	t->fn = off;
	t->len = len;
	t->shm = shm;
	t->mod_len = (uint32_t)mod_len;
	memcpy(t->data, mod, (size_t)mod_len);
	if (inline_len)
		memcpy(t->data + mod_len, arg, inline_len);
	filch_future_retain(f); /* the caller's */

	pthread_mutex_lock(&pp->lock);
	bool closing = pp->closing, woken = pp->woken, need = true;

	if (!closing) {
		filch__add(&pp->refs, 1, relaxed); /* the task's */
		filch__future_add_callback(f, &t->cb);
		if (pp->head || !pp_direct(pp, t, &need)) {
			*pp->tail = t;
			pp->tail = &t->next;
		}
		pp->woken |= need;
	}
	pthread_mutex_unlock(&pp->lock);
	if (closing) {
		if (shm >= 0)
			filch__ppfd_close(shm);
		filch_future_release(f);
		filch_future_release(f);
		free(t);
		return -ESHUTDOWN;
	}
	/* The completion thread plans (under the lock) after it reads the
	 * eventfd: a wake written since its last plan brings it to this
	 * task too. */
	if (need && !woken)
		wake(pp);
	*fut = f;
	return 0;
}

/* Under the lock: drops t, a call that never ran and never will, and
 * holds it once more, on *list, for the caller to cancel its future
 * (pp_cancel_list) after the lock. */
static void pp_call_drop(struct pp_task *t, struct pp_task **list)
{
	t->dropped = true;
	filch__add(&t->refs, 1, relaxed);
	t->link = *list;
	*list = t;
}

/* Under the lock: cancels in its worker call t, not started, of worker
 * slot i, for terminate or shutdown: true if it will never run; then t is
 * dropped (pp_call_drop). */
static bool pp_call_cancel(filch_procpool *pp, unsigned i, struct pp_task *t,
			   struct pp_task **list)
{
	if (t->dropped || filch_future_done(t->fut) ||
	    !pp_mark_cancel(pp_mark(pp, i, t->seq), t->seq))
		return false;
	pp_call_drop(t, list);
	return true;
}

/* Under the lock: drops (pp_call_drop) the calls of w that its worker
 * skipped as it was dying (frozen: they never ran, and wait for its death
 * to be queued again), those of future f only unless f is NULL. Whether
 * it dropped one. */
static bool pp_frozen_drop(struct pp_worker *w, filch_future *f,
			   struct pp_task **list)
{
	bool any = false;

	for (struct pp_task *c = w->frozen; c; c = c->next) {
		if ((!f || c->fut == f) && !c->dropped &&
		    !filch_future_done(c->fut)) {
			pp_call_drop(c, list);
			any = true;
		}
	}
	return any;
}

/* Cancels the futures of the calls that pp_call_cancel took. */
static void pp_cancel_list(struct pp_task *list)
{
	while (list) {
		struct pp_task *t = list;

		list = t->link;
		filch__future_cancel_running(t->fut);
		pp_task_put(t);
	}
}

int filch_procpool_terminate(filch_procpool *pp, filch_future *f)
{
	if (!pp || !f)
		return -EINVAL;
	if (pp_foreign(pp))
		return -EOWNERDEAD;
	struct pp_task *t = NULL, *cancel = NULL;
	bool kill = false;
	int rc = -ESRCH;

	pthread_mutex_lock(&pp->lock);
	for (struct pp_task **p = &pp->head; *p; p = &(*p)->next) {
		if ((*p)->fut == f) {
			t = *p;
			if (!(*p = t->next))
				pp->tail = p;
			break;
		}
	}
	for (unsigned i = 0; !t && rc && i < pp->n; i++) {
		struct pp_worker *w = &pp->w[i];

		if (pp_frozen_drop(w, f, &cancel))
			rc = 0;
		for (struct pp_task *c = w->calls; c && rc; c = c->next) {
			if (c->fut != f || c->dropped)
				continue;
			/* Pending (written ahead, not started): cancelled in
			 * the worker, which lives on. Running (promoted, or
			 * started already): the worker is killed; but if it
			 * is dying already (doomed: its calls not started are
			 * cancelled in it), a promoted call that it did not
			 * start never runs there, and is cancelled here
			 * rather than queued again at its death. */
			if ((!c->promoted || w->doomed) &&
			    pp_call_cancel(pp, i, c, &cancel)) {
				rc = 0;
			} else if (!filch_future_done(f)) {
				c->terminate = true;
				pp_ask_kill(w, c, K_TERMINATE);
				kill = true;
				rc = 0;
			}
		}
	}
	if (kill)
		wake(pp);
	/* The futures' callbacks may destroy the pool: hold it until we
	 * are done with it. */
	filch__add(&pp->refs, 1, relaxed);
	pthread_mutex_unlock(&pp->lock);
	if (t) {
		filch__future_cancel_running(f);
		pp_task_put(t);
		rc = 0;
	}
	pp_cancel_list(cancel);
	pp_put(pp);
	return rc;
}

int filch_procpool_shutdown(filch_procpool *pp, unsigned flags)
{
	if (!pp || (flags & ~(FILCH_SHUTDOWN_WAIT |
			      FILCH_SHUTDOWN_CANCEL_PENDING |
			      FILCH_PROCPOOL_KILL)))
		return -EINVAL;
	if (pp_foreign(pp))
		return -EOWNERDEAD;
	struct pp_task *dropped = NULL, *cancel = NULL;

	pthread_mutex_lock(&pp->lock);
	pp->closing = true;
	if (flags & FILCH_SHUTDOWN_CANCEL_PENDING) {
		dropped = pp->head;
		pp->head = NULL;
		pp->tail = &pp->head;
	}
	for (unsigned i = 0; i < pp->n; i++) {
		struct pp_worker *w = &pp->w[i];
		/* Its running call: the one it started, or the one promoted
		 * that it starts next. */
		struct pp_task *run = pp_running(pp, w);

		if (!run && w->calls && w->calls->promoted)
			run = w->calls;
		for (struct pp_task *c = w->calls;
		     (flags & FILCH_SHUTDOWN_CANCEL_PENDING) && c; c = c->next)
			if (c != run)
				pp_call_cancel(pp, i, c, &cancel);
		if (flags & FILCH_SHUTDOWN_CANCEL_PENDING)
			pp_frozen_drop(w, NULL, &cancel);
		if ((flags & FILCH_PROCPOOL_KILL) && run)
			pp_ask_kill(w, run, K_SHUTDOWN);
	}
	/* As in terminate: the callbacks of the futures cancelled here may
	 * destroy the pool. */
	filch__add(&pp->refs, 1, relaxed);
	pthread_mutex_unlock(&pp->lock);
	wake(pp);
	pp_cancel_list(cancel);
	while (dropped) {
		struct pp_task *t = dropped;

		dropped = t->next;
		filch__future_cancel_running(t->fut); /* as in terminate */
		pp_task_put(t);
	}
	int rc = 0;

	if ((flags & FILCH_SHUTDOWN_WAIT) &&
	    pthread_equal(pthread_self(), pp->thread)) {
		rc = -EDEADLK;
	} else if (flags & FILCH_SHUTDOWN_WAIT) {
		pthread_mutex_lock(&pp->join_lock);
		if (!pp->joined) {
			pthread_join(pp->thread, NULL);
			pp->joined = true;
		}
		pthread_mutex_unlock(&pp->join_lock);
	}
	pp_put(pp);
	return rc;
}

int filch_procpool_destroy(filch_procpool *pp)
{
	if (!pp)
		return 0;
	if (pthread_equal(pthread_self(), pp->thread))
		return -EDEADLK;
	int rc = filch_procpool_shutdown(pp, FILCH_SHUTDOWN_WAIT);

	if (rc)
		return rc;
	/* The tasks not yet freed (a cancel in another thread may still be
	 * in pp_on_done, on the marks; or this runs in a callback of a
	 * future that terminate or shutdown is cancelling) free the pool
	 * with the last of them. */
	pp_put(pp);
	return 0;
}

unsigned filch__pp_workers(const filch_procpool *pp)
{
	return pp->n;
}

bool filch__pp_spawns(const filch_procpool *pp)
{
	return pp->setup != NULL;
}

int filch_procpool_stats(const filch_procpool *pp,
			 struct filch_procpool_stats *st)
{
	if (!pp || !st)
		return -EINVAL;
	st->crashes = filch__load(&pp->crashes, relaxed);
	st->timeouts = filch__load(&pp->timeouts, relaxed);
	st->terminated = filch__load(&pp->terminated, relaxed);
	st->started = filch__load(&pp->spawned, relaxed);
	return 0;
}
