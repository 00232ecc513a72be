#!/usr/bin/env bash
# Builds the three deployable Lambda packages (arm64, provided.al2023) with
# `cargo lambda build --release --arm64` and reports their sizes: the same
# build `sam build` runs for `BuildMethod: rust-cargolambda`.
#
#   infra/build.sh            build api, intake and delivery; print sizes
#   infra/build.sh --zip      also write target/lambda/<fn>/bootstrap.zip
#   infra/build.sh --crates   also the size of each crate's code in each
#                             function (cargo-bloat, installed on first use
#                             under $COURIER_CACHE/tools; a host-target build
#                             with symbols kept, as the stripped arm64
#                             packages carry no names)
#
# On a fresh machine it installs what it needs: cargo-lambda and zig (PyPI
# `cargo-lambda`, `ziglang`, pinned in infra/requirements/test.txt, in the
# same venv the tests use) and Rust's standard library for
# aarch64-unknown-linux-gnu (`rustup target add`). zig is the cross linker
# and C compiler (ring, aws-lc-sys); it does not replace the Rust target, so
# when rustup cannot fetch it the build stops and says so.
#
# Output: target/lambda/{api,intake,delivery}/bootstrap (under
# $CARGO_TARGET_DIR when set).
# Env: COURIER_CACHE=DIR  where the tools are installed (~/.cache/courier).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=SCRIPTDIR/lib/install.sh
source "$COURIER_INFRA_DIR/lib/install.sh"
# shellcheck source=SCRIPTDIR/lib/lambda_build.sh
source "$COURIER_INFRA_DIR/lib/lambda_build.sh"

# The [[bin]] names in functions/*/Cargo.toml, as template.yaml's
# BuildProperties.Binary names them.
FUNCTIONS=(api intake delivery)
# The package of each function's binary.
declare -A PACKAGE=([api]=courier-api [intake]=courier-intake [delivery]=courier-delivery)
ZIP=0
CRATES=0
BLOAT_VERSION=0.12.1

while (($#)); do
    case "$1" in
    --zip) ZIP=1 ;;
    --crates) CRATES=1 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

# Bytes of bootstrap once zipped the way Lambda receives it (deflate); with
# --zip the archive is kept next to it.
zipped_size() {
    python3 - "$1" "$2" <<'PY'
import os, sys, tempfile, zipfile
src, keep = sys.argv[1], sys.argv[2] == "1"
out = os.path.join(os.path.dirname(src), "bootstrap.zip") if keep else tempfile.mktemp(suffix=".zip")
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    info = zipfile.ZipInfo.from_file(src, "bootstrap")
    info.external_attr = 0o100755 << 16  # executable, as Lambda needs it
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(src, "rb") as f:
        z.writestr(info, f.read(), compresslevel=9)
print(os.path.getsize(out))
if not keep:
    os.unlink(out)
PY
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
# Decimal megabytes and the exact bytes: the budget is 3.0 MB zipped.
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB (%d B)", b / 1000000, b }'; }
ZIP_BUDGET=3000000

cd "$COURIER_REPO_ROOT"
T0="$(now_s)"
install_build_tools
ensure_rust_target
use_build_tools
bins=()
for f in "${FUNCTIONS[@]}"; do bins+=(--bin "$f"); done
log "cargo lambda build --release --arm64 ${bins[*]}"
cargo lambda build --release --arm64 "${bins[@]}" >&2 || die "cargo lambda build failed (see above)"

OUT="${CARGO_TARGET_DIR:-$COURIER_REPO_ROOT/target}/lambda"
printf '\n%-10s %10s %24s  %-16s %s\n' function bootstrap zipped "budget 3.0 MB" path
for f in "${FUNCTIONS[@]}"; do
    bin="$OUT/$f/bootstrap"
    [[ -f "$bin" ]] || die "cargo lambda reported success but $bin is missing"
    [[ "$(elf_machine "$bin")" == aarch64 ]] || die "$bin is not an arm64 (aarch64) ELF executable"
    size="$(stat -c %s "$bin")"
    zipped="$(zipped_size "$bin" "$ZIP")"
    if ((zipped <= ZIP_BUDGET)); then within=within; else within=OVER; fi
    printf '%-10s %10s %24s  %-16s %s\n' "$f" "$(mib "$size")" "$(mb "$zipped")" "$within" "${bin#"$COURIER_REPO_ROOT"/}"
done
log "built ${#FUNCTIONS[@]} arm64 packages in $(($(now_s) - T0))s"

# Which crates the code of each function comes from.
if ((CRATES)); then
    bloat="$CACHE/tools/bin/cargo-bloat"
    if [[ ! -x "$bloat" ]] || [[ "$("$bloat" bloat --version 2>/dev/null)" != *"$BLOAT_VERSION"* ]]; then
        log "installing cargo-bloat $BLOAT_VERSION"
        cargo install --locked --quiet cargo-bloat --version "$BLOAT_VERSION" --root "$CACHE/tools" >&2 ||
            die "cargo install cargo-bloat failed (see above)"
    fi
    for f in "${FUNCTIONS[@]}"; do
        printf '\n%s: code by crate (%s, release profile, symbols kept)\n' "$f" "$(rustc -vV | sed -n 's/^host: //p')"
        CARGO_PROFILE_RELEASE_STRIP=false "$bloat" bloat --release --crates -n 25 \
            -p "${PACKAGE[$f]}" --bin "$f" ||
            die "cargo bloat of $f failed"
    done
fi
