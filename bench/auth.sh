#!/usr/bin/env bash
# What authentication and the rate limiter add to a request, measured in process (the
# in-memory CounterStore), with wrk (installed if missing).
#
# Serves the synthetic demo store and drives one cheap, cached endpoint
# (/api/v1/stats/summary) four ways, printing requests/s and p50/p99 (ms):
#   anonymous, limits off     the baseline: policy lookup only
#   anonymous, limits on      + the per-address burst and daily counters
#   API key                   + SHA-256, key and user lookup, counters of a premium user
#   bearer token              + HS256 verification, user and session lookup, counters
# The difference of p99 to the baseline is the cost of authentication and limiting.
#
# The three limited cases run again with the counters in Redis (REDIS_URL, default
# redis://127.0.0.1:6379; skipped when nothing answers there).
#
# Usage: bench/auth.sh            (BIN=path/to/ntsb to skip the release build)
# Environment: DURATION (seconds per case, default 10), CONNECTIONS (default 16),
#   REDIS_URL (default redis://127.0.0.1:6379; empty to skip the Redis cases).
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine state.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-16}"
REDIS_URL="${REDIS_URL-redis://127.0.0.1:6379}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -q
  BIN=$PWD/target/release/ntsb
fi

WORK=$(mktemp -d)
DATA="$WORK/data"
"$BIN" --data-dir "$DATA" demo --events 2000 >/dev/null
export NTSB_JWT_SECRET="bench-secret-0123456789abcdef0123456789"
PW="blue-Heron-7-ladder"
SUITE_PW=$PW "$BIN" --data-dir "$DATA" --demo user create --email bench@example.org --role premium --password-env SUITE_PW >/dev/null
KEY=$("$BIN" --data-dir "$DATA" --demo key create --email bench@example.org --name bench 2>/dev/null)

SERVER=""
PORT=""
start() { # start: serve with the given limits in the environment
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  env "$@" NTSB_LOG=warn NTSB_LOGIN_ATTEMPTS_PER_MINUTE=1000 "$BIN" --data-dir "$DATA" --demo serve \
    --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.2; done
}
stop() { kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; }
trap 'stop; rm -rf "$WORK"' EXIT

cat >"$WORK/report.lua" <<'LUA'
local header = os.getenv("WRK_HEADER")
function request()
  if header ~= nil and header ~= "" then
    local k, v = header:match("^([^:]+):%s*(.*)$")
    return wrk.format("GET", "/api/v1/stats/summary", { [k] = v })
  end
  return wrk.format("GET", "/api/v1/stats/summary")
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
LUA

printf '%-26s %10s %9s %9s %8s\n' case 'req/s' 'p50 ms' 'p99 ms' 'non-2xx'
run() { # run NAME HEADER
  local out
  out=$(WRK_HEADER="$2" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/report.lua" "http://127.0.0.1:$PORT" \
    | awk '/^RESULT/ {print $2, $3, $4, $5}')
  read -r rps p50 p99 status <<<"$out"
  printf '%-26s %10s %9s %9s %8s\n' "$1" "$rps" "$p50" "$p99" "$status"
}

BIG=1000000000
LIMITS=(NTSB_QUOTA_ANONYMOUS=$BIG NTSB_BURST_ANONYMOUS=$BIG NTSB_QUOTA_PREMIUM=$BIG NTSB_BURST_PREMIUM=$BIG)
limited_cases() { # limited_cases LABEL: the three limited cases on the running server
  run "anonymous, limits on$1" ""
  run "API key$1" "X-API-Key: $KEY"
  TOKEN=$(curl -sf -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench@example.org\",\"password\":\"$PW\"}" "http://127.0.0.1:$PORT/api/v1/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  run "bearer token$1" "Authorization: Bearer $TOKEN"
}
start NTSB_QUOTA_ANONYMOUS=0 NTSB_BURST_ANONYMOUS=0
run "anonymous, limits off" ""
stop
start "${LIMITS[@]}"
limited_cases ""
stop
# The same with the counters in Redis (shared by replicas), when one answers.
if [ -n "$REDIS_URL" ] && python3 -c 'import socket, sys, urllib.parse as u
p = u.urlsplit(sys.argv[1]); socket.create_connection((p.hostname, p.port or 6379), 1)' "$REDIS_URL" 2>/dev/null; then
  start "${LIMITS[@]}" NTSB_REDIS_URL="$REDIS_URL"
  limited_cases ", Redis"
  stop
else
  echo "(no Redis at ${REDIS_URL:-<unset>}: the Redis cases are skipped)"
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); ${DURATION}s per case, ${CONNECTIONS} connections"
