/* SPDX-License-Identifier: MIT */
/* instr.c - per-thread user-space instruction counters (perf_event_open). */
#include "config.h"

#include "instr.h"

#include <dirent.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Set once the kernel refused a counter for a reason other than a thread
 * that exited meanwhile: then nothing is tried again. */
static int instr_refused;

static int open_counter(pid_t tid)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_HARDWARE;
	attr.config = PERF_COUNT_HW_INSTRUCTIONS;
	attr.disabled = 1;
	attr.exclude_kernel = 1; /* user-space only: allowed at paranoid 2 */
	attr.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1,
			    PERF_FLAG_FD_CLOEXEC);
}

static void close_all(struct fb_instr *c)
{
	for (int i = 0; i < c->n; i++)
		close(c->fd[i]);
	free(c->fd);
	c->fd = NULL;
	c->n = c->cap = 0;
}

static int add_fd(struct fb_instr *c, int fd)
{
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 32;
		int *fds = realloc(c->fd, (size_t)cap * sizeof(*fds));

		if (!fds)
			return -1;
		c->fd = fds;
		c->cap = cap;
	}
	c->fd[c->n++] = fd;
	return 0;
}

int fb_instr_start(struct fb_instr *c)
{
	DIR *dir;
	struct dirent *e;

	c->fd = NULL;
	c->n = c->cap = 0;
	if (instr_refused)
		return -1;
	dir = opendir("/proc/self/task");
	if (!dir)
		return -1;
	while ((e = readdir(dir)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);
		int fd;

		if (tid <= 0)
			continue;
		fd = open_counter(tid);
		if (fd < 0) {
			if (errno == ESRCH) /* the thread exited meanwhile */
				continue;
			instr_refused = 1;
			break;
		}
		if (add_fd(c, fd) != 0) {
			close(fd);
			instr_refused = 1;
			break;
		}
	}
	closedir(dir);
	if (instr_refused) {
		close_all(c);
		return -1;
	}
	for (int i = 0; i < c->n; i++)
		ioctl(c->fd[i], PERF_EVENT_IOC_ENABLE, 0);
	return 0;
}

double fb_instr_stop(struct fb_instr *c)
{
	double sum = 0;

	if (!c->fd)
		return -1;
	for (int i = 0; i < c->n; i++)
		ioctl(c->fd[i], PERF_EVENT_IOC_DISABLE, 0);
	for (int i = 0; i < c->n && sum >= 0; i++) {
		uint64_t v;

		if (read(c->fd[i], &v, sizeof(v)) != (ssize_t)sizeof(v))
			sum = -1;
		else
			sum += (double)v;
	}
	close_all(c);
	return sum;
}
