/* SPDX-License-Identifier: MIT */
/*
 * filch_procpool.c - the process pool benches: "procpool", the round trip
 * of an empty task (submit, then wait for its result, one at a time: p50
 * and p99) and the cost per small task when many are in flight (64 bytes
 * in, 8 out), and "procpool_64mib", the round trip of a task whose
 * argument and result are 64 MiB. Implementations: filch's process pool
 * with the fork server ("filch") and with spawn ("filch_spawn"), and with
 * spawn and no polling ("filch_nospin": spin_ns 0, against filch_spawn
 * what the pool's polling of its sockets saves; spawn, as a fork server
 * forked while another pool lives would hold that pool's sockets); a fork,
 * a pipe and a waitpid per task ("fork": what a pool of long-lived workers
 * saves); Python's concurrent.futures.ProcessPoolExecutor ("python": a
 * python3 process measures itself with time.perf_counter and prints its
 * figures; n/a when there is no python3). Processes are not placed: each
 * row starts its processes with the submitter unpinned (every CPU), so
 * that they do not all inherit the submitter's CPU.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filch.h>

#include "fb.h"
#include "placement.h"

#define BIG ((size_t)64 << 20)

struct pp_state {
	unsigned workers;
	filch_procpool *pp;
	unsigned char *big; /* procpool_64mib's argument */
};

static int empty(const void *arg, size_t len, void **out, size_t *out_len)
{
	(void)arg, (void)len, (void)out, (void)out_len;
	return 0;
}

/* A small task: sums its argument's bytes into an 8-byte result. */
static int small(const void *arg, size_t len, void **out, size_t *out_len)
{
	uint64_t *sum = malloc(sizeof(*sum));

	if (!sum)
		return ENOMEM;
	*sum = 0;
	for (size_t i = 0; i < len; i++)
		*sum += ((const unsigned char *)arg)[i];
	*out = sum;
	*out_len = sizeof(*sum);
	return 0;
}

/* Answers a copy of its argument (procpool_64mib). */
static int echo(const void *arg, size_t len, void **out, size_t *out_len)
{
	if (!(*out = malloc(len ? len : 1)))
		return ENOMEM;
	memcpy(*out, arg, len);
	*out_len = len;
	return 0;
}

struct pp_create {
	struct filch_procpool_opts o;
	filch_procpool *pp;
	int rc;
};

/* Unpinned (fb_placement_unpinned): the completion thread, the fork
 * server and the workers inherit the mask of this thread. */
static void pool_create(void *arg)
{
	struct pp_create *c = arg;

	c->rc = filch_procpool_create(&c->pp, &c->o);
}

/* spin_ns < 0: the pool's default spinning. */
static int pool_setup(unsigned workers, int method, int64_t spin_ns,
		      void **state)
{
	struct pp_state *st = fb_xcalloc(1, sizeof(*st));
	struct pp_create c = { .o = { .workers = workers,
				      .start_method = method } };

	if (spin_ns >= 0) {
		c.o.flags = FILCH_PROCPOOL_OPT_SPIN;
		c.o.spin_ns = spin_ns;
	}

	fb_placement_unpinned(pool_create, &c);
	if (c.rc) {
		free(st);
		return c.rc;
	}
	st->pp = c.pp;
	st->workers = workers;
	*state = st;
	return 0;
}

static int forkserver_setup(unsigned workers, const struct fb_params *p,
			    void **state)
{
	(void)p;
	return pool_setup(workers, FILCH_START_FORKSERVER, -1, state);
}

static int nospin_setup(unsigned workers, const struct fb_params *p,
			void **state)
{
	(void)p;
	return pool_setup(workers, FILCH_START_SPAWN, 0, state);
}

static int spawn_setup(unsigned workers, const struct fb_params *p,
		       void **state)
{
	(void)p;
	return pool_setup(workers, FILCH_START_SPAWN, -1, state);
}

static void pool_teardown(void *state)
{
	struct pp_state *st = state;

	FB_CHECK_RC(filch_procpool_destroy(st->pp));
	free(st->big);
	free(st);
}

/* Submits fn(arg, len) and waits: the result's length. */
static size_t pool_call(filch_procpool *pp, filch_proc_fn fn,
			const void *arg, size_t len)
{
	filch_future *f;
	void *r;

	FB_CHECK_RC(filch_procpool_submit(pp, fn, arg, len, &f));
	FB_CHECK_RC(filch_future_result(f, FILCH_FOREVER, &r));
	size_t n = ((struct filch_bytes *)r)->len;

	filch_future_release(f);
	return n;
}

static void pool_run(void *state, const struct fb_params *p,
		     struct fb_sample *s)
{
	struct pp_state *st = state;
	unsigned rounds = p->procpool_rounds, n = p->procpool_tasks;
	int64_t *lat = fb_xmalloc(rounds * sizeof(*lat));
	filch_future **fs = fb_xmalloc(n * sizeof(*fs));
	unsigned char arg[64];

	for (unsigned i = 0; i < rounds; i++) {
		int64_t t0 = fb_now_ns();

		pool_call(st->pp, empty, NULL, 0);
		lat[i] = fb_now_ns() - t0;
	}
	fb_percentiles_us(lat, rounds, s);
	memset(arg, 1, sizeof(arg));
	fb_region_begin(s);
	for (unsigned i = 0; i < n; i++)
		FB_CHECK_RC(filch_procpool_submit(st->pp, small, arg,
						  sizeof(arg), &fs[i]));
	for (unsigned i = 0; i < n; i++) {
		void *r;

		FB_CHECK_RC(filch_future_result(fs[i], FILCH_FOREVER, &r));
		if (*(uint64_t *)((struct filch_bytes *)r)->data != 64)
			fb_fail("small task: wrong sum");
		filch_future_release(fs[i]);
	}
	fb_region_end(s);
	free(fs);
	free(lat);
}

static void big_run(void *state, const struct fb_params *p,
		    struct fb_sample *s)
{
	struct pp_state *st = state;

	(void)p;
	if (!st->big) {
		st->big = fb_xmalloc(BIG);
		memset(st->big, 7, BIG);
	}
	fb_region_begin(s);
	if (pool_call(st->pp, echo, st->big, BIG) != BIG)
		fb_fail("64 MiB echo: wrong length");
	fb_region_end(s);
}

/* The fork and python rows keep only the worker count. */
static int workers_setup(unsigned workers, const struct fb_params *p,
		      void **state)
{
	(void)p;
	*state = (void *)(uintptr_t)workers;
	return 0;
}

/* ---- fork per task ---- */

/* Starts one child that runs small() and writes its result to a pipe:
 * the read end. */
static int fork_start(pid_t *pid)
{
	int fd[2];

	if (pipe(fd))
		fb_fail("pipe: %s", strerror(errno));
	if ((*pid = fork()) == 0) {
		unsigned char arg[64];
		void *out = NULL;
		size_t len = 0;

		memset(arg, 1, sizeof(arg));
		close(fd[0]);
		small(arg, sizeof(arg), &out, &len);
		_exit(write(fd[1], out, len) == (ssize_t)len ? 0 : 1);
	}
	if (*pid < 0)
		fb_fail("fork: %s", strerror(errno));
	close(fd[1]);
	return fd[0];
}

/* Reads the child's result and reaps it. */
static void fork_finish(pid_t pid, int fd)
{
	uint64_t sum = 0;
	int st;

	if (read(fd, &sum, sizeof(sum)) != sizeof(sum) || sum != 64)
		fb_fail("fork per task: wrong result");
	close(fd);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		fb_fail("fork per task: child failed");
}

struct pp_run {
	void *state;
	const struct fb_params *p;
	struct fb_sample *s;
	void (*fn)(void *state, const struct fb_params *p,
		   struct fb_sample *s);
};

static void run_it(void *arg)
{
	struct pp_run *r = arg;

	r->fn(r->state, r->p, r->s);
}

/* Runs fn unpinned: the processes it starts inherit that. */
static void unpinned_run(void (*fn)(void *, const struct fb_params *,
				    struct fb_sample *),
			 void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	struct pp_run r = { state, p, s, fn };

	fb_placement_unpinned(run_it, &r);
}

static void fork_tasks(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	unsigned workers = (unsigned)(uintptr_t)state;
	unsigned rounds = p->procpool_rounds / 10, n = p->procpool_tasks / 10;
	int64_t *lat = fb_xmalloc(rounds * sizeof(*lat));
	pid_t *pid = fb_xmalloc(workers * sizeof(*pid));
	int *fd = fb_xmalloc(workers * sizeof(*fd));

	for (unsigned i = 0; i < rounds; i++) {
		int64_t t0 = fb_now_ns();

		fd[0] = fork_start(&pid[0]);
		fork_finish(pid[0], fd[0]);
		lat[i] = fb_now_ns() - t0;
	}
	fb_percentiles_us(lat, rounds, s);
	/* `workers` children at a time, in waves. */
	fb_region_begin(s);
	for (unsigned i = 0; i < n; i += workers) {
		unsigned k = n - i < workers ? n - i : workers;

		for (unsigned j = 0; j < k; j++)
			fd[j] = fork_start(&pid[j]);
		for (unsigned j = 0; j < k; j++)
			fork_finish(pid[j], fd[j]);
	}
	fb_region_end(s);
	/* Scaled to the pool rows' task count (procpool's derive). */
	s->ns *= 10;
	free(fd);
	free(pid);
	free(lat);
}

static void fork_run(void *state, const struct fb_params *p,
		     struct fb_sample *s)
{
	unpinned_run(fork_tasks, state, p, s);
}

/* ---- Python's ProcessPoolExecutor ---- */

/* Builtins as tasks (int() and sum(bytes)): they pickle by reference
 * under every start method, where a function of `python3 -c` would not. */
static const char python_script[] =
	"import sys, time\n"
	"from concurrent.futures import ProcessPoolExecutor\n"
	"w, rounds, n = map(int, sys.argv[1:4])\n"
	"with ProcessPoolExecutor(max_workers=w) as ex:\n"
	"    for _ in range(2 * w): ex.submit(int).result()\n"
	"    lat = []\n"
	"    for _ in range(rounds):\n"
	"        t = time.perf_counter(); ex.submit(int).result()\n"
	"        lat.append(time.perf_counter() - t)\n"
	"    lat.sort()\n"
	"    arg = bytes([1]) * 64\n"
	"    t = time.perf_counter()\n"
	"    fs = [ex.submit(sum, arg) for _ in range(n)]\n"
	"    assert all(f.result() == 64 for f in fs)\n"
	"    dt = time.perf_counter() - t\n"
	"print(lat[len(lat) // 2] * 1e6, lat[len(lat) * 99 // 100] * 1e6,\n"
	"      dt * 1e9 / n)\n";

static bool have_python(void)
{
	return system("command -v python3 >/dev/null 2>&1") == 0;
}

static void python_tasks(void *state, const struct fb_params *p,
			 struct fb_sample *s)
{
	unsigned workers = (unsigned)(uintptr_t)state;
	char cmd[sizeof(python_script) + 128];
	double p50, p99, ns;
	FILE *py;

	s->value[0] = s->value[1] = NAN;
	s->ns = -1;
	s->instr = -1;
	if (!have_python())
		return; /* n/a */
	/* The script goes through a quoted here-document: no quoting of
	 * its own needed. */
	snprintf(cmd, sizeof(cmd),
		 "python3 - %u %u %u <<'FILCH_EOF'\n%sFILCH_EOF\n", workers,
		 p->procpool_rounds, p->procpool_tasks, python_script);
	if (!(py = popen(cmd, "r")))
		fb_fail("popen: %s", strerror(errno));
	int got = fscanf(py, "%lf %lf %lf", &p50, &p99, &ns);

	if (pclose(py) != 0 || got != 3)
		fb_fail("python3 ProcessPoolExecutor run failed");
	s->value[0] = p50;
	s->value[1] = p99;
	s->ns = (int64_t)(ns * p->procpool_tasks);
}

static void python_run(void *state, const struct fb_params *p,
		       struct fb_sample *s)
{
	unpinned_run(python_tasks, state, p, s);
}

const struct fb_impl fb_impls_filch_procpool[] = {
	{ "procpool", "filch", forkserver_setup, pool_run, pool_teardown },
	{ "procpool", "filch_spawn", spawn_setup, pool_run, pool_teardown },
	{ "procpool", "filch_nospin", nospin_setup, pool_run, pool_teardown },
	{ "procpool", "fork", workers_setup, fork_run, NULL },
	{ "procpool", "python", workers_setup, python_run, NULL },
	{ "procpool_64mib", "filch", forkserver_setup, big_run,
	  pool_teardown },
	{ "procpool_64mib", "filch_spawn", spawn_setup, big_run,
	  pool_teardown },
	{ 0 },
};
