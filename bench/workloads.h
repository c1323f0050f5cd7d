/* SPDX-License-Identifier: MIT */
/*
 * workloads.h - the problems of the suite, shared by every implementation:
 * their sequential C versions (the floor), the pieces parallel versions
 * split them into, and the checks of their answers (each check calls
 * fb_fail on a wrong answer).
 *
 * Compiles as C11 and as C++ (peer_tbb.cpp), with gcc and clang.
 */
#ifndef FB_WORKLOADS_H
#define FB_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- fib: one task per call, no cutoff -------------------------------- */

/* fib(n) with both recursive calls real (not inlined, not turned into a
 * loop): the floor a task runtime is measured against. */
long fb_fib_seq(unsigned n);
/* Calls with n >= 2: each spawns one child (and calls the other). */
double fb_fib_spawns(unsigned n);
void fb_fib_check(unsigned n, long got);

/* ---- nqueens: one task per legal column ------------------------------- */

/* A partial board: occupied columns and diagonals of the next row. */
struct fb_queens {
	uint32_t cols, diag_l, diag_r;
	unsigned row;
};

/* Columns still free in the next row, as a bit mask. */
static inline uint32_t fb_queens_free(const struct fb_queens *q, unsigned n)
{
	return ~(q->cols | q->diag_l | q->diag_r) & ((1u << n) - 1);
}

/* The board after a queen on column bit b (one bit of fb_queens_free). */
static inline struct fb_queens fb_queens_place(const struct fb_queens *q,
					       uint32_t b)
{
	struct fb_queens r;

	r.cols = q->cols | b;
	r.diag_l = (q->diag_l | b) << 1;
	r.diag_r = (q->diag_r | b) >> 1;
	r.row = q->row + 1;
	return r;
}

long fb_nqueens_seq(const struct fb_queens *q, unsigned n);
void fb_nqueens_check(unsigned n, long solutions);

/* ---- uts: unbalanced tree search -------------------------------------- */

enum fb_uts_shape { FB_UTS_GEOMETRIC, FB_UTS_BINOMIAL };

/* A tree is defined by its root's hash and its shape: each node's children
 * follow from its own hash alone (splittable), so any traversal order gives
 * the same tree. */
struct fb_uts_tree {
	enum fb_uts_shape shape;
	uint64_t root;
	double b0;	/* geometric: mean children; binomial: root's */
	unsigned depth; /* geometric: no children at this depth */
	double q;	/* binomial: P(a node has m children) */
	unsigned m;
	size_t nodes; /* the size of this tree (checked) */
};

#define FB_UTS_TREES 2
struct fb_params;
/* The trees of a run: a geometric and a binomial one (~3.8M nodes; --quick
 * ~0.9M). */
const struct fb_uts_tree *fb_uts_forest(const struct fb_params *p);

/* SplitMix64's output function (Steele, Lea and Flood, OOPSLA 2014). */
static inline uint64_t fb_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The hash of child i of node. Inline, so that every implementation's
 * node function computes it in place, as the sequential one always did;
 * fb_uts_children, the node's work, stays one call for all of them. */
static inline uint64_t fb_uts_child(uint64_t node, unsigned i)
{
	return fb_mix64(node + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL);
}
unsigned fb_uts_children(const struct fb_uts_tree *t, uint64_t node,
			 unsigned depth);
/* Nodes of the subtree rooted at node. */
size_t fb_uts_seq(const struct fb_uts_tree *t, uint64_t node, unsigned depth);
/* The nodes of every tree of the forest. */
size_t fb_uts_total_nodes(const struct fb_params *p);
void fb_uts_check(const struct fb_uts_tree *t, size_t got);

/* ---- skynet: 10-way spawn down to `leaves` leaves --------------------- */

long long fb_skynet_seq(long long num, long long size);
/* Every node of the tree: 1 + 10 + ... + leaves. */
double fb_skynet_tasks(unsigned leaves);
void fb_skynet_check(unsigned leaves, long long sum);

/* ---- matmul: C += A * B, recursive on quadrants ----------------------- */

/* A product of n x n blocks of row-major matrices with row stride. */
struct fb_mm_job {
	double *c;
	const double *a, *b;
	unsigned n, stride;
};

struct fb_matmul {
	unsigned n;
	double *a, *b, *c;
};

/* A and B with small integers (so that the check is exact), C zero. */
void fb_matmul_init(struct fb_matmul *m, unsigned n);
void fb_matmul_free(struct fb_matmul *m);
/* Zeroes C before a run. */
void fb_matmul_reset(struct fb_matmul *m);
/* The whole product as one job. */
struct fb_mm_job fb_matmul_root(struct fb_matmul *m);
/* The four independent quadrant products of phase 0 or 1 of j: the two
 * phases must run one after the other (both write every quadrant of C). */
void fb_mm_split(const struct fb_mm_job *j, int phase, struct fb_mm_job out[4]);
/* The leaf size: the recursion stops at FB_MM_LEAF x FB_MM_LEAF blocks,
 * whose loops have a constant trip count so that gcc and clang vectorize
 * them alike. */
#define FB_MM_LEAF 64
/* The leaf product (j->n == FB_MM_LEAF). */
void fb_mm_kernel(const struct fb_mm_job *j);
void fb_matmul_seq(const struct fb_mm_job *j, unsigned cutoff);
/* Freivalds' check: C x == A (B x) exactly for an integer vector x. */
void fb_matmul_check(const struct fb_matmul *m);
double fb_matmul_flops(unsigned n);

/* ---- tiny tasks -------------------------------------------------------- */

/* Spins for about `iters` short steps (never optimized away). */
void fb_spin(unsigned iters);
/* The varied tiny length of task i of the as_completed bench. */
unsigned fb_tiny_length(unsigned i);
/* The trivial function mapped by the map bench, and the sum of its results
 * over 0..n-1. */
static inline uintptr_t fb_map_fn(uintptr_t x) { return 2 * x + 1; }
void fb_map_check(size_t n, uint64_t sum);

#ifdef __cplusplus
}
#endif

#endif /* FB_WORKLOADS_H */
