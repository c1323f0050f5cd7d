/* SPDX-License-Identifier: MIT */
/*
 * perturb.h - schedule perturbation points (configure --enable-perturb).
 *
 * FILCH__PERTURB() marks a point in the runtime where a thread may be
 * delayed at random, to widen race windows: between reading a deque index
 * and the CAS on it, between publishing a task and waking a sleeper, between
 * completing a future and running its callbacks. In a perturb build each
 * point yields, spins or sleeps a few microseconds with a small probability
 * drawn from a per-thread generator seeded from FILCH_PERTURB_SEED (or at
 * random); the seed is printed once to stderr. In other builds the macro is
 * empty and costs nothing.
 *
 * Replay: the same seed gives every thread (numbered in the order it first
 * reaches a point) the same sequence of delays. The kernel's own scheduling
 * still varies, so a seed makes a failure likely to recur, not certain.
 */
#ifndef FILCH_PERTURB_H
#define FILCH_PERTURB_H

#include <stdint.h>

#ifdef FILCH_PERTURB
/* Maybe delays the calling thread. Any thread; never fails. */
void filch__perturb(void);
/* The seed in use (chosen and printed at the first call of either). */
uint64_t filch__perturb_seed(void);
#define FILCH__PERTURB() filch__perturb()
#else
#define FILCH__PERTURB() ((void)0)
#endif

#endif /* FILCH_PERTURB_H */
