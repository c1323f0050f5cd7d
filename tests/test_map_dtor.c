/* SPDX-License-Identifier: MIT */
/* test_map_dtor.c - the map's result destructor (FILCH_MAP_RESULT_DTOR):
 * called exactly once on every result the consumer never receives (early
 * close, timeout, an error in the middle, a chunk function's partial
 * results, a chunk stopped by close, a cancelling shutdown), never on a
 * result yielded by filch_map_next or filch_map_next_span, never on the
 * failing item's nor on a NULL result; ignored without the flag. The results are heap blocks:
 * under ASan/LSan a result lost or freed twice fails the run, and the calls
 * are counted exactly: computed - yielded. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <filch.h>

#include "cf_helpers.h"
#include "map_helpers.h"
#include "tap.h"

static const int64_t MS = 1000000;

static atomic_long computed;  /* results made (heap blocks) */
static atomic_long destroyed; /* destructor calls */
static atomic_long wrong_arg; /* destructor calls with a wrong dtor_arg */
static atomic_long on_failed; /* destructor calls on a failing item's */
static atomic_long on_null;   /* destructor calls on NULL */
static int dtor_token;
static long failed_marker; /* what a failing item stores, then fails */

static void *heap_result(size_t x)
{
	long *p = malloc(sizeof(*p));

	if (!p)
		bail_out("malloc");
	*p = (long)(x * x);
	atomic_fetch_add(&computed, 1);
	return p;
}

static void result_dtor(void *result, void *arg)
{
	if (arg != &dtor_token)
		atomic_fetch_add(&wrong_arg, 1);
	if (result == &failed_marker)
		atomic_fetch_add(&on_failed, 1);
	else if (!result)
		atomic_fetch_add(&on_null, 1);
	else
		free(result);
	atomic_fetch_add(&destroyed, 1);
}

/* Per item: a heap result; item 5 waits at the gate; fail_at fails with
 * 42 after storing failed_marker. */
static size_t fail_at = SIZE_MAX;

static int heap_fn(void *arg, void **result)
{
	size_t x = (size_t)(uintptr_t)arg;

	if (x == fail_at) {
		*result = &failed_marker;
		return 42;
	}
	if (x == 5)
		map_gate_pass((long)x);
	*result = heap_result(x);
	return 0;
}

/* Per item: waits at the gate, then a heap result. */
static int heap_fn_gated(void *arg, void **result)
{
	map_gate_pass((long)(uintptr_t)arg);
	*result = heap_result((size_t)(uintptr_t)arg);
	return 0;
}

/* Per chunk: heap results; at fail_at, ndone results then code 43. */
static int heap_chunk(void *arg, struct filch_chunk *c)
{
	(void)arg;
	for (size_t i = 0; i < c->n; i++) {
		if (c->first + i == fail_at) {
			c->ndone = i;
			return 43;
		}
		c->results[i] = heap_result(c->first + i);
	}
	return 0;
}

/* Per chunk, slowly, until close asks it to stop: ndone results. */
static int heap_chunk_until_cancelled(void *arg, struct filch_chunk *c)
{
	(void)arg;
	for (size_t i = 0; i < c->n; i++) {
		if (filch_cancel_requested()) {
			c->ndone = i;
			return ECANCELED;
		}
		c->results[i] = heap_result(c->first + i);
		cf_sleep_ms(1);
	}
	return 0;
}

/* Per item, slowly: close stops the chunk between items. */
static int heap_fn_slow(void *arg, void **result)
{
	cf_sleep_ms(1);
	*result = heap_result((size_t)(uintptr_t)arg);
	return 0;
}

static void counts_reset(void)
{
	atomic_store(&computed, 0);
	atomic_store(&destroyed, 0);
	atomic_store(&wrong_arg, 0);
	atomic_store(&on_failed, 0);
	atomic_store(&on_null, 0);
	fail_at = SIZE_MAX;
	map_gate_reset();
	map_gate_open(LONG_MAX);
}

static struct filch_map_opts dtor_opts(size_t chunk, size_t buf,
				       unsigned flags)
{
	return (struct filch_map_opts){
		.flags = flags | FILCH_MAP_RESULT_DTOR,
		.chunksize = chunk,
		.buffersize = buf,
		.result_dtor = result_dtor,
		.dtor_arg = &dtor_token,
	};
}

/* Reads up to max results (by spans when by_span: whole spans), freeing
 * each; returns how many were yielded; *rc: the last return. */
static long consume(filch_map_iter *it, long max, bool by_span, int *rc)
{
	long yielded = 0;

	*rc = 0;
	while (yielded < max) {
		if (by_span) {
			void *const *span;
			size_t count;
			if ((*rc = filch_map_next_span(it, &span, &count)) != 0)
				break;
			for (size_t i = 0; i < count; i++, yielded++)
				free(span[i]);
		} else {
			void *r;
			if ((*rc = filch_map_next(it, &r)) != 0)
				break;
			free(r);
			yielded++;
		}
	}
	return yielded;
}

/* After close: every result made was yielded or destroyed, once. */
static void check_counts(long yielded, const char *what)
{
	long c = atomic_load(&computed), d = atomic_load(&destroyed);

	is(d, c - yielded, "%s: %ld made, %ld yielded, %ld destroyed", what,
	   c, yielded, d);
	is(atomic_load(&wrong_arg), 0, "%s: every call got dtor_arg", what);
	is(atomic_load(&on_failed), 0, "%s: never the failing item's", what);
	is(atomic_load(&on_null), 0, "%s: never a NULL result", what);
}

static void test_early_close(filch_executor *ex)
{
	enum { N = 200 };
	void **items = cf_numbers(N);
	struct {
		size_t chunk, buf;
		unsigned flags;
		bool span, chunk_fn;
		long read;
	} cfg[] = {
		{4, 8, 0, false, false, 10},
		{4, 8, 0, true, false, 10},
		{1, 3, 0, false, false, 10},
		{4, 8, FILCH_MAP_CALLER_RUNS, false, false, 10},
		{7, 5, FILCH_MAP_CALLER_RUNS, true, true, 10},
		{16, 4, 0, true, true, 10},
		{4, 8, 0, false, false, 0},
		{0, 0, 0, false, false, N},
	};

	for (size_t k = 0; k < sizeof(cfg) / sizeof(cfg[0]); k++) {
		struct filch_map_opts o =
		    dtor_opts(cfg[k].chunk, cfg[k].buf, cfg[k].flags);
		filch_map_iter *it;
		int rc;

		counts_reset();
		if (cfg[k].chunk_fn) {
			o.chunk_fn = heap_chunk;
			rc = filch_map(&it, ex, NULL, NULL, N, &o);
		} else {
			rc = filch_map(&it, ex, heap_fn, items, N, &o);
		}
		is(rc, 0, "map of heap results, chunk %zu, buffer %zu, flags "
			  "%u, %s, %s", cfg[k].chunk, cfg[k].buf, cfg[k].flags,
		   cfg[k].chunk_fn ? "chunk_fn" : "fn",
		   cfg[k].span ? "spans" : "one by one");
		long yielded = consume(it, cfg[k].read, cfg[k].span, &rc);
		if (cfg[k].read == N) {
			is(consume(it, 1, false, &rc), 0, "no more");
			is(rc, FILCH_END, "all %d read, then FILCH_END", N);
		}
		cf_sleep_ms(5); /* let some chunks finish unread */
		filch_map_close(it);
		check_counts(yielded, cfg[k].read == N ? "read to the end"
						       : "closed early");
		if (cfg[k].read == N)
			is(atomic_load(&destroyed), 0, "nothing destroyed");
	}
	free(items);
}

/* A timeout: the results before the held item come out; the chunks that
 * finish after it (item 5's own, once let through) are destroyed. */
static void test_timeout(void)
{
	filch_executor *ex = cf_executor(2);
	enum { N = 60 };
	void **items = cf_numbers(N);
	struct filch_map_opts o = dtor_opts(1, 8, 0);
	filch_map_iter *it;
	int rc;

	o.timeout_ns = 200 * MS;
	counts_reset();
	map_gate_open(0); /* item 5 waits */
	is(filch_map(&it, ex, heap_fn, items, N, &o), 0,
	   "map of heap results, 200 ms, item 5 held");
	long yielded = consume(it, N, false, &rc);
	is(rc, -ETIMEDOUT, "-ETIMEDOUT");
	ok(yielded <= 5, "after at most the 5 results before the held item "
			 "(%ld)", yielded);
	map_wait_for(&map_started, 1, 10000); /* item 5 runs, held */
	map_gate_open(LONG_MAX);
	filch_map_close(it);
	check_counts(yielded, "timeout");
	ok(atomic_load(&destroyed) >= 1, "item 5's result, made after the "
					 "timeout, destroyed");
	filch_executor_destroy(ex);
	free(items);
}

/* An error in the middle ends the map: what the later chunks made, and
 * (chunk_fn) what the failing chunk stored before it, and was not yielded,
 * is destroyed. */
static void test_error(filch_executor *ex)
{
	enum { N = 200 };
	void **items = cf_numbers(N);

	for (int chunk_fn = 0; chunk_fn < 2; chunk_fn++) {
		for (int span = 0; span < 2; span++) {
			struct filch_map_opts o = dtor_opts(7, 6, 0);
			filch_map_iter *it;
			int rc;

			counts_reset();
			fail_at = 100;
			if (chunk_fn) {
				o.chunk_fn = heap_chunk;
				rc = filch_map(&it, ex, NULL, NULL, N, &o);
			} else {
				rc = filch_map(&it, ex, heap_fn, items, N, &o);
			}
			is(rc, 0, "map failing at item 100, %s, %s",
			   chunk_fn ? "chunk_fn" : "fn",
			   span ? "spans" : "one by one");
			long yielded = consume(it, N, span, &rc);
			is(rc, chunk_fn ? 43 : 42, "the error");
			is(yielded, 100, "after the 100 results before it");
			cf_sleep_ms(5);
			filch_map_close(it);
			check_counts(yielded, "error in the middle");
		}
	}

	/* Closed before the consumer reached the failing chunk: its partial
	 * results (98, 99 in the chunk 98..104) are destroyed too. */
	struct filch_map_opts o = dtor_opts(7, 30, 0);
	o.chunk_fn = heap_chunk;
	filch_map_iter *it;
	int rc;
	counts_reset();
	fail_at = 100;
	is(filch_map(&it, ex, NULL, NULL, N, &o), 0,
	   "chunk_fn failing at 100, 30 chunks in flight");
	long yielded = consume(it, 3, false, &rc);
	map_wait_for(&computed, 100 + 5 * 7, 5000); /* past the failure */
	filch_map_close(it);
	check_counts(yielded, "partial chunk never reached");
	free(items);
}

/* Close asks running chunks to stop: what they stored is destroyed. */
static void test_close_stops(void)
{
	for (int chunk_fn = 0; chunk_fn < 2; chunk_fn++) {
		filch_executor *ex = cf_executor(1);
		enum { N = 4000 };
		void **items = cf_numbers(N);
		struct filch_map_opts o = dtor_opts(N, 1, 0);
		filch_map_iter *it;

		counts_reset();
		if (chunk_fn)
			o.chunk_fn = heap_chunk_until_cancelled;
		is(filch_map(&it, ex, chunk_fn ? NULL : heap_fn_slow,
			     chunk_fn ? NULL : items, N, &o),
		   0, "one chunk of 4000 slow items, %s",
		   chunk_fn ? "chunk_fn polling" : "fn");
		map_wait_for(&computed, 10, 5000);
		filch_map_close(it);
		ok(atomic_load(&computed) < N, "close stopped it (%ld made)",
		   atomic_load(&computed));
		check_counts(0, "stopped by close");
		filch_executor_destroy(ex);
		free(items);
	}
}

/* A cancelling shutdown: one chunk runs (held at the gate: the only
 * worker is in it), the others are cancelled; the map ends with -ECANCELED
 * (the head, or the chunk after it if the head was the running one), and
 * the running chunk's results, unless yielded, are destroyed. */
static void test_cancelling_shutdown(void)
{
	filch_executor *ex = cf_executor(1);
	enum { N = 100 };
	void **items = cf_numbers(N);
	struct filch_map_opts o = dtor_opts(4, 4, 0);
	filch_map_iter *it;
	int rc;

	counts_reset();
	map_gate_open(0); /* every item waits */
	is(filch_map(&it, ex, heap_fn_gated, items, N, &o), 0,
	   "map of heap results, held at the gate");
	map_wait_for(&map_started, 1, 5000);
	filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING);
	map_gate_open(LONG_MAX);
	long yielded = consume(it, N, false, &rc);
	is(rc, -ECANCELED, "the map ends with -ECANCELED");
	filch_map_close(it);
	is(atomic_load(&computed), 4, "only the running chunk made results");
	check_counts(yielded, "cancelling shutdown");
	filch_executor_destroy(ex);
	free(items);
}

/* Every third item has a NULL result (a fn that stores none). */
static int heap_or_null(void *arg, void **result)
{
	size_t x = (size_t)(uintptr_t)arg;

	if (x % 3)
		*result = heap_result(x);
	return 0;
}

/* NULL results are not passed to the destructor, as with a future's. */
static void test_null_results(filch_executor *ex)
{
	enum { N = 120 };
	void **items = cf_numbers(N);
	struct filch_map_opts o = dtor_opts(5, 6, 0);
	filch_map_iter *it;
	long yielded = 0;
	void *r;

	counts_reset();
	is(filch_map(&it, ex, heap_or_null, items, N, &o), 0,
	   "map with a NULL result every third item");
	for (int i = 0; i < 12 && filch_map_next(it, &r) == 0; i++) {
		yielded += r != NULL;
		free(r);
	}
	cf_sleep_ms(5);
	filch_map_close(it);
	check_counts(yielded, "NULL results");
	free(items);
}

static int plain(void *arg, void **result)
{
	*result = arg;
	return 0;
}

/* Without FILCH_MAP_RESULT_DTOR the fields are not read (a program built
 * against an older filch.h has none); the flag with a NULL destructor is
 * the default, none. */
static void test_gate(filch_executor *ex)
{
	enum { N = 100 };
	void **items = cf_numbers(N);
	struct filch_map_opts no_flag = {.chunksize = 4,
					 .result_dtor = result_dtor,
					 .dtor_arg = &dtor_token};
	struct filch_map_opts null_dtor = {.flags = FILCH_MAP_RESULT_DTOR,
					   .chunksize = 4};
	struct filch_map_opts *cases[2] = {&no_flag, &null_dtor};
	filch_map_iter *it;
	void *r;

	for (int k = 0; k < 2; k++) {
		counts_reset();
		is(filch_map(&it, ex, plain, items, N, cases[k]), 0,
		   "%s", k ? "the flag with a NULL result_dtor"
			   : "result_dtor without the flag");
		filch_map_next(it, &r);
		cf_sleep_ms(5);
		filch_map_close(it);
		is(atomic_load(&destroyed), 0, "no destructor call");
	}
	free(items);
}

int main(void)
{
	tap_plan(0);
	filch_executor *ex = cf_executor(2);
	test_early_close(ex);
	test_error(ex);
	test_gate(ex);
	test_null_results(ex);
	filch_executor_destroy(ex);
	test_timeout();
	test_close_stops();
	test_cancelling_shutdown();
	return tap_done();
}
