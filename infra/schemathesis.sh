#!/usr/bin/env bash
# The API contract test, a step of infra/test.sh and runnable alone (about
# a minute once courier-local is built):
#
#   schemathesis (pinned in infra/requirements/schemathesis.txt) runs every
#   phase (examples, coverage, fuzzing, stateful) with `--checks all` over
#   functions/api/openapi.json, the admin API and the intake route, against
#   the debug courier-local on a free loopback port with a throwaway admin
#   token, and fails on any failure. Settings and the one documented
#   exclusion (opaque list cursors) are in infra/schemathesis.toml.
#
# No fixed seed: each run explores new inputs, so a run that passes says
# nothing was found this time, and a failure is printed with a seed and a
# curl line to reproduce it.
#
# Env: COURIER_SCHEMATHESIS_EXAMPLES=N  examples per operation and phase
#                                       (default 50; bounds the run time).
#      COURIER_CACHE=DIR                where the venv is installed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/install.sh
source "$COURIER_INFRA_DIR/lib/install.sh"

EXAMPLES="${COURIER_SCHEMATHESIS_EXAMPLES:-50}"
WORK="$(mktemp -d)"
SERVER_PID=""

cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# wait_for_port PORT: until courier-local accepts connections (30 s).
wait_for_port() {
    local port="$1" i
    for ((i = 0; i < 300; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { sed 's/^/  courier-local: /' "$WORK/server.log" >&2; die "courier-local exited"; }
        sleep 0.1
    done
    die "courier-local did not listen on 127.0.0.1:$port within 30 s"
}

install_venv_locked "$CACHE/schemathesis-venv" "$COURIER_REQ_DIR/schemathesis.txt"
(cd "$COURIER_REPO_ROOT" && cargo build -q -p courier-local)
PORT="$(free_ports 1)"
# Read by infra/schemathesis.toml's Authorization header.
COURIER_SCHEMATHESIS_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
export COURIER_SCHEMATHESIS_TOKEN
# Private targets refused, as deployed: the document states the deployed
# contract (https, public hosts), and courier-local allows http and
# loopback targets by default for local receivers.
LISTEN_ADDR="127.0.0.1:$PORT" ADMIN_TOKEN="$COURIER_SCHEMATHESIS_TOKEN" ALLOW_PRIVATE_TARGETS=false \
    RUST_LOG=warn "${CARGO_TARGET_DIR:-$COURIER_REPO_ROOT/target}/debug/courier-local" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_for_port "$PORT"
log "schemathesis: every phase, --checks all, $EXAMPLES examples, against courier-local on 127.0.0.1:$PORT"
# From the temp dir, so schemathesis's and hypothesis's caches stay out of
# the tree.
(cd "$WORK" && "$CACHE/schemathesis-venv/bin/schemathesis" \
    --config-file "$COURIER_INFRA_DIR/schemathesis.toml" \
    run "$COURIER_REPO_ROOT/functions/api/openapi.json" \
    --url "http://127.0.0.1:$PORT" \
    --checks all \
    --max-examples "$EXAMPLES")
