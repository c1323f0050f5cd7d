/* SPDX-License-Identifier: MIT */
/*
 * task.c - task-record blocks: per-thread slabs of FILCH__BLOCK_SIZE-byte,
 * cache-line-aligned blocks, with remote frees through a lock-free stack.
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
 * Lifetime: a slab outlives its thread. At thread exit (a pthread key
 * destructor) the owner closes the remote stack by swapping in ORPHAN,
 * counts its blocks still out, and adds that count to orphan_debt; each
 * later remote free finds ORPHAN and subtracts one instead of pushing.
 * Whoever brings orphan_debt to exactly zero frees the chunks and the
 * slab. Before the owner's addition the debt is <= 0, so no remote free
 * can reach zero early, and exactly one party reaches it.
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
#include <stdint.h>

#include "alloc.h"
#include "atomic.h"
#include "sched.h"

#define CHUNK_SIZE FILCH__CHUNK_SIZE

/* struct filch__free_block and struct filch__chunk (a chunk's header, in
 * its first block) are in sched.h, for the inline fast paths. */

static_assert(sizeof(struct filch__chunk) <= FILCH__BLOCK_SIZE, "chunk header fits a block");
static_assert(FILCH__BLOCK_SIZE % FILCH_CACHELINE == 0, "blocks are cache-line multiples");

#define ORPHAN ((struct filch__free_block *)(uintptr_t)1)

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
#else
#define poison_block(b) ((void)(b))
#define unpoison(p, n) ((void)(p), (void)(n))
#endif

struct filch__slab {
	/* Owner only; its private free list is filch__my_free. */
	char *bump, *bump_end; /* uncarved part of the newest chunk */
	struct filch__chunk *chunks;
	size_t carved;	       /* blocks ever carved */

	/* Shared: see the top of the file. */
	alignas(FILCH_CACHELINE) _Atomic(struct filch__free_block *) remote;
	_Atomic int64_t orphan_debt;
};

/* initial-exec: see FILCH__TLS in executor.h */
FILCH__BLOCK_TLS struct filch__slab *filch__my_slab;
FILCH__BLOCK_TLS struct filch__free_block *filch__my_free;
static pthread_key_t slab_key;
static pthread_once_t slab_key_once = PTHREAD_ONCE_INIT;

static void slab_free(struct filch__slab *s)
{
	struct filch__chunk *c = s->chunks;

	while (c) {
		struct filch__chunk *next = c->next;

		unpoison(c, CHUNK_SIZE);
		filch__free(c);
		c = next;
	}
	filch__free(s);
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
	struct filch__free_block *taken =
		filch__xchg(&s->remote, ORPHAN, acquire);
	int64_t out = (int64_t)(s->carved - list_length(filch__my_free) -
				list_length(taken));

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
	s->chunks = NULL;
	s->carved = 0;
	atomic_init(&s->remote, NULL);
	atomic_init(&s->orphan_debt, 0);
	pthread_once(&slab_key_once, make_key);
	if (slab_key != (pthread_key_t)-1)
		pthread_setspecific(slab_key, s);
	filch__my_slab = s;
	return s;
}

void *filch__block_alloc_slow(void)
{
	struct filch__slab *s = filch__my_slab;
	struct filch__free_block *b;

	if (!s && !(s = slab_create()))
		return NULL;
	if ((b = filch__my_free)) { /* reached here only under ASan */
		filch__my_free = b->next;
		unpoison(b, FILCH__BLOCK_SIZE);
		return b;
	}
	/* Relaxed peek, then acquire: the remote frees' writes to the blocks
	 * before we reuse them. Pairs with the release CAS in remote_free. */
	if (filch__load(&s->remote, relaxed) &&
	    (b = filch__xchg(&s->remote, NULL, acquire))) {
		filch__my_free = b->next;
		unpoison(b, FILCH__BLOCK_SIZE);
		return b;
	}
	if (s->bump == s->bump_end) {
		struct filch__chunk *c = filch__aligned_alloc(CHUNK_SIZE, CHUNK_SIZE);

		if (!c)
			return NULL;
		c->owner = s;
		c->next = s->chunks;
		s->chunks = c;
		s->bump = (char *)c + FILCH__BLOCK_SIZE;
		s->bump_end = (char *)c + CHUNK_SIZE;
	}
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
	c = (struct filch__chunk *)((uintptr_t)b & ~(uintptr_t)(CHUNK_SIZE - 1));
	if (c->owner == filch__my_slab) { /* reached here only under ASan */
		b->next = filch__my_free;
		filch__my_free = b;
		return;
	}
	remote_free(c->owner, b);
}
