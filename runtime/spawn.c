/* SPDX-License-Identifier: MIT */
/*
 * spawn.c - the spawn start method of process pools (FILCH_START_SPAWN): a
 * worker is a fresh exec of the program (/proc/self/exe), so that it holds
 * nothing of the program's state at all, not even a copy.
 *
 * The worker recognises its role before main: the environment variable
 * FILCH_PROCPOOL_WORKER ("fd parent-pid") names its end of the socketpair,
 * and a constructor of libfilch (pp_spawned) sees it, reads the setup frame
 * (index, limits, the initializer), and runs the worker's loop, which ends
 * with _exit: main never runs in a worker.
 *
 * Code addresses differ between the program and a fresh exec (ASLR), so
 * functions cross as a module and an offset: the module (its name as
 * dl_iterate_phdr gives it, "" for the main program) whose loaded segment
 * holds the address, and the address less the module's base. The worker
 * finds the module's base among its own (loading a library that the
 * program had loaded later, with dlopen) and adds the offset. This works
 * for position-independent programs and shared libraries alike.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procfds.h"
#include "procpool.h"

#define PP_SPAWN_ENV "FILCH_PROCPOOL_WORKER"

extern char **environ;

struct pp_find {
	uintptr_t addr;	  /* in: the address to place */
	const char *name; /* in (by name): the module; out: its name */
	uintptr_t base;
	bool found;
};

/* dl_iterate_phdr: the module whose loaded segments hold f->addr. */
static int pp_find_addr(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct pp_find *f = arg;

	(void)size;
	for (ElfW(Half) k = 0; k < info->dlpi_phnum; k++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && f->addr >= start &&
		    f->addr - start < ph->p_memsz) {
			f->name = info->dlpi_name ? info->dlpi_name : "";
			f->base = info->dlpi_addr;
			f->found = true;
			return 1;
		}
	}
	return 0;
}

int filch__pp_locate(const void *addr, char *name, size_t cap,
		     uint64_t *off)
{
	struct pp_find f = { .addr = (uintptr_t)addr };
	size_t n;

	/* The name is copied while dl_iterate_phdr holds the loader's
	 * lock: a dlclose meanwhile cannot free it under us. */
	if (!addr || dl_iterate_phdr(pp_find_addr, &f) != 1)
		return -EINVAL;
	n = strlen(f.name) + 1;
	if (n > cap)
		return -ENAMETOOLONG;
	memcpy(name, f.name, n);
	*off = f.addr - f.base;
	return (int)n;
}

/* dl_iterate_phdr: the base of the module named f->name. */
static int pp_find_name(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct pp_find *f = arg;

	(void)size;
	if (strcmp(info->dlpi_name ? info->dlpi_name : "", f->name))
		return 0;
	f->base = info->dlpi_addr;
	f->found = true;
	return 1;
}

void *filch__pp_resolve(const char *name, uint64_t off)
{
	/* A worker is single-threaded: the last module found is kept. */
	static char last[FILCH__PP_MAX_NAME];
	static uintptr_t last_base;
	static bool have_last;
	struct pp_find f = { .name = name };

	if (have_last && strcmp(last, name) == 0)
		return (void *)(last_base + (uintptr_t)off);
	if (dl_iterate_phdr(pp_find_name, &f) != 1) {
		/* A library the program loaded after it started. */
		if (!*name || !dlopen(name, RTLD_NOW | RTLD_GLOBAL) ||
		    dl_iterate_phdr(pp_find_name, &f) != 1)
			return NULL;
	}
	if (strlen(name) < sizeof(last)) {
		strcpy(last, name);
		last_base = f.base;
		have_last = true;
	}
	return (void *)(f.base + (uintptr_t)off);
}

int filch__pp_spawn_exec(const void *setup, size_t len, int ring_fd,
			 pid_t *pid, int *sock)
{
	static const char *const argv[] = { "filch-procpool-worker", NULL };
	char marker[64];
	size_t n = 0;
	int sv[2], e;

	while (environ && environ[n])
		n++;
	char **envp = malloc((n + 2) * sizeof(*envp));

	if (!envp)
		return -ENOMEM;
	if ((e = filch__ppfd_socketpair(SOCK_STREAM, sv)) < 0) {
		free(envp);
		return e;
	}
	size_t k = 0;

	snprintf(marker, sizeof(marker), PP_SPAWN_ENV "=%d %d", sv[1],
		 (int)getpid());
	envp[k++] = marker;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], PP_SPAWN_ENV "=",
			    sizeof(PP_SPAWN_ENV)) != 0)
			envp[k++] = environ[i];
	envp[k] = NULL;

	pid_t child = fork();

	if (child == 0) {
		/* Async-signal-safe calls only: the program may have threads.
		 * Every descriptor of a pool is close-on-exec (procfds.c:
		 * no pool's outlives the exec, no lock is needed); the worker's
		 * end of the socketpair is made to survive the exec. */
		if (fcntl(sv[1], F_SETFD, 0) == 0)
			execve("/proc/self/exe", (char *const *)argv, envp);
		_exit(127);
	}
	e = child < 0 ? (errno == ENOMEM ? -ENOMEM : -EAGAIN) : 0;
	free(envp);
	filch__ppfd_close(sv[1]);
	if (child < 0) {
		filch__ppfd_close(sv[0]);
		return e;
	}
	/* The setup frame fits the socket's buffer: it is written now, and
	 * read by the worker's constructor. A worker that died already (a
	 * failed exec) fails the write: its death is reported through its
	 * pidfd like any other, before it was ready. */
	(void)filch__pp_send_fd(sv[0],
				&(struct iovec){ (void *)setup, len }, 1,
				ring_fd);
	*pid = child;
	*sock = sv[0];
	return 0;
}

/* Reads a module name of len bytes (NUL included) from fd and resolves
 * name + off; NULL for len 0. Exits if the frame is broken. */
static void *pp_read_ref(int fd, uint32_t len, uint64_t off, bool *ok)
{
	char name[FILCH__PP_MAX_NAME];

	if (!len)
		return NULL;
	if (len > sizeof(name) || filch__pp_xfer(fd, name, len, false) < 0 ||
	    name[len - 1])
		_exit(1);
	void *p = filch__pp_resolve(name, off);

	*ok &= p != NULL;
	return p;
}

/* The worker's role, before main: see the top of the file. */
__attribute__((constructor)) static void pp_spawned(void)
{
	const char *m = getenv(PP_SPAWN_ENV);
	struct filch__pp_setup s;
	struct stat st;
	int fd, parent, ring_fd;
	bool ok = true;

	if (!m || sscanf(m, "%d %d", &fd, &parent) != 2)
		return;
	/* The tasks' own children are not workers. */
	unsetenv(PP_SPAWN_ENV);
	if (filch__pp_recv_fd(fd, &s, sizeof(s), &ring_fd) < 0 ||
	    ring_fd < 0 || fstat(ring_fd, &st) != 0 ||
	    (uint64_t)st.st_size < ((uint64_t)s.index + 1) * FILCH__PP_DEPTH *
					   sizeof(struct filch__pp_mark))
		_exit(1);
	/* The pool's marks (procpool.h), shared with it. */
	struct filch__pp_mark *ring = mmap(NULL, (size_t)st.st_size,
					   PROT_READ | PROT_WRITE, MAP_SHARED,
					   ring_fd, 0);

	filch__ppfd_close(ring_fd);
	if (ring == MAP_FAILED)
		_exit(1);
	struct filch_procpool_opts o = {
		.max_tasks_per_child = s.max_tasks_per_child,
		.memory_limit = s.memory_limit,
		.start_method = FILCH_START_SPAWN,
		.spin_ns = s.spin_ns,
	};

	o.initializer = (int (*)(void *, unsigned))(uintptr_t)pp_read_ref(
		fd, s.init_len, s.init_off, &ok);
	o.initializer_arg = s.arg_len ? pp_read_ref(fd, s.arg_len, s.arg,
						    &ok) :
					(void *)(uintptr_t)s.arg;
	if (!ok)
		_exit(1); /* a module of the program is not found here */
	filch__pp_worker_main(&o, s.index, fd, (pid_t)parent,
			      ring + (size_t)s.index * FILCH__PP_DEPTH);
}
