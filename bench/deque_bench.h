/* SPDX-License-Identifier: MIT */
/*
 * deque_bench.h - the deque bench for any work-stealing deque: owner
 * push+pop pairs (timed and counted on the owner), then one other thread
 * steals a deque the owner filled (timed on the thief).
 */
#ifndef FB_DEQUE_BENCH_H
#define FB_DEQUE_BENCH_H

#include "fb.h"

enum fb_steal_result { FB_STOLEN, FB_EMPTY, FB_RETRY };

struct fb_deque_ops {
	int (*push)(void *deque, void *item); /* owner; 0 or -ENOMEM */
	void *(*pop)(void *deque);	      /* owner; NULL when empty */
	enum fb_steal_result (*steal)(void *deque, void **item);
	/* Run by the thief thread before its first and after its last steal
	 * (registration with liburcu); may be NULL. */
	void (*thief_enter)(void);
	void (*thief_exit)(void);
};

/* Measures deque (empty on entry and on return) into s: s->ns and
 * s->instr for the p->deque_ops push+pop pairs, s->value[0] ns per steal. */
void fb_deque_bench(const struct fb_deque_ops *ops, void *deque,
		    const struct fb_params *p, struct fb_sample *s);

#endif /* FB_DEQUE_BENCH_H */
