/* SPDX-License-Identifier: MIT */
/*
 * test_wait_order.c - filch_wait reorders fs as a stable partition (the
 * futures counted done first, then the others, each part in input order)
 * in every return path: 0, -ETIMEDOUT and -EAGAIN, with duplicates, with
 * futures done before the call and others completing during it, in any
 * order. Deterministic: a helper thread completes the "during" futures only
 * once the waiter sleeps inside filch_wait (its state in /proc), that is
 * after filch_wait looked at every future and registered its callbacks.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filch.h>

#include "cf_helpers.h"
#include "tap.h"

static const int64_t MS = 1000000;

enum { MAX_LETTERS = 26, MAX_ENTRIES = 64 };

static pid_t gettid_now(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Whether thread tid of this process is asleep (state S in its stat). */
static bool thread_sleeps(pid_t tid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	FILE *fp = fopen(path, "r");
	if (!fp)
		bail_out("cannot open %s", path);
	size_t len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	char *end = strrchr(buf, ')'); /* the name may hold spaces */
	return end && end[1] == ' ' && end[2] == 'S';
}

/* Completes fs[i] in order (an error when fail[i], else a result) once the
 * waiter thread sleeps. */
struct during {
	pthread_t thread;
	pid_t waiter;
	filch_future **fs;
	const bool *fail;
	size_t n;
};

static void *during_main(void *arg)
{
	struct during *d = arg;
	int64_t give_up = tap_now_ns() + 10000 * MS;

	while (!thread_sleeps(d->waiter)) {
		if (tap_now_ns() > give_up)
			bail_out("the waiter never slept in filch_wait");
		cf_sleep_ms(0);
	}
	for (size_t i = 0; i < d->n; i++)
		if (d->fail && d->fail[i])
			filch_promise_set_error(d->fs[i], 7, "during");
		else
			filch_promise_set_result(d->fs[i], NULL);
	return NULL;
}

static void during_start(struct during *d, filch_future **fs,
			 const bool *fail, size_t n)
{
	*d = (struct during){.waiter = gettid_now(), .fs = fs, .fail = fail,
			     .n = n};
	if (pthread_create(&d->thread, NULL, during_main, d) != 0)
		bail_out("pthread_create failed");
}

/*
 * One case. layout: one letter per entry of fs, a letter being one promise
 * (a repeated letter lists it again). before: letters completed before the
 * call. during: letters completed in that order once the waiter sleeps; an
 * upper-case letter fails. The expected order is computed here: the
 * entries whose letter was completed, then the others, in layout order.
 */
struct wait_case {
	const char *layout, *before, *during;
	int mode;
	int64_t timeout_ns;
	int rc;
};

static int letter(char c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' : c - 'a';
}

/* The stable partition of layout by the letters of before and during. */
static size_t expected_order(const struct wait_case *c, char *want)
{
	bool done[MAX_LETTERS] = {false};
	size_t n = strlen(c->layout), k = 0;

	for (const char *s = c->before; *s; s++)
		done[letter(*s)] = true;
	for (const char *s = c->during; *s; s++)
		done[letter(*s)] = true;
	for (size_t i = 0; i < n; i++)
		if (done[letter(c->layout[i])])
			want[k++] = c->layout[i];
	size_t ndone = k;
	for (size_t i = 0; i < n; i++)
		if (!done[letter(c->layout[i])])
			want[k++] = c->layout[i];
	want[k] = '\0';
	return ndone;
}

static void run_case(const struct wait_case *c, const char *what)
{
	filch_future *p[MAX_LETTERS] = {NULL}, *fs[MAX_ENTRIES];
	char want[MAX_ENTRIES + 1], got[MAX_ENTRIES + 1];
	filch_future *dfs[MAX_LETTERS];
	bool dfail[MAX_LETTERS];
	size_t n = strlen(c->layout), nd = 99, nd_during = 0;
	struct during d;

	for (size_t i = 0; i < n; i++) {
		int l = letter(c->layout[i]);
		if (!p[l] && filch_promise_create(&p[l]) != 0)
			bail_out("filch_promise_create failed");
		fs[i] = p[l];
	}
	for (const char *s = c->before; *s; s++)
		filch_promise_set_result(p[letter(*s)], NULL);
	for (const char *s = c->during; *s; s++, nd_during++) {
		dfs[nd_during] = p[letter(*s)];
		dfail[nd_during] = *s >= 'A' && *s <= 'Z';
	}
	size_t want_nd = expected_order(c, want);
	during_start(&d, dfs, dfail, nd_during);
	int rc = filch_wait(fs, n, c->timeout_ns, c->mode, &nd);
	pthread_join(d.thread, NULL);

	for (size_t i = 0; i < n; i++)
		for (int l = 0; l < MAX_LETTERS; l++)
			if (fs[i] == p[l])
				got[i] = (char)('a' + l);
	got[n] = '\0';
	for (size_t i = 0; i < n; i++)
		want[i] = (char)('a' + letter(want[i]));
	is(rc, c->rc, "%s: return code", what);
	is(nd, want_nd, "%s: ndone", what);
	ok(strcmp(got, want) == 0, "%s: %s reordered to %s (want %s)", what,
	   c->layout, got, want);
	for (int l = 0; l < MAX_LETTERS; l++)
		if (p[l]) {
			if (!filch_future_done(p[l]))
				filch_promise_set_result(p[l], NULL);
			filch_future_release(p[l]);
		}
}

/* Futures done before the call and others completing during it, in
 * orders that differ from the input order. */
static void test_fixed_cases(void)
{
	static const struct wait_case cases[] = {
		/* d before, then c, then a (failing): a c d | b */
		{"abcd", "d", "cA", FILCH_FIRST_EXCEPTION, FILCH_FOREVER, 0},
		{"abcd", "d", "ca", FILCH_ALL_COMPLETED, 250 * MS, -ETIMEDOUT},
		/* backwards */
		{"abcdef", "f", "edcB", FILCH_FIRST_EXCEPTION, FILCH_FOREVER, 0},
		{"abcdef", "f", "edcb", FILCH_ALL_COMPLETED, 250 * MS,
		 -ETIMEDOUT},
		/* duplicates: a and b listed twice */
		{"abacdbe", "d", "bE", FILCH_FIRST_EXCEPTION, FILCH_FOREVER, 0},
		{"abacdbe", "c", "eb", FILCH_ALL_COMPLETED, 250 * MS,
		 -ETIMEDOUT},
		/* nothing before: only completions during the call */
		{"abcd", "", "dB", FILCH_FIRST_EXCEPTION, FILCH_FOREVER, 0},
		/* every one done in the end: the input order itself */
		{"abcab", "c", "bA", FILCH_FIRST_EXCEPTION, FILCH_FOREVER, 0},
		{"abcab", "c", "ba", FILCH_ALL_COMPLETED, 5000 * MS, 0},
		/* a future listed many times completes during the call: all
		 * its entries are counted, none left among the others */
		{"abababababababababababababababababababababababababababab",
		 "", "a", FILCH_FIRST_COMPLETED, FILCH_FOREVER, 0},
		{"cbcabcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbcbc",
		 "a", "B", FILCH_FIRST_EXCEPTION, FILCH_FOREVER, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[96];
		const struct wait_case *c = &cases[i];

		snprintf(what, sizeof(what), "%s, %s before, %s during, %s",
			 c->layout, *c->before ? c->before : "none", c->during,
			 c->mode == FILCH_ALL_COMPLETED	    ? "ALL"
			 : c->mode == FILCH_FIRST_EXCEPTION ? "FIRST_EXC"
							    : "FIRST");
		run_case(c, what);
	}
}

/* Random layouts: up to 12 futures over up to 40 entries, some done
 * before, the others completed during the call in a random order, the last
 * of them failing (FIRST_EXCEPTION then holds). The seed is printed;
 * FILCH_TEST_SEED=n replays one. */
static void test_random_cases(void)
{
	enum { ROUNDS = 40 };
	const char *env = getenv("FILCH_TEST_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 10)
			    : (unsigned)(tap_now_ns() % 100000);

	diag("seed %u", seed);
	srand(seed);
	for (int r = 0; r < ROUNDS; r++) {
		char layout[41], before[13], during[13], what[80];
		int k = 2 + rand() % 11, n = 1 + rand() % 40, order[12];
		int nb = 0, ndur = 0;

		for (int i = 0; i < n; i++)
			layout[i] = (char)('a' + rand() % k);
		layout[n] = '\0';
		/* The letters the layout holds, shuffled: some before, at
		 * least one during, maybe some left pending. */
		int present = 0;
		for (int l = 0; l < k; l++)
			if (memchr(layout, 'a' + l, (size_t)n))
				order[present++] = l;
		for (int i = present - 1; i > 0; i--) {
			int j = rand() % (i + 1), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		int split = rand() % present;
		int last = split + 1 + rand() % (present - split);
		for (int i = 0; i < split; i++)
			before[nb++] = (char)('a' + order[i]);
		for (int i = split; i < last; i++)
			during[ndur++] = (char)('a' + order[i]);
		before[nb] = '\0';
		during[ndur - 1] = (char)(during[ndur - 1] - 'a' + 'A');
		during[ndur] = '\0';
		const struct wait_case c = {layout, before, during,
					    FILCH_FIRST_EXCEPTION,
					    FILCH_FOREVER, 0};
		snprintf(what, sizeof(what), "round %d, %s before, %s during",
			 r, *before ? before : "none", during);
		run_case(&c, what);
	}
}

/* -EAGAIN: on the only worker of an executor without spares, an untimed
 * ALL_COMPLETED wait runs its unstarted tasks in place, then cannot sleep.
 * fs = [a b c d]: a and c tasks, b a pending promise, d a done promise. */
struct eagain_run {
	int rc;
	size_t nd;
	char got[5];
};

static int eagain_task(void *arg, void **result)
{
	struct eagain_run *r = arg;
	filch_future *fs[4], *orig[4];

	if (filch_submit(filch_current_executor(), cf_task_sleep, NULL,
			 &fs[0]) != 0 ||
	    filch_submit(filch_current_executor(), cf_task_sleep, NULL,
			 &fs[2]) != 0)
		return EIO;
	cf_promises(&fs[1], 1);
	cf_promises(&fs[3], 1);
	filch_promise_set_result(fs[3], NULL);
	memcpy(orig, fs, sizeof(fs));
	r->nd = 99;
	r->rc = filch_wait(fs, 4, FILCH_FOREVER, FILCH_ALL_COMPLETED, &r->nd);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			if (fs[i] == orig[j])
				r->got[i] = (char)('a' + j);
	filch_promise_set_result(orig[1], NULL);
	cf_release_all(orig, 4);
	(void)result;
	return 0;
}

static void test_eagain(void)
{
	struct filch_executor_opts o = {.flags = FILCH_OPT_MAX_SPARES,
					.workers = 1, .max_spares = 0};
	struct eagain_run r = {.rc = 1};
	filch_executor *ex = NULL;
	filch_future *f;

	if (filch_executor_create(&ex, &o) != 0)
		bail_out("filch_executor_create failed");
	if (filch_submit(ex, eagain_task, &r, &f) != 0)
		bail_out("filch_submit failed");
	is(filch_future_result(f, 20000 * MS, NULL), 0, "-EAGAIN: task ran");
	filch_future_release(f);
	filch_executor_destroy(ex);
	is(r.rc, -EAGAIN, "-EAGAIN: no spare for an untimed wait on a worker");
	is(r.nd, 3, "-EAGAIN: ndone counts the tasks run in place and d");
	ok(strcmp(r.got, "acdb") == 0, "-EAGAIN: abcd reordered to %s "
	   "(want acdb)", r.got);
}

/* Many futures, a random half completed during the call in a scrambled
 * order (ALL times out): the partition comes from the recorded
 * completions, sorted; the last entry stays pending. */
static void test_many_during(void)
{
	enum { N = 3000, STRIDE = 7919 /* prime, so i -> i * STRIDE % N
					   visits every index */ };
	static filch_future *p[N], *fs[N], *order[N], *want[N];
	static bool done[N];
	size_t k = 0, w = 0, nd = 0;
	struct during d;

	cf_promises(p, N);
	memcpy(fs, p, sizeof(fs));
	for (int i = 0; i < N; i++)
		done[i] = rand() % 2 && i != N - 1;
	for (int i = 0; i < N; i++)
		if (done[(size_t)i * STRIDE % N])
			order[k++] = p[(size_t)i * STRIDE % N];
	for (int i = 0; i < N; i++)
		if (done[i])
			want[w++] = p[i];
	for (int i = 0; i < N; i++)
		if (!done[i])
			want[w++] = p[i];
	during_start(&d, order, NULL, k);
	is(filch_wait(fs, N, 500 * MS, FILCH_ALL_COMPLETED, &nd), -ETIMEDOUT,
	   "%d futures, %zu completing during the call: -ETIMEDOUT", N, k);
	pthread_join(d.thread, NULL);
	is(nd, k, "ndone counts every completion during the call");
	ok(memcmp(fs, want, sizeof(fs)) == 0,
	   "the stable partition: done ones, then the others, in input order");
	cf_release_all(p, N);
}

int main(void)
{
	tap_plan(0);
	test_fixed_cases();
	test_random_cases();
	test_eagain();
	test_many_during();
	return tap_done();
}
