#!/usr/bin/env bash
# Installs (if missing) and starts DynamoDB Local and moto's SQS server on free
# loopback ports, prints the environment the tests read, and keeps them
# running until Ctrl-C. For running single tests by hand:
#
#   infra/emulators.sh                       # terminal 1
#   source ~/.cache/courier/emulators.env    # terminal 2, then e.g.
#   cargo test -p courier-testkit --test conformance_aws
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/install.sh
source "$COURIER_INFRA_DIR/lib/install.sh"
# shellcheck source=SCRIPTDIR/lib/emulators.sh
source "$COURIER_INFRA_DIR/lib/emulators.sh"

ENV_FILE="$CACHE/emulators.env"
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    trap - EXIT INT TERM
    stop_emulators
    rm -f "$ENV_FILE"
    log "emulators stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_tools
start_emulators ""
export_test_env
print_test_env >"$ENV_FILE"
echo
cat "$ENV_FILE"
echo
echo "# The lines above are also in $ENV_FILE: 'source' it in another shell."
echo "# Emulator logs: $COURIER_EMU_DIR. Ctrl-C stops both emulators."
# Returns when Ctrl-C is pressed or when either emulator exits on its own.
wait -n || true
die "an emulator exited; logs were in $COURIER_EMU_DIR (kept: COURIER_KEEP_EMU_LOGS=1)"
