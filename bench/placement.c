/* SPDX-License-Identifier: MIT */
/* placement.c - pinning of the submitter and the workers, and the roster
 * of placed threads (placement.h). */
#include "config.h"

#include "placement.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fb.h"

#define ROSTER_MAX	    4096
#define ROSTER_POLL_NS	    1000000
#define ROSTER_POLLS	    20
#define CPU_LIST_CHARS	    (CPU_SETSIZE * 5)

/* Set once by fb_placement_init, before any other thread starts; read-only
 * afterwards. */
static enum fb_placement mode;
static int cpus[CPU_SETSIZE];
static unsigned ncpus;
static char arg_text[16 + CPU_LIST_CHARS];
/* FB_PLACEMENT_TRACE set: each thread says on stderr where it runs once
 * placed (tests/bench_placement.sh reads it). */
static bool trace;

/* The CPU a thread pinned itself to, so that a hook called again (TBB
 * calls its observer each time a thread enters the arena) makes no
 * syscall; -1: as inherited. */
static _Thread_local int pinned_cpu = -1;

/*
 * The roster: tids of the threads placed since fb_roster_reset.
 * roster_gen: bumped by fb_roster_reset (the submitter); a hook adds its
 * thread once per generation (rostered_gen). roster_len: slots taken,
 * 0 .. ROSTER_MAX; a hook takes slot i, then stores its tid there; a slot
 * still 0 is a thread being added, which the reader skips. All relaxed:
 * the shutdown bench reads the roster after the pool ran FB_WARM_TASKS
 * tasks whose completion (fb_latch_wait) orders the hooks of the threads
 * that ran them; a thread that entered and ran nothing may be missed.
 */
static atomic_uint roster_gen = 1;
static atomic_uint roster_len;
static atomic_int roster[ROSTER_MAX];
static _Thread_local unsigned rostered_gen;

/* fb_lazy_place_new hands out generations; a thread has been placed for
 * lp when its placed_gen equals lp->gen. */
static atomic_uint lazy_gens;
static _Thread_local unsigned placed_gen;

struct fb_lazy_place {
	unsigned gen, workers;
	bool caller_works;
	atomic_uint next; /* the next worker index; relaxed: a ticket */
};

int fb_placement_parse(const char *name, enum fb_placement *out)
{
	static const char *const names[] = {"split", "same", "free"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (strcmp(name, names[i]) == 0) {
			*out = (enum fb_placement)i;
			return 0;
		}
	return -EINVAL;
}

static const char *mode_name(enum fb_placement m)
{
	return m == FB_PLACE_SPLIT ? "split" : m == FB_PLACE_SAME ? "same"
								  : "free";
}

static void pin_set(const cpu_set_t *set)
{
	int rc = pthread_setaffinity_np(pthread_self(), sizeof(*set), set);

	if (rc != 0)
		fb_fail("pthread_setaffinity_np: %s", strerror(rc));
}

static void pin_one(int cpu)
{
	cpu_set_t set;

	if (cpu == pinned_cpu)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pin_set(&set);
	pinned_cpu = cpu;
}

/* With trace: "filch-bench: placement: <role> <index> on CPUs 1,3", the
 * calling thread's mask as the kernel has it. */
static void trace_self(const char *role, unsigned index)
{
	cpu_set_t set;
	char list[256];
	size_t len = 0;

	if (!trace || sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	list[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE && len < sizeof(list); c++)
		if (CPU_ISSET(c, &set))
			len += (size_t)snprintf(list + len, sizeof(list) - len,
						"%s%d", len ? "," : "", c);
	fprintf(stderr, "filch-bench: placement: %s %u on CPUs %s\n", role,
		index, list);
}

/* Reads "2,3,..." into cpus[]; false on a bad or empty list. */
static bool parse_cpus(const char *list)
{
	char *end;

	ncpus = 0;
	for (const char *s = list; *s; s = end + (*end == ',')) {
		unsigned long c = strtoul(s, &end, 10);

		if (end == s || c >= CPU_SETSIZE || ncpus == CPU_SETSIZE ||
		    (*end && *end != ','))
			return false;
		cpus[ncpus++] = (int)c;
	}
	return ncpus > 0;
}

static void own_cpus(void)
{
	cpu_set_t set;

	ncpus = 0;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		fb_fail("sched_getaffinity: %s", strerror(errno));
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			cpus[ncpus++] = c;
	if (ncpus == 0)
		fb_fail("no CPU in the affinity mask");
}

void fb_placement_init(enum fb_placement m, const char *list)
{
	size_t len;

	mode = m;
	if (list) {
		if (!parse_cpus(list))
			fb_fail("bad CPU list %s", list);
	} else {
		own_cpus();
	}
	len = (size_t)snprintf(arg_text, sizeof(arg_text), "%s:",
			       mode_name(m));
	for (unsigned i = 0; i < ncpus; i++)
		len += (size_t)snprintf(arg_text + len, sizeof(arg_text) - len,
					"%s%d", i ? "," : "", cpus[i]);
	trace = getenv("FB_PLACEMENT_TRACE") != NULL;
	if (mode != FB_PLACE_FREE)
		pin_one(cpus[0]);
	trace_self("submitter", 0);
}

const char *fb_placement_arg(void) { return arg_text; }

int fb_placement_init_arg(const char *arg)
{
	const char *colon = strchr(arg, ':');
	char name[16];
	enum fb_placement m;

	if (!colon || colon - arg >= (long)sizeof(name))
		return -EINVAL;
	snprintf(name, sizeof(name), "%.*s", (int)(colon - arg), arg);
	if (fb_placement_parse(name, &m) != 0)
		return -EINVAL;
	fb_placement_init(m, colon + 1);
	return 0;
}

/* The CPU of worker k (not free). */
static int worker_cpu(unsigned k)
{
	unsigned skip = mode == FB_PLACE_SPLIT && ncpus > 1;

	return cpus[(k + skip) % ncpus];
}

void fb_placement_describe(char *buf, size_t size)
{
	size_t len;

	if (mode == FB_PLACE_FREE) {
		snprintf(buf, size,
			 "placement free: nobody pinned, threads float over "
			 "CPUs %s",
			 strchr(arg_text, ':') + 1);
		return;
	}
	len = (size_t)snprintf(buf, size,
			       "placement %s: submitter pinned to CPU %d; "
			       "workers 0, 1, ... pinned to CPUs",
			       mode_name(mode), cpus[0]);
	for (unsigned k = 0; k < ncpus && len < size; k++)
		len += (size_t)snprintf(buf + len, size - len, " %d,",
					worker_cpu(k));
	if (len < size)
		snprintf(buf + len, size - len, " ... in turn");
}

void fb_placement_unpinned(void (*fn)(void *arg), void *arg)
{
	cpu_set_t all;
	int was = pinned_cpu;

	if (mode == FB_PLACE_FREE) {
		fn(arg);
		return;
	}
	CPU_ZERO(&all);
	for (unsigned i = 0; i < ncpus; i++)
		CPU_SET(cpus[i], &all);
	pin_set(&all);
	pinned_cpu = -1;
	fn(arg);
	if (was >= 0)
		pin_one(was);
}

/* Adds the calling thread to the roster; false if it was already there. */
static bool roster_add(void)
{
	unsigned gen = atomic_load_explicit(&roster_gen, memory_order_relaxed);
	unsigned i;

	if (rostered_gen == gen)
		return false;
	rostered_gen = gen;
	i = atomic_fetch_add_explicit(&roster_len, 1, memory_order_relaxed);
	if (i < ROSTER_MAX)
		atomic_store_explicit(&roster[i], (int)syscall(SYS_gettid),
				      memory_order_relaxed);
	return true;
}

static int teammate_cpu(unsigned t) { return cpus[t % ncpus]; }

/* A spare: on the CPUs of members from .. to - 1 (cpu_of: their CPU). */
static void pin_spare(unsigned from, unsigned to, int (*cpu_of)(unsigned))
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (unsigned i = from; i < to && i - from < ncpus; i++)
		CPU_SET(cpu_of(i), &set);
	pin_set(&set);
	pinned_cpu = -1;
}

/* Member i of n, placed on cpu_of(i); i >= n: a spare, on the CPUs of
 * members first .. n - 1. */
static void place(const char *role, unsigned i, unsigned n, unsigned first,
		  int (*cpu_of)(unsigned))
{
	bool added = roster_add();

	if (mode != FB_PLACE_FREE && i < n)
		pin_one(cpu_of(i));
	else if (mode != FB_PLACE_FREE)
		pin_spare(first, n, cpu_of);
	if (added)
		trace_self(i < n ? role : "spare", i);
}

void fb_place_worker(unsigned k, unsigned workers)
{
	place("worker", k, workers, 0, worker_cpu);
}

void fb_place_teammate(unsigned t, unsigned members)
{
	place("teammate", t, members, 1, teammate_cpu);
}

struct fb_lazy_place *fb_lazy_place_new(unsigned workers, bool caller_works)
{
	struct fb_lazy_place *lp = fb_xmalloc(sizeof(*lp));

	lp->gen = atomic_fetch_add_explicit(&lazy_gens, 1,
					    memory_order_relaxed) + 1;
	lp->workers = workers;
	lp->caller_works = caller_works;
	atomic_init(&lp->next, 0);
	return lp;
}

void fb_lazy_place_free(struct fb_lazy_place *lp) { free(lp); }

void fb_lazy_place_self(struct fb_lazy_place *lp)
{
	unsigned k;

	if (placed_gen == lp->gen)
		return;
	placed_gen = lp->gen;
	k = atomic_fetch_add_explicit(&lp->next, 1, memory_order_relaxed);
	if (lp->caller_works)
		fb_place_teammate(k + 1, lp->workers);
	else
		fb_place_worker(k, lp->workers);
}

void fb_roster_reset(void)
{
	atomic_store_explicit(&roster_len, 0, memory_order_relaxed);
	for (unsigned i = 0; i < ROSTER_MAX; i++)
		atomic_store_explicit(&roster[i], 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&roster_gen, 1, memory_order_relaxed);
}

static unsigned count_alive(void)
{
	unsigned n = atomic_load_explicit(&roster_len, memory_order_relaxed);
	unsigned alive = 0;
	char path[64];

	for (unsigned i = 0; i < n && i < ROSTER_MAX; i++) {
		int tid = atomic_load_explicit(&roster[i], memory_order_relaxed);

		snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
		alive += tid != 0 && access(path, F_OK) == 0;
	}
	return alive;
}

unsigned fb_roster_alive(void)
{
	unsigned alive = count_alive();

	for (int i = 0; i < ROSTER_POLLS && alive; i++) {
		fb_sleep_ns(ROSTER_POLL_NS);
		alive = count_alive();
	}
	return alive;
}
