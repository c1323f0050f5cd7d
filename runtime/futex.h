/* SPDX-License-Identifier: MIT */
/*
 * futex.h - the Linux futex calls the runtime sleeps and wakes with, and
 * the monotonic clock its deadlines use.
 *
 * A deadline is an absolute CLOCK_MONOTONIC time in nanoseconds, or
 * FILCH__NO_DEADLINE; filch__deadline() turns an API timeout (relative ns,
 * FILCH_FOREVER, 0 = poll) into one.
 */
#ifndef FILCH_FUTEX_H
#define FILCH_FUTEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <filch.h>

#define FILCH__NO_DEADLINE INT64_MAX

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t filch__now_ns(void);

/* Absolute deadline for a relative API timeout: FILCH_FOREVER gives
 * FILCH__NO_DEADLINE, 0 and any other negative value now (a poll). */
int64_t filch__deadline(int64_t timeout_ns);

/* Whether an API timeout polls: 0, or negative but not FILCH_FOREVER. */
static inline bool filch__timeout_polls(int64_t timeout_ns)
{
	return timeout_ns <= 0 && timeout_ns != FILCH_FOREVER;
}

/* Sleeps while *addr == expected, until woken or the deadline passes.
 * Returns 0 when woken or when *addr != expected (or spuriously: callers
 * re-check their condition), -ETIMEDOUT at the deadline. Private futex
 * (the word is not shared across processes). A fault-injection site. */
int filch__futex_wait(_Atomic uint32_t *addr, uint32_t expected,
		      int64_t deadline);

/* Wakes up to n sleepers on addr (INT32_MAX for all). */
void filch__futex_wake(_Atomic uint32_t *addr, int n);

#endif /* FILCH_FUTEX_H */
