#!/usr/bin/env bash
# Profiles the delivery benchmark with perf and prints where the delivery
# path's CPU goes beyond the fair baseline's (what README's Performance
# section names as the remaining gap).
#
#   infra/profile.sh                  10 in flight, 20,000 deliveries, 1 round
#   infra/profile.sh --concurrency 50 any courier-bench delivery option
#
# Steps: apt-get install linux-perf when perf is missing -> cargo build
# --profile profiling -p courier-bench (the release build with symbols) ->
# perf record (DWARF call graphs) of `courier-bench delivery` -> perf script
# -> infra/tools/perf_breakdown.py.
#
# Output: the benchmark's table (slowed by perf: read it for the shares,
# not the rates) and the breakdown; target/profile/perf.data for
# `perf report -i`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

case "${1:-}" in
-h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

cd "$COURIER_REPO_ROOT"
TARGET="${CARGO_TARGET_DIR:-$COURIER_REPO_ROOT/target}"
OUT="$TARGET/profile"
mkdir -p "$OUT"

if ! command -v perf >/dev/null 2>&1; then
    log "==> apt-get install linux-perf"
    apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null
fi

log "==> cargo build --profile profiling -p courier-bench"
cargo build --profile profiling -p courier-bench

log "==> perf record: courier-bench delivery $*"
args=(--concurrency 10 --rounds 1 --deliveries 20000)
(($# > 0)) && args=("$@")
perf record -q -F 499 --call-graph dwarf,32768 -o "$OUT/perf.data" \
    "$TARGET/profiling/courier-bench" --out "$OUT/bench" delivery "${args[@]}"

log "==> breakdown"
perf script -i "$OUT/perf.data" 2>/dev/null | python3 "$COURIER_INFRA_DIR/tools/perf_breakdown.py"
