/* SPDX-License-Identifier: MIT */
/* error.c - names of the error codes filch returns, and the code a task's
 * return value stands for. */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <filch.h>

#include "future.h"
#include "sched.h"

const char *filch_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument";
	case -ENOMEM:
		return "out of memory";
	case -ETIMEDOUT:
		return "timed out";
	case -ECANCELED:
		return "cancelled";
	case -ESHUTDOWN:
		return "executor is shut down";
	case -EAGAIN:
		return "resource temporarily unavailable (queue full or thread limit)";
	case -EDEADLK:
		return "would deadlock (waiting on its own worker)";
	case -EOWNERDEAD:
		return "executor inherited across fork(): its threads do not exist in this process";
	case -EALREADY:
		return "the future's result was already taken";
	case -EEXIST:
		return "the future already has a result destructor";
	case FILCH_END:
		return "end of iteration";
	case -EMFILE:
		return "too many open files (process limit)";
	case -ENFILE:
		return "too many open files (system limit)";
	default:
		break;
	}
	/* A positive code is a task's own error: by convention an errno. */
	if (err > 0 && err < 4096) {
		const char *s = strerrordesc_np(err);
		if (s)
			return s;
	}
	return "unknown error";
}

int filch__task_code_int_min(char **message)
{
	if (!*message)
		*message = filch__strdup("the task returned INT_MIN");
	return EOVERFLOW;
}
