#!/bin/sh
# SPDX-License-Identifier: MIT
# bench_placement.sh - filch-bench places the submitter and the workers of
# every implementation alike (--placement split|same|free, docs/bench.md):
# each mode runs every linked implementation at a tiny size and names itself
# in the header; with FB_PLACEMENT_TRACE each placed thread (workers,
# fork-join teammates, deque's thief, the submitter) reports the CPUs the
# kernel lets it run on, which must be those the mode gives it; and the
# shutdown bench compares filch only with pools that join their threads.
# TAP; run by `make bench-check` (filch-bench is built on demand only).
set -u
bench=${top_builddir:-.}/bench/filch-bench
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_placement.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
# result STATUS DESCRIPTION [FILE]: one TAP line; when STATUS is not 0, the
# end of FILE (the run's output) as diagnostics.
result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
		return
	fi
	echo "not ok $n - $2"
	failed=$((failed + 1))
	[ $# -lt 3 ] || tail -20 "$3" | sed 's/^/# /'
}

# This process's CPUs, one per line, in order.
awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status | tr ',' '\n' |
	awk -F- '{ if (NF == 2) for (i = $1; i <= $2; i++) print i; else print $1 }' \
		>"$tmp/cpus"
c0=$(sed -n 1p "$tmp/cpus")
c1=$(sed -n 2p "$tmp/cpus")
all=$(paste -sd, "$tmp/cpus")
if [ -z "$c1" ]; then
	echo "1..0 # SKIP needs 2 CPUs"
	exit 0
fi
if [ ! -x "$bench" ]; then
	echo "1..0 # SKIP $bench not built (make bench/filch-bench)"
	exit 0
fi

tiny="--quick --reps 1 --workers 1,2 --only fib,submit,map,shutdown"

# $1 = expected CPU list, $2 = role, $3 = trace file: every line of that
# role names exactly those CPUs, and there is at least one.
placed_on() {
	grep -q "placement: $2 [0-9]* on CPUs" "$3" &&
		! grep "placement: $2 [0-9]* on CPUs" "$3" |
			grep -v "on CPUs $1\$" >/dev/null
}

"$bench" $tiny >"$tmp/default" 2>&1
result $? "the tiny suite runs with the default placement" "$tmp/default"
grep -q "^placement split: submitter pinned to CPU $c0;" "$tmp/default"
result $? "the header says the default is split, submitter on CPU $c0"

for mode in split same free; do
	out=$tmp/$mode
	"$bench" $tiny --placement "$mode" >"$out" 2>&1
	result $? "--placement $mode: every implementation runs" "$out"
	grep -q "^placement $mode: " "$out"
	result $? "--placement $mode: the header names it"

	case $mode in
	split) worker=$c1 submitter=$c0 teammate=$c1 ;;
	same) worker=$c0 submitter=$c0 teammate=$c1 ;;
	free) worker=$all submitter=$all teammate=$all ;;
	esac
	# Every implementation with threads of its own, on the bench where
	# its pool or team starts: one worker, then a team of two.
	impls=$(awk '$2 == "1" { print $1 }' "$out" | sort -u)
	for impl in $impls; do
		# lace: Lace starts its own threads, with no hook to place
		# them (docs/bench.md).
		case $impl in
		seq | filch_item | lace) continue ;;
		esac
		# filch_fj runs only the fork-join benches.
		only=submit
		[ "$impl" = filch_fj ] && only=fib
		trace=$tmp/$mode.$impl
		FB_PLACEMENT_TRACE=1 "$bench" --placement "$mode" --quick --reps 1 \
			--workers 1 \
			--only "$only" --impls "$impl" >"$trace" 2>&1
		placed_on "$worker" worker "$trace" &&
			placed_on "$submitter" submitter "$trace"
		result $? "--placement $mode: $impl's worker on CPUs $worker, submitter on $submitter" \
			"$trace"
	done
	for impl in tbb gomp iomp; do
		echo "$impls" | grep -qx "$impl" || continue
		trace=$tmp/$mode.$impl.team
		FB_PLACEMENT_TRACE=1 "$bench" --placement "$mode" --quick --reps 1 \
			--workers 2 \
			--only fib --impls "$impl" >"$trace" 2>&1
		placed_on "$teammate" teammate "$trace"
		result $? "--placement $mode: $impl's fork-join teammate on CPUs $teammate" \
			"$trace"
	done
	trace=$tmp/$mode.deque
	FB_PLACEMENT_TRACE=1 "$bench" --placement "$mode" --quick --reps 1 \
		--only deque --impls filch >"$trace" 2>&1
	placed_on "$worker" worker "$trace"
	result $? "--placement $mode: deque's thief on CPUs $worker" "$trace"
done

"$bench" --placement apart --only fib >"$tmp/bad" 2>&1
[ $? -eq 2 ] && grep -q "placement takes same, split or free" "$tmp/bad"
result $? "an unknown --placement fails with status 2 and says why"

# Shutdown: filch and naive join their threads and leave none alive; TBB
# and GLib park theirs (TBB's stay alive); filch is compared only with the
# pools that join.
"$bench" --tsv --quick --reps 1 --workers 1,2 --only shutdown \
	>"$tmp/shutdown" 2>&1
awk -F'\t' '($2 == "filch" || $2 == "naive") &&
	(($4 == "threads_left" && $5 != 0) || ($4 == "joins" && $5 != 1)) {
	bad = 1 } END { exit bad }' "$tmp/shutdown"
result $? "shutdown: filch and naive join and leave no thread alive"
if grep -q "^shutdown	tbb	" "$tmp/shutdown"; then
	awk -F'\t' '$2 == "tbb" && (($4 == "threads_left" && $5 == 0) ||
		($4 == "joins" && $5 != 0)) { bad = 1 } END { exit bad }' \
		"$tmp/shutdown"
	result $? "shutdown: tbb does not join, its threads stay alive"
fi
awk -F'\t' '$4 == "joins" && $5 != 1 { print $2 }' "$tmp/shutdown" |
	sort -u >"$tmp/parkers"
compared=0
while read -r impl; do
	grep -q "vs_$impl	" "$tmp/shutdown" && compared=1
done <"$tmp/parkers"
result $compared "shutdown: filch is not compared with $(paste -sd, "$tmp/parkers" | sed 's/^$/no pool/')"

echo "1..$n"
[ $failed -eq 0 ]
