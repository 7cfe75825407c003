#!/usr/bin/env bash
# Builds pyctx and runs the parallel demo: one CPU-bound pure-Python job run
# sequentially, on N worker contexts and on N owngil contexts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh core
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DPYCTX_BUILD_TESTS=OFF -DPYCTX_BUILD_BENCH=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target parallel_demo
exec ./build-demo/examples/parallel_demo "$@"
