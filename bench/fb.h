/* SPDX-License-Identifier: MIT */
/*
 * fb.h - what every implementation file of filch-bench sees: problem sizes,
 * the sample one measured run fills, and the table entry an implementation
 * registers per bench.
 *
 * An implementation file (filch_*.c, seq.c, peer_*.c) defines one array
 * "const struct fb_impl fb_impls_<family>[]" ending with an all-zero entry.
 * The driver runs, for each bench and worker count, every implementation's
 * setup, then its run several times interleaved with the other
 * implementations, then its teardown. run() brackets the work it measures
 * with fb_region_begin/fb_region_end, checks the answer, and calls fb_fail
 * (which exits) when the answer is wrong.
 *
 * This header compiles as C11 and as C++ (peer_tbb.cpp).
 */
#ifndef FB_H
#define FB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Problem sizes of one suite run: the full suite or --quick. */
struct fb_params {
	bool quick;
	unsigned deque_ops;	   /* push+pop pairs, and items stolen */
	unsigned fib_n;		   /* fib(30) */
	unsigned nqueens_n;	   /* 12 */
	unsigned skynet_leaves;	   /* 10^6, a power of 10 */
	unsigned matmul_n;	   /* 1024 */
	unsigned matmul_cutoff;	   /* 64 = FB_MM_LEAF */
	unsigned submit_tasks;	   /* 10^6 */
	unsigned roundtrip_rounds; /* 10^5 */
	unsigned roundtrip_idle_rounds;
	unsigned chain_links;	       /* 10^6 */
	unsigned map_items;	       /* 10^6 */
	unsigned as_completed_futures; /* 10^5 */
	unsigned wait_futures;	       /* 10^5 */
	unsigned idle_ms;	       /* idle window measured */
	unsigned blocking_tasks;       /* 200 */
	unsigned procpool_rounds;      /* 3000 round trips of a process task */
	unsigned procpool_tasks;       /* 20000 small process tasks */
};

/* Sizes for the full suite (quick = false) or --quick. */
void fb_params_init(struct fb_params *p, bool quick);

#define FB_NVALUES 2

/* What one measured run produced. */
struct fb_sample {
	int64_t ns;   /* wall time between fb_region_begin and _end */
	double instr; /* user-space instructions of every thread of the
			 process in that region; negative = n/a */
	double value[FB_NVALUES]; /* figures the run measures itself (latency
				     percentiles, CPU time...); see suite.c */
	int64_t begin_ns_;	  /* private to measure.c */
};

/* One implementation of one bench. */
struct fb_impl {
	const char *bench; /* a name of suite.c; NULL ends the array */
	const char *impl;  /* filch, filch_fj, filch_nofuture, filch_item,
			      seq, naive, tbb, gomp, iomp, glib, libuv,
			      lace */
	/* Prepares *state for runs with this many workers (creates the
	 * pool). Returns 0 or a negative errno. May be NULL. */
	int (*setup)(unsigned workers, const struct fb_params *p, void **state);
	/* One measured run. */
	void (*run)(void *state, const struct fb_params *p,
		    struct fb_sample *s);
	/* Frees what setup made. May be NULL. */
	void (*teardown)(void *state);
};

/* Starts the measured region: instruction counters of every thread, then
 * the clock. */
void fb_region_begin(struct fb_sample *s);
/* Ends it: the clock, then the counters; fills s->ns and s->instr. */
void fb_region_end(struct fb_sample *s);

/* CLOCK_MONOTONIC and the process's CPU time, in nanoseconds. */
int64_t fb_now_ns(void);
int64_t fb_cpu_ns(void);
/* Sleeps for ns nanoseconds. */
void fb_sleep_ns(int64_t ns);
/* Sleeps until this process's threads stop using CPU (pools whose threads
 * spin for a while after work), at least 2 ms and at most 300 ms: run
 * after each measured run so that it does not slow down the next one. */
void fb_settle(void);

/* Sorts lat[0..n) and stores its 50th and 99th percentiles in
 * microseconds into s->value[0] and s->value[1]. */
void fb_percentiles_us(int64_t *lat, size_t n, struct fb_sample *s);

/* Prints "filch-bench: <bench>/<impl>: <message>" and exits with status 2:
 * a wrong answer or a failed call is never reported as a figure. */
void fb_fail(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
/* Fails with the call's text and filch_strerror-like errno text unless
 * rc == 0. */
#define FB_CHECK_RC(call)                                                      \
	do {                                                                   \
		int fb_rc_ = (call);                                           \
		if (fb_rc_ != 0)                                               \
			fb_fail("%s returned %d (%s:%d)", #call, fb_rc_,       \
				__FILE__, __LINE__);                           \
	} while (0)
/* Names the bench and implementation fb_fail reports. */
void fb_set_current(const char *bench, const char *impl);

/* The pause of a spin-wait loop. */
static inline void fb_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* A run that does not finish within `seconds` (a lost task, a lost
 * wake-up) ends the process with status 2 and a message naming the bench
 * and implementation; 0 disarms. */
void fb_watchdog(unsigned seconds);

/* malloc that fails loudly. */
void *fb_xmalloc(size_t size);
void *fb_xcalloc(size_t n, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* FB_H */
