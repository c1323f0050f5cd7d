#!/bin/sh
# SPDX-License-Identifier: MIT
# header_alone_tap.sh - reports as TAP that filch.h compiled alone as C and as
# C++, and filch/fj.h alone as C (tests/header_alone*.c*, built by make
# check), and that they run.
echo "1..3"
n=0
for prog in header_alone header_alone_cxx header_alone_fj; do
	n=$((n + 1))
	if "${top_builddir:-.}/tests/$prog"; then
		echo "ok $n - the header alone in $prog"
	else
		echo "not ok $n - the header alone in $prog"
	fi
done
