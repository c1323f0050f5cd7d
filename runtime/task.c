/* SPDX-License-Identifier: MIT */
/*
 * task.c - task-record blocks: per-thread slabs of FILCH__BLOCK_SIZE-byte,
 * cache-line-aligned blocks, with remote frees through a lock-free stack,
 * and chunks given back to the kernel after a burst.
 *
 * A slab belongs to one thread (worker or foreign). It carves blocks from
 * CHUNK_SIZE chunks aligned to their size, so a block finds its chunk, and
 * the chunk its slab, by masking its address. Allocation pops the slab's
 * private free list (no atomic operation); a free by the owning thread
 * pushes onto that list; a free by any other thread pushes onto the slab's
 * "remote" stack (a Treiber push: CAS on the head). The owner takes the
 * whole remote stack at once with one XCHG when its private list runs dry:
 * pushes and take-all are ABA-safe (no thread ever pops one node, the
 * case where ABA bites). Steady state: no malloc, no RMW on the owner's
 * paths. The private list is a thread-local (filch__my_free) so that the
 * fast paths, inline in sched.h, pop and push it without a call.
 *
 * Giving memory back. The inline paths count nothing, so a chunk whose
 * blocks they handle can never be known to be all free. Hence two kinds:
 *
 *   pinned   the first PINNED_CHUNKS chunks of a slab: chunk->owner is the
 *            slab, its blocks go through the inline paths; kept until the
 *            slab goes (after its thread exits).
 *   surplus  every later chunk: chunk->owner is SURPLUS, which no slab
 *            is, so every free into it calls filch__block_free_slow. The
 *            owner's frees (and the remote ones, when it takes the remote
 *            stack) go onto the chunk's own free list and count in
 *            chunk->nfree; allocation takes a surplus chunk's whole list
 *            onto the private list when that runs dry (those blocks then
 *            count as out: nfree counts only the chunk's list, so a chunk
 *            with nfree == CHUNK_BLOCKS has no block anywhere else). Such
 *            an all-free ("empty") chunk goes to the front of the slab's
 *            empty list, stamped with the time; see "Decay".
 *
 * The bounds: fork-join keeps a worker's live blocks near the width of its
 * spawn tree plus the stolen ones not yet taken back from `remote`: in
 * filch-bench a slab carves at most 13 blocks in fib, 46 in nqueens and
 * skynet, 4101 in uts (wide nodes, 1 worker). PINNED_CHUNKS (4088 blocks,
 * 512 KiB) covers all but the last few of uts's, so fork-join stays on the
 * inline paths; EMPTY_KEPT covers a load that hovers at a chunk boundary, so
 * steady loops never map or unmap. A slab idle for DECAY_NS thus holds at
 * most 768 KiB, plus one partly carved chunk and the one whose list the
 * private list holds. A burst beyond that pays one mmap and two munmaps per
 * 511 blocks and the page faults of the memory it really uses, unless it
 * finds the empty chunks of an earlier burst; and a call per free of a
 * surplus block.
 *
 * Decay (after jemalloc's decay of dirty pages): an empty chunk beyond the
 * EMPTY_KEPT newest is unmapped once it has stayed empty DECAY_NS. The
 * empty list is LIFO (allocation reuses the newest, the oldest age at the
 * back), so the oldest go first and a slab that keeps reusing a few chunks
 * does not pin the rest of a past burst, as one "last used" time per slab
 * would. Checked only on the owner's slow paths, with a coarse clock read:
 * when a chunk becomes empty (once per 511 frees, and the time is needed
 * for the stamp anyway), and, while more than EMPTY_KEPT are empty, on
 * every CHECK_EVERY-th slow call (a free into a surplus chunk, a remote
 * block filed, a refill of the private list); filch_release_memory trims
 * at once. A thread that goes quiet keeps its empty chunks until its next
 * slow path or filch_release_memory, or until it exits (slab_orphan hands
 * them all to the chunk cache).
 *
 * The chunk cache (process-wide). Chunks that no slab will use again go to
 * one list under cache_lock instead of munmap: the empty chunks of an
 * exiting thread (slab_orphan), and all chunks of a slab when it is freed
 * (slab_free: every block of them is free then). A slab that needs a chunk
 * takes the newest cached one before it maps one (chunk_new), re-sets its
 * header (owner, slab, free list), and carves it from the start: its pages
 * are resident already, so a new thread bursting where an exited one did
 * takes no page faults (filch-bench submit2: two new submitter threads per
 * round, 500k futures each; chunks from malloc had this for free, from
 * glibc's arenas). The cache decays as the empty lists do: a chunk that has
 * sat in it DECAY_NS (stamped on entry, so the list is newest first) is
 * unmapped, checked whenever a thread touches the cache (put, take), on a
 * slab's every CHECK_EVERY-th slow call while the cache is not empty, and
 * filch_release_memory empties it. Beyond CACHE_CHUNKS (256 MiB) a chunk
 * is unmapped at once. Why 256 MiB: the cache holds only memory that was
 * resident a moment before (an exited thread's), so it never lifts RSS
 * above a peak the program already reached; the bound caps how much of that
 * peak may outlive its threads by up to DECAY_NS. It is twice the 10^6-
 * future (128 MB) burst that DECAY_NS was sized for, enough for submit2's
 * 128 MB handed over per round. Nothing slow happens under cache_lock (no
 * munmap, no malloc: chunks to unmap are collected and unmapped after),
 * so it is a leaf lock; fork.c holds it across fork(), taken last, so that
 * the child's first chunk_new does not find it held by a thread that is
 * gone. Blocks of a cached chunk stay poisoned under ASan (its header is
 * the cache's link) until a slab adopts it.
 *
 * DECAY_NS = 1 s: refaulting a 10^6-future burst (128 MB: 2000 mmaps, 32768
 * page faults, the zeroing) costs ~100 ms on the machines we measured
 * (filch-bench submit, 17.5 against 6.6 Mtasks/s), so a program that bursts
 * at most once per DECAY_NS loses at most ~10% of its time to refaults,
 * and one that bursts more often keeps its memory; and memory comes back
 * within about a second of quiet, well inside what a user watching RSS
 * (top, a container's memory limit) counts as "after the burst". jemalloc
 * picks 10 s for dirty pages that are only madvised, not unmapped.
 * CHECK_EVERY = 64: a clock read (a few ns) per 64 slow calls is noise
 * beside them, and a trickle of slow calls still finds the time to trim.
 *
 * Lifetime: a slab outlives its thread. At thread exit (a pthread key
 * destructor) the owner closes the remote stack by swapping in ORPHAN,
 * files what it took there, counts its blocks still out, and adds that
 * count to orphan_debt; each later remote free finds ORPHAN and subtracts
 * one instead of pushing. Whoever brings orphan_debt to exactly zero hands
 * the chunks to the cache and frees the slab. Before the owner's addition
 * the debt is <= 0, so no remote free can reach zero early, and exactly
 * one party reaches it.
 *
 * remote (the shared state word of a slab):
 *   NULL       empty; any thread may push (CAS NULL -> block)
 *   block      a stack of remotely freed blocks; pushes CAS head -> new;
 *              the owner takes all with XCHG -> NULL
 *   ORPHAN     the owner exited (XCHG -> ORPHAN, once, by the owner);
 *              final: frees then decrement orphan_debt
 */
#include "config.h"

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <filch.h>

#include "alloc.h"
#include "atomic.h"
#include "sched.h"

#define CHUNK_SIZE FILCH__CHUNK_SIZE
#define CHUNK_BLOCKS (CHUNK_SIZE / FILCH__BLOCK_SIZE - 1) /* less the header */
#define PINNED_CHUNKS 8
#define EMPTY_KEPT 4
#define DECAY_NS INT64_C(1000000000) /* see the top of the file */
#define CHECK_EVERY 64
#define CACHE_CHUNKS ((256 << 20) / CHUNK_SIZE) /* see the top of the file */

/* struct filch__free_block and struct filch__chunk (a chunk's header, in
 * its first block) are in sched.h, for the inline fast paths. */

static_assert(sizeof(struct filch__chunk) <= FILCH__BLOCK_SIZE, "chunk header fits a block");
static_assert(FILCH__BLOCK_SIZE % FILCH_CACHELINE == 0, "blocks are cache-line multiples");

#define ORPHAN ((struct filch__free_block *)(uintptr_t)1)
#define SURPLUS ((struct filch__slab *)(uintptr_t)1)

/*
 * Under AddressSanitizer a free block is poisoned but for its first word
 * (the free-list link), so that a use after filch__block_free is reported
 * as it would be after free().
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define FREE_LINK sizeof(struct filch__free_block)
#define poison_block(b)                                       \
	ASAN_POISON_MEMORY_REGION((char *)(b) + FREE_LINK, \
				  FILCH__BLOCK_SIZE - FREE_LINK)
#define unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#else
#define poison_block(b) ((void)(b))
#define poison(p, n) ((void)(p), (void)(n))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

struct filch__slab {
	/* Owner only; its private free list is filch__my_free. */
	char *bump, *bump_end; /* uncarved part of the newest chunk */
	struct filch__chunk_link pinned; /* list heads */
	struct filch__chunk_link surplus; /* not empty; with free blocks first */
	struct filch__chunk_link empty;	  /* all-free surplus, newest first */
	unsigned npinned, nempty;	  /* nempty: length of empty */
	unsigned until_check;		  /* slow calls to the next decay check */
	size_t carved;			  /* blocks carved in mapped chunks */
	size_t surplus_free;		  /* sum of the surplus chunks' nfree */

	/* Shared: see the top of the file. */
	alignas(FILCH_CACHELINE) _Atomic(struct filch__free_block *) remote;
	_Atomic int64_t orphan_debt;
};

/* initial-exec: see FILCH__TLS in executor.h */
FILCH__BLOCK_TLS struct filch__slab *filch__my_slab;
FILCH__BLOCK_TLS struct filch__free_block *filch__my_free;
static pthread_key_t slab_key;
static pthread_once_t slab_key_once = PTHREAD_ONCE_INIT;

static struct filch__chunk *chunk_of(const void *block)
{
	return (struct filch__chunk *)((uintptr_t)block & ~(uintptr_t)(CHUNK_SIZE - 1));
}

static struct filch__chunk *chunk_of_link(struct filch__chunk_link *l)
{
	return (struct filch__chunk *)(void *)((char *)l - offsetof(struct filch__chunk, link));
}

static void link_del(struct filch__chunk_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
}

/* Inserts l after at: at the front of a list when at is its head, at the
 * back when at is head->prev. */
static void link_add(struct filch__chunk_link *l, struct filch__chunk_link *at)
{
	l->prev = at;
	l->next = at->next;
	at->next->prev = l;
	at->next = l;
}

static void chunk_unmap(struct filch__chunk *c)
{
	unpoison(c, CHUNK_SIZE);
	filch__unmap(c, CHUNK_SIZE);
}

static void unmap_list(struct filch__chunk_link *head)
{
	struct filch__chunk_link *l = head->next;

	while (l != head) {
		struct filch__chunk_link *next = l->next;

		chunk_unmap(chunk_of_link(l));
		l = next;
	}
}

/* CLOCK_MONOTONIC_COARSE in nanoseconds: a few ns through the vDSO, with a
 * tick's resolution (1-10 ms), plenty against DECAY_NS. */
static int64_t coarse_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/*
 * The chunk cache: see the top of the file. cache is newest first (each
 * chunk's emptied is when it came in); ncached is its length, written
 * under cache_lock, read without it only as a hint (whether to lock).
 */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct filch__chunk_link cache = {&cache, &cache};
static _Atomic size_t ncached;

void filch__chunk_cache_lock(void)
{
	pthread_mutex_lock(&cache_lock);
}

void filch__chunk_cache_unlock(void)
{
	pthread_mutex_unlock(&cache_lock);
}

/* Under cache_lock: moves the cached chunks that came in at or before
 * since, oldest first, onto the local list gone (to unmap after). */
static void cache_decay(int64_t since, struct filch__chunk_link *gone)
{
	size_t n = filch__load(&ncached, relaxed);

	while (n) {
		struct filch__chunk *c = chunk_of_link(cache.prev);

		if (c->emptied > since)
			break; /* the rest are newer */
		link_del(&c->link);
		link_add(&c->link, gone);
		n--;
	}
	filch__store(&ncached, n, relaxed);
}

/* Any thread: the chunks of the list head (no block of them in use, and
 * no slab's any more) go to the cache, newest first, unmapped beyond
 * CACHE_CHUNKS; the cache's decayed chunks go too. */
static void cache_put(struct filch__chunk_link *head)
{
	struct filch__chunk_link gone = {&gone, &gone};
	size_t n;

	if (head->next == head)
		return;
	pthread_mutex_lock(&cache_lock);
	int64_t now = coarse_ns();

	cache_decay(now - DECAY_NS, &gone);
	n = filch__load(&ncached, relaxed);
	while (head->next != head) {
		struct filch__chunk *c = chunk_of_link(head->next);

		link_del(&c->link);
		if (n < CACHE_CHUNKS) {
			/* Its blocks, not its header: the cache's link. */
			poison((char *)c + FILCH__BLOCK_SIZE,
			       CHUNK_SIZE - FILCH__BLOCK_SIZE);
			c->emptied = now;
			link_add(&c->link, &cache);
			n++;
		} else {
			link_add(&c->link, &gone);
		}
	}
	filch__store(&ncached, n, relaxed);
	pthread_mutex_unlock(&cache_lock);
	unmap_list(&gone);
}

/* Any thread: the newest cached chunk, or NULL; unmaps decayed ones. */
static struct filch__chunk *cache_take(void)
{
	struct filch__chunk_link gone = {&gone, &gone};
	struct filch__chunk *c = NULL;
	size_t n;

	if (!filch__load(&ncached, relaxed))
		return NULL; /* a hint: a chunk put just now may be missed */
	pthread_mutex_lock(&cache_lock);
	cache_decay(coarse_ns() - DECAY_NS, &gone);
	if ((n = filch__load(&ncached, relaxed))) {
		c = chunk_of_link(cache.next);
		link_del(&c->link);
		filch__store(&ncached, n - 1, relaxed);
	}
	pthread_mutex_unlock(&cache_lock);
	unmap_list(&gone);
	if (c)
		unpoison(c, CHUNK_SIZE);
	return c;
}

/* Any thread: unmaps the cached chunks that came in at or before since. */
static void cache_trim(int64_t since)
{
	struct filch__chunk_link gone = {&gone, &gone};

	if (!filch__load(&ncached, relaxed))
		return;
	pthread_mutex_lock(&cache_lock);
	cache_decay(since, &gone);
	pthread_mutex_unlock(&cache_lock);
	unmap_list(&gone);
}

/* Any thread, once its last block is free: the chunks to the cache. */
static void slab_free(struct filch__slab *s)
{
	cache_put(&s->pinned);
	cache_put(&s->surplus);
	cache_put(&s->empty);
	filch__free(s);
}

/* Owner: unmaps the oldest empty chunks, those empty since before
 * now - DECAY_NS, while more than keep are empty. */
static void trim(struct filch__slab *s, unsigned keep, int64_t now)
{
	while (s->nempty > keep) {
		struct filch__chunk *c = chunk_of_link(s->empty.prev);

		if (c->emptied > now - DECAY_NS)
			break; /* the rest are newer */
		link_del(&c->link);
		s->nempty--;
		s->carved -= CHUNK_BLOCKS;
		s->surplus_free -= CHUNK_BLOCKS;
		chunk_unmap(c);
	}
}

/* Owner, on each slow call: the amortized decay check, of the slab's
 * empty chunks and of the cache. */
static void slow_call(struct filch__slab *s)
{
	if (--s->until_check)
		return;
	s->until_check = CHECK_EVERY;
	if (s->nempty <= EMPTY_KEPT && !filch__load(&ncached, relaxed))
		return;
	int64_t now = coarse_ns();

	trim(s, EMPTY_KEPT, now);
	cache_trim(now - DECAY_NS);
}

/* Owner: b, freed, goes back to its surplus chunk c; an all-free chunk
 * goes to the front of the empty list. */
static void chunk_put(struct filch__slab *s, struct filch__chunk *c,
		      struct filch__free_block *b)
{
	b->next = c->free;
	c->free = b;
	s->surplus_free++;
	if (c->nfree++ == 0) { /* keep chunks with free blocks first */
		link_del(&c->link);
		link_add(&c->link, &s->surplus);
	}
	if (c->nfree < CHUNK_BLOCKS) {
		slow_call(s);
		return;
	}
	link_del(&c->link);
	link_add(&c->link, &s->empty);
	s->nempty++;
	c->emptied = coarse_ns();
	trim(s, EMPTY_KEPT, c->emptied);
}

/* Owner: files a list of blocks freed remotely: pinned chunks' blocks onto
 * the private list, surplus chunks' to their chunks. */
static void take_remote(struct filch__slab *s, struct filch__free_block *b)
{
	if (s->surplus.next == &s->surplus && !filch__my_free) {
		filch__my_free = b; /* all pinned: the common case, O(1) */
		return;
	}
	while (b) {
		struct filch__free_block *next = b->next;
		struct filch__chunk *c = chunk_of(b);

		if (c->owner == s) {
			b->next = filch__my_free;
			filch__my_free = b;
		} else {
			chunk_put(s, c, b);
		}
		b = next;
	}
}

/* Owner, with an empty private list: moves the free list of a surplus
 * chunk onto it: the first partly free one, else the newest empty one. */
static void take_surplus(struct filch__slab *s)
{
	struct filch__chunk *c;

	if (s->surplus.next != &s->surplus &&
	    chunk_of_link(s->surplus.next)->nfree)
		c = chunk_of_link(s->surplus.next);
	else if (s->nempty) {
		c = chunk_of_link(s->empty.next);
		s->nempty--;
	} else
		return;
	filch__my_free = c->free;
	s->surplus_free -= c->nfree;
	c->free = NULL;
	c->nfree = 0;
	link_del(&c->link); /* now it has none: to the back */
	link_add(&c->link, s->surplus.prev);
}

static size_t list_length(const struct filch__free_block *b)
{
	size_t n = 0;

	for (; b; b = b->next)
		n++;
	return n;
}

/* The key's destructor: the owner thread exits. */
static void slab_orphan(void *arg)
{
	struct filch__slab *s = arg;

	filch__my_slab = NULL;
	/* Acquire: every remote free's writes to its block before we may
	 * free the chunk. Pairs with the release CAS in remote_free. */
	take_remote(s, filch__xchg(&s->remote, ORPHAN, acquire));
	/* No block of an empty chunk is out (nor on remote, now closed), and
	 * no thread will carve here again: all go to the cache, not only the
	 * old ones. */
	s->carved -= (size_t)s->nempty * CHUNK_BLOCKS;
	s->surplus_free -= (size_t)s->nempty * CHUNK_BLOCKS;
	s->nempty = 0;
	cache_put(&s->empty);
	int64_t out = (int64_t)(s->carved - list_length(filch__my_free) -
				s->surplus_free);

	filch__my_free = NULL; /* counted: a later slab starts empty */

	/* acq_rel: our reads of the slab before whoever frees it, and the
	 * remote frees' writes (their release decrements) before our free. */
	if (filch__add(&s->orphan_debt, out, acq_rel) + out == 0)
		slab_free(s);
}

static void make_key(void)
{
	/* Without a key the slabs of exiting threads are never orphaned
	 * (a leak, not a fault): nothing else to do on failure. */
	if (pthread_key_create(&slab_key, slab_orphan) != 0)
		slab_key = (pthread_key_t)-1;
}

static struct filch__slab *slab_create(void)
{
	size_t size = (sizeof(struct filch__slab) + FILCH_CACHELINE - 1) &
		      ~(size_t)(FILCH_CACHELINE - 1);
	struct filch__slab *s = filch__aligned_alloc(FILCH_CACHELINE, size);

	if (!s)
		return NULL;
	s->bump = s->bump_end = NULL;
	s->pinned.prev = s->pinned.next = &s->pinned;
	s->surplus.prev = s->surplus.next = &s->surplus;
	s->empty.prev = s->empty.next = &s->empty;
	s->npinned = s->nempty = 0;
	s->until_check = CHECK_EVERY;
	s->carved = s->surplus_free = 0;
	atomic_init(&s->remote, NULL);
	atomic_init(&s->orphan_debt, 0);
	pthread_once(&slab_key_once, make_key);
	if (slab_key != (pthread_key_t)-1)
		pthread_setspecific(slab_key, s);
	filch__my_slab = s;
	return s;
}

/* Owner: a new chunk to carve, pinned while the slab has few: a cached
 * one (resident already; carved from the start, as its blocks are all
 * free), else a fresh mapping. */
static bool chunk_new(struct filch__slab *s)
{
	struct filch__chunk *c = cache_take();

	if (!c && !(c = filch__map_aligned(CHUNK_SIZE)))
		return false;
	c->slab = s;
	c->free = NULL;
	c->nfree = 0;
	if (s->npinned < PINNED_CHUNKS) {
		s->npinned++;
		c->owner = s;
		link_add(&c->link, &s->pinned);
	} else {
		c->owner = SURPLUS;
		link_add(&c->link, s->surplus.prev);
	}
	s->bump = (char *)c + FILCH__BLOCK_SIZE;
	s->bump_end = (char *)c + CHUNK_SIZE;
	return true;
}

void *filch__block_alloc_slow(void)
{
	struct filch__slab *s = filch__my_slab;
	struct filch__free_block *b;

	if (!s && !(s = slab_create()))
		return NULL;
	/* The private list is not empty here only under ASan. Relaxed peek,
	 * then acquire: the remote frees' writes to the blocks before we
	 * reuse them. Pairs with the release CAS in remote_free. */
	if (!filch__my_free && filch__load(&s->remote, relaxed))
		take_remote(s, filch__xchg(&s->remote, NULL, acquire));
	slow_call(s);
	if (!filch__my_free)
		take_surplus(s);
	if ((b = filch__my_free)) {
		filch__my_free = b->next;
		unpoison(b, FILCH__BLOCK_SIZE);
		return b;
	}
	if (s->bump == s->bump_end && !chunk_new(s))
		return NULL;
	b = (struct filch__free_block *)(void *)s->bump;
	s->bump += FILCH__BLOCK_SIZE;
	s->carved++;
	return b;
}

static void remote_free(struct filch__slab *s, struct filch__free_block *b)
{
	struct filch__free_block *head = filch__load(&s->remote, relaxed);

	do {
		if (head == ORPHAN) {
			/* acq_rel: our writes before the free (release), and
			 * everyone's before ours if we free (acquire). */
			if (filch__sub(&s->orphan_debt, 1, acq_rel) == 1)
				slab_free(s);
			return;
		}
		b->next = head;
		/* Release: our writes to the block before the owner takes
		 * it; pairs with the acquire XCHG in filch__block_alloc_slow
		 * and in slab_orphan. */
	} while (!filch__cas_weak(&s->remote, &head, b, release, relaxed));
}

void filch__block_free_slow(void *block)
{
	struct filch__free_block *b = block;
	struct filch__chunk *c;

	if (!b)
		return;
	poison_block(b);
	c = chunk_of(b);
	if (c->slab != filch__my_slab)
		remote_free(c->slab, b);
	else if (c->owner == SURPLUS)
		chunk_put(c->slab, c, b);
	else { /* reached here only under ASan */
		b->next = filch__my_free;
		filch__my_free = b;
	}
}

void filch_release_memory(void)
{
	struct filch__slab *s = filch__my_slab;

	cache_trim(INT64_MAX); /* all of it */
	if (!s)
		return; /* no slab, or its thread is exiting */
	/* Blocks freed by other threads first, so that their chunks can be
	 * found empty. Acquire as in filch__block_alloc_slow. */
	if (filch__load(&s->remote, relaxed))
		take_remote(s, filch__xchg(&s->remote, NULL, acquire));
	trim(s, EMPTY_KEPT, INT64_MAX);
}
