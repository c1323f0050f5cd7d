/* SPDX-License-Identifier: MIT */
/*
 * deque_stress.c - one owner pushing and popping at random against T
 * thieves, with every item accounted for exactly once.
 *
 *   deque_stress --seconds S --thieves T [--items N] [--seed X]
 *                [--max-log2 K]
 *
 * The run is a series of rounds of N items each, until S seconds have
 * passed (at least one round). Each round starts from a new deque of
 * capacity 2, so it grows again, up to 2^K slots (default K = 8: small
 * buffers wrap around often, which is where the slot-reuse bugs live).
 * The owner walks the fill level between empty (the last-item race) and
 * full (wrapping, growth) at random; thieves steal flat out.
 *
 * Accounting: a mark per item (incremented once per delivery: a second
 * increment is a duplicate, a zero at the end a loss), a value outside
 * 1..N is corrupt, and the sum of delivered ids must equal N(N+1)/2.
 * Prints one summary line; exit status 0 when every round was exact, 1 on
 * any loss, duplicate or corruption, 2 on bad usage or setup failure.
 *
 * Built also as deque_stress_m1..m3 with -DFILCH_DEQUE_MUTANT=n (see
 * deque.h), to show how often this test catches each known bug.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <urcu.h>

#include "runtime/atomic.h"
#include "runtime/deque.h"
#include "tap.h" /* tap_now_ns */

struct config {
	double seconds;
	unsigned thieves;
	uint64_t items;
	uint64_t seed;
	unsigned max_log2;
};

/* Totals over all rounds. */
struct totals {
	uint64_t rounds, items, pops, steals, retries, growths;
	uint64_t lost, duplicated, corrupt, checksum_errors;
};

/* One round's shared state. */
static _Alignas(FILCH_CACHELINE) struct filch__deque dq;
static _Atomic uint8_t *mark; /* mark[id], id 1..items */
static uint64_t round_items;
static _Atomic uint64_t dup_count, corrupt_count;
static _Atomic int owner_done; /* 1: no more pushes or pops this round */
static pthread_barrier_t start_line;

struct thief {
	pthread_t thread;
	uint64_t rng;
	uint64_t steals, retries, sum; /* private until joined */
};

/* xorshift64*: per-thread, seeded, replayable. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Records one delivery of x; returns its id (0 when corrupt). */
static uint64_t deliver(void *x)
{
	uint64_t id = (uintptr_t)x;

	if (id < 1 || id > round_items) {
		filch__add(&corrupt_count, 1, relaxed);
		return 0;
	}
	if (filch__add(&mark[id], 1, relaxed) != 0)
		filch__add(&dup_count, 1, relaxed);
	return id;
}

static void *thief_main(void *arg)
{
	struct thief *th = arg;
	void *x;

	rcu_register_thread();
	pthread_barrier_wait(&start_line);
	for (;;) {
		enum filch__steal s = filch__deque_steal(&dq, &x);

		if (s == FILCH__STEAL_OK) {
			th->sum += deliver(x);
			th->steals++;
		} else if (s == FILCH__STEAL_RETRY) {
			th->retries++;
		} else if (filch__load(&owner_done, acquire)) {
			/* Acquire: pairs with the owner's release in
			 * run_round; after it the deque stays empty. */
			break;
		}
		/* Vary the thieves' phase against the owner. */
		if ((rng_next(&th->rng) & 7) == 0)
			for (int k = rng_next(&th->rng) & 31; k > 0; k--)
				filch__cpu_relax();
	}
	rcu_unregister_thread();
	return NULL;
}

/* The owner's next fill target: empty, a few, anywhere, full, past full. */
static int64_t pick_target(uint64_t *rng, int64_t capacity, int64_t max_cap)
{
	unsigned r = rng_next(rng) % 100;

	if (r < 25)
		return (int64_t)(rng_next(rng) % 3); /* last-item races */
	if (r < 65)
		return capacity - 1; /* near full: slots wrap around */
	if (r < 75 && capacity < max_cap)
		return capacity + 1; /* grow */
	return (int64_t)(rng_next(rng) % (uint64_t)capacity);
}

/* The owner's two ways to take: pop (the newest), or, one time in four,
 * take_oldest (the thieves' end, racing them with a CAS alone). */
static void *owner_take(uint64_t *rng)
{
	if ((rng_next(rng) & 3) == 0)
		return filch__deque_take_oldest(&dq);
	return filch__deque_pop(&dq);
}

static int run_round(const struct config *cfg, uint64_t *rng,
		     struct totals *tot)
{
	struct thief *th = calloc(cfg->thieves, sizeof(*th));
	uint64_t next = 1, pops = 0, sum = 0, want, i;
	int64_t target = 0, max_cap = INT64_C(1) << cfg->max_log2;
	unsigned k;
	void *x;

	if (!th || filch__deque_init(&dq, 1) != 0) {
		free(th);
		return -ENOMEM;
	}
	memset((void *)mark, 0, (cfg->items + 1) * sizeof(*mark));
	round_items = cfg->items;
	filch__store(&owner_done, 0, relaxed);
	for (k = 0; k < cfg->thieves; k++) {
		th[k].rng = rng_next(rng) | 1;
		if (pthread_create(&th[k].thread, NULL, thief_main, &th[k])) {
			fprintf(stderr, "deque_stress: pthread_create failed\n");
			exit(2);
		}
	}
	pthread_barrier_wait(&start_line);

	for (i = 0; next <= cfg->items; i++) {
		int64_t size = (int64_t)filch__deque_size_hint(&dq);
		int64_t capacity = filch__load(&dq.buf, relaxed)->mask + 1;
		bool push;

		if (i % 64 == 0)
			target = pick_target(rng, capacity, max_cap);
		/* Toward the target, with one step in eight the other way. */
		push = (size < target) != ((rng_next(rng) & 7) == 0);
		if (size >= capacity - 1 && target < capacity)
			push = false; /* grow only when aiming past full */
		if (push) {
			if (filch__deque_push(&dq, (void *)(uintptr_t)next) != 0) {
				fprintf(stderr, "deque_stress: push failed\n");
				exit(2);
			}
			next++;
		} else if ((x = owner_take(rng))) {
			sum += deliver(x);
			pops++;
		}
	}
	while ((x = filch__deque_pop(&dq))) {
		sum += deliver(x);
		pops++;
	}
	/* Release: every pop of this round before the thieves stop. */
	filch__store(&owner_done, 1, release);
	for (k = 0; k < cfg->thieves; k++) {
		pthread_join(th[k].thread, NULL);
		sum += th[k].sum;
		tot->steals += th[k].steals;
		tot->retries += th[k].retries;
	}
	for (i = 1; i <= cfg->items; i++)
		tot->lost += filch__load(&mark[i], relaxed) == 0;
	want = cfg->items * (cfg->items + 1) / 2;
	tot->checksum_errors += sum != want;
	tot->duplicated += filch__xchg(&dup_count, 0, relaxed);
	tot->corrupt += filch__xchg(&corrupt_count, 0, relaxed);
	tot->pops += pops;
	tot->items += cfg->items;
	tot->growths += dq.growths;
	tot->rounds++;
	filch__deque_destroy(&dq);
	free(th);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: deque_stress --seconds S --thieves T [--items N] "
		"[--seed X] [--max-log2 K]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct config *cfg)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!val)
			usage();
		errno = 0;
		if (!strcmp(opt, "--seconds"))
			cfg->seconds = strtod(val, &end);
		else if (!strcmp(opt, "--thieves"))
			cfg->thieves = (unsigned)strtoul(val, &end, 0);
		else if (!strcmp(opt, "--items"))
			cfg->items = strtoull(val, &end, 0);
		else if (!strcmp(opt, "--seed"))
			cfg->seed = strtoull(val, &end, 0);
		else if (!strcmp(opt, "--max-log2"))
			cfg->max_log2 = (unsigned)strtoul(val, &end, 0);
		else
			usage();
		if (errno || *end)
			usage();
		i++;
	}
	if (cfg->seconds < 0 || cfg->thieves < 1 || cfg->thieves > 256 ||
	    cfg->items < 1 || cfg->items > (UINT64_C(1) << 32) ||
	    cfg->max_log2 < 1 || cfg->max_log2 > 24)
		usage();
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.seconds = 10, .thieves = 2, .items = 1000000,
		.seed = 0, .max_log2 = 8,
	};
	struct totals tot = { 0 };
	uint64_t rng;
	int64_t start, deadline;
	bool pass;

	parse(argc, argv, &cfg);
	if (!cfg.seed)
		cfg.seed = (uint64_t)tap_now_ns() ^ (uint64_t)getpid();
	rng = cfg.seed | 1;
	mark = calloc(cfg.items + 1, sizeof(*mark));
	if (!mark || pthread_barrier_init(&start_line, NULL, cfg.thieves + 1)) {
		fprintf(stderr, "deque_stress: out of memory\n");
		return 2;
	}
	start = tap_now_ns();
	deadline = start + (int64_t)(cfg.seconds * 1e9);
	do {
		if (run_round(&cfg, &rng, &tot) != 0) {
			fprintf(stderr, "deque_stress: out of memory\n");
			return 2;
		}
	} while (tap_now_ns() < deadline);
	pass = !tot.lost && !tot.duplicated && !tot.corrupt &&
	       !tot.checksum_errors;
	printf("deque_stress: mutant=%d thieves=%u seed=%" PRIu64
	       " seconds=%.1f rounds=%" PRIu64 " items=%" PRIu64
	       " pops=%" PRIu64 " steals=%" PRIu64 " retries=%" PRIu64
	       " growths=%" PRIu64 " lost=%" PRIu64 " duplicated=%" PRIu64
	       " corrupt=%" PRIu64 " checksum_errors=%" PRIu64 ": %s\n",
	       FILCH_DEQUE_MUTANT, cfg.thieves, cfg.seed,
	       (double)(tap_now_ns() - start) / 1e9, tot.rounds, tot.items,
	       tot.pops, tot.steals, tot.retries, tot.growths, tot.lost,
	       tot.duplicated, tot.corrupt, tot.checksum_errors,
	       pass ? "PASS" : "FAIL");
	pthread_barrier_destroy(&start_line);
	free(mark);
	return pass ? 0 : 1;
}
