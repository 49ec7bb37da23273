#!/usr/bin/env bash
# Build the local control plane (etcd, kube-apiserver, kube-scheduler,
# kube-controller-manager, kubectl, kwok, helm) from the Go module proxy, at the
# versions pinned below, into a cache directory keyed by those versions.
#
# Prints the directory holding the binaries as its last line. A second run with
# the same pins finds the cache and returns in well under a second.
#
# Environment:
#   WATTBIT_CACHE   root of the binary cache (default: ${XDG_CACHE_HOME:-~/.cache}/wattbit)
#   WATTBIT_BUILD_JOBS  go build -p (default: number of cores)
#   WATTBIT_KUBERNETES  the Kubernetes minor: 1.36 (default), or 1.35 and 1.37, the oldest and
#                       newest in upstream support; each from its wrapper module in hack/tools
set -euo pipefail

die() { echo "build-control-plane: $*" >&2; exit 1; }

# ---- pinned versions (change here, and in hack/tools/*/go.mod) -------------
case "${WATTBIT_KUBERNETES:-1.36}" in
  1.36) KUBERNETES_VERSION=v1.36.3; K8S_MODULE=k8s ;;
  1.35) KUBERNETES_VERSION=v1.35.4; K8S_MODULE=k8s-1.35 ;;
  1.37) KUBERNETES_VERSION=v1.37.2; K8S_MODULE=k8s-1.37 ;;
  *) die "WATTBIT_KUBERNETES=${WATTBIT_KUBERNETES}: the supported minors are 1.35, 1.36 and 1.37" ;;
esac
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.21.4
# -----------------------------------------------------------------------------

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS_DIR="$HACK_DIR/tools"
CACHE_ROOT="${WATTBIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wattbit}"

command -v go >/dev/null || die "Go is not installed; it is needed to build the control plane"
GO_VERSION="$(go env GOVERSION)"
# The key covers the pins, the Go version, the wrapper modules and this script (build flags).
MODS_HASH="$(cat "$TOOLS_DIR/$K8S_MODULE"/go.sum "$TOOLS_DIR"/etcd/go.sum "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
KEY="k8s-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION-$GO_VERSION-$MODS_HASH"
BIN_DIR="$CACHE_ROOT/bin/$KEY"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm)

cached() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN_DIR/$b" ]] || return 1; done
}

if cached; then
  echo "$BIN_DIR"
  exit 0
fi

mkdir -p "$CACHE_ROOT/logs" "$CACHE_ROOT/bin"
LOG="$CACHE_ROOT/logs/build-$KEY.log"
: >"$LOG"
STAGING="$(mktemp -d "$CACHE_ROOT/bin/.building.XXXXXX")"
trap 'rm -rf "$STAGING"' EXIT

export GOTOOLCHAIN=local CGO_ENABLED=0
JOBS="${WATTBIT_BUILD_JOBS:-$(nproc)}"

step() {
  # step NAME COMMAND...: run one build step, logging to $LOG; fail naming the step.
  local name="$1"; shift
  local started=$SECONDS
  echo "build-control-plane: $name ..." >&2
  echo "==== $name: $*" >>"$LOG"
  if ! "$@" >>"$LOG" 2>&1; then
    echo "build-control-plane: step '$name' failed; last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  echo "build-control-plane: $name done in $((SECONDS - started))s" >&2
}

MINOR="${KUBERNETES_VERSION#v1.}"; MINOR="${MINOR%%.*}"
# Without these the binaries report v0.0.0-master, which helm's and kwok's version checks misread.
K8S_LDFLAGS="-s -w \
 -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$MINOR \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z \
 -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=$MINOR"

check_pin() {
  # The go.mod of a wrapper must require the version pinned above.
  local dir="$1" module="$2" version="$3"
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$module $version\b" "$TOOLS_DIR/$dir/go.mod" \
    || die "hack/tools/$dir/go.mod does not require $module $version (update it with: cd hack/tools/$dir && go get -tool ...@$version && go mod tidy)"
}
check_pin "$K8S_MODULE" k8s.io/kubernetes "$KUBERNETES_VERSION"
check_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"

build_kubernetes() {
  cd "$TOOLS_DIR/$K8S_MODULE"
  GOFLAGS=-mod=readonly go build -p "$JOBS" -trimpath -tags=selinux,notest \
    -ldflags="$K8S_LDFLAGS" -o "$STAGING/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}
build_etcd() {
  cd "$TOOLS_DIR/etcd"
  GOFLAGS=-mod=readonly go build -p "$JOBS" -trimpath -ldflags="-s -w" -o "$STAGING/etcd" go.etcd.io/etcd/server/v3
}
install_kwok() { GOFLAGS= GOBIN="$STAGING" go install -p "$JOBS" -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"; }
# helm reports only "v3.21" unless its version variable is stamped, as its Makefile does.
install_helm() {
  GOFLAGS= GOBIN="$STAGING" go install -p "$JOBS" -trimpath \
    -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

step "download modules (kubernetes)" bash -c "cd '$TOOLS_DIR/$K8S_MODULE' && GOFLAGS=-mod=readonly go mod download"
step "download modules (etcd)" bash -c "cd '$TOOLS_DIR/etcd' && GOFLAGS=-mod=readonly go mod download"
step "build etcd $ETCD_VERSION" build_etcd
step "build kubernetes $KUBERNETES_VERSION" build_kubernetes
step "build kwok $KWOK_VERSION" install_kwok
step "build helm $HELM_VERSION" install_helm

step "check versions" bash -c "
  '$STAGING/kube-apiserver' --version | grep -q '$KUBERNETES_VERSION' &&
  '$STAGING/kubectl' version --client | grep -q '$KUBERNETES_VERSION' &&
  '$STAGING/etcd' --version | grep -q '${ETCD_VERSION#v}' &&
  '$STAGING/helm' version --short | grep -q '$HELM_VERSION'"

# Publish atomically so a half-built cache is never seen.
rm -rf "$BIN_DIR"
mv "$STAGING" "$BIN_DIR"
trap - EXIT
echo "build-control-plane: binaries in $BIN_DIR (log: $LOG)" >&2
echo "$BIN_DIR"
