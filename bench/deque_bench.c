/* SPDX-License-Identifier: MIT */
/* deque_bench.c - owner push+pop pairs, then a thief empties a full deque. */
#include "config.h"

#include "deque_bench.h"

#include <pthread.h>
#include <stdint.h>

#include "placement.h"

struct thief {
	const struct fb_deque_ops *ops;
	void *deque;
	unsigned items;
	int64_t ns;
	uint64_t checksum;
};

static void *thief_main(void *arg)
{
	struct thief *t = arg;
	unsigned got = 0;
	int64_t t0;

	/* The thief is a worker: where --placement puts worker 0. */
	fb_place_worker(0, 1);
	if (t->ops->thief_enter)
		t->ops->thief_enter();
	t0 = fb_now_ns();
	while (got < t->items) {
		void *item;

		switch (t->ops->steal(t->deque, &item)) {
		case FB_STOLEN:
			/* Steals take the oldest item first. */
			if ((uintptr_t)item != got + 1)
				fb_fail("stole item %zu, expected %u",
					(size_t)(uintptr_t)item, got + 1);
			t->checksum += (uintptr_t)item;
			got++;
			break;
		case FB_EMPTY:
			fb_fail("deque empty after %u of %u steals", got,
				t->items);
		case FB_RETRY:
			break;
		}
	}
	t->ns = fb_now_ns() - t0;
	if (t->ops->thief_exit)
		t->ops->thief_exit();
	return NULL;
}

void fb_deque_bench(const struct fb_deque_ops *ops, void *deque,
		    const struct fb_params *p, struct fb_sample *s)
{
	unsigned n = p->deque_ops;
	struct thief t = {ops, deque, n, 0, 0};
	uint64_t sum = 0;
	pthread_t thread;

	fb_region_begin(s);
	for (unsigned i = 1; i <= n; i++) {
		FB_CHECK_RC(ops->push(deque, (void *)(uintptr_t)i));
		sum += (uintptr_t)ops->pop(deque);
	}
	fb_region_end(s);
	if (sum != (uint64_t)n * (n + 1) / 2 || ops->pop(deque) != NULL)
		fb_fail("push+pop pairs returned the wrong items");

	for (unsigned i = 1; i <= n; i++)
		FB_CHECK_RC(ops->push(deque, (void *)(uintptr_t)i));
	if (pthread_create(&thread, NULL, thief_main, &t) != 0)
		fb_fail("cannot start the thief");
	pthread_join(thread, NULL);
	if (t.checksum != (uint64_t)n * (n + 1) / 2 || ops->pop(deque) != NULL)
		fb_fail("the thief stole the wrong items");
	s->value[0] = (double)t.ns / n;
}
