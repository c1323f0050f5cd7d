/* SPDX-License-Identifier: MIT */
/*
 * peer_glib.c - impl "glib": GLib's GThreadPool (exclusive threads) as the
 * pool of the submit/wait benches. A GThreadPool runs one function on the
 * items pushed, so each submission is a small (fn, arg) item.
 *
 * GLib starts its threads itself and has no start hook: each thread is
 * placed by the first item it runs for a pool (placement.h). A thread of a
 * freed pool is not joined: GLib parks it among its unused threads and
 * hands it to the next pool, where it is placed again.
 */
#include "config.h"

#include <errno.h>
#include <glib.h>
#include <stdlib.h>

#include "placement.h"
#include "pool_benches.h"

struct glib_pool {
	GThreadPool *pool;
	struct fb_lazy_place *place;
};

struct glib_item {
	void (*fn)(void *);
	void *arg;
};

static void glib_run_item(gpointer data, gpointer user_data)
{
	struct glib_item *it = data;
	struct glib_pool *gp = user_data;

	fb_lazy_place_self(gp->place);
	it->fn(it->arg);
	g_free(it);
}

static int glib_create(unsigned workers, void **pool)
{
	struct glib_pool *gp = fb_xmalloc(sizeof(*gp));
	GError *err = NULL;

	gp->place = fb_lazy_place_new(workers, false);
	gp->pool =
	    g_thread_pool_new(glib_run_item, gp, (gint)workers, TRUE, &err);
	if (!gp->pool) {
		g_error_free(err);
		fb_lazy_place_free(gp->place);
		free(gp);
		return -EAGAIN;
	}
	*pool = gp;
	return 0;
}

static int glib_submit(void *pool, void (*fn)(void *), void *arg)
{
	struct glib_pool *gp = pool;
	struct glib_item *it = g_new(struct glib_item, 1);

	it->fn = fn;
	it->arg = arg;
	if (!g_thread_pool_push(gp->pool, it, NULL)) {
		g_free(it);
		return -EAGAIN;
	}
	return 0;
}

/* Graceful: runs the queued items and waits for them; the threads are
 * parked, not joined. */
static void glib_destroy(void *pool)
{
	struct glib_pool *gp = pool;

	g_thread_pool_free(gp->pool, FALSE, TRUE);
	fb_lazy_place_free(gp->place);
	free(gp);
}

static const struct fb_pool_ops glib_ops = {
    glib_create,
    glib_submit,
    glib_destroy,
    false,
};

static int glib_setup(unsigned workers, const struct fb_params *p, void **state)
{
	return fb_pool_setup(&glib_ops, workers, state);
}

const struct fb_impl fb_impls_glib[] = {
    FB_POOL_IMPLS("glib", glib_setup),
    FB_POOL_MAP_IMPL("glib", glib_setup),
    {NULL, NULL, NULL, NULL, NULL},
};
