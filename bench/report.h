/* SPDX-License-Identifier: MIT */
/*
 * report.h - filch-bench's output: the readable table (default), the TSV
 * rows (--tsv), and the ratios kept for the SVG chart (--svg).
 *
 * TSV: one line per figure,
 *   bench <TAB> impl <TAB> workers <TAB> metric <TAB> median <TAB> min <TAB>
 *   max <TAB> unit
 * with "n/a" for a figure that could not be measured (instructions where the
 * kernel refuses counters). Ratios are rows too: metric "vs_seq" (every
 * implementation against seq) and "vs_<impl>" (every filch implementation
 * against each peer), unit "x", always oriented so that > 1 means the row's
 * implementation did better.
 */
#ifndef FB_REPORT_H
#define FB_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "suite.h"

#define FB_MAX_IMPLS 12

struct fb_stat {
	double median, min, max; /* NaN = n/a */
};

struct fb_ratio {
	const char *other; /* the implementation compared with */
	struct fb_stat r;
};

/* The figures of one implementation at one worker count. */
struct fb_row {
	const char *impl;
	unsigned workers;
	bool shown; /* false for seq's repeats at larger worker counts */
	struct fb_stat metric[FB_MAX_METRICS];
	unsigned nratios;
	struct fb_ratio ratio[FB_MAX_IMPLS];
};

/* Output mode, set once by the driver. */
void fb_report_init(FILE *out, bool tsv);
/* The run's header (table mode only): machine, date, mode. */
void fb_report_header(const struct fb_params *p, unsigned reps,
		      const char *workers);
/* Prints the rows of one bench (every worker count). */
void fb_report_bench(const struct fb_bench *b, const struct fb_row *rows,
		     unsigned nrows);
/* A note printed under the bench's block (table mode only). */
void fb_report_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes the ratios of filch rows seen so far as an SVG bar chart.
 * Returns 0 or -1 (with errno) when the file cannot be written. */
int fb_report_svg(const char *path);

#endif /* FB_REPORT_H */
