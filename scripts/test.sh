#!/usr/bin/env bash
# Builds and runs every test suite: the C/C++ suite against the newest
# Python (>= 3.12 when present), against Python 3.12 and against an older
# one, the same suite under ThreadSanitizer and under ASan+UBSan, the
# libFuzzer targets for a bounded time, then the examples and benchmark
# smoke checks, the installed package (tests/package/run.sh) and the Rust,
# Go and Erlang bindings. Each suite's wall time is printed.
#
#   PYCTX_TEST_QUICK=1   only the main build and the bindings (no extra Pythons,
#                        no sanitizers, no fuzzing)
#   PYCTX_PYTHON312=...  the Python 3.12 to test (default: pyenv's newest 3.12)
#   PYCTX_FUZZ_SECONDS   fuzzing time per target (default 30 here; 60 in tests/fuzz/run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

bash scripts/deps.sh bindings
[[ -d "$HOME/.cargo/bin" ]] && export PATH="$HOME/.cargo/bin:$PATH"

failed=()
suites=0
times=()
step_name=""
# Each step is one suite; its wall time is printed when the next one starts.
end_step() {
  [[ -n "$step_name" ]] || return 0
  times+=("$(printf '%5d s  %s' $((SECONDS - step_start)) "$step_name")")
  echo "---- $step_name: $((SECONDS - step_start)) s"
  step_name=""
}
step() { end_step; echo; echo "==== $*"; suites=$((suites + 1)); step_name="$*"; step_start=$SECONDS; }

run_ctest() {  # build-dir label
  if ! ctest --test-dir "$1" --output-on-failure --no-tests=error -j2; then failed+=("$2"); fi
}


# The library with line tables only (-g1), not full debug info: the
# builds below are most of this command's time, and -g1 still gives a
# sanitizer report or a hung test's gdb backtrace its file and line (a
# build of the library and tests: 111 s at -g0 against 155 s at -g, on 2
# cores). The main build keeps full debug info.
line_tables=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
             -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")

build() {  # build-dir [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

step "C/C++ suite, newest Python"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYCTX_BUILD_TESTS=ON
grep PYCTX_PYTHON_VERSION build/python.env
run_ctest build "ctest (default Python)"

if [[ -z "${PYCTX_TEST_QUICK:-}" ]]; then
  # An older Python: Debian's 3.11 (owngil must report unsupported there).
  old_python=""
  for cand in /usr/bin/python3.11 /usr/bin/python3.10 /usr/bin/python3.9; do
    [[ -x "$cand" ]] && { old_python=$cand; break; }
  done
  if [[ -n "$old_python" ]]; then
    step "C/C++ suite, $old_python"
    build build-oldpy -DPYCTX_PYTHON="$old_python" "${line_tables[@]}" -DPYCTX_BUILD_TESTS=ON -DPYCTX_BUILD_BENCH=OFF -DPYCTX_BUILD_EXAMPLES=OFF
    # Debian's python3-numpy (scripts/deps.sh) serves Debian's python3: when
    # that is the Python here, its numpy tests (test_process_numpy and the
    # numpy cases of test_buffers) must run, not skip.
    if [[ "$old_python" -ef /usr/bin/python3 ]]; then
      PYCTX_TEST_REQUIRE_NUMPY=1 run_ctest build-oldpy "ctest ($old_python)"
    else
      run_ctest build-oldpy "ctest ($old_python)"
    fi
  fi

  # Python 3.12 as well: its subinterpreters (owngil) and import machinery
  # differ from 3.13's. A shared-libpython build, like every Python here.
  py312=${PYCTX_PYTHON312:-}
  if [[ -z "$py312" ]]; then
    for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
      [[ -x "$cand" ]] && py312=$cand
    done
  fi
  if [[ -z "$py312" ]]; then
    end_step; echo; echo "==== skipped: C/C++ suite on Python 3.12 (no python3.12 under pyenv; set PYCTX_PYTHON312)"
  elif grep -q '^PYCTX_PYTHON_VERSION=3\.12\.' build/python.env; then
    end_step; echo; echo "==== skipped: C/C++ suite on Python 3.12 (the main build already embeds 3.12)"
  else
    step "C/C++ suite, Python 3.12 ($py312)"
    build build-py312 -DPYCTX_PYTHON="$py312" "${line_tables[@]}" -DPYCTX_BUILD_TESTS=ON -DPYCTX_BUILD_BENCH=OFF -DPYCTX_BUILD_EXAMPLES=OFF
    run_ctest build-py312 "ctest (Python 3.12)"
  fi

  step "C/C++ suite under ThreadSanitizer"
  build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo "${line_tables[@]}" -DPYCTX_TSAN=ON -DPYCTX_BUILD_TESTS=ON -DPYCTX_BUILD_BENCH=OFF -DPYCTX_BUILD_EXAMPLES=OFF
  TSAN_OPTIONS=halt_on_error=1 run_ctest build-tsan "ctest (TSan)"

  step "C/C++ suite under ASan+UBSan"
  build build-asan -DCMAKE_BUILD_TYPE=Debug -DPYCTX_SANITIZE=ON -DPYCTX_BUILD_TESTS=ON -DPYCTX_BUILD_BENCH=OFF -DPYCTX_BUILD_EXAMPLES=OFF
  # CPython keeps interned objects until exit: leak reports are noise here.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest build-asan "ctest (ASan+UBSan)"

    # 30 s per target here (tests/fuzz/run.sh alone: 60 s); longer runs are
  # for PYCTX_FUZZ_SECONDS.
  export PYCTX_FUZZ_SECONDS=${PYCTX_FUZZ_SECONDS:-30}
  step "fuzzing: tests/fuzz/run.sh (${PYCTX_FUZZ_SECONDS}s per target)"
  if ! bash tests/fuzz/run.sh; then failed+=("fuzzing"); fi
fi

export PYCTX_BUILD_DIR="$root/build"
step "examples and benchmark smoke checks"
if ! sh examples/run_tests.sh; then failed+=("examples/bench"); fi

step "installed package: C consumers (find_package, pkg-config, static)"
if ! bash tests/package/run.sh; then failed+=("installed package"); fi

for lang in rust go erlang; do
  if [[ -f "bindings/$lang/test.sh" ]]; then
    step "$lang binding"
    if ! bash "bindings/$lang/test.sh"; then failed+=("$lang binding"); fi
  fi
done

step "bindings from outside projects (Rust crate, Go module, rebar3 project)"
if ! bash tests/package/bindings.sh; then failed+=("bindings from outside"); fi

end_step
echo
printf '%s\n' "${times[@]}"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  echo "suites: $((suites - ${#failed[@]})) passed, ${#failed[@]} failed"
  exit 1
fi
echo "suites: $suites passed, 0 failed"
