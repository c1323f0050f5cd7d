/* SPDX-License-Identifier: MIT */
/*
 * driver.c - main() of filch-bench: picks the implementations of each
 * bench, runs them interleaved at each worker count, and turns the runs
 * into medians, extremes and ratios (report.c prints them).
 *
 * Method, per bench and worker count: every implementation's setup (its
 * pool), one warm-up run each, then `reps` rounds in which every
 * implementation runs once, the starting implementation rotating from round
 * to round (A B C, B C A, ...), with a pause after each run until the
 * threads that spin after work (OpenMP, TBB) have gone to sleep. Ratios are
 * taken between runs of the same round, so that slow phases of a noisy machine
 * hit both sides.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <filch.h>

#include "fb.h"
#include "futex_ref.h"
#include "placement.h"
#include "remote.h"
#include "report.h"
#include "suite.h"

#define MAX_REPS	  31
#define MAX_WORKER_COUNTS 8
#define MAX_CANDIDATES	  256
/* A run that takes longer has hung (the slowest full-size run here takes
 * a few seconds). */
#define RUN_TIMEOUT_S 300

/*
 * The implementation files linked into this binary: am/bench.am links a
 * peer's file only when configure found the peer. An array whose file was
 * not linked is a weak reference that resolves to NULL.
 */
#define IMPLS(family)                                                          \
	extern const struct fb_impl fb_impls_##family[] __attribute__((weak))
IMPLS(filch_deque);
IMPLS(filch_forkjoin);
IMPLS(filch_fj);
IMPLS(filch_submit);
IMPLS(filch_lifecycle);
IMPLS(filch_cf);
IMPLS(filch_timers);
IMPLS(glib_timers);
IMPLS(seq);
IMPLS(naive);
IMPLS(tbb);
IMPLS(gomp);
IMPLS(glib);
IMPLS(lace);
IMPLS(filch_procpool);

static const struct fb_impl *const linked[] = {
    fb_impls_filch_deque,  fb_impls_filch_forkjoin,
    fb_impls_filch_fj,
    fb_impls_filch_submit, fb_impls_filch_lifecycle,
    fb_impls_filch_cf,	   fb_impls_seq,
    fb_impls_naive,	   fb_impls_tbb,
    fb_impls_gomp,	   fb_impls_glib,
    fb_impls_filch_timers, fb_impls_glib_timers,
    fb_impls_lace,	   fb_impls_filch_procpool,
};

/* Helper programs next to filch-bench (remote.h). */
static const char *const helpers[] = {"filch-bench-iomp", "filch-bench-libuv"};

/* The impl column, in the order rows are printed. */
static const char *const impl_order[] = {
    "filch", "filch_fj", "filch_nofuture", "filch_item", "seq",  "naive",
    "tbb",   "gomp",	       "iomp",	     "glib", "libuv", "lace",
    "filch_spawn", "filch_nospin", "fork", "python"};

struct candidate {
	char bench[32];
	char impl[32];
	const struct fb_impl *local; /* or NULL: runs in helper */
	char helper[PATH_MAX];
};

struct runner {
	const struct candidate *c;
	void *state;
	struct fb_remote *remote;
	struct fb_sample s[MAX_REPS];
	double m[MAX_REPS][FB_MAX_METRICS];
};

struct options {
	bool quick, tsv;
	unsigned reps;
	const char *only;
	const char *impls;
	const char *svg;
	const char *workers_text;
	unsigned workers[MAX_WORKER_COUNTS];
	unsigned nworkers;
	enum fb_placement placement;
};

static struct candidate cands[MAX_CANDIDATES];
static unsigned ncands;

static int impl_rank(const char *impl)
{
	for (unsigned i = 0; i < sizeof(impl_order) / sizeof(*impl_order); i++)
		if (strcmp(impl_order[i], impl) == 0)
			return (int)i;
	return INT_MAX;
}

static struct candidate *new_candidate(const char *bench, const char *impl)
{
	struct candidate *c;

	if (ncands == MAX_CANDIDATES)
		fb_fail("too many implementations");
	if (!fb_suite_find(bench) || impl_rank(impl) == INT_MAX)
		fb_fail("unknown bench %s or implementation %s", bench, impl);
	c = &cands[ncands++];
	snprintf(c->bench, sizeof(c->bench), "%s", bench);
	snprintf(c->impl, sizeof(c->impl), "%s", impl);
	return c;
}

static void add_remote(const char *bench, const char *impl, void *path)
{
	struct candidate *c = new_candidate(bench, impl);

	snprintf(c->helper, sizeof(c->helper), "%s", (const char *)path);
}

static void collect_candidates(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t len;
	char *slash;

	for (unsigned f = 0; f < sizeof(linked) / sizeof(*linked); f++)
		for (const struct fb_impl *i = linked[f]; i && i->bench; i++)
			new_candidate(i->bench, i->impl)->local = i;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return;
	exe[len] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	for (unsigned h = 0; h < sizeof(helpers) / sizeof(*helpers); h++) {
		snprintf(path, sizeof(path), "%s/%s", exe, helpers[h]);
		fb_remote_list(path, add_remote, path);
	}
}

static bool selected(const char *list, const char *name);

/* The candidates of bench among impls (NULL: all), in impl_order. */
static unsigned candidates_of(const char *bench, const char *impls,
			      const struct candidate **out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ncands; i++)
		if (strcmp(cands[i].bench, bench) == 0 &&
		    selected(impls, cands[i].impl))
			out[n++] = &cands[i];
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && impl_rank(out[j]->impl) <
						  impl_rank(out[j - 1]->impl);
		     j--) {
			const struct candidate *t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static void run_once(struct runner *r, const struct fb_params *p,
		     struct fb_sample *s)
{
	memset(s, 0, sizeof(*s));
	fb_set_current(r->c->bench, r->c->impl);
	fb_watchdog(RUN_TIMEOUT_S);
	if (r->remote)
		fb_remote_run(r->remote, s);
	else
		r->c->local->run(r->state, p, s); /* a helper settles itself */
	fb_watchdog(0);
	fb_settle();
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, min and max of v[0..n), ignoring NaNs. */
static struct fb_stat stat_of(const double *v, unsigned n)
{
	double sorted[MAX_REPS];
	struct fb_stat st = {NAN, NAN, NAN};
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		if (!isnan(v[i]))
			sorted[k++] = v[i];
	if (k == 0)
		return st;
	qsort(sorted, k, sizeof(double), cmp_double);
	st.min = sorted[0];
	st.max = sorted[k - 1];
	st.median =
	    k % 2 ? sorted[k / 2] : (sorted[k / 2 - 1] + sorted[k / 2]) / 2;
	return st;
}

/* How many times better `mine` did than `theirs` in each round. */
static struct fb_stat ratio_of(const struct fb_bench *b,
			       const struct runner *mine,
			       const struct runner *theirs, unsigned reps)
{
	double r[MAX_REPS];

	for (unsigned i = 0; i < reps; i++) {
		double x = mine->m[i][b->primary], y = theirs->m[i][b->primary];

		if (isnan(x) || isnan(y) || x <= 0 || y <= 0)
			r[i] = NAN;
		else
			r[i] = b->higher_is_better ? x / y : y / x;
	}
	return stat_of(r, reps);
}

static bool is_filch(const char *impl)
{
	return strncmp(impl, "filch", 5) == 0;
}

/* Whether r's pool parks its threads at shutdown (suite.h). */
static bool parks_threads(const struct fb_bench *b, const struct runner *r,
			  unsigned reps)
{
	for (unsigned rep = 0; b->joins_metric && rep < reps; rep++)
		if (r->m[rep][b->joins_metric] != 1)
			return true;
	return false;
}

/* Runs bench b at `workers` workers; fills one row per implementation. */
static void run_group(const struct fb_bench *b, unsigned workers,
		      bool first_group, const struct candidate **cs, unsigned n,
		      const struct fb_params *p, unsigned reps,
		      struct fb_row *rows)
{
	struct runner *rs = fb_xcalloc(n, sizeof(*rs));
	struct runner *seq = NULL;
	struct fb_sample warm;

	for (unsigned i = 0; i < n; i++) {
		struct runner *r = &rs[i];

		r->c = cs[i];
		fb_set_current(b->name, r->c->impl);
		if (!r->c->local)
			r->remote = fb_remote_start(r->c->helper, b->name,
						    workers, p->quick);
		else if (r->c->local->setup)
			FB_CHECK_RC(r->c->local->setup(workers, p, &r->state));
		if (strcmp(r->c->impl, "seq") == 0)
			seq = r;
	}
	for (unsigned i = 0; i < n; i++)
		run_once(&rs[i], p, &warm);
	for (unsigned rep = 0; rep < reps; rep++)
		for (unsigned k = 0; k < n; k++) {
			struct runner *r = &rs[(rep + k) % n];

			run_once(r, p, &r->s[rep]);
		}
	for (unsigned i = 0; i < n; i++) {
		struct runner *r = &rs[i];

		fb_set_current(b->name, r->c->impl);
		if (r->remote)
			fb_remote_stop(r->remote);
		else if (r->c->local->teardown)
			r->c->local->teardown(r->state);
	}

	for (unsigned i = 0; i < n; i++) {
		struct runner *r = &rs[i];

		for (unsigned rep = 0; rep < reps; rep++) {
			for (unsigned m = 0; m < FB_MAX_METRICS; m++)
				r->m[rep][m] = NAN;
			b->derive(p, workers, &r->s[rep],
				  seq ? &seq->s[rep] : NULL, r->m[rep]);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct runner *r = &rs[i];
		struct fb_row *row = &rows[i];
		double v[MAX_REPS];

		memset(row, 0, sizeof(*row));
		row->impl = r->c->impl;
		row->workers = r == seq ? 1 : workers;
		row->shown = r != seq || first_group;
		for (unsigned m = 0; m < b->nmetrics; m++) {
			for (unsigned rep = 0; rep < reps; rep++)
				v[rep] = r->m[rep][m];
			row->metric[m] = stat_of(v, reps);
		}
		if (b->primary < 0)
			continue;
		if (seq && r != seq) {
			row->ratio[row->nratios].other = "seq";
			row->ratio[row->nratios++].r =
			    ratio_of(b, r, seq, reps);
		}
		if (!is_filch(r->c->impl))
			continue;
		for (unsigned o = 0; o < n; o++) {
			if (&rs[o] == seq || is_filch(rs[o].c->impl) ||
			    parks_threads(b, r, reps) ||
			    parks_threads(b, &rs[o], reps))
				continue;
			row->ratio[row->nratios].other = rs[o].c->impl;
			row->ratio[row->nratios++].r =
			    ratio_of(b, r, &rs[o], reps);
		}
	}
	free(rs);
}

/* Whether name is in the comma-separated list (NULL: everything is). */
static bool selected(const char *list, const char *name)
{
	size_t len = strlen(name);

	if (!list)
		return true;
	for (const char *s = list; *s;) {
		const char *end = strchr(s, ',');
		size_t l = end ? (size_t)(end - s) : strlen(s);

		if (l == len && strncmp(s, name, len) == 0)
			return true;
		s += l + (end != NULL);
	}
	return false;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: filch-bench [--quick] [--tsv] [--only NAME[,NAME]]\n"
	    "                   [--impls LIST] [--workers LIST] [--reps N]\n"
	    "                   [--svg FILE] [--placement same|split|free]\n"
	    "  --quick        the whole suite in under 2 minutes on 2 cores\n"
	    "  --tsv          bench impl workers metric median min max unit\n"
	    "  --only LIST    run only these benches (comma-separated)\n"
	    "  --impls LIST   run only these implementations\n"
	    "  --workers LIST worker counts, comma-separated (default 1,2)\n"
	    "  --reps N       measured rounds after the warm-up\n"
	    "                 (default 5, --quick 3)\n"
	    "  --svg FILE     write a bar chart of filch's ratios\n"
	    "  --placement M  split (default): the submitting thread pinned\n"
	    "                 to the first CPU, the workers to the others\n"
	    "                 first; same: worker 0 shares the submitter's\n"
	    "                 CPU; free: nobody pinned (docs/bench.md)\n"
	    "benches:");
	for (unsigned i = 0; i < fb_suite_len; i++)
		fprintf(f, " %s", fb_suite[i].name);
	fprintf(f, "\nimplementations:");
	for (unsigned i = 0; i < sizeof(impl_order) / sizeof(*impl_order); i++)
		fprintf(f, " %s", impl_order[i]);
	fputc('\n', f);
}

static void parse_workers(struct options *o, const char *text)
{
	char *end;

	o->workers_text = text;
	o->nworkers = 0;
	for (const char *s = text; *s; s = end + (*end == ',')) {
		unsigned long w = strtoul(s, &end, 10);

		if (end == s || w == 0 || w > 1024 ||
		    o->nworkers == MAX_WORKER_COUNTS || (*end && *end != ',')) {
			fprintf(stderr, "filch-bench: bad --workers %s\n",
				text);
			exit(2);
		}
		o->workers[o->nworkers++] = (unsigned)w;
	}
	if (o->nworkers == 0) {
		fprintf(stderr, "filch-bench: bad --workers %s\n", text);
		exit(2);
	}
}

static void parse(struct options *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	parse_workers(o, "1,2");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quick") == 0) {
			o->quick = true;
		} else if (strcmp(a, "--tsv") == 0) {
			o->tsv = true;
		} else if (strcmp(a, "--only") == 0 && next) {
			o->only = next;
			i++;
		} else if (strcmp(a, "--impls") == 0 && next) {
			o->impls = next;
			i++;
		} else if (strcmp(a, "--workers") == 0 && next) {
			parse_workers(o, next);
			i++;
		} else if (strcmp(a, "--reps") == 0 && next) {
			o->reps = (unsigned)strtoul(next, NULL, 10);
			if (o->reps == 0 || o->reps > MAX_REPS) {
				fprintf(stderr,
					"filch-bench: --reps takes 1..%d\n",
					MAX_REPS);
				exit(2);
			}
			i++;
		} else if (strcmp(a, "--placement") == 0 && next) {
			if (fb_placement_parse(next, &o->placement) != 0) {
				fprintf(stderr,
					"filch-bench: --placement takes same, "
					"split or free\n");
				exit(2);
			}
			i++;
		} else if (strcmp(a, "--svg") == 0 && next) {
			o->svg = next;
			i++;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			exit(2);
		}
	}
	if (o->reps == 0)
		o->reps = o->quick ? 3 : 5;
	for (const char *s = o->only; s && *s;) {
		char name[64];
		size_t l = strcspn(s, ",");

		snprintf(name, sizeof(name), "%.*s", (int)l, s);
		if (!fb_suite_find(name)) {
			fprintf(stderr, "filch-bench: no bench %s\n", name);
			usage(stderr);
			exit(2);
		}
		s += l + (s[l] == ',');
	}
}

int main(int argc, char **argv)
{
	const struct candidate *cs[FB_MAX_IMPLS];
	struct fb_row rows[FB_MAX_IMPLS * MAX_WORKER_COUNTS];
	struct fb_params p;
	struct options o;

	parse(&o, argc, argv);
	fb_placement_init(o.placement, NULL);
	fb_params_init(&p, o.quick);
	collect_candidates();
	fb_report_init(stdout, o.tsv);
	fb_report_header(&p, o.reps, o.workers_text);
	for (unsigned bi = 0; bi < fb_suite_len; bi++) {
		const struct fb_bench *b = &fb_suite[bi];
		unsigned n = candidates_of(b->name, o.impls, cs), nrows = 0;
		unsigned one = 1;
		const unsigned *ws = b->one_worker ? &one : o.workers;
		unsigned nws = b->one_worker ? 1 : o.nworkers;

		if (!selected(o.only, b->name) || n == 0)
			continue;
		if (n > FB_MAX_IMPLS)
			fb_fail("too many implementations of %s", b->name);
		for (unsigned wi = 0; wi < nws; wi++) {
			run_group(b, ws[wi], wi == 0, cs, n, &p, o.reps,
				  rows + nrows);
			nrows += n;
		}
		fb_report_bench(b, rows, nrows);
		if (strcmp(b->name, "roundtrip_idle") == 0 && !o.tsv) {
			double p50, p99;

			fb_futex_wakeup_us(p.roundtrip_idle_rounds, &p50, &p99);
			fb_report_note(
			    "%17sreference: a bare futex wake-up of a "
			    "sleeping thread here: p50 %.1f us, "
			    "p99 %.1f us\n",
			    "", p50, p99);
		}
		if (b->joins_metric && !o.tsv)
			fb_report_note(
			    "%17sjoins 0: the pool parks its threads for reuse "
			    "instead of joining them\n%17s(threads_left: "
			    "those still alive 20 ms later); not compared\n",
			    "", "");
	}
	if (o.svg && fb_report_svg(o.svg) != 0) {
		fprintf(stderr, "filch-bench: cannot write %s: %s\n", o.svg,
			strerror(errno));
		return 1;
	}
	return 0;
}
