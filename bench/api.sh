#!/usr/bin/env bash
# HTTP benchmark of the REST API with a real load generator (wrk, installed if missing).
#
# Loads the shared corpus into a bench store (once; kept under target/bench-api unless
# BENCH_DATA_DIR says otherwise), starts `ntsb serve` on a free port, and drives every
# endpoint group, printing requests/s and p50/p95/p99 (ms) per group, then holds 10,000
# concurrent connections, and finally prints the server's peak memory.
#
# Usage: bench/api.sh [--cold] [--db URL] [DATA]   (DATA default ../shared/data/ntsb)
#   --cold    serve with the response cache off (NTSB_CACHE_MB=0): every request
#             reaches the store; without it repeated URLs are answered from the cache.
#   --db URL  serve from this store (a PostgreSQL URL or a SQLite path) instead of the
#             bench data dir's own SQLite store; it must already hold the corpus.
# Environment: DURATION (seconds per group, default 10), CONNECTIONS (default 64).
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine you used.
set -euo pipefail
cd "$(dirname "$0")/.."

COLD=0
DB=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cold) COLD=1; shift ;;
    --db) DB="$2"; shift 2 ;;
    *) break ;;
  esac
done
DATA="${1:-../shared/data/ntsb}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
BENCH_DATA_DIR="${BENCH_DATA_DIR:-target/bench-api}"

. bench/lib.sh
bench_tools

cargo build --release --locked -q
BIN=$PWD/target/release/ntsb
DB_ARGS=()
[ -n "$DB" ] && DB_ARGS=(--db "$DB")

if [ -z "$DB" ] && [ ! -e "$BENCH_DATA_DIR/.loaded" ]; then
  [ -d "$DATA" ] || { echo "bench/api.sh: $DATA not found (the shared NTSB corpus)" >&2; exit 1; }
  echo "loading $DATA into $BENCH_DATA_DIR (once)"
  rm -rf "$BENCH_DATA_DIR"
  "$BIN" --data-dir "$BENCH_DATA_DIR" ingest "$DATA" >/dev/null
  touch "$BENCH_DATA_DIR/.loaded"
fi

# Exports need a user: an admin key (unlimited) made once for the bench store.
export NTSB_JWT_SECRET="${NTSB_JWT_SECRET:-bench-secret-0123456789abcdef0123456789}"
# One key file per store: the bench data dir's own, or one per --db URL.
KEY_FILE="$BENCH_DATA_DIR/.bench-key"
[ -n "$DB" ] && KEY_FILE="$BENCH_DATA_DIR/.bench-key-$(printf '%s' "$DB" | sha256sum | cut -c1-12)"
BENCH_KEY=$(bench_admin_key "$BIN" "$BENCH_DATA_DIR" "$KEY_FILE" "${DB_ARGS[@]}")

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# 10,000 clients connect at once: the kernel caps the server's accept queue at
# net.core.somaxconn (see docs/OPERATIONS.md); raise it when allowed, say so when not.
if [ "$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 0)" -lt 16384 ]; then
  sysctl -qw net.core.somaxconn=16384 2>/dev/null \
    || echo "note: net.core.somaxconn is $(cat /proc/sys/net/core/somaxconn); the 10,000-connection group may see SYN retries"
fi
CACHE_MB=256
[ "$COLD" = 1 ] && CACHE_MB=0
# Anonymous limits off: the bench drives public endpoints from one address.
NTSB_QUOTA_ANONYMOUS=0 NTSB_BURST_ANONYMOUS=0 NTSB_MAX_CONNECTIONS_PER_IP=0 NTSB_CACHE_MB=$CACHE_MB NTSB_LOG=warn "$BIN" --data-dir "$BENCH_DATA_DIR" "${DB_ARGS[@]}" serve \
  --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.2; done
curl -sf "$BASE/ready" >/dev/null || { cat "$WORK/server.log"; echo "server did not become ready" >&2; exit 1; }

# The server builds missing event detail documents in the background (a PostgreSQL
# store's loads build none; a restore empties them): measure once every event has one.
MISSING_SQL="SELECT count(*) FROM event_facts e WHERE NOT EXISTS (SELECT 1 FROM event_documents d WHERE d.event_id = e.id)"
missing_documents() {
  if [[ "$DB" == postgres* ]]; then
    psql "$DB" -Atc "$MISSING_SQL" 2>/dev/null
  else
    sqlite3 -readonly "${DB:-$BENCH_DATA_DIR/ntsb.sqlite}" "$MISSING_SQL" 2>/dev/null
  fi
}
command -v sqlite3 >/dev/null || { apt-get install -y -qq sqlite3 >/dev/null 2>&1 || true; }
missing=unknown
for _ in $(seq 1 300); do
  missing=$(missing_documents || echo unknown)
  [ "$missing" = 0 ] && break
  sleep 1
done
echo "event detail documents missing at the start: ${missing:-unknown}"

# Every event id, for random detail lookups.
curl -sf -H "X-API-Key: $BENCH_KEY" "$BASE/api/v1/export/events.csv" | python3 -c '
import csv, sys
rows = csv.DictReader(sys.stdin)
for r in rows:
    if r["ev_id"]:
        print("/api/v1/events/" + r["ev_id"])
' >"$WORK/detail.paths"

printf '%-28s %10s %9s %9s %9s %8s %8s\n' group 'req/s' 'p50 ms' 'p95 ms' 'p99 ms' 'sockerr' 'non-2xx'
run() { # run NAME CONNECTIONS PATHS_FILE
  local name=$1 conns=$2 file=$3 out
  out=$(bench_wrk "$conns" "$file" "$BASE")
  read -r rps p50 p95 p99 errs status <<<"$out"
  printf '%-28s %10s %9s %9s %9s %8s %8s\n' "$name" "$rps" "$p50" "$p95" "$p99" "$errs" "$status"
}
paths() { # paths NAME LINES...
  local name=$1; shift
  printf '%s\n' "$@" >"$WORK/$name.paths"
  echo "$WORK/$name.paths"
}

run "detail (random ids)" "$CONNECTIONS" "$WORK/detail.paths"
run "events (filtered pages)" "$CONNECTIONS" "$(paths events \
  '/api/v1/events?state=CA&limit=50' '/api/v1/events?year=2008&highest_injury=fatal' \
  '/api/v1/events?make=cessna&model=172&sort=-date' '/api/v1/events?phase=landing&weather=vmc&limit=100' \
  '/api/v1/events?from=2000-01-01&to=2004-12-31&far_part=091&sort=-fatalities' \
  '/api/v1/events?has_narrative=true&state=AK&sort=state' '/api/v1/events?bbox=-125,32,-114,42&limit=200')"
for stat in summary yearly monthly seasonal day-of-week decades states phases weather far-parts; do
  run "stats/$stat" "$CONNECTIONS" "$(paths "$stat" "/api/v1/stats/$stat" "/api/v1/stats/$stat?state=TX" \
    "/api/v1/stats/$stat?from=1995-01-01&highest_injury=fatal")"
done
run "stats/makes" "$CONNECTIONS" "$(paths makes '/api/v1/stats/makes?min_count=50' '/api/v1/stats/makes?state=FL')"
run "stats/make-models" "$CONNECTIONS" "$(paths mm '/api/v1/stats/make-models?min_count=100' \
  '/api/v1/stats/make-models?year=2005')"
run "stats/findings" "$CONNECTIONS" "$(paths findings '/api/v1/stats/findings' '/api/v1/stats/findings?state=AK')"
run "stats/occurrences" "$CONNECTIONS" "$(paths occ '/api/v1/stats/occurrences' '/api/v1/stats/occurrences?year=2012')"
run "search" "$CONNECTIONS" "$(paths search '/api/v1/search?q=engine+failure' '/api/v1/search?q=icing&state=CO' \
  '/api/v1/search?q=%22fuel+exhaustion%22' '/api/v1/search?q=density+altitude&from=2005-01-01' \
  '/api/v1/search?q=wire+strike+helicopter' '/api/v1/search?q=carburetor+ice')"
run "geo/events+radius+density" "$CONNECTIONS" "$(paths geo '/api/v1/geo/events?state=AZ&limit=500' \
  '/api/v1/geo/radius?lat=61.2&lon=-149.9&km=100' '/api/v1/geo/density?cell=1')"
run "geo/clusters" "$CONNECTIONS" "$(paths clusters '/api/v1/geo/clusters?state=AK' '/api/v1/geo/clusters')"

echo "--- 10,000 concurrent connections (stats and detail mix, ${DURATION}s)"
cat "$WORK/detail.paths" "$WORK/summary.paths" "$WORK/events.paths" >"$WORK/mix.paths"
run "10k connections" 10000 "$WORK/mix.paths"

if [ -r "/proc/$SERVER/status" ]; then
  awk '/VmHWM|VmRSS/ {printf "server %s %.0f MiB\n", $1, $2/1024}' "/proc/$SERVER/status"
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; cache ${CACHE_MB} MiB; ${DURATION}s per group"
