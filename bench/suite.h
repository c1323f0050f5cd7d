/* SPDX-License-Identifier: MIT */
/*
 * suite.h - the benches of filch-bench: their names, what they run, and how
 * the figures of one run (struct fb_sample) become their metrics. Names of
 * benches, metrics and implementations are fixed: scripts read them.
 */
#ifndef FB_SUITE_H
#define FB_SUITE_H

#include <stdbool.h>

#include "fb.h"

#define FB_MAX_METRICS 3

struct fb_metric {
	const char *name;
	const char *unit;
	/* An overhead over the seq run of the same repetition: not shown
	 * for seq itself, n/a without a seq implementation. */
	bool over_seq;
};

struct fb_bench {
	const char *name;
	const char *what; /* one line for the table's header */
	bool one_worker;  /* measured with one worker only */
	unsigned nmetrics;
	struct fb_metric metric[FB_MAX_METRICS];
	int primary;	       /* metric the ratios compare; -1 for none */
	bool higher_is_better; /* of the primary metric */
	/* The index of a metric that is 1 where the pool joins its threads
	 * at shutdown and 0 where it parks them for reuse, or 0 for none: a
	 * pool that parks them does less work, so ratios are taken only
	 * between rows where it is 1. */
	unsigned joins_metric;
	/* The metrics of one run with `workers` workers; seq is the seq run
	 * of the same repetition or NULL. NaN means n/a. */
	void (*derive)(const struct fb_params *p, unsigned workers,
		       const struct fb_sample *s, const struct fb_sample *seq,
		       double out[FB_MAX_METRICS]);
};

extern const struct fb_bench fb_suite[];
extern const unsigned fb_suite_len;

/* The bench called name, or NULL. */
const struct fb_bench *fb_suite_find(const char *name);

#endif /* FB_SUITE_H */
