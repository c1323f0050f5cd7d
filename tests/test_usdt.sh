#!/bin/sh
# SPDX-License-Identifier: MIT
# test_usdt.sh - TAP: the USDT probes of docs/observability.md are in the
# shared library as stapsdt notes of provider filch, and, where perf can
# attach uprobes here (root, tracefs), task__start fires once per task of
# a known workload (tests/obs_workload). Run only when configure enabled
# the probes.
top_builddir=${top_builddir:-.}
READELF=${READELF:-readelf}
lib=$top_builddir/.libs/libfilch.so
target=$top_builddir/tests/obs_workload
probes="submit task__start task__end steal park unpark future__complete future__cancel"

echo "1..$(($(echo $probes | wc -w) + 2))"
n=0
if [ ! -f "$lib" ]; then
	for p in $probes x y; do
		n=$((n + 1))
		echo "ok $n # SKIP no shared library built"
	done
	exit 0
fi
notes=$($READELF -n "$lib" | awk '/stapsdt/ {on = 1} on && /Provider:/ {prov = $2}
	on && /Name:/ {print prov ":" $2; on = 0}')
for p in $probes; do
	n=$((n + 1))
	if printf '%s\n' $notes | grep -qx "filch:$p"; then
		echo "ok $n - probe filch:$p is in libfilch.so"
	else
		echo "not ok $n - probe filch:$p is missing from libfilch.so"
	fi
done
n=$((n + 1))
bad=$(printf '%s\n' $notes | grep -v '^filch:' | head -1)
if [ -z "$bad" ]; then
	echo "ok $n - every stapsdt note of libfilch.so is of provider filch"
else
	echo "not ok $n - a note of another provider: $bad"
fi

# Attach and count, serialized across concurrent runs (uprobe event names
# are system-wide). Skipped where perf cannot add uprobes.
n=$((n + 1))
attach() {
	ev=sdt_filch:task__start
	perf buildid-cache --add "$target" >/dev/null 2>&1 || return 2
	perf probe -q -d "$ev" >/dev/null 2>&1
	perf probe -q -x "$target" -a "%$ev" >/dev/null 2>&1 || return 2
	count=$(perf stat -x, -e "$ev" -- "$target" 100 2>&1 >/dev/null |
		awk -F, -v ev="$ev" '$3 == ev {print $1}')
	perf probe -q -d "$ev" >/dev/null 2>&1
	perf buildid-cache --remove "$target" >/dev/null 2>&1
	echo "$count"
}
if ! command -v perf >/dev/null 2>&1 || ! command -v flock >/dev/null 2>&1 ||
	[ "$(id -u)" != 0 ]; then
	echo "ok $n # SKIP perf, flock or root missing: cannot attach"
	exit 0
fi
exec 9>"${TMPDIR:-/tmp}/filch_test_usdt.lock"
flock 9
count=$(attach)
flock -u 9
case $count in
100) echo "ok $n - perf counted task__start once per task (100)" ;;
'' | *[!0-9]*) echo "ok $n # SKIP perf could not attach a uprobe here" ;;
*) echo "not ok $n - perf counted $count task__start for 100 tasks" ;;
esac
