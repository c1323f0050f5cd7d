/* SPDX-License-Identifier: MIT */
/* naive_pool.c - the mutex + condition variable pool of naive_pool.h. */
#include "config.h"

#include "naive_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct naive_item {
	struct naive_item *next;
	void (*fn)(void *);
	void *arg;
};

/* Everything below is protected by lock. */
struct naive_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct naive_item *head, **tail;
	bool stopping;
	unsigned nthreads, size, started;
	void (*on_start)(unsigned index, unsigned threads);
	pthread_t *threads;
};

static void *naive_worker(void *arg)
{
	struct naive_pool *p = arg;
	unsigned index;

	pthread_mutex_lock(&p->lock);
	index = p->started++;
	pthread_mutex_unlock(&p->lock);
	if (p->on_start)
		p->on_start(index, p->size);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct naive_item *it;

		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->work, &p->lock);
		it = p->head;
		if (!it)
			break; /* stopping and drained */
		p->head = it->next;
		if (!p->head)
			p->tail = &p->head;
		pthread_mutex_unlock(&p->lock);
		it->fn(it->arg);
		free(it);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int naive_pool_create(struct naive_pool **pool, unsigned threads,
		      void (*on_start)(unsigned index, unsigned threads))
{
	struct naive_pool *p = calloc(1, sizeof(*p));
	unsigned i;

	if (!p)
		return -ENOMEM;
	p->threads = calloc(threads, sizeof(pthread_t));
	if (!p->threads) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	p->tail = &p->head;
	p->size = threads;
	p->on_start = on_start;
	for (i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, naive_worker, p) != 0)
			break;
	}
	p->nthreads = i;
	if (i < threads) {
		naive_pool_destroy(p);
		return -EAGAIN;
	}
	*pool = p;
	return 0;
}

int naive_pool_submit(struct naive_pool *p, void (*fn)(void *), void *arg)
{
	struct naive_item *it = malloc(sizeof(*it));

	if (!it)
		return -ENOMEM;
	it->next = NULL;
	it->fn = fn;
	it->arg = arg;
	pthread_mutex_lock(&p->lock);
	*p->tail = it;
	p->tail = &it->next;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void naive_pool_destroy(struct naive_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	free(p->threads);
	free(p);
}
