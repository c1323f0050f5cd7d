/* SPDX-License-Identifier: MIT */
/*
 * futex_ref.h - the reference of the roundtrip_idle bench: how long a bare
 * futex wake-up of a sleeping thread takes on this machine (from the
 * FUTEX_WAKE call to the woken thread running), with the same 1 ms pause
 * before each wake-up.
 */
#ifndef FB_FUTEX_REF_H
#define FB_FUTEX_REF_H

/* Measures `rounds` wake-ups; stores the 50th and 99th percentiles in
 * microseconds. Fails loudly if the helper thread cannot start. */
void fb_futex_wakeup_us(unsigned rounds, double *p50, double *p99);

#endif /* FB_FUTEX_REF_H */
