#!/bin/sh
# SPDX-License-Identifier: MIT
# readme_sync.sh - TAP: the C example of README.md is docs/examples/readme.c
# (from its first #include on), which make check compiles and runs.
srcdir=${srcdir:-.}
echo "1..1"
tmp=${TMPDIR:-/tmp}/filch_readme_sync.$$
awk '/^```c$/ {on = 1; next} /^```$/ {if (on) exit} on' "$srcdir/README.md" > "$tmp.readme"
sed -n '/^#include/,$p' "$srcdir/docs/examples/readme.c" > "$tmp.example"
if diff -u "$tmp.readme" "$tmp.example" > "$tmp.diff"; then
	echo "ok 1 - README.md's example is docs/examples/readme.c"
else
	echo "not ok 1 - README.md's example differs from docs/examples/readme.c"
	sed 's/^/# /' "$tmp.diff"
fi
rm -f "$tmp.readme" "$tmp.example" "$tmp.diff"
