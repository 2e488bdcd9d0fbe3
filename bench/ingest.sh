#!/usr/bin/env bash
# Load benchmark: loads everything under ../shared/data/ntsb into a fresh store, then
# loads it again (which must change nothing), printing seconds, events/s, rows/s, peak
# memory and store size for both runs.
#
# Usage: bench/ingest.sh [DATA_DIR] [DB_URL]   (default ../shared/data/ntsb, a fresh SQLite file)
#   DB_URL postgres://user@host:port/db: a fresh database is created next to `db` on that
#   server for the run (and dropped after), e.g.
#   bench/ingest.sh ../shared/data/ntsb postgres://postgres@127.0.0.1:5432/postgres
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine you used.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/ntsb}"
DB_URL="${2:-}"
[ -d "$DATA" ] || { echo "bench/ingest.sh: $DATA not found (the shared NTSB corpus)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

cargo build --release --locked -q
BIN=target/release/ntsb
WORK=$(mktemp -d)
DB_ARGS=()
PG_DB=""
case "$DB_URL" in
  postgres://*|postgresql://*)
    command -v psql >/dev/null || { echo "bench/ingest.sh: psql is needed for a PostgreSQL URL" >&2; exit 1; }
    PG_DB="ntsb_bench_$$"
    psql "$DB_URL" -qc "CREATE DATABASE $PG_DB"
    # Same server and credentials, the fresh database instead of the URL's.
    BENCH_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$DB_URL" "$PG_DB")
    DB_ARGS=(--db "$BENCH_URL")
    ;;
  "") ;;
  *) DB_ARGS=(--db "$DB_URL") ;;
esac
cleanup() {
  rm -rf "$WORK"
  if [ -n "$PG_DB" ]; then psql "$DB_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" || true; fi
}
trap cleanup EXIT

run() {
  local label=$1
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN" --data-dir "$WORK/data" "${DB_ARGS[@]}" ingest "$DATA" --json >"$WORK/$label.json" 2>"$WORK/$label.log"
  read -r secs kib <"$WORK/time"
  local pg_bytes=0
  if [ -n "$PG_DB" ]; then pg_bytes=$(psql "$DB_URL" -Atc "SELECT pg_database_size('$PG_DB')"); fi
  python3 - "$WORK/$label.json" "$label" "$secs" "$kib" "$WORK/data" "$pg_bytes" <<'PY'
import json, os, sys
path, label, secs, kib, data = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
pg_bytes = int(sys.argv[6])
r = json.load(open(path))
t = r["totals"]
rows = sum(c["inserted"] + c["updated"] + c["unchanged"] for c in t.values())
writes = sum(c["inserted"] + c["updated"] for c in t.values())
rejected = sum(c["rejected"] for c in t.values())
ev = t.get("events", {})
events = ev.get("inserted", 0) + ev.get("updated", 0) + ev.get("unchanged", 0)
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs) + pg_bytes
print(f"{label}: {secs:.1f} s total, {events/secs:,.0f} events/s, {rows/secs:,.0f} rows/s, "
      f"peak RSS {kib/1024:,.0f} MiB, store+index {size/2**20:,.0f} MiB, "
      f"rows {rows:,}, writes {writes:,}, rejected {rejected:,}, indexed {r['indexed']:,}, files {len(r['files'])}")
PY
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -r)"
if [ -n "$PG_DB" ]; then echo "store: PostgreSQL database $PG_DB"; else echo "store: ${DB_URL:-a fresh SQLite file}"; fi
run first-load
run re-ingest
