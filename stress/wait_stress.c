/* SPDX-License-Identifier: MIT */
/*
 * wait_stress.c - random forests of tasks that wait inside the pool: on
 * promises completed by foreign threads or by the tasks of another
 * executor, on their own groups' jobs, and on the futures of tasks they
 * submitted; random worker counts (1..4) and bounds on spare workers. Every
 * node runs exactly once, every promise is completed exactly once and its
 * waiter sees its value; after each round no worker is left asleep in a
 * wait and the spares went dormant within their bound.
 *
 *   wait_stress [--seconds S] [--seed N]
 *
 * Exit status 0 on success, 1 on a violation, 2 on bad arguments; the seed
 * is printed first, and a failure names the round's seed and shape. A
 * watchdog aborts the run when no node finishes for 30 s.
 *
 * Why it cannot deadlock
 * ----------------------
 * A round's forest is generated before the round starts (generate()), so
 * its shape is known: every node is a leaf, a promise node (waits for one
 * promise, no children), a group node or a futures node (spawns or submits
 * 0..4 children and waits for all of them). Two foreign threads submit the
 * roots one at a time each, so at most two trees are in progress at once.
 * A node waits at most once at a time, and only while in progress, so the
 * tasks asleep in a wait at any moment number at most
 *
 *   W = the waiting nodes (promise nodes, and group and futures nodes with
 *       children) of the two trees that have the most of them (of the one
 *       that has the most, in a round with one submitter).
 *
 * The contract we rely on (filch.h, top; docs/api.md, "Waiting inside a
 * task"): a worker that sleeps in a wait gets a spare in its place while
 * fewer than max_spares spares are busy; an untimed filch_future_result,
 * filch_future_error or ALL_COMPLETED filch_wait on a worker of the
 * future's executor runs the future's task in place if nobody started it,
 * so it sleeps only on a started task, and returns -EAGAIN rather than
 * sleep uncompensated; timed waits and filch_group_wait may sleep
 * uncompensated. For filch_group_wait we assume nothing more: it may sleep
 * while jobs of its own are still queued, unstarted (it runs its jobs only
 * from the bottom of its own deque, and a task pushed after them hides
 * them), so it needs another thread to start them.
 *
 * Claim: every node that starts finishes. (The roots, queued by foreign
 * threads that hold no worker, then start as workers come free.) By
 * induction on the node's height: a node runs its own code, then waits
 *
 *  - for a promise: its completer (a foreign thread, or setter_ex's one
 *    worker) never waits for a task of ex, so the promise completes;
 *  - for the futures of its children: each is waited for untimed first, so
 *    a child nobody started runs in place, and finishes by induction; a
 *    started child is on the stack of some thread, which runs on top of it
 *    only work that it depends on, so it finishes by induction too. An
 *    untimed wait refused a spare (-EAGAIN) falls back to 1 ms timed
 *    waits, but only on a started child (the untimed wait would have run
 *    an unstarted one);
 *  - for the jobs of its group: the jobs it runs itself and the jobs that
 *    were stolen (started) finish by induction; a job still queued in the
 *    waiter's deque needs another thread to start it (thieves take the
 *    oldest first), that is, a thread that is not asleep in a wait.
 *
 * Each round is one of three kinds, by its N workers and its spare bound
 * S (0, 1, 2, 4, W itself, one of W - N + 1 .. W - 1, or the default 256;
 * shallow and narrow forests make W small):
 *
 *  1. Ample, S >= W: every sleeper gets a spare (at most W sleep, and
 *     the runtime keeps as many spares active as there are sleepers until
 *     S are), so N threads stay out of waits. Not one wait may be refused
 *     a spare: the round checks that filch_spare_counts.refused stays 0.
 *  2. Tight with groups, S < W < N + S: sleepers beyond S go
 *     uncompensated, but only once S spares are busy, when the pool has
 *     N + S threads, of which at most W <= N + S - 1 sleep: one is always
 *     out of a wait to start a hidden job.
 *  3. Tight without groups, W >= N + S: every group node becomes a
 *     futures node (same shape, so W is unchanged), and no task ever waits
 *     for a job that only another thread can start.
 *
 * Only kinds 1 and 2 count sleepers, and both count every waiting node,
 * promise waits and timed waits included (they hold their thread too). A
 * spare thread that cannot be created would make an ample round tight;
 * the refused check would then report it.
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
#define MAX_DEPTH 6 /* the deepest rounds' trees; others are shallower */
#define MS 1000000LL
/* filch_executor_opts.max_spares without FILCH_OPT_MAX_SPARES. */
#define SPARES_DEFAULT 256
/* A bound of exactly W spares only up to this (threads that stay). */
#define SPARES_EXACT_MAX 512

enum kind { LEAF, PROMISE, GROUP, FUTURES };

/* One node of the round's forest; a tree's nodes are consecutive, in
 * breadth-first order, and a node's children are kids..kids + nkids - 1. */
struct node {
	uint32_t id;
	uint32_t kids;
	uint8_t nkids;
	uint8_t kind;
};

static struct node nodes[MAX_NODES];
static uint32_t roots[MAX_NODES], nnodes, ntrees;
static _Atomic uint32_t next_root;

static _Atomic uint8_t ran[MAX_NODES];
static _Atomic uint8_t completed[MAX_NODES]; /* node i's promise set so often */
static _Atomic long refusals; /* untimed waits refused a spare (-EAGAIN) */
static _Atomic long violations;
static _Atomic uint64_t progress; /* nodes finished, for the watchdog */
static uint64_t round_seed;
static char round_desc[160]; /* the round's shape, for failure reports */
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
	fprintf(stderr, "wait_stress: seed %llu (%s): %s (%u)\n",
		(unsigned long long)round_seed, round_desc, what, id);
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

/* Waits for f in one of four ways chosen by h; returns its outcome. Each
 * way starts with an untimed wait (which runs f's task in place if nobody
 * started it), but for a promise, which may be waited for by timed waits
 * alone (they run no task, and nobody waits for the promise's waiter). */
static int await(filch_future *f, bool promise, uint64_t h, void **r)
{
	int rc, code = 0;

	switch (h % 4) {
	case 0:
		return result_retrying(f, r);
	case 1:
		rc = filch_future_error(f, FILCH_FOREVER, &code, NULL);
		if (rc == -EAGAIN)
			atomic_fetch_add(&refusals, 1);
		if (rc == 0 && code == 0)
			rc = filch_future_result(f, 0, r);
		return rc == -EAGAIN ? result_retrying(f, r) : rc ? rc : code;
	case 2:
		rc = filch_wait(&f, 1, FILCH_FOREVER, FILCH_ALL_COMPLETED,
				NULL);
		if (rc == -EAGAIN)
			atomic_fetch_add(&refusals, 1);
		return rc == 0 ? filch_future_result(f, 0, r)
			       : result_retrying(f, r);
	default:
		if (!promise)
			return result_retrying(f, r);
		do
			rc = filch_future_result(f, (int64_t)(1 + h % 3) * MS,
						 r);
		while (rc == -ETIMEDOUT);
		return rc;
	}
}

/* ---- promises: completed by foreign threads or by another executor ---- */

struct promised {
	filch_future *p;
	uint32_t id; /* the waiting node's */
};

static void complete(struct promised *pr)
{
	uint32_t id = pr->id;

	if (filch_promise_set_result(pr->p, (void *)(uintptr_t)id) != 0)
		violation("a promise refused its one completion", id);
	if (atomic_fetch_add(&completed[id], 1) != 0)
		violation("a promise completed twice", id);
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

/* Never waits for a task of ex (see "Why it cannot deadlock"). */
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
		usleep((useconds_t)(mix(pr->id ^ round_seed) % 50));
		complete(pr);
	}
}

static int setter_task(void *arg, void **result)
{
	complete(arg);
	return 0;
}

/* A promise for node id to wait for, handed to its completer; NULL (a
 * violation) when none could be made. */
static filch_future *new_promise(uint32_t id, uint64_t h)
{
	struct promised *pr = malloc(sizeof(*pr));

	if (!pr || filch_promise_create(&pr->p) != 0) {
		free(pr);
		violation("no promise could be made", id);
		return NULL;
	}
	pr->id = id;
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

static int node_task(void *arg, void **result);

static int node_job(void *arg)
{
	void *r = NULL;

	return node_task(arg, &r);
}

static void wait_on_promise(const struct node *n, uint64_t h)
{
	filch_future *p = new_promise(n->id, h);
	void *r = NULL;

	if (!p)
		return;
	if (await(p, true, h >> 8, &r) != 0 || r != (void *)(uintptr_t)n->id)
		violation("a promise's waiter saw the wrong outcome", n->id);
	filch_future_release(p);
}

static void wait_on_group(const struct node *n)
{
	filch_group g;

	filch_group_init(&g, ex);
	for (unsigned i = 0; i < n->nkids; i++)
		if (filch_group_spawn(&g, node_job, &nodes[n->kids + i]) != 0)
			violation("a spawn failed", n->kids + i);
	if (filch_group_wait(&g) != 0)
		violation("a group failed", n->id);
}

static void wait_on_futures(const struct node *n, uint64_t h)
{
	filch_future *fs[MAX_KIDS] = {0}, *reordered[MAX_KIDS];
	unsigned k = n->nkids;
	bool all = true;

	for (unsigned i = 0; i < k; i++)
		if (filch_submit(ex, node_task, &nodes[n->kids + i],
				 &fs[i]) != 0) {
			violation("a submit failed", n->kids + i);
			all = false;
		}
	/* filch_wait reorders what it is given: a copy keeps fs[i] the
	 * future of child i. */
	memcpy(reordered, fs, sizeof(fs));
	if (h % 3 == 0 && k > 0 && all &&
	    filch_wait(reordered, k, FILCH_FOREVER, FILCH_ALL_COMPLETED,
		       NULL) == -EAGAIN)
		atomic_fetch_add(&refusals, 1);
	for (unsigned i = 0; i < k; i++) {
		uint32_t kid = n->kids + i;
		void *r = NULL;

		if (fs[i] && (await(fs[i], false, h >> (8 + 4 * i), &r) != 0 ||
			      r != (void *)(uintptr_t)kid))
			violation("a child's future has the wrong outcome",
				  kid);
		filch_future_release(fs[i]);
	}
}

static int node_task(void *arg, void **result)
{
	const struct node *n = arg;
	/* The low bits of the hash made the node's kind and child count. */
	uint64_t h = mix(round_seed ^ n->id) >> 16;

	if (atomic_fetch_add(&ran[n->id], 1) != 0)
		violation("a node ran twice", n->id);
	switch (n->kind) {
	case PROMISE:
		wait_on_promise(n, h);
		break;
	case GROUP:
		wait_on_group(n);
		break;
	case FUTURES:
		wait_on_futures(n, h);
		break;
	default:
		break; /* a leaf */
	}
	*result = (void *)(uintptr_t)n->id;
	atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
	return 0;
}

/* Builds the round's forest of at most budget nodes: trees of at most
 * max_depth levels below the root and max_kids children a node, breadth
 * first, until the budget is spent (the last tree cut short). A node's
 * kind and child count come from mix(seed ^ id). Returns W (see the top):
 * the waiting nodes of the two trees (of the one, if nsubmitters is 1)
 * that have the most of them. */
static unsigned generate(uint64_t seed, uint32_t budget, unsigned max_depth,
			 unsigned max_kids, unsigned nsubmitters)
{
	static uint8_t depth[MAX_NODES];
	unsigned top[2] = {0, 0};

	nnodes = ntrees = 0;
	while (nnodes < budget) {
		uint32_t root = nnodes++;
		unsigned waiting = 0;

		roots[ntrees++] = root;
		depth[root] = 0;
		for (uint32_t i = root; i < nnodes; i++) {
			uint64_t h = mix(seed ^ i);
			struct node *n = &nodes[i];
			unsigned k = (unsigned)((h >> 3) % (max_kids + 1));

			n->id = i;
			n->kids = nnodes;
			n->nkids = 0;
			n->kind = (uint8_t)(h % 5 <= 1	 ? PROMISE
					    : h % 5 == 2 ? GROUP
					    : h % 5 == 3 ? FUTURES
							 : LEAF);
			if (n->kind == GROUP || n->kind == FUTURES) {
				if (depth[i] >= max_depth)
					k = 0;
				while (n->nkids < k && nnodes < budget) {
					depth[nnodes] = (uint8_t)(depth[i] + 1);
					nnodes++;
					n->nkids++;
				}
			}
			waiting += n->kind == PROMISE || n->nkids > 0;
		}
		if (waiting > top[0]) {
			top[1] = top[0];
			top[0] = waiting;
		} else if (waiting > top[1]) {
			top[1] = waiting;
		}
	}
	return top[0] + (nsubmitters > 1 ? top[1] : 0);
}

/* A foreign thread submits roots until none is left; it holds no worker. */
static void *root_submitter(void *arg)
{
	uint32_t t;

	while ((t = atomic_fetch_add(&next_root, 1)) < ntrees) {
		uint32_t root = roots[t];
		filch_future *f = NULL;
		void *r = NULL;

		int rc = filch_submit(ex, node_task, &nodes[root], &f);

		if (rc == 0)
			rc = filch_future_result(f, FILCH_FOREVER, &r);
		if (rc != 0 || r != (void *)(uintptr_t)root) {
			fprintf(stderr, "wait_stress: root %u: %s, result %p\n",
				root, filch_strerror(rc), r);
			violation("a root failed", root);
		}
		filch_future_release(f);
	}
	return NULL;
}

/* Once the trees finished, no worker sleeps in a wait (each wait returned
 * before its node finished) and the spare threads kept within their bound.
 * A spare goes dormant only after its last task, once it looks for more
 * work, which may be a little after the roots' futures completed: it gets
 * 2 s to do so. In an ample round no wait was refused a spare. */
static void check_spares_settle(unsigned spares, bool ample)
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
	if (rc == 0 && ample && sc.refused) {
		fprintf(stderr, "wait_stress: %llu waits refused a spare with "
			"a bound of %u\n", sc.refused, spares);
		violation("a wait was refused a spare in an ample round", 0);
	}
}

static long rounds_of_kind[3]; /* ample, tight with groups, without */

static int one_round(uint64_t seed)
{
	static const unsigned small[] = {0, 1, 2, 4};
	/* Shallow, narrow forests have a small W: tight rounds with groups. */
	static const unsigned depths[] = {1, 2, 3, MAX_DEPTH, MAX_DEPTH};
	static const unsigned fans[] = {1, 2, MAX_KIDS, MAX_KIDS};
	unsigned workers = 1 + (unsigned)(mix(seed) % 4);
	unsigned pick = (unsigned)(mix(seed + 1) % 8);
	unsigned nsubmitters = 1 + (unsigned)(mix(seed + 2) % 2);
	uint32_t budget = 500 + (uint32_t)(mix(seed + 3) % (MAX_NODES - 500));
	unsigned max_depth = depths[mix(seed + 4) % 5];
	unsigned max_kids = fans[mix(seed + 5) % 4];
	pthread_t submitters[2], completers[2];

	round_seed = seed;
	unsigned w = generate(seed, budget, max_depth, max_kids,
			      nsubmitters);
	unsigned spares = pick < 4 ? small[pick] : SPARES_DEFAULT;

	if (pick == 4 && w <= SPARES_EXACT_MAX) {
		spares = w; /* ample, just */
	} else if (pick >= 6 && workers > 1 && w > 0 &&
		   w <= SPARES_EXACT_MAX) {
		/* Tight with groups, W - N + 1 <= S <= W - 1: at most N - 1
		 * threads sleep uncompensated, possibly all of them. */
		unsigned lo = w + 1 > workers ? w + 1 - workers : 0;

		spares = lo + (unsigned)(mix(seed + 6) % (w - lo));
	}
	bool ample = spares >= w, groups = w < workers + spares;
	int kind = ample ? 0 : groups ? 1 : 2;

	if (!groups)
		for (uint32_t i = 0; i < nnodes; i++)
			if (nodes[i].kind == GROUP)
				nodes[i].kind = FUTURES;
	rounds_of_kind[kind]++;
	snprintf(round_desc, sizeof(round_desc),
		 "%u workers, %u spares, W %u: %s; %u nodes in %u trees of "
		 "depth <= %u, <= %u kids, %u submitters", workers, spares, w,
		 kind == 0 ? "ample" : kind == 1 ? "tight, groups"
						 : "tight, no groups",
		 nnodes, ntrees, max_depth, max_kids, nsubmitters);

	/* The default bound through a zero flags word once in a while. */
	struct filch_executor_opts o = {
	    .flags = pick == 5 ? 0 : FILCH_OPT_MAX_SPARES,
	    .workers = workers,
	    .name_prefix = "ws",
	    .max_spares = spares,
	};
	struct filch_executor_opts so = {.workers = 1, .name_prefix = "wsset"};

	atomic_store(&next_root, 0);
	memset((void *)ran, 0, nnodes);
	memset((void *)completed, 0, nnodes);
	fq.head = fq.tail = 0;
	fq.done = false;
	if (filch_executor_create(&ex, &o) != 0 ||
	    filch_executor_create(&setter_ex, &so) != 0) {
		fprintf(stderr, "wait_stress: executor_create failed\n");
		return 1;
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&completers[i], NULL, foreign_completer, NULL);
	for (unsigned i = 0; i < nsubmitters; i++)
		pthread_create(&submitters[i], NULL, root_submitter, NULL);
	for (unsigned i = 0; i < nsubmitters; i++)
		pthread_join(submitters[i], NULL);
	check_spares_settle(spares, ample);
	filch_executor_destroy(ex);
	filch_executor_destroy(setter_ex);
	pthread_mutex_lock(&fq.lock);
	fq.done = true;
	pthread_cond_broadcast(&fq.more);
	pthread_mutex_unlock(&fq.lock);
	for (int i = 0; i < 2; i++)
		pthread_join(completers[i], NULL);

	for (uint32_t id = 0; id < nnodes; id++) {
		if (atomic_load(&ran[id]) != 1)
			violation("a node did not run exactly once", id);
		if (atomic_load(&completed[id]) != (nodes[id].kind == PROMISE))
			violation("a promise was not completed exactly once",
				  id);
	}
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
			       "(round seed %llu: %s)\n",
			       (unsigned long long)round_seed, round_desc);
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
			       "%llu: %s); rerun with --seed %llu\n",
			       rounds, (unsigned long long)s, round_desc,
			       (unsigned long long)args.seed);
			return 1;
		}
		rounds++;
	} while (filch__now_ns() < end);
	printf("wait_stress: %ld rounds (%ld ample, %ld tight with groups, "
	       "%ld tight without), %llu nodes, %ld untimed waits refused a "
	       "spare: every node ran once, every promise completed once\n",
	       rounds, rounds_of_kind[0], rounds_of_kind[1], rounds_of_kind[2],
	       (unsigned long long)atomic_load(&progress),
	       atomic_load(&refusals));
	free(fq.q);
	return 0;
}
