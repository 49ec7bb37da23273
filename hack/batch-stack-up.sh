#!/usr/bin/env bash
# Start the batch stack (the JobSet controller, the Kubeflow Trainer controller manager,
# Kueue) on the local cluster that hack/cluster-up.sh started, as host processes built by
# hack/build-batch-stack.sh. hack/cluster-up.sh runs this itself when WATTBIT_BATCH_STACK is
# set; hack/cluster-down.sh stops what it started.
#
# Usage: hack/batch-stack-up.sh [jobset] [trainer] [kueue]
#   With no arguments: the components in $WATTBIT_BATCH_STACK, or all three. trainer brings
#   jobset along (a TrainJob runs as a JobSet). Idempotent: a component that is running and
#   ready is left alone; one that died is started again.
#
# For each component: its CRDs are applied (server-side); it runs with the admin kubeconfig
# ($KUBECONFIG from the cluster's env file, so no RBAC), leader election off and its own
# certificate management off; its webhooks are served on a
# free 127.0.0.1 port with the cluster's webhook certificate (pki/webhook.crt, CA-signed, for
# IP:127.0.0.1) and registered as <name>-mutating/-validating configurations with
# `clientConfig.url: https://127.0.0.1:<port><path>` and the CA bundle (hack/batch/render.py);
# Kueue's CRD conversion webhook (v1beta1 <-> v1beta2) likewise. Health and metrics listen on
# free 127.0.0.1 ports. Kueue manages batch/job, and jobset / trainjob when their CRDs are
# installed; it leaves kube-system, kueue-system and $WATTBIT_BATCH_EXCLUDED_NAMESPACES alone,
# and only Jobs with a kueue.x-k8s.io/queue-name label (manageJobsWithoutQueueName: false).
# The trainer's start applies hack/batch/torch-distributed.yaml (a ClusterTrainingRuntime).
#
# State, under $WATTBIT_STATE_DIR: batch/<component>/ (config, cert dir, `ports`: webhook
# health metrics), logs/<component>.log, batch-pids ("<component> <pid>" lines), batch-env
# (`source`-able: WATTBIT_BATCH_DIR, WATTBIT_BATCH_COMPONENTS, WATTBIT_<C>_WEBHOOK_PORT, ...).
#
# Environment:
#   WATTBIT_BATCH_STACK                 components to start when none is given (see above)
#   WATTBIT_BATCH_EXCLUDED_NAMESPACES   more namespaces Kueue must not touch, space-separated
#                                       (default "wattbit-system", the operator's)
#   WATTBIT_STATE_DIR                   see hack/lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STARTUP_TIMEOUT=120  # seconds, per component
EXCLUDED_NAMESPACES="${WATTBIT_BATCH_EXCLUDED_NAMESPACES-wattbit-system}"
KUEUE_NAMESPACE=kueue-system  # Kueue's own (default) namespace: it never manages jobs there

# ---- which components ------------------------------------------------------------------
read -r -a requested <<<"${*:-${WATTBIT_BATCH_STACK:-jobset trainer kueue}}"
want_jobset=false want_trainer=false want_kueue=false
for c in "${requested[@]}"; do
  case "$c" in
    jobset) want_jobset=true ;;
    trainer) want_trainer=true; want_jobset=true ;;
    kueue) want_kueue=true ;;
    *) wattbit::die "unknown component '$c': the batch stack is jobset, trainer and kueue" ;;
  esac
done
COMPONENTS=()
$want_jobset && COMPONENTS+=(jobset)
$want_trainer && COMPONENTS+=(trainer)
$want_kueue && COMPONENTS+=(kueue)

STATE="$WATTBIT_STATE_DIR"
LOGS="$STATE/logs"
PIDS="$STATE/batch-pids"
[[ -f "$STATE/env" && -f "$STATE/kubeconfig" ]] \
  || wattbit::die "no local cluster in $STATE: start it first with hack/cluster-up.sh"
# cluster-up.sh holds the state lock already when it runs this script.
[[ "${WATTBIT_STATE_LOCKED:-0}" == 1 ]] || wattbit::lock_state
# shellcheck disable=SC1091
source "$STATE/env"
CA_FILE="$WATTBIT_CA_FILE"
kubectl() { "$WATTBIT_BIN_DIR/kubectl" --kubeconfig="$KUBECONFIG" "$@"; }
kubectl get --raw /readyz >/dev/null 2>&1 \
  || wattbit::die "the cluster in $STATE does not answer; restart it with hack/cluster-up.sh"

started_at=$SECONDS
out="$(bash "$REPO_ROOT/hack/build-batch-stack.sh")" || wattbit::die "hack/build-batch-stack.sh failed"
BATCH_DIR="$(tail -n 1 <<<"$out")"
[[ -d "$BATCH_DIR/manifests" ]] || wattbit::die "hack/build-batch-stack.sh printed '$BATCH_DIR', not its cache dir"
wattbit::ensure_venv
PY="$WATTBIT_VENV/bin/python"
mkdir -p "$LOGS" "$STATE/batch"
touch "$PIDS"

# ---- helpers ---------------------------------------------------------------------------
pid_of() { awk -v n="$1" '$1 == n {print $2}' "$PIDS"; }

fail() {
  # fail COMPONENT MESSAGE: name the component and show the end of its log.
  local component="$1"; shift
  wattbit::log "error: $component: $*"
  if [[ -f "$LOGS/$component.log" ]]; then
    wattbit::log "last lines of $LOGS/$component.log:"
    tail -n 25 "$LOGS/$component.log" >&2
  fi
  exit 1
}

start() {
  # start NAME BINARY ARGS...: as cluster-up.sh's start (own session, fd 9 closed, the
  # child's PID recorded), into batch-pids. The command line must name $STATE (--config
  # under it) so that wattbit::owns_pid recognises the process.
  local name="$1" pidfile="$STATE/.$1.pid"; shift
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # $$ and $@ are for the child shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    </dev/null >"$LOGS/$name.log" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$pidfile" ]] && break; sleep 0.1; done
  [[ -s "$pidfile" ]] || fail "$name" "did not start"
  echo "$name $(<"$pidfile")" >>"$PIDS"
  rm -f "$pidfile"
}

forget() {
  # forget NAME: stop NAME if it still runs, and drop it from batch-pids.
  local name="$1" pid
  pid="$(pid_of "$name")"
  if [[ -n "$pid" ]] && wattbit::owns_pid "$pid" "$STATE"; then
    wattbit::log "stopping $name (pid $pid), which is not ready"
    kill -TERM "$pid" 2>/dev/null || true
    sleep 2
    if wattbit::owns_pid "$pid" "$STATE"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  awk -v n="$name" '$1 != n' "$PIDS" >"$PIDS.new" && mv "$PIDS.new" "$PIDS"
}

ports_of() { cat "$STATE/batch/$1/ports" 2>/dev/null; }

serving() {
  # serving NAME: alive, /readyz ok and the webhook server answering TLS with our CA.
  local name="$1" pid webhook health metrics code
  pid="$(pid_of "$name")"
  [[ -n "$pid" ]] && wattbit::owns_pid "$pid" "$STATE" || return 1
  read -r webhook health metrics < <(ports_of "$name") || return 1
  [[ "$(curl -s --max-time 2 "http://127.0.0.1:$health/readyz")" == ok ]] || return 1
  code="$(curl -s --max-time 2 --cacert "$CA_FILE" -o /dev/null -w '%{http_code}' \
    "https://127.0.0.1:$webhook/")" || return 1
  [[ "$code" != 000 ]]
}

wait_serving() {
  local name="$1" deadline=$((SECONDS + STARTUP_TIMEOUT)) pid
  pid="$(pid_of "$name")"
  until serving "$name"; do
    wattbit::owns_pid "$pid" "$STATE" || fail "$name" "exited before it was ready"
    ((SECONDS < deadline)) || fail "$name" "not ready (/readyz and webhook TLS) after ${STARTUP_TIMEOUT}s"
    sleep 0.5
  done
  wattbit::log "$name is ready ($((SECONDS - started_at))s)"
}

retry_apply() {
  # retry_apply NAME WHAT ARGS...: kubectl ARGS until it succeeds (a freshly registered
  # webhook can take a moment to answer), for up to 60s; fail showing kubectl's error.
  local name="$1" what="$2" deadline=$((SECONDS + 60)) err; shift 2
  until err="$(kubectl "$@" 2>&1 >/dev/null)"; do
    ((SECONDS < deadline)) || fail "$name" "$what failed: $err"
    sleep 1
  done
}

render() {
  # render NAME KUSTOMIZE_DIR [render.py args...]: CRDs or webhooks pointed at NAME's port.
  local name="$1" dir="$2" webhook; shift 2
  read -r webhook _ < <(ports_of "$name")
  kubectl kustomize "$dir" \
    | "$PY" "$REPO_ROOT/hack/batch/render.py" --prefix "wattbit-batch-$name" \
        --base-url "https://127.0.0.1:$webhook" --ca-file "$CA_FILE" "$@"
}

install_crds() {
  # install_crds NAME: the component's CRDs (conversion webhooks at its port), established.
  local name="$1" file="$STATE/batch/$1/crds.yaml"
  render "$name" "$BATCH_DIR/manifests/$name/crd" >"$file" || fail "$name" "rendering its CRDs failed"
  retry_apply "$name" "applying its CRDs" apply --server-side --force-conflicts -f "$file"
  # (kubectl wait errors out, rather than waits, on a CRD that has no status yet.)
  retry_apply "$name" "waiting for its CRDs to be established" \
    wait --for=condition=Established --timeout=10s -f "$file"
}

register_webhooks() {
  local name="$1" file="$STATE/batch/$1/webhooks.yaml"; shift
  render "$name" "$BATCH_DIR/manifests/$name/webhook" "$@" >"$file" \
    || fail "$name" "rendering its webhook configurations failed"
  retry_apply "$name" "registering its webhooks" apply --server-side --force-conflicts -f "$file"
}

prepare() {
  # prepare NAME: fresh ports, a cert dir with the cluster's 127.0.0.1 serving certificate.
  local name="$1" dir="$STATE/batch/$1"
  mkdir -p "$dir/certs"
  cp "$WATTBIT_WEBHOOK_CERT_FILE" "$dir/certs/tls.crt"
  cp "$WATTBIT_WEBHOOK_KEY_FILE" "$dir/certs/tls.key"
  chmod 600 "$dir/certs/tls.key"
  wattbit::free_ports 3 | paste -sd ' ' >"$dir/ports"
}

crd_installed() { kubectl get crd "$1" >/dev/null 2>&1; }

# ---- jobset ----------------------------------------------------------------------------
start_jobset() {
  local dir="$STATE/batch/jobset" webhook health metrics
  read -r webhook health metrics < <(ports_of jobset)
  cat >"$dir/config.yaml" <<EOF
apiVersion: config.jobset.x-k8s.io/v1alpha1
kind: Configuration
webhook:
  host: 127.0.0.1
  port: $webhook
  certDir: $dir/certs
health:
  healthProbeBindAddress: 127.0.0.1:$health
metrics:
  bindAddress: 127.0.0.1:$metrics
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
EOF
  start jobset "$BATCH_DIR/bin/jobset-controller" --config="$dir/config.yaml"
}

# ---- trainer ---------------------------------------------------------------------------
start_trainer() {
  local dir="$STATE/batch/trainer" webhook health metrics
  read -r webhook health metrics < <(ports_of trainer)
  # Its webhook cert dir is not configurable: controller-runtime's default,
  # $TMPDIR/k8s-webhook-server/serving-certs.
  mkdir -p "$dir/tmp/k8s-webhook-server"
  rm -rf "$dir/tmp/k8s-webhook-server/serving-certs"
  cp -r "$dir/certs" "$dir/tmp/k8s-webhook-server/serving-certs"
  cat >"$dir/config.yaml" <<EOF
apiVersion: config.trainer.kubeflow.org/v1alpha1
kind: Configuration
webhook:
  host: 127.0.0.1
  port: $webhook
health:
  healthProbeBindAddress: 127.0.0.1:$health
metrics:
  bindAddress: 127.0.0.1:$metrics
  secureServing: false
leaderElection:
  leaderElect: false
certManagement:
  enable: false
EOF
  start trainer env TMPDIR="$dir/tmp" "$BATCH_DIR/bin/trainer-controller-manager" \
    --config="$dir/config.yaml"
}

# ---- kueue -----------------------------------------------------------------------------
start_kueue() {
  local dir="$STATE/batch/kueue" webhook health metrics frameworks=("batch/job") ns excluded=""
  read -r webhook health metrics < <(ports_of kueue)
  crd_installed jobsets.jobset.x-k8s.io && frameworks+=("jobset.x-k8s.io/jobset")
  crd_installed trainjobs.trainer.kubeflow.org && frameworks+=("trainer.kubeflow.org/trainjob")
  for ns in kube-system "$KUEUE_NAMESPACE" $EXCLUDED_NAMESPACES; do excluded+="    - $ns"$'\n'; done
  cat >"$dir/config.yaml" <<EOF
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: $KUEUE_NAMESPACE
webhook:
  host: 127.0.0.1
  port: $webhook
  certDir: $dir/certs
health:
  healthProbeBindAddress: 127.0.0.1:$health
metrics:
  bindAddress: 127.0.0.1:$metrics
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
manageJobsWithoutQueueName: false
managedJobsNamespaceSelector:
  matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
${excluded%$'\n'}
integrations:
  frameworks:
$(printf '  - %s\n' "${frameworks[@]}")
EOF
  # With internalCertManagement off, Kueue reads its metrics serving certificate from the
  # fixed path /etc/kueue/metrics/certs (cmd/kueue/main.go) and exits without it. So it runs
  # in a private mount namespace whose /etc is a small copy, $dir/etc (the host's hosts,
  # resolv.conf and nsswitch.conf, and that path): the host's /etc is left untouched.
  local etc="$dir/etc" f unshare=(unshare --mount --propagation private)
  ((EUID == 0)) || unshare=(unshare --user --map-root-user --mount --propagation private)
  rm -rf "$etc"
  mkdir -p "$etc/kueue/metrics"
  for f in hosts resolv.conf nsswitch.conf; do
    if [[ -e "/etc/$f" ]]; then cp -L "/etc/$f" "$etc/"; fi
  done
  cp -r "$dir/certs" "$etc/kueue/metrics/certs"
  "${unshare[@]}" true 2>/dev/null \
    || fail kueue "'${unshare[*]}' is not permitted here; Kueue needs it for /etc/kueue/metrics/certs"
  # VisibilityOnDemand would start an aggregated API server (an APIService pointing at an
  # in-cluster Service) that cannot be reached here.
  # shellcheck disable=SC2016  # $0 and $@ are for the child shell
  start kueue "${unshare[@]}" sh -c 'mount --bind "$0" /etc && exec "$@"' "$etc" \
    "$BATCH_DIR/bin/kueue" --config="$dir/config.yaml" --feature-gates=VisibilityOnDemand=false
}

# ---- bring each up -----------------------------------------------------------------------
# API groups whose webhooks each component keeps (Kueue: its own and the enabled integrations).
keep_groups_kueue() {
  local groups="kueue.x-k8s.io,batch"
  crd_installed jobsets.jobset.x-k8s.io && groups+=",jobset.x-k8s.io"
  crd_installed trainjobs.trainer.kubeflow.org && groups+=",trainer.kubeflow.org"
  echo "$groups"
}

# CRDs first, for every requested component, so Kueue finds the JobSet and TrainJob kinds
# when it starts (it enables an integration only if its CRD is there).
for name in "${COMPONENTS[@]}"; do
  if serving "$name"; then continue; fi
  forget "$name"
  prepare "$name"
  install_crds "$name"
done

ready=()
for name in "${COMPONENTS[@]}"; do
  if serving "$name"; then
    if [[ -f "$STATE/batch/$name/webhooks.yaml" ]]; then
      wattbit::log "$name is already running and ready"
      ready+=("$name")
      continue
    fi
  else
    "start_$name"
    wait_serving "$name"
  fi
  case "$name" in
    jobset)
      register_webhooks jobset
      ;;
    trainer)
      register_webhooks trainer
      # Through the trainer's validating webhook, so this also proves it answers.
      retry_apply trainer "applying hack/batch/torch-distributed.yaml" \
        apply --server-side --force-conflicts -f "$REPO_ROOT/hack/batch/torch-distributed.yaml"
      ;;
    kueue)
      exclude="$(tr ' ' ',' <<<"$EXCLUDED_NAMESPACES")"
      register_webhooks kueue --keep-groups "$(keep_groups_kueue)" --exclude-namespaces "$exclude"
      # A server-side dry run goes through Kueue's ResourceFlavor webhooks.
      probe="$STATE/batch/kueue/probe.json"
      echo '{"apiVersion":"kueue.x-k8s.io/v1beta2","kind":"ResourceFlavor","metadata":{"name":"probe"}}' >"$probe"
      retry_apply kueue "a dry-run ResourceFlavor through its webhook" create --dry-run=server -f "$probe"
      ;;
  esac
  ready+=("$name")
done

# ---- hand-over ---------------------------------------------------------------------------
{
  printf 'export %s=%q\n' WATTBIT_BATCH_DIR "$BATCH_DIR" WATTBIT_BATCH_COMPONENTS "$(awk '{print $1}' "$PIDS" | paste -sd ' ')"
  while read -r name _; do
    read -r webhook health metrics < <(ports_of "$name")
    upper="$(tr '[:lower:]' '[:upper:]' <<<"$name")"
    printf 'export %s=%q\n' "WATTBIT_${upper}_WEBHOOK_PORT" "$webhook" \
      "WATTBIT_${upper}_HEALTH_PORT" "$health" "WATTBIT_${upper}_METRICS_PORT" "$metrics"
  done <"$PIDS"
} >"$STATE/batch-env"
wattbit::log "batch stack ready in $((SECONDS - started_at))s: ${ready[*]} (logs in $LOGS)"
echo "$STATE/batch-env"
