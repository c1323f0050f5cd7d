/* SPDX-License-Identifier: MIT */
/*
 * peer_libuv.c - impl "libuv": uv_queue_work on libuv's thread pool, from
 * the thread of a uv loop, with completions delivered back to that loop
 * (after_work callbacks), the way libuv programs use it. Runs in the helper
 * filch-bench-libuv, one process per worker count: libuv sizes its pool
 * once per process from UV_THREADPOOL_SIZE.
 *
 * libuv starts its pool's threads itself, without a start hook: each is
 * placed by the first work callback it runs (placement.h).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fb.h"
#include "placement.h"
#include "scaffold.h"
#include "timers_bench.h"
#include "workloads.h"

/* One request of a run. */
struct uv_task {
	uv_work_t req;
	struct uv_run_ctx *ctx;
	unsigned index;
	uintptr_t out; /* written by work, read by after */
};

/* A run: its hooks and what its after_work callbacks (on the loop's
 * thread) update. */
struct uv_run_ctx {
	uv_loop_t *loop;
	unsigned completed;		  /* after_work callbacks run so far */
	void (*work)(struct uv_task *t);  /* on a pool thread; may be NULL */
	void (*after)(struct uv_task *t); /* on the loop; may be NULL */
	void *data;			  /* the bench's own state */
};

/* The placement of libuv's pool threads: one pool per process. */
static struct fb_lazy_place *pool_place;

static void work_cb(uv_work_t *req)
{
	struct uv_task *t = (struct uv_task *)req;

	fb_lazy_place_self(pool_place);
	if (t->ctx->work)
		t->ctx->work(t);
}

static void after_cb(uv_work_t *req, int status)
{
	struct uv_task *t = (struct uv_task *)req;

	if (status != 0)
		fb_fail("after_work status %d", status);
	t->ctx->completed++;
	if (t->ctx->after)
		t->ctx->after(t);
	free(t);
}

static void queue(struct uv_run_ctx *c, unsigned index)
{
	struct uv_task *t = fb_xmalloc(sizeof(*t));

	t->ctx = c;
	t->index = index;
	t->out = 0;
	FB_CHECK_RC(uv_queue_work(c->loop, &t->req, work_cb, after_cb));
}

static int uv_setup(unsigned workers, const struct fb_params *p, void **state)
{
	uv_loop_t *loop = fb_xmalloc(sizeof(*loop));
	char size[16];

	/* Read by libuv when its pool starts, at the first uv_queue_work. */
	snprintf(size, sizeof(size), "%u", workers);
	setenv("UV_THREADPOOL_SIZE", size, 1);
	pool_place = fb_lazy_place_new(workers, false);
	FB_CHECK_RC(uv_loop_init(loop));
	*state = loop;
	return 0;
}

static void uv_teardown(void *state)
{
	FB_CHECK_RC(uv_loop_close(state));
	free(state);
	fb_lazy_place_free(pool_place);
	pool_place = NULL;
}

static struct uv_run_ctx run_ctx(void *loop, void (*work)(struct uv_task *),
				 void (*after)(struct uv_task *), void *data)
{
	struct uv_run_ctx c = {loop, 0, work, after, data};

	return c;
}

/* ---- submit, submit2
 * ---------------------------------------------------------- */

static unsigned submit_and_run(uv_loop_t *loop, unsigned n)
{
	struct uv_run_ctx c = run_ctx(loop, NULL, NULL, NULL);

	for (unsigned i = 0; i < n; i++)
		queue(&c, i);
	uv_run(loop, UV_RUN_DEFAULT);
	return c.completed;
}

static void submit_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	unsigned done;

	fb_region_begin(s);
	done = submit_and_run(state, p->submit_tasks);
	fb_region_end(s);
	if (done != p->submit_tasks)
		fb_fail("%u of %u tasks completed", done, p->submit_tasks);
}

/* A submitter of submit2: its own loop on libuv's shared pool. */
static void submit_share(void *completed, unsigned n)
{
	uv_loop_t loop;

	FB_CHECK_RC(uv_loop_init(&loop));
	atomic_fetch_add_explicit((atomic_uint *)completed,
				  submit_and_run(&loop, n),
				  memory_order_relaxed);
	FB_CHECK_RC(uv_loop_close(&loop));
}

static void submit2_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	atomic_uint completed = 0;

	fb_region_begin(s);
	fb_two_submitters(p->submit_tasks, submit_share, &completed);
	fb_region_end(s);
	if (completed != p->submit_tasks)
		fb_fail("%u of %u tasks completed", (unsigned)completed,
			p->submit_tasks);
}

/* ---- roundtrip: one request, then the loop until its after_work ran
 * ---------- */

struct round {
	struct uv_run_ctx c;
	uv_run_mode mode; /* NOWAIT: the waiter spins; ONCE: it blocks */
	unsigned in;
	uintptr_t result;
};

static void plus_one(struct uv_task *t) { t->out = t->index + 1; }

static void keep_result(struct uv_task *t)
{
	struct round *r = t->ctx->data;

	r->result = t->out;
}

static void round_once(void *arg)
{
	struct round *r = arg;
	unsigned before = r->c.completed;

	queue(&r->c, ++r->in);
	while (r->c.completed == before)
		uv_run(r->c.loop, r->mode);
	if (r->result != r->in + 1)
		fb_fail("round result %zu, expected %u", (size_t)r->result,
			r->in + 1);
}

static void roundtrip(void *state, const struct fb_params *p,
		      struct fb_sample *s, uv_run_mode mode, bool idle)
{
	struct round r = {.mode = mode};

	r.c = run_ctx(state, plus_one, keep_result, &r);
	fb_roundtrip(p, s, idle, round_once, &r);
}

static void rt_spin_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	roundtrip(state, p, s, UV_RUN_NOWAIT, false);
}

static void rt_block_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	roundtrip(state, p, s, UV_RUN_ONCE, false);
}

static void rt_idle_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	roundtrip(state, p, s, UV_RUN_ONCE, true);
}

/* ---- chain: each after_work queues the next
 * ------------------------------------ */

static void queue_next(struct uv_task *t)
{
	const unsigned *links = t->ctx->data;

	if (t->ctx->completed < *links)
		queue(t->ctx, t->ctx->completed);
}

static void chain_run(void *state, const struct fb_params *p,
		      struct fb_sample *s)
{
	struct uv_run_ctx c =
	    run_ctx(state, NULL, queue_next, (void *)&p->chain_links);

	fb_region_begin(s);
	queue(&c, 0);
	uv_run(c.loop, UV_RUN_DEFAULT);
	fb_region_end(s);
	if (c.completed != p->chain_links)
		fb_fail("%u links ran, expected %u", c.completed,
			p->chain_links);
}

/* ---- map: one request per item, results by index
 * ------------------------------- */

static void map_work(struct uv_task *t) { t->out = fb_map_fn(t->index); }

static void map_store(struct uv_task *t)
{
	uintptr_t *out = t->ctx->data;

	out[t->index] = t->out;
}

static void map_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	uintptr_t *out = fb_xmalloc(p->map_items * sizeof(*out));
	struct uv_run_ctx c = run_ctx(state, map_work, map_store, out);
	uint64_t sum = 0;

	fb_region_begin(s);
	for (unsigned i = 0; i < p->map_items; i++)
		queue(&c, i);
	uv_run(c.loop, UV_RUN_DEFAULT);
	for (unsigned i = 0; i < p->map_items; i++)
		sum += out[i];
	fb_region_end(s);
	free(out);
	fb_map_check(p->map_items, sum);
}

/* ---- as_completed: after_work callbacks come in completion order
 * ------------- */

static void tiny_work(struct uv_task *t) { fb_spin(fb_tiny_length(t->index)); }

static void mark_seen(struct uv_task *t)
{
	unsigned char *seen = t->ctx->data;

	if (seen[t->index]++)
		fb_fail("task %u completed twice", t->index);
}

static void as_completed_run(void *state, const struct fb_params *p,
			     struct fb_sample *s)
{
	unsigned n = p->as_completed_futures;
	unsigned char *seen = fb_xcalloc(n, 1);
	struct uv_run_ctx c = run_ctx(state, tiny_work, mark_seen, seen);

	fb_region_begin(s);
	for (unsigned i = 0; i < n; i++)
		queue(&c, i);
	while (c.completed < n)
		uv_run(c.loop, UV_RUN_ONCE);
	fb_region_end(s);
	free(seen);
}

/* ---- wait: the loop runs until the first or the last after_work
 * -------------- */

static void gated_work(struct uv_task *t)
{
	fb_gated_task(t->ctx->data, t->index);
}

static double wait_once(void *loop, struct fb_gated *g, bool first)
{
	struct uv_run_ctx c = run_ctx(loop, gated_work, NULL, g);
	int64_t returned;

	fb_gated_reset(g);
	for (unsigned i = 0; i < g->n; i++)
		queue(&c, i);
	fb_gated_open_soon(g);
	while (c.completed < (first ? 1 : g->n))
		uv_run(c.loop, UV_RUN_ONCE);
	returned = fb_now_ns();
	uv_run(c.loop, UV_RUN_DEFAULT);
	return fb_gated_after(g, returned, first);
}

static void wait_run(void *state, const struct fb_params *p,
		     struct fb_sample *s)
{
	struct fb_gated g;

	fb_gated_init(&g, p->wait_futures);
	s->value[0] = wait_once(state, &g, false);
	s->value[1] = wait_once(state, &g, true);
	s->instr = -1;
	fb_gated_free(&g);
}

/* ---- idle
 * ----------------------------------------------------------------------- */

static void idle_run(void *state, const struct fb_params *p,
		     struct fb_sample *s)
{
	unsigned done = submit_and_run(state, FB_WARM_TASKS);

	if (done != FB_WARM_TASKS)
		fb_fail("%u of %u tasks completed", done, FB_WARM_TASKS);
	fb_idle_window(p, s);
}

const struct fb_impl fb_impls_libuv[] = {
    {"timers", "libuv", NULL, fb_libuv_timers_run, NULL},
    {"submit", "libuv", uv_setup, submit_run, uv_teardown},
    {"submit2", "libuv", uv_setup, submit2_run, uv_teardown},
    {"roundtrip_spin", "libuv", uv_setup, rt_spin_run, uv_teardown},
    {"roundtrip_block", "libuv", uv_setup, rt_block_run, uv_teardown},
    {"roundtrip_idle", "libuv", uv_setup, rt_idle_run, uv_teardown},
    {"chain", "libuv", uv_setup, chain_run, uv_teardown},
    {"map", "libuv", uv_setup, map_run, uv_teardown},
    {"as_completed", "libuv", uv_setup, as_completed_run, uv_teardown},
    {"wait", "libuv", uv_setup, wait_run, uv_teardown},
    {"idle", "libuv", uv_setup, idle_run, uv_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
