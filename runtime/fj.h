/* SPDX-License-Identifier: MIT */
/* fj.h - what the worker loop asks of the fork-join frame stacks (fj.c). */
#ifndef FILCH_FJ_INTERNAL_H
#define FILCH_FJ_INTERNAL_H

#include <stdbool.h>

#include "sched.h"

struct filch__worker;
struct filch__fj;

/* Steals the oldest shared frame of victim's frame stack for w, as a task
 * whose run() runs the frame on the running worker's own frame stack (a
 * stolen frame always runs, even when discarding: its owner waits for
 * it); or NULL (nothing shared: the victim is asked to share). On w's
 * thread only. */
struct filch__task *filch__fj_steal(struct filch__worker *w,
				    struct filch__worker *victim);

/* True when some thread of ex shares a fork-join frame that a thief
 * could take; every frame stack that shares none is asked to share at
 * its owner's next spawn, which then notifies (park.c: W3's look, and
 * why a worker that parks is woken for frames shared later). A look,
 * taking nothing. Any thread. */
bool filch__fj_work_visible(filch_executor *ex);

/* Unmaps a worker's frame stack (NULL: none); the threads are gone. */
void filch__fj_destroy(struct filch__fj *fj);

#endif /* FILCH_FJ_INTERNAL_H */
