/* SPDX-License-Identifier: MIT */
/*
 * peer_timers_glib.c - impl "glib" of the timers bench: g_timeout sources
 * attached from the bench's thread to a GMainContext that a loop thread
 * runs (as g_timeout_add does for the default context), cancelled with
 * g_source_destroy. GLib's timeouts count whole milliseconds, so the
 * lateness part uses whole-millisecond delays.
 */
#include "config.h"

#include <glib.h>
#include <stdlib.h>

#include "fb.h"
#include "latch.h"
#include "timers_bench.h"

struct glib_timers {
	GMainContext *ctx;
	GMainLoop *loop;
	GThread *thread;
};

static gpointer loop_thread(gpointer data)
{
	struct glib_timers *g = data;

	g_main_context_push_thread_default(g->ctx);
	g_main_loop_run(g->loop);
	g_main_context_pop_thread_default(g->ctx);
	return NULL;
}

static int glib_timers_setup(unsigned workers, const struct fb_params *p,
			     void **state)
{
	struct glib_timers *g = fb_xcalloc(1, sizeof(*g));

	g->ctx = g_main_context_new();
	g->loop = g_main_loop_new(g->ctx, FALSE);
	g->thread = g_thread_new("glib-timers", loop_thread, g);
	*state = g;
	return 0;
}

static gboolean quit_cb(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

static void glib_timers_teardown(void *state)
{
	struct glib_timers *g = state;
	GSource *src = g_idle_source_new();

	g_source_set_callback(src, quit_cb, g->loop, NULL);
	g_source_attach(src, g->ctx);
	g_source_unref(src);
	g_thread_join(g->thread);
	g_main_loop_unref(g->loop);
	g_main_context_unref(g->ctx);
	free(g);
}

static gboolean never_cb(gpointer data)
{
	fb_fail("a timeout armed for 1 s fired");
	return G_SOURCE_REMOVE;
}

struct glib_sleeper {
	int64_t deadline;
	int64_t *late;
	struct fb_latch *done;
};

static gboolean sleeper_cb(gpointer data)
{
	struct glib_sleeper *sl = data;

	*sl->late = fb_now_ns() - sl->deadline;
	fb_latch_count_down(sl->done);
	return G_SOURCE_REMOVE;
}

static void glib_timers_run(void *state, const struct fb_params *p,
			    struct fb_sample *s)
{
	struct glib_timers *g = state;
	size_t nlate = fb_timers_nlate(p);
	GSource **src = fb_xcalloc(FB_TIMERS_ARMED, sizeof(*src));
	struct glib_sleeper *sl = fb_xcalloc(nlate, sizeof(*sl));
	int64_t *late = fb_xcalloc(nlate, sizeof(*late));
	struct fb_latch *done = fb_latch_new((long)nlate);
	uint64_t rng = 88172645463325252ull;

	fb_region_begin(s);
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++) {
		src[i] = g_timeout_source_new(FB_TIMERS_DELAY_NS / 1000000);
		g_source_set_callback(src[i], never_cb, NULL, NULL);
		g_source_attach(src[i], g->ctx);
	}
	for (size_t i = 0; i < FB_TIMERS_ARMED; i++) {
		g_source_destroy(src[i]);
		g_source_unref(src[i]);
	}
	fb_region_end(s);

	for (size_t i = 0; i < nlate; i++) {
		int64_t d = fb_timers_delay(&rng, 1);
		GSource *t = g_timeout_source_new((guint)(d / 1000000));

		sl[i] = (struct glib_sleeper){fb_now_ns() + d, &late[i], done};
		g_source_set_callback(t, sleeper_cb, &sl[i], NULL);
		g_source_attach(t, g->ctx);
		g_source_unref(t);
	}
	fb_latch_wait(done);
	fb_timers_figures(late, nlate, s);
	fb_latch_free(done);
	free(late);
	free(sl);
	free(src);
}

const struct fb_impl fb_impls_glib_timers[] = {
    {"timers", "glib", glib_timers_setup, glib_timers_run,
     glib_timers_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
