#!/usr/bin/env bash
# `cargo deny check` offline: the advisories come from the RustSec snapshot in
# ../shared/advisory-db (see its SNAPSHOT.md), copied into a git repository where
# cargo-deny expects its database. Extra arguments go to `cargo deny check`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PATH="$(deploy/tools.sh | tail -1):$PATH"
snapshot="${NTSB_ADVISORY_DB:-../shared/advisory-db}"
[ -d "$snapshot/crates" ] || { echo "deny.sh: no advisory snapshot at $snapshot" >&2; exit 1; }
dbs="target/advisory-dbs"
# cargo-deny names the clone of db-urls[0] like this (url host, then a hash of the url).
db="$dbs/advisory-db-3157b0e258782691"
stamp="$(cd "$snapshot" && find . -type f -newer "$dbs/.stamp" 2>/dev/null | head -1 || true)"
if [ ! -d "$db/.git" ] || [ -n "$stamp" ] || [ ! -e "$dbs/.stamp" ]; then
  rm -rf "$db"
  mkdir -p "$db"
  cp -r "$snapshot"/. "$db"/
  git -C "$db" init -q
  git -C "$db" add -A
  git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost commit -q -m "RustSec advisory-db snapshot"
  touch "$dbs/.stamp"
fi
cargo deny --frozen check "$@"
