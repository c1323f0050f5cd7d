#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/consumer/installcheck.sh - make installcheck: build main.c against
# the installed filch three ways (plain Makefile + pkg-config, CMake
# find_package, and with its component mpi mpi_main.c where libfilch-mpi
# is installed, Meson dependency), shared and, when libfilch.a is
# installed, static; run each; check the installed libfilch.so as lintian
# would. am/install.am sets the environment: prefix libdir includedir
# srcdir workdir CC CFLAGS LDFLAGS MAKE PKG_CONFIG PACKAGE_VERSION
# FILCH_SONAME FILCH_SERIES FILCH_NEXT. A missing cmake or meson is
# skipped, unless FILCH_INSTALLCHECK_STRICT=1 (./quickstart check sets it).
set -u

fail=0
skipped=
say() { printf 'installcheck: %s\n' "$*"; }
bad() { say "FAIL: $*"; fail=1; }
skip() {
	say "skip: $*"; skipped="$skipped
  $*"
	[ "${FILCH_INSTALLCHECK_STRICT:-0}" = 1 ] && fail=1
}

# The consumer builds are a user's, not ours: no make flags of this run.
unset MAKEFLAGS MFLAGS MAKELEVEL
export CC CFLAGS LDFLAGS
src=$(cd "$srcdir" && pwd)
rm -rf "$workdir" && mkdir -p "$workdir" || exit 1
work=$(cd "$workdir" && pwd)
so=$libdir/$FILCH_SONAME
say "checking the filch $PACKAGE_VERSION installed in $prefix"

# --- the installed shared library, lintian-style ----------------------------
if [ -f "$so" ]; then
	dyn=$(readelf -dW "$so")
	if echo "$dyn" | grep -q "(SONAME).*\[$FILCH_SONAME\]"; then
		say "ok: SONAME $FILCH_SONAME"
	else
		bad "$so has no SONAME $FILCH_SONAME"
	fi
	if echo "$dyn" | grep -Eq '\((RPATH|RUNPATH)\)'; then
		bad "$so has an RPATH/RUNPATH: $(echo "$dyn" | grep -E 'R(UN)?PATH')"
	else
		say "ok: no RPATH or RUNPATH"
	fi
	echo "$dyn" | grep -q TEXTREL && say "warning: TEXTREL (non-PIC code)"
	# Hardening as lintian checks it: configure asks for full RELRO
	# (relro + now) and stack canaries; fortified calls appear only where
	# the compiler can see a size, so they are reported, not required.
	if readelf -lW "$so" | grep -q GNU_RELRO &&
		echo "$dyn" | grep -Eq '\(FLAGS(_1)?\).*(BIND_NOW|NOW)'; then
		say "ok: full RELRO (relro, bind now)"
	else
		bad "$so lacks full RELRO (-z relro -z now)"
	fi
	syms=$(readelf --dyn-syms -W "$so")
	if echo "$syms" | grep -q '__stack_chk_fail'; then
		say "ok: stack protector"
	else
		bad "$so has no stack-protector calls"
	fi
	fort=$(echo "$syms" | grep -o '__[a-z_]*_chk\b' | grep -v __stack_chk_fail | sort -u | tr '\n' ' ')
	say "fortified calls: ${fort:-none}"
	leaked=$(nm -D --defined-only "$so" 2>/dev/null | awk '$3 !~ /^filch_/ {print $3}' | tr '\n' ' ')
	[ -n "$leaked" ] && say "warning: exported beyond filch_*: $leaked"
	have_shared=yes
else
	say "no $so: shared builds skipped"
	have_shared=no
fi
if [ -f "$libdir/libfilch.a" ]; then
	kinds="shared static"
else
	say "skip: static builds ($libdir/libfilch.a is not installed; configure --enable-static)"
	kinds=shared
fi
[ "$have_shared" = yes ] || kinds=${kinds#shared}

# check_app WAY KIND BINARY: links libfilch as KIND, loads the installed
# one, and runs with 0 exit.
check_app() {
	needed=$(readelf -dW "$3" | grep '(NEEDED)')
	if [ "$2" = shared ]; then
		echo "$needed" | grep -q "\[$FILCH_SONAME\]" ||
			{ bad "$1 $2: $3 does not need $FILCH_SONAME"; return; }
		lib=$(LD_LIBRARY_PATH=$libdir ldd "$3" | sed -n "s/.*$FILCH_SONAME => \([^ ]*\).*/\1/p")
		[ "$lib" -ef "$so" ] ||
			{ bad "$1 $2: loads '$lib', not $so"; return; }
	elif echo "$needed" | grep -q libfilch; then
		bad "$1 $2: $3 needs a shared libfilch"; return
	fi
	if out=$(LD_LIBRARY_PATH=$libdir "$3" 2>&1); then
		say "ok: $1 $2: $out"
	else
		bad "$1 $2: $3 failed: $out"
	fi
}

# --- 1. plain Makefile with pkg-config --------------------------------------
PKG_CONFIG_PATH=$libdir/pkgconfig
export PKG_CONFIG_PATH
pcprefix=$($PKG_CONFIG --variable=prefix filch 2>/dev/null)
if [ -z "$pcprefix" ]; then
	bad "pkg-config finds no filch.pc in $PKG_CONFIG_PATH"
elif [ "$pcprefix" != "$prefix" ]; then
	# make install prefix=DIR keeps the configured prefix in filch.pc (the
	# GNU standards allow it); point pkg-config at DIR, for Meson too.
	say "note: filch.pc says prefix=$pcprefix; using --define-variable=prefix=$prefix"
	printf '#!/bin/sh\nexec %s --define-variable=prefix=%s "$@"\n' \
		"$PKG_CONFIG" "$prefix" > "$work/pkg-config"
	chmod +x "$work/pkg-config"
	PKG_CONFIG=$work/pkg-config
fi
export PKG_CONFIG
mkdir -p "$work/make"
for k in $kinds; do
	t=app; [ "$k" = static ] && t=app-static
	if log=$(cd "$work/make" && $MAKE -f "$src/Makefile" SRCDIR="$src" \
		PKG_CONFIG="$PKG_CONFIG" $t 2>&1); then
		check_app make "$k" "$work/make/$t"
	else
		bad "make $k: build failed:
$log"
	fi
done

# --- 2. CMake find_package ----------------------------------------------------
if command -v cmake >/dev/null 2>&1; then
	# cmake_try DIR WANT [ARGS]: configure the consumer in $work/DIR.
	cmake_try() {
		d=$1 want=$2; shift 2
		cmake -S "$src" -B "$work/$d" -DCMAKE_PREFIX_PATH="$prefix" \
			-DFILCH_WANT_VERSION="$want" "$@" > "$work/$d.log" 2>&1
	}
	for k in $kinds; do
		st=OFF; [ "$k" = static ] && st=ON
		if cmake_try cmake-$k "$FILCH_SERIES" -DFILCH_CONSUMER_STATIC=$st &&
			cmake --build "$work/cmake-$k" >> "$work/cmake-$k.log" 2>&1; then
			dir=$(sed -n 's/^filch_DIR:PATH=//p' "$work/cmake-$k/CMakeCache.txt")
			if [ "$dir" -ef "$libdir/cmake/filch" ]; then
				check_app cmake "$k" "$work/cmake-$k/app"
			else
				bad "cmake $k: found filch in $dir, not $libdir/cmake/filch"
			fi
		else
			bad "cmake $k: build failed:
$(cat "$work/cmake-$k.log")"
		fi
	done
	# The component mpi where libfilch-mpi is installed: app_mpi, a
	# singleton MPI run (Open MPI's settings of tests/mpi_run.sh).
	if [ -f "$libdir/libfilch-mpi.so" ] || [ -f "$libdir/libfilch-mpi.a" ]; then
		OMPI_MCA_btl_vader_single_copy_mechanism=none
		OMPI_ALLOW_RUN_AS_ROOT=1
		OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
		export OMPI_MCA_btl_vader_single_copy_mechanism \
			OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
		for k in $kinds; do
			st=OFF; [ "$k" = static ] && st=ON
			if cmake_try cmake-mpi-$k "$FILCH_SERIES" \
				-DFILCH_CONSUMER_STATIC=$st -DFILCH_CONSUMER_MPI=ON &&
				cmake --build "$work/cmake-mpi-$k" >> "$work/cmake-mpi-$k.log" 2>&1; then
				check_app "cmake mpi" "$k" "$work/cmake-mpi-$k/app_mpi"
			else
				bad "cmake mpi $k: build failed:
$(cat "$work/cmake-mpi-$k.log")"
			fi
		done
	else
		say "skip: CMake component mpi (libfilch-mpi is not installed)"
	fi
	# Version compatibility: same series (major, or 0.minor) only.
	for v in "$PACKAGE_VERSION" "$FILCH_SERIES"; do
		cmake_try cmake-v "$v" && say "ok: cmake accepts find_package(filch $v)" ||
			bad "cmake rejects find_package(filch $v): $(cat "$work/cmake-v.log")"
		rm -rf "$work/cmake-v"
	done
	cmake_try cmake-v "$FILCH_NEXT" &&
		bad "cmake accepts find_package(filch $FILCH_NEXT) from $PACKAGE_VERSION" ||
		say "ok: cmake rejects find_package(filch $FILCH_NEXT)"
	rm -rf "$work/cmake-v"
	cmv=$(cmake --version | sed -n 's/^cmake version //p')
	if [ "$(printf '3.19\n%s\n' "$cmv" | sort -V | head -n1)" = 3.19 ]; then
		cmake_try cmake-v "$FILCH_SERIES...<$FILCH_NEXT" &&
			say "ok: cmake accepts find_package(filch $FILCH_SERIES...<$FILCH_NEXT)" ||
			bad "cmake rejects find_package(filch $FILCH_SERIES...<$FILCH_NEXT)"
		rm -rf "$work/cmake-v"
	fi
else
	skip "CMake consumer (no cmake)"
fi

# --- 3. Meson dependency() through pkg-config ---------------------------------
if command -v meson >/dev/null 2>&1 && command -v ninja >/dev/null 2>&1; then
	for k in $kinds; do
		st=false; [ "$k" = static ] && st=true
		if meson setup "$work/meson-$k" "$src" -Dfilch_static=$st \
			> "$work/meson-$k.log" 2>&1 &&
			ninja -C "$work/meson-$k" >> "$work/meson-$k.log" 2>&1; then
			check_app meson "$k" "$work/meson-$k/app"
		else
			bad "meson $k: build failed:
$(cat "$work/meson-$k.log")"
		fi
	done
else
	skip "Meson consumer (no meson or ninja)"
fi

[ -n "$skipped" ] && say "skipped:$skipped"
if [ $fail -ne 0 ]; then
	say "FAILED (logs in $work)"
	exit 1
fi
say "all passed"
