/* SPDX-License-Identifier: MIT */
/*
 * isolate.h - runs one test case in a child process, so that a crash, a
 * hang or a leak in it is reported as that case's failure and the other
 * cases still run.
 *
 * Call it only while the calling process has a single thread (before any
 * executor exists in it): the child is a fork of the caller.
 */
#ifndef FILCH_TESTS_ISOLATE_H
#define FILCH_TESTS_ISOLATE_H

#include <stddef.h>

/* What a case returns: 0 when it passed, else a nonzero code it chose. */
typedef int (*isolate_fn)(void *arg);

/* Runs fn(arg) in a child with a limit of timeout_s seconds. In an
 * AddressSanitizer build the child then runs LeakSanitizer. Returns 0 when
 * fn returned 0 and nothing leaked; otherwise writes why (e.g. "returned 3",
 * "killed by signal 11", "hung for 60 s", "leaked memory") into why and
 * returns nonzero. The child's own diagnostics go to stderr. */
int isolate_run(isolate_fn fn, void *arg, unsigned timeout_s, char *why,
		size_t why_len);

/* A child reports a string back to its parent's caller (one line, at most
 * why_len - 1 bytes kept); the last call wins. No-op outside a child. */
void isolate_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The string the last child passed to isolate_note, or "". */
const char *isolate_last_note(void);

/* Threads of the calling process whose name starts with prefix: a case
 * names its executor's workers so that it can check that none is left
 * running (sanitizer runtimes start helper threads of their own). */
unsigned isolate_threads_named(const char *prefix);

#endif /* FILCH_TESTS_ISOLATE_H */
