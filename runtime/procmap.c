/* SPDX-License-Identifier: MIT */
/*
 * procmap.c - a map over byte items on a process pool
 * (filch_procpool_map_*): chunks of items travel as one process task each,
 * so a round trip carries many items; results come back in input order.
 *
 * A chunk is an ordinary task of the pool running pp_map_chunk in the
 * worker. Its argument: a struct pp_chunk_in, fn's module name (spawn),
 * then per item a 16-byte-aligned record {u64 len} and its bytes. Its
 * result: per item run, a 16-byte-aligned record struct pp_item_out and
 * its bytes plus a 0 byte (so that data is NUL-terminated and aligned in
 * the program); an item that fails ends the chunk, its record carrying the
 * code (its message is dropped). A chunk that crashes fails its future as
 * any task: the map reports it at the chunk's first item.
 *
 * The iterator keeps up to buffersize chunks in flight, a ring of their
 * futures in input order; taking the last result of the oldest chunk
 * submits the next one. One thread at a time uses an iterator; nothing
 * in it is shared with the pool's completion thread but the futures.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <filch.h>

#include "futex.h"
#include "procpool.h"

#define PP_ALIGN 16
#define PP_MAX_CHUNK 65536

struct pp_chunk_in {
	uint64_t fn; /* as struct filch__pp_call's fn */
	uint32_t mod_len;
	uint32_t count;
};

struct pp_item_out {
	int32_t code; /* 0, or the item's error (then the chunk ends) */
	uint32_t zero;
	uint64_t len;
};

static size_t pp_round(size_t n)
{
	return (n + PP_ALIGN - 1) & ~(size_t)(PP_ALIGN - 1);
}

/* ---- in the worker ---- */

/* Appends a record of len bytes of data to *buf (used *n of *cap). */
static int pp_put(unsigned char **buf, size_t *n, size_t *cap, int code,
		  const void *data, size_t len)
{
	size_t need = *n + sizeof(struct pp_item_out) + pp_round(len + 1);

	if (need > *cap) {
		size_t c = *cap ? *cap : 4096;
		unsigned char *p;

		while (c < need)
			c *= 2;
		if (!(p = realloc(*buf, c)))
			return ENOMEM;
		*buf = p;
		*cap = c;
	}
	struct pp_item_out r = { .code = code, .len = len };

	memcpy(*buf + *n, &r, sizeof(r));
	if (len)
		memcpy(*buf + *n + sizeof(r), data, len);
	memset(*buf + *n + sizeof(r) + len, 0, pp_round(len + 1) - len);
	*n = need;
	return 0;
}

/* The chunk task: runs fn on each item (see the top of the file). */
static int pp_map_chunk(const void *arg, size_t len, void **out,
			size_t *out_len)
{
	const unsigned char *p = arg, *end = p + len;
	struct pp_chunk_in in;
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;
	filch_proc_fn fn;

	if (len < sizeof(in))
		return EBADMSG;
	memcpy(&in, p, sizeof(in));
	p += sizeof(in);
	if (in.mod_len > (size_t)(end - p) ||
	    (in.mod_len && p[in.mod_len - 1]))
		return EBADMSG;
	fn = (filch_proc_fn)(uintptr_t)(
		in.mod_len ? (uintptr_t)filch__pp_resolve((const char *)p,
							  in.fn) :
			     in.fn);
	if (!fn)
		return ENOENT;
	p += pp_round(in.mod_len);
	for (uint32_t i = 0; i < in.count; i++) {
		uint64_t ilen = UINT64_MAX;
		void *o = NULL;
		size_t olen = 0;

		if ((size_t)(end - p) >= PP_ALIGN) {
			memcpy(&ilen, p, sizeof(ilen));
			p += PP_ALIGN;
		}
		if (ilen > (size_t)(end - p)) {
			free(buf);
			return EBADMSG;
		}
		int rc = fn(p, (size_t)ilen, &o, &olen);

		p += pp_round((size_t)ilen);
		if (rc == INT_MIN)
			rc = EOVERFLOW;
		else if (rc < 0)
			rc = -rc;
		if (pp_put(&buf, &n, &cap, rc, rc || !o ? NULL : o,
			   rc || !o ? 0 : olen)) {
			free(o);
			free(buf);
			return ENOMEM;
		}
		free(o);
		if (rc)
			break;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

/* ---- in the program ---- */

struct filch_procpool_map_iter {
	filch_procpool *pp;
	const struct filch_bytes *items;
	size_t n;
	size_t chunksize, nslots;
	size_t sent;  /* items submitted */
	size_t taken; /* chunks taken out of the ring */
	size_t nfly;  /* chunks in the ring */
	int64_t deadline;
	bool ended;
	/* The chunk being read: its future, the next record, the end. */
	filch_future *cur;
	const unsigned char *rec, *rec_end;
	struct filch_bytes out;
	/* fn as it crosses: address or offset, and its module (spawn). */
	uint64_t fn;
	uint32_t mod_len;
	char mod[FILCH__PP_MAX_NAME];
	filch_future *ring[]; /* nslots, in input order from taken */
};

/* Submits the next chunk; 0 or the submit's error. */
static int pp_map_send(filch_procpool_map_iter *it)
{
	size_t count = it->n - it->sent < it->chunksize ? it->n - it->sent :
							   it->chunksize;
	size_t len = sizeof(struct pp_chunk_in) + pp_round(it->mod_len);

	for (size_t i = 0; i < count; i++) {
		size_t l = it->items[it->sent + i].len;

		if (l > SIZE_MAX - PP_ALIGN - len - PP_ALIGN)
			return -ENOMEM;
		len += PP_ALIGN + pp_round(l);
	}
	unsigned char *buf = calloc(1, len), *p = buf;
	struct pp_chunk_in in = { .fn = it->fn, .mod_len = it->mod_len,
				  .count = (uint32_t)count };
	filch_future *f;

	if (!buf)
		return -ENOMEM;
	memcpy(p, &in, sizeof(in));
	p += sizeof(in);
	memcpy(p, it->mod, it->mod_len);
	p += pp_round(it->mod_len);
	for (size_t i = 0; i < count; i++) {
		const struct filch_bytes *b = &it->items[it->sent + i];
		uint64_t l = b->len;

		memcpy(p, &l, sizeof(l));
		p += PP_ALIGN;
		if (b->len)
			memcpy(p, b->data, b->len);
		p += pp_round(b->len);
	}
	int rc = filch_procpool_submit(it->pp, pp_map_chunk, buf, len, &f);

	free(buf);
	if (rc)
		return rc;
	it->ring[(it->taken + it->nfly++) % it->nslots] = f;
	it->sent += count;
	return 0;
}

int filch_procpool_map(filch_procpool_map_iter **out, filch_procpool *pp,
		       filch_proc_fn fn, const struct filch_bytes *items,
		       size_t n, const struct filch_procpool_map_opts *opts)
{
	struct filch_procpool_map_opts o = { 0 };

	if (opts)
		o = *opts;
	if (!out || !pp || !fn || (!items && n) ||
	    (o.flags & ~FILCH_MAP_TIMEOUT_SET))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!items[i].data && items[i].len)
			return -EINVAL;
	unsigned workers = filch__pp_workers(pp);
	size_t chunksize = o.chunksize;

	if (!chunksize)
		chunksize = n / (4 * (size_t)workers) + 1;
	if (chunksize > PP_MAX_CHUNK)
		chunksize = PP_MAX_CHUNK;
	if (n && chunksize > n)
		chunksize = n;
	size_t nslots = o.buffersize ? o.buffersize : 2 * (size_t)workers;
	size_t chunks = n ? (n - 1) / chunksize + 1 : 1;

	if (nslots > chunks)
		nslots = chunks;
	if (nslots > PP_MAX_CHUNK)
		nslots = PP_MAX_CHUNK;
	filch_procpool_map_iter *it =
		calloc(1, sizeof(*it) + nslots * sizeof(it->ring[0]));
	int64_t timeout = o.timeout_ns;
	int rc = 0;

	if (!it)
		return -ENOMEM;
	if (!(o.flags & FILCH_MAP_TIMEOUT_SET) && timeout <= 0)
		timeout = FILCH_FOREVER; /* zero field: the default */
	it->pp = pp;
	it->items = items;
	it->n = n;
	it->chunksize = chunksize;
	it->nslots = nslots;
	it->deadline = filch__deadline(timeout);
	it->fn = (uintptr_t)fn;
	if (filch__pp_spawns(pp)) {
		int m = filch__pp_locate((const void *)(uintptr_t)fn, it->mod,
					 sizeof(it->mod), &it->fn);

		if (m < 0)
			rc = m;
		else
			it->mod_len = (uint32_t)m;
	}
	while (!rc && it->nfly < nslots && it->sent < n)
		rc = pp_map_send(it);
	if (rc) {
		filch_procpool_map_close(it);
		return rc;
	}
	*out = it;
	return 0;
}

/* Ends the iteration with rc (later calls: FILCH_END). */
static int pp_map_end(filch_procpool_map_iter *it, int rc)
{
	it->ended = true;
	return rc;
}

int filch_procpool_map_next(filch_procpool_map_iter *it,
			    const struct filch_bytes **result)
{
	if (!it || !result)
		return -EINVAL;
	while (!it->ended && it->rec == it->rec_end) {
		/* The chunk read so far is done: the oldest in flight. */
		if (it->cur) {
			filch_future_release(it->cur);
			it->cur = NULL;
		}
		if (!it->nfly)
			return pp_map_end(it, FILCH_END);
		filch_future *f = it->ring[it->taken % it->nslots];
		int64_t left = FILCH_FOREVER;
		struct filch_bytes *b;

		if (it->deadline != FILCH__NO_DEADLINE) {
			left = it->deadline - filch__now_ns();
			left = left > 0 ? left : 0;
		}
		int rc = filch_future_result(f, left, (void **)&b);

		if (rc == -ETIMEDOUT)
			return pp_map_end(it, rc);
		it->taken++;
		it->nfly--;
		it->cur = f;
		if (rc)
			return pp_map_end(it, rc);
		it->rec = b->data;
		it->rec_end = it->rec + b->len;
		if (it->sent < it->n && (rc = pp_map_send(it)) != 0)
			return pp_map_end(it, rc);
	}
	if (it->ended)
		return FILCH_END;
	struct pp_item_out r;

	memcpy(&r, it->rec, sizeof(r));
	if (r.code)
		return pp_map_end(it, r.code);
	it->out.len = (size_t)r.len;
	it->out.data = (void *)(it->rec + sizeof(r));
	it->rec += sizeof(r) + pp_round((size_t)r.len + 1);
	*result = &it->out;
	return 0;
}

void filch_procpool_map_close(filch_procpool_map_iter *it)
{
	if (!it)
		return;
	if (it->cur)
		filch_future_release(it->cur);
	/* Chunks not started never run; running ones finish in their
	 * workers and their futures free their results. */
	for (size_t k = 0; k < it->nfly; k++) {
		filch_future *f = it->ring[(it->taken + k) % it->nslots];

		filch_future_cancel(f);
		filch_future_release(f);
	}
	free(it);
}
