/* SPDX-License-Identifier: MIT */
/*
 * remote.h - implementations that run in a helper process: iomp (built by
 * clang against libomp, which cannot share a process with gcc's libgomp)
 * and libuv (whose pool size is read once per process from
 * UV_THREADPOOL_SIZE). The driver starts one helper per bench and worker
 * count and asks it for runs one at a time, interleaved with the
 * implementations in its own process.
 *
 * Protocol (text lines): the driver writes "run"; the helper runs once and
 * answers "<ns> <instr> <value0> <value1>". Closing the helper's input ends
 * it. A helper that fails prints why on stderr and exits 2.
 */
#ifndef FB_REMOTE_H
#define FB_REMOTE_H

#include <stdbool.h>

#include "fb.h"

struct fb_remote;

/* Calls fn(bench, impl, arg) for each bench the helper at path implements.
 * Returns 0, or -1 when the helper is missing or fails to list. */
int fb_remote_list(const char *path,
		   void (*fn)(const char *bench, const char *impl, void *arg),
		   void *arg);
/* Starts the helper for bench at `workers` workers, with this process's
 * placement (placement.h); fails loudly. */
struct fb_remote *fb_remote_start(const char *path, const char *bench,
				  unsigned workers, bool quick);
/* One run; fails loudly if the helper died. */
void fb_remote_run(struct fb_remote *r, struct fb_sample *s);
/* Ends the helper and waits for it; fails loudly on a nonzero exit. */
void fb_remote_stop(struct fb_remote *r);

#endif /* FB_REMOTE_H */
