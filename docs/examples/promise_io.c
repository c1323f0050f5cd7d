/* SPDX-License-Identifier: MIT */
/*
 * promise_io.c - promises completed by an "I/O thread" (standing in for a
 * network library's completion callback), a continuation that parses each
 * reply on the executor, and filch_when_all to wait for the batch; one
 * request fails and its error reaches the caller with its message.
 *
 * The asyncio shape it replaces:
 *     replies = [loop.create_future() for _ in range(4)]
 *     parsed = [asyncio.ensure_future(parse(r)) for r in replies]
 *     await asyncio.gather(*parsed)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <filch.h>

#include "expect.h"

enum { NREQ = 4 };

static const char *const raw[NREQ] = { "17", "25", "oops", "58" };

/* The I/O thread: completes each promise with its reply, or an error. */
static void *io_thread(void *arg)
{
	filch_future **replies = arg;
	for (int i = 0; i < NREQ; i++) {
		if (i == 1)
			filch_promise_set_error(replies[i], ECONNRESET,
						"peer reset request 1");
		else
			filch_promise_set_result(replies[i], (void *)raw[i]);
	}
	return NULL;
}

/* Runs on a worker once the reply arrived: parse it. */
static int parse(filch_future *reply, void *arg, void **result)
{
	void *text = NULL;
	filch_future_result(reply, 0, &text); /* done: it does not block */
	int v = 0;
	if (sscanf(text, "%d", &v) != 1)
		return filch_task_fail(EPROTO, "request %d: bad reply \"%s\"",
				       (int)(intptr_t)arg, (const char *)text);
	*result = (void *)(intptr_t)v;
	return 0;
}

int main(void)
{
	FILCH_SCOPED_EXECUTOR ex = NULL;
	filch_future *replies[NREQ], *parsed[NREQ], *all;
	pthread_t io;

	if (filch_executor_create(&ex, NULL))
		return 1;
	for (int i = 0; i < NREQ; i++) {
		filch_promise_create(&replies[i]);
		filch_future_then(replies[i], ex, parse, (void *)(intptr_t)i,
				  &parsed[i]);
	}
	filch_when_all(parsed, NREQ, &all);
	pthread_create(&io, NULL, io_thread, replies);

	int code = 0;
	const char *msg = NULL;
	filch_future_error(all, FILCH_FOREVER, &code, &msg);
	expect_line("batch failed: peer reset request 1", "batch failed: %s",
		    msg ? msg : "(none)");
	static const char *const want[NREQ] = {
		"request 0: 17",
		"request 1: error: peer reset request 1",
		"request 2: error: request 2: bad reply \"oops\"",
		"request 3: 58",
	};
	for (int i = 0; i < NREQ; i++) {
		void *v = NULL;
		if (filch_future_error(parsed[i], FILCH_FOREVER, &code, &msg))
			return 1;
		if (code == 0) {
			filch_future_result(parsed[i], 0, &v);
			expect_line(want[i], "request %d: %d", i, (int)(intptr_t)v);
		} else {
			expect_line(want[i], "request %d: error: %s", i, msg);
		}
	}
	pthread_join(io, NULL);
	filch_future_release(all);
	for (int i = 0; i < NREQ; i++) {
		filch_future_release(parsed[i]);
		filch_future_release(replies[i]);
	}
	return expect_status();
}
