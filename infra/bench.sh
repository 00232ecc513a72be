#!/usr/bin/env bash
# Runs Courier's benchmarks on this machine and prints and saves the figures.
#
#   infra/bench.sh                           all six
#   infra/bench.sh delivery e2e              some: delivery e2e cold-start aws-cost fan-out slow-neighbour
#   infra/bench.sh aws-cost --cost-events 50 any courier-bench option (--help lists them)
#
# Steps: install the test tools (DynamoDB Local, moto, ...) into
# ${COURIER_CACHE:-~/.cache/courier}, as infra/test.sh does (no-op when
# present) -> cargo build --release of api, intake, delivery, courier-local
# and courier-bench -> start the emulators on free loopback ports ->
# target/release/courier-bench -> stop the emulators.
#
# Output: the tables on stdout; target/bench/<benchmark>.json,
# target/bench/summary.md (headline figures, for the README) and the logs
# of the processes started (under $CARGO_TARGET_DIR when set).
# Env: COURIER_CACHE=DIR       where the tools are installed.
#      COURIER_EMU_TIMEOUT=S   how long an emulator may take to answer (60).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/install.sh
source "$COURIER_INFRA_DIR/lib/install.sh"
# shellcheck source=SCRIPTDIR/lib/emulators.sh
source "$COURIER_INFRA_DIR/lib/emulators.sh"

case "${1:-}" in
-h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_emulators
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$COURIER_REPO_ROOT"
TARGET="${CARGO_TARGET_DIR:-$COURIER_REPO_ROOT/target}"
OUT="$TARGET/bench"
T0="$(now_s)"

log "==> install tools"
install_tools
T_TOOLS="$(now_s)"

log "==> cargo build --release (api, intake, delivery, courier-local, courier-bench)"
cargo build --release --bins \
    -p courier-api -p courier-intake -p courier-delivery -p courier-local -p courier-bench
T_BUILD="$(now_s)"

log "==> start emulators"
mkdir -p "$OUT"
start_emulators "$OUT/emulators"
export_test_env
T_EMU="$(now_s)"

log "==> benchmarks"
rc=0
"$TARGET/release/courier-bench" --out "$OUT" --bin-dir "$TARGET/release" "$@" || rc=$?
T_END="$(now_s)"

log "timings: tools $((T_TOOLS - T0))s, release build $((T_BUILD - T_TOOLS))s, emulators $((T_EMU - T_BUILD))s, benchmarks $((T_END - T_EMU))s; total $((T_END - T0))s"
((rc == 0)) || die "a benchmark failed or a check did not hold (exit $rc; see above)"
log "figures: $OUT/*.json, summary: $OUT/summary.md"
