#!/bin/sh
# Test suite of examples/ and bench/: builds the examples and the benchmark
# binaries, runs both examples checking their output, and runs every
# benchmark once at tiny sizes (bench/run.py --smoke) checking that each
# produces all of its figures. No timing is asserted. Exit 0 only when all
# checks pass. Takes well under a minute.
# Environment: PYCTX_BUILD_DIR (default <repo>/build).
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${PYCTX_BUILD_DIR:-$src/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

# expect_line FILE TEXT: FILE must contain TEXT as a whole line.
expect_line() {
  if grep -qxF -- "$2" "$1"; then pass "$(basename "$1"): $2"; else fail "$(basename "$1") lacks line: $2"; cat "$1"; fi
}

# shellcheck disable=SC2016  # $1/$2 expand in the inner shell
flock /tmp/pyctx-build.lock sh -c \
  'cmake -S "$1" -B "$2" >/dev/null && cmake --build "$2" -j2 --target pyctx pyctx_examples pyctx_bench' \
  sh "$src" "$build" >"$tmp/build.log" 2>&1 || { echo "FAIL: build"; cat "$tmp/build.log"; exit 1; }
python=$(sed -n 's/^PYCTX_PYTHON=//p' "$build/python.env")
owngil=$("$python" -c 'import sys; print(int(sys.version_info >= (3, 12)))')

# ---- quickstart: every step prints its result ------------------------------
if "$build/examples/quickstart" >"$tmp/quickstart.out" 2>&1; then pass "quickstart exits 0"; else fail "quickstart exit status"; fi
pyver=$("$python" -c 'import platform; print(platform.python_version())')
expect_line "$tmp/quickstart.out" "Python $pyver"
expect_line "$tmp/quickstart.out" "math.sqrt(2.0) = 1.4142135623730951"
expect_line "$tmp/quickstart.out" 'greet(who) = "hello, pyctx"'
if grep -q '^eval 1/0 failed: .*ZeroDivisionError: division by zero$' "$tmp/quickstart.out"; then
  pass "quickstart reports ZeroDivisionError with its message"
else
  fail "quickstart error report"; cat "$tmp/quickstart.out"
fi

# ---- parallel_demo: table rows for every mode; bad N is a usage error ------
if "$build/examples/parallel_demo" 2 >"$tmp/demo.out" 2>&1; then pass "parallel_demo 2 exits 0"; else fail "parallel_demo exit status"; cat "$tmp/demo.out"; fi
# demo_row MODE CONTEXTS: a table row "mode contexts 1.23 s 1.00x 3%" is
# there (the CPU wait column is "-" where /proc cannot tell).
demo_row() {
  if grep -Eq "^$1 +$2 +[0-9]+\.[0-9]{2} s +[0-9]+\.[0-9]{2}x +([0-9]+%|-)\$" "$tmp/demo.out"; then
    pass "demo row: $1 x$2"
  else
    fail "demo row $1"; cat "$tmp/demo.out"
  fi
}
demo_row sequential 1
demo_row worker 2
if [ "$owngil" = 1 ]; then
  demo_row owngil 2
elif grep -q '^owngil  *skipped: ' "$tmp/demo.out"; then
  pass "demo skips owngil with a clear line"
else
  fail "demo owngil skip line"
fi
# The line under the table says whether the machine let the runs use the CPUs.
if grep -Eq '^machine: (quiet|BUSY|oversubscribed|not measured) ' "$tmp/demo.out"; then
  pass "demo says how busy the machine was: $(grep '^machine: ' "$tmp/demo.out" | cut -c1-60)"
else
  fail "demo machine line"; cat "$tmp/demo.out"
fi
for bad in 0 abc 65 "2 3"; do
  # shellcheck disable=SC2086  # "2 3" is meant to be two arguments
  "$build/examples/parallel_demo" $bad >"$tmp/bad.out" 2>&1
  rc=$?
  if [ "$rc" = 2 ] && grep -q '^usage: ' "$tmp/bad.out"; then pass "demo rejects N='$bad'"; else fail "demo N='$bad' gave rc=$rc"; fi
done

# ---- benchmarks: each one runs and produces all of its figures -------------
if "$python" "$src/bench/run.py" --build-dir "$build" --smoke --n 2 --json "$tmp/results.json" >"$tmp/bench.out" 2>&1; then
  pass "bench/run.py --smoke exits 0"
else
  fail "bench/run.py --smoke"; tail -20 "$tmp/bench.out"
fi
if [ -f "$tmp/results.json" ] && "$python" "$src/bench/check_smoke.py" "$tmp/results.json" 2 "$owngil"; then
  pass "benchmark smoke results complete"
else
  fail "benchmark smoke results"
fi

# ---- bench_objects (object handles and streams): every figure, tiny sizes --
if "$build/bench/bench_objects" --calls 200 --items 20000 >"$tmp/objects.out" 2>&1; then
  pass "bench_objects exits 0"
else
  fail "bench_objects exit status"; tail -5 "$tmp/objects.out"
fi
objects_modes=worker
[ "$owngil" = 1 ] && objects_modes="worker owngil"
for mode in $objects_modes; do
  for figure in '"pyctx_call add"' '"pyctx_object_call_method add"' '"request call add"' \
                '"request method call add"' '"method call / call (one-call functions)"' \
                '"method call / call (request objects)"' '"stream of small ints (generator)"'; do
    if grep -F "\"case\": $figure, \"mode\": \"$mode\"" "$tmp/objects.out" | grep -Eq '"value": [0-9.e+]+[,}]'; then
      pass "bench_objects $mode $figure"
    else
      fail "bench_objects lacks $mode $figure"
    fi
  done
done

echo "examples+bench: $failures failure(s)"
[ "$failures" = 0 ]
