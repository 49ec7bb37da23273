#!/usr/bin/env bash
# Build the batch stack that GPU clusters run beside wattbit: Kueue, the JobSet controller and
# the Kubeflow Trainer controller manager, from the Go module proxy at the versions pinned
# below, in one `go build` of the wrapper module hack/tools/batch (the three share their k8s.io
# dependencies, so they share one build). Their CRDs, webhook manifests (kustomize dirs) and
# Trainer's runtime manifests are copied next to the binaries from the module sources.
#
# Prints the cache directory as its last line:
#   bin/kueue bin/jobset-controller bin/trainer-controller-manager
#   manifests/{kueue,jobset,trainer}/{crd,webhook}/   (kustomize dirs, as the modules ship them)
#   manifests/trainer/runtimes/   VERSIONS
# A second run with the same pins finds the cache and returns at once. hack/batch-stack-up.sh
# starts the stack on a running local cluster.
#
# Environment:
#   WATTBIT_CACHE       root of the cache (default: ${XDG_CACHE_HOME:-~/.cache}/wattbit)
#   WATTBIT_BUILD_JOBS  go build -p (default: number of cores)
set -euo pipefail

die() { echo "build-batch-stack: $*" >&2; exit 1; }

# ---- pinned versions (change here, and in hack/tools/batch/go.mod) -----------
KUEUE_VERSION=v0.19.2
JOBSET_VERSION=v0.12.0
TRAINER_VERSION=v2.3.0
# -----------------------------------------------------------------------------

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULE_DIR="$HACK_DIR/tools/batch"
CACHE_ROOT="${WATTBIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wattbit}"

command -v go >/dev/null || die "Go is not installed; it is needed to build the batch stack"
GO_VERSION="$(go env GOVERSION)"
# The key covers the pins, the Go version, the wrapper module and this script (build flags,
# what is copied).
MODS_HASH="$(cat "$MODULE_DIR/go.mod" "$MODULE_DIR/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
KEY="batch-kueue-$KUEUE_VERSION-jobset-$JOBSET_VERSION-trainer-$TRAINER_VERSION-$GO_VERSION-$MODS_HASH"
OUT_DIR="$CACHE_ROOT/bin/$KEY"
BINARIES=(kueue jobset-controller trainer-controller-manager)

cached() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$OUT_DIR/bin/$b" ]] || return 1; done
  [[ -f "$OUT_DIR/VERSIONS" ]]
}

if cached; then
  echo "$OUT_DIR"
  exit 0
fi

mkdir -p "$CACHE_ROOT/logs" "$CACHE_ROOT/bin"
LOG="$CACHE_ROOT/logs/build-$KEY.log"
: >"$LOG"
STAGING="$(mktemp -d "$CACHE_ROOT/bin/.building.XXXXXX")"
trap 'rm -rf "$STAGING"' EXIT

export GOTOOLCHAIN=local CGO_ENABLED=0
JOBS="${WATTBIT_BUILD_JOBS:-$(nproc)}"
total_started=$SECONDS

step() {
  # step NAME COMMAND...: run one build step, logging to $LOG; fail naming the step.
  local name="$1"; shift
  local started=$SECONDS
  echo "build-batch-stack: $name ..." >&2
  echo "==== $name: $*" >>"$LOG"
  if ! "$@" >>"$LOG" 2>&1; then
    echo "build-batch-stack: step '$name' failed; last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  echo "build-batch-stack: $name done in $((SECONDS - started))s" >&2
}

check_pin() {
  # The wrapper's go.mod must require the version pinned above.
  local module="$1" version="$2"
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$module $version\b" "$MODULE_DIR/go.mod" \
    || die "hack/tools/batch/go.mod does not require $module $version (update it with: cd hack/tools/batch && go get $module@$version && go mod tidy)"
}
check_pin sigs.k8s.io/kueue "$KUEUE_VERSION"
check_pin sigs.k8s.io/jobset "$JOBSET_VERSION"
check_pin github.com/kubeflow/trainer/v2 "$TRAINER_VERSION"

# Each binary reports its own version (as their Makefiles stamp it), not v0.0.0-main.
LDFLAGS="-s -w \
 -X sigs.k8s.io/kueue/pkg/version.GitVersion=$KUEUE_VERSION \
 -X sigs.k8s.io/jobset/pkg/version.GitVersion=$JOBSET_VERSION"

build() {
  cd "$MODULE_DIR"
  mkdir -p "$STAGING/bin"
  GOFLAGS=-mod=readonly go build -p "$JOBS" -trimpath -ldflags="$LDFLAGS" -o "$STAGING/bin/" \
    sigs.k8s.io/kueue/cmd/kueue \
    sigs.k8s.io/jobset \
    github.com/kubeflow/trainer/v2/cmd/trainer-controller-manager
  # The JobSet controller's main package is its module root: go build names it "jobset".
  mv "$STAGING/bin/jobset" "$STAGING/bin/jobset-controller"
}

module_dir() {
  (cd "$MODULE_DIR" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' "$1")
}

copy_manifests() {
  local kueue jobset trainer m="$STAGING/manifests"
  kueue="$(module_dir sigs.k8s.io/kueue)"
  jobset="$(module_dir sigs.k8s.io/jobset)"
  trainer="$(module_dir github.com/kubeflow/trainer/v2)"
  [[ -d "$kueue" && -d "$jobset" && -d "$trainer" ]] || { echo "module dirs not found"; return 1; }
  mkdir -p "$m"/{kueue,jobset,trainer}
  # The kustomize dirs as shipped: their patches add the CRD conversion webhooks and the
  # webhooks' namespace and object selectors (hack/batch-stack-up.sh renders them with
  # `kubectl kustomize`, then points them at 127.0.0.1).
  cp -r "$kueue/config/components/crd" "$m/kueue/crd"
  cp -r "$jobset/config/components/crd" "$m/jobset/crd"
  cp -r "$trainer/manifests/base/crds" "$m/trainer/crd"
  cp -r "$kueue/config/components/webhook" "$m/kueue/webhook"
  cp -r "$jobset/config/components/webhook" "$m/jobset/webhook"
  cp -r "$trainer/manifests/base/webhook" "$m/trainer/webhook"
  cp -r "$trainer/manifests/base/runtimes" "$m/trainer/runtimes"
  chmod -R u+w "$m"  # the module cache is read-only
}

step "download modules (kueue, jobset, trainer)" bash -c "cd '$MODULE_DIR' && GOFLAGS=-mod=readonly go mod download"
step "build kueue $KUEUE_VERSION, jobset $JOBSET_VERSION, trainer $TRAINER_VERSION" build
step "copy CRDs and webhook manifests" copy_manifests
step "check versions" bash -c "
  '$STAGING/bin/kueue' --help 2>&1 | grep -q -- '-config' &&
  '$STAGING/bin/jobset-controller' --help 2>&1 | grep -q -- '-config' &&
  '$STAGING/bin/trainer-controller-manager' --help 2>&1 | grep -q -- '-config'"
printf 'kueue %s\njobset %s\ntrainer %s\ngo %s\n' \
  "$KUEUE_VERSION" "$JOBSET_VERSION" "$TRAINER_VERSION" "$GO_VERSION" >"$STAGING/VERSIONS"

# Publish atomically so a half-built cache is never seen.
rm -rf "$OUT_DIR"
mv "$STAGING" "$OUT_DIR"
trap - EXIT
echo "build-batch-stack: built in $((SECONDS - total_started))s; $OUT_DIR (log: $LOG)" >&2
echo "$OUT_DIR"
