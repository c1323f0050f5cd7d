/* SPDX-License-Identifier: MIT */
/*
 * stress_args.h - the command line every stress program shares:
 * "[--seconds S] [--seed N]". A run prints its seed so that a failure can
 * be replayed with --seed.
 */
#ifndef FILCH_STRESS_ARGS_H
#define FILCH_STRESS_ARGS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct stress_args {
	double seconds;
	uint64_t seed; /* odd, never 0 */
};

/* Parses argv into *a (seconds defaults to default_seconds, the seed to a
 * fresh odd value). Returns 0, or 2 after printing the usage. */
static inline int stress_parse_args(int argc, char **argv,
				    double default_seconds,
				    struct stress_args *a)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	a->seconds = default_seconds;
	a->seed = ((uint64_t)ts.tv_nsec * 2654435761u) ^ (uint64_t)ts.tv_sec ^
		  ((uint64_t)getpid() << 32);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			a->seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			a->seed = strtoull(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: %s [--seconds S] [--seed N]\n",
				argv[0]);
			return 2;
		}
	}
	a->seed |= 1;
	return 0;
}

/* splitmix64's finalizer: seeds of rounds, shapes of trees. */
static inline uint64_t stress_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Runs one_round with the seed of round r = 0, 1, ... until a->seconds
 * passed (at least one round) or a round returned nonzero, which it
 * reports as "<name>: FAILED in round r (round seed s)". Returns the
 * rounds run, or -1 after a failure. */
static inline long stress_rounds(const char *name, const struct stress_args *a,
				 int (*one_round)(uint64_t seed))
{
	struct timespec now;
	double end;
	long r = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	end = (double)now.tv_sec + now.tv_nsec * 1e-9 + a->seconds;
	do {
		uint64_t s = stress_mix(a->seed + (uint64_t)r);

		if (one_round(s) != 0) {
			printf("%s: FAILED in round %ld (round seed %llu)\n",
			       name, r, (unsigned long long)s);
			return -1;
		}
		r++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((double)now.tv_sec + now.tv_nsec * 1e-9 < end);
	return r;
}

#endif /* FILCH_STRESS_ARGS_H */
