/* SPDX-License-Identifier: MIT */
/*
 * shutdown_race.c - threads submit, cancel and wait while another thread
 * shuts the executor down (graceful or cancelling, waiting or not), round
 * after round. After each round: every future has an outcome that matches
 * what its task did (FINISHED: ran exactly once with its result; CANCELLED:
 * never ran), every callback ran exactly once, no submission was accepted
 * after filch_shutdown returned, and under a graceful shutdown every
 * accepted fire-and-forget task ran exactly once.
 *
 *   shutdown_race [-s SECONDS] [-r MIN_ROUNDS] [-S SEED]
 *
 * Runs until SECONDS (default: $STRESS_SECONDS, else 10) have passed and at
 * least MIN_ROUNDS rounds were made. Output is TAP; the seed is printed.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <filch.h>

#include "runtime/perturb.h"
#include "tap.h"

enum { NSUB = 2, PER_SUB = 48, NSLOTS = NSUB * PER_SUB };

/* One submission. f is written by its submitter before it publishes the
 * slot (release on published, acquire in the canceller). */
struct slot {
	filch_future *f;
	_Atomic bool published;
	bool cb_registered;
	_Atomic int runs;
	_Atomic int callbacks;
};

struct round {
	filch_executor *ex;
	uint64_t seed;
	unsigned flags; /* the shutdown's */
	struct slot slots[NSLOTS];
	_Atomic int fire_accepted, fire_runs, child_accepted, child_runs;
	_Atomic int rejected;
	_Atomic bool shutdown_returned;
	_Atomic int violations;
	char why[200];
};

struct totals {
	uint64_t rounds, futures, finished, cancelled, rejected, fire, waits;
};

static _Atomic uint64_t waits_done;

static uint64_t next_random(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void violation(struct round *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void violation(struct round *r, const char *fmt, ...)
{
	va_list ap;
	if (atomic_fetch_add(&r->violations, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
}

struct task_arg {
	struct round *r;
	struct slot *s;
};

static int task_child(void *arg, void **result)
{
	atomic_fetch_add(&((struct round *)arg)->child_runs, 1);
	return 0;
}

static int task_slot(void *arg, void **result)
{
	struct slot *s = arg;
	int runs = atomic_fetch_add(&s->runs, 1);
	*result = s;
	return runs == 0 ? 0 : EEXIST;
}

/* Fire-and-forget; every other one submits a child (allowed while the
 * pool drains, from a worker). */
static int task_fire(void *arg, void **result)
{
	struct round *r = arg;
	int n = atomic_fetch_add(&r->fire_runs, 1);
	if (n % 2 == 0 &&
	    filch_submit(filch_current_executor(), task_child, r, NULL) == 0)
		atomic_fetch_add(&r->child_accepted, 1);
	return 0;
}

static void cb_slot(filch_future *f, void *arg)
{
	atomic_fetch_add(&((struct slot *)arg)->callbacks, 1);
}

struct sub_arg {
	struct round *r;
	unsigned index;
};

static void *submitter(void *p)
{
	struct sub_arg *a = p;
	struct round *r = a->r;
	uint64_t rng = r->seed ^ (a->index + 1) * UINT64_C(0x632be59bd9b4e019);

	for (unsigned i = 0; i < PER_SUB; i++) {
		struct slot *s = &r->slots[a->index * PER_SUB + i];
		bool after = atomic_load(&r->shutdown_returned);
		uint64_t x = next_random(&rng);
		int rc;

		if (x % 5 == 0) {
			rc = filch_submit(r->ex, task_fire, r, NULL);
			if (rc == 0)
				atomic_fetch_add(&r->fire_accepted, 1);
		} else {
			rc = filch_submit(r->ex, task_slot, s, &s->f);
			if (rc == 0) {
				s->cb_registered = filch_future_on_done(
					s->f, cb_slot, s) == 0;
				/* Publishes s->f and cb_registered to the
				 * canceller; pairs with the acquire load in
				 * canceller(). */
				atomic_store_explicit(&s->published, true,
						      memory_order_release);
			}
		}
		if (rc == -ESHUTDOWN)
			atomic_fetch_add(&r->rejected, 1);
		else if (rc != 0)
			violation(r, "submit returned %d (%s)", rc,
				  filch_strerror(rc));
		else if (after)
			violation(r, "submit accepted after shutdown returned");
		if (x % 16 == 1)
			sched_yield();
	}
	return NULL;
}

/* Cancels and waits on random published futures while the round runs. */
static void *canceller(void *p)
{
	struct round *r = p;
	uint64_t rng = r->seed ^ UINT64_C(0x5851f42d4c957f2d);

	for (unsigned i = 0; i < NSLOTS; i++) {
		uint64_t x = next_random(&rng);
		struct slot *s = &r->slots[x % NSLOTS];
		void *res;

		/* Pairs with the release store in submitter(). */
		if (!atomic_load_explicit(&s->published, memory_order_acquire))
			continue;
		if (x & 0x100) {
			if (filch_future_cancel(s->f) &&
			    !filch_future_cancelled(s->f))
				violation(r, "cancel true but not cancelled");
			continue;
		}
		int rc = filch_future_result(s->f, (x >> 16) % 50000, &res);
		atomic_fetch_add(&waits_done, 1);
		if (rc == 0 && res != s)
			violation(r, "result of another task");
		else if (rc == -ECANCELED && !filch_future_cancelled(s->f))
			violation(r, "-ECANCELED from a future not cancelled");
		else if (rc != 0 && rc != -ECANCELED && rc != -ETIMEDOUT)
			violation(r, "result returned %d", rc);
	}
	return NULL;
}

static void *shutter(void *p)
{
	struct round *r = p;
	uint64_t rng = r->seed ^ UINT64_C(0x2545f4914f6cdd1d);
	struct timespec ts = { 0, (long)(next_random(&rng) % 200000) };

	nanosleep(&ts, NULL);
	int rc = filch_shutdown(r->ex, r->flags);
	if (rc)
		violation(r, "shutdown(%u) returned %d", r->flags, rc);
	atomic_store(&r->shutdown_returned, true);
	return NULL;
}

static const unsigned shutdown_flags[] = {
	0,
	FILCH_SHUTDOWN_WAIT,
	FILCH_SHUTDOWN_CANCEL_PENDING,
	FILCH_SHUTDOWN_WAIT | FILCH_SHUTDOWN_CANCEL_PENDING,
};

/* Checks one finished round; returns false on a violation. */
static bool check_round(struct round *r, struct totals *t)
{
	bool cancelling = r->flags & FILCH_SHUTDOWN_CANCEL_PENDING;

	for (unsigned i = 0; i < NSLOTS; i++) {
		struct slot *s = &r->slots[i];
		if (!s->f) {
			if (s->runs)
				violation(r, "rejected task %u ran", i);
			continue;
		}
		t->futures++;
		int st = filch_future_state(s->f);
		if (st == FILCH_FINISHED) {
			void *res;
			t->finished++;
			if (s->runs != 1 ||
			    filch_future_result(s->f, 0, &res) != 0 || res != s)
				violation(r, "finished future %u: ran %d times",
					  i, s->runs);
		} else if (st == FILCH_CANCELLED) {
			t->cancelled++;
			if (s->runs)
				violation(r, "cancelled future %u ran %d times",
					  i, s->runs);
		} else {
			violation(r, "future %u without outcome (state %d)", i,
				  st);
		}
		if (s->callbacks != (s->cb_registered ? 1 : 0))
			violation(r, "callback of future %u ran %d times", i,
				  s->callbacks);
		filch_future_release(s->f);
	}
	if (r->fire_runs > r->fire_accepted ||
	    (!cancelling && r->fire_runs != r->fire_accepted))
		violation(r, "%d of %d fire-and-forget tasks ran", r->fire_runs,
			  r->fire_accepted);
	if (r->child_runs > r->child_accepted ||
	    (!cancelling && r->child_runs != r->child_accepted))
		violation(r, "%d of %d children ran", r->child_runs,
			  r->child_accepted);
	t->rejected += (uint64_t)r->rejected;
	t->fire += (uint64_t)r->fire_accepted;
	return r->violations == 0;
}

/* The round in progress, for the watchdog: its seed, shape and start. */
static _Atomic uint64_t round_seed;
static _Atomic unsigned round_shape; /* flags << 8 | workers */
static _Atomic int64_t round_start_ns;

/* A round that takes this long has lost a wake-up or a task: report which
 * and abort, rather than hang the stress run. */
#define HANG_NS (60 * INT64_C(1000000000))

static void *watchdog(void *unused)
{
	for (;;) {
		sleep(1);
		int64_t start = atomic_load(&round_start_ns);
		if (start && tap_now_ns() - start > HANG_NS) {
			unsigned shape = atomic_load(&round_shape);
			printf("not ok 1 - round seed %" PRIu64 " (flags %u, %u "
			       "workers) hung for 60 s: a lost wake-up or a "
			       "task without an outcome\n",
			       atomic_load(&round_seed), shape >> 8, shape & 255);
			fflush(stdout);
			abort();
		}
	}
	return NULL;
}

static bool run_round(uint64_t seed, struct totals *t)
{
	static struct round r;
	struct filch_executor_opts o = { .name_prefix = "sr" };
	pthread_t subs[NSUB], canc, shut;
	struct sub_arg args[NSUB];

	memset(&r, 0, sizeof(r));
	r.seed = seed;
	uint64_t rng = seed;
	uint64_t x = next_random(&rng);
	o.workers = 1 + (unsigned)(x % 3);
	r.flags = shutdown_flags[(x >> 8) % 4];
	atomic_store(&round_seed, seed);
	atomic_store(&round_shape, r.flags << 8 | o.workers);
	atomic_store(&round_start_ns, tap_now_ns());
	int rc = filch_executor_create(&r.ex, &o);
	if (rc) {
		diag("seed %" PRIu64 ": create returned %d", seed, rc);
		return false;
	}
	for (unsigned i = 0; i < NSUB; i++) {
		args[i] = (struct sub_arg){ &r, i };
		pthread_create(&subs[i], NULL, submitter, &args[i]);
	}
	pthread_create(&canc, NULL, canceller, &r);
	pthread_create(&shut, NULL, shutter, &r);
	for (unsigned i = 0; i < NSUB; i++)
		pthread_join(subs[i], NULL);
	pthread_join(canc, NULL);
	pthread_join(shut, NULL);
	rc = filch_executor_destroy(r.ex);
	if (rc)
		violation(&r, "destroy returned %d", rc);
	if (!check_round(&r, t)) {
		diag("round seed %" PRIu64 " (flags %u, %u workers): %s", seed,
		     r.flags, o.workers, r.why);
		return false;
	}
	t->rounds++;
	return true;
}

int main(int argc, char **argv)
{
	const char *env = getenv("STRESS_SECONDS");
	double seconds = env ? atof(env) : 10;
	uint64_t min_rounds = 0, seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	struct totals t = { 0 };
	int opt;

	while ((opt = getopt(argc, argv, "s:r:S:")) != -1) {
		switch (opt) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'r':
			min_rounds = strtoull(optarg, NULL, 0);
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-s SECONDS] [-r MIN_ROUNDS] "
					"[-S SEED]\n", argv[0]);
			return 2;
		}
	}
	pthread_t dog;
	pthread_create(&dog, NULL, watchdog, NULL);
	pthread_detach(dog);
	tap_plan(1);
	diag("shutdown race: seed %" PRIu64 " (replay a round with -S and its "
	     "printed seed), %.0f s", seed, seconds);
#ifdef FILCH_PERTURB
	diag("perturb build: FILCH_PERTURB_SEED=%" PRIu64 " replays its delays",
	     filch__perturb_seed());
#endif
	int64_t end = tap_now_ns() + (int64_t)(seconds * 1e9);
	uint64_t rng = seed;
	bool pass = true;
	while (pass && (tap_now_ns() < end || t.rounds < min_rounds))
		pass = run_round(t.rounds ? next_random(&rng) : seed, &t);
	ok(pass, "shutdown races: %" PRIu64 " rounds, %" PRIu64 " futures (%"
	   PRIu64 " finished, %" PRIu64 " cancelled), %" PRIu64
	   " fire-and-forget, %" PRIu64 " submits rejected, %" PRIu64
	   " waits; every future with an outcome",
	   t.rounds, t.futures, t.finished, t.cancelled, t.fire, t.rejected,
	   (uint64_t)atomic_load(&waits_done));
	return tap_done();
}
