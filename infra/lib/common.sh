# shellcheck shell=bash disable=SC2034 # variables used by the sourcing scripts
# Shared helpers for the infra/ scripts. Source it; it defines functions and a
# few variables and runs nothing else.

COURIER_INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COURIER_REPO_ROOT="$(cd "$COURIER_INFRA_DIR/.." && pwd)"
CACHE="${COURIER_CACHE:-${HOME:-/root}/.cache/courier}"

log() { printf '[courier %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[courier] ERROR: %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch, for step timings.
now_s() { date +%s; }

# Two (or N) distinct free TCP ports on 127.0.0.1, space-separated. The
# sockets are held open together so the ports differ; there is a small race
# between closing them and the emulators binding, which is fine for tests.
free_ports() {
    local n="${1:-1}"
    python3 - "$n" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}
