/* SPDX-License-Identifier: MIT */
/*
 * promise.c - futures that the user completes (filch_promise_*): created
 * PENDING with the caller's one reference, set running and completed by
 * whoever holds a reference, from any thread. Completion goes through
 * filch__future_settle, so exactly one completion wins; a promise whose
 * last reference is dropped unfulfilled is cancelled (future.c, abandon).
 */
#include "config.h"

#include "atomic.h"
#include "future.h"

static bool is_promise(const filch_future *f)
{
	return f && f->kind == FILCH__FUTURE_PROMISE;
}

int filch_promise_create(filch_future **f)
{
	if (!f)
		return -EINVAL;
	filch_future *p = filch__future_new(FILCH__FUTURE_PROMISE, 1);
	if (!p)
		return -ENOMEM;
	*f = p;
	return 0;
}

int filch_promise_set_running(filch_future *f)
{
	if (!is_promise(f))
		return -EINVAL;
	uint32_t s = filch__load(&f->state, relaxed);
	for (;;) {
		uint32_t phase = s & FILCH__FS_PHASE;
		if (phase == FILCH_CANCELLED)
			return -ECANCELED;
		if (phase == FILCH_FINISHED || (s & FILCH__FS_COMPLETING))
			return -EINVAL;
		if (phase == FILCH_RUNNING)
			return 0;
		/* release: the caller's writes before RUNNING; pairs with the
		 * acquire load of filch_future_state. */
		if (filch__cas_weak(&f->state, &s, s | FILCH_RUNNING, release,
				    relaxed))
			return 0;
	}
}

int filch_promise_set_result(filch_future *f, void *result)
{
	if (!is_promise(f))
		return -EINVAL;
	return filch__future_settle(f, 0, result, NULL);
}

int filch_promise_set_error(filch_future *f, int code, const char *message)
{
	if (!is_promise(f) || code <= 0)
		return -EINVAL;
	return filch__future_settle(f, code, NULL, message);
}
