/* SPDX-License-Identifier: MIT */
/* header_alone.c - filch.h compiles alone, as C, with nothing before it. */
#include <filch.h>

int main(void)
{
	return filch_version() == FILCH_VERSION_HEX ? 0 : 1;
}
