/* SPDX-License-Identifier: MIT */
/*
 * port_epoll.c - a plain epoll loop that waits for filch futures through a
 * completion port, next to a timer it also watches.
 *
 * The loop submits CPU work (Collatz chain lengths) to an executor, adds
 * each future to the port with a tag, and goes back to epoll_wait: the
 * port's fd wakes it when futures are done, filch_port_drain hands them
 * over in completion order. The loop thread never blocks on a future.
 * Prints TAP so that make check runs it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <filch.h>

enum { JOBS = 1000, BATCH = 64 };

/* Steps for the Collatz chain from n to reach 1. */
static int collatz(void *arg, void **result)
{
	uint64_t n = (uintptr_t)arg, steps = 0;
	for (; n != 1; steps++)
		n = n % 2 ? 3 * n + 1 : n / 2;
	*result = (void *)(uintptr_t)steps;
	return 0;
}

static int fail(const char *what, int err)
{
	printf("not ok 1 - %s: %s\n", what, filch_strerror(err));
	return 1;
}

int main(void)
{
	filch_executor *ex;
	filch_port *port;
	int err;

	printf("1..1\n");
	if ((err = filch_executor_create(&ex, NULL)))
		return fail("executor", err);
	if ((err = filch_port_create(&port, 0)))
		return fail("port", err);

	/* The loop watches the port and a 10 s guard timer. */
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec guard = {.it_value.tv_sec = 10};
	timerfd_settime(timer, 0, &guard, NULL);
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.fd = filch_port_fd(port);
	epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = timer;
	epoll_ctl(epfd, EPOLL_CTL_ADD, timer, &ev);

	/* Work off the loop: the tag says which input a future belongs to. */
	for (uintptr_t n = 1; n <= JOBS; n++) {
		filch_future *f;
		if ((err = filch_submit(ex, collatz, (void *)n, &f)))
			return fail("submit", err);
		filch_port_add(port, f,
			       (void *)n); /* the port keeps a reference */
		filch_future_release(f);
	}

	size_t done = 0, wakeups = 0;
	uintptr_t longest = 0, longest_steps = 0;
	while (done < JOBS) {
		struct epoll_event ready[2];
		int nready = epoll_wait(epfd, ready, 2, -1);
		if (nready < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < nready; i++) {
			if (ready[i].data.fd == timer)
				return fail("timed out", -ETIMEDOUT);
			struct filch_port_event events[BATCH];
			size_t n = 0;
			wakeups++;
			/* Level-triggered: one drain per wake-up is enough;
			 * events beyond BATCH keep the fd readable. The only
			 * drainer: it is never refused (n stays 0 if it is). */
			filch_port_drain(port, events, BATCH, &n);
			for (size_t k = 0; k < n; k++) {
				void *steps;
				if (filch_future_result(events[k].future, 0,
							&steps) == 0 &&
				    (uintptr_t)steps > longest_steps) {
					longest_steps = (uintptr_t)steps;
					longest = (uintptr_t)events[k].tag;
				}
				filch_future_release(events[k].future);
			}
			done += n;
		}
	}
	printf("# %zu futures in %zu wake-ups; longest chain below %d: %lu "
	       "(%lu steps)\n",
	       done, wakeups, JOBS + 1, (unsigned long)longest,
	       (unsigned long)longest_steps);
	/* Below 1000, 871 has the longest chain (178 steps). */
	printf("%s 1 - epoll loop got every future through the port\n",
	       longest == 871 && longest_steps == 178 ? "ok" : "not ok");

	epoll_ctl(epfd, EPOLL_CTL_DEL, filch_port_fd(port), NULL);
	filch_port_destroy(port);
	filch_executor_destroy(ex);
	close(timer);
	close(epfd);
	return longest == 871 ? 0 : 1;
}
