#!/bin/sh
# SPDX-License-Identifier: MIT
# no_tracker_refs.sh - TAP: documents and comments say what they mean, not
# which planning note or tracker entry asked for it: no "issue N",
# "issues N-M" or "card" (as in a design card) in the sources, docs and
# build files. This script is the one file that spells the patterns.
srcdir=${srcdir:-.}
echo "1..1"
pat='issues? [0-9]|\bcards?\b'
files=
for f in README.md NEWS configure.ac Makefile.am quickstart .ci/run; do
	[ -f "$srcdir/$f" ] && files="$files $f"
done
hits=$(cd "$srcdir" && {
	grep -nIiE "$pat" $files
	grep -rnIiE "$pat" \
		--include='*.[ch]' --include='*.cpp' --include='*.hpp' \
		--include='*.md' --include='*.am' --include='*.sh' \
		--include='*.pml' --include='*.supp' --include='*.py' \
		--exclude=no_tracker_refs.sh \
		docs runtime include tests stress bench fuzz am scripts
} 2>/dev/null)
if [ -z "$hits" ]; then
	echo "ok 1 - no issue numbers or cards in docs and comments"
else
	echo "not ok 1 - issue numbers or cards in docs and comments"
	printf '%s\n' "$hits" | sed 's/^/# /'
fi
