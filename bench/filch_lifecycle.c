/* SPDX-License-Identifier: MIT */
/* filch_lifecycle.c - impl "filch" of the idle and shutdown benches: a fresh
 * executor per run. */
#include "config.h"

#include <filch.h>

#include "fb.h"
#include "filch_executor.h"
#include "latch.h"
#include "placement.h"
#include "scaffold.h"

static int count_down_task(void *arg, void **result)
{
	fb_latch_count_down(arg);
	return 0;
}

/* The setup keeps the worker count; each run makes its own executor. */
static int lifecycle_setup(unsigned workers, const struct fb_params *p,
			   void **state)
{
	*state = (void *)(uintptr_t)workers;
	return 0;
}

/* A new executor that has just run FB_WARM_TASKS tasks. */
static filch_executor *busy_executor(void *state)
{
	struct fb_latch *done = fb_latch_new(FB_WARM_TASKS);
	filch_executor *ex;

	fb_roster_reset();
	FB_CHECK_RC(fb_filch_create((unsigned)(uintptr_t)state, &ex));
	for (unsigned i = 0; i < FB_WARM_TASKS; i++)
		FB_CHECK_RC(filch_submit(ex, count_down_task, done, NULL));
	fb_latch_wait(done);
	fb_latch_free(done);
	return ex;
}

static void idle_run(void *state, const struct fb_params *p,
		     struct fb_sample *s)
{
	filch_executor *ex = busy_executor(state);

	fb_idle_window(p, s);
	FB_CHECK_RC(filch_executor_destroy(ex));
}

static void shutdown_run(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	filch_executor *ex = busy_executor(state);

	fb_sleep_ns(FB_SHUTDOWN_IDLE_NS);
	fb_region_begin(s);
	FB_CHECK_RC(filch_executor_destroy(ex));
	fb_region_end(s);
	s->value[0] = fb_roster_alive();
	s->value[1] = 1; /* filch_executor_destroy joins every thread */
}

const struct fb_impl fb_impls_filch_lifecycle[] = {
    {"idle", "filch", lifecycle_setup, idle_run, NULL},
    {"shutdown", "filch", lifecycle_setup, shutdown_run, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
