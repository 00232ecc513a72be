# shellcheck shell=bash disable=SC2034 # variables used by the sourcing scripts
# What an arm64 Lambda build needs, for infra/build.sh and infra/deploy.sh:
# cargo-lambda and zig (PyPI, in the test venv), Rust's aarch64 standard
# library (rustup), and a check that a binary is an arm64 ELF.
#
# Requires: common.sh and install.sh sourced first.

RUST_TARGET=aarch64-unknown-linux-gnu

# cargo-lambda and zig from the test venv (install.sh keys it on test.txt).
install_build_tools() {
    command -v python3 >/dev/null || apt_install python3 python3-venv
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.install.lock"
    flock 9
    install_venv "$CACHE/venv" "$COURIER_REQ_DIR/test.txt"
    flock -u 9
    exec 9>&-
    [[ -x "$CACHE/venv/bin/cargo-lambda" ]] || die "cargo-lambda missing from $CACHE/venv (is it in infra/requirements/test.txt?)"
    "$CACHE/venv/bin/python" -c 'import ziglang' 2>/dev/null ||
        die "the ziglang package is missing from $CACHE/venv (cargo-lambda needs zig to link for $RUST_TARGET)"
}

# Rust's standard library for the target: zig links, but cannot supply it.
ensure_rust_target() {
    local sysroot
    sysroot="$(rustc --print sysroot)" || die "rustc not found (install Rust with rustup)"
    [[ -d "$sysroot/lib/rustlib/$RUST_TARGET/lib" ]] && return 0
    command -v rustup >/dev/null ||
        die "Rust's standard library for $RUST_TARGET is not installed and there is no rustup to add it; install a toolchain with that target"
    log "adding the Rust target $RUST_TARGET"
    rustup target add "$RUST_TARGET" >&2 ||
        die "rustup could not download the $RUST_TARGET standard library (no access to the Rust distribution server?). cargo-lambda and zig provide only the linker, so the arm64 packages cannot be built on this machine"
    [[ -d "$sysroot/lib/rustlib/$RUST_TARGET/lib" ]] ||
        die "rustup reported success but $sysroot/lib/rustlib/$RUST_TARGET is missing"
}

# "aarch64" when the file is a 64-bit little-endian ARM ELF executable.
elf_machine() {
    python3 - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    head = f.read(20)
ok = head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1
print("aarch64" if ok and struct.unpack("<H", head[18:20])[0] == 183 else "other")
PY
}

# Puts cargo-lambda and zig first on PATH: cargo-lambda finds zig through
# `python3 -m ziglang`, so the venv's python3 must win over the system's even
# when the venv is already on PATH behind it (as the test environment has it).
use_build_tools() {
    export PATH="$CACHE/venv/bin:$PATH"
}
