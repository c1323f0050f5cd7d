/* SPDX-License-Identifier: MIT */
/*
 * peer_omp.c - OpenMP tasks: impl "gomp" when gcc builds it into
 * filch-bench, impl "iomp" when clang builds it against libomp into the
 * helper filch-bench-iomp (-DFB_OMP_IOMP). A parallel region of `workers`
 * threads whose single thread spawns the root; "#pragma omp task" per
 * spawn and "taskwait" per join. For submit and chain the producing thread
 * is one more member of the team (OpenMP has no submission from outside).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <omp.h>

#include "fb.h"
#include "placement.h"
#include "scaffold.h"
#include "workloads.h"

#ifdef FB_OMP_IOMP
#define OMP_IMPL  "iomp"
#define OMP_IMPLS fb_impls_iomp
#else
#define OMP_IMPL  "gomp"
#define OMP_IMPLS fb_impls_gomp
#endif

/* The problem sizes tasks read (runs are never concurrent). */
static const struct fb_params *params;

/* Starts the runtime and its threads before the first run: in the helper
 * before the submitter is pinned (helper_main.c), as libgomp starts before
 * filch-bench's main. */
static void start_runtime(unsigned workers)
{
#pragma omp parallel num_threads((int)workers + 1)
	{
	}
}

static int omp_setup(unsigned workers, const struct fb_params *p, void **state)
{
	start_runtime(workers);
	*state = (void *)(uintptr_t)workers;
	return 0;
}

/* First statement of every parallel region: places this member. In a team
 * that works (fork-join, map, idle) the master, the submitter, is member
 * 0 and the others are teammates; where the master only creates tasks
 * (submit, chain) member t is worker t - 1. */
static void place_member(bool master_works)
{
	int t = omp_get_thread_num();

	if (t == 0)
		return;
	if (master_works)
		fb_place_teammate((unsigned)t,
				  (unsigned)omp_get_num_threads());
	else
		fb_place_worker((unsigned)t - 1,
				(unsigned)omp_get_num_threads() - 1);
}

static int workers_of(void *state) { return (int)(uintptr_t)state; }

/* ---- fork-join ------------------------------------------------------------
 */

static long fib(unsigned n)
{
	long a, b;

	if (n < 2)
		return (long)n;
#pragma omp task shared(a)
	a = fib(n - 1);
	b = fib(n - 2);
#pragma omp taskwait
	return a + b;
}

static void fib_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	long r = 0;

	fb_region_begin(s);
#pragma omp parallel num_threads(workers_of(state))
	{
		place_member(true);
#pragma omp single
		r = fib(p->fib_n);
	}
	fb_region_end(s);
	fb_fib_check(p->fib_n, r);
}

static long queens(struct fb_queens q)
{
	unsigned n = params->nqueens_n, k = 0;
	long kids[32], sum = 0;

	if (q.row == n)
		return 1;
	for (uint32_t f = fb_queens_free(&q, n); f; f &= f - 1, k++) {
		struct fb_queens child = fb_queens_place(&q, f & -f);
		long *out = &kids[k];

#pragma omp task firstprivate(child, out)
		*out = queens(child);
	}
#pragma omp taskwait
	for (unsigned i = 0; i < k; i++)
		sum += kids[i];
	return sum;
}

static void nqueens_run(void *state, const struct fb_params *p,
			struct fb_sample *s)
{
	struct fb_queens empty = {0, 0, 0, 0};
	long r = 0;

	params = p;
	fb_region_begin(s);
#pragma omp parallel num_threads(workers_of(state))
	{
		place_member(true);
#pragma omp single
		r = queens(empty);
	}
	fb_region_end(s);
	fb_nqueens_check(p->nqueens_n, r);
}

#define UTS_LOCAL_KIDS 16

static size_t uts(const struct fb_uts_tree *t, uint64_t node, unsigned depth)
{
	unsigned k = fb_uts_children(t, node, depth);
	size_t local[UTS_LOCAL_KIDS], *kids = local, nodes = 1;

	if (k > UTS_LOCAL_KIDS)
		kids = fb_xmalloc(k * sizeof(*kids));
	for (unsigned i = 0; i < k; i++) {
		uint64_t child = fb_uts_child(node, i);
		size_t *out = &kids[i];

#pragma omp task firstprivate(child, out)
		*out = uts(t, child, depth + 1);
	}
#pragma omp taskwait
	for (unsigned i = 0; i < k; i++)
		nodes += kids[i];
	if (kids != local)
		free(kids);
	return nodes;
}

static void uts_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	size_t nodes[FB_UTS_TREES];

	fb_region_begin(s);
#pragma omp parallel num_threads(workers_of(state))
	{
		place_member(true);
#pragma omp single
		for (int i = 0; i < FB_UTS_TREES; i++)
			nodes[i] = uts(&fb_uts_forest(p)[i],
				       fb_uts_forest(p)[i].root, 0);
	}
	fb_region_end(s);
	for (int i = 0; i < FB_UTS_TREES; i++)
		fb_uts_check(&fb_uts_forest(p)[i], nodes[i]);
}

static long long skynet(long long num, long long size)
{
	long long kids[10], sum = 0;

	if (size == 1)
		return num;
	for (int i = 0; i < 10; i++) {
		long long sub = num + i * (size / 10);
		long long *out = &kids[i];

#pragma omp task firstprivate(sub, out)
		*out = skynet(sub, size / 10);
	}
#pragma omp taskwait
	for (int i = 0; i < 10; i++)
		sum += kids[i];
	return sum;
}

static void skynet_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	long long sum = 0;

	fb_region_begin(s);
#pragma omp parallel num_threads(workers_of(state))
	{
		place_member(true);
#pragma omp single
		sum = skynet(0, p->skynet_leaves);
	}
	fb_region_end(s);
	fb_skynet_check(p->skynet_leaves, sum);
}

struct mm_state {
	int workers;
	struct fb_matmul m;
};

static void mm(const struct fb_mm_job *j)
{
	struct fb_mm_job sub[4];

	if (j->n <= params->matmul_cutoff) {
		fb_mm_kernel(j);
		return;
	}
	for (int phase = 0; phase < 2; phase++) {
		fb_mm_split(j, phase, sub);
		for (int i = 0; i < 3; i++) {
			const struct fb_mm_job *q = &sub[i];

#pragma omp task firstprivate(q)
			mm(q);
		}
		mm(&sub[3]);
#pragma omp taskwait
	}
}

static int matmul_setup(unsigned workers, const struct fb_params *p,
			void **state)
{
	struct mm_state *st = fb_xmalloc(sizeof(*st));

	start_runtime(workers);
	st->workers = (int)workers;
	fb_matmul_init(&st->m, p->matmul_n);
	*state = st;
	return 0;
}

static void matmul_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	struct mm_state *st = state;
	struct fb_mm_job root = fb_matmul_root(&st->m);

	params = p;
	fb_matmul_reset(&st->m);
	fb_region_begin(s);
#pragma omp parallel num_threads(st->workers)
	{
		place_member(true);
#pragma omp single
		mm(&root);
	}
	fb_region_end(s);
	fb_matmul_check(&st->m);
}

static void matmul_teardown(void *state)
{
	struct mm_state *st = state;

	fb_matmul_free(&st->m);
	free(st);
}

/* ---- submit: one member creates the tasks, `workers` others run them ------
 */

/* With master_works false the team has one more member, the master,
 * which only creates the tasks. */
static unsigned empty_tasks(int team, bool master_works, unsigned n)
{
	atomic_uint ran = 0;

#pragma omp parallel num_threads(team)
	{
		place_member(master_works);
#pragma omp single
		for (unsigned i = 0; i < n; i++) {
#pragma omp task shared(ran)
			atomic_fetch_add_explicit(&ran, 1,
						  memory_order_relaxed);
		}
	}
	/* The parallel region's end joins every task. */
	return atomic_load_explicit(&ran, memory_order_relaxed);
}

static void submit_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	unsigned ran;

	fb_region_begin(s);
	ran = empty_tasks(workers_of(state) + 1, false, p->submit_tasks);
	fb_region_end(s);
	if (ran != p->submit_tasks)
		fb_fail("%u of %u tasks ran", ran, p->submit_tasks);
}

/* ---- chain: each task creates the next -------------------------------------
 */

static void chain_link(atomic_uint *done, unsigned links)
{
	if (atomic_fetch_add_explicit(done, 1, memory_order_relaxed) + 1 <
	    links) {
#pragma omp task firstprivate(done, links)
		chain_link(done, links);
	}
}

static void chain_run(void *state, const struct fb_params *p,
		      struct fb_sample *s)
{
	atomic_uint done = 0;

	fb_region_begin(s);
#pragma omp parallel num_threads(workers_of(state) + 1)
	{
		place_member(false);
#pragma omp single
		{
#pragma omp task shared(done)
			chain_link(&done, p->chain_links);
		}
	}
	fb_region_end(s);
	if (done != p->chain_links)
		fb_fail("%u links ran, expected %u", (unsigned)done,
			p->chain_links);
}

/* ---- map: a parallel loop
 * ------------------------------------------------------ */

static void map_run(void *state, const struct fb_params *p, struct fb_sample *s)
{
	long n = (long)p->map_items;
	uintptr_t *out = fb_xmalloc((size_t)n * sizeof(*out));
	uint64_t sum = 0;

	fb_region_begin(s);
#pragma omp parallel num_threads(workers_of(state))
	{
		place_member(true);
#pragma omp for schedule(static)
		for (long i = 0; i < n; i++)
			out[i] = fb_map_fn((uintptr_t)i);
	}
	for (long i = 0; i < n; i++)
		sum += out[i];
	fb_region_end(s);
	free(out);
	fb_map_check((size_t)n, sum);
}

/* ---- idle: the team's threads after a region -------------------------------
 */

static void idle_run(void *state, const struct fb_params *p,
		     struct fb_sample *s)
{
	unsigned ran = empty_tasks(workers_of(state), true, FB_WARM_TASKS);

	if (ran != FB_WARM_TASKS)
		fb_fail("%u of %u tasks ran", ran, FB_WARM_TASKS);
	fb_idle_window(p, s);
}

const struct fb_impl OMP_IMPLS[] = {
    {"fib", OMP_IMPL, omp_setup, fib_run, NULL},
    {"nqueens", OMP_IMPL, omp_setup, nqueens_run, NULL},
    {"uts", OMP_IMPL, omp_setup, uts_run, NULL},
    {"skynet", OMP_IMPL, omp_setup, skynet_run, NULL},
    {"matmul", OMP_IMPL, matmul_setup, matmul_run, matmul_teardown},
    {"submit", OMP_IMPL, omp_setup, submit_run, NULL},
    {"chain", OMP_IMPL, omp_setup, chain_run, NULL},
    {"map", OMP_IMPL, omp_setup, map_run, NULL},
    {"idle", OMP_IMPL, omp_setup, idle_run, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
