/* SPDX-License-Identifier: MIT */
/*
 * helper_main.c - main() of the helper processes (remote.h): filch-bench-iomp
 * and filch-bench-libuv. Each links exactly one implementation array.
 *
 *   helper --list                       one "bench impl" line per bench
 *   helper --run BENCH WORKERS PLACEMENT [--quick]
 *                                       then one answer per "run" line
 *
 * PLACEMENT is the driver's fb_placement_arg(). The helper sets its
 * implementation up before it pins its own thread: a runtime that reads
 * the process's CPUs when it starts (libomp) sees them all, as it does in
 * filch-bench.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb.h"
#include "placement.h"

/* The array of the implementation file this helper was linked with; the
 * other one is absent (a weak reference resolves to NULL). */
extern const struct fb_impl fb_impls_iomp[] __attribute__((weak));
extern const struct fb_impl fb_impls_libuv[] __attribute__((weak));

static const struct fb_impl *linked_impls(void)
{
	if (fb_impls_iomp)
		return fb_impls_iomp;
	if (fb_impls_libuv)
		return fb_impls_libuv;
	fprintf(stderr, "filch-bench helper: no implementation linked\n");
	exit(2);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: helper --list | "
		"--run BENCH WORKERS PLACEMENT [--quick]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const struct fb_impl *impls = linked_impls(), *impl = NULL;
	struct fb_params params;
	char line[64];
	void *state = NULL;
	unsigned workers;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (const struct fb_impl *i = impls; i->bench; i++)
			printf("%s %s\n", i->bench, i->impl);
		return 0;
	}
	if (argc < 5 || strcmp(argv[1], "--run") != 0)
		return usage();
	for (const struct fb_impl *i = impls; i->bench; i++)
		if (strcmp(i->bench, argv[2]) == 0)
			impl = i;
	if (!impl)
		return usage();
	workers = (unsigned)strtoul(argv[3], NULL, 10);
	fb_params_init(&params, argc > 5 && strcmp(argv[5], "--quick") == 0);
	fb_set_current(impl->bench, impl->impl);
	if (impl->setup)
		FB_CHECK_RC(impl->setup(workers, &params, &state));
	if (fb_placement_init_arg(argv[4]) != 0)
		return usage();
	while (fgets(line, sizeof(line), stdin)) {
		struct fb_sample s;

		if (strcmp(line, "run\n") != 0)
			return usage();
		memset(&s, 0, sizeof(s));
		impl->run(state, &params, &s);
		fb_settle();
		printf("%lld %.17g %.17g %.17g\n", (long long)s.ns, s.instr,
		       s.value[0], s.value[1]);
		fflush(stdout);
	}
	if (impl->teardown)
		impl->teardown(state);
	return 0;
}
