#!/bin/sh
# SPDX-License-Identifier: MIT
# header_alone_tap.sh - reports as TAP that filch.h compiled alone as C and as
# C++ (tests/header_alone*.c*, built by make check) and that both run.
echo "1..2"
n=0
for prog in header_alone header_alone_cxx; do
	n=$((n + 1))
	if "${top_builddir:-.}/tests/$prog"; then
		echo "ok $n - filch.h alone in $prog"
	else
		echo "not ok $n - filch.h alone in $prog"
	fi
done
