/* SPDX-License-Identifier: MIT */
/*
 * future_helpers.h - what the futures' tests share: executors, timing
 * helpers for "eventually" checks, and the smallest tasks and callbacks.
 */
#ifndef FILCH_FUTURE_HELPERS_H
#define FILCH_FUTURE_HELPERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <filch.h>

#include "tap.h"

#define MS 1000000LL

static inline void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };
	nanosleep(&ts, NULL);
}

static inline filch_executor *make_executor(unsigned workers)
{
	filch_executor *ex = NULL;
	struct filch_executor_opts o = { .workers = workers };
	if (filch_executor_create(&ex, &o))
		bail_out("cannot create an executor of %u workers", workers);
	return ex;
}

/* Polls cond for up to 10 s: "eventually" checks on a loaded machine. */
#define EVENTUALLY(cond)                                      \
	({                                                    \
		int64_t end_ = tap_now_ns() + 10000 * MS;     \
		while (!(cond) && tap_now_ns() < end_)        \
			sleep_ns(100000);                     \
		(cond);                                       \
	})

/* A task whose result is its argument. */
static inline int return_arg(void *arg, void **result)
{
	*result = arg;
	return 0;
}

/* A callback that counts its calls in the atomic_int at arg. */
static inline void count_cb(filch_future *f, void *arg)
{
	(void)f;
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* True when f finished (waiting for it) with code and message (NULL: no
 * message). */
static inline bool failed_with(filch_future *f, int code, const char *message)
{
	int c = 0;
	const char *m = NULL;
	if (filch_future_error(f, FILCH_FOREVER, &c, &m) || c != code)
		return false;
	return message ? m && strcmp(m, message) == 0 : m == NULL;
}

#endif /* FILCH_FUTURE_HELPERS_H */
