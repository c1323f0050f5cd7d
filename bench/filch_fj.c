/* SPDX-License-Identifier: MIT */
/*
 * filch_fj.c - impl "filch_fj" of the fork-join benches (fib, nqueens, uts,
 * skynet) with the fork-join fast path of filch/fj.h: frames by value on
 * the worker's frame stack, a direct call when nobody stole the frame. The
 * foreign main thread hands the root to the executor with filch_fj_run.
 */
#include "config.h"

#include <filch.h>
#include <filch/fj.h>

#include "fb.h"
#include "filch_executor.h"
#include "workloads.h"

/* The problem sizes of the current run (runs are never concurrent). */
static const struct fb_params *fj_params;

/* Runs fn, which stores a long long answer, on the executor, timed. */
static long long timed_root(void *ex, const struct fb_params *p,
			    struct fb_sample *s, filch_fj_root_fn fn)
{
	long long r = 0;

	fj_params = p;
	fb_region_begin(s);
	FB_CHECK_RC(filch_fj_run(ex, fn, &r));
	fb_region_end(s);
	return r;
}

/* ---- fib: spawn fib(n-1), call fib(n-2), sync ----------------------------
 */

FILCH_FJ_FN1(long, fib, unsigned, n)
{
	long a, b;

	if (n < 2)
		return (long)n;
	FILCH_SPAWN(fib, n - 1);
	b = FILCH_CALL(fib, n - 2);
	a = FILCH_SYNC(fib);
	return a + b;
}

static void fib_root(filch_fj *fj, void *arg)
{
	*(long long *)arg = fib(fj, fj_params->fib_n);
}

static void fib_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	fb_fib_check(p->fib_n, (long)timed_root(state, p, s, fib_root));
}

/* ---- nqueens: one frame per legal column ----------------------------------
 */

FILCH_FJ_FN1(long, queens, struct fb_queens, q)
{
	uint32_t free_cols;
	unsigned k = 0;
	long sum = 0;

	if (q.row == fj_params->nqueens_n)
		return 1;
	free_cols = fb_queens_free(&q, fj_params->nqueens_n);
	for (; free_cols; free_cols &= free_cols - 1, k++)
		FILCH_SPAWN(queens, fb_queens_place(&q, free_cols & -free_cols));
	while (k--)
		sum += FILCH_SYNC(queens);
	return sum;
}

static void queens_root(filch_fj *fj, void *arg)
{
	struct fb_queens q = {0, 0, 0, 0};

	*(long long *)arg = queens(fj, q);
}

static void nqueens_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	fb_nqueens_check(p->nqueens_n,
			 (long)timed_root(state, p, s, queens_root));
}

/* ---- uts: one frame per node ----------------------------------------------
 */

FILCH_FJ_FN3(long, uts, const struct fb_uts_tree *, t, uint64_t, node,
	     unsigned, depth)
{
	unsigned k = fb_uts_children(t, node, depth);
	long nodes = 1;

	for (unsigned i = 0; i < k; i++)
		FILCH_SPAWN(uts, t, fb_uts_child(node, i), depth + 1);
	for (unsigned i = 0; i < k; i++)
		nodes += FILCH_SYNC(uts);
	return nodes;
}

struct uts_root {
	const struct fb_uts_tree *t;
	long nodes;
};

static void uts_root(filch_fj *fj, void *arg)
{
	struct uts_root *r = arg;

	r->nodes = uts(fj, r->t, r->t->root, 0);
}

static void uts_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	struct uts_root roots[FB_UTS_TREES];

	fb_region_begin(s);
	for (int i = 0; i < FB_UTS_TREES; i++) {
		roots[i].t = &fb_uts_forest(p)[i];
		FB_CHECK_RC(filch_fj_run(state, uts_root, &roots[i]));
	}
	fb_region_end(s);
	for (int i = 0; i < FB_UTS_TREES; i++)
		fb_uts_check(&fb_uts_forest(p)[i], (size_t)roots[i].nodes);
}

/* ---- skynet: ten frames per node ------------------------------------------
 */

FILCH_FJ_FN2(long long, sky, long long, num, long long, size)
{
	long long sum = 0;

	if (size == 1)
		return num;
	for (int i = 0; i < 10; i++)
		FILCH_SPAWN(sky, num + i * (size / 10), size / 10);
	for (int i = 0; i < 10; i++)
		sum += FILCH_SYNC(sky);
	return sum;
}

static void sky_root(filch_fj *fj, void *arg)
{
	*(long long *)arg = sky(fj, 0, fj_params->skynet_leaves);
}

static void skynet_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	fb_skynet_check(p->skynet_leaves, timed_root(state, p, s, sky_root));
}

const struct fb_impl fb_impls_filch_fj[] = {
    {"fib", "filch_fj", fb_filch_setup, fib_run, fb_filch_teardown},
    {"nqueens", "filch_fj", fb_filch_setup, nqueens_run, fb_filch_teardown},
    {"uts", "filch_fj", fb_filch_setup, uts_run, fb_filch_teardown},
    {"skynet", "filch_fj", fb_filch_setup, skynet_run, fb_filch_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
