/* SPDX-License-Identifier: MIT */
/*
 * future_stress.c - many threads race on_done (with callbacks that drop a
 * reference, or not), cancel, result (polls, short and infinite timeouts),
 * promise completion and release on shared futures, round after round. After each round: every callback that on_done accepted
 * ran exactly once; every waiter woke (a round that does not end within
 * 60 s aborts the run); each future's outcome agrees with what the racers
 * were told (a successful cancel means CANCELLED and a task that never ran,
 * exactly one completion of each promise won); no task ran twice.
 *
 *   future_stress [--seconds S] [--seed N]
 *
 * Output is TAP: one line per check over all rounds; the seed is printed.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <filch.h>

#include "tap.h"
#include "stress_args.h"

enum { NTHREADS = 4, NFUT = 48 };

#define MS 1000000LL

struct slot {
	filch_future *f;
	bool promise;
	_Atomic int runs;      /* task bodies that ran */
	_Atomic int added;     /* on_done calls that returned 0 */
	_Atomic int called;    /* callbacks that ran */
	_Atomic int cancel_ok; /* cancel calls that returned true */
	_Atomic int settled;   /* promise completions that returned 0 */
	_Atomic int bad;       /* a racer saw something impossible */
};

struct round {
	filch_executor *ex;
	struct slot slots[NFUT];
	pthread_barrier_t start, end;
	uint64_t seed;
	_Atomic bool stop;
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int task_body(void *arg, void **result)
{
	struct slot *s = arg;
	atomic_fetch_add(&s->runs, 1);
	unsigned spin = (unsigned)((uintptr_t)s >> 6) % 64;
	for (unsigned i = 0; i < spin && !filch_cancel_requested(); i++)
		atomic_signal_fence(memory_order_seq_cst);
	*result = s;
	if (spin % 3 == 0)
		return filch_task_fail(EIO, "slot %p failed", (void *)s);
	return 0;
}

static void count_callback(filch_future *f, void *arg)
{
	struct slot *s = arg;
	if (!filch_future_done(f))
		atomic_fetch_add(&s->bad, 1);
	atomic_fetch_add(&s->called, 1);
}

/* Counts like count_callback, then drops the reference its adder gave it. */
static void release_callback(filch_future *f, void *arg)
{
	count_callback(f, arg);
	filch_future_release(f);
}

/* Checks what result() said against the state it must imply. */
static void check_result(struct slot *s, filch_future *f, int rc, void *res)
{
	if (rc == -ETIMEDOUT)
		return;
	int st = filch_future_state(f);
	bool fine = (rc == -ECANCELED && st == FILCH_CANCELLED) ||
		    (rc == 0 && st == FILCH_FINISHED && (s->promise || res == s)) ||
		    (rc > 0 && st == FILCH_FINISHED);
	if (!fine)
		atomic_fetch_add(&s->bad, 1);
}

static void act(struct round *r, struct slot *s, filch_future *f, uint64_t *rng)
{
	switch (next_rand(rng) % 8) {
	case 0:
		if (filch_future_on_done(f, count_callback, s) == 0)
			atomic_fetch_add(&s->added, 1);
		break;
	case 1: /* a callback that owns (and drops) a reference */
		filch_future_retain(f);
		if (filch_future_on_done(f, release_callback, s) == 0)
			atomic_fetch_add(&s->added, 1);
		else
			filch_future_release(f);
		break;
	case 2:
		if (filch_future_cancel(f))
			atomic_fetch_add(&s->cancel_ok, 1);
		break;
	case 3: {
		void *res = NULL;
		int rc = filch_future_result(f, 0, &res);
		check_result(s, f, rc, res);
		break;
	}
	case 4: {
		void *res = NULL;
		int64_t t = (int64_t)(next_rand(rng) % 200) * 1000; /* < 0.2 ms */
		int rc = filch_future_result(f, t, &res);
		check_result(s, f, rc, res);
		break;
	}
	case 5:
		if (s->promise) {
			int rc = next_rand(rng) % 2
					 ? filch_promise_set_result(f, s)
					 : filch_promise_set_error(f, EPIPE, "racer");
			if (rc == 0)
				atomic_fetch_add(&s->settled, 1);
			else if (rc != -EINVAL && rc != -ECANCELED)
				atomic_fetch_add(&s->bad, 1);
		} else {
			int code = -1;
			const char *msg = NULL;
			int rc = filch_future_error(f, 0, &code, &msg);
			if (rc == 0 && code == EIO && !msg)
				atomic_fetch_add(&s->bad, 1);
		}
		break;
	case 6:
		if (s->promise)
			filch_promise_set_running(f);
		break;
	default: {
		/* Every waiter must wake: the main thread completes every
		 * promise, and every task eventually runs or is cancelled. */
		void *res = NULL;
		int rc = filch_future_result(f, FILCH_FOREVER, &res);
		check_result(s, f, rc, res);
		break;
	}
	}
	(void)r;
}

struct racer {
	struct round *r;
	unsigned index;
};

static void *racer_main(void *arg)
{
	struct racer *me = arg;
	struct round *r = me->r;
	for (;;) {
		pthread_barrier_wait(&r->start);
		if (atomic_load(&r->stop))
			return NULL;
		uint64_t rng = r->seed * (me->index + 1) | 1;
		filch_future *mine[NFUT];
		for (int i = 0; i < NFUT; i++)
			mine[i] = r->slots[i].f; /* retained for us by main */
		for (int step = 0; step < NFUT * 6; step++) {
			int i = (int)(next_rand(&rng) % NFUT);
			if (!mine[i])
				continue;
			act(r, &r->slots[i], mine[i], &rng);
			if (next_rand(&rng) % 16 == 0) { /* release mid-race */
				filch_future_release(mine[i]);
				mine[i] = NULL;
			}
		}
		for (int i = 0; i < NFUT; i++)
			filch_future_release(mine[i]);
		pthread_barrier_wait(&r->end);
	}
}

struct totals {
	uint64_t rounds, futures, cancelled, callbacks, failures;
};

static void *watchdog(void *arg)
{
	_Atomic uint64_t *progress = arg;
	uint64_t last = atomic_load(progress);
	for (;;) {
		sleep(60);
		uint64_t now = atomic_load(progress);
		if (now == last) {
			printf("Bail out! no round ended in 60 s: a waiter "
			       "was not woken\n");
			fflush(stdout);
			abort();
		}
		last = now;
	}
	return NULL;
}

static void run_round(struct round *r, uint64_t *rng, struct totals *t)
{
	for (int i = 0; i < NFUT; i++) {
		struct slot *s = &r->slots[i];
		memset(s, 0, sizeof(*s));
		s->promise = next_rand(rng) % 3 == 0;
		int rc = s->promise ? filch_promise_create(&s->f)
				    : filch_submit(r->ex, task_body, s, &s->f);
		if (rc)
			bail_out("cannot create a future: %s", filch_strerror(rc));
		for (int k = 0; k < NTHREADS; k++)
			filch_future_retain(s->f);
	}
	r->seed = next_rand(rng);
	pthread_barrier_wait(&r->start);
	/* Complete every promise, racing the racers. */
	for (int i = 0; i < NFUT; i++) {
		struct slot *s = &r->slots[i];
		if (!s->promise)
			continue;
		/* A promise set running cannot be cancelled: complete it. */
		if (next_rand(rng) % 4 == 0 && filch_future_cancel(s->f))
			atomic_fetch_add(&s->cancel_ok, 1);
		else if (filch_promise_set_result(s->f, s) == 0)
			atomic_fetch_add(&s->settled, 1);
	}
	pthread_barrier_wait(&r->end);
	for (int i = 0; i < NFUT; i++) {
		struct slot *s = &r->slots[i];
		int rc = filch_future_result(s->f, FILCH_FOREVER, NULL);
		int st = filch_future_state(s->f);
		int cancels = atomic_load(&s->cancel_ok);
		bool fine = atomic_load(&s->bad) == 0;
		if (cancels)
			fine &= st == FILCH_CANCELLED && rc == -ECANCELED;
		if (st == FILCH_CANCELLED)
			fine &= atomic_load(&s->settled) == 0;
		else
			fine &= !s->promise || atomic_load(&s->settled) == 1;
		/* A task may run at most once, and not at all if cancelled;
		 * it has run by the time its future is FINISHED. */
		int runs = atomic_load(&s->runs);
		if (!s->promise)
			fine &= st == FILCH_CANCELLED ? runs == 0 : runs == 1;
		/* Callbacks run after the final transition: give them time. */
		int64_t end = tap_now_ns() + 10000 * MS;
		while (atomic_load(&s->called) != atomic_load(&s->added) &&
		       tap_now_ns() < end)
			sched_yield();
		fine &= atomic_load(&s->called) == atomic_load(&s->added);
		if (!fine) {
			t->failures++;
			diag("round %" PRIu64 " slot %d (%s): state %d rc %d "
			     "runs %d cancels %d settled %d added %d called %d "
			     "bad %d",
			     t->rounds, i, s->promise ? "promise" : "task", st,
			     rc, runs, cancels, atomic_load(&s->settled),
			     atomic_load(&s->added), atomic_load(&s->called),
			     atomic_load(&s->bad));
		}
		t->cancelled += st == FILCH_CANCELLED;
		t->callbacks += (uint64_t)atomic_load(&s->called);
		filch_future_release(s->f);
	}
	t->futures += NFUT;
	t->rounds++;
}

int main(int argc, char **argv)
{
	struct stress_args args;

	if (stress_parse_args(argc, argv, 10, &args))
		return 2;
	double seconds = args.seconds;
	uint64_t seed = args.seed;
	tap_plan(0);
	diag("seed %" PRIu64 " (--seed to replay the same choices), %.0f s",
	     seed, seconds);

	static struct round r;
	struct filch_executor_opts o = { .workers = 2 };
	if (filch_executor_create(&r.ex, &o))
		bail_out("cannot create the executor");
	pthread_barrier_init(&r.start, NULL, NTHREADS + 1);
	pthread_barrier_init(&r.end, NULL, NTHREADS + 1);
	pthread_t th[NTHREADS], dog;
	struct racer racers[NTHREADS];
	for (unsigned k = 0; k < NTHREADS; k++) {
		racers[k] = (struct racer){ &r, k };
		pthread_create(&th[k], NULL, racer_main, &racers[k]);
	}
	static _Atomic uint64_t progress;
	pthread_create(&dog, NULL, watchdog, (void *)&progress);
	pthread_detach(dog);

	struct totals t = { 0 };
	uint64_t rng = seed;
	int64_t end = tap_now_ns() + (int64_t)(seconds * 1e9);
	do {
		run_round(&r, &rng, &t);
		atomic_fetch_add(&progress, 1);
	} while (tap_now_ns() < end);

	atomic_store(&r.stop, true);
	pthread_barrier_wait(&r.start);
	for (unsigned k = 0; k < NTHREADS; k++)
		pthread_join(th[k], NULL);
	filch_executor_destroy(r.ex);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.end);

	diag("%" PRIu64 " rounds, %" PRIu64 " futures, %" PRIu64
	     " cancelled, %" PRIu64 " callbacks",
	     t.rounds, t.futures, t.cancelled, t.callbacks);
	ok(t.rounds > 0, "at least one round ran");
	is(t.failures, 0, "every future: callbacks exactly once, outcome "
			  "consistent, every waiter woke");
	return tap_done();
}
