/* SPDX-License-Identifier: MIT */
/*
 * filch_timers.c - impl "filch" of the timers bench: the time to arm and
 * cancel 10^5 delayed tasks (filch_submit_after with a future, then
 * filch_future_cancel, which removes each from the executor's heap), and
 * the lateness of sleep futures (filch_sleep_future) at staggered delays,
 * measured in their callbacks on the timer thread.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <filch.h>

#include "fb.h"
#include "filch_executor.h"

#define ARMED 100000 /* the region: arm then cancel these */
#define LATE_FULL 2000
#define LATE_QUICK 200
#define SPREAD_NS 50000000 /* sleeps due over 50 ms */

static int nothing(void *arg, void **result)
{
	return 0;
}

struct sleeper {
	int64_t deadline; /* at the latest: read after the call */
	int64_t *late;
};

static void sleeper_done(filch_future *f, void *arg)
{
	struct sleeper *s = arg;

	*s->late = fb_now_ns() - s->deadline;
}

static void timers_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	size_t nlate = p->quick ? LATE_QUICK : LATE_FULL;
	filch_future **fs = fb_xcalloc(ARMED, sizeof(*fs));
	struct sleeper *sl = fb_xcalloc(nlate, sizeof(*sl));
	int64_t *late = fb_xcalloc(nlate, sizeof(*late));
	uint64_t rng = 88172645463325252ull;

	fb_region_begin(s);
	for (size_t i = 0; i < ARMED; i++)
		FB_CHECK_RC(filch_submit_after(state, 1000000000, nothing, NULL,
					       &fs[i]));
	for (size_t i = 0; i < ARMED; i++)
		if (!filch_future_cancel(fs[i]))
			fb_fail("a timer armed for 1 s fired");
	fb_region_end(s);
	for (size_t i = 0; i < ARMED; i++)
		filch_future_release(fs[i]);

	/* Lateness: the callbacks run on the timer thread; the futures are
	 * done once their callbacks ran. */
	for (size_t i = 0; i < nlate; i++) {
		int64_t d;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		d = (int64_t)(rng % SPREAD_NS);
		FB_CHECK_RC(filch_sleep_future(state, d, &fs[i]));
		sl[i].deadline = fb_now_ns() + d;
		sl[i].late = &late[i];
		FB_CHECK_RC(filch_future_on_done(fs[i], sleeper_done, &sl[i]));
	}
	for (size_t i = 0; i < nlate; i++) {
		FB_CHECK_RC(filch_future_result(fs[i], FILCH_FOREVER, NULL));
		filch_future_release(fs[i]);
	}
	/* A callback added after its sleep finished measured the adding. */
	for (size_t i = 0; i < nlate; i++)
		if (late[i] < 0)
			late[i] = 0;
	fb_percentiles_us(late, nlate, s);
	free(late);
	free(sl);
	free(fs);
}

const struct fb_impl fb_impls_filch_timers[] = {
    {"timers", "filch", fb_filch_setup, timers_run, fb_filch_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
