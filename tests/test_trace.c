/* SPDX-License-Identifier: MIT */
/* test_trace.c - filch_trace_start and filch_trace_stop: bad input, the
 * begin and end events of a known workload (JSON checked by python3 when
 * it is installed), a ring that overflows and says so, tracing started
 * and stopped over and over while tasks run, FILCH_TRACE. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filch.h>

#include "tap.h"

static char dir[64];

/* Exported (the test links with -export-dynamic): dladdr names them. */
int traced_task(void *arg, void **result);
int traced_job(void *arg);

static atomic_int jobs, tasks;

int traced_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&jobs, 1);
	return 0;
}

int traced_task(void *arg, void **result)
{
	filch_group g;

	(void)result;
	atomic_fetch_add(&tasks, 1);
	filch_group_init(&g, filch_current_executor());
	for (intptr_t i = 0; i < (intptr_t)arg; i++)
		filch_group_spawn(&g, traced_job, NULL);
	return filch_group_wait(&g) ? 1 : 3;
}

static filch_executor *make(unsigned workers)
{
	struct filch_executor_opts o = {.workers = workers};
	filch_executor *ex = NULL;

	if (filch_executor_create(&ex, &o) != 0)
		bail_out("filch_executor_create");
	return ex;
}

/* n tasks of traced_task(spawn) from this thread, each waited for. */
static void run_tasks(filch_executor *ex, int n, intptr_t spawn)
{
	for (int i = 0; i < n; i++) {
		filch_future *f;

		if (filch_submit(ex, traced_task, (void *)spawn, &f) != 0)
			bail_out("submit");
		filch_future_result(f, FILCH_FOREVER, NULL);
		filch_future_release(f);
	}
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	char *s;

	if (!f || fstat(fileno(f), &st) != 0 || !(s = malloc(st.st_size + 1)))
		bail_out("cannot read %s", path);
	s[fread(s, 1, st.st_size, f)] = 0;
	fclose(f);
	return s;
}

static int occurrences(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* Begin events of function fn in the trace s. */
static int begins_of(const char *s, void *fn)
{
	char what[64];

	snprintf(what, sizeof(what), "\"args\":{\"fn\":\"0x%" PRIxPTR "\"}",
		 (uintptr_t)fn);
	return occurrences(s, what);
}

/* python3 checks that path is JSON in the Chrome Trace Event form, every
 * end closing a begin of its lane (complete: every task's begin ended; a
 * park or a wait may still be open); 1 when it passed, 0 when not, -1
 * without python3. */
static int json_ok(const char *path, int complete)
{
	static const char check[] =
		"import json,sys\n"
		"d=json.load(open(sys.argv[1]))\n"
		"open={}\n"
		"for e in d['traceEvents']:\n"
		"    assert e['ph'] in 'BEiM', e\n"
		"    s=open.setdefault(e.get('tid',0),[])\n"
		"    if e['ph']=='B': s.append(e['cat'])\n"
		"    if e['ph']=='E': assert s.pop() in ('task','filch'), e\n"
		"    if e['ph'] in 'BEi': float(e['ts'])\n"
		"for s in open.values():\n"
		"    assert sys.argv[2]=='0' or 'task' not in s, open\n"
		"int(d['otherData']['dropped'])\n";
	char cmd[512];

	if (system("python3 -c 'pass' >/dev/null 2>&1") != 0)
		return -1;
	FILE *f = fopen("check.py", "w");

	if (!f)
		bail_out("check.py");
	fputs(check, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 check.py %s %d", path, complete);
	return system(cmd) == 0;
}

static void json_ok_is(const char *path, int complete, const char *what)
{
	int rc = json_ok(path, complete);

	if (rc < 0)
		skip(1, "python3 is not installed");
	else
		ok(rc == 1, "%s", what);
}

static void test_bad_input(void)
{
	filch_executor *ex = make(1);
	struct filch_trace_opts bad = {.flags = 1};
	struct filch_trace_opts huge = {.events = (size_t)1 << 30};

	is(filch_trace_start(NULL, NULL), -EINVAL, "start: NULL executor");
	is(filch_trace_start(ex, &bad), -EINVAL, "start: unknown flag");
	is(filch_trace_start(ex, &huge), -EINVAL, "start: ring too large");
	is(filch_trace_stop(ex, "never.json"), -EINVAL, "stop: not traced");
	ok(access("never.json", F_OK) != 0, "stop: no file written");
	is(filch_trace_stop(NULL, NULL), -EINVAL, "stop: NULL executor");
	is(filch_trace_start(ex, NULL), 0, "start");
	is(filch_trace_start(ex, NULL), -EBUSY, "start twice: -EBUSY");
	is(filch_trace_stop(ex, "no/such/dir/t.json"), -ENOENT,
	   "stop: a path that cannot be created gives its errno");
	is(filch_trace_stop(ex, NULL), -EINVAL, "...and tracing stopped anyway");
	is(filch_trace_start(ex, NULL), 0, "start again");
	is(filch_trace_stop(ex, NULL), 0, "stop with a NULL path writes nothing");
	is(filch_trace_start(ex, NULL), 0, "left running at destroy");
	filch_executor_destroy(ex); /* LeakSanitizer: the rings are freed */
}

static void test_known_workload(unsigned workers)
{
	enum { N = 40, SPAWN = 3 };
	filch_executor *ex = make(workers);
	char path[128];

	snprintf(path, sizeof(path), "known%u.json", workers);
	run_tasks(ex, 5, SPAWN); /* not traced */
	is(filch_trace_start(ex, NULL), 0, "%u workers: start", workers);
	run_tasks(ex, N, SPAWN);
	is(filch_trace_stop(ex, path), 0, "%u workers: stop writes %s", workers,
	   path);
	run_tasks(ex, 5, SPAWN); /* not traced */
	filch_executor_destroy(ex);

	char *s = slurp(path);

	is(begins_of(s, (void *)traced_task), N,
	   "%u workers: one begin per traced task", workers);
	is(begins_of(s, (void *)traced_job), N * SPAWN,
	   "%u workers: one begin per traced group job", workers);
	is(occurrences(s, "\"cat\":\"task\",\"args\":{\"fn\""), N * (SPAWN + 1),
	   "%u workers: no other task began", workers);
	is(occurrences(s, "\"rc\":3"), N, "%u workers: each task's end has its rc",
	   workers);
	is(occurrences(s, "\"rc\":0"), N * SPAWN,
	   "%u workers: each job's end has its rc", workers);
	ok(occurrences(s, "\"name\":\"traced_task\"") == N,
	   "%u workers: dladdr named the task function", workers);
	ok(strstr(s, "\"name\":\"thread_name\",\"args\":{\"name\":\"worker 0\"}") &&
		   strstr(s, "\"foreign threads\""),
	   "%u workers: lanes are named", workers);
	is(occurrences(s, "\"name\":\"submit\""), N,
	   "%u workers: each foreign submission recorded", workers);
	ok(strstr(s, "\"dropped\":\"0\""), "%u workers: nothing dropped", workers);
	free(s);
	json_ok_is(path, 1, "python3 reads it as a nested Chrome trace");
}

static void test_overflow(void)
{
	struct filch_trace_opts o = {.events = 10}; /* rounded up to 16 */
	filch_executor *ex = make(1);

	is(filch_trace_start(ex, &o), 0, "start with 10-event rings");
	run_tasks(ex, 30, 0);
	is(filch_trace_stop(ex, "overflow.json"), 0, "stop");
	filch_executor_destroy(ex);

	char *s = slurp("overflow.json");
	unsigned long long events = 0, dropped = 0;
	const char *r0 = strstr(s, "{\"tid\":0,");

	ok(r0 && sscanf(r0, "{\"tid\":0,\"events\":\"%llu\",\"dropped\":\"%llu\"",
			&events, &dropped) == 2,
	   "worker 0's ring reports its counts");
	ok(events >= 60, "at least 60 events written (%llu)", events);
	is(dropped, events - 16, "all but the last 16 dropped, and counted");
	/* The JSON leaves out an end whose begin was dropped: the oldest
	 * kept event is one when the ring wrapped between a task's begin
	 * and end (tasks here do not nest, so at most one). */
	int kept = occurrences(s, "\"tid\":0,\"ts\"");
	ok(kept == 16 || kept == 15,
	   "16 events of worker 0 kept, less an orphan end (%d)", kept);
	ok(strstr(s, "\"otherData\":{\"dropped\":\"0\"") == NULL,
	   "the total drop count is not 0");
	free(s);
	json_ok_is("overflow.json", 0, "python3 reads the truncated trace");
}

static atomic_bool stop_toggling;
static atomic_int toggles; /* traces written to toggle.json */

static void *toggle(void *arg)
{
	filch_executor *ex = arg;
	int n = 0;

	while (!atomic_load(&stop_toggling)) {
		if (filch_trace_start(ex, NULL) != 0)
			bail_out("start while running");
		if (filch_trace_stop(ex, n++ % 8 ? NULL : "toggle.json") != 0)
			bail_out("stop while running");
		if (n % 8 == 1)
			atomic_fetch_add(&toggles, 1);
	}
	return NULL;
}

static void test_toggle_while_running(void)
{
	enum { N = 300, SPAWN = 8 };
	filch_executor *ex = make(4);
	pthread_t th;

	atomic_store(&tasks, 0);
	atomic_store(&jobs, 0);
	atomic_store(&stop_toggling, false);
	pthread_create(&th, NULL, toggle, ex);
	run_tasks(ex, N, SPAWN);
	/* A loaded machine may finish the tasks before the first trace. */
	while (atomic_load(&toggles) == 0)
		usleep(1000);
	atomic_store(&stop_toggling, true);
	pthread_join(th, NULL);
	filch_executor_destroy(ex);
	is(atomic_load(&tasks), N, "every task ran once while traces toggled");
	is(atomic_load(&jobs), N * SPAWN, "every job ran once");
	json_ok_is("toggle.json", 0, "a trace cut mid-flight is still JSON");
}

static void test_environment(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		setenv("FILCH_TRACE", "env.json", 1);
		filch_executor *a = make(2);

		run_tasks(a, 7, 1);
		filch_executor *b = make(1);

		run_tasks(b, 3, 0);
		filch_executor_destroy(b);
		filch_executor_destroy(a);
		_exit(0);
	}
	int st = 0;

	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "FILCH_TRACE: the child ran");
	if (access("env.json", F_OK) != 0 || access("env.json.1", F_OK) != 0) {
		ok(0, "FILCH_TRACE wrote env.json and env.json.1");
		return;
	}
	char *a = slurp("env.json"), *b = slurp("env.json.1");

	ok(begins_of(a, (void *)traced_task) == 7 &&
		   begins_of(b, (void *)traced_task) == 3,
	   "FILCH_TRACE: the first executor's trace in env.json, the second's "
	   "in env.json.1");
	free(a);
	free(b);
	json_ok_is("env.json", 1, "python3 reads env.json");
}

/* A foreign submission that waited for room in a full bounded queue
 * (FILCH_FULL_BLOCK) while a trace started is recorded once accepted. */
static atomic_int room;
static filch_executor *blocked_ex;

static int hold_until_room(void *arg, void **result)
{
	(void)arg, (void)result;
	while (!atomic_load(&room))
		usleep(1000);
	return 0;
}

static int nothing(void *arg, void **result)
{
	(void)arg, (void)result;
	return 0;
}

static void *blocked_submitter(void *arg)
{
	*(int *)arg = filch_submit(blocked_ex, nothing, NULL, NULL);
	return NULL;
}

static void test_blocked_submit(void)
{
	struct filch_executor_opts o = {.workers = 1, .queue_capacity = 1,
					.full_policy = FILCH_FULL_BLOCK};
	struct filch_executor_stats st = {.size = sizeof(st)};
	filch_future *f;
	pthread_t th;
	int rc = -1;

	if (filch_executor_create(&blocked_ex, &o) != 0 ||
	    filch_submit(blocked_ex, hold_until_room, NULL, &f) != 0)
		bail_out("blocked_submit: set up");
	while (filch_executor_stats(blocked_ex, &st) == 0 && st.inject_depth)
		usleep(1000); /* the worker took it */
	if (filch_submit(blocked_ex, nothing, NULL, NULL) != 0)
		bail_out("blocked_submit: the queue's one place");
	pthread_create(&th, NULL, blocked_submitter, &rc);
	usleep(50000); /* it waits for room */
	is(filch_trace_start(blocked_ex, NULL), 0, "blocked submit: trace on");
	atomic_store(&room, 1);
	pthread_join(th, NULL);
	is(rc, 0, "blocked submit: accepted");
	filch_future_result(f, FILCH_FOREVER, NULL);
	filch_future_release(f);
	is(filch_trace_stop(blocked_ex, "blocked.json"), 0,
	   "blocked submit: trace written");
	filch_executor_destroy(blocked_ex);
	char *s = slurp("blocked.json");
	is(occurrences(s, "\"name\":\"submit\""), 1,
	   "a submission accepted after the trace started is recorded");
	free(s);
}

int main(void)
{
	tap_plan(0);
	snprintf(dir, sizeof(dir), "test_trace.%d", (int)getpid());
	if (mkdir(dir, 0700) != 0 || chdir(dir) != 0)
		bail_out("cannot make %s", dir);
	test_bad_input();
	test_known_workload(1);
	test_known_workload(2);
	test_overflow();
	test_toggle_while_running();
	test_environment();
	test_blocked_submit();
	if (system("rm -f *.json *.json.1 check.py") == 0 && chdir("..") == 0)
		rmdir(dir);
	return tap_done();
}
