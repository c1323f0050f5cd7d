/* SPDX-License-Identifier: MIT */
/*
 * procworker.c - the worker process of a process pool: after its fork it
 * sets itself to die with its parent, takes the default action of the
 * fault signals (so that a crash ends it with the signal that names it),
 * applies the memory limit, runs the initializer and sends its ready
 * frame, then reads calls and writes replies on its socket until the pool
 * closes it. It leaves with _exit: the program's atexit handlers belong to
 * the pool's owner.
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
#include <unistd.h>

#include "procpool.h"

/* An error message is cut at this many bytes. */
#define PP_MAX_MESSAGE 4095

int filch__pp_xfer(int fd, void *buf, size_t n, bool out)
{
	unsigned char *p = buf;

	while (n) {
		ssize_t r = out ? send(fd, p, n, MSG_NOSIGNAL) : read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int pp_reply(int fd, int code, void *data, size_t len)
{
	struct filch__pp_reply r = { .code = code, .len = len };

	if (filch__pp_xfer(fd, &r, sizeof(r), true) < 0)
		return -EPIPE;
	return len ? filch__pp_xfer(fd, data, len, true) : 0;
}

void filch__pp_worker_main(const struct filch_procpool_opts *o, unsigned self,
			   int fd, pid_t parent)
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

	if (pp_reply(fd, rc, NULL, 0) < 0 || rc)
		_exit(1);
	for (unsigned done = 0;;) {
		struct filch__pp_call c;

		char mod[FILCH__PP_MAX_NAME];

		if (filch__pp_xfer(fd, &c, sizeof(c), false) < 0)
			_exit(0); /* the pool closed our socket */
		if (c.mod_len > sizeof(mod) ||
		    filch__pp_xfer(fd, mod, c.mod_len, false) < 0 ||
		    (c.mod_len && mod[c.mod_len - 1]))
			_exit(1);
		void *arg = malloc(c.len ? c.len : 1);

		if (!arg || filch__pp_xfer(fd, arg, c.len, false) < 0)
			_exit(1);
		filch_proc_fn fn = (filch_proc_fn)(uintptr_t)(
			c.mod_len ? (uintptr_t)filch__pp_resolve(mod, c.fn) :
				    c.fn);
		void *out = NULL;
		size_t out_len = 0;

		if (fn) {
			rc = fn(arg, c.len, &out, &out_len);
		} else {
			rc = ENOENT;
			if ((out = malloc(PP_MAX_MESSAGE + 1)))
				out_len = (size_t)snprintf(
					out, PP_MAX_MESSAGE + 1,
					"module \"%s\" not found in the worker",
					mod);
		}
		free(arg);
		if (rc == INT_MIN)
			rc = EOVERFLOW;
		else if (rc < 0)
			rc = -rc;
		if (rc && out_len > PP_MAX_MESSAGE)
			out_len = PP_MAX_MESSAGE;
		if (!out)
			out_len = 0;
		if (pp_reply(fd, rc, out, out_len) < 0)
			_exit(1);
		free(out);
		if (++done == o->max_tasks_per_child)
			_exit(0);
	}
}
