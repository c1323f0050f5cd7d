/* SPDX-License-Identifier: MIT */
/*
 * map.c - filch_map and filch_map_gen: fn over an array or a generator, in
 * chunks, with a bound on chunks in flight, results yielded in input order.
 * A chunk runs fn once per item, or the user's chunk_fn once for the whole
 * chunk (its own loop, which the compiler can inline and vectorize).
 *
 * The iterator owns a ring of `slots`, one per chunk in flight. Each slot has
 * its own stretch of a result buffer (and, for a generator, of an input
 * buffer), plus one spare result stretch, so memory is (slots + 1) *
 * chunksize pointers whatever the input's length: an endless generator
 * streams in constant memory (Python's `buffersize`, 3.14; before it
 * Python's map took its whole input at once).
 *
 * Ownership: a chunk task writes only its slot's results, `nok` and
 * `stopped`; the consumer reads them after filch_future_result returned for
 * that chunk, which orders the task's writes before the reads. A slot is
 * refilled as soon as the consumer took its last result (map_retire, before
 * the call that took it returns, so that `slots` chunks stay in flight
 * while the consumer works), and only after its task finished. A span
 * handed out by filch_map_next_span stays valid until the next call: its
 * slot takes the spare stretch and the span's becomes the spare.
 * filch_map_close waits for every chunk that started, hands the results
 * nobody yielded to the user's destructor, then frees the buffers.
 *
 * FILCH_MAP_CALLER_RUNS: while the chunk it needs is not done, the consumer
 * runs chunks nobody has started itself, newest first (the end of the ring
 * a thief would take), so that it computes instead of sleeping, as the
 * calling thread of tbb::parallel_for does. A chunk is run by exactly one
 * thread: whoever first exchanges its slot's `claim` word from 0 to 1 (the
 * word's only RMW; see map_claim). The loser does nothing: a worker that
 * loses returns at once, a consumer that loses waits for the future.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include <filch.h>

#include "alloc.h"
#include "atomic.h"
#include "futex.h"
#include "future.h"

/* Automatic sizing: a few chunks per worker, and chunks small enough that a
 * slot's buffer stays small (64 KiB of results): the ring of 4 slots per
 * worker then stays in the caches and costs few page faults (a 4 MiB ring,
 * 65536 items a chunk, made filch-bench's map of 10^6 trivial items 1.3x
 * slower at 2 workers: 1.13 ns per item against 0.86; docs/design.md). */
#define MAP_CHUNKS_PER_WORKER 4
#define MAP_MAX_AUTO_CHUNK 8192
/* Clamps for what the user asks (docs/api.md, "map"): a generator's chunk
 * is gathered item by item before it is submitted and its length is
 * unknown, so its chunks hold at most MAP_MAX_GEN_CHUNK items; an array's
 * at most its n. At most MAP_MAX_SLOTS chunks and MAP_MAX_ITEMS items are
 * in flight: the ring is then under 300 MiB (a generator's results and
 * inputs, or an array's results and the spare, and the slots), so no
 * request fails with ENOMEM for memory the map would never use, and the
 * size below cannot overflow. */
#define MAP_MAX_GEN_CHUNK ((size_t)1 << 16)
#define MAP_MAX_SLOTS ((size_t)1 << 16)
#define MAP_MAX_ITEMS ((size_t)1 << 24)
/* Check filch_cancel_requested every this many items of a chunk. */
#define MAP_CANCEL_STRIDE 16
/* Each slot's results start one cache line later than a plain stride would
 * put them: chunks are usually a power of two of pointers, and arrays a
 * multiple of 4 KiB apart alias in the L1 and in the store buffer's
 * address check while the consumer reads one slot and workers write
 * others. */
#define SLOT_COLOR (FILCH_CACHELINE / sizeof(void *))

struct map_slot {
	filch_future *fut;     /* the chunk's future; NULL: no chunk here */
	filch_map_iter *it;
	void *const *items;    /* inputs: the user's array, it->inbuf, or
				  NULL in a map over indices */
	void **results;        /* this slot's part of the result buffer */
	size_t first;	       /* input index of the chunk's first item */
	size_t count;	       /* items in the chunk */
	size_t nok;	       /* runner: results stored before it stopped */
	bool stopped;	       /* runner: it stopped on a cancel request */
	bool ran_inline;       /* consumer: it ran the chunk itself */
	bool unsent;	       /* consumer: gathered, but the executor's
				  bounded queue was full (map_send) */
	int inline_rc;	       /* consumer: that run's outcome */
	/*
	 * claim (FILCH_MAP_CALLER_RUNS only): 0 while nobody runs the chunk,
	 * 1 once its worker task or the consumer took it. Set 0 by the
	 * consumer before the chunk is submitted (map_fill; no task of the
	 * slot exists then), 0 -> 1 by one exchange in map_claim, by the
	 * task or the consumer, whichever comes first.
	 */
	_Atomic uint32_t claim;
} __attribute__((aligned(FILCH_CACHELINE))); /* no sharing between slots */

struct filch_map_iter {
	/* The consumer's cursor over the head chunk's results not yet
	 * yielded; cur == end when none is loaded (both always point into
	 * the result buffer, so that filch_map_next may subtract them). */
	void **cur;
	void **end;
	int pending_rc; /* delivered once the head chunk's results are out */
	bool head_active; /* the head slot's results are being yielded */
	bool over;
	bool caller_runs;

	void **spare; /* the result stretch of no slot (the last span's) */
	filch_result_dtor_fn dtor; /* or NULL */
	void *dtor_arg;
	filch_executor *ex;
	filch_task_fn fn;	  /* per item, or NULL with chunk_fn */
	filch_chunk_fn chunk_fn; /* per chunk, or NULL with fn */
	void *chunk_arg;
	int64_t deadline;
	size_t chunksize;
	size_t nslots;
	size_t head;

	/* Input: an array, or a generator. */
	void *const *items;
	size_t n;
	size_t next_in; /* input index of the next item to gather */
	filch_gen_fn gen;
	void *gen_arg;
	void **inbuf;
	bool input_done;
	int input_rc; /* why the input stopped early (gen or submit error) */

	struct map_slot slots[];
};

_Static_assert((3 * MAP_MAX_ITEMS + (MAP_MAX_SLOTS + 1) * SLOT_COLOR) *
			       sizeof(void *) +
		       MAP_MAX_SLOTS * sizeof(struct map_slot) +
		       sizeof(struct filch_map_iter) <
	       SIZE_MAX / 2,
	       "map_create's size cannot overflow");

/* True for the one caller that takes slot s's chunk. */
static bool map_claim(struct map_slot *s)
{
	/* relaxed: nothing is published through claim. The chunk's inputs
	 * were published to both contenders by the submit (the task) or are
	 * the consumer's own; results travel by the future or stay with the
	 * consumer. Exactly one exchange reads 0: that is all we need. */
	return filch__load(&s->claim, relaxed) == 0 &&
	       filch__xchg(&s->claim, 1, relaxed) == 0;
}

/* The positive code of an item's or chunk's failure, as a task's: -rc for
 * a negative rc, and EOVERFLOW for INT_MIN, which has no positive
 * counterpart (a map reports codes only, so the task's message for it is
 * not made here). */
static int failure_code(int rc)
{
	if (rc == INT_MIN)
		return EOVERFLOW;
	return rc < 0 ? -rc : rc;
}

/* Runs the user's chunk function over the chunk of s. */
static int map_run_chunk_fn(struct map_slot *s)
{
	struct filch_chunk c = {
		.first = s->first,
		.n = s->count,
		.items = s->items,
		.results = s->results,
	};
	int rc = s->it->chunk_fn(s->it->chunk_arg, &c);

	if (rc == 0) {
		s->nok = s->count;
		return 0;
	}
	s->nok = c.ndone < s->count ? c.ndone : s->count;
	rc = failure_code(rc);
	/* A chunk that gave up on map_close's request counts as stopped,
	 * like one stopped between items below. */
	s->stopped = rc == ECANCELED && filch_cancel_requested();
	return rc;
}

/* Runs fn over the chunk of s; returns 0 or the positive code that stopped
 * it (ECANCELED with s->stopped on a cancel request). */
static int map_run_items(struct map_slot *s)
{
	filch_task_fn fn = s->it->fn;

	if (!fn)
		return map_run_chunk_fn(s);
	/* Locals: fn is opaque, so fields of s would be reloaded per item. */
	void *const *items = s->items;
	void **results = s->results;
	size_t count = s->count;

	for (size_t j = 0; j < count; j++) {
		if (j % MAP_CANCEL_STRIDE == MAP_CANCEL_STRIDE - 1 &&
		    filch_cancel_requested()) {
			s->nok = j;
			s->stopped = true;
			return ECANCELED;
		}
		results[j] = NULL; /* the result of a fn that sets none */
		int rc = fn(items[j], &results[j]);
		if (rc) {
			s->nok = j;
			return failure_code(rc);
		}
	}
	s->nok = s->count;
	return 0;
}

static int map_chunk(void *arg, void **result)
{
	struct map_slot *s = arg;

	(void)result;
	if (s->it->caller_runs && !map_claim(s))
		return 0; /* the consumer ran it */
	return map_run_items(s);
}

/* Submits the chunk gathered in slot s. -EAGAIN (the executor's bounded
 * queue is full) leaves it gathered and marked unsent, for map_load to try
 * again when the consumer reaches it: the queue's bound acts as
 * backpressure instead of ending the map. Another error stops the input at
 * this chunk. */
static int map_send(filch_map_iter *it, struct map_slot *s)
{
	s->nok = 0;
	s->stopped = false;
	s->ran_inline = false;
	filch__store(&s->claim, 0, relaxed); /* published by the submit */
	int rc = filch_submit(it->ex, map_chunk, s, &s->fut);
	s->unsent = rc == -EAGAIN;
	if (rc) {
		s->fut = NULL;
		if (rc != -EAGAIN) {
			it->input_done = true;
			it->input_rc = rc;
		}
	}
	return rc;
}

/* Gathers the next chunk into slot s and submits it. Returns 0 when a chunk
 * was submitted or the input ended (s->fut NULL), -EAGAIN when it stays
 * unsent, or the error that stopped the input before any item of this
 * chunk was submitted. */
static int map_fill(filch_map_iter *it, struct map_slot *s)
{
	size_t count = 0;
	int rc = 0;

	s->fut = NULL;
	s->unsent = false;
	s->ran_inline = false;
	if (it->input_done)
		return 0;
	s->first = it->next_in;
	if (it->gen) {
		void **in = it->inbuf + (size_t)(s - it->slots) * it->chunksize;
		while (count < it->chunksize) {
			rc = it->gen(it->gen_arg, &in[count]);
			if (rc)
				break;
			count++;
		}
		if (rc) {
			it->input_done = true;
			if (rc != FILCH_END)
				it->input_rc = rc < 0 ? rc : -EINVAL;
			rc = 0;
		}
		s->items = in;
		it->next_in += count;
	} else {
		count = it->n - it->next_in;
		if (count > it->chunksize)
			count = it->chunksize;
		s->items = it->items ? it->items + it->next_in : NULL;
		it->next_in += count;
		if (it->next_in == it->n)
			it->input_done = true;
	}
	if (count == 0)
		return it->input_rc;
	s->count = count;
	return map_send(it, s);
}

static int64_t map_time_left(const filch_map_iter *it)
{
	if (it->deadline == FILCH__NO_DEADLINE)
		return FILCH_FOREVER;
	int64_t left = it->deadline - filch__now_ns();
	return left > 0 ? left : 0;
}

static size_t map_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The chunk size and the number of slots for opts, clamped (see
 * MAP_MAX_ITEMS). */
static void map_size(size_t *chunksizep, size_t *nslotsp, filch_executor *ex,
		     size_t n, bool gen, const struct filch_map_opts *opts)
{
	size_t workers = filch_executor_workers(ex);
	if (workers == 0)
		workers = 1;
	size_t chunksize = opts->chunksize;
	if (chunksize == 0) {
		/* ceil: at most 4 chunks per worker, so that with the default
		 * buffersize an array of up to 8192 * 4 * workers items is in
		 * flight at once, as Python's map would have it. */
		size_t per = workers * MAP_CHUNKS_PER_WORKER;
		if (gen)
			chunksize = 1;
		else
			chunksize = n / per + (n % per != 0);
		chunksize = map_min(chunksize, MAP_MAX_AUTO_CHUNK);
	}
	chunksize = map_min(chunksize, gen ? MAP_MAX_GEN_CHUNK : n);
	chunksize = map_min(chunksize, MAP_MAX_ITEMS);
	if (chunksize == 0)
		chunksize = 1;
	size_t nslots = opts->buffersize;
	if (nslots == 0)
		nslots = workers * MAP_CHUNKS_PER_WORKER;
	if (!gen)
		nslots = map_min(nslots, n / chunksize + (n % chunksize != 0));
	nslots = map_min(nslots, MAP_MAX_SLOTS);
	nslots = map_min(nslots, MAP_MAX_ITEMS / chunksize);
	*chunksizep = chunksize;
	*nslotsp = nslots ? nslots : 1;
}

static int map_create(filch_map_iter **itp, filch_executor *ex,
		      filch_task_fn fn, void *const *items, size_t n,
		      filch_gen_fn gen, void *gen_arg,
		      const struct filch_map_opts *opts)
{
	static const struct filch_map_opts defaults;
	const unsigned known = FILCH_MAP_CALLER_RUNS | FILCH_MAP_TIMEOUT_SET |
			       FILCH_MAP_RESULT_DTOR;
	size_t chunksize, nslots;
	int rc;

	if (!opts)
		opts = &defaults;
	if (!itp || !ex || !fn == !opts->chunk_fn ||
	    (!gen && n && !items && !opts->chunk_fn) || (opts->flags & ~known))
		return -EINVAL;
	map_size(&chunksize, &nslots, ex, n, gen != NULL, opts);

	/* One block: the iterator, its slots, the result buffer (a stretch
	 * per slot and the spare, each one colored) and, for a generator,
	 * the input buffer. The clamps keep it far from overflowing. */
	size_t stride = chunksize + SLOT_COLOR;
	size_t size = sizeof(filch_map_iter) + nslots * sizeof(struct map_slot) +
		      ((nslots + 1) * stride + (gen ? nslots * chunksize : 0)) *
			      sizeof(void *);
	filch_map_iter *it = filch__aligned_alloc(
		FILCH_CACHELINE,
		(size + FILCH_CACHELINE - 1) & ~(size_t)(FILCH_CACHELINE - 1));
	if (!it)
		return -ENOMEM;
	void **buf = (void **)&it->slots[nslots];
	int64_t timeout = opts->timeout_ns;
	if (!(opts->flags & FILCH_MAP_TIMEOUT_SET) && timeout <= 0)
		timeout = FILCH_FOREVER; /* zero field: the default */
	*it = (filch_map_iter){
		.cur = buf,
		.end = buf,
		.caller_runs = opts->flags & FILCH_MAP_CALLER_RUNS,
		.spare = buf + nslots * stride,
		.dtor = opts->flags & FILCH_MAP_RESULT_DTOR ? opts->result_dtor
							    : NULL,
		.dtor_arg = opts->flags & FILCH_MAP_RESULT_DTOR ? opts->dtor_arg
								: NULL,
		.ex = ex,
		.fn = fn,
		.chunk_fn = opts->chunk_fn,
		.chunk_arg = opts->chunk_arg,
		.deadline = filch__deadline(timeout),
		.chunksize = chunksize,
		.nslots = nslots,
		.items = items,
		.n = n,
		.input_done = !gen && n == 0,
		.gen = gen,
		.gen_arg = gen_arg,
		.inbuf = gen ? buf + (nslots + 1) * stride : NULL,
	};
	for (size_t i = 0; i < nslots; i++)
		it->slots[i] = (struct map_slot){
			.it = it,
			.results = buf + i * stride,
		};

	/* The first chunk decides: if it cannot start, nothing ran and the
	 * call fails. A later chunk's failure is reported in input order by
	 * filch_map_next. */
	rc = map_fill(it, &it->slots[0]);
	if (rc) {
		filch__free(it);
		return rc;
	}
	for (size_t i = 1; i < nslots && !it->input_done; i++)
		map_fill(it, &it->slots[i]);
	*itp = it;
	return 0;
}

FILCH_API int filch_map(filch_map_iter **it, filch_executor *ex,
			filch_task_fn fn, void *const *items, size_t n,
			const struct filch_map_opts *opts)
{
	return map_create(it, ex, fn, items, n, NULL, NULL, opts);
}

FILCH_API int filch_map_gen(filch_map_iter **it, filch_executor *ex,
			    filch_task_fn fn, filch_gen_fn gen, void *gen_arg,
			    const struct filch_map_opts *opts)
{
	if (!gen)
		return -EINVAL;
	return map_create(it, ex, fn, NULL, 0, gen, gen_arg, opts);
}

/* Ends the iteration with rc (a final error, or FILCH_END). */
static int map_finish(filch_map_iter *it, int rc)
{
	it->over = true;
	return rc;
}

/* FILCH_MAP_CALLER_RUNS: while the head chunk is not done, run chunks that
 * nobody started, newest first, the head itself last. */
static void map_help(filch_map_iter *it, struct map_slot *head)
{
	for (size_t k = it->nslots; k > 0; k--) {
		if (head->ran_inline || filch_future_done(head->fut))
			return;
		if (it->deadline != FILCH__NO_DEADLINE &&
		    filch__now_ns() >= it->deadline)
			return;
		struct map_slot *s = &it->slots[(it->head + k - 1) % it->nslots];
		if (!s->fut || s->ran_inline || !map_claim(s))
			continue;
		s->inline_rc = map_run_items(s);
		s->ran_inline = true;
		/* Its task has nothing left to do: drop it if not started. */
		filch_future_cancel(s->fut);
	}
}

/*
 * Submits the head chunk, which a full bounded queue held back. While
 * chunks of this map are in flight the queue is full of our own work: wait
 * until one of them is done and try again. Returns 0 (also when the
 * consumer ran it itself, FILCH_MAP_CALLER_RUNS), -EAGAIN when the queue is
 * full of other work, -ETIMEDOUT, or the submission's error.
 */
static int map_send_head(filch_map_iter *it, struct map_slot *s)
{
	for (;;) {
		int rc = map_send(it, s);
		if (rc != -EAGAIN)
			return rc;
		if (it->caller_runs) {
			s->unsent = false;
			s->inline_rc = map_run_items(s);
			s->ran_inline = true;
			return 0;
		}
		filch_future *busy = NULL;
		for (size_t k = 1; k < it->nslots && !busy; k++) {
			struct map_slot *o = &it->slots[(it->head + k) % it->nslots];
			if (o->fut && !filch_future_done(o->fut))
				busy = o->fut;
		}
		if (!busy)
			return -EAGAIN;
		rc = filch_wait(&busy, 1, map_time_left(it),
				FILCH_FIRST_COMPLETED, NULL);
		if (rc == -ETIMEDOUT || rc == -EAGAIN) /* -EAGAIN: no spare */
			return rc;
	}
}

/* Makes the head chunk's results available at [it->cur, it->end) (none is
 * loaded). Returns 0, or the code that ends the iteration. Kept out of line
 * so that filch_map_next's per-item path saves no registers. */
__attribute__((noinline, cold)) static int map_load(filch_map_iter *it)
{
	if (it->over)
		return FILCH_END;
	/* Its results are out and map_retire kept it: its error is next. */
	if (it->head_active)
		return map_finish(it, it->pending_rc);
	struct map_slot *s = &it->slots[it->head];
	int rc = s->unsent ? map_send_head(it, s) : 0;
	if (rc)
		return map_finish(it, rc);
	if (!s->fut && !s->ran_inline)
		return map_finish(it, it->input_rc ? it->input_rc : FILCH_END);
	if (it->caller_runs)
		map_help(it, s);
	rc = s->ran_inline ? s->inline_rc
			   : filch_future_result(s->fut, map_time_left(it), NULL);
	if (rc == -ETIMEDOUT || rc == -EAGAIN) /* -EAGAIN: no spare */
		return map_finish(it, rc);
	it->head_active = true;
	it->cur = s->results;
	it->end = s->results + (rc == 0 ? s->count : s->nok);
	if (rc == ECANCELED && s->stopped)
		rc = -ECANCELED;
	it->pending_rc = rc;
	return it->cur == it->end ? map_finish(it, rc) : 0;
}

/*
 * The consumer took the head chunk's last result: unless the chunk ended
 * with an error (delivered by the next call), retire it and give its slot
 * the next chunk now, before the result is used, so that `nslots` chunks
 * stay in flight meanwhile. A chunk run inline may still have its task
 * finishing (it found the claim taken): wait for it, the slot is reused.
 * span: the results went out as a span, valid until the next call, so the
 * slot takes the spare stretch and the span's becomes the spare. The new
 * head gets the first chance at a bounded queue, so that the refill does
 * not take the place it needs (map_load retries it if it did not fit).
 */
__attribute__((noinline)) static void map_retire(filch_map_iter *it,
						  bool span)
{
	struct map_slot *r = &it->slots[it->head];

	if (it->pending_rc)
		return;
	if (r->fut && r->ran_inline)
		filch__future_wait(r->fut);
	filch_future_release(r->fut);
	r->fut = NULL;
	if (span) {
		void **b = r->results;
		r->results = it->spare;
		it->spare = b;
	}
	it->head = (it->head + 1) % it->nslots;
	it->head_active = false;
	struct map_slot *s = &it->slots[it->head];
	if (s != r && s->unsent)
		map_send(it, s);
	map_fill(it, r);
}

/* filch_map_next when at most one result is loaded: load the next chunk if
 * none is, take a result, and retire the chunk if it was its last. */
__attribute__((noinline)) static int map_next_slow(filch_map_iter *it,
						    void **result)
{
	if (it->cur == it->end) {
		int rc = map_load(it);
		if (rc)
			return rc;
	}
	*result = *it->cur++;
	if (it->cur == it->end)
		map_retire(it, false);
	return 0;
}

FILCH_API int filch_map_next(filch_map_iter *it, void **result)
{
	if (__builtin_expect(!it || !result, 0))
		return -EINVAL;
	if (__builtin_expect(it->end - it->cur > 1, 1)) {
		*result = *it->cur++;
		return 0;
	}
	return map_next_slow(it, result);
}

FILCH_API int filch_map_next_span(filch_map_iter *it, void *const **results,
				  size_t *count)
{
	if (!it || !results || !count)
		return -EINVAL;
	if (it->cur == it->end) {
		int rc = map_load(it);
		if (rc)
			return rc;
	}
	*results = it->cur;
	*count = (size_t)(it->end - it->cur);
	it->cur = it->end;
	map_retire(it, true);
	return 0;
}

/* Hands every non-NULL result nobody yielded to the user's destructor (as
 * a future's destructor, it has nothing to free in NULL): the rest of
 * the head chunk's, and all that the other chunks stored (they finished:
 * filch_map_close waited for them; a chunk cancelled before it ran stored
 * none, nok = 0 from map_send). A slot without a chunk holds none. */
static void map_destroy_results(filch_map_iter *it)
{
	for (size_t i = 0; i < it->nslots; i++) {
		struct map_slot *s = &it->slots[i];
		void **r, **end;

		if (it->head_active && i == it->head) {
			r = it->cur;
			end = it->end;
		} else if (s->fut || s->ran_inline) {
			r = s->results;
			end = s->results + s->nok;
		} else {
			continue;
		}
		for (; r < end; r++)
			if (*r)
				it->dtor(*r, it->dtor_arg);
	}
}

FILCH_API void filch_map_close(filch_map_iter *it)
{
	if (!it)
		return;
	/* Cancel first, all of them, so that no chunk starts while we wait
	 * for the running ones; a running chunk sees the request and stops
	 * at its next check. */
	for (size_t i = 0; i < it->nslots; i++)
		if (it->slots[i].fut)
			filch_future_cancel(it->slots[i].fut);
	for (size_t i = 0; i < it->nslots; i++)
		if (it->slots[i].fut)
			filch__future_wait(it->slots[i].fut);
	if (it->dtor)
		map_destroy_results(it);
	for (size_t i = 0; i < it->nslots; i++)
		filch_future_release(it->slots[i].fut);
	filch__free(it);
}
