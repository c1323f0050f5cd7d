/* SPDX-License-Identifier: MIT */
/*
 * map.c - filch_mpi_map: a map over [0, n) spread over the ranks of a
 * communicator, with chunks handed out by a coordinator at the root.
 *
 * Protocol, on a duplicate of the communicator (so that no message of the
 * user's can match ours), every message through the progress engine:
 *  1. Every rank, the root too, asks the root for a chunk (TAG_REQ, one
 *     int64: 0, or the positive code of a local failure) whenever it has
 *     fewer than inflight chunks granted and not done, one request at a
 *     time, and runs each granted chunk as a task on its executor.
 *  2. The root's coordinator is a chain of receive futures whose callback
 *     (on the engine's thread) answers each request (TAG_GRANT, two int64:
 *     start and length; item mode: the chunk's items go first, TAG_ITEMS)
 *     with the next chunk, or with the end (length 0,
 *     start = the first failure code reported, 0 if none). Once a failure
 *     is reported, every later request gets the end: so every rank learns
 *     of it at its next request and cancels its chunks not yet started.
 *     The coordinator stops after it told every rank the end; it logs
 *     which rank got which chunk.
 *  3. Each rank, once told the end and with its chunks done, joins an
 *     all-reduce of (failure code, internal error): every rank returns the
 *     same outcome. No rank blocks for a failed one: a failure ends the
 *     grants, not the protocol.
 *  4. Without a failure, each rank sends its chunks' results to the root
 *     in the order it got them (TAG_DATA); the root receives each into its
 *     place from the log (MPI keeps the order of messages between two
 *     ranks with one tag), and computed its own chunks in place.
 *  5. Failures of the map's own: a rank's (no memory for a chunk, its
 *     results or its items, a submit refused, a chunk cancelled by someone
 *     else) stop the map as an item's failure does, with the rank's
 *     negative errno in the reduction's second word, which every rank
 *     returns. A grant's items are always received, into no room when
 *     they will not be used (the receive is truncated: the map's
 *     communicator returns errors), so that no send of the root's waits
 *     forever. The coordinator's own (no memory for a grant or for its
 *     log) answer every later request with the end (code ECANCELED if no
 *     item failed), its error in the reduction. Ends are sent from the
 *     coordinator's own buffers and need no allocation; the coordinator
 *     registers no callback (its futures' completions are the engine
 *     records' own, filch__mpi_p2p), so none can fail to register. A
 *     chunk's items are posted before its grant: items that cannot be
 *     posted are answered with the end. A grant that cannot be posted
 *     after its items, or whose send fails, is taken back (the same
 *     message, its length negated): its destination drops the chunk's
 *     items, asks again and gets the end.
 *  6. What still leaves ranks waiting (the one blocked, and the others in
 *     the all-reduce): a rank that cannot post its request or the receive
 *     of its answer cannot tell the root; the root's receive of requests
 *     that cannot be posted or fails answers no more; an end, or a grant
 *     taken back, that cannot be posted or whose send fails, and a
 *     chunk's items whose send fails (funnelled: also that MPI refuses,
 *     since the engine starts them after the grant was posted), leave
 *     their destination waiting. Items whose grant could be neither
 *     posted nor taken back may never be received: the root waits for
 *     their send.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/engine.h"

enum { TAG_REQ = 1, TAG_GRANT = 2, TAG_DATA = 3, TAG_ITEMS = 4 };

struct grant_log {
	int rank;
	size_t start, len;
};

/* The root's coordinator. Its fields are touched only by serve() and the
 * completions of its sends, all on the engine's thread (a post that fails
 * at once returns its error and runs no completion: filch__mpi_submit),
 * and by the root's map before the first listen() and after done
 * completes (the promise's completion orders them). */
struct coord {
	MPI_Comm comm;
	size_t n, chunk, next;
	int size, ended;
	int root;
	const unsigned char *items; /* filch_mpi_map_items: the root's */
	size_t item_size;
	int64_t code;	 /* first failure reported */
	int internal;	 /* the coordinator's own failure: a negative errno */
	int64_t msg;	 /* the request being received */
	/* The ends: (0, 0), and (code, 0) once a failure is known. Every
	 * rank gets one end; no allocation, so that an end can always be
	 * answered. */
	int64_t end_ok[2], end_fail[2];
	struct grant_log *log;
	size_t nlog, caplog;
	unsigned sending;   /* sends posted and not completed */
	filch_future *done; /* promise: every rank was told the end and
			       every send completed */
};

/* What each item runs: fn(arg, i, result), or, for filch_mpi_map_items,
 * item_fn(arg, i, item, result). */
struct job {
	filch_mpi_map_fn fn;
	filch_mpi_map_item_fn item_fn;
	void *arg;
	size_t rs, item_size;
};

/* A chunk granted to this rank. */
struct chunk {
	size_t start, len;
	unsigned char *buf; /* len * result_size bytes */
	filch_future *f;    /* its task; NULL once accounted for */
	const struct job *job;
	const unsigned char *items; /* the chunk's items (item mode) */
	bool own_items;		    /* received: freed with the chunk */
};

/* A grant on its way: its message, freed when the send completed. A
 * grant whose send failed is taken back with the same message, its length
 * negated. */
struct grant_msg {
	int64_t g[2];
	struct coord *c;
	int dest;
};

static void serve(filch_future *f, void *arg);

/* Posts the coordinator's next receive; 0 or a negative errno. Its
 * completion runs serve (no callback to register, so none that fails). */
static int listen(struct coord *c)
{
	filch_future *rf;

	return filch__mpi_p2p(false, &c->msg, 1, MPI_INT64_T, MPI_ANY_SOURCE,
			      TAG_REQ, c->comm, serve, c, &rf);
}

/* Completes done once every rank got its end and every send completed;
 * the last thing its caller does with c (the root's map then frees it). */
static void maybe_done(struct coord *c)
{
	if (c->ended < c->size || c->sending > 0)
		return;
	if (c->internal)
		filch_promise_set_error(c->done, -c->internal,
					"the map's coordinator failed");
	else
		filch_promise_set_result(c->done, NULL);
}

/* The coordinator's own failure: the map fails with it everywhere (every
 * later request gets the end). */
static void coord_fail(struct coord *c, int rc)
{
	if (!c->internal)
		c->internal = rc;
	if (!c->code) {
		c->code = ECANCELED;
		c->end_fail[0] = ECANCELED;
	}
}

/* Posts a send of the coordinator's, counted in sending until it completed
 * (done: sent, grant_sent or taken_back, with arg). 0 or a negative
 * errno. */
static int post_send(struct coord *c, const void *buf, int count,
		     MPI_Datatype type, int dest, int tag, filch_callback_fn done,
		     void *arg)
{
	filch_future *sf;
	int rc;

	c->sending++;
	rc = filch__mpi_p2p(true, buf, count, type, dest, tag, c->comm, done,
			    arg, &sf);
	if (rc)
		c->sending--;
	else
		filch_future_release(sf);
	return rc;
}

/* The send of f, the coordinator's, completed: 0, or its failure (a
 * negative errno), which fails the map. */
static int send_done(struct coord *c, filch_future *f)
{
	int rc = filch_future_result(f, 0, NULL);

	c->sending--;
	rc = rc > 0 ? -rc : rc;
	if (rc)
		coord_fail(c, rc);
	return rc;
}

/* The completion of an end, a chunk's items, or a grant taken back. Such
 * a send that failed fails the map, but its destination is not told: it
 * waits (for the items, or for an answer). */
static void sent(filch_future *f, void *arg)
{
	struct coord *c = arg;

	send_done(c, f);
	maybe_done(c);
}

static void taken_back(filch_future *f, void *arg)
{
	struct grant_msg *m = arg;

	sent(f, m->c);
	free(m);
}

/* Takes back the grant of m, which its destination did not get (the map
 * has failed): the same message, its length negated, tells the
 * destination, which waits for an answer, to drop the chunk's items and
 * ask again, and so to learn of the failure with the end. 0, or a
 * negative errno (m is freed then: the destination is not told). */
static int take_back(struct coord *c, struct grant_msg *m)
{
	int rc;

	m->g[1] = -m->g[1];
	rc = post_send(c, m->g, 2, MPI_INT64_T, m->dest, TAG_GRANT, taken_back,
		       m);
	if (rc)
		free(m);
	return rc;
}

/* A grant's send completed; one that failed is taken back. */
static void grant_sent(filch_future *f, void *arg)
{
	struct grant_msg *m = arg;
	struct coord *c = m->c;

	if (send_done(c, f) != 0)
		take_back(c, m);
	else
		free(m);
	maybe_done(c);
}

/* Grants rank dest the next chunk: logs it, sends (item mode, to another
 * rank) the chunk's items, then the grant. 0 when dest was answered (a
 * grant, or one taken back), or a negative errno when it was not. */
static int grant(struct coord *c, int dest)
{
	size_t start = c->next;
	size_t len = c->n - start < c->chunk ? c->n - start : c->chunk;
	struct grant_msg *m;
	bool items;
	int rc;

	if (c->nlog == c->caplog) {
		size_t cap = c->caplog ? 2 * c->caplog : 64;
		struct grant_log *l = realloc(c->log, cap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		c->log = l;
		c->caplog = cap;
	}
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct grant_msg){{(int64_t)start, (int64_t)len}, c, dest};
	/* The chunk's items go first (another tag: dest receives them after
	 * the grant), so that items that cannot be posted are answered with
	 * the end instead (the root reads its own). */
	items = c->items && dest != c->root;
	rc = items ? post_send(c, c->items + start * c->item_size,
			       (int)(len * c->item_size), MPI_BYTE, dest,
			       TAG_ITEMS, sent, c)
		   : 0;
	if (rc == 0) {
		rc = post_send(c, m->g, 2, MPI_INT64_T, dest, TAG_GRANT,
			       grant_sent, m);
		if (rc == 0) {
			c->log[c->nlog++] = (struct grant_log){dest, start, len};
			c->next += len;
			return 0;
		}
		if (items) {
			/* dest must still receive the items on their way. */
			coord_fail(c, rc);
			return take_back(c, m) == 0 ? 0 : rc;
		}
	}
	free(m);
	return rc;
}

/* Answers a request of rank src: a chunk, or the end. */
static void answer(struct coord *c, int src)
{
	int rc;

	if (c->msg > 0 && !c->code) {
		c->code = c->msg;
		c->end_fail[0] = c->msg;
	}
	if (!c->code && c->next < c->n) {
		rc = grant(c, src);
		if (rc == 0)
			return;
		coord_fail(c, rc);
	}
	c->ended++;
	rc = post_send(c, c->code ? c->end_fail : c->end_ok, 2, MPI_INT64_T,
		       src, TAG_GRANT, sent, c);
	if (rc)
		coord_fail(c, rc); /* src is not told: it waits */
}

static void serve(filch_future *f, void *arg)
{
	struct coord *c = arg;
	MPI_Status st;
	int rc = filch_mpi_status(f, 0, &st);

	filch_future_release(f);
	if (rc == 0)
		answer(c, st.MPI_SOURCE);
	if (rc == 0 && c->ended < c->size)
		rc = listen(c);
	if (rc) {
		/* A request that cannot be received, or no receive for the
		 * next: no more requests are answered, and done fails as
		 * soon as the sends completed (a rank not told waits). */
		coord_fail(c, rc > 0 ? -rc : rc);
		c->ended = c->size;
	}
	maybe_done(c);
}

static int run_chunk(void *arg, void **result)
{
	struct chunk *k = arg;
	const struct job *j = k->job;

	(void)result;
	for (size_t i = 0; i < k->len; i++) {
		void *res = j->rs ? k->buf + i * j->rs : NULL;
		int rc;

		if (filch_cancel_requested())
			return ECANCELED;
		if (j->item_fn)
			rc = j->item_fn(j->arg, k->start + i,
					k->items + i * j->item_size, res);
		else
			rc = j->fn(j->arg, k->start + i, res);
		if (rc)
			return rc;
	}
	return 0;
}

/* Waits for f and releases it; returns what filch_future_result does. */
static int settle(filch_future *f)
{
	int rc = filch_future_result(f, FILCH_FOREVER, NULL);

	filch_future_release(f);
	return rc;
}

/* Waits for the *n futures of fs and releases them: 0, or the first
 * failure as a negative errno. *n becomes 0. */
static int settle_all(filch_future **fs, size_t *n)
{
	int rc = 0;

	for (size_t i = 0; i < *n; i++) {
		int r = settle(fs[i]);

		rc = rc ? rc : (r > 0 ? -r : r);
	}
	*n = 0;
	return rc;
}

/* Runs on the engine's side (the caller with MPI_THREAD_MULTIPLE): the
 * rank and size of the duplicate, then a request that is complete at
 * once, so that the future finishes. */
struct shape {
	MPI_Comm comm;
	int rank, size;
};

static int post_shape(void *arg, MPI_Request *req)
{
	struct shape *s = arg;
	/* Errors on the map's messages fail their futures (a receive of
	 * items dropped into no room is truncated) instead of aborting. */
	int rc = MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);

	if (rc == MPI_SUCCESS)
		rc = MPI_Comm_rank(s->comm, &s->rank);
	if (rc == MPI_SUCCESS)
		rc = MPI_Comm_size(s->comm, &s->size);
	if (rc == MPI_SUCCESS)
		rc = MPI_Isend(NULL, 0, MPI_BYTE, MPI_PROC_NULL, 0,
			       MPI_COMM_SELF, req);
	return rc;
}

static int post_idup(void *arg, MPI_Request *req)
{
	struct shape *s = arg;

	return MPI_Comm_idup(s->comm, &s->comm, req);
}

static int post_free(void *arg, MPI_Request *req)
{
	MPI_Comm *comm = arg;
	int rc = MPI_Comm_free(comm);

	if (rc == MPI_SUCCESS)
		rc = MPI_Isend(NULL, 0, MPI_BYTE, MPI_PROC_NULL, 0,
			       MPI_COMM_SELF, req);
	return rc;
}

/* Posts fn(arg) and waits for it; 0 or a negative errno. */
static int call(filch_mpi_post_fn fn, void *arg)
{
	filch_future *f;
	int rc = filch_mpi_post(fn, arg, &f);

	if (rc)
		return rc;
	rc = settle(f);
	return rc > 0 ? -rc : rc;
}

/* The local part of the map: asks for chunks and runs them until told the
 * end. *code gets the failure code (this rank's or the one the end
 * carried); returns 0 or a negative errno of its own. */
struct local {
	MPI_Comm comm;
	int root;
	filch_executor *ex;
	const struct job *job;
	const unsigned char *items; /* the root's (item mode) */
	int rank;
	size_t rs, inflight;
	unsigned char *results; /* the root's */
	struct chunk **chunks;	/* in grant order; each its own allocation,
				   which its task reads */
	size_t nchunks, cap;
	size_t lo;		/* chunks[0..lo) are all accounted for */
	int internal;		/* this rank's own failure: a negative errno */
};

static void cancel_all(struct local *l)
{
	for (size_t i = l->lo; i < l->nchunks; i++)
		if (l->chunks[i]->f)
			filch_future_cancel(l->chunks[i]->f);
}

/* A granted chunk's items: the root's own, or received after the grant
 * (the root sends them right after it, so the wait is short). Received
 * for every grant, also one that will not run (want false), so that no
 * send of the root's is left unmatched: into no room then, or when there
 * is no memory for them (the receive is truncated: MPI_ERRORS_RETURN on
 * the map's communicator). *own: *items is a buffer to free. Returns 0,
 * or a negative errno (then *items is NULL). */
static int get_items(struct local *l, const int64_t *g, bool want,
		     const unsigned char **items, bool *own)
{
	size_t bytes = (size_t)g[1] * l->job->item_size;
	unsigned char *p = NULL, none;
	filch_future *f;
	int rc;

	*own = false;
	*items = NULL;
	if (l->rank == l->root) {
		*items = l->items + (size_t)g[0] * l->job->item_size;
		return 0;
	}
	if (want)
		p = malloc(bytes);
	rc = filch_mpi_irecv(p ? p : &none, p ? (int)bytes : 0, MPI_BYTE,
			     l->root, TAG_ITEMS, l->comm, &f);
	if (rc == 0) {
		rc = settle(f);
		rc = rc > 0 ? -rc : rc;
	}
	if (!p) {
		if (rc == -EMSGSIZE)
			rc = 0; /* dropped, as it should be */
		return rc ? rc : want ? -ENOMEM : 0;
	}
	if (rc) {
		free(p);
		return rc;
	}
	*items = p;
	*own = true;
	return 0;
}

/* Makes and submits the chunk g grants, with its items (item mode),
 * which it then owns. */
static int add_chunk(struct local *l, const int64_t *g,
		     const unsigned char *items, bool own)
{
	struct chunk *k;

	if (l->nchunks == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct chunk **c = realloc(l->chunks, cap * sizeof(*c));

		if (!c)
			goto fail;
		l->chunks = c;
		l->cap = cap;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		goto fail;
	k->start = (size_t)g[0];
	k->len = (size_t)g[1];
	k->job = l->job;
	k->items = items;
	k->own_items = own;
	l->chunks[l->nchunks++] = k;
	if (l->results)
		k->buf = l->results + k->start * l->rs;
	else if (l->rs && !(k->buf = calloc(k->len, l->rs)))
		return -ENOMEM;
	return filch_submit(l->ex, run_chunk, k, &k->f);
fail:
	if (own)
		free((void *)items);
	return -ENOMEM;
}

/* A failure on this rank: its code stops the map everywhere (it goes with
 * the next request, or the final reduction). */
static void fail_local(struct local *l, int64_t *code, int64_t what)
{
	if (*code == 0) {
		*code = what;
		cancel_all(l);
	}
}

/* This rank's own failure (a negative errno): as fail_local, and the map
 * returns it everywhere (the reduction's second word). */
static void fail_internal(struct local *l, int64_t *code, int rc)
{
	if (!l->internal)
		l->internal = rc;
	fail_local(l, code, -rc);
}

/* Asks the root for a chunk: posts the receive of the answer into g (*gf)
 * unless it is posted already, then the request (*sf, carrying *req:
 * code). 0, or a negative errno: the request was not posted, and the
 * receive, if posted, stays so that a later ask retries only the request
 * (never a second receive into g). */
static int ask(struct local *l, int64_t code, int64_t *req, int64_t *g,
	       filch_future **sf, filch_future **gf)
{
	int rc = *gf ? 0
		     : filch_mpi_irecv(g, 2, MPI_INT64_T, l->root, TAG_GRANT,
				       l->comm, gf);

	if (rc)
		return rc;
	*req = code;
	return filch_mpi_isend(req, 1, MPI_INT64_T, l->root, TAG_REQ, l->comm,
			       sf);
}

/* Waits until one of the n futures in fs is done. */
static void wait_any(filch_future **fs, size_t n)
{
	/* Without room for filch_wait's bookkeeping, waiting for the first
	 * one is slower but as correct. */
	if (filch_wait(fs, n, FILCH_FOREVER, FILCH_FIRST_COMPLETED, NULL) != 0)
		filch_future_result(fs[0], FILCH_FOREVER, NULL);
}

/* The chunk g grants (item mode: with its items, received whether or not
 * it will run): added and submitted unless the map failed already or the
 * root took the grant back (a negative length: the map failed). */
static void take(struct local *l, int64_t *code, const int64_t *g)
{
	const int64_t chunk[2] = {g[0], g[1] < 0 ? -g[1] : g[1]};
	const unsigned char *items = NULL;
	bool want = *code == 0 && g[1] > 0, own = false;
	int rc = 0;

	if (l->job->item_fn)
		rc = get_items(l, chunk, want, &items, &own);
	if (rc == 0 && want)
		rc = add_chunk(l, chunk, items, own);
	else if (own)
		free((void *)items);
	if (rc)
		fail_internal(l, code, rc);
}

/* Accounts for the chunks done; returns how many are still active. */
static size_t reap(struct local *l, int64_t *code)
{
	size_t active = 0;

	for (size_t i = l->lo; i < l->nchunks; i++) {
		struct chunk *k = l->chunks[i];
		int r;

		if (k->f && !filch_future_done(k->f)) {
			active++;
			continue;
		}
		if (i == l->lo)
			l->lo++;
		if (!k->f)
			continue;
		r = settle(k->f);
		k->f = NULL;
		if (r > 0)
			fail_local(l, code, r);
		else if (r == -ECANCELED && *code == 0)
			fail_local(l, code, ECANCELED); /* not by us */
		else if (r < 0 && r != -ECANCELED)
			fail_internal(l, code, r);
	}
	return active;
}

static int work(struct local *l, int64_t *code)
{
	filch_future **wait, *one[1], *gf = NULL, *sf = NULL;
	int64_t req = 0, g[2];
	size_t active = 0, nwait;
	bool ended = false, asked = false;
	int rc;

	*code = 0;
	/* At most inflight chunks are active, and one grant awaited. */
	wait = l->inflight < SIZE_MAX / sizeof(*wait) - 1
		       ? malloc((l->inflight + 1) * sizeof(*wait))
		       : NULL;
	if (!wait) {
		/* No chunk will be taken: only a grant is ever awaited. */
		fail_internal(l, code, -ENOMEM);
		wait = one;
	}
	while (!ended || active > 0) {
		if (!ended && !asked && active < l->inflight) {
			/* The previous request's buffer is reused. */
			if (sf && (rc = settle(sf)) != 0)
				fail_internal(l, code, rc > 0 ? -rc : rc);
			sf = NULL;
			rc = ask(l, *code, &req, g, &sf, &gf);
			asked = rc == 0;
			if (rc) {
				fail_internal(l, code, rc);
				if (active == 0)
					break; /* the root cannot be told */
				/* Asks again when a chunk is done. */
			}
		}
		nwait = 0;
		if (gf)
			wait[nwait++] = gf;
		for (size_t i = l->lo; i < l->nchunks; i++)
			if (l->chunks[i]->f)
				wait[nwait++] = l->chunks[i]->f;
		wait_any(wait, nwait);
		if (gf && filch_future_done(gf)) {
			rc = settle(gf);
			gf = NULL;
			asked = false;
			if (rc)
				fail_internal(l, code, rc > 0 ? -rc : rc);
			else if (g[1] == 0)
				ended = true;
			else
				take(l, code, g);
			if (ended && g[0] > 0)
				fail_local(l, code, g[0]);
		}
		active = reap(l, code);
	}
	if (wait != one)
		free(wait);
	if (gf) {
		/* Its request could not be posted: nothing will answer. */
		filch_future_cancel(gf);
		filch_future_release(gf);
	}
	if (sf && (rc = settle(sf)) != 0 && !l->internal)
		l->internal = rc > 0 ? -rc : rc;
	return l->internal;
}

/* Step 4: the results to the root. Every message is posted at once, or,
 * without room for their futures, one after the other. */
static int gather(struct local *l, struct coord *c, int rank)
{
	size_t nf = 0, cap = rank == l->root ? c->nlog : l->nchunks;
	filch_future **fs = calloc(cap ? cap : 1, sizeof(*fs)), *one[1];
	size_t batch = fs ? cap : 1;
	int rc = 0;

	if (!fs)
		fs = one;
	for (size_t i = 0; rc == 0 && i < cap; i++) {
		if (rank == l->root) {
			struct grant_log *g = &c->log[i];

			if (g->rank == rank)
				continue;
			rc = filch_mpi_irecv(l->results + g->start * l->rs,
					     (int)(g->len * l->rs), MPI_BYTE,
					     g->rank, TAG_DATA, l->comm,
					     &fs[nf]);
		} else {
			struct chunk *k = l->chunks[i];

			rc = filch_mpi_isend(k->buf, (int)(k->len * l->rs),
					     MPI_BYTE, l->root, TAG_DATA,
					     l->comm, &fs[nf]);
		}
		if (rc == 0 && ++nf == batch)
			rc = settle_all(fs, &nf);
	}
	if (nf) {
		int r = settle_all(fs, &nf);

		rc = rc ? rc : r;
	}
	if (fs != one)
		free(fs);
	return rc;
}

/* The map of both entries; job says which function each item runs. */
static int map_common(MPI_Comm comm, filch_executor *ex, size_t n,
		      const void *items, const struct job *job, int root,
		      void *results, const struct filch_mpi_map_opts *opts)
{
	size_t result_size = job->rs;
	bool local = opts && (opts->flags & FILCH_MPI_MAP_LOCAL);
	struct shape s = {comm, 0, 0};
	struct coord c = {0};
	struct local l = {0};
	int64_t code = 0, out[2], in[2];
	filch_future *f;
	int rc;

	if (!ex || root < 0 || (opts && (opts->flags & ~FILCH_MPI_MAP_LOCAL)))
		return -EINVAL;
	if (filch_current_executor() == ex)
		return -EDEADLK;
	rc = call(post_idup, &s);
	if (rc)
		return rc;
	rc = call(post_shape, &s);
	if (rc == 0 && root >= s.size)
		rc = -EINVAL;
	if (rc == 0 && (s.rank == root || local) && result_size && !results)
		rc = -EINVAL;
	if (rc == 0 && s.rank == root && job->item_size && n && !items)
		rc = -EINVAL;
	if (rc) {
		call(post_free, &s.comm);
		return rc;
	}
	l = (struct local){
		.comm = s.comm, .root = root, .ex = ex, .job = job,
		.items = items, .rank = s.rank, .rs = result_size,
		.inflight = opts && opts->inflight ? opts->inflight
						   : filch_executor_workers(ex) + 1,
		.results = s.rank == root || local ? results : NULL,
	};
	if (s.rank == root) {
		size_t workers = filch_executor_workers(ex);

		c.comm = s.comm;
		c.n = n;
		c.size = s.size;
		c.root = root;
		c.items = job->item_fn ? items : NULL;
		c.item_size = job->item_size;
		c.chunk = opts && opts->chunk ? opts->chunk
					      : n / (8 * (size_t)s.size * workers);
		if (c.chunk == 0)
			c.chunk = 1;
		if (result_size && c.chunk > INT_MAX / result_size)
			c.chunk = INT_MAX / result_size;
		if (job->item_size && c.chunk > INT_MAX / job->item_size)
			c.chunk = INT_MAX / job->item_size;
		rc = filch_promise_create(&c.done);
		if (rc == 0 && (rc = listen(&c)) != 0)
			filch_promise_set_error(c.done, -rc, NULL);
	}
	if (rc == 0)
		rc = work(&l, &code);
	if (c.done) {
		int r = settle(c.done);

		rc = rc ? rc : (r > 0 ? -r : r);
	}
	/* Step 3: the same outcome everywhere. */
	out[0] = code;
	out[1] = -rc;
	rc = filch_mpi_iallreduce(out, in, 2, MPI_INT64_T, MPI_MAX, s.comm, &f);
	if (rc == 0) {
		rc = settle(f);
		rc = rc > 0 ? -rc : rc;
	}
	if (rc == 0 && in[1] > 0)
		rc = (int)-in[1];
	else if (rc == 0 && in[0] == ECANCELED)
		rc = -ECANCELED;
	else if (rc == 0 && in[0] > 0)
		rc = (int)in[0];
	else if (rc == 0 && result_size && !local)
		rc = gather(&l, &c, s.rank);
	for (size_t i = 0; i < l.nchunks; i++) {
		if (!l.results)
			free(l.chunks[i]->buf);
		if (l.chunks[i]->own_items)
			free((void *)l.chunks[i]->items);
		free(l.chunks[i]);
	}
	free(l.chunks);
	free(c.log);
	call(post_free, &s.comm);
	return rc;
}

int filch_mpi_map(MPI_Comm comm, filch_executor *ex, size_t n,
		  filch_mpi_map_fn fn, void *arg, size_t result_size, int root,
		  void *results, const struct filch_mpi_map_opts *opts)
{
	struct job job = {.fn = fn, .arg = arg, .rs = result_size};

	if (!fn)
		return -EINVAL;
	return map_common(comm, ex, n, NULL, &job, root, results, opts);
}

int filch_mpi_map_items(MPI_Comm comm, filch_executor *ex, const void *items,
			size_t n, size_t item_size, filch_mpi_map_item_fn fn,
			void *arg, size_t result_size, int root, void *results,
			const struct filch_mpi_map_opts *opts)
{
	struct job job = {.item_fn = fn, .arg = arg, .rs = result_size,
			  .item_size = item_size};

	if (!fn || item_size == 0)
		return -EINVAL;
	return map_common(comm, ex, n, items, &job, root, results, opts);
}
