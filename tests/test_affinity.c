/* SPDX-License-Identifier: MIT */
/*
 * test_affinity.c - the worker count and pinning come from the process's
 * CPUs, not from the creating thread's mask; AUTO pinning spreads the
 * workers of several executors over the least-loaded CPUs; the initializer
 * runs as its worker (filch_current_worker, filch_current_executor).
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include <filch.h>

#include "tap.h"

#define MAX_RECORDED 64

static unsigned process_cpus(cpu_set_t *mask)
{
	if (sched_getaffinity(getpid(), sizeof(*mask), mask) != 0)
		return 0;
	return (unsigned)CPU_COUNT(mask);
}

static int lowest_cpu(const cpu_set_t *mask)
{
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, mask))
			return c;
	return -1;
}

/* ---- what each worker's initializer saw ---- */
static cpu_set_t init_mask[MAX_RECORDED];
static int init_worker[MAX_RECORDED];
static filch_executor *init_executor[MAX_RECORDED];

static int record_init(void *arg, unsigned index)
{
	(void)arg;
	if (index < MAX_RECORDED) {
		sched_getaffinity(0, sizeof(init_mask[index]), &init_mask[index]);
		init_worker[index] = filch_current_worker();
		init_executor[index] = filch_current_executor();
	}
	return 0;
}

/* ---- created from a thread pinned to one CPU ---- */
struct narrow {
	unsigned workers_default;
	unsigned distinct_cpus; /* of a 2-worker executor's workers */
};

static void *narrow_thread(void *arg)
{
	struct narrow *r = arg;
	filch_executor *ex;

	if (filch_executor_create(&ex, NULL) == 0) {
		r->workers_default = filch_executor_workers(ex);
		filch_executor_destroy(ex);
	}
	if (filch_executor_create(&ex, &(struct filch_executor_opts){
					       .workers = 2,
					       .initializer = record_init}) == 0) {
		r->distinct_cpus = CPU_COUNT(&init_mask[0]) == 1 &&
						   CPU_COUNT(&init_mask[1]) == 1 &&
						   !CPU_EQUAL(&init_mask[0], &init_mask[1])
					   ? 2
					   : 1;
		filch_executor_destroy(ex);
	}
	return NULL;
}

static void test_narrow_creator(unsigned ncpu, const cpu_set_t *cpus)
{
	struct narrow r = {0};
	pthread_attr_t attr;
	cpu_set_t one;
	pthread_t t;

	if (ncpu < 2) {
		skip(2, "one CPU: no thread can be narrower than the process");
		return;
	}
	CPU_ZERO(&one);
	CPU_SET(lowest_cpu(cpus), &one);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
	pthread_create(&t, &attr, narrow_thread, &r);
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
	is(r.workers_default, ncpu,
	   "created from a thread pinned to one CPU: one worker per CPU of the process");
	is(r.distinct_cpus, 2,
	   "created from a thread pinned to one CPU: 2 workers on 2 CPUs");
}

/* ---- created inside a task of another (pinned) executor ---- */
static int create_inside(void *arg, void **result)
{
	filch_executor *ex;

	(void)arg;
	if (filch_executor_create(&ex, NULL) != 0)
		return EAGAIN;
	*result = (void *)(uintptr_t)filch_executor_workers(ex);
	return filch_executor_destroy(ex) == 0 ? 0 : EINVAL;
}

static void test_inside_task(unsigned ncpu)
{
	filch_executor *outer;
	filch_future *f;
	void *n = NULL;

	filch_executor_create(&outer, &(struct filch_executor_opts){.workers = 1});
	filch_submit(outer, create_inside, NULL, &f);
	is(filch_future_result(f, FILCH_FOREVER, &n), 0,
	   "an executor created and destroyed inside a task of a pinned one");
	is((uintptr_t)n, ncpu,
	   "created inside a task of a pinned executor: one worker per CPU of the process");
	filch_future_release(f);
	filch_executor_destroy(outer);
}

/* ---- two pinned executors ---- */
static int where(void *arg, void **result)
{
	cpu_set_t *mask = arg;

	(void)result;
	sched_getaffinity(0, sizeof(*mask), mask);
	return 0;
}

/* The mask of ex's only worker, read by a task. */
static cpu_set_t worker_mask(filch_executor *ex)
{
	cpu_set_t mask;
	filch_future *f;

	CPU_ZERO(&mask);
	filch_submit(ex, where, &mask, &f);
	filch_future_result(f, FILCH_FOREVER, NULL);
	filch_future_release(f);
	return mask;
}

static void test_two_executors(unsigned ncpu, const cpu_set_t *cpus)
{
	const struct filch_executor_opts one = {.workers = 1};
	filch_executor *a, *b;
	cpu_set_t ma, mb;

	if (ncpu < 2) {
		skip(3, "one CPU: every executor shares it");
		return;
	}
	filch_executor_create(&a, &one);
	filch_executor_create(&b, &one);
	ma = worker_mask(a);
	mb = worker_mask(b);
	ok(CPU_COUNT(&ma) == 1 && CPU_COUNT(&mb) == 1,
	   "AUTO: each 1-worker executor is pinned to one CPU");
	ok(!CPU_EQUAL(&ma, &mb),
	   "AUTO: two 1-worker executors land on different CPUs (%d, %d)",
	   lowest_cpu(&ma), lowest_cpu(&mb));
	filch_executor_destroy(a);
	filch_executor_destroy(b);
	filch_executor_create(&a, &one);
	ma = worker_mask(a);
	is(lowest_cpu(&ma), lowest_cpu(cpus),
	   "a freed executor releases its CPUs: the next one takes the first CPU");
	filch_executor_destroy(a);
}

/* ---- the initializer runs as its worker ---- */
static void test_initializer_identity(void)
{
	filch_executor *ex;
	bool good = true;

	is(filch_executor_create(&ex, &(struct filch_executor_opts){
					      .workers = 3,
					      .initializer = record_init}),
	   0, "create with an initializer");
	for (int i = 0; i < 3; i++)
		good &= init_worker[i] == i && init_executor[i] == ex;
	ok(good, "in the initializer, filch_current_worker() is its index and "
		 "filch_current_executor() its executor");
	filch_executor_destroy(ex);
}

int main(void)
{
	cpu_set_t cpus;
	unsigned ncpu = process_cpus(&cpus);

	tap_plan(0);
	diag("the process has %u CPUs", ncpu);
	test_narrow_creator(ncpu, &cpus);
	test_inside_task(ncpu);
	test_two_executors(ncpu, &cpus);
	test_initializer_identity();
	return tap_done();
}
