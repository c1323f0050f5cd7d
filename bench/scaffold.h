/* SPDX-License-Identifier: MIT */
/*
 * scaffold.h - the parts of benches that every implementation shares, so
 * that implementations differ only in how they submit and wait: the rounds
 * of the roundtrip benches, the gated tasks of the wait bench, and the idle
 * window.
 */
#ifndef FB_SCAFFOLD_H
#define FB_SCAFFOLD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "fb.h"
#include "latch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The submit2 bench: runs submit(ctx, share) on two new threads, `total`
 * split between them, and joins them. */
void fb_two_submitters(unsigned total, void (*submit)(void *ctx, unsigned n),
		       void *ctx);

/* Runs the rounds of a roundtrip bench: round(ctx) submits one task and
 * waits for its result (which it checks). With `idle`, sleeps 1 ms between
 * rounds so that the workers are asleep when the next one comes. Fills
 * s->ns (all rounds) and the p50/p99 latencies in s->value. */
void fb_roundtrip(const struct fb_params *p, struct fb_sample *s, bool idle,
		  void (*round)(void *ctx), void *ctx);
/* Rounds for the bench name (roundtrip_idle has fewer). */
unsigned fb_roundtrip_rounds(const struct fb_params *p, bool idle);

/*
 * The wait bench: n tasks held at a gate until a thread opens it 2 ms after
 * the waiter started waiting, each stamping the time it finished. The
 * waiter measures how long after the last (ALL_COMPLETED) or the first
 * (FIRST_COMPLETED) completion it returned.
 */
struct fb_gated {
	struct fb_latch *gate;
	int64_t *done_ns;
	unsigned n;
	pthread_t opener;
};

void fb_gated_init(struct fb_gated *g, unsigned n);
void fb_gated_free(struct fb_gated *g);
/* Closes the gate and clears the stamps before the tasks are submitted. */
void fb_gated_reset(struct fb_gated *g);
/* The body of task i: waits at the gate, then stamps its completion. */
void fb_gated_task(struct fb_gated *g, unsigned i);
/* Starts the thread that opens the gate; call just before waiting. */
void fb_gated_open_soon(struct fb_gated *g);
/* Once every task finished (the wait returned at returned_ns): joins the
 * opener and returns how many microseconds after the last (first = false)
 * or the first stamp the waiter had returned. */
double fb_gated_after(struct fb_gated *g, int64_t returned_ns, bool first);

/*
 * The blocking bench: n tasks, each waiting for its own event, which a
 * foreign thread signals FB_PACE_NS after the previous one, in submit
 * order. Each task stamps when its wait returned; the run reports how
 * long after its signal each task went on (p50, p99).
 */
#define FB_PACE_NS 50000

struct fb_paced {
	int64_t *signal_ns, *done_ns;
	unsigned n;
	void (*signal)(void *ctx, unsigned i); /* signals event i */
	void *ctx;
	pthread_t signaller;
};

void fb_paced_init(struct fb_paced *pc, unsigned n,
		   void (*signal)(void *ctx, unsigned i), void *ctx);
void fb_paced_free(struct fb_paced *pc);
/* Starts the signalling thread; call once the tasks are submitted. */
void fb_paced_start(struct fb_paced *pc);
/* In task i, right after its wait returned. */
void fb_paced_done(struct fb_paced *pc, unsigned i);
/* Once every task finished: joins the signaller, checks that each task
 * went on after its own signal, and stores the p50/p99 delays in s. */
void fb_paced_finish(struct fb_paced *pc, struct fb_sample *s);

/* The idle bench: measures the process's CPU time over p->idle_ms of sleep
 * and stores it in s->value[0] as ms of CPU per second. Call right after
 * the work, with the pool still alive. */
void fb_idle_window(const struct fb_params *p, struct fb_sample *s);
/* Tasks the idle and shutdown benches run before the pool goes idle. */
#define FB_WARM_TASKS 10000
/* How long the shutdown bench lets a pool idle before shutting it down. */
#define FB_SHUTDOWN_IDLE_NS 20000000

#ifdef __cplusplus
}
#endif

#endif /* FB_SCAFFOLD_H */
