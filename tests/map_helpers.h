/* SPDX-License-Identifier: MIT */
/*
 * map_helpers.h - shared by the map tests: a gate that holds items back
 * until the test lets them through (so that what ran is known exactly), a
 * count of the items that began, and waiting for a count.
 */
#ifndef FILCH_MAP_HELPERS_H
#define FILCH_MAP_HELPERS_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cf_helpers.h"
#include "tap.h"

static atomic_long map_gate;	/* items with an index below it may finish */
static atomic_long map_started; /* items that began */

/* Resets the count and closes the gate to every item. */
static inline void map_gate_reset(void)
{
	atomic_store(&map_started, 0);
	atomic_store(&map_gate, 0);
}

/* Counts the start of item i, then blocks until the gate lets it pass. */
static inline void map_gate_pass(long i)
{
	atomic_fetch_add(&map_started, 1);
	while (atomic_load(&map_gate) <= i)
		cf_sleep_ms(1);
}

/* Lets every item below `to` pass. */
static inline void map_gate_open(long to)
{
	atomic_store(&map_gate, to);
}

/* Waits up to ms milliseconds for *v to reach want; whether it did. */
static inline bool map_wait_for(atomic_long *v, long want, long ms)
{
	int64_t t0 = tap_now_ns();

	while (atomic_load(v) < want) {
		if (tap_now_ns() - t0 > ms * (int64_t)1000000)
			return false;
		cf_sleep_ms(1);
	}
	return true;
}

/* Opens the gate to every item from another thread, after ms
 * milliseconds. */
static inline void *map_opener_main(void *arg)
{
	cf_sleep_ms((long)(intptr_t)arg);
	map_gate_open(LONG_MAX);
	return NULL;
}

static inline pthread_t map_open_gate_later(long ms)
{
	pthread_t t;

	if (pthread_create(&t, NULL, map_opener_main, (void *)(intptr_t)ms))
		bail_out("pthread_create failed");
	return t;
}

#endif /* FILCH_MAP_HELPERS_H */
