/* SPDX-License-Identifier: MIT */
/* version.c - the version of the linked library. */
#include "config.h"

#include <filch.h>

unsigned filch_version(void)
{
	return FILCH_VERSION_HEX;
}

const char *filch_version_string(void)
{
	return FILCH_VERSION_STRING;
}
