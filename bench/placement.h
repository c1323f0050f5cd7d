/* SPDX-License-Identifier: MIT */
/*
 * placement.h - where the submitting thread and every implementation's
 * workers run, the same way for all of them (--placement), and which of a
 * pool's threads are still alive after its shutdown.
 *
 * The process's CPUs c0, c1, ... cN-1 (its affinity mask when filch-bench
 * starts) are shared out so:
 *
 *   split  the submitter (the thread that runs the benches) on c0; worker
 *          k on c((k + 1) mod N): the workers take the other CPUs first and
 *          share c0 only when there are more than N - 1 of them.
 *   same   the submitter on c0; worker k on c(k mod N): worker 0 shares
 *          the submitter's CPU.
 *   free   nobody pinned, filch's workers included (FILCH_PIN_NONE): what
 *          the peers do by themselves.
 *
 * Where the submitter is itself one of the workers (OpenMP's team master,
 * the caller in TBB's fork-join arena), the other members are teammates
 * 1, 2, ... and go where `same` puts workers 1, 2, ...: split cannot apply
 * to a thread that works. Threads the benches start themselves (the two
 * submitters of submit2, the gate opener of wait, the signaller of
 * blocking) inherit the submitter's CPU.
 *
 * Every hook below also adds the calling thread to the roster, which the
 * shutdown bench reads after a pool's shutdown to tell a pool that joins
 * its threads from one that parks them.
 */
#ifndef FB_PLACEMENT_H
#define FB_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fb_placement {
	FB_PLACE_SPLIT, /* the default */
	FB_PLACE_SAME,
	FB_PLACE_FREE,
};

/* "split", "same" or "free". Returns 0 or -EINVAL. */
int fb_placement_parse(const char *name, enum fb_placement *mode);

/* Sets the placement of this process and pins the calling thread (the
 * submitter) unless free. cpus: "2,3,..." (what fb_placement_arg gives a
 * helper process), or NULL for the calling thread's affinity mask. Call
 * from main before starting any thread; fails loudly on a bad list. */
void fb_placement_init(enum fb_placement mode, const char *cpus);
/* "MODE:CPUS", the argument of a helper's --placement. */
const char *fb_placement_arg(void);
/* Parses fb_placement_arg's form and calls fb_placement_init. Returns 0
 * or -EINVAL. */
int fb_placement_init_arg(const char *arg);
/* One line for the output's header, without the newline. */
void fb_placement_describe(char *buf, size_t size);

/* Runs fn(arg) with the calling thread on all of the process's CPUs, then
 * pins it back: for starting a helper process, which inherits the mask. */
void fb_placement_unpinned(void (*fn)(void *arg), void *arg);

/* The hooks. Each places the calling thread and adds it to the roster.
 * Worker k of a pool of `workers`; k >= workers (a spare thread that
 * stands in for a blocked worker, or one more thread of a library's
 * shared pool) goes on the CPUs of all the workers. */
void fb_place_worker(unsigned k, unsigned workers);
/* Member t >= 1 of a team of `members` whose member 0 is the submitter;
 * t >= members goes on the CPUs of members 1 .. members - 1. */
void fb_place_teammate(unsigned t, unsigned members);

/*
 * For pools that start their threads themselves and offer no start hook
 * (GLib, libuv), or whose threads come and go (TBB's arenas): call
 * fb_lazy_place_self at the top of every task or arena entry. The first
 * call on each thread since fb_lazy_place_new places that thread as the
 * next worker (with caller_works: the next teammate, 1, 2, ...); the
 * later ones cost a thread-local compare.
 */
struct fb_lazy_place;
struct fb_lazy_place *fb_lazy_place_new(unsigned workers, bool caller_works);
void fb_lazy_place_free(struct fb_lazy_place *lp);
void fb_lazy_place_self(struct fb_lazy_place *lp);

/* Forgets the threads placed so far: call before creating a pool. */
void fb_roster_reset(void);
/* How many threads placed since fb_roster_reset still exist: polls for up
 * to 20 ms until none is left (a thread that exits takes a moment to
 * disappear after its join returned). */
unsigned fb_roster_alive(void);

#ifdef __cplusplus
}
#endif

#endif /* FB_PLACEMENT_H */
