#!/usr/bin/env bash
# TLS against plain HTTP: the same `GET /api/v1/events/{ev_id}` load (random ids of the
# store, wrk, keep-alive connections) served once over plain HTTP and once with
# `--tls-cert/--tls-key` (rustls; a throw-away ECDSA P-256 certificate), each with the
# response cache on (repeat ids are cache hits) and off (NTSB_CACHE_MB=0: every request
# reads the store). One server runs at a time, so the two never share the cores.
#
# Usage: bench/tls.sh [DATA]     (DATA default ../shared/data/ntsb, loaded once)
# Environment: NTSB_BIN (a built binary; default: cargo build --release),
#   BENCH_DATA_DIR (a store already holding the corpus; default target/bench-api),
#   DURATION (seconds per run, default 10), CONNECTIONS (space-separated, default "16 64").
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine you used.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${1:-../shared/data/ntsb}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16 64}"
BENCH_DATA_DIR="${BENCH_DATA_DIR:-target/bench-api}"

. bench/lib.sh
bench_tools
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }

if [ -n "${NTSB_BIN:-}" ]; then BIN=$NTSB_BIN; else cargo build --release --locked -q; BIN=$PWD/target/release/ntsb; fi
if [ ! -e "$BENCH_DATA_DIR/ntsb.sqlite" ]; then
  [ -d "$DATA" ] || { echo "bench/tls.sh: $DATA not found (the shared NTSB corpus)" >&2; exit 1; }
  echo "loading $DATA into $BENCH_DATA_DIR (once)"
  "$BIN" --data-dir "$BENCH_DATA_DIR" ingest "$DATA" >/dev/null
fi
export NTSB_JWT_SECRET="${NTSB_JWT_SECRET:-bench-secret-0123456789abcdef0123456789}"
BENCH_KEY=$(bench_admin_key "$BIN" "$BENCH_DATA_DIR" "$BENCH_DATA_DIR/.bench-key")

WORK=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

start() { # start CACHE_MB [TLS ARGS...]: starts the server, sets SERVER and BASE
  local cache=$1; shift
  local port scheme=http
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  [ $# -gt 0 ] && scheme=https
  NTSB_MAX_CONNECTIONS_PER_IP=0 NTSB_CACHE_MB=$cache NTSB_LOG=warn "$BIN" --data-dir "$BENCH_DATA_DIR" serve \
    --listen "127.0.0.1:$port" "$@" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  BASE="$scheme://127.0.0.1:$port"
  for _ in $(seq 300); do curl -skf "$BASE/ready" >/dev/null && return 0; sleep 0.2; done
  cat "$WORK/server.log"; echo "server did not become ready" >&2; exit 1
}
stop() { kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

start 0
# The server builds missing event detail documents in the background (a restore empties
# them): measure once every event has one.
command -v sqlite3 >/dev/null || { apt-get install -y -qq sqlite3 >/dev/null 2>&1 || true; }
for _ in $(seq 1 300); do
  missing=$(sqlite3 -readonly "$BENCH_DATA_DIR/ntsb.sqlite" "SELECT count(*) FROM event_facts e WHERE NOT EXISTS
    (SELECT 1 FROM event_documents d WHERE d.event_id = e.id)" 2>/dev/null || echo unknown)
  [ "$missing" = 0 ] && break
  sleep 1
done
echo "event detail documents missing at the start: $missing"
# Every event id, for random detail lookups.
curl -sf -H "X-API-Key: $BENCH_KEY" "$BASE/api/v1/export/events.csv" | python3 -c '
import csv, sys
for r in csv.DictReader(sys.stdin):
    if r["ev_id"]:
        print("/api/v1/events/" + r["ev_id"])' >"$WORK/detail.paths"
stop
echo "$(wc -l <"$WORK/detail.paths") event ids; ${DURATION}s per run; $(nproc) cores"

printf '%-8s %-10s %6s %10s %9s %9s %9s %8s %8s\n' transport cache conns 'req/s' 'p50 ms' 'p95 ms' 'p99 ms' sockerr non-2xx
for cache in 256 0; do
  for transport in plain tls; do
    if [ "$transport" = tls ]; then start "$cache" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"; else start "$cache"; fi
    label=$([ "$cache" = 0 ] && echo off || echo on)
    for conns in $CONNECTIONS; do
      out=$(bench_wrk "$conns" "$WORK/detail.paths" "$BASE" "$BENCH_KEY")
      read -r rps p50 p95 p99 errs status <<<"$out"
      printf '%-8s %-10s %6s %10s %9s %9s %9s %8s %8s\n' "$transport" "$label" "$conns" "$rps" "$p50" "$p95" "$p99" "$errs" "$status"
    done
    stop
  done
done
