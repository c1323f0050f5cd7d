/* SPDX-License-Identifier: MIT */
/* filch_executor.c - the executor of the filch rows. */
#include "config.h"

#include "filch_executor.h"

#include <filch.h>

int fb_filch_setup(unsigned workers, const struct fb_params *p, void **state)
{
	struct filch_executor_opts opts = {.workers = workers};

	return filch_executor_create((filch_executor **)state, &opts);
}

void fb_filch_teardown(void *state)
{
	FB_CHECK_RC(filch_executor_destroy(state));
}
