/* SPDX-License-Identifier: MIT */
/* seq.c - sequential C (impl "seq"): the floor the runtimes are measured
 * against. */
#include "config.h"

#include <stdlib.h>

#include "fb.h"
#include "workloads.h"

static void fib_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	long r;

	fb_region_begin(s);
	r = fb_fib_seq(p->fib_n);
	fb_region_end(s);
	fb_fib_check(p->fib_n, r);
}

static void nqueens_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	struct fb_queens empty = {0, 0, 0, 0};
	long r;

	fb_region_begin(s);
	r = fb_nqueens_seq(&empty, p->nqueens_n);
	fb_region_end(s);
	fb_nqueens_check(p->nqueens_n, r);
}

static void uts_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	size_t nodes[FB_UTS_TREES];

	fb_region_begin(s);
	for (int i = 0; i < FB_UTS_TREES; i++)
		nodes[i] = fb_uts_seq(&fb_uts_forest(p)[i],
				      fb_uts_forest(p)[i].root, 0);
	fb_region_end(s);
	for (int i = 0; i < FB_UTS_TREES; i++)
		fb_uts_check(&fb_uts_forest(p)[i], nodes[i]);
}

static void skynet_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	long long sum;

	fb_region_begin(s);
	sum = fb_skynet_seq(0, p->skynet_leaves);
	fb_region_end(s);
	fb_skynet_check(p->skynet_leaves, sum);
}

static int matmul_setup(unsigned workers, const struct fb_params *p,
			void **state)
{
	struct fb_matmul *m = fb_xmalloc(sizeof(*m));

	fb_matmul_init(m, p->matmul_n);
	*state = m;
	return 0;
}

static void matmul_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	struct fb_matmul *m = state;
	struct fb_mm_job root = fb_matmul_root(m);

	fb_matmul_reset(m);
	fb_region_begin(s);
	fb_matmul_seq(&root, p->matmul_cutoff);
	fb_region_end(s);
	fb_matmul_check(m);
}

static void matmul_teardown(void *state)
{
	fb_matmul_free(state);
	free(state);
}

static void map_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	uintptr_t *results = fb_xmalloc(p->map_items * sizeof(*results));
	uint64_t sum = 0;

	fb_region_begin(s);
	for (size_t i = 0; i < p->map_items; i++)
		results[i] = fb_map_fn(i);
	for (size_t i = 0; i < p->map_items; i++)
		sum += results[i];
	fb_region_end(s);
	free(results);
	fb_map_check(p->map_items, sum);
}

static void as_completed_run(void *state, const struct fb_params *p,
			     struct fb_sample *s)
{
	unsigned done = 0;

	fb_region_begin(s);
	for (unsigned i = 0; i < p->as_completed_futures; i++) {
		fb_spin(fb_tiny_length(i));
		done++;
	}
	fb_region_end(s);
	if (done != p->as_completed_futures)
		fb_fail("%u of %u tasks ran", done, p->as_completed_futures);
}

const struct fb_impl fb_impls_seq[] = {
    {"fib", "seq", NULL, fib_run, NULL},
    {"nqueens", "seq", NULL, nqueens_run, NULL},
    {"uts", "seq", NULL, uts_run, NULL},
    {"skynet", "seq", NULL, skynet_run, NULL},
    {"matmul", "seq", matmul_setup, matmul_run, matmul_teardown},
    {"map", "seq", NULL, map_run, NULL},
    {"as_completed", "seq", NULL, as_completed_run, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
