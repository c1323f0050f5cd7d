/* SPDX-License-Identifier: MIT */
/*
 * filch_submit.c - impls "filch" (filch_submit with a future, waited on)
 * and "filch_nofuture" (fire and forget, completion counted by a latch) of
 * the submit, submit2, roundtrip and chain benches, and "filch" of the
 * blocking bench (tasks waiting on promises).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <filch.h>

#include "fb.h"
#include "filch_executor.h"
#include "latch.h"
#include "scaffold.h"

static int empty_task(void *arg, void **result) { return 0; }

static int count_down_task(void *arg, void **result)
{
	fb_latch_count_down(arg);
	return 0;
}

/* Submits n empty tasks with futures, then waits for each. */
static void submit_with_futures(filch_executor *ex, unsigned n)
{
	filch_future **fs = fb_xmalloc(n * sizeof(*fs));

	for (unsigned i = 0; i < n; i++)
		FB_CHECK_RC(filch_submit(ex, empty_task, NULL, &fs[i]));
	for (unsigned i = 0; i < n; i++) {
		void *r = &r;

		FB_CHECK_RC(filch_future_result(fs[i], FILCH_FOREVER, &r));
		if (r != NULL)
			fb_fail("an empty task's result is %p", r);
		filch_future_release(fs[i]);
	}
	free(fs);
}

static void submit_fire_and_forget(filch_executor *ex, unsigned n,
				   struct fb_latch *done)
{
	for (unsigned i = 0; i < n; i++)
		FB_CHECK_RC(filch_submit(ex, count_down_task, done, NULL));
}

/* ---- submit
 * ------------------------------------------------------------------ */

static void submit_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	fb_region_begin(s);
	submit_with_futures(state, p->submit_tasks);
	fb_region_end(s);
}

static void submit_nofuture_run(void *state, const struct fb_params *p,
				struct fb_sample *s)
{
	struct fb_latch *done = fb_latch_new(p->submit_tasks);

	fb_region_begin(s);
	submit_fire_and_forget(state, p->submit_tasks, done);
	fb_latch_wait(done);
	fb_region_end(s);
	fb_latch_free(done);
}

/* ---- submit2
 * ------------------------------------------------------------------- */

struct submit2 {
	filch_executor *ex;
	struct fb_latch *done;
};

static void share_with_futures(void *ctx, unsigned n)
{
	submit_with_futures(((struct submit2 *)ctx)->ex, n);
}

static void share_fire_and_forget(void *ctx, unsigned n)
{
	struct submit2 *c = ctx;

	submit_fire_and_forget(c->ex, n, c->done);
}

static void submit2_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	struct submit2 c = {state, NULL};

	fb_region_begin(s);
	fb_two_submitters(p->submit_tasks, share_with_futures, &c);
	fb_region_end(s);
}

static void submit2_nofuture_run(void *state, const struct fb_params *p,
				 struct fb_sample *s)
{
	struct submit2 c = {state, fb_latch_new(p->submit_tasks)};

	fb_region_begin(s);
	fb_two_submitters(p->submit_tasks, share_fire_and_forget, &c);
	fb_latch_wait(c.done);
	fb_region_end(s);
	fb_latch_free(c.done);
}

/* ---- roundtrip: submit, then spin on filch_future_done or block in result
 * ---- */

struct round {
	filch_executor *ex;
	uintptr_t in;
};

static int plus_one(void *arg, void **result)
{
	*result = (void *)((uintptr_t)arg + 1);
	return 0;
}

static void round_trip(struct round *r, bool spin)
{
	filch_future *f;
	void *out = NULL;

	r->in++;
	FB_CHECK_RC(filch_submit(r->ex, plus_one, (void *)r->in, &f));
	if (spin)
		while (!filch_future_done(f))
			fb_cpu_relax();
	FB_CHECK_RC(filch_future_result(f, FILCH_FOREVER, &out));
	filch_future_release(f);
	if ((uintptr_t)out != r->in + 1)
		fb_fail("round result %zu, expected %zu",
			(size_t)(uintptr_t)out, (size_t)(r->in + 1));
}

static void spin_round(void *arg) { round_trip(arg, true); }

static void block_round(void *arg) { round_trip(arg, false); }

static void rt_spin_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	struct round r = {state, 0};

	fb_roundtrip(p, s, false, spin_round, &r);
}

static void rt_block_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	struct round r = {state, 0};

	fb_roundtrip(p, s, false, block_round, &r);
}

static void rt_idle_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	struct round r = {state, 0};

	fb_roundtrip(p, s, true, block_round, &r);
}

/* ---- chain
 * ------------------------------------------------------------------------ */

/* Links run one after another: each link's done-callback (or, without
 * futures, the link's task itself) submits the next, so `done` is only
 * touched in order, ordered by the futures and the executor's queues. */
struct chain {
	filch_executor *ex;
	unsigned done, links;
	struct fb_latch *finished;
};

/* A callback added to a future that is already done runs at once, in the
 * adder: chain_next then loops instead of recursing (a trampoline). */
static _Thread_local bool adding_callback;
static _Thread_local bool next_deferred;

static void chain_next(struct chain *c);

static void link_done(filch_future *f, void *arg)
{
	struct chain *c = arg;

	if (filch_future_state(f) != FILCH_FINISHED)
		fb_fail("link %u did not finish", c->done);
	if (++c->done == c->links) {
		fb_latch_count_down(c->finished);
		return;
	}
	if (adding_callback)
		next_deferred = true;
	else
		chain_next(c);
}

static void chain_next(struct chain *c)
{
	do {
		filch_future *f;

		next_deferred = false;
		FB_CHECK_RC(filch_submit(c->ex, empty_task, NULL, &f));
		adding_callback = true;
		FB_CHECK_RC(filch_future_on_done(f, link_done, c));
		adding_callback = false;
		filch_future_release(f);
	} while (next_deferred);
}

static int link_task(void *arg, void **result)
{
	struct chain *c = arg;

	if (++c->done < c->links)
		FB_CHECK_RC(filch_submit(c->ex, link_task, c, NULL));
	else
		fb_latch_count_down(c->finished);
	return 0;
}

static void chain(filch_executor *ex, const struct fb_params *p,
		  struct fb_sample *s, bool futures)
{
	struct chain c = {ex, 0, p->chain_links, fb_latch_new(1)};

	fb_region_begin(s);
	if (futures)
		chain_next(&c);
	else
		FB_CHECK_RC(filch_submit(ex, link_task, &c, NULL));
	fb_latch_wait(c.finished);
	fb_region_end(s);
	fb_latch_free(c.finished);
	if (c.done != p->chain_links)
		fb_fail("%u links ran, expected %u", c.done, p->chain_links);
}

static void chain_run(void *state, const struct fb_params *p,
		      struct fb_sample *s)
{
	chain(state, p, s, true);
}

static void chain_nofuture_run(void *state, const struct fb_params *p,
			       struct fb_sample *s)
{
	chain(state, p, s, false);
}

/* ---- blocking: each task waits on a promise ----------------------------- */

struct blocking {
	struct fb_paced paced;
	filch_future **promises;
};

struct blocking_arg {
	struct blocking *b;
	unsigned index;
};

static void set_promise(void *ctx, unsigned i)
{
	struct blocking *b = ctx;

	FB_CHECK_RC(filch_promise_set_result(b->promises[i],
					     (void *)(uintptr_t)i));
}

static int wait_promise_task(void *arg, void **result)
{
	struct blocking_arg *a = arg;
	int rc = filch_future_result(a->b->promises[a->index], FILCH_FOREVER,
				     result);

	fb_paced_done(&a->b->paced, a->index);
	return rc;
}

static void blocking_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	unsigned n = p->blocking_tasks;
	struct blocking b = {.promises = fb_xcalloc(n, sizeof(filch_future *))};
	struct blocking_arg *args = fb_xmalloc(n * sizeof(*args));
	filch_future **fs = fb_xmalloc(n * sizeof(*fs));

	fb_paced_init(&b.paced, n, set_promise, &b);
	for (unsigned i = 0; i < n; i++)
		FB_CHECK_RC(filch_promise_create(&b.promises[i]));
	fb_region_begin(s);
	for (unsigned i = 0; i < n; i++) {
		args[i] = (struct blocking_arg){&b, i};
		FB_CHECK_RC(filch_submit(state, wait_promise_task, &args[i],
					 &fs[i]));
	}
	fb_paced_start(&b.paced);
	for (unsigned i = 0; i < n; i++) {
		void *r = NULL;

		FB_CHECK_RC(filch_future_result(fs[i], FILCH_FOREVER, &r));
		if (r != (void *)(uintptr_t)i)
			fb_fail("task %u saw promise %p", i, r);
	}
	fb_region_end(s);
	fb_paced_finish(&b.paced, s);
	for (unsigned i = 0; i < n; i++) {
		filch_future_release(fs[i]);
		filch_future_release(b.promises[i]);
	}
	fb_paced_free(&b.paced);
	free(fs);
	free(args);
	free(b.promises);
}

#define FB_FILCH_ROW(bench, impl, run)                                         \
	{                                                                      \
		bench, impl, fb_filch_setup, run, fb_filch_teardown            \
	}

const struct fb_impl fb_impls_filch_submit[] = {
    FB_FILCH_ROW("submit", "filch", submit_run),
    FB_FILCH_ROW("submit", "filch_nofuture", submit_nofuture_run),
    FB_FILCH_ROW("submit2", "filch", submit2_run),
    FB_FILCH_ROW("submit2", "filch_nofuture", submit2_nofuture_run),
    FB_FILCH_ROW("roundtrip_spin", "filch", rt_spin_run),
    FB_FILCH_ROW("roundtrip_block", "filch", rt_block_run),
    FB_FILCH_ROW("roundtrip_idle", "filch", rt_idle_run),
    FB_FILCH_ROW("chain", "filch", chain_run),
    FB_FILCH_ROW("chain", "filch_nofuture", chain_nofuture_run),
    FB_FILCH_ROW("blocking", "filch", blocking_run),
    {NULL, NULL, NULL, NULL, NULL},
};
