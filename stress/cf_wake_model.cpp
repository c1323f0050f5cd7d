// SPDX-License-Identifier: MIT
// cf_wake_model.cpp - a Relacy model of the wake word of runtime/waitset.c
// (cf_signal_notify, cf_signal_consume, cf_signal_wait) with its two users:
// the as_completed list (push, then notify if the push found the list
// empty; take after a consumed notification) and filch_wait's pre-wake
// hint (a notification that does not mean "satisfied", followed by the one
// that does).
//
//   cf_wake_model [--mutant N] [--bound B] [--random K]
//
// The model mirrors the code's orders: C11 atomics become rl::atomic and
// the futex calls Relacy's futex (FUTEX_WAIT compares the word with the
// expected value atomically with going to sleep, as the kernel does). A
// lost wake-up leaves the waiter asleep for ever, which Relacy reports as a
// deadlock; a missed item or flag is an assertion.
//
// Scenarios (each checked exhaustively within the context bound, then with
// K random schedules):
//   list: 2 notifiers push one item each, and notify when their push found
//         the list empty; the waiter takes items until it has both,
//         sleeping on the word when there are none.
//   hint: one notifier sends the hint, the other sets `satisfied` and
//         notifies; the waiter waits (wait_block) until it sees `satisfied`.
//
// Mutants, which the model must catch (exit status 3):
//   1  the shortcut "a pending notification covers this one" with
//      release/acquire orders instead of seq_cst (the store-buffer shape:
//      the notifier skips, the waiter's look misses the change);
//   2  the waiter announces sleep with a plain store instead of the CAS from
//      IDLE, overwriting a notification;
//   3  the notifier wakes nobody when it replaced SLEEPING;
//   4  the list notifier decides whether the list was empty from a load
//      before its push instead of from the push's own result.
// Exit status: 0 when no check found an error, 3 when one did, 2 on usage.

#include <relacy/relacy.hpp>
#include "model_run.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int mutant;

enum { SIG_IDLE = 0, SIG_SLEEPING = 1, SIG_NOTIFIED = 2 };

// The orders of the shortcut's four accesses (mutant 1 weakens them).
rl::memory_order change_mo() { return mutant == 1 ? rl::mo_release : rl::mo_seq_cst; }
rl::memory_order look_mo() { return mutant == 1 ? rl::mo_acquire : rl::mo_seq_cst; }
rl::memory_order rmw_mo() { return mutant == 1 ? rl::mo_acq_rel : rl::mo_seq_cst; }

struct wake_word {
	rl::atomic<int> word;

	void init() { word.store((int)SIG_IDLE, rl::mo_relaxed, $); }

	// cf_signal_notify
	void notify()
	{
		if (word.load(look_mo(), $) == SIG_NOTIFIED)
			return;
		if (word.exchange((int)SIG_NOTIFIED, rmw_mo(), $) == SIG_SLEEPING &&
		    mutant != 3)
			rl::rl_futex(&word, rl::RL_FUTEX_WAKE, 1, 0, 0, 0, $);
	}

	// cf_signal_consume
	bool consume()
	{
		if (word.load(rl::mo_relaxed, $) != SIG_NOTIFIED)
			return false;
		return word.exchange((int)SIG_IDLE, rmw_mo(), $) == SIG_NOTIFIED;
	}

	// cf_signal_wait without a deadline and without the spin (which only
	// repeats consume): returns once a notification was consumed.
	void wait()
	{
		for (;;) {
			if (consume())
				return;
			if (mutant == 2) {
				word.store((int)SIG_SLEEPING, rl::mo_relaxed, $);
			} else {
				int idle = SIG_IDLE;
				if (!word.compare_exchange_strong(
					    idle, (int)SIG_SLEEPING,
					    rl::mo_relaxed, $, rl::mo_relaxed, $))
					continue;
			}
			rl::rl_futex(&word, rl::RL_FUTEX_WAIT, SIG_SLEEPING, 0, 0,
				     0, $);
			if (word.exchange((int)SIG_IDLE, rmw_mo(), $) == SIG_NOTIFIED)
				return;
		}
	}
};

// as_completed: the list is reduced to the count of items pushed and not
// yet taken (push is a seq_cst RMW whose result tells whether the list was
// empty, take an exchange with 0 after a load).
struct list_test : rl::test_suite<list_test, 3> {
	wake_word w;
	rl::atomic<int> pushed;

	void before()
	{
		w.init();
		pushed.store(0, rl::mo_relaxed, $);
	}

	void thread(unsigned index)
	{
		if (index > 0) { // ac_on_done
			bool was_empty;
			if (mutant == 4) {
				was_empty = pushed.load(rl::mo_relaxed, $) == 0;
				pushed.fetch_add(1, change_mo(), $);
			} else {
				was_empty = pushed.fetch_add(1, change_mo(), $) == 0;
			}
			if (was_empty)
				w.notify();
			return;
		}
		int got = 0; // filch_as_completed_next
		while (got < 2) {
			if (pushed.load(look_mo(), $) != 0) { // ac_take_done
				got += pushed.exchange(0, rmw_mo(), $);
				continue;
			}
			w.wait();
		}
		RL_ASSERT(got == 2);
	}
};

// filch_wait: the hint, then the satisfying notification.
struct hint_test : rl::test_suite<hint_test, 3> {
	wake_word w;
	rl::atomic<int> satisfied;

	void before()
	{
		w.init();
		satisfied.store(0, rl::mo_relaxed, $);
	}

	void thread(unsigned index)
	{
		if (index == 1) { // wait_on_done, the pre-wake hint
			w.notify();
			return;
		}
		if (index == 2) { // wait_on_done, the satisfying callback
			satisfied.store(1, change_mo(), $);
			w.notify();
			return;
		}
		for (;;) { // wait_block
			w.wait();
			if (satisfied.load(look_mo(), $))
				return;
			for (int i = 0; i < 2; i++) // the bounded spin
				if (satisfied.load(look_mo(), $))
					return;
		}
	}
};

template <class TEST>
bool check(const char *name, rl::scheduler_type_e type, unsigned bound,
	   unsigned long iterations)
{
	unsigned long long schedules;
	bool ok = model_simulate<TEST>(type, bound, iterations, 2000, &schedules);
	std::printf("cf_wake_model: mutant=%d %s %s: %s after %llu schedules\n",
		    mutant, name,
		    type == rl::random_scheduler_type ? "random" : "exhaustive",
		    ok ? "no error" : "ERROR FOUND", schedules);
	return ok;
}

void usage()
{
	std::fprintf(stderr, "usage: cf_wake_model [--mutant 0-4] [--bound B] "
			     "[--random K]\n");
	std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
	const model_args a = model_parse_args(argc, argv, 4, usage);
	const unsigned bound = a.bound;
	const unsigned long random_iterations = a.random;
	bool ok = true;

	mutant = a.mutant;
	ok &= check<list_test>("list", rl::fair_context_bound_scheduler_type,
			       bound, 0);
	ok &= check<hint_test>("hint", rl::fair_context_bound_scheduler_type,
			       bound, 0);
	ok &= check<list_test>("list", rl::random_scheduler_type, 0,
			       random_iterations);
	ok &= check<hint_test>("hint", rl::random_scheduler_type, 0,
			       random_iterations);
	std::printf("cf_wake_model: mutant=%d bound=%u random=%lu: %s\n", mutant,
		    bound, random_iterations,
		    ok ? "no error found" : "ERROR FOUND");
	return ok ? 0 : 3;
}
