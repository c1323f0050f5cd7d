/* SPDX-License-Identifier: MIT */
/*
 * port_libuv.c - libuv's loop waits for filch futures: a uv_poll_t watches
 * the completion port's fd, the way Python's loop.run_in_executor hands
 * work to a pool and resumes on the loop when it is done.
 *
 * run_in_executor() submits a task and tags its future with a job whose
 * `done` callback then runs on the loop thread. Here the jobs count primes
 * in slices of [0, 200000). Prints TAP so that make check runs it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include <filch.h>

enum { LIMIT = 200000, SLICE = 10000, BATCH = 32 };

/* A piece of work whose completion is handled on the loop. */
struct job {
	void (*done)(struct job *job, filch_future *f); /* on the loop */
};

struct app {
	filch_executor *ex;
	filch_port *port;
	uv_poll_t port_watch;
	uv_timer_t guard;
	size_t pending;
	uintptr_t primes;
	bool timed_out;
};

static struct app app;

static int count_primes(void *arg, void **result)
{
	uintptr_t lo = (uintptr_t)arg, count = 0;
	for (uintptr_t n = lo < 2 ? 2 : lo; n < lo + SLICE; n++) {
		bool prime = true;
		for (uintptr_t d = 2; d * d <= n && prime; d++)
			prime = n % d != 0;
		count += prime;
	}
	*result = (void *)count;
	return 0;
}

/* Runs fn(arg) on the executor; job->done(job, future) runs on the loop
 * once it is done. */
static int run_in_executor(filch_task_fn fn, void *arg, struct job *job)
{
	filch_future *f;
	int err = filch_submit(app.ex, fn, arg, &f);
	if (err)
		return err;
	err = filch_port_add(app.port, f, job);
	filch_future_release(f); /* the port holds its own reference */
	return err;
}

static void stop_watching(void)
{
	uv_poll_stop(&app.port_watch);
	uv_close((uv_handle_t *)&app.port_watch, NULL);
	uv_timer_stop(&app.guard);
	uv_close((uv_handle_t *)&app.guard, NULL);
}

static void slice_done(struct job *job, filch_future *f)
{
	void *count;
	if (filch_future_result(f, 0, &count) == 0)
		app.primes += (uintptr_t)count;
	free(job);
	if (--app.pending == 0)
		stop_watching();
}

/* The port's fd is readable: hand every done future to its job. */
static void on_port_readable(uv_poll_t *watch, int status, int events)
{
	struct filch_port_event ev[BATCH];
	size_t n;

	if (status < 0 || filch_port_drain(app.port, ev, BATCH, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		struct job *job = ev[i].tag;
		job->done(job, ev[i].future);
		filch_future_release(ev[i].future);
	}
}

static void on_guard(uv_timer_t *timer)
{
	app.timed_out = true;
	stop_watching();
}

int main(void)
{
	uv_loop_t *loop = uv_default_loop();

	printf("1..1\n");
	if (filch_executor_create(&app.ex, NULL) ||
	    filch_port_create(&app.port, 0)) {
		printf("not ok 1 - setup\n");
		return 1;
	}
	uv_poll_init(loop, &app.port_watch, filch_port_fd(app.port));
	uv_poll_start(&app.port_watch, UV_READABLE, on_port_readable);
	uv_timer_init(loop, &app.guard);
	uv_timer_start(&app.guard, on_guard, 10000, 0);

	for (uintptr_t lo = 0; lo < LIMIT; lo += SLICE) {
		struct job *job = malloc(sizeof *job);
		*job = (struct job){.done = slice_done};
		if (run_in_executor(count_primes, (void *)lo, job)) {
			free(job);
			continue;
		}
		app.pending++;
	}
	uv_run(loop, UV_RUN_DEFAULT);

	/* There are 17984 primes below 200000. */
	bool good = !app.timed_out && app.pending == 0 && app.primes == 17984;
	printf("# %lu primes below %d\n", (unsigned long)app.primes, LIMIT);
	printf("%s 1 - libuv loop got every future through uv_poll_t\n",
	       good ? "ok" : "not ok");
	filch_port_destroy(app.port);
	filch_executor_destroy(app.ex);
	uv_loop_close(loop);
	return good ? 0 : 1;
}
