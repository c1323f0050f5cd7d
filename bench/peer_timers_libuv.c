/* SPDX-License-Identifier: MIT */
/*
 * peer_timers_libuv.c - impl "libuv" of the timers bench (in the helper
 * filch-bench-libuv): uv_timer_start and uv_timer_stop on a loop, from the
 * loop's own thread (libuv's handles are not thread-safe), then the
 * lateness of timers while the loop runs. libuv's timers count whole
 * milliseconds, so the lateness part uses whole-millisecond delays.
 */
#include "config.h"

#include <stdlib.h>
#include <uv.h>

#include "fb.h"
#include "timers_bench.h"

struct uv_sleeper {
	uv_timer_t timer;
	int64_t deadline;
	int64_t *late;
};

static void never_cb(uv_timer_t *t)
{
	fb_fail("a timer armed for 1 s fired");
}

static void sleeper_cb(uv_timer_t *t)
{
	struct uv_sleeper *sl = (struct uv_sleeper *)t;

	*sl->late = fb_now_ns() - sl->deadline;
	uv_close((uv_handle_t *)t, NULL);
}

static void close_cb(uv_handle_t *h)
{
	(void)h;
}

void fb_libuv_timers_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	size_t nlate = fb_timers_nlate(p);
	uv_timer_t *armed = fb_xcalloc(FB_TIMERS_ARMED, sizeof(*armed));
	struct uv_sleeper *sl = fb_xcalloc(nlate, sizeof(*sl));
	int64_t *late = fb_xcalloc(nlate, sizeof(*late));
	uint64_t rng = 88172645463325252ull;
	uv_loop_t loop;

	(void)state;
	if (uv_loop_init(&loop) != 0)
		fb_fail("uv_loop_init failed");
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++)
		uv_timer_init(&loop, &armed[i]);
	fb_region_begin(s);
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++)
		uv_timer_start(&armed[i], never_cb, FB_TIMERS_DELAY_NS / 1000000, 0);
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++)
		uv_timer_stop(&armed[i]);
	fb_region_end(s);
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++)
		uv_close((uv_handle_t *)&armed[i], close_cb);
	uv_run(&loop, UV_RUN_DEFAULT);

	for (size_t i = 0; i < nlate; i++) {
		int64_t d = fb_timers_delay(&rng, 1);

		/* libuv's own deadline: its loop time (CLOCK_MONOTONIC, in
		 * milliseconds) plus the delay. */
		uv_update_time(&loop);
		uv_timer_init(&loop, &sl[i].timer);
		sl[i].deadline = (int64_t)uv_now(&loop) * 1000000 + d;
		sl[i].late = &late[i];
		uv_timer_start(&sl[i].timer, sleeper_cb, (uint64_t)(d / 1000000), 0);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	fb_timers_figures(late, nlate, s);
	free(late);
	free(sl);
	free(armed);
}
