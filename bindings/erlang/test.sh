#!/usr/bin/env bash
# Builds the Erlang binding (NIF + OTP application) and runs its whole test
# suite (EUnit). Exits non-zero when anything fails.
#   PYCTX_BUILD_DIR  CMake build directory holding libpyctx.so
#                    (default: <repo>/build). The NIF records no path to
#                    it (c_src/Makefile): the loader finds it through
#                    LD_LIBRARY_PATH, set here for the test run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export PYCTX_BUILD_DIR="${PYCTX_BUILD_DIR:-$repo/build}"
# rebar3 must never reach for hex: the application has no dependencies.
export HEX_OFFLINE=1 REBAR_OFFLINE=1

if [ ! -e "$PYCTX_BUILD_DIR/libpyctx.so" ]; then
    echo "erlang binding: $PYCTX_BUILD_DIR/libpyctx.so not found; build the library first" >&2
    exit 1
fi
export LD_LIBRARY_PATH="$PYCTX_BUILD_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for tool in erl rebar3 make cc; do
    command -v "$tool" >/dev/null || { echo "erlang binding: '$tool' is not installed" >&2; exit 1; }
done

cd "$here/pyctx"
timeout 60 rebar3 compile
timeout 240 rebar3 eunit
