/* SPDX-License-Identifier: MIT */
/* workloads.c - sequential versions and answer checks of the suite's problems.
 */
#include "config.h"

#include "workloads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fb.h"

/* ---- fib ---------------------------------------------------------------- */

__attribute__((noinline)) long fb_fib_seq(unsigned n)
{
	long a, b;

	if (n < 2)
		return (long)n;
	a = fb_fib_seq(n - 1);
	b = fb_fib_seq(n - 2);
	/* An opaque use of the second result: without it the compiler turns
	 * the second call into a loop with an accumulator. */
	__asm__ volatile("" : "+r"(b));
	return a + b;
}

static long fib_iterative(unsigned n)
{
	long a = 0, b = 1;

	for (unsigned i = 0; i < n; i++) {
		long t = a + b;

		a = b;
		b = t;
	}
	return a;
}

double fb_fib_spawns(unsigned n)
{
	/* fib's call tree has fib(n+1) leaves and fib(n+1) - 1 inner calls. */
	return (double)(fib_iterative(n + 1) - 1);
}

void fb_fib_check(unsigned n, long got)
{
	if (got != fib_iterative(n))
		fb_fail("fib(%u) = %ld, expected %ld", n, got,
			fib_iterative(n));
}

/* ---- nqueens ------------------------------------------------------------ */

long fb_nqueens_seq(const struct fb_queens *q, unsigned n)
{
	uint32_t free_cols;
	long count = 0;

	if (q->row == n)
		return 1;
	free_cols = fb_queens_free(q, n);
	while (free_cols) {
		uint32_t b = free_cols & -free_cols;
		struct fb_queens child = fb_queens_place(q, b);

		free_cols &= free_cols - 1;
		count += fb_nqueens_seq(&child, n);
	}
	return count;
}

void fb_nqueens_check(unsigned n, long solutions)
{
	/* OEIS A000170. */
	static const long known[] = {
	    1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596};

	if (n >= sizeof(known) / sizeof(known[0]))
		fb_fail("nqueens: no known answer for n = %u", n);
	if (solutions != known[n])
		fb_fail("nqueens(%u) = %ld solutions, expected %ld", n,
			solutions, known[n]);
}

/* ---- uts ----------------------------------------------------------------- */

/* Node counts measured once with fb_uts_seq and fixed here: a change of the
 * hash or of a shape shows as a failed check. */
static const struct fb_uts_tree full_forest[FB_UTS_TREES] = {
    {.shape = FB_UTS_GEOMETRIC,
     .root = 16,
     .b0 = 4.0,
     .depth = 10,
     .nodes = 1812483},
    {.shape = FB_UTS_BINOMIAL,
     .root = 6,
     .b0 = 2000,
     .q = 0.124875,
     .m = 8,
     .nodes = 2029137},
};
static const struct fb_uts_tree quick_forest[FB_UTS_TREES] = {
    {.shape = FB_UTS_GEOMETRIC,
     .root = 7,
     .b0 = 4.0,
     .depth = 10,
     .nodes = 284586},
    {.shape = FB_UTS_BINOMIAL,
     .root = 14,
     .b0 = 2000,
     .q = 0.124875,
     .m = 8,
     .nodes = 583457},
};

const struct fb_uts_tree *fb_uts_forest(const struct fb_params *p)
{
	return p->quick ? quick_forest : full_forest;
}

/* A uniform number in (0, 1) from a node's hash. */
static double unit(uint64_t node)
{
	return ((double)(fb_mix64(node ^ 0xd1b54a32d192ed03ULL) >> 11) + 0.5) *
	       0x1p-53;
}

unsigned fb_uts_children(const struct fb_uts_tree *t, uint64_t node,
			 unsigned depth)
{
	switch (t->shape) {
	case FB_UTS_GEOMETRIC: {
		/* Geometric on {0, 1, ...} with mean b0: P(k) = p (1-p)^k. */
		double p = 1.0 / (1.0 + t->b0);

		if (depth >= t->depth)
			return 0;
		return (unsigned)floor(log(unit(node)) / log(1.0 - p));
	}
	case FB_UTS_BINOMIAL:
		if (depth == 0)
			return (unsigned)t->b0;
		return unit(node) < t->q ? t->m : 0;
	}
	return 0;
}

size_t fb_uts_seq(const struct fb_uts_tree *t, uint64_t node, unsigned depth)
{
	unsigned k = fb_uts_children(t, node, depth);
	size_t nodes = 1;

	for (unsigned i = 0; i < k; i++)
		nodes += fb_uts_seq(t, fb_uts_child(node, i), depth + 1);
	return nodes;
}

size_t fb_uts_total_nodes(const struct fb_params *p)
{
	const struct fb_uts_tree *forest = fb_uts_forest(p);
	size_t total = 0;

	for (int i = 0; i < FB_UTS_TREES; i++)
		total += forest[i].nodes;
	return total;
}

void fb_uts_check(const struct fb_uts_tree *t, size_t got)
{
	if (got != t->nodes)
		fb_fail("uts %s tree: %zu nodes, expected %zu",
			t->shape == FB_UTS_GEOMETRIC ? "geometric" : "binomial",
			got, t->nodes);
}

/* ---- skynet ---------------------------------------------------------------
 */

long long fb_skynet_seq(long long num, long long size)
{
	long long sum = 0;

	if (size == 1)
		return num;
	for (int i = 0; i < 10; i++)
		sum += fb_skynet_seq(num + i * (size / 10), size / 10);
	return sum;
}

double fb_skynet_tasks(unsigned leaves)
{
	double tasks = 0;

	for (unsigned level = leaves; level >= 1; level /= 10)
		tasks += level;
	return tasks;
}

void fb_skynet_check(unsigned leaves, long long sum)
{
	long long want = (long long)leaves * (leaves - 1) / 2;

	if (sum != want)
		fb_fail("skynet(%u) = %lld, expected %lld", leaves, sum, want);
}

/* ---- matmul ---------------------------------------------------------------
 */

void fb_matmul_init(struct fb_matmul *m, unsigned n)
{
	size_t nn = (size_t)n * n;

	m->n = n;
	m->a = fb_xmalloc(nn * sizeof(double));
	m->b = fb_xmalloc(nn * sizeof(double));
	m->c = fb_xcalloc(nn, sizeof(double));
	for (size_t i = 0; i < nn; i++) {
		m->a[i] = (double)(int)(fb_mix64(i) % 5) - 2;
		m->b[i] = (double)(int)(fb_mix64(i + nn) % 5) - 2;
	}
}

void fb_matmul_free(struct fb_matmul *m)
{
	free(m->a);
	free(m->b);
	free(m->c);
}

void fb_matmul_reset(struct fb_matmul *m)
{
	memset(m->c, 0, (size_t)m->n * m->n * sizeof(double));
}

struct fb_mm_job fb_matmul_root(struct fb_matmul *m)
{
	struct fb_mm_job j = {m->c, m->a, m->b, m->n, m->n};

	return j;
}

void fb_mm_split(const struct fb_mm_job *j, int phase, struct fb_mm_job out[4])
{
	unsigned h = j->n / 2, s = j->stride;
	size_t row = (size_t)h * s;

	/* Phase 0: C_rc += A_r0 B_0c; phase 1: C_rc += A_r1 B_1c. */
	for (int r = 0; r < 2; r++) {
		for (int c = 0; c < 2; c++) {
			struct fb_mm_job *o = &out[2 * r + c];

			o->c = j->c + r * row + c * h;
			o->a = j->a + r * row + phase * h;
			o->b = j->b + phase * row + c * h;
			o->n = h;
			o->stride = s;
		}
	}
}

/* c[0..FB_MM_LEAF) += a * b[0..FB_MM_LEAF): restrict parameters and a
 * constant trip count, which gcc -O2 vectorizes as clang does. */
static void leaf_axpy(double *restrict c, const double *restrict b, double a)
{
	for (unsigned x = 0; x < FB_MM_LEAF; x++)
		c[x] += a * b[x];
}

void fb_mm_kernel(const struct fb_mm_job *j)
{
	size_t s = j->stride;

	if (j->n != FB_MM_LEAF)
		fb_fail("matmul leaf of %u, expected %d", j->n, FB_MM_LEAF);
	for (unsigned i = 0; i < FB_MM_LEAF; i++)
		for (unsigned k = 0; k < FB_MM_LEAF; k++)
			leaf_axpy(j->c + i * s, j->b + k * s, j->a[i * s + k]);
}

void fb_matmul_seq(const struct fb_mm_job *j, unsigned cutoff)
{
	struct fb_mm_job sub[4];

	if (j->n <= cutoff) {
		fb_mm_kernel(j);
		return;
	}
	for (int phase = 0; phase < 2; phase++) {
		fb_mm_split(j, phase, sub);
		for (int i = 0; i < 4; i++)
			fb_matmul_seq(&sub[i], cutoff);
	}
}

void fb_matmul_check(const struct fb_matmul *m)
{
	unsigned n = m->n;
	double *x = fb_xmalloc(n * sizeof(double));
	double *bx = fb_xmalloc(n * sizeof(double));

	for (unsigned i = 0; i < n; i++)
		x[i] = (double)(int)(fb_mix64(i + 7) % 7) - 3;
	for (unsigned i = 0; i < n; i++) {
		double s = 0;

		for (unsigned k = 0; k < n; k++)
			s += m->b[(size_t)i * n + k] * x[k];
		bx[i] = s;
	}
	for (unsigned i = 0; i < n; i++) {
		double abx = 0, cx = 0;

		for (unsigned k = 0; k < n; k++) {
			abx += m->a[(size_t)i * n + k] * bx[k];
			cx += m->c[(size_t)i * n + k] * x[k];
		}
		if (abx != cx) {
			free(x);
			free(bx);
			fb_fail("matmul: row %u of C x is %g, A (B x) gives %g",
				i, cx, abx);
		}
	}
	free(x);
	free(bx);
}

double fb_matmul_flops(unsigned n) { return 2.0 * n * n * n; }

/* ---- tiny tasks ------------------------------------------------------------
 */

void fb_spin(unsigned iters)
{
	for (unsigned i = 0; i < iters; i++)
		__asm__ volatile("" ::: "memory");
}

unsigned fb_tiny_length(unsigned i) { return (unsigned)(fb_mix64(i) % 16) * 16; }

void fb_map_check(size_t n, uint64_t sum)
{
	/* sum of 2i + 1 over 0..n-1 = n^2 */
	if (sum != (uint64_t)n * n)
		fb_fail("map over %zu items summed to %llu, expected %llu", n,
			(unsigned long long)sum, (unsigned long long)n * n);
}
