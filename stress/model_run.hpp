// SPDX-License-Identifier: MIT
// model_run.hpp - what the Relacy models (deque_model, future_model,
// cf_wake_model) share: one check of a test under a scheduler, and the
// "--mutant N --bound B --random K" command line of the two simple ones.
#ifndef FILCH_MODEL_RUN_HPP
#define FILCH_MODEL_RUN_HPP

#include <relacy/relacy.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

// Runs TEST exhaustively under a context bound (bound > 0 with the
// fair_context_bound scheduler) or over random schedules; returns true when
// Relacy found no error and stores the number of schedules it ran.
template <class TEST>
bool model_simulate(rl::scheduler_type_e type, unsigned bound,
		    unsigned long iterations, unsigned depth,
		    unsigned long long *schedules)
{
	rl::test_params p;

	p.search_type = type;
	p.context_bound = bound;
	p.iteration_count = iterations;
	p.execution_depth_limit = depth;
	bool ok = rl::simulate<TEST>(p);
	*schedules = (unsigned long long)p.stop_iteration;
	return ok;
}

// Runs one check of TEST (model_simulate, execution depth 4000) and prints
// "<prefix> <exhaustive|random>: <outcome> after N schedules"; true when
// Relacy found no error.
template <class TEST>
bool model_check(const char *prefix, rl::scheduler_type_e type,
		 unsigned bound, unsigned long iterations)
{
	unsigned long long schedules;
	bool ok = model_simulate<TEST>(type, bound, iterations, 4000,
				       &schedules);

	std::printf("%s %s: %s after %llu schedules\n", prefix,
		    type == rl::random_scheduler_type ? "random" : "exhaustive",
		    ok ? "no error" : "ERROR FOUND", schedules);
	return ok;
}

struct model_args {
	int mutant = 0;
	unsigned bound = 3;
	unsigned long random = 200000;
};

// Parses "--mutant N --bound B --random K"; anything else, or a mutant
// outside 0..max_mutant, calls usage (which must not return).
inline model_args model_parse_args(int argc, char **argv, int max_mutant,
				   void (*usage)())
{
	model_args a;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!std::strcmp(argv[i], "--mutant"))
			a.mutant = std::atoi(argv[++i]);
		else if (!std::strcmp(argv[i], "--bound"))
			a.bound = (unsigned)std::atoi(argv[++i]);
		else if (!std::strcmp(argv[i], "--random"))
			a.random = std::strtoul(argv[++i], 0, 0);
		else
			usage();
	}
	if (a.mutant < 0 || a.mutant > max_mutant || a.bound < 1)
		usage();
	return a;
}

#endif // FILCH_MODEL_RUN_HPP
