# shellcheck shell=bash
# Common helpers for every hack/ script. Source it; do not run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets strict mode, REPO_ROOT and WATTBIT_STATE_DIR, and defines:
#   wattbit::log / wattbit::die   messages to stderr, prefixed with the script's name
#   wattbit::bin_dir              the cached control-plane binaries (builds them on a miss)
#   wattbit::free_ports N         N distinct free TCP ports on 127.0.0.1, one a line
#   wattbit::ensure_venv          $REPO_ROOT/.venv with `pip install -e .[dev,plot]`,
#                                 reinstalled only when pyproject.toml changed
#
# Environment:
#   WATTBIT_STATE_DIR  where the local cluster keeps its state (default: $REPO_ROOT/.run/cluster,
#                      or .run/cluster-1.35 with WATTBIT_KUBERNETES=1.35)
#   WATTBIT_KUBERNETES the Kubernetes minor to build and run (hack/build-control-plane.sh)
set -o errexit -o nounset -o pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A cluster of another minor (WATTBIT_KUBERNETES=1.35) keeps its own state, beside the default.
if [[ -n "${WATTBIT_KUBERNETES:-}" && "${WATTBIT_KUBERNETES}" != "1.36" ]]; then
  WATTBIT_STATE_DIR="${WATTBIT_STATE_DIR:-$REPO_ROOT/.run/cluster-$WATTBIT_KUBERNETES}"
else
  WATTBIT_STATE_DIR="${WATTBIT_STATE_DIR:-$REPO_ROOT/.run/cluster}"
fi
WATTBIT_VENV="$REPO_ROOT/.venv"

wattbit::log() {
  printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2
}

wattbit::die() {
  wattbit::log "error: $*"
  exit 1
}

# Print the directory holding etcd, kube-*, kubectl, kwok and helm. A cache hit
# takes well under a second; a miss runs the full build (about 30 minutes cold).
wattbit::bin_dir() {
  local out
  out="$(bash "$REPO_ROOT/hack/build-control-plane.sh")" \
    || wattbit::die "hack/build-control-plane.sh failed"
  out="$(tail -n 1 <<<"$out")"
  [[ -d "$out" ]] || wattbit::die "hack/build-control-plane.sh printed '$out', not a directory"
  printf '%s\n' "$out"
}

# Print N distinct free TCP ports on 127.0.0.1. All sockets are held open until
# every port is chosen, so the N ports differ; another process may still grab one
# before we bind it, which is harmless for a test cluster.
wattbit::free_ports() {
  python3 - "${1:-1}" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Create $REPO_ROOT/.venv and install the project with its dev and plot extras.
# The install is skipped when pyproject.toml has the hash recorded by the last
# successful install, so calling this on every run costs almost nothing.
wattbit::ensure_venv() {
  local stamp="$WATTBIT_VENV/.wattbit-pyproject.sha256" want have=""
  want="$(sha256sum "$REPO_ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [[ ! -x "$WATTBIT_VENV/bin/python" ]]; then
    wattbit::log "creating $WATTBIT_VENV"
    python3 -m venv "$WATTBIT_VENV"
  fi
  [[ -f "$stamp" ]] && have="$(<"$stamp")"
  if [[ "$have" != "$want" ]]; then
    wattbit::log "installing the project into $WATTBIT_VENV (pyproject.toml changed)"
    "$WATTBIT_VENV/bin/python" -m pip install --quiet -e "${REPO_ROOT}[dev,plot]" >&2
    printf '%s\n' "$want" >"$stamp"
  fi
}

# ---- the local cluster's state dir (used by cluster-up.sh and cluster-down.sh) ----------

# A file that marks a directory as ours, so cluster-down never removes anything else.
# shellcheck disable=SC2034  # used by cluster-up.sh and cluster-down.sh
WATTBIT_STATE_MARKER=".wattbit-cluster-state"

# Serialise cluster-up/cluster-down on one state dir (e.g. two pytest sessions at once).
# The lock is held on fd 9 until the script exits; started components must not inherit it
# (cluster-up.sh closes fd 9 for them), or the lock would outlive the script.
wattbit::lock_state() {
  mkdir -p "$(dirname "$WATTBIT_STATE_DIR")"
  exec 9>"$WATTBIT_STATE_DIR.lock"
  flock -w 900 9 || wattbit::die "timed out waiting for the lock $WATTBIT_STATE_DIR.lock"
}

# True if PID is alive and its command line mentions the state dir, i.e. it is a process
# we started and not an unrelated one that reused the PID.
wattbit::owns_pid() {
  local pid="$1" state="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$state"
}

# Stop the processes recorded in STATE/FILE (default pids; batch-pids for the batch stack of
# hack/batch-stack-up.sh), last started first: SIGTERM, then SIGKILL after GRACE seconds.
# Only PIDs for which wattbit::owns_pid holds are signalled.
wattbit::stop_recorded() {
  local state="$1" grace="${2:-10}" file="$1/${3:-pids}" names=() pids=() name pid i waited
  [[ -f "$file" ]] || return 0
  while read -r name pid; do
    names+=("$name"); pids+=("$pid")
  done <"$file"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    name="${names[i]}"; pid="${pids[i]}"
    wattbit::owns_pid "$pid" "$state" || continue
    wattbit::log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || continue
    for ((waited = 0; waited < grace * 10; waited++)); do
      wattbit::owns_pid "$pid" "$state" || break
      sleep 0.1
    done
    if wattbit::owns_pid "$pid" "$state"; then
      wattbit::log "$name (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$file"
}
