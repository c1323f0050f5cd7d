/* SPDX-License-Identifier: MIT */
/* filch_executor.h - the executor every filch row runs on: `workers` workers
 * placed by placement.h (filch's own pinning off), default options
 * otherwise. */
#ifndef FB_FILCH_EXECUTOR_H
#define FB_FILCH_EXECUTOR_H

#include <filch.h>

#include "fb.h"

/* Creates that executor. Returns 0 or filch_executor_create's error. */
int fb_filch_create(unsigned workers, filch_executor **ex);

/* setup/teardown of struct fb_impl: *state is a filch_executor. */
int fb_filch_setup(unsigned workers, const struct fb_params *p, void **state);
void fb_filch_teardown(void *state);

#endif /* FB_FILCH_EXECUTOR_H */
