/* SPDX-License-Identifier: MIT */
/* scaffold.c - rounds, gated tasks and idle window shared by every
 * implementation. */
#include "config.h"

#include "scaffold.h"

#include <stdlib.h>
#include <string.h>

#define IDLE_PAUSE_NS 1000000 /* roundtrip_idle: sleep between rounds */
#define GATE_DELAY_NS 2000000 /* wait: the gate opens after this */

struct submitter {
	void (*submit)(void *ctx, unsigned n);
	void *ctx;
	unsigned n;
	pthread_t thread;
};

static void *submitter_main(void *arg)
{
	struct submitter *sub = arg;

	sub->submit(sub->ctx, sub->n);
	return NULL;
}

void fb_two_submitters(unsigned total, void (*submit)(void *ctx, unsigned n),
		       void *ctx)
{
	struct submitter subs[2];

	for (int i = 0; i < 2; i++) {
		subs[i].submit = submit;
		subs[i].ctx = ctx;
		subs[i].n = total / 2 + (i ? total % 2 : 0);
		if (pthread_create(&subs[i].thread, NULL, submitter_main,
				   &subs[i]) != 0)
			fb_fail("cannot start a submitter thread");
	}
	for (int i = 0; i < 2; i++)
		pthread_join(subs[i].thread, NULL);
}

unsigned fb_roundtrip_rounds(const struct fb_params *p, bool idle)
{
	return idle ? p->roundtrip_idle_rounds : p->roundtrip_rounds;
}

void fb_roundtrip(const struct fb_params *p, struct fb_sample *s, bool idle,
		  void (*round)(void *ctx), void *ctx)
{
	unsigned n = fb_roundtrip_rounds(p, idle);
	int64_t *lat = fb_xmalloc(n * sizeof(*lat));
	int64_t busy = 0;

	for (unsigned i = 0; i < n; i++) {
		int64_t t0;

		if (idle)
			fb_sleep_ns(IDLE_PAUSE_NS);
		t0 = fb_now_ns();
		round(ctx);
		lat[i] = fb_now_ns() - t0;
		busy += lat[i];
	}
	s->ns = busy;
	s->instr = -1;
	fb_percentiles_us(lat, n, s);
	free(lat);
}

void fb_gated_init(struct fb_gated *g, unsigned n)
{
	g->gate = fb_latch_new(1);
	g->done_ns = fb_xcalloc(n, sizeof(*g->done_ns));
	g->n = n;
}

void fb_gated_free(struct fb_gated *g)
{
	fb_latch_free(g->gate);
	free(g->done_ns);
}

void fb_gated_reset(struct fb_gated *g)
{
	fb_latch_reset(g->gate, 1);
	memset(g->done_ns, 0, g->n * sizeof(*g->done_ns));
}

void fb_gated_task(struct fb_gated *g, unsigned i)
{
	if (!fb_latch_done(g->gate))
		fb_latch_wait(g->gate);
	g->done_ns[i] = fb_now_ns();
}

static void *open_after_delay(void *arg)
{
	struct fb_gated *g = arg;

	fb_sleep_ns(GATE_DELAY_NS);
	fb_latch_count_down(g->gate);
	return NULL;
}

void fb_gated_open_soon(struct fb_gated *g)
{
	if (pthread_create(&g->opener, NULL, open_after_delay, g) != 0)
		fb_fail("cannot start the gate's thread");
}

double fb_gated_after(struct fb_gated *g, int64_t returned_ns, bool first)
{
	int64_t edge = first ? INT64_MAX : 0;

	pthread_join(g->opener, NULL);
	for (unsigned i = 0; i < g->n; i++) {
		int64_t t = g->done_ns[i];

		if (t == 0)
			fb_fail("task %u never finished", i);
		if (first ? t < edge : t > edge)
			edge = t;
	}
	if (returned_ns < edge)
		fb_fail("the wait returned %.1f us before the %s completion",
			(double)(edge - returned_ns) / 1e3,
			first ? "first" : "last");
	return (double)(returned_ns - edge) / 1e3;
}

void fb_paced_init(struct fb_paced *pc, unsigned n,
		   void (*signal)(void *ctx, unsigned i), void *ctx)
{
	pc->signal_ns = fb_xcalloc(n, sizeof(*pc->signal_ns));
	pc->done_ns = fb_xcalloc(n, sizeof(*pc->done_ns));
	pc->n = n;
	pc->signal = signal;
	pc->ctx = ctx;
}

void fb_paced_free(struct fb_paced *pc)
{
	free(pc->signal_ns);
	free(pc->done_ns);
}

static void *signal_paced(void *arg)
{
	struct fb_paced *pc = arg;
	int64_t next = fb_now_ns();

	for (unsigned i = 0; i < pc->n; i++) {
		int64_t wait;

		next += FB_PACE_NS;
		if ((wait = next - fb_now_ns()) > 0)
			fb_sleep_ns(wait);
		pc->signal_ns[i] = fb_now_ns();
		pc->signal(pc->ctx, i);
	}
	return NULL;
}

void fb_paced_start(struct fb_paced *pc)
{
	if (pthread_create(&pc->signaller, NULL, signal_paced, pc) != 0)
		fb_fail("cannot start the signalling thread");
}

void fb_paced_done(struct fb_paced *pc, unsigned i)
{
	pc->done_ns[i] = fb_now_ns();
}

void fb_paced_finish(struct fb_paced *pc, struct fb_sample *s)
{
	int64_t *lat = fb_xmalloc(pc->n * sizeof(*lat));

	pthread_join(pc->signaller, NULL);
	for (unsigned i = 0; i < pc->n; i++) {
		lat[i] = pc->done_ns[i] - pc->signal_ns[i];
		if (pc->done_ns[i] == 0 || lat[i] < 0)
			fb_fail("task %u went on before its event", i);
	}
	fb_percentiles_us(lat, pc->n, s);
	free(lat);
}

void fb_idle_window(const struct fb_params *p, struct fb_sample *s)
{
	int64_t cpu0 = fb_cpu_ns();

	fb_sleep_ns((int64_t)p->idle_ms * 1000000);
	s->value[0] =
	    (double)(fb_cpu_ns() - cpu0) / 1e6 / (p->idle_ms / 1000.0);
	s->ns = (int64_t)p->idle_ms * 1000000;
	s->instr = -1;
}
