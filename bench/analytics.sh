#!/usr/bin/env bash
# Analytics benchmark with the response cache OFF: every request is a new random filter
# combination (state, year range, injury, make, phase, weather, FAR part, event type) on
# every statistics endpoint and on filtered /events pages, driven by wrk (installed if
# missing) at 1 and at 64 connections; prints req/s and p50/p95/p99 (ms) per endpoint,
# the projection's first-start build time and memory, and the server's peak memory.
#
# Usage: bench/analytics.sh [--events N] [--db URL] [--sql] [DATA]
#   (default)   the shared corpus (DATA, default ../shared/data/ntsb), loaded once into
#               target/bench-api (the store bench/api.sh uses)
#   --events N  a synthetic store of N events (`ntsb demo --events N`, made once under
#               target/bench-analytics-N)
#   --db URL    serve this store (PostgreSQL URL or SQLite path), already loaded
#   --sql       serve without the analytics projection (NTSB_ANALYTICS=false): the SQL
#               statistics of the store, for comparison
# Environment: DURATION (seconds per run, default 5), URLS (random URLs per endpoint, 2000).
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine you used.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=""
DB=""
ANALYTICS=true
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS="$2"; shift 2 ;;
    --db) DB="$2"; shift 2 ;;
    --sql) ANALYTICS=false; shift ;;
    *) break ;;
  esac
done
DATA="${1:-../shared/data/ntsb}"
DURATION="${DURATION:-5}"
URLS="${URLS:-2000}"

. bench/lib.sh
bench_tools

cargo build --release --locked -q -p ntsb-cli
BIN=$PWD/target/release/ntsb
STORE_ARGS=()
if [ -n "$DB" ]; then
  DATA_DIR="${BENCH_DATA_DIR:-target/bench-analytics-db}"
  STORE_ARGS=(--db "$DB")
elif [ -n "$EVENTS" ]; then
  DATA_DIR="${BENCH_DATA_DIR:-target/bench-analytics-$EVENTS}"
  STORE_ARGS=(--demo)
  if [ ! -e "$DATA_DIR/.loaded" ]; then
    echo "making a synthetic store of $EVENTS events in $DATA_DIR (once)"
    rm -rf "$DATA_DIR"
    start=$(date +%s)
    "$BIN" --data-dir "$DATA_DIR" demo --events "$EVENTS" >/dev/null
    echo "  loaded in $(( $(date +%s) - start )) s"
    touch "$DATA_DIR/.loaded"
  fi
else
  DATA_DIR="${BENCH_DATA_DIR:-target/bench-api}"
  if [ ! -e "$DATA_DIR/.loaded" ]; then
    [ -d "$DATA" ] || { echo "bench/analytics.sh: $DATA not found (the shared NTSB corpus)" >&2; exit 1; }
    echo "loading $DATA into $DATA_DIR (once)"
    rm -rf "$DATA_DIR"
    "$BIN" --data-dir "$DATA_DIR" ingest "$DATA" >/dev/null
    touch "$DATA_DIR/.loaded"
  fi
fi

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
ulimit -n 65536 2>/dev/null || true
# The response cache is OFF (NTSB_CACHE_MB=0): every answer is computed.
NTSB_QUOTA_ANONYMOUS=0 NTSB_BURST_ANONYMOUS=0 NTSB_CACHE_MB=0 NTSB_ANALYTICS=$ANALYTICS \
  NTSB_LOG="warn,ntsb_analytics=info" NTSB_LOG_FORMAT=text \
  "$BIN" --data-dir "$DATA_DIR" "${STORE_ARGS[@]}" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
STARTED=$(date +%s.%N)
for _ in $(seq 1 600); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/ready" >/dev/null || { cat "$WORK/server.log"; echo "server did not become ready" >&2; exit 1; }
if [ "$ANALYTICS" = true ]; then
  for _ in $(seq 1 1200); do grep -q "analytics projection built" "$WORK/server.log" && break; sleep 0.1; done
  READY=$(date +%s.%N)
  line=$(grep -m1 "analytics projection built" "$WORK/server.log" || true)
  [ -n "$line" ] || { cat "$WORK/server.log"; echo "the projection was not built" >&2; exit 1; }
  events=$(sed -n 's/.*events=\([0-9]*\).*/\1/p' <<<"$line")
  seconds=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")
  bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$line")
  python3 -c "
e, s, b, wall = $events, $seconds, $bytes, $READY - $STARTED
print(f'projection: {e:,} events built in {s:.2f} s (ready {wall:.1f} s after the server started); '
      f'{b / 2**20:.0f} MiB, {b / 2**20 / max(e, 1) * 1e6:.0f} MiB per million events')"
  awk '/VmRSS/ {printf "server RSS after the build: %.0f MiB\n", $2/1024}' "/proc/$SERVER/status"
fi

# Random filter combinations from values of this store (most frequent first).
curl -sf "$BASE/api/v1/stats/states?limit=40" >"$WORK/states.json"
curl -sf "$BASE/api/v1/stats/makes?limit=40" >"$WORK/makes.json"
curl -sf "$BASE/api/v1/stats/far-parts?limit=12" >"$WORK/parts.json"
curl -sf "$BASE/api/v1/stats/yearly" >"$WORK/years.json"
python3 - "$WORK" "$URLS" <<'PY'
import json, random, sys
work, n = sys.argv[1], int(sys.argv[2])
load = lambda name, key: [r[key] for r in json.load(open(f"{work}/{name}.json"))["items"] if r[key] != "unknown"]
states, makes, parts = load("states", "state"), load("makes", "make"), load("parts", "far_part")
years = [y for y in load("years", "year") if isinstance(y, int)]
rng = random.Random(25)
def filters():
    q = []
    if rng.random() < 0.35: q.append(f"state={rng.choice(states)}")
    if rng.random() < 0.35:
        a, b = sorted(rng.sample(years, 2)) if len(years) > 1 else (years[0], years[0])
        q.append(f"from={a}-01-01&to={b}-12-31")
    if rng.random() < 0.25: q.append("highest_injury=" + rng.choice(["fatal", "serious", "minor", "none"]))
    if rng.random() < 0.25: q.append("make=" + rng.choice(makes).replace(" ", "+").replace("&", "%26"))
    if rng.random() < 0.25: q.append("phase=" + rng.choice(["takeoff", "climb", "cruise", "approach", "landing", "maneuvering", "taxi", "descent", "standing"]))
    if rng.random() < 0.25: q.append("weather=" + rng.choice(["vmc", "imc"]))
    if rng.random() < 0.25: q.append("far_part=" + rng.choice(parts))
    if rng.random() < 0.25: q.append("event_type=" + rng.choice(["accident", "incident"]))
    return "&".join(q)
endpoints = ["summary", "yearly", "monthly", "seasonal", "day-of-week", "decades", "states", "makes",
             "make-models", "phases", "weather", "far-parts", "findings", "occurrences"]
for e in endpoints + ["events"]:
    with open(f"{work}/{e}.paths", "w") as out:
        for _ in range(n):
            f = filters()
            if e == "events":
                out.write(f"/api/v1/events?limit=100{'&' + f if f else ''}\n")
            else:
                out.write(f"/api/v1/stats/{e}{'?' + f if f else ''}\n")
with open(f"{work}/endpoints", "w") as out:
    out.write("\n".join(endpoints + ["events"]) + "\n")
PY
# Every URL must answer 200 (a bad URL would measure errors).
head -50 "$WORK/events.paths" "$WORK/makes.paths" | grep '^/' | while read -r p; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$p")
  [ "$code" = 200 ] || { echo "GET $p: $code" >&2; exit 1; }
done

run() { # run NAME CONNECTIONS PATHS_FILE
  local name=$1 conns=$2 file=$3 out
  out=$(bench_wrk "$conns" "$file" "$BASE")
  read -r rps p50 p95 p99 errs status <<<"$out"
  printf '%-22s %5s %10s %9s %9s %9s %8s %8s\n' "$name" "$conns" "$rps" "$p50" "$p95" "$p99" "$errs" "$status"
}

# Peak memory by kind while the runs go: anonymous (the process's own heap) and
# file-backed (pages of the SQLite file its readers map, shared with the page
# cache); VmHWM, the peak of their sum, is printed at the end.
( peak_anon=0; peak_file=0
  while kill -0 "$SERVER" 2>/dev/null; do
    read -r anon file < <(awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {print a+0, f+0}' "/proc/$SERVER/status" 2>/dev/null || echo "0 0")
    [ "$anon" -gt "$peak_anon" ] && peak_anon=$anon
    [ "$file" -gt "$peak_file" ] && peak_file=$file
    echo "$peak_anon $peak_file" >"$WORK/rss.peak"
    sleep 0.2
  done ) &
SAMPLER=$!

engine="analytics projection"
[ "$ANALYTICS" = true ] || engine="SQL statistics (no projection)"
echo "response cache: OFF (NTSB_CACHE_MB=0); engine: $engine; ${URLS} random filter combinations per endpoint"
printf '%-22s %5s %10s %9s %9s %9s %8s %8s\n' endpoint conns 'req/s' 'p50 ms' 'p95 ms' 'p99 ms' 'sockerr' 'non-2xx'
while read -r e; do
  for c in 1 64; do run "$e" "$c" "$WORK/$e.paths"; done
done <"$WORK/endpoints"
cat "$WORK"/*.paths >"$WORK/all.paths.txt"
run "all mixed" 64 "$WORK/all.paths.txt"

awk '/VmHWM|VmRSS|RssAnon|RssFile/ {printf "server %s %.0f MiB\n", $1, $2/1024}' "/proc/$SERVER/status"
kill "$SAMPLER" 2>/dev/null || true
read -r peak_anon peak_file <"$WORK/rss.peak"
echo "server peak during the runs (sampled every 0.2 s): anonymous $((peak_anon / 1024)) MiB, file-backed (mapped SQLite pages) $((peak_file / 1024)) MiB"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; wrk on the same machine; ${DURATION}s per run"
