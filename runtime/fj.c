/* SPDX-License-Identifier: MIT */
/*
 * fj.c - the fork-join fast path's frame stacks: sharing frames with
 * thieves, stealing them, and the sync of a frame that was stolen.
 *
 * Algorithm: the split deque of Lace (T. van Dijk and J. van de Pol, "Lace:
 * non-blocking split deque for work-stealing", Euro-Par 2014 workshops),
 * with its private/shared split kept in one 64-bit word that thieves and
 * the owner change only by CAS (or by a plain store while no CAS can
 * succeed), and Cilk's fast clone for the common sync (Frigo, Leiserson and
 * Randall, "The implementation of the Cilk-5 multithreaded language", PLDI
 * 1998): a frame nobody stole is run by a direct call.
 *
 * A worker's frame stack is an array of 64-byte frames (filch/fj.h), mapped
 * once (never moved: thieves index it) when the worker first needs it.
 * Indices (the owner keeps head, split and end as pointers to frames), all
 * below FILCH_FJ_DEPTH:
 *   0 <= tail <= split <= head
 *   [0, tail)       stolen (taken by thieves, or synced below since)
 *   [tail, split)   shared: a thief may take the oldest, at tail
 *   [split, head)   private: the owner's alone, no atomics
 * head and the owner's copy of split are plain fields of struct filch_fj,
 * as pointers to frames head and split (so that the inline code indexes
 * nothing; index_of converts); ts holds tail (high half) and split (low
 * half):
 *
 * ts (the stack's shared state word):
 *   tail << 32 | split. Writers: a thief, CAS (t, s) -> (t + 1, s) when
 *   t < s: it owns frame t from then on; the owner, CAS (t, s) -> (t, s')
 *   to share (s' > s, filch_fj_share) or take back (s' < s, join), and a
 *   plain store (h, h) after a stolen frame's sync (join), made while
 *   tail == split, when no thief's CAS can succeed. Only the owner changes
 *   split, so its copy in struct filch_fj is exact.
 *
 * The protocol in steps:
 *  1. spawn (inline, fj.h) writes frame head and head++; private.
 *  2. If publish is set (a thief found nothing, or the owner's last sync
 *     found its frame stolen), share: split moves halfway up to head, by a
 *     release CAS (the frames' stores before a thief's acquire CAS), and a
 *     parked worker is woken if nobody searches.
 *  3. sync (inline) of frame h = head - 1: h >= split: the owner's; it
 *     calls the function. Else h == split - 1: join takes back half of the
 *     shared part, (t, s) -> (t, t + (s - t) / 2), if t <= h; one CAS
 *     decides between the owner and a thief reaching for the same frame.
 *     If t > h the frame was stolen: wait for its thief (below), then
 *     head = split = tail = h.
 *  4. steal: a thief that wins (t, s) -> (t + 1, s) runs frame t on its
 *     own stack: it records its own head (base) and its index in the
 *     frame's state, runs it, and sets DONE.
 * Proof sketch: a frame is run once, by its owner (steps 1 and 3) or by the
 * one thief whose CAS moved tail past it (4): the owner calls a frame only
 * at or above split, and split only drops by the owner's CAS, which fails
 * if a thief's CAS moved tail first (and then frame h is below tail: the
 * owner waits instead). Thieves read a frame only after their CAS, which
 * acquires the owner's release CAS or store that shared it (a later thief
 * CAS continues that release sequence), so they see its arguments; the
 * owner reads the result after acquiring DONE. No ABA: a thief's CAS from
 * a stale (t, s) succeeds only if ts holds (t, s) now, which makes frame t
 * shared now, whatever happened in between.
 *
 * state (each frame's protocol word):
 *   0 after the spawn (owner, relaxed; published with the frame by step 2);
 *   | thief index + 1 (THIEF_MASK bits) once a thief took it (fetch_or,
 *   release: base before it; pairs with the owner's acquire loads in
 *   wait_stolen); | SLEEPING, set by the owner's CAS before it sleeps on
 *   the futex of state; DONE, the thief's exchange (release: the result
 *   before it; pairs with the acquire loads in wait_stolen), which wakes
 *   the owner if SLEEPING was set. After DONE the thief never touches the
 *   frame again (the wake uses only its address), so the owner may reuse it.
 *
 * Waiting for a stolen frame f runs only work that f's result depends on
 * (group.c's rule): leapfrogging, it takes frames from f's thief at or
 * above base, the thief's head when it took f; while f runs, the thief's
 * frames there are f's descendants. A take that succeeds when f has just
 * become DONE may have taken an unrelated frame (the thief may have reused
 * those indices after finishing f): the waiter runs it in place all the
 * same. It cannot be dropped (its owner waits for it), and a frame queued
 * as a task could reach a thread with no frame stack to run it on (a
 * cancelling shutdown empties the deques from any thread); the delay is
 * that one frame's work, in a window that opens only as f finishes. Then
 * a spin, then sleep, with a spare standing in (spare.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <filch/fj.h>

#include "alloc.h"
#include "atomic.h"
#include "executor.h"
#include "fj.h"
#include "frame.h"
#include "futex.h"
#include "park.h"
#include "worker.h"

#define THIEF_MASK 0x3fffffffu
#define SLEEPING 0x40000000u
#define DONE 0x80000000u
/* Spins (with leapfrogging attempts) before sleeping: as group.c's. */
#define WAIT_SPINS 1024

static_assert(FILCH__MAX_WORKERS + FILCH__MAX_SPARES < THIEF_MASK,
	      "a thief's index fits state");
static_assert(sizeof(struct filch_fj_frame) == 64, "a frame is a cache line");
static_assert(sizeof(struct filch__task) <=
		      sizeof(((struct filch_fj_frame *)0)->reserved_),
	      "a stolen frame's task record fits reserved_");

struct filch__fj {
	struct filch_fj pub; /* the owner's line; see filch/fj.h */
	struct filch__worker *w;
	/* Thieves' line: see the top. */
	alignas(FILCH_CACHELINE) _Atomic uint64_t ts;
};

static_assert(offsetof(struct filch__fj, ts) % FILCH_CACHELINE == 0,
	      "ts opens the thieves' cache line");

static uint64_t pack(uint32_t tail, uint32_t split)
{
	return (uint64_t)tail << 32 | split;
}

static struct filch__fj *fj_of(filch_fj *pub)
{
	return filch__container_of(pub, struct filch__fj, pub);
}

/* The index of frame f of pub's stack (the owner's fields are pointers,
 * for the inline code; ts and base hold indices). */
static uint32_t index_of(const filch_fj *pub, const struct filch_fj_frame *f)
{
	return (uint32_t)(f - pub->frames);
}

/* A broken rule of filch/fj.h: a message with the file and line, then
 * abort. */
#define fj_die(what) fj_abort(__FILE__, __LINE__, what)

static __attribute__((noreturn)) void fj_abort(const char *file, int line,
					       const char *what)
{
	fprintf(stderr, "filch: %s:%d: %s\n", file, line, what);
	abort();
}

/* w's frame stack, mapped at its first use (by w only), or NULL. */
static struct filch__fj *fj_get(struct filch__worker *w)
{
	/* Relaxed: w's own field, written only here, by w. */
	struct filch__fj *fj = filch__load(&w->fj, relaxed);
	size_t bytes = (size_t)FILCH_FJ_DEPTH * sizeof(struct filch_fj_frame);
	void *frames;

	if (fj)
		return fj;
	if (!(fj = filch__aligned_alloc(FILCH_CACHELINE, sizeof(*fj))))
		return NULL;
	frames = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (frames == MAP_FAILED) {
		filch__free(fj);
		return NULL;
	}
	fj->pub.frames = frames;
	fj->pub.head = frames;
	fj->pub.split = frames;
	fj->pub.end = fj->pub.frames + FILCH_FJ_DEPTH;
	fj->pub.publish = 1; /* share the first spawn: wake a helper */
	fj->w = w;
	atomic_init(&fj->ts, 0);
	/* Release: the record before thieves see it; pairs with the acquire
	 * loads in filch__fj_steal and leapfrog. */
	filch__store(&w->fj, fj, release);
	return fj;
}

void filch__fj_destroy(struct filch__fj *fj)
{
	if (!fj)
		return;
	munmap(fj->pub.frames,
	       (size_t)FILCH_FJ_DEPTH * sizeof(struct filch_fj_frame));
	filch__free(fj);
}

void filch_fj_overflow(filch_fj *fj)
{
	(void)fj;
	fj_die("FILCH_SPAWN: the frame stack is full (FILCH_FJ_DEPTH)");
}

void filch_fj_share(filch_fj *pub)
{
	struct filch__fj *fj = fj_of(pub);
	uint32_t s = index_of(pub, pub->split);
	uint32_t ns = s + (index_of(pub, pub->head) - s + 1) / 2;
	uint64_t ts;

	__atomic_store_n(&pub->publish, 0, __ATOMIC_RELAXED); /* a request */
	if (ns == s)
		return;
	ts = filch__load(&fj->ts, relaxed);
	/* Release: the shared frames' stores (spawn) before the new split.
	 * Pairs with the acquire CAS in take. Fails only when a thief moved
	 * tail meanwhile (split is the owner's). */
	while (!filch__cas(&fj->ts, &ts, pack((uint32_t)(ts >> 32), ns),
			   release, relaxed))
		;
	pub->split = &pub->frames[ns];
	/* Not notify_local's relaxed look: a worker that parks while the
	 * frames are private asks for them (filch__fj_work_visible) and is
	 * woken by this notification, whose first step, an RMW of
	 * park_state, is ordered against its park (park.c, P and N1). */
	if (fj->w->ex->nworkers > 1)
		filch__park_notify(fj->w->ex);
}

/* True when ts, v's state word, shows no shared frame; then asks v's
 * owner to share at its next spawn. */
static bool none_shared(struct filch__fj *v, uint64_t ts)
{
	if ((uint32_t)(ts >> 32) < (uint32_t)ts)
		return false;
	/* Relaxed: a request (filch_fj_commit_; park.c says why a look that
	 * finds it set already is as good as a store). Looked at first so
	 * that idle thieves do not keep writing the owner's line. */
	if (!__atomic_load_n(&v->pub.publish, __ATOMIC_RELAXED))
		__atomic_store_n(&v->pub.publish, 1, __ATOMIC_RELAXED);
	return true;
}

bool filch__fj_work_visible(filch_executor *ex)
{
	/* Acquire: a new spare's record is set up before it is counted
	 * (filch__executor_start_spare's release store). */
	unsigned n = filch__load(&ex->nthreads, acquire);

	for (unsigned i = 0; i < n; i++) {
		/* Acquire: pairs with the release store in fj_get. */
		struct filch__fj *v = filch__load(&ex->workers[i].fj, acquire);

		/* Relaxed: ordered by the caller's RMW of park_state (park.c,
		 * W3), as the deques' size hints are. */
		if (v && !none_shared(v, filch__load(&v->ts, relaxed)))
			return true;
	}
	return false;
}

/* Takes the oldest shared frame of v if its index is at least min, or
 * returns NULL (and, when none is shared, asks v's owner to share). */
static struct filch_fj_frame *take(struct filch__fj *v, uint32_t min)
{
	/* Relaxed: the CAS below acquires what it takes. */
	uint64_t ts = filch__load(&v->ts, relaxed);

	for (;;) {
		uint32_t t = (uint32_t)(ts >> 32);

		if (none_shared(v, ts) || t < min)
			return NULL;
		/* Acquire: the frame's stores, released by the owner's CAS
		 * or store of ts that shared it (filch_fj_share, join). */
		if (filch__cas(&v->ts, &ts, ts + ((uint64_t)1 << 32), acquire,
			       relaxed))
			return &v->pub.frames[t];
	}
}

/* Runs frame f, taken from another stack, on fj (the running worker's). */
static void run_stolen(struct filch__fj *fj, struct filch_fj_frame *f)
{
	struct filch__task_frame fr;
	uint32_t old;

	f->base = index_of(&fj->pub, fj->pub.head);
	/* Release: base before the thief's index; pairs with the acquire
	 * loads of state in wait_stolen. */
	__atomic_fetch_or(&f->state, fj->w->index + 1, __ATOMIC_RELEASE);
	/* A frame (no future; a job's, transparent to filch_task_fail and
	 * filch_cancel_requested) names the stolen frame, by its runner
	 * (FILCH_FJ_RUNNER), to a timed shutdown's report (frame.c). The
	 * frames its owner runs itself have none: that costs nothing. */
	filch__task_frame_enter(&fr, NULL, (void (*)(void))f->run, true);
	f->run(&fj->pub, f);
	filch__task_frame_leave(&fr);
	/* Release: the result before DONE; pairs with the acquire loads of
	 * state in wait_stolen. The frame may be reused after this. */
	old = __atomic_exchange_n(&f->state, DONE, __ATOMIC_RELEASE);
	if (old & SLEEPING)
		filch__futex_wake((_Atomic uint32_t *)(void *)&f->state, 1);
}

static struct filch_fj_frame *frame_of_task(struct filch__task *t)
{
	return filch__container_of((void *)t, struct filch_fj_frame, reserved_);
}

/* run() of a stolen frame's task: runs it on the running worker's stack.
 * how is ignored: the frame's owner waits for its result (no discard),
 * and the fork-join path has no hooks. */
static void stolen_task_run(struct filch__task *t, unsigned how)
{
	struct filch__fj *fj = fj_get(filch__self);

	(void)how;
	if (!fj) /* cannot be: a worker with a frame stack took the task */
		fj_die("a stolen frame without a frame stack to run it on");
	run_stolen(fj, frame_of_task(t));
}

static struct filch__task *frame_task(struct filch_fj_frame *f)
{
	struct filch__task *t = (struct filch__task *)(void *)f->reserved_;

	t->run = stolen_task_run;
	return t;
}

struct filch__task *filch__fj_steal(struct filch__worker *w,
				    struct filch__worker *victim)
{
	/* Acquire: pairs with the release store in fj_get. */
	struct filch__fj *v = filch__load(&victim->fj, acquire);
	struct filch_fj_frame *f;

	if (!v || !fj_get(w) || !(f = take(v, 0)))
		return NULL;
	/* The frame runs as a task from here (tasks_run): counted as a steal
	 * and, since the owner's spawns are not counted, as a spawn. */
	filch__stat_add(&w->stats.stolen, 1);
	filch__stat_add(&w->stats.spawned, 1);
	return frame_task(f);
}

/* Leapfrogging (see the top): true when fj ran or passed on a frame taken
 * from f's thief (state holds its index). */
static bool leapfrog(struct filch__fj *fj, struct filch_fj_frame *f,
		     uint32_t state)
{
	struct filch__worker *w = fj->w;
	struct filch__worker *thief = &w->ex->workers[(state & THIEF_MASK) - 1];
	/* Acquire: pairs with the release store in fj_get. */
	struct filch__fj *v = filch__load(&thief->fj, acquire);
	struct filch_fj_frame *g;

	if (!v || v == fj || !(g = take(v, f->base)))
		return false;
	/* One of f's descendants, or, when f turned out DONE meanwhile, a
	 * frame the thief spawned after it, run here all the same (see the
	 * top). */
	run_stolen(fj, g);
	return true;
}

/* Sleeps until f is DONE; a spare stands in on the worker meanwhile. */
static void sleep_stolen(struct filch_fj_frame *f, uint32_t state)
{
	_Atomic uint32_t *word = (_Atomic uint32_t *)(void *)&f->state;

	/* Relaxed: the owner's bit; DONE is read with acquire below. */
	if (!__atomic_compare_exchange_n(&f->state, &state, state | SLEEPING,
					 false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return; /* the thief moved: look again */
	filch__block_begin(false);
	/* Acquire: pairs with run_stolen's exchange. */
	while (!((state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE)) & DONE))
		filch__futex_wait(word, state, FILCH__NO_DEADLINE);
	filch__block_end();
}

/* Waits until the thief of f finished it: leapfrog, spin, sleep. */
static void wait_stolen(struct filch__fj *fj, struct filch_fj_frame *f)
{
	unsigned spins = 0;
	uint32_t state;

	/* Acquire: pairs with run_stolen's fetch_or (base) and exchange
	 * (the result). */
	while (!((state = __atomic_load_n(&f->state, __ATOMIC_ACQUIRE)) &
		 DONE)) {
		if ((state & THIEF_MASK) && leapfrog(fj, f, state)) {
			spins = 0;
			continue;
		}
		if (++spins < WAIT_SPINS)
			filch__cpu_relax();
		else
			sleep_stolen(f, state);
	}
}

int filch_fj_join(filch_fj *pub)
{
	struct filch__fj *fj = fj_of(pub);
	uint32_t h = index_of(pub, pub->head) - 1;
	/* Relaxed: the CAS decides; a stolen frame's result is acquired
	 * from its state in wait_stolen. */
	uint64_t ts = filch__load(&fj->ts, relaxed);

	if (pub->head == pub->frames)
		fj_die("FILCH_SYNC without a pending FILCH_SPAWN");
	/* Here split == head (h is below split, and split <= head). */
	for (;;) {
		uint32_t t = (uint32_t)(ts >> 32), s = (uint32_t)ts;
		uint32_t ns = t + (s - t) / 2;

		if (t > h)
			break; /* stolen */
		/* Relaxed: frames [ns, s) were never read by a thief; one
		 * CAS decides frame h against take's. */
		if (filch__cas(&fj->ts, &ts, pack(t, ns), relaxed, relaxed)) {
			pub->split = &pub->frames[ns];
			pub->head = &pub->frames[h];
			return 1;
		}
	}
	/* head stays above h while f's thief writes into it: leapfrogged
	 * frames spawn above it. */
	wait_stolen(fj, &pub->frames[h]);
	pub->head = &pub->frames[h];
	pub->split = pub->head;
	/* Release: see the top (the leapfrogging argument); tail == split
	 * here, so no thief's CAS can succeed meanwhile. */
	filch__store(&fj->ts, pack(h, h), release);
	/* Thieves are about: share the next spawn at once. */
	__atomic_store_n(&pub->publish, 1, __ATOMIC_RELAXED);
	return 0;
}

/* A root run on worker w: fn(fj, arg) on its frame stack. */
static int run_root(struct filch__worker *w, filch_fj_root_fn fn, void *arg)
{
	struct filch__fj *fj = fj_get(w);
	struct filch_fj_frame *head;

	if (!fj)
		return -ENOMEM;
	head = fj->pub.head;
	fn(&fj->pub, arg);
	if (fj->pub.head != head)
		fj_die("a fork-join function returned with a FILCH_SPAWN "
		       "not synced");
	return 0;
}

struct root {
	filch_executor *ex;
	filch_fj_root_fn fn;
	void *arg;
};

/* The root's job. FILCH_FULL_CALLER_RUNS runs it in the submitting thread
 * when the queue is full, which has no frame stack of ex: refused as the
 * full queue is otherwise (fn not run). */
static int root_job(void *arg)
{
	struct root *r = arg;
	struct filch__worker *w = filch__self;

	if (!w || w->ex != r->ex)
		return EAGAIN;
	return run_root(w, r->fn, r->arg);
}

int filch_fj_run_v(filch_executor *ex, filch_fj_root_fn fn, void *arg,
		   unsigned abi)
{
	struct filch__worker *w = filch__self;
	struct root r = {ex, fn, arg};
	filch_group g;
	int rc;

	if (!ex || !fn)
		return -EINVAL;
	if (abi != FILCH_FJ_ABI)
		return -ENOTSUP;
	if (w && w->ex == ex)
		return run_root(w, fn, arg);
	filch_group_init(&g, ex);
	if ((rc = filch_group_spawn(&g, root_job, &r)) != 0)
		return rc;
	/* A job discarded by a cancelling shutdown counts as ECANCELED. */
	rc = filch_group_wait(&g);
	return rc > 0 ? -rc : rc;
}
