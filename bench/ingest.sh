#!/usr/bin/env bash
# Load benchmark: loads everything under ../shared/data/ntsb into a fresh store, then
# loads it again (which must change nothing), printing seconds, events/s, rows/s, peak
# memory and store size for both runs.
#
# Usage: bench/ingest.sh [DATA_DIR]   (default ../shared/data/ntsb)
# Run by hand; record the figures in docs/PERFORMANCE.md with the machine you used.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/ntsb}"
[ -d "$DATA" ] || { echo "bench/ingest.sh: $DATA not found (the shared NTSB corpus)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

cargo build --release --locked -q
BIN=target/release/ntsb
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

run() {
  local label=$1
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN" --data-dir "$WORK/data" ingest "$DATA" --json >"$WORK/$label.json" 2>"$WORK/$label.log"
  read -r secs kib <"$WORK/time"
  python3 - "$WORK/$label.json" "$label" "$secs" "$kib" "$WORK/data" <<'PY'
import json, os, sys
path, label, secs, kib, data = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = json.load(open(path))
t = r["totals"]
rows = sum(c["inserted"] + c["updated"] + c["unchanged"] for c in t.values())
writes = sum(c["inserted"] + c["updated"] for c in t.values())
rejected = sum(c["rejected"] for c in t.values())
ev = t.get("events", {})
events = ev.get("inserted", 0) + ev.get("updated", 0) + ev.get("unchanged", 0)
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs)
print(f"{label}: {secs:.1f} s total, {events/secs:,.0f} events/s, {rows/secs:,.0f} rows/s, "
      f"peak RSS {kib/1024:,.0f} MiB, store+index {size/2**20:,.0f} MiB, "
      f"rows {rows:,}, writes {writes:,}, rejected {rejected:,}, indexed {r['indexed']:,}, files {len(r['files'])}")
PY
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -r)"
run first-load
run re-ingest
