#!/usr/bin/env bash
# Installs the Debian packages a build needs, only when something is missing.
#   scripts/deps.sh core        C/C++ toolchain, CMake, GoogleTest, Python headers,
#                               numpy for Debian's python3 (the process-context test)
#   scripts/deps.sh bindings    + Go, Erlang/OTP, rebar3, git, Rust >= 1.85
#                               and the serde crates the Rust tests build
#   scripts/deps.sh fuzz        + clang and its sanitizer/libFuzzer runtimes
set -euo pipefail

# rust_ok CARGO: CARGO runs and is at least 1.85, the crates' rust-version
# (edition 2024).
rust_ok() {
  local version major minor
  version=$("$1" --version 2>/dev/null | awk '{print $2}') || return 1
  IFS=. read -r major minor _ <<<"$version"
  [[ -n "$major" && -n "$minor" ]] && ((major > 1 || (major == 1 && minor >= 85)))
}

want=(cmake g++ make pkg-config libgtest-dev libbenchmark-dev python3-dev python3-numpy binutils)
if [[ "${1:-core}" == bindings ]]; then
  want+=(golang-go erlang-nox erlang-dev rebar3 git librust-serde-dev librust-futures-core-dev librust-serde-derive-dev librust-log-dev)
  # Debian 12's plain cargo/rustc (1.65/1.63) cannot read the crates: its
  # cargo-web/rustc-web (1.85 and later updates) can; they replace the plain
  # ones. A rustup toolchain in ~/.cargo is used when it is new enough.
  if ! { command -v cargo >/dev/null 2>&1 && rust_ok cargo; } && ! rust_ok "$HOME/.cargo/bin/cargo"; then
    want+=(cargo-web rustc-web)
  fi
fi
# Debian 12's clang is clang-14; libFuzzer and the sanitizer runtimes ship
# in libclang-rt-14-dev.
if [[ "${1:-core}" == fuzz ]]; then want+=(clang libclang-rt-14-dev); fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
