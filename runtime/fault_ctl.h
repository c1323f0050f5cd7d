/* SPDX-License-Identifier: MIT */
/*
 * fault_ctl.h - how tests arm the fault-injection sites of fault.h
 * (configure --enable-fault-injection; these exist only in such builds).
 *
 * Each site (allocation, thread creation, futex wait) counts its calls from
 * 1. Arming site s with n makes its nth call fail ("one-shot"), or every
 * call from the nth on ("persistent", the SQLite method's second mode). The
 * environment arms sites at the first call of any of these functions or of
 * filch__fault_hit():
 *
 *	FILCH_FAULT=alloc:17          fail the 17th allocation
 *	FILCH_FAULT=thread:2,futex:5+ fail the 2nd pthread_create and every
 *	                              futex wait from the 5th on
 *
 * All functions are thread-safe; counters are exact under concurrency (the
 * nth call is the nth to increment the site's counter, whichever thread).
 */
#ifndef FILCH_FAULT_CTL_H
#define FILCH_FAULT_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "fault.h"

/* Arms site s: its nth call fails (n >= 1), and every later one too when
 * persistent. n == 0 disarms. Resets nothing else. */
void filch__fault_arm(enum filch__fault_site s, uint64_t n, bool persistent);

/* Disarms every site and zeroes every counter and record. */
void filch__fault_reset(void);

/* Calls made so far at site s. */
uint64_t filch__fault_calls(enum filch__fault_site s);

/* Calls at site s that were made to fail. */
uint64_t filch__fault_fired(enum filch__fault_site s);

/* Return address of the call site (inside the runtime) of the first call at
 * site s that was made to fail since the last reset, or NULL. Lets a test
 * name the code location that handled the fault (addr2line). */
void *filch__fault_first_pc(enum filch__fault_site s);

/* "alloc", "thread", "futex". */
const char *filch__fault_site_name(enum filch__fault_site s);

#endif /* FILCH_FAULT_CTL_H */
