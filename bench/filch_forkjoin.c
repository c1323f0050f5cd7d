/* SPDX-License-Identifier: MIT */
/*
 * filch_forkjoin.c - impl "filch" of the fork-join benches (fib, nqueens,
 * uts, skynet, matmul) with task groups: filch_group_spawn pushes onto the
 * worker's deque, filch_group_wait helps. The foreign main thread hands the
 * root job to the executor and sleeps until the tree is done.
 */
#include "config.h"

#include <stdlib.h>

#include <filch.h>

#include "fb.h"
#include "filch_executor.h"
#include "workloads.h"

/* The executor of the current run (runs are never concurrent), and the
 * problem sizes the jobs read. */
static filch_executor *fj_ex;
static const struct fb_params *fj_params;

/* Runs fn(arg) on the executor and waits for the whole tree. */
static void run_root(void *state, const struct fb_params *p, filch_job_fn fn,
		     void *arg)
{
	filch_group g;

	fj_ex = state;
	fj_params = p;
	FB_CHECK_RC(filch_group_init(&g, fj_ex));
	FB_CHECK_RC(filch_group_spawn(&g, fn, arg));
	FB_CHECK_RC(filch_group_wait(&g));
}

/* ---- fib: spawn fib(n-1), call fib(n-2), wait ------------------------------
 */

struct fib_job {
	unsigned n;
	long r;
};

static long fib(unsigned n);

static int fib_job(void *arg)
{
	struct fib_job *j = arg;

	j->r = fib(j->n);
	return 0;
}

static long fib(unsigned n)
{
	struct fib_job child = {n - 1, 0};
	filch_group g;
	long b;

	if (n < 2)
		return (long)n;
	FB_CHECK_RC(filch_group_init(&g, fj_ex));
	FB_CHECK_RC(filch_group_spawn(&g, fib_job, &child));
	b = fib(n - 2);
	FB_CHECK_RC(filch_group_wait(&g));
	return child.r + b;
}

static void fib_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	struct fib_job root = {p->fib_n, 0};

	fb_region_begin(s);
	run_root(state, p, fib_job, &root);
	fb_region_end(s);
	fb_fib_check(p->fib_n, root.r);
}

/* ---- nqueens: one job per legal column -------------------------------------
 */

struct queens_job {
	struct fb_queens q;
	long solutions;
};

static int queens_job(void *arg)
{
	struct queens_job *j = arg;
	struct queens_job kids[32];
	uint32_t free_cols;
	unsigned k = 0;
	filch_group g;

	if (j->q.row == fj_params->nqueens_n) {
		j->solutions = 1;
		return 0;
	}
	j->solutions = 0;
	free_cols = fb_queens_free(&j->q, fj_params->nqueens_n);
	FB_CHECK_RC(filch_group_init(&g, fj_ex));
	for (; free_cols; free_cols &= free_cols - 1, k++) {
		kids[k].q = fb_queens_place(&j->q, free_cols & -free_cols);
		FB_CHECK_RC(filch_group_spawn(&g, queens_job, &kids[k]));
	}
	FB_CHECK_RC(filch_group_wait(&g));
	for (unsigned i = 0; i < k; i++)
		j->solutions += kids[i].solutions;
	return 0;
}

static void nqueens_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	struct queens_job root = {{0, 0, 0, 0}, 0};

	fb_region_begin(s);
	run_root(state, p, queens_job, &root);
	fb_region_end(s);
	fb_nqueens_check(p->nqueens_n, root.solutions);
}

/* ---- uts: one job per node
 * ---------------------------------------------------- */

struct uts_job {
	const struct fb_uts_tree *t;
	uint64_t node;
	unsigned depth;
	size_t nodes;
};

#define UTS_LOCAL_KIDS 16

static int uts_job(void *arg)
{
	struct uts_job *j = arg, local[UTS_LOCAL_KIDS], *kids = local;
	unsigned k = fb_uts_children(j->t, j->node, j->depth);
	filch_group g;

	j->nodes = 1;
	if (k == 0)
		return 0;
	if (k > UTS_LOCAL_KIDS)
		kids = fb_xmalloc(k * sizeof(*kids));
	FB_CHECK_RC(filch_group_init(&g, fj_ex));
	for (unsigned i = 0; i < k; i++) {
		kids[i].t = j->t;
		kids[i].node = fb_uts_child(j->node, i);
		kids[i].depth = j->depth + 1;
		FB_CHECK_RC(filch_group_spawn(&g, uts_job, &kids[i]));
	}
	FB_CHECK_RC(filch_group_wait(&g));
	for (unsigned i = 0; i < k; i++)
		j->nodes += kids[i].nodes;
	if (kids != local)
		free(kids);
	return 0;
}

static void uts_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	struct uts_job roots[FB_UTS_TREES];

	fb_region_begin(s);
	for (int i = 0; i < FB_UTS_TREES; i++) {
		roots[i].t = &fb_uts_forest(p)[i];
		roots[i].node = fb_uts_forest(p)[i].root;
		roots[i].depth = 0;
		run_root(state, p, uts_job, &roots[i]);
	}
	fb_region_end(s);
	for (int i = 0; i < FB_UTS_TREES; i++)
		fb_uts_check(&fb_uts_forest(p)[i], roots[i].nodes);
}

/* ---- skynet: ten jobs per node
 * ------------------------------------------------ */

struct sky_job {
	long long num, size, sum;
};

static int sky_job(void *arg)
{
	struct sky_job *j = arg, kids[10];
	filch_group g;

	if (j->size == 1) {
		j->sum = j->num;
		return 0;
	}
	FB_CHECK_RC(filch_group_init(&g, fj_ex));
	for (int i = 0; i < 10; i++) {
		kids[i].num = j->num + i * (j->size / 10);
		kids[i].size = j->size / 10;
		FB_CHECK_RC(filch_group_spawn(&g, sky_job, &kids[i]));
	}
	FB_CHECK_RC(filch_group_wait(&g));
	j->sum = 0;
	for (int i = 0; i < 10; i++)
		j->sum += kids[i].sum;
	return 0;
}

static void skynet_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	struct sky_job root = {0, p->skynet_leaves, 0};

	fb_region_begin(s);
	run_root(state, p, sky_job, &root);
	fb_region_end(s);
	fb_skynet_check(p->skynet_leaves, root.sum);
}

/* ---- matmul: per phase, spawn three quadrant products, run the fourth ------
 */

struct mm_state {
	filch_executor *ex;
	struct fb_matmul m;
};

static int mm_job(void *arg)
{
	const struct fb_mm_job *j = arg;
	struct fb_mm_job sub[4];
	filch_group g;

	if (j->n <= fj_params->matmul_cutoff) {
		fb_mm_kernel(j);
		return 0;
	}
	for (int phase = 0; phase < 2; phase++) {
		fb_mm_split(j, phase, sub);
		FB_CHECK_RC(filch_group_init(&g, fj_ex));
		for (int i = 0; i < 3; i++)
			FB_CHECK_RC(filch_group_spawn(&g, mm_job, &sub[i]));
		mm_job(&sub[3]);
		FB_CHECK_RC(filch_group_wait(&g));
	}
	return 0;
}

static int matmul_setup(unsigned workers, const struct fb_params *p,
			void **state)
{
	struct mm_state *st = fb_xmalloc(sizeof(*st));
	int rc = fb_filch_setup(workers, p, (void **)&st->ex);

	if (rc != 0) {
		free(st);
		return rc;
	}
	fb_matmul_init(&st->m, p->matmul_n);
	*state = st;
	return 0;
}

static void matmul_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	struct mm_state *st = state;
	struct fb_mm_job root = fb_matmul_root(&st->m);

	fb_matmul_reset(&st->m);
	fb_region_begin(s);
	run_root(st->ex, p, mm_job, &root);
	fb_region_end(s);
	fb_matmul_check(&st->m);
}

static void matmul_teardown(void *state)
{
	struct mm_state *st = state;

	fb_filch_teardown(st->ex);
	fb_matmul_free(&st->m);
	free(st);
}

const struct fb_impl fb_impls_filch_forkjoin[] = {
    {"fib", "filch", fb_filch_setup, fib_run, fb_filch_teardown},
    {"nqueens", "filch", fb_filch_setup, nqueens_run, fb_filch_teardown},
    {"uts", "filch", fb_filch_setup, uts_run, fb_filch_teardown},
    {"skynet", "filch", fb_filch_setup, skynet_run, fb_filch_teardown},
    {"matmul", "filch", matmul_setup, matmul_run, matmul_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
