/* SPDX-License-Identifier: MIT */
/* remote.c - the driver's side of helper processes (remote.h). */
#include "config.h"

#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "placement.h"

extern char **environ;

struct fb_remote {
	pid_t pid;
	FILE *to;   /* the helper's stdin */
	FILE *from; /* the helper's stdout */
	char path[512];
};

/* Starts argv[0] with pipes on its stdin and stdout; returns its pid or -1. */
static pid_t spawn_piped(char *const argv[], FILE **to, FILE **from)
{
	int in[2], out[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	if (pipe2(in, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (rc != 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	*to = fdopen(in[1], "w");
	*from = fdopen(out[0], "r");
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int fb_remote_list(const char *path,
		   void (*fn)(const char *bench, const char *impl, void *arg),
		   void *arg)
{
	char *argv[] = {(char *)path, (char *)"--list", NULL};
	char line[256], bench[64], impl[64];
	FILE *to, *from;
	pid_t pid;

	if (access(path, X_OK) != 0)
		return -1;
	pid = spawn_piped(argv, &to, &from);
	if (pid < 0)
		return -1;
	fclose(to);
	while (fgets(line, sizeof(line), from))
		if (sscanf(line, "%63s %63s", bench, impl) == 2)
			fn(bench, impl, arg);
	fclose(from);
	return wait_exit(pid) == 0 ? 0 : -1;
}

struct spawn_call {
	char *const *argv;
	struct fb_remote *r;
};

static void spawn_helper(void *arg)
{
	struct spawn_call *c = arg;

	c->r->pid = spawn_piped(c->argv, &c->r->to, &c->r->from);
}

struct fb_remote *fb_remote_start(const char *path, const char *bench,
				  unsigned workers, bool quick)
{
	struct fb_remote *r = fb_xcalloc(1, sizeof(*r));
	char w[16];
	char *argv[] = {(char *)path,
			(char *)"--run",
			(char *)bench,
			w,
			(char *)fb_placement_arg(),
			quick ? (char *)"--quick" : NULL,
			NULL};
	struct spawn_call call = {argv, r};

	snprintf(w, sizeof(w), "%u", workers);
	snprintf(r->path, sizeof(r->path), "%s", path);
	/* The helper starts on every CPU of the process, as filch-bench
	 * did: its runtime may read its mask when it starts (libomp does);
	 * it then places its own submitter and workers. */
	fb_placement_unpinned(spawn_helper, &call);
	if (r->pid < 0 || !r->to || !r->from)
		fb_fail("cannot start helper %s", path);
	return r;
}

void fb_remote_run(struct fb_remote *r, struct fb_sample *s)
{
	char line[256];
	long long ns;

	fputs("run\n", r->to);
	fflush(r->to);
	if (!fgets(line, sizeof(line), r->from) ||
	    sscanf(line, "%lld %lf %lf %lf", &ns, &s->instr, &s->value[0],
		   &s->value[1]) != 4)
		fb_fail("helper %s died or answered garbage", r->path);
	s->ns = ns;
}

void fb_remote_stop(struct fb_remote *r)
{
	int rc;

	fclose(r->to);
	fclose(r->from);
	rc = wait_exit(r->pid);
	if (rc != 0)
		fb_fail("helper %s exited with status %d", r->path, rc);
	free(r);
}
