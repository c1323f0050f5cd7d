/* SPDX-License-Identifier: MIT */
/*
 * map.c - filch_map and filch_map_gen: fn over an array or a generator, in
 * chunks, with a bound on chunks in flight, results yielded in input order.
 *
 * The iterator owns a ring of `slots`, one per chunk in flight. Each slot has
 * its own stretch of a result buffer (and, for a generator, of an input
 * buffer), so memory is slots * chunksize pointers whatever the input's
 * length: an endless generator streams in constant memory (Python's
 * `buffersize`, 3.14; before it Python's map took its whole input at once).
 *
 * Ownership: a chunk task writes only its slot's results and `nok`; the
 * consumer reads them after filch_future_result returned for that chunk,
 * which orders the task's writes before the reads. A slot is refilled only
 * after its results were all yielded, and filch_map_close waits for every
 * chunk that started before freeing the buffers. No atomics of our own.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>

#include <filch.h>

#include "alloc.h"
#include "atomic.h"
#include "futex.h"

/* Automatic sizing: a few chunks per worker, and chunks small enough that a
 * slot's buffer stays modest. */
#define MAP_CHUNKS_PER_WORKER 4
#define MAP_MAX_AUTO_CHUNK 4096
/* Check filch_cancel_requested every this many items of a chunk. */
#define MAP_CANCEL_STRIDE 16

struct map_slot {
	filch_future *fut;     /* the chunk's future; NULL: no chunk here */
	filch_map_iter *it;
	void *const *items;    /* inputs: the user's array or it->inbuf */
	void **results;        /* this slot's part of the result buffer */
	size_t count;	       /* items in the chunk */
	size_t nok;	       /* task: results stored before it stopped */
	bool stopped;	       /* task: it stopped on a cancel request */
};

struct filch_map_iter {
	/* The consumer's cursor over the head chunk's results. */
	void **cur;
	void **end;
	int pending_rc; /* delivered once the head chunk's results are out */
	bool head_active; /* the head slot's results are being yielded */
	bool over;

	filch_executor *ex;
	filch_task_fn fn;
	int64_t deadline;
	size_t chunksize;
	size_t nslots;
	size_t head;

	/* Input: an array, or a generator. */
	void *const *items;
	size_t n;
	size_t next_in;
	filch_gen_fn gen;
	void *gen_arg;
	void **inbuf;
	bool input_done;
	int input_rc; /* why the input stopped early (gen or submit error) */

	struct map_slot slots[];
};

static int map_chunk(void *arg, void **result)
{
	struct map_slot *s = arg;
	filch_task_fn fn = s->it->fn;

	(void)result;
	for (size_t j = 0; j < s->count; j++) {
		if (j % MAP_CANCEL_STRIDE == MAP_CANCEL_STRIDE - 1 &&
		    filch_cancel_requested()) {
			s->nok = j;
			s->stopped = true;
			return ECANCELED;
		}
		void *r = NULL;
		int rc = fn(s->items[j], &r);
		if (rc) {
			s->nok = j;
			return rc < 0 ? -rc : rc;
		}
		s->results[j] = r;
	}
	s->nok = s->count;
	return 0;
}

/* Gathers the next chunk into slot s and submits it. Returns 0 when a chunk
 * was submitted or the input ended (s->fut NULL), or the error that stopped
 * the input before any item of this chunk was submitted. */
static int map_fill(filch_map_iter *it, struct map_slot *s)
{
	size_t count = 0;
	int rc = 0;

	s->fut = NULL;
	if (it->input_done)
		return 0;
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
	} else {
		count = it->n - it->next_in;
		if (count > it->chunksize)
			count = it->chunksize;
		s->items = it->items + it->next_in;
		it->next_in += count;
		if (it->next_in == it->n)
			it->input_done = true;
	}
	if (count == 0)
		return it->input_rc;
	s->count = count;
	s->nok = 0;
	s->stopped = false;
	rc = filch_submit(it->ex, map_chunk, s, &s->fut);
	if (rc) {
		s->fut = NULL;
		it->input_done = true;
		it->input_rc = rc;
	}
	return rc;
}

static int64_t map_time_left(const filch_map_iter *it)
{
	if (it->deadline == FILCH__NO_DEADLINE)
		return FILCH_FOREVER;
	int64_t left = it->deadline - filch__now_ns();
	return left > 0 ? left : 0;
}

static int map_create(filch_map_iter **itp, filch_executor *ex,
		      filch_task_fn fn, void *const *items, size_t n,
		      filch_gen_fn gen, void *gen_arg,
		      const struct filch_map_opts *opts)
{
	static const struct filch_map_opts defaults;
	int rc;

	if (!itp)
		return -EINVAL;
	*itp = NULL;
	if (!opts)
		opts = &defaults;
	if (!ex || !fn || (!gen && n && !items) || opts->flags)
		return -EINVAL;

	size_t workers = filch_executor_workers(ex);
	if (workers == 0)
		workers = 1;
	size_t chunksize = opts->chunksize;
	if (chunksize == 0) {
		/* ceil: at most 4 chunks per worker, so that with the default
		 * buffersize an array of up to 4096 * 4 * workers items is in
		 * flight at once, as Python's map would have it. */
		size_t per = workers * MAP_CHUNKS_PER_WORKER;
		if (gen)
			chunksize = 1;
		else
			chunksize = n / per + (n % per != 0);
		if (chunksize > MAP_MAX_AUTO_CHUNK)
			chunksize = MAP_MAX_AUTO_CHUNK;
		if (chunksize == 0)
			chunksize = 1;
	}
	size_t nslots = opts->buffersize;
	if (nslots == 0)
		nslots = workers * MAP_CHUNKS_PER_WORKER;
	if (!gen) {
		size_t chunks = n / chunksize + (n % chunksize != 0);
		if (nslots > chunks)
			nslots = chunks ? chunks : 1;
	}

	/* One block: the iterator, its slots, the result buffer and, for a
	 * generator, the input buffer. */
	size_t per_slot = sizeof(struct map_slot) +
			  (gen ? 2 : 1) * sizeof(void *) * chunksize;
	if (chunksize > SIZE_MAX / (4 * sizeof(void *)) ||
	    nslots > (SIZE_MAX - sizeof(filch_map_iter)) / per_slot)
		return -ENOMEM;
	filch_map_iter *it =
		filch__malloc(sizeof(*it) + nslots * per_slot);
	if (!it)
		return -ENOMEM;
	void **buf = (void **)&it->slots[nslots];
	*it = (filch_map_iter){
		.ex = ex,
		.fn = fn,
		.deadline = filch__deadline(opts->timeout_ns > 0 ? opts->timeout_ns
								 : FILCH_FOREVER),
		.chunksize = chunksize,
		.nslots = nslots,
		.items = items,
		.n = n,
		.input_done = !gen && n == 0,
		.gen = gen,
		.gen_arg = gen_arg,
		.inbuf = gen ? buf + nslots * chunksize : NULL,
	};
	for (size_t i = 0; i < nslots; i++)
		it->slots[i] = (struct map_slot){
			.it = it,
			.results = buf + i * chunksize,
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

/* The slow path of filch_map_next: the head chunk's results are used up. */
static int map_advance(filch_map_iter *it, void **result)
{
	if (it->over)
		return FILCH_END;
	if (it->head_active) {
		if (it->pending_rc)
			return map_finish(it, it->pending_rc);
		/* Retire the head chunk and reuse its slot for the next one,
		 * which becomes the tail of the ring. */
		struct map_slot *s = &it->slots[it->head];
		filch_future_release(s->fut);
		map_fill(it, s);
		it->head = (it->head + 1) % it->nslots;
		it->head_active = false;
	}
	struct map_slot *s = &it->slots[it->head];
	if (!s->fut)
		return map_finish(it, it->input_rc ? it->input_rc : FILCH_END);
	int rc = filch_future_result(s->fut, map_time_left(it), NULL);
	if (rc == -ETIMEDOUT)
		return map_finish(it, rc);
	it->head_active = true;
	it->cur = s->results;
	it->end = s->results + (rc == 0 ? s->count : s->nok);
	if (rc == ECANCELED && s->stopped)
		rc = -ECANCELED;
	it->pending_rc = rc;
	if (it->cur == it->end)
		return map_finish(it, rc);
	*result = *it->cur++;
	return 0;
}

FILCH_API int filch_map_next(filch_map_iter *it, void **result)
{
	if (!it || !result)
		return -EINVAL;
	if (it->cur != it->end) {
		*result = *it->cur++;
		return 0;
	}
	return map_advance(it, result);
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
	for (size_t i = 0; i < it->nslots; i++) {
		filch_future *f = it->slots[i].fut;
		if (f) {
			filch_future_result(f, FILCH_FOREVER, NULL);
			filch_future_release(f);
		}
	}
	filch__free(it);
}
