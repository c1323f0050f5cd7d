/* SPDX-License-Identifier: MIT */
/* perturb.c - seeded random delays at the runtime's FILCH__PERTURB() points. */
#include "config.h"

/* Built into every library; it has content only in a perturb build
 * (configure --enable-perturb), where FILCH__PERTURB() calls it. */
#ifdef FILCH_PERTURB

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "atomic.h"
#include "perturb.h"

/*
 * Out of every 256 visits to a point: 1 sleeps 1-64 us (long enough for the
 * kernel to run another thread on this CPU), 8 yield the CPU, 16 spin for up
 * to 1024 pause instructions (a few microseconds: a window for the other core
 * without a context switch), the rest pass straight through. Chosen so that
 * a stress run slows by a small factor, not by orders of magnitude.
 */
enum {
	PERTURB_SLEEP = 1,
	PERTURB_YIELD = PERTURB_SLEEP + 8,
	PERTURB_SPIN = PERTURB_YIELD + 16,
};

static uint64_t seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;
/* Numbers threads in the order they first reach a point; only counted. */
static _Atomic uint64_t next_thread;

static _Thread_local uint64_t rng_state;
static _Thread_local int rng_ready;

static void choose_seed(void)
{
	const char *env = getenv("FILCH_PERTURB_SEED");
	char *end;
	if (env && *env) {
		seed = strtoull(env, &end, 0);
		if (*end)
			fprintf(stderr, "filch: FILCH_PERTURB_SEED=\"%s\" is "
					"not a number; using %" PRIu64 "\n",
				env, seed);
	} else if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		seed = (uint64_t)time(NULL) ^ (uint64_t)clock();
	}
	fprintf(stderr, "# filch perturb: seed %" PRIu64
			" (replay with FILCH_PERTURB_SEED=%" PRIu64 ")\n",
		seed, seed);
}

uint64_t filch__perturb_seed(void)
{
	pthread_once(&seed_once, choose_seed);
	return seed;
}

/* splitmix64 (Steele, Lea and Flood, OOPSLA 2014): a good 64-bit stream
 * from any state, including consecutive seeds. */
static uint64_t next_random(void)
{
	if (!rng_ready) {
		rng_state = filch__perturb_seed() ^
			    (filch__add(&next_thread, 1, relaxed) *
			     UINT64_C(0xd1b54a32d192ed03));
		rng_ready = 1;
	}
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void filch__perturb(void)
{
	uint64_t r = next_random();
	unsigned pick = r & 255, amount = (unsigned)(r >> 8);

	if (pick < PERTURB_SLEEP) {
		struct timespec ts = { 0, 1000 * (1 + (amount & 63)) };
		nanosleep(&ts, NULL);
	} else if (pick < PERTURB_YIELD) {
		sched_yield();
	} else if (pick < PERTURB_SPIN) {
		for (unsigned i = amount & 1023; i; i--)
			filch__cpu_relax();
	}
}

#endif /* FILCH_PERTURB */
