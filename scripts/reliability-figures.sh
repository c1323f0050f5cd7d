#!/bin/sh
# SPDX-License-Identifier: MIT
# reliability-figures.sh - measures the figures of docs/reliability.md and
# rewrites its generated block (between the "figures:begin" and
# "figures:end" markers), each figure with the command that produced it.
#
#   scripts/reliability-figures.sh [-s SECONDS] [-f FUZZ_SECONDS] [-x]
#
#   -s  seconds for each stress run (default 20)
#   -f  seconds of fuzzing (default 60)
#   -x  skip the aarch64 cross build and qemu run (slow: about 10 min)
#   -o SECTIONS  measure only these (space-separated) of: faults shutdown
#       deque verify fuzz perturb portability; the others keep the rows of
#       the last run made with the same logs directory
#
# Builds in $FIGURES_BUILD-{plain,fi,tsan,perturb,clang,aarch64} (default
# build-figures-*), configuring each once; logs go to $FIGURES_BUILD-logs/.
# A figure whose program or target does not exist yet is reported as such.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
prefix=${FIGURES_BUILD:-$top/build-figures}
seconds=20
fuzz_seconds=60
cross=yes
only="faults shutdown deque verify fuzz perturb portability"
sections=$only
while getopts s:f:xo: opt; do
	case $opt in
	s) seconds=$OPTARG ;;
	f) fuzz_seconds=$OPTARG ;;
	x) cross=no ;;
	o) only=$OPTARG ;;
	*) echo "usage: $0 [-s SECONDS] [-f FUZZ_SECONDS] [-x] [-o SECTIONS]" >&2
	   exit 2 ;;
	esac
done
logs=$prefix-logs
mkdir -p "$logs"
fi_dir=$prefix-fi plain=$prefix-plain tsan=$prefix-tsan pert=$prefix-perturb
jobs=$(nproc)

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$top/stress/tsan.supp"

say() { printf 'reliability-figures: %s\n' "$*" >&2; }

# configure_dir NAME CONFIGURE_ARGS... : $prefix-NAME, configured once
# (configure takes CC=... as an argument too).
configure_dir() {
	name=$1
	shift
	mkdir -p "$prefix-$name"
	[ -f "$prefix-$name/config.status" ] && return 0
	say "configuring $prefix-$name: $*"
	(cd "$prefix-$name" && "$top/configure" --enable-Werror "$@" \
		>"$logs/configure-$name.log" 2>&1) ||
		say "configure failed (see $logs/configure-$name.log)"
}

# run NAME DIR COMMAND... : runs COMMAND in DIR, logs it as NAME; prints
# nothing; the status is kept in $logs/NAME.rc.
run() {
	name=$1 dir=$2
	shift 2
	say "$name: $*"
	(cd "$dir" && "$@") >"$logs/$name.log" 2>&1
	echo $? >"$logs/$name.rc"
}

# row FIGURE VALUE COMMAND : one line of the table.
# want SECTION: true when SECTION is to be measured; it then starts the
# section's own rows file.
want() {
	case " $only " in *" $1 "*) ;; *) return 1 ;; esac
	rows=$logs/rows-$1.md
	: >"$rows"
}

row() {
	printf '| %s | %s | `%s` |\n' "$1" "$2" "$3" | sed "s|$top/||g" >>"$rows"
}

status_of() { cat "$logs/$1.rc" 2>/dev/null || echo "?"; }
passfail() { [ "$(status_of "$1")" = 0 ] && echo "pass" || echo "FAIL (status $(status_of "$1"), $logs/$1.log)"; }

# --- fault injection and the misuse table (ASan + fault injection) --------
if want faults; then
configure_dir fi --enable-fault-injection --enable-sanitizer=address,undefined
make -C "$fi_dir" -j"$jobs" tests/test_faults tests/test_badinput \
	>"$logs/build-fi-tests.log" 2>&1
run faults "$fi_dir" ./tests/test_faults
for site in alloc thread futex; do
	for mode in one-shot persistent; do
		line=$(grep "^ok .* $site faults ($mode)\|^not ok .* $site faults ($mode)" \
			"$logs/faults.log")
		[ -n "$line" ] || continue
		row "fault injection: $site ($mode)" \
			"$(echo "$line" | sed 's/^\(not \)\{0,1\}ok [0-9]* - [a-z]* faults ([a-z-]*): //'); $(echo "$line" | grep -q '^ok' && echo all passed || echo FAILED)" \
			"cd $(basename "$fi_dir") && ./tests/test_faults"
	done
done
# Which allocation call sites of runtime/ the walk reached (addr2line).
grep -n 'filch__malloc(\|filch__calloc(\|filch__aligned_alloc(' "$top"/runtime/*.c |
	grep -v 'static inline' | sed "s|^$top/||; s|:\([0-9]*\):.*|:\1|" |
	sort -u >"$logs/alloc-sites.txt"
grep '^# alloc fault handled at' "$logs/faults.log" | sed 's/.* at //' |
	while IFS=+ read -r obj off; do
		addr2line -f -i -e "$fi_dir/${obj#./}" "$off" | paste - - | sed -n 2p |
			sed "s|.*[ \t]\(/[^ ]*\)\(:[0-9]*\).*|\1\2|; s|^.*/runtime/|runtime/|"
	done | sort -u >"$logs/alloc-reached.txt"
total=$(wc -l <"$logs/alloc-sites.txt")
reached=$(grep -c -x -F -f "$logs/alloc-sites.txt" "$logs/alloc-reached.txt")
missed=$(grep -v -x -F -f "$logs/alloc-reached.txt" "$logs/alloc-sites.txt" | tr '\n' ' ')
row "allocation call sites in runtime/ that took a fault" \
	"$reached of $total${missed:+ (not reached: $missed)}" \
	"grep filch__*alloc runtime/*.c; addr2line on test_faults' sites"

# The same walk under ThreadSanitizer: races on the error paths.
configure_dir fi-tsan --enable-fault-injection --enable-sanitizer=thread
make -C "$prefix-fi-tsan" -j"$jobs" tests/test_faults >"$logs/build-fi-tsan.log" 2>&1
run faults-tsan "$prefix-fi-tsan" ./tests/test_faults
row "fault injection under TSan (every site and mode)" \
	"$(grep -c '^ok' "$logs/faults-tsan.log") of $(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$logs/faults-tsan.log") walks passed; $(passfail faults-tsan)" \
	"cd $(basename "$prefix-fi-tsan") && ./tests/test_faults"

run badinput "$fi_dir" ./tests/test_badinput
pass=$(grep -c '^ok' "$logs/badinput.log")
plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$logs/badinput.log")
doc_rows=$(sed -n '/^## Misuse and what filch does/,/^## /p' "$top/docs/api.md" |
	grep -c '^| [0-9]')
row "misuse table rows (docs/api.md) / TAP tests passed under ASan+LSan" \
	"$doc_rows rows / $pass of ${plan:-?}" "cd $(basename "$fi_dir") && ./tests/test_badinput"

fi

# --- shutdown race: native, TSan, perturbed -------------------------------
if want shutdown; then
configure_dir plain
make -C "$plain" -j"$jobs" stress/shutdown_race >"$logs/build-plain-tools.log" 2>&1
run shutdown-native "$plain" ./stress/shutdown_race -s "$seconds" -r 10000
row "shutdown races (native)" \
	"$(grep -o '[0-9]* rounds, .*waits' "$logs/shutdown-native.log" | head -n 1); $(passfail shutdown-native)" \
	"./stress/shutdown_race -s $seconds -r 10000"

configure_dir tsan --enable-sanitizer=thread
make -C "$tsan" -j"$jobs" stress/shutdown_race >"$logs/build-tsan.log" 2>&1
run shutdown-tsan "$tsan" ./stress/shutdown_race -s "$seconds"
row "shutdown races (TSan)" \
	"$(grep -o '[0-9]* rounds, [0-9]* futures' "$logs/shutdown-tsan.log" | head -n 1); $(passfail shutdown-tsan)" \
	"./stress/shutdown_race -s $seconds (TSan build)"

fi

# --- deque: exact-once accounting under TSan, repeated natively and ASan --
if want deque; then
configure_dir tsan --enable-sanitizer=thread
configure_dir fi --enable-fault-injection --enable-sanitizer=address,undefined
make -C "$tsan" -j"$jobs" stress/deque_stress >"$logs/build-tsan-deque.log" 2>&1
run deque-tsan "$tsan" ./stress/deque_stress --seconds "$seconds" --thieves 3
row "deque items moved / stolen under TSan, exact-once" \
	"$(sed -n 's/.*rounds=\([0-9]*\) items=\([0-9]*\) pops=\([0-9]*\) steals=\([0-9]*\).*lost=\([0-9]*\) duplicated=\([0-9]*\).*: \([A-Z]*\)$/\2 items (\3 popped, \4 stolen) in \1 rounds, lost \5, duplicated \6: \7/p' "$logs/deque-tsan.log")" \
	"./stress/deque_stress --seconds $seconds --thieves 3 (TSan build)"
make -C "$fi_dir" stress/deque_stress >>"$logs/build-fi-tests.log" 2>&1
asan_runs=10
run deque-asan "$fi_dir" sh -c "n=0; for i in \$(seq $asan_runs); do ./stress/deque_stress --seconds 0 --items 2000000 --thieves 2 || exit 1; n=\$((n+1)); done"
row "deque stress under ASan, fresh processes of 2M items" \
	"$(grep -c ': PASS$' "$logs/deque-asan.log") of $asan_runs passed" \
	"./stress/deque_stress --seconds 0 --items 2000000 --thieves 2 (ASan build, $asan_runs times)"

fi

# --- models: Relacy (deque) and spin (parking) ----------------------------
if want verify; then
configure_dir plain
run verify "$plain" make verify
# One row per (mutant, form): its checks, schedules, and what caught it.
grep '^deque_model: .* after [0-9]* schedules' "$logs/verify.log" | awk '
	{
		split($2, m, "="); split($3, f, "=");
		key = m[2] " " f[2]; n = $(NF - 1);
		if (!(key in checks)) order[++keys] = key;
		checks[key]++; total[key] += n;
		if ($0 ~ /ERROR FOUND/) {
			caught[key]++;
			if (!(key in first) || n < first[key]) first[key] = n;
		}
	}
	END {
		name[0] = "the deque"; name[1] = "mutant 1: no seq_cst in take";
		name[2] = "mutant 2: no array reload after growth";
		name[3] = "mutant 3: slot read after the CAS";
		for (i = 1; i <= keys; i++) {
			split(order[i], k, " ");
			if (k[1] == 0)
				v = "no error in " checks[order[i]] " checks, " total[order[i]] " schedules";
			else
				v = "caught by " caught[order[i]] " of " checks[order[i]] " checks, first after " first[order[i]] " schedules";
			printf "%s (%s form)\t%s\n", name[k[1]], k[2], v;
		}
	}' | while IFS='	' read -r what value; do
	row "Relacy model: $what" "$value" "make verify (stress/deque_model)"
done
grep '^deque_repeat: ' "$logs/verify.log" | while read -r line; do
	row "native deque stress against a mutant" "${line#deque_repeat: }" \
		"make verify (stress/deque_stress_mN, 8 one-second runs)"
done
grep '^[a-z_]*_model: ' "$logs/verify.log" | grep -v '^deque_model' |
	while read -r line; do
		row "model: ${line%%:*}" "${line#*: }" "make verify"
	done
if grep -qi 'spin\|pan' "$logs/verify.log"; then
	grep -i '^verify-park\|errors: \|states, stored' "$logs/verify.log" | head -n 6 |
		while read -r line; do row "spin model of parking" "$line" "make verify"; done
fi
row "make verify" "$(passfail verify)" "make verify"

fi

# --- the API fuzzer --------------------------------------------------------
if want fuzz; then
configure_dir plain
make -C "$plain" -j"$jobs" tests/test_fuzz_corpus >"$logs/build-plain-fuzz.log" 2>&1
run fuzz "$plain" make fuzz FUZZ_SECONDS="$fuzz_seconds"
row "API fuzzer (libFuzzer + ASan + UBSan)" \
	"$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' "$logs/fuzz.log"), $(grep 'DONE\|INITED' "$logs/fuzz.log" | tail -n 1 | grep -o 'cov: [0-9]* ft: [0-9]*'); $(passfail fuzz)" \
	"make fuzz FUZZ_SECONDS=$fuzz_seconds"
run corpus "$plain" env srcdir="$top" ./tests/test_fuzz_corpus
row "fuzz corpus replayed by make check" \
	"$(ls "$top/fuzz/corpus" | wc -l) inputs; $(passfail corpus)" "./tests/test_fuzz_corpus"

fi

# --- schedule perturbation ------------------------------------------------
if want perturb; then
configure_dir perturb --enable-perturb
for prog in shutdown_race sched_stress future_stress cf_stress deque_stress; do
	if ! make -C "$pert" -j"$jobs" "stress/$prog" >>"$logs/build-perturb.log" 2>&1; then
		row "perturbed: $prog" "not built" "make stress/$prog (perturb build)"
		continue
	fi
	case $prog in
	shutdown_race) args="-s $seconds" ;;
	deque_stress) args="--seconds $seconds --thieves 3" ;;
	*) args="--seconds $seconds" ;;
	esac
	run "perturb-$prog" "$pert" "./stress/$prog" $args
	seed=$(sed -n 's/.*FILCH_PERTURB_SEED=\([0-9]*\).*/\1/p' "$logs/perturb-$prog.log" | head -n 1)
	size=$(grep -o '[0-9]* rounds[,; ]\|rounds=[0-9]*\|items=[0-9]*\|steals=[0-9]*' \
		"$logs/perturb-$prog.log" | head -n 3 | tr '\n' ' ' | sed 's/[,; ]*$//; s/, / /g')
	row "perturbed: $prog" "$(passfail "perturb-$prog")${size:+ ($size)}, seed ${seed:-none}" \
		"FILCH_PERTURB_SEED=${seed:-?} ./stress/$prog $args (--enable-perturb)"
done

fi

# --- portability -----------------------------------------------------------
if want portability; then
clang_dir=$prefix-clang
if command -v clang >/dev/null; then
	configure_dir clang CC=clang CXX=clang++
	run clang-check "$clang_dir" make -j"$jobs" check
	row "clang build: make check" \
		"$(grep '^# \(PASS\|FAIL\|SKIP\):' "$logs/clang-check.log" | tr -s ' ' | tr '\n' ' ')$(passfail clang-check)$(grep -m 1 'error:' "$logs/clang-check.log" | sed 's/^/: /; s/|/\\|/g')" \
		"CC=clang ../configure && make check"
fi
if [ "$cross" = yes ]; then
	run cross "$top" env BUILD_DIR="$prefix-aarch64" scripts/cross-aarch64.sh
	row "aarch64 (gcc-aarch64-linux-gnu, make check under qemu-aarch64)" \
		"$(grep '^# \(PASS\|FAIL\|SKIP\|ERROR\):' "$logs/cross.log" | tr -s ' ' | tr '\n' ' ')$(passfail cross)" \
		"scripts/cross-aarch64.sh"
fi

fi

# --- write the block ---------------------------------------------------------
doc=$top/docs/reliability.md
block=$logs/block.md
{
	echo "<!-- figures:begin (generated by scripts/reliability-figures.sh; do not edit) -->"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs ($(uname -m)), $seconds s per stress run, $fuzz_seconds s of fuzzing."
	echo
	echo "| figure | value | command |"
	echo "| --- | --- | --- |"
	for name in $sections; do
		cat "$logs/rows-$name.md" 2>/dev/null
	done
	echo
	echo "<!-- figures:end -->"
} >"$block"
awk -v block="$block" '
	/<!-- figures:begin/ { while ((getline l < block) > 0) print l; skip = 1; next }
	/<!-- figures:end -->/ { skip = 0; next }
	!skip { print }' "$doc" >"$doc.new" && mv "$doc.new" "$doc"
say "wrote $doc"
