#!/bin/sh
# SPDX-License-Identifier: MIT
# mpi_run.sh - TAP: runs each MPI program named in $MPI_TESTS (paths under
# the build directory) under $MPIRUN with 1, 2 and 3 ranks, one test per
# program and rank count, each with a timeout of $MPI_TIMEOUT seconds
# (default 120). An entry PROGRAM:ARG runs PROGRAM with the one argument
# ARG (tests/test_mpi_fault:serialized). A program passes when mpirun exits 0: every rank checked
# its results (the programs reduce their verdicts to rank 0, which prints
# them as comments here). Without MPI ($MPI_TESTS or $MPIRUN empty) it
# reports a skip.
#	mpi_run.sh --run NP PROGRAM [ARGS...]   runs one program, for make bench
top_builddir=${top_builddir:-.}
timeout=${MPI_TIMEOUT:-120}

# Open MPI's settings for this use: ranks may outnumber cores
# (--oversubscribe) and are not bound to one core each; root may run
# mpirun (its documented variables); shared memory without the
# single-copy mechanism, which needs ptrace rights that containers lack.
OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_btl_vader_single_copy_mechanism
if [ "$(id -u)" -eq 0 ]; then
	OMPI_ALLOW_RUN_AS_ROOT=1
	OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
	export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi
# Sanitizer builds: the reports inside Open MPI's own libraries are
# suppressed by stress/tsan-mpi.supp and stress/lsan-mpi.supp (each entry
# names an Open MPI library or component; the files say why). Programs
# built without a sanitizer ignore these variables.
supp=$(cd "${srcdir:-.}/stress" 2>/dev/null && pwd)
if [ -n "$supp" ]; then
	TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS }suppressions=$supp/tsan-mpi.supp"
	LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$supp/lsan-mpi.supp:print_suppressions=0"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
	export TSAN_OPTIONS LSAN_OPTIONS ASAN_OPTIONS
fi

run() {
	np=$1
	shift
	timeout "$timeout" "$MPIRUN" --oversubscribe --bind-to none -np "$np" "$@"
}

if [ "$1" = --run ]; then
	shift
	run "$@"
	exit $?
fi

set -- $MPI_TESTS
if [ $# -eq 0 ] || [ -z "$MPIRUN" ]; then
	echo "1..0 # SKIP built without MPI (configure --with-mpi; Debian: libopenmpi-dev openmpi-bin)"
	exit 0
fi
echo "1..$(($# * 3))"
i=0
for prog in "$@"; do
	for np in 1 2 3; do
		i=$((i + 1))
		case $prog in
		*:*) out=$(run "$np" "$top_builddir/${prog%%:*}" "${prog#*:}" 2>&1) ;;
		*) out=$(run "$np" "$top_builddir/$prog" 2>&1) ;;
		esac
		rc=$?
		if [ $rc -eq 0 ]; then
			echo "ok $i - $prog with $np ranks"
		elif [ $rc -eq 124 ]; then
			echo "not ok $i - $prog with $np ranks (timed out after ${timeout} s)"
		else
			echo "not ok $i - $prog with $np ranks (exit status $rc)"
		fi
		printf '%s\n' "$out" | sed 's/^/# /'
	done
done
