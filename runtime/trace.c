/* SPDX-License-Identifier: MIT */
/*
 * trace.c - the timeline trace: filch_trace_start, filch_trace_stop, the
 * rings the workers write events into, and the Chrome Trace Event JSON
 * that Perfetto and chrome://tracing open.
 *
 * One ring per worker slot in use when tracing starts, and one for the
 * foreign threads (their submissions), allocated by filch_trace_start: no
 * lock and no allocation while tracing. A ring keeps its last events:
 * when it is full the next event overwrites the oldest one, and head (the
 * events ever written) minus the ring's size is what was dropped.
 *
 * The JSON leaves out an end whose begin is not in the ring (it came
 * before the trace started, or was dropped), so that every end closes a
 * begin of its lane; a begin whose end did not come yet stays open.
 *
 * busy, the count of writers inside put of a ring's slot (struct
 * filch__trace_slot, which outlives the ring), lets the stopper free a
 * ring that workers may still be writing into:
 *  writer: busy += 1 (seq_cst), re-read the trace pointer (seq_cst); if
 *          it is still the ring, claim a slot and fill it; busy -= 1
 *          (release: the slot's fields before it).
 *  stopper: trace pointer = NULL (seq_cst), then wait until busy reads 0
 *          (seq_cst, which acquires the writers' decrements).
 * Either the writer's re-read follows the stopper's store (it sees NULL
 * and writes nothing), or its increment precedes the stopper's load of
 * busy (the stopper waits for its decrement): no event is written into a
 * ring once the stopper reads it, and every event counted in its head is
 * written by then (stress/trace.pml checks both with spin, a ring's
 * address reused by the next start included). Foreign threads share their
 * ring, so slots are claimed with fetch_add on head; fields are relaxed
 * atomics, so that two writers a whole ring apart cannot race on one slot
 * (the older event is overwritten, as any dropped event is).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "futex.h"
#include "trace.h"

/* Events per ring when the options do not say: 32 bytes each. */
#define DEFAULT_EVENTS (1u << 14)
#define MAX_EVENTS ((size_t)1 << 24)

struct event {
	_Atomic uint64_t ts; /* CLOCK_MONOTONIC, ns */
	_Atomic uintptr_t addr;
	_Atomic int64_t arg;
	_Atomic uint32_t type; /* enum filch__trace_type */
};

struct filch__trace_ring {
	_Atomic uint64_t head;	/* events ever written */
	uint64_t mask;		/* events in the ring, minus 1 */
	struct event ev[];
};

struct filch__tracing {
	int64_t t0;	 /* when it started */
	int env_seq;	 /* FILCH_TRACE's file number, or -1 */
	unsigned nrings; /* worker slots traced; the foreign ring is last */
	struct filch__trace_ring *rings[];
};

/* Serializes starts and stops of every executor (they are rare); held
 * across fork() (filch__trace_lock). */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

void filch__trace_lock(void)
{
	pthread_mutex_lock(&trace_lock);
}

void filch__trace_unlock(void)
{
	pthread_mutex_unlock(&trace_lock);
}

_Atomic unsigned filch__traces_on;

/* Records an event into ring r, which was read from slot. */
static void put(struct filch__trace_slot *slot, struct filch__trace_ring *r,
		unsigned type, uintptr_t addr, int64_t arg)
{
	/* seq_cst: counted before the re-read below; pairs with detach's
	 * seq_cst store of NULL then load of busy (Dekker, see the top). */
	filch__add(&slot->busy, 1, seq_cst);
	if (filch__load(&slot->ring, seq_cst) == r) {
		/* Relaxed: busy's decrement publishes the slot. */
		uint64_t i = filch__add(&r->head, 1, relaxed);
		struct event *e = &r->ev[i & r->mask];

		filch__store(&e->ts, (uint64_t)filch__now_ns(), relaxed);
		filch__store(&e->addr, addr, relaxed);
		filch__store(&e->arg, arg, relaxed);
		filch__store(&e->type, type, relaxed);
	}
	/* Release: the event before the count drops; pairs with detach's
	 * seq_cst load of busy. */
	filch__sub(&slot->busy, 1, release);
}

/* Records an event into the ring slot publishes, if any. */
static void put_slot(struct filch__trace_slot *slot, unsigned type,
		     uintptr_t addr, int64_t arg)
{
	/* Acquire: the ring is set up before it is published; pairs with
	 * the release store in filch_trace_start. */
	struct filch__trace_ring *r = filch__load(&slot->ring, acquire);

	if (r)
		put(slot, r, type, addr, arg);
}

void filch__trace_worker_event(struct filch__worker *w, unsigned type,
			       uintptr_t addr, int64_t arg)
{
	put_slot(&w->trace, type, addr, arg);
}

void filch__trace_self_event(unsigned type, uintptr_t addr, int64_t arg)
{
	struct filch__worker *w = filch__self;

	if (w)
		put_slot(&w->trace, type, addr, arg);
}

void filch__trace_foreign_event(filch_executor *ex)
{
	put_slot(&ex->trace_foreign, FILCH__EV_SUBMIT, 0, 0);
}

static void tracing_free(struct filch__tracing *tr)
{
	for (unsigned i = 0; i <= tr->nrings; i++)
		filch__free(tr->rings[i]);
	filch__free(tr);
}

/* A tracing record with nrings worker rings and the foreign one, each of
 * events events (a power of two), or NULL. */
static struct filch__tracing *tracing_new(unsigned nrings, size_t events)
{
	struct filch__tracing *tr =
		filch__calloc(1, sizeof(*tr) + (nrings + 1) * sizeof(tr->rings[0]));

	if (!tr)
		return NULL;
	tr->nrings = nrings;
	tr->env_seq = -1;
	for (unsigned i = 0; i <= nrings; i++) {
		struct filch__trace_ring *r =
			filch__calloc(1, sizeof(*r) + events * sizeof(r->ev[0]));

		if (!(tr->rings[i] = r)) {
			tracing_free(tr);
			return NULL;
		}
		r->mask = events - 1;
	}
	tr->t0 = filch__now_ns();
	return tr;
}

/* The rings' trace pointers: worker i's, or the foreign threads' for
 * i == nrings. */
static struct filch__trace_slot *ring_slot(filch_executor *ex,
					   struct filch__tracing *tr, unsigned i)
{
	return i < tr->nrings ? &ex->workers[i].trace : &ex->trace_foreign;
}

/* Stops every writer of tr's rings (see the top). */
static void detach(filch_executor *ex, struct filch__tracing *tr)
{
	for (unsigned i = 0; i <= tr->nrings; i++) {
		struct filch__trace_slot *slot = ring_slot(ex, tr, i);

		/* seq_cst: NULL before the load of busy; pairs with put's
		 * increment then re-read. */
		filch__store(&slot->ring, NULL, seq_cst);
		while (filch__load(&slot->busy, seq_cst) != 0)
			sched_yield();
	}
}

static size_t ring_events(const struct filch_trace_opts *opts)
{
	size_t want = opts && opts->events ? opts->events : DEFAULT_EVENTS;
	size_t n = 1;

	while (n < want)
		n <<= 1;
	return n;
}

int filch_trace_start(filch_executor *ex, const struct filch_trace_opts *opts)
{
	if (!ex || (opts && (opts->flags || opts->events > MAX_EVENTS)))
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	pthread_mutex_lock(&trace_lock);
	if (ex->tracing) {
		pthread_mutex_unlock(&trace_lock);
		return -EBUSY;
	}
	/* Acquire: a spare's slot is set up before it is counted
	 * (filch__executor_start_spare). */
	struct filch__tracing *tr =
		tracing_new(filch__load(&ex->nthreads, acquire), ring_events(opts));

	if (tr) {
		ex->tracing = tr;
		/* Release: each ring set up before it is published; pairs
		 * with the acquire load of the ring in put_slot (a worker's
		 * events and the foreign submissions alike). */
		for (unsigned i = 0; i <= tr->nrings; i++)
			filch__store(&ring_slot(ex, tr, i)->ring, tr->rings[i],
				     release);
		/* Relaxed, both: gates (filch__tracing, and run_state's
		 * TRACED for the task bodies and foreign submissions,
		 * executor.h); the lock orders the starts and stops. */
		filch__add(&filch__traces_on, 1, relaxed);
		filch__or(&ex->run_state, FILCH__EX_TRACED, relaxed);
	}
	pthread_mutex_unlock(&trace_lock);
	return tr ? 0 : -ENOMEM;
}

/* Writes s as a JSON string's contents. */
static void json_chars(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

/* The name of the function at addr: its symbol, else module+offset. */
static void json_function_name(FILE *f, uintptr_t addr)
{
	Dl_info info;

	if (dladdr((void *)addr, &info) && info.dli_sname &&
	    (uintptr_t)info.dli_saddr == addr) {
		json_chars(f, info.dli_sname);
	} else if (dladdr((void *)addr, &info) && info.dli_fname) {
		const char *base = strrchr(info.dli_fname, '/');

		json_chars(f, base ? base + 1 : info.dli_fname);
		fprintf(f, "+0x%" PRIxPTR, addr - (uintptr_t)info.dli_fbase);
	} else {
		fprintf(f, "0x%" PRIxPTR, addr);
	}
}

/* One event of lane tid as a Chrome Trace Event object; *open counts the
 * lane's begins not yet ended (an end without one is left out). */
static void write_event(FILE *f, const struct filch__tracing *tr, int pid,
			unsigned tid, const struct event *e, uint64_t *open)
{
	static const char *const names[] = {
		[FILCH__EV_STEAL] = "steal", [FILCH__EV_PARK] = "park",
		[FILCH__EV_UNPARK] = "park", [FILCH__EV_WAIT_BEGIN] = "wait",
		[FILCH__EV_WAIT_END] = "wait", [FILCH__EV_SUBMIT] = "submit",
	};
	static const char phase[] = {
		[FILCH__EV_TASK_BEGIN] = 'B', [FILCH__EV_TASK_END] = 'E',
		[FILCH__EV_STEAL] = 'i',      [FILCH__EV_PARK] = 'B',
		[FILCH__EV_UNPARK] = 'E',     [FILCH__EV_WAIT_BEGIN] = 'B',
		[FILCH__EV_WAIT_END] = 'E',   [FILCH__EV_SUBMIT] = 'i',
	};
	uint32_t type = filch__load(&e->type, relaxed);
	uintptr_t addr = filch__load(&e->addr, relaxed);
	int64_t arg = filch__load(&e->arg, relaxed);
	int64_t ts = (int64_t)filch__load(&e->ts, relaxed) - tr->t0;

	if (type < FILCH__EV_TASK_BEGIN || type > FILCH__EV_SUBMIT)
		return;
	if (phase[type] == 'E' && *open == 0)
		return;
	*open += phase[type] == 'B';
	*open -= phase[type] == 'E';
	fprintf(f, ",\n{\"ph\":\"%c\",\"pid\":%d,\"tid\":%u,\"ts\":%" PRId64
		   ".%03" PRId64 ",\"name\":\"",
		phase[type], pid, tid, ts / 1000, ts % 1000);
	if (type == FILCH__EV_TASK_BEGIN || type == FILCH__EV_TASK_END)
		json_function_name(f, addr);
	else
		fputs(names[type], f);
	fprintf(f, "\",\"cat\":\"%s\"",
		type <= FILCH__EV_TASK_END ? "task" : "filch");
	if (phase[type] == 'i')
		fputs(",\"s\":\"t\"", f);
	if (type == FILCH__EV_TASK_BEGIN)
		fprintf(f, ",\"args\":{\"fn\":\"0x%" PRIxPTR "\"}", addr);
	else if (type == FILCH__EV_TASK_END)
		fprintf(f, ",\"args\":{\"rc\":%" PRId64 "}", arg);
	else if (type == FILCH__EV_STEAL)
		fprintf(f, ",\"args\":{\"victim\":%" PRId64 "}", arg);
	fputc('}', f);
}

static uint64_t ring_dropped(const struct filch__trace_ring *r)
{
	uint64_t head = filch__load((_Atomic uint64_t *)&r->head, relaxed);

	return head > r->mask + 1 ? head - (r->mask + 1) : 0;
}

/* Writes tr (detached: nobody writes its rings) to f. */
static void write_trace(FILE *f, const filch_executor *ex,
			const struct filch__tracing *tr)
{
	int pid = (int)getpid();
	uint64_t dropped = 0;

	fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
		   "{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\","
		   "\"args\":{\"name\":\"filch executor %p\"}}",
		pid, (const void *)ex);
	for (unsigned i = 0; i <= tr->nrings; i++) {
		const struct filch__trace_ring *r = tr->rings[i];
		uint64_t head = filch__load((_Atomic uint64_t *)&r->head, relaxed);

		fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%u,"
			   "\"name\":\"thread_name\",\"args\":{\"name\":\"",
			pid, i);
		if (i == tr->nrings)
			fputs("foreign threads", f);
		else
			fprintf(f, "%s %u", i < ex->nworkers ? "worker" : "spare", i);
		fputs("\"}}", f);
		uint64_t open = 0; /* begins written and not yet ended */

		for (uint64_t k = ring_dropped(r); k < head; k++)
			write_event(f, tr, pid, i, &r->ev[k & r->mask], &open);
		dropped += ring_dropped(r);
	}
	fprintf(f, "\n],\"otherData\":{\"dropped\":\"%" PRIu64 "\",\"rings\":[",
		dropped);
	for (unsigned i = 0; i <= tr->nrings; i++)
		fprintf(f, "%s{\"tid\":%u,\"events\":\"%" PRIu64
			   "\",\"dropped\":\"%" PRIu64 "\"}",
			i ? "," : "", i,
			filch__load((_Atomic uint64_t *)&tr->rings[i]->head, relaxed),
			ring_dropped(tr->rings[i]));
	fputs("]}}\n", f);
}

/* Writes tr to path: 0 or a negative errno (the file is removed then). */
static int write_file(const filch_executor *ex,
		      const struct filch__tracing *tr, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	write_trace(f, ex, tr);
	int rc = ferror(f) ? -EIO : 0;

	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc != 0)
		unlink(path);
	return rc;
}

int filch_trace_stop(filch_executor *ex, const char *path)
{
	if (!ex)
		return -EINVAL;
	if (filch__executor_inherited(ex))
		return -EOWNERDEAD;
	pthread_mutex_lock(&trace_lock);
	struct filch__tracing *tr = ex->tracing;

	if (tr) {
		filch__and(&ex->run_state, ~FILCH__EX_TRACED, relaxed);
		detach(ex, tr);
		ex->tracing = NULL;
		filch__sub(&filch__traces_on, 1, relaxed); /* as in start */
	}
	pthread_mutex_unlock(&trace_lock);
	if (!tr)
		return -EINVAL;
	int rc = path ? write_file(ex, tr, path) : 0;

	tracing_free(tr);
	return rc;
}

/* FILCH_TRACE's files so far in this process. */
static _Atomic int env_files;

void filch__trace_created(filch_executor *ex)
{
	if (!getenv("FILCH_TRACE") || filch_trace_start(ex, NULL) != 0)
		return;
	/* Relaxed: a number, nothing to order. */
	ex->tracing->env_seq = filch__add(&env_files, 1, relaxed);
}

void filch__trace_destroyed(filch_executor *ex)
{
	const char *path = getenv("FILCH_TRACE");
	struct filch__tracing *tr = ex->tracing; /* its threads are gone */

	if (!path || !tr || tr->env_seq < 0)
		return;
	if (tr->env_seq == 0) {
		filch_trace_stop(ex, path);
		return;
	}
	size_t n = strlen(path) + 16;
	char *name = filch__malloc(n);

	if (name)
		snprintf(name, n, "%s.%d", path, tr->env_seq);
	filch_trace_stop(ex, name);
	filch__free(name);
}

void filch__trace_freed(filch_executor *ex)
{
	if (!ex->tracing)
		return;
	filch__sub(&filch__traces_on, 1, relaxed); /* as in start */
	tracing_free(ex->tracing);
}
