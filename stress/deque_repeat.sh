#!/bin/sh
# SPDX-License-Identifier: MIT
# deque_repeat.sh - runs a deque stress program many times and counts the
# runs that failed (non-zero exit: a loss or duplicate found, a sanitizer
# report, a crash).
#
#   deque_repeat.sh pass   RUNS PROGRAM [ARGS...]  every run must pass
#   deque_repeat.sh catch  RUNS PROGRAM [ARGS...]  a mutant: at least one
#                                                  run must catch it
#   deque_repeat.sh report RUNS PROGRAM [ARGS...]  a mutant: only count
#
# Prints each run's summary line (and the first line of any sanitizer
# report), then the count. Each run picks and prints its own seed, so a
# failure can be replayed with --seed.
set -u
if [ $# -lt 3 ]; then
	echo "usage: $0 pass|catch|report RUNS PROGRAM [ARGS...]" >&2
	exit 2
fi
mode=$1 runs=$2 prog=$3
shift 3
case $mode in
pass | catch | report) ;;
*)
	echo "usage: $0 pass|catch|report RUNS PROGRAM [ARGS...]" >&2
	exit 2
	;;
esac
log=$(mktemp) || exit 2
trap 'rm -f "$log"' EXIT
failed=0
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	"$prog" "$@" >"$log" 2>&1
	status=$?
	grep -E '^deque_stress:|^(==[0-9]+==)?ERROR: |^WARNING: ThreadSanitizer|runtime error' "$log" | head -2
	if [ "$status" -ne 0 ]; then
		failed=$((failed + 1))
		echo "  run $i: exit status $status"
	fi
done
name=$(basename "$prog")
if [ "$mode" = pass ]; then
	echo "deque_repeat: $name: $failed of $runs runs failed"
	[ "$failed" -eq 0 ]
else
	echo "deque_repeat: $name: caught in $failed of $runs runs"
	[ "$mode" = report ] || [ "$failed" -gt 0 ]
fi
