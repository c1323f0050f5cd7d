/* SPDX-License-Identifier: MIT */
/*
 * tap.h - a small Test Anything Protocol (TAP 13) emitter for filch's tests.
 *
 * Thread-safe: ok()/is() may be called from workers; output lines are
 * serialized and numbered atomically. Usage:
 *
 *	tap_plan(3);
 *	ok(x == 1, "x is one");
 *	is(filch_version(), FILCH_VERSION_HEX, "version");
 *	return tap_done();
 */
#ifndef FILCH_TAP_H
#define FILCH_TAP_H

#include <stdbool.h>
#include <stdint.h>

#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Announces n tests; tap_plan(0) defers the plan to tap_done(). */
void tap_plan(unsigned n);
/* Records a test: returns cond so that callers can chain diagnostics. */
bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...) TAP_PRINTF(4, 5);
/* Records got == want, printing both on failure. */
bool tap_is(long long got, long long want, const char *file, int line,
	    const char *fmt, ...) TAP_PRINTF(5, 6);
/* A comment line ("# ..."), on stdout so that it follows the results. */
void tap_diag(const char *fmt, ...) TAP_PRINTF(1, 2);
/* Records n skipped tests with a reason. */
void tap_skip(unsigned n, const char *why, ...) TAP_PRINTF(2, 3);
/* Stops the whole test file at once ("Bail out!"), exit status 1. */
_Noreturn void tap_bail(const char *why, ...) TAP_PRINTF(1, 2);
/* Ends the run: prints the deferred plan; returns the exit status (0 when
 * every test passed and the plan was met). */
int tap_done(void);
/* Nanoseconds of CLOCK_MONOTONIC, for deadlines in tests (never for speed). */
int64_t tap_now_ns(void);

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(got, want, ...) \
	tap_is((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define diag(...) tap_diag(__VA_ARGS__)
#define skip(n, ...) tap_skip((n), __VA_ARGS__)
#define bail_out(...) tap_bail(__VA_ARGS__)

#endif /* FILCH_TAP_H */
