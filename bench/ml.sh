#!/usr/bin/env bash
# HTTP benchmark of the scoring endpoints with a real load generator (wrk, installed if
# missing): POST /api/v1/ml/predict (stored events and given facts, each model) and
# POST /api/v1/ml/predict/batch with 100 items (stored ids, or facts given inline; and stored
# ids with every contribution listed instead of the default five), printing requests/s and
# p50/p95/p99 (ms).
#
# Loads AviationData_20170328.csv into a bench store and trains the three models there,
# once (kept under target/bench-ml unless BENCH_DATA_DIR names another data dir; an
# existing data dir with a store and models is used as it is). Training prints its
# wall time per model.
#
# Usage: bench/ml.sh [--retrain] [CSV]   (CSV default ../shared/data/ntsb/aviationdata/AviationData_20170328.csv)
#   --retrain  train the models again even when the data dir has them (times training).
# Environment: DURATION (seconds per group, default 10), CONNECTIONS (default 64),
#   BENCH_DATA_DIR (default target/bench-ml), CARGO_TARGET_DIR (where the binary is built),
#   NTSB_BIN (use this `ntsb` binary instead of building one), ML_GROUPS (which groups:
#   "single", "batch", "all" (batches listing every contribution); default all three),
#   WARMUP (seconds of unrecorded load before each group, default 0).
#   bench/ml-compare.sh runs it for several binaries in turn.
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine state it prints.
set -euo pipefail
cd "$(dirname "$0")/.."

RETRAIN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --retrain) RETRAIN=1; shift ;;
    *) break ;;
  esac
done
CSV="${1:-../shared/data/ntsb/aviationdata/AviationData_20170328.csv}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
ML_GROUPS="${ML_GROUPS:-single batch all}"
WARMUP="${WARMUP:-0}"
for group in $ML_GROUPS; do
  case "$group" in
    single | batch | all) ;;
    *) echo "bench/ml.sh: ML_GROUPS: unknown group '$group' (single, batch, all)" >&2; exit 2 ;;
  esac
done
BENCH_DATA_DIR="${BENCH_DATA_DIR:-target/bench-ml}"

. bench/lib.sh
bench_tools

if [ -n "${NTSB_BIN:-}" ]; then
  BIN=$NTSB_BIN
else
  cargo build --release --locked -q -p ntsb-cli
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/ntsb"
fi

if [ ! -e "$BENCH_DATA_DIR/ntsb.sqlite" ]; then
  [ -f "$CSV" ] || { echo "bench/ml.sh: $CSV not found (the shared NTSB corpus)" >&2; exit 1; }
  echo "loading $CSV into $BENCH_DATA_DIR (once)"
  "$BIN" --data-dir "$BENCH_DATA_DIR" ingest "$CSV" >/dev/null
fi
if [ "$RETRAIN" = 1 ] || [ ! -e "$BENCH_DATA_DIR/models/fatal.model" ] || [ ! -e "$BENCH_DATA_DIR/models/risk.model" ] \
  || [ ! -e "$BENCH_DATA_DIR/models/severity.model" ]; then
  for model in fatal risk severity; do
    echo "--- ntsb ml train --model $model (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    /usr/bin/time -f "    wall %e s, user %U s, sys %S s, peak RSS %M KiB" \
      "$BIN" --data-dir "$BENCH_DATA_DIR" ml train --model "$model"
  done
fi

# Scoring and exports need a user: an admin key (unlimited) made once for the bench store.
export NTSB_JWT_SECRET="${NTSB_JWT_SECRET:-bench-secret-0123456789abcdef0123456789}"
BENCH_KEY=$(bench_admin_key "$BIN" "$BENCH_DATA_DIR" "$BENCH_DATA_DIR/.bench-key")
export WRK_KEY=$BENCH_KEY

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NTSB_LOG=warn "$BIN" --data-dir "$BENCH_DATA_DIR" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.2; done
curl -sf "$BASE/ready" >/dev/null || { cat "$WORK/server.log"; echo "server did not become ready" >&2; exit 1; }
curl -sf "$BASE/api/v1/ml/models" | grep -q '"severity"' \
  || { echo "bench/ml.sh: the server has no models (see $BENCH_DATA_DIR/models)" >&2; exit 1; }

# Request bodies, one JSON document per line: stored accidents by id, the same
# accidents' facts given inline, and batches of 100 stored ids.
curl -sf -H "X-API-Key: $BENCH_KEY" "$BASE/api/v1/export/events.csv" | python3 -c '
import csv, json, random, sys
work = sys.argv[1]
rows = [r for r in csv.DictReader(sys.stdin) if r.get("ev_id") and r.get("event_type") == "accident"]
random.seed(42)
random.shuffle(rows)
rows = rows[:5000]
def facts(r):
    f = {}
    for key in ("state", "country", "weather", "phase", "make", "model", "far_part", "purpose", "damage"):
        if r.get(key):
            f[key] = r[key]
    if r.get("event_date"):
        f["event_date"] = r["event_date"][:10]
    for key in ("latitude", "longitude"):
        try:
            f[key] = float(r[key])
        except (KeyError, ValueError):
            pass
    return f
for model in ("fatal", "risk", "severity"):
    with open(f"{work}/{model}.id.bodies", "w") as out:
        for r in rows:
            out.write(json.dumps({"model": model, "ev_id": r["ev_id"]}) + "\n")
    with open(f"{work}/{model}.facts.bodies", "w") as out:
        for r in rows:
            out.write(json.dumps({"model": model, "features": facts(r)}) + "\n")
def batches(name, item, **extra):
    with open(f"{work}/{name}.bodies", "w") as out:
        for i in range(0, len(rows) - 100, 100):
            body = {"model": "fatal", "items": [item(r) for r in rows[i:i + 100]], **extra}
            out.write(json.dumps(body) + "\n")
batches("batch", lambda r: {"ev_id": r["ev_id"]})
batches("batch.all", lambda r: {"ev_id": r["ev_id"]}, contributions="all")
batches("batch.facts", lambda r: {"features": facts(r)})
' "$WORK"
[ -s "$WORK/batch.bodies" ] || { echo "bench/ml.sh: no accidents found through the export" >&2; exit 1; }

cat >"$WORK/post.lua" <<'LUA'
-- POSTs a random line of the file named by WRK_BODIES to WRK_PATH; prints one RESULT line.
local bodies = {}
for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
local path = os.getenv("WRK_PATH")
local headers = { ["Content-Type"] = "application/json", ["X-API-Key"] = os.getenv("WRK_KEY") }
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init() math.randomseed(os.time() + (seed or 0)) end
function request() return wrk.format("POST", path, headers, bodies[math.random(#bodies)]) end
LUA
bench_result_lua >>"$WORK/post.lua"

# One request of each kind first: fail loudly on a non-200 instead of timing errors.
for f in fatal.id fatal.facts batch; do
  path=/api/v1/ml/predict
  [ "$f" = batch ] && path=/api/v1/ml/predict/batch
  code=$(head -n1 "$WORK/$f.bodies" | curl -s -o "$WORK/probe.json" -w '%{http_code}' -H 'Content-Type: application/json' -H "X-API-Key: $BENCH_KEY" \
    --data-binary @- "$BASE$path")
  [ "$code" = 200 ] || { echo "bench/ml.sh: $path answered $code:" >&2; cat "$WORK/probe.json" >&2; exit 1; }
done

echo "machine: $(nproc) cores; load average before the run: $(cut -d' ' -f1-3 /proc/loadavg); ${DURATION}s per group, ${CONNECTIONS} connections"
printf '%-32s %10s %9s %9s %9s %8s %8s %11s\n' group 'req/s' 'p50 ms' 'p95 ms' 'p99 ms' 'sockerr' 'non-2xx' 'cpu ms/req'
# The server's CPU time (user + system, clock ticks) from /proc.
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
run() { # run NAME PATH BODIES_FILE
  local name=$1 path=$2 file=$3 out before after cpu
  if [ "$WARMUP" != 0 ]; then
    WRK_BODIES=$file WRK_PATH=$path wrk -t2 -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 10s -s "$WORK/post.lua" "$BASE" >/dev/null
  fi
  before=$(server_ticks)
  out=$(WRK_BODIES=$file WRK_PATH=$path wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$WORK/post.lua" "$BASE" \
    | awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}')
  after=$(server_ticks)
  read -r rps p50 p95 p99 errs status <<<"$out"
  # Server CPU per request: less noisy than latency when other work shares the cores.
  cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v rps="$rps" -v d="$DURATION" \
    'BEGIN { if (rps > 0) printf "%.3f", t / hz * 1000 / (rps * d); else print "-" }')
  printf '%-32s %10s %9s %9s %9s %8s %8s %11s\n' "$name" "$rps" "$p50" "$p95" "$p99" "$errs" "$status" "$cpu"
}
if [[ " $ML_GROUPS " == *" single "* ]]; then
  run "predict fatal (stored ev_id)" /api/v1/ml/predict "$WORK/fatal.id.bodies"
  run "predict fatal (given facts)" /api/v1/ml/predict "$WORK/fatal.facts.bodies"
  run "predict risk (given facts)" /api/v1/ml/predict "$WORK/risk.facts.bodies"
  run "predict severity (stored ev_id)" /api/v1/ml/predict "$WORK/severity.id.bodies"
fi
if [[ " $ML_GROUPS " == *" batch "* ]]; then
  run "batch of 100 (stored ev_ids)" /api/v1/ml/predict/batch "$WORK/batch.bodies"
  run "batch of 100 (given facts)" /api/v1/ml/predict/batch "$WORK/batch.facts.bodies"
fi
if [[ " $ML_GROUPS " == *" all "* ]]; then
  run "batch of 100 (stored, all listed)" /api/v1/ml/predict/batch "$WORK/batch.all.bodies"
fi
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -r "/proc/$SERVER/status" ]; then
  awk '/VmHWM/ {printf "server peak RSS %.0f MiB\n", $2/1024}' "/proc/$SERVER/status"
fi
