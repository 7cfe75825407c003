#!/bin/sh
# Builds and runs the C/C++ test suite of the public C API (tests/).
#
#   PYCTX_BUILD_DIR   CMake build tree (default: <repo>/build); configured
#                     here if it does not exist yet
#   PYCTX_BUILD_LOCK  optional lock file; when set, the build step runs under
#                     `flock` on it (shared build trees)
#   PYCTX_CTEST_ARGS  extra ctest arguments (e.g. "-R test_requests")
#
# Exit status 0 only when every test passed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/.." && pwd)
build_dir=${PYCTX_BUILD_DIR:-$source_dir/build}

# The suite's targets: every tests/test_*.cpp binary plus the extras of
# tests/extra.cmake.
targets="pyctx pyctx_static pyctx_legacy_ext c_static_call c_dlopen_call"
for src in "$here"/test_*.cpp; do
  targets="$targets $(basename "$src" .cpp)"
done

build() {
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    cmake -S "$source_dir" -B "$build_dir" >/dev/null
  fi
  # shellcheck disable=SC2086 # targets is a word list
  cmake --build "$build_dir" -j2 --target $targets
}

if [ -n "${PYCTX_BUILD_LOCK:-}" ]; then
  exec 9>"$PYCTX_BUILD_LOCK"
  flock 9
  build
  flock -u 9
else
  build
fi

# CPython leaks at exit by design; sanitizer builds check everything else.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export ASAN_OPTIONS

# shellcheck disable=SC2086
exec ctest --test-dir "$build_dir/tests" --output-on-failure -j2 ${PYCTX_CTEST_ARGS:-}
