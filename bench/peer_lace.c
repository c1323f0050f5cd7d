/* SPDX-License-Identifier: MIT */
/*
 * peer_lace.c - impl "lace": Lace (T. van Dijk and J. van de Pol, "Lace:
 * non-blocking split deque for work-stealing", 2014) on fib, nqueens, uts
 * and skynet, one task per call, with Lace's own TASK/SPAWN/SYNC macros.
 * Linked only when configure was given a Lace source tree (--with-lace=DIR):
 * am/bench.am compiles DIR/src/lace.c next to this file. Lace keeps one
 * pool per process: setup starts it, teardown stops it. Its workers spin
 * while idle and are not placed (Lace offers no thread start hook).
 */
#include "config.h"

#include <lace.h>

#include "fb.h"
#include "workloads.h"

/* Lace's TASK macros declare a local that shadows another of theirs. */
#pragma GCC diagnostic ignored "-Wshadow"

/* The problem sizes of the current run (runs are never concurrent). */
static const struct fb_params *lace_params;

static int lace_setup(unsigned workers, const struct fb_params *p,
		      void **state)
{
	(void)p;
	lace_start(workers, 0); /* 0: Lace's default deque size */
	*state = NULL;
	return 0;
}

static void lace_teardown(void *state)
{
	(void)state;
	lace_stop();
}

TASK_1(long, lfib, unsigned, n)
{
	long a, b;

	if (n < 2)
		return (long)n;
	SPAWN(lfib, n - 1);
	b = CALL(lfib, n - 2);
	a = SYNC(lfib);
	return a + b;
}

static void fib_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	long r;

	(void)state;
	fb_region_begin(s);
	r = RUN(lfib, p->fib_n);
	fb_region_end(s);
	fb_fib_check(p->fib_n, r);
}

TASK_1(long, lqueens, struct fb_queens, q)
{
	uint32_t free_cols;
	unsigned k = 0;
	long sum = 0;

	if (q.row == lace_params->nqueens_n)
		return 1;
	free_cols = fb_queens_free(&q, lace_params->nqueens_n);
	for (; free_cols; free_cols &= free_cols - 1, k++)
		SPAWN(lqueens, fb_queens_place(&q, free_cols & -free_cols));
	while (k--)
		sum += SYNC(lqueens);
	return sum;
}

static void nqueens_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	struct fb_queens q = {0, 0, 0, 0};
	long r;

	(void)state;
	lace_params = p;
	fb_region_begin(s);
	r = RUN(lqueens, q);
	fb_region_end(s);
	fb_nqueens_check(p->nqueens_n, r);
}

TASK_3(long, luts, const struct fb_uts_tree *, t, uint64_t, node, unsigned,
       depth)
{
	unsigned k = fb_uts_children(t, node, depth);
	long nodes = 1;

	for (unsigned i = 0; i < k; i++)
		SPAWN(luts, t, fb_uts_child(node, i), depth + 1);
	for (unsigned i = 0; i < k; i++)
		nodes += SYNC(luts);
	return nodes;
}

static void uts_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	long nodes[FB_UTS_TREES];

	(void)state;
	fb_region_begin(s);
	for (int i = 0; i < FB_UTS_TREES; i++)
		nodes[i] = RUN(luts, &fb_uts_forest(p)[i],
			       fb_uts_forest(p)[i].root, 0);
	fb_region_end(s);
	for (int i = 0; i < FB_UTS_TREES; i++)
		fb_uts_check(&fb_uts_forest(p)[i], (size_t)nodes[i]);
}

TASK_2(long long, lsky, long long, num, long long, size)
{
	long long sum = 0;

	if (size == 1)
		return num;
	for (int i = 0; i < 10; i++)
		SPAWN(lsky, num + i * (size / 10), size / 10);
	for (int i = 0; i < 10; i++)
		sum += SYNC(lsky);
	return sum;
}

static void skynet_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	long long r;

	(void)state;
	fb_region_begin(s);
	r = RUN(lsky, 0, p->skynet_leaves);
	fb_region_end(s);
	fb_skynet_check(p->skynet_leaves, r);
}

const struct fb_impl fb_impls_lace[] = {
    {"fib", "lace", lace_setup, fib_run, lace_teardown},
    {"nqueens", "lace", lace_setup, nqueens_run, lace_teardown},
    {"uts", "lace", lace_setup, uts_run, lace_teardown},
    {"skynet", "lace", lace_setup, skynet_run, lace_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
