#!/usr/bin/env bash
# Runs every courier test on a fresh machine: the one command for CI (.ci/run)
# and for developers.
#
#   infra/test.sh                  everything
#   infra/test.sh -- -p courier    extra args go to `cargo test` (then the
#                                  per-backend counts are reported, not enforced)
#
# Steps, failing fast: install tools into ${COURIER_CACHE:-~/.cache/courier}
# (no-op when present) -> self-test of infra/tools/verify_standardwebhooks.py
# (PyPI and npm) -> cargo fmt --check -> cargo clippy -D warnings ->
# start DynamoDB Local + moto SQS on free loopback ports -> cargo test
# --workspace (log: target/courier-test/cargo-test.log) -> the webhooks
# panel in headless Chromium against courier-local (infra/browser,
# screenshots in target/browser) -> per-backend test
# counts (each binary's embedded and AWS tests against EXPECTED_BACKEND_TESTS
# below) -> template checks (infra/template_checks.sh: checkov with 0
# failures and every skip's reason, sam validate --lint with and without
# the VPC parameters) -> the README's deploy sequence up to `sam
# build` (infra/deploy.sh --build-only: three arm64 functions).
#
# Env: COURIER_TEST_SKIP_LINT=1 skips fmt and clippy (quick local runs).
#      COURIER_TEST_SKIP_SAM_BUILD=1 skips the sam build (quick local runs;
#                              refused when CI is set).
#      COURIER_CACHE=DIR       where the tools are installed.
#      COURIER_EMU_TIMEOUT=S   how long an emulator may take to answer (60).
#      COURIER_KEEP_EMU_LOGS=1 keep the emulator logs' temp dir (always kept
#                              when the run fails).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# The tests each binary must pass on each backend: "BINARY EMBEDDED AWS".
# A dropped AWS (or embedded) instantiation, or a scenario left out of one
# backend's list, changes a count and fails the run. Update this table when
# you add or remove a scenario.
EXPECTED_BACKEND_TESTS="
api 48 48
conformance_aws 0 46
conformance_embedded 46 0
custom_headers 1 1
delivery 14 14
endpoint_outages 5 5
fan_out 3 3
faults 1 1
intake 5 5
message_formats 1 1
operational 4 4
outage 2 2
pipeline 8 8
publish_scopes 1 1
rate_limit 1 1
white_label 1 1
"

# A developer's UPDATE_OPENAPI must not rewrite the checked-in document
# during a test run.
unset UPDATE_OPENAPI

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/install.sh
source "$COURIER_INFRA_DIR/lib/install.sh"
# shellcheck source=SCRIPTDIR/lib/emulators.sh
source "$COURIER_INFRA_DIR/lib/emulators.sh"
# shellcheck source=SCRIPTDIR/lib/cargo_results.sh
source "$COURIER_INFRA_DIR/lib/cargo_results.sh"

CARGO_TEST_ARGS=()
while (($#)); do
    case "$1" in
    --) shift; CARGO_TEST_ARGS=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (cargo test arguments go after --)" ;;
    esac
done

cd "$COURIER_REPO_ROOT"

# A clean clone gains nothing from incremental compilation, and its caches
# double the size of target/debug (a CI run once died of a full disk).
[[ -n "${CI:-}" ]] && export CARGO_INCREMENTAL=0

# A full run from a clean clone leaves about 6 GB in its build directory;
# say so up front instead of failing half-way through with ENOSPC.
MIN_FREE_GB=8
mkdir -p "${CARGO_TARGET_DIR:-$COURIER_REPO_ROOT/target}"
free_gb="$(df -Pk "${CARGO_TARGET_DIR:-$COURIER_REPO_ROOT/target}" | awk 'NR==2 {print int($4 / 1048576)}')"
log "disk: ${free_gb} GB free for the build directory"
((free_gb >= MIN_FREE_GB)) || die "only ${free_gb} GB free on the build directory's disk; a full run needs ${MIN_FREE_GB} GB (free space, or set CARGO_TARGET_DIR to a roomier disk)"

RUN_DIR="${CARGO_TARGET_DIR:-$COURIER_REPO_ROOT/target}/courier-test"
CARGO_LOG="$RUN_DIR/cargo-test.log"
mkdir -p "$RUN_DIR"

T_START="$(now_s)"
STEP=""       # the step running now; named in the summary when it fails
DONE=()       # "name ok (Ns)" of the steps that passed
STEP_NOTE=""  # a step may set this to add a detail to its DONE entry
TOTALS=""     # "passed failed ignored" over every cargo test binary

join_list() {
    local out="" x
    for x in "$@"; do out+="${out:+, }$x"; done
    echo "${out:-none}"
}

on_exit() {
    local rc=$? p f g
    trap - EXIT INT TERM
    if ((rc != 0)) && [[ -n "$COURIER_EMU_DIR" && -d "$COURIER_EMU_DIR" ]]; then
        COURIER_KEEP_EMU_LOGS=1
        log "emulator logs kept in $COURIER_EMU_DIR"
    fi
    stop_emulators
    echo
    if ((rc == 0)); then
        printf 'courier tests: PASSED in %ss -- %s\n' "$(($(now_s) - T_START))" "$(join_list "${DONE[@]}")"
    else
        printf 'courier tests: FAILED at step "%s" (exit %s) after %ss -- passed before it: %s\n' \
            "${STEP:-setup}" "$rc" "$(($(now_s) - T_START))" "$(join_list "${DONE[@]}")"
    fi
    if [[ -n "$TOTALS" ]]; then
        read -r p f g <<<"$TOTALS"
        echo "tests: $p passed, $f failed, $g skipped"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step NAME CMD... : runs CMD as the named step; fails the script if it fails.
step() {
    local name="$1" t0 rc=0
    shift
    STEP="$name"
    t0="$(now_s)"
    log "==> $name"
    "$@" || rc=$?
    if ((rc != 0)); then
        log "FAILED: $name (exit $rc)"
        exit "$rc"
    fi
    DONE+=("$name ok${STEP_NOTE:+ [$STEP_NOTE]} ($(($(now_s) - t0))s)")
    STEP_NOTE=""
}

run_cargo_test() {
    local rc=0
    local -a cmd=(cargo test --workspace)
    ((${#CARGO_TEST_ARGS[@]})) && cmd=(cargo test "${CARGO_TEST_ARGS[@]}")
    log "${cmd[*]}  (full output: ${CARGO_LOG#"$COURIER_REPO_ROOT"/})"
    "${cmd[@]}" 2>&1 | tee "$CARGO_LOG" || rc=$?
    TOTALS="$(totals_from_log "$CARGO_LOG")"
    return "$rc"
}

check_backend_counts() {
    local got want
    got="$(backend_counts "$CARGO_LOG")"
    want="$(sed '/^ *$/d; s/^ *//' <<<"$EXPECTED_BACKEND_TESTS" | sort)"
    echo "tests per backend (binary embedded aws):"
    sed 's/^/  /' <<<"$got"
    STEP_NOTE="$(awk '{e += $2; a += $3} END {printf "embedded=%d aws=%d", e, a}' <<<"$got")"
    if ((${#CARGO_TEST_ARGS[@]})); then
        log "cargo test arguments given: per-backend counts not enforced"
        return 0
    fi
    if [[ "$got" != "$want" ]]; then
        log "per-backend test counts differ from EXPECTED_BACKEND_TESTS in infra/test.sh:"
        diff <(echo "$want") <(echo "$got") | sed -n 's/^</  expected:/p; s/^>/  got:     /p' >&2
        return 1
    fi
}

# Runs the first command of README.md's "## Deploy" section, which must be
# the build-only deploy, so the documented path is the tested one.
readme_deploy_build() {
    local first
    first="$(awk '/^## Deploy$/ {d = 1} d && /^```sh$/ {getline; print; exit}' README.md | sed 's/ *#.*$//')"
    [[ "$first" == "infra/deploy.sh --build-only" ]] ||
        { log "README.md's Deploy section must start with 'infra/deploy.sh --build-only' (found: '$first')"; return 1; }
    # shellcheck disable=SC2086 # the command and its flag, as the README writes them
    bash $first
}

# The panel's browser tests: Debian's chromium driven by selenium against
# the courier-local binary the cargo test step built.
browser_tests() {
    cargo build -q -p courier-local
    "$CACHE/browser-venv/bin/python" "$COURIER_INFRA_DIR/browser/portal_test.py"
}

step "install tools" install_tools
export_test_env
step "verifier self-test (PyPI)" "$COURIER_TEST_PYTHON" "$COURIER_INFRA_DIR/tools/selftest_verify_standardwebhooks.py"
step "verifier self-test (npm)" env NODE_PATH="$COURIER_TEST_NODE_PATH" "$COURIER_TEST_PYTHON" \
    "$COURIER_INFRA_DIR/tools/selftest_verify_standardwebhooks.py" node "$COURIER_INFRA_DIR/tools/verify_standardwebhooks.js"
if [[ "${COURIER_TEST_SKIP_LINT:-0}" == 1 ]]; then
    log "COURIER_TEST_SKIP_LINT=1: skipping cargo fmt and cargo clippy"
    DONE+=("fmt/clippy skipped")
else
    step "cargo fmt" cargo fmt --all -- --check
    step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
fi
step "start emulators" start_emulators
step "cargo test" run_cargo_test
stop_emulators
step "browser tests" browser_tests
step "schemathesis (API contract)" bash "$COURIER_INFRA_DIR/schemathesis.sh"
step "tests per backend" check_backend_counts
step "template checks (checkov, sam validate)" bash "$COURIER_INFRA_DIR/template_checks.sh"
if [[ "${COURIER_TEST_SKIP_SAM_BUILD:-0}" == 1 && -z "${CI:-}" ]]; then
    log "COURIER_TEST_SKIP_SAM_BUILD=1: skipping the sam build"
    DONE+=("sam build skipped")
else
    step "sam build (README deploy)" readme_deploy_build
fi
STEP=""
