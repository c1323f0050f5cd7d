/* SPDX-License-Identifier: MIT */
/*
 * shutdown_report.c - filch_shutdown_timed: a shutdown that waits up to a
 * deadline and then names the tasks still running (the stragglers), read
 * from their workers' frames (frame.c); filch_shutdown_report_free.
 *
 * How long a straggler has run. A clock read per task would cost every
 * task ~20 ns, so the task path records no time; the reporter samples
 * instead. Each call inspects the workers when it starts to wait and when
 * it gives up; the first sample that sees a frame stamps it with the time
 * (its seen, which the task path sets to 0 at entry: no clock read there).
 * A frame is stamped while it is live, so its stamp is at or after its
 * task's start: running_ns is the time since the stamp, a lower bound,
 * short by the time between the task's start and the first sample that
 * saw it; 0 for a task that no earlier sample saw. The samples taken by
 * earlier calls on the same executor count too.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "alloc.h"
#include "executor.h"
#include "frame.h"
#include "futex.h"

/* Serializes the samples (and with them the stamps of the frames). */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/* One frame that a sample saw. */
struct sighting {
	unsigned slot;
	void (*fn)(void);
	filch_future *future; /* retained, or NULL */
	int64_t since; /* the frame's stamp, or 0: this sample's end */
};

struct sample {
	struct sighting *v; /* slots ascending, innermost frame first */
	size_t n, cap;
	bool retain;  /* take a reference to each frame's future */
	int64_t ended; /* when the inspection ended */
};

static void sample_drop(struct sample *s)
{
	for (size_t i = 0; i < s->n; i++)
		filch_future_release(s->v[i].future);
	filch__free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* frame.c's visit: fr cannot be left while we read it, so its future
 * still holds its task's reference and may be retained, and its stamp
 * written (see the top). */
static int visit(void *arg, unsigned slot, struct filch__task_frame *fr)
{
	struct sample *s = arg;
	struct sighting *g;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct sighting *v = filch__malloc(cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		if (s->n)
			memcpy(v, s->v, s->n * sizeof(*v));
		filch__free(s->v);
		s->v = v;
		s->cap = cap;
	}
	g = &s->v[s->n++];
	g->slot = slot;
	g->since = fr ? fr->seen : 0;
	if (fr && !fr->seen)
		fr->seen = filch__now_ns(); /* after the task's start */
	g->fn = fr ? fr->fn : NULL;
	g->future = fr && s->retain ? fr->future : NULL;
	if (g->future)
		filch_future_retain(g->future);
	return 0;
}

/* A sighting that no earlier sample saw has run since this sample's end
 * (now), at most. */
static void note(struct sample *s, int64_t now)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->v[i].since)
			s->v[i].since = now;
}

/* Inspects ex's threads into s (futures retained if s->retain) and sets
 * each sighting's since. 0, or -ENOMEM with s empty. */
static int take_sample(filch_executor *ex, struct sample *s)
{
	/* Acquire: pairs with filch__executor_start_spare's release. */
	unsigned n = filch__load(&ex->nthreads, acquire);
	int rc;

	pthread_mutex_lock(&report_lock);
	rc = filch__frames_inspect(&ex->workers[0].frames, n,
				   sizeof(ex->workers[0]), visit, s);
	if (rc == 0) {
		s->ended = filch__now_ns();
		note(s, s->ended);
	}
	pthread_mutex_unlock(&report_lock);
	if (rc)
		sample_drop(s);
	return rc;
}

/*
 * Tasks in the injector: a walk under the queue's one-taker trylock
 * (inject.h), as filch__inject_take holds it, taking nothing. A worker
 * holds it only across a few dequeues: yield until it is free.
 */
static size_t injected(struct filch__inject *q)
{
	struct cds_wfcq_node *node;
	size_t n = 0;

	if (cds_wfcq_empty(&q->head, &q->tail))
		return 0;
	/* Acquire: the last taker's dequeues (its writes to head) before
	 * our walk; pairs with the release store below and in
	 * filch__inject_take. */
	while (filch__xchg(&q->taking, true, acquire))
		sched_yield();
	for (node = __cds_wfcq_first_blocking(&q->head, &q->tail); node;
	     node = __cds_wfcq_next_blocking(&q->head, &q->tail, node))
		n++;
	/* Release: pairs with the acquire exchange of the next taker. */
	filch__store(&q->taking, false, release);
	return n;
}

static size_t queued(filch_executor *ex)
{
	unsigned n = filch__load(&ex->nthreads, acquire); /* as above */
	size_t sum = injected(&ex->inject);

	for (unsigned i = 0; i < n; i++)
		sum += filch__deque_size_hint(&ex->workers[i].deque);
	return sum;
}

/* fn's exact symbol, or NULL (a static function, or none found). */
static const char *symbol_of(void (*fn)(void))
{
	Dl_info info;
	void *addr;

	memcpy(&addr, &fn, sizeof(addr)); /* as dlsym's callers do */
	if (!fn || !dladdr(addr, &info) || !info.dli_sname ||
	    info.dli_saddr != addr)
		return NULL;
	return info.dli_sname;
}

/* The report of sample s, in one allocation; NULL when it cannot be had.
 * The references of s's futures move into it. */
static struct filch_shutdown_report *report_of(struct sample *s,
					       size_t nqueued)
{
	size_t size = sizeof(struct filch_shutdown_report) +
		      s->n * sizeof(struct filch_straggler);
	struct filch_shutdown_report *r;
	char *names;

	for (size_t i = 0; i < s->n; i++) {
		const char *name = symbol_of(s->v[i].fn);

		size += name ? strlen(name) + 1 : 0;
	}
	if (!(r = filch__malloc(size)))
		return NULL;
	r->nstragglers = s->n;
	r->stragglers = (struct filch_straggler *)(void *)(r + 1);
	r->queued = nqueued;
	names = (char *)(r->stragglers + s->n);
	for (size_t a = 0, b; a < s->n; a = b) {
		for (b = a; b < s->n && s->v[b].slot == s->v[a].slot; b++)
			;
		for (size_t i = a; i < b; i++) {
			struct filch_straggler *st = &r->stragglers[i];
			const char *name = symbol_of(s->v[i].fn);

			st->worker = s->v[i].slot;
			st->depth = (unsigned)(b - 1 - i);
			st->fn = s->v[i].fn;
			st->name = NULL;
			if (name) {
				size_t len = strlen(name) + 1;

				st->name = memcpy(names, name, len);
				names += len;
			}
			st->future = s->v[i].future;
			st->running_ns = s->ended - s->v[i].since;
		}
	}
	filch__free(s->v);
	return r;
}

int filch_shutdown_timed(filch_executor *ex, unsigned flags,
			 int64_t timeout_ns,
			 struct filch_shutdown_report **report)
{
	int64_t deadline = filch__deadline(timeout_ns);
	struct sample s = {.retain = false};
	struct filch_shutdown_report *r;
	int rc = filch__shutdown_begin(ex, flags, deadline);

	if (rc != 0)
		return rc;
	if (filch__self_executor() == ex)
		return -EDEADLK;
	/* The first sample: a straggler seen now has run the whole wait
	 * (none for a poll, nor without a deadline: no report then). */
	if (report && timeout_ns > 0 && take_sample(ex, &s) == 0)
		sample_drop(&s);
	if ((rc = filch__executor_join(ex, deadline)) == 0) {
		if (report)
			*report = NULL;
		return 0;
	}
	if (!report)
		return rc;
	s.retain = true;
	if (take_sample(ex, &s) != 0)
		return -ENOMEM;
	if (!(r = report_of(&s, queued(ex)))) {
		sample_drop(&s);
		return -ENOMEM;
	}
	*report = r;
	return -ETIMEDOUT;
}

void filch_shutdown_report_free(struct filch_shutdown_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nstragglers; i++)
		filch_future_release(r->stragglers[i].future);
	filch__free(r);
}
