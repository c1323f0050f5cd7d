/* SPDX-License-Identifier: MIT */
/* test_map_chunk.c - filch_map with a chunk function (filch_map_opts
 * .chunk_fn): argument checks, maps over indices and over arrays in input
 * order with every chunking, each item in exactly one chunk, errors in the
 * middle (ndone, sign, clamping), huge chunk sizes clamped to the input,
 * generators, close stopping a chunk that polls for cancellation. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include <filch.h>

#include "cf_helpers.h"
#include "tap.h"

static const int64_t MS = 1000000;

/* Chunks run and items covered, over all chunks of one map. */
static atomic_long chunks_run;
static atomic_long items_seen;

/* What a chunk function gets through chunk_arg. */
struct chunk_ctx {
	long add;	  /* added to every result */
	size_t fail_at;	  /* input index that fails, or SIZE_MAX */
	int code;	  /* returned for it */
	long ndone_bias;  /* added to the honest ndone (to test clamping) */
	bool leave_ndone; /* return the error without setting ndone */
};

/* results[i] = (first + i)^2 + add over indices, or item^2 + add over an
 * array (whose items are their own indices). */
static int square_chunk(void *arg, struct filch_chunk *c)
{
	const struct chunk_ctx *ctx = arg;

	atomic_fetch_add(&chunks_run, 1);
	atomic_fetch_add(&items_seen, (long)c->n);
	for (size_t i = 0; i < c->n; i++) {
		size_t x = c->items ? (size_t)(uintptr_t)c->items[i]
				    : c->first + i;
		if (c->items && x != c->first + i)
			return 99; /* first does not match the input */
		if (x == ctx->fail_at) {
			if (!ctx->leave_ndone)
				c->ndone = (size_t)((long)i + ctx->ndone_bias);
			return ctx->code;
		}
		c->results[i] = (void *)(uintptr_t)(x * x + (size_t)ctx->add);
	}
	return 0;
}

/* Reads it to its end by spans; counts results that are not
 * i^2 + add for their position i. */
static int drain(filch_map_iter *it, long add, size_t *got, size_t *bad)
{
	void *const *span;
	size_t count;
	int rc;

	*got = *bad = 0;
	while ((rc = filch_map_next_span(it, &span, &count)) == 0)
		for (size_t i = 0; i < count; i++, (*got)++)
			*bad += (uintptr_t)span[i] !=
				(uintptr_t)(*got * *got + (size_t)add);
	return rc;
}

static void test_bad_input(filch_executor *ex)
{
	struct chunk_ctx ctx = {.fail_at = SIZE_MAX};
	struct filch_map_opts o = {.chunk_fn = square_chunk,
				   .chunk_arg = &ctx};
	filch_map_iter *const sentinel = (filch_map_iter *)&ex;
	filch_map_iter *it = sentinel;
	void *items[1] = {NULL};

	is(filch_map(&it, ex, cf_task_sleep, items, 1, &o), -EINVAL,
	   "fn and chunk_fn both set");
	is(filch_map(&it, ex, NULL, items, 1, NULL), -EINVAL,
	   "neither fn nor chunk_fn");
	is(filch_map_gen(&it, ex, NULL, NULL, NULL, &o), -EINVAL,
	   "chunk_fn with a NULL generator");
	ok(it == sentinel, "*it untouched by the errors");
	is(filch_map(&it, ex, NULL, NULL, 0, &o), 0,
	   "an index map over nothing");
	is(filch_map_next(it, &items[0]), FILCH_END, "ends at once");
	filch_map_close(it);
	is(atomic_load(&chunks_run), 0, "the chunk function never ran");
}

static void test_order(filch_executor *ex, bool over_indices)
{
	enum { N = 10007 };
	void **items = over_indices ? NULL : cf_numbers(N);
	struct {
		size_t chunk, buf;
		unsigned flags;
	} cfg[] = {{0, 0, 0},	   {1, 1, 0},	 {1, 3, 0},	{7, 3, 0},
		   {N, 1, 0},	   {333, 2, 0},	 {50000, 0, 0}, {3, 1000, 0},
		   {0, 0, FILCH_MAP_CALLER_RUNS}, {1, 1, FILCH_MAP_CALLER_RUNS},
		   {7, 3, FILCH_MAP_CALLER_RUNS}, {50, 40, FILCH_MAP_CALLER_RUNS}};
	struct chunk_ctx ctx = {.add = 5, .fail_at = SIZE_MAX};

	for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
		struct filch_map_opts o = {.chunksize = cfg[c].chunk,
					   .buffersize = cfg[c].buf,
					   .flags = cfg[c].flags,
					   .chunk_fn = square_chunk,
					   .chunk_arg = &ctx};
		size_t expect_chunks =
		    cfg[c].chunk ? (N + cfg[c].chunk - 1) / cfg[c].chunk : 0;
		filch_map_iter *it;
		size_t got, bad;

		atomic_store(&chunks_run, 0);
		atomic_store(&items_seen, 0);
		is(filch_map(&it, ex, NULL, items, N, &o), 0,
		   "%s map, chunk %zu buffer %zu flags %u",
		   over_indices ? "index" : "array", cfg[c].chunk, cfg[c].buf,
		   cfg[c].flags);
		is(drain(it, ctx.add, &got, &bad), FILCH_END,
		   "ends with FILCH_END");
		is(got, N, "%d results", N);
		is(bad, 0, "each is its item's, in input order");
		is(atomic_load(&items_seen), N, "every item in exactly one chunk");
		if (expect_chunks)
			is((size_t)atomic_load(&chunks_run), expect_chunks,
			   "one call per chunk (%zu)", expect_chunks);
		filch_map_close(it);
	}
	free(items);
}

/* An error at item 500: the results before it, then its code, whatever
 * the chunking; a negative code comes back positive; ndone beyond the
 * chunk is clamped to it, ndone left alone reads 0. */
static void test_error_in_middle(filch_executor *ex)
{
	enum { N = 1000 };
	size_t chunks[] = {1, 7, 64, 1000};

	for (size_t c = 0; c < 2 * sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct chunk_ctx ctx = {.fail_at = 500, .code = c % 2 ? -7 : 42};
		struct filch_map_opts o = {
		    .chunksize = chunks[c % 4],
		    .flags = c >= 4 ? FILCH_MAP_CALLER_RUNS : 0,
		    .chunk_fn = square_chunk,
		    .chunk_arg = &ctx};
		filch_map_iter *it;
		size_t got, bad;

		is(filch_map(&it, ex, NULL, NULL, N, &o), 0,
		   "map failing at 500, chunk %zu, flags %u", o.chunksize,
		   o.flags);
		is(drain(it, 0, &got, &bad), c % 2 ? 7 : 42,
		   "the chunk's code, made positive");
		is(got, 500, "after the 500 results before the failure");
		is(bad, 0, "in order");
		filch_map_close(it);
	}

	struct chunk_ctx clamp = {.fail_at = 500, .code = 3,
				  .ndone_bias = 1000000};
	struct filch_map_opts o = {.chunksize = 100, .chunk_fn = square_chunk,
				   .chunk_arg = &clamp};
	filch_map_iter *it;
	size_t got, bad;

	filch_map(&it, ex, NULL, NULL, N, &o);
	is(drain(it, 0, &got, &bad), 3, "ndone past the chunk: the code");
	is(got, 600, "ndone clamped to the chunk's 100 items");
	filch_map_close(it);

	struct chunk_ctx silent = {.fail_at = 550, .code = 4,
				   .leave_ndone = true};
	o.chunk_arg = &silent;
	filch_map(&it, ex, NULL, NULL, N, &o);
	is(drain(it, 0, &got, &bad), 4, "ndone left alone: the code");
	is(got, 500, "no result of the failing chunk");
	filch_map_close(it);
}

static int count_gen(void *arg, void **item)
{
	size_t *next = arg;

	if (*next == 2500)
		return FILCH_END;
	*item = (void *)(uintptr_t)(*next)++;
	return 0;
}

static void test_generator(filch_executor *ex)
{
	size_t next = 0;
	struct chunk_ctx ctx = {.fail_at = SIZE_MAX};
	struct filch_map_opts o = {.chunksize = 64, .buffersize = 2,
				   .chunk_fn = square_chunk,
				   .chunk_arg = &ctx};
	filch_map_iter *it;
	size_t got, bad;

	is(filch_map_gen(&it, ex, NULL, count_gen, &next, &o), 0,
	   "a generator map with a chunk function");
	is(drain(it, 0, &got, &bad), FILCH_END, "ends with FILCH_END");
	is(got, 2500, "every item generated");
	is(bad, 0, "first counts the items generated before the chunk");
	filch_map_close(it);
}

/* 0, 1, ..., 199, then FILCH_END. */
static int count_200(void *arg, void **item)
{
	size_t *next = arg;

	if (*next == 200)
		return FILCH_END;
	*item = (void *)(uintptr_t)(*next)++;
	return 0;
}

/* A chunk size past the input is clamped to it: one chunk of all n items,
 * over indices, over an array and (a bounded one) over a generator; with a
 * huge buffer size too. */
static void test_clamp(filch_executor *ex)
{
	enum { N = 200 };
	void **items = cf_numbers(N);
	struct chunk_ctx ctx = {.fail_at = SIZE_MAX};
	size_t bufs[] = {0, 1, SIZE_MAX};

	for (int kind = 0; kind < 3; kind++) {
		for (size_t b = 0; b < sizeof(bufs) / sizeof(bufs[0]); b++) {
			struct filch_map_opts o = {.chunksize = SIZE_MAX,
						   .buffersize = bufs[b],
						   .chunk_fn = square_chunk,
						   .chunk_arg = &ctx};
			size_t next = 0;
			filch_map_iter *it;
			size_t got, bad;
			int rc;

			atomic_store(&chunks_run, 0);
			if (kind == 2)
				rc = filch_map_gen(&it, ex, NULL, count_200,
						   &next, &o);
			else
				rc = filch_map(&it, ex, NULL,
					       kind ? items : NULL, N, &o);
			is(rc, 0, "%s of %d, chunk SIZE_MAX, buffer %zu: "
				  "accepted",
			   kind == 2 ? "generator" : kind ? "array" : "index map",
			   N, bufs[b]);
			if (rc)
				continue;
			rc = drain(it, 0, &got, &bad);
			ok(rc == FILCH_END && got == N && bad == 0,
			   "all %d results", N);
			is(atomic_load(&chunks_run), 1, "in one chunk");
			filch_map_close(it);
		}
	}
	free(items);
}

static atomic_bool stop_seen;

/* One long chunk that polls for a cancel request between items. */
static int polling_chunk(void *arg, struct filch_chunk *c)
{
	(void)arg;
	for (size_t i = 0; i < c->n; i++) {
		if (filch_cancel_requested()) {
			atomic_store(&stop_seen, true);
			c->ndone = i;
			return ECANCELED;
		}
		cf_sleep_ms(1);
		c->results[i] = NULL;
	}
	return 0;
}

static void test_close_stops_polling_chunk(void)
{
	filch_executor *ex = cf_executor(1);
	struct filch_map_opts o = {.chunksize = 4000,
				   .chunk_fn = polling_chunk};
	filch_map_iter *it;

	atomic_store(&stop_seen, false);
	is(filch_map(&it, ex, NULL, NULL, 4000, &o), 0,
	   "one chunk of 4000 items of 1 ms");
	cf_sleep_ms(30);
	int64_t t0 = tap_now_ns();
	filch_map_close(it);
	int64_t el = tap_now_ns() - t0;
	ok(atomic_load(&stop_seen), "the chunk saw the cancel request");
	ok(el < 2000 * MS, "close returned in %lld ms", (long long)(el / MS));
	filch_executor_destroy(ex);
}

int main(void)
{
	tap_plan(0);
	filch_executor *ex = cf_executor(2);
	test_bad_input(ex);
	test_order(ex, true);
	test_order(ex, false);
	test_error_in_middle(ex);
	test_generator(ex);
	test_clamp(ex);
	filch_executor_destroy(ex);
	test_close_stops_polling_chunk();
	return tap_done();
}
