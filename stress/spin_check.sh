# SPDX-License-Identifier: MIT
# spin_check.sh - sourced by the *_verify.sh scripts: set up a work
# folder for a Promela model and check it with spin and pan.
#   . spin_check.sh; spin_setup SPIN MODEL WORKDIR NAME.pml
set -u

# Copies MODEL to WORKDIR/NAME.pml and enters WORKDIR; sets spin, dir, pml,
# cc, and status (0: no failure yet).
spin_setup() {
	spin=$1 dir=$3 pml=$4 status=0
	cc=${CC:-cc}
	mkdir -p "$3" && cd "$3" || exit 1
	cp "$2" "$pml" || exit 1
}

# $1: spin -D options, $2: pan's hash table size (-wN, no resizing) or
# none; prints the line with the error count; returns the number of errors
# (0..) or 255 when the model could not be run.
check() {
	"$spin" $1 -a "$pml" >spin.log 2>&1 || { cat spin.log; return 255; }
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

# $1: the target's name, $2: the mutant's number, $3: spin -D options. The
# mutant must fail; if it does not, status becomes 1.
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
	test $status -eq 0 && echo "$1: $2; every mutant caught"
	exit $status
}
