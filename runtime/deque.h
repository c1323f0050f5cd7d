/* SPDX-License-Identifier: MIT */
/*
 * deque.h - the per-worker Chase-Lev work-stealing deque (deque.c).
 *
 * Items are non-NULL pointers. One owner thread pushes and pops at the
 * bottom; any number of thieves steal at the top. The buffer doubles when
 * full; a replaced buffer is retired through liburcu and freed once no
 * thief can still read it. The algorithm, its memory-order table and its
 * synchronization proof are at the top of deque.c; docs/design.md has the
 * measurements.
 *
 * Synchronization (which calls may run at the same time):
 *
 *              | push  | pop   | take_oldest | steal | size_hint | init/destroy
 *   push       |  -    |  -    |      -      |  yes  |   yes     |   -
 *   pop        |  -    |  -    |      -      |  yes  |   yes     |   -
 *   take_oldest|  -    |  -    |      -      |  yes  |   yes     |   -
 *   steal      |  yes  |  yes  |     yes     |  yes  |   yes     |   -
 *   size_hint  |  yes  |  yes  |     yes     |  yes  |   yes     |   -
 *
 *   push, pop, take_oldest : the owner only (one thread, fixed between
 *               init and destroy)
 *   steal     : any thread registered with liburcu (rcu_register_thread of
 *               the default flavour, <urcu.h>), not the owner's call stack
 *               inside push or pop; many at once
 *   init / destroy : alone; destroy must not run inside an RCU read-side
 *               critical section nor in a call_rcu callback
 *
 * Progress: push and pop are wait-free except when push grows the buffer
 * (one allocation and a copy); steal is lock-free (it fails with
 * FILCH__STEAL_RETRY only because another thread made progress).
 *
 * Memory: embed struct filch__deque in storage aligned to FILCH_CACHELINE
 * (a static, or filch__aligned_alloc): its owner and thief halves are
 * alignas'ed cache lines.
 */
#ifndef FILCH_DEQUE_H
#define FILCH_DEQUE_H

#include <assert.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/call-rcu.h>

#include "atomic.h"
#include "perturb.h"

/*
 * Test-only mutants (stress/deque_stress_m*, stress/deque_model.cpp): each
 * one reintroduces a published deque bug so that the checkers show that
 * they catch it. 0, the default, is the correct deque; nothing else may be
 * built into the library.
 *   1: pop without its seq_cst fence (release store of bottom, acquire
 *      load of top), the bug DESIGN section 6 measured
 *   2: push keeps writing to the old buffer after a growth
 *   3: steal reads the slot after its CAS on top
 *   4: take_oldest sets top_seen to bottom (room it has not seen made)
 *   5: take_oldest moves top with a plain store instead of a CAS
 */
#ifndef FILCH_DEQUE_MUTANT
#define FILCH_DEQUE_MUTANT 0
#endif

/*
 * A buffer of 2^k slots. Index i (bottom and top count up forever) lives in
 * slot[i & mask]. Written by the owner only; read by thieves through an RCU
 * read-side critical section. Immutable once replaced: the owner never
 * writes to a buffer after publishing its successor.
 */
struct filch__deque_buf {
	struct rcu_head retire;	/* call_rcu link once replaced */
	int64_t mask;		/* capacity - 1 */
	_Atomic(void *) slot[];	/* read relaxed: ordered by bottom and top */
};

/*
 * The deque: the owner's cache line, then the thieves' cache line.
 *
 * bottom: one past the newest item. Written by the owner only: +1 by push
 *   (release), -1 then back by pop (pop's transient bottom = top - 1 on an
 *   empty deque is legal and reads as empty). Read by thieves.
 * top: the oldest item. Only ever increases, by one successful CAS of a
 *   thief or of the owner taking the last item. top <= bottom except while
 *   pop has bottom lowered.
 * buf: the live buffer; replaced only by the owner (push growing it).
 * top_seen, growths: the owner's private bookkeeping (plain fields).
 */
struct filch__deque {
	/* Owner's line: written by the owner only, read by thieves. */
	alignas(FILCH_CACHELINE) _Atomic int64_t bottom;
	_Atomic(struct filch__deque_buf *) buf;
	int64_t top_seen;	/* a past value of top: never above it */
	unsigned long growths;	/* buffers replaced so far (statistics) */
	/* Thieves' line: the CAS target. */
	alignas(FILCH_CACHELINE) _Atomic int64_t top;
};

static_assert(offsetof(struct filch__deque, bottom) == 0,
	      "bottom opens the owner's cache line");
static_assert(offsetof(struct filch__deque, top) % FILCH_CACHELINE == 0 &&
		      offsetof(struct filch__deque, top) >= FILCH_CACHELINE,
	      "top must sit alone on the thieves' cache line");
static_assert(sizeof(struct filch__deque) % FILCH_CACHELINE == 0,
	      "nothing may share the thieves' cache line");

enum filch__steal {
	FILCH__STEAL_OK = 0,	/* *item holds the stolen item */
	FILCH__STEAL_EMPTY = 1, /* nothing to steal */
	FILCH__STEAL_RETRY = 2, /* lost a race with another thief or the
				   owner; the deque may be non-empty */
};

/* Largest accepted log2_capacity of filch__deque_init. */
#define FILCH__DEQUE_MAX_LOG2 30

/*
 * Initial capacity 2^log2_capacity items (0 <= log2_capacity <=
 * FILCH__DEQUE_MAX_LOG2). Returns 0, -EINVAL (bad log2_capacity or NULL d)
 * or -ENOMEM; on error nothing is allocated and d must not be used or
 * destroyed. Alone.
 */
int filch__deque_init(struct filch__deque *d, unsigned log2_capacity);
/*
 * Frees the buffer and every retired buffer: waits for pending call_rcu
 * callbacks when the deque ever grew (rcu_barrier). Items still in the
 * deque are forgotten (the caller drains it first). Alone; blocks.
 */
void filch__deque_destroy(struct filch__deque *d);
/*
 * Thief: takes the oldest item into *item. Lock-free; never blocks.
 * Returns FILCH__STEAL_OK, _EMPTY or _RETRY (*item untouched unless OK).
 */
enum filch__steal filch__deque_steal(struct filch__deque *d, void **item);
/*
 * Push's slow path (owner): the buffer looked full by top_seen. Reloads top
 * and, if the buffer is really full, replaces it by one twice as large
 * (make_room in deque.c), then pushes item. Returns 0, or -ENOMEM (deque
 * unchanged). Out of line and whole, so that an inline push keeps nothing
 * in registers across a call.
 */
int filch__deque_push_grow(struct filch__deque *d, void *item);

/*
 * The store-load fence of pop (Le et al.'s take): the lowered bottom must
 * be visible to thieves before pop reads top. See filch__store_then_fence
 * in atomic.h: natively a relaxed store, a locked RMW on the stack and an
 * acquire load; under TSan a seq_cst store and a seq_cst load.
 */
#if FILCH_DEQUE_MUTANT == 1
#define filch__deque_take_publish(p, v) filch__store(p, v, release)
#define filch__deque_take_read(p) filch__load(p, acquire)
#else
#define filch__deque_take_publish(p, v) filch__store_then_fence(p, v)
#define filch__deque_take_read(p) filch__load_after_fence(p)
#endif

/* Owner: stores item at index b of a, the current buffer, and publishes
 * it: the last step of every push. */
static inline void filch__deque_put(struct filch__deque *d,
				    struct filch__deque_buf *a, int64_t b,
				    void *item)
{
	filch__store(&a->slot[b & a->mask], item, relaxed);
	/* Release: the slot store before the new bottom. Pairs with the
	 * seq_cst (acquire) load of bottom in filch__deque_steal. */
	filch__store(&d->bottom, b + 1, release);
}

/*
 * Owner: pushes item (non-NULL) at the bottom unless the buffer looks full
 * (then returns false, nothing pushed: filch__deque_push grows it). No
 * call, no read-modify-write, no fence.
 */
static inline bool filch__deque_try_push(struct filch__deque *d, void *item)
{
	int64_t b = filch__load(&d->bottom, relaxed); /* owner's own */
	struct filch__deque_buf *a = filch__load(&d->buf, relaxed);

	/* top_seen <= top, so this under-estimates the free room. */
	if (b - d->top_seen > a->mask)
		return false;
	filch__deque_put(d, a, b, item);
	return true;
}

/*
 * Owner: pushes item (non-NULL) at the bottom; grows when full. Returns 0,
 * or -ENOMEM when growing failed (item not pushed, deque unchanged).
 * Wait-free without growth; no read-modify-write, no fence.
 */
static inline int filch__deque_push(struct filch__deque *d, void *item)
{
	if (__builtin_expect(filch__deque_try_push(d, item), 1))
		return 0;
	return filch__deque_push_grow(d, item);
}

/* Owner: races the thieves for index b, the last item, with a CAS on top
 * (no other way to take it). Returns the item, or NULL if a thief won. */
static inline void *filch__deque_take_last(struct filch__deque *d,
					   struct filch__deque_buf *a,
					   int64_t b)
{
	void *item = filch__load(&a->slot[b & a->mask], relaxed);
	int64_t t = b;

	/* seq_cst: one winner for index b between this CAS and the CAS in
	 * filch__deque_steal. Failure acquire: the winning thief read the
	 * slot before its CAS; that read happens before push reuses the
	 * slot on the strength of top_seen. Pairs with steal's CAS. */
	if (!filch__cas(&d->top, &t, b + 1, seq_cst, acquire))
		item = NULL;
	d->top_seen = b + 1;
	return item;
}

/*
 * Owner: takes the oldest item (at top), as a thief would, or NULL when
 * empty: for items that must be taken in the order they were pushed
 * (worker.c: tasks from the injector). Lock-free: one CAS on top per try,
 * retried only when a thief took index t first. No fence: only the owner
 * moves bottom, and it is in here, so steal's Dekker pairing with pop has
 * nothing to order; the CAS alone arbitrates index t (deque.c, case A).
 */
static inline void *filch__deque_take_oldest(struct filch__deque *d)
{
	int64_t b = filch__load(&d->bottom, relaxed); /* owner's own */
	struct filch__deque_buf *a = filch__load(&d->buf, relaxed);
	/* Relaxed: a stale (lower) top only makes the CAS fail. */
	int64_t t = filch__load(&d->top, relaxed);

	while (t < b) {
		/* Relaxed: the owner wrote the slot; it changes only by the
		 * owner's own later push. */
		void *item = filch__load(&a->slot[t & a->mask], relaxed);

		/* seq_cst: one winner for index t between this CAS and
		 * those of filch__deque_steal and take_last. Failure
		 * acquire: t becomes the current top, and each thief's
		 * read of a slot below it (before its CAS) happens before
		 * push reuses that slot on the strength of top_seen.
		 * Pairs with steal's CAS. */
#if FILCH_DEQUE_MUTANT == 5
		/* Mutant: a plain store, as if the owner were alone. */
		filch__store(&d->top, t + 1, seq_cst);
		d->top_seen = t + 1;
		return item;
#else
		if (filch__cas(&d->top, &t, t + 1, seq_cst, acquire)) {
#if FILCH_DEQUE_MUTANT == 4
			/* Mutant: top_seen past what this thread has seen. */
			d->top_seen = b;
#else
			d->top_seen = t + 1;
#endif
			return item;
		}
		d->top_seen = t;
#endif
	}
	return NULL;
}

/*
 * Owner: pops the most recently pushed item, or NULL when empty. Wait-free.
 * Costs one locked instruction (x86): a CAS on top when the owner's last
 * view of top says one item is left, else the fence of take; nothing when
 * that view says empty.
 */
static inline void *filch__deque_pop(struct filch__deque *d)
{
	int64_t b = filch__load(&d->bottom, relaxed) - 1; /* owner's own */
	struct filch__deque_buf *a = filch__load(&d->buf, relaxed);
	int64_t t;
	void *item;

	if (b < d->top_seen)
		return NULL; /* bottom <= a past top <= top: empty */
	if (b == d->top_seen)
		/* At most one item (top >= top_seen = b): only the CAS can
		 * take it, so bottom stays and no fence is needed. */
		return filch__deque_take_last(d, a, b);
	/* Claim index b, fence, then read top. Pairs with the fence between
	 * the loads of top and bottom in filch__deque_steal (Dekker): either
	 * steal sees the lowered bottom, or this load sees the CAS of the
	 * thief that reached b (deque.c, case A). Acquire: as in take_last. */
	filch__deque_take_publish(&d->bottom, b);
	FILCH__PERTURB();
	t = filch__deque_take_read(&d->top);
	d->top_seen = t;
	if (t < b) /* two or more items: index b is ours alone */
		return filch__load(&a->slot[b & a->mask], relaxed);
	item = t == b ? filch__deque_take_last(d, a, b) : NULL;
	/* Empty now: restore bottom = top. Release (free on x86 and as
	 * cheap as a plain store on ARMv8): every store to bottom is at
	 * least release, so whichever one steal's load of bottom reads, it
	 * also sees the buffer that holds the items below it. */
	filch__store(&d->bottom, b + 1, release);
	return item;
}

/* Any thread: a racy estimate of the number of items (for heuristics). */
static inline size_t filch__deque_size_hint(const struct filch__deque *d)
{
	int64_t b = filch__load(&d->bottom, relaxed);
	int64_t t = filch__load(&d->top, relaxed);

	return b > t ? (size_t)(b - t) : 0;
}

#endif /* FILCH_DEQUE_H */
