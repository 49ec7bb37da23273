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

kubectl apply -f examples/apn-links.yaml >&2
kubectl get namespace ml-team >/dev/null 2>&1 || kubectl create namespace ml-team >&2
kubectl delete job llm-finetune llm-pretrain llm-eval llm-sft -n ml-team --ignore-not-found --wait=true >&2
kubectl delete powersignals -n ml-team --all >/dev/null 2>&1 || true
kubectl apply -f examples/policies.yaml >&2
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

# ---- part two: waiting for a greener hour, and moving running training -----------------
# Kyushu's transmission operator now publishes its own signals as PowerSignals: the evening
# peak now, and a forecast curtailment window (solar surplus) starting in two hours.
instant() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
power_signal() {  # NAME CARBON PRICE CURTAILMENT [FORECAST_JSON]
  cat <<EOF
apiVersion: wattbit.io/v1alpha1
kind: PowerSignal
metadata: {name: $1, namespace: ml-team}
spec:
  region: kyushu
  source: kyushu-transmission-operator
  validFrom: "$(instant '-5 minutes')"
  validUntil: "$(instant '+2 days')"
  observation: {carbonGramsPerKwh: $2, priceJpyPerKwh: "$3", curtailment: $4}
  forecast: ${5:-[]}
EOF
}
step "Kyushu's grid operator publishes an evening peak now, and curtailment from $(date -d '+2 hours' +%H:%M) (PowerSignal)"
kubectl patch region kyushu --type=merge \
  -p '{"spec":{"signals":{"provider":"external","replay":null}}}' >&2
forecast="[{start: \"$(instant '-5 minutes')\", carbonGramsPerKwh: 520, priceJpyPerKwh: \"18.0\"},
           {start: \"$(instant '+2 hours')\", carbonGramsPerKwh: 30, priceJpyPerKwh: \"0.01\"},
           {start: \"$(instant '+6 hours')\", carbonGramsPerKwh: 520, priceJpyPerKwh: \"18.0\"}]"
power_signal evening-peak 520 18.0 false "$forecast" | kubectl apply -f - >&2
for _ in $(seq 1 30); do
  [[ "$(kubectl get region kyushu -o jsonpath='{.status.signals.source}')" == powersignal:* ]] && break
  sleep 1
done
kubectl get regions >&2

record() {  # JOB JSONPATH
  kubectl get workloadplacement "job-$1" -n ml-team -o jsonpath="$2" 2>/dev/null || true
}
wait_for_record() {  # JOB JSONPATH VALUE SECONDS
  for _ in $(seq 1 "$4"); do [[ "$(record "$1" "$2")" == "$3" ]] && return 0; sleep 1; done
  tail -n 40 "$OPERATOR_LOG" >&2
  wattbit::die "job-$1: $2 is not $3 after $4 s (it is '$(record "$1" "$2")')"
}

step "Submitting an evaluation run with a loose deadline (24 h): it waits for the curtailment"
kubectl apply -f examples/eval-job.yaml >&2
wait_for_record llm-eval '{.status.decision}' Wait 60
echo "suspend=$(kubectl get job llm-eval -n ml-team -o jsonpath='{.spec.suspend}'); $(record llm-eval '{.status.message}')" >&2

step "Submitting a long fine-tune that must start now (policy urgent): it runs in the cheapest region now"
kubectl apply -f examples/sft-job.yaml >&2
wait_for_record llm-sft '{.status.decision}' RunNow 60
kubectl wait --for=jsonpath='{.status.active}'=2 --timeout=60s job/llm-sft -n ml-team >&2 || true
sft_from="$(record llm-sft '{.status.region}')"
kubectl get workloadplacements -n ml-team >&2

step "Curtailment starts now in Kyushu: surplus solar at the 0.01 JPY/kWh floor (PowerSignal)"
kubectl delete powersignal evening-peak -n ml-team >&2
power_signal curtailment 30 0.01 true | kubectl apply -f - >&2
wait_for_record llm-eval '{.status.decision}' RunNow 60
echo "llm-eval released: $(record llm-eval '{.status.message}')" >&2

# The example trainer (examples/trainer/) acknowledges the checkpoint notice on its own pod;
# kwok's pods run no process, so the demo acknowledges for it.
for _ in $(seq 1 60); do
  pods="$(kubectl get pods -n ml-team -l job-name=llm-sft \
    -o jsonpath='{range .items[?(@.metadata.annotations.wattbit\.io/checkpoint-requested-at)]}{.metadata.name}{" "}{end}')"
  if [[ -n "$pods" ]]; then
    for pod in $pods; do
      kubectl annotate pod "$pod" -n ml-team --overwrite \
        "wattbit.io/checkpoint-acknowledged-at=$(instant now)" >/dev/null
    done
    echo "the trainer acknowledged its checkpoint on: $pods" >&2
    break
  fi
  sleep 1
done
wait_for_record llm-sft '{.status.migration.phase}' Running 120
kubectl wait --for=jsonpath='{.status.active}'=2 --timeout=60s job/llm-sft -n ml-team >&2 || true

step "wattbit's record of the move, phase by phase"
kubectl get workloadplacement job-llm-sft -n ml-team \
  -o jsonpath='{range .status.migration.history[*]}{.at}  {.phase}: {.message}{"\n"}{end}' >&2
echo >&2
kubectl get workloadplacements -n ml-team >&2
echo >&2
kubectl get events -n ml-team --field-selector involvedObject.name=llm-sft \
  -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message >&2
kubectl get pods -n ml-team -o custom-columns=POD:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase >&2
step "kubectl wattbit: the managed workloads, the chain behind the move, and its receipt"
wattbit_plugin() { "$WATTBIT_VENV/bin/kubectl-wattbit" --kubeconfig "$KUBECONFIG" "$@" >&2; }
wattbit_plugin list -n ml-team
echo >&2
wattbit_plugin explain job/llm-sft -n ml-team
echo >&2
wattbit_plugin receipt llm-sft -n ml-team

printf '\n\033[1mllm-eval waited for the curtailment and runs in %s; llm-sft moved from %s to %s\033[0m\n' \
  "$(record llm-eval '{.status.region}')" "$sft_from" "$(record llm-sft '{.status.migration.toRegion}')"
printf '\nThe cluster is still up: export KUBECONFIG=%s; stop it with hack/cluster-down.sh\n' "$KUBECONFIG"
