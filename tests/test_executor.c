/* SPDX-License-Identifier: MIT */
/* test_executor.c - executor options (workers, names, initializer,
 * pinning, bounded queue policies), submission, shutdown and destroy. */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <filch.h>

#include "runtime/futex.h"
#include "runtime/sched.h"
#include "tap.h"

#define LONG_WAIT_NS (10 * 1000000000LL) /* "eventually" in tests */

/* ---- a task record for filch__sched_submit ---- */
struct probe {
	struct filch__task task;
	void (*body)(struct probe *p);
	_Atomic int *ran, *discarded;
	_Atomic uint32_t *gate; /* nonzero: wait until it opens */
	_Atomic int started;
	pthread_t thread;
	int worker;
	filch_executor *seen_ex;
	char name[16];
	cpu_set_t cpus;
};

static void probe_run(struct filch__task *t, unsigned how)
{
	struct probe *p = (struct probe *)t;

	if (how & FILCH__RUN_DISCARD) {
		atomic_fetch_add(p->discarded, 1);
		return;
	}
	atomic_store(&p->started, 1);
	if (p->gate)
		while (atomic_load(p->gate) == 0)
			filch__futex_wait(p->gate, 0, filch__deadline(LONG_WAIT_NS));
	p->thread = pthread_self();
	p->worker = filch_current_worker();
	p->seen_ex = filch_current_executor();
	pthread_getname_np(pthread_self(), p->name, sizeof(p->name));
	sched_getaffinity(0, sizeof(p->cpus), &p->cpus);
	if (p->body)
		p->body(p);
	atomic_fetch_add(p->ran, 1);
}

static void probe_init(struct probe *p, _Atomic int *ran, _Atomic int *discarded)
{
	memset(p, 0, sizeof(*p));
	p->task.run = probe_run;
	p->ran = ran;
	p->discarded = discarded;
	p->worker = -2;
}

static bool wait_count(_Atomic int *n, int want)
{
	int64_t end = tap_now_ns() + LONG_WAIT_NS;

	while (atomic_load(n) < want && tap_now_ns() < end)
		usleep(200);
	return atomic_load(n) >= want;
}

static void open_gate(_Atomic uint32_t *gate)
{
	atomic_store(gate, 1);
	filch__futex_wake(gate, INT32_MAX);
}

/* Threads of this process whose name starts with prefix. Only named
 * threads count: liburcu's call_rcu thread and the sanitizers' own threads
 * come and go on their own schedule. */
static int count_threads_named(const char *prefix)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* the thread exited meanwhile */
		if (fgets(comm, sizeof(comm), f) &&
		    strncmp(comm, prefix, strlen(prefix)) == 0)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

static unsigned affinity_count(void)
{
	cpu_set_t s;

	sched_getaffinity(0, sizeof(s), &s);
	return (unsigned)CPU_COUNT(&s);
}

static void test_bad_options(void)
{
	filch_executor *ex = (filch_executor *)1;

	is(filch_executor_create(NULL, NULL), -EINVAL, "create(NULL)");
	is(filch_executor_create(&ex, &(struct filch_executor_opts){.flags = 1u << 30}),
	   -EINVAL, "unknown flag");
	ok(ex == (filch_executor *)1, "*ex untouched after a failed create");
	is(filch_executor_create(&ex, &(struct filch_executor_opts){.pin = 7}),
	   -EINVAL, "bad pin policy");
	is(filch_executor_create(&ex, &(struct filch_executor_opts){.full_policy = 9}),
	   -EINVAL, "bad full policy");
	is(filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 1u << 20}),
	   -EINVAL, "too many workers");
	is(filch_executor_destroy(NULL), 0, "destroy(NULL)");
	is(filch_shutdown(NULL, 0), -EINVAL, "shutdown(NULL)");
	is(filch_executor_workers(NULL), 0, "workers(NULL)");
	ok(filch_current_executor() == NULL, "no current executor on a foreign thread");
	is(filch_current_worker(), -1, "no worker index on a foreign thread");
}

static void test_defaults(void)
{
	filch_executor *ex;
	_Atomic int ran = 0, disc = 0;
	struct probe p;

	is(filch_executor_create(&ex, NULL), 0, "create with defaults");
	is(filch_executor_workers(ex), affinity_count(),
	   "default workers: the CPUs of the affinity mask");
	probe_init(&p, &ran, &disc);
	is(filch__sched_submit(ex, &p.task), 0, "submit from a foreign thread");
	ok(wait_count(&ran, 1), "the task ran");
	ok(p.seen_ex == ex, "filch_current_executor() inside a task");
	ok(p.worker >= 0 && p.worker < (int)filch_executor_workers(ex),
	   "filch_current_worker() inside a task: %d", p.worker);
	ok(strncmp(p.name, "filch-", 6) == 0, "default thread name: %s", p.name);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0, "shutdown(WAIT)");
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0, "a second shutdown is harmless");
	is(filch_shutdown(ex, 8), -EINVAL, "shutdown with an unknown flag");
	probe_init(&p, &ran, &disc);
	is(filch__sched_submit(ex, &p.task), -ESHUTDOWN, "submit after shutdown");
	is(filch_executor_destroy(ex), 0, "destroy after shutdown");
}

/* ---- names and the initializer ---- */
#define NAMED 3
static char init_names[NAMED][16];
static _Atomic int init_calls;

static int name_init(void *arg, unsigned index)
{
	(void)arg;
	atomic_fetch_add(&init_calls, 1);
	if (index < NAMED)
		pthread_getname_np(pthread_self(), init_names[index], 16);
	return 0;
}

static int fail_init(void *arg, unsigned index)
{
	atomic_fetch_add(&init_calls, 1);
	return index == (unsigned)(intptr_t)arg ? 42 : 0;
}

static void test_names_and_initializer(void)
{
	struct filch_executor_opts o = {.workers = NAMED, .name_prefix = "io",
					.initializer = name_init};
	filch_executor *ex;
	char want[32];

	is(filch_executor_create(&ex, &o), 0, "create with a prefix and an initializer");
	is(atomic_load(&init_calls), NAMED, "the initializer ran once per worker");
	for (int i = 0; i < NAMED; i++) {
		snprintf(want, sizeof(want), "io-%d", i);
		ok(strcmp(init_names[i], want) == 0, "worker %d is named %s (%s)", i,
		   want, init_names[i]);
	}
	filch_executor_destroy(ex);

	o.name_prefix = "a-rather-long-prefix";
	o.workers = 1;
	is(filch_executor_create(&ex, &o), 0, "create with a long prefix");
	ok(strcmp(init_names[0], "a-rather-long-0") == 0,
	   "a long prefix is cut, the index kept, in 15 characters (%s)",
	   init_names[0]);
	filch_executor_destroy(ex);

	atomic_store(&init_calls, 0);
	o = (struct filch_executor_opts){.workers = 4, .initializer = fail_init,
					 .initializer_arg = (void *)(intptr_t)2};
	ex = (filch_executor *)1;
	is(filch_executor_create(&ex, &o), -42, "a failing initializer fails create with its code");
	ok(ex == (filch_executor *)1, "*ex untouched when an initializer fails");
	is(atomic_load(&init_calls), 4, "every started worker ran its initializer");
	is(count_threads_named("filch-") - count_threads_named("filch-rcu"), 0,
	   "no worker thread is left behind");
}

/* ---- pinning ---- */
static void test_pinning(void)
{
	unsigned ncpu = affinity_count();
	_Atomic int ran = 0, disc = 0;
	_Atomic uint32_t gate = 0;
	struct probe p[2];
	filch_executor *ex;

	/* Two tasks held on their workers by a gate, so each runs on a
	 * different worker. Only possible with two CPUs or more. */
	if (ncpu >= 2) {
		filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 2});
		for (int i = 0; i < 2; i++) {
			probe_init(&p[i], &ran, &disc);
			p[i].gate = &gate;
			filch__sched_submit(ex, &p[i].task);
		}
		usleep(20000);
		open_gate(&gate);
		ok(wait_count(&ran, 2), "pinned: both tasks ran");
		ok(CPU_COUNT(&p[0].cpus) == 1 && CPU_COUNT(&p[1].cpus) == 1,
		   "AUTO with workers <= CPUs pins each worker to one CPU");
		filch_executor_destroy(ex);
	} else {
		skip(1, "one CPU");
		skip(1, "one CPU");
	}

	atomic_store(&ran, 0);
	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = ncpu + 1});
	probe_init(&p[0], &ran, &disc);
	filch__sched_submit(ex, &p[0].task);
	ok(wait_count(&ran, 1) && (unsigned)CPU_COUNT(&p[0].cpus) == ncpu,
	   "AUTO with more workers than CPUs does not pin");
	filch_executor_destroy(ex);

	atomic_store(&ran, 0);
	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 1,
								  .pin = FILCH_PIN_NONE});
	probe_init(&p[0], &ran, &disc);
	filch__sched_submit(ex, &p[0].task);
	ok(wait_count(&ran, 1) && (unsigned)CPU_COUNT(&p[0].cpus) == ncpu,
	   "PIN_NONE does not pin");
	filch_executor_destroy(ex);

	atomic_store(&ran, 0);
	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = ncpu + 1,
								  .pin = FILCH_PIN_CPUS});
	probe_init(&p[0], &ran, &disc);
	filch__sched_submit(ex, &p[0].task);
	ok(wait_count(&ran, 1) && CPU_COUNT(&p[0].cpus) == 1,
	   "PIN_CPUS pins even with more workers than CPUs");
	filch_executor_destroy(ex);
}

/* ---- the bounded queue ---- */
static pthread_t caller;

static void test_bounded(int policy, const char *what)
{
	struct filch_executor_opts o = {.workers = 1, .queue_capacity = 2,
					.full_policy = policy,
					.full_timeout_ns = 30 * 1000000LL};
	_Atomic int ran = 0, disc = 0;
	_Atomic uint32_t gate = 0;
	struct probe blocker, q[3];
	filch_executor *ex;
	int64_t t0;
	int rc;

	filch_executor_create(&ex, &o);
	probe_init(&blocker, &ran, &disc);
	blocker.gate = &gate;
	filch__sched_submit(ex, &blocker.task);
	/* The worker takes the blocker (the queue is then empty). */
	ok(wait_count(&blocker.started, 1), "%s: the worker holds the blocker", what);
	for (int i = 0; i < 2; i++) {
		probe_init(&q[i], &ran, &disc);
		is(filch__sched_submit(ex, &q[i].task), 0, "%s: task %d fits", what, i);
	}
	probe_init(&q[2], &ran, &disc);
	t0 = tap_now_ns();
	rc = filch__sched_submit(ex, &q[2].task);
	switch (policy) {
	case FILCH_FULL_FAIL:
		is(rc, -EAGAIN, "%s: a full queue fails at once", what);
		break;
	case FILCH_FULL_BLOCK:
		is(rc, -EAGAIN, "%s: a full queue fails after the timeout", what);
		ok(tap_now_ns() - t0 >= 30 * 1000000LL, "%s: it waited the timeout", what);
		break;
	case FILCH_FULL_CALLER_RUNS:
		is(rc, 0, "%s: the task ran", what);
		ok(pthread_equal(q[2].thread, caller), "%s: in the submitting thread", what);
		break;
	}
	open_gate(&gate);
	ok(wait_count(&ran, policy == FILCH_FULL_CALLER_RUNS ? 4 : 3),
	   "%s: the queued tasks ran", what);
	filch_executor_destroy(ex);
}

struct opener {
	_Atomic uint32_t *gate;
};

static void *open_later(void *arg)
{
	usleep(30000);
	open_gate(((struct opener *)arg)->gate);
	return NULL;
}

static void test_bounded_block_unblocks(void)
{
	struct filch_executor_opts o = {.workers = 1, .queue_capacity = 1};
	_Atomic int ran = 0, disc = 0;
	_Atomic uint32_t gate = 0;
	struct probe blocker, q[2];
	struct opener op = {&gate};
	filch_executor *ex;
	pthread_t th;

	filch_executor_create(&ex, &o);
	probe_init(&blocker, &ran, &disc);
	blocker.gate = &gate;
	filch__sched_submit(ex, &blocker.task);
	wait_count(&blocker.started, 1);
	probe_init(&q[0], &ran, &disc);
	filch__sched_submit(ex, &q[0].task);
	pthread_create(&th, NULL, open_later, &op);
	probe_init(&q[1], &ran, &disc);
	is(filch__sched_submit(ex, &q[1].task), 0,
	   "BLOCK (no timeout): a full queue blocks until there is room");
	ok(wait_count(&ran, 3), "BLOCK: everything ran");
	pthread_join(th, NULL);
	filch_executor_destroy(ex);
}

/* ---- shutdown ---- */
static filch_executor *shut_ex;
static _Atomic int child_rc = 1, deadlk_rc = 1, destroy_rc = 1;
static struct probe child;

static void submit_child(struct probe *p)
{
	/* Running during a graceful drain: children are still accepted. */
	usleep(20000);
	probe_init(&child, p->ran, p->discarded);
	atomic_store(&child_rc, filch__sched_submit(shut_ex, &child.task));
	atomic_store(&deadlk_rc, filch_shutdown(shut_ex, FILCH_SHUTDOWN_WAIT));
	atomic_store(&destroy_rc, filch_executor_destroy(shut_ex));
}

static void test_shutdown(void)
{
	_Atomic int ran = 0, disc = 0;
	_Atomic uint32_t gate = 0;
	struct probe parent, blocker, queued[20];

	filch_executor_create(&shut_ex, &(struct filch_executor_opts){.workers = 2});
	probe_init(&parent, &ran, &disc);
	parent.body = submit_child;
	filch__sched_submit(shut_ex, &parent.task);
	usleep(5000);
	is(filch_shutdown(shut_ex, FILCH_SHUTDOWN_WAIT), 0, "graceful shutdown while a task runs");
	is(atomic_load(&ran), 2, "the running task's child ran during the drain");
	is(atomic_load(&child_rc), 0, "a running task may submit during the drain");
	is(atomic_load(&deadlk_rc), -EDEADLK, "shutdown(WAIT) from an own worker is -EDEADLK");
	is(atomic_load(&destroy_rc), -EDEADLK, "destroy from an own worker is -EDEADLK");
	filch_executor_destroy(shut_ex);

	/* Cancelling: one task holds the only worker; the rest are queued. */
	atomic_store(&ran, 0);
	filch_executor_create(&shut_ex, &(struct filch_executor_opts){.workers = 1});
	probe_init(&blocker, &ran, &disc);
	blocker.gate = &gate;
	filch__sched_submit(shut_ex, &blocker.task);
	wait_count(&blocker.started, 1);
	for (int i = 0; i < 20; i++) {
		probe_init(&queued[i], &ran, &disc);
		filch__sched_submit(shut_ex, &queued[i].task);
	}
	is(filch_shutdown(shut_ex, FILCH_SHUTDOWN_CANCEL_PENDING), 0, "cancelling shutdown");
	open_gate(&gate);
	is(filch_shutdown(shut_ex, FILCH_SHUTDOWN_WAIT), 0, "then wait");
	is(atomic_load(&ran), 1, "the running task finished");
	is(atomic_load(&disc), 20, "every pending task was discarded (FILCH__RUN_DISCARD)");
	filch_executor_destroy(shut_ex);

	/* destroy with busy workers drains first. */
	atomic_store(&ran, 0);
	filch_executor_create(&shut_ex, &(struct filch_executor_opts){.workers = 2});
	for (int i = 0; i < 20; i++) {
		probe_init(&queued[i], &ran, &disc);
		filch__sched_submit(shut_ex, &queued[i].task);
	}
	is(filch_executor_destroy(shut_ex), 0, "destroy with tasks queued");
	is(atomic_load(&ran), 20, "destroy ran every queued task first");

	/* destroy idle, and the scope helper. */
	{
		FILCH_SCOPED_EXECUTOR scoped = NULL;

		is(filch_executor_create(&scoped, &(struct filch_executor_opts){.workers = 3}),
		   0, "a scoped executor");
		usleep(2000);
	}
	ok(1, "leaving the scope destroyed it (LSan checks the memory)");
}

int main(void)
{
	tap_plan(0);
	caller = pthread_self();
	test_bad_options();
	test_defaults();
	test_names_and_initializer();
	test_pinning();
	test_bounded(FILCH_FULL_FAIL, "FAIL");
	test_bounded(FILCH_FULL_BLOCK, "BLOCK");
	test_bounded(FILCH_FULL_CALLER_RUNS, "CALLER_RUNS");
	test_bounded_block_unblocks();
	test_shutdown();
	return tap_done();
}
