/* SPDX-License-Identifier: MIT */
/*
 * executor.c - creating, sharing, shutting down and freeing an executor:
 * options, pinning, worker startup with initializers (primaries at
 * creation, spares when spare.c asks), submission from workers and from
 * foreign threads (with the bounded-queue policies).
 *
 * Lifetime: refs starts at 1, the user's reference, dropped by
 * filch_executor_destroy after a waiting shutdown; continuations hold more
 * (filch__executor_retain). The last release frees the memory; the
 * threads were joined before the user's reference could go.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cpuset.h"
#include "fault.h"
#include "fj.h"
#include "fork.h"
#include "futex.h"
#include "park.h"
#include "perturb.h"
#include "timer.h"
#include "trace.h"
#include "worker.h"

#define DEFAULT_NAME_PREFIX "filch"
/* Initial deque capacity: 2^8 tasks (it grows). */
#define DEQUE_LOG2 8

static int start_gate_wait(filch_executor *ex)
{
	uint32_t g;

	/* Acquire: pairs with the release store of the gate in
	 * open_gate (the executor is fully set up before GO). */
	while ((g = filch__load(&ex->gate, acquire)) == FILCH__GATE_WAIT)
		filch__futex_wait(&ex->gate, FILCH__GATE_WAIT, FILCH__NO_DEADLINE);
	return g;
}

/*
 * A spare's start-up handshake, on its dormant word (spare.c has the
 * word's other values): SPARE_STARTING, set by filch__executor_start_spare
 * before the thread exists, then SPARE_READY or SPARE_FAILED, stored by
 * the thread once its initializer returned.
 */
#define SPARE_READY 0u
#define SPARE_STARTING 2u
#define SPARE_FAILED 3u

static void spare_started(struct filch__worker *w, int rc)
{
	/* Release: the initializer's effects before the answer; pairs with
	 * the acquire load in filch__executor_start_spare. */
	filch__store(&w->dormant, rc ? SPARE_FAILED : SPARE_READY, release);
	filch__futex_wake(&w->dormant, 1);
}

static void primary_started(filch_executor *ex, int rc)
{
	if (rc != 0) {
		int none = 0;

		/* Relaxed: published by the release increment of started. */
		filch__cas(&ex->init_error, &none, rc > 0 ? -rc : rc, relaxed,
			   relaxed);
	}
	/* Release: init_error (and the initializer's effects) before the
	 * count; pairs with the acquire loads in wait_started. */
	filch__add(&ex->started, 1, release);
	filch__futex_wake(&ex->started, 1);
}

/* "<prefix>-<index>" in the 15 characters of a thread name: the prefix
 * is cut, never the index, so that no two threads share a name. */
static void set_thread_name(const char *prefix, unsigned index)
{
	char suffix[12], name[16];
	size_t n = (size_t)snprintf(suffix, sizeof(suffix), "-%u", index);
	size_t keep = strnlen(prefix, sizeof(name) - 1 - n);

	memcpy(name, prefix, keep);
	memcpy(name + keep, suffix, n + 1);
	pthread_setname_np(pthread_self(), name);
}

static void *worker_thread(void *arg)
{
	struct filch__worker *w = arg;
	filch_executor *ex = w->ex;
	bool spare = w->index >= ex->nworkers;
	int rc = 0;

	set_thread_name(ex->name_prefix, w->index);
	filch__fork_rcu_register();
	/* A worker from here on: filch_current_worker() and
	 * filch_current_executor() answer in the initializer too. */
	filch__self = w;
	if (ex->initializer)
		rc = ex->initializer(ex->initializer_arg, w->index);
	if (spare)
		spare_started(w, rc);
	else
		primary_started(ex, rc);
	/* A spare starts while the executor runs: its gate is open. */
	if (rc == 0 && start_gate_wait(ex) == FILCH__GATE_GO)
		filch__worker_run(w);
	filch__self = NULL;
	filch__fork_rcu_unregister();
	return NULL;
}

static void wait_started(filch_executor *ex, uint32_t n)
{
	uint32_t s;

	/* Acquire: pairs with the release increment in worker_thread. */
	while ((s = filch__load(&ex->started, acquire)) < n)
		filch__futex_wait(&ex->started, s, FILCH__NO_DEADLINE);
}

static void open_gate(filch_executor *ex, uint32_t value)
{
	/* Release: everything create wrote before the workers go on. */
	filch__store(&ex->gate, value, release);
	filch__futex_wake(&ex->gate, INT32_MAX);
}

static void join_threads(filch_executor *ex, unsigned first, unsigned n)
{
	for (unsigned i = first; i < n; i++)
		pthread_join(ex->workers[i].thread, NULL);
}

/* Slots with a deque: the primaries and every spare started. */
static unsigned slots_used(filch_executor *ex)
{
	/* Acquire: pairs with filch__executor_start_spare's release. */
	return filch__load(&ex->nthreads, acquire);
}

/* Gives every task still queued in the injector and in the first ndeques
 * deques its run(t, FILCH__RUN_DISCARD). Any thread: deques are emptied by stealing, so
 * their owners may run meanwhile (a cancelling shutdown). */
static void discard_queued(filch_executor *ex, unsigned ndeques)
{
	struct filch__task *t;
	void *item;

	while ((t = filch__inject_take(&ex->inject, NULL, 1))) {
		filch__xstat_add(&ex->xstats.discarded, 1);
		t->run(t, FILCH__RUN_DISCARD);
	}
	for (unsigned i = 0; i < ndeques; i++) {
		struct filch__deque *d = &ex->workers[i].deque;
		int rc;

		while ((rc = filch__deque_steal(d, &item)) != FILCH__STEAL_EMPTY)
			if (rc == FILCH__STEAL_OK) {
				filch__xstat_add(&ex->xstats.discarded, 1);
				((struct filch__task *)item)
					->run(item, FILCH__RUN_DISCARD);
			}
	}
}

/* Frees ex and its workers' deques; the threads are gone. */
static void executor_free(filch_executor *ex, unsigned ndeques)
{
	/* Only an aborted start (an initializer that submitted) can leave
	 * tasks queued here. */
	discard_queued(ex, ndeques);
	filch__trace_freed(ex);
	for (unsigned i = 0; i < ndeques; i++) {
		filch__deque_destroy(&ex->workers[i].deque);
		filch__fj_destroy(filch__load(&ex->workers[i].fj, relaxed));
	}
	filch__cpuset_release(ex->workers, ex->nworkers);
	filch__spares_destroy(&ex->spares);
	filch__timers_free(ex);
	pthread_mutex_destroy(&ex->join_lock);
	filch__free(ex->workers);
	filch__free(ex);
}

static int check_opts(const struct filch_executor_opts *o)
{
	if ((o->flags & ~(FILCH_OPT_STACK_SIZE | FILCH_OPT_MAX_SPARES |
			  FILCH_OPT_INHERIT_SIGMASK | FILCH_OPT_ON_TASK_ERROR |
			  FILCH_OPT_JOIN_AT_EXIT)) ||
	    o->workers > FILCH__MAX_WORKERS)
		return -EINVAL;
	if ((o->flags & FILCH_OPT_STACK_SIZE) && o->stack_size != 0 &&
	    o->stack_size < (size_t)PTHREAD_STACK_MIN)
		return -EINVAL;
	if ((o->flags & FILCH_OPT_MAX_SPARES) && o->max_spares > FILCH__MAX_SPARES)
		return -EINVAL;
	if (o->pin < FILCH_PIN_AUTO || o->pin > FILCH_PIN_CPUS)
		return -EINVAL;
	if (o->full_policy < FILCH_FULL_BLOCK ||
	    o->full_policy > FILCH_FULL_CALLER_RUNS)
		return -EINVAL;
	return 0;
}

static filch_executor *executor_alloc(unsigned n)
{
	filch_executor *ex;
	size_t size = (sizeof(*ex) + FILCH_CACHELINE - 1) & ~(size_t)(FILCH_CACHELINE - 1);

	ex = filch__aligned_alloc(FILCH_CACHELINE, size);
	if (!ex)
		return NULL;
	memset(ex, 0, size);
	ex->workers = filch__aligned_alloc(FILCH_CACHELINE, n * sizeof(*ex->workers));
	if (!ex->workers) {
		filch__free(ex);
		return NULL;
	}
	memset(ex->workers, 0, n * sizeof(*ex->workers));
	return ex;
}

/* Starts w's thread with ex's signal mask, on w->cpu, or else on the
 * process's CPUs (not the creator's: a worker of another executor is
 * pinned to one), unless those are unknown (an empty process mask). */
static int start_thread(struct filch__worker *w)
{
	const cpu_set_t *process = &w->ex->process_cpus;
	const cpu_set_t *set = CPU_COUNT(process) ? process : NULL;
	pthread_attr_t attr;
	cpu_set_t one;
	int rc;

	if (filch__fault_hit(FILCH__FAULT_THREAD))
		return -EAGAIN;
	if (pthread_attr_init(&attr) != 0)
		return -ENOMEM;
	rc = -pthread_attr_setsigmask_np(&attr, &w->ex->sigmask);
	if (rc == 0 && w->ex->stack_size)
		rc = -pthread_attr_setstacksize(&attr, w->ex->stack_size);
	if (w->cpu >= 0) {
		CPU_ZERO(&one);
		CPU_SET(w->cpu, &one);
		set = &one;
	}
	if (rc == 0 && set)
		rc = -pthread_attr_setaffinity_np(&attr, sizeof(*set), set);
	if (rc == 0 && pthread_create(&w->thread, &attr, worker_thread, w) != 0)
		rc = -EAGAIN;
	pthread_attr_destroy(&attr);
	return rc;
}

int filch_executor_create(filch_executor **exp,
			  const struct filch_executor_opts *opts)
{
	static const struct filch_executor_opts defaults;
	unsigned ncpus, n, ndeques = 0, nthreads = 0;
	cpu_set_t cpus;
	filch_executor *ex;
	bool pin;
	int rc;

	if (!exp)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	if ((rc = check_opts(opts)) != 0)
		return rc;
	if ((opts->flags & FILCH_OPT_JOIN_AT_EXIT) &&
	    (rc = filch__exit_init()) != 0)
		return rc;
	filch__fork_init();
	ncpus = filch__cpuset_process(&cpus);
	n = opts->workers ? opts->workers : ncpus;
	if (n > FILCH__MAX_WORKERS)
		n = FILCH__MAX_WORKERS;
	pin = CPU_COUNT(&cpus) > 0 &&
	      (opts->pin == FILCH_PIN_CPUS ||
	       (opts->pin == FILCH_PIN_AUTO && n <= ncpus));

	unsigned max_spares = opts->flags & FILCH_OPT_MAX_SPARES
				      ? opts->max_spares
				      : FILCH__DEFAULT_MAX_SPARES;

	ex = executor_alloc(n + max_spares);
	if (!ex)
		return -ENOMEM;
	ex->nworkers = n;
	ex->max_spares = max_spares;
	ex->fork_generation = filch__fork_generation;
	ex->process_cpus = cpus;
	filch__cpuset_place(&cpus, pin, ex->workers, n);
	ex->full_policy = opts->full_policy;
	ex->full_timeout_ns = opts->full_timeout_ns > 0 ? opts->full_timeout_ns
							: FILCH_FOREVER;
	if (opts->flags & FILCH_OPT_STACK_SIZE)
		ex->stack_size = opts->stack_size;
	snprintf(ex->name_prefix, sizeof(ex->name_prefix), "%s",
		 opts->name_prefix ? opts->name_prefix : DEFAULT_NAME_PREFIX);
	if (opts->flags & FILCH_OPT_INHERIT_SIGMASK)
		pthread_sigmask(SIG_SETMASK, NULL, &ex->sigmask);
	else
		filch__executor_async_signals(&ex->sigmask);
	ex->initializer = opts->initializer;
	ex->initializer_arg = opts->initializer_arg;
	if (opts->flags & FILCH_OPT_ON_TASK_ERROR) {
		ex->on_task_error = opts->on_task_error;
		ex->on_task_error_arg = opts->on_task_error_arg;
	}
	CDS_INIT_LIST_HEAD(&ex->exit_link);
	filch__spares_init(&ex->spares);
	atomic_init(&ex->park_state, 0);
	atomic_init(&ex->run_state, 0);
	atomic_init(&ex->submitters, 0);
	atomic_init(&ex->refs, 1);
	atomic_init(&ex->started, 0);
	atomic_init(&ex->init_error, 0);
	atomic_init(&ex->gate, FILCH__GATE_WAIT);
	pthread_mutex_init(&ex->join_lock, NULL);
	filch__inject_init(&ex->inject, opts->queue_capacity);

	for (; ndeques < n; ndeques++) {
		struct filch__worker *w = &ex->workers[ndeques];

		w->ex = ex;
		w->index = ndeques;
		filch__park_init_worker(w);
		if ((rc = filch__deque_init(&w->deque, DEQUE_LOG2)) != 0)
			goto fail;
	}
	atomic_init(&ex->nthreads, n);
	for (; nthreads < n; nthreads++)
		if ((rc = start_thread(&ex->workers[nthreads])) != 0)
			break;
	wait_started(ex, nthreads);
	if (rc == 0)
		rc = filch__load(&ex->init_error, relaxed); /* after acquire */
	if (rc != 0) {
		open_gate(ex, FILCH__GATE_ABORT);
		join_threads(ex, 0, nthreads);
		goto fail;
	}
	filch__trace_created(ex); /* FILCH_TRACE: before the first task */
	open_gate(ex, FILCH__GATE_GO);
	if (opts->flags & FILCH_OPT_JOIN_AT_EXIT)
		filch__exit_add(ex);
	*exp = ex;
	return 0;

fail:
	executor_free(ex, ndeques);
	return rc;
}

unsigned filch_executor_workers(const filch_executor *ex)
{
	return ex ? ex->nworkers : 0;
}

filch_executor *filch_current_executor(void)
{
	return filch__self_executor();
}

int filch_current_worker(void)
{
	struct filch__worker *w = filch__self;

	return w ? (int)w->index : -1;
}

void filch__executor_async_signals(sigset_t *set)
{
	static const int synchronous[] = {SIGSEGV, SIGBUS, SIGFPE,
					  SIGILL,  SIGTRAP, SIGSYS};

	sigfillset(set);
	for (size_t i = 0; i < sizeof(synchronous) / sizeof(synchronous[0]); i++)
		sigdelset(set, synchronous[i]);
}

void filch__executor_task_failed(filch_executor *ex, filch_task_fn fn,
				 void *arg, int code, const char *message)
{
	struct filch_task_error err = {fn, arg, code, message};

	filch__xstat_add(&ex->xstats.task_failures, 1);

	if (ex->on_task_error)
		ex->on_task_error(&err, ex->on_task_error_arg);
}

bool filch__executor_cancelling(filch_executor *ex)
{
	/* Relaxed: a hint for filch_cancel_requested(). */
	return filch__load(&ex->run_state, relaxed) & FILCH__EX_CANCELLING;
}

void filch__executor_retain(filch_executor *ex)
{
	/* Relaxed: the caller already holds a reference. */
	filch__add(&ex->refs, 1, relaxed);
}

void filch__executor_release(filch_executor *ex)
{
	/* acq_rel: every holder's accesses before the free; the release
	 * half pairs with the acquire half of the last decrement. */
	if (filch__sub(&ex->refs, 1, acq_rel) == 1)
		executor_free(ex, slots_used(ex));
}

int filch__executor_start_spare(filch_executor *ex, unsigned index)
{
	struct filch__worker *w = &ex->workers[index];
	uint32_t state;
	int rc;

	w->ex = ex;
	w->index = index;
	filch__park_init_worker(w);
	if ((rc = filch__deque_init(&w->deque, DEQUE_LOG2)) != 0)
		return rc;
	w->cpu = -1; /* spares run on the process's CPUs */
	atomic_init(&w->dormant, SPARE_STARTING);
	if ((rc = start_thread(w)) != 0) {
		filch__deque_destroy(&w->deque);
		return rc;
	}
	/* Acquire: pairs with the release store in spare_started. */
	while ((state = filch__load(&w->dormant, acquire)) == SPARE_STARTING)
		filch__futex_wait(&w->dormant, SPARE_STARTING, FILCH__NO_DEADLINE);
	if (state == SPARE_FAILED) {
		pthread_join(w->thread, NULL);
		filch__deque_destroy(&w->deque);
		return -EAGAIN;
	}
	/* Release: the slot (its deque, its sleep line) is set up before
	 * anyone that scans the slots sees it; pairs with their acquire
	 * loads of nthreads (worker.c, park.c). */
	filch__store(&ex->nthreads, index + 1, release);
	return 0;
}

/* Joins every thread once, over one call or several timed ones: the
 * primaries exit only once the executor terminated, and no spare starts
 * after that (only a blocked worker, which is never idle, starts one), so
 * the spares counted once the primaries are joined are all. */
#ifdef FILCH_TSAN
/* TSan intercepts only the CLOCK_REALTIME forms of the timed lock and
 * join, and must see both: there the deadline moves to that clock (a
 * clock step may stretch the wait of a TSan build). */
static struct timespec join_deadline(int64_t deadline)
{
	struct timespec ts;
	int64_t ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec +
	     (deadline - filch__now_ns());
	return (struct timespec){ns / 1000000000, ns % 1000000000};
}
#define timed_lock(m, ts) pthread_mutex_timedlock(m, ts)
#define timed_join(t, ts) pthread_timedjoin_np(t, NULL, ts)
#else
static struct timespec join_deadline(int64_t deadline)
{
	return (struct timespec){deadline / 1000000000, deadline % 1000000000};
}
#define timed_lock(m, ts) pthread_mutex_clocklock(m, CLOCK_MONOTONIC, ts)
#define timed_join(t, ts) pthread_clockjoin_np(t, NULL, CLOCK_MONOTONIC, ts)
#endif

int filch__executor_join(filch_executor *ex, int64_t deadline)
{
	bool forever = deadline == FILCH__NO_DEADLINE;
	struct timespec ts = join_deadline(forever ? 0 : deadline);
	int rc = 0;

	if (forever)
		pthread_mutex_lock(&ex->join_lock);
	else if (timed_lock(&ex->join_lock, &ts))
		return -ETIMEDOUT;
	while (!ex->joined) {
		unsigned i = ex->njoined;
		unsigned n = i < ex->nworkers ? ex->nworkers : slots_used(ex);

		if (i == n) {
			ex->joined = true;
			break;
		}
		pthread_t t = ex->workers[i].thread;

		if (forever ? pthread_join(t, NULL) : timed_join(t, &ts)) {
			rc = -ETIMEDOUT;
			break;
		}
		ex->njoined = i + 1;
	}
	pthread_mutex_unlock(&ex->join_lock);
	return rc;
}

int filch__shutdown_begin(filch_executor *ex, unsigned flags,
			  int64_t deadline)
{
	uint32_t bits = FILCH__EX_SHUTDOWN;

	if (!ex || (flags & ~(FILCH_SHUTDOWN_WAIT | FILCH_SHUTDOWN_CANCEL_PENDING)))
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	if (flags & FILCH_SHUTDOWN_CANCEL_PENDING)
		bits |= FILCH__EX_CANCELLING;
	/* seq_cst: SHUTDOWN before reading idle and submitters in
	 * try_terminate; pairs with worker.c park()'s seq_cst load after
	 * its idle increment, and with submit_foreign's seq_cst increment
	 * of submitters then load of run_state (Dekker, both). */
	filch__or(&ex->run_state, bits, seq_cst);
	FILCH__PERTURB(); /* workers and submitters see SHUTDOWN first */
	filch__timers_shutdown(ex, flags, deadline);
	filch__inject_close(&ex->inject);
	/* Every task not yet started is discarded before we return, wherever
	 * it waits: the injector and every worker's deque. Tasks pushed
	 * later by running tasks are discarded by the workers that take
	 * them (CANCELLING). */
	if (flags & FILCH_SHUTDOWN_CANCEL_PENDING)
		discard_queued(ex, slots_used(ex));
	filch__park_try_terminate(ex);
	return 0;
}

int filch_shutdown(filch_executor *ex, unsigned flags)
{
	int rc = filch__shutdown_begin(ex, flags, FILCH__NO_DEADLINE);

	if (rc != 0 || !(flags & FILCH_SHUTDOWN_WAIT))
		return rc;
	if (filch__self_executor() == ex)
		return -EDEADLK;
	return filch__executor_join(ex, FILCH__NO_DEADLINE);
}

int filch_executor_destroy(filch_executor *ex)
{
	if (!ex)
		return 0;
	/* Inherited: its memory is leaked in this process. */
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	if (filch__self_executor() == ex)
		return -EDEADLK;
	filch__exit_remove(ex);
	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	filch__timers_stop(ex);
	filch__trace_destroyed(ex);
	filch__executor_release(ex);
	return 0;
}

void filch_executor_cleanup(filch_executor **ex)
{
	if (ex && *ex) {
		filch_executor_destroy(*ex);
		*ex = NULL;
	}
}

/* A local submission after its push: counts it and wakes a worker. */
static inline __attribute__((always_inline)) int
local_pushed(struct filch__worker *w, struct filch__task *t)
{
	filch__stat_add(&w->stats.spawned, 1);
	filch__obs_local_submit(w->ex, t);
	if (w->ex->nworkers > 1)
		filch__park_notify_local(w->ex);
	return 0;
}

/* Out of line: a push that grows the deque. */
static __attribute__((noinline, cold)) int
submit_local_grow(struct filch__worker *w, struct filch__task *t)
{
	if (filch__deque_push_grow(&w->deque, t) != 0)
		return -ENOMEM;
	return local_pushed(w, t);
}

/* Inline in filch__sched_submit with no call on its common path, so that
 * neither kind of submission saves registers there. */
static inline int submit_local(struct filch__worker *w, struct filch__task *t)
{
	if (__builtin_expect(!filch__deque_try_push(&w->deque, t), 0))
		return submit_local_grow(w, t);
	return local_pushed(w, t);
}

/* A foreign submission accepted: traced (rs: the run_state that
 * submit_foreign read), queued, and a worker woken. */
static inline __attribute__((always_inline)) void
foreign_push(filch_executor *ex, struct filch__task *t, uint32_t rs)
{
	filch__obs_foreign_submit(ex, t, rs);
	FILCH__PERTURB(); /* accepted; a shutdown may begin now */
	filch__inject_push(&ex->inject, t);
	filch__park_notify(ex); /* N1 orders it after the enqueue */
}

/* The end of a foreign submission counted in submitters: rc 0 when t was
 * queued, FILCH__INJECT_CALLER_RUNS to run it here, else an error. */
static inline __attribute__((always_inline)) int
foreign_end(filch_executor *ex, struct filch__task *t, int rc)
{
	/* seq_cst: the enqueue before the count drops (a terminating worker
	 * that reads 0 then sees the task), and the decrement before the
	 * reads of try_terminate below (one of us sees the other idle). An
	 * accepted task is counted in the same RMW (executor.h). */
	uint64_t old = filch__add(&ex->submitters,
				  rc == 0 ? FILCH__SUBMITTED_ONE - 1 : UINT64_MAX,
				  seq_cst);
	if (rc == 0 && FILCH__SUBMITTED_LOW(old) == UINT32_MAX)
		filch__xstat_add(&ex->xstats.submitted_wraps, 1);
	/* A terminating worker may have seen us in flight and gone to sleep:
	 * re-check for it (stress/park.pml found this one). */
	filch__park_try_terminate(ex);
	if (rc != FILCH__INJECT_CALLER_RUNS)
		return rc;
	filch__xstat_add(&ex->xstats.caller_ran, 1);
	t->run(t, 0); /* not on a worker: untraced (trace.h) */
	return 0;
}

/* submit_foreign's other cases: an executor shut down, or a bounded
 * queue. Out of line: the common case then keeps only ex in a register
 * across its calls. */
static __attribute__((noinline)) int
submit_foreign_checked(filch_executor *ex, struct filch__task *t,
		       uint32_t rs)
{
	int rc;

	if (rs & FILCH__EX_SHUTDOWN)
		rc = -ESHUTDOWN;
	else
		rc = filch__inject_reserve(&ex->inject, ex->full_policy,
					   ex->full_timeout_ns);
	/* The reservation may have waited for room (FILCH_FULL_BLOCK) while
	 * a trace started: the gate is read again once it is granted.
	 * Relaxed: TRACED is a gate (filch__executor_how). */
	if (rc == 0)
		foreign_push(ex, t, filch__load(&ex->run_state, relaxed));
	else if (rc == -EAGAIN)
		filch__xstat_add(&ex->xstats.refused, 1);
	return foreign_end(ex, t, rc);
}

/* Out of line: inlined, its registers were saved and restored around every
 * submission from a worker too (filch__sched_submit's common path). */
static __attribute__((noinline)) int
submit_foreign(filch_executor *ex, struct filch__task *t)
{
	/* Any thread of this process is foreign to an inherited executor:
	 * this check covers every submission to one. */
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	/* seq_cst: counted before the SHUTDOWN check; pairs with
	 * filch_shutdown's fetch_or then try_terminate's read (Dekker). */
	filch__add(&ex->submitters, 1, seq_cst);
	uint32_t rs = filch__load(&ex->run_state, seq_cst);
	if (__builtin_expect((rs & FILCH__EX_SHUTDOWN) || ex->inject.capacity,
			     0))
		return submit_foreign_checked(ex, t, rs);
	foreign_push(ex, t, rs);
	return foreign_end(ex, t, 0);
}

int filch__sched_submit(filch_executor *ex, struct filch__task *t)
{
	struct filch__worker *w = filch__self;

	if (w && w->ex == ex)
		return submit_local(w, t);
	return submit_foreign(ex, t);
}
