/* SPDX-License-Identifier: MIT */
/* report.c - the table, the TSV rows and the ratios for the chart. */
#include "config.h"

#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <filch.h>

#include "placement.h"
#include "svg.h"
#include "workloads.h"

static FILE *out;
static bool tsv;
static struct fb_bar *bars;
static unsigned nbars, capbars;

void fb_report_init(FILE *f, bool as_tsv)
{
	out = f;
	tsv = as_tsv;
}

/* The "model name" line of /proc/cpuinfo. */
static void cpu_model(char *buf, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, size, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(buf, size, "%s", colon + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

void fb_report_header(const struct fb_params *p, unsigned reps,
		      const char *workers)
{
	char cpu[128], date[64], placement[512];
	time_t now = time(NULL);

	if (tsv)
		return;
	cpu_model(cpu, sizeof(cpu));
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(out, "filch-bench %s%s, %s\n", filch_version_string(),
		p->quick ? " --quick" : "", date);
	fprintf(out, "%s, %ld CPUs online; workers %s\n", cpu,
		sysconf(_SC_NPROCESSORS_ONLN), workers);
	fb_placement_describe(placement, sizeof(placement));
	fprintf(out, "%s\n", placement);
	fprintf(out,
		"sizes: deque %u ops, fib(%u), nqueens %u, uts %zu nodes, "
		"skynet %u leaves,\n  matmul %u^2, submit/map %u, chain %u, "
		"as_completed/wait %u, roundtrip %u rounds (idle %u),\n"
		"  idle window %u ms\n",
		p->deque_ops, p->fib_n, p->nqueens_n, fb_uts_total_nodes(p),
		p->skynet_leaves, p->matmul_n, p->submit_tasks, p->chain_links,
		p->as_completed_futures, p->roundtrip_rounds,
		p->roundtrip_idle_rounds, p->idle_ms);
	fprintf(out,
		"each figure: median (min-max) of %u rounds after a warm-up, "
		"implementations interleaved;\n"
		"vs X: how many times better than X in the same round "
		"(> 1 is better)\n",
		reps);
	fflush(out);
}

/* A figure in at most 7 characters with 3 significant digits. */
static void fmt(char *buf, size_t size, double v)
{
	double a = fabs(v);

	if (isnan(v))
		snprintf(buf, size, "n/a");
	else if (a >= 1e5)
		snprintf(buf, size, "%.2e", v);
	else if (a >= 100)
		snprintf(buf, size, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, size, "%.1f", v);
	else if (a >= 1)
		snprintf(buf, size, "%.2f", v);
	else
		snprintf(buf, size, "%.3f", v);
}

static void fmt_stat(char *buf, size_t size, const struct fb_stat *s)
{
	char m[24], lo[24], hi[24];

	if (isnan(s->median)) {
		snprintf(buf, size, "n/a");
		return;
	}
	fmt(m, sizeof(m), s->median);
	fmt(lo, sizeof(lo), s->min);
	fmt(hi, sizeof(hi), s->max);
	snprintf(buf, size, "%s (%s-%s)", m, lo, hi);
}

static void tsv_value(double v)
{
	if (isnan(v))
		fputs("\tn/a", out);
	else
		fprintf(out, "\t%.6g", v);
}

static void tsv_row(const char *bench, const struct fb_row *r,
		    const char *metric, const char *unit,
		    const struct fb_stat *s)
{
	fprintf(out, "%s\t%s\t%u\t%s", bench, r->impl, r->workers, metric);
	tsv_value(s->median);
	tsv_value(s->min);
	tsv_value(s->max);
	fprintf(out, "\t%s\n", unit);
}

static bool metric_shown(const struct fb_bench *b, unsigned m,
			 const struct fb_row *r)
{
	return !(b->metric[m].over_seq && strcmp(r->impl, "seq") == 0);
}

static void keep_bar(const struct fb_bench *b, const struct fb_row *r,
		     const struct fb_ratio *q)
{
	struct fb_bar *bar;

	if (nbars == capbars) {
		unsigned cap = capbars ? 2 * capbars : 64;
		struct fb_bar *nb = realloc(bars, cap * sizeof(*nb));

		if (!nb)
			return; /* the chart loses a bar; the table does not */
		bars = nb;
		capbars = cap;
	}
	bar = &bars[nbars++];
	snprintf(bar->group, sizeof(bar->group), "%s (%s)", b->name,
		 b->metric[b->primary].name);
	snprintf(bar->label, sizeof(bar->label), "%s w%u vs %s", r->impl,
		 r->workers, q->other);
	bar->median = q->r.median;
	bar->min = q->r.min;
	bar->max = q->r.max;
}

static void print_tsv(const struct fb_bench *b, const struct fb_row *rows,
		      unsigned nrows)
{
	for (unsigned i = 0; i < nrows; i++) {
		const struct fb_row *r = &rows[i];

		if (!r->shown)
			continue;
		for (unsigned m = 0; m < b->nmetrics; m++)
			if (metric_shown(b, m, r))
				tsv_row(b->name, r, b->metric[m].name,
					b->metric[m].unit, &r->metric[m]);
		for (unsigned q = 0; q < r->nratios; q++) {
			char name[48];

			snprintf(name, sizeof(name), "vs_%s",
				 r->ratio[q].other);
			tsv_row(b->name, r, name, "x", &r->ratio[q].r);
		}
	}
}

static void print_table(const struct fb_bench *b, const struct fb_row *rows,
			unsigned nrows)
{
	char cell[96], head[64];
	bool vs_seq = false;

	for (unsigned i = 0; i < nrows; i++)
		for (unsigned q = 0; q < rows[i].nratios; q++)
			vs_seq |= strcmp(rows[i].ratio[q].other, "seq") == 0;
	fprintf(out, "\n== %s: %s\n", b->name, b->what);
	fprintf(out, "%-15s %2s", "impl", "w");
	for (unsigned m = 0; m < b->nmetrics; m++) {
		snprintf(head, sizeof(head), "%s [%s]", b->metric[m].name,
			 b->metric[m].unit);
		fprintf(out, "  %-26s", head);
	}
	if (vs_seq)
		fprintf(out, "  %s", "vs seq");
	fputc('\n', out);
	for (unsigned i = 0; i < nrows; i++) {
		const struct fb_row *r = &rows[i];
		unsigned others = 0;

		if (!r->shown)
			continue;
		fprintf(out, "%-15s %2u", r->impl, r->workers);
		for (unsigned m = 0; m < b->nmetrics; m++) {
			if (metric_shown(b, m, r))
				fmt_stat(cell, sizeof(cell), &r->metric[m]);
			else
				snprintf(cell, sizeof(cell), "-");
			fprintf(out, "  %-26s", cell);
		}
		for (unsigned q = 0; q < r->nratios; q++) {
			if (strcmp(r->ratio[q].other, "seq") == 0) {
				fmt(cell, sizeof(cell), r->ratio[q].r.median);
				fprintf(out, "  %sx", cell);
			} else {
				others++;
			}
		}
		fputc('\n', out);
		if (others == 0)
			continue;
		fprintf(out, "%17s%s vs:", "", r->impl);
		for (unsigned q = 0; q < r->nratios; q++) {
			if (strcmp(r->ratio[q].other, "seq") == 0)
				continue;
			fmt(cell, sizeof(cell), r->ratio[q].r.median);
			fprintf(out, " %s %sx", r->ratio[q].other, cell);
		}
		fputc('\n', out);
	}
}

void fb_report_bench(const struct fb_bench *b, const struct fb_row *rows,
		     unsigned nrows)
{
	if (tsv)
		print_tsv(b, rows, nrows);
	else
		print_table(b, rows, nrows);
	for (unsigned i = 0; i < nrows; i++)
		for (unsigned q = 0; q < rows[i].nratios; q++)
			if (strncmp(rows[i].impl, "filch", 5) == 0)
				keep_bar(b, &rows[i], &rows[i].ratio[q]);
	fflush(out);
}

void fb_report_note(const char *fmt, ...)
{
	va_list ap;

	if (tsv)
		return;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fflush(out);
}

int fb_report_svg(const char *path)
{
	return fb_svg_write(path, "filch-bench: filch against the others", bars,
			    nbars);
}
