#!/usr/bin/env bash
# One version and one licence across the project: every place that states
# the release version must state the same one, and every manifest must name
# the licence of LICENSE (Apache-2.0). The reference version is CMake's
# project(VERSION). CHANGELOG.md must have an entry for it.
#
#   tests/release/check_metadata.sh [REPO_ROOT]
# Exit status 0 only when everything agrees; each mismatch is printed.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# holds WHAT_OK WHAT_FAILED COMMAND...: reports whether COMMAND succeeds.
holds() {
  local ok=$1 bad=$2
  shift 2
  if "$@"; then echo "ok:   $ok"; else fail "$bad"; fi
}

want=$(sed -n 's/^project(pyctx VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[[ -n "$want" ]] || { echo "FAIL: no project(pyctx VERSION x.y.z) in CMakeLists.txt"; exit 1; }
licence=Apache-2.0

# agree WHERE GOT: GOT must be the CMake version.
agree() {
  if [[ "$2" == "$want" ]]; then echo "ok:   $1: $2"; else fail "$1 says '${2:-nothing}', CMake says $want"; fi
}

macro() { sed -n "s/^#define PYCTX_VERSION_$1 \([0-9]*\)$/\1/p" include/pyctx.h; }
agree "include/pyctx.h PYCTX_VERSION_*" "$(macro MAJOR).$(macro MINOR).$(macro PATCH)"

# Every Cargo package of the Rust bindings: the version and licence of its
# [package] (or of [workspace.package], for members that inherit them).
# field FILE KEY: the value of KEY in [package] or [workspace.package].
field() {
  awk -v key="$2" '/^\[/ {sec = ($0 == "[package]" || $0 == "[workspace.package]")}
    sec && $0 ~ "^" key " *=" {sub("^" key " *= *", ""); gsub(/"/, ""); print; exit}' "$1"
}
while IFS= read -r toml; do
  grep -qE '^\[(workspace\.)?package\]' "$toml" || continue   # a bare [workspace]
  if grep -q '^version.workspace *= *true' "$toml"; then continue; fi
  agree "$toml" "$(field "$toml" version)"
  grep -q '^license.workspace *= *true' "$toml" && continue
  got=$(field "$toml" license)
  holds "$toml licence: $got" "$toml licence '$got', want $licence" test "$got" = "$licence"
done < <(find bindings/rust -name Cargo.toml -not -path '*/target/*' | sort)

app=bindings/erlang/src/pyctx.app.src
agree "$app" "$(sed -n 's/.*{vsn, *"\([^"]*\)"}.*/\1/p' "$app")"
holds "$app licence: $licence" "$app licenses is not [\"$licence\"]" \
  grep -q "{licenses, *\[\"$licence\"\]}" "$app"

agree "bindings/go/README.md" "$(sed -n 's/^Version \([0-9][0-9.]*[0-9]\),.*/\1/p' bindings/go/README.md | head -1)"
# A version constant in the Go package, once it has one, must agree too.
while IFS= read -r line; do
  agree "bindings/go ${line%%:*}" "$(sed -n 's/.*Version *= *"v\{0,1\}\([0-9.]*\)".*/\1/p' <<<"${line#*:}")"
done < <(grep -H -E '^\s*(const\s+)?[A-Za-z]*Version\s*=\s*"v?[0-9]+\.[0-9]+\.[0-9]+"' bindings/go/*.go 2>/dev/null)

holds "CHANGELOG.md has [$want]" "CHANGELOG.md has no '## [$want]' entry" grep -q "^## \[$want\]" CHANGELOG.md
holds "LICENSE is $licence" "LICENSE is not the Apache License 2.0" \
  grep -q "^ *Version 2.0, January 2004" LICENSE

echo "release metadata: $failures mismatch(es)"
[[ $failures == 0 ]]
