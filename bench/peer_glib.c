/* SPDX-License-Identifier: MIT */
/*
 * peer_glib.c - impl "glib": GLib's GThreadPool (exclusive threads) as the
 * pool of the submit/wait benches. A GThreadPool runs one function on the
 * items pushed, so each submission is a small (fn, arg) item.
 */
#include "config.h"

#include <errno.h>
#include <glib.h>

#include "pool_benches.h"

struct glib_item {
	void (*fn)(void *);
	void *arg;
};

static void glib_run_item(gpointer data, gpointer user_data)
{
	struct glib_item *it = data;

	it->fn(it->arg);
	g_free(it);
}

static int glib_create(unsigned workers, void **pool)
{
	GError *err = NULL;

	*pool =
	    g_thread_pool_new(glib_run_item, NULL, (gint)workers, TRUE, &err);
	if (!*pool) {
		g_error_free(err);
		return -EAGAIN;
	}
	return 0;
}

static int glib_submit(void *pool, void (*fn)(void *), void *arg)
{
	struct glib_item *it = g_new(struct glib_item, 1);

	it->fn = fn;
	it->arg = arg;
	if (!g_thread_pool_push(pool, it, NULL)) {
		g_free(it);
		return -EAGAIN;
	}
	return 0;
}

/* Graceful: runs the queued items, then joins the threads. */
static void glib_destroy(void *pool) { g_thread_pool_free(pool, FALSE, TRUE); }

static const struct fb_pool_ops glib_ops = {
    glib_create,
    glib_submit,
    glib_destroy,
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
