/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the executor's counters (stats.c reads them): one-line hooks
 * for the scheduler's files.
 *
 * A worker's counters (struct filch__stats, in its worker record) are
 * written only by that worker, by one store of a new value (no atomic
 * read-modify-write: nothing else writes them; filch__stat_add), and read by
 * filch_executor_stats with relaxed loads: a reader sees each counter at
 * some recent value, so sums are approximate while the pool runs and exact
 * once it is quiescent (the reader synchronized with the workers, e.g. by
 * filch_shutdown(WAIT) or by waiting on the futures of every task).
 * Counters of threads that are not workers (foreign submitters, the
 * shutdown that discards tasks) are shared: relaxed fetch_add, on paths
 * that already write a shared line; the count of foreign submissions
 * rides in the RMW that a submitter makes anyway (executor.h).
 */
#ifndef FILCH_STATS_H
#define FILCH_STATS_H

#include <stdint.h>

#include "atomic.h"

/* One worker's counters; docs/observability.md says what each counts. */
struct filch__stats {
	_Atomic uint64_t tasks_run;
	_Atomic uint64_t spawned;
	_Atomic uint64_t stolen;
	_Atomic uint64_t steal_failed;
	_Atomic uint64_t inject_batches;
	_Atomic uint64_t inject_tasks;
	_Atomic uint64_t parks;
	_Atomic uint64_t park_ns;
	_Atomic uint64_t wakeups_sent;
	_Atomic uint64_t wakeups_received;
};

/* The two halves of the executor's submitters word (executor.h): the
 * submitters in flight, and the foreign submissions accepted, modulo
 * 2^32 (the wraps are counted in xstats.submitted_wraps). */
#define FILCH__SUBMITTERS_IN_FLIGHT(v) ((uint32_t)(v))
#define FILCH__SUBMITTED_LOW(v) ((v) >> 32)
#define FILCH__SUBMITTED_ONE (UINT64_C(1) << 32)

/* The executor's shared counters: threads that are not its workers. */
struct filch__xstats {
	/* Foreign submissions accepted into the injector: this * 2^32 plus
	 * the high half of submitters, which wrapped this many times. */
	_Atomic uint64_t submitted_wraps;
	_Atomic uint64_t refused;	 /* -EAGAIN: the bounded queue was full */
	_Atomic uint64_t caller_ran;	 /* FILCH_FULL_CALLER_RUNS ran it */
	_Atomic uint64_t discarded;	 /* by filch_shutdown(CANCEL_PENDING) */
	_Atomic uint64_t task_failures; /* fire-and-forget tasks that failed */
	_Atomic uint64_t wakeups_sent;	 /* by threads that are not workers */
};

/*
 * The owner's increment: no RMW (the owner is the one writer). On x86-64
 * one add to memory without a lock prefix (the kernel's this_cpu_add):
 * its store is an aligned 8-byte store, which readers see whole, and
 * nobody else writes the counter, so nothing is lost; the compiler's
 * relaxed load, add and relaxed store take three instructions, on every
 * task. Elsewhere, and under ThreadSanitizer (which must see the store),
 * the C11 form. Built with -DFILCH_NO_COUNTERS, for measuring what they
 * cost only (docs/observability.md, "What it costs"), it writes nothing.
 */
static inline void filch__stat_add(_Atomic uint64_t *c, uint64_t n)
{
#if defined(FILCH_NO_COUNTERS)
	(void)c;
	(void)n;
#elif defined(__x86_64__) && !defined(FILCH_TSAN)
	__asm__("addq %1, %0" : "+m"(*(uint64_t *)c) : "er"(n));
#else
	filch__store(c, filch__load(c, relaxed) + n, relaxed);
#endif
}

/* A shared counter's increment. */
static inline void filch__xstat_add(_Atomic uint64_t *c, uint64_t n)
{
	filch__add(c, n, relaxed);
}

#endif /* FILCH_STATS_H */
