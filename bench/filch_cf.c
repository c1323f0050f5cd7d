/* SPDX-License-Identifier: MIT */
/*
 * filch_cf.c - impl "filch" of the concurrent.futures-style benches: map
 * (filch_map, automatic chunking, results in input order: "filch" with a
 * chunk function over the indices, spans of results and the calling thread
 * helping, the shape of a tbb::parallel_for body run from its caller;
 * "filch_item" with a function per item and one filch_map_next per result,
 * the shape of Python's map), as_completed
 * (filch_as_completed_*) and wait (filch_wait, ALL_COMPLETED and
 * FIRST_COMPLETED).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <filch.h>

#include "fb.h"
#include "filch_executor.h"
#include "scaffold.h"
#include "workloads.h"

/* ---- map
 * ----------------------------------------------------------------------- */

static int map_task(void *arg, void **result)
{
	*result = (void *)fb_map_fn((uintptr_t)arg);
	return 0;
}

static int map_chunk(void *arg, struct filch_chunk *c)
{
	(void)arg;
	for (size_t i = 0; i < c->n; i++)
		c->results[i] = (void *)fb_map_fn(c->first + i);
	return 0;
}

static void map_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	const struct filch_map_opts opts = {.flags = FILCH_MAP_CALLER_RUNS,
					    .chunk_fn = map_chunk};
	size_t n = p->map_items, got = 0, count;
	void *const *results;
	filch_map_iter *it;
	uint64_t sum = 0;
	int rc;

	fb_region_begin(s);
	FB_CHECK_RC(filch_map(&it, state, NULL, NULL, n, &opts));
	while ((rc = filch_map_next_span(it, &results, &count)) == 0) {
		for (size_t i = 0; i < count; i++)
			sum += (uintptr_t)results[i];
		got += count;
	}
	filch_map_close(it);
	fb_region_end(s);
	if (rc != FILCH_END || got != n)
		fb_fail("filch_map_next_span returned %d (%s) after %zu of %zu",
			rc, filch_strerror(rc), got, n);
	fb_map_check(n, sum);
}

static void map_item_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	size_t n = p->map_items, got = 0;
	void **items = fb_xmalloc(n * sizeof(*items));
	filch_map_iter *it;
	uint64_t sum = 0;
	void *r;
	int rc;

	for (size_t i = 0; i < n; i++)
		items[i] = (void *)(uintptr_t)i;
	fb_region_begin(s);
	FB_CHECK_RC(filch_map(&it, state, map_task, items, n, NULL));
	while ((rc = filch_map_next(it, &r)) == 0) {
		if ((uintptr_t)r != fb_map_fn(got))
			fb_fail("map result %zu out of order", got);
		sum += (uintptr_t)r;
		got++;
	}
	filch_map_close(it);
	fb_region_end(s);
	free(items);
	if (rc != FILCH_END)
		fb_fail("filch_map_next returned %d (%s)", rc,
			filch_strerror(rc));
	fb_map_check(n, sum);
}

/* ---- as_completed
 * ------------------------------------------------------------------ */

static int tiny_task(void *arg, void **result)
{
	fb_spin(fb_tiny_length((unsigned)(uintptr_t)arg));
	*result = arg;
	return 0;
}

static void as_completed_run(void *state, const struct fb_params *p,
			     struct fb_sample *s)
{
	unsigned n = p->as_completed_futures, got = 0;
	filch_future **fs = fb_xmalloc(n * sizeof(*fs));
	unsigned char *seen = fb_xcalloc(n, 1);
	filch_as_completed *it;
	filch_future *f;
	int rc;

	fb_region_begin(s);
	for (unsigned i = 0; i < n; i++)
		FB_CHECK_RC(filch_submit(state, tiny_task, (void *)(uintptr_t)i,
					 &fs[i]));
	FB_CHECK_RC(filch_as_completed_begin(&it, fs, n, FILCH_FOREVER));
	while ((rc = filch_as_completed_next(it, &f)) == 0) {
		void *r;

		FB_CHECK_RC(filch_future_result(f, 0, &r));
		if ((uintptr_t)r >= n || seen[(uintptr_t)r]++)
			fb_fail("future %zu yielded twice",
				(size_t)(uintptr_t)r);
		got++;
	}
	filch_as_completed_end(it);
	fb_region_end(s);
	for (unsigned i = 0; i < n; i++)
		filch_future_release(fs[i]);
	free(fs);
	free(seen);
	if (rc != FILCH_END || got != n)
		fb_fail("as_completed yielded %u of %u futures, then %d", got,
			n, rc);
}

/* ---- wait
 * -----------------------------------------------------------------------------
 */

struct wait_cell {
	struct fb_gated *gated;
	unsigned index;
};

static int gated_task(void *arg, void **result)
{
	struct wait_cell *c = arg;

	fb_gated_task(c->gated, c->index);
	return 0;
}

/* Submits the gated tasks, opens the gate soon, waits with mode; returns
 * how long after the last or first completion filch_wait returned. */
static double wait_once(filch_executor *ex, struct fb_gated *g,
			struct wait_cell *cells, filch_future **fs, int mode)
{
	bool first = mode == FILCH_FIRST_COMPLETED;
	size_t ndone;
	int64_t returned;

	fb_gated_reset(g);
	for (unsigned i = 0; i < g->n; i++)
		FB_CHECK_RC(filch_submit(ex, gated_task, &cells[i], &fs[i]));
	fb_gated_open_soon(g);
	FB_CHECK_RC(filch_wait(fs, g->n, FILCH_FOREVER, mode, &ndone));
	returned = fb_now_ns();
	if (first ? ndone < 1 : ndone != g->n)
		fb_fail("filch_wait returned with %zu of %u done", ndone, g->n);
	FB_CHECK_RC(
	    filch_wait(fs, g->n, FILCH_FOREVER, FILCH_ALL_COMPLETED, &ndone));
	for (unsigned i = 0; i < g->n; i++)
		filch_future_release(fs[i]);
	return fb_gated_after(g, returned, first);
}

static void wait_run(void *state, const struct fb_params *p,
		     struct fb_sample *s)
{
	unsigned n = p->wait_futures;
	struct wait_cell *cells = fb_xmalloc(n * sizeof(*cells));
	filch_future **fs = fb_xmalloc(n * sizeof(*fs));
	struct fb_gated g;

	fb_gated_init(&g, n);
	for (unsigned i = 0; i < n; i++) {
		cells[i].gated = &g;
		cells[i].index = i;
	}
	s->value[0] = wait_once(state, &g, cells, fs, FILCH_ALL_COMPLETED);
	s->value[1] = wait_once(state, &g, cells, fs, FILCH_FIRST_COMPLETED);
	s->instr = -1;
	fb_gated_free(&g);
	free(fs);
	free(cells);
}

const struct fb_impl fb_impls_filch_cf[] = {
    {"map", "filch", fb_filch_setup, map_run, fb_filch_teardown},
    {"map", "filch_item", fb_filch_setup, map_item_run, fb_filch_teardown},
    {"as_completed", "filch", fb_filch_setup, as_completed_run,
     fb_filch_teardown},
    {"wait", "filch", fb_filch_setup, wait_run, fb_filch_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
