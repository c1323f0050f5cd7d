#!/bin/sh
# SPDX-License-Identifier: MIT
# test_man.sh - TAP: every function the built libraries (libfilch, and
# libfilch-mpi when built) export has a man page
# (man/<symbol>.3, listed in am/man.am so that make install installs it);
# .so links resolve; each SYNOPSIS has the prototype of filch.h or
# filch/mpi.h; every page
# under man/ renders with man-db without a warning (skipped, one TAP skip a
# page, when man is not installed).
srcdir=${srcdir:-.}
top_builddir=${top_builddir:-.}
NM=${NM:-nm}
mandir=$srcdir/man

pages=$(cd "$mandir" && ls | LC_ALL=C sort)
npages=$(printf '%s\n' $pages | wc -l)
echo "1..$((3 + npages))"
tmp=${TMPDIR:-/tmp}/filch_test_man.$$

# 1: coverage. The exported symbols, as nm -D lists them (the shared
# library), else the global functions of the static one.
# libfilch-mpi's too, when it was built (configure --with-mpi).
syms=
for lib in libfilch libfilch-mpi; do
	if [ -f "$top_builddir/.libs/$lib.so" ]; then
		syms="$syms $($NM -D --defined-only "$top_builddir/.libs/$lib.so" |
			awk '$2 == "T" && $3 ~ /^filch_[a-z]/ {print $3}')"
	else
		syms="$syms $($NM -g --defined-only "$top_builddir/.libs/$lib.a" 2>/dev/null |
			awk '$2 == "T" && $3 ~ /^filch_[a-z]/ {print $3}')"
	fi
done
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

# 3: each function's prototype, as filch.h or filch/mpi.h declares it
# (whitespace aside),
# is in the SYNOPSIS of its page (the page a .so link leads to).
synopsis='
# Prints the SYNOPSIS of a man(7) page as one line of plain text: the
# arguments of .B are joined by spaces, those of .BI/.BR/.IB/... without.
function args(s,   out, n, i, c, q, cur, a) {
	n = 0; cur = ""; q = 0; a = 0
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\"") { q = !q; a = 1; continue }
		if (c == " " && !q) { if (a || cur != "") { A[++n] = cur; cur = ""; a = 0 } continue }
		cur = cur c
	}
	if (a || cur != "") A[++n] = cur
	return n
}
/^\.SH SYNOPSIS/ { on = 1; next }
/^\.SH / { on = 0 }
on && /^\.[BIR][BIR]? / {
	m = $1; rest = substr($0, length(m) + 2)
	n = args(rest); out = ""
	for (i = 1; i <= n; i++) out = out (i > 1 && m == ".B" ? " " : "") A[i]
	line = line " " out
}
END {
	gsub(/\\-/, "-", line); gsub(/\\e/, "\\", line)
	gsub(/[ \t]+/, " ", line); gsub(/\( /, "(", line); gsub(/ \)/, ")", line)
	print line
}
'
bad=
awk '/FILCH_API/ && /\(/ {p = 1; s = ""} p {s = s " " $0} p && /;/ {print s; p = 0}' \
	"$srcdir/include/filch.h" "$srcdir/include/filch/mpi.h" |
	sed 's/FILCH_API//; s/ FILCH_PRINTF([^)]*)//; s/[[:space:]][[:space:]]*/ /g;
		s/( /(/g; s/ )/)/g; s/^ //' > "$tmp.protos"
while read -r proto; do
	s=$(printf '%s\n' "$proto" | sed -n 's/^[^(]*[^a-z_]\(filch_[a-z_]*\)(.*/\1/p')
	f=$mandir/$s.3
	[ -f "$f" ] || continue	# test 1 reports it
	t=$(sed -n 's/^\.so  *man.\///p' "$f")
	[ -z "$t" ] || f=$mandir/$t
	case "$(awk "$synopsis" "$f")" in
	*"$proto"*) ;;
	*) bad="$bad $s" ;;
	esac
done < "$tmp.protos"
if [ -s "$tmp.protos" ] && [ -z "$bad" ]; then
	echo "ok 3 - every SYNOPSIS has its prototype from filch.h and filch/mpi.h"
else
	echo "not ok 3 - SYNOPSIS differs from filch.h for:${bad:- (no prototype found)}"
fi
rm -f "$tmp.protos"

# 4..: rendering. man-db resolves ".so man3/x.3" from the current
# directory, as it does from an installed manN tree: render from a
# directory whose man3 and man7 are links to man/.
n=3
if ! command -v man >/dev/null 2>&1; then
	for p in $pages; do
		n=$((n + 1))
		echo "ok $n - $p renders # SKIP man not installed"
	done
	exit 0
fi
mkdir "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
case $mandir in
/*) abs=$mandir ;;
*) abs=$(cd "$mandir" && pwd) ;;
esac
ln -s "$abs" "$tmp/man3"
ln -s "$abs" "$tmp/man7"
ln -s "$abs" "$tmp/man1"
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
