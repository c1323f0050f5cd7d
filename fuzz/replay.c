/* SPDX-License-Identifier: MIT */
/*
 * replay.c - runs every input of fuzz/corpus/ (or of the directories and
 * files given as arguments) through the API fuzz target, as TAP: one test
 * per input. Built by make check with the ordinary compiler, so the corpus
 * is exercised in every build (TSan, ASan, aarch64), not only by libFuzzer.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api_fuzz.h"
#include "tap.h"

/* Reads path whole; NULL on error. */
static uint8_t *slurp(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	uint8_t *buf = NULL;

	if (fp && fstat(fileno(fp), &st) == 0 &&
	    (buf = malloc((size_t)st.st_size + 1)) &&
	    fread(buf, 1, (size_t)st.st_size, fp) == (size_t)st.st_size) {
		*size = (size_t)st.st_size;
	} else {
		free(buf);
		buf = NULL;
	}
	if (fp)
		fclose(fp);
	return buf;
}

static void replay_file(const char *path, const char *name)
{
	size_t size = 0;
	uint8_t *data = slurp(path, &size);

	if (!data) {
		ok(0, "%s: cannot read it", name);
		return;
	}
	/* A violated invariant aborts the whole run: the TAP output then
	 * names the input that was running. */
	diag("replaying %s (%zu bytes)", name, size);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	ok(1, "%s: every invariant held", name);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, by_name);
	char path[4096];

	if (!ok(n >= 0, "open the corpus %s", dir))
		return;
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir,
				 names[i]->d_name);
			replay_file(path, names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	const char *srcdir = getenv("srcdir");
	char corpus[4096];
	struct stat st;

	tap_plan(0);
	if (argc < 2) {
		snprintf(corpus, sizeof(corpus), "%s/fuzz/corpus",
			 srcdir ? srcdir : ".");
		replay_dir(corpus);
	}
	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			replay_dir(argv[i]);
		else
			replay_file(argv[i], argv[i]);
	}
	return tap_done();
}
