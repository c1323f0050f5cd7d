// SPDX-License-Identifier: MIT
// future_model.cpp - a Relacy model of the future's state word and callback
// list (runtime/future.c): the start/cancel race and the store-load pair
// between a completion and on_done, with exact-once assertions, and three
// mutants the model must catch.
//
//   future_model [--mutant N] [--bound B] [--random K]
//
// The model mirrors future.c with the same memory orders (C11 atomics become
// rl::atomic, plain fields rl::var so that Relacy reports a data race when
// the orders do not make them visible):
//   runner:    start = fetch_or(RUNNING, acquire); if it won: write the
//              result, xchg(FINISHED, seq_cst), completed()
//   canceller: CAS PENDING -> CANCELLED (seq_cst), completed() if it won
//   2 adders:  filch__future_add_callback: load state (acquire), done: run
//              at once; else push (CAS seq_cst, acquire on failure), then
//              load state (seq_cst) and close the list if done
//   completed(): load the list (seq_cst), close it if not empty
//   closing:   xchg(list, CLOSED, acq_rel), run every node taken
// A callback asserts that the future is done and reads the result (a race
// unless the final transition happens before it). At the end: every node ran
// exactly once, and exactly one of start and cancel won.
//
// Mutants: 1, the adder does not load the state after its push; 2, the pair
// is acquire/release instead of seq_cst (a store-load reordering strands a
// node); 3, start is a load and a store instead of one RMW (start and cancel
// both win).
//
// Checks: every schedule within the context bound B (default 3), and K
// random schedules (default 200000). Exit status 0 if no check found an
// error, 3 if one did (the expected outcome for a mutant), 2 on bad usage.

#include <relacy/relacy.hpp>
#include "model_run.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int mutant;

enum : unsigned { PENDING = 0, RUNNING = 1, FINISHED = 2, CANCELLED = 3 };
enum { ADDERS = 2, THREADS = 2 + ADDERS };

struct node {
	rl::var<node *> next;
	int index;
};

bool is_done(unsigned s)
{
	return s >= FINISHED;
}

struct future_test : rl::test_suite<future_test, THREADS> {
	rl::atomic<unsigned> state;
	rl::atomic<node *> callbacks;
	rl::var<int> result;
	node closed_mark; // the sentinel CLOSED
	node nodes[ADDERS];
	rl::atomic<int> ran[ADDERS];
	rl::atomic<int> winners; // start and cancel that won

	rl::memory_order pair_rmw() const
	{
		return mutant == 2 ? rl::mo_acq_rel : rl::mo_seq_cst;
	}
	rl::memory_order pair_load() const
	{
		return mutant == 2 ? rl::mo_acquire : rl::mo_seq_cst;
	}

	void before()
	{
		state.store(PENDING, rl::mo_relaxed, $);
		callbacks.store(nullptr, rl::mo_relaxed, $);
		winners.store(0, rl::mo_relaxed, $);
		for (int i = 0; i < ADDERS; i++) {
			nodes[i].index = i;
			ran[i].store(0, rl::mo_relaxed, $);
		}
	}

	void run_node(node *n)
	{
		unsigned s = state.load(rl::mo_relaxed, $);
		RL_ASSERT(is_done(s)); // a callback runs on a done future
		if (s == FINISHED)
			RL_ASSERT(result($) == 42); // and sees its outcome
		int before = ran[n->index].fetch_add(1, rl::mo_relaxed, $);
		RL_ASSERT(before == 0); // exactly once
	}

	void run_callbacks()
	{
		node *n = callbacks.exchange(&closed_mark, rl::mo_acq_rel, $);
		if (n == &closed_mark)
			return;
		node *list = nullptr;
		while (n) {
			node *next = n->next($);
			n->next($) = list;
			list = n;
			n = next;
		}
		while (list) {
			node *next = list->next($);
			run_node(list);
			list = next;
		}
	}

	void completed()
	{
		if (callbacks.load(pair_load(), $))
			run_callbacks();
	}

	void add_callback(node *n)
	{
		if (is_done(state.load(rl::mo_acquire, $))) {
			run_node(n);
			return;
		}
		node *head = callbacks.load(rl::mo_acquire, $);
		for (;;) {
			if (head == &closed_mark) {
				run_node(n);
				return;
			}
			n->next($) = head;
			if (callbacks.compare_exchange_weak(head, n, pair_rmw(), $,
							    rl::mo_acquire, $))
				break;
		}
		if (mutant == 1)
			return;
		if (is_done(state.load(pair_load(), $)))
			run_callbacks();
	}

	void runner()
	{
		bool won;
		if (mutant == 3) {
			unsigned s = state.load(rl::mo_acquire, $);
			won = s == PENDING;
			if (won)
				state.store(RUNNING, rl::mo_relaxed, $);
		} else {
			unsigned old = state.fetch_or(RUNNING, rl::mo_acquire, $);
			won = !(old & RUNNING); // as filch__future_start
		}
		if (!won)
			return;
		winners.fetch_add(1, rl::mo_relaxed, $);
		result($) = 42;
		state.exchange(FINISHED, pair_rmw(), $);
		completed();
	}

	void canceller()
	{
		unsigned s = state.load(rl::mo_relaxed, $);
		while (s == PENDING) {
			if (state.compare_exchange_weak(s, CANCELLED, pair_rmw(), $,
							rl::mo_relaxed, $)) {
				winners.fetch_add(1, rl::mo_relaxed, $);
				completed();
				return;
			}
		}
	}

	void thread(unsigned index)
	{
		if (index == 0)
			runner();
		else if (index == 1)
			canceller();
		else
			add_callback(&nodes[index - 2]);
	}

	void after()
	{
		RL_ASSERT(winners.load(rl::mo_relaxed, $) == 1);
		for (int i = 0; i < ADDERS; i++)
			RL_ASSERT(ran[i].load(rl::mo_relaxed, $) == 1);
	}
};

bool check(rl::scheduler_type_e type, unsigned bound, unsigned long iterations)
{
	unsigned long long schedules;
	bool ok = model_simulate<future_test>(type, bound, iterations, 4000,
					      &schedules);
	std::printf("future_model: mutant=%d %s: %s after %llu schedules\n",
		    mutant,
		    type == rl::random_scheduler_type ? "random" : "exhaustive",
		    ok ? "no error" : "ERROR FOUND", schedules);
	return ok;
}

[[noreturn]] void usage()
{
	std::fprintf(stderr, "usage: future_model [--mutant 0-3] [--bound B] "
			     "[--random K]\n");
	std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
	const model_args a = model_parse_args(argc, argv, 3, usage);
	const unsigned bound = a.bound;
	const unsigned long random_iterations = a.random;

	mutant = a.mutant;
	bool ok = check(rl::fair_context_bound_scheduler_type, bound, 0);
	ok &= check(rl::random_scheduler_type, 0, random_iterations);
	std::printf("future_model: mutant=%d bound=%u random=%lu: %s\n", mutant,
		    bound, random_iterations,
		    ok ? "no error found" : "ERROR FOUND");
	return ok ? 0 : 3;
}
