/* SPDX-License-Identifier: MIT */
/* worker.h - the worker loop and the helping step (worker.c). */
#ifndef FILCH_WORKER_H
#define FILCH_WORKER_H

#include <stdbool.h>

#include "executor.h"

/* Runs tasks on the calling thread, worker w, until the executor
 * terminates (park.c). The thread must be w's and registered with urcu. */
void filch__worker_run(struct filch__worker *w);

/* Finds one task for w (LIFO slot, own deque, injector, one steal pass)
 * and runs it: true; false when none was found. On w's thread only. */
bool filch__worker_help(struct filch__worker *w);

#endif /* FILCH_WORKER_H */
