/* SPDX-License-Identifier: MIT */
/*
 * procspin.c - bounded adaptive spinning of a process pool's two readers:
 * the worker process waiting for its next call (procworker.c) and the
 * completion thread waiting for a reply (procpool.c). Each wake-up of a
 * sleeping reader by the other side costs a context switch, often across
 * CPUs; a reader that polls without blocking for a short while first
 * takes a frame that comes soon without one.
 *
 * Bounded: a reader polls for at most spin_ns (struct
 * filch_procpool_opts), yielding the CPU before each poll (on a machine
 * with fewer CPUs than busy threads, the thread it waits for may need
 * this CPU), then blocks as before. Adaptive: it polls only
 * when its last wait ended within spin_ns (it measures every wait, the
 * ones it blocked in too), so that a reader whose frames come seldom
 * (a long task, a pool that went quiet) polls once in vain and then
 * blocks at once until frames come close together again.
 */
#include "config.h"

#include <sched.h>

#include "futex.h"
#include "procpool.h"

void filch__pp_spin_init(struct filch__pp_spin *s, int64_t spin_ns)
{
	s->bound = spin_ns;
	s->since = 0;
	s->poll = spin_ns > 0;
}

int64_t filch__pp_spin_begin(struct filch__pp_spin *s)
{
	if (!s->bound)
		return 0;
	s->since = filch__now_ns();
	return s->poll ? s->since + s->bound : 0;
}

bool filch__pp_spin_on(int64_t until)
{
	if (!until || filch__now_ns() >= until)
		return false;
	sched_yield();
	return true;
}

void filch__pp_spin_end(struct filch__pp_spin *s)
{
	if (s->bound)
		s->poll = filch__now_ns() - s->since <= s->bound;
}
