/* SPDX-License-Identifier: MIT */
/*
 * circuit_breaker.c - a circuit breaker around a flaky service (Python: the
 * ResilientFetcher exercise: after 3 consecutive failures stop calling the
 * service for a while, then let one trial call through).
 *
 * Calls run as tasks; the breaker is shared by all workers under a mutex.
 * While the circuit is open a call fails at once with ECONNREFUSED and does
 * not reach the service. Results are gathered with filch_wait and
 * as_completed.
 */
#include <errno.h>
#include <filch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "expect.h"

#define THRESHOLD 3
#define RESET_NS (30 * 1000000LL)

struct breaker {
	pthread_mutex_t lock;
	int failures;	    /* consecutive */
	int64_t opened_at;  /* 0: closed */
};

static struct breaker breaker = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
static atomic_int service_down, service_calls;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Open: reject. After RESET_NS, half-open: let calls through again. */
static int breaker_allows(struct breaker *b)
{
	pthread_mutex_lock(&b->lock);
	int allow = b->opened_at == 0 || now_ns() - b->opened_at > RESET_NS;
	if (allow && b->opened_at) {
		b->opened_at = 0;
		b->failures = 0;
	}
	pthread_mutex_unlock(&b->lock);
	return allow;
}

static void breaker_record(struct breaker *b, int ok)
{
	pthread_mutex_lock(&b->lock);
	b->failures = ok ? 0 : b->failures + 1;
	if (b->failures >= THRESHOLD && b->opened_at == 0)
		b->opened_at = now_ns();
	pthread_mutex_unlock(&b->lock);
}

static int call_service(void *arg, void **result)
{
	if (!breaker_allows(&breaker))
		return filch_task_fail(ECONNREFUSED, "circuit open");
	atomic_fetch_add(&service_calls, 1);
	nanosleep(&(struct timespec){0, 2 * 1000000L}, NULL);
	int ok = !atomic_load(&service_down);
	breaker_record(&breaker, ok);
	if (!ok)
		return filch_task_fail(EIO, "service error");
	*result = arg;
	return 0;
}

/* Submits n calls and counts their outcomes as they complete. */
static void phase(filch_executor *ex, int n, int *ok, int *failed, int *refused)
{
	filch_future *fs[8];
	filch_as_completed *it;
	filch_future *f;

	*ok = *failed = *refused = 0;
	for (int i = 0; i < n; i++)
		filch_submit(ex, call_service, NULL, &fs[i]);
	filch_as_completed_begin(&it, fs, (size_t)n, FILCH_FOREVER);
	for (int i = 0; i < n; i++)
		filch_future_release(fs[i]);
	while (filch_as_completed_next(it, &f) == 0) {
		int rc = filch_future_result(f, 0, NULL);
		*ok += rc == 0;
		*failed += rc == EIO;
		*refused += rc == ECONNREFUSED;
	}
	filch_as_completed_end(it);
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 4};
	filch_executor *ex;
	int ok, failed, refused;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;

	/* 1. The service is down: three calls fail, one after the other. */
	atomic_store(&service_down, 1);
	for (int i = 0; i < THRESHOLD; i++) {
		filch_future *f;
		filch_submit(ex, call_service, NULL, &f);
		filch_wait(&f, 1, FILCH_FOREVER, FILCH_ALL_COMPLETED, NULL);
		filch_future_release(f);
	}
	expect_line("down: 3 calls failed, circuit open",
		    "down: %d calls failed, circuit %s",
		    atomic_load(&service_calls),
		    breaker.opened_at ? "open" : "closed");

	/* 2. Open: calls are refused without reaching the service. */
	phase(ex, 5, &ok, &failed, &refused);
	expect_line("open: 5 refused, 0 reached the service",
		    "open: %d refused, %d reached the service", refused,
		    atomic_load(&service_calls) - THRESHOLD);

	/* 3. The service recovers; after the reset time a call goes through
	 * and closes the circuit. */
	atomic_store(&service_down, 0);
	nanosleep(&(struct timespec){0, RESET_NS + 5 * 1000000L}, NULL);
	phase(ex, 1, &ok, &failed, &refused);
	expect_line("half-open: trial ok, circuit closed",
		    "half-open: trial %s, circuit %s", ok ? "ok" : "failed",
		    breaker.opened_at ? "open" : "closed");

	/* 4. Closed again: everything gets through. */
	phase(ex, 8, &ok, &failed, &refused);
	expect_line("closed: 8 ok, 0 failed, 0 refused",
		    "closed: %d ok, %d failed, %d refused", ok, failed, refused);
	filch_executor_destroy(ex);
	return expect_status();
}
