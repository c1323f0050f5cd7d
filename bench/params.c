/* SPDX-License-Identifier: MIT */
/* params.c - problem sizes of the full suite and of --quick. */
#include "config.h"

#include "fb.h"
#include "workloads.h"

void fb_params_init(struct fb_params *p, bool quick)
{
	/* The suite's fixed sizes. --quick divides the work of each bench by 4
	 * to 10, keeping its shape (no cutoffs, the same trees' shapes), and
	 * shortens the latency rounds (the idle ones sleep 1 ms each) and
	 * the idle window. */
	p->quick = quick;
	p->deque_ops = quick ? 200000 : 1000000;
	p->fib_n = quick ? 27 : 30;
	p->nqueens_n = quick ? 11 : 12;
	p->skynet_leaves = quick ? 100000 : 1000000;
	p->matmul_n = quick ? 512 : 1024;
	p->matmul_cutoff = FB_MM_LEAF;
	p->submit_tasks = quick ? 200000 : 1000000;
	p->roundtrip_rounds = quick ? 2000 : 100000;
	p->roundtrip_idle_rounds = quick ? 100 : 2000;
	p->chain_links = quick ? 50000 : 1000000;
	p->map_items = quick ? 200000 : 1000000;
	p->as_completed_futures = quick ? 20000 : 100000;
	p->wait_futures = quick ? 20000 : 100000;
	p->idle_ms = quick ? 100 : 1000;
	p->blocking_tasks = quick ? 50 : 200;
	p->procpool_rounds = quick ? 300 : 3000;
	p->procpool_tasks = quick ? 2000 : 20000;
}
