/* SPDX-License-Identifier: MIT */
/* params.c - problem sizes of the full suite and of --quick. */
#include "config.h"

#include "fb.h"

void fb_params_init(struct fb_params *p, bool quick)
{
	/* The sizes of issue 3. --quick keeps every problem size whose runs
	 * take milliseconds and shortens only what is long by nature: the
	 * latency rounds (the idle ones sleep 1 ms each) and the idle window. */
	p->quick = quick;
	p->deque_ops = 1000000;
	p->fib_n = 30;
	p->nqueens_n = 12;
	p->skynet_leaves = 1000000;
	p->matmul_n = 1024;
	p->matmul_cutoff = 64;
	p->submit_tasks = 1000000;
	p->roundtrip_rounds = quick ? 10000 : 100000;
	p->roundtrip_idle_rounds = quick ? 200 : 2000;
	p->chain_links = 1000000;
	p->map_items = 1000000;
	p->as_completed_futures = 100000;
	p->wait_futures = 100000;
	p->idle_ms = quick ? 200 : 1000;
}
