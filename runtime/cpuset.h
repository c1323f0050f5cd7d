/* SPDX-License-Identifier: MIT */
/*
 * cpuset.h - which CPUs the process has, and where pinned workers go
 * (cpuset.c).
 */
#ifndef FILCH_CPUSET_H
#define FILCH_CPUSET_H

#include <sched.h>
#include <stdbool.h>

struct filch__worker;

/*
 * The process's CPUs: the affinity mask of the thread-group leader (the
 * main thread), else the calling thread's, written to *mask; returns how
 * many it holds. When neither can be read (a kernel with more CPUs than
 * cpu_set_t holds), *mask is empty and the count is that of the online
 * CPUs. Any thread.
 */
unsigned filch__cpuset_process(cpu_set_t *mask);

/*
 * Sets w[i].cpu for the n workers of a new executor: with pin, the CPUs of
 * mask that have the fewest live pinned workers of this process, each
 * counted as one more from now on (filch__cpuset_release); without, -1.
 * The workers of one executor take distinct CPUs while there are enough;
 * beyond, each CPU takes one more before any takes two (round robin).
 * Ties go to the lowest CPU number. mask must not be empty when pin.
 * Any thread; takes the placement lock.
 */
void filch__cpuset_place(const cpu_set_t *mask, bool pin,
			 struct filch__worker *w, unsigned n);

/* Uncounts the CPUs that filch__cpuset_place gave w[0..n). */
void filch__cpuset_release(const struct filch__worker *w, unsigned n);

/* The placement lock, held across fork() by fork.c's handlers. */
void filch__cpuset_lock(void);
void filch__cpuset_unlock(void);

#endif /* FILCH_CPUSET_H */
