/* SPDX-License-Identifier: MIT */
/*
 * peer_naive.c - impl "naive": the mutex + condvar pool of naive_pool.c on
 * the submit/wait benches, and a mutex-protected array deque on the deque
 * bench (no fork-join benches: a pool whose waiting threads block
 * deadlocks on recursive waits).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "deque_bench.h"
#include "naive_pool.h"
#include "placement.h"
#include "pool_benches.h"

static int naive_create(unsigned workers, void **pool)
{
	return naive_pool_create((struct naive_pool **)pool, workers,
				 fb_place_worker);
}

static int naive_submit(void *pool, void (*fn)(void *), void *arg)
{
	return naive_pool_submit(pool, fn, arg);
}

static void naive_destroy(void *pool) { naive_pool_destroy(pool); }

static const struct fb_pool_ops naive_ops = {
    naive_create,
    naive_submit,
    naive_destroy,
    true,
};

static int naive_setup(unsigned workers, const struct fb_params *p,
		       void **state)
{
	return fb_pool_setup(&naive_ops, workers, state);
}

/* ---- a deque behind one mutex ------------------------------------------- */

struct locked_deque {
	pthread_mutex_t lock;
	void **items;
	size_t top, bottom, cap; /* items[top..bottom) */
};

static int locked_push(void *deque, void *item)
{
	struct locked_deque *d = deque;

	pthread_mutex_lock(&d->lock);
	if (d->bottom == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		void **items = realloc(d->items, cap * sizeof(*items));

		if (!items) {
			pthread_mutex_unlock(&d->lock);
			return -ENOMEM;
		}
		d->items = items;
		d->cap = cap;
	}
	d->items[d->bottom++] = item;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static void *locked_pop(void *deque)
{
	struct locked_deque *d = deque;
	void *item = NULL;

	pthread_mutex_lock(&d->lock);
	if (d->bottom > d->top)
		item = d->items[--d->bottom];
	if (d->bottom == d->top)
		d->top = d->bottom = 0;
	pthread_mutex_unlock(&d->lock);
	return item;
}

static enum fb_steal_result locked_steal(void *deque, void **item)
{
	struct locked_deque *d = deque;
	enum fb_steal_result r = FB_EMPTY;

	pthread_mutex_lock(&d->lock);
	if (d->bottom > d->top) {
		*item = d->items[d->top++];
		r = FB_STOLEN;
	}
	if (d->bottom == d->top)
		d->top = d->bottom = 0;
	pthread_mutex_unlock(&d->lock);
	return r;
}

static const struct fb_deque_ops locked_ops = {
    locked_push, locked_pop, locked_steal, NULL, NULL,
};

static int deque_setup(unsigned workers, const struct fb_params *p,
		       void **state)
{
	struct locked_deque *d = fb_xcalloc(1, sizeof(*d));

	pthread_mutex_init(&d->lock, NULL);
	*state = d;
	return 0;
}

static void deque_run(void *state, const struct fb_params *p,
		      struct fb_sample *s)
{
	fb_deque_bench(&locked_ops, state, p, s);
}

static void deque_teardown(void *state)
{
	struct locked_deque *d = state;

	pthread_mutex_destroy(&d->lock);
	free(d->items);
	free(d);
}

const struct fb_impl fb_impls_naive[] = {
    {"deque", "naive", deque_setup, deque_run, deque_teardown},
    FB_POOL_IMPLS("naive", naive_setup),
    FB_POOL_MAP_IMPL("naive", naive_setup),
    {NULL, NULL, NULL, NULL, NULL},
};
