#!/usr/bin/env bash
# Live benchmark (issue 22): CLIENTS WebSocket clients of `GET /api/v1/stream` (default
# 10,000; no filter, so every change matches every client) stay connected while
# `ntsb ingest` loads the first EVENTS rows of the AviationData export into the store the
# server serves; prints how many clients received every change, the delivery latency
# (read time minus the change's `changed_at`) p50/p99/max and the server's memory. Then
# Kafka: a tansu broker (deploy/tools.sh), the detail documents of those events produced
# to a topic, consumed into a fresh store (records/s) and that store's change log
# published back (changes/s), by crates/kafka/examples/kafka_bench.rs.
#
# Usage: bench/live.sh [CLIENTS] [EVENTS]   (defaults 10000 and 20000)
#   NTSB_BENCH_BIN=path/to/ntsb uses that binary instead of building the release one.
# Run by hand (nice -n 5 on a shared machine); record figures in docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
bench_tools
CLIENTS=${1:-10000}
EVENTS=${2:-20000}
CSV=../shared/data/ntsb/aviationdata/AviationData_20170328.csv
[ -f "$CSV" ] || { echo "bench/live.sh: $CSV not found (the shared NTSB corpus)" >&2; exit 1; }
PATH="$(deploy/tools.sh | tail -1):$PATH"

if [ -n "${NTSB_BENCH_BIN:-}" ]; then BIN=$NTSB_BENCH_BIN; else cargo build --release --locked -q -p ntsb-cli; BIN=target/release/ntsb; fi
cargo build --release --locked -q -p ntsb-server --example live_load
cargo build --release --locked -q -p ntsb-kafka --example kafka_bench
LOAD=target/release/examples/live_load
KBENCH=target/release/examples/kafka_bench

WORK=$(mktemp -d)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open files limit: $(ulimit -n)"
if [ "$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo 0)" -lt 16384 ]; then
  sysctl -qw net.core.somaxconn=16384 2>/dev/null || true
fi
# The first EVENTS event rows of the export (an event's aircraft rows stay together).
python3 - "$CSV" "$WORK/events.csv" "$EVENTS" <<'PY'
import sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, encoding="latin-1", newline="") as f, open(dst, "w", encoding="latin-1", newline="") as out:
    header = f.readline(); out.write(header)
    seen, last = 0, None
    for line in f:
        ev = line.split(",", 1)[0]
        if ev != last:
            seen += 1; last = ev
            if seen > n: break
        out.write(line)
PY

DATA="$WORK/data"
"$BIN" --data-dir "$DATA" db migrate >/dev/null
KEY=$(bench_admin_key "$BIN" "$DATA" "$WORK/key")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Limits raised for one bench account holding every connection from one address; the
# feed's ring holds the whole load, so a client is dropped only if it cannot keep up.
NTSB_LOG=warn "$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" --no-dashboard \
  --feed-max-per-user 10000 --feed-max-subscribers 20000 --max-connections-per-ip 0 \
  --feed-buffer 65536 >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; kill ${BROKER:-} 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null || { cat "$WORK/server.log"; echo "server did not become ready" >&2; exit 1; }

"$LOAD" --url "ws://127.0.0.1:$PORT/api/v1/stream" --key "$KEY" --clients "$CLIENTS" \
  --until-file "$WORK/head" >"$WORK/clients.out" 2>"$WORK/clients.err" &
CLIENTS_PID=$!
for _ in $(seq 1 3000); do grep -q '^READY' "$WORK/clients.out" && break; sleep 0.1; done
grep '^READY' "$WORK/clients.out" || { cat "$WORK/clients.err"; echo "clients did not connect" >&2; exit 1; }
awk '/VmRSS/ {printf "server with %s clients connected: VmRSS %.0f MiB\n", "'"$CLIENTS"'", $2/1024}' "/proc/$SERVER/status"

start=$(date +%s.%N)
"$BIN" --data-dir "$DATA" ingest "$WORK/events.csv" --json >"$WORK/ingest.json"
end=$(date +%s.%N)
python3 - "$DATA/ntsb.sqlite" >"$WORK/head" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT max(seq) FROM change_log").fetchone()[0])
PY
echo "load: $EVENTS events, $(cat "$WORK/head") changes committed in $(python3 -c "print(round($end - $start, 1))") s"
wait $CLIENTS_PID || true
tail -1 "$WORK/clients.out"
awk '/VmHWM|VmRSS/ {printf "server %s %.0f MiB\n", $1, $2/1024}' "/proc/$SERVER/status"
kill $SERVER; wait $SERVER 2>/dev/null || true

# Kafka.
KPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tansu broker --listener-url "tcp://127.0.0.1:$KPORT" --advertised-listener-url "tcp://127.0.0.1:$KPORT" \
  --storage-engine memory://tansu/ >"$WORK/tansu.log" 2>&1 &
BROKER=$!
for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$KPORT") 2>/dev/null && break; sleep 0.1; done
"$KBENCH" --brokers "127.0.0.1:$KPORT" --source "$DATA/ntsb.sqlite" --work "$WORK/kafka" --events "$EVENTS" --partitions 3
