#!/bin/sh
# SPDX-License-Identifier: MIT
# test_man.sh - TAP: every function the built library exports has a man page
# (man/<symbol>.3, listed in am/man.am so that make install installs it), and
# every page under man/ renders with man-db without a warning. Skips the
# rendering (not the coverage) when man is not installed.
srcdir=${srcdir:-.}
top_builddir=${top_builddir:-.}
NM=${NM:-nm}
mandir=$srcdir/man

pages=$(cd "$mandir" && ls | LC_ALL=C sort)
npages=$(printf '%s\n' $pages | wc -l)
echo "1..$((2 + npages))"

# 1: coverage. The exported symbols, as nm -D lists them (the shared
# library), else the global functions of the static one.
if [ -f "$top_builddir/.libs/libfilch.so" ]; then
	syms=$($NM -D --defined-only "$top_builddir/.libs/libfilch.so" |
		awk '$2 == "T" {print $3}')
else
	syms=$($NM -g --defined-only "$top_builddir/.libs/libfilch.a" 2>/dev/null |
		awk '$2 == "T" && $3 ~ /^filch_[a-z]/ {print $3}')
fi
missing=
for s in $syms; do
	[ -f "$mandir/$s.3" ] || { missing="$missing $s"; continue; }
	if [ -n "${FILCH_MAN_PAGES+set}" ]; then
		case " $FILCH_MAN_PAGES " in
		*" man/$s.3 "*) ;;
		*) missing="$missing $s(not-in-am/man.am)" ;;
		esac
	fi
done
nsyms=$(printf '%s\n' $syms | grep -c .)
if [ "$nsyms" -eq 0 ]; then
	echo "not ok 1 - no exported symbol found in $top_builddir/.libs"
elif [ -z "$missing" ]; then
	echo "ok 1 - each of the $nsyms exported symbols has a page in man/"
else
	echo "not ok 1 - exported symbols without a page:$missing"
fi

# 2: every .so link points at a page that exists.
bad=
for p in $pages; do
	t=$(sed -n 's/^\.so  *//p' "$mandir/$p")
	[ -z "$t" ] || [ -f "$mandir/${t#man?/}" ] || bad="$bad $p->$t"
done
if [ -z "$bad" ]; then
	echo "ok 2 - every .so link resolves"
else
	echo "not ok 2 - dangling .so links:$bad"
fi

# 3..: rendering. man-db resolves ".so man3/x.3" from the current
# directory, as it does from an installed manN tree: render from a
# directory whose man3 and man7 are links to man/.
n=2
if ! command -v man >/dev/null 2>&1; then
	for p in $pages; do
		n=$((n + 1))
		echo "ok $n - $p renders # SKIP man not installed"
	done
	exit 0
fi
tmp=${TMPDIR:-/tmp}/filch_test_man.$$
mkdir "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
case $mandir in
/*) abs=$mandir ;;
*) abs=$(cd "$mandir" && pwd) ;;
esac
ln -s "$abs" "$tmp/man3"
ln -s "$abs" "$tmp/man7"
for p in $pages; do
	n=$((n + 1))
	sec=${p##*.}
	err=$(cd "$tmp" && MANWIDTH=80 man --warnings -E UTF-8 -l "man$sec/$p" 2>&1 >/dev/null)
	if [ -z "$err" ]; then
		echo "ok $n - $p renders without warnings"
	else
		echo "not ok $n - $p: man reports"
		printf '%s\n' "$err" | sed 's/^/# /'
	fi
done
