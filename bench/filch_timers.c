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
#include "timers_bench.h"

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
	size_t nlate = fb_timers_nlate(p);
	filch_future **fs = fb_xcalloc(FB_TIMERS_ARMED, sizeof(*fs));
	struct sleeper *sl = fb_xcalloc(nlate, sizeof(*sl));
	int64_t *late = fb_xcalloc(nlate, sizeof(*late));
	uint64_t rng = 88172645463325252ull;

	fb_region_begin(s);
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++)
		FB_CHECK_RC(filch_submit_after(state, FB_TIMERS_DELAY_NS, nothing,
					       NULL, &fs[i]));
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++)
		if (!filch_future_cancel(fs[i]))
			fb_fail("a timer armed for 1 s fired");
	fb_region_end(s);
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++)
		filch_future_release(fs[i]);

	/* Lateness: the callbacks run on the timer thread; the futures are
	 * done once their callbacks ran. */
	for (size_t i = 0; i < nlate; i++) {
		int64_t d = fb_timers_delay(&rng, 0);

		FB_CHECK_RC(filch_sleep_future(state, d, &fs[i]));
		sl[i].deadline = fb_now_ns() + d;
		sl[i].late = &late[i];
		FB_CHECK_RC(filch_future_on_done(fs[i], sleeper_done, &sl[i]));
	}
	for (size_t i = 0; i < nlate; i++) {
		FB_CHECK_RC(filch_future_result(fs[i], FILCH_FOREVER, NULL));
		filch_future_release(fs[i]);
	}
	fb_timers_figures(late, nlate, s);
	free(late);
	free(sl);
	free(fs);
}

const struct fb_impl fb_impls_filch_timers[] = {
    {"timers", "filch", fb_filch_setup, timers_run, fb_filch_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
