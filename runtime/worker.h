/* SPDX-License-Identifier: MIT */
/* worker.h - the worker loop and the helping step (worker.c). */
#ifndef FILCH_WORKER_H
#define FILCH_WORKER_H

#include <stdbool.h>

#include "executor.h"

/* Runs tasks on the calling thread, worker w, until the executor
 * terminates (park.c). The thread must be w's and registered with urcu. */
void filch__worker_run(struct filch__worker *w);

/* Steals one task from victim's deque for w (noting the thief of a group
 * job, group.c), or NULL. On w's thread only. */
struct filch__task *filch__worker_steal_from(struct filch__worker *w,
					     struct filch__worker *victim);

/* Runs t, a task w took, or discards it (FILCH__RUN_DISCARD) once a
 * cancelling shutdown began. On w's thread only. */
static inline void filch__worker_run_task(struct filch__worker *w,
					  struct filch__task *t)
{
	filch__stat_add(&w->stats.tasks_run, 1);
	t->run(t, filch__executor_how(w->ex));
}

#endif /* FILCH_WORKER_H */
