#!/usr/bin/env bash
# Copy crds/*.yaml into charts/wattbit/templates/crds/, so the chart's CRDs never drift.
#
# Each chart copy is the crds/ file byte for byte, plus three template lines the copy
# gains: `{{- if .Values.crds.enabled }}` first, the labels/keep annotation include
# after `metadata:`, and `{{- end }}` last. Drop every line holding `{{` from a chart
# copy and you get the crds/ file again (tests/chart/test_chart.py checks exactly that).
#
# Usage: hack/sync-chart-crds.sh [--check]   (--check only compares, exit 1 when stale)
set -o errexit -o nounset -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  *) wattbit::die "usage: hack/sync-chart-crds.sh [--check]" ;;
esac

SRC="$REPO_ROOT/crds"
DEST="$REPO_ROOT/charts/wattbit/templates/crds"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

shopt -s nullglob
sources=("$SRC"/*.yaml)
((${#sources[@]} > 0)) || wattbit::die "no CRDs in $SRC; run hack/gen-crds.sh"

for src in "${sources[@]}"; do
  name="$(basename "$src")"
  # Helm would read `{{` in a description as a template action and break the copy.
  if grep -qF '{{' "$src"; then
    wattbit::die "$name contains '{{', which Helm would treat as a template"
  fi
  [[ "$(grep -c '^metadata:$' "$src")" == "1" ]] \
    || wattbit::die "$name must hold exactly one top-level 'metadata:' line"
  {
    printf '%s\n' '{{- if .Values.crds.enabled }}'
    awk '{ print } /^metadata:$/ { print "  {{- include \"wattbit.crdMetadata\" $ | nindent 2 }}" }' "$src"
    printf '%s\n' '{{- end }}'
  } >"$STAGE/$name"
done

if ((CHECK)); then
  if ! diff -r "$STAGE" "$DEST" >&2; then
    wattbit::die "charts/wattbit/templates/crds is out of date; run hack/sync-chart-crds.sh"
  fi
  exit 0
fi

mkdir -p "$DEST"
# Remove copies whose source is gone, then install the fresh ones.
for copy in "$DEST"/*.yaml; do
  [[ -f "$SRC/$(basename "$copy")" ]] || rm -f "$copy"
done
cp "$STAGE"/*.yaml "$DEST"/
wattbit::log "synced ${#sources[@]} CRDs into ${DEST#"$REPO_ROOT"/}"
