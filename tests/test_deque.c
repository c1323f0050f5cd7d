/* SPDX-License-Identifier: MIT */
/* test_deque.c - the Chase-Lev deque's contract: order, growth, races, exact-once. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include <urcu.h>

#include "runtime/deque.h"
#ifdef FILCH_FAULT_INJECTION
#include "runtime/fault_ctl.h"
#endif
#include "tap.h"

/* Items are the integers 1..n disguised as pointers (never NULL). */
#define ITEM(i) ((void *)(uintptr_t)(i))
#define ID(p) ((uintptr_t)(p))

static _Alignas(FILCH_CACHELINE) struct filch__deque dq;

static void test_init_errors(void)
{
	is(filch__deque_init(NULL, 4), -EINVAL, "init(NULL) is -EINVAL");
	is(filch__deque_init(&dq, FILCH__DEQUE_MAX_LOG2 + 1), -EINVAL,
	   "init with log2_capacity above the maximum is -EINVAL");
}

static void test_empty(void)
{
	void *x = ITEM(99);
	int i;
	bool all_null = true, all_empty = true;

	is(filch__deque_init(&dq, 0), 0, "init with capacity 1");
	is(filch__deque_steal(&dq, &x), FILCH__STEAL_EMPTY,
	   "steal from a new deque is EMPTY");
	ok(x == ITEM(99), "an EMPTY steal leaves *item alone");
	ok(filch__deque_pop(&dq) == NULL, "pop from a new deque is NULL");
	for (i = 0; i < 100; i++) {
		all_null &= filch__deque_pop(&dq) == NULL;
		all_empty &= filch__deque_steal(&dq, &x) == FILCH__STEAL_EMPTY;
	}
	ok(all_null && all_empty, "100 pops and steals of an empty deque");
	is(filch__deque_size_hint(&dq), 0, "size_hint of an empty deque is 0");
	is(filch__deque_push(&dq, ITEM(1)), 0, "push after empty pops");
	is(filch__deque_size_hint(&dq), 1, "size_hint is 1");
	ok(filch__deque_pop(&dq) == ITEM(1), "pop returns it");
	is(filch__deque_push(&dq, ITEM(2)), 0, "push again");
	is(filch__deque_steal(&dq, &x), FILCH__STEAL_OK, "steal it");
	ok(x == ITEM(2), "steal returns it");
	ok(filch__deque_pop(&dq) == NULL &&
		   filch__deque_steal(&dq, &x) == FILCH__STEAL_EMPTY,
	   "empty again for both ends");
	filch__deque_destroy(&dq);
}

static void test_lifo_fifo(void)
{
	enum { N = 1000 };
	uintptr_t i;
	bool lifo = true, fifo = true;
	void *x;

	is(filch__deque_init(&dq, 3), 0, "init with capacity 8");
	for (i = 1; i <= N; i++)
		filch__deque_push(&dq, ITEM(i));
	is(filch__deque_size_hint(&dq), N, "size_hint after %d pushes", N);
	for (i = N; i >= 1; i--)
		lifo &= filch__deque_pop(&dq) == ITEM(i);
	ok(lifo, "owner pops in LIFO order");
	ok(filch__deque_pop(&dq) == NULL, "then NULL");

	for (i = 1; i <= N; i++)
		filch__deque_push(&dq, ITEM(i));
	for (i = 1; i <= N; i++)
		fifo &= filch__deque_steal(&dq, &x) == FILCH__STEAL_OK &&
			x == ITEM(i);
	ok(fifo, "a thief steals in FIFO order");
	is(filch__deque_steal(&dq, &x), FILCH__STEAL_EMPTY, "then EMPTY");

	/* Both ends of one deque: steal the oldest half, pop the rest. */
	for (i = 1; i <= N; i++)
		filch__deque_push(&dq, ITEM(i));
	fifo = lifo = true;
	for (i = 1; i <= N / 2; i++)
		fifo &= filch__deque_steal(&dq, &x) == FILCH__STEAL_OK &&
			x == ITEM(i);
	for (i = N; i > N / 2; i--)
		lifo &= filch__deque_pop(&dq) == ITEM(i);
	ok(fifo && lifo, "steals take the oldest half, pops the newest");

	/* The owner takes from both ends: oldest first from the top. */
	for (i = 1; i <= N; i++)
		filch__deque_push(&dq, ITEM(i));
	fifo = true;
	for (i = 1; i <= N / 2; i++)
		fifo &= filch__deque_take_oldest(&dq) == ITEM(i);
	ok(fifo, "take_oldest takes in FIFO order");
	ok(filch__deque_steal(&dq, &x) == FILCH__STEAL_OK && x == ITEM(N / 2 + 1),
	   "a thief then steals the next oldest");
	ok(filch__deque_pop(&dq) == ITEM(N), "the owner still pops the newest");
	for (i = N / 2 + 2; i < N; i++)
		fifo &= filch__deque_take_oldest(&dq) == ITEM(i);
	ok(fifo && filch__deque_take_oldest(&dq) == NULL &&
		   filch__deque_pop(&dq) == NULL,
	   "take_oldest drains the rest, then both ends are empty");
	is(filch__deque_push(&dq, ITEM(1)), 0, "push after take_oldest emptied it");
	ok(filch__deque_pop(&dq) == ITEM(1), "and pop returns that item");
	filch__deque_destroy(&dq);
}

static void test_doublings(void)
{
	enum { LOG2_N = 17, N = 1 << LOG2_N };
	uintptr_t i, next_stolen = 1;
	bool in_order = true;
	void *x;

	is(filch__deque_init(&dq, 0), 0, "init with capacity 1");
	/* Steal one item in every 8 while growing, so that the copies start
	 * at a top that is not zero and the index wraps in every buffer. */
	for (i = 1; i <= N; i++) {
		filch__deque_push(&dq, ITEM(i));
		if (i % 8 == 0) {
			in_order &= filch__deque_steal(&dq, &x) ==
					    FILCH__STEAL_OK &&
				    x == ITEM(next_stolen);
			next_stolen++;
		}
	}
	ok(in_order, "steals during growth return the oldest items");
	ok(dq.growths >= 10 && dq.growths <= LOG2_N,
	   "the buffer doubled %lu times for %d items from capacity 1",
	   dq.growths, N);
	is(filch__deque_size_hint(&dq), N - N / 8, "size_hint after growth");
	in_order = true;
	for (i = N; i >= next_stolen; i--)
		in_order &= filch__deque_pop(&dq) == ITEM(i);
	ok(in_order, "every item survived the doublings (LIFO pops)");
	ok(filch__deque_pop(&dq) == NULL, "then empty");
	filch__deque_destroy(&dq);
}

#ifdef FILCH_FAULT_INJECTION
static void test_grow_enomem(void)
{
	uintptr_t i;
	bool lifo = true;

	is(filch__deque_init(&dq, 2), 0, "init with capacity 4");
	for (i = 1; i <= 4; i++)
		filch__deque_push(&dq, ITEM(i));
	filch__fault_reset();
	filch__fault_arm(FILCH__FAULT_ALLOC, 1, false);
	is(filch__deque_push(&dq, ITEM(5)), -ENOMEM,
	   "push that must grow returns -ENOMEM when allocation fails");
	filch__fault_reset();
	is(filch__deque_size_hint(&dq), 4, "the failed push added nothing");
	is(filch__deque_push(&dq, ITEM(5)), 0, "the next push grows");
	for (i = 5; i >= 1; i--)
		lifo &= filch__deque_pop(&dq) == ITEM(i);
	ok(lifo, "no item lost by the failed growth");
	filch__deque_destroy(&dq);
}
#endif

/*
 * The race for the last item: in each round the owner pushes one item and
 * pops while a thief steals; exactly one of them must get it.
 */
static _Atomic long race_round;	  /* owner: round r is armed */
static _Atomic long race_answered; /* thief: finished round r */
static _Atomic int race_thief_got;

/* Spins a random 0..63 pause instructions, to vary who comes first. */
static void race_jitter(unsigned *seed)
{
	for (int k = rand_r(seed) % 64; k > 0; k--)
		filch__cpu_relax();
}

/* Waits until race_round reaches r; returns its value. */
static long race_wait_round(long r)
{
	long armed;
	unsigned spins = 0;

	/* Acquire: pairs with the owner's release of the round. */
	while ((armed = filch__load(&race_round, acquire)) < r) {
		if (++spins % 4096 == 0)
			sched_yield(); /* a loaded machine */
		else
			filch__cpu_relax();
	}
	return armed;
}

static void *race_thief(void *arg)
{
	unsigned seed = 7;
	long r;
	void *x;

	rcu_register_thread();
	for (r = 1;; r++) {
		int got = 0;

		if (race_wait_round(r) == LONG_MAX)
			break; /* the owner is done */
		race_jitter(&seed);
		if (filch__deque_steal(&dq, &x) == FILCH__STEAL_OK)
			got = x == ITEM(r) ? 1 : 2;
		filch__store(&race_thief_got, got, relaxed);
		/* Release: race_thief_got before the answer; pairs with the
		 * owner's acquire load in test_last_item_race. */
		filch__store(&race_answered, r, release);
	}
	rcu_unregister_thread();
	return NULL;
}

static void test_last_item_race(void)
{
	long r, rounds = 20000, exactly_once = 0, owner_won = 0, thief_won = 0;
	int64_t deadline = tap_now_ns() + 4 * INT64_C(1000000000);
	pthread_t th;
	unsigned seed = 3;
	bool wrong_item = false;

	is(filch__deque_init(&dq, 0), 0, "init with capacity 1");
	ok(pthread_create(&th, NULL, race_thief, NULL) == 0, "start thief");
	for (r = 1; r <= rounds; r++) {
		void *mine;
		int theirs;

		filch__deque_push(&dq, ITEM(r));
		/* Release: the push before the round; pairs with the
		 * thief's acquire load. */
		filch__store(&race_round, r, release);
		race_jitter(&seed);
		mine = filch__deque_pop(&dq);
		/* Acquire: pairs with the thief's release of its answer. */
		for (unsigned spins = 1; filch__load(&race_answered, acquire) < r;
		     spins++)
			if (spins % 4096 == 0)
				sched_yield();
			else
				filch__cpu_relax();
		theirs = filch__load(&race_thief_got, relaxed);
		wrong_item |= (mine && mine != ITEM(r)) || theirs == 2;
		exactly_once += (mine != NULL) + (theirs != 0) == 1;
		owner_won += mine != NULL;
		thief_won += theirs != 0;
		if (tap_now_ns() > deadline && r >= 1000)
			break; /* a loaded machine: fewer rounds */
	}
	if (r > rounds)
		r = rounds;
	/* The thief answered every round: tell it to stop. */
	filch__store(&race_round, LONG_MAX, release);
	pthread_join(th, NULL);
	ok(!wrong_item, "the last item race never returns a wrong item");
	is(exactly_once, r, "exactly one of pop and steal got the item, %ld rounds",
	   r);
	diag("last-item race: owner won %ld, thief won %ld", owner_won,
	     thief_won);
	filch__deque_destroy(&dq);
}

/*
 * Exact-once: the owner pushes N items and pops at random while thieves
 * steal; every item must be delivered once.
 */
enum { EO_N = 300000, EO_THIEVES = 3 };
static _Atomic unsigned char eo_mark[EO_N + 1];
static _Atomic int eo_owner_done;
static _Atomic long eo_steals;

static void eo_deliver(void *x)
{
	uintptr_t id = ID(x);

	if (id >= 1 && id <= EO_N)
		filch__add(&eo_mark[id], 1, relaxed);
	else
		filch__add(&eo_mark[0], 1, relaxed); /* garbage */
}

static void *eo_thief(void *arg)
{
	long n = 0;
	void *x;

	rcu_register_thread();
	for (;;) {
		enum filch__steal s = filch__deque_steal(&dq, &x);

		if (s == FILCH__STEAL_OK) {
			eo_deliver(x);
			n++;
		} else if (s == FILCH__STEAL_EMPTY) {
			/* Acquire: the owner's last pop before we quit. */
			if (filch__load(&eo_owner_done, acquire))
				break;
			sched_yield();
		}
	}
	filch__add(&eo_steals, n, relaxed);
	rcu_unregister_thread();
	return NULL;
}

static void test_exact_once(void)
{
	pthread_t th[EO_THIEVES];
	unsigned seed = 12345;
	uintptr_t i;
	long pops = 0, lost = 0, dup = 0;
	int k;
	void *x;

	is(filch__deque_init(&dq, 1), 0, "init with capacity 2");
	for (k = 0; k < EO_THIEVES; k++)
		pthread_create(&th[k], NULL, eo_thief, NULL);
	for (i = 1; i <= EO_N; i++) {
		filch__deque_push(&dq, ITEM(i));
		if (rand_r(&seed) % 3 == 0 && (x = filch__deque_pop(&dq))) {
			eo_deliver(x);
			pops++;
		}
	}
	while ((x = filch__deque_pop(&dq))) {
		eo_deliver(x);
		pops++;
	}
	/* Release: our pops before the thieves stop. */
	filch__store(&eo_owner_done, 1, release);
	for (k = 0; k < EO_THIEVES; k++)
		pthread_join(th[k], NULL);
	for (i = 1; i <= EO_N; i++) {
		unsigned m = filch__load(&eo_mark[i], relaxed);

		lost += m == 0;
		dup += m > 1;
	}
	is(filch__load(&eo_mark[0], relaxed), 0, "no garbage item delivered");
	is(lost, 0, "no item lost with %d concurrent thieves", EO_THIEVES);
	is(dup, 0, "no item delivered twice");
	is(pops + filch__load(&eo_steals, relaxed), EO_N,
	   "pops + steals = items pushed");
	diag("exact-once: %ld pops, %ld steals, %lu growths", pops,
	     filch__load(&eo_steals, relaxed), dq.growths);
	filch__deque_destroy(&dq);
}

int main(void)
{
	tap_plan(0);
	rcu_register_thread(); /* the main thread steals too */
	test_init_errors();
	test_empty();
	test_lifo_fifo();
	test_doublings();
#ifdef FILCH_FAULT_INJECTION
	test_grow_enomem();
#endif
	test_last_item_race();
	test_exact_once();
	rcu_unregister_thread();
	return tap_done();
}
