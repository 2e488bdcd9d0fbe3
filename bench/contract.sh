#!/usr/bin/env bash
# The long API contract run, by hand: the same runs as CI's (tests/contract/run.sh)
# with many more generated requests per operation (default 500; MAX_EXAMPLES=N).
#   bench/contract.sh             # about 20-40 minutes on 2 cores
# The store it loads is kept in target/contract/store between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export MAX_EXAMPLES="${MAX_EXAMPLES:-500}"
export NTSB_CONTRACT_STORE="${NTSB_CONTRACT_STORE:-$PWD/target/contract/store}"
cargo build -p ntsb-cli --locked
started=$(date +%s)
tests/contract/run.sh
echo "contract run: $MAX_EXAMPLES examples per operation in $(( $(date +%s) - started )) s"
grep -h "generated" target/contract/{admin,session,anon}.txt
