#!/usr/bin/env bash
# Run every check and test, as CI does: ruff, mypy --strict, import-linter, the CRD
# freshness check, unit/property/provider tests, and the integration tests against the
# local control plane (built and started on demand; left running for the next run
# unless it was started here and WATTBIT_KEEP_CLUSTER is not 1).
#
# Usage: hack/test.sh [pytest args...]     e.g. hack/test.sh -k placement
#   WATTBIT_SKIP_INTEGRATION=1  run everything except tests/integration (no cluster needed)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

wattbit::ensure_venv
PY="$WATTBIT_VENV/bin"

wattbit::log "ruff"
"$PY/ruff" check --output-format concise .
"$PY/ruff" format --check .

wattbit::log "mypy --strict"
"$PY/mypy" operator/wattbit tests bench

wattbit::log "import-linter"
"$PY/lint-imports"

pytest_args=(-p no:cacheprovider)
if [[ "${WATTBIT_SKIP_INTEGRATION:-0}" == "1" ]]; then
  pytest_args+=(-m "not integration")
else
  # Build (first run: ~15 minutes on 2 cores, and ~7 more for the batch stack) and start the
  # control plane before pytest, so the build never runs inside a test's timeout.
  wattbit::bin_dir >/dev/null
  # The batch stack (Kueue, JobSet, Trainer) too: the batch_stack fixture only starts it.
  bash "$REPO_ROOT/hack/build-batch-stack.sh" >/dev/null || wattbit::die "hack/build-batch-stack.sh failed"
  was_up=0
  [[ -f "$WATTBIT_STATE_DIR/kubeconfig" ]] && was_up=1
  bash "$REPO_ROOT/hack/cluster-up.sh" >/dev/null
  if [[ "$was_up" == "0" && "${WATTBIT_KEEP_CLUSTER:-0}" != "1" ]]; then
    trap 'bash "$REPO_ROOT/hack/cluster-down.sh" >/dev/null 2>&1 || true' EXIT
  fi
fi

wattbit::log "pytest"
"$PY/pytest" "${pytest_args[@]}" "$@"
