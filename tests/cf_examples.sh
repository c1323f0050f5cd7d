#!/bin/sh
# SPDX-License-Identifier: MIT
# cf_examples.sh - TAP: runs each seed-pattern example of docs/examples (the
# programs named in $CF_EXAMPLES, or all of them) and reports one test per
# program: it passes when the program checked its own output and exited 0.
# Each program's output follows its result as comment lines.
top_builddir=${top_builddir:-.}
examples=${CF_EXAMPLES:-"map_ordered submit_collect errors_separated callbacks
	as_completed_progress first_completed map_timeout graceful_shutdown
	cancelling_shutdown retry_backoff pipeline dependent_cancel
	circuit_breaker readme"}
set -- $examples
echo "1..$#"
i=0
for name in "$@"; do
	i=$((i + 1))
	out=$("$top_builddir/docs/examples/$name" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $i - docs/examples/$name"
	else
		echo "not ok $i - docs/examples/$name (exit status $rc)"
	fi
	printf '%s\n' "$out" | tr '\r' '\n' | sed 's/^/# /'
done
