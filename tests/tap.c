/* SPDX-License-Identifier: MIT */
/* tap.c - the TAP emitter declared in tap.h. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tap.h"

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned tap_planned;
static unsigned tap_count;
static unsigned tap_failed;

void tap_plan(unsigned n)
{
	pthread_mutex_lock(&tap_lock);
	tap_planned = n;
	if (n)
		printf("1..%u\n", n);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

TAP_PRINTF(4, 0)
static bool tap_record(bool cond, const char *file, int line, const char *fmt,
		       va_list ap)
{
	pthread_mutex_lock(&tap_lock);
	unsigned n = ++tap_count;
	printf("%sok %u - ", cond ? "" : "not ", n);
	vprintf(fmt, ap);
	putchar('\n');
	if (!cond) {
		tap_failed++;
		printf("#   Failed test at %s line %d.\n", file, line);
	}
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	return cond;
}

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_record(cond, file, line, fmt, ap);
	va_end(ap);
	return cond;
}

bool tap_is(long long got, long long want, const char *file, int line,
	    const char *fmt, ...)
{
	va_list ap;
	bool cond = got == want;
	va_start(ap, fmt);
	tap_record(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond)
		tap_diag("         got: %lld\n#     expected: %lld", got, want);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&tap_lock);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	va_end(ap);
}

void tap_skip(unsigned n, const char *why, ...)
{
	char reason[256];
	va_list ap;
	va_start(ap, why);
	vsnprintf(reason, sizeof(reason), why, ap);
	va_end(ap);
	pthread_mutex_lock(&tap_lock);
	for (unsigned i = 0; i < n; i++)
		printf("ok %u # SKIP %s\n", ++tap_count, reason);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

void tap_bail(const char *why, ...)
{
	va_list ap;
	va_start(ap, why);
	pthread_mutex_lock(&tap_lock);
	fputs("Bail out! ", stdout);
	vprintf(why, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
	exit(1);
}

int tap_done(void)
{
	pthread_mutex_lock(&tap_lock);
	if (!tap_planned)
		printf("1..%u\n", tap_count);
	else if (tap_count != tap_planned)
		printf("# planned %u tests but ran %u\n", tap_planned, tap_count);
	fflush(stdout);
	int status = tap_failed || (tap_planned && tap_count != tap_planned);
	pthread_mutex_unlock(&tap_lock);
	return status;
}

int64_t tap_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
