/* SPDX-License-Identifier: MIT */
/*
 * procworker.c - the worker process of a process pool: after its fork it
 * sets itself to die with its parent, takes the default action of the
 * fault signals (so that a crash ends it with the signal that names it),
 * applies the memory limit, runs the initializer and sends its ready
 * frame, then reads calls and writes replies on its socket until the pool
 * closes it (polling for the next call a while before it sleeps, when
 * calls came close together: procspin.c). It leaves with _exit: the program's atexit handlers belong to
 * the pool's owner.
 *
 * The pool writes up to FILCH__PP_DEPTH calls ahead: one recvmsg takes
 * as many as came (a struct filch__pp_rbuf), and the calls run in order,
 * each started through its mark (procpool.h) so that the pool knows
 * which one a crash interrupted, and can cancel one not yet started.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"

#include "procfds.h"
#include "procpool.h"

/* An error message is cut at this many bytes. */
#define PP_MAX_MESSAGE 4095

/* Sends a reply: its bytes in a sealed memfd when they are a result of
 * FILCH_PROCPOOL_SHM_MIN bytes or more (streamed if the memfd cannot be
 * made), else after the header. */
static int pp_reply(int fd, int code, void *data, size_t len)
{
	struct filch__pp_reply r = { .code = code, .len = len };
	int mfd = -1;

	if (!code && len >= FILCH_PROCPOOL_SHM_MIN &&
	    (mfd = filch__pp_shm_make(data, len)) >= 0)
		r.shm = 1;
	struct iovec iov[2] = { { &r, sizeof(r) }, { data, r.shm ? 0 : len } };
	int rc = filch__pp_send_fd(fd, iov, 2, mfd);

	if (mfd >= 0)
		filch__ppfd_close(mfd);
	return rc;
}

/* Reads a call from rb: its header into *c, its module name into mod,
 * and its argument, mapped (*mapped) or in a malloc'd block; NULL when
 * there is no memory for it. Exits when the pool closed the socket
 * (status 0) or the frame is broken (1). */
static void *pp_read_call(int fd, struct filch__pp_rbuf *rb,
			  struct filch__pp_call *c,
			  char mod[FILCH__PP_MAX_NAME], bool *mapped)
{
	void *arg;
	int mfd = -1;

	if (filch__pp_rb_read(fd, rb, c, sizeof(*c)) < 0)
		_exit(0); /* the pool closed our socket */
	if (c->shm)
		mfd = filch__pp_rb_fd(rb);
	if (c->mod_len > FILCH__PP_MAX_NAME || (c->shm != 0) != (mfd >= 0) ||
	    filch__pp_rb_read(fd, rb, mod, c->mod_len) < 0 ||
	    (c->mod_len && mod[c->mod_len - 1]))
		_exit(1);
	*mapped = c->shm;
	if (c->shm) {
		arg = (void *)filch__pp_shm_map(mfd, c->len);
		filch__ppfd_close(mfd);
	} else if ((arg = malloc(c->len ? c->len : 1)) &&
		   filch__pp_rb_read(fd, rb, arg, c->len) < 0) {
		_exit(1);
	}
	return arg;
}

/* Waits for the next call's first bytes in rb, which holds none: polls
 * the socket while spin says so (procspin.c), then blocks. Exits when
 * the pool closed the socket. */
static void pp_await_call(int fd, struct filch__pp_rbuf *rb,
			  struct filch__pp_spin *spin)
{
	int64_t until = filch__pp_spin_begin(spin);
	int got = 0;

	while (!got && filch__pp_spin_on(until))
		got = filch__pp_rb_fill(fd, rb, true);
	if (!got)
		got = filch__pp_rb_fill(fd, rb, false);
	if (got < 0)
		_exit(0); /* the pool closed our socket */
	filch__pp_spin_end(spin);
}

/* Starts call seq unless the pool cancelled it: true to run it. */
static bool pp_start_call(struct filch__pp_mark *ring, uint64_t seq)
{
	struct filch__pp_mark *m = &ring[seq % FILCH__PP_DEPTH];
	uint64_t want = filch__pp_mark_of(seq, FILCH__PP_QUEUED);
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	filch__store(&m->start, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
		     relaxed);
	/* acq_rel: release publishes start to the pool's acquire load of
	 * the mark (pp_started); acquire pairs with pp_assign's release store
	 * of QUEUED. Loses to pp_mark_cancel's CAS when that came first. */
	return filch__cas(&m->state, &want,
			  filch__pp_mark_of(seq, FILCH__PP_STARTED), acq_rel,
			  acquire);
}

void filch__pp_worker_main(const struct filch_procpool_opts *o, unsigned self,
			   int fd, pid_t parent, struct filch__pp_mark *ring)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL,
				      SIGABRT, SIGSYS, SIGTRAP };
	sigset_t none;

	/* Die with the thread that forked us, and if the parent died
	 * before the prctl, now. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		signal(faults[i], SIG_DFL);
	/* The forking thread blocks every signal; a worker blocks none. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (o->memory_limit) {
		struct rlimit rl = { o->memory_limit, o->memory_limit };

		setrlimit(RLIMIT_AS, &rl);
	}
	int rc = o->initializer ? o->initializer(o->initializer_arg, self) : 0;
	struct filch__pp_rbuf *rb = calloc(1, sizeof(*rb));
	struct filch__pp_spin spin;

	filch__pp_spin_init(&spin, o->spin_ns);
	if (!rb || pp_reply(fd, rc, NULL, 0) < 0 || rc)
		_exit(1);
	for (unsigned done = 0;;) {
		struct filch__pp_call c;
		char mod[FILCH__PP_MAX_NAME];
		bool mapped;

		if (rb->tail == rb->head) /* no call read ahead */
			pp_await_call(fd, rb, &spin);
		void *arg = pp_read_call(fd, rb, &c, mod, &mapped);

		if (!arg) {
			/* No memory for the argument: the call counts as
			 * started, so that it fails with ECHILD rather than
			 * going to the next worker, which would die alike. */
			pp_start_call(ring, c.seq);
			_exit(1);
		}
		filch_proc_fn fn = (filch_proc_fn)(uintptr_t)(
			c.mod_len ? (uintptr_t)filch__pp_resolve(mod, c.fn) :
				    c.fn);
		void *out = NULL;
		size_t out_len = 0;
		bool run = pp_start_call(ring, c.seq);

		if (!run) {
			rc = 0; /* cancelled by the pool: skipped */
		} else if (fn) {
			rc = fn(arg, c.len, &out, &out_len);
		} else {
			rc = ENOENT;
			if ((out = malloc(PP_MAX_MESSAGE + 1)))
				out_len = (size_t)snprintf(
					out, PP_MAX_MESSAGE + 1,
					"module \"%s\" not found in the worker",
					mod);
		}
		if (mapped)
			filch__pp_shm_unmap(arg, c.len);
		else
			free(arg);
		if (rc == INT_MIN)
			rc = EOVERFLOW;
		else if (rc < 0)
			rc = -rc;
		if (rc && out_len > PP_MAX_MESSAGE)
			out_len = PP_MAX_MESSAGE;
		if (!out)
			out_len = 0;
		if (pp_reply(fd, run ? rc : FILCH__PP_SKIPPED, out, out_len) < 0)
			_exit(1);
		free(out);
		if (run && ++done == o->max_tasks_per_child)
			_exit(0);
	}
}
