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

step "Applying three Regions (static signals, a sunny spring noon)"
kubectl apply -f examples/regions.yaml >&2
kubectl wait --for=condition=Ready --timeout=60s region/hokkaido region/tokyo region/kyushu >&2
kubectl get regions -o wide >&2

step "Submitting a deferrable training Job (2 pods x 4 GPUs, expected 6 h)"
kubectl get namespace ml-team >/dev/null 2>&1 || kubectl create namespace ml-team >&2
kubectl delete job llm-finetune -n ml-team --ignore-not-found --wait=true >&2
kubectl apply -f examples/training-job.yaml >&2
echo "held by the webhook: suspend=$(kubectl get job llm-finetune -n ml-team -o jsonpath='{.spec.suspend}') (at creation)" >&2

step "Waiting for wattbit's decision"
for _ in $(seq 1 60); do
  region="$(kubectl get workloadplacement job-llm-finetune -n ml-team -o jsonpath='{.status.region}' 2>/dev/null || true)"
  [[ -n "$region" ]] && break
  sleep 1
done
[[ -n "${region:-}" ]] || { tail -n 40 "$OPERATOR_LOG" >&2; wattbit::die "no decision within 60 s"; }
kubectl get workloadplacements -n ml-team >&2
echo >&2
kubectl get events -n ml-team --field-selector involvedObject.name=llm-finetune \
  -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message >&2

step "Where the pods run"
kubectl wait --for=jsonpath='{.status.active}'=2 --timeout=60s job/llm-finetune -n ml-team >&2 || true
kubectl get pods -n ml-team -l job-name=llm-finetune \
  -o custom-columns=POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase >&2
kubectl get nodes -L topology.kubernetes.io/region >&2

step "Waiting for the Job to complete"
kubectl wait --for=condition=Complete --timeout=120s job/llm-finetune -n ml-team >&2

reason="$(kubectl get workloadplacement job-llm-finetune -n ml-team -o jsonpath='{.status.reason}')"
message="$(kubectl get workloadplacement job-llm-finetune -n ml-team -o jsonpath='{.status.message}')"
printf '\n\033[1mllm-finetune ran in %s (%s)\033[0m\n%s\n' "$region" "$reason" "$message"
printf '\nThe cluster is still up: export KUBECONFIG=%s; stop it with hack/cluster-down.sh\n' "$KUBECONFIG"
