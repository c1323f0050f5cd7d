/* SPDX-License-Identifier: MIT */
/*
 * sched_stress.c - random spawn trees on random worker counts: every task
 * runs exactly once, every group returns its first error, every executor
 * drains and exits.
 *
 *   sched_stress [--seconds S] [--seed N]
 *
 * Each round picks a worker count (1..8, more than the cores), a seed and
 * a tree budget; foreign threads (1..3) grow random trees of nested groups
 * (fanout and depth from a hash of the node id), some through groups spawned
 * from the foreign thread, some as raw tasks submitted to the injector;
 * some rounds shut the executor down (graceful or cancelling) while trees
 * still grow. Every node has an id; ran[id] must end at exactly 1, or at 0
 * only for a node whose spawn was refused or discarded (counted).
 * Exit status 0 on success, 1 on any violation (the seed is printed).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <filch.h>

#include "runtime/futex.h"
#include "runtime/sched.h"
#include "stress_args.h"

#define MAX_NODES (1u << 20)
#define FAIL_CODE 77

static _Atomic uint8_t ran[MAX_NODES];
static _Atomic uint32_t next_id;
static _Atomic long refused;	  /* spawns refused (-ESHUTDOWN, -ENOMEM) */
static _Atomic long discarded;	  /* raw tasks given FILCH__RUN_DISCARD */
static _Atomic long group_errors; /* wrong codes out of filch_group_wait */
static uint32_t budget;
static uint64_t round_seed;
static filch_executor *ex;

static uint64_t mix(uint64_t x)
{
	/* splitmix64 finalizer */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

struct node {
	uint32_t id;
	unsigned depth;
};

static int node_job(void *arg);

/* After its group's wait: a child that did not run was discarded by a
 * cancelling shutdown (its job got run(t, FILCH__RUN_DISCARD)). */
static void account_discarded(uint32_t id)
{
	uint8_t zero = 0;

	if (atomic_compare_exchange_strong(&ran[id], &zero, 1))
		atomic_fetch_add(&discarded, 1);
}

/* Grows the children of n in a group of its own; returns the job code. */
static int grow(struct node *n)
{
	uint64_t h = mix(round_seed ^ n->id);
	unsigned fanout = n->depth >= 12 ? 0 : (unsigned)(h % 5);
	struct node kids[4] = {{budget, 0}, {budget, 0}, {budget, 0}, {budget, 0}};
	filch_group g;
	int rc;

	if (fanout == 0)
		return (h >> 40) % 97 == 0 ? FAIL_CODE : 0;
	filch_group_init(&g, ex);
	for (unsigned i = 0; i < fanout; i++) {
		uint32_t id = atomic_fetch_add(&next_id, 1);

		if (id >= budget)
			break; /* ids past the budget are never used */
		kids[i] = (struct node){id, n->depth + 1};
		if ((rc = filch_group_spawn(&g, node_job, &kids[i])) != 0) {
			atomic_fetch_add(&refused, 1);
			atomic_store(&ran[id], 1); /* accounted as not run */
		}
	}
	rc = filch_group_wait(&g);
	if (rc != 0 && rc != FAIL_CODE && rc != ECANCELED)
		atomic_fetch_add(&group_errors, 1);
	for (unsigned i = 0; i < fanout && kids[i].id < budget; i++)
		account_discarded(kids[i].id);
	return rc;
}

static int node_job(void *arg)
{
	struct node *n = arg;

	if (atomic_fetch_add(&ran[n->id], 1) != 0) {
		fprintf(stderr, "sched_stress: node %u ran twice\n", n->id);
		abort();
	}
	return grow(n);
}

/* Raw tasks through filch__sched_submit, with their own exact-once flag. */
struct raw {
	struct filch__task task;
	uint32_t id;
};

static void raw_run(struct filch__task *t, unsigned how)
{
	struct raw *r = (struct raw *)t;

	if (how & FILCH__RUN_DISCARD) {
		atomic_fetch_add(&discarded, 1);
		atomic_store(&ran[r->id], 1);
	} else if (atomic_fetch_add(&ran[r->id], 1) != 0) {
		fprintf(stderr, "sched_stress: raw task %u ran twice\n", r->id);
		abort();
	}
	free(r);
}

static void *foreign_main(void *arg)
{
	uint64_t s = mix((uintptr_t)arg ^ round_seed);

	while (atomic_load(&next_id) < budget) {
		uint32_t id = atomic_fetch_add(&next_id, 1);

		if (id >= budget)
			break;
		s = mix(s);
		if (s % 3 == 0) {
			struct raw *r = malloc(sizeof(*r));

			r->task.run = raw_run;
			r->id = id;
			if (filch__sched_submit(ex, &r->task) != 0) {
				atomic_fetch_add(&refused, 1);
				atomic_store(&ran[id], 1);
				free(r);
				break; /* shut down */
			}
		} else {
			struct node root = {id, (unsigned)(s % 4)};
			filch_group g;

			filch_group_init(&g, ex);
			if (filch_group_spawn(&g, node_job, &root) != 0) {
				atomic_fetch_add(&refused, 1);
				atomic_store(&ran[id], 1);
				break; /* shut down */
			}
			int rc = filch_group_wait(&g);
			if (rc != 0 && rc != FAIL_CODE && rc != ECANCELED)
				atomic_fetch_add(&group_errors, 1);
			account_discarded(id);
		}
	}
	return NULL;
}

static int one_round(uint64_t seed)
{
	unsigned workers = 1 + (unsigned)(mix(seed) % 8);
	unsigned nforeign = 1 + (unsigned)(mix(seed + 1) % 3);
	unsigned shutdown_mode = (unsigned)(mix(seed + 2) % 4); /* 0,1: none */
	pthread_t th[3];
	int bad = 0;

	round_seed = seed;
	budget = 1000 + (uint32_t)(mix(seed + 3) % 60000);
	atomic_store(&next_id, 0);
	memset((void *)ran, 0, budget);
	if (filch_executor_create(&ex, &(struct filch_executor_opts){.workers = workers}) != 0) {
		fprintf(stderr, "sched_stress: executor_create failed\n");
		return 1;
	}
	for (unsigned i = 0; i < nforeign; i++)
		pthread_create(&th[i], NULL, foreign_main, (void *)(uintptr_t)(i + 1));
	if (shutdown_mode >= 2) {
		usleep((useconds_t)(mix(seed + 4) % 3000));
		filch_shutdown(ex, shutdown_mode == 3 ? FILCH_SHUTDOWN_CANCEL_PENDING : 0);
	}
	for (unsigned i = 0; i < nforeign; i++)
		pthread_join(th[i], NULL);
	filch_executor_destroy(ex);

	uint32_t n = atomic_load(&next_id);
	if (n > budget)
		n = budget;
	for (uint32_t id = 0; id < n; id++)
		if (atomic_load(&ran[id]) != 1) {
			fprintf(stderr, "sched_stress: seed %llu: node %u ran %u times\n",
				(unsigned long long)seed, id, atomic_load(&ran[id]));
			bad = 1;
			break;
		}
	if (atomic_load(&group_errors)) {
		fprintf(stderr, "sched_stress: seed %llu: a group returned a wrong code\n",
			(unsigned long long)seed);
		bad = 1;
	}
	return bad;
}

int main(int argc, char **argv)
{
	struct stress_args args;
	long rounds = 0, nodes = 0;
	int64_t end;

	if (stress_parse_args(argc, argv, 5, &args))
		return 2;
	double seconds = args.seconds;
	uint64_t seed = args.seed;
	printf("sched_stress: seed %llu, %.0f s\n", (unsigned long long)seed, seconds);
	fflush(stdout);
	end = filch__now_ns() + (int64_t)(seconds * 1e9);
	do {
		uint64_t s = mix(seed + (uint64_t)rounds);

		if (one_round(s) != 0) {
			printf("sched_stress: FAILED in round %ld (round seed %llu); "
			       "rerun with --seed %llu\n", rounds, (unsigned long long)s,
			       (unsigned long long)seed);
			return 1;
		}
		nodes += atomic_load(&next_id) < budget ? atomic_load(&next_id) : budget;
		rounds++;
	} while (filch__now_ns() < end);
	printf("sched_stress: %ld rounds, %ld tasks, %ld refused (shut down), "
	       "%ld discarded: every task ran exactly once\n",
	       rounds, nodes, atomic_load(&refused), atomic_load(&discarded));
	return 0;
}
