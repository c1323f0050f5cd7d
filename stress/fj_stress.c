/* SPDX-License-Identifier: MIT */
/*
 * fj_stress.c - random fork-join trees through filch/fj.h on random worker
 * counts: every frame runs exactly once, and every sync returns the size
 * of its frame's subtree.
 *
 *   fj_stress [--seconds S] [--seed N]
 *
 * Each round picks a worker count (1..8, more than the cores), a seed and a
 * node budget; 1..3 foreign threads start roots with filch_fj_run until the
 * budget is spent. A node takes an id, marks it run, and spawns 0..5
 * children (from a hash of its id and depth), some run through FILCH_CALL
 * between the spawns, some of its children through a nested filch_fj_run
 * (a root on the worker itself); it returns the size of its subtree. At the
 * end of a round each id must have run once, and the roots' sizes must add
 * up to the ids given out. Exit status 0 on success, 1 on any violation
 * (the seed is printed).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include <filch.h>
#include <filch/fj.h>

#include "stress_args.h"

#define MAX_NODES (1u << 20)

static _Atomic uint8_t ran[MAX_NODES];
static _Atomic uint32_t next_id;
static _Atomic long twice;     /* ids run more than once */
static _Atomic long sizes;     /* the roots' subtree sizes, added up */
static uint32_t budget;
static long nodes;	       /* the rounds' budgets, added up */
static uint64_t round_seed;
static filch_executor *ex;

static void nested_root(filch_fj *fj, void *arg);

/* One node: its subtree's size, or 0 when the budget is spent. */
FILCH_FJ_FN1(long, node, unsigned, depth)
{
	uint32_t id = atomic_fetch_add(&next_id, 1);
	uint64_t h;
	unsigned k, spawned = 0;
	long size = 1;

	if (id >= budget)
		return 0;
	if (atomic_fetch_add(&ran[id], 1) != 0)
		atomic_fetch_add(&twice, 1);
	h = stress_mix(round_seed ^ id);
	k = depth >= 12 ? 0 : (unsigned)(h % 6);
	for (unsigned i = 0; i < k; i++, h >>= 3) {
		if (h % 8 == 0) {
			size += FILCH_CALL(node, depth + 1);
		} else if (h % 8 == 1) {
			long sub = depth + 1;

			if (filch_fj_run(ex, nested_root, &sub) != 0)
				return -1;
			size += sub;
		} else {
			FILCH_SPAWN(node, depth + 1);
			spawned++;
		}
	}
	while (spawned--)
		size += FILCH_SYNC(node);
	return size;
}

/* A root inside a frame: *arg is the depth in, the subtree size out. */
static void nested_root(filch_fj *fj, void *arg)
{
	long *io = arg;

	*io = node(fj, (unsigned)*io);
}

static void root(filch_fj *fj, void *arg)
{
	*(long *)arg = node(fj, 0);
}

static void *foreign_main(void *arg)
{
	(void)arg;
	while (atomic_load(&next_id) < budget) {
		long size = 0;

		if (filch_fj_run(ex, root, &size) != 0)
			break;
		atomic_fetch_add(&sizes, size);
	}
	return NULL;
}

static int one_round(uint64_t seed)
{
	struct filch_executor_opts o = {0};
	unsigned nforeign = 1 + (unsigned)(seed % 3);
	pthread_t th[3];
	uint32_t given;
	long missing = 0;

	round_seed = seed;
	o.workers = 1 + (unsigned)(stress_mix(seed) % 8);
	budget = 1000 + (uint32_t)(stress_mix(seed + 1) % 200000);
	atomic_store(&next_id, 0);
	atomic_store(&twice, 0);
	atomic_store(&sizes, 0);
	for (uint32_t i = 0; i < budget; i++)
		atomic_store_explicit(&ran[i], 0, memory_order_relaxed);
	if (filch_executor_create(&ex, &o) != 0)
		return 1;
	for (unsigned i = 0; i < nforeign; i++)
		pthread_create(&th[i], NULL, foreign_main, NULL);
	for (unsigned i = 0; i < nforeign; i++)
		pthread_join(th[i], NULL);
	filch_executor_destroy(ex);
	given = atomic_load(&next_id) < budget ? atomic_load(&next_id) : budget;
	for (uint32_t i = 0; i < given; i++)
		missing += atomic_load(&ran[i]) == 0;
	if (missing || atomic_load(&twice) || atomic_load(&sizes) != given) {
		printf("fj_stress: %u workers, %u roots' threads: %ld ids never "
		       "ran, %ld ran twice, sizes add up to %ld for %u ids\n",
		       o.workers, nforeign, missing, atomic_load(&twice),
		       atomic_load(&sizes), given);
		return 1;
	}
	nodes += budget;
	return 0;
}

int main(int argc, char **argv)
{
	struct stress_args args;
	long rounds;

	if (stress_parse_args(argc, argv, 5, &args))
		return 2;
	printf("fj_stress: seed %llu, %.0f s\n", (unsigned long long)args.seed,
	       args.seconds);
	fflush(stdout);
	if ((rounds = stress_rounds("fj_stress", &args, one_round)) < 0)
		return 1;
	printf("fj_stress: %ld rounds, up to %ld nodes: ok\n", rounds, nodes);
	return 0;
}
