/* SPDX-License-Identifier: MIT */
/*
 * submit.h - the submitted-task future of submit.c, for the calls that
 * hand it to the scheduler later (time.c, periodic.c, retry.c).
 */
#ifndef FILCH_SUBMIT_H
#define FILCH_SUBMIT_H

#include <filch.h>

/*
 * A PENDING future whose task (f->task) runs fn(arg) on ex and completes
 * it, with two references: the caller's and the task's (dropped by the
 * task once it ran, or was discarded and cancelled the future). Hand
 * &f->task to the scheduler once; until then it is a plain record, which
 * filch__block_free frees. NULL when out of memory.
 */
filch_future *filch__task_future_new(filch_executor *ex, filch_task_fn fn,
				     void *arg);

#endif /* FILCH_SUBMIT_H */
