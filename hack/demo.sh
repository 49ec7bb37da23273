#!/usr/bin/env bash
# The main job, end to end on this machine: build and start the local control plane
# (etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kwok nodes in three
# regions), install wattbit's CRDs, start the operator with its admission webhook,
# apply three Regions and a deferrable training Job, and show where the Job went and why.
#
# Usage: hack/demo.sh
#   WATTBIT_DEMO_KEEP_OPERATOR=1  leave the operator running afterwards (log: .run/operator.log)
# The cluster stays up afterwards for kubectl; stop it with hack/cluster-down.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

wattbit::ensure_venv
BIN_DIR="$(wattbit::bin_dir)"
KUBECONFIG="$(bash hack/cluster-up.sh | tail -n 1)"
export KUBECONFIG
# shellcheck source=/dev/null
source "$(dirname "$KUBECONFIG")/env"
kubectl() { "$BIN_DIR/kubectl" "$@"; }

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

step "Installing the wattbit CRDs"
kubectl apply --server-side --force-conflicts -f crds/ >&2
kubectl wait --for=condition=Established --timeout=60s -f crds/ >&2

step "Starting the operator (webhook on 127.0.0.1)"
RUN_DIR="$REPO_ROOT/.run"
OPERATOR_LOG="$RUN_DIR/operator.log"
mkdir -p "$RUN_DIR"
if [[ -f "$RUN_DIR/operator.pid" ]] && kill -0 "$(cat "$RUN_DIR/operator.pid")" 2>/dev/null; then
  kill "$(cat "$RUN_DIR/operator.pid")" && sleep 2
fi
kubectl get namespace wattbit-system >/dev/null 2>&1 || kubectl create namespace wattbit-system >&2
WEBHOOK_PORT="$(wattbit::free_ports 1)"
WATTBIT_NAMESPACE=wattbit-system \
WATTBIT_WEBHOOK_LISTEN_ADDRESS=127.0.0.1 \
WATTBIT_WEBHOOK_HOST=127.0.0.1 \
WATTBIT_WEBHOOK_PORT="$WEBHOOK_PORT" \
WATTBIT_WEBHOOK_CERT_FILE="$WATTBIT_WEBHOOK_CERT_FILE" \
WATTBIT_WEBHOOK_KEY_FILE="$WATTBIT_WEBHOOK_KEY_FILE" \
WATTBIT_WEBHOOK_CA_FILE="$WATTBIT_CA_FILE" \
WATTBIT_MANAGE_WEBHOOK_CONFIGURATION=true \
WATTBIT_METRICS_PORT=0 \
  nohup "$WATTBIT_VENV/bin/python" -m wattbit --standalone >"$OPERATOR_LOG" 2>&1 &
OPERATOR_PID=$!
echo "$OPERATOR_PID" >"$RUN_DIR/operator.pid"
stop_operator() {
  if [[ "${WATTBIT_DEMO_KEEP_OPERATOR:-0}" != "1" ]]; then
    kill "$OPERATOR_PID" 2>/dev/null || true
    wait "$OPERATOR_PID" 2>/dev/null || true
    rm -f "$RUN_DIR/operator.pid"
  fi
}
trap stop_operator EXIT

for _ in $(seq 1 120); do
  kill -0 "$OPERATOR_PID" 2>/dev/null || { tail -n 40 "$OPERATOR_LOG" >&2; wattbit::die "the operator exited"; }
  if kubectl get mutatingwebhookconfiguration wattbit-admission >/dev/null 2>&1 \
     && kubectl create -n default --dry-run=server -o jsonpath='{.spec.schedulingGates}' -f - <<'EOF' 2>/dev/null | grep -q wattbit.io/placement
apiVersion: v1
kind: Pod
metadata: {name: webhook-probe, labels: {wattbit.io/deferrable: "true"}}
spec: {containers: [{name: c, image: busybox}]}
EOF
  then break; fi
  sleep 1
done

step "Applying three Regions on the embedded Japan-grid dataset (replay, spring weekday)"
kubectl apply -f examples/regions.yaml >&2
kubectl wait --for=condition=Ready --timeout=60s region/hokkaido region/tokyo region/kyushu >&2
kubectl get regions >&2

kubectl get namespace ml-team >/dev/null 2>&1 || kubectl create namespace ml-team >&2
kubectl delete job llm-finetune llm-pretrain -n ml-team --ignore-not-found --wait=true >&2
kubectl delete events -n ml-team --all >/dev/null 2>&1 || true  # a clean story for this run

# Wait for wattbit's decision on a Job; print its region.
decided_region() {
  local job="$1" region=""
  for _ in $(seq 1 60); do
    region="$(kubectl get workloadplacement "job-$job" -n ml-team \
      -o jsonpath='{.status.region}' 2>/dev/null || true)"
    [[ -n "$region" ]] && break
    sleep 1
  done
  [[ -n "$region" ]] || { tail -n 40 "$OPERATOR_LOG" >&2; wattbit::die "no decision for $job within 60 s"; }
  printf '%s\n' "$region"
}

step "Submitting a deferrable training Job (2 pods x 4 GPUs, expected 6 h)"
kubectl apply -f examples/training-job.yaml >&2
echo "held by the webhook at creation: suspend=$(kubectl get job llm-finetune -n ml-team -o jsonpath='{.spec.suspend}')" >&2
finetune_region="$(decided_region llm-finetune)"
kubectl wait --for=jsonpath='{.status.active}'=2 --timeout=60s job/llm-finetune -n ml-team >&2 || true

step "Submitting a larger one (2 pods x 8 GPUs, expected 12 h) while the first runs"
kubectl apply -f examples/pretrain-job.yaml >&2
pretrain_region="$(decided_region llm-pretrain)"
kubectl wait --for=jsonpath='{.status.active}'=2 --timeout=60s job/llm-pretrain -n ml-team >&2 || true

step "wattbit's decisions"
kubectl get workloadplacements -n ml-team >&2
echo >&2
kubectl get events -n ml-team --field-selector involvedObject.kind=Job \
  -o custom-columns=JOB:.involvedObject.name,TYPE:.type,REASON:.reason,MESSAGE:.message >&2

step "Where the pods run"
kubectl get pods -n ml-team -o custom-columns=POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase >&2
kubectl get nodes -L topology.kubernetes.io/region >&2

step "Waiting for both Jobs to complete"
kubectl wait --for=condition=Complete --timeout=120s job/llm-finetune job/llm-pretrain -n ml-team >&2

for job in llm-finetune llm-pretrain; do
  region="$(kubectl get workloadplacement "job-$job" -n ml-team -o jsonpath='{.status.region}')"
  reason="$(kubectl get workloadplacement "job-$job" -n ml-team -o jsonpath='{.status.reason}')"
  message="$(kubectl get workloadplacement "job-$job" -n ml-team -o jsonpath='{.status.message}')"
  printf '\n\033[1m%s ran in %s (%s)\033[0m\n%s\n' "$job" "$region" "$reason" "$message"
done
printf '\n(first Job: %s; second Job: %s)\n' "$finetune_region" "$pretrain_region"
printf '\nThe cluster is still up: export KUBECONFIG=%s; stop it with hack/cluster-down.sh\n' "$KUBECONFIG"
