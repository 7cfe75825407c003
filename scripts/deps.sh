#!/usr/bin/env bash
# Installs the Debian packages a build needs, only when something is missing.
#   scripts/deps.sh core        C/C++ toolchain, CMake, GoogleTest, Python headers
#   scripts/deps.sh bindings    + Go, Erlang/OTP, rebar3, Rust (cargo)
#   scripts/deps.sh fuzz        + clang and its sanitizer/libFuzzer runtimes
set -euo pipefail

want=(cmake g++ make pkg-config libgtest-dev libbenchmark-dev python3-dev binutils)
if [[ "${1:-core}" == bindings ]]; then
  want+=(golang-go erlang-nox erlang-dev rebar3)
  command -v cargo >/dev/null 2>&1 || [[ -x "$HOME/.cargo/bin/cargo" ]] || want+=(cargo rustc)
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
