/* SPDX-License-Identifier: MIT */
/*
 * wait_stress.c - random trees of tasks that wait inside the pool: on
 * promises completed by foreign threads or by the tasks of another
 * executor, on their own groups' children, and on the futures of tasks they
 * submitted; random worker counts (1..4) and bounds on spare workers
 * (0, 1, 2, 4 or the default). Every node runs exactly once, every promise
 * is completed exactly once and its waiter sees its value.
 *
 *   wait_stress [--seconds S] [--seed N]
 *
 * Deadlock-free by construction: a task waits only on things that complete
 * without it (promises completed by threads that never wait on tasks, its
 * own children, tasks it submitted). An untimed wait refused for want of a
 * spare (-EAGAIN) is retried as timed waits of 1 ms, which block without a
 * spare. A watchdog fails the run when no node finishes for 30 s.
 * Exit status 0 on success, 1 on a violation (the seed is printed).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <filch.h>

#include "runtime/futex.h"
#include "stress_args.h"

#define MAX_NODES (1u << 16)
#define MAX_KIDS 4
#define MAX_DEPTH 6
#define MS 1000000LL
/* filch_executor_opts.max_spares without FILCH_OPT_MAX_SPARES. */
#define SPARES_DEFAULT 256

static _Atomic uint8_t ran[MAX_NODES];
static _Atomic uint8_t completed[MAX_NODES]; /* promise i set this often */
static _Atomic uint32_t next_id, next_promise;
static _Atomic long refusals; /* untimed waits refused a spare */
static _Atomic long violations;
static _Atomic uint64_t progress; /* nodes finished, for the watchdog */
static uint32_t budget;
static uint64_t round_seed;
static filch_executor *ex, *setter_ex;

static uint64_t mix(uint64_t x)
{
	/* splitmix64 finalizer */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void violation(const char *what, uint32_t id)
{
	fprintf(stderr, "wait_stress: seed %llu: %s (%u)\n",
		(unsigned long long)round_seed, what, id);
	atomic_fetch_add(&violations, 1);
}

/* ---- waiting: untimed first, then 1 ms waits when no spare was had ---- */

static int result_retrying(filch_future *f, void **r)
{
	int rc = filch_future_result(f, FILCH_FOREVER, r);

	if (rc == -EAGAIN)
		atomic_fetch_add(&refusals, 1);
	while (rc == -EAGAIN || rc == -ETIMEDOUT)
		rc = filch_future_result(f, MS, r);
	return rc;
}

/* Waits for f in one of four ways chosen by h; returns its outcome. Only
 * a promise is waited for by timed waits alone: they never run a task
 * inline, so they could wait for a child queued behind the waiter. */
static int await(filch_future *f, bool promise, uint64_t h, void **r)
{
	int rc, code = 0;

	switch (h % 4) {
	case 0:
		return result_retrying(f, r);
	case 1:
		rc = filch_future_error(f, FILCH_FOREVER, &code, NULL);
		if (rc == 0 && code == 0)
			rc = filch_future_result(f, 0, r);
		return rc == -EAGAIN ? result_retrying(f, r) : rc ? rc : code;
	case 2:
		rc = filch_wait(&f, 1, FILCH_FOREVER, FILCH_ALL_COMPLETED, NULL);
		return rc == 0 ? filch_future_result(f, 0, r)
			       : result_retrying(f, r);
	default:
		if (!promise)
			return result_retrying(f, r);
		do
			rc = filch_future_result(f, (int64_t)(1 + h % 3) * MS, r);
		while (rc == -ETIMEDOUT);
		return rc;
	}
}

/* ---- promises: completed by foreign threads or by another executor ---- */

struct promised {
	filch_future *p;
	uint32_t pid;
};

static void complete(struct promised *pr)
{
	uint32_t pid = pr->pid;

	if (filch_promise_set_result(pr->p, (void *)(uintptr_t)pid) != 0)
		violation("a promise refused its one completion", pid);
	if (atomic_fetch_add(&completed[pid], 1) != 0)
		violation("a promise completed twice", pid);
	filch_future_release(pr->p);
	free(pr);
}

/* Promises waiting for a foreign completer, under lock. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct promised **q;
	uint32_t head, tail;
	bool done;
} fq = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0,
	false};

static void *foreign_completer(void *arg)
{
	for (;;) {
		pthread_mutex_lock(&fq.lock);
		while (fq.head == fq.tail && !fq.done)
			pthread_cond_wait(&fq.more, &fq.lock);
		if (fq.head == fq.tail) {
			pthread_mutex_unlock(&fq.lock);
			return NULL;
		}
		struct promised *pr = fq.q[fq.head++];
		pthread_mutex_unlock(&fq.lock);
		usleep((useconds_t)(mix(pr->pid ^ round_seed) % 50));
		complete(pr);
	}
}

static int setter_task(void *arg, void **result)
{
	complete(arg);
	return 0;
}

/* A promise to wait for, handed to its completer; NULL past the budget. */
static filch_future *new_promise(uint64_t h, uint32_t *pid)
{
	struct promised *pr;

	*pid = atomic_fetch_add(&next_promise, 1);
	if (*pid >= budget || !(pr = malloc(sizeof(*pr))))
		return NULL;
	pr->pid = *pid;
	if (filch_promise_create(&pr->p) != 0) {
		free(pr);
		return NULL;
	}
	filch_future *mine = filch_future_retain(pr->p);
	if (h % 2 == 0 &&
	    filch_submit(setter_ex, setter_task, pr, NULL) == 0)
		return mine;
	pthread_mutex_lock(&fq.lock);
	fq.q[fq.tail++] = pr;
	pthread_cond_signal(&fq.more);
	pthread_mutex_unlock(&fq.lock);
	return mine;
}

/* ---- the trees ---- */

struct node {
	uint32_t id;
	unsigned depth;
};

static int node_task(void *arg, void **result);

static int node_job(void *arg)
{
	void *r = NULL;

	return node_task(arg, &r);
}

/* Reserves up to MAX_KIDS child ids; returns how many. */
static unsigned kids_of(const struct node *n, uint64_t h, struct node *kids)
{
	unsigned k = n->depth >= MAX_DEPTH ? 0 : (unsigned)(h % (MAX_KIDS + 1));

	for (unsigned i = 0; i < k; i++) {
		kids[i].id = atomic_fetch_add(&next_id, 1);
		kids[i].depth = n->depth + 1;
		if (kids[i].id >= budget)
			return i;
	}
	return k;
}

static void wait_on_promise(uint64_t h)
{
	uint32_t pid;
	filch_future *p = new_promise(h >> 8, &pid);
	void *r = NULL;

	if (!p)
		return;
	if (await(p, true, h >> 16, &r) != 0 || r != (void *)(uintptr_t)pid)
		violation("a promise's waiter saw the wrong outcome", pid);
	filch_future_release(p);
}

static void wait_on_group(const struct node *n, uint64_t h)
{
	struct node kids[MAX_KIDS];
	unsigned k = kids_of(n, h, kids);
	filch_group g;

	filch_group_init(&g, ex);
	for (unsigned i = 0; i < k; i++)
		if (filch_group_spawn(&g, node_job, &kids[i]) != 0)
			violation("a spawn failed", kids[i].id);
	if (filch_group_wait(&g) != 0)
		violation("a group failed", n->id);
}

static void wait_on_futures(const struct node *n, uint64_t h)
{
	struct node kids[MAX_KIDS];
	filch_future *fs[MAX_KIDS] = {0}, *reordered[MAX_KIDS];
	unsigned k = kids_of(n, h, kids);

	for (unsigned i = 0; i < k; i++)
		if (filch_submit(ex, node_task, &kids[i], &fs[i]) != 0)
			violation("a submit failed", kids[i].id);
	/* filch_wait reorders what it is given: a copy keeps fs[i] the
	 * future of kids[i]. */
	memcpy(reordered, fs, sizeof(fs));
	if (h % 3 == 0 && k > 0 &&
	    filch_wait(reordered, k, FILCH_FOREVER, FILCH_ALL_COMPLETED,
		       NULL) == -EAGAIN)
		atomic_fetch_add(&refusals, 1);
	for (unsigned i = 0; i < k; i++) {
		void *r = NULL;

		if (fs[i] && (await(fs[i], false, h >> (8 + 4 * i), &r) != 0 ||
			      r != (void *)(uintptr_t)kids[i].id))
			violation("a child's future has the wrong outcome",
				  kids[i].id);
		filch_future_release(fs[i]);
	}
}

static int node_task(void *arg, void **result)
{
	struct node *n = arg;
	uint64_t h = mix(round_seed ^ n->id);

	if (atomic_fetch_add(&ran[n->id], 1) != 0)
		violation("a node ran twice", n->id);
	switch (h % 5) {
	case 0:
	case 1:
		wait_on_promise(h >> 3);
		break;
	case 2:
		wait_on_group(n, h >> 3);
		break;
	case 3:
		wait_on_futures(n, h >> 3);
		break;
	default:
		break; /* a leaf */
	}
	*result = (void *)(uintptr_t)n->id;
	atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
	return 0;
}

/* ---- rounds ---- */

/* A foreign thread submits roots until the budget is spent. */
static void *root_submitter(void *arg)
{
	while (atomic_load(&next_id) < budget) {
		struct node root = {atomic_fetch_add(&next_id, 1), 0};
		filch_future *f = NULL;
		void *r = NULL;

		if (root.id >= budget)
			break;
		if (filch_submit(ex, node_task, &root, &f) != 0 ||
		    filch_future_result(f, FILCH_FOREVER, &r) != 0 ||
		    r != (void *)(uintptr_t)root.id)
			violation("a root failed", root.id);
		filch_future_release(f);
	}
	return NULL;
}

static const unsigned spare_bounds[] = {0, 1, 2, 4, SPARES_DEFAULT};

/* Once the trees finished, no worker sleeps in a wait (each wait returned
 * before its node finished) and the spare threads kept within their bound.
 * A spare goes dormant only after its last task, once it looks for more
 * work, which may be a little after the roots' futures completed: it gets
 * 2 s to do so. */
static void check_spares_settle(unsigned spares)
{
	struct filch_spare_counts sc;
	int64_t t0 = filch__now_ns(), end = t0 + 2000 * MS;
	int rc;

	while ((rc = filch_executor_spare_counts(ex, &sc)) == 0 && sc.active &&
	       !sc.blocked && sc.threads <= spares && filch__now_ns() < end)
		usleep(100);
	if (rc != 0 || sc.threads > spares || sc.active || sc.blocked) {
		fprintf(stderr, "wait_stress: %u spare threads (bound %u), %u "
			"active, %u blocked %lld ms after the trees finished\n",
			sc.threads, spares, sc.active, sc.blocked,
			(long long)((filch__now_ns() - t0) / MS));
		violation("wrong spare counts", 0);
	}
}

static int one_round(uint64_t seed)
{
	unsigned spares = spare_bounds[mix(seed + 1) % 5];
	struct filch_executor_opts o = {
	    .flags = FILCH_OPT_MAX_SPARES,
	    .workers = 1 + (unsigned)(mix(seed) % 4),
	    .name_prefix = "ws",
	    .max_spares = spares,
	};
	struct filch_executor_opts so = {.workers = 1, .name_prefix = "wsset"};
	unsigned nroots = 1 + (unsigned)(mix(seed + 2) % 2);
	pthread_t roots[2], completers[2];

	round_seed = seed;
	budget = 500 + (uint32_t)(mix(seed + 3) % (MAX_NODES - 500));
	atomic_store(&next_id, 0);
	atomic_store(&next_promise, 0);
	memset((void *)ran, 0, budget);
	memset((void *)completed, 0, budget);
	fq.head = fq.tail = 0;
	fq.done = false;
	if (filch_executor_create(&ex, &o) != 0 ||
	    filch_executor_create(&setter_ex, &so) != 0) {
		fprintf(stderr, "wait_stress: executor_create failed\n");
		return 1;
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&completers[i], NULL, foreign_completer, NULL);
	for (unsigned i = 0; i < nroots; i++)
		pthread_create(&roots[i], NULL, root_submitter, NULL);
	for (unsigned i = 0; i < nroots; i++)
		pthread_join(roots[i], NULL);
	check_spares_settle(spares);
	filch_executor_destroy(ex);
	filch_executor_destroy(setter_ex);
	pthread_mutex_lock(&fq.lock);
	fq.done = true;
	pthread_cond_broadcast(&fq.more);
	pthread_mutex_unlock(&fq.lock);
	for (int i = 0; i < 2; i++)
		pthread_join(completers[i], NULL);

	uint32_t n = atomic_load(&next_id) < budget ? atomic_load(&next_id)
						    : budget;
	for (uint32_t id = 0; id < n; id++)
		if (atomic_load(&ran[id]) != 1)
			violation("a node did not run exactly once", id);
	n = atomic_load(&next_promise) < budget ? atomic_load(&next_promise)
						: budget;
	for (uint32_t pid = 0; pid < n; pid++)
		if (atomic_load(&completed[pid]) != 1)
			violation("a promise was not completed exactly once",
				  pid);
	return atomic_load(&violations) != 0;
}

static void *watchdog(void *arg)
{
	uint64_t last = atomic_load(&progress);

	for (;;) {
		sleep(30);
		uint64_t now = atomic_load(&progress);
		if (now == last) {
			printf("Bail out! wait_stress: no node finished in 30 s "
			       "(round seed %llu)\n",
			       (unsigned long long)round_seed);
			fflush(stdout);
			abort();
		}
		last = now;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct stress_args args;
	long rounds = 0;
	pthread_t dog;

	if (stress_parse_args(argc, argv, 5, &args))
		return 2;
	printf("wait_stress: seed %llu, %.0f s\n", (unsigned long long)args.seed,
	       args.seconds);
	fflush(stdout);
	fq.q = calloc(MAX_NODES, sizeof(*fq.q));
	pthread_create(&dog, NULL, watchdog, NULL);
	int64_t end = filch__now_ns() + (int64_t)(args.seconds * 1e9);
	do {
		uint64_t s = mix(args.seed + (uint64_t)rounds);

		if (one_round(s) != 0) {
			printf("wait_stress: FAILED in round %ld (round seed "
			       "%llu); rerun with --seed %llu\n",
			       rounds, (unsigned long long)s,
			       (unsigned long long)args.seed);
			return 1;
		}
		rounds++;
	} while (filch__now_ns() < end);
	printf("wait_stress: %ld rounds, %llu nodes, %ld untimed waits refused "
	       "a spare: every node ran once, every promise completed once\n",
	       rounds, (unsigned long long)atomic_load(&progress),
	       atomic_load(&refusals));
	free(fq.q);
	return 0;
}
