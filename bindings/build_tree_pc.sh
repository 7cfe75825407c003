#!/bin/sh
# Writes a pyctx.pc describing a CMake build tree of this repository (the
# header in <repo>/include, libpyctx.so in the build directory), so the
# bindings' own tests build through `pkg-config pyctx` exactly as outside
# projects do against an installed pyctx.pc, without installing anything.
#
#   bindings/build_tree_pc.sh BUILD_DIR OUT_DIR    -> OUT_DIR/pyctx.pc
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR OUT_DIR" >&2
    exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
if [ ! -e "$build/libpyctx.so" ]; then
    echo "$0: no libpyctx.so in $build (build the library first)" >&2
    exit 1
fi
part() { sed -n "s/^#define PYCTX_VERSION_$1 \\([0-9]*\\)$/\\1/p" "$repo/include/pyctx.h"; }
version="$(part MAJOR).$(part MINOR).$(part PATCH)"
mkdir -p "$2"
cat > "$2/pyctx.pc" <<PC
# pyctx from the build tree $build (not installed).
includedir=$repo/include
libdir=$build

Name: pyctx
Description: Run Python inside any host program through one C ABI (build tree)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lpyctx
PC
