/* SPDX-License-Identifier: MIT */
/* futex.c - futex wait/wake and the monotonic clock (see futex.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "futex.h"

int64_t filch__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t filch__deadline(int64_t timeout_ns)
{
	if (timeout_ns == FILCH_FOREVER)
		return FILCH__NO_DEADLINE;
	int64_t now = filch__now_ns();
	if (timeout_ns < 0)
		return now; /* other negative timeouts poll, as in Python */
	return timeout_ns > FILCH__NO_DEADLINE - now ? FILCH__NO_DEADLINE
						      : now + timeout_ns;
}

int filch__futex_wait(_Atomic uint32_t *addr, uint32_t expected,
		      int64_t deadline)
{
	struct timespec ts, *tsp = NULL;

	if (filch__fault_hit(FILCH__FAULT_FUTEX))
		return 0; /* an early, spurious return: callers re-check */
	if (deadline != FILCH__NO_DEADLINE) {
		int64_t left = deadline - filch__now_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		tsp = &ts;
	}
	/* FUTEX_WAIT compares *addr with expected atomically with going to
	 * sleep, so a wake between the caller's check and this call is not
	 * lost: the kernel sees the changed word and returns EAGAIN. */
	long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE,
			  expected, tsp, NULL, 0);
	if (rc == -1 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

void filch__futex_wake(_Atomic uint32_t *addr, int n)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
