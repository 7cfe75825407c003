#!/usr/bin/env bash
# Builds pyctx and runs the parallel demo: one CPU-bound pure-Python job run
# sequentially, on N worker contexts and on N owngil contexts.
#
# It builds in the one build tree every script and binding uses, <repo>/build
# (PYCTX_BUILD_DIR overrides it), and configures that tree only when it does
# not exist yet, with the same defaults as scripts/test.sh, so running the
# demo never reconfigures the test build.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${PYCTX_BUILD_DIR:-$PWD/build}
bash scripts/deps.sh core
exec 9>/tmp/pyctx-build.lock
flock 9
[[ -f "$build/CMakeCache.txt" ]] || cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target parallel_demo
flock -u 9
exec "$build/examples/parallel_demo" "$@"
