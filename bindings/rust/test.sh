#!/usr/bin/env bash
# Builds and tests the Rust binding: unit, integration and doc tests (debug),
# then the examples in release, running each briefly. Every step runs even
# after a failure; the exit status is non-zero if any failed. Uses
# PYCTX_BUILD_DIR (default: this repository's build/) to find libpyctx;
# nothing is downloaded.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYCTX_BUILD_DIR="${PYCTX_BUILD_DIR:-$here/../../build}"
export CARGO_NET_OFFLINE=true
cd "$here" || exit 1

# rustup installs into ~/.cargo/bin, which a non-login shell may lack.
command -v cargo >/dev/null 2>&1 || PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
    echo "bindings/rust/test.sh: cargo not found (install a Rust toolchain >= 1.85)" >&2
    exit 1
fi

failed=()
step() {
    local name="$1"
    shift
    echo "== $name"
    if ! "$@"; then
        failed+=("$name")
    fi
}

step "cargo test (library: $PYCTX_BUILD_DIR)" cargo test --jobs 2 --no-fail-fast --all-targets
step "doc tests" cargo test --jobs 2 --doc
if step "build examples (release)" cargo build --jobs 2 --release --examples; then
    step "example hello" ./target/release/examples/hello
    step "example bench_roundtrip" ./target/release/examples/bench_roundtrip --calls 2000 --rounds 3
fi

if ((${#failed[@]})); then
    printf 'bindings/rust: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "== bindings/rust: all passed"
