/* SPDX-License-Identifier: MIT */
/*
 * procpool_module.c - a shared library that test_procpool loads with
 * dlopen: a process task of another module than the program (with spawn
 * it crosses as this library's path and an offset in it).
 */
#include <stddef.h>
#include <stdlib.h>

int procpool_module_upper(const void *arg, size_t len, void **out,
			  size_t *out_len);

/* Answers its argument in upper case (ASCII). */
int procpool_module_upper(const void *arg, size_t len, void **out,
			  size_t *out_len)
{
	const char *a = arg;
	char *p = malloc(len ? len : 1);

	if (!p)
		return 12; /* ENOMEM */
	for (size_t i = 0; i < len; i++)
		p[i] = a[i] >= 'a' && a[i] <= 'z' ? (char)(a[i] - 32) : a[i];
	*out = p;
	*out_len = len;
	return 0;
}
