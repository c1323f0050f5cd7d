/* SPDX-License-Identifier: MIT */
/*
 * pool_benches.h - the submit/wait benches written once for every peer that
 * is a pool with a submit call (naive, glib, tbb): a peer supplies
 * create/submit/destroy and gets submit, submit2, roundtrip_*, chain, map,
 * as_completed, wait, blocking, idle and shutdown. What a C programmer writes on such
 * a pool is what runs: completion through a count-down latch, a result
 * cell per round, a mutex+condvar completion queue for as_completed.
 */
#ifndef FB_POOL_BENCHES_H
#define FB_POOL_BENCHES_H

#include <stdbool.h>

#include "fb.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fb_pool_ops {
	/* Starts a pool of `workers` threads. 0 or a negative errno. */
	int (*create)(unsigned workers, void **pool);
	/* Runs fn(arg) on the pool; any thread, including the pool's. */
	int (*submit)(void *pool, void (*fn)(void *), void *arg);
	/* Shuts the pool down. Called once everything submitted has
	 * finished (each bench waits for its own tasks first), so no peer
	 * needs to count pending tasks; whether the threads are joined or
	 * parked for reuse is the peer's (the shutdown bench shows it). */
	void (*destroy)(void *pool);
	/* Whether destroy joins the pool's threads (naive), rather than
	 * parking them for the library's next pool (GLib, TBB): the
	 * shutdown bench compares only pools that join. */
	bool joins;
};

/* A peer's setup: stores ops; the pool is created by the first run. */
int fb_pool_setup(const struct fb_pool_ops *ops, unsigned workers,
		  void **state);
void fb_pool_teardown(void *state);

void fb_pool_submit_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_submit2_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_rt_spin_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_rt_block_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_rt_idle_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_chain_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_map_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_as_completed_run(void *, const struct fb_params *,
			      struct fb_sample *);
void fb_pool_wait_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_blocking_run(void *, const struct fb_params *,
			  struct fb_sample *);
void fb_pool_idle_run(void *, const struct fb_params *, struct fb_sample *);
void fb_pool_shutdown_run(void *, const struct fb_params *, struct fb_sample *);

/* The fb_impl entries of a pool peer called impl whose setup calls
 * fb_pool_setup; map (one task per item) is separate, for peers without a
 * parallel loop of their own: FB_POOL_MAP_IMPL. */
#define FB_POOL_IMPLS(impl, setup)                                             \
	{"submit", impl, setup, fb_pool_submit_run, fb_pool_teardown},         \
	    {"submit2", impl, setup, fb_pool_submit2_run, fb_pool_teardown},   \
	    {"roundtrip_spin", impl, setup, fb_pool_rt_spin_run,               \
	     fb_pool_teardown},                                                \
	    {"roundtrip_block", impl, setup, fb_pool_rt_block_run,             \
	     fb_pool_teardown},                                                \
	    {"roundtrip_idle", impl, setup, fb_pool_rt_idle_run,               \
	     fb_pool_teardown},                                                \
	    {"chain", impl, setup, fb_pool_chain_run, fb_pool_teardown},       \
	    {"as_completed", impl, setup, fb_pool_as_completed_run,            \
	     fb_pool_teardown},                                                \
	    {"wait", impl, setup, fb_pool_wait_run, fb_pool_teardown},         \
	    {"blocking", impl, setup, fb_pool_blocking_run,                    \
	     fb_pool_teardown},                                                \
	    {"idle", impl, setup, fb_pool_idle_run, fb_pool_teardown},         \
	{                                                                      \
		"shutdown", impl, setup, fb_pool_shutdown_run,                 \
		    fb_pool_teardown                                           \
	}

#define FB_POOL_MAP_IMPL(impl, setup)                                          \
	{                                                                      \
		"map", impl, setup, fb_pool_map_run, fb_pool_teardown          \
	}

#ifdef __cplusplus
}
#endif

#endif /* FB_POOL_BENCHES_H */
