/* SPDX-License-Identifier: MIT */
/*
 * timers_bench.h - what the implementations of the timers bench share
 * (filch_timers.c, peer_timers_glib.c, peer_timers_libuv.c): the sizes,
 * the delays of the lateness part, and its figures.
 */
#ifndef FB_TIMERS_BENCH_H
#define FB_TIMERS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "fb.h"

#define FB_TIMERS_ARMED 100000	     /* armed then cancelled, measured */
#define FB_TIMERS_DELAY_NS 1000000000 /* their delay: 1 s, never reached */
#define FB_TIMERS_SPREAD_NS 50000000  /* sleeps due over 50 ms */

/* How many sleeps the lateness part times. */
static inline size_t fb_timers_nlate(const struct fb_params *p)
{
	return p->quick ? 200 : 2000;
}

/* The next delay of the lateness part, in [0, 50 ms), whole milliseconds
 * when ms (for the peers whose timers count milliseconds). *rng: nonzero
 * xorshift state. */
static inline int64_t fb_timers_delay(uint64_t *rng, int ms)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	int64_t d = (int64_t)(*rng % FB_TIMERS_SPREAD_NS);
	return ms ? d / 1000000 * 1000000 : d;
}

/* Stores the 50th and 99th percentiles of late[0..n) (ns; a negative
 * lateness, from a deadline read a little late, counts as 0). */
static inline void fb_timers_figures(int64_t *late, size_t n,
				     struct fb_sample *s)
{
	for (size_t i = 0; i < n; i++)
		if (late[i] < 0)
			late[i] = 0;
	fb_percentiles_us(late, n, s);
}

/* The libuv row's run (peer_timers_libuv.c), listed in peer_libuv.c's
 * array: the helper filch-bench-libuv serves one array. */
void fb_libuv_timers_run(void *state, const struct fb_params *p,
			 struct fb_sample *s);

#endif /* FB_TIMERS_BENCH_H */
