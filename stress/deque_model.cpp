// SPDX-License-Identifier: MIT
// deque_model.cpp - a Relacy model of runtime/deque.c: push, pop, the
// owner's take_oldest, steal and growth with exact-once assertions, and the
// five mutants.
//
//   deque_model [--mutant N] [--tsan-form 0|1] [--bound1 B1] [--bound2 B2]
//               [--random K]
//
// The model mirrors deque.h/deque.c operation for operation, with the same
// memory orders (C11 atomics become rl::atomic): top_seen, the early empty
// return of pop, make_room's reload of top, growth by doubling with the
// copy and the release of the new buffer, steal's slot read before its CAS.
// Retired buffers are freed after the run (RCU is not modelled: call_rcu
// only delays the free past every reader, which is what the model does).
//
// Scenario: the owner pushes 1, 2, 3 into a buffer of 2 (the third push
// grows it unless thieves made room, in which case it wraps a slot), takes
// the oldest (racing the thieves at their end), pops, pushes 4 and then
// pops and takes the oldest in turn until empty; each thief steals twice. Every item must
// be delivered exactly once (asserted at each delivery and at the end).
//
// Checks:
//   1. every schedule within a context bound (the fair context-bound
//      scheduler: exhaustive up to that many preemptions), B1 with one
//      thief and B2 with two (default 3 and 2: 0.6M and 1.1M schedules;
//      B2 = 3 is 42M schedules, about 4 minutes here), and
//   2. K random schedules with one thief and K with two (the random
//      scheduler also lets loads read older values).
// Exit status: 0 if no check found an error, 3 if one did (the expected
// outcome for a mutant), 2 on bad usage. `make verify-deque` requires 0
// for the deque and 3 for every mutant.

#include <relacy/relacy.hpp>
#include "model_run.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// 0: the deque as built; 1: take without seq_cst; 2: no buffer reload
// after growth; 3: slot read after the CAS; 4: take_oldest sets top_seen
// to bottom; 5: take_oldest moves top with a plain store (see
// FILCH_DEQUE_MUTANT).
int mutant;
// The fences of pop and steal (atomic.h: filch__store_then_fence and
// friends): false, relaxed/acquire accesses around a seq_cst fence (normal
// builds); true, seq_cst accesses and no fence (ThreadSanitizer builds).
bool tsan_form;

enum { ITEMS = 4, MAX_SLOTS = 8, STEALS_PER_THIEF = 2 };

struct buffer {
	int mask;
	rl::atomic<int> slot[MAX_SLOTS];
};

enum steal_result { STEAL_OK, STEAL_EMPTY, STEAL_RETRY };

template <rl::thread_id_t THREADS>
struct deque_test : rl::test_suite<deque_test<THREADS>, THREADS> {
	rl::atomic<int> bottom;
	rl::atomic<int> top;
	rl::atomic<buffer *> buf;
	int top_seen;			// owner only
	buffer *retired[MAX_SLOTS];	// owner only; freed in after()
	int nretired;
	rl::atomic<int> delivered[ITEMS + 1];

	static buffer *buffer_new(int capacity)
	{
		buffer *a = new buffer;

		a->mask = capacity - 1;
		for (int i = 0; i < capacity; i++)
			a->slot[i].store(0, rl::memory_order_relaxed);
		return a;
	}

	void before()
	{
		bottom.store(0, rl::memory_order_relaxed);
		top.store(0, rl::memory_order_relaxed);
		buf.store(buffer_new(2), rl::memory_order_relaxed);
		top_seen = 0;
		nretired = 0;
		for (int i = 0; i <= ITEMS; i++)
			delivered[i].store(0, rl::memory_order_relaxed);
	}

	void deliver(int x)
	{
		RL_ASSERT(x >= 1 && x <= ITEMS); // no garbage item
		int before = delivered[x].fetch_add(1, rl::memory_order_relaxed);
		RL_ASSERT(before == 0); // no duplicate
	}

	// deque.c: deque_grow (the copy starts at top as make_room read it).
	void grow(buffer *old, int t, int b)
	{
		buffer *a = buffer_new(2 * (old->mask + 1));

		for (int i = t; i < b; i++)
			a->slot[i & a->mask].store(
				old->slot[i & old->mask].load(
					rl::memory_order_relaxed),
				rl::memory_order_relaxed);
		buf.store(a, rl::memory_order_release);
		retired[nretired++] = old;
	}

	// deque.c: make_room (filch__deque_push_grow's).
	void make_room()
	{
		int b = bottom.load(rl::memory_order_relaxed);
		buffer *a = buf.load(rl::memory_order_relaxed);
		int t = top.load(rl::memory_order_acquire);

		top_seen = t;
		if (b - t > a->mask)
			grow(a, t, b);
	}

	// deque.h: filch__deque_try_push and filch__deque_put (deque.c's
	// filch__deque_push_grow when the buffer is full).
	void push(int x)
	{
		int b = bottom.load(rl::memory_order_relaxed);
		buffer *a = buf.load(rl::memory_order_relaxed);

		if (b - top_seen > a->mask) {
			make_room();
			if (mutant != 2)
				a = buf.load(rl::memory_order_relaxed);
		}
		a->slot[b & a->mask].store(x, rl::memory_order_relaxed);
		bottom.store(b + 1, rl::memory_order_release);
	}

	// deque.h: filch__deque_take_last.
	int take_last(buffer *a, int b)
	{
		int x = a->slot[b & a->mask].load(rl::memory_order_relaxed);
		int t = b;

		if (!top.compare_exchange_strong(t, b + 1,
						 rl::memory_order_seq_cst,
						 rl::memory_order_acquire))
			x = 0;
		top_seen = b + 1;
		return x;
	}

	// deque.h: filch__deque_pop; 0 when empty. The store-load fence in
	// the form of the build (atomic.h: filch__store_then_fence).
	int pop()
	{
		int b = bottom.load(rl::memory_order_relaxed) - 1;
		buffer *a = buf.load(rl::memory_order_relaxed);
		int t, x;

		if (b < top_seen)
			return 0;
		if (b == top_seen)
			return take_last(a, b);
		if (mutant == 1) {
			bottom.store(b, rl::memory_order_release);
			t = top.load(rl::memory_order_acquire);
		} else if (tsan_form) {
			bottom.store(b, rl::memory_order_seq_cst);
			t = top.load(rl::memory_order_seq_cst);
		} else {
			bottom.store(b, rl::memory_order_relaxed);
			rl::atomic_thread_fence(rl::memory_order_seq_cst);
			t = top.load(rl::memory_order_acquire);
		}
		top_seen = t;
		if (t < b)
			return a->slot[b & a->mask].load(rl::memory_order_relaxed);
		x = t == b ? take_last(a, b) : 0;
		bottom.store(b + 1, rl::memory_order_release);
		return x;
	}

	// deque.h: filch__deque_take_oldest; 0 when empty.
	int take_oldest()
	{
		int b = bottom.load(rl::memory_order_relaxed);
		buffer *a = buf.load(rl::memory_order_relaxed);
		int t = top.load(rl::memory_order_relaxed);

		while (t < b) {
			int x = a->slot[t & a->mask].load(
				rl::memory_order_relaxed);

			if (mutant == 5) {
				top.store(t + 1, rl::memory_order_seq_cst);
				top_seen = t + 1;
				return x;
			}
			if (top.compare_exchange_strong(
				    t, t + 1, rl::memory_order_seq_cst,
				    rl::memory_order_acquire)) {
				top_seen = mutant == 4 ? b : t + 1;
				return x;
			}
			top_seen = t;
		}
		return 0;
	}

	// deque.c: filch__deque_steal.
	steal_result steal(int *item)
	{
		buffer *a;
		int t, b, x;

		if (tsan_form) {
			t = top.load(rl::memory_order_seq_cst);
			b = bottom.load(rl::memory_order_seq_cst);
		} else {
			t = top.load(rl::memory_order_acquire);
			rl::atomic_thread_fence(rl::memory_order_seq_cst);
			b = bottom.load(rl::memory_order_acquire);
		}

		if (t >= b)
			return STEAL_EMPTY;
		a = buf.load(rl::memory_order_acquire);
		if (mutant == 3) {
			if (!top.compare_exchange_strong(
				    t, t + 1, rl::memory_order_seq_cst,
				    rl::memory_order_relaxed))
				return STEAL_RETRY;
			x = a->slot[t & a->mask].load(rl::memory_order_relaxed);
		} else {
			x = a->slot[t & a->mask].load(rl::memory_order_relaxed);
			if (!top.compare_exchange_strong(
				    t, t + 1, rl::memory_order_seq_cst,
				    rl::memory_order_relaxed))
				return STEAL_RETRY;
		}
		*item = x;
		return STEAL_OK;
	}

	void owner_pop()
	{
		int x = pop();

		if (x)
			deliver(x);
	}

	void owner_take_oldest()
	{
		int x = take_oldest();

		if (x)
			deliver(x);
	}

	void thread(unsigned index)
	{
		if (index == 0) {
			push(1);
			push(2);
			push(3);
			owner_take_oldest();
			owner_pop();
			push(4);
			for (int i = 0; i < ITEMS; i++) {
				if (i % 2)
					owner_take_oldest();
				else
					owner_pop();
			}
		} else {
			for (int i = 0; i < STEALS_PER_THIEF; i++) {
				int x;

				if (steal(&x) == STEAL_OK)
					deliver(x);
			}
		}
	}

	void after()
	{
		int x;

		// The owner popped until empty and every thief is done: nothing
		// may be left, and every item was delivered once.
		while ((x = pop()))
			deliver(x);
		for (int i = 1; i <= ITEMS; i++)
			RL_ASSERT(delivered[i].load(rl::memory_order_relaxed) == 1);
		delete buf.load(rl::memory_order_relaxed);
		for (int i = 0; i < nretired; i++)
			delete retired[i];
	}
};

// Runs one check and prints its outcome; true when Relacy found no error.
template <rl::thread_id_t THREADS>
bool check(rl::scheduler_type_e type, unsigned bound, unsigned long iterations)
{
	char prefix[64];

	std::snprintf(prefix, sizeof(prefix),
		      "deque_model: mutant=%d form=%s thieves=%d", mutant,
		      tsan_form ? "tsan" : "fence", (int)THREADS - 1);
	return model_check<deque_test<THREADS> >(prefix, type, bound,
						 iterations);
}

void usage()
{
	std::fprintf(stderr,
		     "usage: deque_model [--mutant 0-5] [--tsan-form 0|1] "
		     "[--bound1 B1] [--bound2 B2] [--random K]\n");
	std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
	unsigned bound1 = 3, bound2 = 2;
	unsigned long random_iterations = 200000;
	bool ok = true;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!std::strcmp(argv[i], "--mutant"))
			mutant = std::atoi(argv[++i]);
		else if (!std::strcmp(argv[i], "--bound1"))
			bound1 = (unsigned)std::atoi(argv[++i]);
		else if (!std::strcmp(argv[i], "--bound2"))
			bound2 = (unsigned)std::atoi(argv[++i]);
		else if (!std::strcmp(argv[i], "--tsan-form"))
			tsan_form = std::atoi(argv[++i]) != 0;
		else if (!std::strcmp(argv[i], "--random"))
			random_iterations = std::strtoul(argv[++i], 0, 0);
		else
			usage();
	}
	if (mutant < 0 || mutant > 5 || bound1 < 1 || bound2 < 1)
		usage();

	// Every check runs, so that the log says which ones catch a mutant;
	// Relacy prints the history of each failing schedule.
	ok &= check<2>(rl::fair_context_bound_scheduler_type, bound1, 0);
	ok &= check<3>(rl::fair_context_bound_scheduler_type, bound2, 0);
	ok &= check<2>(rl::random_scheduler_type, 0, random_iterations);
	ok &= check<3>(rl::random_scheduler_type, 0, random_iterations);
	std::printf("deque_model: mutant=%d form=%s bounds=%u,%u random=%lu: "
		    "%s\n",
		    mutant, tsan_form ? "tsan" : "fence", bound1, bound2,
		    random_iterations,
		    ok ? "no error found" : "ERROR FOUND");
	return ok ? 0 : 3;
}
