#!/usr/bin/env bash
# Compares `ntsb` binaries on the scoring endpoints, interleaved: ROUNDS rounds, each running
# bench/ml.sh once per binary in turn (a fresh server each time, WARMUP seconds of unrecorded
# load before each group), so the slow drifts of a shared machine fall on every binary alike.
# One run on a 2-core VM moves ±10–20% from the next; a before/after figure needs this.
# Prints every run's lines, then per binary and group: the mean server CPU per request (the
# least noisy figure), its range, and the range of the p99.
#
# Usage: bench/ml-compare.sh BIN [BIN...]   (e.g. a binary built from main and one from a branch)
# Environment: ROUNDS (default 5), DURATION (seconds per group, default 8), CONNECTIONS
#   (default 8), WARMUP (default 2), ML_GROUPS (default "batch"), BENCH_DATA_DIR — see bench/ml.sh.
#   The first binary prepares the bench store and models when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/ml-compare.sh BIN [BIN...]" >&2; exit 2; }
for bin in "$@"; do
  [ -x "$bin" ] || { echo "bench/ml-compare.sh: $bin is not an executable" >&2; exit 2; }
done
export DURATION="${DURATION:-8}" CONNECTIONS="${CONNECTIONS:-8}" WARMUP="${WARMUP:-2}" \
  ML_GROUPS="${ML_GROUPS:-batch}"
ROUNDS="${ROUNDS:-5}"
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds," \
  "${DURATION}s per group after ${WARMUP}s of warm-up, ${CONNECTIONS} connections, groups: $ML_GROUPS"
for round in $(seq 1 "$ROUNDS"); do
  for i in $(seq 1 $#); do
    bin=${!i}
    # Keep the table lines of bench/ml.sh (a group name, then seven figures).
    NTSB_BIN=$bin bench/ml.sh | awk -v r="$round" -v b="$i" '
      /^(predict|batch) / && NF >= 8 { printf "%s\t%s\t", r, b; for (k = 1; k <= NF - 7; k++) printf "%s%s", $k, (k < NF - 7 ? " " : ""); printf "\t%s\t%s\t%s\n", $(NF - 6), $(NF - 3), $NF }' \
      | tee -a "$RESULTS" | awk -F'\t' -v name="$bin" '{ printf "round %s  %-28s %-30s %8s req/s  p99 %7s ms  cpu %s ms/req\n", $1, name, $3, $4, $5, $6 }'
  done
done

echo
printf '%-32s %-30s %14s %19s %17s\n' binary group 'mean cpu ms' 'cpu range' 'p99 range ms'
for i in $(seq 1 $#); do
  bin=${!i}
  awk -F'\t' -v b="$i" -v name="$bin" '
    $2 == b {
      g = $3; n[g]++; sum[g] += $6
      if (!(g in lo) || $6 < lo[g]) lo[g] = $6; if (!(g in hi) || $6 > hi[g]) hi[g] = $6
      if (!(g in plo) || $5 + 0 < plo[g]) plo[g] = $5 + 0; if (!(g in phi) || $5 + 0 > phi[g]) phi[g] = $5 + 0
      order[g] = order[g] ? order[g] : ++groups; name_of[order[g]] = g
    }
    END { for (k = 1; k <= groups; k++) { g = name_of[k]
      printf "%-32s %-30s %14.3f %9.3f–%-9.3f %8.2f–%-8.2f\n", name, g, sum[g] / n[g], lo[g], hi[g], plo[g], phi[g] } }' "$RESULTS"
done
