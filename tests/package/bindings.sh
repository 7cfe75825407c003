#!/usr/bin/env bash
# The bindings used from outside projects against an installed pyctx only:
# installs pyctx into a fresh prefix (scripts/install-to.sh), copies each
# binding out of the source tree (so nothing can fall back to <repo>/build
# or <repo>/include) and builds and runs
#   1. a Rust crate depending on the pyctx crates (serde feature on),
#   2. a Go module using the Go package through `replace` (with the
#      program's own rpath), and again through a go.work workspace (with
#      none: the package itself must record no search path),
#   3. a rebar3 project depending on the pyctx application (git_subdir),
# each finding libpyctx through `pkg-config pyctx` of the prefix. Every
# program must load the prefix's libpyctx and record no path into the
# source tree. Nothing is downloaded: Rust crates come from Debian's
# registry (bindings/rust/ci/debian-registry.toml).
#
#   PYCTX_BUILD_DIR   build tree to install from (default <repo>/build)
# Exit status 0 only when every check passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${PYCTX_BUILD_DIR:-$root/build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

bash "$root/scripts/install-to.sh" "$prefix" "$build" >/dev/null || { echo "FAIL: install"; exit 1; }
libdir=$(cd "$prefix/lib" && pwd)
# Only the prefix: no loader or build paths of this machine's shell leak in.
unset LD_LIBRARY_PATH PYCTX_LIB_DIR PYCTX_BUILD_DIR CGO_LDFLAGS CGO_CFLAGS
# pyctx.pc requires Python's own .pc, which may live outside the default
# path; pyctx.pc names its directory.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export PKG_CONFIG_PATH="$libdir/pkgconfig:$(pkg-config --variable=python_pcdir pyctx)"

# The bindings, copied out of the source tree (their tests stay behind).
mkdir -p "$work/src"
cp -r "$root/bindings/rust" "$work/src/rust"
rm -rf "$work/src/rust/target"
cp -r "$root/bindings/go" "$work/src/go"
mkdir -p "$work/erlang-repo/bindings/erlang"
cp -r "$root/bindings/erlang/pyctx" "$work/erlang-repo/bindings/erlang/pyctx"
rm -rf "$work/erlang-repo/bindings/erlang/pyctx/_build" "$work/erlang-repo/bindings/erlang/pyctx/priv"

# run NAME CMD...: CMD exits 0 and prints a line ending in ": ok".
run() {
  local name=$1; shift
  if "$@" >"$work/$name.out" 2>&1 && grep -q ': ok$' "$work/$name.out"; then
    pass "$name runs: $(grep ': ok$' "$work/$name.out")"
  else
    fail "$name run"; tail -20 "$work/$name.out"
  fi
}
# loads_prefix NAME FILE: the libpyctx the loader picks for FILE is the
# prefix's, and FILE's RPATH/RUNPATH names nothing in the source tree.
loads_prefix() {
  local got paths
  got=$(ldd "$2" | awk '/libpyctx/ {print $3}')
  if [[ -n "$got" && $(realpath "$got") == "$libdir"/* ]]; then
    pass "$1 loads $got"
  else
    fail "$1 loads libpyctx from '${got:-nowhere}', not $libdir"
  fi
  paths=$(readelf -d "$2" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
  if [[ "$paths" == *"$root"* ]]; then
    fail "$1 records a path into the source tree: $paths"
  else
    pass "$1 search path: ${paths:-none}"
  fi
}

# ---- 1. Rust ----------------------------------------------------------------------
cargo=cargo
command -v cargo >/dev/null 2>&1 || cargo="$HOME/.cargo/bin/cargo"
mkdir -p "$work/rust-app"
cp -r "$here/consumers/rust/." "$work/rust-app/"
sed "s|@CRATES@|$work/src/rust|" "$here/consumers/rust/Cargo.toml.in" >"$work/rust-app/Cargo.toml"
rm "$work/rust-app/Cargo.toml.in"
# The lock of the binding's workspace pins the crates Debian ships.
cp "$root/bindings/rust/Cargo.lock" "$work/rust-app/Cargo.lock"
# Registry crates (serde and its derive) are built once and kept beside the
# binding's own target directory; pyctx and the app are built from the copy.
if (cd "$work/rust-app" &&
    CARGO_TARGET_DIR="$root/bindings/rust/target/outside" \
      "$cargo" --config "$root/bindings/rust/ci/debian-registry.toml" build --jobs 2 --quiet \
      >"$work/rust-build.log" 2>&1); then
  pass "Rust crate builds against the prefix"
  exe=$root/bindings/rust/target/outside/debug/pyctx-outside
  run rust "$exe"
  loads_prefix rust "$exe"
  # PYCTX_LIB_DIR overrides pkg-config: pointing nowhere is an error naming
  # it (never a silent fallback), pointing at the build tree links that.
  rust_build() {
    (cd "$work/rust-app" && CARGO_TARGET_DIR="$root/bindings/rust/target/outside" \
      "$cargo" --config "$root/bindings/rust/ci/debian-registry.toml" build --jobs 2 --quiet)
  }
  if PYCTX_LIB_DIR=$work/nowhere rust_build >"$work/rust-nowhere.log" 2>&1; then
    fail "Rust crate built with PYCTX_LIB_DIR pointing nowhere"
  elif grep -q "PYCTX_LIB_DIR=$work/nowhere: no libpyctx.so" "$work/rust-nowhere.log"; then
    pass "PYCTX_LIB_DIR pointing nowhere stops the build, naming it"
  else
    fail "PYCTX_LIB_DIR pointing nowhere: unclear error"; tail -20 "$work/rust-nowhere.log"
  fi
  built=$(cd "$build" && pwd)
  if PYCTX_LIB_DIR=$built rust_build >"$work/rust-override.log" 2>&1 &&
     [[ $(realpath "$(ldd "$exe" | awk '/libpyctx/ {print $3}')") == "$built"/* ]]; then
    pass "PYCTX_LIB_DIR wins over pkg-config"
  else
    fail "PYCTX_LIB_DIR did not override pkg-config"; tail -20 "$work/rust-override.log"; ldd "$exe" | grep pyctx
  fi
else
  fail "Rust crate build"; tail -30 "$work/rust-build.log"
fi

# ---- 2. Go --------------------------------------------------------------------------
export GOPROXY=off GOFLAGS=-buildvcs=false GO111MODULE=on
module=github.com/pyctx/pyctx/bindings/go
# The program's own choice of rpath; the package itself bakes in none.
go_ldflags="-Wl,-rpath,$libdir"
mkdir -p "$work/go-replace"
cp "$here/consumers/go/main.go" "$work/go-replace/"
cat >"$work/go-replace/go.mod" <<MOD
module example.com/outside

go 1.19

require $module v0.0.0

// Until the module is published: the binding from a local copy.
replace $module => $work/src/go
MOD
if (cd "$work/go-replace" && CGO_LDFLAGS="$go_ldflags" go build -o outside . >"$work/go-build.log" 2>&1); then
  pass "Go module (replace) builds against the prefix"
  run go-replace "$work/go-replace/outside"
  loads_prefix go-replace "$work/go-replace/outside"
else
  fail "Go module (replace) build"; tail -30 "$work/go-build.log"
fi

mkdir -p "$work/go-work/app"
cp "$here/consumers/go/main.go" "$work/go-work/app/"
printf 'module example.com/outside\n\ngo 1.19\n' >"$work/go-work/app/go.mod"
printf 'go 1.19\n\nuse (\n\t./app\n\t%s\n)\n' "$work/src/go" >"$work/go-work/go.work"
# Built without the program's rpath this time: the package itself records
# no search path, so the loader needs LD_LIBRARY_PATH (or ldconfig).
if (cd "$work/go-work/app" && go build -o outside . >"$work/go-work.log" 2>&1); then
  pass "Go module (go.work) builds against the prefix"
  if readelf -d "$work/go-work/app/outside" | grep -qE 'R(UN)?PATH'; then
    fail "go-work: the package records a search path: $(readelf -d "$work/go-work/app/outside" | grep -E 'R(UN)?PATH')"
  else
    pass "go-work: the package records no search path"
  fi
  run go-work env LD_LIBRARY_PATH="$libdir" "$work/go-work/app/outside"
else
  fail "Go module (go.work) build"; tail -30 "$work/go-work.log"
fi

# ---- 3. Erlang ------------------------------------------------------------------
# git_subdir needs a git repository: one commit of the copied application.
(cd "$work/erlang-repo" && git init -q -b main && git add -A &&
   git -c user.name=pyctx -c user.email=pyctx@localhost commit -qm "pyctx application") ||
  fail "git repository for git_subdir"
mkdir -p "$work/erlang-app/src"
cp "$here/consumers/erlang/src/"* "$work/erlang-app/src/"
sed "s|@REPO_URL@|file://$work/erlang-repo|" "$here/consumers/erlang/rebar.config.in" >"$work/erlang-app/rebar.config"
if (cd "$work/erlang-app" && HEX_OFFLINE=1 timeout 120 rebar3 compile >"$work/erlang-build.log" 2>&1); then
  pass "rebar3 project builds pyctx (git_subdir) against the prefix"
  # rebar3 3.19 checks a git_subdir dependency out at lib/pyctx/<subdir>
  # (and `rebar3 path` omits it): take every ebin/ it built.
  ebins=$(find "$work/erlang-app/_build/default/lib" -name ebin -type d -not -path '*/.git/*')
  nif=$(find "$work/erlang-app/_build/default/lib" -name pyctx_nif.so | head -1)
  # shellcheck disable=SC2086  # one -pa per directory
  run erlang timeout 60 erl -noshell -pa $ebins -eval 'outside:main()'

  loads_prefix erlang-nif "$nif"
else
  fail "rebar3 project build"; tail -30 "$work/erlang-build.log"
fi

echo "bindings from outside: $failures failure(s)"
[[ $failures == 0 ]]
