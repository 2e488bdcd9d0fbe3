#!/usr/bin/env bash
# The dashboard's pages under load and in a browser:
#  1. every page's HTML with wrk (16 keep-alive connections by default, anonymous, so the
#     response cache may answer): pages/s, p50/p95/p99, and whether the cache answered
#     (`X-Cache: hit` on a repeated request);
#  2. each page loaded in headless Chromium (driven over chromedriver's WebDriver JSON with
#     curl): the load event's time after navigation start and the bytes transferred
#     (compressed: document, stylesheet, script, icon), the best of 3 cold loads (a fresh
#     browser cache each time).
#
# Usage: bench/dashboard.sh [DATA]   (DATA default ../shared/data/ntsb, loaded once)
# Environment: NTSB_BIN (a built binary; default: cargo build --release),
#   BENCH_DATA_DIR (a store already loaded; default target/bench-dashboard),
#   DURATION (seconds per page, default 10), CONNECTIONS (default 16).
# Needs wrk, curl (bench/lib.sh installs them), chromium and chromedriver (deploy/tools.sh).
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine you used.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${1:-../shared/data/ntsb}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16}"
BENCH_DATA_DIR="${BENCH_DATA_DIR:-target/bench-dashboard}"

. bench/lib.sh
bench_tools
command -v chromium >/dev/null && command -v chromedriver >/dev/null || PATH="$(deploy/tools.sh | tail -1):$PATH"

if [ -n "${NTSB_BIN:-}" ]; then BIN=$NTSB_BIN; else cargo build --release --locked -q; BIN=$PWD/target/release/ntsb; fi
if [ ! -e "$BENCH_DATA_DIR/ntsb.sqlite" ]; then
  [ -e "$DATA" ] || { echo "bench/dashboard.sh: $DATA not found (the shared NTSB corpus)" >&2; exit 1; }
  echo "loading $DATA into $BENCH_DATA_DIR (once)"
  "$BIN" --data-dir "$BENCH_DATA_DIR" ingest "$DATA" >/dev/null
fi

WORK=$(mktemp -d)
SERVER="" DRIVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
  [ -n "$DRIVER" ] && kill "$DRIVER" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

port=$(free_port)
NTSB_MAX_CONNECTIONS_PER_IP=0 NTSB_QUOTA_ANONYMOUS=0 NTSB_BURST_ANONYMOUS=0 NTSB_LOG=warn \
  "$BIN" --data-dir "$BENCH_DATA_DIR" serve --listen "127.0.0.1:$port" >"$WORK/server.log" 2>&1 &
SERVER=$!
BASE="http://127.0.0.1:$port"
for _ in $(seq 300); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.2; done
curl -sf "$BASE/ready" >/dev/null || { cat "$WORK/server.log"; echo "server did not become ready" >&2; exit 1; }
# Wait until the analytics projection answers (the overview's first figures come from it).
sleep 2

EV=$(curl -sf "$BASE/api/v1/events?limit=1&has_narrative=true" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["ev_id"])')
PAGES=(/ "/?state=CA&highest_injury=fatal" /trends "/trends?far_part=91&b.far_part=135" /map "/map?zoom=2&cx=600&cy=300" /aircraft /causes "/search?q=engine+power+loss" "/events/$EV" /account)

bench_result_lua >"$WORK/result.lua"

echo "store: $BENCH_DATA_DIR; ${DURATION}s per page, $CONNECTIONS connections; $(nproc) cores; wrk and the server share them"
printf '%-34s %9s %8s %8s %8s %7s %7s %s\n' page 'pages/s' 'p50 ms' 'p95 ms' 'p99 ms' sockerr non2xx 'cache answered'
for page in "${PAGES[@]}"; do
  curl -s -o /dev/null "$BASE$page"
  hit=$(curl -s -D - -o /dev/null "$BASE$page" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache" {print $2}')
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -H 'Accept-Encoding: gzip' -s "$WORK/result.lua" "$BASE$page" |
    awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7}')
  read -r rps p50 p95 p99 errs status <<<"$out"
  printf '%-34s %9s %8s %8s %8s %7s %7s %s\n' "$page" "$rps" "$p50" "$p95" "$p99" "$errs" "$status" "${hit:-no (not cached)}"
done

# Page loads in headless Chromium through chromedriver's WebDriver JSON API.
dport=$(free_port)
chromedriver --port="$dport" >/dev/null 2>&1 &
DRIVER=$!
WD="http://127.0.0.1:$dport"
for _ in $(seq 100); do curl -sf "$WD/status" >/dev/null && break; sleep 0.1; done
wd() { curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$WD$2"; }
echo
printf '%-34s %12s %12s %s\n' page 'load ms' 'KB transferred' '(best of 3 cold loads)'
for page in "${PAGES[@]}"; do
  best_ms="" best_kb=""
  for _ in 1 2 3; do
    profile=$(mktemp -d -p "$WORK")
    caps=$(python3 -c 'import json,sys; print(json.dumps({"capabilities": {"alwaysMatch": {"browserName": "chrome",
      "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--window-size=1280,900", "--no-first-run", "--disable-extensions", "--disable-background-networking",
      "--user-data-dir=" + sys.argv[1]]}}}}))' "$profile")
    sid=$(wd POST /session "$caps" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])')
    wd POST "/session/$sid/url" "{\"url\": \"$BASE$page\"}" >/dev/null
    read -r ms kb < <(wd POST "/session/$sid/execute/sync" '{"script": "const n = performance.getEntriesByType(\"navigation\")[0]; const bytes = performance.getEntriesByType(\"resource\").reduce((s, r) => s + r.transferSize, n.transferSize); return [n.loadEventEnd - n.startTime, bytes / 1024];", "args": []}' |
      python3 -c 'import json,sys; v=json.load(sys.stdin)["value"]; print("%.0f %.1f" % (v[0], v[1]))')
    wd DELETE "/session/$sid" >/dev/null || true
    if [ -z "$best_ms" ] || [ "$ms" -lt "$best_ms" ]; then best_ms=$ms best_kb=$kb; fi
  done
  printf '%-34s %12s %12s\n' "$page" "$best_ms" "$best_kb"
done
