/* SPDX-License-Identifier: MIT */
/*
 * trace.h - the timeline trace (trace.c) and the probes of probes.h at the
 * points where the scheduler and the task bodies call them: one-line
 * hooks. Off, an event site costs one load of a process-wide count of
 * traced executors and a branch that is not taken (and a nop for each
 * USDT probe), a task's begin and end nothing but the nops, a foreign
 * submission a test of the run_state it read anyway (below); only while
 * some executor is traced does a site look for its ring.
 *
 * A worker's trace pointer (struct filch__worker.trace.ring) is its ring, or
 * NULL when the executor is not traced. It is written only by
 * filch_trace_start (NULL -> ring, release) and filch_trace_stop
 * (ring -> NULL, seq_cst); the worker reads it at each event site.
 * trace.c has the protocol that lets the stopper read and free a ring
 * that a worker may be writing into.
 */
#ifndef FILCH_TRACE_H
#define FILCH_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "executor.h"
#include "probes.h"

/* The hooks are inlined into their sites whatever the compiler thinks of
 * their size: off, each must stay a load and a branch. */
#define FILCH__HOOK static inline __attribute__((always_inline))

/* Event types of a ring (trace.c writes them out). */
enum filch__trace_type {
	FILCH__EV_TASK_BEGIN = 1, /* addr: the task's function */
	FILCH__EV_TASK_END,	  /* arg: the return code of the innermost */
	FILCH__EV_STEAL,	  /* arg: the victim's index */
	FILCH__EV_PARK,
	FILCH__EV_UNPARK,
	FILCH__EV_WAIT_BEGIN,	  /* a worker sleeps in a wait */
	FILCH__EV_WAIT_END,
	FILCH__EV_SUBMIT,	  /* a foreign thread's submission */
};

/* Executors traced now, in the whole process (trace.c). */
extern _Atomic unsigned filch__traces_on
	__attribute__((visibility("hidden"))); /* no GOT load at each site */

/* Whether any executor may be traced: the one branch of a site when off.
 * Relaxed: a gate only; behind it the ring pointer is loaded with acquire
 * (a start seen late loses the first events, a stop seen late finds the
 * pointer NULL). */
FILCH__HOOK bool filch__tracing(void)
{
#ifndef FILCH_NO_HOOKS
	return __builtin_expect(filch__load(&filch__traces_on, relaxed) != 0, 0);
#else
	return false; /* measurement only: see probes.h */
#endif
}

/* Record an event of worker w, or of the calling thread when it is a
 * worker, into its ring if its executor is traced (trace.c). */
void filch__trace_worker_event(struct filch__worker *w, unsigned type,
			       uintptr_t addr, int64_t arg);
void filch__trace_self_event(unsigned type, uintptr_t addr, int64_t arg);
/* Record a foreign thread's submission to ex, if ex is traced. */
void filch__trace_foreign_event(filch_executor *ex);

FILCH__HOOK void filch__trace_worker(struct filch__worker *w, unsigned type,
				     uintptr_t addr, int64_t arg)
{
	if (filch__tracing())
		filch__trace_worker_event(w, type, addr, arg);
}

/*
 * A task's function fn starts, or the innermost one started on the calling
 * thread ended with rc (traced only on a worker). The end takes no
 * function: nothing need survive the task's call. The gate of a task's
 * hooks is not filch__tracing() but its executor's TRACED bit in
 * run_state (executor.h), which the worker hands to run() with the
 * discard bit (sched.h's how): the body tests the two where it tested for
 * a discard, and runs one of two inlined copies of itself, traced a
 * constant in each, so that the untraced copy has no branch here but the
 * probes' nops. A trace started while a task runs records neither its
 * begin nor its end; one stopped meanwhile finds no ring for the end.
 */
FILCH__HOOK void filch__obs_task_begin(bool traced, uintptr_t fn, void *arg)
{
	FILCH__PROBE2(task__start, fn, arg);
	if (traced)
		filch__trace_self_event(FILCH__EV_TASK_BEGIN, fn, 0);
}

FILCH__HOOK void filch__obs_task_end(bool traced, int rc)
{
	FILCH__PROBE1(task__end, rc);
	if (traced)
		filch__trace_self_event(FILCH__EV_TASK_END, 0, rc);
}

/* Worker w stole a task from victim. */
FILCH__HOOK void filch__obs_steal(struct filch__worker *w,
				    const struct filch__worker *victim)
{
	FILCH__PROBE3(steal, w->ex, w->index, victim->index);
	filch__trace_worker(w, FILCH__EV_STEAL, 0, victim->index);
}

/* Worker w goes to sleep on its event count (begin), or woke up. */
FILCH__HOOK void filch__obs_park(struct filch__worker *w, bool begin)
{
	if (begin)
		FILCH__PROBE2(park, w->ex, w->index);
	else
		FILCH__PROBE2(unpark, w->ex, w->index);
	filch__trace_worker(w, begin ? FILCH__EV_PARK : FILCH__EV_UNPARK, 0, 0);
}

/* Worker w sleeps in a wait (begin: a spare may stand in), or woke. */
FILCH__HOOK void filch__obs_wait(struct filch__worker *w, bool begin)
{
	filch__trace_worker(w, begin ? FILCH__EV_WAIT_BEGIN : FILCH__EV_WAIT_END,
			    0, 0);
}

/* A worker of ex pushed task t onto its own deque. */
FILCH__HOOK void filch__obs_local_submit(filch_executor *ex, void *t)
{
	FILCH__PROBE2(submit, ex, t);
}

/* A foreign thread submits task t to ex, whose run_state it read as rs:
 * the gate is rs's TRACED bit, as for a task (no load of its own). */
FILCH__HOOK void filch__obs_foreign_submit(filch_executor *ex, void *t,
					   uint32_t rs)
{
	FILCH__PROBE2(submit, ex, t);
#ifndef FILCH_NO_HOOKS
	if (__builtin_expect(rs & FILCH__EX_TRACED, 0))
		filch__trace_foreign_event(ex);
#endif
}

/*
 * FILCH_TRACE in the environment (docs/observability.md): created starts
 * tracing a new executor, destroyed writes its trace (the first executor
 * of the process to path, the next ones to path.1, path.2, ...). freed
 * frees what is left of a trace that was never stopped, once the
 * executor's threads are gone.
 */
void filch__trace_created(filch_executor *ex);
void filch__trace_destroyed(filch_executor *ex);
void filch__trace_freed(filch_executor *ex);

/* Take and release the lock of filch_trace_start and filch_trace_stop:
 * fork.c holds it across fork(), so that a child forked while another
 * thread starts or stops a trace does not inherit it locked. Its holder
 * takes no other lock of filch's (it allocates, and waits for the
 * writers of the rings it detaches, who take none). */
void filch__trace_lock(void);
void filch__trace_unlock(void);

#endif /* FILCH_TRACE_H */
