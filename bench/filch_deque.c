/* SPDX-License-Identifier: MIT */
/* filch_deque.c - impl "filch" of the deque bench: the runtime's Chase-Lev
 * deque (runtime/deque.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <urcu.h>

#include "runtime/deque.h"

#include "deque_bench.h"

static int filch_push(void *deque, void *item)
{
	return filch__deque_push(deque, item);
}

static void *filch_pop(void *deque) { return filch__deque_pop(deque); }

static enum fb_steal_result filch_steal(void *deque, void **item)
{
	switch (filch__deque_steal(deque, item)) {
	case FILCH__STEAL_OK:
		return FB_STOLEN;
	case FILCH__STEAL_EMPTY:
		return FB_EMPTY;
	case FILCH__STEAL_RETRY:
		break;
	}
	return FB_RETRY;
}

/* Thieves read buffers inside RCU read-side sections (deque.h). */
static void thief_enter(void) { rcu_register_thread(); }

static void thief_exit(void) { rcu_unregister_thread(); }

static const struct fb_deque_ops filch_ops = {
    filch_push, filch_pop, filch_steal, thief_enter, thief_exit,
};

static int deque_setup(unsigned workers, const struct fb_params *p,
		       void **state)
{
	struct filch__deque *d =
	    aligned_alloc(FILCH_CACHELINE, sizeof(struct filch__deque));
	int rc;

	if (!d)
		return -ENOMEM;
	rc = filch__deque_init(d, 8);
	if (rc != 0) {
		free(d);
		return rc;
	}
	rcu_register_thread(); /* the owner retires grown buffers */
	*state = d;
	return 0;
}

static void deque_run(void *state, const struct fb_params *p,
		      struct fb_sample *s)
{
	fb_deque_bench(&filch_ops, state, p, s);
}

static void deque_teardown(void *state)
{
	filch__deque_destroy(state);
	rcu_unregister_thread();
	free(state);
}

const struct fb_impl fb_impls_filch_deque[] = {
    {"deque", "filch", deque_setup, deque_run, deque_teardown},
    {NULL, NULL, NULL, NULL, NULL},
};
