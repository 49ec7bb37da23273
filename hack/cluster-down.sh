#!/usr/bin/env bash
# Stop the local control plane started by hack/cluster-up.sh and delete its state dir.
#
# Only the PIDs recorded in $WATTBIT_STATE_DIR/pids are signalled (last started first,
# SIGTERM, then SIGKILL after a grace period), and only while their command line still
# names the state dir, so a recycled PID is never hit. Safe to run when nothing is up.
# The batch stack's controllers (batch-pids, hack/batch-stack-up.sh) are stopped first.
#
# Environment:
#   WATTBIT_STATE_DIR   see hack/lib.sh
#   WATTBIT_STOP_GRACE  seconds to wait after SIGTERM before SIGKILL (default 10)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE="$WATTBIT_STATE_DIR"

if [[ ! -e "$STATE" ]]; then
  wattbit::log "nothing to do: $STATE does not exist"
  exit 0
fi

wattbit::lock_state
[[ -f "$STATE/$WATTBIT_STATE_MARKER" || -z "$(ls -A "$STATE")" ]] \
  || wattbit::die "$STATE is not a wattbit cluster state dir (no $WATTBIT_STATE_MARKER); refusing to delete it"

# The batch stack (hack/batch-stack-up.sh) first: it talks to the control plane.
wattbit::stop_recorded "$STATE" "${WATTBIT_STOP_GRACE:-10}" batch-pids
wattbit::stop_recorded "$STATE" "${WATTBIT_STOP_GRACE:-10}"
rm -rf "$STATE"
wattbit::log "cluster stopped; removed $STATE"
