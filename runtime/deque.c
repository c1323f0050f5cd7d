/* SPDX-License-Identifier: MIT */
/*
 * deque.c - the per-worker Chase-Lev work-stealing deque: growth, stealing,
 * and the retirement of replaced buffers through liburcu.
 *
 * Algorithm: D. Chase and Y. Lev, "Dynamic circular work-stealing deque",
 * SPAA 2005, with the C11 memory orders of N. M. Le, A. Pop, A. Cohen and
 * F. Zappa Nardelli, "Correct and efficient work-stealing for weak memory
 * models", PPoPP 2013, and these changes:
 *   - push reloads the buffer pointer after growing it (the published C11
 *     listing keeps writing to the old one; found by CDSChecker, Norris and
 *     Demsky, OOPSLA 2013);
 *   - steal reads the slot before its CAS on top (after the CAS the owner
 *     may already have reused the slot);
 *   - the owner caches top (top_seen, never above top): push reads top
 *     only when the buffer looks full, pop returns NULL without a fence
 *     when the cache says empty, and takes the item with a CAS alone
 *     (no fence, bottom untouched) when the cache says one is left;
 *   - every store of bottom is release (Le et al. restore it relaxed);
 *   - the fences are filch__store_then_fence and friends (atomic.h): a
 *     locked RMW on the stack on x86 natively, seq_cst accesses that TSan
 *     can see under TSan. Relacy checks both forms (stress/deque_model.cpp).
 * push and pop are static inline in deque.h; this file has their slow path.
 *
 * Indices: bottom and top are 64-bit and only count up (pop lowers bottom
 * for a moment and puts it back), so there is no ABA on top; index i lives
 * in slot[i & mask] of the buffer that is live while i is in the deque.
 *
 * Synchronization table (who touches what; deque.h has which calls may
 * run at the same time):
 *
 *   word     | written by                      | read by
 *   ---------+---------------------------------+-------------------------
 *   bottom   | owner: push, pop                | owner; steal; size_hint
 *   top      | CAS: steal; owner (take_last,   | owner: pop, make_room,
 *            |   take_oldest)                  |   take_oldest;
 *            |                                 | steal; size_hint
 *   buf      | owner: make_room (grow)         | owner; steal (under RCU)
 *   slot[]   | owner: push, grow (the copy)    | owner: pop; steal
 *   top_seen | owner                           | owner
 *
 * Memory-order table: every access of a shared word but the owner's reads
 * of its own bottom and buf (relaxed). F = filch__fence_seq_cst (TSan
 * builds: no fence, and the accesses marked * become seq_cst).
 *
 *   #   where      access              order    what it orders, its pair
 *   1   push       store slot          relaxed  published by 2
 *   2   push       store bottom        release  slot (1) before bottom;
 *                                               pairs with 10
 *   3   make_room  load top            acquire  a thief's slot read (12),
 *                                               made before its CAS (13),
 *                                               happens before the owner
 *                                               reuses that slot; pairs
 *                                               with 13
 *   4   grow       store buf           release  the copied slots and mask
 *                                               before the pointer; pairs
 *                                               with 11
 *   5   pop        store bottom - 1    relaxed* \ then F: Dekker with
 *   6   pop        load top            acquire* / 9, 10 (see A); acquire
 *                                               like 3
 *   7   take_last  CAS top b -> b+1    seq_cst  one winner for index b
 *                                               against 13; failure
 *                                               acquire like 3
 *   8   pop        restore bottom      release  like 2: every store of
 *                                               bottom is release, so any
 *                                               value 10 reads publishes
 *                                               the buffer holding it
 *   9   steal      load top            acquire* then F: Dekker with 5, 6
 *   10  steal      load bottom         acquire* pairs with 2 and 8 (slots
 *                                               below bottom, their buf)
 *   11  steal      load buf            acquire  pairs with 4
 *   12  steal      load slot           relaxed  before 13 in program order
 *   13  steal      CAS top t -> t+1    seq_cst  one winner for index t
 *                                               against other thieves, 7
 *                                               and 14; release pairs
 *                                               with 3, 6, 7's and 14's
 *                                               failure
 *   14  take_oldest CAS top t -> t+1   seq_cst  the owner at the thieves'
 *                                               end: one winner for index
 *                                               t against 13; failure
 *                                               acquire like 3
 *
 * Why each order is enough:
 *   A. No index is delivered twice. Index t is taken by a CAS of top from
 *      t (13, or 7 or 14 for the owner): one wins. take_oldest needs no
 *      fence: it takes only by CAS, and bottom cannot move while it runs
 *      (the owner is in it), so there is no Dekker race to order. The owner takes index b
 *      without CAS only in pop, after 5, F, and 6 reading t < b. A thief
 *      taking b read top = b (9), which some CAS C wrote, then F, then
 *      bottom (10). The two fences are ordered in S. If pop's F comes
 *      first, 10 reads the lowered bottom b or a later value (C11 7.17.3:
 *      store before fence X, fence Y before the load, X before Y in S),
 *      so the thief sees an empty range [b, b) unless b was pushed again.
 *      If the thief's F comes first, C happens before it (9 acquires C),
 *      so C precedes pop's F in S, and 6 reads C or later: t >= b, a
 *      contradiction. Under TSan all of these are seq_cst accesses, and
 *      the same two cases follow from S alone.
 *   B. A thief delivers the right item. Its CAS succeeds only if top was
 *      still t; the owner writes index t's slot again (as t + capacity)
 *      only after reading top > t through 3, 6, or 7's or 14's failure, all
 *      acquire, so the thief's read (12), before its CAS, cannot see that
 *      write. The buffer it reads (11) is the one that held t when the
 *      bottom it read was stored (10 acquires 2 or 8), or a newer copy; a
 *      copy that lacks t was made when top > t already, so the CAS fails.
 *   C. No item is lost: every index below bottom and at or above top is
 *      in the live buffer (push stores into the buffer it reloads after
 *      growing; grow copies [top, bottom)).
 *   D. No buffer is freed while read. A replaced buffer is unreachable
 *      from d->buf (4) before call_rcu; thieves read it only inside
 *      rcu_read_lock, and the callback runs after a grace period.
 *
 * Reclamation: liburcu's default flavour (memb, <urcu.h>, called through
 * the library: no _LGPL_SOURCE). Its read-side lock is a thread-local
 * counter and a compiler barrier (the writer pays with membarrier), so a
 * steal costs two calls; QSBR would make those free but would require
 * every thread that may steal to announce quiescent states, which ties the
 * deque to the worker loop and to foreign helpers. See docs/design.md.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include <urcu.h>

#include "alloc.h"
#include "atomic.h"
#include "deque.h"
#include "fork.h"
#include "perturb.h"

/* A zeroed buffer of capacity slots (a power of two), or NULL. Zeroed so
 * that a thief reading a slot the copy skipped reads NULL, not garbage. */
static struct filch__deque_buf *deque_buf_alloc(int64_t capacity)
{
	struct filch__deque_buf *a;

	if ((uint64_t)capacity >
	    (SIZE_MAX - sizeof(*a)) / sizeof(a->slot[0]))
		return NULL;
	a = filch__calloc(1, sizeof(*a) + (size_t)capacity * sizeof(a->slot[0]));
	if (a)
		a->mask = capacity - 1;
	return a;
}

/* call_rcu callback: no thief can hold a, since a grace period passed. */
static void deque_buf_free_rcu(struct rcu_head *head)
{
	/* container_of through void *: the buffer is aligned for its own
	 * type, which -Wcast-align cannot see through a char pointer. */
	struct filch__deque_buf *a = (void *)((char *)head -
		offsetof(struct filch__deque_buf, retire));

	/* TSan cannot see urcu's grace period: acquire what every reader
	 * (steal) and the retiring owner (deque_grow) released on a. */
	filch__tsan_acquire(a);
	filch__free(a);
}

int filch__deque_init(struct filch__deque *d, unsigned log2_capacity)
{
	struct filch__deque_buf *a;

	if (!d || log2_capacity > FILCH__DEQUE_MAX_LOG2)
		return -EINVAL;
	a = deque_buf_alloc(INT64_C(1) << log2_capacity);
	if (!a)
		return -ENOMEM;
	atomic_init(&d->bottom, 0);
	atomic_init(&d->top, 0);
	atomic_init(&d->buf, a);
	d->top_seen = 0;
	d->growths = 0;
	return 0;
}

void filch__deque_destroy(struct filch__deque *d)
{
	filch__free(filch__load(&d->buf, relaxed)); /* alone: no reader */
	/* Retired buffers wait in call_rcu queues; only a deque that grew
	 * has any. rcu_barrier returns once every queued callback ran. */
	if (d->growths) {
		/* rcu_barrier callocs a record that the call_rcu thread
		 * frees after a futex hand-off TSan cannot see. */
		filch__tsan_ignore_begin();
		rcu_barrier();
		filch__tsan_ignore_end();
	}
}

/*
 * Owner: replaces old (full: it holds indices t .. b-1) by a buffer twice
 * as large holding the same indices, and retires old. 0 or -ENOMEM.
 */
static int deque_grow(struct filch__deque *d, struct filch__deque_buf *old,
		      int64_t t, int64_t b)
{
	struct filch__deque_buf *a = deque_buf_alloc(2 * (old->mask + 1));
	int64_t i;

	if (!a)
		return -ENOMEM;
	/* Thieves may move top past t meanwhile: copying their indices too
	 * is harmless, since they can only be taken by a CAS from t. */
	for (i = t; i < b; i++)
		filch__store(&a->slot[i & a->mask],
			     filch__load(&old->slot[i & old->mask], relaxed),
			     relaxed);
	/* Release: the copied slots and a->mask before the pointer. Pairs
	 * with the acquire load of buf in filch__deque_steal. */
	filch__store(&d->buf, a, release);
	/* The owner's own accesses of old before its free (see
	 * deque_buf_free_rcu). */
	filch__tsan_release(old);
	/* The process's first call_rcu would start urcu's thread as a copy
	 * of this worker (its name): start it named instead (fork.c). */
	filch__fork_rcu_thread_start();
	call_rcu(&old->retire, deque_buf_free_rcu);
	d->growths++;
	return 0;
}

/* Push's slow path before the push: the buffer looked full by top_seen.
 * Reloads top and, if the buffer is really full, replaces it by one twice
 * as large. Returns 0 (room for one more item) or -ENOMEM (deque
 * unchanged). */
static int make_room(struct filch__deque *d)
{
	int64_t b = filch__load(&d->bottom, relaxed); /* owner's own */
	struct filch__deque_buf *a = filch__load(&d->buf, relaxed);
	/* Acquire: every thief's read of a slot below t, made before its
	 * CAS on top, happens before push reuses that slot. Pairs with the
	 * CAS in filch__deque_steal. */
	int64_t t = filch__load(&d->top, acquire);

	d->top_seen = t;
	if (b - t <= a->mask)
		return 0; /* thieves made room */
	return deque_grow(d, a, t, b);
}

int filch__deque_push_grow(struct filch__deque *d, void *item)
{
	int64_t b = filch__load(&d->bottom, relaxed); /* owner's own */
	struct filch__deque_buf *a = filch__load(&d->buf, relaxed);
	int err = make_room(d);

	if (err)
		return err;
#if FILCH_DEQUE_MUTANT != 2
	/* Write to the buffer that make_room may have replaced: the reload
	 * missing from Le et al.'s published listing. */
	a = filch__load(&d->buf, relaxed);
#endif
	filch__deque_put(d, a, b, item);
	return 0;
}

enum filch__steal filch__deque_steal(struct filch__deque *d, void **item)
{
	struct filch__deque_buf *a;
	int64_t t, b;
	void *x;

	rcu_read_lock();
	/* top (acquire), a seq_cst fence, then bottom. Pairs with the fence
	 * after the lowered bottom in filch__deque_pop (Dekker): a pop that
	 * took index b without CAS makes steal see bottom <= b here. The
	 * acquire pairs with the CAS that wrote top, placing it before this
	 * fence in S (case A at the top of this file). */
	t = filch__load_then_fence(&d->top);
	FILCH__PERTURB();
	/* Acquire (seq_cst under TSan): pairs with the release stores of
	 * bottom in filch__deque_push and filch__deque_pop, so the slots
	 * below b and the buffer holding them are visible. */
	b = filch__load_after_fence(&d->bottom);
	if (t >= b) {
		rcu_read_unlock();
		return FILCH__STEAL_EMPTY;
	}
	/* Acquire: pairs with the release store in deque_grow, so a new
	 * buffer is read with its copied slots. */
	a = filch__load(&d->buf, acquire);
#if FILCH_DEQUE_MUTANT == 3
	/* Mutant: the slot is read after the CAS, when the owner may have
	 * reused it for index t + capacity. */
	if (!filch__cas(&d->top, &t, t + 1, seq_cst, relaxed)) {
		rcu_read_unlock();
		return FILCH__STEAL_RETRY;
	}
	FILCH__PERTURB();
	x = filch__load(&a->slot[t & a->mask], relaxed);
	filch__tsan_release(a);
	rcu_read_unlock();
#else
	/* Relaxed: ordered before the CAS below by program order and the
	 * CAS's release half (case B). */
	x = filch__load(&a->slot[t & a->mask], relaxed);
	/* This thread's reads of a happen before its free (TSan cannot see
	 * the grace period; see deque_buf_free_rcu). */
	filch__tsan_release(a);
	rcu_read_unlock();
	FILCH__PERTURB();
	/* seq_cst: one winner for index t among thieves and the owner's CAS
	 * in filch__deque_take_last. Release: pairs with the acquire reads
	 * of top in make_room, filch__deque_pop and the failed
	 * CAS of filch__deque_take_last (slot reuse, case B). */
	if (!filch__cas(&d->top, &t, t + 1, seq_cst, relaxed))
		return FILCH__STEAL_RETRY;
#endif
	*item = x;
	return FILCH__STEAL_OK;
}
