/* SPDX-License-Identifier: MIT */
/*
 * instr.h - user-space instructions retired by every thread of this process
 * over a region, read with perf_event_open(2).
 *
 * A counter is opened on each thread alive when the region begins (threads
 * started inside the region are not counted: pools are created before it).
 * Where the kernel or the hypervisor refuses hardware counters, every call
 * reports n/a (a negative count) and costs nothing after the first refusal.
 * Not thread-safe: one region at a time, from one thread.
 */
#ifndef FB_INSTR_H
#define FB_INSTR_H

struct fb_instr {
	int *fd;
	int n;
	int cap;
};

/* Opens and enables a counter on every thread of the process. Returns 0, or
 * -1 when instructions cannot be counted here. */
int fb_instr_start(struct fb_instr *c);

/* Disables and closes the counters; returns the sum of their counts, or a
 * negative number when fb_instr_start failed or a read failed. */
double fb_instr_stop(struct fb_instr *c);

#endif /* FB_INSTR_H */
