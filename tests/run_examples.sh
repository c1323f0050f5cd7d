#!/bin/sh
# SPDX-License-Identifier: MIT
# run_examples.sh - TAP: runs each self-checking example program named in
# $CHECKED_EXAMPLES (paths under the build directory, set by the makefile
# fragments) and reports one test per program: it passes when the program
# checked its own output and exited 0. Each program's output follows its
# result as comment lines.
top_builddir=${top_builddir:-.}
set -- ${CHECKED_EXAMPLES:?no examples named}
echo "1..$#"
i=0
for prog in "$@"; do
	i=$((i + 1))
	out=$("$top_builddir/$prog" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $i - $prog"
	else
		echo "not ok $i - $prog (exit status $rc)"
	fi
	printf '%s\n' "$out" | tr '\r' '\n' | sed 's/^/# /'
done
