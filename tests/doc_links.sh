#!/bin/sh
# SPDX-License-Identifier: MIT
# doc_links.sh - TAP: every relative link of README.md and docs/*.md,
# [text](path) or [text](path#anchor), names a file or folder that exists
# (in the source tree under make check, in the distdir under make distcheck).
# Links to http:, https:, mailto: and pure #anchors are skipped.
srcdir=${srcdir:-.}
set -f
n=0
out=
for doc in "$srcdir"/README.md "$srcdir"/docs/*.md; do
	[ -f "$doc" ] || continue
	dir=$(dirname "$doc")
	name=${doc#"$srcdir"/}
	# One target per line: the text between "](" and the first ")" or
	# space (a link title follows a space), the #anchor dropped.
	targets=$(grep -o '](\([^) ]*\)' "$doc" | sed 's/^](//; s/#.*$//')
	for t in $targets; do
		case $t in
		http:* | https:* | mailto:* | '') continue ;;
		esac
		n=$((n + 1))
		if [ -e "$dir/$t" ]; then
			out="$out
ok $n - $name links to $t"
		else
			out="$out
not ok $n - $name links to $t, which is missing"
		fi
	done
done
echo "1..$n"
[ -n "$out" ] && printf '%s\n' "$out" | sed 1d
exit 0
