/* SPDX-License-Identifier: MIT */
/*
 * trace_uts.c - a timeline trace of an unbalanced tree search: each node
 * of a random tree (a node has 0 to 7 children, fewer the deeper it is; about 1200 nodes)
 * does about 20 us of work and spawns its children in a group; two
 * workers share the tree by stealing. The trace goes to the file named
 * by the first argument (default: trace_uts.json in $TMPDIR or /tmp);
 * scripts/filch-trace turns it into the picture of docs/observability.md:
 *
 *   ./trace_uts uts.json && filch-trace uts.json -o uts.svg
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <filch.h>

struct node {
	filch_executor *ex;
	uint64_t id;
	unsigned depth;
	_Atomic unsigned *count;
};

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finalizer: a node's children follow from its id. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void work_20us(void)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec <
	       20000);
}

/* Not static: dladdr names exported functions only (-export-dynamic). */
int visit(void *arg);
int visit(void *arg)
{
	struct node *n = arg;
	uint64_t h = mix(n->id);
	unsigned kids = n->depth < 12 ? (unsigned)(h % 8) >> (n->depth / 3) : 0;
	struct node child[8];
	filch_group g;

	work_20us();
	atomic_fetch_add(n->count, 1);
	filch_group_init(&g, n->ex);
	for (unsigned i = 0; i < kids; i++) {
		child[i] = (struct node){n->ex, mix(h + i + 1), n->depth + 1,
					 n->count};
		filch_group_spawn(&g, visit, &child[i]);
	}
	return filch_group_wait(&g);
}

int root(void *arg, void **result);
int root(void *arg, void **result)
{
	(void)result;
	return visit(arg);
}

int main(int argc, char **argv)
{
	struct filch_executor_opts o = {.workers = 2};
	struct filch_trace_opts to = {.events = 1 << 16};
	const char *tmp = getenv("TMPDIR");
	char path[512];
	_Atomic unsigned count = 0;
	filch_executor *ex;
	filch_future *f;
	int rc;

	if (argc > 1)
		snprintf(path, sizeof(path), "%s", argv[1]);
	else
		snprintf(path, sizeof(path), "%s/trace_uts.json",
			 tmp ? tmp : "/tmp");
	if (filch_executor_create(&ex, &o) != 0)
		return 1;
	struct node top = {ex, 5, 0, &count};
	if ((rc = filch_trace_start(ex, &to)) != 0 ||
	    (rc = filch_submit(ex, root, &top, &f)) != 0) {
		fprintf(stderr, "trace_uts: %s\n", filch_strerror(rc));
		return 1;
	}
	rc = filch_future_result(f, FILCH_FOREVER, NULL);
	filch_future_release(f);
	int stop = filch_trace_stop(ex, path);
	filch_executor_destroy(ex);
	printf("%u nodes, trace in %s\n", count, path);
	return rc == 0 && stop == 0 && count > 100 ? 0 : 1;
}
