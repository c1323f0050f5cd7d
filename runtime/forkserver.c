/* SPDX-License-Identifier: MIT */
/*
 * forkserver.c - the fork server of a process pool (FILCH_START_FORKSERVER):
 * a process forked once, when the pool is created, that stays single-
 * threaded and forks each worker on request. A worker forked later (a
 * replacement) is then a copy of the server, not of the program as it is
 * at that moment, so it cannot inherit a lock that one of the program's
 * threads held during the fork.
 *
 * Two SOCK_SEQPACKET socketpairs join the pool and the server. req: the
 * pool sends a worker index, the server answers {pid, err} with the pool's
 * end of the new worker's socketpair attached (SCM_RIGHTS), then, unless
 * err, {pid, 0} with a pidfd of the worker attached: made right after the
 * fork, before the server can reap the worker, so that it names that
 * process even if the worker dies at once and its pid is reused (the
 * pool signals the worker through it). note: the
 * server reports {pid, status} for each worker it reaps (it watches
 * SIGCHLD through a signalfd, and queues the notes that the socket does
 * not take at once). When req closes, the server kills and
 * reaps its workers and exits; it dies with the pool's completion thread
 * (PR_SET_PDEATHSIG), and its workers with it.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfds.h"
#include "procpool.h"

struct pp_spawned {
	int32_t pid;
	int32_t err; /* positive errno, or 0 with a descriptor attached */
};

struct pp_note {
	int32_t pid;
	int32_t status; /* as waitpid gives it */
};

/* Forks worker i; answers on req. The server reaps only in server_reap,
 * after this returns: the pidfd made here names the worker. */
static void server_spawn(const struct filch_procpool_opts *o,
			 struct filch__pp_mark *rings, int req, int note,
			 int sfd, unsigned i, pid_t *kids)
{
	struct pp_spawned a = { 0 };
	int sv[2] = { -1, -1 }, pidfd = -1;

	if (i >= o->workers)
		a.err = EINVAL;
	else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		a.err = errno;
	if (!a.err) {
		pid_t self = getpid();
		pid_t pid = fork();

		if (pid == 0) {
			close(req);
			close(note);
			close(sfd);
			close(sv[0]);
			filch__pp_worker_main(o, i, sv[1], self,
					      rings + (size_t)i *
							      FILCH__PP_DEPTH);
		}
		if (pid < 0)
			a.err = errno;
		else
			a.pid = kids[i] = pid;
		close(sv[1]);
		/* Without its pidfd the pool could not signal the worker
		 * safely: it dies (reaped and noted as any worker). */
		if (!a.err &&
		    (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
			a.err = errno;
			kill(pid, SIGKILL);
		}
	}
	filch__pp_send_fd(req, &(struct iovec){ &a, sizeof(a) }, 1,
			  a.err ? -1 : sv[0]);
	if (!a.err)
		filch__pp_send_fd(req, &(struct iovec){ &a, sizeof(a) }, 1,
				  pidfd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (pidfd >= 0)
		close(pidfd);
}

/* The server's own state. At most one note per worker slot waits to be
 * sent: the pool refills a slot only after it read that slot's note. */
struct server {
	const struct filch_procpool_opts *o;
	int req, note, sfd;
	pid_t *kids;	     /* per slot: its live worker, or 0 */
	struct pp_note *out; /* notes not yet sent */
	unsigned nout;
};

/* Sends the waiting notes that the socket takes now. */
static void server_flush(struct server *sv)
{
	unsigned k = 0;

	while (k < sv->nout) {
		ssize_t r = send(sv->note, &sv->out[k], sizeof(sv->out[k]),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		k++; /* sent, or the pool is gone (then none is needed) */
	}
	memmove(sv->out, sv->out + k, (sv->nout - k) * sizeof(*sv->out));
	sv->nout -= k;
}

/* Reaps the workers that exited and queues a note for each. */
static void server_reap(struct server *sv)
{
	struct signalfd_siginfo si;
	pid_t pid;
	int st;

	if (read(sv->sfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
		_exit(1);
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (unsigned i = 0; i < sv->o->workers; i++) {
			if (sv->kids[i] == pid) {
				sv->kids[i] = 0;
				sv->out[sv->nout++] =
					(struct pp_note){ pid, st };
			}
		}
	}
	server_flush(sv);
}

static _Noreturn void server_main(const struct filch_procpool_opts *o,
				  struct filch__pp_mark *rings, int req,
				  int note)
{
	struct server sv = { .o = o, .req = req, .note = note };
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sv.sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	sv.kids = calloc(o->workers, sizeof(*sv.kids));
	sv.out = calloc(o->workers, sizeof(*sv.out));
	if (!sv.kids || !sv.out || sv.sfd < 0)
		_exit(1);
	for (;;) {
		struct pollfd p[3] = {
			{ req, POLLIN, 0 },
			{ sv.sfd, POLLIN, 0 },
			{ note, sv.nout ? POLLOUT : 0, 0 },
		};
		uint32_t i;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			server_reap(&sv);
		if (p[2].revents)
			server_flush(&sv);
		if (!p[0].revents)
			continue;
		if (recv(req, &i, sizeof(i), 0) != sizeof(i))
			break; /* the pool is done */
		server_spawn(o, rings, req, note, sv.sfd, i, sv.kids);
	}
	for (unsigned i = 0; i < o->workers; i++)
		if (sv.kids[i] > 0)
			kill(sv.kids[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	_exit(0);
}

int filch__pp_server_start(struct filch__pp_server *s,
			   const struct filch_procpool_opts *o,
			   struct filch__pp_mark *rings)
{
	int rq[2], nt[2], e;

	if ((e = filch__ppfd_socketpair(SOCK_SEQPACKET, rq)) < 0)
		return e;
	if ((e = filch__ppfd_socketpair(SOCK_SEQPACKET, nt)) < 0) {
		filch__ppfd_close(rq[0]);
		filch__ppfd_close(rq[1]);
		return e;
	}
	pid_t owner = getpid();

	/* Held across the fork: the server's copy of the record names every
	 * pool descriptor it inherits, even one another thread was making. */
	filch__ppfd_lock();
	pid_t pid = fork();

	if (pid == 0) {
		filch__ppfd_child((const int[]){ rq[1], nt[1] }, 2);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != owner)
			_exit(1);
		server_main(o, rings, rq[1], nt[1]);
	}
	e = errno == ENOMEM ? -ENOMEM : -EAGAIN;
	filch__ppfd_unlock();
	filch__ppfd_close(rq[1]);
	filch__ppfd_close(nt[1]);
	if (pid < 0) {
		filch__ppfd_close(rq[0]);
		filch__ppfd_close(nt[0]);
		return e;
	}
	*s = (struct filch__pp_server){ .pid = pid, .req = rq[0],
					.note = nt[0] };
	return 0;
}

int filch__pp_server_spawn(struct filch__pp_server *s, unsigned index,
			   pid_t *pid, int *sock, int *pidfd)
{
	uint32_t i = index;
	struct pp_spawned a, b;
	int fd = -1, pfd = -1;

	if (send(s->req, &i, sizeof(i), MSG_NOSIGNAL) != sizeof(i) ||
	    filch__pp_recv_fd(s->req, &a, sizeof(a), &fd) < 0)
		return -EAGAIN; /* the server is gone */
	if (a.err || fd < 0) {
		if (fd >= 0)
			filch__ppfd_close(fd);
		/* The pidfd's answer follows a worker's (its descriptor lost
		 * to a full table): read it, or the next spawn reads it. */
		if (!a.err && filch__pp_recv_fd(s->req, &b, sizeof(b), &pfd) == 0 &&
		    pfd >= 0)
			filch__ppfd_close(pfd);
		return a.err == ENOMEM || a.err == EMFILE || a.err == ENFILE ?
			       -a.err :
			       -EAGAIN;
	}
	if (filch__pp_recv_fd(s->req, &b, sizeof(b), &pfd) < 0 || pfd < 0 ||
	    b.pid != a.pid) {
		if (pfd >= 0)
			filch__ppfd_close(pfd);
		filch__ppfd_close(fd);
		return -EAGAIN; /* the server is gone */
	}
	*pid = a.pid;
	*sock = fd;
	*pidfd = pfd;
	return 0;
}

int filch__pp_server_note(struct filch__pp_server *s, pid_t *pid, int *status)
{
	struct pp_note m;
	ssize_t r;

	do
		r = recv(s->note, &m, sizeof(m), 0);
	while (r < 0 && errno == EINTR);
	if (r != sizeof(m))
		return -EPIPE;
	*pid = m.pid;
	*status = m.status;
	return 0;
}

void filch__pp_server_stop(struct filch__pp_server *s)
{
	/* req's end of file ends the server's loop. */
	filch__ppfd_close(s->note);
	filch__ppfd_close(s->req);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	s->req = s->note = -1;
}
