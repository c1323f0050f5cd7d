/* SPDX-License-Identifier: MIT */
/*
 * mpi_uts_tree.h - the unbalanced tree of docs/examples/mpi_uts.c and of
 * bench/mpi-bench: a binomial UTS-style tree, each node's children decided
 * by a hash of its id, so that any rank can expand any node alone. Not
 * part of filch.
 */
#ifndef FILCH_EXAMPLE_MPI_UTS_TREE_H
#define FILCH_EXAMPLE_MPI_UTS_TREE_H

#include <stdint.h>
#include <stdlib.h>

struct uts_tree {
	unsigned root_children; /* b0 */
	unsigned m;		/* children of an inner node */
	unsigned q_permille;	/* chance, per mille, that a node is inner */
};

static inline uint64_t uts_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline unsigned uts_children(const struct uts_tree *t, uint64_t id,
				    unsigned depth)
{
	if (depth == 0)
		return t->root_children;
	return uts_mix(id) % 1000 < t->q_permille ? t->m : 0;
}

static inline uint64_t uts_child(uint64_t id, unsigned i)
{
	return uts_mix(id * 31 + i + 1);
}

/* Nodes of the subtree under (id, depth), itself included. */
static inline uint64_t uts_count(const struct uts_tree *t, uint64_t id,
				 unsigned depth)
{
	unsigned n = uts_children(t, id, depth);
	uint64_t c = 1;

	for (unsigned i = 0; i < n; i++)
		c += uts_count(t, uts_child(id, i), depth + 1);
	return c;
}

#endif /* FILCH_EXAMPLE_MPI_UTS_TREE_H */
