/* SPDX-License-Identifier: MIT */
/* header_alone_fj.c - filch/fj.h compiles alone, as C, with nothing before
 * it, and its macros expand without warnings. */
#include <filch/fj.h>

FILCH_FJ_FN2(long, sum, long, a, long, b)
{
	if (b == 0)
		return a;
	FILCH_SPAWN(sum, a, b - 1);
	return FILCH_SYNC(sum) + 1;
}

int main(void)
{
	long (*volatile fn)(filch_fj *, long, long) = sum;

	return fn && sizeof(struct filch_fj_frame) == 64 ? 0 : 1;
}
