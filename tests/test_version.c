/* SPDX-License-Identifier: MIT */
/* test_version.c - version queries and error names. */
#include "config.h"

#include <string.h>

#include <filch.h>

#include "tap.h"

int main(void)
{
	tap_plan(0);
	is(filch_version(), FILCH_VERSION_HEX, "filch_version matches the header");
	ok(strcmp(filch_version_string(), FILCH_VERSION_STRING) == 0,
	   "filch_version_string is %s", FILCH_VERSION_STRING);
	ok(FILCH_VERSION_HEX == ((FILCH_VERSION_MAJOR << 16) |
				 (FILCH_VERSION_MINOR << 8) | FILCH_VERSION_PATCH),
	   "FILCH_VERSION_HEX packs major, minor, patch");

	static const struct {
		int code;
		const char *name;
	} names[] = {
		{ 0, "success" },
		{ -EINVAL, "invalid argument" },
		{ -ENOMEM, "out of memory" },
		{ -ETIMEDOUT, "timed out" },
		{ -ECANCELED, "cancelled" },
		{ -ESHUTDOWN, "executor is shut down" },
		{ -EDEADLK, "would deadlock (waiting on its own worker)" },
		{ -EALREADY, "the future's result was already taken" },
		{ -EEXIST, "the future already has a result destructor" },
		{ FILCH_END, "end of iteration" },
		{ -EMFILE, "too many open files (process limit)" },
		{ -ENFILE, "too many open files (system limit)" },
		{ ENOENT, "No such file or directory" },
		{ -999999, "unknown error" },
		{ 123456, "unknown error" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ok(strcmp(filch_strerror(names[i].code), names[i].name) == 0,
		   "filch_strerror(%d) is \"%s\"", names[i].code, names[i].name);
	ok(strstr(filch_strerror(-EAGAIN), "unavailable") != NULL,
	   "filch_strerror(-EAGAIN) names the condition");
	ok(FILCH_FOREVER == -1, "FILCH_FOREVER is -1");
	return tap_done();
}
