#!/usr/bin/env bash
# Builds Courier and deploys it to AWS, from a fresh machine: the README's
# "Deploy" section runs exactly this.
#
#   infra/deploy.sh                 build, then `sam deploy` with the defaults
#                                   of samconfig.toml (stack "courier")
#   infra/deploy.sh --build-only    stop after `sam build` (no AWS account needed)
#   infra/deploy.sh --guided        `sam deploy --guided`: asks every parameter
#   infra/deploy.sh -- ARGS...      extra `sam deploy` arguments, e.g.
#                                   --region eu-west-1 --stack-name courier-prod
#
# It installs what `sam build` needs into ${COURIER_CACHE:-~/.cache/courier}
# (no-op when present): the SAM CLI (PyPI aws-sam-cli, its own venv),
# cargo-lambda and zig (PyPI, the test venv) and Rust's
# aarch64-unknown-linux-gnu standard library (rustup). `sam build` then runs
# `cargo lambda build --release --arm64` for each function
# (BuildMethod: rust-cargolambda) and leaves the packages in .aws-sam/build.
#
# The admin token (deploy only): ADMIN_TOKEN_SHA256=<64 hex> is used as it
# is; else ADMIN_TOKEN=<token> is hashed; else a new random token is made and
# printed once — keep it, only its SHA-256 goes to AWS. Credentials and
# region come from the AWS CLI's usual configuration (AWS_PROFILE,
# AWS_REGION, ~/.aws).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/install.sh
source "$COURIER_INFRA_DIR/lib/install.sh"
# shellcheck source=SCRIPTDIR/lib/lambda_build.sh
source "$COURIER_INFRA_DIR/lib/lambda_build.sh"

# The template's functions (logical ids), as `sam build` names its folders.
FUNCTIONS=(ApiFunction IntakeFunction DeliveryFunction)
BUILD_ONLY=0
GUIDED=0
DEPLOY_ARGS=()
while (($#)); do
    case "$1" in
    --build-only) BUILD_ONLY=1 ;;
    --guided) GUIDED=1 ;;
    --) shift; DEPLOY_ARGS=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

install_sam() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.install.lock"
    flock 9
    install_venv "$CACHE/sam-venv" "$COURIER_REQ_DIR/sam.txt"
    flock -u 9
    exec 9>&-
}

sam() { SAM_CLI_TELEMETRY=0 "$CACHE/sam-venv/bin/sam" "$@"; }

# A new admin token: 32 random bytes, URL-safe, with a prefix that says
# what it is when it turns up in a password manager.
new_token() { python3 -c 'import secrets; print("courier_admin_" + secrets.token_urlsafe(32))'; }

sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

cd "$COURIER_REPO_ROOT"
T0="$(now_s)"
install_sam
install_build_tools
ensure_rust_target
use_build_tools

log "sam build (cargo lambda build --release --arm64, one function at a time)"
sam build --template template.yaml
for f in "${FUNCTIONS[@]}"; do
    bin=".aws-sam/build/$f/bootstrap"
    [[ -f "$bin" ]] || die "sam build reported success but $bin is missing"
    [[ "$(elf_machine "$bin")" == aarch64 ]] || die "$bin is not an arm64 (aarch64) ELF executable"
done
log "built ${#FUNCTIONS[@]} arm64 functions into .aws-sam/build in $(($(now_s) - T0))s"
((BUILD_ONLY)) && exit 0

if ((GUIDED)); then
    exec_args=(deploy --guided)
else
    if [[ -n "${ADMIN_TOKEN_SHA256:-}" ]]; then
        hash="$ADMIN_TOKEN_SHA256"
    else
        if [[ -z "${ADMIN_TOKEN:-}" ]]; then
            ADMIN_TOKEN="$(new_token)"
            printf '\nNew admin token (shown once; only its SHA-256 is deployed):\n\n  %s\n\n' "$ADMIN_TOKEN" >&2
        fi
        hash="$(sha256_hex "$ADMIN_TOKEN")"
    fi
    [[ "$hash" =~ ^[0-9a-f]{64}$ ]] || die "ADMIN_TOKEN_SHA256 must be 64 lowercase hex digits"
    exec_args=(deploy --parameter-overrides "AdminTokenSha256=$hash")
fi
sam "${exec_args[@]}" "${DEPLOY_ARGS[@]}"
