#!/bin/sh
# SPDX-License-Identifier: MIT
# trace_verify.sh - checks stress/trace.pml with spin: exhaustively (no
# error allowed), then each mutant (an error required). Seconds. The full
# form adds a third writer, and a third cycle with two writers.
#   trace_verify.sh SPIN MODEL WORKDIR [FORM]
. "$(dirname "$0")/spin_check.sh"
spin_setup "$1" "$2" "$3" trace.pml "${4:-full}"

# Writers sharing the ring (the foreign threads'), and one writer over
# more cycles (a worker's ring).
check_configs verify-trace "" "-DNW=2 -DNEV=2 -DNCYCLE=2" \
	"-DNW=1 -DNEV=3 -DNCYCLE=3"
test "$form" = full && check_configs verify-trace "" \
	"-DNW=3 -DNEV=2 -DNCYCLE=2" "-DNW=2 -DNEV=3 -DNCYCLE=3 -DNRING=3"
for m in 1 2 3 4 5; do
	check_mutant verify-trace $m ""
done
spin_done verify-trace "the trace stop model holds"
