/* SPDX-License-Identifier: MIT */
/*
 * port.c - the completion port: futures complete into a lock-free list and
 * wake an event loop through an eventfd, one write per wake-up.
 *
 * Design (docs/design.md, "Completion port", has the proof):
 *
 *  - Each filch_port_add takes a node {future, tag, port} from the
 *    task-record slab (no malloc in steady state) and hangs its embedded
 *    callback on the future (filch__future_add_callback: no allocation, no
 *    failure). The completing thread pushes the node onto `head`, a Treiber
 *    stack (multi-producer, single consumer), then signals the loop.
 *  - The loop drains: it resets the eventfd, re-arms `signal`, takes the
 *    whole stack with one exchange and reverses it into `ready`, a private
 *    FIFO, so that events come out in completion order (the order of the
 *    pushes in `head`'s modification order).
 *  - Coalescing: a completer writes the eventfd only when it moves `signal`
 *    from IDLE to SIGNALLED; while the loop has not drained since the last
 *    wake-up, completions cost one CAS on `head` and one load of `signal`.
 *  - Lifetime: the port is reference counted: one reference for the user's
 *    handle and one per added future whose callback has not finished. The
 *    eventfd and the memory go when the last one is dropped, so a future
 *    that completes after filch_port_destroy still finds a valid port.
 *
 * Synchronization table (which operations may run at the same time):
 *
 *	                add   on_done  drain  destroy
 *	add             yes   yes      yes    no
 *	on_done         yes   yes      yes    yes
 *	drain           yes   yes      no*    no
 *	destroy         no    yes      no     no
 *
 *	* an overlapping drain fails with -EAGAIN (the `draining` flag).
 */
#include "config.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <filch.h>

#include "alloc.h"
#include "atomic.h"
#include "future.h"
#include "perturb.h"
#include "sched.h"

/*
 * `signal` - whether a wake-up is pending on the eventfd.
 *
 *   PORT_IDLE       the loop has drained since the last wake-up: the next
 *                   completion must write the eventfd. Written (store) only
 *                   by port_refill, before it takes the stack. Initial value.
 *   PORT_SIGNALLED  a completer (or port_drain, for events it left queued)
 *                   has written the eventfd, or is about to: later completers
 *                   skip the write. Written (exchange) only by port_signal.
 *
 * Transitions: IDLE -> SIGNALLED by the exchange in port_signal (the thread
 * whose exchange returned IDLE then writes the eventfd exactly once);
 * SIGNALLED -> IDLE (or IDLE -> IDLE) by port_refill, after it has read the
 * eventfd and before it exchanges `head`.
 *
 * Invariant: every node in `head` is either taken by a refill whose exchange
 * of `head` follows its push, or the eventfd is (or is about to be) written
 * after the last refill's read of it; so the fd is readable, or will become
 * readable, while an event waits.
 */
enum { PORT_IDLE = 0, PORT_SIGNALLED = 1 };

/* One added future: a task-record block (sched.h), freed by whoever takes
 * it off the lists (drain, destroy, the last port_unref, or port_on_done
 * once the port is closed). */
struct port_node {
	struct filch__callback callback; /* on the future's list until done */
	struct port_node *next;		 /* in head, then in ready */
	filch_future *future;		 /* the port's reference */
	void *tag;
	struct filch_port *port;
};
_Static_assert(sizeof(struct port_node) <= FILCH__BLOCK_SIZE,
	       "a port node fits in one task-record block");

struct filch_port {
	/* Written by completers (any thread). */
	alignas(FILCH_CACHELINE) _Atomic(struct port_node *) head;
	_Atomic uint32_t signal;
	/* false until filch_port_destroy stores true; then completers release
	 * their future instead of queuing it. One-way. */
	_Atomic bool closed;
	/* 1 for the user's handle + 1 per added future whose port_on_done has
	 * not finished. The last decrement frees the port. */
	_Atomic size_t refs;
	int fd;

	/* The consumer's line: whoever holds `draining`. */
	alignas(FILCH_CACHELINE) _Atomic bool draining;
	struct port_node *ready; /* taken from head, oldest first */
};

static void port_release_list(struct port_node *node)
{
	while (node) {
		struct port_node *next = node->next;
		filch_future_release(node->future);
		filch__block_free(node);
		node = next;
	}
}

static void port_unref(struct filch_port *p)
{
	/* acq_rel: release orders this thread's pushes and uses of p before
	 * the free; acquire (in the thread that drops the last reference)
	 * makes every other thread's pushes visible to port_release_list below.
	 * Pairs with itself in other threads. */
	if (filch__sub(&p->refs, 1, acq_rel) != 1)
		return;
	/* filch_port_destroy has emptied p->ready. Relaxed: the acquire of
	 * the decrement above already ordered every push before this point. */
	port_release_list(filch__xchg(&p->head, NULL, relaxed));
	close(p->fd);
	filch__free(p);
}

/* Makes the fd readable unless a wake-up is already pending. */
static void port_signal(struct filch_port *p)
{
	/* Relaxed: a stale SIGNALLED cannot be read once a refill's IDLE
	 * happens-before this load (coherence; see port_push), and skipping
	 * needs no ordering. */
	if (filch__load(&p->signal, relaxed) == PORT_SIGNALLED)
		return;
	/* Acquire: pairs with the release store of IDLE in port_refill, so
	 * that the refill's read of the eventfd happens before our write: the
	 * write cannot be swallowed by that reset. */
	if (filch__xchg(&p->signal, PORT_SIGNALLED, acquire) == PORT_SIGNALLED)
		return;
	uint64_t one = 1;
	/* Cannot fail: the fd is open while p is referenced, and the counter
	 * stays far below its maximum (one write per re-arm). */
	ssize_t written = write(p->fd, &one, sizeof one);
	(void)written;
}

static void port_push(struct filch_port *p, struct port_node *node)
{
	struct port_node *old = filch__load(&p->head, relaxed);
	do {
		node->next = old;
		/* acq_rel on success. Release: node's fields before the node is
		 * reachable; pairs with the acquire of the exchange in
		 * port_refill (or port_unref, destroy). Acquire: pairs with the
		 * release of the exchange in port_refill, so that a refill
		 * whose exchange precedes this push has its IDLE store
		 * happen before our port_signal. Failure: relaxed, we retry
		 * with the value read. */
	} while (!filch__cas_weak(&p->head, &old, node, acq_rel, relaxed));
}

/* Called once per added future, in the thread that completed it (which
 * holds its own reference to f across the call), or in filch_port_add's
 * caller when f was already done. */
static void port_on_done(struct filch__callback *callback, filch_future *f)
{
	struct port_node *node =
	    filch__container_of(callback, struct port_node, callback);
	struct filch_port *p = node->port;

	/* Relaxed: a stale false only queues the event, which the last
	 * port_unref releases. */
	if (filch__load(&p->closed, relaxed)) {
		filch__block_free(node);
		filch_future_release(f);
	} else {
		port_push(p,
			  node); /* node may be drained and freed from here */
		FILCH__PERTURB();
		port_signal(p);
	}
	port_unref(p);
}

/* Resets the wake-up and moves every completed node into p->ready. Called
 * with `draining` held and p->ready empty. */
static void port_refill(struct filch_port *p)
{
	uint64_t count;
	/* EAGAIN when no write is pending: nothing to reset. */
	ssize_t got = read(p->fd, &count, sizeof count);
	(void)got;
	/* Release: orders the read of the eventfd above before IDLE is seen;
	 * pairs with the acquire exchange in port_signal. It is also ordered
	 * before our exchange of head, whose release makes it visible to
	 * every completer that pushes after it (see port_push). */
	filch__store(&p->signal, PORT_IDLE, release);
	FILCH__PERTURB();
	/* acq_rel. Acquire: pairs with the release of the CAS in port_push
	 * (the nodes' fields are visible). Release: pairs with the acquire of
	 * that CAS in pushes that follow, publishing the IDLE store above. */
	struct port_node *node = filch__xchg(&p->head, NULL, acq_rel);
	struct port_node *fifo = NULL;
	while (node) {
		struct port_node *next = node->next;
		node->next = fifo;
		fifo = node;
		node = next;
	}
	p->ready = fifo;
}

int filch_port_create(filch_port **p, unsigned flags)
{
	if (!p || flags)
		return -EINVAL;
	struct filch_port *port =
	    filch__aligned_alloc(FILCH_CACHELINE, sizeof(struct filch_port));
	if (!port)
		return -ENOMEM;
	port->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (port->fd < 0) {
		int err = -errno;
		filch__free(port);
		return err;
	}
	atomic_init(&port->head, NULL);
	atomic_init(&port->signal, PORT_IDLE);
	atomic_init(&port->closed, false);
	atomic_init(&port->refs, 1);
	atomic_init(&port->draining, false);
	port->ready = NULL;
	*p = port;
	return 0;
}

int filch_port_fd(const filch_port *p) { return p ? p->fd : -EINVAL; }

int filch_port_add(filch_port *p, filch_future *f, void *tag)
{
	if (!p || !f)
		return -EINVAL;
	struct port_node *node = filch__block_alloc();
	if (!node)
		return -ENOMEM;
	node->callback.fn = port_on_done;
	node->next = NULL;
	node->future = filch_future_retain(f);
	node->tag = tag;
	node->port = p;
	/* Relaxed: the caller's reference keeps p alive; the callback's
	 * decrement is ordered by port_unref. */
	filch__add(&p->refs, 1, relaxed);
	filch__future_add_callback(f, &node->callback);
	return 0;
}

int filch_port_drain(filch_port *p, struct filch_port_event *out, size_t cap,
		     size_t *n)
{
	if (!p || !n || (!out && cap))
		return -EINVAL;
	/* Acquire: pairs with the release store below in the previous drain,
	 * so that its writes to p->ready are visible here. */
	if (filch__xchg(&p->draining, true, acquire))
		return -EAGAIN; /* *n untouched, as every output on error */
	size_t got = 0;
	bool refilled = false;
	while (got < cap) {
		if (!p->ready) {
			/* At most one refill per call: bounded work even while
			 * completions keep coming. */
			if (refilled)
				break;
			port_refill(p);
			refilled = true;
			if (!p->ready)
				break;
		}
		struct port_node *node = p->ready;
		p->ready = node->next;
		out[got].future = node->future;
		out[got].tag = node->tag;
		got++;
		filch__block_free(node);
	}
	/* Events left for the next call: keep the fd readable for them. */
	if (p->ready)
		port_signal(p);
	/* Release: orders our use of p->ready before the next drain's
	 * acquire exchange above. */
	filch__store(&p->draining, false, release);
	*n = got;
	return 0;
}

void filch_port_destroy(filch_port *p)
{
	if (!p)
		return;
	/* Relaxed: completers that still read false queue their event, and
	 * the last port_unref releases it. */
	filch__store(&p->closed, true, relaxed);
	port_release_list(p->ready);
	p->ready = NULL;
	/* Acquire: pairs with the release of the CAS in port_push (the nodes'
	 * fields are visible). */
	port_release_list(filch__xchg(&p->head, NULL, acquire));
	port_unref(p);
}
