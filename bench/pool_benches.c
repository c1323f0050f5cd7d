/* SPDX-License-Identifier: MIT */
/* pool_benches.c - submit/wait benches on any pool with a submit call. */
#include "config.h"

#include "pool_benches.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "latch.h"
#include "placement.h"
#include "scaffold.h"
#include "workloads.h"

struct pool_state {
	const struct fb_pool_ops *ops;
	unsigned workers;
	void *pool; /* created by the first run that needs it */
	struct fb_latch *latch;
};

int fb_pool_setup(const struct fb_pool_ops *ops, unsigned workers, void **state)
{
	struct pool_state *st = fb_xcalloc(1, sizeof(*st));

	st->ops = ops;
	st->workers = workers;
	st->latch = fb_latch_new(0);
	*state = st;
	return 0;
}

void fb_pool_teardown(void *state)
{
	struct pool_state *st = state;

	if (st->pool)
		st->ops->destroy(st->pool);
	fb_latch_free(st->latch);
	free(st);
}

static void *pool_of(struct pool_state *st)
{
	if (!st->pool)
		FB_CHECK_RC(st->ops->create(st->workers, &st->pool));
	return st->pool;
}

static void submit(struct pool_state *st, void (*fn)(void *), void *arg)
{
	FB_CHECK_RC(st->ops->submit(pool_of(st), fn, arg));
}

static void count_down_task(void *arg) { fb_latch_count_down(arg); }

/* ---- submit, submit2 ---------------------------------------------------- */

void fb_pool_submit_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	struct pool_state *st = state;

	pool_of(st);
	fb_latch_reset(st->latch, p->submit_tasks);
	fb_region_begin(s);
	for (unsigned i = 0; i < p->submit_tasks; i++)
		submit(st, count_down_task, st->latch);
	fb_latch_wait(st->latch);
	fb_region_end(s);
}

static void submit_share(void *state, unsigned n)
{
	struct pool_state *st = state;

	for (unsigned i = 0; i < n; i++)
		submit(st, count_down_task, st->latch);
}

void fb_pool_submit2_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	struct pool_state *st = state;

	pool_of(st);
	fb_latch_reset(st->latch, p->submit_tasks);
	fb_region_begin(s);
	fb_two_submitters(p->submit_tasks, submit_share, st);
	fb_latch_wait(st->latch);
	fb_region_end(s);
}

/* ---- roundtrip ------------------------------------------------------------
 */

/* One round's task and result: the task computes in + 1. */
struct round_cell {
	struct pool_state *st;
	long in, out;
	atomic_int done;	/* spin: 0 -> 1 by the task */
	struct fb_latch *latch; /* block: opened by the task */
};

static void spin_round_task(void *arg)
{
	struct round_cell *c = arg;

	c->out = c->in + 1;
	/* Publishes out; pairs with the acquire load in spin_round. */
	atomic_store_explicit(&c->done, 1, memory_order_release);
}

static void spin_round(void *arg)
{
	struct round_cell *c = arg;

	c->in++;
	atomic_store_explicit(&c->done, 0, memory_order_relaxed);
	submit(c->st, spin_round_task, c);
	/* Pairs with the release store of spin_round_task. */
	while (!atomic_load_explicit(&c->done, memory_order_acquire))
		fb_cpu_relax();
	if (c->out != c->in + 1)
		fb_fail("round result %ld, expected %ld", c->out, c->in + 1);
}

static void block_round_task(void *arg)
{
	struct round_cell *c = arg;

	c->out = c->in + 1;
	fb_latch_count_down(c->latch);
}

static void block_round(void *arg)
{
	struct round_cell *c = arg;

	c->in++;
	fb_latch_reset(c->latch, 1);
	submit(c->st, block_round_task, c);
	fb_latch_wait(c->latch);
	if (c->out != c->in + 1)
		fb_fail("round result %ld, expected %ld", c->out, c->in + 1);
}

static void roundtrip(struct pool_state *st, const struct fb_params *p,
		      struct fb_sample *s, bool spin, bool idle)
{
	struct round_cell c = {.st = st, .latch = st->latch};

	pool_of(st);
	fb_roundtrip(p, s, idle, spin ? spin_round : block_round, &c);
}

void fb_pool_rt_spin_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	roundtrip(state, p, s, true, false);
}

void fb_pool_rt_block_run(void *state, const struct fb_params *p,
			  struct fb_sample *s)
{
	roundtrip(state, p, s, false, false);
}

void fb_pool_rt_idle_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	roundtrip(state, p, s, false, true);
}

/* ---- chain ----------------------------------------------------------------
 */

/* Each link's task submits the next one: links run one after another, so
 * the pool's queue orders the accesses to `done`. */
struct chain {
	struct pool_state *st;
	unsigned done, links;
};

static void chain_task(void *arg)
{
	struct chain *ch = arg;

	if (++ch->done < ch->links)
		submit(ch->st, chain_task, ch);
	else
		fb_latch_count_down(ch->st->latch);
}

void fb_pool_chain_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	struct pool_state *st = state;
	struct chain ch = {st, 0, p->chain_links};

	pool_of(st);
	fb_latch_reset(st->latch, 1);
	fb_region_begin(s);
	submit(st, chain_task, &ch);
	fb_latch_wait(st->latch);
	fb_region_end(s);
	if (ch.done != p->chain_links)
		fb_fail("%u links ran, expected %u", ch.done, p->chain_links);
}

/* ---- map: one task per item, results read in input order -------------------
 */

struct map_cell {
	uintptr_t in, out;
	struct fb_latch *latch;
};

static void map_task(void *arg)
{
	struct map_cell *c = arg;

	c->out = fb_map_fn(c->in);
	fb_latch_count_down(c->latch);
}

void fb_pool_map_run(void *state, const struct fb_params *p,
		     struct fb_sample *s)
{
	struct pool_state *st = state;
	size_t n = p->map_items;
	struct map_cell *cells = fb_xmalloc(n * sizeof(*cells));
	uint64_t sum = 0;

	pool_of(st);
	for (size_t i = 0; i < n; i++) {
		cells[i].in = i;
		cells[i].latch = st->latch;
	}
	fb_latch_reset(st->latch, (long)n);
	fb_region_begin(s);
	for (size_t i = 0; i < n; i++)
		submit(st, map_task, &cells[i]);
	fb_latch_wait(st->latch);
	for (size_t i = 0; i < n; i++)
		sum += cells[i].out;
	fb_region_end(s);
	free(cells);
	fb_map_check(n, sum);
}

/* ---- as_completed: a mutex + condvar queue of finished indices -------------
 */

struct completions {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	unsigned *order; /* indices in completion order */
	unsigned head, tail;
};

struct ac_cell {
	struct completions *q;
	unsigned index;
};

static void ac_task(void *arg)
{
	struct ac_cell *c = arg;
	struct completions *q = c->q;

	fb_spin(fb_tiny_length(c->index));
	pthread_mutex_lock(&q->lock);
	q->order[q->tail++] = c->index;
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}

static unsigned next_completed(struct completions *q)
{
	unsigned index;

	pthread_mutex_lock(&q->lock);
	while (q->head == q->tail)
		pthread_cond_wait(&q->nonempty, &q->lock);
	index = q->order[q->head++];
	pthread_mutex_unlock(&q->lock);
	return index;
}

void fb_pool_as_completed_run(void *state, const struct fb_params *p,
			      struct fb_sample *s)
{
	struct pool_state *st = state;
	unsigned n = p->as_completed_futures;
	struct ac_cell *cells = fb_xmalloc(n * sizeof(*cells));
	unsigned char *seen = fb_xcalloc(n, 1);
	struct completions q = {.order = fb_xmalloc(n * sizeof(unsigned))};

	pool_of(st);
	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.nonempty, NULL);
	for (unsigned i = 0; i < n; i++) {
		cells[i].q = &q;
		cells[i].index = i;
	}
	fb_region_begin(s);
	for (unsigned i = 0; i < n; i++)
		submit(st, ac_task, &cells[i]);
	for (unsigned i = 0; i < n; i++) {
		unsigned index = next_completed(&q);

		if (index >= n || seen[index]++)
			fb_fail("task %u completed twice", index);
	}
	fb_region_end(s);
	pthread_mutex_destroy(&q.lock);
	pthread_cond_destroy(&q.nonempty);
	free(q.order);
	free(seen);
	free(cells);
}

/* ---- wait: ALL_COMPLETED by a latch of n, FIRST_COMPLETED by a latch of 1 ---
 */

struct wait_run {
	struct fb_gated gated;
	struct fb_latch *all, *first;
};

struct wait_cell {
	struct wait_run *w;
	unsigned index;
};

static void wait_task(void *arg)
{
	struct wait_cell *c = arg;

	fb_gated_task(&c->w->gated, c->index);
	fb_latch_count_down(c->w->first);
	fb_latch_count_down(c->w->all);
}

/* Submits the gated tasks, opens the gate soon, waits for the first or for
 * all of them; returns how long after that completion the wait returned. */
static double wait_once(struct pool_state *st, struct wait_run *w,
			struct wait_cell *cells, bool first)
{
	int64_t returned;

	fb_gated_reset(&w->gated);
	fb_latch_reset(w->all, w->gated.n);
	fb_latch_reset(w->first, 1);
	for (unsigned i = 0; i < w->gated.n; i++)
		submit(st, wait_task, &cells[i]);
	fb_gated_open_soon(&w->gated);
	fb_latch_wait(first ? w->first : w->all);
	returned = fb_now_ns();
	fb_latch_wait(w->all);
	return fb_gated_after(&w->gated, returned, first);
}

void fb_pool_wait_run(void *state, const struct fb_params *p,
		      struct fb_sample *s)
{
	struct pool_state *st = state;
	unsigned n = p->wait_futures;
	struct wait_cell *cells = fb_xmalloc(n * sizeof(*cells));
	struct wait_run w;

	pool_of(st);
	fb_gated_init(&w.gated, n);
	w.all = fb_latch_new(n);
	w.first = fb_latch_new(1);
	for (unsigned i = 0; i < n; i++) {
		cells[i].w = &w;
		cells[i].index = i;
	}
	s->value[0] = wait_once(st, &w, cells, false);
	s->value[1] = wait_once(st, &w, cells, true);
	s->instr = -1;
	fb_latch_free(w.all);
	fb_latch_free(w.first);
	fb_gated_free(&w.gated);
	free(cells);
}

/* ---- blocking: each task waits on a condition variable ------------------
 */

struct blocking_run {
	struct fb_paced paced;
	pthread_mutex_t lock;
	pthread_cond_t signalled;
	unsigned char *ready; /* under lock */
	struct fb_latch *all;
};

struct blocking_cell {
	struct blocking_run *b;
	unsigned index;
};

static void blocking_signal(void *ctx, unsigned i)
{
	struct blocking_run *b = ctx;

	pthread_mutex_lock(&b->lock);
	b->ready[i] = 1;
	pthread_cond_broadcast(&b->signalled);
	pthread_mutex_unlock(&b->lock);
}

static void blocking_task(void *arg)
{
	struct blocking_cell *c = arg;
	struct blocking_run *b = c->b;

	pthread_mutex_lock(&b->lock);
	while (!b->ready[c->index])
		pthread_cond_wait(&b->signalled, &b->lock);
	pthread_mutex_unlock(&b->lock);
	fb_paced_done(&b->paced, c->index);
	fb_latch_count_down(b->all);
}

void fb_pool_blocking_run(void *state, const struct fb_params *p,
			  struct fb_sample *s)
{
	struct pool_state *st = state;
	unsigned n = p->blocking_tasks;
	struct blocking_cell *cells = fb_xmalloc(n * sizeof(*cells));
	struct blocking_run b = {.ready = fb_xcalloc(n, 1),
				 .all = fb_latch_new(n)};

	pool_of(st);
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.signalled, NULL);
	fb_paced_init(&b.paced, n, blocking_signal, &b);
	fb_region_begin(s);
	for (unsigned i = 0; i < n; i++) {
		cells[i] = (struct blocking_cell){&b, i};
		submit(st, blocking_task, &cells[i]);
	}
	fb_paced_start(&b.paced);
	fb_latch_wait(b.all);
	fb_region_end(s);
	fb_paced_finish(&b.paced, s);
	fb_paced_free(&b.paced);
	fb_latch_free(b.all);
	pthread_mutex_destroy(&b.lock);
	pthread_cond_destroy(&b.signalled);
	free(b.ready);
	free(cells);
}

/* ---- idle and shutdown: a fresh pool per run
 * ---------------------------------- */

static void *busy_pool(struct pool_state *st)
{
	void *pool;

	fb_roster_reset();
	FB_CHECK_RC(st->ops->create(st->workers, &pool));
	fb_latch_reset(st->latch, FB_WARM_TASKS);
	for (unsigned i = 0; i < FB_WARM_TASKS; i++)
		FB_CHECK_RC(st->ops->submit(pool, count_down_task, st->latch));
	fb_latch_wait(st->latch);
	return pool;
}

void fb_pool_idle_run(void *state, const struct fb_params *p,
		      struct fb_sample *s)
{
	struct pool_state *st = state;
	void *pool = busy_pool(st);

	fb_idle_window(p, s);
	st->ops->destroy(pool);
}

void fb_pool_shutdown_run(void *state, const struct fb_params *p,
			  struct fb_sample *s)
{
	struct pool_state *st = state;
	void *pool = busy_pool(st);

	fb_sleep_ns(FB_SHUTDOWN_IDLE_NS);
	fb_region_begin(s);
	st->ops->destroy(pool);
	fb_region_end(s);
	s->value[0] = fb_roster_alive();
	s->value[1] = st->ops->joins;
}
