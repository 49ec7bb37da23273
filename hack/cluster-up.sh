#!/usr/bin/env bash
# Start a local Kubernetes control plane with no containers and no kubelet:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, all as host
# processes on free 127.0.0.1 ports, built by hack/build-control-plane.sh. kwok runs fake
# GPU nodes in several regions and moves their pods through Running/Succeeded/Failed
# (stages in hack/kwok/; see hack/kwok/wattbit-stages.yaml for the wattbit.io/simulated-*
# pod annotations).
#
# Prints the kubeconfig path as the last line of stdout; everything else goes to stderr.
# Idempotent: if the recorded cluster is healthy it only prints the kubeconfig; if it is
# half-dead it is torn down and started afresh. Stop it with hack/cluster-down.sh.
#
# State (logs, pids, PKI, etcd data) lives in $WATTBIT_STATE_DIR (default .run/cluster):
#   kubeconfig   admin kubeconfig (client certificate, O=system:masters), certs embedded
#   env          `source`-able: KUBECONFIG, WATTBIT_CA_FILE, WATTBIT_WEBHOOK_CERT_FILE,
#                WATTBIT_WEBHOOK_KEY_FILE, WATTBIT_BIN_DIR, WATTBIT_API_PORT, WATTBIT_API_SERVER
#   pki/         CA, apiserver/admin/webhook certificates, service-account keys
#   logs/        one log per component;  pids: "<component> <pid>" lines, in start order
#
# Environment:
#   WATTBIT_REGIONS           regions to create nodes in (default "hokkaido tokyo kyushu")
#   WATTBIT_NODES_PER_REGION  nodes per region (default 2)
#   WATTBIT_GPUS_PER_NODE     nvidia.com/gpu capacity per node (default 8)
#   WATTBIT_BATCH_STACK       also start these batch controllers, any of "jobset trainer kueue"
#                             (default none), with hack/batch-stack-up.sh (also on a cluster
#                             that is already up); their pids go to batch-pids
#   WATTBIT_STATE_DIR         see hack/lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---- parameters ----------------------------------------------------------------------
REGIONS="${WATTBIT_REGIONS:-hokkaido tokyo kyushu}"
NODES_PER_REGION="${WATTBIT_NODES_PER_REGION:-2}"
GPUS_PER_NODE="${WATTBIT_GPUS_PER_NODE:-8}"
NODE_CPU=64
NODE_MEMORY=512Gi
NODE_PODS=110
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1              # first address of SERVICE_CIDR: the `kubernetes` Service
POD_CIDR=10.244.0.0/16            # kwok hands out pod IPs from here (its default /24 has 256)
STARTUP_TIMEOUT=120               # seconds, per component
# The controllers a Job-centred operator and its chart need (names: kubernetes
# cmd/kube-controller-manager/names/controller_names.go). node-lifecycle-controller is
# required: only it removes the node.kubernetes.io/not-ready taint that admission puts on
# every new Node. disruption-controller computes PDB status (the Eviction API needs it);
# clusterrole-aggregation-controller fills the chart's aggregated view/edit ClusterRoles.
KCM_CONTROLLERS="job-controller,node-lifecycle-controller,taint-eviction-controller,\
garbage-collector-controller,namespace-controller,serviceaccount-controller,\
serviceaccount-token-controller,root-ca-certificate-publisher-controller,\
replicaset-controller,deployment-controller,ttl-after-finished-controller,\
pod-garbage-collector-controller,disruption-controller,clusterrole-aggregation-controller"
# ---------------------------------------------------------------------------------------

[[ "$NODES_PER_REGION" =~ ^[1-9][0-9]*$ ]] || wattbit::die "WATTBIT_NODES_PER_REGION must be a positive integer"
[[ "$GPUS_PER_NODE" =~ ^[0-9]+$ ]] || wattbit::die "WATTBIT_GPUS_PER_NODE must be an integer"
for region in $REGIONS; do
  [[ "$region" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] \
    || wattbit::die "region '$region' is not a valid DNS label"
done
for tool in openssl curl flock setsid python3; do
  command -v "$tool" >/dev/null || wattbit::die "$tool is required"
done

STATE="$WATTBIT_STATE_DIR"
PKI="$STATE/pki"
LOGS="$STATE/logs"
KUBECONFIG_FILE="$STATE/kubeconfig"

api_ready() {
  # /readyz of the recorded apiserver, authenticated with the admin certificate.
  local port
  [[ -f "$STATE/api-port" ]] || return 1
  port="$(<"$STATE/api-port")"
  [[ "$(curl -sS --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
      "https://127.0.0.1:$port/readyz" 2>/dev/null)" == ok ]]
}

cluster_healthy() {
  local name pid count=0
  [[ -f "$STATE/pids" && -f "$STATE/env" && -f "$KUBECONFIG_FILE" ]] || return 1
  while read -r name pid; do
    wattbit::owns_pid "$pid" "$STATE" || { wattbit::log "$name (pid $pid) is not running"; return 1; }
    count=$((count + 1))
  done <"$STATE/pids"
  ((count == 5)) || return 1
  api_ready
}

wattbit::lock_state

batch_stack_up() {
  # The batch stack on request; on failure the cluster stays up (it is healthy).
  [[ -n "${WATTBIT_BATCH_STACK:-}" ]] || return 0
  # shellcheck disable=SC2086  # a list of components, one word each
  WATTBIT_STATE_LOCKED=1 bash "$REPO_ROOT/hack/batch-stack-up.sh" $WATTBIT_BATCH_STACK >/dev/null \
    || wattbit::die "hack/batch-stack-up.sh $WATTBIT_BATCH_STACK failed (the cluster itself is up)"
}

if cluster_healthy; then
  wattbit::log "cluster in $STATE is already up and healthy"
  batch_stack_up
  echo "$KUBECONFIG_FILE"
  exit 0
fi
if [[ -e "$STATE" ]]; then
  [[ -f "$STATE/$WATTBIT_STATE_MARKER" || -z "$(ls -A "$STATE")" ]] \
    || wattbit::die "$STATE exists and is not a wattbit cluster state dir; refusing to touch it"
  wattbit::log "found a stopped or unhealthy cluster in $STATE; tearing it down"
  wattbit::stop_recorded "$STATE" 10 batch-pids
  wattbit::stop_recorded "$STATE"
  rm -rf "$STATE"
fi

started_at=$SECONDS
BIN="$(wattbit::bin_dir)"
mkdir -p "$STATE" "$PKI" "$LOGS"
touch "$STATE/$WATTBIT_STATE_MARKER"

# If anything below fails, stop what was started but keep the logs for a post-mortem.
succeeded=false
on_exit() {
  if [[ "$succeeded" != true ]]; then
    wattbit::log "start-up failed; stopping the components already started (logs kept in $LOGS)"
    wattbit::stop_recorded "$STATE" 5
  fi
}
trap on_exit EXIT

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

# ---- ports ----------------------------------------------------------------------------
# One line, so read gets all five at once (read fails at an EOF with no newline).
read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT < <(wattbit::free_ports 5 | paste -sd ' ')
echo "$API_PORT" >"$STATE/api-port"
API_SERVER="https://127.0.0.1:$API_PORT"

# ---- PKI: one CA signs everything (ECDSA P-256: instant to generate) -----------------
pki() {
  cd "$PKI" || exit
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -days 3650 -subj "/CN=wattbit-local-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.crt
  leaf() {  # leaf NAME SUBJECT EXTENSIONS
    openssl req -new "${ec[@]}" -subj "$2" -keyout "$1.key" -out "$1.csr"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile <(printf '%b\n' "$3") -out "$1.crt"
    rm -f "$1.csr"
  }
  leaf apiserver "/CN=kube-apiserver" "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # Every component and kubectl/helm/the operator authenticate as this cluster-admin.
  leaf admin "/O=system:masters/CN=wattbit-admin" "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth"
  # The operator's admission webhook runs on the host; the apiserver calls https://127.0.0.1:PORT.
  leaf webhook "/CN=wattbit-webhook" "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost"
  # Service-account token signing pair.
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out sa.key
  openssl pkey -in sa.key -pubout -out sa.pub
  chmod 600 ./*.key
}
(pki) >"$LOGS/pki.log" 2>&1 || fail pki "certificate generation with openssl failed"

b64() { base64 -w0 <"$1"; }
umask_old="$(umask)"; umask 077
cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: wattbit
  cluster:
    server: $API_SERVER
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: wattbit-admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: wattbit
  context: {cluster: wattbit, user: wattbit-admin}
current-context: wattbit
EOF
umask "$umask_old"

# ---- process helpers ------------------------------------------------------------------
start() {
  # start NAME BINARY ARGS...: run detached in its own session (so a Ctrl-C or a dying
  # test runner does not take it down), log to logs/NAME.log, record its PID. fd 9 (the
  # state lock) is closed for it. The child writes its own PID before exec'ing, which
  # stays right even if setsid has to fork.
  local name="$1" pidfile="$STATE/.$1.pid"; shift
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # $$ and $@ are for the child shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    </dev/null >"$LOGS/$name.log" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$pidfile" ]] && break; sleep 0.1; done
  [[ -s "$pidfile" ]] || fail "$name" "did not start"
  echo "$name $(<"$pidfile")" >>"$STATE/pids"
  rm -f "$pidfile"
}

pid_of() { awk -v n="$1" '$1 == n {print $2}' "$STATE/pids"; }

wait_for() {
  # wait_for NAME WHAT COMMAND...: poll COMMAND until it succeeds; fail early if NAME died.
  local name="$1" what="$2"; shift 2
  local deadline=$((SECONDS + STARTUP_TIMEOUT)) pid
  pid="$(pid_of "$name")"
  until "$@" >/dev/null 2>&1; do
    wattbit::owns_pid "$pid" "$STATE" || fail "$name" "exited before $what"
    ((SECONDS < deadline)) || fail "$name" "not $what after ${STARTUP_TIMEOUT}s"
    sleep 0.25
  done
  wattbit::log "$name is $what ($((SECONDS - started_at))s)"
}

healthz_insecure() {
  # kube-controller-manager and kube-scheduler serve a self-signed certificate; /healthz
  # is on their always-allowed paths.
  [[ "$(curl -sk --max-time 2 "https://127.0.0.1:$1/healthz")" == ok ]]
}

# ---- etcd -----------------------------------------------------------------------------
# --unsafe-no-fsync: throw-away test data, and fsync is the main cost on a small VM
# (envtest does the same). So the data can stay in the state dir rather than /dev/shm.
start etcd "$BIN/etcd" \
  --name=wattbit --data-dir="$STATE/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="wattbit=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
wait_for etcd healthy curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

# ---- kube-apiserver -------------------------------------------------------------------
# Admission: the default plugin set (NamespaceLifecycle, LimitRanger, ServiceAccount,
# TaintNodesByCondition, Priority, DefaultTolerationSeconds, ..., MutatingAdmissionWebhook,
# ValidatingAdmissionWebhook, ResourceQuota) stays on; the list below only makes the ones we
# rely on explicit. NodeRestriction stays off: there are no kubelets, and kwok acts as the
# admin, not as system:node:*, so it would restrict nothing.
# The watch cache stays on (default): it serves consistent LISTs and WATCHes without
# hitting etcd, which is what keeps a 2-core machine responsive under informers.
# --endpoint-reconciler-type=none: the `kubernetes` Service would point at 127.0.0.1, which
# Endpoints validation rejects, and nothing in-cluster can reach the host anyway.
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --authorization-mode=RBAC \
  --enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultTolerationSeconds,Priority,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  --profiling=false
wait_for kube-apiserver ready api_ready

# ---- kube-controller-manager and kube-scheduler ---------------------------------------
# No --authentication/--authorization-kubeconfig: delegated authn would look for the
# front-proxy CA (requestheader-client-ca-file) that this apiserver does not have, and log
# an error every few seconds. Their /healthz stays reachable (always-allowed path).
# GOMAXPROCS is left at its default: Go (>= 1.25) already sizes it to the 2 cores/cgroup,
# and the whole control plane idles at a few percent of one core.
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG_FILE" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --leader-elect=false \
  --controllers="$KCM_CONTROLLERS" \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --profiling=false

cat >"$STATE/kube-scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $KUBECONFIG_FILE
leaderElection:
  leaderElect: false
enableProfiling: false
EOF
start kube-scheduler "$BIN/kube-scheduler" \
  --config="$STATE/kube-scheduler.yaml" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT"

wait_for kube-controller-manager healthy healthz_insecure "$KCM_PORT"
wait_for kube-scheduler healthy healthz_insecure "$SCHED_PORT"

# ---- kwok -----------------------------------------------------------------------------
# v0.8.0 has no built-in stages: without --config it exits with "no stages found".
KWOK_STAGES=()
for f in node-initialize node-heartbeat-with-lease pod-ready pod-delete wattbit-stages; do
  KWOK_STAGES+=("--config=$REPO_ROOT/hack/kwok/$f.yaml")
done
start kwok "$BIN/kwok" \
  --kubeconfig="$KUBECONFIG_FILE" \
  "${KWOK_STAGES[@]}" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr="$POD_CIDR" --node-lease-duration-seconds=40

# ---- nodes ----------------------------------------------------------------------------
kubectl() { "$BIN/kubectl" --kubeconfig="$KUBECONFIG_FILE" "$@"; }

nodes_yaml() {
  local region i name zones=(a b c)
  for region in $REGIONS; do
    for ((i = 0; i < NODES_PER_REGION; i++)); do
      name="kwok-$region-$i"
      cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/region: $region
    topology.kubernetes.io/zone: $region-${zones[i % 3]}
status:
  capacity: &resources
    cpu: "$NODE_CPU"
    memory: $NODE_MEMORY
    pods: "$NODE_PODS"
    nvidia.com/gpu: "$GPUS_PER_NODE"
  allocatable: *resources
EOF
    done
  done
}
nodes_yaml >"$STATE/nodes.yaml"
kubectl apply -f "$STATE/nodes.yaml" >"$LOGS/nodes.log" 2>&1 || fail nodes "kubectl apply of $STATE/nodes.yaml failed"

nodes_ready() {
  # Every kwok node Ready, with the creation-time not-ready taint removed by the node
  # lifecycle controller (without it nothing schedules).
  local out
  out="$(kubectl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}{"\n"}{end}')" || return 1
  [[ "$(grep -c . <<<"$out")" -eq $(($(wc -w <<<"$REGIONS") * NODES_PER_REGION)) ]] || return 1
  ! grep -qv ' True $' <<<"$out"
}
wait_for kwok "managing Ready, untainted nodes" nodes_ready

# ServiceAccount admission rejects pods until the namespace's `default` ServiceAccount
# exists; make sure that is true for `default` before reporting the cluster usable.
wait_for kube-controller-manager "creating ServiceAccounts" kubectl get serviceaccount default -n default

# ---- hand-over ------------------------------------------------------------------------
{
  printf 'export %s=%q\n' \
    KUBECONFIG "$KUBECONFIG_FILE" \
    WATTBIT_CA_FILE "$PKI/ca.crt" \
    WATTBIT_WEBHOOK_CERT_FILE "$PKI/webhook.crt" \
    WATTBIT_WEBHOOK_KEY_FILE "$PKI/webhook.key" \
    WATTBIT_BIN_DIR "$BIN" \
    WATTBIT_KUBERNETES_VERSION "$("$BIN/kube-apiserver" --version | awk '{print $2}')" \
    WATTBIT_API_PORT "$API_PORT" \
    WATTBIT_API_SERVER "$API_SERVER"
} >"$STATE/env"

succeeded=true
wattbit::log "cluster up in $((SECONDS - started_at))s: $(wc -w <<<"$REGIONS") regions x $NODES_PER_REGION nodes x $GPUS_PER_NODE GPUs; logs in $LOGS"
wattbit::log "use it with: source $STATE/env   (kubectl and helm are in \$WATTBIT_BIN_DIR)"
batch_stack_up
echo "$KUBECONFIG_FILE"
