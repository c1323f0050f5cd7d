/* SPDX-License-Identifier: MIT */
/* fault.c - the fault-injection sites of fault.h, armed by tests or FILCH_FAULT. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "fault_ctl.h"

/*
 * Per-site state. Every word is only counted or set, never used to order
 * other memory: a test arms a site before it starts the workload whose calls
 * are counted (pthread_create or the test's own synchronization orders the
 * arming before those calls), so relaxed accesses are enough throughout.
 *
 * calls:  number of calls so far; incremented by every filch__fault_hit(s),
 *         zeroed by filch__fault_reset.
 * target: 0 (disarmed) or the call number n that fails; written by
 *         filch__fault_arm / reset / the environment.
 * sticky: whether calls after the nth fail too (persistent mode).
 * fired:  number of calls made to fail.
 * pc:     NULL, or the return address of the first call made to fail;
 *         NULL -> pc once (CAS) until reset.
 */
struct fault_site {
	_Atomic uint64_t calls;
	_Atomic uint64_t target;
	_Atomic bool sticky;
	_Atomic uint64_t fired;
	_Atomic(void *) pc;
};

static struct fault_site sites[FILCH__FAULT_NSITES];
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static const char *const site_names[FILCH__FAULT_NSITES] = {
	[FILCH__FAULT_ALLOC] = "alloc",
	[FILCH__FAULT_THREAD] = "thread",
	[FILCH__FAULT_FUTEX] = "futex",
};

const char *filch__fault_site_name(enum filch__fault_site s)
{
	return (unsigned)s < FILCH__FAULT_NSITES ? site_names[s] : "?";
}

static void arm(enum filch__fault_site s, uint64_t n, bool persistent)
{
	filch__store(&sites[s].sticky, persistent, relaxed);
	filch__store(&sites[s].target, n, relaxed);
}

/* Parses one "site:N" or "site:N+" item; complains on stderr if malformed. */
static void arm_from_item(const char *item, size_t len)
{
	for (unsigned s = 0; s < FILCH__FAULT_NSITES; s++) {
		size_t nl = strlen(site_names[s]);
		if (len <= nl + 1 || strncmp(item, site_names[s], nl) != 0 ||
		    item[nl] != ':')
			continue;
		char *end;
		unsigned long long n = strtoull(item + nl + 1, &end, 10);
		bool persistent = end < item + len && *end == '+';
		if (persistent)
			end++;
		if (end == item + len && n > 0) {
			arm(s, n, persistent);
			return;
		}
	}
	fprintf(stderr, "filch: FILCH_FAULT: ignoring \"%.*s\" "
			"(want alloc|thread|futex:N[+])\n",
		(int)len, item);
}

static void arm_from_env(void)
{
	const char *spec = getenv("FILCH_FAULT");
	while (spec && *spec) {
		size_t len = strcspn(spec, ",");
		if (len)
			arm_from_item(spec, len);
		spec += len + (spec[len] == ',');
	}
}

bool filch__fault_hit(enum filch__fault_site s)
{
	pthread_once(&env_once, arm_from_env);
	struct fault_site *site = &sites[s];
	uint64_t n = filch__add(&site->calls, 1, relaxed) + 1;
	uint64_t target = filch__load(&site->target, relaxed);
	if (!target || n < target ||
	    (n > target && !filch__load(&site->sticky, relaxed)))
		return false;
	filch__add(&site->fired, 1, relaxed);
	void *none = NULL;
	filch__cas(&site->pc, &none, __builtin_return_address(0), relaxed,
		   relaxed);
	return true;
}

void filch__fault_arm(enum filch__fault_site s, uint64_t n, bool persistent)
{
	pthread_once(&env_once, arm_from_env);
	arm(s, n, persistent);
}

void filch__fault_reset(void)
{
	pthread_once(&env_once, arm_from_env);
	for (unsigned s = 0; s < FILCH__FAULT_NSITES; s++) {
		arm(s, 0, false);
		filch__store(&sites[s].calls, 0, relaxed);
		filch__store(&sites[s].fired, 0, relaxed);
		filch__store(&sites[s].pc, NULL, relaxed);
	}
}

uint64_t filch__fault_calls(enum filch__fault_site s)
{
	return filch__load(&sites[s].calls, relaxed);
}

uint64_t filch__fault_fired(enum filch__fault_site s)
{
	return filch__load(&sites[s].fired, relaxed);
}

void *filch__fault_first_pc(enum filch__fault_site s)
{
	return filch__load(&sites[s].pc, relaxed);
}
