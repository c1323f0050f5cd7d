/* SPDX-License-Identifier: MIT */
/*
 * filch.h - the whole public API of filch, a lock-free work-stealing task
 * runtime with the programming model of Python's concurrent.futures.
 *
 * Conventions (docs/api.md has the details):
 *  - Every function that can fail returns int: 0 on success or a negative
 *    errno (-EINVAL, -ENOMEM, -ETIMEDOUT, -ECANCELED, -ESHUTDOWN, -EAGAIN,
 *    -EDEADLK, -EOWNERDEAD, -EALREADY, -EEXIST); filch_strerror() names
 *    them. If a call returns an error, the callback or task it was given
 *    is never called.
 *  - A task returns 0 or a positive error code of its own and may attach a
 *    message with filch_task_fail().
 *  - Timeouts are relative int64_t nanoseconds: FILCH_FOREVER waits forever,
 *    0 polls, and any other negative value polls too (as in Python).
 *  - Objects are opaque. Futures are reference counted;
 *    filch_future_release(NULL) is a no-op.
 *  - Option structs: a NULL pointer or a zero field means the default.
 *  - Iterators (filch_map_next, filch_as_completed_next) return 0 with an
 *    item, FILCH_END when exhausted, or another error.
 *
 * Threads: "any thread" means a foreign thread, a worker of any executor, or
 * a callback. "Blocks" means the call may sleep. A call that blocks on a
 * worker runs only work that its own result depends on (the jobs of the
 * group it waits for; the task of a future it waits for without a timeout,
 * if that task has not started) and never an unrelated task; otherwise it
 * sleeps, and a spare worker runs in its place meanwhile, so the pool keeps
 * its parallelism (up to max_spares spares, see filch_executor_opts). When
 * no spare can be had, an untimed wait of the futures layer returns -EAGAIN
 * rather than sleep, a timed one sleeps until its deadline, and
 * filch_group_wait sleeps (its jobs must finish before it returns). A timed
 * wait runs no task itself, and so returns within its timeout (plus the
 * scheduling latency of a wake-up).
 *
 * This header includes only libc headers and compiles as C11 and as C++.
 */
#ifndef FILCH_H
#define FILCH_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <filch/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FILCH_BUILDING_LIBRARY)
#define FILCH_API __attribute__((visibility("default")))
#else
#define FILCH_API
#endif

#define FILCH_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* Wait forever (a timeout in nanoseconds). */
#define FILCH_FOREVER ((int64_t)-1)

/* Returned by iterators when every item has been yielded. */
#define FILCH_END (-ENODATA)

/* ------------------------------------------------------------------ */
/* Version and errors                                                  */
/* ------------------------------------------------------------------ */

/* FILCH_VERSION_HEX of the library actually linked (0xMMmmpp). Any thread,
 * never blocks, wait-free. */
FILCH_API unsigned filch_version(void);

/* "MAJOR.MINOR.PATCH" of the linked library; a static string. Any thread. */
FILCH_API const char *filch_version_string(void);

/* A static English description of err: a negative errno returned by filch,
 * FILCH_END, or a positive task error code. Never NULL; unknown codes give
 * "unknown error". Any thread, never blocks, wait-free. */
FILCH_API const char *filch_strerror(int err);

/* ------------------------------------------------------------------ */
/* Executor (section "Executor" of docs/api.md)                        */
/* ------------------------------------------------------------------ */

typedef struct filch_executor filch_executor;
typedef struct filch_future filch_future;

/* A task: runs on a worker with the arg given at submit. It stores its
 * result in *result (initially NULL) and returns 0, or returns a positive
 * error code of its own (a negative return -e is taken as e; INT_MIN, which
 * has no positive counterpart, is taken as EOVERFLOW with the message "the
 * task returned INT_MIN" unless the task attached one). */
typedef int (*filch_task_fn)(void *arg, void **result);

/* A result destructor: frees a result that a future owns (see
 * filch_future_set_result_dtor) with the arg given with it. */
typedef void (*filch_result_dtor_fn)(void *result, void *arg);

/* Pinning policy of workers. */
enum filch_pin {
	FILCH_PIN_AUTO = 0, /* pin each worker to its own CPU of the process,
			       the least loaded by pinned workers first,
			       unless there are more workers than CPUs */
	FILCH_PIN_NONE = 1, /* never pin */
	FILCH_PIN_CPUS = 2, /* always pin, least loaded first, round robin
			       when there are more workers than CPUs */
};

/* What filch_submit does when a bounded submission queue is full. */
enum filch_full_policy {
	FILCH_FULL_BLOCK = 0,	    /* wait up to full_timeout_ns, then -EAGAIN */
	FILCH_FULL_FAIL = 1,	    /* fail at once with -EAGAIN */
	FILCH_FULL_CALLER_RUNS = 2, /* run the task in the submitting thread */
};

/* Bits of filch_executor_opts.flags: each says that a field added after
 * the first version is set, or asks for a behavior that the first version
 * did not have (a program built against an older filch.h passes a shorter
 * struct with these bits clear, and gets the old behavior). */
#define FILCH_OPT_STACK_SIZE 1u /* stack_size is set */
#define FILCH_OPT_MAX_SPARES 2u /* max_spares is set */
/* Workers and spares keep the creating thread's signal mask instead of
 * blocking every asynchronous signal (docs/api.md, "Signals"). */
#define FILCH_OPT_INHERIT_SIGMASK 4u
#define FILCH_OPT_ON_TASK_ERROR 8u /* on_task_error is set */
/* exit() shuts the executor down with FILCH_SHUTDOWN_WAIT (docs/api.md,
 * "Exit"). */
#define FILCH_OPT_JOIN_AT_EXIT 16u

/* What on_task_error receives: a fire-and-forget task that failed. */
struct filch_task_error {
	filch_task_fn fn; /* the task's function and argument, as submitted */
	void *arg;
	int code;	     /* its error code, positive (as a future's) */
	const char *message; /* from filch_task_fail, or NULL; valid during
				the call only */
};

struct filch_executor_opts {
	unsigned flags;		 /* FILCH_OPT_* bits; other bits: -EINVAL */
	/* 0 = the number of CPUs of the process: its main thread's affinity
	 * mask, whatever the calling thread's (docs/api.md, "Executor"). */
	unsigned workers;
	/* Thread names "<prefix>-<i>"; NULL = "filch". Linux keeps 15
	 * characters: the prefix is cut so that "-<i>" always fits. */
	const char *name_prefix;
	/* Runs once in each worker, as that worker (filch_current_worker()
	 * is worker_index), before it takes tasks; a nonzero return fails
	 * filch_executor_create with that code (made negative), after every
	 * started worker has been joined. */
	int (*initializer)(void *arg, unsigned worker_index);
	void *initializer_arg;
	int pin;		 /* enum filch_pin */
	/* Bound on tasks submitted by foreign threads and not yet started;
	 * 0 = unbounded. */
	size_t queue_capacity;
	int full_policy;	 /* enum filch_full_policy */
	int64_t full_timeout_ns; /* for FILCH_FULL_BLOCK; 0 = FILCH_FOREVER */
	/* With FILCH_OPT_STACK_SIZE: every worker's (and spare's) stack size
	 * in bytes; 0 = the system's default (RLIMIT_STACK, usually 8 MiB);
	 * else at least PTHREAD_STACK_MIN. */
	size_t stack_size;
	/* With FILCH_OPT_MAX_SPARES: at most this many spare threads (0: none,
	 * at most 4096); without: 256. A spare runs in place of a worker
	 * that sleeps in a wait, and goes dormant once that worker woke up
	 * and its deque is empty; spares live until the executor ends. */
	unsigned max_spares;
	/* With FILCH_OPT_ON_TASK_ERROR: called when a task submitted without
	 * a future (fire and forget) returns an error, on the thread that ran
	 * it (a worker, or the submitter under FILCH_FULL_CALLER_RUNS), after
	 * the task returned. It may submit; it must not block long (it holds
	 * its worker) nor wait for ex's tasks. NULL: such errors are dropped. */
	void (*on_task_error)(const struct filch_task_error *err, void *arg);
	void *on_task_error_arg;
};

/* Creates an executor and starts its workers. Returns 0 and *ex (the
 * caller owns it: filch_executor_destroy), -EINVAL (an unknown flag bit,
 * more than 1024 workers or 4096 spares, a stack below PTHREAD_STACK_MIN,
 * NULL ex, unknown pin or full_policy), -ENOMEM, -EAGAIN (thread creation
 * failed), or the initializer's code made negative. On error *ex is
 * untouched and nothing is left running (every started thread was
 * joined). Any
 * thread; blocks until every worker has run its initializer. The
 * initializer also runs in each spare when it starts (a spare whose
 * initializer fails is not used: the wait that wanted it finds no spare);
 * it must neither submit to its executor nor wait for its tasks.
 *
 * Signals: workers and spares block every asynchronous signal (all but
 * SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS), so that a signal
 * sent to the process goes to a thread of the program; with
 * FILCH_OPT_INHERIT_SIGMASK they keep the creating thread's mask instead.
 * The first worker deque that grows (past 256 queued tasks) starts
 * liburcu's call_rcu thread, named "filch-rcu" with the same signals
 * blocked, which lives until the process ends (it frees retired deque
 * buffers).
 *
 * Exit: returning from main() or exit() while an executor is alive ends
 * the process with it: tasks not yet run never run, running ones stop
 * where they are. With FILCH_OPT_JOIN_AT_EXIT, exit() first shuts the
 * executor down with FILCH_SHUTDOWN_WAIT (an atexit handler registered by
 * the first such create): every queued task runs, then exit goes on. From
 * one of its own workers exit() only begins that executor's shutdown.
 * filch_executor_destroy withdraws it; _exit() and quick_exit() skip it.
 *
 * fork(): in the child, an executor the parent created has no threads;
 * every call that takes it returns -EOWNERDEAD and touches nothing. The
 * child may create and use its own executors; it must not wait on a future
 * of the parent's executors that was not done at the fork; a child forked
 * inside a task must exec or _exit rather than return from it (docs/api.md,
 * "fork()"). */
FILCH_API int filch_executor_create(filch_executor **ex,
				    const struct filch_executor_opts *opts);

/* Number of workers of ex. Any thread, wait-free. */
FILCH_API unsigned filch_executor_workers(const filch_executor *ex);

/* The executor whose worker calls this (its initializer included), or
 * NULL on a foreign thread. */
FILCH_API filch_executor *filch_current_executor(void);

/* Index of the calling worker in its executor (its initializer included),
 * or -1 on a foreign thread: 0 to workers - 1 for the primary workers,
 * workers to workers + max_spares - 1 for spares (size per-worker arrays
 * for both). */
FILCH_API int filch_current_worker(void);

/* What the spares of an executor do now (a consistent snapshot). */
struct filch_spare_counts {
	unsigned threads;	    /* spare threads started (they stay) */
	unsigned active;	    /* spares not dormant */
	unsigned blocked;	    /* workers, spares too, sleeping in a wait */
	unsigned long long refused; /* waits that wanted a spare, got none */
};

/* Fills *out. Returns 0, or -EINVAL for NULL arguments. Any thread. */
FILCH_API int filch_executor_spare_counts(const filch_executor *ex,
					  struct filch_spare_counts *out);

/*
 * Counters of one worker (filch_worker_stats) or summed over every worker
 * and spare (filch_executor_stats). Each counts since the executor was
 * created (docs/observability.md says what each means). Versioned: set
 * size to sizeof the struct before the call; filch fills the fields that
 * fit in size and leaves the rest alone, so a program built against an
 * older filch.h keeps working (later versions only add fields at the end).
 */
struct filch_worker_stats {
	size_t size;			     /* in: sizeof(struct filch_worker_stats) */
	unsigned long long tasks_run;	     /* tasks taken from a queue and run */
	unsigned long long spawned;	     /* tasks pushed onto its own deque */
	unsigned long long stolen;	     /* tasks stolen from other deques */
	unsigned long long steal_failed;     /* steals that found nothing or lost */
	unsigned long long inject_batches;   /* takes from the injector */
	unsigned long long inject_tasks;     /* tasks those takes moved */
	unsigned long long parks;	     /* times it slept */
	unsigned long long park_ns;	     /* time asleep, in nanoseconds */
	unsigned long long wakeups_sent;     /* sleeping workers it woke */
	unsigned long long wakeups_received; /* times it was woken to search */
	unsigned long long queue_depth;	     /* tasks in its deque now */
};

struct filch_executor_stats {
	size_t size;	  /* in: sizeof(struct filch_executor_stats) */
	unsigned workers; /* primary workers */
	unsigned threads; /* worker slots in use: primaries and spares */
	/* Sums over the threads slots of filch_worker_stats' fields. */
	unsigned long long tasks_run, spawned, stolen, steal_failed;
	unsigned long long inject_batches, inject_tasks, parks, park_ns;
	unsigned long long wakeups_sent, wakeups_received, queue_depth;
	/* Counted outside the workers. */
	unsigned long long submitted;	   /* from foreign threads, queued */
	unsigned long long refused;	   /* -EAGAIN: the bounded queue was full */
	unsigned long long caller_ran;	   /* run by FILCH_FULL_CALLER_RUNS */
	unsigned long long discarded;	   /* dropped by CANCEL_PENDING, queued */
	unsigned long long task_failures;  /* fire-and-forget tasks that failed */
	unsigned long long foreign_wakeups; /* workers woken by other threads */
	unsigned long long inject_depth;   /* tasks in the injector now (approx) */
	struct filch_spare_counts spares;  /* as filch_executor_spare_counts */
	/* Later than the first version: a size that ends before them
	 * leaves them alone. Approximate while the pool runs (see
	 * docs/observability.md): */
	unsigned long long futures_pending; /* tasks queued, not yet taken */
	unsigned long long futures_running; /* worker slots inside a task */
};

/*
 * Fills *out (filch_executor_stats) or *out with the counters of the
 * worker of that index (filch_worker_stats: primaries 0 to workers - 1,
 * then spares, as filch_current_worker numbers them). Returns 0, or
 * -EINVAL for NULL arguments, a size smaller than the first version of
 * the struct, or an index that is not a slot in use; -EOWNERDEAD for an
 * executor inherited through fork(). On error *out is untouched.
 *
 * Any thread, at any time until filch_executor_destroy; wait-free for the
 * counters (relaxed loads; the spares part takes the spares' lock, and
 * futures_running the lock that a timed shutdown's report holds while it
 * lists running tasks). Each counter is a recent value while the pool
 * runs, so sums and differences are approximate then; once the pool is
 * quiescent (after filch_shutdown with WAIT; waiting for every future is
 * not enough: a waiter may run a queued task in place, its record leaving
 * the queue later) they are exact:
 *   tasks_run + discarded = submitted + spawned,
 * and each total is the sum of the workers' counters; wakeups_received
 * is at most wakeups_sent + foreign_wakeups (a woken worker counts its
 * wake-up when it gets up, not when the executor terminates first).
 */
FILCH_API int filch_executor_stats(const filch_executor *ex,
				   struct filch_executor_stats *out);
FILCH_API int filch_worker_stats(const filch_executor *ex, unsigned index,
				 struct filch_worker_stats *out);

/* Options of a timeline trace (NULL or a zero field: the default). */
struct filch_trace_opts {
	unsigned flags; /* none defined yet: 0 (other bits: -EINVAL) */
	/* Events each ring keeps (one ring per worker, one for the foreign
	 * threads), rounded up to a power of two, at most 1 << 24; 0 = 16384.
	 * A full ring drops its oldest events, and counts them. */
	size_t events;
};

/*
 * A timeline trace of ex (docs/observability.md). filch_trace_start
 * gives each worker slot in use (primaries and the spares started so far;
 * spares started later are not traced) a ring of events, and one more
 * for foreign threads; from then on each worker records, without a lock
 * or an allocation: task begin and end (its function and return code,
 * for tasks that run on a worker), steals (from whom), parks, sleeps in a
 * wait; foreign threads record their submissions. Returns 0, -EINVAL (NULL
 * ex, unknown flags, events too large), -EBUSY (ex is traced already),
 * -ENOMEM (nothing started), -EOWNERDEAD (an executor of the parent of a
 * fork()). Any thread, also while tasks run; it allocates the rings and
 * takes a process-wide lock of starts and stops (blocking only on another
 * start or stop).
 *
 * filch_trace_stop ends the trace, waits for any worker in the middle of
 * recording an event (a few instructions), writes the trace to path as
 * Chrome Trace Event JSON (Perfetto and chrome://tracing open it;
 * function names resolved with dladdr where possible; NULL path: written
 * nowhere) and frees the rings. Returns 0, -EINVAL (NULL ex, or ex is not
 * traced), -EOWNERDEAD, or the negative errno of creating or writing the
 * file (tracing is stopped all the same, and a partial file removed).
 * Any thread, also a worker of ex and while tasks run; it blocks for the
 * file's writing. Recording an event never blocks a worker.
 *
 * FILCH_TRACE=path in the environment traces every executor of an
 * unmodified program from its creation to filch_executor_destroy, which
 * writes path (the first executor of the process; the next ones write
 * path.1, path.2, ...).
 */
FILCH_API int filch_trace_start(filch_executor *ex,
				const struct filch_trace_opts *opts);
FILCH_API int filch_trace_stop(filch_executor *ex, const char *path);

/* Around a call that may block outside filch (a lock, a read, a sleep) in
 * a task: filch_blocking_begin makes a spare run in this worker's place
 * until filch_blocking_end (Java's ManagedBlocker), so that tasks queued
 * meanwhile do not wait for the call. Returns 0, or -EAGAIN when no spare
 * could be had (the call may block all the same). On a foreign thread: 0,
 * nothing to do. A begin inside an open region returns 0 and changes
 * nothing (regions do not nest); an end outside one (also after -EAGAIN)
 * does nothing. Close the region before the task returns. */
FILCH_API int filch_blocking_begin(void);
FILCH_API void filch_blocking_end(void);

#define FILCH_SHUTDOWN_WAIT 1u		 /* block until every task has run */
#define FILCH_SHUTDOWN_CANCEL_PENDING 2u /* cancel tasks not yet started */

/* Stops accepting submissions from foreign threads (they get -ESHUTDOWN,
 * and submitters blocked on a full bounded queue wake with it); tasks
 * already running may still submit children while the pool drains. With
 * CANCEL_PENDING, tasks not yet started are discarded: pending futures are
 * cancelled (their callbacks run, their waiters wake), group jobs count as
 * failed with ECANCELED; those queued by foreign threads are discarded by
 * the caller before this returns, the rest by the workers; running tasks
 * finish. With WAIT, blocks until the pool is drained and the workers have
 * exited. A second call is harmless (it may add CANCEL_PENDING or WAIT).
 * Returns 0, -EINVAL (NULL ex, unknown flag), -EDEADLK for WAIT from one
 * of ex's own workers (then nothing waits, but the shutdown still begins),
 * or -EOWNERDEAD in a child of fork() for an executor the parent created
 * (nothing done: its threads do not exist here). Any thread. Without WAIT
 * it does not wait for tasks, only for the timers it ends (section "Time"
 * below): it takes the timer lock, cancels them running their futures'
 * callbacks, and waits for those another thread is cancelling meanwhile. */
FILCH_API int filch_shutdown(filch_executor *ex, unsigned flags);

/* A task still running when filch_shutdown_timed stopped waiting. */
struct filch_straggler {
	unsigned worker;  /* its thread: filch_current_worker() there
			     (spares: workers and up) */
	unsigned depth;	  /* 0: the task its worker took; n: run inside
			     the wait of the task at depth n - 1 on the
			     same worker (a group job, a task it waits for) */
	void (*fn)(void); /* the function given to filch_submit,
			     filch_future_then or filch_group_spawn, cast */
	const char *name; /* fn's symbol name (dladdr: an exported or
			     -rdynamic symbol), or NULL; owned by the report */
	filch_future *future; /* the task's future, retained by the report
				 (retain it to keep it after
				 filch_shutdown_report_free); NULL for a
				 fire-and-forget task or a group job */
	int64_t running_ns;   /* running for at least this long: since
				 filch first saw it running, at the start
				 or end of a filch_shutdown_timed call; 0
				 for a task that started during this call */
};

/* What filch_shutdown_timed saw when it stopped waiting: a snapshot. */
struct filch_shutdown_report {
	size_t nstragglers;
	struct filch_straggler *stragglers; /* by worker index; on one
					       worker, innermost first */
	size_t queued; /* tasks queued, not started: they still run (or
			  are discarded, after CANCEL_PENDING); tasks of
			  armed timers are not counted, yet a waiting
			  shutdown waits for them too */
};

/*
 * filch_shutdown(ex, flags | FILCH_SHUTDOWN_WAIT) with a deadline: begins
 * the shutdown as filch_shutdown does (flags: 0, FILCH_SHUTDOWN_WAIT, and
 * FILCH_SHUTDOWN_CANCEL_PENDING), then waits up to timeout_ns (from the
 * call; FILCH_FOREVER, 0 polls) for the pool to drain and every worker
 * to exit. Returns 0 when they did (then *report = NULL), or -ETIMEDOUT
 * with *report (the caller owns it: filch_shutdown_report_free) naming the
 * tasks still running, the stragglers, and counting those still queued;
 * report may be NULL to skip it. After -ETIMEDOUT, ex stays valid and
 * shut down: wait again (another call, or filch_shutdown with WAIT),
 * cancel (a call with CANCEL_PENDING: running tasks then see
 * filch_cancel_requested()), or filch_executor_destroy it, which waits
 * for the stragglers. A thread cannot be stopped safely: a service that
 * must exit by a deadline logs the report, then calls exit().
 * Other errors write nothing to *report: -EINVAL (NULL ex, unknown flag),
 * -EOWNERDEAD (as filch_shutdown: nothing done), -EDEADLK (called from one
 * of ex's own workers: the shutdown begins, nothing waits), -ENOMEM (the
 * wait timed out but the report could not be allocated: call again).
 * Blocks up to timeout_ns, plus, for the report, a membarrier(2) system
 * call: a worker that finishes a task meanwhile waits for it (a few
 * microseconds). Where the kernel refuses membarrier, stragglers are
 * listed with fn, name and future NULL. Any thread (ex's own workers get
 * -EDEADLK).
 */
FILCH_API int filch_shutdown_timed(filch_executor *ex, unsigned flags,
				   int64_t timeout_ns,
				   struct filch_shutdown_report **report);

/* Frees r and releases the futures it retained. NULL is a no-op. Any
 * thread, never blocks. */
FILCH_API void filch_shutdown_report_free(struct filch_shutdown_report *r);

/* filch_shutdown(ex, FILCH_SHUTDOWN_WAIT) then frees ex. Futures that users
 * still hold stay valid. Returns 0, -EDEADLK from one of ex's workers
 * (nothing freed), or -EOWNERDEAD in a child of fork() for an executor the
 * parent created (nothing freed: its memory is leaked in the child).
 * filch_executor_destroy(NULL) returns 0. */
FILCH_API int filch_executor_destroy(filch_executor *ex);

/* For __attribute__((cleanup)): destroys *ex. The scope form of Python's
 * "with ThreadPoolExecutor() as ex:" is
 *     FILCH_SCOPED_EXECUTOR ex = NULL; filch_executor_create(&ex, NULL);  */
FILCH_API void filch_executor_cleanup(filch_executor **ex);
#define FILCH_SCOPED_EXECUTOR \
	__attribute__((cleanup(filch_executor_cleanup))) filch_executor *

/* Submits fn(arg). With fut non-NULL, *fut receives a new future (the
 * caller owns one reference; the task holds its own until it ran); with
 * fut NULL no future is allocated (fire and forget). Returns 0, -EINVAL,
 * -ENOMEM, -ESHUTDOWN, -EAGAIN (bounded queue full), or -EOWNERDEAD (in a
 * child of fork(), ex was created by the parent); on error fn never runs
 * and *fut is untouched. From a worker the task goes to that worker's
 * deque; from a foreign thread to the executor's injector. A task that a
 * cancelling shutdown discards is never run: its future is CANCELLED.
 * Lock-free (wait-free enqueue) unless the bounded queue's policy blocks.
 * Any thread. */
FILCH_API int filch_submit(filch_executor *ex, filch_task_fn fn, void *arg,
			   filch_future **fut);

/* Options of filch_submit_ex: NULL or a zero field means the default. */
struct filch_submit_opts {
	unsigned flags; /* none defined yet: must be 0, else -EINVAL */
	void *tag;	/* the future's tag (filch_future_tag); ignored
			   without a future */
	/* Owner of the result: with a future, as if
	 * filch_future_set_result_dtor(*fut, result_dtor, dtor_arg) had been
	 * called before any other thread could see the future. Without one
	 * (fut NULL), nobody can receive the result: result_dtor(result,
	 * dtor_arg) runs on the worker right after the task, if it returned
	 * 0 with a non-NULL result. NULL: nobody owns it (filch_submit). */
	filch_result_dtor_fn result_dtor;
	void *dtor_arg;
};

/* filch_submit with options (opts NULL: exactly filch_submit): the future
 * is born with its tag and its result destructor, so no callback,
 * continuation or waiter can see it without them. Returns what
 * filch_submit returns, and -EINVAL also for an unknown bit in
 * opts->flags; on error fn never runs, *fut is untouched and no
 * destructor is called. Any thread; as filch_submit. */
FILCH_API int filch_submit_ex(filch_executor *ex, filch_task_fn fn, void *arg,
			      const struct filch_submit_opts *opts,
			      filch_future **fut);

/* Inside a task: attach a message (printf format) to the failure code and
 * return code, so that "return filch_task_fail(ENOENT, "no %s", p);" fails
 * the task with both. The message is copied into the future (a later call
 * replaces it; it is dropped if the task returns 0, or if the copy cannot
 * be allocated). In a fire-and-forget task the message goes to the
 * executor's on_task_error, if any. Outside a task: returns code and does
 * nothing. */
FILCH_API int filch_task_fail(int code, const char *fmt, ...) FILCH_PRINTF(2, 3);

/* Inside a task: true once its future's cancellation was requested while it
 * ran (filch_future_cancel on a RUNNING future returns false but sets this),
 * or once a cancelling shutdown of the executor running it began. False
 * outside a task. Wait-free. */
FILCH_API bool filch_cancel_requested(void);

/* Gives the calling thread's cached task-record memory back to the kernel
 * now: the empty chunks (64 KiB each) that its futures, jobs and other
 * task records left behind after a burst, beyond a small reserve kept for
 * reuse (4 chunks, 256 KiB). Optional: the runtime returns them by itself
 * once they have stayed unused about 1 s, but only on that thread's next
 * allocation or free that leaves its fast path, and a thread that goes
 * quiet after a burst may never take one; this call is for it. It also
 * empties the process-wide cache of chunks that exited threads left (kept
 * up to 256 MiB for about 1 s, so that new threads reuse them). Records
 * still held elsewhere are untouched. Any thread; takes the cache's lock
 * briefly (never across a system call), then a few munmap calls. */
FILCH_API void filch_release_memory(void);

/* ------------------------------------------------------------------ */
/* Fork-join groups (section "Groups")                                 */
/* ------------------------------------------------------------------ */

/* A group lives on the caller's stack; its content is private. */
typedef struct filch_group {
	union {
		void *p;
		long long ll;
		unsigned char bytes[64];
	} opaque_;
} filch_group;

typedef int (*filch_job_fn)(void *arg);

/* Prepares g (caller's storage, usually the stack; no destruction needed)
 * for spawns on ex. The calling thread owns g: only it may wait on g.
 * Returns 0 or -EINVAL (NULL g or ex); in a child of fork(), a group of an
 * executor the parent created stays empty (filch_group_spawn refuses with
 * -EOWNERDEAD). Any thread; wait-free. */
FILCH_API int filch_group_init(filch_group *g, filch_executor *ex);

/* Spawns fn(arg) in g: pushed on the calling worker's deque (a worker of
 * g's executor), or given to the injector from any other thread (the
 * bounded-queue policy applies). Returns 0, -EINVAL (NULL g or fn), -ENOMEM,
 * -ESHUTDOWN, -EOWNERDEAD (g's executor was created by the parent of a
 * fork() that made this process), or -EAGAIN (from a foreign thread: ex's
 * bounded queue stayed full under FILCH_FULL_FAIL or FILCH_FULL_BLOCK); on
 * error fn is not run. Any thread, jobs of g included. Lock-free; no
 * allocation and no atomic read-modify-write in steady state on a worker.
 * arg stays the caller's: keep it alive until filch_group_wait returns. */
FILCH_API int filch_group_spawn(filch_group *g, filch_job_fn fn, void *arg);

/* Waits until every job spawned in g has run (or was discarded by a
 * cancelling shutdown: ECANCELED); returns 0, the first nonzero code a job
 * returned, or -EINVAL (NULL g, or a thread other than g's owner). On a
 * worker of g's executor it runs g's own jobs from its deque, and jobs that
 * a stolen job of g waits for (taken from the thief: leapfrogging), never
 * an unrelated task; then it sleeps on a futex, with a spare in its place
 * on a worker (or uncompensated when none can be had). The stack grows
 * only with the program's own recursion. Afterwards g is empty and may be
 * spawned into and waited on again. Blocks. */
FILCH_API int filch_group_wait(filch_group *g);

/* ------------------------------------------------------------------ */
/* Futures (section "Futures")                                         */
/* ------------------------------------------------------------------ */

/*
 * A future is PENDING, then RUNNING, then FINISHED (with a result, or with
 * a positive error code and an optional message), or it goes from PENDING
 * straight to CANCELLED. FINISHED and CANCELLED are final ("done"). A
 * process pool's future may also go from RUNNING back to PENDING (its
 * worker died before starting it: it is queued again) or to CANCELLED
 * (filch_procpool_terminate; section "Process workers"). Every
 * call below takes a future the caller holds a reference to; none blocks
 * unless it says so.
 */
enum filch_future_state {
	FILCH_PENDING = 0,
	FILCH_RUNNING = 1,
	FILCH_FINISHED = 2, /* with a result or an error */
	FILCH_CANCELLED = 3,
};

typedef void (*filch_callback_fn)(filch_future *f, void *arg);

/* State of f (a snapshot), or -EINVAL for NULL. When it reads FINISHED the
 * outcome is visible to the caller. Any thread, wait-free. done: FINISHED
 * or CANCELLED; the three predicates are false for NULL. */
FILCH_API int filch_future_state(const filch_future *f);
FILCH_API bool filch_future_done(const filch_future *f);
FILCH_API bool filch_future_running(const filch_future *f);
FILCH_API bool filch_future_cancelled(const filch_future *f);

/* Waits up to timeout_ns (FILCH_FOREVER; 0 or negative polls) for f to be
 * done and returns 0 with *result (the task's result, possibly NULL; result
 * may be NULL), -ETIMEDOUT, -ECANCELED, the task's positive error code,
 * -EINVAL for NULL f, -EDEADLK when called by f's own task (it would wait
 * for itself), -EALREADY when the result was taken
 * (filch_future_take_result), or -EAGAIN (FILCH_FOREVER on a worker when
 * no spare could be had: see the top). *result is written only when 0 is
 * returned. The result is lent, not given: with a result destructor set,
 * it stays valid while the caller holds its reference to f, unless
 * somebody takes it (a reader racing a taker may get a pointer that the
 * taker frees: take only where nobody else reads).
 * Blocks: spins a few microseconds, then sleeps on a futex until the
 * completion wakes it. On a worker of f's executor, an untimed wait for a
 * submitted task that has not started runs that task itself (so recursive
 * submit + result works on one worker, as deep as the stack allows); any
 * other wait on a worker sleeps with a spare in its place. Returns within
 * timeout_ns (plus wake-up latency). Waiters may return before f's
 * callbacks have run. Any thread. */
FILCH_API int filch_future_result(filch_future *f, int64_t timeout_ns,
				  void **result);

/* Waits like filch_future_result; returns 0 when f finished, with *code (0 on
 * success, else the task's code) and *message (NULL or a string owned by f,
 * valid while f is referenced); -ETIMEDOUT; -ECANCELED; -EDEADLK from f's
 * own task; -EINVAL for NULL f.
 * code and message may be NULL. */
FILCH_API int filch_future_error(filch_future *f, int64_t timeout_ns,
				 int *code, const char **message);

/* Cancels f if it is still PENDING and returns true (also if it was already
 * cancelled); false if it is running or finished (a running task then sees
 * filch_cancel_requested()), and for NULL. Exactly one of a cancel and the
 * task's start wins. A successful cancel wakes f's waiters, runs its
 * callbacks in the calling thread, and so cancels the continuations
 * (filch_future_then, when_all, when_any) not yet started that depend on
 * it. Any thread, lock-free (a CAS loop on the state word). */
FILCH_API bool filch_future_cancel(filch_future *f);

/* Adds a reference; returns f (NULL for NULL). Any thread, wait-free. */
FILCH_API filch_future *filch_future_retain(filch_future *f);

/* Drops a reference; the last one frees f (and its message), and then
 * calls f's result destructor on its result if f has one, finished with a
 * non-NULL result, and nobody took it (in this thread, after f is gone:
 * the destructor gets the result and its arg, never f). A promise
 * whose last reference is dropped unfulfilled is cancelled first (its
 * callbacks run, its dependents are cancelled). NULL is a no-op. The task
 * of a submitted future holds its own reference: releasing a future does
 * not cancel its task. Any thread, wait-free (unless it cancels, or calls
 * the destructor, which runs as long as it runs). */
FILCH_API void filch_future_release(filch_future *f);

/*
 * Calls cb(f, arg) once f is done, exactly once: in the thread that
 * completes f (a worker, or the thread that cancels it or completes the
 * promise), in the order callbacks were added, or at once in the caller if
 * f is already done (if it completes during the call: in this thread or in
 * that of another on_done racing the completion). Returns 0, -EINVAL (NULL
 * f or cb) or -ENOMEM (then cb is never called); the first callback of a
 * future needs no allocation.
 * cb may release f, add callbacks, submit tasks, and cancel or complete
 * other futures; the callbacks of a future completed inside a callback run
 * in the same thread right after the current callback returns (so long
 * chains do not grow the stack). cb should not block for long: it delays
 * the completing worker. Any thread, lock-free.
 */
FILCH_API int filch_future_on_done(filch_future *f, filch_callback_fn cb,
				   void *arg);

/*
 * The result's owner. Without a destructor, filch never frees a result: the
 * caller does, after reading it. With one, f owns its result: filch calls
 * dtor(result, arg) exactly once, when f's last reference is dropped (see
 * filch_future_release), if f FINISHED with code 0 and a non-NULL result
 * that nobody took; never for a failed or cancelled future (a task that
 * fails frees what it stored in *result itself). Readers borrow the result
 * (filch_future_result: valid while they hold a reference); one reader may
 * take it (filch_future_take_result) and then owns it.
 *
 * Sets f's destructor: once, at any time before f is freed (before or
 * after f completes: the caller's reference keeps f alive, so the
 * destructor cannot miss the free). Use it for promises and continuations,
 * or pass it to filch_submit_ex. Returns 0, -EINVAL (NULL f or dtor), or
 * -EEXIST (f already has one: unchanged; of two racing calls exactly one
 * succeeds). dtor runs in whichever thread drops the last reference: a
 * worker, a callback, a waiter; it must not block for long. Any thread,
 * lock-free.
 */
FILCH_API int filch_future_set_result_dtor(filch_future *f,
					   filch_result_dtor_fn dtor, void *arg);

/*
 * Waits like filch_future_result and moves the result out of f: returns 0
 * with *result, which is now the caller's (f's destructor will not run on
 * it; later filch_future_result and take calls return -EALREADY). At most
 * one take of a future succeeds, also when several race: the others get
 * -EALREADY. Otherwise returns what filch_future_result returns, and
 * -EINVAL for NULL result (nothing taken); on any error *result is
 * untouched and f keeps its result. Works with or without a destructor.
 * A continuation's fn may take its antecedent's result. Blocks like
 * filch_future_result; the take itself is one atomic RMW. Any thread.
 */
FILCH_API int filch_future_take_result(filch_future *f, int64_t timeout_ns,
				       void **result);

/*
 * A future's tag: a pointer of the user's (NULL until set), for telling
 * futures apart, as Python's {executor.submit(fn, x): x for x in xs} does.
 * filch never reads through it or frees it. set_tag may be called at any
 * time, also after f is done and from callbacks, and replaces the tag;
 * returns 0, or -EINVAL for NULL f. filch_future_tag returns it (NULL for
 * NULL f). Memory order: set_tag is a release and tag an acquire, so a
 * reader that sees a new tag also sees what the setter wrote before
 * setting it; a reader racing set_tag gets the old tag or the new one.
 * Set it at submit (filch_submit_ex) so that callbacks, as_completed and
 * wait never see the future without it. Any thread, wait-free.
 */
FILCH_API int filch_future_set_tag(filch_future *f, void *tag);
FILCH_API void *filch_future_tag(const filch_future *f);

/* ------------------------------------------------------------------ */
/* Promises and continuations (section "Promises and continuations")   */
/* ------------------------------------------------------------------ */

/*
 * Promises: futures completed by the user, e.g. from an I/O callback.
 * create gives a PENDING future (the caller owns one reference; -EINVAL,
 * -ENOMEM). set_running moves it to RUNNING (0 also if it already was;
 * -ECANCELED if it was cancelled, -EINVAL if completed); a running promise
 * can no longer be cancelled. set_result and set_error complete it:
 * exactly one completion wins and returns 0; the others get -EINVAL
 * (already completed or being completed) or -ECANCELED (cancelled).
 * set_error needs code > 0 (else -EINVAL) and copies message (may be
 * NULL; -ENOMEM if the copy fails, the promise then stays as it was).
 * Every promise call returns -EINVAL for NULL or for a future that is not
 * a promise. Any thread, lock-free; completing runs the callbacks in the
 * caller. Results: a result that set_result accepted belongs to the promise
 * if it has a destructor (filch_future_set_result_dtor, best set right
 * after create); when set_result fails, result stays the caller's.
 */
FILCH_API int filch_promise_create(filch_future **f);
FILCH_API int filch_promise_set_running(filch_future *f);
FILCH_API int filch_promise_set_result(filch_future *f, void *result);
FILCH_API int filch_promise_set_error(filch_future *f, int code,
				      const char *message);

/*
 * Continuation: when f finishes with a result, fn(f, arg, &result) runs as
 * a task on ex (next on the completing worker when that is one of ex's)
 * and completes *out like a task (filch_task_fail and
 * filch_cancel_requested work in fn). If f fails, *out fails with the same
 * code and a copy of its message without running fn; if f is cancelled,
 * so is *out, at once. If ex refuses the task when f completes, *out is
 * cancelled (ex shut down) or fails with the refusal's code (EAGAIN,
 * ENOMEM, EOWNERDEAD). The continuation keeps ex's memory alive until
 * then. Returns 0 with *out (the caller owns one reference); or -EINVAL,
 * -ENOMEM, or -EOWNERDEAD (in a child of fork(), ex was created by the
 * parent), and then fn never runs. Cancelling *out before fn started
 * stops it. Results: fn borrows f's result (filch_future_result; valid
 * while fn runs) or takes it (filch_future_take_result); when fn never
 * runs (f failed or was cancelled, *out was cancelled, ex refused it), f
 * keeps its result, and frees it with its destructor if it has one. *out
 * owns fn's result once given a destructor (filch_future_set_result_dtor,
 * at any time before its last release); cancelled or failed, *out has no
 * result. Any thread, lock-free.
 */
typedef int (*filch_then_fn)(filch_future *antecedent, void *arg,
			     void **result);
FILCH_API int filch_future_then(filch_future *f, filch_executor *ex,
				filch_then_fn fn, void *arg, filch_future **out);

/*
 * *out finishes with result NULL once every future of fs finished with a
 * result. It fails at once with the first error seen (its code and
 * message), or is cancelled at once when one of fs is. n == 0 gives a
 * finished future; a future listed twice counts twice. The caller keeps
 * its references to fs; cancelling *out does not cancel them. Returns 0
 * with *out (one reference for the caller), -EINVAL (NULL out, fs, or
 * entry) or -ENOMEM. Any thread, lock-free.
 */
FILCH_API int filch_when_all(filch_future *const *fs, size_t n,
			     filch_future **out);

/* *out completes like the first of fs to be done: with a result, it
 * finishes with that future's index as its result, (void *)(uintptr_t)i;
 * with an error, it fails with that code and message; cancelled, it is
 * cancelled. n == 0 is -EINVAL; otherwise as filch_when_all. */
FILCH_API int filch_when_any(filch_future *const *fs, size_t n,
			     filch_future **out);

/* ------------------------------------------------------------------ */
/* wait, as_completed, map (section "Waiting and mapping")             */
/* ------------------------------------------------------------------ */

/* What filch_wait waits for (Python's return_when). */
enum filch_wait_mode {
	FILCH_FIRST_COMPLETED = 1, /* any future of fs is done */
	FILCH_FIRST_EXCEPTION = 2, /* any finished with an error, else all
				      done (cancelled counts as done, not as
				      an error) */
	FILCH_ALL_COMPLETED = 3,   /* every future is done */
};

/*
 * Waits until mode holds for fs[0..n) or timeout_ns passes (0 polls,
 * FILCH_FOREVER waits forever). Then reorders fs in place as a stable
 * partition: the futures counted done first, then the others, each part
 * in input order; and sets *ndone to the number counted done (ndone may be
 * NULL): Python's (done, not_done) without allocating. Counted done: every
 * future done when the call began, and every one whose completion the
 * wait saw before returning; one completing as it returns may be counted
 * or not, and FIRST_COMPLETED stops watching the others once one
 * completed. Duplicates are allowed and each occurrence counts; all the
 * occurrences of a future fall on one side (unless, in a call that returns
 * at once, the future completes while the call reads the states). Returns 0
 * when mode holds for the futures counted done, -ETIMEDOUT when it does
 * not (fs is reordered and *ndone set all the same), -EAGAIN (FILCH_FOREVER
 * on a worker when no spare could be had: see the top; fs is reordered and
 * *ndone set as for -ETIMEDOUT), -EINVAL (fs NULL with n > 0, a NULL
 * entry, an unknown mode) or -ENOMEM; after these two, fs and *ndone are
 * untouched. n == 0 returns 0 at once with *ndone = 0.
 * Woken by the futures' completions (never polls them), each recorded as
 * it happens: once woken, the reordering costs O(m log m) for m counted
 * done, plus moving the entries before the last of them; it reads no other
 * future. The caller keeps its references, which must outlive the call.
 * No allocation when mode already holds or for up to 4 futures (the
 * thread's task-record slab), one up to 32 futures, two above (the second,
 * a table of duplicates, freed before returning). Blocks: sleeps on a
 * futex (on a worker, with a spare in its place). On a worker, an untimed
 * ALL_COMPLETED wait first runs the tasks of fs that were submitted to its
 * executor and that nobody started (it depends on all of them); otherwise
 * no task runs here. Any thread.
 */
FILCH_API int filch_wait(filch_future **fs, size_t n, int64_t timeout_ns,
			 int mode, size_t *ndone);

typedef struct filch_as_completed filch_as_completed;

/*
 * Starts iterating over fs[0..n) in completion order: the futures already
 * done come first (in input order), then each as it completes; a future
 * listed twice is yielded once. timeout_ns bounds the whole iteration,
 * counted from this call (0 polls, FILCH_FOREVER). The iterator takes its
 * own reference on each future, so the caller may release fs at once.
 * Returns 0 and *it, -EINVAL (it NULL, fs NULL with n > 0, a NULL entry) or
 * -ENOMEM (nothing kept); after an error *it is untouched. One allocation
 * (two above 32 futures, the second freed before returning). Never
 * blocks. Any thread.
 */
FILCH_API int filch_as_completed_begin(filch_as_completed **it,
				       filch_future *const *fs, size_t n,
				       int64_t timeout_ns);
/*
 * The next future to complete: 0 with *f (borrowed from the iterator: valid
 * until _end, or retain it), FILCH_END when every future was yielded, or
 * -ETIMEDOUT when the iteration's timeout passed first, or -EAGAIN (no
 * timeout, on a worker, and no spare could be had: see the top). These end
 * the iteration: every later call returns FILCH_END (start a new iterator
 * to wait again). -EINVAL for NULL arguments. *f is written only with 0.
 * Blocks like filch_wait; fed by completion callbacks through a lock-free
 * list, never polls. Only one thread may iterate at a time.
 */
FILCH_API int filch_as_completed_next(filch_as_completed *it, filch_future **f);
/*
 * As filch_as_completed_next, and also gives in *index the position in the
 * fs given to _begin of the yielded future (of its first occurrence, for a
 * future listed more than once): which input it was, even for a future
 * that failed and carries no result. O(1). Returns what
 * filch_as_completed_next returns; *f and *index are written only with 0.
 * -EINVAL when it, f or index is NULL.
 */
FILCH_API int filch_as_completed_next_index(filch_as_completed *it,
					    filch_future **f, size_t *index);
/* Ends the iteration and drops the iterator's references; futures not yet
 * yielded keep running. NULL is a no-op. Never blocks. */
FILCH_API void filch_as_completed_end(filch_as_completed *it);

typedef struct filch_map_iter filch_map_iter;

/* Produces the next input of a generator-fed map: returns 0 with *item,
 * FILCH_END at the end, or a negative error that ends the map (delivered
 * by filch_map_next after the results of the items before it). Called only
 * from filch_map_gen, filch_map_next and filch_map_next_span, in the thread
 * calling them. */
typedef int (*filch_gen_fn)(void *gen_arg, void **item);

/* filch_map_opts.flags: while the result it needs is not ready, the thread
 * calling filch_map_next runs chunks no worker has started yet (as the
 * calling thread of tbb::parallel_for does) instead of only waiting. Off by
 * default: fn then runs on that thread too, outside the executor, without
 * the workers' initializer state, and filch_cancel_requested() is false
 * there. */
#define FILCH_MAP_CALLER_RUNS 1u
/* filch_map_opts.flags: timeout_ns is taken as filch's other timeouts are:
 * FILCH_FOREVER waits forever, 0 (or another negative value) polls. Without
 * it a zero timeout_ns is the default, FILCH_FOREVER. With a poll, the
 * results already computed come out and the first one that is not ready
 * gives -ETIMEDOUT, like Python's map(timeout=0). */
#define FILCH_MAP_TIMEOUT_SET 2u
/* filch_map_opts.flags: result_dtor is set (a field added after the first
 * version; a program built against an older filch.h leaves this bit clear). */
#define FILCH_MAP_RESULT_DTOR 4u

/* One chunk of a map, as a filch_chunk_fn sees it. */
struct filch_chunk {
	size_t first;	     /* input index of the chunk's first item */
	size_t n;	     /* items in the chunk, >= 1 */
	void *const *items;  /* its inputs; NULL in a map over indices */
	void **results;	     /* results[i] is the result for item first + i */
	size_t ndone;	     /* set on an error: how many results, from
				results[0], were stored before the item that
				failed (reads 0 if left alone) */
};

/*
 * Computes a whole chunk of a map in one call (filch_map_opts.chunk_fn):
 * results[i] for i in [0, n), then returns 0; or returns an error code
 * (sign ignored, as for a task) after setting c->ndone. The loop is the
 * caller's own, so the compiler can inline and vectorize the per-item work,
 * as it does a tbb::parallel_for body over a blocked_range. A long chunk
 * may poll filch_cancel_requested() and return ECANCELED (filch_map_close
 * asks running chunks to stop).
 */
typedef int (*filch_chunk_fn)(void *arg, struct filch_chunk *c);

struct filch_map_opts {
	unsigned flags;	    /* FILCH_MAP_* bits; other bits: -EINVAL */
	int64_t timeout_ns; /* for the whole map, from the call; 0 or
			       negative = FILCH_FOREVER, unless
			       FILCH_MAP_TIMEOUT_SET (then 0 polls) */
	size_t chunksize;   /* items per task; 0 = automatic: about 4 chunks
			       per worker for an array (at most 8192
			       items), 1 for a generator. Clamped to n for
			       an array, to 65536 for a generator, and to
			       2^24 */
	size_t buffersize;  /* bound on chunks in flight (submitted and not
			       yet yielded); 0 = 4 per worker. Clamped to
			       the array's chunks, to 65536, and so that
			       chunksize * buffersize <= 2^24 (at least 1) */
	filch_chunk_fn chunk_fn; /* instead of fn (which is then NULL):
				    called once per chunk with chunk_arg;
				    filch_map's items may then be NULL for a
				    map over the indices [0, n) */
	void *chunk_arg;
	/* With FILCH_MAP_RESULT_DTOR: called exactly once, with dtor_arg, on
	 * every non-NULL result that the consumer will never receive: the
	 * rest of the results when the map ends early (filch_map_close
	 * before FILCH_END, a timeout, an error, a cancelling shutdown), and
	 * the results that a chunk stored before it failed or stopped and
	 * that were not yielded. Never on a result already yielded, nor on
	 * the failing item's. Called by filch_map_close, in its thread, once
	 * every chunk has finished. NULL: none (results not yielded are
	 * dropped). */
	filch_result_dtor_fn result_dtor;
	void *dtor_arg;
};

/*
 * Maps fn over items[0..n) (filch_map) or over what gen produces
 * (filch_map_gen) on ex, chunksize items per task, with at most buffersize
 * chunks in flight: when the consumer takes the last result of a chunk,
 * the next chunk is submitted in its place before the call returns, so
 * memory stays (buffersize + 1) * chunksize result pointers (and as many
 * inputs for a generator) whatever the input's length (an endless
 * generator streams). items must stay valid until
 * filch_map_close. With opts->chunk_fn, fn is NULL and the chunk function
 * runs each chunk in one call. Returns 0 and *it; -EINVAL (NULL it or ex;
 * fn and chunk_fn both NULL or both set; items NULL with n > 0 without a
 * chunk_fn; NULL gen; unknown flags); -ENOMEM; or the error that kept the
 * first chunk from starting (-ESHUTDOWN, -EAGAIN, -EOWNERDEAD for an
 * executor of the parent in a child of fork(), gen's error), in which case
 * fn was never called and *it is untouched. Never blocks unless ex's
 * bounded queue blocks submitters. Any thread.
 */
FILCH_API int filch_map(filch_map_iter **it, filch_executor *ex,
			filch_task_fn fn, void *const *items, size_t n,
			const struct filch_map_opts *opts);
FILCH_API int filch_map_gen(filch_map_iter **it, filch_executor *ex,
			    filch_task_fn fn, filch_gen_fn gen, void *gen_arg,
			    const struct filch_map_opts *opts);
/*
 * The next result in input order: 0 with *result (untouched by any other
 * return); FILCH_END after the last; -ETIMEDOUT when the map's timeout
 * passed first; the first task error in input order (positive, after the
 * results before it); or an input error (gen's negative code, -ESHUTDOWN,
 * -ECANCELED when a chunk was cancelled, e.g. by a cancelling shutdown;
 * -EAGAIN only when ex's bounded FILCH_FULL_FAIL queue stays full of other
 * work: a chunk that did not fit is retried once this map's own chunks
 * made room). Any non-zero return ends the iteration: later calls return
 * FILCH_END. -EINVAL for NULL arguments; -EAGAIN as filch_future_result.
 * Blocks like filch_future_result (waiting for a chunk on a worker: sleeps
 * with a spare in its place); taking a chunk's last result also gathers
 * and submits the next chunk. One thread at a time.
 */
FILCH_API int filch_map_next(filch_map_iter *it, void **result);
/*
 * Like filch_map_next, for many results at once without copying: 0 with
 * *results pointing at *count >= 1 consecutive results in input order
 * (valid until the next call on it), or what filch_map_next would return,
 * and then *results and *count are untouched. The two may be mixed.
 */
FILCH_API int filch_map_next_span(filch_map_iter *it, void *const **results,
				  size_t *count);
/*
 * Cancels the chunks not yet started (fn never runs on their items), asks
 * the running ones to stop (a chunk checks every 16 items; fn itself may
 * poll filch_cancel_requested()), waits for them, passes every result not
 * yielded to the result destructor (FILCH_MAP_RESULT_DTOR; without one they
 * are dropped), and frees it. NULL is a no-op. Blocks (on a worker, with a
 * spare in its place; when none can be had it sleeps all the same).
 */
FILCH_API void filch_map_close(filch_map_iter *it);

/* ------------------------------------------------------------------ */
/* Time (section "Time")                                               */
/* ------------------------------------------------------------------ */

/*
 * Timers of an executor: a heap of deadlines on the monotonic clock and one
 * thread per executor ("<prefix>-timer", started with its first timer,
 * joined by filch_executor_destroy) that sleeps until the nearest deadline;
 * no worker waits for a timer. Delays are int64_t nanoseconds >= 0 (0: at
 * once; a negative delay is -EINVAL, FILCH_FOREVER included). A timer
 * counts as pending work of its executor: filch_shutdown stops foreign
 * threads from arming new ones (-ESHUTDOWN; a worker of the executor may
 * still arm while the pool drains); FILCH_SHUTDOWN_WAIT waits for every
 * armed timer to fire (and the work it starts); CANCEL_PENDING cancels
 * every armed timer (their futures are CANCELLED, their callbacks ran)
 * before it returns, waiting for those that the timer thread or another
 * shutdown is cancelling at that moment (but not when called from a
 * timer's callback, which is one of them).
 * Periodic tasks end at any shutdown. Callbacks of futures that a timer
 * completes (sleep, timeout) run on the timer thread: keep them short, and
 * never shut down or destroy that executor with WAIT in them (it would
 * wait for itself). In a child of fork(), every call below on an executor
 * of the parent returns -EOWNERDEAD.
 */

/*
 * Submits fn(arg) to ex once delay_ns has passed: the timer thread hands
 * the task to ex's injector at the deadline (a task that a cancelling
 * shutdown discards, or that a full bounded queue refuses then, whatever
 * its policy, is CANCELLED, or fails with EAGAIN and a message). With fut
 * non-NULL, *fut is PENDING until the task starts: filch_future_cancel
 * then removes its timer at once (no memory kept, nothing fires). fut NULL
 * is fire and forget. A worker that waits for it never runs it in its
 * place before its deadline (it sleeps, see the top). Returns 0; -EINVAL (NULL ex or fn, delay_ns < 0);
 * -ENOMEM; -EAGAIN (the timer thread could not be started); -ESHUTDOWN;
 * -EOWNERDEAD; on error fn never runs and *fut is untouched. Any thread;
 * takes the executor's timer lock (never blocks for long).
 */
FILCH_API int filch_submit_after(filch_executor *ex, int64_t delay_ns,
				 filch_task_fn fn, void *arg,
				 filch_future **fut);

/*
 * *f finishes with result NULL once delay_ns has passed (its callbacks run
 * on ex's timer thread): a timer to combine with filch_when_any.
 * Cancelling *f removes the timer at once. Returns 0 with *f (the caller
 * owns one reference); -EINVAL (NULL ex or f, delay_ns < 0); -ENOMEM;
 * -EAGAIN; -ESHUTDOWN; -EOWNERDEAD; on error *f is untouched. Any thread.
 */
FILCH_API int filch_sleep_future(filch_executor *ex, int64_t delay_ns,
				 filch_future **f);

/* filch_future_with_timeout flags: cancel f when the deadline wins (a
 * PENDING f is cancelled, a running task sees filch_cancel_requested). */
#define FILCH_TIMEOUT_CANCEL 1u

/*
 * *out completes like f (its result; its error code with a copy of its
 * message; cancelled), or fails with ETIMEDOUT (positive, as a task error,
 * message "timed out") once timeout_ns has passed on ex's timer, whichever
 * comes first: exactly one outcome wins and *out's callbacks run once. f
 * is left alone when the deadline wins, unless flags has
 * FILCH_TIMEOUT_CANCEL. *out's result is f's result pointer, borrowed:
 * *out never frees it (if f owns it through a result destructor, keep a
 * reference to f while you use it). timeout_ns: FILCH_FOREVER never
 * times out; 0 or another negative value times out at once unless f is
 * already done. The
 * caller keeps its reference to f. Cancelling *out removes its timer and
 * leaves f alone. Returns 0 with *out (one reference for the caller);
 * -EINVAL (NULL f, ex or out, unknown flag); -ENOMEM; -EAGAIN; -ESHUTDOWN;
 * -EOWNERDEAD; on error *out is untouched and nothing is armed. Any
 * thread, lock-free but for the timer lock.
 */
FILCH_API int filch_future_with_timeout(filch_future *f, filch_executor *ex,
					int64_t timeout_ns, unsigned flags,
					filch_future **out);

/* filch_submit_periodic flags: the period counts from the end of each run
 * (Java's scheduleWithFixedDelay) instead of from the first deadline
 * (fixed rate, the default: scheduleAtFixedRate). */
#define FILCH_FIXED_DELAY 1u

/*
 * Runs fn(arg) as a task on ex after delay_ns, then again and again: at a
 * fixed rate (run k is due at first + k * period_ns: no drift; a run that
 * overruns one or more periods is followed by the next due time still
 * ahead, the missed ones skipped: runs never overlap or pile up), or with
 * FILCH_FIXED_DELAY period_ns after each run ends (it drifts by each run's
 * length and the timer's lateness). fn's result is ignored. The
 * repetition ends when *handle is cancelled (a run in progress finishes;
 * no other starts), when fn returns an error (*handle fails with its code
 * and a copy of its message), or at ex's shutdown (*handle CANCELLED, as
 * when ex refuses a run). *handle is PENDING meanwhile, then done.
 * Returns 0 with *handle (the caller owns one reference); -EINVAL (NULL
 * ex, fn or handle, delay_ns < 0, period_ns <= 0, unknown flag); -ENOMEM;
 * -EAGAIN; -ESHUTDOWN; -EOWNERDEAD; on error fn never runs and *handle is
 * untouched. Any thread.
 */
FILCH_API int filch_submit_periodic(filch_executor *ex, int64_t delay_ns,
				    int64_t period_ns, unsigned flags,
				    filch_task_fn fn, void *arg,
				    filch_future **handle);

/* How filch_submit_retry retries; NULL or a zero field is the default. */
struct filch_retry_policy {
	unsigned flags;		/* reserved: 0 (other bits: -EINVAL) */
	unsigned max_attempts;	/* attempts in all, first included; 0 = 3 */
	int64_t base_ns;	/* bound of the first backoff; 0 = 1 ms */
	int64_t cap_ns;		/* bound of any backoff; 0 = 1 s */
	/* Whether a failure with code (> 0) is retried; NULL: every one. */
	bool (*retry_if)(int code, void *arg);
	void *retry_if_arg;
	/* If non-NULL: the number of attempts made, stored before *fut
	 * completes (read it once *fut is done). */
	unsigned *attempts;
};

/*
 * Submits fn(arg) like filch_submit; when it fails with a code that
 * retry_if accepts and fewer than max_attempts attempts were made, it is
 * submitted again after a backoff drawn uniformly from [0, min(cap_ns,
 * base_ns * 2^(k-1))] after attempt k ("full jitter"). The backoff is a
 * timer: no worker waits during it. *fut (non-NULL) finishes with the
 * result of the attempt that succeeded, or fails with the last attempt's
 * code and a copy of its message; cancelling it stops the retries (an
 * attempt not yet started is cancelled, a running one finishes).
 * Returns 0 with *fut; -EINVAL (NULL ex, fn or fut, negative base_ns or
 * cap_ns, unknown flag); -ENOMEM; or what filch_submit returns for the
 * first attempt; on error fn never runs and *fut is untouched. Later
 * attempts are submitted by the timer thread (a full bounded queue then
 * fails *fut with EAGAIN); a cancelling shutdown cancels *fut. Any thread.
 */
FILCH_API int filch_submit_retry(filch_executor *ex, filch_task_fn fn,
				 void *arg,
				 const struct filch_retry_policy *policy,
				 filch_future **fut);

/* ------------------------------------------------------------------ */
/* Completion port (section "Completion port")                         */
/* ------------------------------------------------------------------ */

typedef struct filch_port filch_port;

/*
 * A completion port lets an event loop (epoll, libuv, libevent) wait for
 * futures through one file descriptor: add futures to the port; its fd (an
 * eventfd) becomes readable once any of them is done; filch_port_drain then
 * returns the done futures, each once, in completion order, without
 * blocking. Completions from any number of threads cost no system call while
 * the loop has not drained since the last wake-up, and no completion is lost
 * between a drain and the loop's next wait. Add from any thread; drain from
 * one thread at a time (the loop's).
 */

/* One completed future, as filch_port_drain returns it. */
struct filch_port_event {
	filch_future *future; /* done; the caller owns this reference */
	void *tag;	      /* the tag given to filch_port_add */
};

/* Creates a port and its eventfd (non-blocking, close-on-exec). flags must
 * be 0 (reserved). Returns 0 and *p, -EINVAL (NULL p, unknown flag),
 * -ENOMEM, or -EMFILE/-ENFILE (no file descriptor left). Any thread; never
 * blocks. */
FILCH_API int filch_port_create(filch_port **p, unsigned flags);

/* The port's file descriptor, to watch for readability (level-triggered:
 * it stays readable while a completion is waiting to be drained; with an
 * edge-triggered watch, drain until filch_port_drain returns fewer than
 * cap events). Owned by the port: never read, write or close it. Returns
 * the fd, or -EINVAL for NULL. Any thread, wait-free. */
FILCH_API int filch_port_fd(const filch_port *p);

/* Adds f: once f is done (finished or cancelled), an event {f, tag} is
 * queued on p and p's fd becomes readable. The port takes its own
 * reference to f (the caller keeps its own and may release it at once). A
 * future already done is queued at once. Adding the same future twice gives
 * two events. Returns 0, -EINVAL (NULL p or f), or -ENOMEM (then nothing is
 * queued and no reference is kept). Any thread, including a task or a
 * callback; lock-free, never blocks; takes one small record from the
 * calling thread's slab (no malloc in steady state). The completing thread
 * queues the event (a lock-free push) and writes the eventfd only when the
 * port is not already signalled. */
FILCH_API int filch_port_add(filch_port *p, filch_future *f, void *tag);

/* Takes up to cap queued events into out[0..*n), in completion order, and
 * resets the fd's readability (it becomes readable again with the next
 * completion, or at once if events are still queued because cap was
 * reached). The caller owns the reference in each event's future and must
 * release it. Returns 0 (also with *n == 0: a spurious wake-up is harmless),
 * -EINVAL (NULL p, out or n with cap > 0), or -EAGAIN when another thread is
 * draining p at this moment (nothing taken, *n untouched). Never blocks: at most one
 * read(2) of the eventfd. Wait-free apart from that system call. Calls must
 * not overlap (they fail with -EAGAIN): drain from the loop's thread. */
FILCH_API int filch_port_drain(filch_port *p, struct filch_port_event *out,
			       size_t cap, size_t *n);

/* Destroys p: releases the futures of the events not drained; futures still
 * pending stay valid for their other holders and are released by the port
 * when they complete (no event is queued for them any more). Remove the fd
 * from your event loop first: it stays open (and may still become readable)
 * until the last pending future added to p is done, then is closed. NULL is
 * a no-op. Must not overlap another call on p (completions may go on); any
 * thread; never blocks. */
FILCH_API void filch_port_destroy(filch_port *p);

/* ------------------------------------------------------------------ */
/* Process workers (section "Process workers" of docs/api.md)          */
/* ------------------------------------------------------------------ */

/*
 * A pool of worker processes behind ordinary futures: a task that crashes,
 * leaks or never returns takes its worker down, not the program. Functions
 * cross the process boundary as code addresses: workers are forks of the
 * program (through the fork server, a fork made when the pool was
 * created), so fn (and the initializer) must be functions of the same
 * binary or of a library it had loaded when the pool was created. With
 * FILCH_START_SPAWN (an exec of the program) they cross as a module and an
 * offset in it, found again in the worker: fn and the initializer must lie
 * in a loaded module (the program or a shared library; else -EINVAL), and
 * an initializer_arg pointing into a module's static data crosses the same
 * way (the worker reads its own, initial copy; any other value crosses as
 * is). Only bytes cross: the argument is copied to the worker, the result
 * back.
 */
typedef struct filch_procpool filch_procpool;

/* A process task: runs in a worker process with a copy of the len bytes
 * of arg. It returns 0 and may set *out to a malloc'd buffer of *out_len
 * bytes (initially NULL and 0), which filch copies back and frees in the
 * worker; or it returns a positive error code (a negative -e is taken as
 * e), and then the bytes of *out, if any, are the future's error message
 * (cut at 4095 bytes). */
typedef int (*filch_proc_fn)(const void *arg, size_t len, void **out,
			     size_t *out_len);

/* What a process task's future holds on success: its result bytes, owned
 * by the future (freed with it; filch_future_take_result hands them over:
 * release them with filch_bytes_free). data is never NULL (len may be 0)
 * and is NUL-terminated after len bytes. A result of
 * FILCH_PROCPOOL_SHM_MIN bytes or more is a read-only mapping of the
 * shared memory that the worker wrote it into. */
struct filch_bytes {
	size_t len;
	void *data;
};

/* Arguments and results of at least this many bytes (1 MiB) cross
 * between the program and a worker in shared memory (a sealed memfd
 * passed on the worker's socket) rather than through the socket. */
#define FILCH_PROCPOOL_SHM_MIN ((size_t)1 << 20)

/* Releases a result that filch_future_take_result took from a process
 * task's future: frees b, and unmaps its data when it is shared memory.
 * NULL is a no-op. Any thread; never blocks. */
FILCH_API void filch_bytes_free(struct filch_bytes *b);

/* How workers are started (filch_procpool_opts.start_method). */
enum filch_start_method {
	/* The default: a single-threaded fork server, forked from the pool's
	 * completion thread when the pool is created, forks every worker
	 * (replacements too), so no worker inherits a lock that another
	 * thread of the program held at a later fork. */
	FILCH_START_FORKSERVER = 0,
	/* fork(2) of the program by the pool's completion thread for each
	 * worker: a worker inherits every lock held at that moment by the
	 * program's other threads (docs/api.md, "Process workers"). */
	FILCH_START_FORK = 1,
	/* fork(2) and exec of the program (/proc/self/exe) for each worker:
	 * a fresh process that inherits no memory, lock or thread state;
	 * libfilch recognises the worker before main, so main never runs
	 * in it. Functions cross as a module and an offset (docs/api.md,
	 * "Process workers"). The slowest start. */
	FILCH_START_SPAWN = 2,
};

/* filch_procpool_opts.flags: each bit says that a field added after the
 * first version is set (a program built against an older filch.h passes a
 * shorter struct with these bits clear, and gets the old behavior). */
#define FILCH_PROCPOOL_OPT_SPIN 1u /* spin_ns is set */

struct filch_procpool_opts {
	unsigned flags;	  /* FILCH_PROCPOOL_OPT_*; other bits: -EINVAL */
	unsigned workers; /* 0 = the number of CPUs of the process */
	/* Runs once in each worker process, as it starts (replacements
	 * too), with the worker's index; a nonzero return makes the worker
	 * exit: at create, filch_procpool_create then fails with that code
	 * made negative; later, the slot stays empty. */
	int (*initializer)(void *arg, unsigned worker_index);
	void *initializer_arg;
	/* A worker exits after this many tasks and is replaced; 0 = never. */
	unsigned max_tasks_per_child;
	/* A task still running after this long is killed with its worker:
	 * its future fails with ETIMEDOUT; 0 = no limit. */
	int64_t time_limit_ns;
	/* RLIMIT_AS of each worker in bytes (an allocation beyond it fails
	 * in the task); 0 = inherited. */
	size_t memory_limit;
	int start_method; /* enum filch_start_method; 0 = the fork server */
	/* With FILCH_PROCPOOL_OPT_SPIN: how long a worker process waiting
	 * for its next call, and the completion thread waiting for a reply,
	 * poll without blocking before they sleep, in ns (0: never, at most
	 * 1 ms); each polls only while its last wait was that short. Without
	 * the flag: 50 us. */
	int64_t spin_ns;
};

/* Counters of a pool (filch_procpool_stats). */
struct filch_procpool_stats {
	uint64_t crashes;    /* workers that died running a task (signal,
				exit, or a broken pipe), time limits excluded */
	uint64_t timeouts;   /* tasks killed by the time limit */
	uint64_t terminated; /* tasks killed by filch_procpool_terminate or
				a killing shutdown */
	uint64_t started;    /* worker processes started, replacements too */
};

/* A killing shutdown: running tasks are killed with their workers, their
 * futures end cancelled (filch_procpool_shutdown). */
#define FILCH_PROCPOOL_KILL 4u

/* Creates a pool, its completion thread, and its workers (forked by that
 * thread, or by the fork server that it forks first), and waits until each
 * worker has run its initializer (a hanging initializer blocks it). Returns 0
 * and *pp (the caller owns it: filch_procpool_destroy), -EINVAL (NULL pp,
 * flags or start_method unknown, more than 1024 workers, a negative
 * time limit; with spawn, an initializer in no loaded module), -ENOMEM, -EAGAIN (fork or thread creation failed), -EMFILE
 * or -ENFILE, -ECHILD (a worker died before it was ready), or the
 * initializer's code made negative; on error *pp is
 * untouched and no process or thread is left. Any thread; blocks. */
FILCH_API int filch_procpool_create(filch_procpool **pp,
				    const struct filch_procpool_opts *opts);

/* Copies the len bytes of arg (arg may be NULL when len is 0) and queues
 * fn for the least loaded worker (up to 16 tasks are written ahead to a
 * worker; each stays pending until the worker reaches it). Returns 0 and *fut (the caller owns one
 * reference), whose result is a struct filch_bytes * that the future owns;
 * or -EINVAL (NULL pp, fn or fut, NULL arg with len > 0; with spawn, fn
 * in no loaded module), -ENOMEM, -EMFILE or -ENFILE (an argument of
 * FILCH_PROCPOOL_SHM_MIN bytes or more needs a descriptor until its
 * task ends),
 * -ESHUTDOWN (the pool is shutting down), -EOWNERDEAD (in a child of
 * fork() of the pool's creator). A worker that dies while running the task
 * fails its future with ECHILD and a message naming the signal or the exit
 * status; the time limit fails it with ETIMEDOUT; a result that the
 * program has no memory for fails it with ENOMEM. Cancelling the future
 * before its worker starts it (filch_future_cancel) discards the task. fut's
 * callbacks run in the pool's completion thread. Any thread; blocks only
 * on the pool's lock. */
FILCH_API int filch_procpool_submit(filch_procpool *pp, filch_proc_fn fn,
				    const void *arg, size_t len,
				    filch_future **fut);

/* Stops f's task: a pending one is cancelled (as filch_future_cancel); a
 * running one has its worker killed (SIGKILL) and replaced, and f ends
 * cancelled (filch_future_cancelled true; filch_future_result and
 * filch_future_error return -ECANCELED), unless its result arrived first
 * (then f keeps it: exactly one outcome, its callbacks run once). Returns 0 (the stop was
 * asked; f's outcome says which came first), -EINVAL (NULL pp or f),
 * -ESRCH (f is not a pending or running task of pp), -EOWNERDEAD. Any
 * thread; never waits for the kill. */
FILCH_API int filch_procpool_terminate(filch_procpool *pp, filch_future *f);

/* Stops accepting submissions (-ESHUTDOWN). flags: FILCH_SHUTDOWN_WAIT
 * blocks until the queue is drained, every running task is done and every
 * worker is reaped; FILCH_SHUTDOWN_CANCEL_PENDING cancels the tasks not
 * yet started (before returning); FILCH_PROCPOOL_KILL kills the running
 * tasks' workers (their futures end cancelled). Without WAIT it
 * returns at once; destroy waits. Returns 0, -EINVAL (NULL pp, unknown
 * flag), -EDEADLK for WAIT from the completion thread (a callback of a
 * process task's future), -EOWNERDEAD. Any thread; a second call may add
 * flags. */
FILCH_API int filch_procpool_shutdown(filch_procpool *pp, unsigned flags);

/* filch_procpool_shutdown(pp, FILCH_SHUTDOWN_WAIT) then frees pp: no
 * worker process, zombie or file descriptor of pp is left. Futures that
 * users still hold stay valid. Returns 0, -EDEADLK (from the completion
 * thread: nothing freed), -EOWNERDEAD (nothing freed); NULL is a no-op
 * returning 0. Any thread but pp's completion thread; blocks. */
FILCH_API int filch_procpool_destroy(filch_procpool *pp);

/*
 * A map over byte items on a process pool: fn runs on each of the n items
 * in the workers, chunksize items per round trip, and the results come
 * back in input order (filch_map's model, with bytes in and out).
 */
typedef struct filch_procpool_map_iter filch_procpool_map_iter;

struct filch_procpool_map_opts {
	unsigned flags;	    /* FILCH_MAP_TIMEOUT_SET only; other bits:
			       -EINVAL */
	int64_t timeout_ns; /* for the whole map, from the call, as
			       filch_map_opts.timeout_ns */
	size_t chunksize;   /* items per round trip (one task runs them
			       one after another in a worker); 0 = about 4
			       chunks per worker. Clamped to n and 65536 */
	size_t buffersize;  /* chunks in flight; 0 = 2 per worker. Clamped
			       to the number of chunks and 65536 */
};

/* Starts the map: submits the first buffersize chunks (each copies its
 * items' bytes then; items[] itself must stay valid until
 * filch_procpool_map_close, later chunks read it as they go). Returns 0
 * and *it (the caller closes it); -EINVAL (NULL it, pp or fn; NULL items
 * with n > 0; an item with NULL data and len > 0; unknown flags; with
 * spawn, fn in no loaded module); -ENOMEM; or the first chunk's submit
 * error (-ESHUTDOWN, -EOWNERDEAD, ...), and then *it is untouched and no
 * chunk is left running. Any thread; blocks only on the pool's lock. */
FILCH_API int filch_procpool_map(filch_procpool_map_iter **it,
				 filch_procpool *pp, filch_proc_fn fn,
				 const struct filch_bytes *items, size_t n,
				 const struct filch_procpool_map_opts *opts);

/* The next result in input order: 0 with *result (its data and len valid
 * until the next call on it or its close; data is NUL-terminated);
 * FILCH_END after the last; -ETIMEDOUT when the map's timeout passed
 * first; the first item error in input order (fn's positive code, after
 * the results before it; its message is not kept); ECHILD when a worker
 * died running a chunk (at that chunk's first item: the chunk's results
 * are lost with it), ETIMEDOUT for a chunk killed by the pool's time
 * limit; -ECANCELED when a chunk was cancelled (a cancelling shutdown);
 * a submit's error for a later chunk. Any non-zero return ends the
 * iteration: later calls return FILCH_END. -EINVAL for NULL arguments.
 * Blocks until the chunk holding the result is back; taking a chunk's
 * last result submits the next chunk. One thread at a time. */
FILCH_API int filch_procpool_map_next(filch_procpool_map_iter *it,
				      const struct filch_bytes **result);

/* Cancels the chunks not yet started (fn never runs on their items),
 * lets running ones finish in their workers (their results are dropped),
 * and frees it. NULL is a no-op. Never blocks. */
FILCH_API void filch_procpool_map_close(filch_procpool_map_iter *it);

/* Copies pp's counters into *st. Returns 0, or -EINVAL (NULL pp or st).
 * Any thread; the counters are read one by one (each is exact, the set is
 * not a snapshot). */
FILCH_API int filch_procpool_stats(const filch_procpool *pp,
				   struct filch_procpool_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* FILCH_H */
