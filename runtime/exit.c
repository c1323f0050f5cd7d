/* SPDX-License-Identifier: MIT */
/*
 * exit.c - FILCH_OPT_JOIN_AT_EXIT: the executors that exit() shuts down
 * with FILCH_SHUTDOWN_WAIT before the process ends (Python joins its
 * pools at interpreter exit).
 *
 * One atexit handler per process, registered by the first executor that
 * asks. It takes the listed executors off one at a time, each with a
 * reference of its own, and waits for each outside the lock: a task that
 * destroys another executor meanwhile (which takes the lock to withdraw
 * it) cannot deadlock with the handler, and a destroy that races the
 * handler finds the executor already withdrawn and joins it alongside
 * (filch__executor_join), while the handler's reference keeps its memory.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "executor.h"

/* Guards live and every executor's exit_link. A leaf lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static CDS_LIST_HEAD(live);
static int init_error;

/* The next listed executor, taken off with a reference, or NULL. */
static filch_executor *take_one(void)
{
	filch_executor *ex = NULL;

	pthread_mutex_lock(&lock);
	if (!cds_list_empty(&live)) {
		ex = filch__container_of(live.next, filch_executor, exit_link);
		cds_list_del_init(&ex->exit_link);
		filch__executor_retain(ex);
	}
	pthread_mutex_unlock(&lock);
	return ex;
}

static void shutdown_at_exit(void)
{
	filch_executor *ex;

	/* From one of ex's own workers the shutdown returns -EDEADLK: it
	 * begins, and exit() goes on without waiting for ex. */
	while ((ex = take_one())) {
		filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
		filch__executor_release(ex);
	}
}

static void register_handler(void)
{
	if (atexit(shutdown_at_exit) != 0)
		init_error = -ENOMEM;
}

int filch__exit_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_handler);
	return init_error;
}

void filch__exit_add(filch_executor *ex)
{
	pthread_mutex_lock(&lock);
	cds_list_add_tail(&ex->exit_link, &live);
	pthread_mutex_unlock(&lock);
}

void filch__exit_remove(filch_executor *ex)
{
	pthread_mutex_lock(&lock);
	cds_list_del_init(&ex->exit_link);
	pthread_mutex_unlock(&lock);
}

void filch__exit_lock(void)
{
	pthread_mutex_lock(&lock);
}

void filch__exit_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

void filch__exit_forget(void)
{
	CDS_INIT_LIST_HEAD(&live);
}
