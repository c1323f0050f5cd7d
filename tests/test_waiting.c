/* SPDX-License-Identifier: MIT */
/*
 * test_waiting.c - how a task waits inside the pool: it runs only work its
 * own result depends on (its group's children, or the not yet started task
 * of a future it waits for forever), never an unrelated queued task;
 * otherwise it blocks for real while a bounded spare worker keeps the pool's
 * parallelism. So waits that depend on each other finish, nothing nests
 * without bound, bounded queues hold, timed waits keep their timeouts, a
 * continuation is stealable, and a cancelling shutdown leaves nothing
 * pending. A task that blocks outside filch between filch_blocking_begin
 * and filch_blocking_end has a spare in its place too.
 *
 * Each scenario runs at each of its worker counts in a child process
 * (tests/isolate.h) under a watchdog: a hang or a crash is that case's
 * failure ("not ok ... hung for N s") and the other cases still run.
 *
 * Sizes are smaller in sanitized builds (TSan, ASan), where every task and
 * wait costs 5 to 20 times more: 10^4 blocking tasks instead of 10^5 (c),
 * recursion 10^4 deep instead of 4 * 10^4 (d), 5 * 10^4 queued tasks
 * instead of 5 * 10^5 (f2), timing slack 100 ms instead of 30 ms, and
 * watchdogs three times as long.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <filch.h>

#include "future_helpers.h"
#include "isolate.h"
#include "tap.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
#define SCALE 10 /* sizes divided by */
#define SLACK_MS 100
#define WATCHDOG_X 3
#else
#define SCALE 1
#define SLACK_MS 30 /* scheduling noise allowed on a timed wait */
#define WATCHDOG_X 1
#endif
/* How late a continuation may start while a worker is idle. */
#define CONT_START_MS (20 + SLACK_MS)
/* filch_executor_opts.max_spares without FILCH_OPT_MAX_SPARES. */
#define SPARES_DEFAULT 256

/* ---- checks inside a child: any thread may fail one ---- */

static atomic_int failures;

TAP_PRINTF(2, 3)
static void fail_at(int line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "test_waiting.c:%d: %s\n", line, msg);
	isolate_note("line %d: %s", line, msg);
	atomic_fetch_add(&failures, 1);
}

#define check(cond, ...) \
	((cond) ? true : (fail_at(__LINE__, __VA_ARGS__), false))
#define check_is(got, want, what)                                       \
	check((long long)(got) == (long long)(want),                    \
	      "%s: got %lld, expected %lld", what, (long long)(got),     \
	      (long long)(want))

static int64_t ms_since(int64_t t0)
{
	return (tap_now_ns() - t0) / MS;
}

static filch_executor *start(struct filch_executor_opts *o)
{
	filch_executor *ex = NULL;
	int rc;

	o->name_prefix = "tw";
	if ((rc = filch_executor_create(&ex, o)) != 0) {
		fprintf(stderr, "test_waiting.c: executor_create: %s\n",
			filch_strerror(rc));
		exit(3);
	}
	return ex;
}

static filch_executor *start_plain(unsigned workers)
{
	struct filch_executor_opts o = {.workers = workers};

	return start(&o);
}

static void stop(filch_executor *ex)
{
	check_is(filch_executor_destroy(ex), 0, "destroy");
}

/* The spare counts of ex; false (a failed check) when they cannot be had. */
static bool spare_counts(filch_executor *ex, struct filch_spare_counts *c)
{
	return check_is(filch_executor_spare_counts(ex, c), 0,
			"filch_executor_spare_counts");
}

static filch_future *promise(void)
{
	filch_future *p = NULL;

	if (filch_promise_create(&p) != 0) {
		fprintf(stderr, "test_waiting.c: promise_create failed\n");
		exit(3);
	}
	return p;
}

static void sleep_until(int64_t t)
{
	int64_t now = tap_now_ns();

	if (t > now)
		sleep_ns(t - now);
}

/* Sleeps in 1 ms steps until *flag is set or `ms` passed. */
static void nap_until_set(atomic_bool *flag, int64_t ms)
{
	int64_t end = tap_now_ns() + ms * MS;

	while (!atomic_load(flag) && tap_now_ns() < end)
		sleep_ns(MS);
}

/* Nesting of task bodies on this thread: more than one is a task run
 * on another's stack. */
static _Thread_local int nesting;
static atomic_int deepest;

static void enter(void)
{
	int d = ++nesting, seen = atomic_load(&deepest);

	while (d > seen && !atomic_compare_exchange_weak(&deepest, &seen, d))
		;
}

static void leave(void)
{
	nesting--;
}

/* ---- a, b: a waiter A and a task C that waits on A ----------------------
 * A waits for a promise that the test completes later, in one of four
 * ways; C, submitted once A started, waits for A's future (and, in the
 * mutex form, first takes the mutex that A holds across its wait: C then
 * sleeps where filch cannot see it, and its thread is simply taken).
 */
enum wait_kind { BY_RESULT, BY_WAIT, BY_GROUP, BY_MUTEX, NKINDS };

static const char *const kind_names[NKINDS] = {"filch_future_result",
					       "filch_wait", "filch_group_wait",
					       "a mutex held across the wait"};

#define A_RESULT ((void *)0xa)

struct pair {
	filch_executor *ex;
	enum wait_kind kind;
	filch_future *promise, *a, *c;
	pthread_mutex_t lock; /* error-checking: a relock on A's thread fails */
	atomic_bool a_started;
};

static int wait_promise_job(void *arg)
{
	return filch_future_result(arg, FILCH_FOREVER, NULL);
}

static int task_a(void *arg, void **result)
{
	struct pair *p = arg;
	filch_group g;
	int rc;

	if (p->kind == BY_MUTEX && (rc = pthread_mutex_lock(&p->lock)) != 0)
		return rc;
	atomic_store(&p->a_started, true);
	switch (p->kind) {
	case BY_WAIT:
		rc = filch_wait(&p->promise, 1, FILCH_FOREVER,
				FILCH_ALL_COMPLETED, NULL);
		break;
	case BY_GROUP:
		filch_group_init(&g, p->ex);
		rc = filch_group_spawn(&g, wait_promise_job, p->promise);
		if (rc == 0)
			rc = filch_group_wait(&g);
		break;
	default:
		rc = filch_future_result(p->promise, FILCH_FOREVER, NULL);
		break;
	}
	if (p->kind == BY_MUTEX)
		pthread_mutex_unlock(&p->lock);
	*result = A_RESULT;
	return rc;
}

static int task_c(void *arg, void **result)
{
	struct pair *p = arg;
	int rc;

	if (p->kind == BY_MUTEX) {
		if ((rc = pthread_mutex_lock(&p->lock)) != 0)
			return rc; /* EDEADLK: C ran on A's stack */
		pthread_mutex_unlock(&p->lock);
	}
	return filch_future_result(p->a, FILCH_FOREVER, result);
}

static void pair_init(struct pair *p, filch_executor *ex,
		      enum wait_kind kind)
{
	pthread_mutexattr_t attr;

	*p = (struct pair){.ex = ex, .kind = kind, .promise = promise()};
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&p->lock, &attr);
	pthread_mutexattr_destroy(&attr);
}

/* Submits A, then C once A started. */
static bool pair_submit(struct pair *p)
{
	if (!check_is(filch_submit(p->ex, task_a, p, &p->a), 0, "submit A"))
		return false;
	if (!check(EVENTUALLY(atomic_load(&p->a_started)), "A never started"))
		return false;
	return check_is(filch_submit(p->ex, task_c, p, &p->c), 0, "submit C");
}

/* Checks both outcomes (once A's promise is completed), frees the pair. */
static void pair_collect(struct pair *p)
{
	void *ra = NULL, *rc = NULL;

	if (p->a)
		check_is(filch_future_result(p->a, FILCH_FOREVER, &ra), 0,
			 kind_names[p->kind]);
	if (p->c)
		check_is(filch_future_result(p->c, FILCH_FOREVER, &rc), 0,
			 "C's wait on A");
	check(!p->a || ra == A_RESULT, "A's result");
	check(!p->c || rc == A_RESULT, "C's result is A's");
	filch_future_release(p->a);
	filch_future_release(p->c);
	filch_future_release(p->promise);
	pthread_mutex_destroy(&p->lock);
}

/* a: each way of waiting; the promise is completed 100 ms in. */
static int scenario_a(void *arg)
{
	filch_executor *ex = start_plain((unsigned)(uintptr_t)arg);

	for (int k = 0; k < NKINDS; k++) {
		struct pair p;
		int64_t t0 = tap_now_ns();

		pair_init(&p, ex, (enum wait_kind)k);
		if (pair_submit(&p))
			sleep_until(t0 + 100 * MS);
		check_is(filch_promise_set_result(p.promise, NULL), 0,
			 "set_result");
		pair_collect(&p);
		int64_t took = ms_since(t0);
		check(took >= 100 && took <= 100 + 5 * SLACK_MS,
		      "%s: A and C took %" PRId64 " ms, expected about 100",
		      kind_names[k], took);
	}
	stop(ex);
	return atomic_load(&failures);
}

/* b: two pairs at once, ten times over. A timer thread completes both
 * promises 10 ms in, whatever the main thread is doing: when pair 0 is of
 * the mutex kind, its C takes the spare that stands in for its A, so on one
 * worker pair 1's A can start only once pair 0's promise is completed (as in
 * any pool of one thread), and main, which waits for that start, must not
 * be the one to complete it. All four tasks must finish promptly, with the
 * right results. */
struct b_timer {
	filch_future *promises[2];
	int64_t at;
};

static void *complete_at(void *arg)
{
	struct b_timer *t = arg;

	sleep_until(t->at);
	for (int i = 0; i < 2; i++)
		check_is(filch_promise_set_result(t->promises[i], NULL), 0,
			 "set_result");
	return NULL;
}

static int scenario_b(void *arg)
{
	filch_executor *ex = start_plain((unsigned)(uintptr_t)arg);

	for (int rep = 0; rep < 10; rep++) {
		struct pair p[2];
		struct b_timer t = {.at = tap_now_ns() + 10 * MS};
		pthread_t th;

		for (int i = 0; i < 2; i++) {
			pair_init(&p[i], ex, (enum wait_kind)((rep + i) % NKINDS));
			t.promises[i] = p[i].promise;
		}
		if (pthread_create(&th, NULL, complete_at, &t) != 0) {
			fprintf(stderr, "test_waiting.c: pthread_create failed\n");
			exit(3);
		}
		for (int i = 0; i < 2; i++)
			pair_submit(&p[i]);
		pthread_join(th, NULL);
		for (int i = 0; i < 2; i++)
			pair_collect(&p[i]);
		int64_t took = (tap_now_ns() - (t.at - 10 * MS)) / MS;
		check(took >= 10 && took <= 10 + 5 * SLACK_MS,
		      "round %d (%s, then %s): the four tasks took %" PRId64
		      " ms, expected about 10",
		      rep, kind_names[p[0].kind], kind_names[p[1].kind], took);
	}
	stop(ex);
	return atomic_load(&failures);
}

/* ---- c: many blocking tasks on one worker, each completed once started --
 * Each task posts its index when it starts; a foreign completer completes
 * the promises in that order. The main thread keeps at most C_WINDOW tasks
 * unfinished (it collects task i - C_WINDOW before it submits task i), so
 * at most C_WINDOW of them sleep at once however far the completer lags
 * (on a loaded machine, by hundreds of starts). A spare is started only for
 * a sleeper that no dormant spare can serve, so C_WINDOW spare threads at
 * most serve all C_TASKS tasks.
 */
#define C_TASKS (100000 / SCALE)
#define C_WINDOW 32

static struct {
	filch_executor *ex;
	unsigned workers;
	filch_future **promises;
	pthread_mutex_t lock;
	pthread_cond_t posted;
	unsigned *started; /* indices in start order, under lock */
	unsigned nstarted;
	atomic_int bad_worker; /* tasks that saw a wrong worker index */
	atomic_int on_spare;   /* tasks that ran on a spare */
} cs;

static int started_task(void *arg, void **result)
{
	unsigned i = (unsigned)(uintptr_t)arg;
	int w = filch_current_worker();
	int rc;

	enter();
	if (w < 0 || w >= (int)(cs.workers + SPARES_DEFAULT))
		atomic_fetch_add(&cs.bad_worker, 1);
	if (w >= (int)cs.workers)
		atomic_fetch_add(&cs.on_spare, 1);
	pthread_mutex_lock(&cs.lock);
	cs.started[cs.nstarted++] = i;
	pthread_cond_signal(&cs.posted);
	pthread_mutex_unlock(&cs.lock);
	rc = filch_future_result(cs.promises[i], FILCH_FOREVER, result);
	leave();
	return rc;
}

/* Completes each promise once its task started; every 1000th a
 * millisecond late, so that its task surely sleeps (a spare then runs the
 * next ones) however fast the completer is otherwise. */
static void *completer(void *arg)
{
	for (unsigned n = 0; n < C_TASKS; n++) {
		pthread_mutex_lock(&cs.lock);
		while (cs.nstarted == n)
			pthread_cond_wait(&cs.posted, &cs.lock);
		unsigned i = cs.started[n];
		pthread_mutex_unlock(&cs.lock);
		if (n % 1000 == 999)
			sleep_ns(MS);
		filch_promise_set_result(cs.promises[i], (void *)(uintptr_t)i);
	}
	return NULL;
}

/* Waits for task i, counts it if it finished with its promise's value. */
static void c_collect(filch_future **fs, unsigned i, unsigned *finished)
{
	void *r = NULL;

	*finished += filch_future_result(fs[i], FILCH_FOREVER, &r) == 0 &&
		     r == (void *)(uintptr_t)i;
	filch_future_release(fs[i]);
	fs[i] = NULL;
}

static int scenario_c(void *arg)
{
	filch_future **fs = calloc(C_TASKS, sizeof(*fs));
	struct filch_spare_counts sc;
	unsigned finished = 0, n;
	pthread_t th;

	cs.workers = (unsigned)(uintptr_t)arg;
	cs.ex = start_plain(cs.workers);
	cs.promises = calloc(C_TASKS, sizeof(*cs.promises));
	cs.started = calloc(C_TASKS, sizeof(*cs.started));
	pthread_mutex_init(&cs.lock, NULL);
	pthread_cond_init(&cs.posted, NULL);
	for (unsigned i = 0; i < C_TASKS; i++)
		cs.promises[i] = promise();
	pthread_create(&th, NULL, completer, NULL);
	for (n = 0; n < C_TASKS; n++) {
		if (n >= C_WINDOW)
			c_collect(fs, n - C_WINDOW, &finished);
		if (!check_is(filch_submit(cs.ex, started_task,
					   (void *)(uintptr_t)n, &fs[n]),
			      0, "submit"))
			break;
	}
	for (unsigned i = n > C_WINDOW ? n - C_WINDOW : 0; i < n; i++)
		c_collect(fs, i, &finished);
	if (!check_is(finished, C_TASKS,
		      "tasks finished with their promise's value"))
		return atomic_load(&failures); /* the completer may still wait */
	pthread_join(th, NULL);
	check_is(atomic_load(&deepest), 1, "deepest nesting of task bodies");
	/* Spare threads stay once started: threads is the most there were. */
	if (spare_counts(cs.ex, &sc)) {
		check(sc.threads <= C_WINDOW, "%u spare threads, at most %u "
		      "expected (tasks unfinished at once)", sc.threads,
		      C_WINDOW);
		check_is(sc.refused, 0, "waits refused a spare");
	}
	check_is(atomic_load(&cs.bad_worker), 0,
		 "tasks with a worker index out of range");
	check(atomic_load(&cs.on_spare) > 0, "no task ran on a spare");
	stop(cs.ex);
	for (unsigned i = 0; i < C_TASKS; i++)
		filch_future_release(cs.promises[i]);
	pthread_mutex_destroy(&cs.lock);
	pthread_cond_destroy(&cs.posted);
	free(cs.started);
	free(cs.promises);
	free(fs);
	return atomic_load(&failures);
}

/* ---- d: recursive submit + result on one worker ------------------------
 * Each level submits the next and waits for it forever: the not yet
 * started task runs inline, so the depth is the program's own recursion
 * (hence the large stack for the deep run).
 */
#define D_DEEP (40000 / (SCALE > 4 ? 4 : SCALE))
#define D_STACK ((size_t)256 << 20)

static int recurse(void *arg, void **result)
{
	uintptr_t n = (uintptr_t)arg;
	filch_future *f = NULL;
	void *r = NULL;
	int rc;

	if (n == 0)
		return 0;
	rc = filch_submit(filch_current_executor(), recurse, (void *)(n - 1),
			  &f);
	if (rc == 0)
		rc = filch_future_result(f, FILCH_FOREVER, &r);
	filch_future_release(f);
	*result = (void *)((uintptr_t)r + 1);
	return rc;
}

static void recurse_from_top(filch_executor *ex, uintptr_t depth)
{
	filch_future *f = NULL;
	void *r = NULL;

	if (check_is(filch_submit(ex, recurse, (void *)depth, &f), 0, "submit"))
		check_is(filch_future_result(f, FILCH_FOREVER, &r), 0,
			 "the recursion's outcome");
	check_is((uintptr_t)r, depth, "the recursion's depth");
	filch_future_release(f);
}

static int scenario_d(void *arg)
{
	struct filch_executor_opts o = {.flags = FILCH_OPT_STACK_SIZE,
					.workers = (unsigned)(uintptr_t)arg,
					.stack_size = D_STACK};
	filch_executor *ex = start(&o);

	recurse_from_top(ex, D_DEEP);
	stop(ex);
	ex = start_plain(o.workers);
	recurse_from_top(ex, 1000);
	stop(ex);
	return atomic_load(&failures);
}

/* ---- e: a bounded queue holds while its tasks wait ----------------------
 * The tasks wait with a long timeout: a timed wait without a spare blocks
 * (an untimed one would return -EAGAIN at once, scenario j), so the
 * workers, the two spares and the queue fill up and submitters are
 * refused after full_timeout_ns.
 */
#define E_CAPACITY 4
#define E_SPARES 2
#define E_TASKS 200
#define E_SLACK 2

static int wait_shared(void *arg, void **result)
{
	int rc;

	enter();
	rc = filch_future_result(arg, 5000 * MS, result);
	leave();
	return rc;
}

static int scenario_e(void *arg)
{
	struct filch_executor_opts o = {
	    .flags = FILCH_OPT_MAX_SPARES,
	    .workers = (unsigned)(uintptr_t)arg,
	    .queue_capacity = E_CAPACITY,
	    .full_policy = FILCH_FULL_BLOCK,
	    .full_timeout_ns = 50 * MS,
	    .max_spares = E_SPARES,
	};
	filch_future *fs[E_TASKS] = {0}, *p = promise();
	unsigned accepted = 0, bound;
	int rc = 0;
	int64_t t = 0;
	filch_executor *ex = start(&o);

	bound = E_CAPACITY + o.workers + E_SPARES + E_SLACK;
	while (accepted < E_TASKS) {
		t = tap_now_ns();
		if ((rc = filch_submit(ex, wait_shared, p, &fs[accepted])) != 0)
			break;
		accepted++;
	}
	check(accepted <= bound, "%u tasks accepted before a refusal, at most "
				 "%u expected", accepted, bound);
	check_is(rc, -EAGAIN, "the first refusal");
	check(rc == 0 || ms_since(t) >= 40,
	      "refused after %" PRId64 " ms, before full_timeout_ns",
	      ms_since(t));
	filch_promise_set_result(p, (void *)p);
	for (unsigned i = 0; i < accepted; i++) {
		void *r = NULL;

		check_is(filch_future_result(fs[i], FILCH_FOREVER, &r), 0,
			 "an accepted task's wait");
		check(r == p, "an accepted task's result");
		filch_future_release(fs[i]);
	}
	check_is(atomic_load(&deepest), 1, "deepest nesting of task bodies");
	stop(ex);
	filch_future_release(p);
	return atomic_load(&failures);
}

/* ---- f: timed waits keep their timeouts -------------------------------- */

static atomic_bool f_stop;

/* An unrelated task: sleeps 1.5 s, or until the test is done with it. */
static int long_task(void *arg, void **result)
{
	nap_until_set(&f_stop, 1500);
	return 0;
}

/* A timed wait on a pending future must time out within its timeout plus
 * scheduling noise. */
static void check_timed_out(const char *what, int rc, int64_t t0,
			    int64_t timeout_ms)
{
	int64_t took = ms_since(t0);

	check(rc == -ETIMEDOUT, "%s(%" PRId64 " ms) returned %d", what,
	      timeout_ms, rc);
	check(took <= timeout_ms + SLACK_MS,
	      "%s(%" PRId64 " ms) returned after %" PRId64 " ms", what,
	      timeout_ms, took);
}

/* Runs fn as one task on a new executor of `workers` and waits for it. */
static int run_as_task(unsigned workers, filch_task_fn fn)
{
	filch_executor *ex = start_plain(workers);
	filch_future *f = NULL;

	if (check_is(filch_submit(ex, fn, NULL, &f), 0, "submit"))
		check_is(filch_future_result(f, FILCH_FOREVER, NULL), 0,
			 "the waiting task");
	filch_future_release(f);
	stop(ex);
	return atomic_load(&failures);
}

/* f1: result(20 ms) with a 1.5 s task queued behind the waiter. */
static int wait_20ms_behind_long(void *arg, void **result)
{
	filch_future *p = promise();
	int64_t t0;
	int rc;

	rc = filch_submit(filch_current_executor(), long_task, NULL, NULL);
	if (rc)
		return rc;
	t0 = tap_now_ns();
	check_timed_out("filch_future_result",
			filch_future_result(p, 20 * MS, NULL), t0, 20);
	atomic_store(&f_stop, true);
	filch_future_release(p);
	return 0;
}

static int scenario_f1(void *arg)
{
	return run_as_task((unsigned)(uintptr_t)arg, wait_20ms_behind_long);
}

/* f2: result, wait and as_completed_next(10 ms) with many tiny tasks
 * (2 us each) queued behind the waiter: more than a second of work. */
#define F2_TASKS (500000 / SCALE)

static int tiny_task(void *arg, void **result)
{
	int64_t end = tap_now_ns() + 2000;

	while (!atomic_load_explicit(&f_stop, memory_order_relaxed) &&
	       tap_now_ns() < end)
		;
	return 0;
}

static int timed_waits_behind_tiny(void *arg, void **result)
{
	filch_executor *ex = filch_current_executor();
	filch_future *p = promise(), *got = NULL;
	filch_as_completed *it = NULL;
	int64_t t0;

	for (unsigned i = 0; i < F2_TASKS; i++)
		if (!check_is(filch_submit(ex, tiny_task, NULL, NULL), 0,
			      "submit a tiny task"))
			break;
	t0 = tap_now_ns();
	check_timed_out("filch_future_result",
			filch_future_result(p, 10 * MS, NULL), t0, 10);
	t0 = tap_now_ns();
	check_timed_out("filch_wait",
			filch_wait(&p, 1, 10 * MS, FILCH_ALL_COMPLETED, NULL),
			t0, 10);
	t0 = tap_now_ns();
	if (check_is(filch_as_completed_begin(&it, &p, 1, 10 * MS), 0,
		     "as_completed_begin"))
		check_timed_out("filch_as_completed_next",
				filch_as_completed_next(it, &got), t0, 10);
	filch_as_completed_end(it);
	atomic_store(&f_stop, true);
	filch_future_release(p);
	return 0;
}

static int scenario_f2(void *arg)
{
	return run_as_task((unsigned)(uintptr_t)arg, timed_waits_behind_tiny);
}

/* f3: a negative timeout other than FILCH_FOREVER polls, on a foreign
 * thread and in a task. */
static int poll_negative(void *arg, void **result)
{
	filch_future *p = promise(), *got = NULL;
	filch_as_completed *it = NULL;
	int64_t t0 = tap_now_ns();
	int code = 0;

	check_is(filch_future_result(p, -5, NULL), -ETIMEDOUT,
		 "filch_future_result(-5)");
	check_is(filch_future_error(p, -5, &code, NULL), -ETIMEDOUT,
		 "filch_future_error(-5)");
	check_is(filch_wait(&p, 1, -5, FILCH_FIRST_COMPLETED, NULL),
		 -ETIMEDOUT, "filch_wait(-5)");
	if (check_is(filch_as_completed_begin(&it, &p, 1, -5), 0,
		     "as_completed_begin(-5)"))
		check_is(filch_as_completed_next(it, &got), -ETIMEDOUT,
			 "filch_as_completed_next after begin(-5)");
	filch_as_completed_end(it);
	check(ms_since(t0) <= SLACK_MS, "polls with -5 took %" PRId64 " ms",
	      ms_since(t0));
	filch_future_release(p);
	return 0;
}

static int scenario_f3(void *arg)
{
	poll_negative(NULL, NULL);
	return run_as_task((unsigned)(uintptr_t)arg, poll_negative);
}

/* ---- g: a continuation made ready by a worker is stealable -------------- */

static atomic_llong g_cont_start;
static atomic_bool g_cont_started;

static int cont_stamp(filch_future *antecedent, void *arg, void **result)
{
	atomic_store(&g_cont_start, (long long)tap_now_ns());
	atomic_store(&g_cont_started, true);
	*result = arg;
	return 0;
}

/* Completes the promise, then runs on for 1 s (less once the continuation
 * started elsewhere); returns when it completed it. */
static int complete_and_run_on(void *arg, void **result)
{
	int64_t t = tap_now_ns();

	filch_promise_set_result(arg, NULL);
	nap_until_set(&g_cont_started, 1000);
	*result = (void *)(intptr_t)t;
	return 0;
}

/* Completes the promise, then waits forever for its continuation. */
static int complete_and_wait(void *arg, void **result)
{
	filch_future **pc = arg;

	filch_promise_set_result(pc[0], NULL);
	return filch_future_result(pc[1], FILCH_FOREVER, result);
}

static int scenario_g(void *arg)
{
	unsigned workers = (unsigned)(uintptr_t)arg;
	filch_executor *ex = start_plain(workers);
	filch_future *pc[2] = {promise(), NULL}, *t = NULL, *then = NULL;
	void *r = NULL;

	/* With an idle worker, the continuation starts at once. */
	if (workers >= 2 &&
	    check_is(filch_future_then(pc[0], ex, cont_stamp, NULL, &then), 0,
		     "then") &&
	    check_is(filch_submit(ex, complete_and_run_on, pc[0], &t), 0,
		     "submit")) {
		check_is(filch_future_result(t, FILCH_FOREVER, &r), 0,
			 "the completing task");
		check_is(filch_future_result(then, FILCH_FOREVER, NULL), 0,
			 "the continuation");
		int64_t late = (atomic_load(&g_cont_start) - (intptr_t)r) / MS;
		check(late <= CONT_START_MS,
		      "the continuation started %" PRId64 " ms after its "
		      "antecedent completed, with a worker idle", late);
	}
	filch_future_release(t);
	filch_future_release(then);
	filch_future_release(pc[0]);

	/* The completing task waits for the continuation it made ready. */
	pc[0] = promise();
	t = NULL;
	r = NULL;
	if (check_is(filch_future_then(pc[0], ex, cont_stamp, (void *)0x9,
				       &pc[1]),
		     0, "then") &&
	    check_is(filch_submit(ex, complete_and_wait, pc, &t), 0, "submit"))
		check_is(filch_future_result(t, FILCH_FOREVER, &r), 0,
			 "the task waiting for its continuation");
	check(r == (void *)0x9, "the continuation's result");
	filch_future_release(t);
	filch_future_release(pc[1]);
	filch_future_release(pc[0]);
	stop(ex);
	return atomic_load(&failures);
}

/* ---- h: a cancelling shutdown leaves nothing pending --------------------
 * Every worker is held by a long task that first queues children on its
 * own deque; a foreign thread submits H_TASKS tasks, some before the long
 * tasks (so that some sit in deques), then shuts down with CANCEL_PENDING.
 */
#define H_TASKS 100
#define H_KIDS 10
#define H_MAX_WORKERS 8
#define H_ALL (H_TASKS + H_MAX_WORKERS * H_KIDS)

static struct {
	filch_executor *ex;
	filch_future *fs[H_ALL]; /* the foreign tasks, then the children */
	atomic_int ran[H_ALL];
	atomic_int holding; /* long tasks started */
	atomic_bool gate;
} hs;

static int mark_ran(void *arg, void **result)
{
	atomic_fetch_add(&hs.ran[(uintptr_t)arg], 1);
	return 0;
}

static int hold_worker(void *arg, void **result)
{
	uintptr_t first = H_TASKS + (uintptr_t)arg * H_KIDS;

	for (uintptr_t i = first; i < first + H_KIDS; i++)
		filch_submit(hs.ex, mark_ran, (void *)i, &hs.fs[i]);
	atomic_fetch_add(&hs.holding, 1);
	nap_until_set(&hs.gate, 10000);
	return 0;
}

static void h_round(unsigned workers, unsigned rep)
{
	unsigned early = rep * H_TASKS / 20, nall = H_TASKS + workers * H_KIDS;
	filch_future *holds[H_MAX_WORKERS] = {0};

	memset(&hs, 0, sizeof(hs));
	hs.ex = start_plain(workers);
	for (unsigned i = 0; i < H_TASKS; i++) {
		if (i == early)
			for (uintptr_t w = 0; w < workers; w++)
				check_is(filch_submit(hs.ex, hold_worker,
						      (void *)w, &holds[w]),
					 0, "submit a long task");
		check_is(filch_submit(hs.ex, mark_ran, (void *)(uintptr_t)i,
				      &hs.fs[i]),
			 0, "submit");
	}
	/* The children of the long tasks are submitted before the shutdown:
	 * it must cancel them too. */
	check(EVENTUALLY(atomic_load(&hs.holding) == (int)workers),
	      "round %u: the long tasks did not all start", rep);
	sleep_ns((rep % 4) * 100000);
	check_is(filch_shutdown(hs.ex, FILCH_SHUTDOWN_CANCEL_PENDING), 0,
		 "shutdown");
	unsigned pending = 0;
	for (unsigned i = 0; i < nall; i++)
		pending += hs.fs[i] &&
			   filch_future_state(hs.fs[i]) == FILCH_PENDING;
	check(pending == 0, "round %u: %u futures still PENDING after a "
			    "cancelling shutdown returned", rep, pending);
	atomic_store(&hs.gate, true);
	stop(hs.ex);
	for (unsigned i = 0; i < nall; i++) {
		int st = filch_future_state(hs.fs[i]), ran = atomic_load(&hs.ran[i]);

		if (hs.fs[i] &&
		    !check(st == FILCH_CANCELLED ? ran == 0
						 : st == FILCH_FINISHED && ran == 1,
			   "round %u: task %u is in state %d and ran %d times",
			   rep, i, st, ran))
			break;
	}
	for (unsigned i = 0; i < nall; i++)
		filch_future_release(hs.fs[i]);
	for (unsigned w = 0; w < workers; w++)
		filch_future_release(holds[w]);
}

static int scenario_h(void *arg)
{
	for (unsigned rep = 0; rep < 20 && !atomic_load(&failures); rep++)
		h_round((unsigned)(uintptr_t)arg, rep);
	return atomic_load(&failures);
}

/* ---- i: a chain of tasks, each waiting forever for the next ------------- */
#define I_LINKS 1000

static int wait_next(void *arg, void **result)
{
	void *r = NULL;
	int rc;

	if (!arg)
		return 0;
	rc = filch_future_result(arg, FILCH_FOREVER, &r);
	*result = (void *)((uintptr_t)r + 1);
	return rc;
}

static int scenario_i(void *arg)
{
	filch_executor *ex = start_plain((unsigned)(uintptr_t)arg);
	filch_future *fs[I_LINKS + 1] = {0};
	struct filch_spare_counts sc;
	unsigned right = 0;

	/* Last to first: task i is given the future of task i + 1. */
	for (unsigned i = I_LINKS; i-- > 0;)
		if (!check_is(filch_submit(ex, wait_next, fs[i + 1], &fs[i]), 0,
			      "submit"))
			break;
	for (unsigned i = 0; i < I_LINKS && fs[i]; i++) {
		void *r = NULL;

		right += filch_future_result(fs[i], FILCH_FOREVER, &r) == 0 &&
			 (uintptr_t)r == I_LINKS - 1 - i;
	}
	check_is(right, I_LINKS, "links with the right result");
	if (spare_counts(ex, &sc))
		check(sc.threads <= SPARES_DEFAULT, "%u spare threads",
		      sc.threads);
	for (unsigned i = 0; i < I_LINKS; i++)
		filch_future_release(fs[i]);
	stop(ex);
	return atomic_load(&failures);
}

/* ---- j: no spare left: an untimed wait on a worker is -EAGAIN ----------- */
#define J_MAX_TASKS (8 + 1)

struct j_task {
	filch_future *promise;
	int rc, worker;
	int64_t took_ms;
};

static int wait_or_eagain(void *arg, void **result)
{
	struct j_task *t = arg;
	int64_t t0 = tap_now_ns();

	t->worker = filch_current_worker();
	t->rc = filch_future_result(t->promise, FILCH_FOREVER, NULL);
	t->took_ms = ms_since(t0);
	return 0;
}

static int scenario_j(void *arg)
{
	struct filch_executor_opts o = {.flags = FILCH_OPT_MAX_SPARES,
					.workers = (unsigned)(uintptr_t)arg,
					.max_spares = 1};
	struct j_task tasks[J_MAX_TASKS] = {0};
	filch_future *fs[J_MAX_TASKS] = {0};
	struct filch_spare_counts sc;
	unsigned n = o.workers + 1, waited = 0, refused = 0;
	int64_t t0 = tap_now_ns();
	filch_executor *ex = start(&o);

	for (unsigned i = 0; i < n; i++) {
		tasks[i].promise = promise();
		check_is(filch_submit(ex, wait_or_eagain, &tasks[i], &fs[i]), 0,
			 "submit");
	}
	sleep_until(t0 + 200 * MS);
	if (spare_counts(ex, &sc)) {
		check(sc.refused >= o.workers, "%llu waits refused a spare, "
			"%u expected", sc.refused, o.workers);
		check(sc.threads <= 1, "%u spare threads, bound 1", sc.threads);
	}
	for (unsigned i = 0; i < n; i++)
		filch_promise_set_result(tasks[i].promise, NULL);
	for (unsigned i = 0; i < n; i++) {
		check_is(filch_future_result(fs[i], FILCH_FOREVER, NULL), 0,
			 "a task");
		filch_future_release(fs[i]);
		filch_future_release(tasks[i].promise);
		waited += tasks[i].rc == 0;
		refused += tasks[i].rc == -EAGAIN && tasks[i].took_ms <= SLACK_MS;
		check(tasks[i].worker < (int)n, "a task on worker %d",
		      tasks[i].worker);
	}
	check_is(waited, 1, "waits that got the one spare");
	check_is(refused, o.workers, "waits refused with -EAGAIN at once");
	stop(ex);
	return atomic_load(&failures);
}

/* ---- k: a spare stands in for a task blocked outside filch -------------
 * A takes the mutex M, then waits for a promise (a spare stands in for it).
 * C, run by that spare, sleeps on M between filch_blocking_begin and
 * filch_blocking_end. D, submitted while C sleeps there, must start at once
 * although every thread the pool had sleeps: filch_blocking_begin gave it
 * another spare. Main then completes the promise: A releases M, C takes it,
 * and all three finish.
 */
#define K_START_MS (50 + SLACK_MS)
#define K_RESULT(task) ((void *)(uintptr_t)(task))

static struct {
	pthread_mutex_t m;
	filch_future *promise;
	atomic_bool a_holds, c_blocking, c_locked, d_saw_c_locked;
	atomic_int c_begin;   /* what filch_blocking_begin returned in C */
	atomic_llong d_start; /* tap_now_ns() when D started, 0 before */
} ks;

static int k_task_a(void *arg, void **result)
{
	int rc;

	pthread_mutex_lock(&ks.m);
	atomic_store(&ks.a_holds, true);
	rc = filch_future_result(ks.promise, FILCH_FOREVER, NULL);
	pthread_mutex_unlock(&ks.m);
	*result = K_RESULT('a');
	return rc;
}

static int k_task_c(void *arg, void **result)
{
	int rc = filch_blocking_begin();

	atomic_store(&ks.c_begin, rc);
	atomic_store(&ks.c_blocking, true);
	pthread_mutex_lock(&ks.m);
	atomic_store(&ks.c_locked, true);
	pthread_mutex_unlock(&ks.m);
	if (rc == 0)
		filch_blocking_end();
	*result = K_RESULT('c');
	return 0;
}

static int k_task_d(void *arg, void **result)
{
	atomic_store(&ks.d_saw_c_locked, atomic_load(&ks.c_locked));
	atomic_store(&ks.d_start, (long long)tap_now_ns());
	*result = K_RESULT('d');
	return 0;
}

/* Waits for D's start (2 s at most, then gives up) and checks it. */
static void k_check_d_started(filch_executor *ex, int64_t submitted)
{
	struct filch_spare_counts sc;
	int64_t end = submitted + 2000 * MS;
	long long started;

	while (!(started = atomic_load(&ks.d_start)) && tap_now_ns() < end)
		sleep_ns(100000);
	check(started && (started - submitted) / MS <= K_START_MS,
	      "D started %lld ms after its submission (-1: not in 2 s) while "
	      "A waited and C slept on M, expected at most %d ms",
	      started ? (long long)((started - submitted) / MS) : -1LL,
	      K_START_MS);
	check(!atomic_load(&ks.d_saw_c_locked), "C took M while A held it");
	if (started && spare_counts(ex, &sc)) {
		check_is(sc.blocked, 2, "workers blocked (A in its wait, C on M)");
		check_is(sc.refused, 0, "waits refused a spare");
	}
}

static int scenario_k(void *arg)
{
	filch_executor *ex = start_plain((unsigned)(uintptr_t)arg);
	filch_future *fs[3] = {0}; /* A, C, D */
	static const char names[3] = {'a', 'c', 'd'};

	pthread_mutex_init(&ks.m, NULL);
	ks.promise = promise();
	if (check_is(filch_submit(ex, k_task_a, NULL, &fs[0]), 0, "submit A") &&
	    check(EVENTUALLY(atomic_load(&ks.a_holds)), "A never took M") &&
	    check_is(filch_submit(ex, k_task_c, NULL, &fs[1]), 0, "submit C") &&
	    check(EVENTUALLY(atomic_load(&ks.c_blocking)), "C never started")) {
		sleep_ns(5 * MS); /* C now sleeps in pthread_mutex_lock */
		int64_t t = tap_now_ns();

		if (check_is(filch_submit(ex, k_task_d, NULL, &fs[2]), 0,
			     "submit D"))
			k_check_d_started(ex, t);
	}
	check_is(filch_promise_set_result(ks.promise, NULL), 0, "set_result");
	for (int i = 0; i < 3; i++) {
		void *r = NULL;

		if (fs[i] && check_is(filch_future_result(fs[i], FILCH_FOREVER, &r),
				      0, "a task's outcome"))
			check(r == K_RESULT(names[i]), "task %c's result",
			      names[i]);
		filch_future_release(fs[i]);
	}
	check_is(atomic_load(&ks.c_begin), 0, "filch_blocking_begin in C");
	check(atomic_load(&ks.c_locked), "C never took M");
	stop(ex);
	filch_future_release(ks.promise);
	pthread_mutex_destroy(&ks.m);
	return atomic_load(&failures);
}

/* ---- l: filch_blocking_begin without a spare, and on a foreign thread ---- */

/* Misplaced calls too: ends without a begin, a nested begin, an end after
 * a refused begin; none may change the counts. */
static int blocking_begin_task(void *arg, void **result)
{
	filch_blocking_end();
	filch_blocking_end();
	int rc = filch_blocking_begin();

	if (rc == 0)
		filch_blocking_begin();
	filch_blocking_end();
	filch_blocking_end();
	*result = (void *)(intptr_t)rc;
	return 0;
}

static int scenario_l(void *arg)
{
	struct filch_executor_opts o = {.flags = FILCH_OPT_MAX_SPARES,
					.workers = (unsigned)(uintptr_t)arg,
					.max_spares = 0};
	struct filch_spare_counts sc;
	filch_executor *ex;
	filch_future *f = NULL;
	void *r = NULL;

	/* A foreign thread, before and while an executor exists. */
	check_is(filch_blocking_begin(), 0,
		 "filch_blocking_begin on a foreign thread");
	filch_blocking_end();
	ex = start(&o);
	check_is(filch_blocking_begin(), 0,
		 "filch_blocking_begin on a foreign thread");
	filch_blocking_end();
	if (check_is(filch_submit(ex, blocking_begin_task, NULL, &f), 0,
		     "submit") &&
	    check_is(filch_future_result(f, FILCH_FOREVER, &r), 0, "the task"))
		check_is((intptr_t)r, -EAGAIN,
			 "filch_blocking_begin in a task with max_spares = 0");
	filch_future_release(f);
	if (spare_counts(ex, &sc)) {
		check_is(sc.threads, 0, "spare threads with max_spares = 0");
		check_is(sc.blocked, 0, "workers blocked after a refusal");
		check_is(sc.refused, 1, "refusals");
	}
	stop(ex);

	/* With spares: the nested begin and the extra ends count nothing. */
	o.max_spares = 1;
	ex = start(&o);
	f = NULL;
	if (check_is(filch_submit(ex, blocking_begin_task, NULL, &f), 0,
		     "submit") &&
	    check_is(filch_future_result(f, FILCH_FOREVER, &r), 0, "the task"))
		check_is((intptr_t)r, 0, "filch_blocking_begin with a spare");
	filch_future_release(f);
	if (spare_counts(ex, &sc)) {
		check_is(sc.blocked, 0, "workers blocked after misplaced calls");
		check(sc.threads <= 1, "spare threads: %u", sc.threads);
	}
	stop(ex);
	return atomic_load(&failures);
}

/* ---- the list ---------------------------------------------------------- */

static const unsigned all_counts[] = {1, 2, 8, 0};
static const unsigned one_worker[] = {1, 0};
static const unsigned one_and_two[] = {1, 2, 0};

static const struct scenario {
	const char *name;
	isolate_fn fn;
	const unsigned *workers; /* ends with 0 */
	unsigned watchdog_s;
} scenarios[] = {
    {"a: waits on a promise and on the waiter finish", scenario_a,
     all_counts, 5},
    {"b: two waiter pairs at once, ten times", scenario_b, all_counts, 5},
    {"c: blocking tasks do not nest and need few spares", scenario_c,
     one_worker, 30},
    {"d: recursive submit + result", scenario_d, one_worker, 20},
    {"e: a bounded queue holds while its tasks wait", scenario_e,
     all_counts, 10},
    {"f1: result(20 ms) with a long task queued behind", scenario_f1,
     all_counts, 5},
    {"f2: timed waits with many tasks queued behind", scenario_f2,
     all_counts, 15},
    {"f3: a negative timeout polls", scenario_f3, all_counts, 5},
    {"g: a continuation is stealable and waitable", scenario_g, all_counts,
     5},
    {"h: a cancelling shutdown leaves nothing pending", scenario_h,
     all_counts, 15},
    {"i: a chain of tasks waiting on the next", scenario_i, one_and_two,
     10},
    {"j: with no spare left an untimed wait is -EAGAIN", scenario_j,
     all_counts, 5},
    {"k: a spare stands in for a task blocked in filch_blocking_begin",
     scenario_k, one_and_two, 5},
    {"l: filch_blocking_begin is -EAGAIN without a spare, 0 off the pool",
     scenario_l, one_and_two, 5},
};

int main(void)
{
	char why[200];

	for (size_t s = 0; s < sizeof(scenarios) / sizeof(*scenarios); s++) {
		const struct scenario *sc = &scenarios[s];

		for (const unsigned *w = sc->workers; *w; w++) {
			bool pass = isolate_run(sc->fn, (void *)(uintptr_t)*w,
						sc->watchdog_s * WATCHDOG_X,
						why, sizeof(why)) == 0;

			ok(pass, "%s (%u worker%s): %s", sc->name, *w,
			   *w == 1 ? "" : "s", why);
			if (!pass && *isolate_last_note())
				diag("%s", isolate_last_note());
		}
	}
	return tap_done();
}
