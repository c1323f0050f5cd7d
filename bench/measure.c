/* SPDX-License-Identifier: MIT */
/* measure.c - the measured region, clocks, percentiles and loud failure. */
#include "config.h"

#include "fb.h"
#include "instr.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One region at a time, opened and closed by the thread running run(). */
static struct fb_instr region_counters;
static const char *current_bench = "?";
static const char *current_impl = "?";

int64_t fb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t fb_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void fb_sleep_ns(int64_t ns)
{
	struct timespec ts = {
	    .tv_sec = (time_t)(ns / 1000000000),
	    .tv_nsec = (long)(ns % 1000000000),
	};

	while (nanosleep(&ts, &ts) != 0)
		;
}

void fb_settle(void)
{
	/* Quiet: less than 10% of one CPU over a 2 ms slice. */
	for (int slice = 0; slice < 150; slice++) {
		int64_t cpu0 = fb_cpu_ns();

		fb_sleep_ns(2000000);
		if (fb_cpu_ns() - cpu0 < 200000)
			return;
	}
}

void fb_region_begin(struct fb_sample *s)
{
	fb_instr_start(&region_counters);
	s->begin_ns_ = fb_now_ns();
}

void fb_region_end(struct fb_sample *s)
{
	s->ns = fb_now_ns() - s->begin_ns_;
	s->instr = fb_instr_stop(&region_counters);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

void fb_percentiles_us(int64_t *lat, size_t n, struct fb_sample *s)
{
	if (n == 0)
		fb_fail("no latencies recorded");
	qsort(lat, n, sizeof(*lat), cmp_i64);
	s->value[0] = (double)lat[n / 2] / 1e3;
	s->value[1] = (double)lat[(n * 99) / 100] / 1e3;
}

void fb_set_current(const char *bench, const char *impl)
{
	current_bench = bench;
	current_impl = impl;
}

static void on_alarm(int sig)
{
	static const char pre[] = "filch-bench: ", mid[] = "/",
			  post[] = ": FAILED: no answer in time (hung)\n";

	/* Only async-signal-safe calls here. */
	(void)sig;
	(void)!write(2, pre, sizeof(pre) - 1);
	(void)!write(2, current_bench, strlen(current_bench));
	(void)!write(2, mid, sizeof(mid) - 1);
	(void)!write(2, current_impl, strlen(current_impl));
	(void)!write(2, post, sizeof(post) - 1);
	_exit(2);
}

void fb_watchdog(unsigned seconds)
{
	static bool installed;

	if (!installed) {
		signal(SIGALRM, on_alarm);
		installed = true;
	}
	alarm(seconds);
}

void fb_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "filch-bench: %s/%s: FAILED: ", current_bench,
		current_impl);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void *fb_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		fb_fail("out of memory (%zu bytes)", size);
	return p;
}

void *fb_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fb_fail("out of memory (%zu x %zu bytes)", n, size);
	return p;
}
