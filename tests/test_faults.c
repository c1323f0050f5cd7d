/* SPDX-License-Identifier: MIT */
/*
 * test_faults.c - fails the Nth allocation, thread creation and futex wait,
 * for every N a workload reaches (the SQLite method), and checks that each
 * call returns a clear error only where a fault was injected (-ENOMEM for
 * an allocation, -EAGAIN for a thread; a futex wait that returns early must
 * cause no error at all), that nothing crashes or hangs, that LeakSanitizer
 * finds no leak (in an ASan build), that every future ends with an outcome
 * and every callback runs exactly once, and that the executors still shut
 * down. Each N runs in its own child process (tests/isolate.h). Allocation
 * and thread faults are walked one-shot and persistent (every call from the
 * Nth fails). Needs configure --enable-fault-injection; SKIPs otherwise.
 */
#include "config.h"

#include <stdio.h>

#ifndef FILCH_FAULT_INJECTION
int main(void)
{
	printf("1..0 # SKIP fault injection not built "
	       "(configure --enable-fault-injection)\n");
	return 0;
}
#else

#include <dlfcn.h>
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <filch.h>

#include <urcu.h>

#include "isolate.h"
#include "runtime/fault_ctl.h"
#include "tap.h"

#define SECOND INT64_C(1000000000)
#define EVENTUALLY (30 * SECOND)
/* Walks stop here even if the workload reaches more calls. */
#define MAX_N 4000

enum { NFUT = 24, NFIRE = 16, NMAP = 40, NJOBS = 20, NCANCEL = 8,
       NSPAWN = 2000, NFAILING = 6 };

/* What the workload saw; checked at its end. */
static _Atomic int runs[NFUT], cb_calls[NFUT], fire_runs, job_runs,
	cancel_runs, cancel_cbs, spawn_accepted, spawn_runs, spawn_jobs,
	spawn_jobs_run;
static _Atomic bool gate_open;
static enum filch__fault_site armed_site;

/* The failure a workload part noted, for the child's final report. */
static char failure[200];

#define FAIL(fmt, ...)                                              \
	do {                                                        \
		snprintf(failure, sizeof(failure), "line %d: " fmt, \
			 __LINE__, ##__VA_ARGS__);                  \
		return __LINE__;                                    \
	} while (0)
#define EXPECT(cond, fmt, ...)                   \
	do {                                     \
		if (!(cond))                     \
			FAIL(fmt, ##__VA_ARGS__); \
	} while (0)

/* The error a call may return because of the armed fault. */
static int injected_error(void)
{
	if (!filch__fault_fired(armed_site))
		return 0;
	switch (armed_site) {
	case FILCH__FAULT_ALLOC:
		return -ENOMEM;
	case FILCH__FAULT_THREAD:
		return -EAGAIN;
	default:
		return 0; /* a spurious futex return is never an error */
	}
}

/* 0 for success; 1 for the injected error; fails the run otherwise. */
#define ACCEPT(rc_var, call)                                                 \
	({                                                                   \
		rc_var = (call);                                             \
		if (rc_var != 0 && rc_var != injected_error())              \
			FAIL("%s returned %d (%s) with %s faults fired %" PRIu64, \
			     #call, rc_var, filch_strerror(rc_var),          \
			     filch__fault_site_name(armed_site),             \
			     filch__fault_fired(armed_site));                \
		rc_var != 0;                                                 \
	})

static int task_record(void *arg, void **result)
{
	uintptr_t i = (uintptr_t)arg;
	atomic_fetch_add(&runs[i], 1);
	*result = arg;
	return 0;
}

static int task_fail_message(void *arg, void **result)
{
	return filch_task_fail(EIO, "failed with a message %d", 7);
}

static int task_fire(void *arg, void **result)
{
	atomic_fetch_add(&fire_runs, 1);
	return 0;
}

static int task_gate(void *arg, void **result)
{
	atomic_fetch_add(&cancel_runs, 1);
	while (!atomic_load(&gate_open))
		sched_yield();
	return 0;
}

static int task_cancel_victim(void *arg, void **result)
{
	atomic_fetch_add(&cancel_runs, 1);
	return 0;
}

static int task_spawned(void *arg, void **result)
{
	atomic_fetch_add(&spawn_runs, 1);
	return 0;
}

static int job_spawned(void *arg)
{
	atomic_fetch_add(&spawn_jobs_run, 1);
	return 0;
}

/* On a worker: children and group jobs go to its own deque, enough of
 * them to make it grow. Returns 0, or the error that stopped it. */
static int task_spawner(void *arg, void **result)
{
	filch_executor *ex = filch_current_executor();
	filch_group g;
	int rc = 0;

	for (int i = 0; i < NSPAWN && !rc; i++)
		if (!(rc = filch_submit(ex, task_spawned, NULL, NULL)))
			atomic_fetch_add(&spawn_accepted, 1);
	if (filch_group_init(&g, ex) == 0) {
		for (int i = 0; i < NSPAWN && !rc; i++)
			if (!(rc = filch_group_spawn(&g, job_spawned, NULL)))
				atomic_fetch_add(&spawn_jobs, 1);
		int wrc = filch_group_wait(&g);
		rc = rc ? rc : wrc;
	}
	return -rc;
}

static int task_square(void *arg, void **result)
{
	uintptr_t x = (uintptr_t)arg;
	*result = (void *)(x * x);
	return 0;
}

static int job_count(void *arg)
{
	atomic_fetch_add(&job_runs, 1);
	return 0;
}

static int then_double(filch_future *a, void *arg, void **result)
{
	void *r;
	int rc = filch_future_result(a, 0, &r);
	*result = (void *)((uintptr_t)r * 2);
	return rc;
}

static void cb_record(filch_future *f, void *arg)
{
	atomic_fetch_add(&cb_calls[(uintptr_t)arg], 1);
}

static void cb_cancel(filch_future *f, void *arg)
{
	atomic_fetch_add(&cancel_cbs, 1);
}

/* Worker threads of this test's executors still alive ("fw-<i>"). */
static unsigned workers_alive(void)
{
	return isolate_threads_named("fw-");
}

/* Part 1: futures, callbacks, fire-and-forget, promises, continuations,
 * when_all/any, wait, as_completed, map, a group; graceful destroy. */
static int workload_graceful(void)
{
	struct filch_executor_opts o = { .workers = 2, .name_prefix = "fw" };
	filch_executor *ex = NULL;
	filch_future *fs[NFUT] = { 0 }, *ok_fs[NFUT], *p = NULL, *then = NULL,
		     *all = NULL, *any = NULL;
	bool cb_on[NFUT] = { 0 }, cancelled[NFUT] = { 0 };
	size_t nok = 0, nd;
	int rc, fired_ok = 0, spawned = 0, group_rc = 0;
	void *r;

	if (ACCEPT(rc, filch_executor_create(&ex, &o))) {
		EXPECT(ex == NULL, "*ex written on failure");
		EXPECT(workers_alive() == 0, "%u workers left after a failed "
		       "create", workers_alive());
		return 0;
	}
	for (uintptr_t i = 0; i < NFUT; i++) {
		if (ACCEPT(rc, filch_submit(ex, task_record, (void *)i, &fs[i]))) {
			EXPECT(fs[i] == NULL, "*fut written on failure");
			continue;
		}
		ok_fs[nok++] = fs[i];
		cb_on[i] = !ACCEPT(rc, filch_future_on_done(fs[i], cb_record,
							     (void *)i));
		if (i % 7 == 3)
			cancelled[i] = filch_future_cancel(fs[i]);
	}
	for (int i = 0; i < NFIRE; i++)
		fired_ok += !ACCEPT(rc, filch_submit(ex, task_fire, NULL, NULL));
	filch_future *spawner = NULL, *failing[NFAILING] = { 0 };
	ACCEPT(rc, filch_submit(ex, task_spawner, NULL, &spawner));
	for (int i = 0; i < NFAILING; i++)
		ACCEPT(rc, filch_submit(ex, task_fail_message, NULL, &failing[i]));

	if (!ACCEPT(rc, filch_promise_create(&p))) {
		ACCEPT(rc, filch_future_then(p, ex, then_double, NULL, &then));
		ACCEPT(rc, filch_when_all(&p, 1, &all));
		if (nok)
			ACCEPT(rc, filch_when_any(ok_fs, nok, &any));
		ACCEPT(rc, filch_promise_set_result(p, (void *)21));
	}

	if (nok && !ACCEPT(rc, filch_wait(ok_fs, nok, EVENTUALLY,
					  FILCH_ALL_COMPLETED, &nd)))
		EXPECT(nd == nok, "wait(ALL) returned with %zu of %zu done", nd,
		       nok);

	filch_as_completed *it;
	if (nok && !ACCEPT(rc, filch_as_completed_begin(&it, ok_fs, nok,
							EVENTUALLY))) {
		filch_future *f;
		size_t seen = 0;
		while ((rc = filch_as_completed_next(it, &f)) == 0)
			seen++;
		filch_as_completed_end(it);
		EXPECT(rc == FILCH_END, "as_completed_next returned %d", rc);
		EXPECT(seen == nok, "as_completed yielded %zu of %zu", seen,
		       nok);
	}

	void *items[NMAP];
	struct filch_map_opts mo = { .chunksize = 3, .buffersize = 4 };
	filch_map_iter *mi;
	for (uintptr_t i = 0; i < NMAP; i++)
		items[i] = (void *)i;
	if (!ACCEPT(rc, filch_map(&mi, ex, task_square, items, NMAP, &mo))) {
		uintptr_t i = 0;
		while ((rc = filch_map_next(mi, &r)) == 0) {
			EXPECT(r == (void *)(i * i), "map result %zu out of "
			       "order", (size_t)i);
			i++;
		}
		EXPECT(rc == FILCH_END || rc == injected_error(),
		       "map_next returned %d (%s)", rc, filch_strerror(rc));
		EXPECT(rc != FILCH_END || i == NMAP, "map ended after %zu of "
		       "%d", (size_t)i, NMAP);
		filch_map_close(mi);
	}

	filch_group g;
	if (!ACCEPT(rc, filch_group_init(&g, ex))) {
		for (int i = 0; i < NJOBS; i++)
			spawned += !ACCEPT(rc, filch_group_spawn(&g, job_count,
								 NULL));
		group_rc = filch_group_wait(&g);
		EXPECT(group_rc == 0, "group_wait returned %d", group_rc);
		EXPECT(job_runs == spawned, "%d of %d group jobs ran",
		       job_runs, spawned);
	}

	EXPECT((rc = filch_executor_destroy(ex)) == 0, "destroy returned %d",
	       rc);
	EXPECT(workers_alive() == 0, "%u workers alive after destroy",
	       workers_alive());

	/* Every future has an outcome; every task and callback ran once. */
	for (uintptr_t i = 0; i < NFUT; i++) {
		if (!fs[i]) {
			EXPECT(runs[i] == 0, "rejected task %zu ran", (size_t)i);
			continue;
		}
		int st = filch_future_state(fs[i]);
		if (cancelled[i]) {
			EXPECT(st == FILCH_CANCELLED, "cancelled future %zu in "
			       "state %d", (size_t)i, st);
			EXPECT(runs[i] == 0, "cancelled task %zu ran %d times",
			       (size_t)i, runs[i]);
		} else {
			EXPECT(st == FILCH_FINISHED, "future %zu in state %d "
			       "after destroy", (size_t)i, st);
			EXPECT(runs[i] == 1, "task %zu ran %d times", (size_t)i,
			       runs[i]);
			EXPECT(filch_future_result(fs[i], 0, &r) == 0 &&
				       r == (void *)i,
			       "future %zu: wrong outcome", (size_t)i);
		}
		EXPECT(cb_calls[i] == (cb_on[i] ? 1 : 0), "callback %zu ran %d "
		       "times (registered: %d)", (size_t)i, cb_calls[i],
		       cb_on[i]);
		filch_future_release(fs[i]);
	}
	EXPECT(fire_runs == fired_ok, "%d of %d fire-and-forget tasks ran",
	       fire_runs, fired_ok);
	if (spawner) {
		rc = filch_future_result(spawner, 0, NULL);
		EXPECT(rc == 0 || -rc == injected_error(), "spawner ended with "
		       "%d", rc);
		filch_future_release(spawner);
	}
	for (int i = 0; i < NFAILING; i++) {
		int code = 0;
		const char *msg = NULL;
		if (!failing[i])
			continue;
		EXPECT(filch_future_error(failing[i], 0, &code, &msg) == 0 &&
			       code == EIO,
		       "failing task: code %d", code);
		/* Without memory the message is dropped; the code stays. */
		EXPECT(!msg || strcmp(msg, "failed with a message 7") == 0,
		       "failing task: message \"%s\"", msg);
		filch_future_release(failing[i]);
	}
	EXPECT(spawn_runs == spawn_accepted && spawn_jobs_run == spawn_jobs,
	       "children run %d of %d, group jobs %d of %d", spawn_runs,
	       spawn_accepted, spawn_jobs_run, spawn_jobs);
	if (then) {
		EXPECT(filch_future_done(then), "continuation without outcome");
		rc = filch_future_result(then, 0, &r);
		EXPECT(rc == 0 || rc == ENOMEM || rc == -ECANCELED,
		       "continuation ended with %d", rc);
		EXPECT(rc || r == (void *)42, "continuation result wrong");
	}
	EXPECT(!all || filch_future_done(all), "when_all without outcome");
	EXPECT(!any || filch_future_done(any), "when_any without outcome");
	filch_future_release(then);
	filch_future_release(all);
	filch_future_release(any);
	filch_future_release(p);
	return 0;
}

/* Part 2: a cancelling shutdown while tasks are queued behind a busy
 * worker: every queued future is cancelled with its callback run. */
static int workload_cancelling(void)
{
	struct filch_executor_opts o = { .workers = 1, .name_prefix = "fw" };
	filch_executor *ex = NULL;
	filch_future *blocker = NULL, *fs[NCANCEL] = { 0 };
	int rc, cbs = 0;

	if (ACCEPT(rc, filch_executor_create(&ex, &o)))
		return workers_alive() == 0 ? 0 : __LINE__;
	if (!ACCEPT(rc, filch_submit(ex, task_gate, NULL, &blocker))) {
		int64_t deadline = tap_now_ns() + EVENTUALLY;
		while (!cancel_runs && tap_now_ns() < deadline)
			sched_yield();
		EXPECT(cancel_runs, "an accepted task never started");
	}
	for (int i = 0; i < NCANCEL; i++) {
		if (ACCEPT(rc, filch_submit(ex, task_cancel_victim, NULL, &fs[i])))
			continue;
		cbs += !ACCEPT(rc, filch_future_on_done(fs[i], cb_cancel, NULL));
	}
	EXPECT((rc = filch_shutdown(ex, FILCH_SHUTDOWN_CANCEL_PENDING)) == 0,
	       "cancelling shutdown returned %d", rc);
	atomic_store(&gate_open, true);
	EXPECT((rc = filch_executor_destroy(ex)) == 0, "destroy returned %d",
	       rc);
	EXPECT(workers_alive() == 0, "%u workers alive after destroy",
	       workers_alive());
	int done = 0, ran = blocker ? 1 : 0;
	for (int i = 0; i < NCANCEL; i++) {
		if (!fs[i])
			continue;
		EXPECT(filch_future_done(fs[i]), "queued future %d without "
		       "outcome", i);
		done++;
		ran += filch_future_state(fs[i]) == FILCH_FINISHED;
		filch_future_release(fs[i]);
	}
	EXPECT(cancel_runs == ran, "%d tasks ran, futures say %d",
	       cancel_runs, ran);
	EXPECT(cancel_cbs == cbs, "%d of %d callbacks ran", cancel_cbs, cbs);
	if (blocker) {
		EXPECT(filch_future_done(blocker), "blocker without outcome");
		filch_future_release(blocker);
	}
	return 0;
}

/* Part 3: many promises at once (wait and as_completed beyond their
 * inline capacity), error messages, and a completion port. */
static int workload_promises(void)
{
	enum { NP = 40 };
	filch_future *ps[NP], *copy[NP], *f;
	filch_as_completed *it;
	filch_port *port = NULL;
	size_t np = 0, nd, added = 0, drained = 0;
	int rc;

	for (size_t i = 0; i < NP; i++)
		if (!ACCEPT(rc, filch_promise_create(&ps[np])))
			np++;
	if (!ACCEPT(rc, filch_port_create(&port, 0)))
		for (size_t i = 0; i < np; i++)
			added += !ACCEPT(rc, filch_port_add(port, ps[i], ps[i]));
	memcpy(copy, ps, np * sizeof(*ps));
	if (np) {
		rc = filch_wait(copy, np, SECOND / 1000, FILCH_ALL_COMPLETED,
				&nd);
		EXPECT(rc == -ETIMEDOUT || rc == injected_error(), "wait on "
		       "pending promises returned %d", rc);
	}
	for (size_t i = 0; i < np; i++) {
		/* set_error copies its message: -ENOMEM leaves the promise
		 * pending, and it can still be completed. */
		if (i % 2 == 0 &&
		    ACCEPT(rc, filch_promise_set_error(ps[i], EIO, "error")))
			EXPECT(filch_future_state(ps[i]) == FILCH_PENDING,
			       "a failed set_error changed the promise");
		if (!filch_future_done(ps[i]))
			EXPECT((rc = filch_promise_set_result(ps[i], NULL)) == 0,
			       "completing promise %zu returned %d", i, rc);
	}
	if (np && !ACCEPT(rc, filch_as_completed_begin(&it, copy, np,
						      EVENTUALLY))) {
		size_t seen = 0;
		while ((rc = filch_as_completed_next(it, &f)) == 0)
			seen++;
		filch_as_completed_end(it);
		EXPECT(rc == FILCH_END && seen == np, "as_completed gave %zu "
		       "of %zu, ended with %d", seen, np, rc);
	}
	while (port && drained < added) {
		struct filch_port_event ev[16];
		size_t n = 0;
		EXPECT(filch_port_drain(port, ev, 16, &n) == 0, "drain failed");
		EXPECT(n > 0, "%zu of %zu port events lost", added - drained,
		       added);
		for (size_t i = 0; i < n; i++) {
			EXPECT(ev[i].tag == ev[i].future &&
				       filch_future_done(ev[i].future),
			       "port event for the wrong or a pending future");
			filch_future_release(ev[i].future);
		}
		drained += n;
	}
	filch_port_destroy(port);
	for (size_t i = 0; i < np; i++)
		filch_future_release(ps[i]);
	return 0;
}

struct walk_step {
	enum filch__fault_site site;
	uint64_t n;
	bool persistent;
};

/* The child: arm, run both parts, report how far the site counter got
 * (also on failure, so that the walk knows whether call N was reached). */
static int run_step(void *arg)
{
	const struct walk_step *st = arg;
	int rc;

	/* urcu starts its call_rcu thread on first use, and a thread takes
	 * the name of its creator: start it here, not from a worker, so that
	 * it is not counted as a worker that outlived its executor. */
	get_default_call_rcu_data();
	filch__fault_reset();
	armed_site = st->site;
	filch__fault_arm(st->site, st->n, st->persistent);
	rc = workload_graceful();
	if (rc == 0)
		rc = workload_cancelling();
	if (rc == 0)
		rc = workload_promises();
	/* Faults off: what the leak check and exit path do is not a site. */
	uint64_t calls = filch__fault_calls(st->site);
	uint64_t fired = filch__fault_fired(st->site);
	void *pc = filch__fault_first_pc(st->site);
	filch__fault_arm(st->site, 0, false);
	isolate_note("calls=%" PRIu64 " fired=%" PRIu64 " pc=%p %s", calls,
		     fired, pc, failure);
	return rc;
}

/* Code locations (as object+offset, for addr2line) that took a fault. */
struct pc_set {
	void *pc[256];
	unsigned n;
};

static void pc_add(struct pc_set *set, void *pc)
{
	for (unsigned i = 0; i < set->n; i++)
		if (set->pc[i] == pc)
			return;
	if (pc && set->n < 256)
		set->pc[set->n++] = pc;
}

static void pc_report(const char *what, const struct pc_set *set)
{
	for (unsigned i = 0; i < set->n; i++) {
		Dl_info info;
		if (dladdr(set->pc[i], &info) && info.dli_fname)
			diag("%s fault handled at %s+0x%zx", what,
			     info.dli_fname,
			     (size_t)((char *)set->pc[i] -
				      (char *)info.dli_fbase));
	}
}

/* Walks N = 1, 2, ... at one site until a run no longer reaches the Nth
 * call; one TAP test for the whole walk, a diagnostic per failing N (the
 * first few). A child that dies reports nothing; the walk goes on, but
 * stops after many such runs in a row. */
static void walk(enum filch__fault_site site, bool persistent)
{
	enum { SHOW = 8, MAX_SILENT = 50 };
	struct walk_step st = { site, 0, persistent };
	struct pc_set pcs = { .n = 0 };
	unsigned failed = 0, injected = 0, silent = 0;
	char why[128];
	const char *name = filch__fault_site_name(site);
	const char *mode = persistent ? "persistent" : "one-shot";

	for (st.n = 1; st.n <= MAX_N && silent < MAX_SILENT; st.n++) {
		unsigned long long calls = 0, fired = 0;
		void *pc = NULL;
		int consumed = 0;
		bool pass = isolate_run(run_step, &st, 60, why, sizeof(why)) == 0;
		bool reported = sscanf(isolate_last_note(),
				       "calls=%llu fired=%llu pc=%p %n", &calls,
				       &fired, &pc, &consumed) == 3;
		silent = reported ? 0 : silent + 1;
		if (reported && !fired && pass)
			break; /* the workload no longer reaches call N */
		injected += !reported || fired;
		if (fired)
			pc_add(&pcs, pc);
		if (pass)
			continue;
		if (failed++ < SHOW)
			diag("FILCH_FAULT=%s:%" PRIu64 "%s: %s: %s", name, st.n,
			     persistent ? "+" : "", why,
			     reported ? isolate_last_note() + consumed
				      : isolate_last_note());
	}
	if (failed > SHOW)
		diag("... and %u more failing N", failed - SHOW);
	ok(failed == 0 && st.n <= MAX_N && silent < MAX_SILENT,
	   "%s faults (%s): %u injected, %u failed, %u code sites", name, mode,
	   injected, failed, pcs.n);
	diag("%s (%s): the workload reached %" PRIu64 " calls", name, mode,
	     st.n - 1);
	pc_report(name, &pcs);
}

static int self_test(void *unused)
{
	filch__fault_reset();
	filch__fault_arm(FILCH__FAULT_ALLOC, 3, false);
	for (int i = 1; i <= 5; i++)
		if (filch__fault_hit(FILCH__FAULT_ALLOC) != (i == 3))
			return 1;
	filch__fault_arm(FILCH__FAULT_THREAD, 2, true);
	for (int i = 1; i <= 5; i++)
		if (filch__fault_hit(FILCH__FAULT_THREAD) != (i >= 2))
			return 2;
	if (filch__fault_calls(FILCH__FAULT_ALLOC) != 5 ||
	    filch__fault_fired(FILCH__FAULT_THREAD) != 4 ||
	    !filch__fault_first_pc(FILCH__FAULT_ALLOC))
		return 3;
	filch__fault_reset();
	return filch__fault_hit(FILCH__FAULT_FUTEX) ? 4 : 0;
}

int main(void)
{
	char why[128];

	tap_plan(6);
	ok(isolate_run(self_test, NULL, 10, why, sizeof(why)) == 0,
	   "the Nth call at a site fails, once or from then on (%s)", why);
	walk(FILCH__FAULT_ALLOC, false);
	walk(FILCH__FAULT_ALLOC, true);
	walk(FILCH__FAULT_THREAD, false);
	walk(FILCH__FAULT_THREAD, true);
	walk(FILCH__FAULT_FUTEX, false);
	return tap_done();
}
#endif /* FILCH_FAULT_INJECTION */
