#!/usr/bin/env bash
# Installs pyctx into PREFIX from a CMake build tree, building the library
# there first if needed (the tree is configured only when it has no cache).
#
#   scripts/install-to.sh PREFIX [BUILD_DIR]    BUILD_DIR defaults to <repo>/build
#
# Afterwards PREFIX holds include/, lib/ (libpyctx.so, libpyctx.a,
# cmake/pyctx/, pkgconfig/pyctx.pc) and share/doc/pyctx/. Point consumers at
# it with CMAKE_PREFIX_PATH=PREFIX or PKG_CONFIG_PATH=PREFIX/lib/pkgconfig
# (see docs/install.md).
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 PREFIX [BUILD_DIR]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=$1
build=${2:-$root/build}

# The same lock as the other scripts sharing a build tree.
exec 9>/tmp/pyctx-build.lock
flock 9
[[ -f "$build/CMakeCache.txt" ]] || cmake -S "$root" -B "$build" >/dev/null
targets=(pyctx pyctx_static)
# Helper executables of other modes are installed too, so build them first.
if cmake --build "$build" --target help | grep -qw pyctx-process-helper; then
  targets+=(pyctx-process-helper)
fi
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null
cmake --install "$build" --prefix "$prefix" >/dev/null
flock -u 9
echo "pyctx installed into $prefix"
