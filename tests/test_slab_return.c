/* SPDX-License-Identifier: MIT */
/* test_slab_return.c - memory comes back after a burst: resident size
 * before and after 10^7 futures created, completed and released by one
 * foreign thread, streamed and held. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filch.h>

#include "tap.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

/*
 * Sanitizers keep freed memory in quarantine and shadow it: resident size
 * says nothing about the slabs there. They run the same code on 1/100 of
 * the counts, for their own checks, and the RSS bounds are not asserted.
 */
#ifdef SANITIZED
#define SCALE 100
#else
#define SCALE 1
#endif

#define STREAMED (10000000 / SCALE) /* futures in the streamed burst */
#define WINDOW 4096		    /* of which in flight at once */
#define HELD (1000000 / SCALE)	    /* futures in the held burst */

/*
 * The slack on top of 2x the resident size before a burst: what the
 * runtime may keep on purpose (per thread, the pinned chunks and the empty
 * chunks held in reserve: 8 x 64 KiB, 512 KiB, times three slabs) plus
 * what libc may keep of the futures' array and its own arenas: 4 MiB.
 */
#define SLACK_KIB 4096

static filch_executor *ex;
static long page_kib;

static long rss_kib(void)
{
	long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		bail_out("cannot open /proc/self/statm");
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		bail_out("cannot parse /proc/self/statm");
	fclose(f);
	return resident * page_kib;
}

static int empty_task(void *arg, void **result)
{
	(void)arg;
	*result = NULL;
	return 0;
}

static void finish(filch_future *f)
{
	void *r;

	if (filch_future_result(f, FILCH_FOREVER, &r) != 0)
		bail_out("an empty task failed");
	filch_future_release(f);
}

/* n futures created, completed and released, at most WINDOW at once. */
static void burst(filch_future **fs, long n)
{
	for (long i = 0; i < n; i++) {
		if (i >= WINDOW)
			finish(fs[i % WINDOW]);
		if (filch_submit(ex, empty_task, NULL, &fs[i % WINDOW]) != 0)
			bail_out("submit failed");
	}
	for (long i = n > WINDOW ? n - WINDOW : 0; i < n; i++)
		finish(fs[i % WINDOW]);
}

/* RSS after <= 2 x before + SLACK_KIB; with a peak, that it was >= 64 MiB
 * above before: the burst did hold its 128 MB of futures. */
static void check(const char *what, long before, long peak, long after)
{
	if (peak)
		diag("%s: resident %ld KiB before, %ld at the peak, %ld after",
		     what, before, peak, after);
	else
		diag("%s: resident %ld KiB before, %ld after", what, before,
		     after);
#ifdef SANITIZED
	skip(peak ? 2 : 1, "resident size under a sanitizer");
#else
	if (peak)
		ok(peak >= before + 64 * 1024, "%s: it grew by %ld KiB", what,
		   peak - before);
	ok(after <= 2 * before + SLACK_KIB,
	   "%s: %ld KiB after <= 2 x %ld + %d", what, after, before, SLACK_KIB);
#endif
}

/* The futures' array straight from the kernel, so that it is out of the
 * resident size once unmapped (free() might keep it). */
static filch_future **array_new(void)
{
	void *p = mmap(NULL, HELD * sizeof(filch_future *), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bail_out("out of memory");
	return p;
}

static void array_free(filch_future **fs)
{
	munmap(fs, HELD * sizeof(filch_future *));
}

/* HELD futures created, then completed and released. */
static void held(const char *what)
{
	long before = rss_kib(), peak;
	filch_future **fs = array_new();

	for (long i = 0; i < HELD; i++)
		if (filch_submit(ex, empty_task, NULL, &fs[i]) != 0)
			bail_out("submit failed");
	peak = rss_kib();
	for (long i = 0; i < HELD; i++)
		finish(fs[i]);
	array_free(fs);
	check(what, before, peak, rss_kib());
}

static void *foreign(void *arg)
{
	filch_future **fs = array_new();
	long before;

	(void)arg;
	/* The steady state first: this thread's slab and the workers'. */
	burst(fs, 100000 / SCALE);
	before = rss_kib();
	burst(fs, STREAMED);
	array_free(fs);
	check("streamed", before, 0, rss_kib());

	held("held");
	/* A slab that gave memory back takes it again, and gives it back. */
	held("held again");
	return NULL;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 2};
	pthread_t t;

	page_kib = sysconf(_SC_PAGESIZE) / 1024;
	tap_plan(6);
	if (filch_executor_create(&ex, &opts) != 0)
		bail_out("cannot create an executor");
	if (pthread_create(&t, NULL, foreign, NULL) != 0)
		bail_out("cannot create a thread");
	pthread_join(t, NULL);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0, "shutdown");
	filch_executor_destroy(ex);
	return tap_done();
}
