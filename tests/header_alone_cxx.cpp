// SPDX-License-Identifier: MIT
// header_alone_cxx.cpp - filch.h compiles alone as C++ and links from C++.
#include <filch.h>

int main()
{
	filch_executor_opts opts = {};
	opts.workers = 1;
	(void)opts;
	return filch_version() == FILCH_VERSION_HEX ? 0 : 1;
}
