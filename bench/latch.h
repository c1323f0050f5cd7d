/* SPDX-License-Identifier: MIT */
/*
 * latch.h - a count-down latch (atomic counter, then mutex + condition
 * variable for the one wake-up) that peers use to learn that their tasks
 * are done, where the peer has no way of its own.
 *
 * count_down: any thread, any number at once; lock-free except for the
 * decrement that reaches zero. wait: blocks until the count reached zero.
 * reset: alone (no count_down or wait running).
 */
#ifndef FB_LATCH_H
#define FB_LATCH_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fb_latch;

/* A latch that opens after `count` count-downs; fails loudly on ENOMEM. */
struct fb_latch *fb_latch_new(long count);
void fb_latch_free(struct fb_latch *l);
void fb_latch_reset(struct fb_latch *l, long count);
/* Counts down once; the count-down that reaches zero wakes the waiters;
 * later ones do nothing. */
void fb_latch_count_down(struct fb_latch *l);
void fb_latch_wait(struct fb_latch *l);
/* True once the count reached zero (acquire: what the counting threads did
 * before is visible). */
bool fb_latch_done(struct fb_latch *l);

#ifdef __cplusplus
}
#endif

#endif /* FB_LATCH_H */
