/* SPDX-License-Identifier: MIT */
/* test_group.c - fork-join groups: fib, nqueens, wide and nested trees,
 * errors, waits from foreign threads, spawns after shutdown. */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <filch.h>

#include "tap.h"

static filch_executor *ex;

/* ---- fib: one spawn and one inline call per level ---- */
struct fib {
	int n;
	long result;
};

static int fib_job(void *arg)
{
	struct fib *f = arg;
	struct fib a = {f->n - 1, 0}, b = {f->n - 2, 0};
	filch_group g;
	int rc;

	if (f->n < 2) {
		f->result = f->n;
		return 0;
	}
	filch_group_init(&g, ex);
	if ((rc = filch_group_spawn(&g, fib_job, &a)) != 0)
		return -rc;
	fib_job(&b);
	if ((rc = filch_group_wait(&g)) != 0)
		return rc;
	f->result = a.result + b.result;
	return 0;
}

static long fib_seq(int n)
{
	return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

/* ---- nqueens: one spawn per safe column ---- */
#define NQ_MAX 12
struct nq {
	int n, row;
	signed char cols[NQ_MAX];
	atomic_long *count;
};

static bool safe(const signed char *cols, int row, int c)
{
	for (int r = 0; r < row; r++)
		if (cols[r] == c || abs(cols[r] - c) == row - r)
			return false;
	return true;
}

static int nq_job(void *arg)
{
	struct nq *q = arg;
	struct nq kids[NQ_MAX];
	filch_group g;
	int nk = 0;

	if (q->row == q->n) {
		atomic_fetch_add(q->count, 1);
		return 0;
	}
	filch_group_init(&g, ex);
	for (int c = 0; c < q->n; c++) {
		if (!safe(q->cols, q->row, c))
			continue;
		kids[nk] = *q;
		kids[nk].cols[q->row] = (signed char)c;
		kids[nk].row = q->row + 1;
		if (filch_group_spawn(&g, nq_job, &kids[nk]) != 0)
			return 1;
		nk++;
	}
	return filch_group_wait(&g);
}

static long nqueens(int n)
{
	atomic_long count = 0;
	struct nq root = {.n = n, .row = 0, .count = &count};
	filch_group g;

	filch_group_init(&g, ex);
	filch_group_spawn(&g, nq_job, &root);
	if (filch_group_wait(&g) != 0)
		return -1;
	return atomic_load(&count);
}

/* ---- a million children of one task ---- */
static atomic_long wide_count;

static int leaf_job(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&wide_count, 1, memory_order_relaxed);
	return 0;
}

static int wide_job(void *arg)
{
	long n = (long)(intptr_t)arg;
	filch_group g;

	filch_group_init(&g, ex);
	for (long i = 0; i < n; i++)
		if (filch_group_spawn(&g, leaf_job, NULL) != 0)
			return 1;
	return filch_group_wait(&g);
}

/* ---- nesting: depth-first chain of groups, each with two children ---- */
static atomic_long nest_count;

static int nest_job(void *arg)
{
	long depth = (long)(intptr_t)arg;
	filch_group g;

	atomic_fetch_add(&nest_count, 1);
	if (depth == 0)
		return 0;
	filch_group_init(&g, ex);
	filch_group_spawn(&g, nest_job, (void *)(intptr_t)(depth - 1));
	filch_group_spawn(&g, nest_job, (void *)(intptr_t)(depth - 1));
	return filch_group_wait(&g);
}

static int fail_job(void *arg)
{
	return (int)(intptr_t)arg;
}

static void run_at(unsigned workers)
{
	struct filch_executor_opts o = {.workers = workers};
	struct fib f = {24, 0};
	filch_group g;

	if (filch_executor_create(&ex, &o) != 0)
		bail_out("executor_create(%u)", workers);
	filch_group_init(&g, ex);
	ok(filch_group_spawn(&g, fib_job, &f) == 0, "%u workers: spawn fib(24)", workers);
	is(filch_group_wait(&g), 0, "%u workers: fib wait", workers);
	is(f.result, fib_seq(24), "%u workers: fib(24)", workers);
	is(nqueens(8), 92, "%u workers: nqueens(8)", workers);
	is(filch_executor_destroy(ex), 0, "%u workers: destroy", workers);
}

int main(void)
{
	filch_group g;
	long nest_expected = (1L << 13) - 1; /* depth 12: 2^13 - 1 jobs */

	tap_plan(0);
	run_at(1);
	run_at(2);
	run_at(3);
	run_at(8);

	filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 2});
	filch_group_init(&g, ex);
	filch_group_spawn(&g, wide_job, (void *)(intptr_t)1000000);
	is(filch_group_wait(&g), 0, "a million children: wait");
	is(atomic_load(&wide_count), 1000000, "a million children all ran");

	filch_group_init(&g, ex);
	filch_group_spawn(&g, nest_job, (void *)(intptr_t)12);
	is(filch_group_wait(&g), 0, "nested groups: wait");
	is(atomic_load(&nest_count), nest_expected, "nested groups: every job ran");

	/* Errors: the first nonzero code, the others still run. */
	filch_group_init(&g, ex);
	filch_group_spawn(&g, fail_job, (void *)(intptr_t)0);
	filch_group_spawn(&g, fail_job, (void *)(intptr_t)7);
	filch_group_spawn(&g, fail_job, (void *)(intptr_t)0);
	is(filch_group_wait(&g), 7, "a failing job's code comes back");
	is(filch_group_wait(&g), 0, "a waited group can be waited again (empty)");

	/* Foreign waits on many jobs, reused after init. */
	atomic_store(&wide_count, 0);
	filch_group_init(&g, ex);
	for (int i = 0; i < 10000; i++)
		filch_group_spawn(&g, leaf_job, NULL);
	is(filch_group_wait(&g), 0, "foreign spawns: wait");
	is(atomic_load(&wide_count), 10000, "foreign spawns all ran");

	/* Bad input. */
	is(filch_group_init(NULL, ex), -EINVAL, "init(NULL)");
	is(filch_group_init(&g, NULL), -EINVAL, "init(g, NULL)");
	is(filch_group_spawn(&g, NULL, NULL), -EINVAL, "spawn(NULL fn)");
	is(filch_group_wait(NULL), -EINVAL, "wait(NULL)");

	/* After shutdown a foreign spawn is refused and nothing runs. */
	filch_shutdown(ex, 0);
	filch_group_init(&g, ex);
	is(filch_group_spawn(&g, leaf_job, NULL), -ESHUTDOWN, "spawn after shutdown");
	is(filch_group_wait(&g), 0, "wait with nothing spawned");
	is(filch_executor_destroy(ex), 0, "destroy");
	return tap_done();
}
