/* SPDX-License-Identifier: MIT */
/*
 * tagged_results.c - futures that carry their input as a tag and own their
 * heap results (Python: {executor.submit(shout, w): w for w in words},
 * then as_completed; the results are freed with the futures, even the ones
 * nobody reads, and one is taken out to outlive them).
 */
#include <ctype.h>
#include <filch.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"

#define NWORDS 4

/* A heap copy of the word, shouted. */
static int shout(void *arg, void **result)
{
	const char *word = arg;
	size_t n = strlen(word);
	char *s = malloc(n + 2);

	if (!s)
		return ENOMEM;
	for (size_t i = 0; i < n; i++)
		s[i] = (char)toupper((unsigned char)word[i]);
	memcpy(s + n, "!", 2);
	*result = s;
	return 0;
}

/* The futures' result destructor: frees and counts. */
static void free_result(void *result, void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
	free(result);
}

int main(void)
{
	static const char *const words[NWORDS] = { "alpha", "beta", "gamma",
						   "delta" };
	static const char *const want[NWORDS] = { "alpha -> ALPHA!",
						  "beta -> BETA!",
						  "gamma -> GAMMA!",
						  "delta -> DELTA!" };
	struct filch_executor_opts opts = { .workers = 2 };
	atomic_int freed = 0;
	struct filch_submit_opts so = { .result_dtor = free_result,
					.dtor_arg = &freed };
	filch_future *fs[NWORDS];
	const char *shouted[NWORDS] = { 0 };
	filch_as_completed *it;
	filch_executor *ex;

	if (filch_executor_create(&ex, &opts) != 0)
		return 1;
	for (int i = 0; i < NWORDS; i++) {
		so.tag = (void *)&words[i]; /* the input this future is for */
		if (filch_submit_ex(ex, shout, (void *)words[i], &so, &fs[i]))
			return 1;
	}
	if (filch_as_completed_begin(&it, fs, NWORDS, FILCH_FOREVER) != 0)
		return 1;
	for (filch_future *f; filch_as_completed_next(it, &f) == 0;) {
		const char *const *word = filch_future_tag(f);
		void *r = NULL;

		/* Borrowed: valid while we hold the future. */
		expect_true(filch_future_result(f, 0, &r) == 0, "task succeeds");
		shouted[word - words] = r;
	}
	filch_as_completed_end(it);
	for (int i = 0; i < NWORDS; i++)
		expect_line(want[i], "%s -> %s", words[i], shouted[i]);

	/* Keep the first result beyond its future: take it. */
	void *kept = NULL;
	expect_true(filch_future_take_result(fs[0], 0, &kept) == 0,
		    "the first take succeeds");
	for (int i = 0; i < NWORDS; i++)
		filch_future_release(fs[i]); /* frees the results not taken */
	expect_line("freed with their futures: 3", "freed with their futures: %d",
		    atomic_load(&freed));
	expect_line("kept: ALPHA!", "kept: %s", (char *)kept);
	free(kept);
	filch_executor_destroy(ex);
	return expect_status();
}
