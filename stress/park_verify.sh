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
# configurations check TIDY too (no excess spare at rest). Fork-join
# frames (FJ): 2 workers, worker 0 holding a root that shares frames on
# request, alone and with a foreign submitter (30M states, a minute).
# About 5 minutes, 2 GB (HOLD: 42M states, 1.8 GB with a 2^24-slot hash
# table). The CI form (FORM ci, see spin_check.sh) searches each
# configuration partially (bitstate, a few million states each) and every
# mutant as the full form does.
#   park_verify.sh SPIN MODEL WORKDIR [FORM]
. "$(dirname "$0")/spin_check.sh"
spin_setup "$1" "$2" "$3" park.pml "${4:-full}"

spares="-DNW=1 -DNS=1 -DNSUB=0 -DPREQ=2 -DBLOCK=1 -DMAXSPAWN=1"
subspare="-DNW=1 -DNS=1 -DNSUB=1 -DPREQ=1 -DBLOCK=1 -DMAXSPAWN=1 -DQUIET=1 -DTIDY=1"
child="-DNW=1 -DNS=1 -DNSUB=0 -DPREQ=1 -DBLOCK=1 -DMAXSPAWN=0 -DCHILDP=1"
twospare="-DNW=2 -DNS=1 -DNSUB=0 -DPREQ=2 -DBLOCK=1 -DMAXSPAWN=1 -DQUIET=1 -DTIDY=1"
# Two workers blocked at once, two block_ends that each kick a spare.
twoblock="-DNW=2 -DNS=2 -DNSUB=0 -DPREQ=0 -DBLOCK=0 -DHOLD=2 -DNWAIT=1 -DMAXSPAWN=0 -DQUIET=1 -DTIDY=1"
fj="-DFJ=1 -DNSUB=0 -DMAXSPAWN=0"
fjsub="-DFJ=1 -DNSUB=1 -DMAXSPAWN=0"
set -- "-DNSUB=1 -DMAXSPAWN=0" "-DNSUB=1 -DMAXSPAWN=1" "$spares" "$subspare" \
	"$child" "$twospare" "$fj" "$fjsub"
if test "$form" = ci; then
	check_configs verify-park bitstate "$@" "$twoblock"
else
	check_configs verify-park "" "$@"
	# twoblock: 42M states; a fixed hash table (2^24 slots, 128 MB)
	# keeps it near 2 GB
	check_configs verify-park -w24 "$twoblock"
fi
for m in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18; do
	case $m in
	[1-4]) cfg="-DNSUB=1 -DMAXSPAWN=1" ;;
	[5-8]) cfg=$spares ;;
	9|11|12) cfg=$subspare ;;
	10) cfg=$child ;;
	13|14) cfg=$twoblock ;;
	1[5-8]) cfg=$fj ;;
	esac
	check_mutant verify-park $m "$cfg"
done
spin_done verify-park "the parking model holds"
