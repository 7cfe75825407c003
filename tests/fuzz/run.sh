#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, coverage-instrumented
# library) and runs each for a bounded time, starting from the corpus kept in
# tests/fuzz/corpus/<target>/. Exit status 0 only when no target reported a
# crash, leak, timeout, out-of-memory or sanitizer error.
#
#   PYCTX_FUZZ_SECONDS     seconds per target (default 60)
#   PYCTX_FUZZ_TARGETS     targets to run (default "cbor call")
#   PYCTX_FUZZ_BUILD_DIR   build tree (default <repo>/build-fuzz)
#   PYCTX_FUZZ_WORK        where new corpus entries and crash artifacts go
#                          (default <build tree>/fuzz-work); kept between runs
#   PYCTX_FUZZ_ARGS        extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${PYCTX_FUZZ_SECONDS:-60}
targets=${PYCTX_FUZZ_TARGETS:-cbor call}
build=${PYCTX_FUZZ_BUILD_DIR:-$root/build-fuzz}
work=${PYCTX_FUZZ_WORK:-$build/fuzz-work}

bash "$root/scripts/deps.sh" fuzz
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPYCTX_FUZZ=ON -DPYCTX_BUILD_TESTS=OFF -DPYCTX_BUILD_BENCH=OFF \
    -DPYCTX_BUILD_EXAMPLES=OFF >/dev/null
fi
# shellcheck disable=SC2086 # a word list
cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' $targets)

# Leak checking, per target (LSan is on for both):
#  - cbor: libFuzzer checks after every input that allocated more than it
#    freed, and LSan at exit.
#  - call: one check of the whole run at exit, made by the target itself
#    while Python is still up (see shutdown_at_exit in fuzz_call.cpp); the
#    per-input check is off (-detect_leaks=0) because pooled requests and
#    results released on library threads make nearly every input look
#    unbalanced, and a heap scan after each one costs 99% of the throughput.
declare -A fuzz_opts=([cbor]="" [call]="-detect_leaks=0")

# One target: run it, then judge its log. Prints its report; exit status 0
# when it found nothing.
run_target() {
  local t=$1 bin="$build/tests/fuzz/fuzz_$1" out="$work/$1" rc=0
  rm -rf "$out/artifacts"  # only this run's findings count
  mkdir -p "$out/corpus" "$out/artifacts"
  local log="$out/last.log"
  # shellcheck disable=SC2086 # the options are flag lists
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$bin" ${fuzz_opts[$t]:-} -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
      -dict="$here/cbor.dict" -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
      ${PYCTX_FUZZ_ARGS:-} "$out/corpus" "$here/corpus/$t" >"$log" 2>&1 || rc=$?
  echo "fuzz_$t: ${seconds}s (log: $log)"
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed 's/^/  /' || true
  # libFuzzer exits non-zero on a crash, leak, timeout or OOM; a sanitizer
  # report on another thread or an artifact left behind fails the run too.
  if ((rc != 0)) || grep -qE '^==[0-9]+==ERROR|runtime error:' "$log" ||
     compgen -G "$out/artifacts/*" >/dev/null; then
    echo "fuzz_$t FAILED (exit $rc); report:"
    grep -E -A40 '^==[0-9]+==ERROR|runtime error:|^fuzz_' "$log" | head -80 || tail -40 "$log"
    ls -l "$out/artifacts" || true
    return 1
  fi
}

# The targets run side by side (each is one process on one core), so the
# step takes one target's time, not the sum. Reports print in order.
mkdir -p "$work"
declare -A pid_of
for t in $targets; do
  run_target "$t" >"$work/$t.report" 2>&1 &
  pid_of[$t]=$!
done
failed=()
for t in $targets; do
  wait "${pid_of[$t]}" || failed+=("$t")
  cat "$work/$t.report"
done
if ((${#failed[@]})); then
  echo "fuzzing FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzzing passed: $targets"
