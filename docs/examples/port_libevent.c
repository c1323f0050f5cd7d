/* SPDX-License-Identifier: MIT */
/*
 * port_libevent.c - libevent's loop waits for filch futures: a persistent
 * EV_READ event on the completion port's fd.
 *
 * Jobs sum squares over slices of [0, 1000000) on the executor; the event
 * callback drains the port and adds up the results on the loop thread.
 * Prints TAP so that make check runs it.
 */
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>

#include <filch.h>

enum { LIMIT = 1000000, SLICES = 50, BATCH = 16 };

struct app {
	filch_port *port;
	struct event_base *base;
	size_t pending;
	uint64_t sum;
	bool timed_out;
};

static int sum_squares(void *arg, void **result)
{
	uint64_t lo = (uintptr_t)arg, sum = 0;
	for (uint64_t i = lo; i < lo + LIMIT / SLICES; i++)
		sum += i * i;
	*result = (void *)(uintptr_t)sum;
	return 0;
}

static void on_port_readable(evutil_socket_t fd, short what, void *arg)
{
	struct app *app = arg;
	struct filch_port_event ev[BATCH];
	size_t n;

	if (filch_port_drain(app->port, ev, BATCH, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		void *part;
		if (filch_future_result(ev[i].future, 0, &part) == 0)
			app->sum += (uintptr_t)part;
		filch_future_release(ev[i].future);
	}
	app->pending -= n;
	if (app->pending == 0)
		event_base_loopbreak(app->base);
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
	struct app *app = arg;
	app->timed_out = true;
	event_base_loopbreak(app->base);
}

int main(void)
{
	struct app app = {0};
	filch_executor *ex;

	printf("1..1\n");
	if (filch_executor_create(&ex, NULL) ||
	    filch_port_create(&app.port, 0)) {
		printf("not ok 1 - setup\n");
		return 1;
	}
	app.base = event_base_new();
	struct event *watch =
	    event_new(app.base, filch_port_fd(app.port), EV_READ | EV_PERSIST,
		      on_port_readable, &app);
	struct event *guard = evtimer_new(app.base, on_guard, &app);
	struct timeval ten_seconds = {.tv_sec = 10};
	event_add(watch, NULL);
	event_add(guard, &ten_seconds);

	for (uintptr_t lo = 0; lo < LIMIT; lo += LIMIT / SLICES) {
		filch_future *f;
		if (filch_submit(ex, sum_squares, (void *)lo, &f))
			continue;
		if (filch_port_add(app.port, f, NULL) == 0)
			app.pending++;
		filch_future_release(f);
	}
	event_base_dispatch(app.base);

	/* The sum of i*i for i < N is (N - 1) N (2N - 1) / 6. */
	uint64_t n = LIMIT, want = (n - 1) * n * (2 * n - 1) / 6;
	bool good = !app.timed_out && app.pending == 0 && app.sum == want;
	printf("# sum of squares below %d: %llu\n", LIMIT,
	       (unsigned long long)app.sum);
	printf("%s 1 - libevent loop got every future through its event\n",
	       good ? "ok" : "not ok");
	event_free(watch);
	event_free(guard);
	event_base_free(app.base);
	filch_port_destroy(app.port);
	filch_executor_destroy(ex);
	return good ? 0 : 1;
}
