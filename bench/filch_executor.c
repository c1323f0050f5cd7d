/* SPDX-License-Identifier: MIT */
/* filch_executor.c - the executor of the filch rows. */
#include "config.h"

#include "filch_executor.h"

#include <stdint.h>

#include "placement.h"

/* The initializer of every worker and spare: arg is the worker count. */
static int place(void *arg, unsigned index)
{
	fb_place_worker(index, (unsigned)(uintptr_t)arg);
	return 0;
}

int fb_filch_create(unsigned workers, filch_executor **ex)
{
	/* FILCH_PIN_NONE: filch's own pinning would use the submitter's
	 * mask (one CPU once pinned); the initializer places each worker
	 * as every peer's workers are placed. */
	struct filch_executor_opts opts = {
	    .workers = workers,
	    .pin = FILCH_PIN_NONE,
	    .initializer = place,
	    .initializer_arg = (void *)(uintptr_t)workers,
	};

	return filch_executor_create(ex, &opts);
}

int fb_filch_setup(unsigned workers, const struct fb_params *p, void **state)
{
	return fb_filch_create(workers, (filch_executor **)state);
}

void fb_filch_teardown(void *state)
{
	FB_CHECK_RC(filch_executor_destroy(state));
}
