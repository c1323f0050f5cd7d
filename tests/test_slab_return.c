/* SPDX-License-Identifier: MIT */
/* test_slab_return.c - memory comes back after a burst: resident size
 * before and after 10^7 futures created, completed and released by one
 * foreign thread, streamed and held; with filch_release_memory, and by
 * decay; and back-to-back bursts that reuse the memory instead. Across
 * threads: a new thread bursting where an exited one did reuses its chunks
 * (the process-wide chunk cache) without faulting them in again, and the
 * cache too gives them back (filch_release_memory, decay). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
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
/* The decay period (docs/api.md, DECAY_NS in runtime/task.c), and the
 * futures of a held burst released only after it: more than the 64 slow
 * calls between two decay checks (CHECK_EVERY), all frees into surplus
 * chunks (the last ones carved), so they take the owner's slow path. */
#define DECAY_MS 1000
#define TAIL 128

/*
 * The slack on top of 2x the resident size before a burst: what the
 * runtime may keep on purpose (per thread, the pinned chunks and the empty
 * chunks held in reserve: 8 x 64 KiB, 512 KiB, times three slabs) plus
 * what libc may keep of the futures' array and its own arenas: 4 MiB.
 */
#define SLACK_KIB 4096
/* The chunk cache's bound (CACHE_CHUNKS in runtime/task.c): what exited
 * threads' chunks may hold for up to DECAY_MS. */
#define CACHE_KIB (256 * 1024)

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
 * above before: the burst did hold its 128 MB of futures (or, after the
 * release, that they are still kept for the next burst). */
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

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void submit_all(filch_future **fs, long n)
{
	for (long i = 0; i < n; i++)
		if (filch_submit(ex, empty_task, NULL, &fs[i]) != 0)
			bail_out("submit failed");
}

static void finish_all(filch_future **fs, long from, long to)
{
	for (long i = from; i < to; i++)
		finish(fs[i]);
}

/* (1) A held burst released, then filch_release_memory: back at once. */
static void held_explicit(void)
{
	long before = rss_kib(), peak, kept;
	filch_future **fs = array_new();

	submit_all(fs, HELD);
	peak = rss_kib();
	finish_all(fs, 0, HELD);
	array_free(fs);
	kept = rss_kib();
	filch_release_memory();
	diag("explicit: %ld KiB kept before filch_release_memory", kept);
	check("explicit", before, peak, rss_kib());
}

/* (3) Two held bursts back to back: the second reuses the first's chunks,
 * kept (not yet decayed), without mapping or faulting them again. */
static void back_to_back(void)
{
	filch_future **fs = array_new();
	long m0, m1, m2;

	for (long i = 0; i < HELD; i++) /* its own faults out of the count */
		fs[i] = NULL;
	m0 = minflt();
	submit_all(fs, HELD);
	finish_all(fs, 0, HELD);
	m1 = minflt();
	submit_all(fs, HELD);
	finish_all(fs, 0, HELD);
	m2 = minflt();
	array_free(fs);
	filch_release_memory();
	diag("back to back: %ld page faults in the first burst, %ld in the "
	     "second", m1 - m0, m2 - m1);
#ifdef SANITIZED
	skip(1, "page faults under a sanitizer");
#else
	ok((m2 - m1) * 8 < m1 - m0,
	   "back to back: the second burst faults < 1/8 as often");
#endif
}

/* (2) A held burst released, no explicit call: kept while hot; after
 * DECAY_MS of quiet, returned on the owner's next slow calls. A submit
 * and result round trip need not take one (its future comes from and goes
 * back to the private list inline): the TAIL futures released after the
 * sleep, frees into surplus chunks, are what is sure to. */
static void decay(void)
{
	long before = rss_kib(), kept;
	filch_future **fs = array_new(), *f;
	struct timespec nap = {.tv_sec = (DECAY_MS + 500) / 1000,
			       .tv_nsec = (DECAY_MS + 500) % 1000 * 1000000L};

	submit_all(fs, HELD);
	finish_all(fs, 0, HELD - TAIL);
	kept = rss_kib();
	diag("decay: %ld KiB before, %ld kept after the release", before, kept);
#ifdef SANITIZED
	skip(1, "resident size under a sanitizer");
#else
	ok(kept >= before + 64 * 1024, "decay: %ld KiB kept while hot",
	   kept - before);
#endif
	nanosleep(&nap, NULL);
	if (filch_submit(ex, empty_task, NULL, &f) != 0)
		bail_out("submit failed");
	finish(f);
	finish_all(fs, HELD - TAIL, HELD);
	array_free(fs);
	check("decay", before, 0, rss_kib());
}

/* A thread that bursts, releases all but TAIL futures and exits: its empty
 * chunks go at its exit, the rest when the last held future does. */
static void *exiting(void *arg)
{
	filch_future **fs = arg;

	submit_all(fs, HELD);
	finish_all(fs, 0, HELD - TAIL);
	return NULL;
}

static void thread_exit(void)
{
	long before = rss_kib(), kept;
	filch_future **fs = array_new();
	pthread_t t;

	if (pthread_create(&t, NULL, exiting, fs) != 0)
		bail_out("cannot create a thread");
	pthread_join(t, NULL);
	kept = rss_kib();
	finish_all(fs, HELD - TAIL, HELD); /* remote frees: the last frees it */
	array_free(fs);
	diag("thread exit: %ld KiB with %d futures held", kept, TAIL);
	/* Its chunks went to the cache, within its bound... */
	kept = rss_kib();
	diag("thread exit: %ld KiB with the chunks cached", kept);
#ifdef SANITIZED
	skip(1, "resident size under a sanitizer");
#else
	ok(kept <= 2 * before + SLACK_KIB + CACHE_KIB,
	   "thread exit: %ld KiB cached <= 2 x %ld + %d + %d", kept, before,
	   SLACK_KIB, CACHE_KIB);
#endif
	/* ... and filch_release_memory empties it. */
	filch_release_memory();
	check("thread exit", before, 0, rss_kib());
}

/* A thread's minor page faults (RUSAGE_THREAD) in a held burst of its own,
 * all released before it exits. */
struct faulting {
	filch_future **fs;
	long faults;
};

static long thread_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

static void *bursting(void *arg)
{
	struct faulting *b = arg;
	long m0 = thread_minflt();

	submit_all(b->fs, HELD);
	finish_all(b->fs, 0, HELD);
	b->faults = thread_minflt() - m0;
	return NULL;
}

static long burst_in_new_thread(filch_future **fs)
{
	struct faulting b = {fs, 0};
	pthread_t t;

	if (pthread_create(&t, NULL, bursting, &b) != 0)
		bail_out("cannot create a thread");
	pthread_join(t, NULL);
	return b.faults;
}

/* (4) A thread bursts and exits, then a new one bursts as much: the second
 * takes the first's chunks from the cache, resident, instead of mapping
 * and faulting in its own; filch_release_memory gives them back. */
static void exit_reuse(void)
{
	long before, first, second;
	filch_future **fs;

	filch_release_memory(); /* an empty cache: the first thread maps */
	before = rss_kib();
	fs = array_new();
	for (long i = 0; i < HELD; i++) /* its own faults out of the count */
		fs[i] = NULL;
	first = burst_in_new_thread(fs);
	second = burst_in_new_thread(fs);
	diag("exit and reuse: %ld page faults in the first thread's burst, %ld "
	     "in the second's", first, second);
#ifdef SANITIZED
	skip(1, "page faults under a sanitizer");
#else
	ok(second * 8 < first,
	   "exit and reuse: the new thread faults < 1/8 as often");
#endif
	filch_release_memory();
	array_free(fs);
	check("exit and reuse", before, 0, rss_kib());
}

static void *one_future(void *arg)
{
	filch_future *f;

	(void)arg;
	if (filch_submit(ex, empty_task, NULL, &f) != 0)
		bail_out("submit failed");
	finish(f);
	return NULL;
}

/* (5) A thread bursts and exits; after DECAY_MS of quiet, the next thread
 * that touches the cache (a new thread's first chunk) unmaps what has sat
 * there that long. */
static void cache_decay(void)
{
	long before = rss_kib(), kept;
	filch_future **fs = array_new();
	pthread_t t;
	struct timespec nap = {.tv_sec = (DECAY_MS + 500) / 1000,
			       .tv_nsec = (DECAY_MS + 500) % 1000 * 1000000L};

	burst_in_new_thread(fs);
	kept = rss_kib();
	diag("cache decay: %ld KiB before, %ld cached after the exit", before,
	     kept);
	nanosleep(&nap, NULL);
	if (pthread_create(&t, NULL, one_future, NULL) != 0)
		bail_out("cannot create a thread");
	pthread_join(t, NULL);
	array_free(fs);
	check("cache decay", before, 0, rss_kib());
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

	held_explicit();
	back_to_back();
	decay();
	thread_exit();
	exit_reuse();
	cache_decay();
	/* A slab that gave memory back takes it again, and gives it back. */
	held_explicit();
	return NULL;
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 2};
	pthread_t t;

	page_kib = sysconf(_SC_PAGESIZE) / 1024;
	tap_plan(14);
	if (filch_executor_create(&ex, &opts) != 0)
		bail_out("cannot create an executor");
	if (pthread_create(&t, NULL, foreign, NULL) != 0)
		bail_out("cannot create a thread");
	pthread_join(t, NULL);
	is(filch_shutdown(ex, FILCH_SHUTDOWN_WAIT), 0, "shutdown");
	filch_executor_destroy(ex);
	return tap_done();
}
