/* SPDX-License-Identifier: MIT */
/* isolate.c - runs one test case in a child process (see isolate.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isolate.h"

#if defined(__SANITIZE_ADDRESS__)
#define ISOLATE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ISOLATE_LSAN 1
#endif
#endif
#ifdef ISOLATE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Exit status of a child whose case passed its own checks but leaked. */
#define ISOLATE_LEAKED 120

static int note_fd = -1;
static char last_note[256];

void isolate_note(const char *fmt, ...)
{
	char line[sizeof(last_note)];
	va_list ap;

	if (note_fd < 0)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* A short write only truncates a diagnostic. */
	if (write(note_fd, line, (size_t)n) < 0)
		return;
}

const char *isolate_last_note(void)
{
	return last_note;
}

static _Noreturn void run_child(isolate_fn fn, void *arg, unsigned timeout_s)
{
	/* The child's stdout would interleave with the parent's TAP stream. */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	alarm(timeout_s);
	int rc = fn(arg);
#ifdef ISOLATE_LSAN
	if (rc == 0 && __lsan_do_recoverable_leak_check())
		rc = ISOLATE_LEAKED;
#endif
	fflush(NULL);
	_exit(rc & 0xff ? rc & 0xff : rc ? 1 : 0);
}

/* Keeps the last complete line the child wrote. */
static void read_notes(int fd)
{
	char buf[1024], line[sizeof(last_note)];
	size_t len = 0;
	ssize_t got;

	last_note[0] = '\0';
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				continue;
			}
			line[len] = '\0';
			memcpy(last_note, line, len + 1);
			len = 0;
		}
	}
}

int isolate_run(isolate_fn fn, void *arg, unsigned timeout_s, char *why,
		size_t why_len)
{
	int fds[2], status;

	fflush(NULL);
	if (pipe(fds) != 0) {
		snprintf(why, why_len, "pipe failed");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		snprintf(why, why_len, "fork failed");
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		note_fd = fds[1];
		run_child(fn, arg, timeout_s);
	}
	close(fds[1]);
	read_notes(fds[0]);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(why, why_len, "waitpid failed");
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(why, why_len, "passed");
		return 0;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(why, why_len, "hung for %u s", timeout_s);
	else if (WIFSIGNALED(status))
		snprintf(why, why_len, "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) == ISOLATE_LEAKED)
		snprintf(why, why_len, "LeakSanitizer found a leak");
	else
		snprintf(why, why_len, "failed with status %d",
			 WEXITSTATUS(status));
	return 1;
}

unsigned isolate_threads_named(const char *prefix)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[300], comm[32];

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		FILE *fp = fopen(path, "r");
		if (fp && fgets(comm, sizeof(comm), fp) &&
		    strncmp(comm, prefix, strlen(prefix)) == 0)
			n++;
		if (fp)
			fclose(fp);
	}
	closedir(d);
	return n;
}
