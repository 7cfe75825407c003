#!/bin/sh
# Builds and tests the Go binding: go vet, the test suite under the race
# detector, then the benchmarks comparing the Go API's round trip with the C
# API's (same process, same run). The package is built through
# `#cgo pkg-config: pyctx` against a pyctx.pc generated for the build tree.
#
# Env: PYCTX_BUILD_DIR  CMake build tree holding libpyctx.so
#                       (default: ../../build relative to this script)
#      PYCTX_GO_BENCH=0 skips the benchmarks
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build_dir=${PYCTX_BUILD_DIR:-$here/../../build}
if [ ! -e "$build_dir/libpyctx.so" ]; then
    echo "test.sh: no libpyctx.so in $build_dir (build the library first)" >&2
    exit 1
fi
build_dir=$(cd "$build_dir" && pwd)

# No network: the module has no dependencies and must never fetch any.
export GOPROXY=off GOFLAGS=-buildvcs=false GO111MODULE=on
# The package finds libpyctx through `pkg-config pyctx`, as it does for any
# outside module: point pkg-config at a pyctx.pc for the chosen build tree.
pc_dir=$(mktemp -d)
trap 'rm -rf "$pc_dir"' EXIT
sh "$here/../build_tree_pc.sh" "$build_dir" "$pc_dir"
export PKG_CONFIG_PATH="$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# The package bakes in no library path; the test binaries get an rpath to
# the build tree here (these flags come before the package's).
export CGO_LDFLAGS="-Wl,-rpath,$build_dir ${CGO_LDFLAGS:-}"
# Go's build cache does not track pyctx.h, which lives outside the module:
# put its hash in the C flags so a changed header rebuilds the package.
header_hash=$(sha256sum "$here/../../include/pyctx.h" | cut -c1-16)
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DPYCTX_HEADER_HASH=0x$header_hash"

cd "$here"
echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 240s ./...
if [ "${PYCTX_GO_BENCH:-1}" != 0 ]; then
    echo "== benchmarks (Go API beside C API, ns/op)"
    go test -count=1 -run '^$' -bench . -benchtime 20000x -timeout 120s ./...
fi
