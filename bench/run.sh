#!/bin/sh
# The one benchmark command: builds libpyctx and the benchmark binaries
# (through the shared build lock), then runs bench/run.py with the Python
# pyctx embeds (build/python.env). Options go to run.py:
#   bench/run.sh            full run: 5 runs per benchmark, a few minutes
#   bench/run.sh --quick    2 runs with smaller sizes, under ~1 minute
#   bench/run.sh --runs 9 --only handoff,roundtrip,embed
# Prints a table of medians (with this run's calibration and same-run
# ratios) and writes every run's values: a full run of everything to
# bench/results.json (the recorded run, tracked), anything else (--quick,
# --only) to <build>/bench/results-<profile>.json (untracked).
# Environment: PYCTX_BUILD_DIR (default <repo>/build).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${PYCTX_BUILD_DIR:-$src/build}

# shellcheck disable=SC2016  # $1/$2 expand in the inner shell
flock /tmp/pyctx-build.lock sh -c \
  'cmake -S "$1" -B "$2" >/dev/null && cmake --build "$2" -j2 --target pyctx pyctx_bench' \
  sh "$src" "$build"

python=$(sed -n 's/^PYCTX_PYTHON=//p' "$build/python.env")
if [ -z "$python" ]; then
  echo "bench/run.sh: no PYCTX_PYTHON in $build/python.env" >&2
  exit 1
fi
exec "$python" "$here/run.py" --build-dir "$build" "$@"
