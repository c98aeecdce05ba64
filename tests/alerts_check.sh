#!/usr/bin/env bash
# The chart's alerts against a real promtool (Debian's prometheus package; ctest "AlertRules",
# label deploy): renders helm/dossier-sync's PrometheusRule with the default values (release
# "rel"), checks the rules, runs tests/alerts/rules_test.yaml, and checks that every alert has a
# test in which it fires and one in which it stays silent, and a runbook_url whose section exists
# in docs/OPERATIONS.md.
# Usage: tests/alerts_check.sh [OUT_DIR]   (the rendered rules stay there for the e2e test)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/tests/lib/chart_tools.sh"
command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus" >&2; exit 1; }
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
"$HELM" template rel "$ROOT/helm/dossier-sync" --kube-version 1.27.0 -f "$ROOT/tests/deploy/values-dev.yaml" \
  --show-only templates/prometheusrule.yaml "${@:2}" >"$OUT/prometheusrule.yaml"
$PY "$ROOT/tests/alerts/rules_of.py" "$OUT/prometheusrule.yaml" "$OUT/rules.yaml"
promtool check rules "$OUT/rules.yaml"
cp "$ROOT/tests/alerts/rules_test.yaml" "$OUT/rules_test.yaml"
(cd "$OUT" && promtool test rules rules_test.yaml)
$PY "$ROOT/tests/alerts/coverage.py" "$OUT/rules.yaml" "$OUT/rules_test.yaml" "$ROOT/docs/OPERATIONS.md"
