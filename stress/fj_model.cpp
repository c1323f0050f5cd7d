// SPDX-License-Identifier: MIT
// fj_model.cpp - a Relacy model of the fork-join frame stack (runtime/fj.c
// and the inline paths of include/filch/fj.h): spawn, sharing on request,
// the private sync, the sync of a shared frame (take back or wait for the
// thief), and stealing, with exact-once assertions and four mutants.
//
//   fj_model [--mutant N] [--bound B] [--random K]
//
// The model mirrors fj.c with the same memory orders (C11 atomics become
// rl::atomic; a frame's arguments and result are rl::var, so that Relacy
// reports a data race when the orders do not make them visible). ts packs
// tail and split in 16-bit halves instead of 32.
//
// Scenario: the owner spawns frames 1, 2, 3 (its publish flag starts set,
// as fj_get leaves it, so the first spawn is shared), syncs twice, spawns
// 4, and syncs twice; each sync checks the result. Two thieves (one in the
// first checks) each try to steal twice; a thief that finds nothing shared
// sets publish, as take does. Every frame must run exactly once and every
// sync must return its frame's result. Not modelled: leapfrogging (thieves
// here spawn nothing), the futex sleep (the owner spins), and growth (a
// frame stack never grows).
//
// Mutants: 1, share's CAS relaxed instead of release (a thief reads the
// arguments unordered); 2, the thief's DONE relaxed instead of release (the
// owner reads the result unordered); 3, join takes the frame back by a load
// and a store instead of a CAS (the owner and a thief both run it); 4,
// join's test for a stolen frame is off by one (the owner runs a frame a
// thief took).
//
// Checks: every schedule within the context bound B (default 3) with one
// thief, B - 1 with two, and K random schedules (default 200000) each.
// Exit status 0 if no check found an error, 3 if one did (the expected
// outcome for a mutant), 2 on bad usage.

#include <relacy/relacy.hpp>
#include "model_run.hpp"

#include <cstdio>
#include <cstdlib>

namespace {

int mutant;

const unsigned DONE = 0x80000000u, CAP = 4;
const int FRAMES = 4, STEALS = 2;

unsigned pack(unsigned tail, unsigned split)
{
	return tail << 16 | split;
}

template <rl::thread_id_t THREADS>
struct fj_test : rl::test_suite<fj_test<THREADS>, THREADS> {
	// The frames: arguments, result, state word.
	rl::var<int> arg[CAP];
	rl::var<int> result[CAP];
	rl::atomic<unsigned> state[CAP];
	// Owner-private (struct filch_fj): head and its copy of split.
	unsigned head, split;
	rl::atomic<int> publish;
	rl::atomic<unsigned> ts;
	rl::atomic<int> ran[FRAMES + 1];

	void before()
	{
		head = split = 0;
		publish.store(1, rl::mo_relaxed, $);
		ts.store(0, rl::mo_relaxed, $);
		for (unsigned i = 0; i < CAP; i++)
			state[i].store(0, rl::mo_relaxed, $);
		for (int i = 0; i <= FRAMES; i++)
			ran[i].store(0, rl::mo_relaxed, $);
	}

	// The frame's function: runs once, returns 10 x.
	int run(int x)
	{
		RL_ASSERT(x >= 1 && x <= FRAMES);
		RL_ASSERT(ran[x].fetch_add(1, rl::mo_relaxed, $) == 0);
		return 10 * x;
	}

	// fj.c: filch_fj_share.
	void share()
	{
		unsigned s = split, ns = s + (head - s + 1) / 2;
		unsigned v;

		publish.store(0, rl::mo_relaxed, $);
		if (ns == s)
			return;
		v = ts.load(rl::mo_relaxed, $);
		while (!ts.compare_exchange_strong(
			v, pack(v >> 16, ns),
			mutant == 1 ? rl::mo_relaxed : rl::mo_release, $,
			rl::mo_relaxed, $))
			;
		split = ns;
	}

	// fj.h: the spawn of FILCH_SPAWN (push_, the stores, commit_).
	void spawn(int x)
	{
		arg[head]($) = x;
		state[head].store(0, rl::mo_relaxed, $);
		head++;
		if (publish.load(rl::mo_relaxed, $))
			share();
	}

	// fj.c: filch_fj_join; true when the caller runs the frame.
	bool join()
	{
		unsigned h = head - 1;
		unsigned v = ts.load(rl::mo_relaxed, $);

		for (;;) {
			unsigned t = v >> 16, s = v & 0xffff;
			unsigned ns = t + (s - t) / 2;

			if (mutant == 4 ? t > h + 1 : t > h)
				break;
			if (mutant == 3) {
				ts.store(pack(t, ns), rl::mo_relaxed, $);
				split = ns;
				head = h;
				return true;
			}
			if (ts.compare_exchange_strong(v, pack(t, ns),
						       rl::mo_relaxed, $,
						       rl::mo_relaxed, $)) {
				split = ns;
				head = h;
				return true;
			}
		}
		// wait_stolen, without leapfrogging or sleeping.
		while (!(state[h].load(rl::mo_acquire, $) & DONE))
			rl::yield(1, $);
		head = h;
		split = h;
		ts.store(pack(h, h), rl::mo_release, $);
		publish.store(1, rl::mo_relaxed, $);
		return false;
	}

	// fj.h: FILCH_SYNC (pop_ and the direct call); the frame's result.
	int sync()
	{
		unsigned h = head - 1;

		if (h >= split) {
			head = h;
			return run(arg[h]($));
		}
		if (join())
			return run(arg[head]($));
		return result[head]($);
	}

	// fj.c: take, then run_stolen.
	void steal(unsigned thief)
	{
		unsigned v = ts.load(rl::mo_relaxed, $);

		for (;;) {
			unsigned t = v >> 16, s = v & 0xffff;

			if (t >= s) {
				if (!publish.load(rl::mo_relaxed, $))
					publish.store(1, rl::mo_relaxed, $);
				return;
			}
			if (ts.compare_exchange_strong(v, v + (1u << 16),
						       rl::mo_acquire, $,
						       rl::mo_relaxed, $)) {
				state[t].fetch_or(thief, rl::mo_release, $);
				result[t]($) = run(arg[t]($));
				state[t].exchange(DONE, mutant == 2
							  ? rl::mo_relaxed
							  : rl::mo_release,
						  $);
				return;
			}
		}
	}

	void thread(unsigned index)
	{
		if (index == 0) {
			spawn(1);
			spawn(2);
			spawn(3);
			RL_ASSERT(sync() == 30);
			RL_ASSERT(sync() == 20);
			spawn(4);
			RL_ASSERT(sync() == 40);
			RL_ASSERT(sync() == 10);
		} else {
			for (int i = 0; i < STEALS; i++)
				steal(index);
		}
	}

	void after()
	{
		for (int i = 1; i <= FRAMES; i++)
			RL_ASSERT(ran[i].load(rl::mo_relaxed, $) == 1);
	}
};

template <rl::thread_id_t THREADS>
bool check(rl::scheduler_type_e type, unsigned bound, unsigned long iterations)
{
	char prefix[64];

	std::snprintf(prefix, sizeof(prefix), "fj_model: mutant=%d thieves=%d",
		      mutant, (int)THREADS - 1);
	return model_check<fj_test<THREADS> >(prefix, type, bound, iterations);
}

[[noreturn]] void usage()
{
	std::fprintf(stderr, "usage: fj_model [--mutant 0-4] [--bound B] "
			     "[--random K]\n");
	std::exit(2);
}

} // namespace

int main(int argc, char **argv)
{
	const model_args a = model_parse_args(argc, argv, 4, usage);
	bool ok = true;

	mutant = a.mutant;
	// Every check runs, so that the log says which ones catch a mutant.
	ok &= check<2>(rl::fair_context_bound_scheduler_type, a.bound, 0);
	ok &= check<3>(rl::fair_context_bound_scheduler_type,
		       a.bound > 1 ? a.bound - 1 : 1, 0);
	ok &= check<2>(rl::random_scheduler_type, 0, a.random);
	ok &= check<3>(rl::random_scheduler_type, 0, a.random);
	std::printf("fj_model: mutant=%d bound=%u random=%lu: %s\n", mutant,
		    a.bound, a.random, ok ? "no error found" : "ERROR FOUND");
	return ok ? 0 : 3;
}
