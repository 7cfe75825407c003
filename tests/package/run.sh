#!/usr/bin/env bash
# The installed package, used as an outside project would: installs pyctx
# into a fresh prefix (scripts/install-to.sh) and builds tests/package/app.c
# against that prefix only, four ways, running each program:
#   1. CMake find_package, pyctx::pyctx (shared)
#   2. CMake find_package, pyctx::pyctx_static
#   3. pkg-config (shared)
#   4. the documented static link line (docs/install.md)
# plus the package's version compatibility (0.2.x only for 0.2) and, when
# the build has one, the process helper under libexec/pyctx.
#
#   PYCTX_BUILD_DIR       build tree to install from (default <repo>/build)
#   PYCTX_PACKAGE_PREFIX  install there and keep it afterwards (default: a
#                         temporary prefix, removed at exit)
# Prints "prefix: DIR" first. Exit status 0 only when every check passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${PYCTX_BUILD_DIR:-$root/build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -n "${PYCTX_PACKAGE_PREFIX:-}" ]]; then
  prefix=$PYCTX_PACKAGE_PREFIX
else
  prefix=$work/prefix
fi
echo "prefix: $prefix"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

bash "$root/scripts/install-to.sh" "$prefix" "$build" || { echo "FAIL: install"; exit 1; }
libdir=$prefix/lib
python=$(sed -n 's/^PYCTX_PYTHON=//p' "$build/python.env")
pylibdir=$(sed -n 's/^PYCTX_PYTHON_LIBDIR=//p' "$build/python.env")
pyminor=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# run NAME EXE: EXE exits 0 and prints its ok line.
run() {
  if "$2" >"$work/$1.out" 2>&1 && grep -q ': ok$' "$work/$1.out"; then
    pass "$1 runs: $(cat "$work/$1.out")"
  else
    fail "$1 run"; cat "$work/$1.out"
  fi
}
# uses_installed_lib NAME EXE: the libpyctx the loader picks is the prefix's.
uses_installed_lib() {
  local got
  got=$(ldd "$2" | awk '/libpyctx/ {print $3}')
  if [[ -n "$got" && $(realpath "$got") == $(realpath "$libdir")/* ]]; then
    pass "$1 loads $got"
  else
    fail "$1 loads libpyctx from '${got:-nowhere}', not $libdir"
  fi
}
# no_shared_lib NAME EXE: a static link leaves no libpyctx.so dependency.
no_shared_lib() {
  if ldd "$2" | grep -q libpyctx; then fail "$1 depends on libpyctx.so"; else pass "$1 has libpyctx built in"; fi
}

# ---- 1, 2: find_package -------------------------------------------------------
if cmake -S "$here/cmake" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
      -DEXPECTED_PREFIX="$prefix" >"$work/cmake.log" 2>&1 &&
   cmake --build "$work/cmake" -j2 >>"$work/cmake.log" 2>&1; then
  pass "find_package project builds ($(grep -o 'pyctx [0-9.]* for Python [0-9.]*' "$work/cmake.log"))"
  run find_package-shared "$work/cmake/app_shared"
  uses_installed_lib find_package-shared "$work/cmake/app_shared"
  run find_package-static "$work/cmake/app_static"
  no_shared_lib find_package-static "$work/cmake/app_static"
else
  fail "find_package project"; cat "$work/cmake.log"
fi

# ---- 3: pkg-config ------------------------------------------------------------------
# Python's own .pc (Requires.private) may live outside the default path;
# pyctx.pc names its directory.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pcdir=$(pkg-config --variable=python_pcdir pyctx)
export PKG_CONFIG_PATH="$libdir/pkgconfig:$pcdir"
if [[ $(pkg-config --modversion pyctx) == "$(sed -n 's/^project(pyctx VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")" &&
      $(pkg-config --variable=python_version pyctx) == "$pyminor" ]]; then
  pass "pyctx.pc: version $(pkg-config --modversion pyctx), Python $pyminor"
else
  fail "pyctx.pc version fields"; cat "$libdir/pkgconfig/pyctx.pc"
fi
# shellcheck disable=SC2046  # pkg-config output is a word list
if cc -std=c99 -Wall -Wextra -Werror -o "$work/app_pc" "$here/app.c" $(pkg-config --cflags --libs pyctx) \
     -Wl,-rpath,"$(pkg-config --variable=libdir pyctx)" 2>"$work/pc.log"; then
  pass "pkg-config build"
  run pkg-config "$work/app_pc"
  uses_installed_lib pkg-config "$work/app_pc"
else
  fail "pkg-config build"; cat "$work/pc.log"
fi

# ---- 4: the documented static link line (docs/install.md, keep them equal) ---------
PY=$(pkg-config --variable=python_libdir pyctx)
V=$(pkg-config --variable=python_version pyctx)
[[ $PY == "$pylibdir" ]] || fail "pyctx.pc python_libdir '$PY' is not the build's $pylibdir"
if cc -std=c99 -o "$work/app_static_line" "$here/app.c" -I"$prefix/include" "$prefix/lib/libpyctx.a" \
     -L"$PY" -lpython"$V" -Wl,-rpath,"$PY" -lstdc++ -lpthread -ldl -lm 2>"$work/static.log"; then
  pass "static link line"
  run static-line "$work/app_static_line"
  no_shared_lib static-line "$work/app_static_line"
else
  fail "static link line"; cat "$work/static.log"
fi

# ---- helper executables of other modes ------------------------------------------------
if cmake --build "$build" --target help | grep -qw pyctx-process-helper; then
  if [[ -x "$prefix/libexec/pyctx/pyctx-process-helper" ]]; then
    pass "process helper installed in libexec/pyctx"
  else
    fail "the build has pyctx-process-helper but $prefix/libexec/pyctx lacks it"
  fi
fi

# ---- version compatibility of the CMake package ---------------------------------------
# compatible WANTED: prints TRUE/FALSE as find_package(pyctx WANTED) would decide.
compatible() {
  cmake -DPACKAGE_FIND_VERSION="$1" -DVERSION_FILE="$libdir/cmake/pyctx/pyctxConfigVersion.cmake" \
    -P "$here/version_compatible.cmake" 2>&1
}
installed=$(pkg-config --modversion pyctx)
IFS=. read -r major minor _ <<<"$installed"
same_minor=$(compatible "$major.$minor")
other_minor=$(compatible "$major.$((minor + 1))")
older_minor=$(compatible "$major.$((minor > 0 ? minor - 1 : 0)).99")
if [[ $same_minor == TRUE && $other_minor == FALSE && ( $major != 0 || $minor == 0 || $older_minor == FALSE ) ]]; then
  pass "find_package version policy: $major.$minor accepted, other minors refused"
else
  fail "version policy: $major.$minor=$same_minor $major.$((minor + 1))=$other_minor older=$older_minor"
fi

echo "package: $failures failure(s)"
[[ $failures == 0 ]]
