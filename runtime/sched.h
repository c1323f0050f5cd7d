/* SPDX-License-Identifier: MIT */
/*
 * sched.h - what the scheduler (executor.c, worker.c, inject.c, park.c,
 * task.c, group.c, spare.c) offers the rest of the runtime: task records,
 * handing a task to an executor, blocking in a wait, and the executor's
 * lifetime.
 */
#ifndef FILCH_SCHED_H
#define FILCH_SCHED_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/wfcqueue.h>

#include <filch.h>

/*
 * A task record, embedded at the start of whatever is scheduled (a future,
 * a fire-and-forget submission, a group job). run(t, how) with how 0 or
 * FILCH__RUN_TRACED runs the task and disposes of the record;
 * FILCH__RUN_DISCARD in how discards it instead (a cancelling shutdown, or
 * an executor destroyed with tasks queued): the owner must then give the
 * task an outcome (cancel its future, count it in its group) and dispose
 * of the record. Every task handed to the scheduler gets exactly one run()
 * call.
 */
struct filch__task {
	void (*run)(struct filch__task *t, unsigned how);
	struct cds_wfcq_node inject_node; /* private to inject.c */
};

/* run()'s how: bits of the executor's run_state (executor.h), so that a
 * worker has them with one load and a mask, and a task body tests them
 * where it tests for a discard: the trace gate of a task costs nothing
 * more (trace.h). */
#define FILCH__RUN_DISCARD 2u /* discard the task (see above) */
#define FILCH__RUN_TRACED 8u  /* record its begin and end (trace.h) */

/*
 * Task-record blocks: FILCH__BLOCK_SIZE bytes, FILCH_CACHELINE-aligned, from
 * the calling thread's slab (no malloc, no atomic RMW in steady state).
 * Any thread may allocate; any thread may free (a remote free goes back to
 * the owning slab through a lock-free stack). Blocks stay valid after the
 * executor that ran them is destroyed and after the allocating thread exits.
 */
#define FILCH__BLOCK_SIZE 128

/*
 * The inline fast paths of task.c: pop or push the calling thread's private
 * free list (no call, no atomic). Under AddressSanitizer every call goes to
 * task.c, which poisons free blocks.
 */
#define FILCH__CHUNK_SIZE (64 * 1024)
#define FILCH__BLOCK_TLS _Thread_local __attribute__((tls_model("initial-exec")))

struct filch__slab; /* task.c */
struct filch__free_block {
	struct filch__free_block *next;
};
/* A chunk's header, in its first block. owner and slab are written before
 * any of its blocks is handed out, and change only when a slab adopts the
 * chunk from task.c's process-wide cache of empty chunks (none of its
 * blocks out, handed over under the cache's lock); only owner is read
 * here. */
struct filch__chunk {
	/* The slab whose thread frees here inline: the slab for a pinned
	 * chunk; for a surplus chunk a value no slab has, so that every free
	 * into it takes the call and is counted (task.c). */
	struct filch__slab *owner;
	struct filch__slab *slab; /* the slab it belongs to */
	struct filch__chunk_link {
		struct filch__chunk_link *prev, *next;
	} link; /* the slab's list of pinned, surplus or empty chunks, or
		 * the cache */
	/* Surplus chunks only, owner thread only: the chunk's own free
	 * list, its length, and when it last became all free (ns); in the
	 * cache, emptied is when it came in. */
	struct filch__free_block *free;
	unsigned nfree;
	int64_t emptied;
};
/* The calling thread's slab, and its private free list (owner only). */
extern FILCH__BLOCK_TLS struct filch__slab *filch__my_slab;
extern FILCH__BLOCK_TLS struct filch__free_block *filch__my_free;

void *filch__block_alloc_slow(void);	  /* NULL on allocation failure */
void filch__block_free_slow(void *block); /* block may be NULL */

/* The lock of task.c's process-wide chunk cache, a leaf lock: fork.c holds
 * it across fork(), taken after its other locks. */
void filch__chunk_cache_lock(void);
void filch__chunk_cache_unlock(void);

/* NULL on allocation failure. */
static inline void *filch__block_alloc(void)
{
#ifndef __SANITIZE_ADDRESS__
	struct filch__free_block *b = filch__my_free;

	if (b) {
		filch__my_free = b->next;
		return b;
	}
#endif
	return filch__block_alloc_slow();
}

/* block may be NULL. */
static inline void filch__block_free(void *block)
{
#ifndef __SANITIZE_ADDRESS__
	struct filch__free_block *b = block;
	uintptr_t mask = ~(uintptr_t)(FILCH__CHUNK_SIZE - 1);
	struct filch__chunk *c = (struct filch__chunk *)((uintptr_t)block & mask);

	if (b && c->owner == filch__my_slab) {
		b->next = filch__my_free;
		filch__my_free = b;
		return;
	}
#endif
	filch__block_free_slow(block);
}

/* The executor the calling thread is a worker of, or NULL. */
filch_executor *filch__self_executor(void);

/*
 * Hands t to ex. On a worker of ex: onto its deque (the newest task, which
 * it runs next unless an idle worker steals it first). From any other
 * thread: into ex's injector, applying the bounded-queue policy
 * (CALLER_RUNS runs t here before returning 0). Wakes a parked worker when
 * no worker is searching. Returns 0, -ESHUTDOWN, -EAGAIN or -ENOMEM; on
 * error t was not taken and is still the caller's.
 */
int filch__sched_submit(filch_executor *ex, struct filch__task *t);

/* Whether the calling thread woke a sleeping worker (of any executor)
 * since its last call; clears the flag. Any thread. A hint for a thread
 * about to wait: the worker it woke may be queued on its own CPU. */
bool filch__sched_woke_worker(void);

/*
 * The calling thread is about to sleep in a wait (spare.c). On a worker,
 * counts it blocked and makes sure that a spare runs in its place (waking
 * a dormant one or starting a new one). Returns 0, or -EAGAIN when no
 * spare could be had and may_refuse is true (then nothing was counted and
 * the caller must not sleep); with may_refuse false it then sleeps
 * uncompensated. On a foreign thread: 0, nothing to do. Pair every 0 with
 * filch__block_end once awake.
 */
int filch__block_begin(bool may_refuse);
void filch__block_end(void);

/* Executor lifetime: filch_executor_destroy drops the user's reference;
 * anything that may submit later (a continuation) holds one. */
void filch__executor_retain(filch_executor *ex);
void filch__executor_release(filch_executor *ex);

/* A task submitted without a future (fn, arg) failed with code (> 0) and
 * message (or NULL): calls ex's on_task_error, if any, on this thread. */
void filch__executor_task_failed(filch_executor *ex, filch_task_fn fn,
				 void *arg, int code, const char *message);

/* The error code of a task that returned rc: rc itself when it is not
 * negative, -rc when it is, and EOVERFLOW for INT_MIN, which has no
 * positive counterpart; then, when *message is NULL, it gets a copy of
 * "the task returned INT_MIN" (left NULL if that copy fails). Inline: every
 * task's finish calls it; the INT_MIN case is error.c's. */
int filch__task_code_int_min(char **message);
static inline int filch__task_code(int rc, char **message)
{
	if (rc >= 0)
		return rc;
	return rc != INT_MIN ? -rc : filch__task_code_int_min(message);
}

/* True once a cancelling shutdown (FILCH_SHUTDOWN_CANCEL_PENDING) of ex
 * began: running tasks see filch_cancel_requested(). Any thread. */
bool filch__executor_cancelling(filch_executor *ex);

#endif /* FILCH_SCHED_H */
