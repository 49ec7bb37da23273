#!/usr/bin/env bash
# Regenerate crds/wattbit.io_<plural>.yaml from the pydantic models in wattbit.api.
# crds/ is never edited by hand; tests/test_layout.py fails when it is out of date.
#
# Usage: hack/gen-crds.sh [--check]   (--check only compares, exit 1 when stale)
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

wattbit::ensure_venv
cd "$REPO_ROOT"
"$WATTBIT_VENV/bin/python" -m wattbit.api.crdgen --out crds "$@"
# The chart ships the same CRDs; keep its copies in step (or check them with --check).
bash "$REPO_ROOT/hack/sync-chart-crds.sh" "$@"
