/* SPDX-License-Identifier: MIT */
/* api_fuzz.h - the fuzz target's entry point (libFuzzer's name), shared by
 * fuzz/api_fuzz.c and the corpus replayer fuzz/replay.c. */
#ifndef FILCH_API_FUZZ_H
#define FILCH_API_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input; aborts on a violated invariant; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* FILCH_API_FUZZ_H */
