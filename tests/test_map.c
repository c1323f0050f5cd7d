/* SPDX-License-Identifier: MIT */
/* test_map.c - filch_map / filch_map_gen: input order for every chunking,
 * errors in the middle, timeouts (and FILCH_MAP_TIMEOUT_SET), laziness, the
 * bound on work in flight and its refill as soon as a chunk is consumed,
 * huge chunk and buffer sizes clamped, outputs untouched on errors,
 * generators (endless, failing), close, shutdown, and maps inside
 * workers. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>

#include <filch.h>

#include "cf_helpers.h"
#include "map_helpers.h"
#include "tap.h"

static const int64_t MS = 1000000;

static atomic_long calls;

static int square(void *arg, void **result)
{
	long x = (long)(intptr_t)arg;
	atomic_fetch_add(&calls, 1);
	*result = (void *)(intptr_t)(x * x);
	return 0;
}

/* Fails with code 42 on item 500, with a negative -7 on item 900, and
 * with INT_MIN on item 950. */
static int square_or_fail(void *arg, void **result)
{
	long x = (long)(intptr_t)arg;
	if (x == 500)
		return 42;
	if (x == 900)
		return -7;
	if (x == 950)
		return INT_MIN;
	return square(arg, result);
}

static void test_bad_input(filch_executor *ex)
{
	filch_map_iter *const sentinel = (filch_map_iter *)&ex;
	filch_map_iter *it = sentinel;
	void *items[1] = {NULL}, *r;
	struct filch_map_opts bad = {
		.flags = ~(FILCH_MAP_CALLER_RUNS | FILCH_MAP_TIMEOUT_SET |
			   FILCH_MAP_RESULT_DTOR)};
	struct filch_map_opts bad_bit = {.flags = 8u};

	is(filch_map(NULL, ex, square, items, 1, NULL), -EINVAL, "NULL it");
	is(filch_map(&it, NULL, square, items, 1, NULL), -EINVAL, "NULL ex");
	is(filch_map(&it, ex, NULL, items, 1, NULL), -EINVAL, "NULL fn");
	is(filch_map(&it, ex, square, NULL, 1, NULL), -EINVAL,
	   "NULL items with n > 0");
	is(filch_map(&it, ex, square, items, 1, &bad), -EINVAL,
	   "unknown flags");
	is(filch_map(&it, ex, square, items, 1, &bad_bit), -EINVAL,
	   "the first unknown flag bit");
	is(filch_map_gen(&it, ex, square, NULL, NULL, NULL), -EINVAL,
	   "NULL generator");
	is(filch_map_gen(&it, NULL, square, NULL, NULL, NULL), -EINVAL,
	   "NULL ex and generator");
	ok(it == sentinel, "*it untouched by every error");
	is(filch_map_next(NULL, &r), -EINVAL, "next(NULL)");
	filch_map_close(NULL);
	ok(1, "close(NULL) is a no-op");
}

/* A call that returns an error writes none of its outputs: next leaves
 * *result alone on FILCH_END, an error, a timeout and -EINVAL; next_span
 * leaves *results alone and says "no results" with *count = 0 (but writes
 * nothing on -EINVAL). */
static void test_outputs_on_error(filch_executor *ex)
{
	void *const sentinel = (void *)&ex;
	void **items = cf_numbers(1000);
	void *r = sentinel;
	void *const *span = &sentinel;
	size_t count = 77;
	filch_map_iter *it;

	is(filch_map(&it, ex, square_or_fail, items, 1000, NULL), 0,
	   "a map failing at item 500");
	for (int i = 0; i < 500; i++)
		filch_map_next(it, &r);
	r = sentinel;
	is(filch_map_next(it, &r), 42, "the error");
	ok(r == sentinel, "*result untouched by the error");
	is(filch_map_next(it, &r), FILCH_END, "then FILCH_END");
	ok(r == sentinel, "*result untouched by FILCH_END");
	is(filch_map_next(it, NULL), -EINVAL, "NULL result");
	is(filch_map_next_span(it, NULL, &count), -EINVAL, "NULL results");
	is(count, 77, "-EINVAL leaves *count alone");
	is(filch_map_next_span(it, &span, NULL), -EINVAL, "NULL count");
	ok(span == &sentinel, "-EINVAL leaves *results alone");
	count = 78;
	ok(filch_map_next_span(it, &span, &count) == FILCH_END && count == 78,
	   "span: FILCH_END leaves *count alone");
	ok(span == &sentinel, "*results untouched by FILCH_END");
	filch_map_close(it);

	is(filch_map(&it, ex, square_or_fail, items, 1000, NULL), 0,
	   "the same map read by spans");
	int rc;
	size_t got = 0;
	while ((rc = filch_map_next_span(it, &span, &count)) == 0)
		got += count;
	const void *last = span;
	count = 77;
	is(rc, 42, "span: the error after %zu results", got);
	ok(filch_map_next_span(it, &span, &count) == FILCH_END && count == 77 &&
	   span == last, "span: FILCH_END, *count and *results untouched");
	filch_map_close(it);
	free(items);
}

static void test_empty(filch_executor *ex)
{
	filch_map_iter *it;
	void *r;

	is(filch_map(&it, ex, square, NULL, 0, NULL), 0, "map over nothing");
	is(filch_map_next(it, &r), FILCH_END, "FILCH_END at once");
	filch_map_close(it);
}

static void test_order(filch_executor *ex)
{
	enum { N = 1000 };
	void **items = cf_numbers(N);
	struct {
		size_t chunk, buf;
		unsigned flags;
	} cfg[] = {{0, 0, 0}, {1, 1, 0}, {1, 3, 0}, {7, 3, 0}, {1000, 1, 0},
		   {333, 2, 0}, {5000, 0, 0}, {3, 1000, 0},
		   {0, 0, FILCH_MAP_CALLER_RUNS}, {1, 1, FILCH_MAP_CALLER_RUNS},
		   {7, 3, FILCH_MAP_CALLER_RUNS}, {50, 40, FILCH_MAP_CALLER_RUNS}};

	for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
		struct filch_map_opts o = {.chunksize = cfg[c].chunk,
					   .buffersize = cfg[c].buf,
					   .flags = cfg[c].flags};
		filch_map_iter *it;
		void *r;
		int rc, bad = 0;
		size_t got = 0;

		atomic_store(&calls, 0);
		is(filch_map(&it, ex, square, items, N, &o), 0,
		   "map chunk %zu buffer %zu flags %u", cfg[c].chunk,
		   cfg[c].buf, cfg[c].flags);
		while ((rc = filch_map_next(it, &r)) == 0) {
			bad += (intptr_t)r != (intptr_t)(got * got);
			got++;
		}
		is(rc, FILCH_END, "ends with FILCH_END");
		is(got, N, "%d results", N);
		is(bad, 0, "all in input order");
		is(atomic_load(&calls), N, "fn called once per item");
		is(filch_map_next(it, &r), FILCH_END, "FILCH_END again");
		filch_map_close(it);
	}
	free(items);
}

static void test_error_in_middle(filch_executor *ex)
{
	enum { N = 1000 };
	void **items = cf_numbers(N);
	size_t chunks[] = {0, 1, 7, 64, 1000};

	for (size_t c = 0; c < 2 * sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct filch_map_opts o = {
			.chunksize = chunks[c % 5],
			.flags = c >= 5 ? FILCH_MAP_CALLER_RUNS : 0};
		filch_map_iter *it;
		void *r;
		int rc, bad = 0;
		size_t got = 0;

		is(filch_map(&it, ex, square_or_fail, items, N, &o), 0,
		   "map with a failing item, chunk %zu, flags %u", o.chunksize,
		   o.flags);
		while ((rc = filch_map_next(it, &r)) == 0) {
			bad += (intptr_t)r != (intptr_t)(got * got);
			got++;
		}
		is(got, 500, "the 500 results before the failing item");
		is(bad, 0, "in order");
		is(rc, 42, "then the task's code 42");
		is(filch_map_next(it, &r), FILCH_END, "then FILCH_END");
		filch_map_close(it);
	}
	/* A negative task return comes back positive. */
	filch_map_iter *it;
	void *r;
	int rc;
	size_t got = 0;
	filch_map(&it, ex, square_or_fail, items + 501, N - 501, NULL);
	while ((rc = filch_map_next(it, &r)) == 0)
		got++;
	is(got, 900 - 501, "results before item 900");
	is(rc, 7, "-7 from fn is code 7");
	filch_map_close(it);
	/* INT_MIN has no positive counterpart: EOVERFLOW, as for a task. */
	for (unsigned flags = 0; flags <= FILCH_MAP_CALLER_RUNS; flags++) {
		struct filch_map_opts o = {.flags = flags};

		got = 0;
		filch_map(&it, ex, square_or_fail, items + 901, N - 901, &o);
		while ((rc = filch_map_next(it, &r)) == 0)
			got++;
		is(got, 950 - 901, "results before item 950 (flags %u)", flags);
		is(rc, EOVERFLOW, "INT_MIN from fn is EOVERFLOW (flags %u)", flags);
		filch_map_close(it);
	}
	free(items);
}

static void test_span(filch_executor *ex)
{
	enum { N = 5000 };
	void **items = cf_numbers(N);
	struct filch_map_opts o = {.chunksize = 64, .buffersize = 3,
				   .flags = FILCH_MAP_CALLER_RUNS};
	filch_map_iter *it;
	void *const *span;
	void *one;
	size_t count, got = 0, spans = 0, bad = 0;
	int rc;

	is(filch_map(&it, ex, square_or_fail, items, N, &o), 0,
	   "map read by spans");
	for (;;) {
		/* Mix the two calls: every third read takes one result. */
		if (spans % 3 == 2) {
			rc = filch_map_next(it, &one);
			span = &one;
			count = rc == 0;
		} else {
			rc = filch_map_next_span(it, &span, &count);
		}
		if (rc)
			break;
		bad += count == 0; /* a span is never empty */
		for (size_t i = 0; i < count; i++, got++)
			bad += (intptr_t)span[i] != (intptr_t)(got * got);
		spans++;
	}
	is(got, 500, "spans cover the 500 results before the failure");
	is(bad, 0, "in order");
	is(rc, 42, "then the error");
	count = 5;
	ok(filch_map_next_span(it, &span, &count) == FILCH_END && count == 5,
	   "then FILCH_END, count untouched");
	filch_map_close(it);
	free(items);
}

static int sleepy(void *arg, void **result)
{
	cf_sleep_ms((long)(intptr_t)arg);
	atomic_fetch_add(&calls, 1);
	*result = arg;
	return 0;
}

static void test_timeout(void)
{
	filch_executor *ex = cf_executor(4);
	void *items[8] = {(void *)1, (void *)1, (void *)2, (void *)400,
			  (void *)1, (void *)1, (void *)1, (void *)1};
	struct filch_map_opts o = {.timeout_ns = 100 * MS, .chunksize = 1};
	filch_map_iter *it;
	void *r;
	int rc, got = 0;

	int64_t t0 = tap_now_ns();
	is(filch_map(&it, ex, sleepy, items, 8, &o), 0, "map, 100 ms");
	while ((rc = filch_map_next(it, &r)) == 0)
		got++;
	is(got, 3, "the 3 results before the slow item");
	is(rc, -ETIMEDOUT, "then -ETIMEDOUT");
	int64_t el = tap_now_ns() - t0;
	ok(el >= 99 * MS, "not before the timeout (%lld ms)",
	   (long long)(el / MS));
	is(filch_map_next(it, &r), FILCH_END, "a timeout ends the map");
	filch_map_close(it);
	filch_executor_destroy(ex);
}

/* An endless generator of 0, 1, 2, ... that counts what it produced. */
struct counter {
	long next;
	long limit; /* < 0: endless; else FILCH_END at limit */
	long fail_at; /* > 0: return -EIO when next reaches it */
};

static int count_gen(void *arg, void **item)
{
	struct counter *c = arg;
	if (c->fail_at > 0 && c->next == c->fail_at)
		return -EIO;
	if (c->limit >= 0 && c->next >= c->limit)
		return FILCH_END;
	*item = (void *)(intptr_t)c->next++;
	return 0;
}

static void test_generator(filch_executor *ex)
{
	struct counter c = {.limit = -1};
	struct filch_map_opts o = {.chunksize = 2, .buffersize = 4};
	filch_map_iter *it;
	void *r;
	long maxahead = 0, bad = 0;

	is(filch_map_gen(&it, ex, square, count_gen, &c, &o), 0,
	   "map over an endless generator");
	for (long i = 0; i < 20000; i++) {
		if (filch_map_next(it, &r) != 0) {
			bad++;
			break;
		}
		bad += (intptr_t)r != (intptr_t)(i * i);
		long ahead = c.next - (i + 1);
		if (ahead > maxahead)
			maxahead = ahead;
	}
	is(bad, 0, "20000 results in order");
	ok(maxahead <= 4 * 2, "never more than buffersize * chunksize items "
			      "taken ahead of the consumer (%ld)",
	   maxahead);
	filch_map_close(it);

	struct counter f = {.limit = -1, .fail_at = 10};
	int rc;
	long got = 0;
	is(filch_map_gen(&it, ex, square, count_gen, &f, &o), 0,
	   "map over a generator that fails");
	while ((rc = filch_map_next(it, &r)) == 0)
		got++;
	is(got, 10, "the 10 results before the generator's error");
	is(rc, -EIO, "then its -EIO");
	filch_map_close(it);

	struct counter none = {.limit = 0};
	is(filch_map_gen(&it, ex, square, count_gen, &none, NULL), 0,
	   "map over an empty generator");
	is(filch_map_next(it, &r), FILCH_END, "FILCH_END at once");
	filch_map_close(it);
}

static int gen_fails_at_once(void *arg, void **item)
{
	(void)arg;
	(void)item;
	return -EPROTO;
}

static void test_generator_fails_first(filch_executor *ex)
{
	filch_map_iter *const sentinel = (filch_map_iter *)&ex;
	filch_map_iter *it = sentinel;
	atomic_store(&calls, 0);
	is(filch_map_gen(&it, ex, square, gen_fails_at_once, NULL, NULL),
	   -EPROTO, "a generator failing before any item fails the call");
	ok(it == sentinel, "*it untouched");
	is(atomic_load(&calls), 0, "fn never called");
}

static void test_lazy_and_close(void)
{
	filch_executor *ex = cf_executor(2);
	enum { N = 100 };
	void *items[N];
	for (int i = 0; i < N; i++)
		items[i] = (void *)(intptr_t)2;
	struct filch_map_opts o = {.chunksize = 1, .buffersize = 2};
	filch_map_iter *it;
	void *r;

	atomic_store(&calls, 0);
	is(filch_map(&it, ex, sleepy, items, N, &o), 0, "map, 2 in flight");
	cf_sleep_ms(60);
	ok(atomic_load(&calls) <= 2, "without a consumer at most 2 items ran "
				     "(%ld)",
	   atomic_load(&calls));
	is(filch_map_next(it, &r), 0, "one result");
	filch_map_close(it);
	long after = atomic_load(&calls);
	ok(after <= 4, "close cancelled the rest (%ld ran)", after);
	cf_sleep_ms(20);
	is(atomic_load(&calls), after, "nothing runs after close returned");
	filch_executor_destroy(ex);
}

/* Runs until close asks it to stop: a long chunk stops early. */
static int until_cancelled(void *arg, void **result)
{
	(void)arg;
	atomic_fetch_add(&calls, 1);
	*result = NULL;
	cf_sleep_ms(1);
	return 0;
}

static void test_close_stops_running_chunk(void)
{
	filch_executor *ex = cf_executor(1);
	enum { N = 4000 };
	static void *items[N];
	struct filch_map_opts o = {.chunksize = N};
	filch_map_iter *it;

	atomic_store(&calls, 0);
	is(filch_map(&it, ex, until_cancelled, items, N, &o), 0,
	   "one chunk of 4000 items of 1 ms");
	cf_sleep_ms(30);
	int64_t t0 = tap_now_ns();
	filch_map_close(it);
	int64_t el = tap_now_ns() - t0;
	ok(atomic_load(&calls) < N, "the running chunk stopped early (%ld "
				    "items)",
	   atomic_load(&calls));
	ok(el < 2000 * MS, "close returned in %lld ms", (long long)(el / MS));
	filch_executor_destroy(ex);
}

/* A bounded queue that fails when full: chunks that do not fit wait in
 * their slots and are submitted again as the consumer reaches them. */
static void test_bounded_queue(unsigned flags, size_t buffersize)
{
	struct filch_executor_opts eo = {.workers = 1, .queue_capacity = 1,
					 .full_policy = FILCH_FULL_FAIL};
	filch_executor *ex = NULL;
	enum { N = 40 };
	void *items[N];
	for (int i = 0; i < N; i++)
		items[i] = (void *)(intptr_t)1;
	struct filch_map_opts o = {.chunksize = 1, .buffersize = buffersize,
				   .flags = flags};
	filch_map_iter *it;
	void *r;
	int rc, got = 0;

	if (filch_executor_create(&ex, &eo) != 0)
		bail_out("executor with a bounded queue");
	atomic_store(&calls, 0);
	is(filch_map(&it, ex, sleepy, items, N, &o), 0,
	   "map on a 1-slot queue that fails when full (flags %u, buffer %zu)",
	   flags, buffersize);
	while ((rc = filch_map_next(it, &r)) == 0)
		got++;
	is(rc, FILCH_END, "the full queue held chunks back, it did not end "
			  "the map");
	is(got, N, "all %d results", N);
	is(atomic_load(&calls), N, "fn ran once per item");
	filch_map_close(it);
	filch_executor_destroy(ex);
}

static void test_after_shutdown(void)
{
	filch_executor *ex = cf_executor(1);
	void *items[3] = {0};
	filch_map_iter *const sentinel = (filch_map_iter *)&ex;
	filch_map_iter *it = sentinel;

	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	atomic_store(&calls, 0);
	is(filch_map(&it, ex, square, items, 3, NULL), -ESHUTDOWN,
	   "map after shutdown: -ESHUTDOWN");
	ok(it == sentinel, "*it untouched");
	is(atomic_load(&calls), 0, "fn never called");
	filch_executor_destroy(ex);
}

struct nested {
	long sum;
	int rc;
};

static int mapping_task(void *arg, void **result)
{
	struct nested *n = arg;
	void *items[64];
	for (int i = 0; i < 64; i++)
		items[i] = (void *)(intptr_t)i;
	struct filch_map_opts o = {.chunksize = 3, .buffersize = 2};
	filch_map_iter *it;
	void *r;
	n->rc = filch_map(&it, filch_current_executor(), square, items, 64, &o);
	if (n->rc)
		return EIO;
	while ((n->rc = filch_map_next(it, &r)) == 0)
		n->sum += (long)(intptr_t)r;
	filch_map_close(it);
	(void)result;
	return 0;
}

static void test_on_worker(void)
{
	struct nested n = {0};

	is(cf_run_on_one_worker(mapping_task, &n), 0,
	   "a map inside the only worker completes (helping)");
	is(n.rc, FILCH_END, "it ran to FILCH_END");
	is(n.sum, 63L * 64 * 127 / 6, "sum of squares 0..63");
}

/* Item i (its index): counts its start, waits at the gate, returns i. */
static int gated(void *arg, void **result)
{
	map_gate_pass((long)(intptr_t)arg);
	*result = arg;
	return 0;
}

/* The chunk the consumer has used up is replaced before filch_map_next
 * returns its last result: buffersize chunks stay in flight while the
 * consumer holds the result, on one worker, so exactly (buffersize + 1) *
 * chunksize items start, not buffersize * chunksize. */
static void test_refill_early(unsigned flags, size_t chunk, size_t buf,
			      bool by_span)
{
	filch_executor *ex = cf_executor(1);
	enum { N = 64 };
	void **items = cf_numbers(N);
	struct filch_map_opts o = {.chunksize = chunk, .buffersize = buf,
				   .flags = flags};
	long want = (long)((buf + 1) * chunk);
	filch_map_iter *it;
	void *r;

	map_gate_reset();
	map_gate_open(LONG_MAX);
	is(filch_map(&it, ex, gated, items, N, &o), 0,
	   "map, chunk %zu, buffer %zu, flags %u, %s", chunk, buf, flags,
	   by_span ? "by spans" : "one by one");
	if (by_span) {
		void *const *span;
		size_t count = 0;
		is(filch_map_next_span(it, &span, &count), 0, "one span");
		is(count, chunk, "of the first chunk");
	} else {
		for (size_t i = 0; i < chunk; i++)
			filch_map_next(it, &r);
		ok(r == items[chunk - 1], "the first chunk's results");
	}
	ok(map_wait_for(&map_started, want, 3000),
	   "while the consumer holds them, the next chunk runs: %ld items "
	   "started (want %ld)", atomic_load(&map_started), want);
	cf_sleep_ms(20);
	is(atomic_load(&map_started), want, "and no more");
	filch_map_close(it);
	filch_executor_destroy(ex);
	free(items);
}

/* A generator is read ahead by exactly buffersize + 1 chunks once the
 * first chunk was consumed: the refill pulls the next chunk at once. */
static void test_refill_early_gen(void)
{
	filch_executor *ex = cf_executor(1);
	struct counter c = {.limit = -1};
	struct filch_map_opts o = {.chunksize = 3, .buffersize = 2};
	filch_map_iter *it;
	void *r;

	map_gate_reset();
	map_gate_open(LONG_MAX);
	is(filch_map_gen(&it, ex, gated, count_gen, &c, &o), 0,
	   "an endless generator map, chunk 3, buffer 2");
	is(c.next, 6, "the call took 2 chunks");
	for (int i = 0; i < 3; i++)
		filch_map_next(it, &r);
	is(c.next, 9, "taking the first chunk's last result took the next");
	filch_map_close(it);
	filch_executor_destroy(ex);
}

/* FILCH_MAP_TIMEOUT_SET: timeout_ns as filch's other timeouts, so 0 (or
 * another negative value) polls: the results ready come out, the first
 * that is not gives -ETIMEDOUT at once. Without the flag a zero timeout is
 * the default, forever; with it FILCH_FOREVER waits. */
static void test_timeout_set(void)
{
	filch_executor *ex = cf_executor(1);
	void **items = cf_numbers(4);
	int64_t polls[2] = {0, -5};
	filch_map_iter *it;
	void *r;

	for (int k = 0; k < 2; k++) {
		filch_executor *done = cf_executor(1);
		struct filch_map_opts o = {.flags = FILCH_MAP_TIMEOUT_SET,
					   .timeout_ns = polls[k],
					   .chunksize = 1};
		is(filch_map(&it, done, square, items, 2, &o), 0,
		   "map polling (timeout %lld, FILCH_MAP_TIMEOUT_SET)",
		   (long long)polls[k]);
		filch_shutdown(done, FILCH_SHUTDOWN_WAIT); /* both items ran */
		ok(filch_map_next(it, &r) == 0 && r == items[0] &&
		   filch_map_next(it, &r) == 0 && r == items[1],
		   "the results ready come out");
		is(filch_map_next(it, &r), FILCH_END, "then FILCH_END");
		filch_map_close(it);
		filch_executor_destroy(done);
	}

	for (int k = 0; k < 2; k++) {
		struct filch_map_opts poll = {.flags = FILCH_MAP_TIMEOUT_SET,
					      .timeout_ns = polls[k],
					      .chunksize = 1};
		map_gate_reset();
		is(filch_map(&it, ex, gated, items, 4, &poll), 0,
		   "map polling (timeout %lld), every item held at the gate",
		   (long long)polls[k]);
		is(filch_map_next(it, &r), -ETIMEDOUT,
		   "the first result is not ready: -ETIMEDOUT at once");
		is(filch_map_next(it, &r), FILCH_END, "which ends the map");
		map_gate_open(LONG_MAX);
		filch_map_close(it);
	}

	struct filch_map_opts forever[2] = {
		{.chunksize = 1},
		{.flags = FILCH_MAP_TIMEOUT_SET, .timeout_ns = FILCH_FOREVER,
		 .chunksize = 1}};
	for (int k = 0; k < 2; k++) {
		map_gate_reset();
		is(filch_map(&it, ex, gated, items, 4, &forever[k]), 0,
		   "map with timeout %s", k ? "FILCH_FOREVER (flag set)"
					    : "0 (flag clear)");
		pthread_t t = map_open_gate_later(50);
		int64_t t0 = tap_now_ns();
		ok(filch_map_next(it, &r) == 0 && r == items[0],
		   "waits for the first result");
		ok(tap_now_ns() - t0 >= 45 * MS, "until the gate opened");
		pthread_join(t, NULL);
		filch_map_close(it);
	}
	filch_executor_destroy(ex);
	free(items);
}

#if SIZE_MAX > 0xffffffffu
#define HUGE_SIZE ((size_t)1 << 40)
#else
#define HUGE_SIZE (SIZE_MAX / 2)
#endif

/* Huge chunk and buffer sizes are clamped (to the array, to 65536 items a
 * generator chunk, to 2^24 items in flight), never -ENOMEM. */
static void test_clamp(filch_executor *ex)
{
	enum { N = 200 };
	void **items = cf_numbers(N);
	size_t sizes[][2] = {{HUGE_SIZE, 0},	     {HUGE_SIZE, 1},
			     {1, HUGE_SIZE},	     {HUGE_SIZE, HUGE_SIZE},
			     {SIZE_MAX, SIZE_MAX},   {65536, HUGE_SIZE},
			     {N, SIZE_MAX}};

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (int gen = 0; gen < 2; gen++) {
			struct filch_map_opts o = {.chunksize = sizes[k][0],
						   .buffersize = sizes[k][1],
						   .flags = k % 2 ? FILCH_MAP_CALLER_RUNS
								  : 0};
			struct counter c = {.limit = N};
			filch_map_iter *it;
			size_t got = 0, bad = 0;
			void *r;
			int rc;

			rc = gen ? filch_map_gen(&it, ex, square, count_gen, &c, &o)
				 : filch_map(&it, ex, square, items, N, &o);
			is(rc, 0, "%s of %d, chunk %zu, buffer %zu: accepted",
			   gen ? "generator" : "array", N, sizes[k][0],
			   sizes[k][1]);
			if (rc)
				continue;
			while ((rc = filch_map_next(it, &r)) == 0) {
				bad += (intptr_t)r != (intptr_t)(got * got);
				got++;
			}
			ok(rc == FILCH_END && got == N && bad == 0,
			   "all %d results in order", N);
			filch_map_close(it);
		}
	}

	/* An endless generator with a huge chunk: 65536 items a chunk. */
	struct counter c = {.limit = -1};
	struct filch_map_opts o = {.chunksize = HUGE_SIZE, .buffersize = 1};
	filch_map_iter *it;
	is(filch_map_gen(&it, ex, square, count_gen, &c, &o), 0,
	   "an endless generator, chunk 2^40");
	is(c.next, 65536, "its chunk is clamped to 65536 items");
	filch_map_close(it);
	free(items);
}

int main(void)
{
	tap_plan(0);
	filch_executor *ex = cf_executor(2);
	test_bad_input(ex);
	test_outputs_on_error(ex);
	test_clamp(ex);
	test_empty(ex);
	test_order(ex);
	test_error_in_middle(ex);
	test_span(ex);
	test_generator(ex);
	test_generator_fails_first(ex);
	filch_executor_destroy(ex);
	test_timeout();
	test_lazy_and_close();
	test_close_stops_running_chunk();
	test_bounded_queue(0, 6);
	test_bounded_queue(0, 1);
	test_bounded_queue(FILCH_MAP_CALLER_RUNS, 6);
	test_after_shutdown();
	test_on_worker();
	test_refill_early(0, 1, 1, false);
	test_refill_early(0, 1, 3, false);
	test_refill_early(0, 4, 2, false);
	test_refill_early(0, 4, 2, true);
	test_refill_early(FILCH_MAP_CALLER_RUNS, 1, 1, false);
	test_refill_early(FILCH_MAP_CALLER_RUNS, 4, 2, true);
	test_refill_early_gen();
	test_timeout_set();
	return tap_done();
}
