/* SPDX-License-Identifier: MIT */
/*
 * cpuset.c - the process's CPUs and the placement of pinned workers.
 *
 * Both are properties of the process, not of the thread that happens to
 * create an executor: a worker of another executor is pinned to one CPU,
 * and an executor created inside its task must still get one worker per
 * CPU of the process, on distinct CPUs. So the CPU set is read from the
 * thread-group leader (a process that narrows its main thread's mask
 * narrows filch's default too), and a process-wide table counts the live
 * pinned workers of every CPU, so that a second pinned executor starts on
 * the CPUs the first left free instead of piling onto the same ones.
 * Placement runs only when an executor is created or freed: one mutex.
 */
#include "config.h"

#include <pthread.h>
#include <unistd.h>

#include "cpuset.h"
#include "executor.h"

/* Live pinned workers per CPU, under placement_lock. In a child of fork()
 * it keeps the parent's counts: the parent's workers still run there. */
static unsigned load[CPU_SETSIZE];
static pthread_mutex_t placement_lock = PTHREAD_MUTEX_INITIALIZER;

unsigned filch__cpuset_process(cpu_set_t *mask)
{
	long online;

	if (sched_getaffinity(getpid(), sizeof(*mask), mask) == 0 ||
	    sched_getaffinity(0, sizeof(*mask), mask) == 0)
		return (unsigned)CPU_COUNT(mask);
	CPU_ZERO(mask);
	online = sysconf(_SC_NPROCESSORS_ONLN);
	return online > 0 ? (unsigned)online : 1;
}

void filch__cpuset_place(const cpu_set_t *mask, bool pin,
			 struct filch__worker *w, unsigned n)
{
	/* This executor's workers per CPU: n <= FILCH__MAX_WORKERS. */
	unsigned short mine[CPU_SETSIZE] = { 0 };

	if (!pin) {
		for (unsigned i = 0; i < n; i++)
			w[i].cpu = -1;
		return;
	}
	filch__cpuset_lock();
	for (unsigned i = 0; i < n; i++) {
		int best = -1;

		/* Order: fewest of ours, then fewest in the process, then
		 * the lowest number (the first found). */
		for (int c = 0; c < CPU_SETSIZE; c++) {
			if (!CPU_ISSET(c, mask))
				continue;
			if (best < 0 || mine[c] < mine[best] ||
			    (mine[c] == mine[best] && load[c] < load[best]))
				best = c;
		}
		mine[best]++;
		load[best]++;
		w[i].cpu = best;
	}
	filch__cpuset_unlock();
}

void filch__cpuset_release(const struct filch__worker *w, unsigned n)
{
	filch__cpuset_lock();
	for (unsigned i = 0; i < n; i++)
		if (w[i].cpu >= 0)
			load[w[i].cpu]--;
	filch__cpuset_unlock();
}

void filch__cpuset_lock(void)
{
	pthread_mutex_lock(&placement_lock);
}

void filch__cpuset_unlock(void)
{
	pthread_mutex_unlock(&placement_lock);
}
