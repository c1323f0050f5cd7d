/* SPDX-License-Identifier: MIT */
/* header_alone_fj.c - filch/fj.h compiles alone, as C, with nothing before
 * it, and its macros expand without warnings, whatever names the user's
 * function and arguments have (here the one-letter names the generated
 * code must not collide with). */
#include <filch/fj.h>

FILCH_FJ_FN2(long, f, long, p, long, r)
{
	if (r == 0)
		return p;
	FILCH_SPAWN(f, p, r - 1);
	return FILCH_SYNC(f) + 1;
}

int main(void)
{
	long (*volatile fn)(filch_fj *, long, long) = f;

	return fn && sizeof(struct filch_fj_frame) == 64 ? 0 : 1;
}
