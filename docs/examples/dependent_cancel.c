/* SPDX-License-Identifier: MIT */
/*
 * dependent_cancel.c - dependent tasks: a child runs only after its parent
 * succeeded, and cancelling the parent cancels every dependent (the
 * exercise "chain dependent tasks; cancelling a parent cancels all
 * dependent children", which Python leaves to the user).
 *
 * Each child is a continuation (filch_future_then) of its parent. A failed
 * parent fails its children with the same code, without running them; a
 * cancelled parent cancels them, down the whole tree.
 */
#include <errno.h>
#include <filch.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "expect.h"

static atomic_int gate_open, children_run;

/* Keeps the only worker busy so that the parents stay pending. */
static int blocker(void *arg, void **result)
{
	(void)arg;
	(void)result;
	while (!atomic_load(&gate_open))
		nanosleep(&(struct timespec){0, 1000000L}, NULL);
	return 0;
}

static int parent_ok(void *arg, void **result)
{
	*result = arg;
	return 0;
}

static int parent_fails(void *arg, void **result)
{
	(void)arg;
	(void)result;
	return filch_task_fail(EIO, "parent failed");
}

static int child(filch_future *parent, void *arg, void **result)
{
	(void)parent;
	atomic_fetch_add(&children_run, 1);
	*result = arg;
	return 0;
}

static const char *outcome(filch_future *f)
{
	int code = 0;
	int rc = filch_future_error(f, FILCH_FOREVER, &code, NULL);
	if (rc == -ECANCELED)
		return "cancelled";
	return rc == 0 && code == 0 ? "ran" : code == EIO ? "failed (EIO)" : "?";
}

/* A parent with two children, and a grandchild under the first. */
static int tree(filch_executor *ex, filch_task_fn parent, filch_future *t[4])
{
	return filch_submit(ex, parent, NULL, &t[0]) ||
	       filch_future_then(t[0], ex, child, NULL, &t[1]) ||
	       filch_future_then(t[0], ex, child, NULL, &t[2]) ||
	       filch_future_then(t[1], ex, child, NULL, &t[3]);
}

int main(void)
{
	struct filch_executor_opts opts = {.workers = 1};
	filch_future *a[4], *b[4], *c[4];
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0 ||
	    filch_submit(ex, blocker, NULL, NULL) != 0)
		return 1;
	if (tree(ex, parent_ok, a) || tree(ex, parent_ok, b) ||
	    tree(ex, parent_fails, c))
		return 1;
	expect_line("cancel parent B: 1", "cancel parent B: %d",
		    filch_future_cancel(b[0]));
	atomic_store(&gate_open, 1);

	expect_line("A: parent ran, children ran, ran, grandchild ran",
		    "A: parent %s, children %s, %s, grandchild %s", outcome(a[0]),
		    outcome(a[1]), outcome(a[2]), outcome(a[3]));
	expect_line("B: parent cancelled, children cancelled, cancelled, "
		    "grandchild cancelled",
		    "B: parent %s, children %s, %s, grandchild %s", outcome(b[0]),
		    outcome(b[1]), outcome(b[2]), outcome(b[3]));
	expect_line("C: parent failed (EIO), children failed (EIO), failed "
		    "(EIO), grandchild failed (EIO)",
		    "C: parent %s, children %s, %s, grandchild %s", outcome(c[0]),
		    outcome(c[1]), outcome(c[2]), outcome(c[3]));
	expect_line("children that ran: 3", "children that ran: %d",
		    atomic_load(&children_run));
	for (int i = 0; i < 4; i++) {
		filch_future_release(a[i]);
		filch_future_release(b[i]);
		filch_future_release(c[i]);
	}
	filch_executor_destroy(ex);
	return expect_status();
}
