#!/usr/bin/env bash
# Sync benchmark: serves a directory of NTSB files (default the whole shared corpus) from a
# local HTTP server (python3 -m http.server, with an index page linking every file), runs
# `ntsb sync` into a fresh store, then again (every file answered 304), printing seconds,
# peak memory, files and bytes of both runs.
#
# Usage: bench/sync.sh [DATA_DIR]   (default ../shared/data/ntsb)
#   NTSB_BENCH_BIN=path/to/ntsb uses that binary instead of building the release one.
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine you used.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/ntsb}"
[ -d "$DATA" ] || { echo "bench/sync.sh: $DATA not found (the shared NTSB corpus)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

if [ -n "${NTSB_BENCH_BIN:-}" ]; then BIN=$NTSB_BENCH_BIN; else cargo build --release --locked -q; BIN=target/release/ntsb; fi
WORK=$(mktemp -d)
SITE="$WORK/site"
mkdir -p "$SITE"
# The served tree: the corpus's files, linked from one page as NTSB's page links its files.
cp -r "$DATA"/. "$SITE"/
python3 - "$SITE" <<'PY'
import html, os, sys, urllib.parse
root = sys.argv[1]
links = []
for d, _, files in sorted(os.walk(root)):
    for f in sorted(files):
        rel = os.path.relpath(os.path.join(d, f), root)
        links.append(f'<a href="{html.escape(urllib.parse.quote(rel))}">{html.escape(rel)}</a>')
open(os.path.join(root, "index.html"), "w").write("<!DOCTYPE html><html><body>\n" + "<br>\n".join(links) + "\n</body></html>\n")
PY
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$SITE" >"$WORK/http.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

run() {
  local label=$1
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN" --data-dir "$WORK/data" sync \
    --source "http://127.0.0.1:$PORT/index.html" --allow-host 127.0.0.1 --json >"$WORK/$label.json" 2>"$WORK/$label.log" || true
  read -r secs kib <"$WORK/time"
  python3 - "$WORK/$label.json" "$label" "$secs" "$kib" <<'PY'
import collections, json, sys
path, label, secs, kib = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
r = json.load(open(path))
results = collections.Counter(f["result"] for f in r["files"])
print(f"{label}: {r['outcome']}, {secs:.1f} s, peak RSS {kib/1024:,.0f} MiB, {r['bytes']/2**20:,.1f} MiB downloaded, "
      f"files {dict(results)}, events added {r['events_created']:,}, updated {r['events_updated']:,}, rejects {r['rejects']:,}")
PY
}
run first
run second
