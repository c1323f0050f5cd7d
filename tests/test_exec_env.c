/* SPDX-License-Identifier: MIT */
/*
 * test_exec_env.c - what an executor leaves in its process: thread names
 * (long prefixes, spares, the call_rcu thread), threads left after destroy,
 * signal masks, failures of fire-and-forget tasks (on_task_error), a task
 * that returns INT_MIN, and exit() with a live executor
 * (FILCH_OPT_JOIN_AT_EXIT). Each case runs in a child process of its own
 * (tests/isolate.h): signals and exit() are process-wide.
 */
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filch.h>

#include "isolate.h"
#include "tap.h"

#define CASE_TIMEOUT_S 60
#define FAIL(...) (isolate_note(__VA_ARGS__), __LINE__)

/* ---- the threads of this process, by name ---- */

struct census {
	int filch;	 /* names starting with "filch-" */
	int rcu;	 /* named "filch-rcu" */
	char rcu_tid[256];
	char want_tid[256]; /* of the last thread named want */
};

static void take_census(struct census *c, const char *want, int *found)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	memset(c, 0, sizeof(*c));
	if (found)
		*found = 0;
	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		if (strncmp(comm, "filch-", 6) == 0)
			c->filch++;
		if (strcmp(comm, "filch-rcu") == 0) {
			c->rcu++;
			snprintf(c->rcu_tid, sizeof(c->rcu_tid), "%s", e->d_name);
		}
		if (want && found && strcmp(comm, want) == 0) {
			(*found)++;
			snprintf(c->want_tid, sizeof(c->want_tid), "%s",
				 e->d_name);
		}
	}
	if (d)
		closedir(d);
}

/* Signals blocked in thread tid (its SigBlk line), or 0 on failure. */
static unsigned long long sigblk_of(const char *tid)
{
	char path[300], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &mask) == 1)
			break;
	fclose(f);
	return mask;
}

static bool in_mask(unsigned long long mask, int sig)
{
	return mask & (1ull << (sig - 1));
}

/* Runs fn(arg) on ex and waits for it: 0, or the first error. */
static int run_task(filch_executor *ex, filch_task_fn fn, void *arg)
{
	filch_future *f = NULL;
	int rc = filch_submit(ex, fn, arg, &f);

	if (rc == 0)
		rc = filch_future_result(f, FILCH_FOREVER, NULL);
	filch_future_release(f);
	return rc;
}

/* ---- 1. create leaves *ex untouched on error ---- */

static int fail_init(void *arg, unsigned index)
{
	(void)arg;
	return index == 1 ? 7 : 0;
}

static int case_create_untouched(void *arg)
{
	filch_executor *sentinel = (filch_executor *)&arg, *ex = sentinel;
	const struct filch_executor_opts bad[] = {
		{.flags = 1u << 30},
		{.pin = 9},
		{.full_policy = 9},
		{.workers = 1u << 20},
		{.flags = FILCH_OPT_MAX_SPARES, .max_spares = 1u << 20},
		{.workers = 2, .initializer = fail_init},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = filch_executor_create(&ex, &bad[i]);

		if (rc >= 0)
			return FAIL("options %zu: create returned %d", i, rc);
		if (ex != sentinel)
			return FAIL("options %zu: *ex written on error %d", i, rc);
	}
	return 0;
}

/* ---- 2. a task that returns INT_MIN ---- */

static int return_int_min(void *arg, void **result)
{
	(void)result;
	if (arg)
		return filch_task_fail(INT_MIN, "%s", (const char *)arg);
	return INT_MIN;
}

static int return_minus_five(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return -5;
}

static int case_int_min(void *arg)
{
	filch_executor *ex;
	static char mine[] = "mine";
	filch_future *f[3];
	const char *msg[3];
	int code[3];

	(void)arg;
	if (filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 1}))
		return FAIL("create");
	if (filch_submit(ex, return_int_min, NULL, &f[0]) ||
	    filch_submit(ex, return_int_min, mine, &f[1]) ||
	    filch_submit(ex, return_minus_five, NULL, &f[2]))
		return FAIL("submit");
	for (int i = 0; i < 3; i++)
		if (filch_future_error(f[i], FILCH_FOREVER, &code[i], &msg[i]))
			return FAIL("future_error %d", i);
	if (code[0] != EOVERFLOW || !msg[0] ||
	    strcmp(msg[0], "the task returned INT_MIN") != 0)
		return FAIL("INT_MIN: code %d, message %s", code[0],
			    msg[0] ? msg[0] : "(none)");
	if (filch_future_result(f[0], 0, NULL) != EOVERFLOW)
		return FAIL("INT_MIN: result is not EOVERFLOW");
	if (code[1] != EOVERFLOW || !msg[1] || strcmp(msg[1], "mine") != 0)
		return FAIL("INT_MIN with a message: code %d, message %s", code[1],
			    msg[1] ? msg[1] : "(none)");
	if (code[2] != 5 || msg[2])
		return FAIL("-5: code %d", code[2]);
	for (int i = 0; i < 3; i++)
		filch_future_release(f[i]);
	filch_executor_destroy(ex);
	return 0;
}

/* ---- 3. the call_rcu thread, and threads left after destroy ---- */

static int nothing(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return 0;
}

/* Grows its worker's deque (256 slots at first): the old buffer is
 * retired through call_rcu, from the worker. */
static int grow_deque(void *arg, void **result)
{
	filch_executor *ex = arg;

	(void)result;
	for (int i = 0; i < 2000; i++)
		if (filch_submit(ex, nothing, NULL, NULL))
			return EIO;
	return 0;
}

static int case_rcu_thread(void *arg)
{
	struct census c;
	filch_executor *ex;

	(void)arg;
	for (int round = 0; round < 2; round++) {
		if (filch_executor_create(&ex, &(struct filch_executor_opts){.workers = 1}))
			return FAIL("create");
		if (run_task(ex, grow_deque, ex))
			return FAIL("grow_deque");
		filch_executor_destroy(ex);
		take_census(&c, NULL, NULL);
		if (c.rcu != 1 || c.filch != 1)
			return FAIL("round %d: %d filch-* threads left, %d filch-rcu",
				    round, c.filch, c.rcu);
	}
	if (!in_mask(sigblk_of(c.rcu_tid), SIGTERM) ||
	    !in_mask(sigblk_of(c.rcu_tid), SIGUSR1))
		return FAIL("filch-rcu does not block SIGTERM and SIGUSR1: %llx",
			    sigblk_of(c.rcu_tid));
	return 0;
}

/* ---- 4. long prefixes keep the index, spares too ---- */

#define LONG_PREFIX "abcdefghijklmnopqrstuvwxyz"
#define NAMED_WORKERS 12

static int expected_names(int first, int n)
{
	for (int i = first; i < first + n; i++) {
		char suffix[16], want[64];
		int found;
		struct census c;
		int len = snprintf(suffix, sizeof(suffix), "-%d", i);

		snprintf(want, sizeof(want), "%.*s%s", 15 - len, LONG_PREFIX,
			 suffix);
		take_census(&c, want, &found);
		if (found != 1)
			return FAIL("%d threads named %s", found, want);
	}
	return 0;
}

static int start_spare(void *arg, void **result)
{
	int *rc = arg;

	(void)result;
	if (filch_blocking_begin() != 0) {
		*rc = FAIL("no spare");
		return 0;
	}
	*rc = expected_names(NAMED_WORKERS, 1);
	filch_blocking_end();
	return 0;
}

/* Signals blocked by the thread named "<prefix>-<index>", or 0. */
static unsigned long long sigblk_named(const char *prefix, unsigned index)
{
	char want[32];
	struct census c;
	int found;

	snprintf(want, sizeof(want), "%s-%u", prefix, index);
	take_census(&c, want, &found);
	return found == 1 ? sigblk_of(c.want_tid) : 0;
}

/* In a task: blocks SIGUSR1 in its worker, starts a spare, and reads the
 * spare's mask: the executor's, not the worker's of the moment. */
static int spare_mask(void *arg, void **result)
{
	unsigned long long *mask = arg;
	sigset_t usr1;

	(void)result;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	if (filch_blocking_begin() == 0) {
		*mask = sigblk_named("sig", 1);
		filch_blocking_end();
	}
	return 0;
}

static int case_long_prefix(void *arg)
{
	struct filch_executor_opts o = {.workers = NAMED_WORKERS,
					.name_prefix = LONG_PREFIX,
					.pin = FILCH_PIN_NONE};
	filch_executor *ex;
	int rc, spare_rc = -1;

	(void)arg;
	if (filch_executor_create(&ex, &o))
		return FAIL("create");
	if ((rc = expected_names(0, NAMED_WORKERS)) != 0)
		return rc;
	if (run_task(ex, start_spare, &spare_rc))
		return FAIL("start_spare");
	filch_executor_destroy(ex);
	return spare_rc;
}

/* ---- 5. signal masks ---- */

static _Atomic int handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static int read_mask(void *arg, void **result)
{
	(void)result;
	pthread_sigmask(SIG_SETMASK, NULL, arg);
	return 0;
}

static int case_signals_blocked(void *arg)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	struct timespec ts = {.tv_sec = 5};
	unsigned long long spare = 0;
	filch_executor *ex;
	sigset_t usr1, mask;
	int sig;

	(void)arg;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&mask);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	if (filch_executor_create(&ex, &(struct filch_executor_opts){
					       .workers = 1, .name_prefix = "sig"}))
		return FAIL("create");
	/* A service blocks its signals once its pool runs, and waits for
	 * them in its main loop. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	kill(getpid(), SIGUSR1);
	sig = sigtimedwait(&usr1, NULL, &ts);
	if (sig != SIGUSR1 || atomic_load(&handled) != 0)
		return FAIL("sigtimedwait %d, handled by a worker %d times", sig,
			    atomic_load(&handled));
	if (run_task(ex, read_mask, &mask))
		return FAIL("read_mask");
	if (!sigismember(&mask, SIGTERM) || !sigismember(&mask, SIGINT) ||
	    !sigismember(&mask, SIGUSR1) || !sigismember(&mask, SIGCHLD) ||
	    sigismember(&mask, SIGSEGV) || sigismember(&mask, SIGBUS) ||
	    sigismember(&mask, SIGFPE))
		return FAIL("a worker's mask");
	if (run_task(ex, spare_mask, &spare) || !in_mask(spare, SIGTERM) ||
	    !in_mask(spare, SIGINT) || in_mask(spare, SIGSEGV))
		return FAIL("a spare's mask: %llx", spare);
	filch_executor_destroy(ex);
	return 0;
}

static int case_signals_inherited(void *arg)
{
	struct filch_executor_opts o = {.flags = FILCH_OPT_INHERIT_SIGMASK,
					.workers = 1,
					.name_prefix = "sig"};
	unsigned long long spare = 0;
	filch_executor *ex;
	sigset_t usr2, mask;

	(void)arg;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &usr2, NULL);
	if (filch_executor_create(&ex, &o))
		return FAIL("create");
	if (run_task(ex, read_mask, &mask))
		return FAIL("read_mask");
	if (!sigismember(&mask, SIGUSR2) || sigismember(&mask, SIGTERM) ||
	    sigismember(&mask, SIGUSR1))
		return FAIL("the creator's mask was not kept");
	/* A spare gets the creator's mask too, not the one a task set in
	 * the worker that started it. */
	if (run_task(ex, spare_mask, &spare) || !in_mask(spare, SIGUSR2) ||
	    in_mask(spare, SIGUSR1) || in_mask(spare, SIGTERM))
		return FAIL("a spare's mask: %llx", spare);
	filch_executor_destroy(ex);
	return 0;
}

/* ---- 6. failures of fire-and-forget tasks ---- */

#define MAX_REPORTS 8

static struct report {
	filch_task_fn fn;
	void *arg;
	int code;
	char message[64];
	filch_executor *ex;
	pthread_t thread;
} reports[MAX_REPORTS];
static _Atomic int nreports, resubmitted;
static pthread_mutex_t reports_lock = PTHREAD_MUTEX_INITIALIZER;

static int count_resubmitted(void *arg, void **result)
{
	(void)arg;
	(void)result;
	atomic_fetch_add(&resubmitted, 1);
	return 0;
}

static void on_task_error(const struct filch_task_error *err, void *arg)
{
	struct report *r;

	pthread_mutex_lock(&reports_lock);
	r = &reports[atomic_load(&nreports) % MAX_REPORTS];
	r->fn = err->fn;
	r->arg = err->arg;
	r->code = err->code;
	snprintf(r->message, sizeof(r->message), "%s",
		 err->message ? err->message : "(none)");
	r->ex = filch_current_executor();
	r->thread = pthread_self();
	atomic_fetch_add(&nreports, 1);
	pthread_mutex_unlock(&reports_lock);
	/* The hook may submit. */
	filch_submit(arg, count_resubmitted, NULL, NULL);
}

static int fail_with_message(void *arg, void **result)
{
	(void)result;
	return filch_task_fail(ENOENT, "no %s", (const char *)arg);
}

static int fail_negative(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return -EIO;
}

static const struct report *report_of(filch_task_fn fn)
{
	for (int i = 0; i < atomic_load(&nreports) && i < MAX_REPORTS; i++)
		if (reports[i].fn == fn)
			return &reports[i];
	return NULL;
}

/* Without FILCH_OPT_ON_TASK_ERROR the field is not read (an older
 * binary's struct ends before it). */
static int case_on_task_error_gated(void *arg)
{
	struct filch_executor_opts o = {.workers = 1,
					.on_task_error = on_task_error};
	filch_executor *ex;

	(void)arg;
	if (filch_executor_create(&ex, &o))
		return FAIL("create");
	filch_submit(ex, fail_negative, NULL, NULL);
	filch_executor_destroy(ex);
	return atomic_load(&nreports) == 0 ? 0 : FAIL("called without the flag");
}

/* Creates *ex with o, whose hook submits to *target, an executor of its
 * own. */
static int create_with_hook(struct filch_executor_opts *o, filch_executor **ex,
			    filch_executor **target)
{
	if (filch_executor_create(target, NULL))
		return -1;
	o->on_task_error_arg = *target;
	return filch_executor_create(ex, o);
}

static int case_on_task_error_reports(void *arg)
{
	struct filch_executor_opts o = {.flags = FILCH_OPT_ON_TASK_ERROR,
					.workers = 2,
					.on_task_error = on_task_error};
	const struct report *r;
	filch_executor *ex, *target;
	filch_future *f;
	static char name[] = "such file";
	int64_t end;

	(void)arg;
	if (create_with_hook(&o, &ex, &target))
		return FAIL("create");
	if (filch_submit(ex, fail_with_message, name, NULL) ||
	    filch_submit(ex, fail_negative, NULL, NULL) ||
	    filch_submit(ex, nothing, NULL, NULL) ||
	    filch_submit(ex, return_int_min, NULL, NULL))
		return FAIL("submit");
	/* A task with a future reports through its future, not the hook. */
	if (filch_submit(ex, fail_negative, NULL, &f) ||
	    filch_future_result(f, FILCH_FOREVER, NULL) != EIO)
		return FAIL("future");
	filch_future_release(f);
	filch_shutdown(ex, FILCH_SHUTDOWN_WAIT);
	end = tap_now_ns() + 10000000000LL;
	while (atomic_load(&resubmitted) < 3 && tap_now_ns() < end)
		usleep(1000);
	if (atomic_load(&nreports) != 3 || atomic_load(&resubmitted) != 3)
		return FAIL("%d reports, %d submitted by the hook (want 3, 3)",
			    atomic_load(&nreports), atomic_load(&resubmitted));
	r = report_of(fail_with_message);
	if (!r || r->arg != name || r->code != ENOENT ||
	    strcmp(r->message, "no such file") != 0 || r->ex != ex)
		return FAIL("filch_task_fail report: %d %s", r ? r->code : 0,
			    r ? r->message : "");
	r = report_of(fail_negative);
	if (!r || r->code != EIO || strcmp(r->message, "(none)") != 0 ||
	    r->ex != ex)
		return FAIL("-EIO report");
	r = report_of(return_int_min);
	if (!r || r->code != EOVERFLOW ||
	    strcmp(r->message, "the task returned INT_MIN") != 0)
		return FAIL("INT_MIN report");
	filch_executor_destroy(ex);
	filch_executor_destroy(target);
	return 0;
}

/* Under FILCH_FULL_CALLER_RUNS the submitter runs the task, and hears of
 * its failure. */
static _Atomic uint32_t gate;

static int wait_gate(void *arg, void **result)
{
	(void)arg;
	(void)result;
	while (!atomic_load(&gate))
		usleep(1000);
	return 0;
}

static int case_on_task_error_caller_runs(void *arg)
{
	struct filch_executor_opts o = {.flags = FILCH_OPT_ON_TASK_ERROR,
					.workers = 1,
					.queue_capacity = 1,
					.full_policy = FILCH_FULL_CALLER_RUNS,
					.on_task_error = on_task_error};
	filch_executor *ex, *target;
	filch_future *held;

	(void)arg;
	if (create_with_hook(&o, &ex, &target))
		return FAIL("create");
	/* The worker holds one task, the queue another: the third runs here. */
	if (filch_submit(ex, wait_gate, NULL, &held))
		return FAIL("submit");
	while (filch_future_state(held) != FILCH_RUNNING)
		usleep(1000);
	if (filch_submit(ex, wait_gate, NULL, NULL) ||
	    filch_submit(ex, fail_negative, NULL, NULL))
		return FAIL("submit");
	if (atomic_load(&nreports) != 1 || reports[0].code != EIO ||
	    !pthread_equal(reports[0].thread, pthread_self()) ||
	    reports[0].ex != NULL)
		return FAIL("%d reports; not on the submitting thread",
			    atomic_load(&nreports));
	atomic_store(&gate, 1);
	filch_future_release(held);
	filch_executor_destroy(ex);
	filch_executor_destroy(target);
	return 0;
}

/* ---- 7. exit() with a live executor ---- */

#define QUEUED 20

static int out_fd = -1;
static filch_executor *live[2]; /* reachable at exit (LeakSanitizer) */

static int write_one(void *arg, void **result)
{
	(void)arg;
	(void)result;
	usleep(2000);
	if (write(out_fd, "x", 1) != 1)
		return EIO;
	return 0;
}

static int call_exit(void *arg, void **result)
{
	(void)result;
	usleep(20000); /* the other executor's tasks are queued by now */
	exit((int)(intptr_t)arg);
}

enum exit_how {
	EXIT_FROM_MAIN,	       /* queued work, exit() from main */
	EXIT_FROM_WORKER,      /* a task of an opted-in executor calls exit() */
	EXIT_AFTER_DESTROY,    /* an opted-in executor destroyed before exit */
	EXIT_INHERITED,	       /* a fork child of a process with one exits */
};

/* Queues QUEUED tasks on a new opted-in executor and exits from main. */
static void exit_with_queued(const struct filch_executor_opts *o)
{
	if (filch_executor_create(&live[0], o))
		_exit(91);
	for (int i = 0; i < QUEUED; i++)
		if (filch_submit(live[0], write_one, NULL, NULL))
			_exit(92);
	exit(0);
}

/* In the grandchild: sets up what how says, then exits. */
static void exiting_child(enum exit_how how)
{
	struct filch_executor_opts o = {.flags = FILCH_OPT_JOIN_AT_EXIT,
					.workers = 1};
	filch_executor *other;

	switch (how) {
	case EXIT_AFTER_DESTROY:
		if (filch_executor_create(&other, &o))
			_exit(90);
		filch_executor_destroy(other);
		exit_with_queued(&o);
		break;
	case EXIT_FROM_MAIN:
		exit_with_queued(&o);
		break;
	case EXIT_FROM_WORKER:
		if (filch_executor_create(&live[0], &o) ||
		    filch_executor_create(&live[1], &o))
			_exit(91);
		if (filch_submit(live[1], call_exit, (void *)3, NULL))
			_exit(92);
		for (int i = 0; i < QUEUED; i++)
			if (filch_submit(live[0], write_one, NULL, NULL))
				_exit(92);
		pause();
		_exit(93);
	case EXIT_INHERITED:
		exit(0); /* live[0] is the parent's */
	}
	_exit(94);
}

static int case_exit(void *arg)
{
	enum exit_how how = (enum exit_how)(intptr_t)arg;
	struct filch_executor_opts o = {.flags = FILCH_OPT_JOIN_AT_EXIT,
					.workers = 1};
	int fds[2], status, n = 0, want;
	char buf[64];
	ssize_t got;
	pid_t pid;

	if (pipe(fds))
		return FAIL("pipe");
	out_fd = fds[1];
	if (how == EXIT_INHERITED) {
		if (filch_executor_create(&live[0], &o))
			return FAIL("create");
		if (filch_submit(live[0], wait_gate, NULL, NULL))
			return FAIL("submit");
	}
	if ((pid = fork()) < 0)
		return FAIL("fork");
	if (pid == 0) {
		close(fds[0]);
		exiting_child(how);
	}
	close(fds[1]);
	while ((got = read(fds[0], buf, sizeof(buf))) > 0)
		n += (int)got;
	close(fds[0]);
	waitpid(pid, &status, 0);
	want = how == EXIT_FROM_WORKER ? 3 : 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want)
		return FAIL("the child ended with status %#x (want exit %d)",
			    status, want);
	want = how == EXIT_INHERITED ? 0 : QUEUED;
	if (n != want)
		return FAIL("%d of %d queued tasks ran before the exit", n, want);
	if (how == EXIT_INHERITED) {
		atomic_store(&gate, 1);
		filch_executor_destroy(live[0]);
	}
	return 0;
}

static const struct {
	const char *name;
	isolate_fn fn;
	intptr_t arg;
} cases[] = {
	{"create leaves *ex untouched on every error", case_create_untouched, 0},
	{"a task returning INT_MIN fails with EOVERFLOW and a message",
	 case_int_min, 0},
	{"after destroy only filch-rcu is left, its signals blocked",
	 case_rcu_thread, 0},
	{"a long prefix is cut, the index kept (workers and spares)",
	 case_long_prefix, 0},
	{"workers block asynchronous signals: the main thread gets them",
	 case_signals_blocked, 0},
	{"FILCH_OPT_INHERIT_SIGMASK keeps the creator's mask",
	 case_signals_inherited, 0},
	{"on_task_error is not read without its flag",
	 case_on_task_error_gated, 0},
	{"on_task_error hears fire-and-forget failures, may submit",
	 case_on_task_error_reports, 0},
	{"on_task_error runs on the submitter under CALLER_RUNS",
	 case_on_task_error_caller_runs, 0},
	{"JOIN_AT_EXIT: exit() from main runs every queued task", case_exit,
	 EXIT_FROM_MAIN},
	{"JOIN_AT_EXIT: exit() from a worker does not hang, joins the others",
	 case_exit, EXIT_FROM_WORKER},
	{"JOIN_AT_EXIT: an executor destroyed before exit is withdrawn",
	 case_exit, EXIT_AFTER_DESTROY},
	{"JOIN_AT_EXIT: a fork child leaves the parent's executors alone",
	 case_exit, EXIT_INHERITED},
};

int main(void)
{
	char why[256];

	tap_plan(sizeof(cases) / sizeof(cases[0]));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool pass = isolate_run(cases[i].fn, (void *)cases[i].arg,
					CASE_TIMEOUT_S, why, sizeof(why)) == 0;

		ok(pass, "%s: %s", cases[i].name, why);
		if (!pass && *isolate_last_note())
			diag("%s", isolate_last_note());
	}
	return tap_done();
}
