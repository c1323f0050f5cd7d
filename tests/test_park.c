/* SPDX-License-Identifier: MIT */
/* test_park.c - parking: an idle pool woken again and again loses no
 * wake-up, one submission wakes no herd, an idle pool burns no CPU; the
 * submitters word that termination reads carries the count of foreign
 * submissions across its wrap. */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filch.h>

#include "runtime/executor.h"
#include "runtime/futex.h"
#include "runtime/park.h"
#include "tap.h"

#define LONG_WAIT_NS (10 * 1000000000LL)

struct ping {
	struct filch__task task;
	_Atomic uint32_t done;
	unsigned sleep_us;
};

static void ping_run(struct filch__task *t, unsigned how)
{
	struct ping *p = (struct ping *)t;

	(void)how;
	if (p->sleep_us)
		usleep(p->sleep_us);
	atomic_store(&p->done, 1);
	filch__futex_wake(&p->done, 1);
}

static unsigned idle_workers(filch_executor *ex)
{
	return filch__park_idle(atomic_load(&ex->park_state));
}

/* Waits until every worker is idle: the next submission must wake one. */
static bool wait_all_idle(filch_executor *ex)
{
	int64_t end = tap_now_ns() + LONG_WAIT_NS;

	while (idle_workers(ex) != ex->nworkers)
		if (tap_now_ns() > end)
			return false;
		else
			sched_yield();
	return true;
}

/* Submits one task to an idle pool and waits for it; false on a lost
 * wake-up (the task never ran). */
static bool ping_idle(filch_executor *ex)
{
	struct ping p = {.task.run = ping_run};
	int64_t deadline = filch__deadline(LONG_WAIT_NS);

	if (!wait_all_idle(ex))
		return false;
	if (filch__sched_submit(ex, &p.task) != 0)
		return false;
	while (atomic_load(&p.done) == 0)
		if (filch__futex_wait(&p.done, 0, deadline) == -ETIMEDOUT)
			return false;
	return true;
}

static void test_wake_cycles(unsigned workers)
{
	filch_executor *ex;
	int i;

	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = workers});
	for (i = 0; i < 1000; i++)
		if (!ping_idle(ex))
			break;
	is(i, 1000, "%u workers: idle then woken 1000 times, no wake-up lost", workers);
	filch_executor_destroy(ex);
}

/* Two foreign threads submit at once to the same idle pool. */
struct pinger {
	filch_executor *ex;
	int rounds;
};

static void *pinger_main(void *arg)
{
	struct pinger *pg = arg;

	for (; pg->rounds < 500; pg->rounds++) {
		struct ping p = {.task.run = ping_run};
		int64_t deadline = filch__deadline(LONG_WAIT_NS);

		if (filch__sched_submit(pg->ex, &p.task) != 0)
			break;
		while (atomic_load(&p.done) == 0)
			if (filch__futex_wait(&p.done, 0, deadline) == -ETIMEDOUT)
				return NULL;
		if (pg->rounds % 8 == 0)
			usleep(200); /* let the pool fall asleep now and then */
	}
	return NULL;
}

static void test_concurrent_submitters(void)
{
	filch_executor *ex;
	struct pinger pg[2];
	pthread_t th[2];

	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 2});
	for (int i = 0; i < 2; i++) {
		pg[i] = (struct pinger){ex, 0};
		pthread_create(&th[i], NULL, pinger_main, &pg[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ok(pg[0].rounds == 500 && pg[1].rounds == 500,
	   "two submitters, 500 round trips each, none lost (%d, %d)", pg[0].rounds,
	   pg[1].rounds);
	filch_executor_destroy(ex);
}

static void test_no_herd(void)
{
	struct ping p = {.task.run = ping_run, .sleep_us = 50000};
	unsigned least_idle = 4;
	filch_executor *ex;
	int64_t end;

	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 4});
	ok(wait_all_idle(ex), "4 workers fall idle");
	filch__sched_submit(ex, &p.task);
	end = tap_now_ns() + 40 * 1000000LL;
	while (tap_now_ns() < end) {
		unsigned n = idle_workers(ex);

		if (n < least_idle)
			least_idle = n;
	}
	ok(least_idle >= 2, "one submission woke at most 2 of 4 idle workers (%u stayed idle)",
	   least_idle);
	while (atomic_load(&p.done) == 0)
		filch__futex_wait(&p.done, 0, filch__deadline(LONG_WAIT_NS));
	filch_executor_destroy(ex);
}

static int64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static void test_idle_cpu(void)
{
	filch_executor *ex;
	int64_t before;

	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 4});
	ok(ping_idle(ex), "a pool of 4 runs a task");
	usleep(100000); /* past the spin window */
	before = cpu_ns();
	usleep(1000000);
	/* getrusage covers every thread of the process. The bound is loose
	 * (a loaded machine, sanitizers); a spinning pool burns ~1000 ms. */
	int64_t used = cpu_ns() - before;
	ok(used < 50 * 1000000LL, "an idle pool of 4 used %lld us of CPU in 1 s",
	   (long long)(used / 1000));
	filch_executor_destroy(ex);
}

static int nop_task(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return 0;
}

/* The count of foreign submissions rides in the submitters word
 * (executor.h): its high half wraps into xstats.submitted_wraps, and
 * the in-flight half stays apart, or shutdown would wait forever. */
static void test_submitted_wraps(void)
{
	struct filch_executor_opts o = {.workers = 1};
	struct filch_executor_stats s = {.size = sizeof(s)};
	filch_executor *ex = NULL;

	if (filch_executor_create(&ex, &o) != 0)
		bail_out("filch_executor_create");
	/* No submitter in flight: the high half 2^32 - 2, as if that many
	 * had been accepted. */
	atomic_store(&ex->submitters, (uint64_t)(UINT32_MAX - 1) << 32);
	for (int i = 0; i < 3; i++) {
		filch_future *f;

		if (filch_submit(ex, nop_task, NULL, &f) != 0)
			bail_out("filch_submit");
		filch_future_result(f, FILCH_FOREVER, NULL);
		filch_future_release(f);
	}
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0,
	   "shutdown: no submitter left counted in flight");
	filch_executor_stats(ex, &s);
	is(s.submitted, (1ull << 32) + 1,
	   "submitted: 2^32 - 2 + 3, across the wrap of the word's half");
	is(FILCH__SUBMITTERS_IN_FLIGHT(atomic_load(&ex->submitters)), 0,
	   "nobody in flight");
	filch_executor_destroy(ex);
}

int main(void)
{
	tap_plan(0);
	test_wake_cycles(1);
	test_wake_cycles(2);
	test_wake_cycles(4);
	test_concurrent_submitters();
	test_no_herd();
	test_idle_cpu();
	test_submitted_wraps();
	return tap_done();
}
