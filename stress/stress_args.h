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

#endif /* FILCH_STRESS_ARGS_H */
