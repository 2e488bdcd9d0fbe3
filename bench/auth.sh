#!/usr/bin/env bash
# What authentication and the rate limiter add to a request, with wrk (installed if
# missing).
#
# Serves the synthetic demo store three times (limits off; limits on, in-process
# counters; limits on, counters in Redis) and drives one cheap, cached endpoint
# (/api/v1/stats/summary) these ways, printing requests/s and p50/p99 (ms):
#   anonymous, limits off     the baseline: policy lookup only
#   anonymous, limits on      + the per-address burst and daily counters
#   API key                   + SHA-256, key and user lookup, counters of a premium user
#   bearer token              + HS256 verification, user and session lookup, counters
#   … , Redis                 the limited cases with the counters in Redis (REDIS_URL,
#                             default redis://127.0.0.1:6379; skipped when nothing answers)
# Every case runs once per round (after one unrecorded second), the cases in turn,
# ROUNDS times; the table gives each case's median and its p99 minus the baseline's
# (the cost of authentication and limiting), with every round's p99 so the noise
# is visible.
#
# Usage: bench/auth.sh            (BIN=path/to/ntsb to skip the release build)
# Environment: DURATION (seconds per case and round, default 5), ROUNDS (default 5),
#   CONNECTIONS (default 16), REDIS_URL (empty to skip the Redis cases).
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine state.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-5}"
CONNECTIONS="${CONNECTIONS:-16}"
REDIS_URL="${REDIS_URL-redis://127.0.0.1:6379}"
. bench/lib.sh
bench_tools
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

# Three servers over the same store, started once and measured in turn: limits off
# (the baseline), limits on with in-process counters, limits on with Redis counters.
SERVERS=()
PORT=""
start() { # start ENV...: serve with the given settings; sets PORT
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  env "$@" NTSB_LOG=warn NTSB_LOGIN_ATTEMPTS_PER_MINUTE=1000 "$BIN" --data-dir "$DATA" --demo serve \
    --listen "127.0.0.1:$PORT" >>"$WORK/server.log" 2>&1 &
  SERVERS+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.2; done
}
trap 'kill "${SERVERS[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

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

token() { # token PORT: an access token of the bench user from that server
  curl -sf -H 'Content-Type: application/json' -d "{\"email\":\"bench@example.org\",\"password\":\"$PW\"}" \
    "http://127.0.0.1:$1/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

BIG=1000000000
LIMITS=(NTSB_QUOTA_ANONYMOUS=$BIG NTSB_BURST_ANONYMOUS=$BIG NTSB_QUOTA_PREMIUM=$BIG NTSB_BURST_PREMIUM=$BIG)
CASES=()  # "name|port|header"
start NTSB_QUOTA_ANONYMOUS=0 NTSB_BURST_ANONYMOUS=0
CASES+=("anonymous, limits off|$PORT|")
start "${LIMITS[@]}"
CASES+=("anonymous, limits on|$PORT|" "API key|$PORT|X-API-Key: $KEY" "bearer token|$PORT|Authorization: Bearer $(token "$PORT")")
# The same with the counters in Redis (shared by replicas), when one answers.
if [ -n "$REDIS_URL" ] && python3 -c 'import socket, sys, urllib.parse as u
p = u.urlsplit(sys.argv[1]); socket.create_connection((p.hostname, p.port or 6379), 1)' "$REDIS_URL" 2>/dev/null; then
  start "${LIMITS[@]}" NTSB_REDIS_URL="$REDIS_URL"
  CASES+=("anonymous, limits on, Redis|$PORT|" "API key, Redis|$PORT|X-API-Key: $KEY"
    "bearer token, Redis|$PORT|Authorization: Bearer $(token "$PORT")")
else
  echo "(no Redis at ${REDIS_URL:-<unset>}: the Redis cases are skipped)"
fi

# Rounds of every case in turn, so drift of the machine hits every case alike;
# the table gives each case's median over the rounds.
for round in $(seq 1 "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    IFS='|' read -r name port header <<<"$c"
    # One second unrecorded first: the server's threads and caches wake up.
    WRK_HEADER="$header" wrk -t2 -c"$CONNECTIONS" -d1s -s "$WORK/report.lua" "http://127.0.0.1:$port" >/dev/null
    WRK_HEADER="$header" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/report.lua" "http://127.0.0.1:$port" \
      | awk -v n="$name" '/^RESULT/ {print n "|" $2 "|" $3 "|" $4 "|" $5}' >>"$WORK/results"
  done
  echo "round $round of $ROUNDS done" >&2
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, status = line.strip().split("|")
    rows.setdefault(name, []).append((float(rps), float(p50), float(p99), int(status)))
base = statistics.median(r[2] for r in rows["anonymous, limits off"])
print(f"{'case':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99 added':>10} {'p99 per round':>30} {'non-2xx':>8}")
for name, runs in rows.items():
    p99 = statistics.median(r[2] for r in runs)
    each = " ".join(f"{r[2]:.2f}" for r in runs)
    print(f"{name:<30} {statistics.median(r[0] for r in runs):>8.0f} {statistics.median(r[1] for r in runs):>8.3f} "
          f"{p99:>8.3f} {p99 - base:>+10.3f} {each:>30} {sum(r[3] for r in runs):>8}")
PY
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of ${DURATION}s per case, ${CONNECTIONS} connections"
