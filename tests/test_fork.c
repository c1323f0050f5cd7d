/* SPDX-License-Identifier: MIT */
/*
 * test_fork.c - fork() with executors: in the child, an inherited executor
 * refuses every call with -EOWNERDEAD without hanging, and a new executor
 * works (submit, wait, group, a deque that grew and its rcu_barrier at
 * teardown); in the parent, the executor works on. Forks from the main
 * thread with an idle pool, from a foreign thread while the pool is busy,
 * and from inside a task; and forks while another thread starts and stops
 * a trace, whose lock no child may inherit held.
 *
 * Each child reports the checks it passed as a bit mask through a pipe;
 * the parent asserts them. Watchdogs: the child dies of SIGALRM if it
 * hangs (the parent sees the signal), the parent bails out.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filch.h>

#include "runtime/atomic.h" /* FILCH_TSAN */
#include "tap.h"

#define CHILD_WATCHDOG_S 20
#define PARENT_WATCHDOG_S 120
#define CHILD_TASKS 1000
#define WIDE_GROUP 2000 /* spawns from one worker: its deque grows */
#define TRACE_FORKS 16	/* forks while a trace starts and stops */

/* The child's checks, one bit each. */
enum {
	C_SUBMIT = 1u << 0,   /* filch_submit on the inherited executor */
	C_SHUTDOWN = 1u << 1, /* filch_shutdown on it */
	C_DESTROY = 1u << 2,  /* filch_executor_destroy on it */
	C_OTHERS = 1u << 3,   /* group_init, future_then, map on it */
	C_STRERROR = 1u << 4, /* filch_strerror(-EOWNERDEAD) names it */
	C_DONE_FUT = 1u << 5, /* a future done in the parent reads in the child */
	C_FOREIGN = 1u << 6,  /* the forking thread is no worker in the child */
	C_CREATE = 1u << 7,   /* a new executor: create, submit, wait */
	C_GROUP = 1u << 8,    /* a group on it, and a wide one from a task */
	C_NEW_DESTROY = 1u << 9, /* its destroy returns (rcu_barrier) */
};
#define C_INHERITED_ALL \
	(C_SUBMIT | C_SHUTDOWN | C_DESTROY | C_OTHERS | C_STRERROR | \
	 C_DONE_FUT | C_FOREIGN)
#define C_NEW_ALL (C_CREATE | C_GROUP | C_NEW_DESTROY)

/* TSan's runtime cannot start threads in the child of a multi-threaded
 * fork: it kills the child (die_after_fork), and without that option it
 * fails on glibc's reuse of a dead thread's stack ("dup thread"). Under
 * TSan the child then checks only the inherited executor, and the parent
 * keeps urcu's call_rcu thread from existing before a fork (urcu's child
 * hook would start a new one). */
#ifdef FILCH_TSAN
static const bool child_threads = false;
#else
static const bool child_threads = true;
#endif
#define NO_CHILD_THREADS \
	"TSan cannot start threads in the child of a multi-threaded fork"

static int twice(void *arg, void **result)
{
	*result = (void *)(2 * (uintptr_t)arg);
	return 0;
}

static int then_fn(filch_future *a, void *arg, void **result)
{
	(void)a, (void)arg, (void)result;
	return 0;
}

static _Atomic int jobs_ran;

static int count_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&jobs_ran, 1);
	return 0;
}

/* Submits n tasks with futures to ex and checks every result. */
static bool run_tasks(filch_executor *ex, unsigned n)
{
	filch_future *fs[CHILD_TASKS];
	bool good = n <= CHILD_TASKS;

	for (unsigned i = 0; good && i < n; i++)
		if (filch_submit(ex, twice, (void *)(uintptr_t)i, &fs[i]) != 0)
			n = i, good = false;
	for (unsigned i = 0; i < n; i++) {
		void *r = NULL;

		good &= filch_future_result(fs[i], FILCH_FOREVER, &r) == 0 &&
			(uintptr_t)r == 2 * i;
		filch_future_release(fs[i]);
	}
	return good;
}

/* A task that spawns WIDE_GROUP jobs onto its own worker's deque (which
 * grows, retiring its first buffer through call_rcu) and waits them. */
static int wide_group_task(void *arg, void **result)
{
	filch_group g;

	(void)arg, (void)result;
	if (filch_group_init(&g, filch_current_executor()) != 0)
		return EINVAL;
	for (int i = 0; i < WIDE_GROUP; i++)
		if (filch_group_spawn(&g, count_job, NULL) != 0)
			return ENOMEM;
	return filch_group_wait(&g);
}

static unsigned child_new_executor(void)
{
	filch_executor *ex;
	filch_future *f;
	filch_group g;
	unsigned bits = 0;

	if (filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 2}) != 0)
		return 0;
	if (run_tasks(ex, CHILD_TASKS))
		bits |= C_CREATE;
	atomic_store(&jobs_ran, 0);
	filch_group_init(&g, ex);
	for (int i = 0; i < 100; i++)
		filch_group_spawn(&g, count_job, NULL);
	if (filch_group_wait(&g) == 0 &&
	    filch_submit(ex, wide_group_task, NULL, &f) == 0) {
		if (filch_future_result(f, FILCH_FOREVER, NULL) == 0 &&
		    atomic_load(&jobs_ran) == 100 + WIDE_GROUP)
			bits |= C_GROUP;
		filch_future_release(f);
	}
	if (filch_executor_destroy(ex) == 0)
		bits |= C_NEW_DESTROY;
	return bits;
}

/* Everything the child checks; done is a future finished in the parent. */
static unsigned child_checks(filch_executor *inherited, filch_future *done)
{
	filch_future *out = NULL;
	filch_group g;
	filch_map_iter *it = NULL;
	void *items[1] = {NULL}, *r = NULL;
	unsigned bits = 0;

	if (filch_submit(inherited, twice, NULL, NULL) == -EOWNERDEAD &&
	    filch_submit(inherited, twice, NULL, &out) == -EOWNERDEAD && !out)
		bits |= C_SUBMIT;
	if (filch_shutdown(inherited, 0) == -EOWNERDEAD &&
	    filch_shutdown(inherited, FILCH_SHUTDOWN_WAIT) == -EOWNERDEAD)
		bits |= C_SHUTDOWN;
	if (filch_executor_destroy(inherited) == -EOWNERDEAD)
		bits |= C_DESTROY;
	if (filch_group_init(&g, inherited) == 0 &&
	    filch_group_spawn(&g, count_job, NULL) == -EOWNERDEAD &&
	    filch_group_wait(&g) == 0 &&
	    filch_future_then(done, inherited, then_fn, NULL, &out) == -EOWNERDEAD &&
	    filch_map(&it, inherited, twice, items, 1, NULL) == -EOWNERDEAD &&
	    !it && !out)
		bits |= C_OTHERS;
	if (strstr(filch_strerror(-EOWNERDEAD), "fork"))
		bits |= C_STRERROR;
	if (filch_future_result(done, 0, &r) == 0 && (uintptr_t)r == 14)
		bits |= C_DONE_FUT;
	if (!filch_current_executor() && filch_current_worker() == -1)
		bits |= C_FOREIGN;
	if (child_threads)
		bits |= child_new_executor();
	return bits;
}

/* In the child: run the checks, report them, exit without flushing the
 * parent's stdio buffers or running its atexit handlers. */
static _Noreturn void child_main(int fd, filch_executor *inherited,
				 filch_future *done)
{
	unsigned bits;

	signal(SIGALRM, SIG_DFL);
	alarm(CHILD_WATCHDOG_S);
	bits = child_checks(inherited, done);
	_exit(write(fd, &bits, sizeof(bits)) == sizeof(bits) ? 0 : 1);
}

struct forked {
	pid_t pid;
	int fd; /* read end of the child's report */
};

static struct forked fork_checked(filch_executor *inherited, filch_future *done)
{
	struct forked c = {.pid = -1, .fd = -1};
	int p[2];

	if (pipe(p) != 0)
		return c;
	fflush(stdout);
	c.pid = fork();
	if (c.pid == 0) {
		close(p[0]);
		child_main(p[1], inherited, done);
	}
	close(p[1]);
	c.fd = p[0];
	return c;
}

static void expect_child(struct forked c, const char *what)
{
	unsigned bits = 0;
	int status = 0;

	if (!ok(c.pid > 0, "%s: fork", what))
		return;
	if (read(c.fd, &bits, sizeof(bits)) != sizeof(bits))
		bits = 0;
	close(c.fd);
	waitpid(c.pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "%s: the child exited normally (%s %d)", what,
	   WIFSIGNALED(status) ? "signal" : "status",
	   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	is(bits & C_INHERITED_ALL, C_INHERITED_ALL,
	   "%s: in the child, the inherited executor refuses every call "
	   "with -EOWNERDEAD", what);
	if (child_threads)
		is(bits & C_NEW_ALL, C_NEW_ALL,
		   "%s: in the child, a new executor runs tasks and a group "
		   "and is destroyed", what);
	else
		skip(1, NO_CHILD_THREADS);
}

static filch_future *done_future(filch_executor *ex)
{
	filch_future *f = NULL;

	filch_submit(ex, twice, (void *)7, &f);
	filch_future_result(f, FILCH_FOREVER, NULL);
	return f;
}

/* ---- (a) from the main thread, the pool idle ---- */
static void test_fork_idle(void)
{
	filch_executor *ex;
	filch_future *done;

	is(filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 2}), 0,
	   "idle: create");
	ok(run_tasks(ex, 100), "idle: tasks run before the fork");
	done = done_future(ex);
	expect_child(fork_checked(ex, done), "idle");
	ok(run_tasks(ex, 100), "idle: the parent's executor works after the fork");
	filch_future_release(done);
	is(filch_executor_destroy(ex), 0, "idle: the parent destroys it");
}

/* ---- (b) from a foreign thread, the pool busy ---- */
static _Atomic bool stop_busy;

static int busy_task(void *arg, void **result)
{
	(void)arg, (void)result;
	for (volatile int i = 0; i < 2000; i++)
		;
	return 0;
}

struct fork_arg {
	filch_executor *ex;
	filch_future *done;
	struct forked child;
};

static void *forking_thread(void *arg)
{
	struct fork_arg *a = arg;

	usleep(10000); /* let the pool fill */
	a->child = fork_checked(a->ex, a->done);
	atomic_store(&stop_busy, true);
	return NULL;
}

static void test_fork_busy(void)
{
	struct fork_arg a = {0};
	filch_future *f = NULL;
	pthread_t t;
	unsigned submitted = 0;

	filch_executor_create(&a.ex, &(struct filch_executor_opts){.workers = 2});
	a.done = done_future(a.ex);
	/* A deque that grows retires a buffer: the parent has a call_rcu
	 * thread at the fork. */
	if (child_threads) {
		ok(filch_submit(a.ex, wide_group_task, NULL, &f) == 0 &&
			   filch_future_result(f, FILCH_FOREVER, NULL) == 0,
		   "busy: a wide group grew a deque before the fork");
		filch_future_release(f);
	} else {
		skip(1, NO_CHILD_THREADS);
	}
	atomic_store(&stop_busy, false);
	pthread_create(&t, NULL, forking_thread, &a);
	/* Keep tasks running and queued until the fork happened. */
	while (!atomic_load(&stop_busy))
		submitted += filch_submit(a.ex, busy_task, NULL, NULL) == 0;
	pthread_join(t, NULL);
	diag("busy: %u tasks submitted around the fork", submitted);
	expect_child(a.child, "busy");
	ok(run_tasks(a.ex, 100), "busy: the parent's executor works after the fork");
	filch_future_release(a.done);
	is(filch_executor_destroy(a.ex), 0, "busy: the parent destroys it");
}

/* ---- (c) from inside a task ---- */
static int forking_task(void *arg, void **result)
{
	struct fork_arg *a = arg;

	(void)result;
	a->child = fork_checked(a->ex, a->done);
	return 0;
}

static void test_fork_in_task(void)
{
	struct fork_arg a = {0};
	filch_future *f;

	filch_executor_create(&a.ex, &(struct filch_executor_opts){.workers = 2});
	a.done = done_future(a.ex);
	is(filch_submit(a.ex, forking_task, &a, &f), 0, "in a task: submit");
	is(filch_future_result(f, FILCH_FOREVER, NULL), 0, "in a task: it forked");
	filch_future_release(f);
	expect_child(a.child, "in a task");
	ok(run_tasks(a.ex, 100), "in a task: the parent's executor works after the fork");
	filch_future_release(a.done);
	is(filch_executor_destroy(a.ex), 0, "in a task: the parent destroys it");
}

/* ---- (d) while another thread starts and stops a trace ---- */
static _Atomic bool stop_toggling;
static _Atomic unsigned toggles, toggle_errors;

/* Starts and stops a trace of ex until told to stop: most of the time
 * inside trace.c's lock (the allocation of the rings, the detach). */
static void *trace_toggler(void *arg)
{
	const struct filch_trace_opts opts = {.events = 64};
	filch_executor *ex = arg;

	while (!atomic_load(&stop_toggling)) {
		if (filch_trace_start(ex, &opts) != 0 ||
		    filch_trace_stop(ex, NULL) != 0)
			atomic_fetch_add(&toggle_errors, 1);
		atomic_fetch_add(&toggles, 1);
	}
	return NULL;
}

/* In the child: a new executor's trace starts and stops (reports 1), or
 * the child cannot start threads (reports 2). A lock inherited held
 * hangs it until the watchdog. */
static _Noreturn void trace_child(int fd)
{
	filch_executor *ex;
	unsigned res = 2;

	signal(SIGALRM, SIG_DFL);
	alarm(CHILD_WATCHDOG_S);
	if (child_threads) {
		res = 0;
		if (filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 1}) == 0) {
			res = filch_trace_start(ex, NULL) == 0 &&
			      filch_trace_stop(ex, NULL) == 0;
			filch_executor_destroy(ex);
		}
	}
	_exit(write(fd, &res, sizeof(res)) == sizeof(res) ? 0 : 1);
}

/* Forks TRACE_FORKS children at once while a thread toggles a trace;
 * each must start and stop a trace of its own, none hang. */
static void test_fork_tracing(void)
{
	struct forked c[TRACE_FORKS];
	filch_executor *ex;
	pthread_t t;
	unsigned traced = 0, exited = 0, skipped = 0, before;

	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 1});
	atomic_store(&stop_toggling, false);
	pthread_create(&t, NULL, trace_toggler, ex);
	while (atomic_load(&toggles) == 0)
		sched_yield();
	for (int i = 0; i < TRACE_FORKS; i++) {
		int p[2];

		c[i].pid = -1;
		if (pipe(p) != 0)
			continue;
		fflush(stdout);
		if ((c[i].pid = fork()) == 0) {
			close(p[0]);
			trace_child(p[1]);
		}
		close(p[1]);
		c[i].fd = p[0];
	}
	before = atomic_load(&toggles);
	while (atomic_load(&toggles) < before + 10)
		sched_yield();
	atomic_store(&stop_toggling, true);
	pthread_join(t, NULL);
	for (int i = 0; i < TRACE_FORKS; i++) {
		unsigned res = 0;
		int status = 0;

		if (c[i].pid <= 0)
			continue;
		if (read(c[i].fd, &res, sizeof(res)) != sizeof(res))
			res = 0;
		close(c[i].fd);
		waitpid(c[i].pid, &status, 0);
		exited += WIFEXITED(status) && WEXITSTATUS(status) == 0;
		traced += res == 1;
		skipped += res == 2;
	}
	diag("tracing: %u starts and stops in the parent", atomic_load(&toggles));
	is(exited, TRACE_FORKS,
	   "tracing: every child forked while a trace started and stopped "
	   "exited (none hung on the trace lock)");
	if (skipped == TRACE_FORKS)
		skip(1, NO_CHILD_THREADS);
	else
		is(traced, TRACE_FORKS,
		   "tracing: each child started and stopped a trace of a new "
		   "executor");
	is(atomic_load(&toggle_errors), 0,
	   "tracing: the parent's starts and stops went on after the forks");
	is(filch_executor_destroy(ex), 0, "tracing: the parent destroys it");
}

static void watchdog(int sig)
{
	static const char msg[] = "Bail out! watchdog: test_fork hung\n";

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(void)
{
	tap_plan(0);
	signal(SIGALRM, watchdog);
	alarm(PARENT_WATCHDOG_S);
	test_fork_idle();
	test_fork_busy();
	test_fork_in_task();
	test_fork_tracing();
	return tap_done();
}
