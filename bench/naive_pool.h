/* SPDX-License-Identifier: MIT */
/*
 * naive_pool.h - the thread pool every C programmer writes once: a linked
 * FIFO of malloc'd work items under one mutex, one condition variable, N
 * threads. The baseline of filch-bench (impl "naive").
 *
 * submit: any thread, including the pool's own (never blocks on a full
 * queue: there is no bound). destroy: not from a pool thread; runs every
 * item already submitted, then joins the threads.
 */
#ifndef FB_NAIVE_POOL_H
#define FB_NAIVE_POOL_H

struct naive_pool;

/* Starts `threads` threads, each of which first calls on_start (if not
 * NULL) with its index, 0 .. threads - 1, and `threads`. Returns 0 or a
 * negative errno. */
int naive_pool_create(struct naive_pool **pool, unsigned threads,
		      void (*on_start)(unsigned index, unsigned threads));
/* Queues fn(arg). Returns 0 or -ENOMEM. */
int naive_pool_submit(struct naive_pool *pool, void (*fn)(void *), void *arg);
/* Graceful shutdown: drains the queue, joins, frees. */
void naive_pool_destroy(struct naive_pool *pool);

#endif /* FB_NAIVE_POOL_H */
