#!/bin/sh
# SPDX-License-Identifier: MIT
# park_verify.sh - checks stress/park.pml with spin: exhaustively on small
# configurations (no error allowed), then each mutant (an error required).
# Parking and shutdown: 2 workers, 1 foreign submitter. Spares: 1 primary,
# 1 spare, a blocking task (two waits, promises completed by a foreign
# thread) and a plain task queued at the start; with a foreign submitter
# (shut down at rest: QUIET); with a child that completes the last
# promise (CHILDP); 2 primaries and a spare (QUIET); 2 primaries each
# blocked in a task of its own and 2 spares (QUIET, HOLD). The QUIET
# configurations check TIDY too (no excess spare at rest). About 4
# minutes, 2 GB (HOLD: 42M states, 1.8 GB with a 2^24-slot hash table).
#   park_verify.sh SPIN MODEL WORKDIR
set -u
spin=$1 model=$2 dir=$3
cc=${CC:-cc}
mkdir -p "$dir" && cd "$dir" || exit 1
cp "$model" park.pml || exit 1

# $1: spin -D options, $2: pan's hash table size (-wN, no resizing) or
# none; prints the line with the error count; returns the number of errors
# (0..) or 255 when the model could not be run.
check() {
	"$spin" $1 -a park.pml >spin.log 2>&1 || { cat spin.log; return 255; }
	# COLLAPSE: exhaustive with compressed states; MEMLIM in MB.
	$cc -O2 -DSAFETY -DCOLLAPSE -DMEMLIM=4000 ${2:+-DNO_RESIZE} \
		-o pan pan.c >cc.log 2>&1 ||
		{ cat cc.log; return 255; }
	./pan -m1000000 ${2:-} >pan.log 2>&1
	if grep -q "reached -DMEMLIM" pan.log; then
		echo "  memory bound reached: the search was not exhaustive"
		return 255
	fi
	grep -E "^pan:1|errors:|states, stored|total actual|elapsed" pan.log |
		tr -s ' \t' ' ' | sed 's/^/  /'
	n=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log)
	return "${n:-255}"
}

status=0
spares="-DNW=1 -DNS=1 -DNSUB=0 -DPREQ=2 -DBLOCK=1 -DMAXSPAWN=1"
subspare="-DNW=1 -DNS=1 -DNSUB=1 -DPREQ=1 -DBLOCK=1 -DMAXSPAWN=1 -DQUIET=1 -DTIDY=1"
child="-DNW=1 -DNS=1 -DNSUB=0 -DPREQ=1 -DBLOCK=1 -DMAXSPAWN=0 -DCHILDP=1"
twospare="-DNW=2 -DNS=1 -DNSUB=0 -DPREQ=2 -DBLOCK=1 -DMAXSPAWN=1 -DQUIET=1 -DTIDY=1"
# Two workers blocked at once, two block_ends that each kick a spare.
twoblock="-DNW=2 -DNS=2 -DNSUB=0 -DPREQ=0 -DBLOCK=0 -DHOLD=2 -DNWAIT=1 -DMAXSPAWN=0 -DQUIET=1 -DTIDY=1"
for cfg in "-DNSUB=1 -DMAXSPAWN=0" "-DNSUB=1 -DMAXSPAWN=1" "$spares" \
	"$subspare" "$child" "$twospare" "$twoblock"; do
	echo "park.pml $cfg:"
	# twoblock: 42M states; a fixed hash table (2^24 slots, 128 MB)
	# keeps it near 2 GB
	if test "$cfg" = "$twoblock"; then check "$cfg" -w24; else check "$cfg"; fi
	rc=$?
	if test $rc -ne 0; then
		echo "verify-park: FAILED ($cfg); trail: $dir/park.pml.trail"
		status=1
	fi
done
for m in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do
	case $m in
	[1-4]) cfg="-DNSUB=1 -DMAXSPAWN=1" ;;
	[5-8]) cfg=$spares ;;
	9|11|12) cfg=$subspare ;;
	10) cfg=$child ;;
	13|14) cfg=$twoblock ;;
	esac
	echo "park.pml mutant $m (must fail):"
	check "-DMUTANT=$m $cfg"
	rc=$?
	if test $rc -eq 0 || test $rc -eq 255; then
		echo "verify-park: mutant $m was not caught"
		status=1
	fi
done
test $status -eq 0 && echo "verify-park: the parking model holds; every mutant caught"
exit $status
