/* SPDX-License-Identifier: MIT */
/* latch.c - the count-down latch of latch.h. */
#include "config.h"

#include "latch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "fb.h"

/*
 * count: the count-downs still expected. Written by fb_latch_count_down
 * (fetch_sub), reset by fb_latch_reset. Values: > 0 closed; 0 open (the
 * count-down that made it 0 sets open and broadcasts); < 0 open, extra
 * count-downs. open: 0 -> 1 once, under lock, by that count-down.
 */
struct fb_latch {
	_Atomic long count;
	pthread_mutex_t lock;
	pthread_cond_t opened;
	bool open;
};

struct fb_latch *fb_latch_new(long count)
{
	struct fb_latch *l = fb_xmalloc(sizeof(*l));

	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->opened, NULL);
	fb_latch_reset(l, count);
	return l;
}

void fb_latch_free(struct fb_latch *l)
{
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->opened);
	free(l);
}

void fb_latch_reset(struct fb_latch *l, long count)
{
	atomic_store_explicit(&l->count, count, memory_order_relaxed);
	l->open = false;
}

void fb_latch_count_down(struct fb_latch *l)
{
	/* acq_rel: releases this task's writes to fb_latch_done's acquire
	 * load and to the thread whose count-down reaches zero. */
	if (atomic_fetch_sub_explicit(&l->count, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_lock(&l->lock);
	l->open = true;
	pthread_cond_broadcast(&l->opened);
	pthread_mutex_unlock(&l->lock);
}

void fb_latch_wait(struct fb_latch *l)
{
	pthread_mutex_lock(&l->lock);
	while (!l->open)
		pthread_cond_wait(&l->opened, &l->lock);
	pthread_mutex_unlock(&l->lock);
}

bool fb_latch_done(struct fb_latch *l)
{
	/* Pairs with the acq_rel fetch_sub of fb_latch_count_down. */
	return atomic_load_explicit(&l->count, memory_order_acquire) <= 0;
}
