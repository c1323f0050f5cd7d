# SPDX-License-Identifier: MIT
# spin_check.sh - sourced by the *_verify.sh scripts: set up a work
# folder for a Promela model and check it with spin and pan.
#   . spin_check.sh; spin_setup SPIN MODEL WORKDIR NAME.pml [FORM]
# FORM: full (make verify, the default) or ci (make verify-ci: the scripts
# pick smaller searches, and pan is compiled without optimization, which
# costs less than it saves on searches of seconds).
set -u

# Copies MODEL to WORKDIR/NAME.pml and enters WORKDIR; sets spin, dir, pml,
# form, cc, copt, and status (0: no failure yet).
spin_setup() {
	spin=$1 dir=$3 pml=$4 form=${5:-full} status=0
	cc=${CC:-cc}
	case $form in
	full) copt=-O2 ;;
	ci) copt=-O0 ;;
	*) echo "spin_setup: form $form: full or ci" >&2; exit 2 ;;
	esac
	mkdir -p "$3" && cd "$3" || exit 1
	cp "$2" "$pml" || exit 1
}

# $1: spin -D options, $2: pan's hash table size (-wN, no resizing),
# "bitstate" (a partial search: bitstate hashing in 2^22 bits, a few
# million states at most; a found error is real, none found proves
# nothing beyond the states reached), or none (exhaustive); prints the
# line with the error count; returns the number of errors (0..) or 255
# when the model could not be run.
check() {
	"$spin" $1 -a "$pml" >spin.log 2>&1 || { cat spin.log; return 255; }
	# COLLAPSE: exhaustive with compressed states; MEMLIM in MB.
	case ${2:-} in
	bitstate) mode="-DBITSTATE" size=-w22 ;;
	"") mode="-DCOLLAPSE -DMEMLIM=4000" size= ;;
	*) mode="-DCOLLAPSE -DMEMLIM=4000 -DNO_RESIZE" size=$2 ;;
	esac
	$cc $copt -DSAFETY $mode -o pan pan.c >cc.log 2>&1 ||
		{ cat cc.log; return 255; }
	./pan -m1000000 $size >pan.log 2>&1
	if grep -q "reached -DMEMLIM" pan.log; then
		echo "  memory bound reached: the search was not exhaustive"
		return 255
	fi
	grep -E "^pan:1|errors:|states, stored|total actual|elapsed" pan.log |
		tr -s ' \t' ' ' | sed 's/^/  /'
	n=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log)
	return "${n:-255}"
}

# $1: the target's name, $2: pan's search (check's $2), then the
# configurations (spin -D options), each of which must hold; a failure
# sets status to 1.
check_configs() {
	target=$1 search=$2
	shift 2
	for cfg in "$@"; do
		echo "$pml $cfg:"
		check "$cfg" "$search" || {
			echo "$target: FAILED ($cfg); trail: $dir/$pml.trail"
			status=1
		}
	done
}

# $1: the target's name, $2: the mutant's number, $3: spin -D options. The
# mutant must fail (an exhaustive search, which stops at the first error);
# if it does not, status becomes 1.
check_mutant() {
	echo "$pml mutant $2 (must fail):"
	check "-DMUTANT=$2 $3"
	rc=$?
	if test $rc -eq 0 || test $rc -eq 255; then
		echo "$1: mutant $2 was not caught"
		status=1
	fi
}

# $1: the target's name, $2: what holds. Exits with status.
spin_done() {
	test $status -eq 0 && echo "$1: $2 ($form form); every mutant caught"
	exit $status
}
