#!/usr/bin/env bash
# The API contract run: schemathesis generates requests from the server's own
# /openapi.json and checks every answer against it (no 5xx, no status, header,
# media type or body outside the document, no valid request refused, no invalid
# one accepted), on a store loaded from the real AviationData export with the
# three models trained. It runs as each kind of caller:
#   admin    an administrator's API key, every operation but the account ones;
#   session  an access token from a login, the account operations (except
#            logout and password change, which would end the token mid-run);
#   anon     no credentials, every operation.
# The live streams (SSE, WebSocket) are left out: they never end.
#
#   tests/contract/run.sh                    # short run (CI): 20 examples per operation
#   MAX_EXAMPLES=500 tests/contract/run.sh   # long run, by hand
#
# One worker: hypothesis describes its strategies with Python's `ast`, which is not
# thread-safe on Python 3.11 ("AST constructor recursion depth mismatch").
# Needs the `ntsb` debug binary (built when missing), ../shared/data, and `st`
# (deploy/tools.sh installs it). Cross-field rules that a schema cannot state are
# in hooks.py. Exits non-zero on any failure; the reports are in $OUT (printed).
set -euo pipefail
cd "$(dirname "$0")/../.."
MAX_EXAMPLES="${MAX_EXAMPLES:-20}"
DATA_FILE="${NTSB_CONTRACT_DATA:-../shared/data/ntsb/aviationdata/AviationData_20170328.csv}"
BIN="${NTSB_BIN:-target/debug/ntsb}"
OUT="${OUT:-target/contract}"

if [ ! -f "$DATA_FILE" ]; then
  if [ "${CI:-}" = true ]; then echo "contract: $DATA_FILE is missing" >&2; exit 1; fi
  echo "SKIPPED contract run: $DATA_FILE is missing"; exit 0
fi
command -v st >/dev/null || PATH="$(deploy/tools.sh | tail -1):$PATH"
[ -x "$BIN" ] || cargo build -p ntsb-cli --locked
mkdir -p "$OUT"
WORK="$(mktemp -d)"
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

# NTSB_CONTRACT_STORE names a store directory to keep between runs (loaded once).
STORE="${NTSB_CONTRACT_STORE:-$WORK/data}"
if [ ! -f "$STORE/.contract-ready" ]; then
  echo "== contract: loading $(basename "$DATA_FILE") and training the models"
  rm -rf "$STORE"
  "$BIN" --data-dir "$STORE" ingest "$DATA_FILE" >"$OUT/ingest.log" 2>&1
  for model in fatal risk severity; do
    "$BIN" --data-dir "$STORE" ml train --model "$model" --max-rounds 60 >"$OUT/train-$model.log" 2>&1
  done
  touch "$STORE/.contract-ready"
fi
PASSWORD="Heron-Quilt-7-ladder-quiet"
EMAIL="contract-$(date +%s)-$$@example.org"  # a new account each run, also in a kept store
SUITE_PW="$PASSWORD" "$BIN" --data-dir "$STORE" user create --email "$EMAIL" --role admin \
  --password-env SUITE_PW >/dev/null
KEY="$("$BIN" --data-dir "$STORE" key create --email "$EMAIL" --name contract 2>/dev/null)"  # not into the log

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
# No rate limits or quotas: a 429 would hide what the run is looking for.
NTSB_LOG=warn NTSB_MAX_CONNECTIONS_PER_IP=0 NTSB_BURST_ANONYMOUS=0 NTSB_QUOTA_ANONYMOUS=0 \
  NTSB_BURST_FREE=0 NTSB_QUOTA_FREE=0 NTSB_BURST_ADMIN=0 \
  "$BIN" --data-dir "$STORE" serve --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "$BASE/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "$BASE/ready" >/dev/null
TOKEN="$(curl -sf -H 'Content-Type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"

export SCHEMATHESIS_HOOKS=hooks
export PYTHONPATH="$PWD/tests/contract${PYTHONPATH:+:$PYTHONPATH}"
# The live streams never end; the runs leave them out.
STREAMS='/api/v1/stream(/events)?$'
status=0
run() { # run NAME [st options...]
  local name=$1; shift
  echo "== contract: $name ($MAX_EXAMPLES examples per operation)"
  if st --config-file tests/contract/schemathesis.toml run "$BASE/openapi.json" --checks all --max-examples "$MAX_EXAMPLES" --workers 1 \
      --seed 1 --no-color "$@" >"$OUT/$name.txt" 2>&1; then
    tail -n 3 "$OUT/$name.txt"
  else
    status=1
    sed -n '/= FAILURES =/,$p' "$OUT/$name.txt" | head -150
  fi
}
run admin -H "X-API-Key: $KEY" --exclude-path-regex "^/api/v1/auth/|$STREAMS"
run session -H "Authorization: Bearer $TOKEN" --include-path-regex '^/api/v1/auth/' \
  --exclude-path-regex '^/api/v1/auth/(logout|password)$'
run anon --exclude-path-regex "$STREAMS"
echo "reports: $OUT"
exit $status
