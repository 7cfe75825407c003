#!/usr/bin/env bash
# Builds and tests the Rust binding, the workspace of `pyctx-sys` and `pyctx`:
# unit, integration and doc tests (debug, with the `serde`, `futures` and
# `log` features), the safe crate without them, then the examples in release,
# running each briefly. Every step runs even after a failure; the exit status
# is non-zero if any failed.
#
# libpyctx: PYCTX_LIB_DIR, else PYCTX_BUILD_DIR, else this repository's
# build/. Crates (serde, futures-core, log) come from Debian's
# /usr/share/cargo/registry through ci/debian-registry.toml; nothing is
# downloaded.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYCTX_LIB_DIR="${PYCTX_LIB_DIR:-${PYCTX_BUILD_DIR:-$here/../../build}}"
export CARGO_NET_OFFLINE=true
cd "$here" || exit 1

# rustup installs into ~/.cargo/bin, which a non-login shell may lack.
command -v cargo >/dev/null 2>&1 || PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
    echo "bindings/rust/test.sh: cargo not found (install a Rust toolchain >= 1.85: scripts/deps.sh bindings)" >&2
    exit 1
fi
if ! ls -d /usr/share/cargo/registry/serde-1.* /usr/share/cargo/registry/serde_derive-1.* >/dev/null 2>&1; then
    echo "bindings/rust/test.sh: Debian's serde crates are missing (librust-serde-dev librust-serde-derive-dev: scripts/deps.sh bindings)" >&2
    exit 1
fi
if ! ls -d /usr/share/cargo/registry/futures-core-0.3.* >/dev/null 2>&1; then
    echo "bindings/rust/test.sh: Debian's futures-core crate is missing (librust-futures-core-dev: scripts/deps.sh bindings)" >&2
    exit 1
fi
if ! ls -d /usr/share/cargo/registry/log-0.4.* >/dev/null 2>&1; then
    echo "bindings/rust/test.sh: Debian's log crate is missing (librust-log-dev: scripts/deps.sh bindings)" >&2
    exit 1
fi
cargo=(cargo --config "$here/ci/debian-registry.toml")
features=pyctx/serde,pyctx/futures,pyctx/log

failed=()
step() {
    local name="$1"
    shift
    echo "== $name"
    if ! "$@"; then
        failed+=("$name")
    fi
}

step "cargo test (library: $PYCTX_LIB_DIR)" \
    "${cargo[@]}" test --jobs 2 --no-fail-fast --workspace --all-targets --features "$features"
step "doc tests" "${cargo[@]}" test --jobs 2 --workspace --doc --features "$features"
step "pyctx without the serde, futures and log features" "${cargo[@]}" build --jobs 2 -p pyctx --lib
if step "build examples (release)" "${cargo[@]}" build --jobs 2 --release -p pyctx --examples; then
    step "example hello" ./target/release/examples/hello
    step "example bench_roundtrip" ./target/release/examples/bench_roundtrip --calls 2000 --rounds 3
fi

if ((${#failed[@]})); then
    printf 'bindings/rust: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "== bindings/rust: all passed"
