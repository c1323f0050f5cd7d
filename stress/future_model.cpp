// SPDX-License-Identifier: MIT
// future_model.cpp - a Relacy model of the future's state word and callback
// list (runtime/future.c): the start/cancel race, the store-load pair
// between a completion and on_done, the runner alone (its reference the
// only one: start and finish with plain stores), and the TAKEN bit (one
// taker of the result, which the result's destructor then leaves alone),
// with exact-once assertions, and seven mutants the model must catch.
//
//   future_model [--mutant N] [--bound B] [--random K]
//
// The model mirrors future.c with the same memory orders (C11 atomics become
// rl::atomic, plain fields rl::var so that Relacy reports a data race when
// the orders do not make them visible):
//   runner:    alone = (load refs (acquire) == 1), as filch__future_alone;
//              alone: start = load state, store RUNNING if PENDING; finish =
//              store FINISHED, load the list, store CLOSED, run the nodes
//              (all relaxed); else start = CAS PENDING -> RUNNING (acquire);
//              if it won: write the result, xchg(FINISHED, seq_cst),
//              completed(). Then it drops its reference.
//   canceller: CAS PENDING -> CANCELLED (seq_cst), completed() if it won;
//              then drops its reference
//   2 adders:  filch__future_add_callback: load state (acquire), done: run
//              at once; else push (CAS seq_cst, acquire on failure), then
//              load state (seq_cst) and close the list if done; then each
//              takes the result if it finds the future FINISHED, as
//              filch_future_take_result (fetch_or TAKEN, relaxed: the one
//              that found no TAKEN owns the result, the other gets
//              -EALREADY); then each drops its reference
//              (future.c asks again at the finish, after the task's frame
//              is left, for a shutdown report that retains it meanwhile;
//              the model has no such reader and decides once.)
//   a reference drop: as filch_future_release (a load of 1 with acquire, or
//              an acq_rel decrement); the last one frees: the future has a
//              result destructor (filch_submit_ex), which free_owner calls
//              on a FINISHED result without TAKEN (state loaded relaxed),
//              and the block is reused (the result rewritten: a race with
//              any use not ordered before it)
//   completed(): load the list (seq_cst), close it if not empty
//   closing:   xchg(list, CLOSED, acq_rel), run every node taken
// A callback asserts that the future is done and reads the result (a race
// unless the final transition happens before it). At the end: every node ran
// exactly once, and exactly one of start and cancel won.
//
// Mutants: 1, the adder does not load the state after its push; 2, the pair
// is acquire/release instead of seq_cst (a store-load reordering strands a
// node); 3, start is a load and a store instead of one RMW (start and cancel
// both win); 4, the runner's load of refs is relaxed (the holders' pushes and
// cancel are not ordered before its plain stores); 5, the runner counts
// itself alone while another holder remains (refs <= 2); 6, the take is a
// load and a store of TAKEN instead of one RMW (two takers may own the
// result; and the plain store ends the release sequence of the final
// transition, so that a reader that loads FINISHED|TAKEN no longer
// acquires the result: Relacy reports that race first); 7, the free
// calls the destructor whether TAKEN or not (it frees a result that a
// taker owns). A FINISHED result has exactly one owner at the end: one
// taker or the destructor.
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
enum : unsigned { PHASE = 3, TAKEN = 4 }; // the phase's mask, and a flag
enum { ADDERS = 2, THREADS = 2 + ADDERS };

struct node {
	rl::var<node *> next;
	int index;
};

bool is_done(unsigned s)
{
	return (s & PHASE) >= FINISHED;
}

struct future_test : rl::test_suite<future_test, THREADS> {
	rl::atomic<unsigned> state;
	rl::atomic<node *> callbacks;
	rl::var<int> result;
	node closed_mark; // the sentinel CLOSED
	node nodes[ADDERS];
	rl::atomic<int> ran[ADDERS];
	rl::atomic<int> winners; // start and cancel that won
	rl::atomic<unsigned> refs; // one per thread, as filch_future's refs
	// Takers that got the result, and the destructor's call: a plain
	// count (the model's threads run one at a time) that adds no
	// scheduling point.
	int owners;

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
		owners = 0;
		refs.store(THREADS, rl::mo_relaxed, $);
		for (int i = 0; i < ADDERS; i++) {
			nodes[i].index = i;
			ran[i].store(0, rl::mo_relaxed, $);
		}
	}

	void run_node(node *n)
	{
		unsigned s = state.load(rl::mo_relaxed, $);
		RL_ASSERT(is_done(s)); // a callback runs on a done future
		if ((s & PHASE) == FINISHED)
			RL_ASSERT(result($) == 42); // and sees its outcome
		int before = ran[n->index].fetch_add(1, rl::mo_relaxed, $);
		RL_ASSERT(before == 0); // exactly once
	}

	void run_callbacks()
	{
		node *n = callbacks.exchange(&closed_mark, rl::mo_acq_rel, $);
		if (n != &closed_mark)
			run_taken(n);
	}

	void run_taken(node *n)
	{
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

	// filch_future_take_result on a future found FINISHED (the wait's
	// acquire load of the final phase); -EALREADY when another took it.
	void take()
	{
		if ((state.load(rl::mo_acquire, $) & PHASE) != FINISHED)
			return;
		unsigned old;
		if (mutant == 6) {
			old = state.load(rl::mo_relaxed, $);
			if (!(old & TAKEN))
				state.store(old | TAKEN, rl::mo_relaxed, $);
		} else {
			old = state.fetch_or(TAKEN, rl::mo_relaxed, $);
		}
		if (old & TAKEN)
			return; // -EALREADY
		RL_ASSERT(result($) == 42);
		owners++;
	}

	// filch_future_release; the last reference frees the future, calling
	// the result's destructor as free_owner does.
	void release()
	{
		if (refs.load(rl::mo_acquire, $) != 1 &&
		    refs.fetch_sub(1, rl::mo_acq_rel, $) != 1)
			return;
		unsigned s = state.load(rl::mo_relaxed, $);
		if ((s & PHASE) == FINISHED && (mutant == 7 || !(s & TAKEN))) {
			RL_ASSERT(result($) == 42);
			owners++;
		}
		result($) = 0; // the block is reused
	}

	// The runner alone: no RMW (filch__future_start and _finish with
	// alone).
	void run_alone()
	{
		unsigned s = state.load(rl::mo_relaxed, $);
		if (s != PENDING)
			return;
		state.store(RUNNING, rl::mo_relaxed, $);
		winners.fetch_add(1, rl::mo_relaxed, $);
		result($) = 42;
		state.store(FINISHED, rl::mo_relaxed, $);
		node *n = callbacks.load(rl::mo_relaxed, $);
		if (n) {
			callbacks.store(&closed_mark, rl::mo_relaxed, $);
			run_taken(n);
		}
	}

	void runner()
	{
		unsigned count = refs.load(
			mutant == 4 ? rl::mo_relaxed : rl::mo_acquire, $);
		if (count == 1 || (mutant == 5 && count == 2)) {
			run_alone();
			return;
		}
		bool won;
		if (mutant == 3) {
			unsigned s = state.load(rl::mo_acquire, $);
			won = s == PENDING;
			if (won)
				state.store(RUNNING, rl::mo_relaxed, $);
		} else { // as filch__future_start
			unsigned s = state.load(rl::mo_relaxed, $);
			won = false;
			while (s == PENDING && !won)
				won = state.compare_exchange_weak(
					s, RUNNING, rl::mo_acquire, $,
					rl::mo_relaxed, $);
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
		else {
			add_callback(&nodes[index - 2]);
			take();
		}
		release();
	}

	void after()
	{
		RL_ASSERT(winners.load(rl::mo_relaxed, $) == 1);
		// A FINISHED result has one owner; a CANCELLED future none.
		bool finished = (state.load(rl::mo_relaxed, $) & PHASE) == FINISHED;
		RL_ASSERT(owners == (finished ? 1 : 0));
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
	std::fprintf(stderr, "usage: future_model [--mutant 0-7] [--bound B] "
			     "[--random K]\n");
	std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
	const model_args a = model_parse_args(argc, argv, 7, usage);
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
