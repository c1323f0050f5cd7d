#!/bin/sh
# SPDX-License-Identifier: MIT
# frame_verify.sh - checks stress/frame.pml with spin: exhaustively (no
# error allowed), then each mutant (an error required). Seconds, in both
# forms (FORM: full or ci, see spin_check.sh).
#   frame_verify.sh SPIN MODEL WORKDIR [FORM]
. "$(dirname "$0")/spin_check.sh"
spin_setup "$1" "$2" "$3" frame.pml "${4:-full}"

check_configs verify-frame "" "-DNTASK=3 -DNINSPECT=2" "-DNTASK=2 -DNINSPECT=3"
for m in 1 2 3 4; do
	check_mutant verify-frame $m ""
done
spin_done verify-frame "the frame model holds"
