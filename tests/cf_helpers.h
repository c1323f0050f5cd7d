/* SPDX-License-Identifier: MIT */
/*
 * cf_helpers.h - shared by the concurrent.futures-layer tests (wait,
 * as_completed, map, conformance) and stress/cf_stress: sleeping tasks and
 * a thread that completes promises later, in a fixed order.
 */
#ifndef FILCH_CF_HELPERS_H
#define FILCH_CF_HELPERS_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <filch.h>

#include "tap.h"

static inline void cf_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* A task that sleeps arg milliseconds and returns arg as its result. */
static inline int cf_task_sleep(void *arg, void **result)
{
	cf_sleep_ms((long)(intptr_t)arg);
	*result = arg;
	return 0;
}

/* A task that fails with the positive code arg. */
static inline int cf_task_fail(void *arg, void **result)
{
	(void)result;
	return (int)(intptr_t)arg;
}

/* Completes promises in order from another thread: step i sleeps
 * delay_ms[i], then sets fs[i]'s result (code 0) or error (code > 0), or
 * cancels it (code < 0). */
struct cf_completer {
	pthread_t thread;
	filch_future **fs;
	const int *codes;
	const long *delay_ms;
	size_t n;
};

static inline void *cf_completer_main(void *arg)
{
	struct cf_completer *c = arg;
	for (size_t i = 0; i < c->n; i++) {
		cf_sleep_ms(c->delay_ms ? c->delay_ms[i] : 0);
		int code = c->codes ? c->codes[i] : 0;
		if (code == 0)
			filch_promise_set_result(c->fs[i], (void *)(intptr_t)(i + 1));
		else if (code > 0)
			filch_promise_set_error(c->fs[i], code, "cf_completer");
		else
			filch_future_cancel(c->fs[i]);
	}
	return NULL;
}

static inline void cf_completer_start(struct cf_completer *c, filch_future **fs,
				      const int *codes, const long *delay_ms,
				      size_t n)
{
	*c = (struct cf_completer){.fs = fs, .codes = codes,
				   .delay_ms = delay_ms, .n = n};
	if (pthread_create(&c->thread, NULL, cf_completer_main, c) != 0)
		bail_out("pthread_create failed");
}

static inline void cf_completer_join(struct cf_completer *c)
{
	pthread_join(c->thread, NULL);
}

/* n new promises into fs; bails out on failure. */
static inline void cf_promises(filch_future **fs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (filch_promise_create(&fs[i]) != 0)
			bail_out("filch_promise_create failed");
}

static inline void cf_release_all(filch_future **fs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		filch_future_release(fs[i]);
}

/* A malloc'ed array of n items, item i being (void *)i; bails out on
 * failure. */
static inline void **cf_numbers(size_t n)
{
	void **items = malloc(n * sizeof(*items));
	if (!items)
		bail_out("malloc");
	for (size_t i = 0; i < n; i++)
		items[i] = (void *)(uintptr_t)i;
	return items;
}

/* An executor with `workers` workers; bails out on failure. */
static inline filch_executor *cf_executor(unsigned workers)
{
	struct filch_executor_opts o = {.workers = workers};
	filch_executor *ex = NULL;
	if (filch_executor_create(&ex, &o) != 0)
		bail_out("filch_executor_create failed");
	return ex;
}

/* Runs fn(arg) as a task on a fresh one-worker executor and returns its
 * outcome (filch_future_result, 20 s at most): for "a blocking call inside
 * the only worker must help, not deadlock". fn finds the executor with
 * filch_current_executor(). */
static inline int cf_run_on_one_worker(filch_task_fn fn, void *arg)
{
	filch_executor *ex = cf_executor(1);
	filch_future *f;
	int rc = filch_submit(ex, fn, arg, &f);
	if (rc == 0)
		rc = filch_future_result(f, 20000 * (int64_t)1000000, NULL);
	filch_future_release(f);
	filch_executor_destroy(ex);
	return rc;
}

#endif /* FILCH_CF_HELPERS_H */
