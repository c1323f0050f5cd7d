/* SPDX-License-Identifier: MIT */
/*
 * cf_stress.c - filch_wait, as_completed and map under churn, with every
 * future accounted for.
 *
 *	cf_stress [--seconds S] [--seed N]
 *
 * Rounds of random scenarios run until S seconds passed, from the main
 * thread and from inside workers (where waits must help): waits in every
 * mode with timeouts 0, short and forever over tasks, failing tasks,
 * promises completed or cancelled by other tasks and duplicates; as_completed
 * over the same mix; maps over arrays and generators with random chunking,
 * bounds, failing items and early closes. Checks: each call's contract
 * (what is reported done is done, order, exactly-once yields), and at the
 * end that every future created got exactly one outcome and one run of its
 * counting callback. Prints the seed; exits 1 on the first violation.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <filch.h>

#include "cf_helpers.h"
#include "stress_args.h"

static const int64_t MS = 1000000;

static atomic_long futures_made, callbacks_run, violations;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "cf_stress: %s:%d: ", __FILE__,   \
				__LINE__);                                 \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			atomic_fetch_add(&violations, 1);                  \
		}                                                          \
	} while (0)

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static size_t below(uint64_t *s, size_t n)
{
	return n ? (size_t)(rnd(s) % n) : 0;
}

static void count_callback(filch_future *f, void *arg)
{
	(void)arg;
	if (!filch_future_done(f))
		CHECK(0, "callback on a future that is not done");
	atomic_fetch_add(&callbacks_run, 1);
}

static void track(filch_future *f)
{
	atomic_fetch_add(&futures_made, 1);
	if (filch_future_on_done(f, count_callback, NULL) != 0)
		CHECK(0, "on_done failed");
}

/* A short task: spins a little, sometimes fails. */
static int work(void *arg, void **result)
{
	uintptr_t v = (uintptr_t)arg;
	for (volatile unsigned i = 0; i < (v & 255) * 8; i++)
		;
	if ((v >> 8) % 7 == 3)
		return EDOM;
	*result = arg;
	return 0;
}

/* Completes promises it was handed, from a worker. */
struct settle_job {
	filch_future *p;
	int how; /* 0 result, 1 error, 2 cancel */
};

static int settle(void *arg, void **result)
{
	struct settle_job *j = arg;
	if (j->how == 0)
		filch_promise_set_result(j->p, (void *)1);
	else if (j->how == 1)
		filch_promise_set_error(j->p, EPIPE, "settled with an error");
	else
		filch_future_cancel(j->p);
	filch_future_release(j->p);
	free(j);
	(void)result;
	return 0;
}

/* Makes n futures: tasks (some failing), and promises settled by tasks,
 * some at once and some later; a few are cancelled. */
static void make_mix(filch_executor *ex, uint64_t *s, filch_future **fs,
		     size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fs[i] = NULL;
		size_t kind = below(s, 4);
		if (kind < 2) {
			if (filch_submit(ex, work, (void *)(uintptr_t)rnd(s),
					 &fs[i]) != 0) {
				CHECK(0, "submit failed");
				cf_promises(&fs[i], 1);
				filch_future_cancel(fs[i]);
			}
		} else {
			cf_promises(&fs[i], 1);
			struct settle_job *j = malloc(sizeof(*j));
			if (!j)
				bail_out("malloc");
			j->p = filch_future_retain(fs[i]);
			j->how = (int)below(s, 3);
			if (filch_submit(ex, settle, j, NULL) != 0)
				settle(j, NULL);
		}
		track(fs[i]);
		if (below(s, 16) == 0)
			filch_future_cancel(fs[i]);
	}
}

static bool failed(filch_future *f)
{
	int code = 0;
	return filch_future_error(f, 0, &code, NULL) == 0 && code != 0;
}

static void settle_all(filch_future **fs, size_t n)
{
	CHECK(filch_wait(fs, n, FILCH_FOREVER, FILCH_ALL_COMPLETED, NULL) == 0,
	      "final wait failed");
}

static void scenario_wait(filch_executor *ex, uint64_t *s)
{
	enum { MAX = 64 };
	filch_future *fs[MAX + 8];
	size_t n = 1 + below(s, MAX);
	make_mix(ex, s, fs, n);
	size_t total = n;
	for (size_t d = below(s, 8); d > 0; d--)
		fs[total++] = fs[below(s, n)]; /* duplicates */
	int mode = 1 + (int)below(s, 3);
	int64_t timeouts[] = {0, (int64_t)below(s, 3) * MS, FILCH_FOREVER};
	int64_t timeout = timeouts[below(s, 3)];
	size_t nd = SIZE_MAX;

	int rc = filch_wait(fs, total, timeout, mode, &nd);
	CHECK(rc == 0 || rc == -ETIMEDOUT, "wait returned %d", rc);
	CHECK(nd <= total, "ndone %zu > %zu", nd, total);
	for (size_t i = 0; i < nd && i < total; i++)
		CHECK(filch_future_done(fs[i]), "reported done, is not");
	if (timeout == FILCH_FOREVER)
		CHECK(rc == 0, "wait forever returned %d", rc);
	if (rc == 0 && nd < total) {
		if (mode == FILCH_ALL_COMPLETED)
			CHECK(0, "ALL satisfied with %zu of %zu", nd, total);
		if (mode == FILCH_FIRST_COMPLETED)
			CHECK(nd > 0, "FIRST_COMPLETED satisfied with none");
		if (mode == FILCH_FIRST_EXCEPTION) {
			bool any = false;
			for (size_t i = 0; i < nd; i++)
				any |= failed(fs[i]);
			CHECK(any, "FIRST_EXCEPTION satisfied without an error");
		}
	}
	settle_all(fs, total);
	/* Release each distinct future once (duplicates are at the end of
	 * the reordered array or anywhere: compare pointers). */
	for (size_t i = 0; i < total; i++) {
		bool first = true;
		for (size_t j = 0; j < i; j++)
			first &= fs[j] != fs[i];
		if (first)
			filch_future_release(fs[i]);
	}
}

static void scenario_as_completed(filch_executor *ex, uint64_t *s)
{
	enum { MAX = 96 };
	filch_future *fs[MAX + 16], *keep[MAX];
	size_t n = below(s, MAX);
	make_mix(ex, s, fs, n);
	memcpy(keep, fs, n * sizeof(*fs));
	size_t total = n;
	for (size_t d = n ? below(s, 16) : 0; d > 0; d--)
		fs[total++] = fs[below(s, n)];
	int64_t timeout = below(s, 4) == 0 ? (int64_t)below(s, 3) * MS
					   : FILCH_FOREVER;
	filch_as_completed *it;
	filch_future *f;
	char seen[MAX] = {0};
	size_t got = 0;
	int rc = 0;

	CHECK(filch_as_completed_begin(&it, fs, total, timeout) == 0,
	      "begin failed");
	size_t stop = below(s, 8) == 0 ? below(s, n + 1) : SIZE_MAX;
	while (got < stop && (rc = filch_as_completed_next(it, &f)) == 0) {
		CHECK(filch_future_done(f), "yielded a future not done");
		size_t idx = MAX;
		for (size_t i = 0; i < n; i++)
			if (keep[i] == f)
				idx = i;
		CHECK(idx < n, "yielded a stranger");
		if (idx < n) {
			CHECK(!seen[idx], "yielded twice");
			seen[idx] = 1;
		}
		got++;
	}
	if (got < stop) {
		CHECK(rc == FILCH_END || rc == -ETIMEDOUT, "next returned %d", rc);
		if (rc == FILCH_END)
			CHECK(got == n, "FILCH_END after %zu of %zu", got, n);
		if (timeout == FILCH_FOREVER)
			CHECK(rc == FILCH_END, "forever iteration ended with %d",
			      rc);
		CHECK(filch_as_completed_next(it, &f) == FILCH_END,
		      "not over after the end");
	}
	filch_as_completed_end(it);
	settle_all(keep, n);
	cf_release_all(keep, n);
}

static int map_fn(void *arg, void **result)
{
	uintptr_t v = (uintptr_t)arg;
	if (v & (1u << 31))
		return (int)(v & 0xff) + 1;
	*result = (void *)(v * 3);
	return 0;
}

struct gen {
	uintptr_t next;
	uintptr_t fail_at; /* 0: never */
};

static int gen_fn(void *arg, void **item)
{
	struct gen *g = arg;
	if (g->fail_at && g->next == g->fail_at)
		return -ENOSTR;
	*item = (void *)g->next++;
	return 0;
}

static void scenario_map(filch_executor *ex, uint64_t *s)
{
	size_t n = below(s, 3000);
	void **items = malloc((n + 1) * sizeof(*items));
	if (!items)
		bail_out("malloc");
	size_t fail_at = below(s, 3) == 0 ? below(s, n + 1) : SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		items[i] = (void *)(uintptr_t)(i == fail_at ? (1u << 31) | 41
							    : i);
	struct filch_map_opts o = {
		.chunksize = below(s, 2) ? 0 : 1 + below(s, 100),
		.buffersize = below(s, 2) ? 0 : 1 + below(s, 10),
		.timeout_ns = below(s, 8) == 0 ? (int64_t)(1 + below(s, 3)) * MS
					       : 0,
		.flags = below(s, 2) ? FILCH_MAP_CALLER_RUNS : 0,
	};
	bool spans = below(s, 2);
	size_t stop = below(s, 6) == 0 ? below(s, n + 1) : SIZE_MAX;
	filch_map_iter *it;
	void *r;
	size_t got = 0;
	int rc = 0;

	CHECK(filch_map(&it, ex, map_fn, items, n, &o) == 0, "map failed");
	while (got < stop) {
		void *const *span = &r;
		size_t count = 1;
		if (spans)
			rc = filch_map_next_span(it, &span, &count);
		else
			rc = filch_map_next(it, &r);
		if (rc)
			break;
		CHECK(count > 0, "empty span");
		for (size_t i = 0; i < count; i++, got++)
			CHECK((uintptr_t)span[i] == got * 3,
			      "result %zu out of order", got);
	}
	if (got < stop) {
		if (rc == FILCH_END)
			CHECK(got == n && fail_at >= n, "END after %zu of %zu",
			      got, n);
		else if (rc == 42)
			CHECK(got == fail_at, "error at %zu, expected %zu", got,
			      fail_at);
		else
			CHECK(rc == -ETIMEDOUT && o.timeout_ns,
			      "map_next returned %d", rc);
		CHECK(filch_map_next(it, &r) == FILCH_END, "not over");
	}
	filch_map_close(it);
	free(items);

	/* An endless generator (sometimes failing), consumed a while. */
	struct gen g = {.fail_at = below(s, 3) == 0 ? 1 + below(s, 500) : 0};
	struct filch_map_opts go = {
		.chunksize = 1 + below(s, 8),
		.buffersize = 1 + below(s, 6),
		.flags = below(s, 2) ? FILCH_MAP_CALLER_RUNS : 0,
	};
	size_t want = below(s, 1000);
	CHECK(filch_map_gen(&it, ex, map_fn, gen_fn, &g, &go) == 0,
	      "map_gen failed");
	for (got = 0; got < want; got++) {
		rc = filch_map_next(it, &r);
		if (rc) {
			CHECK(rc == -ENOSTR && got == g.fail_at,
			      "generator map: %d after %zu", rc, got);
			break;
		}
		CHECK((uintptr_t)r == got * 3, "generator result out of order");
		CHECK(g.next - (got + 1) <= go.chunksize * go.buffersize,
		      "generator read too far ahead");
	}
	filch_map_close(it);
}

struct inside {
	uint64_t seed;
	int which;
};

static void run_scenario(filch_executor *ex, uint64_t *s, int which)
{
	if (which == 0)
		scenario_wait(ex, s);
	else if (which == 1)
		scenario_as_completed(ex, s);
	else
		scenario_map(ex, s);
}

/* The same scenarios from inside a worker: the waits must help. */
static int inside_worker(void *arg, void **result)
{
	struct inside *in = arg;
	run_scenario(filch_current_executor(), &in->seed, in->which);
	(void)result;
	return 0;
}

int main(int argc, char **argv)
{
	struct stress_args args;

	if (stress_parse_args(argc, argv, 10, &args))
		return 2;
	double seconds = args.seconds;
	uint64_t seed = args.seed;
	printf("cf_stress: seed %" PRIu64 ", %.0f s\n", seed, seconds);
	fflush(stdout);

	uint64_t s = seed;
	int64_t end = tap_now_ns() + (int64_t)(seconds * 1e9);
	long rounds = 0;
	while (tap_now_ns() < end && !atomic_load(&violations)) {
		/* Sometimes a bounded submission queue (blocking when full):
		 * map refills and waits then run into it. */
		struct filch_executor_opts eo = {
			.workers = 1 + (unsigned)below(&s, 4),
			.queue_capacity = below(&s, 3) == 0 ? 1 + below(&s, 16) : 0,
		};
		filch_executor *ex = NULL;
		if (filch_executor_create(&ex, &eo) != 0)
			bail_out("filch_executor_create failed");
		for (int k = 0; k < 50 && tap_now_ns() < end; k++, rounds++) {
			int which = (int)below(&s, 3);
			if (below(&s, 4) == 0) {
				struct inside in = {rnd(&s) | 1, which};
				filch_future *f;
				CHECK(filch_submit(ex, inside_worker, &in, &f) == 0,
				      "submit failed");
				CHECK(filch_future_result(f, FILCH_FOREVER, NULL) == 0,
				      "inside-worker scenario failed");
				filch_future_release(f);
			} else {
				run_scenario(ex, &s, which);
			}
		}
		CHECK(filch_executor_destroy(ex) == 0, "destroy failed");
	}
	long made = atomic_load(&futures_made), cbs = atomic_load(&callbacks_run);
	printf("cf_stress: %ld rounds, %ld futures, %ld callbacks, %ld "
	       "violations\n",
	       rounds, made, cbs, atomic_load(&violations));
	CHECK(made == cbs, "futures made %ld != callbacks run %ld", made, cbs);
	return atomic_load(&violations) ? 1 : 0;
}
