/* SPDX-License-Identifier: MIT */
/* test_port.c - the completion port's contract: readiness, exact-once
 * completion-order delivery, coalesced wake-ups, no lost completion across
 * drain/epoll cycles, and destruction with futures still pending. */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <filch.h>

#include "tap.h"

#ifdef FILCH_FAULT_INJECTION
#include "runtime/fault_ctl.h"
#endif

#define TAG(i)	 ((void *)(uintptr_t)(i))
#define UNTAG(p) ((size_t)(uintptr_t)(p))

static bool readable(filch_port *p)
{
	struct pollfd pfd = {.fd = filch_port_fd(p), .events = POLLIN};
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/* Waits up to timeout_ms for the port's fd to become readable. */
static bool wait_readable(int epfd, int timeout_ms)
{
	struct epoll_event ev;
	int64_t deadline = tap_now_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		int left = (int)((deadline - tap_now_ns()) / 1000000);
		int r = epoll_wait(epfd, &ev, 1, left > 0 ? left : 0);
		if (r == 1)
			return true;
		if (r == 0 || left <= 0)
			return false;
	}
}

static int watch(filch_port *p)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, filch_port_fd(p), &ev))
		bail_out("epoll setup failed");
	return epfd;
}

static filch_future *promise(void)
{
	filch_future *f;
	if (filch_promise_create(&f))
		bail_out("filch_promise_create failed");
	return f;
}

static void test_arguments(void)
{
	filch_port *p = NULL;
	struct filch_port_event ev;
	size_t n = 7;

	is(filch_port_create(NULL, 0), -EINVAL, "create: NULL handle");
	is(filch_port_create(&p, 1), -EINVAL, "create: unknown flag");
	ok(p == NULL, "create: nothing returned on error");
	is(filch_port_create(&p, 0), 0, "create");
	int fd = filch_port_fd(p);
	ok(fd >= 0, "fd is a descriptor");
	ok(fcntl(fd, F_GETFL) & O_NONBLOCK, "fd is non-blocking");
	ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd is close-on-exec");
	is(filch_port_fd(NULL), -EINVAL, "fd: NULL port");

	filch_future *f = promise();
	is(filch_port_add(NULL, f, NULL), -EINVAL, "add: NULL port");
	is(filch_port_add(p, NULL, NULL), -EINVAL, "add: NULL future");
	is(filch_port_drain(NULL, &ev, 1, &n), -EINVAL, "drain: NULL port");
	is(filch_port_drain(p, NULL, 1, &n), -EINVAL, "drain: NULL out");
	is(filch_port_drain(p, &ev, 1, NULL), -EINVAL, "drain: NULL count");
	is(filch_port_drain(p, NULL, 0, &n), 0, "drain: cap 0 is fine");
	is(n, 0, "drain: cap 0 takes nothing");
	ok(!readable(p), "a new port is not readable");
	filch_future_release(f);
	filch_port_destroy(p);
	filch_port_destroy(NULL);
	ok(1, "destroy(NULL) is a no-op");
}

static void test_readiness(void)
{
	filch_port *p;
	struct filch_port_event ev[4];
	size_t n = 99;
	int value = 42;

	filch_port_create(&p, 0);
	filch_future *f = promise();
	is(filch_port_add(p, f, TAG(7)), 0, "add a pending promise");
	ok(!readable(p), "pending: not readable");
	is(filch_port_drain(p, ev, 4, &n), 0, "drain with nothing done");
	is(n, 0, "... takes nothing");
	filch_promise_set_result(f, &value);
	ok(readable(p), "readable once the future completes");
	is(filch_port_drain(p, ev, 4, &n), 0, "drain");
	is(n, 1, "... takes one event");
	ok(ev[0].future == f && ev[0].tag == TAG(7),
	   "... the future and its tag");
	void *result = NULL;
	ok(filch_future_result(ev[0].future, 0, &result) == 0 &&
	       result == &value,
	   "... with its result");
	ok(!readable(p), "not readable after the drain");
	is(filch_port_drain(p, ev, 4, &n), 0, "drain again");
	is(n, 0, "... each event once");
	filch_future_release(ev[0].future);

	/* A future done before it is added is queued at once; the user's
	 * reference may go right after add. */
	is(filch_port_add(p, f, TAG(8)), 0, "add a done future");
	filch_future_release(f);
	ok(readable(p), "... readable at once");
	filch_port_drain(p, ev, 4, &n);
	ok(n == 1 && ev[0].future == f && ev[0].tag == TAG(8),
	   "... drained with the port's reference");
	is(filch_future_state(ev[0].future), FILCH_FINISHED, "... still valid");
	filch_future_release(ev[0].future);

	/* Cancellation is a completion too. */
	f = promise();
	filch_port_add(p, f, TAG(9));
	filch_port_add(p, f, TAG(10));
	ok(filch_future_cancel(f), "cancel an added promise");
	filch_port_drain(p, ev, 4, &n);
	ok(n == 2 && ev[0].tag == TAG(9) && ev[1].tag == TAG(10) &&
	       filch_future_cancelled(ev[0].future),
	   "a cancelled future is delivered, once per add");
	filch_future_release(ev[0].future);
	filch_future_release(ev[1].future);
	filch_future_release(f);
	filch_port_destroy(p);
}

enum { ORDER_N = 50 };

static void test_order_and_coalescing(void)
{
	filch_port *p;
	filch_future *fs[ORDER_N];
	size_t perm[ORDER_N];
	struct filch_port_event ev[ORDER_N + 1];
	size_t n;

	filch_port_create(&p, 0);
	for (size_t i = 0; i < ORDER_N; i++) {
		fs[i] = promise();
		filch_port_add(p, fs[i], TAG(i));
		perm[i] = i;
	}
	srand(12345);
	for (size_t i = ORDER_N - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < ORDER_N; i++)
		filch_promise_set_result(fs[perm[i]], NULL);

	/* White box: the eventfd's counter is the number of writes made. */
	uint64_t writes = 0;
	ok(read(filch_port_fd(p), &writes, sizeof writes) == sizeof writes,
	   "the eventfd was written");
	is(writes, 1, "%d completions made one eventfd write", ORDER_N);
	filch_port_drain(p, ev, ORDER_N + 1, &n);
	is(n, ORDER_N, "drain takes every event");
	bool in_order = true;
	for (size_t i = 0; i < n; i++) {
		in_order &= ev[i].tag == TAG(perm[i]);
		filch_future_release(ev[i].future);
	}
	ok(in_order, "events come in completion order");

	/* After a drain the port is re-armed: the next completion writes. */
	filch_future *f = promise();
	filch_port_add(p, f, NULL);
	filch_promise_set_result(f, NULL);
	writes = 0;
	ok(read(filch_port_fd(p), &writes, sizeof writes) == sizeof writes &&
	       writes == 1,
	   "re-armed after a drain: one write for the next completion");
	filch_port_drain(p, ev, 1, &n);
	filch_future_release(ev[0].future);
	filch_future_release(f);

	/* A small cap leaves events queued, and the fd readable for them. */
	for (size_t i = 0; i < 10; i++) {
		filch_future_release(fs[i]);
		fs[i] = promise();
		filch_port_add(p, fs[i], TAG(i));
		filch_promise_set_result(fs[i], NULL);
	}
	size_t taken = 0, calls = 0;
	bool readable_between = true, ordered = true;
	while (taken < 10 && calls++ < 10) {
		filch_port_drain(p, ev, 3, &n);
		for (size_t i = 0; i < n; i++) {
			ordered &= ev[i].tag == TAG(taken + i);
			filch_future_release(ev[i].future);
		}
		taken += n;
		if (taken < 10)
			readable_between &= readable(p);
	}
	is(taken, 10, "cap 3: every event taken over several drains");
	ok(readable_between, "cap 3: the fd stays readable while events wait");
	ok(ordered, "cap 3: still in completion order");
	ok(!readable(p), "cap 3: not readable once all are taken");
	for (size_t i = 0; i < ORDER_N; i++)
		filch_future_release(fs[i]);
	filch_port_destroy(p);
}

/* Many threads complete promises; the loop thread waits on epoll and
 * drains. Every event must arrive exactly once. */
enum { MT_THREADS = 4, MT_PER_THREAD = 5000 };

struct completer {
	filch_future **fs;
	size_t n;
};

static void *complete_all(void *arg)
{
	struct completer *c = arg;
	for (size_t i = 0; i < c->n; i++) {
		filch_promise_set_result(c->fs[i], NULL);
		if (i % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static void test_many_threads(void)
{
	enum { N = MT_THREADS * MT_PER_THREAD };
	filch_port *p;
	filch_future **fs = calloc(N, sizeof *fs);
	unsigned char *seen = calloc(N, 1);
	struct completer cs[MT_THREADS];
	pthread_t th[MT_THREADS];
	struct filch_port_event ev[256];

	filch_port_create(&p, 0);
	for (size_t i = 0; i < N; i++) {
		fs[i] = promise();
		filch_port_add(p, fs[i], TAG(i));
	}
	int epfd = watch(p);
	for (int t = 0; t < MT_THREADS; t++) {
		cs[t] =
		    (struct completer){fs + t * MT_PER_THREAD, MT_PER_THREAD};
		pthread_create(&th[t], NULL, complete_all, &cs[t]);
	}
	size_t got = 0, dups = 0, wakeups = 0;
	while (got < N && wait_readable(epfd, 30000)) {
		size_t n;
		wakeups++;
		do {
			filch_port_drain(p, ev, 256, &n);
			for (size_t i = 0; i < n; i++) {
				size_t k = UNTAG(ev[i].tag);
				dups += seen[k]++ != 0;
				filch_future_release(ev[i].future);
			}
			got += n;
		} while (n == 256);
	}
	for (int t = 0; t < MT_THREADS; t++)
		pthread_join(th[t], NULL);
	is(got, N, "%d threads x %d completions: all delivered", MT_THREADS,
	   MT_PER_THREAD);
	is(dups, 0, "... none twice");
	diag("%zu completions woke the loop %zu times", got, wakeups);
	for (size_t i = 0; i < N; i++)
		filch_future_release(fs[i]);
	close(epfd);
	filch_port_destroy(p);
	free(fs);
	free(seen);
}

/*
 * No lost completion. Each round has two promises: the loop completes the
 * first itself (so a wake-up is pending, as when the loop is woken), then
 * lets a producer thread complete the second while the loop drains at
 * once, after a short spin, or after epoll_wait; the second completion thus
 * lands before, inside or after the drain's reset and take. A lost
 * completion leaves epoll_wait to time out.
 */
enum { RACE_PRODUCERS = 2 };

struct race {
	filch_future **fs; /* two per round */
	size_t rounds;
	_Atomic size_t released; /* rounds [0, released) may be completed */
	_Atomic bool stop;
};

struct race_producer {
	struct race *race;
	size_t first;
};

static void *race_produce(void *arg)
{
	struct race_producer *rp = arg;
	struct race *race = rp->race;
	unsigned seed = (unsigned)rp->first * 7919u + 1;

	for (size_t r = rp->first; r < race->rounds; r += RACE_PRODUCERS) {
		/* Acquire: pairs with the release store in test_race, so that
		 * fs[2r + 1] is visible. */
		while (atomic_load_explicit(&race->released,
					    memory_order_acquire) <= r) {
			if (atomic_load_explicit(&race->stop,
						 memory_order_relaxed))
				return NULL;
			sched_yield();
		}
		for (unsigned spin = rand_r(&seed) % 64; spin; spin--)
			atomic_signal_fence(memory_order_seq_cst);
		filch_promise_set_result(race->fs[2 * r + 1], NULL);
	}
	return NULL;
}

/* Drains p; counts this round's events in *got, others in *extra. */
static size_t race_drain(filch_port *p, size_t r, unsigned *got, size_t *extra)
{
	struct filch_port_event ev[4];
	size_t n;
	filch_port_drain(p, ev, 4, &n);
	for (size_t i = 0; i < n; i++) {
		size_t k = UNTAG(ev[i].tag);
		if (k / 2 == r && !(*got & (1u << (k % 2))))
			*got |= 1u << (k % 2);
		else
			(*extra)++;
		filch_future_release(ev[i].future);
	}
	return n;
}

static void test_race(void)
{
	const char *env = getenv("FILCH_PORT_RACE_ROUNDS");
	size_t rounds = env ? strtoul(env, NULL, 10) : 10000;
	filch_port *p;
	struct race race = {.rounds = rounds};
	struct race_producer rp[RACE_PRODUCERS];
	pthread_t th[RACE_PRODUCERS];
	unsigned seed = 42;

	race.fs = calloc(2 * rounds, sizeof *race.fs);
	filch_port_create(&p, 0);
	int epfd = watch(p);
	for (size_t t = 0; t < RACE_PRODUCERS; t++) {
		rp[t] = (struct race_producer){&race, t};
		pthread_create(&th[t], NULL, race_produce, &rp[t]);
	}
	size_t lost = 0, extra = 0, spurious = 0, r;
	for (r = 0; r < rounds && !lost; r++) {
		for (size_t k = 2 * r; k < 2 * r + 2; k++) {
			race.fs[k] = promise();
			filch_port_add(p, race.fs[k], TAG(k));
		}
		filch_promise_set_result(race.fs[2 * r], NULL);
		/* Release: publishes fs[2r + 1]; pairs with race_produce. */
		atomic_store_explicit(&race.released, r + 1,
				      memory_order_release);
		unsigned how = rand_r(&seed) % 3, got = 0;
		if (how == 1)
			for (unsigned spin = rand_r(&seed) % 256; spin; spin--)
				atomic_signal_fence(memory_order_seq_cst);
		if (how != 2)
			race_drain(p, r, &got, &extra);
		while (got != 3) {
			if (!wait_readable(epfd, 10000)) {
				lost++;
				break;
			}
			spurious += race_drain(p, r, &got, &extra) == 0;
		}
	}
	atomic_store_explicit(&race.stop, true, memory_order_relaxed);
	for (size_t t = 0; t < RACE_PRODUCERS; t++)
		pthread_join(th[t], NULL);
	is(lost, 0, "no completion lost in %zu drain/epoll rounds", r);
	is(extra, 0, "no event delivered twice or out of its round");
	diag("%zu spurious wake-ups in %zu rounds", spurious, r);
	/* A failed round leaves a promise pending: complete it so that the
	 * port can go. */
	for (size_t k = 0; k < 2 * rounds; k++) {
		if (race.fs[k]) {
			filch_promise_set_result(race.fs[k], NULL);
			filch_future_release(race.fs[k]);
		}
	}
	close(epfd);
	filch_port_destroy(p);
	free(race.fs);
}

/* Destroy with events queued and futures pending, then complete them:
 * nothing may crash or leak (run under ASan/LSan), and the futures stay
 * valid for their holders. */
enum { DESTROY_N = 100 };

static void test_destroy_pending(void)
{
	filch_port *p;
	filch_future *fs[DESTROY_N];

	filch_port_create(&p, 0);
	for (size_t i = 0; i < DESTROY_N; i++) {
		fs[i] = promise();
		filch_port_add(p, fs[i], TAG(i));
	}
	for (size_t i = 0; i < DESTROY_N / 2; i++)
		filch_promise_set_result(fs[i], NULL);
	filch_port_destroy(p);
	struct completer c = {fs + DESTROY_N / 2, DESTROY_N / 2};
	pthread_t th;
	pthread_create(&th, NULL, complete_all, &c);
	pthread_join(th, NULL);
	bool all_done = true;
	for (size_t i = 0; i < DESTROY_N; i++) {
		all_done &= filch_future_state(fs[i]) == FILCH_FINISHED;
		filch_future_release(fs[i]);
	}
	ok(all_done, "destroy with pending futures: they complete later");

	/* Destroy while other threads are completing. */
	enum { N = MT_THREADS * 500 };
	filch_future **many = calloc(N, sizeof *many);
	struct completer cs[MT_THREADS];
	pthread_t ths[MT_THREADS];
	filch_port_create(&p, 0);
	for (size_t i = 0; i < N; i++) {
		many[i] = promise();
		filch_port_add(p, many[i], TAG(i));
	}
	for (int t = 0; t < MT_THREADS; t++) {
		cs[t] = (struct completer){many + t * 500, 500};
		pthread_create(&ths[t], NULL, complete_all, &cs[t]);
	}
	sched_yield();
	filch_port_destroy(p);
	for (int t = 0; t < MT_THREADS; t++)
		pthread_join(ths[t], NULL);
	for (size_t i = 0; i < N; i++)
		filch_future_release(many[i]);
	free(many);
	ok(1, "destroy racing with completions from %d threads", MT_THREADS);
}

/* Two threads drain at once while two complete: overlapping drains fail
 * with -EAGAIN and take nothing; every event still arrives exactly once. */
enum { CD_N = 4000 };

struct drainer {
	filch_port *p;
	_Atomic size_t *total;
	_Atomic unsigned char *seen;
	size_t busy;
	size_t bad_refusals; /* a refusal other than -EAGAIN, or *n written */
};

static void *drain_loop(void *arg)
{
	struct drainer *d = arg;
	struct filch_port_event ev[1];
	int64_t deadline = tap_now_ns() + 30 * (int64_t)1000000000;

	while (atomic_load_explicit(d->total, memory_order_relaxed) < CD_N &&
	       tap_now_ns() < deadline) {
		size_t n = 7;
		int err = filch_port_drain(d->p, ev, 1, &n);
		d->busy += err == -EAGAIN;
		if (err) {
			/* A refused drain takes nothing and leaves *n alone. */
			d->bad_refusals += err != -EAGAIN || n != 7;
			n = 0;
		}
		for (size_t i = 0; i < n; i++) {
			atomic_fetch_add_explicit(&d->seen[UNTAG(ev[i].tag)], 1,
						  memory_order_relaxed);
			filch_future_release(ev[i].future);
		}
		atomic_fetch_add_explicit(d->total, n, memory_order_relaxed);
		if (n == 0)
			sched_yield();
	}
	return NULL;
}

/* One round of overlapping drains; returns the drains refused. */
static size_t concurrent_drains_round(size_t *bad_refusals)
{
	filch_port *p;
	filch_future **fs = calloc(CD_N, sizeof *fs);
	_Atomic unsigned char *seen = calloc(CD_N, sizeof *seen);
	_Atomic size_t total = 0;
	struct drainer ds[2];
	struct completer cs[2];
	pthread_t dth[2], cth[2];

	filch_port_create(&p, 0);
	for (size_t i = 0; i < CD_N; i++) {
		fs[i] = promise();
		filch_port_add(p, fs[i], TAG(i));
	}
	for (int t = 0; t < 2; t++) {
		ds[t] = (struct drainer){.p = p, .total = &total, .seen = seen};
		cs[t] = (struct completer){fs + t * (CD_N / 2), CD_N / 2};
		pthread_create(&dth[t], NULL, drain_loop, &ds[t]);
		pthread_create(&cth[t], NULL, complete_all, &cs[t]);
	}
	for (int t = 0; t < 2; t++) {
		pthread_join(cth[t], NULL);
		pthread_join(dth[t], NULL);
	}
	bool once = true;
	for (size_t i = 0; i < CD_N; i++) {
		once &= seen[i] == 1;
		filch_future_release(fs[i]);
	}
	is(total, CD_N, "overlapping drains: every event taken");
	ok(once, "... each exactly once");
	*bad_refusals += ds[0].bad_refusals + ds[1].bad_refusals;
	filch_port_destroy(p);
	free(fs);
	free((void *)seen);
	return ds[0].busy + ds[1].busy;
}

/* Rounds until some drain was refused, so that the refusal's contract is
 * checked on refusals that happened, not on none. */
static void test_concurrent_drains(void)
{
	size_t refused = 0, bad = 0;
	int round;

	for (round = 0; round < 20 && !refused; round++)
		refused += concurrent_drains_round(&bad);
	diag("%zu drains refused with -EAGAIN in %d rounds", refused, round);
	if (!refused) {
		skip(1, "no drain overlapped another in %d rounds", round);
		return;
	}
	is(bad, 0, "a refused drain is -EAGAIN and leaves *n untouched");
}

/* Futures of tasks on an executor, added from the submitting thread. */
static int square(void *arg, void **result)
{
	uintptr_t x = (uintptr_t)arg;
	if (x % 10 == 9)
		return EDOM;
	*result = (void *)(x * x);
	return 0;
}

/* A task that submits square(arg) from its worker and adds that future to
 * the port there: add from a worker thread, completion on another. */
static filch_port *worker_port;

static int add_from_worker(void *arg, void **result)
{
	filch_future *f;
	int err = filch_submit(filch_current_executor(), square, arg, &f);
	if (err)
		return -err;
	err = filch_port_add(worker_port, f, arg);
	filch_future_release(f);
	return -err;
}

static void test_executor(void)
{
	enum { N = 2000 };
	filch_executor *ex;
	filch_port *p;
	struct filch_executor_opts opts = {.workers = 2};
	struct filch_port_event ev[64];

	if (filch_executor_create(&ex, &opts))
		bail_out("filch_executor_create failed");
	filch_port_create(&p, 0);
	int epfd = watch(p);
	size_t submitted = 0;
	worker_port = p;
	for (uintptr_t i = 0; i < N; i++) {
		filch_future *f;
		if (i % 2) {
			/* Added by a worker (fire and forget: no future). */
			if (filch_submit(ex, add_from_worker, TAG(i), NULL))
				break;
		} else {
			if (filch_submit(ex, square, TAG(i), &f))
				break;
			filch_port_add(p, f, TAG(i));
			filch_future_release(f);
		}
		submitted++;
	}
	is(submitted, N,
	   "submitted %d tasks (half add their future from a "
	   "worker)",
	   N);
	size_t got = 0, right = 0;
	while (got < submitted && wait_readable(epfd, 30000)) {
		size_t n;
		filch_port_drain(p, ev, 64, &n);
		for (size_t i = 0; i < n; i++) {
			uintptr_t x = UNTAG(ev[i].tag);
			void *result = NULL;
			int rc = filch_future_result(ev[i].future, 0, &result);
			right += x % 10 == 9
				     ? rc == EDOM
				     : rc == 0 && result == (void *)(x * x);
			filch_future_release(ev[i].future);
		}
		got += n;
	}
	is(got, N, "every task's future delivered");
	is(right, N, "... with its result or its error code");
	close(epfd);
	filch_port_destroy(p);
	filch_executor_destroy(ex);
}

/* Allocation failures (configure --enable-fault-injection): a clear
 * -ENOMEM, and nothing kept. */
#ifdef FILCH_FAULT_INJECTION
struct add_case {
	filch_port *p;
	filch_future *f;
	int rc;
};

/* A fresh thread has no record slab yet: its first record allocates. */
static void *add_failing(void *arg)
{
	struct add_case *c = arg;
	filch__fault_reset();
	filch__fault_arm(FILCH__FAULT_ALLOC, 1, false);
	c->rc = filch_port_add(c->p, c->f, NULL);
	filch__fault_reset();
	return NULL;
}
#endif

static void test_out_of_memory(void)
{
#ifdef FILCH_FAULT_INJECTION
	filch_port *p = NULL;
	filch__fault_reset();
	filch__fault_arm(FILCH__FAULT_ALLOC, 1, false);
	is(filch_port_create(&p, 0), -ENOMEM, "create: -ENOMEM");
	filch__fault_reset();
	ok(p == NULL, "create: nothing returned");

	struct add_case c = {.f = promise()};
	pthread_t th;
	filch_port_create(&c.p, 0);
	pthread_create(&th, NULL, add_failing, &c);
	pthread_join(th, NULL);
	is(c.rc, -ENOMEM, "add: -ENOMEM when its record cannot be allocated");
	filch_promise_set_result(c.f, NULL);
	ok(!readable(c.p), "add: no event queued after -ENOMEM");
	filch_future_release(c.f); /* the last reference: LSan sees a leak */
	filch_port_destroy(c.p);
#else
	skip(4, "allocation failures need configure --enable-fault-injection");
#endif
}

int main(void)
{
	tap_plan(0);
	test_arguments();
	test_readiness();
	test_order_and_coalescing();
	test_many_threads();
	test_race();
	test_destroy_pending();
	test_concurrent_drains();
	test_out_of_memory();
	test_executor();
	return tap_done();
}
