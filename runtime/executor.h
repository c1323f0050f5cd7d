/* SPDX-License-Identifier: MIT */
/*
 * executor.h - the executor and worker records shared by executor.c,
 * worker.c, park.c, inject.c and group.c (the scheduler's private layout).
 */
#ifndef FILCH_EXECUTOR_H
#define FILCH_EXECUTOR_H

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <signal.h>

#include <ck_ec.h>
#include <urcu/list.h>

#include <filch.h>

#include "atomic.h"
#include "deque.h"
#include "fork.h"
#include "inject.h"
#include "spare.h"
#include "sched.h"
#include "stats.h"

struct filch__trace_ring;
struct filch__tracing;

/* Where a ring is published (trace.c): the pointer its writers read, and
 * the count of writers inside trace.c's put. The count lives here, not
 * in the ring, so that a writer that finds the pointer already NULL
 * touches only memory that outlives the ring. */
struct filch__trace_slot {
	_Atomic(struct filch__trace_ring *) ring;
	_Atomic uint32_t busy;
};

struct filch__fj; /* fj.c */

/* Largest accepted worker and spare counts (park.h packs counts of
 * threads into 16 bits). */
#define FILCH__MAX_WORKERS 1024u
#define FILCH__MAX_SPARES 4096u

/* container_of for the scheduler's embedded records. */
#define filch__container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/*
 * One worker: a primary worker (index < nworkers) or a spare (spare.c).
 * Three cache lines of different writers:
 *  - deque: its own owner line and thief line (deque.h);
 *  - the owner's private line: written only by the worker thread;
 *  - the sleep line: ec is incremented by whoever wakes this worker, sleep
 *    is the protocol word of park.c (its comment lists the values), and
 *    dormant is a spare's word (spare.c lists its values); fj, read by
 *    thieves, is written once (fj.c);
 *  - the counters: written by the worker, read by filch_executor_stats;
 *    with the trace pointer, read by the worker at each event site and
 *    written only when tracing starts or stops (trace.h).
 */
struct filch__worker {
	struct filch__deque deque;

	/* Owner-private: only the worker thread reads or writes these
	 * (thread and cpu are written by the creator before the worker can
	 * run; cpu is read again when the executor is freed). */
	alignas(FILCH_CACHELINE) filch_executor *ex;
	unsigned index;
	unsigned until_foreign; /* tasks to take before the injector
				   rhythm's next take (worker.c) */
	/* Deque index past the last task moved from the injector: tasks
	 * below it start oldest first (worker.c, take_own). */
	int64_t inject_end;
	uint64_t rng;	   /* xorshift state: steal victims */
	bool searching;	   /* counted in park_state's searching field */
	int cpu;	   /* pinned to it (cpuset.c), or -1 */
	pthread_t thread;
	unsigned next_dormant; /* spare.c's dormant stack, under spare_lock */
	bool kicked;	       /* spare.c: kicked out of its park, under lock */

	/* Sleep line (park.c, spare.c). */
	alignas(FILCH_CACHELINE) struct ck_ec32 ec;
	_Atomic uint32_t sleep;
	_Atomic uint32_t dormant;
	/* The worker's fork-join frame stack, or NULL before its first use:
	 * set once by the worker (release), read by thieves (acquire). */
	_Atomic(struct filch__fj *) fj;

	/* Timed shutdown: the thread's frame list while it runs tasks
	 * (frame.c). */
	_Atomic(struct filch__frames *) frames;

	/* Counters (stats.h) and the trace ring (trace.h). */
	alignas(FILCH_CACHELINE) struct filch__stats stats;
	struct filch__trace_slot trace;
};

static_assert(offsetof(struct filch__worker, ex) % FILCH_CACHELINE == 0,
	      "the owner's fields open their own cache line");
static_assert(offsetof(struct filch__worker, ec) % FILCH_CACHELINE == 0,
	      "the sleep line is its own cache line");

/*
 * run_state: the executor's lifecycle, bits only ever added (fetch_or), and
 * whether it is traced:
 *   FILCH__EX_SHUTDOWN   set by filch_shutdown: foreign submissions fail
 *                        with -ESHUTDOWN; workers keep draining.
 *   FILCH__EX_CANCELLING set by filch_shutdown(CANCEL_PENDING) together
 *                        with SHUTDOWN (or after it): workers discard the
 *                        tasks they take (FILCH__RUN_DISCARD).
 *   FILCH__EX_TERMINATED set by park.c's filch__park_try_terminate once
 *                        SHUTDOWN is set and the pool is quiescent: every
 *                        worker idle, no foreign submitter in flight, every
 *                        queue empty. Workers exit; it is never cleared.
 *   FILCH__EX_TRACED     set by filch_trace_start, cleared by filch_trace_stop
 *                        (relaxed fetch_or and fetch_and, under trace.c's
 *                        lock): the gate of the task bodies' trace hooks,
 *                        read with relaxed loads, and of a foreign
 *                        submission's event (read by its seq_cst load for
 *                        the SHUTDOWN check); behind it the ring pointer
 *                        is loaded with acquire (trace.h). The one bit that
 *                        is ever cleared; no lifecycle check reads it.
 * Legal: 0 -> SHUTDOWN -> SHUTDOWN|CANCELLING -> ...|TERMINATED, or
 *        0 -> SHUTDOWN|CANCELLING, or SHUTDOWN -> SHUTDOWN|TERMINATED,
 *        each with TRACED set or clear.
 */
#define FILCH__EX_SHUTDOWN 1u
#define FILCH__EX_CANCELLING 2u
#define FILCH__EX_TERMINATED 4u
#define FILCH__EX_TRACED 8u
static_assert(FILCH__EX_CANCELLING == FILCH__RUN_DISCARD &&
		      FILCH__EX_TRACED == FILCH__RUN_TRACED,
	      "run()'s how is run_state masked");

/* Startup gate values (executor.c). */
#define FILCH__GATE_WAIT 0u
#define FILCH__GATE_GO 1u
#define FILCH__GATE_ABORT 2u

struct filch_executor {
	/* Read-mostly: fixed at creation. workers has room for nworkers
	 * primaries and max_spares spares (spare.c); nthreads counts the
	 * slots in use, primaries first: it only grows, by release stores
	 * after a new spare's slot is set up, and whoever scans the slots
	 * (steals, park.c's looks) loads it with acquire. */
	struct filch__worker *workers;
	unsigned nworkers;
	unsigned max_spares;
	_Atomic unsigned nthreads;
	unsigned fork_generation; /* filch__fork_generation at creation */
	int full_policy;
	int64_t full_timeout_ns;
	size_t stack_size; /* 0: the system's default */
	cpu_set_t process_cpus; /* where unpinned workers and spares run */

	/* park.c: searching, idle and leave counts (park.h). */
	alignas(FILCH_CACHELINE) _Atomic uint64_t park_state;

	/* executor.c: lifecycle. */
	alignas(FILCH_CACHELINE) _Atomic uint32_t run_state;
	_Atomic uint32_t refs;

	/* Startup (executor.c): workers that finished their initializer,
	 * the first initializer error, and the gate they wait at. */
	_Atomic uint32_t started;
	_Atomic int init_error;
	_Atomic uint32_t gate;

	/* Every worker's thread (spares start later): names, signal mask,
	 * initializer. */
	char name_prefix[16]; /* a thread name holds 15 characters */
	sigset_t sigmask;
	int (*initializer)(void *arg, unsigned worker_index);
	void *initializer_arg;

	/* Fire-and-forget failures (filch__executor_task_failed). */
	void (*on_task_error)(const struct filch_task_error *err, void *arg);
	void *on_task_error_arg;

	/* trace.c: the trace being taken, or NULL; under trace.c's lock. */
	struct filch__tracing *tracing;

	/* exit.c: in its list of executors that exit() shuts down, under its
	 * lock; an empty (self-linked) node when not listed. */
	struct cds_list_head exit_link;

	/* spare.c: blocked workers and the spares that stand in for them. */
	struct filch__spares spares;

	/* Joining, once, by whichever filch_shutdown(WAIT) gets there (or
	 * over several timed calls: njoined threads joined so far). */
	pthread_mutex_t join_lock;
	bool joined;
	unsigned njoined;

	/* timer.c: the heap and thread of its timers, created with the
	 * first timer (NULL until then; set once). */
	_Atomic(struct filch__timers *) timers;

	/* executor.c: foreign submitters. Its own line: every foreign
	 * submit writes it twice, and every worker reads run_state for every
	 * task it runs (submit's throughput halved when they shared one).
	 * submitters holds two counts (FILCH__SUBMITTERS_*, stats.h): the
	 * low half, submitters in flight (timer.c's holds too): +1 as one
	 * comes in, -1 as it leaves; the high half, foreign submissions
	 * accepted into the injector, modulo 2^32: an accepted one leaves
	 * by adding SUBMITTED_ONE - 1, counting itself in the same RMW (its
	 * low half is at least its own 1, so nothing borrows across the
	 * halves). */
	alignas(FILCH_CACHELINE) _Atomic uint64_t submitters;
	struct filch__xstats xstats; /* stats.h: written with submitters */
	/* trace.h: the foreign threads' ring, read by each foreign submit. */
	struct filch__trace_slot trace_foreign;

	/* Submissions from foreign threads. */
	alignas(FILCH_CACHELINE) struct filch__inject inject;
};

/* How a task of ex taken now is to be run (run()'s how, sched.h): one
 * relaxed load. Relaxed: CANCELLING only chooses between running and
 * discarding (a task taken just as it is set may still run, as one that
 * had already started), and TRACED is a gate (trace.h). */
static inline unsigned filch__executor_how(const filch_executor *ex)
{
	return filch__load((_Atomic uint32_t *)&ex->run_state, relaxed) &
	       (FILCH__RUN_DISCARD | FILCH__RUN_TRACED);
}

/*
 * True when ex was created by the parent of a fork() that made this
 * process: its threads do not exist here, and its memory is a copy that
 * no public call may change (they return -EOWNERDEAD). Any thread; one
 * load and compare, for the submission path.
 */
static inline bool filch__executor_inherited(const filch_executor *ex)
{
	return ex->fork_generation != filch__fork_generation;
}

/*
 * Thread-locals of the scheduler use the initial-exec TLS model: one
 * load off the thread pointer, where the default for a shared library
 * (global-dynamic) calls __tls_get_addr on every access of the spawn path.
 * The cost: libfilch cannot be dlopen()ed into a process whose static TLS
 * surplus is used up (glibc reserves room for such small variables).
 */
#define FILCH__TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* The worker the calling thread is, or NULL (worker.c). */
extern FILCH__TLS struct filch__worker *filch__self;

/* Begins a shutdown as filch_shutdown does, without joining: flags
 * validated, -EINVAL or -EOWNERDEAD as there, else 0. The timers it
 * cancels have run their callbacks when it returns, but for those another
 * thread is firing past deadline (CLOCK_MONOTONIC ns, FILCH__NO_DEADLINE
 * for none; timer.h). */
int filch__shutdown_begin(filch_executor *ex, unsigned flags,
			  int64_t deadline);

/* Joins ex's threads (after filch__shutdown_begin) by deadline
 * (CLOCK_MONOTONIC ns, FILCH__NO_DEADLINE for none): 0 once all are
 * joined, or -ETIMEDOUT (those joined stay joined; a later call goes on).
 * Any thread but ex's own. */
int filch__executor_join(filch_executor *ex, int64_t deadline);

/* Sets up slot index (nworkers or more) and starts a spare thread there
 * (spare.c calls it under its lock); the spare runs the initializer
 * before this returns. 0, or -ENOMEM, -EAGAIN (thread creation failed),
 * -EAGAIN (the initializer failed: the thread was joined). */
int filch__executor_start_spare(filch_executor *ex, unsigned index);

/* The signals that workers, spares and the call_rcu thread block unless
 * told otherwise: all but the synchronous ones (a fault is delivered to
 * the thread that caused it, blocked or not). */
void filch__executor_async_signals(sigset_t *set);

/*
 * exit.c: FILCH_OPT_JOIN_AT_EXIT. filch__exit_init registers the atexit
 * handler, once per process: 0 or -ENOMEM. filch__exit_add lists ex (a
 * created executor), filch__exit_remove takes it off if still listed
 * (filch_executor_destroy, before its shutdown); the handler takes each
 * listed executor off, shuts it down with WAIT and drops its reference.
 * fork.c holds the lock across fork() (filch__exit_lock, _unlock); the
 * child empties the list (filch__exit_forget: the parent's executors are
 * not the child's to join). Any thread.
 */
int filch__exit_init(void);
void filch__exit_add(filch_executor *ex);
void filch__exit_remove(filch_executor *ex);
void filch__exit_lock(void);
void filch__exit_unlock(void);
void filch__exit_forget(void);

#endif /* FILCH_EXECUTOR_H */
