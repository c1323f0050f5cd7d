/* SPDX-License-Identifier: MIT */
/*
 * fj_helpers.h - a fork-join tree for the tests that need frames stolen:
 * fj_spread(fj, depth) has 2^depth leaves, each spinning fj_leaf_ns (set
 * it first) and marking in fj_leaf_workers the worker that ran it.
 */
#ifndef FILCH_TESTS_FJ_HELPERS_H
#define FILCH_TESTS_FJ_HELPERS_H

#include <stdatomic.h>
#include <stdint.h>

#include <filch.h>
#include <filch/fj.h>

#include "tap.h"

static int64_t fj_leaf_ns;
static atomic_uint fj_leaf_workers; /* bit i: worker i ran a leaf */

FILCH_FJ_FN1(long, fj_spread, unsigned, depth)
{
	long a, b;

	if (depth == 0) {
		int64_t end = tap_now_ns() + fj_leaf_ns;
		int me = filch_current_worker();

		while (tap_now_ns() < end)
			;
		if (me >= 0 && me < 32)
			atomic_fetch_or(&fj_leaf_workers, 1u << me);
		return 1;
	}
	FILCH_SPAWN(fj_spread, depth - 1);
	b = FILCH_CALL(fj_spread, depth - 1);
	a = FILCH_SYNC(fj_spread);
	return a + b;
}

#endif /* FILCH_TESTS_FJ_HELPERS_H */
