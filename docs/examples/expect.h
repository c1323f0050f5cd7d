/* SPDX-License-Identifier: MIT */
/*
 * expect.h - how the examples check themselves: each prints the lines the
 * Python version prints and compares them with the expected text, so that
 * `make check` fails when an example's output changes. Not part of filch.
 */
#ifndef FILCH_EXAMPLE_EXPECT_H
#define FILCH_EXAMPLE_EXPECT_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int expect_failures;

#define EXPECT_UNUSED __attribute__((unused))

/* Prints the formatted line; if want is not NULL and differs, reports it. */
__attribute__((format(printf, 2, 3))) EXPECT_UNUSED static void
expect_line(const char *want, const char *fmt, ...)
{
	char got[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(got, sizeof(got), fmt, ap);
	va_end(ap);
	puts(got);
	if (want && strcmp(got, want) != 0) {
		fprintf(stderr, "MISMATCH\n  got:  %s\n  want: %s\n", got, want);
		expect_failures++;
	}
}

/* Records a failed condition (for outputs that vary from run to run). */
EXPECT_UNUSED static void expect_true(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "FAILED: %s\n", what);
		expect_failures++;
	}
}

/* Formats v[0..n) as Python prints a list of ints: "[1, 2, 3]". */
EXPECT_UNUSED static const char *expect_list(char *buf, size_t size, const long *v, size_t n)
{
	size_t len = 0;

	len += (size_t)snprintf(buf, size, "[");
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%ld",
					i ? ", " : "", v[i]);
	if (len < size)
		snprintf(buf + len, size - len, "]");
	return buf;
}

EXPECT_UNUSED static int expect_cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* The example's exit status. */
static int expect_status(void)
{
	return expect_failures ? 1 : 0;
}

#endif /* FILCH_EXAMPLE_EXPECT_H */
