#!/usr/bin/env bash
# Stop one component of the local control plane, leave it down for a while, and start it
# again with the very command line it had: the fault tests' way of restarting
# kube-apiserver (or etcd, kube-scheduler, ...) under a running operator.
#
# Usage: hack/restart-component.sh NAME [DOWN_SECONDS]
#   NAME          as recorded in $WATTBIT_STATE_DIR/pids (etcd, kube-apiserver, ...)
#   DOWN_SECONDS  how long it stays down (default 5)
#
# Only a PID recorded in the state dir whose command line names the state dir is signalled
# (as hack/cluster-down.sh does). Returns once kube-apiserver answers /readyz again (for any
# component: the apiserver's readiness is what the tests wait for).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME="${1:?usage: restart-component.sh NAME [DOWN_SECONDS]}"
DOWN_SECONDS="${2:-5}"
STATE="$WATTBIT_STATE_DIR"
PKI="$STATE/pki"
[[ -f "$STATE/pids" ]] || wattbit::die "no cluster in $STATE (run hack/cluster-up.sh)"

pid="$(awk -v n="$NAME" '$1 == n {print $2}' "$STATE/pids")"
wattbit::owns_pid "$pid" "$STATE" || wattbit::die "$NAME (pid '${pid:-none}') is not running"
mapfile -d '' command <"/proc/$pid/cmdline"

kill -TERM "$pid"
for ((i = 0; i < 100; i++)); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
wattbit::log "$NAME stopped; down for ${DOWN_SECONDS}s"
sleep "$DOWN_SECONDS"

pidfile="$STATE/.$NAME.pid"
rm -f "$pidfile"
# shellcheck disable=SC2016  # $$ and $@ are for the child shell
setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "${command[@]}" \
  </dev/null >>"$STATE/logs/$NAME.log" 2>&1 &
for ((i = 0; i < 50; i++)); do [[ -s "$pidfile" ]] && break; sleep 0.1; done
[[ -s "$pidfile" ]] || wattbit::die "$NAME did not start"
new_pid="$(<"$pidfile")"
rm -f "$pidfile"
awk -v n="$NAME" -v p="$new_pid" '$1 == n {$2 = p} {print}' "$STATE/pids" >"$STATE/pids.new"
mv "$STATE/pids.new" "$STATE/pids"

port="$(<"$STATE/api-port")"
for ((i = 0; i < 240; i++)); do
  if [[ "$(curl -sS --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" \
      --key "$PKI/admin.key" "https://127.0.0.1:$port/readyz" 2>/dev/null)" == ok ]]; then
    wattbit::log "$NAME restarted (pid $new_pid); kube-apiserver ready"
    exit 0
  fi
  wattbit::owns_pid "$new_pid" "$STATE" || wattbit::die "$NAME exited after its restart"
  sleep 0.25
done
wattbit::die "kube-apiserver not ready 60s after restarting $NAME"
