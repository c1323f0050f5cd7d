/* SPDX-License-Identifier: MIT */
/*
 * waitset.c - filch_wait and the as_completed iterator: completion callbacks
 * push onto a lock-free list and wake one waiter through a futex word;
 * nothing polls the futures. filch_wait reorders the caller's array by the
 * completions so recorded, without reading the other futures.
 *
 * Both objects are shared between one waiter (the caller) and the completion
 * callbacks they register, which may run after the waiter returned (a
 * timeout) or gave up (as_completed_end). So each record is reference
 * counted: one reference for the waiter and one per registered callback; the
 * last to drop it frees it. docs/design.md ("wait, as_completed, map") has
 * the protocol and the memory-order table.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include <filch.h>

#include "alloc.h"
#include "atomic.h"
#include "future.h"
#include "futex.h"
#include "perturb.h"
#include "sched.h"

/* ------------------------------------------------------------------ */
/* The wake word: many notifiers, one waiter                            */
/* ------------------------------------------------------------------ */

/*
 * struct cf_signal.word - whether the one waiter must look again.
 *
 *   SIG_IDLE      no notification pending and the waiter is not asleep.
 *   SIG_SLEEPING  the waiter is asleep on the word, or about to be.
 *   SIG_NOTIFIED  something the waiter watches changed since it last looked.
 *
 * Writers and transitions:
 *   waiter     IDLE -> SLEEPING (CAS, before futex_wait)
 *              any -> IDLE (exchange: consumes a notification)
 *   notifiers  any -> NOTIFIED (exchange, skipped when the word already
 *              reads NOTIFIED: see cf_signal_notify); a notifier that
 *              replaced SLEEPING makes the futex_wake call.
 *
 * Protocol: a notifier first publishes its change (a count, a list push),
 * then exchanges NOTIFIED in. The waiter checks its condition, and only if
 * it is not met tries IDLE -> SLEEPING. Both RMWs act on the one word, so
 * they are totally ordered: either the notifier's exchange comes first (the
 * waiter's CAS fails, it consumes NOTIFIED and looks again) or the waiter's
 * CAS comes first (the notifier sees SLEEPING and wakes it; futex_wait, which
 * compares the word with SLEEPING in the kernel, cannot miss that). No
 * wake-up is lost and a notifier pays the futex syscall only when the waiter
 * really sleeps.
 */
enum { SIG_IDLE = 0, SIG_SLEEPING = 1, SIG_NOTIFIED = 2 };

struct cf_signal {
	_Atomic uint32_t word;
};

/* Looks this many times before sleeping, yielding the CPU between looks: a
 * completion that is about to happen is then seen without a futex round
 * trip, and a worker that shares this CPU (more threads than CPUs: a
 * consumer beside as many workers as CPUs) runs meanwhile instead of being
 * held off by a spin; with nothing else runnable a yield returns at once.
 * filch-bench --only as_completed --impls filch, 2 workers on 2 CPUs,
 * builds interleaved: 79-82 ns per future against 97-115 with 128 pauses
 * (1 worker: the same, 81-84 ns). */
#define CF_SPIN 16

/*
 * Notifies after the caller published its change with a seq_cst RMW (the
 * as_completed push) or when any notification suffices (filch_wait: every
 * notification means "satisfied"). A notification still pending covers
 * this one, so then no RMW is made: the usual case while the waiter is busy
 * with earlier completions. Why that is safe: all of the change, the load
 * below, the waiter's consuming exchange and its next look at its condition
 * are seq_cst. The load reading NOTIFIED places it before the consuming
 * exchange in the single total order, so the change precedes the waiter's
 * next look, which therefore sees it.
 */
static void cf_signal_notify(struct cf_signal *s)
{
	FILCH__PERTURB();
	/* seq_cst: see above; pairs with the exchange in cf_signal_consume. */
	if (filch__load(&s->word, seq_cst) == SIG_NOTIFIED)
		return;
	/* seq_cst (release is the part needed when the load saw IDLE or
	 * SLEEPING): the change before NOTIFIED, read by the exchange of
	 * cf_signal_consume or the failed CAS of cf_signal_wait. */
	if (filch__xchg(&s->word, SIG_NOTIFIED, seq_cst) == SIG_SLEEPING)
		filch__futex_wake(&s->word, 1);
}

/* True when a notification was pending (now consumed). */
static bool cf_signal_consume(struct cf_signal *s)
{
	if (filch__load(&s->word, relaxed) != SIG_NOTIFIED)
		return false;
	/* seq_cst: pairs with the release exchange and with the seq_cst load
	 * in cf_signal_notify (see there), so the notifier's change is
	 * visible when the waiter looks again. */
	return filch__xchg(&s->word, SIG_IDLE, seq_cst) == SIG_NOTIFIED;
}

/*
 * Waits for a notification until deadline. Returns 0 once one was consumed
 * (the caller then re-checks its condition), -ETIMEDOUT at the deadline,
 * or -EAGAIN when the caller is a worker that would sleep without a
 * deadline and no spare could stand in for it. Runs no task: a worker
 * sleeps with a spare in its place (spare.c).
 */
static int cf_signal_wait(struct cf_signal *s, int64_t deadline)
{
	bool blocked = false;
	int rc = 0;

	if (deadline != FILCH__NO_DEADLINE && filch__now_ns() >= deadline)
		return cf_signal_consume(s) ? 0 : -ETIMEDOUT;
	/* Callbacks this thread deferred may be the ones we wait for. */
	filch__future_run_deferred();
	/* The deadline is looked at between yields: on a loaded machine a
	 * yield may cost a whole time slice of another thread. */
	for (int i = 0; i < CF_SPIN && filch__now_ns() < deadline; i++) {
		if (cf_signal_consume(s))
			return 0;
		sched_yield();
	}
	for (;;) {
		if (cf_signal_consume(s))
			break;
		if (filch__now_ns() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		if (!blocked) {
			if ((rc = filch__block_begin(deadline == FILCH__NO_DEADLINE)))
				break;
			blocked = true;
		}
		uint32_t idle = SIG_IDLE;
		/* relaxed: nothing is published by going to sleep; a failure
		 * means NOTIFIED, consumed (seq_cst) at the loop top. */
		if (!filch__cas(&s->word, &idle, SIG_SLEEPING, relaxed, relaxed))
			continue; /* NOTIFIED: consume it at the loop top */
		filch__futex_wait(&s->word, SIG_SLEEPING, deadline);
		/* seq_cst: as in cf_signal_consume. */
		if (filch__xchg(&s->word, SIG_IDLE, seq_cst) == SIG_NOTIFIED)
			break;
	}
	if (blocked)
		filch__block_end();
	return rc;
}

/* Drops one reference of a record counted in *refs; true for the last. */
static bool cf_put(_Atomic uint32_t *refs)
{
	/* acq_rel: every holder's last accesses to the record before the
	 * free by whoever drops the last reference (release by each dropper,
	 * acquire by the last). Pairs with itself across holders. */
	return filch__sub(refs, 1, acq_rel) == 1;
}

/* True when f is done and finished with an error (not cancelled). */
static bool future_failed(filch_future *f)
{
	/* acquire: f->code is written before the final phase; pairs with the
	 * release exchange of filch__future_finish and settle. */
	uint32_t state = filch__load(&f->state, acquire);
	return (state & FILCH__FS_PHASE) == FILCH_FINISHED && f->code != 0;
}

/* ------------------------------------------------------------------ */
/* Duplicates in an input array                                        */
/* ------------------------------------------------------------------ */

/* Positions a table for n entries may hold: a power of two, at least 2n. */
static size_t dup_capacity(size_t n)
{
	size_t cap = 8;

	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

/* The tables whose capacity is at most this live on the caller's stack. */
#define DUP_STACK_CAP 64

/*
 * An open-addressing table of positions in fs (each stored plus one; 0 is
 * an empty slot), cap = mask + 1 a power of two at least twice the
 * positions inserted: returns the first position of the future fs[i],
 * which is i (now inserted) when no earlier position holds it. Needs
 * i < UINT32_MAX.
 */
static size_t first_position(uint32_t *set, size_t mask,
			     filch_future *const *fs, size_t i)
{
	uintptr_t h = (uintptr_t)fs[i];
	h ^= h >> 17;
	h *= (uintptr_t)0x9e3779b97f4a7c15ull;
	for (size_t s = (size_t)(h >> 7) & mask;; s = (s + 1) & mask) {
		if (!set[s]) {
			set[s] = (uint32_t)i + 1;
			return i;
		}
		if (fs[set[s] - 1] == fs[i])
			return set[s] - 1;
	}
}

/* ------------------------------------------------------------------ */
/* filch_wait                                                          */
/* ------------------------------------------------------------------ */

/*
 * One node per entry of fs: fs[i] has nodes[i]. A future listed several
 * times has one callback, on the node of its first entry: the others
 * follow it (wait_take), so that all its entries fall on one side. Until
 * its callback runs the node is on its future's callback list (u.cb); the
 * callback then reuses it (future.h allows that) to push it on the
 * record's done stack (u.done). The waiter lists the nodes it counted done
 * through u.done too.
 */
struct wait_node {
	union {
		struct filch__callback cb;
		struct {
			struct wait_node *next; /* the one pushed before */
			filch_future *f;	/* fs[index], kept by
						   gather_done */
		} done;
	} u;
	/* of the entry in fs; until wait_take, of the future's first entry
	 * (so equal to the node's own position only there) */
	uint32_t index;
	uint32_t depth; /* nodes on the stack with this one on top */
};

struct wait_rec {
	struct cf_signal sig;
	/* waiter + registered callbacks not yet through with the record */
	_Atomic uint32_t refs;
	/*
	 * done: a Treiber stack of the nodes whose future completed, newest
	 * first, or WAIT_CLOSED.
	 *   NULL or node -> node'   a callback pushes (CAS); node'->depth is
	 *                           one more than the node below it, so the
	 *                           top's depth counts the completions
	 *   any -> WAIT_CLOSED      the waiter, as it returns (exchange);
	 *                           final: later callbacks push nothing
	 * Nothing is popped, so there is no ABA.
	 */
	struct wait_node *_Atomic done;
	uint32_t distinct; /* futures in fs, each counted once */
	/* set before the notification that means "mode holds"; other
	 * notifications are the pre-wake hint (wait_on_done) */
	_Atomic bool satisfied;
	uint8_t mode;
	bool block; /* from filch__block_alloc, else filch__malloc */
	struct wait_node nodes[];
};

/* The value of `done` once the waiter returned (never a real node). */
static struct wait_node wait_closed;
#define WAIT_CLOSED (&wait_closed)

/* Each time the completions still missing (of more) fall to a power of two
 * no greater than this, the waiter is woken early and spins for the rest,
 * up to WAIT_PREWAKE_SPIN_NS: the last completion of a big set then finds
 * it awake instead of paying a futex wake-up (20-50 us on a virtual
 * machine). Several hints, not one: one hint at 32 left came too late for
 * tasks of 100 ns (the rest were done before the waiter was), and one at
 * 4096 left would be too early for tasks of a millisecond. */
#define WAIT_PREWAKE_LEFT 4096
#define WAIT_PREWAKE_SPIN_NS 200000

/* Records for up to this many futures come from the calling thread's
 * task-record slab: no malloc for small sets. */
#define WAIT_BLOCK_NODES \
	((FILCH__BLOCK_SIZE - sizeof(struct wait_rec)) / sizeof(struct wait_node))
_Static_assert(WAIT_BLOCK_NODES == 4, "filch.h: no allocation for up to 4");

static void wait_put(struct wait_rec *w)
{
	if (!cf_put(&w->refs))
		return;
	if (w->block)
		filch__block_free(w);
	else
		filch__free(w);
}

/* Records the completion of node's future on the done stack, then tells
 * the waiter if the mode now holds (or gives it a pre-wake hint). */
static void wait_on_done(struct filch__callback *cb, filch_future *f)
{
	struct wait_node *node =
		filch__container_of(cb, struct wait_node, u.cb);
	struct wait_rec *w = filch__container_of(node - node->index,
						 struct wait_rec, nodes);
	/* acquire (also on CAS failure): head->depth below; pairs with the
	 * release CAS of the callback that pushed head. */
	struct wait_node *head = filch__load(&w->done, acquire);
	uint32_t depth;
	do {
		if (head == WAIT_CLOSED) {
			wait_put(w); /* the waiter returned: nobody looks */
			return;
		}
		depth = head ? head->depth + 1 : 1;
		node->u.done.next = head;
		node->depth = depth;
	/* release: next and depth, and this callback's view of its done
	 * future, before the node is on the stack; pairs with the acquire
	 * exchange in wait_take and the acquire loads of later pushers. The
	 * pushes are RMWs of one word, so the exchange that takes the top
	 * node sees every node below it (release sequence). */
	} while (!filch__cas_weak(&w->done, &head, node, release, acquire));

	/* node is the waiter's now (wait_take): not touched again. */
	uint32_t left = w->distinct - depth;
	bool satisfied = w->mode == FILCH_FIRST_COMPLETED || left == 0 ||
			 (w->mode == FILCH_FIRST_EXCEPTION && future_failed(f));
	if (satisfied) {
		/* seq_cst: this is the "change" of cf_signal_notify's
		 * shortcut (a pending pre-wake hint may make the notify below
		 * a no-op), read by wait_block's seq_cst loads after its
		 * consuming exchange; as a release it also orders the push
		 * above before wait_block's return, so that wait_take finds
		 * the node. */
		filch__store(&w->satisfied, true, seq_cst);
		cf_signal_notify(&w->sig);
	} else if (left <= WAIT_PREWAKE_LEFT && (left & (left - 1)) == 0) {
		cf_signal_notify(&w->sig); /* a hint */
	}
	wait_put(w);
}

static void reverse(filch_future **a, size_t n)
{
	for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
		filch_future *t = a[i];
		a[i] = a[j - 1];
		a[j - 1] = t;
	}
}

/*
 * Stable partition of fs[0..n) into done, then not done, by reading the
 * futures' states; returns the number done. For the waits that register
 * nothing (the mode holds at the call, or a poll). Each entry's state is
 * read exactly once (at a leaf), so the count matches the order even while
 * futures complete (two entries of a future that completes between their
 * reads land on both sides: there is no table of duplicates here). In
 * place, no allocation: O(n log n) moves at worst, none when fs is already
 * partitioned.
 */
static size_t partition_done(filch_future **fs, size_t n)
{
	if (n == 1)
		return filch_future_done(fs[0]);
	size_t half = n / 2;
	size_t a = partition_done(fs, half);
	size_t b = partition_done(fs + half, n - half);
	/* fs = [done a][not done half-a][done b][not done]: swap the middle
	 * two blocks by three reversals. */
	if (a < half && b > 0) {
		reverse(fs + a, half - a);
		reverse(fs + half, b);
		reverse(fs + a, half - a + b);
	}
	return a + b;
}

/* Merges two lists of done nodes, each by descending index. */
static struct wait_node *merge_desc(struct wait_node *a, struct wait_node *b)
{
	struct wait_node *head, **tail = &head;

	while (a && b) {
		struct wait_node **from = a->index > b->index ? &a : &b;
		*tail = *from;
		tail = &(*from)->u.done.next;
		*from = *tail;
	}
	*tail = a ? a : b;
	return head;
}

/* Sorts the first len (> 0) nodes of the list *rest by descending index:
 * returns them and leaves *rest at the node after them. O(len log len). */
static struct wait_node *sort_desc(struct wait_node **rest, size_t len)
{
	if (len == 1) {
		struct wait_node *one = *rest;
		*rest = one->u.done.next;
		one->u.done.next = NULL;
		return one;
	}
	struct wait_node *a = sort_desc(rest, len / 2);
	return merge_desc(a, sort_desc(rest, len - len / 2));
}

/*
 * Stable partition of fs when its done entries are exactly those of the
 * list `done` (m nodes, by descending index): they go to fs[0..m) and the
 * others after them, each part in input order. Only what must move moves:
 * the m done entries, and each run of not-done entries before the last
 * done one, shifted right by the number of done entries after it (one
 * memmove per run, from the right). The entries after the last done one
 * stay, so this is O(m + i) for a last done index i; no stable partition
 * in place can do less, since every not-done entry before i changes place.
 */
static void gather_done(filch_future **fs, struct wait_node *done, size_t m)
{
	size_t after = 0; /* done entries right of the current run */

	for (struct wait_node *d = done; d; d = d->u.done.next) {
		struct wait_node *below = d->u.done.next;
		size_t lo = below ? below->index + 1 : 0;

		/* Keep fs[d->index] before the run overwrites it. */
		d->u.done.f = fs[d->index];
		after++;
		memmove(fs + lo + after, fs + lo,
			(d->index - lo) * sizeof(*fs));
	}
	for (struct wait_node *d = done; d; d = d->u.done.next)
		fs[--after] = d->u.done.f;
}

/* No further entry of the same future (wait_registered's `later`). */
#define WAIT_NO_LATER UINT32_MAX

/* Closes w's done stack and partitions fs by what it holds: every future
 * done at registration (its callback ran at once) and every completion
 * recorded since, each with all its entries (later[i]: the next entry of
 * fs[i]'s future). Returns the number of entries counted done, m: O(m log
 * m), plus the moves of gather_done; never reads the other futures. */
static size_t wait_take(struct wait_rec *w, filch_future **fs, size_t n,
			const uint32_t *later)
{
	/* acquire: pairs with the release CAS of every push (see
	 * wait_on_done): the nodes' links, depths and indices. Callbacks that
	 * find WAIT_CLOSED afterwards push nothing. */
	struct wait_node *top = filch__xchg(&w->done, WAIT_CLOSED, acquire);
	struct wait_node *list = NULL;
	size_t m = 0;

	if (!top)
		return 0;
	if (top->depth == w->distinct)
		return n; /* every entry done: fs is its own partition */
	/* The pushed nodes and the nodes of their futures' other entries
	 * (never registered: only the waiter touches them). */
	for (struct wait_node *d = top, *below; d; d = below) {
		below = d->u.done.next;
		for (uint32_t i = d->index; i != WAIT_NO_LATER; i = later[i]) {
			w->nodes[i].index = i;
			w->nodes[i].u.done.next = list;
			list = &w->nodes[i];
			m++;
		}
	}
	gather_done(fs, sort_desc(&list, m), m);
	return m;
}

/* Sleeps until w's mode holds or the deadline: 0, -ETIMEDOUT or -EAGAIN
 * (cf_signal_wait). After the pre-wake hint it spins for the last
 * completions before sleeping again. */
static int wait_block(struct wait_rec *w, int64_t deadline)
{
	int rc;

	while ((rc = cf_signal_wait(&w->sig, deadline)) == 0) {
		/* seq_cst: pairs with the seq_cst store in wait_on_done (see
		 * there and cf_signal_notify). */
		if (filch__load(&w->satisfied, seq_cst))
			return 0;
		int64_t until = filch__now_ns() + WAIT_PREWAKE_SPIN_NS;
		if (until > deadline)
			until = deadline;
		do {
			for (int i = 0; i < 64; i++) {
				/* seq_cst: as above. */
				if (filch__load(&w->satisfied, seq_cst))
					return 0;
				filch__cpu_relax();
			}
		} while (filch__now_ns() < until);
	}
	return rc;
}

/* Whether mode holds for fs whose first ndone entries are done. */
static bool wait_satisfied(filch_future **fs, size_t n, size_t ndone, int mode)
{
	if (ndone == n)
		return true;
	if (mode == FILCH_FIRST_COMPLETED)
		return ndone > 0;
	if (mode == FILCH_FIRST_EXCEPTION)
		for (size_t i = 0; i < ndone; i++)
			if (future_failed(fs[i]))
				return true;
	return false;
}

/* Whether mode holds for fs as they are now; reads states, moves nothing
 * (fs is reordered once, on return). */
static bool wait_holds_now(filch_future **fs, size_t n, int mode)
{
	size_t done = 0;

	for (size_t i = 0; i < n; i++) {
		if (!filch_future_done(fs[i])) {
			if (mode == FILCH_ALL_COMPLETED)
				return false;
			continue;
		}
		if (mode == FILCH_FIRST_COMPLETED ||
		    (mode == FILCH_FIRST_EXCEPTION && future_failed(fs[i])))
			return true;
		done++;
	}
	return done == n;
}

/*
 * The wait proper, when mode does not hold at the call: registers a
 * callback on every future (those done since run at once and count),
 * sleeps until the mode holds or the deadline, then partitions fs by the
 * recorded completions. Returns 0, -ETIMEDOUT or -EAGAIN with *ndone (the
 * caller decides by the partition), or -ENOMEM with fs untouched.
 */
static int wait_registered(filch_future **fs, size_t n, int64_t deadline,
			   int mode, size_t *ndone)
{
	/* The waiter's own: the duplicates table (while registering), then
	 * later[i], the next entry of fs[i]'s future; on the stack for small
	 * inputs. */
	uint32_t small[DUP_STACK_CAP + DUP_STACK_CAP / 2] = {0};
	size_t cap = dup_capacity(n);
	uint32_t *set = small;
	bool block = n <= WAIT_BLOCK_NODES;
	struct wait_rec *w;

	if (cap > DUP_STACK_CAP)
		set = filch__calloc(cap + n, sizeof(*set));
	if (block)
		w = filch__block_alloc();
	else
		w = filch__malloc(sizeof(*w) + n * sizeof(struct wait_node));
	if (!set || !w) {
		if (set != small)
			filch__free(set);
		if (w && block)
			filch__block_free(w);
		else
			filch__free(w);
		return -ENOMEM;
	}
	uint32_t *later = set + cap, distinct = 0;
	/* Each entry's future once: nodes[i].index is the first entry of
	 * fs[i]'s future, whose node alone gets a callback; the other
	 * entries are chained from it through later[]. */
	for (size_t i = 0; i < n; i++) {
		size_t first = first_position(set, cap - 1, fs, i);

		w->nodes[i].index = (uint32_t)first;
		later[i] = WAIT_NO_LATER;
		if (first == i) {
			distinct++;
		} else {
			later[i] = later[first];
			later[first] = (uint32_t)i;
		}
	}
	filch__store(&w->sig.word, SIG_IDLE, relaxed);
	filch__store(&w->refs, distinct + 1, relaxed);
	filch__store(&w->done, NULL, relaxed);
	filch__store(&w->satisfied, false, relaxed);
	w->distinct = distinct;
	w->mode = (uint8_t)mode;
	w->block = block;
	/*
	 * FIRST_COMPLETED stops adding once a node reported the mode as
	 * holding: with many futures, registering them all would delay the
	 * return by milliseconds after the first completion. None of the
	 * unregistered ones was done at the call (the mode would have held),
	 * so none done before the call goes unreported. FIRST_EXCEPTION
	 * cannot stop: a future done before the call may lie further on.
	 */
	uint32_t registered = 0;
	for (size_t i = 0; i < n; i++) {
		if (w->nodes[i].index != i)
			continue; /* a later entry of a future seen before */
		/* relaxed: only a hint to stop early; wait_block's seq_cst
		 * load decides. */
		if (mode == FILCH_FIRST_COMPLETED &&
		    filch__load(&w->satisfied, relaxed))
			break;
		w->nodes[i].u.cb.fn = wait_on_done;
		filch__future_add_callback(fs[i], &w->nodes[i].u.cb);
		registered++;
	}
	/* The references of callbacks never added; relaxed: the waiter's own
	 * reference keeps the record alive, and its wait_put releases. */
	if (registered < distinct)
		filch__sub(&w->refs, distinct - registered, relaxed);
	int rc = wait_block(w, deadline);
	*ndone = wait_take(w, fs, n, later);
	wait_put(w);
	if (set != small)
		filch__free(set);
	return rc;
}

FILCH_API int filch_wait(filch_future **fs, size_t n, int64_t timeout_ns,
			 int mode, size_t *ndone)
{
	size_t done;
	int rc = -ETIMEDOUT; /* when mode does not hold at the end */

	if (mode != FILCH_FIRST_COMPLETED && mode != FILCH_FIRST_EXCEPTION &&
	    mode != FILCH_ALL_COMPLETED)
		return -EINVAL;
	if (n == 0) {
		if (ndone)
			*ndone = 0;
		return 0;
	}
	if (!fs || n >= UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fs[i])
			return -EINVAL;

	int64_t deadline = filch__deadline(timeout_ns);
	if (wait_holds_now(fs, n, mode) || filch__timeout_polls(timeout_ns)) {
		done = partition_done(fs, n);
		goto report;
	}
	/* Without a timeout, ALL_COMPLETED depends on every one of them: on a
	 * worker, run here the tasks of its own executor that nobody started
	 * (future.c's filch__future_run_here). Not the FIRST_* modes: a task
	 * run here could wait for what the caller does once the first one
	 * completes. */
	if (mode == FILCH_ALL_COMPLETED && deadline == FILCH__NO_DEADLINE &&
	    filch__self_executor()) {
		bool ran = false;

		for (size_t i = 0; i < n; i++)
			ran |= filch__future_run_here(fs[i]);
		if (ran && wait_holds_now(fs, n, mode)) {
			done = n; /* all done: fs is its own partition */
			goto report;
		}
	}
	rc = wait_registered(fs, n, deadline, mode, &done);
	if (rc == -ENOMEM)
		return rc;
	if (rc == 0)
		rc = -ETIMEDOUT; /* the partition below decides */
report:
	if (ndone)
		*ndone = done;
	return wait_satisfied(fs, n, done, mode) ? 0 : rc;
}

/* ------------------------------------------------------------------ */
/* as_completed                                                        */
/* ------------------------------------------------------------------ */

struct ac_node {
	struct filch__callback cb; /* on the future's callback list */
	struct ac_node *next; /* in the done stack or the ready list */
	filch_future *f;      /* a reference held by the iterator */
	filch_as_completed *it;
	uint32_t index; /* of f's first occurrence in fs */
};

struct filch_as_completed {
	/* Written by completion callbacks. */
	struct cf_signal sig;
	/*
	 * refs: the iterator's reference, plus one per registered callback
	 * until that callback is through with the record. A callback that
	 * pushed onto an empty stack (the bottom node of a batch) notifies
	 * and then drops its own; a callback that pushed onto a non-empty one
	 * touches nothing after its CAS, and the iterator drops its reference
	 * when it takes the node's batch (ac_take_batch); a callback that
	 * finds the stack closed drops its own. The last drop frees.
	 */
	_Atomic uint32_t refs;
	/*
	 * done: a Treiber stack of nodes whose future completed, newest
	 * first, or AC_CLOSED.
	 *   NULL      -> node      a callback pushes (CAS)
	 *   node      -> node'     a callback pushes on top (CAS)
	 *   any       -> NULL      the iterator takes the whole stack
	 *                          (exchange), so no node is ever popped
	 *                          alone and ABA cannot arise
	 *   any       -> AC_CLOSED filch_as_completed_end (exchange); final
	 */
	struct ac_node *_Atomic done;

	/* Private to the iterating thread, on their own cache line. */
	_Alignas(FILCH_CACHELINE) struct ac_node *ready; /* FIFO to yield */
	struct ac_node **ready_tail;
	size_t unique; /* distinct futures */
	size_t yielded;
	int64_t deadline;
	bool over;
	struct ac_node nodes[];
};

/* The value of `done` once the iterator ended (never a real node). */
static struct ac_node ac_closed;
#define AC_CLOSED (&ac_closed)

static void ac_put(filch_as_completed *it)
{
	if (cf_put(&it->refs))
		filch__free(it);
}

/*
 * Pushes the node of a completed future. Only the callback that finds the
 * stack empty notifies: while the stack is not empty, the callback that
 * made it so has notified or will (after its push), and the iterator takes
 * the whole stack when it looks, so a notification per batch suffices; the
 * others make one CAS and return (as_completed at 2 workers: the wake word
 * and the reference count were two more contended RMWs per completion).
 */
static void ac_on_done(struct filch__callback *cb, filch_future *f)
{
	struct ac_node *node = filch__container_of(cb, struct ac_node, cb);
	filch_as_completed *it = node->it;
	struct ac_node *head = filch__load(&it->done, relaxed);

	(void)f;
	do {
		if (head == AC_CLOSED) {
			ac_put(it); /* the iterator ended: nobody takes nodes */
			return;
		}
		node->next = head;
	/* seq_cst (release is what the list needs): node->next, the future's
	 * completion seen by this callback, and every earlier access of this
	 * callback to the record before the node is reachable; pairs with the
	 * exchange in ac_take_batch, after which the iterator may drop this
	 * callback's reference. seq_cst for cf_signal_notify's
	 * pending-notification shortcut. relaxed on failure: head reloaded. */
	} while (!filch__cas_weak(&it->done, &head, node, seq_cst, relaxed));
	if (head)
		return; /* not the bottom: it and node are not ours any more */
	cf_signal_notify(&it->sig);
	ac_put(it);
}

static void ac_append(filch_as_completed *it, struct ac_node *node)
{
	node->next = NULL;
	*it->ready_tail = node;
	it->ready_tail = &node->next;
}

/* Reverses a batch taken from `done` (newest first) into completion
 * order, setting *last to its newest node, and drops the references of its
 * callbacks but the bottom one's (see refs). */
static struct ac_node *ac_take_batch(filch_as_completed *it,
				     struct ac_node *stack, struct ac_node **last)
{
	struct ac_node *fifo = NULL;
	uint32_t count = 0;

	*last = stack;
	while (stack) {
		struct ac_node *next = stack->next;
		stack->next = fifo;
		fifo = stack;
		stack = next;
		count++;
	}
	/* relaxed: the iterator's own reference keeps the record alive, and
	 * its final ac_put releases; the pushers' accesses reached us through
	 * the exchange that took the batch. */
	if (count > 1)
		filch__sub(&it->refs, count - 1, relaxed);
	return fifo;
}

/* Moves every completed node to the ready list, oldest completion first. */
static bool ac_take_done(filch_as_completed *it)
{
	/* seq_cst: the look after a consumed notification (see
	 * cf_signal_notify) must see every push ordered before it. */
	if (!filch__load(&it->done, seq_cst))
		return false;
	/* seq_cst (acquire is what the list needs): pairs with the CAS in
	 * ac_on_done: each node's next link is visible, and each pusher is
	 * through with the record. */
	struct ac_node *stack = filch__xchg(&it->done, NULL, seq_cst);
	struct ac_node *newest;
	*it->ready_tail = ac_take_batch(it, stack, &newest);
	it->ready_tail = &newest->next;
	return true;
}

FILCH_API int filch_as_completed_begin(filch_as_completed **itp,
				       filch_future *const *fs, size_t n,
				       int64_t timeout_ns)
{
	if (!itp || (n && !fs) || n > UINT32_MAX / 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fs[i])
			return -EINVAL;

	/* The deduplication table: on the stack for small inputs. */
	uint32_t small_set[DUP_STACK_CAP] = {0};
	size_t cap = dup_capacity(n);
	uint32_t *set = small_set;
	if (cap > DUP_STACK_CAP)
		set = filch__calloc(cap, sizeof(*set));
	size_t size = sizeof(filch_as_completed) + n * sizeof(struct ac_node);
	size = (size + FILCH_CACHELINE - 1) & ~(size_t)(FILCH_CACHELINE - 1);
	filch_as_completed *it = filch__aligned_alloc(FILCH_CACHELINE, size);
	if (!set || !it) {
		if (set != small_set)
			filch__free(set);
		filch__free(it);
		return -ENOMEM;
	}
	filch__store(&it->sig.word, SIG_IDLE, relaxed);
	filch__store(&it->done, NULL, relaxed);
	it->ready = NULL;
	it->ready_tail = &it->ready;
	it->unique = 0;
	it->yielded = 0;
	it->deadline = filch__deadline(timeout_ns);
	it->over = false;
	/* One reference for the iterator and one per callback about to be
	 * added; the unused ones are dropped below. Relaxed: not shared yet. */
	filch__store(&it->refs, (uint32_t)(n + 1), relaxed);

	size_t registered = 0;
	for (size_t i = 0; i < n; i++) {
		if (first_position(set, cap - 1, fs, i) != i)
			continue;
		struct ac_node *node = &it->nodes[it->unique++];
		node->f = filch_future_retain(fs[i]);
		node->it = it;
		node->index = (uint32_t)i;
		if (filch_future_done(node->f)) {
			ac_append(it, node);
			continue;
		}
		node->cb.fn = ac_on_done;
		filch__future_add_callback(node->f, &node->cb);
		registered++;
	}
	if (set != small_set)
		filch__free(set);
	/* Drop the references reserved for callbacks never added; relaxed:
	 * the iterator's own reference keeps the record alive. */
	filch__sub(&it->refs, (uint32_t)(n - registered), relaxed);
	*itp = it;
	return 0;
}

/* The next node to yield, or FILCH_END, -ETIMEDOUT or -EAGAIN (then the
 * iteration is over). */
static int ac_next(filch_as_completed *it, struct ac_node **out)
{
	if (it->over)
		return FILCH_END;
	if (it->yielded == it->unique) {
		it->over = true;
		return FILCH_END;
	}
	while (!it->ready && !ac_take_done(it)) {
		int rc = cf_signal_wait(&it->sig, it->deadline);

		if (rc != 0 && !ac_take_done(it)) {
			it->over = true;
			return rc;
		}
	}
	struct ac_node *node = it->ready;
	it->ready = node->next;
	if (!it->ready)
		it->ready_tail = &it->ready;
	it->yielded++;
	*out = node;
	return 0;
}

FILCH_API int filch_as_completed_next(filch_as_completed *it, filch_future **f)
{
	struct ac_node *node;

	if (!it || !f)
		return -EINVAL;
	int rc = ac_next(it, &node);
	if (rc == 0)
		*f = node->f;
	return rc;
}

FILCH_API int filch_as_completed_next_index(filch_as_completed *it,
					    filch_future **f, size_t *index)
{
	struct ac_node *node;

	if (!it || !f || !index)
		return -EINVAL;
	int rc = ac_next(it, &node);
	if (rc == 0) {
		*f = node->f;
		*index = node->index;
	}
	return rc;
}

FILCH_API void filch_as_completed_end(filch_as_completed *it)
{
	struct ac_node *newest;

	if (!it)
		return;
	/* Close the stack; the batch still on it was never taken. acquire:
	 * as in ac_take_done, for the references dropped here. Callbacks that
	 * find AC_CLOSED need nothing from us: they only drop their own. */
	ac_take_batch(it, filch__xchg(&it->done, AC_CLOSED, acquire), &newest);
	for (size_t i = 0; i < it->unique; i++)
		filch_future_release(it->nodes[i].f);
	ac_put(it);
}
