#!/bin/sh
# SPDX-License-Identifier: MIT
# test_filch_trace.sh - TAP: FILCH_TRACE traces tests/obs_workload, and
# scripts/filch-trace turns the trace into a summary (a lane per worker, 50
# tasks, steal matrix) and an SVG that parses as XML with a slice per task;
# a file that is not a trace fails cleanly. Skipped without python3.
srcdir=${srcdir:-.}
top_builddir=${top_builddir:-.}
tool=$srcdir/scripts/filch-trace
tmp=${TMPDIR:-/tmp}/filch_test_filch_trace.$$

echo "1..6"
if ! command -v python3 >/dev/null 2>&1; then
	for n in 1 2 3 4 5 6; do echo "ok $n # SKIP python3 is not installed"; done
	exit 0
fi
mkdir -p "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT

FILCH_TRACE=$tmp/t.json "$top_builddir/tests/obs_workload" 50
if [ -s "$tmp/t.json" ]; then
	echo "ok 1 - FILCH_TRACE wrote the trace of an unmodified program"
else
	echo "not ok 1 - FILCH_TRACE wrote no trace"
fi
if python3 "$tool" "$tmp/t.json" -o "$tmp/t.svg" >"$tmp/sum" 2>"$tmp/err"; then
	echo "ok 2 - filch-trace ran"
else
	echo "not ok 2 - filch-trace failed: $(cat "$tmp/err")"
fi
tasks=$(awk '$1 == "worker" {n += $3} END {print n + 0}' "$tmp/sum")
if [ "$tasks" = 50 ] && grep -q '^worker 1 ' "$tmp/sum"; then
	echo "ok 3 - the summary has both workers' lanes and the 50 tasks"
else
	echo "not ok 3 - summary: $tasks tasks in $(cat "$tmp/sum")"
fi
if grep -q '^steals (thief row, victim column):' "$tmp/sum" &&
	grep -q '^longest tasks' "$tmp/sum"; then
	echo "ok 4 - the summary lists the longest tasks and the steal matrix"
else
	echo "not ok 4 - summary sections missing"
fi
n=$(python3 -c '
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
print(sum(1 for e in r.iter() if e.get("class") == "task"))' "$tmp/t.svg" 2>&1)
if [ "$n" = 50 ]; then
	echo "ok 5 - the SVG parses and has one slice per task"
else
	echo "not ok 5 - SVG: $n"
fi
echo '{"traceEvents": 3}' >"$tmp/bad.json"
if python3 "$tool" "$tmp/bad.json" >/dev/null 2>"$tmp/err"; then
	echo "not ok 6 - a malformed trace was accepted"
elif grep -q '^filch-trace: ' "$tmp/err"; then
	echo "ok 6 - a malformed trace is refused with a message"
else
	echo "not ok 6 - a malformed trace crashed it: $(cat "$tmp/err")"
fi
